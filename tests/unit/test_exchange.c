/* test_exchange.c: the HTTP/1.1 and HTTP/2 sessions and their exchange,
 * driven the way nghttp2 tests its own: bytes in, bytes out.
 *
 * The sessions run unchanged on the fuzz harnesses' world
 * (tests/fuzz/fake.h): a fake client connection whose output lands in a
 * buffer here, and a fake pool whose backend answers with canned
 * responses over socketpairs. HTTP/2 output is read by an nghttp2 client
 * session, as a browser would. Failures are injected where herald meets
 * the outside: a connect that fails, a pool with no server, a backend
 * gone before the request is written, one that never answers (timeout),
 * one that answers garbage, one that dies after the head. Each case
 * checks what the client sees (502, 504, a cut connection, RST_STREAM)
 * and that no upstream exchange or backend connection is left once the
 * connection is freed (and, under make asan, no leak). Out of memory
 * aborts by design (xmalloc), so there is no allocation failure to
 * inject. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nghttp2/nghttp2.h>

#include "base/buf.h"
#include "base/util.h"
#include "config/config.h"
#include "proxy/loop.h"
#include "proxy/session.h"
#include "proxy/upstream.h"
#include "tests/fuzz/fake.h"

/* ---- the client's view ------------------------------------------------- */

struct out {
  char *p;
  size_t len, cap;
};

static void out_sink(void *ud, const uint8_t *p, size_t n) {
  struct out *o = ud;
  if (o->len + n + 1 > o->cap) {
    o->cap = (o->len + n + 1) * 2;
    o->p = xrealloc(o->p, o->cap);
  }
  memcpy(o->p + o->len, p, n);
  o->len += n;
  o->p[o->len] = '\0';
}

static struct world_opts opts(enum fake_backend_kind kind, int deliver) {
  struct world_opts o;
  memset(&o, 0, sizeof(o));
  o.kind = kind;
  o.deliver = deliver;
  return o;
}

static void settle(struct conn *c, const struct world_opts *o) {
  for (int i = 0; i < 64 && world_turn(c, o); i++)
    ;
}

/* The connection of the test running, freed by teardown if an assertion
 * stopped the test first (so one failure does not spill into the next). */
static struct conn *live;
static nghttp2_session *live_ng;

static void release(void) {
  if (live != NULL)
    fake_conn_free(live);
  live = NULL;
  nghttp2_session_del(live_ng);
  live_ng = NULL;
  world_settle();
  fake_pool_close_idle(world_pool());
  world_settle();
  world_apply(&(struct world_opts){0});
  fake_pool_set_peer_closed(world_pool(), 0);
  fake_pool_fail_nth_connect(world_pool(), 0);
}

static int teardown(void **state) {
  (void)state;
  release();
  return 0;
}

/* finish frees the connection and checks that nothing outlives it. */
static void finish(struct conn *c) {
  live = NULL;
  fake_conn_free(c);
  world_settle();
  assert_int_equal(fake_backend_busy(world_pool()), 0);
  assert_int_equal(world_loop()->upstream_stats.active, 0);
  assert_int_equal(world_loop()->stats.h2_streams_active, 0);
  release();
}

static int setup(void **state) {
  (void)state;
  signal(SIGPIPE, SIG_IGN);
  world_init();
  world_config()->deliver_verify = 0; /* name everything, every time */
  return 0;
}

/* backend_answer: the one backend connection, which stalled, answers
 * |bytes| (after reading the request). Returns it. */
static struct bconn *backend_answer(const char *bytes) {
  struct bconn *b = fake_pool_busy_conn(world_pool());
  assert_non_null(b);
  fake_bconn_drain(b);
  fake_bconn_deliver(b, (const uint8_t *)bytes, strlen(bytes));
  return b;
}

