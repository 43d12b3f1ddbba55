/* conn.c: see conn.h.
 *
 * Reads land in the loop's read buffer (the loop thread processes each
 * read to completion, so nothing is kept between reads except what a
 * session copies). A connection pins the loop's backend pool, and with it
 * the configuration in force, when it is accepted: every request on it
 * runs under that one configuration, whatever reloads happen meanwhile.
 * Cleartext connections sniff the HTTP/2 preface to choose h2c prior
 * knowledge or HTTP/1.1; TLS connections choose by ALPN. Output is a
 * chunk queue handed to uv_write without copying (cleartext) or encrypted
 * once into a write request (TLS). On a listener with proxy_protocol, the
 * PROXY header comes off the stream first (CONN_PROXY, under the header
 * timeout); its source address then stands for the client everywhere. */
#include "proxy/conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/client.h"
#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "proxy/clientcount.h"
#include "proxy/loop.h"
#include "proxy/pool.h"
#include "proxy/proxyproto.h"
#include "proxy/session.h"
#include "proxy/tls.h"

#define LINGER_MS 1000

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define PREFACE_LEN (sizeof(h2_preface) - 1)

enum conn_state {
  CONN_PROXY, /* reading the PROXY protocol header */
  CONN_TLS_HANDSHAKE,
  CONN_SNIFF,
  CONN_OPEN,
  CONN_LINGER,
};

struct conn {
  uv_tcp_t tcp;
  uv_timer_t timer;  /* session timeouts: idle, header, handshake */
  uv_timer_t wtimer; /* write progress */
  uv_timer_t ttimer; /* the session's tick (conn_schedule_tick) */
  struct loop *lp;
  struct pool *pool;             /* pinned (one reference) at accept */
  const struct config *cfg;      /* the pool's, for the conn's life */
  struct conn *prev, *next;      /* loop's list */
  struct conn *dirty_next;       /* loop's dirty list */
  struct conn *idle_prev, *idle_next; /* loop's idle list */
  int idle;                      /* on the idle list */
  int counted;                   /* counted under |counted_addr| */
  uint8_t counted_addr[16];      /* see admit_client */
  int dirty;
  uint64_t id;
  enum conn_state state;
  struct tls_conn *tls;
  const struct session_ops *ops;
  void *session;
  char sniff[PREFACE_LEN];
  size_t sniff_len;
  char peer[64];
  uint8_t addr[16]; /* binary client address, see conn_peer_addr */
  uint8_t *pp;      /* CONN_PROXY: the header so far (PROXYPROTO_MAX) */
  size_t pp_len;
  const char *timeout_why;
  uint64_t timeout_ms, timeout_set; /* lazy session timer, see on_timeout */

  struct buf out;   /* plaintext queued by the session */
  size_t inflight;  /* bytes handed to uv_write, not yet completed */
  size_t sealed;    /* plaintext encrypted ahead of the flush (TLS) */
  size_t ahead;     /* pending bytes that stop the session producing; 0:
                       limits.write_buffer (conn_keep_output_shallow) */
  int reading, read_paused, closing, close_after_flush, shutting;
  int want_produce; /* the session stopped producing on a full queue */
  int handles_open; /* tcp + three timers; freed when this reaches 0 */
};

struct wreq {
  uv_write_t req;
  struct conn *c;
  struct buf data;
  size_t len;
  unsigned nbufs;
  uv_buf_t bufs[];
};

static void do_close(struct conn *c);
static void start_session(struct conn *c, int h2);

struct loop *conn_loop(const struct conn *c) { return c->lp; }
const struct config *conn_config(const struct conn *c) { return c->cfg; }
struct pool *conn_pool(const struct conn *c) { return c->pool; }
const char *conn_peer(const struct conn *c) { return c->peer; }
void conn_peer_addr(const struct conn *c, uint8_t out[16]) {
  memcpy(out, c->addr, 16);
}

