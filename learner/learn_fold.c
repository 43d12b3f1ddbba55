/* learn_fold.c: one finished visit becomes samples (EVIDENCE in learn.h).
 *
 * A visit is folded into every node of its chain (page, template,
 * section, site) at once: each resource is classified once (a hit, a
 * censored request, a censored absence) and the class applied to each
 * node. Herald's own doing is known exactly from the visit's named set
 * (struct visit_named); the browser's cache is guessed from what the same
 * client token fetched in its earlier visits, kept in a small
 * set-associative table of recent clients, so a client browsing a site
 * does not turn every shared stylesheet into a miss on its second page. */
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "learner/learn.h"
#include "learner/learn_int.h"

#define MEM_WAYS 4

/* What one client fetched lately: resource ids, newest overwriting the
 * oldest. */
struct cslot {
  uint32_t fp;       /* token fingerprint */
  uint16_t n, pos;   /* ids held; next one to overwrite */
  uint64_t last_ms;  /* start of its latest visit; 0: slot unused */
  uint32_t res[LEARN_CLIENT_RESOURCES];  /* interned keys */
  uint32_t hash[LEARN_CLIENT_RESOURCES]; /* and their hashes */
};

struct client_mem {
  struct cslot slot[LEARN_CLIENT_MEMORY];
};

static uint32_t fingerprint(const uint8_t *tok) {
  uint64_t a, b;
  memcpy(&a, tok, 8);
  memcpy(&b, tok + 8, 8);
  /* Hash all 16 bytes: tokens made up by tests or tools may differ in
   * one byte only. */
  return (uint32_t)util_mix64(a ^ util_mix64(b));
}

/* frugal_median moves the estimate |m| one step towards the sample |x|.
 * A median is where as many samples fall above as below, so moving up on
 * every sample above and down on every sample below settles there (the
 * "frugal" streaming median of Ma, Muthukrishnan and Sandler, 2013) with
 * one word of state. The step is 1/16 of the estimate (at least 1 ms,
 * never past the sample): it converges geometrically from the first
 * sample and then wanders within a few percent of the median, which is
 * all ordering by discovery delay needs. */
static uint32_t frugal_median(uint32_t m, uint32_t x) {
  uint32_t step = m / 16;
  if (step < 1)
    step = 1;
  if (x > m) {
    uint32_t gap = x - m;
    return m + (gap < step ? gap : step);
  }
  if (x < m) {
    uint32_t gap = m - x;
    return m - (gap < step ? gap : step);
  }
  return m;
}

/* ---- the client's cache, as far as herald saw it fill ------------------- */

/* client_slot finds |fp|'s slot, or takes the set's least recent one.
 * What a client fetched more than LEARN_CLIENT_TTL_MS ago is forgotten
 * (and a day-old token is another client anyway). */
static struct cslot *client_slot(struct learn *l, uint32_t fp,
                                 uint64_t now_ms) {
  if (l->clients == NULL) {
    l->clients = learn_alloc(l, sizeof(*l->clients));
    memset(l->clients, 0, sizeof(*l->clients));
  }
  struct cslot *set =
      &l->clients->slot[(fp % (LEARN_CLIENT_MEMORY / MEM_WAYS)) * MEM_WAYS];
  struct cslot *victim = &set[0];
  for (int i = 0; i < MEM_WAYS; i++) {
    if (set[i].last_ms != 0 && set[i].fp == fp) {
      if (now_ms >= set[i].last_ms &&
          now_ms - set[i].last_ms > LEARN_CLIENT_TTL_MS)
        set[i].n = set[i].pos = 0;
      return &set[i];
    }
    if (set[i].last_ms < victim->last_ms)
      victim = &set[i];
  }
  memset(victim, 0, sizeof(*victim));
  victim->fp = fp;
  return victim;
}

static int has_id(const uint32_t *ids, size_t n, uint32_t id) {
  for (size_t i = 0; i < n; i++)
    if (ids[i] == id)
      return 1;
  return 0;
}

static void remember(struct cslot *m, uint32_t id, uint32_t hash) {
  if (id == NONE || has_id(m->res, m->n, id))
    return;
  m->res[m->pos] = id;
  m->hash[m->pos] = hash;
  m->pos = (uint16_t)((m->pos + 1) % LEARN_CLIENT_RESOURCES);
  if (m->n < LEARN_CLIENT_RESOURCES)
    m->n++;
}

/* ---- samples ------------------------------------------------------------ */

