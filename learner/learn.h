/* learn.h: the learner's algorithm: decayed co-request counts at several
 * levels of a site and the rules they justify. Pure: no I/O, no clock, no
 * threads.
 *
 * LEVELS. A visit counts at four levels, each a node with its own counts:
 * its page key, its template key (when a segment folds), its section
 * ("scheme://authority/SEG/STARSTAR", STAR being '*', for the first
 * section_depth path segments of the template key; none when the path is
 * shallower or section_depth is 0) and its site
 * ("scheme://authority/STARSTAR"), all per client class. Nodes of
 * a visit form a chain, page -> template -> section -> site; a key's
 * chain is fixed by the first visit that creates it.
 *
 * EVIDENCE. What the browser requested is evidence about what the page
 * needs only when the page alone decided it. So:
 *   - A visit counts (at all its levels) only when its browser fetched at
 *     least one stylesheet, script, font or image in full (a 200 it
 *     requested, a preload its 103 caused included). A client that
 *     fetches only the HTML (a crawler, a monitor, curl, nghttp, a
 *     script), or a browser whose cache held everything, says nothing
 *     about what the page needs, and its visit changes no count.
 *   - Per resource, a counting visit is a sample when neither herald nor
 *     the browser's cache decided the request: a resource herald named
 *     ahead of the page (the visit's 103, a push; struct visit_named) is
 *     censored, requested or not: the browser fetches a hinted URL at
 *     once and uses that response if the page wants it, so a hinted visit
 *     looks the same whether the page still references it or not. And a
 *     resource the same client (token) fetched in an earlier visit within
 *     24 hours and did not fetch now is censored: its cache has it.
 *   - Every other resource of the level is a sample: a hit when
 *     requested, a miss when not.
 * Each entry (node, class, resource) keeps its own sample clock c: the
 * node's counting visits since the entry was created, less its censored
 * ones. Counts decay per sample, λ = 2^(-1/half_life):
 *   k(c) = Σ λ^(c-j) over samples j ≤ c that were hits
 *   n(c) = Σ λ^(c-j) over samples j ≤ c = (1 - λ^c) / (1 - λ)
 * so while a resource is hinted (censored) its evidence neither grows nor
 * fades: a rule does not fall out merely because it works. Both are lazy
 * (a value and the clock it was taken at), so a visit costs O(its own
 * resources + those it censors), never O(the node's resources). n counts
 * from the entry's creation: a renamed bundle (app.v1.js becoming
 * app.v2.js) starts fresh while its predecessor's k decays.
 *
 * WHAT MAKES A HINTED RESOURCE LEAVE. Only samples can show that a page
 * stopped needing a resource herald names on every visit, so they come
 * from visits where herald did not name it: the holdout arm, clients that
 * got no 103 (HTTP/1.1, push-only routes), and the proxy's verification
 * draws ([deliver] verify: a navigation gets none of what it would be
 * named with that probability).
 * Two rules make those few samples decisive:
 *   - Superseded: on a visit where herald named X, the page genuinely
 *     requested (not named) another URL with X's path and another query
 *     (a cache-busting version change, theme.css?v=1 -> ?v=2): X is
 *     superseded at every level of the visit, and is not served until the
 *     page genuinely requests X again.
 *   - Suspended (page level): the last m samples of a resource that has
 *     been hit were all misses, where m is the smallest with
 *     (1 - threshold)^m < LEARN_SUSPEND_ALPHA: had the resource still been
 *     requested with probability >= threshold, that run would be that
 *     unlikely. m = 2 at the default thresholds. Not served until its next
 *     hit (it is then unnamed, so every visit samples it again).
 *
 * DECLARED RESOURCES. A backend that knows what its pages need says so:
 * a Link: rel=preload field on a page's response, or its own 103 (struct
 * visit_declared). A declaration is evidence with a prior: at each level
 * of a counting visit that declared it, the resource gets declared_prior
 * pseudo-samples, all hits, on top of its own k and n. They fade like
 * samples, by λ per sample since its latest declaration, so a resource
 * the backend stops declaring loses them with the half-life. With the
 * default prior (40) and thresholds a declared resource is served from
 * its first declaration on (Wilson bound of 40/40: 0.912), before it has
 * min_visits samples of its own, where an undeclared one needs about 35
 * all-hit samples. Its own samples still count as for any other: the
 * first miss takes it out (40/41: 0.874, undecided), about ten say no
 * (Wilson upper bound below 0.9), and suspension and supersession apply
 * as above, so a declared resource the page never requests leaves like
 * any other. What a declaration cannot tell: whether the response may be
 * pushed. So a resource only declared, never genuinely requested, is
 * served as a hint, never pushed, with its destination from the link's
 * as= and no size. The networks of the visits that declared it count
 * towards min_clients. A declaration is the backend's statement, the
 * requests are the evidence: what the client fetched because herald's
 * 103 named a declaration (it forwarded the backend's 103) is censored
 * like herald's own hints, while what a Link field of the final
 * response made the browser fetch counts as the page's (herald passes
 * that field on unchanged: the browser would fetch it without herald).
 *
 * DECISIONS. For a key, each resource is decided by walking its chain
 * from the most specific level: at each level with an entry for it,
 *   yes       its latest response was pushable (or, never requested, it
 *             is declared: hints only), n >= min_visits, distinct
 *             client networks >= min_clients (a visit's network token,
 *             not its client token, which a new User-Agent renews), and
 *             the Wilson lower bound of k/n (z) reaches the channel's
 *             threshold; not superseded or suspended;
 *   no        superseded, suspended, its latest response was not
 *             pushable, or the Wilson upper bound of k/n is below the
 *             threshold (the level's own evidence says it is not needed);
 *   undecided otherwise (too few samples, or no entry): the next wider
 *             level decides.
 * So a page's own evidence overrides its template's, section's and
 * site's; a page never seen gets what its wider levels know. Push
 * (push_threshold) and hint (hint_threshold) are decided apart.
 *
 * ORDER AND BUDGETS. Served resources are ordered by how much the page
 * needs them first (enum learn_rank: render-blocking stylesheets,
 * synchronous scripts, fonts, the rest), then by the order the browser
 * asks for them in: the median place of each among the requests of its
 * rank in a visit (0: first), then median discovery delay, then depth,
 * then key. The place is learned only from visits herald named nothing
 * to (before its rules exist, the holdout and verification draws, clients
 * without a 103): in one where it did, the genuine requests left are not
 * the page's order. The place is also what the browser's own timing
 * cannot tell apart: fonts it asks for in one write reach herald in the
 * same millisecond, in the order its layout needs them, the one for the
 * first text first. A resource never seen in such a visit comes after
 * those of its rank that were. The rank comes from the browser's own
 * statements when it makes them: Sec-Fetch-Dest (or the content type) and
 * the RFC 9218 urgency of its genuine requests (Chromium sends u=0 for a
 * render-blocking stylesheet and u=4 for a print one, u=1 or 2 for a
 * parser-blocking script and no field, meaning u=3, for an async or
 * deferred one). Each channel then has its own byte budget and count cap:
 * pinned resources are set aside first, then learned ones in order; one
 * that does not fit is skipped and the list goes on. Pinned resources are
 * always kept (push and hint), blocked ones never. A resource whose key is
 * not a safe path on the page's own origin (pagekey_rule_ok) is never
 * served, pinned or not. Resources whose pushes were mostly cancelled or
 * requested again anyway lose push. */
