/* upstream.c: see upstream.h. Its loop state (finished upstreams kept
 * for reuse, the deferred-failure timer and list, the counters) is in
 * struct loop, reached through the pool. */
#include "proxy/upstream.h"

#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "proxy/loop.h"
#include "proxy/pool.h"

#define MAX_RESPONSE_HEADER 65536
#define MAX_RESPONSE_FIELDS 200

struct upstream {
  struct loop *lp;
  struct pool *pool;
  const struct config *cfg;
  int backend;
  struct bconn *b;
  const struct upstream_cb *cb;
  void *ud;
  char what[160];     /* "GET /path" for log lines */
  const char *server; /* pool-owned name of the server in use, or "" */

  struct buf head;    /* serialized request head, kept for one retry */
  struct buf body_q;  /* body bytes waiting for the connection */
  size_t body_inflight;
  int body_chunked, body_done, has_body;
  int retryable, attempts;

  llhttp_t parser;
  struct http_fields fields;
  const char *read_start;
  int is_head_req;
  int status;
  int head_delivered, complete, failed;
  int paused, reading;  /* reading: connected and request sent */
  int in_cb, dead; /* cancel from inside a callback defers the free */
  int starting, got_bytes;
  char codings[64];     /* response transfer codings besides chunked */
  int deferred_status;
  const char *deferred_why;
  struct upstream *deferred_next;
  struct bwreq *writes; /* in flight; unlinked from |u| when it is freed */
  struct pool_waiter waiter; /* queued for a connection (pool.h) */
  /* Pipelining (limits.backend_pipeline): the requests sent after this
   * one on its connection, in order; |follower| while another's response
   * is still being read there; |retry_pending| while on the deferred list
   * to be resent. */
  struct upstream *pipe_next;
  int pipelinable, follower, was_pipelined, retry_pending;
  uint64_t body_bytes; /* of the response, for pool.h's average */
  int quiet;            /* fail() logs nothing: the caller did */
  uint64_t start_ns;    /* uv_hrtime at upstream_start */
};

struct bwreq {
  uv_write_t req;
  struct upstream *u; /* NULL once the upstream is gone */
  struct bwreq *next;
  struct buf data;
  size_t body_bytes;
  unsigned nbufs;
  uv_buf_t bufs[];
};

static const llhttp_settings_t settings;

const uint32_t upstream_latency_bounds_ms[UPSTREAM_LATENCY_BUCKETS - 1] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};
static void observe_latency(struct upstream *u) {
  struct upstream_stats *stats = &u->lp->upstream_stats;
  uint64_t us = (uv_hrtime() - u->start_ns) / 1000;
  size_t i = 0;
  while (i < UPSTREAM_LATENCY_BUCKETS - 1 &&
         us > (uint64_t)upstream_latency_bounds_ms[i] * 1000)
    i++;
  stats->latency[i]++;
  stats->latency_sum_us += us;
  stats->responses++;
}

static void fail(struct upstream *u, int status, const char *why);
static void finish(struct upstream *u);
static void start_connect(struct upstream *u, int fresh);

const char *upstream_backend_name(const struct upstream *u) {
  return u->server[0] ? u->server : "-";
}

const char *upstream_transfer_codings(const struct upstream *u) {
  return u->codings;
}

/* Finished upstreams are kept for reuse with their header buffers, so a
 * steady stream of requests allocates neither. */
#define FREE_MAX 1024

static struct upstream *upstream_alloc(struct loop *lp) {
  struct upstream *u = lp->upstream_free;
  if (u == NULL)
    return xcalloc(1, sizeof(*u));
  lp->upstream_free = u->deferred_next;
  lp->upstream_nfree--;
  struct http_fields keep = u->fields;
  memset(u, 0, sizeof(*u));
  u->fields = keep;
  http_fields_reset(&u->fields);
  return u;
}

static void upstream_free(struct upstream *u) {
  for (struct bwreq *w = u->writes; w != NULL; w = w->next)
    w->u = NULL;
  /* The pool (and the configuration it holds) may be a retired one that
   * lives only for the exchanges still using it. */
  struct loop *lp = u->lp;
  pool_unref(u->pool);
  u->pool = NULL;
  lp->upstream_stats.active--;
  buf_cleanup(&u->head);
  buf_cleanup(&u->body_q);
  if (lp->upstream_nfree < FREE_MAX) {
    u->deferred_next = lp->upstream_free;
    lp->upstream_free = u;
    lp->upstream_nfree++;
    return;
  }
  http_fields_cleanup(&u->fields);
  free(u);
}

