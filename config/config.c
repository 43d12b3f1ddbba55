/* config.c: see config.h.
 *
 * The file is read with libinih; everything here is what inih leaves to
 * the caller: which sections and keys exist, what a good value is, and a
 * message that points at the offending line. One setter per key type
 * serves both the file and the -o/--set flag, so a value means the same
 * thing wherever it is written. */
#include "config/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/http.h"
#include "base/log.h"
#include "base/privs.h"
#include "base/util.h"

/* inih copies section names into a fixed char[50] (MAX_SECTION, not
 * exported) and truncates silently, so a 49-byte section may have been cut
 * short; CONFIG_SECTION_MAX keeps below that. */
_Static_assert(CONFIG_SECTION_MAX < 49, "inih truncates sections at 49");

#define REASON_MAX 512

/* ---- value parsers, shared by the file and the flags ---- */

/* Each writes the reason for a bad value into |why| (no key name: the
 * caller knows which key and where it came from). */

static int parse_int(const char *v, long long min, long long max,
                     long long *out, char *why, size_t whylen) {
  const char *p;
  long long n;
  /* strtoll alone would take " 12", "+12", "-0" and "0x"-less junk after
   * digits; a config integer is plain decimal digits. */
  if (*v == '\0')
    goto bad;
  for (p = v; *p != '\0'; p++) {
    if (!isdigit((unsigned char)*p))
      goto bad;
  }
  errno = 0;
  n = strtoll(v, NULL, 10);
  if (errno == ERANGE || n < min || n > max) {
    snprintf(why, whylen, "'%.64s' is out of range (%lld..%lld)", v, min,
             max);
    return -1;
  }
  *out = n;
  return 0;
bad:
  snprintf(why, whylen, "'%.64s' is not an integer", v);
  return -1;
}

static int parse_bool(const char *v, int *out, char *why, size_t whylen) {
  static const char *yes[] = {"on", "yes", "true", "1"};
  static const char *no[] = {"off", "no", "false", "0"};
  size_t n = strlen(v);
  for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
    if (util_strcaseeq(v, n, yes[i])) {
      *out = 1;
      return 0;
    }
    if (util_strcaseeq(v, n, no[i])) {
      *out = 0;
      return 0;
    }
  }
  snprintf(why, whylen, "'%.64s' is not a boolean (on|off|yes|no|true|"
           "false|1|0)", v);
  return -1;
}

static int copy_str(char *dst, size_t cap, const char *v, char *why,
                    size_t whylen) {
  size_t n = strlen(v);
  if (n >= cap) {
    snprintf(why, whylen, "value is too long (%zu bytes, max %zu)", n,
             cap - 1);
    return -1;
  }
  memcpy(dst, v, n + 1);
  return 0;
}

/* A backend host name: letters, digits, '-', '.', '_'. Anything else
 * (spaces, slashes, a scheme) is a typo the resolver would only report
 * later and less clearly. */
static int is_hostname(const char *h) {
  for (; *h != '\0'; h++) {
    unsigned char ch = (unsigned char)*h;
    if (!isalnum(ch) && ch != '-' && ch != '.' && ch != '_')
      return 0;
  }
  return 1;
}

/* parse_addr reads "a.b.c.d:port" or "[v6]:port" (or "name:port" unless
 * |numeric|: listeners bind, so they need a literal; backends may be
 * resolved at start). util_parse_hostport does the split; the checks
 * around it reject what it lets through: a signed or spaced port, and an
 * unbracketed IPv6 address, whose last colon is ambiguous. An address to
 * bind may also be "localhost:port", which is 127.0.0.1 (the one loopback
 * address every host has, without asking a resolver), or a bare port,
 * which is loopback too: an operator opens a wider address by writing it.
 * Backends keep "localhost" as a name for the resolver. */
static int parse_addr(const char *v, int numeric, char *host, size_t hostcap,
                      int *port, char *why, size_t whylen) {
  const char *portstr;
  unsigned char bin[16];
  int bracketed = v[0] == '[';
  const char *given = v; /* for messages */
  char loopback[32];
  size_t n = strlen(v);

  if (numeric && n >= 1 && n <= 5 && strspn(v, "0123456789") == n) {
    snprintf(loopback, sizeof loopback, "127.0.0.1:%s", v);
    v = loopback;
  }
  if (util_parse_hostport(v, host, hostcap, port) < 0)
    goto bad;
  if (numeric && strcasecmp(host, "localhost") == 0)
    snprintf(host, hostcap, "127.0.0.1");
  portstr = strrchr(v, ':') + 1;
  for (const char *p = portstr; *p != '\0'; p++) {
    if (!isdigit((unsigned char)*p))
      goto bad;
  }
  if (bracketed) {
    if (inet_pton(AF_INET6, host, bin) != 1)
      goto bad;
    return 0;
  }
  if (strchr(host, ':') != NULL) {
    snprintf(why, whylen, "'%.64s': an IPv6 address needs brackets, as in "
             "[::1]:8080", given);
    return -1;
  }
  if (inet_pton(AF_INET, host, bin) == 1)
    return 0;
  if (numeric) {
    snprintf(why, whylen, "'%.64s' is not a numeric IPv4 or [IPv6] address "
             "(or localhost) with a port, nor a bare port", given);
    return -1;
  }
  if (!is_hostname(host))
    goto bad;
  return 0;
bad:
  if (numeric)
    snprintf(why, whylen, "'%.64s' is not ADDR:PORT or a bare PORT (ADDR "
             "a.b.c.d, [IPv6] or localhost; PORT 1..65535)", given);
  else
    snprintf(why, whylen, "'%.64s' is not HOST:PORT (PORT 1..65535)", given);
  return -1;
}

/* ---- single-valued keys: [log] [limits] [timeouts] [store] [admin] ---- */

enum key_type {
  KEY_INT, KEY_LLONG, KEY_LEVEL, KEY_PATH, KEY_ADDR, KEY_BOOL, KEY_CLASSES,
  KEY_PATTERNS, KEY_DOUBLE, KEY_DELIVER, KEY_CIDRS, KEY_AGENTS,
  KEY_ACCESS_FORMAT, KEY_NAME,
};

struct key_def {
  const char *section;
  const char *name;
  enum key_type type;
  size_t off;          /* the field in struct config */
  size_t port_off;     /* KEY_ADDR: the port field; KEY_CIDRS: the count */
  long long min, max;  /* KEY_INT, KEY_LLONG; KEY_CIDRS: max entries */
};

#define FIELD(f) offsetof(struct config, f)
#define INT_KEY(sec, name, f, lo, hi) \
  { sec, name, KEY_INT, FIELD(f), 0, lo, hi }

/* Ranges are generous but rule out the typo that would hurt: a zero
 * timeout that fires at once, or a limit a stray digit made absurd. */
