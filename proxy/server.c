/* server.c: see server.h. */
#include "proxy/server.h"

#include <malloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "learner/learner.h"
#include "learner/recorder.h"
#include "proxy/access.h"
#include "learner/ruleset.h"
#include "proxy/admin.h"
#include "proxy/clientcount.h"
#include "proxy/conn.h"
#include "base/log.h"
#include "proxy/notify.h"
#include "learner/ruleset.h"
#include "proxy/hints.h"
#include "proxy/pool.h"
#include "proxy/pushed.h"
#include "proxy/session.h"
#include "proxy/tls.h"
#include "proxy/upstream.h"

static void on_connection(uv_stream_t *s, int status) {
  struct listener *l = s->data;
  if (status != 0) {
    LOG_WARN("listener %s: accept: %s", l->name, uv_strerror(status));
    return;
  }
  conn_accept(l);
}

static void on_check(uv_check_t *h) {
  struct server *srv = h->data;
  conn_flush_dirty(srv);
  uv_idle_stop(&srv->flush_idle);
}

static void on_idle(uv_idle_t *h) { (void)h; }

void server_adopt_rules(struct server *srv) {
  struct ruleset *rs = atomic_exchange(&srv->rules_pending, NULL);
  if (rs == NULL)
    return;
  struct ruleset *old = srv->rules;
  srv->rules = rs;
  /* Nothing on the loop keeps a ruleset across callbacks yet, so the old
   * one has no other reference. */
  ruleset_unref(old);
  LOG_DEBUG("rules: %zu rules for %zu pages now in force", ruleset_rules(rs),
            ruleset_pages(rs));
}

static void on_rules(uv_async_t *h) { server_adopt_rules(h->data); }

void server_publish_rules(void *ud, struct ruleset *rs) {
  struct server *srv = ud;
  struct ruleset *stale = atomic_exchange(&srv->rules_pending, rs);
  /* A snapshot the loop never picked up was never shared: free it here. */
  ruleset_unref(stale);
  uv_async_send(&srv->rules_async);
}

void server_wake_flush(struct server *srv) {
  /* Output marked from a timer or close callback must not wait for the
   * next socket event: an active idle handle makes this turn's poll
   * return at once, so the check phase flushes right away. */
  uv_idle_start(&srv->flush_idle, on_idle);
}

void server_conn_added(struct server *srv, struct conn *c) {
  (void)c;
  if (++srv->nconns > srv->conns_peak)
    srv->conns_peak = srv->nconns;
}

/* After a burst of connections (a spike, a slowloris) glibc keeps what
 * they freed in its heap: 2000 slow clients left herald's RSS 24 MB above
 * its idle size for good. Once the count falls to a quarter of its peak
 * since the last trim, free pages go back to the system (malloc_trim
 * releases whole free pages inside the heap too, not only at its top).
 * Small bursts are not worth the heap walk. */
#define TRIM_MIN_PEAK 256

static void maybe_trim(struct server *srv) {
  if (srv->conns_peak < TRIM_MIN_PEAK || srv->nconns > srv->conns_peak / 4)
    return;
  malloc_trim(0);
  srv->conns_peak = srv->nconns;
}

static int shutdown_finished(struct server *srv) {
  return srv->draining && srv->nconns == 0;
}

static void stop_loop(struct server *srv) {
  uv_timer_stop(&srv->drain_timer);
  uv_stop(srv->loop);
}

void server_conn_removed(struct server *srv, struct conn *c) {
  (void)c; /* conn.c keeps the list itself; the server keeps the count */
  srv->nconns--;
  maybe_trim(srv);
  if (shutdown_finished(srv))
    stop_loop(srv);
}

static void on_listener_closed(uv_handle_t *h) {
  struct listener *l = h->data;
  /* Connections accepted here hold their own SSL references. */
  tls_ctx_free(l->tls_ctx);
  free(l);
}