int learn_visit_counts(const struct visit *v) {
  for (size_t i = 0; i < v->nreqs; i++) {
    const struct visit_req *r = &v->reqs[i];
    if (r->flags & VISIT_REQ_DELIVERED || r->status != 200)
      continue;
    if (r->dest == OBS_DEST_STYLE || r->dest == OBS_DEST_SCRIPT ||
        r->dest == OBS_DEST_FONT || r->dest == OBS_DEST_IMAGE)
      return 1;
  }
  return 0;
}

/* find looks the interned key |res| (hash |hash|) up in |p|. */
static uint32_t find(const struct learn *l, const struct page *p,
                     uint32_t res, uint32_t hash) {
  struct learn_rkey k = {hash, res, NULL, 0};
  return learn_entry_find(l, p, &k);
}

/* hit counts a genuine request |r| (resource id |res|) in node |pi|
 * from the client network |fp|; |place| is its place among the visit's
 * requests of its rank, or LEARN_PLACE_NONE when the visit says nothing
 * about the page's order. */
static void hit(struct learn *l, uint32_t pi, uint32_t res, uint32_t hash,
                const struct visit_req *r, uint8_t urgency, uint32_t fp,
                uint8_t place) {
  struct page *p = &l->pages[pi];
  uint32_t ei = find(l, p, res, hash);
  struct entry *e;
  if (ei == NONE) {
    e = learn_entry_add(l, p, res, hash);
    e->k = 1;
    e->kc = 1; /* created now: its clock is 1 */
  } else {
    e = &p->ents[ei];
    /* Already counted in this visit: the same resource twice is one. */
    if (e->touched == p->v)
      return;
    e->touched = p->v;
    uint32_t c = learn_clock(p, e);
    e->k = learn_entry_k(l, e, c) + 1;
    e->kc = c;
  }
  if (place != LEARN_PLACE_NONE) {
    /* A median of small integers: one step towards each sample. */
    if (e->place == LEARN_PLACE_NONE || e->place == place)
      e->place = place;
    else
      e->place = (uint8_t)(e->place < place ? e->place + 1 : e->place - 1);
  }
  if (e->flags & ENTRY_SEEN) {
    e->median = frugal_median(e->median, r->delay_ms);
    if (r->depth < e->depth)
      e->depth = r->depth;
  } else {
    e->median = r->delay_ms;
    e->depth = r->depth;
  }
  if (r->status == 200)
    e->bytes = r->bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)r->bytes;
  e->dest = r->dest;
  e->urgency = urgency;
  e->flags = (uint8_t)((e->flags & ~(ENTRY_PUSHABLE | ENTRY_SUPERSEDED)) |
                       ENTRY_SEEN |
                       ((r->flags & VISIT_REQ_PUSHABLE) ? ENTRY_PUSHABLE : 0));
  learn_add_client(l, e, fp);
}

/* censor takes this visit out of |res|'s samples in node |pi|; |create|
 * makes an entry (with no samples yet) when there is none, so that the
 * level learns from the resource's next sample on. */
static void censor(struct learn *l, uint32_t pi, uint32_t res,
                   uint32_t hash, int create) {
  struct page *p = &l->pages[pi];
  uint32_t ei = find(l, p, res, hash);
  if (ei == NONE) {
    if (!create)
      return;
    struct entry *e = learn_entry_add(l, p, res, hash);
    e->cens = 1;
    return;
  }
  struct entry *e = &p->ents[ei];
  if (e->touched == p->v)
    return;
  e->touched = p->v;
  e->cens++;
}

/* declare notes that the visit's backend declared |res| (destination
 * |dest|, from its as=) in node |pi|, to the client network |fp|. An
 * entry made here is one the visit neither requested nor censored: this
 * visit is its first sample, a miss. */
static void declare(struct learn *l, uint32_t pi, uint32_t res,
                    uint32_t hash, uint8_t dest, uint32_t fp) {
  struct page *p = &l->pages[pi];
  uint32_t ei = find(l, p, res, hash);
  struct entry *e =
      ei == NONE ? learn_entry_add(l, p, res, hash) : &p->ents[ei];
  e->dc = learn_clock(p, e);
  e->flags |= ENTRY_DECLARED;
  if (!(e->flags & ENTRY_SEEN))
    e->dest = dest; /* what a genuine request says wins */
  learn_add_client(l, e, fp);
}

static void supersede(struct learn *l, uint32_t pi, uint32_t res,
                      uint32_t hash) {
  struct page *p = &l->pages[pi];
  uint32_t ei = find(l, p, res, hash);
  if (ei != NONE)
    p->ents[ei].flags |= ENTRY_SUPERSEDED;
}

