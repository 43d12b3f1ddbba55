/* loop.h: everything one event loop's thread owns (the per-loop context).
 *
 * The proxy side keeps no mutable file-level state. What a loop thread
 * needs (its connections, the backend pool and configuration in force,
 * the rules snapshot in force, counters, read and scratch buffers, free
 * lists, the deferred-failure timer) is a field of one struct loop, and
 * every module reaches it through what it works on: a connection
 * (conn_loop), a pool (pool_loop), a session (which keeps its conn). Two
 * loops in one process share only immutable data (rule snapshots and
 * configurations, both refcounted with atomics), the process-wide limits
 * and backend health (struct loop_shared: atomics and mutexes) and the
 * thread-safe hand-offs (the recorder's queue, the log writer). Nothing
 * a loop keeps may point into a configuration it does not hold a
 * reference to: a reload frees the old one on whichever thread lets go
 * of it last.
 *
 * Fields are grouped by the module that owns them, and only that module
 * writes them, except the counters (stats), which every session adds to.
 * The server (server.c) creates a loop before its uv loop runs and frees
 * it after the uv loop has stopped; everything else here is loop-thread
 * only, except loop_publish_rules. */
#ifndef PROXY_LOOP_H
#define PROXY_LOOP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "base/buf.h"
#include "base/log.h"
#include "proxy/digest.h"
#include "proxy/upstream.h"

struct clientcount;
struct config;
struct conn;
struct h2_mem;
struct h2_stream;
struct health;
struct hints_keys;
struct nghttp2_option;
struct nghttp2_session_callbacks;
struct pool;
struct pushed_validators;
struct recorder;
struct ruleset;
struct server;

#define LOOP_READ_BUF 65536

/* What every loop of one process shares (server.c makes one; a loop made
 * without a server makes its own): the limits that count across loops.
 * Connections open in the process, for limits.max_connections (atomic),
 * and the connections per client address, for
 * limits.max_connections_per_client (a table under a mutex, touched at
 * accept and close only); and the backend servers' health. */
struct loop_shared {
  atomic_int conns;
  pthread_mutex_t clients_mu;
  struct clientcount *clients;
  struct health *health; /* backend servers' down state (health.h) */
  /* Refusals are logged one line a second for the whole process. */
  struct log_limit refused_client_log, refused_full_log;
};

struct loop_shared *loop_shared_new(void);
void loop_shared_free(struct loop_shared *sh); /* NULL is a no-op */

/* What one loop counted since it started (reloads keep them). */
struct loop_stats {
  uint64_t conns_accepted, conns_refused;
  uint64_t conns_client_limited; /* of the refused: the client address was
                                    at max_connections_per_client */
  uint64_t conns_evicted; /* idle connections closed to make room */
  uint64_t requests, responses[6]; /* responses by status class 1xx..5xx */
  uint64_t h2_requests, h1_requests;
  uint64_t backend_errors, backend_timeouts;
  uint64_t hints_sent, hints_shadow; /* navigations that got (or would
                                        get) a 103 */
  uint64_t backend_hints_forwarded; /* backend 103s passed on (hints.h) */
  uint64_t backend_hints_dropped;   /* and not passed on */
  uint64_t pushes_promised, pushes_cancelled, pushes_refused;
  uint64_t pushes_completed, push_bytes; /* pushed streams sent whole;
                                            body bytes of all pushes */
  uint64_t pushes_wasted;  /* pushed, then requested on the connection */
  uint64_t pushes_skipped; /* not pushed: the client's stream limit or
                              the connection window was reached */
  uint64_t pushes_digest_skipped; /* the browser's herald_pd cookie had it */
  uint64_t holdout_visits; /* navigations held out of delivery */
  uint64_t verify_withheld; /* resources left out of a navigation's hints
                               or pushes to verify them */
  /* Responses to HTTP/1.1 clients by class; the HTTP/2 share is
   * responses[] minus these (only exchange.c counts responses). */
  uint64_t h1_responses[6];
  int64_t h2_streams_active; /* HTTP/2 streams open now (gauge) */
  /* HTTP/2 streams reset because the client sent no request body bytes
   * for timeouts.idle, or gave no window for timeouts.write. */
  uint64_t h2_body_timeouts, h2_send_timeouts;
};

struct loop {
  uv_loop_t *uv;
  struct server *srv; /* the server this loop serves (server.c) */

  /* ---- in force (server.c swaps them; conn.c pins them) ---- */
  /* The backend pool of the configuration in force on this loop; it
   * holds a reference to that configuration (cfg). A connection pins
   * both when it is accepted and keeps them to its end, so a reload
   * never changes the configuration under a request. */
  struct pool *pool;
  const struct config *cfg;
  /* The rules in force: an immutable snapshot shared by every loop,
   * swapped whole on this loop's thread (NULL until the first one). */
  struct ruleset *rules;
  struct ruleset *_Atomic rules_pending; /* loop_publish_rules */
  uv_async_t rules_async;
  struct recorder *recorder; /* shared by every loop; NULL when off */
  struct hints_keys *hint_keys; /* page-key settings for hint lookups */
  struct pushed_validators *validators; /* ETags of pushable resources */
  uint64_t rng;  /* holdout and verification draws (hints.c) */
  struct loop_stats stats;

