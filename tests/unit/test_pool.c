/* test_pool.c: the connection cap and wait queue of pool.c, on a real
 * libuv loop against a listener on the same loop that accepts and holds
 * connections (it never answers: these tests hand connections around
 * without any exchange).
 *
 * limits.backend_max_connections = 2, limits.backend_queue = 2: two
 * pool_get calls connect, the next two queue, a fifth gets UV_EBUSY; a
 * released connection goes to the first waiter (FIFO), a discarded one
 * lets the next open a new one; a cancelled waiter is skipped; the
 * deadline answers UV_ETIMEDOUT; the pool never counts more than two
 * open.
 *
 * Pipelining (limits.backend_pipeline = 3): at the cap, a request that
 * may be pipelined goes onto a busy connection whose owner allows it,
 * never more than three requests on one; one that may not waits, and
 * the queue stays FIFO (nothing passes a waiter); a waiter that may is
 * served as soon as a connection opens up; pool_put ends pipelining on
 * the connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/util.h"
#include "config/config.h"
#include "proxy/loop.h"
#include "proxy/pool.h"

#define NOWNERS 7

struct owner {
  struct pool_waiter w;
  struct bconn *b;
  int served, err, connected;
};

struct fixture {
  uv_loop_t uv;
  uv_tcp_t listener;
  struct loop *lp;
  struct config *cfg;
  struct pool *pool;
  struct owner own[NOWNERS];
  uv_tcp_t *accepted[16];
  int naccepted;
};

static struct fixture *fx; /* for the listener's callbacks */

static void on_peer_closed(uv_handle_t *h) { free(h); }

static void on_accept(uv_stream_t *srv, int status) {
  assert_int_equal(status, 0);
  uv_tcp_t *c = xcalloc(1, sizeof(*c));
  uv_tcp_init(srv->loop, c);
  assert_int_equal(uv_accept(srv, (uv_stream_t *)c), 0);
  fx->accepted[fx->naccepted++] = c;
}

static void on_connected(struct bconn *b, int status) {
  struct owner *o = b->owner;
  assert_int_equal(status, 0);
  o->connected = 1;
}

static void on_read(struct bconn *b, ssize_t n, const uint8_t *p) {
  (void)b, (void)n, (void)p;
}

static void on_served(struct pool_waiter *w, struct bconn *b, int err) {
  struct owner *o = container_of(w, struct owner, w);
  o->served++;
  o->b = b;
  o->err = err;
}

static struct bconn *get(struct fixture *f, int i, int *err) {
  struct owner *o = &f->own[i];
  o->w.pipelinable = 0;
  o->w.on_served = on_served;
  o->w.connect_cb = on_connected;
  o->w.read_cb = on_read;
  o->w.owner = o;
  *err = 1;
  o->b = pool_get(f->pool, 0, 0, &o->w, err);
  return o->b;
}

/* run turns the loop until |done| or 2 s of loop time. Not UV_RUN_ONCE:
 * it would block in poll until the next timer (a waiter's deadline)
 * after serving what was due, hiding how soon things happened. */
static void run_until(struct fixture *f, int (*done)(struct fixture *)) {
  uint64_t end = uv_now(&f->uv) + 2000;
  while (!done(f) && uv_now(&f->uv) < end) {
    uv_run(&f->uv, UV_RUN_NOWAIT);
    if (!done(f))
      uv_sleep(1);
  }
}

static int two_connected(struct fixture *f) {
  return f->own[0].connected && f->own[1].connected && f->naccepted == 2;
}
static int first_waiter_served(struct fixture *f) { return f->own[2].served; }
static int fifth_waiter_served(struct fixture *f) { return f->own[4].served; }

