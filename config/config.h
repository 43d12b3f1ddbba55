/* config.h: herald's configuration, from an INI file and command-line flags.
 *
 * Everything the proxy reads at start (and again on reload) lives in one
 * struct config that is filled, validated, then treated as immutable: the
 * loop holds a const pointer, and a reload builds a whole new one so a bad
 * file never leaves a half-applied configuration behind.
 *
 * Not thread-safe: getopt and libinih keep process-wide state, so build
 * configurations on one thread (the main one, at start and on reload). */
#ifndef CONFIG_CONFIG_H
#define CONFIG_CONFIG_H

#include <stdatomic.h>
#include <stddef.h>

#include "base/access_format.h"
#include "base/client.h"

/* The file herald reads without -c (the Makefile sets it from SYSCONFDIR). */
#ifndef CONFIG_DEFAULT_PATH
#define CONFIG_DEFAULT_PATH "/etc/herald/herald.ini"
#endif

#define CONFIG_MAX_LISTENERS 16
#define CONFIG_MAX_WORKERS 256
#define CONFIG_MAX_BACKENDS 16
#define CONFIG_MAX_SERVERS 16
#define CONFIG_MAX_ROUTES 64
#define CONFIG_NAME_MAX 64
#define CONFIG_HOST_MAX 256
#define CONFIG_PATH_MAX 1024
#define CONFIG_LINE_MAX 4096   /* longest INI line accepted */
#define CONFIG_SECTION_MAX 48  /* longest "[...]" contents accepted */
#define CONFIG_MAX_NETS 64     /* [record] ignore_clients entries */

/* User-Agent substrings whose navigations are never visits (compared
 * without regard to case): search and social crawlers, HTTP libraries and
 * command-line tools, uptime monitors and link checkers. Anything else
 * that fetches only HTML is left out by the learner's own rule
 * (learner/learn.h). */
#define CONFIG_IGNORE_AGENTS_DEFAULT                                       \
  "bot/, bot;, bot-, bot), crawler, spider, slurp, facebookexternalhit, "  \
  "curl/, wget/, nghttp2/, libwww, python-requests, python-urllib, "       \
  "aiohttp, go-http-client, java/, okhttp, apache-httpclient, "            \
  "node-fetch, axios/, undici, uptime, pingdom, statuscake, monitor, "     \
  "check_http, linkchecker, w3c_validator"

/* Defaults of the learner's budgets per page (config_budgets,
 * learn_params_defaults). The hint budget names everything a real
 * documentation page needs (1.1-1.5 MB, 14-16 files): measured with
 * Chromium (README, "Real site"), a page's 103 that names all of it loads
 * as fast as one cut at 1 MB, which leaves fonts out, and faster than one
 * cut at 512 KB, since herald sends the named files in the page's order
 * and the page itself ahead of them. The push
 * budget stays near one initial congestion window's worth of a fast
 * link, since a push cannot be refused without a round trip. */
#define CONFIG_DEFAULT_HINT_BUDGET 2097152
#define CONFIG_DEFAULT_HINT_MAX 32
#define CONFIG_DEFAULT_PUSH_BUDGET 102400
#define CONFIG_DEFAULT_PUSH_MAX 16

/* A declared resource's prior, in pseudo-samples: the fewest all-hit
 * samples whose Wilson lower bound (z 1.96) reaches the default hint
 * threshold 0.9 is 34.6; 40 leaves room, and one miss undoes it. */
#define CONFIG_DEFAULT_DECLARED_PRIOR 40

/* config_deliver_parse returns the CONFIG_DELIVER_* named |s| ("off",
 * "hints", "shadow", "push", "both"), or -1. */
int config_deliver_parse(const char *s);
const char *config_deliver_name(int mode);

