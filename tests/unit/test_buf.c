/* test_buf.c: the chunked byte queue that carries bodies. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

#define BIG 40000

static uint8_t pattern[BIG], got[BIG + 100];

/* A pattern that never repeats on chunk boundaries (period 251). */
static void fill_pattern(uint8_t *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)((i + seed) % 251);
}

static struct buf_cache cache;

static int group_setup(void **state) {
  (void)state;
  fill_pattern(pattern, BIG, 0);
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  buf_cache_release(&cache);
  return 0;
}

static void test_empty(void **state) {
  (void)state;
  struct buf q;
  const uint8_t *p = (const uint8_t *)"x";
  struct iov v[4];
  buf_init(&q, &cache);
  assert_int_equal(q.len, 0);
  assert_int_equal(buf_peek(&q, &p), 0);
  assert_null(p);
  assert_int_equal(buf_copyout(&q, got, sizeof got), 0);
  assert_int_equal(buf_slices(&q, v, 4), 0);
  assert_int_equal(buf_nchunks(&q), 0);
  buf_consume(&q, 10); /* nothing to consume: no effect */
  assert_int_equal(q.len, 0);
  buf_append(&q, "", 0);
  assert_int_equal(q.len, 0);
  assert_int_equal(buf_nchunks(&q), 0);
  buf_cleanup(&q);
}

static void test_append_across_chunks(void **state) {
  (void)state;
  struct buf q;
  buf_init(&q, &cache);
  buf_append(&q, pattern, BIG);
  assert_int_equal(q.len, BIG);
  /* 40000 bytes need three 16384-byte chunks. */
  assert_int_equal(buf_nchunks(&q),
                   (BIG + BUF_CHUNK_SIZE - 1) / BUF_CHUNK_SIZE);
  memset(got, 0, sizeof got);
  assert_int_equal(buf_copyout(&q, got, sizeof got), BIG);
  assert_memory_equal(got, pattern, BIG);
  assert_int_equal(q.len, 0);
  assert_int_equal(buf_nchunks(&q), 0);
  buf_cleanup(&q);
}

static void test_append_small_pieces(void **state) {
  (void)state;
  struct buf q;
  buf_init(&q, &cache);
  /* Odd-sized appends, several straddling a chunk boundary. */
  size_t off = 0, step = 1;
  while (off < BIG) {
    size_t n = step < BIG - off ? step : BIG - off;
    buf_append(&q, pattern + off, n);
    off += n;
    step = step * 3 % 4099 + 1;
    assert_int_equal(q.len, off);
  }
  assert_int_equal(buf_nchunks(&q), 3);
  /* Copied out in uneven portions too. */
  size_t done = 0;
  while (done < BIG) {
    size_t k = buf_copyout(&q, got + done, 7777);
    assert_true(k > 0);
    done += k;
    assert_int_equal(q.len, BIG - done);
  }
  assert_memory_equal(got, pattern, BIG);
  buf_cleanup(&q);
}

static void test_peek_consume(void **state) {
  (void)state;
  struct buf q;
  const uint8_t *p;
  buf_init(&q, &cache);
  buf_append(&q, pattern, BIG);

  /* peek shows the first chunk only, without removing anything. */
  size_t n = buf_peek(&q, &p);
  assert_int_equal(n, BUF_CHUNK_SIZE);
  assert_memory_equal(p, pattern, n);
  assert_int_equal(q.len, BIG);

  /* Partial consumption within a chunk. */
  buf_consume(&q, 100);
  assert_int_equal(q.len, BIG - 100);
  n = buf_peek(&q, &p);
  assert_int_equal(n, BUF_CHUNK_SIZE - 100);
  assert_memory_equal(p, pattern + 100, n);

  /* Consuming across a chunk boundary drops the emptied chunk. */
  buf_consume(&q, BUF_CHUNK_SIZE);
  assert_int_equal(q.len, BIG - 100 - BUF_CHUNK_SIZE);
  assert_int_equal(buf_nchunks(&q), 2);
  n = buf_peek(&q, &p);
  assert_int_equal(n, BUF_CHUNK_SIZE - 100);
  assert_memory_equal(p, pattern + 100 + BUF_CHUNK_SIZE, n);

  /* Exactly the rest of the head chunk. */
  buf_consume(&q, n);
  assert_int_equal(buf_nchunks(&q), 1);
  n = buf_peek(&q, &p);
  assert_int_equal(n, BIG - 2 * BUF_CHUNK_SIZE);
  assert_memory_equal(p, pattern + 2 * BUF_CHUNK_SIZE, n);

  /* Over-consuming empties the queue, no more. */
  buf_consume(&q, BIG);
  assert_int_equal(q.len, 0);
  assert_int_equal(buf_peek(&q, &p), 0);
  assert_int_equal(buf_nchunks(&q), 0);

  /* Appending after the queue emptied works. */
  buf_append(&q, "abc", 3);
  assert_int_equal(buf_peek(&q, &p), 3);
  assert_memory_equal(p, "abc", 3);
  buf_cleanup(&q);
}

