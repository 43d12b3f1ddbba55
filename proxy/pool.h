/* pool.h: backend servers and their keep-alive connections.
 *
 * Each configured backend is a group of servers tried round-robin. A
 * server that refuses or times out a connection is marked down and skipped
 * until its backoff (doubling from timeouts.backend_retry_backoff, at most
 * 30 s) expires; when every server of a group is down the one due soonest
 * is tried anyway, so a single-server backend recovers on the next
 * request. Idle connections wait in a per-server list; one that the
 * backend closes (or sends bytes on) while idle is dropped at once.
 *
 * Connections per server are capped (limits.backend_max_connections, idle
 * ones included, per worker: a process opens at most workers times that).
 * A request that finds its server at the cap waits in that server's FIFO
 * queue (limits.backend_queue long, timeouts.backend_queue at most). The
 * queue is per server, not per backend group, because the cap protects
 * one server's fixed number of workers and a released connection is a
 * connection to that server: handing it to the head of that server's
 * queue is O(1), needs no search across servers, and a waiter's request
 * goes where a connection is. The pick still spreads load: round-robin
 * prefers an up server with room, so a request queues only when every
 * up server of its group is at the cap. A waiter stays with its server:
 * if the server goes down, the waiter gets a fresh connection there when
 * a slot frees, fails to connect, and moves on through upstream.c's
 * usual try-another-server path, as a request that was never queued.
 *
 * With limits.backend_pipeline N > 1, a request that may be pipelined
 * (the owner says so: upstream.c allows GET without a body) and
 * finds its server at the cap goes onto a busy connection whose owner
 * allows requests behind its own and that carries fewer than N, instead
 * of waiting: pool_get returns that connection with w->pipelined set.
 * Such connections are kept in a per-server list, rotated on every pick,
 * so the pick is O(1) and spreads requests across connections; the owner
 * keeps the list true with pool_pipe_update. Pipelining is for small
 * answers: while a server's response bodies average more than
 * POOL_PIPE_MAX_AVG_BODY (an exponential average over its last few dozen,
 * fed by pool_server_ok), its requests wait for a connection of their
 * own instead, since a request behind a large answer waits for all of it
 * to reach a client, and holding many large answers at once costs more
 * copying through colder memory than it saves. The queue stays FIFO: a
 * request never goes onto a busy connection ahead of a waiter, so one
 * that may not be pipelined (a POST) holds back those behind it while
 * the busy connections drain, and gets the first that comes free.
 *
 * A released connection goes to the first waiter instead of the idle
 * list; a closed one lets the first waiter open a new one. Both hand-offs
 * happen in one place (serve_waiters in pool.c, which also pipelines a
 * waiter that may be), on a zero-delay timer rather
 * than inside the releasing owner's callback, so a waiter's exchange
 * never starts inside another's. A waiter leaves the queue when served,
 * when its deadline passes (the owner answers 503), or when its owner
 * cancels it (pool_cancel_wait). A retired pool keeps serving its
 * waiters, which hold references to it; a draining worker keeps serving
 * them until its shutdown deadline closes their client connections. */
#ifndef PROXY_POOL_H
#define PROXY_POOL_H

#include <stdint.h>
#include <uv.h>

struct config;
struct loop;
struct pool;
struct pool_server;
struct bconn;

/* The owner of a busy bconn is told about the connect outcome and reads.
 * Reading stays on for a connection's whole life (idle or busy), so
 * handing a pooled connection to the next request costs no epoll_ctl;
 * the pool routes each read to the owner's |on_read| or, when idle,
 * treats it as the backend closing or misbehaving. */
typedef void (*bconn_connect_cb)(struct bconn *b, int status);
typedef void (*bconn_read_cb)(struct bconn *b, ssize_t nread,
                              const uint8_t *data);
typedef void (*bconn_timeout_cb)(struct bconn *b);

/* A request waiting for a connection: kept inside its owner (no
 * allocation per request), linked into one server's queue. The pool
 * fills |deadline| and the links; the owner fills the rest before
 * pool_get. |on_served| runs once, from the pool's timer: with a
 * connection (as pool_get would have returned it: connected and reused,
 * or connecting with |connect_cb| to follow), or with NULL and an error,
 * UV_ETIMEDOUT when timeouts.backend_queue passed, or UV_ECANCELED. It is
 * not called after pool_cancel_wait. */
struct pool_waiter {
  struct pool_waiter *next, *prev;
  struct pool_server *server;
  uint64_t deadline; /* loop time in ms */
  void (*on_served)(struct pool_waiter *w, struct bconn *b, int err);
  bconn_connect_cb connect_cb;
  bconn_read_cb read_cb;
  void *owner;
  int queued;
  int pipelinable; /* owner's: may go behind another request */
  int pipelined;   /* pool's: the connection is busy, |owner| is behind */
};

struct bconn {
  uv_tcp_t tcp;
  uv_timer_t timer; /* connect timeout, then the owner's read timeout */
  uv_connect_t connect_req;
  struct pool_server *server;
  struct bconn *idle_next;
  void *owner;          /* the upstream using it; NULL when idle */
  bconn_connect_cb on_connect;
  bconn_read_cb on_read;
  bconn_timeout_cb on_timeout; /* the owner's deadline passed */
  uint64_t deadline;           /* loop time in ms, 0 = none */
  int connected, reused, closing, handles_open, read_paused;
  uint64_t requests;    /* served on this connection so far */
  /* Pipelining: requests on the connection (the owner's and those behind
   * it; the pool counts the ones it adds), whether the owner allows more,
   * and the server's list of connections that take more. */
  int pipe_depth, pipe_open;
  int pipe_stop; /* owner's: nothing more may follow; resend what did */
  struct bconn *pipe_next, *pipe_prev;
  int pipe_linked;
};

