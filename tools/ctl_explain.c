/* ctl_explain.c: `heraldctl explain PAGE RESOURCE`: the numbers behind
 * the learner's decision for one resource of one page, and in plain
 * words which threshold, budget or cap keeps a near miss out.
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

#include "learner/learn.h"
#include "proxy/util.h"
#include "tools/ctl.h"

#define RULES_CAP 1024
/* learn.c demotes a resource from push with at least this many outcomes,
 * fewer than half of them used (DEMOTE_MIN_OUTCOMES there). */
#define DEMOTE_MIN 10

/* wilson is learn.c's Wilson lower bound, used here only to project how
 * many more visits a near miss needs; the verdict uses learn_rules'. */
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
static int feed_outcomes(const struct ctl *c, struct learn *l,
                         const char *page) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(c->db,
                         "SELECT o.class, r.key, o.completed, o.cancelled,"
                         " o.wasted FROM push_outcomes o"
                         " JOIN pages p ON p.id = o.page_id"
                         " JOIN resources r ON r.id = o.resource_id"
                         " WHERE p.key = ?1",
                         -1, &st, NULL) != SQLITE_OK)
    return ctl_sqlerr(c, "push outcomes");
  sqlite3_bind_text(st, 1, page, -1, SQLITE_STATIC);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int mobile = strcmp((const char *)sqlite3_column_text(st, 0), "mobile") == 0;
    const char *res = (const char *)sqlite3_column_text(st, 1);
    int64_t done = sqlite3_column_int64(st, 2),
            cancelled = sqlite3_column_int64(st, 3),
            wasted = sqlite3_column_int64(st, 4);
    int64_t used = done > wasted ? done - wasted : 0;
    int64_t unused = cancelled + wasted, total = used + unused;
    if (total > 200) {
      used = used * 200 / total;
      unused = unused * 200 / total;
    }
    for (int64_t i = 0; i < used; i++)
      learn_outcome(l, page, mobile, res, 1);
    for (int64_t i = 0; i < unused; i++)
      learn_outcome(l, page, mobile, res, 0);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE)
    return ctl_sqlerr(c, "push outcomes");
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

static int cmp_order(const struct learn_rule *x, const struct learn_rule *y) {
  if (x->median_delay_ms != y->median_delay_ms)
    return x->median_delay_ms < y->median_delay_ms ? -1 : 1;
  if (x->depth != y->depth)
    return x->depth < y->depth ? -1 : 1;
  return strcmp(x->key, y->key);
}

/* would_serve is what learned_cand in learn.c gives |r| before the
 * budget and the cap. */
