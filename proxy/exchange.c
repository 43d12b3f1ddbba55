/* exchange.c: see exchange.h.
 *
 * One request's walk: the session calls exchange_start with the
 * validated head; route_pick chooses the backend, the observation is
 * filled and a navigation announced to the recorder, the upstream starts
 * (its request is on the wire before anything else happens), then
 * deliver fills the backend's think time: a 103 from the rules, or
 * pushes (push.c), whose cut-off rest goes out in a 103. The upstream's
 * callbacks come back here and go on to the sink; the session reports
 * the end with exchange_close, which writes the log line and hands the
 * observation to the recorder. */
#include "proxy/exchange.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/http.h"
#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "config/route.h"
#include "learner/recorder.h"
#include "learner/ruleset.h"
#include "proxy/access.h"
#include "proxy/conn.h"
#include "proxy/hints.h"
#include "proxy/push.h"
#include "proxy/pushed.h"
#include "proxy/record.h"
#include "proxy/loop.h"
#include "proxy/upstream.h"

static const struct upstream_cb up_cb;

void exchange_init(struct exchange *x, struct conn *c,
                   const struct exchange_sink *sink, void *ud) {
  memset(x, 0, offsetof(struct exchange, obs));
  x->lp = conn_loop(c);
  x->cfg = conn_config(c);
  x->c = c;
  x->sink = sink;
  x->ud = ud;
  x->method = x->authority = x->path = "";
  x->proto = "-";
  x->start_ms = uv_now(x->lp->uv); /* the loop's time: no clock read */
}

void exchange_count(struct exchange *x) {
  x->lp->stats.requests++;
  if (x->version == 20)
    x->lp->stats.h2_requests++;
  else
    x->lp->stats.h1_requests++;
}

/* send_early sends the exchange's one 103 with the Link fields of |e|.
 * Returns 1 when it went out. */
static int send_early(struct exchange *x, const struct hints_early *e) {
  if (x->early_sent || e->n == 0 || x->sink->early(x->ud, e) != 0)
    return 0;
  x->early_sent = 1;
  x->hints = (int)e->n;
  return 1;
}

/* deliver pushes a navigation's page rules to a client that takes push
 * (and names what could not be pushed in a 103), or sends it one 103
 * Early Hints (see proxy/hints.h). */
static void deliver(struct exchange *x, const struct http_req *req) {
  struct loop *lp = x->lp;
  struct obs *o = x->recording ? &x->obs : NULL;
  const struct ruleset_page *p = NULL;
  uint64_t named = 0;
  int can_push = x->push != NULL && x->sink->push_room != NULL &&
                 x->sink->push_room(x->ud, NULL, NULL);
  struct hints_early e;
  switch (hints_decide(lp, x->cfg, req, o, x->c, x->id, can_push, &p,
                       &named)) {
  case HINTS_NONE:
    return;
  case HINTS_VERIFY:
    x->early_ok = 0; /* the page alone decides: no backend 103 either */
    return;
  case HINTS_PUSH: {
    int pushed = 0;
    uint64_t cut = push_page(x, req, p, named, &pushed);
    if (hints_push_fallback(lp, x->cfg, req, o, p, cut, !pushed, &e) &&
        send_early(x, &e))
      lp->stats.hints_sent++;
    return;
  }
  case HINTS_EARLY:
    if (hints_compose(p, named, NULL, 0, &e) > 0 && send_early(x, &e))
      lp->stats.hints_sent++;
    return;
  }
}

static int backend_of(const struct exchange *x, const struct http_req *req) {
  const struct config *cfg = x->cfg;
  size_t hostlen = http_authority_host_len(req->authority,
                                           req->authority_len);
  return route_pick(cfg, req->authority, hostlen, req->path, req->path_len);
}

static void keep_names(struct exchange *x, const struct http_req *req) {
  x->req_authority = req->authority;
  x->req_alen = req->authority_len;
  x->req_path = req->path;
  x->req_plen = req->path_len;
  x->https = req->https;
  x->is_head = req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0;
}

