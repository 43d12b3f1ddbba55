/* test_loops.c: two event loops in one process, each on its own thread
 * with its own context (struct loop, through its own server), sharing one
 * rules snapshot published from a third thread, serve HTTP/1.1 and h2c
 * requests at the same time. Under make asan this checks that nothing
 * leaks or is freed early; under make tsan (ThreadSanitizer) that the
 * loops share no mutable state: any read buffer, free list, counter or
 * lazily built table left at file level races here.
 *
 * The backend is a blocking thread per connection answering every
 * request with the same small page; the clients are blocking sockets on
 * two more threads, one per loop, each running HTTP/1.1 keep-alive
 * requests and h2c streams (nghttp2 as the client).
 *
 * test_workers runs one server with workers = 2: main's loop hands the
 * clients' connections to both workers, the one snapshot reaches both,
 * and the workers' summed counters are exactly the requests sent, each
 * worker having served some. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>

#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "learner/learn.h"
#include "learner/obs.h"
#include "learner/ruleset.h"
#include "proxy/admin.h"
#include "proxy/loop.h"
#include "proxy/server.h"
#include "proxy/worker.h"

#define NLOOPS 2
#define ROUNDS 40 /* per client: one HTTP/1.1 and one h2c request each */
#define PAGE "<html>hello</html>"

/* ---- sockets ------------------------------------------------------------ */

static int listen_any(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  socklen_t len = sizeof(a);
  getsockname(fd, (struct sockaddr *)&a, &len);
  *port = ntohs(a.sin_port);
  return fd;
}

/* free_port: a port nothing listens on right now (for herald to bind). */
static int free_port(void) {
  int port;
  close(listen_any(&port));
  return port;
}