/* [deliver] mode. */
enum config_deliver {
  CONFIG_DELIVER_OFF,
  CONFIG_DELIVER_HINTS,  /* 103 Early Hints from the learned hint rules */
  CONFIG_DELIVER_SHADOW, /* decide and count, send nothing */
  CONFIG_DELIVER_PUSH,   /* server push to clients that accept it */
  CONFIG_DELIVER_BOTH,   /* push where accepted, 103 to everyone else */
};
/* A default install delivers what it learned on both channels. */
#define CONFIG_DEFAULT_DELIVER CONFIG_DELIVER_BOTH

struct config_listener {
  char name[CONFIG_NAME_MAX];
  char host[CONFIG_HOST_MAX]; /* numeric IPv4 or IPv6, no brackets */
  int port;
  int tls;                    /* 1: TLS with ALPN h2, http/1.1 */
  char cert[CONFIG_PATH_MAX]; /* PEM chain, required when tls */
  char key[CONFIG_PATH_MAX];  /* PEM private key, required when tls */
  int proxy_protocol;         /* 1: every connection starts with a PROXY
                                 protocol v1 or v2 header (proxyproto.h) */
};

struct config_server {
  char host[CONFIG_HOST_MAX]; /* numeric address or name resolved at start */
  int port;
};

struct config_backend {
  char name[CONFIG_NAME_MAX];
  struct config_server servers[CONFIG_MAX_SERVERS];
  int nservers;
};

struct config_route {
  char name[CONFIG_NAME_MAX];
  char host[CONFIG_HOST_MAX]; /* "" matches any Host; else exact, no port,
                                 stored lowercase */
  char prefix[CONFIG_PATH_MAX]; /* path prefix, default "/" */
  char backend_name[CONFIG_NAME_MAX]; /* as written in the file */
  int backend;                  /* index into config.backends, resolved by
                                   config_validate */
  int deliver;                  /* CONFIG_DELIVER_*, or -1: [deliver] mode */
};

struct config {
  char source[CONFIG_PATH_MAX]; /* the file read, "" for flags only */

  struct config_listener listeners[CONFIG_MAX_LISTENERS];
  int nlisteners;
  struct config_backend backends[CONFIG_MAX_BACKENDS];
  int nbackends;
  /* Tried in order: longest prefix first among those whose host matches
   * (host-specific before any-host). A request matching no route goes to
   * backends[0]. */
  struct config_route routes[CONFIG_MAX_ROUTES];
  int nroutes;

  /* [log] */
  int log_level;                   /* LOG_LEVEL_*, default info */
  char access_log[CONFIG_PATH_MAX]; /* "" = off, "-" = stdout */
  char error_log[CONFIG_PATH_MAX];  /* "" = stderr (default) */
  char access_format[ACCESS_FORMAT_MAX]; /* proxy/access.h */
  struct access_format access_compiled;  /* access_format, compiled by
                                            config_defaults and
                                            config_validate */

  /* [limits] */
  int max_connections;          /* default 10000 */
  int max_connections_per_client; /* from one client address, 256 */
  int max_concurrent_streams;   /* per HTTP/2 connection, default 100 */
  int max_header_list_size;     /* bytes (name+value+32 each), default 65536 */
  int max_header_fields;        /* default 100 */
  long long max_request_body;   /* bytes, default 104857600 (100 MiB) */
  int max_requests_per_conn;    /* then GOAWAY / Connection: close, 10000 */
  int backend_keepalive;        /* idle pooled connections per server, 1024*/
  int backend_max_connections;  /* open (idle included) per server and
                                   worker, 1024 */
  int backend_queue;            /* requests waiting for one server's
                                   connection, per worker, 4096 */
  int backend_pipeline;         /* requests per connection at the cap
                                   (GET/HEAD only), 1 = no pipelining */
  int write_buffer;             /* per-connection output high-water, 262144 */

  /* [timeouts], milliseconds */
  int idle_timeout;            /* no stream and no bytes, default 60000 */
  int header_timeout;          /* request head must complete, 10000 */
  int tls_handshake_timeout;   /* 10000 */
  int write_timeout;           /* client makes no write progress, 30000 */
  int backend_connect_timeout; /* 5000 */
  int backend_read_timeout;    /* backend silent while we wait, 30000 */
  int backend_idle_timeout;    /* pooled idle connection kept, 60000 */
  int backend_queue_timeout;   /* waiting for a backend connection, 5000 */
  int shutdown_timeout;        /* graceful drain deadline, 10000 */
  int backend_retry_backoff;   /* first down-server backoff, 1000 */

