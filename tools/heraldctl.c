/* heraldctl.c: the operator's command line for herald.
 *
 * heraldctl works on herald's SQLite database, also while herald runs: it
 * finds the file (--db, or [store] db of herald's configuration), opens
 * it through store/ like the recorder does (WAL, so a running herald
 * keeps recording meanwhile; a busy database is waited for, not failed)
 * and runs one command. `pages` and `rules` show what was recorded and
 * learned (ctl_show.c); `learn` recomputes every rule offline by replaying
 * the retained visits through the same learner herald runs; the settings
 * and override commands (ctl_tune.c) write what a running herald's
 * learner reads at every recompute; `explain` and `simulate` run learn.c
 * on the retained visits; `export` and `import` move rules, overrides and
 * settings between databases; `stats` compares the holdout arm's page
 * loads with the treated ones and sums the push and hint outcomes
 * (ctl_stats.c). A missing file is reported, never created:
 * a mistyped path must not leave an empty database behind.
 *
 * Exit statuses: 0 ok, 1 not found (no such page, resource, route or
 * override), 2 bad usage, a bad value, no or a bad database, or any other
 * error. Every error is one line on stderr. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "base/util.h"
#include "config/config.h"
#include "learner/learn.h"
#include "store/store.h"
#include "tools/ctl.h"

#define HERALDCTL_VERSION "0.3.0"
/* A busy database (herald's recorder in a write) is waited for this long
 * before a command gives up. */
#define CTL_BUSY_MS 10000
/* Rules asked of the learner per page: the served ones (at most
 * max_resources) and near misses, of which the first ones are kept. */
#define RULES_CAP 1024

static int usage_error(const char *fmt, const char *arg) {
  fputs("heraldctl: ", stderr);
  fprintf(stderr, fmt, arg);
  fputs(" (heraldctl --help)\n", stderr);
  return CTL_ERROR;
}

/* ---- learn ----------------------------------------------------------------
 */

struct page_ref {
  char *key;
  int mobile;
};

struct learn_run {
  struct learn *l;
  uint64_t visits;
  struct ctl_overrides ov;
  struct page_ref *pages; /* the learner's (page, class) pairs */
  size_t npages, cpages;
  struct page_ref *old; /* (page, class) pairs that had rules */
  size_t nold, cold;
};

static void push_page(struct page_ref **a, size_t *n, size_t *cap,
                      const char *key, int mobile) {
  if (*n == *cap) {
    *cap = *cap != 0 ? *cap * 2 : 64;
    *a = xrealloc(*a, *cap * sizeof(**a));
  }
  (*a)[(*n)++] = (struct page_ref){xstrdup(key), mobile};
}

static void on_learned_page(void *ud, uint32_t id, const char *key,
                            int mobile, int level, int64_t parent) {
  (void)id, (void)level, (void)parent;
  struct learn_run *run = ud;
  push_page(&run->pages, &run->npages, &run->cpages, key, mobile);
}

/* on_old_rule notes each (page, class) that has rules now, once (rows come
 * grouped by page and class). */
static void on_old_rule(void *ud, const char *page_key, int mobile,
                        const struct learn_rule *r) {
  struct learn_run *run = ud;
  (void)r;
  if (run->nold > 0) {
    const struct page_ref *last = &run->old[run->nold - 1];
    if (last->mobile == mobile && strcmp(last->key, page_key) == 0)
      return;
  }
  push_page(&run->old, &run->nold, &run->cold, page_key, mobile);
}

static int cmp_page(const void *a, const void *b) {
  const struct page_ref *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  return c != 0 ? c : x->mobile - y->mobile;
}

static void free_pages(struct page_ref *a, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(a[i].key);
  free(a);
}

