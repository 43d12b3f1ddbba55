/* test_attribution.c: from observed requests to page visits. Each case
 * feeds struct obs records as the recorder would and checks what
 * attrib_flush / attrib_expire emit. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "learner/attribution.h"

#define HOST "shop.example"
#define URL "https://" HOST
#define T0 1700000000000ull /* a wall-clock start, Unix ms */

/* ---- collecting what is emitted ----------------------------------------- */

#define MAXV 32
#define MAXR 32

static struct visit got[MAXV];
static struct visit_req got_reqs[MAXV][MAXR];
static struct visit_declared got_decl[MAXV][OBS_DECLARED_MAX];
static size_t ngot;

static void collect(void *ud, struct visit *v) {
  (void)ud;
  assert_true(ngot < MAXV);
  assert_true(v->nreqs <= MAXR);
  assert_true(v->ndeclared <= OBS_DECLARED_MAX);
  got[ngot] = *v;
  if (v->nreqs > 0)
    memcpy(got_reqs[ngot], v->reqs, v->nreqs * sizeof(*v->reqs));
  got[ngot].reqs = got_reqs[ngot];
  if (v->ndeclared > 0)
    memcpy(got_decl[ngot], v->declared, v->ndeclared * sizeof(*v->declared));
  got[ngot].declared = got_decl[ngot];
  ngot++;
}

static int setup(void **state) {
  (void)state;
  ngot = 0;
  memset(got, 0, sizeof(got));
  return 0;
}

static void flush(struct attrib *a) { attrib_flush(a, collect, NULL); }

/* req_index finds the resource with path |path| on HOST, or -1. */
static int req_index(const struct visit *v, const char *path) {
  char k[PAGEKEY_MAX];
  snprintf(k, sizeof(k), "%s%s", URL, path);
  for (size_t i = 0; i < v->nreqs; i++)
    if (strcmp(v->reqs[i].key, k) == 0)
      return (int)i;
  return -1;
}

/* find_visit returns the emitted visit of page |path| started at |start|. */
static const struct visit *find_visit(const char *path, uint64_t start) {
  char k[PAGEKEY_MAX];
  snprintf(k, sizeof(k), "%s%s", URL, path);
  for (size_t i = 0; i < ngot; i++)
    if (strcmp(got[i].page_key, k) == 0 && got[i].start_ms == start)
      return &got[i];
  return NULL;
}

/* ---- building observations ---------------------------------------------- */

static struct attrib *new_attrib(void) {
  struct attrib_config cfg = {.window_ms = 5000};
  return attrib_new(&cfg);
}

static void set_client(struct obs *o, int client) {
  memset(o->client_token, 0, sizeof(o->client_token));
  o->client_token[0] = (uint8_t)client;
  o->client_token[15] = 0xab;
}

/* navreq is a browser navigation to |path| on an HTTP/2 connection. */
static struct obs navreq(int client, uint64_t conn, uint64_t stream,
                         uint64_t start, const char *path) {
  struct obs o;
  memset(&o, 0, sizeof(o));
  o.kind = OBS_NAV_START;
  o.dest = OBS_DEST_DOCUMENT;
  o.flags = OBS_F_TLS | OBS_F_H2 | OBS_F_NAVIGATE | OBS_F_SEC_FETCH |
            OBS_F_ACCEPT_HTML;
  o.start_ms = start;
  o.conn_id = conn;
  o.stream_id = stream;
  set_client(&o, client);
  strcpy(o.method, "GET");
  strcpy(o.authority, HOST);
  snprintf(o.path, sizeof(o.path), "%s", path);
  return o;
}

/* nav_done turns a NAV_START into its successful OBS_DONE. */
static struct obs nav_done(struct obs o) {
  o.kind = OBS_DONE;
  o.status = 200;
  o.flags |= OBS_F_HTML;
  o.end_ms = o.start_ms + 100;
  o.bytes = 10000;
  strcpy(o.content_type, "text/html");
  return o;
}

/* page_visit adds a whole, successful navigation. */
static void page_visit(struct attrib *a, int client, uint64_t conn,
                       uint64_t stream, uint64_t start, const char *path) {
  struct obs o = navreq(client, conn, stream, start, path);
  attrib_add(a, &o);
  o = nav_done(o);
  attrib_add(a, &o);
}

/* subreq is a finished subresource request; |ref| is a path on HOST (""
 * for no Referer, or a full URL if it has a scheme). */
static struct obs subreq(int client, uint64_t conn, uint64_t stream,
                         uint64_t start, const char *path, const char *ref,
                         uint8_t dest, const char *ctype) {
  struct obs o;
  memset(&o, 0, sizeof(o));
  o.kind = OBS_DONE;
  o.dest = dest;
  o.status = 200;
  o.flags = OBS_F_TLS | OBS_F_H2 | OBS_F_SEC_FETCH;
  o.start_ms = start;
  o.end_ms = start + 50;
  o.conn_id = conn;
  o.stream_id = stream;
  o.bytes = 1000;
  set_client(&o, client);
  strcpy(o.method, "GET");
  strcpy(o.authority, HOST);
  snprintf(o.path, sizeof(o.path), "%s", path);
  if (strstr(ref, "://") != NULL || ref[0] == '\0' || ref[0] != '/')
    snprintf(o.referer, sizeof(o.referer), "%s", ref);
  else
    snprintf(o.referer, sizeof(o.referer), "%s%s", URL, ref);
  snprintf(o.content_type, sizeof(o.content_type), "%s", ctype);
  return o;
}

static void add_sub(struct attrib *a, int client, uint64_t conn,
                    uint64_t stream, uint64_t start, const char *path,
                    const char *ref, uint8_t dest, const char *ctype) {
  struct obs o = subreq(client, conn, stream, start, path, ref, dest, ctype);
  attrib_add(a, &o);
}

/* ---- cases -------------------------------------------------------------- */

static void test_basic_visit(void **state) {
  (void)state;
  struct attrib *a = new_attrib();
  page_visit(a, 1, 10, 1, T0, "/");
  add_sub(a, 1, 10, 3, T0 + 120, "/site.css", "/", OBS_DEST_STYLE,
          "text/css");
  add_sub(a, 1, 10, 5, T0 + 130, "/app.js", "/", OBS_DEST_SCRIPT,
          "text/javascript");
  add_sub(a, 1, 10, 7, T0 + 400, "/logo.png", "/", OBS_DEST_IMAGE,
          "image/png");
  assert_int_equal(attrib_pending(a), 1);
  flush(a);
  assert_int_equal(attrib_pending(a), 0);
  assert_int_equal(ngot, 1);
  const struct visit *v = &got[0];
  assert_string_equal(v->page_key, URL "/");
  assert_string_equal(v->template_key, URL "/");
  assert_int_equal(v->start_ms, T0);
  assert_int_equal(v->client_token[0], 1);
  assert_int_equal(v->client_token[15], 0xab);
  assert_int_equal(v->mobile, 0);
  assert_int_equal(v->nreqs, 3);
  /* The image ends last, at +450. */
  assert_int_equal(v->load_ms, 450);
  assert_int_equal(v->bytes, 10000 + 3 * 1000);
  assert_string_equal(v->reqs[0].key, URL "/site.css");
  assert_string_equal(v->reqs[1].key, URL "/app.js");
  assert_string_equal(v->reqs[2].key, URL "/logo.png");
  for (size_t i = 0; i < 3; i++) {
    assert_int_equal(v->reqs[i].depth, 1);
    assert_int_equal(v->reqs[i].parent, -1);
    assert_int_equal(v->reqs[i].flags, VISIT_REQ_PUSHABLE);
    assert_int_equal(v->reqs[i].status, 200);
    assert_int_equal(v->reqs[i].bytes, 1000);
    assert_string_equal(v->reqs[i].method, "GET");
  }
  assert_int_equal(v->reqs[0].dest, OBS_DEST_STYLE);
  assert_int_equal(v->reqs[1].dest, OBS_DEST_SCRIPT);
  assert_int_equal(v->reqs[2].dest, OBS_DEST_IMAGE);
  assert_string_equal(v->reqs[0].content_type, "text/css");
  assert_int_equal(v->reqs[0].delay_ms, 120);
  assert_int_equal(v->reqs[2].delay_ms, 400);
  struct attrib_stats st;
  attrib_get_stats(a, &st);
  assert_int_equal(st.visits_started, 1);
  assert_int_equal(st.visits_confirmed, 1);
  assert_int_equal(st.visits_emitted, 1);
  assert_int_equal(st.reqs_attributed, 3);
  attrib_free(a);
}

