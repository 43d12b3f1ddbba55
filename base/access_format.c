/* access_format.c: see access_format.h. */
#include "base/access_format.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "base/client.h"
#include "base/http.h"
#include "base/log.h"
#include "base/util.h"

enum access_var {
  V_LITERAL,
  V_TIME,         /* herald's: 2024-01-02T03:04:05.678Z (UTC) */
  V_TIME_ISO8601, /* 2024-01-02T03:04:05+00:00 */
  V_TIME_LOCAL,   /* 02/Jan/2024:03:04:05 +0000 */
  V_MSEC,         /* 1704164645.678 */
  V_REMOTE_ADDR,
  V_REQUEST,      /* "GET /x HTTP/2.0" */
  V_REQUEST_METHOD,
  V_REQUEST_URI,
  V_HOST,
  V_SERVER_PROTOCOL,
  V_PROTO,
  V_STATUS,
  V_BODY_BYTES_SENT,
  V_REQUEST_TIME, /* seconds, millisecond resolution */
  V_REQUEST_MS,
  V_UPSTREAM_ADDR,
  V_HINTS,
  V_PUSHED,
  V_HTTP,         /* a request header field: $http_NAME */
};

static const struct {
  const char *name;
  enum access_var var;
} vars[] = {
    {"time", V_TIME},
    {"time_iso8601", V_TIME_ISO8601},
    {"time_local", V_TIME_LOCAL},
    {"msec", V_MSEC},
    {"remote_addr", V_REMOTE_ADDR},
    {"request", V_REQUEST},
    {"request_method", V_REQUEST_METHOD},
    {"request_uri", V_REQUEST_URI},
    {"host", V_HOST},
    {"server_protocol", V_SERVER_PROTOCOL},
    {"proto", V_PROTO},
    {"status", V_STATUS},
    {"body_bytes_sent", V_BODY_BYTES_SENT},
    {"request_time", V_REQUEST_TIME},
    {"request_ms", V_REQUEST_MS},
    {"upstream_addr", V_UPSTREAM_ADDR},
    {"hints", V_HINTS},
    {"pushed", V_PUSHED},
};

static int name_char(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9') || ch == '_';
}

static int add_item(struct access_format *f, enum access_var var,
                    size_t off, size_t len, char *why, size_t whylen) {
  if (f->n == ACCESS_ITEMS_MAX) {
    snprintf(why, whylen, "more than %d variables and literal runs",
             ACCESS_ITEMS_MAX);
    return -1;
  }
  f->items[f->n++] = (struct access_item){(uint8_t)var, (uint16_t)off,
                                          (uint16_t)len};
  return 0;
}

int access_format_parse(const char *fmt, struct access_format *out,
                        char *why, size_t whylen) {
  size_t n = strlen(fmt);
  memset(out, 0, sizeof(*out));
  if (n >= sizeof(out->text)) {
    snprintf(why, whylen, "format is too long (%zu bytes, max %d)", n,
             ACCESS_FORMAT_MAX - 1);
    return -1;
  }
  memcpy(out->text, fmt, n + 1);
  size_t i = 0, lit = 0;
  while (i < n) {
    /* "$name" or "${name}"; a '$' before anything else is literal. */
    int braced = fmt[i] == '$' && fmt[i + 1] == '{';
    size_t start = i + 1 + (size_t)braced, end = start;
    if (fmt[i] != '$') {
      i++;
      continue;
    }
    while (end < n && name_char(fmt[end]))
      end++;
    if (end == start || (braced && fmt[end] != '}')) {
      if (braced) {
        snprintf(why, whylen, "'${' at byte %zu has no closing '}'", i);
        return -1;
      }
      i++;
      continue;
    }
    if (i > lit && add_item(out, V_LITERAL, lit, i - lit, why, whylen) < 0)
      return -1;
    size_t len = end - start;
    const char *name = fmt + start;
    int found = -1;
    for (size_t k = 0; k < ARRAY_SIZE(vars); k++) {
      if (strlen(vars[k].name) == len && memcmp(vars[k].name, name, len) == 0)
        found = (int)vars[k].var;
    }
    if (found >= 0) {
      if (add_item(out, (enum access_var)found, 0, 0, why, whylen) < 0)
        return -1;
    } else if (len > 5 && memcmp(name, "http_", 5) == 0) {
      if (add_item(out, V_HTTP, start + 5, len - 5, why, whylen) < 0)
        return -1;
    } else {
      snprintf(why, whylen, "unknown variable '$%.*s' (see \"Access log\" "
               "in README.md)", (int)len, name);
      return -1;
    }
    i = lit = end + (size_t)braced;
  }
  if (n > lit && add_item(out, V_LITERAL, lit, n - lit, why, whylen) < 0)
    return -1;
  return 0;
}

/* ---- formatting ------------------------------------------------------ */

struct line {
  char *p;
  size_t len, cap; /* cap leaves room for the NUL */
};

static void put(struct line *l, const char *s, size_t n) {
  if (n > l->cap - l->len)
    n = l->cap - l->len;
  memcpy(l->p + l->len, s, n);
  l->len += n;
}

