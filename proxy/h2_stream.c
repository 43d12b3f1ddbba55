/* h2_stream.c: one HTTP/2 stream: its request handed to an exchange,
 * the exchange's sink, and the stream's lifetime (see h2_stream.h).
 *
 * Response bodies wait in the stream's chunk queue and are framed with
 * NGHTTP2_DATA_FLAG_NO_COPY. A run of body bytes of at least SLICE_MIN
 * stays in the backend's read slab: the queue holds a slice of it (buf.h)
 * and the frames' payloads go to the socket from there, uncopied
 * (conn_write_frame: over cleartext in one writev after a copied 9-byte
 * header, over TLS encrypted with the header written before them in the
 * slab). Shorter runs are copied into the queue, whose chunks keep 9
 * bytes of headroom; a DATA frame takes at most one chunk, so a frame
 * that takes a chunk whole gets its header written in place and the chunk
 * moves into the output (conn_write_frames), over TLS too, where header
 * and payload then fill one record. */
#include "proxy/h2_stream.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/http.h"
#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "proxy/conn.h"
#include "proxy/hints.h"
#include "proxy/loop.h"
#include "proxy/preload.h"
#include "proxy/session.h"

/* A stream's queue pauses the backend read at this mark and resumes it
 * below half of it. 128 KB let a 100 KB asset through without a pause
 * (each pause and resume costs an epoll_ctl) but cost more than the
 * calls: under h2load -c 100 -m 10 with 100 KB answers over h2c, 32 KB
 * took 54 CPU us/request where 128 KB took 71 (other A/Bs against 128 KB:
 * 16 KB took 0.87 of its cost, 64 KB 0.99; TLS 100 KB even at 0.99), as
 * every stream in flight then holds its whole answer, and herald's
 * copies and writes run over a working set several times the cache. A
 * stream holds at most this plus one backend read. */
#define RESP_HIGH_WATER (32 * 1024)
/* Body runs this long are kept as slices of the backend's read slab
 * (64 KB) instead of copied: a slice pins its whole slab, so shorter runs,
 * which would pin much for little, are copied. The last read of a
 * response is often a short one (36 KB of a 100 KB body): copied, it
 * takes three 16 KB chunks and leaves the slab to the next read; sliced,
 * it held a 64 KB slab per response in flight (+15 % peak RSS under
 * h2load -c 100 -m 10 with 100 KB responses, measured). */
#define SLICE_MIN (40 * 1024)
/* A read brings at most one slice, and a slice alone fills the queue to
 * the mark, so the backend pauses after each read that brings one and
 * resumes only once the queue is under half the mark: a queue holds at
 * most two slices (one partly sent, the next read's), and a stream pins
 * at most two slabs. */
_Static_assert(2 * SLICE_MIN > BUF_SLAB_READ, "one slice per read");
_Static_assert(SLICE_MIN >= RESP_HIGH_WATER,
               "a slice pauses the backend by itself");

static const struct exchange_sink sink;

/* ---- stream lifetimes ------------------------------------------------ */

/* A stream's client side can stall it two ways while the connection
 * lives: by never finishing its request body, or by never opening the
 * window for its response. Each stream records its last progress; one
 * tick per connection (conn_schedule_tick) sweeps them and resets those
 * past timeouts.idle (body) or timeouts.write (window), releasing their
 * backend exchange. A client that closed its side (FIN) can do neither
 * any more: such streams are reset at once (reap). */

uint64_t h2_loop_now(const struct h2_session *s) {
  return uv_now(s->lp->uv);
}

