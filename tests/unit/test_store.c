/* test_store.c: the SQLite store: schema, migrations, visits, errors.
 *
 * Each test gets a fresh directory under /tmp (store_fixture.h). A second,
 * raw sqlite3 connection looks at the file from outside, the way an
 * operator's sqlite3 shell would. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "base/util.h"
#include "store/store.h"
#include "tests/unit/store_fixture.h"

/* raw_int runs |sql| on its own connection and returns the first column
 * of the first row (-1 for no row or NULL). */
static int64_t raw_int(const char *path, const char *sql) {
  sqlite3 *db;
  sqlite3_stmt *st;
  int64_t v = -1;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  if (sqlite3_step(st) == SQLITE_ROW &&
      sqlite3_column_type(st, 0) != SQLITE_NULL)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

static struct store *open_ok(struct fix *f) {
  struct store *s = NULL;
  int rv = store_open(&s, f->db, f->err, sizeof f->err);
  if (rv != 0)
    print_error("store_open: %s\n", f->err);
  assert_int_equal(rv, 0);
  assert_non_null(s);
  return s;
}

/* open_fails expects store_open to fail with |code| and a message that
 * names the path and contains |needle|. */
static void open_fails(struct fix *f, int code, const char *needle) {
  struct store *s = (struct store *)&s; /* must be reset to NULL */
  int rv = store_open(&s, f->db, f->err, sizeof f->err);
  assert_int_equal(rv, code);
  assert_null(s);
  assert_non_null(strstr(f->err, f->db));
  if (strstr(f->err, needle) == NULL)
    fail_msg("message \"%s\" lacks \"%s\"", f->err, needle);
  assert_null(strchr(f->err, '\n'));
}

/* A page with three requests: a stylesheet, a font it references (depth 2)
 * and an image answered 304. */
static struct visit_req reqs[3];

static void make_visit(struct visit *v, const char *page, const char *tmpl,
                       uint64_t start_ms, int mobile) {
  memset(v, 0, sizeof(*v));
  memset(reqs, 0, sizeof reqs);
  snprintf(v->page_key, sizeof v->page_key, "%s", page);
  snprintf(v->template_key, sizeof v->template_key, "%s", tmpl);
  v->mobile = mobile;
  memset(v->client_token, mobile ? 0xbb : 0xaa, sizeof v->client_token);
  v->start_ms = start_ms;
  v->load_ms = 420;
  v->bytes = 50000;

  snprintf(reqs[0].key, PAGEKEY_MAX, "https://shop.example/css/site.css");
  snprintf(reqs[0].method, sizeof reqs[0].method, "GET");
  snprintf(reqs[0].content_type, OBS_CTYPE_MAX, "text/css");
  reqs[0].status = 200;
  reqs[0].dest = OBS_DEST_STYLE;
  reqs[0].depth = 1;
  reqs[0].parent = -1;
  reqs[0].flags = VISIT_REQ_PUSHABLE;
  reqs[0].delay_ms = 30;
  reqs[0].bytes = 12000;

  snprintf(reqs[1].key, PAGEKEY_MAX, "https://shop.example/fonts/a.woff2");
  snprintf(reqs[1].method, sizeof reqs[1].method, "GET");
  snprintf(reqs[1].content_type, OBS_CTYPE_MAX, "font/woff2");
  reqs[1].status = 200;
  reqs[1].dest = OBS_DEST_FONT;
  reqs[1].depth = 2;
  reqs[1].parent = 0;
  reqs[1].flags = VISIT_REQ_PUSHABLE | VISIT_REQ_PUSHED;
  reqs[1].delay_ms = 80;
  reqs[1].bytes = 30000;

  snprintf(reqs[2].key, PAGEKEY_MAX, "https://shop.example/img/logo.png");
  snprintf(reqs[2].method, sizeof reqs[2].method, "GET");
  reqs[2].status = 304;
  reqs[2].dest = OBS_DEST_IMAGE;
  reqs[2].depth = 1;
  reqs[2].parent = -1;
  reqs[2].flags = VISIT_REQ_ALREADY_HAD | VISIT_REQ_HINTED;
  reqs[2].delay_ms = 35;

  v->reqs = reqs;
  v->nreqs = 3;
}

static void test_fresh_open(void **state) {
  struct fix *f = *state;
  struct store *s = open_ok(f);
  assert_int_equal(store_count(s, "pages"), 0);
  assert_int_equal(store_count(s, "push_outcomes"), 0);
  assert_int_equal(store_count(s, "pages; DROP TABLE pages"), UV_EINVAL);
  assert_non_null(strstr(store_errmsg(s), "unknown table"));

  sqlite3 *db;
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READONLY, NULL),
                   SQLITE_OK);
  assert_int_equal(
      sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL),
      SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
  store_close(s);

  assert_int_equal(raw_int(f->db, "SELECT version FROM schema_version"),
                   STORE_SCHEMA_VERSION);
  assert_int_equal(raw_int(f->db, "SELECT count(*) FROM schema_version"), 1);
  assert_int_equal(raw_int(f->db, "SELECT count(*) FROM sqlite_schema"
                                  " WHERE type = 'table'"),
                   13); /* visit_named since 4, visit_declared since 5 */
  assert_int_equal(raw_int(f->db, "SELECT count(*) FROM sqlite_schema"
                                  " WHERE name LIKE 'visits_%'"),
                   3); /* started_at, page_id, delivery */
  store_close(NULL);
}