int conn_request_client(const struct conn *c, const struct http_hdr *hdrs,
                        size_t nhdrs, uint8_t out[16]) {
  const struct config *cfg = c->cfg;
  return client_forwarded(cfg->trusted_proxies, cfg->ntrusted_proxies,
                          c->addr, hdrs, nhdrs, out);
}
int conn_is_tls(const struct conn *c) { return c->tls != NULL; }
uint64_t conn_id(const struct conn *c) { return c->id; }
int conn_closing(const struct conn *c) { return c->closing; }
struct conn *conn_next(const struct conn *c) { return c->next; }

size_t conn_output_pending(const struct conn *c) {
  return c->out.len + c->inflight + c->sealed;
}

/* produce_limit: pending output at which the session stops producing. */
static size_t produce_limit(const struct conn *c) {
  size_t cap = (size_t)c->cfg->write_buffer;
  return c->ahead != 0 && c->ahead < cap ? c->ahead : cap;
}

void conn_keep_output_shallow(struct conn *c) {
  c->ahead = CONN_SHALLOW_AHEAD;
  uv_os_fd_t fd;
  int lowat = CONN_SHALLOW_LOWAT;
  if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0 &&
      setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat,
                 sizeof(lowat)) != 0)
    LOG_DEBUG("conn %llu %s: TCP_NOTSENT_LOWAT: %s",
              (unsigned long long)c->id, c->peer, strerror(errno));
}

int conn_write_blocked(struct conn *c) {
  if (c->closing)
    return 1;
  if (conn_output_pending(c) < produce_limit(c))
    return 0;
  c->want_produce = 1; /* the caller stops producing: wake it later */
  return 1;
}

void conn_write(struct conn *c, const void *p, size_t n) {
  if (c->closing && !c->close_after_flush)
    return;
  buf_append(&c->out, p, n);
  conn_mark_dirty(c);
}

/* encrypt_out encrypts the plaintext queued in |c->out|, each chunk a
 * record. Returns 0, or -1 when TLS failed (|c| is closing then). */
static int encrypt_out(struct conn *c) {
  struct iov sl[16];
  size_t n;
  while ((n = buf_slices(&c->out, sl, ARRAY_SIZE(sl))) > 0) {
    for (size_t i = 0; i < n; i++) {
      if (tls_write(c->tls, sl[i].base, sl[i].len) != 0) {
        LOG_INFO("conn %llu %s: TLS write: %s", (unsigned long long)c->id,
                 c->peer, tls_last_error(c->tls));
        do_close(c);
        return -1;
      }
      buf_consume(&c->out, sl[i].len);
    }
  }
  return 0;
}

void conn_write_frame(struct conn *c, const void *hd, size_t hdlen,
                      struct buf *q, size_t n) {
  if (c->closing && !c->close_after_flush) {
    buf_consume(q, n);
    return;
  }
  const uint8_t *p;
  if (c->tls != NULL && q->slices > 0 && buf_peek(q, &p) >= n &&
      buf_slice_prepend(q, hd, hdlen)) {
    /* A slice's frame. The slab bytes before its payload are dead: the
     * backend's framing, or the stream's previous frame, which went out
     * before this one and was encrypted or copied then (over TLS no
     * slice waits in the output). So the header goes there, and header
     * and payload are encrypted into one record from the slab, uncopied,
     * after what the output holds (encrypted first, to keep the order). */
    buf_peek(q, &p);
    if (encrypt_out(c) != 0) {
      buf_consume(q, hdlen + n);
      return;
    }
    c->sealed += hdlen + n;
    if (tls_write(c->tls, p, hdlen + n) != 0) {
      LOG_INFO("conn %llu %s: TLS write: %s", (unsigned long long)c->id,
               c->peer, tls_last_error(c->tls));
      do_close(c);
    }
    buf_consume(q, hdlen + n);
  } else if (c->tls != NULL) {
    /* Header and payload in one contiguous run: one record. */
    buf_reserve(&c->out, hdlen + n);
    buf_append(&c->out, hd, hdlen);
    while (n > 0) {
      size_t k = buf_peek(q, &p);
      if (k == 0)
        break;
      if (k > n)
        k = n;
      buf_append(&c->out, p, k);
      buf_consume(q, k);
      n -= k;
    }
  } else {
    buf_append(&c->out, hd, hdlen);
    buf_move(&c->out, q, n);
  }
  conn_mark_dirty(c);
}

