/* exchange.h: one request/response exchange, whatever the protocol.
 *
 * What it owns. An exchange is one client request and its response, from
 * the moment its head is complete to the access log line: routing, the
 * recording observation (proxy/record.h: the request, the response head,
 * the end), the upstream (proxy/upstream.h: started here, its callbacks
 * land here), the delivery decision (a 103 from the learned rules or
 * from the backend, or pushes through proxy/push.h), the access log entry
 * and the server's request and response counters.
 *
 * Who calls it. The front sessions (h1.c, h2_stream.c) parse and
 * validate; they hold one exchange per request (embedded in their
 * request or stream state, so a request costs no allocation) and
 * implement a sink: the few things only the protocol can do (write a
 * head, body bytes, a 103, a PUSH_PROMISE, an error, a reset). push.c
 * starts the exchanges of pushed streams.
 *
 *   client bytes -> session (h1.c / h2.c) parses, validates
 *                     |  exchange_start(req)
 *                     v
 *                   exchange: route, record, upstream_start, deliver
 *                     |                     \ push.c (PUSH_PROMISE)
 *                     |  upstream callbacks  \
 *                     v                       v
 *                   sink: head, body, end, early (103), promise, error,
 *                         reset  -> session frames it for the client
 *                     |  session: exchange_close(outcome)
 *                     v
 *                   access log line, counters, record_finish -> recorder
 *
 * Lifetime: exchange_init when the session starts a request; after
 * exchange_close (once) the exchange holds nothing; exchange_cleanup
 * releases an exchange that may still hold an upstream or a digest (a
 * session freed mid-request). Loop thread only. */
#ifndef PROXY_EXCHANGE_H
#define PROXY_EXCHANGE_H

#include <stddef.h>
#include <stdint.h>

#include "learner/obs.h"

struct config;
struct conn;
struct digest;
struct exchange;
struct hints_early;
struct http_fields;
struct http_hdr;
struct http_req;
struct loop;
struct push_conn;
struct upstream;

/* What a session does for its exchanges. |ud| is the session's request
 * or stream. Every pointer argument is valid only during the call. */
struct exchange_sink {
  /* head: the final response head: the backend's fields (hop-by-hop
   * removed) then herald's own (Via, the digest's Set-Cookie), names as
   * the backend wrote them. |bodyless|: a HEAD request or a 204/304.
   * |content_length|: -1 when the backend gave none. */
  void (*head)(void *ud, int status, const struct http_hdr *hdrs, size_t n,
               const struct http_hdr *extra, size_t nextra,
               int64_t content_length, int bodyless);
  /* body: response body bytes. A sink that cannot take more right now
   * calls exchange_pause, and exchange_resume once it drained. The sink
   * counts what reached the client with exchange_sent. */
  void (*body)(void *ud, const uint8_t *p, size_t n);
  /* end: the response is complete (trailers valid during the call). */
  void (*end)(void *ud, const struct http_hdr *trailers, size_t n);
  /* error: the backend failed (|status| 502 or 504) or its response
   * cannot reach this client: a short error response, or, when the head
   * went out already, an abort (close, RST_STREAM). */
  void (*error)(void *ud, int status);
  /* early: send one 103 Early Hints; 0 when it went out. */
  int (*early)(void *ud, const struct hints_early *e);
  /* body_sent: |n| request body bytes reached the backend socket. */
  void (*body_sent)(void *ud, size_t n);
  /* reset: drop a pushed response (RST_STREAM CANCEL). NULL without push. */
  void (*reset)(void *ud);
  /* push_room: the client takes push at all; |*streams| more pushed
   * streams and |*window| bytes it can take now. NULL without push. */
  int (*push_room)(void *ud, uint32_t *streams, int64_t *window);
  /* promise: promise |preq| (GET, its path and copied fields) on this
   * stream; returns the new stream's exchange (exchange_init done, names
   * pointing at the stream's own copies), or NULL when the client cannot
   * take it. NULL without push. */
  struct exchange *(*promise)(void *ud, const struct http_req *preq);
};

