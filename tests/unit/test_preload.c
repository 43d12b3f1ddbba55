/* test_preload.c: the urgencies a connection gives the requests its 103s
 * caused (proxy/preload.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "learner/learn.h"
#include "proxy/preload.h"

#define AUTH "docs.example"

static void note(struct preload_set **s, const char *link, uint8_t rank,
                 size_t nth) {
  preload_note(s, AUTH, strlen(AUTH), link, strlen(link), rank, nth);
}

static int take(struct preload_set *s, const char *path) {
  return preload_take(s, AUTH, strlen(AUTH), path, strlen(path));
}

/* Stylesheets 0, scripts 1, the first three fonts 2, 3, 4 in the order
 * named and every later one 5, the rest 6. */
static void test_urgency(void **state) {
  (void)state;
  assert_int_equal(preload_urgency(LEARN_RANK_STYLE, 0), 0);
  assert_int_equal(preload_urgency(LEARN_RANK_STYLE, 7), 0);
  assert_int_equal(preload_urgency(LEARN_RANK_SCRIPT, 5), 1);
  assert_int_equal(preload_urgency(LEARN_RANK_FONT, 0), 2);
  assert_int_equal(preload_urgency(LEARN_RANK_FONT, 2), 4);
  assert_int_equal(preload_urgency(LEARN_RANK_FONT, 3), 5);
  assert_int_equal(preload_urgency(LEARN_RANK_FONT, 30), 5);
  assert_int_equal(preload_urgency(LEARN_RANK_OTHER, 0), 6);
}

/* A request takes the urgency of its place in the 103 that named it,
 * once, by its exact URL (query included) on the same authority. */
static void test_note_and_take(void **state) {
  (void)state;
  struct preload_set *s = NULL;
  assert_int_equal(take(s, "/a.css"), -1); /* no 103 yet: no set */
  note(&s, "</a.css>; rel=preload; as=style", LEARN_RANK_STYLE, 0);
  assert_non_null(s);
  note(&s, "</j.js>; rel=preload; as=script", LEARN_RANK_SCRIPT, 1);
  note(&s, "</f/one.woff2>; rel=preload; as=font; crossorigin",
       LEARN_RANK_FONT, 2);
  note(&s, "</f/two.woff2?v=4.7.0>; rel=preload; as=font; crossorigin",
       LEARN_RANK_FONT, 3);
  note(&s, "</logo.png>; rel=preload; as=image", LEARN_RANK_OTHER, 4);

  assert_int_equal(take(s, "/f/two.woff2"), -1); /* not the URL named */
  assert_int_equal(take(s, "/f/two.woff2?v=4.7.0"), 3);
  assert_int_equal(take(s, "/f/two.woff2?v=4.7.0"), -1); /* taken */
  assert_int_equal(preload_take(s, "other.example", 13, "/a.css", 6), -1);
  assert_int_equal(take(s, "/a.css"), 0);
  assert_int_equal(take(s, "/j.js"), 1);
  assert_int_equal(take(s, "/f/one.woff2"), 2);
  assert_int_equal(take(s, "/logo.png"), 6);
  assert_int_equal(take(s, "/unnamed.js"), -1);

  /* A second 103 on the connection counts its fonts from the first
   * again. */
  note(&s, "</f/two.woff2>; rel=preload; as=font", LEARN_RANK_FONT, 0);
  assert_int_equal(take(s, "/f/two.woff2"), 2);
  preload_free(s);
}

/* What is not a Link target is ignored; the set keeps the last
 * PRELOAD_MAX names. */
static void test_bad_links_and_capacity(void **state) {
  (void)state;
  struct preload_set *s = NULL;
  note(&s, "", LEARN_RANK_STYLE, 0);
  note(&s, "/a.css; rel=preload", LEARN_RANK_STYLE, 0);
  note(&s, "<>; rel=preload", LEARN_RANK_STYLE, 0);
  note(&s, "</never-closed; rel=preload", LEARN_RANK_STYLE, 0);
  assert_null(s); /* nothing named: no set */

  char link[64], path[32];
  for (int i = 0; i < PRELOAD_MAX + 2; i++) {
    snprintf(link, sizeof(link), "</s%d.js>; rel=preload; as=script", i);
    note(&s, link, LEARN_RANK_SCRIPT, (size_t)i);
  }
  assert_int_equal(take(s, "/s0.js"), -1); /* the two oldest went */
  assert_int_equal(take(s, "/s1.js"), -1);
  for (int i = 2; i < PRELOAD_MAX + 2; i++) {
    snprintf(path, sizeof(path), "/s%d.js", i);
    assert_int_equal(take(s, path), 1);
  }
  preload_free(s);
  preload_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_urgency),
      cmocka_unit_test(test_note_and_take),
      cmocka_unit_test(test_bad_links_and_capacity),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
