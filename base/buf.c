/* buf.c: see buf.h. A buf_cache belongs to one thread. */
#include "base/buf.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* A chunk's bytes are base[start, end): its own data[] (cap bytes of it),
 * or a slab's when |slab| is set (a slice, whose cap is its end: it takes
 * no appends). A full chunk's base, cap and slab never change. */
struct buf_chunk {
  struct buf_chunk *next;
  uint8_t *base;
  struct buf_slab *slab;
  size_t start, end, cap;
  int cls; /* its class (enum buf_class): the free list it goes back to */
  uint8_t data[];
};

struct buf_slab {
  struct buf_slab *next; /* free list */
  size_t refs;
  uint8_t data[BUF_SLAB_SIZE];
};

/* A small chunk is 128 bytes in all: a slice, or the few bytes (a frame
 * header) queued after one. A mid chunk is 2 KB in all: the first chunk
 * of a buf_set_small_first queue. */
#define SMALL_CAP (128 - sizeof(struct buf_chunk))
#define MID_CAP (2048 - sizeof(struct buf_chunk))
static const size_t class_cap[BUF_CLASSES] = {BUF_CHUNK_SIZE, MID_CAP,
                                              SMALL_CAP};

/* Free-list caps: a safety bound only; buf_cache_trim gives back what a
 * burst left. 4096 full chunks are 64 MB, 16384 mid chunks 32 MB, 16384
 * small chunks 2 MB, 4096 slabs 256 MB; a list never holds more than was
 * in use at once. */
static const size_t class_max[BUF_CLASSES] = {4096, 16384, 16384};
#define SLABS_MAX 4096

/* chunk_new: the free list is empty (rare under load: out of line). */
__attribute__((noinline)) static struct buf_chunk *chunk_new(int cls) {
  struct buf_chunk *c = xmalloc(sizeof(*c) + class_cap[cls]);
  c->cls = cls;
  c->base = c->data;
  c->slab = NULL;
  c->cap = class_cap[cls];
  return c;
}

/* chunk_get takes a chunk of class |cls| (a slice sets its bytes
 * after), keeping the list's lowest length since the last trim. */
static inline struct buf_chunk *chunk_get(struct buf_cache *k,
                                          size_t headroom, int cls) {
  struct buf_chunk *c = k != NULL ? k->free[cls] : NULL;
  if (c != NULL) {
    k->free[cls] = c->next;
    if (--k->n[cls] < k->lo[cls])
      k->lo[cls] = k->n[cls];
  } else {
    c = chunk_new(cls);
  }
  if (cls == BUF_SMALL) {
    c->base = c->data;
    c->cap = SMALL_CAP;
  }
  c->next = NULL;
  c->start = c->end = headroom;
  return c;
}

static inline void chunk_put(struct buf_cache *k, struct buf_chunk *c) {
  if (c->slab != NULL) { /* a slice */
    buf_slab_unref(k, c->slab);
    c->slab = NULL;
  }
  int cls = c->cls;
  if (k == NULL || k->n[cls] >= class_max[cls]) {
    free(c);
    return;
  }
  c->next = k->free[cls];
  k->free[cls] = c;
  k->n[cls]++;
}

/* ---- slabs ------------------------------------------------------------ */

struct buf_slab *buf_slab_get(struct buf_cache *k) {
  struct buf_slab *s = k != NULL ? k->slabs : NULL;
  if (s != NULL) {
    k->slabs = s->next;
    if (--k->nslabs < k->lo_slabs)
      k->lo_slabs = k->nslabs;
  } else {
    s = xmalloc(sizeof(*s));
  }
  s->next = NULL;
  s->refs = 1;
  return s;
}

void buf_slab_unref(struct buf_cache *k, struct buf_slab *s) {
  if (s == NULL || --s->refs > 0)
    return;
  if (k == NULL || k->nslabs >= SLABS_MAX) {
    free(s);
    return;
  }
  s->next = k->slabs;
  k->slabs = s;
  k->nslabs++;
}

uint8_t *buf_slab_data(struct buf_slab *s) { return s->data; }

int buf_slab_shared(const struct buf_slab *s) { return s->refs > 1; }

int buf_slab_holds(const struct buf_slab *s, const uint8_t *p, size_t n) {
  return p >= s->data && p + n <= s->data + BUF_SLAB_SIZE;
}