static void test_depth_chain(void **state) {
  (void)state;
  struct attrib *a = new_attrib();
  page_visit(a, 1, 10, 1, T0, "/");
  add_sub(a, 1, 10, 3, T0 + 100, "/app.js", "/", OBS_DEST_SCRIPT,
          "text/javascript");
  add_sub(a, 1, 10, 5, T0 + 110, "/site.css?v=3", "/", OBS_DEST_STYLE,
          "text/css");
  /* The font's Referer is the stylesheet's full URL, query included. */
  add_sub(a, 1, 10, 7, T0 + 200, "/f/sans.woff2", "/site.css?v=3",
          OBS_DEST_FONT, "font/woff2");
  add_sub(a, 1, 10, 9, T0 + 210, "/more.css", "/site.css?v=3",
          OBS_DEST_STYLE, "text/css");
  add_sub(a, 1, 10, 11, T0 + 300, "/bg.png", "/more.css", OBS_DEST_IMAGE,
          "image/png");
  flush(a);
  assert_int_equal(ngot, 1);
  const struct visit *v = &got[0];
  assert_int_equal(v->nreqs, 5);
  int css = req_index(v, "/site.css?v=3");
  int font = req_index(v, "/f/sans.woff2");
  int more = req_index(v, "/more.css"), bg = req_index(v, "/bg.png");
  assert_int_equal(css, 1);
  assert_int_equal(v->reqs[font].depth, 2);
  assert_int_equal(v->reqs[font].parent, css);
  assert_int_equal(v->reqs[more].depth, 2);
  assert_int_equal(v->reqs[more].parent, css);
  assert_int_equal(v->reqs[bg].depth, 3);
  assert_int_equal(v->reqs[bg].parent, more);
  assert_int_equal(v->reqs[req_index(v, "/app.js")].depth, 1);
  attrib_free(a);
}

static void test_out_of_order(void **state) {
  (void)state;
  struct attrib *a = new_attrib();
  page_visit(a, 1, 10, 1, T0, "/");
  /* page -> a.css -> b.css (@import) -> font, finishing in reverse. */
  add_sub(a, 1, 10, 9, T0 + 300, "/font.woff", "/b.css", OBS_DEST_FONT,
          "font/woff");
  assert_int_equal(attrib_held(a), 1);
  add_sub(a, 1, 10, 7, T0 + 200, "/b.css", "/a.css", OBS_DEST_STYLE,
          "text/css");
  assert_int_equal(attrib_held(a), 2);
  add_sub(a, 1, 10, 5, T0 + 100, "/a.css", "/", OBS_DEST_STYLE, "text/css");
  assert_int_equal(attrib_held(a), 0);
  flush(a);
  assert_int_equal(ngot, 1);
  const struct visit *v = &got[0];
  assert_int_equal(v->nreqs, 3);
  int ac = req_index(v, "/a.css"), bc = req_index(v, "/b.css");
  int font = req_index(v, "/font.woff");
  assert_int_equal(ac, 0);
  assert_int_equal(v->reqs[ac].depth, 1);
  assert_int_equal(v->reqs[bc].depth, 2);
  assert_int_equal(v->reqs[bc].parent, ac);
  assert_int_equal(v->reqs[font].depth, 3);
  assert_int_equal(v->reqs[font].parent, bc);
  /* The delay is from the request start, not from when it finished. */
  assert_int_equal(v->reqs[font].delay_ms, 300);
  struct attrib_stats st;
  attrib_get_stats(a, &st);
  assert_int_equal(st.reqs_held, 2);
  attrib_free(a);
}

/* A visit lists its requests in the order the client made them: by start,
 * then connection and stream (fonts asked for in one write start in the
 * same millisecond, in the order the page needs them), whatever order
 * they finish in; parents point at their new places. */
static void test_emit_order(void **state) {
  (void)state;
  struct attrib *a = new_attrib();
  page_visit(a, 1, 10, 1, T0, "/");
  /* Finished (added) last to first. */
  static const struct {
    uint64_t stream, at;
    const char *path, *ref;
    uint8_t dest;
  } done[] = {
      {13, 300, "/f/b.woff2", "/site.css", OBS_DEST_FONT},
      {11, 300, "/f/a.woff2", "/site.css", OBS_DEST_FONT},
      {9, 120, "/big.js", "/", OBS_DEST_SCRIPT},
      {7, 120, "/site.css", "/", OBS_DEST_STYLE},
      {3, 110, "/first.css", "/", OBS_DEST_STYLE},
  };
  for (size_t i = 0; i < sizeof(done) / sizeof(done[0]); i++)
    add_sub(a, 1, 10, done[i].stream, T0 + done[i].at, done[i].path,
            done[i].ref, done[i].dest, "");
  flush(a);
  assert_int_equal(ngot, 1);
  const struct visit *v = &got[0];
  assert_int_equal(v->nreqs, 5);
  const char *want[] = {"/first.css", "/site.css", "/big.js", "/f/a.woff2",
                        "/f/b.woff2"};
  for (int i = 0; i < 5; i++)
    assert_int_equal(req_index(v, want[i]), i);
  assert_int_equal(v->reqs[3].parent, 1);
  assert_int_equal(v->reqs[4].parent, 1);
  assert_int_equal(v->reqs[1].parent, -1);
  attrib_free(a);
}

static void test_window(void **state) {
  (void)state;
  struct attrib *a = new_attrib(); /* 5 s */
  page_visit(a, 1, 10, 1, T0, "/");
  add_sub(a, 1, 10, 3, T0 + 4999, "/in.js", "/", OBS_DEST_SCRIPT,
          "text/javascript");
  add_sub(a, 1, 10, 5, T0 + 5000, "/edge.js", "/", OBS_DEST_SCRIPT,
          "text/javascript");
  add_sub(a, 1, 10, 7, T0 + 6000, "/late.js", "/", OBS_DEST_SCRIPT,
          "text/javascript");
  /* Nothing covers the late ones, so nothing could match them later. */
  assert_int_equal(attrib_held(a), 0);
  flush(a);
  assert_int_equal(ngot, 1);
  assert_int_equal(got[0].nreqs, 1);
  assert_string_equal(got[0].reqs[0].key, URL "/in.js");
  attrib_free(a);
}

static void test_cross_origin(void **state) {
  (void)state;
  struct attrib *a = new_attrib();
  page_visit(a, 1, 10, 1, T0, "/");
  struct obs o = subreq(1, 10, 3, T0 + 100, "/lib.js", "/", OBS_DEST_SCRIPT,
                        "text/javascript");
  strcpy(o.authority, "cdn.example");
  attrib_add(a, &o);
  /* Another spelling of the same authority is the same authority. */
  o = subreq(1, 10, 5, T0 + 100, "/same.js", "/", OBS_DEST_SCRIPT,
             "text/javascript");
  strcpy(o.authority, "SHOP.Example:443");
  attrib_add(a, &o);
  /* Same host, other port: another authority. */
  o = subreq(1, 10, 7, T0 + 100, "/port.js", "/", OBS_DEST_SCRIPT,
             "text/javascript");
  strcpy(o.authority, HOST ":8443");
  attrib_add(a, &o);
  assert_int_equal(attrib_held(a), 0);
  flush(a);
  assert_int_equal(ngot, 1);
  assert_int_equal(got[0].nreqs, 1);
  assert_string_equal(got[0].reqs[0].key, URL "/same.js");
  attrib_free(a);
}

static void test_other_client(void **state) {
  (void)state;
  struct attrib *a = new_attrib();
  page_visit(a, 1, 10, 1, T0, "/");
  /* Client 2 follows a link someone shared: same Referer, not our visit.
   * Its client has no visit, so nothing is held either. */
  add_sub(a, 2, 20, 3, T0 + 100, "/x.js", "/", OBS_DEST_SCRIPT,
          "text/javascript");
  add_sub(a, 2, 10, 3, T0 + 100, "/y.js", "", OBS_DEST_SCRIPT,
          "text/javascript");
  assert_int_equal(attrib_held(a), 0);
  flush(a);
  assert_int_equal(ngot, 1);
  assert_int_equal(got[0].nreqs, 0);
  attrib_free(a);
}