#ifndef LEARNER_LEARN_H
#define LEARNER_LEARN_H

#include <stddef.h>
#include <stdint.h>

#include "learner/attribution.h"
#include "learner/pagekey.h"
#include "store/rows.h"

struct learn;

/* Distinct clients (visits' network tokens, see struct visit) are counted
 * up to this many; past it the count stays here ("at least"), so
 * min_clients above it cannot be met. Tokens are told apart by a 32-bit
 * hash: two clients sharing one (odds 2^-32) count as one, never the
 * other way round. */
#define LEARN_MAX_CLIENTS 32

/* See "Suspended" above. */
#define LEARN_SUSPEND_ALPHA 0.02

/* What a client fetched is remembered this long (its cache likely still
 * has it), for at most LEARN_CLIENT_MEMORY clients and
 * LEARN_CLIENT_RESOURCES resources each (the oldest go first). */
#define LEARN_CLIENT_TTL_MS (24ull * 3600 * 1000)
#define LEARN_CLIENT_MEMORY 4096
#define LEARN_CLIENT_RESOURCES 32

struct learn_params {
  double push_threshold;  /* default 0.95 */
  double hint_threshold;  /* default 0.90 */
  double z;               /* default 1.96 */
  double min_visits;      /* decayed samples n, default 20 */
  int min_clients;        /* distinct client networks, default 3 */
  uint64_t hint_budget;   /* bytes named in a 103, per page */
  int hint_max;           /* resources named in a 103 */
  uint64_t push_budget;   /* bytes pushed per page */
  int push_max;           /* resources pushed per page */
  double declared_prior;  /* pseudo-hits of a declared resource, 40 */
};

void learn_params_defaults(struct learn_params *p);

#define LEARN_PLACE_NONE 255

/* learn_rule_order compares two rules in serving order: rank, place,
 * median delay, depth, key. */
struct learn_rule;
int learn_rule_order(const struct learn_rule *a, const struct learn_rule *b);

