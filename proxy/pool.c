/* pool.c: see pool.h. Every backend read lands in the loop's slab
 * (struct loop, backend_slab): the owner handles it before returning,
 * keeping body bytes from it only as slices (buf.h), which make the next
 * read take a fresh slab. */
#include "proxy/pool.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "proxy/health.h"
#include "proxy/loop.h"

#define MAX_BACKOFF_MS 30000

struct pool_server {
  struct pool *pool;
  struct sockaddr_storage addr;
  char name[CONFIG_HOST_MAX + 8];
  struct bconn *idle;
  int nidle;
  int nconns; /* open on this pool, idle and connecting included */
  struct bconn *pipe_first, *pipe_last; /* take requests behind (pool.h) */
  uint64_t avg_body; /* response body bytes, exponential average (x16) */
  struct pool_waiter *wait_head, *wait_tail;
  int nwaiting;
  struct pool_server *waiting_next, *waiting_prev; /* lp->pool_waiting */
  unsigned served_pass; /* on_pool_timer's */
  /* Down state and counts: shared with every worker's pool and with the
   * pools of later reloads (health.h), or |own| for a pool of no loop. */
  struct health_entry *h;
  struct health_entry own;
};

struct pool_backend {
  struct pool_server servers[CONFIG_MAX_SERVERS];
  int nservers;
  unsigned next; /* round-robin cursor */
};

struct pool {
  struct loop *lp;
  struct config *cfg;       /* one reference */
  int refs;
  struct pool_backend backends[CONFIG_MAX_BACKENDS];
  int nbackends;
};

/* resolve uses getaddrinfo directly, not uv_getaddrinfo: the synchronous
 * form of the latter still counts a request on the loop, which a reload's
 * worker thread must not touch. */