static void test_copyout_partial(void **state) {
  (void)state;
  struct buf q;
  buf_init(&q, &cache);
  buf_append(&q, "hello, world", 12);
  assert_int_equal(buf_copyout(&q, got, 5), 5);
  assert_memory_equal(got, "hello", 5);
  assert_int_equal(q.len, 7);
  assert_int_equal(buf_copyout(&q, got, 100), 7);
  assert_memory_equal(got, ", world", 7);
  assert_int_equal(q.len, 0);
  buf_cleanup(&q);
}

static void test_take(void **state) {
  (void)state;
  static uint8_t other[BIG];
  struct buf dst, src;
  fill_pattern(other, BIG, 7);
  buf_init(&dst, &cache);
  buf_init(&src, &cache);
  buf_append(&dst, pattern, 20000);
  buf_append(&src, other, 30000);
  size_t dchunks = buf_nchunks(&dst), schunks = buf_nchunks(&src);

  buf_take(&dst, &src);
  assert_int_equal(src.len, 0);
  assert_int_equal(buf_nchunks(&src), 0);
  const uint8_t *p;
  assert_int_equal(buf_peek(&src, &p), 0);
  assert_int_equal(dst.len, 50000);
  assert_int_equal(buf_nchunks(&dst), dchunks + schunks);

  /* Appending to dst afterwards lands after the taken bytes. */
  buf_append(&dst, "END", 3);
  assert_int_equal(dst.len, 50003);

  static uint8_t all[50003];
  assert_int_equal(buf_copyout(&dst, all, sizeof all), sizeof all);
  assert_memory_equal(all, pattern, 20000);
  assert_memory_equal(all + 20000, other, 30000);
  assert_memory_equal(all + 50000, "END", 3);

  /* src stays usable. */
  buf_append(&src, "x", 1);
  assert_int_equal(src.len, 1);
  buf_cleanup(&src);
  buf_cleanup(&dst);
}

/* A DATA frame's payload moves into the output: whole chunks of at least
 * BUF_MOVE_MIN bytes are relinked (their bytes stay where they were),
 * the rest is copied, and both queues keep their bytes in order. */
