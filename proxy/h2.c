/* h2.c: the HTTP/2 front session of one client connection.
 *
 * nghttp2 does the framing, HPACK and the protocol's own checks (HTTP
 * messaging stays on: pseudo-header rules, content-length against DATA,
 * connection-specific fields). This file adds what nghttp2 1.52 leaves to
 * the application (see shared/research/security.md §3): a cumulative
 * header-size and field-count cap, :scheme/:authority/Host policy, a
 * "glitch" token bucket for cheap-to-send frames and costly-to-decode
 * header blocks (HPACK bombs), a bucket for the resets
 * we send, a per-connection request cap, the header-completion and idle
 * timers, per-stream send and request-body timeouts (see "stream
 * lifetimes"), and manual window updates so a request body is
 * acknowledged only once it reached the backend socket.
 *
 * Response bodies wait in the stream's chunk queue and are framed with
 * NGHTTP2_DATA_FLAG_NO_COPY, so body bytes are copied once from the
 * backend's read buffer into the queue and once into the output. */
#include <inttypes.h>
#include <stddef.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/client.h"
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
#include "proxy/pushed.h"
#include "proxy/framescan.h"
#include "proxy/preload.h"
#include "proxy/record.h"
#include "proxy/loop.h"
#include "proxy/session.h"
#include "proxy/upstream.h"

#define STREAM_WINDOW (256 * 1024)
#define CONN_WINDOW (1024 * 1024)
#define RESP_HIGH_WATER (64 * 1024)
#define DISCARD_MAX (4 * 1024 * 1024)
#define MAX_OUTBOUND_FRAMES 5000
#define GLITCH_BURST 10000
#define GLITCH_RATE 330   /* per second */
#define RESET_BURST 200
#define RESET_RATE 20     /* per second */
/* A header block decoded past the limits (an HPACK bomb: a few KB on the
 * wire, megabytes to decode) costs this much of the glitch budget: the
 * fifth in quick succession closes the connection. */
#define OVERSIZE_COST (GLITCH_BURST / 4)

struct bucket {
  double tokens;
  uint64_t last_ms;
};

struct h2_stream {
  struct h2_session *s;
  struct h2_stream *prev, *next;
  int32_t id;
  struct http_fields fields;   /* regular request fields */
  char pseudo[4][256];         /* :method :path :scheme :authority */
  size_t pseudo_len[4];
  int pseudo_seen[4];
  size_t header_size, nfields;
  int reject;                  /* status to answer instead of proxying */
  const char *reject_why;
  int oversized;                /* header block past the limits */
  size_t trailer_size;
  int64_t content_length;
  int64_t body_received;
  int request_ended, headers_done, headers_end_stream;
  int started;                 /* upstream_start has been called */
  int invalid;                 /* nghttp2 is resetting it: never start */
  int reset;                   /* herald reset it (timeout, client gone) */
  int64_t discarded;           /* upload bytes dropped after a 413 */
  struct buf early_body;       /* DATA that arrived before the start */

  struct upstream *up;
  const char *backend;         /* server that answered, pool-owned */
  struct buf resp;
  int resp_started, resp_eof, deferred;
  int data_dp;                 /* the response has a body to frame */
  int end_sent;                /* END_STREAM went out */
  /* Loop times of the last progress, for the stream timeouts (see
   * sweep): request body bytes in, response bytes out. */
  uint64_t body_ms, send_ms;
  struct http_fields trailers;
  int status;
  uint64_t start_ms;
  uint64_t bytes_sent;
  uint8_t client[16];          /* the request's client, once validated */
  int have_client;
  int forwarded_trusted;       /* the connection is a trusted proxy */
  int recording;               /* |obs| is being filled for the recorder */
  int pushed;                  /* a stream herald promised, not a request */
  int hints;                   /* Link fields in the 103 sent on it */
  /* 103 Early Hints (proxy/hints.h): the request may get one; one went
   * out (never a second); the backend's first 103 was looked at; the
   * backend's declarations noted for the recorder. */
  uint8_t early_ok, early_sent, backend_103, declared;
  struct digest *digest;       /* owned: what the browser has from our
                                  pushes, sent back in Set-Cookie on this
                                  page's response; NULL when nothing was
                                  pushed */
  struct obs obs;
};

enum { P_METHOD, P_PATH, P_SCHEME, P_AUTHORITY };
static const char *const pseudo_names[] = {":method", ":path", ":scheme",
                                           ":authority"};

struct h2_session {
  struct conn *c;
  struct loop *lp;
  const struct config *cfg; /* the connection's (conn_config) */
  nghttp2_session *ng;
  struct h2_stream *streams;
  int nstreams, headers_pending;
  /* Streams whose request head is complete, started once the current
   * mem_recv batch is fully processed: a malformed frame later in the
   * same read (a content-length that DATA contradicts) then resets the
   * stream before anything reaches the backend. */
  int32_t *ready;
  size_t nready, ready_cap;
  uint64_t requests;
  int goaway_sent, peer_eof;
  int terminated; /* a callback gave up on the session (and logged why) */
  /* Resources pushed on this connection (hashes of their keys): a
   * resource is pushed at most once per connection. */
  uint64_t pushed[256];
  size_t npushed;
  int push_open; /* pushed streams promised and not yet closed */
  struct preload_set *preloads; /* what its 103s named; NULL: none */
  struct framescan scan;        /* PRIORITY frames nghttp2 skips unseen */
  struct bucket glitch, resets;
};

static const struct upstream_cb up_cb;

/* ---- small helpers ---------------------------------------------------- */

static int bucket_charge(struct bucket *b, double burst, double rate,
                         double cost) {
  uint64_t now = util_now_ms();
  if (b->last_ms == 0) {
    b->tokens = burst;
  } else {
    b->tokens += (double)(now - b->last_ms) * rate / 1000.0;
    if (b->tokens > burst)
      b->tokens = burst;
  }
  b->last_ms = now;
  if (b->tokens < cost)
    return 0;
  b->tokens -= cost;
  return 1;
}

static int bucket_take(struct bucket *b, double burst, double rate) {
  return bucket_charge(b, burst, rate, 1);
}

static void calm_down(struct h2_session *s, const char *why) {
  if (s->goaway_sent)
    return;
  LOG_WARN("conn %llu %s: %s; GOAWAY ENHANCE_YOUR_CALM",
           (unsigned long long)conn_id(s->c), conn_peer(s->c), why);
  nghttp2_submit_goaway(s->ng, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(s->ng),
                        NGHTTP2_ENHANCE_YOUR_CALM, NULL, 0);
  s->goaway_sent = 1;
  conn_mark_dirty(s->c);
}

/* charge_oversized charges a header block that decoded past the limits to
 * the glitch budget, once per block. When the budget is gone the
 * connection is terminated (GOAWAY ENHANCE_YOUR_CALM, then close): a mere
 * GOAWAY would not do, since nghttp2 still decodes every later header
 * block to keep HPACK in sync. Returns 0, or NGHTTP2_ERR_CALLBACK_FAILURE
 * to stop decoding at once. */
static int charge_oversized(struct h2_session *s, struct h2_stream *st) {
  if (st->oversized)
    return 0;
  st->oversized = 1;
  if (bucket_charge(&s->glitch, GLITCH_BURST, GLITCH_RATE, OVERSIZE_COST))
    return 0;
  LOG_WARN("conn %llu %s: header blocks over the limits again and again; "
           "GOAWAY ENHANCE_YOUR_CALM, closing",
           (unsigned long long)conn_id(s->c), conn_peer(s->c));
  nghttp2_session_terminate_session(s->ng, NGHTTP2_ENHANCE_YOUR_CALM);
  s->goaway_sent = s->terminated = 1;
  return NGHTTP2_ERR_CALLBACK_FAILURE;
}

/* origin_hash identifies a resource on this connection by authority and
 * path without query, the way pushes and hints name it. */
