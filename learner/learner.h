/* learner.h: the learner as it runs inside herald, on the recorder's
 * thread (which owns the store connection).
 *
 * It folds every written visit into its counts (learner/learn.h), and
 * every interval (or after enough new visits) recomputes the rules of the
 * pages that changed, writes them and their aggregates to the rules and
 * aggregates tables in one transaction, and publishes a fresh immutable
 * snapshot of every served rule to the loop thread. At start it publishes
 * the rules already in the database (a restarted herald serves at once),
 * then replays the retained visits to rebuild its counts. Thresholds come
 * from the configuration, overridden by the settings table (scope
 * 'global', then 'route:NAME' for the page's route), read at every
 * recompute, so an operator's change applies within one interval. */
#ifndef LEARNER_LEARNER_H
#define LEARNER_LEARNER_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "learner/learn.h"

struct learner;
struct ruleset;
struct ruleset_page;
struct store;
struct visit;

/* learner_publish_cb hands |rs| (one reference, now the callee's) to the
 * proxy. Called on the learner's thread. */
typedef void (*learner_publish_cb)(void *ud, struct ruleset *rs);


struct learner_config {
  double half_life;
  struct learn_params params;
  uint32_t interval_ms;
  uint32_t recompute_after; /* visits */
  struct config_route routes[CONFIG_MAX_ROUTES]; /* for route settings */
  int nroutes;
  learner_publish_cb publish; /* may be NULL (heraldctl, tests) */
  void *publish_ud;
};

/* learner_new starts learning over |st| (borrowed; it must outlive the
 * learner): publishes stored rules, then replays retained visits. */
struct learner *learner_new(const struct learner_config *cfg,
                            struct store *st);
void learner_free(struct learner *l); /* NULL is a no-op */

/* learner_visit folds a visit that was just written. */
void learner_visit(struct learner *l, const struct visit *v);

/* learner_tick recomputes and publishes when the interval has passed or
 * enough visits arrived (|force|: now). Returns 0 or a store error. */
int learner_tick(struct learner *l, uint64_t now_ms, int force);

/* learner_set_config applies a reload: params, interval, recompute_after
 * and routes of |cfg| (half_life and publish are kept). The next tick
 * recomputes every page. */
void learner_set_config(struct learner *l, const struct learner_config *cfg);

struct learner_stats {
  uint64_t cycles;
  uint64_t last_cycle_us;
  size_t pages, rules; /* in the last published snapshot */
};
/* learner_outcome notes what became of a push of |resource| during the
 * visit |v| (|used| 0: cancelled or requested again anyway), for the page
 * and its template; it demotes resources whose pushes go unused. */
void learner_outcome(struct learner *l, const struct visit *v,
                     const char *resource, int used);

/* learner_served returns the rules the proxy serves for the visit's page
 * (its own, else its template's) in the last published snapshot, or
 * NULL. Valid until the next learner_tick. */
const struct ruleset_page *learner_served(const struct learner *l,
                                          const struct visit *v);

void learner_stats(const struct learner *l, struct learner_stats *out);

#endif