/* A head and 3 of its 10 body bytes. */
static const char cut_short[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel";

/* ---- HTTP/1.1 ---------------------------------------------------------- */

/* h1 runs one HTTP/1.1 connection sending |req|, with the backend
 * answering |kind|; |timeout| fires the backend deadlines at the end. */
static struct conn *h1(struct out *out, const char *req,
                       const struct world_opts *o, int timeout) {
  world_apply(o);
  struct conn *c = fake_conn_new(world_loop(), 0, &h1_session_ops,
                                 h1_session_new, out_sink, out);
  live = c;
  fake_conn_feed(c, (const uint8_t *)req, strlen(req));
  settle(c, o);
  if (timeout) {
    fake_backend_timeout(world_pool());
    settle(c, o);
  }
  return c;
}

#define GET_A "GET / HTTP/1.1\r\nHost: a.example\r\n" \
              "Sec-Fetch-Mode: navigate\r\nSec-Fetch-Dest: document\r\n\r\n"
#define GET_X "GET /x HTTP/1.1\r\nHost: b.example\r\n\r\n"

static void test_h1_ok(void **state) {
  (void)state;
  struct out out = {0};
  struct world_opts o = opts(FB_OK, CONFIG_DELIVER_HINTS);
  uint64_t before = world_loop()->stats.h1_responses[2];
  struct conn *c = h1(&out, GET_X GET_X, &o, 0);
  const char *second = strstr(out.p, "hello");
  assert_non_null(second);
  assert_non_null(strstr(second + 5, "HTTP/1.1 200 OK\r\n"));
  assert_non_null(strstr(out.p, "\r\nVia: 1.1 herald\r\n"));
  assert_non_null(strstr(out.p, "\r\nContent-Length: 5\r\n"));
  assert_int_equal(world_loop()->stats.h1_responses[2] - before, 2);
  assert_false(fake_conn_closed(c));
  finish(c);
  free(out.p);
}

static void test_h1_early_hints(void **state) {
  (void)state;
  struct out out = {0};
  struct world_opts o = opts(FB_OK, CONFIG_DELIVER_HINTS);
  struct conn *c = h1(&out, GET_A, &o, 0);
  static const char want[] = "HTTP/1.1 103 Early Hints\r\n"
                             "Link: </s.css>; rel=preload; as=style\r\n";
  assert_true(strncmp(out.p, want, strlen(want)) == 0);
  assert_non_null(strstr(out.p, "\r\n\r\nHTTP/1.1 200 OK\r\n"));
  finish(c);
  free(out.p);
}

static void test_h1_chunked_trailer(void **state) {
  (void)state;
  struct out out = {0};
  struct world_opts o = opts(FB_CHUNKED, CONFIG_DELIVER_HINTS);
  struct conn *c = h1(&out, GET_X, &o, 0);
  assert_non_null(strstr(out.p, "Transfer-Encoding: chunked\r\n"));
  assert_non_null(strstr(out.p, "5\r\nhello\r\n3\r\nabc\r\n0\r\n"
                                "X-Trailer: t\r\n\r\n"));
  finish(c);
  free(out.p);
}

/* h1_error: the backend failure |setup| gives the client |want|. */
static void h1_error(enum fake_backend_kind kind, int connect_status,
                     int get_fail, int peer_closed, int timeout,
                     const char *want) {
  struct out out = {0};
  struct world_opts o = opts(kind, CONFIG_DELIVER_HINTS);
  o.connect_status = connect_status;
  o.get_fail = get_fail;
  fake_pool_set_peer_closed(world_pool(), peer_closed);
  uint64_t errors = world_loop()->stats.backend_errors;
  struct conn *c = h1(&out, GET_X, &o, timeout);
  assert_non_null(out.p);
  assert_true(strncmp(out.p, want, strlen(want)) == 0);
  assert_int_equal(world_loop()->stats.backend_errors - errors, 1);
  finish(c);
  free(out.p);
}

static void test_h1_connect_fails(void **state) {
  (void)state;
  h1_error(FB_OK, UV_ECONNREFUSED, 0, 0, 0, "HTTP/1.1 502 Bad Gateway\r\n");
}

static void test_h1_no_server(void **state) {
  (void)state;
  h1_error(FB_OK, 0, 1, 0, 0, "HTTP/1.1 502 Bad Gateway\r\n");
}

static void test_h1_write_fails(void **state) {
  (void)state;
  h1_error(FB_OK, 0, 0, 1, 0, "HTTP/1.1 502 Bad Gateway\r\n");
}

static void test_h1_backend_timeout(void **state) {
  (void)state;
  uint64_t t = world_loop()->stats.backend_timeouts;
  h1_error(FB_STALL, 0, 0, 0, 1, "HTTP/1.1 504 Gateway Timeout\r\n");
  assert_int_equal(world_loop()->stats.backend_timeouts - t, 1);
}

static void test_h1_malformed_response(void **state) {
  (void)state;
  h1_error(FB_MALFORMED, 0, 0, 0, 0, "HTTP/1.1 502 Bad Gateway\r\n");
}

/* After the head, a dying backend can only be signalled by closing: the
 * client sees the head, part of the body, and the end of the
 * connection, never a clean response. */
static void test_h1_backend_dies_mid_body(void **state) {
  (void)state;
  struct out out = {0};
  struct world_opts o = opts(FB_STALL, CONFIG_DELIVER_HINTS);
  world_apply(&o);
  struct conn *c = fake_conn_new(world_loop(), 0, &h1_session_ops,
                                 h1_session_new, out_sink, &out);
  live = c;
  fake_conn_feed(c, (const uint8_t *)GET_X, strlen(GET_X));
  settle(c, &o);
  struct bconn *b = backend_answer(cut_short);
  settle(c, &o); /* the client reads the head and the first bytes */
  fake_bconn_eof(b);
  settle(c, &o);
  assert_true(fake_conn_closed(c));
  assert_non_null(strstr(out.p, "HTTP/1.1 200 OK\r\n"));
  assert_non_null(strstr(out.p, "\r\n\r\nhel"));
  assert_null(strstr(out.p, "502"));
  finish(c);
  free(out.p);
}

/* The client goes away while the backend thinks: the exchange ends with
 * the connection (finish checks nothing is left). */
static void test_h1_client_gone(void **state) {
  (void)state;
  struct out out = {0};
  struct world_opts o = opts(FB_STALL, CONFIG_DELIVER_HINTS);
  struct conn *c = h1(&out, GET_X, &o, 0);
  assert_int_equal(fake_backend_busy(world_pool()), 1);
  finish(c);
  free(out.p);
}

/* The client closes its side halfway through its request body: the
 * request can never complete, so its backend exchange ends at once. */
static void test_h1_eof_mid_body(void **state) {
  (void)state;
  struct out out = {0};
  struct world_opts o = opts(FB_STALL, CONFIG_DELIVER_HINTS);
  struct conn *c = h1(&out, "POST /x HTTP/1.1\r\nHost: b.example\r\n"
                            "Content-Length: 100\r\n\r\n0123456789",
                      &o, 0);
  assert_int_equal(fake_backend_busy(world_pool()), 1);
  fake_conn_eof(c);
  settle(c, &o);
  assert_true(fake_conn_closed(c));
  assert_int_equal(fake_backend_busy(world_pool()), 0);
  assert_int_equal(world_loop()->upstream_stats.active, 0);
  finish(c);
  free(out.p);
}

/* ---- HTTP/2 ------------------------------------------------------------ */

struct h2c {
  nghttp2_session *ng;
  struct conn *c;
  int status[64];      /* final :status by stream id */
  int links[64];       /* link fields in 103s by stream id */
  int interim[64];     /* 103s by stream id */
  size_t body[64];
  uint32_t rst[64];    /* RST_STREAM error code + 1, by stream id */
  int promises;
  int cur_status;
};

static int c_header(nghttp2_session *ng, const nghttp2_frame *f,
                    const uint8_t *name, size_t namelen, const uint8_t *value,
                    size_t valuelen, uint8_t flags, void *ud) {
  (void)ng;
  (void)flags;
  struct h2c *h = ud;
  int32_t id = f->hd.stream_id;
  if (f->hd.type != NGHTTP2_HEADERS || id >= 64)
    return 0;
  if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
    int st = atoi((const char *)value);
    (void)valuelen;
    if (st == 103)
      h->interim[id]++;
    else
      h->status[id] = st;
  } else if (namelen == 4 && memcmp(name, "link", 4) == 0) {
    h->links[id]++;
  }
  return 0;
}