static void test_navigation_in_middle(void **state) {
  (void)state;
  struct attrib *a = new_attrib();
  page_visit(a, 1, 10, 1, T0, "/one");
  add_sub(a, 1, 10, 3, T0 + 100, "/one.css", "/one", OBS_DEST_STYLE,
          "text/css");
  /* The user clicks through to /two on the same connection. */
  struct obs n2 = navreq(1, 10, 5, T0 + 1000, "/two");
  snprintf(n2.referer, sizeof(n2.referer), "%s/one", URL);
  attrib_add(a, &n2);
  /* A resource of /two arriving while its HTML still streams. */
  add_sub(a, 1, 10, 7, T0 + 1050, "/two.css", "/two", OBS_DEST_STYLE,
          "text/css");
  struct obs d2 = nav_done(n2);
  d2.end_ms = T0 + 1200;
  attrib_add(a, &d2);
  add_sub(a, 1, 10, 9, T0 + 1300, "/two.js", "/two", OBS_DEST_SCRIPT,
          "text/javascript");
  /* A late request of the old page still goes to visit 1. */
  add_sub(a, 1, 10, 11, T0 + 3000, "/one-late.js", "/one", OBS_DEST_SCRIPT,
          "text/javascript");
  /* No Referer, same h2 connection: both visits qualify; the latest. */
  add_sub(a, 1, 10, 13, T0 + 3100, "/beacon.gif", "", OBS_DEST_IMAGE,
          "image/gif");
  /* Navigations never become subresources: an iframe navigation, a
   * Sec-Fetch-Dest: document request, and a legacy browser's link click
   * (no Sec-Fetch, Accept: text/html) whose NAV_START we never saw. */
  struct obs nav = subreq(1, 10, 15, T0 + 3200, "/frame", "/one",
                          OBS_DEST_OTHER, "text/html");
  nav.flags |= OBS_F_NAVIGATE;
  attrib_add(a, &nav);
  nav = subreq(1, 10, 17, T0 + 3200, "/doc", "/one", OBS_DEST_DOCUMENT,
               "text/html");
  attrib_add(a, &nav);
  nav = subreq(1, 10, 19, T0 + 3200, "/legacy", "/one", OBS_DEST_NONE,
               "text/html");
  nav.flags = (nav.flags & ~OBS_F_SEC_FETCH) | OBS_F_ACCEPT_HTML;
  attrib_add(a, &nav);
  assert_int_equal(attrib_held(a), 0);
  flush(a);
  assert_int_equal(ngot, 2);
  const struct visit *v1 = find_visit("/one", T0);
  const struct visit *v2 = find_visit("/two", T0 + 1000);
  assert_non_null(v1);
  assert_non_null(v2);
  assert_int_equal(v1->nreqs, 2);
  assert_true(req_index(v1, "/one.css") >= 0);
  assert_true(req_index(v1, "/one-late.js") >= 0);
  assert_int_equal(v1->reqs[req_index(v1, "/one-late.js")].delay_ms, 3000);
  assert_int_equal(v2->nreqs, 3);
  assert_int_equal(req_index(v2, "/two.css"), 0);
  assert_int_equal(req_index(v2, "/two.js"), 1);
  assert_int_equal(req_index(v2, "/beacon.gif"), 2);
  assert_int_equal(v2->reqs[2].delay_ms, 2100);
  attrib_free(a);
}

static void test_two_tabs(void **state) {
  (void)state;
  struct attrib *a = new_attrib();
  /* Same client, same page, two HTTP/2 connections. */
  page_visit(a, 1, 100, 1, T0, "/p");
  page_visit(a, 1, 200, 1, T0 + 500, "/p");
  /* Referer-less requests stay on their own connection's visit. */
  add_sub(a, 1, 100, 3, T0 + 800, "/tab1.js", "", OBS_DEST_SCRIPT,
          "text/javascript");
  add_sub(a, 1, 200, 3, T0 + 800, "/tab2.js", "", OBS_DEST_SCRIPT,
          "text/javascript");
  /* With a Referer, the latest visit wins, except that an HTTP/2
   * request prefers the visit on its own connection. */
  add_sub(a, 1, 200, 5, T0 + 900, "/ref2.css", "/p", OBS_DEST_STYLE,
          "text/css");
  struct obs o = subreq(1, 300, 1, T0 + 900, "/h1.css", "/p",
                        OBS_DEST_STYLE, "text/css");
  o.flags &= ~OBS_F_H2;
  attrib_add(a, &o);
  add_sub(a, 1, 100, 5, T0 + 900, "/ref1.css", "/p", OBS_DEST_STYLE,
          "text/css");
  /* Referer-less over HTTP/1.1: pooled connections say nothing. */
  o = subreq(1, 100, 9, T0 + 900, "/h1-noref.js", "", OBS_DEST_SCRIPT,
             "text/javascript");
  o.flags &= ~OBS_F_H2;
  attrib_add(a, &o);
  flush(a);
  assert_int_equal(ngot, 2);
  const struct visit *v1 = find_visit("/p", T0);
  const struct visit *v2 = find_visit("/p", T0 + 500);
  assert_non_null(v1);
  assert_non_null(v2);
  assert_int_equal(v1->nreqs, 2);
  assert_true(req_index(v1, "/tab1.js") >= 0);
  assert_true(req_index(v1, "/ref1.css") >= 0);
  assert_int_equal(v2->nreqs, 3);
  assert_true(req_index(v2, "/tab2.js") >= 0);
  assert_true(req_index(v2, "/ref2.css") >= 0);
  assert_true(req_index(v2, "/h1.css") >= 0);
  /* Delays are from each visit's own start. */
  assert_int_equal(v1->reqs[req_index(v1, "/tab1.js")].delay_ms, 800);
  assert_int_equal(v2->reqs[req_index(v2, "/tab2.js")].delay_ms, 300);
  attrib_free(a);
}

static void test_same_page_reload(void **state) {
  (void)state;
  struct attrib *a = new_attrib();
  /* A reload on the same connection: the Referer fits both; latest wins. */
  page_visit(a, 1, 10, 1, T0, "/p");
  page_visit(a, 1, 10, 3, T0 + 1000, "/p");
  add_sub(a, 1, 10, 5, T0 + 1100, "/p.css", "/p", OBS_DEST_STYLE,
          "text/css");
  flush(a);
  assert_int_equal(ngot, 2);
  assert_int_equal(find_visit("/p", T0)->nreqs, 0);
  assert_int_equal(find_visit("/p", T0 + 1000)->nreqs, 1);
  attrib_free(a);
}

/* discard_case starts a visit, ends it with |done| changed by the caller,
 * and checks nothing is emitted. */
static void expect_discarded(struct obs nav, struct obs done) {
  struct attrib *a = new_attrib();
  attrib_add(a, &nav);
  assert_int_equal(attrib_pending(a), 1);
  attrib_add(a, &done);
  assert_int_equal(attrib_pending(a), 0);
  add_sub(a, 1, 10, 3, T0 + 100, "/x.css", "/", OBS_DEST_STYLE, "text/css");
  ngot = 0;
  flush(a);
  assert_int_equal(ngot, 0);
  struct attrib_stats st;
  attrib_get_stats(a, &st);
  assert_int_equal(st.visits_discarded, 1);
  attrib_free(a);
}

static void test_discarded_visits(void **state) {
  (void)state;
  struct obs nav = navreq(1, 10, 1, T0, "/");
  struct obs d = nav_done(nav);
  d.status = 404;
  expect_discarded(nav, d);
  d = nav_done(nav);
  d.status = 302;
  expect_discarded(nav, d);
  d = nav_done(nav);
  d.flags &= ~OBS_F_HTML; /* 200 but JSON */
  strcpy(d.content_type, "application/json");
  expect_discarded(nav, d);
  struct obs authz = nav;
  authz.flags |= OBS_F_AUTHORIZATION;
  d = nav_done(authz);
  expect_discarded(authz, d);
  d = nav_done(nav);
  d.flags |= OBS_F_CUT_SHORT;
  expect_discarded(nav, d);
  d = nav_done(nav);
  d.flags |= OBS_F_TRUNCATED;
  expect_discarded(nav, d);
}

