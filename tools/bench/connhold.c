/* connhold.c: hold many client connections open in one chosen state.
 *
 * The benchmark's memory section (tools/bench/connmem.sh) reads a proxy's
 * RSS before and after this client opens N more connections, and divides
 * the difference by N. h2load cannot leave connections idle, nor a stream
 * unanswered, so this client does just that:
 *   - every connection completes one request (GET --path), as a browser's
 *     connection has by the time it sits idle: HTTP/2 (h2c prior knowledge,
 *     or TLS with ALPN h2) after the SETTINGS exchange, or HTTP/1.1
 *     keep-alive (--h1);
 *   - with --hold PATH it then sends one more request and never sees its
 *     answer while the measurement runs (the backend delays it): one stream
 *     in flight per connection;
 *   - it keeps reading, so PINGs and SETTINGS are answered (nghttp2 does
 *     that) and a connection the server closes is noticed and counted.
 *
 * Usage: connhold --connect HOST:PORT [--tls] [--h1] [--path P] [--hold P]
 *                 [--window N] [--timeout SECONDS]
 * Commands on stdin, one per line:
 *   open N    open N more connections, at most --window (64) being set up
 *             at once; when every one of them is in its final state (or
 *             failed, or --timeout passed), print "ready OPEN FAILED"
 *   status    print "status OPEN FAILED"
 * OPEN counts the connections in their final state and still open; FAILED
 * those that failed or were closed by the server, ever. EOF on stdin or
 * SIGTERM closes everything; the exit status is 0.
 *
 * Non-blocking sockets (netc.h) and poll(); nghttp2 frames HTTP/2, llhttp
 * parses HTTP/1.1 responses. */
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
#include <time.h>
#include <unistd.h>

#define OUT_CAP ((size_t)64 << 10) /* unsent output of one connection */
#define MAX_ERRORS_SHOWN 5

enum state {
  S_UNUSED,     /* not opened yet */
  S_CONNECTING, /* TCP connect in progress */
  S_HANDSHAKE,  /* TLS handshake in progress */
  S_FIRST,      /* the first request is in flight */
  S_HOLD_SEND,  /* --hold request queued, not yet all written */
  S_HELD,       /* final state: idle, or hold request written */
  S_DEAD        /* failed, or closed by the server */
};

struct conn {
  struct netc net;
  enum state st;
  nghttp2_session *h2;
  llhttp_t parser;
  int32_t first_id;
  int first_status; /* HTTP/2: :status of the first response */
  int index;
};

static struct {
  char host[256], port[16], authority[300];
  const char *path, *hold;
  int tls, h1, window;
  double timeout_ms;
  SSL_CTX *ctx;
  struct conn **conns; /* each allocated once: callbacks hold pointers */
  int nconns, cap;    /* opened so far; allocated */
  int target;         /* connections wanted in all */
  int batch_from;     /* first connection of the current "open" */
  double batch_start; /* 0: no batch pending */
  int failed, errors_shown;
  volatile sig_atomic_t stop;
} H;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("connhold: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

/* conn_fail closes |c|'s socket and counts it; the first few reasons are
 * shown. It may run inside an nghttp2 or llhttp callback, so the session
 * and TLS state are freed later, by conn_reap, outside them. */
static void conn_fail(struct conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void conn_fail(struct conn *c, const char *fmt, ...) {
  if (c->st == S_DEAD)
    return;
  if (H.errors_shown++ < MAX_ERRORS_SHOWN) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "connhold: conn %d: ", c->index);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
  }
  c->st = S_DEAD;
  H.failed++;
}

/* conn_reap frees what a failed connection still holds. */
static void conn_reap(struct conn *c) {
  if (c->st != S_DEAD || c->net.fd < 0)
    return;
  if (c->h2 != NULL)
    nghttp2_session_del(c->h2);
  c->h2 = NULL;
  netc_close(&c->net);
}

static void out_add(struct conn *c, const void *p, size_t n) {
  if (c->st == S_DEAD)
    return;
  if (c->net.out_len + n > OUT_CAP)
    conn_fail(c, "output buffer full");
  else
    netc_queue(&c->net, p, n);
}

