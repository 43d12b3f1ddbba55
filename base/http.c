/* http.c: see http.h. */
#include "base/http.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

int http_is_hop_by_hop(const char *name, size_t len) {
  /* By length first: most fields are ruled out without a comparison. */
  switch (len) {
  case 2:
    return util_strcaseeq(name, len, "te");
  case 7:
    return util_strcaseeq(name, len, "upgrade");
  case 10:
    return util_strcaseeq(name, len, "connection") ||
           util_strcaseeq(name, len, "keep-alive");
  case 14:
    return util_strcaseeq(name, len, "http2-settings");
  case 16:
    return util_strcaseeq(name, len, "proxy-connection");
  case 17:
    return util_strcaseeq(name, len, "transfer-encoding");
  default:
    return 0;
  }
}

int http_list_next(const char *list, size_t list_len, size_t *pos,
                   const char **item, size_t *item_len) {
  size_t i = *pos;
  while (i < list_len) {
    while (i < list_len && (list[i] == ' ' || list[i] == '\t' || list[i] == ','))
      i++;
    size_t start = i;
    while (i < list_len && list[i] != ',')
      i++;
    size_t end = i;
    while (end > start && (list[end - 1] == ' ' || list[end - 1] == '\t'))
      end--;
    if (end > start) {
      *pos = i;
      *item = list + start;
      *item_len = end - start;
      return 1;
    }
  }
  *pos = i;
  return 0;
}

int http_token_listed(const char *list, size_t list_len, const char *name,
                      size_t name_len) {
  size_t pos = 0, n;
  const char *item;
  while (http_list_next(list, list_len, &pos, &item, &n)) {
    if (n == name_len && util_memcaseeq(item, name, n))
      return 1;
  }
  return 0;
}

static inline int is_regname_char(unsigned char c) {
  /* unreserved / sub-delims / pct-encoded from RFC 3986, minus those that
   * no real host name uses and a backend might treat specially. ASCII
   * letters by folding case (only they fold into a..z), not the locale's
   * isalnum: every request's authority goes through here. */
  unsigned char folded = c | 0x20;
  return (folded >= 'a' && folded <= 'z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '.' || c == '_' || c == '~' || c == '%';
}

int http_authority_valid(const char *p, size_t len) {
  size_t i = 0;
  if (len == 0 || len > 255)
    return 0;
  if (p[0] == '[') {
    for (i = 1; i < len && p[i] != ']'; i++) {
      unsigned char c = (unsigned char)p[i];
      if (!isxdigit(c) && c != ':' && c != '.')
        return 0;
    }
    if (i == len || i == 1)
      return 0;
    i++; /* past ']' */
  } else {
    for (; i < len && p[i] != ':'; i++) {
      if (!is_regname_char((unsigned char)p[i]))
        return 0;
    }
    if (i == 0)
      return 0;
  }
  if (i == len)
    return 1;
  if (p[i] != ':' || i + 1 == len || len - i - 1 > 5)
    return 0;
  for (i++; i < len; i++) {
    if (!isdigit((unsigned char)p[i]))
      return 0;
  }
  return 1;
}

size_t http_authority_host_len(const char *p, size_t len) {
  if (len > 0 && p[0] == '[') {
    const char *e = memchr(p, ']', len);
    return e ? (size_t)(e - p) + 1 : len;
  }
  const char *colon = memchr(p, ':', len);
  return colon ? (size_t)(colon - p) : len;
}

int http_path_valid(const char *p, size_t len, int is_options) {
  if (len == 1 && p[0] == '*')
    return is_options;
  if (len == 0 || p[0] != '/')
    return 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c <= 0x20 || c == 0x7f)
      return 0;
  }
  return 1;
}

/* escaped: whether a browser's URL parser (WHATWG URL Standard, special
 * schemes) percent-encodes byte |c| in a path (|query| 0) or a query:
 * the C0 control set (controls, DEL, non-ASCII) and space, '"', '#', '<',
 * '>'; in a path also '^', '`', '{', '}' (the path set; its '?' starts
 * the query) and '\\', which it reads as '/' (so a literal one can only
 * be %5C); in a query also '\'' (the special-query set). */
static int escaped(unsigned char c, int query) {
  if (c <= 0x20 || c >= 0x7f)
    return 1;
  if (c == '"' || c == '#' || c == '<' || c == '>')
    return 1;
  if (query)
    return c == '\'';
  return c == '^' || c == '`' || c == '{' || c == '}' || c == '\\';
}

