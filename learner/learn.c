/* learn.c: where the learner keeps its counts. The model is in learn.h;
 * the evidence rules are in learn_fold.c and the decisions in
 * learn_rules.c. This file is about keeping the counts small and fast
 * enough for a million visits over tens of thousands of pages, where the
 * cost is cache misses, not arithmetic.
 *
 * DESIGN
 *   - Every key (page, template, section, site, resource) is interned once
 *     in an arena. Its id is its position in the arena, so an id leads
 *     straight to its bytes, and the intern table's slots carry the hash,
 *     so a lookup touches one slot and one string.
 *   - Nodes (one per key and class, at any level) live in one array,
 *     found through an open-addressing table keyed by (key id, class);
 *     each knows its parent, the next wider level.
 *   - A node's resource entries are one contiguous array: a visit touches
 *     a handful of neighbouring cache lines rather than one random line
 *     per resource. Nodes with few resources are searched linearly; past
 *     INDEX_MIN a node gets its own small hash index (templates, sections
 *     and sites gather the resources of many pages).
 *   - Counts are lazy (see learn.h): an entry holds k and the sample clock
 *     it was taken at, so a visit touches only the entries it requested
 *     or censored.
 *   - Distinct clients (networks: the visit's network token, not its
 *     client token, which a new User-Agent renews) matter only up to a
 *     small number (min_clients), so an entry keeps at most
 *     LEARN_MAX_CLIENTS of them, as 32-bit fingerprints of the tokens:
 *     two inside the entry, more in a set allocated on the third and
 *     freed once full. Tokens are keyed hashes, so two clients share a
 *     fingerprint with probability 2^-32, and that only undercounts: one
 *     client can never pass for two.
 * Nothing is ever removed: the set of keys is bounded by the site, and a
 * restart rebuilds the counts from the retained visits. */
#include "learner/learn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "config/config.h"
#include "learner/learn_int.h"

/* Interned keys: an id is chunk << ARENA_BITS | offset, which leaves room
 * for 4 GB of keys. */
#define ARENA_BITS 16
#define ARENA_CHUNK (1u << ARENA_BITS) /* a key is < PAGEKEY_MAX */

/* Nodes with more resources than this get a hash index. */
#define INDEX_MIN 16

/* ---- allocation, counted for learn_memory ------------------------------ */

static void *lalloc(struct learn *l, size_t n) {
  l->mem += n;
  return xmalloc(n);
}

static void *lcalloc(struct learn *l, size_t count, size_t n) {
  l->mem += count * n;
  return xcalloc(count, n);
}

static void *lrealloc(struct learn *l, void *p, size_t old, size_t n) {
  l->mem = l->mem - old + n;
  return xrealloc(p, n);
}

static void lfree(struct learn *l, void *p, size_t n) {
  if (p == NULL)
    return;
  l->mem -= n;
  free(p);
}

void *learn_alloc(struct learn *l, size_t n) { return lalloc(l, n); }

void *learn_realloc(struct learn *l, void *p, size_t old, size_t n) {
  return lrealloc(l, p, old, n);
}

void learn_release(struct learn *l, void *p, size_t n) { lfree(l, p, n); }

/* grow returns the array |p| with room for |need| elements of |size|,
 * doubling its capacity |*cap|. */
static void *grow(struct learn *l, void *p, uint32_t *cap, size_t size,
                  uint32_t need) {
  if (need <= *cap)
    return p;
  uint32_t c = *cap ? *cap : 16;
  while (c < need)
    c *= 2;
  p = lrealloc(l, p, (size_t)*cap * size, (size_t)c * size);
  *cap = c;
  return p;
}

/* ---- hashing ----------------------------------------------------------- */

uint32_t learn_hash_str(const char *s, size_t n) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, s, 8);
    h = (h ^ w) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    s += 8;
    n -= 8;
  }
  uint64_t w = 0;
  memcpy(&w, s, n);
  return (uint32_t)util_mix64(h ^ w);
}

