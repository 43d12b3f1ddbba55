/* test_learn.c: decayed counts and the rules they justify. Visits are made
 * up here, with a seeded generator where probabilities matter, and fed
 * to learn_visit as attribution would emit them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "learner/learn.h"
#include "tests/unit/learn_fixture.h"

#define SITE "https://shop.example"
#define PAGE SITE "/"

/* ---- cases -------------------------------------------------------------- */

static void test_defaults(void **state) {
  (void)state;
  struct learn_params p = params();
  assert_true(p.push_threshold == 0.95);
  assert_true(p.hint_threshold == 0.90);
  assert_true(p.z == 1.96);
  assert_true(p.min_visits == 20);
  assert_int_equal(p.min_clients, 3);
  assert_int_equal(p.hint_budget, CONFIG_DEFAULT_HINT_BUDGET);
  assert_int_equal(p.hint_max, CONFIG_DEFAULT_HINT_MAX);
  assert_int_equal(p.hint_max, 32);
  assert_int_equal(p.push_budget, 102400);
  assert_int_equal(p.push_max, 16);
}

static void test_unknown_and_empty(void **state) {
  (void)state;
  learn_free(NULL);
  struct learn *l = learn_new(100, 1);
  struct learn_params p = params();
  assert_int_equal(get_rules(l, PAGE, 0, &p, NULL), 0);
  assert_true(learn_page_visits(l, PAGE, 0) == 0);
  /* A visit without a page key is nothing; a request without a key is
   * skipped. */
  begin("", NULL, 0, 1);
  req(SITE "/a.js", 10);
  learn_visit(l, &vis);
  assert_true(learn_page_visits(l, "", 0) == 0);
  begin(PAGE, NULL, 0, 1);
  req("", 10);
  req(SITE "/a.js", 10);
  learn_visit(l, &vis);
  assert_int_equal(get_rules(l, PAGE, 0, &p, NULL), 1);
  assert_string_equal(rules[0].key, SITE "/a.js");
  learn_outcome(l, SITE "/nope", 0, SITE "/a.js", 1);
  learn_outcome(l, PAGE, 0, SITE "/nope.js", 1);
  learn_free(l);
}

/* Resources on 99% of visits become push and hint rules; those on 60%
 * are near misses, listed after them. */
static void test_probabilities(void **state) {
  (void)state;
  struct learn *l = learn_new(1000, 1);
  struct learn_params p = params();
  rng_seed(42);
  for (unsigned i = 0; i < 400; i++) {
    begin(PAGE, NULL, 0, i % 8);
    if (rng_unit() < 0.99)
      req(SITE "/app.css", 10);
    if (rng_unit() < 0.99)
      req(SITE "/app.js", 20);
    if (rng_unit() < 0.60)
      req(SITE "/hero.jpg", 5);
    learn_visit(l, &vis);
  }
  assert_int_equal(get_rules(l, PAGE, 0, &p, NULL), 3);
  assert_string_equal(rules[0].key, SITE "/app.css");
  assert_string_equal(rules[1].key, SITE "/app.js");
  assert_string_equal(rules[2].key, SITE "/hero.jpg");
  for (int i = 0; i < 2; i++) {
    assert_int_equal(rules[i].channels, LEARN_PUSH | LEARN_HINT);
    assert_int_equal(rules[i].state, LEARN_LEARNED);
    assert_true(rules[i].wilson >= 0.95);
    assert_true(rules[i].confidence > 0.97);
    assert_int_equal(rules[i].clients, 8);
    assert_true(rules[i].pushable);
  }
  const struct learn_rule *h = &rules[2];
  assert_int_equal(h->channels, 0);
  assert_int_equal(h->ord, -1);
  assert_true(h->confidence > 0.5 && h->confidence < 0.7);
  assert_true(h->wilson < 0.7);
  assert_true(h->k < h->n);
  learn_free(l);
}

/* With every visit a hit, k = n and the bound is n / (n + z²): 0.9 needs
 * n >= 34.6 and 0.95 needs n >= 73.0 (limits-and-learning.md §3.2). */
static void test_thresholds_all_hits(void **state) {
  (void)state;
  struct learn *l = learn_new(1e9, 1);
  struct learn_params p = params();
  p.min_visits = 20;
  int hint_at = NEVER, push_at = NEVER;
  for (int i = 1; i <= 100; i++) {
    begin(PAGE, NULL, 0, (unsigned)i % 4);
    req(SITE "/app.js", 10);
    learn_visit(l, &vis);
    get_rules(l, PAGE, 0, &p, NULL);
    uint32_t ch = channels_of(SITE "/app.js");
    if ((ch & LEARN_HINT) && hint_at == NEVER)
      hint_at = i;
    if ((ch & LEARN_PUSH) && push_at == NEVER)
      push_at = i;
    /* Once reached, a channel stays while every visit is a hit. */
    if (i >= hint_at)
      assert_true(ch & LEARN_HINT);
    if (i >= push_at)
      assert_true(ch & LEARN_PUSH);
  }
  print_message("all hits: hint from visit %d, push from visit %d\n",
                hint_at, push_at);
  assert_in_range(hint_at, 34, 36);
  assert_in_range(push_at, 72, 74);
  /* min_visits holds back what the bound alone would allow. Without
   * decay n counts visits exactly (with it, n after 20 visits is a hair
   * under 20, however long the half-life). */
  struct learn *m = learn_new(0, 1);
  p.hint_threshold = 0.5;
  for (int i = 1; i <= 25; i++) {
    begin(PAGE, NULL, 0, (unsigned)i % 4);
    req(SITE "/app.js", 10);
    learn_visit(m, &vis);
    get_rules(m, PAGE, 0, &p, NULL);
    assert_int_equal(channels_of(SITE "/app.js") != 0, i >= 20);
  }
  learn_free(m);
  learn_free(l);
}

