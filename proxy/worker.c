/* worker.c: see worker.h. */
#include "proxy/worker.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "proxy/conn.h"
#include "proxy/pool.h"
#include "proxy/tls.h"

struct handoff {
  int fd;
  int proxy_protocol;
  struct tls_ctx *tls;
};

struct worker {
  int index;
  uv_loop_t uv;
  uv_thread_t thread;
  int started;
  struct loop *lp;
  uv_async_t wake;    /* the inbox has something */
  uv_prepare_t publish; /* the snapshot, before each wait */

  pthread_mutex_t mu; /* guards everything below */
  struct handoff *inbox;
  int ninbox, capinbox;
  struct pool *pool; /* a reload's pool to put in force */
  int drain;
  uint64_t drain_deadline;
  struct worker_stats snap;
  int nconns; /* open as of the last turn, plus the inbox */
};

void loop_snapshot(const struct loop *lp, struct worker_stats *out) {
  out->stats = lp->stats;
  out->upstream = lp->upstream_stats;
  out->nconns = lp->nconns;
}

static void on_publish(uv_prepare_t *h) {
  struct worker *w = h->data;
  pthread_mutex_lock(&w->mu);
  loop_snapshot(w->lp, &w->snap);
  w->nconns = w->lp->nconns + w->ninbox;
  pthread_mutex_unlock(&w->mu);
}

static void on_wake(uv_async_t *h) {
  struct worker *w = h->data;
  pthread_mutex_lock(&w->mu);
  struct handoff *in = w->inbox;
  int n = w->ninbox;
  w->inbox = NULL;
  w->ninbox = w->capinbox = 0;
  struct pool *pool = w->pool;
  w->pool = NULL;
  int drain = w->drain;
  w->drain = 0;
  uint64_t deadline = w->drain_deadline;
  pthread_mutex_unlock(&w->mu);

  /* A reload's pool first: connections handed over after the reload
   * pin the new configuration. */
  if (pool != NULL) {
    pool_inherit(pool, w->lp->pool);
    loop_use(w->lp, pool);
  }
  for (int i = 0; i < n; i++) {
    conn_adopt(w->lp, in[i].fd, in[i].tls, in[i].proxy_protocol);
    tls_ctx_free(in[i].tls); /* the connection holds its own */
  }
  free(in);
  if (drain)
    loop_drain(w->lp, deadline);
  on_publish(&w->publish);
}

struct worker *worker_new(struct server *srv, int index, int n,
                          struct loop_shared *sh) {
  struct worker *w = xcalloc(1, sizeof(*w));
  w->index = index;
  pthread_mutex_init(&w->mu, NULL);
  int rv = uv_loop_init(&w->uv);
  if (rv != 0) {
    LOG_ERR("worker %d: uv_loop_init: %s", index, uv_strerror(rv));
    abort();
  }
  w->lp = loop_new(&w->uv, srv);
  loop_set_worker(w->lp, index, n, sh);
  uv_async_init(&w->uv, &w->wake, on_wake);
  w->wake.data = w;
  uv_prepare_init(&w->uv, &w->publish);
  w->publish.data = w;
  uv_prepare_start(&w->publish, on_publish);
  uv_unref((uv_handle_t *)&w->publish);
  return w;
}

struct loop *worker_loop(const struct worker *w) { return w->lp; }

static void run(void *arg) {
  struct worker *w = arg;
  uv_run(&w->uv, UV_RUN_DEFAULT);
}

int worker_start(struct worker *w) {
  int rv = uv_thread_create(&w->thread, run, w);
  if (rv == 0)
    w->started = 1;
  return rv;
}

void worker_join(struct worker *w) {
  if (w->started) {
    uv_thread_join(&w->thread);
    /* What its last turn counted after its last snapshot. */
    on_publish(&w->publish);
  }
  w->started = 0;
}

void worker_free(struct worker *w) {
  if (w == NULL)
    return;
  worker_join(w);
  /* Sockets handed over but never adopted. */
  for (int i = 0; i < w->ninbox; i++) {
    close(w->inbox[i].fd);
    tls_ctx_free(w->inbox[i].tls);
  }
  free(w->inbox);
  pool_free(w->pool);
  loop_close_all(w->lp);
  loop_free(w->lp);
  uv_loop_close(&w->uv);
  pthread_mutex_destroy(&w->mu);
  free(w);
}

void worker_hand(struct worker *w, int fd, struct tls_ctx *tls,
                 int proxy_protocol) {
  if (tls != NULL)
    tls_ctx_ref(tls);
  pthread_mutex_lock(&w->mu);
  if (w->ninbox == w->capinbox) {
    w->capinbox = w->capinbox ? w->capinbox * 2 : 16;
    w->inbox = xrealloc(w->inbox, sizeof(*w->inbox) * (size_t)w->capinbox);
  }
  w->inbox[w->ninbox++] = (struct handoff){fd, proxy_protocol, tls};
  w->nconns++;
  pthread_mutex_unlock(&w->mu);
  uv_async_send(&w->wake);
}

int worker_load(struct worker *w) {
  pthread_mutex_lock(&w->mu);
  int n = w->nconns;
  pthread_mutex_unlock(&w->mu);
  return n;
}

void worker_use_pool(struct worker *w, struct pool *pool) {
  pthread_mutex_lock(&w->mu);
  struct pool *stale = w->pool;
  w->pool = pool;
  pthread_mutex_unlock(&w->mu);
  /* A pool never put in force was never used: no connection pins it. */
  pool_free(stale);
  uv_async_send(&w->wake);
}

void worker_drain(struct worker *w, uint64_t deadline_ms) {
  pthread_mutex_lock(&w->mu);
  w->drain = 1;
  w->drain_deadline = deadline_ms;
  pthread_mutex_unlock(&w->mu);
  uv_async_send(&w->wake);
}

void worker_stats(struct worker *w, struct worker_stats *out) {
  pthread_mutex_lock(&w->mu);
  *out = w->snap;
  pthread_mutex_unlock(&w->mu);
}
