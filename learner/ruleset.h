/* ruleset.h: the rules the proxy serves, as one immutable snapshot.
 *
 * The learner thread builds a ruleset from scratch, never changes it
 * after ruleset_build, and hands it to the loop thread whole (see
 * server_publish_rules). The loop looks pages up with no lock and drops
 * its reference when a newer snapshot arrives. The learner keeps a
 * reference of its own to the last snapshot (to know what was hinted), so
 * reference counts are atomic.
 *
 * A key maps, per class, to its served resources in order. Keys are of
 * any level (learner/learn.h): a page, a template, a section, a site. A
 * key absent from the snapshot is served what its next wider level's key
 * is (page -> template -> section -> site); the learner leaves out every
 * key whose list equals its parent's, so a present key, even with an
 * empty list, is one whose own evidence differs.
 *
 * Each snapshot has a generation number, and each page entry a slot
 * number within it, so the proxy can tell the learner exactly which list
 * it served a navigation from (and which of its entries it named)
 * without holding a reference across threads. */
#ifndef LEARNER_RULESET_H
#define LEARNER_RULESET_H

#include <stddef.h>
#include <stdint.h>

struct learn_rule;
struct ruleset;
struct ruleset_builder;

struct ruleset_entry {
  const char *key;    /* resource key, "scheme://authority/path" */
  const char *path;   /* its origin-form path (points into |key|) */
  uint8_t dest;       /* enum obs_dest */
  uint8_t rank;       /* enum learn_rank: what the page needs first */
  uint8_t channels;   /* enum learn_channel */
  uint32_t bytes;
};

struct ruleset_page {
  const struct ruleset_entry *entries;
  size_t n;
};

struct ruleset_builder *ruleset_builder_new(void);
/* ruleset_builder_add adds a key (copying everything); only rules with
 * channels set are kept, and of those only the ones pagekey_rule_ok
 * accepts for |page_key| (rules loaded from a database pass through here
 * too). Returns how many rules with channels set it dropped for that.
 * Adding the same key and class twice keeps the last. */
size_t ruleset_builder_add(struct ruleset_builder *b, const char *page_key,
                         int mobile, const struct learn_rule *rules,
                         size_t n);
/* ruleset_builder_set_mode records the operator's live delivery mode
 * (CONFIG_DELIVER_*) for the route named |route|, or globally when
 * |route| is NULL. */
void ruleset_builder_set_mode(struct ruleset_builder *b, const char *route,
                              int mode);
/* ruleset_builder_set_gen numbers the snapshot (0 by default). */
void ruleset_builder_set_gen(struct ruleset_builder *b, uint64_t gen);
/* ruleset_build turns the builder (consumed) into a snapshot with one
 * reference. */
struct ruleset *ruleset_build(struct ruleset_builder *b);
void ruleset_builder_free(struct ruleset_builder *b); /* NULL no-op */

/* ruleset_lookup returns the page's entry for a class, or NULL. */
const struct ruleset_page *ruleset_lookup(const struct ruleset *rs,
                                          const char *page_key, int mobile);

/* ruleset_mode is the operator's live mode for route |route| (may be
 * NULL), else the global one, else -1. */
int ruleset_mode(const struct ruleset *rs, const char *route);

uint64_t ruleset_gen(const struct ruleset *rs);
/* ruleset_slot is |p|'s slot number in |rs| (p from ruleset_lookup);
 * ruleset_at the page in slot |slot|, or NULL. */
uint32_t ruleset_slot(const struct ruleset *rs, const struct ruleset_page *p);
const struct ruleset_page *ruleset_at(const struct ruleset *rs,
                                      uint32_t slot);

/* ruleset_nslots is the number of slots; ruleset_slot_key the key and
 * class of slot |slot| (NULL for an empty slot), for walking a snapshot
 * in slot order (the admin listener's /rules). */
uint32_t ruleset_nslots(const struct ruleset *rs);
const char *ruleset_slot_key(const struct ruleset *rs, uint32_t slot,
                             int *mobile);

size_t ruleset_pages(const struct ruleset *rs);
size_t ruleset_rules(const struct ruleset *rs);

void ruleset_ref(struct ruleset *rs);
void ruleset_unref(struct ruleset *rs); /* NULL no-op; frees at zero */

#endif
