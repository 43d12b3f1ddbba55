/* fault_backend.c: an HTTP/1.1 test backend that misbehaves on request.
 *
 * The integration tests put herald in front of this server and pick a
 * behaviour by path: well-formed echoes that show exactly what herald
 * forwarded, slow or huge bodies that exercise streaming and timeouts, and
 * malformed or truncated responses that herald must refuse to pass on.
 *
 * Requests are parsed with llhttp. The parser is paused at the end of every
 * request head and every request so that (a) the raw head bytes can be cut
 * out of the input buffer verbatim, and (b) requests are answered strictly
 * one at a time, which keeps pipelined responses in order without a queue.
 *
 * /page?ms=N answers the file given with --page as text/html after N ms:
 * the page-load benchmark puts it behind nginx for one route, so the HTML
 * costs a backend "think time" while nginx serves the assets at once.
 *
 * /decl-page?ms=N&early=1&link=1 is a page whose backend declares what it
 * needs: early=1 sends its own 103 at once (a same-origin preload of
 * /decl/c.js, a cross-origin preload and preconnect, a rel=stylesheet,
 * Set-Cookie and another field), then after N ms the HTML (referencing
 * /decl/a.css, /decl/c.js and /decl/u.js); link=1 adds Link fields to it
 * (preloads of /decl/a.css, of //evil.example/x.js and of /decl/never.js,
 * which the page does not reference). /decl/NAME.css and .js answer as
 * stylesheet and script.
 *
 * /conns answers "open N peak M": connections open now that carried a
 * request other than /count or /conns (so asking does not count), and
 * the most open at once since the start or the last /conns?reset=1 (which
 * sets the peak to the open count). Tests use it to check a proxy's cap
 * on backend connections from the backend's side.
 *
 * /echo?ms=N answers the echo after N ms; /echo?close=1 answers it with
 * Connection: close and closes. /drop?ms=N closes the connection after N
 * ms without answering. /pipelined answers "pipelined N": requests (other
 * than /count, /conns, /pipelined) whose head had arrived before the
 * response to the one ahead of them on their connection was queued, that
 * is, requests a proxy pipelined; ?reset=1 zeroes it. With these the
 * pipelining tests see, from the backend's side, what was pipelined and
 * what a close takes with it (pipelined requests behind an answer with
 * Connection: close, or behind a drop, are read and discarded, never
 * answered).
 *
 * Usage: fault_backend --listen HOST:PORT [--listen ...] [--log FILE]
 *                      [--page FILE] */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <llhttp.h>
#include <openssl/sha.h>
#include <uv.h>

#include "base/log.h"
#include "base/util.h"

#define MAX_LISTENERS 8
/* A head bigger than this is answered 431: big enough that anything herald
 * lets through is seen here (and counted), small enough to bound memory. */
#define MAX_HEAD (1024 * 1024)
/* Unparsed pipelined input is buffered while a response is in progress;
 * past this we stop reading so a flood cannot grow memory unbounded. */
#define MAX_BUFFERED (1024 * 1024)
#define STREAM_PIECE (64 * 1024)
/* Writes in flight for a streamed body: enough to keep the socket busy,
 * few enough that /big never holds more than ~256 KB in memory. */
#define STREAM_INFLIGHT 4
#define LINGER_MS 2000

enum pause_reason { PAUSE_NONE, PAUSE_HEAD, PAUSE_MESSAGE };
enum stream_kind { ST_NONE, ST_FIXED, ST_CHUNKED, ST_SLOW };

struct stream {
  enum stream_kind kind;
  uint64_t total;   /* ST_FIXED: body bytes to send */
  uint64_t off;     /* pattern offset of the next byte */
  size_t chunk;     /* ST_CHUNKED/ST_SLOW: bytes per chunk */
  uint64_t nchunks; /* chunks to send */
  uint64_t sent;    /* chunks sent so far */
  int interval_ms;  /* ST_SLOW: delay between chunks */
  int finished;     /* everything has been queued for writing */
  int close_after;  /* body ends at connection close */
};

struct conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_shutdown_t shut;
  int open_handles; /* freed when both handles have closed */
  int closed;       /* uv_close has been called */
  int lingering;    /* response sent, draining input before close */
  struct conn *prev, *next;

  llhttp_t parser;
  enum pause_reason pause;

  /* Input not yet fully consumed: bytes before |parse_off| were given to
   * llhttp; the current head (if incomplete) starts at |msg_start|. */
  char *in;
  size_t in_len, in_cap;
  size_t parse_off;
  size_t msg_start;
  int in_head;
  int reading;
  int eof;
  int in_process; /* guards against re-entering process() */
  int kick;       /* run llhttp once more even with no new input */

  /* The request being read. */
  char *url;
  size_t url_len;
  char *head;
  size_t head_len;
  char hname[32];
  size_t hname_len;
  char hval[32];
  size_t hval_len;
  int expect_continue;
  int is_head;
  int counted;
  int counted_open; /* in open_conns (see /conns) */
  uint64_t body_len;
  SHA256_CTX sha;
  int keepalive;
  int ahead; /* input was waiting when the last response was queued */

  /* The response being written. */
  int busy;
  int inflight;
  struct stream st;
};

struct wreq {
  uv_write_t req;
  struct conn *c;
  char data[];
};

static uv_loop_t *loop;
static uv_tcp_t listeners[MAX_LISTENERS];
static int nlisteners;
static uv_signal_t sig_term, sig_int;
static struct conn *conns;
static uint64_t request_count;
static int open_conns, peak_conns; /* /conns */
static uint64_t pipelined_count;   /* /pipelined */
static int log_fd = -1;
static llhttp_settings_t settings;
static char read_buf[64 * 1024];
/* --page: the whole file, read once at start (a benchmark page, small). */
static char *page_body;
static size_t page_len;