static void test_add_two_visits(void **state) {
  struct fix *f = *state;
  struct store *s = open_ok(f);
  struct visit v;
  assert_int_equal(store_begin(s), 0);
  make_visit(&v, "https://shop.example/product/123",
             "https://shop.example/product/:id", 1700000000000ull, 0);
  assert_int_equal(store_add_visit(s, &v), 0);
  make_visit(&v, "https://shop.example/product/123",
             "https://shop.example/product/:id", 1700000005000ull, 1);
  assert_int_equal(store_add_visit(s, &v), 0);
  assert_int_equal(store_commit(s), 0);

  assert_int_equal(store_count(s, "pages"), 2);
  assert_int_equal(store_count(s, "resources"), 3);
  assert_int_equal(store_count(s, "visits"), 2);
  assert_int_equal(store_count(s, "visit_requests"), 6);
  store_close(s);

  assert_int_equal(raw_int(f->db, "SELECT visits FROM pages WHERE key ="
                                  " 'https://shop.example/product/123'"
                                  " AND is_template = 0"),
                   2);
  assert_int_equal(raw_int(f->db, "SELECT visits FROM pages WHERE key ="
                                  " 'https://shop.example/product/:id'"
                                  " AND is_template = 1"),
                   2);
  assert_int_equal(raw_int(f->db, "SELECT last_seen - first_seen FROM pages"
                                  " WHERE is_template = 0"),
                   5000);
  assert_int_equal(raw_int(f->db, "SELECT count(*) FROM visits"
                                  " WHERE page_id != template_id"),
                   2);
  assert_int_equal(raw_int(f->db, "SELECT count(*) FROM visits"
                                  " WHERE class = 'mobile'"),
                   1);
  assert_int_equal(raw_int(f->db, "SELECT started_at FROM visits"
                                  " WHERE class = 'mobile'"),
                   1700000005000ll);
  assert_int_equal(raw_int(f->db, "SELECT length(client_token) FROM visits"
                                  " LIMIT 1"),
                   16);
  /* The font was referred by the stylesheet, everything else by the page. */
  assert_int_equal(raw_int(f->db, "SELECT count(*) FROM visit_requests"
                                  " WHERE seq = 1 AND parent_seq = 0"
                                  " AND depth = 2 AND pushed = 1"),
                   2);
  assert_int_equal(raw_int(f->db, "SELECT count(*) FROM visit_requests"
                                  " WHERE parent_seq IS NULL"),
                   4);
  assert_int_equal(raw_int(f->db, "SELECT count(*) FROM visit_requests"
                                  " WHERE seq = 2 AND already_had = 1"
                                  " AND hinted = 1 AND pushable = 0"
                                  " AND status = 304"),
                   2);
  /* A 304 does not erase the size learned from a 200, nor leave one. */
  assert_int_equal(raw_int(f->db, "SELECT bytes FROM resources WHERE key ="
                                  " 'https://shop.example/css/site.css'"),
                   12000);
  assert_int_equal(raw_int(f->db, "SELECT bytes FROM resources WHERE key ="
                                  " 'https://shop.example/img/logo.png'"),
                   -1);
  assert_int_equal(raw_int(f->db, "SELECT dest FROM resources WHERE key ="
                                  " 'https://shop.example/fonts/a.woff2'"),
                   OBS_DEST_FONT);
  assert_int_equal(
      raw_int(f->db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
}

static void test_template_equals_key(void **state) {
  struct fix *f = *state;
  struct store *s = open_ok(f);
  struct visit v;
  make_visit(&v, "https://shop.example/about", "https://shop.example/about",
             1700000000000ull, 0);
  /* Outside a transaction store_add_visit makes its own. */
  assert_int_equal(store_add_visit(s, &v), 0);
  assert_int_equal(store_add_visit(s, &v), 0);
  assert_int_equal(store_count(s, "pages"), 1);
  assert_int_equal(store_count(s, "visits"), 2);
  store_close(s);
  assert_int_equal(raw_int(f->db, "SELECT visits FROM pages"), 2);
  assert_int_equal(raw_int(f->db, "SELECT is_template FROM pages"), 0);
  assert_int_equal(raw_int(f->db, "SELECT count(*) FROM visits"
                                  " WHERE page_id = template_id"),
                   2);
}

static void test_reopen_keeps_data(void **state) {
  struct fix *f = *state;
  struct store *s = open_ok(f);
  struct visit v;
  make_visit(&v, "https://shop.example/", "https://shop.example/",
             1700000000000ull, 0);
  assert_int_equal(store_begin(s), 0);
  assert_int_equal(store_add_visit(s, &v), 0);
  assert_int_equal(store_commit(s), 0);
  store_close(s);

  s = open_ok(f);
  assert_int_equal(store_count(s, "visits"), 1);
  assert_int_equal(store_count(s, "visit_requests"), 3);
  /* A rolled-back batch leaves nothing behind. */
  assert_int_equal(store_begin(s), 0);
  assert_int_equal(store_add_visit(s, &v), 0);
  store_rollback(s);
  store_rollback(s); /* nothing open: quietly nothing */
  assert_int_equal(store_count(s, "visits"), 1);
  store_close(s);
  assert_int_equal(raw_int(f->db, "SELECT version FROM schema_version"),
                   STORE_SCHEMA_VERSION);
}

static void test_trim(void **state) {
  struct fix *f = *state;
  struct store *s = open_ok(f);
  struct visit v;
  assert_int_equal(store_begin(s), 0);
  /* Inserted out of time order: trimming goes by start time, not id. */
  static const uint64_t starts[] = {5000, 1000, 4000, 2000, 3000};
  for (size_t i = 0; i < ARRAY_SIZE(starts); i++) {
    make_visit(&v, "https://shop.example/", "https://shop.example/",
               1700000000000ull + starts[i], 0);
    assert_int_equal(store_add_visit(s, &v), 0);
  }
  assert_int_equal(store_commit(s), 0);
  assert_int_equal(store_count(s, "visit_requests"), 15);

  assert_int_equal(store_trim_visits(s, -1), UV_EINVAL);
  assert_int_equal(store_trim_visits(s, 10), 0);
  assert_int_equal(store_count(s, "visits"), 5);
  assert_int_equal(store_trim_visits(s, 2), 0);
  assert_int_equal(store_count(s, "visits"), 2);
  assert_int_equal(store_count(s, "visit_requests"), 6);
  assert_int_equal(store_count(s, "resources"), 3); /* kept for the learner */
  store_close(s);
  assert_int_equal(raw_int(f->db, "SELECT min(started_at) FROM visits"),
                   1700000004000ll);
  assert_int_equal(raw_int(f->db, "SELECT count(*) FROM visit_requests"
                                  " WHERE visit_id NOT IN"
                                  " (SELECT id FROM visits)"),
                   0);

  s = open_ok(f);
  assert_int_equal(store_trim_visits(s, 0), 0);
  assert_int_equal(store_count(s, "visits"), 0);
  assert_int_equal(store_count(s, "visit_requests"), 0);
  store_close(s);
}

static void test_missing_directory(void **state) {
  struct fix *f = *state;
  char dir[96];
  snprintf(dir, sizeof dir, "%s/nope", f->dir);
  snprintf(f->db, sizeof f->db, "%s/herald.db", dir);
  open_fails(f, UV_ENOENT, "does not exist");
  assert_non_null(strstr(f->err, "directory"));
  assert_non_null(strstr(f->err, dir));
}

static void test_garbage_file(void **state) {
  struct fix *f = *state;
  FILE *fp = fopen(f->db, "wb");
  assert_non_null(fp);
  uint32_t x = 12345;
  for (int i = 0; i < 8192; i++) {
    x = x * 1103515245u + 12345u;
    fputc((int)(x >> 16) & 0xff, fp);
  }
  fclose(fp);
  open_fails(f, UV_EIO, "not a database");
}

static void test_foreign_database(void **state) {
  struct fix *f = *state;
  raw_exec(f->db, "CREATE TABLE customers(id INTEGER PRIMARY KEY, name);"
                  "INSERT INTO customers(name) VALUES('x');");
  open_fails(f, UV_EIO, "not a herald database");
  /* Left exactly as it was: no herald tables added. */
  assert_int_equal(raw_int(f->db, "SELECT count(*) FROM sqlite_schema"), 1);
}

static void test_newer_schema(void **state) {
  struct fix *f = *state;
  store_close(open_ok(f));
  raw_exec(f->db, "UPDATE schema_version SET version = 99");
  open_fails(f, UV_EIO, "newer herald");
  assert_non_null(strstr(f->err, "99"));
}

static void test_read_only(void **state) {
  struct fix *f = *state;
  if (geteuid() == 0) {
    /* root ignores file modes, so nothing here would be read-only. */
    print_message("[  SKIP    ] read-only case: running as root\n");
    skip();
  }
  store_close(open_ok(f));
  assert_int_equal(chmod(f->db, 0444), 0);
  assert_int_equal(chmod(f->dir, 0555), 0);
  struct store *s = NULL;
  int rv = store_open(&s, f->db, f->err, sizeof f->err);
  assert_null(s);
  if (rv != UV_EACCES && rv != UV_EROFS)
    fail_msg("rv %d (%s): %s", rv, uv_err_name(rv), f->err);
  assert_non_null(strstr(f->err, f->db));
  chmod(f->dir, 0700);
  chmod(f->db, 0644);
}

/* A database still in rollback-journal mode, locked exclusively: even
 * reading waits, so store_open itself reports the lock. */
static void test_locked_at_open(void **state) {
  struct fix *f = *state;
  sqlite3 *db;
  assert_int_equal(sqlite3_open_v2(f->db, &db,
                                   SQLITE_OPEN_READWRITE |
                                       SQLITE_OPEN_CREATE,
                                   NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL),
                   SQLITE_OK);
  uint64_t t0 = util_now_ms();
  open_fails(f, UV_EBUSY, "locked by another process (SQLITE_BUSY)");
  uint64_t waited = util_now_ms() - t0;
  assert_in_range(waited, 1500, 3500); /* the busy timeout, then give up */
  assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  store_close(open_ok(f));
}

/* In WAL mode readers do not wait for a writer, so open works; the
 * recorder's BEGIN IMMEDIATE is what waits and then reports the lock. */
static void test_locked_at_begin(void **state) {
  struct fix *f = *state;
  store_close(open_ok(f));
  sqlite3 *db;
  assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READWRITE, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL),
                   SQLITE_OK);
  struct store *s = open_ok(f);
  uint64_t t0 = util_now_ms();
  assert_int_equal(store_begin(s), UV_EBUSY);
  uint64_t waited = util_now_ms() - t0;
  assert_in_range(waited, 1500, 3500);
  assert_non_null(strstr(store_errmsg(s), "SQLITE_BUSY"));
  assert_non_null(strstr(store_errmsg(s), f->db));
  store_rollback(s); /* nothing began: must be harmless */

  assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  struct visit v;
  make_visit(&v, "https://shop.example/", "https://shop.example/",
             1700000000000ull, 0);
  assert_int_equal(store_begin(s), 0);
  assert_int_equal(store_add_visit(s, &v), 0);
  assert_int_equal(store_commit(s), 0);
  assert_int_equal(store_count(s, "visits"), 1);
  store_close(s);
}

