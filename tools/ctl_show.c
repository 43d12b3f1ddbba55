/* ctl_show.c: heraldctl's `pages` and `rules`: what the database knows,
 * as an aligned table for a person or a JSON array for a script (the
 * output helpers are in ctl_io.c). `rules` joins each stored rule with
 * what became of its pushes and hints (push_outcomes, zeros when herald
 * has recorded none). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/util.h"
#include "learner/learn.h"
#include "store/store.h"
#include "tools/ctl.h"

static void iso_time(int64_t ms, char *out, size_t cap) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  if (ms <= 0 || gmtime_r(&t, &tm) == NULL ||
      strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    snprintf(out, cap, "-");
}

/* ---- pages ----------------------------------------------------------------
 */

static const char *const page_head[] = {"PAGE",   "TEMPLATE", "CLASS",
                                        "VISITS", "RULES",    "LAST SEEN"};

struct pages_run {
  const struct ctl *c;
  struct ctl_table t;
  size_t count;
};

static void on_page(void *ud, const struct store_page *p) {
  struct pages_run *run = ud;
  if (run->c->mobile >= 0 && run->c->mobile != p->mobile)
    return;
  char seen[32];
  iso_time(p->last_seen_ms, seen, sizeof seen);
  if (run->c->json) {
    ctl_json_next(&run->count);
    fputs("\"page\": ", stdout);
    ctl_json_str(p->key);
    printf(", \"is_template\": %s, \"class\": \"%s\", \"visits\": %" PRId64
           ", \"rules\": %" PRId64 ", \"last_seen\": \"%s\"}",
           p->is_template ? "true" : "false", ctl_class_name(p->mobile), p->visits,
           p->rules, seen);
    return;
  }
  char visits[24], rules[24];
  snprintf(visits, sizeof visits, "%" PRId64, p->visits);
  snprintf(rules, sizeof rules, "%" PRId64, p->rules);
  const char *row[] = {p->key,
                       p->is_template ? "yes" : "no",
                       ctl_class_name(p->mobile),
                       visits,
                       rules,
                       seen};
  ctl_table_add(&run->t, row);
  run->count++;
}

int ctl_pages(const struct ctl *c) {
  struct pages_run run = {.c = c};
  run.t.ncols = ARRAY_SIZE(page_head);
  run.t.head = page_head;
  run.t.align = "lllrrl";
  if (!c->json && ctl_table_check(&run.t) != CTL_OK)
    return CTL_ERROR;
  int rv = store_list_pages(c->s, on_page, &run);
  if (rv != 0) {
    fprintf(stderr, "heraldctl: %s\n", store_errmsg(c->s));
    ctl_table_free(&run.t);
    return CTL_ERROR;
  }
  if (c->json)
    ctl_json_end(run.count);
  else
    ctl_table_print(&run.t);
  return CTL_OK;
}

/* ---- rules ----------------------------------------------------------------
 */

static const char *const rule_head[] = {
    "PAGE",     "CLASS",     "ORD",       "RESOURCE", "TYPE",   "RANK",
    "LEVEL",    "CONFIDENCE",
    "WILSON",   "N",         "K",         "CLIENTS",  "BYTES",  "DELAY",
    "CHANNEL",  "STATE",     "PROMISED",  "COMPLETED", "CANCELLED", "WASTED",
    "HINTED",   "HINTED_USED"};

/* The columns of push_outcomes, in rule_head's order. */
#define NOUTCOMES 6
static const char *const outcome_names[NOUTCOMES] = {
    "promised", "completed", "cancelled", "wasted", "hinted", "hinted_used"};

struct rules_run {
  const struct ctl *c;
  int failed;
  struct ctl_table t;
  size_t count;
};

/* outcomes_of reads the push outcomes of one rule into |out|: zeros when
 * herald has recorded none. */
static void outcomes_of(struct rules_run *run, const char *page, int mobile,
                        const char *res, int64_t *out) {
  struct store_outcomes o;
  if (store_get_outcomes(run->c->s, page, mobile, res, &o) != 0 &&
      !run->failed)
    run->failed = ctl_store_error(run->c);
  const int64_t v[NOUTCOMES] = {o.promised, o.completed, o.cancelled,
                                o.wasted,   o.hinted,    o.hinted_used};
  memcpy(out, v, sizeof v);
}

