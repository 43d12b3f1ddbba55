/* ctl_simulate.c: `heraldctl simulate`: what a threshold would have done
 * with the traffic herald retained, so an operator picks one from
 * evidence, overall and per level (page, template, section, site: the
 * level that decided each served resource).
 *
 * Method: a chronological replay. The retained visits are taken oldest
 * first; each visit is first scored against the rules that learn.c (the
 * learner herald runs) computes from the visits before it, then folded
 * in. No visit is ever scored by rules that saw it, so the numbers are
 * honest, and the first visits of a page score nothing, as on a fresh
 * herald. For each threshold both push_threshold and hint_threshold are
 * set to it (the resources served either way); the other parameters are
 * those in force globally (defaults, -c CONFIG, global settings; route
 * settings are not applied), min_visits can be set with --min-visits,
 * and the operator's overrides apply. The rules serving a visit are those
 * of the most specific key learn.c knows for it (learn_serving_key), as
 * the proxy picks them, with the hint budget and count cap.
 *
 * Only visits the learner counts are scored (page loads, not HTML-only
 * clients), and a resource herald named to the visit when it was
 * recorded is left out of its score: the browser fetched it because herald
 * said so, which says nothing about the page. Scored per visit: the
 * served resources' bytes (as learned) are "pushed"; those the visit then
 * requested (a 304 to a conditional request is not a use: the client had
 * it) are "used"; the bytes of what the visit requested (304s excluded)
 * are "needed", and of those, the ones served are "needed and pushed".
 * Precision = used / pushed, recall = needed and pushed / needed, both
 * over all scored visits; per level, the same over the resources that
 * level decided (its recall is its share of what was needed). A higher
 * threshold serves a subset of the resources, except that a resource
 * that no longer fits a budget may let a later, smaller one in. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "learner/attribution.h"
#include "learner/learn.h"
#include "store/store.h"
#include "tools/ctl.h"

#define RULES_CAP 256
#define MAX_THRESHOLDS 101

/* A set of 64-bit key hashes (pages covered), open addressing. */
struct hset {
  uint64_t *v;
  size_t n, mask;
};

static uint64_t hash_key(const char *s) {
  uint64_t h = util_fnv1a(UTIL_FNV1A_INIT, s, strlen(s));
  return h != 0 ? h : 1;
}

static void hset_add(struct hset *s, uint64_t h) {
  if (s->v == NULL || (s->n + 1) * 4 > (s->mask + 1) * 3) {
    size_t size = s->v != NULL ? (s->mask + 1) * 2 : 64;
    uint64_t *v = xcalloc(size, sizeof(*v));
    for (size_t i = 0; s->v != NULL && i <= s->mask; i++) {
      if (s->v[i] == 0)
        continue;
      size_t j = s->v[i] & (size - 1);
      while (v[j] != 0)
        j = (j + 1) & (size - 1);
      v[j] = s->v[i];
    }
    free(s->v);
    s->v = v;
    s->mask = size - 1;
  }
  size_t j = h & s->mask;
  while (s->v[j] != 0) {
    if (s->v[j] == h)
      return;
    j = (j + 1) & s->mask;
  }
  s->v[j] = h;
  s->n++;
}

struct score {
  double threshold;
  struct learn_params p;
  uint64_t pushed, used, needed, needed_pushed, visits_covered;
  uint64_t lpushed[LEARN_LEVELS], lused[LEARN_LEVELS];
  uint64_t lneeded_pushed[LEARN_LEVELS];
  struct hset pages;
};

struct sim {
  const struct ctl *c;
  struct learn *l;
  struct learn_params base;
  struct ctl_overrides ov;
  struct score *sc;
  size_t nsc;
  struct learn_rule *rules;
  uint64_t visits, scored;
  struct hset pages;
};

/* named: herald named |key| to the visit when it was recorded. */
static int named(const struct visit *v, const char *key) {
  for (size_t i = 0; i < v->nnamed; i++)
    if (strcmp(v->named[i].key, key) == 0)
      return 1;
  return 0;
}

