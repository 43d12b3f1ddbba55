/* test_framescan.c: frame headers found in a client's HTTP/2 bytes
 * (proxy/framescan.h), however the reads split them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/framescan.h"

enum { DATA = 0, HEADERS = 1, PRIORITY = 2, SETTINGS = 4 };

/* frame appends a frame of |type| with |len| payload bytes (each 0x02, a
 * PRIORITY type byte, which must never be read as a header) to |out|. */
static size_t frame(uint8_t *out, uint8_t type, size_t len) {
  out[0] = (uint8_t)(len >> 16);
  out[1] = (uint8_t)(len >> 8);
  out[2] = (uint8_t)len;
  out[3] = type;
  out[4] = 0;
  memset(out + 5, 0, 4);
  memset(out + 9, PRIORITY, len);
  return 9 + len;
}

static size_t stream(uint8_t *buf) {
  size_t n = 0;
  memcpy(buf, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", FRAMESCAN_PREFACE);
  n += FRAMESCAN_PREFACE;
  n += frame(buf + n, SETTINGS, 12);
  n += frame(buf + n, PRIORITY, 5);
  n += frame(buf + n, HEADERS, 40);
  n += frame(buf + n, DATA, 70000); /* longer than any read below */
  n += frame(buf + n, PRIORITY, 5);
  n += frame(buf + n, PRIORITY, 5);
  n += frame(buf + n, DATA, 0);
  return n;
}

static void test_whole_and_split(void **state) {
  (void)state;
  static uint8_t buf[80000];
  size_t n = stream(buf);
  struct framescan f;
  framescan_init(&f);
  assert_int_equal(framescan_count(&f, buf, n, PRIORITY), 3);
  framescan_init(&f);
  assert_int_equal(framescan_count(&f, buf, n, DATA), 2);
  /* Every split: byte by byte, and reads of 7 and of 4096 bytes. */
  static const size_t steps[] = {1, 7, 4096};
  for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
    framescan_init(&f);
    size_t found = 0;
    for (size_t i = 0; i < n; i += steps[s])
      found += framescan_count(&f, buf + i,
                               n - i < steps[s] ? n - i : steps[s], PRIORITY);
    assert_int_equal(found, 3);
  }
}

/* The preface is never read as frames, even split. */
static void test_preface(void **state) {
  (void)state;
  struct framescan f;
  framescan_init(&f);
  uint8_t pri[9] = {0, 0, 5, PRIORITY, 0, 0, 0, 0, 1};
  const uint8_t *p = (const uint8_t *)"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  assert_int_equal(framescan_count(&f, p, 10, PRIORITY), 0);
  assert_int_equal(framescan_count(&f, p + 10, 14, PRIORITY), 0);
  assert_int_equal(framescan_count(&f, pri, 9, PRIORITY), 1);
  assert_int_equal(f.skip, 5);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_whole_and_split),
      cmocka_unit_test(test_preface),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