void exchange_start(struct exchange *x, const struct http_req *req) {
  struct loop *lp = x->lp;
  keep_names(x, req);
  int backend = backend_of(x, req);
  struct recorder *rec = lp->recorder;
  if (recorder_enabled(rec)) {
    x->recording = 1;
    record_request(&x->obs, x->c, x->id, req);
    if (x->push != NULL)
      push_note_request(x->push, lp, req, &x->obs);
    if (record_maybe_navigation(&x->obs)) {
      x->obs.kind = OBS_NAV_START;
      recorder_post(rec, &x->obs);
    }
  }
  /* HTTP/1.0 clients know no 1xx; HTTP/1.1 ones get one only with
   * hints_http1. */
  x->early_ok = (uint8_t)hints_may_send(x->cfg, req,
                                        x->recording ? &x->obs : NULL);
  x->up = upstream_start(conn_pool(x->c), backend, req, &up_cb, x);
  /* The request is on its way to the backend; fill its think time. */
  if (lp->rules != NULL && x->early_ok)
    deliver(x, req);
}

void exchange_start_pushed(struct exchange *x, const struct http_req *req) {
  keep_names(x, req);
  x->up = upstream_start(conn_pool(x->c), backend_of(x, req), req, &up_cb,
                         x);
}

void exchange_send_body(struct exchange *x, const uint8_t *p, size_t n) {
  if (x->up != NULL)
    upstream_send_body(x->up, p, n);
}

void exchange_end_body(struct exchange *x) {
  if (x->up != NULL)
    upstream_end_body(x->up);
}

size_t exchange_body_pending(const struct exchange *x) {
  return x->up != NULL ? upstream_body_pending(x->up) : 0;
}

int exchange_busy(const struct exchange *x) { return x->up != NULL; }

void exchange_pause(struct exchange *x) {
  if (x->up != NULL)
    upstream_pause(x->up);
}

void exchange_resume(struct exchange *x) {
  if (x->up != NULL)
    upstream_resume(x->up);
}

const char *exchange_transfer_codings(const struct exchange *x) {
  return x->up != NULL ? upstream_transfer_codings(x->up) : "";
}

void exchange_sent(struct exchange *x, uint64_t n) { x->bytes_sent += n; }

void exchange_cancel(struct exchange *x) {
  if (x->up == NULL)
    return;
  upstream_cancel(x->up);
  x->up = NULL;
}

void exchange_close(struct exchange *x, const struct exchange_outcome *o) {
  struct loop *lp = x->lp;
  if (x->closed)
    return;
  x->closed = 1;
  if (!o->quiet) {
    access_log_request(x->c, &(struct access_entry){
        .client = x->have_client ? x->client : NULL,
        .proto = x->proto,
        .method = x->method,
        .authority = x->authority,
        .path = x->path,
        .status = o->status,
        .bytes = x->bytes_sent,
        .ms = uv_now(x->lp->uv) - x->start_ms,
        .backend = x->up ? upstream_backend_name(x->up) : x->backend,
        .fields = x->fields,
        .hints = x->hints,
        .pushed = x->pushed,
    });
  }
  /* The class of the head the client got (a cut body included). */
  if (x->status >= 100 && x->status < 600) {
    lp->stats.responses[x->status / 100]++;
    if (x->version != 20)
      lp->stats.h1_responses[x->status / 100]++;
  }
  if (x->pushed)
    push_closed(x, o);
  if (x->recording) {
    x->recording = 0;
    record_finish(&x->obs, x->bytes_sent, o->cut);
    if (x->pushed)
      x->obs.kind = OBS_PUSH;
    recorder_post(lp->recorder, &x->obs);
  }
}

void exchange_cleanup(struct exchange *x) {
  if (x->up != NULL) {
    upstream_cancel(x->up);
    x->up = NULL;
  }
  free(x->digest);
  x->digest = NULL;
}

/* ---- the upstream's callbacks ------------------------------------------ */

/* refuse drops a response the client must not get: a pushed stream is
 * reset (it asked for nothing), a request gets |status|. */
static void refuse(struct exchange *x, int status) {
  exchange_cancel(x);
  if (x->pushed) {
    x->lp->stats.pushes_refused++;
    x->sink->reset(x->ud);
    return;
  }
  x->sink->error(x->ud, status);
}

