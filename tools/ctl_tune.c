/* ctl_tune.c: the operator's knobs. `threshold`, `min-visits`, `budget`,
 * `max-resources` and `mode` read and write the settings table (scope
 * 'global' or 'route:NAME'); `pin`, `block` and `unpin` write overrides,
 * for one page or a scope (a host, a route, a path pattern). herald's
 * learner reads both at every recompute (learner/learner.c), so a running
 * herald applies a change within one learn.interval, without a restart;
 * `mode` is read by the proxy side. Each write is one autocommit
 * statement on a WAL database: it never holds herald's recorder up for
 * longer than that statement, and a recorder mid-batch is waited for
 * (busy timeout), not failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/util.h"
#include "config/config.h"
#include "store/store.h"
#include "tools/ctl.h"

/* ---- settings ------------------------------------------------------------ */

/* The settings keys behind a command: one, or with |channel| NULL the
 * push and the hint one (threshold, budget, max-resources). Returns how
 * many. */
static size_t keys_of(const char *cmd, const char *channel,
                      const char *out[2]) {
  static const struct {
    const char *cmd, *push, *hint;
  } per_channel[] = {
      {"threshold", "push_threshold", "hint_threshold"},
      {"budget", "push_budget", "hint_budget"},
      {"max-resources", "push_max_resources", "hint_max_resources"},
  };
  for (size_t i = 0; i < ARRAY_SIZE(per_channel); i++) {
    if (strcmp(cmd, per_channel[i].cmd) != 0)
      continue;
    if (channel == NULL) {
      out[0] = per_channel[i].push;
      out[1] = per_channel[i].hint;
      return 2;
    }
    out[0] = strcmp(channel, "push") == 0 ? per_channel[i].push
                                          : per_channel[i].hint;
    return 1;
  }
  out[0] = strcmp(cmd, "min-visits") == 0 ? "min_visits" : "mode";
  return 1;
}

/* check_route makes sure --route names a route of -c CONFIG (herald's
 * learner reads the settings of configured routes only). Without a
 * configuration any name is taken. */
static int check_route(const struct ctl *c) {
  if (c->route == NULL || c->cfg == NULL)
    return CTL_OK;
  for (int i = 0; i < c->cfg->nroutes; i++)
    if (strcmp(c->cfg->routes[i].name, c->route) == 0)
      return CTL_OK;
  fprintf(stderr, "heraldctl: no route '%s' in %s\n", c->route,
          c->cfg->source[0] != '\0' ? c->cfg->source : "the configuration");
  return CTL_NOT_FOUND;
}

static void print_value(const char *name, const char *value) {
  if (strcmp(name, "mode") == 0)
    ctl_json_str(value);
  else
    fputs(value, stdout);
}

static int setting_get(const struct ctl *c, const char *const *names,
                       size_t n) {
  static const char *const head[] = {"SETTING", "VALUE", "SOURCE"};
  struct ctl_table t = {3, head, "lrl", NULL, 0, 0, NULL};
  size_t count = 0;
  for (size_t i = 0; i < n; i++) {
    char value[64], source[160];
    int st = ctl_effective(c, names[i], c->route, value, sizeof value, source,
                           sizeof source);
    if (st != CTL_OK) {
      ctl_table_free(&t);
      return st;
    }
    if (c->json) {
      ctl_json_next(&count);
      printf("\"name\": \"%s\", \"value\": ", names[i]);
      print_value(names[i], value);
      fputs(", \"source\": ", stdout);
      ctl_json_str(source);
      fputs(", \"route\": ", stdout);
      if (c->route != NULL)
        ctl_json_str(c->route);
      else
        fputs("null", stdout);
      putchar('}');
    } else {
      /* A size for a person; bytes for a script. */
      const struct ctl_setting *set = ctl_setting_find(names[i]);
      char size[32];
      const char *row[] = {names[i], value, source};
      if (ctl_human() && set != NULL && set->is_size)
        row[1] = ctl_fmt_size(strtod(value, NULL), 1, size, sizeof size);
      ctl_table_add(&t, row);
    }
  }
  if (c->json)
    ctl_json_end(count);
  else
    ctl_table_print(&t);
  return CTL_OK;
}

