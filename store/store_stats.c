/* store_stats.c: the rows `heraldctl stats` compares: the visits of a
 * window sorted by what herald sent ahead of them, and the push and hint
 * outcomes recorded in it (tools/ctl_stats.c does the arithmetic and says
 * what the rows mean). A window is a start time and one page or template
 * (struct store_window); its two parameters are ?1 and ?2 of every
 * statement here, NULL when not set. */
#include <stdio.h>
#include <string.h>

#include "store/store.h"
#include "store/store_int.h"

static void bind_window(sqlite3_stmt *st, const struct store_window *w) {
  if (w->has_since)
    sqlite3_bind_int64(st, 1, w->since_ms);
  else
    sqlite3_bind_null(st, 1);
  if (w->page_id >= 0)
    sqlite3_bind_int64(st, 2, w->page_id);
  else
    sqlite3_bind_null(st, 2);
}

/* A page is "with rules" when it had a treated or holdout visit in the
 * window. */
int store_window_visits(struct store *s, const struct store_window *w,
                        store_window_visit_cb cb, void *ud) {
  static const char sql[] =
      "WITH win AS (SELECT page_id, delivery, load_ms, bytes FROM visits"
      "  WHERE (?1 IS NULL OR started_at >= ?1)"
      "  AND (?2 IS NULL OR page_id = ?2 OR template_id = ?2)),"
      " ruled AS (SELECT DISTINCT page_id FROM win"
      "  WHERE delivery IN ('push', 'hints', 'holdout'))"
      " SELECT delivery, load_ms, bytes, page_id IN ruled FROM win";
  sqlite3_stmt *st;
  int rv = store_prepare(s, sql, &st, "visits");
  if (rv != 0)
    return rv;
  bind_window(st, w);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const unsigned char *t = sqlite3_column_text(st, 0);
    struct store_window_visit v = {
        .delivery = t != NULL ? (const char *)t : NULL,
        .has_load = sqlite3_column_type(st, 1) != SQLITE_NULL,
        .load_ms = sqlite3_column_double(st, 1),
        .has_bytes = sqlite3_column_type(st, 2) != SQLITE_NULL,
        .bytes = sqlite3_column_double(st, 2),
        .ruled = sqlite3_column_int(st, 3),
    };
    cb(ud, &v);
  }
  return store_done(s, st, rc, "visits");
}

int store_window_ruled_pages(struct store *s, const struct store_window *w,
                             uint64_t *out) {
  sqlite3_stmt *st;
  int rv = store_prepare(s,
                         "SELECT count(DISTINCT page_id) FROM visits"
                         " WHERE (?1 IS NULL OR started_at >= ?1)"
                         " AND (?2 IS NULL OR page_id = ?2 OR template_id = ?2)"
                         " AND delivery IN ('push', 'hints', 'holdout')",
                         &st, "visits");
  if (rv != 0)
    return rv;
  bind_window(st, w);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *out = (uint64_t)sqlite3_column_int64(st, 0);
    rc = SQLITE_DONE;
  }
  return store_done(s, st, rc, "visits");
}

/* The exact page rows, or the rows of the page the window names. */
#define OUTCOME_WHERE                                                          \
  " WHERE (?1 IS NULL OR o.updated_at >= ?1)"                                  \
  " AND (CASE WHEN ?2 IS NULL THEN p.is_template = 0"                          \
  " ELSE o.page_id = ?2 END)"

int store_window_outcomes(struct store *s, const struct store_window *w,
                          struct store_outcomes *out) {
  sqlite3_stmt *st;
  int rv = store_prepare(
      s,
      "SELECT total(o.promised), total(o.completed), total(o.cancelled),"
      " total(o.wasted), total(o.pushed_bytes), total(o.hinted),"
      " total(o.hinted_used)"
      " FROM push_outcomes o JOIN pages p ON p.id = o.page_id" OUTCOME_WHERE,
      &st, "push outcomes");
  if (rv != 0)
    return rv;
  bind_window(st, w);
  memset(out, 0, sizeof(*out));
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    int64_t *v[] = {&out->promised, &out->completed,    &out->cancelled,
                    &out->wasted,   &out->pushed_bytes, &out->hinted,
                    &out->hinted_used};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
      *v[i] = sqlite3_column_int64(st, (int)i);
    rc = SQLITE_DONE;
  }
  return store_done(s, st, rc, "push outcomes");
}

/* Most unused first (cancelled + wasted, as in the waste ratio), then the
 * larger share of what was promised. */
int store_window_wasted(struct store *s, const struct store_window *w,
                        int limit, store_wasted_cb cb, void *ud) {
  sqlite3_stmt *st;
  int rv = store_prepare(
      s,
      "SELECT p.key, r.key, total(o.promised) AS pr,"
      " total(o.cancelled) AS ca, total(o.wasted) AS wa"
      " FROM push_outcomes o JOIN pages p ON p.id = o.page_id"
      " JOIN resources r ON r.id = o.resource_id" OUTCOME_WHERE
      " GROUP BY o.page_id, o.resource_id HAVING ca + wa > 0"
      " ORDER BY ca + wa DESC, pr ASC, p.key, r.key LIMIT ?3",
      &st, "push outcomes");
  if (rv != 0)
    return rv;
  bind_window(st, w);
  sqlite3_bind_int(st, 3, limit);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    struct store_wasted row = {
        .page = store_text(st, 0),
        .resource = store_text(st, 1),
        .promised = sqlite3_column_int64(st, 2),
        .cancelled = sqlite3_column_int64(st, 3),
        .wasted = sqlite3_column_int64(st, 4),
    };
    cb(ud, &row);
  }
  return store_done(s, st, rc, "push outcomes");
}
