/* fake.h: the world the protocol fuzz harnesses run herald's sessions in.
 *
 * The harnesses link h1.c, h2.c and upstream.c unchanged, but not conn.c
 * or pool.c: those two own real sockets. fake_conn.c implements conn.h
 * for one client connection whose bytes come from the fuzz input and
 * whose output goes to a checker; fake_pool.c implements pool.h with
 * backend connections that are one end of a socketpair (upstream.c writes
 * to them through libuv as usual) and a scripted backend that answers
 * from canned responses (fake_backend_step) or from the fuzz input
 * (fake_bconn_deliver). Everything runs on one libuv loop, driven a turn
 * at a time by the harness instead of uv_run(UV_RUN_DEFAULT).
 *
 * What the fakes check on every input (abort() with a message, so
 * libFuzzer reports it as a crash):
 * - the bytes herald writes on each backend connection parse strictly
 *   (llhttp) as a sequence of whole requests, and a connection is handed
 *   back to the pool only between two requests (no smuggling, no reuse of
 *   a connection with a request half sent);
 * - once the session is freed and the loop has turned, no upstream
 *   exchange is left and no backend connection is owned (nothing leaks
 *   when a client goes away in any state). */
#ifndef TESTS_FUZZ_FAKE_H
#define TESTS_FUZZ_FAKE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "proxy/session.h"

struct config;
struct conn;
struct pool;
struct bconn;
struct loop;

/* fuzz_fail reports a broken invariant and aborts. */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)))
__attribute__((noreturn));

/* ---- the client connection (fake_conn.c) ------------------------------ */

/* fake_conn_sink receives everything the session writes to the client. */
typedef void (*fake_conn_sink)(void *ud, const uint8_t *p, size_t n);

/* fake_conn_new makes a connection on |lp| (pinning its configuration
 * and pool) and starts the session |ops| with |session_new|, as conn.c
 * does once the protocol is known. */
struct conn *fake_conn_new(struct loop *lp, int tls,
                           const struct session_ops *ops,
                           void *(*session_new)(struct conn *c),
                           fake_conn_sink sink, void *sink_ud);
/* fake_conn_feed hands client bytes to the session (as one read). */
void fake_conn_feed(struct conn *c, const uint8_t *p, size_t n);
/* fake_conn_turn runs what conn.c does after a loop turn: the session
 * produces, output is flushed to the sink (the client reads it all at
 * once), then the writable and low-water callbacks. Returns 1 if anything
 * was written. */
int fake_conn_turn(struct conn *c);
/* fake_conn_eof: the client half-closes (read EOF). */
void fake_conn_eof(struct conn *c);
/* fake_conn_fire_timeout: the session timer fires now, if it is armed. */
void fake_conn_fire_timeout(struct conn *c);
int fake_conn_closed(const struct conn *c);     /* conn_close was called */
int fake_conn_read_paused(const struct conn *c);
/* fake_conn_free frees the session and the connection, as conn.c's close
 * callback does. */
void fake_conn_free(struct conn *c);

/* ---- backends (fake_pool.c) ------------------------------------------- */

/* Canned backend behaviours for fake_backend_step. */
enum fake_backend_kind {
  FB_OK,          /* 200 with Content-Length and an ETag */
  FB_CHUNKED,     /* 200 chunked, with a trailer */
  FB_INTERIM,     /* 100, 102, 103 with Link, then 200 */
  FB_BIG,         /* 200 with a 300 KB body (flow control, backpressure) */
  FB_CLOSE,       /* 200 without framing, ended by EOF */
  FB_MALFORMED,   /* two different Content-Length values: 502 */
  FB_EOF,         /* EOF before any byte (502; retried when reused) */
  FB_STALL,       /* never answers (504 when the timeout fires) */
  FB_NO_CONTENT,  /* 204 */
  FB_EARLY,       /* answers 413 as soon as the head is in, body or not */
  FB_SWITCH,      /* 101 Switching Protocols to a plain request: 502 */
  FB_KINDS
};

/* fake_pool_new makes the pool every upstream of the world uses. */
struct pool *fake_pool_new(struct loop *lp, const struct config *cfg);
/* fake_pool_set: connect outcome for new connections (0, or a UV_E*). */
void fake_pool_set_connect_status(struct pool *p, int status);
/* fake_pool_set_get_fail: pool_get returns NULL (no address to try). */
void fake_pool_set_get_fail(struct pool *p, int fail);

