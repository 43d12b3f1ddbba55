/* learner.c: see learner.h.
 *
 * Every cycle computes the list of every key, widest level first, and
 * remembers a hash of each key's served list: a key whose list hashes
 * like its parent's is left out of the snapshot (the proxy falls back to
 * the parent and gets the same), and a key is written to the rules table
 * when its counts moved or its list changed. */
#include "learner/learner.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "config/route.h"
#include "learner/attribution.h"
#include "learner/audit.h"
#include "learner/learn.h"
#include "learner/ruleset.h"
#include "store/store.h"

#define RULES_PER_PAGE 64
#define OVERRIDES_PER_KEY 64

struct override {
  char *scope, *resource_key;
  int pin;
};

/* What the last cycle did with one node (learn's node id). */
struct node_state {
  uint64_t served;  /* hash of its served list */
  uint64_t written; /* hash of the list last written to the store */
  uint8_t dirty;    /* its counts moved since the last cycle */
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
  struct learn_params route_params[CONFIG_MAX_ROUTES];
  struct override *ovr;
  size_t novr, ovr_cap;
  uint64_t settings_hash; /* of everything load_settings read */
  struct audit *audit;    /* logs what an operator changed */
  int failed;

  struct node_state *nodes;
  size_t nnodes;

  /* The last snapshots published, newest at |ring[0]|, with a reference
   * each: what the proxy's 103s named is resolved against them. */
  struct ruleset *ring[LEARNER_SNAPSHOTS];
  uint64_t gen;
};

static uint64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- settings ---------------------------------------------------------- */

static int read_param(struct store *st, const char *scope, const char *name,
                      double *out) {
  char v[64];
  if (store_get_setting(st, scope, name, v, sizeof(v)) != 0)
    return 0;
  char *end;
  double d = strtod(v, &end);
  if (end != v && *end == '\0' && d == d && d >= 0) {
    *out = d;
    return 1;
  }
  return 0;
}

void learner_read_params(struct store *st, const char *scope,
                         struct learn_params *p) {
  double d;
  d = p->push_threshold, read_param(st, scope, "push_threshold", &d);
  p->push_threshold = d;
  d = p->hint_threshold, read_param(st, scope, "hint_threshold", &d);
  p->hint_threshold = d;
  d = p->z, read_param(st, scope, "z", &d);
  p->z = d;
  d = p->min_visits, read_param(st, scope, "min_visits", &d);
  p->min_visits = d;
  d = p->min_clients, read_param(st, scope, "min_clients", &d);
  p->min_clients = (int)d;
  d = (double)p->hint_budget, read_param(st, scope, "hint_budget", &d);
  p->hint_budget = (uint64_t)d;
  d = (double)p->push_budget, read_param(st, scope, "push_budget", &d);
  p->push_budget = (uint64_t)d;
  d = p->hint_max, read_param(st, scope, "hint_max_resources", &d);
  p->hint_max = (int)d;
  d = p->push_max, read_param(st, scope, "push_max_resources", &d);
  p->push_max = (int)d;
  d = p->declared_prior, read_param(st, scope, "declared_prior", &d);
  p->declared_prior = d;
}

void learner_params_from_config(const struct config *cfg,
                                struct learn_params *p) {
  learn_params_defaults(p);
  p->push_threshold = cfg->learn_push_threshold;
  p->hint_threshold = cfg->learn_hint_threshold;
  p->z = cfg->learn_z;
  p->min_visits = cfg->learn_min_visits;
  p->min_clients = cfg->learn_min_clients;
  p->declared_prior = cfg->learn_declared_prior;
  long long hint_bytes, push_bytes;
  config_budgets(cfg, &hint_bytes, &p->hint_max, &push_bytes, &p->push_max);
  p->hint_budget = (uint64_t)hint_bytes;
  p->push_budget = (uint64_t)push_bytes;
}

/* read_mode returns the delivery mode set for |scope|, or -1. */
static int read_mode(struct learner *l, const char *scope) {
  char v[32];
  if (store_get_setting(l->st, scope, "mode", v, sizeof(v)) != 0)
    return -1;
  return config_deliver_parse(v);
}

static void on_override(void *ud, const char *scope, const char *resource_key,
                        const char *action) {
  struct learner *l = ud;
  if (l->novr == l->ovr_cap) {
    l->ovr_cap = l->ovr_cap ? l->ovr_cap * 2 : 16;
    l->ovr = xrealloc(l->ovr, l->ovr_cap * sizeof(*l->ovr));
  }
  struct override *o = &l->ovr[l->novr++];
  o->scope = xstrdup(scope);
  o->resource_key = xstrdup(resource_key);
  o->pin = strcmp(action, "pin") == 0;
}