static uint32_t hash_page(uint32_t key, int mobile) {
  return (uint32_t)util_mix64(((uint64_t)key << 1) | (uint64_t)(mobile != 0));
}

/* Tables are kept at most 3/4 full, where linear probing stays short. */
static int table_full(uint32_t count, uint32_t mask) {
  return (uint64_t)count * 4 >= (uint64_t)(mask + 1) * 3;
}

/* ---- interned strings -------------------------------------------------- */

const char *learn_str(const struct learn *l, uint32_t id) {
  return l->arena[id >> ARENA_BITS] + (id & (ARENA_CHUNK - 1));
}

static uint32_t str_find(const struct learn *l, const char *s, size_t n,
                         uint32_t h) {
  for (uint32_t i = h & l->str_mask;; i = (i + 1) & l->str_mask) {
    uint64_t slot = l->str_slots[i];
    if (slot == 0)
      return NONE;
    if ((uint32_t)(slot >> 32) != h)
      continue;
    uint32_t id = (uint32_t)slot - 1;
    const char *t = learn_str(l, id);
    if (memcmp(t, s, n) == 0 && t[n] == '\0')
      return id;
  }
}

static void str_put(uint64_t *slots, uint32_t mask, uint64_t slot) {
  uint32_t i = (uint32_t)(slot >> 32) & mask;
  while (slots[i] != 0)
    i = (i + 1) & mask;
  slots[i] = slot;
}

static void str_rehash(struct learn *l) {
  uint32_t size = (l->str_mask + 1) * 2;
  uint64_t *slots = lcalloc(l, size, sizeof(*slots));
  for (uint32_t i = 0; i <= l->str_mask; i++)
    if (l->str_slots[i] != 0)
      str_put(slots, size - 1, l->str_slots[i]);
  lfree(l, l->str_slots, (size_t)(l->str_mask + 1) * sizeof(*slots));
  l->str_slots = slots;
  l->str_mask = size - 1;
}

/* intern returns the id of |s| (|n| bytes, n < PAGEKEY_MAX, hash |h|),
 * adding it. */
uint32_t learn_intern(struct learn *l, const char *s, size_t n,
                       uint32_t h) {
  uint32_t id = str_find(l, s, n, h);
  if (id != NONE)
    return id;
  if (table_full(l->nstr + 1, l->str_mask))
    str_rehash(l);
  if (l->narena == 0 || l->arena_used + n + 1 > ARENA_CHUNK) {
    l->arena =
        grow(l, l->arena, &l->carena, sizeof(*l->arena), l->narena + 1);
    l->arena[l->narena++] = lalloc(l, ARENA_CHUNK);
    l->arena_used = 0;
  }
  id = (l->narena - 1) << ARENA_BITS | l->arena_used;
  char *p = l->arena[l->narena - 1] + l->arena_used;
  memcpy(p, s, n);
  p[n] = '\0';
  l->arena_used += (uint32_t)n + 1;
  l->nstr++;
  str_put(l->str_slots, l->str_mask, (uint64_t)h << 32 | (id + 1));
  return id;
}

/* learn_lookup_str is intern without adding: NONE for a key never seen
 * (or too long to be one). */
uint32_t learn_lookup_str(const struct learn *l, const char *s) {
  size_t n = strnlen(s, PAGEKEY_MAX);
  if (n == PAGEKEY_MAX)
    return NONE;
  return str_find(l, s, n, learn_hash_str(s, n));
}

/* ---- nodes ------------------------------------------------------------- */

static uint32_t page_find(const struct learn *l, uint32_t key, int mobile) {
  mobile = mobile != 0;
  for (uint32_t i = hash_page(key, mobile) & l->page_mask;;
       i = (i + 1) & l->page_mask) {
    uint32_t slot = l->page_slots[i];
    if (slot == 0)
      return NONE;
    const struct page *p = &l->pages[slot - 1];
    if (p->key == key && p->mobile == mobile)
      return slot - 1;
  }
}