static const struct key_def keys[] = {
  {"log", "level", KEY_LEVEL, FIELD(log_level), 0, 0, 0},
  {"log", "access_log", KEY_PATH, FIELD(access_log), 0, 0, 0},
  {"log", "error_log", KEY_PATH, FIELD(error_log), 0, 0, 0},
  {"log", "access_format", KEY_ACCESS_FORMAT, FIELD(access_format), 0, 0, 0},
  INT_KEY("limits", "max_connections", max_connections, 1, 1000000),
  INT_KEY("limits", "max_connections_per_client", max_connections_per_client,
          1, 1000000),
  INT_KEY("limits", "max_concurrent_streams", max_concurrent_streams, 1,
          10000),
  INT_KEY("limits", "max_header_list_size", max_header_list_size, 1024,
          16777216),
  INT_KEY("limits", "max_header_fields", max_header_fields, 1, 10000),
  {"limits", "max_request_body", KEY_LLONG, FIELD(max_request_body), 0, 1,
   1LL << 40},
  INT_KEY("limits", "max_requests_per_conn", max_requests_per_conn, 1,
          1000000000),
  INT_KEY("limits", "backend_keepalive", backend_keepalive, 1, 10000),
  INT_KEY("limits", "write_buffer", write_buffer, 4096, 67108864),
  INT_KEY("timeouts", "idle", idle_timeout, 1, 86400000),
  INT_KEY("timeouts", "header", header_timeout, 1, 86400000),
  INT_KEY("timeouts", "tls_handshake", tls_handshake_timeout, 1, 86400000),
  INT_KEY("timeouts", "write", write_timeout, 1, 86400000),
  INT_KEY("timeouts", "backend_connect", backend_connect_timeout, 1,
          86400000),
  INT_KEY("timeouts", "backend_read", backend_read_timeout, 1, 86400000),
  INT_KEY("timeouts", "backend_idle", backend_idle_timeout, 1, 86400000),
  INT_KEY("timeouts", "shutdown", shutdown_timeout, 1, 86400000),
  INT_KEY("timeouts", "backend_retry_backoff", backend_retry_backoff, 1,
          3600000),
  {"store", "db", KEY_PATH, FIELD(db), 0, 0, 0},
  {"record", "enabled", KEY_BOOL, FIELD(record_enabled), 0, 0, 0},
  INT_KEY("record", "window", record_window, 100, 600000),
  {"record", "classes", KEY_CLASSES, FIELD(record_single_class), 0, 0, 0},
  {"record", "templates", KEY_PATTERNS, FIELD(record_templates), 0, 0, 0},
  {"record", "keep_params", KEY_PATH, FIELD(record_keep_params), 0, 0, 0},
  {"record", "ignore_agents", KEY_AGENTS, FIELD(record_ignore_agents), 0, 0,
   0},
  {"record", "ignore_clients", KEY_CIDRS, FIELD(record_ignore_nets),
   FIELD(record_nignore_nets), 0, CONFIG_MAX_NETS},
  INT_KEY("record", "sections", record_sections, 0, 16),
  INT_KEY("record", "retain_visits", record_retain_visits, 0, 100000000),
  INT_KEY("record", "queue", record_queue, 16, 1048576),
  INT_KEY("record", "flush", record_flush, 10, 60000),
  /* [learn] doubles: min and max are in thousandths. */
  {"learn", "half_life", KEY_DOUBLE, FIELD(learn_half_life), 0, 1000,
   1000000000},
  {"learn", "push_threshold", KEY_DOUBLE, FIELD(learn_push_threshold), 0, 0,
   1000},
  {"learn", "hint_threshold", KEY_DOUBLE, FIELD(learn_hint_threshold), 0, 0,
   1000},
  {"learn", "z", KEY_DOUBLE, FIELD(learn_z), 0, 1, 10000},
  {"learn", "declared_prior", KEY_DOUBLE, FIELD(learn_declared_prior), 0, 0,
   100000000},
  INT_KEY("learn", "min_visits", learn_min_visits, 1, 1000000),
  INT_KEY("learn", "min_clients", learn_min_clients, 1, 1000000),
  INT_KEY("learn", "budget", learn_budget, 0, 1000000000),
  INT_KEY("learn", "max_resources", learn_max_resources, 0, 1000),
  INT_KEY("learn", "hint_budget", learn_hint_budget, 0, 1000000000),
  INT_KEY("learn", "hint_max_resources", learn_hint_max, 0, 1000),
  INT_KEY("learn", "push_budget", learn_push_budget, 0, 1000000000),
  INT_KEY("learn", "push_max_resources", learn_push_max, 0, 1000),
  INT_KEY("learn", "interval", learn_interval, 100, 3600000),
  INT_KEY("learn", "recompute_after", learn_recompute_after, 1, 100000000),
  {"deliver", "mode", KEY_DELIVER, FIELD(deliver_mode), 0, 0, 0},
  {"deliver", "hints_http1", KEY_BOOL, FIELD(deliver_hints_http1), 0, 0, 0},
  {"deliver", "holdout", KEY_DOUBLE, FIELD(deliver_holdout), 0, 0, 1000},
  {"deliver", "digest", KEY_BOOL, FIELD(deliver_digest), 0, 0, 0},
  {"deliver", "verify", KEY_DOUBLE, FIELD(deliver_verify), 0, 0, 1000},
  {"admin", "listen", KEY_ADDR, FIELD(admin_host), FIELD(admin_port), 0, 0},
  {"clients", "trusted_proxies", KEY_CIDRS, FIELD(trusted_proxies),
   FIELD(ntrusted_proxies), 0, CLIENT_MAX_TRUSTED},
  INT_KEY("clients", "ipv4_prefix", client_ipv4_prefix, 8, 32),
  INT_KEY("clients", "ipv6_prefix", client_ipv6_prefix, 16, 128),
  {"server", "user", KEY_NAME, FIELD(server_user), 0, 0, 0},
  {"server", "group", KEY_NAME, FIELD(server_group), 0, 0, 0},
};

static const char *const deliver_modes[] = {"off", "hints", "shadow", "push",
                                            "both"};

int config_deliver_parse(const char *s) {
  for (int i = 0; i < (int)ARRAY_SIZE(deliver_modes); i++) {
    if (strcmp(s, deliver_modes[i]) == 0)
      return i;
  }
  return -1;
}

const char *config_deliver_name(int mode) {
  return mode >= 0 && mode < (int)ARRAY_SIZE(deliver_modes)
             ? deliver_modes[mode]
             : "inherit";
}

static int parse_deliver(const char *v, int *out, char *why, size_t whylen) {
  int m = config_deliver_parse(v);
  if (m < 0) {
    snprintf(why, whylen, "'%.64s' is not off, hints, shadow, push or both",
             v);
    return -1;
  }
  *out = m;
  return 0;
}

static const struct key_def *find_key(const char *section, const char *name) {
  for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
    if (strcmp(keys[i].section, section) == 0 &&
        strcmp(keys[i].name, name) == 0)
      return &keys[i];
  }
  return NULL;
}

