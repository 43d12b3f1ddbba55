/* test_learn_evidence.c: what counts as evidence (learner/learn.h,
 * EVIDENCE and WHAT MAKES A HINTED RESOURCE LEAVE), the levels, and the
 * order of what goes out. The end-to-end cases run a small simulation of
 * herald's loop around learn.c: each visit is served the rules of its
 * page's nearest key, herald names them (less its holdout and
 * verification draws), and a browser with a cold cache fetches what it
 * was named at once and what its page references, once each, so a hinted
 * resource looks the same whether the page still wants it or not. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "learner/learn.h"
#include "tests/unit/learn_fixture.h"

#define SITE "https://docs.example"
#define PAGE SITE "/"

/* ---- visits ------------------------------------------------------------- */

static struct visit_named named[MAXREQ];

/* visit starts a visit (a day after the last, see learn_fixture.h) whose
 * named set is ready to fill. */
static void visit_at(const char *page, const char *tmpl, unsigned client,
                     uint64_t gap_ms) {
  begin_at(page, tmpl, 0, client, gap_ms);
  vis.named = named;
}

static void visit(const char *page, const char *tmpl, unsigned client) {
  visit_at(page, tmpl, client, DAY_MS);
}

/* get adds a genuine request of |dest| with the browser's |urgency|. */
static struct visit_req *get(const char *key, uint8_t dest, uint32_t delay,
                             uint8_t urgency) {
  struct visit_req *r = req_full(key, delay, 1000, 1, VISIT_REQ_PUSHABLE);
  r->dest = dest;
  r->urgency = urgency;
  return r;
}

static void name(const char *key, uint8_t channel) {
  assert_true(vis.nnamed < MAXREQ);
  snprintf(named[vis.nnamed].key, PAGEKEY_MAX, "%s", key);
  named[vis.nnamed++].channel = channel;
}

/* ---- the simulation ----------------------------------------------------- */

/* A page's references, as its HTML and stylesheets name them. */
struct ref {
  const char *key;
  uint8_t dest;
  uint32_t delay;
};

struct sim {
  struct learn *l;
  struct learn_params p;
  double holdout, verify; /* herald's draws */
  int deliver;            /* 0: herald names nothing (mode off) */
  unsigned visits;
};

/* sim_visit makes one cold-cache visit of |page| whose references are
 * |refs|: herald names what the nearest key serves (hint channel), less
 * its draws; the browser fetches every named resource at once and every
 * reference it was not named, once each. */
static void sim_visit(struct sim *s, const char *page, const char *tmpl,
                      const struct ref *refs, size_t nrefs) {
  char key[PAGEKEY_MAX];
  visit(page, tmpl, s->visits++ % 16);
  if (s->deliver &&
      learn_serving_key(s->l, page, tmpl, 0, key, sizeof(key)) == 0 &&
      rng_unit() >= s->holdout && rng_unit() >= s->verify) {
    /* (herald draws verify once per navigation: proxy/hints.h) */
    size_t n = learn_rules(s->l, key, 0, &s->p, NULL, rules, MAXRULES);
    for (size_t i = 0; i < n; i++) {
      if (!(rules[i].channels & LEARN_HINT))
        continue;
      name(rules[i].key, VISIT_NAMED_HINT);
      get(rules[i].key, rules[i].dest, 1, VISIT_URGENCY_NONE);
    }
  }
  for (size_t i = 0; i < nrefs; i++) {
    int have = 0;
    for (size_t j = 0; j < vis.nreqs && !have; j++)
      have = strcmp(reqs[j].key, refs[i].key) == 0;
    if (!have)
      get(refs[i].key, refs[i].dest, refs[i].delay, VISIT_URGENCY_NONE);
  }
  learn_visit(s->l, &vis);
}

/* served_now: the hint channel of |res| in the list that serves |page|. */
static int served_now(struct sim *s, const char *page, const char *tmpl,
                      const char *res) {
  char key[PAGEKEY_MAX];
  if (learn_serving_key(s->l, page, tmpl, 0, key, sizeof(key)) != 0)
    return 0;
  get_rules(s->l, key, 0, &s->p, NULL);
  return (channels_of(res) & LEARN_HINT) != 0;
}

static struct sim sim_new(double holdout, double verify, uint64_t seed) {
  struct sim s = {learn_new(100, 1), params(), holdout, verify, 1, 0};
  rng_seed(seed);
  return s;
}