static void page_put(struct learn *l, uint32_t pi) {
  const struct page *p = &l->pages[pi];
  uint32_t i = hash_page(p->key, p->mobile) & l->page_mask;
  while (l->page_slots[i] != 0)
    i = (i + 1) & l->page_mask;
  l->page_slots[i] = pi + 1;
}

static void page_rehash(struct learn *l) {
  uint32_t size = (l->page_mask + 1) * 2;
  lfree(l, l->page_slots, (size_t)(l->page_mask + 1) * sizeof(uint32_t));
  l->page_slots = lcalloc(l, size, sizeof(uint32_t));
  l->page_mask = size - 1;
  for (uint32_t pi = 0; pi < l->npages; pi++)
    page_put(l, pi);
}

uint32_t learn_node_get(struct learn *l, const char *key, int mobile,
                        int level) {
  size_t n = strnlen(key, PAGEKEY_MAX);
  if (n == 0 || n == PAGEKEY_MAX)
    return NONE;
  uint32_t id = learn_intern(l, key, n, learn_hash_str(key, n));
  mobile = mobile != 0;
  uint32_t pi = page_find(l, id, mobile);
  if (pi != NONE)
    return pi;
  if (table_full(l->npages + 1, l->page_mask))
    page_rehash(l);
  l->pages = grow(l, l->pages, &l->cpages, sizeof(*l->pages), l->npages + 1);
  pi = l->npages++;
  struct page *p = &l->pages[pi];
  memset(p, 0, sizeof(*p));
  p->key = id;
  p->mobile = (uint8_t)mobile;
  p->level = (uint8_t)level;
  p->parent = NONE;
  page_put(l, pi);
  return pi;
}

uint32_t learn_find_node(const struct learn *l, const char *key,
                         int mobile) {
  if (l == NULL || key == NULL)
    return NONE;
  uint32_t id = learn_lookup_str(l, key);
  return id == NONE ? NONE : page_find(l, id, mobile);
}

void learn_mark_dirty(struct learn *l, uint32_t pi) {
  l->pages[pi].stamp++;
  if (l->pages[pi].dirty)
    return;
  l->pages[pi].dirty = 1;
  l->dirty = grow(l, l->dirty, &l->cdirty, sizeof(*l->dirty), l->ndirty + 1);
  l->dirty[l->ndirty++] = pi;
}

/* ---- a node's entries ---------------------------------------------------- */

static int entry_is(const struct learn *l, const struct entry *e,
                    const struct learn_rkey *k) {
  if (e->hash != k->hash)
    return 0;
  if (k->res != NONE)
    return e->res == k->res;
  const char *t = learn_str(l, e->res);
  return memcmp(t, k->s, k->n) == 0 && t[k->n] == '\0';
}

uint32_t learn_entry_find(const struct learn *l, const struct page *p,
                          const struct learn_rkey *k) {
  if (p->index == NULL) {
    for (uint32_t i = 0; i < p->nres; i++)
      if (entry_is(l, &p->ents[i], k))
        return i;
    return NONE;
  }
  for (uint32_t i = k->hash & p->index_mask;; i = (i + 1) & p->index_mask) {
    /* The slot carries the hash, so probing reads no other entries. */
    uint64_t slot = p->index[i];
    if (slot == 0)
      return NONE;
    if ((uint32_t)(slot >> 32) == k->hash &&
        entry_is(l, &p->ents[(uint32_t)slot - 1], k))
      return (uint32_t)slot - 1;
  }
}

uint32_t learn_entry_of(const struct learn *l, const struct page *p,
                        uint32_t res) {
  const char *s = learn_str(l, res);
  struct learn_rkey k = {learn_hash_str(s, strlen(s)), res, NULL, 0};
  return learn_entry_find(l, p, &k);
}

