/* test_h2_mem.c: the allocator nghttp2's sessions use on a loop. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "proxy/h2_mem.h"

#if defined(__SANITIZE_ADDRESS__)
#define POOLED 0
#else
#define POOLED 1
#endif

static void test_reuse_and_contents(void **state) {
  (void)state;
  struct h2_mem *m = h2_mem_new();
  nghttp2_mem *a = h2_mem_nghttp2(m);
  uint8_t *p = a->malloc(100, a->mem_user_data);
  assert_non_null(p);
  assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
  memset(p, 0xab, 100);
  a->free(p, a->mem_user_data);
  assert_int_equal(h2_mem_kept(m), POOLED ? 1 : 0);
  /* A block of the same class comes back; calloc clears it. */
  uint8_t *q = a->calloc(10, 12, a->mem_user_data);
  if (POOLED)
    assert_ptr_equal(q, p);
  for (int i = 0; i < 120; i++)
    assert_int_equal(q[i], 0);
  assert_int_equal(h2_mem_kept(m), 0);
  /* realloc keeps the bytes, within the class and beyond it, and up to
   * a block of malloc's. */
  memcpy(q, "0123456789", 10);
  uint8_t *r = a->realloc(q, 128, a->mem_user_data);
  if (POOLED)
    assert_ptr_equal(r, q);
  r = a->realloc(r, 1000, a->mem_user_data);
  assert_memory_equal(r, "0123456789", 10);
  r = a->realloc(r, 100000, a->mem_user_data);
  assert_memory_equal(r, "0123456789", 10);
  r[99999] = 1;
  r = a->realloc(r, 50, a->mem_user_data);
  assert_memory_equal(r, "0123456789", 10);
  a->free(r, a->mem_user_data);
  a->free(NULL, a->mem_user_data);
  /* Overflowing calloc fails. */
  assert_null(a->calloc(SIZE_MAX / 2, 4, a->mem_user_data));
  h2_mem_free(m);
}

static void test_bounded(void **state) {
  (void)state;
  struct h2_mem *m = h2_mem_new();
  nghttp2_mem *a = h2_mem_nghttp2(m);
  enum { N = 3000 };
  static void *p[N];
  for (int i = 0; i < N; i++)
    p[i] = a->malloc(64, a->mem_user_data);
  for (int i = 0; i < N; i++)
    a->free(p[i], a->mem_user_data);
  /* A burst's blocks go back to malloc beyond the list's bound. */
  assert_true(h2_mem_kept(m) < N);
  assert_true(!POOLED || h2_mem_kept(m) > 0);
  /* Large blocks are never kept. */
  size_t before = h2_mem_kept(m);
  a->free(a->malloc(H2_MEM_MAX + 1, a->mem_user_data), a->mem_user_data);
  assert_int_equal(h2_mem_kept(m), before);
  h2_mem_free(m);
  h2_mem_free(NULL);
}

/* A real session on the allocator: a client preface and request in,
 * frames out, session freed, every block back. */
static ssize_t no_send(nghttp2_session *s, const uint8_t *d, size_t n,
                       int flags, void *ud) {
  (void)s, (void)d, (void)flags, (void)ud;
  return (ssize_t)n;
}

static void test_session(void **state) {
  (void)state;
  struct h2_mem *m = h2_mem_new();
  nghttp2_session_callbacks *cb;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_send_callback(cb, no_send);
  for (int round = 0; round < 2; round++) {
    nghttp2_session *client, *server;
    assert_int_equal(nghttp2_session_client_new3(&client, cb, NULL, NULL,
                                                 h2_mem_nghttp2(m)), 0);
    assert_int_equal(nghttp2_session_server_new3(&server, cb, NULL, NULL,
                                                 h2_mem_nghttp2(m)), 0);
    nghttp2_submit_settings(client, NGHTTP2_FLAG_NONE, NULL, 0);
    nghttp2_nv nv[] = {
        {(uint8_t *)":method", (uint8_t *)"GET", 7, 3, 0},
        {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
        {(uint8_t *)":path", (uint8_t *)"/x", 5, 2, 0},
        {(uint8_t *)":authority", (uint8_t *)"a", 10, 1, 0},
    };
    assert_true(nghttp2_submit_request(client, NULL, nv, 4, NULL, NULL) > 0);
    const uint8_t *out;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(client, &out)) > 0)
      assert_int_equal(nghttp2_session_mem_recv(server, out, (size_t)n), n);
    assert_true(n == 0);
    nghttp2_session_del(client);
    nghttp2_session_del(server);
  }
  /* Freed blocks were kept for the second round and are still there. */
  assert_true(!POOLED || h2_mem_kept(m) > 0);
  nghttp2_session_callbacks_del(cb);
  h2_mem_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reuse_and_contents),
      cmocka_unit_test(test_bounded),
      cmocka_unit_test(test_session),
  };
  return cmocka_run_group_tests_name("h2_mem", tests, NULL, NULL);
}
