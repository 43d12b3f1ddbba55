/* heraldctl.c: the operator's command line for herald.
 *
 * heraldctl works on herald's SQLite database, never on a running herald:
 * it finds the file (--db, or [store] db of herald's configuration), opens
 * it through store/ like the recorder does (WAL, so a running herald
 * keeps recording meanwhile) and runs one command. `pages` and `rules`
 * show what was recorded and learned (ctl_show.c); `learn` recomputes
 * every rule offline by replaying the retained visits through the same
 * learner herald runs. A missing file is reported, never created: a
 * mistyped path must not leave an empty database behind.
 *
 * Exit statuses: 0 ok, 1 not found (no such page, no database file), 2
 * bad usage or any other error. Every error is one line on stderr. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <uv.h>

#include "config/config.h"
#include "learner/learn.h"
#include "proxy/util.h"
#include "store/store.h"
#include "tools/ctl.h"

#define HERALDCTL_VERSION "0.2.0"
#define DEFAULT_HALF_LIFE 100.0
/* Rules asked of the learner per page: the served ones (at most
 * max_resources) and near misses, of which the first ones are kept. */
#define RULES_CAP 1024

static void usage(FILE *f) {
  fputs(
      "usage: heraldctl [--db PATH | -c CONFIG] [--json] [--class CLASS]"
      " COMMAND [ARG]\n"
      "\n"
      "Reads and recomputes herald's rule database. Options may come before\n"
      "or after the command.\n"
      "\n"
      "Commands:\n"
      "  pages         every page and template key with retained visits or\n"
      "                rules, one row per class: whether it is a template,\n"
      "                visits (recorded under the key, both classes), rules\n"
      "                (push or hint), last seen (UTC)\n"
      "  rules [PAGE]  the rules of every page, or of PAGE: a key as stored\n"
      "                (http://127.0.0.1:8080/product/:id) or a bare path\n"
      "                (/product/:id), which matches that path on any host.\n"
      "                Columns: page, class, ord (serving order), resource\n"
      "                (path when on the page's host), type, confidence "
      "(k/n),\n"
      "                wilson (its lower bound), decayed n and k, clients,\n"
      "                bytes, delay (median after the page), channel (push =\n"
      "                push and hint, hint), state (learned, pinned, blocked)\n"
      "  learn [DB]    replay the retained visits into a fresh learner and\n"
      "                replace every rule. Parameters: the defaults, then\n"
      "                [learn] of -c CONFIG, then the settings table (scope\n"
      "                'global'): half_life (100), push_threshold (0.95),\n"
      "                hint_threshold (0.90), z (1.96), min_visits (20),\n"
      "                min_clients (3), budget (102400 bytes),\n"
      "                max_resources (16)\n"
      "\n"
      "Options:\n"
      "  --db PATH           the database file\n"
      "  -c, --config FILE   herald's configuration: use its [store] db\n"
      "  --json              a JSON array of objects instead of a table\n"
      "  --class CLASS       desktop or mobile only (pages, rules)\n"
      "  -h, --help          this text\n"
      "  -V, --version       print the version\n"
      "\n"
      "Exit status: 0 ok, 1 not found (no such page, no database file),\n"
      "2 bad usage or another error.\n",
      f);
}

static int usage_error(const char *fmt, const char *arg) {
  fputs("heraldctl: ", stderr);
  fprintf(stderr, fmt, arg);
  fputs(" (heraldctl --help)\n", stderr);
  return CTL_ERROR;
}

/* ---- learn ----------------------------------------------------------------
 */

struct override {
  char *page, *resource;
  int block;
};

struct page_ref {
  char *key;
  int mobile;
};