static uint64_t origin_hash(const char *authority, size_t alen,
                            const char *path, size_t plen) {
  size_t n = 0;
  while (n < plen && path[n] != '?' && path[n] != '#')
    n++;
  return util_fnv1a(util_fnv1a(UTIL_FNV1A_INIT, authority, alen), path, n);
}

static int in_set(const uint64_t *set, size_t n, uint64_t h) {
  for (size_t i = 0; i < n; i++) {
    if (set[i] == h)
      return 1;
  }
  return 0;
}

static void update_timer(struct h2_session *s) {
  const struct config *cfg = s->cfg;
  conn_set_idle(s->c, s->headers_pending == 0 && s->nstreams == 0);
  if (s->headers_pending > 0)
    conn_set_timeout(s->c, (uint64_t)cfg->header_timeout, "request header");
  else if (s->nstreams == 0)
    conn_set_timeout(s->c, (uint64_t)cfg->idle_timeout, "idle");
  else
    conn_set_timeout(s->c, 0, NULL);
}

/* ---- stream lifetimes ------------------------------------------------ */

/* A stream's client side can stall it two ways while the connection
 * lives: by never finishing its request body, or by never opening the
 * window for its response. Each stream records its last progress; one
 * tick per connection (conn_schedule_tick) sweeps them and resets those
 * past timeouts.idle (body) or timeouts.write (window), releasing their
 * backend exchange. A client that closed its side (FIN) can do neither
 * any more: such streams are reset at once (reap). */

static uint64_t loop_now(const struct h2_session *s) {
  return uv_now(s->lp->uv);
}

/* body_waiting: the request body is still to come from the client. */
static int body_waiting(const struct h2_stream *st) {
  return !st->request_ended && !st->pushed;
}

/* send_waiting: response bytes (or the final empty DATA) wait to go
 * out, which only the flow-control window may be holding up. */
static int send_waiting(const struct h2_stream *st) {
  return st->data_dp && !st->end_sent && (st->resp.len > 0 || st->resp_eof);
}

static int window_open(const struct h2_session *s,
                       const struct h2_stream *st) {
  return nghttp2_session_get_stream_remote_window_size(s->ng, st->id) > 0 &&
         nghttp2_session_get_remote_window_size(s->ng) > 0;
}

/* reset_stream abandons |st|: its backend exchange is released now, the
 * RST_STREAM goes out with the next write (and nghttp2 then closes it). */
static void reset_stream(struct h2_stream *st, uint32_t code) {
  struct h2_session *s = st->s;
  st->reset = st->started = 1; /* later DATA is dropped (on_data_chunk) */
  if (st->up != NULL) {
    upstream_cancel(st->up);
    st->up = NULL;
  }
  nghttp2_submit_rst_stream(s->ng, NGHTTP2_FLAG_NONE, st->id, code);
  conn_mark_dirty(s->c);
}

static void stream_timeout(struct h2_stream *st, const char *what, int ms,
                           uint64_t *count) {
  struct h2_session *s = st->s;
  LOG_INFO("conn %llu %s: stream %d: %s for %d ms; reset",
           (unsigned long long)conn_id(s->c), conn_peer(s->c), st->id, what,
           ms);
  (*count)++;
  reset_stream(st, NGHTTP2_CANCEL);
}

/* due: 1 when the deadline |ms| after |since| has passed; else 0, with
 * |*next| lowered to that deadline. */
static int due(uint64_t since, uint64_t ms, uint64_t now, uint64_t *next) {
  if (now - since >= ms)
    return 1;
  if (since + ms < *next)
    *next = since + ms;
  return 0;
}

/* sweep resets the streams past their deadline and asks for the next
 * tick at the earliest deadline left. */
static void sweep(struct h2_session *s) {
  const struct config *cfg = s->cfg;
  struct loop_stats *stats = &s->lp->stats;
  uint64_t now = loop_now(s), next = UINT64_MAX;
  uint64_t body_ms = (uint64_t)cfg->idle_timeout;
  uint64_t send_ms = (uint64_t)cfg->write_timeout;
  for (struct h2_stream *st = s->streams; st != NULL; st = st->next) {
    if (st->reset || !st->headers_done)
      continue; /* the header timer covers an unfinished head */
    if (body_waiting(st)) {
      /* Body bytes herald has yet to hand to the backend hold the
       * window shut: that wait is the backend's (backend_read). */
      if (st->up != NULL && upstream_body_pending(st->up) > 0)
        st->body_ms = now;
      if (due(st->body_ms, body_ms, now, &next)) {
        stream_timeout(st, "no request body bytes", cfg->idle_timeout,
                       &stats->h2_body_timeouts);
        continue;
      }
    }
    if (send_waiting(st)) {
      /* With window, a stalled send is the socket's (timeouts.write on
       * the connection). */
      if (window_open(s, st))
        st->send_ms = now;
      if (due(st->send_ms, send_ms, now, &next))
        stream_timeout(st, "no flow-control window", cfg->write_timeout,
                       &stats->h2_send_timeouts);
    }
  }
  if (next != UINT64_MAX)
    conn_schedule_tick(s->c, next - now);
}

/* reap (after the client's FIN) resets the streams that need something
 * the client can no longer send: request bytes, or window. Returns how
 * many it reset. */
static int reap(struct h2_session *s) {
  int n = 0;
  for (struct h2_stream *st = s->streams; st != NULL; st = st->next) {
    if (st->reset)
      continue;
    if (body_waiting(st) || (send_waiting(st) && !window_open(s, st))) {
      LOG_DEBUG("conn %llu: stream %d: client closed its side; reset",
                (unsigned long long)conn_id(s->c), st->id);
      reset_stream(st, NGHTTP2_CANCEL);
      n++;
    }
  }
  return n;
}

/* Closed streams are kept for reuse with their header buffers (in the
 * loop, h2_free), so a busy connection allocates little per request. */
#define STREAM_FREE_MAX 256

void h2_loop_cleanup(struct loop *lp) {
  while (lp->h2_free != NULL) {
    struct h2_stream *st = lp->h2_free;
    lp->h2_free = st->next;
    http_fields_cleanup(&st->fields);
    http_fields_cleanup(&st->trailers);
    free(st);
  }
  lp->h2_nfree = 0;
  nghttp2_session_callbacks_del(lp->h2_callbacks);
  lp->h2_callbacks = NULL;
  nghttp2_option_del(lp->h2_options);
  lp->h2_options = NULL;
}

static struct h2_stream *stream_alloc(struct loop *lp) {
  struct h2_stream *st = lp->h2_free;
  if (st == NULL)
    return xcalloc(1, sizeof(*st));
  lp->h2_free = st->next;
  lp->h2_nfree--;
  struct http_fields f = st->fields, t = st->trailers;
  /* The pseudo-header buffers are overwritten before use; clear only the
   * fields before them. */
  memset(st, 0, offsetof(struct h2_stream, pseudo));
  memset(&st->pseudo_len, 0,
         sizeof(*st) - offsetof(struct h2_stream, pseudo_len));
  for (int i = 0; i < 4; i++)
    st->pseudo[i][0] = '\0';
  st->fields = f;
  st->trailers = t;
  http_fields_reset(&st->fields);
  http_fields_reset(&st->trailers);
  return st;
}

static struct h2_stream *stream_new(struct h2_session *s, int32_t id) {
  const struct config *cfg = s->cfg;
  struct h2_stream *st = stream_alloc(s->lp);
  st->s = s;
  st->id = id;
  st->content_length = -1;
  st->start_ms = util_now_ms();
  st->fields.max_size = (size_t)cfg->max_header_list_size;
  st->fields.max_fields = (size_t)cfg->max_header_fields;
  st->trailers.max_size = 65536;
  st->trailers.max_fields = 100;
  buf_init(&st->resp, &s->lp->bufs);
  buf_init(&st->early_body, &s->lp->bufs);
  st->next = s->streams;
  if (s->streams)
    s->streams->prev = st;
  s->streams = st;
  s->nstreams++;
  s->lp->stats.h2_streams_active++;
  return st;
}

