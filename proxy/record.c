/* record.c: see record.h. */
#include "proxy/record.h"

#include <string.h>
#include <time.h>

#include "base/http.h"
#include "base/util.h"
#include "config/config.h"
#include "learner/pagekey.h"
#include "proxy/conn.h"

static uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts); /* vDSO: no system call */
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* copy writes |n| bytes of |p| as a C string into |dst| (|cap| bytes) and
 * flags the record when it had to cut. */
static void copy(struct obs *o, char *dst, size_t cap, const char *p,
                 size_t n) {
  if (n >= cap) {
    n = cap - 1;
    o->flags |= OBS_F_TRUNCATED;
  }
  memcpy(dst, p, n);
  dst[n] = '\0';
}

static int contains(const char *p, size_t n, const char *needle) {
  size_t k = strlen(needle);
  for (size_t i = 0; i + k <= n; i++) {
    if (util_strcaseeq(p + i, k, needle))
      return 1;
  }
  return 0;
}

static uint8_t dest_of(const char *v, size_t n) {
  static const struct {
    const char *name;
    uint8_t dest;
  } map[] = {
      {"document", OBS_DEST_DOCUMENT}, {"style", OBS_DEST_STYLE},
      {"script", OBS_DEST_SCRIPT},     {"font", OBS_DEST_FONT},
      {"image", OBS_DEST_IMAGE},       {"empty", OBS_DEST_FETCH},
  };
  for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
    if (util_strcaseeq(v, n, map[i].name))
      return map[i].dest;
  }
  return OBS_DEST_OTHER;
}

uint8_t record_urgency(const char *v, size_t n) {
  size_t pos = 0, len;
  const char *m;
  while (http_list_next(v, n, &pos, &m, &len)) {
    if (len >= 3 && m[0] == 'u' && m[1] == '=' && m[2] >= '0' &&
        m[2] <= '7' && (len == 3 || m[3] == ';'))
      return (uint8_t)(m[2] - '0');
  }
  return 3;
}

/* nav_field notes what |h| says about the request being a navigation
 * (Accept, Authorization, Sec-Fetch-*) in |flags| and |dest|; returns 0
 * when |h| is none of those. Names of fewer than 6 bytes never are. */
static int nav_field(const struct http_hdr *h, uint32_t *flags,
                     uint8_t *dest) {
  const char *name = h->name;
  size_t len = h->name_len;
  switch (name[0] | 0x20) {
  case 'a':
    if (util_strcaseeq(name, len, "accept")) {
      if (contains(h->value, h->value_len, "text/html"))
        *flags |= OBS_F_ACCEPT_HTML;
      return 1;
    }
    if (util_strcaseeq(name, len, "authorization")) {
      *flags |= OBS_F_AUTHORIZATION;
      return 1;
    }
    return 0;
  case 's':
    if (len <= 10 || !util_strcaseeq(name, 10, "sec-fetch-"))
      return 0;
    *flags |= OBS_F_SEC_FETCH;
    if (util_strcaseeq(name, len, "sec-fetch-dest")) {
      *dest = dest_of(h->value, h->value_len);
      if (*dest == OBS_DEST_DOCUMENT)
        *flags |= OBS_F_NAVIGATE;
    } else if (util_strcaseeq(name, len, "sec-fetch-mode") &&
               util_strcaseeq(h->value, h->value_len, "navigate")) {
      *flags |= OBS_F_NAVIGATE;
    }
    return 1;
  default:
    return 0;
  }
}

/* maybe_navigation: record_maybe_navigation from the method and flags. */
static int maybe_navigation(int is_get, uint32_t flags) {
  if (!is_get)
    return 0;
  if (flags & OBS_F_SEC_FETCH)
    return (flags & OBS_F_NAVIGATE) != 0;
  return (flags & OBS_F_ACCEPT_HTML) != 0;
}

int record_request_navigation(const struct http_req *req, uint32_t *flags) {
  uint8_t dest = OBS_DEST_NONE;
  *flags = 0;
  for (size_t i = 0; i < req->nhdrs; i++) {
    if (req->hdrs[i].name_len >= 6)
      nav_field(&req->hdrs[i], flags, &dest);
  }
  return maybe_navigation(
      req->method_len == 3 && memcmp(req->method, "GET", 3) == 0, *flags);
}

