/* test_store_admin.c: what heraldctl reads and writes through the store
 * besides rules and visits: settings and overrides one at a time, the
 * keys an operator may name, push outcomes, the stats window and the
 * import of an export document.
 *
 * Each test gets a fresh database (store_fixture.h); rows the store has
 * no writer for (pages without visits, old outcomes) are planted with a
 * raw connection. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "store/store.h"
#include "tests/unit/store_fixture.h"

#define SITE "https://shop.example"
#define NOW 1700000000000ll

/* keys collects what a listing gives, one line per key, and stops after
 * |stop_after| when it is set. */
struct keys {
  char text[1024];
  int n, stop_after;
};

static int on_key(void *ud, const char *key) {
  struct keys *k = ud;
  size_t len = strlen(k->text);
  snprintf(k->text + len, sizeof k->text - len, "%s%s", len ? " " : "", key);
  return ++k->n == k->stop_after;
}

static const char *list(struct store *s, enum store_keys which,
                        const char *page, int stop_after) {
  static struct keys k;
  memset(&k, 0, sizeof k);
  k.stop_after = stop_after;
  assert_int_equal(store_list_keys(s, which, page, on_key, &k), 0);
  return k.text;
}

static void on_setting(void *ud, const char *scope, const char *name,
                       const char *value) {
  char *out = ud;
  size_t len = strlen(out);
  snprintf(out + len, 256 - len, "%s.%s=%s;", scope, name, value);
}

static void test_settings_and_overrides(void **state) {
  struct fix *f = *state;
  char v[64], all[256] = "";
  assert_int_equal(store_set_setting(f->s, "route:a", "z", "2"), 0);
  assert_int_equal(store_set_setting(f->s, "global", "z", "1.5"), 0);
  assert_int_equal(store_list_settings(f->s, on_setting, all), 0);
  assert_string_equal(all, "global.z=1.5;route:a.z=2;");
  assert_int_equal(store_unset_setting(f->s, "global", "z"), 0);
  assert_int_equal(store_get_setting(f->s, "global", "z", v, sizeof v),
                   UV_ENOENT);
  /* Unsetting what is not set is how heraldctl says "no setting". */
  assert_int_equal(store_unset_setting(f->s, "global", "z"), UV_ENOENT);

  assert_int_equal(store_get_override(f->s, SITE "/", SITE "/a.css", v,
                                      sizeof v),
                   0);
  assert_string_equal(v, "");
  assert_int_equal(store_set_override(f->s, SITE "/", SITE "/a.css", "pin"),
                   0);
  assert_int_equal(store_set_override(f->s, SITE "/", SITE "/a.css", "block"),
                   0);
  assert_int_equal(store_get_override(f->s, SITE "/", SITE "/a.css", v,
                                      sizeof v),
                   0);
  assert_string_equal(v, "block");
  assert_string_equal(raw_text(f->db, "SELECT count(*) FROM overrides"), "1");
  assert_int_equal(store_unset_override(f->s, SITE "/", SITE "/a.css"), 0);
  assert_int_equal(store_unset_override(f->s, SITE "/", SITE "/a.css"), 0);
  assert_string_equal(raw_text(f->db, "SELECT count(*) FROM overrides"), "0");
}

