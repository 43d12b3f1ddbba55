/* pageload.c: one cold-cache page load, the way a browser does it.
 *
 * The page-load benchmark (tools/bench/pageload.sh) needs a client that
 * reacts to what herald sends: h2load fetches a fixed URL list, nghttp
 * cannot discover a font inside a stylesheet, and a real browser is not an
 * allowed dependency. So this client:
 *   - requests the page as a navigation (sec-fetch-mode: navigate, ...);
 *   - on a 103 Early Hints (HTTP/2), requests every Link: <url>; rel=preload
 *     at once;
 *   - accepts server push (SETTINGS_ENABLE_PUSH=1 unless --no-push) and
 *     treats a promised resource as in flight, never requesting it again;
 *   - scans the HTML as it arrives for <link rel=stylesheet href>,
 *     <script src> and <img src>, and every fetched stylesheet for url(...),
 *     and requests what is not yet requested or promised;
 *   - same origin only, no cache, no cookies, nothing executed.
 * HTTP/2 uses one connection (TLS, ALPN h2). HTTP/1.1 (--http1.1, TLS or
 * cleartext) opens up to 6 connections as browsers do, one request at a
 * time on each.
 *
 * The load time runs from the start of the first TCP connect to the end of
 * the last response the page needs (the page, what it references, what its
 * stylesheets reference). A hinted or pushed resource the page does not
 * reference is counted but not waited for.
 *
 * Non-blocking sockets (netc.h) and poll(): a single load, no event
 * library needed. Output, one line (or --json):
 *   pageload: ms 612.4 bytes 23456 requests 9 pushed 0 hinted 8 conns 1 proto h2
 * Exit status 0 when every needed response was a 200 within --timeout. */
#include "base/util.h"
#include "tools/bench/netc.h"

#include <errno.h>
#include <llhttp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_RES 256
#define MAX_CONNS 6     /* HTTP/1.1 connections per origin, as browsers */
#define MAX_PATH 1024
#define BODY_CAP ((size_t)16 << 20) /* kept bodies: the page, stylesheets */
#define OUT_CAP ((size_t)1 << 20)   /* unsent output of one connection */

enum dest { D_DOCUMENT, D_STYLE, D_SCRIPT, D_IMAGE, D_FONT };
static const char *dest_name[] = {"document", "style", "script", "image", "font"};

struct conn;

struct res {
  char path[MAX_PATH];
  char referer[MAX_PATH]; /* path of the referring page or stylesheet */
  enum dest dest;
  int needed;    /* referenced by the page or one of its stylesheets */
  int requested; /* asked for, or promised by the server */
  int queued;    /* HTTP/1.1: waiting for a free connection */
  int pushed, hinted;
  int done, status;
  int32_t stream_id; /* HTTP/2 stream, 0 before the request */
  size_t bytes;      /* body bytes received */
  char *body;        /* kept for the page and stylesheets only */
  size_t body_len, scanned;
};

struct conn {
  struct netc net;
  int connected, ready; /* TCP up; TLS done (or cleartext) */
  double syn_at;        /* the kernel's handshake is done; up from then */
  nghttp2_session *h2;
  llhttp_t parser;   /* HTTP/1.1 */
  struct res *cur;   /* HTTP/1.1: the response being read, NULL if idle */
  char promise_path[MAX_PATH]; /* :path of the PUSH_PROMISE being read */
};

struct load {
  char host[256], port[16], authority[300];
  int tls, h1, push, verbose;
  int connect_rtt; /* --connect-rtt: the handshake RTT a relay cannot add */
  SSL_CTX *ctx;
  struct res res[MAX_RES];
  int nres;
  struct conn conns[MAX_CONNS];
  int nconns;
  double t0;
  int requests, pushed, hinted, failed;
};

static struct load L;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void vlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void vlog(const char *fmt, ...) {
  if (!L.verbose)
    return;
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "[%8.1f] ", now_ms() - L.t0);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("pageload: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(2);
}

/* ---- resources ---- */

static struct res *res_find(const char *path) {
  for (int i = 0; i < L.nres; i++)
    if (strcmp(L.res[i].path, path) == 0)
      return &L.res[i];
  return NULL;
}

