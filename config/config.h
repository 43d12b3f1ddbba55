/* config.h: herald's configuration, from an INI file and command-line flags.
 *
 * Everything the proxy reads at start (and again on reload) lives in one
 * struct config that is filled, validated, then treated as immutable: the
 * loop holds a const pointer, and a reload builds a whole new one so a bad
 * file never leaves a half-applied configuration behind. */
#ifndef CONFIG_CONFIG_H
#define CONFIG_CONFIG_H

#include <stddef.h>

#define CONFIG_MAX_LISTENERS 16
#define CONFIG_MAX_BACKENDS 16
#define CONFIG_MAX_SERVERS 16
#define CONFIG_MAX_ROUTES 64
#define CONFIG_NAME_MAX 64
#define CONFIG_HOST_MAX 256
#define CONFIG_PATH_MAX 1024

struct config_listener {
  char name[CONFIG_NAME_MAX];
  char host[CONFIG_HOST_MAX]; /* numeric IPv4 or IPv6, no brackets */
  int port;
  int tls;                    /* 1: TLS with ALPN h2, http/1.1 */
  char cert[CONFIG_PATH_MAX]; /* PEM chain, required when tls */
  char key[CONFIG_PATH_MAX];  /* PEM private key, required when tls */
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
  char host[CONFIG_HOST_MAX]; /* "" matches any Host; else exact, no port */
  char prefix[CONFIG_PATH_MAX]; /* path prefix, default "/" */
  char backend_name[CONFIG_NAME_MAX]; /* as written in the file */
  int backend;                  /* index into config.backends, resolved by
                                   config_validate */
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

  /* [limits] */
  int max_connections;          /* default 10000 */
  int max_concurrent_streams;   /* per HTTP/2 connection, default 100 */
  int max_header_list_size;     /* bytes (name+value+32 each), default 65536 */
  int max_header_fields;        /* default 100 */
  long long max_request_body;   /* bytes, default 104857600 (100 MiB) */
  int max_requests_per_conn;    /* then GOAWAY / Connection: close, 10000 */
  int backend_keepalive;        /* idle pooled connections per server, 32 */
  int write_buffer;             /* per-connection output high-water, 262144 */

  /* [timeouts], milliseconds */
  int idle_timeout;            /* no stream and no bytes, default 60000 */
  int header_timeout;          /* request head must complete, 10000 */
  int tls_handshake_timeout;   /* 10000 */
  int write_timeout;           /* client makes no write progress, 30000 */
  int backend_connect_timeout; /* 5000 */
  int backend_read_timeout;    /* backend silent while we wait, 30000 */
  int backend_idle_timeout;    /* pooled idle connection kept, 60000 */
  int shutdown_timeout;        /* graceful drain deadline, 10000 */
  int backend_retry_backoff;   /* first down-server backoff, 1000 */
};

/* config_defaults fills |c| with the default value of every key and no
 * listeners, backends or routes. */
void config_defaults(struct config *c);

/* config_load reads the INI file |path| into |c| (which should hold
 * defaults). On error it returns -1 and writes "FILE:LINE: key 'K': why"
 * into |err| (|errlen| bytes); |c| is then unspecified. */
int config_load(struct config *c, const char *path, char *err, size_t errlen);

/* config_parse_args applies command-line flags to |c|; flags override the
 * file. |*config_path| is set from -c/--config, |*test_only| from -t,
 * |*help| from -h/--help. The file, if any, must be loaded by the caller
 * first: call config_parse_args twice (first to find -c, with |c| NULL
 * meaning only scan for -c/-t/-h), then load, then apply.
 * Returns 0 or -1 with a message in |err|. */
int config_parse_args(struct config *c, int argc, char **argv,
                      const char **config_path, int *test_only, int *help,
                      char *err, size_t errlen);

/* config_validate checks cross-key rules (at least one listener and
 * backend, TLS listeners have cert and key, routes name known backends,
 * unique listener addresses) and resolves route backend names to
 * indexes. Returns 0 or -1 with a message in |err|. */
int config_validate(struct config *c, char *err, size_t errlen);

/* config_usage prints every flag to stdout. */
void config_usage(const char *argv0);

#endif