/* prefetch asks for the index slots, then the entries, that looking up
 * |n| keys of |hashes| in |p| will read. A visit's lookups in a large node
 * (a site gathers thousands of resources) are each a cache miss or two,
 * one depending on the other; asking for all of a level at once lets
 * them overlap instead of waiting one by one. Only hints: nothing here
 * changes state. */
static void prefetch(const struct page *p, const uint32_t *hashes, size_t n) {
  if (p->index == NULL)
    return; /* a small node's entries are contiguous and at hand */
  for (size_t i = 0; i < n; i++)
    __builtin_prefetch(&p->index[hashes[i] & p->index_mask]);
  for (size_t i = 0; i < n; i++) {
    uint64_t slot = p->index[hashes[i] & p->index_mask];
    if (slot != 0)
      __builtin_prefetch(&p->ents[(uint32_t)slot - 1]);
  }
}

/* same_path: two resource keys name one path with different queries. */
static int same_path(const char *a, const char *b) {
  size_t na = strcspn(a, "?"), nb = strcspn(b, "?");
  return na == nb && memcmp(a, b, na) == 0 && strcmp(a, b) != 0;
}

/* chain fills |nodes| with the visit's nodes, most specific first, each
 * the parent of the one before unless it already had one. */
static size_t chain(struct learn *l, const struct visit *v,
                    uint32_t nodes[LEARN_LEVELS]) {
  char sec[PAGEKEY_MAX], site[PAGEKEY_MAX];
  const char *keys[LEARN_LEVELS] = {v->page_key, NULL, NULL, NULL};
  size_t tn = strnlen(v->template_key, PAGEKEY_MAX);
  const char *base = v->page_key;
  if (tn > 0 && tn < PAGEKEY_MAX) {
    base = v->template_key;
    if (strcmp(v->template_key, v->page_key) != 0)
      keys[LEARN_TEMPLATE] = v->template_key;
  }
  if (pagekey_section(base, l->section_depth, sec, sizeof(sec)) >= 0)
    keys[LEARN_SECTION] = sec;
  if (pagekey_site(base, site, sizeof(site)) >= 0)
    keys[LEARN_SITE] = site;
  size_t n = 0;
  for (int level = 0; level < LEARN_LEVELS; level++) {
    if (keys[level] == NULL)
      continue;
    uint32_t pi = learn_node_get(l, keys[level], v->mobile, level);
    if (pi == NONE || (n > 0 && nodes[n - 1] == pi))
      continue;
    if (n > 0 && l->pages[nodes[n - 1]].parent == NONE)
      l->pages[nodes[n - 1]].parent = pi;
    nodes[n++] = pi;
  }
  return n;
}

/* ---- public ------------------------------------------------------------- */

