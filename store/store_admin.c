/* store_admin.c: what heraldctl reads and writes besides rules and
 * visits: settings and overrides one at a time, the keys an operator may
 * name, push outcomes and a page's row.
 *
 * A heraldctl command runs once per process, so these statements are
 * prepared when they run and finalized after (store_prepare), except the
 * outcomes of one rule, which `rules` asks for every rule it lists
 * (RST_OUTCOMES, prepared at open). Each write is one autocommit
 * statement: on a WAL database it holds herald's recorder up for no
 * longer than that statement. */
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "store/store.h"
#include "store/store_int.h"

static const char *class_name(int mobile) {
  return mobile ? "mobile" : "desktop";
}

/* run_write steps a one-shot statement that returns no rows and says how
 * many rows it changed. */
static int run_write(struct store *s, sqlite3_stmt *st, const char *what,
                     int *changes) {
  int rc = sqlite3_step(st);
  *changes = sqlite3_changes(store_db(s));
  return store_done(s, st, rc, what);
}

/* prepare2 prepares |sql| and binds the texts |a| and |b| to ?1 and ?2
 * (a setting's scope and name, an override's page and resource). */
static int prepare2(struct store *s, const char *sql, const char *a,
                    const char *b, sqlite3_stmt **st, const char *what) {
  int rv = store_prepare(s, sql, st, what);
  if (rv != 0)
    return rv;
  sqlite3_bind_text(*st, 1, a, -1, SQLITE_STATIC);
  sqlite3_bind_text(*st, 2, b, -1, SQLITE_STATIC);
  return 0;
}

/* ---- settings ------------------------------------------------------------ */

int store_unset_setting(struct store *s, const char *scope, const char *name) {
  sqlite3_stmt *st;
  int rv = prepare2(s, "DELETE FROM settings WHERE scope = ?1 AND name = ?2",
                    scope, name, &st, "settings");
  if (rv != 0)
    return rv;
  int changes;
  rv = run_write(s, st, "settings", &changes);
  return rv == 0 && changes == 0 ? UV_ENOENT : rv;
}

int store_list_settings(struct store *s, store_setting_cb cb, void *ud) {
  sqlite3_stmt *st;
  int rv = store_prepare(s,
                         "SELECT scope, name, value FROM settings"
                         " ORDER BY scope, name",
                         &st, "settings");
  if (rv != 0)
    return rv;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    cb(ud, store_text(st, 0), store_text(st, 1), store_text(st, 2));
  return store_done(s, st, rc, "settings");
}

/* ---- overrides ----------------------------------------------------------- */

int store_get_override(struct store *s, const char *page_key,
                       const char *resource_key, char *out, size_t cap) {
  sqlite3_stmt *st;
  int rv = prepare2(s,
                    "SELECT action FROM overrides"
                    " WHERE page_key = ?1 AND resource_key = ?2",
                    page_key, resource_key, &st, "overrides");
  if (rv != 0)
    return rv;
  int rc = sqlite3_step(st);
  out[0] = '\0';
  if (rc == SQLITE_ROW) {
    snprintf(out, cap, "%s", store_text(st, 0));
    rc = SQLITE_DONE;
  }
  return store_done(s, st, rc, "overrides");
}

int store_set_override(struct store *s, const char *page_key,
                       const char *resource_key, const char *action) {
  sqlite3_stmt *st;
  int rv = prepare2(s,
                    "INSERT INTO overrides(page_key, resource_key, action)"
                    " VALUES(?1, ?2, ?3) ON CONFLICT(page_key, resource_key)"
                    " DO UPDATE SET action = excluded.action",
                    page_key, resource_key, &st, "overrides");
  if (rv != 0)
    return rv;
  sqlite3_bind_text(st, 3, action, -1, SQLITE_STATIC);
  int changes;
  return run_write(s, st, "overrides", &changes);
}

int store_unset_override(struct store *s, const char *page_key,
                         const char *resource_key) {
  sqlite3_stmt *st;
  int rv = prepare2(s,
                    "DELETE FROM overrides"
                    " WHERE page_key = ?1 AND resource_key = ?2",
                    page_key, resource_key, &st, "overrides");
  if (rv != 0)
    return rv;
  int changes;
  return run_write(s, st, "overrides", &changes);
}