static void clear_overrides(struct learner *l) {
  for (size_t i = 0; i < l->novr; i++) {
    free(l->ovr[i].scope);
    free(l->ovr[i].resource_key);
  }
  l->novr = 0;
}

/* The parameters in force before a reading, for the audit's old values. */
struct before {
  struct learner *l;
  struct learn_params global, route[CONFIG_MAX_ROUTES];
  int global_mode, route_mode[CONFIG_MAX_ROUTES];
};

static int param_of(const struct learn_params *p, const char *name,
                    double *out) {
  static const struct {
    const char *name;
    size_t off;
    char type; /* d double, i int, u uint64_t */
  } f[] = {
      {"push_threshold", offsetof(struct learn_params, push_threshold), 'd'},
      {"hint_threshold", offsetof(struct learn_params, hint_threshold), 'd'},
      {"z", offsetof(struct learn_params, z), 'd'},
      {"min_visits", offsetof(struct learn_params, min_visits), 'd'},
      {"min_clients", offsetof(struct learn_params, min_clients), 'i'},
      {"hint_budget", offsetof(struct learn_params, hint_budget), 'u'},
      {"hint_max_resources", offsetof(struct learn_params, hint_max), 'i'},
      {"push_budget", offsetof(struct learn_params, push_budget), 'u'},
      {"push_max_resources", offsetof(struct learn_params, push_max), 'i'},
      {"declared_prior", offsetof(struct learn_params, declared_prior), 'd'},
  };
  for (size_t i = 0; i < ARRAY_SIZE(f); i++) {
    if (strcmp(f[i].name, name) != 0)
      continue;
    const char *at = (const char *)p + f[i].off;
    *out = f[i].type == 'd'   ? *(const double *)at
           : f[i].type == 'i' ? *(const int *)at
                              : (double)*(const uint64_t *)at;
    return 0;
  }
  return -1;
}

/* audit_value: the value in force for |scope| without its row, before or
 * after a reading. */
static void audit_value(void *ud, const char *scope, const char *name,
                        int after, char *out, size_t cap) {
  struct before *b = ud;
  struct learner *l = b->l;
  const struct learn_params *p = after ? &l->global : &b->global;
  /* As the proxy picks a mode (proxy/hints.c): the live route's, the
   * live global one, the route's deliver, [deliver] mode. */
  int mode = after ? l->global_mode : b->global_mode, cfg_mode = -1;
  for (int i = 0; i < l->cfg.nroutes; i++) {
    if (strncmp(scope, "route:", 6) != 0 ||
        strcmp(scope + 6, l->cfg.routes[i].name) != 0)
      continue;
    p = after ? &l->route_params[i] : &b->route[i];
    int rm = after ? l->route_mode[i] : b->route_mode[i];
    if (rm >= 0)
      mode = rm;
    cfg_mode = l->cfg.routes[i].deliver;
  }
  if (mode < 0)
    mode = cfg_mode >= 0 ? cfg_mode : l->cfg.deliver_mode;
  double v;
  if (strcmp(name, "mode") == 0)
    snprintf(out, cap, "%s", config_deliver_name(mode));
  else if (param_of(p, name, &v) == 0)
    snprintf(out, cap, "%.15g", v);
  else
    snprintf(out, cap, "config");
}

static void on_audit_setting(void *ud, const char *scope, const char *name,
                             const char *value) {
  audit_setting(ud, scope, name, value);
}

/* audit_reading logs what the operator changed since the last reading. */
static void audit_reading(struct learner *l, struct before *b) {
  if (store_list_settings(l->st, on_audit_setting, l->audit) != 0) {
    audit_discard(l->audit);
    return;
  }
  for (size_t i = 0; i < l->novr; i++)
    audit_override(l->audit, l->ovr[i].scope, l->ovr[i].resource_key,
                   l->ovr[i].pin ? "pin" : "block");
  audit_commit(l->audit, audit_value, b);
}

/* load_settings reads the operator's settings and overrides and returns
 * whether anything differs from the last read. */