/* fake_backend_step advances every busy backend connection by one step:
 * reports connects, reads what herald wrote (checking it), and delivers
 * the next |slice| bytes (0: all) of the |kind| response to each request
 * it has read a head of. Returns 1 if anything happened. */
int fake_backend_step(struct pool *p, enum fake_backend_kind kind,
                      size_t slice);
/* fake_backend_timeout fires the deadline of every owned connection that
 * has one (connect or read timeout). */
void fake_backend_timeout(struct pool *p);
/* fake_backend_busy: connections owned by an upstream right now. */
int fake_backend_busy(const struct pool *p);
/* fake_pool_close_idle closes the idle connections (end of an input). */
void fake_pool_close_idle(struct pool *p);

/* For the response-parser harness: the only busy connection, once
 * connected (NULL if none), and direct delivery of backend bytes or EOF
 * to its owner (as pool.c's read callback would). */
struct bconn *fake_pool_busy_conn(struct pool *p);
void fake_bconn_connect(struct bconn *b, int status);
void fake_bconn_deliver(struct bconn *b, const uint8_t *p, size_t n);
void fake_bconn_eof(struct bconn *b);
/* fake_pool_fail_nth_connect: the |n|th new connection from now on is
 * refused (0: none). */
void fake_pool_fail_nth_connect(struct pool *p, int n);
/* fake_pool_set_peer_closed: the backend end of new connections is
 * closed as they connect, so herald's request write fails (EPIPE). */
void fake_pool_set_peer_closed(struct pool *p, int closed);
/* fake_bconn_drain reads and checks what herald wrote on |b| so far. */
void fake_bconn_drain(struct bconn *b);

/* ---- the world (world.c) ---------------------------------------------- */

/* Options taken from the first bytes of a protocol fuzz input. */
struct world_opts {
  enum fake_backend_kind kind;
  size_t slice;        /* backend bytes per step, 0 = all at once */
  size_t chunk;        /* client bytes per read */
  int tls;             /* the connection claims TLS (scheme https) */
  int eof;             /* the client half-closes after its input */
  int timeout;         /* timers fire at the end */
  int small_limits;    /* small write buffer, body and request caps */
  int deliver;         /* CONFIG_DELIVER_* for the learned rules */
  int connect_status;  /* for new backend connections */
  int get_fail;
};

#define WORLD_OPT_BYTES 3

/* world_init builds the loop (config, rules, pool) once per process. */
void world_init(void);
struct loop *world_loop(void);
struct pool *world_pool(void);

/* world_config: the world's configuration, for tests that tune it. */
struct config *world_config(void);

/* world_apply puts the options' limits, delivery mode and backend
 * outcomes in force (world_run does it first). */
void world_apply(const struct world_opts *o);

/* world_turn: one turn of the world: the session produces and its output
 * is flushed, the backend steps, the loop runs. Returns 1 if anything
 * happened. */
int world_turn(struct conn *c, const struct world_opts *o);

/* world_opts_parse reads WORLD_OPT_BYTES bytes of |p|. */
void world_opts_parse(struct world_opts *o, const uint8_t *p);

/* world_run runs one client connection of |ops| over |data|: fed in
 * chunks with the backend answering between reads, then EOF and timeouts
 * as the options say, then the session is freed and the loop drained,
 * and the leak invariants above are checked. */
void world_run(const struct world_opts *o, const struct session_ops *ops,
               void *(*session_new)(struct conn *c), const uint8_t *data,
               size_t n, fake_conn_sink sink, void *sink_ud);

/* world_fuzz is a protocol harness's whole LLVMFuzzerTestOneInput: the
 * first WORLD_OPT_BYTES of |data| are the options, |prefix| (may be empty)
 * is sent before the rest (the HTTP/2 preface), then world_run. */
void world_fuzz(const uint8_t *data, size_t size, const char *prefix,
                const struct session_ops *ops,
                void *(*session_new)(struct conn *c), fake_conn_sink sink,
                void *sink_ud);

/* world_settle turns the loop until nothing is pending (close callbacks,
 * deferred upstream failures). */
void world_settle(void);

#endif
