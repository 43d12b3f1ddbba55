/* test_ruleset.c: the immutable rule snapshot the loop looks pages up in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "learner/learn.h"
#include "learner/obs.h"
#include "learner/ruleset.h"

static struct learn_rule rule(const char *key, uint32_t channels,
                              uint8_t state) {
  struct learn_rule r;
  memset(&r, 0, sizeof(r));
  snprintf(r.key, sizeof(r.key), "%s", key);
  r.channels = channels;
  r.state = state;
  r.dest = OBS_DEST_STYLE;
  r.bytes = 1234;
  return r;
}

static void test_lookup_by_page_and_class(void **state) {
  (void)state;
  struct ruleset_builder *b = ruleset_builder_new();
  struct learn_rule r[3] = {
      rule("https://a.example/s.css", LEARN_PUSH | LEARN_HINT, LEARN_LEARNED),
      rule("https://a.example/near.js", 0, LEARN_LEARNED),
      rule("https://a.example/b.png", LEARN_HINT, LEARN_LEARNED),
  };
  ruleset_builder_add(b, "https://a.example/", 0, r, 3);
  ruleset_builder_add(b, "https://a.example/", 1, r, 1);
  ruleset_builder_add(b, "https://a.example/empty", 0, NULL, 0);
  struct ruleset *rs = ruleset_build(b);
  assert_int_equal(ruleset_pages(rs), 3);
  assert_int_equal(ruleset_rules(rs), 3); /* near misses are not served */

  const struct ruleset_page *p = ruleset_lookup(rs, "https://a.example/", 0);
  assert_non_null(p);
  assert_int_equal(p->n, 2);
  assert_string_equal(p->entries[0].key, "https://a.example/s.css");
  assert_string_equal(p->entries[0].path, "/s.css");
  assert_int_equal(p->entries[0].channels, LEARN_PUSH | LEARN_HINT);
  assert_int_equal(p->entries[0].bytes, 1234);
  assert_string_equal(p->entries[1].path, "/b.png");

  p = ruleset_lookup(rs, "https://a.example/", 1);
  assert_non_null(p);
  assert_int_equal(p->n, 1);

  /* Present but empty: the page's own evidence differs from its
   * parent's, so it must not fall back to a wider level. */
  p = ruleset_lookup(rs, "https://a.example/empty", 0);
  assert_non_null(p);
  assert_int_equal(p->n, 0);

  assert_null(ruleset_lookup(rs, "https://a.example/other", 0));
  assert_null(ruleset_lookup(rs, "https://a.example/empty", 1));
  ruleset_unref(rs);
}

static void test_blocked_never_served_and_last_add_wins(void **state) {
  (void)state;
  struct ruleset_builder *b = ruleset_builder_new();
  struct learn_rule r[2] = {
      rule("https://a.example/x.js", LEARN_PUSH, LEARN_BLOCKED),
      rule("https://a.example/y.js", LEARN_HINT, LEARN_PINNED),
  };
  ruleset_builder_add(b, "https://a.example/p", 0, r, 1);
  ruleset_builder_add(b, "https://a.example/p", 0, r, 2);
  struct ruleset *rs = ruleset_build(b);
  const struct ruleset_page *p = ruleset_lookup(rs, "https://a.example/p", 0);
  assert_non_null(p);
  assert_int_equal(p->n, 1);
  assert_string_equal(p->entries[0].path, "/y.js");
  assert_int_equal(ruleset_pages(rs), 1);
  assert_int_equal(ruleset_rules(rs), 1);
  ruleset_ref(rs);
  ruleset_unref(rs);
  assert_non_null(ruleset_lookup(rs, "https://a.example/p", 0));
  ruleset_unref(rs);
}

/* A snapshot is numbered, its pages have slot numbers that find them
 * again (what a navigation's 103 was made from), and it carries the
 * operator's live modes per route. */