static void learn_run_free(struct learn_run *run) {
  learn_free(run->l);
  ctl_overrides_free(&run->ov);
  free_pages(run->pages, run->npages);
  free_pages(run->old, run->nold);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* learn_page writes the rules and aggregates of one (page, class) and adds
 * its served rules to |*nrules|. */
static int learn_page(const struct ctl *c, struct learn_run *run,
                      const struct page_ref *pg, const struct learn_params *p,
                      struct learn_rule *out, int64_t now, uint64_t *nrules) {
  struct learn_overrides ov;
  ctl_overrides_for(c, &run->ov, pg->key, &ov);
  size_t n = learn_rules(run->l, pg->key, pg->mobile, p, &ov, out, RULES_CAP);
  int rv = store_replace_rules(c->s, pg->key, pg->mobile, out, n, now);
  for (size_t i = 0; rv == 0 && i < n; i++) {
    /* An override for a resource the page never requested has no
     * counts to keep. */
    if (out[i].n <= 0)
      continue;
    rv = store_put_aggregate(c->s, pg->key, pg->mobile, &out[i],
                             out[i].pushable, now);
  }
  for (size_t i = 0; i < n; i++)
    if (out[i].channels != 0)
      (*nrules)++;
  return rv;
}

/* store_all writes every page's rules in one transaction, each with the
 * parameters of its route (|global| when it has none), and empties the
 * rules of pages the replay no longer knows (their visits were trimmed),
 * so the file matches a fresh learner. */
static int store_all(const struct ctl *c, struct learn_run *run,
                     const struct learn_params *global, uint64_t *nrules) {
  struct learn_rule *out = xcalloc(RULES_CAP, sizeof(*out));
  int64_t now = now_ms();
  int status = CTL_OK;
  int rv = store_begin(c->s);
  for (size_t i = 0; rv == 0 && i < run->npages; i++) {
    const char *route = ctl_route_of(c, run->pages[i].key);
    struct learn_params p = *global;
    double half_life;
    if (route != NULL) {
      status = ctl_params(c, route, &p, &half_life);
      if (status != CTL_OK)
        break;
    }
    rv = learn_page(c, run, &run->pages[i], &p, out, now, nrules);
  }
  /* qsort and bsearch want a non-NULL array, even an empty one. */
  if (run->npages > 0)
    qsort(run->pages, run->npages, sizeof(*run->pages), cmp_page);
  for (size_t i = 0; status == CTL_OK && rv == 0 && i < run->nold; i++) {
    const struct page_ref *o = &run->old[i];
    if (run->npages == 0 || bsearch(o, run->pages, run->npages,
                                    sizeof(*run->pages), cmp_page) == NULL)
      rv = store_replace_rules(c->s, o->key, o->mobile, NULL, 0, now);
  }
  if (status == CTL_OK && rv == 0)
    rv = store_commit(c->s);
  if (status != CTL_OK || rv != 0)
    store_rollback(c->s);
  free(out);
  if (rv != 0) {
    fprintf(stderr, "heraldctl: %s\n", store_errmsg(c->s));
    return CTL_ERROR;
  }
  return status;
}

/* cmd_learn starts from the defaults, then [learn] of herald's
 * configuration when -c gave one, then the global settings (and a page's
 * route settings), as herald's learner thread does. */
static int cmd_learn(const struct ctl *c) {
  struct learn_params p;
  double half_life;
  int status = ctl_params(c, NULL, &p, &half_life);
  if (status != CTL_OK)
    return status;
  struct learn_run run = {.l = learn_new(half_life, ctl_section_depth(c))};
  status = ctl_replay(c, run.l, &run.visits);
  if (status == CTL_OK)
    status = ctl_overrides_load(c, &run.ov);
  if (status == CTL_OK && store_load_rules(c->s, on_old_rule, &run) != 0) {
    fprintf(stderr, "heraldctl: %s\n", store_errmsg(c->s));
    status = CTL_ERROR;
  }
  uint64_t nrules = 0;
  if (status == CTL_OK) {
    learn_foreach_page(run.l, on_learned_page, &run);
    status = store_all(c, &run, &p, &nrules);
  }
  if (status == CTL_OK) {
    /* Keys by level: the pages themselves, and what they taught their
     * templates, sections and sites. */
    size_t by[LEARN_LEVELS] = {0};
    for (size_t i = 0; i < run.npages; i++) {
      int lv = learn_level_of(run.l, run.pages[i].key, run.pages[i].mobile);
      by[lv >= 0 ? lv : LEARN_PAGE]++;
    }
    char what[256];
    snprintf(what, sizeof what,
             "%" PRIu64 " %s for %zu %s (%zu %s, %zu %s, %zu %s, %zu %s)"
             " from %" PRIu64 " %s",
             nrules, ctl_plural(nrules, "rule", "rules"), run.npages,
             ctl_plural(run.npages, "key", "keys"), by[LEARN_PAGE],
             ctl_plural(by[LEARN_PAGE], "page", "pages"), by[LEARN_TEMPLATE],
             ctl_plural(by[LEARN_TEMPLATE], "template", "templates"),
             by[LEARN_SECTION],
             ctl_plural(by[LEARN_SECTION], "section", "sections"),
             by[LEARN_SITE], ctl_plural(by[LEARN_SITE], "site", "sites"),
             run.visits, ctl_plural(run.visits, "visit", "visits"));
    ctl_audit(c, "learn", what);
    if (c->json)
      printf("{\"rules\": %" PRIu64 ", \"keys\": %zu, \"pages\": %zu,"
             " \"templates\": %zu, \"sections\": %zu, \"sites\": %zu,"
             " \"visits\": %" PRIu64 "}\n",
             nrules, run.npages, by[LEARN_PAGE], by[LEARN_TEMPLATE],
             by[LEARN_SECTION], by[LEARN_SITE], run.visits);
    else
      printf("learned %s\n", what);
  }
  learn_run_free(&run);
  return status;
}

/* ---- the command line ------------------------------------------------------
 */

#define MAX_POS 4

struct args {
  const char *db, *config, *cls, *route, *channel, *threshold, *step,
      *min_visits, *since, *page, *cols, *live;
  int json, help, version, wide;
  const char *pos[MAX_POS]; /* command and its arguments */
  int npos;
};

/* opt_value takes the value of |name| from "--name=V" or the next
 * argument; returns NULL (and reports) when there is none. */
static const char *opt_value(int argc, char **argv, int *i, const char *name) {
  const char *a = argv[*i];
  size_t n = strlen(name);
  if (strncmp(a, name, n) == 0 && a[n] == '=')
    return a + n + 1;
  if (*i + 1 >= argc) {
    usage_error("%s needs a value", name);
    return NULL;
  }
  return argv[++*i];
}

static int is_opt(const char *a, const char *name) {
  size_t n = strlen(name);
  return strncmp(a, name, n) == 0 && (a[n] == '\0' || a[n] == '=');
}

static int parse_args(int argc, char **argv, struct args *a) {
  int opts = 1;
  static const struct {
    const char *name;
    size_t off;
  } valued[] = {
      {"--db", offsetof(struct args, db)},
      {"--config", offsetof(struct args, config)},
      {"--class", offsetof(struct args, cls)},
      {"--route", offsetof(struct args, route)},
      {"--channel", offsetof(struct args, channel)},
      {"--threshold", offsetof(struct args, threshold)},
      {"--step", offsetof(struct args, step)},
      {"--min-visits", offsetof(struct args, min_visits)},
      {"--since", offsetof(struct args, since)},
      {"--page", offsetof(struct args, page)},
      {"--live", offsetof(struct args, live)},
  };
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i];
    const char **dst = NULL, *name = NULL;
    /* "-5" is a (bad) value, not an option: let the command say why. */
    if (opts && strcmp(s, "--") == 0) {
      opts = 0;
      continue;
    }
    if (!opts || s[0] != '-' || s[1] == '\0' ||
        (s[1] >= '0' && s[1] <= '9') || s[1] == '.') {
      if (a->npos == MAX_POS)
        return usage_error("unexpected argument '%s'", s);
      a->pos[a->npos++] = s;
      continue;
    }
    if (strcmp(s, "--json") == 0) {
      a->json = 1;
    } else if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
      a->help = 1;
    } else if (strcmp(s, "-V") == 0 || strcmp(s, "--version") == 0) {
      a->version = 1;
    } else if (strcmp(s, "--wide") == 0) {
      a->wide = 1;
    } else if (strcmp(s, "-c") == 0) {
      dst = &a->config, name = "-c";
    } else if (strcmp(s, "-o") == 0) {
      dst = &a->cols, name = "-o";
    } else {
      for (size_t k = 0; k < ARRAY_SIZE(valued); k++) {
        if (is_opt(s, valued[k].name)) {
          dst = (const char **)((char *)a + valued[k].off);
          name = valued[k].name;
        }
      }
      if (dst == NULL)
        return usage_error("unknown option '%s'", s);
    }
    if (dst != NULL) {
      *dst = opt_value(argc, argv, &i, name);
      if (*dst == NULL)
        return CTL_ERROR;
      if ((*dst)[0] == '\0')
        return usage_error("%s needs a value", name);
    }
  }
  return CTL_OK;
}