static void stream_free(struct h2_stream *st) {
  struct h2_session *s = st->s;
  if (st->up != NULL)
    upstream_cancel(st->up);
  if (st->prev)
    st->prev->next = st->next;
  else
    s->streams = st->next;
  if (st->next)
    st->next->prev = st->prev;
  s->nstreams--;
  s->lp->stats.h2_streams_active--;
  buf_cleanup(&st->resp);
  buf_cleanup(&st->early_body);
  free(st->digest);
  st->digest = NULL;
  if (s->lp->h2_nfree < STREAM_FREE_MAX) {
    st->next = s->lp->h2_free;
    s->lp->h2_free = st;
    s->lp->h2_nfree++;
    return;
  }
  http_fields_cleanup(&st->fields);
  http_fields_cleanup(&st->trailers);
  free(st);
}

/* ---- responses -------------------------------------------------------- */

static ssize_t read_body(nghttp2_session *ng, int32_t id, uint8_t *buf,
                         size_t length, uint32_t *flags,
                         nghttp2_data_source *src, void *user_data) {
  (void)buf;
  (void)user_data;
  struct h2_stream *st = src->ptr;
  size_t n = st->resp.len < length ? st->resp.len : length;
  if (n == 0 && !st->resp_eof) {
    st->deferred = 1;
    return NGHTTP2_ERR_DEFERRED;
  }
  *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  if (st->resp_eof && n == st->resp.len) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (st->trailers.n > 0) {
      *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      nghttp2_nv nv[100];
      struct http_hdr h[100];
      http_fields_export(&st->trailers, h);
      for (size_t i = 0; i < st->trailers.n; i++) {
        nv[i] = (nghttp2_nv){(uint8_t *)h[i].name, (uint8_t *)h[i].value,
                             h[i].name_len, h[i].value_len,
                             NGHTTP2_NV_FLAG_NONE};
      }
      nghttp2_submit_trailer(ng, id, nv, st->trailers.n);
    }
  }
  return (ssize_t)n;
}

static int send_data(nghttp2_session *ng, nghttp2_frame *frame,
                     const uint8_t *framehd, size_t length,
                     nghttp2_data_source *src, void *user_data) {
  (void)ng;
  struct h2_session *s = user_data;
  struct h2_stream *st = src->ptr;
  if (conn_write_blocked(s->c))
    return NGHTTP2_ERR_WOULDBLOCK;
  conn_write(s->c, framehd, 9);
  size_t left = length;
  while (left > 0) {
    const uint8_t *p;
    size_t k = buf_peek(&st->resp, &p);
    if (k > left)
      k = left;
    conn_write(s->c, p, k);
    buf_consume(&st->resp, k);
    left -= k;
  }
  (void)frame;
  st->bytes_sent += length;
  st->send_ms = loop_now(s);
  /* Below half the high-water mark the backend may send again. */
  if (st->up != NULL && st->resp.len < RESP_HIGH_WATER / 2)
    upstream_resume(st->up);
  return 0;
}

static void submit_simple(struct h2_stream *st, int status, const char *why) {
  struct h2_session *s = st->s;
  char code[8], body[128];
  snprintf(code, sizeof(code), "%d", status);
  int n = snprintf(body, sizeof(body), "%d %s\n", status,
                   http_status_reason(status));
  char len[16];
  snprintf(len, sizeof(len), "%d", n);
  nghttp2_nv nv[] = {
      {(uint8_t *)":status", (uint8_t *)code, 7, strlen(code), 0},
      {(uint8_t *)"content-type", (uint8_t *)"text/plain", 12, 10, 0},
      {(uint8_t *)"content-length", (uint8_t *)len, 14, strlen(len), 0},
  };
  buf_cleanup(&st->resp);
  buf_append(&st->resp, body, (size_t)n);
  st->resp_eof = 1;
  st->resp_started = st->data_dp = 1;
  st->send_ms = loop_now(s);
  conn_schedule_tick(s->c, (uint64_t)s->cfg->write_timeout);
  st->status = status;
  nghttp2_data_provider dp = {.source.ptr = st, .read_callback = read_body};
  if (nghttp2_submit_response(s->ng, st->id, nv, ARRAY_SIZE(nv), &dp) != 0)
    nghttp2_submit_rst_stream(s->ng, NGHTTP2_FLAG_NONE, st->id,
                              NGHTTP2_INTERNAL_ERROR);
  if (why != NULL)
    LOG_INFO("conn %llu %s: stream %d: %d (%s)",
             (unsigned long long)conn_id(s->c), conn_peer(s->c), st->id,
             status, why);
  conn_mark_dirty(s->c);
}

/* send_early sends the stream's one 103 Early Hints with the Link fields
 * of |e|, for a page on |authority|. Returns 1 when it went out. */
static int send_early(struct h2_stream *st, const struct hints_early *e,
                      const char *authority, size_t alen) {
  struct h2_session *s = st->s;
  nghttp2_nv nv[HINTS_LINKS_MAX + 1];
  if (st->early_sent || e->n == 0)
    return 0;
  nv[0] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)"103", 7, 3,
                       NGHTTP2_NV_FLAG_NONE};
  for (size_t i = 0; i < e->n; i++)
    nv[i + 1] = (nghttp2_nv){(uint8_t *)"link", (uint8_t *)e->link[i], 4,
                             e->len[i], NGHTTP2_NV_FLAG_NONE};
  int rv = nghttp2_submit_headers(s->ng, NGHTTP2_FLAG_NONE, st->id, NULL, nv,
                                  e->n + 1, NULL);
  if (rv != 0) {
    LOG_DEBUG("stream %d: cannot send 103: %s", st->id, nghttp2_strerror(rv));
    return 0;
  }
  st->early_sent = 1;
  st->hints = (int)e->n;
  /* What it names is then sent in this order (preload.h). */
  for (size_t i = 0; i < e->n; i++)
    preload_note(&s->preloads, authority, alen, e->link[i], e->len[i],
                 e->rank[i], i);
  conn_mark_dirty(s->c);
  return 1;
}

/* push_response_ok: the same test recording applies to call a response
 * pushable (200, no no-store/private, no Set-Cookie, Vary at most
 * Accept-Encoding). */
static int push_response_ok(int status, const struct http_hdr *hdrs,
                            size_t n) {
  struct obs o;
  memset(&o, 0, offsetof(struct obs, method));
  o.content_type[0] = '\0';
  record_response(&o, status, hdrs, n);
  return status == 200 &&
         !(o.flags & (OBS_F_NO_STORE | OBS_F_PRIVATE | OBS_F_SET_COOKIE |
                      OBS_F_VARY_OTHER));
}

