/* test_store_rules.c: the learner's and heraldctl's queries of the store:
 * rules replaced and loaded back, aggregates, the replay of recorded
 * visits, settings, overrides and the page list.
 *
 * Each test gets a fresh database (store_fixture.h); a raw sqlite3
 * connection checks what landed in the file. */
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
#include <unistd.h>
#include <uv.h>

#include "base/util.h"
#include "store/store.h"
#include "tests/unit/store_fixture.h"

#define PAGE "https://shop.example/"
#define CSS "https://shop.example/css/site.css"
#define FONT "https://shop.example/fonts/a.woff2"
#define JS "https://shop.example/js/app.js"
#define IMG "https://shop.example/img/logo.png"
#define NOW 1700000000000ll

static struct learn_rule rule(const char *key, uint8_t dest, uint32_t ch,
                              int ord, uint32_t delay) {
  struct learn_rule r;
  memset(&r, 0, sizeof r);
  snprintf(r.key, sizeof r.key, "%s", key);
  r.dest = dest;
  r.depth = dest == OBS_DEST_FONT ? 2 : 1;
  r.state = LEARN_LEARNED;
  r.channels = ch;
  r.ord = ord;
  r.k = 24.5;
  r.n = 25.0;
  r.confidence = r.k / r.n;
  r.wilson = 0.9;
  r.clients = 4;
  r.bytes = 1000u * (unsigned)(ord + 1);
  r.median_delay_ms = delay;
  r.pushable = ch != 0;
  r.urgency = VISIT_URGENCY_NONE;
  return r;
}

/* ---- rules and aggregates -------------------------------------------- */

struct loaded {
  char page[8][PAGEKEY_MAX];
  int mobile[8];
  struct learn_rule r[8];
  size_t n;
};

static void on_rule(void *ud, const char *page_key, int mobile,
                    const struct learn_rule *r) {
  struct loaded *l = ud;
  assert_true(l->n < 8);
  snprintf(l->page[l->n], PAGEKEY_MAX, "%s", page_key);
  l->mobile[l->n] = mobile;
  l->r[l->n++] = *r;
}

static int put_all(struct store *s, const char *page, int mobile,
                   const struct learn_rule *r, size_t n) {
  int rv = store_begin(s);
  for (size_t i = 0; rv == 0 && i < n; i++)
    rv = store_put_aggregate(s, page, mobile, &r[i], r[i].channels != 0, NOW);
  if (rv == 0)
    rv = store_replace_rules(s, page, mobile, r, n, NOW);
  if (rv == 0)
    rv = store_commit(s);
  else
    store_rollback(s);
  return rv;
}

static void test_replace_rules(void **state) {
  struct fix *f = *state;
  struct learn_rule r[4] = {
      rule(CSS, OBS_DEST_STYLE, LEARN_PUSH | LEARN_HINT, 0, 30),
      rule(FONT, OBS_DEST_FONT, LEARN_HINT, 1, 80),
      rule(JS, OBS_DEST_SCRIPT, 0, 2, 40), /* near miss: not written */
      rule(IMG, OBS_DEST_IMAGE, 0, 3, 50), /* blocked: written */
  };
  r[3].state = LEARN_BLOCKED;
  assert_int_equal(put_all(f->s, PAGE, 0, r, 4), 0);
  assert_int_equal(store_count(f->s, "rules"), 3);
  assert_int_equal(store_count(f->s, "aggregates"), 4);
  assert_int_equal(store_count(f->s, "pages"), 1);
  assert_int_equal(store_count(f->s, "resources"), 4);
  assert_string_equal(
      raw_text(f->db, "SELECT group_concat(channel || ':' || state, ' ')"
                      " FROM (SELECT channel, state FROM rules ORDER BY ord)"),
      "push:learned hint:learned none:blocked");
  assert_string_equal(raw_text(f->db, "SELECT visits || is_template"
                                      " FROM pages"),
                      "00");

  /* The second set replaces the first: the CSS is gone, JS qualifies. */
  struct learn_rule r2[2] = {
      rule(JS, OBS_DEST_SCRIPT, LEARN_PUSH, 0, 40),
      rule(FONT, OBS_DEST_FONT, LEARN_PUSH | LEARN_HINT, 1, 80),
  };
  assert_int_equal(put_all(f->s, PAGE, 0, r2, 2), 0);
  assert_int_equal(store_count(f->s, "rules"), 2);
  assert_string_equal(raw_text(f->db,
                               "SELECT group_concat(key || '=' || channel, ' ')"
                               " FROM (SELECT res.key, r.channel FROM rules r"
                               " JOIN resources res ON res.id = r.resource_id"
                               " ORDER BY r.ord)"),
                      JS "=push " FONT "=push");

  /* Another class of the same page is separate. */
  assert_int_equal(put_all(f->s, PAGE, 1, r, 1), 0);
  assert_int_equal(store_count(f->s, "rules"), 3);
  assert_int_equal(put_all(f->s, PAGE, 1, NULL, 0), 0);
  assert_int_equal(store_count(f->s, "rules"), 2);

  /* A template key gets its page row, flagged as a template. */
  assert_int_equal(put_all(f->s, "https://shop.example/product/:id", 0, r2, 2),
                   0);
  assert_string_equal(raw_text(f->db, "SELECT is_template FROM pages WHERE"
                                      " key LIKE '%/:id'"),
                      "1");
}

