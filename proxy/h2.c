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
 * What a stream does with its request and response is h2_stream.c's
 * (and its exchange's: proxy/exchange.h); this file is the connection:
 * nghttp2's callbacks and the session ops conn.c calls. */
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
#include "proxy/conn.h"
#include "proxy/exchange.h"
#include "proxy/h2_mem.h"
#include "proxy/h2_stream.h"
#include "proxy/preload.h"
#include "proxy/loop.h"
#include "proxy/session.h"

#define STREAM_WINDOW (256 * 1024)
#define CONN_WINDOW (1024 * 1024)
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


static const char *const pseudo_names[] = {":method", ":path", ":scheme",
                                           ":authority"};

/* ---- small helpers ---------------------------------------------------- */

/* pseudo_index: which of pseudo_names |name| is, -1 for none; told apart
 * by length (and :method from :scheme by a letter) before one compare. */
static int pseudo_index(const char *name, size_t len) {
  int i;
  switch (len) {
  case 5:
    i = H2_P_PATH;
    break;
  case 7:
    i = (name[1] | 0x20) == 'm' ? H2_P_METHOD : H2_P_SCHEME;
    break;
  case 10:
    i = H2_P_AUTHORITY;
    break;
  default:
    return -1;
  }
  /* nghttp2 lets only lower-case names through (RFC 9113 8.2.1). */
  return memcmp(name, pseudo_names[i], len) == 0 ? i : -1;
}

static int bucket_charge(struct h2_bucket *b, double burst, double rate,
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

static int bucket_take(struct h2_bucket *b, double burst, double rate) {
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
void h2_update_timer(struct h2_session *s) {
  const struct config *cfg = s->cfg;
  conn_set_idle(s->c, s->headers_pending == 0 && s->nstreams == 0);
  if (s->headers_pending > 0)
    conn_set_timeout(s->c, (uint64_t)cfg->header_timeout, "request header");
  else if (s->nstreams == 0)
    conn_set_timeout(s->c, (uint64_t)cfg->idle_timeout, "idle");
  else
    conn_set_timeout(s->c, 0, NULL);
}

/* ---- nghttp2 callbacks ------------------------------------------------ */

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame,
                            void *user_data) {
  struct h2_session *s = user_data;
  if (frame->hd.type != NGHTTP2_HEADERS ||
      frame->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0;
  struct h2_stream *st = h2_stream_new(s, frame->hd.stream_id);
  nghttp2_session_set_stream_user_data(ng, frame->hd.stream_id, st);
  s->decoding = st;
  s->headers_pending++;
  h2_update_timer(s);
  return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame,
                     const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user_data) {
  (void)flags;
  struct h2_session *s = user_data;
  if (frame->hd.type != NGHTTP2_HEADERS)
    return 0;
  struct h2_stream *st = s->decoding;
  if (st == NULL || st->id != frame->hd.stream_id)
    st = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
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
    h2_stream_reject(st, 431, "request header fields too large");
    return charge_oversized(st->s, st);
  }
  if (st->reject)
    return 0;
  if (namelen > 0 && name[0] == ':') {
    int i = pseudo_index((const char *)name, namelen);
    if (i >= 0) {
      if (valuelen >= sizeof(st->pseudo[i])) {
        h2_stream_reject(st, i == H2_P_PATH ? 414 : 400,
                         "pseudo-header too long");
        return 0;
      }
      memcpy(st->pseudo[i], value, valuelen);
      st->pseudo[i][valuelen] = '\0';
      st->pseudo_len[i] = valuelen;
      st->pseudo_seen[i] = 1;
    }
    return 0;
  }
  if (namelen == 14 && memcmp(name, "content-length", 14) == 0) {
    char tmp[24];
    if (valuelen == 0 || valuelen >= sizeof(tmp)) {
      h2_stream_reject(st, 400, "bad content-length");
      return 0;
    }
    memcpy(tmp, value, valuelen);
    tmp[valuelen] = '\0';
    st->content_length = strtoll(tmp, NULL, 10);
  }
  if (http_fields_name(&st->fields, (const char *)name, namelen) != 0 ||
      http_fields_value(&st->fields, (const char *)value, valuelen,
                        (const char *)value) != 0)
    h2_stream_reject(st, 400, "invalid header field");
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
        exchange_end_body(&st->x);
      }
      break;
    }
    s->headers_pending--;
    st->headers_done = 1;
    h2_update_timer(s);
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
      st->request_ended = st->headers_end_stream = 1;
    } else {
      st->body_ms = h2_loop_now(s);
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
      exchange_end_body(&st->x);
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
    st->body_ms = h2_loop_now(st->s);
  if (st == NULL || (st->started && !exchange_busy(&st->x))) {
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
    exchange_cancel(&st->x);
    st->started = 1;
    nghttp2_session_consume(ng, id, len);
    if (!st->resp_started) {
      h2_stream_simple(st, 413,
                       "request body larger than limits.max_request_body");
    } else {
      nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    }
    return 0;
  }
  if (!st->started)
    buf_append(&st->early_body, data, len);
  else
    exchange_send_body(&st->x, data, len);
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
  exchange_close(&st->x, &(struct exchange_outcome){
      .status = error_code == NGHTTP2_NO_ERROR ? st->x.status : 0,
      .cut = error_code != NGHTTP2_NO_ERROR || !st->resp_eof ||
             st->resp.len > 0,
      .cancelled = error_code == NGHTTP2_CANCEL ||
                   error_code == NGHTTP2_REFUSED_STREAM,
      .quiet = !st->resp_started && error_code == NGHTTP2_NO_ERROR,
  });
  nghttp2_session_set_stream_user_data(ng, id, NULL);
  h2_stream_free(st);
  h2_update_timer(s);
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
    exchange_cancel(&st->x);
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
  nghttp2_session_callbacks_set_send_data_callback(callbacks,
                                                   h2_stream_send_data);
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
  lp->h2_mem = h2_mem_new();
}

void h2_loop_cleanup(struct loop *lp) {
  h2_stream_cache_free(lp);
  nghttp2_session_callbacks_del(lp->h2_callbacks);
  lp->h2_callbacks = NULL;
  nghttp2_option_del(lp->h2_options);
  lp->h2_options = NULL;
  h2_mem_free(lp->h2_mem);
  lp->h2_mem = NULL;
}

void *h2_session_new(struct conn *c) {
  struct loop *lp = conn_loop(c);
  if (lp->h2_callbacks == NULL)
    init_library(lp);
  struct h2_session *s = xcalloc(1, sizeof(*s));
  s->c = c;
  s->lp = lp;
  s->cfg = conn_config(c);
  framescan_init(&s->scan);
  const struct config *cfg = s->cfg;
  int rv = nghttp2_session_server_new3(&s->ng, lp->h2_callbacks, s,
                                       lp->h2_options,
                                       h2_mem_nghttp2(lp->h2_mem));
  if (rv != 0) {
    LOG_ERR("nghttp2_session_server_new3: %s", nghttp2_strerror(rv));
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
  h2_update_timer(s);
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
      h2_stream_start(st);
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
    if (!s->peer_eof || conn_write_blocked(s->c) || h2_stream_reap(s) == 0)
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
  h2_stream_reap(s);
  if (s->nstreams == 0)
    conn_close(s->c, 0);
}

static void h2_tick(void *p) { h2_stream_sweep(p); }

static void h2_free(void *p) {
  struct h2_session *s = p;
  while (s->streams != NULL)
    h2_stream_free(s->streams);
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