/* Operator overrides that apply to one key: resource keys pinned or
 * blocked. */
struct learn_overrides {
  const char *const *pinned;
  size_t npinned;
  const char *const *blocked;
  size_t nblocked;
};

/* learn_new makes an empty learner; |half_life| is in samples (0,
 * negative or infinite: counts never decay); |section_depth| is the
 * number of leading path segments that name a section (0: no section
 * level). */
struct learn *learn_new(double half_life, int section_depth);
void learn_free(struct learn *l); /* NULL is a no-op */

/* learn_visit folds one finished visit in (see EVIDENCE). A resource
 * listed twice counts once (its first listing). For each resource an
 * entry keeps the smallest depth and a streaming median of delay_ms, and
 * the latest bytes, dest, urgency and pushable flag, from genuine
 * requests only. Returns 1 when the visit counted, 0 when not. */
int learn_visit(struct learn *l, const struct visit *v);

/* learn_visit_counts says whether |v| is a page load learn_visit counts
 * (its browser fetched a stylesheet, script, font or image in full). */
int learn_visit_counts(const struct visit *v);

/* learn_outcome notes what became of a push of |resource| on |page_key|
 * (and its wider levels): |used| 0 when it was cancelled or requested
 * again anyway. Ignored where the resource has no entry. */
void learn_outcome(struct learn *l, const char *page_key, int mobile,
                   const char *resource, int used);

/* learn_page_visits is the decayed number of counting visits of a key
 * (any level) and class, 0 when unknown. */
double learn_page_visits(const struct learn *l, const char *page_key,
                         int mobile);

/* learn_level_of: the level of a known key (-1 when unknown). */
int learn_level_of(const struct learn *l, const char *key, int mobile);

/* learn_serving_key writes into |out| the most specific known key whose
 * rules serve a page: |page_key| itself, else |template_key| (may be NULL
 * or ""), else the section and the site of the template (or page) key.
 * Returns 0, or -1 when none is known (nothing learned for its site). */
int learn_serving_key(const struct learn *l, const char *page_key,
                      const char *template_key, int mobile, char *out,
                      size_t cap);

/* learn_rules computes the rules of |key| (any level) for a class into
 * |out| (at most |cap|) and returns how many: first the resources served
 * (channels set, ord 0, 1, ... in serving order, after the budgets), then
 * near misses (channels 0, ord -1): blocked resources first (listed even
 * if never requested; blocked wins over pinned), then this key's own
 * entries by Wilson bound, highest first. Pinned resources (|ov| may be
 * NULL) are served even if never requested (then k, n, bytes, depth are
 * 0). Returns 0 for an unknown key. */
size_t learn_rules(struct learn *l, const char *key, int mobile,
                   const struct learn_params *p,
                   const struct learn_overrides *ov, struct learn_rule *out,
                   size_t cap);

/* One level's view of one resource, for heraldctl explain. */
struct learn_evidence {
  const char *key;        /* the level's key (valid until learn_free) */
  uint8_t level;          /* enum learn_level */
  uint8_t has_entry;      /* the level has counts for the resource */
  double visits;          /* the level's decayed counting visits */
  double k, n, lower, upper; /* Wilson bounds of k/n */
  int clients;
  uint8_t pushable, seen, superseded, suspended;
  uint8_t declared;       /* the backend declared it: k and n include
                             |prior| pseudo-hits */
  double prior;
  int8_t hint, push;      /* decision per channel: 1 yes, 0 no,
                             -1 undecided */
};

/* learn_evidence fills |out| with one element per level of |key|'s chain
 * (most specific first) and returns how many. */
size_t learn_evidence(const struct learn *l, const char *key, int mobile,
                      const char *resource, const struct learn_params *p,
                      struct learn_evidence *out, size_t cap);

/* Walking nodes. learn_take_dirty calls |cb| once per (key, class) whose
 * counts changed since the last call (learn_visit, learn_outcome), and
 * clears the set first (a visit folded in by |cb| marks its node again).
 * learn_foreach_page calls it for every node, widest levels first, so a
 * node's parent is always visited before it. |id| is a dense node number
 * (0 .. learn_nodes()-1), |parent| the parent's or -1. Keys stay valid
 * until learn_free. */
typedef void (*learn_node_cb)(void *ud, uint32_t id, const char *key,
                              int mobile, int level, int64_t parent);
void learn_take_dirty(struct learn *l, learn_node_cb cb, void *ud);
void learn_foreach_page(const struct learn *l, learn_node_cb cb, void *ud);
uint32_t learn_nodes(const struct learn *l);

/* learn_memory is the bytes the learner holds (for the benchmark): its
 * allocations by size, not counting the allocator's own overhead. */
size_t learn_memory(const struct learn *l);

#endif