/* ---- pipelining ------------------------------------------------------- */

/* The connection's owner (the request whose response is being read) is
 * the head of a list of the requests sent on it; the others wait their
 * turn. Only the owner ever receives bytes, so a request behind it can
 * always be resent elsewhere: whatever makes the connection unusable
 * before their turn (the owner failing or being cancelled, a
 * Connection: close, a request behind it abandoned, whose answer nobody
 * would read) resends them on a later loop turn. */

static void arm_read_timer(struct upstream *u);
static void resend(struct upstream *u);

/* stop_pipelining: |u| is sent again, on a connection of its own. Behind
 * the request that broke its last one it could be lost with it again,
 * and ahead of others it could take them along. */
static void stop_pipelining(struct upstream *u) {
  u->pipelinable = u->waiter.pipelinable = 0;
}

/* pipe_update tells the pool whether more may follow the owner of |b|. */
static void pipe_update(struct bconn *b) {
  struct upstream *h = b->owner;
  b->pipe_open = h != NULL && h->pipelinable && h->reading && !h->paused &&
                 !b->pipe_stop;
  pool_pipe_update(b);
}

/* pipe_leave takes the follower |u| out of the list of |b|: its answer
 * will still come, so nothing more may use the connection after the
 * answers before it. */
static void pipe_leave(struct upstream *u, struct bconn *b) {
  for (struct upstream **pp = &((struct upstream *)b->owner)->pipe_next;
       *pp != NULL; pp = &(*pp)->pipe_next) {
    if (*pp == u) {
      *pp = u->pipe_next;
      break;
    }
  }
  u->pipe_next = NULL;
  u->follower = 0;
  b->pipe_depth--;
  b->pipe_stop = 1;
  pipe_update(b);
}

/* hand_off: the owner's response is complete; |next| reads its own. */
static void hand_off(struct bconn *b, struct upstream *next) {
  next->follower = 0;
  b->owner = next;
  b->pipe_depth--;
  if (next->paused) {
    pool_pause_read(b);
  } else {
    pool_resume_read(b);
    arm_read_timer(next);
  }
  pipe_update(b);
}

/* release hands the backend connection back, to the request behind, or
 * closes it (resending the requests behind). */
static void release(struct upstream *u, int reuse) {
  struct bconn *b = u->b;
  if (b == NULL)
    return;
  u->b = NULL;
  u->reading = 0;
  if (u->follower) {
    pipe_leave(u, b);
    return;
  }
  b->deadline = 0;
  b->requests++;
  struct upstream *next = u->pipe_next;
  u->pipe_next = NULL;
  if (reuse && !b->pipe_stop) {
    if (next != NULL)
      hand_off(b, next);
    else
      pool_put(b);
    return;
  }
  pool_discard(b);
  while (next != NULL) {
    struct upstream *f = next;
    next = f->pipe_next;
    f->pipe_next = NULL;
    f->b = NULL;
    f->follower = 0;
    f->reading = 0;
    resend(f);
  }
}

/* ---- writing to the backend ------------------------------------------ */

static void on_write(uv_write_t *req, int status) {
  struct bwreq *w = container_of(req, struct bwreq, req);
  struct upstream *u = w->u;
  size_t body = w->body_bytes;
  if (u != NULL) {
    for (struct bwreq **pp = &u->writes; *pp != NULL; pp = &(*pp)->next) {
      if (*pp == w) {
        *pp = w->next;
        break;
      }
    }
  }
  buf_cleanup(&w->data);
  free(w);
  if (u == NULL || u->dead)
    return;
  u->body_inflight -= body;
  if (status != 0) {
    /* A failed write shows up as a read error or EOF too; a reused
     * connection that turned out closed is retried from there. */
    LOG_DEBUG("backend %s: write failed: %s", u->server, uv_strerror(status));
    return;
  }
  if (body > 0 && u->cb->on_body_sent != NULL) {
    u->in_cb++;
    u->cb->on_body_sent(u->ud, body);
    u->in_cb--;
    if (u->dead && u->in_cb == 0)
      upstream_free(u);
  }
}

