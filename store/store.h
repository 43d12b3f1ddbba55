/* store.h: herald's SQLite database: schema, migrations, queries.
 *
 * Only the recorder/learner thread (and heraldctl) ever open a store; the
 * loop thread never calls into this module. The database runs in WAL mode
 * with synchronous=NORMAL: a killed process loses at most the transaction
 * in progress and the file always passes integrity_check. Statements are
 * prepared once at open. Errors are negative UV_E* codes:
 *   UV_ENOENT  the directory does not exist
 *   UV_EACCES  permission denied / read-only database (UV_EROFS too)
 *   UV_EBUSY   locked by another process past the busy timeout
 *   UV_EIO     corrupt, not a herald database, or another SQLite error
 * with a one-line explanation from store_errmsg. */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "store/rows.h"

struct store;

#define STORE_SCHEMA_VERSION 5

/* store_open opens or creates the database at |path|, runs forward
 * migrations up to STORE_SCHEMA_VERSION and a quick_check. On error it
 * returns a negative UV_E* code, sets |*out| to NULL and writes one line
 * naming the path and the cause into |err|. */
int store_open(struct store **out, const char *path, char *err,
               size_t errlen);
void store_close(struct store *s); /* NULL is a no-op */

/* store_errmsg describes the last failure of |s|. */
const char *store_errmsg(const struct store *s);

/* store_begin / store_commit wrap a batch in one transaction;
 * store_rollback abandons it. */
int store_begin(struct store *s);
int store_commit(struct store *s);
void store_rollback(struct store *s);

/* store_add_visit records one finished visit: its page and template rows
 * (created on first sight, last_seen and visit counts updated), its
 * resources, the visit row, one row per attributed request, one per
 * declared resource (v->declared, its resource row created if needed)
 * and one per named resource (v->named; a key without a resource row is
 * skipped). Call inside
 * a transaction (outside one it makes its own); after an error, roll the
 * transaction back. |v| is only read during the call. */
int store_add_visit(struct store *s, const struct visit *v);

/* Increments to the push_outcomes row of a (page, class, resource). */
struct store_outcome {
  int promised, completed, cancelled, wasted, hinted, hinted_used;
  uint64_t pushed_bytes;
};

/* store_add_outcome adds |o| to the outcome counts of |resource_key| on
 * |page_key| for a class. Pages or resources never recorded are skipped
 * (returns 0). Call inside a transaction. */
int store_add_outcome(struct store *s, const char *page_key, int mobile,
                      const char *resource_key, const struct store_outcome *o,
                      int64_t now_ms);

/* store_trim_visits deletes the oldest visits (and their requests) beyond
 * the newest |retain| by start time. A negative |retain| is UV_EINVAL. */
int store_trim_visits(struct store *s, int64_t retain);

/* store_count runs "SELECT count(*) FROM |table|" (tests and heraldctl).
 * Returns the count or a negative UV_E* code; a name that is not one of
 * the schema's tables is UV_EINVAL. */
int64_t store_count(struct store *s, const char *table);

/* ---- learner and heraldctl ------------------------------------------- */

/* store_replace_rules replaces every rule row of (|page_key|, class) with
 * |rules| (only those with channels set or state pinned/blocked are
 * written; channel 'push' means push and hint, 'hint' hint only). Creates
 * the page and resource rows if needed. Call inside a transaction. */
int store_replace_rules(struct store *s, const char *page_key, int mobile,
                        const struct learn_rule *rules, size_t n,
                        int64_t now_ms);

/* store_put_aggregate writes the decayed counts of one (page, class,
 * resource); |r| carries k, n, clients, median delay, depth, bytes, and
 * |pushable|. Call inside a transaction. */
int store_put_aggregate(struct store *s, const char *page_key, int mobile,
                        const struct learn_rule *r, int pushable,
                        int64_t now_ms);

/* store_rule_cb receives one stored rule row: page key, class, and the
 * rule (key, dest, depth, state, channels, ord, k, n, confidence, wilson,
 * clients, bytes, median_delay_ms filled from rules joined with
 * aggregates and resources). Valid during the call. */
typedef void (*store_rule_cb)(void *ud, const char *page_key, int mobile,
                              const struct learn_rule *r);

/* store_load_rules calls |cb| for every rule row, per page in ord order
 * (what a restarted herald serves before it has learned anything). */
int store_load_rules(struct store *s, store_rule_cb cb, void *ud);

/* store_visit_cb receives one retained visit, oldest first. */
typedef void (*store_visit_cb)(void *ud, const struct visit *v);

