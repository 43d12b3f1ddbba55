/* ctl_stats.c: heraldctl's `stats`: did delivery make pages load faster,
 * and what became of what herald pushed and hinted.
 *
 * Page loads. Every recorded visit says what herald sent ahead of it
 * (visits.delivery): 'push', 'hints', 'holdout' (a navigation that would
 * have got something, held out at random by deliver.holdout) or 'none'.
 * The arms are compared over the pages that had at least one treated or
 * holdout visit in the window, i.e. the pages that had rules; a 'none'
 * visit of such a page (before its rules, or with delivery off) is shown
 * for context, and visits of other pages are only counted. Per arm: the
 * visits, the median and the mean of load_ms (the page request's arrival
 * to the end of the last attributed response, pushes included), a 95%
 * confidence interval of the mean (mean +- 1.96 sd / sqrt(n), a normal
 * approximation; none below two visits) and the mean bytes. Then each
 * treated arm minus the holdout arm, with Welch's standard error
 * sqrt(s1^2/n1 + s2^2/n2) and the same 1.96. The holdout arm is small by
 * design (5% by default), so below STATS_MIN_ARM visits in either arm the
 * verdict says plainly that nothing can be concluded yet.
 *
 * Outcomes. push_outcomes keeps running totals per (page, class,
 * resource), under the exact page key and again under its template key,
 * so the totals take the exact page rows only (pages.is_template = 0)
 * unless --page names a template. A row is counted whole when it was
 * updated in the window: the table keeps no history, so the counts of a
 * row reach back to its first push or hint. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/util.h"
#include "store/store.h"
#include "tools/ctl.h"

/* Below this many timed visits in the treated or the holdout arm, a
 * difference is not worth a verdict: the normal approximation is poor
 * and one slow visit moves the mean a lot. */
#define STATS_MIN_ARM 10
/* The 97.5% quantile of the standard normal: a two-sided 95% interval. */
#define STATS_Z 1.96
/* How many of the most wasted resources are listed. */
#define STATS_TOP 5

enum { ARM_PUSH, ARM_HINTS, ARM_TREATED, ARM_HOLDOUT, ARM_NONE, NARMS };

static const char *const arm_names[NARMS] = {"push", "hints", "treated",
                                             "holdout", "none"};

/* One arm as read: every timed visit's load time, and the byte sum. */
struct arm {
  uint64_t visits; /* in the arm, timed or not */
  double *load;    /* load_ms of the visits that have one */
  size_t n, cap;
  double bytes_sum;
  uint64_t bytes_n;
  /* What is printed, from the above; NAN when not defined. */
  double median, mean, sd, lo, hi, mean_bytes;
};

/* A treated arm minus the holdout arm. */
struct diff {
  double ms, lo, hi, rel; /* NAN when not defined */
};

struct wasted_row {
  char *page, *resource;
  int64_t promised, cancelled, wasted;
};

struct stats {
  int has_since;
  int64_t since;   /* Unix ms */
  char page[1024]; /* the --page key, or "" */
  int64_t page_id; /* of |page|, or -1 */
  int page_is_template;
  uint64_t pages; /* with a treated or holdout visit in the window */
  uint64_t other; /* visits of the other pages */
  struct arm arms[NARMS];
  struct diff diffs[3]; /* treated, push, hints - holdout */
  struct store_outcomes oc;
  struct wasted_row top[STATS_TOP];
  size_t ntop;
};

/* ---- --since ------------------------------------------------------------- */

/* digits reads exactly |n| ASCII digits at |*p| into |*out|. */
static int digits(const char **p, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    char ch = (*p)[i];
    if (ch < '0' || ch > '9')
      return -1;
    v = v * 10 + (ch - '0');
  }
  *p += n;
  *out = v;
  return 0;
}

/* parse_date reads YYYY-MM-DD, optionally followed by T (or a space) and
 * HH:MM or HH:MM:SS, and an optional Z; always UTC. */