static void body_sent(struct upstream *u, size_t body) {
  if (body > 0 && u->cb->on_body_sent != NULL) {
    u->in_cb++;
    u->cb->on_body_sent(u->ud, body);
    u->in_cb--;
  }
}

static void bwrite(struct upstream *u, struct buf *data, size_t body_bytes) {
  struct iov sl[64];
  if (u->writes == NULL) {
    /* As in conn.c: a write the socket takes at once needs no request
     * and no epoll re-arm. */
    uv_buf_t bufs[64];
    size_t k = buf_slices(data, sl, ARRAY_SIZE(sl));
    for (size_t i = 0; i < k; i++)
      bufs[i] = uv_buf_init((char *)sl[i].base, (unsigned)sl[i].len);
    int rv = uv_try_write((uv_stream_t *)&u->b->tcp, bufs, (unsigned)k);
    if (rv < 0 && rv != UV_EAGAIN) {
      buf_cleanup(data);
      fail(u, 502, "write to backend failed");
      return;
    }
    if (rv > 0) {
      size_t total = data->len;
      buf_consume(data, (size_t)rv);
      if (data->len == 0) {
        body_sent(u, body_bytes);
        return;
      }
      /* Body bytes are at the end of |data|; what went out first was
       * framing or head. Report the body part that left. */
      size_t gone = (size_t)rv, head = total - body_bytes;
      if (gone > head) {
        size_t rep = gone - head < body_bytes ? gone - head : body_bytes;
        body_sent(u, rep);
        body_bytes -= rep;
      }
    }
  }
  size_t n = buf_nchunks(data);
  struct bwreq *w = xmalloc(sizeof(*w) + n * sizeof(uv_buf_t));
  w->u = u;
  w->body_bytes = body_bytes;
  buf_init(&w->data, &u->lp->bufs);
  buf_take(&w->data, data);
  /* A write is one request head or one body piece from one client read
   * (at most 64 KB), so it never spans more than 64 chunks. */
  size_t done = buf_slices(&w->data, sl, n < ARRAY_SIZE(sl) ? n : ARRAY_SIZE(sl));
  for (size_t i = 0; i < done; i++)
    w->bufs[i] = uv_buf_init((char *)sl[i].base, (unsigned)sl[i].len);
  w->nbufs = (unsigned)done;
  if (uv_write(&w->req, (uv_stream_t *)&u->b->tcp, w->bufs, w->nbufs,
               on_write) != 0) {
    buf_cleanup(&w->data);
    free(w);
    fail(u, 502, "write to backend failed");
    return;
  }
  u->body_inflight += body_bytes;
  w->next = u->writes;
  u->writes = w;
}

static void send_head_and_queue(struct upstream *u) {
  struct buf copy;
  buf_init(&copy, &u->lp->bufs);
  struct iov sl[16];
  size_t n = buf_slices(&u->head, sl, ARRAY_SIZE(sl));
  for (size_t i = 0; i < n; i++)
    buf_append(&copy, sl[i].base, sl[i].len);
  bwrite(u, &copy, 0);
  if (u->b != NULL && u->body_q.len > 0) {
    size_t body = u->body_q.len;
    bwrite(u, &u->body_q, body);
  }
}

/* ---- reading the response -------------------------------------------- */

static struct upstream *from_parser(llhttp_t *p) { return p->data; }

static int on_message_begin(llhttp_t *p) {
  struct upstream *u = from_parser(p);
  http_fields_reset(&u->fields);
  return 0;
}

static int fields_rv(struct upstream *u, int rv) {
  if (rv == HTTP_FIELDS_TOO_BIG) {
    llhttp_set_error_reason(&u->parser, "response header too large");
    return -1;
  }
  if (rv == HTTP_FIELDS_INVALID) {
    llhttp_set_error_reason(&u->parser, "invalid response header field");
    return -1;
  }
  return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n) {
  struct upstream *u = from_parser(p);
  return fields_rv(u, http_fields_name(&u->fields, at, n));
}

static int on_header_field_complete(llhttp_t *p) {
  struct upstream *u = from_parser(p);
  return fields_rv(u, http_fields_name_end(&u->fields));
}

static int on_header_value(llhttp_t *p, const char *at, size_t n) {
  struct upstream *u = from_parser(p);
  return fields_rv(u, http_fields_value(&u->fields, at, n, u->read_start));
}