  /* [store] db: the SQLite file; "" = none (no recording) */
  char db[CONFIG_PATH_MAX];

  /* [record]: which subresources follow each page (on when db is set) */
  int record_enabled;          /* default 1 */
  int record_window;           /* ms after a page a request may attach, 5000 */
  int record_single_class;     /* classes = single: no mobile/desktop split */
  char record_templates[CONFIG_PATH_MAX]; /* comma-separated patterns */
  char record_keep_params[CONFIG_PATH_MAX]; /* query names kept, "" = none */
  char record_ignore_agents[CONFIG_PATH_MAX]; /* User-Agent substrings whose
                                                 navigations are no visits */
  struct client_cidr record_ignore_nets[CONFIG_MAX_NETS]; /* ignore_clients */
  int record_nignore_nets;
  int record_sections;         /* leading path segments naming a section,
                                  1; 0 = no section level */
  int record_retain_visits;    /* visits kept for replay, 100000 */
  int record_queue;            /* observations queued, 4096 */
  int record_flush;            /* ms between batches, 1000 */

  /* [learn]: from recorded visits to rules (see learner/learn.h) */
  double learn_half_life;      /* visits of a page, 100 */
  double learn_push_threshold; /* Wilson lower bound for push, 0.95 */
  double learn_hint_threshold; /* for 103 Early Hints, 0.90 */
  double learn_z;              /* 1.96 */
  int learn_min_visits;        /* decayed visits, 20 */
  int learn_min_clients;       /* distinct client networks, 3 */
  double learn_declared_prior; /* pseudo-hits of a declared resource, 40 */
  /* Budgets per page; -1 = not set. budget and max_resources set both
   * channels; the channel's own key wins. config_budgets resolves them. */
  int learn_budget, learn_max_resources;
  int learn_hint_budget, learn_hint_max;
  int learn_push_budget, learn_push_max;
  int learn_interval;          /* ms between recomputes, 5000 */
  int learn_recompute_after;   /* or after this many new visits, 100 */

  /* [deliver]: what herald sends ahead of a page */
  int deliver_mode;            /* CONFIG_DELIVER_*, default both */
  int deliver_hints_http1;     /* 103 to HTTP/1.1 clients too, default off */
  double deliver_holdout;      /* fraction of navigations sent nothing, 0.05 */
  int deliver_digest;          /* cross-connection pushed-set cookie, on */
  double deliver_verify;       /* chance a named resource is left out of a
                                  navigation's hints or pushes, 0.05 */

  /* [admin] listen: the admin endpoint (proxy/admin.h); port 0 = off */
  char admin_host[CONFIG_HOST_MAX]; /* numeric, no brackets */
  int admin_port;

  /* [clients]: who a request is from (base/client.h) */
  struct client_cidr trusted_proxies[CLIENT_MAX_TRUSTED]; /* whose
                                  X-Forwarded-For is believed; none */
  int ntrusted_proxies;
  int client_ipv4_prefix;      /* a client, for min_clients: IPv4 /24 */
  int client_ipv6_prefix;      /* and IPv6 /48 */

  /* [server]: who herald runs as once its ports and files are open
   * (proxy/privs.h); "" = stay who started it. group "" = the user's. */
  char server_user[CONFIG_NAME_MAX];
  char server_group[CONFIG_NAME_MAX];
  /* Event-loop threads (proxy/server.h); 0 = auto, the CPUs the process
   * may run on (sched_getaffinity), counted at start. */
  int workers;

  /* References to a configuration from config_new (config_ref). */
  atomic_int refs;
};