static struct res *res_by_stream(int32_t id) {
  for (int i = 0; i < L.nres; i++)
    if (L.res[i].stream_id == id)
      return &L.res[i];
  return NULL;
}

static struct res *res_get(const char *path, enum dest d, const char *referer) {
  struct res *r = res_find(path);
  if (r != NULL)
    return r;
  if (L.nres == MAX_RES)
    return NULL;
  r = &L.res[L.nres++];
  memset(r, 0, sizeof(*r));
  snprintf(r->path, sizeof(r->path), "%s", path);
  snprintf(r->referer, sizeof(r->referer), "%s", referer ? referer : "");
  r->dest = d;
  return r;
}

static int all_needed_done(void) {
  for (int i = 0; i < L.nres; i++)
    if (L.res[i].needed && !L.res[i].done)
      return 0;
  return L.nres > 0;
}

/* ---- output and connections ---- */

static void out_add(struct conn *c, const void *p, size_t n) {
  if (c->net.out_len + n > OUT_CAP)
    die("output buffer full");
  netc_queue(&c->net, p, n);
}

/* conn_flush writes what it can; the rest waits for the next POLLOUT. */
static void conn_flush(struct conn *c) {
  if (c->h2) {
    const uint8_t *data;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(c->h2, &data)) > 0)
      out_add(c, data, (size_t)n);
    if (n < 0)
      die("nghttp2_session_mem_send: %s", nghttp2_strerror((int)n));
  }
  int rv = c->ready ? netc_flush(&c->net) : 0;
  if (rv < 0)
    die("write: %s", strerror(-rv));
}

static void conn_open(struct conn *c) {
  c->net.fd = -1;
  int rv = netc_connect(&c->net, L.host, L.port);
  if (rv < 0)
    die("connect %s:%s: %s", L.host, L.port, strerror(-rv));
  vlog("conn %d: connecting", (int)(c - L.conns));
}

/* ---- discovery ---- */

/* resolve turns |ref| (found in |base|) into a same-origin path in |out|;
 * 0 on success, -1 for other origins, data: URIs and the like. */
static int resolve(const char *ref, size_t n, const char *base, char *out, size_t cap) {
  char tmp[MAX_PATH];
  if (n == 0 || n >= sizeof(tmp))
    return -1;
  memcpy(tmp, ref, n);
  tmp[n] = '\0';
  char *hash = strchr(tmp, '#');
  if (hash)
    *hash = '\0';
  const char *p = tmp;
  char origin[400];
  snprintf(origin, sizeof(origin), "%s://%s", L.tls ? "https" : "http", L.authority);
  size_t ol = strlen(origin);
  if (strncasecmp(p, origin, ol) == 0 && (p[ol] == '/' || p[ol] == '\0')) {
    p += ol;
    if (*p == '\0')
      p = "/";
  } else if (strncmp(p, "//", 2) == 0 || strchr(p, ':') != NULL) {
    return -1; /* another origin, or data:, javascript:, ... */
  }
  if (*p == '\0')
    return -1;
  int w;
  if (p[0] == '/') {
    w = snprintf(out, cap, "%s", p);
  } else {
    const char *slash = strrchr(base, '/');
    int dl = slash ? (int)(slash - base) + 1 : 0;
    w = snprintf(out, cap, "%.*s%s", dl, base, p);
  }
  return w < 0 || (size_t)w >= cap ? -1 : 0;
}

static void request(struct res *r);
static void scan_css(struct res *r);

/* mark_needed: the page (or a stylesheet) names |r|. A stylesheet that a
 * push or a hint already brought in is scanned now: its url()s are needed
 * too, and it was not scanned while nobody had asked for it. */
static void mark_needed(struct res *r, enum dest d) {
  if (r->needed)
    return;
  r->needed = 1;
  if (!r->requested) {
    r->dest = d;
    request(r);
  } else if (r->done && r->status == 200 && r->dest == D_STYLE) {
    scan_css(r);
  }
}

/* discover: |ref| was found in |from| (the page or a stylesheet). */
static void discover(const char *ref, size_t n, enum dest d, struct res *from) {
  char path[MAX_PATH];
  if (resolve(ref, n, from->path, path, sizeof(path)) != 0)
    return;
  struct res *r = res_get(path, d, from->path);
  if (r == NULL || r->needed)
    return;
  vlog("found %s in %s%s", path, from->path, r->requested ? " (in flight)" : "");
  mark_needed(r, d);
}