static void test_move(void **state) {
  (void)state;
  struct buf dst, src;
  buf_init(&dst, &cache);
  buf_init(&src, &cache);
  buf_append(&dst, "HDR", 3);
  buf_append(&src, pattern, 2 * BUF_CHUNK_SIZE + 100);
  const uint8_t *first;
  buf_peek(&src, &first);

  /* One chunk and a part of the next: the first is relinked, the part
   * copied. */
  buf_move(&dst, &src, BUF_CHUNK_SIZE + 10);
  assert_int_equal(dst.len, 3 + BUF_CHUNK_SIZE + 10);
  assert_int_equal(src.len, BUF_CHUNK_SIZE + 90);
  struct iov sl[8];
  size_t k = buf_slices(&dst, sl, 8);
  assert_true(k >= 2);
  assert_ptr_equal(sl[1].base, first);
  assert_int_equal(sl[1].len, BUF_CHUNK_SIZE);

  /* The rest of a part-consumed chunk (over the minimum) is relinked;
   * more than the queue holds moves what it holds. */
  buf_move(&dst, &src, BIG * 2);
  assert_int_equal(src.len, 0);
  assert_null(src.head);
  assert_null(src.tail);
  assert_int_equal(dst.len, 3 + 2 * BUF_CHUNK_SIZE + 100);

  /* Bytes appended to either queue afterwards land in order. */
  buf_append(&dst, "END", 3);
  buf_append(&src, "x", 1);
  static uint8_t all[2 * BUF_CHUNK_SIZE + 106];
  assert_int_equal(buf_copyout(&dst, all, sizeof all), sizeof all);
  assert_memory_equal(all, "HDR", 3);
  assert_memory_equal(all + 3, pattern, 2 * BUF_CHUNK_SIZE + 100);
  assert_memory_equal(all + 3 + 2 * BUF_CHUNK_SIZE + 100, "END", 3);
  assert_int_equal(src.len, 1);

  /* A small whole chunk is copied, not relinked: a few bytes must not
   * pin a chunk in the output. */
  buf_cleanup(&src);
  buf_append(&src, pattern, 100);
  buf_peek(&src, &first);
  buf_move(&dst, &src, 100);
  k = buf_slices(&dst, sl, 8);
  assert_int_equal(k, 1);
  assert_true(sl[0].base != first);
  assert_memory_equal(sl[0].base, pattern, 100);
  assert_int_equal(src.len, 0);
  buf_cleanup(&src);
  buf_cleanup(&dst);
}

static void test_take_edge_cases(void **state) {
  (void)state;
  struct buf dst, src;
  buf_init(&dst, &cache);
  buf_init(&src, &cache);

  /* Into an empty queue. */
  buf_append(&src, "abc", 3);
  buf_take(&dst, &src);
  assert_int_equal(dst.len, 3);
  assert_int_equal(src.len, 0);

  /* From an empty queue: nothing changes. */
  buf_take(&dst, &src);
  assert_int_equal(dst.len, 3);
  assert_int_equal(buf_nchunks(&dst), 1);

  /* From a partly consumed queue: only the remaining bytes move. */
  buf_append(&src, "0123456789", 10);
  buf_consume(&src, 4);
  buf_take(&dst, &src);
  assert_int_equal(dst.len, 9);
  char s[16] = {0};
  assert_int_equal(buf_copyout(&dst, s, sizeof s), 9);
  assert_string_equal(s, "abc456789");
  buf_cleanup(&dst);
  buf_cleanup(&src);
}

static void test_slices(void **state) {
  (void)state;
  struct buf q;
  struct iov v[8];
  buf_init(&q, &cache);
  buf_append(&q, pattern, BIG);
  buf_consume(&q, 10);

  size_t n = buf_slices(&q, v, 8);
  assert_int_equal(n, 3);
  size_t total = 0;
  for (size_t i = 0; i < n; i++) {
    assert_true(v[i].len > 0);
    assert_memory_equal(v[i].base, pattern + 10 + total, v[i].len);
    total += v[i].len;
  }
  assert_int_equal(total, q.len);
  assert_int_equal(v[0].len, BUF_CHUNK_SIZE - 10);
  assert_int_equal(v[2].len, BIG - 2 * BUF_CHUNK_SIZE);

  /* Fewer slots than chunks: the first ones, in order. */
  struct iov w[2];
  assert_int_equal(buf_slices(&q, w, 2), 2);
  assert_ptr_equal(w[0].base, v[0].base);
  assert_int_equal(w[0].len, v[0].len);
  assert_ptr_equal(w[1].base, v[1].base);
  assert_int_equal(buf_slices(&q, w, 0), 0);

  /* Slices do not consume. */
  assert_int_equal(q.len, BIG - 10);
  buf_cleanup(&q);
}

static void test_nchunks(void **state) {
  (void)state;
  struct buf q;
  buf_init(&q, &cache);
  assert_int_equal(buf_nchunks(&q), 0);
  buf_append(&q, pattern, 1);
  assert_int_equal(buf_nchunks(&q), 1);
  buf_append(&q, pattern, BUF_CHUNK_SIZE - 1);
  assert_int_equal(buf_nchunks(&q), 1);
  buf_append(&q, pattern, 1);
  assert_int_equal(buf_nchunks(&q), 2);
  buf_append(&q, pattern, 2 * BUF_CHUNK_SIZE);
  assert_int_equal(buf_nchunks(&q), 4);
  assert_int_equal(q.len, 3 * BUF_CHUNK_SIZE + 1);
  buf_cleanup(&q);
  assert_int_equal(buf_nchunks(&q), 0);
}