void conn_write_frames(struct conn *c, struct buf *q, size_t n) {
  if (c->closing && !c->close_after_flush) {
    buf_consume(q, n);
    return;
  }
  buf_move(&c->out, q, n);
  conn_mark_dirty(c);
}

void conn_mark_dirty(struct conn *c) {
  if (c->dirty || (c->closing && !c->close_after_flush))
    return;
  c->dirty = 1;
  if (c->lp->dirty == NULL)
    loop_wake_flush(c->lp);
  c->dirty_next = c->lp->dirty;
  c->lp->dirty = c;
}

/* ---- idle list and client counts ------------------------------------ */

void conn_set_idle(struct conn *c, int idle) {
  struct loop *lp = c->lp;
  if (idle == c->idle || (idle && c->closing))
    return;
  c->idle = idle;
  if (idle) { /* newest at the tail: the head has been idle longest */
    c->idle_prev = lp->idle_tail;
    c->idle_next = NULL;
    if (lp->idle_tail)
      lp->idle_tail->idle_next = c;
    else
      lp->idle_head = c;
    lp->idle_tail = c;
    return;
  }
  if (c->idle_prev)
    c->idle_prev->idle_next = c->idle_next;
  else
    lp->idle_head = c->idle_next;
  if (c->idle_next)
    c->idle_next->idle_prev = c->idle_prev;
  else
    lp->idle_tail = c->idle_prev;
  c->idle_prev = c->idle_next = NULL;
}

/* admit_client counts |c| under its client address, or refuses it when
 * that address has limits.max_connections_per_client open already. It
 * keys on conn_peer_addr, so it belongs where the client address becomes
 * known (at accept; after a PROXY header, once one can carry it), and it
 * may run again if the address changes. Returns 0, or -1: close |c|. */
static int admit_client(struct conn *c) {
  struct loop *lp = c->lp;
  uint8_t addr[16];
  conn_peer_addr(c, addr);
  struct loop_shared *sh = lp->shared;
  pthread_mutex_lock(&sh->clients_mu);
  if (c->counted)
    clientcount_remove(sh->clients, c->counted_addr);
  c->counted = 0;
  uint32_t open = clientcount_get(sh->clients, addr);
  int full = open >= (uint32_t)c->cfg->max_connections_per_client;
  if (!full)
    clientcount_add(sh->clients, addr);
  pthread_mutex_unlock(&sh->clients_mu);
  if (full) {
    lp->stats.conns_refused++;
    lp->stats.conns_client_limited++;
    /* One line a second: a client hammering at its cap must not flood
     * the log. */
    unsigned held;
    if (log_limit_pass(&sh->refused_client_log, uv_now(lp->uv), 1000, &held))
      LOG_WARN("refusing connection from %s: %u open from that address "
               "(limits.max_connections_per_client %d); %u more refused "
               "since the last such line", c->peer, open,
               c->cfg->max_connections_per_client, held);
    return -1;
  }
  memcpy(c->counted_addr, addr, 16);
  c->counted = 1;
  return 0;
}

static void on_handle_closed(uv_handle_t *h) {
  struct conn *c = h->data;
  if (--c->handles_open > 0)
    return;
  conn_set_idle(c, 0);
  if (c->counted) {
    struct loop_shared *sh = c->lp->shared;
    pthread_mutex_lock(&sh->clients_mu);
    clientcount_remove(sh->clients, c->counted_addr);
    pthread_mutex_unlock(&sh->clients_mu);
  }
  if (c->session != NULL)
    c->ops->free(c->session);
  pool_unref(c->pool);
  tls_conn_free(c->tls);
  free(c->pp);
  buf_cleanup(&c->out);
  if (c->prev)
    c->prev->next = c->next;
  else
    c->lp->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  loop_conn_removed(c->lp, c);
  free(c);
}