  /* ---- connections (conn.c) ---- */
  struct conn *conns; /* intrusive list of live connections */
  int nconns;
  int conns_peak; /* most connections open since the heap was last trimmed */
  /* Connections with nothing in progress, longest idle first: the ones
   * closed to make room at max_connections (see conn_set_idle). */
  struct conn *idle_head, *idle_tail;
  /* Shared with the other loops of the process (limits): never NULL. */
  struct loop_shared *shared;
  struct loop_shared *own_shared; /* made by loop_new when alone */
  struct conn *dirty; /* conns with output to flush after this turn */
  int draining;       /* graceful shutdown: no new connections */
  /* Connection ids are unique in the process: loop |worker| of
   * |nworkers| numbers its connections worker+1, worker+1+nworkers, ... */
  uint64_t next_conn_id;
  int worker, nworkers;
  uv_check_t flush_check;
  uv_idle_t flush_idle; /* keeps poll from blocking while conns are dirty */
  uv_timer_t drain_timer;
  uint8_t read_buf[LOOP_READ_BUF];  /* every client read lands here */
  uint8_t plain_buf[LOOP_READ_BUF]; /* TLS plaintext of one read */

  /* ---- backends (pool.c, upstream.c) ---- */
  /* Every backend read lands in this slab (pool.c); one reference is the
   * loop's. Body bytes kept from it as slices (h2_stream.c) hold more;
   * while any does, the next read takes a fresh slab. */
  struct buf_slab *backend_slab;
  /* Servers (of any pool of this loop) with requests waiting for a
   * connection, and the timer that serves them and expires their
   * deadlines (pool.c). */
  struct pool_server *pool_waiting;
  uv_timer_t pool_timer;
  unsigned pool_pass;
  struct upstream *upstream_free;     /* finished upstreams for reuse */
  int upstream_nfree;
  struct upstream *upstream_deferred; /* failures reported next turn */
  uv_timer_t upstream_timer;
  struct upstream_stats upstream_stats;
  struct log_limit upstream_queue_full_log;

  /* ---- HTTP/2 (h2.c, h2_stream.c; h2_cookie: exchange.c) ---- */
  struct h2_stream *h2_free; /* closed streams for reuse */
  int h2_nfree;
  struct nghttp2_session_callbacks *h2_callbacks;
  struct nghttp2_option *h2_options;
  struct h2_mem *h2_mem; /* nghttp2's allocator (h2_mem.h) */
  /* A response head's field names, lower-cased, and its Set-Cookie for
   * the push digest: scratch for the one head being submitted. */
  char h2_names[65536];
  char h2_cookie[DIGEST_COOKIE_MAX + 128];

  /* ---- byte queues (base/buf.h): chunks for reuse ---- */
  struct buf_cache bufs;
  uv_timer_t trim_timer; /* buf_cache_trim of |bufs|, every few seconds */
};

/* loop_new makes the context of a loop on |uv| for |srv| (it does not
 * run it). loop_free releases what the modules keep once |uv| has
 * stopped and every handle of it is closed (loop_close_handles). */
struct loop *loop_new(uv_loop_t *uv, struct server *srv);
/* loop_set_worker makes |lp| loop |worker| of |nworkers| sharing |sh|
 * (owned by the caller, outliving the loop); before it runs. */
void loop_set_worker(struct loop *lp, int worker, int nworkers,
                     struct loop_shared *sh);
void loop_close_handles(struct loop *lp);
/* loop_close_all is loop_close_handles, then closes every other handle on
 * the uv loop and runs it until they are closed. */
void loop_close_all(struct loop *lp);
void loop_free(struct loop *lp);

/* loop_use puts |pool| (one reference, which the loop takes) in force;
 * the pool in force before is retired and lives as long as connections
 * pinned to it. */
void loop_use(struct loop *lp, struct pool *pool);

/* loop_publish_rules hands the snapshot |rs| (one reference, which the
 * loop takes) to the loop; any thread. The loop adopts it on its next
 * turn, loop_adopt_rules at once (loop thread, or before it runs). */
void loop_publish_rules(struct loop *lp, struct ruleset *rs);
void loop_adopt_rules(struct loop *lp);

/* loop_drain starts a graceful drain of the loop's connections; the uv
 * loop stops once they have all closed, or at |deadline_ms|. */
void loop_drain(struct loop *lp, uint64_t deadline_ms);

/* Called by conn.c. loop_wake_flush makes sure the dirty list is flushed
 * on this loop turn. */
void loop_wake_flush(struct loop *lp);
void loop_conn_added(struct loop *lp, struct conn *c);
void loop_conn_removed(struct loop *lp, struct conn *c);

#endif