static void rule_json(const char *page, int mobile, const struct learn_rule *r,
                      const int64_t *oc) {
  fputs("\"page\": ", stdout);
  ctl_json_str(page);
  printf(", \"class\": \"%s\", \"ord\": ", ctl_class_name(mobile));
  if (r->ord >= 0)
    printf("%d", r->ord);
  else
    fputs("null", stdout);
  fputs(", \"resource\": ", stdout);
  ctl_json_str(r->key);
  printf(", \"type\": \"%s\", \"rank\": \"%s\", \"level\": \"%s\","
         " \"confidence\": %.4f, \"wilson\": %.4f,"
         " \"n\": %.2f, \"k\": %.2f, \"clients\": %d, \"bytes\": %" PRIu64
         ", \"delay_ms\": %" PRIu32 ", \"depth\": %u, \"channel\": \"%s\","
         " \"state\": \"%s\"",
         ctl_dest_name(r->dest), learn_rank_name(r->rank),
         learn_level_name(r->level), r->confidence, r->wilson, r->n, r->k,
         r->clients, r->bytes, r->median_delay_ms, r->depth,
         learn_channel_name(r->channels), learn_state_name(r->state));
  fputs(", \"outcomes\": {", stdout);
  for (int i = 0; i < NOUTCOMES; i++)
    printf("%s\"%s\": %" PRId64, i ? ", " : "", outcome_names[i], oc[i]);
  fputs("}}", stdout);
}

static void on_rule(void *ud, const char *page, int mobile,
                    const struct learn_rule *r) {
  struct rules_run *run = ud;
  const struct ctl *c = run->c;
  if ((c->mobile >= 0 && c->mobile != mobile) ||
      (c->page != NULL && !ctl_page_matches(page, c->page)))
    return;
  int64_t oc[NOUTCOMES];
  outcomes_of(run, page, mobile, r->key, oc);
  if (c->json) {
    ctl_json_next(&run->count);
    rule_json(page, mobile, r, oc);
    return;
  }
  char ord[16], conf[16], wilson[16], n[24], k[24], clients[16], bytes[24],
      delay[24], ocs[NOUTCOMES][24];
  if (r->ord >= 0)
    snprintf(ord, sizeof ord, "%d", r->ord);
  else
    snprintf(ord, sizeof ord, "-");
  snprintf(conf, sizeof conf, "%.3f", r->confidence);
  snprintf(wilson, sizeof wilson, "%.3f", r->wilson);
  snprintf(n, sizeof n, "%.1f", r->n);
  snprintf(k, sizeof k, "%.1f", r->k);
  snprintf(clients, sizeof clients, "%d", r->clients);
  if (ctl_human())
    ctl_fmt_size((double)r->bytes, 0, bytes, sizeof bytes);
  else
    snprintf(bytes, sizeof bytes, "%" PRIu64, r->bytes);
  snprintf(delay, sizeof delay, "%" PRIu32 "ms", r->median_delay_ms);
  for (int i = 0; i < NOUTCOMES; i++)
    snprintf(ocs[i], sizeof ocs[i], "%" PRId64, oc[i]);
  const char *row[] = {page,
                       ctl_class_name(mobile),
                       ord,
                       ctl_short_key(page, r->key),
                       ctl_dest_name(r->dest),
                       learn_rank_name(r->rank),
                       learn_level_name(r->level),
                       conf,
                       wilson,
                       n,
                       k,
                       clients,
                       bytes,
                       delay,
                       learn_channel_name(r->channels),
                       learn_state_name(r->state),
                       ocs[0],
                       ocs[1],
                       ocs[2],
                       ocs[3],
                       ocs[4],
                       ocs[5]};
  ctl_table_add(&run->t, row);
  run->count++;
}

int ctl_rules(const struct ctl *c) {
  struct rules_run run = {.c = c};
  run.t.ncols = ARRAY_SIZE(rule_head);
  run.t.head = rule_head;
  run.t.align = "llrllllrrrrrrrllrrrrrr";
  /* On a terminal: what goes out (resource, type, channel, state), in
   * what order (ord) and how sure (wilson, n, clients), and its size. */
  run.t.show = "ggdddwwwddwddwddwwwwww";
  if (c->live != NULL)
    return ctl_rules_live(c);
  if (!c->json && ctl_table_check(&run.t) != CTL_OK)
    return CTL_ERROR;
  int rv = store_load_rules(c->s, on_rule, &run);
  if (rv != 0 || run.failed) {
    if (rv != 0)
      fprintf(stderr, "heraldctl: %s\n", store_errmsg(c->s));
    ctl_table_free(&run.t);
    return CTL_ERROR;
  }
  if (c->page != NULL && run.count == 0) {
    /* Nothing was printed for JSON: the array never opened. */
    char key[4096];
    int st = ctl_find_page(c, c->page, key, sizeof key);
    if (st != CTL_OK)
      return st;
    if (c->mobile >= 0)
      fprintf(stderr, "heraldctl: no rules for %s (%s)\n", c->page,
              ctl_class_name(c->mobile));
    else
      fprintf(stderr, "heraldctl: no rules for %s\n", c->page);
    return CTL_NOT_FOUND;
  }
  if (c->json)
    ctl_json_end(run.count);
  else
    ctl_table_print(&run.t);
  return CTL_OK;
}
