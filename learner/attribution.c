/* attribution.c: which requests followed which page visit.
 *
 * Design. Everything a request can attach to belongs to one client (the
 * recorder's client token), so state hangs off a small hash of clients and
 * a request only ever looks at its own client's visits and held requests;
 * the cost per request is the client's visits in flight times their
 * resources, never the whole table. Two arrival-ordered lists cut across
 * clients: all visits (for expiry and the visit cap, oldest first) and
 * all held requests (for the global held cap). The lists are intrusive and
 * circular with a sentinel, so unlinking is O(1) and needs no search.
 *
 * Visits and resources are kept compact (heap strings, no fixed 768-byte
 * keys) because tens of thousands can be in flight; the public struct
 * visit is built only for the moment it is emitted.
 *
 * A request is held only when it carries a Referer (one that names more
 * than an origin) and some visit of its client covers its start time and
 * authority: only then can a resource attributed later (its referrer
 * finishing late) make it match. A request without a Referer, or of a
 * client without a visit, can never match
 * later because a visit's NAV_START reaches us before any request that
 * started after it finishes. */
#include "learner/attribution.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"

#define DEFAULT_WINDOW_MS 5000
#define DEFAULT_MAX_VISITS 65536
#define DEFAULT_MAX_REQS 256
#define DEFAULT_MAX_HELD_CLIENT 256
#define DEFAULT_MAX_VISITS_CLIENT 64
#define DEFAULT_MAX_HELD 4096
/* A page can take long to answer; its DONE still confirms it. */
#define TENTATIVE_GRACE_MS 30000
/* Clients in the table are bounded by visits plus held requests (about
 * 70,000 at the defaults), so a fixed table keeps chains short. */
#define NBUCKETS 16384

struct link {
  struct link *prev;
  struct link *next;
};

static void list_init(struct link *l) { l->prev = l->next = l; }
static int list_empty(const struct link *l) { return l->next == l; }

static void list_add_tail(struct link *l, struct link *n) {
  n->prev = l->prev;
  n->next = l;
  l->prev->next = n;
  l->prev = n;
}

static void list_add_head(struct link *l, struct link *n) {
  n->prev = l;
  n->next = l->next;
  l->next->prev = n;
  l->next = n;
}

static void list_del(struct link *n) {
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->prev = n->next = n;
}

struct client {
  struct client *hnext;
  uint8_t token[16];
  struct link visits; /* struct avisit.by_client, newest first */
  struct link held;   /* struct held.by_client, oldest first */
  size_t nheld;
  size_t nvisits;
};

/* One attributed resource until it is emitted as a struct visit_req. */
struct areq {
  char *key;
  uint64_t conn_id, stream_id; /* with delay_ms, the order it was made in */
  uint64_t bytes;
  uint32_t flags;
  uint32_t delay_ms;
  uint16_t status;
  uint8_t dest;
  uint8_t depth;
  uint8_t urgency;
  int parent;
  char method[8];
  char content_type[OBS_CTYPE_MAX];
};

struct avisit {
  struct link by_client;
  struct link by_age; /* struct attrib.visits */
  struct client *client;
  char *page_key;
  uint64_t conn_id;
  uint64_t stream_id;
  uint64_t start_ms;
  uint64_t end_ms; /* latest end of the page and its resources */
  uint64_t bytes;
  int confirmed;
  int mobile;
  uint8_t delivery;
  uint64_t rules_gen, named_mask; /* the 103's source, see struct visit */
  uint32_t rules_slot;
  uint8_t network[16]; /* the page request's, see struct visit */
  struct areq *reqs;
  size_t nreqs;
  size_t capreqs;
  struct visit_push *pushes;
  size_t npushes, cappushes;
  struct visit_declared *declared; /* OBS_DECLARED_MAX entries once one */
  size_t ndeclared;
};

/* What matching and recording need from a finished request. |key| and
 * |ref| point at stack buffers while it is fresh and into the held
 * entry's own storage once held. */
struct req {
  const char *key;
  const char *ref;      /* the Referer as a resource key; "" without one */
  const char *ref_page; /* the Referer as a page key (kept parameters) */
  int origin_only;      /* the Referer names the origin only (its root) */
  uint64_t conn_id;
  uint64_t stream_id;
  uint64_t start_ms;
  uint64_t end_ms;
  uint64_t bytes;
  uint32_t oflags;
  uint16_t status;
  uint8_t dest;
  uint8_t urgency;
  char method[8];
  char content_type[OBS_CTYPE_MAX];
};

