/* server.c: see server.h.
 *
 * The process side of the proxy: what is bound (listeners, the admin
 * endpoint), what is in force (the configuration; the loop holds its
 * backend pool), the signals and the reload that swaps both. Connection
 * state is the loop's (loop.c, conn.c). */
#include "proxy/server.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "learner/learner.h"
#include "learner/recorder.h"
#include "learner/ruleset.h"
#include "proxy/admin.h"
#include "proxy/conn.h"
#include "proxy/hints.h"
#include "proxy/loop.h"
#include "proxy/notify.h"
#include "proxy/pool.h"
#include "proxy/tls.h"
#include "proxy/worker.h"

struct listener {
  uv_tcp_t tcp;
  /* With more than one worker the socket is watched with a poll handle
   * and accepted here (accept4), so each connection can go to any
   * worker's loop; one worker: uv_listen as ever. */
  uv_poll_t poll;
  uv_timer_t pause; /* out of descriptors: accept again in a moment */
  int handing_out;  /* poll and pause are initialised */
  int handles_open;
  struct listener *next; /* server's list */
  struct server *srv;
  int proxy_protocol;      /* connections start with a PROXY header */
  struct tls_ctx *tls_ctx; /* one reference, NULL for cleartext */
  char name[300];          /* "host:port" for logs */
};

struct server {
  struct loop *lp; /* worker 0's: main's thread */
  /* workers = N: workers[1..N-1] run their own loops on their own
   * threads (worker.h); all N share |shared| (the process-wide limits). */
  int nworkers;
  struct worker *workers[CONFIG_MAX_WORKERS];
  struct loop_shared *shared;
  unsigned next_pick; /* round-robin among equally loaded workers */
  uv_loop_t *uv;
  /* The configuration in force, replaced whole on reload (one
   * reference). The loop's pool holds it too, and each connection pins
   * the pool it was accepted under, so a request started under one
   * configuration finishes under it. */
  struct config *cfg;
  /* How to rebuild the configuration on SIGHUP: main's argv. */
  int argc;
  char **argv;
  int reloading; /* a reload is being prepared off the loop */
  int reopening; /* SIGUSR1: the logs are being reopened off the loop */
  struct admin *admin; /* NULL when [admin] listen is off */
  struct recorder *recorder; /* NULL when recording is off; owned by main */
  struct listener *listeners; /* list; each heap-allocated */
  int nlisteners;
  uv_signal_t sigterm, sigint, sighup, sigusr1;
  uint64_t reloads, reload_failures;
};

struct loop *server_loop(const struct server *srv) { return srv->lp; }
const struct config *server_config(const struct server *srv) {
  return srv->cfg;
}
struct recorder *server_recorder(const struct server *srv) {
  return srv->recorder;
}
int server_nworkers(const struct server *srv) { return srv->nworkers; }

struct loop *server_worker_loop(const struct server *srv, int i) {
  return i == 0 ? srv->lp : worker_loop(srv->workers[i]);
}

void server_worker_stats(const struct server *srv, int i,
                         struct worker_stats *out) {
  if (i == 0)
    loop_snapshot(srv->lp, out);
  else
    worker_stats(srv->workers[i], out);
}

void server_set_recorder(struct server *srv, struct recorder *rec) {
  /* Before the workers run, or after they have stopped. */
  srv->recorder = rec;
  for (int i = 0; i < srv->nworkers; i++)
    server_worker_loop(srv, i)->recorder = rec;
}
void server_reloads(const struct server *srv, uint64_t *done,
                    uint64_t *failed) {
  *done = srv->reloads;
  *failed = srv->reload_failures;
}

static void on_connection(uv_stream_t *s, int status) {
  struct listener *l = s->data;
  if (status != 0) {
    LOG_WARN("listener %s: accept: %s", l->name, uv_strerror(status));
    return;
  }
  conn_accept(l->srv->lp, s, l->tls_ctx, l->proxy_protocol);
}

/* pick_worker: the worker with the fewest connections (open or on their
 * way), the next in turn among equals. */
static int pick_worker(struct server *srv) {
  int best = -1, best_load = 0;
  for (int k = 0; k < srv->nworkers; k++) {
    int i = (int)((srv->next_pick + (unsigned)k) % (unsigned)srv->nworkers);
    int load = i == 0 ? srv->lp->nconns : worker_load(srv->workers[i]);
    if (best < 0 || load < best_load) {
      best = i;
      best_load = load;
    }
  }
  srv->next_pick = (unsigned)best + 1;
  return best;
}