static void do_close(struct conn *c) {
  if (uv_is_closing((uv_handle_t *)&c->tcp))
    return;
  conn_set_idle(c, 0);
  c->closing = 1;
  c->close_after_flush = 0;
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
  uv_close((uv_handle_t *)&c->wtimer, on_handle_closed);
  uv_close((uv_handle_t *)&c->ttimer, on_handle_closed);
  uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void on_linger_timeout(uv_timer_t *t) {
  do_close(t->data);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  struct conn *c = req->data;
  free(req);
  if (status != 0 || uv_is_closing((uv_handle_t *)&c->tcp)) {
    do_close(c);
    return;
  }
  /* Lingering close: keep reading (and discarding) briefly so the peer
   * gets our GOAWAY instead of a TCP RST for unread bytes. */
  c->state = CONN_LINGER;
  uv_timer_start(&c->timer, on_linger_timeout, LINGER_MS, 0);
  conn_resume_read(c);
}

static void start_linger(struct conn *c) {
  if (c->shutting)
    return;
  c->shutting = 1;
  uv_shutdown_t *req = xmalloc(sizeof(*req));
  req->data = c;
  if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
    free(req);
    do_close(c);
  }
}

void conn_close(struct conn *c, int graceful) {
  if (c->closing)
    return;
  if (!graceful) {
    do_close(c);
    return;
  }
  conn_set_idle(c, 0);
  c->closing = 1;
  c->close_after_flush = 1;
  conn_mark_dirty(c);
}

static void on_wtimeout(uv_timer_t *t) {
  struct conn *c = t->data;
  LOG_INFO("conn %llu %s: client made no write progress for %d ms, closing",
           (unsigned long long)c->id, c->peer, c->cfg->write_timeout);
  do_close(c);
}

/* after_progress: output went out. Below the low-water mark the client
 * is read again and the session may produce (a paused backend resumes). */
static void after_progress(struct conn *c) {
  size_t cap = (size_t)c->cfg->write_buffer;
  if (c->closing || conn_output_pending(c) >= cap / 2)
    return;
  if (c->read_paused == 1)
    conn_resume_read(c);
  if (c->session != NULL) {
    c->ops->writable(c->session);
    if (c->want_produce && conn_output_pending(c) < produce_limit(c) / 2) {
      c->want_produce = 0;
      conn_mark_dirty(c);
    }
  }
}

static void on_write(uv_write_t *req, int status) {
  struct wreq *w = container_of(req, struct wreq, req);
  struct conn *c = w->c;
  c->inflight -= w->len;
  buf_cleanup(&w->data);
  free(w);
  if (uv_is_closing((uv_handle_t *)&c->tcp))
    return;
  if (status != 0) {
    LOG_DEBUG("conn %llu %s: write failed: %s", (unsigned long long)c->id,
              c->peer, uv_strerror(status));
    do_close(c);
    return;
  }
  if (c->inflight == 0)
    uv_timer_stop(&c->wtimer);
  else
    uv_timer_again(&c->wtimer);
  if (c->close_after_flush) {
    if (conn_output_pending(c) == 0 && c->state != CONN_LINGER)
      start_linger(c);
    return;
  }
  after_progress(c);
}

static void submit(struct conn *c, struct buf *data) {
  if (c->inflight == 0) {
    /* Nothing queued in libuv: write what the socket takes right now.
     * A completed uv_write costs an epoll_ctl (libuv re-arms the watcher
     * when its queue drains); a try_write that takes everything costs
     * only the write itself. */
    struct iov sl[64];
    uv_buf_t bufs[64];
    size_t k = buf_slices(data, sl, ARRAY_SIZE(sl));
    for (size_t i = 0; i < k; i++)
      bufs[i] = uv_buf_init((char *)sl[i].base, (unsigned)sl[i].len);
    int rv = uv_try_write((uv_stream_t *)&c->tcp, bufs, (unsigned)k);
    if (rv < 0 && rv != UV_EAGAIN) {
      LOG_DEBUG("conn %llu %s: write failed: %s", (unsigned long long)c->id,
                c->peer, uv_strerror(rv));
      buf_cleanup(data);
      do_close(c);
      return;
    }
    if (rv > 0)
      buf_consume(data, (size_t)rv);
    if (data->len == 0)
      return;
  }
  size_t n = buf_nchunks(data);
  struct wreq *w = xmalloc(sizeof(*w) + n * sizeof(uv_buf_t));
  w->c = c;
  buf_init(&w->data, &c->lp->bufs);
  buf_take(&w->data, data);
  w->len = w->data.len;
  struct iov tmp[64];
  size_t k = 0, filled;
  /* buf_slices is bounded per call; walk in batches of 64. */
  const struct buf *q = &w->data;
  filled = buf_slices(q, tmp, ARRAY_SIZE(tmp));
  if (filled < n) {
    struct iov *all = xmalloc(n * sizeof(*all));
    filled = buf_slices(q, all, n);
    for (k = 0; k < filled; k++)
      w->bufs[k] = uv_buf_init((char *)all[k].base, (unsigned)all[k].len);
    free(all);
  } else {
    for (k = 0; k < filled; k++)
      w->bufs[k] = uv_buf_init((char *)tmp[k].base, (unsigned)tmp[k].len);
  }
  w->nbufs = (unsigned)filled;
  c->inflight += w->len;
  int rv = uv_write(&w->req, (uv_stream_t *)&c->tcp, w->bufs, w->nbufs,
                    on_write);
  if (rv != 0) {
    c->inflight -= w->len;
    buf_cleanup(&w->data);
    free(w);
    do_close(c);
    return;
  }
  if (!uv_is_active((uv_handle_t *)&c->wtimer))
    uv_timer_start(&c->wtimer, on_wtimeout,
                   (uint64_t)c->cfg->write_timeout,
                   (uint64_t)c->cfg->write_timeout);
}