static void test_load_rules(void **state) {
  struct fix *f = *state;
  /* Written out of order: loading sorts by page, class, ord, with the
   * unplaced (ord -1, blocked) last. */
  struct learn_rule r[4] = {
      rule(FONT, OBS_DEST_FONT, LEARN_HINT, 2, 80),
      rule(CSS, OBS_DEST_STYLE, LEARN_PUSH | LEARN_HINT, 0, 30),
      rule(JS, OBS_DEST_SCRIPT, LEARN_PUSH | LEARN_HINT, 1, 40),
      rule(IMG, OBS_DEST_IMAGE, 0, -1, 20),
  };
  r[1].state = LEARN_PINNED;
  r[3].state = LEARN_BLOCKED;
  r[0].level = LEARN_SITE;
  r[0].urgency = 0;
  assert_int_equal(put_all(f->s, "https://shop.example/z", 0, r, 1), 0);
  assert_int_equal(put_all(f->s, PAGE, 1, r, 1), 0);
  assert_int_equal(put_all(f->s, PAGE, 0, r, 4), 0);
  /* A rule carries all it shows: without aggregates it loads the same. */
  raw_exec(f->db, "DELETE FROM aggregates WHERE resource_id ="
                  " (SELECT id FROM resources WHERE key LIKE '%.js')");

  struct loaded l = {0};
  assert_int_equal(store_load_rules(f->s, on_rule, &l), 0);
  assert_int_equal(l.n, 6);
  const char *pages[6] = {PAGE, PAGE, PAGE, PAGE, PAGE,
                          "https://shop.example/z"};
  const int mobile[6] = {0, 0, 0, 0, 1, 0};
  const char *keys[6] = {CSS, JS, FONT, IMG, FONT, FONT};
  for (size_t i = 0; i < 6; i++) {
    assert_string_equal(l.page[i], pages[i]);
    assert_int_equal(l.mobile[i], mobile[i]);
    assert_string_equal(l.r[i].key, keys[i]);
  }
  assert_int_equal(l.r[0].ord, 0);
  assert_int_equal(l.r[0].state, LEARN_PINNED);
  assert_int_equal(l.r[0].channels, LEARN_PUSH | LEARN_HINT);
  assert_int_equal(l.r[0].dest, OBS_DEST_STYLE);
  assert_int_equal(l.r[0].depth, 1);
  assert_int_equal(l.r[0].median_delay_ms, 30);
  assert_int_equal(l.r[0].bytes, 1000);
  assert_int_equal(l.r[0].clients, 4);
  assert_true(l.r[0].k == 24.5 && l.r[0].n == 25.0);
  assert_true(l.r[0].wilson == 0.9);
  assert_true(l.r[0].confidence == 24.5 / 25.0);
  assert_int_equal(l.r[0].level, LEARN_PAGE);
  assert_int_equal(l.r[0].urgency, VISIT_URGENCY_NONE);
  assert_int_equal(l.r[0].rank, LEARN_RANK_STYLE);
  assert_int_equal(l.r[1].ord, 1);
  assert_int_equal(l.r[1].median_delay_ms, 40);
  assert_int_equal(l.r[1].depth, 1);
  assert_int_equal(l.r[1].dest, OBS_DEST_SCRIPT);
  assert_int_equal(l.r[1].state, LEARN_LEARNED);
  assert_int_equal(l.r[1].rank, LEARN_RANK_SCRIPT);
  /* 'hint' reads back as hint only. */
  assert_int_equal(l.r[2].ord, 2);
  assert_int_equal(l.r[2].channels, LEARN_HINT);
  assert_int_equal(l.r[2].depth, 2);
  assert_int_equal(l.r[2].median_delay_ms, 80);
  /* The level that decided and the browser's urgency come back. */
  assert_int_equal(l.r[2].level, LEARN_SITE);
  assert_int_equal(l.r[2].urgency, 0);
  assert_int_equal(l.r[2].rank, LEARN_RANK_FONT);
  assert_int_equal(l.r[3].ord, -1);
  assert_int_equal(l.r[3].state, LEARN_BLOCKED);
  assert_int_equal(l.r[3].channels, 0);
  /* pushable is stored with the rule. */
  assert_int_equal(l.r[3].pushable, 0);
  assert_int_equal(l.r[2].pushable, 1);
  assert_int_equal(l.r[1].pushable, 1);

  /* An empty table calls nothing. */
  raw_exec(f->db, "DELETE FROM rules");
  l.n = 0;
  assert_int_equal(store_load_rules(f->s, on_rule, &l), 0);
  assert_int_equal(l.n, 0);
}