/* A burst of connections is accepted in one go, up to this many a turn,
 * so one listener cannot starve the others. */
#define ACCEPT_BATCH 64
/* Out of descriptors, the pending connection stays readable: accepting
 * pauses this long instead of spinning (libuv's uv_listen closes a spare
 * descriptor to refuse one; here the kernel's backlog holds them). */
#define ACCEPT_PAUSE_MS 100

static void on_acceptable(uv_poll_t *h, int status, int events);

static void on_pause_over(uv_timer_t *t) {
  struct listener *l = t->data;
  uv_poll_start(&l->poll, UV_READABLE, on_acceptable);
}

static void on_acceptable(uv_poll_t *h, int status, int events) {
  struct listener *l = h->data;
  struct server *srv = l->srv;
  (void)events;
  if (status != 0) {
    LOG_WARN("listener %s: poll: %s", l->name, uv_strerror(status));
    return;
  }
  uv_os_fd_t lfd;
  if (uv_fileno((uv_handle_t *)&l->tcp, &lfd) != 0)
    return;
  for (int n = 0; n < ACCEPT_BATCH; n++) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return;
      LOG_WARN("listener %s: accept: %s; pausing accepts for %d ms", l->name,
               strerror(errno), ACCEPT_PAUSE_MS);
      uv_poll_stop(&l->poll);
      uv_timer_start(&l->pause, on_pause_over, ACCEPT_PAUSE_MS, 0);
      return;
    }
    if (srv->lp->draining) {
      close(fd);
      continue;
    }
    int i = pick_worker(srv);
    if (i == 0)
      conn_adopt(srv->lp, fd, l->tls_ctx, l->proxy_protocol);
    else
      worker_hand(srv->workers[i], fd, l->tls_ctx, l->proxy_protocol);
  }
}

void server_adopt_rules(struct server *srv) {
  /* Before the workers run. */
  for (int i = 0; i < srv->nworkers; i++)
    loop_adopt_rules(server_worker_loop(srv, i));
}

void server_publish_rules(void *ud, struct ruleset *rs) {
  struct server *srv = ud;
  /* One snapshot for every loop: each holds its own reference. */
  for (int i = 1; i < srv->nworkers; i++) {
    ruleset_ref(rs);
    loop_publish_rules(worker_loop(srv->workers[i]), rs);
  }
  loop_publish_rules(srv->lp, rs);
}

static void on_listener_closed(uv_handle_t *h) {
  struct listener *l = h->data;
  if (--l->handles_open > 0)
    return;
  /* Connections accepted here hold their own SSL references. */
  tls_ctx_free(l->tls_ctx);
  free(l);
}

static void close_listener(struct listener *l) {
  uv_handle_t *p = (uv_handle_t *)&l->poll;
  uv_handle_t *t = (uv_handle_t *)&l->pause;
  if (l->handing_out && !uv_is_closing(p)) {
    uv_close(p, on_listener_closed);
    uv_close(t, on_listener_closed);
  }
  uv_handle_t *h = (uv_handle_t *)&l->tcp;
  if (!uv_is_closing(h))
    uv_close(h, on_listener_closed);
}

static void close_listeners(struct server *srv) {
  struct listener *next;
  for (struct listener *l = srv->listeners; l != NULL; l = next) {
    next = l->next;
    close_listener(l);
  }
  srv->listeners = NULL;
  srv->nlisteners = 0;
}

void server_shutdown(struct server *srv) {
  if (srv->lp->draining)
    return;
  int open = atomic_load(&srv->shared->conns);
  notify_send("STOPPING=1\nSTATUS=draining %d connections", open);
  LOG_INFO("shutting down: draining %d connections (deadline %d ms)", open,
           srv->cfg->shutdown_timeout);
  close_listeners(srv);
  for (int i = 1; i < srv->nworkers; i++)
    worker_drain(srv->workers[i], (uint64_t)srv->cfg->shutdown_timeout);
  loop_drain(srv->lp, (uint64_t)srv->cfg->shutdown_timeout);
}

/* ---- SIGUSR1: reopen the logs -------------------------------------------
 *
 * Opening files is disk I/O, so it runs on a libuv worker thread (log.c
 * swaps each file in with dup2, safe under the threads writing it); the
 * loop only logs the outcome. */