static int setup(void **state) {
  struct fixture *f = xcalloc(1, sizeof(*f));
  fx = f;
  uv_loop_init(&f->uv);
  uv_tcp_init(&f->uv, &f->listener);
  struct sockaddr_in sa;
  uv_ip4_addr("127.0.0.1", 0, &sa);
  assert_int_equal(uv_tcp_bind(&f->listener, (struct sockaddr *)&sa, 0), 0);
  assert_int_equal(uv_listen((uv_stream_t *)&f->listener, 16, on_accept), 0);
  int len = sizeof(sa);
  uv_tcp_getsockname(&f->listener, (struct sockaddr *)&sa, &len);
  f->cfg = config_new();
  struct config_backend *b = &f->cfg->backends[f->cfg->nbackends++];
  snprintf(b->name, sizeof(b->name), "app");
  snprintf(b->servers[0].host, sizeof(b->servers[0].host), "127.0.0.1");
  b->servers[0].port = ntohs(sa.sin_port);
  b->nservers = 1;
  f->cfg->backend_max_connections = 2;
  f->cfg->backend_queue = 2;
  f->cfg->backend_queue_timeout = 150;
  f->lp = loop_new(&f->uv, NULL);
  char err[256];
  f->pool = pool_new(f->lp, f->cfg, err, sizeof(err));
  assert_non_null(f->pool);
  loop_use(f->lp, f->pool);
  config_unref(f->cfg); /* the pool holds it */
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  for (int i = 0; i < f->naccepted; i++) {
    if (f->accepted[i] != NULL)
      uv_close((uv_handle_t *)f->accepted[i], on_peer_closed);
  }
  loop_close_all(f->lp);
  loop_free(f->lp);
  assert_int_equal(uv_loop_close(&f->uv), 0);
  free(f);
  return 0;
}

static void test_cap_and_queue(void **state) {
  struct fixture *f = *state;
  int err;
  /* Under the cap: two new connections. */
  assert_non_null(get(f, 0, &err));
  assert_non_null(get(f, 1, &err));
  run_until(f, two_connected);
  assert_true(two_connected(f));
  /* At the cap: two wait, the fifth is refused. */
  assert_null(get(f, 2, &err));
  assert_int_equal(err, 0);
  assert_null(get(f, 3, &err));
  assert_int_equal(err, 0);
  assert_null(get(f, 4, &err));
  assert_int_equal(err, UV_EBUSY);
  assert_string_equal(pool_waiter_server(&f->own[4].w),
                      pool_server_name(f->own[0].b));

  /* A released connection goes to the first waiter, as it was. */
  struct bconn *b0 = f->own[0].b;
  pool_put(b0);
  assert_int_equal(f->own[2].served, 0); /* not inside pool_put */
  run_until(f, first_waiter_served);
  assert_int_equal(f->own[2].served, 1);
  assert_ptr_equal(f->own[2].b, b0);
  assert_int_equal(f->own[2].b->reused, 1);
  assert_ptr_equal(f->own[2].b->owner, &f->own[2]);
  assert_int_equal(f->own[3].served, 0);

  /* A cancelled waiter is skipped; a closed connection lets the next
   * waiter open a new one. */
  assert_null(get(f, 4, &err)); /* queued behind 3 */
  assert_int_equal(err, 0);
  pool_cancel_wait(&f->own[3].w);
  pool_discard(f->own[1].b);
  run_until(f, fifth_waiter_served);
  assert_int_equal(f->own[3].served, 0);
  assert_int_equal(f->own[4].served, 1);
  assert_int_equal(f->own[4].err, 0);
  assert_non_null(f->own[4].b);
  assert_int_equal(f->own[4].b->reused, 0);
  /* The pool's count; the listener accepted one connection more. */
  struct pool_server_state st;
  pool_server_state(f->pool, 0, 0, &st);
  assert_int_equal(st.conns, 2);
  assert_int_equal(f->naccepted, 3);
  pool_discard(f->own[2].b);
  pool_discard(f->own[4].b);
}

static void test_deadline(void **state) {
  struct fixture *f = *state;
  int err;
  assert_non_null(get(f, 0, &err));
  assert_non_null(get(f, 1, &err));
  run_until(f, two_connected);
  assert_null(get(f, 2, &err));
  assert_int_equal(err, 0);
  uint64_t t0 = uv_now(&f->uv);
  run_until(f, first_waiter_served);
  assert_int_equal(f->own[2].served, 1);
  assert_null(f->own[2].b);
  assert_int_equal(f->own[2].err, UV_ETIMEDOUT);
  assert_true(uv_now(&f->uv) - t0 >= 140);
  /* Out of the queue: a released connection now goes idle, and the next
   * get takes it without queueing. */
  pool_put(f->own[0].b);
  struct bconn *b = get(f, 3, &err);
  assert_non_null(b);
  assert_int_equal(b->reused, 1);
  pool_discard(b);
  pool_discard(f->own[1].b);
}