size_t http_path_escape(const char *p, size_t n, char *out, size_t cap) {
  static const char hex[] = "0123456789ABCDEF";
  size_t w = 0;
  int query = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c == '?')
      query = 1;
    int keep = !escaped(c, query);
    if (w + (keep ? 1 : 3) >= cap)
      return 0;
    if (keep) {
      out[w++] = (char)c;
    } else {
      out[w++] = '%';
      out[w++] = hex[c >> 4];
      out[w++] = hex[c & 15];
    }
  }
  if (w >= cap)
    return 0;
  out[w] = '\0';
  return w;
}


/* te_element checks one list element v[b, e) (trimmed, not empty): a
 * token, then parameters of tokens, ';', '=' and whitespace. Returns the
 * length of the token, or 0 when the element is not of that form. */
static size_t te_element(const char *v, size_t b, size_t e) {
  size_t t = b;
  while (t < e && http_is_tchar((unsigned char)v[t]))
    t++;
  for (size_t j = t; j < e; j++) {
    unsigned char c = (unsigned char)v[j];
    if (!http_is_tchar(c) && c != ';' && c != '=' && c != ' ' && c != '\t')
      return 0;
  }
  return t - b;
}

enum http_te http_transfer_codings(const struct http_hdr *hdrs, size_t n,
                                   char *out, size_t cap) {
  size_t len = 0;
  int seen = 0, chunked = 0;
  if (cap == 0)
    return HTTP_TE_INVALID;
  out[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    if (!util_strcaseeq(hdrs[i].name, hdrs[i].name_len, "transfer-encoding"))
      continue;
    seen = 1;
    const char *v = hdrs[i].value;
    size_t vl = hdrs[i].value_len;
    for (size_t k = 0; k <= vl; k++) {
      size_t b = k;
      while (k < vl && v[k] != ',')
        k++;
      size_t e = k;
      while (b < e && (v[b] == ' ' || v[b] == '\t'))
        b++;
      while (e > b && (v[e - 1] == ' ' || v[e - 1] == '\t'))
        e--;
      if (b == e)
        continue; /* empty list elements are allowed and mean nothing */
      size_t tlen = te_element(v, b, e);
      /* Anything after chunked means chunked was not the final coding,
       * or came twice (RFC 9112 6.1, 7). */
      if (tlen == 0 || chunked)
        return HTTP_TE_INVALID;
      if (util_strcaseeq(v + b, tlen, "chunked")) {
        if (b + tlen != e)
          return HTTP_TE_INVALID; /* chunked takes no parameters */
        chunked = 1;
        continue;
      }
      if (b + tlen == e && util_strcaseeq(v + b, tlen, "identity"))
        continue;
      if (len + (len ? 2 : 0) + (e - b) + 1 > cap)
        return HTTP_TE_INVALID;
      if (len) {
        out[len++] = ',';
        out[len++] = ' ';
      }
      memcpy(out + len, v + b, e - b);
      len += e - b;
      out[len] = '\0';
    }
  }
  if (!seen)
    return HTTP_TE_NONE;
  return chunked ? HTTP_TE_CHUNKED : HTTP_TE_UNCHUNKED;
}

int http_method_idempotent(const char *m, size_t len) {
  static const char *const idem[] = {"GET", "HEAD", "OPTIONS", "TRACE",
                                     "PUT", "DELETE"};
  for (size_t i = 0; i < ARRAY_SIZE(idem); i++) {
    if (len == strlen(idem[i]) && memcmp(m, idem[i], len) == 0)
      return 1;
  }
  return 0;
}

/* A request head is written in a couple of dozen small pieces; they are
 * gathered here and go to the queue in one append or a few. */
struct out {
  struct buf *q;
  size_t len;
  char b[2048];
};

static void flush(struct out *out) {
  buf_append(out->q, out->b, out->len);
  out->len = 0;
}

static void put(struct out *out, const char *s, size_t n) {
  if (out->len + n > sizeof(out->b)) {
    flush(out);
    if (n > sizeof(out->b)) {
      buf_append(out->q, s, n);
      return;
    }
  }
  memcpy(out->b + out->len, s, n);
  out->len += n;
}
static void puts_(struct out *out, const char *s) { put(out, s, strlen(s)); }

static void put_field(struct out *out, const char *name, size_t nlen,
                      const char *value, size_t vlen) {
  put(out, name, nlen);
  put(out, ": ", 2);
  put(out, value, vlen);
  put(out, "\r\n", 2);
}

/* Fields herald writes itself or must not pass through, beyond the
 * hop-by-hop set. Expect is answered by the front session. */
