/* h1.c: the HTTP/1.1 front session of one client connection.
 *
 * llhttp parses requests strictly (no lenient flags). One request is
 * proxied at a time: when a request is complete the parser is paused, and
 * bytes a pipelining client sent meanwhile wait in |stash| (reading stops
 * while they do) until the response is finished, so responses go out in
 * request order without buffering responses. A request that herald
 * rejects is answered with a 4xx and "Connection: close": once framing is
 * in doubt, nothing more from that connection is trusted.
 *
 * What happens to a request once its head is valid (routing, recording,
 * the upstream, 103s, the log line) is its exchange's (proxy/exchange.h);
 * this file is its sink: it frames heads, bodies and 103s as HTTP/1.1. */
#include <inttypes.h>
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/client.h"
#include "base/http.h"
#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "proxy/conn.h"
#include "proxy/exchange.h"
#include "proxy/hints.h"
#include "proxy/loop.h"
#include "proxy/session.h"

#define MAX_URL 8192
#define BODY_HIGH_WATER (256 * 1024)
#define STASH_MAX 65536

enum h1_state { H1_IDLE, H1_HEAD, H1_BODY, H1_WAIT, H1_DONE };

struct h1_session {
  struct conn *c;
  struct loop *lp;
  const struct config *cfg; /* the connection's (conn_config) */
  llhttp_t parser;
  struct http_fields fields;
  char *url;                /* request target, grown to at most MAX_URL */
  size_t url_len, url_cap;
  const char *read_start;
  enum h1_state state;
  struct buf stash;  /* bytes after a complete request, parsed later */
  int parser_paused, next_ready, peer_eof, close_after;
  int reject_status;
  const char *reject_why;

  /* the request in progress */
  struct exchange x;
  int version;       /* 10 or 11 */
  int keepalive;
  int64_t body_received;
  int read_paused_for_body, up_paused;
  int resp_started, resp_chunked, resp_done;
  char method[24];
  char authority[256];
  uint64_t requests;
};

static const struct exchange_sink sink;
static const llhttp_settings_t settings;

static struct h1_session *from_parser(llhttp_t *p) { return p->data; }

static void set_idle_timer(struct h1_session *s) {
  conn_set_timeout(s->c, (uint64_t)s->cfg->idle_timeout, "keep-alive idle");
  conn_set_idle(s->c, 1);
}

/* new_exchange readies the exchange of the next request. */
static void new_exchange(struct h1_session *s) {
  exchange_init(&s->x, s->c, &sink, s);
  s->x.method = s->method;
  s->x.authority = s->authority;
  s->x.fields = &s->fields;
  s->x.version = 11;
}

/* log_request ends the exchange: |status| 0 when the response was cut. */
static void log_request(struct h1_session *s, int status) {
  char path[512];
  size_t n = s->url_len < sizeof(path) - 1 ? s->url_len : sizeof(path) - 1;
  if (n > 0)
    memcpy(path, s->url, n);
  path[n] = '\0';
  s->x.path = path;
  s->x.path_len = n;
  s->x.proto = s->version == 10 ? "http/1.0" : "http/1.1";
  exchange_close(&s->x, &(struct exchange_outcome){.status = status,
                                                   .cut = status == 0});
  s->x.path = "";
  s->x.path_len = 0;
}

/* send_error answers with a short text response and closes afterwards. */
static void send_error(struct h1_session *s, int status, const char *why) {
  char buf[512];
  char body[96];
  int bn = snprintf(body, sizeof(body), "%d %s\n", status,
                    http_status_reason(status));
  int n = snprintf(buf, sizeof(buf),
                   "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
                   "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
                   status, http_status_reason(status), bn, body);
  conn_write(s->c, buf, (size_t)n);
  s->x.status = status;
  s->x.bytes_sent = (uint64_t)bn;
  LOG_INFO("conn %llu %s: HTTP/1.1 %d: %s", (unsigned long long)conn_id(s->c),
           conn_peer(s->c), status, why);
  log_request(s, status);
  s->state = H1_DONE;
  s->close_after = 1;
  conn_close(s->c, 1);
}

/* ---- response path ---------------------------------------------------- */