/* attr finds attribute |name| in the tag [t, end) and returns its value
 * (quoted or not) in |*v|, |*vn|; 0 if found. Good enough for the markup
 * of real pages' heads; this is not an HTML parser. */
static int attr(const char *t, const char *end, const char *name, const char **v, size_t *vn) {
  size_t nl = strlen(name);
  for (const char *p = t; p + nl < end; p++) {
    if ((p[-1] != ' ' && p[-1] != '\t' && p[-1] != '\n' && p[-1] != '\r') ||
        strncasecmp(p, name, nl) != 0)
      continue;
    const char *q = p + nl;
    while (q < end && (*q == ' ' || *q == '\t'))
      q++;
    if (q == end || *q != '=')
      continue;
    q++;
    while (q < end && (*q == ' ' || *q == '\t'))
      q++;
    if (q < end && (*q == '"' || *q == '\'')) {
      const char *e = memchr(q + 1, *q, (size_t)(end - q - 1));
      if (e == NULL)
        return -1;
      *v = q + 1;
      *vn = (size_t)(e - q - 1);
    } else {
      const char *e = q;
      while (e < end && *e != ' ' && *e != '>' && *e != '\t' && *e != '\n')
        e++;
      *v = q;
      *vn = (size_t)(e - q);
    }
    return 0;
  }
  return -1;
}

/* scan_html looks at the complete tags received since the last call; an
 * unfinished tag at the end waits for more bytes. */
static void scan_html(struct res *r) {
  static const struct { const char *tag, *attr; enum dest d; } tags[] = {
      {"<link", "href", D_STYLE}, {"<script", "src", D_SCRIPT}, {"<img", "src", D_IMAGE}};
  const char *b = r->body, *end = r->body + r->body_len;
  const char *p = b + r->scanned;
  while ((p = memchr(p, '<', (size_t)(end - p))) != NULL) {
    const char *close = memchr(p, '>', (size_t)(end - p));
    if (close == NULL)
      break;
    for (size_t i = 0; i < ARRAY_SIZE(tags); i++) {
      size_t tl = strlen(tags[i].tag);
      if ((size_t)(close - p) <= tl || strncasecmp(p, tags[i].tag, tl) != 0 ||
          (p[tl] != ' ' && p[tl] != '\t' && p[tl] != '\n' && p[tl] != '\r'))
        continue;
      const char *v;
      size_t vn;
      if (tags[i].d == D_STYLE) {
        if (attr(p + tl, close, "rel", &v, &vn) != 0 || vn < 10 ||
            !memmem(v, vn, "stylesheet", 10))
          break;
      }
      if (attr(p + tl, close, tags[i].attr, &v, &vn) == 0)
        discover(v, vn, tags[i].d, r);
      break;
    }
    p = close + 1;
  }
  r->scanned = (size_t)((p ? p : end) - b);
}

static void scan_css(struct res *r) {
  const char *p = r->body, *end = r->body + r->body_len;
  while ((p = memmem(p, (size_t)(end - p), "url(", 4)) != NULL) {
    p += 4;
    const char *e = memchr(p, ')', (size_t)(end - p));
    if (e == NULL)
      break;
    const char *a = p, *z = e;
    while (a < z && (*a == ' ' || *a == '"' || *a == '\''))
      a++;
    while (z > a && (z[-1] == ' ' || z[-1] == '"' || z[-1] == '\''))
      z--;
    const char *dot = memrchr(a, '.', (size_t)(z - a));
    int font = dot && ((z - dot == 6 && !strncasecmp(dot, ".woff2", 6)) ||
                       (z - dot == 5 && !strncasecmp(dot, ".woff", 5)) ||
                       (z - dot == 4 && (!strncasecmp(dot, ".ttf", 4) ||
                                         !strncasecmp(dot, ".otf", 4) ||
                                         !strncasecmp(dot, ".eot", 4))));
    discover(a, (size_t)(z - a), font ? D_FONT : D_IMAGE, r);
    p = e + 1;
  }
}

