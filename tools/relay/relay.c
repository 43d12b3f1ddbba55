/* relay.c: a TCP relay that adds latency and a bandwidth limit on loopback.
 *
 *   relay --listen HOST:PORT --connect HOST:PORT [--rtt MS] [--rate KBIT]
 *         [--bind HOST] [--queue BYTES]
 *
 * Tests and benchmarks need a network that is slower than loopback: a
 * browser loses the race with a 103 that arrives within a millisecond of
 * its request, and page-load numbers on a 0 ms link say little. Root-only
 * tools (tc netem) are not always at hand, so this relay does it in
 * userspace: for every accepted connection it opens one to --connect and
 * forwards bytes both ways. --bind sets the source address of those
 * outgoing connections: on loopback any 127.x.y.z is local, so a test can
 * make one server see many clients (one relay per client address).
 *
 * DESIGN. Each direction of a connection pair is a FIFO of chunks, one per
 * read. A chunk is stamped with the time it may leave: the link is modelled
 * as a bottleneck of --rate kbit/s (a chunk finishes serialising no earlier
 * than the previous one did plus len*8/rate) followed by a propagation
 * delay of rtt/2. Departure times therefore never decrease, so the head of
 * the FIFO is always the next one due, and one uv_timer per direction,
 * armed for the head, is enough. Order is kept because chunks are written
 * strictly from the head. EOF is queued as an empty chunk, so a half-close
 * reaches the other side after the data sent before it, and just as late.
 *
 * Memory is bounded per direction: once more than RELAY_HIGH bytes are
 * queued or being written, reading from the source stops, and resumes when
 * the writes drain below RELAY_LOW. Any error (connect, read, write) closes
 * both sides; the pair is freed when its four handles have closed.
 *
 * --queue BYTES bounds the bytes a direction holds (queued at the
 * bottleneck plus those propagating) instead, and keeps the kernel's
 * receive buffers small, so the sender sees the link fill as a TCP sender
 * would: data it cannot send stays with it. By default a sender may put
 * about 1 MB onto the link at once: at 10 Mbit/s that is 0.8 s of queue,
 * more than any fresh TCP connection could have in flight. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

/* Backpressure thresholds per direction, in bytes queued toward the peer. */
#define RELAY_HIGH (1024 * 1024)
#define RELAY_LOW (512 * 1024)
/* Reads are at most this big: smaller chunks pace a rate limit smoothly. */
#define RELAY_READ 16384

#define container_of(ptr, type, member) \
  ((type *)((char *)(ptr) - offsetof(type, member)))

struct chunk {
  struct chunk *next;
  uint64_t due_ns; /* uv_hrtime() at which it may be written */
  size_t len;      /* 0: the EOF marker */
  uv_write_t req;
  char data[];
};

/* dir is one direction of a pair: bytes read from |from| go to |to|. */
struct dir {
  struct pair *pair;
  uv_tcp_t *from;
  uv_tcp_t *to;
  struct chunk *head; /* owned: not yet released to uv_write */
  struct chunk *tail;
  size_t queued;       /* bytes in the FIFO plus bytes being written */
  uint64_t tx_done_ns; /* when the previous chunk finished serialising */
  uv_timer_t timer;
  uv_shutdown_t shutdown;
  int reading;
  int eof;       /* EOF read from |from| */
  int shut_done; /* EOF forwarded to |to| */
};

struct pair {
  struct pair *next, *prev; /* every live pair, for shutdown on signal */
  uv_tcp_t client;          /* accepted */
  uv_tcp_t server;          /* ours, to --connect */
  uv_connect_t connect;
  struct dir up;   /* client -> server */
  struct dir down; /* server -> client */
  int closing;
  int handles_open;
};

static uv_loop_t *loop;
static uv_tcp_t listener;
static uv_signal_t sig_term, sig_int;
static struct sockaddr_storage connect_addr;
static struct sockaddr_storage bind_addr; /* ss_family 0: no --bind */
static uint64_t delay_ns; /* one way: rtt / 2 */
static uint64_t rate_bps; /* bits per second; 0 = unlimited */
static size_t queue_high = RELAY_HIGH, queue_low = RELAY_LOW;
static int small_rcvbuf; /* --queue: the kernel holds little beyond it */
static struct pair pairs = {.next = &pairs, .prev = &pairs};
static int stopping;

static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n, size);
  if (p == NULL) {
    fputs("relay: out of memory\n", stderr);
    abort();
  }
  return p;
}

/* parse_addr fills |out| from "host:port" or "[v6]:port". Returns 0 or a
 * negative UV_E* code. */
