/* ctl_show.c: heraldctl's `pages` and `rules`: what the database knows,
 * as an aligned table for a person or a JSON array for a script.
 *
 * A table is collected whole before it is printed, since the widths of
 * its columns depend on every row; JSON goes out row by row. Keys come
 * from request paths, so they are printed defensively: control bytes
 * become '?' in a table, and JSON escapes them and replaces bytes that
 * are not UTF-8 with U+FFFD, so the output always parses. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "learner/learn.h"
#include "learner/obs.h"
#include "proxy/util.h"
#include "store/store.h"
#include "tools/ctl.h"

/* ---- aligned tables ----------------------------------------------------- */

struct table {
  size_t ncols;
  const char *const *head;
  const char *align; /* per column: 'l' or 'r' (numbers) */
  char **cells;      /* nrows * ncols, owned */
  size_t nrows, cap;
};

static char *sanitized(const char *s) {
  char *c = xstrdup(s);
  for (char *p = c; *p != '\0'; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      *p = '?';
  return c;
}

/* table_add copies one row of |t->ncols| cells. */
static void table_add(struct table *t, const char *const *row) {
  if (t->nrows == t->cap) {
    t->cap = t->cap != 0 ? t->cap * 2 : 32;
    t->cells = xrealloc(t->cells, t->cap * t->ncols * sizeof(*t->cells));
  }
  for (size_t i = 0; i < t->ncols; i++)
    t->cells[t->nrows * t->ncols + i] = sanitized(row[i]);
  t->nrows++;
}

static void print_row(const struct table *t, const size_t *w,
                      const char *const *row) {
  for (size_t i = 0; i < t->ncols; i++) {
    int last = i + 1 == t->ncols;
    int pad = (int)w[i];
    if (t->align[i] == 'r')
      printf("%*s", pad, row[i]);
    else
      printf("%-*s", last ? 0 : pad, row[i]);
    fputs(last ? "\n" : "  ", stdout);
  }
}

static void table_free(struct table *t) {
  for (size_t i = 0; i < t->nrows * t->ncols; i++)
    free(t->cells[i]);
  free(t->cells);
  t->cells = NULL;
  t->nrows = t->cap = 0;
}

/* table_print writes the header and the rows, then frees the rows. */
static void table_print(struct table *t) {
  size_t *w = xcalloc(t->ncols, sizeof(*w));
  for (size_t i = 0; i < t->ncols; i++)
    w[i] = strlen(t->head[i]);
  for (size_t r = 0; r < t->nrows; r++)
    for (size_t i = 0; i < t->ncols; i++) {
      size_t n = strlen(t->cells[r * t->ncols + i]);
      if (n > w[i])
        w[i] = n;
    }
  print_row(t, w, t->head);
  for (size_t r = 0; r < t->nrows; r++)
    print_row(t, w, (const char *const *)&t->cells[r * t->ncols]);
  free(w);
  table_free(t);
}

/* ---- JSON -----------------------------------------------------------------
 */

/* utf8_len returns the length of the well-formed UTF-8 sequence at |s|,
 * or 0 when it is not one (overlong forms and surrogates included). */
static size_t utf8_len(const unsigned char *s) {
  unsigned c = s[0];
  size_t n;
  unsigned min;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2, min = 0x80;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3, min = 0x800;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4, min = 0x10000;
  } else {
    return 0;
  }
  unsigned cp = c & (0x3f >> (n - 1));
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    cp = cp << 6 | (s[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

static void json_str(const char *str) {
  const unsigned char *s = (const unsigned char *)str;
  putchar('"');
  while (*s != '\0') {
    if (*s == '"' || *s == '\\') {
      printf("\\%c", *s++);
    } else if (*s < 0x20 || *s == 0x7f) {
      printf("\\u%04x", *s++);
    } else if (*s < 0x80) {
      putchar(*s++);
    } else {
      size_t n = utf8_len(s);
      if (n == 0) {
        fputs("\\ufffd", stdout);
        s++;
      } else {
        fwrite(s, 1, n, stdout);
        s += n;
      }
    }
  }
  putchar('"');
}

/* json_next starts the object after |*count| others in an array. */
static void json_next(size_t *count) {
  fputs(*count == 0 ? "[\n  {" : ",\n  {", stdout);
  (*count)++;
}

static void json_end(size_t count) {
  fputs(count == 0 ? "[]\n" : "\n]\n", stdout);
}

/* ---- shared -------------------------------------------------------------- */

static const char *class_name(int mobile) {
  return mobile ? "mobile" : "desktop";
}

static void iso_time(int64_t ms, char *out, size_t cap) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  if (ms <= 0 || gmtime_r(&t, &tm) == NULL ||
      strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    snprintf(out, cap, "-");
}

/* path_of returns where the path starts in "scheme://authority/path", or
 * NULL for something else. */
static const char *path_of(const char *key) {
  const char *p = strstr(key, "://");
  return p != NULL ? strchr(p + 3, '/') : NULL;
}

int ctl_page_matches(const char *key, const char *want) {
  if (strcmp(key, want) == 0)
    return 1;
  if (want[0] != '/')
    return 0;
  const char *path = path_of(key);
  return path != NULL && strcmp(path, want) == 0;
}

/* ---- pages ----------------------------------------------------------------
 */

static const char *const page_head[] = {"PAGE",   "TEMPLATE", "CLASS",
                                        "VISITS", "RULES",    "LAST SEEN"};

struct pages_run {
  const struct ctl *c;
  struct table t;
  size_t count;
};

static void on_page(void *ud, const struct store_page *p) {
  struct pages_run *run = ud;
  if (run->c->mobile >= 0 && run->c->mobile != p->mobile)
    return;
  char seen[32];
  iso_time(p->last_seen_ms, seen, sizeof seen);
  if (run->c->json) {
    json_next(&run->count);
    fputs("\"page\": ", stdout);
    json_str(p->key);
    printf(", \"is_template\": %s, \"class\": \"%s\", \"visits\": %" PRId64
           ", \"rules\": %" PRId64 ", \"last_seen\": \"%s\"}",
           p->is_template ? "true" : "false", class_name(p->mobile), p->visits,
           p->rules, seen);
    return;
  }
  char visits[24], rules[24];
  snprintf(visits, sizeof visits, "%" PRId64, p->visits);
  snprintf(rules, sizeof rules, "%" PRId64, p->rules);
  const char *row[] = {p->key,
                       p->is_template ? "yes" : "no",
                       class_name(p->mobile),
                       visits,
                       rules,
                       seen};
  table_add(&run->t, row);
  run->count++;
}

int ctl_pages(const struct ctl *c) {
  struct pages_run run = {.c = c};
  run.t.ncols = ARRAY_SIZE(page_head);
  run.t.head = page_head;
  run.t.align = "lllrrl";
  int rv = store_list_pages(c->s, on_page, &run);
  if (rv != 0) {
    fprintf(stderr, "heraldctl: %s\n", store_errmsg(c->s));
    table_free(&run.t);
    return CTL_ERROR;
  }
  if (c->json)
    json_end(run.count);
  else
    table_print(&run.t);
  return CTL_OK;
}

/* ---- rules ----------------------------------------------------------------
 */

static const char *const rule_head[] = {
    "PAGE", "CLASS", "ORD",     "RESOURCE", "TYPE",  "CONFIDENCE", "WILSON",
    "N",    "K",     "CLIENTS", "BYTES",    "DELAY", "CHANNEL",    "STATE"};

static const char *dest_name(uint8_t dest) {
  switch (dest) {
  case OBS_DEST_DOCUMENT:
    return "document";
  case OBS_DEST_STYLE:
    return "style";
  case OBS_DEST_SCRIPT:
    return "script";
  case OBS_DEST_FONT:
    return "font";
  case OBS_DEST_IMAGE:
    return "image";
  case OBS_DEST_FETCH:
    return "fetch";
  default:
    return "other";
  }
}

/* The store reads 'push' back as push and hint. */
/* short_key drops the page's scheme://authority from a resource key of
 * the same origin, which is nearly every one, so the table stays narrow. */
static const char *short_key(const char *page, const char *res) {
  const char *pp = path_of(page), *rp = path_of(res);
  if (pp == NULL || rp == NULL || pp - page != rp - res ||
      strncmp(page, res, (size_t)(pp - page)) != 0)
    return res;
  return rp;
}

struct rules_run {
  const struct ctl *c;
  struct table t;
  size_t count;
};

static void rule_json(const char *page, int mobile,
                      const struct learn_rule *r) {
  fputs("\"page\": ", stdout);
  json_str(page);
  printf(", \"class\": \"%s\", \"ord\": ", class_name(mobile));
  if (r->ord >= 0)
    printf("%d", r->ord);
  else
    fputs("null", stdout);
  fputs(", \"resource\": ", stdout);
  json_str(r->key);
  printf(", \"type\": \"%s\", \"confidence\": %.4f, \"wilson\": %.4f,"
         " \"n\": %.2f, \"k\": %.2f, \"clients\": %d, \"bytes\": %" PRIu64
         ", \"delay_ms\": %" PRIu32 ", \"depth\": %u, \"channel\": \"%s\","
         " \"state\": \"%s\"}",
         dest_name(r->dest), r->confidence, r->wilson, r->n, r->k, r->clients,
         r->bytes, r->median_delay_ms, r->depth,
         learn_channel_name(r->channels), learn_state_name(r->state));
}

static void on_rule(void *ud, const char *page, int mobile,
                    const struct learn_rule *r) {
  struct rules_run *run = ud;
  const struct ctl *c = run->c;
  if ((c->mobile >= 0 && c->mobile != mobile) ||
      (c->page != NULL && !ctl_page_matches(page, c->page)))
    return;
  if (c->json) {
    json_next(&run->count);
    rule_json(page, mobile, r);
    return;
  }
  char ord[16], conf[16], wilson[16], n[24], k[24], clients[16], bytes[24],
      delay[24];
  if (r->ord >= 0)
    snprintf(ord, sizeof ord, "%d", r->ord);
  else
    snprintf(ord, sizeof ord, "-");
  snprintf(conf, sizeof conf, "%.3f", r->confidence);
  snprintf(wilson, sizeof wilson, "%.3f", r->wilson);
  snprintf(n, sizeof n, "%.1f", r->n);
  snprintf(k, sizeof k, "%.1f", r->k);
  snprintf(clients, sizeof clients, "%d", r->clients);
  snprintf(bytes, sizeof bytes, "%" PRIu64, r->bytes);
  snprintf(delay, sizeof delay, "%" PRIu32 "ms", r->median_delay_ms);
  const char *row[] = {page,
                       class_name(mobile),
                       ord,
                       short_key(page, r->key),
                       dest_name(r->dest),
                       conf,
                       wilson,
                       n,
                       k,
                       clients,
                       bytes,
                       delay,
                       learn_channel_name(r->channels),
                       learn_state_name(r->state)};
  table_add(&run->t, row);
  run->count++;
}

int ctl_rules(const struct ctl *c) {
  struct rules_run run = {.c = c};
  run.t.ncols = ARRAY_SIZE(rule_head);
  run.t.head = rule_head;
  run.t.align = "llrllrrrrrrrll";
  int rv = store_load_rules(c->s, on_rule, &run);
  if (rv != 0) {
    fprintf(stderr, "heraldctl: %s\n", store_errmsg(c->s));
    table_free(&run.t);
    return CTL_ERROR;
  }
  if (c->page != NULL && run.count == 0) {
    /* Nothing was printed for JSON: the array never opened. */
    if (c->mobile >= 0)
      fprintf(stderr, "heraldctl: no rules for %s (%s)\n", c->page,
              class_name(c->mobile));
    else
      fprintf(stderr, "heraldctl: no rules for %s\n", c->page);
    return CTL_NOT_FOUND;
  }
  if (c->json)
    json_end(run.count);
  else
    table_print(&run.t);
  return CTL_OK;
}