void record_request(struct obs *o, const struct conn *c, uint64_t stream_id,
                    const struct http_req *req) {
  memset(o, 0, sizeof(*o));
  o->urgency = OBS_URGENCY_NONE;
  o->start_ms = wall_ms();
  o->conn_id = conn_id(c);
  o->stream_id = stream_id;
  if (req->client != NULL)
    memcpy(o->addr, req->client, sizeof(o->addr));
  else
    conn_peer_addr(c, o->addr);
  if (req->https)
    o->flags |= OBS_F_TLS;
  if (req->version == 20)
    o->flags |= OBS_F_H2;
  copy(o, o->method, sizeof(o->method), req->method, req->method_len);
  copy(o, o->authority, sizeof(o->authority), req->authority,
       req->authority_len);
  copy(o, o->path, sizeof(o->path), req->path, req->path_len);
  const char *ch = NULL, *ua = NULL;
  size_t ch_len = 0, ua_len = 0;
  for (size_t i = 0; i < req->nhdrs; i++) {
    const struct http_hdr *h = &req->hdrs[i];
    const char *name = h->name;
    size_t len = h->name_len;
    if (len < 6 || nav_field(h, &o->flags, &o->dest))
      continue;
    switch (name[0] | 0x20) {
    case 'r':
      if (util_strcaseeq(name, len, "referer"))
        copy(o, o->referer, sizeof(o->referer), h->value, h->value_len);
      break;
    case 'p':
      /* Chromium and Firefox state what they need first (RFC 9218). */
      if (util_strcaseeq(name, len, "priority"))
        o->urgency = record_urgency(h->value, h->value_len);
      break;
    case 'u':
      if (util_strcaseeq(name, len, "user-agent")) {
        ua = h->value;
        ua_len = h->value_len;
      }
      break;
    case 'i':
      if (util_strcaseeq(name, len, "if-none-match") ||
          util_strcaseeq(name, len, "if-modified-since"))
        o->flags |= OBS_F_CONDITIONAL;
      break;
    case 's':
      if (util_strcaseeq(name, len, "sec-ch-ua-mobile")) {
        ch = h->value;
        ch_len = h->value_len;
      }
      break;
    default:
      break;
    }
  }
  if (ua != NULL)
    o->ua_hash = util_fnv1a(UTIL_FNV1A_INIT, ua, ua_len);
  if (pagekey_is_mobile(ch, ch_len, ua, ua_len))
    o->flags |= OBS_F_MOBILE;
  /* Crawlers, monitors and tools the operator listed (by User-Agent, or
   * by the request's client: behind a trusted proxy, the real one) never
   * make visits; checked for navigations only, the one kind that can
   * start one. */
  if (record_maybe_navigation(o) &&
      config_ignored(conn_config(c), ua, ua_len, o->addr))
    o->flags |= OBS_F_IGNORED;
}

int record_maybe_navigation(const struct obs *o) {
  return maybe_navigation(strcmp(o->method, "GET") == 0, o->flags);
}

static int vary_other(const char *v, size_t n) {
  size_t pos = 0, len;
  const char *item;
  while (http_list_next(v, n, &pos, &item, &len))
    if (!util_strcaseeq(item, len, "accept-encoding"))
      return 1;
  return 0;
}

void record_response(struct obs *o, int status, const struct http_hdr *hdrs,
                     size_t n) {
  o->status = (uint16_t)status;
  for (size_t i = 0; i < n; i++) {
    const struct http_hdr *h = &hdrs[i];
    if (util_strcaseeq(h->name, h->name_len, "content-type")) {
      size_t k = 0;
      while (k < h->value_len && h->value[k] != ';' && h->value[k] != ' ')
        k++;
      copy(o, o->content_type, sizeof(o->content_type), h->value, k);
      for (char *p = o->content_type; *p; p++)
        *p = (*p >= 'A' && *p <= 'Z') ? (char)(*p + 32) : *p;
      if (strcmp(o->content_type, "text/html") == 0)
        o->flags |= OBS_F_HTML;
    } else if (util_strcaseeq(h->name, h->name_len, "cache-control")) {
      if (http_token_listed(h->value, h->value_len, "no-store", 8))
        o->flags |= OBS_F_NO_STORE;
      if (http_token_listed(h->value, h->value_len, "private", 7))
        o->flags |= OBS_F_PRIVATE;
    } else if (util_strcaseeq(h->name, h->name_len, "set-cookie")) {
      o->flags |= OBS_F_SET_COOKIE;
    } else if (util_strcaseeq(h->name, h->name_len, "vary")) {
      if (vary_other(h->value, h->value_len))
        o->flags |= OBS_F_VARY_OTHER;
    }
  }
}

void record_finish(struct obs *o, uint64_t bytes, int cut_short) {
  o->kind = OBS_DONE;
  o->end_ms = wall_ms();
  o->bytes = bytes;
  if (cut_short)
    o->flags |= OBS_F_CUT_SHORT;
}
