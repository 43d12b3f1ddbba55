/* test_pagekey.c: page, template and resource keys; client class. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "learner/pagekey.h"

static char buf[PAGEKEY_MAX];

/* key runs pagekey_make and checks the returned length against the
 * string, so every case also covers the return value. */
static const char *key(const struct pagekey_config *cfg, int https,
                       const char *authority, const char *path) {
  int n = pagekey_make(cfg, https, authority, path, buf, sizeof(buf));
  if (n < 0)
    return NULL;
  assert_int_equal((size_t)n, strlen(buf));
  return buf;
}

static const char *from_url(const struct pagekey_config *cfg,
                            const char *url) {
  int n = pagekey_from_url(cfg, url, buf, sizeof(buf));
  if (n < 0)
    return NULL;
  assert_int_equal((size_t)n, strlen(buf));
  return buf;
}

static const char *tmpl(const struct pagekey_config *cfg, const char *k) {
  static char t[PAGEKEY_MAX];
  int n = pagekey_template(cfg, k, t, sizeof(t));
  if (n < 0)
    return NULL;
  assert_int_equal((size_t)n, strlen(t));
  return t;
}

static void test_make_basic(void **state) {
  (void)state;
  assert_string_equal(key(NULL, 1, "example.com", "/a/b.html"),
                      "https://example.com/a/b.html");
  assert_string_equal(key(NULL, 0, "example.com", "/"),
                      "http://example.com/");
  /* An empty path is the root. */
  assert_string_equal(key(NULL, 0, "example.com", ""),
                      "http://example.com/");
  /* Percent-encoding is left as the client sent it. */
  assert_string_equal(key(NULL, 1, "example.com", "/a%20b/%C3%A9"),
                      "https://example.com/a%20b/%C3%A9");
  /* Path case matters (servers may be case-sensitive). */
  assert_string_equal(key(NULL, 1, "example.com", "/A/B"),
                      "https://example.com/A/B");
}

static void test_make_authority(void **state) {
  (void)state;
  assert_string_equal(key(NULL, 1, "Example.COM", "/"),
                      "https://example.com/");
  assert_string_equal(key(NULL, 1, "example.com:443", "/"),
                      "https://example.com/");
  assert_string_equal(key(NULL, 0, "example.com:80", "/"),
                      "http://example.com/");
  /* Only the scheme's own default port goes. */
  assert_string_equal(key(NULL, 1, "example.com:80", "/"),
                      "https://example.com:80/");
  assert_string_equal(key(NULL, 0, "example.com:443", "/"),
                      "http://example.com:443/");
  assert_string_equal(key(NULL, 1, "Example.com:8443", "/x"),
                      "https://example.com:8443/x");
  /* An empty port is the default one. */
  assert_string_equal(key(NULL, 1, "example.com:", "/"),
                      "https://example.com/");
  assert_string_equal(key(NULL, 1, "[::1]:443", "/"), "https://[::1]/");
  assert_string_equal(key(NULL, 1, "[FE80::1]:8443", "/"),
                      "https://[fe80::1]:8443/");
  assert_string_equal(key(NULL, 0, "127.0.0.1:8080", "/"),
                      "http://127.0.0.1:8080/");
}

static void test_make_rejects(void **state) {
  (void)state;
  assert_null(key(NULL, 1, "", "/"));
  assert_null(key(NULL, 1, "user@example.com", "/"));
  assert_null(key(NULL, 1, "exa mple.com", "/"));
  assert_null(key(NULL, 1, "example.com:8x", "/"));
  assert_null(key(NULL, 1, "::1", "/"));
  assert_null(key(NULL, 1, "[::1", "/"));
  assert_null(key(NULL, 1, "[::1]x", "/"));
  assert_null(key(NULL, 1, ":443", "/"));
  assert_null(key(NULL, 1, "example.com", "*"));
  assert_null(key(NULL, 1, "example.com", "relative"));
  assert_null(key(NULL, 1, "example.com", "/a b"));
  assert_null(key(NULL, 1, "example.com", "/a\tb"));
  assert_null(key(NULL, 1, NULL, "/"));
  assert_null(key(NULL, 1, "example.com", NULL));
  /* A key that does not fit fails whole, never cut. */
  char small[28]; /* "https://example.com/abcdefg" and its NUL */
  assert_int_equal(pagekey_make(NULL, 1, "example.com", "/abcdefghij",
                                small, sizeof(small)),
                   -1);
  assert_string_equal(small, "");
  assert_int_equal(pagekey_make(NULL, 1, "example.com", "/abcdefg", small,
                                sizeof(small)),
                   27);
  assert_int_equal(pagekey_make(NULL, 1, "example.com", "/abcdefgh", small,
                                sizeof(small)),
                   -1);
  char huge[2000];
  memset(huge, 'a', sizeof(huge) - 1);
  huge[0] = '/';
  huge[sizeof(huge) - 1] = '\0';
  assert_null(key(NULL, 1, "example.com", huge));
}

