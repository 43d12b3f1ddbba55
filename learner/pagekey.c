/* pagekey.c: URLs become the keys the learner counts by.
 *
 * Two requests for the same page must give the same key, or what follows
 * the page is split over many keys and nothing reaches a threshold. So
 * the authority is lower-cased and loses its default port, the query is
 * dropped (most parameters are tracking or state, not another page) except
 * the few the operator names, and the fragment never reaches the server
 * anyway. A subresource is the other way round: its key is the URL the
 * browser asked for, query and all, byte for byte, because that is what a
 * hint or a push must name (theme.css?v=7 and theme.css are two entries
 * of the browser's cache, and preloading the one wastes a download when
 * the page asks for the other). Percent-encoding is left alone: decoding
 * could make two different resources look the same, and browsers send a
 * URL the same way each time.
 *
 * Wider levels have keys of their own: a section ("/docs/" and two '*')
 * and a site (the origin, "/" and two '*'). A page key never holds a '*'
 * (attribution does not record such navigations), so no page can pass
 * for a level.
 *
 * A Referer is an absolute URL while a request carries an origin-form
 * path, so both go through one function (make_key) and compare equal
 * exactly when they name the same thing. Everything here is pure and
 * bounded by the caller's buffer. */
#include "learner/pagekey.h"

#include <stdint.h>
#include <string.h>

/* A bounded writer: once something does not fit, the whole key fails
 * rather than being cut, since a cut key would name another resource. */
struct out {
  char *p;
  size_t cap;
  size_t len;
  int full;
};

static void out_init(struct out *o, char *p, size_t cap) {
  o->p = p;
  o->cap = cap;
  o->len = 0;
  o->full = cap == 0;
}

static void put(struct out *o, const char *s, size_t n) {
  /* Keep one byte for the terminating NUL. */
  if (o->full || n >= o->cap - o->len) {
    o->full = 1;
    return;
  }
  memcpy(o->p + o->len, s, n);
  o->len += n;
}

static int finish(struct out *o) {
  if (o->full) {
    if (o->cap > 0)
      o->p[0] = '\0';
    return -1;
  }
  o->p[o->len] = '\0';
  return (int)o->len;
}

static int lower(int c) {
  return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int is_digit(int c) { return c >= '0' && c <= '9'; }

static int is_hex(int c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Bytes allowed in an authority (RFC 3986 reg-name, IP literal, port).
 * Anything else, '@' included, means the input is not an authority we
 * serve: browsers strip userinfo from a Referer. */
static int authority_char(int c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c))
    return 1;
  return c != '\0' && strchr("-._~!$&'()*+,;=:[]%", c) != NULL;
}

/* A request target may not hold spaces or controls; refusing them keeps
 * a garbage Referer from turning into a key. */
static int path_char(int c) { return (unsigned char)c > 0x20 && c != 0x7f; }

/* put_authority writes |a| (|alen| bytes) lower-cased without a default
 * or empty port. Returns 0, or -1 if it is not a valid authority. */
static int put_authority(struct out *o, int https, const char *a,
                         size_t alen) {
  if (alen == 0)
    return -1;
  for (size_t i = 0; i < alen; i++)
    if (!authority_char((unsigned char)a[i]))
      return -1;

  /* Find where the host ends: after ']' for an IPv6 literal, else at the
   * only ':' (a second one means an unbracketed IPv6 address). */
  size_t hostlen = alen;
  if (a[0] == '[') {
    const char *rb = memchr(a, ']', alen);
    if (rb == NULL || rb == a + 1)
      return -1;
    hostlen = (size_t)(rb - a) + 1;
    if (hostlen < alen && a[hostlen] != ':')
      return -1;
  } else {
    const char *colon = memchr(a, ':', alen);
    if (colon != NULL) {
      hostlen = (size_t)(colon - a);
      if (memchr(colon + 1, ':', alen - hostlen - 1) != NULL)
        return -1;
    }
    if (memchr(a, '[', alen) != NULL || memchr(a, ']', alen) != NULL)
      return -1;
  }
  if (hostlen == 0)
    return -1;

  const char *port = a + hostlen;
  size_t portlen = alen - hostlen;
  if (portlen > 0) { /* ":" then digits, possibly none */
    port++;
    portlen--;
    for (size_t i = 0; i < portlen; i++)
      if (!is_digit((unsigned char)port[i]))
        return -1;
  }

  for (size_t i = 0; i < hostlen; i++) {
    char c = (char)lower((unsigned char)a[i]);
    put(o, &c, 1);
  }
  int dflt = portlen == 0 ||
             (https && portlen == 3 && memcmp(port, "443", 3) == 0) ||
             (!https && portlen == 2 && memcmp(port, "80", 2) == 0);
  if (!dflt) {
    put(o, ":", 1);
    put(o, port, portlen);
  }
  return 0;
}

