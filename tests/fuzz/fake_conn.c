/* fake_conn.c: conn.h for the fuzz harnesses (see fake.h).
 *
 * It keeps conn.c's contract with a session, minus the socket: output is
 * queued and counts against limits.write_buffer (conn_write_blocked), is
 * flushed once per turn to the sink, and the session is told when the
 * queue drains; conn_close stops the session being fed; a graceful close
 * still flushes what was queued; EOF may arrive while a graceful close is
 * pending, as on a real socket; the session is freed only by
 * fake_conn_free (conn.c frees it from a uv_close callback, after the
 * loop turn). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/util.h"
#include "config/config.h"
#include "proxy/conn.h"
#include "proxy/loop.h"
#include "proxy/session.h"
#include "tests/fuzz/fake.h"

struct conn {
  struct loop *lp;
  const struct session_ops *ops;
  void *session;
  fake_conn_sink sink;
  void *sink_ud;
  struct buf out;
  int tls, dirty, closing, close_after_flush, read_paused, want_produce;
  size_t ahead; /* conn_keep_output_shallow; 0: limits.write_buffer */
  int lingering; /* closing, output all sent: the session hears nothing */
  uint64_t timeout_ms, tick_ms;
  const char *timeout_why;
  uint64_t id;
};

static uint64_t next_id;

struct conn *fake_conn_new(struct loop *lp, int tls,
                           const struct session_ops *ops,
                           void *(*session_new)(struct conn *c),
                           fake_conn_sink sink, void *sink_ud) {
  struct conn *c = xcalloc(1, sizeof(*c));
  c->lp = lp;
  c->tls = tls;
  c->ops = ops;
  c->sink = sink;
  c->sink_ud = sink_ud;
  c->id = ++next_id;
  buf_init(&c->out, &lp->bufs);
  c->session = session_new(c);
  return c;
}

struct loop *conn_loop(const struct conn *c) { return c->lp; }
const struct config *conn_config(const struct conn *c) { return c->lp->cfg; }
struct pool *conn_pool(const struct conn *c) { return c->lp->pool; }
const char *conn_peer(const struct conn *c) {
  (void)c;
  return "192.0.2.1";
}
void conn_peer_addr(const struct conn *c, uint8_t out[16]) {
  (void)c;
  /* IPv4 mapped, as conn.c gives it (base/client.h) */
  static const uint8_t a[16] = {[10] = 0xff, [11] = 0xff, 192, 0, 2, 1};
  memcpy(out, a, 16);
}
int conn_request_client(const struct conn *c, const struct http_hdr *hdrs,
                        size_t nhdrs, uint8_t out[16]) {
  const struct config *cfg = c->lp->cfg;
  uint8_t peer[16];
  conn_peer_addr(c, peer);
  return client_forwarded(cfg->trusted_proxies, cfg->ntrusted_proxies, peer,
                          hdrs, nhdrs, out);
}
int conn_is_tls(const struct conn *c) { return c->tls; }
uint64_t conn_id(const struct conn *c) { return c->id; }
int conn_closing(const struct conn *c) { return c->closing; }
size_t conn_output_pending(const struct conn *c) { return c->out.len; }

void conn_keep_output_shallow(struct conn *c) {
  c->ahead = CONN_SHALLOW_AHEAD; /* no socket here, so no TCP_NOTSENT_LOWAT */
}

int conn_write_blocked(struct conn *c) {
  if (c->closing)
    return 1;
  size_t cap = (size_t)c->lp->cfg->write_buffer;
  if (c->ahead != 0 && c->ahead < cap)
    cap = c->ahead;
  if (c->out.len < cap)
    return 0;
  c->want_produce = 1;
  return 1;
}

void conn_write(struct conn *c, const void *p, size_t n) {
  if (c->closing && !c->close_after_flush)
    return;
  buf_append(&c->out, p, n);
  c->dirty = 1;
}

void conn_write_frames(struct conn *c, struct buf *q, size_t n) {
  if (c->closing && !c->close_after_flush) {
    buf_consume(q, n);
    return;
  }
  buf_move(&c->out, q, n);
  c->dirty = 1;
}

void conn_write_frame(struct conn *c, const void *hd, size_t hdlen,
                      struct buf *q, size_t n) {
  if (c->closing && !c->close_after_flush) {
    buf_consume(q, n);
    return;
  }
  buf_append(&c->out, hd, hdlen);
  buf_move(&c->out, q, n);
  c->dirty = 1;
}

void conn_mark_dirty(struct conn *c) {
  if (c->closing && !c->close_after_flush)
    return;
  c->dirty = 1;
}