static int setting_write(const struct ctl *c, const char *name,
                         const char *value) {
  char scope[160];
  if (c->route != NULL)
    snprintf(scope, sizeof scope, "route:%s", c->route);
  else
    snprintf(scope, sizeof scope, "global");
  int rv = value != NULL ? store_set_setting(c->s, scope, name, value)
                         : store_unset_setting(c->s, scope, name);
  if (rv == UV_ENOENT) {
    fprintf(stderr, "heraldctl: no setting %s in scope %s\n", name, scope);
    return CTL_NOT_FOUND;
  }
  if (rv != 0)
    return ctl_store_error(c);
  if (c->json) {
    printf("{\"name\": \"%s\", \"scope\": ", name);
    ctl_json_str(scope);
    fputs(", \"value\": ", stdout);
    if (value != NULL)
      print_value(name, value);
    else
      fputs("null", stdout);
    fputs("}\n", stdout);
  } else if (value != NULL) {
    char size[32];
    const struct ctl_setting *set = ctl_setting_find(name);
    if (set != NULL && set->is_size)
      value = ctl_fmt_size(strtod(value, NULL), 1, size, sizeof size);
    printf("%s = %s (%s); a running herald applies it within one learner"
           " interval\n",
           name, value, scope);
  } else {
    printf("%s unset (%s); a running herald applies it within one learner"
           " interval\n",
           name, scope);
  }
  return CTL_OK;
}

int ctl_setting_cmd(const struct ctl *c, const char *cmd) {
  const char *verb = c->args[0];
  int get = strcmp(verb, "get") == 0, set = strcmp(verb, "set") == 0,
      unset = strcmp(verb, "unset") == 0;
  if (!get && !set && !unset) {
    fprintf(stderr, "heraldctl: %s %s: want get, set or unset\n", cmd, verb);
    return CTL_ERROR;
  }
  if (set != (c->nargs == 2)) {
    fprintf(stderr, "heraldctl: %s\n",
            set ? "set needs a value" : "a value goes with set only");
    return CTL_ERROR;
  }
  int st = check_route(c);
  if (st != CTL_OK)
    return st;
  const char *names[2];
  size_t n = keys_of(cmd, c->channel, names);
  if (get)
    return setting_get(c, names, n);
  /* A threshold is per channel; a budget without --channel sets both. */
  if (n == 2 && strcmp(cmd, "threshold") == 0) {
    fprintf(stderr, "heraldctl: threshold %s needs --channel push or hint\n",
            verb);
    return CTL_ERROR;
  }
  char norm[64], why[96];
  if (set && ctl_setting_check(ctl_setting_find(names[0]), c->args[1], norm,
                               sizeof norm, why, sizeof why) != 0) {
    fprintf(stderr, "heraldctl: %s '%s': %s\n", cmd, c->args[1], why);
    return CTL_ERROR;
  }
  for (size_t i = 0; i < n && st == CTL_OK; i++)
    st = setting_write(c, names[i], set ? norm : NULL);
  return st;
}

/* ---- overrides ------------------------------------------------------------ */

/* origins collects the distinct "scheme://authority" of the keys of the
 * pages table whose authority is |host| (any, when NULL), up to 2.
 * Returns how many there are (2 meaning "more than one"), or -1. */
struct origins {
  const char *host;
  char (*out)[512];
  int n;
};

static int on_page_key(void *ud, const char *key) {
  struct origins *o = ud;
  const char *path = ctl_path_of(key);
  const char *auth = strstr(key, "://");
  if (path == NULL || auth == NULL)
    return 0;
  size_t olen = (size_t)(path - key);
  auth += 3;
  if (o->host != NULL && (strlen(o->host) != (size_t)(path - auth) ||
                          strncmp(auth, o->host, (size_t)(path - auth)) != 0))
    return 0;
  if (olen >= 512)
    return 0;
  int dup = 0;
  for (int i = 0; i < o->n && !dup; i++)
    dup = strlen(o->out[i]) == olen && strncmp(o->out[i], key, olen) == 0;
  if (dup)
    return 0;
  if (o->n == 2)
    return 1;
  memcpy(o->out[o->n], key, olen);
  o->out[o->n][olen] = '\0';
  o->n++;
  return 0;
}

static int origins(const struct ctl *c, const char *host, char out[2][512]) {
  struct origins o = {host, out, 0};
  if (store_list_keys(c->s, STORE_KEYS_ALL_PAGES, NULL, on_page_key, &o) != 0)
    return (void)ctl_store_error(c), -1;
  return o.n;
}