/* feed_all_hits folds |visits| visits of |page| by 4 clients, each
 * requesting every key of |keys| with the given delays and sizes. As
 * attribution does, the visit lists them in the order they were made:
 * by delay, ties in the order given. */
static void feed_all_hits(struct learn *l, const char *page, int visits,
                          const char *const *keys, const uint32_t *delays,
                          const uint64_t *bytes, const uint8_t *depths,
                          size_t n) {
  for (int i = 0; i < visits; i++) {
    begin(page, NULL, 0, (unsigned)i % 4);
    uint32_t d = 0;
    for (size_t left = n; left > 0; d++) {
      for (size_t j = 0; j < n; j++) {
        if (delays[j] != d)
          continue;
        req_full(keys[j], delays[j], bytes ? bytes[j] : 1000,
                 depths ? depths[j] : 1, VISIT_REQ_PUSHABLE);
        left--;
      }
    }
    learn_visit(l, &vis);
  }
}

static void set_budget(struct learn_params *p, uint64_t bytes) {
  p->hint_budget = p->push_budget = bytes;
}

/* Rules are served in order; a resource that does not fit the byte
 * budget is skipped and the list goes on with the next that fits. */
static void test_budget_skips(void **state) {
  (void)state;
  struct learn *l = learn_new(1e9, 1);
  struct learn_params p = params();
  set_budget(&p, 100000);
  const char *keys[] = {SITE "/late.js", SITE "/d.js", SITE "/c.js",
                        SITE "/b.js", SITE "/a.css"};
  uint32_t delays[] = {500, 40, 30, 20, 10};
  uint64_t bytes[] = {1000, 40000, 40000, 40000, 40000};
  feed_all_hits(l, PAGE, 100, keys, delays, bytes, NULL, 5);
  assert_int_equal(get_rules(l, PAGE, 0, &p, NULL), 5);
  assert_int_equal(served(), 3);
  assert_string_equal(rules[0].key, SITE "/a.css");
  assert_string_equal(rules[1].key, SITE "/b.js");
  /* c.js and d.js would overflow the budget; late.js still fits. */
  assert_string_equal(rules[2].key, SITE "/late.js");
  const struct learn_rule *c = find(SITE "/c.js");
  assert_non_null(c);
  assert_int_equal(c->channels, 0);
  assert_true(c->wilson > 0.95);
  assert_int_equal(channels_of(SITE "/d.js"), 0);
  /* Budget -> what is served, the last of it: exactly filling the budget
   * is allowed, and a smaller later one fills what a larger leaves. */
  const struct {
    uint64_t budget;
    size_t served;
    const char *last;
  } cases[] = {{81000, 3, "/late.js"},
               {80999, 2, "/b.js"},
               {41000, 2, "/late.js"},
               {1000000, 5, "/late.js"}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char last[64];
    snprintf(last, sizeof(last), SITE "%s", cases[i].last);
    set_budget(&p, cases[i].budget);
    get_rules(l, PAGE, 0, &p, NULL);
    assert_int_equal(served(), cases[i].served);
    assert_string_equal(rules[cases[i].served - 1].key, last);
  }
  /* Push and hints have budgets and caps of their own: a push budget
   * that holds a.css and late.js, then a push cap of 1 and a hint cap of
   * 2 (b.js hinted, not pushed, in both). */
  const struct {
    uint64_t push_budget;
    int push_max, hint_max;
    size_t served;
    uint32_t late;
  } ch[] = {{41000, 16, 16, 5, LEARN_PUSH | LEARN_HINT},
            {1000000, 1, 2, 2, 0}};
  for (size_t i = 0; i < sizeof(ch) / sizeof(ch[0]); i++) {
    p.hint_budget = 1000000;
    p.push_budget = ch[i].push_budget;
    p.push_max = ch[i].push_max;
    p.hint_max = ch[i].hint_max;
    get_rules(l, PAGE, 0, &p, NULL);
    assert_int_equal(served(), ch[i].served);
    assert_int_equal(channels_of(SITE "/a.css"), LEARN_PUSH | LEARN_HINT);
    assert_int_equal(channels_of(SITE "/b.js"), LEARN_HINT);
    assert_int_equal(channels_of(SITE "/late.js"), ch[i].late);
  }
  learn_free(l);
}

/* Within a rank: the order the client made its requests in (the median
 * place among the requests of their rank), then the median delay, then
 * depth, then the key. Fonts a browser asks for in one write reach herald
 * in the same millisecond, in the order its layout needs them. */
static void test_order_ties(void **state) {
  (void)state;
  struct learn *l = learn_new(1e9, 1);
  struct learn_params p = params();
  /* All scripts (req_full's default), requested in this order. */
  const char *keys[] = {SITE "/first.js", SITE "/y.js", SITE "/x.js",
                        SITE "/z-deep.js"};
  uint32_t delays[] = {5, 50, 50, 50};
  uint8_t depths[] = {3, 2, 2, 1};
  feed_all_hits(l, PAGE, 100, keys, delays, NULL, depths, 4);
  get_rules(l, PAGE, 0, &p, NULL);
  assert_int_equal(served(), 4);
  for (int i = 0; i < 4; i++) {
    assert_string_equal(rules[i].key, keys[i]);
    assert_int_equal(rules[i].place, i);
  }
  assert_int_equal(rules[0].depth, 3);
  assert_int_equal(rules[0].median_delay_ms, 5);
  learn_free(l);

  /* Visits where herald named something say nothing of the page's own
   * order (what is left for the page to ask is not all it needs): the
   * places stay unknown, and the delay, depth, then the key decide. */
  l = learn_new(1e9, 1);
  static struct visit_named banner = {SITE "/banner.png", VISIT_NAMED_HINT};
  for (int i = 0; i < 100; i++) {
    begin(PAGE, NULL, 0, (unsigned)i % 4);
    for (size_t j = 0; j < 4; j++)
      req_full(keys[j], delays[j], 1000, depths[j], VISIT_REQ_PUSHABLE);
    vis.named = &banner;
    vis.nnamed = 1;
    learn_visit(l, &vis);
  }
  get_rules(l, PAGE, 0, &p, NULL);
  assert_int_equal(served(), 4);
  assert_string_equal(rules[0].key, SITE "/first.js");
  assert_string_equal(rules[1].key, SITE "/z-deep.js");
  assert_string_equal(rules[2].key, SITE "/x.js");
  assert_string_equal(rules[3].key, SITE "/y.js");
  assert_int_equal(rules[1].place, LEARN_PLACE_NONE);
  learn_free(l);
}