/* How an exchange ended, as the session saw it. */
struct exchange_outcome {
  int status;    /* as the access log shows it; 0: cut short or reset */
  int cut;       /* the response did not reach the client whole */
  int cancelled; /* the client refused or cancelled it (a pushed stream) */
  int quiet;     /* no access log line (closed before any response) */
};

/* Embedded in the session's request state; the session reads and sets
 * only the fields marked so, the rest is exchange.c's. */
struct exchange {
  /* set by the session */
  const char *proto;            /* "http/1.1", "http/1.0", "h2" */
  const char *method, *authority, *path; /* for the log, NUL-terminated
                                            (path: |path_len| bytes) */
  size_t path_len;
  const struct http_fields *fields; /* the request's, for the log */
  uint8_t client[16];           /* the request's client, once known */
  uint8_t have_client;
  uint8_t codings_ok;           /* transfer codings may reach the client */
  uint8_t pushed;               /* herald's own request (set by push.c) */
  int version;                  /* 10, 11 or 20 */
  uint64_t id;                  /* stream id or request number */
  struct push_conn *push;       /* the connection's pushes, NULL: none */

  /* exchange.c's */
  struct loop *lp;
  const struct config *cfg;     /* the connection's (conn_config) */
  struct conn *c;
  const struct exchange_sink *sink;
  void *ud;
  struct upstream *up;
  const char *backend;          /* server that answered, pool-owned */
  const char *req_authority, *req_path; /* the started request's */
  size_t req_alen, req_plen;
  int https;
  int status;                   /* of the head that went out (the session
                                   sets it when it answers itself) */
  int hints;                    /* Link fields in the 103 sent */
  uint64_t start_ms, bytes_sent;
  uint8_t recording;            /* |obs| is being filled */
  uint8_t early_ok, early_sent, backend_103, declared, head_sent, closed;
  uint8_t is_head;
  struct digest *digest;        /* push.c's, sent back on the page */
  struct obs obs;
};

/* exchange_init readies |x| for a request on |c| whose sink is |sink|
 * with |ud|: the loop of |c|, the configuration and pool it pinned. The
 * clock of its duration starts now. */
void exchange_init(struct exchange *x, struct conn *c,
                   const struct exchange_sink *sink, void *ud);

/* exchange_count counts a request whose head is complete (before it is
 * validated: a rejected request counts too). */
void exchange_count(struct exchange *x);

/* exchange_start routes the validated request |req| (valid during the
 * call; its authority and path must live as long as |x|), records it,
 * forwards it and decides what the client gets meanwhile (a 103,
 * pushes). The sink's calls may come from inside. */
void exchange_start(struct exchange *x, const struct http_req *req);

/* exchange_start_pushed forwards herald's own request |req| for a
 * pushed stream (push.c). */
void exchange_start_pushed(struct exchange *x, const struct http_req *req);

/* Request body (the session's flow control around them). */
void exchange_send_body(struct exchange *x, const uint8_t *p, size_t n);
void exchange_end_body(struct exchange *x);
size_t exchange_body_pending(const struct exchange *x);
/* exchange_busy: the upstream is still there. */
int exchange_busy(const struct exchange *x);

/* Response backpressure: stop and restart reading the backend. */
void exchange_pause(struct exchange *x);
void exchange_resume(struct exchange *x);
/* exchange_transfer_codings: the response's transfer codings under its
 * framing (upstream_transfer_codings), "" when none; from the head on,
 * while the upstream is there. */
const char *exchange_transfer_codings(const struct exchange *x);
/* exchange_sent counts |n| response body bytes handed to the client. */
void exchange_sent(struct exchange *x, uint64_t n);

/* exchange_cancel abandons the upstream (no callback follows). */
void exchange_cancel(struct exchange *x);

/* exchange_close ends the exchange: the access log line, the response
 * counters, the pushed stream's outcome, the observation to the
 * recorder. Once; later calls do nothing. */
void exchange_close(struct exchange *x, const struct exchange_outcome *o);

/* exchange_cleanup releases what |x| still holds (an upstream, a
 * digest) without logging: the session is being freed. */
void exchange_cleanup(struct exchange *x);

#endif