static void test_aggregate_upsert(void **state) {
  struct fix *f = *state;
  struct learn_rule r = rule(CSS, OBS_DEST_STYLE, 0, 0, 30);
  assert_int_equal(store_put_aggregate(f->s, PAGE, 0, &r, 1, NOW), 0);
  r.k = 3.25;
  r.n = 7.5;
  r.clients = 9;
  r.median_delay_ms = 55;
  r.depth = 3;
  r.bytes = 777;
  assert_int_equal(store_put_aggregate(f->s, PAGE, 0, &r, 0, NOW + 5), 0);
  assert_int_equal(store_count(f->s, "aggregates"), 1);
  assert_string_equal(
      raw_text(f->db, "SELECT k || ' ' || n || ' ' || clients || ' ' ||"
                      " median_delay_ms || ' ' || depth || ' ' || bytes ||"
                      " ' ' || pushable || ' ' || last_visit || ' ' || class"
                      " FROM aggregates"),
      "3.25 7.5 9 55 3 777 0 1700000000005 desktop");
  assert_int_equal(store_put_aggregate(f->s, PAGE, 1, &r, 1, NOW), 0);
  assert_int_equal(store_count(f->s, "aggregates"), 2);
  /* The resource row keeps what the learner knew of it. */
  assert_string_equal(raw_text(f->db, "SELECT dest || ' ' || bytes"
                                      " FROM resources"),
                      "2 1000");
}

/* ---- replay ----------------------------------------------------------- */

static struct visit_req vreqs[3];