/* on_hint handles the Link field of a 103: each <url> whose parameters
 * say rel=preload is requested now, before the page has arrived. */
static void on_hint(const char *v, size_t n) {
  const char *end = v + n, *p = v;
  while ((p = memchr(p, '<', (size_t)(end - p))) != NULL) {
    const char *gt = memchr(p, '>', (size_t)(end - p));
    if (gt == NULL)
      return;
    const char *pe = gt;
    while (pe < end && *pe != ',')
      pe++;
    size_t pn = (size_t)(pe - gt);
    enum dest d = D_SCRIPT;
    if (memmem(gt, pn, "as=style", 8))
      d = D_STYLE;
    else if (memmem(gt, pn, "as=font", 7))
      d = D_FONT;
    else if (memmem(gt, pn, "as=image", 8))
      d = D_IMAGE;
    char path[MAX_PATH];
    if (memmem(gt, pn, "preload", 7) &&
        resolve(p + 1, (size_t)(gt - p - 1), "/", path, sizeof(path)) == 0) {
      struct res *r = res_get(path, d, L.res[0].path);
      if (r && !r->requested) {
        r->hinted = 1;
        L.hinted++;
        vlog("hinted %s", path);
        request(r);
      }
    }
    p = pe;
  }
}

static void body_add(struct res *r, const uint8_t *data, size_t n) {
  r->bytes += n;
  if (r->dest != D_DOCUMENT && r->dest != D_STYLE)
    return;
  if (r->body_len + n > BODY_CAP)
    die("%s: body over %zu bytes", r->path, BODY_CAP);
  r->body = xrealloc(r->body, r->body_len + n + 1);
  memcpy(r->body + r->body_len, data, n);
  r->body_len += n;
  r->body[r->body_len] = '\0';
  if (r->dest == D_DOCUMENT && r->status == 200)
    scan_html(r);
}

static void res_done(struct res *r, int ok) {
  if (r->done)
    return;
  if (!ok && r->pushed && r->stream_id != 0) {
    /* A push the server reset: not delivered, so ask for it if needed. */
    vlog("push of %s reset; requesting it", r->path);
    r->requested = 0;
    r->stream_id = 0;
    r->bytes = r->body_len = r->scanned = 0;
    if (r->needed)
      request(r);
    return;
  }
  r->done = 1;
  vlog("done %s %d %zu bytes%s", r->path, r->status, r->bytes, r->pushed ? " (pushed)" : "");
  if (!ok || r->status != 200) {
    if (r->needed)
      L.failed++;
    return;
  }
  if (r->dest == D_DOCUMENT)
    scan_html(r);
  else if (r->dest == D_STYLE && r->needed)
    scan_css(r);
}

/* ---- HTTP/2 ---- */

static int h2_on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                        size_t nl, const uint8_t *value, size_t vl, uint8_t flags, void *u) {
  (void)s, (void)flags, (void)u;
  struct conn *c = &L.conns[0];
  if (f->hd.type == NGHTTP2_PUSH_PROMISE) {
    if (nl == 5 && memcmp(name, ":path", 5) == 0)
      snprintf(c->promise_path, sizeof(c->promise_path), "%.*s", (int)vl, value);
    return 0;
  }
  struct res *r = res_by_stream(f->hd.stream_id);
  if (r == NULL)
    return 0;
  if (nl == 7 && memcmp(name, ":status", 7) == 0)
    r->status = atoi((const char *)value);
  else if (r->status == 103 && nl == 4 && memcmp(name, "link", 4) == 0)
    on_hint((const char *)value, vl);
  return 0;
}

