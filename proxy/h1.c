/* h1.c: the HTTP/1.1 front session of one client connection.
 *
 * llhttp parses requests strictly (no lenient flags). One request is
 * proxied at a time: when a request is complete the parser is paused, and
 * bytes a pipelining client sent meanwhile wait in |stash| (reading stops
 * while they do) until the response is finished, so responses go out in
 * request order without buffering responses. A request that herald
 * rejects is answered with a 4xx and "Connection: close": once framing is
 * in doubt, nothing more from that connection is trusted. */
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
#include "config/route.h"
#include "learner/recorder.h"
#include "learner/ruleset.h"
#include "proxy/access.h"
#include "proxy/conn.h"
#include "proxy/hints.h"
#include "proxy/record.h"
#include "proxy/loop.h"
#include "proxy/session.h"
#include "proxy/upstream.h"

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
  char url[MAX_URL];
  size_t url_len;
  const char *read_start;
  enum h1_state state;
  struct buf stash;  /* bytes after a complete request, parsed later */
  int parser_paused, next_ready, peer_eof, close_after;
  int reject_status;
  const char *reject_why;

  /* the request in progress */
  struct upstream *up;
  const char *backend; /* server that answered, pool-owned */
  int version;       /* 10 or 11 */
  int keepalive;
  int is_head;
  int64_t body_received;
  int read_paused_for_body, up_paused;
  int resp_started, resp_chunked, resp_done;
  int status;
  uint64_t bytes_sent, start_ms;
  char method[24];
  char authority[256];
  uint64_t requests;
  uint8_t client[16]; /* the request's client, once its head is read */
  int have_client;
  int hints;         /* Link fields in the 103 sent for this request */
  int recording;     /* |obs| is being filled for the recorder */
  struct obs obs;
  /* 103 Early Hints (proxy/hints.h): the request may get one; one went
   * out (never a second); the backend's first 103 was looked at; the
   * backend's declarations noted; where the path starts in |url|. */
  uint8_t early_ok, early_sent, backend_103, declared;
  size_t path_off, path_len;
};

static const struct upstream_cb up_cb;
static const llhttp_settings_t settings;

static struct h1_session *from_parser(llhttp_t *p) { return p->data; }

static void set_idle_timer(struct h1_session *s) {
  conn_set_timeout(s->c, (uint64_t)s->cfg->idle_timeout, "keep-alive idle");
  conn_set_idle(s->c, 1);
}

static void log_request(struct h1_session *s, int status) {
  char path[512];
  size_t n = s->url_len < sizeof(path) - 1 ? s->url_len : sizeof(path) - 1;
  memcpy(path, s->url, n);
  path[n] = '\0';
  access_log_request(s->c, &(struct access_entry){
      .client = s->have_client ? s->client : NULL,
      .proto = s->version == 10 ? "http/1.0" : "http/1.1",
      .method = s->method,
      .authority = s->authority,
      .path = path,
      .status = status,
      .bytes = s->bytes_sent,
      .ms = util_now_ms() - s->start_ms,
      .backend = s->up ? upstream_backend_name(s->up) : s->backend,
      .fields = &s->fields,
      .hints = s->hints,
  });
  if (status >= 100 && status < 600) {
    s->lp->stats.responses[status / 100]++;
    s->lp->stats.h1_responses[status / 100]++;
  }
  if (s->recording) {
    s->recording = 0;
    record_finish(&s->obs, s->bytes_sent, status == 0);
    recorder_post(s->lp->recorder, &s->obs);
  }
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
  s->bytes_sent = (uint64_t)bn;
  LOG_INFO("conn %llu %s: HTTP/1.1 %d: %s", (unsigned long long)conn_id(s->c),
           conn_peer(s->c), status, why);
  log_request(s, status);
  s->state = H1_DONE;
  s->close_after = 1;
  conn_close(s->c, 1);
}

/* ---- response path ---------------------------------------------------- */

static void answer_error(struct h1_session *s, int status);

