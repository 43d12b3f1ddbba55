/* learn_int.h: what learn.c (counts) shares with learn_rules.c
 * (decisions). Not for use outside learner/learn*.c: callers see only
 * learn.h. */
#ifndef LEARNER_LEARN_INT_H
#define LEARNER_LEARN_INT_H

#include <stddef.h>
#include <stdint.h>

#include "learner/learn.h"

#define NONE UINT32_MAX

/* λ^d for the small gaps that dominate (a resource requested on most
 * samples) comes from a table instead of exp(). */
#define POW_TABLE 64

/* Push outcomes are plain counts, halved whenever they reach this total,
 * so the used share follows recent behaviour: a resource whose pushes
 * start being used again can win its push back. */
#define OUTCOME_WINDOW 256
#define DEMOTE_MIN_OUTCOMES 10

/* Client fingerprints kept inside the entry before a set is allocated. */
#define INLINE_CLIENTS 2

enum {
  ENTRY_PUSHABLE = 1u << 0,   /* its latest genuine request was pushable */
  ENTRY_SEEN = 1u << 1,       /* genuinely requested at least once */
  ENTRY_SUPERSEDED = 1u << 2, /* see learn.h */
  ENTRY_DECLARED = 1u << 3,   /* the backend declared it (DECLARED
                                 RESOURCES in learn.h) */
};

/* One (node, class, resource). Its sample clock (learn.h) is
 * node->v - first_v + 1 - cens. */
struct entry {
  double k;          /* decayed hits as of clock kc */
  union {
    uint32_t fp[INLINE_CLIENTS]; /* while nclients <= INLINE_CLIENTS */
    uint32_t *set;               /* then, until LEARN_MAX_CLIENTS */
  } cl;
  uint32_t res;      /* interned resource key */
  uint32_t hash;     /* of the key, so a visit finds entries without
                        interning every key it names */
  uint32_t kc;       /* sample clock of the latest hit (0: none) */
  uint32_t first_v;  /* node visit number at creation */
  uint32_t cens;     /* censored visits since creation */
  uint32_t touched;  /* node visit number of the latest change */
  uint32_t median;   /* frugal median of discovery delay, ms */
  uint32_t bytes;    /* latest size, saturated at UINT32_MAX */
  uint32_t dc;       /* sample clock of the latest declaration */
  uint16_t used;     /* push outcomes, see OUTCOME_WINDOW */
  uint16_t unused;
  uint8_t depth;     /* smallest seen */
  uint8_t dest;      /* latest, enum obs_dest */
  uint8_t urgency;   /* latest, VISIT_URGENCY_NONE unknown */
  uint8_t flags;     /* ENTRY_* */
  uint8_t nclients;  /* distinct clients, saturates at LEARN_MAX_CLIENTS */
  uint8_t place;     /* frugal median of its place among the requests of
                        its rank in a visit (learn.h); LEARN_PLACE_NONE */
};

/* A node: one key (page, template, section or site) and class. */
struct page {
  struct entry *ents;
  uint64_t *index;   /* hash << 32 | entry index + 1, or NULL while small */
  uint32_t index_mask;
  uint32_t key;      /* interned key */
  uint32_t v;        /* counting visits folded */
  uint32_t nres, cres;
  uint32_t parent;   /* the next wider level's node, or NONE */
  uint32_t stamp;    /* bumped on every change (for the candidate cache) */
  uint32_t cand_stamp; /* stamp the candidate cache was made at */
  uint64_t cand_params; /* and the parameters' hash */
  uint32_t *cand;    /* entries that qualify at this level */
  uint32_t ncand, ccand;
  uint8_t mobile;
  uint8_t dirty;
  uint8_t level;     /* enum learn_level */
};

struct client_mem; /* learn.c */

struct learn {
  double ln_lambda;      /* ln λ = -ln 2 / half_life; 0: no decay */
  double expm1_ln;       /* expm1(ln λ) = λ - 1, computed without loss */
  double lam_pow[POW_TABLE];
  int section_depth;
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

  struct client_mem *clients; /* allocated on first use */
};

/* A key to look for in a node: its hash, and its id when known (then
 * entries compare by id), else its bytes. */
struct learn_rkey {
  uint32_t hash;
  uint32_t res;
  const char *s;
  size_t n;
};

/* Shared helpers (learn.c). Allocations are counted for learn_memory. */
void *learn_alloc(struct learn *l, size_t n);
void *learn_realloc(struct learn *l, void *p, size_t old, size_t n);
void learn_release(struct learn *l, void *p, size_t n);
uint32_t learn_hash_str(const char *s, size_t n);
/* learn_intern returns the id of |s| (|n| < PAGEKEY_MAX bytes, hash |h|),
 * adding it; learn_str its bytes; learn_lookup_str NONE when unknown. */
uint32_t learn_intern(struct learn *l, const char *s, size_t n, uint32_t h);
const char *learn_str(const struct learn *l, uint32_t id);
uint32_t learn_lookup_str(const struct learn *l, const char *s);
/* learn_node_get finds or makes the node of |key| (created at |level|,
 * without parent); NONE for an empty or too long key. */
uint32_t learn_node_get(struct learn *l, const char *key, int mobile,
                        int level);
uint32_t learn_find_node(const struct learn *l, const char *key, int mobile);
void learn_mark_dirty(struct learn *l, uint32_t node);
uint32_t learn_entry_find(const struct learn *l, const struct page *p,
                          const struct learn_rkey *k);
uint32_t learn_entry_of(const struct learn *l, const struct page *p,
                        uint32_t res);
/* learn_entry_add appends a zeroed entry for |res|, known to be absent,
 * created now (first_v = p->v). Entry pointers into |p| do not survive
 * it. */
struct entry *learn_entry_add(struct learn *l, struct page *p, uint32_t res,
                              uint32_t hash);
void learn_add_client(struct learn *l, struct entry *e, uint32_t fp);

/* The sample clock of |e| in |p|, and its n and k there. */
uint32_t learn_clock(const struct page *p, const struct entry *e);
/* learn_prior is the weight of |e|'s declarations at |clock| (0 when
 * undeclared): |prior| faded by λ per sample since the latest. */
double learn_prior(const struct learn *l, const struct entry *e,
                   uint32_t clock, double prior);
double learn_decayed_n(const struct learn *l, uint32_t samples);
double learn_entry_k(const struct learn *l, const struct entry *e,
                     uint32_t clock);

/* Wilson score bounds of a success share |p| over |n| trials. */
double learn_wilson_lower(double p, double n, double z);
double learn_wilson_upper(double p, double n, double z);

/* learn_suspended: |e|'s latest samples are a run of misses long enough to
 * reject "requested with probability >= |threshold|" (page level only). */
int learn_suspended(const struct learn *l, const struct page *p,
                    const struct entry *e, double threshold);

#endif
