/* fake_pool.c: pool.h over socketpairs, with a scripted backend.
 *
 * Each backend connection is a uv_tcp_t opened on one end of an AF_UNIX
 * socketpair, so upstream.c writes requests with uv_try_write / uv_write
 * exactly as it does to a real backend. The other end is read here by the
 * backend: it parses what herald sent with a strict llhttp request parser
 * (the smuggling check, see fake.h) and answers each complete request with
 * a canned response, a slice per step, calling the owner's read callback
 * as pool.c would. Connects complete on the next step, with the status
 * the harness chose. See fake.h. */
#include <errno.h>
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/util.h"
#include "config/config.h"
#include "proxy/loop.h"
#include "proxy/pool.h"
#include "tests/fuzz/fake.h"

#define MAX_CONNS 512
#define SEEN_MAX 4096 /* bytes of a connection kept for failure reports */

struct pool_server {
  struct pool *pool;
  char name[32];
};

struct fconn {
  struct bconn b; /* first: a struct bconn * is a struct fconn * */
  struct fconn *next; /* pool's list of open connections */
  int peer;           /* the backend's end of the socketpair */
  int connect_done, eof_sent, idle;
  unsigned gen;       /* bumped each time an owner takes it */
  int refuse;         /* its connect fails (fake_pool_fail_nth_connect) */
  /* the backend's view of the requests */
  llhttp_t parser;
  int in_msg, heads, done, last_head_is_head;
  char method[300]; /* the method of the next request, until its SP */
  size_t mlen;
  char seen[SEEN_MAX];
  size_t seen_len;
  /* the response in progress */
  int answered; /* requests answered (or being answered) */
  int answering;
  size_t pos;
};

struct pool {
  struct loop *lp;
  const struct config *cfg;
  struct pool_server server;
  struct fconn *conns;
  int connect_status, get_fail, peer_closed;
  int fail_nth, created; /* the fail_nth new connection is refused */
};

static llhttp_settings_t req_settings;
static int req_settings_ready;

/* ---- canned responses -------------------------------------------------- */

struct canned {
  const char *bytes;
  size_t len;      /* 0: strlen */
  size_t head_len; /* through the final head, for HEAD requests */
  int eof_after;   /* the backend closes after the response */
};

static char big[300 * 1024 + 64];
static struct canned canned[FB_KINDS] = {
    [FB_OK] = {"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
               "ETag: \"v1\"\r\nContent-Length: 5\r\n\r\nhello",
               0, 0, 0},
    [FB_CHUNKED] = {"HTTP/1.1 200 OK\r\nContent-Type: text/css\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
                    "3\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n",
                    0, 0, 0},
    [FB_INTERIM] = {"HTTP/1.1 100 Continue\r\n\r\n"
                    "HTTP/1.1 102 Processing\r\n\r\n"
                    "HTTP/1.1 103 Early Hints\r\n"
                    "Link: </s.css>; rel=preload; as=style\r\n\r\n"
                    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                    0, 0, 0},
    [FB_BIG] = {big, 0, 0, 0},
    [FB_CLOSE] = {"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
                  "until the backend closes",
                  0, 0, 1},
    [FB_MALFORMED] = {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                      "Content-Length: 6\r\n\r\nhello!",
                      0, 0, 0},
    [FB_EOF] = {"", 0, 0, 1},
    [FB_STALL] = {"", 0, 0, 0},
    [FB_NO_CONTENT] = {"HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n", 0, 0,
                       0},
    [FB_EARLY] = {"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n"
                  "Connection: close\r\n\r\n",
                  0, 0, 1},
    [FB_SWITCH] = {"HTTP/1.1 101 Switching Protocols\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
                   0, 0, 0},
};

static void canned_init(void) {
  size_t k = (size_t)snprintf(big, sizeof(big),
                              "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n",
                              300 * 1024);
  memset(big + k, 'x', 300 * 1024);
  canned[FB_BIG].len = k + 300 * 1024;
  for (int i = 0; i < FB_KINDS; i++) {
    struct canned *c = &canned[i];
    if (c->len == 0)
      c->len = strlen(c->bytes);
    /* The final head ends at the last "\r\n\r\n" before the body; every
     * canned body is free of CRLFCRLF except the chunked one's trailer
     * section, which a HEAD response does not carry either. */
    const char *end = NULL;
    for (const char *p = c->bytes; p + 4 <= c->bytes + c->len; p++) {
      if (memcmp(p, "\r\n\r\n", 4) == 0) {
        end = p + 4;
        if (strncmp(end, "HTTP/1.1 ", 9) != 0)
          break;
      }
    }
    c->head_len = end ? (size_t)(end - c->bytes) : c->len;
  }
}

/* ---- the backend's request checker ------------------------------------- */

static struct fconn *from_parser(llhttp_t *p) { return p->data; }