static void process(struct conn *c);
static void pump(struct conn *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* ---- small helpers ---- */

static uint8_t pattern_byte(uint64_t i) { return (uint8_t)((i * 7) % 251); }

static void fill_pattern(char *dst, uint64_t off, size_t n) {
  for (size_t i = 0; i < n; i++)
    dst[i] = (char)pattern_byte(off + i);
}

/* Growable string used to build responses. */
struct sbuf {
  char *p;
  size_t len, cap;
};

static void sb_add(struct sbuf *b, const void *data, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
      cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
  }
  if (n > 0) /* |data| may be NULL when empty, which memcpy forbids */
    memcpy(b->p + b->len, data, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void sb_printf(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...) {
  char tmp[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if ((size_t)n < sizeof(tmp)) {
    sb_add(b, tmp, (size_t)n);
    return;
  }
  char *big = xmalloc((size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  sb_add(b, big, (size_t)n);
  free(big);
}

/* JSON string escaping, so the echo shows bare CRs, NULs and quotes as
 * they arrived instead of corrupting the output. */
static void sb_json_str(struct sbuf *b, const char *s, size_t n) {
  sb_add(b, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '"' || ch == '\\') {
      char esc[2] = {'\\', (char)ch};
      sb_add(b, esc, 2);
    } else if (ch == '\r') {
      sb_add(b, "\\r", 2);
    } else if (ch == '\n') {
      sb_add(b, "\\n", 2);
    } else if (ch == '\t') {
      sb_add(b, "\\t", 2);
    } else if (ch < 0x20 || ch == 0x7f) {
      sb_printf(b, "\\u%04x", ch);
    } else {
      sb_add(b, &s[i], 1);
    }
  }
  sb_add(b, "\"", 1);
}

static const char *reason_phrase(int code) {
  switch (code) {
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 206: return "Partial Content";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 304: return "Not Modified";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 413: return "Content Too Large";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  default: return "Status";
  }
}

/* query_get finds |key| in the query string of the current URL and parses
 * its value as a non-negative integer; returns |def| if absent or bad. */
static long long query_get(const struct conn *c, const char *key, long long def) {
  const char *q = memchr(c->url, '?', c->url_len);
  if (q == NULL)
    return def;
  const char *end = c->url + c->url_len;
  size_t klen = strlen(key);
  const char *p = q + 1;
  while (p < end) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *stop = amp ? amp : end;
    if ((size_t)(stop - p) > klen && memcmp(p, key, klen) == 0 && p[klen] == '=') {
      long long v = 0;
      const char *d = p + klen + 1;
      if (d == stop)
        return def;
      for (; d < stop; d++) {
        if (*d < '0' || *d > '9' || v > (1LL << 50))
          return def;
        v = v * 10 + (*d - '0');
      }
      return v;
    }
    p = stop + 1;
  }
  return def;
}

static size_t path_len(const struct conn *c) {
  const char *q = memchr(c->url, '?', c->url_len);
  return q ? (size_t)(q - c->url) : c->url_len;
}

static int path_is(const struct conn *c, const char *p) {
  size_t n = path_len(c);
  return n == strlen(p) && memcmp(c->url, p, n) == 0;
}

/* ---- connection lifetime ---- */

static void on_handle_closed(uv_handle_t *h) {
  struct conn *c = h->data;
  if (--c->open_handles > 0)
    return;
  free(c->in);
  free(c->url);
  free(c->head);
  free(c);
}

static void conn_close(struct conn *c) {
  if (c->closed)
    return;
  c->closed = 1;
  if (c->counted_open)
    open_conns--;
  if (c->prev)
    c->prev->next = c->next;
  else
    conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
  uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void on_linger_timeout(uv_timer_t *t) { conn_close(t->data); }

static void on_shutdown(uv_shutdown_t *req, int status) {
  struct conn *c = req->data;
  if (c->closed)
    return;
  if (status < 0 || c->eof) {
    conn_close(c);
    return;
  }
  /* Keep reading (and discarding) until the peer closes: closing with
   * unread input would send RST and could destroy the response we just
   * sent before the peer read it. */
  if (!c->reading) {
    c->reading = 1;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  }
  uv_timer_start(&c->timer, on_linger_timeout, LINGER_MS, 0);
}

/* linger_close ends the connection after queued writes have been sent. */
static void linger_close(struct conn *c) {
  if (c->closed || c->lingering)
    return;
  c->lingering = 1;
  uv_timer_stop(&c->timer);
  c->shut.data = c;
  if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
    conn_close(c);
}

static void on_write(uv_write_t *req, int status) {
  struct wreq *w = container_of(req, struct wreq, req);
  struct conn *c = w->c;
  free(w);
  c->inflight--;
  if (c->closed)
    return;
  if (status < 0) {
    conn_close(c);
    return;
  }
  if (c->st.kind != ST_NONE)
    pump(c);
}

static void conn_write(struct conn *c, const void *data, size_t len) {
  if (c->closed || c->lingering || len == 0)
    return;
  struct wreq *w = xmalloc(sizeof(*w) + len);
  w->c = c;
  memcpy(w->data, data, len);
  uv_buf_t buf = uv_buf_init(w->data, (unsigned)len);
  c->inflight++;
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_write) != 0) {
    c->inflight--;
    free(w);
    conn_close(c);
  }
}

static void reset_request(struct conn *c) {
  free(c->url);
  free(c->head);
  c->url = NULL;
  c->url_len = 0;
  c->head = NULL;
  c->head_len = 0;
  c->hname_len = c->hval_len = 0;
  c->expect_continue = 0;
  c->is_head = 0;
  c->counted = 0;
  c->body_len = 0;
  SHA256_Init(&c->sha);
}

/* conn_done is called when the response to the current request has been
 * queued completely; it moves on to the next pipelined request. */
static void conn_done(struct conn *c, int force_close) {
  c->busy = 0;
  memset(&c->st, 0, sizeof(c->st));
  reset_request(c);
  if (c->closed)
    return;
  /* Bytes already here are a request sent before this answer was: the
   * peer pipelined it (its head is counted once it is complete). */
  c->ahead = c->parse_off < c->in_len;
  if (force_close || !c->keepalive) {
    linger_close(c);
    return;
  }
  if (!c->in_process)
    process(c);
}

/* ---- responses ---- */

static void respond(struct conn *c, int code, const char *ctype,
                    const char *extra, const void *body, size_t len) {
  struct sbuf b = {0};
  int nobody = code == 204 || code == 304 || (code >= 100 && code < 200);
  sb_printf(&b, "HTTP/1.1 %d %s\r\n", code, reason_phrase(code));
  if (!nobody)
    sb_printf(&b, "Content-Type: %s\r\nContent-Length: %zu\r\n", ctype, len);
  if (extra)
    sb_printf(&b, "%s", extra);
  if (!c->keepalive)
    sb_printf(&b, "Connection: close\r\n");
  sb_add(&b, "\r\n", 2);
  if (!nobody && !c->is_head)
    sb_add(&b, body, len);
  conn_write(c, b.p, b.len);
  free(b.p);
  conn_done(c, 0);
}

static void respond_text(struct conn *c, int code, const char *text) {
  respond(c, code, "text/plain", NULL, text, strlen(text));
}

/* send_raw writes bytes exactly as given and closes the connection: the
 * malformed responses must not be "fixed" by any framing of ours. */
static void send_raw(struct conn *c, const void *data, size_t len) {
  conn_write(c, data, len);
  conn_done(c, 1);
}

/* send_keep writes a response given whole and keeps the connection, as a
 * backend does with a well-framed response. */
static void send_keep(struct conn *c, const void *data, size_t len) {
  conn_write(c, data, len);
  conn_done(c, 0);
}

static void stream_finish(struct conn *c) {
  int close_after = c->st.close_after;
  conn_done(c, close_after);
}

/* pump queues the next pieces of a streamed body while fewer than
 * STREAM_INFLIGHT writes are pending, so memory stays bounded however
 * large the body is; write completions call back in here. */
static void pump(struct conn *c) {
  struct stream *st = &c->st;
  char piece[STREAM_PIECE + 64];
  while (!st->finished && c->inflight < STREAM_INFLIGHT && !c->closed) {
    if (st->kind == ST_FIXED) {
      uint64_t left = st->total - st->off;
      size_t n = left < STREAM_PIECE ? (size_t)left : STREAM_PIECE;
      if (n == 0) {
        st->finished = 1;
        break;
      }
      fill_pattern(piece, st->off, n);
      st->off += n;
      conn_write(c, piece, n);
    } else if (st->kind == ST_CHUNKED) {
      if (st->sent == st->nchunks) {
        conn_write(c, "0\r\n\r\n", 5);
        st->finished = 1;
        break;
      }
      /* Large chunks go out in several writes; the pattern continues. */
      char *buf = xmalloc(st->chunk + 32);
      int h = snprintf(buf, 32, "%zx\r\n", st->chunk);
      fill_pattern(buf + h, st->off, st->chunk);
      memcpy(buf + h + st->chunk, "\r\n", 2);
      st->off += st->chunk;
      st->sent++;
      conn_write(c, buf, (size_t)h + st->chunk + 2);
      free(buf);
    } else {
      break; /* ST_SLOW is driven by its timer */
    }
  }
  if (st->finished && c->inflight == 0 && st->kind != ST_NONE)
    stream_finish(c);
}

static void on_slow_tick(uv_timer_t *t) {
  struct conn *c = t->data;
  struct stream *st = &c->st;
  if (st->sent < st->nchunks) {
    char buf[1024 + 32];
    int h = snprintf(buf, 32, "%zx\r\n", st->chunk);
    fill_pattern(buf + h, st->off, st->chunk);
    memcpy(buf + h + st->chunk, "\r\n", 2);
    st->off += st->chunk;
    st->sent++;
    conn_write(c, buf, (size_t)h + st->chunk + 2);
  }
  if (st->sent == st->nchunks) {
    conn_write(c, "0\r\n\r\n", 5);
    st->finished = 1;
    pump(c);
    return;
  }
  uv_timer_start(&c->timer, on_slow_tick, (uint64_t)st->interval_ms, 0);
}

static void on_delay_done(uv_timer_t *t) { respond_text(t->data, 200, "ok"); }

static void respond_echo(struct conn *c);
static void on_echo_done(uv_timer_t *t) { respond_echo(t->data); }

/* /drop: the request is never answered; what was pipelined behind it is
 * discarded with the connection. */
static void on_drop_done(uv_timer_t *t) { conn_done(t->data, 1); }

static void on_page_done(uv_timer_t *t) {
  respond(t->data, 200, "text/html; charset=utf-8", NULL, page_body, page_len);
}

static void on_decl_page_done(uv_timer_t *t) {
  struct conn *c = t->data;
  static const char links[] =
      "Link: </decl/a.css>; rel=preload; as=style, "
      "<//evil.example/x.js>; rel=preload; as=script\r\n"
      "Link: </decl/never.js>; rel=preload; as=script\r\n";
  static const char body[] =
      "<!doctype html><html><head><title>declared</title>"
      "<link rel=stylesheet href=/decl/a.css>"
      "<script src=/decl/c.js></script><script src=/decl/u.js></script>"
      "</head><body>declared</body></html>\n";
  respond(c, 200, "text/html", query_get(c, "link", 0) ? links : NULL, body,
          sizeof(body) - 1);
}

/* decl_page answers /decl-page (see the top of the file). */
static void decl_page(struct conn *c) {
  static const char early[] =
      "HTTP/1.1 103 Early Hints\r\n"
      "Link: </decl/c.js>; rel=preload; as=script\r\n"
      "Link: <https://evil.example/e.css>; rel=preload; as=style, "
      "<https://cdn.example>; rel=preconnect\r\n"
      "Link: </decl/s.css>; rel=stylesheet\r\n"
      "Set-Cookie: early=1\r\n"
      "X-Early: 1\r\n\r\n";
  if (query_get(c, "early", 0))
    conn_write(c, early, sizeof(early) - 1);
  uv_timer_start(&c->timer, on_decl_page_done,
                 (uint64_t)query_get(c, "ms", 0), 0);
}

/* decl_asset answers /decl/NAME.css and /decl/NAME.js. */
static void decl_asset(struct conn *c) {
  size_t n = path_len(c);
  int css = n > 4 && memcmp(c->url + n - 4, ".css", 4) == 0;
  respond(c, 200, css ? "text/css" : "application/javascript",
          "Cache-Control: max-age=60\r\n", css ? "b{}\n" : "1;\n", 3);
}

static void respond_echo(struct conn *c) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  char hex[SHA256_DIGEST_LENGTH * 2 + 1];
  SHA256_Final(md, &c->sha);
  for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
    snprintf(hex + 2 * i, 3, "%02x", md[i]);

  struct sbuf b = {0};
  sb_printf(&b, "{\n  \"method\": \"%s\",\n  \"path\": ",
            llhttp_method_name((llhttp_method_t)llhttp_get_method(&c->parser)));
  sb_json_str(&b, c->url, c->url_len);
  sb_printf(&b, ",\n  \"version\": \"HTTP/%d.%d\",\n  \"headers\": [",
            llhttp_get_http_major(&c->parser), llhttp_get_http_minor(&c->parser));
  /* Lines of the raw head after the request line, shown unnormalised;
   * this only slices for display, the parsing was llhttp's. */
  const char *p = c->head, *end = c->head + c->head_len;
  const char *nl = memchr(p, '\n', c->head_len);
  p = nl ? nl + 1 : end;
  int first = 1;
  while (p < end) {
    nl = memchr(p, '\n', (size_t)(end - p));
    const char *stop = nl ? nl : end;
    size_t n = (size_t)(stop - p);
    if (nl && n > 0 && p[n - 1] == '\r')
      n--;
    if (n > 0) {
      sb_add(&b, first ? "\n    " : ",\n    ", first ? 5 : 6);
      sb_json_str(&b, p, n);
      first = 0;
    }
    p = nl ? nl + 1 : end;
  }
  sb_printf(&b, "%s],\n  \"body_length\": %" PRIu64 ",\n  \"body_sha256\": \"%s\"\n}\n",
            first ? "" : "\n  ", c->body_len, hex);
  if (query_get(c, "close", 0) == 1)
    c->keepalive = 0; /* respond says Connection: close, conn_done closes */
  respond(c, 200, "application/json", NULL, b.p, b.len);
  free(b.p);
}

static void start_stream(struct conn *c, const char *head) {
  conn_write(c, head, strlen(head));
  if (c->is_head) {
    conn_done(c, c->st.close_after);
    return;
  }
  if (c->st.kind == ST_SLOW) {
    uv_timer_start(&c->timer, on_slow_tick, (uint64_t)c->st.interval_ms, 0);
    return;
  }
  pump(c);
}

/* te_coded answers with a transfer coding besides chunked, body gzip of
 * "hello, gzip transfer coding\n" (mtime 0): /te-gzip as "gzip, chunked",
 * /te-gzip-close as "gzip" ending at close, /te-bad as "chunked, gzip"
 * (chunked not last: invalid). */
static void te_coded(struct conn *c) {
  static const char gz[] =
      "\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03\xcb\x48\xcd\xc9\xc9\xd7\x51"
      "\x48\xaf\xca\x2c\x50\x28\x29\x4a\xcc\x2b\x4e\x4b\x2d\x52\x48\xce\x4f"
      "\xc9\xcc\x4b\xe7\x02\x00\xf4\x44\x50\x04\x1c\x00\x00\x00";
  size_t n = sizeof(gz) - 1;
  int close_after = path_is(c, "/te-gzip-close");
  struct sbuf b = {0};
  sb_printf(&b, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                "Transfer-Encoding: %s\r\n%s\r\n",
            close_after ? "gzip" : path_is(c, "/te-bad") ? "chunked, gzip"
                                                         : "gzip, chunked",
            close_after ? "Connection: close\r\n" : "");
  if (!c->is_head) {
    if (!close_after)
      sb_printf(&b, "%zx\r\n", n);
    sb_add(&b, gz, n);
    if (!close_after)
      sb_printf(&b, "\r\n0\r\n\r\n");
  }
  send_raw(c, b.p, b.len);
  free(b.p);
}

static void dispatch(struct conn *c) {
  char hdr[512];
  if (path_is(c, "/echo")) {
    long long ms = query_get(c, "ms", 0);
    if (ms > 0)
      uv_timer_start(&c->timer, on_echo_done, (uint64_t)ms, 0);
    else
      respond_echo(c);
  } else if (path_is(c, "/drop")) {
    uv_timer_start(&c->timer, on_drop_done, (uint64_t)query_get(c, "ms", 0), 0);
  } else if (path_is(c, "/headers")) {
    respond(c, 200, "text/plain", NULL, c->head, c->head_len);
  } else if (path_is(c, "/delay")) {
    long long ms = query_get(c, "ms", 0);
    uv_timer_start(&c->timer, on_delay_done, (uint64_t)ms, 0);
  } else if (path_is(c, "/page") && page_body != NULL) {
    long long ms = query_get(c, "ms", 0);
    uv_timer_start(&c->timer, on_page_done, (uint64_t)ms, 0);
  } else if (path_is(c, "/decl-page")) {
    decl_page(c);
  } else if (path_len(c) > 6 && memcmp(c->url, "/decl/", 6) == 0) {
    decl_asset(c);
  } else if (path_is(c, "/chunked")) {
    c->st.kind = ST_CHUNKED;
    c->st.nchunks = (uint64_t)query_get(c, "n", 10);
    c->st.chunk = (size_t)query_get(c, "size", 100);
    if (c->st.chunk == 0 || c->st.chunk > 16 * 1024 * 1024) {
      respond_text(c, 400, "bad size\n");
      return;
    }
    start_stream(c, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n");
  } else if (path_is(c, "/slowbody")) {
    c->st.kind = ST_SLOW;
    c->st.nchunks = (uint64_t)query_get(c, "n", 5);
    c->st.chunk = 1024;
    c->st.interval_ms = (int)query_get(c, "ms", 100);
    start_stream(c, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n");
  } else if (path_is(c, "/big")) {
    c->st.kind = ST_FIXED;
    c->st.total = (uint64_t)query_get(c, "size", 1024 * 1024);
    snprintf(hdr, sizeof(hdr),
             "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
             "Content-Length: %" PRIu64 "\r\n%s\r\n",
             c->st.total, c->keepalive ? "" : "Connection: close\r\n");
    start_stream(c, hdr);
  } else if (path_is(c, "/close")) {
    c->st.kind = ST_FIXED;
    c->st.total = (uint64_t)query_get(c, "size", 100000);
    c->st.close_after = 1;
    start_stream(c, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                    "Connection: close\r\n\r\n");
  } else if (path_is(c, "/truncated-cl")) {
    send_raw(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                "Content-Length: 100\r\n\r\n0123456789", 75);
  } else if (path_is(c, "/truncated-chunked")) {
    static const char r[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n"
                            "5\r\nhello\r\n6\r\n world\r\n";
    send_raw(c, r, sizeof(r) - 1);
  } else if (path_is(c, "/garbage")) {
    send_raw(c, "this is not http\r\n\r\n", 20);
  } else if (path_is(c, "/dup-cl")) {
    static const char r[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                            "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!";
    send_raw(c, r, sizeof(r) - 1);
  } else if (path_is(c, "/huge-cl")) {
    /* Fits llhttp's uint64 counter, not an int64. */
    static const char r[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                            "x-injected: 1\r\n"
                            "Content-Length: 9223372036854775808\r\n\r\nok";
    send_raw(c, r, sizeof(r) - 1);
  } else if (path_is(c, "/cl-te")) {
    static const char r[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                            "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "5\r\nhello\r\n0\r\n\r\n";
    send_raw(c, r, sizeof(r) - 1);
  } else if (path_is(c, "/bare-lf")) {
    static const char r[] = "HTTP/1.1 200 OK\nContent-Type: text/plain\n"
                            "Set-Cookie: injected=1\nContent-Length: 2\n\nok";
    send_raw(c, r, sizeof(r) - 1);
  } else if (path_is(c, "/obs-fold")) {
    static const char r[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                            "X-A: a\r\n  b\r\nContent-Length: 2\r\n\r\nok";
    send_raw(c, r, sizeof(r) - 1);
  } else if (path_is(c, "/304-cl")) {
    /* RFC 9110 8.6: a 304 may give the size of the selected representation
     * in Content-Length; it has no body all the same (RFC 9112 6.3). */
    static const char r[] = "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n"
                            "Content-Length: 1234\r\n\r\n";
    send_keep(c, r, sizeof(r) - 1);
  } else if (path_is(c, "/204-chunked")) {
    static const char r[] = "HTTP/1.1 204 No Content\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n";
    send_keep(c, r, sizeof(r) - 1);
  } else if (path_is(c, "/interim")) {
    /* Interim responses before the final one (RFC 9110 15.2): 100, a 102
     * with a Content-Length that must not make the next response its
     * body, then ?n= (default 2) 103s with a Link each, then the 200. */
    long long n = query_get(c, "n", 2);
    if (n < 0 || n > 1000000) {
      respond_text(c, 400, "bad n\n");
      return;
    }
    struct sbuf b = {0};
    sb_printf(&b, "HTTP/1.1 100 Continue\r\n\r\n"
                  "HTTP/1.1 102 Processing\r\nContent-Length: 3\r\n\r\n");
    for (long long i = 0; i < n; i++)
      sb_printf(&b, "HTTP/1.1 103 Early Hints\r\n"
                    "Link: </a%lld.css>; rel=preload; as=style\r\n\r\n", i);
    sb_printf(&b, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                  "Content-Length: 8\r\n\r\nfinal ok");
    send_keep(c, b.p, b.len);
    free(b.p);
  } else if (path_is(c, "/empty-name")) {
    /* llhttp 8 takes ": value" as a field with an empty name. */
    static const char r[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                            ": injected\r\nContent-Length: 2\r\n\r\nok";
    send_raw(c, r, sizeof(r) - 1);
  } else if (path_is(c, "/nul")) {
    static const char r[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                            "X-Nul: a\0b\r\nContent-Length: 2\r\n\r\nok";
    send_raw(c, r, sizeof(r) - 1);
  } else if (path_is(c, "/bigheader")) {
    size_t vlen = 70 * 1024;
    struct sbuf b = {0};
    sb_printf(&b, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Big: ");
    char *v = xmalloc(vlen);
    memset(v, 'a', vlen);
    sb_add(&b, v, vlen);
    free(v);
    sb_printf(&b, "\r\nContent-Length: 2\r\n\r\nok");
    send_raw(c, b.p, b.len);
    free(b.p);
  } else if (path_is(c, "/badstatus")) {
    static const char r[] = "HTTP/1.1 2000 OK\r\nContent-Type: text/plain\r\n"
                            "Content-Length: 2\r\n\r\nok";
    send_raw(c, r, sizeof(r) - 1);
  } else if (path_is(c, "/101")) {
    static const char r[] = "HTTP/1.1 101 Switching Protocols\r\n"
                            "Connection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
    send_raw(c, r, sizeof(r) - 1);
  } else if (path_is(c, "/hop")) {
    respond(c, 200, "text/plain",
            "Connection: close, x-hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\n"
            "Proxy-Connection: keep-alive\r\nUpgrade: h2c\r\nX-Kept: yes\r\n",
            "ok", 2);
    /* The response said Connection: close, so honour it. */
    linger_close(c);
  } else if (path_is(c, "/link")) {
    static const char body[] =
        "<!doctype html><html><head><link rel=stylesheet href=/style.css>"
        "</head><body>link</body></html>\n";
    respond(c, 200, "text/html", "Link: </style.css>; rel=preload; as=style\r\n",
            body, sizeof(body) - 1);
  } else if (path_is(c, "/trailers")) {
    static const char r[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                            "Transfer-Encoding: chunked\r\nTrailer: x-checksum\r\n\r\n"
                            "6\r\nhello\n\r\n0\r\nx-checksum: abc\r\n\r\n";
    conn_write(c, r, sizeof(r) - 1);
    conn_done(c, 0);
  } else if (path_is(c, "/te-gzip") || path_is(c, "/te-gzip-close") ||
             path_is(c, "/te-bad")) {
    te_coded(c);
  } else if (path_is(c, "/status")) {
    long long code = query_get(c, "code", 200);
    if (code < 200 || code > 599) {
      respond_text(c, 400, "bad code\n");
      return;
    }
    char body[64];
    snprintf(body, sizeof(body), "status %lld\n", code);
    respond_text(c, (int)code, body);
  } else if (path_is(c, "/conns")) {
    char body[64];
    snprintf(body, sizeof(body), "open %d peak %d\n", open_conns, peak_conns);
    if (query_get(c, "reset", 0) == 1)
      peak_conns = open_conns;
    respond_text(c, 200, body);
  } else if (path_is(c, "/pipelined")) {
    char body[64];
    snprintf(body, sizeof(body), "pipelined %" PRIu64 "\n", pipelined_count);
    if (query_get(c, "reset", 0) == 1)
      pipelined_count = 0;
    respond_text(c, 200, body);
  } else if (path_is(c, "/count")) {
    char body[32];
    snprintf(body, sizeof(body), "%" PRIu64 "\n", request_count);
    if (query_get(c, "reset", 0) == 1)
      request_count = 0;
    respond_text(c, 200, body);
  } else {
    respond_text(c, 200, "ok");
  }
}

/* ---- request parsing ---- */

static int on_message_begin(llhttp_t *p) {
  struct conn *c = p->data;
  c->in_head = 1;
  reset_request(c);
  return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len) {
  struct conn *c = p->data;
  c->url = xrealloc(c->url, c->url_len + len + 1);
  memcpy(c->url + c->url_len, at, len);
  c->url_len += len;
  c->url[c->url_len] = '\0';
  return 0;
}

/* Only Expect needs interpreting, so names and values are kept just long
 * enough to recognise it; longer ones are marked as not matching. */
static void keep_short(char *dst, size_t cap, size_t *dlen, const char *at, size_t len) {
  if (*dlen + len >= cap) {
    *dlen = cap; /* sentinel: too long to be interesting */
    return;
  }
  memcpy(dst + *dlen, at, len);
  *dlen += len;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len) {
  struct conn *c = p->data;
  keep_short(c->hname, sizeof(c->hname), &c->hname_len, at, len);
  return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len) {
  struct conn *c = p->data;
  keep_short(c->hval, sizeof(c->hval), &c->hval_len, at, len);
  return 0;
}

static int on_header_value_complete(llhttp_t *p) {
  struct conn *c = p->data;
  if (c->hname_len < sizeof(c->hname) && c->hval_len < sizeof(c->hval) &&
      util_strcaseeq(c->hname, c->hname_len, "expect") &&
      util_strcaseeq(c->hval, c->hval_len, "100-continue"))
    c->expect_continue = 1;
  c->hname_len = c->hval_len = 0;
  return 0;
}

static int on_headers_complete(llhttp_t *p) {
  struct conn *c = p->data;
  c->pause = PAUSE_HEAD;
  return HPE_PAUSED;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
  struct conn *c = p->data;
  c->body_len += len;
  SHA256_Update(&c->sha, at, len);
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  struct conn *c = p->data;
  c->keepalive = llhttp_should_keep_alive(p);
  c->pause = PAUSE_MESSAGE;
  return HPE_PAUSED;
}

static void log_request(const char *method, const char *url, size_t url_len) {
  if (log_fd < 0)
    return;
  struct sbuf b = {0};
  sb_printf(&b, "%s ", method);
  sb_add(&b, url, url_len);
  sb_add(&b, "\n", 1);
  /* One write per line so concurrent connections never interleave. */
  ssize_t rv;
  do {
    rv = write(log_fd, b.p, b.len);
  } while (rv < 0 && errno == EINTR);
  free(b.p);
}

static int is_count_path(const struct conn *c) {
  return path_is(c, "/count") || path_is(c, "/conns") || path_is(c, "/pipelined");
}

static void head_complete(struct conn *c, size_t pos) {
  c->in_head = 0;
  size_t start = c->msg_start;
  /* llhttp skips CRLFs between pipelined requests; they are not part of
   * the head. */
  while (start < pos && (c->in[start] == '\r' || c->in[start] == '\n'))
    start++;
  c->head_len = pos - start;
  c->head = xmalloc(c->head_len + 1);
  memcpy(c->head, c->in + start, c->head_len);
  c->head[c->head_len] = '\0';
  if (c->url == NULL)
    c->url = xstrdup("");
  c->is_head = llhttp_get_method(&c->parser) == HTTP_HEAD;
  log_request(llhttp_method_name((llhttp_method_t)llhttp_get_method(&c->parser)),
              c->url, c->url_len);
  if (!is_count_path(c)) {
    request_count++;
    if (c->ahead)
      pipelined_count++;
    if (!c->counted_open) {
      c->counted_open = 1;
      if (++open_conns > peak_conns)
        peak_conns = open_conns;
    }
  }
  c->counted = 1;
  c->ahead = 0;
  /* Interim 100 only for HTTP/1.1: 1.0 clients do not understand it. */
  if (c->expect_continue && llhttp_get_http_major(&c->parser) == 1 &&
      llhttp_get_http_minor(&c->parser) >= 1)
    conn_write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
}

static void bad_request(struct conn *c, int code, const char *why) {
  /* A malformed request still reached us: count it, so tests asserting
   * "nothing got through" notice. */
  if (!c->counted) {
    request_count++;
    log_request("BAD", why, strlen(why));
  }
  LOG_INFO("bad request: %.*s", (int)strcspn(why, "\n"), why);
  c->keepalive = 0;
  c->busy = 1;
  respond_text(c, code, why);
}

/* compact drops input that is no longer needed, keeping an incomplete head
 * (it is copied out verbatim once complete). */
static void compact(struct conn *c) {
  size_t keep_from = c->in_head ? c->msg_start : c->parse_off;
  if (keep_from > c->in_len)
    keep_from = c->in_len;
  if (keep_from == 0)
    return; /* also covers c->in == NULL: memmove must not see NULL */
  memmove(c->in, c->in + keep_from, c->in_len - keep_from);
  c->in_len -= keep_from;
  c->parse_off -= keep_from;
  c->msg_start = c->msg_start > keep_from ? c->msg_start - keep_from : 0;
}

static void process(struct conn *c) {
  c->in_process = 1;
  while (!c->closed && !c->lingering && !c->busy) {
    if (c->parse_off == c->in_len && !c->kick) {
      if (c->eof) {
        /* Peer finished sending and every complete request is answered. */
        linger_close(c);
      }
      break;
    }
    const char *data = c->in + c->parse_off;
    size_t len = c->in_len - c->parse_off;
    c->pause = PAUSE_NONE;
    c->kick = 0;
    llhttp_errno_t err = llhttp_execute(&c->parser, data, len);
    if (err == HPE_OK) {
      c->parse_off = c->in_len;
      if (c->in_head && c->in_len - c->msg_start > MAX_HEAD) {
        bad_request(c, 431, "request head too large\n");
        break;
      }
      continue;
    }
    if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
      size_t pos = (size_t)(llhttp_get_error_pos(&c->parser) - c->in);
      c->parse_off = pos;
      if (err == HPE_PAUSED_UPGRADE) {
        /* We never switch protocols: whatever follows is parsed as HTTP. */
        llhttp_resume_after_upgrade(&c->parser);
        continue;
      }
      llhttp_resume(&c->parser);
      if (c->pause == PAUSE_HEAD) {
        head_complete(c, pos);
        /* A bodiless request completes only when llhttp runs again, even
         * with no further input. */
        c->kick = 1;
      } else if (c->pause == PAUSE_MESSAGE) {
        c->msg_start = pos;
        c->busy = 1;
        dispatch(c);
      }
      continue;
    }
    char why[256];
    snprintf(why, sizeof(why), "%s: %s\n", llhttp_errno_name(err),
             llhttp_get_error_reason(&c->parser));
    bad_request(c, 400, why);
    break;
  }
  if (!c->closed) {
    compact(c);
    /* Resume reading once the backlog is small again. */
    if (!c->reading && !c->lingering && !c->eof && c->in_len < MAX_BUFFERED) {
      c->reading = 1;
      uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    }
  }
  c->in_process = 0;
}

/* ---- libuv plumbing ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  *buf = uv_buf_init(read_buf, sizeof(read_buf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct conn *c = s->data;
  if (nread == 0)
    return;
  if (nread < 0) {
    if (nread != UV_EOF || c->lingering) {
      conn_close(c);
      return;
    }
    c->eof = 1;
    uv_read_stop(s);
    c->reading = 0;
    if (!c->busy)
      process(c);
    return;
  }
  if (c->lingering)
    return; /* draining before close */
  if (c->in_len + (size_t)nread > c->in_cap) {
    size_t cap = c->in_cap ? c->in_cap : 16 * 1024;
    while (cap < c->in_len + (size_t)nread)
      cap *= 2;
    c->in = xrealloc(c->in, cap);
    c->in_cap = cap;
  }
  memcpy(c->in + c->in_len, buf->base, (size_t)nread);
  c->in_len += (size_t)nread;
  if (c->busy) {
    if (c->in_len >= MAX_BUFFERED) {
      uv_read_stop(s);
      c->reading = 0;
    }
    return;
  }
  process(c);
}

static void on_connection(uv_stream_t *server, int status) {
  if (status < 0) {
    LOG_WARN("accept: %s", uv_strerror(status));
    return;
  }
  struct conn *c = xcalloc(1, sizeof(*c));
  uv_tcp_init(loop, &c->tcp);
  uv_timer_init(loop, &c->timer);
  c->open_handles = 2;
  c->tcp.data = c;
  c->timer.data = c;
  c->next = conns;
  if (conns)
    conns->prev = c;
  conns = c;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  llhttp_init(&c->parser, HTTP_REQUEST, &settings);
  c->parser.data = c;
  reset_request(c);
  c->reading = 1;
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_signal(uv_signal_t *sig, int signum) {
  (void)sig;
  LOG_INFO("signal %d, exiting", signum);
  for (int i = 0; i < nlisteners; i++)
    uv_close((uv_handle_t *)&listeners[i], NULL);
  while (conns)
    conn_close(conns);
  uv_close((uv_handle_t *)&sig_term, NULL);
  uv_close((uv_handle_t *)&sig_int, NULL);
}

static int add_listener(const char *spec) {
  char host[256];
  int port;
  union {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
  } addr;
  if (nlisteners == MAX_LISTENERS ||
      util_parse_hostport(spec, host, sizeof(host), &port) != 0) {
    fprintf(stderr, "fault_backend: bad --listen '%s'\n", spec);
    return -1;
  }
  int v6 = strchr(host, ':') != NULL;
  int rv = v6 ? uv_ip6_addr(host, port, &addr.in6) : uv_ip4_addr(host, port, &addr.in4);
  if (rv != 0) {
    fprintf(stderr, "fault_backend: bad address '%s'\n", host);
    return -1;
  }
  uv_tcp_t *l = &listeners[nlisteners];
  uv_tcp_init(loop, l);
  rv = uv_tcp_bind(l, &addr.sa, v6 ? UV_TCP_IPV6ONLY : 0);
  if (rv == 0)
    rv = uv_listen((uv_stream_t *)l, 511, on_connection);
  if (rv != 0) {
    fprintf(stderr, "fault_backend: listen %s: %s\n", spec, uv_strerror(rv));
    uv_close((uv_handle_t *)l, NULL);
    return -1;
  }
  nlisteners++;
  LOG_INFO("fault_backend listening on %s", spec);
  return 0;
}

/* read_page loads |path| into page_body; 0, or -1 with a message. */
static int read_page(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "fault_backend: %s: %s\n", path, strerror(errno));
    return -1;
  }
  struct sbuf b = {0};
  char tmp[4096];
  size_t n;
  while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
    sb_add(&b, tmp, n);
  fclose(f);
  free(page_body);
  page_body = b.p ? b.p : xstrdup("");
  page_len = b.len;
  return 0;
}

static void usage(void) {
  fprintf(stderr, "usage: fault_backend --listen HOST:PORT [--listen ...] [--log FILE]\n"
                  "                     [--page FILE]   (/page?ms=N: FILE as text/html after N ms)\n");
}

int main(int argc, char **argv) {
  loop = uv_default_loop();
  signal(SIGPIPE, SIG_IGN);

  llhttp_settings_init(&settings);
  settings.on_message_begin = on_message_begin;
  settings.on_url = on_url;
  settings.on_header_field = on_header_field;
  settings.on_header_value = on_header_value;
  settings.on_header_value_complete = on_header_value_complete;
  settings.on_headers_complete = on_headers_complete;
  settings.on_body = on_body;
  settings.on_message_complete = on_message_complete;

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
      if (add_listener(argv[++i]) != 0)
        return 1;
    } else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc) {
      log_fd = open(argv[++i], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (log_fd < 0) {
        fprintf(stderr, "fault_backend: %s: %s\n", argv[i], strerror(errno));
        return 1;
      }
    } else if (strcmp(argv[i], "--page") == 0 && i + 1 < argc) {
      if (read_page(argv[++i]) != 0)
        return 1;
    } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      usage();
      return 0;
    } else {
      usage();
      return 1;
    }
  }
  if (nlisteners == 0) {
    usage();
    return 1;
  }

  uv_signal_init(loop, &sig_term);
  uv_signal_start(&sig_term, on_signal, SIGTERM);
  uv_signal_init(loop, &sig_int);
  uv_signal_start(&sig_int, on_signal, SIGINT);

  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  if (log_fd >= 0)
    close(log_fd);
  return 0;
}