/* store_replay_visits calls |cb| for every retained visit recorded with
 * exact URLs (schema 4 on) in the order they started, rebuilt as struct
 * visit (with their requests, named set and declared set). */
int store_replay_visits(struct store *s, store_visit_cb cb, void *ud);

/* store_get_setting reads settings(scope, name) into |out|; returns 0,
 * UV_ENOENT when unset, or an error. store_set_setting writes one. */
int store_get_setting(struct store *s, const char *scope, const char *name,
                      char *out, size_t cap);
int store_set_setting(struct store *s, const char *scope, const char *name,
                      const char *value);

/* store_overrides_cb receives one override (page key, resource key,
 * "pin" or "block"). store_load_overrides calls it for every row. */
typedef void (*store_override_cb)(void *ud, const char *page_key,
                                  const char *resource_key,
                                  const char *action);
int store_load_overrides(struct store *s, store_override_cb cb, void *ud);

/* struct store_page is one row of heraldctl's page list: a page (or
 * template) key and a class that has retained visits or rules. |visits|
 * is pages.visits, every visit recorded under the key in either class;
 * |rules| counts its rules with a push or hint channel in this class;
 * |last_seen_ms| is the key's latest visit (Unix ms). */
struct store_page {
  const char *key;
  int is_template;
  int mobile;
  int64_t visits;
  int64_t rules;
  int64_t last_seen_ms;
};

/* store_list_pages calls |cb| for every such (page, class), by key then
 * class; |p| and its key are valid during the call. */
typedef void (*store_page_cb)(void *ud, const struct store_page *p);
int store_list_pages(struct store *s, store_page_cb cb, void *ud);

/* ---- heraldctl ------------------------------------------------------- */

/* store_busy_timeout makes every statement of |s| wait up to |ms| for a
 * lock another connection holds (herald's recorder mid-batch) before it
 * fails with UV_EBUSY. */
void store_busy_timeout(struct store *s, int ms);

/* store_begin_read / store_end_read bracket reads that must see one
 * moment of the file while herald writes (export). */
int store_begin_read(struct store *s);
void store_end_read(struct store *s);

/* store_unset_setting deletes settings(scope, name): 0, UV_ENOENT when
 * there was none, or an error. store_list_settings calls |cb| for every
 * setting, by scope then name. */
int store_unset_setting(struct store *s, const char *scope, const char *name);
typedef void (*store_setting_cb)(void *ud, const char *scope,
                                 const char *name, const char *value);
int store_list_settings(struct store *s, store_setting_cb cb, void *ud);

/* store_get_override reads the action ("pin" or "block") of the override
 * of (page or scope key, resource key) into |out|: "" when there is none.
 * store_set_override writes one, store_unset_override deletes it (no row
 * is not an error). */
int store_get_override(struct store *s, const char *page_key,
                       const char *resource_key, char *out, size_t cap);
int store_set_override(struct store *s, const char *page_key,
                       const char *resource_key, const char *action);
int store_unset_override(struct store *s, const char *page_key,
                         const char *resource_key);

/* The keys an operator may name, each list by key. */
enum store_keys {
  STORE_KEYS_PAGES,      /* pages with visits, rules or overrides */
  STORE_KEYS_ALL_PAGES,  /* every row of pages */
  STORE_KEYS_RESOURCES,  /* every row of resources */
  STORE_KEYS_OVERRIDDEN, /* resources with an override on |page| */
};

/* store_list_keys calls |cb| for every key of the list |which| (|page|
 * is read for STORE_KEYS_OVERRIDDEN only) until it returns non-zero. */
typedef int (*store_key_cb)(void *ud, const char *key);
int store_list_keys(struct store *s, enum store_keys which, const char *page,
                    store_key_cb cb, void *ud);

/* store_page_row finds the row of page (or template) |key|: its id and
 * whether it is a template. UV_ENOENT when there is none. */
int store_page_row(struct store *s, const char *key, int64_t *id,
                   int *is_template);

/* Running totals of push_outcomes rows. */
struct store_outcomes {
  int64_t promised, completed, cancelled, wasted, hinted, hinted_used,
      pushed_bytes;
};

/* store_get_outcomes reads the outcomes of (page, class, resource) into
 * |out| (pushed_bytes is not read): zeros when herald recorded none. */
int store_get_outcomes(struct store *s, const char *page_key, int mobile,
                       const char *resource_key, struct store_outcomes *out);

/* store_page_outcomes calls |cb| for every outcomes row of |page_key|,
 * any class, with completed, cancelled and wasted read. */
