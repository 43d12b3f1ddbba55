/* h2_mem.c: see h2_mem.h. Every block starts with a 16-byte header (so
 * the bytes handed out keep malloc's alignment) naming its size class,
 * or its size for a block of malloc's. */
#include "proxy/h2_mem.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

#if defined(__SANITIZE_ADDRESS__)
#define POOLED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOLED 0
#endif
#endif
#ifndef POOLED
#define POOLED 1
#endif

#define NCLASS 7        /* 32, 64, ... 2048 bytes */
#define KEEP_MAX 512    /* blocks kept per class */
#define BIG NCLASS      /* class of a block from malloc */

struct block {
  union {
    struct {
      uint32_t cls;
      size_t size; /* of a BIG block */
    } h;
    max_align_t align;
  } u;
};

struct free_block {
  struct free_block *next;
};

struct h2_mem {
  nghttp2_mem mem;
  struct free_block *free[NCLASS];
  size_t nfree[NCLASS];
};

static size_t class_size(uint32_t cls) { return (size_t)32 << cls; }

static uint32_t class_of(size_t n) {
  uint32_t cls = 0;
  while (cls < NCLASS && class_size(cls) < n)
    cls++;
  return cls;
}

static void *mem_malloc(size_t n, void *ud) {
  struct h2_mem *m = ud;
  uint32_t cls = POOLED ? class_of(n) : BIG;
  struct block *b;
  if (cls < NCLASS && m->free[cls] != NULL) {
    struct free_block *f = m->free[cls];
    m->free[cls] = f->next;
    m->nfree[cls]--;
    b = (struct block *)f;
  } else {
    b = malloc(sizeof(*b) + (cls < NCLASS ? class_size(cls) : n));
    if (b == NULL)
      return NULL; /* nghttp2 reports NGHTTP2_ERR_NOMEM */
  }
  b->u.h.cls = cls;
  b->u.h.size = n;
  return b + 1;
}

static void mem_free(void *p, void *ud) {
  struct h2_mem *m = ud;
  if (p == NULL)
    return;
  struct block *b = (struct block *)p - 1;
  uint32_t cls = b->u.h.cls;
  if (cls >= NCLASS || m->nfree[cls] >= KEEP_MAX) {
    free(b);
    return;
  }
  struct free_block *f = (struct free_block *)b;
  f->next = m->free[cls];
  m->free[cls] = f;
  m->nfree[cls]++;
}

static void *mem_calloc(size_t nmemb, size_t size, void *ud) {
  if (size != 0 && nmemb > SIZE_MAX / size)
    return NULL;
  void *p = mem_malloc(nmemb * size, ud);
  if (p != NULL)
    memset(p, 0, nmemb * size);
  return p;
}

static void *mem_realloc(void *p, size_t n, void *ud) {
  if (p == NULL)
    return mem_malloc(n, ud);
  struct block *b = (struct block *)p - 1;
  size_t have = b->u.h.cls < NCLASS ? class_size(b->u.h.cls) : b->u.h.size;
  if (n <= have)
    return p;
  void *q = mem_malloc(n, ud);
  if (q == NULL)
    return NULL;
  memcpy(q, p, have < n ? have : n);
  mem_free(p, ud);
  return q;
}

struct h2_mem *h2_mem_new(void) {
  struct h2_mem *m = xcalloc(1, sizeof(*m));
  m->mem = (nghttp2_mem){m, mem_malloc, mem_free, mem_calloc, mem_realloc};
  return m;
}

void h2_mem_free(struct h2_mem *m) {
  if (m == NULL)
    return;
  for (int i = 0; i < NCLASS; i++) {
    while (m->free[i] != NULL) {
      struct free_block *f = m->free[i];
      m->free[i] = f->next;
      free(f);
    }
  }
  free(m);
}

nghttp2_mem *h2_mem_nghttp2(struct h2_mem *m) { return &m->mem; }

size_t h2_mem_kept(const struct h2_mem *m) {
  size_t n = 0;
  for (int i = 0; i < NCLASS; i++)
    n += m->nfree[i];
  return n;
}
