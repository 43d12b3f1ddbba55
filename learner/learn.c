/* learn.c: decayed co-request counts per (page, class, resource) and the
 * rules they justify. The model is in learn.h; this file is about keeping
 * it small and fast enough for a million visits over tens of thousands of
 * pages, where the cost is cache misses, not arithmetic.
 *
 * DESIGN
 *   - Every key (page, template, resource) is interned once in an arena.
 *     Its id is its position in the arena, so an id leads straight to its
 *     bytes, and the intern table's slots carry the hash, so a lookup
 *     touches one slot and one string.
 *   - Pages live in one array, found through an open-addressing table
 *     keyed by (key id, class).
 *   - A page's resource entries are one contiguous array: a visit touches
 *     a handful of neighbouring cache lines rather than one random line
 *     per resource. Pages with few resources are searched linearly; past
 *     INDEX_MIN a page gets its own small hash index (templates gather the
 *     resources of many pages).
 *   - Counts are lazy (see learn.h): an entry holds k and the visit number
 *     it was taken at, so a visit touches only the entries it requested.
 *   - Distinct clients (networks: the visit's network token, not its
 *     client token, which a new User-Agent renews) matter only up to a
 *     small number (min_clients), so an entry keeps at most
 *     LEARN_MAX_CLIENTS of them, as 32-bit fingerprints of the tokens:
 *     two inside the entry, more in a set allocated on the third and
 *     freed once full. Tokens are keyed
 *     hashes, so two clients share a fingerprint with probability 2^-32,
 *     and that only undercounts: one client can never pass for two. Whole
 *     16-byte tokens would make the sets, the largest part of the memory
 *     once a site has many rarely requested resources, four times as big.
 * Nothing is ever removed: the set of keys is bounded by the site, and a
 * restart rebuilds the counts from the retained visits. */
#include "learner/learn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/util.h"

#define NONE UINT32_MAX

/* Interned keys: an id is chunk << ARENA_BITS | offset, which leaves room
 * for 4 GB of keys. */
#define ARENA_BITS 16
#define ARENA_CHUNK (1u << ARENA_BITS) /* a key is < PAGEKEY_MAX */

/* Pages with more resources than this get a hash index. */
#define INDEX_MIN 16

/* λ^d for the small gaps that dominate (a resource requested on most
 * visits of its page) comes from a table instead of exp(). */
#define POW_TABLE 64

/* Push outcomes are plain counts, halved whenever they reach this total,
 * so the used share follows recent behaviour: a resource whose pushes
 * start being used again can win its push back. */
#define OUTCOME_WINDOW 256
#define DEMOTE_MIN_OUTCOMES 10

/* Client fingerprints kept inside the entry before a set is allocated. */
#define INLINE_CLIENTS 2

/* Requests of a visit looked up together; see prefetch. */
#define BATCH 32

enum { ENTRY_PUSHABLE = 1u << 0 };

struct entry {
  double k;          /* decayed count as of visit kv */
  union {
    uint32_t fp[INLINE_CLIENTS]; /* while nclients <= INLINE_CLIENTS */
    uint32_t *set;               /* then, until LEARN_MAX_CLIENTS */
  } cl;
  uint32_t res;      /* interned resource key */
  uint32_t hash;     /* of the key, so a visit finds entries without
                        interning every key it names */
  uint32_t kv;       /* the page visit number k was taken at */
  uint32_t first_v;  /* the page visit number it was first seen at */
  uint32_t median;   /* frugal median of discovery delay, ms */
  uint32_t bytes;    /* latest size, saturated at UINT32_MAX */
  uint16_t used;     /* push outcomes, see OUTCOME_WINDOW */
  uint16_t unused;
  uint8_t depth;     /* smallest seen */
  uint8_t dest;      /* latest, enum obs_dest */
  uint8_t flags;     /* ENTRY_PUSHABLE, latest */
  uint8_t nclients;  /* distinct clients, saturates at LEARN_MAX_CLIENTS */
};

struct page {
  struct entry *ents;
  uint64_t *index;   /* hash << 32 | entry index + 1, or NULL while small */
  uint32_t index_mask;
  uint32_t key;      /* interned page or template key */
  uint32_t v;        /* visits folded: V */
  uint32_t nres, cres;
  uint8_t mobile;
  uint8_t dirty;
};

