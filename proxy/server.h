/* server.h: the running proxy: listeners, connections, signals, shutdown.
 *
 * One server per process, driven by one libuv loop thread. It owns the
 * configuration in force, the TLS contexts, the backend pool and the list
 * of client connections, and it is what a graceful shutdown drains. */
#ifndef PROXY_SERVER_H
#define PROXY_SERVER_H

#include <stdint.h>
#include <uv.h>

struct admin;
struct clientcount;
struct config;
struct conn;
struct learner_config;
struct pool;
struct recorder;
struct ruleset;
struct hints_keys;
struct pushed_validators;
struct tls_ctx;

struct listener {
  uv_tcp_t tcp;
  struct listener *next; /* server's list */
  struct server *srv;
  int tls;
  int proxy_protocol;      /* connections start with a PROXY header */
  struct tls_ctx *tls_ctx; /* one reference, NULL for cleartext */
  char name[300];          /* "host:port" for logs */
};

struct server_stats {
  uint64_t conns_accepted, conns_refused;
  uint64_t conns_client_limited; /* of the refused: the client address was
                                    at max_connections_per_client */
  uint64_t conns_evicted; /* idle connections closed to make room */
  uint64_t requests, responses[6]; /* responses by status class 1xx..5xx */
  uint64_t h2_requests, h1_requests;
  uint64_t backend_errors, backend_timeouts;
  uint64_t hints_sent, hints_shadow; /* navigations that got (or would get) a 103 */
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
   * responses[] minus these (only h1.c and h2.c count responses). */
  uint64_t h1_responses[6];
  int64_t h2_streams_active; /* HTTP/2 streams open now (gauge) */
  /* HTTP/2 streams reset because the client sent no request body bytes
   * for timeouts.idle, or gave no window for timeouts.write. */
  uint64_t h2_body_timeouts, h2_send_timeouts;
  uint64_t reloads, reload_failures;
};

struct server {
  uv_loop_t *loop;
  /* The configuration in force, replaced whole on reload. The pool holds
   * the configuration it was built from (pool_own_config) and lives while
   * any exchange uses it, so cfg and pool always change together and a
   * request started under one configuration finishes under it. */
  const struct config *cfg;
  struct pool *pool;
  /* How to rebuild the configuration on SIGHUP: main's argv. */
  int argc;
  char **argv;
  int reloading; /* a reload is being prepared off the loop */
  struct admin *admin; /* NULL when [admin] listen is off */
  struct recorder *recorder; /* NULL when recording is off; owned by main */
  /* The rules in force: an immutable snapshot from the learner, swapped
   * whole on the loop thread (NULL until the first one arrives). */
  struct ruleset *rules;
  struct ruleset *_Atomic rules_pending; /* handed over by the learner */
  uv_async_t rules_async;
  struct hints_keys *hint_keys; /* page-key settings for hint lookups */
  struct pushed_validators *validators; /* ETags of pushable resources */
  struct listener *listeners; /* list; each heap-allocated */
  int nlisteners;
  struct conn *conns; /* intrusive list of live connections */
  int nconns;
  /* Connections with nothing in progress, longest idle first: the ones
   * closed to make room at max_connections (see conn_set_idle). */
  struct conn *idle_head, *idle_tail;
  struct clientcount *clients; /* connections open per client address */
  int conns_peak; /* most connections open since the heap was last trimmed */
  struct conn *dirty; /* conns with output to flush after this turn */
  int draining;
  uint64_t next_conn_id;
  uv_check_t flush_check;
  uv_idle_t flush_idle; /* keeps poll from blocking while conns are dirty */
  uv_signal_t sigterm, sigint, sighup, sigusr1;
  int reopening; /* SIGUSR1: the logs are being reopened off the loop */
  uv_timer_t drain_timer;
  struct server_stats stats;
  uint64_t rng; /* holdout sampling (loop thread) */
};

/* server_init binds every listener in |cfg| (which the server then owns)
 * and prepares the backend pool. Returns 0 or a negative UV_E* with a
 * message in |err|. */
int server_init(struct server *srv, uv_loop_t *loop, struct config *cfg,
                char *err, size_t errlen);

/* server_reload rebuilds the configuration from |srv->argv| off the loop
 * (uv_queue_work: file, flags, validation, name resolution, certificates)
 * and then puts it in force on the loop: listeners are added and removed,
 * certificates and backends replaced, and the learner gets its new
 * settings. A configuration that fails anywhere is logged as
 * "reload failed: ...; keeping the running configuration" and changes
 * nothing. SIGHUP calls it; a reload asked for while one is being
 * prepared is refused with a log line. */
void server_reload(struct server *srv);

/* server_learner_config fills |out| with the learner settings of |cfg|
 * (publish callback and all) for recorder_start and reloads. */
void server_learner_config(const struct config *cfg, struct server *srv,
                           struct learner_config *out);

/* server_run runs the loop until a graceful shutdown has finished. */
int server_run(struct server *srv);

/* server_shutdown starts a graceful drain: stop accepting, GOAWAY/close
 * idle connections, let in-flight requests finish until the deadline. */
void server_shutdown(struct server *srv);

/* server_publish_rules is the learner's publish callback: it may run on
 * any thread; the loop swaps the snapshot in on its next turn. */
void server_publish_rules(void *srv, struct ruleset *rs);

/* server_adopt_rules puts a published snapshot in force (loop thread, or
 * before the loop runs). */
void server_adopt_rules(struct server *srv);

/* server_cleanup frees everything once the loop has stopped. */
void server_cleanup(struct server *srv);

/* Called by conn.c. server_wake_flush makes sure the dirty list is
 * flushed on this loop turn. */
void server_wake_flush(struct server *srv);
void server_conn_added(struct server *srv, struct conn *c);
void server_conn_removed(struct server *srv, struct conn *c);

#endif