struct reopen_job {
  uv_work_t req;
  struct server *srv;
  int failed;
  char err[2200];
};

static void reopen_work(uv_work_t *req) {
  struct reopen_job *job = req->data;
  job->failed = log_reopen(job->err, sizeof(job->err)) != 0;
}

static void reopen_done(uv_work_t *req, int status) {
  struct reopen_job *job = req->data;
  job->srv->reopening = 0;
  if (status != 0)
    LOG_WARN("SIGUSR1: log reopen abandoned: %s", uv_strerror(status));
  else if (job->failed)
    LOG_ERR("SIGUSR1: %s", job->err);
  else
    LOG_INFO("SIGUSR1: logs reopened (error log %s, access log %s)",
             log_error_path()[0] ? log_error_path() : "stderr",
             log_access_path()[0] ? log_access_path() : "not a file");
  free(job);
}

static void reopen_logs(struct server *srv) {
  if (srv->reopening) {
    LOG_WARN("SIGUSR1: the logs are being reopened already");
    return;
  }
  struct reopen_job *job = xcalloc(1, sizeof(*job));
  job->srv = srv;
  job->req.data = job;
  srv->reopening = 1;
  int rv = uv_queue_work(srv->uv, &job->req, reopen_work, reopen_done);
  if (rv != 0) {
    srv->reopening = 0;
    free(job);
    LOG_ERR("SIGUSR1: cannot reopen the logs: %s", uv_strerror(rv));
  }
}

static void on_signal(uv_signal_t *h, int signum) {
  struct server *srv = h->data;
  if (signum == SIGHUP) {
    server_reload(srv);
    return;
  }
  if (signum == SIGUSR1) {
    reopen_logs(srv);
    return;
  }
  server_shutdown(srv);
}

static int listen_handing_out(struct server *srv, struct listener *l,
                              int port);

static void listener_name(char *out, size_t cap, const char *host, int port) {
  snprintf(out, cap, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
}

/* listener_new binds |cl|. |ctx| (one reference, or NULL for cleartext)
 * becomes the listener's, even on failure. */
static struct listener *listener_new(struct server *srv,
                                     const struct config_listener *cl,
                                     struct tls_ctx *ctx, char *err,
                                     size_t errlen) {
  struct sockaddr_storage ss;
  int rv;
  struct listener *l = xcalloc(1, sizeof(*l));
  if (strchr(cl->host, ':') != NULL)
    rv = uv_ip6_addr(cl->host, cl->port, (struct sockaddr_in6 *)&ss);
  else
    rv = uv_ip4_addr(cl->host, cl->port, (struct sockaddr_in *)&ss);
  listener_name(l->name, sizeof(l->name), cl->host, cl->port);
  l->srv = srv;
  l->proxy_protocol = cl->proxy_protocol;
  l->tls_ctx = ctx;
  if (rv != 0) {
    snprintf(err, errlen, "listener %s: bad address: %s", l->name,
             uv_strerror(rv));
    tls_ctx_free(ctx);
    free(l);
    return NULL;
  }
  uv_tcp_init(srv->uv, &l->tcp);
  l->tcp.data = l;
  l->handles_open = 1;
  rv = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&ss,
                   ss.ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
  if (rv == 0 && srv->nworkers == 1)
    rv = uv_listen((uv_stream_t *)&l->tcp, 511, on_connection);
  else if (rv == 0)
    rv = listen_handing_out(srv, l, cl->port);
  if (rv != 0) {
    snprintf(err, errlen, "listener %s: %s", l->name, uv_strerror(rv));
    close_listener(l);
    return NULL;
  }
  return l;
}

/* listen_handing_out listens on |l|'s bound socket and watches it with a
 * poll handle: on_acceptable accepts and hands connections out. */
static int listen_handing_out(struct server *srv, struct listener *l,
                              int port) {
  uv_os_fd_t fd;
  int rv = uv_fileno((uv_handle_t *)&l->tcp, &fd);
  if (rv != 0)
    return rv;
  /* libuv reports a bind's EADDRINUSE at uv_listen; listen() on the
   * socket left unbound would pick a port of its own. (sin_port and
   * sin6_port sit at the same offset.) */
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  rv = uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &len);
  if (rv == 0 && port != 0 &&
      ntohs(((struct sockaddr_in *)&ss)->sin_port) != port)
    rv = UV_EADDRINUSE;
  if (rv != 0)
    return rv;
  if (listen(fd, 511) != 0)
    return -errno;
  rv = uv_poll_init_socket(srv->uv, &l->poll, fd);
  if (rv != 0)
    return rv;
  uv_timer_init(srv->uv, &l->pause);
  l->poll.data = l->pause.data = l;
  l->handing_out = 1;
  l->handles_open = 3;
  return uv_poll_start(&l->poll, UV_READABLE, on_acceptable);
}