struct learn {
  double ln_lambda;      /* ln λ = -ln 2 / half_life; 0: no decay */
  double expm1_ln;       /* expm1(ln λ) = λ - 1, computed without loss */
  double lam_pow[POW_TABLE];
  size_t mem;            /* bytes allocated, for learn_memory */

  /* Interned strings. A slot is hash << 32 | (id + 1), 0 when empty. */
  uint64_t *str_slots;
  uint32_t str_mask, nstr;
  char **arena;          /* chunks */
  uint32_t narena, carena;
  uint32_t arena_used;   /* in the last chunk */

  struct page *pages;
  uint32_t npages, cpages;
  uint32_t *page_slots;  /* page index + 1 */
  uint32_t page_mask;

  uint32_t *dirty;       /* page indices with dirty set */
  uint32_t ndirty, cdirty;
};

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


static uint32_t hash_str(const char *s, size_t n) {
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

static const char *str_of(const struct learn *l, uint32_t id) {
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
    const char *t = str_of(l, id);
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
static uint32_t intern(struct learn *l, const char *s, size_t n,
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

/* lookup_str is intern without adding: NONE for a key never seen (or
 * too long to be one). */
static uint32_t lookup_str(const struct learn *l, const char *s) {
  size_t n = strnlen(s, PAGEKEY_MAX);
  if (n == PAGEKEY_MAX)
    return NONE;
  return str_find(l, s, n, hash_str(s, n));
}

/* ---- pages ------------------------------------------------------------- */

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

static uint32_t page_get(struct learn *l, uint32_t key, int mobile) {
  mobile = mobile != 0;
  uint32_t pi = page_find(l, key, mobile);
  if (pi != NONE)
    return pi;
  if (table_full(l->npages + 1, l->page_mask))
    page_rehash(l);
  l->pages = grow(l, l->pages, &l->cpages, sizeof(*l->pages), l->npages + 1);
  pi = l->npages++;
  struct page *p = &l->pages[pi];
  memset(p, 0, sizeof(*p));
  p->key = key;
  p->mobile = (uint8_t)mobile;
  page_put(l, pi);
  return pi;
}

/* find_page maps a key string and class to a page index, or NONE. */
static uint32_t find_page(const struct learn *l, const char *key,
                          int mobile) {
  if (l == NULL || key == NULL)
    return NONE;
  uint32_t id = lookup_str(l, key);
  return id == NONE ? NONE : page_find(l, id, mobile);
}

static void mark_dirty(struct learn *l, uint32_t pi) {
  if (l->pages[pi].dirty)
    return;
  l->pages[pi].dirty = 1;
  l->dirty = grow(l, l->dirty, &l->cdirty, sizeof(*l->dirty), l->ndirty + 1);
  l->dirty[l->ndirty++] = pi;
}

/* ---- a page's entries -------------------------------------------------- */

/* A key to look for in a page: its hash, and its id when known (then
 * entries compare by id), else its bytes. */
struct rkey {
  uint32_t hash;
  uint32_t res;
  const char *s;
  size_t n;
};

static int entry_is(const struct learn *l, const struct entry *e,
                    const struct rkey *k) {
  if (e->hash != k->hash)
    return 0;
  if (k->res != NONE)
    return e->res == k->res;
  const char *t = str_of(l, e->res);
  return memcmp(t, k->s, k->n) == 0 && t[k->n] == '\0';
}

static uint32_t entry_find(const struct learn *l, const struct page *p,
                           const struct rkey *k) {
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

/* entry_of finds the entry of the interned key |res| in |p|, or NONE. */
static uint32_t entry_of(const struct learn *l, const struct page *p,
                         uint32_t res) {
  const char *s = str_of(l, res);
  struct rkey k = {hash_str(s, strlen(s)), res, NULL, 0};
  return entry_find(l, p, &k);
}

static void index_put(struct page *p, uint32_t ei) {
  uint32_t h = p->ents[ei].hash;
  uint32_t i = h & p->index_mask;
  while (p->index[i] != 0)
    i = (i + 1) & p->index_mask;
  p->index[i] = (uint64_t)h << 32 | (ei + 1);
}

/* entry_add appends a zeroed entry for |res|, known to be absent. Entry
 * pointers into the page do not survive it. */
static struct entry *entry_add(struct learn *l, struct page *p,
                               uint32_t res, uint32_t hash) {
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
  e->res = res;
  e->hash = hash;
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

/* ---- decay ------------------------------------------------------------- */

static double lam_pow(const struct learn *l, uint32_t d) {
  if (d < POW_TABLE)
    return l->lam_pow[d];
  return exp((double)d * l->ln_lambda);
}

/* decayed_n is Σ λ^j for j = 0 .. x-1 = (1 - λ^x) / (1 - λ): the decayed
 * number of the last |x| visits. expm1 keeps it exact when λ is within
 * 1e-9 of 1 (a huge half-life), where 1 - λ would lose most digits. */
static double decayed_n(const struct learn *l, uint32_t x) {
  if (l->ln_lambda == 0)
    return (double)x;
  return expm1((double)x * l->ln_lambda) / l->expm1_ln;
}

static double entry_n(const struct learn *l, const struct entry *e,
                      uint32_t v) {
  return decayed_n(l, v - e->first_v + 1);
}

static double entry_k(const struct learn *l, const struct entry *e,
                      uint32_t v) {
  return e->k * lam_pow(l, v - e->kv);
}

/* ---- per-entry statistics ---------------------------------------------- */

/* frugal_median moves the estimate |m| one step towards the sample |x|.
 * A median is where as many samples fall above as below, so moving up on
 * every sample above and down on every sample below settles there (the
 * "frugal" streaming median of Ma, Muthukrishnan and Sandler, 2013) with
 * one word of state. The step is 1/16 of the estimate (at least 1 ms,
 * never past the sample): it converges geometrically from the first
 * sample and then wanders within a few percent of the median, which is
 * all ordering by discovery delay needs. */
static uint32_t frugal_median(uint32_t m, uint32_t x) {
  uint32_t step = m / 16;
  if (step < 1)
    step = 1;
  if (x > m) {
    uint32_t gap = x - m;
    return m + (gap < step ? gap : step);
  }
  if (x < m) {
    uint32_t gap = m - x;
    return m - (gap < step ? gap : step);
  }
  return m;
}

static uint32_t fingerprint(const uint8_t *tok) {
  uint64_t a, b;
  memcpy(&a, tok, 8);
  memcpy(&b, tok + 8, 8);
  /* Hash all 16 bytes: tokens made up by tests or tools may differ in
   * one byte only. */
  return (uint32_t)util_mix64(a ^ util_mix64(b));
}

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

static void add_client(struct learn *l, struct entry *e, uint32_t fp) {
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
  p->budget_bytes = 102400;
  p->max_resources = 16;
}

struct learn *learn_new(double half_life) {
  struct learn *l = xcalloc(1, sizeof(*l));
  /* A non-positive, infinite or NaN half-life means counts never fade. */
  if (half_life > 0 && isfinite(half_life))
    l->ln_lambda = -log(2.0) / half_life;
  l->expm1_ln = expm1(l->ln_lambda);
  for (uint32_t d = 0; d < POW_TABLE; d++)
    l->lam_pow[d] = exp((double)d * l->ln_lambda);
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
  }
  free(l->pages);
  free(l->page_slots);
  free(l->dirty);
  free(l);
}

size_t learn_memory(const struct learn *l) {
  return l == NULL ? 0 : sizeof(*l) + l->mem;
}

/* ---- public: folding visits in ------------------------------------------ */

/* fold counts |r| in the current visit of page |pi|; |k| is the
 * resource's key, and gains its id once known. */
static void fold(struct learn *l, uint32_t pi, struct rkey *k,
                 const struct visit_req *r, uint32_t fp) {
  struct page *p = &l->pages[pi];
  uint32_t v = p->v;
  uint32_t ei = entry_find(l, p, k);
  struct entry *e;
  if (r->flags & VISIT_REQ_DELIVERED) {
    /* A push the client took instead of asking: a co-request, but it says
     * nothing about when or how the page discovers the resource. */
    if (ei == NONE)
      return;
    e = &p->ents[ei];
    k->res = e->res;
    if (e->kv == v)
      return;
    e->k = entry_k(l, e, v) + 1;
    e->kv = v;
    add_client(l, e, fp);
    return;
  }
  if (ei == NONE) {
    if (k->res == NONE)
      k->res = intern(l, k->s, k->n, k->hash);
    e = entry_add(l, p, k->res, k->hash);
    e->k = 1;
    e->kv = v;
    e->first_v = v;
    e->median = r->delay_ms;
    e->depth = r->depth;
  } else {
    e = &p->ents[ei];
    k->res = e->res;
    /* Already counted at this visit number: the same resource twice in
     * one visit is one co-request. */
    if (e->kv == v)
      return;
    e->k = entry_k(l, e, v) + 1;
    e->kv = v;
    e->median = frugal_median(e->median, r->delay_ms);
    if (r->depth < e->depth)
      e->depth = r->depth;
  }
  e->bytes = r->bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)r->bytes;
  e->dest = r->dest;
  e->flags = (r->flags & VISIT_REQ_PUSHABLE) ? ENTRY_PUSHABLE : 0;
  add_client(l, e, fp);
}

/* prefetch_targets asks for what folding into |e| will read beyond the
 * entry itself. */
static void prefetch_targets(const struct learn *l, const struct entry *e,
                             int first) {
  /* Only the first page compares key bytes; later ones know the id. */
  if (first)
    __builtin_prefetch(str_of(l, e->res));
  if (e->nclients > INLINE_CLIENTS && e->nclients < LEARN_MAX_CLIENTS)
    __builtin_prefetch(e->cl.set);
}

/* prefetch asks for the memory that folding |keys| into |pages| will
 * touch, before touching it. Each resource costs a few cache misses (an
 * index slot, an entry, a key to compare, a client set), each depending
 * on the one before, so taken one resource at a time the learner mostly
 * waits. Asking for a whole batch at each level first (slots, then the
 * entries they point to, then what the entries point to) lets the misses
 * overlap: on a million visits whose counts outgrow the CPU caches it
 * nearly halved the learner's time. Only hints (__builtin_prefetch, in
 * GCC and Clang): nothing here changes state. */
static void prefetch(const struct learn *l, const uint32_t *pages,
                     size_t np, const struct rkey *keys, size_t nk) {
  for (size_t i = 0; i < nk; i++) {
    for (size_t j = 0; j < np; j++) {
      const struct page *p = &l->pages[pages[j]];
      if (p->index != NULL)
        __builtin_prefetch(&p->index[keys[i].hash & p->index_mask]);
    }
  }
  for (size_t i = 0; i < nk; i++) {
    for (size_t j = 0; j < np; j++) {
      const struct page *p = &l->pages[pages[j]];
      if (p->index != NULL) {
        uint64_t slot = p->index[keys[i].hash & p->index_mask];
        if (slot != 0)
          __builtin_prefetch(&p->ents[(uint32_t)slot - 1]);
      }
    }
  }
  for (size_t i = 0; i < nk; i++) {
    for (size_t j = 0; j < np; j++) {
      const struct page *p = &l->pages[pages[j]];
      uint32_t ei = NONE;
      if (p->index != NULL) {
        uint64_t slot = p->index[keys[i].hash & p->index_mask];
        if (slot != 0)
          ei = (uint32_t)slot - 1;
      } else {
        /* A small page's entries are contiguous and already on their
         * way. */
        for (uint32_t x = 0; x < p->nres && ei == NONE; x++)
          if (p->ents[x].hash == keys[i].hash)
            ei = x;
      }
      if (ei != NONE)
        prefetch_targets(l, &p->ents[ei], j == 0);
    }
  }
}

static uint32_t intern_key(struct learn *l, const char *s, size_t n) {
  return intern(l, s, n, hash_str(s, n));
}

void learn_visit(struct learn *l, const struct visit *v) {
  size_t n = strnlen(v->page_key, PAGEKEY_MAX);
  if (n == 0 || n == PAGEKEY_MAX)
    return;
  uint32_t pages[2];
  size_t np = 0;
  pages[np++] = page_get(l, intern_key(l, v->page_key, n), v->mobile);
  size_t tn = strnlen(v->template_key, PAGEKEY_MAX);
  if (tn > 0 && tn < PAGEKEY_MAX && strcmp(v->template_key, v->page_key))
    pages[np++] = page_get(l, intern_key(l, v->template_key, tn), v->mobile);
  for (size_t j = 0; j < np; j++) {
    l->pages[pages[j]].v++;
    mark_dirty(l, pages[j]);
  }
  uint32_t fp = fingerprint(v->network);
  struct rkey keys[BATCH];
  for (size_t b = 0; b < v->nreqs; b += BATCH) {
    size_t nb = v->nreqs - b < BATCH ? v->nreqs - b : BATCH;
    for (size_t i = 0; i < nb; i++) {
      const char *key = v->reqs[b + i].key;
      size_t kn = strnlen(key, PAGEKEY_MAX);
      /* Interned only when new to a page: a page's entry, once found,
       * names the key for the next page. */
      keys[i] = (struct rkey){hash_str(key, kn), NONE, key, kn};
    }
    prefetch(l, pages, np, keys, nb);
    for (size_t i = 0; i < nb; i++) {
      if (keys[i].n == 0 || keys[i].n == PAGEKEY_MAX)
        continue;
      for (size_t j = 0; j < np; j++)
        fold(l, pages[j], &keys[i], &v->reqs[b + i], fp);
    }
  }
}

void learn_outcome(struct learn *l, const char *page_key, int mobile,
                   const char *resource, int used) {
  uint32_t pi = find_page(l, page_key, mobile);
  if (pi == NONE || resource == NULL)
    return;
  uint32_t res = lookup_str(l, resource);
  struct page *p = &l->pages[pi];
  uint32_t ei = res == NONE ? NONE : entry_of(l, p, res);
  if (ei == NONE)
    return;
  struct entry *e = &p->ents[ei];
  if (used)
    e->used++;
  else
    e->unused++;
  if (e->used + e->unused >= OUTCOME_WINDOW) {
    e->used = (uint16_t)((e->used + 1) / 2);
    e->unused = (uint16_t)((e->unused + 1) / 2);
  }
  mark_dirty(l, pi);
}

double learn_page_visits(const struct learn *l, const char *page_key,
                         int mobile) {
  uint32_t pi = find_page(l, page_key, mobile);
  return pi == NONE ? 0 : decayed_n(l, l->pages[pi].v);
}

/* ---- public: rules ------------------------------------------------------ */

/* A candidate rule before it is written out: the key is borrowed (an
 * interned string or the caller's override), so sorting moves 80 bytes,
 * not a PAGEKEY_MAX buffer. */
struct cand {
  const char *key;
  double k, n, confidence, wilson;
  uint64_t bytes;
  uint32_t median, channels, used, unused;
  int clients;
  uint8_t depth, dest, state, pushable;
};

/* wilson_lower is the lower bound of the Wilson score interval for a
 * success share |p| over |n| trials: unlike p itself it is low while n is
 * small, so a few lucky visits do not make a rule. */
static double wilson_lower(double p, double n, double z) {
  if (n <= 0)
    return 0;
  double z2 = z * z;
  double num = p + z2 / (2 * n) -
               z * sqrt(p * (1 - p) / n + z2 / (4 * n * n));
  double lb = num / (1 + z2 / n);
  return lb < 0 ? 0 : lb;
}

static int cmp_served(const void *a, const void *b) {
  const struct cand *x = a, *y = b;
  if (x->median != y->median)
    return x->median < y->median ? -1 : 1;
  if (x->depth != y->depth)
    return x->depth < y->depth ? -1 : 1;
  return strcmp(x->key, y->key);
}

static int cmp_missed(const void *a, const void *b) {
  const struct cand *x = a, *y = b;
  int xb = x->state == LEARN_BLOCKED, yb = y->state == LEARN_BLOCKED;
  if (xb != yb)
    return yb - xb;
  if (x->wilson != y->wilson)
    return x->wilson > y->wilson ? -1 : 1;
  return strcmp(x->key, y->key);
}

static int id_in(uint32_t id, const uint32_t *ids, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (ids[i] == id)
      return 1;
  return 0;
}

static void learned_cand(const struct learn *l, const struct entry *e,
                         uint32_t v, const struct learn_params *p,
                         struct cand *c) {
  memset(c, 0, sizeof(*c));
  c->key = str_of(l, e->res);
  c->n = entry_n(l, e, v);
  c->k = entry_k(l, e, v);
  c->confidence = c->n > 0 ? c->k / c->n : 0;
  if (c->confidence > 1)
    c->confidence = 1;
  c->wilson = wilson_lower(c->confidence, c->n, p->z);
  c->bytes = e->bytes;
  c->median = e->median;
  c->used = e->used;
  c->unused = e->unused;
  c->clients = e->nclients;
  c->depth = e->depth;
  c->dest = e->dest;
  c->state = LEARN_LEARNED;
  c->pushable = (e->flags & ENTRY_PUSHABLE) != 0;
  if (!c->pushable || c->n < p->min_visits || c->clients < p->min_clients)
    return;
  if (c->wilson >= p->hint_threshold)
    c->channels |= LEARN_HINT;
  if (c->wilson >= p->push_threshold)
    c->channels |= LEARN_PUSH;
  /* Pushes mostly cancelled or fetched again anyway waste bytes the
   * client did not want; a hint costs only a cache check. */
  uint32_t total = (uint32_t)e->used + e->unused;
  if (total >= DEMOTE_MIN_OUTCOMES && (uint32_t)e->used * 2 < total)
    c->channels &= ~(uint32_t)LEARN_PUSH;
}

/* add_unseen lists an override for a resource the page never requested,
 * unless the same key is already listed. */
static void add_unseen(struct cand *c, size_t *nc, const char *key,
                       uint8_t state) {
  if (key == NULL || strnlen(key, PAGEKEY_MAX) == PAGEKEY_MAX || !key[0])
    return;
  for (size_t i = 0; i < *nc; i++)
    if (strcmp(c[i].key, key) == 0)
      return;
  struct cand *x = &c[(*nc)++];
  memset(x, 0, sizeof(*x));
  x->key = key;
  x->state = state;
  x->channels = state == LEARN_PINNED ? LEARN_PUSH | LEARN_HINT : 0;
}

static void write_rule(const struct cand *c, int ord, struct learn_rule *r) {
  memset(r, 0, sizeof(*r));
  size_t n = strlen(c->key);
  memcpy(r->key, c->key, n + 1);
  r->dest = c->dest;
  r->depth = c->depth;
  r->state = c->state;
  r->channels = c->channels;
  r->ord = ord;
  r->k = c->k;
  r->n = c->n;
  r->confidence = c->confidence;
  r->wilson = c->wilson;
  r->clients = c->clients;
  r->bytes = c->bytes;
  r->median_delay_ms = c->median;
  r->pushable = c->pushable;
  r->pushes_used = c->used;
  r->pushes_unused = c->unused;
}

size_t learn_rules(const struct learn *l, const char *page_key, int mobile,
                   const struct learn_params *p,
                   const struct learn_overrides *ov, struct learn_rule *out,
                   size_t cap) {
  uint32_t pi = find_page(l, page_key, mobile);
  if (pi == NONE)
    return 0;
  const struct page *pg = &l->pages[pi];
  size_t npin = ov ? ov->npinned : 0, nblock = ov ? ov->nblocked : 0;
  size_t nov = npin + nblock;
  uint32_t *ids = xmalloc((nov + 1) * sizeof(*ids));
  for (size_t i = 0; i < nblock; i++)
    ids[i] = ov->blocked[i] ? lookup_str(l, ov->blocked[i]) : NONE;
  for (size_t i = 0; i < npin; i++)
    ids[nblock + i] = ov->pinned[i] ? lookup_str(l, ov->pinned[i]) : NONE;

  struct cand *c = xmalloc((pg->nres + nov + 1) * sizeof(*c));
  size_t nc = 0;
  for (uint32_t ei = 0; ei < pg->nres; ei++) {
    const struct entry *e = &pg->ents[ei];
    struct cand *x = &c[nc++];
    learned_cand(l, e, pg->v, p, x);
    /* Blocked wins over pinned: blocking is the operator's safety
     * valve. */
    if (id_in(e->res, ids, nblock)) {
      x->state = LEARN_BLOCKED;
      x->channels = 0;
    } else if (id_in(e->res, ids + nblock, npin)) {
      x->state = LEARN_PINNED;
      x->channels = LEARN_PUSH | LEARN_HINT;
    }
  }
  /* Overrides for resources never seen on this page; blocked first so a
   * key both blocked and pinned stays blocked. */
  size_t nseen = nc, nunseen = 0;
  for (size_t i = 0; i < nov; i++) {
    if (ids[i] != NONE && entry_of(l, pg, ids[i]) != NONE)
      continue;
    const char *key = i < nblock ? ov->blocked[i] : ov->pinned[i - nblock];
    add_unseen(c + nseen, &nunseen, key,
               i < nblock ? LEARN_BLOCKED : LEARN_PINNED);
  }
  nc = nseen + nunseen;
  free(ids);
  /* A resource that is not a safe path on the page's own origin is never
   * served, whatever its counts or a pin say (see pagekey_rule_ok). */
  for (size_t i = 0; i < nc; i++) {
    if (c[i].channels != 0 && !pagekey_rule_ok(page_key, c[i].key))
      c[i].channels = 0;
  }

  /* Served candidates (qualifying or pinned) to the front, in serving
   * order. */
  size_t ns = 0;
  for (size_t i = 0; i < nc; i++) {
    if (c[i].channels != 0) {
      struct cand t = c[ns];
      c[ns++] = c[i];
      c[i] = t;
    }
  }
  qsort(c, ns, sizeof(*c), cmp_served);

  /* Pinned resources are served whatever they cost, so their bytes and
   * count are set aside first and learned ones fill what is left, in
   * order. The first learned one that does not fit ends the list: serving
   * a later, smaller one ahead of it would invert the discovery order. */
  uint64_t bytes = 0;
  size_t count = 0;
  for (size_t i = 0; i < ns; i++) {
    if (c[i].state == LEARN_PINNED) {
      bytes += c[i].bytes;
      count++;
    }
  }
  size_t max = p->max_resources > 0 ? (size_t)p->max_resources : 0;
  int cut = 0;
  for (size_t i = 0; i < ns; i++) {
    if (c[i].state == LEARN_PINNED)
      continue;
    if (!cut && count < max && bytes + c[i].bytes <= p->budget_bytes) {
      bytes += c[i].bytes;
      count++;
    } else {
      cut = 1;
      c[i].channels = 0;
    }
  }
  /* Move the cut ones behind the served, keeping the served order. */
  size_t w = 0;
  for (size_t i = 0; i < ns; i++) {
    if (c[i].channels != 0) {
      struct cand t = c[w];
      c[w++] = c[i];
      c[i] = t;
    }
  }
  /* The swaps above disturbed the order of the tail only. */
  qsort(c + w, nc - w, sizeof(*c), cmp_missed);

  size_t n = 0;
  for (size_t i = 0; i < nc && n < cap; i++, n++)
    write_rule(&c[i], i < w ? (int)i : -1, &out[n]);
  free(c);
  return n;
}

const char *learn_choose_key(const struct learn *l, const char *page_key,
                             const char *template_key, int mobile,
                             const struct learn_params *p) {
  if (template_key == NULL || template_key[0] == '\0')
    return page_key;
  if (learn_page_visits(l, page_key, mobile) >= p->min_visits)
    return page_key;
  return template_key;
}

/* ---- public: walking pages ---------------------------------------------- */

void learn_take_dirty(struct learn *l, learn_page_cb cb, void *ud) {
  /* Detach the set first, so a callback that folds more visits in starts
   * a fresh one instead of growing the array being walked. */
  uint32_t *dirty = l->dirty, n = l->ndirty, cap = l->cdirty;
  l->dirty = NULL;
  l->ndirty = l->cdirty = 0;
  for (uint32_t i = 0; i < n; i++)
    l->pages[dirty[i]].dirty = 0;
  for (uint32_t i = 0; i < n; i++) {
    const struct page *p = &l->pages[dirty[i]];
    cb(ud, str_of(l, p->key), p->mobile);
  }
  lfree(l, dirty, (size_t)cap * sizeof(*dirty));
}

void learn_foreach_page(const struct learn *l, learn_page_cb cb, void *ud) {
  for (uint32_t i = 0; i < l->npages; i++) {
    const struct page *p = &l->pages[i];
    cb(ud, str_of(l, p->key), p->mobile);
  }
}

const char *learn_channel_name(uint32_t channels) {
  if (channels & LEARN_PUSH)
    return "push";
  if (channels & LEARN_HINT)
    return "hint";
  return "none";
}

const char *learn_state_name(uint8_t state) {
  switch (state) {
  case LEARN_PINNED:
    return "pinned";
  case LEARN_BLOCKED:
    return "blocked";
  default:
    return "learned";
  }
}
