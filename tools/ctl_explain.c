/* ctl_explain.c: `heraldctl explain PAGE RESOURCE`: the numbers behind
 * the learner's decision for one resource of one page, level by level
 * (page, template, section, site: which one decided), and in plain words
 * which threshold, budget, supersession or suspension keeps a near miss
 * out.
 *
 * The numbers are not read back from the rules table (it holds only what
 * is served): the retained visits are replayed into learn.c, the learner
 * herald runs, with the parameters in force for the page (defaults,
 * [learn] of -c CONFIG, global settings, the settings of the page's
 * route), the overrides, and the push outcomes herald recorded. So the
 * verdict is learn_rules' own; this file only says why. A herald that
 * has run for a while may also count visits that were since trimmed from
 * the file: its numbers can differ by those. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "learner/learn.h"
#include "store/store.h"
#include "tools/ctl.h"

#define RULES_CAP 1024
/* learn.c demotes a resource from push with at least this many outcomes,
 * fewer than half of them used (DEMOTE_MIN_OUTCOMES there). */
#define DEMOTE_MIN 10

/* wilson is learn.c's Wilson lower bound, used here only to project how
 * many more samples a near miss needs; the verdict uses learn_rules'. */
static double wilson(double k, double n, double z) {
  if (n <= 0)
    return 0;
  double p = k / n > 1 ? 1 : k / n, z2 = z * z;
  double lb = (p + z2 / (2 * n) - z * sqrt(p * (1 - p) / n + z2 / (4 * n * n))) /
              (1 + z2 / n);
  return lb < 0 ? 0 : lb;
}

/* visits_to reaches |target| with more visits that all fetch the
 * resource, decaying as the learner does; -1 beyond 100000. */
static long visits_to(double k, double n, double z, double half_life,
                      double target) {
  double lam = half_life > 0 && isfinite(half_life) ? pow(2, -1 / half_life)
                                                    : 1;
  for (long i = 1; i <= 100000; i++) {
    k = k * lam + 1;
    n = n * lam + 1;
    if (wilson(k, n, z) >= target)
      return i;
    if (lam < 1 && fabs(n - 1 / (1 - lam)) < 1e-9 && k / n > 1 - 1e-12)
      break; /* at the cap and at 100%: no further gain */
  }
  return -1;
}

/* feed_outcomes tells |l| what herald recorded of the pushes of |page|
 * (used: completed and not wasted; unused: cancelled or wasted), scaled
 * to the learner's window so the shares stay as recorded. */
struct feed {
  struct learn *l;
  const char *page;
};

static void on_outcomes(void *ud, int mobile, const char *res,
                        const struct store_outcomes *o) {
  const struct feed *f = ud;
  int64_t used = o->completed > o->wasted ? o->completed - o->wasted : 0;
  int64_t unused = o->cancelled + o->wasted, total = used + unused;
  if (total > 200) {
    used = used * 200 / total;
    unused = unused * 200 / total;
  }
  for (int64_t i = 0; i < used; i++)
    learn_outcome(f->l, f->page, mobile, res, 1);
  for (int64_t i = 0; i < unused; i++)
    learn_outcome(f->l, f->page, mobile, res, 0);
}

static int feed_outcomes(const struct ctl *c, struct learn *l,
                         const char *page) {
  struct feed f = {l, page};
  if (store_page_outcomes(c->s, page, on_outcomes, &f) != 0)
    return ctl_store_error(c);
  return CTL_OK;
}

struct check {
  const char *name;
  char value[64], needed[64];
  const char *ok; /* "yes", "no" or "-" */
};

struct why {
  char text[2048];
  size_t len;
};