static const char *listener_kind(int tls, int proxy_protocol) {
  if (proxy_protocol)
    return tls ? "PROXY protocol, then TLS: h2, http/1.1"
               : "PROXY protocol, then cleartext: h2c, http/1.1";
  return tls ? "TLS: h2, http/1.1" : "cleartext: h2c, http/1.1";
}

static int start_admin(struct server *srv, const struct config *cfg,
                       struct admin **out, char *err, size_t errlen) {
  *out = NULL;
  if (cfg->admin_port == 0)
    return 0;
  int rv = admin_start(out, srv, cfg->admin_host, cfg->admin_port, err,
                       errlen);
  if (rv == 0)
    LOG_INFO("admin endpoint on http://%s/ (/metrics, /healthz)",
             admin_name(*out));
  return rv;
}

/* cpus_allowed: the CPUs this process may run on (workers = auto). */
static int cpus_allowed(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) != 0)
    return 1;
  int n = CPU_COUNT(&set);
  if (n < 1)
    n = 1;
  return n > CONFIG_MAX_WORKERS ? CONFIG_MAX_WORKERS : n;
}

/* prepare_loop gives worker |i|'s loop its page-key settings and the
 * backend pool of |cfg|. */
static int prepare_loop(struct server *srv, int i, struct config *cfg,
                        char *err, size_t errlen) {
  struct loop *lp = server_worker_loop(srv, i);
  lp->hint_keys = xmalloc(sizeof(*lp->hint_keys));
  hints_keys_init(lp->hint_keys, cfg->record_templates,
                  cfg->record_keep_params, cfg->record_sections);
  struct pool *pool = pool_new(lp, cfg, err, errlen);
  if (pool == NULL)
    return -1;
  loop_use(lp, pool);
  return 0;
}

