/* learner.c: see learner.h. */
#include "learner/learner.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "config/config.h"
#include "learner/attribution.h"
#include "learner/learn.h"
#include "learner/ruleset.h"
#include "proxy/log.h"
#include "proxy/route.h"
#include "proxy/util.h"
#include "store/store.h"

#define RULES_PER_PAGE 64

struct override {
  char *page_key, *resource_key;
  int pin;
};

struct learner {
  struct learner_config cfg;
  struct store *st;
  struct learn *learn;
  uint64_t last_tick_ms;
  uint32_t new_visits;
  struct learner_stats stats;

  /* per recompute: settings and overrides read from the store */
  struct learn_params global;
  int global_mode;                       /* CONFIG_DELIVER_* or -1 */
  int route_mode[CONFIG_MAX_ROUTES];
  struct ruleset *served; /* our reference to the last snapshot published */
  struct override *ovr;
  size_t novr, ovr_cap;
  uint64_t settings_hash; /* of everything load_settings read */
  int failed;
};

static uint64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- settings ---------------------------------------------------------- */

static void read_param(struct learner *l, const char *scope, const char *name,
                       double *out) {
  char v[64];
  if (store_get_setting(l->st, scope, name, v, sizeof(v)) != 0)
    return;
  char *end;
  double d = strtod(v, &end);
  if (end != v && *end == '\0' && d == d && d >= 0)
    *out = d;
}

/* read_params overlays the settings of |scope| on |p|. */
static void read_params(struct learner *l, const char *scope,
                        struct learn_params *p) {
  double d;
  d = p->push_threshold, read_param(l, scope, "push_threshold", &d);
  p->push_threshold = d;
  d = p->hint_threshold, read_param(l, scope, "hint_threshold", &d);
  p->hint_threshold = d;
  d = p->z, read_param(l, scope, "z", &d);
  p->z = d;
  d = p->min_visits, read_param(l, scope, "min_visits", &d);
  p->min_visits = d;
  d = p->min_clients, read_param(l, scope, "min_clients", &d);
  p->min_clients = (int)d;
  d = (double)p->budget_bytes, read_param(l, scope, "budget", &d);
  p->budget_bytes = (uint64_t)d;
  d = p->max_resources, read_param(l, scope, "max_resources", &d);
  p->max_resources = (int)d;
}

/* read_mode returns the delivery mode set for |scope|, or -1. */
static int read_mode(struct learner *l, const char *scope) {
  char v[32];
  if (store_get_setting(l->st, scope, "mode", v, sizeof(v)) != 0)
    return -1;
  return config_deliver_parse(v);
}

static void on_override(void *ud, const char *page_key,
                        const char *resource_key, const char *action) {
  struct learner *l = ud;
  if (l->novr == l->ovr_cap) {
    l->ovr_cap = l->ovr_cap ? l->ovr_cap * 2 : 16;
    l->ovr = xrealloc(l->ovr, l->ovr_cap * sizeof(*l->ovr));
  }
  struct override *o = &l->ovr[l->novr++];
  o->page_key = xstrdup(page_key);
  o->resource_key = xstrdup(resource_key);
  o->pin = strcmp(action, "pin") == 0;
}

static void clear_overrides(struct learner *l) {
  for (size_t i = 0; i < l->novr; i++) {
    free(l->ovr[i].page_key);
    free(l->ovr[i].resource_key);
  }
  l->novr = 0;
}

/* load_settings reads the operator's settings and overrides and returns
 * whether anything differs from the last read. */
static int load_settings(struct learner *l) {
  l->global = l->cfg.params;
  read_params(l, "global", &l->global);
  l->global_mode = read_mode(l, "global");
  clear_overrides(l);
  store_load_overrides(l->st, on_override, l);
  uint64_t h = util_fnv1a(UTIL_FNV1A_INIT, &l->global, sizeof(l->global));
  for (int i = 0; i < l->cfg.nroutes; i++) {
    struct learn_params p = l->global;
    char scope[80];
    snprintf(scope, sizeof(scope), "route:%s", l->cfg.routes[i].name);
    read_params(l, scope, &p);
    h = util_fnv1a(h, &p, sizeof(p));
    l->route_mode[i] = read_mode(l, scope);
  }
  h = util_fnv1a(h, &l->global_mode, sizeof(l->global_mode));
  h = util_fnv1a(h, l->route_mode, sizeof(l->route_mode));
  for (size_t i = 0; i < l->novr; i++) {
    h = util_fnv1a(h, l->ovr[i].page_key, strlen(l->ovr[i].page_key) + 1);
    h = util_fnv1a(h, l->ovr[i].resource_key, strlen(l->ovr[i].resource_key) + 1);
    h = util_fnv1a(h, &l->ovr[i].pin, sizeof(l->ovr[i].pin));
  }
  int changed = h != l->settings_hash;
  l->settings_hash = h;
  return changed;
}