static void test_keys(void **state) {
  struct fix *f = *state;
  /* /old has no visits, rules or overrides left: only the whole list
   * names it. */
  raw_exec(f->db,
           "INSERT INTO pages(key, is_template, first_seen, last_seen, visits)"
           " VALUES('" SITE "/b', 0, 1, 1, 2), ('" SITE "/old', 0, 1, 1, 0),"
           " ('" SITE "/p/:id', 1, 1, 1, 0), ('" SITE "/a', 0, 1, 1, 1);"
           "INSERT INTO resources(key, first_seen, last_seen)"
           " VALUES('" SITE "/y.js', 1, 1), ('" SITE "/x.css', 1, 1);"
           "INSERT INTO overrides VALUES('" SITE "/p/:id', '" SITE "/y.js',"
           " 'pin'), ('" SITE "/p/:id', '" SITE "/x.css', 'block');");
  assert_string_equal(list(f->s, STORE_KEYS_PAGES, NULL, 0),
                      SITE "/a " SITE "/b " SITE "/p/:id");
  assert_string_equal(list(f->s, STORE_KEYS_ALL_PAGES, NULL, 0),
                      SITE "/a " SITE "/b " SITE "/old " SITE "/p/:id");
  assert_string_equal(list(f->s, STORE_KEYS_ALL_PAGES, NULL, 2),
                      SITE "/a " SITE "/b");
  assert_string_equal(list(f->s, STORE_KEYS_RESOURCES, NULL, 0),
                      SITE "/x.css " SITE "/y.js");
  assert_string_equal(list(f->s, STORE_KEYS_OVERRIDDEN, SITE "/p/:id", 0),
                      SITE "/x.css " SITE "/y.js");
  assert_string_equal(list(f->s, STORE_KEYS_OVERRIDDEN, SITE "/a", 0), "");

  int64_t id = -1;
  int is_template = -1;
  assert_int_equal(store_page_row(f->s, SITE "/p/:id", &id, &is_template), 0);
  assert_int_equal(is_template, 1);
  assert_string_equal(raw_text(f->db, "SELECT id FROM pages WHERE key = '"
                                      SITE "/p/:id'"),
                      id == 3 ? "3" : "not 3");
  assert_int_equal(store_page_row(f->s, SITE "/nope", &id, &is_template),
                   UV_ENOENT);
  assert_non_null(strstr(store_errmsg(f->s), SITE "/nope"));
}

/* visit records a page load of |page| (its own template) at |start| with
 * what herald sent ahead of it and its load time. */
static void visit(struct fix *f, const char *page, uint64_t start,
                  uint8_t delivery, uint64_t load_ms) {
  struct visit v;
  memset(&v, 0, sizeof v);
  snprintf(v.page_key, sizeof v.page_key, "%s", page);
  snprintf(v.template_key, sizeof v.template_key, "%s", page);
  v.start_ms = start;
  v.delivery = delivery;
  v.load_ms = load_ms;
  v.bytes = 1000;
  assert_int_equal(store_add_visit(f->s, &v), 0);
}

struct arms {
  char text[512];
};

static void on_window_visit(void *ud, const struct store_window_visit *v) {
  struct arms *a = ud;
  size_t len = strlen(a->text);
  snprintf(a->text + len, sizeof a->text - len, "%s:%.0f:%d ",
           v->delivery != NULL ? v->delivery : "NULL", v->load_ms, v->ruled);
}

static void on_wasted(void *ud, const struct store_wasted *w) {
  struct arms *a = ud;
  size_t len = strlen(a->text);
  snprintf(a->text + len, sizeof a->text - len, "%s %s %lld/%lld/%lld; ",
           w->page + strlen(SITE), w->resource + strlen(SITE),
           (long long)w->promised, (long long)w->cancelled,
           (long long)w->wasted);
}

static void outcome(struct fix *f, const char *page, const char *res,
                    int promised, int cancelled, int wasted, int64_t at) {
  struct store_outcome o = {.promised = promised,
                            .completed = promised - cancelled,
                            .cancelled = cancelled,
                            .wasted = wasted,
                            .pushed_bytes = 100};
  assert_int_equal(store_add_outcome(f->s, page, 0, res, &o, at), 0);
}