static int h2_on_frame(nghttp2_session *s, const nghttp2_frame *f, void *u) {
  (void)u;
  if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_HEADERS) {
    struct res *r = res_by_stream(f->hd.stream_id);
    if (r)
      vlog("%d %s", r->status, r->path);
  }
  if (f->hd.type != NGHTTP2_PUSH_PROMISE)
    return 0;
  struct conn *c = &L.conns[0];
  int32_t id = f->push_promise.promised_stream_id;
  struct res *r = res_find(c->promise_path);
  if ((r && r->requested) || c->promise_path[0] != '/') {
    /* Already on its way: a browser would match the push to the request;
     * here the request wins and the duplicate push is refused. */
    nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    return 0;
  }
  /* Its destination is unknown until the page names it; image is what
   * the scanners would not overwrite anyway. */
  r = res_get(c->promise_path, D_IMAGE, L.res[0].path);
  if (r == NULL)
    return 0;
  const char *dot = strrchr(r->path, '.');
  if (dot && strcmp(dot, ".css") == 0)
    r->dest = D_STYLE; /* kept, so its url()s can be scanned */
  r->requested = r->pushed = 1;
  r->stream_id = id;
  L.pushed++;
  vlog("promised %s", r->path);
  c->promise_path[0] = '\0';
  return 0;
}

static int h2_on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
                      size_t n, void *u) {
  (void)s, (void)flags, (void)u;
  struct res *r = res_by_stream(id);
  if (r)
    body_add(r, data, n);
  return 0;
}

static int h2_on_close(nghttp2_session *s, int32_t id, uint32_t err, void *u) {
  (void)s, (void)u;
  struct res *r = res_by_stream(id);
  if (r && r->requested)
    res_done(r, err == NGHTTP2_NO_ERROR && r->status >= 200);
  return 0;
}

static void h2_start(struct conn *c) {
  nghttp2_session_callbacks *cb;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_header_callback(cb, h2_on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, h2_on_frame);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, h2_on_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, h2_on_close);
  if (nghttp2_session_client_new(&c->h2, cb, NULL) != 0)
    die("nghttp2_session_client_new failed");
  nghttp2_session_callbacks_del(cb);
  /* Chrome's windows (6 MB per stream, 15 MB per connection): flow
   * control must never be what the benchmark measures. */
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, (uint32_t)L.push},
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1000},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 6 << 20}};
  nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, ARRAY_SIZE(iv));
  nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, 15 << 20);
}

/* Request headers by destination, as Chrome sends them. */
static const char *accept_of(enum dest d) {
  switch (d) {
  case D_DOCUMENT:
    return "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
           "image/webp,*/*;q=0.8";
  case D_STYLE: return "text/css,*/*;q=0.1";
  case D_IMAGE: return "image/avif,image/webp,image/apng,image/*,*/*;q=0.8";
  default: return "*/*";
  }
}

#define UA "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) " \
           "Chrome/120.0.0.0 Safari/537.36 herald-pageload"

static void h2_request(struct res *r) {
  struct conn *c = &L.conns[0];
  char referer[MAX_PATH + 400], origin[400];
  snprintf(origin, sizeof(origin), "https://%s", L.authority);
  snprintf(referer, sizeof(referer), "%s%s", origin, r->referer);
  const char *mode = r->dest == D_DOCUMENT ? "navigate" : r->dest == D_FONT ? "cors" : "no-cors";
#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE}
  nghttp2_nv nv[12] = {NV(":method", "GET"), NV(":scheme", "https"),
                       NV(":authority", L.authority), NV(":path", r->path),
                       NV("user-agent", UA), NV("accept", accept_of(r->dest)),
                       NV("accept-language", "en-US,en;q=0.9"),
                       NV("sec-fetch-dest", dest_name[r->dest]), NV("sec-fetch-mode", mode)};
  size_t n = 9;
  if (r->dest == D_DOCUMENT) {
    nv[n++] = (nghttp2_nv)NV("sec-fetch-site", "none");
    nv[n++] = (nghttp2_nv)NV("sec-fetch-user", "?1");
  } else {
    nv[n++] = (nghttp2_nv)NV("sec-fetch-site", "same-origin");
    nv[n++] = (nghttp2_nv)NV("referer", referer);
    if (r->dest == D_FONT)
      nv[n++] = (nghttp2_nv)NV("origin", origin);
  }
#undef NV
  int32_t id = nghttp2_submit_request(c->h2, NULL, nv, n, NULL, NULL);
  if (id < 0)
    die("nghttp2_submit_request: %s", nghttp2_strerror(id));
  r->stream_id = id;
}

/* ---- HTTP/1.1 ---- */

static int h1_on_headers(llhttp_t *p) {
  struct conn *c = p->data;
  c->cur->status = llhttp_get_status_code(p);
  vlog("%d %s (conn %d)", c->cur->status, c->cur->path, (int)(c - L.conns));
  return 0;
}