static void test_nav_start_filter(void **state) {
  (void)state;
  struct attrib *a = new_attrib();
  /* A fetch() that accepts HTML but says it is not a navigation. */
  struct obs o = navreq(1, 10, 1, T0, "/");
  o.flags = OBS_F_TLS | OBS_F_H2 | OBS_F_SEC_FETCH | OBS_F_ACCEPT_HTML;
  o.dest = OBS_DEST_FETCH;
  attrib_add(a, &o);
  assert_int_equal(attrib_pending(a), 0);
  /* A form POST navigation. */
  o = navreq(1, 10, 3, T0, "/");
  strcpy(o.method, "POST");
  attrib_add(a, &o);
  assert_int_equal(attrib_pending(a), 0);
  /* A truncated path is never learned from. */
  o = navreq(1, 10, 5, T0, "/");
  o.flags |= OBS_F_TRUNCATED;
  attrib_add(a, &o);
  assert_int_equal(attrib_pending(a), 0);
  /* A legacy browser: no Sec-Fetch, Accept prefers HTML. */
  o = navreq(1, 10, 7, T0, "/old");
  o.flags = OBS_F_ACCEPT_HTML;
  o.dest = OBS_DEST_NONE;
  attrib_add(a, &o);
  assert_int_equal(attrib_pending(a), 1);
  o = nav_done(o);
  attrib_add(a, &o);
  struct obs s = subreq(1, 10, 9, T0 + 10, "/old.css", "", OBS_DEST_NONE,
                        "text/css");
  s.flags = 0;
  snprintf(s.referer, sizeof(s.referer), "http://" HOST "/old");
  attrib_add(a, &s);
  flush(a);
  assert_int_equal(ngot, 1);
  assert_string_equal(got[0].page_key, "http://" HOST "/old");
  assert_int_equal(got[0].nreqs, 1);
  assert_string_equal(got[0].reqs[0].key, "http://" HOST "/old.css");
  assert_int_equal(got[0].reqs[0].dest, OBS_DEST_STYLE);
  attrib_free(a);
}

static void test_tentative_visit(void **state) {
  (void)state;
  struct attrib *a = new_attrib();
  /* Resources may finish before the HTML does (streamed page). */
  struct obs nav = navreq(1, 10, 1, T0, "/");
  attrib_add(a, &nav);
  add_sub(a, 1, 10, 3, T0 + 50, "/early.css", "/", OBS_DEST_STYLE,
          "text/css");
  add_sub(a, 1, 10, 5, T0 + 60, "/early.woff2", "/early.css", OBS_DEST_FONT,
          "font/woff2");
  /* Not confirmed yet: nothing to emit. */
  flush(a);
  assert_int_equal(ngot, 0);
  assert_int_equal(attrib_pending(a), 1);
  struct obs d = nav_done(nav);
  d.end_ms = T0 + 2000;
  d.bytes = 50000;
  attrib_add(a, &d);
  flush(a);
  assert_int_equal(ngot, 1);
  assert_int_equal(got[0].nreqs, 2);
  assert_int_equal(got[0].reqs[1].depth, 2);
  /* The page's own DONE ends last. */
  assert_int_equal(got[0].load_ms, 2000);
  assert_int_equal(got[0].bytes, 52000);
  attrib_free(a);
}

static void test_conditional(void **state) {
  (void)state;
  struct attrib *a = new_attrib();
  page_visit(a, 1, 10, 1, T0, "/");
  struct obs o = subreq(1, 10, 3, T0 + 100, "/had.css", "/", OBS_DEST_STYLE,
                        "text/css");
  o.status = 304;
  o.flags |= OBS_F_CONDITIONAL;
  o.bytes = 0;
  attrib_add(a, &o);
  o = subreq(1, 10, 5, T0 + 100, "/odd.css", "/", OBS_DEST_STYLE,
             "text/css");
  o.status = 304; /* a 304 the client did not ask for */
  attrib_add(a, &o);
  /* A conditional request answered in full: the client's copy was old. */
  o = subreq(1, 10, 7, T0 + 100, "/stale.css", "/", OBS_DEST_STYLE,
             "text/css");
  o.flags |= OBS_F_CONDITIONAL;
  attrib_add(a, &o);
  flush(a);
  const struct visit *v = &got[0];
  assert_int_equal(v->nreqs, 3);
  assert_int_equal(v->reqs[0].flags, VISIT_REQ_ALREADY_HAD);
  assert_int_equal(v->reqs[0].status, 304);
  assert_int_equal(v->reqs[1].flags, 0);
  assert_int_equal(v->reqs[2].flags, VISIT_REQ_PUSHABLE);
  attrib_free(a);
}

static void test_pushable(void **state) {
  (void)state;
  static const struct {
    const char *path;
    uint32_t oflags;
    uint16_t status;
    const char *method;
    uint32_t want;
  } cases[] = {
      {"/ok.js", 0, 200, "GET", VISIT_REQ_PUSHABLE},
      {"/nostore.js", OBS_F_NO_STORE, 200, "GET", 0},
      {"/private.js", OBS_F_PRIVATE, 200, "GET", 0},
      {"/cookie.js", OBS_F_SET_COOKIE, 200, "GET", 0},
      {"/vary-ua.js", OBS_F_VARY_OTHER, 200, "GET", 0},
      {"/cut.js", OBS_F_CUT_SHORT, 200, "GET", 0},
      {"/authz.js", OBS_F_AUTHORIZATION, 200, "GET", 0},
      {"/post", 0, 200, "POST", 0},
      {"/head.js", 0, 200, "HEAD", 0},
      {"/missing.js", 0, 404, "GET", 0},
      {"/partial.js", 0, 206, "GET", 0},
      {"/pushed.js", OBS_F_PUSHED, 200, "GET",
       VISIT_REQ_PUSHABLE | VISIT_REQ_PUSHED},
  };
  struct attrib *a = new_attrib();
  page_visit(a, 1, 10, 1, T0, "/");
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct obs o = subreq(1, 10, 3 + 2 * i, T0 + 100 + i, cases[i].path,
                          "/", OBS_DEST_SCRIPT, "text/javascript");
    o.flags |= cases[i].oflags;
    o.status = cases[i].status;
    strcpy(o.method, cases[i].method);
    attrib_add(a, &o);
  }
  flush(a);
  const struct visit *v = &got[0];
  /* Every one is recorded (a cut-short one too), pushable or not. */
  assert_int_equal(v->nreqs, sizeof(cases) / sizeof(cases[0]));
  for (size_t i = 0; i < v->nreqs; i++) {
    int k = req_index(v, cases[i].path);
    assert_int_equal(k, (int)i);
    assert_int_equal(v->reqs[k].flags, cases[i].want);
    assert_int_equal(v->reqs[k].status, cases[i].status);
    assert_string_equal(v->reqs[k].method, cases[i].method);
  }
  attrib_free(a);
}

static void test_query_strings(void **state) {
  (void)state;
  struct attrib *a = new_attrib();
  page_visit(a, 1, 10, 1, T0, "/list?page=2&utm_source=x");
  add_sub(a, 1, 10, 3, T0 + 100, "/app.js?v=123", "/list?page=2&utm=y#top",
          OBS_DEST_SCRIPT, "text/javascript");
  flush(a);
  assert_int_equal(ngot, 1);
  assert_string_equal(got[0].page_key, URL "/list");
  assert_int_equal(got[0].nreqs, 1);
  /* A resource is the URL the browser asked for, query and all. */
  assert_string_equal(got[0].reqs[0].key, URL "/app.js?v=123");
  attrib_free(a);

  /* Kept parameters make different pages; the Referer is cut alike
   * when it is compared with a page, but a resource's query stays whole,
   * parameters in their order and bytes as sent. */
  struct attrib_config cfg = {.window_ms = 5000};
  cfg.keys.keep_params = "id";
  a = attrib_new(&cfg);
  ngot = 0;
  page_visit(a, 1, 10, 1, T0, "/p?x=1&id=7&y=2");
  add_sub(a, 1, 10, 3, T0 + 100, "/seven.css?id=7&v=1", "/p?id=7&z=9",
          OBS_DEST_STYLE, "text/css");
  add_sub(a, 1, 10, 5, T0 + 100, "/eight.css", "/p?id=8", OBS_DEST_STYLE,
          "text/css");
  /* The other product's resource waits for a referrer that never comes. */
  assert_int_equal(attrib_held(a), 1);
  attrib_expire(a, T0 + 5000, collect, NULL);
  assert_int_equal(attrib_held(a), 1); /* it started at +100 */
  attrib_expire(a, T0 + 5100, collect, NULL);
  assert_int_equal(attrib_held(a), 0);
  assert_int_equal(ngot, 1);
  assert_string_equal(got[0].page_key, URL "/p?id=7");
  assert_int_equal(got[0].nreqs, 1);
  assert_string_equal(got[0].reqs[0].key, URL "/seven.css?id=7&v=1");
  attrib_free(a);
}

