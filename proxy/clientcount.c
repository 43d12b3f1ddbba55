/* clientcount.c: see clientcount.h. */
#include "proxy/clientcount.h"

#include <openssl/rand.h>
#include <openssl/siphash.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

#define MIN_SLOTS 64

struct slot {
  uint8_t addr[16];
  uint32_t count; /* 0: the slot is empty */
};

struct clientcount {
  struct slot *slots;
  size_t mask; /* slots - 1, a power of two minus one */
  size_t used;
  uint64_t key[2];
};

static size_t home(const struct clientcount *t, const uint8_t addr[16]) {
  return (size_t)SIPHASH_24(t->key, addr, 16) & t->mask;
}

/* find returns the slot holding |addr|, or the empty slot where it would
 * go. The table is never full (it grows at half), so this ends. */
static struct slot *find(const struct clientcount *t, const uint8_t addr[16]) {
  size_t i = home(t, addr);
  while (t->slots[i].count != 0 && memcmp(t->slots[i].addr, addr, 16) != 0)
    i = (i + 1) & t->mask;
  return &t->slots[i];
}

static void grow(struct clientcount *t) {
  struct slot *old = t->slots;
  size_t n = t->mask + 1;
  t->slots = xcalloc(n * 2, sizeof(*t->slots));
  t->mask = n * 2 - 1;
  for (size_t i = 0; i < n; i++) {
    if (old[i].count != 0)
      *find(t, old[i].addr) = old[i];
  }
  free(old);
}

struct clientcount *clientcount_new(void) {
  struct clientcount *t = xcalloc(1, sizeof(*t));
  t->slots = xcalloc(MIN_SLOTS, sizeof(*t->slots));
  t->mask = MIN_SLOTS - 1;
  RAND_bytes((uint8_t *)t->key, sizeof(t->key));
  return t;
}

void clientcount_free(struct clientcount *t) {
  if (t == NULL)
    return;
  free(t->slots);
  free(t);
}

uint32_t clientcount_get(const struct clientcount *t, const uint8_t addr[16]) {
  return find(t, addr)->count;
}

uint32_t clientcount_add(struct clientcount *t, const uint8_t addr[16]) {
  struct slot *s = find(t, addr);
  if (s->count == 0) {
    if ((t->used + 1) * 2 > t->mask + 1) {
      grow(t);
      s = find(t, addr);
    }
    memcpy(s->addr, addr, 16);
    t->used++;
  }
  return ++s->count;
}

void clientcount_remove(struct clientcount *t, const uint8_t addr[16]) {
  struct slot *s = find(t, addr);
  if (s->count == 0 || --s->count > 0)
    return;
  t->used--;
  /* Backward-shift deletion: pull later members of the probe run into
   * the hole unless that would move one before its home slot. */
  size_t hole = (size_t)(s - t->slots);
  for (size_t i = (hole + 1) & t->mask; t->slots[i].count != 0;
       i = (i + 1) & t->mask) {
    size_t h = home(t, t->slots[i].addr);
    /* Moving i to the hole is allowed when its home is not in the
     * cyclic range (hole, i]. */
    if (((i - h) & t->mask) >= ((i - hole) & t->mask)) {
      t->slots[hole] = t->slots[i];
      hole = i;
    }
  }
  t->slots[hole].count = 0;
}

size_t clientcount_addresses(const struct clientcount *t) { return t->used; }