extern const char *const store_migrations[STORE_SCHEMA_VERSION];

/* A database written by schema v1 (before holdout arms) opens, migrates to
 * the current version, and keeps its visits with delivery 'none' and no
 * network (v3). */
static void test_migrate_from_v1(void **state) {
  struct fix *f = *state;
  raw_exec(f->db, store_migrations[0]);
  raw_exec(f->db, "INSERT INTO pages(key, is_template, first_seen, last_seen,"
                  " visits) VALUES('http://a/', 0, 1, 1, 1);"
                  "INSERT INTO visits(page_id, template_id, class,"
                  " client_token, started_at) VALUES(1, 1, 'desktop', x'00',"
                  " 1)");
  struct store *s = open_ok(f);
  store_close(s);
  assert_int_equal(raw_int(f->db, "SELECT version FROM schema_version"),
                   STORE_SCHEMA_VERSION);
  assert_int_equal(raw_int(f->db, "SELECT count(*) FROM visits WHERE"
                                  " delivery = 'none'"),
                   1);
  assert_int_equal(raw_int(f->db, "SELECT count(*) FROM pragma_table_info("
                                  "'push_outcomes') WHERE name ="
                                  " 'pushed_bytes'"),
                   1);
  assert_int_equal(raw_int(f->db, "SELECT count(*) FROM visits WHERE"
                                  " network IS NULL"),
                   1);
}

