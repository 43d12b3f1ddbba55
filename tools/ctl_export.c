/* ctl_export.c: `heraldctl export` and `import`: rules, overrides and
 * settings as one JSON document, to seed a new herald from an old one.
 *
 *   {"herald_export": 1,
 *    "settings":  [{"scope": "global", "name": "hint_threshold",
 *                   "value": "0.9"}, ...],
 *    "overrides": [{"page": KEY, "resource": KEY, "action": "pin"}, ...],
 *    "rules":     [{"page": KEY, "class": "desktop", "resource": KEY,
 *                   "type": "style", "dest": 2, "ord": 0,
 *                   "channel": "push", "state": "learned", "k": .., "n": ..,
 *                   "confidence": .., "wilson": .., "clients": ..,
 *                   "bytes": .., "delay_ms": .., "depth": ..,
 *                   "pushable": true, "level": "page", "rank": "style",
 *                   "urgency": 0}, ...]}
 * (level, rank and urgency may be left out: page, by dest, none).
 *
 * Numbers are written with 17 significant digits, so an import
 * reproduces them exactly. Import checks the shape above strictly
 * (unknown keys, wrong types and bad values are refused, naming the first
 * bad element), each setting as `set` would, then applies the document
 * in one transaction (store/store_import.c: settings and overrides
 * upserted, every (page, class) in the file given exactly the file's
 * rules). A herald serving the new database loads these rules at start;
 * its learner replaces a page's rules once it recomputes that page from
 * its own visits. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/util.h"
#include "learner/audit.h"
#include "learner/learn.h"
#include "store/store.h"
#include "tools/ctl.h"

/* An import larger than this is refused rather than read into memory. */
#define IMPORT_MAX (512u << 20)

/* ---- export ----------------------------------------------------------------- */

struct export_run {
  size_t count;
};

static void on_rule(void *ud, const char *page, int mobile,
                    const struct learn_rule *r) {
  struct export_run *run = ud;
  fputs(run->count++ ? ",\n  {\"page\": " : "\n  {\"page\": ", stdout);
  ctl_json_str(page);
  printf(", \"class\": \"%s\", \"resource\": ", ctl_class_name(mobile));
  ctl_json_str(r->key);
  printf(", \"type\": \"%s\", \"dest\": %u, \"ord\": %d, \"channel\": \"%s\","
         " \"state\": \"%s\", \"k\": %.17g, \"n\": %.17g, \"confidence\":"
         " %.17g, \"wilson\": %.17g, \"clients\": %d, \"bytes\": %" PRIu64
         ", \"delay_ms\": %" PRIu32 ", \"depth\": %u, \"pushable\": %s,"
         " \"level\": \"%s\", \"rank\": \"%s\", \"urgency\": ",
         ctl_dest_name(r->dest), r->dest, r->ord,
         learn_channel_name(r->channels), learn_state_name(r->state), r->k,
         r->n, r->confidence, r->wilson, r->clients, r->bytes,
         r->median_delay_ms, r->depth, r->pushable ? "true" : "false",
         learn_level_name(r->level), learn_rank_name(r->rank));
  if (r->urgency != VISIT_URGENCY_NONE)
    printf("%u}", r->urgency);
  else
    fputs("null}", stdout);
}

/* Settings and overrides are printed as objects of text members. */
struct rows_run {
  size_t n;
};

static void print_row(struct rows_run *run, const char *const *names,
                      const char *const *values, int ncols) {
  fputs(run->n++ ? ",\n  {" : "\n  {", stdout);
  for (int i = 0; i < ncols; i++) {
    printf("%s\"%s\": ", i ? ", " : "", names[i]);
    ctl_json_str(values[i]);
  }
  putchar('}');
}

static void on_setting(void *ud, const char *scope, const char *name,
                       const char *value) {
  /* What heraldctl noted for herald's log is no setting to carry over. */
  if (strcmp(scope, AUDIT_SCOPE) == 0)
    return;
  static const char *const names[] = {"scope", "name", "value"};
  const char *const values[] = {scope, name, value};
  print_row(ud, names, values, 3);
}

static void on_override(void *ud, const char *page_key,
                        const char *resource_key, const char *action) {
  static const char *const names[] = {"page", "resource", "action"};
  const char *const values[] = {page_key, resource_key, action};
  print_row(ud, names, values, 3);
}

int ctl_export(const struct ctl *c) {
  /* One read transaction: the three sections are of one moment, even
   * while herald's learner writes. */
  if (store_begin_read(c->s) != 0)
    return ctl_store_error(c);
  fputs("{\"herald_export\": 1,\n \"settings\": [", stdout);
  struct rows_run rows = {0};
  int st = store_list_settings(c->s, on_setting, &rows) != 0
               ? ctl_store_error(c)
               : CTL_OK;
  if (st == CTL_OK) {
    fputs(rows.n ? "\n ]" : "]", stdout);
    fputs(",\n \"overrides\": [", stdout);
    rows.n = 0;
    if (store_load_overrides(c->s, on_override, &rows) != 0)
      st = ctl_store_error(c);
    else
      fputs(rows.n ? "\n ]" : "]", stdout);
  }
  if (st == CTL_OK) {
    fputs(",\n \"rules\": [", stdout);
    struct export_run run = {0};
    if (store_load_rules(c->s, on_rule, &run) != 0)
      st = ctl_store_error(c);
    fputs(run.count ? "\n ]}\n" : "]}\n", stdout);
  }
  store_end_read(c->s);
  return st;
}

