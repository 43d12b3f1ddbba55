/* push.c: see push.h. */
#include "proxy/push.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/client.h"
#include "base/http.h"
#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "learner/pagekey.h"
#include "learner/recorder.h"
#include "learner/ruleset.h"
#include "proxy/exchange.h"
#include "proxy/pushed.h"
#include "proxy/record.h"
#include "proxy/loop.h"

/* origin_hash identifies a resource on this connection by authority and
 * path without query, the way pushes and hints name it. */
static uint64_t origin_hash(const char *authority, size_t alen,
                            const char *path, size_t plen) {
  size_t n = 0;
  while (n < plen && path[n] != '?' && path[n] != '#')
    n++;
  return util_fnv1a(util_fnv1a(UTIL_FNV1A_INIT, authority, alen), path, n);
}

static int in_set(const struct push_conn *pc, uint64_t h) {
  for (size_t i = 0; i < pc->npushed; i++) {
    if (pc->pushed[i] == h)
      return 1;
  }
  return 0;
}

void push_note_request(struct push_conn *pc, struct loop *lp,
                       const struct http_req *req, struct obs *o) {
  if (pc->npushed > 0 &&
      in_set(pc, origin_hash(req->authority, req->authority_len, req->path,
                             req->path_len))) {
    o->flags |= OBS_F_PUSHED; /* pushed, yet requested again */
    lp->stats.pushes_wasted++;
  }
}

int push_response_ok(int status, const struct http_hdr *hdrs, size_t n) {
  struct obs o;
  memset(&o, 0, offsetof(struct obs, method));
  o.content_type[0] = '\0';
  record_response(&o, status, hdrs, n);
  return status == 200 &&
         !(o.flags & (OBS_F_NO_STORE | OBS_F_PRIVATE | OBS_F_SET_COOKIE |
                      OBS_F_VARY_OTHER));
}

/* push_one promises |e| on the page exchange |x| and fetches it from the
 * backend as if the client had asked, with the page request's
 * user-agent, accept-encoding, accept-language and cache-control (never
 * cookies or authorization). Returns 0, or -1 when no more can be pushed
 * on this connection now. */
static int push_one(struct exchange *x, const struct http_req *req,
                    const struct ruleset_entry *e) {
  struct loop *lp = x->lp;
  static const char *const copied[] = {"user-agent", "accept-encoding",
                                       "accept-language", "cache-control"};
  struct http_hdr hdrs[ARRAY_SIZE(copied)];
  size_t nh = 0;
  for (size_t i = 0; i < req->nhdrs; i++) {
    for (size_t k = 0; k < ARRAY_SIZE(copied); k++) {
      const struct http_hdr *h = &req->hdrs[i];
      if (nh < ARRAY_SIZE(hdrs) &&
          util_strcaseeq(h->name, h->name_len, copied[k]))
        hdrs[nh++] = (struct http_hdr){copied[k], strlen(copied[k]),
                                       h->value, h->value_len};
    }
  }
  /* herald's own request for the page's client: the backend is told that
   * client, not whoever relayed the page request. */
  char client[CLIENT_TEXT_MAX];
  client_format(x->client, client, sizeof(client));
  struct http_req preq = {
      .method = "GET",
      .method_len = 3,
      .path = e->path,
      .path_len = strlen(e->path),
      .authority = req->authority,
      .authority_len = req->authority_len,
      .https = req->https,
      .version = 20,
      .hdrs = hdrs,
      .nhdrs = nh,
      .content_length = -1,
      .has_body = 0,
      .client_addr = client,
  };
  struct exchange *ps = x->sink->promise(x->ud, &preq);
  if (ps == NULL)
    return -1;
  memcpy(ps->client, x->client, sizeof(ps->client));
  ps->have_client = x->have_client;
  ps->pushed = 1;
  ps->push = x->push;
  /* From here on the pushed stream's own copies: the page may end
   * first. */
  preq.path = ps->path;
  preq.path_len = ps->path_len;
  preq.authority = ps->authority;
  preq.authority_len = strlen(ps->authority);
  preq.client = ps->client;
  if (x->recording) {
    /* What becomes of the push goes to the recorder as OBS_PUSH, tied to
     * the page's stream; the copied user-agent keeps the client token. */
    record_request(&ps->obs, x->c, x->id, &preq);
    int n = snprintf(ps->obs.referer, sizeof(ps->obs.referer), "%s://%.*s%s",
                     req->https ? "https" : "http", (int)req->authority_len,
                     req->authority, x->path);
    if (n < 0 || (size_t)n >= sizeof(ps->obs.referer))
      ps->obs.flags |= OBS_F_TRUNCATED;
    ps->recording = 1;
  }
  exchange_start_pushed(ps, &preq);
  x->push->open++;
  lp->stats.pushes_promised++;
  return 0;
}

