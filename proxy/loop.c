/* loop.c: see loop.h. What runs per loop turn and per connection count
 * (flushing dirty connections, the drain, trimming the heap after a
 * burst) lives here; the modules' own state is freed by their
 * *_loop_cleanup functions. */
#include "proxy/loop.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "base/log.h"
#include "base/util.h"
#include "learner/ruleset.h"
#include "proxy/clientcount.h"
#include "proxy/conn.h"
#include "proxy/health.h"
#include "proxy/hints.h"
#include "proxy/pool.h"
#include "proxy/pushed.h"
#include "proxy/session.h"

static void on_check(uv_check_t *h) {
  struct loop *lp = h->data;
  conn_flush_dirty(lp);
  uv_idle_stop(&lp->flush_idle);
}

static void on_idle(uv_idle_t *h) { (void)h; }

static void on_rules(uv_async_t *h) { loop_adopt_rules(h->data); }

/* Body chunks and slabs freed under load stay in the loop's free lists
 * (a thousand streams cycle through thousands of them); every TRIM_MS,
 * what sat there unused since the last tick goes back to malloc, so a
 * burst's memory is returned within two ticks of its end. */
#define TRIM_MS 5000

static void on_trim(uv_timer_t *t) {
  struct loop *lp = t->data;
  buf_cache_trim(&lp->bufs);
}

struct loop *loop_new(uv_loop_t *uv, struct server *srv) {
  struct loop *lp = xcalloc(1, sizeof(*lp));
  lp->uv = uv;
  lp->srv = srv;
  /* Holdout sampling only needs to differ between runs and loops. */
  lp->rng = uv_hrtime() ^ ((uint64_t)uv_os_getpid() << 32) ^
            (uint64_t)(uintptr_t)lp ^ 0x9e3779b97f4a7c15ull;
  lp->validators = pushed_validators_new();
  lp->own_shared = loop_shared_new();
  lp->shared = lp->own_shared;
  lp->nworkers = 1;
  uv_check_init(uv, &lp->flush_check);
  lp->flush_check.data = lp;
  uv_check_start(&lp->flush_check, on_check);
  uv_idle_init(uv, &lp->flush_idle);
  lp->flush_idle.data = lp;
  uv_async_init(uv, &lp->rules_async, on_rules);
  lp->rules_async.data = lp;
  uv_unref((uv_handle_t *)&lp->rules_async);
  uv_timer_init(uv, &lp->drain_timer);
  lp->drain_timer.data = lp;
  uv_timer_init(uv, &lp->trim_timer);
  lp->trim_timer.data = lp;
  uv_timer_start(&lp->trim_timer, on_trim, TRIM_MS, TRIM_MS);
  uv_unref((uv_handle_t *)&lp->trim_timer);
  upstream_loop_init(lp);
  pool_loop_init(lp);
  return lp;
}

struct loop_shared *loop_shared_new(void) {
  struct loop_shared *sh = xcalloc(1, sizeof(*sh));
  atomic_init(&sh->conns, 0);
  pthread_mutex_init(&sh->clients_mu, NULL);
  sh->clients = clientcount_new();
  sh->health = health_new();
  return sh;
}

void loop_shared_free(struct loop_shared *sh) {
  if (sh == NULL)
    return;
  clientcount_free(sh->clients); /* every conn uncounted itself */
  pthread_mutex_destroy(&sh->clients_mu);
  health_free(sh->health);
  free(sh);
}

void loop_set_worker(struct loop *lp, int worker, int nworkers,
                     struct loop_shared *sh) {
  lp->worker = worker;
  lp->nworkers = nworkers;
  lp->next_conn_id = (uint64_t)worker;
  lp->shared = sh;
}

void loop_use(struct loop *lp, struct pool *pool) {
  struct pool *old = lp->pool;
  lp->pool = pool;
  lp->cfg = pool_config(pool);
  pool_retire(old);
}

void loop_adopt_rules(struct loop *lp) {
  struct ruleset *rs = atomic_exchange(&lp->rules_pending, NULL);
  if (rs == NULL)
    return;
  struct ruleset *old = lp->rules;
  lp->rules = rs;
  /* Nothing on the loop keeps a ruleset across callbacks, so the loop's
   * reference to the old one is the last this loop has. */
  ruleset_unref(old);
  LOG_DEBUG("rules: %zu rules for %zu pages now in force", ruleset_rules(rs),
            ruleset_pages(rs));
}