struct learn_run {
  struct learn *l;
  uint64_t visits;
  struct override *ov;
  size_t nov, cov;
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

static void on_visit(void *ud, const struct visit *v) {
  struct learn_run *run = ud;
  learn_visit(run->l, v);
  run->visits++;
}

static void on_override(void *ud, const char *page_key,
                        const char *resource_key, const char *action) {
  struct learn_run *run = ud;
  if (run->nov == run->cov) {
    run->cov = run->cov != 0 ? run->cov * 2 : 16;
    run->ov = xrealloc(run->ov, run->cov * sizeof(*run->ov));
  }
  run->ov[run->nov++] = (struct override){
      xstrdup(page_key), xstrdup(resource_key), strcmp(action, "block") == 0};
}

static void on_learned_page(void *ud, const char *page_key, int mobile) {
  struct learn_run *run = ud;
  push_page(&run->pages, &run->npages, &run->cpages, page_key, mobile);
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
  for (size_t i = 0; i < run->nov; i++) {
    free(run->ov[i].page);
    free(run->ov[i].resource);
  }
  free(run->ov);
  free_pages(run->pages, run->npages);
  free_pages(run->old, run->nold);
}

/* A numeric setting: where it goes and the values that make sense. */
struct num_setting {
  const char *name;
  double *d; /* one of d and i */
  int *i;
  double min, max;
};

/* read_settings overrides |*half_life| and |p| from settings of scope
 * 'global'. Returns CTL_OK or reports and returns CTL_ERROR. */
static int read_settings(struct store *s, double *half_life,
                         struct learn_params *p) {
  int min_clients = p->min_clients, max_resources = p->max_resources;
  double budget = (double)p->budget_bytes;
  const struct num_setting set[] = {
      {"half_life", half_life, NULL, 1e-3, 1e9},
      {"push_threshold", &p->push_threshold, NULL, 0, 1},
      {"hint_threshold", &p->hint_threshold, NULL, 0, 1},
      {"z", &p->z, NULL, 0, 10},
      {"min_visits", &p->min_visits, NULL, 0, 1e12},
      {"min_clients", NULL, &min_clients, 0, 1e9},
      {"budget", &budget, NULL, 0, 1e15},
      {"max_resources", NULL, &max_resources, 0, 1e6},
  };
  for (size_t i = 0; i < ARRAY_SIZE(set); i++) {
    char buf[64], *end;
    int rv = store_get_setting(s, "global", set[i].name, buf, sizeof buf);
    if (rv == UV_ENOENT)
      continue;
    if (rv != 0) {
      fprintf(stderr, "heraldctl: %s\n", store_errmsg(s));
      return CTL_ERROR;
    }
    errno = 0;
    double v = strtod(buf, &end);
    if (end == buf || *end != '\0' || errno != 0 || !isfinite(v) ||
        v < set[i].min || v > set[i].max ||
        (set[i].i != NULL && v != floor(v))) {
      fprintf(stderr,
              "heraldctl: setting global.%s = '%s': want a%s number from %g"
              " to %g\n",
              set[i].name, buf, set[i].i != NULL ? "n integer" : "", set[i].min,
              set[i].max);
      return CTL_ERROR;
    }
    if (set[i].d != NULL)
      *set[i].d = v;
    else
      *set[i].i = (int)v;
  }
  p->min_clients = min_clients;
  p->max_resources = max_resources;
  p->budget_bytes = (uint64_t)budget;
  return CTL_OK;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* learn_page writes the rules and aggregates of one (page, class) and adds
 * its served rules to |*nrules|. */
static int learn_page(struct store *s, const struct learn_run *run,
                      const struct page_ref *pg, const struct learn_params *p,
                      const char **pinned, const char **blocked,
                      struct learn_rule *out, int64_t now, uint64_t *nrules) {
  struct learn_overrides ov = {pinned, 0, blocked, 0};
  for (size_t i = 0; i < run->nov; i++) {
    if (strcmp(run->ov[i].page, pg->key) != 0)
      continue;
    if (run->ov[i].block)
      blocked[ov.nblocked++] = run->ov[i].resource;
    else
      pinned[ov.npinned++] = run->ov[i].resource;
  }
  size_t n = learn_rules(run->l, pg->key, pg->mobile, p, &ov, out, RULES_CAP);
  int rv = store_replace_rules(s, pg->key, pg->mobile, out, n, now);
  for (size_t i = 0; rv == 0 && i < n; i++) {
    /* An override for a resource the page never requested has no
     * counts to keep. */
    if (out[i].n <= 0)
      continue;
    rv = store_put_aggregate(s, pg->key, pg->mobile, &out[i], out[i].pushable,
                             now);
  }
  for (size_t i = 0; i < n; i++)
    if (out[i].channels != 0)
      (*nrules)++;
  return rv;
}

/* store_all writes every page's rules in one transaction, and empties
 * the rules of pages the replay no longer knows (their visits were
 * trimmed), so the file matches a fresh learner. */
static int store_all(struct store *s, struct learn_run *run,
                     const struct learn_params *p, uint64_t *nrules) {
  const char **pinned = xcalloc(run->nov + 1, sizeof(*pinned));
  const char **blocked = xcalloc(run->nov + 1, sizeof(*blocked));
  struct learn_rule *out = xcalloc(RULES_CAP, sizeof(*out));
  int64_t now = now_ms();
  int rv = store_begin(s);
  for (size_t i = 0; rv == 0 && i < run->npages; i++)
    rv = learn_page(s, run, &run->pages[i], p, pinned, blocked, out, now,
                    nrules);
  /* qsort and bsearch want a non-NULL array, even an empty one. */
  if (run->npages > 0)
    qsort(run->pages, run->npages, sizeof(*run->pages), cmp_page);
  for (size_t i = 0; rv == 0 && i < run->nold; i++) {
    const struct page_ref *o = &run->old[i];
    if (run->npages == 0 || bsearch(o, run->pages, run->npages,
                                    sizeof(*run->pages), cmp_page) == NULL)
      rv = store_replace_rules(s, o->key, o->mobile, NULL, 0, now);
  }
  if (rv == 0)
    rv = store_commit(s);
  if (rv != 0)
    store_rollback(s);
  free(out);
  free(blocked);
  free(pinned);
  return rv;
}

/* cmd_learn starts from the defaults, then [learn] of herald's
 * configuration when -c gave one, then the global settings, as herald's
 * learner thread does. */
static int cmd_learn(struct store *s, const struct config *cfg) {
  struct learn_params p;
  double half_life = DEFAULT_HALF_LIFE;
  learn_params_defaults(&p);
  if (cfg != NULL) {
    half_life = cfg->learn_half_life;
    p.push_threshold = cfg->learn_push_threshold;
    p.hint_threshold = cfg->learn_hint_threshold;
    p.z = cfg->learn_z;
    p.min_visits = cfg->learn_min_visits;
    p.min_clients = cfg->learn_min_clients;
    p.budget_bytes = (uint64_t)cfg->learn_budget;
    p.max_resources = cfg->learn_max_resources;
  }
  int status = read_settings(s, &half_life, &p);
  if (status != CTL_OK)
    return status;
  struct learn_run run = {.l = learn_new(half_life)};
  int rv = store_replay_visits(s, on_visit, &run);
  if (rv == 0)
    rv = store_load_overrides(s, on_override, &run);
  if (rv == 0)
    rv = store_load_rules(s, on_old_rule, &run);
  uint64_t nrules = 0;
  if (rv == 0) {
    learn_foreach_page(run.l, on_learned_page, &run);
    rv = store_all(s, &run, &p, &nrules);
  }
  if (rv != 0) {
    fprintf(stderr, "heraldctl: %s\n", store_errmsg(s));
    learn_run_free(&run);
    return CTL_ERROR;
  }
  printf("learned %" PRIu64 " rules for %zu pages from %" PRIu64 " visits\n",
         nrules, run.npages, run.visits);
  learn_run_free(&run);
  return CTL_OK;
}

/* ---- the command line ------------------------------------------------------
 */

struct args {
  const char *db, *config, *cls;
  int json, help, version;
  const char *pos[3]; /* command and its arguments */
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
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i];
    const char **dst = NULL, *name = NULL;
    if (opts && strcmp(s, "--") == 0) {
      opts = 0;
    } else if (!opts || s[0] != '-' || s[1] == '\0') {
      if (a->npos == (int)ARRAY_SIZE(a->pos))
        return usage_error("unexpected argument '%s'", s);
      a->pos[a->npos++] = s;
    } else if (strcmp(s, "--json") == 0) {
      a->json = 1;
    } else if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
      a->help = 1;
    } else if (strcmp(s, "-V") == 0 || strcmp(s, "--version") == 0) {
      a->version = 1;
    } else if (is_opt(s, "--db")) {
      dst = &a->db, name = "--db";
    } else if (strcmp(s, "-c") == 0) {
      dst = &a->config, name = "-c";
    } else if (is_opt(s, "--config")) {
      dst = &a->config, name = "--config";
    } else if (is_opt(s, "--class")) {
      dst = &a->cls, name = "--class";
    } else {
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
 * configuration is heap-allocated (it is large) and kept in |*cfg| for as
 * long as |*path| is used. */
static int find_db(const struct args *a, struct config **cfg,
                   const char **path) {
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
  char err[512];
  *cfg = xcalloc(1, sizeof(**cfg));
  config_defaults(*cfg);
  if (config_load(*cfg, a->config, err, sizeof err) != 0) {
    fprintf(stderr, "heraldctl: %s\n", err);
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
 * at a mistyped path. */
static int open_db(const char *path, struct store **s) {
  struct stat sb;
  if (stat(path, &sb) != 0) {
    int e = errno;
    if (e == ENOENT || e == ENOTDIR) {
      fprintf(stderr, "heraldctl: no database at %s (no such file)\n", path);
      return CTL_NOT_FOUND;
    }
    fprintf(stderr, "heraldctl: database %s: %s\n", path, strerror(e));
    return CTL_ERROR;
  }
  if (!S_ISREG(sb.st_mode)) {
    fprintf(stderr, "heraldctl: database %s is not a regular file\n", path);
    return CTL_ERROR;
  }
  char err[512];
  if (store_open(s, path, err, sizeof err) != 0) {
    fprintf(stderr, "heraldctl: %s\n", err);
    return CTL_ERROR;
  }
  return CTL_OK;
}

/* check_command validates the command and its arguments before anything
 * is opened, so a typo never touches the database. */
static int check_command(const struct args *a, struct ctl *c) {
  if (a->npos == 0)
    return usage_error("%s", "no command");
  const char *cmd = a->pos[0];
  /* rules [PAGE]; learn [DB] (the "heraldctl learn DB" form). */
  int max = strcmp(cmd, "rules") == 0 || strcmp(cmd, "learn") == 0 ? 1 : 0;
  if (strcmp(cmd, "pages") != 0 && strcmp(cmd, "rules") != 0 &&
      strcmp(cmd, "learn") != 0)
    return usage_error("unknown command '%s'", cmd);
  if (a->npos - 1 > max)
    return usage_error("unexpected argument '%s'", a->pos[max + 1]);
  c->page = a->npos > 1 && strcmp(cmd, "rules") == 0 ? a->pos[1] : NULL;
  if (strcmp(cmd, "learn") == 0 && a->npos > 1 && a->db != NULL)
    return usage_error("%s", "learn DB and --db both name a database");
  c->mobile = -1;
  if (a->cls != NULL) {
    if (strcmp(cmd, "learn") == 0)
      return usage_error("%s", "--class applies to pages and rules");
    if (strcmp(a->cls, "desktop") == 0)
      c->mobile = 0;
    else if (strcmp(a->cls, "mobile") == 0)
      c->mobile = 1;
    else
      return usage_error("--class '%s': want desktop or mobile", a->cls);
  }
  if (a->json && strcmp(cmd, "learn") == 0)
    return usage_error("%s", "--json applies to pages and rules");
  c->json = a->json;
  return CTL_OK;
}

int main(int argc, char **argv) {
  struct args a = {0};
  struct ctl c = {0};
  struct config *cfg = NULL;
  const char *path = NULL;
  int status = parse_args(argc, argv, &a);
  if (status != CTL_OK)
    return status;
  if (a.help) {
    usage(stdout);
    return CTL_OK;
  }
  /* "version" as a command too, as the first cut accepted. */
  if (a.version || (a.npos == 1 && strcmp(a.pos[0], "version") == 0)) {
    printf("heraldctl %s\n", HERALDCTL_VERSION);
    return CTL_OK;
  }
  if (a.npos == 1 && strcmp(a.pos[0], "help") == 0) {
    usage(stdout);
    return CTL_OK;
  }
  status = check_command(&a, &c);
  if (status == CTL_OK)
    status = find_db(&a, &cfg, &path);
  if (status == CTL_OK)
    status = open_db(path, &c.s);
  if (status == CTL_OK) {
    if (strcmp(a.pos[0], "pages") == 0)
      status = ctl_pages(&c);
    else if (strcmp(a.pos[0], "rules") == 0)
      status = ctl_rules(&c);
    else
      status = cmd_learn(c.s, cfg);
  }
  store_close(c.s);
  free(cfg);
  if (fflush(stdout) != 0 && status == CTL_OK) {
    fprintf(stderr, "heraldctl: writing the output: %s\n", strerror(errno));
    status = CTL_ERROR;
  }
  return status;
}