static void up_head(void *ud, int status, const struct http_hdr *hdrs,
                    size_t n, int64_t content_length) {
  struct exchange *x = ud;
  struct loop *lp = x->lp;
  x->backend = upstream_backend_name(x->up);
  int bodyless = x->is_head || status == 204 || status == 304;
  const char *codings = upstream_transfer_codings(x->up);
  if (!bodyless && codings[0] != '\0' && !x->codings_ok) {
    /* HTTP/1.0 has no transfer codings, and HTTP/2 none either (a
     * Content-Encoding would claim the representation itself is coded):
     * the coded bytes cannot be told from a body, so the client gets a
     * 502, never them. */
    LOG_WARN("backend %s: transfer coding '%s' cannot reach an %s client; "
             "502", x->backend, codings,
             x->version == 20 ? "HTTP/2" : "HTTP/1.0");
    lp->stats.backend_errors++;
    refuse(x, 502);
    return;
  }
  if (x->recording) {
    record_response(&x->obs, status, hdrs, n);
    hints_page_response(lp, &x->obs, hdrs, n, &x->declared);
  }
  if (x->pushed && !push_response_ok(status, hdrs, n)) {
    /* Learned as pushable, answered otherwise this time: never deliver
     * it as a push. The client loses nothing; it asks for it itself. */
    LOG_INFO("conn %llu: pushed %s answered %d or not cacheable; reset",
             (unsigned long long)conn_id(x->c), x->path, status);
    refuse(x, 0);
    return;
  }
  /* Validators matter only for what rules may push; a herald without
   * rules has nothing to note them for. */
  if (x->push != NULL && lp->rules != NULL && status == 200 &&
      strcmp(x->method, "GET") == 0)
    pushed_note_validator(lp->validators, x->req_authority, x->req_alen,
                          x->req_path, x->req_plen, hdrs, n);
  /* RFC 9110 7.6.3: a proxy adds itself to Via in both directions. */
  struct http_hdr extra[2] = {{"Via", 3, "1.1 herald", 10}};
  size_t nextra = 1;
  char *cookie = lp->h2_cookie;
  size_t clen;
  if (x->digest != NULL && status < 400 &&
      (clen = pushed_cookie(x->digest, x->https, cookie,
                            sizeof(lp->h2_cookie))) > 0)
    extra[nextra++] = (struct http_hdr){"Set-Cookie", 10, cookie, clen};
  x->status = status;
  x->head_sent = 1;
  x->sink->head(x->ud, status, hdrs, n, extra, nextra, content_length,
                bodyless);
}

static void up_body(void *ud, const uint8_t *p, size_t n) {
  struct exchange *x = ud;
  x->sink->body(x->ud, p, n);
}

static void up_end(void *ud, const struct http_hdr *tr, size_t n) {
  struct exchange *x = ud;
  x->up = NULL;
  x->sink->end(x->ud, tr, n);
}

static void up_error(void *ud, int status, const char *why) {
  struct exchange *x = ud;
  (void)why; /* upstream.c logged it */
  x->backend = upstream_backend_name(x->up);
  x->up = NULL;
  /* A 503 never reached the backend: the queue counters have it. */
  if (status != 503)
    x->lp->stats.backend_errors++;
  if (status == 504)
    x->lp->stats.backend_timeouts++;
  if (x->pushed && !x->head_sent) {
    /* Nothing pushable came: reset the push rather than deliver a 502
     * or 504 the client never asked for (it asks itself if it needs
     * the resource). */
    x->lp->stats.pushes_refused++;
    x->sink->reset(x->ud);
    return;
  }
  x->sink->error(x->ud, status);
}

static void up_body_sent(void *ud, size_t n) {
  struct exchange *x = ud;
  x->sink->body_sent(x->ud, n);
}

/* up_info: a backend's interim response. Only its first 103 matters,
 * and only as hints.h says; 100, 102 and the rest never go on. */
static void up_info(void *ud, int status, const struct http_hdr *hdrs,
                    size_t n) {
  struct exchange *x = ud;
  if (status != 103 || x->pushed || x->backend_103 || x->head_sent)
    return;
  x->backend_103 = 1;
  struct hints_early e;
  if (hints_backend_103(x->lp, x->cfg, x->recording ? &x->obs : NULL,
                        x->early_ok, x->early_sent, x->https,
                        x->req_authority, x->req_alen, x->req_path,
                        x->req_plen, hdrs, n, &x->declared, &e))
    send_early(x, &e);
}

static const struct upstream_cb up_cb = {
    .on_info = up_info,
    .on_head = up_head,
    .on_body = up_body,
    .on_end = up_end,
    .on_error = up_error,
    .on_body_sent = up_body_sent,
};