/* A v2 database (client tokens of address and User-Agent) gains the
 * network column; its visits keep everything else. */
static void test_migrate_from_v2(void **state) {
  struct fix *f = *state;
  raw_exec(f->db, store_migrations[0]);
  raw_exec(f->db, store_migrations[1]);
  raw_exec(f->db, "INSERT INTO pages(key, is_template, first_seen, last_seen,"
                  " visits) VALUES('http://a/', 0, 1, 1, 1);"
                  "INSERT INTO visits(page_id, template_id, class,"
                  " client_token, started_at, delivery) VALUES(1, 1,"
                  " 'desktop', x'0102', 1, 'hints')");
  struct store *s = open_ok(f);
  struct visit v;
  make_visit(&v, "http://a/", "http://a/", 2, 0);
  memset(v.network, 0x77, sizeof v.network);
  assert_int_equal(store_begin(s), 0);
  assert_int_equal(store_add_visit(s, &v), 0);
  assert_int_equal(store_commit(s), 0);
  store_close(s);
  assert_int_equal(raw_int(f->db, "SELECT version FROM schema_version"),
                   STORE_SCHEMA_VERSION);
  assert_int_equal(raw_int(f->db, "SELECT count(*) FROM visits WHERE"
                                  " network IS NULL AND client_token ="
                                  " x'0102' AND delivery = 'hints'"),
                   1);
  assert_int_equal(raw_int(f->db, "SELECT length(network) FROM visits"
                                  " WHERE started_at = 2"),
                   16);
  /* v4: the old visit has query-less keys, the new one exact URLs. */
  assert_int_equal(raw_int(f->db, "SELECT exact_urls FROM visits"
                                  " WHERE started_at = 1"),
                   0);
  assert_int_equal(raw_int(f->db, "SELECT exact_urls FROM visits"
                                  " WHERE started_at = 2"),
                   1);
}