/* ---- import ----------------------------------------------------------------- */

/* read_all reads |path| ("-" or NULL: stdin) into a NUL-terminated
 * buffer. */
static char *read_all(const char *path, size_t *len) {
  FILE *f = path == NULL || strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "heraldctl: import %s: %s\n", path, strerror(errno));
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  char *buf = xmalloc(cap);
  for (;;) {
    if (n + 1 == cap) {
      if (cap >= IMPORT_MAX) {
        fprintf(stderr, "heraldctl: import: more than %u bytes\n", IMPORT_MAX);
        free(buf);
        buf = NULL;
        break;
      }
      cap *= 2;
      buf = xrealloc(buf, cap);
    }
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0) {
      if (ferror(f)) {
        fprintf(stderr, "heraldctl: import: reading: %s\n", strerror(errno));
        free(buf);
        buf = NULL;
      }
      break;
    }
  }
  if (f != stdin)
    fclose(f);
  if (buf != NULL) {
    buf[n] = '\0';
    *len = n;
  }
  return buf;
}

/* check_setting validates each setting's value as `set` would. */
static int check_setting(void *ud, int index, const char *name,
                         const char *value) {
  int *status = ud;
  const struct ctl_setting *set = ctl_setting_find(name);
  char norm[64], why[96];
  if (set == NULL) {
    fprintf(stderr, "heraldctl: import: settings[%d]: unknown setting '%s'\n",
            index, name);
    *status = CTL_ERROR;
  } else if (ctl_setting_check(set, value, norm, sizeof norm, why,
                               sizeof why) != 0) {
    fprintf(stderr, "heraldctl: import: settings[%d]: %s '%s': %s\n", index,
            name, value, why);
    *status = CTL_ERROR;
  }
  return *status != CTL_OK;
}

static int check_shape(const struct ctl *c, const char *doc) {
  struct store_import_check k;
  if (store_import_check(c->s, doc, &k) != 0)
    return ctl_store_error(c);
  switch (k.problem) {
  case STORE_IMPORT_NOT_JSON:
    fputs("heraldctl: import: not a JSON document\n", stderr);
    return CTL_ERROR;
  case STORE_IMPORT_NOT_EXPORT:
    fputs("heraldctl: import: not a heraldctl export (no \"herald_export\":"
          " 1)\n",
          stderr);
    return CTL_ERROR;
  case STORE_IMPORT_UNEXPECTED:
    fprintf(stderr, "heraldctl: import: unexpected \"%s\" (want herald_export"
                    " and arrays settings, overrides, rules)\n",
            k.where);
    return CTL_ERROR;
  case STORE_IMPORT_BAD_ELEMENT:
    fprintf(stderr, "heraldctl: import: %s[%s]: missing, unexpected or bad"
                    " fields\n",
            k.section, k.where);
    return CTL_ERROR;
  }
  int status = CTL_OK;
  if (store_import_settings(c->s, doc, check_setting, &status) != 0 &&
      status == CTL_OK)
    return ctl_store_error(c);
  return status;
}

int ctl_import(const struct ctl *c) {
  size_t len;
  char *doc = read_all(c->nargs > 0 ? c->args[0] : NULL, &len);
  if (doc == NULL)
    return CTL_ERROR;
  int st = check_shape(c, doc);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
  struct store_import_counts n;
  if (st == CTL_OK && store_import(c->s, doc, len, now, &n) != 0)
    st = ctl_store_error(c);
  if (st == CTL_OK) {
    char what[256];
    snprintf(
        what, sizeof what,
        "%d %s, %d %s, %d %s for %" PRId64 " %s (page and class)", n.settings,
        ctl_plural((uint64_t)n.settings, "setting", "settings"), n.overrides,
        ctl_plural((uint64_t)n.overrides, "override", "overrides"), n.rules,
        ctl_plural((uint64_t)n.rules, "rule", "rules"), n.pages,
        ctl_plural((uint64_t)n.pages, "page", "pages"));
    ctl_audit(c, "import", what);
    if (c->json)
      printf("{\"settings\": %d, \"overrides\": %d, \"rules\": %d,"
             " \"pages\": %" PRId64 "}\n",
             n.settings, n.overrides, n.rules, n.pages);
    else
      printf("imported %s; a running herald applies the settings and"
             " overrides within one learner interval and serves the rules"
             " from its next start\n",
             what);
  }
  free(doc);
  return st;
}
