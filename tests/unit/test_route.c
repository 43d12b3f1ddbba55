/* test_route.c: route_pick and route_match_key, backend selection by Host
 * and path prefix. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/route.h"

/* struct config is a few hundred KB: keep it off the stack. */
static int setup(void **state) {
  struct config *c = calloc(1, sizeof *c);
  if (c == NULL)
    return -1;
  config_defaults(c);
  c->nbackends = 8; /* route_pick only returns indexes; none is contacted */
  *state = c;
  return 0;
}

static int teardown(void **state) {
  free(*state);
  return 0;
}

/* add_route appends a route as config_validate leaves it: host lowercase
 * ("" = any host), prefix, resolved backend index. */
static void add_route(struct config *c, const char *host, const char *prefix,
                      int backend) {
  assert_true(c->nroutes < CONFIG_MAX_ROUTES);
  struct config_route *r = &c->routes[c->nroutes];
  snprintf(r->name, sizeof r->name, "r%d", c->nroutes);
  snprintf(r->host, sizeof r->host, "%s", host);
  snprintf(r->prefix, sizeof r->prefix, "%s", prefix);
  snprintf(r->backend_name, sizeof r->backend_name, "b%d", backend);
  r->backend = backend;
  c->nroutes++;
}

static int pick(const struct config *c, const char *host, const char *path) {
  return route_pick(c, host, strlen(host), path, strlen(path));
}

static void test_no_routes(void **state) {
  struct config *c = *state;
  assert_int_equal(pick(c, "example.com", "/"), 0);
  assert_int_equal(pick(c, "", "/anything"), 0);
  assert_int_equal(pick(c, "example.com", "*"), 0);
}

static void test_longest_prefix_wins(void **state) {
  struct config *c = *state;
  /* Declared shortest-first and longest-first: order must not matter. */
  add_route(c, "", "/", 1);
  add_route(c, "", "/api/v2", 3);
  add_route(c, "", "/api", 2);
  assert_int_equal(pick(c, "example.com", "/"), 1);
  assert_int_equal(pick(c, "example.com", "/index.html"), 1);
  assert_int_equal(pick(c, "example.com", "/api"), 2);
  assert_int_equal(pick(c, "example.com", "/api/v1/users"), 2);
  assert_int_equal(pick(c, "example.com", "/api/v2"), 3);
  assert_int_equal(pick(c, "example.com", "/api/v2/users?x=1"), 3);
  /* Shorter than the prefix: no match on it. */
  assert_int_equal(pick(c, "example.com", "/ap"), 1);
}

static void test_host_specific_beats_any_host(void **state) {
  struct config *c = *state;
  add_route(c, "", "/static/images", 1);
  add_route(c, "shop.example", "/", 2);
  add_route(c, "shop.example", "/cart", 3);
  /* The host-specific "/" wins over an any-host route with a longer
   * matching prefix. */
  assert_int_equal(pick(c, "shop.example", "/static/images/a.png"), 2);
  assert_int_equal(pick(c, "shop.example", "/"), 2);
  /* Among host-specific routes, the longest prefix. */
  assert_int_equal(pick(c, "shop.example", "/cart/checkout"), 3);
  /* Other hosts do not see shop.example's routes. */
  assert_int_equal(pick(c, "blog.example", "/static/images/a.png"), 1);
  assert_int_equal(pick(c, "blog.example", "/cart"), 0);
}

static void test_host_case_insensitive(void **state) {
  struct config *c = *state;
  add_route(c, "shop.example", "/", 4);
  assert_int_equal(pick(c, "shop.example", "/"), 4);
  assert_int_equal(pick(c, "SHOP.Example", "/"), 4);
  assert_int_equal(pick(c, "Shop.EXAMPLE", "/x"), 4);
  /* Case-insensitive, not prefix or suffix matching. */
  assert_int_equal(pick(c, "shop.example.evil", "/"), 0);
  assert_int_equal(pick(c, "www.shop.example", "/"), 0);
  assert_int_equal(pick(c, "shop.exampl", "/"), 0);
  assert_int_equal(pick(c, "", "/"), 0);
}

