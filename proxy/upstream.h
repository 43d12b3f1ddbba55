/* upstream.h: one request/response exchange with an HTTP/1.1 backend.
 *
 * An exchange (exchange.c) starts an upstream with a validated
 * request head, streams the request body into it, and receives the
 * response through callbacks. The response is parsed strictly with llhttp
 * (plus checks llhttp 8 leaves out: obs-fold, non-token names, bad status),
 * and any malformed, truncated or upgraded response fails the exchange and
 * discards the backend connection, so one bad response can never bleed
 * into the next request on a pooled connection.
 *
 * Callbacks run on the loop thread from backend I/O. After on_end or
 * on_error the upstream is gone: the consumer must drop its pointer. The
 * consumer may call upstream_cancel at any time before that, including
 * from inside a callback; no callback follows a cancel. */
#ifndef PROXY_UPSTREAM_H
#define PROXY_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "base/http.h"

struct loop;
struct pool;
struct upstream;

struct upstream_cb {
  /* An informational (1xx) response before the final one: 100, 102,
   * 103 or another; never 101, which fails the exchange. Hop-by-hop
   * fields removed; valid only during the call. May be NULL. The
   * consumer decides what, if anything, goes on (proxy/hints.h). */
  void (*on_info)(void *ud, int status, const struct http_hdr *hdrs,
                  size_t n);
  /* The response head, hop-by-hop fields removed; |hdrs| is valid only
   * during the call. |content_length| is -1 when the backend gave none. */
  void (*on_head)(void *ud, int status, const struct http_hdr *hdrs,
                  size_t n, int64_t content_length);
  /* Response body bytes, valid only during the call. */
  void (*on_body)(void *ud, const uint8_t *p, size_t n);
  /* The response is complete; trailers valid during the call. */
  void (*on_end)(void *ud, const struct http_hdr *trailers, size_t n);
  /* The exchange failed. |status| is 502 or 504, or 503 when the request
   * never left herald: its server was at limits.backend_max_connections
   * and the queue was full or timeouts.backend_queue passed (used when no
   * head was delivered); after a head the consumer must abort its
   * response. */
  void (*on_error)(void *ud, int status, const char *why);
  /* |n| request body bytes reached the backend socket (flow control). */
  void (*on_body_sent)(void *ud, size_t n);
};

/* upstream_start begins forwarding |req| (serialized at once; the caller
 * may free it after the call) to a server of |backend| in |pool|, on the
 * pool's loop. Never NULL: a
 * failure to even try is reported through on_error on a later turn. */
struct upstream *upstream_start(struct pool *pool, int backend,
                                const struct http_req *req,
                                const struct upstream_cb *cb, void *ud);

/* upstream_send_body queues request body bytes (copied). */
void upstream_send_body(struct upstream *u, const uint8_t *p, size_t n);
/* upstream_end_body: the request body is complete. */
void upstream_end_body(struct upstream *u);
/* upstream_body_pending: request body bytes not yet on the socket. */
size_t upstream_body_pending(const struct upstream *u);

/* upstream_pause / resume stop and restart reading the response, which is
 * how a slow client slows the backend. */
void upstream_pause(struct upstream *u);
void upstream_resume(struct upstream *u);

/* upstream_cancel abandons the exchange; the backend connection is closed
 * unless the response was already complete. */
void upstream_cancel(struct upstream *u);

/* upstream_backend_name: "host:port" of the server used, for access logs
 * ("-" before a server was picked). Valid while |u| lives. */
const char *upstream_backend_name(const struct upstream *u);

/* upstream_transfer_codings: the transfer codings of the response under
 * its chunked framing (or under a body that ends at close), such as
 * "gzip", as the backend wrote them; "" when none. on_body delivers the
 * bytes still so coded: a consumer that cannot pass the codings on must
 * not deliver them as the body. Valid from on_head while |u| lives. */
const char *upstream_transfer_codings(const struct upstream *u);

/* Backend response latency: from upstream_start to the last byte of a
 * complete response (retries and connect time included). Bucket |i|
 * counts responses that took at most upstream_latency_bounds_ms[i] and
 * more than the bound before it; the last bucket is +Inf. */
#define UPSTREAM_LATENCY_BUCKETS 12
extern const uint32_t upstream_latency_bounds_ms[UPSTREAM_LATENCY_BUCKETS - 1];

struct upstream_stats {
  uint64_t latency[UPSTREAM_LATENCY_BUCKETS]; /* not cumulative */
  uint64_t latency_sum_us;
  uint64_t responses;   /* complete responses (the histogram's count) */
  int64_t active;       /* exchanges in progress (gauge) */
  int64_t queued;       /* of those, waiting for a connection (gauge) */
  uint64_t queue_timeouts; /* 503: timeouts.backend_queue passed */
  uint64_t queue_full;     /* 503: limits.backend_queue were waiting */
  uint64_t pipelined;      /* sent behind another on a busy connection */
  uint64_t pipeline_retries; /* of those, resent: no answer began */
};

/* The counters are struct loop's upstream_stats (read them on that
 * loop's thread). upstream_loop_init sets up the module's state in a new
 * loop; upstream_loop_cleanup closes its timer and frees what it kept,
 * when the loop ends. */
void upstream_loop_init(struct loop *lp);
void upstream_loop_cleanup(struct loop *lp);

#endif