static int parse_addr(const char *s, struct sockaddr_storage *out) {
  char host[256];
  const char *colon = strrchr(s, ':');
  if (colon == NULL || colon == s)
    return UV_EINVAL;
  const char *h = s;
  size_t hlen = (size_t)(colon - s);
  if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']') {
    h++;
    hlen -= 2;
  }
  if (hlen >= sizeof(host))
    return UV_EINVAL;
  memcpy(host, h, hlen);
  host[hlen] = '\0';
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end != '\0' || end == colon + 1 || port < 0 || port > 65535)
    return UV_EINVAL;
  memset(out, 0, sizeof(*out));
  if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)out) == 0)
    return 0;
  return uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)out);
}

static void pair_free_chunks(struct dir *d) {
  while (d->head != NULL) {
    struct chunk *c = d->head;
    d->head = c->next;
    free(c);
  }
  d->tail = NULL;
}

static void on_handle_closed(uv_handle_t *h) {
  struct pair *p = h->data;
  if (--p->handles_open > 0)
    return;
  pair_free_chunks(&p->up);
  pair_free_chunks(&p->down);
  free(p);
}

/* pair_close closes both sockets and both timers. Writes still in flight
 * are cancelled by libuv (their callbacks see UV_ECANCELED and free their
 * chunks) before the close callbacks run, so the pair outlives them. */
static void pair_close(struct pair *p) {
  if (p->closing)
    return;
  p->closing = 1;
  p->prev->next = p->next;
  p->next->prev = p->prev;
  /* While open, the tcp handles' and timers' data point at their dir; the
   * close callback wants the pair. */
  p->client.data = p->server.data = p;
  p->up.timer.data = p->down.timer.data = p;
  uv_close((uv_handle_t *)&p->client, on_handle_closed);
  uv_close((uv_handle_t *)&p->server, on_handle_closed);
  uv_close((uv_handle_t *)&p->up.timer, on_handle_closed);
  uv_close((uv_handle_t *)&p->down.timer, on_handle_closed);
}

static void dir_read_start(struct dir *d);
static void dir_arm(struct dir *d);

static void on_written(uv_write_t *req, int status) {
  struct chunk *c = container_of(req, struct chunk, req);
  struct dir *d = req->data;
  d->queued -= c->len;
  free(c);
  if (d->pair->closing)
    return;
  if (status < 0) {
    pair_close(d->pair);
    return;
  }
  if (!d->reading && !d->eof && d->queued < queue_low)
    dir_read_start(d);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  struct dir *d = req->data;
  if (d->pair->closing)
    return;
  d->shut_done = 1;
  struct pair *p = d->pair;
  /* Both halves closed (or the peer is gone): nothing left to relay. */
  if (status < 0 || (p->up.shut_done && p->down.shut_done))
    pair_close(p);
}

/* dir_release writes every chunk that is due, in order, then re-arms the
 * timer for the next one. */
static void dir_release(struct dir *d) {
  uint64_t now = uv_hrtime();
  while (d->head != NULL && d->head->due_ns <= now) {
    struct chunk *c = d->head;
    d->head = c->next;
    if (d->head == NULL)
      d->tail = NULL;
    if (c->len == 0) {
      /* libuv runs the shutdown after the writes queued before it. */
      free(c);
      d->shutdown.data = d;
      if (uv_shutdown(&d->shutdown, (uv_stream_t *)d->to, on_shutdown) != 0) {
        pair_close(d->pair);
        return;
      }
      continue;
    }
    uv_buf_t b = uv_buf_init(c->data, (unsigned int)c->len);
    c->req.data = d;
    if (uv_write(&c->req, (uv_stream_t *)d->to, &b, 1, on_written) != 0) {
      d->queued -= c->len;
      free(c);
      pair_close(d->pair);
      return;
    }
  }
  dir_arm(d);
}

static void on_timer(uv_timer_t *t) {
  dir_release(t->data);
}

static void dir_arm(struct dir *d) {
  if (d->head == NULL) {
    uv_timer_stop(&d->timer);
    return;
  }
  uint64_t now = uv_hrtime();
  uint64_t wait = d->head->due_ns > now ? d->head->due_ns - now : 0;
  /* Timers tick in whole milliseconds: round up so a chunk never leaves
   * early (on_timer re-arms if the loop clock fired us a little soon). */
  uv_timer_start(&d->timer, on_timer, (wait + 999999) / 1000000, 0);
}