static int replaced_by_proxy(const char *name, size_t len) {
  switch (name[0] | 0x20) {
  case 'h': case 'c': case 'e': case 'x': case 'v':
    break;
  default:
    return 0;
  }
  return util_strcaseeq(name, len, "host") ||
         util_strcaseeq(name, len, "content-length") ||
         util_strcaseeq(name, len, "expect") ||
         util_strcaseeq(name, len, "x-forwarded-proto") ||
         util_strcaseeq(name, len, "x-forwarded-for") ||
         util_strcaseeq(name, len, "via") ||
         util_strcaseeq(name, len, "cookie");
}

static void put_joined(struct out *out, const struct http_req *req,
                       const char *field, const char *sep,
                       const char *extra) {
  size_t seen = 0;
  for (size_t i = 0; i < req->nhdrs; i++) {
    const struct http_hdr *h = &req->hdrs[i];
    if (!util_strcaseeq(h->name, h->name_len, field))
      continue;
    if (seen++ == 0) {
      puts_(out, field);
      put(out, ": ", 2);
    } else {
      puts_(out, sep);
    }
    put(out, h->value, h->value_len);
  }
  if (extra != NULL) {
    if (seen++ == 0) {
      puts_(out, field);
      put(out, ": ", 2);
    } else {
      puts_(out, sep);
    }
    puts_(out, extra);
  }
  if (seen > 0)
    put(out, "\r\n", 2);
}

/* named_by_connection: does any Connection field of |req| list |name|?
 * HTTP/1.1 clients may send several (RFC 9110 7.6.1). */
static int named_by_connection(const struct http_req *req, const char *name,
                               size_t len) {
  for (size_t i = 0; i < req->nhdrs; i++) {
    const struct http_hdr *h = &req->hdrs[i];
    if (util_strcaseeq(h->name, h->name_len, "connection") &&
        http_token_listed(h->value, h->value_len, name, len))
      return 1;
  }
  return 0;
}

void http_req_serialize(const struct http_req *req, struct buf *q) {
  struct out o, *out = &o;
  o.q = q;
  o.len = 0;
  int has_connection = 0;
  for (size_t i = 0; i < req->nhdrs; i++) {
    const struct http_hdr *h = &req->hdrs[i];
    if (util_strcaseeq(h->name, h->name_len, "connection"))
      has_connection = 1;
  }

  put(out, req->method, req->method_len);
  put(out, " ", 1);
  put(out, req->path, req->path_len);
  puts_(out, " HTTP/1.1\r\n");
  put_field(out, "Host", 4, req->authority, req->authority_len);

  for (size_t i = 0; i < req->nhdrs; i++) {
    const struct http_hdr *h = &req->hdrs[i];
    if (http_is_hop_by_hop(h->name, h->name_len) ||
        replaced_by_proxy(h->name, h->name_len))
      continue;
    if (has_connection && named_by_connection(req, h->name, h->name_len))
      continue;
    put_field(out, h->name, h->name_len, h->value, h->value_len);
  }
  put_joined(out, req, "cookie", "; ", NULL);

  char tmp[64];
  if (req->content_length >= 0) {
    int n = snprintf(tmp, sizeof(tmp), "Content-Length: %" PRId64 "\r\n",
                     req->content_length);
    put(out, tmp, (size_t)n);
  } else if (req->has_body) {
    if (req->transfer_codings != NULL && req->transfer_codings[0] != '\0') {
      puts_(out, "Transfer-Encoding: ");
      puts_(out, req->transfer_codings);
      puts_(out, ", chunked\r\n");
    } else {
      puts_(out, "Transfer-Encoding: chunked\r\n");
    }
  }
  /* A chain from anyone but a trusted proxy may be forged: the backend
   * gets only the address herald saw. */
  const char *addr = req->client_addr;
  if (addr != NULL && addr[0] == '\0')
    addr = NULL;
  if (req->forwarded_trusted)
    put_joined(out, req, "x-forwarded-for", ", ", addr);
  else if (addr != NULL)
    put_field(out, "x-forwarded-for", 15, addr, strlen(addr));
  puts_(out, req->https ? "X-Forwarded-Proto: https\r\n"
                        : "X-Forwarded-Proto: http\r\n");
  const char *via = req->version == 20   ? "2 herald"
                    : req->version == 10 ? "1.0 herald"
                                         : "1.1 herald";
  put_joined(out, req, "via", ", ", via);
  put(out, "\r\n", 2);
  flush(out);
}