typedef void (*store_outcomes_cb)(void *ud, int mobile,
                                  const char *resource_key,
                                  const struct store_outcomes *o);
int store_page_outcomes(struct store *s, const char *page_key,
                        store_outcomes_cb cb, void *ud);

/* ---- heraldctl stats (store_stats.c) --------------------------------- */

/* The visits and outcomes rows `stats` reads: those since |since_ms|
 * (every one without |has_since|) of the page or template |page_id|
 * (every page when negative). */
struct store_window {
  int has_since;
  int64_t since_ms; /* Unix ms */
  int64_t page_id;
};

/* One visit of a window: what herald sent ahead of it (visits.delivery:
 * "push", "hints", "holdout", "none", or NULL), its load time and bytes
 * when recorded, and whether its page had a treated or holdout visit in
 * the window (|ruled|). */
struct store_window_visit {
  const char *delivery;
  int has_load, has_bytes, ruled;
  double load_ms, bytes;
};
typedef void (*store_window_visit_cb)(void *ud,
                                      const struct store_window_visit *v);
int store_window_visits(struct store *s, const struct store_window *w,
                        store_window_visit_cb cb, void *ud);

/* store_window_ruled_pages counts the pages with a treated or holdout
 * visit in the window. */
int store_window_ruled_pages(struct store *s, const struct store_window *w,
                             uint64_t *out);

/* store_window_outcomes sums the outcomes rows updated in the window: of
 * the exact pages (not templates) without a page, else of that page. */
int store_window_outcomes(struct store *s, const struct store_window *w,
                          struct store_outcomes *out);

/* store_window_wasted calls |cb| for the (page, resource) pairs of those
 * rows with cancelled or wasted pushes, most unused first (then the
 * smaller number promised, page, resource), at most |limit|. */
struct store_wasted {
  const char *page, *resource;
  int64_t promised, cancelled, wasted;
};
typedef void (*store_wasted_cb)(void *ud, const struct store_wasted *w);
int store_window_wasted(struct store *s, const struct store_window *w,
                        int limit, store_wasted_cb cb, void *ud);

/* ---- heraldctl import (store_import.c) ------------------------------- */

/* What is wrong with an export document, if anything. */
enum store_import_problem {
  STORE_IMPORT_OK,
  STORE_IMPORT_NOT_JSON,
  STORE_IMPORT_NOT_EXPORT,  /* no "herald_export": 1 */
  STORE_IMPORT_UNEXPECTED,  /* top-level key |where| is unknown, or not
                               an array */
  STORE_IMPORT_BAD_ELEMENT, /* |section|[|where|]: missing, unexpected or
                               bad fields */
};
struct store_import_check {
  int problem; /* enum store_import_problem */
  const char *section;
  char where[64];
};

/* store_import_check checks the shape of the export document |doc|
 * (NUL-terminated) and says what is wrong in |out|. Returns 0 (check
 * |out|) or an error. */
int store_import_check(struct store *s, const char *doc,
                       struct store_import_check *out);

/* store_import_settings calls |cb| with the index, name and value of
 * every setting of |doc|, until it returns non-zero. */
typedef int (*store_import_setting_cb)(void *ud, int index, const char *name,
                                       const char *value);
int store_import_settings(struct store *s, const char *doc,
                          store_import_setting_cb cb, void *ud);

/* store_import applies a checked document of |len| bytes in one
 * transaction: settings and overrides upserted, every (page, class) of
 * its rules given exactly those rules (and their aggregates), pages and
 * resources created as needed, at |now_ms|. |out| counts the settings,
 * overrides and rules written and the (page, class) pairs. */
struct store_import_counts {
  int settings, overrides, rules;
  int64_t pages;
};
int store_import(struct store *s, const char *doc, size_t len, int64_t now_ms,
                 struct store_import_counts *out);

/* store_live_rules reads |doc|, the JSON a running herald's admin
 * listener answers GET /rules with (proxy/admin_rules.c), through
 * SQLite's JSON functions: |head| gets its generation and whether it was
 * truncated, and |cb| is called once per rule in serving order, or once
 * with |resource| NULL for a key with an empty list. UV_EINVAL when
 * |doc| is not that document. No table is read. */
struct store_live {
  int64_t gen;
  int truncated;
};
typedef void (*store_live_cb)(void *ud, const char *key, int mobile,
                              const char *resource, const char *channel);
int store_live_rules(struct store *s, const char *doc, struct store_live *head,
                     store_live_cb cb, void *ud);

#endif