/* ---- cases -------------------------------------------------------------- */

#define CSS1 SITE "/_static/theme.css?v=1"
#define CSS2 SITE "/_static/theme.css?v=2"
#define JS SITE "/_static/app.js"
#define FONT SITE "/_static/fonts/fa.woff2?v=4.7.0"
#define IMG SITE "/_static/logo.png"

/* The measurement: a stylesheet that switches from ?v=1 to ?v=2
 * is hinted under the new URL, and no longer under the old, within 50
 * visits, while herald hints it on every visit it does not hold out or
 * verify (5% each, the defaults). The old URL goes at the first hinted
 * visit whose page asks for the new one (superseded); the new one needs
 * the same samples as any new resource. */
static void test_version_switch(void **state) {
  (void)state;
  const struct ref v1[] = {{CSS1, OBS_DEST_STYLE, 20},
                           {JS, OBS_DEST_SCRIPT, 25},
                           {FONT, OBS_DEST_FONT, 120},
                           {IMG, OBS_DEST_IMAGE, 30}};
  struct ref v2[4];
  memcpy(v2, v1, sizeof(v2));
  v2[0].key = CSS2;
  int worst_gone = 0, worst_in = 0, sum_in = 0;
  const int seeds = 50;
  for (int seed = 1; seed <= seeds; seed++) {
    struct sim s = sim_new(0.05, 0.05, (uint64_t)seed);
    for (int i = 0; i < 150; i++)
      sim_visit(&s, PAGE, NULL, v1, 4);
    assert_true(served_now(&s, PAGE, NULL, CSS1));
    int gone = NEVER, in = NEVER;
    for (int m = 1; m <= 100 && (gone == NEVER || in == NEVER); m++) {
      sim_visit(&s, PAGE, NULL, v2, 4);
      if (gone == NEVER && !served_now(&s, PAGE, NULL, CSS1))
        gone = m;
      if (in == NEVER && served_now(&s, PAGE, NULL, CSS2))
        in = m;
    }
    /* Once gone, gone; once in, in. */
    for (int m = 0; m < 30; m++) {
      sim_visit(&s, PAGE, NULL, v2, 4);
      assert_false(served_now(&s, PAGE, NULL, CSS1));
      assert_true(served_now(&s, PAGE, NULL, CSS2));
    }
    worst_gone = gone > worst_gone ? gone : worst_gone;
    worst_in = in > worst_in ? in : worst_in;
    sum_in += in;
    learn_free(s.l);
  }
  print_message("theme.css ?v=1 -> ?v=2, hinted, holdout 5%%, verify 5%%, "
                "%d seeds: ?v=1 no longer hinted after at most %d visit(s); "
                "?v=2 hinted after %.1f visits on average, at most %d\n",
                seeds, worst_gone, (double)sum_in / seeds, worst_in);
  assert_int_equal(worst_gone, 1);
  assert_true(worst_in <= 50);
}

/* A hinted resource the page stops asking for, with no successor, can
 * only be seen gone on visits where herald did not name it. With the
 * default holdout and verification (5% each), two misses in a row
 * suspend it; the numbers printed are the distribution over seeds. The
 * same resource unhinted (delivery off) leaves at its second miss. */
