/* test_linkfield.c: reading a backend's Link field values (RFC 8288):
 * relation lists, parameters, quoted values, several links per field,
 * and input a hostile or broken backend may send. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/linkfield.h"

#define MAXL 16

static struct linkfield got[MAXL];

/* parse reads |v| whole into got[] and returns how many link-values it
 * read; |*status| is the last linkfield_next result (0 end, -1 broken). */
static size_t parse(const char *v, int *status) {
  size_t pos = 0, n = 0;
  int rv;
  while (n < MAXL && (rv = linkfield_next(v, strlen(v), &pos, &got[n])) == 1) {
    assert_true(pos <= strlen(v));
    n++;
  }
  if (status != NULL)
    *status = n < MAXL ? rv : 1;
  return n;
}

static void target_is(size_t i, const char *want) {
  char t[256];
  snprintf(t, sizeof(t), "%.*s", (int)got[i].target_len, got[i].target);
  assert_string_equal(t, want);
}

static void test_one_preload(void **state) {
  (void)state;
  int st;
  assert_int_equal(parse("</css/a.css>; rel=preload; as=style", &st), 1);
  assert_int_equal(st, 0);
  target_is(0, "/css/a.css");
  assert_int_equal(got[0].rels, LINKFIELD_REL_PRELOAD);
  assert_string_equal(got[0].as, "style");
  assert_int_equal(got[0].cors, LINKFIELD_CORS_NONE);
  assert_int_equal(got[0].anchor, 0);
  assert_int_equal(got[0].nopush, 0);
}

static void test_rel_lists_and_case(void **state) {
  (void)state;
  assert_int_equal(parse("</a>; REL=\"Preload  stylesheet\"; As=STYLE", NULL),
                   1);
  assert_int_equal(got[0].rels,
                   LINKFIELD_REL_PRELOAD | LINKFIELD_REL_OTHER);
  assert_string_equal(got[0].as, "style");
  assert_int_equal(parse("<https://cdn.example>; rel=preconnect", NULL), 1);
  assert_int_equal(got[0].rels, LINKFIELD_REL_PRECONNECT);
  assert_int_equal(parse("</m.js>; rel=modulepreload", NULL), 1);
  assert_int_equal(got[0].rels, LINKFIELD_REL_MODULEPRELOAD);
  /* Only the first rel counts (RFC 8288 3.3). */
  assert_int_equal(parse("</a>; rel=stylesheet; rel=preload; as=style",
                         NULL), 1);
  assert_int_equal(got[0].rels, LINKFIELD_REL_OTHER);
  /* No rel at all. */
  assert_int_equal(parse("</a>; as=style", NULL), 1);
  assert_int_equal(got[0].rels, 0);
}

static void test_params(void **state) {
  (void)state;
  assert_int_equal(parse("</f.woff2>; rel=preload; as=font; crossorigin",
                         NULL), 1);
  assert_int_equal(got[0].cors, LINKFIELD_CORS_ANONYMOUS);
  assert_int_equal(parse("</f>; rel=preload; crossorigin=use-credentials",
                         NULL), 1);
  assert_int_equal(got[0].cors, LINKFIELD_CORS_CREDENTIALS);
  assert_int_equal(parse("</f>; crossorigin=\"anonymous\"", NULL), 1);
  assert_int_equal(got[0].cors, LINKFIELD_CORS_ANONYMOUS);
  assert_int_equal(parse("</f>; crossorigin=whatever", NULL), 1);
  assert_int_equal(got[0].cors, LINKFIELD_CORS_ANONYMOUS);
  assert_int_equal(parse("</x>; rel=preload; as=script; nopush", NULL), 1);
  assert_int_equal(got[0].nopush, 1);
  assert_int_equal(parse("</x>; rel=preload; anchor=\"/other\"", NULL), 1);
  assert_int_equal(got[0].anchor, 1);
  /* Whitespace around ';' and '=' (OWS, BWS), empty parameters, and
   * parameters herald does not know. */
  assert_int_equal(parse("</x> ;\trel = preload ;; type=\"text/css\" ;"
                         " media=\"(min-width: 1px)\" ; as = style",
                         NULL), 1);
  assert_int_equal(got[0].rels, LINKFIELD_REL_PRELOAD);
  assert_string_equal(got[0].as, "style");
  /* An as= too long for its field is no as=. */
  assert_int_equal(parse("</x>; rel=preload; as=stylestylestylestyle", NULL),
                   1);
  assert_string_equal(got[0].as, "");
}