static int parse_date(const char *s, int64_t *out) {
  const char *p = s;
  int y, mo, d, h = 0, mi = 0, se = 0;
  if (digits(&p, 4, &y) != 0 || *p++ != '-' || digits(&p, 2, &mo) != 0 ||
      *p++ != '-' || digits(&p, 2, &d) != 0)
    return -1;
  if (*p == 'T' || *p == ' ') {
    p++;
    if (digits(&p, 2, &h) != 0 || *p++ != ':' || digits(&p, 2, &mi) != 0)
      return -1;
    if (*p == ':') {
      p++;
      if (digits(&p, 2, &se) != 0)
        return -1;
    }
  }
  if (*p == 'Z')
    p++;
  if (*p != '\0' || y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 ||
      mi > 59 || se > 59)
    return -1;
  struct tm tm = {.tm_year = y - 1900,
                  .tm_mon = mo - 1,
                  .tm_mday = d,
                  .tm_hour = h,
                  .tm_min = mi,
                  .tm_sec = se};
  time_t t = timegm(&tm);
  /* timegm normalizes February 30 to March 2: refuse what moved. */
  struct tm back;
  if (t == (time_t)-1 || gmtime_r(&t, &back) == NULL || back.tm_mday != d ||
      back.tm_mon != mo - 1)
    return -1;
  *out = (int64_t)t * 1000;
  return 0;
}

int ctl_parse_since(const char *s, int64_t now_ms, int64_t *out) {
  size_t len = strlen(s), nd = strspn(s, "0123456789");
  if (len == 0 || nd == 0)
    return -1;
  if (nd == len) {
    /* Unix ms. A shorter number is most likely seconds, or a duration
     * without its unit: 1e11 ms is 1973, so refuse rather than guess.
     * 0 (everything) stays valid. */
    if (nd > 15)
      return -1;
    int64_t v = (int64_t)strtoll(s, NULL, 10);
    if (v != 0 && v < 100000000000LL)
      return -1;
    *out = v;
    return 0;
  }
  if (nd == len - 1 && nd <= 9) {
    int64_t unit;
    switch (s[nd]) {
    case 's':
      unit = 1000;
      break;
    case 'm':
      unit = 60 * 1000;
      break;
    case 'h':
      unit = 3600 * 1000;
      break;
    case 'd':
      unit = 86400 * 1000;
      break;
    case 'w':
      unit = 7 * 86400 * 1000;
      break;
    default:
      return -1;
    }
    int64_t ago = (int64_t)strtoll(s, NULL, 10) * unit;
    *out = ago < now_ms ? now_ms - ago : 0;
    return 0;
  }
  return parse_date(s, out);
}

static void iso_time(int64_t ms, char *out, size_t cap) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  if (ms < 0 || gmtime_r(&t, &tm) == NULL ||
      strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    snprintf(out, cap, "-");
}

/* ---- reading ------------------------------------------------------------- */

static void arm_add(struct arm *a, int has_load, double load, int has_bytes,
                    double bytes) {
  a->visits++;
  if (has_load) {
    if (a->n == a->cap) {
      a->cap = a->cap != 0 ? a->cap * 2 : 64;
      a->load = xrealloc(a->load, a->cap * sizeof(*a->load));
    }
    a->load[a->n++] = load;
  }
  if (has_bytes) {
    a->bytes_sum += bytes;
    a->bytes_n++;
  }
}

static void window_of(const struct stats *s, struct store_window *w) {
  *w = (struct store_window){s->has_since, s->since, s->page_id};
}

static void on_visit(void *ud, const struct store_window_visit *v) {
  struct stats *s = ud;
  if (!v->ruled) {
    s->other++;
    return;
  }
  const char *d = v->delivery != NULL ? v->delivery : "none";
  int arm = strcmp(d, "push") == 0      ? ARM_PUSH
            : strcmp(d, "hints") == 0   ? ARM_HINTS
            : strcmp(d, "holdout") == 0 ? ARM_HOLDOUT
                                        : ARM_NONE;
  arm_add(&s->arms[arm], v->has_load, v->load_ms, v->has_bytes, v->bytes);
  if (arm == ARM_PUSH || arm == ARM_HINTS)
    arm_add(&s->arms[ARM_TREATED], v->has_load, v->load_ms, v->has_bytes,
            v->bytes);
}