static void test_removed_resource(void **state) {
  (void)state;
  const struct ref before[] = {{CSS1, OBS_DEST_STYLE, 20},
                               {JS, OBS_DEST_SCRIPT, 25},
                               {IMG, OBS_DEST_IMAGE, 30}};
  const struct ref after[] = {{CSS1, OBS_DEST_STYLE, 20},
                              {IMG, OBS_DEST_IMAGE, 30}};
  enum { SEEDS = 200 };
  int took[SEEDS], within50 = 0;
  for (int seed = 0; seed < SEEDS; seed++) {
    struct sim s = sim_new(0.05, 0.05, (uint64_t)seed + 1000);
    for (int i = 0; i < 150; i++)
      sim_visit(&s, PAGE, NULL, before, 3);
    assert_true(served_now(&s, PAGE, NULL, JS));
    took[seed] = NEVER;
    for (int m = 1; m <= 1000 && took[seed] == NEVER; m++) {
      sim_visit(&s, PAGE, NULL, after, 2);
      if (!served_now(&s, PAGE, NULL, JS))
        took[seed] = m;
    }
    within50 += took[seed] <= 50;
    /* The stylesheet it shared the page with stays. */
    assert_true(served_now(&s, PAGE, NULL, CSS1));
    learn_free(s.l);
  }
  /* A sort for the percentiles. */
  for (int i = 1; i < SEEDS; i++)
    for (int j = i; j > 0 && took[j - 1] > took[j]; j--) {
      int t = took[j];
      took[j] = took[j - 1];
      took[j - 1] = t;
    }
  struct sim off = sim_new(0, 0, 1);
  off.deliver = 0;
  for (int i = 0; i < 150; i++)
    sim_visit(&off, PAGE, NULL, before, 3);
  int off_took = NEVER;
  for (int m = 1; m <= 100 && off_took == NEVER; m++) {
    sim_visit(&off, PAGE, NULL, after, 2);
    get_rules(off.l, PAGE, 0, &off.p, NULL);
    if (!(channels_of(JS) & LEARN_HINT))
      off_took = m;
  }
  learn_free(off.l);
  print_message("a hinted script removed from its page, holdout 5%%, verify "
                "5%%, %d seeds: no longer hinted after a median of %d "
                "visits, 90th percentile %d, worst %d; within 50 visits in "
                "%d%% of runs; unhinted, after %d\n",
                SEEDS, took[SEEDS / 2], took[SEEDS * 9 / 10],
                took[SEEDS - 1], within50 * 100 / SEEDS, off_took);
  assert_int_equal(off_took, 2);
  /* Two samples at 9.75% per visit: 96% of runs within 50 visits in
   * expectation. */
  assert_true(within50 * 100 >= 90 * SEEDS);
}

/* Without any visit where herald does not name it, a hinted resource
 * keeps its evidence frozen: the counts neither grow from the preloads
 * herald causes nor fade, so working rules do not wear out. */
static void test_named_is_censored(void **state) {
  (void)state;
  struct learn *l = learn_new(100, 1);
  struct learn_params p = params();
  for (int i = 0; i < 60; i++) {
    visit(PAGE, NULL, (unsigned)i % 5);
    get(CSS1, OBS_DEST_STYLE, 10, VISIT_URGENCY_NONE);
    get(JS, OBS_DEST_SCRIPT, 20, VISIT_URGENCY_NONE);
    learn_visit(l, &vis);
  }
  get_rules(l, PAGE, 0, &p, NULL);
  double k0 = find(JS)->k, n0 = find(JS)->n;
  /* 100 visits where herald named app.js: requested (the preload) or
   * not (the browser had it), it is no sample; the stylesheet is. */
  for (int i = 0; i < 100; i++) {
    visit(PAGE, NULL, (unsigned)i % 5);
    get(CSS1, OBS_DEST_STYLE, 10, VISIT_URGENCY_NONE);
    name(JS, i % 2 ? VISIT_NAMED_HINT : VISIT_NAMED_PUSH);
    if (i % 3)
      get(JS, OBS_DEST_SCRIPT, 1, VISIT_URGENCY_NONE);
    learn_visit(l, &vis);
  }
  get_rules(l, PAGE, 0, &p, NULL);
  assert_true(fabs(find(JS)->k - k0) < 1e-9 && fabs(find(JS)->n - n0) < 1e-9);
  assert_true(find(CSS1)->n > n0 + 10);
  assert_true(channels_of(JS) & LEARN_HINT);
  /* Its delay is not the preload's. */
  assert_int_equal(find(JS)->median_delay_ms, 20);
  /* A resource only ever named, never genuinely requested, is no rule. */
  for (int i = 0; i < 100; i++) {
    visit(PAGE, NULL, (unsigned)i % 5);
    get(CSS1, OBS_DEST_STYLE, 10, VISIT_URGENCY_NONE);
    name(SITE "/only-named.js", VISIT_NAMED_HINT);
    get(SITE "/only-named.js", OBS_DEST_SCRIPT, 1, VISIT_URGENCY_NONE);
    learn_visit(l, &vis);
  }
  get_rules(l, PAGE, 0, &p, NULL);
  assert_null(find(SITE "/only-named.js"));
  learn_free(l);
}

/* Only page loads count: a visit whose browser fetched no stylesheet,
 * script, font or image in full (curl, nghttp, crawlers, monitors, a
 * browser whose cache held it all) changes nothing, even 30% of them. */