static int h1_on_body(llhttp_t *p, const char *at, size_t n) {
  struct conn *c = p->data;
  body_add(c->cur, (const uint8_t *)at, n);
  return 0;
}

static void h1_next(struct conn *c);

static int h1_on_complete(llhttp_t *p) {
  struct conn *c = p->data;
  if (c->cur->status < 200)
    return 0; /* an interim response; the final one follows */
  struct res *r = c->cur;
  c->cur = NULL;
  res_done(r, 1);
  return 0;
}

static void h1_send(struct conn *c, struct res *r) {
  char buf[4096];
  const char *scheme = L.tls ? "https" : "http";
  int n = snprintf(buf, sizeof(buf),
                   "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: " UA "\r\n"
                   "Accept: %s\r\nAccept-Language: en-US,en;q=0.9\r\n"
                   "Sec-Fetch-Dest: %s\r\n",
                   r->path, L.authority, accept_of(r->dest), dest_name[r->dest]);
  if (r->dest == D_DOCUMENT)
    n += snprintf(buf + n, sizeof(buf) - (size_t)n,
                  "Sec-Fetch-Mode: navigate\r\nSec-Fetch-Site: none\r\nSec-Fetch-User: ?1\r\n");
  else
    n += snprintf(buf + n, sizeof(buf) - (size_t)n,
                  "Sec-Fetch-Mode: %s\r\nSec-Fetch-Site: same-origin\r\n"
                  "Referer: %s://%s%s\r\n",
                  r->dest == D_FONT ? "cors" : "no-cors", scheme, L.authority, r->referer);
  if (r->dest == D_FONT)
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, "Origin: %s://%s\r\n", scheme,
                  L.authority);
  n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\r\n");
  if (n >= (int)sizeof(buf))
    die("request head too long");
  c->cur = r;
  r->queued = 0;
  out_add(c, buf, (size_t)n);
  conn_flush(c);
}

/* h1_next gives an idle, ready connection the oldest queued request. */
static void h1_next(struct conn *c) {
  if (!c->ready || c->cur != NULL)
    return;
  for (int i = 0; i < L.nres; i++)
    if (L.res[i].queued) {
      h1_send(c, &L.res[i]);
      return;
    }
}

static void h1_request(struct res *r) {
  r->queued = 1;
  int opening = 0;
  for (int i = 0; i < L.nconns; i++) {
    if (L.conns[i].ready && L.conns[i].cur == NULL) {
      h1_send(&L.conns[i], r);
      return;
    }
    opening += !L.conns[i].ready;
  }
  /* Everything busy: a new connection, unless one already being set up
   * will take it or the per-origin limit is reached. */
  int queued = 0;
  for (int i = 0; i < L.nres; i++)
    queued += L.res[i].queued;
  if (queued > opening && L.nconns < MAX_CONNS)
    conn_open(&L.conns[L.nconns++]);
}

static void request(struct res *r) {
  r->requested = 1;
  L.requests++;
  vlog("request %s (%s)", r->path, dest_name[r->dest]);
  if (L.h1)
    h1_request(r);
  else
    h2_request(r);
}

/* ---- connection events ---- */

static const llhttp_settings_t *h1_settings(void) {
  static llhttp_settings_t s;
  static int init;
  if (!init) {
    llhttp_settings_init(&s);
    s.on_headers_complete = h1_on_headers;
    s.on_body = h1_on_body;
    s.on_message_complete = h1_on_complete;
    init = 1;
  }
  return &s;
}

/* conn_ready: TCP (and TLS) are up; start talking. */
static void conn_ready(struct conn *c) {
  c->ready = 1;
  vlog("conn %d ready", (int)(c - L.conns));
  if (L.h1) {
    llhttp_init(&c->parser, HTTP_RESPONSE, h1_settings());
    c->parser.data = c;
    h1_next(c);
    return;
  }
  if (c->net.ssl && !netc_alpn_is(&c->net, "h2"))
    die("server did not select h2 in ALPN");
  h2_start(c);
  request(&L.res[0]);
}