static void up_head(void *ud, int status, const struct http_hdr *hdrs,
                    size_t n, int64_t content_length) {
  struct h2_stream *st = ud;
  struct h2_session *s = st->s;
  (void)content_length;
  st->backend = upstream_backend_name(st->up);
  int head_only = status == 204 || status == 304 ||
                  (st->pseudo_len[P_METHOD] == 4 &&
                   memcmp(st->pseudo[P_METHOD], "HEAD", 4) == 0);
  const char *codings = upstream_transfer_codings(st->up);
  if (!head_only && codings[0] != '\0') {
    /* HTTP/2 has no transfer codings (Content-Encoding would claim the
     * representation itself is coded): the client gets a 502, never the
     * coded bytes as if they were the body. */
    LOG_WARN("backend %s: transfer coding '%s' cannot go over HTTP/2; 502",
             st->backend, codings);
    upstream_cancel(st->up);
    st->up = NULL;
    s->lp->stats.backend_errors++;
    if (st->pushed) {
      s->lp->stats.pushes_refused++;
      nghttp2_submit_rst_stream(s->ng, NGHTTP2_FLAG_NONE, st->id,
                                NGHTTP2_CANCEL);
      conn_mark_dirty(s->c);
      return;
    }
    submit_simple(st, 502, NULL);
    return;
  }
  if (st->recording) {
    record_response(&st->obs, status, hdrs, n);
    hints_page_response(s->lp, &st->obs, hdrs, n, &st->declared);
  }
  if (st->pushed && !push_response_ok(status, hdrs, n)) {
    /* Learned as pushable, answered otherwise this time: never deliver
     * it as a push. The client loses nothing; it asks for it itself. */
    LOG_INFO("conn %llu: pushed %s answered %d or not cacheable; reset",
             (unsigned long long)conn_id(s->c), st->pseudo[P_PATH], status);
    s->lp->stats.pushes_refused++;
    upstream_cancel(st->up);
    st->up = NULL;
    nghttp2_submit_rst_stream(s->ng, NGHTTP2_FLAG_NONE, st->id,
                              NGHTTP2_CANCEL);
    conn_mark_dirty(s->c);
    return;
  }
  if (status == 200 && st->pseudo_len[P_METHOD] == 3 &&
      memcmp(st->pseudo[P_METHOD], "GET", 3) == 0)
    pushed_note_validator(s->lp->validators, st->pseudo[P_AUTHORITY],
                          st->pseudo_len[P_AUTHORITY], st->pseudo[P_PATH],
                          st->pseudo_len[P_PATH], hdrs, n);
  /* Upstream caps a response at MAX_RESPONSE_FIELDS fields and 64 KB. */
  nghttp2_nv nv[258];
  char *lower = s->lp->h2_names, *cookie = s->lp->h2_cookie;
  if (n > ARRAY_SIZE(nv) - 3)
    n = ARRAY_SIZE(nv) - 3;
  char code[8];
  snprintf(code, sizeof(code), "%d", status);
  nv[0] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)code, 7,
                       strlen(code), NGHTTP2_NV_FLAG_NONE};
  /* HTTP/2 field names are lower case; HTTP/1.1 backends use any case. */
  char *lp = lower;
  size_t k = 1;
  for (size_t i = 0; i < n; i++) {
    if ((size_t)(lp - lower) + hdrs[i].name_len > sizeof(s->lp->h2_names))
      break;
    for (size_t j = 0; j < hdrs[i].name_len; j++) {
      char ch = hdrs[i].name[j];
      lp[j] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
    }
    nv[k++] = (nghttp2_nv){(uint8_t *)lp, (uint8_t *)hdrs[i].value,
                           hdrs[i].name_len, hdrs[i].value_len,
                           NGHTTP2_NV_FLAG_NONE};
    lp += hdrs[i].name_len;
  }
  /* RFC 9110 7.6.3: a proxy adds itself to Via in both directions. */
  nv[k++] = (nghttp2_nv){(uint8_t *)"via", (uint8_t *)"1.1 herald", 3, 10,
                         NGHTTP2_NV_FLAG_NONE};
  size_t clen;
  if (st->digest != NULL && status < 400 &&
      (clen = pushed_cookie(st->digest, st->pseudo[P_SCHEME][4] == 's',
                            cookie, sizeof(s->lp->h2_cookie))) > 0)
    nv[k++] = (nghttp2_nv){(uint8_t *)"set-cookie", (uint8_t *)cookie, 10,
                           clen, NGHTTP2_NV_FLAG_NONE};
  st->status = status;
  st->resp_started = 1;
  nghttp2_data_provider dp = {.source.ptr = st, .read_callback = read_body};
  int rv = nghttp2_submit_response(s->ng, st->id, nv, k,
                                   head_only ? NULL : &dp);
  if (rv != 0) {
    LOG_WARN("stream %d: cannot submit response: %s", st->id,
             nghttp2_strerror(rv));
    nghttp2_submit_rst_stream(s->ng, NGHTTP2_FLAG_NONE, st->id,
                              NGHTTP2_INTERNAL_ERROR);
  }
  if (head_only) {
    st->resp_eof = 1;
  } else {
    st->data_dp = 1;
    st->send_ms = loop_now(s);
    conn_schedule_tick(s->c, (uint64_t)s->cfg->write_timeout);
  }
  conn_mark_dirty(s->c);
}

static void up_body(void *ud, const uint8_t *p, size_t n) {
  struct h2_stream *st = ud;
  if (st->resp.len == 0)
    st->send_ms = loop_now(st->s); /* waiting for window starts now */
  buf_append(&st->resp, p, n);
  if (st->resp.len >= RESP_HIGH_WATER && st->up != NULL)
    upstream_pause(st->up);
  if (st->deferred) {
    st->deferred = 0;
    nghttp2_session_resume_data(st->s->ng, st->id);
  }
  conn_mark_dirty(st->s->c);
}

static void up_end(void *ud, const struct http_hdr *tr, size_t n) {
  struct h2_stream *st = ud;
  st->up = NULL;
  st->resp_eof = 1;
  for (size_t i = 0; i < n; i++) {
    /* Trailer names go out as HTTP/2 fields: lower-case them. */
    char name[256];
    size_t len = tr[i].name_len < sizeof(name) ? tr[i].name_len : sizeof(name);
    for (size_t j = 0; j < len; j++) {
      char ch = tr[i].name[j];
      name[j] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
    }
    if (http_fields_name(&st->trailers, name, len) != 0 ||
        http_fields_value(&st->trailers, tr[i].value, tr[i].value_len,
                          tr[i].value) != 0)
      break;
  }
  if (st->deferred) {
    st->deferred = 0;
    nghttp2_session_resume_data(st->s->ng, st->id);
  }
  conn_mark_dirty(st->s->c);
}

static void up_error(void *ud, int status, const char *why) {
  struct h2_stream *st = ud;
  struct h2_session *s = st->s;
  st->backend = upstream_backend_name(st->up);
  st->up = NULL;
  s->lp->stats.backend_errors++;
  if (status == 504)
    s->lp->stats.backend_timeouts++;
  if (!st->resp_started) {
    submit_simple(st, status, NULL);
    return;
  }
  /* The head is out: the only honest signal left is a reset, never a
   * clean END_STREAM on a body that was cut short. */
  (void)why;
  nghttp2_submit_rst_stream(s->ng, NGHTTP2_FLAG_NONE, st->id,
                            NGHTTP2_INTERNAL_ERROR);
  conn_mark_dirty(s->c);
}

static void up_body_sent(void *ud, size_t n) {
  struct h2_stream *st = ud;
  nghttp2_session_consume(st->s->ng, st->id, n);
  conn_mark_dirty(st->s->c);
}

/* up_info: a backend's interim response. Only its first 103 matters,
 * and only as hints.h says; 100, 102 and the rest never go on. */
static void up_info(void *ud, int status, const struct http_hdr *hdrs,
                    size_t n) {
  struct h2_stream *st = ud;
  if (status != 103 || st->pushed || st->backend_103)
    return;
  st->backend_103 = 1;
  struct hints_early e;
  if (hints_backend_103(st->s->lp, st->s->cfg, st->recording ? &st->obs : NULL,
                        st->early_ok, st->early_sent,
                        st->pseudo[P_SCHEME][4] == 's', st->pseudo[P_AUTHORITY],
                        st->pseudo_len[P_AUTHORITY], st->pseudo[P_PATH],
                        st->pseudo_len[P_PATH], hdrs, n, &st->declared, &e))
    send_early(st, &e, st->pseudo[P_AUTHORITY], st->pseudo_len[P_AUTHORITY]);
}

static const struct upstream_cb up_cb = {
    .on_info = up_info,
    .on_head = up_head,
    .on_body = up_body,
    .on_end = up_end,
    .on_error = up_error,
    .on_body_sent = up_body_sent,
};

/* ---- requests --------------------------------------------------------- */

static void reject(struct h2_stream *st, int status, const char *why) {
  if (st->reject == 0) {
    st->reject = status;
    st->reject_why = why;
  }
}