static void make_visit(struct visit *v, const char *page, const char *tmpl,
                       uint64_t start_ms, int mobile, uint8_t token) {
  memset(v, 0, sizeof(*v));
  memset(vreqs, 0, sizeof vreqs);
  snprintf(v->page_key, sizeof v->page_key, "%s", page);
  snprintf(v->template_key, sizeof v->template_key, "%s", tmpl);
  v->mobile = mobile;
  memset(v->client_token, token, sizeof v->client_token);
  memset(v->network, token ^ 0x5a, sizeof v->network);
  v->start_ms = start_ms;
  v->load_ms = 420;
  v->bytes = 50000;
  const char *keys[3] = {CSS, FONT, IMG};
  const uint8_t dest[3] = {OBS_DEST_STYLE, OBS_DEST_FONT, OBS_DEST_IMAGE};
  for (int i = 0; i < 3; i++) {
    snprintf(vreqs[i].key, PAGEKEY_MAX, "%s", keys[i]);
    snprintf(vreqs[i].method, sizeof vreqs[i].method, "GET");
    vreqs[i].status = 200;
    vreqs[i].dest = dest[i];
    vreqs[i].depth = 1;
    vreqs[i].parent = -1;
    vreqs[i].flags = VISIT_REQ_PUSHABLE;
    vreqs[i].delay_ms = 30u + 10u * (unsigned)i;
    vreqs[i].bytes = 1000u * (unsigned)(i + 1);
    vreqs[i].urgency = VISIT_URGENCY_NONE;
  }
  vreqs[0].urgency = 0;
  snprintf(vreqs[0].content_type, OBS_CTYPE_MAX, "text/css");
  vreqs[1].depth = 2;
  vreqs[1].parent = 0;
  vreqs[1].flags |= VISIT_REQ_PUSHED;
  vreqs[2].status = 304;
  vreqs[2].flags = VISIT_REQ_ALREADY_HAD | VISIT_REQ_HINTED;
  v->reqs = vreqs;
  v->nreqs = 3;
}

struct replayed {
  struct visit v[4];
  struct visit_req r[4][3];
  struct visit_named named[4][2];
  size_t n;
};

static void on_visit(void *ud, const struct visit *v) {
  struct replayed *p = ud;
  assert_true(p->n < 4);
  assert_true(v->nreqs <= 3);
  p->v[p->n] = *v;
  memcpy(p->r[p->n], v->reqs, v->nreqs * sizeof(*v->reqs));
  p->v[p->n].reqs = p->r[p->n];
  assert_true(v->nnamed <= 2);
  if (v->nnamed > 0)
    memcpy(p->named[p->n], v->named, v->nnamed * sizeof(*v->named));
  p->v[p->n].named = p->named[p->n];
  p->n++;
}

