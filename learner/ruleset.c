/* ruleset.c: see ruleset.h. A builder collects pages in growable arrays;
 * the build step lays every string and entry into one allocation with an
 * open-addressing index, so a snapshot is two frees and lookups touch few
 * cache lines. */
#include "learner/ruleset.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "learner/learn.h"

struct bpage {
  char *key;
  int mobile;
  struct ruleset_entry *entries; /* key/path point to owned strings */
  size_t n;
};

/* A route's live mode; route "" is the global one. */
struct rmode {
  char name[64];
  int mode;
};

#define MAX_MODES 65

struct ruleset_builder {
  struct bpage *pages;
  size_t n, cap;
  struct rmode modes[MAX_MODES];
  size_t nmodes;
  uint64_t gen;
};

struct slot {
  const char *key; /* NULL = empty */
  uint64_t hash;
  int mobile;
  struct ruleset_page page;
};

struct ruleset {
  atomic_int refs;
  uint64_t gen;
  struct rmode modes[MAX_MODES];
  size_t nmodes;
  size_t npages, nrules;
  size_t mask;      /* slots - 1 */
  struct slot *slots;
  char *arena;      /* strings and entries */
};

static uint64_t hash_key(const char *s, int mobile) {
  return util_fnv1a(UTIL_FNV1A_INIT ^ (uint64_t)mobile, s, strlen(s));
}

struct ruleset_builder *ruleset_builder_new(void) {
  return xcalloc(1, sizeof(struct ruleset_builder));
}

static void bpage_free(struct bpage *p) {
  for (size_t i = 0; i < p->n; i++)
    free((char *)p->entries[i].key);
  free(p->entries);
  free(p->key);
}

void ruleset_builder_free(struct ruleset_builder *b) {
  if (b == NULL)
    return;
  for (size_t i = 0; i < b->n; i++)
    bpage_free(&b->pages[i]);
  free(b->pages);
  free(b);
}

/* path_of finds the origin-form path in "scheme://authority/path". */
static const char *path_of(const char *key) {
  const char *p = strstr(key, "://");
  p = p ? strchr(p + 3, '/') : NULL;
  return p ? p : "/";
}

void ruleset_builder_set_mode(struct ruleset_builder *b, const char *route,
                              int mode) {
  if (mode < 0 || b->nmodes == MAX_MODES)
    return;
  struct rmode *m = &b->modes[b->nmodes++];
  snprintf(m->name, sizeof(m->name), "%s", route != NULL ? route : "");
  m->mode = mode;
}

void ruleset_builder_set_gen(struct ruleset_builder *b, uint64_t gen) {
  b->gen = gen;
}

size_t ruleset_builder_add(struct ruleset_builder *b, const char *page_key,
                           int mobile, const struct learn_rule *rules,
                           size_t n) {
  if (b->n == b->cap) {
    b->cap = b->cap ? b->cap * 2 : 64;
    b->pages = xrealloc(b->pages, b->cap * sizeof(*b->pages));
  }
  struct bpage *p = &b->pages[b->n++];
  p->key = xstrdup(page_key);
  p->mobile = mobile != 0;
  p->entries = xcalloc(n ? n : 1, sizeof(*p->entries));
  p->n = 0;
  size_t dropped = 0;
  for (size_t i = 0; i < n; i++) {
    if (rules[i].channels == 0 || rules[i].state == LEARN_BLOCKED)
      continue;
    if (!pagekey_rule_ok(page_key, rules[i].key)) {
      dropped++;
      continue;
    }
    struct ruleset_entry *e = &p->entries[p->n++];
    e->key = xstrdup(rules[i].key);
    e->path = path_of(e->key);
    e->dest = rules[i].dest;
    e->rank = rules[i].rank;
    e->channels = (uint8_t)rules[i].channels;
    e->bytes = rules[i].bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)rules[i].bytes;
  }
  return dropped;
}

static struct slot *find(const struct ruleset *rs, const char *key,
                         int mobile, uint64_t h) {
  for (size_t i = h & rs->mask;; i = (i + 1) & rs->mask) {
    struct slot *s = &rs->slots[i];
    if (s->key == NULL ||
        (s->hash == h && s->mobile == mobile && strcmp(s->key, key) == 0))
      return s;
  }
}

