/* ctl_tune.c: the operator's knobs. `threshold`, `min-visits`, `budget`
 * and `mode` read and write the settings table (scope 'global' or
 * 'route:NAME'); `pin`, `block` and `unpin` write overrides. herald's
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

/* The settings key behind a command. */
static const char *key_of(const char *cmd, const char *channel) {
  if (strcmp(cmd, "threshold") == 0)
    return strcmp(channel, "push") == 0 ? "push_threshold" : "hint_threshold";
  if (strcmp(cmd, "min-visits") == 0)
    return "min_visits";
  if (strcmp(cmd, "budget") == 0)
    return "budget";
  return "mode";
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
  if (strcmp(cmd, "threshold") == 0 && c->channel == NULL) {
    if (!get) {
      fprintf(stderr, "heraldctl: threshold %s needs --channel push or hint\n",
              verb);
      return CTL_ERROR;
    }
    static const char *const both[] = {"push_threshold", "hint_threshold"};
    return setting_get(c, both, 2);
  }
  const char *name = key_of(cmd, c->channel != NULL ? c->channel : "hint");
  if (get)
    return setting_get(c, &name, 1);
  if (unset)
    return setting_write(c, name, NULL);
  char norm[64], why[96];
  if (ctl_setting_check(ctl_setting_find(name), c->args[1], norm, sizeof norm,
                        why, sizeof why) != 0) {
    fprintf(stderr, "heraldctl: %s '%s': %s\n", cmd, c->args[1], why);
    return CTL_ERROR;
  }
  return setting_write(c, name, norm);
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

int ctl_override_cmd(const struct ctl *c, const char *cmd) {
  char page[4096], res[4096], was[16];
  int st = ctl_find_page(c, c->args[0], page, sizeof page);
  if (st != CTL_OK)
    return st;
  int unpin = strcmp(cmd, "unpin") == 0;
  if (unpin)
    st = ctl_find_override(c, page, c->args[1], res, sizeof res);
  else
    st = ctl_find_resource(c, page, c->args[1], res, sizeof res);
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
