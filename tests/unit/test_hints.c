/* test_hints.c: the Link field values of a 103 Early Hints. Entries are
 * made up here as a snapshot would hold them, hostile paths included, to
 * show that whatever a rule says, a Link names one resource of the page's
 * own origin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "learner/learn.h"
#include "learner/obs.h"
#include "learner/ruleset.h"
#include "proxy/hints.h"

/* link_of formats one entry with |path| and |dest|; "" when refused. */
static const char *link_of(const char *path, uint8_t dest) {
  static char out[600];
  struct ruleset_entry e = {.key = path, .path = path, .dest = dest,
                            .channels = LEARN_HINT};
  struct ruleset_page p = {.entries = &e, .n = 1};
  size_t n = hints_link(&p, 0, out, sizeof(out));
  if (n == 0)
    return "";
  assert_int_equal(n, strlen(out));
  return out;
}

static void test_link_plain(void **state) {
  (void)state;
  assert_string_equal(link_of("/css/a.css", OBS_DEST_STYLE),
                      "</css/a.css>; rel=preload; as=style");
  assert_string_equal(link_of("/f.woff2", OBS_DEST_FONT),
                      "</f.woff2>; rel=preload; as=font; crossorigin");
  assert_string_equal(link_of("/api?x=1", OBS_DEST_FETCH),
                      "</api?x=1>; rel=preload; as=fetch; crossorigin");
  /* A valid query goes out byte for byte, reserved characters and
   * escapes included. */
  assert_string_equal(
      link_of("/a.js?v=1&b=%2F;c,d=(e)*f+g!$'@:/?", OBS_DEST_SCRIPT),
      "</a.js?v=1&b=%2F;c,d=(e)*f+g!$'@:/?>; rel=preload; as=script");
  /* No valid as=: nothing. */
  assert_string_equal(link_of("/x", OBS_DEST_OTHER), "");
  assert_string_equal(link_of("/x", OBS_DEST_DOCUMENT), "");
}

static void test_link_hostile(void **state) {
  (void)state;
  /* Another host, or a way out of <...>: never a Link. */
  static const char *const refused[] = {
      "//evil.example/x.js",
      "/a.js>;rel=preload,<//evil.example/b.js",
      "/a.js>; rel=preload; as=script, <https://evil.example/b.js",
      "/\\evil.example/x.js",
      "/\t/evil.example/x.js",
      "/a\r\nSet-Cookie: x=1",
      "/a\"b",
      "/a b",
      "/../x.js",
      "/a%zz",
      "x.js",
      "",
  };
  for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
    const char *l = link_of(refused[i], OBS_DEST_SCRIPT);
    if (l[0] != '\0')
      fail_msg("hinted %s as %s", refused[i], l);
  }
  /* Bytes browsers send raw but URIs may not hold are encoded. */
  assert_string_equal(link_of("/a|b^c{d}.js?q=[1]`", OBS_DEST_SCRIPT),
                      "</a%7Cb%5Ec%7Bd%7D.js?q=%5B1%5D%60>; rel=preload; "
                      "as=script");
  assert_string_equal(link_of("/caf\xc3\xa9.css", OBS_DEST_STYLE),
                      "</caf%C3%A9.css>; rel=preload; as=style");
}

static void test_link_fits_or_nothing(void **state) {
  (void)state;
  char path[700], out[64];
  memset(path, 'a', sizeof(path) - 1);
  path[0] = '/';
  path[sizeof(path) - 1] = '\0';
  assert_string_equal(link_of(path, OBS_DEST_SCRIPT), "");
  /* Exactly at the edge of a small buffer. */
  struct ruleset_entry e = {.key = "/abc", .path = "/abc",
                            .dest = OBS_DEST_STYLE, .channels = LEARN_HINT};
  struct ruleset_page p = {.entries = &e, .n = 1};
  const char *want = "</abc>; rel=preload; as=style";
  size_t n = strlen(want);
  assert_int_equal(hints_link(&p, 0, out, n + 1), n);
  assert_string_equal(out, want);
  assert_int_equal(hints_link(&p, 0, out, n), 0);
  assert_int_equal(hints_link(&p, 0, out, 3), 0);
  /* Not a hint rule: nothing. */
  e.channels = LEARN_PUSH;
  assert_int_equal(hints_link(&p, 0, out, sizeof(out)), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_link_plain),
      cmocka_unit_test(test_link_hostile),
      cmocka_unit_test(test_link_fits_or_nothing),
  };
  return cmocka_run_group_tests_name("hints", tests, NULL, NULL);
}