static void say(struct why *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(struct why *w, const char *fmt, ...) {
  if (w->len >= sizeof w->text - 1)
    return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(w->text + w->len, sizeof w->text - w->len, fmt, ap);
  va_end(ap);
  if (n > 0)
    w->len += (size_t)n;
  if (w->len >= sizeof w->text)
    w->len = sizeof w->text - 1;
}

static const char *decision(uint32_t ch) {
  if ((ch & LEARN_PUSH) && (ch & LEARN_HINT))
    return "push and hint";
  if (ch & LEARN_PUSH)
    return "push";
  if (ch & LEARN_HINT)
    return "hint";
  return "not served";
}

static const char *verdict(int8_t d) {
  return d > 0 ? "yes" : d == 0 ? "no" : "undecided";
}

/* What one explanation needs besides the rule itself. */
struct ctx {
  const char *page, *route;
  int mobile;
  const struct learn_params *p;
  double half_life, visits;
  const struct learn_rule *rules; /* the served list, budgets applied */
  size_t n;
  uint32_t qualified;             /* r's channels before the budgets */
  const struct learn_evidence *ev; /* per level, most specific first */
  size_t nev;
};

/* before sums the bytes and count of what is served on |channel| ahead
 * of |r| in serving order, pinned ones included. */
static void before(const struct ctx *x, const struct learn_rule *r,
                   uint32_t channel, uint64_t *bytes, int *count) {
  *bytes = 0;
  *count = 0;
  for (size_t j = 0; j < x->n; j++) {
    const struct learn_rule *o = &x->rules[j];
    if (o == r || !(o->channels & channel))
      continue;
    if (o->state == LEARN_PINNED || learn_rule_order(o, r) < 0) {
      *bytes += o->bytes;
      (*count)++;
    }
  }
}

/* why_level says in words why the level that decided "no" did. */
static void why_level(struct why *w, const struct ctx *x,
                      const struct learn_evidence *e, double threshold,
                      const char *tname) {
  say(w, " the %s level (%s) says no:", learn_level_name(e->level),
      e->key);
  if (e->superseded)
    say(w, " the page requested another version of it (same path, another"
           " query) on a visit herald named it, so it was superseded"
           " until the page asks for it again;");
  else if (e->suspended)
    say(w, " its latest samples were misses in a row (suspended until"
           " its next hit);");
  else if (e->seen && !e->pushable)
    say(w, " it was not pushable when last seen (not a cacheable 200"
           " without cookies);");
  else
    say(w, " in %.1f samples it was fetched %.1f times, and even the"
           " Wilson upper bound %.3f is below %s %g;",
        e->n, e->k, e->upper, tname, threshold);
  (void)x;
}

/* explain_one prints the explanation of |r| on one page and class. */
static void explain_one(const struct ctl *c, const struct ctx *x,
                        const struct learn_rule *r, size_t *count) {
  const struct learn_params *p = x->p;
  struct check ck[14];
  size_t nck = 0;
  struct why w = {.len = 0};
  uint32_t total = r->pushes_used + r->pushes_unused;
  int demoted = total >= DEMOTE_MIN && r->pushes_used * 2 < total;
  int learned = r->state == LEARN_LEARNED;

#define CHECK(nm, okv, ...)                                                    \
  do {                                                                         \
    struct check *k_ = &ck[nck++];                                             \
    k_->name = nm;                                                             \
    k_->ok = okv;                                                              \
    snprintf(k_->value, sizeof k_->value, __VA_ARGS__);                        \
  } while (0)
#define NEEDED(...) snprintf(ck[nck - 1].needed, sizeof ck[0].needed, __VA_ARGS__)

  CHECK("level", "-", "%s", learn_level_name(r->level));
  NEEDED("the most specific that decides");
  int safe = pagekey_rule_ok(x->page, r->key);
  CHECK("path", safe ? "yes" : "no", "%s", safe ? "safe" : "unsafe");
  NEEDED("a path on the page's own origin");
  /* A resource only declared, never requested: hinted on the backend's
   * word, never pushed. */
  int seen = 0;
  double prior = 0;
  for (size_t i = 0; i < x->nev; i++) {
    seen |= x->ev[i].seen;
    if (x->ev[i].level == r->level)
      prior = x->ev[i].prior;
  }
  if (seen || !r->declared) {
    CHECK("pushable", r->pushable ? "yes" : "no", "%s",
          r->pushable ? "yes" : "no");
    NEEDED("yes (last seen 200, cacheable, no cookie)");
  } else {
    CHECK("pushable", "-", "never requested");
    NEEDED("for push only: a declared hint needs none");
  }
  CHECK("declared", "-", "%s", r->declared ? "yes" : "no");
  if (r->declared)
    NEEDED("by the backend: k and n include %.1f of prior", prior);
  else
    NEEDED("- (a Link: rel=preload or the backend's 103)");
  CHECK("samples n", r->n >= p->min_visits ? "yes" : "no", "%.1f", r->n);
  NEEDED(">= %g (min_visits)", p->min_visits);
  CHECK("clients", r->clients >= p->min_clients ? "yes" : "no", "%d%s",
        r->clients, r->clients >= LEARN_MAX_CLIENTS ? "+" : "");
  NEEDED(">= %d (min_clients)", p->min_clients);
  CHECK("wilson/hint", r->wilson >= p->hint_threshold ? "yes" : "no",
        "%.3f (k %.1f of n %.1f)", r->wilson, r->k, r->n);
  NEEDED(">= %g (hint_threshold)", p->hint_threshold);
  CHECK("wilson/push", r->wilson >= p->push_threshold ? "yes" : "no", "%.3f",
        r->wilson);
  NEEDED(">= %g (push_threshold)", p->push_threshold);
  CHECK("current", r->superseded || r->suspended ? "no" : "yes", "%s",
        r->superseded  ? "superseded"
        : r->suspended ? "suspended"
                       : "yes");
  NEEDED("not superseded or suspended");
  CHECK("demotion", demoted ? "no" : "yes", "%u used, %u unused",
        r->pushes_used, r->pushes_unused);
  NEEDED("< %d outcomes, or half used", DEMOTE_MIN);
  const struct {
    uint32_t channel;
    const char *name, *bname, *mname;
    uint64_t budget;
    int max;
  } ch[2] = {{LEARN_HINT, "hint budget", "hint_budget", "hint_max_resources",
              p->hint_budget, p->hint_max},
             {LEARN_PUSH, "push budget", "push_budget", "push_max_resources",
              p->push_budget, p->push_max}};
  for (int i = 0; i < 2 && learned; i++) {
    if (!(x->qualified & ch[i].channel))
      continue;
    uint64_t b;
    int k;
    before(x, r, ch[i].channel, &b, &k);
    int fits = b + r->bytes <= ch[i].budget && k < ch[i].max;
    CHECK(ch[i].name, fits ? "yes" : "no",
          "%" PRIu64 " + %" PRIu64 " bytes, #%d", b, r->bytes, k + 1);
    NEEDED("<= %" PRIu64 " (%s), <= %d (%s)", ch[i].budget, ch[i].bname,
           ch[i].max, ch[i].mname);
  }
  CHECK("override", "-", "%s",
        r->state == LEARN_PINNED    ? "pinned"
        : r->state == LEARN_BLOCKED ? "blocked"
                                    : "none");
  NEEDED("-");

  /* The verdict, in words. */
  const struct learn_evidence *no = NULL;
  for (size_t i = 0; i < x->nev && no == NULL; i++) {
    if (x->ev[i].hint == 1)
      break;
    if (x->ev[i].hint == 0)
      no = &x->ev[i];
  }
  if (!safe) {
    say(&w, "not served: its path names another origin, or holds what could"
            " end a Link's <...> (see pagekey_path_safe); never served,"
            " pinned or not.");
  } else if (r->state == LEARN_BLOCKED) {
    say(&w, "not served: an operator blocked it (heraldctl unpin to undo).");
  } else if (r->state == LEARN_PINNED) {
    say(&w, "served (push and hint) at position %d: an operator pinned it,"
            " whatever its numbers; its %" PRIu64
            " bytes are set aside before the budgets are filled.",
        r->ord, r->bytes);
  } else if (r->channels != 0) {
    say(&w, "served as %s at position %d, decided at the %s level: every"
            " check passes there.",
        decision(r->channels), r->ord, learn_level_name(r->level));
    if (!(r->channels & LEARN_PUSH)) {
      if (x->qualified & LEARN_PUSH)
        say(&w, " Not pushed: it does not fit the push budget.");
      else if (demoted)
        say(&w, " Not pushed: its pushes were mostly cancelled or fetched"
                " again (%u of %u used).",
            r->pushes_used, total);
      else
        say(&w, " Not pushed: no level's Wilson bound reaches"
                " push_threshold %g.",
            p->push_threshold);
    }
  } else if (x->qualified != 0) {
    say(&w, "not served: it qualifies for %s (at the %s level), but does"
            " not fit the budget of that channel; it is skipped and the"
            " list goes on.",
        decision(x->qualified), learn_level_name(r->level));
  } else if (no != NULL) {
    say(&w, "not served:");
    why_level(&w, x, no, p->hint_threshold, "hint_threshold");
    if (w.len > 0 && w.text[w.len - 1] == ';')
      w.text[w.len - 1] = '.';
  } else {
    say(&w, "not served: no level has the evidence to decide yet:");
    if (!r->pushable && (seen || !r->declared))
      say(&w, " it was not pushable when last seen;");
    if (r->n < p->min_visits)
      say(&w, " its samples n %.1f are below min_visits %g;", r->n,
          p->min_visits);
    if (r->clients < p->min_clients)
      say(&w, " only %d distinct %s fetched it%s, min_clients is %d;",
          r->clients, r->clients == 1 ? "client" : "clients",
          r->declared ? " or got pages declaring it" : "", p->min_clients);
    if (r->wilson < p->hint_threshold) {
      long more = visits_to(r->k, r->n, p->z, x->half_life, p->hint_threshold);
      say(&w, " its Wilson bound %.3f is below hint_threshold %g (short by"
              " %.3f",
          r->wilson, p->hint_threshold, p->hint_threshold - r->wilson);
      if (more > 0)
        say(&w, "; about %ld more samples that all fetch it would lift it",
            more);
      else
        say(&w, "; more samples alone cannot lift it at this z");
      say(&w, ");");
    }
    if (w.len > 0 && w.text[w.len - 1] == ';')
      w.text[w.len - 1] = '.';
  }

  if (c->json) {
    ctl_json_next(count);
    fputs("\"page\": ", stdout);
    ctl_json_str(x->page);
    printf(", \"class\": \"%s\", \"route\": ", ctl_class_name(x->mobile));
    if (x->route != NULL)
      ctl_json_str(x->route);
    else
      fputs("null", stdout);
    fputs(", \"resource\": ", stdout);
    ctl_json_str(r->key);
    printf(", \"type\": \"%s\", \"rank\": \"%s\", \"decision\": \"%s\","
           " \"channel\": \"%s\", \"state\": \"%s\", \"level\": \"%s\","
           " \"ord\": ",
           ctl_dest_name(r->dest), learn_rank_name(r->rank),
           decision(r->channels), learn_channel_name(r->channels),
           learn_state_name(r->state), learn_level_name(r->level));
    if (r->ord >= 0)
      printf("%d", r->ord);
    else
      fputs("null", stdout);
    printf(", \"page_visits\": %.2f, \"k\": %.3f, \"n\": %.3f, \"confidence\":"
           " %.4f, \"wilson\": %.4f, \"clients\": %d, \"pushable\": %s,"
           " \"superseded\": %s, \"suspended\": %s,"
           " \"bytes\": %" PRIu64 ", \"delay_ms\": %" PRIu32
           ", \"depth\": %u, \"pushes_used\": %u, \"pushes_unused\": %u,"
           " \"demoted\": %s",
           x->visits, r->k, r->n, r->confidence, r->wilson, r->clients,
           r->pushable ? "true" : "false", r->superseded ? "true" : "false",
           r->suspended ? "true" : "false", r->bytes, r->median_delay_ms,
           r->depth, r->pushes_used, r->pushes_unused,
           demoted ? "true" : "false");
    printf(", \"params\": {\"push_threshold\": %g, \"hint_threshold\": %g,"
           " \"z\": %g, \"min_visits\": %g, \"min_clients\": %d,"
           " \"hint_budget\": %" PRIu64 ", \"hint_max_resources\": %d,"
           " \"push_budget\": %" PRIu64 ", \"push_max_resources\": %d}",
           p->push_threshold, p->hint_threshold, p->z, p->min_visits,
           p->min_clients, p->hint_budget, p->hint_max, p->push_budget,
           p->push_max);
    fputs(", \"levels\": [", stdout);
    for (size_t j = 0; j < x->nev; j++) {
      const struct learn_evidence *e = &x->ev[j];
      printf("%s{\"level\": \"%s\", \"key\": ", j ? ", " : "",
             learn_level_name(e->level));
      ctl_json_str(e->key);
      printf(", \"visits\": %.3f, \"k\": %.3f, \"n\": %.3f, \"lower\": %.4f,"
             " \"upper\": %.4f, \"clients\": %d, \"declared\": %s,"
             " \"prior\": %.3f, \"hint\": \"%s\", \"push\": \"%s\"}",
             e->visits, e->k, e->n, e->lower, e->upper, e->clients,
             e->declared ? "true" : "false", e->prior, verdict(e->hint),
             verdict(e->push));
    }
    fputs("], \"checks\": [", stdout);
    for (size_t j = 0; j < nck; j++) {
      printf("%s{\"check\": \"%s\", \"value\": ", j ? ", " : "", ck[j].name);
      ctl_json_str(ck[j].value);
      fputs(", \"needed\": ", stdout);
      ctl_json_str(ck[j].needed);
      printf(", \"ok\": %s}",
             strcmp(ck[j].ok, "-") == 0 ? "null"
             : strcmp(ck[j].ok, "yes") == 0 ? "true"
                                            : "false");
    }
    fputs("], \"why\": ", stdout);
    ctl_json_str(w.text);
    putchar('}');
    return;
  }
  if (*count > 0)
    putchar('\n');
  (*count)++;
  ctl_printf(10, "page      %s (%s, %.1f decayed visits, route %s)\n", x->page,
             ctl_class_name(x->mobile), x->visits,
             x->route != NULL ? x->route : "none");
  ctl_printf(10,
             "resource  %s (%s, rank %s, %" PRIu64
             " bytes, median delay %" PRIu32 "ms, depth %u)\n",
             r->key, ctl_dest_name(r->dest), learn_rank_name(r->rank), r->bytes,
             r->median_delay_ms, r->depth);
  if (r->ord >= 0)
    printf("decision  %s, position %d, %s level\n\n", decision(r->channels),
           r->ord, learn_level_name(r->level));
  else
    printf("decision  %s\n\n", decision(r->channels));
  static const char *const lhead[] = {"LEVEL", "KEY",   "VISITS", "K",
                                      "N",     "LOWER", "UPPER",  "CLIENTS",
                                      "HINT",  "PUSH"};
  struct ctl_table lt = {10, lhead, "llrrrrrrll", NULL, 0, 0, NULL};
  for (size_t j = 0; j < x->nev; j++) {
    const struct learn_evidence *e = &x->ev[j];
    char v[32], k[32], n[32], lo[32], hi[32], cl[32];
    snprintf(v, sizeof v, "%.1f", e->visits);
    snprintf(k, sizeof k, "%.1f", e->k);
    snprintf(n, sizeof n, "%.1f", e->n);
    snprintf(lo, sizeof lo, "%.3f", e->lower);
    snprintf(hi, sizeof hi, "%.3f", e->upper);
    snprintf(cl, sizeof cl, "%d", e->clients);
    const char *row[] = {learn_level_name(e->level), e->key, v, k, n, lo, hi,
                         cl, verdict(e->hint), verdict(e->push)};
    if (!e->has_entry)
      row[3] = row[4] = row[5] = row[6] = row[7] = "-";
    ctl_table_add(&lt, row);
  }
  ctl_table_print(&lt);
  putchar('\n');
  static const char *const head[] = {"CHECK", "VALUE", "NEEDED", "OK"};
  struct ctl_table t = {4, head, "llll", NULL, 0, 0, NULL};
  for (size_t j = 0; j < nck; j++) {
    const char *row[] = {ck[j].name, ck[j].value, ck[j].needed, ck[j].ok};
    ctl_table_add(&t, row);
  }
  ctl_table_print(&t);
  ctl_printf(5, "\nwhy: %s\n", w.text);
}

int ctl_explain(const struct ctl *c) {
  char page[4096];
  int st = ctl_find_page(c, c->args[0], page, sizeof page);
  if (st != CTL_OK)
    return st;
  const char *route = ctl_route_of(c, page);
  struct learn_params p;
  double half_life;
  st = ctl_params(c, route, &p, &half_life);
  if (st != CTL_OK)
    return st;
  struct learn *l = learn_new(half_life, ctl_section_depth(c));
  struct ctl_overrides ov;
  uint64_t visits;
  st = ctl_replay(c, l, &visits);
  if (st == CTL_OK)
    st = feed_outcomes(c, l, page); /* and its wider levels */
  if (st == CTL_OK)
    st = ctl_overrides_load(c, &ov);
  else
    memset(&ov, 0, sizeof ov);
  struct learn_rule *rules = xcalloc(RULES_CAP, sizeof(*rules));
  struct learn_rule *wide = xcalloc(RULES_CAP, sizeof(*wide));
  size_t count = 0;
  int found_page = 0;
  for (int mobile = 0; st == CTL_OK && mobile <= 1; mobile++) {
    if (c->mobile >= 0 && c->mobile != mobile)
      continue;
    struct learn_overrides lo;
    ctl_overrides_for(c, &ov, page, &lo);
    size_t n = learn_rules(l, page, mobile, &p, &lo, rules, RULES_CAP);
    if (n == 0)
      continue;
    found_page = 1;
    /* The same without budgets: what qualifies before they apply. */
    struct learn_params unlimited = p;
    unlimited.hint_budget = unlimited.push_budget = UINT64_MAX / 2;
    unlimited.hint_max = unlimited.push_max = RULES_CAP;
    size_t nw = learn_rules(l, page, mobile, &unlimited, &lo, wide, RULES_CAP);
    for (size_t i = 0; i < n; i++) {
      if (!ctl_res_matches(page, rules[i].key, c->args[1]))
        continue;
      struct learn_evidence ev[LEARN_LEVELS];
      struct ctx x = {page, route, mobile, &p, half_life,
                      learn_page_visits(l, page, mobile), rules, n, 0, ev, 0};
      x.nev = learn_evidence(l, page, mobile, rules[i].key, &p, ev,
                             LEARN_LEVELS);
      for (size_t j = 0; j < nw; j++)
        if (strcmp(wide[j].key, rules[i].key) == 0)
          x.qualified = wide[j].channels;
      if (rules[i].state == LEARN_BLOCKED)
        x.qualified = 0;
      explain_one(c, &x, &rules[i], &count);
      break;
    }
  }
  if (st == CTL_OK && count == 0) {
    if (!found_page)
      fprintf(stderr, "heraldctl: no retained visits of %s%s%s\n", page,
              c->mobile >= 0 ? " for class " : "",
              c->mobile >= 0 ? ctl_class_name(c->mobile) : "");
    else
      fprintf(stderr,
              "heraldctl: %s was never requested with %s in the retained"
              " visits, nor pinned or blocked there\n",
              c->args[1], page);
    st = CTL_NOT_FOUND;
  } else if (st == CTL_OK && c->json) {
    ctl_json_end(count);
  }
  free(rules);
  free(wide);
  ctl_overrides_free(&ov);
  learn_free(l);
  return st;
}