static void flush_tls(struct conn *c) {
  if (encrypt_out(c) != 0)
    return;
  c->sealed = 0;
  if (tls_out_pending(c->tls) == 0)
    return;
  struct buf cipher;
  buf_init(&cipher, &c->lp->bufs);
  tls_out_take(c->tls, &cipher);
  submit(c, &cipher);
}

void conn_flush_now(struct conn *c) {
  if (uv_is_closing((uv_handle_t *)&c->tcp))
    return;
  if (c->tls != NULL)
    flush_tls(c);
  else if (c->out.len > 0)
    submit(c, &c->out);
  if (uv_is_closing((uv_handle_t *)&c->tcp))
    return;
  if (c->close_after_flush && c->inflight == 0 && c->state != CONN_LINGER)
    start_linger(c);
  if (c->closing)
    return;
  if (conn_output_pending(c) >= (size_t)c->cfg->write_buffer) {
    conn_pause_read(c);
    c->read_paused = 1;
    return;
  }
  after_progress(c);
}

/* Runs after every loop turn's I/O callbacks (uv_check): each dirty
 * connection lets its session produce frames, then writes once. */
void conn_flush_dirty(struct loop *lp) {
  while (lp->dirty != NULL) {
    struct conn *c = lp->dirty;
    lp->dirty = c->dirty_next;
    c->dirty = 0;
    if (uv_is_closing((uv_handle_t *)&c->tcp))
      continue;
    if (c->session != NULL && !c->closing) {
      c->ops->produce(c->session);
      if (c->ops->done(c->session))
        conn_close(c, 1);
    }
    conn_flush_now(c);
  }
}

/* Sessions re-arm their timer on every stream and request; doing that
 * lazily (record the deadline, let the running timer re-check when it
 * fires) keeps the timer heap out of the per-request path. */
static void on_timeout(uv_timer_t *t) {
  struct conn *c = t->data;
  if (c->timeout_ms == 0)
    return;
  uint64_t elapsed = uv_now(t->loop) - c->timeout_set;
  if (elapsed < c->timeout_ms) {
    uv_timer_start(t, on_timeout, c->timeout_ms - elapsed, 0);
    return;
  }
  LOG_INFO("conn %llu %s: %s timeout, closing", (unsigned long long)c->id,
           c->peer, c->timeout_why ? c->timeout_why : "idle");
  if (c->state == CONN_OPEN && c->session != NULL &&
      c->ops == &h2_session_ops) {
    /* HTTP/2 peers get a GOAWAY first. */
    c->ops->shutdown(c->session);
    c->ops->produce(c->session);
    conn_close(c, 1);
    conn_mark_dirty(c);
    return;
  }
  do_close(c);
}

