/* store_import.c: what `heraldctl import` does to the database: check the
 * shape of an export document and apply it (tools/ctl_export.c has the
 * format and the messages).
 *
 * The document is read with SQLite's JSON1 functions (json_valid,
 * json_each, json_extract), not a parser of our own: first a strict check
 * of the shape (unknown keys, wrong types and bad values are refused,
 * naming the first bad element), then, in one transaction, settings and
 * overrides are upserted and every (page, class) in the file gets exactly
 * the file's rules (with their counts in aggregates, so `rules` shows the
 * same delay and depth). Pages and resources are created as needed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "store/store.h"
#include "store/store_int.h"

/* scalar runs |sql| with the document as ?1 and returns its first column
 * as text in |out| ("" for NULL or no row). */
static int scalar(struct store *s, const char *sql, const char *doc,
                  char *out, size_t cap) {
  sqlite3_stmt *st;
  int rv = store_prepare(s, sql, &st, "import");
  if (rv != 0)
    return rv;
  sqlite3_bind_text(st, 1, doc, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  out[0] = '\0';
  if (rc == SQLITE_ROW) {
    if (sqlite3_column_type(st, 0) != SQLITE_NULL)
      snprintf(out, cap, "%s", store_text(st, 0));
    rc = SQLITE_DONE;
  }
  return store_done(s, st, rc, "import");
}

/* The shape checks: each selects the index of the first bad element. */
#define T(f) "coalesce(json_type(value, '$." f "'), '')"
#define NUM(f) T(f) " NOT IN ('integer', 'real')"
#define INT(f) T(f) " <> 'integer'"
#define TEXT(f) T(f) " <> 'text'"
/* The element is j: inside the subquery a bare "value" would be k's own
 * column, and every key would pass. */
#define ONLY(...) \
  "EXISTS (SELECT 1 FROM json_each(j.value) k WHERE k.key NOT IN (" \
  __VA_ARGS__ "))"
static const struct {
  const char *section, *sql;
} shape[] = {
    {"settings",
     "SELECT key FROM json_each(?1, '$.settings') j WHERE type <> 'object' OR "
     TEXT("scope") " OR " TEXT("name") " OR " TEXT("value") " OR "
     ONLY("'scope', 'name', 'value'") " OR NOT (json_extract(value, '$.scope')"
     " = 'global' OR json_extract(value, '$.scope') LIKE 'route:_%')"
     " ORDER BY key LIMIT 1"},
    {"overrides",
     "SELECT key FROM json_each(?1, '$.overrides') j WHERE type <> 'object' OR "
     TEXT("page") " OR " TEXT("resource") " OR "
     ONLY("'page', 'resource', 'action'")
     " OR coalesce(json_extract(value, '$.action'), '') NOT IN"
     " ('pin', 'block') ORDER BY key LIMIT 1"},
    {"rules",
     "SELECT key FROM json_each(?1, '$.rules') j WHERE type <> 'object' OR "
     TEXT("page") " OR " TEXT("resource") " OR " TEXT("type") " OR "
     INT("dest") " OR " INT("ord") " OR " NUM("k") " OR " NUM("n") " OR "
     NUM("confidence") " OR " NUM("wilson") " OR " INT("clients") " OR "
     INT("bytes") " OR " INT("delay_ms") " OR " INT("depth") " OR "
     T("pushable") " NOT IN ('true', 'false') OR "
     "coalesce(json_extract(value, '$.class'), '') NOT IN ('desktop',"
     " 'mobile') OR coalesce(json_extract(value, '$.channel'), '') NOT IN"
     " ('push', 'hint', 'none') OR coalesce(json_extract(value, '$.state'),"
     " '') NOT IN ('learned', 'pinned', 'blocked') OR "
     "json_extract(value, '$.dest') NOT BETWEEN 0 AND 7 OR "
     "json_extract(value, '$.ord') < -1 OR json_extract(value, '$.bytes') < 0"
     " OR json_extract(value, '$.clients') < 0 OR "
     "json_extract(value, '$.k') < 0 OR json_extract(value, '$.n') < 0 OR "
     "coalesce(json_extract(value, '$.level'), 'page') NOT IN ('page',"
     " 'template', 'section', 'site') OR "
     "coalesce(json_extract(value, '$.rank'), 'other') NOT IN ('style',"
     " 'script', 'font', 'other') OR "
     T("urgency") " NOT IN ('', 'null', 'integer') OR "
     "coalesce(json_extract(value, '$.urgency'), 0) NOT BETWEEN 0 AND 7 OR "
     ONLY("'page', 'class', 'resource', 'type', 'dest', 'ord', 'channel',"
          " 'state', 'k', 'n', 'confidence', 'wilson', 'clients', 'bytes',"
          " 'delay_ms', 'depth', 'pushable', 'level', 'rank', 'urgency'")
     " ORDER BY key LIMIT 1"},
};

int store_import_check(struct store *s, const char *doc,
                       struct store_import_check *out) {
  char v[64];
  memset(out, 0, sizeof(*out));
  int rv = scalar(s, "SELECT json_valid(?1)", doc, v, sizeof v);
  if (rv != 0)
    return rv;
  if (strcmp(v, "1") != 0) {
    out->problem = STORE_IMPORT_NOT_JSON;
    return 0;
  }
  rv = scalar(s,
              "SELECT json_type(?1) = 'object'"
              " AND json_extract(?1, '$.herald_export') IS 1"
              " AND json_type(?1, '$.herald_export') = 'integer'",
              doc, v, sizeof v);
  if (rv == 0 && strcmp(v, "1") != 0) {
    out->problem = STORE_IMPORT_NOT_EXPORT;
    return 0;
  }
  if (rv == 0)
    rv = scalar(s,
                "SELECT key FROM json_each(?1) WHERE key NOT IN"
                " ('herald_export', 'settings', 'overrides', 'rules')"
                " OR (key <> 'herald_export' AND type <> 'array') LIMIT 1",
                doc, out->where, sizeof out->where);
  if (rv == 0 && out->where[0] != '\0') {
    out->problem = STORE_IMPORT_UNEXPECTED;
    return 0;
  }
  for (size_t i = 0; rv == 0 && i < ARRAY_SIZE(shape); i++) {
    rv = scalar(s, shape[i].sql, doc, out->where, sizeof out->where);
    if (rv == 0 && out->where[0] != '\0') {
      out->problem = STORE_IMPORT_BAD_ELEMENT;
      out->section = shape[i].section;
      return 0;
    }
  }
  return rv;
}

int store_import_settings(struct store *s, const char *doc,
                          store_import_setting_cb cb, void *ud) {
  sqlite3_stmt *st;
  int rv = store_prepare(s,
                         "SELECT key, json_extract(value, '$.name'),"
                         " json_extract(value, '$.value')"
                         " FROM json_each(?1, '$.settings') ORDER BY key",
                         &st, "import");
  if (rv != 0)
    return rv;
  sqlite3_bind_text(st, 1, doc, -1, SQLITE_STATIC);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (cb(ud, sqlite3_column_int(st, 0),
           (const char *)sqlite3_column_text(st, 1),
           (const char *)sqlite3_column_text(st, 2)) != 0) {
      rc = SQLITE_DONE;
      break;
    }
  }
  return store_done(s, st, rc, "import");
}

