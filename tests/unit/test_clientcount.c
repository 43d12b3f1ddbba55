/* test_clientcount.c: the per-address connection counts behind
 * limits.max_connections_per_client (proxy/clientcount.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "proxy/clientcount.h"

static void v4(uint8_t out[16], uint32_t a) {
  memset(out, 0, 16);
  out[0] = (uint8_t)(a >> 24);
  out[1] = (uint8_t)(a >> 16);
  out[2] = (uint8_t)(a >> 8);
  out[3] = (uint8_t)a;
}

static void test_add_get_remove(void **state) {
  (void)state;
  struct clientcount *t = clientcount_new();
  uint8_t a[16], b[16];
  v4(a, 0x7f000001);
  v4(b, 0x7f000002);
  assert_int_equal(clientcount_get(t, a), 0);
  assert_int_equal(clientcount_add(t, a), 1);
  assert_int_equal(clientcount_add(t, a), 2);
  assert_int_equal(clientcount_add(t, b), 1);
  assert_int_equal(clientcount_get(t, a), 2);
  assert_int_equal(clientcount_addresses(t), 2);
  clientcount_remove(t, a);
  assert_int_equal(clientcount_get(t, a), 1);
  clientcount_remove(t, a);
  assert_int_equal(clientcount_get(t, a), 0);
  assert_int_equal(clientcount_get(t, b), 1);
  assert_int_equal(clientcount_addresses(t), 1);
  clientcount_remove(t, b);
  assert_int_equal(clientcount_addresses(t), 0);
  clientcount_free(t);
  clientcount_free(NULL);
}

/* Random adds and removes over 5000 addresses (growing the table many
 * times, deleting from the middle of probe runs) against a plain array. */
static void test_matches_reference(void **state) {
  (void)state;
  enum { N = 5000, OPS = 200000 };
  struct clientcount *t = clientcount_new();
  uint32_t *ref = calloc(N, sizeof(*ref));
  size_t distinct = 0;
  srand(12345);
  for (int op = 0; op < OPS; op++) {
    uint32_t k = (uint32_t)rand() % N;
    uint8_t a[16];
    memset(a, 0, 16);
    memcpy(a, "\x20\x01\x0d\xb8", 4); /* IPv6 2001:db8::/32, low bits vary */
    a[14] = (uint8_t)(k >> 8);
    a[15] = (uint8_t)k;
    if (ref[k] > 0 && rand() % 2) {
      clientcount_remove(t, a);
      if (--ref[k] == 0)
        distinct--;
    } else {
      if (ref[k]++ == 0)
        distinct++;
      assert_int_equal(clientcount_add(t, a), ref[k]);
    }
    if (op % 997 == 0) {
      for (uint32_t j = 0; j < N; j++) {
        memset(a, 0, 16);
        memcpy(a, "\x20\x01\x0d\xb8", 4);
        a[14] = (uint8_t)(j >> 8);
        a[15] = (uint8_t)j;
        assert_int_equal(clientcount_get(t, a), ref[j]);
      }
      assert_int_equal(clientcount_addresses(t), distinct);
    }
  }
  free(ref);
  clientcount_free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_add_get_remove),
      cmocka_unit_test(test_matches_reference),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