static int is_global_section(const char *section) {
  for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
    if (strcmp(keys[i].section, section) == 0)
      return 1;
  }
  return 0;
}

static int set_key(struct config *c, const struct key_def *k, const char *v,
                   char *why, size_t whylen) {
  char *base = (char *)c;
  long long n;
  switch (k->type) {
  case KEY_INT:
    if (parse_int(v, k->min, k->max, &n, why, whylen) < 0)
      return -1;
    *(int *)(base + k->off) = (int)n;
    return 0;
  case KEY_LLONG:
    if (parse_int(v, k->min, k->max, &n, why, whylen) < 0)
      return -1;
    *(long long *)(base + k->off) = n;
    return 0;
  case KEY_LEVEL: {
    char lower[16];
    size_t i;
    for (i = 0; v[i] != '\0' && i < sizeof lower - 1; i++)
      lower[i] = (char)tolower((unsigned char)v[i]);
    lower[i] = '\0';
    int level = v[i] == '\0' ? log_level_parse(lower) : -1;
    if (level < 0) {
      snprintf(why, whylen, "'%.64s' is not a level (error|warn|info|debug)",
               v);
      return -1;
    }
    *(int *)(base + k->off) = level;
    return 0;
  }
  case KEY_PATH:
    return copy_str(base + k->off, CONFIG_PATH_MAX, v, why, whylen);
  case KEY_NAME:
    return copy_str(base + k->off, CONFIG_NAME_MAX, v, why, whylen);
  case KEY_ACCESS_FORMAT: {
    struct access_format f;
    if (access_format_parse(v, &f, why, whylen) < 0)
      return -1;
    return copy_str(base + k->off, ACCESS_FORMAT_MAX, v, why, whylen);
  }
  case KEY_BOOL:
    return parse_bool(v, (int *)(base + k->off), why, whylen);
  case KEY_DELIVER:
    return parse_deliver(v, (int *)(base + k->off), why, whylen);
  case KEY_CIDRS:
    /* max is the capacity of the list. */
    return client_cidrs_parse(v, (struct client_cidr *)(base + k->off),
                              (int)k->max, (int *)(base + k->port_off), why,
                              whylen);
  case KEY_DOUBLE: {
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (*v == '\0' || *end != '\0' || errno == ERANGE || d != d) {
      snprintf(why, whylen, "'%.64s' is not a number", v);
      return -1;
    }
    if (d * 1000 < (double)k->min || d * 1000 > (double)k->max) {
      snprintf(why, whylen, "'%.64s' is out of range (%g..%g)", v,
               (double)k->min / 1000, (double)k->max / 1000);
      return -1;
    }
    *(double *)(base + k->off) = d;
    return 0;
  }
  case KEY_CLASSES:
    if (strcmp(v, "split") == 0 || strcmp(v, "single") == 0) {
      *(int *)(base + k->off) = strcmp(v, "single") == 0;
      return 0;
    }
    snprintf(why, whylen, "'%.64s' is not split or single", v);
    return -1;
  case KEY_PATTERNS: {
    /* Comma-separated path patterns, each starting with '/'. */
    const char *p = v;
    while (*p != '\0') {
      while (*p == ' ' || *p == ',')
        p++;
      if (*p == '\0')
        break;
      if (*p != '/') {
        snprintf(why, whylen, "pattern '%.64s' does not start with '/'", p);
        return -1;
      }
      while (*p != '\0' && *p != ',')
        p++;
    }
    return copy_str(base + k->off, CONFIG_PATH_MAX, v, why, whylen);
  }
  case KEY_AGENTS:
    /* Comma-separated substrings; empty items are ignored. */
    for (const char *p = v; *p != '\0'; p++) {
      if ((unsigned char)*p < 0x20 || *p == 0x7f) {
        snprintf(why, whylen, "a control character in '%.64s'", v);
        return -1;
      }
    }
    return copy_str(base + k->off, CONFIG_PATH_MAX, v, why, whylen);
  case KEY_ADDR: {
    if (*v == '\0') {
      base[k->off] = '\0';
      *(int *)(base + k->port_off) = 0;
      return 0;
    }
    /* A bare port is loopback (parse_addr): the admin endpoint is for the
     * operator. */
    return parse_addr(v, 1, base + k->off, CONFIG_HOST_MAX,
                      (int *)(base + k->port_off), why, whylen);
  }
  }
  snprintf(why, whylen, "internal error: bad key type");
  return -1;
}

void config_defaults(struct config *c) {
  memset(c, 0, sizeof *c);
  c->log_level = LOG_LEVEL_INFO;
  strcpy(c->access_format, ACCESS_FORMAT_DEFAULT);
  c->max_connections = 10000;
  c->max_connections_per_client = 256;
  c->max_concurrent_streams = 100;
  c->max_header_list_size = 65536;
  c->max_header_fields = 100;
  c->max_request_body = 104857600;
  c->max_requests_per_conn = 10000;
  c->backend_keepalive = 1024;
  c->write_buffer = 262144;
  c->idle_timeout = 60000;
  c->header_timeout = 10000;
  c->tls_handshake_timeout = 10000;
  c->write_timeout = 30000;
  c->backend_connect_timeout = 5000;
  c->backend_read_timeout = 30000;
  c->backend_idle_timeout = 60000;
  c->shutdown_timeout = 10000;
  c->backend_retry_backoff = 1000;
  c->record_enabled = 1;
  c->record_window = 5000;
  c->record_retain_visits = 100000;
  c->record_queue = 4096;
  c->record_flush = 1000;
  c->learn_half_life = 100;
  c->learn_push_threshold = 0.95;
  c->learn_hint_threshold = 0.90;
  c->learn_z = 1.96;
  c->learn_declared_prior = CONFIG_DEFAULT_DECLARED_PRIOR;
  c->learn_min_visits = 20;
  c->learn_min_clients = 3;
  c->learn_budget = c->learn_max_resources = -1;
  c->learn_hint_budget = c->learn_hint_max = -1;
  c->learn_push_budget = c->learn_push_max = -1;
  snprintf(c->record_ignore_agents, sizeof(c->record_ignore_agents), "%s",
           CONFIG_IGNORE_AGENTS_DEFAULT);
  c->record_sections = 1;
  c->learn_interval = 5000;
  c->learn_recompute_after = 100;
  c->deliver_mode = CONFIG_DELIVER_HINTS;
  c->deliver_holdout = 0.05;
  c->deliver_digest = 1;
  c->deliver_verify = 0.05;
  c->client_ipv4_prefix = 24;
  c->client_ipv6_prefix = 48;
}