/* requested returns the request of |v| for |key| that counts as a use,
 * or NULL. */
static const struct visit_req *requested(const struct visit *v,
                                         const char *key) {
  for (size_t i = 0; i < v->nreqs; i++)
    if (!(v->reqs[i].flags & VISIT_REQ_ALREADY_HAD) &&
        strcmp(v->reqs[i].key, key) == 0)
      return &v->reqs[i];
  return NULL;
}

static void on_visit(void *ud, const struct visit *v) {
  struct sim *s = ud;
  s->visits++;
  hset_add(&s->pages, hash_key(v->page_key));
  if (!learn_visit_counts(v)) {
    learn_visit(s->l, v);
    return;
  }
  s->scored++;
  uint64_t needed = 0;
  for (size_t i = 0; i < v->nreqs; i++) {
    const struct visit_req *q = &v->reqs[i];
    if ((q->flags & (VISIT_REQ_ALREADY_HAD | VISIT_REQ_DELIVERED)) ||
        named(v, q->key))
      continue;
    /* A resource listed twice is needed once. */
    if (requested(v, q->key) == q)
      needed += q->bytes;
  }
  char key[PAGEKEY_MAX];
  if (learn_serving_key(s->l, v->page_key, v->template_key, v->mobile, key,
                        sizeof(key)) != 0) {
    /* Nothing learned for its site yet: all it needed went unserved. */
    for (size_t t = 0; t < s->nsc; t++)
      s->sc[t].needed += needed;
    learn_visit(s->l, v);
    return;
  }
  struct learn_overrides lo;
  ctl_overrides_for(s->c, &s->ov, key, &lo);
  for (size_t t = 0; t < s->nsc; t++) {
    struct score *sc = &s->sc[t];
    sc->needed += needed;
    size_t n = learn_rules(s->l, key, v->mobile, &sc->p, &lo, s->rules,
                           RULES_CAP);
    int any = 0;
    for (size_t i = 0; i < n && s->rules[i].channels != 0; i++) {
      const struct learn_rule *r = &s->rules[i];
      if (!(r->channels & LEARN_HINT) || named(v, r->key))
        continue;
      int lv = r->level < LEARN_LEVELS ? r->level : LEARN_PAGE;
      any = 1;
      sc->pushed += r->bytes;
      sc->lpushed[lv] += r->bytes;
      const struct visit_req *q = requested(v, r->key);
      if (q != NULL) {
        sc->used += r->bytes;
        sc->needed_pushed += q->bytes;
        sc->lused[lv] += r->bytes;
        sc->lneeded_pushed[lv] += q->bytes;
      }
    }
    if (any) {
      sc->visits_covered++;
      hset_add(&sc->pages, hash_key(v->page_key));
    }
  }
  learn_visit(s->l, v);
}

/* parse_range reads "A" or "A..B" into |*lo| and |*hi|. */
static int parse_range(const char *s, double *lo, double *hi) {
  const char *dots = strstr(s, "..");
  char a[64];
  if (dots == NULL)
    return ctl_parse_num(s, lo) != 0 ? -1 : (*hi = *lo, 0);
  if ((size_t)(dots - s) >= sizeof a)
    return -1;
  memcpy(a, s, (size_t)(dots - s));
  a[dots - s] = '\0';
  if (ctl_parse_num(a, lo) != 0 || ctl_parse_num(dots + 2, hi) != 0)
    return -1;
  return 0;
}

static double ratio(uint64_t a, uint64_t b) {
  return b == 0 ? -1 : (double)a / (double)b;
}

static void fmt_ratio(char *out, size_t cap, double r) {
  if (r < 0)
    snprintf(out, cap, "-");
  else
    snprintf(out, cap, "%.3f", r);
}

static void json_ratio(double r) {
  if (r < 0)
    fputs("null", stdout);
  else
    printf("%.4f", r);
}

