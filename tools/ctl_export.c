/* ctl_export.c: `heraldctl export` and `import`: rules, overrides and
 * settings as one JSON document, to seed a new herald from an old one.
 *
 *   {"herald_export": 1,
 *    "settings":  [{"scope": "global", "name": "hint_threshold",
 *                   "value": "0.9"}, ...],
 *    "overrides": [{"page": KEY, "resource": KEY, "action": "pin"}, ...],
 *    "rules":     [{"page": KEY, "class": "desktop", "resource": KEY,
 *                   "type": "style", "dest": 2, "ord": 0,
 *                   "channel": "push", "state": "learned", "k": .., "n": ..,
 *                   "confidence": .., "wilson": .., "clients": ..,
 *                   "bytes": .., "delay_ms": .., "depth": ..,
 *                   "pushable": true, "level": "page", "rank": "style",
 *                   "urgency": 0}, ...]}
 * (level, rank and urgency may be left out: page, by dest, none).
 *
 * Numbers are written with 17 significant digits, so an import
 * reproduces them exactly. Import parses with SQLite's JSON1 functions
 * (json_valid, json_each, json_extract), not a parser of our own: first
 * a strict check of the shape above (unknown keys, wrong types and bad
 * values are refused, naming the first bad element), then, in one
 * transaction, settings and overrides are upserted and every (page,
 * class) in the file gets exactly the file's rules (with their counts in
 * aggregates, so `rules` shows the same delay and depth). Pages and
 * resources are created as needed. A herald serving the new database
 * loads these rules at start; its learner replaces a page's rules once
 * it recomputes that page from its own visits. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "learner/learn.h"
#include "proxy/util.h"
#include "store/store.h"
#include "tools/ctl.h"

/* An import larger than this is refused rather than read into memory. */
#define IMPORT_MAX (512u << 20)

/* ---- export ----------------------------------------------------------------- */

struct export_run {
  size_t count;
};

static void on_rule(void *ud, const char *page, int mobile,
                    const struct learn_rule *r) {
  struct export_run *run = ud;
  fputs(run->count++ ? ",\n  {\"page\": " : "\n  {\"page\": ", stdout);
  ctl_json_str(page);
  printf(", \"class\": \"%s\", \"resource\": ", ctl_class_name(mobile));
  ctl_json_str(r->key);
  printf(", \"type\": \"%s\", \"dest\": %u, \"ord\": %d, \"channel\": \"%s\","
         " \"state\": \"%s\", \"k\": %.17g, \"n\": %.17g, \"confidence\":"
         " %.17g, \"wilson\": %.17g, \"clients\": %d, \"bytes\": %" PRIu64
         ", \"delay_ms\": %" PRIu32 ", \"depth\": %u, \"pushable\": %s,"
         " \"level\": \"%s\", \"rank\": \"%s\", \"urgency\": ",
         ctl_dest_name(r->dest), r->dest, r->ord,
         learn_channel_name(r->channels), learn_state_name(r->state), r->k,
         r->n, r->confidence, r->wilson, r->clients, r->bytes,
         r->median_delay_ms, r->depth, r->pushable ? "true" : "false",
         learn_level_name(r->level), learn_rank_name(r->rank));
  if (r->urgency != VISIT_URGENCY_NONE)
    printf("%u}", r->urgency);
  else
    fputs("null}", stdout);
}

/* export_rows prints the rows of |sql| as objects with |names| (text
 * columns). */
static int export_rows(const struct ctl *c, const char *sql,
                       const char *const *names, int ncols) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
    return ctl_sqlerr(c, "export");
  int rc;
  size_t n = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    fputs(n++ ? ",\n  {" : "\n  {", stdout);
    for (int i = 0; i < ncols; i++) {
      const unsigned char *t = sqlite3_column_text(st, i);
      printf("%s\"%s\": ", i ? ", " : "", names[i]);
      ctl_json_str(t != NULL ? (const char *)t : "");
    }
    putchar('}');
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE)
    return ctl_sqlerr(c, "export");
  fputs(n ? "\n ]" : "]", stdout);
  return CTL_OK;
}