/* config_new allocates a configuration holding defaults, with one
 * reference (the caller's). A configuration in force is shared: the
 * server, each loop's backend pool and every connection pinned to one
 * hold a reference, from any thread, and the last config_unref frees
 * it. Once shared it is immutable. */
struct config *config_new(void);
void config_ref(struct config *c);
void config_unref(struct config *c); /* NULL is a no-op */

/* config_budgets resolves the budgets of |c|: a channel's own key, else
 * [learn] budget / max_resources, else the learner's default. */
void config_budgets(const struct config *c, long long *hint_bytes,
                    int *hint_max, long long *push_bytes, int *push_max);

/* config_ignored says whether a navigation from |user_agent| (|ua_len|
 * bytes, may be NULL) by the request's |client| (16 bytes, base/client.h;
 * may be NULL) is left out of recording by [record] ignore_agents /
 * ignore_clients. */
int config_ignored(const struct config *c, const char *user_agent,
                   size_t ua_len, const uint8_t *client);

/* config_defaults fills |c| with the default value of every key and no
 * listeners, backends or routes (its references stay as they are). */
void config_defaults(struct config *c);

/* config_load reads the INI file |path| into |c| (which should hold
 * defaults). On error it returns -1 and writes "FILE:LINE: key 'K': why"
 * (or "FILE: cannot open: why") into |err| (|errlen| bytes); |c| is then
 * unspecified. Values may be wrapped in double quotes, so `key = ""` is the
 * empty string; `;` starts a comment only at line start or after
 * whitespace. Lines are limited to CONFIG_LINE_MAX bytes and section
 * headers to CONFIG_SECTION_MAX bytes (libinih truncates silently beyond
 * that, so longer ones are rejected here). */
int config_load(struct config *c, const char *path, char *err, size_t errlen);

/* config_parse_args runs getopt_long over |argv|; flags override the file.
 * With |c| NULL it only scans: |*config_path| is set from -c/--config,
 * |*test_only| from -t, |*help| from -h, |*version| from -V, and every
 * other flag is just checked for syntax. With |c| non-NULL it also applies
 * each flag to |c| (the file must already be loaded). --cert/--key and the
 * --backend list are applied after all flags, so their order does not
 * matter. |*config_path| points into |argv|. Any out pointer may be NULL.
 * Returns 0 or -1 with a message in |err|. config_from_args below is the
 * usual way to call it. */
int config_parse_args(struct config *c, int argc, char **argv,
                      const char **config_path, int *test_only, int *help,
                      int *version, char *err, size_t errlen);

/* config_from_args builds a whole configuration the way herald starts and
 * reloads: config_defaults, a first config_parse_args pass to find -c,
 * config_load of that file, a second pass applying the flags, then
 * config_validate. Without -c the file is CONFIG_DEFAULT_PATH, unless a
 * --listen, --listen-tls or --backend flag makes the command line a
 * one-liner; a missing default file is then an error that says so. If -h
 * or -V is given it returns 0 right after the first pass with |c| holding
 * only defaults. A reload calls it again with the same argv into a fresh
 * struct, so flags keep overriding the new file. Out pointers are as for
 * config_parse_args, except that |*config_path| may be
 * CONFIG_DEFAULT_PATH. Returns 0 or -1 with a message in |err|. */
int config_from_args(struct config *c, int argc, char **argv,
                     const char **config_path, int *test_only, int *help,
                     int *version, char *err, size_t errlen);

/* config_validate checks cross-key rules (at least one listener and
 * backend, every listener has an address, every backend a server, TLS
 * listeners have readable cert and key files, routes name known backends
 * and no two share host and prefix, no two listeners (or the admin
 * address) overlap, counting a wildcard as overlapping its family,
 * server.user and server.group exist (a user database lookup)) and
 * resolves route backend names to indexes. It calls access(2), so run it
 * at start or reload, not on the loop. Returns 0 or -1 with a message in
 * |err|. */
int config_validate(struct config *c, char *err, size_t errlen);

/* config_usage prints every flag, with its default, to stdout. */
void config_usage(const char *argv0);

#endif