/* Referrer-Policy strict-origin (or origin, or strict-origin-when-cross-
 * origin across origins) leaves only "https://host/" in every Referer,
 * the stylesheet's font included: such a request attributes like one
 * without a Referer, to the visit on its own HTTP/2 connection. */
static void test_origin_only_referer(void **state) {
  (void)state;
  struct attrib *a = new_attrib();
  page_visit(a, 1, 10, 1, T0, "/docs/install.html");
  add_sub(a, 1, 10, 3, T0 + 100, "/_static/theme.css?v=7", URL "/",
          OBS_DEST_STYLE, "text/css");
  add_sub(a, 1, 10, 5, T0 + 110, "/_static/app.js", URL "/", OBS_DEST_SCRIPT,
          "text/javascript");
  /* The font a stylesheet asks for carries the origin only as well. */
  add_sub(a, 1, 10, 7, T0 + 300, "/_static/fonts/fa.woff2?v=4.7.0", URL "/",
          OBS_DEST_FONT, "font/woff2");
  /* Another connection of the client says nothing about the page. */
  add_sub(a, 1, 11, 3, T0 + 400, "/_static/other.js", URL "/",
          OBS_DEST_SCRIPT, "text/javascript");
  /* A cross-origin page's origin is no better a Referer. */
  add_sub(a, 1, 10, 9, T0 + 500, "/_static/x.png", "https://cdn.example/",
          OBS_DEST_IMAGE, "image/png");
  assert_int_equal(attrib_held(a), 0); /* nothing can make them match */
  flush(a);
  assert_int_equal(ngot, 1);
  const struct visit *v = &got[0];
  assert_int_equal(v->nreqs, 4);
  int font = req_index(v, "/_static/fonts/fa.woff2?v=4.7.0");
  assert_true(font >= 0);
  assert_int_equal(v->reqs[font].depth, 1);
  assert_int_equal(v->reqs[font].parent, -1);
  assert_true(req_index(v, "/_static/theme.css?v=7") >= 0);
  assert_true(req_index(v, "/_static/x.png") >= 0);
  assert_int_equal(req_index(v, "/_static/other.js"), -1);
  attrib_free(a);

  /* The front page is its origin's root: there the same Referer is the
   * page's full URL and attributes on any connection, as it always did. */
  a = new_attrib();
  ngot = 0;
  page_visit(a, 1, 10, 1, T0, "/");
  add_sub(a, 1, 11, 3, T0 + 100, "/a.css", URL "/", OBS_DEST_STYLE,
          "text/css");
  flush(a);
  assert_int_equal(ngot, 1);
  assert_int_equal(got[0].nreqs, 1);
  attrib_free(a);

  /* Two tabs of one client on one connection: an origin-only Referer
   * goes to the latest visit, like a missing one. */
  a = new_attrib();
  ngot = 0;
  page_visit(a, 1, 10, 1, T0, "/");
  page_visit(a, 1, 10, 3, T0 + 1000, "/docs/faq.html");
  add_sub(a, 1, 10, 5, T0 + 1100, "/faq.css", URL "/", OBS_DEST_STYLE,
          "text/css");
  flush(a);
  assert_int_equal(ngot, 2);
  const struct visit *faq = find_visit("/docs/faq.html", T0 + 1000);
  assert_non_null(faq);
  assert_int_equal(faq->nreqs, 1);
  attrib_free(a);
}

/* A font's Referer is its stylesheet's URL with the stylesheet's exact
 * query: it makes the font depth 2 under that stylesheet, and only that
 * one (another version of the stylesheet is another resource). */
static void test_referer_exact_query(void **state) {
  (void)state;
  struct attrib *a = new_attrib();
  page_visit(a, 1, 10, 1, T0, "/");
  add_sub(a, 1, 10, 3, T0 + 100, "/site.css?v=3", "/", OBS_DEST_STYLE,
          "text/css");
  add_sub(a, 1, 10, 5, T0 + 200, "/f/a.woff2", "/site.css?v=3",
          OBS_DEST_FONT, "font/woff2");
  add_sub(a, 1, 10, 7, T0 + 210, "/f/b.woff2", "/site.css?v=4",
          OBS_DEST_FONT, "font/woff2");
  assert_int_equal(attrib_held(a), 1); /* b waits for site.css?v=4 */
  attrib_expire(a, T0 + 6000, collect, NULL);
  assert_int_equal(ngot, 1);
  assert_int_equal(got[0].nreqs, 2);
  int a_font = req_index(&got[0], "/f/a.woff2");
  assert_int_equal(got[0].reqs[a_font].depth, 2);
  assert_int_equal(req_index(&got[0], "/f/b.woff2"), -1);
  attrib_free(a);
}

static void test_templates(void **state) {
  (void)state;
  struct attrib *a = new_attrib();
  page_visit(a, 1, 10, 1, T0, "/product/123");
  page_visit(a, 2, 20, 1, T0, "/user/550e8400-e29b-41d4-a716-446655440000");
  page_visit(a, 3, 30, 1, T0, "/c/0123456789abcdef0123/x");
  page_visit(a, 4, 40, 1, T0, "/about");
  flush(a);
  assert_int_equal(ngot, 4);
  assert_string_equal(got[0].template_key, URL "/product/:id");
  assert_string_equal(got[1].template_key, URL "/user/:id");
  assert_string_equal(got[2].template_key, URL "/c/:id/x");
  assert_string_equal(got[3].template_key, URL "/about");
  assert_string_equal(got[0].page_key, URL "/product/123");
  attrib_free(a);

  /* A configured pattern wins over folding; the caller's strings may go
   * away once attrib_new returns. */
  char pat[32];
  strcpy(pat, "/product/*");
  struct attrib_config cfg = {.window_ms = 5000};
  cfg.keys.patterns[0] = pat;
  cfg.keys.npatterns = 1;
  a = attrib_new(&cfg);
  memset(pat, 0, sizeof(pat));
  ngot = 0;
  page_visit(a, 1, 10, 1, T0, "/product/123");
  page_visit(a, 2, 20, 1, T0, "/product/blue-shirt");
  page_visit(a, 3, 30, 1, T0, "/product/123/reviews");
  flush(a);
  assert_int_equal(ngot, 3);
  assert_string_equal(got[0].template_key, URL "/product/*");
  assert_string_equal(got[1].template_key, URL "/product/*");
  assert_string_equal(got[2].template_key, URL "/product/:id/reviews");
  attrib_free(a);
}

static void test_mobile(void **state) {
  (void)state;
  struct attrib *a = new_attrib();
  struct obs o = navreq(1, 10, 1, T0, "/");
  o.flags |= OBS_F_MOBILE;
  attrib_add(a, &o);
  o = nav_done(o);
  attrib_add(a, &o);
  page_visit(a, 2, 20, 1, T0, "/");
  flush(a);
  assert_int_equal(ngot, 2);
  assert_int_equal(got[0].mobile, 1);
  assert_int_equal(got[1].mobile, 0);
  attrib_free(a);

  struct attrib_config cfg = {.window_ms = 5000, .single_class = 1};
  a = attrib_new(&cfg);
  ngot = 0;
  o = navreq(1, 10, 1, T0, "/");
  o.flags |= OBS_F_MOBILE;
  attrib_add(a, &o);
  o = nav_done(o);
  attrib_add(a, &o);
  flush(a);
  assert_int_equal(ngot, 1);
  assert_int_equal(got[0].mobile, 0);
  attrib_free(a);
}