struct server *server_new(uv_loop_t *uv, struct config *cfg, int argc,
                          char **argv, char *err, size_t errlen) {
  struct server *srv = xcalloc(1, sizeof(*srv));
  srv->uv = uv;
  srv->cfg = cfg;
  srv->argc = argc;
  srv->argv = argv;
  srv->nworkers = cfg->workers > 0 ? cfg->workers : cpus_allowed();
  srv->shared = loop_shared_new();
  srv->lp = loop_new(uv, srv);
  loop_set_worker(srv->lp, 0, srv->nworkers, srv->shared);
  for (int i = 1; i < srv->nworkers; i++)
    srv->workers[i] = worker_new(srv, i, srv->nworkers, srv->shared);
  for (int i = 0; i < srv->nworkers; i++) {
    if (prepare_loop(srv, i, cfg, err, errlen) != 0)
      goto fail;
  }
  struct listener **tail = &srv->listeners;
  for (int i = 0; i < cfg->nlisteners; i++) {
    const struct config_listener *cl = &cfg->listeners[i];
    struct tls_ctx *ctx = NULL;
    if (cl->tls) {
      char why[1024];
      ctx = tls_ctx_new(cl->cert, cl->key, why, sizeof(why));
      if (ctx == NULL) {
        snprintf(err, errlen, "listener '%s': %s", cl->name, why);
        goto fail;
      }
    }
    struct listener *l = listener_new(srv, cl, ctx, err, errlen);
    if (l == NULL)
      goto fail;
    *tail = l;
    tail = &l->next;
    srv->nlisteners++;
    LOG_INFO("listening on %s (%s)", l->name,
             listener_kind(cl->tls, cl->proxy_protocol));
  }
  if (start_admin(srv, cfg, &srv->admin, err, errlen) != 0)
    goto fail;
  uv_signal_t *sigs[] = {&srv->sigterm, &srv->sigint, &srv->sighup,
                         &srv->sigusr1};
  int nums[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
  for (int i = 0; i < 4; i++) {
    uv_signal_init(uv, sigs[i]);
    sigs[i]->data = srv;
    uv_signal_start(sigs[i], on_signal, nums[i]);
  }
  /* Process-wide, and the same for every server: a client that goes
   * away must be a write error, not a signal. */
  signal(SIGPIPE, SIG_IGN);
  return srv;
fail:
  server_free(srv);
  return NULL;
}

int server_run(struct server *srv) {
  if (srv->nworkers > 1)
    LOG_INFO("%d workers: one event loop thread each", srv->nworkers);
  for (int i = 1; i < srv->nworkers; i++) {
    int rv = worker_start(srv->workers[i]);
    if (rv != 0) {
      /* Its share goes to the others: pick_worker sees its inbox grow. */
      LOG_ERR("worker %d: cannot start its thread: %s", i, uv_strerror(rv));
      abort();
    }
  }
  int rv = uv_run(srv->uv, UV_RUN_DEFAULT);
  /* Worker 0 has drained; the others finish theirs (each within the
   * same deadline). */
  for (int i = 1; i < srv->nworkers; i++)
    worker_join(srv->workers[i]);
  return rv;
}

void server_free(struct server *srv) {
  if (srv == NULL)
    return;
  close_listeners(srv);
  admin_close(srv->admin);
  srv->admin = NULL;
  loop_close_all(srv->lp);
  for (int i = 1; i < srv->nworkers; i++)
    worker_free(srv->workers[i]);
  loop_free(srv->lp);
  loop_shared_free(srv->shared);
  config_unref(srv->cfg);
  free(srv);
}

/* ---- reload ---------------------------------------------------------------
 *
 * SIGHUP builds a whole new configuration on a libuv worker thread: the
 * INI file and flags (config_from_args, the same path as at start), the
 * backend pool with its names resolved, and a TLS context per TLS listener
 * (reading certificate files). None of that may run on the loop. Back on
 * the loop, reload_done binds the listeners that are new, and only if every
 * bind succeeds does it commit: listeners whose address is gone are closed,
 * kept ones get their new TLS context, the pool and configuration are
 * swapped (the old pool is retired and lives as long as connections
 * pinned to it), and the learner's settings go to the recorder thread.
 * Connections already open keep running under the configuration they
 * were accepted with; new connections get the new one. */

struct reload_job {
  uv_work_t req;
  struct server *srv;
  struct config *cfg;
  struct pool *pools[CONFIG_MAX_WORKERS]; /* one per worker */
  struct tls_ctx *tls[CONFIG_MAX_LISTENERS];
  int failed;
  char err[1536];
  char restart[512]; /* changed keys that take a restart */
};

void server_learner_config(const struct config *cfg, struct server *srv,
                           struct learner_config *out) {
  memset(out, 0, sizeof(*out));
  out->half_life = cfg->learn_half_life;
  learner_params_from_config(cfg, &out->params);
  out->section_depth = cfg->record_sections;
  out->interval_ms = (uint32_t)cfg->learn_interval;
  out->recompute_after = (uint32_t)cfg->learn_recompute_after;
  out->deliver_mode = cfg->deliver_mode;
  out->publish = server_publish_rules;
  out->publish_ud = srv;
  memcpy(out->routes, cfg->routes, sizeof(out->routes));
  out->nroutes = cfg->nroutes;
}

/* restart_keys lists the keys whose change a reload cannot apply: the
 * recorder's own settings (its thread, queue and database are set up once),
 * the log files (opening a file is disk I/O; SIGUSR1 reopens the same
 * names) and the service user (herald no longer has the rights to switch). */
static void restart_keys(const struct config *o, const struct config *n,
                         char *out, size_t cap) {
  struct {
    const char *name;
    int changed;
  } keys[] = {
      {"log.access_log", strcmp(o->access_log, n->access_log) != 0},
      {"log.error_log", strcmp(o->error_log, n->error_log) != 0},
      {"server.user", strcmp(o->server_user, n->server_user) != 0},
      {"server.group", strcmp(o->server_group, n->server_group) != 0},
      {"server.workers", o->workers != n->workers},
      {"store.db", strcmp(o->db, n->db) != 0},
      {"record.enabled", o->record_enabled != n->record_enabled},
      {"record.window", o->record_window != n->record_window},
      {"record.classes", o->record_single_class != n->record_single_class},
      {"record.templates",
       strcmp(o->record_templates, n->record_templates) != 0},
      {"record.keep_params",
       strcmp(o->record_keep_params, n->record_keep_params) != 0},
      {"record.sections", o->record_sections != n->record_sections},
      {"record.retain_visits",
       o->record_retain_visits != n->record_retain_visits},
      {"record.queue", o->record_queue != n->record_queue},
      {"record.flush", o->record_flush != n->record_flush},
      {"learn.half_life", o->learn_half_life != n->learn_half_life},
      {"clients.ipv4_prefix", o->client_ipv4_prefix != n->client_ipv4_prefix},
      {"clients.ipv6_prefix", o->client_ipv6_prefix != n->client_ipv6_prefix},
  };
  size_t len = 0;
  out[0] = '\0';
  for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
    if (!keys[i].changed || len >= cap)
      continue;
    int w = snprintf(out + len, cap - len, "%s%s", len ? ", " : "",
                     keys[i].name);
    if (w > 0)
      len += (size_t)w;
  }
}