void config_budgets(const struct config *c, long long *hint_bytes,
                    int *hint_max, long long *push_bytes, int *push_max) {
  *hint_bytes = c->learn_hint_budget >= 0 ? c->learn_hint_budget
                : c->learn_budget >= 0    ? c->learn_budget
                                          : CONFIG_DEFAULT_HINT_BUDGET;
  *push_bytes = c->learn_push_budget >= 0 ? c->learn_push_budget
                : c->learn_budget >= 0    ? c->learn_budget
                                          : CONFIG_DEFAULT_PUSH_BUDGET;
  *hint_max = c->learn_hint_max >= 0         ? c->learn_hint_max
              : c->learn_max_resources >= 0 ? c->learn_max_resources
                                            : CONFIG_DEFAULT_HINT_MAX;
  *push_max = c->learn_push_max >= 0         ? c->learn_push_max
              : c->learn_max_resources >= 0 ? c->learn_max_resources
                                            : CONFIG_DEFAULT_PUSH_MAX;
}

int config_ignored(const struct config *c, const char *ua, size_t ua_len,
                   const uint8_t *client) {
  if (client != NULL &&
      client_trusted(c->record_ignore_nets, c->record_nignore_nets, client))
    return 1;
  const char *list = c->record_ignore_agents, *item;
  size_t pos = 0, len, list_len = strlen(list);
  while (ua != NULL && http_list_next(list, list_len, &pos, &item, &len))
    for (size_t i = 0; i + len <= ua_len; i++)
      if (strncasecmp(ua + i, item, len) == 0)
        return 1;
  return 0;
}

/* ---- the file ---- */

enum section_kind {
  SEC_NONE,
  SEC_GLOBAL, /* one of the sections in keys[] */
  SEC_LISTENER,
  SEC_BACKEND,
  SEC_ROUTE,
};

/* Keys of the named sections; the index is the bit in load_ctx.seen. */
static const char *listener_keys[] = {"listen", "tls", "cert", "key",
                                      "proxy_protocol"};
static const char *route_keys[] = {"host", "prefix", "backend", "deliver"};

struct load_ctx {
  struct config *c;
  FILE *f;
  int read_errno;        /* fgets failed for a reason other than EOF */
  int lineno;            /* lines handed to inih so far */
  int section_line;      /* line of the last "[...]" header read */
  bool new_section;      /* a header was read since the last key */
  char section_raw[CONFIG_SECTION_MAX + 1]; /* as inih passes it */
  char section[CONFIG_SECTION_MAX + 1];     /* trimmed, for messages */
  enum section_kind kind;
  int index;             /* listener/backend/route being filled */
  unsigned seen;         /* keys set in this listener or route */
  bool gseen[ARRAY_SIZE(keys)]; /* global keys set anywhere in the file */
  int err_line;          /* 0 while there is no error */
  char err[REASON_MAX];  /* "key 'S.K': why" or "section [S]: why" */
};

static void fail_at(struct load_ctx *x, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* fail_at records the first error only: later ones are often knock-on
 * effects of it, and inih reports the first failing line anyway. */
static void fail_at(struct load_ctx *x, int line, const char *fmt, ...) {
  va_list ap;
  if (x->err_line != 0)
    return;
  x->err_line = line;
  va_start(ap, fmt);
  vsnprintf(x->err, sizeof x->err, fmt, ap);
  va_end(ap);
}

/* read_line is inih's fgets. Seeing each raw line lets us count lines
 * ourselves, notice "[...]" headers (inih only reports keys, so an
 * identical repeated header, or an empty section, would otherwise go
 * unseen), and reject overlong lines, which inih would silently split in
 * two and parse the tail as a line of its own. */
static char *read_line(char *buf, int cap, void *stream) {
  struct load_ctx *x = stream;
  const char *p;
  size_t n;

  if (x->err_line != 0)
    return NULL; /* stop: the error is already recorded */
  errno = 0;
  if (fgets(buf, cap, x->f) == NULL) {
    if (ferror(x->f))
      x->read_errno = errno ? errno : EIO;
    return NULL;
  }
  x->lineno++;
  n = strlen(buf);
  if (n == (size_t)cap - 1 && buf[n - 1] != '\n') {
    int ch = getc(x->f);
    if (ch != '\n' && ch != EOF) {
      fail_at(x, x->lineno, "line is longer than %d bytes", cap - 1);
      return NULL;
    }
  }
  p = buf;
  if (x->lineno == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
    p += 3; /* inih skips a UTF-8 BOM on the first line too */
  while (*p == ' ' || *p == '\t')
    p++;
  if (*p == '[') {
    x->new_section = true;
    x->section_line = x->lineno;
  }
  return buf;
}

/* trim returns |s| without surrounding blanks, in |out|. */
static void trim(const char *s, char *out, size_t cap) {
  size_t n;
  while (isspace((unsigned char)*s))
    s++;
  n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1]))
    n--;
  if (n >= cap)
    n = cap - 1;
  memcpy(out, s, n);
  out[n] = '\0';
}

/* begin_section sets up the object a new "[...]" fills. Errors point at
 * the header's line, which is where the fix goes. */
static int begin_section(struct load_ctx *x, const char *section) {
  struct config *c = x->c;
  char sec[CONFIG_SECTION_MAX + 1];
  char name[CONFIG_SECTION_MAX + 1];
  const char *colon;
  int line = x->section_line ? x->section_line : x->lineno;

  x->new_section = false;
  x->seen = 0;
  x->kind = SEC_NONE;
  if (strlen(section) > CONFIG_SECTION_MAX) {
    fail_at(x, line, "section [%s...]: name is too long (max %d bytes)",
            section, CONFIG_SECTION_MAX);
    return -1;
  }
  strcpy(x->section_raw, section);
  trim(section, sec, sizeof sec);
  memcpy(x->section, sec, sizeof sec);
  colon = strchr(sec, ':');
  if (colon == NULL) {
    if (!is_global_section(sec))
      goto unknown;
    x->kind = SEC_GLOBAL;
    return 0;
  }
  trim(colon + 1, name, sizeof name);
  if (name[0] == '\0') {
    fail_at(x, line, "section [%s]: missing NAME after ':'", sec);
    return -1;
  }

  if (strncmp(sec, "listener:", 9) == 0) {
    for (int i = 0; i < c->nlisteners; i++) {
      if (strcmp(c->listeners[i].name, name) == 0)
        goto duplicate;
    }
    if (c->nlisteners == CONFIG_MAX_LISTENERS) {
      fail_at(x, line, "section [%s]: too many listeners (max %d)", sec,
              CONFIG_MAX_LISTENERS);
      return -1;
    }
    x->kind = SEC_LISTENER;
    x->index = c->nlisteners++;
    memset(&c->listeners[x->index], 0, sizeof c->listeners[0]);
    strcpy(c->listeners[x->index].name, name);
    return 0;
  }
  if (strncmp(sec, "backend:", 8) == 0) {
    for (int i = 0; i < c->nbackends; i++) {
      if (strcmp(c->backends[i].name, name) == 0)
        goto duplicate;
    }
    if (c->nbackends == CONFIG_MAX_BACKENDS) {
      fail_at(x, line, "section [%s]: too many backends (max %d)", sec,
              CONFIG_MAX_BACKENDS);
      return -1;
    }
    x->kind = SEC_BACKEND;
    x->index = c->nbackends++;
    memset(&c->backends[x->index], 0, sizeof c->backends[0]);
    strcpy(c->backends[x->index].name, name);
    return 0;
  }
  if (strncmp(sec, "route:", 6) == 0) {
    for (int i = 0; i < c->nroutes; i++) {
      if (strcmp(c->routes[i].name, name) == 0)
        goto duplicate;
    }
    if (c->nroutes == CONFIG_MAX_ROUTES) {
      fail_at(x, line, "section [%s]: too many routes (max %d)", sec,
              CONFIG_MAX_ROUTES);
      return -1;
    }
    x->kind = SEC_ROUTE;
    x->index = c->nroutes++;
    memset(&c->routes[x->index], 0, sizeof c->routes[0]);
    strcpy(c->routes[x->index].name, name);
    strcpy(c->routes[x->index].prefix, "/");
    c->routes[x->index].backend = -1;
    c->routes[x->index].deliver = -1;
    return 0;
  }
unknown:
  fail_at(x, line, "section [%s]: unknown section (expected log, limits, "
          "timeouts, store, record, learn, deliver, admin, clients, "
          "server, listener:NAME, "
          "backend:NAME or route:NAME)", sec);
  return -1;
duplicate:
  fail_at(x, line, "section [%s]: duplicate name '%s'", sec, name);
  return -1;
}