static void sink_head(void *ud, int status, const struct http_hdr *hdrs,
                      size_t n, const struct http_hdr *extra, size_t nextra,
                      int64_t content_length, int bodyless) {
  struct h1_session *s = ud;
  struct buf out;
  buf_init(&out, &s->lp->bufs);
  char line[128];
  int k = snprintf(line, sizeof(line), "HTTP/1.%d %d %s\r\n",
                   s->version == 10 ? 0 : 1, status, http_status_reason(status));
  buf_append(&out, line, (size_t)k);
  for (size_t j = 0; j < 2; j++) {
    const struct http_hdr *h = j == 0 ? hdrs : extra;
    for (size_t i = 0; i < (j == 0 ? n : nextra); i++) {
      buf_append(&out, h[i].name, h[i].name_len);
      buf_append(&out, ": ", 2);
      buf_append(&out, h[i].value, h[i].value_len);
      buf_append(&out, "\r\n", 2);
    }
  }
  if (!bodyless && content_length < 0) {
    if (s->version == 11) {
      /* Re-chunked here; the backend's own codings stay under it. */
      const char *codings = exchange_transfer_codings(&s->x);
      buf_append(&out, "Transfer-Encoding: ", 19);
      if (codings[0] != '\0') {
        buf_append(&out, codings, strlen(codings));
        buf_append(&out, ", ", 2);
      }
      buf_append(&out, "chunked\r\n", 9);
      s->resp_chunked = 1;
    } else {
      s->keepalive = 0; /* the body ends when the connection does */
    }
  }
  if (s->lp->draining || s->requests >= (uint64_t)s->cfg->max_requests_per_conn)
    s->keepalive = 0;
  if (!s->keepalive)
    buf_append(&out, "Connection: close\r\n", 19);
  else if (s->version == 10)
    buf_append(&out, "Connection: keep-alive\r\n", 24);
  buf_append(&out, "\r\n", 2);
  const uint8_t *p;
  size_t len;
  while ((len = buf_peek(&out, &p)) > 0) {
    conn_write(s->c, p, len);
    buf_consume(&out, len);
  }
  s->resp_started = 1;
}

static void sink_body(void *ud, const uint8_t *p, size_t n) {
  struct h1_session *s = ud;
  if (s->resp_chunked) {
    char hdr[24];
    int k = snprintf(hdr, sizeof(hdr), "%zx\r\n", n);
    conn_write(s->c, hdr, (size_t)k);
    conn_write(s->c, p, n);
    conn_write(s->c, "\r\n", 2);
  } else {
    conn_write(s->c, p, n);
  }
  exchange_sent(&s->x, n);
  if (conn_write_blocked(s->c) && exchange_busy(&s->x)) {
    exchange_pause(&s->x);
    s->up_paused = 1;
  }
}

static void response_done(struct h1_session *s) {
  log_request(s, s->x.status);
  s->resp_done = 1;
  if (!s->keepalive || s->peer_eof) {
    s->state = H1_DONE;
    s->close_after = 1;
    conn_close(s->c, 1);
    return;
  }
  if (s->state == H1_WAIT) {
    /* Parse the next pipelined request after this loop turn, so the stack
     * unwinds out of the upstream first. */
    s->next_ready = 1;
    conn_mark_dirty(s->c);
  }
  /* Still receiving the body of a request answered early: keep reading;
   * the next request starts when the body ends. */
}

static void sink_end(void *ud, const struct http_hdr *tr, size_t n) {
  struct h1_session *s = ud;
  if (s->resp_chunked) {
    conn_write(s->c, "0\r\n", 3);
    for (size_t i = 0; i < n; i++) {
      conn_write(s->c, tr[i].name, tr[i].name_len);
      conn_write(s->c, ": ", 2);
      conn_write(s->c, tr[i].value, tr[i].value_len);
      conn_write(s->c, "\r\n", 2);
    }
    conn_write(s->c, "\r\n", 2);
  }
  response_done(s);
}

/* sink_error ends the exchange whose upstream is gone: a short error
 * response, or a cut connection if the response had started. */