/* kept says whether the query parameter |name| is in the comma-separated
 * |list| (spaces around names ignored). Names compare exactly: query
 * parameters are case-sensitive. */
static int kept(const char *list, const char *name, size_t nlen) {
  if (list == NULL || nlen == 0)
    return 0;
  const char *p = list;
  while (*p != '\0') {
    const char *e = strchr(p, ',');
    if (e == NULL)
      e = p + strlen(p);
    const char *s = p, *t = e;
    while (s < t && (*s == ' ' || *s == '\t'))
      s++;
    while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
      t--;
    if ((size_t)(t - s) == nlen && memcmp(s, name, nlen) == 0)
      return 1;
    p = *e == ',' ? e + 1 : e;
  }
  return 0;
}

/* make_key writes the key for authority |a| and |path|, where |path| is
 * "", or starts with '/', '?' or '#' (an absolute URL may have no path).
 * |exact| keeps the whole query as it is (a resource key); otherwise only
 * the parameters of cfg->keep_params stay (a page key). */
static int make_key(const struct pagekey_config *cfg, int https,
                    const char *a, size_t alen, const char *path, int exact,
                    char *buf, size_t cap) {
  struct out o;
  out_init(&o, buf, cap);
  put(&o, https ? "https://" : "http://", https ? 8 : 7);
  if (put_authority(&o, https, a, alen) != 0)
    goto fail;

  size_t plen = strcspn(path, "?#");
  for (size_t i = 0; path[i] != '\0'; i++)
    if (!path_char((unsigned char)path[i]))
      goto fail;
  if (plen == 0)
    put(&o, "/", 1);
  else
    put(&o, path, plen);

  if (path[plen] == '?' && exact) {
    put(&o, path + plen, strcspn(path + plen, "#"));
  } else if (path[plen] == '?') {
    const char *q = path + plen + 1;
    const char *qend = q + strcspn(q, "#");
    int first = 1;
    while (q < qend) {
      const char *amp = memchr(q, '&', (size_t)(qend - q));
      const char *pe = amp != NULL ? amp : qend;
      const char *eq = memchr(q, '=', (size_t)(pe - q));
      size_t nlen = (size_t)((eq != NULL ? eq : pe) - q);
      const char *list = cfg != NULL ? cfg->keep_params : NULL;
      if (kept(list, q, nlen)) {
        put(&o, first ? "?" : "&", 1);
        put(&o, q, (size_t)(pe - q));
        first = 0;
      }
      q = amp != NULL ? amp + 1 : qend;
    }
  }
  return finish(&o);
fail:
  o.full = 1;
  return finish(&o);
}

/* request_key makes the key of a request: origin-form |path|. */
static int request_key(const struct pagekey_config *cfg, int https,
                       const char *authority, const char *path, int exact,
                       char *out, size_t cap) {
  if (authority == NULL || path == NULL ||
      (path[0] != '/' && path[0] != '\0')) {
    if (cap > 0)
      out[0] = '\0';
    return -1;
  }
  return make_key(cfg, https, authority, strlen(authority), path, exact, out,
                  cap);
}

int pagekey_make(const struct pagekey_config *cfg, int https,
                 const char *authority, const char *path, char *out,
                 size_t cap) {
  return request_key(cfg, https, authority, path, 0, out, cap);
}

int pagekey_resource(int https, const char *authority, const char *path,
                     char *out, size_t cap) {
  return request_key(NULL, https, authority, path, 1, out, cap);
}

static int prefix_ci(const char *s, const char *prefix) {
  for (; *prefix != '\0'; s++, prefix++)
    if (lower((unsigned char)*s) != *prefix)
      return 0;
  return 1;
}

/* from_url splits an absolute http(s) URL and makes its key. */
static int from_url(const struct pagekey_config *cfg, const char *url,
                    int exact, char *out, size_t cap) {
  int https;
  const char *rest;
  if (url != NULL && prefix_ci(url, "http://")) {
    https = 0;
    rest = url + 7;
  } else if (url != NULL && prefix_ci(url, "https://")) {
    https = 1;
    rest = url + 8;
  } else {
    if (cap > 0)
      out[0] = '\0';
    return -1;
  }
  size_t alen = strcspn(rest, "/?#");
  return make_key(cfg, https, rest, alen, rest + alen, exact, out, cap);
}

int pagekey_from_url(const struct pagekey_config *cfg, const char *url,
                     char *out, size_t cap) {
  return from_url(cfg, url, 0, out, cap);
}

int pagekey_resource_from_url(const char *url, char *out, size_t cap) {
  return from_url(NULL, url, 1, out, cap);
}

int pagekey_is_origin(const char *key) {
  const char *s = key != NULL ? strstr(key, "://") : NULL;
  if (s == NULL)
    return 0;
  s += 3 + strcspn(s + 3, "/");
  return strcmp(s, "/") == 0;
}

