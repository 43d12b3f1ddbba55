/* h2_stream.h: the streams of an HTTP/2 front session (h2.c).
 *
 * What it owns. h2.c is the connection: nghttp2's callbacks, the
 * connection-wide limits (glitch and reset budgets, the request cap,
 * timers) and the session ops conn.c calls. h2_stream.c is what happens
 * on one stream: its request head checked and handed to its exchange
 * (proxy/exchange.h), the exchange's sink (response head, body queued
 * for DATA frames, 103, PUSH_PROMISE, simple error responses, resets),
 * and the stream lifetimes (a stalled request body or window resets the
 * stream). Both files share the two structs below; nothing else
 * includes this header. Loop thread only. */
#ifndef PROXY_H2_STREAM_H
#define PROXY_H2_STREAM_H

#include <nghttp2/nghttp2.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/http.h"
#include "proxy/exchange.h"
#include "proxy/framescan.h"
#include "proxy/push.h"

struct preload_set;

/* A token bucket (cheap frames, resets herald sends). */
struct h2_bucket {
  double tokens;
  uint64_t last_ms;
};

enum { H2_P_METHOD, H2_P_PATH, H2_P_SCHEME, H2_P_AUTHORITY };

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
  int started;                 /* the exchange has been started */
  int invalid;                 /* nghttp2 is resetting it: never start */
  int reset;                   /* herald reset it (timeout, client gone) */
  int64_t discarded;           /* upload bytes dropped after a 413 */
  struct buf early_body;       /* DATA that arrived before the start */

  struct buf resp;
  int resp_started, resp_eof, deferred;
  int data_dp;                 /* the response has a body to frame */
  int end_sent;                /* END_STREAM went out */
  /* Loop times of the last progress, for the stream timeouts (see
   * h2_stream_sweep): request body bytes in, response bytes out. */
  uint64_t body_ms, send_ms;
  struct http_fields trailers;
  struct exchange x; /* the request (or push) and its response; last:
                        stream_alloc clears what comes before it */
};

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
  struct push_conn push; /* what was pushed on this connection */
  struct preload_set *preloads; /* what its 103s named (proxy/preload.h);
                                   NULL: none */
  struct framescan scan;        /* PRIORITY frames nghttp2 skips unseen */
  struct h2_bucket glitch, resets;
  /* The stream whose header block is being decoded (NULL: none): its
   * fields arrive one callback each, without a lookup per field. */
  struct h2_stream *decoding;
};

/* h2_stream_new opens stream |id| of |s|; h2_stream_free closes it (its
 * exchange cleaned up, not logged). */
struct h2_stream *h2_stream_new(struct h2_session *s, int32_t id);
void h2_stream_free(struct h2_stream *st);

/* h2_stream_reject notes the first reason to answer |status| instead of
 * proxying the request. */
void h2_stream_reject(struct h2_stream *st, int status, const char *why);

/* h2_stream_start checks the complete request head and starts the
 * stream's exchange (or answers the rejection). */
void h2_stream_start(struct h2_stream *st);

/* h2_stream_simple answers with a short text response. */
void h2_stream_simple(struct h2_stream *st, int status, const char *why);

/* h2_stream_send_data is nghttp2's send_data callback (NO_COPY DATA). */
int h2_stream_send_data(nghttp2_session *ng, nghttp2_frame *frame,
                        const uint8_t *framehd, size_t length,
                        nghttp2_data_source *src, void *user_data);

/* Stream lifetimes: h2_stream_sweep resets the streams past their
 * deadlines and asks for the next tick; h2_stream_reap (after the
 * client's FIN) resets those that need something the client can no
 * longer send and returns how many. */
void h2_stream_sweep(struct h2_session *s);
int h2_stream_reap(struct h2_session *s);

/* h2_stream_cache_free frees the streams |lp| keeps for reuse. */
struct loop;
void h2_stream_cache_free(struct loop *lp);

/* h2_loop_now: the loop's time, for the stream deadlines. */
uint64_t h2_loop_now(const struct h2_session *s);
/* h2_update_timer arms the connection timer for what is in progress. */
void h2_update_timer(struct h2_session *s);

#endif