static struct bconn *get_pipelinable(struct fixture *f, int i, int *err) {
  struct owner *o = &f->own[i];
  o->w = (struct pool_waiter){.on_served = on_served,
                              .connect_cb = on_connected,
                              .read_cb = on_read,
                              .owner = o,
                              .pipelinable = 1};
  *err = 1;
  o->b = pool_get(f->pool, 0, 0, &o->w, err);
  return o->b;
}

static int sixth_waiter_served(struct fixture *f) { return f->own[5].served; }
static int seventh_waiter_served(struct fixture *f) {
  return f->own[6].served;
}

/* open_pipe: what upstream.c does when |b|'s owner allows followers. */
static void open_pipe(struct bconn *b, int open) {
  b->pipe_open = open;
  pool_pipe_update(b);
}

static void test_pipeline(void **state) {
  struct fixture *f = *state;
  int err;
  struct config *cfg = (struct config *)pool_config(f->pool);
  cfg->backend_pipeline = 3;
  cfg->backend_queue_timeout = 5000; /* nobody times out here */
  struct bconn *b0 = get(f, 0, &err), *b1 = get(f, 1, &err);
  run_until(f, two_connected);
  assert_true(two_connected(f));
  assert_int_equal(b0->pipe_depth, 1);
  /* Only b0's owner allows requests behind its own. */
  open_pipe(b0, 1);
  assert_ptr_equal(get_pipelinable(f, 2, &err), b0);
  assert_int_equal(f->own[2].w.pipelined, 1);
  assert_ptr_equal(b0->owner, &f->own[0]); /* still the owner's */
  assert_ptr_equal(get_pipelinable(f, 3, &err), b0);
  assert_int_equal(b0->pipe_depth, 3);
  /* Full (3 on b0), b1 closed to followers: a pipelinable request
   * waits, and one that may not be pipelined waits behind it. */
  assert_null(get_pipelinable(f, 4, &err));
  assert_int_equal(err, 0);
  assert_int_equal(f->own[4].w.pipelined, 0);
  assert_null(get(f, 5, &err));
  assert_int_equal(err, 0);
  /* b1 opens up: the first waiter goes behind its owner, on the timer;
   * the second may not, and still waits. */
  open_pipe(b1, 1);
  assert_int_equal(f->own[4].served, 0);
  run_until(f, fifth_waiter_served);
  assert_int_equal(f->own[4].served, 1);
  assert_ptr_equal(f->own[4].b, b1);
  assert_int_equal(f->own[4].w.pipelined, 1);
  assert_int_equal(b1->pipe_depth, 2);
  assert_int_equal(f->own[5].served, 0);
  /* FIFO: a pipelinable request waits behind the waiter, though b1 has
   * room; b0 taking requests again serves neither, since the first may
   * not be pipelined and the other must not pass it. */
  assert_null(get_pipelinable(f, 6, &err));
  assert_int_equal(err, 0);
  b0->pipe_depth--;
  pool_pipe_update(b0);
  run_until(f, sixth_waiter_served);
  assert_int_equal(f->own[5].served, 0);
  assert_int_equal(f->own[6].served, 0);
  /* b1 drains: pool_put hands it to the waiter that may not be
   * pipelined, as its owner, with nothing behind; then the next waiter
   * goes behind b0's owner. */
  pool_put(b1);
  run_until(f, seventh_waiter_served);
  assert_ptr_equal(f->own[5].b, b1);
  assert_int_equal(f->own[5].w.pipelined, 0);
  assert_ptr_equal(b1->owner, &f->own[5]);
  assert_int_equal(b1->pipe_depth, 1);
  assert_ptr_equal(f->own[6].b, b0);
  assert_int_equal(f->own[6].w.pipelined, 1);
  assert_int_equal(b0->pipe_depth, 3);
  /* An owner that stops allowing followers (a slow client, a
   * Connection: close) is not picked even with room. */
  b0->pipe_depth--;
  open_pipe(b0, 0);
  open_pipe(b1, 0);
  assert_null(get_pipelinable(f, 3, &err));
  assert_int_equal(err, 0);
  pool_cancel_wait(&f->own[3].w);
  struct pool_server_state st;
  pool_server_state(f->pool, 0, 0, &st);
  assert_int_equal(st.conns, 2);
  assert_int_equal(f->naccepted, 2);
  pool_discard(b0);
  pool_discard(b1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_cap_and_queue, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pipeline, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
