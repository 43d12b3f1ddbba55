/* test_proxyproto.c: the PROXY protocol v1/v2 parser. Valid headers of
 * each kind, every prefix of them (more bytes needed, never an error or a
 * guess), and the malformed ones a strict reader must refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/client.h"
#include "proxy/proxyproto.h"

static const uint8_t sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

static int parse(const void *p, size_t n, struct proxyproto *h,
                 const char **why) {
  *why = NULL;
  return proxyproto_parse(p, n, h, why);
}

/* every_prefix_waits: each proper prefix of a valid header asks for more
 * bytes, whichever read boundary the balancer's bytes arrive on. */
static void every_prefix_waits(const uint8_t *p, size_t n) {
  struct proxyproto h;
  const char *why;
  for (size_t k = 0; k < n; k++) {
    int rv = parse(p, k, &h, &why);
    if (rv != 0)
      fail_msg("prefix of %zu bytes: %d (%s)", k, rv, why ? why : "");
  }
}

static void addr_is(const uint8_t a[16], const char *text) {
  char t[CLIENT_TEXT_MAX];
  client_format(a, t, sizeof(t));
  assert_string_equal(t, text);
}

static void test_v1_valid(void **state) {
  (void)state;
  struct proxyproto h;
  const char *why;
  const char *v4 = "PROXY TCP4 203.0.113.7 192.0.2.1 51234 443\r\nGET /";
  size_t hl = strlen(v4) - 5;
  assert_int_equal(parse(v4, strlen(v4), &h, &why), (int)hl);
  assert_int_equal(h.version, 1);
  assert_true(h.has_addr);
  addr_is(h.src, "203.0.113.7");
  addr_is(h.dst, "192.0.2.1");
  assert_int_equal(h.sport, 51234);
  assert_int_equal(h.dport, 443);
  every_prefix_waits((const uint8_t *)v4, hl);

  const char *v6 = "PROXY TCP6 2001:db8::7 2001:db8::1 0 65535\r\n";
  assert_int_equal(parse(v6, strlen(v6), &h, &why), (int)strlen(v6));
  addr_is(h.src, "2001:db8::7");
  assert_int_equal(h.sport, 0);
  assert_int_equal(h.dport, 65535);

  /* UNKNOWN: the rest of the line is ignored, the peer stands. */
  const char *unk = "PROXY UNKNOWN ffff::1 whatever\r\n";
  assert_int_equal(parse(unk, strlen(unk), &h, &why), (int)strlen(unk));
  assert_false(h.has_addr);
  assert_int_equal(parse("PROXY UNKNOWN\r\n", 15, &h, &why), 15);
  assert_false(h.has_addr);

  /* The longest legal line: 107 bytes with its CRLF. */
  char max[128] = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
  assert_int_equal(strlen(max), 104);
  assert_int_equal(parse(max, strlen(max), &h, &why), 104);
}

static void test_v1_malformed(void **state) {
  (void)state;
  static const char *const bad[] = {
      "GET / HTTP/1.1\r\n",
      "PROXY\r\n",
      "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
      "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
      "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
      "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
      "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",
      "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",
      "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
      "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX",
      "PROXY TCP4 ::1 ::1 1 2\r\n",
      "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
      "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",
      "PROXY TCP4 host.example 5.6.7.8 1 2\r\n",
      "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
      "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n",
      "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
      "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
      "PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n",
      "PROXY UNKNOWN \x01\r\n",
      "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\0\r\n",
  };
  struct proxyproto h;
  const char *why;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    size_t n = strlen(bad[i]);
    if (i == sizeof(bad) / sizeof(bad[0]) - 1)
      n = 34; /* the one with a NUL inside */
    int rv = parse(bad[i], n, &h, &why);
    if (rv != -1 || why == NULL)
      fail_msg("accepted (%d): %s", rv, bad[i]);
  }
  /* No CRLF within 107 bytes. */
  char longer[200];
  memset(longer, 'A', sizeof(longer));
  memcpy(longer, "PROXY UNKNOWN ", 14);
  assert_int_equal(parse(longer, 106, &h, &why), 0);
  assert_int_equal(parse(longer, 107, &h, &why), -1);
  longer[106] = '\r';
  longer[107] = '\n';
  assert_int_equal(parse(longer, 108, &h, &why), -1);
  longer[105] = '\r';
  longer[106] = '\n';
  assert_int_equal(parse(longer, 108, &h, &why), 107);
}

