/* learn.h: the learner's algorithm: decayed co-request counts per page and
 * the rules they justify. Pure: no I/O, no clock, no threads.
 *
 * Counts, per (page key, class, resource), with λ = 2^(-1/half_life) and
 * the page's visits numbered V = 1, 2, ...:
 *   k(V) = Σ λ^(V-i) over visits i ≤ V that requested the resource
 *   n(V) = Σ λ^(V-i) over visits i ≤ V since the resource was first seen
 *        = (1 - λ^(V-first+1)) / (1 - λ)
 * Both are kept lazily (a value and the visit number it was taken at), so
 * folding a visit in costs O(resources of that visit), not O(resources of
 * the page). A renamed bundle stops being requested, its k decays while n
 * stays near its cap 1/(1-λ), and it falls below threshold within a
 * bounded number of visits; its successor starts a fresh n, so it
 * qualifies as fast as a resource of a brand-new page.
 *
 * A resource becomes a rule for a channel when all hold:
 *   Wilson lower bound of k/n (z) >= the channel's threshold
 *   n >= min_visits, distinct networks >= min_clients, pushable.
 * Rules are ordered by median discovery delay, then depth, and cut by the
 * byte budget and the count cap. Pinned resources are always kept (push
 * and hint), blocked ones never. A resource whose key is not a safe path
 * on the page's own origin (pagekey_rule_ok) is never a rule, pinned or
 * not. Resources whose pushes were mostly
 * cancelled or requested again anyway are demoted to hints. */
#ifndef LEARNER_LEARN_H
#define LEARNER_LEARN_H

#include <stddef.h>
#include <stdint.h>

#include "learner/attribution.h"
#include "learner/pagekey.h"

struct learn;

/* Distinct clients (visits' network tokens, see struct visit) are counted
 * up to this many; past it the count stays here ("at least"), so
 * min_clients above it cannot be met. Tokens are told apart by a 32-bit
 * hash: two clients sharing one (odds 2^-32) count as one, never the
 * other way round. */
#define LEARN_MAX_CLIENTS 32

struct learn_params {
  double push_threshold;  /* default 0.95 */
  double hint_threshold;  /* default 0.90 */
  double z;               /* default 1.96 */
  double min_visits;      /* decayed n, default 20 */
  int min_clients;        /* distinct client networks, default 3 */
  uint64_t budget_bytes;  /* per page, default 102400 */
  int max_resources;      /* per page, default 16 */
};

void learn_params_defaults(struct learn_params *p);

enum learn_channel {
  LEARN_PUSH = 1u << 0,
  LEARN_HINT = 1u << 1,
};

enum learn_state { LEARN_LEARNED, LEARN_PINNED, LEARN_BLOCKED };

/* learn_channel_name: "push" (push and hint), "hint" or "none", as the
 * rules table and heraldctl spell them; learn_state_name: "learned",
 * "pinned" or "blocked". */
const char *learn_channel_name(uint32_t channels);
const char *learn_state_name(uint8_t state);

struct learn_rule {
  char key[PAGEKEY_MAX];  /* resource key */
  uint8_t dest;           /* enum obs_dest */
  uint8_t depth;
  uint8_t state;          /* enum learn_state */
  uint32_t channels;      /* enum learn_channel; 0 = near miss, no rule */
  int ord;                /* position in the page's list, from 0 */
  double k, n, confidence, wilson;
  int clients;            /* at most LEARN_MAX_CLIENTS */
  uint64_t bytes;          /* latest size seen */
  uint32_t median_delay_ms;
  uint8_t pushable;        /* the latest request was VISIT_REQ_PUSHABLE */
  uint32_t pushes_used;    /* push outcomes (recent: halved past 256) */
  uint32_t pushes_unused;
};

/* Operator overrides for one page: resource keys pinned or blocked. */
struct learn_overrides {
  const char *const *pinned;
  size_t npinned;
  const char *const *blocked;
  size_t nblocked;
};

/* learn_new makes an empty learner; |half_life| is in visits of a page
 * (0, negative or infinite: counts never decay). */
struct learn *learn_new(double half_life);
void learn_free(struct learn *l); /* NULL is a no-op */

/* learn_visit folds one finished visit into the counts of its page key and
 * (when different) its template key, for its class. A resource listed
 * twice in the visit counts once (its first listing); for each resource
 * the learner keeps the smallest depth and a streaming median of
 * delay_ms, and the latest bytes, dest and pushable flag. */
void learn_visit(struct learn *l, const struct visit *v);

/* learn_outcome notes what became of a push of |resource| on |page_key|:
 * |used| 0 when it was cancelled or requested again anyway. Ignored when
 * the page has never requested |resource|. */
void learn_outcome(struct learn *l, const char *page_key, int mobile,
                   const char *resource, int used);

/* learn_page_visits is the decayed visit count of a page key and class
 * (0 when unknown). */
double learn_page_visits(const struct learn *l, const char *page_key,
                         int mobile);

/* learn_rules computes the rules of |page_key| for a class into |out|
 * (at most |cap|) and returns how many: first the resources that qualify
 * (channels set, ordered, after budget and cap), then near misses
 * (channels 0) for explanation. Returns 0 for an unknown page.
 *
 * Served rules have ord 0, 1, ... in serving order: median discovery
 * delay, then depth, then key. Pinned resources (|ov| may be NULL) are
 * served even if never requested (then k, n, bytes, depth are 0) and
 * their bytes and count are set aside first; learned ones fill the rest
 * of budget_bytes and max_resources in order, and the first that does not
 * fit ends the list (later ones become near misses too). A resource with
 * at least 10 push outcomes, fewer than half used, loses PUSH. Near
 * misses have ord -1: blocked resources first (listed even if never
 * requested; blocked wins over pinned), then the rest by Wilson bound,
 * highest first. */
size_t learn_rules(const struct learn *l, const char *page_key, int mobile,
                   const struct learn_params *p,
                   const struct learn_overrides *ov, struct learn_rule *out,
                   size_t cap);

/* learn_choose_key picks whose rules serve a visit: the exact page key when
 * its decayed visits reach min_visits, else the template key (|page_key|
 * when |template_key| is NULL or empty). Returns one of the two
 * arguments. */
const char *learn_choose_key(const struct learn *l, const char *page_key,
                             const char *template_key, int mobile,
                             const struct learn_params *p);

/* Pages whose counts changed since the last call, for incremental rule
 * recomputation: learn_take_dirty calls |cb| once per (page key, class)
 * touched by learn_visit or learn_outcome, and clears the set first (a
 * visit folded in by |cb| marks its page again). Page keys passed to
 * callbacks stay valid until learn_free. */
typedef void (*learn_page_cb)(void *ud, const char *page_key, int mobile);
void learn_take_dirty(struct learn *l, learn_page_cb cb, void *ud);

/* learn_foreach_page calls |cb| for every known (page key, class). */
void learn_foreach_page(const struct learn *l, learn_page_cb cb, void *ud);

/* learn_memory is the bytes the learner holds (for the benchmark): its
 * allocations by size, not counting the allocator's own overhead. */
size_t learn_memory(const struct learn *l);

#endif