static int load_settings(struct learner *l) {
  struct before b = {
      .l = l, .global = l->global, .global_mode = l->global_mode};
  memcpy(b.route, l->route_params, sizeof(b.route));
  memcpy(b.route_mode, l->route_mode, sizeof(b.route_mode));
  l->global = l->cfg.params;
  learner_read_params(l->st, "global", &l->global);
  l->global_mode = read_mode(l, "global");
  clear_overrides(l);
  store_load_overrides(l->st, on_override, l);
  uint64_t h = util_fnv1a(UTIL_FNV1A_INIT, &l->global, sizeof(l->global));
  for (int i = 0; i < l->cfg.nroutes; i++) {
    struct learn_params p = l->global;
    char scope[80];
    snprintf(scope, sizeof(scope), "route:%s", l->cfg.routes[i].name);
    learner_read_params(l->st, scope, &p);
    l->route_params[i] = p;
    h = util_fnv1a(h, &p, sizeof(p));
    l->route_mode[i] = read_mode(l, scope);
  }
  h = util_fnv1a(h, &l->global_mode, sizeof(l->global_mode));
  h = util_fnv1a(h, l->route_mode, sizeof(l->route_mode));
  for (size_t i = 0; i < l->novr; i++) {
    h = util_fnv1a(h, l->ovr[i].scope, strlen(l->ovr[i].scope) + 1);
    h = util_fnv1a(h, l->ovr[i].resource_key,
                   strlen(l->ovr[i].resource_key) + 1);
    h = util_fnv1a(h, &l->ovr[i].pin, sizeof(l->ovr[i].pin));
  }
  audit_reading(l, &b);
  int changed = h != l->settings_hash;
  l->settings_hash = h;
  return changed;
}

/* route_index finds the configured route a key falls under, or -1. */
static int route_index(const struct learner *l, const char *key) {
  return route_match_key(l->cfg.routes, l->cfg.nroutes, key);
}

static const struct learn_params *params_for(const struct learner *l,
                                             const char *key) {
  int i = route_index(l, key);
  return i >= 0 ? &l->route_params[i] : &l->global;
}

/* covers: override |o| applies to |key|. */
static int covers(const struct learner *l, const struct override *o,
                  const char *key) {
  if (strncmp(o->scope, "route:", 6) == 0) {
    int i = route_index(l, key);
    return i >= 0 && strcmp(l->cfg.routes[i].name, o->scope + 6) == 0;
  }
  return pagekey_scope_matches(o->scope, key);
}

/* ---- recompute --------------------------------------------------------- */

static size_t rules_of(struct learner *l, const char *key, int mobile,
                       struct learn_rule *out) {
  const char *pinned[OVERRIDES_PER_KEY], *blocked[OVERRIDES_PER_KEY];
  struct learn_overrides ov = {pinned, 0, blocked, 0};
  for (size_t i = 0; i < l->novr; i++) {
    if (!covers(l, &l->ovr[i], key))
      continue;
    if (l->ovr[i].pin && ov.npinned < OVERRIDES_PER_KEY)
      pinned[ov.npinned++] = l->ovr[i].resource_key;
    else if (!l->ovr[i].pin && ov.nblocked < OVERRIDES_PER_KEY)
      blocked[ov.nblocked++] = l->ovr[i].resource_key;
  }
  return learn_rules(l->learn, key, mobile, params_for(l, key), &ov, out,
                     RULES_PER_PAGE);
}

/* served_hash identifies a served list: its keys, channels and order. */
static uint64_t served_hash(const struct learn_rule *r, size_t n) {
  uint64_t h = UTIL_FNV1A_INIT;
  for (size_t i = 0; i < n; i++) {
    if (r[i].channels == 0)
      continue;
    h = util_fnv1a(h, r[i].key, strlen(r[i].key) + 1);
    h = util_fnv1a(h, &r[i].channels, sizeof(r[i].channels));
  }
  return h;
}

static void grow_nodes(struct learner *l) {
  size_t need = learn_nodes(l->learn);
  if (need <= l->nnodes)
    return;
  l->nodes = xrealloc(l->nodes, need * sizeof(*l->nodes));
  memset(l->nodes + l->nnodes, 0, (need - l->nnodes) * sizeof(*l->nodes));
  l->nnodes = need;
}

static void on_dirty(void *ud, uint32_t id, const char *key, int mobile,
                     int level, int64_t parent) {
  (void)key, (void)mobile, (void)level, (void)parent;
  struct learner *l = ud;
  l->nodes[id].dirty = 1;
}

struct cycle {
  struct learner *l;
  struct ruleset_builder *b;
  int64_t now_ms;
  int write_all;
  size_t rules;
  struct learn_rule rules_buf[RULES_PER_PAGE];
};