static void test_html_only_visits(void **state) {
  (void)state;
  struct learn *l = learn_new(100, 1);
  struct learn_params p = params();
  rng_seed(5);
  int html_only = 0;
  for (int i = 0; i < 200; i++) {
    visit(PAGE, NULL, (unsigned)i % 7);
    if (rng_unit() < 0.3) {
      html_only++;
      switch (i % 4) {
      case 0: /* nothing but the page */
        break;
      case 1: /* revalidations only: a warm cache */
        get(CSS1, OBS_DEST_STYLE, 10, VISIT_URGENCY_NONE)->status = 304;
        break;
      case 2: /* a beacon or an XHR */
        get(SITE "/api/stats", OBS_DEST_FETCH, 200, VISIT_URGENCY_NONE);
        break;
      default: /* only what herald pushed */
        get(JS, OBS_DEST_SCRIPT, 0, VISIT_URGENCY_NONE)->flags |=
            VISIT_REQ_DELIVERED;
        break;
      }
      assert_int_equal(learn_visit(l, &vis), 0);
      continue;
    }
    get(CSS1, OBS_DEST_STYLE, 10, VISIT_URGENCY_NONE);
    get(JS, OBS_DEST_SCRIPT, 20, VISIT_URGENCY_NONE);
    assert_int_equal(learn_visit(l, &vis), 1);
  }
  get_rules(l, PAGE, 0, &p, NULL);
  print_message("%d of 200 visits HTML-only: stylesheet confidence %.3f\n",
                html_only, find(CSS1)->confidence);
  assert_true(html_only > 40);
  assert_true(find(CSS1)->confidence == 1);
  assert_true(fabs(learn_page_visits(l, PAGE, 0) - find(CSS1)->n) < 1e-9);
  assert_int_equal(channels_of(CSS1), LEARN_PUSH | LEARN_HINT);
  assert_null(find(SITE "/api/stats"));
  learn_free(l);
}

/* What a client fetched earlier the same day is in its cache: its next
 * page not fetching it is no miss. Another client, or the same one a day
 * later, is a miss. */
static void test_client_cache(void **state) {
  (void)state;
  struct learn *l = learn_new(0, 1);
  struct learn_params p = params();
  const uint64_t minute = 60000, day = 25ull * 3600 * 1000;
  /* Client 1 browses: /a fetches the stylesheet, /b then finds it in its
   * cache. */
  visit_at(SITE "/a", NULL, 1, day);
  get(CSS1, OBS_DEST_STYLE, 10, VISIT_URGENCY_NONE);
  get(SITE "/a.png", OBS_DEST_IMAGE, 20, VISIT_URGENCY_NONE);
  learn_visit(l, &vis);
  visit_at(SITE "/b", NULL, 1, minute);
  get(SITE "/b.png", OBS_DEST_IMAGE, 20, VISIT_URGENCY_NONE);
  learn_visit(l, &vis);
  get_rules(l, SITE "/**", 0, &p, NULL);
  assert_true(find(CSS1)->n == 1 && find(CSS1)->k == 1);
  /* Client 2 on /b without it: a miss at the site. */
  visit_at(SITE "/b", NULL, 2, minute);
  get(SITE "/b.png", OBS_DEST_IMAGE, 20, VISIT_URGENCY_NONE);
  learn_visit(l, &vis);
  get_rules(l, SITE "/**", 0, &p, NULL);
  assert_true(find(CSS1)->n == 2 && find(CSS1)->k == 1);
  /* Client 1 a day later: its memory is gone. */
  visit_at(SITE "/b", NULL, 1, day);
  get(SITE "/b.png", OBS_DEST_IMAGE, 20, VISIT_URGENCY_NONE);
  learn_visit(l, &vis);
  get_rules(l, SITE "/**", 0, &p, NULL);
  assert_true(find(CSS1)->n == 3 && find(CSS1)->k == 1);
  learn_free(l);
}

/* Two misses in a row suspend a resource at the page level (p >= 0.9
 * makes that a 1-in-100 event); its next hit restores it. */