static void test_count_cap(void **state) {
  (void)state;
  struct learn *l = learn_new(1e9, 1);
  struct learn_params p = params();
  char names[20][64];
  const char *keys[20];
  uint32_t delays[20];
  for (int i = 0; i < 20; i++) {
    snprintf(names[i], sizeof(names[i]), SITE "/r%02d.js", i);
    keys[i] = names[i];
    delays[i] = (uint32_t)(100 - i);
  }
  feed_all_hits(l, PAGE, 100, keys, delays, NULL, NULL, 20);
  p.hint_max = p.push_max = 16;
  assert_int_equal(get_rules(l, PAGE, 0, &p, NULL), 20);
  assert_int_equal(served(), 16);
  /* The sixteen discovered first (r19 at 81 ms ... r04 at 96 ms). */
  assert_string_equal(rules[0].key, SITE "/r19.js");
  assert_string_equal(rules[15].key, SITE "/r04.js");
  for (int i = 0; i < 4; i++)
    assert_int_equal(channels_of(names[i]), 0);
  p.hint_max = p.push_max = 3;
  get_rules(l, PAGE, 0, &p, NULL);
  assert_int_equal(served(), 3);
  p.hint_max = p.push_max = 0;
  get_rules(l, PAGE, 0, &p, NULL);
  assert_int_equal(served(), 0);
  assert_int_equal(nrules, 20);
  /* |cap| bounds what is written. */
  p.hint_max = p.push_max = 16;
  assert_int_equal(learn_rules(l, PAGE, 0, &p, NULL, rules, 5), 5);
  assert_int_equal(rules[4].ord, 4);
  learn_free(l);
}

static void test_overrides(void **state) {
  (void)state;
  struct learn *l = learn_new(1e9, 1);
  struct learn_params p = params();
  const char *keys[] = {SITE "/a.css", SITE "/b.js", SITE "/c.js"};
  uint32_t delays[] = {10, 20, 30};
  feed_all_hits(l, PAGE, 100, keys, delays, NULL, NULL, 3);
  const char *pinned[] = {SITE "/never.js", SITE "/c.js", SITE "/both.js",
                          SITE "/never.js"};
  const char *blocked[] = {SITE "/b.js", SITE "/unseen.js",
                           SITE "/both.js"};
  struct learn_overrides ov = {pinned, 4, blocked, 3};
  get_rules(l, PAGE, 0, &p, &ov);
  /* Served: a.css and c.js in order, then the unseen pin (of unknown
   * type, so it ranks with the rest). */
  assert_int_equal(served(), 3);
  assert_string_equal(rules[0].key, SITE "/a.css");
  assert_int_equal(rules[0].state, LEARN_LEARNED);
  assert_string_equal(rules[1].key, SITE "/c.js");
  assert_int_equal(rules[1].state, LEARN_PINNED);
  assert_string_equal(rules[2].key, SITE "/never.js");
  assert_int_equal(rules[2].state, LEARN_PINNED);
  assert_int_equal(rules[2].channels, LEARN_PUSH | LEARN_HINT);
  assert_true(rules[2].k == 0 && rules[2].n == 0);
  /* Blocked ones are listed, first among those not served, and never
   * served; blocking beats pinning. */
  assert_int_equal(nrules, 6);
  for (size_t i = 3; i < 6; i++) {
    assert_int_equal(rules[i].state, LEARN_BLOCKED);
    assert_int_equal(rules[i].channels, 0);
  }
  assert_non_null(find(SITE "/b.js"));
  assert_non_null(find(SITE "/unseen.js"));
  assert_non_null(find(SITE "/both.js"));
  assert_true(find(SITE "/b.js")->wilson > 0.95);

  /* A pinned resource is kept whatever the budget; its bytes count. */
  const char *pin_c[] = {SITE "/c.js"};
  struct learn_overrides ov2 = {pin_c, 1, NULL, 0};
  set_budget(&p, 1500);
  get_rules(l, PAGE, 0, &p, &ov2);
  assert_int_equal(served(), 1);
  assert_string_equal(rules[0].key, SITE "/c.js");
  set_budget(&p, 2000);
  get_rules(l, PAGE, 0, &p, &ov2);
  assert_int_equal(served(), 2);
  assert_string_equal(rules[0].key, SITE "/a.css");
  assert_string_equal(rules[1].key, SITE "/c.js");
  set_budget(&p, 0);
  get_rules(l, PAGE, 0, &p, &ov2);
  assert_int_equal(served(), 1);
  learn_free(l);
}

/* A bundle renamed mid-stream (no client's cache involved: a day between
 * visits): the old name stops being served after the second miss in a
 * row (suspended: at p >= 0.9 two misses running happen 1 time in 100),
 * the new one starts about as fast as a resource of a new page. */