#define TEMPLATE_OF(x) \
  "(instr(" x ", '/:id') > 0 OR instr(" x ", '/*') > 0)"
#define R(f) "json_extract(value, '$." f "')"
/* The statements of an import, in order. The counts of the first two
 * (settings, overrides) and of IMPORT_RULES are reported. */
enum { IMPORT_RULES = 5 };
static const char *const import_sql[] = {
    "INSERT INTO settings(scope, name, value)"
    " SELECT " R("scope") ", " R("name") ", " R("value")
    " FROM json_each(?1, '$.settings') WHERE 1"
    " ON CONFLICT(scope, name) DO UPDATE SET value = excluded.value",
    "INSERT INTO overrides(page_key, resource_key, action)"
    " SELECT " R("page") ", " R("resource") ", " R("action")
    " FROM json_each(?1, '$.overrides') WHERE 1"
    " ON CONFLICT(page_key, resource_key) DO UPDATE"
    " SET action = excluded.action",
    "INSERT INTO pages(key, is_template, first_seen, last_seen, visits)"
    " SELECT DISTINCT " R("page") ", " TEMPLATE_OF(R("page")) ", ?2, ?2, 0"
    " FROM json_each(?1, '$.rules') WHERE 1 ON CONFLICT(key) DO NOTHING",
    "INSERT INTO resources(key, dest, bytes, first_seen, last_seen)"
    " SELECT " R("resource") ", " R("dest") ", " R("bytes") ", ?2, ?2"
    " FROM json_each(?1, '$.rules') WHERE 1 ON CONFLICT(key) DO UPDATE SET"
    " dest = coalesce(dest, excluded.dest),"
    " bytes = coalesce(bytes, excluded.bytes)",
    /* Every (page, class) in the file gets exactly the file's rules. */
    "DELETE FROM rules WHERE EXISTS (SELECT 1 FROM json_each(?1, '$.rules') j"
    " JOIN pages p ON p.key = json_extract(j.value, '$.page')"
    " WHERE p.id = rules.page_id"
    " AND json_extract(j.value, '$.class') = rules.class)",
    [IMPORT_RULES] =
    "INSERT INTO rules(page_id, class, resource_id, ord, channel, confidence,"
    " wilson, n, k, clients, bytes, state, updated_at, level, rank, dest,"
    " depth, delay_ms, urgency, pushable)"
    " SELECT p.id, " R("class") ", r.id, " R("ord") ", " R("channel") ", "
    R("confidence") ", " R("wilson") ", " R("n") ", " R("k") ", "
    R("clients") ", " R("bytes") ", " R("state") ", ?2,"
    " coalesce(" R("level") ", 'page'), coalesce(" R("rank") ", 'other'), "
    R("dest") ", " R("depth") ", " R("delay_ms") ", " R("urgency") ", "
    R("pushable")
    " FROM json_each(?1, '$.rules')"
    " JOIN pages p ON p.key = " R("page")
    " JOIN resources r ON r.key = " R("resource") " WHERE 1"
    " ON CONFLICT(page_id, class, resource_id) DO UPDATE SET"
    " ord = excluded.ord, channel = excluded.channel,"
    " confidence = excluded.confidence, wilson = excluded.wilson,"
    " n = excluded.n, k = excluded.k, clients = excluded.clients,"
    " bytes = excluded.bytes, state = excluded.state,"
    " updated_at = excluded.updated_at, level = excluded.level,"
    " rank = excluded.rank, dest = excluded.dest, depth = excluded.depth,"
    " delay_ms = excluded.delay_ms, urgency = excluded.urgency,"
    " pushable = excluded.pushable",
    "INSERT INTO aggregates(page_id, class, resource_id, k, n, clients,"
    " median_delay_ms, depth, bytes, pushable, last_visit)"
    " SELECT p.id, " R("class") ", r.id, " R("k") ", " R("n") ", "
    R("clients") ", " R("delay_ms") ", " R("depth") ", " R("bytes") ", "
    R("pushable") ", ?2 FROM json_each(?1, '$.rules')"
    " JOIN pages p ON p.key = " R("page")
    " JOIN resources r ON r.key = " R("resource") " WHERE " R("n") " > 0"
    " ON CONFLICT(page_id, class, resource_id) DO UPDATE SET"
    " k = excluded.k, n = excluded.n, clients = excluded.clients,"
    " median_delay_ms = excluded.median_delay_ms, depth = excluded.depth,"
    " bytes = excluded.bytes, pushable = excluded.pushable,"
    " last_visit = excluded.last_visit",
};