/* record_client_had tells the recorder that the page's resource |e| was
 * not pushed because the browser has it: the page still used it. */
static void record_client_had(struct exchange *x, const struct http_req *req,
                              const struct ruleset_entry *e) {
  struct obs o = x->obs; /* the page's: client, connection, stream */
  o.kind = OBS_PUSH;
  o.flags = (x->obs.flags & (OBS_F_TLS | OBS_F_H2)) | OBS_F_CLIENT_HAD;
  o.dest = e->dest;
  o.status = 0;
  o.bytes = 0;
  o.end_ms = o.start_ms;
  o.content_type[0] = '\0';
  snprintf(o.path, sizeof(o.path), "%s", e->path);
  int n = snprintf(o.referer, sizeof(o.referer), "%s://%.*s%s",
                   req->https ? "https" : "http", (int)req->authority_len,
                   req->authority, x->path);
  if (n < 0 || (size_t)n >= sizeof(o.referer))
    o.flags |= OBS_F_TRUNCATED;
  recorder_post(x->lp->recorder, &o);
}

/* push_path_ok: the check a 103 applies (pagekey_path_safe), and no byte
 * that would need escaping, since a promised :path goes out as it is. */
static int push_path_ok(const char *path) {
  char esc[PAGEKEY_MAX];
  size_t n = strlen(path);
  return pagekey_path_safe(path, n) &&
         http_path_escape(path, n, esc, sizeof(esc)) == n;
}

/* push_page pushes the page's push rules not yet pushed on this
 * connection, in rule order, while the client's stream limit and the
 * connection's send window have room: a push the client cannot take at
 * once only queues behind the page. The learner already cut the list to
 * the byte budget and count cap. */
uint64_t push_page(struct exchange *x, const struct http_req *req,
                   const struct ruleset_page *p, uint64_t named,
                   int *pushed) {
  struct loop *lp = x->lp;
  struct push_conn *pc = x->push;
  uint32_t max_streams = 0;
  int64_t window = 0;
  x->sink->push_room(x->ud, &max_streams, &window);
  struct digest *d = NULL;
  if (x->cfg->deliver_digest) {
    d = xmalloc(sizeof(*d));
    pushed_read_cookie(d, req);
  }
  size_t before = pc->npushed;
  uint64_t cut = 0;
  *pushed = 0;
  for (size_t i = 0; i < p->n; i++) {
    const struct ruleset_entry *e = &p->entries[i];
    if (i >= 64 || !(named >> i & 1) || !push_path_ok(e->path))
      continue; /* not a push rule, left out to verify it, or unsafe */
    uint64_t h = origin_hash(req->authority, req->authority_len, e->path,
                             strlen(e->path));
    if (in_set(pc, h))
      continue; /* the client has it from an earlier push */
    int had = d != NULL && pushed_has(lp->validators, d, req->authority,
                                      req->authority_len, e->path);
    if (cut != 0) {
      /* Past the client's limits: what it does not have yet goes in the
       * 103 (the exchange decides whether one may go out). */
      if (!had)
        cut |= 1ull << i;
      continue;
    }
    if (had) {
      lp->stats.pushes_digest_skipped++;
      if (x->recording)
        record_client_had(x, req, e);
      continue; /* pushed on an earlier connection */
    }
    if ((uint32_t)pc->open >= max_streams || window < (int64_t)e->bytes) {
      lp->stats.pushes_skipped++;
      cut |= 1ull << i;
      continue;
    }
    if (push_one(x, req, e) != 0) {
      cut |= 1ull << i;
      continue;
    }
    (*pushed)++;
    window -= e->bytes;
    if (d != NULL)
      pushed_add(lp->validators, d, req->authority, req->authority_len,
                 e->path);
    if (pc->npushed < ARRAY_SIZE(pc->pushed))
      pc->pushed[pc->npushed++] = h;
  }
  if (d != NULL && pc->npushed > before) {
    free(x->digest);
    x->digest = d; /* goes out with the page's response headers */
  } else {
    free(d);
  }
  return cut;
}

void push_closed(struct exchange *x, const struct exchange_outcome *o) {
  struct loop *lp = x->lp;
  x->push->open--;
  if (o->cancelled)
    lp->stats.pushes_cancelled++;
  else if (!o->cut)
    lp->stats.pushes_completed++;
  lp->stats.push_bytes += x->bytes_sent;
}