static void test_renamed_bundle(void **state) {
  (void)state;
  struct learn *l = learn_new(100, 1);
  struct learn_params p = params();
  const char *v1 = SITE "/app.v1.js", *v2 = SITE "/app.v2.js";
  for (int i = 0; i < 300; i++) {
    begin(PAGE, NULL, 0, (unsigned)i % 5);
    req(SITE "/style.css", 5);
    req(v1, 20);
    learn_visit(l, &vis);
  }
  get_rules(l, PAGE, 0, &p, NULL);
  assert_int_equal(channels_of(v1), LEARN_PUSH | LEARN_HINT);
  int v1_gone = NEVER, v2_hint = NEVER, v2_push = NEVER;
  for (int m = 1; m <= 300; m++) {
    begin(PAGE, NULL, 0, (unsigned)m % 5);
    req(SITE "/style.css", 5);
    req(v2, 20);
    learn_visit(l, &vis);
    get_rules(l, PAGE, 0, &p, NULL);
    if (!(channels_of(v1) & LEARN_HINT) && v1_gone == NEVER)
      v1_gone = m;
    if ((channels_of(v2) & LEARN_HINT) && v2_hint == NEVER)
      v2_hint = m;
    if ((channels_of(v2) & LEARN_PUSH) && v2_push == NEVER)
      v2_push = m;
    /* The stable resource is untouched by the rename. */
    assert_int_equal(channels_of(SITE "/style.css"),
                     LEARN_PUSH | LEARN_HINT);
  }
  print_message("renamed bundle (half-life 100): v1 no longer hinted %d "
                "visits after the rename, v2 hinted after %d, pushed "
                "after %d\n",
                v1_gone, v2_hint, v2_push);
  assert_int_equal(v1_gone, 2);
  assert_in_range(v2_hint, 30, 45);
  assert_true(v2_push > v2_hint && v2_push <= 150);
  /* And v1 never comes back. */
  assert_int_equal(channels_of(v1), 0);
  learn_free(l);
}

/* One client forging Referers, however often, makes no rule, and neither
 * does one rotating User-Agents: a client is a network, so sixty client
 * tokens (one address, sixty User-Agents) in one network are one. */
static void test_single_client(void **state) {
  (void)state;
  struct learn *l = learn_new(1000, 1);
  struct learn_params p = params();
  for (unsigned clients = 1; clients <= 3; clients++) {
    char page[64];
    snprintf(page, sizeof(page), SITE "/p%u", clients);
    for (unsigned i = 0; i < 300; i++) {
      begin(page, NULL, 0, 100 + i % 60);
      memset(vis.network, 0, sizeof(vis.network));
      vis.network[3] = (uint8_t)(i % clients);
      req(SITE "/evil.js", 10);
      learn_visit(l, &vis);
    }
    get_rules(l, page, 0, &p, NULL);
    const struct learn_rule *r = find(SITE "/evil.js");
    assert_non_null(r);
    assert_int_equal(r->clients, (int)clients);
    assert_true(r->wilson > 0.95);
    assert_int_equal(r->channels,
                     clients < 3 ? 0 : LEARN_PUSH | LEARN_HINT);
  }
  learn_free(l);
}

static void test_clients_saturate(void **state) {
  (void)state;
  struct learn *l = learn_new(1000, 1);
  struct learn_params p = params();
  for (unsigned i = 0; i < 500; i++) {
    begin(PAGE, NULL, 0, i % 100);
    req(SITE "/a.js", 10);
    /* b.js is requested by the same five clients over and over. */
    if (i % 100 < 5)
      req(SITE "/b.js", 10);
    learn_visit(l, &vis);
    if (i == 29) {
      get_rules(l, PAGE, 0, &p, NULL);
      assert_int_equal(find(SITE "/a.js")->clients, 30);
    }
  }
  get_rules(l, PAGE, 0, &p, NULL);
  assert_int_equal(find(SITE "/a.js")->clients, LEARN_MAX_CLIENTS);
  assert_int_equal(find(SITE "/b.js")->clients, 5);
  p.min_clients = LEARN_MAX_CLIENTS;
  get_rules(l, PAGE, 0, &p, NULL);
  assert_int_equal(channels_of(SITE "/a.js"), LEARN_PUSH | LEARN_HINT);
  learn_free(l);
}

static void test_classes_apart(void **state) {
  (void)state;
  struct learn *l = learn_new(1000, 1);
  struct learn_params p = params();
  for (unsigned i = 0; i < 100; i++) {
    begin(PAGE, NULL, 1, i % 4);
    req(SITE "/mobile.js", 10);
    learn_visit(l, &vis);
  }
  assert_int_equal(get_rules(l, PAGE, 0, &p, NULL), 0);
  assert_true(learn_page_visits(l, PAGE, 0) == 0);
  assert_true(learn_page_visits(l, PAGE, 1) > 90);
  get_rules(l, PAGE, 1, &p, NULL);
  assert_int_equal(channels_of(SITE "/mobile.js"), LEARN_PUSH | LEARN_HINT);
  for (unsigned i = 0; i < 100; i++) {
    begin(PAGE, NULL, 0, i % 4);
    req(SITE "/desktop.js", 10);
    learn_visit(l, &vis);
  }
  assert_int_equal(get_rules(l, PAGE, 0, &p, NULL), 1);
  assert_string_equal(rules[0].key, SITE "/desktop.js");
  assert_int_equal(get_rules(l, PAGE, 1, &p, NULL), 1);
  assert_string_equal(rules[0].key, SITE "/mobile.js");
  /* Any non-zero mobile is the mobile class. */
  assert_int_equal(get_rules(l, PAGE, 7, &p, NULL), 1);
  assert_string_equal(rules[0].key, SITE "/mobile.js");
  learn_free(l);
}

/* Pages of one template share what the template learned: a page with
 * two visits of its own is undecided, so the template decides for it, and
 * a page never seen is served its template's (or wider) key. */