static void test_make_query_and_fragment(void **state) {
  (void)state;
  struct pagekey_config none = {.keep_params = ""};
  assert_string_equal(key(NULL, 1, "example.com", "/p?x=1&id=7"),
                      "https://example.com/p");
  assert_string_equal(key(&none, 1, "example.com", "/p?x=1"),
                      "https://example.com/p");
  assert_string_equal(key(NULL, 1, "example.com", "/p#top"),
                      "https://example.com/p");
  assert_string_equal(key(NULL, 1, "example.com", "/p?a=1#top"),
                      "https://example.com/p");
  assert_string_equal(key(NULL, 1, "example.com", "/?"),
                      "https://example.com/");
  assert_null(key(NULL, 1, "example.com", "?x"));
}

static void test_make_keep_params(void **state) {
  (void)state;
  struct pagekey_config id = {.keep_params = "id"};
  assert_string_equal(key(&id, 1, "example.com", "/p?x=1&id=7&y=2"),
                      "https://example.com/p?id=7");
  assert_string_equal(key(&id, 1, "example.com", "/p?x=1"),
                      "https://example.com/p");
  /* Names compare exactly: "idx" and "ID" are other parameters. */
  assert_string_equal(key(&id, 1, "example.com", "/p?idx=1&ID=2&id"),
                      "https://example.com/p?id");
  assert_string_equal(key(&id, 1, "example.com", "/p?id=7#id=8"),
                      "https://example.com/p?id=7");
  struct pagekey_config two = {.keep_params = " page , id "};
  /* Kept in the order the client sent them, repeats included. */
  assert_string_equal(
      key(&two, 1, "example.com", "/p?id=3&utm=x&page=2&&id=4&"),
      "https://example.com/p?id=3&page=2&id=4");
  assert_string_equal(key(&two, 1, "example.com", "/p?page=%20x"),
                      "https://example.com/p?page=%20x");
  struct pagekey_config empty_name = {.keep_params = ",,id,"};
  assert_string_equal(key(&empty_name, 1, "example.com", "/p?=1&id=2"),
                      "https://example.com/p?id=2");
}

static void test_from_url(void **state) {
  (void)state;
  struct pagekey_config id = {.keep_params = "id"};
  assert_string_equal(from_url(NULL, "https://Example.com:443/a?b=1#c"),
                      "https://example.com/a");
  assert_string_equal(from_url(NULL, "HTTP://example.com:80/x"),
                      "http://example.com/x");
  assert_string_equal(from_url(NULL, "https://example.com"),
                      "https://example.com/");
  assert_string_equal(from_url(NULL, "https://example.com?q=1"),
                      "https://example.com/");
  assert_string_equal(from_url(NULL, "https://example.com#frag"),
                      "https://example.com/");
  assert_string_equal(from_url(&id, "https://example.com/p?x=1&id=7&y=2"),
                      "https://example.com/p?id=7");
  assert_string_equal(from_url(NULL, "https://[::1]:8443/"),
                      "https://[::1]:8443/");
  /* The Referer of a page and the page's own request give one key. */
  char page[PAGEKEY_MAX];
  assert_true(pagekey_make(&id, 1, "Shop.example:443", "/p?id=7&utm=1",
                           page, sizeof(page)) > 0);
  assert_string_equal(
      from_url(&id, "https://shop.example/p?utm=2&id=7#reviews"), page);
}