static void sink_error(void *ud, int status) {
  struct h1_session *s = ud;
  if (s->resp_started) {
    /* A cut-short body can only be signalled by closing without the
     * last chunk (or before Content-Length bytes): never pretend. */
    log_request(s, 0);
    s->state = H1_DONE;
    conn_close(s->c, 0);
    return;
  }
  char buf[256], body[64];
  int bn = snprintf(body, sizeof(body), "%d %s\n", status,
                    http_status_reason(status));
  /* If the request body is still arriving we cannot find the next
   * request's start without reading it all: close instead. */
  if (s->state != H1_WAIT)
    s->keepalive = 0;
  int n = snprintf(buf, sizeof(buf),
                   "HTTP/1.%d %d %s\r\nContent-Type: text/plain\r\n"
                   "Content-Length: %d\r\n%s\r\n%s",
                   s->version == 10 ? 0 : 1, status,
                   http_status_reason(status), bn,
                   s->keepalive ? "" : "Connection: close\r\n", body);
  conn_write(s->c, buf, (size_t)n);
  s->x.status = status;
  s->x.bytes_sent = (uint64_t)bn;
  s->resp_started = 1;
  response_done(s);
}

static void sink_body_sent(void *ud, size_t n) {
  struct h1_session *s = ud;
  (void)n;
  if (s->read_paused_for_body && exchange_busy(&s->x) &&
      exchange_body_pending(&s->x) < BODY_HIGH_WATER / 4) {
    s->read_paused_for_body = 0;
    conn_resume_read(s->c);
  }
}

/* sink_early writes the request's 103 Early Hints with the Link fields
 * of |e|. */
static int sink_early(void *ud, const struct hints_early *e) {
  struct h1_session *s = ud;
  conn_write(s->c, "HTTP/1.1 103 Early Hints\r\n", 26);
  for (size_t i = 0; i < e->n; i++) {
    conn_write(s->c, "Link: ", 6);
    conn_write(s->c, e->link[i], e->len[i]);
    conn_write(s->c, "\r\n", 2);
  }
  conn_write(s->c, "\r\n", 2);
  return 0;
}

/* HTTP/1.1 has no push: reset, push_room and promise stay NULL. */
static const struct exchange_sink sink = {
    .head = sink_head,
    .body = sink_body,
    .end = sink_end,
    .error = sink_error,
    .early = sink_early,
    .body_sent = sink_body_sent,
};

/* ---- request path ----------------------------------------------------- */

static int reject(struct h1_session *s, int status, const char *why) {
  s->reject_status = status;
  s->reject_why = why;
  llhttp_set_error_reason(&s->parser, why);
  return -1;
}

static int on_message_begin(llhttp_t *p) {
  struct h1_session *s = from_parser(p);
  http_fields_reset(&s->fields);
  s->url_len = 0;
  s->state = H1_HEAD;
  s->resp_started = s->resp_chunked = s->resp_done = 0;
  s->up_paused = 0;
  s->body_received = 0;
  s->method[0] = s->authority[0] = '\0';
  new_exchange(s);
  conn_set_idle(s->c, 0);
  conn_set_timeout(s->c, (uint64_t)s->cfg->header_timeout,
                   "request header");
  return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n) {
  struct h1_session *s = from_parser(p);
  /* llhttp may report an empty piece ("CONNECT \r\n"): nothing to keep,
   * and s->url may still be NULL. */
  if (n == 0)
    return 0;
  if (s->url_len + n > MAX_URL)
    return reject(s, 414, "request target too long");
  if (s->url_len + n > s->url_cap) {
    /* Most targets are short: an idle connection keeps a small one. */
    size_t cap = s->url_cap ? s->url_cap : 256;
    while (cap < s->url_len + n)
      cap *= 2;
    s->url = xrealloc(s->url, cap);
    s->url_cap = cap;
  }
  memcpy(s->url + s->url_len, at, n);
  s->url_len += n;
  return 0;
}

static int fields_rv(struct h1_session *s, int rv) {
  if (rv == HTTP_FIELDS_TOO_BIG)
    return reject(s, 431, "request header fields too large");
  if (rv == HTTP_FIELDS_INVALID)
    return reject(s, 400, "invalid header field (bad or empty name, or "
                          "obs-fold)");
  return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n) {
  struct h1_session *s = from_parser(p);
  return fields_rv(s, http_fields_name(&s->fields, at, n));
}