/* migrate_to_v4 takes a database written by schema |from| (2 or 3) to
 * v4: visits recorded with query-less resource keys are kept (the stats
 * use them, and a v3 visit keeps its network) but no longer replayed,
 * what was learned from them is dropped, and the one budget setting
 * becomes one per channel. */
static void migrate_to_v4(struct fix *f, int from) {
  for (int i = 0; i < from; i++)
    raw_exec(f->db, store_migrations[i]);
  raw_exec(f->db,
           "INSERT INTO pages(key, is_template, first_seen, last_seen,"
           " visits) VALUES('http://a/', 0, 1, 1, 1);"
           "INSERT INTO resources(key) VALUES('http://a/s.css');"
           "INSERT INTO visits(page_id, template_id, class, client_token,"
           " started_at) VALUES(1, 1, 'desktop', x'00', 1);"
           "INSERT INTO rules(page_id, class, resource_id, ord, channel,"
           " state) VALUES(1, 'desktop', 1, 0, 'hint', 'learned');"
           "INSERT INTO aggregates(page_id, class, resource_id, k, n)"
           " VALUES(1, 'desktop', 1, 1, 1);"
           "INSERT INTO settings(scope, name, value) VALUES"
           " ('global', 'budget', '200000'), ('route:r', 'max_resources', '5'),"
           " ('global', 'z', '2')");
  if (from >= 3)
    raw_exec(f->db, "UPDATE visits SET network = zeroblob(16)");
  struct store *s = open_ok(f);
  store_close(s);
  const struct {
    const char *sql;
    long long want;
  } after[] = {
      {"SELECT version FROM schema_version", STORE_SCHEMA_VERSION},
      {"SELECT count(*) FROM visits", 1},
      {"SELECT exact_urls FROM visits", 0},
      {"SELECT count(*) FROM visits WHERE network IS NULL", from < 3},
      {"SELECT count(*) FROM rules", 0},
      {"SELECT count(*) FROM aggregates", 0},
      {"SELECT value FROM settings WHERE scope = 'global'"
       " AND name = 'hint_budget'", 200000},
      {"SELECT value FROM settings WHERE scope = 'global'"
       " AND name = 'push_budget'", 200000},
      {"SELECT value FROM settings WHERE scope = 'route:r'"
       " AND name = 'push_max_resources'", 5},
      {"SELECT count(*) FROM settings"
       " WHERE name IN ('budget', 'max_resources')", 0},
      {"SELECT count(*) FROM settings", 5},
  };
  for (size_t i = 0; i < sizeof(after) / sizeof(after[0]); i++)
    assert_int_equal(raw_int(f->db, after[i].sql), after[i].want);
}

