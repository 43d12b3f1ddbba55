/* test_record.c: what the loop notes about a request for the recorder,
 * where it is a pure function of the fields. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "proxy/record.h"

static uint8_t u(const char *v) { return record_urgency(v, strlen(v)); }

/* The priority field as Chromium sends it (measured through herald), and
 * what RFC 9218 says of the rest: an absent u is 3; parameters and
 * unknown members are ignored; a u outside 0..7 is the default. */
static void test_urgency(void **state) {
  (void)state;
  assert_int_equal(u("u=0"), 0);
  assert_int_equal(u("u=0, i"), 0);
  assert_int_equal(u("u=1, i"), 1);
  assert_int_equal(u("u=2, i"), 2);
  assert_int_equal(u("u=4"), 4);
  assert_int_equal(u("i"), 3);
  assert_int_equal(u(""), 3);
  assert_int_equal(u("i, u=5"), 5);
  assert_int_equal(u("u=7;x=1"), 7);
  assert_int_equal(u("  u=6 ,i"), 6);
  assert_int_equal(u("u=8"), 3);
  assert_int_equal(u("u=12"), 3);
  assert_int_equal(u("uu=1"), 3);
  assert_int_equal(u("u="), 3);
  assert_int_equal(record_urgency("u=1", 2), 3); /* cut before the digit */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_urgency),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