/* find_db sets |*path| from --db or the configuration's [store] db. The
 * configuration is heap-allocated (it is large) and kept in |*cfg|; it
 * is read whenever -c names one, for its [learn] values and routes. */
static int find_db(const struct args *a, struct config **cfg,
                   const char **path) {
  if (a->config != NULL) {
    char err[512];
    *cfg = xcalloc(1, sizeof(**cfg));
    config_defaults(*cfg);
    if (config_load(*cfg, a->config, err, sizeof err) != 0) {
      fprintf(stderr, "heraldctl: %s\n", err);
      return CTL_ERROR;
    }
  }
  if (a->db != NULL) {
    *path = a->db;
    return CTL_OK;
  }
  if (a->npos > 1 && strcmp(a->pos[0], "learn") == 0) {
    *path = a->pos[1];
    return CTL_OK;
  }
  if (a->config == NULL) {
    fputs("heraldctl: no database: use --db PATH or -c CONFIG\n", stderr);
    return CTL_ERROR;
  }
  if ((*cfg)->db[0] == '\0') {
    fprintf(stderr, "heraldctl: no database: %s sets no [store] db\n",
            a->config);
    return CTL_ERROR;
  }
  *path = (*cfg)->db;
  return CTL_OK;
}

/* open_db opens an existing database; store_open alone would create one
 * at a mistyped path. A missing or foreign file is exit 2: the command
 * could not run at all. */