struct ruleset *ruleset_build(struct ruleset_builder *b) {
  struct ruleset *rs = xcalloc(1, sizeof(*rs));
  atomic_init(&rs->refs, 1);
  rs->gen = b->gen;
  memcpy(rs->modes, b->modes, sizeof(rs->modes));
  rs->nmodes = b->nmodes;
  size_t slots = 16;
  while (slots < b->n * 2)
    slots *= 2;
  rs->mask = slots - 1;
  rs->slots = xcalloc(slots, sizeof(*rs->slots));
  /* One arena: entries first (aligned), then strings. */
  size_t nent = 0, bytes = 0;
  for (size_t i = 0; i < b->n; i++) {
    nent += b->pages[i].n;
    bytes += strlen(b->pages[i].key) + 1;
    for (size_t k = 0; k < b->pages[i].n; k++)
      bytes += strlen(b->pages[i].entries[k].key) + 1;
  }
  rs->arena = xmalloc(nent * sizeof(struct ruleset_entry) + bytes + 1);
  struct ruleset_entry *ent = (struct ruleset_entry *)rs->arena;
  char *str = rs->arena + nent * sizeof(struct ruleset_entry);
  for (size_t i = 0; i < b->n; i++) {
    struct bpage *p = &b->pages[i];
    size_t len = strlen(p->key) + 1;
    memcpy(str, p->key, len);
    const char *key = str;
    str += len;
    struct ruleset_entry *first = ent;
    for (size_t k = 0; k < p->n; k++) {
      *ent = p->entries[k];
      len = strlen(p->entries[k].key) + 1;
      memcpy(str, p->entries[k].key, len);
      ent->key = str;
      ent->path = path_of(str);
      str += len;
      ent++;
    }
    uint64_t h = hash_key(key, p->mobile);
    struct slot *s = find(rs, key, p->mobile, h);
    if (s->key == NULL)
      rs->npages++;
    else
      rs->nrules -= s->page.n;
    s->key = key;
    s->hash = h;
    s->mobile = p->mobile;
    s->page.entries = first;
    s->page.n = p->n;
    rs->nrules += p->n;
  }
  ruleset_builder_free(b);
  return rs;
}

const struct ruleset_page *ruleset_lookup(const struct ruleset *rs,
                                          const char *page_key, int mobile) {
  if (rs == NULL)
    return NULL;
  mobile = mobile != 0;
  struct slot *s = find(rs, page_key, mobile, hash_key(page_key, mobile));
  return s->key ? &s->page : NULL;
}

int ruleset_mode(const struct ruleset *rs, const char *route) {
  if (rs == NULL)
    return -1;
  int global = -1;
  for (size_t i = 0; i < rs->nmodes; i++) {
    if (rs->modes[i].name[0] == '\0')
      global = rs->modes[i].mode;
    else if (route != NULL && strcmp(rs->modes[i].name, route) == 0)
      return rs->modes[i].mode;
  }
  return global;
}

uint64_t ruleset_gen(const struct ruleset *rs) { return rs ? rs->gen : 0; }

uint32_t ruleset_slot(const struct ruleset *rs,
                      const struct ruleset_page *p) {
  const struct slot *s = (const struct slot *)((const char *)p -
                                               offsetof(struct slot, page));
  return (uint32_t)(s - rs->slots);
}

const struct ruleset_page *ruleset_at(const struct ruleset *rs,
                                      uint32_t slot) {
  if (rs == NULL || slot > rs->mask || rs->slots[slot].key == NULL)
    return NULL;
  return &rs->slots[slot].page;
}

uint32_t ruleset_nslots(const struct ruleset *rs) {
  return rs != NULL && rs->slots != NULL ? (uint32_t)(rs->mask + 1) : 0;
}

const char *ruleset_slot_key(const struct ruleset *rs, uint32_t slot,
                             int *mobile) {
  if (rs == NULL || slot >= ruleset_nslots(rs) || rs->slots[slot].key == NULL)
    return NULL;
  *mobile = rs->slots[slot].mobile;
  return rs->slots[slot].key;
}

size_t ruleset_pages(const struct ruleset *rs) { return rs ? rs->npages : 0; }
size_t ruleset_rules(const struct ruleset *rs) { return rs ? rs->nrules : 0; }

void ruleset_ref(struct ruleset *rs) { atomic_fetch_add(&rs->refs, 1); }

void ruleset_unref(struct ruleset *rs) {
  if (rs == NULL || atomic_fetch_sub(&rs->refs, 1) > 1)
    return;
  free(rs->slots);
  free(rs->arena);
  free(rs);
}