static void index_put(struct page *p, uint32_t ei) {
  uint32_t h = p->ents[ei].hash;
  uint32_t i = h & p->index_mask;
  while (p->index[i] != 0)
    i = (i + 1) & p->index_mask;
  p->index[i] = (uint64_t)h << 32 | (ei + 1);
}

struct entry *learn_entry_add(struct learn *l, struct page *p, uint32_t res,
                              uint32_t hash) {
  if (p->nres == p->cres) {
    /* Growing by half rather than doubling: most pages settle at a few
     * dozen entries and keep their slack for good. */
    uint32_t c = p->cres < 4 ? 4 : p->cres + p->cres / 2;
    p->ents = lrealloc(l, p->ents, (size_t)p->cres * sizeof(*p->ents),
                       (size_t)c * sizeof(*p->ents));
    p->cres = c;
  }
  uint32_t ei = p->nres++;
  struct entry *e = &p->ents[ei];
  memset(e, 0, sizeof(*e));
  e->place = LEARN_PLACE_NONE;
  e->res = res;
  e->hash = hash;
  e->first_v = p->v;
  e->touched = p->v;
  e->urgency = VISIT_URGENCY_NONE;
  if (p->nres > INDEX_MIN) {
    uint32_t size = p->index ? p->index_mask + 1 : 0;
    if (p->index == NULL || table_full(p->nres, p->index_mask)) {
      uint32_t nsize = size ? size * 2 : 4 * INDEX_MIN;
      lfree(l, p->index, (size_t)size * sizeof(*p->index));
      p->index = lcalloc(l, nsize, sizeof(*p->index));
      p->index_mask = nsize - 1;
      for (uint32_t i = 0; i < ei; i++)
        index_put(p, i);
    }
    index_put(p, ei);
  }
  return e;
}

/* ---- decay and bounds -------------------------------------------------- */

static double lam_pow(const struct learn *l, uint32_t d) {
  if (d < POW_TABLE)
    return l->lam_pow[d];
  return exp((double)d * l->ln_lambda);
}

/* learn_decayed_n is Σ λ^j for j = 0 .. x-1 = (1 - λ^x) / (1 - λ): the
 * decayed number of the last |x| samples. expm1 keeps it exact when λ is
 * within 1e-9 of 1 (a huge half-life), where 1 - λ would lose most
 * digits. */
double learn_decayed_n(const struct learn *l, uint32_t x) {
  if (l->ln_lambda == 0)
    return (double)x;
  return expm1((double)x * l->ln_lambda) / l->expm1_ln;
}

uint32_t learn_clock(const struct page *p, const struct entry *e) {
  uint32_t span = p->v - e->first_v + 1;
  return span > e->cens ? span - e->cens : 0;
}

double learn_entry_k(const struct learn *l, const struct entry *e,
                     uint32_t clock) {
  return clock >= e->kc ? e->k * lam_pow(l, clock - e->kc) : e->k;
}

double learn_prior(const struct learn *l, const struct entry *e,
                   uint32_t clock, double prior) {
  if (!(e->flags & ENTRY_DECLARED) || !(prior > 0))
    return 0;
  return clock >= e->dc ? prior * lam_pow(l, clock - e->dc) : prior;
}

/* Wilson's bounds: unlike p itself they are wide while n is small, so a
 * few lucky samples do not make a rule and a few unlucky ones do not
 * unmake one. */
static double wilson(double p, double n, double z, double sign) {
  if (n <= 0)
    return sign < 0 ? 0 : 1;
  double z2 = z * z;
  double num = p + z2 / (2 * n) +
               sign * z * sqrt(p * (1 - p) / n + z2 / (4 * n * n));
  double b = num / (1 + z2 / n);
  return b < 0 ? 0 : b > 1 ? 1 : b;
}

double learn_wilson_lower(double p, double n, double z) {
  return wilson(p, n, z, -1);
}

double learn_wilson_upper(double p, double n, double z) {
  return wilson(p, n, z, 1);
}

