/* admin.c: see admin.h.
 *
 * Each admin connection reads one request through llhttp (the same parser
 * as the client side, so no HTTP is parsed by hand), pauses the parser at
 * the end of the first message, writes one response built in a growing
 * buffer, shuts down its write side and closes. One timer per connection
 * bounds the whole exchange. */
#include "proxy/admin.h"

#include <llhttp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/log.h"
#include "base/util.h"
#include "learner/recorder.h"
#include "learner/ruleset.h"
#include "base/log.h"
#include "proxy/loop.h"
#include "proxy/pool.h"
#include "proxy/server.h"
#include "proxy/upstream.h"
#include "proxy/worker.h"

struct admin_conn;

struct admin {
  uv_tcp_t tcp;
  struct server *srv;
  char host[64];
  int port;
  char name[80];
  struct admin_conn *conns;
  int nconns;
  int handles_open; /* the listener plus every conn; freed at 0 */
  int closing;
};

struct admin_conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_write_t wreq;
  uv_shutdown_t sreq;
  struct admin *a;
  struct admin_conn *prev, *next;
  llhttp_t parser;
  char url[ADMIN_MAX_URL];
  size_t url_len;
  int url_too_long;
  int answered; /* a response is queued; ignore further input */
  int handles_open;
  char head[256];
  struct mbuf body;
  char rbuf[4096];
};

static const llhttp_settings_t settings;

/* ---- the growing buffer ------------------------------------------------ */

void mbuf_printf(struct mbuf *b, const char *fmt, ...) {
  for (;;) {
    size_t room = b->cap - b->len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0)
      return;
    if ((size_t)n < room) {
      b->len += (size_t)n;
      return;
    }
    size_t cap = b->cap ? b->cap * 2 : 4096;
    while (cap - b->len <= (size_t)n)
      cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
  }
}

