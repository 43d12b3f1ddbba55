/* learner.h: the learner as it runs inside herald, on the recorder's
 * thread (which owns the store connection).
 *
 * It folds every written visit into its counts (learner/learn.h), and
 * every interval (or after enough new visits) recomputes the list of
 * every key (pages, templates, sections, sites), writes those that
 * changed to the rules table in one transaction, and publishes a fresh
 * immutable snapshot to the loop thread, leaving out every key whose list
 * equals its parent's. At start it publishes the rules already in the
 * database (a restarted herald serves at once), then replays the retained
 * visits to rebuild its counts. Thresholds and budgets come from the
 * configuration, overridden by the settings table (scope 'global', then
 * 'route:NAME' for the key's route), and operator overrides (pin, block)
 * from the overrides table, whose scopes are keys, key patterns or
 * "route:NAME"; both are read at every recompute, so an operator's change
 * applies within one interval. */
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
  int section_depth;        /* learn_new's */
  struct learn_params params;
  uint32_t interval_ms;
  uint32_t recompute_after; /* visits */
  int deliver_mode;         /* [deliver] mode, for the audit's log lines */
  struct config_route routes[CONFIG_MAX_ROUTES]; /* for route settings */
  int nroutes;
  learner_publish_cb publish; /* may be NULL (heraldctl, tests) */
  void *publish_ud;
};

/* learner_params_from_config fills |p| with the [learn] values of |cfg|
 * (budgets resolved by config_budgets). */
void learner_params_from_config(const struct config *cfg,
                                struct learn_params *p);

/* learner_read_params overlays the settings stored under |scope|
 * ("global" or "route:NAME") on |p|: push_threshold, hint_threshold, z,
 * min_visits, min_clients, hint_budget, hint_max_resources, push_budget,
 * push_max_resources, declared_prior. A value that is not a number >= 0
 * is ignored. */
void learner_read_params(struct store *st, const char *scope,
                         struct learn_params *p);

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

/* learner_named fills |v|'s named set (struct visit_named): its pushes,
 * the backend's declarations its 103 carried (VISIT_DECL_NAMED), and the
 * entries its 103 named, found from the snapshot generation, slot
 * and mask the proxy recorded (the learner keeps its last
 * LEARNER_SNAPSHOTS snapshots), for a hinted visit and for a pushed one
 * whose client's limits sent the rest in a 103. A 103 from an older
 * snapshot is taken to have named every hint entry the page's list has
 * now (a pushed visit's, nothing). The array is
 * malloc'ed into v->named (the caller frees it). */
#define LEARNER_SNAPSHOTS 8
void learner_named(const struct learner *l, struct visit *v);

/* learner_page_rules returns the list the last snapshot serves |v|'s
 * page (its own key, else the nearest wider key present), or NULL. Valid
 * until the next learner_tick. */
const struct ruleset_page *learner_page_rules(const struct learner *l,
                                              const struct visit *v);

void learner_stats(const struct learner *l, struct learner_stats *out);

#endif