void conn_set_timeout(struct conn *c, uint64_t ms, const char *why) {
  if (c->closing)
    return;
  c->timeout_why = why;
  c->timeout_ms = ms;
  c->timeout_set = uv_now(c->lp->uv);
  if (ms == 0)
    return;
  if (!uv_is_active((uv_handle_t *)&c->timer) ||
      uv_timer_get_due_in(&c->timer) > ms)
    uv_timer_start(&c->timer, on_timeout, ms, 0);
}

static void on_tick(uv_timer_t *t) {
  struct conn *c = t->data;
  if (c->closing || c->session == NULL || c->ops->tick == NULL)
    return;
  c->ops->tick(c->session);
  conn_mark_dirty(c);
}

void conn_schedule_tick(struct conn *c, uint64_t ms) {
  if (c->closing)
    return;
  if (uv_is_active((uv_handle_t *)&c->ttimer) &&
      uv_timer_get_due_in(&c->ttimer) <= ms)
    return;
  uv_timer_start(&c->ttimer, on_tick, ms, 0);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct conn *c = h->data;
  (void)suggested;
  *buf = uv_buf_init((char *)c->lp->read_buf, sizeof(c->lp->read_buf));
}

static int feed_session(struct conn *c, const uint8_t *p, size_t n) {
  if (c->state == CONN_SNIFF) {
    /* Compare what we have of the preface; decide as soon as it differs
     * or is complete. */
    size_t take = PREFACE_LEN - c->sniff_len;
    if (take > n)
      take = n;
    memcpy(c->sniff + c->sniff_len, p, take);
    c->sniff_len += take;
    p += take;
    n -= take;
    int match = memcmp(c->sniff, h2_preface, c->sniff_len) == 0;
    if (match && c->sniff_len < PREFACE_LEN)
      return 0;
    start_session(c, match);
    int rv = c->ops->recv(c->session, (const uint8_t *)c->sniff, c->sniff_len);
    if (rv < 0 || n == 0)
      return rv;
  }
  if (c->closing)
    return 0;
  return c->ops->recv(c->session, p, n);
}

static int on_tls_bytes(struct conn *c, const uint8_t *p, size_t n) {
  tls_feed(c->tls, p, n);
  for (;;) {
    uint8_t *plain = c->lp->plain_buf;
    int rv = tls_read(c->tls, plain, sizeof(c->lp->plain_buf));
    if (c->state == CONN_TLS_HANDSHAKE && tls_handshake_done(c->tls)) {
      start_session(c, tls_alpn_h2(c->tls));
    }
    if (rv == 0)
      break;
    if (rv < 0) {
      if (rv != UV_EOF)
        LOG_INFO("conn %llu %s: TLS: %s", (unsigned long long)c->id,
                 c->peer, tls_last_error(c->tls));
      conn_flush_now(c); /* send the alert */
      return rv;
    }
    if (c->closing)
      break;
    rv = c->ops->recv(c->session, plain, (size_t)rv);
    if (rv < 0)
      return rv;
  }
  /* The handshake may have produced bytes to send. */
  if (tls_out_pending(c->tls) > 0)
    conn_mark_dirty(c);
  return 0;
}

static int feed_after_proxy(struct conn *c, const uint8_t *p, size_t n) {
  return c->tls != NULL ? on_tls_bytes(c, p, n) : feed_session(c, p, n);
}

/* feed_proxy collects the PROXY protocol header; once it is whole, the
 * client address becomes its source and what follows it goes on to TLS
 * or the protocol sniffer. A header that cannot be valid closes the
 * connection: behind a balancer configured to send one, its absence is a
 * misconfiguration or someone bypassing the balancer. */