/* conn_flush writes what it can; the rest waits for POLLOUT. */
static void conn_flush(struct conn *c) {
  if (c->h2 != NULL) {
    const uint8_t *data;
    ssize_t n;
    while (c->st != S_DEAD && (n = nghttp2_session_mem_send(c->h2, &data)) > 0)
      out_add(c, data, (size_t)n);
  }
  int rv = c->st == S_DEAD ? 0 : netc_flush(&c->net);
  if (rv < 0)
    conn_fail(c, "write: %s", strerror(-rv));
  else if (c->st == S_HOLD_SEND && c->net.out_len == 0 &&
           (c->h2 == NULL || !nghttp2_session_want_write(c->h2)))
    c->st = S_HELD;
}

/* ---- requests ---- */

static void h1_get(struct conn *c, const char *path) {
  char req[1400];
  int n = snprintf(req, sizeof(req),
                   "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: connhold\r\n"
                   "Accept: */*\r\n\r\n",
                   path, H.authority);
  if (n < 0 || (size_t)n >= sizeof(req))
    die("path too long");
  out_add(c, req, (size_t)n);
}

static int32_t h2_get(struct conn *c, const char *path) {
#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), \
                  NGHTTP2_NV_FLAG_NONE}
  nghttp2_nv nv[] = {NV(":method", "GET"),
                     NV(":scheme", H.tls ? "https" : "http"),
                     NV(":authority", H.authority), NV(":path", path),
                     NV("user-agent", "connhold"), NV("accept", "*/*")};
#undef NV
  int32_t id = nghttp2_submit_request(c->h2, NULL, nv, ARRAY_SIZE(nv), NULL, c);
  if (id < 0)
    conn_fail(c, "nghttp2_submit_request: %s", nghttp2_strerror(id));
  return id;
}

/* first_done: the first request is answered; idle, or send the hold one. */
static void first_done(struct conn *c) {
  if (H.hold == NULL) {
    c->st = S_HELD;
    return;
  }
  c->st = S_HOLD_SEND;
  if (c->h2 != NULL)
    h2_get(c, H.hold);
  else
    h1_get(c, H.hold);
}

/* ---- HTTP/1.1 ---- */

static int h1_on_complete(llhttp_t *p) {
  struct conn *c = p->data;
  if (c->st != S_FIRST)
    return 0; /* the hold request's answer: the backend gave up */
  if (p->status_code != 200) {
    conn_fail(c, "first request answered %d", p->status_code);
    return HPE_USER;
  }
  first_done(c);
  return 0;
}

static const llhttp_settings_t *h1_settings(void) {
  static llhttp_settings_t s;
  static int init;
  if (!init) {
    llhttp_settings_init(&s);
    s.on_message_complete = h1_on_complete;
    init = 1;
  }
  return &s;
}

/* ---- HTTP/2 ---- */

static int h2_on_header(nghttp2_session *s, const nghttp2_frame *f,
                        const uint8_t *name, size_t namelen,
                        const uint8_t *value, size_t valuelen, uint8_t flags,
                        void *u) {
  (void)s, (void)flags, (void)valuelen;
  struct conn *c = u;
  if (f->hd.stream_id == c->first_id && namelen == 7 &&
      memcmp(name, ":status", 7) == 0)
    c->first_status = atoi((const char *)value);
  return 0;
}

static int h2_on_close(nghttp2_session *s, int32_t id, uint32_t err, void *u) {
  (void)s;
  struct conn *c = u;
  if (c->st == S_FIRST && id == c->first_id) {
    if (err != NGHTTP2_NO_ERROR)
      conn_fail(c, "first stream reset (%s)", nghttp2_http2_strerror(err));
    else if (c->first_status != 200)
      conn_fail(c, "first request answered %d", c->first_status);
    else
      first_done(c);
  }
  return 0;
}

static void h2_start(struct conn *c) {
  static nghttp2_session_callbacks *cb;
  if (cb == NULL) {
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, h2_on_close);
    nghttp2_session_callbacks_set_on_header_callback(cb, h2_on_header);
  }
  nghttp2_session_client_new(&c->h2, cb, c);
  nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0}};
  nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, ARRAY_SIZE(iv));
  c->first_id = h2_get(c, H.path);
}

/* ---- connections ---- */

static void conn_ready(struct conn *c) {
  c->st = S_FIRST;
  if (c->net.ssl != NULL && !netc_alpn_is(&c->net, H.h1 ? "http/1.1" : "h2")) {
    conn_fail(c, "the server did not choose %s in ALPN",
              H.h1 ? "http/1.1" : "h2");
    return;
  }
  if (H.h1) {
    llhttp_init(&c->parser, HTTP_RESPONSE, h1_settings());
    c->parser.data = c;
    h1_get(c, H.path);
  } else {
    h2_start(c);
  }
}