void conn_close(struct conn *c, int graceful) {
  if (c->closing)
    return;
  c->closing = 1;
  c->close_after_flush = graceful;
  if (graceful)
    c->dirty = 1;
  else
    buf_cleanup(&c->out);
}

void conn_pause_read(struct conn *c) { c->read_paused = 1; }
void conn_resume_read(struct conn *c) {
  if (!c->closing)
    c->read_paused = 0;
}

void conn_set_timeout(struct conn *c, uint64_t ms, const char *why) {
  if (c->closing)
    return;
  c->timeout_ms = ms;
  c->timeout_why = why;
}

void conn_schedule_tick(struct conn *c, uint64_t ms) {
  if (!c->closing && (c->tick_ms == 0 || ms < c->tick_ms))
    c->tick_ms = ms;
}

void conn_set_idle(struct conn *c, int idle) {
  (void)c;
  (void)idle; /* eviction needs a server full of connections: not here */
}

void conn_flush_now(struct conn *c) {
  const uint8_t *p;
  size_t k;
  static int dump = -1;
  if (dump < 0)
    dump = getenv("FUZZ_DUMP") != NULL; /* debugging a harness */
  while ((k = buf_peek(&c->out, &p)) > 0) {
    if (dump)
      fwrite(p, 1, k, stderr);
    c->sink(c->sink_ud, p, k);
    buf_consume(&c->out, k);
  }
  if (c->closing) {
    c->lingering = 1;
    return;
  }
  /* The client read everything: below the low-water mark at once. */
  if (c->read_paused == 1)
    c->read_paused = 0;
  c->ops->writable(c->session);
  if (c->want_produce) {
    c->want_produce = 0;
    c->dirty = 1;
  }
}

/* Not used by the sessions, but part of conn.h. */
void conn_accept(struct loop *lp, uv_stream_t *server, struct tls_ctx *tls,
                 int proxy_protocol) {
  (void)lp;
  (void)server;
  (void)tls;
  (void)proxy_protocol;
  fuzz_fail("conn_accept called in the fuzz world");
}
void conn_shutdown(struct conn *c) { c->ops->shutdown(c->session); }
struct conn *conn_next(const struct conn *c) {
  (void)c;
  return NULL;
}
void conn_flush_dirty(struct loop *lp) { (void)lp; }

void fake_conn_feed(struct conn *c, const uint8_t *p, size_t n) {
  if (c->closing || n == 0)
    return;
  /* Sessions may keep pointers into a read only during the call: give
   * them an exact-size copy, as a read buffer that is then reused. */
  uint8_t *copy = xmalloc(n);
  memcpy(copy, p, n);
  int rv = c->ops->recv(c->session, copy, n);
  free(copy);
  if (rv < 0)
    conn_close(c, 1);
}

int fake_conn_turn(struct conn *c) {
  int wrote = 0;
  for (int i = 0; i < 16 && c->dirty; i++) {
    c->dirty = 0;
    if (c->closing && !c->close_after_flush)
      break;
    if (!c->closing) {
      c->ops->produce(c->session);
      if (c->ops->done(c->session))
        conn_close(c, 1);
    }
    wrote |= c->out.len > 0;
    conn_flush_now(c);
  }
  return wrote;
}

void fake_conn_eof(struct conn *c) {
  if (c->lingering || (c->closing && !c->close_after_flush))
    return;
  c->ops->eof(c->session);
  c->read_paused = 1;
  c->dirty = 1;
}

void fake_conn_fire_timeout(struct conn *c) {
  if (c->lingering || (c->closing && !c->close_after_flush))
    return;
  if (c->tick_ms != 0 && c->ops->tick != NULL) {
    /* The session's own deadlines (HTTP/2 stream timeouts) come first,
     * as their tick is due before the connection's idle timer. */
    c->tick_ms = 0;
    c->ops->tick(c->session);
    c->dirty = 1;
    if (c->closing)
      return;
  }
  if (c->timeout_ms == 0)
    return;
  if (c->ops == &h2_session_ops) {
    /* As conn.c: an HTTP/2 peer gets a GOAWAY first. */
    c->ops->shutdown(c->session);
    c->ops->produce(c->session);
    conn_close(c, 1);
    return;
  }
  conn_close(c, 0);
}

int fake_conn_closed(const struct conn *c) { return c->closing; }
int fake_conn_read_paused(const struct conn *c) { return c->read_paused; }

void fake_conn_free(struct conn *c) {
  c->closing = 1;
  c->close_after_flush = 0;
  c->ops->free(c->session);
  buf_cleanup(&c->out);
  free(c);
}