static void close_listener(struct listener *l) {
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

static void on_drain_deadline(uv_timer_t *t) {
  struct server *srv = t->data;
  LOG_WARN("shutdown deadline reached with %d connections open; closing them",
           srv->nconns);
  uv_stop(srv->loop);
}

void server_shutdown(struct server *srv) {
  if (srv->draining)
    return;
  srv->draining = 1;
  notify_send("STOPPING=1\nSTATUS=draining %d connections", srv->nconns);
  LOG_INFO("shutting down: draining %d connections (deadline %d ms)",
           srv->nconns, srv->cfg->shutdown_timeout);
  close_listeners(srv);
  for (struct conn *c = srv->conns; c != NULL; c = conn_next(c))
    conn_shutdown(c);
  if (shutdown_finished(srv)) {
    stop_loop(srv);
    return;
  }
  uv_timer_start(&srv->drain_timer, on_drain_deadline,
                 (uint64_t)srv->cfg->shutdown_timeout, 0);
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
  int rv = uv_queue_work(srv->loop, &job->req, reopen_work, reopen_done);
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
  l->tls = cl->tls;
  l->proxy_protocol = cl->proxy_protocol;
  l->tls_ctx = ctx;
  if (rv != 0) {
    snprintf(err, errlen, "listener %s: bad address: %s", l->name,
             uv_strerror(rv));
    tls_ctx_free(ctx);
    free(l);
    return NULL;
  }
  uv_tcp_init(srv->loop, &l->tcp);
  l->tcp.data = l;
  rv = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&ss,
                   ss.ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
  if (rv == 0)
    rv = uv_listen((uv_stream_t *)&l->tcp, 511, on_connection);
  if (rv != 0) {
    snprintf(err, errlen, "listener %s: %s", l->name, uv_strerror(rv));
    close_listener(l);
    return NULL;
  }
  return l;
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

int server_init(struct server *srv, uv_loop_t *loop, struct config *cfg,
                char *err, size_t errlen) {
  memset(srv, 0, sizeof(*srv));
  srv->loop = loop;
  srv->cfg = cfg;
  /* Holdout sampling only needs to differ between runs. */
  srv->rng = uv_hrtime() ^ ((uint64_t)uv_os_getpid() << 32) ^
             0x9e3779b97f4a7c15ull;
  srv->validators = pushed_validators_new();
  srv->clients = clientcount_new();
  srv->hint_keys = xmalloc(sizeof(*srv->hint_keys));
  hints_keys_init(srv->hint_keys, cfg->record_templates,
                  cfg->record_keep_params, cfg->record_sections);
  srv->pool = pool_new(loop, cfg, err, errlen);
  if (srv->pool == NULL)
    return UV_EINVAL;
  struct listener **tail = &srv->listeners;
  for (int i = 0; i < cfg->nlisteners; i++) {
    const struct config_listener *cl = &cfg->listeners[i];
    struct tls_ctx *ctx = NULL;
    if (cl->tls) {
      char why[1024];
      ctx = tls_ctx_new(cl->cert, cl->key, why, sizeof(why));
      if (ctx == NULL) {
        snprintf(err, errlen, "listener '%s': %s", cl->name, why);
        return UV_EINVAL;
      }
    }
    struct listener *l = listener_new(srv, cl, ctx, err, errlen);
    if (l == NULL)
      return UV_EADDRINUSE;
    *tail = l;
    tail = &l->next;
    srv->nlisteners++;
    LOG_INFO("listening on %s (%s)", l->name,
             listener_kind(cl->tls, cl->proxy_protocol));
  }
  if (start_admin(srv, cfg, &srv->admin, err, errlen) != 0)
    return UV_EADDRINUSE;
  uv_check_init(loop, &srv->flush_check);
  srv->flush_check.data = srv;
  uv_check_start(&srv->flush_check, on_check);
  uv_idle_init(loop, &srv->flush_idle);
  srv->flush_idle.data = srv;
  uv_async_init(loop, &srv->rules_async, on_rules);
  srv->rules_async.data = srv;
  uv_unref((uv_handle_t *)&srv->rules_async);
  uv_timer_init(loop, &srv->drain_timer);
  srv->drain_timer.data = srv;
  uv_signal_t *sigs[] = {&srv->sigterm, &srv->sigint, &srv->sighup,
                         &srv->sigusr1};
  int nums[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
  for (int i = 0; i < 4; i++) {
    uv_signal_init(loop, sigs[i]);
    sigs[i]->data = srv;
    uv_signal_start(sigs[i], on_signal, nums[i]);
  }
  signal(SIGPIPE, SIG_IGN);
  return 0;
}

int server_run(struct server *srv) {
  return uv_run(srv->loop, UV_RUN_DEFAULT);
}

static void close_any(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

void server_cleanup(struct server *srv) {
  /* Connections still open past the deadline are dropped: their close
   * callbacks free sessions, which cancel upstreams, which discard their
   * backend connections. Then the pool closes its idle ones. */
  struct conn *next;
  for (struct conn *c = srv->conns; c != NULL; c = next) {
    next = conn_next(c);
    conn_close(c, 0);
  }
  close_listeners(srv);
  admin_close(srv->admin);
  srv->admin = NULL;
  uv_run(srv->loop, UV_RUN_NOWAIT);
  pool_free(srv->pool);
  srv->pool = NULL;
  upstream_shutdown();
  h2_release_cache();
  uv_walk(srv->loop, close_any, NULL);
  uv_run(srv->loop, UV_RUN_DEFAULT);
  ruleset_unref(atomic_exchange(&srv->rules_pending, NULL));
  ruleset_unref(srv->rules);
  srv->rules = NULL;
  free(srv->hint_keys);
  srv->hint_keys = NULL;
  pushed_validators_free(srv->validators);
  srv->validators = NULL;
  clientcount_free(srv->clients); /* every conn uncounted itself above */
  srv->clients = NULL;
  buf_release_cache();
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
 * swapped (the old pool is retired and lives as long as requests use it),
 * and the learner's settings go to the recorder thread. Connections
 * already open keep running; each new request is routed by the
 * configuration in force when it starts. */

struct reload_job {
  uv_work_t req;
  struct server *srv;
  struct config *cfg;
  struct pool *pool;
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
  job->cfg = xcalloc(1, sizeof(*job->cfg));
  if (config_from_args(job->cfg, srv->argc, srv->argv, NULL, NULL, NULL,
                       NULL, job->err, sizeof(job->err)) != 0)
    goto fail;
  job->pool = pool_new(srv->loop, job->cfg, job->err, sizeof(job->err));
  if (job->pool == NULL)
    goto fail;
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
  if (job->pool != NULL) {
    pool_own_config(job->pool, job->cfg);
    pool_free(job->pool);
  } else {
    free(job->cfg);
  }
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
  srv->stats.reload_failures++;
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
      l->tls = cfg->listeners[i].tls;
      l->proxy_protocol = cfg->listeners[i].proxy_protocol;
    } else {
      LOG_INFO("reload: listening on %s (%s)", l->name,
               listener_kind(l->tls, l->proxy_protocol));
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

  struct pool *old = srv->pool;
  pool_inherit(job->pool, old);
  pool_own_config(job->pool, cfg);
  srv->pool = job->pool;
  srv->cfg = cfg;
  job->pool = NULL;
  job->cfg = NULL;
  pool_retire(old);
  log_level = cfg->log_level;
  access_format_use(cfg->access_format);
  if (srv->recorder != NULL) {
    struct learner_config lc;
    server_learner_config(cfg, srv, &lc);
    recorder_set_learner(srv->recorder, &lc);
  }
  srv->stats.reloads++;
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
  if (status != 0 || srv->draining) {
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
  if (srv->draining) {
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
  int rv = uv_queue_work(srv->loop, &job->req, reload_work, reload_done);
  if (rv != 0) {
    srv->reloading = 0;
    free(job);
    reload_failed(srv, uv_strerror(rv));
    notify_send("READY=1");
  }
}
