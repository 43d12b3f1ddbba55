/* server.h: the running proxy: listeners, signals, reload, shutdown.
 *
 * A server owns the configuration in force (one reference), the
 * listeners with their TLS contexts, the admin endpoint, the signal
 * handlers and its event loop's context (struct loop, loop.h: the
 * connections, the backend pool, the rules in force). Its struct is
 * opaque: sessions see only their connection and loop. With [server]
 * workers = N the server runs N loops (worker.h): its own on main's
 * thread, which accepts and hands connections out, and N-1 on threads of
 * their own; they share rule snapshots, the recorder and the
 * process-wide limits (struct loop_shared). */
#ifndef PROXY_SERVER_H
#define PROXY_SERVER_H

#include <stdint.h>
#include <uv.h>

struct config;
struct learner_config;
struct loop;
struct recorder;
struct ruleset;
struct server;

/* server_new binds every listener in |cfg| on |uv| and prepares its
 * loop context and backend pool. The server takes the caller's reference
 * to |cfg| (config_new), also on failure. |argv| (|argc|), main's, is
 * what a reload rebuilds the configuration from (NULL: no reload).
 * Returns the server, or NULL with a message in |err|. */
struct server *server_new(uv_loop_t *uv, struct config *cfg, int argc,
                          char **argv, char *err, size_t errlen);

/* server_set_recorder gives the server the recorder (owned by main; NULL
 * when recording is off) before it runs; server_recorder returns it. */
void server_set_recorder(struct server *srv, struct recorder *rec);
struct recorder *server_recorder(const struct server *srv);

/* server_loop: the server's loop context (worker 0's, on main's
 * thread). */
struct loop *server_loop(const struct server *srv);

/* server_nworkers: event-loop threads ([server] workers, auto resolved).
 * server_worker_loop is worker |i|'s loop (touch it only on its thread,
 * or before the workers run); server_worker_stats copies what worker |i|
 * counted as of its last turn (main's thread). */
struct worker_stats;
int server_nworkers(const struct server *srv);
struct loop *server_worker_loop(const struct server *srv, int i);
void server_worker_stats(const struct server *srv, int i,
                         struct worker_stats *out);

/* server_config: the configuration in force (new connections pin it). */
const struct config *server_config(const struct server *srv);

/* server_reloads: SIGHUP reloads that took effect, and those rejected. */
void server_reloads(const struct server *srv, uint64_t *done,
                    uint64_t *failed);

/* server_reload rebuilds the configuration from the server's argv off the loop
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
 * any thread; the loop swaps the snapshot in on its next turn. It takes
 * the caller's reference to |rs|. */
void server_publish_rules(void *srv, struct ruleset *rs);

/* server_adopt_rules puts a published snapshot in force (loop thread, or
 * before the loop runs). */
void server_adopt_rules(struct server *srv);

/* server_free closes and frees everything once the loop has stopped
 * (NULL is a no-op); the uv loop itself is the caller's. */
void server_free(struct server *srv);

#endif