static int req_begin(llhttp_t *p) {
  from_parser(p)->in_msg = 1;
  return 0;
}

static int req_head(llhttp_t *p) {
  struct fconn *f = from_parser(p);
  f->heads++;
  f->last_head_is_head = p->method == HTTP_HEAD;
  return 0;
}

static int req_complete(llhttp_t *p) {
  struct fconn *f = from_parser(p);
  f->in_msg = 0;
  f->done++;
  return HPE_PAUSED; /* the next method is checked by check_bytes */
}

static void report(struct fconn *f, const char *what) {
  fuzz_fail("backend connection: %s; herald wrote (%zu bytes shown):\n%.*s",
            what, f->seen_len, (int)f->seen_len, f->seen);
}

static int tchar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z') || (c != 0 && strchr("!#$%&'*+-.^_`|~", c));
}

/* feed parses what it can of |p| and returns how much it used: all of
 * it, or up to the end of a request. */
static size_t feed(struct fconn *f, const char *p, size_t n) {
  llhttp_errno_t e = llhttp_execute(&f->parser, p, n);
  if (e == HPE_PAUSED) {
    size_t used = (size_t)(llhttp_get_error_pos(&f->parser) - p);
    llhttp_resume(&f->parser);
    return used;
  }
  if (e != HPE_OK) {
    char why[200];
    snprintf(why, sizeof(why), "malformed request stream (%s: %s)",
             llhttp_errno_name(e), llhttp_get_error_reason(&f->parser));
    report(f, why);
  }
  return n;
}

/* check_bytes runs what herald wrote through the strict parser. llhttp
 * knows only registered methods while any token is a method (RFC 9110
 * 9.1) and HTTP/2 clients may send any: the method is checked here and
 * llhttp sees HEAD as HEAD and any other method as POST (request framing
 * does not depend on the method). CONNECT is never forwarded. */
static void check_bytes(struct fconn *f, const char *p, size_t n) {
  size_t keep = SEEN_MAX - f->seen_len < n ? SEEN_MAX - f->seen_len : n;
  memcpy(f->seen + f->seen_len, p, keep);
  f->seen_len += keep;
  while (n > 0) {
    if (f->in_msg) {
      size_t k = feed(f, p, n);
      p += k;
      n -= k;
      continue;
    }
    char c = *p++;
    n--;
    if (c != ' ') {
      if (!tchar((unsigned char)c) || f->mlen == sizeof(f->method))
        report(f, "request method is not a token");
      f->method[f->mlen++] = c;
      continue;
    }
    if (f->mlen == 0)
      report(f, "empty request method");
    if (f->mlen == 7 && memcmp(f->method, "CONNECT", 7) == 0)
      report(f, "CONNECT forwarded");
    int head = f->mlen == 4 && memcmp(f->method, "HEAD", 4) == 0;
    f->mlen = 0;
    if (feed(f, head ? "HEAD " : "POST ", 5) != 5)
      report(f, "request ended inside its method");
  }
}

static void drain(struct fconn *f) {
  char tmp[65536];
  for (;;) {
    ssize_t k = read(f->peer, tmp, sizeof(tmp));
    if (k > 0) {
      check_bytes(f, tmp, (size_t)k);
      continue;
    }
    if (k < 0 && errno == EINTR)
      continue;
    return;
  }
}

void fake_bconn_drain(struct bconn *b) { drain((struct fconn *)b); }

/* ---- connections ------------------------------------------------------- */

static void on_closed(uv_handle_t *h) {
  struct fconn *f = h->data;
  free(f);
}

static void unlink_conn(struct fconn *f) {
  struct pool *p = f->b.server->pool;
  for (struct fconn **pp = &p->conns; *pp != NULL; pp = &(*pp)->next) {
    if (*pp == f) {
      *pp = f->next;
      return;
    }
  }
}

static void close_conn(struct fconn *f) {
  if (f->b.closing)
    return;
  f->b.closing = 1;
  f->b.owner = NULL;
  unlink_conn(f);
  close(f->peer);
  f->peer = -1;
  uv_close((uv_handle_t *)&f->b.tcp, on_closed);
}

struct pool *fake_pool_new(struct loop *lp, const struct config *cfg) {
  if (!req_settings_ready) {
    llhttp_settings_init(&req_settings);
    req_settings.on_message_begin = req_begin;
    req_settings.on_headers_complete = req_head;
    req_settings.on_message_complete = req_complete;
    req_settings_ready = 1;
    canned_init();
  }
  struct pool *p = xcalloc(1, sizeof(*p));
  p->lp = lp;
  p->cfg = cfg;
  p->server.pool = p;
  snprintf(p->server.name, sizeof(p->server.name), "192.0.2.80:80");
  return p;
}

void fake_pool_set_connect_status(struct pool *p, int status) {
  p->connect_status = status;
}

void fake_pool_set_get_fail(struct pool *p, int fail) { p->get_fail = fail; }

void fake_pool_fail_nth_connect(struct pool *p, int n) {
  p->fail_nth = n;
  p->created = 0;
}

void fake_pool_set_peer_closed(struct pool *p, int closed) {
  p->peer_closed = closed;
}

static void take(struct fconn *f, void *owner, bconn_connect_cb cb,
                 bconn_read_cb read_cb) {
  f->b.owner = owner;
  f->b.on_connect = cb;
  f->b.on_read = read_cb;
  f->b.on_timeout = NULL;
  f->b.deadline = 0;
  f->gen++;
  f->idle = 0;
}

/* The fake never reaches a cap: nothing waits (pool.c's queue is covered
 * by the integration tests). */
void pool_cancel_wait(struct pool_waiter *w) { (void)w; }
const char *pool_waiter_server(const struct pool_waiter *w) {
  return w->server != NULL ? w->server->name : "-";
}
void pool_loop_init(struct loop *lp) { (void)lp; }
void pool_loop_cleanup(struct loop *lp) { (void)lp; }

struct bconn *pool_get(struct pool *p, int backend, int fresh,
                       struct pool_waiter *w, int *err) {
  void *owner = w->owner;
  bconn_connect_cb cb = w->connect_cb;
  bconn_read_cb read_cb = w->read_cb;
  if (backend < 0 || backend >= p->cfg->nbackends)
    fuzz_fail("pool_get: backend %d out of range", backend);
  if (p->get_fail) {
    *err = UV_EINVAL;
    return NULL;
  }
  if (!fresh) {
    for (struct fconn *f = p->conns; f != NULL; f = f->next) {
      if (f->idle) {
        take(f, owner, cb, read_cb);
        f->b.reused = 1;
        return &f->b;
      }
    }
  }
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                 fds) != 0)
    fuzz_fail("socketpair: %s", strerror(errno));
  int sz = 1 << 20;
  setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
  setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
  struct fconn *f = xcalloc(1, sizeof(*f));
  f->b.server = &p->server;
  f->peer = fds[1];
  f->refuse = p->fail_nth > 0 && ++p->created == p->fail_nth;
  uv_tcp_init(p->lp->uv, &f->b.tcp);
  f->b.tcp.data = f;
  if (uv_tcp_open(&f->b.tcp, fds[0]) != 0)
    fuzz_fail("uv_tcp_open on a socketpair failed");
  llhttp_init(&f->parser, HTTP_REQUEST, &req_settings);
  f->parser.data = f;
  take(f, owner, cb, read_cb);
  f->next = p->conns;
  p->conns = f;
  return &f->b;
}

void pool_set_deadline(struct bconn *b, uint64_t ms) { b->deadline = ms; }
void pool_pause_read(struct bconn *b) { b->read_paused = 1; }
void pool_resume_read(struct bconn *b) { b->read_paused = 0; }

void pool_put(struct bconn *b) {
  struct fconn *f = (struct fconn *)b;
  drain(f);
  /* Reuse is only safe between two requests. Bytes still queued in libuv
   * are not on the socket yet; the check then waits for the next read. */
  if (uv_stream_get_write_queue_size((uv_stream_t *)&b->tcp) == 0 &&
      (f->in_msg || f->mlen > 0 || f->heads != f->done))
    report(f, "connection returned to the pool in the middle of a request");
  b->owner = NULL;
  b->on_connect = NULL;
  b->on_read = NULL;
  b->on_timeout = NULL;
  b->read_paused = 0;
  if (f->eof_sent || f->answering) {
    close_conn(f); /* what pool.c's idle read callback would do */
    return;
  }
  f->idle = 1;
}

void pool_discard(struct bconn *b) { close_conn((struct fconn *)b); }

void pool_ref(struct pool *p) { (void)p; }
void pool_unref(struct pool *p) { (void)p; }
void pool_retire(struct pool *p) { (void)p; }
void pool_server_failed(struct bconn *b) { (void)b; }
void pool_server_ok(struct bconn *b, uint64_t body_bytes) {
  (void)b, (void)body_bytes;
}
/* Nothing is pipelined here: no connection is ever offered to a second
 * request. */
void pool_pipe_update(struct bconn *b) { (void)b; }
void pool_server_used(struct bconn *b) { (void)b; }
void pool_server_error(struct bconn *b) { (void)b; }
const char *pool_server_name(const struct bconn *b) { return b->server->name; }
const struct config *pool_config(const struct pool *p) { return p->cfg; }
struct loop *pool_loop(const struct pool *p) { return p->lp; }

void fake_pool_close_idle(struct pool *p) {
  struct fconn *f = p->conns;
  while (f != NULL) {
    struct fconn *next = f->next;
    if (f->idle)
      close_conn(f);
    f = next;
  }
}

int fake_backend_busy(const struct pool *p) {
  int n = 0;
  for (const struct fconn *f = p->conns; f != NULL; f = f->next)
    n += f->b.owner != NULL;
  return n;
}

/* ---- driving the owners ------------------------------------------------ */

/* Callbacks may take, release or close any connection, so each step works
 * on a snapshot and skips entries that changed hands meanwhile. */
struct snap {
  struct fconn *f;
  unsigned gen;
};

static size_t snapshot(struct pool *p, struct snap *out) {
  size_t n = 0;
  for (struct fconn *f = p->conns; f != NULL && n < MAX_CONNS; f = f->next) {
    if (f->b.owner != NULL)
      out[n++] = (struct snap){f, f->gen};
  }
  return n;
}

static int still(struct pool *p, const struct snap *s) {
  for (struct fconn *f = p->conns; f != NULL; f = f->next) {
    if (f == s->f)
      return f->gen == s->gen && f->b.owner != NULL && !f->b.closing;
  }
  return 0;
}

void fake_bconn_connect(struct bconn *b, int status) {
  struct fconn *f = (struct fconn *)b;
  f->connect_done = 1;
  if (status == 0 && b->server->pool->peer_closed && f->peer >= 0) {
    /* The backend is gone before herald writes: EOF on read, EPIPE on
     * write. */
    close(f->peer);
    f->peer = -1;
    f->eof_sent = 1;
  }
  b->deadline = 0;
  if (status == 0)
    b->connected = 1;
  b->on_connect(b, status);
}

void fake_bconn_deliver(struct bconn *b, const uint8_t *p, size_t n) {
  /* An exact-size copy, so a read past the end is caught. */
  uint8_t *copy = xmalloc(n ? n : 1);
  memcpy(copy, p, n);
  b->on_read(b, (ssize_t)n, copy);
  free(copy);
}

void fake_bconn_eof(struct bconn *b) {
  ((struct fconn *)b)->eof_sent = 1;
  b->on_read(b, UV_EOF, NULL);
}

struct bconn *fake_pool_busy_conn(struct pool *p) {
  for (struct fconn *f = p->conns; f != NULL; f = f->next) {
    if (f->b.owner != NULL && !f->b.closing)
      return &f->b;
  }
  return NULL;
}

/* answer delivers the next slice of |kind| to the request being answered;
 * returns 1 if it did anything. */
static int answer(struct fconn *f, enum fake_backend_kind kind,
                  size_t slice) {
  const struct canned *c = &canned[kind];
  if (!f->answering) {
    int ready = kind == FB_EARLY ? f->heads > f->answered
                                 : f->done > f->answered;
    if (!ready || kind == FB_STALL)
      return 0;
    f->answering = 1;
    f->answered++;
    f->pos = 0;
  }
  size_t total = f->last_head_is_head ? c->head_len : c->len;
  size_t k = total - f->pos;
  if (slice > 0 && k > slice)
    k = slice;
  int last = f->pos + k == total;
  unsigned gen = f->gen;
  if (last) {
    f->answering = 0;
    f->eof_sent = c->eof_after; /* pool_put must not keep it */
  }
  f->pos += k;
  if (k > 0)
    fake_bconn_deliver(&f->b, (const uint8_t *)c->bytes + f->pos - k, k);
  if (last && c->eof_after && f->gen == gen && f->b.owner != NULL &&
      !f->b.closing)
    f->b.on_read(&f->b, UV_EOF, NULL);
  return 1;
}

int fake_backend_step(struct pool *p, enum fake_backend_kind kind,
                      size_t slice) {
  struct snap s[MAX_CONNS];
  size_t n = snapshot(p, s);
  int any = 0;
  for (size_t i = 0; i < n; i++) {
    if (!still(p, &s[i]))
      continue;
    struct fconn *f = s[i].f;
    if (!f->connect_done) {
      fake_bconn_connect(&f->b, f->refuse ? UV_ECONNREFUSED
                                          : p->connect_status);
      any = 1;
      continue;
    }
    if (!f->b.connected || f->eof_sent)
      continue;
    drain(f);
    if (f->b.read_paused)
      continue;
    any |= answer(f, kind, slice);
  }
  return any;
}

void fake_backend_timeout(struct pool *p) {
  struct snap s[MAX_CONNS];
  size_t n = snapshot(p, s);
  for (size_t i = 0; i < n; i++) {
    if (!still(p, &s[i]) || s[i].f->b.deadline == 0)
      continue;
    struct bconn *b = &s[i].f->b;
    b->deadline = 0;
    if (!b->connected)
      fake_bconn_connect(b, UV_ETIMEDOUT);
    else if (b->on_timeout != NULL)
      b->on_timeout(b);
  }
}
