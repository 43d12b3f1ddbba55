/* test_client.c: who a request is from. Address parsing and printing,
 * trusted-proxy lists, the X-Forwarded-For walk (right-most untrusted
 * address; ignored from untrusted peers) and the networks that count as
 * one client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/client.h"
#include "base/http.h"

static const char *fmt(const uint8_t a[16]) {
  static char t[CLIENT_TEXT_MAX];
  client_format(a, t, sizeof(t));
  return t;
}

static const char *parsed(const char *s, int allow_port) {
  uint8_t a[16];
  if (client_parse(s, strlen(s), allow_port, a) != 0)
    return "-";
  return fmt(a);
}

static void test_parse_format(void **state) {
  (void)state;
  assert_string_equal(parsed("192.0.2.7", 0), "192.0.2.7");
  assert_string_equal(parsed("2001:DB8:0::7", 0), "2001:db8::7");
  assert_string_equal(parsed("[2001:db8::7]", 0), "2001:db8::7");
  /* The mapped form is the IPv4 address: one client, however written. */
  assert_string_equal(parsed("::ffff:192.0.2.7", 0), "192.0.2.7");
  assert_string_equal(parsed("192.0.2.7:4711", 1), "192.0.2.7");
  assert_string_equal(parsed("[2001:db8::7]:443", 1), "2001:db8::7");
  assert_string_equal(parsed("192.0.2.7:4711", 0), "-");
  assert_string_equal(parsed("[2001:db8::7]:443", 0), "-");
  static const char *const bad[] = {
      "", "unknown", "_hidden", "host.example", "192.0.2", "192.0.2.256",
      "1.2.3.4.5", "[192.0.2.7]", "192.0.2.7:", "192.0.2.7:99999",
      "192.0.2.7:-1", "2001:db8::7:443x", "[2001:db8::7", "fe80::1%eth0",
      "[2001:db8::7]x", " 192.0.2.7",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    if (strcmp(parsed(bad[i], 1), "-") != 0)
      fail_msg("parsed: '%s'", bad[i]);
  }
}