static void conn_handshake(struct conn *c) {
  static const uint8_t h2[] = "\x02h2", h1[] = "\x08http/1.1";
  int rv = L.h1 ? netc_handshake(&c->net, L.ctx, h1, sizeof(h1) - 1)
                : netc_handshake(&c->net, L.ctx, h2, sizeof(h2) - 1);
  if (rv == 1)
    conn_ready(c);
  else if (rv < 0)
    die("TLS handshake failed");
}

static void conn_read(struct conn *c) {
  uint8_t buf[64 * 1024];
  for (;;) {
    ssize_t n = netc_read(&c->net, buf, sizeof(buf));
    if (n == 0)
      break;
    if (n < 0) { /* closed, cleanly or not */
      if (!all_needed_done())
        die("conn %d closed by the server", (int)(c - L.conns));
      netc_close(&c->net);
      return;
    }
    if (c->h2) {
      ssize_t rv = nghttp2_session_mem_recv(c->h2, buf, (size_t)n);
      if (rv < 0)
        die("nghttp2_session_mem_recv: %s", nghttp2_strerror((int)rv));
    } else if (c->cur != NULL) {
      llhttp_errno_t rv = llhttp_execute(&c->parser, (const char *)buf, (size_t)n);
      if (rv != HPE_OK)
        die("HTTP/1.1 response: %s", llhttp_errno_name(rv));
    } else {
      die("conn %d: bytes without a request", (int)(c - L.conns));
    }
  }
}

/* conn_up: the TCP handshake is over (after --connect-rtt). */
static void conn_up(struct conn *c) {
  c->connected = 1;
  vlog("conn %d: TCP connected", (int)(c - L.conns));
  if (L.tls)
    conn_handshake(c); /* sends the ClientHello */
  else
    conn_ready(c);
  if (L.h1)
    for (int i = 0; i < L.nconns; i++)
      h1_next(&L.conns[i]);
}

static void on_event(struct conn *c, short ev) {
  if (!c->connected && c->syn_at == 0 && (ev & (POLLOUT | POLLERR | POLLHUP))) {
    int err = netc_connected(&c->net);
    if (err != 0)
      die("connect %s:%s: %s", L.host, L.port, strerror(-err));
    /* A userspace relay accepts at once: the kernel completes the
     * handshake on loopback. The SYN, SYN-ACK round trip of the emulated
     * link is added here, so each new connection costs its 1 RTT. */
    c->syn_at = now_ms() + L.connect_rtt;
    if (L.connect_rtt == 0)
      conn_up(c);
    return;
  }
  if (!c->connected)
    return;
  if (!c->ready) {
    conn_handshake(c);
    if (!c->ready)
      return;
  }
  if (ev & POLLIN)
    conn_read(c);
  if (c->net.fd >= 0)
    conn_flush(c);
  if (L.h1)
    for (int i = 0; i < L.nconns; i++)
      h1_next(&L.conns[i]);
}

static void usage(void) {
  fprintf(stderr,
          "usage: pageload [--http1.1] [--no-push] [--cleartext] [--connect-rtt MS]\n"
          "                [--timeout MS] [--json] [-v] HOST:PORT [PATH]\n"
          "One cold-cache page load (default PATH /), TLS with ALPN h2 (or http/1.1).\n"
          "--connect-rtt MS: each TCP connection counts as up MS after connect()\n"
          "returns, the handshake round trip a userspace relay cannot delay.\n");
}