/* read_visits sorts the window's visits into the arms. A page is "with
 * rules" when it had a treated or holdout visit in the window. */
static int read_visits(const struct ctl *c, struct stats *s) {
  struct store_window w;
  window_of(s, &w);
  if (store_window_visits(c->s, &w, on_visit, s) != 0 ||
      store_window_ruled_pages(c->s, &w, &s->pages) != 0)
    return ctl_store_error(c);
  return CTL_OK;
}

static void on_wasted(void *ud, const struct store_wasted *w) {
  struct stats *s = ud;
  if (s->ntop < STATS_TOP)
    s->top[s->ntop++] = (struct wasted_row){
        xstrdup(w->page), xstrdup(w->resource), w->promised, w->cancelled,
        w->wasted};
}

static int read_outcomes(const struct ctl *c, struct stats *s) {
  struct store_window w;
  window_of(s, &w);
  if (store_window_outcomes(c->s, &w, &s->oc) != 0 ||
      store_window_wasted(c->s, &w, STATS_TOP, on_wasted, s) != 0)
    return ctl_store_error(c);
  return CTL_OK;
}

/* find_page resolves --page as `rules` does and notes its row id. */
static int find_page(const struct ctl *c, struct stats *s) {
  int st = ctl_find_page(c, c->page, s->page, sizeof s->page);
  if (st != CTL_OK)
    return st;
  if (store_page_row(c->s, s->page, &s->page_id, &s->page_is_template) != 0)
    return ctl_store_error(c);
  return CTL_OK;
}

/* ---- the arithmetic ------------------------------------------------------ */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* arm_finish computes what is printed for |a|. The sd is the sample
 * standard deviation (n - 1), two passes for accuracy. */
static void arm_finish(struct arm *a) {
  a->median = a->mean = a->sd = a->lo = a->hi = NAN;
  a->mean_bytes = a->bytes_n > 0 ? a->bytes_sum / (double)a->bytes_n : NAN;
  size_t n = a->n;
  if (n == 0)
    return;
  qsort(a->load, n, sizeof(*a->load), cmp_double);
  a->median =
      n % 2 ? a->load[n / 2] : (a->load[n / 2 - 1] + a->load[n / 2]) / 2;
  double sum = 0;
  for (size_t i = 0; i < n; i++)
    sum += a->load[i];
  a->mean = sum / (double)n;
  if (n < 2)
    return;
  double ss = 0;
  for (size_t i = 0; i < n; i++)
    ss += (a->load[i] - a->mean) * (a->load[i] - a->mean);
  a->sd = sqrt(ss / (double)(n - 1));
  double half = STATS_Z * a->sd / sqrt((double)n);
  a->lo = a->mean - half;
  a->hi = a->mean + half;
}

/* arm_diff is |t| - |h| in mean load time, with Welch's standard error;
 * the interval needs two visits in each arm. */
static struct diff arm_diff(const struct arm *t, const struct arm *h) {
  struct diff d = {NAN, NAN, NAN, NAN};
  if (t->n == 0 || h->n == 0)
    return d;
  d.ms = t->mean - h->mean;
  if (h->mean > 0)
    d.rel = d.ms / h->mean;
  if (t->n < 2 || h->n < 2)
    return d;
  double se = sqrt(t->sd * t->sd / (double)t->n + h->sd * h->sd / (double)h->n);
  d.lo = d.ms - STATS_Z * se;
  d.hi = d.ms + STATS_Z * se;
  return d;
}

static double ratio(int64_t a, int64_t b) {
  return b > 0 ? (double)a / (double)b : NAN;
}

/* verdict says in one sentence what the treated - holdout difference
 * allows one to conclude; |*conclusive| is 1 when the arms are big
 * enough to say anything. */