static void test_migrate_v2_to_v4(void **state) {
  migrate_to_v4(*state, 2);
}

static void test_migrate_v3_to_v4(void **state) {
  migrate_to_v4(*state, 3);
}

/* A v4 database gains visit_declared (v5) and keeps everything else:
 * its visits replay, and a new visit's declarations are written. */
static void test_migrate_v4_to_v5(void **state) {
  struct fix *f = *state;
  for (int i = 0; i < 4; i++)
    raw_exec(f->db, store_migrations[i]);
  raw_exec(f->db,
           "INSERT INTO pages(key, is_template, first_seen, last_seen,"
           " visits) VALUES('http://a/', 0, 1, 1, 1);"
           "INSERT INTO resources(key) VALUES('http://a/s.css');"
           "INSERT INTO visits(page_id, template_id, class, client_token,"
           " started_at, network, exact_urls) VALUES(1, 1, 'desktop',"
           " x'00', 1, zeroblob(16), 1);"
           "INSERT INTO rules(page_id, class, resource_id, ord, channel,"
           " state, level, rank) VALUES(1, 'desktop', 1, 0, 'hint',"
           " 'learned', 'page', 'style')");
  assert_int_equal(raw_int(f->db, "SELECT count(*) FROM sqlite_schema"
                                  " WHERE name = 'visit_declared'"),
                   0);
  struct store *s = open_ok(f);
  struct visit v;
  make_visit(&v, "http://a/", "http://a/", 2, 0);
  struct visit_declared d = {"http://a/d.js", OBS_DEST_SCRIPT,
                             VISIT_DECL_EARLY};
  v.declared = &d;
  v.ndeclared = 1;
  assert_int_equal(store_add_visit(s, &v), 0);
  store_close(s);
  const struct {
    const char *sql;
    long long want;
  } after[] = {
      {"SELECT version FROM schema_version", 5},
      {"SELECT count(*) FROM visits", 2},
      {"SELECT count(*) FROM rules", 1},
      {"SELECT count(*) FROM visit_declared", 1},
      {"SELECT count(*) FROM visit_declared vd JOIN resources r ON"
       " r.id = vd.resource_id WHERE r.key = 'http://a/d.js' AND"
       " vd.source = '103' AND vd.dest = 3", 1},
  };
  for (size_t i = 0; i < sizeof(after) / sizeof(after[0]); i++)
    assert_int_equal(raw_int(f->db, after[i].sql), after[i].want);
}

int main(void) {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_dir, teardown)
  const struct CMUnitTest tests[] = {
      T(test_fresh_open),        T(test_add_two_visits),
      T(test_template_equals_key), T(test_reopen_keeps_data),
      T(test_trim),              T(test_missing_directory),
      T(test_garbage_file),      T(test_foreign_database),
      T(test_newer_schema),      T(test_read_only),
      T(test_locked_at_open),    T(test_locked_at_begin),
      T(test_migrate_from_v1),   T(test_migrate_from_v2),
      T(test_migrate_v2_to_v4),  T(test_migrate_v3_to_v4),
      T(test_migrate_v4_to_v5),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