static void test_template_fallback(void **state) {
  (void)state;
  /* No decay, so visit counts are exact. */
  struct learn *l = learn_new(0, 1);
  struct learn_params p = params();
  const char *tmpl = SITE "/product/:id";
  char page[64], key[PAGEKEY_MAX];
  for (unsigned i = 0; i < 100; i++) {
    snprintf(page, sizeof(page), SITE "/product/%u", i % 50);
    begin(page, tmpl, 0, i % 7);
    req(SITE "/product.css", 10);
    learn_visit(l, &vis);
  }
  get_rules(l, tmpl, 0, &p, NULL);
  assert_int_equal(channels_of(SITE "/product.css"),
                   LEARN_PUSH | LEARN_HINT);
  assert_int_equal(rules[0].level, LEARN_TEMPLATE);
  assert_true(learn_page_visits(l, tmpl, 0) == 100);
  const char *p7 = SITE "/product/7";
  assert_true(learn_page_visits(l, p7, 0) == 2);
  get_rules(l, p7, 0, &p, NULL);
  assert_int_equal(served(), 1);
  assert_int_equal(rules[0].level, LEARN_TEMPLATE);
  assert_int_equal(learn_level_of(l, p7, 0), LEARN_PAGE);
  assert_int_equal(learn_level_of(l, tmpl, 0), LEARN_TEMPLATE);
  assert_int_equal(learn_level_of(l, SITE "/product/**", 0), LEARN_SECTION);
  assert_int_equal(learn_level_of(l, SITE "/**", 0), LEARN_SITE);
  assert_int_equal(learn_level_of(l, SITE "/nope", 0), -1);
  /* The most specific key known serves a page. */
  assert_int_equal(learn_serving_key(l, p7, tmpl, 0, key, sizeof(key)), 0);
  assert_string_equal(key, p7);
  assert_int_equal(learn_serving_key(l, SITE "/product/999", tmpl, 0, key,
                                     sizeof(key)),
                   0);
  assert_string_equal(key, tmpl);
  assert_int_equal(learn_serving_key(l, SITE "/product/999", NULL, 0, key,
                                     sizeof(key)),
                   0);
  assert_string_equal(key, SITE "/product/**");
  assert_int_equal(learn_serving_key(l, SITE "/about", "", 0, key,
                                     sizeof(key)),
                   0);
  assert_string_equal(key, SITE "/**");
  assert_int_equal(learn_serving_key(l, "https://other.example/", NULL, 0,
                                     key, sizeof(key)),
                   -1);
  /* The other class has nothing. */
  assert_int_equal(learn_serving_key(l, p7, tmpl, 1, key, sizeof(key)), -1);
  /* A visit whose template is its own key counts once. */
  begin(SITE "/about", SITE "/about", 0, 1);
  req(SITE "/about.css", 1);
  learn_visit(l, &vis);
  assert_true(learn_page_visits(l, SITE "/about", 0) == 1);
  learn_free(l);
}

static void test_not_pushable(void **state) {
  (void)state;
  struct learn *l = learn_new(1000, 1);
  struct learn_params p = params();
  for (unsigned i = 0; i < 200; i++) {
    begin(PAGE, NULL, 0, i % 4);
    req_full(SITE "/private.js", 10, 1000, 1, 0);
    /* Pushable until the last visit: the latest answer counts. */
    req_full(SITE "/changed.js", 10, 1000, 1,
             i < 199 ? VISIT_REQ_PUSHABLE : VISIT_REQ_ALREADY_HAD);
    req(SITE "/ok.js", 10);
    learn_visit(l, &vis);
  }
  get_rules(l, PAGE, 0, &p, NULL);
  assert_int_equal(served(), 1);
  assert_string_equal(rules[0].key, SITE "/ok.js");
  const struct learn_rule *r = find(SITE "/private.js");
  assert_non_null(r);
  assert_int_equal(r->channels, 0);
  assert_false(r->pushable);
  assert_true(r->wilson > 0.95);
  assert_int_equal(channels_of(SITE "/changed.js"), 0);
  learn_free(l);
}

static void test_demotion(void **state) {
  (void)state;
  struct learn *l = learn_new(1000, 1);
  struct learn_params p = params();
  const char *a = SITE "/a.js";
  for (unsigned i = 0; i < 200; i++) {
    begin(PAGE, NULL, 0, i % 4);
    req(a, 10);
    learn_visit(l, &vis);
  }
  for (int i = 0; i < 3; i++)
    learn_outcome(l, PAGE, 0, a, 1);
  for (int i = 0; i < 6; i++)
    learn_outcome(l, PAGE, 0, a, 0);
  /* Nine outcomes are not yet enough to judge. */
  get_rules(l, PAGE, 0, &p, NULL);
  assert_int_equal(channels_of(a), LEARN_PUSH | LEARN_HINT);
  learn_outcome(l, PAGE, 0, a, 0);
  get_rules(l, PAGE, 0, &p, NULL);
  assert_int_equal(channels_of(a), LEARN_HINT);
  assert_int_equal(rules[0].pushes_used, 3);
  assert_int_equal(rules[0].pushes_unused, 7);
  /* Used again: half used is enough to push. */
  for (int i = 0; i < 4; i++)
    learn_outcome(l, PAGE, 0, a, 1);
  get_rules(l, PAGE, 0, &p, NULL);
  assert_int_equal(channels_of(a), LEARN_PUSH | LEARN_HINT);
  /* The outcome counts follow recent pushes. */
  for (int i = 0; i < 1000; i++)
    learn_outcome(l, PAGE, 0, a, 0);
  get_rules(l, PAGE, 0, &p, NULL);
  assert_int_equal(channels_of(a), LEARN_HINT);
  assert_true(rules[0].pushes_used + rules[0].pushes_unused < 256);
  assert_true(rules[0].pushes_used < 3);
  learn_free(l);
}

/* ---- dirty pages -------------------------------------------------------- */

#define MAXSEEN 32

struct seen {
  char key[MAXSEEN][64];
  int mobile[MAXSEEN];
  int level[MAXSEEN];
  int n;
  struct learn *fold_into; /* when set, the callback folds a visit */
};