void loop_publish_rules(struct loop *lp, struct ruleset *rs) {
  struct ruleset *stale = atomic_exchange(&lp->rules_pending, rs);
  /* A snapshot this loop never picked up: drop its reference here. */
  ruleset_unref(stale);
  uv_async_send(&lp->rules_async);
}

void loop_wake_flush(struct loop *lp) {
  /* Output marked from a timer or close callback must not wait for the
   * next socket event: an active idle handle makes this turn's poll
   * return at once, so the check phase flushes right away. */
  uv_idle_start(&lp->flush_idle, on_idle);
}

void loop_conn_added(struct loop *lp, struct conn *c) {
  (void)c;
  atomic_fetch_add_explicit(&lp->shared->conns, 1, memory_order_relaxed);
  if (++lp->nconns > lp->conns_peak)
    lp->conns_peak = lp->nconns;
}

/* After a burst of connections (a spike, a slowloris) glibc keeps what
 * they freed in its heap: 2000 slow clients left herald's RSS 24 MB above
 * its idle size for good. Once the count falls to a quarter of its peak
 * since the last trim, free pages go back to the system (malloc_trim
 * releases whole free pages inside the heap too, not only at its top).
 * Small bursts are not worth the heap walk. */
#define TRIM_MIN_PEAK 256

static void maybe_trim(struct loop *lp) {
  if (lp->conns_peak < TRIM_MIN_PEAK || lp->nconns > lp->conns_peak / 4)
    return;
  malloc_trim(0);
  lp->conns_peak = lp->nconns;
}

static void stop(struct loop *lp) {
  uv_timer_stop(&lp->drain_timer);
  uv_stop(lp->uv);
}

void loop_conn_removed(struct loop *lp, struct conn *c) {
  (void)c; /* conn.c keeps the list itself; the loop keeps the count */
  lp->nconns--;
  atomic_fetch_sub_explicit(&lp->shared->conns, 1, memory_order_relaxed);
  maybe_trim(lp);
  if (lp->draining && lp->nconns == 0)
    stop(lp);
}

static void on_drain_deadline(uv_timer_t *t) {
  struct loop *lp = t->data;
  LOG_WARN("shutdown deadline reached with %d connections open; closing them",
           lp->nconns);
  uv_stop(lp->uv);
}

void loop_drain(struct loop *lp, uint64_t deadline_ms) {
  if (lp->draining)
    return;
  lp->draining = 1;
  for (struct conn *c = lp->conns; c != NULL; c = conn_next(c))
    conn_shutdown(c);
  if (lp->nconns == 0) {
    stop(lp);
    return;
  }
  uv_timer_start(&lp->drain_timer, on_drain_deadline, deadline_ms, 0);
}

void loop_close_handles(struct loop *lp) {
  /* Connections still open past the deadline are dropped: their close
   * callbacks free sessions, which cancel upstreams, which discard their
   * backend connections. Then the pool closes its idle ones. */
  struct conn *next;
  for (struct conn *c = lp->conns; c != NULL; c = next) {
    next = conn_next(c);
    conn_close(c, 0);
  }
  uv_run(lp->uv, UV_RUN_NOWAIT);
  pool_retire(lp->pool);
  lp->pool = NULL;
  lp->cfg = NULL;
  upstream_loop_cleanup(lp);
  pool_loop_cleanup(lp);
}

static void close_any(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

void loop_close_all(struct loop *lp) {
  loop_close_handles(lp);
  uv_walk(lp->uv, close_any, NULL);
  uv_run(lp->uv, UV_RUN_DEFAULT);
}

void loop_free(struct loop *lp) {
  if (lp == NULL)
    return;
  h2_loop_cleanup(lp);
  ruleset_unref(atomic_exchange(&lp->rules_pending, NULL));
  ruleset_unref(lp->rules);
  free(lp->hint_keys);
  pushed_validators_free(lp->validators);
  loop_shared_free(lp->own_shared);
  buf_slab_unref(&lp->bufs, lp->backend_slab);
  buf_cache_release(&lp->bufs);
  free(lp);
}