static void test_window(void **state) {
  struct fix *f = *state;
  /* /a had rules (a treated and a holdout visit); /b never did. */
  visit(f, SITE "/a", NOW, VISIT_HINTS, 300);
  visit(f, SITE "/a", NOW + 1000, VISIT_HOLDOUT, 500);
  visit(f, SITE "/a", NOW + 2000, VISIT_NONE, 700);
  visit(f, SITE "/b", NOW + 3000, VISIT_NONE, 900);
  struct store_window all = {0, 0, -1};
  struct arms a = {""};
  assert_int_equal(store_window_visits(f->s, &all, on_window_visit, &a), 0);
  assert_string_equal(a.text,
                      "hints:300:1 holdout:500:1 none:700:1 none:900:0 ");
  uint64_t pages = 0;
  assert_int_equal(store_window_ruled_pages(f->s, &all, &pages), 0);
  assert_int_equal(pages, 1);
  /* Since the holdout visit, /a has no treated visit left in the window:
   * a lone holdout still makes it a page with rules. */
  struct store_window late = {1, NOW + 1000, -1};
  memset(&a, 0, sizeof a);
  assert_int_equal(store_window_visits(f->s, &late, on_window_visit, &a), 0);
  assert_string_equal(a.text, "holdout:500:1 none:700:1 none:900:0 ");

  outcome(f, SITE "/a", SITE "/x.css", 10, 6, 0, NOW);
  outcome(f, SITE "/a", SITE "/y.js", 10, 1, 1, NOW);
  outcome(f, SITE "/b", SITE "/x.css", 4, 0, 0, NOW - 5000);
  /* A resource row is only made by a recorded 200; plant them. */
  struct store_outcomes o;
  assert_int_equal(store_window_outcomes(f->s, &all, &o), 0);
  assert_int_equal(o.promised, 0); /* no resource rows yet: skipped */
  raw_exec(f->db, "INSERT INTO resources(key, first_seen, last_seen)"
                  " VALUES('" SITE "/x.css', 1, 1), ('" SITE "/y.js', 1, 1)");
  outcome(f, SITE "/a", SITE "/x.css", 10, 6, 0, NOW);
  outcome(f, SITE "/a", SITE "/y.js", 10, 1, 1, NOW);
  outcome(f, SITE "/b", SITE "/x.css", 4, 0, 0, NOW - 5000);
  assert_int_equal(store_window_outcomes(f->s, &all, &o), 0);
  assert_int_equal(o.promised, 24);
  assert_int_equal(o.cancelled, 7);
  assert_int_equal(o.pushed_bytes, 300);
  struct store_window recent = {1, NOW - 1000, -1};
  assert_int_equal(store_window_outcomes(f->s, &recent, &o), 0);
  assert_int_equal(o.promised, 20); /* /b's row is older */
  struct store_window of_b = {0, 0, -1};
  assert_int_equal(store_page_row(f->s, SITE "/b", &of_b.page_id,
                                  &(int){0}),
                   0);
  assert_int_equal(store_window_outcomes(f->s, &of_b, &o), 0);
  assert_int_equal(o.promised, 4);
  memset(&a, 0, sizeof a);
  assert_int_equal(store_window_wasted(f->s, &all, 1, on_wasted, &a), 0);
  assert_string_equal(a.text, "/a /x.css 10/6/0; ");
  memset(&a, 0, sizeof a);
  assert_int_equal(store_window_wasted(f->s, &all, 5, on_wasted, &a), 0);
  assert_string_equal(a.text, "/a /x.css 10/6/0; /a /y.js 10/1/1; ");

  assert_int_equal(store_get_outcomes(f->s, SITE "/a", 0, SITE "/y.js", &o), 0);
  assert_int_equal(o.promised, 10);
  assert_int_equal(o.wasted, 1);
  assert_int_equal(store_get_outcomes(f->s, SITE "/a", 1, SITE "/y.js", &o), 0);
  assert_int_equal(o.promised, 0); /* no mobile row: zeros */
}

struct imported {
  char text[256];
  int stop_at;
};

static int on_import_setting(void *ud, int index, const char *name,
                             const char *value) {
  struct imported *im = ud;
  size_t len = strlen(im->text);
  snprintf(im->text + len, sizeof im->text - len, "%d:%s=%s ", index, name,
           value);
  return index == im->stop_at;
}

static const char *check(struct fix *f, const char *doc) {
  static char out[128];
  struct store_import_check k;
  assert_int_equal(store_import_check(f->s, doc, &k), 0);
  snprintf(out, sizeof out, "%d %s %s", k.problem,
           k.section != NULL ? k.section : "-", k.where);
  return out;
}