static void conn_handshake(struct conn *c) {
  static const uint8_t h2[] = "\x02h2", h1[] = "\x08http/1.1";
  c->st = S_HANDSHAKE;
  int rv = H.h1 ? netc_handshake(&c->net, H.ctx, h1, sizeof(h1) - 1)
                : netc_handshake(&c->net, H.ctx, h2, sizeof(h2) - 1);
  if (rv == 1)
    conn_ready(c);
  else if (rv < 0)
    conn_fail(c, "TLS handshake failed");
}

static void conn_open(struct conn *c) {
  c->st = S_CONNECTING;
  int rv = netc_connect(&c->net, H.host, H.port);
  if (rv == -EMFILE || rv == -ENFILE)
    die("socket: %s (raise the descriptor limit)", strerror(-rv));
  if (rv < 0)
    conn_fail(c, "connect: %s", strerror(-rv));
}

static void conn_read(struct conn *c) {
  uint8_t buf[16 * 1024];
  while (c->st != S_DEAD) {
    ssize_t n = netc_read(&c->net, buf, sizeof(buf));
    if (n == 0)
      return;
    if (n < 0) {
      conn_fail(c, "closed by the server (%s)",
                c->st == S_HELD ? "while held" : "while setting up");
      return;
    }
    if (c->h2 != NULL) {
      ssize_t rv = nghttp2_session_mem_recv(c->h2, buf, (size_t)n);
      if (rv < 0)
        conn_fail(c, "nghttp2_session_mem_recv: %s",
                  nghttp2_strerror((int)rv));
    } else if (H.h1) {
      llhttp_errno_t rv =
          llhttp_execute(&c->parser, (const char *)buf, (size_t)n);
      if (rv != HPE_OK && c->st != S_DEAD)
        conn_fail(c, "HTTP/1.1 response: %s", llhttp_errno_name(rv));
    }
  }
}

static void on_event(struct conn *c, short ev) {
  if (c->st == S_CONNECTING) {
    if (!(ev & (POLLOUT | POLLERR | POLLHUP)))
      return;
    int err = netc_connected(&c->net);
    if (err != 0) {
      conn_fail(c, "connect: %s", strerror(-err));
      return;
    }
    if (H.tls)
      conn_handshake(c);
    else
      conn_ready(c);
  } else if (c->st == S_HANDSHAKE) {
    conn_handshake(c);
  } else if (ev & (POLLIN | POLLHUP | POLLERR)) {
    conn_read(c);
  }
  if (c->st != S_DEAD && c->st != S_HANDSHAKE && c->st != S_CONNECTING)
    conn_flush(c);
}

/* ---- batches and commands ---- */

static int settling(const struct conn *c) {
  return c->st == S_CONNECTING || c->st == S_HANDSHAKE || c->st == S_FIRST ||
         c->st == S_HOLD_SEND;
}

static int count_open(void) {
  int n = 0;
  for (int i = 0; i < H.nconns; i++)
    n += H.conns[i]->st == S_HELD;
  return n;
}

/* batch_step opens connections up to --window at once and reports the
 * batch once every connection of it has settled. */
static void batch_step(void) {
  if (H.batch_start == 0)
    return;
  int busy = 0;
  for (int i = H.batch_from; i < H.nconns; i++)
    busy += settling(H.conns[i]);
  while (busy < H.window && H.nconns < H.target) {
    conn_open(H.conns[H.nconns++]);
    busy++;
  }
  if (busy > 0 && now_ms() - H.batch_start > H.timeout_ms) {
    for (int i = H.batch_from; i < H.nconns; i++)
      if (settling(H.conns[i]))
        conn_fail(H.conns[i], "not set up within the timeout");
    while (H.nconns < H.target)
      H.conns[H.nconns++]->st = S_DEAD, H.failed++;
    busy = 0;
  }
  if (busy == 0 && H.nconns == H.target) {
    printf("ready %d %d\n", count_open(), H.failed);
    fflush(stdout);
    H.batch_start = 0;
  }
}