/* named_by_connection tells whether |h| is among the |ntok| tokens of the
 * Connection field (a few at most: compared by length first). */
static int named_by_connection(const struct iov *tok, size_t ntok,
                               const struct http_hdr *h) {
  for (size_t t = 0; t < ntok; t++) {
    if (tok[t].len == h->name_len &&
        util_memcaseeq((const char *)tok[t].base, h->name, h->name_len))
      return 1;
  }
  return 0;
}

/* export_fields copies the collector's fields minus hop-by-hop ones and
 * those the Connection field names. */
static size_t export_fields(struct upstream *u, struct http_hdr *out) {
  size_t n = u->fields.n, k = 0;
  http_fields_export(&u->fields, out);
  const struct http_hdr *conn = NULL;
  for (size_t i = 0; i < n; i++) {
    if (util_strcaseeq(out[i].name, out[i].name_len, "connection"))
      conn = &out[i];
  }
  /* The Connection field's tokens, split once; a long list is searched
   * per field instead. */
  struct iov tok[8];
  size_t ntok = 0;
  int long_list = 0;
  struct http_hdr connv = conn ? *conn : (struct http_hdr){0};
  if (conn != NULL) {
    size_t pos = 0, len;
    const char *item;
    while (http_list_next(connv.value, connv.value_len, &pos, &item, &len)) {
      if (ntok == ARRAY_SIZE(tok)) {
        long_list = 1;
        break;
      }
      tok[ntok++] = (struct iov){(const uint8_t *)item, len};
    }
  }
  for (size_t i = 0; i < n; i++) {
    if (http_is_hop_by_hop(out[i].name, out[i].name_len))
      continue;
    if (long_list ? http_token_listed(connv.value, connv.value_len,
                                      out[i].name, out[i].name_len)
                  : named_by_connection(tok, ntok, &out[i]))
      continue;
    out[k++] = out[i];
  }
  return k;
}

static int on_headers_complete(llhttp_t *p) {
  struct upstream *u = from_parser(p);
  int status = p->status_code;
  if (status == 101 || p->upgrade) {
    llhttp_set_error_reason(p, "backend tried to switch protocols");
    return -1;
  }
  /* RFC 9112 6.3: a response to HEAD and any 1xx, 204 or 304 response
   * ends with its head whatever Content-Length or Transfer-Encoding say
   * (a 304 may carry the representation's length). llhttp 8 leaves that
   * to the caller: returning 1 tells it there is no body. */
  if (status >= 100 && status < 200) {
    /* An interim response: the consumer sees it, the final one follows. */
    if (u->cb->on_info != NULL) {
      struct http_hdr hdrs[MAX_RESPONSE_FIELDS];
      size_t n = export_fields(u, hdrs);
      u->cb->on_info(u->ud, status, hdrs, n);
      if (u->dead)
        return HPE_PAUSED;
    }
    return 1;
  }
  if (status < 200 || status > 599) {
    llhttp_set_error_reason(p, "invalid response status");
    return -1;
  }
  u->status = status;
  struct http_hdr hdrs[MAX_RESPONSE_FIELDS];
  /* llhttp frames the body; the codings under the framing are the
   * consumer's to keep or refuse (upstream_transfer_codings). */
  http_fields_export(&u->fields, hdrs);
  enum http_te te = http_transfer_codings(hdrs, u->fields.n, u->codings,
                                          sizeof(u->codings));
  if (te == HTTP_TE_INVALID ||
      (te == HTTP_TE_CHUNKED) != ((p->flags & F_CHUNKED) != 0)) {
    llhttp_set_error_reason(p, "invalid Transfer-Encoding");
    return -1;
  }
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length > INT64_MAX) {
    /* llhttp takes any uint64; sinks and HTTP/2 take int64. */
    llhttp_set_error_reason(p, "Content-Length too large");
    return -1;
  }
  size_t n = export_fields(u, hdrs);
  int64_t cl = (p->flags & F_CONTENT_LENGTH) ? (int64_t)p->content_length : -1;
  if (status == 204 || status == 304)
    cl = -1;
  u->head_delivered = 1;
  buf_cleanup(&u->head); /* no retry once the backend has answered */
  if (u->pipelinable && u->b != NULL && !llhttp_should_keep_alive(p)) {
    u->b->pipe_stop = 1; /* the last answer: resend those behind */
    pipe_update(u->b);
  }
  u->cb->on_head(u->ud, status, hdrs, n, cl);
  http_fields_reset(&u->fields); /* trailers come next, if any */
  if (u->dead)
    return HPE_PAUSED;
  return u->is_head_req || status == 204 || status == 304 ? 1 : 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n) {
  struct upstream *u = from_parser(p);
  if (u->dead)
    return HPE_PAUSED;
  u->body_bytes += n;
  u->cb->on_body(u->ud, (const uint8_t *)at, n);
  return u->dead ? HPE_PAUSED : 0;
}