int learn_suspended(const struct learn *l, const struct page *p,
                    const struct entry *e, double threshold) {
  (void)l;
  if (p->level != LEARN_PAGE || e->kc == 0 || threshold >= 1)
    return 0;
  uint32_t run = learn_clock(p, e) - e->kc;
  if (run == 0)
    return 0;
  /* (1 - threshold)^run < alpha, without pow for the usual runs. */
  double miss = threshold > 0 ? 1 - threshold : 1;
  double pr = 1;
  for (uint32_t i = 0; i < run && pr >= LEARN_SUSPEND_ALPHA; i++)
    pr *= miss;
  return pr < LEARN_SUSPEND_ALPHA;
}

/* ---- distinct clients -------------------------------------------------- */

/* set_cap is the room of the allocated set holding |n| fingerprints
 * (INLINE_CLIENTS < n < LEARN_MAX_CLIENTS): powers of two from 4. */
static uint32_t set_cap(uint32_t n) {
  uint32_t c = 4;
  while (c < n)
    c *= 2;
  return c;
}

static void release_clients(struct learn *l, struct entry *e) {
  if (e->nclients > INLINE_CLIENTS && e->nclients < LEARN_MAX_CLIENTS)
    lfree(l, e->cl.set, (size_t)set_cap(e->nclients) * sizeof(uint32_t));
}

void learn_add_client(struct learn *l, struct entry *e, uint32_t fp) {
  uint32_t n = e->nclients;
  if (n >= LEARN_MAX_CLIENTS)
    return;
  const uint32_t *have = n <= INLINE_CLIENTS ? e->cl.fp : e->cl.set;
  for (uint32_t i = 0; i < n; i++)
    if (have[i] == fp)
      return;
  if (n + 1 == LEARN_MAX_CLIENTS) {
    /* Full: the count is all that is needed from now on. */
    release_clients(l, e);
    e->cl.set = NULL;
  } else if (n + 1 <= INLINE_CLIENTS) {
    e->cl.fp[n] = fp;
  } else if (n == INLINE_CLIENTS) {
    uint32_t *set = lalloc(l, (size_t)set_cap(n + 1) * sizeof(*set));
    memcpy(set, e->cl.fp, sizeof(e->cl.fp));
    set[n] = fp;
    e->cl.set = set;
  } else {
    uint32_t cap = set_cap(n);
    if (n + 1 > cap)
      e->cl.set = lrealloc(l, e->cl.set, (size_t)cap * sizeof(uint32_t),
                           (size_t)cap * 2 * sizeof(uint32_t));
    e->cl.set[n] = fp;
  }
  e->nclients = (uint8_t)(n + 1);
}

/* ---- public: lifecycle --------------------------------------------------- */

void learn_params_defaults(struct learn_params *p) {
  p->push_threshold = 0.95;
  p->hint_threshold = 0.90;
  p->z = 1.96;
  p->min_visits = 20;
  p->min_clients = 3;
  p->hint_budget = CONFIG_DEFAULT_HINT_BUDGET;
  p->hint_max = CONFIG_DEFAULT_HINT_MAX;
  p->push_budget = CONFIG_DEFAULT_PUSH_BUDGET;
  p->push_max = CONFIG_DEFAULT_PUSH_MAX;
  p->declared_prior = CONFIG_DEFAULT_DECLARED_PRIOR;
}

struct learn *learn_new(double half_life, int section_depth) {
  struct learn *l = xcalloc(1, sizeof(*l));
  /* A non-positive, infinite or NaN half-life means counts never fade. */
  if (half_life > 0 && isfinite(half_life))
    l->ln_lambda = -log(2.0) / half_life;
  l->expm1_ln = expm1(l->ln_lambda);
  for (uint32_t d = 0; d < POW_TABLE; d++)
    l->lam_pow[d] = exp((double)d * l->ln_lambda);
  l->section_depth = section_depth > 0 ? section_depth : 0;
  l->str_slots = lcalloc(l, 1024, sizeof(*l->str_slots));
  l->str_mask = 1023;
  l->page_slots = lcalloc(l, 1024, sizeof(*l->page_slots));
  l->page_mask = 1023;
  return l;
}