/* dir_enqueue stamps |c| with its departure time and appends it. */
static void dir_enqueue(struct dir *d, struct chunk *c) {
  uint64_t now = uv_hrtime();
  uint64_t start = d->tx_done_ns > now ? d->tx_done_ns : now;
  if (rate_bps > 0)
    start += (uint64_t)c->len * 8 * UINT64_C(1000000000) / rate_bps;
  d->tx_done_ns = start;
  c->due_ns = start + delay_ns;
  c->next = NULL;
  if (d->tail != NULL)
    d->tail->next = c;
  else
    d->head = c;
  d->tail = c;
  d->queued += c->len;
  if (d->head == c)
    dir_release(d);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  struct chunk *c = xcalloc(1, sizeof(*c) + RELAY_READ);
  *buf = uv_buf_init(c->data, RELAY_READ);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct dir *d = s->data;
  struct chunk *c =
      buf->base != NULL ? container_of(buf->base, struct chunk, data) : NULL;
  if (nread == 0 || (nread < 0 && nread != UV_EOF)) {
    free(c);
    if (nread < 0)
      pair_close(d->pair);
    return;
  }
  if (nread == UV_EOF) {
    uv_read_stop(s);
    d->reading = 0;
    d->eof = 1;
    if (c == NULL)
      c = xcalloc(1, sizeof(*c));
    c->len = 0;
    dir_enqueue(d, c);
    return;
  }
  /* The cap counts payload, so a short read gives back the rest of its
   * buffer: many small chunks (HTTP/2 frames) must not each hold 16 KB. */
  if ((size_t)nread < RELAY_READ) {
    struct chunk *small = realloc(c, sizeof(*c) + (size_t)nread);
    if (small != NULL)
      c = small;
  }
  c->len = (size_t)nread;
  dir_enqueue(d, c);
  if (d->queued >= queue_high && !d->pair->closing) {
    uv_read_stop(s);
    d->reading = 0;
  }
}

static void dir_read_start(struct dir *d) {
  d->from->data = d;
  if (uv_read_start((uv_stream_t *)d->from, on_alloc, on_read) != 0) {
    pair_close(d->pair);
    return;
  }
  d->reading = 1;
}

static void on_connect(uv_connect_t *req, int status) {
  struct pair *p = req->data;
  if (p->closing)
    return;
  if (status < 0) {
    fprintf(stderr, "relay: connect: %s\n", uv_strerror(status));
    pair_close(p);
    return;
  }
  /* Latency is what we add on purpose; Nagle must not add its own. */
  uv_tcp_nodelay(&p->server, 1);
  dir_read_start(&p->up);
  if (!p->closing)
    dir_read_start(&p->down);
}

/* set_small_rcvbuf: with --queue, what the kernel takes from a sender the
 * relay is not reading stays near one read (the kernel doubles it). */
static void set_small_rcvbuf(uv_handle_t *h) {
  int size = RELAY_READ;
  if (small_rcvbuf)
    uv_recv_buffer_size(h, &size);
}

static void dir_init(struct dir *d, struct pair *p, uv_tcp_t *from,
                     uv_tcp_t *to) {
  d->pair = p;
  d->from = from;
  d->to = to;
  uv_timer_init(loop, &d->timer);
  d->timer.data = d;
}

static void on_accept(uv_stream_t *server, int status) {
  if (status < 0) {
    fprintf(stderr, "relay: accept: %s\n", uv_strerror(status));
    return;
  }
  struct pair *p = xcalloc(1, sizeof(*p));
  uv_tcp_init(loop, &p->client);
  /* The socket exists now, so its buffer is set before it connects. */
  uv_tcp_init_ex(loop, &p->server, connect_addr.ss_family);
  set_small_rcvbuf((uv_handle_t *)&p->server);
  dir_init(&p->up, p, &p->client, &p->server);
  dir_init(&p->down, p, &p->server, &p->client);
  p->handles_open = 4;
  p->next = pairs.next;
  p->prev = &pairs;
  pairs.next->prev = p;
  pairs.next = p;
  if (uv_accept(server, (uv_stream_t *)&p->client) != 0) {
    pair_close(p);
    return;
  }
  uv_tcp_nodelay(&p->client, 1);
  p->connect.data = p;
  int rv = 0;
  if (bind_addr.ss_family != 0)
    rv = uv_tcp_bind(&p->server, (const struct sockaddr *)&bind_addr, 0);
  if (rv == 0)
    rv = uv_tcp_connect(&p->connect, &p->server,
                          (const struct sockaddr *)&connect_addr, on_connect);
  if (rv != 0) {
    fprintf(stderr, "relay: connect: %s\n", uv_strerror(rv));
    pair_close(p);
  }
}

static void on_listener_closed(uv_handle_t *h) {
  (void)h;
}

