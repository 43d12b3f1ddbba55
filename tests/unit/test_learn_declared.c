/* test_learn_declared.c: what a backend declares is a prior, requests
 * are the evidence (learner/learn.h, DECLARED RESOURCES). A small
 * simulation of herald's loop around learn.c, as in
 * test_learn_evidence.c, with a backend that declares resources in a Link
 * field of its page and in its own 103: herald sends its own 103 when it
 * has rules (the backend's is then dropped), else passes the backend's on
 * (each link subject to the verification draw, proxy/hints.h); the
 * browser fetches everything a 103 named at once and what its page
 * references, and does not act on the final response's Link fields. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learner/learn.h"
#include "tests/unit/learn_fixture.h"

#define SITE "https://docs.example"
#define PAGE SITE "/guide/"
#define CSS SITE "/_static/theme.css"
#define JS SITE "/_static/app.js"
#define NEVER_JS SITE "/_static/unused.js"

static struct visit_named named[MAXREQ];
static struct visit_declared decl[OBS_DECLARED_MAX];

struct res {
  const char *key;
  uint8_t dest;
};

struct sim {
  struct learn *l;
  struct learn_params p;
  double verify;
  unsigned clients; /* distinct client networks, taken in turn */
  unsigned visits;
  const struct res *refs, *early, *link; /* page, backend 103, Link */
  size_t nrefs, nearly, nlink;
};

static void name(const char *key) {
  snprintf(named[vis.nnamed].key, PAGEKEY_MAX, "%.*s", PAGEKEY_MAX - 1, key);
  named[vis.nnamed++].channel = VISIT_NAMED_HINT;
}

static void declare(const struct res *r, uint8_t flags) {
  for (size_t i = 0; i < vis.ndeclared; i++) {
    if (strcmp(decl[i].key, r->key) == 0) {
      decl[i].flags |= flags;
      return;
    }
  }
  snprintf(decl[vis.ndeclared].key, PAGEKEY_MAX, "%s", r->key);
  decl[vis.ndeclared].dest = r->dest;
  decl[vis.ndeclared++].flags = flags;
}

static int fetched(const char *key) {
  for (size_t j = 0; j < vis.nreqs; j++)
    if (strcmp(reqs[j].key, key) == 0)
      return 1;
  return 0;
}

static void fetch(const char *key, uint8_t dest) {
  if (!fetched(key))
    req_full(key, 5, 1000, 1, VISIT_REQ_PUSHABLE)->dest = dest;
}

static void sim_visit(struct sim *s) {
  char key[PAGEKEY_MAX];
  begin(PAGE, NULL, 0, s->visits++ % s->clients);
  vis.named = named;
  vis.declared = decl;
  int own = 0, verifying = 0;
  /* herald draws verify once per navigation (proxy/hints.h): when it had
   * something to name and the draw left it out, the backend's 103 is not
   * passed on either; with nothing of its own, the backend's 103 gets a
   * draw of its own. */
  if (learn_serving_key(s->l, PAGE, NULL, 0, key, sizeof(key)) == 0) {
    size_t n = learn_rules(s->l, key, 0, &s->p, NULL, rules, MAXRULES);
    int have = 0;
    for (size_t i = 0; i < n; i++)
      have |= (rules[i].channels & LEARN_HINT) != 0;
    verifying = have && rng_unit() < s->verify;
    for (size_t i = 0; i < n && !verifying; i++) {
      if (!(rules[i].channels & LEARN_HINT))
        continue;
      name(rules[i].key);
      fetch(rules[i].key, rules[i].dest);
      own = 1;
    }
  }
  /* The backend's 103: dropped behind herald's own, else passed on. */
  int withheld =
      verifying || (!own && s->nearly > 0 && rng_unit() < s->verify);
  for (size_t i = 0; i < s->nearly; i++) {
    if (own || withheld) {
      declare(&s->early[i], VISIT_DECL_EARLY);
      continue;
    }
    declare(&s->early[i], VISIT_DECL_EARLY | VISIT_DECL_NAMED);
    name(s->early[i].key);
    fetch(s->early[i].key, s->early[i].dest);
  }
  for (size_t i = 0; i < s->nlink; i++)
    declare(&s->link[i], VISIT_DECL_LINK);
  for (size_t i = 0; i < s->nrefs; i++)
    fetch(s->refs[i].key, s->refs[i].dest);
  learn_visit(s->l, &vis);
}