static int key_index(const char **names, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++) {
    if (strcmp(names[i], name) == 0)
      return (int)i;
  }
  return -1;
}

static int set_listener_key(struct config_listener *l, int k, const char *v,
                            char *why, size_t whylen) {
  switch (k) {
  case 0:
    return parse_addr(v, 1, l->host, sizeof l->host, &l->port, why, whylen);
  case 1:
    return parse_bool(v, &l->tls, why, whylen);
  case 2:
    return copy_str(l->cert, sizeof l->cert, v, why, whylen);
  case 3:
    return copy_str(l->key, sizeof l->key, v, why, whylen);
  default:
    return parse_bool(v, &l->proxy_protocol, why, whylen);
  }
}

/* Route hosts are compared with the request's Host, which is
 * case-insensitive: store them lowercase so the router need not fold. */
static int set_route_host(struct config_route *r, const char *v, char *why,
                          size_t whylen) {
  size_t n = strlen(v);
  if (copy_str(r->host, sizeof r->host, v, why, whylen) < 0)
    return -1;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)v[i];
    if (isspace(ch) || ch == '/' || (ch == ':' && v[0] != '[')) {
      snprintf(why, whylen, "'%.64s' is not a host name without port", v);
      return -1;
    }
    r->host[i] = (char)tolower(ch);
  }
  if (v[0] == '[' && v[n - 1] != ']') {
    snprintf(why, whylen, "'%.64s' is not a host name without port", v);
    return -1;
  }
  return 0;
}

static int set_route_key(struct config_route *r, int k, const char *v,
                         char *why, size_t whylen) {
  switch (k) {
  case 0:
    return set_route_host(r, v, why, whylen);
  case 1:
    if (v[0] != '/') {
      snprintf(why, whylen, "'%.64s' does not start with '/'", v);
      return -1;
    }
    return copy_str(r->prefix, sizeof r->prefix, v, why, whylen);
  case 3:
    return parse_deliver(v, &r->deliver, why, whylen);
  default:
    if (v[0] == '\0') {
      snprintf(why, whylen, "empty backend name");
      return -1;
    }
    return copy_str(r->backend_name, sizeof r->backend_name, v, why,
                    whylen);
  }
}

static int add_server(struct config_backend *b, const char *v, char *why,
                      size_t whylen) {
  struct config_server *s;
  if (b->nservers == CONFIG_MAX_SERVERS) {
    snprintf(why, whylen, "too many servers (max %d)", CONFIG_MAX_SERVERS);
    return -1;
  }
  s = &b->servers[b->nservers];
  if (parse_addr(v, 0, s->host, sizeof s->host, &s->port, why, whylen) < 0)
    return -1;
  b->nservers++;
  return 0;
}

/* unquote strips one pair of surrounding double quotes: inih passes them
 * through, and `access_log = ""` is the natural way to write "off". */
static int unquote(const char *v, char *out, size_t cap) {
  size_t n = strlen(v);
  if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
    v++;
    n -= 2;
  }
  if (n >= cap)
    return -1;
  memcpy(out, v, n);
  out[n] = '\0';
  return 0;
}

static int on_key(void *user, const char *section, const char *name,
                  const char *value) {
  struct load_ctx *x = user;
  struct config *c = x->c;
  char why[REASON_MAX];
  /* Every field is shorter than this, so longer is an error anyway. */
  char v[CONFIG_PATH_MAX + 1];
  int k = -1;
  int rc;

  if (x->err_line != 0)
    return 0;
  if (section[0] == '\0') {
    fail_at(x, x->lineno, "key '%s': outside any [section]", name);
    return 0;
  }
  /* inih repeats the section with every key; a header line read since the
   * last key, or a different name, starts a new one. */
  if (x->new_section || x->kind == SEC_NONE ||
      strcmp(section, x->section_raw) != 0) {
    if (begin_section(x, section) < 0)
      return 0;
  }
  if (unquote(value, v, sizeof v) < 0) {
    fail_at(x, x->lineno, "key '%s.%s': value is too long (max %d bytes)",
            x->section, name, CONFIG_PATH_MAX - 1);
    return 0;
  }

  switch (x->kind) {
  case SEC_GLOBAL: {
    const struct key_def *kd = find_key(x->section, name);
    if (kd == NULL)
      goto unknown;
    k = (int)(kd - keys);
    if (x->gseen[k])
      goto duplicate;
    x->gseen[k] = true;
    rc = set_key(c, kd, v, why, sizeof why);
    break;
  }
  case SEC_LISTENER:
    k = key_index(listener_keys, ARRAY_SIZE(listener_keys), name);
    if (k < 0)
      goto unknown;
    if (x->seen & (1u << k))
      goto duplicate;
    x->seen |= 1u << k;
    rc = set_listener_key(&c->listeners[x->index], k, v, why, sizeof why);
    break;
  case SEC_BACKEND:
    if (strcmp(name, "server") != 0)
      goto unknown;
    rc = add_server(&c->backends[x->index], v, why, sizeof why);
    break;
  case SEC_ROUTE:
    k = key_index(route_keys, ARRAY_SIZE(route_keys), name);
    if (k < 0)
      goto unknown;
    if (x->seen & (1u << k))
      goto duplicate;
    x->seen |= 1u << k;
    rc = set_route_key(&c->routes[x->index], k, v, why, sizeof why);
    break;
  default:
    return 0;
  }
  if (rc < 0) {
    fail_at(x, x->lineno, "key '%s.%s': %s", x->section, name, why);
    return 0;
  }
  return 1;
unknown:
  fail_at(x, x->lineno, "key '%s.%s': unknown key", x->section, name);
  return 0;
duplicate:
  fail_at(x, x->lineno, "key '%s.%s': set twice in one section", x->section,
          name);
  return 0;
}