/* validate applies herald's request policy on top of nghttp2's checks and
 * fills |req|. Returns 0 or an HTTP status to answer with. */
static int validate(struct h2_stream *st, struct http_req *req,
                    struct http_hdr *hdrs) {
  struct h2_session *s = st->s;
  if (st->reject)
    return st->reject;
  const char *method = st->pseudo[P_METHOD];
  size_t mlen = st->pseudo_len[P_METHOD];
  if (mlen == 7 && memcmp(method, "CONNECT", 7) == 0) {
    st->reject_why = "CONNECT is not supported";
    return 501;
  }
  const char *scheme = conn_is_tls(s->c) ? "https" : "http";
  if (!st->pseudo_seen[P_SCHEME] ||
      !util_strcaseeq(st->pseudo[P_SCHEME], st->pseudo_len[P_SCHEME], scheme)) {
    st->reject_why = ":scheme does not match the connection";
    return 400;
  }
  if (!http_path_valid(st->pseudo[P_PATH], st->pseudo_len[P_PATH],
                       mlen == 7 && memcmp(method, "OPTIONS", 7) == 0)) {
    st->reject_why = "invalid :path";
    return 400;
  }
  http_fields_export(&st->fields, hdrs);
  const struct http_hdr *host = NULL;
  for (size_t i = 0; i < st->fields.n; i++) {
    if (util_strcaseeq(hdrs[i].name, hdrs[i].name_len, "host")) {
      if (host != NULL) {
        st->reject_why = "more than one host field";
        return 400;
      }
      host = &hdrs[i];
    }
  }
  const char *auth = st->pseudo[P_AUTHORITY];
  size_t alen = st->pseudo_len[P_AUTHORITY];
  if (!st->pseudo_seen[P_AUTHORITY]) {
    if (host == NULL) {
      st->reject_why = "no :authority and no host";
      return 400;
    }
    auth = host->value;
    alen = host->value_len;
  } else if (host != NULL &&
             (host->value_len != alen ||
              strncasecmp(host->value, auth, alen) != 0)) {
    st->reject_why = "host differs from :authority";
    return 400;
  }
  if (!http_authority_valid(auth, alen)) {
    st->reject_why = "invalid :authority";
    return 400;
  }
  const struct config *cfg = s->cfg;
  st->forwarded_trusted =
      conn_request_client(s->c, hdrs, st->fields.n, st->client);
  st->have_client = 1;
  if (st->content_length > cfg->max_request_body) {
    st->reject_why = "request body larger than limits.max_request_body";
    return 413;
  }
  *req = (struct http_req){
      .method = method,
      .method_len = mlen,
      .path = st->pseudo[P_PATH],
      .path_len = st->pseudo_len[P_PATH],
      .authority = auth,
      .authority_len = alen,
      .https = conn_is_tls(s->c),
      .version = 20,
      .hdrs = hdrs,
      .nhdrs = st->fields.n,
      .content_length = st->content_length,
      .has_body = !st->headers_end_stream,
      .client_addr = conn_peer(s->c),
      .forwarded_trusted = st->forwarded_trusted,
      .client = st->client,
  };
  return 0;
}

/* push_one promises |e| on the page stream |st| and fetches it from the
 * backend as if the client had asked, with the page request's
 * user-agent, accept-encoding, accept-language and cache-control (never
 * cookies or authorization). Returns 0, or -1 when no more can be pushed
 * on this connection now. */
static int push_one(struct h2_stream *st, const struct http_req *req,
                    const struct ruleset_entry *e) {
  struct h2_session *s = st->s;
  static const char *const copied[] = {"user-agent", "accept-encoding",
                                       "accept-language", "cache-control"};
  nghttp2_nv nv[4 + ARRAY_SIZE(copied)];
  struct http_hdr hdrs[ARRAY_SIZE(copied)];
  size_t n = 0, nh = 0;
  const char *scheme = req->https ? "https" : "http";
  nv[n++] = (nghttp2_nv){(uint8_t *)":method", (uint8_t *)"GET", 7, 3, 0};
  nv[n++] = (nghttp2_nv){(uint8_t *)":scheme", (uint8_t *)scheme, 7,
                         strlen(scheme), 0};
  nv[n++] = (nghttp2_nv){(uint8_t *)":authority", (uint8_t *)req->authority,
                         10, req->authority_len, 0};
  nv[n++] = (nghttp2_nv){(uint8_t *)":path", (uint8_t *)e->path, 5,
                         strlen(e->path), 0};
  for (size_t i = 0; i < req->nhdrs; i++) {
    for (size_t k = 0; k < ARRAY_SIZE(copied); k++) {
      const struct http_hdr *h = &req->hdrs[i];
      if (nh < ARRAY_SIZE(hdrs) &&
          util_strcaseeq(h->name, h->name_len, copied[k])) {
        hdrs[nh++] = *h;
        nv[n++] = (nghttp2_nv){(uint8_t *)copied[k], (uint8_t *)h->value,
                               strlen(copied[k]), h->value_len, 0};
      }
    }
  }
  int32_t id = nghttp2_submit_push_promise(s->ng, NGHTTP2_FLAG_NONE, st->id,
                                           nv, n, NULL);
  if (id < 0) {
    LOG_DEBUG("stream %d: no push of %s: %s", st->id, e->path,
              nghttp2_strerror(id));
    return -1;
  }
  struct h2_stream *ps = stream_new(s, id);
  nghttp2_session_set_stream_user_data(s->ng, id, ps);
  ps->pushed = ps->started = ps->headers_done = 1;
  ps->request_ended = ps->headers_end_stream = 1;
  /* herald's own request for the page's client: the backend is told that
   * client, not whoever relayed the page request. */
  memcpy(ps->client, st->client, sizeof(ps->client));
  ps->have_client = st->have_client;
  char client[CLIENT_TEXT_MAX];
  client_format(ps->client, client, sizeof(client));
  const char *pv[4] = {"GET", e->path, scheme, NULL};
  size_t pl[4] = {3, strlen(e->path), strlen(scheme), req->authority_len};
  for (int i = 0; i < 4; i++) {
    const char *v = i == P_AUTHORITY ? req->authority : pv[i];
    size_t len = pl[i] < sizeof(ps->pseudo[i]) ? pl[i] : sizeof(ps->pseudo[i]) - 1;
    memcpy(ps->pseudo[i], v, len);
    ps->pseudo[i][len] = '\0';
    ps->pseudo_len[i] = len;
    ps->pseudo_seen[i] = 1;
  }
  struct http_req preq = {
      .method = "GET",
      .method_len = 3,
      .path = ps->pseudo[P_PATH],
      .path_len = ps->pseudo_len[P_PATH],
      .authority = req->authority,
      .authority_len = req->authority_len,
      .https = req->https,
      .version = 20,
      .hdrs = hdrs,
      .nhdrs = nh,
      .content_length = -1,
      .has_body = 0,
      .client_addr = client,
      .client = ps->client,
  };
  const struct config *cfg = s->cfg;
  size_t hostlen = http_authority_host_len(req->authority, req->authority_len);
  int backend = route_pick(cfg, req->authority, hostlen, preq.path,
                           preq.path_len);
  if (st->recording) {
    /* What becomes of the push goes to the recorder as OBS_PUSH, tied to
     * the page's stream; the copied user-agent keeps the client token. */
    record_request(&ps->obs, s->c, (uint64_t)st->id, &preq);
    int n = snprintf(ps->obs.referer, sizeof(ps->obs.referer), "%s://%.*s%s",
                     scheme, (int)req->authority_len, req->authority,
                     st->pseudo[P_PATH]);
    if (n < 0 || (size_t)n >= sizeof(ps->obs.referer))
      ps->obs.flags |= OBS_F_TRUNCATED;
    ps->recording = 1;
  }
  ps->up = upstream_start(conn_pool(s->c), backend, &preq, &up_cb, ps);
  s->push_open++;
  s->lp->stats.pushes_promised++;
  return 0;
}