static void on_page(void *ud, uint32_t id, const char *page_key, int mobile,
                    int level, int64_t parent) {
  (void)id, (void)parent;
  struct seen *s = ud;
  assert_true(s->n < MAXSEEN);
  snprintf(s->key[s->n], sizeof(s->key[s->n]), "%s", page_key);
  s->level[s->n] = level;
  s->mobile[s->n++] = mobile;
  if (s->fold_into != NULL) {
    begin(SITE "/from-callback", NULL, 0, 1);
    req(SITE "/x.js", 10);
    learn_visit(s->fold_into, &vis);
  }
}

static int seen_has(const struct seen *s, const char *key, int mobile) {
  int n = 0;
  for (int i = 0; i < s->n; i++)
    n += strcmp(s->key[i], key) == 0 && s->mobile[i] == mobile;
  return n;
}

static void test_dirty(void **state) {
  (void)state;
  struct learn *l = learn_new(100, 1);
  const char *a = SITE "/item/1", *ta = SITE "/item/:id";
  const char *b = SITE "/b";
  for (int i = 0; i < 3; i++) {
    begin(a, ta, 0, 1);
    req(SITE "/x.js", 10);
    learn_visit(l, &vis);
  }
  begin(b, NULL, 0, 1);
  req(SITE "/x.js", 10);
  learn_visit(l, &vis);
  begin(b, NULL, 1, 1);
  req(SITE "/x.js", 10);
  learn_visit(l, &vis);
  /* A visit that does not count touches nothing. */
  begin(SITE "/c", NULL, 0, 1);
  learn_visit(l, &vis);
  struct seen s = {0};
  learn_take_dirty(l, on_page, &s);
  /* Page, template, section and site of a; page b and the site in both
   * classes. */
  assert_int_equal(s.n, 7);
  assert_int_equal(seen_has(&s, a, 0), 1);
  assert_int_equal(seen_has(&s, ta, 0), 1);
  assert_int_equal(seen_has(&s, SITE "/item/**", 0), 1);
  assert_int_equal(seen_has(&s, SITE "/**", 0), 1);
  assert_int_equal(seen_has(&s, SITE "/**", 1), 1);
  assert_int_equal(seen_has(&s, b, 0), 1);
  assert_int_equal(seen_has(&s, b, 1), 1);
  assert_int_equal(seen_has(&s, SITE "/c", 0), 0);
  memset(&s, 0, sizeof(s));
  learn_take_dirty(l, on_page, &s);
  assert_int_equal(s.n, 0);
  /* A push outcome changes the rules of the page and its wider levels;
   * one for a resource never seen changes nothing. */
  learn_outcome(l, a, 0, SITE "/x.js", 0);
  learn_outcome(l, b, 0, SITE "/nope.js", 0);
  learn_take_dirty(l, on_page, &s);
  assert_int_equal(s.n, 4);
  assert_int_equal(seen_has(&s, a, 0), 1);
  /* A visit folded in from the callback is reported next time. */
  memset(&s, 0, sizeof(s));
  begin(b, NULL, 0, 2);
  req(SITE "/x.js", 10);
  learn_visit(l, &vis);
  s.fold_into = l;
  learn_take_dirty(l, on_page, &s);
  assert_int_equal(s.n, 2);
  memset(&s, 0, sizeof(s));
  learn_take_dirty(l, on_page, &s);
  assert_int_equal(s.n, 2);
  assert_int_equal(seen_has(&s, SITE "/from-callback", 0), 1);
  /* Every node, once, widest levels first. */
  memset(&s, 0, sizeof(s));
  learn_foreach_page(l, on_page, &s);
  assert_int_equal(s.n, 8);
  assert_int_equal(learn_nodes(l), 8);
  assert_int_equal(seen_has(&s, SITE "/from-callback", 0), 1);
  assert_int_equal(seen_has(&s, b, 1), 1);
  for (int i = 1; i < s.n; i++)
    assert_true(s.level[i] <= s.level[i - 1]);
  learn_free(l);
}

/* ---- counts ------------------------------------------------------------- */

/* A resource listed twice in a visit counts once, as its first listing. */
static void test_duplicate_in_visit(void **state) {
  (void)state;
  struct learn *l = learn_new(1e9, 1);
  struct learn_params p = params();
  for (unsigned i = 0; i < 10; i++) {
    begin(PAGE, SITE "/:tmpl", 0, i % 4);
    req_full(SITE "/a.js", 100, 1000, 2, VISIT_REQ_PUSHABLE);
    req_full(SITE "/a.js", 5, 1000, 1, VISIT_REQ_PUSHABLE);
    learn_visit(l, &vis);
  }
  get_rules(l, PAGE, 0, &p, NULL);
  assert_int_equal(nrules, 1);
  assert_true(fabs(rules[0].k - 10) < 1e-6);
  assert_true(fabs(rules[0].n - 10) < 1e-6);
  assert_int_equal(rules[0].median_delay_ms, 100);
  assert_int_equal(rules[0].depth, 2);
  get_rules(l, SITE "/:tmpl", 0, &p, NULL);
  assert_true(fabs(rules[0].k - 10) < 1e-6);
  learn_free(l);
}

