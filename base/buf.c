/* buf.c: see buf.h. A buf_cache belongs to one thread. */
#include "base/buf.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"

struct buf_chunk {
  struct buf_chunk *next;
  size_t start, end;
  uint8_t data[BUF_CHUNK_SIZE];
};

/* Chunks kept for reuse; beyond this many, freed chunks go back to malloc
 * so one burst does not pin memory forever. */
#define FREE_MAX 1024

static struct buf_chunk *chunk_get(struct buf_cache *k, size_t headroom) {
  struct buf_chunk *c = k != NULL ? k->free : NULL;
  if (c != NULL) {
    k->free = c->next;
    k->count--;
  } else {
    c = xmalloc(sizeof(*c));
  }
  c->next = NULL;
  c->start = c->end = headroom;
  return c;
}

static void chunk_put(struct buf_cache *k, struct buf_chunk *c) {
  if (k == NULL || k->count >= FREE_MAX) {
    free(c);
    return;
  }
  c->next = k->free;
  k->free = c;
  k->count++;
}

static void reset(struct buf *q) {
  q->head = q->tail = NULL;
  q->len = 0;
}

void buf_init(struct buf *q, struct buf_cache *cache) {
  reset(q);
  q->cache = cache;
  q->headroom = 0;
}

void buf_set_headroom(struct buf *q, size_t n) {
  q->headroom = n < BUF_HEADROOM_MAX ? n : BUF_HEADROOM_MAX;
}

int buf_prepend(struct buf *q, const void *p, size_t n) {
  struct buf_chunk *c = q->head;
  if (c == NULL || c->start < n)
    return 0;
  c->start -= n;
  memcpy(c->data + c->start, p, n);
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

void buf_append(struct buf *q, const void *p, size_t n) {
  struct buf_chunk *last = q->tail;
  if (last != NULL && BUF_CHUNK_SIZE - last->end >= n) {
    /* Most appends are a few bytes that fit the last chunk. */
    memcpy(last->data + last->end, p, n);
    last->end += n;
    q->len += n;
    return;
  }
  const uint8_t *src = p;
  while (n > 0) {
    struct buf_chunk *t = q->tail;
    if (t == NULL || t->end == BUF_CHUNK_SIZE) {
      struct buf_chunk *c = chunk_get(q->cache, q->headroom);
      if (t == NULL)
        q->head = c;
      else
        t->next = c;
      q->tail = t = c;
    }
    size_t room = BUF_CHUNK_SIZE - t->end;
    size_t k = n < room ? n : room;
    memcpy(t->data + t->end, src, k);
    t->end += k;
    src += k;
    n -= k;
    q->len += k;
  }
}

size_t buf_peek(const struct buf *q, const uint8_t **out) {
  if (q->head == NULL) {
    *out = NULL;
    return 0;
  }
  *out = q->head->data + q->head->start;
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
  reset(src);
}

void buf_move(struct buf *dst, struct buf *src, size_t n) {
  while (n > 0 && src->head != NULL) {
    struct buf_chunk *c = src->head;
    size_t avail = c->end - c->start;
    if (avail > n || avail < BUF_MOVE_MIN) {
      size_t k = n < avail ? n : avail;
      buf_append(dst, c->data + c->start, k);
      buf_consume(src, k);
      n -= k;
      continue;
    }
    src->head = c->next;
    if (src->head == NULL)
      src->tail = NULL;
    src->len -= avail;
    c->next = NULL;
    if (dst->tail == NULL)
      dst->head = c;
    else
      dst->tail->next = c;
    dst->tail = c;
    dst->len += avail;
    n -= avail;
  }
}

size_t buf_slices(const struct buf *q, struct iov *out, size_t max) {
  size_t n = 0;
  for (struct buf_chunk *c = q->head; c != NULL && n < max; c = c->next) {
    if (c->end == c->start)
      continue;
    out[n].base = c->data + c->start;
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

void buf_cache_release(struct buf_cache *k) {
  while (k->free != NULL) {
    struct buf_chunk *c = k->free;
    k->free = c->next;
    free(c);
  }
  k->count = 0;
}