/* body_waiting: the request body is still to come from the client. */
static int body_waiting(const struct h2_stream *st) {
  return !st->request_ended && !st->x.pushed;
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
  exchange_cancel(&st->x);
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
void h2_stream_sweep(struct h2_session *s) {
  const struct config *cfg = s->cfg;
  struct loop_stats *stats = &s->lp->stats;
  uint64_t now = h2_loop_now(s), next = UINT64_MAX;
  uint64_t body_ms = (uint64_t)cfg->idle_timeout;
  uint64_t send_ms = (uint64_t)cfg->write_timeout;
  for (struct h2_stream *st = s->streams; st != NULL; st = st->next) {
    if (st->reset || !st->headers_done)
      continue; /* the header timer covers an unfinished head */
    if (body_waiting(st)) {
      /* Body bytes herald has yet to hand to the backend hold the
       * window shut: that wait is the backend's (backend_read). */
      if (exchange_body_pending(&st->x) > 0)
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
int h2_stream_reap(struct h2_session *s) {
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
#define STREAM_FREE_MAX 1024

void h2_stream_cache_free(struct loop *lp) {
  while (lp->h2_free != NULL) {
    struct h2_stream *st = lp->h2_free;
    lp->h2_free = st->next;
    http_fields_cleanup(&st->fields);
    http_fields_cleanup(&st->trailers);
    free(st);
  }
  lp->h2_nfree = 0;
}

static struct h2_stream *stream_alloc(struct loop *lp) {
  struct h2_stream *st = lp->h2_free;
  if (st == NULL)
    return xcalloc(1, sizeof(*st));
  lp->h2_free = st->next;
  lp->h2_nfree--;
  struct http_fields f = st->fields, t = st->trailers;
  /* The pseudo-header buffers are overwritten before use, and the
   * exchange is exchange_init's (which leaves its obs to the recording):
   * clear only the fields around them. */
  memset(st, 0, offsetof(struct h2_stream, pseudo));
  memset(&st->pseudo_len, 0,
         offsetof(struct h2_stream, x) -
             offsetof(struct h2_stream, pseudo_len));
  for (int i = 0; i < 4; i++)
    st->pseudo[i][0] = '\0';
  st->fields = f;
  st->trailers = t;
  http_fields_reset(&st->fields);
  http_fields_reset(&st->trailers);
  return st;
}

struct h2_stream *h2_stream_new(struct h2_session *s, int32_t id) {
  const struct config *cfg = s->cfg;
  struct h2_stream *st = stream_alloc(s->lp);
  st->s = s;
  st->id = id;
  st->content_length = -1;
  exchange_init(&st->x, s->c, &sink, st);
  st->x.proto = "h2";
  st->x.version = 20;
  st->x.id = (uint64_t)id;
  st->x.method = st->pseudo[H2_P_METHOD];
  st->x.path = st->pseudo[H2_P_PATH];
  st->x.authority = st->pseudo[H2_P_AUTHORITY];
  st->x.fields = &st->fields;
  st->x.push = &s->push;
  st->fields.max_size = (size_t)cfg->max_header_list_size;
  st->fields.max_fields = (size_t)cfg->max_header_fields;
  st->trailers.max_size = 65536;
  st->trailers.max_fields = 100;
  buf_init(&st->resp, &s->lp->bufs);
  buf_set_headroom(&st->resp, 9); /* a DATA frame's header */
  buf_set_small_first(&st->resp); /* a small answer may wait for a window */
  buf_init(&st->early_body, &s->lp->bufs);
  st->next = s->streams;
  if (s->streams)
    s->streams->prev = st;
  s->streams = st;
  s->nstreams++;
  s->lp->stats.h2_streams_active++;
  return st;
}

void h2_stream_free(struct h2_stream *st) {
  struct h2_session *s = st->s;
  if (s->decoding == st)
    s->decoding = NULL;
  exchange_cleanup(&st->x);
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
  /* One frame per chunk at most: a frame that takes its chunk whole gets
   * its header written in the chunk's headroom and the chunk moves
   * (h2_stream_send_data). */
  const uint8_t *head;
  size_t n = buf_peek(&st->resp, &head);
  if (n > length)
    n = length;
  /* A frame fits one 16 KB TLS record with its header (a slice may be
   * longer than a chunk). */
  if (n > BUF_CHUNK_SIZE - 9)
    n = BUF_CHUNK_SIZE - 9;
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

int h2_stream_send_data(nghttp2_session *ng, nghttp2_frame *frame,
                     const uint8_t *framehd, size_t length,
                     nghttp2_data_source *src, void *user_data) {
  (void)ng;
  struct h2_session *s = user_data;
  struct h2_stream *st = src->ptr;
  if (conn_write_blocked(s->c))
    return NGHTTP2_ERR_WOULDBLOCK;
  const uint8_t *head;
  if (length >= BUF_MOVE_MIN && buf_peek(&st->resp, &head) == length &&
      buf_prepend(&st->resp, framehd, 9)) {
    /* The frame is its chunk: header and payload move as one run, over
     * TLS too, where they then fill one record. (Smaller frames are
     * copied whichever way.) */
    conn_write_frames(s->c, &st->resp, 9 + length);
  } else {
    conn_write_frame(s->c, framehd, 9, &st->resp, length);
  }
  (void)frame;
  exchange_sent(&st->x, length);
  st->send_ms = h2_loop_now(s);
  /* Below half the high-water mark the backend may send again. */
  if (st->resp.len < RESP_HIGH_WATER / 2)
    exchange_resume(&st->x);
  return 0;
}

void h2_stream_simple(struct h2_stream *st, int status, const char *why) {
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
  st->send_ms = h2_loop_now(s);
  conn_schedule_tick(s->c, (uint64_t)s->cfg->write_timeout);
  st->x.status = status;
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
 * of |e|. Returns 1 when it went out. */
/* ---- the exchange's sink ------------------------------------------------ */

/* sink_early sends the stream's 103 Early Hints with the Link fields of
 * |e|. */
static int sink_early(void *ud, const struct hints_early *e) {
  struct h2_stream *st = ud;
  struct h2_session *s = st->s;
  nghttp2_nv nv[HINTS_LINKS_MAX + 1];
  nv[0] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)"103", 7, 3,
                       NGHTTP2_NV_FLAG_NONE};
  for (size_t i = 0; i < e->n; i++)
    nv[i + 1] = (nghttp2_nv){(uint8_t *)"link", (uint8_t *)e->link[i], 4,
                             e->len[i], NGHTTP2_NV_FLAG_NONE};
  int rv = nghttp2_submit_headers(s->ng, NGHTTP2_FLAG_NONE, st->id, NULL, nv,
                                  e->n + 1, NULL);
  if (rv != 0) {
    LOG_DEBUG("stream %d: cannot send 103: %s", st->id, nghttp2_strerror(rv));
    return -1;
  }
  /* What it names is then sent in this order (preload.h). Ordering by
   * urgency only works on what is still in nghttp2, so from the first
   * 103 on the connection keeps its output shallow; one that never sends
   * a 103 (an API client, a benchmark) keeps the full write buffer, which
   * costs 14-28% less CPU per 100 KB response. */
  if (s->preloads == NULL)
    conn_keep_output_shallow(s->c);
  for (size_t i = 0; i < e->n; i++)
    preload_note(&s->preloads, st->x.req_authority, st->x.req_alen,
                 e->link[i], e->len[i], e->rank[i], i);
  conn_mark_dirty(s->c);
  return 0;
}

/* lower_nv appends |n| fields to |nv| with their names lower-cased into
 * |*lp| (HTTP/2 field names are lower case; HTTP/1.1 backends use any
 * case), while |lower| (|cap| bytes) has room. */
static size_t lower_nv(nghttp2_nv *nv, size_t k, const struct http_hdr *h,
                       size_t n, char *lower, size_t cap, char **lp) {
  for (size_t i = 0; i < n; i++) {
    if ((size_t)(*lp - lower) + h[i].name_len > cap)
      break;
    util_lower_copy(*lp, h[i].name, h[i].name_len);
    nv[k++] = (nghttp2_nv){(uint8_t *)*lp, (uint8_t *)h[i].value,
                           h[i].name_len, h[i].value_len,
                           NGHTTP2_NV_FLAG_NONE};
    *lp += h[i].name_len;
  }
  return k;
}

static void sink_head(void *ud, int status, const struct http_hdr *hdrs,
                      size_t n, const struct http_hdr *extra, size_t nextra,
                      int64_t content_length, int bodyless) {
  struct h2_stream *st = ud;
  struct h2_session *s = st->s;
  (void)content_length;
  /* Upstream caps a response at MAX_RESPONSE_FIELDS fields and 64 KB. */
  nghttp2_nv nv[258];
  char *lower = s->lp->h2_names;
  size_t cap = sizeof(s->lp->h2_names);
  if (n > ARRAY_SIZE(nv) - 1 - nextra)
    n = ARRAY_SIZE(nv) - 1 - nextra;
  /* Upstream passes 200..599 only (1xx go through sink_info). */
  char code[3] = {(char)('0' + status / 100), (char)('0' + status / 10 % 10),
                  (char)('0' + status % 10)};
  nv[0] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)code, 7, 3,
                       NGHTTP2_NV_FLAG_NONE};
  char *lp = lower;
  /* herald's own fields (short names) always fit after the backend's. */
  size_t k = lower_nv(nv, 1, hdrs, n, lower, cap - 64, &lp);
  k = lower_nv(nv, k, extra, nextra, lower, cap, &lp);
  st->resp_started = 1;
  nghttp2_data_provider dp = {.source.ptr = st, .read_callback = read_body};
  int rv = nghttp2_submit_response(s->ng, st->id, nv, k,
                                   bodyless ? NULL : &dp);
  if (rv != 0) {
    LOG_WARN("stream %d: cannot submit response: %s", st->id,
             nghttp2_strerror(rv));
    nghttp2_submit_rst_stream(s->ng, NGHTTP2_FLAG_NONE, st->id,
                              NGHTTP2_INTERNAL_ERROR);
  }
  if (bodyless) {
    st->resp_eof = 1;
  } else {
    st->data_dp = 1;
    st->send_ms = h2_loop_now(s);
    conn_schedule_tick(s->c, (uint64_t)s->cfg->write_timeout);
  }
  conn_mark_dirty(s->c);
}

static void resume_data(struct h2_stream *st) {
  if (st->deferred) {
    st->deferred = 0;
    nghttp2_session_resume_data(st->s->ng, st->id);
  }
  conn_mark_dirty(st->s->c);
}

static void sink_body(void *ud, const uint8_t *p, size_t n) {
  struct h2_stream *st = ud;
  if (st->resp.len == 0)
    st->send_ms = h2_loop_now(st->s); /* waiting for window starts now */
  struct buf_slab *slab = st->s->lp->backend_slab;
  if (n >= SLICE_MIN && slab != NULL && buf_slab_holds(slab, p, n))
    buf_append_slice(&st->resp, slab, p, n);
  else
    buf_append(&st->resp, p, n);
  if (st->resp.len >= RESP_HIGH_WATER)
    exchange_pause(&st->x);
  resume_data(st);
}

static void sink_end(void *ud, const struct http_hdr *tr, size_t n) {
  struct h2_stream *st = ud;
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
  resume_data(st);
}

static void sink_error(void *ud, int status) {
  struct h2_stream *st = ud;
  struct h2_session *s = st->s;
  if (!st->resp_started) {
    h2_stream_simple(st, status, NULL);
    return;
  }
  /* The head is out: the only honest signal left is a reset, never a
   * clean END_STREAM on a body that was cut short. */
  nghttp2_submit_rst_stream(s->ng, NGHTTP2_FLAG_NONE, st->id,
                            NGHTTP2_INTERNAL_ERROR);
  conn_mark_dirty(s->c);
}

static void sink_body_sent(void *ud, size_t n) {
  struct h2_stream *st = ud;
  nghttp2_session_consume(st->s->ng, st->id, n);
  conn_mark_dirty(st->s->c);
}

static void sink_reset(void *ud) {
  struct h2_stream *st = ud;
  nghttp2_submit_rst_stream(st->s->ng, NGHTTP2_FLAG_NONE, st->id,
                            NGHTTP2_CANCEL);
  conn_mark_dirty(st->s->c);
}

static int sink_push_room(void *ud, uint32_t *streams, int64_t *window) {
  struct h2_stream *st = ud;
  nghttp2_session *ng = st->s->ng;
  if (streams != NULL)
    *streams = nghttp2_session_get_remote_settings(
        ng, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  if (window != NULL) {
    *window = nghttp2_session_get_remote_window_size(ng);
    if (nghttp2_session_get_remote_settings(
            ng, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE) == 0)
      *window = 0; /* new streams could not send a byte */
  }
  return nghttp2_session_get_remote_settings(
             ng, NGHTTP2_SETTINGS_ENABLE_PUSH) != 0;
}

/* sink_promise sends the PUSH_PROMISE of |preq| on the page's stream and
 * opens the pushed stream, its request complete. */
static struct exchange *sink_promise(void *ud, const struct http_req *preq) {
  struct h2_stream *st = ud;
  struct h2_session *s = st->s;
  nghttp2_nv nv[8];
  size_t n = 0;
  const char *scheme = preq->https ? "https" : "http";
  const char *pv[4] = {preq->method, preq->path, scheme, preq->authority};
  size_t pl[4] = {preq->method_len, preq->path_len, strlen(scheme),
                  preq->authority_len};
  static const char *const names[4] = {":method", ":path", ":scheme",
                                       ":authority"};
  for (int i = 0; i < 4; i++)
    nv[n++] = (nghttp2_nv){(uint8_t *)names[i], (uint8_t *)pv[i],
                           strlen(names[i]), pl[i], NGHTTP2_NV_FLAG_NONE};
  for (size_t i = 0; i < preq->nhdrs && n < ARRAY_SIZE(nv); i++)
    nv[n++] = (nghttp2_nv){(uint8_t *)preq->hdrs[i].name,
                           (uint8_t *)preq->hdrs[i].value,
                           preq->hdrs[i].name_len, preq->hdrs[i].value_len,
                           NGHTTP2_NV_FLAG_NONE};
  int32_t id = nghttp2_submit_push_promise(s->ng, NGHTTP2_FLAG_NONE, st->id,
                                           nv, n, NULL);
  if (id < 0) {
    LOG_DEBUG("stream %d: no push of %.*s: %s", st->id, (int)preq->path_len,
              preq->path, nghttp2_strerror(id));
    return NULL;
  }
  struct h2_stream *ps = h2_stream_new(s, id);
  nghttp2_session_set_stream_user_data(s->ng, id, ps);
  ps->started = ps->headers_done = 1;
  ps->request_ended = ps->headers_end_stream = 1;
  for (int i = 0; i < 4; i++) {
    size_t len = pl[i] < sizeof(ps->pseudo[i]) ? pl[i]
                                               : sizeof(ps->pseudo[i]) - 1;
    memcpy(ps->pseudo[i], pv[i], len);
    ps->pseudo[i][len] = '\0';
    ps->pseudo_len[i] = len;
    ps->pseudo_seen[i] = 1;
  }
  ps->x.path_len = ps->pseudo_len[H2_P_PATH];
  conn_mark_dirty(s->c);
  return &ps->x;
}

static const struct exchange_sink sink = {
    .head = sink_head,
    .body = sink_body,
    .end = sink_end,
    .error = sink_error,
    .early = sink_early,
    .body_sent = sink_body_sent,
    .reset = sink_reset,
    .push_room = sink_push_room,
    .promise = sink_promise,
};

/* ---- requests --------------------------------------------------------- */

/* ---- requests --------------------------------------------------------- */

void h2_stream_reject(struct h2_stream *st, int status, const char *why) {
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
  const char *method = st->pseudo[H2_P_METHOD];
  size_t mlen = st->pseudo_len[H2_P_METHOD];
  if (mlen == 7 && memcmp(method, "CONNECT", 7) == 0) {
    st->reject_why = "CONNECT is not supported";
    return 501;
  }
  const char *scheme = conn_is_tls(s->c) ? "https" : "http";
  if (!st->pseudo_seen[H2_P_SCHEME] ||
      !util_strcaseeq(st->pseudo[H2_P_SCHEME], st->pseudo_len[H2_P_SCHEME],
                      scheme)) {
    st->reject_why = ":scheme does not match the connection";
    return 400;
  }
  if (!http_path_valid(st->pseudo[H2_P_PATH], st->pseudo_len[H2_P_PATH],
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
  const char *auth = st->pseudo[H2_P_AUTHORITY];
  size_t alen = st->pseudo_len[H2_P_AUTHORITY];
  if (!st->pseudo_seen[H2_P_AUTHORITY]) {
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
  int trusted = conn_request_client(s->c, hdrs, st->fields.n, st->x.client);
  st->x.have_client = 1;
  if (st->content_length > cfg->max_request_body) {
    st->reject_why = "request body larger than limits.max_request_body";
    return 413;
  }
  *req = (struct http_req){
      .method = method,
      .method_len = mlen,
      .path = st->pseudo[H2_P_PATH],
      .path_len = st->pseudo_len[H2_P_PATH],
      .authority = auth,
      .authority_len = alen,
      .https = conn_is_tls(s->c),
      .version = 20,
      .hdrs = hdrs,
      .nhdrs = st->fields.n,
      .content_length = st->content_length,
      .has_body = !st->headers_end_stream,
      .client_addr = conn_peer(s->c),
      .forwarded_trusted = trusted,
      .client = st->x.client,
  };
  return 0;
}


void h2_stream_start(struct h2_stream *st) {
  struct h2_session *s = st->s;
  st->started = 1;
  struct http_req req;
  struct http_hdr stack_hdrs[128];
  struct http_hdr *hdrs = st->fields.n <= ARRAY_SIZE(stack_hdrs)
                              ? stack_hdrs
                              : xmalloc(st->fields.n * sizeof(*hdrs));
  exchange_count(&st->x);
  int status = validate(st, &req, hdrs);
  if (status != 0) {
    h2_stream_simple(st, status, st->reject_why);
    if (hdrs != stack_hdrs)
      free(hdrs);
    return;
  }
  st->x.path_len = st->pseudo_len[H2_P_PATH];
  int urgency = preload_take(s->preloads, req.authority, req.authority_len,
                             req.path, req.path_len);
  if (urgency >= 0) {
    /* A preload this connection's 103 caused: sent in herald's order. */
    nghttp2_extpri pri = {.urgency = (uint32_t)urgency, .inc = 0};
    nghttp2_session_change_extpri_stream_priority(s->ng, st->id, &pri, 1);
  }
  exchange_start(&st->x, &req);
  if (hdrs != stack_hdrs)
    free(hdrs);
  const uint8_t *p;
  size_t k;
  while ((k = buf_peek(&st->early_body, &p)) > 0) {
    exchange_send_body(&st->x, p, k);
    buf_consume(&st->early_body, k);
  }
  if (st->request_ended)
    exchange_end_body(&st->x);
  if (++s->requests >= (uint64_t)s->cfg->max_requests_per_conn &&
      !s->goaway_sent) {
    /* Enough for one connection: finish what is open, take no more. */
    nghttp2_submit_goaway(s->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR,
                          NULL, 0);
    s->goaway_sent = 1;
  }
}