static void verdict(const struct stats *s, char *out, size_t cap,
                    int *conclusive) {
  const struct arm *t = &s->arms[ARM_TREATED], *h = &s->arms[ARM_HOLDOUT];
  const struct diff *d = &s->diffs[0];
  *conclusive = 0;
  if (t->visits + h->visits + s->arms[ARM_NONE].visits + s->other == 0) {
    snprintf(out, cap, "no visits");
  } else if (t->n == 0 && h->n == 0) {
    snprintf(out, cap, "no treated or holdout visits: nothing to compare");
  } else if (h->n < STATS_MIN_ARM) {
    snprintf(out, cap,
             "holdout arm too small to conclude: %zu %s, want at least "
             "%d (deliver.holdout sets its share)",
             h->n, ctl_plural(h->n, "visit", "visits"), STATS_MIN_ARM);
  } else if (t->n < STATS_MIN_ARM) {
    snprintf(out, cap,
             "treated arm too small to conclude: %zu %s, want at least %d",
             t->n, ctl_plural(t->n, "visit", "visits"), STATS_MIN_ARM);
  } else if (d->hi < 0 || d->lo > 0) {
    *conclusive = 1;
    char rel[32] = "";
    if (isfinite(d->rel))
      snprintf(rel, sizeof rel, " (%.1f%%)", fabs(d->rel) * 100);
    snprintf(out, cap,
             "treated pages loaded %.0f ms%s %s than holdout; the 95%% "
             "interval of the difference excludes 0",
             fabs(d->ms), rel, d->ms < 0 ? "faster" : "slower");
  } else {
    *conclusive = 1;
    snprintf(out, cap,
             "no significant difference: the 95%% interval of the difference "
             "(%.0f to %.0f ms) includes 0",
             d->lo, d->hi);
  }
}

/* ---- printing ------------------------------------------------------------ */

/* fmt writes |v| with |decimals|, or "-" when it is not defined. */
static const char *fmt(char *buf, size_t cap, double v, int decimals) {
  if (isfinite(v))
    snprintf(buf, cap, "%.*f", decimals, v);
  else
    snprintf(buf, cap, "-");
  return buf;
}

static const char *fmt_range(char *buf, size_t cap, double lo, double hi,
                             int decimals) {
  if (isfinite(lo) && isfinite(hi))
    snprintf(buf, cap, "%.*f..%.*f", decimals, lo, decimals, hi);
  else
    snprintf(buf, cap, "-");
  return buf;
}

static const char *const diff_names[3] = {"treated - holdout", "push - holdout",
                                          "hints - holdout"};