struct held {
  struct link by_client;
  struct link by_age; /* struct attrib.held */
  struct client *client;
  struct req r;
  char strs[]; /* key, NUL, ref, NUL, ref_page, NUL */
};

struct attrib {
  struct attrib_config cfg;
  char *patterns[PAGEKEY_MAX_PATTERNS]; /* owned copies behind cfg.keys */
  char *keep_params;
  struct client **buckets;
  struct link visits; /* struct avisit.by_age, arrival order */
  struct link held;   /* struct held.by_age, arrival order */
  size_t nvisits;
  size_t nheld;
  struct attrib_stats stats;
};

/* ---- small helpers ------------------------------------------------------ */

/* Fields of struct obs are fixed arrays; one without a NUL is a recorder
 * bug, and reading past it must not follow. */
static int terminated(const char *f, size_t cap) {
  return memchr(f, '\0', cap) != NULL;
}

static int is_get(const struct obs *o) {
  return strncmp(o->method, "GET", sizeof(o->method)) == 0;
}

static void copy_field(char *dst, size_t dcap, const char *src,
                       size_t scap) {
  size_t n = strnlen(src, scap);
  if (n >= dcap)
    n = dcap - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

/* The authority of a key made by pagekey_*: between "://" and the path. */
static const char *key_authority(const char *key, size_t *len) {
  const char *s = strstr(key, "://");
  s = s != NULL ? s + 3 : key;
  *len = strcspn(s, "/");
  return s;
}

/* Keys carry the authority lower-cased without its default port, so two
 * requests to one authority compare equal here whatever the client
 * wrote. */
static int same_authority(const char *k1, const char *k2) {
  size_t l1, l2;
  const char *a1 = key_authority(k1, &l1);
  const char *a2 = key_authority(k2, &l2);
  return l1 == l2 && memcmp(a1, a2, l1) == 0;
}

static int has(const char *s, const char *needle) {
  return strstr(s, needle) != NULL;
}

/* derive_dest guesses Sec-Fetch-Dest from the response media type, for
 * clients that send no Sec-Fetch-*. */
static uint8_t derive_dest(const char *ct) {
  char t[OBS_CTYPE_MAX];
  size_t n = strcspn(ct, "; \t");
  if (n >= sizeof(t))
    n = sizeof(t) - 1;
  for (size_t i = 0; i < n; i++)
    t[i] = (char)(ct[i] >= 'A' && ct[i] <= 'Z' ? ct[i] + 32 : ct[i]);
  t[n] = '\0';
  if (strcmp(t, "text/css") == 0)
    return OBS_DEST_STYLE;
  if (has(t, "javascript") || has(t, "ecmascript"))
    return OBS_DEST_SCRIPT;
  if (strncmp(t, "font/", 5) == 0 || has(t, "woff") || has(t, "ttf") ||
      has(t, "otf") || has(t, "truetype") || has(t, "opentype") ||
      has(t, "fontobject"))
    return OBS_DEST_FONT;
  if (strncmp(t, "image/", 6) == 0)
    return OBS_DEST_IMAGE;
  if (has(t, "json") || has(t, "xml") || strcmp(t, "text/plain") == 0)
    return OBS_DEST_FETCH;
  return OBS_DEST_OTHER;
}

/* A request that could start a visit (see attrib_add on NAV_START). */
static int nav_candidate(const struct obs *o) {
  int nav = (o->flags & OBS_F_NAVIGATE) ||
            (!(o->flags & OBS_F_SEC_FETCH) && (o->flags & OBS_F_ACCEPT_HTML));
  return nav && is_get(o);
}

/* Navigations never count as subresources, including a legacy browser's
 * (no Sec-Fetch) link click, which carries the old page as its Referer. */
static int navigation_looking(const struct obs *o) {
  return (o->flags & OBS_F_NAVIGATE) || o->dest == OBS_DEST_DOCUMENT ||
         nav_candidate(o);
}

/* ---- clients ------------------------------------------------------------ */

static size_t token_hash(const uint8_t *t) {
  /* FNV-1a over all 16 bytes: the token is opaque, so no byte is assumed
   * to be random on its own. */
  return (size_t)(util_fnv1a(UTIL_FNV1A_INIT, t, 16) % NBUCKETS);
}

static struct client *client_get(struct attrib *a, const uint8_t *token,
                                 int create) {
  size_t b = token_hash(token);
  for (struct client *c = a->buckets[b]; c != NULL; c = c->hnext)
    if (memcmp(c->token, token, 16) == 0)
      return c;
  if (!create)
    return NULL;
  struct client *c = xcalloc(1, sizeof(*c));
  memcpy(c->token, token, 16);
  list_init(&c->visits);
  list_init(&c->held);
  c->hnext = a->buckets[b];
  a->buckets[b] = c;
  return c;
}

/* client_release frees |c| once nothing refers to it. */
static void client_release(struct attrib *a, struct client *c) {
  if (!list_empty(&c->visits) || !list_empty(&c->held))
    return;
  struct client **pp = &a->buckets[token_hash(c->token)];
  while (*pp != c)
    pp = &(*pp)->hnext;
  *pp = c->hnext;
  free(c);
}

/* ---- visits and held requests ------------------------------------------- */

static void visit_free(struct attrib *a, struct avisit *v) {
  list_del(&v->by_client);
  list_del(&v->by_age);
  a->nvisits--;
  v->client->nvisits--;
  for (size_t i = 0; i < v->nreqs; i++)
    free(v->reqs[i].key);
  free(v->reqs);
  free(v->pushes);
  free(v->declared);
  free(v->page_key);
  struct client *c = v->client;
  free(v);
  client_release(a, c);
}

static void held_free(struct attrib *a, struct held *h) {
  list_del(&h->by_client);
  list_del(&h->by_age);
  h->client->nheld--;
  a->nheld--;
  struct client *c = h->client;
  free(h);
  client_release(a, c);
}

static struct held *held_of_client(struct link *l) {
  return container_of(l, struct held, by_client);
}

static struct held *held_of_age(struct link *l) {
  return container_of(l, struct held, by_age);
}

static struct avisit *visit_of_client(struct link *l) {
  return container_of(l, struct avisit, by_client);
}

static struct avisit *visit_of_age(struct link *l) {
  return container_of(l, struct avisit, by_age);
}

/* ---- matching ----------------------------------------------------------- */

/* match finds the visit of |c| that |r| belongs to and sets |*parent| and
 * |*depth|; NULL if none. |*possible| says whether some visit covers the
 * request's time and authority, so a later resource could still make it
 * match. */
static struct avisit *match(struct attrib *a, struct client *c,
                            const struct req *r, int *parent, int *depth,
                            int *possible) {
  struct avisit *best = NULL;
  int best_same = 0;
  *possible = 0;
  for (struct link *l = c->visits.next; l != &c->visits; l = l->next) {
    struct avisit *v = visit_of_client(l);
    if (r->start_ms < v->start_ms ||
        r->start_ms - v->start_ms >= a->cfg.window_ms)
      continue;
    if (!same_authority(v->page_key, r->key))
      continue;
    *possible = 1;
    int par = -2, dep = 0;
    /* An origin-only Referer (Referrer-Policy origin or strict-origin, or
     * strict-origin-when-cross-origin across origins) names no page, not
     * even for a font requested by a stylesheet: it is as good as none,
     * unless the page is the origin's root itself. */
    int refless = r->ref[0] == '\0' ||
                  (r->origin_only && strcmp(r->ref_page, v->page_key) != 0);
    if (!refless) {
      if (strcmp(r->ref_page, v->page_key) == 0) {
        par = -1;
        dep = 1;
      } else {
        for (size_t i = 0; i < v->nreqs; i++) {
          if (strcmp(r->ref, v->reqs[i].key) == 0) {
            par = (int)i;
            dep = v->reqs[i].depth < 255 ? v->reqs[i].depth + 1 : 255;
            break;
          }
        }
      }
    } else if ((r->oflags & OBS_F_H2) && r->conn_id == v->conn_id) {
      par = -1;
      dep = 1;
    }
    if (par == -2)
      continue;
    /* On HTTP/2 a browser keeps one connection per origin, so the same
     * connection means the same browser (tab set); on HTTP/1.1 requests
     * spread over a pool and the connection tells nothing. */
    int same = (r->oflags & OBS_F_H2) && r->conn_id == v->conn_id;
    /* The list is newest first, so on equal start the first seen (the
     * later arrival) stays. */
    if (best == NULL || same > best_same ||
        (same == best_same && v->start_ms > best->start_ms)) {
      best = v;
      best_same = same;
      *parent = par;
      *depth = dep;
    }
  }
  return best;
}

/* record adds |r| to |v|. Returns 1 if it is a new resource of the visit
 * (so held requests may now match), 0 for a duplicate or over the cap. */
static int record(struct attrib *a, struct avisit *v, const struct req *r,
                  int parent, int depth) {
  if (strcmp(r->key, v->page_key) == 0) {
    a->stats.reqs_duplicate++;
    return 0;
  }
  for (size_t i = 0; i < v->nreqs; i++) {
    if (strcmp(r->key, v->reqs[i].key) == 0) {
      a->stats.reqs_duplicate++;
      return 0;
    }
  }
  if (v->nreqs >= a->cfg.max_reqs) {
    a->stats.reqs_over_cap++;
    return 0;
  }
  if (v->nreqs == v->capreqs) {
    v->capreqs = v->capreqs != 0 ? v->capreqs * 2 : 8;
    if (v->capreqs > a->cfg.max_reqs)
      v->capreqs = a->cfg.max_reqs;
    v->reqs = xrealloc(v->reqs, v->capreqs * sizeof(*v->reqs));
  }
  struct areq *q = &v->reqs[v->nreqs++];
  memset(q, 0, sizeof(*q));
  q->key = xstrdup(r->key);
  q->conn_id = r->conn_id;
  q->stream_id = r->stream_id;
  q->bytes = r->bytes;
  q->status = r->status;
  q->dest = r->dest != OBS_DEST_NONE ? r->dest : derive_dest(r->content_type);
  q->urgency = r->urgency;
  q->depth = (uint8_t)depth;
  q->parent = parent;
  uint64_t delay = r->start_ms - v->start_ms; /* match checked the order */
  q->delay_ms = delay > UINT32_MAX ? UINT32_MAX : (uint32_t)delay;
  memcpy(q->method, r->method, sizeof(q->method));
  memcpy(q->content_type, r->content_type, sizeof(q->content_type));

  const uint32_t unpushable = OBS_F_NO_STORE | OBS_F_PRIVATE |
                              OBS_F_SET_COOKIE | OBS_F_VARY_OTHER |
                              OBS_F_CUT_SHORT | OBS_F_AUTHORIZATION;
  if (strcmp(r->method, "GET") == 0 && r->status == 200 &&
      !(r->oflags & unpushable))
    q->flags |= VISIT_REQ_PUSHABLE;
  if (r->status == 304 && (r->oflags & OBS_F_CONDITIONAL))
    q->flags |= VISIT_REQ_ALREADY_HAD;
  if (r->oflags & OBS_F_PUSHED)
    q->flags |= VISIT_REQ_PUSHED;

  if (r->end_ms > v->end_ms)
    v->end_ms = r->end_ms;
  v->bytes += r->bytes;
  a->stats.reqs_attributed++;
  return 1;
}

/* retry_held matches |c|'s held requests again after one of its visits
 * changed. Each new resource may unlock a deeper one (font after CSS after
 * page), so passes repeat until one attaches nothing; the held list is
 * capped, so this stays small. */
static void retry_held(struct attrib *a, struct client *c) {
  int progress = 1;
  while (progress && !list_empty(&c->held)) {
    progress = 0;
    struct link *l = c->held.next;
    while (l != &c->held) {
      struct link *next = l->next;
      struct held *h = held_of_client(l);
      int parent = -1, depth = 1, possible;
      struct avisit *v = match(a, c, &h->r, &parent, &depth, &possible);
      if (v != NULL) {
        if (record(a, v, &h->r, parent, depth))
          progress = 1;
        /* |c| still has visit |v|, so this cannot free the client. */
        held_free(a, h);
      }
      l = next;
    }
  }
}

static void hold(struct attrib *a, struct client *c, const struct req *r) {
  size_t klen = strlen(r->key), rlen = strlen(r->ref);
  size_t plen = strlen(r->ref_page);
  struct held *h = xmalloc(sizeof(*h) + klen + rlen + plen + 3);
  h->client = c;
  h->r = *r;
  memcpy(h->strs, r->key, klen + 1);
  memcpy(h->strs + klen + 1, r->ref, rlen + 1);
  memcpy(h->strs + klen + rlen + 2, r->ref_page, plen + 1);
  h->r.key = h->strs;
  h->r.ref = h->strs + klen + 1;
  h->r.ref_page = h->strs + klen + rlen + 2;
  list_add_tail(&c->held, &h->by_client);
  list_add_tail(&a->held, &h->by_age);
  c->nheld++;
  a->nheld++;
  a->stats.reqs_held++;
  /* The oldest go first: they are nearest to leaving the window anyway.
   * |c| keeps the visit that made holding worthwhile, so it survives. */
  while (c->nheld > a->cfg.max_held_client) {
    held_free(a, held_of_client(c->held.next));
    a->stats.held_dropped++;
  }
  while (a->nheld > a->cfg.max_held) {
    held_free(a, held_of_age(a->held.next));
    a->stats.held_dropped++;
  }
}

/* ---- observations ------------------------------------------------------- */

static void nav_start(struct attrib *a, const struct obs *o) {
  char key[PAGEKEY_MAX];
  if (!nav_candidate(o) || (o->flags & (OBS_F_TRUNCATED | OBS_F_IGNORED)))
    return;
  if (pagekey_make(&a->cfg.keys, (o->flags & OBS_F_TLS) != 0, o->authority,
                   o->path, key, sizeof(key)) < 0)
    return;
  /* '*' belongs to the keys of wider levels (pagekey_site): a page with
   * one in its path could pose as a whole site. */
  if (strchr(key, '*') != NULL)
    return;
  struct client *c = client_get(a, o->client_token, 1);
  struct avisit *v = xcalloc(1, sizeof(*v));
  v->client = c;
  v->page_key = xstrdup(key);
  v->conn_id = o->conn_id;
  v->stream_id = o->stream_id;
  v->start_ms = o->start_ms;
  v->end_ms = o->start_ms;
  v->mobile = !a->cfg.single_class && (o->flags & OBS_F_MOBILE) != 0;
  memcpy(v->network, o->network, sizeof(v->network));
  list_add_head(&c->visits, &v->by_client);
  list_add_tail(&a->visits, &v->by_age);
  a->nvisits++;
  c->nvisits++;
  while (c->nvisits > a->cfg.max_visits_client) {
    visit_free(a, visit_of_client(c->visits.prev)); /* its oldest */
    a->stats.visits_dropped++;
  }
  a->stats.visits_started++;
  /* The new visit is the newest, so the oldest dropped here is another
   * and |c| keeps at least the new one. */
  while (a->nvisits > a->cfg.max_visits) {
    visit_free(a, visit_of_age(a->visits.next));
    a->stats.visits_dropped++;
  }
}

/* page_done settles the tentative visit |v| with its own request's
 * outcome. Only a complete, public 200 HTML answer to a GET is a page
 * whose followers are worth learning. */
static void page_done(struct attrib *a, struct avisit *v,
                      const struct obs *o) {
  const uint32_t bad = OBS_F_CUT_SHORT | OBS_F_AUTHORIZATION |
                       OBS_F_TRUNCATED;
  if (!is_get(o) || o->status != 200 || !(o->flags & OBS_F_HTML) ||
      (o->flags & bad)) {
    visit_free(a, v);
    a->stats.visits_discarded++;
    return;
  }
  struct client *c = v->client;
  v->confirmed = 1;
  v->bytes += o->bytes;
  if (o->flags & OBS_F_HOLDOUT)
    v->delivery = VISIT_HOLDOUT;
  else if (o->flags & OBS_F_GOT_PUSH)
    v->delivery = VISIT_PUSH;
  else if (o->flags & OBS_F_GOT_HINTS)
    v->delivery = VISIT_HINTS;
  if (o->flags & OBS_F_GOT_HINTS) {
    v->rules_gen = o->rules_gen;
    v->rules_slot = o->rules_slot;
    v->named_mask = o->named_mask;
  }
  if (o->end_ms > v->end_ms)
    v->end_ms = o->end_ms;
  a->stats.visits_confirmed++;
  retry_held(a, c);
}

static void done(struct attrib *a, const struct obs *o) {
  /* No visit of this client now means none can ever cover this request
   * (see the top of the file). */
  struct client *c = client_get(a, o->client_token, 0);
  if (c == NULL)
    return;
  for (struct link *l = c->visits.next; l != &c->visits; l = l->next) {
    struct avisit *v = visit_of_client(l);
    if (!v->confirmed && v->conn_id == o->conn_id &&
        v->stream_id == o->stream_id && v->start_ms == o->start_ms) {
      page_done(a, v, o);
      return;
    }
  }
  if (navigation_looking(o) || (o->flags & OBS_F_TRUNCATED))
    return;

  char key[PAGEKEY_MAX], ref[PAGEKEY_MAX], ref_page[PAGEKEY_MAX];
  if (pagekey_resource((o->flags & OBS_F_TLS) != 0, o->authority, o->path,
                       key, sizeof(key)) < 0)
    return;
  ref[0] = ref_page[0] = '\0';
  /* A Referer that is not an http(s) URL names nothing we serve, and it
   * is not "no Referer" either. It names a page (compared with the page
   * key, whose query keeps only kept parameters) or an earlier resource
   * (compared with its exact key). */
  if (o->referer[0] != '\0' &&
      (pagekey_resource_from_url(o->referer, ref, sizeof(ref)) < 0 ||
       pagekey_from_url(&a->cfg.keys, o->referer, ref_page,
                        sizeof(ref_page)) < 0))
    return;

  struct req r;
  memset(&r, 0, sizeof(r));
  r.key = key;
  r.ref = ref;
  r.ref_page = ref_page;
  r.origin_only = ref[0] != '\0' && pagekey_is_origin(ref);
  r.conn_id = o->conn_id;
  r.stream_id = o->stream_id;
  r.start_ms = o->start_ms;
  r.end_ms = o->end_ms;
  r.bytes = o->bytes;
  r.oflags = o->flags;
  r.status = o->status;
  r.dest = o->dest;
  r.urgency = o->urgency;
  copy_field(r.method, sizeof(r.method), o->method, sizeof(o->method));
  copy_field(r.content_type, sizeof(r.content_type), o->content_type,
             sizeof(o->content_type));

  int parent = -1, depth = 1, possible;
  struct avisit *v = match(a, c, &r, &parent, &depth, &possible);
  if (v != NULL) {
    if (record(a, v, &r, parent, depth))
      retry_held(a, c);
  } else if (possible && ref[0] != '\0' && !r.origin_only) {
    hold(a, c, &r);
  }
}

/* page_visit finds the visit whose page request is |o|'s (connection and
 * stream), or NULL. */
static struct avisit *page_visit(struct attrib *a, const struct obs *o) {
  struct client *c = client_get(a, o->client_token, 0);
  if (c == NULL || (o->flags & OBS_F_TRUNCATED))
    return NULL;
  for (struct link *l = c->visits.next; l != &c->visits; l = l->next) {
    struct avisit *w = visit_of_client(l);
    if (w->conn_id == o->conn_id && w->stream_id == o->stream_id)
      return w;
  }
  return NULL;
}

/* pushed adds a pushed stream's outcome to the visit whose page stream
 * promised it. A push outliving its visit's window is not counted. */
static void pushed(struct attrib *a, const struct obs *o) {
  struct avisit *v = page_visit(a, o);
  if (v == NULL || v->npushes >= a->cfg.max_reqs)
    return;
  char key[PAGEKEY_MAX];
  if (pagekey_resource((o->flags & OBS_F_TLS) != 0, o->authority, o->path,
                       key, sizeof(key)) < 0)
    return;
  if (v->npushes == v->cappushes) {
    v->cappushes = v->cappushes ? v->cappushes * 2 : 8;
    v->pushes = xrealloc(v->pushes, v->cappushes * sizeof(*v->pushes));
  }
  struct visit_push *p = &v->pushes[v->npushes++];
  memcpy(p->key, key, sizeof(key));
  p->bytes = o->bytes;
  p->completed = !(o->flags & OBS_F_CUT_SHORT);
  p->client_had = (o->flags & OBS_F_CLIENT_HAD) != 0;
  p->dest = o->dest;
  copy_field(p->content_type, sizeof(p->content_type), o->content_type,
             sizeof(o->content_type));
  v->bytes += o->bytes;
  if (p->completed && o->end_ms > v->end_ms)
    v->end_ms = o->end_ms;
}

/* declared notes a resource the page's backend declared. */
static void declared(struct attrib *a, const struct obs *o) {
  struct avisit *v = page_visit(a, o);
  char key[PAGEKEY_MAX];
  if (v == NULL || v->start_ms != o->start_ms ||
      pagekey_resource((o->flags & OBS_F_TLS) != 0, o->authority, o->path,
                       key, sizeof(key)) < 0 ||
      !pagekey_rule_ok(v->page_key, key))
    return;
  uint8_t flags = (o->flags & OBS_F_DECL_EARLY) ? VISIT_DECL_EARLY
                                                 : VISIT_DECL_LINK;
  if (o->flags & OBS_F_DECL_NAMED)
    flags |= VISIT_DECL_NAMED;
  for (size_t i = 0; i < v->ndeclared; i++) {
    if (strcmp(v->declared[i].key, key) == 0) {
      v->declared[i].flags |= flags;
      return;
    }
  }
  if (v->ndeclared == OBS_DECLARED_MAX)
    return;
  if (v->declared == NULL)
    v->declared = xmalloc(OBS_DECLARED_MAX * sizeof(*v->declared));
  struct visit_declared *d = &v->declared[v->ndeclared++];
  memcpy(d->key, key, sizeof(key));
  d->dest = o->dest;
  d->flags = flags;
}

/* ---- interface ---------------------------------------------------------- */

struct attrib *attrib_new(const struct attrib_config *cfg) {
  struct attrib *a = xcalloc(1, sizeof(*a));
  a->cfg = *cfg;
  if (a->cfg.window_ms == 0)
    a->cfg.window_ms = DEFAULT_WINDOW_MS;
  if (a->cfg.max_visits == 0)
    a->cfg.max_visits = DEFAULT_MAX_VISITS;
  if (a->cfg.max_reqs == 0)
    a->cfg.max_reqs = DEFAULT_MAX_REQS;
  if (a->cfg.max_held_client == 0)
    a->cfg.max_held_client = DEFAULT_MAX_HELD_CLIENT;
  if (a->cfg.max_held == 0)
    a->cfg.max_held = DEFAULT_MAX_HELD;
  if (a->cfg.max_visits_client == 0)
    a->cfg.max_visits_client = DEFAULT_MAX_VISITS_CLIENT;
  /* The caller's strings may not outlive it (a reloaded config). */
  int np = cfg->keys.npatterns;
  if (np < 0)
    np = 0;
  if (np > PAGEKEY_MAX_PATTERNS)
    np = PAGEKEY_MAX_PATTERNS;
  a->cfg.keys.npatterns = 0;
  for (int i = 0; i < np; i++) {
    if (cfg->keys.patterns[i] == NULL)
      continue;
    a->patterns[i] = xstrdup(cfg->keys.patterns[i]);
    a->cfg.keys.patterns[a->cfg.keys.npatterns++] = a->patterns[i];
  }
  if (cfg->keys.keep_params != NULL)
    a->keep_params = xstrdup(cfg->keys.keep_params);
  a->cfg.keys.keep_params = a->keep_params;
  a->buckets = xcalloc(NBUCKETS, sizeof(*a->buckets));
  list_init(&a->visits);
  list_init(&a->held);
  return a;
}

void attrib_free(struct attrib *a) {
  if (a == NULL)
    return;
  while (!list_empty(&a->held))
    held_free(a, held_of_age(a->held.next));
  while (!list_empty(&a->visits))
    visit_free(a, visit_of_age(a->visits.next));
  free(a->buckets);
  for (int i = 0; i < PAGEKEY_MAX_PATTERNS; i++)
    free(a->patterns[i]);
  free(a->keep_params);
  free(a);
}

void attrib_add(struct attrib *a, const struct obs *o) {
  if (!terminated(o->authority, sizeof(o->authority)) ||
      !terminated(o->path, sizeof(o->path)) ||
      !terminated(o->referer, sizeof(o->referer)))
    return;
  if (o->kind == OBS_NAV_START)
    nav_start(a, o);
  else if (o->kind == OBS_DONE)
    done(a, o);
  else if (o->kind == OBS_PUSH)
    pushed(a, o);
  else if (o->kind == OBS_DECLARED)
    declared(a, o);
}

static int requested_key(const struct avisit *v, const char *key) {
  for (size_t i = 0; i < v->nreqs; i++) {
    if (strcmp(v->reqs[i].key, key) == 0)
      return 1;
  }
  return 0;
}

/* made_before: request |x| was made before |y| (requests are recorded as
 * they end; many start in the same millisecond, in stream order). */
static int made_before(const struct areq *x, const struct areq *y) {
  if (x->delay_ms != y->delay_ms)
    return x->delay_ms < y->delay_ms;
  if (x->conn_id != y->conn_id)
    return x->conn_id < y->conn_id;
  return x->stream_id < y->stream_id;
}

/* emit_visit hands |v| to |emit| as a struct visit and frees it. Its
 * requests go out in the order the client made them (struct visit). */
static void emit_visit(struct attrib *a, struct avisit *v,
                       attrib_emit_cb emit, void *ud) {
  struct visit out;
  memset(&out, 0, sizeof(out));
  /* Keys were made into PAGEKEY_MAX buffers, so they fit. */
  copy_field(out.page_key, PAGEKEY_MAX, v->page_key, PAGEKEY_MAX);
  if (pagekey_template(&a->cfg.keys, v->page_key, out.template_key,
                       sizeof(out.template_key)) < 0)
    copy_field(out.template_key, PAGEKEY_MAX, v->page_key, PAGEKEY_MAX);
  out.mobile = v->mobile;
  memcpy(out.client_token, v->client->token, 16);
  memcpy(out.network, v->network, 16);
  out.start_ms = v->start_ms;
  out.load_ms = v->end_ms - v->start_ms;
  out.bytes = v->bytes;
  out.delivery = v->delivery;
  out.rules_gen = v->rules_gen;
  out.rules_slot = v->rules_slot;
  out.named_mask = v->named_mask;
  out.pushes = v->pushes;
  out.npushes = v->npushes;
  out.declared = v->declared;
  out.ndeclared = v->ndeclared;
  out.nreqs = v->nreqs;
  size_t cap = v->nreqs + v->npushes;
  out.reqs = cap != 0 ? xcalloc(cap, sizeof(*out.reqs)) : NULL;
  /* at[k]: the recorded request that goes out k-th (an insertion sort: a
   * visit has a few dozen, mostly in order already); place[i]: where
   * recorded request i goes, for the parents. */
  size_t *at = xmalloc(2 * (v->nreqs + 1) * sizeof(*at));
  size_t *place = at + v->nreqs + 1;
  for (size_t i = 0; i < v->nreqs; i++) {
    size_t k = i;
    while (k > 0 && made_before(&v->reqs[i], &v->reqs[at[k - 1]])) {
      at[k] = at[k - 1];
      k--;
    }
    at[k] = i;
  }
  for (size_t k = 0; k < v->nreqs; k++)
    place[at[k]] = k;
  for (size_t k = 0; k < v->nreqs; k++) {
    const struct areq *q = &v->reqs[at[k]];
    struct visit_req *w = &out.reqs[k];
    copy_field(w->key, PAGEKEY_MAX, q->key, PAGEKEY_MAX);
    memcpy(w->method, q->method, sizeof(w->method));
    memcpy(w->content_type, q->content_type, sizeof(w->content_type));
    w->status = q->status;
    w->dest = q->dest;
    w->urgency = q->urgency;
    w->depth = q->depth;
    w->parent = q->parent >= 0 ? (int)place[q->parent] : -1;
    w->flags = q->flags;
    w->delay_ms = q->delay_ms;
    w->bytes = q->bytes;
  }
  free(at);
  for (size_t i = 0; i < v->npushes; i++) {
    const struct visit_push *p = &v->pushes[i];
    if (!p->completed || requested_key(v, p->key))
      continue;
    struct visit_req *w = &out.reqs[out.nreqs++];
    memcpy(w->key, p->key, PAGEKEY_MAX);
    memcpy(w->method, "GET", 4);
    memcpy(w->content_type, p->content_type, sizeof(w->content_type));
    w->depth = 0;
    w->parent = -1;
    w->urgency = VISIT_URGENCY_NONE;
    if (p->client_had) {
      w->status = 304;
      w->dest = p->dest;
      w->flags = VISIT_REQ_PUSHABLE | VISIT_REQ_ALREADY_HAD |
                 VISIT_REQ_DELIVERED;
      continue;
    }
    w->status = 200;
    w->dest = derive_dest(p->content_type);
    w->flags = VISIT_REQ_PUSHABLE | VISIT_REQ_PUSHED | VISIT_REQ_DELIVERED;
    w->bytes = p->bytes;
  }
  if (emit != NULL)
    emit(ud, &out);
  free(out.reqs);
  a->stats.visits_emitted++;
  visit_free(a, v);
}

void attrib_expire(struct attrib *a, uint64_t now_ms, attrib_emit_cb emit,
                   void *ud) {
  uint64_t w = a->cfg.window_ms;
  struct link *l = a->visits.next;
  while (l != &a->visits) {
    struct link *next = l->next;
    struct avisit *v = visit_of_age(l);
    /* Arrival order is start order, so the rest are still open too. */
    if (v->start_ms + w > now_ms)
      break;
    if (v->confirmed) {
      emit_visit(a, v, emit, ud);
    } else if (v->start_ms + w + TENTATIVE_GRACE_MS <= now_ms) {
      visit_free(a, v);
      a->stats.visits_discarded++;
    }
    l = next;
  }
  /* Held requests finish in any order, so all are looked at; there are
   * at most max_held. */
  l = a->held.next;
  while (l != &a->held) {
    struct link *next = l->next;
    struct held *h = held_of_age(l);
    if (h->r.start_ms + w <= now_ms) {
      held_free(a, h);
      a->stats.held_expired++;
    }
    l = next;
  }
}

void attrib_flush(struct attrib *a, attrib_emit_cb emit, void *ud) {
  struct link *l = a->visits.next;
  while (l != &a->visits) {
    struct link *next = l->next;
    struct avisit *v = visit_of_age(l);
    if (v->confirmed)
      emit_visit(a, v, emit, ud);
    l = next;
  }
}

size_t attrib_pending(const struct attrib *a) { return a->nvisits; }

size_t attrib_held(const struct attrib *a) { return a->nheld; }

void attrib_get_stats(const struct attrib *a, struct attrib_stats *out) {
  *out = a->stats;
}
