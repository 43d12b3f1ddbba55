/* test_digest.c: the pushed-resources cookie set (proxy/digest.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/digest.h"

/* splitmix64: a fixed-seed stream of well-mixed 64-bit values. */
static uint64_t next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* decode copies |s| into a heap block of exactly |len| bytes first, so
 * that AddressSanitizer sees any read past the value. */
static int decode(struct digest *d, const char *s, size_t len) {
  char *p = malloc(len ? len : 1);
  assert_non_null(p);
  memcpy(p, s, len);
  int rv = digest_decode(d, p, len);
  free(p);
  return rv;
}

static int decode_str(struct digest *d, const char *s) {
  return decode(d, s, strlen(s));
}

static int from_header(struct digest *d, const char *s) {
  size_t len = strlen(s);
  char *p = malloc(len ? len : 1);
  assert_non_null(p);
  memcpy(p, s, len);
  int rv = digest_from_cookie_header(d, p, len);
  free(p);
  return rv;
}

/* b64url encodes raw bytes the way digest.c should, to forge values. */
static void b64url(const uint8_t *in, size_t n, char *out) {
  static const char a[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    acc = (acc << 8) | in[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      *out++ = a[(acc >> bits) & 63];
    }
  }
  if (bits > 0)
    *out++ = a[(acc << (6 - bits)) & 63];
  *out = '\0';
}

static void assert_well_formed(const struct digest *d) {
  assert_true(d->n <= DIGEST_MAX_ENTRIES);
  for (size_t i = 1; i < d->n; i++)
    assert_true(d->v[i - 1] < d->v[i]);
}

/* fill adds random hashes to |d| until it holds |n| distinct entries,
 * saves the hashes in |h| (room for 4 * DIGEST_MAX_ENTRIES) and returns
 * how many there are. */
static size_t fill(struct digest *d, uint64_t *h, size_t n, uint64_t seed) {
  digest_init(d);
  size_t i = 0;
  while (d->n < n) {
    assert_true(i < 4 * DIGEST_MAX_ENTRIES);
    h[i] = next(&seed);
    assert_int_equal(digest_add(d, h[i]), 0);
    i++;
  }
  return i;
}

static void round_trip(size_t n, uint64_t seed) {
  static struct digest d, e;
  static uint64_t h[4 * DIGEST_MAX_ENTRIES];
  char out[DIGEST_COOKIE_MAX + 1], out2[DIGEST_COOKIE_MAX + 1];
  size_t nh = fill(&d, h, n, seed);
  assert_int_equal(d.n, n);
  assert_well_formed(&d);
  size_t len = digest_encode(&d, out, sizeof(out));
  assert_true(len > 0);
  assert_true(len <= 774);
  assert_int_equal(strlen(out), len);
  memset(&e, 0xa5, sizeof(e));
  assert_int_equal(decode(&e, out, len), 0);
  assert_int_equal(e.n, n);
  assert_memory_equal(e.v, d.v, n * sizeof(d.v[0]));
  for (size_t i = 0; i < nh; i++)
    assert_true(digest_contains(&e, h[i]));
  /* Re-encoding a decoded set gives the same value. */
  assert_int_equal(digest_encode(&e, out2, sizeof(out2)), len);
  assert_string_equal(out, out2);
}

static void test_round_trip(void **state) {
  (void)state;
  round_trip(0, 1);
  round_trip(1, 2);
  round_trip(16, 3);
  round_trip(64, 4);
  round_trip(512, 5);
  for (uint64_t s = 100; s < 200; s++)
    round_trip((size_t)(next(&s) % (DIGEST_MAX_ENTRIES + 1)), s);
}

static void test_empty(void **state) {
  struct digest d;
  char out[DIGEST_COOKIE_MAX + 1];
  (void)state;
  digest_init(&d);
  assert_false(digest_contains(&d, 0));
  assert_false(digest_contains(&d, ~(uint64_t)0));
  size_t len = digest_encode(&d, out, sizeof(out));
  assert_string_equal(out, "AQAA"); /* version 1, k 0, n 0 */
  assert_int_equal(len, 4);
  d.n = 7;
  assert_int_equal(decode_str(&d, out), 0);
  assert_int_equal(d.n, 0);
}