static int resolve(const struct config_server *s,
                   struct sockaddr_storage *out, char *why, size_t whylen) {
  char port[16];
  snprintf(port, sizeof(port), "%d", s->port);
  struct addrinfo hints = {0};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo *res = NULL;
  int rv = getaddrinfo(s->host, port, &hints, &res);
  if (rv != 0) {
    snprintf(why, whylen, "%s", gai_strerror(rv));
    return -1;
  }
  memcpy(out, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  return 0;
}

struct pool *pool_new(struct loop *lp, struct config *cfg, char *err,
                      size_t errlen) {
  struct pool *p = xcalloc(1, sizeof(*p));
  p->lp = lp;
  p->cfg = cfg;
  config_ref(cfg);
  p->refs = 1;
  p->nbackends = cfg->nbackends;
  for (int i = 0; i < cfg->nbackends; i++) {
    const struct config_backend *cb = &cfg->backends[i];
    struct pool_backend *pb = &p->backends[i];
    pb->nservers = cb->nservers;
    for (int k = 0; k < cb->nservers; k++) {
      struct pool_server *s = &pb->servers[k];
      s->pool = p;
      snprintf(s->name, sizeof(s->name), "%s:%d", cb->servers[k].host,
               cb->servers[k].port);
      s->h = lp != NULL && lp->shared != NULL
                 ? health_get(lp->shared->health, cb->name, s->name)
                 : &s->own;
      char why[256];
      if (resolve(&cb->servers[k], &s->addr, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "backend %s: cannot resolve %s: %s", cb->name,
                 s->name, why);
        pool_free(p);
        return NULL;
      }
    }
  }
  return p;
}

static void on_bconn_closed(uv_handle_t *h) {
  struct bconn *b = h->data;
  if (--b->handles_open == 0)
    free(b);
}

static void schedule_waiters(struct pool_server *s);

/* ---- connections that take pipelined requests --------------------------- */

static void pipe_unlink(struct bconn *b) {
  struct pool_server *s = b->server;
  if (!b->pipe_linked)
    return;
  if (b->pipe_prev != NULL)
    b->pipe_prev->pipe_next = b->pipe_next;
  else
    s->pipe_first = b->pipe_next;
  if (b->pipe_next != NULL)
    b->pipe_next->pipe_prev = b->pipe_prev;
  else
    s->pipe_last = b->pipe_prev;
  b->pipe_next = b->pipe_prev = NULL;
  b->pipe_linked = 0;
}

static void pipe_append(struct bconn *b) {
  struct pool_server *s = b->server;
  b->pipe_next = NULL;
  b->pipe_prev = s->pipe_last;
  if (s->pipe_last != NULL)
    s->pipe_last->pipe_next = b;
  else
    s->pipe_first = b;
  s->pipe_last = b;
  b->pipe_linked = 1;
}

void pool_pipe_update(struct bconn *b) {
  struct pool_server *s = b->server;
  int take = b->pipe_open && !b->closing && b->owner != NULL &&
             b->pipe_depth < s->pool->cfg->backend_pipeline;
  if (take == b->pipe_linked)
    return;
  if (!take) {
    pipe_unlink(b);
    return;
  }
  pipe_append(b);
  if (s->nwaiting > 0)
    schedule_waiters(s);
}

/* pipe_pick: the connection of |s| given a request behind its owner's
 * longest ago, now carrying one more, or NULL. */
static struct bconn *pipe_pick(struct pool_server *s,
                               const struct pool_waiter *w) {
  struct bconn *b = s->pipe_first;
  if (b == NULL || !w->pipelinable ||
      s->avg_body > (uint64_t)POOL_PIPE_MAX_AVG_BODY * 16)
    return NULL;
  pipe_unlink(b);
  if (++b->pipe_depth < s->pool->cfg->backend_pipeline)
    pipe_append(b);
  return b;
}

/* bconn_close frees the connection's slot at once (the socket is gone
 * for the backend's purposes), so a waiter may open a new one. */
static void bconn_close(struct bconn *b) {
  if (b->closing)
    return;
  b->closing = 1;
  pipe_unlink(b);
  struct pool_server *s = b->server;
  s->nconns--;
  atomic_fetch_sub_explicit(&s->h->conns, 1, memory_order_relaxed);
  if (s->nwaiting > 0)
    schedule_waiters(s);
  uv_close((uv_handle_t *)&b->timer, on_bconn_closed);
  uv_close((uv_handle_t *)&b->tcp, on_bconn_closed);
}

static void idle_remove(struct bconn *b) {
  struct pool_server *s = b->server;
  for (struct bconn **pp = &s->idle; *pp != NULL; pp = &(*pp)->idle_next) {
    if (*pp == b) {
      *pp = b->idle_next;
      s->nidle--;
      break;
    }
  }
  b->idle_next = NULL;
}

void pool_ref(struct pool *p) { p->refs++; }

static void close_idle(struct pool *p) {
  for (int i = 0; i < p->nbackends; i++) {
    for (int k = 0; k < p->backends[i].nservers; k++) {
      struct pool_server *s = &p->backends[i].servers[k];
      while (s->idle != NULL) {
        struct bconn *b = s->idle;
        idle_remove(b);
        bconn_close(b);
      }
    }
  }
}

void pool_unref(struct pool *p) {
  if (p == NULL || --p->refs > 0)
    return;
  close_idle(p);
  config_unref(p->cfg);
  free(p);
}

void pool_free(struct pool *p) { pool_retire(p); }

void pool_retire(struct pool *p) {
  if (p == NULL)
    return;
  pool_unref(p);
}

static uint64_t down_until(const struct pool_server *s) {
  return atomic_load_explicit(&s->h->down_until, memory_order_relaxed);
}

static int has_room(const struct pool_server *s, int cap) {
  return s->nwaiting == 0 && (s->idle != NULL || s->nconns < cap);
}

/* pick: the next up server in round-robin order that has room, else the
 * first up one (its queue), else the down one due back soonest. */
static struct pool_server *pick(struct pool_backend *pb, uint64_t now,
                                int cap) {
  struct pool_server *soonest = NULL, *full = NULL;
  uint64_t soonest_until = 0;
  for (int i = 0; i < pb->nservers; i++) {
    struct pool_server *s = &pb->servers[pb->next++ % (unsigned)pb->nservers];
    uint64_t until = down_until(s);
    if (until <= now) {
      if (has_room(s, cap))
        return s;
      if (full == NULL)
        full = s;
      continue;
    }
    if (full != NULL)
      continue;
    if (soonest == NULL || until < soonest_until) {
      soonest = s;
      soonest_until = until;
    }
  }
  return full != NULL ? full : soonest;
}

static void on_alloc(uv_handle_t *h, size_t n, uv_buf_t *buf) {
  struct bconn *b = h->data;
  struct loop *lp = b->server->pool->lp;
  (void)n;
  struct buf_slab *s = lp->backend_slab;
  if (s == NULL || buf_slab_shared(s)) {
    buf_slab_unref(&lp->bufs, s);
    s = lp->backend_slab = buf_slab_get(&lp->bufs);
  }
  *buf = uv_buf_init((char *)buf_slab_data(s) + BUF_SLAB_HEADROOM,
                     BUF_SLAB_READ);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct bconn *b = s->data;
  if (nread == 0)
    return;
  if (b->owner != NULL && b->on_read != NULL) {
    b->on_read(b, nread, (const uint8_t *)buf->base);
    return;
  }
  /* An idle backend connection has nothing to say: EOF means the backend
   * closed it, bytes mean it is confused. Either way it cannot be reused. */
  if (b->owner == NULL && !b->closing) {
    idle_remove(b);
    bconn_close(b);
  }
}

static void on_connect(uv_connect_t *req, int status) {
  struct bconn *b = req->data;
  if (b->closing)
    return;
  b->deadline = 0;
  if (status == 0) {
    b->connected = 1;
    if (uv_read_start((uv_stream_t *)&b->tcp, on_alloc, on_read) != 0)
      status = UV_ECONNRESET;
  }
  b->on_connect(b, status);
}

void pool_pause_read(struct bconn *b) {
  if (b->read_paused || b->closing)
    return;
  b->read_paused = 1;
  uv_read_stop((uv_stream_t *)&b->tcp);
}

void pool_resume_read(struct bconn *b) {
  if (!b->read_paused || b->closing)
    return;
  b->read_paused = 0;
  uv_read_start((uv_stream_t *)&b->tcp, on_alloc, on_read);
}

static void on_timer(uv_timer_t *t) {
  struct bconn *b = t->data;
  if (b->deadline == 0 || b->closing)
    return;
  uint64_t now = uv_now(t->loop);
  if (now < b->deadline) {
    uv_timer_start(t, on_timer, b->deadline - now, 0);
    return;
  }
  b->deadline = 0;
  if (!b->connected) {
    /* Closing the socket cancels the connect; on_connect then sees
     * UV_ECANCELED and is ignored because b->closing is set. */
    b->on_connect(b, UV_ETIMEDOUT);
  } else if (b->owner != NULL) {
    if (b->on_timeout != NULL)
      b->on_timeout(b);
  } else {
    idle_remove(b);
    bconn_close(b);
  }
}

void pool_set_deadline(struct bconn *b, uint64_t ms) {
  if (ms == 0) {
    b->deadline = 0;
    return;
  }
  b->deadline = uv_now(b->timer.loop) + ms;
  if (!uv_is_active((uv_handle_t *)&b->timer) ||
      uv_timer_get_due_in(&b->timer) > ms)
    uv_timer_start(&b->timer, on_timer, ms, 0);
}

/* take_idle hands the first idle connection of |s| to |w|'s owner. */
static struct bconn *take_idle(struct pool_server *s,
                               const struct pool_waiter *w) {
  struct bconn *b = s->idle;
  idle_remove(b);
  b->deadline = 0;
  b->owner = w->owner;
  b->on_connect = w->connect_cb;
  b->on_read = w->read_cb;
  b->reused = 1;
  b->pipe_depth = 1;
  return b;
}

/* open_new starts a connection to |s| for |w|'s owner; NULL with |*err|
 * when the connect could not even start. */
static struct bconn *open_new(struct pool_server *s,
                              const struct pool_waiter *w, int *err) {
  struct pool *p = s->pool;
  struct bconn *b = xcalloc(1, sizeof(*b));
  b->server = s;
  b->owner = w->owner;
  b->on_connect = w->connect_cb;
  b->on_read = w->read_cb;
  b->pipe_depth = 1;
  s->nconns++;
  atomic_fetch_add_explicit(&s->h->conns, 1, memory_order_relaxed);
  uv_tcp_init(p->lp->uv, &b->tcp);
  uv_timer_init(p->lp->uv, &b->timer);
  b->tcp.data = b->timer.data = b->connect_req.data = b;
  b->handles_open = 2;
  uv_tcp_nodelay(&b->tcp, 1);
  int rv = uv_tcp_connect(&b->connect_req, &b->tcp,
                          (const struct sockaddr *)&s->addr, on_connect);
  if (rv != 0) {
    *err = rv;
    bconn_close(b);
    return NULL;
  }
  pool_set_deadline(b, (uint64_t)p->cfg->backend_connect_timeout);
  return b;
}

/* ---- the wait queue ---------------------------------------------------- */

static void on_pool_timer(uv_timer_t *t);

static void waiting_link(struct pool_server *s) {
  struct loop *lp = s->pool->lp;
  s->waiting_prev = NULL;
  s->waiting_next = lp->pool_waiting;
  if (lp->pool_waiting != NULL)
    lp->pool_waiting->waiting_prev = s;
  lp->pool_waiting = s;
}

static void waiting_unlink(struct pool_server *s) {
  struct loop *lp = s->pool->lp;
  if (s->waiting_prev != NULL)
    s->waiting_prev->waiting_next = s->waiting_next;
  else
    lp->pool_waiting = s->waiting_next;
  if (s->waiting_next != NULL)
    s->waiting_next->waiting_prev = s->waiting_prev;
  s->waiting_next = s->waiting_prev = NULL;
}

static void arm_timer(struct loop *lp, uint64_t deadline) {
  uint64_t now = uv_now(lp->uv), ms = deadline > now ? deadline - now : 0;
  if (!uv_is_active((uv_handle_t *)&lp->pool_timer) ||
      uv_timer_get_due_in(&lp->pool_timer) > ms)
    uv_timer_start(&lp->pool_timer, on_pool_timer, ms, 0);
}

static void enqueue(struct pool_server *s, struct pool_waiter *w) {
  struct pool *p = s->pool;
  w->server = s;
  w->queued = 1;
  w->deadline = uv_now(p->lp->uv) + (uint64_t)p->cfg->backend_queue_timeout;
  w->next = NULL;
  w->prev = s->wait_tail;
  if (s->wait_tail != NULL)
    s->wait_tail->next = w;
  else
    s->wait_head = w;
  s->wait_tail = w;
  if (s->nwaiting++ == 0)
    waiting_link(s);
  /* One pool's waiters all wait timeouts.backend_queue, so the queue is
   * in deadline order too: only its head's deadline needs a timer. */
  if (w == s->wait_head)
    arm_timer(p->lp, w->deadline);
}

static void dequeue(struct pool_waiter *w) {
  struct pool_server *s = w->server;
  if (w->prev != NULL)
    w->prev->next = w->next;
  else
    s->wait_head = w->next;
  if (w->next != NULL)
    w->next->prev = w->prev;
  else
    s->wait_tail = w->prev;
  w->next = w->prev = NULL;
  w->queued = 0;
  if (--s->nwaiting == 0)
    waiting_unlink(s);
}

void pool_cancel_wait(struct pool_waiter *w) {
  if (w->queued)
    dequeue(w);
}

const char *pool_waiter_server(const struct pool_waiter *w) {
  return w->server->name;
}

/* schedule_waiters: |s| may have a connection or a slot for its first
 * waiter; serve it on the timer, after the caller's callback unwinds. */
static void schedule_waiters(struct pool_server *s) {
  struct loop *lp = s->pool->lp;
  uv_timer_start(&lp->pool_timer, on_pool_timer, 0, 0);
}

/* serve_waiters is the one place a connection becomes a waiter's: an
 * idle one first, else a new one while |s| is under the cap, else a busy
 * one the waiter may be pipelined on. Then waiters whose deadline has
 * passed leave with UV_ETIMEDOUT. Each
 * on_served may release or close connections or cancel other waiters,
 * so the queue is re-read after every call. */
static void serve_waiters(struct pool_server *s, uint64_t now) {
  int cap = s->pool->cfg->backend_max_connections;
  while (s->wait_head != NULL) {
    struct pool_waiter *w = s->wait_head;
    struct bconn *b = NULL;
    int err = 0;
    if (s->idle != NULL)
      b = take_idle(s, w);
    else if (s->nconns < cap)
      b = open_new(s, w, &err);
    else if ((b = pipe_pick(s, w)) != NULL)
      w->pipelined = 1;
    else if (w->deadline <= now)
      err = UV_ETIMEDOUT;
    else
      break;
    dequeue(w);
    w->on_served(w, b, err);
  }
}

static void on_pool_timer(uv_timer_t *t) {
  struct loop *lp = t->data;
  uint64_t now = uv_now(lp->uv);
  /* Served servers leave the list (their queue emptied) or are marked
   * done for this pass; each pass restarts from the list's head since a
   * callback may have changed it. */
  unsigned mark = ++lp->pool_pass ? lp->pool_pass : ++lp->pool_pass;
  for (;;) {
    struct pool_server *s = lp->pool_waiting;
    while (s != NULL && s->served_pass == mark)
      s = s->waiting_next;
    if (s == NULL)
      break;
    s->served_pass = mark;
    struct pool *p = s->pool;
    pool_ref(p); /* a waiter's exchange may drop the last other one */
    serve_waiters(s, now);
    pool_unref(p);
  }
  uint64_t next = 0;
  for (struct pool_server *s = lp->pool_waiting; s != NULL;
       s = s->waiting_next) {
    if (next == 0 || s->wait_head->deadline < next)
      next = s->wait_head->deadline;
  }
  if (next != 0)
    arm_timer(lp, next);
}

void pool_loop_init(struct loop *lp) {
  uv_timer_init(lp->uv, &lp->pool_timer);
  lp->pool_timer.data = lp;
  uv_unref((uv_handle_t *)&lp->pool_timer);
}

void pool_loop_cleanup(struct loop *lp) {
  if (!uv_is_closing((uv_handle_t *)&lp->pool_timer))
    uv_close((uv_handle_t *)&lp->pool_timer, NULL);
}

struct bconn *pool_get(struct pool *p, int backend, int fresh,
                       struct pool_waiter *w, int *err) {
  w->pipelined = 0;
  if (backend < 0 || backend >= p->nbackends)
    backend = 0;
  struct pool_backend *pb = &p->backends[backend];
  int cap = p->cfg->backend_max_connections;
  /* The loop's time (the monotonic clock util_now_ms marks servers down
   * by, as of this loop turn) is close enough and costs no clock read. */
  struct pool_server *s = pick(pb, uv_now(p->lp->uv), cap);
  if (s == NULL) {
    *err = UV_EINVAL;
    return NULL;
  }
  /* Under the cap with nobody waiting this is two compares; waiters
   * first keeps the queue FIFO. */
  if (s->nwaiting == 0 || fresh) {
    if (!fresh && s->idle != NULL)
      return take_idle(s, w);
    if (s->nconns < cap)
      return open_new(s, w, err);
  }
  w->server = s; /* named in the caller's log line either way */
  /* Behind waiters it waits too, so a request that may not be pipelined
   * is not passed forever by ones that may: pipelining stops while it
   * waits, the connections drain and one comes free for it. */
  struct bconn *b = s->nwaiting == 0 ? pipe_pick(s, w) : NULL;
  if (b != NULL) {
    w->pipelined = 1;
    return b;
  }
  if (s->nwaiting >= p->cfg->backend_queue) {
    *err = UV_EBUSY;
    return NULL;
  }
  enqueue(s, w);
  *err = 0;
  return NULL;
}

void pool_put(struct bconn *b) {
  struct pool_server *s = b->server;
  struct pool *p = s->pool;
  b->owner = NULL;
  b->on_connect = NULL;
  b->on_read = NULL;
  b->on_timeout = NULL;
  b->pipe_open = b->pipe_stop = 0;
  b->pipe_depth = 0;
  pipe_unlink(b);
  if (s->nwaiting > 0 && !b->closing)
    schedule_waiters(s); /* kept idle for a moment, whatever keepalive */
  else if (b->closing || s->nidle >= p->cfg->backend_keepalive) {
    bconn_close(b);
    return;
  }
  pool_resume_read(b);
  b->idle_next = s->idle;
  s->idle = b;
  s->nidle++;
  pool_set_deadline(b, (uint64_t)p->cfg->backend_idle_timeout);
}

void pool_discard(struct bconn *b) {
  b->owner = NULL;
  bconn_close(b);
}

static void add(atomic_uint_fast64_t *v) {
  atomic_fetch_add_explicit(v, 1, memory_order_relaxed);
}

void pool_server_used(struct bconn *b) { add(&b->server->h->requests); }

void pool_server_error(struct bconn *b) { add(&b->server->h->errors); }

void pool_server_failed(struct bconn *b) {
  struct pool_server *s = b->server;
  struct health_entry *h = s->h;
  add(&h->errors);
  /* Two workers failing at once may both double the backoff: harmless. */
  uint64_t base = (uint64_t)s->pool->cfg->backend_retry_backoff;
  uint64_t backoff = atomic_load(&h->backoff);
  backoff = backoff ? backoff * 2 : base;
  if (backoff > MAX_BACKOFF_MS)
    backoff = MAX_BACKOFF_MS;
  atomic_store(&h->backoff, backoff);
  atomic_store(&h->down_until, util_now_ms() + backoff);
  LOG_WARN("backend server %s marked down for %llu ms", s->name,
           (unsigned long long)backoff);
}

void pool_server_ok(struct bconn *b, uint64_t body_bytes) {
  struct pool_server *s = b->server;
  /* avg += (x - avg) / 16, kept scaled by 16 in integers. */
  s->avg_body += body_bytes - s->avg_body / 16;
  if (down_until(s) == 0)
    return;
  if (atomic_exchange(&s->h->down_until, 0) != 0)
    LOG_INFO("backend server %s is up again", s->name);
  atomic_store(&s->h->backoff, 0);
}

const char *pool_server_name(const struct bconn *b) { return b->server->name; }

const struct config *pool_config(const struct pool *p) { return p->cfg; }
struct loop *pool_loop(const struct pool *p) { return p->lp; }

int pool_nbackends(const struct pool *p) { return p->nbackends; }

int pool_nservers(const struct pool *p, int backend) {
  return backend >= 0 && backend < p->nbackends
             ? p->backends[backend].nservers
             : 0;
}

void pool_server_state(const struct pool *p, int backend, int i,
                       struct pool_server_state *out) {
  const struct pool_server *s = &p->backends[backend].servers[i];
  out->backend = p->cfg->backends[backend].name;
  out->name = s->name;
  out->up = down_until(s) == 0;
  out->requests = atomic_load_explicit(&s->h->requests, memory_order_relaxed);
  out->errors = atomic_load_explicit(&s->h->errors, memory_order_relaxed);
  out->conns = atomic_load_explicit(&s->h->conns, memory_order_relaxed);
}

void pool_inherit(struct pool *p, const struct pool *old) {
  for (int i = 0; i < p->nbackends; i++) {
    const char *bname = p->cfg->backends[i].name;
    for (int j = 0; j < old->nbackends; j++) {
      if (strcmp(old->cfg->backends[j].name, bname) != 0)
        continue;
      for (int k = 0; k < p->backends[i].nservers; k++) {
        struct pool_server *s = &p->backends[i].servers[k];
        for (int m = 0; m < old->backends[j].nservers; m++) {
          const struct pool_server *o = &old->backends[j].servers[m];
          if (strcmp(o->name, s->name) != 0 || s->h == o->h)
            continue;
          atomic_store(&s->h->requests, atomic_load(&o->h->requests));
          atomic_store(&s->h->errors, atomic_load(&o->h->errors));
          atomic_store(&s->h->down_until, atomic_load(&o->h->down_until));
          atomic_store(&s->h->backoff, atomic_load(&o->h->backoff));
        }
      }
    }
  }
}