static void print_text(const struct stats *s, const char *why) {
  char when[32];
  if (s->has_since) {
    iso_time(s->since, when, sizeof when);
    printf("window     visits since %s\n", when);
  } else {
    printf("window     every retained visit\n");
  }
  if (s->page[0] != '\0')
    printf("page       %s%s\n", s->page,
           s->page_is_template ? " (a template: every page under it)" : "");
  ctl_printf(11,
             "compared   %" PRIu64 " page%s with rules (a treated or holdout"
             " visit in the window); %" PRIu64
             " visit%s of other pages not counted\n\n",
             s->pages, s->pages == 1 ? "" : "s", s->other,
             s->other == 1 ? "" : "s");

  static const char *const head[] = {"ARM",     "VISITS",    "MEDIAN MS",
                                     "MEAN MS", "95% CI MS", "MEAN BYTES"};
  struct ctl_table t = {
      .ncols = ARRAY_SIZE(head), .head = head, .align = "lrrrrr"};
  for (int i = 0; i < NARMS; i++) {
    const struct arm *a = &s->arms[i];
    char v[24], med[24], mean[24], ci[48], bytes[24];
    snprintf(v, sizeof v, "%" PRIu64, a->visits);
    const char *row[] = {arm_names[i],
                         v,
                         fmt(med, sizeof med, a->median, 0),
                         fmt(mean, sizeof mean, a->mean, 1),
                         fmt_range(ci, sizeof ci, a->lo, a->hi, 1),
                         fmt(bytes, sizeof bytes, a->mean_bytes, 0)};
    ctl_table_add(&t, row);
  }
  ctl_table_print(&t);
  putchar('\n');

  static const char *const dhead[] = {"DIFFERENCE", "MEAN MS", "95% CI MS",
                                      "CHANGE"};
  struct ctl_table dt = {
      .ncols = ARRAY_SIZE(dhead), .head = dhead, .align = "lrrr"};
  for (int i = 0; i < 3; i++) {
    const struct diff *d = &s->diffs[i];
    char ms[24], ci[48], rel[24];
    if (isfinite(d->rel))
      snprintf(rel, sizeof rel, "%+.1f%%", d->rel * 100);
    else
      snprintf(rel, sizeof rel, "-");
    const char *row[] = {diff_names[i], fmt(ms, sizeof ms, d->ms, 1),
                         fmt_range(ci, sizeof ci, d->lo, d->hi, 1), rel};
    ctl_table_add(&dt, row);
  }
  ctl_table_print(&dt);
  ctl_printf(11, "verdict    %s\n\n", why);

  const struct store_outcomes *o = &s->oc;
  char wr[24], hr[24];
  ctl_printf(11,
             "outcomes   push_outcomes rows updated in the window (%s), counts"
             " since each row began\n",
             s->page[0] != '\0' ? "this page" : "exact pages, not templates");
  printf("pushes     promised %" PRId64 ", completed %" PRId64
         ", cancelled %" PRId64 ", wasted %" PRId64 ", pushed bytes %" PRId64
         "\n",
         o->promised, o->completed, o->cancelled, o->wasted, o->pushed_bytes);
  printf("waste      %s ((cancelled + wasted) / promised)\n",
         fmt(wr, sizeof wr, ratio(o->cancelled + o->wasted, o->promised), 3));
  printf("hints      hinted %" PRId64 ", used %" PRId64
         ", use ratio %s (used / hinted)\n",
         o->hinted, o->hinted_used,
         fmt(hr, sizeof hr, ratio(o->hinted_used, o->hinted), 3));
  if (s->ntop == 0)
    return;
  putchar('\n');
  static const char *const whead[] = {"PAGE",      "RESOURCE", "PROMISED",
                                      "CANCELLED", "WASTED",   "WASTE"};
  struct ctl_table wt = {
      .ncols = ARRAY_SIZE(whead), .head = whead, .align = "llrrrr"};
  for (size_t i = 0; i < s->ntop; i++) {
    const struct wasted_row *w = &s->top[i];
    char pr[24], ca[24], wa[24], ra[24];
    snprintf(pr, sizeof pr, "%" PRId64, w->promised);
    snprintf(ca, sizeof ca, "%" PRId64, w->cancelled);
    snprintf(wa, sizeof wa, "%" PRId64, w->wasted);
    const char *row[] = {
        w->page,
        ctl_short_key(w->page, w->resource),
        pr,
        ca,
        wa,
        fmt(ra, sizeof ra, ratio(w->cancelled + w->wasted, w->promised), 3)};
    ctl_table_add(&wt, row);
  }
  ctl_table_print(&wt);
}

static void json_range(double lo, double hi) {
  if (!isfinite(lo) || !isfinite(hi)) {
    fputs("null", stdout);
    return;
  }
  putchar('[');
  ctl_json_num(lo, 3);
  fputs(", ", stdout);
  ctl_json_num(hi, 3);
  putchar(']');
}