static void ignore_page(void *ud, const char *page_key, int mobile) {
  (void)ud;
  (void)page_key;
  (void)mobile;
}

/* route_index finds the configured route a page key falls under, or -1. */
static int route_index(const struct learner *l, const char *key) {
  return route_match_key(l->cfg.routes, l->cfg.nroutes, key);
}

static const char *route_of(const struct learner *l, const char *key) {
  int i = route_index(l, key);
  return i < 0 ? NULL : l->cfg.routes[i].name;
}

/* mode_for is the operator's delivery mode for a page: its route's
 * setting, else the global one, else -1 (the config decides). */
static int mode_for(const struct learner *l, const char *page_key) {
  int i = route_index(l, page_key);
  if (i >= 0 && l->route_mode[i] >= 0)
    return l->route_mode[i];
  return l->global_mode;
}

static void params_for(const struct learner *l, const char *page_key,
                       struct learn_params *p) {
  *p = l->global;
  const char *route = route_of(l, page_key);
  if (route != NULL) {
    char scope[80];
    snprintf(scope, sizeof(scope), "route:%s", route);
    read_params((struct learner *)l, scope, p);
  }
}

/* ---- recompute --------------------------------------------------------- */

struct page_ctx {
  struct learner *l;
  struct ruleset_builder *b; /* snapshot being built, or NULL */
  int write;                 /* write rules and aggregates to the store */
  int64_t now_ms;
  size_t rules;
};

static size_t rules_of(struct learner *l, const char *page_key, int mobile,
                       struct learn_params *p, struct learn_rule *out) {
  const char *pinned[32], *blocked[32];
  struct learn_overrides ov = {pinned, 0, blocked, 0};
  for (size_t i = 0; i < l->novr; i++) {
    if (strcmp(l->ovr[i].page_key, page_key) != 0)
      continue;
    if (l->ovr[i].pin && ov.npinned < 32)
      pinned[ov.npinned++] = l->ovr[i].resource_key;
    else if (!l->ovr[i].pin && ov.nblocked < 32)
      blocked[ov.nblocked++] = l->ovr[i].resource_key;
  }
  params_for(l, page_key, p);
  return learn_rules(l->learn, page_key, mobile, p, &ov, out, RULES_PER_PAGE);
}

static void on_page(void *ud, const char *page_key, int mobile) {
  struct page_ctx *x = ud;
  struct learner *l = x->l;
  struct learn_rule rules[RULES_PER_PAGE];
  struct learn_params p;
  size_t n = rules_of(l, page_key, mobile, &p, rules);
  size_t served = 0;
  for (size_t i = 0; i < n; i++)
    served += rules[i].channels != 0;
  if (x->write && !l->failed) {
    int rv = store_replace_rules(l->st, page_key, mobile, rules, n,
                                 x->now_ms);
    for (size_t i = 0; rv == 0 && i < n; i++)
      rv = store_put_aggregate(l->st, page_key, mobile, &rules[i], 1,
                               x->now_ms);
    if (rv != 0)
      l->failed = rv;
  }
  /* A page with its own visits keeps its own (maybe empty) entry so it
   * does not fall back to its template's rules. */
  if (x->b != NULL &&
      (served > 0 ||
       learn_page_visits(l->learn, page_key, mobile) >= p.min_visits)) {
    ruleset_builder_add(x->b, page_key, mobile, rules, n,
                        mode_for(l, page_key));
    x->rules += served;
  }
}

static void publish(struct learner *l, struct ruleset *rs) {
  l->stats.pages = ruleset_pages(rs);
  l->stats.rules = ruleset_rules(rs);
  ruleset_unref(l->served);
  l->served = rs;
  ruleset_ref(rs);
  if (l->cfg.publish != NULL)
    l->cfg.publish(l->cfg.publish_ud, rs);
  else
    ruleset_unref(rs);
}

int learner_tick(struct learner *l, uint64_t now_ms, int force) {
  if (!force && l->new_visits < l->cfg.recompute_after &&
      now_ms - l->last_tick_ms < l->cfg.interval_ms)
    return 0;
  l->last_tick_ms = now_ms;
  uint64_t t0 = mono_us();
  int changed = load_settings(l);
  if (l->new_visits == 0 && !changed && !force)
    return 0;
  l->new_visits = 0;

  /* Rules of the pages whose counts moved go to the store (all of them
   * when a setting or override changed)... */
  struct page_ctx x = {l, NULL, 1, (int64_t)now_ms, 0};
  l->failed = 0;
  int rv = store_begin(l->st);
  if (rv == 0) {
    if (changed) {
      learn_take_dirty(l->learn, ignore_page, NULL);
      learn_foreach_page(l->learn, on_page, &x);
    } else {
      learn_take_dirty(l->learn, on_page, &x);
    }
    rv = l->failed ? l->failed : store_commit(l->st);
  }
  if (rv != 0) {
    store_rollback(l->st);
    /* The pages taken as dirty were not written: forget the settings
     * fingerprint so the next recompute writes every page. A lock is
     * reported once by the recorder; other errors here. */
    l->settings_hash = 0;
    if (rv != UV_EBUSY)
      LOG_WARN("learner: writing rules: %s", store_errmsg(l->st));
  }
  /* ...and every page's rules go into the new snapshot, since settings
   * and overrides may have changed any of them. */
  struct page_ctx y = {l, ruleset_builder_new(), 0, (int64_t)now_ms, 0};
  learn_foreach_page(l->learn, on_page, &y);
  publish(l, ruleset_build(y.b));
  l->stats.cycles++;
  l->stats.last_cycle_us = mono_us() - t0;
  return rv;
}