static void test_gen_slots_modes(void **state) {
  (void)state;
  struct ruleset_builder *b = ruleset_builder_new();
  struct learn_rule r[2] = {
      rule("https://a.example/s.css?v=2", LEARN_HINT, LEARN_LEARNED),
      rule("https://a.example/f.woff2?v=4.7.0", LEARN_HINT, LEARN_LEARNED),
  };
  ruleset_builder_add(b, "https://a.example/**", 0, r, 2);
  ruleset_builder_add(b, "https://a.example/docs/**", 0, r, 1);
  ruleset_builder_set_gen(b, 42);
  ruleset_builder_set_mode(b, NULL, 1);
  ruleset_builder_set_mode(b, "docs", 3);
  ruleset_builder_set_mode(b, "shop", -1); /* not set: ignored */
  struct ruleset *rs = ruleset_build(b);
  assert_int_equal(ruleset_gen(rs), 42);
  const struct ruleset_page *p = ruleset_lookup(rs, "https://a.example/**", 0);
  assert_non_null(p);
  /* The path a hint names keeps the query. */
  assert_string_equal(p->entries[1].path, "/f.woff2?v=4.7.0");
  uint32_t slot = ruleset_slot(rs, p);
  assert_ptr_equal(ruleset_at(rs, slot), p);
  assert_null(ruleset_at(rs, 1u << 30));
  assert_int_equal(ruleset_mode(rs, "docs"), 3);
  assert_int_equal(ruleset_mode(rs, "shop"), 1);
  assert_int_equal(ruleset_mode(rs, NULL), 1);
  assert_int_equal(ruleset_mode(NULL, "docs"), -1);
  ruleset_unref(rs);
  b = ruleset_builder_new();
  rs = ruleset_build(b);
  assert_int_equal(ruleset_mode(rs, "docs"), -1);
  assert_int_equal(ruleset_gen(rs), 0);
  ruleset_unref(rs);
}

static void test_many_pages(void **state) {
  (void)state;
  struct ruleset_builder *b = ruleset_builder_new();
  struct learn_rule r = rule("https://a.example/s.css", LEARN_HINT,
                             LEARN_LEARNED);
  char key[64];
  for (int i = 0; i < 5000; i++) {
    snprintf(key, sizeof(key), "https://a.example/p/%d", i);
    ruleset_builder_add(b, key, i & 1, &r, 1);
  }
  struct ruleset *rs = ruleset_build(b);
  assert_int_equal(ruleset_pages(rs), 5000);
  for (int i = 0; i < 5000; i++) {
    snprintf(key, sizeof(key), "https://a.example/p/%d", i);
    assert_non_null(ruleset_lookup(rs, key, i & 1));
    assert_null(ruleset_lookup(rs, key, !(i & 1)));
  }
  ruleset_unref(rs);
  assert_null(ruleset_lookup(NULL, "x", 0));
}

/* Rules reach the snapshot only for safe paths on the page's origin,
 * whatever gave them (the learner, or a database). */
static void test_unsafe_rules_dropped(void **state) {
  (void)state;
  struct ruleset_builder *b = ruleset_builder_new();
  struct learn_rule r[6] = {
      rule("https://a.example//evil.example/x.js", LEARN_HINT, LEARN_LEARNED),
      rule("https://a.example/ok.css", LEARN_HINT, LEARN_LEARNED),
      rule("https://a.example/a.js>;rel=preload,<//evil.example/b.js",
           LEARN_PUSH | LEARN_HINT, LEARN_PINNED),
      rule("https://evil.example/x.js", LEARN_HINT, LEARN_LEARNED),
      rule("https://a.example/\\evil.example/x.js", LEARN_HINT,
           LEARN_LEARNED),
      rule("https://a.example//near-miss", 0, LEARN_LEARNED),
  };
  assert_int_equal(ruleset_builder_add(b, "https://a.example/", 0, r, 6),
                   4);
  struct ruleset *rs = ruleset_build(b);
  const struct ruleset_page *p = ruleset_lookup(rs, "https://a.example/", 0);
  assert_non_null(p);
  assert_int_equal(p->n, 1);
  assert_string_equal(p->entries[0].path, "/ok.css");
  ruleset_unref(rs);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lookup_by_page_and_class),
      cmocka_unit_test(test_blocked_never_served_and_last_add_wins),
      cmocka_unit_test(test_many_pages),
      cmocka_unit_test(test_gen_slots_modes),
      cmocka_unit_test(test_unsafe_rules_dropped),
  };
  return cmocka_run_group_tests_name("ruleset", tests, NULL, NULL);
}