static int dial(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct timeval tv = {.tv_sec = 10};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int send_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
    if (w <= 0)
      return -1;
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

/* ---- the backend: one thread per connection ------------------------------- */

struct backend {
  int fd, port;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_t conns[64];
  int nconns;
};

static void *backend_conn(void *arg) {
  int fd = (int)(intptr_t)arg;
  char buf[8192];
  size_t len = 0;
  for (;;) {
    char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (end != NULL) { /* GET only: a head is a whole request */
      static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                                 "Content-Length: 18\r\n\r\n" PAGE;
      if (send_all(fd, resp, sizeof(resp) - 1) != 0)
        break;
      size_t used = (size_t)(end + 4 - buf);
      memmove(buf, buf + used, len - used);
      len -= used;
      continue;
    }
    ssize_t r = recv(fd, buf + len, sizeof(buf) - len, 0);
    if (r <= 0)
      break;
    len += (size_t)r;
  }
  close(fd);
  return NULL;
}

static void *backend_accept(void *arg) {
  struct backend *be = arg;
  for (;;) {
    int fd = accept(be->fd, NULL, NULL);
    if (fd < 0)
      return NULL; /* shut down */
    pthread_mutex_lock(&be->mu);
    if (be->nconns == (int)ARRAY_SIZE(be->conns))
      abort(); /* herald opened more backend connections than expected */
    pthread_create(&be->conns[be->nconns++], NULL, backend_conn,
                   (void *)(intptr_t)fd);
    pthread_mutex_unlock(&be->mu);
  }
}

static void backend_start(struct backend *be) {
  memset(be, 0, sizeof(*be));
  pthread_mutex_init(&be->mu, NULL);
  be->fd = listen_any(&be->port);
  assert_int_equal(listen(be->fd, 64), 0);
  pthread_create(&be->thread, NULL, backend_accept, be);
}

/* backend_stop: every herald has closed its backend connections. */
static void backend_stop(struct backend *be) {
  shutdown(be->fd, SHUT_RDWR);
  pthread_join(be->thread, NULL);
  close(be->fd);
  for (int i = 0; i < be->nconns; i++)
    pthread_join(be->conns[i], NULL);
  pthread_mutex_destroy(&be->mu);
}

/* ---- the loops ------------------------------------------------------------ */

struct proxy {
  int port;
  struct config *cfg;
  uv_loop_t uv;
  struct server *srv;
  uv_async_t stop;
  uv_sem_t ready;
  pthread_t thread;
  int workers;
  /* Counts read after the loop stopped: all workers', and each's. */
  uint64_t requests;
  uint64_t worker_requests[2];
};

static void on_stop(uv_async_t *h) {
  struct proxy *p = h->data;
  server_shutdown(p->srv);
}

static void *proxy_run(void *arg) {
  struct proxy *p = arg;
  char err[512];
  uv_loop_init(&p->uv);
  p->srv = server_new(&p->uv, p->cfg, 0, NULL, err, sizeof(err));
  if (p->srv == NULL) {
    fprintf(stderr, "server_new: %s\n", err);
    abort();
  }
  uv_async_init(&p->uv, &p->stop, on_stop);
  p->stop.data = p;
  uv_sem_post(&p->ready);
  server_run(p->srv);
  struct worker_stats total, w;
  admin_worker_totals(p->srv, &total);
  p->requests = total.stats.requests;
  for (int i = 0; i < server_nworkers(p->srv) && i < 2; i++) {
    server_worker_stats(p->srv, i, &w);
    p->worker_requests[i] = w.stats.requests;
  }
  server_free(p->srv); /* closes the stop handle too */
  uv_loop_close(&p->uv);
  return NULL;
}

static void proxy_start(struct proxy *p, int backend_port, int workers) {
  p->port = free_port();
  p->cfg = config_new();
  p->cfg->workers = workers;
  struct config_listener *l = &p->cfg->listeners[p->cfg->nlisteners++];
  snprintf(l->name, sizeof(l->name), "main");
  snprintf(l->host, sizeof(l->host), "127.0.0.1");
  l->port = p->port;
  struct config_backend *b = &p->cfg->backends[p->cfg->nbackends++];
  snprintf(b->name, sizeof(b->name), "app");
  snprintf(b->servers[0].host, sizeof(b->servers[0].host), "127.0.0.1");
  b->servers[0].port = backend_port;
  b->nservers = 1;
  p->cfg->deliver_hints_http1 = 1;
  /* The 103 is what is counted: its h2c client would take push (both). */
  p->cfg->deliver_mode = CONFIG_DELIVER_HINTS;
  p->cfg->deliver_holdout = 0;
  p->cfg->deliver_verify = 0;
  uv_sem_init(&p->ready, 0);
  pthread_create(&p->thread, NULL, proxy_run, p);
  uv_sem_wait(&p->ready);
  uv_sem_destroy(&p->ready);
}

static void proxy_stop(struct proxy *p) {
  uv_async_send(&p->stop);
  pthread_join(p->thread, NULL);
}

/* The shared snapshot: a.example's home page preloads /s.css. */
static struct ruleset *build_rules(void) {
  struct ruleset_builder *b = ruleset_builder_new();
  struct learn_rule r;
  memset(&r, 0, sizeof(r));
  snprintf(r.key, sizeof(r.key), "http://a.example/s.css");
  r.channels = LEARN_HINT;
  r.state = LEARN_LEARNED;
  r.dest = OBS_DEST_STYLE;
  r.bytes = 1000;
  for (int mobile = 0; mobile < 2; mobile++)
    ruleset_builder_add(b, "http://a.example/", mobile, &r, 1);
  return ruleset_build(b);
}

/* ---- the clients -------------------------------------------------------- */

struct result {
  int status, hints;
  size_t body;
};

/* h1_get sends one navigation on |fd| and reads its 103s and response. */
static int h1_get(int fd, struct result *res) {
  static const char req[] = "GET / HTTP/1.1\r\nHost: a.example\r\n"
                            "Accept: text/html\r\nUser-Agent: test\r\n\r\n";
  memset(res, 0, sizeof(*res));
  if (send_all(fd, req, sizeof(req) - 1) != 0)
    return -1;
  char buf[4096];
  size_t len = 0;
  for (;;) {
    char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (end != NULL) {
      size_t head = (size_t)(end + 4 - buf);
      int status = atoi(buf + 9);
      if (status == 103) {
        res->hints += memmem(buf, head, "</s.css>", 8) != NULL;
        memmove(buf, buf + head, len - head);
        len -= head;
        continue;
      }
      res->status = status;
      char *cl = memmem(buf, head, "Content-Length: ", 16);
      size_t want = cl ? (size_t)atoi(cl + 16) : 0;
      while (len - head < want) {
        ssize_t r = recv(fd, buf + len, sizeof(buf) - len, 0);
        if (r <= 0)
          return -1;
        len += (size_t)r;
      }
      res->body = len - head;
      return memcmp(buf + head, PAGE, res->body) == 0 ? 0 : -1;
    }
    ssize_t r = recv(fd, buf + len, sizeof(buf) - len, 0);
    if (r <= 0)
      return -1;
    len += (size_t)r;
  }
}

struct h2c {
  int fd;
  nghttp2_session *ng;
  struct result res;
  int closed;
};

static int h2_header(nghttp2_session *ng, const nghttp2_frame *f,
                     const uint8_t *name, size_t nlen, const uint8_t *value,
                     size_t vlen, uint8_t flags, void *ud) {
  struct h2c *h = ud;
  (void)ng, (void)f, (void)flags;
  if (nlen == 7 && memcmp(name, ":status", 7) == 0)
    h->res.status = atoi((const char *)value);
  else if (nlen == 4 && memcmp(name, "link", 4) == 0 &&
           h->res.status == 103 && memmem(value, vlen, "</s.css>", 8))
    h->res.hints++;
  return 0;
}

static int h2_data(nghttp2_session *ng, uint8_t flags, int32_t id,
                   const uint8_t *data, size_t len, void *ud) {
  struct h2c *h = ud;
  (void)ng, (void)flags, (void)id, (void)data;
  h->res.body += len;
  return 0;
}

static int h2_close(nghttp2_session *ng, int32_t id, uint32_t code,
                    void *ud) {
  struct h2c *h = ud;
  (void)ng, (void)id, (void)code;
  h->closed = 1;
  return 0;
}

static void h2c_open(struct h2c *h, int fd) {
  memset(h, 0, sizeof(*h));
  h->fd = fd;
  nghttp2_session_callbacks *cb;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_header_callback(cb, h2_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, h2_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, h2_close);
  nghttp2_session_client_new(&h->ng, cb, h);
  nghttp2_session_callbacks_del(cb);
  nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, NULL, 0);
}