static void test_cleanup_then_reuse(void **state) {
  (void)state;
  struct buf q;
  const uint8_t *p;
  buf_init(&q, &cache);
  buf_append(&q, pattern, BIG);
  buf_cleanup(&q);
  assert_int_equal(q.len, 0);
  assert_int_equal(buf_nchunks(&q), 0);
  assert_int_equal(buf_peek(&q, &p), 0);

  /* Reused chunks come back empty: no stale bytes, right offsets. */
  static uint8_t other[BIG];
  fill_pattern(other, BIG, 100);
  buf_append(&q, other, 5);
  assert_int_equal(q.len, 5);
  assert_int_equal(buf_peek(&q, &p), 5);
  assert_memory_equal(p, other, 5);
  buf_append(&q, other + 5, BIG - 5);
  assert_int_equal(q.len, BIG);
  assert_int_equal(buf_copyout(&q, got, sizeof got), BIG);
  assert_memory_equal(got, other, BIG);
  buf_cleanup(&q);

  /* Cleaning up twice, or an empty queue, is harmless. */
  buf_cleanup(&q);
  buf_cleanup(&q);
  assert_int_equal(q.len, 0);
}

static void test_release_cache(void **state) {
  (void)state;
  struct buf q;
  buf_init(&q, &cache);
  buf_append(&q, pattern, BIG);
  buf_cleanup(&q);
  buf_cache_release(&cache);
  /* Queues still work after the free list was emptied. */
  buf_append(&q, pattern, BIG);
  assert_int_equal(buf_copyout(&q, got, sizeof got), BIG);
  assert_memory_equal(got, pattern, BIG);
  buf_cleanup(&q);
}

/* Each queue's chunks come from and go back to its own cache (one per
 * loop thread); a queue without one uses malloc alone. */
static void test_caches(void **state) {
  (void)state;
  struct buf_cache a = {0}, b = {0};
  struct buf qa, qb, qn;
  buf_init(&qa, &a);
  buf_init(&qb, &b);
  buf_init(&qn, NULL);
  buf_append(&qa, pattern, 2 * BUF_CHUNK_SIZE + 1); /* three chunks */
  buf_append(&qn, pattern, BUF_CHUNK_SIZE + 1);
  buf_cleanup(&qa);
  buf_cleanup(&qn);
  assert_int_equal(a.n[BUF_FULL], 3);
  assert_int_equal(b.n[BUF_FULL], 0);
  /* Reuse takes from the queue's own cache only. */
  buf_append(&qb, pattern, 10);
  assert_int_equal(a.n[BUF_FULL], 3);
  buf_append(&qa, pattern, 10);
  assert_int_equal(a.n[BUF_FULL], 2);
  /* Chunks moved with buf_take go back to the destination's cache. */
  buf_take(&qb, &qa);
  assert_ptr_equal(qa.cache, &a);
  assert_int_equal(qb.len, 20);
  assert_int_equal(buf_copyout(&qb, got, sizeof got), 20);
  assert_memory_equal(got, pattern, 10);
  assert_memory_equal(got + 10, pattern, 10);
  assert_int_equal(b.n[BUF_FULL], 2);
  assert_int_equal(a.n[BUF_FULL], 2);
  buf_cache_release(&a);
  buf_cache_release(&b);
  assert_int_equal(a.n[BUF_FULL] + b.n[BUF_FULL], 0);
}

/* A queue with headroom keeps room before each new chunk's bytes, where a
 * frame header goes in place and then moves with its payload. */