static int open_db(const char *path, struct ctl *c) {
  struct stat sb;
  if (stat(path, &sb) != 0) {
    int e = errno;
    if (e == ENOENT || e == ENOTDIR)
      fprintf(stderr, "heraldctl: no database at %s (no such file)\n", path);
    else
      fprintf(stderr, "heraldctl: database %s: %s\n", path, strerror(e));
    return CTL_ERROR;
  }
  if (!S_ISREG(sb.st_mode)) {
    fprintf(stderr, "heraldctl: database %s is not a regular file\n", path);
    return CTL_ERROR;
  }
  char err[512];
  if (store_open(&c->s, path, err, sizeof err) != 0) {
    fprintf(stderr, "heraldctl: %s\n", err);
    return CTL_ERROR;
  }
  c->path = path;
  store_busy_timeout(c->s, CTL_BUSY_MS);
  return CTL_OK;
}

/* The commands, with their argument counts. */
struct command {
  const char *name;
  int min, max; /* arguments after the name */
  int (*run)(const struct ctl *c);
};

static int run_setting(const struct ctl *c) {
  return ctl_setting_cmd(c, c->args[-1]);
}
static int run_override(const struct ctl *c) {
  return ctl_override_cmd(c, c->args[-1]);
}

static const struct command commands[] = {
    {"pages", 0, 0, ctl_pages},
    {"rules", 0, 1, ctl_rules},
    {"learn", 0, 1, cmd_learn},
    {"explain", 2, 2, ctl_explain},
    {"simulate", 0, 0, ctl_simulate},
    {"threshold", 1, 2, run_setting},
    {"min-visits", 1, 2, run_setting},
    {"budget", 1, 2, run_setting},
    {"max-resources", 1, 2, run_setting},
    {"mode", 1, 2, run_setting},
    {"pin", 2, 2, run_override},
    {"block", 2, 2, run_override},
    {"unpin", 2, 2, run_override},
    {"export", 0, 0, ctl_export},
    {"import", 0, 1, ctl_import},
    {"stats", 0, 0, ctl_stats},
};

/* only_for rejects option |set| (named |name|) outside the commands in
 * |cmds| (space-separated). */