static void up_head(void *ud, int status, const struct http_hdr *hdrs,
                    size_t n, int64_t content_length) {
  struct h1_session *s = ud;
  s->backend = upstream_backend_name(s->up);
  int bodyless = s->is_head || status == 204 || status == 304;
  const char *codings = upstream_transfer_codings(s->up);
  if (!bodyless && codings[0] != '\0' && s->version == 10) {
    /* HTTP/1.0 has no transfer codings: the coded bytes cannot be told
     * from a body, so the client gets none of them. */
    LOG_WARN("backend %s: transfer coding '%s' for an HTTP/1.0 client; 502",
             s->backend, codings);
    upstream_cancel(s->up);
    s->up = NULL;
    s->lp->stats.backend_errors++;
    answer_error(s, 502);
    return;
  }
  if (s->recording) {
    record_response(&s->obs, status, hdrs, n);
    hints_page_response(s->lp, &s->obs, hdrs, n, &s->declared);
  }
  struct buf out;
  buf_init(&out, &s->lp->bufs);
  char line[128];
  int k = snprintf(line, sizeof(line), "HTTP/1.%d %d %s\r\n",
                   s->version == 10 ? 0 : 1, status, http_status_reason(status));
  buf_append(&out, line, (size_t)k);
  for (size_t i = 0; i < n; i++) {
    buf_append(&out, hdrs[i].name, hdrs[i].name_len);
    buf_append(&out, ": ", 2);
    buf_append(&out, hdrs[i].value, hdrs[i].value_len);
    buf_append(&out, "\r\n", 2);
  }
  /* RFC 9110 7.6.3: a proxy adds itself to Via in both directions. */
  buf_append(&out, "Via: 1.1 herald\r\n", 17);
  if (!bodyless && content_length < 0) {
    if (s->version == 11) {
      /* Re-chunked here; the backend's own codings stay under it. */
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
  s->status = status;
  s->resp_started = 1;
}

static void up_body(void *ud, const uint8_t *p, size_t n) {
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
  s->bytes_sent += n;
  if (conn_write_blocked(s->c) && s->up != NULL) {
    upstream_pause(s->up);
    s->up_paused = 1;
  }
}

static void response_done(struct h1_session *s) {
  log_request(s, s->status);
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

static void up_end(void *ud, const struct http_hdr *tr, size_t n) {
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
  s->up = NULL;
  response_done(s);
}

static void up_error(void *ud, int status, const char *why) {
  struct h1_session *s = ud;
  (void)why;
  s->backend = upstream_backend_name(s->up);
  s->up = NULL;
  s->lp->stats.backend_errors++;
  if (status == 504)
    s->lp->stats.backend_timeouts++;
  answer_error(s, status);
}

/* answer_error ends the exchange whose upstream is gone: a short error
 * response, or a cut connection if the response had started. */
static void answer_error(struct h1_session *s, int status) {
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
  s->status = status;
  s->bytes_sent = (uint64_t)bn;
  s->resp_started = 1;
  response_done(s);
}

static void up_body_sent(void *ud, size_t n) {
  struct h1_session *s = ud;
  (void)n;
  if (s->read_paused_for_body && s->up != NULL &&
      upstream_body_pending(s->up) < BODY_HIGH_WATER / 4) {
    s->read_paused_for_body = 0;
    conn_resume_read(s->c);
  }
}

/* write_early writes the request's one 103 Early Hints with the Link
 * fields of |e|. Returns 1 when it went out. */
static int write_early(struct h1_session *s, const struct hints_early *e) {
  if (s->early_sent || e->n == 0)
    return 0;
  conn_write(s->c, "HTTP/1.1 103 Early Hints\r\n", 26);
  for (size_t i = 0; i < e->n; i++) {
    conn_write(s->c, "Link: ", 6);
    conn_write(s->c, e->link[i], e->len[i]);
    conn_write(s->c, "\r\n", 2);
  }
  conn_write(s->c, "\r\n", 2);
  s->early_sent = 1;
  s->hints = (int)e->n;
  return 1;
}

/* up_info: a backend's interim response. Only its first 103 matters,
 * and only as hints.h says; 100, 102 and the rest never go on. */
static void up_info(void *ud, int status, const struct http_hdr *hdrs,
                    size_t n) {
  struct h1_session *s = ud;
  if (status != 103 || s->backend_103 || s->resp_started)
    return;
  s->backend_103 = 1;
  struct hints_early e;
  if (hints_backend_103(s->lp, s->cfg, s->recording ? &s->obs : NULL,
                        s->early_ok, s->early_sent, conn_is_tls(s->c), s->authority,
                        strlen(s->authority),
                        s->path_len ? s->url + s->path_off : "/",
                        s->path_len ? s->path_len : 1, hdrs, n,
                        &s->declared, &e))
    write_early(s, &e);
}

static const struct upstream_cb up_cb = {
    .on_info = up_info,
    .on_head = up_head,
    .on_body = up_body,
    .on_end = up_end,
    .on_error = up_error,
    .on_body_sent = up_body_sent,
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
  s->status = 0;
  s->bytes_sent = 0;
  s->body_received = 0;
  s->method[0] = s->authority[0] = '\0';
  s->backend = NULL;
  s->recording = 0;
  s->early_ok = s->early_sent = s->backend_103 = s->declared = 0;
  s->have_client = 0;
  s->hints = 0;
  s->start_ms = util_now_ms();
  conn_set_idle(s->c, 0);
  conn_set_timeout(s->c, (uint64_t)s->cfg->header_timeout,
                   "request header");
  return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n) {
  struct h1_session *s = from_parser(p);
  if (s->url_len + n > sizeof(s->url))
    return reject(s, 414, "request target too long");
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

/* send_hints writes one 103 Early Hints for a navigation whose page has
 * hint rules (only when [deliver] hints_http1 is on; see proxy/hints.h). */
static void send_hints(struct h1_session *s, const struct http_req *req) {
  const struct ruleset_page *p = NULL;
  uint64_t named = 0;
  /* HTTP/1.1 has no push: in push-only mode these clients get nothing. */
  enum hints_action a = hints_decide(s->lp, s->cfg, req,
                                     s->recording ? &s->obs : NULL, s->c,
                                     s->requests, 0, &p, &named);
  if (a == HINTS_VERIFY)
    s->early_ok = 0; /* the page alone decides: no backend 103 either */
  if (a != HINTS_EARLY)
    return;
  struct hints_early e;
  if (hints_compose(p, named, NULL, 0, &e) > 0 && write_early(s, &e))
    s->lp->stats.hints_sent++;
}

static int on_headers_complete(llhttp_t *p) {
  struct h1_session *s = from_parser(p);
  const struct config *cfg = s->cfg;
  s->lp->stats.requests++;
  s->lp->stats.h1_requests++;
  s->requests++;
  snprintf(s->method, sizeof(s->method), "%s",
           llhttp_method_name((llhttp_method_t)p->method));
  if (p->http_major != 1 || p->http_minor > 1)
    return reject(s, 505, "unsupported HTTP version");
  s->version = p->http_minor == 0 ? 10 : 11;
  s->keepalive = llhttp_should_keep_alive(p);
  s->is_head = p->method == HTTP_HEAD;
  if (p->method == HTTP_CONNECT)
    return reject(s, 501, "CONNECT is not supported");

  struct http_hdr stack_hdrs[128];
  struct http_hdr *hdrs = s->fields.n <= ARRAY_SIZE(stack_hdrs)
                              ? stack_hdrs
                              : xmalloc(s->fields.n * sizeof(*hdrs));
  http_fields_export(&s->fields, hdrs);
  int trusted = conn_request_client(s->c, hdrs, s->fields.n, s->client);
  s->have_client = 1;
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
  /* "http://host" without a path asks for "/", which is not in |url|. */
  int in_url = path >= s->url && path < s->url + s->url_len;
  s->path_off = in_url ? (size_t)(path - s->url) : 0;
  s->path_len = in_url ? path_len : 0;
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
      .client = s->client,
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
  size_t hostlen = http_authority_host_len(auth, auth_len);
  int backend = route_pick(cfg, auth, hostlen, path, path_len);
  s->state = req.has_body ? H1_BODY : H1_WAIT;
  if (req.has_body)
    conn_set_timeout(s->c, (uint64_t)cfg->idle_timeout, "request body");
  else
    conn_set_timeout(s->c, 0, NULL);
  struct recorder *rec = s->lp->recorder;
  if (recorder_enabled(rec)) {
    s->recording = 1;
    record_request(&s->obs, s->c, s->requests, &req);
    if (record_maybe_navigation(&s->obs)) {
      s->obs.kind = OBS_NAV_START;
      recorder_post(rec, &s->obs);
    }
  }
  /* HTTP/1.0 clients know no 1xx; HTTP/1.1 ones get one only with
   * hints_http1. */
  s->early_ok = (uint8_t)hints_may_send(s->cfg, &req,
                                        s->recording ? &s->obs : NULL, s->c,
                                        s->requests);
  s->up = upstream_start(conn_pool(s->c), backend, &req, &up_cb, s);
  if (s->lp->rules != NULL && s->early_ok)
    send_hints(s, &req);
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
  if (s->up == NULL)
    return 0; /* answered already; the body is read and dropped */
  upstream_send_body(s->up, (const uint8_t *)at, n);
  if (upstream_body_pending(s->up) > BODY_HIGH_WATER &&
      !s->read_paused_for_body) {
    s->read_paused_for_body = 1;
    conn_pause_read(s->c);
  }
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  struct h1_session *s = from_parser(p);
  conn_set_timeout(s->c, 0, NULL);
  if (s->up != NULL)
    upstream_end_body(s->up);
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
  if (s->up != NULL) {
    upstream_cancel(s->up);
    s->up = NULL;
  }
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
  if (s->up_paused && s->up != NULL) {
    s->up_paused = 0;
    upstream_resume(s->up);
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
    if (s->up != NULL) {
      upstream_cancel(s->up);
      s->up = NULL;
    }
    s->state = H1_DONE;
    conn_close(s->c, s->resp_done);
  } else if (s->state == H1_HEAD) {
    LOG_INFO("conn %llu %s: client closed mid-request",
             (unsigned long long)conn_id(s->c), conn_peer(s->c));
  }
}

static void h1_free(void *sp) {
  struct h1_session *s = sp;
  if (s->up != NULL)
    upstream_cancel(s->up);
  http_fields_cleanup(&s->fields);
  buf_cleanup(&s->stash);
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