#define RULE(page, res, more)                                                  \
  "{\"page\": \"" page "\", \"class\": \"desktop\", \"resource\": \"" res      \
  "\", \"type\": \"style\", \"dest\": 2, \"ord\": 0, \"channel\": \"push\","   \
  " \"state\": \"learned\", \"k\": 9, \"n\": 10, \"confidence\": 0.9,"         \
  " \"wilson\": 0.6, \"clients\": 3, \"bytes\": 100, \"delay_ms\": 20,"        \
  " \"depth\": 1, \"pushable\": true" more "}"

static void test_import(void **state) {
  struct fix *f = *state;
  assert_string_equal(check(f, "{nope"), "1 - ");
  assert_string_equal(check(f, "{\"herald_export\": 2}"), "2 - ");
  assert_string_equal(check(f, "{\"herald_export\": 1, \"rules\": {}}"),
                      "3 - rules");
  assert_string_equal(
      check(f, "{\"herald_export\": 1, \"rules\": [" RULE(SITE "/", SITE
            "/a.css", "") ", {\"page\": \"" SITE "/\"}]}"),
      "4 rules 1");
  /* A key the format does not have is refused, in any section. */
  assert_string_equal(
      check(f, "{\"herald_export\": 1, \"rules\": [" RULE(SITE "/", SITE
            "/a.css", ", \"extra\": 1") "]}"),
      "4 rules 0");
  assert_string_equal(check(f, "{\"herald_export\": 1, \"overrides\": ["
                               "{\"page\": \"p\", \"resource\": \"r\","
                               " \"action\": \"pin\", \"why\": \"x\"}]}"),
                      "4 overrides 0");
  const char *doc =
      "{\"herald_export\": 1, \"settings\": [{\"scope\": \"global\","
      " \"name\": \"z\", \"value\": \"2\"}, {\"scope\": \"route:r\","
      " \"name\": \"nope\", \"value\": \"x\"}],"
      " \"overrides\": [{\"page\": \"" SITE "/\", \"resource\": \"" SITE
      "/c.js\", \"action\": \"block\"}],"
      " \"rules\": [" RULE(SITE "/", SITE "/a.css", ", \"level\": \"site\"")
      ", " RULE(SITE "/p/:id", SITE "/a.css", "") "]}";
  assert_string_equal(check(f, doc), "0 - ");
  struct imported im = {"", -1};
  assert_int_equal(store_import_settings(f->s, doc, on_import_setting, &im),
                   0);
  assert_string_equal(im.text, "0:z=2 1:nope=x ");
  struct imported first = {"", 0};
  assert_int_equal(
      store_import_settings(f->s, doc, on_import_setting, &first), 0);
  assert_string_equal(first.text, "0:z=2 ");

  struct store_import_counts n;
  assert_int_equal(store_import(f->s, doc, strlen(doc), NOW, &n), 0);
  assert_int_equal(n.settings, 2);
  assert_int_equal(n.overrides, 1);
  assert_int_equal(n.rules, 2);
  assert_int_equal(n.pages, 2);
  assert_string_equal(raw_text(f->db, "SELECT is_template FROM pages"
                                      " WHERE key = '" SITE "/p/:id'"),
                      "1");
  assert_string_equal(raw_text(f->db, "SELECT level FROM rules r JOIN pages p"
                                      " ON p.id = r.page_id WHERE p.key = '"
                                      SITE "/'"),
                      "site");
  assert_string_equal(raw_text(f->db, "SELECT count(*) FROM aggregates"), "2");
  /* Again: the same rows, not twice as many. */
  assert_int_equal(store_import(f->s, doc, strlen(doc), NOW, &n), 0);
  assert_string_equal(raw_text(f->db, "SELECT count(*) FROM rules"), "2");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_settings_and_overrides),
      T(test_keys),
      T(test_window),
      T(test_import),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