int ctl_export(const struct ctl *c) {
  static const char *const set_names[] = {"scope", "name", "value"};
  static const char *const ov_names[] = {"page", "resource", "action"};
  /* One read transaction: the three sections are of one moment, even
   * while herald's learner writes. */
  if (sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
    return ctl_sqlerr(c, "export");
  fputs("{\"herald_export\": 1,\n \"settings\": [", stdout);
  int st = export_rows(c, "SELECT scope, name, value FROM settings"
                          " ORDER BY scope, name",
                       set_names, 3);
  if (st == CTL_OK) {
    fputs(",\n \"overrides\": [", stdout);
    st = export_rows(c, "SELECT page_key, resource_key, action FROM overrides"
                        " ORDER BY page_key, resource_key",
                     ov_names, 3);
  }
  if (st == CTL_OK) {
    fputs(",\n \"rules\": [", stdout);
    struct export_run run = {0};
    /* store_load_rules reads on the store's connection: fine, the rules
     * are the learner's and it writes them in one transaction. */
    if (store_load_rules(c->s, on_rule, &run) != 0) {
      fprintf(stderr, "heraldctl: %s\n", store_errmsg(c->s));
      st = CTL_ERROR;
    }
    fputs(run.count ? "\n ]}\n" : "]}\n", stdout);
  }
  sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
  return st;
}

/* ---- import ----------------------------------------------------------------- */

/* read_all reads |path| ("-" or NULL: stdin) into a NUL-terminated
 * buffer. */
static char *read_all(const char *path, size_t *len) {
  FILE *f = path == NULL || strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "heraldctl: import %s: %s\n", path, strerror(errno));
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  char *buf = xmalloc(cap);
  for (;;) {
    if (n + 1 == cap) {
      if (cap >= IMPORT_MAX) {
        fprintf(stderr, "heraldctl: import: more than %u bytes\n", IMPORT_MAX);
        free(buf);
        buf = NULL;
        break;
      }
      cap *= 2;
      buf = xrealloc(buf, cap);
    }
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0) {
      if (ferror(f)) {
        fprintf(stderr, "heraldctl: import: reading: %s\n", strerror(errno));
        free(buf);
        buf = NULL;
      }
      break;
    }
  }
  if (f != stdin)
    fclose(f);
  if (buf != NULL) {
    buf[n] = '\0';
    *len = n;
  }
  return buf;
}

/* scalar runs |sql| with the document as ?1 and returns its first column
 * as text in |out| ("" for NULL or no row). */
static int scalar(const struct ctl *c, const char *sql, const char *doc,
                  char *out, size_t cap) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
    return ctl_sqlerr(c, "import");
  sqlite3_bind_text(st, 1, doc, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  out[0] = '\0';
  if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
    snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return ctl_sqlerr(c, "import");
  return CTL_OK;
}

/* The shape checks: each selects the index of the first bad element. */
#define T(f) "coalesce(json_type(value, '$." f "'), '')"
#define NUM(f) T(f) " NOT IN ('integer', 'real')"
#define INT(f) T(f) " <> 'integer'"
#define TEXT(f) T(f) " <> 'text'"
#define ONLY(...) \
  "EXISTS (SELECT 1 FROM json_each(value) k WHERE k.key NOT IN (" __VA_ARGS__ "))"
static const struct {
  const char *section, *sql;
} shape[] = {
    {"settings",
     "SELECT key FROM json_each(?1, '$.settings') WHERE type <> 'object' OR "
     TEXT("scope") " OR " TEXT("name") " OR " TEXT("value") " OR "
     ONLY("'scope', 'name', 'value'") " OR NOT (json_extract(value, '$.scope')"
     " = 'global' OR json_extract(value, '$.scope') LIKE 'route:_%')"
     " ORDER BY key LIMIT 1"},
    {"overrides",
     "SELECT key FROM json_each(?1, '$.overrides') WHERE type <> 'object' OR "
     TEXT("page") " OR " TEXT("resource") " OR "
     ONLY("'page', 'resource', 'action'")
     " OR coalesce(json_extract(value, '$.action'), '') NOT IN"
     " ('pin', 'block') ORDER BY key LIMIT 1"},
    {"rules",
     "SELECT key FROM json_each(?1, '$.rules') WHERE type <> 'object' OR "
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

/* check_settings validates each setting's value as `set` would. */
static int check_settings(const struct ctl *c, const char *doc) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(c->db,
                         "SELECT key, json_extract(value, '$.name'),"
                         " json_extract(value, '$.value')"
                         " FROM json_each(?1, '$.settings') ORDER BY key",
                         -1, &st, NULL) != SQLITE_OK)
    return ctl_sqlerr(c, "import");
  sqlite3_bind_text(st, 1, doc, -1, SQLITE_STATIC);
  int rc, status = CTL_OK;
  while (status == CTL_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(st, 1);
    const char *value = (const char *)sqlite3_column_text(st, 2);
    const struct ctl_setting *set = ctl_setting_find(name);
    char norm[64], why[96];
    if (set == NULL) {
      fprintf(stderr, "heraldctl: import: settings[%d]: unknown setting '%s'\n",
              sqlite3_column_int(st, 0), name);
      status = CTL_ERROR;
    } else if (ctl_setting_check(set, value, norm, sizeof norm, why,
                                 sizeof why) != 0) {
      fprintf(stderr, "heraldctl: import: settings[%d]: %s '%s': %s\n",
              sqlite3_column_int(st, 0), name, value, why);
      status = CTL_ERROR;
    }
  }
  sqlite3_finalize(st);
  if (status == CTL_OK && rc != SQLITE_DONE)
    return ctl_sqlerr(c, "import");
  return status;
}