static void test_cidrs(void **state) {
  (void)state;
  struct client_cidr set[CLIENT_MAX_TRUSTED];
  int n = -1;
  char why[256];
  assert_int_equal(client_cidrs_parse("10.0.0.0/8, 192.0.2.7 2001:db8::/32,"
                                      "::ffff:198.51.100.0/120",
                                      set, CLIENT_MAX_TRUSTED, &n, why,
                                      sizeof(why)),
                   0);
  assert_int_equal(n, 4);
  uint8_t a[16];
  struct {
    const char *addr;
    int trusted;
  } cases[] = {
      {"10.1.2.3", 1},        {"11.0.0.1", 0},      {"192.0.2.7", 1},
      {"192.0.2.8", 0},       {"2001:db8:ffff::1", 1}, {"2001:db9::1", 0},
      {"198.51.100.200", 1},  {"::ffff:10.9.9.9", 1}, {"::a01:203", 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    assert_int_equal(client_parse(cases[i].addr, strlen(cases[i].addr), 0, a),
                     0);
    if (client_trusted(set, n, a) != cases[i].trusted)
      fail_msg("%s: trusted should be %d", cases[i].addr, cases[i].trusted);
  }
  assert_int_equal(client_cidrs_parse("", set, 4, &n, why, sizeof(why)), 0);
  assert_int_equal(n, 0);
  assert_int_equal(client_cidrs_parse("0.0.0.0/0", set, 4, &n, why,
                                      sizeof(why)),
                   0);
  assert_int_equal(client_parse("::1", 3, 0, a), 0);
  assert_false(client_trusted(set, n, a)); /* /0 of IPv4 is not IPv6 */

  static const char *const bad[] = {
      "10.0.0.1/8", "10.0.0.0/33", "2001:db8::/129", "10.0.0.0/", "10.0.0.0/x",
      "10.0.0.0/08", "host.example", "10.0.0.0/8/8", "10.0.0.0/-1",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    why[0] = '\0';
    if (client_cidrs_parse(bad[i], set, 4, &n, why, sizeof(why)) != -1)
      fail_msg("accepted '%s'", bad[i]);
    assert_true(why[0] != '\0');
  }
  assert_int_equal(client_cidrs_parse("10.0.0.1/8", set, 4, &n, why,
                                      sizeof(why)),
                   -1);
  assert_non_null(strstr(why, "10.0.0.0/8"));
  assert_int_equal(client_cidrs_parse("1.1.1.1 2.2.2.2 3.3.3.3", set, 2, &n,
                                      why, sizeof(why)),
                   -1);
  assert_non_null(strstr(why, "more than 2"));
}

#define XFF(v) {"X-Forwarded-For", 15, v, sizeof(v) - 1}

/* walk resolves a request from |peer| with |hdrs| against a trust list
 * of 10.0.0.0/8 and 2001:db8::/32; walk_trusted is what client_forwarded
 * said of the peer. */
static int walk_trusted;
static const char *walk(const char *peer, const struct http_hdr *hdrs,
                        size_t n) {
  struct client_cidr set[4];
  int ns;
  char why[128];
  assert_int_equal(client_cidrs_parse("10.0.0.0/8 2001:db8::/32", set, 4, &ns,
                                      why, sizeof(why)),
                   0);
  uint8_t p[16], out[16];
  assert_int_equal(client_parse(peer, strlen(peer), 0, p), 0);
  walk_trusted = client_forwarded(set, ns, p, hdrs, n, out);
  return fmt(out);
}

static void test_forwarded_walk(void **state) {
  (void)state;
  /* An untrusted peer's header is ignored, however plausible. */
  const struct http_hdr forged[] = {XFF("198.51.100.1")};
  assert_string_equal(walk("203.0.113.5", forged, 1), "203.0.113.5");
  assert_int_equal(walk_trusted, 0);
  /* A trusted peer: the right-most untrusted entry. */
  const struct http_hdr one[] = {XFF("198.51.100.1")};
  assert_string_equal(walk("10.0.0.2", one, 1), "198.51.100.1");
  assert_int_equal(walk_trusted, 1);
  /* A client may put anything on the left; the right decides. */
  const struct http_hdr chain[] = {
      XFF("1.1.1.1, 198.51.100.1 , 10.9.9.9,10.0.0.3")};
  assert_string_equal(walk("10.0.0.2", chain, 1), "198.51.100.1");
  /* Several fields are one list, in order; other fields do not count. */
  const struct http_hdr two[] = {
      XFF("192.0.2.50"),
      {"X-Real-IP", 9, "1.1.1.1", 7},
      XFF("10.1.1.1"),
  };
  assert_string_equal(walk("10.0.0.2", two, 3), "192.0.2.50");
  /* All trusted: the left-most. */
  const struct http_hdr inner[] = {XFF("10.5.5.5, 10.6.6.6")};
  assert_string_equal(walk("10.0.0.2", inner, 1), "10.5.5.5");
  /* Garbage stops the walk at the last address known. */
  const struct http_hdr junk[] = {XFF("198.51.100.1, unknown, 10.7.7.7")};
  assert_string_equal(walk("10.0.0.2", junk, 1), "10.7.7.7");
  const struct http_hdr junk2[] = {XFF("198.51.100.1, nonsense")};
  assert_string_equal(walk("10.0.0.2", junk2, 1), "10.0.0.2");
  assert_int_equal(walk_trusted, 1); /* the peer is, whatever it sent */
  /* Empty entries are skipped; ports and brackets are read. */
  const struct http_hdr ports[] = {
      XFF("[2001:db9::1]:8443, , 198.51.100.4:5000,")};
  assert_string_equal(walk("10.0.0.2", ports, 1), "198.51.100.4");
  const struct http_hdr v6[] = {XFF("2001:db9::1, 2001:db8::5")};
  assert_string_equal(walk("2001:db8::9", v6, 1), "2001:db9::1");
  /* No header: the peer. */
  assert_string_equal(walk("10.0.0.2", NULL, 0), "10.0.0.2");
  assert_int_equal(walk_trusted, 1);
  /* A trusted chain longer than the hop limit ends at the limit. */
  char many[CLIENT_MAX_HOPS * 12 + 64] = "198.51.100.9";
  for (int i = 0; i < CLIENT_MAX_HOPS + 5; i++)
    strcat(many, ", 10.0.0.1");
  struct http_hdr deep = {"x-forwarded-for", 15, many, strlen(many)};
  assert_string_equal(walk("10.0.0.2", &deep, 1), "10.0.0.1");

  /* Without a trust list nothing is believed. */
  uint8_t p[16], out[16];
  client_parse("10.0.0.2", 8, 0, p);
  assert_int_equal(client_forwarded(NULL, 0, p, one, 1, out), 0);
  assert_string_equal(fmt(out), "10.0.0.2");
}

static void test_network(void **state) {
  (void)state;
  uint8_t a[16], b[16], na[16], nb[16];
  /* Two addresses of one /24 are one client; of two /24s, two. */
  client_parse("198.51.100.7", 12, 0, a);
  client_parse("198.51.100.200", 14, 0, b);
  client_network(a, 24, 48, na);
  client_network(b, 24, 48, nb);
  assert_memory_equal(na, nb, 16);
  assert_string_equal(fmt(na), "198.51.100.0");
  client_parse("198.51.101.7", 12, 0, b);
  client_network(b, 24, 48, nb);
  assert_memory_not_equal(na, nb, 16);
  /* IPv6: a /48 by default; a /64 when configured. */
  client_parse("2001:db8:1:2::7", 15, 0, a);
  client_parse("2001:db8:1:3::9", 15, 0, b);
  client_network(a, 24, 48, na);
  client_network(b, 24, 48, nb);
  assert_memory_equal(na, nb, 16);
  assert_string_equal(fmt(na), "2001:db8:1::");
  client_network(a, 24, 64, na);
  client_network(b, 24, 64, nb);
  assert_memory_not_equal(na, nb, 16);
  /* Odd lengths cut inside a byte. */
  client_parse("192.0.2.255", 11, 0, a);
  client_network(a, 25, 48, na);
  assert_string_equal(fmt(na), "192.0.2.128");
  client_network(a, 32, 48, na);
  assert_string_equal(fmt(na), "192.0.2.255");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_format),
      cmocka_unit_test(test_cidrs),
      cmocka_unit_test(test_forwarded_walk),
      cmocka_unit_test(test_network),
  };
  return cmocka_run_group_tests_name("client", tests, NULL, NULL);
}