/* Template matching works on the key's path: from the first '/' after
 * "scheme://" up to the query. */
static int split_key(const char *key, size_t *path_off, size_t *path_len) {
  const char *s = strstr(key, "://");
  if (s == NULL)
    return -1;
  const char *p = strchr(s + 3, '/');
  if (p == NULL)
    return -1;
  *path_off = (size_t)(p - key);
  *path_len = strcspn(p, "?");
  return 0;
}

/* pattern_matches says whether |pat| matches the whole |path| segment by
 * segment; a segment that is exactly "*" matches one non-empty segment. */
static int pattern_matches(const char *pat, const char *path, size_t plen) {
  const char *s = path, *se = path + plen;
  if (pat == NULL || *pat != '/')
    return 0;
  for (;;) {
    /* Both stand on a '/'. */
    pat++;
    s++;
    size_t pl = strcspn(pat, "/");
    const char *slash = memchr(s, '/', (size_t)(se - s));
    size_t sl = (size_t)((slash != NULL ? slash : se) - s);
    if (pl == 1 && pat[0] == '*') {
      if (sl == 0)
        return 0;
    } else if (pl != sl || memcmp(pat, s, pl) != 0) {
      return 0;
    }
    pat += pl;
    s += sl;
    if (*pat == '\0' || s == se)
      return *pat == '\0' && s == se;
  }
}

/* An id is what varies between pages of one kind: a number, a UUID or a
 * long hex hash. Shorter hex is left alone, since words like "cafe" or
 * "deadbeef" are real path names. */
static int is_id(const char *s, size_t n) {
  size_t i;
  if (n == 0)
    return 0;
  for (i = 0; i < n && is_digit((unsigned char)s[i]); i++)
    ;
  if (i == n)
    return 1;
  if (n == 36) {
    for (i = 0; i < n; i++) {
      int dash = i == 8 || i == 13 || i == 18 || i == 23;
      if (dash ? s[i] != '-' : !is_hex((unsigned char)s[i]))
        break;
    }
    if (i == n)
      return 1;
  }
  if (n >= 16) {
    for (i = 0; i < n && is_hex((unsigned char)s[i]); i++)
      ;
    if (i == n)
      return 1;
  }
  return 0;
}

int pagekey_template(const struct pagekey_config *cfg, const char *key,
                     char *buf, size_t cap) {
  struct out o;
  size_t off, plen;
  out_init(&o, buf, cap);
  if (key == NULL || split_key(key, &off, &plen) != 0) {
    o.full = 1;
    return finish(&o);
  }
  const char *path = key + off;
  put(&o, key, off);

  const char *pat = NULL;
  for (int i = 0; cfg != NULL && i < cfg->npatterns; i++) {
    if (pattern_matches(cfg->patterns[i], path, plen)) {
      pat = cfg->patterns[i];
      break;
    }
  }
  if (pat != NULL) {
    put(&o, pat, strlen(pat));
  } else {
    const char *s = path, *se = path + plen;
    while (s < se) { /* s stands on a '/' */
      const char *seg = s + 1;
      const char *slash = memchr(seg, '/', (size_t)(se - seg));
      const char *end = slash != NULL ? slash : se;
      put(&o, "/", 1);
      if (is_id(seg, (size_t)(end - seg)))
        put(&o, ":id", 3);
      else
        put(&o, seg, (size_t)(end - seg));
      s = end;
    }
  }
  put(&o, path + plen, strlen(path + plen));
  return finish(&o);
}

/* origin_len is the length of "scheme://authority" in |key| (where its
 * path starts), or 0 when it has no scheme, authority or path. */
static size_t origin_len(const char *key) {
  const char *s = key != NULL ? strstr(key, "://") : NULL;
  if (s == NULL || s == key)
    return 0;
  const char *p = strchr(s + 3, '/');
  return p == NULL || p == s + 3 ? 0 : (size_t)(p - key);
}

int pagekey_site(const char *key, char *buf, size_t cap) {
  struct out o;
  out_init(&o, buf, cap);
  size_t off = origin_len(key);
  if (off == 0)
    o.full = 1;
  else
    put(&o, key, off);
  put(&o, "/**", 3);
  return finish(&o);
}

int pagekey_section(const char *key, int depth, char *buf, size_t cap) {
  struct out o;
  out_init(&o, buf, cap);
  size_t off = origin_len(key);
  if (off == 0 || depth <= 0) {
    o.full = 1;
    return finish(&o);
  }
  const char *path = key + off;
  size_t plen = strcspn(path, "?");
  /* The first |depth| segments, and the page must lie below them. */
  size_t end = 0;
  for (int d = 0; d < depth; d++) {
    const char *slash = memchr(path + end + 1, '/', plen - end - 1);
    if (end + 1 > plen || slash == NULL) {
      o.full = 1;
      return finish(&o);
    }
    end = (size_t)(slash - path);
  }
  put(&o, key, off + end);
  put(&o, "/**", 3);
  return finish(&o);
}