/* record_client_had tells the recorder that the page's resource |e| was
 * not pushed because the browser has it: the page still used it. */
static void record_client_had(struct h2_stream *st, const struct http_req *req,
                              const struct ruleset_entry *e) {
  struct obs o = st->obs; /* the page's: client, connection, stream */
  o.kind = OBS_PUSH;
  o.flags = (st->obs.flags & (OBS_F_TLS | OBS_F_H2)) | OBS_F_CLIENT_HAD;
  o.dest = e->dest;
  o.status = 0;
  o.bytes = 0;
  o.end_ms = o.start_ms;
  o.content_type[0] = '\0';
  snprintf(o.path, sizeof(o.path), "%s", e->path);
  int n = snprintf(o.referer, sizeof(o.referer), "%s://%.*s%s",
                   req->https ? "https" : "http", (int)req->authority_len,
                   req->authority, st->pseudo[P_PATH]);
  if (n < 0 || (size_t)n >= sizeof(o.referer))
    o.flags |= OBS_F_TRUNCATED;
  recorder_post(st->s->lp->recorder, &o);
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
static void push_page(struct h2_stream *st, const struct http_req *req,
                      const struct ruleset_page *p, uint64_t named) {
  struct h2_session *s = st->s;
  uint32_t max_streams = nghttp2_session_get_remote_settings(
      s->ng, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  int64_t window = nghttp2_session_get_remote_window_size(s->ng);
  if (nghttp2_session_get_remote_settings(
          s->ng, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE) == 0)
    window = 0; /* new streams could not send a byte */
  struct digest *d = NULL;
  if (s->cfg->deliver_digest) {
    d = xmalloc(sizeof(*d));
    pushed_read_cookie(d, req);
  }
  size_t before = s->npushed;
  for (size_t i = 0; i < p->n; i++) {
    const struct ruleset_entry *e = &p->entries[i];
    if (i >= 64 || !(named >> i & 1) || !push_path_ok(e->path))
      continue; /* not a push rule, left out to verify it, or unsafe */
    uint64_t h = origin_hash(req->authority, req->authority_len, e->path,
                             strlen(e->path));
    if (in_set(s->pushed, s->npushed, h))
      continue; /* the client has it from an earlier push */
    if (d != NULL && pushed_has(s->lp->validators, d, req->authority,
                                req->authority_len, e->path)) {
      s->lp->stats.pushes_digest_skipped++;
      if (st->recording)
        record_client_had(st, req, e);
      continue; /* pushed on an earlier connection */
    }
    if ((uint32_t)s->push_open >= max_streams || window < (int64_t)e->bytes) {
      s->lp->stats.pushes_skipped++;
      break;
    }
    if (push_one(st, req, e) != 0)
      break;
    window -= e->bytes;
    if (d != NULL)
      pushed_add(s->lp->validators, d, req->authority, req->authority_len,
                 e->path);
    if (s->npushed < ARRAY_SIZE(s->pushed))
      s->pushed[s->npushed++] = h;
  }
  if (d != NULL && s->npushed > before) {
    free(st->digest);
    st->digest = d; /* goes out with the page's response headers */
  } else {
    free(d);
  }
  conn_mark_dirty(s->c);
}

/* deliver pushes a navigation's page rules to a client that takes push,
 * or sends it one 103 Early Hints (see proxy/hints.h). */
static void deliver(struct h2_stream *st, const struct http_req *req) {
  struct h2_session *s = st->s;
  const struct ruleset_page *p = NULL;
  uint64_t named = 0;
  int can_push = nghttp2_session_get_remote_settings(
                     s->ng, NGHTTP2_SETTINGS_ENABLE_PUSH) != 0;
  switch (hints_decide(s->lp, s->cfg, req,
                       st->recording ? &st->obs : NULL, s->c,
                       (uint64_t)st->id, can_push, &p, &named)) {
  case HINTS_PUSH:
    push_page(st, req, p, named);
    return;
  case HINTS_NONE:
    return;
  case HINTS_VERIFY:
    st->early_ok = 0; /* the page alone decides: no backend 103 either */
    return;
  case HINTS_EARLY:
    break;
  }
  struct hints_early e;
  if (hints_compose(p, named, NULL, 0, &e) > 0 &&
      send_early(st, &e, req->authority, req->authority_len))
    s->lp->stats.hints_sent++;
}

static void start_request(struct h2_stream *st) {
  struct h2_session *s = st->s;
  st->started = 1;
  struct http_req req;
  struct http_hdr stack_hdrs[128];
  struct http_hdr *hdrs = st->fields.n <= ARRAY_SIZE(stack_hdrs)
                              ? stack_hdrs
                              : xmalloc(st->fields.n * sizeof(*hdrs));
  s->lp->stats.requests++;
  s->lp->stats.h2_requests++;
  int status = validate(st, &req, hdrs);
  if (status != 0) {
    submit_simple(st, status, st->reject_why);
    if (hdrs != stack_hdrs)
      free(hdrs);
    return;
  }
  const struct config *cfg = s->cfg;
  int urgency = preload_take(s->preloads, req.authority, req.authority_len,
                             req.path, req.path_len);
  if (urgency >= 0) {
    /* A preload this connection's 103 caused: sent in herald's order. */
    nghttp2_extpri pri = {.urgency = (uint32_t)urgency, .inc = 0};
    nghttp2_session_change_extpri_stream_priority(s->ng, st->id, &pri, 1);
  }
  size_t hostlen = http_authority_host_len(req.authority, req.authority_len);
  int backend = route_pick(cfg, req.authority, hostlen, req.path, req.path_len);
  struct recorder *rec = s->lp->recorder;
  if (recorder_enabled(rec)) {
    st->recording = 1;
    record_request(&st->obs, s->c, (uint64_t)st->id, &req);
    if (s->npushed > 0 &&
        in_set(s->pushed, s->npushed,
               origin_hash(req.authority, req.authority_len, req.path,
                           req.path_len))) {
      st->obs.flags |= OBS_F_PUSHED; /* pushed, yet requested again */
      s->lp->stats.pushes_wasted++;
    }
    if (record_maybe_navigation(&st->obs)) {
      st->obs.kind = OBS_NAV_START;
      recorder_post(rec, &st->obs);
    }
  }
  st->early_ok = (uint8_t)hints_may_send(s->cfg, &req,
                                         st->recording ? &st->obs : NULL,
                                         s->c, (uint64_t)st->id);
  st->up = upstream_start(conn_pool(s->c), backend, &req, &up_cb, st);
  /* The request is on its way to the backend; fill its think time. */
  if (s->lp->rules != NULL && st->early_ok)
    deliver(st, &req);
  if (hdrs != stack_hdrs)
    free(hdrs);
  const uint8_t *p;
  size_t k;
  while ((k = buf_peek(&st->early_body, &p)) > 0) {
    upstream_send_body(st->up, p, k);
    buf_consume(&st->early_body, k);
  }
  if (st->request_ended)
    upstream_end_body(st->up);
  if (++s->requests >= (uint64_t)cfg->max_requests_per_conn &&
      !s->goaway_sent) {
    /* Enough for one connection: finish what is open, take no more. */
    nghttp2_submit_goaway(s->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR,
                          NULL, 0);
    s->goaway_sent = 1;
  }
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame,
                            void *user_data) {
  struct h2_session *s = user_data;
  if (frame->hd.type != NGHTTP2_HEADERS ||
      frame->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0;
  struct h2_stream *st = stream_new(s, frame->hd.stream_id);
  nghttp2_session_set_stream_user_data(ng, frame->hd.stream_id, st);
  s->headers_pending++;
  update_timer(s);
  return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame,
                     const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user_data) {
  (void)flags;
  (void)user_data;
  if (frame->hd.type != NGHTTP2_HEADERS)
    return 0;
  struct h2_stream *st =
      nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
  if (st == NULL)
    return 0;
  const struct config *cfg = st->s->cfg;
  if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
    /* Request trailers: HTTP/1.1 chunked trailers would need the body to
     * be chunked; herald drops them (they are optional by definition),
     * but decoding them costs the same as a head. */
    st->trailer_size += namelen + valuelen + 32;
    if (st->trailer_size > (size_t)cfg->max_header_list_size)
      return charge_oversized(st->s, st);
    return 0;
  }
  /* Count everything, store nothing past the cap: HPACK state must stay
   * in sync, but an HPACK bomb must not become memory. */
  st->header_size += namelen + valuelen + 32;
  st->nfields++;
  if (st->header_size > (size_t)cfg->max_header_list_size ||
      st->nfields > (size_t)cfg->max_header_fields) {
    reject(st, 431, "request header fields too large");
    return charge_oversized(st->s, st);
  }
  if (st->reject)
    return 0;
  if (namelen > 0 && name[0] == ':') {
    for (int i = 0; i < 4; i++) {
      if (util_strcaseeq((const char *)name, namelen, pseudo_names[i])) {
        if (valuelen >= sizeof(st->pseudo[i])) {
          reject(st, i == P_PATH ? 414 : 400, "pseudo-header too long");
          return 0;
        }
        memcpy(st->pseudo[i], value, valuelen);
        st->pseudo[i][valuelen] = '\0';
        st->pseudo_len[i] = valuelen;
        st->pseudo_seen[i] = 1;
      }
    }
    return 0;
  }
  if (util_strcaseeq((const char *)name, namelen, "content-length")) {
    char tmp[24];
    if (valuelen == 0 || valuelen >= sizeof(tmp)) {
      reject(st, 400, "bad content-length");
      return 0;
    }
    memcpy(tmp, value, valuelen);
    tmp[valuelen] = '\0';
    st->content_length = strtoll(tmp, NULL, 10);
  }
  if (http_fields_name(&st->fields, (const char *)name, namelen) != 0 ||
      http_fields_value(&st->fields, (const char *)value, valuelen,
                        (const char *)value) != 0)
    reject(st, 400, "invalid header field");
  return 0;
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame,
                         void *user_data) {
  struct h2_session *s = user_data;
  struct h2_stream *st =
      nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
  switch (frame->hd.type) {
  case NGHTTP2_HEADERS:
    if (st == NULL || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
      if (st != NULL && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        st->request_ended = 1;
        if (st->up != NULL)
          upstream_end_body(st->up);
      }
      break;
    }
    s->headers_pending--;
    st->headers_done = 1;
    update_timer(s);
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
      st->request_ended = st->headers_end_stream = 1;
    } else {
      st->body_ms = loop_now(s);
      conn_schedule_tick(s->c, (uint64_t)s->cfg->idle_timeout);
    }
    if (s->nready == s->ready_cap) {
      s->ready_cap = s->ready_cap ? s->ready_cap * 2 : 16;
      s->ready = xrealloc(s->ready, s->ready_cap * sizeof(*s->ready));
    }
    s->ready[s->nready++] = st->id;
    break;
  case NGHTTP2_DATA:
    if (frame->hd.length == 0 && !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
        !bucket_take(&s->glitch, GLITCH_BURST, GLITCH_RATE))
      calm_down(s, "too many empty DATA frames");
    if (st != NULL && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      st->request_ended = 1;
      if (st->up != NULL)
        upstream_end_body(st->up);
    }
    break;
  case NGHTTP2_PRIORITY_UPDATE: /* (PRIORITY: h2_recv counts them) */
    if (!bucket_take(&s->glitch, GLITCH_BURST, GLITCH_RATE))
      calm_down(s, "too many PRIORITY frames");
    break;
  case NGHTTP2_SETTINGS:
  case NGHTTP2_PING:
  case NGHTTP2_WINDOW_UPDATE:
    if (!(frame->hd.flags & NGHTTP2_FLAG_ACK) &&
        !bucket_take(&s->glitch, GLITCH_BURST, GLITCH_RATE))
      calm_down(s, "too many control frames");
    break;
  default:
    break;
  }
  return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id,
                         const uint8_t *data, size_t len, void *user_data) {
  (void)flags;
  (void)user_data;
  struct h2_stream *st = nghttp2_session_get_stream_user_data(ng, id);
  if (st != NULL)
    st->body_ms = loop_now(st->s);
  if (st == NULL || (st->started && st->up == NULL)) {
    /* Nobody will read it: give the window back at once. After a 413 the
     * client may finish its upload (curl reports an error if the stream
     * is reset under it), but only so much: then the stream is reset. */
    nghttp2_session_consume(ng, id, len);
    if (st != NULL && (st->discarded += (int64_t)len) > DISCARD_MAX)
      nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    return 0;
  }
  st->body_received += (int64_t)len;
  if (st->body_received > st->s->cfg->max_request_body) {
    if (st->up != NULL)
      upstream_cancel(st->up);
    st->up = NULL;
    st->started = 1;
    nghttp2_session_consume(ng, id, len);
    if (!st->resp_started) {
      submit_simple(st, 413, "request body larger than limits.max_request_body");
    } else {
      nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    }
    return 0;
  }
  if (st->up == NULL)
    buf_append(&st->early_body, data, len);
  else
    upstream_send_body(st->up, data, len);
  return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id,
                           uint32_t error_code, void *user_data) {
  struct h2_session *s = user_data;
  struct h2_stream *st = nghttp2_session_get_stream_user_data(ng, id);
  if (st == NULL)
    return 0;
  if (!st->headers_done)
    s->headers_pending--;
  if (st->resp_started || error_code != NGHTTP2_NO_ERROR)
    access_log_request(s->c, &(struct access_entry){
        .client = st->have_client ? st->client : NULL,
        .proto = "h2",
        .method = st->pseudo[P_METHOD],
        .authority = st->pseudo[P_AUTHORITY],
        .path = st->pseudo[P_PATH],
        .status = error_code == NGHTTP2_NO_ERROR ? st->status : 0,
        .bytes = st->bytes_sent,
        .ms = util_now_ms() - st->start_ms,
        .backend = st->up ? upstream_backend_name(st->up) : st->backend,
        .fields = &st->fields,
        .hints = st->hints,
        .pushed = st->pushed,
    });
  if (st->status >= 100 && st->status < 600)
    s->lp->stats.responses[st->status / 100]++;
  int cut = error_code != NGHTTP2_NO_ERROR || !st->resp_eof ||
            st->resp.len > 0;
  if (st->pushed) {
    s->push_open--;
    if (error_code == NGHTTP2_CANCEL || error_code == NGHTTP2_REFUSED_STREAM)
      s->lp->stats.pushes_cancelled++;
    else if (!cut)
      s->lp->stats.pushes_completed++;
    s->lp->stats.push_bytes += st->bytes_sent;
  }
  if (st->recording) {
    record_finish(&st->obs, st->bytes_sent, cut);
    if (st->pushed)
      st->obs.kind = OBS_PUSH;
    recorder_post(s->lp->recorder, &st->obs);
  }
  nghttp2_session_set_stream_user_data(ng, id, NULL);
  stream_free(st);
  update_timer(s);
  return 0;
}

static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *frame,
                         void *user_data) {
  struct h2_session *s = user_data;
  if (frame->hd.type == NGHTTP2_RST_STREAM &&
      frame->rst_stream.error_code != NGHTTP2_NO_ERROR &&
      !bucket_take(&s->resets, RESET_BURST, RESET_RATE))
    calm_down(s, "too many streams reset by herald");
  if (frame->hd.type == NGHTTP2_GOAWAY)
    s->goaway_sent = 1;
  if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    struct h2_stream *st =
        nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    if (st != NULL)
      st->end_sent = 1;
  }
  return 0;
}