/* ---- queues ----------------------------------------------------------- */

static void reset(struct buf *q) {
  q->head = q->tail = NULL;
  q->len = 0;
  q->slices = 0;
}

static void link_tail(struct buf *q, struct buf_chunk *c) {
  c->next = NULL;
  if (q->tail == NULL)
    q->head = c;
  else
    q->tail->next = c;
  q->tail = c;
}

void buf_init(struct buf *q, struct buf_cache *cache) {
  reset(q);
  q->cache = cache;
  q->headroom = 0;
  q->small_first = 0;
}

void buf_set_small_first(struct buf *q) { q->small_first = 1; }

void buf_set_headroom(struct buf *q, size_t n) {
  q->headroom = n < BUF_HEADROOM_MAX ? n : BUF_HEADROOM_MAX;
}

int buf_prepend(struct buf *q, const void *p, size_t n) {
  struct buf_chunk *c = q->head;
  if (c == NULL || c->slab != NULL || c->start < n)
    return 0;
  c->start -= n;
  memcpy(c->base + c->start, p, n);
  q->len += n;
  return 1;
}

int buf_slice_prepend(struct buf *q, const void *p, size_t n) {
  struct buf_chunk *c = q->head;
  if (c == NULL || c->slab == NULL || c->start < n)
    return 0;
  c->start -= n;
  memcpy(c->base + c->start, p, n);
  q->len += n;
  return 1;
}

void buf_cleanup(struct buf *q) {
  struct buf_chunk *c = q->head;
  while (c != NULL) {
    struct buf_chunk *next = c->next;
    chunk_put(q->cache, c);
    c = next;
  }
  reset(q);
}

static size_t room(const struct buf_chunk *c) { return c->cap - c->end; }

/* new_tail starts a chunk for |n| more bytes: a small one right after a
 * slice when they fit (a frame header between two payloads), a mid one
 * for an empty small_first queue when they fit, else a full one. Only
 * the first chunk may be mid: a queue that goes on growing is a body on
 * the move, which wants full chunks (a DATA frame per chunk). */
static struct buf_chunk *new_tail(struct buf *q, size_t n) {
  struct buf_chunk *t = q->tail;
  int cls = BUF_FULL;
  if (t == NULL && q->small_first && n <= MID_CAP - q->headroom)
    cls = BUF_MID;
  else if (t != NULL && t->slab != NULL && n <= SMALL_CAP - q->headroom)
    cls = BUF_SMALL;
  struct buf_chunk *c = chunk_get(q->cache, q->headroom, cls);
  link_tail(q, c);
  return c;
}

void buf_append(struct buf *q, const void *p, size_t n) {
  struct buf_chunk *last = q->tail;
  if (last != NULL && room(last) >= n) {
    /* Most appends are a few bytes that fit the last chunk. */
    memcpy(last->base + last->end, p, n);
    last->end += n;
    q->len += n;
    return;
  }
  const uint8_t *src = p;
  while (n > 0) {
    struct buf_chunk *t = q->tail;
    if (t == NULL || room(t) == 0)
      t = new_tail(q, n);
    size_t r = room(t);
    size_t k = n < r ? n : r;
    memcpy(t->base + t->end, src, k);
    t->end += k;
    src += k;
    n -= k;
    q->len += k;
  }
}

void buf_reserve(struct buf *q, size_t n) {
  if (q->tail != NULL && room(q->tail) >= n)
    return;
  if (n > BUF_CHUNK_SIZE - q->headroom)
    return;
  link_tail(q, chunk_get(q->cache, q->headroom, BUF_FULL));
}

/* slice_of makes a slice chunk for |n| bytes of |s| at offset |off|. */
static struct buf_chunk *slice_of(struct buf_cache *k, struct buf_slab *s,
                                  size_t off, size_t n) {
  struct buf_chunk *c = chunk_get(k, 0, BUF_SMALL);
  s->refs++;
  c->slab = s;
  c->base = s->data;
  c->start = off;
  c->end = (off + n);
  c->cap = c->end;
  return c;
}

void buf_append_slice(struct buf *q, struct buf_slab *s, const uint8_t *p,
                      size_t n) {
  if (n == 0)
    return;
  link_tail(q, slice_of(q->cache, s, (size_t)(p - s->data), n));
  q->len += n;
  q->slices++;
}