int store_import(struct store *s, const char *doc, size_t len, int64_t now_ms,
                 struct store_import_counts *out) {
  sqlite3 *db = store_db(s);
  int changes[ARRAY_SIZE(import_sql)] = {0};
  memset(out, 0, sizeof(*out));
  /* IMMEDIATE: take the write lock now, while the busy timeout can still
   * wait for herald's recorder, not halfway through. */
  int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    return store_sqlerr(s, rc, "import");
  int rv = 0;
  for (size_t i = 0; rv == 0 && i < ARRAY_SIZE(import_sql); i++) {
    sqlite3_stmt *q;
    rv = store_prepare(s, import_sql[i], &q, "import");
    if (rv != 0)
      break;
    sqlite3_bind_text(q, 1, doc, (int)len, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(q) >= 2)
      sqlite3_bind_int64(q, 2, now_ms);
    rc = sqlite3_step(q);
    changes[i] = sqlite3_changes(db);
    rv = store_done(s, q, rc, "import");
  }
  if (rv == 0) {
    rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
      rv = store_sqlerr(s, rc, "import");
  }
  if (rv != 0) {
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rv;
  }
  out->settings = changes[0];
  out->overrides = changes[1];
  out->rules = changes[IMPORT_RULES];
  char pages[32];
  rv = scalar(s,
              "SELECT count(DISTINCT json_extract(value, '$.page') || ' ' ||"
              " json_extract(value, '$.class'))"
              " FROM json_each(?1, '$.rules')",
              doc, pages, sizeof pages);
  if (rv == 0)
    out->pages = strtoll(pages, NULL, 10);
  return rv;
}