static int on_invalid_frame(nghttp2_session *ng, const nghttp2_frame *frame,
                            int lib_error, void *user_data) {
  struct h2_session *s = user_data;
  struct h2_stream *st =
      nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
  if (st != NULL) {
    st->invalid = 1;
    if (st->up != NULL) {
      upstream_cancel(st->up);
      st->up = NULL;
    }
  }
  LOG_INFO("conn %llu %s: invalid frame type %d on stream %d: %s",
           (unsigned long long)conn_id(s->c), conn_peer(s->c), frame->hd.type,
           frame->hd.stream_id, nghttp2_strerror(lib_error));
  if (!bucket_take(&s->resets, RESET_BURST, RESET_RATE))
    calm_down(s, "too many invalid frames");
  return 0;
}

/* ---- session ops ------------------------------------------------------ */

/* init_library makes the loop's nghttp2 callbacks and options (read
 * only once made; one set per loop so no thread initialises another's). */
static void init_library(struct loop *lp) {
  nghttp2_session_callbacks *callbacks;
  nghttp2_option *options;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks,
                                                          on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks,
                                                       on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks,
                                                            on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks,
                                                         on_stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(callbacks,
                                                       on_frame_send);
  nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(
      callbacks, on_invalid_frame);
  nghttp2_session_callbacks_set_send_data_callback(callbacks, send_data);
  nghttp2_option_new(&options);
  nghttp2_option_set_no_auto_window_update(options, 1);
  nghttp2_option_set_max_continuations(options, 8);
  nghttp2_option_set_stream_reset_rate_limit(options, 1000, 33);
  nghttp2_option_set_max_deflate_dynamic_table_size(options, 4096);
  nghttp2_option_set_max_outbound_ack(options, 1000);
  nghttp2_option_set_builtin_recv_extension_type(options,
                                                 NGHTTP2_PRIORITY_UPDATE);
  lp->h2_callbacks = callbacks;
  lp->h2_options = options;
}

