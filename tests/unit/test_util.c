/* test_util.c: util_parse_hostport and util_strcaseeq. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/log.h"
#include "base/util.h"

static void test_hostport_ipv4(void **state) {
  char host[64];
  int port = 0;
  (void)state;
  assert_int_equal(util_parse_hostport("127.0.0.1:8443", host, sizeof host,
                                       &port), 0);
  assert_string_equal(host, "127.0.0.1");
  assert_int_equal(port, 8443);
  assert_int_equal(util_parse_hostport("0.0.0.0:1", host, sizeof host,
                                       &port), 0);
  assert_int_equal(port, 1);
  assert_int_equal(util_parse_hostport("10.0.0.1:65535", host, sizeof host,
                                       &port), 0);
  assert_int_equal(port, 65535);
}

static void test_hostport_name(void **state) {
  char host[64];
  int port = 0;
  (void)state;
  assert_int_equal(util_parse_hostport("backend.example:80", host,
                                       sizeof host, &port), 0);
  assert_string_equal(host, "backend.example");
  assert_int_equal(port, 80);
}

static void test_hostport_ipv6(void **state) {
  char host[64];
  int port = 0;
  (void)state;
  assert_int_equal(util_parse_hostport("[::1]:8080", host, sizeof host,
                                       &port), 0);
  assert_string_equal(host, "::1");
  assert_int_equal(port, 8080);
  assert_int_equal(util_parse_hostport("[2001:db8::5]:443", host,
                                       sizeof host, &port), 0);
  assert_string_equal(host, "2001:db8::5");
  assert_int_equal(port, 443);
}

static void test_hostport_missing_port(void **state) {
  char host[64];
  int port = 0;
  (void)state;
  assert_int_equal(util_parse_hostport("127.0.0.1", host, sizeof host,
                                       &port), -1);
  assert_int_equal(util_parse_hostport("127.0.0.1:", host, sizeof host,
                                       &port), -1);
  assert_int_equal(util_parse_hostport("[::1]", host, sizeof host, &port),
                   -1);
  assert_int_equal(util_parse_hostport("[::1]:", host, sizeof host, &port),
                   -1);
}

static void test_hostport_port_range(void **state) {
  char host[64];
  int port = 0;
  (void)state;
  assert_int_equal(util_parse_hostport("127.0.0.1:0", host, sizeof host,
                                       &port), -1);
  assert_int_equal(util_parse_hostport("127.0.0.1:65536", host, sizeof host,
                                       &port), -1);
  assert_int_equal(util_parse_hostport("[::1]:0", host, sizeof host, &port),
                   -1);
  assert_int_equal(util_parse_hostport("[::1]:65536", host, sizeof host,
                                       &port), -1);
  assert_int_equal(util_parse_hostport("h:99999999999999999999", host,
                                       sizeof host, &port), -1);
}

static void test_hostport_garbage(void **state) {
  char host[64];
  char tiny[4];
  int port = 0;
  (void)state;
  assert_int_equal(util_parse_hostport("", host, sizeof host, &port), -1);
  assert_int_equal(util_parse_hostport(":80", host, sizeof host, &port), -1);
  assert_int_equal(util_parse_hostport("host:http", host, sizeof host,
                                       &port), -1);
  assert_int_equal(util_parse_hostport("host:80x", host, sizeof host,
                                       &port), -1);
  assert_int_equal(util_parse_hostport("[::1:80", host, sizeof host, &port),
                   -1);
  assert_int_equal(util_parse_hostport("[::1]80", host, sizeof host, &port),
                   -1);
  assert_int_equal(util_parse_hostport("[]:80", host, sizeof host, &port),
                   -1);
  /* A host that does not fit is refused, not truncated. */
  assert_int_equal(util_parse_hostport("abcd:80", tiny, sizeof tiny, &port),
                   -1);
  assert_int_equal(util_parse_hostport("abc:80", tiny, sizeof tiny, &port),
                   0);
  assert_string_equal(tiny, "abc");
}

static void test_strcaseeq(void **state) {
  (void)state;
  assert_true(util_strcaseeq("Host", 4, "host"));
  assert_true(util_strcaseeq("CONTENT-LENGTH", 14, "content-length"));
  assert_true(util_strcaseeq("", 0, ""));
  /* |alen| bounds |a|: the rest of the buffer is not part of it. */
  assert_true(util_strcaseeq("hostname", 4, "HOST"));
  assert_false(util_strcaseeq("hostname", 8, "host"));
  assert_false(util_strcaseeq("host", 4, "hostname"));
  assert_false(util_strcaseeq("host", 4, "hose"));
  assert_false(util_strcaseeq("", 0, "x"));
  assert_false(util_strcaseeq("x", 1, ""));
}