int config_load(struct config *c, const char *path, char *err,
                size_t errlen) {
  struct load_ctx *x = NULL;
  FILE *f = NULL;
  int r;

  if (strlen(path) >= sizeof c->source) {
    snprintf(err, errlen, "%.64s...: config path is too long", path);
    goto fail;
  }
  f = fopen(path, "r");
  if (f == NULL) {
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    goto fail;
  }
  x = xcalloc(1, sizeof *x);
  x->c = c;
  x->f = f;
  strcpy(c->source, path);

  /* Debian's inih makes its compile-time options runtime globals. Set the
   * ones we rely on every time, since they are process-wide:
   * - multiline off: otherwise an indented "key = v" line is taken as a
   *   continuation of the previous value, not as a key;
   * - a longer line buffer: the default 200 bytes cannot hold a path
   *   (with ini_use_stack the buffer is a VLA of ini_max_line bytes);
   * - stop at the first error, which is the only one we report. */
  ini_allow_multiline = false;
  ini_use_stack = true;
  ini_max_line = CONFIG_LINE_MAX;
  ini_stop_on_first_error = true;
  ini_allow_no_value = false;

  r = ini_parse_stream(read_line, x, on_key, x);
  if (x->err_line != 0 && (r <= 0 || r >= x->err_line)) {
    snprintf(err, errlen, "%s:%d: %s", path, x->err_line, x->err);
    goto fail;
  }
  if (r > 0) {
    /* inih rejected the line itself, so no handler saw it. */
    snprintf(err, errlen, "%s:%d: syntax error (expected [section] or "
             "key = value)", path, r);
    goto fail;
  }
  if (r < 0) {
    snprintf(err, errlen, "%s: cannot parse (inih error %d)", path, r);
    goto fail;
  }
  if (x->read_errno != 0) {
    snprintf(err, errlen, "%s: cannot read: %s", path,
             strerror(x->read_errno));
    goto fail;
  }
  free(x);
  fclose(f);
  return 0;
fail:
  free(x);
  if (f != NULL)
    fclose(f);
  return -1;
}

/* ---- flags ---- */

enum {
  OPT_LISTEN = 256,
  OPT_LISTEN_TLS,
  OPT_CERT,
  OPT_KEY,
  OPT_BACKEND,
  OPT_ACCESS_LOG,
  OPT_LOG_LEVEL,
  OPT_DB,
  OPT_ADMIN,
};

static const struct option long_opts[] = {
    {"config", required_argument, NULL, 'c'},
    {"test", no_argument, NULL, 't'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {"set", required_argument, NULL, 'o'},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"listen-tls", required_argument, NULL, OPT_LISTEN_TLS},
    {"cert", required_argument, NULL, OPT_CERT},
    {"key", required_argument, NULL, OPT_KEY},
    {"backend", required_argument, NULL, OPT_BACKEND},
    {"access-log", required_argument, NULL, OPT_ACCESS_LOG},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"db", required_argument, NULL, OPT_DB},
    {"admin", required_argument, NULL, OPT_ADMIN},
    {NULL, 0, NULL, 0},
};

/* '+' stops at the first non-option instead of permuting argv, so the
 * second pass sees the same argv as the first; ':' reports a missing
 * argument apart from an unknown option. */
static const char short_opts[] = "+:c:thVo:";

/* flag_name names a flag for messages. argv cannot tell: after
 * "--listen ADDR" argv[optind - 1] is ADDR, not the flag. */
static const char *flag_name(int opt, char *buf, size_t cap) {
  for (size_t i = 0; long_opts[i].name != NULL; i++) {
    if (long_opts[i].val == opt) {
      snprintf(buf, cap, "--%s", long_opts[i].name);
      return buf;
    }
  }
  return "?";
}

static int set_named(struct config *c, const char *flag, const char *section,
                     const char *name, const char *v, char *err,
                     size_t errlen) {
  char why[REASON_MAX];
  const struct key_def *k = find_key(section, name);
  if (k == NULL) {
    if (is_global_section(section))
      snprintf(err, errlen, "%s: key '%s.%s': unknown key", flag, section,
               name);
    else
      snprintf(err, errlen, "%s: key '%s.%s': only [log], [limits], "
               "[timeouts], [store], [record], [learn], [deliver], [admin], "
               "[clients] and [server] "
               "keys can be set this way",
               flag, section, name);
    return -1;
  }
  if (set_key(c, k, v, why, sizeof why) < 0) {
    snprintf(err, errlen, "%s: key '%s.%s': %s", flag, section, name, why);
    return -1;
  }
  return 0;
}

/* set_dotted applies "SECTION.KEY=VALUE". */
static int set_dotted(struct config *c, const char *arg, char *err,
                      size_t errlen) {
  char section[CONFIG_NAME_MAX], name[CONFIG_NAME_MAX];
  char flag[96];
  const char *dot = strchr(arg, '.');
  const char *eq = strchr(arg, '=');
  size_t slen, nlen;

  snprintf(flag, sizeof flag, "--set '%.80s'", arg);
  if (dot == NULL || eq == NULL || dot > eq)
    goto bad;
  slen = (size_t)(dot - arg);
  nlen = (size_t)(eq - dot - 1);
  if (slen == 0 || nlen == 0 || slen >= sizeof section ||
      nlen >= sizeof name)
    goto bad;
  memcpy(section, arg, slen);
  section[slen] = '\0';
  memcpy(name, dot + 1, nlen);
  name[nlen] = '\0';
  return set_named(c, flag, section, name, eq + 1, err, errlen);
bad:
  snprintf(err, errlen, "%s: expected SECTION.KEY=VALUE", flag);
  return -1;
}

static int add_flag_listener(struct config *c, const char *flag,
                             const char *v, int tls, char *err,
                             size_t errlen) {
  char why[REASON_MAX];
  struct config_listener *l;
  if (c->nlisteners == CONFIG_MAX_LISTENERS) {
    snprintf(err, errlen, "%s %s: too many listeners (max %d)", flag, v,
             CONFIG_MAX_LISTENERS);
    return -1;
  }
  l = &c->listeners[c->nlisteners];
  memset(l, 0, sizeof *l);
  if (parse_addr(v, 1, l->host, sizeof l->host, &l->port, why,
                 sizeof why) < 0) {
    snprintf(err, errlen, "%s: %s", flag, why);
    return -1;
  }
  l->tls = tls;
  snprintf(l->name, sizeof l->name, "flag%d", c->nlisteners + 1);
  c->nlisteners++;
  return 0;
}

