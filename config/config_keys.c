/* config_keys.c: the keys of the global sections and what a good value
 * is (see config_int.h).
 *
 * One table row per key; one parser per value type, shared by the file
 * (config_file.c) and the -o/--set flag (config_flags.c). Range limits
 * are generous but rule out the typo that would hurt. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/http.h"
#include "base/log.h"
#include "base/util.h"
#include "config/config_int.h"

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

/* parse_size reads bytes as nginx does: digits with an optional k, m or g
 * (any case, 1024-based): 512k, 100m, 1g. */
static int parse_size(const char *v, long long min, long long max,
                      long long *out, char *why, size_t whylen) {
  static const char units[] = "kmg";
  char num[24];
  size_t n = strlen(v);
  long long mult = 1, x;
  const char *u =
      n > 0 ? strchr(units, tolower((unsigned char)v[n - 1])) : NULL;
  if (u != NULL) {
    for (const char *p = units; p <= u; p++)
      mult *= 1024;
    n--;
  }
  if (n == 0 || n >= sizeof num)
    goto bad;
  memcpy(num, v, n);
  num[n] = '\0';
  if (parse_int(num, 0, LLONG_MAX, &x, why, whylen) < 0)
    goto bad;
  if (x > max / mult || x * mult < min) {
    snprintf(why, whylen, "'%.64s' is out of range (%lld..%lld)", v, min,
             max);
    return -1;
  }
  *out = x * mult;
  return 0;
bad:
  snprintf(why, whylen, "'%.64s' is not a size (bytes, or with k, m or g)",
           v);
  return -1;
}