void mbuf_free(struct mbuf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

/* ---- the exposition ------------------------------------------------------ */

static void help(struct mbuf *b, const char *name, const char *type,
                 const char *text) {
  mbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static void counter(struct mbuf *b, const char *name, const char *text,
                    uint64_t v) {
  help(b, name, "counter", text);
  mbuf_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

static void gauge(struct mbuf *b, const char *name, const char *text,
                  double v) {
  help(b, name, "gauge", text);
  mbuf_printf(b, "%s %.17g\n", name, v);
}

/* label writes a Prometheus label value: backslash, quote and newline
 * escaped (a backend name is free text from the configuration). */
static void label(struct mbuf *b, const char *v) {
  for (; *v != '\0'; v++) {
    if (*v == '\\' || *v == '"')
      mbuf_printf(b, "\\%c", *v);
    else if (*v == '\n')
      mbuf_printf(b, "\\n");
    else
      mbuf_printf(b, "%c", *v);
  }
}

/* backend_servers: per server of every backend, up or down and its
 * request and error counts. */
static void backend_servers(struct server *srv, struct mbuf *b) {
  const struct loop *lp = server_loop(srv);
  static const struct {
    const char *name, *type, *help;
  } m[] = {
      {"herald_backend_server_up", "gauge",
       "1 while the server is up, 0 once a connection to it or an exchange "
       "with it failed, until one succeeds."},
      {"herald_backend_server_requests_total", "counter",
       "Requests sent to the server."},
      {"herald_backend_server_errors_total", "counter",
       "Connections to the server and exchanges with it that failed "
       "(refused, timed out, closed early, malformed response)."},
      {"herald_backend_server_connections", "gauge",
       "Connections to the server open now, idle and connecting included, "
       "summed over workers (each worker opens at most "
       "limits.backend_max_connections)."},
  };
  for (size_t k = 0; k < ARRAY_SIZE(m); k++) {
    help(b, m[k].name, m[k].type, m[k].help);
    for (int i = 0; i < pool_nbackends(lp->pool); i++) {
      for (int j = 0; j < pool_nservers(lp->pool, i); j++) {
        struct pool_server_state st;
        pool_server_state(lp->pool, i, j, &st);
        uint64_t v = k == 0   ? (uint64_t)st.up
                     : k == 1 ? st.requests
                     : k == 2 ? st.errors
                              : (uint64_t)(st.conns > 0 ? st.conns : 0);
        mbuf_printf(b, "%s{backend=\"", m[k].name);
        label(b, st.backend);
        mbuf_printf(b, "\",server=\"");
        label(b, st.name);
        mbuf_printf(b, "\"} %llu\n", (unsigned long long)v);
      }
    }
  }
}

/* admin_health writes why herald is not healthy into |b| and returns 0,
 * or returns 1 (nothing written) when it is: degraded when every server
 * of some backend is down, since that backend's requests can only fail. */
int admin_health(struct server *srv, struct mbuf *b) {
  const struct loop *lp = server_loop(srv);
  int healthy = 1;
  if (lp->draining) {
    mbuf_printf(b, "draining\n");
    return 0;
  }
  for (int i = 0; i < pool_nbackends(lp->pool); i++) {
    int n = pool_nservers(lp->pool, i), down = 0;
    struct pool_server_state st;
    for (int j = 0; j < n; j++) {
      pool_server_state(lp->pool, i, j, &st);
      down += !st.up;
    }
    if (n == 0 || down < n)
      continue;
    if (healthy)
      mbuf_printf(b, "degraded\n");
    healthy = 0;
    mbuf_printf(b, "backend '%s': %s down:", st.backend,
                n == 1 ? "its server is" : "all its servers are");
    for (int j = 0; j < n; j++) {
      pool_server_state(lp->pool, i, j, &st);
      mbuf_printf(b, " %s", st.name);
    }
    mbuf_printf(b, "\n");
  }
  return healthy;
}

/* add_stats adds |w|'s counters to |sum|. */
static void add_stats(struct worker_stats *sum, const struct worker_stats *w) {
  /* Every field of both structs is a 64-bit counter or gauge. */
  _Static_assert(sizeof(struct loop_stats) % sizeof(uint64_t) == 0 &&
                 sizeof(struct upstream_stats) % sizeof(uint64_t) == 0,
                 "stats are arrays of 64-bit counts");
  uint64_t *d = (uint64_t *)&sum->stats;
  const uint64_t *s = (const uint64_t *)&w->stats;
  for (size_t i = 0; i < sizeof(sum->stats) / sizeof(uint64_t); i++)
    d[i] += s[i];
  d = (uint64_t *)&sum->upstream;
  s = (const uint64_t *)&w->upstream;
  for (size_t i = 0; i < sizeof(sum->upstream) / sizeof(uint64_t); i++)
    d[i] += s[i];
  sum->nconns += w->nconns;
}

void admin_worker_totals(struct server *srv, struct worker_stats *sum) {
  memset(sum, 0, sizeof(*sum));
  for (int i = 0; i < server_nworkers(srv); i++) {
    struct worker_stats w;
    server_worker_stats(srv, i, &w);
    add_stats(sum, &w);
  }
}

/* per_worker: connections and requests of each worker, so that an
 * imbalance shows. */
static void per_worker(struct server *srv, struct mbuf *b) {
  int n = server_nworkers(srv);
  help(b, "herald_worker_connections_active", "gauge",
       "Client connections open, by worker (event-loop thread).");
  for (int i = 0; i < n; i++) {
    struct worker_stats w;
    server_worker_stats(srv, i, &w);
    mbuf_printf(b, "herald_worker_connections_active{worker=\"%d\"} %d\n",
                i, w.nconns);
  }
  help(b, "herald_worker_requests_total", "counter",
       "Client requests, by worker (event-loop thread).");
  for (int i = 0; i < n; i++) {
    struct worker_stats w;
    server_worker_stats(srv, i, &w);
    mbuf_printf(b, "herald_worker_requests_total{worker=\"%d\"} %llu\n", i,
                (unsigned long long)w.stats.requests);
  }
}

void admin_metrics(struct server *srv, struct mbuf *b) {
  const struct loop *lp = server_loop(srv);
  /* Every worker's counters, summed (each as of its last loop turn). */
  struct worker_stats total;
  admin_worker_totals(srv, &total);
  const struct loop_stats *st = &total.stats;
  uint64_t reloads, reload_failures;
  server_reloads(srv, &reloads, &reload_failures);
  static const char *classes[] = {"", "1xx", "2xx", "3xx", "4xx", "5xx"};

  counter(b, "herald_connections_accepted_total",
          "Client connections accepted.", st->conns_accepted);
  counter(b, "herald_connections_refused_total",
          "Client connections closed at once (max_connections with none "
          "idle, max_connections_per_client, draining).",
          st->conns_refused);
  counter(b, "herald_connections_client_limited_total",
          "Client connections refused because their address had "
          "max_connections_per_client open.",
          st->conns_client_limited);
  counter(b, "herald_connections_evicted_total",
          "Idle client connections closed to make room at max_connections.",
          st->conns_evicted);
  gauge(b, "herald_connections_active", "Client connections open.",
        (double)total.nconns);
  gauge(b, "herald_http2_streams_active", "HTTP/2 streams open.",
        (double)st->h2_streams_active);
  help(b, "herald_http2_stream_timeouts_total", "counter",
       "HTTP/2 streams reset because the client stalled them: no request "
       "body bytes for timeouts.idle (request_body), or no flow-control "
       "window for timeouts.write (send).");
  mbuf_printf(b, "herald_http2_stream_timeouts_total{kind=\"request_body\"} "
              "%llu\n", (unsigned long long)st->h2_body_timeouts);
  mbuf_printf(b, "herald_http2_stream_timeouts_total{kind=\"send\"} %llu\n",
              (unsigned long long)st->h2_send_timeouts);

  help(b, "herald_requests_total", "counter",
       "Client requests, by protocol.");
  mbuf_printf(b, "herald_requests_total{protocol=\"h1\"} %llu\n",
              (unsigned long long)st->h1_requests);
  mbuf_printf(b, "herald_requests_total{protocol=\"h2\"} %llu\n",
              (unsigned long long)st->h2_requests);

  help(b, "herald_responses_total", "counter",
       "Responses to clients, by protocol and status class.");
  for (int i = 1; i < 6; i++) {
    uint64_t h1 = st->h1_responses[i];
    uint64_t h2 = st->responses[i] - h1;
    mbuf_printf(b, "herald_responses_total{protocol=\"h1\",class=\"%s\"} "
                "%llu\n", classes[i], (unsigned long long)h1);
    mbuf_printf(b, "herald_responses_total{protocol=\"h2\",class=\"%s\"} "
                "%llu\n", classes[i], (unsigned long long)h2);
  }

  const struct upstream_stats *us = &total.upstream;
  gauge(b, "herald_backend_requests_active",
        "Backend exchanges in progress.", (double)us->active);
  gauge(b, "herald_backend_requests_queued",
        "Requests waiting for a connection to a server at "
        "limits.backend_max_connections.", (double)us->queued);
  counter(b, "herald_backend_queue_timeouts_total",
          "Requests answered 503 after waiting timeouts.backend_queue for a "
          "backend connection (never sent).", us->queue_timeouts);
  counter(b, "herald_backend_queue_full_total",
          "Requests answered 503 at once because limits.backend_queue "
          "requests already waited for their server (never sent).",
          us->queue_full);
  counter(b, "herald_backend_pipelined_total",
          "Requests sent behind another on a busy backend connection "
          "(limits.backend_pipeline).", us->pipelined);
  counter(b, "herald_backend_pipeline_retries_total",
          "Pipelined requests resent on another connection because theirs "
          "closed or was abandoned before their response began.",
          us->pipeline_retries);
  counter(b, "herald_backend_errors_total",
          "Backend exchanges that failed (502, 504 or a cut-short body).",
          st->backend_errors);
  counter(b, "herald_backend_timeouts_total",
          "Backend exchanges that failed on a connect or read timeout.",
          st->backend_timeouts);
  help(b, "herald_backend_response_seconds", "histogram",
       "Time from forwarding a request to the last byte of a complete "
       "backend response.");
  uint64_t cum = 0;
  for (int i = 0; i < UPSTREAM_LATENCY_BUCKETS; i++) {
    cum += us->latency[i];
    if (i < UPSTREAM_LATENCY_BUCKETS - 1)
      mbuf_printf(b, "herald_backend_response_seconds_bucket{le=\"%g\"} "
                  "%llu\n", upstream_latency_bounds_ms[i] / 1000.0,
                  (unsigned long long)cum);
    else
      mbuf_printf(b, "herald_backend_response_seconds_bucket{le=\"+Inf\"} "
                  "%llu\n", (unsigned long long)cum);
  }
  mbuf_printf(b, "herald_backend_response_seconds_sum %.6f\n",
              (double)us->latency_sum_us / 1e6);
  mbuf_printf(b, "herald_backend_response_seconds_count %llu\n",
              (unsigned long long)us->responses);

  counter(b, "herald_early_hints_sent_total",
          "Navigations answered with a 103 Early Hints.", st->hints_sent);
  counter(b, "herald_backend_early_hints_forwarded_total",
          "Backend 103s passed on to a navigation that had none, rebuilt "
          "from their same-origin preload links.",
          st->backend_hints_forwarded);
  counter(b, "herald_backend_early_hints_dropped_total",
          "Backend 103s not passed on: the request already had a 103 (or is "
          "no navigation a 103 may go to), or they named nothing herald may "
          "name.",
          st->backend_hints_dropped);
  counter(b, "herald_early_hints_shadow_total",
          "Navigations that would have got a 103 (deliver.mode = shadow).",
          st->hints_shadow);
  counter(b, "herald_pushes_promised_total", "PUSH_PROMISEs sent.",
          st->pushes_promised);
  counter(b, "herald_pushes_completed_total",
          "Pushed responses delivered whole.", st->pushes_completed);
  counter(b, "herald_pushes_cancelled_total",
          "Pushed streams the client reset.", st->pushes_cancelled);
  counter(b, "herald_pushes_refused_total",
          "Promised pushes reset because the response was not pushable.",
          st->pushes_refused);
  counter(b, "herald_pushes_wasted_total",
          "Pushed resources the client requested again anyway.",
          st->pushes_wasted);
  counter(b, "herald_push_bytes_total", "Body bytes of pushed responses.",
          st->push_bytes);
  counter(b, "herald_pushes_skipped_total",
          "Pushes not made: the client's stream limit or the connection "
          "window was reached.",
          st->pushes_skipped);
  counter(b, "herald_pushes_digest_skipped_total",
          "Pushes not made: the browser's herald_pd cookie says it has them.",
          st->pushes_digest_skipped);
  counter(b, "herald_holdout_visits_total",
          "Navigations held out of delivery for measurement.",
          st->holdout_visits);
  counter(b, "herald_verify_withheld_total",
          "Resources left out of a navigation's hints or pushes so the "
          "learner sees whether the page still asks for them.",
          st->verify_withheld);

  gauge(b, "herald_rules", "Rules in the snapshot in force.",
        lp->rules ? (double)ruleset_rules(lp->rules) : 0);
  gauge(b, "herald_rule_pages", "Pages with rules in the snapshot in force.",
        lp->rules ? (double)ruleset_pages(lp->rules) : 0);

  struct recorder_stats rs = {0};
  if (server_recorder(srv) != NULL)
    recorder_stats(server_recorder(srv), &rs);
  gauge(b, "herald_recorder_enabled",
        "1 while recording into the database.", rs.enabled);
  gauge(b, "herald_recorder_queue_depth",
        "Observations in the recorder's last batch.", rs.queue_depth);
  counter(b, "herald_recorder_observations_total",
          "Observations queued for the recorder.", rs.posted);
  counter(b, "herald_recorder_dropped_total",
          "Observations dropped because the queue was full.", rs.dropped);
  counter(b, "herald_recorder_visits_total", "Visits written.", rs.visits);
  counter(b, "herald_recorder_write_errors_total",
          "Recorder and learner write failures.", rs.write_errors);
  counter(b, "herald_learner_cycles_total", "Learner recomputes.",
          rs.learner_cycles);
  gauge(b, "herald_learner_last_cycle_seconds",
        "Duration of the last learner recompute.",
        (double)rs.learner_last_cycle_us / 1e6);
  gauge(b, "herald_learner_rules",
        "Rules in the learner's last published snapshot.",
        (double)rs.learner_rules);

  backend_servers(srv, b);
  per_worker(srv, b);

  counter(b, "herald_config_reloads_total",
          "SIGHUP reloads that took effect.", reloads);
  counter(b, "herald_config_reload_failures_total",
          "SIGHUP reloads rejected (the running configuration stayed).",
          reload_failures);
  gauge(b, "herald_draining", "1 during a graceful shutdown.",
        lp->draining ? 1 : 0);
}

/* ---- connections -------------------------------------------------------- */

static void maybe_free_admin(struct admin *a) {
  if (a->handles_open == 0)
    free(a);
}

static void on_conn_closed(uv_handle_t *h) {
  struct admin_conn *ac = h->data;
  if (--ac->handles_open > 0)
    return;
  struct admin *a = ac->a;
  if (ac->prev)
    ac->prev->next = ac->next;
  else
    a->conns = ac->next;
  if (ac->next)
    ac->next->prev = ac->prev;
  a->nconns--;
  mbuf_free(&ac->body);
  free(ac);
  a->handles_open--;
  maybe_free_admin(a);
}

static void conn_close(struct admin_conn *ac) {
  if (uv_is_closing((uv_handle_t *)&ac->tcp))
    return;
  uv_close((uv_handle_t *)&ac->timer, on_conn_closed);
  uv_close((uv_handle_t *)&ac->tcp, on_conn_closed);
}

static void on_timeout(uv_timer_t *t) {
  struct admin_conn *ac = t->data;
  LOG_DEBUG("admin %s: connection timed out", ac->a->name);
  conn_close(ac);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  (void)status;
  conn_close(req->data);
}

static void on_write(uv_write_t *req, int status) {
  struct admin_conn *ac = req->data;
  if (status != 0 || uv_is_closing((uv_handle_t *)&ac->tcp)) {
    conn_close(ac);
    return;
  }
  ac->sreq.data = ac;
  if (uv_shutdown(&ac->sreq, (uv_stream_t *)&ac->tcp, on_shutdown) != 0)
    conn_close(ac);
}

static void respond(struct admin_conn *ac, int status, const char *reason,
                    const char *ctype, const char *extra) {
  ac->answered = 1;
  uv_read_stop((uv_stream_t *)&ac->tcp);
  snprintf(ac->head, sizeof(ac->head),
           "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
           "%sCache-Control: no-store\r\nConnection: close\r\n\r\n",
           status, reason, ctype, ac->body.len, extra);
  uv_buf_t bufs[2] = {
      uv_buf_init(ac->head, (unsigned)strlen(ac->head)),
      uv_buf_init(ac->body.p ? ac->body.p : "", (unsigned)ac->body.len),
  };
  ac->wreq.data = ac;
  if (uv_write(&ac->wreq, (uv_stream_t *)&ac->tcp, bufs,
               ac->body.len ? 2 : 1, on_write) != 0)
    conn_close(ac);
}

static void text(struct admin_conn *ac, int status, const char *reason,
                 const char *body, const char *extra) {
  mbuf_printf(&ac->body, "%s\n", body);
  respond(ac, status, reason, "text/plain; charset=utf-8", extra);
}

static void answer(struct admin_conn *ac) {
  struct server *srv = ac->a->srv;
  if (ac->url_too_long) {
    text(ac, 414, "URI Too Long", "uri too long", "");
    return;
  }
  if (llhttp_get_method(&ac->parser) != HTTP_GET) {
    text(ac, 405, "Method Not Allowed", "method not allowed",
         "Allow: GET\r\n");
    return;
  }
  size_t n = ac->url_len;
  const char *q = memchr(ac->url, '?', n);
  if (q != NULL)
    n = (size_t)(q - ac->url);
  if (n == 8 && memcmp(ac->url, "/metrics", 8) == 0) {
    admin_metrics(srv, &ac->body);
    respond(ac, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", "");
  } else if (n == 6 && memcmp(ac->url, "/rules", 6) == 0) {
    admin_rules(srv, q != NULL ? q + 1 : NULL,
                q != NULL ? ac->url_len - n - 1 : 0, &ac->body);
    respond(ac, 200, "OK", "application/json", "");
  } else if (n == 8 && memcmp(ac->url, "/healthz", 8) == 0) {
    if (admin_health(srv, &ac->body))
      text(ac, 200, "OK", "ok", "");
    else
      respond(ac, 503, "Service Unavailable", "text/plain; charset=utf-8",
              "");
  } else {
    text(ac, 404, "Not Found", "not found", "");
  }
}

static int on_url(llhttp_t *p, const char *at, size_t len) {
  struct admin_conn *ac = p->data;
  if (ac->url_len + len > sizeof(ac->url)) {
    ac->url_too_long = 1;
    return 0;
  }
  memcpy(ac->url + ac->url_len, at, len);
  ac->url_len += len;
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  struct admin_conn *ac = p->data;
  answer(ac);
  return HPE_PAUSED; /* one request per connection */
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct admin_conn *ac = h->data;
  (void)suggested;
  *buf = uv_buf_init(ac->rbuf, sizeof(ac->rbuf));
}

/* Constant, so it needs no initialising on any loop thread. */
static const llhttp_settings_t settings = {
    .on_url = on_url,
    .on_message_complete = on_message_complete,
};

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct admin_conn *ac = s->data;
  if (nread == 0 || ac->answered)
    return;
  if (nread < 0) {
    conn_close(ac);
    return;
  }
  llhttp_errno_t e = llhttp_execute(&ac->parser, buf->base, (size_t)nread);
  if (e == HPE_OK || ac->answered)
    return;
  LOG_DEBUG("admin %s: bad request: %s", ac->a->name,
            llhttp_get_error_reason(&ac->parser));
  text(ac, 400, "Bad Request", "bad request", "");
}

static void on_connection(uv_stream_t *s, int status) {
  struct admin *a = s->data;
  if (status != 0) {
    LOG_WARN("admin %s: accept: %s", a->name, uv_strerror(status));
    return;
  }
  struct admin_conn *ac = xcalloc(1, sizeof(*ac));
  ac->a = a;
  uv_tcp_init(s->loop, &ac->tcp);
  uv_timer_init(s->loop, &ac->timer);
  ac->tcp.data = ac->timer.data = ac;
  ac->handles_open = 2;
  ac->next = a->conns;
  if (a->conns)
    a->conns->prev = ac;
  a->conns = ac;
  a->nconns++;
  a->handles_open++;
  if (uv_accept(s, (uv_stream_t *)&ac->tcp) != 0) {
    conn_close(ac);
    return;
  }
  if (a->nconns > ADMIN_MAX_CONNS) {
    LOG_WARN("admin %s: refusing connection: %d open (max %d)", a->name,
             a->nconns - 1, ADMIN_MAX_CONNS);
    conn_close(ac);
    return;
  }
  llhttp_init(&ac->parser, HTTP_REQUEST, &settings);
  ac->parser.data = ac;
  uv_timer_start(&ac->timer, on_timeout, ADMIN_TIMEOUT_MS, 0);
  if (uv_read_start((uv_stream_t *)&ac->tcp, on_alloc, on_read) != 0)
    conn_close(ac);
}

/* ---- the listener -------------------------------------------------------- */

static void on_listener_closed(uv_handle_t *h) {
  struct admin *a = h->data;
  a->handles_open--;
  maybe_free_admin(a);
}

int admin_start(struct admin **out, struct server *srv, const char *host,
                int port, char *err, size_t errlen) {
  struct sockaddr_storage ss;
  int v6 = strchr(host, ':') != NULL;
  int rv = v6 ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss)
              : uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
  struct admin *a = xcalloc(1, sizeof(*a));
  a->srv = srv;
  snprintf(a->host, sizeof(a->host), "%s", host);
  a->port = port;
  snprintf(a->name, sizeof(a->name), v6 ? "[%s]:%d" : "%s:%d", host, port);
  if (rv != 0) {
    snprintf(err, errlen, "admin.listen %s: bad address: %s", a->name,
             uv_strerror(rv));
    free(a);
    return rv;
  }
  uv_tcp_init(server_loop(srv)->uv, &a->tcp);
  a->tcp.data = a;
  a->handles_open = 1;
  rv = uv_tcp_bind(&a->tcp, (const struct sockaddr *)&ss,
                   v6 ? UV_TCP_IPV6ONLY : 0);
  if (rv == 0)
    rv = uv_listen((uv_stream_t *)&a->tcp, 64, on_connection);
  if (rv != 0) {
    snprintf(err, errlen, "admin.listen %s: %s", a->name, uv_strerror(rv));
    a->closing = 1;
    uv_close((uv_handle_t *)&a->tcp, on_listener_closed);
    return rv;
  }
  *out = a;
  return 0;
}

void admin_close(struct admin *a) {
  if (a == NULL || a->closing)
    return;
  a->closing = 1;
  for (struct admin_conn *ac = a->conns; ac != NULL; ac = ac->next)
    conn_close(ac);
  uv_close((uv_handle_t *)&a->tcp, on_listener_closed);
}

int admin_same_address(const struct admin *a, const char *host, int port) {
  return a != NULL && a->port == port && strcmp(a->host, host) == 0;
}

const char *admin_name(const struct admin *a) { return a->name; }