static void test_duplicates(void **state) {
  (void)state;
  struct attrib *a = new_attrib();
  page_visit(a, 1, 10, 1, T0, "/");
  add_sub(a, 1, 10, 3, T0 + 100, "/a.css", "/", OBS_DEST_STYLE, "text/css");
  struct obs o = subreq(1, 10, 5, T0 + 900, "/a.css?v=2", "/",
                        OBS_DEST_STYLE, "text/css");
  o.end_ms = T0 + 4000;
  o.bytes = 777;
  attrib_add(a, &o);
  /* The page fetched again by script is not its own resource. */
  add_sub(a, 1, 10, 7, T0 + 200, "/", "/", OBS_DEST_FETCH, "text/html");
  o = subreq(1, 10, 9, T0 + 950, "/a.css", "/", OBS_DEST_STYLE, "text/css");
  o.bytes = 555;
  attrib_add(a, &o);
  flush(a);
  assert_int_equal(ngot, 1);
  /* /a.css?v=2 is another URL (another cache entry), so a resource of its
   * own; /a.css again is a duplicate and the first is kept. */
  assert_int_equal(got[0].nreqs, 2);
  assert_string_equal(got[0].reqs[0].key, URL "/a.css");
  assert_int_equal(got[0].reqs[0].delay_ms, 100);
  assert_int_equal(got[0].reqs[0].bytes, 1000);
  assert_string_equal(got[0].reqs[1].key, URL "/a.css?v=2");
  assert_int_equal(got[0].bytes, 11777);
  assert_int_equal(got[0].load_ms, 4000);
  struct attrib_stats st;
  attrib_get_stats(a, &st);
  assert_int_equal(st.reqs_duplicate, 2);
  attrib_free(a);
}

static void test_dest_derived(void **state) {
  (void)state;
  static const struct {
    const char *path, *ctype;
    uint8_t want;
  } cases[] = {
      {"/a.css", "text/css", OBS_DEST_STYLE},
      {"/b.css", "text/css; charset=utf-8", OBS_DEST_STYLE},
      {"/c.js", "application/javascript", OBS_DEST_SCRIPT},
      {"/d.js", "text/ecmascript", OBS_DEST_SCRIPT},
      {"/e.js", "application/x-javascript", OBS_DEST_SCRIPT},
      {"/f.woff2", "font/woff2", OBS_DEST_FONT},
      {"/g.woff", "application/font-woff", OBS_DEST_FONT},
      {"/h.ttf", "application/x-font-ttf", OBS_DEST_FONT},
      {"/i.otf", "application/x-font-opentype", OBS_DEST_FONT},
      {"/j.eot", "application/vnd.ms-fontobject", OBS_DEST_FONT},
      {"/k.png", "image/png", OBS_DEST_IMAGE},
      {"/l.svg", "image/svg+xml", OBS_DEST_IMAGE},
      {"/m.json", "application/json", OBS_DEST_FETCH},
      {"/n.json", "application/ld+json", OBS_DEST_FETCH},
      {"/o.xml", "application/xml", OBS_DEST_FETCH},
      {"/p.txt", "text/plain", OBS_DEST_FETCH},
      {"/q.html", "text/html", OBS_DEST_OTHER},
      {"/r.bin", "application/octet-stream", OBS_DEST_OTHER},
      {"/s", "", OBS_DEST_OTHER},
  };
  size_t n = sizeof(cases) / sizeof(cases[0]);
  struct attrib *a = new_attrib();
  page_visit(a, 1, 10, 1, T0, "/");
  for (size_t i = 0; i < n; i++)
    add_sub(a, 1, 10, 3 + 2 * i, T0 + 100, cases[i].path, "/",
            OBS_DEST_NONE, cases[i].ctype);
  /* Sec-Fetch-Dest wins over the content type. */
  add_sub(a, 1, 10, 99, T0 + 100, "/t", "/", OBS_DEST_SCRIPT, "text/plain");
  flush(a);
  const struct visit *v = &got[0];
  assert_int_equal(v->nreqs, n + 1);
  for (size_t i = 0; i < n; i++) {
    int k = req_index(v, cases[i].path);
    assert_true(k >= 0);
    if (v->reqs[k].dest != cases[i].want)
      fail_msg("%s: dest %d, want %d", cases[i].ctype, v->reqs[k].dest,
               cases[i].want);
  }
  assert_int_equal(v->reqs[req_index(v, "/t")].dest, OBS_DEST_SCRIPT);
  attrib_free(a);
}

static void test_not_attributed(void **state) {
  (void)state;
  struct attrib *a = new_attrib();
  page_visit(a, 1, 10, 1, T0, "/");
  /* A truncated path. */
  struct obs o = subreq(1, 10, 3, T0 + 100, "/long.js", "/", OBS_DEST_SCRIPT,
                        "text/javascript");
  o.flags |= OBS_F_TRUNCATED;
  attrib_add(a, &o);
  /* A Referer that is not http(s) is not "no Referer" either. */
  add_sub(a, 1, 10, 5, T0 + 100, "/app.js", "android-app://com.example/",
          OBS_DEST_SCRIPT, "text/javascript");
  /* A request that started before the page. */
  add_sub(a, 1, 10, 7, T0 - 1, "/early.js", "/", OBS_DEST_SCRIPT,
          "text/javascript");
  /* A field without its NUL is a recorder bug: ignored, not read past. */
  o = subreq(1, 10, 9, T0 + 100, "/x.js", "/", OBS_DEST_SCRIPT,
             "text/javascript");
  memset(o.path, 'a', sizeof(o.path));
  attrib_add(a, &o);
  /* An unknown kind. */
  o = subreq(1, 10, 11, T0 + 100, "/y.js", "/", OBS_DEST_SCRIPT,
             "text/javascript");
  o.kind = 9;
  attrib_add(a, &o);
  assert_int_equal(attrib_held(a), 0);
  flush(a);
  assert_int_equal(ngot, 1);
  assert_int_equal(got[0].nreqs, 0);
  attrib_free(a);
}

static void test_expire(void **state) {
  (void)state;
  struct attrib *a = new_attrib();
  page_visit(a, 1, 10, 1, T0, "/one");
  struct obs slow = navreq(2, 20, 1, T0 + 10, "/slow");
  attrib_add(a, &slow); /* its DONE takes long */
  page_visit(a, 3, 30, 1, T0 + 2000, "/two");
  assert_int_equal(attrib_pending(a), 3);
  attrib_expire(a, T0 + 4999, collect, NULL);
  assert_int_equal(ngot, 0);
  attrib_expire(a, T0 + 5000, collect, NULL);
  assert_int_equal(ngot, 1);
  assert_string_equal(got[0].page_key, URL "/one");
  assert_int_equal(attrib_pending(a), 2);
  /* The window of /slow closed, but its DONE may still confirm it. */
  attrib_expire(a, T0 + 7000, collect, NULL);
  assert_int_equal(ngot, 2);
  assert_string_equal(got[1].page_key, URL "/two");
  assert_int_equal(attrib_pending(a), 1);
  struct obs d = nav_done(slow);
  d.end_ms = T0 + 9000;
  attrib_add(a, &d);
  attrib_expire(a, T0 + 9001, collect, NULL);
  assert_int_equal(ngot, 3);
  assert_string_equal(got[2].page_key, URL "/slow");
  assert_int_equal(got[2].load_ms, 8990);
  assert_int_equal(attrib_pending(a), 0);

  /* A visit never confirmed goes 30 s after its window. */
  slow = navreq(2, 20, 3, T0 + 20000, "/never");
  attrib_add(a, &slow);
  attrib_expire(a, T0 + 20000 + 5000 + 29999, collect, NULL);
  assert_int_equal(attrib_pending(a), 1);
  attrib_expire(a, T0 + 20000 + 5000 + 30000, collect, NULL);
  assert_int_equal(attrib_pending(a), 0);
  assert_int_equal(ngot, 3);
  /* Its DONE after that is just ignored. */
  d = nav_done(slow);
  attrib_add(a, &d);
  assert_int_equal(attrib_pending(a), 0);
  struct attrib_stats st;
  attrib_get_stats(a, &st);
  assert_int_equal(st.visits_discarded, 1);
  assert_int_equal(st.visits_emitted, 3);
  attrib_free(a);
}