static void test_quoted_values(void **state) {
  (void)state;
  /* Quoted-pairs are unescaped; ',' and ';' inside quotes end nothing. */
  assert_int_equal(parse("</a>; title=\"x, y; \\\"z\\\"\"; rel=\"pre\\load\";"
                         " as=\"sty\\le\", </b>; rel=preload; as=script",
                         NULL), 2);
  assert_int_equal(got[0].rels, LINKFIELD_REL_PRELOAD);
  assert_string_equal(got[0].as, "style");
  target_is(1, "/b");
  assert_string_equal(got[1].as, "script");
}

static void test_several_links(void **state) {
  (void)state;
  int st;
  /* Commas inside <...> do not split; empty elements are skipped. */
  assert_int_equal(parse(" , </a,b.css>; rel=preload; as=style,,"
                         "<https://x.example/c.js?q=1,2>; rel=preload;"
                         " as=script , </d>", &st), 3);
  assert_int_equal(st, 0);
  target_is(0, "/a,b.css");
  target_is(1, "https://x.example/c.js?q=1,2");
  assert_string_equal(got[1].as, "script");
  target_is(2, "/d");
  assert_int_equal(got[2].rels, 0);
  /* Each link-value's parameters are its own. */
  assert_int_equal(parse("</a>; rel=preload; as=font; crossorigin, </b>",
                         NULL), 2);
  assert_int_equal(got[1].cors, LINKFIELD_CORS_NONE);
  assert_string_equal(got[1].as, "");
}

static void test_hostile(void **state) {
  (void)state;
  /* Broken from some point on: what came before stands, the rest of
   * the value is refused. */
  static const struct {
    const char *v;
    size_t good;
  } cases[] = {
      {"", 0},
      {"   ", 0},
      {"/a.css; rel=preload", 0},            /* no <...> */
      {"<unterminated; rel=preload", 0},     /* no '>' */
      {"</a>; rel=\"preload", 0},            /* unterminated quote */
      {"</a>; rel=\"preload\\", 0},          /* escape at the end */
      {"</a>; =style", 0},                   /* no parameter name */
      {"</a>; rel=preload junk", 0},         /* junk after a value */
      {"</a> junk; rel=preload", 0},         /* junk after the target */
      {"</a>; r\"el=preload", 0},            /* not a token */
      {"</a>; rel=preload, junk, </b>", 1},  /* a broken second link */
      {"</a>; rel=preload, <</b>>; rel=preload", 1},
      {"</a>; rel=preload, </b>; rel=\"x", 1},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int st;
    size_t n = parse(cases[i].v, &st);
    if (n != cases[i].good)
      fail_msg("\"%s\": %zu links, want %zu", cases[i].v, n, cases[i].good);
    if (st != (cases[i].v[strspn(cases[i].v, " ")] == '\0' ? 0 : -1))
      fail_msg("\"%s\": status %d", cases[i].v, st);
  }
  /* A target may be empty, and hold anything but '>': whoever uses it
   * checks it (proxy/hints.h). */
  assert_int_equal(parse("<>; rel=preload, <\r\n\"x>; rel=preload", NULL), 2);
  assert_int_equal(got[0].target_len, 0);
  target_is(1, "\r\n\"x");
  /* A long value is read whole, but never copied past its field. */
  char big[8192];
  int k = snprintf(big, sizeof(big), "</a>; rel=\"");
  memset(big + k, 'p', sizeof(big) - (size_t)k - 40);
  snprintf(big + sizeof(big) - 40, 40, "\"; as=style, </b>; rel=preload");
  assert_int_equal(parse(big, NULL), 2);
  assert_int_equal(got[0].rels, LINKFIELD_REL_OTHER);
  assert_string_equal(got[0].as, "style");
  assert_int_equal(got[1].rels, LINKFIELD_REL_PRELOAD);
  /* Only |n| bytes are read: a value cut mid-link (no NUL after it). */
  const char cut[] = "</a>; rel=preload; as=style</b>";
  size_t pos = 0;
  struct linkfield lf;
  assert_int_equal(linkfield_next(cut, 9, &pos, &lf), 1);
  assert_int_equal(lf.rels, 0); /* "; rel" without '=': no rel yet */
  assert_int_equal(pos, 9);
  assert_int_equal(linkfield_next(cut, 9, &pos, &lf), 0);
  pos = 0;
  assert_int_equal(linkfield_next(cut, 12, &pos, &lf), 1);
  assert_int_equal(lf.rels, LINKFIELD_REL_OTHER); /* "pr" */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_one_preload),
      cmocka_unit_test(test_rel_lists_and_case),
      cmocka_unit_test(test_params),
      cmocka_unit_test(test_quoted_values),
      cmocka_unit_test(test_several_links),
      cmocka_unit_test(test_hostile),
  };
  return cmocka_run_group_tests_name("linkfield", tests, NULL, NULL);
}