static int c_frame(nghttp2_session *ng, const nghttp2_frame *f, void *ud) {
  (void)ng;
  struct h2c *h = ud;
  if (f->hd.type == NGHTTP2_PUSH_PROMISE)
    h->promises++;
  if (f->hd.type == NGHTTP2_RST_STREAM && f->hd.stream_id < 64)
    h->rst[f->hd.stream_id] = f->rst_stream.error_code + 1;
  return 0;
}

static int c_data(nghttp2_session *ng, uint8_t flags, int32_t id,
                  const uint8_t *data, size_t len, void *ud) {
  (void)ng;
  (void)flags;
  (void)data;
  struct h2c *h = ud;
  if (id < 64)
    h->body[id] += len;
  return 0;
}

static void c_sink(void *ud, const uint8_t *p, size_t n) {
  struct h2c *h = ud;
  assert_true(nghttp2_session_mem_recv(h->ng, p, n) == (ssize_t)n);
}

/* c_flush sends what the client session has to say. */
static void c_flush(struct h2c *h) {
  const uint8_t *p;
  ssize_t n;
  while ((n = nghttp2_session_mem_send(h->ng, &p)) > 0)
    fake_conn_feed(h->c, p, (size_t)n);
}

/* h2_open connects a client whose SETTINGS are |push|, |streams| (0: no
 * limit sent) and |window| (-1: the default). */