/* ---- start ------------------------------------------------------------- */

struct load_ctx {
  struct learner *l;
  struct ruleset_builder *b;
  char page[PAGEKEY_MAX];
  int mobile;
  struct learn_rule *rules;
  size_t n, cap;
  size_t unsafe; /* stored rules refused by the snapshot */
};

static void load_flush(struct load_ctx *x) {
  if (x->page[0] != '\0')
    x->unsafe += ruleset_builder_add(x->b, x->page, x->mobile, x->rules,
                                     x->n, mode_for(x->l, x->page));
  x->n = 0;
}

static void on_stored_rule(void *ud, const char *page_key, int mobile,
                           const struct learn_rule *r) {
  struct load_ctx *x = ud;
  if (strcmp(page_key, x->page) != 0 || mobile != x->mobile) {
    load_flush(x);
    snprintf(x->page, sizeof(x->page), "%s", page_key);
    x->mobile = mobile;
  }
  if (x->n == x->cap) {
    x->cap = x->cap ? x->cap * 2 : 32;
    x->rules = xrealloc(x->rules, x->cap * sizeof(*x->rules));
  }
  x->rules[x->n++] = *r;
}

static void on_replay(void *ud, const struct visit *v) {
  learn_visit(ud, v);
}

struct learner *learner_new(const struct learner_config *cfg,
                            struct store *st) {
  struct learner *l = xcalloc(1, sizeof(*l));
  l->cfg = *cfg;
  l->st = st;
  l->learn = learn_new(cfg->half_life);
  /* The stored rules serve until the first recompute, one interval (or
   * recompute_after visits) from now. */
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  l->last_tick_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;

  load_settings(l);
  struct load_ctx x = {.l = l, .b = ruleset_builder_new()};
  if (store_load_rules(st, on_stored_rule, &x) != 0)
    LOG_WARN("learner: loading stored rules: %s", store_errmsg(st));
  load_flush(&x);
  free(x.rules);
  if (x.unsafe > 0)
    LOG_WARN("learner: %zu stored rules not served: their resource is not "
             "a safe path on the page's own origin", x.unsafe);
  struct ruleset *rs = ruleset_build(x.b);
  LOG_INFO("learner: serving %zu stored rules for %zu pages",
           ruleset_rules(rs), ruleset_pages(rs));
  publish(l, rs);

  uint64_t t0 = mono_us();
  if (store_replay_visits(st, on_replay, l->learn) != 0)
    LOG_WARN("learner: replaying visits: %s", store_errmsg(st));
  LOG_INFO("learner: counts rebuilt from retained visits in %llu ms",
           (unsigned long long)((mono_us() - t0) / 1000));
  return l;
}

void learner_visit(struct learner *l, const struct visit *v) {
  learn_visit(l->learn, v);
  l->new_visits++;
}

void learner_outcome(struct learner *l, const struct visit *v,
                     const char *resource, int used) {
  learn_outcome(l->learn, v->page_key, v->mobile, resource, used);
  if (strcmp(v->template_key, v->page_key) != 0)
    learn_outcome(l->learn, v->template_key, v->mobile, resource, used);
}

const struct ruleset_page *learner_served(const struct learner *l,
                                          const struct visit *v) {
  const struct ruleset_page *p =
      ruleset_lookup(l->served, v->page_key, v->mobile);
  if (p == NULL && strcmp(v->template_key, v->page_key) != 0)
    p = ruleset_lookup(l->served, v->template_key, v->mobile);
  return p;
}

void learner_set_config(struct learner *l, const struct learner_config *cfg) {
  l->cfg.params = cfg->params;
  l->cfg.interval_ms = cfg->interval_ms;
  l->cfg.recompute_after = cfg->recompute_after;
  memcpy(l->cfg.routes, cfg->routes, sizeof(l->cfg.routes));
  l->cfg.nroutes = cfg->nroutes;
  /* A changed fingerprint makes the next tick recompute every page. */
  l->settings_hash = 0;
  l->last_tick_ms = 0;
}

void learner_stats(const struct learner *l, struct learner_stats *out) {
  *out = l->stats;
}

void learner_free(struct learner *l) {
  if (l == NULL)
    return;
  clear_overrides(l);
  free(l->ovr);
  ruleset_unref(l->served);
  learn_free(l->learn);
  free(l);
}