#define NV(n, v)                                                         \
  {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1,         \
   NGHTTP2_NV_FLAG_NONE}

/* h2_get runs one navigation stream on the session and waits for it. */
static int h2_get(struct h2c *h, struct result *res) {
  nghttp2_nv nv[] = {NV(":method", "GET"), NV(":scheme", "http"),
                     NV(":authority", "a.example"), NV(":path", "/"),
                     NV("accept", "text/html")};
  memset(&h->res, 0, sizeof(h->res));
  h->closed = 0;
  if (nghttp2_submit_request(h->ng, NULL, nv, ARRAY_SIZE(nv), NULL, NULL) < 0)
    return -1;
  while (!h->closed) {
    const uint8_t *out;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(h->ng, &out)) > 0)
      if (send_all(h->fd, out, (size_t)n) != 0)
        return -1;
    if (h->closed)
      break;
    uint8_t buf[4096];
    ssize_t r = recv(h->fd, buf, sizeof(buf), 0);
    if (r <= 0 || nghttp2_session_mem_recv(h->ng, buf, (size_t)r) < 0)
      return -1;
  }
  *res = h->res;
  return 0;
}

struct client {
  int port;
  pthread_t thread;
  int ok, hinted, failed;
};

static void count(struct client *cl, int rv, const struct result *r) {
  if (rv == 0 && r->status == 200 && r->body == sizeof(PAGE) - 1) {
    cl->ok++;
    cl->hinted += r->hints > 0;
  } else {
    cl->failed++;
  }
}

static void *client_run(void *arg) {
  struct client *cl = arg;
  int h1 = dial(cl->port), h2 = dial(cl->port);
  struct h2c h;
  struct result r;
  if (h1 < 0 || h2 < 0) {
    cl->failed = 1;
    goto out;
  }
  h2c_open(&h, h2);
  for (int i = 0; i < ROUNDS; i++) {
    int rv = h1_get(h1, &r);
    count(cl, rv, &r);
    rv = h2_get(&h, &r);
    count(cl, rv, &r);
  }
  nghttp2_session_del(h.ng);
out:
  if (h1 >= 0)
    close(h1);
  if (h2 >= 0)
    close(h2);
  return NULL;
}