static void test_headroom_prepend(void **state) {
  (void)state;
  struct buf q, out;
  buf_init(&q, &cache);
  buf_init(&out, &cache);
  /* No chunk, no room: nothing happens. */
  assert_int_equal(buf_prepend(&q, "HDR", 3), 0);
  assert_int_equal(q.len, 0);
  buf_set_headroom(&q, 9);
  buf_append(&q, pattern, BIG);
  /* Chunks hold 9 bytes fewer: the first is full at BUF_CHUNK_SIZE - 9. */
  const uint8_t *p;
  assert_int_equal(buf_peek(&q, &p), BUF_CHUNK_SIZE - 9);
  assert_int_equal(buf_prepend(&q, "123456789", 9), 1);
  assert_int_equal(q.len, BIG + 9);
  assert_int_equal(buf_peek(&q, &p), BUF_CHUNK_SIZE);
  assert_memory_equal(p, "123456789", 9);
  assert_memory_equal(p + 9, pattern, BUF_CHUNK_SIZE - 9);
  /* No more room before the first byte now. */
  assert_int_equal(buf_prepend(&q, "x", 1), 0);
  /* Header and payload move as one chunk. */
  buf_move(&out, &q, BUF_CHUNK_SIZE);
  struct iov sl[4];
  assert_int_equal(buf_slices(&out, sl, 4), 1);
  assert_ptr_equal(sl[0].base, p);
  assert_int_equal(sl[0].len, BUF_CHUNK_SIZE);
  /* Consumed bytes are room too; the next chunk had its headroom. */
  buf_consume(&q, 100);
  assert_int_equal(buf_prepend(&q, "ABCDEFGHIJKL", 12), 1);
  assert_int_equal(buf_copyout(&q, got, 12 + 10), 22);
  assert_memory_equal(got, "ABCDEFGHIJKL", 12);
  assert_memory_equal(got + 12, pattern + BUF_CHUNK_SIZE - 9 + 100, 10);
  /* buf_cleanup and buf_take keep the setting. */
  buf_cleanup(&q);
  assert_int_equal(q.headroom, 9);
  buf_append(&q, "abc", 3);
  assert_int_equal(buf_prepend(&q, "123456789", 9), 1);
  buf_take(&out, &q);
  assert_int_equal(q.headroom, 9);
  assert_int_equal(out.headroom, 0);
  buf_append(&q, "z", 1);
  assert_int_equal(buf_prepend(&q, "123456789", 9), 1);
  assert_int_equal(buf_copyout(&q, got, sizeof got), 10);
  assert_memory_equal(got, "123456789z", 10);
  /* Without headroom a fresh chunk has none (a prepend waits for bytes
   * to be consumed); headroom is capped. */
  buf_append(&out, "y", 1);
  struct buf r;
  buf_init(&r, &cache);
  buf_append(&r, "y", 1);
  assert_int_equal(buf_prepend(&r, "x", 1), 0);
  buf_set_headroom(&r, 1000);
  assert_int_equal(r.headroom, BUF_HEADROOM_MAX);
  buf_cleanup(&r);
  buf_cleanup(&q);
  buf_cleanup(&out);
}

/* fill_slab writes |n| pattern bytes at |off| of a fresh slab's read
 * area and returns that slab (one reference, the caller's). */
static struct buf_slab *fill_slab(struct buf_cache *k, size_t off, size_t n,
                                  uint8_t **at) {
  struct buf_slab *s = buf_slab_get(k);
  *at = buf_slab_data(s) + BUF_SLAB_HEADROOM + off;
  memcpy(*at, pattern, n);
  return s;
}

/* A slice queues a slab's bytes without copying them and holds the slab
 * until they are consumed; the slab then goes back to the cache. */