int config_parse_bool(const char *v, int *out, char *why, size_t whylen) {
  static const char *const yes[] = {"on", "yes", "true", "1"};
  static const char *const no[] = {"off", "no", "false", "0"};
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

int config_copy_str(char *dst, size_t cap, const char *v, char *why,
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
int config_parse_addr(const char *v, int numeric, char *host, size_t hostcap,
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


#define FIELD(f) offsetof(struct config, f)
#define INT_KEY(sec, name, f, lo, hi) \
  { sec, name, KEY_INT, FIELD(f), 0, lo, hi }
#define SIZE_KEY(sec, name, f, lo, hi) \
  { sec, name, KEY_SIZE, FIELD(f), 0, lo, hi }

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
  {"limits", "max_request_body", KEY_LSIZE, FIELD(max_request_body), 0, 1,
   1LL << 40},
  INT_KEY("limits", "max_requests_per_conn", max_requests_per_conn, 1,
          1000000000),
  INT_KEY("limits", "backend_keepalive", backend_keepalive, 1, 10000),
  INT_KEY("limits", "backend_max_connections", backend_max_connections, 1,
          1000000),
  INT_KEY("limits", "backend_queue", backend_queue, 0, 1000000),
  INT_KEY("limits", "backend_pipeline", backend_pipeline, 1, 64),
  SIZE_KEY("limits", "write_buffer", write_buffer, 4096, 67108864),
  INT_KEY("timeouts", "idle", idle_timeout, 1, 86400000),
  INT_KEY("timeouts", "header", header_timeout, 1, 86400000),
  INT_KEY("timeouts", "tls_handshake", tls_handshake_timeout, 1, 86400000),
  INT_KEY("timeouts", "write", write_timeout, 1, 86400000),
  INT_KEY("timeouts", "backend_connect", backend_connect_timeout, 1,
          86400000),
  INT_KEY("timeouts", "backend_read", backend_read_timeout, 1, 86400000),
  INT_KEY("timeouts", "backend_idle", backend_idle_timeout, 1, 86400000),
  INT_KEY("timeouts", "backend_queue", backend_queue_timeout, 1, 86400000),
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
  SIZE_KEY("learn", "budget", learn_budget, 0, 1000000000),
  INT_KEY("learn", "max_resources", learn_max_resources, 0, 1000),
  SIZE_KEY("learn", "hint_budget", learn_hint_budget, 0, 1000000000),
  INT_KEY("learn", "hint_max_resources", learn_hint_max, 0, 1000),
  SIZE_KEY("learn", "push_budget", learn_push_budget, 0, 1000000000),
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
  {"server", "workers", KEY_WORKERS, FIELD(workers), 0, 1,
   CONFIG_MAX_WORKERS},
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

int config_parse_deliver(const char *v, int *out, char *why, size_t whylen) {
  int m = config_deliver_parse(v);
  if (m < 0) {
    snprintf(why, whylen, "'%.64s' is not off, hints, shadow, push or both",
             v);
    return -1;
  }
  *out = m;
  return 0;
}

const struct key_def *config_find_key(const char *section, const char *name) {
  for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
    if (strcmp(keys[i].section, section) == 0 &&
        strcmp(keys[i].name, name) == 0)
      return &keys[i];
  }
  return NULL;
}

int config_global_section(const char *section) {
  for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
    if (strcmp(keys[i].section, section) == 0)
      return 1;
  }
  return 0;
}

int config_set_key(struct config *c, const struct key_def *k, const char *v,
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
  case KEY_SIZE:
  case KEY_LSIZE:
    if (parse_size(v, k->min, k->max, &n, why, whylen) < 0)
      return -1;
    if (k->type == KEY_SIZE)
      *(int *)(base + k->off) = (int)n;
    else
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
    return config_copy_str(base + k->off, CONFIG_PATH_MAX, v, why, whylen);
  case KEY_NAME:
    return config_copy_str(base + k->off, CONFIG_NAME_MAX, v, why, whylen);
  case KEY_ACCESS_FORMAT: {
    struct access_format f;
    if (access_format_parse(v, &f, why, whylen) < 0)
      return -1;
    return config_copy_str(base + k->off, ACCESS_FORMAT_MAX, v, why, whylen);
  }
  case KEY_BOOL:
    return config_parse_bool(v, (int *)(base + k->off), why, whylen);
  case KEY_DELIVER:
    return config_parse_deliver(v, (int *)(base + k->off), why, whylen);
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
    return config_copy_str(base + k->off, CONFIG_PATH_MAX, v, why, whylen);
  }
  case KEY_AGENTS:
    /* Comma-separated substrings; empty items are ignored. */
    for (const char *p = v; *p != '\0'; p++) {
      if ((unsigned char)*p < 0x20 || *p == 0x7f) {
        snprintf(why, whylen, "a control character in '%.64s'", v);
        return -1;
      }
    }
    return config_copy_str(base + k->off, CONFIG_PATH_MAX, v, why, whylen);
  case KEY_WORKERS:
    /* "auto" (0): the CPUs the process may run on, counted at start. */
    if (strcmp(v, "auto") == 0) {
      *(int *)(base + k->off) = 0;
      return 0;
    }
    if (parse_int(v, k->min, k->max, &n, why, whylen) < 0) {
      snprintf(why, whylen, "'%.64s' is not auto or a count (%lld..%lld)", v,
               k->min, k->max);
      return -1;
    }
    *(int *)(base + k->off) = (int)n;
    return 0;
  case KEY_ADDR: {
    if (*v == '\0') {
      base[k->off] = '\0';
      *(int *)(base + k->port_off) = 0;
      return 0;
    }
    /* A bare port is loopback (parse_addr): the admin endpoint is for the
     * operator. */
    return config_parse_addr(v, 1, base + k->off, CONFIG_HOST_MAX,
                      (int *)(base + k->port_off), why, whylen);
  }
  }
  snprintf(why, whylen, "internal error: bad key type");
  return -1;
}
int config_key_index(const struct key_def *k) { return (int)(k - keys); }

_Static_assert(ARRAY_SIZE(keys) <= CONFIG_KEYS_MAX, "CONFIG_KEYS_MAX");