size_t buf_peek(const struct buf *q, const uint8_t **out) {
  if (q->head == NULL) {
    *out = NULL;
    return 0;
  }
  *out = q->head->base + q->head->start;
  return q->head->end - q->head->start;
}

void buf_consume(struct buf *q, size_t n) {
  while (n > 0 && q->head != NULL) {
    struct buf_chunk *c = q->head;
    size_t avail = c->end - c->start;
    size_t k = n < avail ? n : avail;
    c->start += k;
    n -= k;
    q->len -= k;
    if (c->start == c->end) {
      q->head = c->next;
      if (q->head == NULL)
        q->tail = NULL;
      if (c->slab != NULL)
        q->slices--;
      chunk_put(q->cache, c);
    }
  }
}

size_t buf_copyout(struct buf *q, void *dst, size_t n) {
  uint8_t *d = dst;
  size_t done = 0;
  while (done < n) {
    const uint8_t *p;
    size_t avail = buf_peek(q, &p);
    if (avail == 0)
      break;
    size_t k = n - done < avail ? n - done : avail;
    memcpy(d + done, p, k);
    buf_consume(q, k);
    done += k;
  }
  return done;
}

void buf_take(struct buf *dst, struct buf *src) {
  if (src->head == NULL)
    return;
  if (dst->tail == NULL)
    dst->head = src->head;
  else
    dst->tail->next = src->head;
  dst->tail = src->tail;
  dst->len += src->len;
  dst->slices += src->slices;
  reset(src);
}

void buf_move(struct buf *dst, struct buf *src, size_t n) {
  while (n > 0 && src->head != NULL) {
    struct buf_chunk *c = src->head;
    size_t avail = c->end - c->start;
    size_t k = n < avail ? n : avail;
    if (c->slab != NULL && k >= BUF_MOVE_MIN && k < avail) {
      /* The first bytes of a slice: a second slice of the same slab. */
      link_tail(dst, slice_of(dst->cache, c->slab, c->start, k));
      dst->len += k;
      dst->slices++;
      c->start += k;
      src->len -= k;
      n -= k;
      continue;
    }
    if (avail > n || avail < BUF_MOVE_MIN) {
      buf_append(dst, c->base + c->start, k);
      buf_consume(src, k);
      n -= k;
      continue;
    }
    src->head = c->next;
    if (src->head == NULL)
      src->tail = NULL;
    src->len -= avail;
    link_tail(dst, c);
    dst->len += avail;
    if (c->slab != NULL) {
      src->slices--;
      dst->slices++;
    }
    n -= avail;
  }
}

size_t buf_slices(const struct buf *q, struct iov *out, size_t max) {
  size_t n = 0;
  for (struct buf_chunk *c = q->head; c != NULL && n < max; c = c->next) {
    if (c->end == c->start)
      continue;
    out[n].base = c->base + c->start;
    out[n].len = c->end - c->start;
    n++;
  }
  return n;
}

size_t buf_nchunks(const struct buf *q) {
  size_t n = 0;
  for (struct buf_chunk *c = q->head; c != NULL; c = c->next)
    n++;
  return n;
}

/* free_chunks frees |n| chunks of the list at |*head|. */
static void free_chunks(struct buf_chunk **head, size_t n) {
  while (n-- > 0 && *head != NULL) {
    struct buf_chunk *c = *head;
    *head = c->next;
    free(c);
  }
}

static void free_slabs(struct buf_slab **head, size_t n) {
  while (n-- > 0 && *head != NULL) {
    struct buf_slab *s = *head;
    *head = s->next;
    free(s);
  }
}

void buf_cache_trim(struct buf_cache *k) {
  for (int cls = 0; cls < BUF_CLASSES; cls++) {
    free_chunks(&k->free[cls], k->lo[cls]);
    k->n[cls] -= k->lo[cls];
    k->lo[cls] = k->n[cls];
  }
  free_slabs(&k->slabs, k->lo_slabs);
  k->nslabs -= k->lo_slabs;
  k->lo_slabs = k->nslabs;
}

void buf_cache_release(struct buf_cache *k) {
  for (int cls = 0; cls < BUF_CLASSES; cls++) {
    free_chunks(&k->free[cls], SIZE_MAX);
    k->n[cls] = k->lo[cls] = 0;
  }
  free_slabs(&k->slabs, SIZE_MAX);
  k->nslabs = k->lo_slabs = 0;
}