/* The lazy counts equal the sums they stand for. */
static void test_decay_sums(void **state) {
  (void)state;
  const double h = 10, lambda = pow(2, -1 / h);
  struct learn *l = learn_new(h, 1);
  struct learn_params p = params();
  /* early.js on visits 1..10 (then gone), late.js from visit 5 on, a
   * gap of 100 visits (past the table of small powers) for rare.js. */
  for (int i = 1; i <= 120; i++) {
    begin(PAGE, NULL, 0, 1);
    req(SITE "/anchor.css", 1);
    if (i <= 10)
      req(SITE "/early.js", 1);
    if (i >= 5)
      req(SITE "/late.js", 1);
    if (i == 3 || i == 110)
      req(SITE "/rare.js", 1);
    learn_visit(l, &vis);
  }
  double k_early = 0, n_all = 0, n_late = 0, n_rare = 0, k_rare = 0;
  for (int i = 1; i <= 120; i++) {
    double w = pow(lambda, 120 - i);
    n_all += w;
    if (i <= 10)
      k_early += w;
    if (i >= 5)
      n_late += w;
    if (i >= 3)
      n_rare += w;
    if (i == 3 || i == 110)
      k_rare += w;
  }
  assert_true(fabs(learn_page_visits(l, PAGE, 0) - n_all) < 1e-9);
  get_rules(l, PAGE, 0, &p, NULL);
  const struct learn_rule *e = find(SITE "/early.js");
  assert_true(fabs(e->k - k_early) < 1e-9);
  assert_true(fabs(e->n - n_all) < 1e-9);
  const struct learn_rule *t = find(SITE "/late.js");
  assert_true(fabs(t->k - n_late) < 1e-9);
  assert_true(fabs(t->n - n_late) < 1e-9);
  assert_true(fabs(t->confidence - 1) < 1e-12);
  const struct learn_rule *r = find(SITE "/rare.js");
  assert_true(fabs(r->k - k_rare) < 1e-9);
  assert_true(fabs(r->n - n_rare) < 1e-9);
  /* n saturates near 1 / (1 - λ) = 1.44 h. */
  assert_true(n_all < 1 / (1 - lambda) && n_all > 0.99 / (1 - lambda));
  learn_free(l);
  /* No decay: plain counts. */
  l = learn_new(0, 1);
  for (int i = 0; i < 1000; i++) {
    begin(PAGE, NULL, 0, 1);
    req(SITE "/a.js", 1);
    learn_visit(l, &vis);
  }
  assert_true(learn_page_visits(l, PAGE, 0) == 1000);
  learn_free(l);
}

static void test_resource_stats(void **state) {
  (void)state;
  struct learn *l = learn_new(1000, 1);
  struct learn_params p = params();
  rng_seed(7);
  for (unsigned i = 0; i < 400; i++) {
    begin(PAGE, NULL, 0, i % 4);
    /* Mostly 180..220 ms, with a tenth of far outliers the median
     * ignores. */
    uint32_t d = 180 + (uint32_t)(rng_unit() * 40);
    if (rng_unit() < 0.1)
      d = 5000;
    struct visit_req *r = req_full(SITE "/a.js", d, 1000 + i,
                                   i == 100 ? 1 : 3, VISIT_REQ_PUSHABLE);
    r->dest = i < 399 ? OBS_DEST_SCRIPT : OBS_DEST_IMAGE;
    learn_visit(l, &vis);
  }
  get_rules(l, PAGE, 0, &p, NULL);
  const struct learn_rule *r = find(SITE "/a.js");
  print_message("median of 180..220 ms with 10%% at 5 s: %u ms\n",
                r->median_delay_ms);
  assert_in_range(r->median_delay_ms, 185, 235);
  assert_int_equal(r->depth, 1);
  assert_int_equal(r->bytes, 1399);
  assert_int_equal(r->dest, OBS_DEST_IMAGE);
  /* Sizes past 4 GB saturate rather than wrap. */
  begin(PAGE, NULL, 0, 1);
  req_full(SITE "/huge.bin", 1, (uint64_t)1 << 40, 1, VISIT_REQ_PUSHABLE);
  learn_visit(l, &vis);
  get_rules(l, PAGE, 0, &p, NULL);
  assert_true(find(SITE "/huge.bin")->bytes >= UINT32_MAX);
  learn_free(l);
}

/* Pages with many resources (templates gather those of many pages) are
 * indexed; every entry must stay reachable as the index grows. */
static void test_many_resources(void **state) {
  (void)state;
  struct learn *l = learn_new(1e9, 1);
  struct learn_params p = params();
  p.min_visits = 1;
  p.min_clients = 1;
  char key[64];
  /* What the learner holds before any page: its tables and the fixed
   * table of clients' recent fetches. */
  begin("https://other.example/", NULL, 0, 1);
  req("https://other.example/x.js", 1);
  learn_visit(l, &vis);
  size_t base = learn_memory(l);
  for (unsigned v = 0; v < 30; v++) {
    begin(PAGE, NULL, 0, 1);
    for (unsigned i = 0; i < 400; i++) {
      /* Each visit lists them in another order. */
      unsigned j = (i * 7 + v * 13) % 400;
      snprintf(key, sizeof(key), SITE "/img/%u.jpg", j);
      req(key, j);
    }
    learn_visit(l, &vis);
  }
  assert_int_equal(get_rules(l, PAGE, 0, &p, NULL), 400);
  for (size_t i = 0; i < nrules; i++) {
    assert_true(fabs(rules[i].k - 30) < 1e-6);
    assert_true(fabs(rules[i].n - 30) < 1e-6);
  }
  size_t mem = learn_memory(l) - base;
  print_message("400 resources on one page (and its site): %zu bytes\n",
                mem);
  assert_true(mem > 2 * 400 * 48 && mem < 2 * 400 * 400);
  learn_free(l);
}

static size_t rule_total;

static void count_rules(void *ud, uint32_t id, const char *key, int mobile,
                        int level, int64_t parent) {
  (void)id, (void)level, (void)parent;
  struct learn *l = ud;
  struct learn_params p = params();
  rule_total += get_rules(l, key, mobile, &p, NULL);
  assert_true(nrules < MAXRULES);
}

