/* audit.c: see audit.h. A reading is an array of rows sorted by (kind,
 * scope, name); two readings are compared in one merge. */
#include "learner/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"

enum { ROW_SETTING, ROW_OVERRIDE };

struct row {
  int kind;
  char *scope, *name, *value; /* an override: scope, resource, action */
};

struct reading {
  struct row *v;
  size_t n, cap;
};

struct audit {
  struct reading prev, cur;
  int primed; /* prev is a real reading */
};

struct audit *audit_new(void) {
  return xcalloc(1, sizeof(struct audit));
}

static void reading_clear(struct reading *r) {
  for (size_t i = 0; i < r->n; i++) {
    free(r->v[i].scope);
    free(r->v[i].name);
    free(r->v[i].value);
  }
  r->n = 0;
}

void audit_free(struct audit *a) {
  if (a == NULL)
    return;
  reading_clear(&a->prev);
  reading_clear(&a->cur);
  free(a->prev.v);
  free(a->cur.v);
  free(a);
}

static void add(struct audit *a, int kind, const char *scope, const char *name,
                const char *value) {
  struct reading *r = &a->cur;
  if (r->n == r->cap) {
    r->cap = r->cap ? r->cap * 2 : 32;
    r->v = xrealloc(r->v, r->cap * sizeof(*r->v));
  }
  r->v[r->n++] =
      (struct row){kind, xstrdup(scope), xstrdup(name), xstrdup(value)};
}

void audit_setting(struct audit *a, const char *scope, const char *name,
                   const char *value) {
  add(a, ROW_SETTING, scope, name, value);
}

void audit_override(struct audit *a, const char *scope, const char *resource,
                    const char *action) {
  add(a, ROW_OVERRIDE, scope, resource, action);
}

static int cmp_row(const void *x, const void *y) {
  const struct row *a = x, *b = y;
  if (a->kind != b->kind)
    return a->kind - b->kind;
  int c = strcmp(a->scope, b->scope);
  return c != 0 ? c : strcmp(a->name, b->name);
}

/* log_setting logs one setting row that changed: |old| or |new| NULL for
 * one that appeared or went away. */
static int log_setting(const struct row *old, const struct row *new,
                       audit_value_cb value, void *ud) {
  const struct row *r = new != NULL ? new : old;
  if (strcmp(r->scope, AUDIT_SCOPE) == 0) {
    if (new != NULL)
      LOG_INFO("operator change: heraldctl %s: %s", r->name, r->value);
    return new != NULL;
  }
  char before[64], after[64];
  if (old != NULL)
    snprintf(before, sizeof before, "%s", old->value);
  else
    value(ud, r->scope, r->name, 0, before, sizeof before);
  if (new != NULL)
    snprintf(after, sizeof after, "%s", new->value);
  else
    value(ud, r->scope, r->name, 1, after, sizeof after);
  LOG_INFO("operator change: %s %s -> %s (%s%s)", r->name, before, after,
           r->scope, new == NULL ? ", unset" : "");
  return 1;
}

static void log_override(const struct row *old, const struct row *new) {
  const struct row *r = new != NULL ? new : old;
  const char *was = old != NULL ? old->value : "none";
  const char *now = new != NULL                      ? new->value
                    : strcmp(old->value, "pin") == 0 ? "unpin"
                                                     : "unblock";
  LOG_INFO("operator change: %s %s on %s (was %s)", now, r->name, r->scope,
           was);
}

/* log_change logs one difference; returns 1 when it wrote a line. */
static int log_change(const struct row *old, const struct row *new,
                      audit_value_cb value, void *ud) {
  if ((new != NULL ? new : old)->kind == ROW_SETTING)
    return log_setting(old, new, value, ud);
  log_override(old, new);
  return 1;
}

size_t audit_commit(struct audit *a, audit_value_cb value, void *ud) {
  struct reading *p = &a->prev, *c = &a->cur;
  if (c->n > 0)
    qsort(c->v, c->n, sizeof(*c->v), cmp_row);
  size_t i = 0, j = 0, changes = 0;
  while (a->primed && (i < p->n || j < c->n)) {
    int d = i == p->n ? 1 : j == c->n ? -1 : cmp_row(&p->v[i], &c->v[j]);
    if (d < 0) {
      changes += (size_t)log_change(&p->v[i++], NULL, value, ud);
    } else if (d > 0) {
      changes += (size_t)log_change(NULL, &c->v[j++], value, ud);
    } else {
      if (strcmp(p->v[i].value, c->v[j].value) != 0)
        changes += (size_t)log_change(&p->v[i], &c->v[j], value, ud);
      i++, j++;
    }
  }
  reading_clear(p);
  struct reading t = *p;
  *p = *c;
  *c = t;
  a->primed = 1;
  return changes;
}

void audit_discard(struct audit *a) { reading_clear(&a->cur); }