void learn_free(struct learn *l) {
  if (l == NULL)
    return;
  for (uint32_t i = 0; i < l->narena; i++)
    free(l->arena[i]);
  free(l->arena);
  free(l->str_slots);
  for (uint32_t pi = 0; pi < l->npages; pi++) {
    struct page *p = &l->pages[pi];
    for (uint32_t i = 0; i < p->nres; i++)
      release_clients(l, &p->ents[i]);
    free(p->ents);
    free(p->index);
    free(p->cand);
  }
  free(l->pages);
  free(l->page_slots);
  free(l->dirty);
  free(l->clients);
  free(l);
}

size_t learn_memory(const struct learn *l) {
  return l == NULL ? 0 : sizeof(*l) + l->mem;
}

/* ---- public: what is known ---------------------------------------------- */

double learn_page_visits(const struct learn *l, const char *page_key,
                         int mobile) {
  uint32_t pi = learn_find_node(l, page_key, mobile);
  return pi == NONE ? 0 : learn_decayed_n(l, l->pages[pi].v);
}

int learn_level_of(const struct learn *l, const char *key, int mobile) {
  uint32_t pi = learn_find_node(l, key, mobile);
  return pi == NONE ? -1 : l->pages[pi].level;
}

int learn_serving_key(const struct learn *l, const char *page_key,
                      const char *template_key, int mobile, char *out,
                      size_t cap) {
  char sec[PAGEKEY_MAX], site[PAGEKEY_MAX];
  const char *base =
      template_key != NULL && template_key[0] != '\0' ? template_key
                                                      : page_key;
  const char *chain[4] = {page_key, base, NULL, NULL};
  if (pagekey_section(base, l->section_depth, sec, sizeof(sec)) >= 0)
    chain[2] = sec;
  if (pagekey_site(base, site, sizeof(site)) >= 0)
    chain[3] = site;
  for (int i = 0; i < 4; i++) {
    if (chain[i] == NULL || learn_find_node(l, chain[i], mobile) == NONE)
      continue;
    size_t n = strlen(chain[i]);
    if (n >= cap)
      return -1;
    memcpy(out, chain[i], n + 1);
    return 0;
  }
  return -1;
}

/* ---- public: walking nodes ---------------------------------------------- */

void learn_take_dirty(struct learn *l, learn_node_cb cb, void *ud) {
  /* Detach the set first, so a callback that folds more visits in starts
   * a fresh one instead of growing the array being walked. */
  uint32_t *dirty = l->dirty, n = l->ndirty, cap = l->cdirty;
  l->dirty = NULL;
  l->ndirty = l->cdirty = 0;
  for (uint32_t i = 0; i < n; i++)
    l->pages[dirty[i]].dirty = 0;
  for (uint32_t i = 0; i < n; i++) {
    const struct page *p = &l->pages[dirty[i]];
    cb(ud, dirty[i], learn_str(l, p->key), p->mobile, p->level,
       p->parent == NONE ? -1 : (int64_t)p->parent);
  }
  lfree(l, dirty, (size_t)cap * sizeof(*dirty));
}

void learn_foreach_page(const struct learn *l, learn_node_cb cb, void *ud) {
  for (int level = LEARN_SITE; level >= LEARN_PAGE; level--) {
    for (uint32_t i = 0; i < l->npages; i++) {
      const struct page *p = &l->pages[i];
      if (p->level != level)
        continue;
      cb(ud, i, learn_str(l, p->key), p->mobile, p->level,
         p->parent == NONE ? -1 : (int64_t)p->parent);
    }
  }
}

uint32_t learn_nodes(const struct learn *l) { return l->npages; }
