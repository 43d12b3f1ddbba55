/* hints_declared.c: what a backend declares (its Link fields, its own
 * 103) and the one 103 a navigation gets (see hints.h, "What the backend
 * declares"). Fixed-size arrays throughout: a backend response costs no
 * allocation, whatever it declares. */
#include "proxy/hints.h"

#include <stdio.h>
#include <string.h>

#include "learner/learn.h"
#include "learner/recorder.h"
#include "learner/ruleset.h"
#include "base/http.h"
#include "proxy/linkfield.h"
#include "proxy/loop.h"
#include "base/util.h"

/* has_scheme: |t| starts with "scheme:" (RFC 3986 3.1). */
static int has_scheme(const char *t, size_t n) {
  if (n == 0 || !((t[0] | 0x20) >= 'a' && (t[0] | 0x20) <= 'z'))
    return 0;
  for (size_t i = 1; i < n; i++) {
    char c = t[i];
    if (c == ':')
      return 1;
    if (!((c | 0x20) >= 'a' && (c | 0x20) <= 'z') && !(c >= '0' && c <= '9') &&
        c != '+' && c != '-' && c != '.')
      return 0;
  }
  return 0;
}

/* resolve turns the link target |t| (|n| bytes, fragment cut) into the
 * origin-form path it names on the request's origin |origin|
 * ("scheme://authority/", a pagekey_resource key) for the request path
 * |path| (|plen|), into |out|. Returns 0, or -1 when it names another
 * origin or another scheme, or does not fit. */
static int resolve(const char *t, size_t n, const char *origin,
                   const char *path, size_t plen, char *out, size_t cap) {
  char url[PAGEKEY_MAX], key[PAGEKEY_MAX];
  size_t olen = strlen(origin) - 1; /* without its '/' */
  int k;
  if (n >= 2 && t[0] == '/' && t[1] == '/') {
    /* Scheme-relative: the page's scheme, the link's authority. */
    size_t slen = (size_t)(strstr(origin, "://") - origin) + 1;
    k = snprintf(url, sizeof(url), "%.*s%.*s", (int)slen, origin, (int)n, t);
  } else if (has_scheme(t, n)) {
    k = snprintf(url, sizeof(url), "%.*s", (int)n, t);
  } else if (n > 0 && t[0] == '/') {
    k = snprintf(url, sizeof(url), "%.*s%.*s", (int)olen, origin, (int)n, t);
  } else if (n > 0 && t[0] != '?') {
    /* A relative path: against the directory of the request's path. */
    size_t q = 0;
    while (q < plen && path[q] != '?')
      q++;
    while (q > 0 && path[q - 1] != '/')
      q--;
    k = snprintf(url, sizeof(url), "%.*s%.*s%.*s", (int)olen, origin, (int)q,
                 path, (int)n, t);
  } else {
    return -1;
  }
  if (k < 0 || (size_t)k >= sizeof(url))
    return -1;
  /* The same key rules as every resource: lower-cased authority, default
   * port dropped; anything not http(s) is refused there. */
  if (pagekey_resource_from_url(url, key, sizeof(key)) < 0 ||
      strncmp(key, origin, olen) != 0 || key[olen] != '/')
    return -1;
  size_t len = strlen(key + olen);
  if (len >= cap)
    return -1;
  memcpy(out, key + olen, len + 1);
  return 0;
}

size_t hints_declared_read(const struct http_hdr *hdrs, size_t n, int https,
                           const char *authority, size_t alen,
                           const char *path, size_t plen,
                           struct hints_declared *out, size_t cap) {
  char auth[OBS_AUTHORITY_MAX], origin[PAGEKEY_MAX];
  size_t got = 0;
  if (alen >= sizeof(auth))
    return 0;
  memcpy(auth, authority, alen);
  auth[alen] = '\0';
  if (pagekey_resource(https, auth, "/", origin, sizeof(origin)) < 0)
    return 0;
  for (size_t i = 0; i < n && got < cap; i++) {
    if (!util_strcaseeq(hdrs[i].name, hdrs[i].name_len, "link"))
      continue;
    size_t pos = 0;
    struct linkfield lf;
    while (got < cap &&
           linkfield_next(hdrs[i].value, hdrs[i].value_len, &pos, &lf) == 1) {
      uint8_t dest = hints_dest_of(lf.as);
      if (!(lf.rels & LINKFIELD_REL_PRELOAD) || lf.anchor ||
          dest == OBS_DEST_NONE)
        continue;
      struct hints_declared *d = &out[got];
      const char *hash = memchr(lf.target, '#', lf.target_len);
      size_t tn = hash ? (size_t)(hash - lf.target) : lf.target_len;
      if (resolve(lf.target, tn, origin, path, plen, d->path,
                  sizeof(d->path)) != 0 ||
          !pagekey_path_safe(d->path, strlen(d->path)))
        continue;
      int dup = 0;
      for (size_t j = 0; j < got && !dup; j++)
        dup = strcmp(out[j].path, d->path) == 0;
      if (dup)
        continue;
      d->dest = dest;
      d->cors = lf.cors;
      got++;
    }
  }
  return got;
}

/* One Link of a 103 being composed: herald's entry |i| of the page, or
 * the declared link |i|. */
struct item {
  uint8_t rank;
  uint8_t declared;
  size_t i;
  const char *path;
};

