/* server.c: see server.h. */
#include "proxy/server.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "proxy/buf.h"
#include "proxy/conn.h"
#include "proxy/log.h"
#include "learner/ruleset.h"
#include "proxy/hints.h"
#include "proxy/pool.h"
#include "proxy/pushed.h"
#include "proxy/session.h"
#include "proxy/tls.h"
#include "proxy/upstream.h"
#include "proxy/util.h"

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
  srv->nconns++;
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
  if (shutdown_finished(srv))
    stop_loop(srv);
}

static void close_listeners(struct server *srv) {
  for (int i = 0; i < srv->nlisteners; i++) {
    uv_handle_t *h = (uv_handle_t *)&srv->listeners[i].tcp;
    if (!uv_is_closing(h))
      uv_close(h, NULL);
  }
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

static void on_signal(uv_signal_t *h, int signum) {
  struct server *srv = h->data;
  if (signum == SIGHUP) {
    LOG_WARN("SIGHUP: configuration reload is not implemented yet; "
             "keeping the running configuration");
    return;
  }
  server_shutdown(srv);
}

static int bind_listener(struct server *srv, struct listener *l,
                         const struct config_listener *cl, char *err,
                         size_t errlen) {
  struct sockaddr_storage ss;
  int rv;
  if (strchr(cl->host, ':') != NULL)
    rv = uv_ip6_addr(cl->host, cl->port, (struct sockaddr_in6 *)&ss);
  else
    rv = uv_ip4_addr(cl->host, cl->port, (struct sockaddr_in *)&ss);
  snprintf(l->name, sizeof(l->name), strchr(cl->host, ':') ? "[%s]:%d" : "%s:%d",
           cl->host, cl->port);
  if (rv != 0) {
    snprintf(err, errlen, "listener %s: bad address: %s", l->name,
             uv_strerror(rv));
    return rv;
  }
  l->srv = srv;
  l->tls = cl->tls;
  if (cl->tls) {
    l->tls_ctx = tls_ctx_new(cl->cert, cl->key, err, errlen);
    if (l->tls_ctx == NULL)
      return UV_EINVAL;
  }
  uv_tcp_init(srv->loop, &l->tcp);
  l->tcp.data = l;
  rv = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&ss,
                   ss.ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
  if (rv == 0)
    rv = uv_listen((uv_stream_t *)&l->tcp, 511, on_connection);
  if (rv != 0) {
    snprintf(err, errlen, "listener %s: %s", l->name, uv_strerror(rv));
    return rv;
  }
  return 0;
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
  srv->hint_keys = xmalloc(sizeof(*srv->hint_keys));
  hints_keys_init(srv->hint_keys, cfg->record_templates,
                  cfg->record_keep_params);
  srv->pool = pool_new(loop, cfg, err, errlen);
  if (srv->pool == NULL)
    return UV_EINVAL;
  srv->listeners = xcalloc((size_t)cfg->nlisteners, sizeof(*srv->listeners));
  for (int i = 0; i < cfg->nlisteners; i++) {
    int rv = bind_listener(srv, &srv->listeners[i], &cfg->listeners[i], err,
                           errlen);
    srv->nlisteners = i + 1;
    if (rv != 0)
      return rv;
    LOG_INFO("listening on %s (%s)", srv->listeners[i].name,
             cfg->listeners[i].tls ? "TLS: h2, http/1.1"
                                   : "cleartext: h2c, http/1.1");
  }
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
  uv_signal_t *sigs[] = {&srv->sigterm, &srv->sigint, &srv->sighup};
  int nums[] = {SIGTERM, SIGINT, SIGHUP};
  for (int i = 0; i < 3; i++) {
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
  uv_run(srv->loop, UV_RUN_NOWAIT);
  pool_free(srv->pool);
  srv->pool = NULL;
  upstream_shutdown();
  h2_release_cache();
  uv_walk(srv->loop, close_any, NULL);
  uv_run(srv->loop, UV_RUN_DEFAULT);
  for (int i = 0; i < srv->nlisteners; i++)
    tls_ctx_free(srv->listeners[i].tls_ctx);
  free(srv->listeners);
  ruleset_unref(atomic_exchange(&srv->rules_pending, NULL));
  ruleset_unref(srv->rules);
  srv->rules = NULL;
  free(srv->hint_keys);
  srv->hint_keys = NULL;
  pushed_validators_free(srv->validators);
  srv->validators = NULL;
  buf_release_cache();
}