static void test_slice_refs(void **state) {
  (void)state;
  struct buf_cache k = {0};
  struct buf q;
  buf_init(&q, &k);
  uint8_t *at;
  struct buf_slab *s = fill_slab(&k, 100, BIG, &at);
  assert_false(buf_slab_shared(s));
  assert_true(buf_slab_holds(s, at, BIG));
  assert_false(buf_slab_holds(s, at, BUF_SLAB_SIZE));
  buf_append_slice(&q, s, at, BIG);
  assert_true(buf_slab_shared(s));
  assert_int_equal(q.len, BIG);
  assert_int_equal(q.slices, 1);
  const uint8_t *p;
  assert_int_equal(buf_peek(&q, &p), BIG);
  assert_ptr_equal(p, at); /* the slab's bytes, not a copy */
  /* The reader lets go: the slice alone keeps the slab. */
  buf_slab_unref(&k, s);
  assert_int_equal(k.nslabs, 0);
  buf_consume(&q, BIG - 1);
  assert_int_equal(k.nslabs, 0);
  assert_int_equal(buf_peek(&q, &p), 1);
  assert_int_equal(*p, pattern[BIG - 1]);
  buf_consume(&q, 1);
  assert_int_equal(q.slices, 0);
  assert_int_equal(k.nslabs, 1);
  /* Reused from the cache; a cleanup drops the slices' references. */
  s = fill_slab(&k, 0, 1000, &at);
  assert_int_equal(k.nslabs, 0);
  buf_append_slice(&q, s, at, 500);
  buf_append_slice(&q, s, at + 500, 500);
  buf_append_slice(&q, s, at, 0); /* nothing: no slice */
  assert_int_equal(q.slices, 2);
  buf_cleanup(&q);
  assert_int_equal(q.slices, 0);
  assert_true(!buf_slab_shared(s));
  buf_slab_unref(&k, s);
  assert_int_equal(k.nslabs, 1);
  buf_cache_release(&k);
  assert_int_equal(k.nslabs, 0);
}

/* buf_move splits a slice without copying; a piece under BUF_MOVE_MIN is
 * copied, so a few bytes never pin a slab. */
static void test_slice_move(void **state) {
  (void)state;
  struct buf_cache k = {0};
  struct buf q, out;
  buf_init(&q, &k);
  buf_init(&out, &k);
  uint8_t *at;
  struct buf_slab *s = fill_slab(&k, 0, BIG, &at);
  buf_append_slice(&q, s, at, BIG);
  buf_slab_unref(&k, s);
  buf_move(&out, &q, 16000);
  struct iov v[8];
  assert_int_equal(buf_slices(&out, v, 8), 1);
  assert_ptr_equal(v[0].base, at);
  assert_int_equal(v[0].len, 16000);
  assert_int_equal(out.slices, 1);
  assert_int_equal(q.slices, 1);
  assert_int_equal(q.len, BIG - 16000);
  /* A short piece is copied: out gains no slice. */
  buf_move(&out, &q, 100);
  assert_int_equal(out.slices, 1);
  assert_int_equal(buf_slices(&out, v, 8), 2);
  assert_true(v[1].base < at || v[1].base >= at + BIG);
  /* The rest goes whole: relinked. */
  buf_move(&out, &q, q.len);
  assert_int_equal(q.len, 0);
  assert_int_equal(q.slices, 0);
  assert_int_equal(out.slices, 2);
  assert_int_equal(buf_slices(&out, v, 8), 3);
  assert_ptr_equal(v[2].base, at + 16100);
  assert_int_equal(buf_copyout(&out, got, sizeof got), BIG);
  assert_memory_equal(got, pattern, BIG);
  assert_int_equal(out.slices, 0);
  assert_int_equal(k.nslabs, 1);
  buf_cache_release(&k);
}

/* Bytes appended after a slice go in a small chunk when few (a frame
 * header between payloads), in full chunks when many; order holds. */
static void test_slice_then_append(void **state) {
  (void)state;
  struct buf_cache k = {0};
  struct buf q;
  buf_init(&q, &k);
  uint8_t *at;
  struct buf_slab *s = fill_slab(&k, 0, 5000, &at);
  buf_append(&q, "head", 4);
  buf_append_slice(&q, s, at, 5000);
  buf_append(&q, "123456789", 9);
  buf_append_slice(&q, s, at, 5000);
  buf_append(&q, pattern, BIG);
  buf_slab_unref(&k, s);
  assert_int_equal(q.len, 4 + 5000 + 9 + 5000 + BIG);
  /* "head", slice, the header in a small chunk, slice, then BIG in full
   * chunks (too many bytes for a small one). */
  assert_int_equal(buf_nchunks(&q), 1 + 1 + 1 + 1 + 3);
  assert_int_equal(k.n[BUF_FULL], 0);
  struct iov v[16];
  size_t n = buf_slices(&q, v, 16);
  assert_int_equal(n, 7);
  assert_int_equal(v[2].len, 9);
  assert_int_equal(v[4].len, BUF_CHUNK_SIZE);
  static uint8_t all[4 + 5000 + 9 + 5000 + BIG];
  assert_int_equal(buf_copyout(&q, all, sizeof all), sizeof all);
  assert_memory_equal(all, "head", 4);
  assert_memory_equal(all + 4, pattern, 5000);
  assert_memory_equal(all + 5004, "123456789", 9);
  assert_memory_equal(all + 5013, pattern, 5000);
  assert_memory_equal(all + 10013, pattern, BIG);
  assert_int_equal(k.nslabs, 1);
  assert_int_equal(k.n[BUF_SMALL], 3); /* two slices and the small chunk */
  buf_cache_release(&k);
}