/* pool_new builds the pool of |cfg|'s backends for the loop |lp|,
 * resolving host names with getaddrinfo (blocking). It touches no libuv
 * state, so a reload runs it on a worker thread; everything else here is
 * that loop's thread only. |lp| is only stored. The pool takes a
 * reference to |cfg| (config_ref), which it gives back when it is freed.
 * Returns NULL with a message in |err|. The pool holds one reference,
 * its owner's (the loop's, once in force).
 *
 * Lifetime: every connection (conn.c) and every upstream holds a
 * reference (pool_ref / pool_unref). A reload retires the old pool:
 * pool_retire drops the owner's reference; connections pinned to it keep
 * using it, idle backend connections included, and the last pool_unref
 * closes its idle connections and frees it with its reference to the
 * configuration, so requests finish on the backends and settings their
 * connection started with. */
struct pool *pool_new(struct loop *lp, struct config *cfg, char *err,
                      size_t errlen);
void pool_ref(struct pool *p);
void pool_unref(struct pool *p); /* NULL is a no-op */
void pool_retire(struct pool *p); /* NULL is a no-op */
/* pool_free is pool_retire, for a pool nothing else references. */
void pool_free(struct pool *p);

/* pool_get returns a connection to a server of |backend|: an idle one
 * (b->connected set, reused set) unless |fresh|, else a new one whose
 * connect_cb runs when the connect finishes; b->owner is |w|'s owner.
 * When the server is at limits.backend_max_connections it returns NULL
 * with |*err| 0 and |w| queued (w->on_served follows), or with |*err|
 * UV_EBUSY when the queue is full; with another negative UV_E* when no
 * address could be tried. |fresh| (a retry after a pooled connection
 * failed) also takes a free slot ahead of the waiters: the request
 * already waited its turn. */
struct bconn *pool_get(struct pool *p, int backend, int fresh,
                       struct pool_waiter *w, int *err);
/* pool_pipe_update: the owner of |b| changed b->pipe_open or lowered
 * b->pipe_depth; |b| joins or leaves its server's list of connections
 * that take requests behind their owner's. */
void pool_pipe_update(struct bconn *b);
/* pool_cancel_wait takes a queued |w| out of its queue (no-op if not
 * queued); its on_served will not run. */
void pool_cancel_wait(struct pool_waiter *w);
/* pool_waiter_server: "host:port" of the server |w| waits for. */
const char *pool_waiter_server(const struct pool_waiter *w);

/* pool_set_deadline gives |b| a deadline |ms| from now (0 clears it):
 * connect timeout, then the owner's read timeout, then the idle timeout.
 * One timer per connection re-checks lazily, so moving a deadline on
 * every read costs no timer-heap work. */
void pool_set_deadline(struct bconn *b, uint64_t ms);

/* pool_pause_read / pool_resume_read: backpressure from a slow client. */
void pool_pause_read(struct bconn *b);
void pool_resume_read(struct bconn *b);

/* pool_put returns a healthy connection for reuse (the owner has stopped
 * reading and forgets it; nothing is pipelined behind it). */
void pool_put(struct bconn *b);
/* pool_discard closes a connection (its owner forgets it). */
void pool_discard(struct bconn *b);
/* pool_server_failed marks the connection's server down with backoff
 * (and counts an error); pool_server_ok clears it, and counts a complete
 * answer with |body_bytes| of body towards the server's average. A server stays down,
 * as /healthz and /metrics report it, until an exchange with it succeeds.
 * pool_server_used counts a request sent to the server, pool_server_error
 * an exchange with it that failed after the connection was made. */
void pool_server_failed(struct bconn *b);
void pool_server_ok(struct bconn *b, uint64_t body_bytes);
void pool_server_used(struct bconn *b);
void pool_server_error(struct bconn *b);

/* The servers' state, for the admin endpoint (loop thread). */
#define POOL_PIPE_MAX_AVG_BODY 16384

struct pool_server_state {
  const char *backend;  /* [backend:NAME] */
  const char *name;     /* "host:port" as configured */
  int up;
  uint64_t requests, errors;
  int64_t conns;        /* open now, every worker and pool of the process */
};
int pool_nbackends(const struct pool *p);
int pool_nservers(const struct pool *p, int backend);
void pool_server_state(const struct pool *p, int backend, int i,
                       struct pool_server_state *out);

/* pool_inherit gives the servers of |p| that |old| also had (same backend
 * name, same host:port) their counters and down state, so a reload
 * neither resets the metrics nor forgets a server that is down. */
void pool_inherit(struct pool *p, const struct pool *old);
const struct config *pool_config(const struct pool *p);
struct loop *pool_loop(const struct pool *p);
/* pool_server_name is "host:port" for logs. */
const char *pool_server_name(const struct bconn *b);

/* pool_loop_init / pool_loop_cleanup: the loop's queue timer (loop.c). */
void pool_loop_init(struct loop *lp);
void pool_loop_cleanup(struct loop *lp);

#endif
