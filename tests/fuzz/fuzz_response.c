/* fuzz_response.c: libFuzzer harness for the backend response parser.
 *
 * Input: one option byte, then the bytes a backend sends back to one
 * request. upstream.c runs unchanged on a fake backend connection (see
 * fake.h): the request is forwarded, the input is delivered in reads of a
 * chosen size, and the consumer may pause the exchange or cancel it from
 * inside a callback, as the front sessions do.
 *
 * What a consumer is promised (upstream.h), checked on every input:
 * interim responses (1xx but 101) only before the head; at
 * most one head, with a final status (200..599) and fields that are
 * tokens with clean values and never hop-by-hop; body bytes only after
 * the head; a complete response carries exactly Content-Length bytes
 * (none for HEAD, 204, 304); exactly one of on_end / on_error ends the
 * exchange once the backend has closed, none after a cancel; and no
 * exchange or backend connection is left behind. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/http.h"
#include "proxy/loop.h"
#include "proxy/pool.h"
#include "proxy/upstream.h"
#include "tests/fuzz/fake.h"

enum { M_GET, M_HEAD, M_POST, M_OPTIONS };

struct exchange {
  struct upstream *u;
  int method;
  int pause_in_body, cancel_in_body;
  int head, ended, failed, cancelled;
  int status;
  int64_t content_length;
  uint64_t body;
  uint8_t sum;
};

static int tchar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z') || (c != 0 && strchr("!#$%&'*+-.^_`|~", c));
}

static void check_fields(const struct http_hdr *h, size_t n, int trailers) {
  for (size_t i = 0; i < n; i++) {
    if (h[i].name_len == 0)
      fuzz_fail("empty field name");
    for (size_t j = 0; j < h[i].name_len; j++) {
      if (!tchar((unsigned char)h[i].name[j]))
        fuzz_fail("field name '%.*s' is not a token", (int)h[i].name_len,
                  h[i].name);
    }
    for (size_t j = 0; j < h[i].value_len; j++) {
      unsigned char c = (unsigned char)h[i].value[j];
      if (c == '\r' || c == '\n' || c == 0)
        fuzz_fail("value of '%.*s' holds CR, LF or NUL", (int)h[i].name_len,
                  h[i].name);
    }
    if (http_is_hop_by_hop(h[i].name, h[i].name_len))
      fuzz_fail("hop-by-hop field '%.*s' delivered%s", (int)h[i].name_len,
                h[i].name, trailers ? " in trailers" : "");
  }
}

/* on_info: interim responses only before the head, never 101 (which
 * must fail the exchange), with clean fields. */
static void on_info(void *ud, int status, const struct http_hdr *hdrs,
                    size_t n) {
  struct exchange *x = ud;
  if (x->head || x->ended || x->failed || x->cancelled)
    fuzz_fail("on_info after head, end, error or cancel");
  if (status < 100 || status > 199 || status == 101)
    fuzz_fail("on_info with status %d", status);
  check_fields(hdrs, n, 0);
}

static void on_head(void *ud, int status, const struct http_hdr *hdrs,
                    size_t n, int64_t content_length) {
  struct exchange *x = ud;
  if (x->head || x->ended || x->failed || x->cancelled)
    fuzz_fail("on_head after head, end, error or cancel");
  if (status < 200 || status > 599)
    fuzz_fail("on_head with status %d", status);
  if (content_length < -1)
    fuzz_fail("on_head with content_length %lld", (long long)content_length);
  check_fields(hdrs, n, 0);
  x->head = 1;
  x->status = status;
  x->content_length = content_length;
}

static void on_body(void *ud, const uint8_t *p, size_t n) {
  struct exchange *x = ud;
  if (!x->head || x->ended || x->failed || x->cancelled)
    fuzz_fail("on_body before head or after end, error or cancel");
  if (x->method == M_HEAD || x->status == 204 || x->status == 304)
    fuzz_fail("body bytes for a response that has none (status %d)",
              x->status);
  for (size_t i = 0; i < n; i++)
    x->sum ^= p[i]; /* every byte must be readable */
  x->body += n;
  if (x->pause_in_body)
    upstream_pause(x->u);
  if (x->cancel_in_body && x->body >= 3) {
    x->cancelled = 1;
    upstream_cancel(x->u);
  }
}