void *h2_session_new(struct conn *c) {
  struct loop *lp = conn_loop(c);
  if (lp->h2_callbacks == NULL)
    init_library(lp);
  struct h2_session *s = xcalloc(1, sizeof(*s));
  s->c = c;
  s->lp = conn_loop(c);
  s->cfg = conn_config(c);
  framescan_init(&s->scan);
  const struct config *cfg = s->cfg;
  int rv = nghttp2_session_server_new2(&s->ng, lp->h2_callbacks, s,
                                       lp->h2_options);
  if (rv != 0) {
    LOG_ERR("nghttp2_session_server_new2: %s", nghttp2_strerror(rv));
    abort();
  }
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
       (uint32_t)cfg->max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
       (uint32_t)cfg->max_header_list_size},
      /* RFC 9218: nghttp2 then sends what the client said it needs
       * first (its priority field and PRIORITY_UPDATE), whatever the
       * client's own setting. */
      {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
  };
  nghttp2_submit_settings(s->ng, NGHTTP2_FLAG_NONE, iv, ARRAY_SIZE(iv));
  nghttp2_session_set_local_window_size(s->ng, NGHTTP2_FLAG_NONE, 0,
                                        CONN_WINDOW);
  /* Scheduling by urgency only works on what is still in nghttp2. */
  conn_keep_output_shallow(c);
  update_timer(s);
  conn_mark_dirty(c);
  return s;
}

static void h2_produce(void *p);

static int h2_recv(void *p, const uint8_t *data, size_t n) {
  struct h2_session *s = p;
  /* nghttp2 skips PRIORITY frames unseen under RFC 9218 (framescan.h). */
  for (size_t k = framescan_count(&s->scan, data, n, NGHTTP2_PRIORITY);
       k > 0; k--) {
    if (!bucket_take(&s->glitch, GLITCH_BURST, GLITCH_RATE)) {
      calm_down(s, "too many PRIORITY frames");
      break;
    }
  }
  ssize_t rv = nghttp2_session_mem_recv(s->ng, data, n);
  if (rv < 0) {
    if (!s->terminated)
      LOG_INFO("conn %llu %s: HTTP/2: %s", (unsigned long long)conn_id(s->c),
               conn_peer(s->c), nghttp2_strerror((int)rv));
    if (rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC)
      nghttp2_submit_goaway(s->ng, NGHTTP2_FLAG_NONE, 0,
                            NGHTTP2_PROTOCOL_ERROR, NULL, 0);
    else if (!s->goaway_sent)
      nghttp2_session_terminate_session(s->ng, NGHTTP2_PROTOCOL_ERROR);
    /* Serialize the GOAWAY now (a closing conn takes no more frames from
     * the session), then close with lingering once it is sent. */
    s->goaway_sent = 1;
    h2_produce(s);
    conn_close(s->c, 1);
    return 0;
  }
  /* nghttp2 answers some stream errors found in this batch (DATA longer
   * than content-length) with a queued RST_STREAM; sending it now closes
   * those streams before their requests could reach a backend. */
  if (s->nready > 0)
    h2_produce(s);
  for (size_t i = 0; i < s->nready; i++) {
    struct h2_stream *st =
        nghttp2_session_get_stream_user_data(s->ng, s->ready[i]);
    if (st != NULL && !st->started && !st->invalid)
      start_request(st);
  }
  s->nready = 0;
  if (nghttp2_session_get_outbound_queue_size(s->ng) > MAX_OUTBOUND_FRAMES)
    calm_down(s, "outbound queue too long (client not reading)");
  conn_mark_dirty(s->c);
  return 0;
}

static void h2_produce(void *p) {
  struct h2_session *s = p;
  for (;;) {
    while (!conn_write_blocked(s->c)) {
      const uint8_t *data;
      ssize_t n = nghttp2_session_mem_send(s->ng, &data);
      if (n < 0) {
        LOG_INFO("conn %llu: nghttp2_session_mem_send: %s",
                 (unsigned long long)conn_id(s->c), nghttp2_strerror((int)n));
        conn_close(s->c, 0);
        return;
      }
      if (n == 0)
        break;
      conn_write(s->c, data, (size_t)n);
    }
    /* After the client's FIN, whatever nghttp2 could not send now waits
     * for a window that will never open. */
    if (!s->peer_eof || conn_write_blocked(s->c) || reap(s) == 0)
      break;
  }
}

static void h2_writable(void *p) { (void)p; }

static int h2_done(void *p) {
  struct h2_session *s = p;
  if (s->peer_eof && s->nstreams == 0)
    return 1;
  return !nghttp2_session_want_read(s->ng) &&
         !nghttp2_session_want_write(s->ng);
}

static void h2_shutdown(void *p) {
  struct h2_session *s = p;
  if (s->goaway_sent)
    return;
  nghttp2_submit_goaway(s->ng, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(s->ng),
                        NGHTTP2_NO_ERROR, NULL, 0);
  s->goaway_sent = 1;
  conn_mark_dirty(s->c);
}

static void h2_eof(void *p) {
  struct h2_session *s = p;
  /* A client may half-close after its GOAWAY and still read the answers
   * to streams in flight (h2load does); finish those, then close. Streams
   * that need more from the client are reset now (and h2_produce resets
   * those that run out of window later). */
  s->peer_eof = 1;
  reap(s);
  if (s->nstreams == 0)
    conn_close(s->c, 0);
}

static void h2_tick(void *p) { sweep(p); }

static void h2_free(void *p) {
  struct h2_session *s = p;
  while (s->streams != NULL)
    stream_free(s->streams);
  nghttp2_session_del(s->ng);
  free(s->ready);
  preload_free(s->preloads);
  free(s);
}

const struct session_ops h2_session_ops = {
    .recv = h2_recv,
    .produce = h2_produce,
    .writable = h2_writable,
    .done = h2_done,
    .shutdown = h2_shutdown,
    .eof = h2_eof,
    .tick = h2_tick,
    .free = h2_free,
};