static void print_json(const struct stats *s, const char *why, int conclusive) {
  char when[32];
  fputs("{\"since\": ", stdout);
  if (s->has_since) {
    iso_time(s->since, when, sizeof when);
    printf("%" PRId64 ", \"since_iso\": \"%s\"", s->since, when);
  } else {
    fputs("null, \"since_iso\": null", stdout);
  }
  fputs(", \"page\": ", stdout);
  if (s->page[0] != '\0')
    ctl_json_str(s->page);
  else
    fputs("null", stdout);
  printf(",\n \"pages_with_rules\": %" PRIu64 ", \"other_visits\": %" PRIu64
         ",\n \"arms\": {",
         s->pages, s->other);
  for (int i = 0; i < NARMS; i++) {
    const struct arm *a = &s->arms[i];
    printf("%s\n  \"%s\": {\"visits\": %" PRIu64 ", \"timed\": %zu,"
           " \"median_ms\": ",
           i ? "," : "", arm_names[i], a->visits, a->n);
    ctl_json_num(a->median, 1);
    fputs(", \"mean_ms\": ", stdout);
    ctl_json_num(a->mean, 3);
    fputs(", \"sd_ms\": ", stdout);
    ctl_json_num(a->sd, 3);
    fputs(", \"ci95_ms\": ", stdout);
    json_range(a->lo, a->hi);
    fputs(", \"mean_bytes\": ", stdout);
    ctl_json_num(a->mean_bytes, 3);
    putchar('}');
  }
  fputs("},\n \"vs_holdout\": {", stdout);
  for (int i = 0; i < 3; i++) {
    const struct diff *d = &s->diffs[i];
    printf("%s\n  \"%s\": {\"diff_ms\": ", i ? "," : "",
           arm_names[i == 0   ? ARM_TREATED
                     : i == 1 ? ARM_PUSH
                              : ARM_HINTS]);
    ctl_json_num(d->ms, 3);
    fputs(", \"ci95_ms\": ", stdout);
    json_range(d->lo, d->hi);
    fputs(", \"relative\": ", stdout);
    ctl_json_num(d->rel, 4);
    putchar('}');
  }
  printf("},\n \"min_arm_visits\": %d, \"conclusive\": %s, \"verdict\": ",
         STATS_MIN_ARM, conclusive ? "true" : "false");
  ctl_json_str(why);
  const struct store_outcomes *o = &s->oc;
  printf(",\n \"outcomes\": {\"promised\": %" PRId64 ", \"completed\": %" PRId64
         ", \"cancelled\": %" PRId64 ", \"wasted\": %" PRId64
         ", \"pushed_bytes\": %" PRId64 ", \"hinted\": %" PRId64
         ", \"hinted_used\": %" PRId64 ", \"waste_ratio\": ",
         o->promised, o->completed, o->cancelled, o->wasted, o->pushed_bytes,
         o->hinted, o->hinted_used);
  ctl_json_num(ratio(o->cancelled + o->wasted, o->promised), 4);
  fputs(", \"hint_use_ratio\": ", stdout);
  ctl_json_num(ratio(o->hinted_used, o->hinted), 4);
  fputs("},\n \"most_wasted\": [", stdout);
  for (size_t i = 0; i < s->ntop; i++) {
    const struct wasted_row *w = &s->top[i];
    fputs(i ? ",\n  {\"page\": " : "\n  {\"page\": ", stdout);
    ctl_json_str(w->page);
    fputs(", \"resource\": ", stdout);
    ctl_json_str(w->resource);
    printf(", \"promised\": %" PRId64 ", \"cancelled\": %" PRId64
           ", \"wasted\": %" PRId64 ", \"waste_ratio\": ",
           w->promised, w->cancelled, w->wasted);
    ctl_json_num(ratio(w->cancelled + w->wasted, w->promised), 4);
    putchar('}');
  }
  fputs(s->ntop ? "\n ]}\n" : "]}\n", stdout);
}

int ctl_stats(const struct ctl *c) {
  struct stats *s = xcalloc(1, sizeof(*s));
  s->has_since = c->has_since;
  s->since = c->since_ms;
  s->page_id = -1;
  int st = c->page != NULL ? find_page(c, s) : CTL_OK;
  if (st == CTL_OK)
    st = read_visits(c, s);
  if (st == CTL_OK)
    st = read_outcomes(c, s);
  if (st == CTL_OK) {
    for (int i = 0; i < NARMS; i++)
      arm_finish(&s->arms[i]);
    const struct arm *h = &s->arms[ARM_HOLDOUT];
    s->diffs[0] = arm_diff(&s->arms[ARM_TREATED], h);
    s->diffs[1] = arm_diff(&s->arms[ARM_PUSH], h);
    s->diffs[2] = arm_diff(&s->arms[ARM_HINTS], h);
    char why[256];
    int conclusive;
    verdict(s, why, sizeof why, &conclusive);
    if (c->json)
      print_json(s, why, conclusive);
    else
      print_text(s, why);
  }
  for (int i = 0; i < NARMS; i++)
    free(s->arms[i].load);
  for (size_t i = 0; i < s->ntop; i++) {
    free(s->top[i].page);
    free(s->top[i].resource);
  }
  free(s);
  return st;
}