static void on_end(void *ud, const struct http_hdr *tr, size_t n) {
  struct exchange *x = ud;
  if (!x->head || x->ended || x->failed || x->cancelled)
    fuzz_fail("on_end before head or after end, error or cancel");
  check_fields(tr, n, 1);
  int bodyless = x->method == M_HEAD || x->status == 204 || x->status == 304;
  if (!bodyless && x->content_length >= 0 &&
      x->body != (uint64_t)x->content_length)
    fuzz_fail("complete response of %llu bytes, Content-Length %lld",
              (unsigned long long)x->body, (long long)x->content_length);
  x->ended = 1;
}

static void on_error(void *ud, int status, const char *why) {
  struct exchange *x = ud;
  if (x->ended || x->failed || x->cancelled)
    fuzz_fail("on_error after end, error or cancel");
  if (status != 502 && status != 504)
    fuzz_fail("on_error with status %d", status);
  if (why == NULL || why[0] == '\0')
    fuzz_fail("on_error without a reason");
  x->failed = 1;
}

static const struct upstream_cb cb = {
    .on_info = on_info,
    .on_head = on_head,
    .on_body = on_body,
    .on_end = on_end,
    .on_error = on_error,
};

static int over(const struct exchange *x) {
  return x->ended || x->failed || x->cancelled;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  world_init();
  struct pool *pool = world_pool();
  uint8_t opt = data[0];
  data++;
  size--;
  struct exchange x = {.method = opt & 3,
                       .pause_in_body = (opt >> 2) & 1,
                       .cancel_in_body = (opt >> 3) & 1};
  int eof = (opt >> 4) & 1;
  size_t chunk = (opt >> 5) == 0 ? size : (size_t)1 << (2 * (opt >> 5) - 2);
  static const char *const methods[] = {"GET", "HEAD", "POST", "OPTIONS"};
  struct http_hdr hdrs[] = {
      {"Accept", 6, "*/*", 3},
      {"Connection", 10, "close, x-drop", 13},
      {"X-Drop", 6, "1", 1},
  };
  struct http_req req = {
      .method = methods[x.method],
      .method_len = strlen(methods[x.method]),
      .path = "/r",
      .path_len = 2,
      .authority = "a.example",
      .authority_len = 9,
      .version = 11,
      .hdrs = hdrs,
      .nhdrs = 3,
      .content_length = x.method == M_POST ? 4 : -1,
      .has_body = x.method == M_POST,
      .client_addr = "192.0.2.1",
  };
  x.u = upstream_start(pool, 0, &req, &cb, &x);
  struct bconn *b = fake_pool_busy_conn(pool);
  if (b == NULL)
    fuzz_fail("upstream_start took no backend connection");
  fake_bconn_connect(b, 0);
  if (x.method == M_POST) {
    upstream_send_body(x.u, (const uint8_t *)"body", 4);
    upstream_end_body(x.u);
  }
  fake_bconn_drain(b);
  size_t off = 0;
  while (off < size && !over(&x)) {
    if (b->read_paused)
      upstream_resume(x.u); /* the client drained what it was sent */
    size_t k = chunk < size - off ? chunk : size - off;
    fake_bconn_deliver(b, data + off, k);
    off += k;
  }
  if (!over(&x) && eof) {
    if (b->read_paused)
      upstream_resume(x.u);
    fake_bconn_eof(b);
    if (!over(&x))
      fuzz_fail("the backend closed and the exchange did not end");
  }
  if (!over(&x)) {
    x.cancelled = 1; /* the client went away */
    upstream_cancel(x.u);
  }
  world_settle();
  if (world_loop()->upstream_stats.active != 0)
    fuzz_fail("%lld upstream exchanges alive at the end",
              (long long)world_loop()->upstream_stats.active);
  if (fake_backend_busy(pool) != 0)
    fuzz_fail("a backend connection is still owned at the end");
  fake_pool_close_idle(pool);
  world_settle();
  return 0;
}