static int on_message_complete(llhttp_t *p) {
  struct upstream *u = from_parser(p);
  if (!u->head_delivered)
    return 0; /* end of an interim response */
  u->complete = 1;
  return HPE_PAUSED; /* anything after the response is not ours */
}

/* on_read_timeout: only the owner waits on the backend; those behind
 * it are resent if it fails. */
static void on_read_timeout(struct bconn *b) {
  struct upstream *u = b->owner;
  if (u != NULL && !u->paused)
    fail(u, 504, "backend read timeout");
}

/* Every read moves the deadline; pool.c's timer re-checks lazily. */
static void arm_read_timer(struct upstream *u) {
  if (u->b != NULL && !u->paused)
    pool_set_deadline(u->b, (uint64_t)u->cfg->backend_read_timeout);
}

/* can_retry: a pooled connection closed before any answer, or a
 * pipelined request's turn came and the connection closed. */
static int can_retry(struct upstream *u) {
  return u->b != NULL && (u->b->reused || u->was_pipelined) &&
         u->retryable == 1 && !u->got_bytes &&
         u->attempts < (u->was_pipelined ? 3 : 2);
}

static void on_read(struct bconn *b, ssize_t nread, const uint8_t *read_buf) {
  struct upstream *u = b->owner;
  if (u == NULL || nread == 0)
    return;
  if (nread < 0) {
    if (can_retry(u)) {
      /* The pooled connection was closed by the backend before it saw
       * our request: try once more on a fresh connection. */
      LOG_DEBUG("backend %s closed a pooled connection, retrying %s",
                u->server, u->what);
      if (u->was_pipelined) {
        u->lp->upstream_stats.pipeline_retries++;
        stop_pipelining(u);
      }
      release(u, 0);
      start_connect(u, 1);
      return;
    }
    if (nread == UV_EOF && u->head_delivered) {
      u->in_cb++;
      llhttp_errno_t e = llhttp_finish(&u->parser);
      u->in_cb--;
      if (u->dead) {
        if (u->in_cb == 0)
          upstream_free(u);
        return;
      }
      if ((e == HPE_OK || e == HPE_PAUSED) && u->complete) {
        finish(u);
        return;
      }
    }
    fail(u, 502, nread == UV_EOF ? "backend closed the connection early"
                                 : uv_strerror((int)nread));
    return;
  }
  const char *at = (const char *)read_buf, *end = at + nread;
  for (;;) {
    arm_read_timer(u);
    u->got_bytes = 1;
    u->read_start = at;
    u->in_cb++;
    llhttp_errno_t e = llhttp_execute(&u->parser, at, (size_t)(end - at));
    u->in_cb--;
    if (u->dead) {
      if (u->in_cb == 0)
        upstream_free(u);
      return;
    }
    if (!u->complete) {
      if (e != HPE_OK && u->was_pipelined && !u->head_delivered &&
          u->attempts < 3) {
        /* Not an answer: most likely the bytes the response before ours
         * did not announce. Ours is still unanswered; send it again. */
        LOG_WARN("backend %s: malformed response to pipelined %s (%s); "
                 "connection discarded, request sent again", u->server,
                 u->what, llhttp_get_error_reason(&u->parser));
        u->lp->upstream_stats.pipeline_retries++;
        stop_pipelining(u);
        release(u, 0);
        start_connect(u, 1);
        return;
      }
      if (e != HPE_OK) {
        char why[160];
        snprintf(why, sizeof(why), "malformed response: %s",
                 llhttp_get_error_reason(&u->parser));
        fail(u, 502, why);
      }
      return;
    }
    const char *pos = llhttp_get_error_pos(&u->parser);
    int extra = pos != NULL && pos < end;
    struct upstream *next = u->pipe_next;
    if (extra && next == NULL) {
      LOG_WARN("backend %s: bytes after the response to %s; connection "
               "discarded", u->server, u->what);
      u->parser.flags &= ~(unsigned)F_CONNECTION_KEEP_ALIVE;
      u->retryable = -1; /* marker: do not reuse */
    }
    finish(u); /* hands the connection to |next| if it may */
    /* The rest is the next response, unless finishing closed the
     * connection (its requests are resent) or on_end's consumer
     * abandoned |next|, which closes it too. */
    if (!extra || next == NULL || b->closing || b->owner != next)
      return;
    u = next;
    at = pos;
  }
}