int ctl_simulate(const struct ctl *c) {
  double lo = 0.5, hi = 0.95, step = 0.05, mv = -1, half_life;
  if (c->threshold != NULL &&
      (parse_range(c->threshold, &lo, &hi) != 0 || lo < 0 || hi > 1 ||
       lo > hi)) {
    fprintf(stderr, "heraldctl: --threshold '%s': want A or A..B with"
                    " 0 <= A <= B <= 1\n",
            c->threshold);
    return CTL_ERROR;
  }
  if (c->step != NULL &&
      (ctl_parse_num(c->step, &step) != 0 || step <= 0 || step > 1)) {
    fprintf(stderr, "heraldctl: --step '%s': want a number above 0, at most"
                    " 1\n",
            c->step);
    return CTL_ERROR;
  }
  if (c->min_visits != NULL &&
      (ctl_parse_num(c->min_visits, &mv) != 0 || mv < 0)) {
    fprintf(stderr, "heraldctl: --min-visits '%s': want a number >= 0\n",
            c->min_visits);
    return CTL_ERROR;
  }
  size_t nsc = (size_t)((hi - lo) / step + 1e-9) + 1;
  if (nsc > MAX_THRESHOLDS) {
    fprintf(stderr, "heraldctl: %zu thresholds to simulate; at most %d (a"
                    " larger --step)\n",
            nsc, MAX_THRESHOLDS);
    return CTL_ERROR;
  }
  struct sim s = {.c = c};
  int st = ctl_params(c, NULL, &s.base, &half_life);
  if (st != CTL_OK)
    return st;
  if (mv >= 0)
    s.base.min_visits = mv;
  st = ctl_overrides_load(c, &s.ov);
  if (st != CTL_OK) {
    ctl_overrides_free(&s.ov);
    return st;
  }
  s.l = learn_new(half_life, ctl_section_depth(c));
  s.nsc = nsc;
  s.sc = xcalloc(nsc, sizeof(*s.sc));
  s.rules = xcalloc(RULES_CAP, sizeof(*s.rules));
  for (size_t t = 0; t < nsc; t++) {
    s.sc[t].threshold = lo + (double)t * step;
    if (s.sc[t].threshold > hi)
      s.sc[t].threshold = hi;
    s.sc[t].p = s.base;
    s.sc[t].p.push_threshold = s.sc[t].p.hint_threshold = s.sc[t].threshold;
  }
  if (store_replay_visits(c->s, on_visit, &s) != 0) {
    fprintf(stderr, "heraldctl: %s\n", store_errmsg(c->s));
    st = CTL_ERROR;
  }
  if (st == CTL_OK && c->json) {
    printf("{\"method\": \"chronological\", \"visits\": %" PRIu64
           ", \"scored\": %" PRIu64 ", \"pages\": %zu, \"params\": {\"z\": %g,"
           " \"min_visits\": %g, \"min_clients\": %d, \"hint_budget\": %"
           PRIu64 ", \"hint_max_resources\": %d, \"half_life\": %g},\n"
           " \"thresholds\": [",
           s.visits, s.scored, s.pages.n, s.base.z, s.base.min_visits,
           s.base.min_clients, s.base.hint_budget, s.base.hint_max,
           half_life);
    for (size_t t = 0; t < nsc; t++) {
      const struct score *sc = &s.sc[t];
      printf("%s\n  {\"threshold\": %.4f, \"precision\": ", t ? "," : "",
             sc->threshold);
      json_ratio(ratio(sc->used, sc->pushed));
      fputs(", \"recall\": ", stdout);
      json_ratio(ratio(sc->needed_pushed, sc->needed));
      printf(", \"bytes_per_visit\": %.1f, \"pushed_bytes\": %" PRIu64
             ", \"used_bytes\": %" PRIu64 ", \"needed_bytes\": %" PRIu64
             ", \"pages_covered\": %zu, \"visits_covered\": %" PRIu64,
             s.scored ? (double)sc->pushed / (double)s.scored : 0.0,
             sc->pushed, sc->used, sc->needed, sc->pages.n,
             sc->visits_covered);
      fputs(", \"levels\": {", stdout);
      for (int lv = 0; lv < LEARN_LEVELS; lv++) {
        printf("%s\"%s\": {\"precision\": ", lv ? ", " : "",
               learn_level_name((uint8_t)lv));
        json_ratio(ratio(sc->lused[lv], sc->lpushed[lv]));
        fputs(", \"recall\": ", stdout);
        json_ratio(ratio(sc->lneeded_pushed[lv], sc->needed));
        printf(", \"pushed_bytes\": %" PRIu64 "}", sc->lpushed[lv]);
      }
      fputs("}}", stdout);
    }
    fputs(nsc ? "\n]}\n" : "]}\n", stdout);
  } else if (st == CTL_OK) {
    ctl_printf(2,
               "replayed %" PRIu64 " %s of %zu %s in order (%" PRIu64
               " page loads scored); each visit is scored against rules learned"
               " from the visits before it\n"
               "push and hint threshold = THRESHOLD; z %g, min_visits %g,"
               " min_clients %d, hint_budget %" PRIu64
               ", hint_max_resources %d\n\n",
               s.visits, ctl_plural(s.visits, "visit", "visits"), s.pages.n,
               ctl_plural(s.pages.n, "page", "pages"), s.scored, s.base.z,
               s.base.min_visits, s.base.min_clients, s.base.hint_budget,
               s.base.hint_max);
    static const char *const head[] = {"THRESHOLD", "PRECISION", "RECALL",
                                       "BYTES/VISIT", "PAGES", "VISITS"};
    struct ctl_table tb = {6, head, "rrrrrr", NULL, 0, 0, NULL};
    for (size_t t = 0; t < nsc; t++) {
      const struct score *sc = &s.sc[t];
      char th[16], pr[16], rc[16], bpv[32], pages[48], vis[48];
      snprintf(th, sizeof th, "%.3f", sc->threshold);
      fmt_ratio(pr, sizeof pr, ratio(sc->used, sc->pushed));
      fmt_ratio(rc, sizeof rc, ratio(sc->needed_pushed, sc->needed));
      snprintf(bpv, sizeof bpv, "%.0f",
               s.scored ? (double)sc->pushed / (double)s.scored : 0.0);
      snprintf(pages, sizeof pages, "%zu/%zu", sc->pages.n, s.pages.n);
      snprintf(vis, sizeof vis, "%" PRIu64 "/%" PRIu64, sc->visits_covered,
               s.visits);
      const char *row[] = {th, pr, rc, bpv, pages, vis};
      ctl_table_add(&tb, row);
    }
    ctl_table_print(&tb);
    /* Per level: precision of what that level decided, and its share of
     * what the visits needed. */
    printf("\nby the level that decided (precision/recall share):\n");
    static const char *const lhead[] = {"THRESHOLD", "PAGE", "TEMPLATE",
                                        "SECTION", "SITE"};
    struct ctl_table lt = {5, lhead, "rrrrr", NULL, 0, 0, NULL};
    for (size_t t = 0; t < nsc; t++) {
      const struct score *sc = &s.sc[t];
      char th[16], cell[LEARN_LEVELS][32];
      snprintf(th, sizeof th, "%.3f", sc->threshold);
      for (int lv = 0; lv < LEARN_LEVELS; lv++) {
        char pr[16], rc[16];
        fmt_ratio(pr, sizeof pr, ratio(sc->lused[lv], sc->lpushed[lv]));
        fmt_ratio(rc, sizeof rc, ratio(sc->lneeded_pushed[lv], sc->needed));
        snprintf(cell[lv], sizeof cell[lv], "%s/%s", pr, rc);
      }
      const char *row[] = {th, cell[0], cell[1], cell[2], cell[3]};
      ctl_table_add(&lt, row);
    }
    ctl_table_print(&lt);
  }
  for (size_t t = 0; t < nsc; t++)
    free(s.sc[t].pages.v);
  free(s.sc);
  free(s.pages.v);
  free(s.rules);
  ctl_overrides_free(&s.ov);
  learn_free(s.l);
  return st;
}