static void test_suspension(void **state) {
  (void)state;
  struct learn *l = learn_new(100, 1);
  struct learn_params p = params();
  for (int i = 0; i < 100; i++) {
    visit(PAGE, NULL, (unsigned)i % 5);
    get(CSS1, OBS_DEST_STYLE, 10, VISIT_URGENCY_NONE);
    get(JS, OBS_DEST_SCRIPT, 20, VISIT_URGENCY_NONE);
    learn_visit(l, &vis);
  }
  for (int miss = 1; miss <= 2; miss++) {
    visit(PAGE, NULL, 1);
    get(CSS1, OBS_DEST_STYLE, 10, VISIT_URGENCY_NONE);
    learn_visit(l, &vis);
    get_rules(l, PAGE, 0, &p, NULL);
    assert_int_equal(find(JS)->suspended, miss == 2);
    assert_int_equal(channels_of(JS) != 0, miss == 1);
  }
  /* The site level has the same samples but mixes pages: no suspension
   * there, its bound decides. */
  get_rules(l, SITE "/**", 0, &p, NULL);
  assert_int_equal(find(JS)->suspended, 0);
  assert_true(channels_of(JS) & LEARN_HINT);
  visit(PAGE, NULL, 2);
  get(CSS1, OBS_DEST_STYLE, 10, VISIT_URGENCY_NONE);
  get(JS, OBS_DEST_SCRIPT, 20, VISIT_URGENCY_NONE);
  learn_visit(l, &vis);
  get_rules(l, PAGE, 0, &p, NULL);
  assert_true(channels_of(JS) & LEARN_HINT);
  /* A lower threshold needs a longer run: (1 - 0.6)^m < 0.02 at m = 5. */
  p.hint_threshold = 0.6;
  p.push_threshold = 0.65;
  for (int miss = 1; miss <= 5; miss++) {
    visit(PAGE, NULL, 1);
    get(CSS1, OBS_DEST_STYLE, 10, VISIT_URGENCY_NONE);
    learn_visit(l, &vis);
    get_rules(l, PAGE, 0, &p, NULL);
    assert_int_equal((channels_of(JS) & LEARN_HINT) != 0, miss < 5);
  }
  learn_free(l);
}

/* The long tail: thirty pages of a documentation section, a few visits
 * each, teach the section (and the site) what every page loads; a page
 * never seen gets it, with no page-specific image, and a page whose own
 * visits show it does not use a section-wide script stops getting it. */
static void test_levels(void **state) {
  (void)state;
  struct sim s = sim_new(0.05, 0.05, 9);
  char page[64], img[64];
  for (int round = 0; round < 30; round++) {
    for (int i = 0; i < 30; i++) {
      snprintf(page, sizeof(page), SITE "/docs/p%d.html", i);
      snprintf(img, sizeof(img), SITE "/docs/img/p%d.png", i);
      const struct ref refs[] = {{CSS1, OBS_DEST_STYLE, 20},
                                 {JS, OBS_DEST_SCRIPT, 25},
                                 {img, OBS_DEST_IMAGE, 40}};
      sim_visit(&s, page, NULL, refs, 3);
    }
  }
  char key[PAGEKEY_MAX];
  const char *fresh = SITE "/docs/never-seen.html";
  assert_int_equal(learn_serving_key(s.l, fresh, NULL, 0, key, sizeof(key)),
                   0);
  assert_string_equal(key, SITE "/docs/**");
  get_rules(s.l, key, 0, &s.p, NULL);
  assert_true(channels_of(CSS1) & LEARN_HINT);
  assert_true(channels_of(JS) & LEARN_HINT);
  assert_int_equal(find(CSS1)->level, LEARN_SECTION);
  assert_int_equal(channels_of(SITE "/docs/img/p3.png"), 0);
  /* A known page with thirty visits of its own, most of them censored,
   * is served from the section: its own evidence is too thin to decide. */
  get_rules(s.l, SITE "/docs/p3.html", 0, &s.p, NULL);
  assert_true(channels_of(CSS1) & LEARN_HINT);
  assert_int_equal(find(CSS1)->level, LEARN_SECTION);
  /* Outside the section, the site knows the same. */
  assert_int_equal(learn_serving_key(s.l, SITE "/index.html", NULL, 0, key,
                                     sizeof(key)),
                   0);
  assert_string_equal(key, SITE "/**");
  get_rules(s.l, key, 0, &s.p, NULL);
  assert_true(channels_of(CSS1) & LEARN_HINT);
  assert_int_equal(find(CSS1)->level, LEARN_SITE);
  /* /docs/plain.html loads the stylesheet but not the script: at first
   * herald names the script anyway (the section says so); the page's
   * own samples (verification, holdout) then say no for it alone. (Its
   * misses are the section's too: the section, whose samples are only
   * the visits where the script was not named, needs enough of them to
   * stay above the threshold; a real section gets them from its many
   * pages.) */
  const char *plain = SITE "/docs/plain.html";
  const struct ref plain_refs[] = {{CSS1, OBS_DEST_STYLE, 20}};
  int first = served_now(&s, plain, NULL, JS), gone = NEVER;
  for (int m = 1; m <= 200 && gone == NEVER; m++) {
    sim_visit(&s, plain, NULL, plain_refs, 1);
    if (!served_now(&s, plain, NULL, JS))
      gone = m;
  }
  print_message("a page that does not load its section's script stops "
                "getting it after %d visits\n", gone);
  assert_true(first);
  assert_true(gone <= 60);
  get_rules(s.l, plain, 0, &s.p, NULL);
  assert_non_null(find(JS));
  assert_int_equal(find(JS)->level, LEARN_PAGE);
  /* The section still serves everyone else. */
  get_rules(s.l, SITE "/docs/**", 0, &s.p, NULL);
  assert_true(channels_of(JS) & LEARN_HINT);
  learn_free(s.l);
}