int learn_visit(struct learn *l, const struct visit *v) {
  size_t n = strnlen(v->page_key, PAGEKEY_MAX);
  if (n == 0 || n == PAGEKEY_MAX)
    return 0;
  /* The browser's cache belongs to the client (address and User-Agent);
   * distinct clients for min_clients are networks (struct visit). */
  uint32_t net = fingerprint(v->network);
  struct cslot *mem = client_slot(l, fingerprint(v->client_token),
                                  v->start_ms);
  mem->last_ms = v->start_ms != 0 ? v->start_ms : 1;

  /* Every key of the visit, interned once: the requested ones (what the
   * browser now has) and the named ones. */
  size_t nk = v->nreqs + v->nnamed;
  uint32_t *ids = xmalloc((2 * nk + 1) * sizeof(*ids));
  uint32_t *named = ids + v->nreqs, *hashes = ids + nk;
  uint32_t *nhashes = hashes + v->nreqs;
  for (size_t i = 0; i < nk; i++) {
    const char *key = i < v->nreqs ? v->reqs[i].key
                                   : v->named[i - v->nreqs].key;
    size_t kn = strnlen(key, PAGEKEY_MAX);
    hashes[i] = learn_hash_str(key, kn);
    ids[i] = kn == 0 || kn == PAGEKEY_MAX
                 ? NONE
                 : learn_intern(l, key, kn, hashes[i]);
  }

  int counted = learn_visit_counts(v);
  if (counted) {
    uint32_t nodes[LEARN_LEVELS];
    size_t nn = chain(l, v, nodes);
    for (size_t j = 0; j < nn; j++) {
      l->pages[nodes[j]].v++;
      learn_mark_dirty(l, nodes[j]);
    }
    for (size_t j = 0; j < nn; j++) {
      prefetch(&l->pages[nodes[j]], hashes, nk);
      prefetch(&l->pages[nodes[j]], mem->hash, mem->n);
    }
    /* A client that states priorities states them on every request, so
     * a request without one has the default urgency, 3. */
    int prio = 0;
    for (size_t i = 0; i < v->nreqs && !prio; i++)
      prio = v->reqs[i].urgency != VISIT_URGENCY_NONE;
    /* Places count only where the page alone chose what to fetch. */
    int order_known = v->nnamed == 0;
    for (size_t i = 0; i < v->nreqs && order_known; i++)
      order_known = !(v->reqs[i].flags & VISIT_REQ_DELIVERED);
    uint8_t seen[LEARN_RANK_OTHER + 1] = {0};
    for (size_t i = 0; i < v->nreqs; i++) {
      const struct visit_req *r = &v->reqs[i];
      if (ids[i] == NONE)
        continue;
      if ((r->flags & VISIT_REQ_DELIVERED) ||
          has_id(named, v->nnamed, ids[i])) {
        for (size_t j = 0; j < nn; j++)
          censor(l, nodes[j], ids[i], hashes[i], 1);
        continue;
      }
      uint8_t urg = r->urgency != VISIT_URGENCY_NONE ? r->urgency
                    : prio                          ? 3
                                                    : VISIT_URGENCY_NONE;
      uint8_t place = LEARN_PLACE_NONE;
      if (order_known) {
        uint8_t rank = learn_rank_of(r->dest, urg);
        place = seen[rank];
        if (seen[rank] < LEARN_PLACE_NONE - 1)
          seen[rank]++;
      }
      for (size_t j = 0; j < nn; j++)
        hit(l, nodes[j], ids[i], hashes[i], r, urg, net, place);
    }
    /* Named and not requested: the browser had it, or herald's hint
     * changed nothing; either way the page did not decide. */
    for (size_t i = 0; i < v->nnamed; i++) {
      if (named[i] == NONE || has_id(ids, v->nreqs, named[i]))
        continue;
      for (size_t j = 0; j < nn; j++)
        censor(l, nodes[j], named[i], nhashes[i], 1);
    }
    /* Fetched by this client lately and not now: in its cache. */
    for (size_t i = 0; i < mem->n; i++) {
      uint32_t id = mem->res[i];
      if (has_id(ids, v->nreqs, id) || has_id(named, v->nnamed, id))
        continue;
      for (size_t j = 0; j < nn; j++)
        censor(l, nodes[j], id, mem->hash[i], 0);
    }
    /* Named X while the page asked for X's path with another query: the
     * page moved on to another version. */
    for (size_t i = 0; i < v->nnamed; i++) {
      for (size_t r = 0; named[i] != NONE && r < v->nreqs; r++) {
        if (ids[r] == NONE || (v->reqs[r].flags & VISIT_REQ_DELIVERED) ||
            has_id(named, v->nnamed, ids[r]) ||
            !same_path(v->named[i].key, v->reqs[r].key))
          continue;
        for (size_t j = 0; j < nn; j++)
          supersede(l, nodes[j], named[i], nhashes[i]);
        break;
      }
    }
    /* What the backend declared, after the visit's own samples. */
    for (size_t i = 0; i < v->ndeclared; i++) {
      const struct visit_declared *d = &v->declared[i];
      size_t kn = strnlen(d->key, PAGEKEY_MAX);
      if (kn == 0 || kn == PAGEKEY_MAX)
        continue;
      uint32_t h = learn_hash_str(d->key, kn);
      uint32_t id = learn_intern(l, d->key, kn, h);
      for (size_t j = 0; j < nn; j++)
        declare(l, nodes[j], id, h, d->dest, net);
    }
  }
  for (size_t i = 0; i < v->nreqs; i++)
    remember(mem, ids[i], hashes[i]);
  free(ids);
  return counted;
}

void learn_outcome(struct learn *l, const char *page_key, int mobile,
                   const char *resource, int used) {
  uint32_t pi = learn_find_node(l, page_key, mobile);
  uint32_t res = resource != NULL ? learn_lookup_str(l, resource) : NONE;
  if (res == NONE)
    return;
  for (int guard = 0; pi != NONE && guard < LEARN_LEVELS; guard++) {
    struct page *p = &l->pages[pi];
    uint32_t ei = learn_entry_of(l, p, res);
    if (ei != NONE) {
      struct entry *e = &p->ents[ei];
      if (used)
        e->used++;
      else
        e->unused++;
      if (e->used + e->unused >= OUTCOME_WINDOW) {
        e->used = (uint16_t)((e->used + 1) / 2);
        e->unused = (uint16_t)((e->unused + 1) / 2);
      }
      learn_mark_dirty(l, pi);
    }
    pi = p->parent;
  }
}
