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

#include "config/config.h"
#include "proxy/util.h"
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
  struct ctl_table t = {3, head, "lrl", NULL, 0, 0};
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
      const char *row[] = {names[i], value, source};
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
  sqlite3_stmt *st;
  const char *sql =
      value != NULL
          ? "INSERT INTO settings(scope, name, value) VALUES(?1, ?2, ?3)"
            " ON CONFLICT(scope, name) DO UPDATE SET value = excluded.value"
          : "DELETE FROM settings WHERE scope = ?1 AND name = ?2";
  if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
    return ctl_sqlerr(c, "settings");
  sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
  if (value != NULL)
    sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE)
    return ctl_sqlerr(c, "settings");
  if (value == NULL && sqlite3_changes(c->db) == 0) {
    fprintf(stderr, "heraldctl: no setting %s in scope %s\n", name, scope);
    return CTL_NOT_FOUND;
  }
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

/* current_action reads the override of (page, resource) into |out|: ""
 * when there is none. */
static int current_action(const struct ctl *c, const char *page,
                          const char *res, char *out, size_t cap) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(c->db,
                         "SELECT action FROM overrides"
                         " WHERE page_key = ?1 AND resource_key = ?2",
                         -1, &st, NULL) != SQLITE_OK)
    return ctl_sqlerr(c, "overrides");
  sqlite3_bind_text(st, 1, page, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, res, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  out[0] = '\0';
  if (rc == SQLITE_ROW)
    snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return ctl_sqlerr(c, "overrides");
  return CTL_OK;
}

/* origins collects the distinct "scheme://authority" of the keys of the
 * pages table whose authority is |host| (any, when NULL), up to 2.
 * Returns how many there are (2 meaning "more than one"), or -1. */
static int origins(const struct ctl *c, const char *host, char out[2][512]) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(c->db, "SELECT key FROM pages ORDER BY key", -1, &st,
                         NULL) != SQLITE_OK)
    return (void)ctl_sqlerr(c, "pages"), -1;
  int n = 0, rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *key = (const char *)sqlite3_column_text(st, 0);
    const char *path = key != NULL ? ctl_path_of(key) : NULL;
    const char *auth = key != NULL ? strstr(key, "://") : NULL;
    if (path == NULL || auth == NULL)
      continue;
    size_t olen = (size_t)(path - key);
    auth += 3;
    if (host != NULL && (strlen(host) != (size_t)(path - auth) ||
                         strncmp(auth, host, (size_t)(path - auth)) != 0))
      continue;
    if (olen >= 512)
      continue;
    int dup = 0;
    for (int i = 0; i < n && !dup; i++)
      dup = strlen(out[i]) == olen && strncmp(out[i], key, olen) == 0;
    if (dup)
      continue;
    if (n == 2)
      break;
    memcpy(out[n], key, olen);
    out[n][olen] = '\0';
    n++;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return (void)ctl_sqlerr(c, "pages"), -1;
  return n;
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
  if (st == CTL_OK)
    st = current_action(c, page, res, was, sizeof was);
  if (st != CTL_OK)
    return st;
  const char *action = strcmp(cmd, "pin") == 0 ? "pin" : "block";
  sqlite3_stmt *q;
  const char *sql =
      unpin ? "DELETE FROM overrides WHERE page_key = ?1 AND resource_key = ?2"
            : "INSERT INTO overrides(page_key, resource_key, action)"
              " VALUES(?1, ?2, ?3) ON CONFLICT(page_key, resource_key)"
              " DO UPDATE SET action = excluded.action";
  if (sqlite3_prepare_v2(c->db, sql, -1, &q, NULL) != SQLITE_OK)
    return ctl_sqlerr(c, "overrides");
  sqlite3_bind_text(q, 1, page, -1, SQLITE_STATIC);
  sqlite3_bind_text(q, 2, res, -1, SQLITE_STATIC);
  if (!unpin)
    sqlite3_bind_text(q, 3, action, -1, SQLITE_STATIC);
  int rc = sqlite3_step(q);
  sqlite3_finalize(q);
  if (rc != SQLITE_DONE)
    return ctl_sqlerr(c, "overrides");
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