static void test_flush_keeps_tentative(void **state) {
  (void)state;
  struct attrib *a = new_attrib();
  page_visit(a, 1, 10, 1, T0, "/");
  struct obs nav = navreq(1, 10, 3, T0 + 100, "/next");
  attrib_add(a, &nav);
  flush(a);
  assert_int_equal(ngot, 1);
  assert_int_equal(attrib_pending(a), 1);
  attrib_free(a); /* frees the tentative one */
}

static void test_held_caps(void **state) {
  (void)state;
  struct attrib *a = new_attrib();
  char path[64], ref[64];
  page_visit(a, 1, 10, 1, T0, "/");
  /* 300 requests whose referrers never come: 256 stay for the client. */
  for (int i = 0; i < 300; i++) {
    snprintf(path, sizeof(path), "/img%d.png", i);
    snprintf(ref, sizeof(ref), "/missing%d.css", i);
    add_sub(a, 1, 10, 3 + 2 * i, T0 + 100, path, ref, OBS_DEST_IMAGE,
            "image/png");
  }
  assert_int_equal(attrib_held(a), 256);
  struct attrib_stats st;
  attrib_get_stats(a, &st);
  assert_int_equal(st.held_dropped, 44);
  /* The oldest were dropped: the first referrer arriving now finds its
   * request gone, while the last one's is still held. */
  add_sub(a, 1, 10, 1001, T0 + 50, "/missing0.css", "/", OBS_DEST_STYLE,
          "text/css");
  add_sub(a, 1, 10, 1003, T0 + 50, "/missing299.css", "/", OBS_DEST_STYLE,
          "text/css");
  assert_int_equal(attrib_held(a), 255);

  /* 20 clients x 256: at most 4096 in all. */
  for (int c = 2; c < 22; c++) {
    page_visit(a, c, 100 + c, 1, T0, "/");
    for (int i = 0; i < 256; i++) {
      snprintf(path, sizeof(path), "/c%d.png", i);
      snprintf(ref, sizeof(ref), "/m%d.css", i);
      add_sub(a, c, 100 + c, 3 + 2 * i, T0 + 100, path, ref, OBS_DEST_IMAGE,
              "image/png");
    }
  }
  assert_int_equal(attrib_held(a), 4096);
  /* The last client's are all still there. */
  add_sub(a, 21, 121, 9999, T0 + 50, "/m0.css", "/", OBS_DEST_STYLE,
          "text/css");
  assert_int_equal(attrib_held(a), 4095);

  /* Held requests leave with the window. */
  attrib_expire(a, T0 + 5099, collect, NULL);
  assert_int_equal(attrib_held(a), 4095);
  attrib_expire(a, T0 + 5100, collect, NULL);
  assert_int_equal(attrib_held(a), 0);
  attrib_get_stats(a, &st);
  assert_int_equal(st.held_expired, 4095);
  assert_int_equal(ngot, 21);
  const struct visit *v1 = NULL;
  for (size_t i = 0; i < ngot; i++)
    if (got[i].client_token[0] == 1)
      v1 = &got[i];
  assert_non_null(v1);
  /* missing0.css, missing299.css and the image that waited for it. */
  assert_int_equal(v1->nreqs, 3);
  assert_true(req_index(v1, "/img299.png") >= 0);
  assert_true(req_index(v1, "/img0.png") < 0);
  attrib_free(a);
}

static void test_visit_and_request_caps(void **state) {
  (void)state;
  struct attrib_config cfg = {.window_ms = 5000, .max_visits = 3,
                              .max_reqs = 4};
  struct attrib *a = attrib_new(&cfg);
  for (int i = 0; i < 5; i++) {
    char path[32];
    snprintf(path, sizeof(path), "/p%d", i);
    page_visit(a, 1 + i, 10 + i, 1, T0 + (uint64_t)i, path);
  }
  assert_int_equal(attrib_pending(a), 3);
  struct attrib_stats st;
  attrib_get_stats(a, &st);
  assert_int_equal(st.visits_dropped, 2);
  for (int i = 0; i < 6; i++) {
    char path[32];
    snprintf(path, sizeof(path), "/r%d.js", i);
    add_sub(a, 5, 14, 3 + 2 * i, T0 + 100, path, "/p4", OBS_DEST_SCRIPT,
            "text/javascript");
  }
  flush(a);
  assert_int_equal(ngot, 3);
  assert_null(find_visit("/p0", T0));
  assert_null(find_visit("/p1", T0 + 1));
  const struct visit *v = find_visit("/p4", T0 + 4);
  assert_non_null(v);
  assert_int_equal(v->nreqs, 4);
  assert_string_equal(v->reqs[3].key, URL "/r3.js");
  attrib_get_stats(a, &st);
  assert_int_equal(st.reqs_over_cap, 2);
  attrib_free(a);
}

static void test_many_clients(void **state) {
  (void)state;
  /* Clients sharing a hash bucket and leaving again, with tokens that
   * differ only in their last bytes. */
  struct attrib *a = new_attrib();
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 2000; i++) {
      struct obs o = navreq(0, (uint64_t)i, 1, T0 + (uint64_t)round * 10000,
                            "/");
      o.client_token[14] = (uint8_t)i;
      o.client_token[13] = (uint8_t)(i >> 8);
      attrib_add(a, &o);
      o = nav_done(o);
      attrib_add(a, &o);
      struct obs s = subreq(0, (uint64_t)i, 3, o.start_ms + 10, "/s.css",
                            "/", OBS_DEST_STYLE, "text/css");
      memcpy(s.client_token, o.client_token, sizeof(s.client_token));
      attrib_add(a, &s);
    }
    assert_int_equal(attrib_pending(a), 2000);
    ngot = 0;
    attrib_expire(a, T0 + (uint64_t)round * 10000 + 5000, NULL, NULL);
    assert_int_equal(attrib_pending(a), 0);
  }
  struct attrib_stats st;
  attrib_get_stats(a, &st);
  assert_int_equal(st.visits_emitted, 6000);
  assert_int_equal(st.reqs_attributed, 6000);
  attrib_free(a);
  attrib_free(NULL);
}

/* One client loading pages faster than any browser (a bot, or many users
 * behind one NAT address and User-Agent) keeps only its newest visits
 * open, so each of its requests walks a short list. */
static void test_visits_per_client_cap(void **state) {
  (void)state;
  struct attrib_config cfg = {.window_ms = 5000};
  cfg.max_visits_client = 4;
  struct attrib *a = attrib_new(&cfg);
  for (uint64_t i = 0; i < 10; i++)
    page_visit(a, 1, 1, 2 * i + 1, 1000 + i, "/p");
  assert_int_equal(attrib_pending(a), 4);
  page_visit(a, 2, 2, 1, 1000, "/p"); /* another client is not affected */
  assert_int_equal(attrib_pending(a), 5);
  flush(a);
  assert_int_equal(ngot, 5);
  attrib_free(a);
}

/* A pushed stream belongs to the visit whose page stream promised it: it
 * adds its bytes and end time; completed and not requested, it is emitted
 * as a delivered request. What was sent ahead comes from the page's
 * OBS_DONE flags. */