static void on_node(void *ud, uint32_t id, const char *key, int mobile,
                    int level, int64_t parent) {
  (void)level;
  struct cycle *x = ud;
  struct learner *l = x->l;
  struct learn_rule *rules = x->rules_buf;
  size_t n = rules_of(l, key, mobile, rules);
  size_t served = 0;
  for (size_t i = 0; i < n; i++)
    served += rules[i].channels != 0;
  struct node_state *s = &l->nodes[id];
  uint64_t h = served_hash(rules, n);
  s->served = h;
  if ((s->dirty || h != s->written || x->write_all) && !l->failed) {
    int rv = store_replace_rules(l->st, key, mobile, rules, n, x->now_ms);
    for (size_t i = 0; rv == 0 && i < n; i++)
      rv = store_put_aggregate(l->st, key, mobile, &rules[i],
                               rules[i].pushable, x->now_ms);
    if (rv != 0)
      l->failed = rv;
    s->written = h;
  }
  s->dirty = 0;
  /* A key whose list is its parent's is served from the parent. */
  int same = parent >= 0 ? l->nodes[parent].served == h : served == 0;
  if (!same) {
    ruleset_builder_add(x->b, key, mobile, rules, n);
    x->rules += served;
  }
}

static void publish(struct learner *l, struct ruleset *rs) {
  l->stats.pages = ruleset_pages(rs);
  l->stats.rules = ruleset_rules(rs);
  ruleset_unref(l->ring[LEARNER_SNAPSHOTS - 1]);
  memmove(l->ring + 1, l->ring,
          (LEARNER_SNAPSHOTS - 1) * sizeof(l->ring[0]));
  l->ring[0] = rs;
  ruleset_ref(rs);
  if (l->cfg.publish != NULL)
    l->cfg.publish(l->cfg.publish_ud, rs);
  else
    ruleset_unref(rs);
}

/* new_builder starts a snapshot with the next generation number and the
 * operator's live modes. */
static struct ruleset_builder *new_builder(struct learner *l) {
  struct ruleset_builder *b = ruleset_builder_new();
  ruleset_builder_set_gen(b, ++l->gen);
  ruleset_builder_set_mode(b, NULL, l->global_mode);
  for (int i = 0; i < l->cfg.nroutes; i++)
    ruleset_builder_set_mode(b, l->cfg.routes[i].name, l->route_mode[i]);
  return b;
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

  grow_nodes(l);
  learn_take_dirty(l->learn, on_dirty, l);
  struct cycle *x = xcalloc(1, sizeof(*x));
  x->l = l;
  x->b = new_builder(l);
  x->now_ms = (int64_t)now_ms;
  x->write_all = changed;
  l->failed = 0;
  int rv = store_begin(l->st);
  if (rv != 0)
    l->failed = rv;
  learn_foreach_page(l->learn, on_node, x);
  if (rv == 0)
    rv = l->failed ? l->failed : store_commit(l->st);
  if (rv != 0) {
    store_rollback(l->st);
    /* Nothing was written: make the next cycle write every key. A lock
     * is reported once by the recorder; other errors here. */
    for (size_t i = 0; i < l->nnodes; i++)
      l->nodes[i].written = 0;
    if (rv != UV_EBUSY)
      LOG_WARN("learner: writing rules: %s", store_errmsg(l->st));
  }
  publish(l, ruleset_build(x->b));
  free(x);
  l->stats.cycles++;
  l->stats.last_cycle_us = mono_us() - t0;
  return rv;
}

/* ---- start ------------------------------------------------------------- */

struct load_ctx {
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
                                     x->n);
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
  l->learn = learn_new(cfg->half_life, cfg->section_depth);
  l->audit = audit_new();
  /* The stored rules serve until the first recompute, one interval (or
   * recompute_after visits) from now. */
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  l->last_tick_ms =
      (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;

  load_settings(l);
  struct load_ctx x = {.b = new_builder(l)};
  if (store_load_rules(st, on_stored_rule, &x) != 0)
    LOG_WARN("learner: loading stored rules: %s", store_errmsg(st));
  load_flush(&x);
  free(x.rules);
  if (x.unsafe > 0)
    LOG_WARN("learner: %zu stored rule%s not served: their resource is not "
             "a safe path on the page's own origin",
             x.unsafe, x.unsafe == 1 ? "" : "s");
  struct ruleset *rs = ruleset_build(x.b);
  LOG_INFO("learner: serving %zu stored rule%s for %zu page%s",
           ruleset_rules(rs), ruleset_rules(rs) == 1 ? "" : "s",
           ruleset_pages(rs), ruleset_pages(rs) == 1 ? "" : "s");
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
}