static int feed_proxy(struct conn *c, const uint8_t *p, size_t n) {
  if (c->pp == NULL)
    c->pp = xmalloc(PROXYPROTO_MAX);
  size_t take = PROXYPROTO_MAX - c->pp_len;
  if (take > n)
    take = n;
  memcpy(c->pp + c->pp_len, p, take);
  c->pp_len += take;
  struct proxyproto h;
  const char *why = "header too long";
  int rv = proxyproto_parse(c->pp, c->pp_len, &h, &why);
  if (rv == 0 && c->pp_len < PROXYPROTO_MAX)
    return 0;
  if (rv <= 0) {
    LOG_WARN("conn %llu %s: bad PROXY protocol header (%s), closing",
             (unsigned long long)c->id, c->peer, why);
    do_close(c);
    return UV_EPROTO;
  }
  if (h.has_addr) {
    char via[sizeof(c->peer)];
    memcpy(via, c->peer, sizeof(via));
    memcpy(c->addr, h.src, 16);
    client_format(c->addr, c->peer, sizeof(c->peer));
    LOG_DEBUG("conn %llu: PROXY v%d header from %s: client %s",
              (unsigned long long)c->id, h.version, via, c->peer);
  }
  if (admit_client(c) != 0) {
    do_close(c);
    return UV_ECONNREFUSED;
  }
  if (c->tls != NULL) {
    c->state = CONN_TLS_HANDSHAKE;
    conn_set_timeout(c, (uint64_t)c->cfg->tls_handshake_timeout,
                     "TLS handshake");
  } else {
    c->state = CONN_SNIFF;
    conn_set_timeout(c, (uint64_t)c->cfg->header_timeout, "preface");
  }
  uint8_t *pp = c->pp;
  size_t len = c->pp_len, hdr = (size_t)rv;
  c->pp = NULL;
  c->pp_len = 0;
  int r = 0;
  if (len > hdr)
    r = feed_after_proxy(c, pp + hdr, len - hdr);
  if (r >= 0 && !c->closing && n > take)
    r = feed_after_proxy(c, p + take, n - take);
  free(pp);
  return r;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct conn *c = s->data;
  if (nread == 0)
    return;
  if (nread < 0) {
    if (c->state == CONN_LINGER || c->session == NULL) {
      do_close(c);
      return;
    }
    if (nread != UV_EOF)
      LOG_DEBUG("conn %llu %s: read: %s", (unsigned long long)c->id, c->peer,
                uv_strerror((int)nread));
    if (nread != UV_EOF) {
      do_close(c);
      return;
    }
    /* A half-closed HTTP/1.1 client still waits for its responses; the
     * session reports done() once they are sent. */
    c->ops->eof(c->session);
    conn_pause_read(c);
    conn_mark_dirty(c);
    return;
  }
  if (c->state == CONN_LINGER)
    return;
  int rv;
  if (c->state == CONN_PROXY)
    rv = feed_proxy(c, (const uint8_t *)buf->base, (size_t)nread);
  else
    rv = feed_after_proxy(c, (const uint8_t *)buf->base, (size_t)nread);
  if (rv < 0) {
    conn_close(c, 1);
  }
}

void conn_pause_read(struct conn *c) {
  if (!c->reading)
    return;
  uv_read_stop((uv_stream_t *)&c->tcp);
  c->reading = 0;
}

void conn_resume_read(struct conn *c) {
  if (c->reading || uv_is_closing((uv_handle_t *)&c->tcp))
    return;
  if (c->state != CONN_LINGER && c->closing)
    return;
  c->read_paused = 0;
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
    c->reading = 1;
}

static void start_session(struct conn *c, int h2) {
  c->state = CONN_OPEN;
  if (h2) {
    c->ops = &h2_session_ops;
    c->session = h2_session_new(c);
  } else {
    c->ops = &h1_session_ops;
    c->session = h1_session_new(c);
  }
}

void conn_shutdown(struct conn *c) {
  if (c->closing)
    return;
  if (c->session == NULL) {
    do_close(c);
    return;
  }
  c->ops->shutdown(c->session);
  conn_mark_dirty(c);
}

/* evict closes an idle connection to make room for a new one. Nothing is
 * in flight on it; an HTTP/2 peer still gets a GOAWAY saying so. The
 * socket closes at once, so the slot is free by the end of this turn. */
static void evict(struct conn *c) {
  LOG_INFO("conn %llu %s: closing this idle connection to make room "
           "(limits.max_connections %d)", (unsigned long long)c->id, c->peer,
           c->cfg->max_connections);
  c->lp->stats.conns_evicted++;
  if (c->ops == &h2_session_ops) {
    c->ops->shutdown(c->session);
    c->ops->produce(c->session);
    conn_flush_now(c);
  }
  do_close(c);
}