static void putf(struct line *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void putf(struct line *l, const char *fmt, ...) {
  char tmp[64];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if (n > 0)
    put(l, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* put_text writes request-controlled bytes escaped, or "-" when empty. */
static void put_text(struct line *l, const char *s, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  if (s == NULL || n == 0) {
    put(l, "-", 1);
    return;
  }
  for (size_t i = 0; i < n && l->len < l->cap; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') {
      char esc[4] = {'\\', 'x', hex[ch >> 4], hex[ch & 15]};
      put(l, esc, 4);
    } else {
      l->p[l->len++] = (char)ch;
    }
  }
}

static void put_str(struct line *l, const char *s) {
  put_text(l, s, s != NULL ? strlen(s) : 0);
}

static const char *server_protocol(const char *proto) {
  if (proto != NULL && strcmp(proto, "h2") == 0)
    return "HTTP/2.0";
  if (proto != NULL && strcmp(proto, "http/1.0") == 0)
    return "HTTP/1.0";
  return "HTTP/1.1";
}

/* put_header writes the first request field named |name| (with '_' for
 * '-', any case), as nginx's $http_NAME. */
static void put_header(struct line *l, const struct http_fields *f,
                       const char *name, size_t len) {
  for (size_t i = 0; f != NULL && i < f->n; i++) {
    const struct http_field_ent *e = &f->ent[i];
    const char *fn = f->buf + e->noff;
    size_t k = 0;
    if (e->nlen != len)
      continue;
    for (; k < len; k++) {
      char a = fn[k] >= 'A' && fn[k] <= 'Z' ? (char)(fn[k] + 32) : fn[k];
      char b = name[k] >= 'A' && name[k] <= 'Z' ? (char)(name[k] + 32)
                                                : name[k];
      if (a == '-')
        a = '_';
      if (a != b)
        break;
    }
    if (k == len) {
      put_text(l, f->buf + e->voff, e->vlen);
      return;
    }
  }
  put(l, "-", 1);
}

static void put_time(struct line *l, enum access_var var, uint64_t now_us) {
  static const char *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t sec = (time_t)(now_us / 1000000);
  int ms = (int)(now_us / 1000 % 1000);
  struct tm tm;
  gmtime_r(&sec, &tm);
  char buf[40];
  size_t n;
  switch (var) {
  case V_TIME:
    n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    putf(l, "%.*s.%03dZ", (int)n, buf, ms);
    return;
  case V_TIME_ISO8601:
    n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S+00:00", &tm);
    put(l, buf, n);
    return;
  case V_TIME_LOCAL:
    putf(l, "%02d/%s/%04d:%02d:%02d:%02d +0000", tm.tm_mday,
         months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
         tm.tm_sec);
    return;
  default:
    putf(l, "%lld.%03d", (long long)sec, ms);
    return;
  }
}

size_t access_format_line(const struct access_format *f,
                          const struct access_entry *e, const char *peer,
                          uint64_t now_us, char *out, size_t cap) {
  struct line l = {out, 0, cap - 1};
  char addr[CLIENT_TEXT_MAX];
  for (int i = 0; i < f->n; i++) {
    const struct access_item *it = &f->items[i];
    switch ((enum access_var)it->var) {
    case V_LITERAL:
      put(&l, f->text + it->off, it->len);
      break;
    case V_TIME:
    case V_TIME_ISO8601:
    case V_TIME_LOCAL:
    case V_MSEC:
      put_time(&l, (enum access_var)it->var, now_us);
      break;
    case V_REMOTE_ADDR:
      if (e->client != NULL) {
        client_format(e->client, addr, sizeof(addr));
        put_str(&l, addr);
      } else {
        put_str(&l, peer);
      }
      break;
    case V_REQUEST:
      put_str(&l, e->method);
      put(&l, " ", 1);
      put_str(&l, e->path);
      put(&l, " ", 1);
      put_str(&l, server_protocol(e->proto));
      break;
    case V_REQUEST_METHOD:
      put_str(&l, e->method);
      break;
    case V_REQUEST_URI:
      put_str(&l, e->path);
      break;
    case V_HOST:
      put_str(&l, e->authority);
      break;
    case V_SERVER_PROTOCOL:
      put_str(&l, server_protocol(e->proto));
      break;
    case V_PROTO:
      put_str(&l, e->proto);
      break;
    case V_STATUS:
      putf(&l, "%d", e->status);
      break;
    case V_BODY_BYTES_SENT:
      putf(&l, "%" PRIu64, e->bytes);
      break;
    case V_REQUEST_TIME:
      putf(&l, "%" PRIu64 ".%03u", e->ms / 1000, (unsigned)(e->ms % 1000));
      break;
    case V_REQUEST_MS:
      putf(&l, "%" PRIu64, e->ms);
      break;
    case V_UPSTREAM_ADDR:
      put_str(&l, e->backend);
      break;
    case V_HINTS:
      putf(&l, "%d", e->hints);
      break;
    case V_PUSHED:
      put(&l, e->pushed ? "1" : "0", 1);
      break;
    case V_HTTP:
      put_header(&l, e->fields, f->text + it->off, it->len);
      break;
    }
  }
  out[l.len] = '\0';
  return l.len;
}