static void test_memory_grows(void **state) {
  (void)state;
  struct learn *l = learn_new(100, 1);
  size_t m0 = learn_memory(l);
  assert_true(m0 > 0);
  char page[64], tmpl[64], key[64];
  for (unsigned i = 0; i < 2000; i++) {
    unsigned pg = i % 500;
    snprintf(page, sizeof(page), SITE "/p/%u", pg);
    snprintf(tmpl, sizeof(tmpl), SITE "/t%u/:id", pg % 10);
    begin(page, tmpl, i % 3 == 0, i % 50);
    for (unsigned j = 0; j < 10; j++) {
      snprintf(key, sizeof(key), SITE "/r/%u-%u.js", pg, j);
      req(key, j);
    }
    learn_visit(l, &vis);
  }
  size_t m1 = learn_memory(l);
  rule_total = 0;
  learn_foreach_page(l, count_rules, l);
  /* Each (node, class, resource) is one entry, at each of a visit's
   * levels; the client memory is one fixed table. */
  print_message("%zu entries: %zu bytes, %.0f per entry\n", rule_total,
                m1 - m0, (double)(m1 - m0) / (double)rule_total);
  assert_true(rule_total > 30000);
  assert_true(m1 - m0 > rule_total * 48);
  assert_true(m1 - m0 < rule_total * 150 + 2 * 1024 * 1024);
  learn_free(l);
}

/* A pushed resource the client took instead of asking says nothing about
 * the page: herald's doing. A visit made only of such pushes does not
 * count at all, and a pushed resource the page never requested itself is
 * no rule. Pushing neither builds nor erodes a rule's confidence. */
static void test_delivered_is_no_evidence(void **state) {
  (void)state;
  struct learn *l = learn_new(1e9, 1);
  struct learn_params p = params();
  for (int i = 1; i <= 100; i++) {
    begin(PAGE, NULL, 0, (unsigned)i % 4);
    req(SITE "/style.css", 5);
    if (i <= 50)
      req(SITE "/app.js", 10);
    else
      req_full(SITE "/app.js", 0, 1000, 0,
               VISIT_REQ_PUSHABLE | VISIT_REQ_PUSHED | VISIT_REQ_DELIVERED);
    req_full(SITE "/ghost.js", 0, 1000, 0,
             VISIT_REQ_PUSHABLE | VISIT_REQ_PUSHED | VISIT_REQ_DELIVERED);
    learn_visit(l, &vis);
  }
  get_rules(l, PAGE, 0, &p, NULL);
  const struct learn_rule *r = find(SITE "/app.js");
  assert_non_null(r);
  assert_true(r->channels & LEARN_HINT);
  assert_true(fabs(r->k - 50) < 1e-6 && fabs(r->n - 50) < 1e-6);
  assert_int_equal(r->median_delay_ms, 10);
  assert_int_equal(r->depth, 1);
  assert_null(find(SITE "/ghost.js"));
  double before = learn_page_visits(l, PAGE, 0);
  begin(PAGE, NULL, 0, 1);
  req_full(SITE "/app.js", 0, 1000, 0,
           VISIT_REQ_PUSHABLE | VISIT_REQ_PUSHED | VISIT_REQ_DELIVERED);
  assert_int_equal(learn_visit(l, &vis), 0);
  assert_true(learn_page_visits(l, PAGE, 0) == before);
  learn_free(l);
}

/* Requests for paths that name another host, or that would break out of
 * a Link's <...>, count like any (a backend may answer them 200) but never
 * become rules, and neither does a pin of another origin. */
static void test_unsafe_paths_never_rules(void **state) {
  (void)state;
  struct learn *l = learn_new(1e9, 1);
  struct learn_params p = params();
  p.min_visits = 1;
  p.min_clients = 1;
  static const char *const hostile[] = {
      SITE "//evil.example/x.js",
      SITE "/a.js>;rel=preload,<//evil.example/b.js",
      SITE "/\\evil.example/c.js",
      SITE "/a/../d.js",
      "https://evil.example/e.js",
  };
  for (unsigned v = 0; v < 40; v++) {
    begin(PAGE, NULL, 0, v);
    req(SITE "/ok.js", 1);
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
      req(hostile[i], 2 + (uint32_t)i);
    learn_visit(l, &vis);
  }
  const char *pinned[] = {"https://evil.example/pinned.js",
                          SITE "//evil.example/pinned.js"};
  struct learn_overrides ov = {pinned, 2, NULL, 0};
  get_rules(l, PAGE, 0, &p, &ov);
  assert_int_equal(served(), 1);
  assert_string_equal(rules[0].key, SITE "/ok.js");
  for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
    assert_non_null(find(hostile[i])); /* listed, as a near miss */
    assert_int_equal(channels_of(hostile[i]), 0);
  }
  assert_int_equal(channels_of(pinned[0]), 0);
  assert_int_equal(channels_of(pinned[1]), 0);
  learn_free(l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_delivered_is_no_evidence),
      cmocka_unit_test(test_unknown_and_empty),
      cmocka_unit_test(test_probabilities),
      cmocka_unit_test(test_thresholds_all_hits),
      cmocka_unit_test(test_budget_skips),
      cmocka_unit_test(test_order_ties),
      cmocka_unit_test(test_count_cap),
      cmocka_unit_test(test_overrides),
      cmocka_unit_test(test_renamed_bundle),
      cmocka_unit_test(test_single_client),
      cmocka_unit_test(test_clients_saturate),
      cmocka_unit_test(test_classes_apart),
      cmocka_unit_test(test_template_fallback),
      cmocka_unit_test(test_not_pushable),
      cmocka_unit_test(test_demotion),
      cmocka_unit_test(test_dirty),
      cmocka_unit_test(test_duplicate_in_visit),
      cmocka_unit_test(test_decay_sums),
      cmocka_unit_test(test_resource_stats),
      cmocka_unit_test(test_many_resources),
      cmocka_unit_test(test_memory_grows),
      cmocka_unit_test(test_unsafe_paths_never_rules),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