static void test_from_url_rejects(void **state) {
  (void)state;
  assert_null(from_url(NULL, "ftp://example.com/a"));
  assert_null(from_url(NULL, "javascript:alert(1)"));
  assert_null(from_url(NULL, "data:text/html,x"));
  assert_null(from_url(NULL, "about:blank"));
  assert_null(from_url(NULL, "android-app://com.example/"));
  assert_null(from_url(NULL, "garbage"));
  assert_null(from_url(NULL, ""));
  assert_null(from_url(NULL, NULL));
  assert_null(from_url(NULL, "http:/example.com/"));
  assert_null(from_url(NULL, "https://"));
  assert_null(from_url(NULL, "https:///path"));
  assert_null(from_url(NULL, "https://user:pw@example.com/"));
  assert_null(from_url(NULL, "https://exa mple.com/"));
  assert_null(from_url(NULL, "https://example.com/a b"));
  assert_null(from_url(NULL, "https://example.com:99999x/"));
  assert_null(from_url(NULL, "https://example.com/\x01"));
}

/* A resource key is the URL as requested: the query whole and byte for
 * byte (order, case, encoding, empty parameters), the authority made
 * canonical as for pages. */
static void test_resource_exact(void **state) {
  (void)state;
  const struct {
    const char *authority, *path, *want;
  } cases[] = {
      {"Docs.Example:443", "/_static/theme.css?v=7",
       "https://docs.example/_static/theme.css?v=7"},
      {"docs.example", "/fonts/fa.woff2?v=4.7.0",
       "https://docs.example/fonts/fa.woff2?v=4.7.0"},
      {"docs.example", "/a.js?b=2&a=1&B=%41",
       "https://docs.example/a.js?b=2&a=1&B=%41"},
      {"docs.example", "/a.js?", "https://docs.example/a.js?"},
      {"docs.example", "/a.js?x=&&y", "https://docs.example/a.js?x=&&y"},
      {"docs.example", "/a.js", "https://docs.example/a.js"},
      {"docs.example", "/s.css?digest=abc#frag",
       "https://docs.example/s.css?digest=abc"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int n = pagekey_resource(1, cases[i].authority, cases[i].path, buf,
                             sizeof(buf));
    assert_int_equal(n, (int)strlen(cases[i].want));
    assert_string_equal(buf, cases[i].want);
  }
  /* keep_params never applies to resources. */
  assert_string_equal(key(NULL, 1, "docs.example", "/a.js?v=1"),
                      "https://docs.example/a.js");
  assert_int_equal(pagekey_resource(1, "docs.example", "a.js", buf,
                                    sizeof(buf)), -1);
  assert_int_equal(pagekey_resource(1, "docs.example", "/a b", buf,
                                    sizeof(buf)), -1);
  char small[24];
  assert_int_equal(pagekey_resource(0, "docs.example", "/a.js?v=123456",
                                    small, sizeof(small)), -1);

  assert_int_equal(pagekey_resource_from_url(
                       "HTTPS://Docs.Example/_static/t.css?v=7#x", buf,
                       sizeof(buf)),
                   (int)strlen("https://docs.example/_static/t.css?v=7"));
  assert_string_equal(buf, "https://docs.example/_static/t.css?v=7");
  assert_int_equal(pagekey_resource_from_url("ftp://x/", buf, sizeof(buf)),
                   -1);
}

static void test_is_origin(void **state) {
  (void)state;
  assert_true(pagekey_is_origin("https://docs.example/"));
  assert_true(pagekey_is_origin("http://docs.example:8080/"));
  assert_false(pagekey_is_origin("https://docs.example/?q=1"));
  assert_false(pagekey_is_origin("https://docs.example/index.html"));
  assert_false(pagekey_is_origin("docs.example/"));
  assert_false(pagekey_is_origin(""));
  /* An origin-only Referer ("https://host" or "https://host/") becomes
   * the root's key either way. */
  assert_int_equal(pagekey_resource_from_url("https://docs.example", buf,
                                             sizeof(buf)),
                   (int)strlen("https://docs.example/"));
  assert_true(pagekey_is_origin(buf));
}

/* Level keys: a section is the first N path segments of a page below
 * them, a site the origin; both end in two stars, which no page key holds. */
static void test_level_keys(void **state) {
  (void)state;
  char out[PAGEKEY_MAX];
  const struct {
    const char *key;
    int depth;
    const char *want; /* NULL: no section */
  } sec[] = {
      {"https://d.example/docs/install.html", 1, "https://d.example/docs/**"},
      {"https://d.example/docs/", 1, "https://d.example/docs/**"},
      {"https://d.example/docs/a/b.html", 2, "https://d.example/docs/a/**"},
      {"https://d.example/docs/a/b.html", 1, "https://d.example/docs/**"},
      {"https://d.example/product/:id", 1, "https://d.example/product/**"},
      {"https://d.example/list/x?id=7", 1, "https://d.example/list/**"},
      {"https://d.example/docs", 1, NULL},
      {"https://d.example/", 1, NULL},
      {"https://d.example/docs/a.html", 2, NULL},
      {"https://d.example/docs/a.html", 0, NULL},
      {"not a key", 1, NULL},
  };
  for (size_t i = 0; i < sizeof(sec) / sizeof(sec[0]); i++) {
    int n = pagekey_section(sec[i].key, sec[i].depth, out, sizeof(out));
    if (sec[i].want == NULL) {
      assert_int_equal(n, -1);
    } else {
      assert_int_equal(n, (int)strlen(sec[i].want));
      assert_string_equal(out, sec[i].want);
    }
  }
  assert_int_equal(pagekey_site("https://d.example:8443/docs/a?x", out,
                                sizeof(out)),
                   (int)strlen("https://d.example:8443/**"));
  assert_string_equal(out, "https://d.example:8443/**");
  assert_int_equal(pagekey_site("https://d.example/", out, sizeof(out)),
                   (int)strlen("https://d.example/**"));
  assert_int_equal(pagekey_site("d.example", out, sizeof(out)), -1);
  char tiny[8];
  assert_int_equal(pagekey_site("https://d.example/", tiny, sizeof(tiny)),
                   -1);
}

/* Operator scopes: a key matches itself; a pattern matches keys of its
 * origin whose path it globs, level keys included. */
static void test_scope_matches(void **state) {
  (void)state;
  const struct {
    const char *scope, *key;
    int want;
  } cases[] = {
      {"https://d.example/", "https://d.example/", 1},
      {"https://d.example/", "https://d.example/x", 0},
      {"https://d.example/**", "https://d.example/", 1},
      {"https://d.example/**", "https://d.example/docs/a.html", 1},
      {"https://d.example/**", "https://d.example/**", 1},
      {"https://d.example/**", "http://d.example/", 0},
      {"https://d.example/**", "https://e.example/", 0},
      {"https://d.example/docs/**", "https://d.example/docs/a/b.html", 1},
      {"https://d.example/docs/**", "https://d.example/docs/**", 1},
      {"https://d.example/docs/**", "https://d.example/blog/a", 0},
      {"https://d.example/product/*", "https://d.example/product/123", 1},
      {"https://d.example/product/*", "https://d.example/product/:id", 1},
      {"https://d.example/product/*", "https://d.example/product/1/x", 0},
      {"https://d.example/*.html", "https://d.example/faq.html", 1},
      {"https://d.example/*.html", "https://d.example/docs/faq.html", 0},
      {"https://d.example/p?id=*", "https://d.example/p?id=7", 1},
      {NULL, "https://d.example/", 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    assert_int_equal(pagekey_scope_matches(cases[i].scope, cases[i].key),
                     cases[i].want);
}

static void test_template_fold(void **state) {
  (void)state;
  assert_string_equal(tmpl(NULL, "https://e.com/product/123"),
                      "https://e.com/product/:id");
  assert_string_equal(
      tmpl(NULL,
           "https://e.com/u/550e8400-e29b-41d4-A716-446655440000/edit"),
      "https://e.com/u/:id/edit");
  assert_string_equal(tmpl(NULL, "https://e.com/c/0123456789abcdef"),
                      "https://e.com/c/:id");
  assert_string_equal(tmpl(NULL, "https://e.com/1/2/x/3"),
                      "https://e.com/:id/:id/x/:id");
  /* Short hex, words with digits and near-UUIDs stay. */
  assert_string_equal(tmpl(NULL, "https://e.com/cafe/deadbeef/v2/abc123"),
                      "https://e.com/cafe/deadbeef/v2/abc123");
  assert_string_equal(
      tmpl(NULL, "https://e.com/550e8400-e29b-41d4-a716-44665544000g"),
      "https://e.com/550e8400-e29b-41d4-a716-44665544000g");
  assert_string_equal(tmpl(NULL, "https://e.com/0123456789abcde"),
                      "https://e.com/0123456789abcde");
  /* Nothing to fold: the template is the key. */
  assert_string_equal(tmpl(NULL, "https://e.com/"), "https://e.com/");
  assert_string_equal(tmpl(NULL, "https://e.com/a/b/"), "https://e.com/a/b/");
  assert_string_equal(tmpl(NULL, "https://e.com:8443/a//b"),
                      "https://e.com:8443/a//b");
  /* The query (kept params only, as in the key) stays. */
  assert_string_equal(tmpl(NULL, "https://e.com/p/42?id=7"),
                      "https://e.com/p/:id?id=7");
  assert_null(tmpl(NULL, "not a key"));
  assert_null(tmpl(NULL, "https://e.com"));
}

static void test_template_patterns(void **state) {
  (void)state;
  struct pagekey_config cfg = {
      .patterns = {"/blog/*/comments", "/product/*", "/product/*/reviews"},
      .npatterns = 3,
  };
  /* A configured pattern wins over folding. */
  assert_string_equal(tmpl(&cfg, "https://e.com/product/blue-shirt"),
                      "https://e.com/product/*");
  assert_string_equal(tmpl(&cfg, "https://e.com/product/123"),
                      "https://e.com/product/*");
  assert_string_equal(tmpl(&cfg, "https://e.com/product/9/reviews?id=1"),
                      "https://e.com/product/*/reviews?id=1");
  assert_string_equal(tmpl(&cfg, "https://e.com/blog/hello/comments"),
                      "https://e.com/blog/*/comments");
  /* '*' is one non-empty segment, and the whole path must match. */
  assert_string_equal(tmpl(&cfg, "https://e.com/product/"),
                      "https://e.com/product/");
  assert_string_equal(tmpl(&cfg, "https://e.com/product/a/b"),
                      "https://e.com/product/a/b");
  assert_string_equal(tmpl(&cfg, "https://e.com/product/12/b"),
                      "https://e.com/product/:id/b");
  assert_string_equal(tmpl(&cfg, "https://e.com/products/12"),
                      "https://e.com/products/:id");
  assert_string_equal(tmpl(&cfg, "https://e.com/blog/x/comments/"),
                      "https://e.com/blog/x/comments/");
  /* The first matching pattern wins. */
  struct pagekey_config order = {.patterns = {"/*/x", "/a/*"},
                                 .npatterns = 2};
  assert_string_equal(tmpl(&order, "https://e.com/a/x"), "https://e.com/*/x");
  struct pagekey_config root = {.patterns = {"/"}, .npatterns = 1};
  assert_string_equal(tmpl(&root, "https://e.com/"), "https://e.com/");
  assert_string_equal(tmpl(&root, "https://e.com/7"), "https://e.com/:id");
}

static void test_is_mobile(void **state) {
  (void)state;
  const char *iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS "
                       "X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1";
  const char *desk = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0";
  const char *ffa = "Mozilla/5.0 (Android 14; Mobile; rv:120.0) Firefox";
  assert_true(pagekey_is_mobile("?1", 2, desk, strlen(desk)));
  assert_false(pagekey_is_mobile("?0", 2, iphone, strlen(iphone)));
  assert_true(pagekey_is_mobile(" ?1 ", 4, NULL, 0));
  assert_true(pagekey_is_mobile(NULL, 0, iphone, strlen(iphone)));
  assert_true(pagekey_is_mobile(NULL, 0, ffa, strlen(ffa)));
  assert_false(pagekey_is_mobile(NULL, 0, desk, strlen(desk)));
  assert_false(pagekey_is_mobile(NULL, 0, NULL, 0));
  /* An unknown hint falls back to the User-Agent. */
  assert_true(pagekey_is_mobile("?2", 2, iphone, strlen(iphone)));
  assert_false(pagekey_is_mobile("", 0, desk, strlen(desk)));
  /* Case matters, and |ua_len| bounds the search. */
  assert_false(pagekey_is_mobile(NULL, 0, "xmobi", 5));
  assert_false(pagekey_is_mobile(NULL, 0, "abcMobi", 6));
  assert_true(pagekey_is_mobile(NULL, 0, "Mobi", 4));
}


/* Paths that may be named to a client as the page's own resources. */
static void test_path_safe(void **state) {
  (void)state;
  static const char *const good[] = {
      "/", "/a.js", "/css/shop.css?v=3", "/a/b/c.png",
      "/x.js?a=1&b=%2F;c,d=(e)*f+g!$'@:", "/a//b.js", "/.well-known/x",
      "/a/.../b", "/a|b^c{d}e[f]g`h", "/caf\xc3\xa9.js", "/p?q=//x.example/",
      "/p?next=/../x", "/%41%7e",
  };
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    if (!pagekey_path_safe(good[i], strlen(good[i])))
      fail_msg("should be safe: %s", good[i]);
  }
  static const char *const bad[] = {
      "", "x.js", "//evil.example/x.js", "//", "/\\evil.example/x.js",
      "/a\\b.js", "/a.js>;rel=preload,<//evil.example/b.js", "/a<b",
      "/a\"b", "/a b", "/a\tb", "/a\r\nLink: x", "/a\x7f", "/a#frag",
      "/a/../x.js", "/..", "/./x", "/a/%2e%2E/x", "/a/.%2e", "/%2e/x",
      "/a%", "/a%4", "/a%zz", "/x?q=%g1", "/x?q=<script>", "/x?q=a b",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    if (pagekey_path_safe(bad[i], strlen(bad[i])))
      fail_msg("should be refused: %s", bad[i]);
  }
  /* A NUL inside is refused, not cut short. */
  assert_false(pagekey_path_safe("/a\0//evil", 10));
}

static void test_rule_ok(void **state) {
  (void)state;
  const char *page = "https://shop.example/product/:id";
  assert_true(pagekey_rule_ok(page, "https://shop.example/css/a.css"));
  assert_true(pagekey_rule_ok(page, "https://shop.example/a.js?v=1"));
  assert_true(pagekey_rule_ok("http://127.0.0.1:8080/",
                              "http://127.0.0.1:8080/x.js"));
  /* Another origin: host, scheme or port. */
  assert_false(pagekey_rule_ok(page, "https://evil.example/x.js"));
  assert_false(pagekey_rule_ok(page, "http://shop.example/x.js"));
  assert_false(pagekey_rule_ok(page, "https://shop.example:8443/x.js"));
  assert_false(pagekey_rule_ok(page, "https://shop.example.evil/x.js"));
  assert_false(pagekey_rule_ok(page, "https://shop.exampl/x.js"));
  /* The origin is right but the path names another host or breaks out. */
  assert_false(pagekey_rule_ok(page, "https://shop.example//evil.example/x"));
  assert_false(pagekey_rule_ok(page, "https://shop.example/\\evil.example/x"));
  assert_false(pagekey_rule_ok(
      page, "https://shop.example/a.js>;rel=preload,<//evil.example/b.js"));
  /* Not keys at all. */
  assert_false(pagekey_rule_ok(page, "https://shop.example"));
  assert_false(pagekey_rule_ok(page, "/x.js"));
  assert_false(pagekey_rule_ok("/", "/x.js"));
  assert_false(pagekey_rule_ok("", ""));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_make_basic),
      cmocka_unit_test(test_make_authority),
      cmocka_unit_test(test_make_rejects),
      cmocka_unit_test(test_make_query_and_fragment),
      cmocka_unit_test(test_make_keep_params),
      cmocka_unit_test(test_from_url),
      cmocka_unit_test(test_from_url_rejects),
      cmocka_unit_test(test_resource_exact),
      cmocka_unit_test(test_is_origin),
      cmocka_unit_test(test_level_keys),
      cmocka_unit_test(test_scope_matches),
      cmocka_unit_test(test_template_fold),
      cmocka_unit_test(test_template_patterns),
      cmocka_unit_test(test_is_mobile),
      cmocka_unit_test(test_path_safe),
      cmocka_unit_test(test_rule_ok),
  };
  return cmocka_run_group_tests_name("pagekey", tests, NULL, NULL);
}