static void reload_work(uv_work_t *req) {
  struct reload_job *job = req->data;
  struct server *srv = job->srv;
  job->cfg = config_new();
  if (config_from_args(job->cfg, srv->argc, srv->argv, NULL, NULL, NULL,
                       NULL, job->err, sizeof(job->err)) != 0)
    goto fail;
  for (int i = 0; i < srv->nworkers; i++) {
    /* worker_loop only reads a pointer set before the workers ran. */
    job->pools[i] = pool_new(server_worker_loop(srv, i), job->cfg, job->err,
                             sizeof(job->err));
    if (job->pools[i] == NULL)
      goto fail;
  }
  for (int i = 0; i < job->cfg->nlisteners; i++) {
    const struct config_listener *cl = &job->cfg->listeners[i];
    if (!cl->tls)
      continue;
    char why[1024];
    job->tls[i] = tls_ctx_new(cl->cert, cl->key, why, sizeof(why));
    if (job->tls[i] == NULL) {
      snprintf(job->err, sizeof(job->err), "listener '%s': %s", cl->name,
               why);
      goto fail;
    }
  }
  /* srv->cfg cannot change while a reload is being prepared. */
  restart_keys(srv->cfg, job->cfg, job->restart, sizeof(job->restart));
  return;
fail:
  job->failed = 1;
}

static void job_free(struct reload_job *job) {
  for (int i = 0; i < CONFIG_MAX_LISTENERS; i++)
    tls_ctx_free(job->tls[i]);
  for (int i = 0; i < CONFIG_MAX_WORKERS; i++)
    pool_free(job->pools[i]);
  config_unref(job->cfg);
  free(job);
}

static struct listener *find_listener(struct server *srv, const char *name) {
  for (struct listener *l = srv->listeners; l != NULL; l = l->next) {
    if (strcmp(l->name, name) == 0)
      return l;
  }
  return NULL;
}

static void reload_failed(struct server *srv, const char *why) {
  srv->reload_failures++;
  LOG_ERR("reload failed: %s; keeping the running configuration", why);
}