size_t hints_compose(const struct ruleset_page *p, uint64_t named,
                     const struct hints_declared *d, size_t nd,
                     struct hints_early *e) {
  struct item items[64 + HINTS_DECLARED_MAX];
  size_t n = 0;
  e->n = 0;
  e->declared_named = 0;
  e->own = 0;
  for (size_t i = 0; p != NULL && i < p->n && i < 64; i++) {
    const struct ruleset_entry *x = &p->entries[i];
    if (named >> i & 1)
      items[n++] = (struct item){x->rank, 0, i, x->path};
  }
  for (size_t i = 0; i < nd && i < HINTS_DECLARED_MAX; i++) {
    size_t j = 0;
    while (j < n && (items[j].declared || strcmp(items[j].path, d[i].path)))
      j++;
    if (j < n) {
      e->declared_named |= 1u << i; /* herald's entry names it */
      continue;
    }
    items[n++] = (struct item){learn_rank_of(d[i].dest, VISIT_URGENCY_NONE),
                               1, i, d[i].path};
  }
  /* Herald's entries are in serving order already; a stable pass by rank
   * puts each declared link after herald's of its rank. */
  for (uint8_t rank = LEARN_RANK_STYLE; rank <= LEARN_RANK_OTHER; rank++) {
    for (size_t k = 0; k < n && e->n < HINTS_LINKS_MAX; k++) {
      const struct item *it = &items[k];
      if (it->rank != rank && !(rank == LEARN_RANK_OTHER &&
                                it->rank > LEARN_RANK_OTHER))
        continue;
      size_t len =
          it->declared
              ? hints_link_path(d[it->i].path, d[it->i].dest, d[it->i].cors,
                                e->link[e->n], HINTS_LINK_LEN)
              : hints_link(p, it->i, e->link[e->n], HINTS_LINK_LEN);
      if (len == 0)
        continue;
      e->rank[e->n] = rank;
      e->len[e->n++] = len;
      if (it->declared)
        e->declared_named |= 1u << it->i;
      else
        e->own = 1;
    }
  }
  return e->n;
}

void hints_note_declared(struct loop *lp, const struct obs *page,
                         const struct hints_declared *d, size_t n,
                         uint32_t flags, uint32_t named, uint8_t *count) {
  if (page == NULL || page->kind != OBS_NAV_START ||
      (page->flags & (OBS_F_IGNORED | OBS_F_TRUNCATED)))
    return;
  for (size_t i = 0; i < n && *count < OBS_DECLARED_MAX; i++) {
    struct obs o = *page; /* the page's client, connection and stream */
    o.kind = OBS_DECLARED;
    o.flags = (page->flags & (OBS_F_TLS | OBS_F_H2)) | flags |
              ((named >> i & 1) ? OBS_F_DECL_NAMED : 0);
    o.dest = d[i].dest;
    o.status = 0;
    o.referer[0] = '\0';
    o.content_type[0] = '\0';
    snprintf(o.path, sizeof(o.path), "%s", d[i].path);
    recorder_post(lp->recorder, &o);
    (*count)++;
  }
}

int hints_backend_103(struct loop *lp, const struct config *cfg,
                      const struct obs *o, int may,
                      int sent, int https, const char *authority,
                      size_t alen, const char *path, size_t plen,
                      const struct http_hdr *hdrs, size_t n,
                      uint8_t *count, struct hints_early *e) {
  struct hints_declared d[HINTS_DECLARED_MAX], fwd[HINTS_DECLARED_MAX];
  size_t nd = hints_declared_read(hdrs, n, https, authority, alen, path,
                                  plen, d, HINTS_DECLARED_MAX);
  size_t nf = 0, of[HINTS_DECLARED_MAX];
  uint32_t named = 0;
  int send = may && !sent;
  int verifying = send && nd > 0 && hints_verify_draw(lp, cfg);
  for (size_t i = 0; send && i < nd; i++) {
    if (verifying) {
      lp->stats.verify_withheld++;
      continue;
    }
    of[nf] = i;
    fwd[nf++] = d[i];
  }
  send = send && nf > 0 && hints_compose(NULL, 0, fwd, nf, e) > 0;
  for (size_t i = 0; send && i < nf; i++)
    if (e->declared_named >> i & 1)
      named |= 1u << of[i];
  if (send)
    lp->stats.backend_hints_forwarded++;
  else
    lp->stats.backend_hints_dropped++;
  if (o != NULL)
    hints_note_declared(lp, o, d, nd, OBS_F_DECL_EARLY, named, count);
  return send;
}

void hints_page_response(struct loop *lp, const struct obs *o,
                         const struct http_hdr *hdrs, size_t n,
                         uint8_t *count) {
  if (o->kind != OBS_NAV_START || o->status != 200 ||
      !(o->flags & OBS_F_HTML) || *count >= OBS_DECLARED_MAX)
    return;
  struct hints_declared d[HINTS_DECLARED_MAX];
  size_t nd = hints_declared_read(hdrs, n, (o->flags & OBS_F_TLS) != 0,
                                  o->authority, strlen(o->authority),
                                  o->path, strlen(o->path), d,
                                  HINTS_DECLARED_MAX);
  hints_note_declared(lp, o, d, nd, 0, 0, count);
}
