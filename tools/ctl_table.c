/* ctl_table.c: heraldctl's tables, for a person and for a script.
 *
 * A table is collected whole before it is printed, since the widths of
 * its columns depend on every row. It goes out in one of two layouts:
 *
 *   - on a terminal, for a person: at most CTL_TABLE_WIDTH columns. The
 *     table's heading columns ('g' in |show|: the page and class of
 *     `rules`) are not repeated on every row but printed once above the
 *     rows they head; only the default columns ('d') are shown, --wide
 *     adds the others ('w'); a long key is shortened in its middle
 *     ("/static/...app.js") until the row fits (never with --wide).
 *   - anywhere else (a pipe, a file), for a script: every column in the
 *     table's order, the heading columns on every row, nothing shortened,
 *     cells separated by two or more spaces and never empty ("-" stands
 *     for nothing). New columns are only ever added at the end, so what
 *     a script cuts out of a row stays where it was.
 *
 * -o col,col,... prints exactly those columns in that order in either
 * layout (a column's name is its heading in lower case, '_' for a
 * space), one row each; a terminal still shortens to fit unless --wide.
 * Keys come from request paths: control bytes become '?'. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "tools/ctl.h"

/* The narrowest a shortened column gets. */
#define MIN_SHORT 12

static struct ctl_layout layout;

void ctl_table_layout(const struct ctl_layout *l) { layout = *l; }

int ctl_human(void) { return layout.terminal; }