static uint32_t channels_now(struct sim *s, const char *res) {
  get_rules(s->l, PAGE, 0, &s->p, NULL);
  return channels_of(res);
}

static struct sim sim_new(uint64_t seed) {
  struct sim s;
  memset(&s, 0, sizeof(s));
  s.l = learn_new(100, 1);
  s.p = params();
  s.verify = 0.05; /* the default */
  s.clients = 16;
  /* Small seeds make xorshift's first draws tiny: spread them. */
  rng_seed(seed * 0x9e3779b97f4a7c15ull);
  return s;
}

static const struct res css = {CSS, OBS_DEST_STYLE};
static const struct res js = {JS, OBS_DEST_SCRIPT};
static const struct res never_js = {NEVER_JS, OBS_DEST_SCRIPT};

/* A declared resource is hinted once min_clients networks saw it
 * declared (3 visits), where the same resource undeclared needs the
 * samples of any other (about 35 all-hit visits at the default hint
 * threshold 0.9). Default parameters throughout. */
static void test_declared_hinted_sooner(void **state) {
  (void)state;
  const struct res refs[] = {css, js};
  struct sim s = sim_new(7);
  s.refs = refs, s.nrefs = 2;
  s.link = &css, s.nlink = 1; /* only the stylesheet is declared */
  unsigned first_css = NEVER, first_js = NEVER;
  for (unsigned v = 1; v <= 60; v++) {
    sim_visit(&s);
    uint32_t c = channels_now(&s, CSS), j = channels_now(&s, JS);
    if (first_css == NEVER && (c & LEARN_HINT))
      first_css = v;
    if (first_js == NEVER && (j & LEARN_HINT))
      first_js = v;
  }
  print_message("declared stylesheet hinted after %u visits, the undeclared "
                "script after %u\n", first_css, first_js);
  assert_int_equal(first_css, 3);
  assert_true(first_js >= 30 && first_js != NEVER);
  /* Requested every time, it stays. */
  get_rules(s.l, PAGE, 0, &s.p, NULL);
  assert_true(channels_of(CSS) & LEARN_HINT);
  assert_int_equal(find(CSS)->declared, 1);
  assert_int_equal(find(CSS)->rank, LEARN_RANK_STYLE);
  assert_int_equal(find(JS)->declared, 0);
  learn_free(s.l);
}

/* A resource the backend declares in its 103 but the page never
 * requests: served from the prior at first (every request for it is the
 * 103's doing, censored), it leaves at the first visit it was left out
 * of a 103 (a verification draw) and the page did not ask for it, and
 * stays out: from then on herald's own 103 (the stylesheet) goes first
 * and the backend's is dropped, so every visit samples it. Measured over
 * 200 seeds at the defaults. */
static void test_declared_never_requested_leaves(void **state) {
  (void)state;
  const struct res refs[] = {css};
  unsigned gone[200], ever = 0; /* when it left, in the seeds it was in */
  for (uint64_t seed = 1; seed <= 200; seed++) {
    struct sim s = sim_new(seed);
    s.refs = refs, s.nrefs = 1;
    s.link = &css, s.nlink = 1;
    s.early = &never_js, s.nearly = 1;
    unsigned served = 0, last = 0;
    for (unsigned v = 1; v <= 200; v++) {
      sim_visit(&s);
      uint32_t c = channels_now(&s, NEVER_JS);
      if (c != 0) {
        /* Never pushed: a declaration cannot tell whether its
         * response may be. */
        assert_int_equal(c, LEARN_HINT);
        served++;
        last = v;
      }
    }
    assert_true(last < 200);
    if (served > 0)
      gone[ever++] = last + 1;
    /* Its counts say no by now: about ten misses undo the prior. */
    struct learn_evidence ev[LEARN_LEVELS];
    size_t n = learn_evidence(s.l, PAGE, 0, NEVER_JS, &s.p, ev, LEARN_LEVELS);
    assert_true(n >= 1);
    assert_int_equal(ev[0].declared, 1);
    assert_int_equal(ev[0].hint, 0);
    learn_free(s.l);
  }
  /* The prior served it, unless a draw left it out of one of the first
   * three visits' 103s (then a miss came before min_clients). */
  assert_true(ever >= 150);
  for (unsigned i = 1; i < ever; i++)
    for (unsigned j = i; j > 0 && gone[j - 1] > gone[j]; j--) {
      unsigned t = gone[j];
      gone[j] = gone[j - 1];
      gone[j - 1] = t;
    }
  print_message("declared, never requested: served in %u of 200 seeds, "
                "gone after a median of %u visits, 90th percentile %u, "
                "worst %u\n",
                ever, gone[ever / 2], gone[ever * 9 / 10], gone[ever - 1]);
  assert_true(gone[ever / 2] <= 30);
}