/* wait_for_rules: the snapshot published from this thread reaches the
 * loops (each swaps it in on its own turn): |in_a_row| navigations on
 * fresh connections in a row get its 103. |*probes| counts the requests
 * sent. */
static int wait_for_rules(struct proxy *p, int in_a_row, int *probes) {
  int hinted = 0;
  for (int i = 0; i < 400; i++) {
    int fd = dial(p->port);
    struct result r;
    int rv = fd >= 0 ? h1_get(fd, &r) : -1;
    if (fd >= 0)
      close(fd);
    *probes += fd >= 0;
    hinted = rv == 0 && r.hints > 0 ? hinted + 1 : 0;
    if (hinted == in_a_row)
      return 0;
    usleep(10000);
  }
  return -1;
}

static void test_two_loops(void **state) {
  (void)state;
  struct backend be;
  static struct proxy px[NLOOPS];
  struct client cl[NLOOPS];
  backend_start(&be);
  for (int i = 0; i < NLOOPS; i++)
    proxy_start(&px[i], be.port, 1);

  /* One snapshot, shared: each loop takes a reference. */
  struct ruleset *rs = build_rules();
  for (int i = 0; i < NLOOPS; i++) {
    ruleset_ref(rs);
    server_publish_rules(px[i].srv, rs);
  }
  ruleset_unref(rs);
  int probes = 0;
  for (int i = 0; i < NLOOPS; i++)
    assert_int_equal(wait_for_rules(&px[i], 1, &probes), 0);

  for (int i = 0; i < NLOOPS; i++) {
    memset(&cl[i], 0, sizeof(cl[i]));
    cl[i].port = px[i].port;
    pthread_create(&cl[i].thread, NULL, client_run, &cl[i]);
  }
  for (int i = 0; i < NLOOPS; i++)
    pthread_join(cl[i].thread, NULL);
  for (int i = 0; i < NLOOPS; i++)
    proxy_stop(&px[i]);
  backend_stop(&be);

  for (int i = 0; i < NLOOPS; i++) {
    assert_int_equal(cl[i].failed, 0);
    assert_int_equal(cl[i].ok, 2 * ROUNDS);
    /* Every navigation got the shared snapshot's 103. */
    assert_int_equal(cl[i].hinted, 2 * ROUNDS);
    /* Each loop counted its own requests, and only those. */
    assert_true(px[i].requests >= 2 * ROUNDS);
    assert_true(px[i].requests <= 2 * ROUNDS + 200);
  }
}

#define NCLIENTS 4

static void test_workers(void **state) {
  (void)state;
  struct backend be;
  static struct proxy px;
  struct client cl[NCLIENTS];
  backend_start(&be);
  proxy_start(&px, be.port, 2);

  struct ruleset *rs = build_rules();
  server_publish_rules(px.srv, rs);
  int probes = 0;
  assert_int_equal(wait_for_rules(&px, 8, &probes), 0);

  /* Eight long-lived connections (an HTTP/1.1 and an h2c one per
   * client), open at once. */
  for (int i = 0; i < NCLIENTS; i++) {
    memset(&cl[i], 0, sizeof(cl[i]));
    cl[i].port = px.port;
    pthread_create(&cl[i].thread, NULL, client_run, &cl[i]);
  }
  for (int i = 0; i < NCLIENTS; i++)
    pthread_join(cl[i].thread, NULL);
  proxy_stop(&px);
  backend_stop(&be);

  uint64_t sent = (uint64_t)probes;
  for (int i = 0; i < NCLIENTS; i++) {
    assert_int_equal(cl[i].failed, 0);
    assert_int_equal(cl[i].ok, 2 * ROUNDS);
    assert_int_equal(cl[i].hinted, 2 * ROUNDS);
    sent += (uint64_t)cl[i].ok;
  }
  /* Nothing lost or counted twice, and both workers served. */
  assert_int_equal(px.requests, sent);
  assert_int_equal(px.worker_requests[0] + px.worker_requests[1], sent);
  assert_true(px.worker_requests[0] >= ROUNDS);
  assert_true(px.worker_requests[1] >= ROUNDS);
}

int main(void) {
  log_level = LOG_LEVEL_WARN;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_two_loops),
      cmocka_unit_test(test_workers),
  };
  return cmocka_run_group_tests_name("loops", tests, NULL, NULL);
}