/* Critical first: render-blocking stylesheets, synchronous scripts,
 * fonts, then the rest, each in the order the browser asks for them, from
 * Sec-Fetch-Dest and the priority Chromium sends (u=0 a blocking
 * stylesheet, u=4 a print one; u=1 or 2 a parser-blocking script, none
 * (u=3) an async one). The visit lists requests in the order they were
 * made, as attribution does. */
static void test_rank_order(void **state) {
  (void)state;
  struct learn *l = learn_new(1e9, 1);
  struct learn_params p = params();
  p.min_visits = 5;
  p.min_clients = 1;
  p.hint_threshold = p.push_threshold = 0.5;
  for (int i = 0; i < 20; i++) {
    visit(PAGE, NULL, 1);
    get(SITE "/logo.png", OBS_DEST_IMAGE, 1, 2);
    get(SITE "/async.js", OBS_DEST_SCRIPT, 2, VISIT_URGENCY_NONE);
    get(SITE "/jquery.js", OBS_DEST_SCRIPT, 3, 1);
    get(SITE "/print.css", OBS_DEST_STYLE, 4, 4);
    get(SITE "/basic.css", OBS_DEST_STYLE, 8, 0);
    get(SITE "/theme.css", OBS_DEST_STYLE, 9, 0);
    get(SITE "/body.js", OBS_DEST_SCRIPT, 30, 2);
    get(SITE "/fa.woff2", OBS_DEST_FONT, 100, 0);
    learn_visit(l, &vis);
  }
  get_rules(l, PAGE, 0, &p, NULL);
  const char *want[] = {"/basic.css", "/theme.css", "/jquery.js", "/body.js",
                        "/fa.woff2",  "/logo.png",  "/async.js",  "/print.css"};
  const uint8_t ranks[] = {LEARN_RANK_STYLE,  LEARN_RANK_STYLE,
                           LEARN_RANK_SCRIPT, LEARN_RANK_SCRIPT,
                           LEARN_RANK_FONT,   LEARN_RANK_OTHER,
                           LEARN_RANK_OTHER,  LEARN_RANK_OTHER};
  assert_int_equal(nrules, 8);
  for (int i = 0; i < 8; i++) {
    char k[64];
    snprintf(k, sizeof(k), SITE "%s", want[i]);
    assert_string_equal(rules[i].key, k);
    assert_int_equal(rules[i].rank, ranks[i]);
  }
  assert_int_equal(find(SITE "/async.js")->urgency, 3);
  /* Without any priority field (HTTP/1.1, other browsers) the
   * destination alone ranks. */
  assert_int_equal(learn_rank_of(OBS_DEST_SCRIPT, VISIT_URGENCY_NONE),
                   LEARN_RANK_SCRIPT);
  assert_int_equal(learn_rank_of(OBS_DEST_STYLE, VISIT_URGENCY_NONE),
                   LEARN_RANK_STYLE);
  assert_int_equal(learn_rank_of(OBS_DEST_FETCH, 0), LEARN_RANK_OTHER);
  learn_free(l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_version_switch),
      cmocka_unit_test(test_removed_resource),
      cmocka_unit_test(test_named_is_censored),
      cmocka_unit_test(test_html_only_visits),
      cmocka_unit_test(test_client_cache),
      cmocka_unit_test(test_suspension),
      cmocka_unit_test(test_levels),
      cmocka_unit_test(test_rank_order),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
