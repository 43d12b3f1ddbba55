/* ruleset.h: the rules the proxy serves, as one immutable snapshot.
 *
 * The learner thread builds a ruleset from scratch, never changes it
 * after ruleset_build, and hands it to the loop thread whole (see
 * server_publish_rules). The loop looks pages up with no lock and drops
 * its reference when a newer snapshot arrives. The learner keeps a
 * reference of its own to the last snapshot (to know what was hinted), so
 * reference counts are atomic.
 *
 * A page key maps, per class, to its served resources in order. A page
 * whose own visits reach min_visits is present even with no rules, so it
 * does not fall back to its template; pages not present fall back to
 * their template key. */
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
  uint8_t channels;   /* enum learn_channel */
  uint32_t bytes;
};

struct ruleset_page {
  const struct ruleset_entry *entries;
  size_t n;
  int mode;           /* delivery mode set by the operator for the page's
                         route or globally (CONFIG_DELIVER_*), or -1 */
};

struct ruleset_builder *ruleset_builder_new(void);
/* ruleset_builder_add adds a page (copying everything); only rules with
 * channels set are kept, and of those only the ones pagekey_rule_ok
 * accepts for |page_key| (rules loaded from a database pass through here
 * too). Returns how many rules with channels set it dropped for that.
 * |mode| is the operator's delivery mode for the page, or -1. Adding the
 * same page and class twice keeps the last. */
size_t ruleset_builder_add(struct ruleset_builder *b, const char *page_key,
                         int mobile, const struct learn_rule *rules,
                         size_t n, int mode);
/* ruleset_build turns the builder (consumed) into a snapshot with one
 * reference. */
struct ruleset *ruleset_build(struct ruleset_builder *b);
void ruleset_builder_free(struct ruleset_builder *b); /* NULL no-op */

/* ruleset_lookup returns the page's entry for a class, or NULL. */
const struct ruleset_page *ruleset_lookup(const struct ruleset *rs,
                                          const char *page_key, int mobile);

size_t ruleset_pages(const struct ruleset *rs);
size_t ruleset_rules(const struct ruleset *rs);

void ruleset_ref(struct ruleset *rs);
void ruleset_unref(struct ruleset *rs); /* NULL no-op; frees at zero */

#endif