static int check_shape(const struct ctl *c, const char *doc) {
  char v[64];
  int st = scalar(c, "SELECT json_valid(?1)", doc, v, sizeof v);
  if (st != CTL_OK)
    return st;
  if (strcmp(v, "1") != 0) {
    fputs("heraldctl: import: not a JSON document\n", stderr);
    return CTL_ERROR;
  }
  st = scalar(c,
              "SELECT json_type(?1) = 'object'"
              " AND json_extract(?1, '$.herald_export') IS 1"
              " AND json_type(?1, '$.herald_export') = 'integer'",
              doc, v, sizeof v);
  if (st == CTL_OK && strcmp(v, "1") != 0) {
    fputs("heraldctl: import: not a heraldctl export (no \"herald_export\":"
          " 1)\n",
          stderr);
    return CTL_ERROR;
  }
  if (st == CTL_OK)
    st = scalar(c,
                "SELECT key FROM json_each(?1) WHERE key NOT IN"
                " ('herald_export', 'settings', 'overrides', 'rules')"
                " OR (key <> 'herald_export' AND type <> 'array') LIMIT 1",
                doc, v, sizeof v);
  if (st == CTL_OK && v[0] != '\0') {
    fprintf(stderr, "heraldctl: import: unexpected \"%s\" (want herald_export"
                    " and arrays settings, overrides, rules)\n",
            v);
    return CTL_ERROR;
  }
  for (size_t i = 0; st == CTL_OK && i < ARRAY_SIZE(shape); i++) {
    st = scalar(c, shape[i].sql, doc, v, sizeof v);
    if (st == CTL_OK && v[0] != '\0') {
      fprintf(stderr, "heraldctl: import: %s[%s]: missing, unexpected or bad"
                      " fields\n",
              shape[i].section, v);
      st = CTL_ERROR;
    }
  }
  if (st == CTL_OK)
    st = check_settings(c, doc);
  return st;
}

#define TEMPLATE_OF(x) \
  "(instr(" x ", '/:id') > 0 OR instr(" x ", '/*') > 0)"
#define R(f) "json_extract(value, '$." f "')"
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

int ctl_import(const struct ctl *c) {
  size_t len;
  char *doc = read_all(c->nargs > 0 ? c->args[0] : NULL, &len);
  if (doc == NULL)
    return CTL_ERROR;
  int st = check_shape(c, doc);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
  /* IMMEDIATE: take the write lock now, while the busy timeout can still
   * wait for herald's recorder, not halfway through. */
  if (st == CTL_OK &&
      sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
    st = ctl_sqlerr(c, "import");
  int changes[ARRAY_SIZE(import_sql)] = {0};
  for (size_t i = 0; st == CTL_OK && i < ARRAY_SIZE(import_sql); i++) {
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(c->db, import_sql[i], -1, &q, NULL) != SQLITE_OK) {
      st = ctl_sqlerr(c, "import");
      break;
    }
    sqlite3_bind_text(q, 1, doc, (int)len, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(q) >= 2)
      sqlite3_bind_int64(q, 2, now);
    if (sqlite3_step(q) != SQLITE_DONE)
      st = ctl_sqlerr(c, "import");
    changes[i] = sqlite3_changes(c->db);
    sqlite3_finalize(q);
  }
  if (st == CTL_OK && sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL) !=
                          SQLITE_OK)
    st = ctl_sqlerr(c, "import");
  if (st != CTL_OK)
    sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
  char pages[32] = "0";
  if (st == CTL_OK)
    st = scalar(c,
                "SELECT count(DISTINCT json_extract(value, '$.page') || ' ' ||"
                " json_extract(value, '$.class'))"
                " FROM json_each(?1, '$.rules')",
                doc, pages, sizeof pages);
  if (st == CTL_OK) {
    if (c->json)
      printf("{\"settings\": %d, \"overrides\": %d, \"rules\": %d,"
             " \"pages\": %s}\n",
             changes[0], changes[1], changes[5], pages);
    else
      printf("imported %d settings, %d overrides, %d rules for %s pages"
             " (page and class); a running herald serves them from its next"
             " start\n",
             changes[0], changes[1], changes[5], pages);
  }
  free(doc);
  return st;
}