static void test_add_dedup_and_full(void **state) {
  static struct digest d;
  (void)state;
  digest_init(&d);
  /* Hashes that share the top 16 bits are one entry. */
  assert_int_equal(digest_add(&d, 0x1234000000000000ull), 0);
  assert_int_equal(digest_add(&d, 0x1234ffffffffffffull), 0);
  assert_int_equal(d.n, 1);
  assert_true(digest_contains(&d, 0x1234555555555555ull));
  assert_false(digest_contains(&d, 0x1235000000000000ull));
  assert_false(digest_contains(&d, 0x1233ffffffffffffull));
  /* Fill to the cap in descending order: inserts stay sorted. */
  digest_init(&d);
  for (uint64_t i = 0; i < DIGEST_MAX_ENTRIES; i++)
    assert_int_equal(digest_add(&d, (0xffffull - 7 * i) << 48), 0);
  assert_int_equal(d.n, DIGEST_MAX_ENTRIES);
  assert_well_formed(&d);
  assert_int_equal(digest_add(&d, 0x0001ull << 48), -1);
  assert_int_equal(digest_add(&d, 0xffffull << 48), 0); /* present */
  assert_int_equal(d.n, DIGEST_MAX_ENTRIES);
}

static void test_merge_decoded(void **state) {
  static struct digest d, e;
  static uint64_t h[4 * DIGEST_MAX_ENTRIES], h2[4 * DIGEST_MAX_ENTRIES];
  char out[DIGEST_COOKIE_MAX + 1];
  (void)state;
  fill(&d, h, 40, 77);
  assert_true(digest_encode(&d, out, sizeof(out)) > 0);
  assert_int_equal(decode_str(&e, out), 0);
  /* A later visit: the browser's set plus this visit's pushes. */
  fill(&d, h2, 30, 78);
  for (size_t i = 0; i < 30; i++)
    assert_int_equal(digest_add(&e, h2[i]), 0);
  assert_true(digest_encode(&e, out, sizeof(out)) > 0);
  assert_int_equal(decode_str(&d, out), 0);
  assert_true(d.n >= 69 && d.n <= 70); /* 70 unless two collide */
  for (size_t i = 0; i < 40; i++)
    assert_true(digest_contains(&d, h[i]));
  for (size_t i = 0; i < 30; i++)
    assert_true(digest_contains(&d, h2[i]));
}

static void test_hash(void **state) {
  (void)state;
  uint64_t a = digest_hash("example.com", 11, "/app.js", 7, "\"v1\"", 4);
  assert_int_equal(a,
                   digest_hash("example.com", 11, "/app.js", 7, "\"v1\"", 4));
  assert_int_not_equal(
      a, digest_hash("example.com", 11, "/app.js", 7, "\"v2\"", 4));
  assert_int_not_equal(
      a, digest_hash("example.org", 11, "/app.js", 7, "\"v1\"", 4));
  assert_int_not_equal(
      a, digest_hash("example.com", 11, "/app.css", 8, "\"v1\"", 4));
  /* Field boundaries count: ("ab", "c") is not ("a", "bc"). */
  assert_int_not_equal(digest_hash("h", 1, "/ab", 3, "c", 1),
                       digest_hash("h", 1, "/a", 2, "bc", 2));
  assert_int_not_equal(digest_hash("h", 1, "/a", 2, "", 0),
                       digest_hash("h", 1, "/", 1, "a", 1));
  /* The top 16 bits, which the set keeps, are spread: similar paths
   * rarely share them, so 600 paths give 512 distinct entries (about 2
   * collide among the first 512). */
  static struct digest d;
  digest_init(&d);
  size_t added = 0;
  for (int i = 0; i < 600 && added < DIGEST_MAX_ENTRIES; i++) {
    char path[32];
    int n = snprintf(path, sizeof(path), "/static/%d.js", i);
    uint64_t x = digest_hash("example.com", 11, path, (size_t)n, "", 0);
    if (!digest_contains(&d, x)) {
      assert_int_equal(digest_add(&d, x), 0);
      added++;
    }
  }
  assert_int_equal(d.n, DIGEST_MAX_ENTRIES);
}

static void false_positives(size_t n, uint64_t seed) {
  static struct digest d, e;
  static uint64_t h[4 * DIGEST_MAX_ENTRIES];
  char out[DIGEST_COOKIE_MAX + 1];
  size_t nh = fill(&d, h, n, seed);
  size_t len = digest_encode(&d, out, sizeof(out));
  assert_int_equal(decode(&e, out, len), 0);
  const int trials = 100000;
  int fp = 0;
  for (int t = 0; t < trials; t++) {
    uint64_t x = next(&seed);
    int member = 0;
    for (size_t i = 0; i < nh; i++)
      member |= h[i] == x;
    if (!member && digest_contains(&e, x))
      fp++;
  }
  double theory = (double)e.n / 65536.0;
  double measured = (double)fp / trials;
  printf("digest: %zu entries: false positives %.4f%% (theory %.4f%%)\n", n,
         100 * measured, 100 * theory);
  assert_true(measured >= theory / 2 && measured <= theory * 2);
}