static void test_replay(void **state) {
  struct fix *f = *state;
  struct visit v;
  /* Written out of start order; the second one has no requests. */
  make_visit(&v, "https://shop.example/product/2",
             "https://shop.example/product/:id", NOW + 2000, 1, 0xbb);
  assert_int_equal(store_add_visit(f->s, &v), 0);
  make_visit(&v, PAGE, PAGE, NOW, 0, 0xaa);
  v.nreqs = 0;
  assert_int_equal(store_add_visit(f->s, &v), 0);
  make_visit(&v, PAGE, PAGE, NOW + 1000, 0, 0xcc);
  /* What herald named: a hint of the image, a push of the font, and a
   * key without a resource row, which is skipped. */
  struct visit_named named[3] = {{IMG, VISIT_NAMED_HINT},
                                 {FONT, VISIT_NAMED_PUSH},
                                 {"https://shop.example/never.js",
                                  VISIT_NAMED_HINT}};
  v.named = named;
  v.nnamed = 3;
  assert_int_equal(store_add_visit(f->s, &v), 0);
  /* A visit recorded before exact URLs (schema 2) is not replayed. */
  make_visit(&v, PAGE, PAGE, NOW + 500, 0, 0xdd);
  assert_int_equal(store_add_visit(f->s, &v), 0);
  raw_exec(f->db, "UPDATE visits SET exact_urls = 0 WHERE started_at = "
                  "(SELECT min(started_at) + 500 FROM visits)");

  struct replayed p = {0};
  assert_int_equal(store_replay_visits(f->s, on_visit, &p), 0);
  assert_int_equal(p.n, 3);
  assert_int_equal(p.v[0].start_ms, NOW);
  assert_int_equal(p.v[0].nreqs, 0);
  assert_int_equal(p.v[0].client_token[15], 0xaa);
  assert_int_equal(p.v[1].start_ms, NOW + 1000);
  assert_int_equal(p.v[2].start_ms, NOW + 2000);
  assert_string_equal(p.v[2].page_key, "https://shop.example/product/2");
  assert_string_equal(p.v[2].template_key, "https://shop.example/product/:id");
  assert_int_equal(p.v[2].mobile, 1);
  assert_int_equal(p.v[2].client_token[0], 0xbb);
  assert_int_equal(p.v[2].network[0], 0xbb ^ 0x5a);
  assert_int_equal(p.v[2].network[15], 0xbb ^ 0x5a);
  assert_int_equal(p.v[0].network[15], 0xaa ^ 0x5a);
  assert_int_equal(p.v[2].load_ms, 420);
  assert_int_equal(p.v[2].bytes, 50000);
  assert_string_equal(p.v[1].template_key, PAGE);
  assert_int_equal(p.v[1].mobile, 0);
  assert_int_equal(p.v[1].nnamed, 2);
  assert_string_equal(p.v[1].named[0].key, FONT);
  assert_int_equal(p.v[1].named[0].channel, VISIT_NAMED_PUSH);
  assert_string_equal(p.v[1].named[1].key, IMG);
  assert_int_equal(p.v[1].named[1].channel, VISIT_NAMED_HINT);
  assert_int_equal(p.v[0].nnamed, 0);

  const struct visit_req *r = p.v[1].reqs;
  assert_int_equal(p.v[1].nreqs, 3);
  assert_string_equal(r[0].key, CSS);
  assert_string_equal(r[0].method, "GET");
  assert_string_equal(r[0].content_type, "text/css");
  assert_int_equal(r[0].status, 200);
  assert_int_equal(r[0].dest, OBS_DEST_STYLE);
  assert_int_equal(r[0].parent, -1);
  assert_int_equal(r[0].flags, VISIT_REQ_PUSHABLE);
  assert_int_equal(r[0].delay_ms, 30);
  assert_int_equal(r[0].bytes, 1000);
  assert_int_equal(r[0].urgency, 0);
  assert_int_equal(r[1].urgency, VISIT_URGENCY_NONE);
  assert_string_equal(r[1].key, FONT);
  assert_int_equal(r[1].depth, 2);
  assert_int_equal(r[1].parent, 0);
  assert_int_equal(r[1].flags, VISIT_REQ_PUSHABLE | VISIT_REQ_PUSHED);
  assert_string_equal(r[2].key, IMG);
  assert_int_equal(r[2].status, 304);
  assert_string_equal(r[2].content_type, "");
  assert_int_equal(r[2].flags, VISIT_REQ_ALREADY_HAD | VISIT_REQ_HINTED);
  assert_int_equal(r[2].parent, -1);

  /* A parent that does not precede its request reads as the page. */
  raw_exec(f->db, "UPDATE visit_requests SET parent_seq = 2 WHERE seq = 1");
  p.n = 0;
  assert_int_equal(store_replay_visits(f->s, on_visit, &p), 0);
  assert_int_equal(p.n, 3);
  assert_int_equal(p.v[1].reqs[1].parent, -1);

  /* Nothing retained: no calls. */
  assert_int_equal(store_trim_visits(f->s, 0), 0);
  p.n = 0;
  assert_int_equal(store_replay_visits(f->s, on_visit, &p), 0);
  assert_int_equal(p.n, 0);
}

/* ---- settings and overrides ------------------------------------------ */

static void test_settings(void **state) {
  struct fix *f = *state;
  char buf[16];
  assert_int_equal(store_get_setting(f->s, "global", "z", buf, sizeof buf),
                   UV_ENOENT);
  assert_int_equal(store_set_setting(f->s, "global", "z", "1.64"), 0);
  assert_int_equal(store_set_setting(f->s, PAGE, "z", "2.5"), 0);
  assert_int_equal(store_get_setting(f->s, "global", "z", buf, sizeof buf), 0);
  assert_string_equal(buf, "1.64");
  assert_int_equal(store_set_setting(f->s, "global", "z", "1.96"), 0);
  assert_int_equal(store_get_setting(f->s, "global", "z", buf, sizeof buf), 0);
  assert_string_equal(buf, "1.96");
  assert_int_equal(store_get_setting(f->s, PAGE, "z", buf, sizeof buf), 0);
  assert_string_equal(buf, "2.5");
  assert_int_equal(store_count(f->s, "settings"), 2);
  /* Too long for the caller's buffer: an error, not a cut value. */
  assert_int_equal(
      store_set_setting(f->s, "global", "long", "0123456789abcdefghij"), 0);
  assert_int_equal(store_get_setting(f->s, "global", "long", buf, sizeof buf),
                   UV_ENOBUFS);
  assert_non_null(strstr(store_errmsg(f->s), "global.long"));
  assert_int_equal(store_get_setting(f->s, "global", "z", buf, 5), 0);
  assert_string_equal(buf, "1.96");
}