/* Declared on the page's response (the browser here does not act on it)
 * and never requested: its first declaration is already a miss, so it
 * is never served. */
static void test_declared_link_unrequested_never_served(void **state) {
  (void)state;
  const struct res refs[] = {css};
  struct sim s = sim_new(3);
  s.refs = refs, s.nrefs = 1;
  const struct res both[] = {css, never_js};
  s.link = both, s.nlink = 2;
  for (unsigned v = 1; v <= 40; v++) {
    sim_visit(&s);
    assert_int_equal(channels_now(&s, NEVER_JS), 0);
  }
  assert_true(channels_now(&s, CSS) & LEARN_HINT);
  learn_free(s.l);
}

/* The networks that were told count towards min_clients, no more: one
 * network declaring and requesting is one client. */
static void test_declared_min_clients(void **state) {
  (void)state;
  const struct res refs[] = {css};
  struct sim s = sim_new(5);
  s.clients = 1;
  s.refs = refs, s.nrefs = 1;
  s.link = &css, s.nlink = 1;
  for (unsigned v = 1; v <= 10; v++) {
    sim_visit(&s);
    assert_int_equal(channels_now(&s, CSS), 0);
  }
  s.p.min_clients = 1;
  assert_true(channels_now(&s, CSS) & LEARN_HINT);
  /* Without a prior the same counts are far from enough. */
  s.p.declared_prior = 0;
  assert_int_equal(channels_now(&s, CSS), 0);
  learn_free(s.l);
}

/* A declaration of another origin, or of an unsafe path, is never
 * served, whatever its prior (attribution drops it before; the learner
 * holds the line too). */
static void test_declared_unsafe_never(void **state) {
  (void)state;
  struct learn *l = learn_new(100, 1);
  struct learn_params p = params();
  p.min_clients = 1;
  static const struct res bad[] = {
      {"https://evil.example/x.js", OBS_DEST_SCRIPT},
      {SITE "//evil.example/y.js", OBS_DEST_SCRIPT},
      {SITE "/a/../z.js", OBS_DEST_SCRIPT},
  };
  for (int v = 0; v < 5; v++) {
    begin(PAGE, NULL, 0, (unsigned)v);
    vis.declared = decl;
    for (size_t i = 0; i < 3; i++)
      declare(&bad[i], VISIT_DECL_EARLY);
    req_full(CSS, 5, 100, 1, VISIT_REQ_PUSHABLE)->dest = OBS_DEST_STYLE;
    learn_visit(l, &vis);
  }
  get_rules(l, PAGE, 0, &p, NULL);
  for (size_t i = 0; i < 3; i++)
    assert_int_equal(channels_of(bad[i].key), 0);
  learn_free(l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_declared_hinted_sooner),
      cmocka_unit_test(test_declared_never_requested_leaves),
      cmocka_unit_test(test_declared_link_unrequested_never_served),
      cmocka_unit_test(test_declared_min_clients),
      cmocka_unit_test(test_declared_unsafe_never),
  };
  return cmocka_run_group_tests_name("learn_declared", tests, NULL, NULL);
}
