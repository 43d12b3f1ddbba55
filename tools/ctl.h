/* ctl.h: what heraldctl's files share.
 *
 *   heraldctl.c     the command line, opening the database, `learn`
 *   ctl_io.c        JSON, sizes, the effective learner parameters,
 *                   overrides, replaying visits, finding keys
 *   ctl_table.c     tables for a terminal and for a script
 *   ctl_show.c      `pages` and `rules`
 *   ctl_help.c      the help of heraldctl and of each command
 *   ctl_live.c      `rules --live`: what a running herald serves
 *   ctl_tune.c      `threshold`, `min-visits`, `budget`, `mode` (the
 *                   settings table) and `pin`, `block`, `unpin` (overrides)
 *   ctl_explain.c   `explain PAGE RESOURCE`
 *   ctl_simulate.c  `simulate`
 *   ctl_export.c    `export` and `import`
 *   ctl_stats.c     `stats`: holdout against treated page loads, push and
 *                   hint outcomes
 *
 * Every command reads and writes the database through store/ (store.h),
 * which holds all of its SQL; nothing here knows the schema. */
#ifndef TOOLS_CTL_H
#define TOOLS_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct config;
struct learn;
struct learn_params;
struct store;

/* Exit statuses. */
enum {
  CTL_OK = 0,
  CTL_NOT_FOUND = 1, /* no such page, resource, route or override */
  CTL_ERROR = 2,     /* bad usage or value, no or bad database, SQLite */
};

struct ctl {
  struct store *s;
  const char *path;         /* of the database */
  const struct config *cfg; /* -c CONFIG, or NULL */
  int json;                 /* --json */
  int mobile;               /* --class: -1 both, 0 desktop, 1 mobile */
  const char *page;         /* rules PAGE, stats --page, or NULL */
  const char *const *args;  /* the command's arguments, after its name */
  int nargs;
  const char *route;        /* --route */
  const char *channel;      /* --channel push|hint */
  const char *threshold;    /* --threshold A or A..B (simulate) */
  const char *step;         /* --step S (simulate) */
  const char *min_visits;   /* --min-visits N (simulate) */
  const char *live;         /* rules --live ADMIN */
  int has_since;            /* --since T given (stats) */
  int64_t since_ms;         /* its Unix ms */
};

/* The commands: each prints to stdout and returns an exit status; an
 * error has been reported on stderr, one line. */
int ctl_pages(const struct ctl *c);
int ctl_rules(const struct ctl *c);
int ctl_setting_cmd(const struct ctl *c, const char *cmd);
int ctl_override_cmd(const struct ctl *c, const char *cmd);
int ctl_explain(const struct ctl *c);
int ctl_simulate(const struct ctl *c);
int ctl_export(const struct ctl *c);
int ctl_import(const struct ctl *c);
int ctl_stats(const struct ctl *c);

int ctl_rules_live(const struct ctl *c); /* rules --live */

/* ctl_help prints the global help; ctl_help_command that of command
 * |name| (-1: no such command). */
void ctl_help(FILE *f);
int ctl_help_command(const char *name);

/* ctl_parse_since parses `stats --since` |s| into Unix ms in |*out|: a
 * duration before |now_ms| (90s, 30m, 1h, 7d, 2w), Unix ms (0, or from
 * 1e11 on: a shorter number is refused as probably seconds), or a UTC
 * date YYYY-MM-DD[THH:MM[:SS]][Z]. Returns 0, or -1 when it is none. */
int ctl_parse_since(const char *s, int64_t now_ms, int64_t *out);

/* ---- ctl_io.c ------------------------------------------------------------ */

/* ctl_page_matches says whether the stored |key| is what the operator
 * named: the same key, or (|want| starting with '/') a key whose path is
 * |want| on any scheme and authority. */
int ctl_page_matches(const char *key, const char *want);

/* ctl_res_matches says whether the resource |key| of page |page| is
 * |want|: the same key, or a path on the page's own origin. */
int ctl_res_matches(const char *page, const char *key, const char *want);

/* ctl_path_of returns where the path starts in "scheme://authority/path",
 * or NULL; ctl_short_key drops the page's origin from a resource key of
 * the same origin. */
const char *ctl_path_of(const char *key);
const char *ctl_short_key(const char *page, const char *res);

const char *ctl_class_name(int mobile);
const char *ctl_dest_name(uint8_t dest);

/* ---- ctl_table.c --------------------------------------------------------- */

/* A table: the rows are collected, then printed in the layout of
 * ctl_table_layout (see ctl_table.c) with every column as wide as its
 * widest cell. |align| has 'l' or 'r' per column; |show| (NULL: all 'd')
 * 'd' for a default column, 'w' for one shown with --wide or -o on a
 * terminal, 'g' for a heading column (printed above its rows on a
 * terminal). */
#define CTL_TABLE_WIDTH 100
struct ctl_table {
  size_t ncols;
  const char *const *head;
  const char *align;
  char **cells; /* nrows * ncols, owned */
  size_t nrows, cap;
  const char *show;
};
struct ctl_layout {
  int terminal;     /* stdout is a terminal: for a person */
  int wide;         /* --wide: every column, nothing shortened */
  const char *cols; /* -o col,col,...: exactly these, or NULL */
};
void ctl_table_layout(const struct ctl_layout *l); /* once, by main */
int ctl_human(void); /* the terminal layout is in use */
void ctl_table_add(struct ctl_table *t, const char *const *row);
/* ctl_table_check reports (CTL_ERROR) a -o that names no column of |t|. */
int ctl_table_check(const struct ctl_table *t);
void ctl_table_print(struct ctl_table *t); /* and frees the rows */
void ctl_table_free(struct ctl_table *t);