/* A slice has no room for buf_prepend (the bytes before it are
 * another's); buf_slice_prepend writes over them when the caller knows
 * they are dead, only within the slab. buf_reserve keeps a run whole. */
static void test_slice_prepend_reserve(void **state) {
  (void)state;
  struct buf_cache k = {0};
  struct buf q;
  buf_init(&q, &k);
  buf_set_headroom(&q, 9);
  uint8_t *at;
  struct buf_slab *s = fill_slab(&k, 0, 30000, &at);
  uint8_t *data = buf_slab_data(s);
  assert_int_equal(buf_slice_prepend(&q, "x", 1), 0); /* empty */
  buf_append(&q, "abc", 3);
  assert_int_equal(buf_slice_prepend(&q, "x", 1), 0); /* not a slice */
  buf_consume(&q, 3);
  buf_append_slice(&q, s, at + 20000, 10000);
  assert_int_equal(buf_prepend(&q, "123456789", 9), 0);
  assert_int_equal(buf_slice_prepend(&q, "123456789", 9), 1);
  assert_int_equal(q.len, 10009);
  const uint8_t *p;
  assert_int_equal(buf_peek(&q, &p), 10009);
  assert_ptr_equal(p, at + 20000 - 9);
  assert_memory_equal(p, "123456789", 9);
  assert_memory_equal(p + 9, pattern + 20000, 10000);
  buf_cleanup(&q);
  /* No room before the slab's first byte. */
  buf_append_slice(&q, s, data + 4, 100);
  assert_int_equal(buf_slice_prepend(&q, "123456789", 9), 0);
  assert_int_equal(buf_slice_prepend(&q, "1234", 4), 1);
  buf_cleanup(&q);
  buf_slab_unref(&k, s);
  /* buf_reserve: a run that would straddle two chunks starts a new one. */
  struct buf r;
  buf_init(&r, &k);
  buf_append(&r, pattern, BUF_CHUNK_SIZE - 100);
  buf_reserve(&r, 50); /* fits: nothing */
  assert_int_equal(buf_nchunks(&r), 1);
  buf_reserve(&r, 200);
  buf_append(&r, pattern, 200);
  assert_int_equal(buf_nchunks(&r), 2);
  struct iov v[4];
  assert_int_equal(buf_slices(&r, v, 4), 2);
  assert_int_equal(v[1].len, 200);
  buf_reserve(&r, BUF_CHUNK_SIZE + 1); /* too big to matter: nothing */
  assert_int_equal(buf_nchunks(&r), 2);
  buf_cleanup(&r);
  buf_cache_release(&k);
}

/* The free lists keep what load frees and give back, on each trim, what
 * sat unused since the trim before. */