int main(int argc, char **argv) {
  const char *target = NULL, *path = "/";
  int json = 0, timeout = 30000;
  L.tls = L.push = 1;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--http1.1") == 0) {
      L.h1 = 1;
    } else if (strcmp(argv[i], "--no-push") == 0) {
      L.push = 0;
    } else if (strcmp(argv[i], "--cleartext") == 0) {
      L.tls = 0;
    } else if (strcmp(argv[i], "--json") == 0) {
      json = 1;
    } else if (strcmp(argv[i], "-v") == 0) {
      L.verbose = 1;
    } else if (strcmp(argv[i], "--connect-rtt") == 0 && i + 1 < argc) {
      L.connect_rtt = atoi(argv[++i]);
    } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
      timeout = atoi(argv[++i]);
    } else if (argv[i][0] != '-' && target == NULL) {
      target = argv[i];
    } else if (argv[i][0] == '/' && target != NULL) {
      path = argv[i];
    } else {
      usage();
      return 2;
    }
  }
  if (target == NULL) {
    usage();
    return 2;
  }
  /* HTTP/2 without TLS would be h2c, which browsers never speak. */
  if (!L.tls && !L.h1)
    die("--cleartext needs --http1.1");
  int port;
  if (util_parse_hostport(target, L.host, sizeof(L.host), &port) != 0)
    die("bad HOST:PORT '%s'", target);
  snprintf(L.port, sizeof(L.port), "%d", port);
  snprintf(L.authority, sizeof(L.authority), "%s", target);
  signal(SIGPIPE, SIG_IGN);
  if (L.tls)
    L.ctx = netc_tls_ctx(); /* no session cache: a cold visit */

  L.t0 = now_ms();
  struct res *page = res_get(path, D_DOCUMENT, NULL);
  page->needed = 1;
  conn_open(&L.conns[L.nconns++]);
  if (L.h1)
    request(page); /* queued until the connection is up */
  double end = L.t0;
  while (!all_needed_done()) {
    struct pollfd pfd[MAX_CONNS];
    for (int i = 0; i < L.nconns; i++) {
      struct conn *c = &L.conns[i];
      pfd[i].fd = c->net.fd;
      pfd[i].events = POLLIN;
      if (!c->connected && c->syn_at != 0)
        pfd[i].events = 0; /* waiting out --connect-rtt */
      else if (!c->connected || c->net.out_len > 0 ||
          (c->h2 && nghttp2_session_want_write(c->h2)))
        pfd[i].events |= POLLOUT;
    }
    int left = timeout - (int)(now_ms() - L.t0);
    if (left <= 0)
      break;
    for (int i = 0; i < L.nconns; i++) {
      struct conn *c = &L.conns[i];
      if (!c->connected && c->syn_at != 0) {
        int wait = (int)(c->syn_at - now_ms() + 0.999);
        if (wait < left)
          left = wait < 0 ? 0 : wait;
      }
    }
    int n = poll(pfd, (nfds_t)L.nconns, left);
    if (n < 0 && errno != EINTR)
      die("poll: %s", strerror(errno));
    int nc = L.nconns; /* events may open connections; they poll next turn */
    for (int i = 0; i < nc; i++) {
      struct conn *c = &L.conns[i];
      if (!c->connected && c->syn_at != 0 && now_ms() >= c->syn_at)
        conn_up(c);
      else if (pfd[i].revents && c->net.fd >= 0)
        on_event(c, pfd[i].revents);
    }
    end = now_ms();
  }
  int complete = all_needed_done();
  size_t bytes = 0;
  int needed = 0;
  for (int i = 0; i < L.nres; i++)
    if (L.res[i].needed) {
      bytes += L.res[i].bytes;
      needed++;
      if (!L.res[i].done)
        fprintf(stderr, "pageload: %s not loaded\n", L.res[i].path);
    }
  const char *proto = L.h1 ? "http/1.1" : "h2";
  double ms = end - L.t0;
  if (json)
    printf("{\"ms\": %.1f, \"bytes\": %zu, \"resources\": %d, \"requests\": %d, "
           "\"pushed\": %d, \"hinted\": %d, \"conns\": %d, \"proto\": \"%s\", "
           "\"complete\": %s, \"failed\": %d}\n",
           ms, bytes, needed, L.requests, L.pushed, L.hinted, L.nconns, proto,
           complete ? "true" : "false", L.failed);
  else
    printf("pageload: ms %.1f bytes %zu resources %d requests %d pushed %d hinted %d "
           "conns %d proto %s%s\n",
           ms, bytes, needed, L.requests, L.pushed, L.hinted, L.nconns, proto,
           complete ? "" : " INCOMPLETE");
  for (int i = 0; i < L.nconns; i++) {
    if (L.conns[i].h2)
      nghttp2_session_del(L.conns[i].h2);
    netc_close(&L.conns[i].net);
  }
  for (int i = 0; i < L.nres; i++)
    free(L.res[i].body);
  SSL_CTX_free(L.ctx);
  return complete && L.failed == 0 ? 0 : 1;
}