static void test_pushes(void **state) {
  (void)state;
  struct attrib *a = new_attrib();
  struct obs o = navreq(1, 7, 1, 1000, "/");
  attrib_add(a, &o);
  struct obs push = o;
  push.kind = OBS_PUSH;
  push.flags = OBS_F_TLS | OBS_F_H2;
  push.end_ms = 1400; /* later than the page's end */
  push.bytes = 3000;
  snprintf(push.path, sizeof(push.path), "/css/a.css");
  snprintf(push.referer, sizeof(push.referer), "%s/", URL);
  strcpy(push.content_type, "text/css");
  attrib_add(a, &push);
  snprintf(push.path, sizeof(push.path), "/js/b.js");
  strcpy(push.content_type, "application/javascript");
  push.flags |= OBS_F_CUT_SHORT; /* the client reset it */
  push.bytes = 100;
  attrib_add(a, &push);
  snprintf(push.path, sizeof(push.path), "/img/c.png");
  strcpy(push.content_type, "image/png");
  push.flags &= ~OBS_F_CUT_SHORT;
  push.bytes = 500;
  attrib_add(a, &push);
  /* The client asked for the pushed image anyway. */
  struct obs img = subreq(1, 7, 3, 1200, "/img/c.png", "/", OBS_DEST_IMAGE,
                          "image/png");
  attrib_add(a, &img);
  o = nav_done(o);
  o.flags |= OBS_F_GOT_PUSH;
  attrib_add(a, &o);
  /* A push on another connection's stream 1 is not this visit's. */
  struct obs stray = push;
  stray.conn_id = 8;
  attrib_add(a, &stray);
  flush(a);
  assert_int_equal(ngot, 1);
  const struct visit *v = &got[0];
  assert_int_equal(v->delivery, VISIT_PUSH);
  assert_int_equal(v->npushes, 3);
  /* page 10000 + pushes 3000 + 100 + 500 + the image request 1000 */
  assert_int_equal(v->bytes, 14600);
  assert_int_equal(v->load_ms, 400);
  int css = req_index(v, "/css/a.css");
  assert_true(css >= 0);
  assert_int_equal(v->reqs[css].flags & VISIT_REQ_DELIVERED,
                   VISIT_REQ_DELIVERED);
  assert_int_equal(v->reqs[css].dest, OBS_DEST_STYLE);
  assert_int_equal(v->reqs[css].depth, 0);
  assert_int_equal(v->reqs[css].bytes, 3000);
  assert_int_equal(req_index(v, "/js/b.js"), -1); /* reset: not delivered */
  int im = req_index(v, "/img/c.png");
  assert_true(im >= 0);
  assert_int_equal(v->reqs[im].flags & VISIT_REQ_DELIVERED, 0); /* asked */
  assert_int_equal(v->nreqs, 2);
  attrib_free(a);
}

static void test_holdout_and_hints_flags(void **state) {
  (void)state;
  struct attrib *a = new_attrib();
  struct obs o = navreq(1, 7, 1, 1000, "/");
  attrib_add(a, &o);
  o = nav_done(o);
  o.flags |= OBS_F_HOLDOUT;
  attrib_add(a, &o);
  o = navreq(2, 9, 1, 1000, "/");
  attrib_add(a, &o);
  o = nav_done(o);
  o.flags |= OBS_F_GOT_HINTS;
  attrib_add(a, &o);
  o = navreq(3, 11, 1, 1000, "/");
  attrib_add(a, &o);
  o = nav_done(o);
  attrib_add(a, &o);
  flush(a);
  assert_int_equal(ngot, 3);
  int seen[4] = {0};
  for (size_t i = 0; i < ngot; i++)
    seen[got[i].delivery]++;
  assert_int_equal(seen[VISIT_HOLDOUT], 1);
  assert_int_equal(seen[VISIT_HINTS], 1);
  assert_int_equal(seen[VISIT_NONE], 1);
  attrib_free(a);
}

/* What the page's backend declared joins the visit of its page request:
 * from its 103 or its page's Link fields, once per key (flags merged),
 * only safe paths of the page's origin, at most OBS_DECLARED_MAX. */
static void test_declared(void **state) {
  (void)state;
  struct attrib *a = new_attrib();
  struct obs o = navreq(1, 7, 1, 1000, "/docs/");
  attrib_add(a, &o);
  struct obs d = o;
  d.kind = OBS_DECLARED;
  d.dest = OBS_DEST_SCRIPT;
  d.flags = OBS_F_TLS | OBS_F_H2 | OBS_F_DECL_EARLY | OBS_F_DECL_NAMED;
  snprintf(d.path, sizeof(d.path), "/js/a.js?v=2");
  attrib_add(a, &d);
  /* The same key again, in the page's Link fields. */
  d.flags = OBS_F_TLS | OBS_F_H2;
  attrib_add(a, &d);
  /* Not safe paths of the page's origin: dropped. */
  static const char *const bad[] = {"//evil.example/x.js", "/a/../b.js",
                                    "/a\\b.js"};
  for (size_t i = 0; i < 3; i++) {
    snprintf(d.path, sizeof(d.path), "%s", bad[i]);
    attrib_add(a, &d);
  }
  struct obs other = d; /* another authority than the page's */
  strcpy(other.authority, "cdn.example");
  snprintf(other.path, sizeof(other.path), "/c.js");
  attrib_add(a, &other);
  /* Another stream's page, or another start, is not this visit. */
  struct obs stray = d;
  stray.stream_id = 3;
  snprintf(stray.path, sizeof(stray.path), "/stray.js");
  attrib_add(a, &stray);
  for (int i = 0; i < OBS_DECLARED_MAX + 4; i++) {
    d.dest = OBS_DEST_STYLE;
    snprintf(d.path, sizeof(d.path), "/css/%d.css", i);
    attrib_add(a, &d);
  }
  o = nav_done(o);
  attrib_add(a, &o);
  flush(a);
  assert_int_equal(ngot, 1);
  const struct visit *v = &got[0];
  assert_int_equal(v->ndeclared, OBS_DECLARED_MAX);
  assert_string_equal(v->declared[0].key, URL "/js/a.js?v=2");
  assert_int_equal(v->declared[0].dest, OBS_DEST_SCRIPT);
  assert_int_equal(v->declared[0].flags,
                   VISIT_DECL_EARLY | VISIT_DECL_NAMED | VISIT_DECL_LINK);
  assert_string_equal(v->declared[1].key, URL "/css/0.css");
  assert_int_equal(v->declared[1].flags, VISIT_DECL_LINK);
  assert_string_equal(v->declared[OBS_DECLARED_MAX - 1].key,
                      URL "/css/14.css");
  attrib_free(a);

  /* A visit that is not a 200 HTML page takes its declarations along. */
  ngot = 0;
  a = new_attrib();
  o = navreq(1, 7, 1, 1000, "/");
  attrib_add(a, &o);
  d = o;
  d.kind = OBS_DECLARED;
  d.dest = OBS_DEST_SCRIPT;
  d.flags = OBS_F_TLS | OBS_F_H2;
  snprintf(d.path, sizeof(d.path), "/js/a.js");
  attrib_add(a, &d);
  o = nav_done(o);
  o.status = 500;
  attrib_add(a, &o);
  flush(a);
  assert_int_equal(ngot, 0);
  attrib_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_basic_visit, setup),
      cmocka_unit_test_setup(test_depth_chain, setup),
      cmocka_unit_test_setup(test_out_of_order, setup),
      cmocka_unit_test_setup(test_emit_order, setup),
      cmocka_unit_test_setup(test_window, setup),
      cmocka_unit_test_setup(test_cross_origin, setup),
      cmocka_unit_test_setup(test_other_client, setup),
      cmocka_unit_test_setup(test_navigation_in_middle, setup),
      cmocka_unit_test_setup(test_two_tabs, setup),
      cmocka_unit_test_setup(test_same_page_reload, setup),
      cmocka_unit_test_setup(test_discarded_visits, setup),
      cmocka_unit_test_setup(test_nav_start_filter, setup),
      cmocka_unit_test_setup(test_tentative_visit, setup),
      cmocka_unit_test_setup(test_conditional, setup),
      cmocka_unit_test_setup(test_pushable, setup),
      cmocka_unit_test_setup(test_query_strings, setup),
      cmocka_unit_test_setup(test_origin_only_referer, setup),
      cmocka_unit_test_setup(test_referer_exact_query, setup),
      cmocka_unit_test_setup(test_templates, setup),
      cmocka_unit_test_setup(test_mobile, setup),
      cmocka_unit_test_setup(test_duplicates, setup),
      cmocka_unit_test_setup(test_dest_derived, setup),
      cmocka_unit_test_setup(test_not_attributed, setup),
      cmocka_unit_test_setup(test_expire, setup),
      cmocka_unit_test_setup(test_flush_keeps_tentative, setup),
      cmocka_unit_test_setup(test_held_caps, setup),
      cmocka_unit_test_setup(test_visit_and_request_caps, setup),
      cmocka_unit_test_setup(test_many_clients, setup),
      cmocka_unit_test_setup(test_visits_per_client_cap, setup),
      cmocka_unit_test_setup(test_pushes, setup),
      cmocka_unit_test_setup(test_holdout_and_hints_flags, setup),
      cmocka_unit_test_setup(test_declared, setup),
  };
  return cmocka_run_group_tests_name("attribution", tests, NULL, NULL);
}