/* v2 builds a version 2 header: |cmd| 0 LOCAL, 1 PROXY; |fam|; the
 * address block |a| (|alen| bytes) and |tlv| (|tlen|) after it. */
static size_t v2(uint8_t *out, int cmd, uint8_t fam, const uint8_t *a,
                 size_t alen, const uint8_t *tlv, size_t tlen) {
  memcpy(out, sig, 12);
  out[12] = (uint8_t)(0x20 | cmd);
  out[13] = fam;
  size_t len = alen + tlen;
  out[14] = (uint8_t)(len >> 8);
  out[15] = (uint8_t)len;
  if (alen)
    memcpy(out + 16, a, alen);
  if (tlen)
    memcpy(out + 16 + alen, tlv, tlen);
  return 16 + len;
}

static void test_v2_valid(void **state) {
  (void)state;
  uint8_t buf[PROXYPROTO_MAX + 16];
  struct proxyproto h;
  const char *why;
  const uint8_t a4[12] = {198, 51, 100, 9, 10, 0, 0, 1, 0xc8, 0x01, 0x01,
                          0xbb};
  /* TLVs: an ALPN and a 0-length NOOP; they are framed, not understood. */
  const uint8_t tlv[] = {0x01, 0x00, 0x02, 'h', '2', 0x04, 0x00, 0x00};
  size_t n = v2(buf, 1, 0x11, a4, sizeof(a4), tlv, sizeof(tlv));
  memcpy(buf + n, "GET / HTTP/1.1\r\n", 16);
  assert_int_equal(parse(buf, n + 16, &h, &why), (int)n);
  assert_int_equal(h.version, 2);
  assert_true(h.has_addr);
  addr_is(h.src, "198.51.100.9");
  addr_is(h.dst, "10.0.0.1");
  assert_int_equal(h.sport, 0xc801);
  assert_int_equal(h.dport, 443);
  every_prefix_waits(buf, n);

  uint8_t a6[36] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                    7};
  a6[16] = 0x20;
  a6[17] = 0x01;
  a6[33] = 80;
  n = v2(buf, 1, 0x21, a6, sizeof(a6), NULL, 0);
  assert_int_equal(parse(buf, n, &h, &why), (int)n);
  addr_is(h.src, "2001:db8::7");
  assert_int_equal(h.dport, 0);
  assert_int_equal(h.sport, 80);

  /* LOCAL: a balancer's own health check; the peer stands, whatever the
   * family says. */
  n = v2(buf, 0, 0x00, NULL, 0, NULL, 0);
  assert_int_equal(parse(buf, n, &h, &why), 16);
  assert_false(h.has_addr);
  n = v2(buf, 0, 0x11, a4, sizeof(a4), NULL, 0);
  assert_int_equal(parse(buf, n, &h, &why), (int)n);
  assert_false(h.has_addr);

  /* PROXY with UNSPEC or UNIX: no IP address to take. */
  n = v2(buf, 1, 0x00, NULL, 0, tlv, sizeof(tlv));
  assert_int_equal(parse(buf, n, &h, &why), (int)n);
  assert_false(h.has_addr);
  uint8_t unix_addr[216] = {0};
  memcpy(unix_addr, "/run/lb.sock", 12);
  n = v2(buf, 1, 0x31, unix_addr, sizeof(unix_addr), NULL, 0);
  assert_int_equal(parse(buf, n, &h, &why), (int)n);
  assert_false(h.has_addr);
  every_prefix_waits(buf, n);

  /* As long as herald accepts. */
  static uint8_t big[PROXYPROTO_MAX];
  size_t tl = PROXYPROTO_MAX - 16 - 12 - 3;
  big[0] = 0x20; /* a custom TLV type */
  big[1] = (uint8_t)(tl >> 8);
  big[2] = (uint8_t)tl;
  n = v2(buf, 1, 0x11, a4, sizeof(a4), big, tl + 3);
  assert_int_equal(n, PROXYPROTO_MAX);
  assert_int_equal(parse(buf, n, &h, &why), PROXYPROTO_MAX);
}