struct ovs {
  char rows[4][256];
  size_t n;
};

static void on_override(void *ud, const char *page_key,
                        const char *resource_key, const char *action) {
  struct ovs *o = ud;
  assert_true(o->n < 4);
  snprintf(o->rows[o->n++], sizeof o->rows[0], "%s %s %s", page_key,
           resource_key, action);
}

static void test_overrides(void **state) {
  struct fix *f = *state;
  struct ovs o = {0};
  assert_int_equal(store_load_overrides(f->s, on_override, &o), 0);
  assert_int_equal(o.n, 0);
  raw_exec(f->db, "INSERT INTO overrides VALUES"
                  " ('" PAGE "', '" JS "', 'block'),"
                  " ('" PAGE "', '" CSS "', 'pin'),"
                  " ('https://a.example/', '" IMG "', 'pin')");
  assert_int_equal(store_load_overrides(f->s, on_override, &o), 0);
  assert_int_equal(o.n, 3);
  assert_string_equal(o.rows[0], "https://a.example/ " IMG " pin");
  assert_string_equal(o.rows[1], PAGE " " CSS " pin");
  assert_string_equal(o.rows[2], PAGE " " JS " block");
}

/* ---- page list -------------------------------------------------------- */

struct plist {
  char rows[8][256];
  size_t n;
};

static void on_page(void *ud, const struct store_page *p) {
  struct plist *l = ud;
  assert_true(l->n < 8);
  snprintf(l->rows[l->n++], sizeof l->rows[0], "%s %d %s %lld %lld %lld",
           p->key, p->is_template, p->mobile ? "mobile" : "desktop",
           (long long)p->visits, (long long)p->rules,
           (long long)p->last_seen_ms);
}

static void test_list_pages(void **state) {
  struct fix *f = *state;
  struct plist l = {0};
  assert_int_equal(store_list_pages(f->s, on_page, &l), 0);
  assert_int_equal(l.n, 0);

  struct visit v;
  make_visit(&v, PAGE, PAGE, NOW, 0, 0xaa);
  assert_int_equal(store_add_visit(f->s, &v), 0);
  make_visit(&v, PAGE, PAGE, NOW + 10, 0, 0xab);
  assert_int_equal(store_add_visit(f->s, &v), 0);
  make_visit(&v, "https://shop.example/product/2",
             "https://shop.example/product/:id", NOW + 20, 1, 0xbb);
  assert_int_equal(store_add_visit(f->s, &v), 0);
  /* Rules for a class without retained visits list it too; near misses
   * and blocked rows are not counted as rules. */
  struct learn_rule r[2] = {
      rule(CSS, OBS_DEST_STYLE, LEARN_PUSH, 0, 30),
      rule(JS, OBS_DEST_SCRIPT, 0, 1, 40),
  };
  r[1].state = LEARN_BLOCKED;
  assert_int_equal(put_all(f->s, PAGE, 1, r, 2), 0);

  assert_int_equal(store_list_pages(f->s, on_page, &l), 0);
  assert_int_equal(l.n, 4);
  assert_string_equal(l.rows[0], PAGE " 0 desktop 2 0 1700000000010");
  assert_string_equal(l.rows[1], PAGE " 0 mobile 2 1 1700000000010");
  assert_string_equal(l.rows[2], "https://shop.example/product/2 0 mobile"
                                 " 1 0 1700000000020");
  assert_string_equal(l.rows[3], "https://shop.example/product/:id 1 mobile"
                                 " 1 0 1700000000020");
}