static void finish(struct upstream *u) {
  int reuse = llhttp_should_keep_alive(&u->parser) && u->body_done &&
              u->body_inflight == 0 && u->retryable != -1;
  struct http_hdr tr[MAX_RESPONSE_FIELDS];
  size_t n = export_fields(u, tr);
  if (u->b != NULL)
    pool_server_ok(u->b, u->body_bytes);
  observe_latency(u);
  release(u, reuse);
  u->in_cb++;
  u->cb->on_end(u->ud, tr, n);
  u->in_cb--;
  upstream_free(u);
}

/* Failures before upstream_start returns are reported on a later loop
 * turn, so the consumer never sees a callback for an upstream it has not
 * been handed yet. One timer per loop serves every such upstream. */
static void on_deferred(uv_timer_t *t) {
  struct loop *lp = t->data;
  while (lp->upstream_deferred != NULL) {
    struct upstream *u = lp->upstream_deferred;
    lp->upstream_deferred = u->deferred_next;
    if (u->dead) {
      upstream_free(u);
      continue;
    }
    if (u->retry_pending) {
      u->retry_pending = 0;
      lp->upstream_stats.pipeline_retries++;
      start_connect(u, 1);
      continue;
    }
    u->cb->on_error(u->ud, u->deferred_status, u->deferred_why);
    upstream_free(u);
  }
}

/* defer puts |u| on the loop's deferred list, for on_deferred. */
static void defer(struct upstream *u) {
  struct loop *lp = u->lp;
  u->deferred_next = lp->upstream_deferred;
  lp->upstream_deferred = u;
  uv_timer_start(&lp->upstream_timer, on_deferred, 0, 0);
}

static void defer_fail(struct upstream *u, int status, const char *why) {
  u->deferred_status = status;
  u->deferred_why = why;
  defer(u);
}

/* resend: |u| was sent behind another request on a connection that will
 * not answer it; send it again from a later loop turn (the caller may be
 * inside another exchange's callback). */
static void resend(struct upstream *u) {
  stop_pipelining(u);
  if (u->attempts >= 3) {
    u->failed = 1;
    LOG_WARN("backend %s: connection closed before the answer to %s, "
             "sent %d times", u->server, u->what, u->attempts);
    defer_fail(u, 502, "backend closed the connection before answering");
    return;
  }
  u->retry_pending = 1;
  defer(u);
}

void upstream_loop_init(struct loop *lp) {
  uv_timer_init(lp->uv, &lp->upstream_timer);
  lp->upstream_timer.data = lp;
  uv_unref((uv_handle_t *)&lp->upstream_timer);
}

void upstream_loop_cleanup(struct loop *lp) {
  while (lp->upstream_free != NULL) {
    struct upstream *u = lp->upstream_free;
    lp->upstream_free = u->deferred_next;
    http_fields_cleanup(&u->fields);
    free(u);
  }
  lp->upstream_nfree = 0;
  if (!uv_is_closing((uv_handle_t *)&lp->upstream_timer))
    uv_close((uv_handle_t *)&lp->upstream_timer, NULL);
}

static void leave_queue(struct upstream *u) {
  if (!u->waiter.queued)
    return;
  pool_cancel_wait(&u->waiter);
  u->lp->upstream_stats.queued--;
}