static char *sanitized(const char *s) {
  char *c = xstrdup(s);
  for (char *p = c; *p != '\0'; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      *p = '?';
  return c;
}

void ctl_table_add(struct ctl_table *t, const char *const *row) {
  if (t->nrows == t->cap) {
    t->cap = t->cap != 0 ? t->cap * 2 : 32;
    t->cells = xrealloc(t->cells, t->cap * t->ncols * sizeof(*t->cells));
  }
  for (size_t i = 0; i < t->ncols; i++)
    t->cells[t->nrows * t->ncols + i] = sanitized(row[i]);
  t->nrows++;
}

void ctl_table_free(struct ctl_table *t) {
  for (size_t i = 0; i < t->nrows * t->ncols; i++)
    free(t->cells[i]);
  free(t->cells);
  t->cells = NULL;
  t->nrows = t->cap = 0;
}

static char show_of(const struct ctl_table *t, size_t i) {
  return t->show != NULL ? t->show[i] : 'd';
}

/* col_named finds the column whose -o name is the |n| bytes at |name|. */
static int col_named(const struct ctl_table *t, const char *name, size_t n) {
  for (size_t i = 0; i < t->ncols; i++) {
    const char *h = t->head[i];
    if (strlen(h) != n)
      continue;
    size_t k = 0;
    for (; k < n; k++) {
      char c = h[k] == ' ' ? '_' : h[k];
      if (c >= 'A' && c <= 'Z')
        c = (char)(c - 'A' + 'a');
      if (c != name[k])
        break;
    }
    if (k == n)
      return (int)i;
  }
  return -1;
}

/* pick fills |vis| with the columns to print, in order; returns how many,
 * or -1 (reported) for a bad -o. */
static int pick(const struct ctl_table *t, size_t *vis) {
  size_t n = 0;
  if (layout.cols != NULL) {
    for (const char *p = layout.cols; *p != '\0';) {
      size_t len = strcspn(p, ",");
      int i = col_named(t, p, len);
      if (i < 0) {
        fprintf(stderr,
                "heraldctl: -o: no column '%.*s'; the columns:", (int)len, p);
        for (size_t k = 0; k < t->ncols; k++) {
          fputs(k ? ", " : " ", stderr);
          for (const char *h = t->head[k]; *h != '\0'; h++)
            fputc(*h == ' '                ? '_'
                  : *h >= 'A' && *h <= 'Z' ? *h - 'A' + 'a'
                                           : *h,
                  stderr);
        }
        fputc('\n', stderr);
        return -1;
      }
      if (n < t->ncols)
        vis[n++] = (size_t)i;
      p += len;
      if (*p == ',')
        p++;
    }
    return (int)n;
  }
  for (size_t i = 0; i < t->ncols; i++) {
    char s = show_of(t, i);
    if (!layout.terminal || s == 'd' || (layout.wide && s == 'w'))
      vis[n++] = i;
  }
  return (int)n;
}

int ctl_table_check(const struct ctl_table *t) {
  size_t *vis = xcalloc(t->ncols, sizeof(*vis));
  int n = pick(t, vis);
  free(vis);
  return n < 0 ? CTL_ERROR : CTL_OK;
}

/* put prints |s| in |w| columns, shortened in its middle when longer:
 * the end of a path (its file) says more than its middle. */
static void put(const char *s, size_t w, char align, int last) {
  size_t n = strlen(s);
  if (n > w && w >= 5) {
    size_t head = (w - 3) / 3, tail = w - 3 - head;
    printf("%.*s...%s", (int)head, s, s + n - tail);
    n = w;
  } else {
    if (align == 'r')
      printf("%*s", (int)(w > n ? w - n : 0), "");
    fputs(s, stdout);
  }
  if (!last && align != 'r' && w > n)
    printf("%*s", (int)(w - n), "");
}

static void print_row(const struct ctl_table *t, const size_t *vis, size_t n,
                      const size_t *w, const char *const *row, int indent) {
  printf("%*s", indent, "");
  for (size_t k = 0; k < n; k++) {
    put(row[vis[k]], w[k], t->align[vis[k]], k + 1 == n);
    fputs(k + 1 == n ? "\n" : "  ", stdout);
  }
}

/* fit narrows the widest left-aligned columns until a row fits |limit|. */
static void fit(const struct ctl_table *t, const size_t *vis, size_t n,
                size_t *w, size_t limit) {
  for (;;) {
    size_t total = 0, widest = n;
    for (size_t k = 0; k < n; k++) {
      total += w[k] + (k ? 2 : 0);
      if (t->align[vis[k]] == 'l' && w[k] > MIN_SHORT &&
          (widest == n || w[k] > w[widest]))
        widest = k;
    }
    if (total <= limit || widest == n)
      return;
    size_t over = total - limit;
    w[widest] = w[widest] - over >= MIN_SHORT && w[widest] > over
                    ? w[widest] - over
                    : MIN_SHORT;
  }
}

/* heading_of writes the heading columns of row |r|: "first (second)". */
static void heading_of(const struct ctl_table *t, size_t r, char *out,
                       size_t cap) {
  size_t len = 0, ng = 0;
  out[0] = '\0';
  for (size_t i = 0; i < t->ncols && len < cap; i++) {
    if (show_of(t, i) != 'g')
      continue;
    const char *cell = t->cells[r * t->ncols + i];
    len +=
        (size_t)snprintf(out + len, cap - len, ng == 0 ? "%s" : " (%s)", cell);
    ng++;
  }
}

void ctl_table_print(struct ctl_table *t) {
  size_t *vis = xcalloc(t->ncols, sizeof(*vis));
  size_t *w = xcalloc(t->ncols, sizeof(*w));
  int got = pick(t, vis);
  size_t n = got > 0 ? (size_t)got : 0;
  int grouped = layout.terminal && layout.cols == NULL;
  for (size_t i = 0; grouped && i < t->ncols; i++)
    grouped = i + 1 < t->ncols || show_of(t, i) != 'g';
  int has_g = 0;
  for (size_t i = 0; i < t->ncols; i++)
    has_g |= show_of(t, i) == 'g';
  grouped = grouped && has_g;
  int indent = grouped ? 2 : 0;
  for (size_t k = 0; k < n; k++) {
    w[k] = strlen(t->head[vis[k]]);
    for (size_t r = 0; r < t->nrows; r++) {
      size_t len = strlen(t->cells[r * t->ncols + vis[k]]);
      if (len > w[k])
        w[k] = len;
    }
  }
  if (layout.terminal && !layout.wide)
    fit(t, vis, n, w, CTL_TABLE_WIDTH - (size_t)indent);
  if (n > 0)
    print_row(t, vis, n, w, t->head, indent);
  char prev[1024] = "", cur[1024];
  for (size_t r = 0; r < t->nrows && n > 0; r++) {
    if (grouped) {
      heading_of(t, r, cur, sizeof cur);
      if (r == 0 || strcmp(cur, prev) != 0) {
        put(cur, layout.wide ? strlen(cur) : CTL_TABLE_WIDTH, 'l', 1);
        putchar('\n');
        memcpy(prev, cur, sizeof prev);
      }
    }
    print_row(t, vis, n, w, (const char *const *)&t->cells[r * t->ncols],
              indent);
  }
  free(vis);
  free(w);
  ctl_table_free(t);
}

/* ---- prose --------------------------------------------------------------- */

/* put_line prints one line, broken at spaces before CTL_TABLE_WIDTH on a
 * terminal, the rest indented by |hang|. */
static void put_line(const char *s, size_t n, int hang) {
  size_t width = CTL_TABLE_WIDTH, col = 0;
  while (layout.terminal && n > width - col) {
    size_t cut = width - col;
    while (cut > 0 && s[cut] != ' ')
      cut--;
    if (cut == 0)
      break;
    printf("%.*s\n%*s", (int)cut, s, hang, "");
    s += cut + 1;
    n -= cut + 1;
    col = (size_t)hang;
  }
  fwrite(s, 1, n, stdout);
}

void ctl_printf(int hang, const char *fmt, ...) {
  char *text;
  va_list ap;
  va_start(ap, fmt);
  int n = vasprintf(&text, fmt, ap);
  va_end(ap);
  if (n < 0)
    abort();
  for (const char *p = text; *p != '\0';) {
    const char *nl = strchr(p, '\n');
    size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
    put_line(p, len, hang);
    if (nl == NULL)
      break;
    putchar('\n');
    p = nl + 1;
  }
  free(text);
}
