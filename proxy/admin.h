/* admin.h: the admin listener: /metrics and /healthz over plain HTTP/1.1.
 *
 * A separate, tiny endpoint for operators and scrapers, bound to
 * [admin] listen (or --admin). It runs on the loop thread like everything
 * else, parses requests with llhttp, answers GET only, one request per
 * connection (each response carries Connection: close), and keeps a small
 * cap on connections and a short deadline per connection, so a stuck
 * scraper can never hold resources the proxy needs:
 *
 *   GET /metrics   Prometheus text exposition (version 0.0.4)
 *   GET /healthz   200 "ok" while serving; 503 "draining" during shutdown,
 *                  or "degraded" with a line per backend whose servers are
 *                  all down
 *   GET /rules     the rules in force, as JSON (admin_rules.c); ?key=K
 *                  one key
 *   anything else  404; a method other than GET: 405
 *
 * Admin connections are not client connections: they are not counted in
 * limits.max_connections or herald_connections_active, and a graceful
 * shutdown does not wait for them. */
#ifndef PROXY_ADMIN_H
#define PROXY_ADMIN_H

#include <stddef.h>

struct admin;
struct server;

#define ADMIN_MAX_CONNS 16
#define ADMIN_TIMEOUT_MS 10000 /* whole exchange: request in, response out */
#define ADMIN_MAX_URL 2048

/* admin_start binds |host| (numeric, no brackets) : |port| and serves
 * |srv|'s counters. Returns 0 and sets |*out|, or a negative UV_E* with a
 * message in |err|. Loop thread. */
int admin_start(struct admin **out, struct server *srv, const char *host,
                int port, char *err, size_t errlen);

/* admin_close stops listening and closes every admin connection; the
 * memory goes in their close callbacks. NULL is a no-op. */
void admin_close(struct admin *a);

/* admin_same_address: |a| listens on |host|:|port|. */
int admin_same_address(const struct admin *a, const char *host, int port);

/* admin_name: "host:port" for logs. */
const char *admin_name(const struct admin *a);

/* admin_metrics appends the exposition of |srv|'s counters to |b|
 * (exported for tests). */
struct mbuf;
void admin_metrics(struct server *srv, struct mbuf *b);

/* admin_worker_totals sums what every worker counted (each as of its
 * last loop turn; main's thread). */
struct worker_stats;
void admin_worker_totals(struct server *srv, struct worker_stats *sum);

/* admin_health returns 1 when |srv| is healthy; otherwise 0, with the
 * /healthz body ("draining", or "degraded" and the backends that have no
 * server up) appended to |b|. */
int admin_health(struct server *srv, struct mbuf *b);

/* admin_rules appends the JSON view of the rules in force (the loop's
 * snapshot) to |b|: every key, or the one of ?key= in |query| (the URL
 * after '?', |qlen| bytes; NULL: none), at most ADMIN_RULES_MAX keys and
 * about ADMIN_RULES_BYTES. */
#define ADMIN_RULES_MAX 5000
#define ADMIN_RULES_BYTES (4u << 20)
void admin_rules(struct server *srv, const char *query, size_t qlen,
                 struct mbuf *b);

/* A growing text buffer: one allocation that doubles, never one per
 * metric. */
struct mbuf {
  char *p;
  size_t len, cap;
};
void mbuf_printf(struct mbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void mbuf_free(struct mbuf *b);

#endif