/* A visit recorded before schema v3 has no network: it replays as the
 * all-zero one, so such visits together count as one client. */
static void test_replay_without_network(void **state) {
  struct fix *f = *state;
  struct visit v;
  make_visit(&v, PAGE, PAGE, NOW, 0, 0xaa);
  assert_int_equal(store_add_visit(f->s, &v), 0);
  make_visit(&v, PAGE, PAGE, NOW + 1, 0, 0xbb);
  assert_int_equal(store_add_visit(f->s, &v), 0);
  raw_exec(f->db, "UPDATE visits SET network = NULL");
  struct replayed p = {0};
  assert_int_equal(store_replay_visits(f->s, on_visit, &p), 0);
  assert_int_equal(p.n, 2);
  static const uint8_t zero[16];
  assert_memory_equal(p.v[0].network, zero, 16);
  assert_memory_equal(p.v[1].network, zero, 16);
  assert_int_equal(p.v[1].client_token[0], 0xbb);
}

/* What the backend declared replays with its visit: where it came from
 * and its destination; a declaration herald's 103 forwarded is also in
 * the named set, even for a resource no request ever made a row of. */
static struct visit_declared rdecl[OBS_DECLARED_MAX];

static void on_declared_visit(void *ud, const struct visit *v) {
  size_t *n = ud;
  assert_true(v->ndeclared <= OBS_DECLARED_MAX);
  memcpy(rdecl, v->declared, v->ndeclared * sizeof(*v->declared));
  *n = v->ndeclared;
  assert_int_equal(v->nnamed, 1);
  assert_string_equal(v->named[0].key, "https://shop.example/early.js");
}

static void test_replay_declared(void **state) {
  struct fix *f = *state;
  struct visit v;
  make_visit(&v, PAGE, PAGE, NOW, 0, 0xaa);
  struct visit_declared d[3] = {
      {"https://shop.example/early.js", OBS_DEST_SCRIPT,
       VISIT_DECL_EARLY | VISIT_DECL_NAMED},
      {CSS, OBS_DEST_STYLE, VISIT_DECL_LINK},
      {FONT, OBS_DEST_FONT, VISIT_DECL_LINK | VISIT_DECL_EARLY},
  };
  struct visit_named named[1] = {{"https://shop.example/early.js",
                                  VISIT_NAMED_HINT}};
  v.declared = d;
  v.ndeclared = 3;
  v.named = named;
  v.nnamed = 1;
  assert_int_equal(store_add_visit(f->s, &v), 0);
  assert_int_equal(store_count(f->s, "visit_declared"), 3);
  size_t n = 0;
  assert_int_equal(store_replay_visits(f->s, on_declared_visit, &n), 0);
  assert_int_equal(n, 3);
  /* By key. */
  assert_string_equal(rdecl[0].key, CSS);
  assert_int_equal(rdecl[0].dest, OBS_DEST_STYLE);
  assert_int_equal(rdecl[0].flags, VISIT_DECL_LINK);
  assert_string_equal(rdecl[1].key, "https://shop.example/early.js");
  assert_int_equal(rdecl[1].dest, OBS_DEST_SCRIPT);
  assert_int_equal(rdecl[1].flags, VISIT_DECL_EARLY);
  assert_string_equal(rdecl[2].key, FONT);
  assert_int_equal(rdecl[2].flags, VISIT_DECL_LINK | VISIT_DECL_EARLY);
  /* The declared resource's row has its destination. */
  assert_string_equal(raw_text(f->db, "SELECT dest FROM resources WHERE key"
                                      " = 'https://shop.example/early.js'"),
                      "3");
  /* Declarations go with their visit. */
  assert_int_equal(store_trim_visits(f->s, 0), 0);
  assert_int_equal(store_count(f->s, "visit_declared"), 0);
}

int main(void) {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_replace_rules), T(test_load_rules), T(test_aggregate_upsert),
      T(test_replay),        T(test_settings),   T(test_overrides),
      T(test_list_pages),    T(test_replay_without_network),
      T(test_replay_declared),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