/* resolve_scope turns the SCOPE an operator gave pin, block or unpin into
 * what the overrides table stores: a page (or level) key as stored, or a
 * bare path of one; "site:HOST" (every page of HOST: "scheme://HOST/" and
 * two stars); a key pattern with '*' (a bare path pattern gets the one
 * origin the database knows); or "route:NAME". */
static int resolve_scope(const struct ctl *c, const char *want, char *out,
                         size_t cap) {
  char o[2][512];
  if (strncmp(want, "route:", 6) == 0) {
    if (want[6] == '\0') {
      fprintf(stderr, "heraldctl: route: needs a route name\n");
      return CTL_ERROR;
    }
    for (int i = 0; c->cfg != NULL && i < c->cfg->nroutes; i++)
      if (strcmp(c->cfg->routes[i].name, want + 6) == 0)
        return snprintf(out, cap, "%s", want), CTL_OK;
    if (c->cfg != NULL) {
      fprintf(stderr, "heraldctl: no route '%s' in %s\n", want + 6,
              c->cfg->source[0] != '\0' ? c->cfg->source
                                        : "the configuration");
      return CTL_NOT_FOUND;
    }
    snprintf(out, cap, "%s", want);
    return CTL_OK;
  }
  int site = strncmp(want, "site:", 5) == 0;
  if (site || (want[0] == '/' && strchr(want, '*') != NULL)) {
    int n = origins(c, site ? want + 5 : NULL, o);
    if (n < 0)
      return CTL_ERROR;
    if (n == 0) {
      fprintf(stderr, "heraldctl: no pages %s%s\n", site ? "of " : "",
              site ? want + 5 : "recorded");
      return CTL_NOT_FOUND;
    }
    if (n > 1) {
      fprintf(stderr, "heraldctl: %s is ambiguous: %s, %s; give the whole"
                      " pattern (%s/...)\n",
              want, o[0], o[1], o[0]);
      return CTL_ERROR;
    }
    snprintf(out, cap, "%s%s", o[0], site ? "/**" : want);
    return CTL_OK;
  }
  if (strchr(want, '*') != NULL) {
    const char *path = ctl_path_of(want);
    if (path == NULL || strncmp(want, "http", 4) != 0) {
      fprintf(stderr, "heraldctl: pattern %s: want scheme://host/PATH or"
                      " /PATH\n",
              want);
      return CTL_ERROR;
    }
    snprintf(out, cap, "%s", want);
    return CTL_OK;
  }
  return ctl_find_page(c, want, out, cap);
}

int ctl_override_cmd(const struct ctl *c, const char *cmd) {
  char page[4096], res[4096], was[16];
  int st = resolve_scope(c, c->args[0], page, sizeof page);
  if (st != CTL_OK)
    return st;
  int unpin = strcmp(cmd, "unpin") == 0;
  if (unpin)
    st = ctl_find_override(c, page, c->args[1], res, sizeof res);
  else
    st = ctl_find_resource(c, ctl_path_of(page) != NULL ? page : NULL,
                           c->args[1], res, sizeof res);
  if (st == CTL_OK && store_get_override(c->s, page, res, was, sizeof was) != 0)
    st = ctl_store_error(c);
  if (st != CTL_OK)
    return st;
  const char *action = strcmp(cmd, "pin") == 0 ? "pin" : "block";
  int rv = unpin ? store_unset_override(c->s, page, res)
                 : store_set_override(c->s, page, res, action);
  if (rv != 0)
    return ctl_store_error(c);
  if (c->json) {
    fputs("{\"page\": ", stdout);
    ctl_json_str(page);
    fputs(", \"resource\": ", stdout);
    ctl_json_str(res);
    printf(", \"action\": %s%s%s, \"was\": %s%s%s}\n", unpin ? "" : "\"",
           unpin ? "null" : action, unpin ? "" : "\"", was[0] ? "\"" : "",
           was[0] ? was : "null", was[0] ? "\"" : "");
    return CTL_OK;
  }
  const char *done = unpin ? (strcmp(was, "pin") == 0 ? "unpinned" : "unblocked")
                     : strcmp(action, "pin") == 0 ? "pinned"
                                                  : "blocked";
  printf("%s %s on %s%s%s%s; a running herald applies it within one learner"
         " interval (or run heraldctl learn)\n",
         done, ctl_short_key(page, res), page, was[0] && !unpin ? " (was " : "",
         was[0] && !unpin ? was : "", was[0] && !unpin ? ")" : "");
  return CTL_OK;
}