/* parse_args is config_parse_args; its first pass (|c| NULL) also sets
 * |*oneliner| when a flag names a listener or a backend. */
static int parse_args(struct config *c, int argc, char **argv,
                      const char **config_path, int *test_only, int *help,
                      int *version, int *oneliner, char *err,
                      size_t errlen) {
  char why[REASON_MAX];
  struct config_server servers[CONFIG_MAX_SERVERS];
  int nservers = 0;
  const char *cert = NULL, *key = NULL;
  int opt;

  /* 0, not 1: glibc then reinitialises fully, since this runs twice per
   * start and again on every reload. */
  optind = 0;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, short_opts, long_opts, NULL)) !=
         -1) {
    /* getopt always steps past the flag or the word it failed on. */
    const char *word = argv[optind - 1];
    char namebuf[32];
    const char *flag = flag_name(opt, namebuf, sizeof namebuf);
    switch (opt) {
    case 'c':
      if (config_path != NULL)
        *config_path = optarg;
      continue;
    case 't':
      if (test_only != NULL)
        *test_only = 1;
      continue;
    case 'h':
      if (help != NULL)
        *help = 1;
      continue;
    case 'V':
      if (version != NULL)
        *version = 1;
      continue;
    case ':':
      snprintf(err, errlen, "option '%s' needs an argument", word);
      return -1;
    case '?':
      /* optopt is 0 for an unknown long option; for "--test=1" it is the
       * option's value; otherwise it is the unknown short letter, which
       * may sit inside a cluster like "-tx". */
      if (optopt == 0)
        snprintf(err, errlen, "unknown or ambiguous option '%s'", word);
      else if (strncmp(word, "--", 2) == 0 && strchr(word, '=') != NULL)
        snprintf(err, errlen, "option '%s' takes no argument", word);
      else
        snprintf(err, errlen, "unknown option '-%c'", optopt);
      return -1;
    default:
      break;
    }
    if (c == NULL) {
      /* first pass: only -c -t -h -V and what makes a one-liner matter */
      if (oneliner != NULL && (opt == OPT_LISTEN || opt == OPT_LISTEN_TLS ||
                               opt == OPT_BACKEND))
        *oneliner = 1;
      continue;
    }

    switch (opt) {
    case 'o':
      if (set_dotted(c, optarg, err, errlen) < 0)
        return -1;
      break;
    case OPT_LISTEN:
    case OPT_LISTEN_TLS:
      if (add_flag_listener(c, flag, optarg, opt == OPT_LISTEN_TLS, err,
                            errlen) < 0)
        return -1;
      break;
    case OPT_CERT:
    case OPT_KEY:
      if (strlen(optarg) >= CONFIG_PATH_MAX) {
        snprintf(err, errlen, "%s: path is too long (max %d bytes)", flag,
                 CONFIG_PATH_MAX - 1);
        return -1;
      }
      if (opt == OPT_CERT)
        cert = optarg;
      else
        key = optarg;
      break;
    case OPT_BACKEND: {
      struct config_server *s = &servers[nservers];
      if (nservers == CONFIG_MAX_SERVERS) {
        snprintf(err, errlen, "%s: too many servers (max %d)", flag,
                 CONFIG_MAX_SERVERS);
        return -1;
      }
      if (parse_addr(optarg, 0, s->host, sizeof s->host, &s->port, why,
                     sizeof why) < 0) {
        snprintf(err, errlen, "%s: %s", flag, why);
        return -1;
      }
      nservers++;
      break;
    }
    case OPT_ACCESS_LOG:
      if (set_named(c, flag, "log", "access_log", optarg, err, errlen) < 0)
        return -1;
      break;
    case OPT_LOG_LEVEL:
      if (set_named(c, flag, "log", "level", optarg, err, errlen) < 0)
        return -1;
      break;
    case OPT_DB:
      if (set_named(c, flag, "store", "db", optarg, err, errlen) < 0)
        return -1;
      break;
    case OPT_ADMIN:
      if (set_named(c, flag, "admin", "listen", optarg, err, errlen) < 0)
        return -1;
      break;
    }
  }
  if (optind < argc) {
    snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
    return -1;
  }
  if (c == NULL)
    return 0;

  /* Applied last so "--cert X --listen-tls A" works as well as the other
   * order, and so file listeners lacking a cert get it too. */
  for (int i = 0; i < c->nlisteners; i++) {
    struct config_listener *l = &c->listeners[i];
    if (!l->tls)
      continue;
    if (cert != NULL && l->cert[0] == '\0')
      strcpy(l->cert, cert);
    if (key != NULL && l->key[0] == '\0')
      strcpy(l->key, key);
  }
  /* --backend flags together replace backend 0's servers: the common case
   * is "herald --backend X" standing in for the file's one backend. */
  if (nservers > 0) {
    if (c->nbackends == 0) {
      memset(&c->backends[0], 0, sizeof c->backends[0]);
      strcpy(c->backends[0].name, "default");
      c->nbackends = 1;
    }
    memcpy(c->backends[0].servers, servers, sizeof servers[0] * nservers);
    c->backends[0].nservers = nservers;
  }
  return 0;
}

int config_parse_args(struct config *c, int argc, char **argv,
                      const char **config_path, int *test_only, int *help,
                      int *version, char *err, size_t errlen) {
  return parse_args(c, argc, argv, config_path, test_only, help, version,
                    NULL, err, errlen);
}

int config_from_args(struct config *c, int argc, char **argv,
                     const char **config_path, int *test_only, int *help,
                     int *version, char *err, size_t errlen) {
  const char *path = NULL;
  int h = 0, v = 0, t = 0, oneliner = 0;

  config_defaults(c);
  if (parse_args(NULL, argc, argv, &path, &t, &h, &v, &oneliner, err,
                 errlen) < 0)
    return -1;
  /* No -c: the installed file, unless the flags are a whole one-liner
   * (its listeners would otherwise bind next to the file's). */
  if (path == NULL && !oneliner && !h && !v) {
    if (access(CONFIG_DEFAULT_PATH, F_OK) != 0) {
      /* A bad flag is the first thing to fix: report it first. */
      if (parse_args(c, argc, argv, NULL, NULL, NULL, NULL, NULL, err,
                     errlen) < 0)
        return -1;
      snprintf(err, errlen, "no configuration: %s does not exist; give -c "
               "FILE, or --listen ADDR:PORT --backend HOST:PORT (herald "
               "--help)", CONFIG_DEFAULT_PATH);
      return -1;
    }
    path = CONFIG_DEFAULT_PATH;
  }
  if (config_path != NULL)
    *config_path = path;
  if (test_only != NULL)
    *test_only = t;
  if (help != NULL)
    *help = h;
  if (version != NULL)
    *version = v;
  if (h || v)
    return 0;
  if (path != NULL && config_load(c, path, err, errlen) < 0)
    return -1;
  if (config_parse_args(c, argc, argv, NULL, NULL, NULL, NULL, err,
                        errlen) < 0)
    return -1;
  return config_validate(c, err, errlen);
}