static void test_false_positive_rate(void **state) {
  (void)state;
  false_positives(64, 11);
  false_positives(512, 12);
}

static void test_sizes(void **state) {
  static struct digest d;
  static uint64_t h[4 * DIGEST_MAX_ENTRIES];
  char out[DIGEST_COOKIE_MAX + 1];
  static const size_t ns[] = {1, 16, 64, 128, 256, 512};
  (void)state;
  for (size_t j = 0; j < sizeof(ns) / sizeof(ns[0]); j++) {
    size_t min = SIZE_MAX, max = 0, sum = 0;
    const int sets = 200;
    for (int s = 0; s < sets; s++) {
      fill(&d, h, ns[j], 1000 * j + (uint64_t)s);
      size_t len = digest_encode(&d, out, sizeof(out));
      assert_true(len > 0 && len <= 774);
      sum += len;
      min = len < min ? len : min;
      max = len > max ? len : max;
    }
    printf("digest: %3zu entries: cookie value %zu bytes average "
           "(%zu..%zu, %.1f bits/entry)\n",
           ns[j], sum / sets, min, max,
           (double)sum / sets * 6 / (double)ns[j]);
  }
  /* Adversarial full sets stay within the documented 774 bytes: evenly
   * spread (all deltas 127), one cluster, and clustered pairs. */
  for (int shape = 0; shape < 3; shape++) {
    digest_init(&d);
    for (uint64_t i = 0; i < DIGEST_MAX_ENTRIES; i++) {
      uint64_t v = shape == 0   ? i * 128 + 127
                   : shape == 1 ? 65535 - i
                                : (i / 2) * 256 + (i & 1) * 255;
      assert_int_equal(digest_add(&d, v << 48), 0);
    }
    size_t len = digest_encode(&d, out, sizeof(out));
    assert_true(len > 0 && len <= 774);
    struct digest e;
    assert_int_equal(decode(&e, out, len), 0);
    assert_memory_equal(e.v, d.v, sizeof(d.v));
  }
}

static void test_encode_cap(void **state) {
  static struct digest d;
  static uint64_t h[4 * DIGEST_MAX_ENTRIES];
  char out[DIGEST_COOKIE_MAX + 1];
  (void)state;
  fill(&d, h, 16, 9);
  size_t len = digest_encode(&d, out, sizeof(out));
  char small[DIGEST_COOKIE_MAX + 1];
  memset(small, 'x', sizeof(small));
  assert_int_equal(digest_encode(&d, small, len), 0);
  assert_int_equal(small[0], 'x'); /* nothing written */
  assert_int_equal(digest_encode(&d, small, len + 1), len);
  assert_string_equal(small, out);
  assert_int_equal(digest_encode(&d, small, 0), 0);
}

