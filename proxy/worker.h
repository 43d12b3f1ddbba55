/* worker.h: one event-loop thread of a multi-worker herald.
 *
 * A server with workers = N runs N loops: worker 0 is the server's own
 * loop on main's thread (it also runs the listeners, the admin endpoint,
 * the signals and the reload); workers 1..N-1 each run their own uv loop
 * on their own thread. The main loop accepts every connection and hands
 * it to the worker with the fewest open (worker_hand), which balances a
 * handful of long-lived HTTP/2 connections where SO_REUSEPORT's hash
 * does not (README, "Workers").
 *
 * Everything another thread asks of a worker goes through its inbox
 * (a mutex and a uv_async): connections to adopt, the backend pool of a
 * reload, the drain of a shutdown. What the worker counted is published
 * to a snapshot under the same mutex just before its loop waits for
 * events (a uv_prepare), so /metrics reads every worker's counters as of
 * its last turn without touching its loop.
 *
 * Lifetime: worker_new before the server runs; worker_start runs the
 * thread; after worker_drain the loop stops once its connections have
 * closed (or at the deadline) and worker_join waits for the thread;
 * worker_free closes what is left (main's thread, after join). */
#ifndef PROXY_WORKER_H
#define PROXY_WORKER_H

#include <stdint.h>
#include <uv.h>

#include "proxy/loop.h"

struct pool;
struct server;
struct tls_ctx;
struct worker;

/* worker_new makes worker |index| (>= 1) of |n| with its own uv loop and
 * loop context sharing |sh|. The thread does not run yet. */
struct worker *worker_new(struct server *srv, int index, int n,
                          struct loop_shared *sh);
struct loop *worker_loop(const struct worker *w);
int worker_start(struct worker *w);
void worker_join(struct worker *w);
void worker_free(struct worker *w); /* NULL is a no-op */

/* worker_hand gives the worker an accepted socket |fd| to adopt with
 * |tls| (the worker takes one reference; NULL for cleartext). */
void worker_hand(struct worker *w, int fd, struct tls_ctx *tls,
                 int proxy_protocol);
/* worker_load: connections open on the worker or waiting to be adopted
 * (any thread; a moment's estimate). */
int worker_load(struct worker *w);
/* worker_use_pool puts |pool| (one reference, which the worker takes) in
 * force on the worker's thread: it inherits the old pool's counters and
 * the old one is retired as on a single loop (loop_use). */
void worker_use_pool(struct worker *w, struct pool *pool);
/* worker_drain starts the worker's graceful drain (loop_drain). */
void worker_drain(struct worker *w, uint64_t deadline_ms);

/* What a worker counted, as of its last turn (or live for the loop on the
 * caller's thread: loop_snapshot). */
struct worker_stats {
  struct loop_stats stats;
  struct upstream_stats upstream;
  int nconns;
};
void worker_stats(struct worker *w, struct worker_stats *out);
void loop_snapshot(const struct loop *lp, struct worker_stats *out);

#endif
