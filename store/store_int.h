/* store_int.h: what store.c shares with the other files of store/. Not
 * for use outside store/: callers see only store.h.
 *
 * store.c owns the connection, the error text and every prepared
 * statement; store_rules.c (the learner's and heraldctl's queries) lists
 * its SQL here so that store_open prepares it with the rest, once, and a
 * typo in it fails at open rather than at the first `heraldctl learn`.
 * heraldctl's one-shot commands (store_admin.c, store_stats.c,
 * store_import.c) prepare their statements when they run
 * (store_prepare), as a command runs once per process. */
#ifndef STORE_STORE_INT_H
#define STORE_STORE_INT_H

#include <sqlite3.h>
#include <stdint.h>

#include "store/store.h"

enum store_rst {
  RST_PAGE,         /* page id by key, created if missing */
  RST_RESOURCE,     /* resource id by key, created if missing */
  RST_DELETE_RULES, /* rules of (page, class) */
  RST_INSERT_RULE,
  RST_PUT_AGGREGATE,
  RST_LOAD_RULES,
  RST_VISITS,     /* retained visits, oldest first */
  RST_VISIT_REQS, /* requests of one visit, by seq */
  RST_VISIT_NAMED, /* named set of one visit */
  RST_VISIT_DECLARED, /* declared set of one visit */
  RST_GET_SETTING,
  RST_SET_SETTING,
  RST_OVERRIDES,
  RST_PAGES, /* heraldctl pages */
  RST_OUTCOMES, /* push_outcomes of one (page, class, resource) */
  RST_MAX,
};

/* store_rst_sql[id] is the text of statement |id| (store_rules.c). */
extern const char *const store_rst_sql[RST_MAX];

/* store_rst returns the prepared statement |id| of |s|. */
sqlite3_stmt *store_rst(struct store *s, enum store_rst id);

/* store_seterr sets the error text of |s| ("store PATH: " and the
 * formatted rest). store_sqlerr records SQLite's |rc| from step |what|
 * and returns the matching UV_E* code. */
void store_seterr(struct store *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int store_sqlerr(struct store *s, int rc, const char *what);

/* store_step runs a statement that returns no rows; store_step_id one
 * that returns an id (INSERT ... RETURNING id). Both reset the statement
 * and clear its bindings. */
int store_step(struct store *s, sqlite3_stmt *st, const char *what);
int store_step_id(struct store *s, sqlite3_stmt *st, const char *what,
                  int64_t *id);

/* store_db is the connection of |s|, for the files of store/ that
 * prepare one-shot statements. */
sqlite3 *store_db(struct store *s);

/* store_prepare prepares |sql| on |s| into |*out| (to be finalized by
 * the caller); on failure it records the error under |what|, sets |*out|
 * to NULL and returns the UV_E* code. */
int store_prepare(struct store *s, const char *sql, sqlite3_stmt **out,
                  const char *what);

/* store_done finalizes a one-shot statement whose last sqlite3_step
 * returned |rc|: 0 when that was SQLITE_DONE, else the error, recorded
 * under |what|. */
int store_done(struct store *s, sqlite3_stmt *st, int rc, const char *what);

/* store_text is column |col| of the current row as text, "" for NULL. */
static inline const char *store_text(sqlite3_stmt *st, int col) {
  const unsigned char *t = sqlite3_column_text(st, col);
  return t != NULL ? (const char *)t : "";
}

#endif