static int on_header_field_complete(llhttp_t *p) {
  struct h1_session *s = from_parser(p);
  return fields_rv(s, http_fields_name_end(&s->fields));
}

static int on_header_value(llhttp_t *p, const char *at, size_t n) {
  struct h1_session *s = from_parser(p);
  return fields_rv(s, http_fields_value(&s->fields, at, n, s->read_start));
}

static int on_headers_complete(llhttp_t *p) {
  struct h1_session *s = from_parser(p);
  const struct config *cfg = s->cfg;
  exchange_count(&s->x);
  s->requests++;
  snprintf(s->method, sizeof(s->method), "%s",
           llhttp_method_name((llhttp_method_t)p->method));
  if (p->http_major != 1 || p->http_minor > 1)
    return reject(s, 505, "unsupported HTTP version");
  s->version = p->http_minor == 0 ? 10 : 11;
  s->keepalive = llhttp_should_keep_alive(p);
  if (p->method == HTTP_CONNECT)
    return reject(s, 501, "CONNECT is not supported");

  struct http_hdr stack_hdrs[128];
  struct http_hdr *hdrs = s->fields.n <= ARRAY_SIZE(stack_hdrs)
                              ? stack_hdrs
                              : xmalloc(s->fields.n * sizeof(*hdrs));
  http_fields_export(&s->fields, hdrs);
  int trusted = conn_request_client(s->c, hdrs, s->fields.n, s->x.client);
  s->x.have_client = 1;
  const char *path = s->url, *auth = NULL;
  size_t path_len = s->url_len, auth_len = 0;
  int hosts = 0;
  for (size_t i = 0; i < s->fields.n; i++) {
    if (util_strcaseeq(hdrs[i].name, hdrs[i].name_len, "host")) {
      hosts++;
      auth = hdrs[i].value;
      auth_len = hdrs[i].value_len;
    }
  }
  /* Absolute-form (RFC 9112 3.2.2): the target's authority wins. */
  size_t skip = 0;
  if (path_len > 7 && strncasecmp(path, "http://", 7) == 0)
    skip = 7;
  else if (path_len > 8 && strncasecmp(path, "https://", 8) == 0)
    skip = 8;
  if (skip) {
    const char *slash = memchr(path + skip, '/', path_len - skip);
    auth = path + skip;
    auth_len = slash ? (size_t)(slash - auth) : path_len - skip;
    path = slash ? slash : "/";
    path_len = slash ? s->url_len - (size_t)(slash - s->url) : 1;
  }
  /* Framing comes from llhttp's flags; herald reads the codings itself
   * too, and both must agree that chunked is the one final coding (RFC
   * 9112 6.1), before anything is forwarded. llhttp 8 only refuses the
   * other cases after this callback, when the head is already sent. */
  char codings[128];
  enum http_te te = http_transfer_codings(hdrs, s->fields.n, codings,
                                          sizeof(codings));
  int te_ok = te == HTTP_TE_NONE
                  ? !(p->flags & F_TRANSFER_ENCODING)
                  : te == HTTP_TE_CHUNKED && (p->flags & F_CHUNKED) &&
                        s->version == 11;
  int status = 0;
  const char *why = NULL;
  if (!te_ok) {
    status = 400, why = s->version == 11
                            ? "Transfer-Encoding must end in chunked"
                            : "Transfer-Encoding in an HTTP/1.0 request";
  } else if (hosts > 1) {
    status = 400, why = "more than one Host field";
  } else if (auth == NULL && s->version == 11) {
    status = 400, why = "no Host field";
  } else if (auth != NULL && !http_authority_valid(auth, auth_len)) {
    status = 400, why = "invalid Host";
  } else if (!http_path_valid(path, path_len, p->method == HTTP_OPTIONS)) {
    status = 400, why = "invalid request target";
  } else if ((p->flags & F_CONTENT_LENGTH) &&
             p->content_length > (uint64_t)cfg->max_request_body) {
    status = 413, why = "request body larger than limits.max_request_body";
  }
  if (status != 0) {
    if (hdrs != stack_hdrs)
      free(hdrs);
    return reject(s, status, why);
  }
  if (auth == NULL) {
    auth = "localhost";
    auth_len = 9;
  }
  snprintf(s->authority, sizeof(s->authority), "%.*s", (int)auth_len, auth);
  int chunked = (p->flags & F_CHUNKED) != 0;
  int64_t cl = (p->flags & F_CONTENT_LENGTH) ? (int64_t)p->content_length : -1;
  struct http_req req = {
      .method = s->method,
      .method_len = strlen(s->method),
      .path = path,
      .path_len = path_len,
      .authority = auth,
      .authority_len = auth_len,
      .https = conn_is_tls(s->c),
      .version = s->version,
      .hdrs = hdrs,
      .nhdrs = s->fields.n,
      .content_length = chunked ? -1 : cl,
      .has_body = chunked || cl > 0,
      .transfer_codings = codings,
      .client_addr = conn_peer(s->c),
      .forwarded_trusted = trusted,
      .client = s->x.client,
  };
  /* Upgrade is never forwarded (it is hop-by-hop and dropped from the
   * request); keep parsing this connection as HTTP/1.1. */
  p->upgrade = 0;
  for (size_t i = 0; i < s->fields.n; i++) {
    if (req.has_body && s->version == 11 &&
        util_strcaseeq(hdrs[i].name, hdrs[i].name_len, "expect") &&
        util_strcaseeq(hdrs[i].value, hdrs[i].value_len, "100-continue"))
      conn_write(s->c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
  }
  s->state = req.has_body ? H1_BODY : H1_WAIT;
  if (req.has_body)
    conn_set_timeout(s->c, (uint64_t)cfg->idle_timeout, "request body");
  else
    conn_set_timeout(s->c, 0, NULL);
  s->x.id = s->requests;
  s->x.version = s->version;
  s->x.codings_ok = s->version == 11;
  exchange_start(&s->x, &req);
  if (hdrs != stack_hdrs)
    free(hdrs);
  return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n) {
  struct h1_session *s = from_parser(p);
  s->body_received += (int64_t)n;
  if (s->body_received > s->cfg->max_request_body)
    return reject(s, 413, "request body larger than limits.max_request_body");
  conn_set_timeout(s->c, (uint64_t)s->cfg->idle_timeout, "request body");
  if (!exchange_busy(&s->x))
    return 0; /* answered already; the body is read and dropped */
  exchange_send_body(&s->x, (const uint8_t *)at, n);
  if (exchange_body_pending(&s->x) > BODY_HIGH_WATER &&
      !s->read_paused_for_body) {
    s->read_paused_for_body = 1;
    conn_pause_read(s->c);
  }
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  struct h1_session *s = from_parser(p);
  conn_set_timeout(s->c, 0, NULL);
  exchange_end_body(&s->x);
  s->state = H1_WAIT;
  if (s->resp_done) {
    /* The response finished before the body did: move on now. */
    s->next_ready = 1;
    conn_mark_dirty(s->c);
  }
  return HPE_PAUSED;
}

/* Constant, so every loop thread shares it without initialising it. */
static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* parse runs llhttp over |p| and handles pausing and errors. */
static int parse(struct h1_session *s, const uint8_t *p, size_t n) {
  s->read_start = (const char *)p;
  llhttp_errno_t e = llhttp_execute(&s->parser, (const char *)p, n);
  if (e == HPE_OK)
    return 0;
  if (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) {
    const char *pos = llhttp_get_error_pos(&s->parser);
    size_t used = pos ? (size_t)(pos - (const char *)p) : n;
    s->parser_paused = 1;
    if (used < n) {
      buf_append(&s->stash, p + used, n - used);
      if (s->stash.len >= STASH_MAX)
        conn_pause_read(s->c);
    }
    return 0;
  }
  int status = s->reject_status ? s->reject_status : 400;
  const char *why = s->reject_why ? s->reject_why
                                  : llhttp_get_error_reason(&s->parser);
  exchange_cancel(&s->x);
  if (s->resp_started) {
    conn_close(s->c, 0);
    return -1;
  }
  if (s->state == H1_IDLE && s->url_len == 0 && s->fields.n == 0 &&
      e == HPE_INVALID_METHOD && status == 400)
    why = "invalid request line";
  send_error(s, status, why);
  return 0;
}

static int h1_recv(void *sp, const uint8_t *p, size_t n) {
  struct h1_session *s = sp;
  if (s->state == H1_DONE)
    return 0;
  if (s->parser_paused) {
    buf_append(&s->stash, p, n);
    if (s->stash.len >= STASH_MAX)
      conn_pause_read(s->c);
    return 0;
  }
  return parse(s, p, n);
}

/* next_request resumes the parser on what the client already sent. */
static void next_request(struct h1_session *s) {
  s->next_ready = 0;
  s->state = H1_IDLE;
  s->parser_paused = 0;
  new_exchange(s);
  llhttp_resume(&s->parser);
  set_idle_timer(s);
  if (s->lp->draining) {
    s->state = H1_DONE;
    conn_close(s->c, 1);
    return;
  }
  struct buf pending;
  buf_init(&pending, &s->lp->bufs);
  buf_take(&pending, &s->stash);
  while (pending.len > 0 && !s->parser_paused && s->state != H1_DONE) {
    const uint8_t *p;
    size_t k = buf_peek(&pending, &p);
    /* Copy the slice out: parse may stash into s->stash, never into
     * |pending|, so the slice stays valid through the call. */
    if (parse(s, p, k) < 0)
      break;
    if (s->parser_paused) {
      buf_consume(&pending, k);
      /* What parse stashed came from this slice; the rest of |pending|
       * follows it. */
      buf_take(&s->stash, &pending);
      break;
    }
    buf_consume(&pending, k);
  }
  buf_cleanup(&pending);
  if (!s->parser_paused && !s->peer_eof)
    conn_resume_read(s->c);
  if (s->peer_eof && s->state == H1_IDLE) {
    s->state = H1_DONE;
    conn_close(s->c, 1);
  }
}

static void h1_produce(void *sp) {
  struct h1_session *s = sp;
  if (s->next_ready && s->state == H1_WAIT)
    next_request(s);
}

static void h1_writable(void *sp) {
  struct h1_session *s = sp;
  if (s->up_paused && exchange_busy(&s->x)) {
    s->up_paused = 0;
    exchange_resume(&s->x);
  }
}

static int h1_done(void *sp) {
  struct h1_session *s = sp;
  return s->state == H1_DONE ||
         (s->peer_eof && (s->state == H1_IDLE || s->state == H1_HEAD) &&
          s->stash.len == 0);
}

static void h1_shutdown(void *sp) {
  struct h1_session *s = sp;
  if (s->state == H1_IDLE) {
    s->state = H1_DONE;
    conn_close(s->c, 1);
  }
  /* Otherwise the response in progress carries "Connection: close". */
}

static void h1_eof(void *sp) {
  struct h1_session *s = sp;
  s->peer_eof = 1;
  if (s->state == H1_BODY) {
    /* The client went away mid-body: the request can never complete,
     * even when its response went out already (the body would have been
     * read to its end first, to find the next request). A response that
     * is complete is still flushed to it. */
    exchange_cancel(&s->x);
    s->state = H1_DONE;
    conn_close(s->c, s->resp_done);
  } else if (s->state == H1_HEAD) {
    LOG_INFO("conn %llu %s: client closed mid-request",
             (unsigned long long)conn_id(s->c), conn_peer(s->c));
  }
}

static void h1_free(void *sp) {
  struct h1_session *s = sp;
  exchange_cleanup(&s->x);
  http_fields_cleanup(&s->fields);
  buf_cleanup(&s->stash);
  free(s->url);
  free(s);
}

void *h1_session_new(struct conn *c) {
  struct h1_session *s = xcalloc(1, sizeof(*s));
  s->c = c;
  s->lp = conn_loop(c);
  s->cfg = conn_config(c);
  llhttp_init(&s->parser, HTTP_REQUEST, &settings);
  s->parser.data = s;
  http_fields_init(&s->fields, (size_t)s->cfg->max_header_list_size,
                   (size_t)s->cfg->max_header_fields);
  buf_init(&s->stash, &s->lp->bufs);
  new_exchange(s);
  set_idle_timer(s);
  return s;
}

const struct session_ops h1_session_ops = {
    .recv = h1_recv,
    .produce = h1_produce,
    .writable = h1_writable,
    .done = h1_done,
    .shutdown = h1_shutdown,
    .eof = h1_eof,
    .free = h1_free,
};