static uint32_t would_serve(const struct learn_rule *r,
                            const struct learn_params *p) {
  if (!r->pushable || r->n < p->min_visits || r->clients < p->min_clients)
    return 0;
  uint32_t ch = 0;
  if (r->wilson >= p->hint_threshold)
    ch |= LEARN_HINT;
  if (r->wilson >= p->push_threshold)
    ch |= LEARN_PUSH;
  uint32_t total = r->pushes_used + r->pushes_unused;
  if (total >= DEMOTE_MIN && r->pushes_used * 2 < total)
    ch &= ~(uint32_t)LEARN_PUSH;
  return ch;
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

/* explain_one prints the explanation of rules[i] among |n| rules of one
 * page and class. */
static void explain_one(const struct ctl *c, const char *page, int mobile,
                        const char *route, const struct learn_params *p,
                        double half_life, double visits,
                        const struct learn_rule *rules, size_t n, size_t i,
                        size_t *count) {
  const struct learn_rule *r = &rules[i];
  struct check ck[12];
  size_t nck = 0;
  struct why w = {.len = 0};
  uint64_t served_bytes = 0, pinned_bytes = 0, before_bytes = 0;
  int served = 0, pinned = 0, before = 0;
  for (size_t j = 0; j < n; j++) {
    if (rules[j].channels == 0)
      continue;
    served++;
    served_bytes += rules[j].bytes;
    if (rules[j].state == LEARN_PINNED) {
      pinned++;
      pinned_bytes += rules[j].bytes;
    } else if (r->ord >= 0 && rules[j].ord < r->ord) {
      before++;
      before_bytes += rules[j].bytes;
    }
  }
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

  int safe = pagekey_rule_ok(page, r->key);
  CHECK("path", safe ? "yes" : "no", "%s", safe ? "safe" : "unsafe");
  NEEDED("a path on the page's own origin");
  CHECK("pushable", r->pushable ? "yes" : "no", "%s", r->pushable ? "yes" : "no");
  NEEDED("yes (last seen 200, cacheable, no cookie)");
  CHECK("visits n", r->n >= p->min_visits ? "yes" : "no", "%.1f", r->n);
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
  CHECK("demotion", demoted ? "no" : "yes", "%u used, %u unused",
        r->pushes_used, r->pushes_unused);
  NEEDED("< %d outcomes, or half used", DEMOTE_MIN);
  if (learned && r->ord >= 0) {
    uint64_t upto = pinned_bytes + before_bytes + r->bytes;
    CHECK("budget", "yes", "%" PRIu64 " bytes up to it", upto);
    NEEDED("<= %" PRIu64 " (budget)", p->budget_bytes);
    CHECK("count", "yes", "%d up to it", pinned + before + 1);
    NEEDED("<= %d (max_resources)", p->max_resources);
  } else if (learned) {
    uint64_t upto = served_bytes + r->bytes;
    CHECK("budget", upto <= p->budget_bytes ? "yes" : "no",
          "%" PRIu64 " served + %" PRIu64, served_bytes, r->bytes);
    NEEDED("<= %" PRIu64 " (budget)", p->budget_bytes);
    CHECK("count", served < p->max_resources ? "yes" : "no",
          "%d served + 1", served);
    NEEDED("<= %d (max_resources)", p->max_resources);
  }
  CHECK("override", "-", "%s",
        r->state == LEARN_PINNED    ? "pinned"
        : r->state == LEARN_BLOCKED ? "blocked"
                                    : "none");
  NEEDED("-");

  /* The verdict, in words. */
  if (!safe) {
    say(&w, "not served: its path names another origin, or holds what could"
            " end a Link's <...> (see pagekey_path_safe); never served,"
            " pinned or not.");
  } else if (r->state == LEARN_BLOCKED) {
    say(&w, "not served: an operator blocked it (heraldctl unpin to undo).");
  } else if (r->state == LEARN_PINNED) {
    say(&w, "served (push and hint) at position %d: an operator pinned it,"
            " whatever its numbers; its %" PRIu64
            " bytes are set aside before the budget is filled.",
        r->ord, r->bytes);
  } else if (r->channels != 0) {
    say(&w, "served as %s at position %d: every check passes.",
        decision(r->channels), r->ord);
    if (!(r->channels & LEARN_PUSH)) {
      if (demoted)
        say(&w, " Not pushed: its pushes were mostly cancelled or fetched"
                " again (%u of %u used).",
            r->pushes_used, total);
      else
        say(&w, " Not pushed: its Wilson bound %.3f is below push_threshold"
                " %g.",
            r->wilson, p->push_threshold);
    }
  } else {
    say(&w, "not served:");
    uint32_t ch = would_serve(r, p);
    if (!r->pushable)
      say(&w, " it was not pushable when last seen (not a cacheable 200"
              " without cookies);");
    if (r->n < p->min_visits)
      say(&w, " its decayed visits n %.1f are below min_visits %g;", r->n,
          p->min_visits);
    if (r->clients < p->min_clients)
      say(&w, " only %d distinct clients fetched it, min_clients is %d;",
          r->clients, p->min_clients);
    if (r->wilson < p->hint_threshold && r->wilson < p->push_threshold) {
      double t = p->hint_threshold < p->push_threshold ? p->hint_threshold
                                                       : p->push_threshold;
      long more = visits_to(r->k, r->n, p->z, half_life, t);
      say(&w, " its Wilson bound %.3f is below %s %g (short by %.3f", r->wilson,
          t == p->hint_threshold ? "hint_threshold" : "push_threshold", t,
          t - r->wilson);
      if (more > 0)
        say(&w, "; about %ld more visits that all fetch it would lift it",
            more);
      else
        say(&w, "; more visits alone cannot lift it at this z");
      say(&w, ");");
    } else if (ch == 0 && r->pushable && r->n >= p->min_visits &&
               r->clients >= p->min_clients && demoted) {
      say(&w, " it qualifies for push only, and its pushes were mostly"
              " cancelled or fetched again (%u of %u used);",
          r->pushes_used, total);
    }
    if (ch != 0) {
      /* It qualifies: the budget or the cap cut it, or an earlier one. */
      const struct learn_rule *first = NULL;
      for (size_t j = 0; j < n; j++) {
        const struct learn_rule *x = &rules[j];
        if (x->state == LEARN_LEARNED && x->channels == 0 &&
            would_serve(x, p) != 0 && (first == NULL || cmp_order(x, first) < 0))
          first = x;
      }
      if (first != NULL && first != r) {
        say(&w, " it qualifies for %s, but the list ended before it, at %s,"
                " which did not fit; everything after that in serving order"
                " is cut too;",
            decision(ch), ctl_short_key(page, first->key));
      } else if (served >= p->max_resources) {
        say(&w, " it qualifies for %s, but max_resources %d resources are"
                " already served before it;",
            decision(ch), p->max_resources);
      } else {
        say(&w, " it qualifies for %s, but its %" PRIu64 " bytes on top of the"
                " %" PRIu64 " served before it exceed the budget of %" PRIu64
                " bytes;",
            decision(ch), r->bytes, served_bytes, p->budget_bytes);
      }
    }
    if (w.len > 0 && w.text[w.len - 1] == ';')
      w.text[w.len - 1] = '.';
  }

  if (c->json) {
    ctl_json_next(count);
    fputs("\"page\": ", stdout);
    ctl_json_str(page);
    printf(", \"class\": \"%s\", \"route\": ", ctl_class_name(mobile));
    if (route != NULL)
      ctl_json_str(route);
    else
      fputs("null", stdout);
    fputs(", \"resource\": ", stdout);
    ctl_json_str(r->key);
    printf(", \"type\": \"%s\", \"decision\": \"%s\", \"channel\": \"%s\","
           " \"state\": \"%s\", \"ord\": ",
           ctl_dest_name(r->dest), decision(r->channels),
           learn_channel_name(r->channels), learn_state_name(r->state));
    if (r->ord >= 0)
      printf("%d", r->ord);
    else
      fputs("null", stdout);
    printf(", \"page_visits\": %.2f, \"k\": %.3f, \"n\": %.3f, \"confidence\":"
           " %.4f, \"wilson\": %.4f, \"clients\": %d, \"pushable\": %s,"
           " \"bytes\": %" PRIu64 ", \"delay_ms\": %" PRIu32
           ", \"depth\": %u, \"pushes_used\": %u, \"pushes_unused\": %u,"
           " \"demoted\": %s",
           visits, r->k, r->n, r->confidence, r->wilson, r->clients,
           r->pushable ? "true" : "false", r->bytes, r->median_delay_ms,
           r->depth, r->pushes_used, r->pushes_unused,
           demoted ? "true" : "false");
    printf(", \"params\": {\"push_threshold\": %g, \"hint_threshold\": %g,"
           " \"z\": %g, \"min_visits\": %g, \"min_clients\": %d, \"budget\": %"
           PRIu64 ", \"max_resources\": %d}",
           p->push_threshold, p->hint_threshold, p->z, p->min_visits,
           p->min_clients, p->budget_bytes, p->max_resources);
    fputs(", \"checks\": [", stdout);
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
  printf("page      %s (%s, %.1f decayed visits, route %s)\n", page,
         ctl_class_name(mobile), visits, route != NULL ? route : "none");
  printf("resource  %s (%s, %" PRIu64 " bytes, median delay %" PRIu32
         "ms, depth %u)\n",
         r->key, ctl_dest_name(r->dest), r->bytes, r->median_delay_ms,
         r->depth);
  if (r->ord >= 0)
    printf("decision  %s, position %d\n\n", decision(r->channels), r->ord);
  else
    printf("decision  %s\n\n", decision(r->channels));
  static const char *const head[] = {"CHECK", "VALUE", "NEEDED", "OK"};
  struct ctl_table t = {4, head, "llll", NULL, 0, 0};
  for (size_t j = 0; j < nck; j++) {
    const char *row[] = {ck[j].name, ck[j].value, ck[j].needed, ck[j].ok};
    ctl_table_add(&t, row);
  }
  ctl_table_print(&t);
  printf("\nwhy: %s\n", w.text);
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
  struct learn *l = learn_new(half_life);
  struct ctl_overrides ov;
  uint64_t visits;
  st = ctl_replay(c, l, &visits);
  if (st == CTL_OK)
    st = feed_outcomes(c, l, page);
  if (st == CTL_OK)
    st = ctl_overrides_load(c, &ov);
  else
    memset(&ov, 0, sizeof ov);
  struct learn_rule *rules = xcalloc(RULES_CAP, sizeof(*rules));
  size_t count = 0;
  int found_page = 0;
  for (int mobile = 0; st == CTL_OK && mobile <= 1; mobile++) {
    if (c->mobile >= 0 && c->mobile != mobile)
      continue;
    struct learn_overrides lo;
    ctl_overrides_for(&ov, page, &lo);
    size_t n = learn_rules(l, page, mobile, &p, &lo, rules, RULES_CAP);
    if (n == 0)
      continue;
    found_page = 1;
    for (size_t i = 0; i < n; i++) {
      if (ctl_res_matches(page, rules[i].key, c->args[1])) {
        explain_one(c, page, mobile, route, &p, half_life,
                    learn_page_visits(l, page, mobile), rules, n, i, &count);
        break;
      }
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
  ctl_overrides_free(&ov);
  learn_free(l);
  return st;
}