/* glob matches |s| (|n| bytes) against |pat|: "**" any rest, "*" any run
 * without '/'. Recursion depth is bounded by the stars in |pat|. */
static int glob(const char *pat, const char *s, size_t n) {
  while (*pat != '\0') {
    if (pat[0] == '*' && pat[1] == '*')
      return 1;
    if (*pat == '*') {
      for (size_t i = 0; i <= n; i++) {
        if (glob(pat + 1, s + i, n - i))
          return 1;
        if (i < n && s[i] == '/')
          return 0;
      }
      return 0;
    }
    if (n == 0 || *pat != *s)
      return 0;
    pat++;
    s++;
    n--;
  }
  return n == 0;
}

int pagekey_scope_matches(const char *scope, const char *key) {
  if (scope == NULL || key == NULL)
    return 0;
  const char *star = strchr(scope, '*');
  if (star == NULL)
    return strcmp(scope, key) == 0;
  size_t so = origin_len(scope), ko = origin_len(key);
  if (so == 0 || so != ko || memcmp(scope, key, so) != 0 || scope + so > star)
    return 0;
  return glob(scope + so, key + ko, strlen(key + ko));
}

int pagekey_is_mobile(const char *ch_ua_mobile, size_t ch_len,
                      const char *user_agent, size_t ua_len) {
  if (ch_ua_mobile != NULL) {
    const char *s = ch_ua_mobile, *e = ch_ua_mobile + ch_len;
    while (s < e && (*s == ' ' || *s == '\t'))
      s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
      e--;
    if (e - s == 2 && s[0] == '?' && (s[1] == '1' || s[1] == '0'))
      return s[1] == '1';
  }
  /* MDN's advice: "Mobi" anywhere in the User-Agent means a mobile
   * device; case matters (it is a token, not prose). */
  if (user_agent != NULL && ua_len >= 4)
    for (size_t i = 0; i + 4 <= ua_len; i++)
      if (memcmp(user_agent + i, "Mobi", 4) == 0)
        return 1;
  return 0;
}

void pagekey_split_patterns(struct pagekey_config *cfg, char *p) {
  cfg->npatterns = 0;
  while (p != NULL && *p != '\0' && cfg->npatterns < PAGEKEY_MAX_PATTERNS) {
    while (*p == ' ' || *p == ',')
      p++;
    if (*p == '\0')
      break;
    char *end = p;
    while (*end != '\0' && *end != ',')
      end++;
    char *last = end;
    while (last > p && last[-1] == ' ')
      last--;
    char next = *end;
    *last = '\0';
    cfg->patterns[cfg->npatterns++] = p;
    p = next ? end + 1 : end;
  }
}

/* ---- what may be named to a client ------------------------------------ */

/* dot_segment: a whole segment a URL parser resolves away ("." or "..",
 * WHATWG also counting "%2e" as a dot). */
static int dot_segment(const char *s, size_t n) {
  size_t dots = 0, i = 0;
  while (i < n) {
    if (s[i] == '.') {
      i++;
    } else if (n - i >= 3 && s[i] == '%' && s[i + 1] == '2' &&
               lower(s[i + 2]) == 'e') {
      i += 3;
    } else {
      return 0;
    }
    dots++;
  }
  return dots == 1 || dots == 2;
}

int pagekey_path_safe(const char *path, size_t len) {
  if (len == 0 || path[0] != '/' || (len > 1 && path[1] == '/'))
    return 0;
  size_t seg = 1, query = 0;
  for (size_t i = 0; i <= len; i++) {
    int c = i < len ? (unsigned char)path[i] : '/';
    if (!query && (c == '/' || c == '?')) {
      if (i > 0 && dot_segment(path + seg, i - seg))
        return 0;
      seg = i + 1;
      if (c == '?')
        query = 1;
      continue;
    }
    if (i == len)
      break;
    if (c <= 0x20 || c == 0x7f || c == '"' || c == '<' || c == '>' ||
        c == '#' || c == '\\')
      return 0;
    if (c == '%' &&
        (len - i < 3 || !is_hex(path[i + 1]) || !is_hex(path[i + 2])))
      return 0;
  }
  return 1;
}

int pagekey_rule_ok(const char *page_key, const char *resource_key) {
  size_t po = origin_len(page_key), ro = origin_len(resource_key);
  if (po == 0 || po != ro || memcmp(page_key, resource_key, po) != 0)
    return 0;
  return pagekey_path_safe(resource_key + ro, strlen(resource_key + ro));
}