static void h2_open(struct h2c *h, const struct world_opts *o, int push,
                    uint32_t streams, int32_t window) {
  memset(h, 0, sizeof(*h));
  nghttp2_session_callbacks *cb;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_header_callback(cb, c_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, c_frame);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, c_data);
  assert_int_equal(nghttp2_session_client_new(&h->ng, cb, h), 0);
  live_ng = h->ng;
  nghttp2_session_callbacks_del(cb);
  nghttp2_settings_entry iv[3];
  size_t n = 0;
  iv[n++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_ENABLE_PUSH,
                                     (uint32_t)push};
  if (streams > 0)
    iv[n++] = (nghttp2_settings_entry){
        NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, streams};
  if (window >= 0)
    iv[n++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE,
                                       (uint32_t)window};
  nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, iv, n);
  world_apply(o);
  h->c = fake_conn_new(world_loop(), 0, &h2_session_ops, h2_session_new,
                       c_sink, h);
  live = h->c;
  c_flush(h);
  settle(h->c, o);
  c_flush(h);
}

static int32_t h2_get(struct h2c *h, const char *authority, const char *path,
                      int navigate) {
  nghttp2_nv nv[] = {
      {(uint8_t *)":method", (uint8_t *)"GET", 7, 3, 0},
      {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
      {(uint8_t *)":authority", (uint8_t *)authority, 10, strlen(authority),
       0},
      {(uint8_t *)":path", (uint8_t *)path, 5, strlen(path), 0},
      {(uint8_t *)"sec-fetch-mode", (uint8_t *)"navigate", 14, 8, 0},
      {(uint8_t *)"sec-fetch-dest", (uint8_t *)"document", 14, 8, 0},
  };
  int32_t id = nghttp2_submit_request(h->ng, NULL, nv, navigate ? 6 : 4,
                                      NULL, NULL);
  c_flush(h);
  return id;
}

/* h2_run turns the world until it is quiet, the client answering. */
static void h2_run(struct h2c *h, const struct world_opts *o) {
  for (int i = 0; i < 64; i++) {
    int any = world_turn(h->c, o);
    c_flush(h);
    if (!any)
      break;
  }
}

static void h2_close(struct h2c *h) {
  (void)h;
  finish(live); /* and the client session */
}

static void test_h2_ok(void **state) {
  (void)state;
  struct h2c h;
  struct world_opts o = opts(FB_OK, CONFIG_DELIVER_HINTS);
  h2_open(&h, &o, 0, 0, -1);
  int32_t id = h2_get(&h, "b.example", "/x", 0);
  h2_run(&h, &o);
  assert_int_equal(h.status[id], 200);
  assert_int_equal(h.body[id], 5);
  assert_int_equal(h.interim[id], 0);
  h2_close(&h);
}

/* nav: one navigation to a.example/ in |deliver| mode by a client that
 * takes push or not, with a stream limit (0: none sent) and an initial
 * window (-1: the default); it gets |promises| pushes, |interim| 103s
 * naming |links| resources, and the page. The page's rules: s.css and
 * app.js (push and hint), f.woff2 and i.png (hint), api/d.json (push
 * only, as=fetch). */
static void nav(struct h2c *h, int deliver, int push, uint32_t streams,
                int32_t window, int promises, int interim, int links) {
  struct world_opts o = opts(FB_OK, deliver);
  h2_open(h, &o, push, streams, window);
  int32_t id = h2_get(h, "a.example", "/", 1);
  h2_run(h, &o);
  assert_int_equal(h->promises, promises);
  assert_int_equal(h->interim[id], interim);
  assert_int_equal(h->links[id], links);
  assert_int_equal(h->status[id], 200);
}

static void test_h2_early_hints(void **state) {
  (void)state;
  struct h2c h;
  nav(&h, CONFIG_DELIVER_BOTH, 0, 0, -1, 0, 1, 4); /* no push: the 103 */
  h2_close(&h);
}

/* A client that takes push: the 3 pushes, and the page's hints that the
 * learner would not push (f.woff2, i.png) in a 103. */
static void test_h2_push(void **state) {
  (void)state;
  struct h2c h;
  nav(&h, CONFIG_DELIVER_BOTH, 1, 0, -1, 3, 1, 2);
  assert_int_equal(h.status[2], 200); /* a pushed response, complete */
  assert_int_equal(h.body[2], 5);
  h2_close(&h);
}

/* A stream limit of 1: one push, and the rest that a 103 can name
 * (app.js; d.json is push only) goes out in the 103 with the hint-only
 * f.woff2 and i.png. */
static void test_h2_push_cut_by_streams(void **state) {
  (void)state;
  struct h2c h;
  uint64_t hints = world_loop()->stats.hints_sent;
  nav(&h, CONFIG_DELIVER_BOTH, 1, 1, -1, 1, 1, 3);
  assert_int_equal(world_loop()->stats.hints_sent - hints, 1);
  h2_close(&h);
}

/* A zero initial window: nothing could be pushed; the 103 names s.css,
 * app.js and the hint-only f.woff2 and i.png. */
static void test_h2_push_cut_by_window(void **state) {
  (void)state;
  struct h2c h;
  nav(&h, CONFIG_DELIVER_BOTH, 1, 0, 0, 0, 1, 4);
  h2_close(&h);
}

/* A page whose rules are all hints (none the learner would push): a
 * client that takes push gets the 103, not nothing. */
static void test_h2_push_client_hint_only_page(void **state) {
  (void)state;
  struct h2c h;
  struct world_opts o = opts(FB_OK, CONFIG_DELIVER_BOTH);
  h2_open(&h, &o, 1, 0, -1);
  int32_t id = h2_get(&h, "a.example", "/hintonly", 1);
  h2_run(&h, &o);
  assert_int_equal(h.promises, 0);
  assert_int_equal(h.interim[id], 1);
  assert_int_equal(h.links[id], 2);
  assert_int_equal(h.status[id], 200);
  h2_close(&h);
}

/* Push-only mode sends no 103, cut or not. */
static void test_h2_push_only_cut(void **state) {
  (void)state;
  struct h2c h;
  nav(&h, CONFIG_DELIVER_PUSH, 1, 0, 0, 0, 0, 0);
  h2_close(&h);
}

/* A push whose backend connection fails is reset (RST_STREAM CANCEL),
 * never delivered as a pushed 502: the client asks for it itself. The
 * page and the other pushes are served. Connections: the page's first,
 * then s.css, app.js, d.json. */
static void test_h2_push_connect_fails(void **state) {
  (void)state;
  struct h2c h;
  uint64_t refused = world_loop()->stats.pushes_refused;
  fake_pool_fail_nth_connect(world_pool(), 2);
  nav(&h, CONFIG_DELIVER_BOTH, 1, 0, -1, 3, 1, 2);
  assert_int_equal(h.rst[2], NGHTTP2_CANCEL + 1);
  assert_int_equal(h.status[2], 0);
  assert_int_equal(h.status[4], 200);
  assert_int_equal(h.status[6], 200);
  assert_int_equal(world_loop()->stats.pushes_refused - refused, 1);
  h2_close(&h);
}

/* The client resets a push still at the backend: its backend exchange
 * ends at once, and it counts as cancelled. */
static void test_h2_client_resets_push(void **state) {
  (void)state;
  struct h2c h;
  struct world_opts o = opts(FB_STALL, CONFIG_DELIVER_BOTH);
  uint64_t cancelled = world_loop()->stats.pushes_cancelled;
  h2_open(&h, &o, 1, 0, -1);
  h2_get(&h, "a.example", "/", 1);
  h2_run(&h, &o);
  assert_int_equal(h.promises, 3);
  int busy = fake_backend_busy(world_pool());
  nghttp2_submit_rst_stream(h.ng, NGHTTP2_FLAG_NONE, 2, NGHTTP2_CANCEL);
  c_flush(&h);
  h2_run(&h, &o);
  assert_int_equal(fake_backend_busy(world_pool()), busy - 1);
  assert_int_equal(world_loop()->stats.pushes_cancelled - cancelled, 1);
  h2_close(&h);
}

static void h2_error(enum fake_backend_kind kind, int connect_status,
                     int get_fail, int peer_closed, int timeout, int want) {
  struct h2c h;
  struct world_opts o = opts(kind, CONFIG_DELIVER_HINTS);
  o.connect_status = connect_status;
  o.get_fail = get_fail;
  fake_pool_set_peer_closed(world_pool(), peer_closed);
  h2_open(&h, &o, 0, 0, -1);
  int32_t id = h2_get(&h, "b.example", "/x", 0);
  h2_run(&h, &o);
  if (timeout) {
    fake_backend_timeout(world_pool());
    h2_run(&h, &o);
  }
  assert_int_equal(h.status[id], want);
  assert_int_equal(h.rst[id], 0);
  h2_close(&h);
}

static void test_h2_connect_fails(void **state) {
  (void)state;
  h2_error(FB_OK, UV_ECONNREFUSED, 0, 0, 0, 502);
}

static void test_h2_no_server(void **state) {
  (void)state;
  h2_error(FB_OK, 0, 1, 0, 0, 502);
}

static void test_h2_write_fails(void **state) {
  (void)state;
  h2_error(FB_OK, 0, 0, 1, 0, 502);
}

static void test_h2_backend_timeout(void **state) {
  (void)state;
  h2_error(FB_STALL, 0, 0, 0, 1, 504);
}

/* h2_scripted: a request whose backend answers |bytes|; returns its
 * stream id. */
static int32_t h2_scripted(struct h2c *h, const char *bytes) {
  struct world_opts o = opts(FB_STALL, CONFIG_DELIVER_HINTS);
  h2_open(h, &o, 0, 0, -1);
  int32_t id = h2_get(h, "b.example", "/x", 0);
  h2_run(h, &o);
  backend_answer(bytes);
  h2_run(h, &o);
  return id;
}

static void test_h2_transfer_coding(void **state) {
  (void)state;
  /* HTTP/2 cannot carry a transfer coding: 502, never the coded bytes. */
  struct h2c h;
  int32_t id = h2_scripted(&h, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, "
                               "chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  assert_int_equal(h.status[id], 502);
  h2_close(&h);
}

/* After the head, a dying backend resets the stream: the client never
 * takes a cut body for a whole one. */
static void test_h2_backend_dies_mid_body(void **state) {
  (void)state;
  struct h2c h;
  struct world_opts o = opts(FB_STALL, CONFIG_DELIVER_HINTS);
  /* the client reads the head and the first bytes */
  int32_t id = h2_scripted(&h, cut_short);
  fake_bconn_eof(fake_pool_busy_conn(world_pool()));
  h2_run(&h, &o);
  assert_int_equal(h.status[id], 200);
  assert_int_equal(h.rst[id], NGHTTP2_INTERNAL_ERROR + 1);
  h2_close(&h);
}

/* The client goes away with a push and the page in flight: everything is
 * released. */
static void test_h2_client_gone(void **state) {
  (void)state;
  struct h2c h;
  struct world_opts o = opts(FB_STALL, CONFIG_DELIVER_BOTH);
  h2_open(&h, &o, 1, 0, -1);
  h2_get(&h, "a.example", "/", 1);
  h2_run(&h, &o);
  assert_int_equal(h.promises, 3);
  assert_true(fake_backend_busy(world_pool()) >= 4);
  h2_close(&h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_h1_ok, teardown),
      cmocka_unit_test_teardown(test_h1_early_hints, teardown),
      cmocka_unit_test_teardown(test_h1_chunked_trailer, teardown),
      cmocka_unit_test_teardown(test_h1_connect_fails, teardown),
      cmocka_unit_test_teardown(test_h1_no_server, teardown),
      cmocka_unit_test_teardown(test_h1_write_fails, teardown),
      cmocka_unit_test_teardown(test_h1_backend_timeout, teardown),
      cmocka_unit_test_teardown(test_h1_malformed_response, teardown),
      cmocka_unit_test_teardown(test_h1_backend_dies_mid_body, teardown),
      cmocka_unit_test_teardown(test_h1_client_gone, teardown),
      cmocka_unit_test_teardown(test_h1_eof_mid_body, teardown),
      cmocka_unit_test_teardown(test_h2_ok, teardown),
      cmocka_unit_test_teardown(test_h2_early_hints, teardown),
      cmocka_unit_test_teardown(test_h2_push, teardown),
      cmocka_unit_test_teardown(test_h2_push_cut_by_streams, teardown),
      cmocka_unit_test_teardown(test_h2_push_cut_by_window, teardown),
      cmocka_unit_test_teardown(test_h2_push_client_hint_only_page, teardown),
      cmocka_unit_test_teardown(test_h2_push_only_cut, teardown),
      cmocka_unit_test_teardown(test_h2_push_connect_fails, teardown),
      cmocka_unit_test_teardown(test_h2_client_resets_push, teardown),
      cmocka_unit_test_teardown(test_h2_connect_fails, teardown),
      cmocka_unit_test_teardown(test_h2_no_server, teardown),
      cmocka_unit_test_teardown(test_h2_write_fails, teardown),
      cmocka_unit_test_teardown(test_h2_backend_timeout, teardown),
      cmocka_unit_test_teardown(test_h2_transfer_coding, teardown),
      cmocka_unit_test_teardown(test_h2_backend_dies_mid_body, teardown),
      cmocka_unit_test_teardown(test_h2_client_gone, teardown),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