/* The published FNV-1a 64 test vectors, and continuation from a prefix. */
/* Every byte against every byte, at each of the 16 positions of a
 * 16-byte run (two whole words) and in the tail after them: only ASCII
 * letters may match across case; '@' and '`', '[' and '{', bytes with the
 * top bit set never do. */
static int ref_lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static void test_memcaseeq_every_byte(void **state) {
  (void)state;
  char a[19], b[19];
  for (int pos = 0; pos < 19; pos++) {
    for (int x = 0; x < 256; x++) {
      for (int y = 0; y < 256; y++) {
        memset(a, 'k', sizeof(a));
        memset(b, 'K', sizeof(b));
        a[pos] = (char)x;
        b[pos] = (char)y;
        int want = ref_lower(x) == ref_lower(y);
        if (util_memcaseeq(a, b, sizeof(a)) != want)
          fail_msg("pos %d: %#x vs %#x: want %d", pos, x, y, want);
      }
    }
  }
}

static void test_lower_copy(void **state) {
  (void)state;
  char src[300], dst[300], want[300];
  for (int i = 0; i < 300; i++) {
    src[i] = (char)(i % 256);
    want[i] = (char)ref_lower(i % 256);
  }
  for (size_t n = 0; n <= 300; n += 7) {
    memset(dst, '#', sizeof(dst));
    util_lower_copy(dst, src, n);
    assert_memory_equal(dst, want, n);
    if (n < 300)
      assert_int_equal(dst[n], '#');
  }
  char name[] = "Content-Type";
  util_lower_copy(name, name, strlen(name));
  assert_string_equal(name, "content-type");
}

static void test_fnv1a(void **state) {
  (void)state;
  assert_true(util_fnv1a(UTIL_FNV1A_INIT, "", 0) == 0xcbf29ce484222325ull);
  assert_true(util_fnv1a(UTIL_FNV1A_INIT, "a", 1) == 0xaf63dc4c8601ec8cull);
  assert_true(util_fnv1a(UTIL_FNV1A_INIT, "foobar", 6) ==
              0x85944171f73967e8ull);
  assert_true(util_fnv1a(util_fnv1a(UTIL_FNV1A_INIT, "foo", 3), "bar", 3) ==
              util_fnv1a(UTIL_FNV1A_INIT, "foobar", 6));
  assert_true(util_mix64(0) == 0);
  assert_true(util_mix64(1) != util_mix64(2));
}

/* A repeating line passes once per period and then reports how many it
 * held back. */
static void test_log_limit(void **state) {
  (void)state;
  struct log_limit l = {0};
  unsigned held = 99;
  assert_int_equal(log_limit_pass(&l, 5000, 1000, &held), 1);
  assert_int_equal(held, 0);
  assert_int_equal(log_limit_pass(&l, 5000, 1000, &held), 0);
  assert_int_equal(log_limit_pass(&l, 5500, 1000, &held), 0);
  assert_int_equal(log_limit_pass(&l, 5999, 1000, &held), 0);
  assert_int_equal(log_limit_pass(&l, 6000, 1000, &held), 1);
  assert_int_equal(held, 3);
  assert_int_equal(log_limit_pass(&l, 6001, 1000, &held), 0);
  /* A clock at 0 (a loop that has not yet run) still logs once. */
  struct log_limit z = {0};
  assert_int_equal(log_limit_pass(&z, 0, 1000, &held), 1);
  assert_int_equal(log_limit_pass(&z, 0, 1000, &held), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fnv1a),
      cmocka_unit_test(test_log_limit),
      cmocka_unit_test(test_hostport_ipv4),
      cmocka_unit_test(test_hostport_name),
      cmocka_unit_test(test_hostport_ipv6),
      cmocka_unit_test(test_hostport_missing_port),
      cmocka_unit_test(test_hostport_port_range),
      cmocka_unit_test(test_hostport_garbage),
      cmocka_unit_test(test_strcaseeq),
      cmocka_unit_test(test_memcaseeq_every_byte),
      cmocka_unit_test(test_lower_copy),
  };
  return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