/* command handles one stdin line; returns -1 at EOF. */
static int command(void) {
  static char line[256];
  static size_t len;
  ssize_t n = read(0, line + len, sizeof(line) - 1 - len);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return 0;
  if (n <= 0)
    return -1;
  len += (size_t)n;
  line[len] = '\0';
  char *nl;
  while ((nl = strchr(line, '\n')) != NULL) {
    *nl = '\0';
    int count;
    if (sscanf(line, "open %d", &count) == 1 && count > 0) {
      if (H.batch_start != 0)
        die("'open' while a batch is still opening");
      if (H.nconns + count > H.cap) {
        int cap = H.nconns + count;
        H.conns = xrealloc(H.conns, (size_t)cap * sizeof(*H.conns));
        for (int i = H.cap; i < cap; i++) {
          H.conns[i] = xcalloc(1, sizeof(**H.conns));
          H.conns[i]->net.fd = -1;
          H.conns[i]->index = i;
        }
        H.cap = cap;
      }
      H.target = H.nconns + count;
      H.batch_from = H.nconns;
      H.batch_start = now_ms();
    } else if (strcmp(line, "status") == 0) {
      printf("status %d %d\n", count_open(), H.failed);
      fflush(stdout);
    } else if (line[0] != '\0') {
      die("unknown command '%s'", line);
    }
    len -= (size_t)(nl + 1 - line);
    memmove(line, nl + 1, len + 1);
  }
  if (len == sizeof(line) - 1)
    die("command line too long");
  return 0;
}

static void on_term(int sig) {
  (void)sig;
  H.stop = 1;
}

static void usage(void) {
  fprintf(stderr,
          "usage: connhold --connect HOST:PORT [--tls] [--h1] [--path P]\n"
          "                [--hold P] [--window N] [--timeout SECONDS]\n"
          "stdin: 'open N' (answers 'ready OPEN FAILED'), 'status'\n");
}

int main(int argc, char **argv) {
  const char *target = NULL;
  H.path = "/";
  H.window = 64;
  H.timeout_ms = 60000;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--tls") == 0) {
      H.tls = 1;
    } else if (strcmp(a, "--h1") == 0) {
      H.h1 = 1;
    } else if (v != NULL && strcmp(a, "--connect") == 0) {
      target = v, i++;
    } else if (v != NULL && strcmp(a, "--path") == 0) {
      H.path = v, i++;
    } else if (v != NULL && strcmp(a, "--hold") == 0) {
      H.hold = v, i++;
    } else if (v != NULL && strcmp(a, "--window") == 0) {
      H.window = atoi(v), i++;
    } else if (v != NULL && strcmp(a, "--timeout") == 0) {
      H.timeout_ms = atof(v) * 1000, i++;
    } else {
      usage();
      return 2;
    }
  }
  int port;
  if (target == NULL || H.window < 1 || H.timeout_ms <= 0 ||
      util_parse_hostport(target, H.host, sizeof(H.host), &port) != 0) {
    usage();
    return 2;
  }
  snprintf(H.port, sizeof(H.port), "%d", port);
  snprintf(H.authority, sizeof(H.authority), "%s", target);
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {.sa_handler = on_term};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  if (H.tls)
    H.ctx = netc_tls_ctx();

  struct pollfd *pfd = NULL;
  int pfd_cap = 0;
  while (!H.stop) {
    if (pfd_cap < H.nconns + 1) {
      pfd_cap = H.cap + 1;
      pfd = xrealloc(pfd, (size_t)pfd_cap * sizeof(*pfd));
    }
    pfd[0] = (struct pollfd){.fd = 0, .events = POLLIN};
    for (int i = 0; i < H.nconns; i++) {
      struct conn *c = H.conns[i];
      pfd[i + 1] = (struct pollfd){.fd = c->net.fd, .events = POLLIN};
      if (c->st == S_DEAD)
        pfd[i + 1].fd = -1;
      else if (c->st == S_CONNECTING || c->net.out_len > 0 ||
               (c->h2 != NULL && nghttp2_session_want_write(c->h2)))
        pfd[i + 1].events |= POLLOUT;
    }
    int rv = poll(pfd, (nfds_t)H.nconns + 1, H.batch_start != 0 ? 100 : 1000);
    if (rv < 0 && errno != EINTR)
      die("poll: %s", strerror(errno));
    if (rv > 0 && pfd[0].revents != 0 && command() < 0)
      break;
    for (int i = 0; rv > 0 && i < H.nconns; i++)
      if (pfd[i + 1].fd >= 0 && pfd[i + 1].revents != 0)
        on_event(H.conns[i], pfd[i + 1].revents);
    for (int i = 0; i < H.nconns; i++)
      conn_reap(H.conns[i]);
    batch_step();
  }
  for (int i = 0; i < H.nconns; i++)
    netc_close(&H.conns[i]->net);
  return 0;
}