static void on_signal(uv_signal_t *s, int signum) {
  (void)s;
  (void)signum;
  if (stopping)
    return;
  stopping = 1;
  uv_close((uv_handle_t *)&listener, on_listener_closed);
  uv_close((uv_handle_t *)&sig_term, NULL);
  uv_close((uv_handle_t *)&sig_int, NULL);
  while (pairs.next != &pairs)
    pair_close(pairs.next);
}

static void usage(void) {
  fputs("usage: relay --listen HOST:PORT --connect HOST:PORT [--rtt MS]"
        " [--rate KBIT] [--bind HOST] [--queue BYTES]\n",
        stderr);
  exit(2);
}

/* parse_num reads a non-negative integer option value or exits. */
static uint64_t parse_num(const char *opt, const char *v) {
  char *end;
  errno = 0;
  unsigned long long n = strtoull(v, &end, 10);
  if (errno != 0 || end == v || *end != '\0' || v[0] == '-') {
    fprintf(stderr, "relay: %s: not a number: %s\n", opt, v);
    exit(2);
  }
  return n;
}

int main(int argc, char **argv) {
  const char *listen_s = NULL, *connect_s = NULL, *bind_s = NULL;
  uint64_t rtt_ms = 0, rate_kbit = 0, queue = 0;
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc)
      usage();
    if (strcmp(argv[i], "--listen") == 0)
      listen_s = argv[++i];
    else if (strcmp(argv[i], "--connect") == 0)
      connect_s = argv[++i];
    else if (strcmp(argv[i], "--rtt") == 0)
      rtt_ms = parse_num("--rtt", argv[++i]);
    else if (strcmp(argv[i], "--rate") == 0)
      rate_kbit = parse_num("--rate", argv[++i]);
    else if (strcmp(argv[i], "--bind") == 0)
      bind_s = argv[++i];
    else if (strcmp(argv[i], "--queue") == 0)
      queue = parse_num("--queue", argv[++i]);
    else
      usage();
  }
  if (listen_s == NULL || connect_s == NULL || rtt_ms > 3600000 ||
      (queue != 0 && (queue < 2 * RELAY_READ || queue > (1u << 30))))
    usage();
  if (queue != 0) {
    /* Reading resumes once a whole read fits again. */
    queue_high = (size_t)queue;
    queue_low = queue_high - RELAY_READ;
    small_rcvbuf = 1;
  }
  delay_ns = rtt_ms * 1000000 / 2;
  rate_bps = rate_kbit * 1000;

  struct sockaddr_storage listen_addr;
  if (parse_addr(listen_s, &listen_addr) != 0 ||
      parse_addr(connect_s, &connect_addr) != 0) {
    fputs("relay: addresses are HOST:PORT or [V6]:PORT, numeric\n", stderr);
    return 2;
  }
  if (bind_s != NULL) {
    /* A source address with port 0: the kernel picks the port. */
    char b[300];
    const char *fmt = strchr(bind_s, ':') != NULL ? "[%s]:0" : "%s:0";
    if (snprintf(b, sizeof(b), fmt, bind_s) >= (int)sizeof(b) ||
        parse_addr(b, &bind_addr) != 0 ||
        bind_addr.ss_family != connect_addr.ss_family) {
      fprintf(stderr, "relay: --bind %s: a numeric address of --connect's"
                      " family\n", bind_s);
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  loop = uv_default_loop();
  uv_tcp_init(loop, &listener);
  int rv = uv_tcp_bind(&listener, (const struct sockaddr *)&listen_addr, 0);
  if (rv == 0) /* accepted sockets inherit it */
    set_small_rcvbuf((uv_handle_t *)&listener);
  if (rv == 0)
    rv = uv_listen((uv_stream_t *)&listener, 128, on_accept);
  if (rv != 0) {
    fprintf(stderr, "relay: listen on %s: %s\n", listen_s, uv_strerror(rv));
    return 1;
  }
  /* Print the bound address: with port 0 the caller learns the real one. */
  struct sockaddr_storage bound;
  int blen = sizeof(bound);
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  uv_tcp_getsockname(&listener, (struct sockaddr *)&bound, &blen);
  if (bound.ss_family == AF_INET6) {
    uv_ip6_name((struct sockaddr_in6 *)&bound, host, sizeof(host));
    port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
    fprintf(stderr, "relay: listening on [%s]:%d\n", host, port);
  } else {
    uv_ip4_name((struct sockaddr_in *)&bound, host, sizeof(host));
    port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    fprintf(stderr, "relay: listening on %s:%d\n", host, port);
  }
  uv_signal_init(loop, &sig_term);
  uv_signal_init(loop, &sig_int);
  uv_signal_start(&sig_term, on_signal, SIGTERM);
  uv_signal_start(&sig_int, on_signal, SIGINT);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  return 0;
}