static int only_for(const char *set, const char *name, const char *cmd,
                    const char *cmds) {
  if (set == NULL)
    return CTL_OK;
  size_t n = strlen(cmd);
  for (const char *p = cmds; (p = strstr(p, cmd)) != NULL; p += n) {
    if ((p == cmds || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
      return CTL_OK;
  }
  fprintf(stderr, "heraldctl: %s applies to %s (heraldctl --help)\n", name,
          cmds);
  return CTL_ERROR;
}

/* check_command validates the command and its arguments before anything
 * is opened, so a typo never touches the database. */
static int check_command(const struct args *a, struct ctl *c,
                         const struct command **out) {
  if (a->npos == 0)
    return usage_error("%s", "no command");
  const char *cmd = a->pos[0];
  const struct command *k = NULL;
  for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
    if (strcmp(commands[i].name, cmd) == 0)
      k = &commands[i];
  if (k == NULL)
    return usage_error("unknown command '%s'", cmd);
  if (a->npos - 1 > k->max)
    return usage_error("unexpected argument '%s'", a->pos[k->max + 1]);
  if (a->npos - 1 < k->min)
    return usage_error("%s needs more arguments", cmd);
  c->args = a->pos + 1;
  c->nargs = a->npos - 1;
  c->page = a->npos > 1 && strcmp(cmd, "rules") == 0 ? a->pos[1] : NULL;
  if (strcmp(cmd, "learn") == 0 && a->npos > 1 && a->db != NULL)
    return usage_error("%s", "learn DB and --db both name a database");
  int st = only_for(a->cls, "--class", cmd, "pages rules explain");
  if (st == CTL_OK)
    st = only_for(a->route, "--route", cmd,
                  "threshold min-visits budget max-resources mode");
  if (st == CTL_OK)
    st = only_for(a->channel, "--channel", cmd,
                  "threshold budget max-resources");
  if (st == CTL_OK)
    st = only_for(a->threshold, "--threshold", cmd, "simulate");
  if (st == CTL_OK)
    st = only_for(a->step, "--step", cmd, "simulate");
  if (st == CTL_OK)
    st = only_for(a->min_visits, "--min-visits", cmd, "simulate");
  if (st == CTL_OK)
    st = only_for(a->since, "--since", cmd, "stats");
  if (st == CTL_OK)
    st = only_for(a->page, "--page", cmd, "stats");
  if (st == CTL_OK)
    st = only_for(a->cols, "-o", cmd, "pages rules");
  if (st == CTL_OK && a->wide)
    st = only_for("", "--wide", cmd, "pages rules");
  if (st == CTL_OK)
    st = only_for(a->live, "--live", cmd, "rules");
  if (st != CTL_OK)
    return st;
  if (a->wide && a->cols != NULL)
    return usage_error("%s", "--wide and -o: one or the other");
  if (a->live != NULL && a->cols != NULL)
    return usage_error("%s", "--live prints its own columns: no -o");
  if (a->page != NULL)
    c->page = a->page;
  if (a->since != NULL) {
    if (ctl_parse_since(a->since, now_ms(), &c->since_ms) != 0)
      return usage_error("--since '%s': want a duration (90s, 30m, 1h, 7d),"
                         " Unix ms or a UTC date (2026-11-26[T10:00:00])",
                         a->since);
    c->has_since = 1;
  }
  c->mobile = -1;
  if (a->cls != NULL) {
    if (strcmp(a->cls, "desktop") == 0)
      c->mobile = 0;
    else if (strcmp(a->cls, "mobile") == 0)
      c->mobile = 1;
    else
      return usage_error("--class '%s': want desktop or mobile", a->cls);
  }
  if (a->channel != NULL && strcmp(a->channel, "push") != 0 &&
      strcmp(a->channel, "hint") != 0)
    return usage_error("--channel '%s': want push or hint", a->channel);
  c->json = a->json;
  c->route = a->route;
  c->channel = a->channel;
  c->threshold = a->threshold;
  c->step = a->step;
  c->min_visits = a->min_visits;
  c->live = a->live;
  *out = k;
  return CTL_OK;
}

int main(int argc, char **argv) {
  struct args a = {0};
  struct ctl c = {0};
  struct config *cfg = NULL;
  const struct command *k = NULL;
  const char *path = NULL;
  int status = parse_args(argc, argv, &a);
  if (status != CTL_OK)
    return status;
  /* heraldctl COMMAND --help, heraldctl help COMMAND: that command's. */
  int help_cmd = a.npos == 2 && strcmp(a.pos[0], "help") == 0;
  if ((a.help && a.npos >= 1) || help_cmd) {
    const char *name = a.pos[help_cmd ? 1 : 0];
    if (ctl_help_command(name) == 0)
      return CTL_OK;
    return usage_error("unknown command '%s'", name);
  }
  if (a.help || (a.npos == 1 && strcmp(a.pos[0], "help") == 0)) {
    ctl_help(stdout);
    return CTL_OK;
  }
  /* "version" as a command too, as the first cut accepted. */
  if (a.version || (a.npos == 1 && strcmp(a.pos[0], "version") == 0)) {
    printf("heraldctl %s\n", HERALDCTL_VERSION);
    return CTL_OK;
  }
  status = check_command(&a, &c, &k);
  struct ctl_layout lay = {isatty(STDOUT_FILENO), a.wide, a.cols};
  ctl_table_layout(&lay);
  if (status == CTL_OK)
    status = find_db(&a, &cfg, &path);
  c.cfg = cfg;
  if (status == CTL_OK)
    status = open_db(path, &c);
  if (status == CTL_OK)
    status = k->run(&c);
  store_close(c.s);
  free(cfg);
  if (fflush(stdout) != 0 && status == CTL_OK) {
    fprintf(stderr, "heraldctl: writing the output: %s\n", strerror(errno));
    status = CTL_ERROR;
  }
  return status;
}
