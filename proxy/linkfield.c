/* linkfield.c: see linkfield.h. One forward pass over the value; every
 * index is checked against its length, so no input can read past it. */
#include "proxy/linkfield.h"

#include <string.h>

#include "base/http.h"
#include "base/util.h"

/* Longest parameter value looked at (a rel list, an as=, a crossorigin).
 * Longer ones are read as unknown, never cut into something known. */
#define VALUE_MAX 128

static int ows(char c) { return c == ' ' || c == '\t'; }

static size_t skip_ows(const char *v, size_t n, size_t i) {
  while (i < n && ows(v[i]))
    i++;
  return i;
}

/* A parameter's value, unquoted into a bounded buffer. */
struct pvalue {
  char s[VALUE_MAX];
  size_t len;   /* bytes in s */
  int too_long; /* the value did not fit: its content is unknown */
  int present;  /* the parameter had "=" and a value */
};

static void pvalue_add(struct pvalue *p, char c) {
  if (p->len + 1 < sizeof(p->s))
    p->s[p->len++] = c;
  else
    p->too_long = 1;
}

/* parse_value reads a token or a quoted-string at |*i|. Returns 0, or -1
 * for an unterminated quoted string. */
static int parse_value(const char *v, size_t n, size_t *i, struct pvalue *p) {
  size_t k = *i;
  p->present = 1;
  if (k < n && v[k] == '"') {
    for (k++; k < n && v[k] != '"'; k++) {
      if (v[k] == '\\') {
        if (++k == n)
          return -1;
      }
      pvalue_add(p, v[k]);
    }
    if (k == n)
      return -1;
    *i = k + 1;
    return 0;
  }
  while (k < n && http_is_tchar((unsigned char)v[k]))
    pvalue_add(p, v[k++]);
  *i = k;
  return 0;
}

static int lower_eq(const char *a, size_t n, const char *b) {
  return util_strcaseeq(a, n, b);
}

/* rels_of reads a rel value: relation types separated by spaces. */
static uint32_t rels_of(const struct pvalue *p) {
  if (p->too_long)
    return LINKFIELD_REL_OTHER;
  uint32_t rels = 0;
  size_t i = 0;
  while (i < p->len) {
    while (i < p->len && ows(p->s[i]))
      i++;
    size_t start = i;
    while (i < p->len && !ows(p->s[i]))
      i++;
    size_t len = i - start;
    if (len == 0)
      break;
    const char *t = p->s + start;
    if (lower_eq(t, len, "preload"))
      rels |= LINKFIELD_REL_PRELOAD;
    else if (lower_eq(t, len, "preconnect"))
      rels |= LINKFIELD_REL_PRECONNECT;
    else if (lower_eq(t, len, "modulepreload"))
      rels |= LINKFIELD_REL_MODULEPRELOAD;
    else
      rels |= LINKFIELD_REL_OTHER;
  }
  return rels;
}

/* apply records parameter |name| (|nlen|) with value |p| in |out|; |seen|
 * has a bit per known parameter already taken (the first one counts). */
static void apply(struct linkfield *out, const char *name, size_t nlen,
                  const struct pvalue *p, unsigned *seen) {
  if (lower_eq(name, nlen, "rel")) {
    if (!(*seen & 1))
      out->rels = rels_of(p);
    *seen |= 1;
  } else if (lower_eq(name, nlen, "as")) {
    if (!(*seen & 2) && !p->too_long && p->len < sizeof(out->as)) {
      for (size_t i = 0; i < p->len; i++) {
        char c = p->s[i];
        out->as[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
      }
      out->as[p->len] = '\0';
    }
    *seen |= 2;
  } else if (lower_eq(name, nlen, "crossorigin")) {
    if (!(*seen & 4))
      out->cors = p->present && !p->too_long &&
                          lower_eq(p->s, p->len, "use-credentials")
                      ? LINKFIELD_CORS_CREDENTIALS
                      : LINKFIELD_CORS_ANONYMOUS;
    *seen |= 4;
  } else if (lower_eq(name, nlen, "anchor")) {
    out->anchor = 1;
  } else if (lower_eq(name, nlen, "nopush")) {
    out->nopush = 1;
  }
}

int linkfield_next(const char *v, size_t n, size_t *pos,
                   struct linkfield *out) {
  size_t i = *pos;
  memset(out, 0, sizeof(*out));
  /* Empty list elements (", ,") are allowed and skipped. */
  while (i < n && (ows(v[i]) || v[i] == ','))
    i++;
  *pos = i;
  if (i == n)
    return 0;
  if (v[i] != '<')
    return -1;
  const char *gt = memchr(v + i + 1, '>', n - i - 1);
  if (gt == NULL)
    return -1;
  out->target = v + i + 1;
  out->target_len = (size_t)(gt - out->target);
  i = (size_t)(gt - v) + 1;
  unsigned seen = 0;
  for (;;) {
    i = skip_ows(v, n, i);
    if (i == n || v[i] == ',')
      break;
    if (v[i] != ';')
      return -1;
    i = skip_ows(v, n, i + 1);
    if (i < n && (v[i] == ';' || v[i] == ','))
      continue; /* an empty parameter: nothing to read */
    size_t name = i;
    while (i < n && http_is_tchar((unsigned char)v[i]))
      i++;
    size_t nlen = i - name;
    if (nlen == 0)
      return -1;
    struct pvalue p;
    p.len = 0;
    p.too_long = p.present = 0;
    size_t k = skip_ows(v, n, i);
    if (k < n && v[k] == '=') {
      i = skip_ows(v, n, k + 1);
      if (parse_value(v, n, &i, &p) != 0)
        return -1;
    }
    apply(out, v + name, nlen, &p, &seen);
  }
  *pos = i < n ? i + 1 : i;
  return 1;
}