static void fail(struct upstream *u, int status, const char *why) {
  if (u->failed)
    return;
  u->failed = 1;
  leave_queue(u);
  if (u->b != NULL && u->reading)
    pool_server_error(u->b); /* connect failures count in pool.c */
  if (u->starting) {
    if (!u->quiet)
      LOG_WARN("backend %s: %s (%s)", u->server[0] ? u->server : "-", why,
               u->what);
    release(u, 0);
    defer_fail(u, status, why);
    return;
  }
  if (!u->quiet)
    LOG_WARN("backend %s: %s (%s)%s", u->server[0] ? u->server : "-",
             why, u->what, u->head_delivered ? ", response cut short" : "");
  release(u, 0);
  if (u->in_cb > 0) {
    /* Deliver the error after the parser unwinds. */
    u->dead = 1;
  }
  u->cb->on_error(u->ud, status, why);
  if (!u->dead)
    upstream_free(u);
}

/* ---- connecting ------------------------------------------------------- */

static void on_ready(struct upstream *u) {
  pool_server_used(u->b);
  u->reading = 1;
  llhttp_init(&u->parser, HTTP_RESPONSE, &settings);
  u->parser.data = u;
  if (!u->follower) {
    u->paused = 0;
    arm_read_timer(u);
    pipe_update(u->b); /* before the write, which may fail and free |u| */
  }
  send_head_and_queue(u);
}

static void on_connected(struct bconn *b, int status) {
  struct upstream *u = b->owner;
  if (status == 0) {
    on_ready(u);
    return;
  }
  pool_server_failed(b);
  int backend_servers = u->cfg->backends[u->backend].nservers;
  if (status != UV_ETIMEDOUT && u->attempts < backend_servers) {
    LOG_WARN("backend %s: connect: %s; trying another server", u->server,
             uv_strerror(status));
    release(u, 0);
    start_connect(u, 1);
    return;
  }
  fail(u, status == UV_ETIMEDOUT ? 504 : 502,
       status == UV_ETIMEDOUT ? "backend connect timeout"
                              : uv_strerror(status));
}

/* use_conn: |b| is the upstream's connection from now on. */
static void use_conn(struct upstream *u, struct bconn *b) {
  u->b = b;
  u->server = pool_server_name(b);
  if (u->waiter.pipelined) {
    /* Behind the connection's owner and those already behind it: the
     * socket's write queue keeps the requests in this order. */
    struct upstream *t = b->owner;
    while (t->pipe_next != NULL)
      t = t->pipe_next;
    t->pipe_next = u;
    u->follower = u->was_pipelined = 1;
    u->lp->upstream_stats.pipelined++;
    on_ready(u);
    return;
  }
  b->on_timeout = on_read_timeout;
  if (b->connected)
    on_ready(u);
}

/* on_served: the pool's answer to a queued request (pool.h). */
static void on_served(struct pool_waiter *w, struct bconn *b, int err) {
  struct upstream *u = container_of(w, struct upstream, waiter);
  struct loop *lp = u->lp;
  lp->upstream_stats.queued--;
  if (b != NULL) {
    use_conn(u, b);
    return;
  }
  if (err == UV_ETIMEDOUT) {
    lp->upstream_stats.queue_timeouts++;
    fail(u, 503, "no connection free within timeouts.backend_queue (server "
                 "at limits.backend_max_connections); not sent");
    return;
  }
  fail(u, 502, uv_strerror(err));
}

static void start_connect(struct upstream *u, int fresh) {
  int err = 0;
  u->attempts++;
  struct bconn *b = pool_get(u->pool, u->backend, fresh, &u->waiter, &err);
  if (b != NULL) {
    use_conn(u, b);
    return;
  }
  if (err == 0) {
    /* Queued: the log names the server it waits for. */
    u->server = pool_waiter_server(&u->waiter);
    u->lp->upstream_stats.queued++;
    return;
  }
  if (err == UV_EBUSY) {
    /* A flood fills the queue: one line a second says so. */
    struct loop *lp = u->lp;
    lp->upstream_stats.queue_full++;
    u->server = pool_waiter_server(&u->waiter);
    unsigned held;
    if (log_limit_pass(&lp->upstream_queue_full_log, uv_now(lp->uv), 1000,
                       &held))
      LOG_WARN("backend %s: queue full (limits.backend_queue requests wait "
               "for a connection): 503 for %s (and %u more since the last "
               "line)", u->server, u->what, held);
    u->quiet = 1;
    fail(u, 503, "queue full");
    return;
  }
  fail(u, 502, uv_strerror(err));
}

/* Constant, so every loop thread shares it without initialising it. */
static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