const char *http_status_reason(int status) {
  switch (status) {
  case 100: return "Continue";
  case 101: return "Switching Protocols";
  case 103: return "Early Hints";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 206: return "Partial Content";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 303: return "See Other";
  case 304: return "Not Modified";
  case 307: return "Temporary Redirect";
  case 308: return "Permanent Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 411: return "Length Required";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 421: return "Misdirected Request";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  default: return "Unknown";
  }
}

void http_fields_init(struct http_fields *f, size_t max_size,
                      size_t max_fields) {
  memset(f, 0, sizeof(*f));
  f->max_size = max_size;
  f->max_fields = max_fields;
}

void http_fields_reset(struct http_fields *f) {
  f->len = f->n = f->size = 0;
  f->in_value = 0;
  f->last_end = NULL;
}

void http_fields_cleanup(struct http_fields *f) {
  free(f->buf);
  free(f->ent);
  memset(f, 0, sizeof(*f));
}

/* fields_room makes room for |n| (> 0) more bytes; returns where they go,
 * or NULL past the size cap. */
static char *fields_room(struct http_fields *f, size_t n) {
  f->size += n;
  if (f->size > f->max_size)
    return NULL;
  if (f->len + n > f->cap) {
    size_t cap = f->cap ? f->cap : 1024;
    while (cap < f->len + n)
      cap *= 2;
    f->buf = xrealloc(f->buf, cap);
    f->cap = cap;
  }
  return f->buf + f->len;
}

static int fields_bytes(struct http_fields *f, const char *p, size_t n) {
  if (n == 0)
    return 0; /* llhttp reports empty pieces; f->buf may still be NULL */
  char *dst = fields_room(f, n);
  if (dst == NULL)
    return HTTP_FIELDS_TOO_BIG;
  memcpy(dst, p, n);
  f->len += n;
  return 0;
}

/* tchar_table: RFC 9110 5.6.2's tchar, by byte; every field name of every
 * message is checked against it. */
static const uint8_t tchar_table[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
    ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
    ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
    ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
    ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
    ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
    ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
    ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
    ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

int http_is_tchar(unsigned char c) { return tchar_table[c]; }

int http_fields_name(struct http_fields *f, const char *p, size_t n) {
  if (f->in_value || f->n == 0) {
    if (f->n == f->max_fields)
      return HTTP_FIELDS_TOO_BIG;
    if (f->n == f->ent_cap) {
      f->ent_cap = f->ent_cap ? f->ent_cap * 2 : 16;
      f->ent = xrealloc(f->ent, f->ent_cap * sizeof(*f->ent));
    }
    struct http_field_ent *e = &f->ent[f->n++];
    e->noff = (uint32_t)f->len;
    e->nlen = e->vlen = 0;
    e->voff = 0;
    f->in_value = 0;
    f->size += 32;
  }
  if (n == 0)
    return 0; /* llhttp reports empty pieces; f->buf may still be NULL */
  char *dst = fields_room(f, n);
  if (dst == NULL)
    return HTTP_FIELDS_TOO_BIG;
  /* Names are short: checked and copied in one pass. */
  for (size_t i = 0; i < n; i++) {
    if (!tchar_table[(unsigned char)p[i]])
      return HTTP_FIELDS_INVALID;
    dst[i] = p[i];
  }
  f->len += n;
  f->ent[f->n - 1].nlen += (uint32_t)n;
  return 0;
}

int http_fields_name_end(struct http_fields *f) {
  /* llhttp 8 delivers ": v" as a field with an empty name (and the name
   * in pieces, some empty), so emptiness is known only here. */
  if (f->n == 0 || f->ent[f->n - 1].nlen == 0)
    return HTTP_FIELDS_INVALID;
  return 0;
}

int http_fields_value(struct http_fields *f, const char *p, size_t n,
                      const char *read_start) {
  if (f->n == 0)
    return HTTP_FIELDS_INVALID;
  struct http_field_ent *e = &f->ent[f->n - 1];
  if (!f->in_value) {
    f->in_value = 1;
    e->voff = (uint32_t)f->len;
  } else if (p != f->last_end && p != read_start) {
    /* A second piece of the same value that does not continue the first
     * within one read: llhttp joined an obs-fold line (RFC 9112 5.2). */
    return HTTP_FIELDS_INVALID;
  }
  f->last_end = p + n;
  int rv = fields_bytes(f, p, n);
  e->vlen += (uint32_t)n;
  return rv;
}

void http_fields_export(const struct http_fields *f, struct http_hdr *out) {
  for (size_t i = 0; i < f->n; i++) {
    const struct http_field_ent *e = &f->ent[i];
    out[i].name = f->buf + e->noff;
    out[i].name_len = e->nlen;
    out[i].value = f->buf + e->voff;
    out[i].value_len = e->vlen;
  }
}