static void test_v2_malformed(void **state) {
  (void)state;
  uint8_t buf[PROXYPROTO_MAX + 64];
  struct proxyproto h;
  const char *why;
  const uint8_t a4[12] = {1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2};
  size_t n;

  /* A broken signature, at once. */
  n = v2(buf, 1, 0x11, a4, 12, NULL, 0);
  buf[6] ^= 1;
  assert_int_equal(parse(buf, 7, &h, &why), -1);
  assert_non_null(why);
  /* Version 1 or 3 in the version nibble; command 2. */
  n = v2(buf, 1, 0x11, a4, 12, NULL, 0);
  buf[12] = 0x11;
  assert_int_equal(parse(buf, n, &h, &why), -1);
  buf[12] = 0x31;
  assert_int_equal(parse(buf, n, &h, &why), -1);
  buf[12] = 0x22;
  assert_int_equal(parse(buf, n, &h, &why), -1);
  /* Unknown family or transport; a datagram one on PROXY. */
  static const uint8_t fams[] = {0x01, 0x10, 0x13, 0x41, 0x12, 0x22, 0x32};
  for (size_t i = 0; i < sizeof(fams); i++) {
    n = v2(buf, 1, fams[i], a4, 12, NULL, 0);
    if (parse(buf, n, &h, &why) != -1)
      fail_msg("family 0x%02x accepted", fams[i]);
  }
  /* An address block shorter than the family's. */
  n = v2(buf, 1, 0x11, a4, 11, NULL, 0);
  assert_int_equal(parse(buf, n, &h, &why), -1);
  n = v2(buf, 1, 0x21, a4, 12, NULL, 0);
  assert_int_equal(parse(buf, n, &h, &why), -1);
  /* TLVs that do not fill the rest exactly. */
  const uint8_t cut[] = {0x01, 0x00, 0x05, 'h', '2'};
  n = v2(buf, 1, 0x11, a4, 12, cut, sizeof(cut));
  assert_int_equal(parse(buf, n, &h, &why), -1);
  const uint8_t stub[] = {0x01, 0x00};
  n = v2(buf, 1, 0x11, a4, 12, stub, sizeof(stub));
  assert_int_equal(parse(buf, n, &h, &why), -1);
  /* Longer than herald takes: refused from the length field alone. */
  n = v2(buf, 1, 0x11, a4, 12, NULL, 0);
  size_t len = PROXYPROTO_MAX - 16 + 1;
  buf[14] = (uint8_t)(len >> 8);
  buf[15] = (uint8_t)len;
  assert_int_equal(parse(buf, 16, &h, &why), -1);
  /* Truncated: more is needed, until the connection gives up (the
   * caller's timeout); never a partial address. */
  n = v2(buf, 1, 0x11, a4, 12, NULL, 0);
  assert_int_equal(parse(buf, n - 1, &h, &why), 0);
  assert_int_equal(parse(buf, 15, &h, &why), 0);
  /* Neither version. */
  assert_int_equal(parse("\x16\x03\x01", 3, &h, &why), -1);
  assert_int_equal(parse("PRI * HTTP/2.0", 14, &h, &why), -1);
  assert_int_equal(parse("", 0, &h, &why), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_v1_valid),
      cmocka_unit_test(test_v1_malformed),
      cmocka_unit_test(test_v2_valid),
      cmocka_unit_test(test_v2_malformed),
  };
  return cmocka_run_group_tests_name("proxyproto", tests, NULL, NULL);
}