/* lookup finds what |rs| serves |v|'s page, the way the proxy does. */
static const struct ruleset_page *lookup(const struct learner *l,
                                         const struct ruleset *rs,
                                         const struct visit *v) {
  char sec[PAGEKEY_MAX], site[PAGEKEY_MAX];
  const char *base = v->template_key[0] != '\0' ? v->template_key
                                                : v->page_key;
  const struct ruleset_page *p = ruleset_lookup(rs, v->page_key, v->mobile);
  if (p == NULL && strcmp(base, v->page_key) != 0)
    p = ruleset_lookup(rs, base, v->mobile);
  if (p == NULL &&
      pagekey_section(base, l->cfg.section_depth, sec, sizeof(sec)) >= 0)
    p = ruleset_lookup(rs, sec, v->mobile);
  if (p == NULL && pagekey_site(base, site, sizeof(site)) >= 0)
    p = ruleset_lookup(rs, site, v->mobile);
  return p;
}

const struct ruleset_page *learner_page_rules(const struct learner *l,
                                              const struct visit *v) {
  return lookup(l, l->ring[0], v);
}

static void add_named(struct visit *v, size_t *cap, const char *key,
                      uint8_t channel) {
  for (size_t i = 0; i < v->nnamed; i++)
    if (strcmp(v->named[i].key, key) == 0)
      return;
  if (v->nnamed == *cap) {
    *cap = *cap ? *cap * 2 : 16;
    v->named = xrealloc(v->named, *cap * sizeof(*v->named));
  }
  struct visit_named *n = &v->named[v->nnamed++];
  snprintf(n->key, sizeof(n->key), "%s", key);
  n->channel = channel;
}

/* hint_named: what proxy/hints.c names in a 103 (a valid as=). */
static int hint_named(const struct ruleset_entry *e) {
  return (e->channels & LEARN_HINT) && e->dest != OBS_DEST_NONE &&
         e->dest != OBS_DEST_DOCUMENT && e->dest != OBS_DEST_OTHER;
}

void learner_named(const struct learner *l, struct visit *v) {
  size_t cap = 0;
  v->named = NULL;
  v->nnamed = 0;
  for (size_t i = 0; i < v->npushes; i++)
    add_named(v, &cap, v->pushes[i].key, VISIT_NAMED_PUSH);
  /* The backend's declarations herald's 103 carried (it forwarded the
   * backend's 103): the client fetched them because of that 103. */
  for (size_t i = 0; i < v->ndeclared; i++)
    if (v->declared[i].flags & VISIT_DECL_NAMED)
      add_named(v, &cap, v->declared[i].key, VISIT_NAMED_HINT);
  /* A pushed visit may have had a 103 too: what its client's limits kept
   * out of the pushes (proxy/push.h), named exactly by its mask. */
  int cut_103 = v->delivery == VISIT_PUSH && v->named_mask != 0;
  if (v->delivery != VISIT_HINTS && !cut_103)
    return;
  const struct ruleset *rs = NULL;
  for (int i = 0; i < LEARNER_SNAPSHOTS && rs == NULL; i++)
    if (l->ring[i] != NULL && ruleset_gen(l->ring[i]) == v->rules_gen)
      rs = l->ring[i];
  if (rs == NULL && cut_103)
    return; /* the snapshot is gone: never guess for a pushed visit */
  const struct ruleset_page *p = rs != NULL ? ruleset_at(rs, v->rules_slot)
                                            : learner_page_rules(l, v);
  for (size_t i = 0; p != NULL && i < p->n; i++) {
    int named = rs != NULL ? i < 64 && (v->named_mask >> i & 1)
                           : hint_named(&p->entries[i]);
    if (named)
      add_named(v, &cap, p->entries[i].key, VISIT_NAMED_HINT);
  }
}

void learner_set_config(struct learner *l, const struct learner_config *cfg) {
  l->cfg.params = cfg->params;
  l->cfg.interval_ms = cfg->interval_ms;
  l->cfg.recompute_after = cfg->recompute_after;
  l->cfg.deliver_mode = cfg->deliver_mode;
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
  audit_free(l->audit);
  for (int i = 0; i < LEARNER_SNAPSHOTS; i++)
    ruleset_unref(l->ring[i]);
  free(l->nodes);
  learn_free(l->learn);
  free(l);
}