static void test_cache_trim(void **state) {
  (void)state;
  struct buf_cache k = {0};
  struct buf q;
  buf_init(&q, &k);
  for (int i = 0; i < 4; i++)
    buf_append(&q, pattern, BUF_CHUNK_SIZE);
  struct buf_slab *s[3];
  for (int i = 0; i < 3; i++)
    s[i] = buf_slab_get(&k);
  buf_cleanup(&q);
  for (int i = 0; i < 3; i++)
    buf_slab_unref(&k, s[i]);
  assert_int_equal(k.n[BUF_FULL], 4);
  assert_int_equal(k.nslabs, 3);
  buf_cache_trim(&k); /* the lists were empty: everything was used */
  assert_int_equal(k.n[BUF_FULL], 4);
  assert_int_equal(k.nslabs, 3);
  /* One chunk and one slab used in this period: the rest goes. */
  buf_append(&q, "x", 1);
  buf_slab_unref(&k, buf_slab_get(&k));
  buf_cleanup(&q);
  buf_cache_trim(&k);
  assert_int_equal(k.n[BUF_FULL], 1);
  assert_int_equal(k.nslabs, 1);
  buf_cache_trim(&k); /* idle: all of it */
  assert_int_equal(k.n[BUF_FULL] + k.nslabs + k.n[BUF_SMALL], 0);
  /* The lists work after trims. */
  buf_append(&q, pattern, 10);
  assert_int_equal(buf_copyout(&q, got, 10), 10);
  assert_memory_equal(got, pattern, 10);
  buf_cache_release(&k);
}

/* A small_first queue starts from a 2 KB chunk when its first append
 * fits one, and goes on in full chunks; a default queue is unchanged. */
static void test_small_first(void **state) {
  (void)state;
  struct buf_cache k = {0};
  struct buf q, d;
  const uint8_t *p;
  buf_init(&d, &k);
  buf_init(&q, &k);
  buf_set_small_first(&q);
  buf_append(&d, pattern, 1);
  buf_append(&d, pattern + 1, BUF_CHUNK_SIZE - 1);
  assert_int_equal(buf_nchunks(&d), 1);
  buf_append(&q, pattern, 1);
  buf_append(&q, pattern + 1, BUF_CHUNK_SIZE - 1);
  assert_int_equal(buf_nchunks(&q), 2);
  size_t first = buf_peek(&q, &p);
  assert_true(first > 1900 && first < 2048);
  assert_int_equal(buf_copyout(&q, got, sizeof got), BUF_CHUNK_SIZE);
  assert_memory_equal(got, pattern, BUF_CHUNK_SIZE);
  assert_int_equal(k.n[BUF_MID], 1);
  /* A first append too big for it starts a full chunk. */
  buf_append(&q, pattern, 4000);
  assert_int_equal(buf_nchunks(&q), 1);
  assert_int_equal(buf_peek(&q, &p), 4000);
  assert_int_equal(k.n[BUF_MID], 1);
  buf_cleanup(&q);
  /* The setting outlives buf_cleanup, and the 2 KB chunk is reused. */
  buf_append(&q, pattern, 10);
  assert_int_equal(k.n[BUF_MID], 0);
  buf_cleanup(&q);
  assert_int_equal(k.n[BUF_MID], 1);
  /* Trims give 2 KB chunks back like the others. */
  buf_cache_trim(&k);
  assert_int_equal(k.n[BUF_MID], 1);
  buf_cache_trim(&k);
  assert_int_equal(k.n[BUF_MID], 0);
  buf_cleanup(&d);
  buf_cache_release(&k);
  assert_int_equal(k.n[BUF_FULL] + k.n[BUF_MID], 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty),
      cmocka_unit_test(test_append_across_chunks),
      cmocka_unit_test(test_append_small_pieces),
      cmocka_unit_test(test_peek_consume),
      cmocka_unit_test(test_copyout_partial),
      cmocka_unit_test(test_take),
      cmocka_unit_test(test_take_edge_cases),
      cmocka_unit_test(test_move),
      cmocka_unit_test(test_slices),
      cmocka_unit_test(test_nchunks),
      cmocka_unit_test(test_cleanup_then_reuse),
      cmocka_unit_test(test_release_cache),
      cmocka_unit_test(test_caches),
      cmocka_unit_test(test_headroom_prepend),
      cmocka_unit_test(test_slice_refs),
      cmocka_unit_test(test_slice_move),
      cmocka_unit_test(test_slice_then_append),
      cmocka_unit_test(test_slice_prepend_reserve),
      cmocka_unit_test(test_cache_trim),
      cmocka_unit_test(test_small_first),
  };
  return cmocka_run_group_tests_name("buf", tests, group_setup,
                                     group_teardown);
}