struct upstream *upstream_start(struct pool *pool, int backend,
                                const struct http_req *req,
                                const struct upstream_cb *cb, void *ud) {
  struct loop *lp = pool_loop(pool);
  struct upstream *u = upstream_alloc(lp);
  u->lp = lp;
  u->server = "";
  u->pool = pool;
  pool_ref(pool);
  lp->upstream_stats.active++;
  u->start_ns = uv_hrtime();
  u->cfg = pool_config(pool);
  u->backend = backend;
  u->cb = cb;
  u->ud = ud;
  size_t ml = req->method_len < 20 ? req->method_len : 20;
  size_t pl = req->path_len < 120 ? req->path_len : 120;
  memcpy(u->what, req->method, ml);
  u->what[ml] = ' ';
  memcpy(u->what + ml + 1, req->path, pl);
  u->what[ml + 1 + pl] = '\0';
  buf_init(&u->head, &lp->bufs);
  buf_set_small_first(&u->head); /* kept until answered, for a resend */
  buf_init(&u->body_q, &lp->bufs);
  u->fields.max_size = MAX_RESPONSE_HEADER;
  u->fields.max_fields = MAX_RESPONSE_FIELDS;
  http_req_serialize(req, &u->head);
  u->has_body = req->has_body;
  u->body_done = !req->has_body;
  u->body_chunked = req->has_body && req->content_length < 0;
  u->is_head_req = req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0;
  u->retryable = http_method_idempotent(req->method, req->method_len) &&
                 !req->has_body;
  /* GET only: a HEAD's answer is where a backend most often sends bytes
   * its framing does not announce (a body), which would become the next
   * request's answer. */
  u->pipelinable = u->cfg->backend_pipeline > 1 && !req->has_body &&
                   req->method_len == 3 && memcmp(req->method, "GET", 3) == 0;
  u->waiter = (struct pool_waiter){.on_served = on_served,
                                   .connect_cb = on_connected,
                                   .read_cb = on_read,
                                   .owner = u,
                                   .pipelinable = u->pipelinable};
  u->starting = 1;
  start_connect(u, 0);
  u->starting = 0;
  return u;
}

void upstream_send_body(struct upstream *u, const uint8_t *p, size_t n) {
  if (n == 0 || u->failed)
    return;
  struct buf q;
  buf_init(&q, &u->lp->bufs);
  if (u->body_chunked) {
    char hdr[24];
    int k = snprintf(hdr, sizeof(hdr), "%zx\r\n", n);
    buf_append(&q, hdr, (size_t)k);
  }
  buf_append(&q, p, n);
  if (u->body_chunked)
    buf_append(&q, "\r\n", 2);
  if (u->b != NULL && u->b->connected && u->reading)
    bwrite(u, &q, n);
  else {
    buf_take(&u->body_q, &q);
  }
}

void upstream_end_body(struct upstream *u) {
  if (u->body_done || u->failed)
    return;
  u->body_done = 1;
  if (!u->body_chunked)
    return;
  struct buf q;
  buf_init(&q, &u->lp->bufs);
  buf_append(&q, "0\r\n\r\n", 5);
  if (u->b != NULL && u->b->connected && u->reading)
    bwrite(u, &q, 0);
  else
    buf_take(&u->body_q, &q);
}

size_t upstream_body_pending(const struct upstream *u) {
  return u->body_q.len + u->body_inflight;
}

void upstream_pause(struct upstream *u) {
  if (u->paused || u->b == NULL)
    return;
  u->paused = 1;
  if (u->follower)
    return; /* hand_off pauses the connection when its turn comes */
  pool_pause_read(u->b);
  pool_set_deadline(u->b, 0); /* waiting on the client, not the backend */
  pipe_update(u->b); /* nothing more behind a stalled response */
}

void upstream_resume(struct upstream *u) {
  if (!u->paused)
    return;
  u->paused = 0;
  if (u->b != NULL && !u->follower) {
    pool_resume_read(u->b);
    arm_read_timer(u);
    pipe_update(u->b);
  }
}

void upstream_cancel(struct upstream *u) {
  if (u == NULL || u->dead)
    return;
  leave_queue(u); /* the backend never sees it */
  release(u, 0);
  if ((u->failed && u->deferred_why != NULL) || u->retry_pending) {
    u->dead = 1; /* on the deferred list; freed there */
    return;
  }
  u->failed = 1;
  if (u->in_cb > 0) {
    u->dead = 1;
    return;
  }
  upstream_free(u);
}
