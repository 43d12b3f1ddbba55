/* test_hints.c: the Link field values of a 103 Early Hints. Entries are
 * made up here as a snapshot would hold them, hostile paths included, to
 * show that whatever a rule says, a Link names one resource of the page's
 * own origin. Then what a backend declares (its Link fields, its own 103):
 * which links herald may name, and how they merge with herald's own into
 * the one 103 a navigation gets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "learner/learn.h"
#include "learner/obs.h"
#include "learner/ruleset.h"
#include "config/config.h"
#include "proxy/hints.h"
#include "base/http.h"
#include "proxy/linkfield.h"
#include "proxy/loop.h"

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
      link_of("/a.js?v=1&b=%2F;c,d=(e)*f+g!$@:/?", OBS_DEST_SCRIPT),
      "</a.js?v=1&b=%2F;c,d=(e)*f+g!$@:/?>; rel=preload; as=script");
  /* So does what browsers send raw in a query: naming it %-encoded would
   * be another URL, downloaded for nothing. */
  assert_string_equal(
      link_of("/api.js?f={a|b}&s=^x`[0]", OBS_DEST_SCRIPT),
      "</api.js?f={a|b}&s=^x`[0]>; rel=preload; as=script");
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
  /* What a browser's URL parser would encode is encoded (the same
   * request); what it leaves raw stays raw. */
  assert_string_equal(link_of("/a|b^c{d}.js?q=[1]`", OBS_DEST_SCRIPT),
                      "</a|b%5Ec%7Bd%7D.js?q=[1]`>; rel=preload; "
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

/* ---- what a backend declares ------------------------------------------ */

#define MAXD HINTS_DECLARED_MAX
static struct hints_declared decl[MAXD];

/* read_links reads the Link field values |values| (NULL-terminated) of a
 * response to |path| on https://shop.example into decl[]. */
static size_t read_links(const char *path, const char *const *values) {
  struct http_hdr h[8];
  size_t n = 0;
  for (; values[n] != NULL; n++)
    h[n] = (struct http_hdr){"Link", 4, values[n], strlen(values[n])};
  /* Other fields never count. */
  h[n++] = (struct http_hdr){"X-Link", 6, "</x.css>; rel=preload; as=style",
                             31};
  return hints_declared_read(h, n, 1, "Shop.Example:443", 16, path,
                             strlen(path), decl, MAXD);
}

static void test_declared_same_origin_only(void **state) {
  (void)state;
  const char *v[] = {
      "</css/a.css>; rel=preload; as=style, "
      "<https://shop.example/js/b.js?v=2>; rel=preload; as=script, "
      "<//SHOP.example:443/f/c.woff2>; rel=preload; as=font; crossorigin, "
      "<img/d.png#frag>; rel=preload; as=image, "
      "<../up.js>; rel=preload; as=script",
      /* Never: other origins, schemes, relations, unnamable as=. */
      "<https://evil.example/x.js>; rel=preload; as=script, "
      "<//evil.example/y.js>; rel=preload; as=script, "
      "<http://shop.example/z.js>; rel=preload; as=script, "
      "<https://shop.example:8443/p.js>; rel=preload; as=script, "
      "<javascript:alert(1)>; rel=preload; as=script, "
      "<https://cdn.example>; rel=preconnect, "
      "</s.css>; rel=stylesheet, </doc>; rel=preload; as=document, "
      "</noas.js>; rel=preload, </anchored.js>; rel=preload; as=script;"
      " anchor=\"/other\", </m.js>; rel=modulepreload",
      /* Unsafe paths. */
      "</a\\b.js>; rel=preload; as=script, </%2e%2e/c.js>; rel=preload;"
      " as=script, <https://shop.example@evil.example/q.js>; rel=preload;"
      " as=script",
      /* Each path once; a broken value from where it breaks. */
      "</css/a.css>; rel=preload; as=style, </late.js>; rel=preload; "
      "as=script, junk, </after.js>; rel=preload; as=script",
      NULL};
  size_t n = read_links("/shop/index.html?x=1", v);
  static const struct {
    const char *path;
    uint8_t dest, cors;
  } want[] = {
      {"/css/a.css", OBS_DEST_STYLE, LINKFIELD_CORS_NONE},
      {"/js/b.js?v=2", OBS_DEST_SCRIPT, LINKFIELD_CORS_NONE},
      {"/f/c.woff2", OBS_DEST_FONT, LINKFIELD_CORS_ANONYMOUS},
      {"/shop/img/d.png", OBS_DEST_IMAGE, LINKFIELD_CORS_NONE},
      {"/late.js", OBS_DEST_SCRIPT, LINKFIELD_CORS_NONE},
  };
  if (n != sizeof(want) / sizeof(want[0]))
    for (size_t i = 0; i < n; i++)
      print_message("declared %s\n", decl[i].path);
  assert_int_equal(n, sizeof(want) / sizeof(want[0]));
  for (size_t i = 0; i < n; i++) {
    assert_string_equal(decl[i].path, want[i].path);
    assert_int_equal(decl[i].dest, want[i].dest);
    assert_int_equal(decl[i].cors, want[i].cors);
  }
}

static void test_declared_cap(void **state) {
  (void)state;
  char big[64 * 40];
  size_t k = 0;
  for (int i = 0; i < 40; i++)
    k += (size_t)snprintf(big + k, sizeof(big) - k,
                          "%s</r%d.js>; rel=preload; as=script",
                          i ? ", " : "", i);
  const char *v[] = {big, NULL};
  assert_int_equal(read_links("/", v), MAXD);
  assert_string_equal(decl[MAXD - 1].path, "/r15.js");
}

/* page_of_rules makes a snapshot page of |n| entries (path, dest, rank),
 * all hint rules. */
static struct ruleset_entry ents[8];
static struct ruleset_page rpage;

static void rule(size_t i, const char *path, uint8_t dest, uint8_t rank) {
  ents[i] = (struct ruleset_entry){.key = path, .path = path, .dest = dest,
                                   .rank = rank, .channels = LEARN_HINT};
  if (i + 1 > rpage.n)
    rpage.n = i + 1;
  rpage.entries = ents;
}

static void declare(size_t i, const char *path, uint8_t dest) {
  memset(&decl[i], 0, sizeof(decl[i]));
  snprintf(decl[i].path, sizeof(decl[i].path), "%s", path);
  decl[i].dest = dest;
}

static void links_are(const struct hints_early *e, const char *const *want) {
  size_t n = 0;
  while (want[n] != NULL)
    n++;
  if (e->n != n)
    for (size_t i = 0; i < e->n; i++)
      print_message("link %s\n", e->link[i]);
  assert_int_equal(e->n, n);
  for (size_t i = 0; i < n; i++) {
    char want_link[128];
    snprintf(want_link, sizeof(want_link), "<%s>; rel=preload", want[i]);
    if (strncmp(e->link[i], want_link, strlen(want_link)) != 0)
      fail_msg("link %zu is %s, want %s", i, e->link[i], want[i]);
    assert_int_equal(e->len[i], strlen(e->link[i]));
  }
}

static void test_compose_merge(void **state) {
  (void)state;
  static struct hints_early e;
  memset(&rpage, 0, sizeof(rpage));
  /* herald's order: a style, a script, a font, a print style (other). */
  rule(0, "/s.css", OBS_DEST_STYLE, LEARN_RANK_STYLE);
  rule(1, "/a.js", OBS_DEST_SCRIPT, LEARN_RANK_SCRIPT);
  rule(2, "/f.woff2", OBS_DEST_FONT, LEARN_RANK_FONT);
  rule(3, "/print.css", OBS_DEST_STYLE, LEARN_RANK_OTHER);
  rule(4, "/withheld.js", OBS_DEST_SCRIPT, LEARN_RANK_SCRIPT);
  declare(0, "/i.png", OBS_DEST_IMAGE);
  declare(1, "/a.js", OBS_DEST_SCRIPT); /* herald names it already */
  declare(2, "/b.js", OBS_DEST_SCRIPT);
  declare(3, "/d.css", OBS_DEST_STYLE);
  /* Entry 4 was withheld to verify it: not named. */
  assert_int_equal(hints_compose(&rpage, 0xf, decl, 4, &e), 7);
  const char *want[] = {"/s.css",   "/d.css",     "/a.js",  "/b.js",
                        "/f.woff2", "/print.css", "/i.png", NULL};
  links_are(&e, want);
  assert_string_equal(e.link[4], "</f.woff2>; rel=preload; as=font; "
                                 "crossorigin");
  assert_int_equal(e.declared_named, 0xf); /* /a.js by herald's entry */
  assert_int_equal(e.own, 1);

  /* Only herald's, only the backend's, nothing. */
  assert_int_equal(hints_compose(&rpage, 0x5, NULL, 0, &e), 2);
  const char *own[] = {"/s.css", "/f.woff2", NULL};
  links_are(&e, own);
  assert_int_equal(e.declared_named, 0);
  assert_int_equal(hints_compose(NULL, 0, decl, 4, &e), 4);
  const char *theirs[] = {"/d.css", "/a.js", "/b.js", "/i.png", NULL};
  links_are(&e, theirs);
  assert_int_equal(e.own, 0);
  assert_int_equal(e.declared_named, 0xf);
  assert_int_equal(hints_compose(&rpage, 0, NULL, 0, &e), 0);
}

static void test_compose_cap(void **state) {
  (void)state;
  static struct hints_early e;
  static struct ruleset_entry many[40];
  static char paths[40][32];
  for (int i = 0; i < 40; i++) {
    snprintf(paths[i], sizeof(paths[i]), "/img%d.png", i);
    many[i] = (struct ruleset_entry){.key = paths[i], .path = paths[i],
                                     .dest = OBS_DEST_IMAGE,
                                     .rank = LEARN_RANK_OTHER,
                                     .channels = LEARN_HINT};
  }
  struct ruleset_page p = {.entries = many, .n = 40};
  for (int i = 0; i < MAXD; i++) {
    char path[32];
    snprintf(path, sizeof(path), "/s%d.css", i);
    declare((size_t)i, path, OBS_DEST_STYLE);
  }
  /* 40 + 16 links: the 32 most critical go, the declared stylesheets
   * first, then herald's images in order. */
  assert_int_equal(hints_compose(&p, ~0ull, decl, MAXD, &e),
                   HINTS_LINKS_MAX);
  assert_int_equal(strncmp(e.link[0], "</s0.css>", 9), 0);
  assert_int_equal(strncmp(e.link[MAXD - 1], "</s15.css>", 10), 0);
  assert_int_equal(strncmp(e.link[MAXD], "</img0.png>", 11), 0);
  assert_int_equal(strncmp(e.link[HINTS_LINKS_MAX - 1], "</img15.png>", 12),
                   0);
  assert_int_equal(e.declared_named, (1u << MAXD) - 1);
}

/* A backend's 103: passed on once, filtered, where a 103 may go; never
 * when the request already had one. */
static void test_backend_103(void **state) {
  (void)state;
  static struct loop lp;
  static struct config cfg;
  static struct hints_early e;
  memset(&lp, 0, sizeof(lp));
  config_defaults(&cfg);
  cfg.deliver_verify = 0;
  lp.cfg = &cfg;
  lp.rng = 1;
  struct http_hdr h[] = {
      {"Link", 4, "</c.js>; rel=preload; as=script, "
                  "<https://evil.example/e.css>; rel=preload; as=style", 75},
      {"Set-Cookie", 10, "early=1", 7},
      {"Link", 4, "<https://cdn.example>; rel=preconnect", 37},
  };
  h[0].value_len = strlen(h[0].value);
  h[2].value_len = strlen(h[2].value);
  assert_int_equal(hints_backend_103(&lp, &cfg, NULL, 1, 0, 1, "a.example", 9,
                                     "/p", 2, h, 3, NULL, &e),
                   1);
  assert_int_equal(e.n, 1);
  assert_string_equal(e.link[0], "</c.js>; rel=preload; as=script");
  assert_int_equal(lp.stats.backend_hints_forwarded, 1);
  /* Already had a 103 (herald's, or the backend's first): never another. */
  assert_int_equal(hints_backend_103(&lp, &cfg, NULL, 1, 1, 1, "a.example", 9,
                                     "/p", 2, h, 3, NULL, &e),
                   0);
  /* Not a request a 103 may go to. */
  assert_int_equal(hints_backend_103(&lp, &cfg, NULL, 0, 0, 1, "a.example", 9,
                                     "/p", 2, h, 3, NULL, &e),
                   0);
  /* Nothing herald may name: no 103 at all. */
  assert_int_equal(hints_backend_103(&lp, &cfg, NULL, 1, 0, 1, "a.example", 9,
                                     "/p", 2, h + 1, 2, NULL, &e),
                   0);
  assert_int_equal(lp.stats.backend_hints_dropped, 3);
  assert_int_equal(lp.stats.backend_hints_forwarded, 1);
  /* Its links are verified like herald's own: all withheld, none. */
  cfg.deliver_verify = 1;
  assert_int_equal(hints_backend_103(&lp, &cfg, NULL, 1, 0, 1, "a.example", 9,
                                     "/p", 2, h, 3, NULL, &e),
                   0);
  assert_int_equal(lp.stats.verify_withheld, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_link_plain),
      cmocka_unit_test(test_link_hostile),
      cmocka_unit_test(test_link_fits_or_nothing),
      cmocka_unit_test(test_declared_same_origin_only),
      cmocka_unit_test(test_declared_cap),
      cmocka_unit_test(test_compose_merge),
      cmocka_unit_test(test_compose_cap),
      cmocka_unit_test(test_backend_103),
  };
  return cmocka_run_group_tests_name("hints", tests, NULL, NULL);
}