static void test_host_length_bounded(void **state) {
  struct config *c = *state;
  add_route(c, "shop.example", "/", 5);
  /* route_pick is handed the host part of "host:port" by length. */
  const char auth[] = "shop.example:8443";
  assert_int_equal(route_pick(c, auth, 12, "/", 1), 5);
  assert_int_equal(route_pick(c, auth, sizeof auth - 1, "/", 1), 0);
  /* And the path by length too. */
  assert_int_equal(route_pick(c, "shop.example", 12, "/xyz", 1), 5);
}

static void test_host_falls_back_to_any_host(void **state) {
  struct config *c = *state;
  add_route(c, "shop.example", "/cart", 3);
  add_route(c, "", "/", 1);
  add_route(c, "", "/api", 2);
  /* shop.example has a route, but not for this path: any-host routes,
   * longest prefix first. */
  assert_int_equal(pick(c, "shop.example", "/api/items"), 2);
  assert_int_equal(pick(c, "shop.example", "/"), 1);
  assert_int_equal(pick(c, "shop.example", "/cart"), 3);
  /* A host no route names uses the any-host routes. */
  assert_int_equal(pick(c, "unknown.example", "/api"), 2);
  assert_int_equal(pick(c, "unknown.example", "/cart"), 1);
}

static void test_no_match_goes_to_backend_0(void **state) {
  struct config *c = *state;
  add_route(c, "shop.example", "/cart", 3);
  add_route(c, "", "/api", 2);
  assert_int_equal(pick(c, "shop.example", "/"), 0);
  assert_int_equal(pick(c, "other.example", "/cart"), 0);
  assert_int_equal(pick(c, "other.example", "/ap"), 0);
  assert_int_equal(pick(c, "other.example", "*"), 0);
  /* Prefixes are case-sensitive, like paths. */
  assert_int_equal(pick(c, "other.example", "/API"), 0);
}

static void test_sibling_prefixes(void **state) {
  struct config *c = *state;
  /* Prefixes of equal length that do not overlap each keep their paths. */
  add_route(c, "", "/a", 6);
  add_route(c, "", "/b", 7);
  assert_int_equal(pick(c, "x", "/a"), 6);
  assert_int_equal(pick(c, "x", "/b"), 7);
}

/* Page and resource keys (the learner's and heraldctl's view) go to the
 * same route as the requests they came from: port and IPv6 brackets
 * ignored for the host, query-less path for the prefix. */
static void test_match_key(void **state) {
  struct config *c = *state;
  add_route(c, "", "/", 1);
  add_route(c, "shop.example", "/product/", 2);
  add_route(c, "[::1]", "/", 3);
  const struct config_route *r = c->routes;
  int n = c->nroutes;
  assert_int_equal(route_match_key(r, n, "https://shop.example/product/:id"), 1);
  assert_int_equal(route_match_key(r, n, "https://SHOP.example:8443/product/1"), 1);
  assert_int_equal(route_match_key(r, n, "http://shop.example/about"), 0);
  assert_int_equal(route_match_key(r, n, "http://other.example/product/1"), 0);
  assert_int_equal(route_match_key(r, n, "http://[::1]:8080/x"), 2);
  assert_int_equal(route_match_key(r, n, "not a key"), -1);
  assert_int_equal(route_match_key(r, 0, "http://shop.example/"), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
      T(test_no_routes),
      T(test_longest_prefix_wins),
      T(test_host_specific_beats_any_host),
      T(test_host_case_insensitive),
      T(test_host_length_bounded),
      T(test_host_falls_back_to_any_host),
      T(test_no_match_goes_to_backend_0),
      T(test_sibling_prefixes),
      T(test_match_key),
#undef T
  };
  return cmocka_run_group_tests_name("route", tests, NULL, NULL);
}