/* ---- keys ---------------------------------------------------------------- */

int store_list_keys(struct store *s, enum store_keys which, const char *page,
                    store_key_cb cb, void *ud) {
  static const struct {
    const char *sql, *what;
  } q[] = {
      /* Pages that nothing refers to any more (their visits trimmed,
       * their rules gone) do not make a bare path ambiguous. */
      [STORE_KEYS_PAGES] = {"SELECT key FROM pages WHERE visits > 0"
                            " OR id IN (SELECT page_id FROM rules)"
                            " OR key IN (SELECT page_key FROM overrides)"
                            " ORDER BY key",
                            "page"},
      [STORE_KEYS_ALL_PAGES] = {"SELECT key FROM pages ORDER BY key",
                                "pages"},
      [STORE_KEYS_RESOURCES] = {"SELECT key FROM resources ORDER BY key",
                                "resource"},
      [STORE_KEYS_OVERRIDDEN] = {"SELECT resource_key FROM overrides"
                                 " WHERE page_key = ?1"
                                 " ORDER BY resource_key",
                                 "override"},
  };
  sqlite3_stmt *st;
  int rv = store_prepare(s, q[which].sql, &st, q[which].what);
  if (rv != 0)
    return rv;
  if (which == STORE_KEYS_OVERRIDDEN)
    sqlite3_bind_text(st, 1, page, -1, SQLITE_STATIC);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    if (cb(ud, store_text(st, 0)) != 0) {
      rc = SQLITE_DONE;
      break;
    }
  return store_done(s, st, rc, q[which].what);
}

int store_page_row(struct store *s, const char *key, int64_t *id,
                   int *is_template) {
  sqlite3_stmt *st;
  int rv = store_prepare(s, "SELECT id, is_template FROM pages WHERE key = ?1",
                         &st, "pages");
  if (rv != 0)
    return rv;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *id = sqlite3_column_int64(st, 0);
    *is_template = sqlite3_column_int(st, 1);
    sqlite3_finalize(st);
    return 0;
  }
  if (rc == SQLITE_DONE) {
    sqlite3_finalize(st);
    store_seterr(s, "pages: no page %s", key);
    return UV_ENOENT;
  }
  return store_done(s, st, rc, "pages");
}

/* ---- push outcomes ------------------------------------------------------- */

int store_get_outcomes(struct store *s, const char *page_key, int mobile,
                       const char *resource_key, struct store_outcomes *out) {
  sqlite3_stmt *st = store_rst(s, RST_OUTCOMES);
  memset(out, 0, sizeof(*out));
  sqlite3_bind_text(st, 1, page_key, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, class_name(mobile), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, resource_key, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    out->promised = sqlite3_column_int64(st, 0);
    out->completed = sqlite3_column_int64(st, 1);
    out->cancelled = sqlite3_column_int64(st, 2);
    out->wasted = sqlite3_column_int64(st, 3);
    out->hinted = sqlite3_column_int64(st, 4);
    out->hinted_used = sqlite3_column_int64(st, 5);
    rc = SQLITE_DONE;
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE ? 0 : store_sqlerr(s, rc, "push outcomes");
}

int store_page_outcomes(struct store *s, const char *page_key,
                        store_outcomes_cb cb, void *ud) {
  sqlite3_stmt *st;
  int rv = store_prepare(s,
                         "SELECT o.class, r.key, o.completed, o.cancelled,"
                         " o.wasted FROM push_outcomes o"
                         " JOIN pages p ON p.id = o.page_id"
                         " JOIN resources r ON r.id = o.resource_id"
                         " WHERE p.key = ?1",
                         &st, "push outcomes");
  if (rv != 0)
    return rv;
  sqlite3_bind_text(st, 1, page_key, -1, SQLITE_STATIC);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    struct store_outcomes o = {
        .completed = sqlite3_column_int64(st, 2),
        .cancelled = sqlite3_column_int64(st, 3),
        .wasted = sqlite3_column_int64(st, 4),
    };
    cb(ud, strcmp(store_text(st, 0), "mobile") == 0, store_text(st, 1), &o);
  }
  return store_done(s, st, rc, "push outcomes");
}