static void peer_name(struct conn *c) {
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  c->peer[0] = '\0';
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
    return;
  if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    uv_ip6_name(a, c->peer, sizeof(c->peer));
    memcpy(c->addr, &a->sin6_addr, 16);
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    uv_ip4_name(a, c->peer, sizeof(c->peer));
    client_from_v4((const uint8_t *)&a->sin_addr, c->addr);
  }
}

/* conn_begin makes a connection on |lp| with its handles initialised and
 * counted, before its socket is attached. */
static struct conn *conn_begin(struct loop *lp) {
  struct conn *c = xcalloc(1, sizeof(*c));
  c->lp = lp;
  c->pool = lp->pool;
  pool_ref(c->pool);
  c->cfg = lp->cfg;
  c->id = lp->next_conn_id += (uint64_t)lp->nworkers;
  uv_tcp_init(lp->uv, &c->tcp);
  uv_timer_init(lp->uv, &c->timer);
  uv_timer_init(lp->uv, &c->wtimer);
  uv_timer_init(lp->uv, &c->ttimer);
  c->tcp.data = c->timer.data = c->wtimer.data = c->ttimer.data = c;
  c->handles_open = 4;
  buf_init(&c->out, &lp->bufs);
  c->next = lp->conns;
  if (lp->conns)
    lp->conns->prev = c;
  lp->conns = c;
  loop_conn_added(lp, c);
  return c;
}

static void conn_admit(struct conn *c, struct tls_ctx *tls,
                       int proxy_protocol);

void conn_accept(struct loop *lp, uv_stream_t *server,
                 struct tls_ctx *tls, int proxy_protocol) {
  struct conn *c = conn_begin(lp);
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    do_close(c);
    return;
  }
  conn_admit(c, tls, proxy_protocol);
}

void conn_adopt(struct loop *lp, int fd, struct tls_ctx *tls,
                int proxy_protocol) {
  struct conn *c = conn_begin(lp);
  int rv = uv_tcp_open(&c->tcp, fd);
  if (rv != 0) {
    LOG_WARN("cannot take an accepted connection: %s", uv_strerror(rv));
    close(fd);
    do_close(c);
    return;
  }
  conn_admit(c, tls, proxy_protocol);
}

static void conn_admit(struct conn *c, struct tls_ctx *tls,
                       int proxy_protocol) {
  struct loop *lp = c->lp;
  lp->stats.conns_accepted++;
  if (lp->draining) {
    lp->stats.conns_refused++;
    do_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  peer_name(c);
  /* Behind a PROXY-protocol balancer the client is known only once the
   * header is read (feed_proxy admits it then). */
  if (!proxy_protocol && admit_client(c) != 0) {
    do_close(c);
    return;
  }
  /* max_connections counts every loop's connections; only this loop's
   * idle ones can make room (another loop's belong to its thread). */
  int open = atomic_load_explicit(&lp->shared->conns, memory_order_relaxed);
  if (open > c->cfg->max_connections) {
    /* Full: an idle connection makes room; without one, refuse. */
    if (lp->idle_head == NULL) {
      lp->stats.conns_refused++;
      /* One line a second, as for a client at its cap: a flood of
       * connections at the limit must not flood the log too. */
      unsigned held;
      if (log_limit_pass(&lp->shared->refused_full_log, uv_now(lp->uv), 1000,
                         &held))
        LOG_WARN("refusing connection: %d open, none idle "
                 "(limits.max_connections %d); %u more refused since the "
                 "last such line", open - 1, c->cfg->max_connections, held);
      do_close(c);
      return;
    }
    evict(lp->idle_head);
  }
  if (tls != NULL)
    c->tls = tls_conn_new(tls, &c->lp->bufs);
  if (proxy_protocol) {
    c->state = CONN_PROXY;
    conn_set_timeout(c, (uint64_t)c->cfg->header_timeout, "PROXY header");
  } else if (tls != NULL) {
    c->state = CONN_TLS_HANDSHAKE;
    conn_set_timeout(c, (uint64_t)c->cfg->tls_handshake_timeout,
                     "TLS handshake");
  } else {
    c->state = CONN_SNIFF;
    conn_set_timeout(c, (uint64_t)c->cfg->header_timeout, "preface");
  }
  conn_resume_read(c);
}