/* ctl_printf prints prose: on a terminal each line is broken at a space
 * before CTL_TABLE_WIDTH, the rest of it indented by |hang| columns. */
void ctl_printf(int hang, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ctl_fmt_size writes |bytes| for a person: 512, 100k, 1.5M (1024-based);
 * |exact| keeps a value that no suffix writes exactly as it is (30000),
 * else it is rounded to one decimal (29.3k). ctl_parse_size reads a byte
 * count with an optional k, M or G (1024-based; 1.5M is 1572864); -1
 * when |s| is none or not a whole number of bytes. */
const char *ctl_fmt_size(double bytes, int exact, char *out, size_t cap);
int ctl_parse_size(const char *s, double *out);

/* ctl_plural returns |one| or |many| for |n|. */
const char *ctl_plural(uint64_t n, const char *one, const char *many);

/* JSON on stdout: ctl_json_str writes a string literal (escaped, bytes
 * that are not UTF-8 become U+FFFD); ctl_json_num a finite number or
 * null; ctl_json_next opens the object after |*count| others in an array
 * and ctl_json_end closes the array. */
void ctl_json_str(const char *s);
void ctl_json_num(double v, int decimals);
void ctl_json_next(size_t *count);
void ctl_json_end(size_t count);

/* ctl_audit notes in the database that heraldctl |what| ("learn",
 * "import") did |text|, for a running herald to log (learner/audit.h);
 * a failure is a warning on stderr. */
void ctl_audit(const struct ctl *c, const char *what, const char *text);

/* ctl_store_error reports the store's last error and returns CTL_ERROR. */
int ctl_store_error(const struct ctl *c);

/* A setting an operator may store, with its valid values. */
struct ctl_setting {
  const char *name; /* settings.name, as herald's learner reads it */
  double min, max;  /* numbers */
  int integer;      /* 1: whole numbers only */
  int is_mode;      /* mode: off|hints|shadow|push|both */
  int is_size;      /* bytes: 100k and 1.5M are taken */
};

/* ctl_setting_find returns the setting |name| (settings key), or NULL. */
const struct ctl_setting *ctl_setting_find(const char *name);

/* ctl_setting_check validates |value| for |set|; returns 0, or -1 with a
 * reason in |why|. |norm| receives the value as it is stored. */
int ctl_setting_check(const struct ctl_setting *set, const char *value,
                      char *norm, size_t normcap, char *why, size_t whycap);

/* ctl_effective finds the value in force for setting |name| under route
 * |route| (NULL: global): the route's setting, the global one, herald's
 * configuration (-c), or the built-in default. |source| receives
 * "route:R", "global", "config" or "default". A stored value that is not
 * valid is reported (CTL_ERROR). */
int ctl_effective(const struct ctl *c, const char *name, const char *route,
                  char *value, size_t cap, char *source, size_t scap);

/* ctl_params fills |p| and |*half_life| with what the learner uses for
 * pages of |route| (NULL: global). */
int ctl_params(const struct ctl *c, const char *route,
               struct learn_params *p, double *half_life);

/* ctl_section_depth is [record] sections of -c CONFIG, else 1. */
int ctl_section_depth(const struct ctl *c);

/* ctl_route_of names the configured route a page key falls under (NULL
 * without -c CONFIG or when none matches), as herald's learner does. */
const char *ctl_route_of(const struct ctl *c, const char *key);

/* Operator overrides, loaded once. |page| is the override's scope: a key,
 * a key pattern, or "route:NAME" (pagekey_scope_matches, ctl_route_of). */
struct ctl_override {
  char *page, *resource;
  int block;
};
struct ctl_overrides {
  struct ctl_override *v;
  size_t n, cap;
  const char **pinned, **blocked; /* scratch for ctl_overrides_for */
};
int ctl_overrides_load(const struct ctl *c, struct ctl_overrides *o);
void ctl_overrides_free(struct ctl_overrides *o);
/* ctl_scope_covers: an override of |scope| applies to |key|, as herald's
 * learner decides it. ctl_overrides_for fills |*out| with the pins and
 * blocks that apply to |page| (any level's key); valid until the next
 * call. */
int ctl_scope_covers(const struct ctl *c, const char *scope,
                     const char *key);
struct learn_overrides;
void ctl_overrides_for(const struct ctl *c, struct ctl_overrides *o,
                       const char *page, struct learn_overrides *out);

/* ctl_replay folds every retained visit into |l|, oldest first, and
 * counts them in |*visits|. */
int ctl_replay(const struct ctl *c, struct learn *l, uint64_t *visits);

/* ctl_find_page resolves |want| (a key or a bare path) to a page key of
 * the pages table; ctl_find_resource a resource (key, or path on |page|'s
 * origin) of the resources table; ctl_find_override a resource that has
 * an override on |page|. Each returns CTL_OK and the key in |out|,
 * CTL_NOT_FOUND, or CTL_ERROR (a path on more than one host); the
 * failure is reported. */
int ctl_find_page(const struct ctl *c, const char *want, char *out,
                  size_t cap);
int ctl_find_resource(const struct ctl *c, const char *page, const char *want,
                      char *out, size_t cap);
int ctl_find_override(const struct ctl *c, const char *page, const char *want,
                      char *out, size_t cap);

/* ctl_parse_num parses all of |s| as a finite number. */
int ctl_parse_num(const char *s, double *out);

#endif