/* ---- cross-key checks ---- */

/* addr_overlap says whether binding both would clash: the same address
 * and port, or a wildcard and any address of its family on one port. */
static int addr_overlap(const char *h1, int p1, const char *h2, int p2) {
  unsigned char a[16], b[16];
  static const unsigned char zero[16];
  int fa, fb;
  size_t n;

  if (p1 != p2)
    return 0;
  fa = inet_pton(AF_INET, h1, a) == 1 ? AF_INET : AF_INET6;
  fb = inet_pton(AF_INET, h2, b) == 1 ? AF_INET : AF_INET6;
  if (fa != fb)
    return 0;
  if (fa == AF_INET6 &&
      (inet_pton(AF_INET6, h1, a) != 1 || inet_pton(AF_INET6, h2, b) != 1))
    return strcmp(h1, h2) == 0;
  n = fa == AF_INET ? 4 : 16;
  return memcmp(a, b, n) == 0 || memcmp(a, zero, n) == 0 ||
         memcmp(b, zero, n) == 0;
}

static int check_readable(const char *listener, const char *what,
                          const char *path, char *err, size_t errlen) {
  if (path[0] == '\0') {
    snprintf(err, errlen, "listener '%s': tls is on but no %s is set "
             "(%s = FILE, or --%s)", listener, what, what, what);
    return -1;
  }
  if (access(path, R_OK) < 0) {
    snprintf(err, errlen, "listener '%s': %s '%s': %s", listener, what,
             path, strerror(errno));
    return -1;
  }
  return 0;
}

int config_validate(struct config *c, char *err, size_t errlen) {
  if (c->nlisteners == 0) {
    snprintf(err, errlen, "no listeners: add a [listener:NAME] section or "
             "--listen");
    return -1;
  }
  for (int i = 0; i < c->nlisteners; i++) {
    struct config_listener *l = &c->listeners[i];
    if (l->port == 0) {
      snprintf(err, errlen, "listener '%s': missing listen = ADDR:PORT",
               l->name);
      return -1;
    }
    if (l->tls) {
      if (check_readable(l->name, "cert", l->cert, err, errlen) < 0 ||
          check_readable(l->name, "key", l->key, err, errlen) < 0)
        return -1;
    }
    for (int j = 0; j < i; j++) {
      struct config_listener *o = &c->listeners[j];
      if (addr_overlap(l->host, l->port, o->host, o->port)) {
        snprintf(err, errlen, "listener '%s': address %s port %d overlaps "
                 "listener '%s'", l->name, l->host, l->port, o->name);
        return -1;
      }
    }
    if (c->admin_port != 0 &&
        addr_overlap(l->host, l->port, c->admin_host, c->admin_port)) {
      snprintf(err, errlen, "listener '%s': address %s port %d overlaps "
               "admin.listen", l->name, l->host, l->port);
      return -1;
    }
  }

  if (c->nbackends == 0) {
    snprintf(err, errlen, "no backends: add a [backend:NAME] section or "
             "--backend");
    return -1;
  }
  for (int i = 0; i < c->nbackends; i++) {
    if (c->backends[i].nservers == 0) {
      snprintf(err, errlen, "backend '%s': no server = HOST:PORT",
               c->backends[i].name);
      return -1;
    }
  }

  if (c->server_group[0] != '\0' && c->server_user[0] == '\0') {
    snprintf(err, errlen, "server.group is set but server.user is not");
    return -1;
  }
  if (c->server_user[0] != '\0') {
    struct privs p;
    char why[256];
    if (privs_lookup(c->server_user, c->server_group, &p, why,
                     sizeof why) < 0) {
      snprintf(err, errlen, "server.user/group: %s", why);
      return -1;
    }
  }

  for (int i = 0; i < c->nroutes; i++) {
    struct config_route *r = &c->routes[i];
    r->backend = -1;
    if (r->backend_name[0] == '\0') {
      snprintf(err, errlen, "route '%s': missing backend = NAME", r->name);
      return -1;
    }
    for (int j = 0; j < c->nbackends; j++) {
      if (strcmp(c->backends[j].name, r->backend_name) == 0) {
        r->backend = j;
        break;
      }
    }
    if (r->backend < 0) {
      snprintf(err, errlen, "route '%s': unknown backend '%s'", r->name,
               r->backend_name);
      return -1;
    }
    for (int j = 0; j < i; j++) {
      struct config_route *o = &c->routes[j];
      if (strcmp(o->host, r->host) == 0 && strcmp(o->prefix, r->prefix) == 0) {
        snprintf(err, errlen, "route '%s': same host and prefix as route "
                 "'%s', so it could never match", r->name, o->name);
        return -1;
      }
    }
  }
  return 0;
}

void config_usage(const char *argv0) {
  /* Kept under 80 columns; defaults are those of config_defaults. */
  printf(
      "usage: %s [-c FILE] [flags]\n"
      "\n"
      "Flags override the file; herald.ini.example documents every key.\n"
      "  -c, --config FILE         INI file to read (default: "
      CONFIG_DEFAULT_PATH ",\n"
      "                            unless --listen or --backend is given)\n"
      "  -t, --test                check the configuration and exit\n"
      "  -h, --help                print this help and exit\n"
      "  -V, --version             print the version and exit\n"
      "      --listen ADDR:PORT    add a cleartext listener, repeatable\n"
      "                            (default: none)\n"
      "      --listen-tls ADDR:PORT\n"
      "                            add a TLS listener, repeatable\n"
      "                            (default: none)\n"
      "      --cert FILE           PEM chain for TLS listeners lacking one\n"
      "                            (default: none)\n"
      "      --key FILE            PEM key for TLS listeners lacking one\n"
      "                            (default: none)\n"
      "      --backend HOST:PORT   repeatable; together they replace the\n"
      "                            first backend's servers (creating\n"
      "                            backend 'default' if there is none)\n"
      "      --access-log PATH     \"\" = off, \"-\" = stdout (default: off)\n"
      "      --log-level LEVEL     error|warn|info|debug (default: info)\n"
      "      --db PATH             SQLite database; recording is on when\n"
      "                            set (default: none)\n"
      "      --admin [ADDR:]PORT   admin endpoint: /metrics, /healthz (a bare\n"
      "                            port is 127.0.0.1:PORT)\n"
      "                            (default: off)\n"
      "  -o, --set SECTION.KEY=VALUE\n"
      "                            set a [log], [limits], [timeouts],\n"
      "                            [store], [record], [learn], [deliver],\n"
      "                            [admin], [clients] or [server] key,\n"
      "                            e.g.\n"
      "                            -o limits.max_connections=5000\n",
      argv0);
}
