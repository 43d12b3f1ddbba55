/* config.c: see config.h. A configuration's life (config_new, its
 * references, its defaults), what the proxy and learner ask of one
 * (budgets, ignored clients), and config_validate, the cross-key checks
 * that run once the file and flags are in.
 *
 * The configuration is built in three parts besides this one:
 * config_keys.c (the keys of the global sections and their value
 * parsers), config_file.c (the INI file) and config_flags.c (the command
 * line); config_int.h is what they share. */
#include "config/config.h"

#include <arpa/inet.h>
#include <errno.h>
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
#include "base/privs.h"
#include "config/config_int.h"

struct config *config_new(void) {
  struct config *c = xcalloc(1, sizeof(*c));
  config_defaults(c);
  atomic_init(&c->refs, 1);
  return c;
}

void config_ref(struct config *c) { atomic_fetch_add(&c->refs, 1); }

void config_unref(struct config *c) {
  if (c != NULL && atomic_fetch_sub(&c->refs, 1) == 1)
    free(c);
}

void config_defaults(struct config *c) {
  int refs = atomic_load(&c->refs);
  memset(c, 0, sizeof *c);
  atomic_init(&c->refs, refs);
  c->log_level = LOG_LEVEL_INFO;
  strcpy(c->access_format, ACCESS_FORMAT_DEFAULT);
  char why[256];
  access_format_parse(c->access_format, &c->access_compiled, why,
                      sizeof(why));
  c->max_connections = 10000;
  c->max_connections_per_client = 256;
  c->max_concurrent_streams = 100;
  c->max_header_list_size = 65536;
  c->max_header_fields = 100;
  c->max_request_body = 104857600;
  c->max_requests_per_conn = 10000;
  c->backend_keepalive = 1024;
  c->backend_max_connections = 1024;
  c->backend_queue = 4096;
  c->backend_pipeline = 1;
  c->write_buffer = 262144;
  c->idle_timeout = 60000;
  c->header_timeout = 10000;
  c->tls_handshake_timeout = 10000;
  c->write_timeout = 30000;
  c->backend_connect_timeout = 5000;
  c->backend_read_timeout = 30000;
  c->backend_idle_timeout = 60000;
  c->backend_queue_timeout = 5000;
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
  c->deliver_mode = CONFIG_DEFAULT_DELIVER;
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
  char why[256];
  if (access_format_parse(c->access_format, &c->access_compiled, why,
                          sizeof(why)) != 0) {
    snprintf(err, errlen, "log.access_format: %s", why);
    return -1;
  }
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