/* reload_apply puts |job| in force, or changes nothing and returns -1. */
static int reload_apply(struct server *srv, struct reload_job *job) {
  struct config *cfg = job->cfg;
  struct listener *kept[CONFIG_MAX_LISTENERS] = {0};
  struct listener *fresh[CONFIG_MAX_LISTENERS] = {0};
  struct admin *admin = srv->admin;
  char err[1024];
  int added = 0, removed = 0;

  /* 1. Bind what is new. Nothing in force changes until all of it binds. */
  for (int i = 0; i < cfg->nlisteners; i++) {
    const struct config_listener *cl = &cfg->listeners[i];
    char name[300];
    listener_name(name, sizeof(name), cl->host, cl->port);
    kept[i] = find_listener(srv, name);
    if (kept[i] != NULL)
      continue;
    fresh[i] = listener_new(srv, cl, job->tls[i], err, sizeof(err));
    job->tls[i] = NULL; /* the listener's now, bound or not */
    if (fresh[i] == NULL)
      goto rollback;
    added++;
  }
  if (cfg->admin_port != 0 &&
      !admin_same_address(srv->admin, cfg->admin_host, cfg->admin_port)) {
    if (start_admin(srv, cfg, &admin, err, sizeof(err)) != 0)
      goto rollback;
  } else if (cfg->admin_port == 0) {
    admin = NULL;
  }

  /* 2. Commit. */
  struct listener *next;
  for (struct listener *l = srv->listeners; l != NULL; l = next) {
    next = l->next;
    int keep = 0;
    for (int i = 0; i < cfg->nlisteners; i++)
      keep |= kept[i] == l;
    if (!keep) {
      LOG_INFO("reload: no longer listening on %s", l->name);
      close_listener(l);
      removed++;
    }
  }
  struct listener **tail = &srv->listeners;
  for (int i = 0; i < cfg->nlisteners; i++) {
    struct listener *l = kept[i] != NULL ? kept[i] : fresh[i];
    if (kept[i] != NULL) {
      /* New connections get the new certificate; open ones keep theirs. */
      tls_ctx_free(l->tls_ctx);
      l->tls_ctx = job->tls[i];
      job->tls[i] = NULL;
      l->proxy_protocol = cfg->listeners[i].proxy_protocol;
    } else {
      LOG_INFO("reload: listening on %s (%s)", l->name,
               listener_kind(l->tls_ctx != NULL, l->proxy_protocol));
    }
    *tail = l;
    tail = &l->next;
  }
  *tail = NULL;
  srv->nlisteners = cfg->nlisteners;
  if (admin != srv->admin) {
    admin_close(srv->admin);
    srv->admin = admin;
  }

  /* New connections pin the new pool and configuration; open ones keep
   * theirs (conn.h), so the old pool lives on while they do. */
  pool_inherit(job->pools[0], srv->lp->pool);
  loop_use(srv->lp, job->pools[0]);
  job->pools[0] = NULL;
  for (int i = 1; i < srv->nworkers; i++) {
    worker_use_pool(srv->workers[i], job->pools[i]);
    job->pools[i] = NULL;
  }
  config_unref(srv->cfg);
  srv->cfg = cfg;
  job->cfg = NULL;
  log_level = cfg->log_level;
  if (srv->recorder != NULL) {
    struct learner_config lc;
    server_learner_config(cfg, srv, &lc);
    recorder_set_learner(srv->recorder, &lc);
  }
  srv->reloads++;
  LOG_INFO("reload: configuration %s in force: %d listeners (%d added, %d "
           "removed), %d backends, %d routes",
           cfg->source[0] ? cfg->source : "(flags)", cfg->nlisteners, added,
           removed, cfg->nbackends, cfg->nroutes);
  if (job->restart[0] != '\0')
    LOG_WARN("reload: changed keys that take effect only after a restart "
             "(the running values stay): %s", job->restart);
  return 0;

rollback:
  for (int i = 0; i < cfg->nlisteners; i++) {
    if (fresh[i] != NULL)
      close_listener(fresh[i]);
  }
  reload_failed(srv, err);
  return -1;
}

static void reload_done(uv_work_t *req, int status) {
  struct reload_job *job = req->data;
  struct server *srv = job->srv;
  srv->reloading = 0;
  if (status != 0 || srv->lp->draining) {
    LOG_INFO("reload abandoned: shutting down");
  } else if (job->failed) {
    reload_failed(srv, job->err);
    notify_send("READY=1\nSTATUS=serving; the last reload failed, the "
                "previous configuration stays");
  } else {
    int rv = reload_apply(srv, job);
    notify_send("READY=1\nSTATUS=serving%s",
                rv == 0 ? "" : "; the last reload failed, the previous "
                               "configuration stays");
  }
  job_free(job);
}

void server_reload(struct server *srv) {
  if (srv->lp->draining) {
    LOG_WARN("SIGHUP during shutdown: not reloading");
    return;
  }
  if (srv->reloading) {
    LOG_WARN("SIGHUP: a reload is already in progress; send it again once "
             "it has finished");
    return;
  }
  if (srv->argv == NULL) {
    LOG_WARN("SIGHUP: no command line to reload from");
    return;
  }
  LOG_INFO("SIGHUP: reloading the configuration");
  /* MONOTONIC_USEC lets systemd (Type=notify-reload) match the READY=1
   * that ends this reload; older systemd ignores it. */
  notify_send("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
              (unsigned long long)(uv_hrtime() / 1000));
  struct reload_job *job = xcalloc(1, sizeof(*job));
  job->srv = srv;
  job->req.data = job;
  srv->reloading = 1;
  int rv = uv_queue_work(srv->uv, &job->req, reload_work, reload_done);
  if (rv != 0) {
    srv->reloading = 0;
    free(job);
    reload_failed(srv, uv_strerror(rv));
    notify_send("READY=1");
  }
}