static void test_malformed(void **state) {
  static struct digest d, good;
  static uint64_t h[4 * DIGEST_MAX_ENTRIES];
  char out[DIGEST_COOKIE_MAX + 1], bad[2 * DIGEST_COOKIE_MAX];
  uint8_t raw[1024];
  (void)state;
#define REJECT(s, len)                                                       \
  do {                                                                       \
    d.n = 5;                                                                 \
    assert_int_equal(decode(&d, (s), (len)), -1);                            \
    assert_int_equal(d.n, 0);                                                \
  } while (0)
#define REJECT_RAW(n)                                                        \
  do {                                                                       \
    b64url(raw, (n), bad);                                                   \
    REJECT(bad, strlen(bad));                                                \
  } while (0)
#define ACCEPT_RAW(n)                                                        \
  do {                                                                       \
    b64url(raw, (n), bad);                                                   \
    assert_int_equal(decode_str(&d, bad), 0);                                \
  } while (0)

  /* base64url itself. */
  assert_int_equal(decode_str(&d, "AQAA"), 0); /* 01 00 00: empty set */
  REJECT("", 0);
  REJECT("A", 1);     /* no encoding is 1 mod 4 long */
  REJECT("AQAAA", 5);
  REJECT("AQA", 3);   /* two bytes: no n */
  REJECT("AQA=", 4);  /* padding */
  REJECT("AQAA=", 5);
  REJECT("AQ+A", 4);  /* standard alphabet */
  REJECT("AQ/A", 4);
  REJECT("AQ A", 4);
  REJECT("AQ\0A", 4);
  REJECT("AQ\xc3\xa9", 4);

  /* Version, k and n. */
  memset(raw, 0, sizeof(raw));
  raw[0] = 2, raw[1] = 0, raw[2] = 0;
  REJECT_RAW(3);
  raw[0] = 0;
  REJECT_RAW(3);
  raw[0] = 1, raw[1] = 17;
  REJECT_RAW(3);
  raw[1] = 16;
  ACCEPT_RAW(3);
  /* n = 513 zero deltas with k = 0: 513 bits, in 65 bytes. */
  raw[1] = 0, raw[2] = 0x80 | (513 & 0x7f), raw[3] = 513 >> 7;
  REJECT_RAW(4 + 65);
  raw[2] = 0x80 | (512 & 0x7f), raw[3] = 512 >> 7; /* n = 512: 0..511 */
  ACCEPT_RAW(4 + 64);
  assert_int_equal(d.n, 512);
  assert_int_equal(d.v[0], 0);
  assert_int_equal(d.v[511], 511);
  raw[2] = 0x80, raw[3] = 0; /* n = 0, overlong */
  REJECT_RAW(4);
  raw[2] = 0x80, raw[3] = 0x81, raw[4] = 0x00; /* three-byte varint */
  REJECT_RAW(5);
  raw[2] = 0xff, raw[3] = 0x7f; /* n = 16383 */
  REJECT_RAW(4 + 600);

  /* Values at the end of the domain. n = 1, k = 16: 65535 is the last
   * value; q = 1 would be 65536. */
  memset(raw, 0, sizeof(raw));
  raw[0] = 1, raw[1] = 16, raw[2] = 1;
  raw[3] = 0x7f, raw[4] = 0xff, raw[5] = 0x80; /* 0, sixteen 1s */
  ACCEPT_RAW(6);
  assert_int_equal(d.n, 1);
  assert_int_equal(d.v[0], 65535);
  raw[3] = 0x80, raw[4] = 0x00, raw[5] = 0x00; /* 1, 0, sixteen 0s */
  REJECT_RAW(6);
  /* n = 2, k = 16: 65534 then delta 0 is 65535; 65535 then delta 0 is
   * 65536. 34 bits, 5 bytes. */
  raw[2] = 2, raw[3] = 0x7f, raw[4] = 0xff, raw[5] = 0x00;
  ACCEPT_RAW(8);
  assert_int_equal(d.n, 2);
  assert_int_equal(d.v[0], 65534);
  assert_int_equal(d.v[1], 65535);
  raw[5] = 0x80;
  REJECT_RAW(8);
  /* A long run of one-bits is refused at the domain (k = 9: after 129),
   * long before the end of the input. */
  raw[1] = 9, raw[2] = 1;
  memset(raw + 3, 0xff, 700);
  REJECT_RAW(3 + 700);

  /* Padding: n = 1, k = 3, value 5 is 0 101, then 0000. */
  memset(raw, 0, sizeof(raw));
  raw[0] = 1, raw[1] = 3, raw[2] = 1, raw[3] = 0x50;
  ACCEPT_RAW(4);
  assert_int_equal(d.n, 1);
  assert_int_equal(d.v[0], 5);
  raw[3] = 0x51; /* a set padding bit */
  REJECT_RAW(4);
  raw[3] = 0x50;
  REJECT_RAW(5); /* a whole byte more */

  /* Truncations of a valid value: every prefix is rejected. */
  fill(&good, h, 16, 21);
  size_t len = digest_encode(&good, out, sizeof(out));
  for (size_t i = 0; i < len; i++)
    REJECT(out, i);
  /* Trailing garbage. */
  memcpy(bad, out, len);
  memcpy(bad + len, "AA", 2);
  REJECT(bad, len + 2);
  memcpy(bad + len, "AAAA", 4);
  REJECT(bad, len + 4);
  memcpy(bad + len, "=", 1);
  REJECT(bad, len + 1);
  /* Non-zero unused bits in the last base64url character (a value whose
   * length is not a multiple of 4 has some). */
  for (size_t n = 1;; n++) {
    fill(&good, h, n, 100 + n);
    len = digest_encode(&good, out, sizeof(out));
    if (len % 4 == 0)
      continue;
    assert_int_equal(decode(&d, out, len), 0);
    static const char a[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    out[len - 1] = a[strchr(a, out[len - 1]) - a + 1];
    REJECT(out, len);
    break;
  }
  /* Too long is refused before looking. */
  memset(bad, 'A', sizeof(bad));
  REJECT(bad, DIGEST_COOKIE_MAX + 1);
  REJECT(bad, DIGEST_COOKIE_MAX + 4);
#undef REJECT
#undef REJECT_RAW
#undef ACCEPT_RAW
}

/* Random bytes and mutated valid values: decode accepts or rejects, never
 * reads out of bounds (ASan build), and what it accepts is a valid set. */
static void test_fuzz(void **state) {
  static struct digest d, good;
  static uint64_t h[4 * DIGEST_MAX_ENTRIES];
  char out[DIGEST_COOKIE_MAX + 1], buf[DIGEST_COOKIE_MAX + 8];
  static const char a[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  uint64_t s = 31337;
  (void)state;
  int accepted = 0;
  for (int t = 0; t < 20000; t++) {
    size_t len;
    if (t % 2 == 0) {
      len = next(&s) % (DIGEST_COOKIE_MAX + 8);
      for (size_t i = 0; i < len; i++) {
        uint64_t r = next(&s);
        buf[i] = r % 16 == 0 ? (char)(r >> 8) : a[(r >> 8) % 64];
      }
    } else {
      fill(&good, h, next(&s) % 300, t);
      len = digest_encode(&good, out, sizeof(out));
      memcpy(buf, out, len);
      int flips = 1 + (int)(next(&s) % 3);
      for (int f = 0; f < flips; f++)
        buf[next(&s) % len] = a[next(&s) % 64];
      if (next(&s) % 4 == 0)
        len = next(&s) % (len + 1);
    }
    if (decode(&d, buf, len) == 0) {
      accepted++;
      assert_well_formed(&d);
      size_t n = digest_encode(&d, out, sizeof(out));
      assert_true(n > 0);
    } else {
      assert_int_equal(d.n, 0);
    }
  }
  printf("digest: fuzz: %d of 20000 inputs accepted\n", accepted);
}

static void test_cookie_header(void **state) {
  static struct digest d, good;
  static uint64_t h[4 * DIGEST_MAX_ENTRIES];
  char v[DIGEST_COOKIE_MAX + 1], hdr[4096];
  (void)state;
  fill(&good, h, 16, 41);
  assert_true(digest_encode(&good, v, sizeof(v)) > 0);
  const char *ok[] = {
      "herald_pd=%s",
      "a=1; herald_pd=%s",
      "herald_pd=%s; b=2",
      "sid=abc; theme=dark; herald_pd=%s; lang=en",
      "a=1;herald_pd=%s;b=2",
      "a=1;  \therald_pd=%s \t; b=2",
      "a=herald_pd=x; herald_pd=%s",    /* a value that looks like it */
      "xherald_pd=AQAA; herald_pdx=AQAA; herald_pd=%s",
      "flag; =weird; herald_pd=%s",
      "herald_pd=\"%s\"; b=2",
      "herald_pd=%s; herald_pd=garbage", /* the first one counts */
  };
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    snprintf(hdr, sizeof(hdr), ok[i], v);
    d.n = 0;
    assert_int_equal(from_header(&d, hdr), 0);
    assert_int_equal(d.n, 16);
    assert_memory_equal(d.v, good.v, 16 * sizeof(good.v[0]));
  }
  const char *absent[] = {
      "", "a=1", "a=1; b=2", "herald_pdx=AQAA", "xherald_pd=AQAA",
      "HERALD_PD=AQAA", "a=herald_pd=AQAA", "herald_pd", ";;;", "; ",
  };
  for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
    d.n = 3;
    assert_int_equal(from_header(&d, absent[i]), 1);
    assert_int_equal(d.n, 0);
  }
  const char *bad[] = {
      "herald_pd=", "a=1; herald_pd=!!!!; b=2", "herald_pd=AQAA+",
      "herald_pd=garbage; herald_pd=AQAA", "herald_pd=\"AQAA",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    d.n = 3;
    assert_int_equal(from_header(&d, bad[i]), -1);
    assert_int_equal(d.n, 0);
  }
  /* The header length bounds the search, not a NUL. */
  snprintf(hdr, sizeof(hdr), "a=1; herald_pd=%s", v);
  assert_int_equal(digest_from_cookie_header(&d, hdr, 4), 1);
  assert_int_equal(digest_from_cookie_header(&d, hdr, strlen(hdr) - 1), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_empty),
      cmocka_unit_test(test_add_dedup_and_full),
      cmocka_unit_test(test_merge_decoded),
      cmocka_unit_test(test_hash),
      cmocka_unit_test(test_false_positive_rate),
      cmocka_unit_test(test_sizes),
      cmocka_unit_test(test_encode_cap),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_fuzz),
      cmocka_unit_test(test_cookie_header),
  };
  return cmocka_run_group_tests_name("digest", tests, NULL, NULL);
}
