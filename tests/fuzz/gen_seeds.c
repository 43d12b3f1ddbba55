/* gen_seeds.c: writes the seed corpora of the fuzz harnesses.
 *
 *   gen_seeds DIR    writes DIR/NAME/seed-* for every harness
 *
 * HTTP/2 seeds are made by a real nghttp2 client session (so HPACK,
 * flow control and frame layout are what a client sends), minus the
 * connection preface the harness adds itself. Digest seeds come from
 * digest_encode. The other seeds are text written here. Run by
 * `make fuzz-seeds`; the output is committed under tests/fuzz/corpus/. */
#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/util.h"
#include "proxy/digest.h"

static const char *root;

static void put(const char *name, const char *seed, const void *opt,
                size_t optlen, const void *p, size_t n) {
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", root, name);
  mkdir(path, 0755);
  snprintf(path, sizeof(path), "%s/%s/seed-%s", root, name, seed);
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(opt, 1, optlen, f) != optlen ||
      fwrite(p, 1, n, f) != n || fclose(f) != 0) {
    fprintf(stderr, "%s: %s\n", path, strerror(errno));
    exit(1);
  }
}

/* ---- HTTP/2 ------------------------------------------------------------ */

struct out {
  uint8_t *p;
  size_t len;
};

static ssize_t on_send(nghttp2_session *s, const uint8_t *data, size_t n,
                       int flags, void *ud) {
  (void)s;
  (void)flags;
  struct out *o = ud;
  o->p = xrealloc(o->p, o->len + n);
  memcpy(o->p + o->len, data, n);
  o->len += n;
  return (ssize_t)n;
}

struct body {
  const char *p;
  size_t len, off;
  int trailers;
};

static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf,
                         size_t len, uint32_t *flags,
                         nghttp2_data_source *src, void *ud) {
  (void)ud;
  struct body *b = src->ptr;
  size_t k = b->len - b->off < len ? b->len - b->off : len;
  memcpy(buf, b->p + b->off, k);
  b->off += k;
  if (b->off == b->len) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (b->trailers) {
      nghttp2_nv t[] = {{(uint8_t *)"x-checksum", (uint8_t *)"abc", 10, 3,
                         NGHTTP2_NV_FLAG_NONE}};
      *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      nghttp2_submit_trailer(s, id, t, 1);
    }
  }
  return (ssize_t)k;
}

#define NV(n, v)                                                        \
  { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1,      \
    NGHTTP2_NV_FLAG_NONE }

static nghttp2_session *client(struct out *o, int push, uint32_t window) {
  nghttp2_session_callbacks *cb;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_send_callback(cb, on_send);
  nghttp2_session *s;
  nghttp2_session_client_new(&s, cb, o);
  nghttp2_session_callbacks_del(cb);
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, (uint32_t)push},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window},
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
  };
  nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, iv, 3);
  return s;
}

static void h2_done(nghttp2_session *s, struct out *o, const char *seed) {
  while (nghttp2_session_want_write(s) && nghttp2_session_send(s) == 0 &&
         nghttp2_session_want_write(s))
    ;
  nghttp2_session_del(s);
  const size_t preface = 24;
  /* Default options; small limits with push and 103 and an EOF; a big
   * body with push and timeouts (see world_opts_parse). */
  static const uint8_t opts[][3] = {
      {0, 0, 0}, {0x01, 0x1a, 0x10}, {0x43, 0x14, 0x00}};
  char name[96];
  for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
    snprintf(name, sizeof(name), "%s-%zu", seed, i);
    put("h2", name, opts[i], 3, o->p + preface, o->len - preface);
  }
  free(o->p);
}

static void h2_seeds(void) {
  nghttp2_nv nav[] = {
      NV(":method", "GET"),         NV(":scheme", "http"),
      NV(":authority", "a.example"), NV(":path", "/"),
      NV("accept", "text/html"),    NV("user-agent", "Mozilla/5.0"),
      NV("cookie", "a=1"),          NV("cookie", "herald_pd=AQcB"),
  };
  struct out o = {0};
  nghttp2_session *s = client(&o, 1, 65535);
  nghttp2_submit_request(s, NULL, nav, 8, NULL, NULL);
  h2_done(s, &o, "navigation");

  o = (struct out){0};
  s = client(&o, 0, 65535);
  nghttp2_nv post[] = {
      NV(":method", "POST"),         NV(":scheme", "http"),
      NV(":authority", "a.example"), NV(":path", "/api/form?x=1"),
      NV("content-type", "text/plain"), NV("te", "trailers"),
  };
  struct body b = {"hello world", 11, 0, 1};
  nghttp2_data_provider dp = {.source.ptr = &b, .read_callback = read_body};
  nghttp2_submit_request(s, NULL, post, 6, &dp, NULL);
  nghttp2_nv head[] = {
      NV(":method", "HEAD"), NV(":scheme", "http"),
      NV(":authority", "b.example"), NV(":path", "/product/123"),
      NV("accept", "text/html"),
  };
  nghttp2_submit_request(s, NULL, head, 5, NULL, NULL);
  h2_done(s, &o, "post-and-head");

  o = (struct out){0};
  s = client(&o, 1, 0); /* a client that opens no window at first */
  int32_t id = nghttp2_submit_request(s, NULL, nav, 6, NULL, NULL);
  nghttp2_submit_priority(s, NGHTTP2_FLAG_NONE, id,
                          &(nghttp2_priority_spec){0, 32, 0});
  nghttp2_submit_ping(s, NGHTTP2_FLAG_NONE, NULL);
  nghttp2_submit_window_update(s, NGHTTP2_FLAG_NONE, id, 100000);
  nghttp2_submit_window_update(s, NGHTTP2_FLAG_NONE, 0, 1000000);
  h2_done(s, &o, "window-ping-priority");

  o = (struct out){0};
  s = client(&o, 1, 65535);
  nghttp2_nv big[] = {
      NV(":method", "GET"), NV(":scheme", "http"),
      NV(":authority", "a.example"), NV(":path", "/s.css"),
      NV("x-long", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
      NV("host", "a.example"),
  };
  for (int i = 0; i < 5; i++) {
    id = nghttp2_submit_request(s, NULL, big, 6, NULL, NULL);
    if (i == 2)
      nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  }
  nghttp2_submit_goaway(s, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, NULL, 0);
  h2_done(s, &o, "streams-reset-goaway");

  o = (struct out){0};
  s = client(&o, 0, 65535);
  nghttp2_nv bad[] = {
      NV(":method", "CONNECT"), NV(":authority", "a.example:443"),
  };
  nghttp2_submit_request(s, NULL, bad, 2, NULL, NULL);
  nghttp2_nv opt[] = {
      NV(":method", "OPTIONS"), NV(":scheme", "http"),
      NV(":authority", "a.example"), NV(":path", "*"),
  };
  nghttp2_submit_request(s, NULL, opt, 4, NULL, NULL);
  nghttp2_nv cl[] = {
      NV(":method", "PUT"), NV(":scheme", "https"),
      NV(":authority", "a.example"), NV(":path", "/u"),
      NV("content-length", "3"),
  };
  struct body b2 = {"abc", 3, 0, 0};
  dp.source.ptr = &b2;
  nghttp2_submit_request(s, NULL, cl, 5, &dp, NULL);
  h2_done(s, &o, "connect-options-put");
}

/* ---- text seeds -------------------------------------------------------- */

static void text(const char *name, const char *seed, const char *opt,
                 size_t optlen, const char *s) {
  put(name, seed, opt, optlen, s, strlen(s));
}

static void h1_seeds(void) {
  static const char *const reqs[][2] = {
      {"navigation", "GET / HTTP/1.1\r\nHost: a.example\r\n"
                     "Accept: text/html\r\nSec-Fetch-Mode: navigate\r\n"
                     "User-Agent: Mozilla/5.0 (Mobile)\r\n\r\n"},
      {"pipeline", "GET /s.css HTTP/1.1\r\nHost: a.example\r\n\r\n"
                   "HEAD /app.js HTTP/1.1\r\nHost: a.example\r\n\r\n"
                   "GET /api/d.json HTTP/1.1\r\nHost: b.example\r\n"
                   "Connection: close\r\n\r\n"},
      {"post-cl", "POST /api/f HTTP/1.1\r\nHost: a.example\r\n"
                  "Content-Length: 11\r\nExpect: 100-continue\r\n\r\n"
                  "hello world"},
      {"post-chunked", "POST /u HTTP/1.1\r\nHost: a.example\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
                       "6;ext=1\r\n world\r\n0\r\nX-T: 1\r\n\r\n"
                       "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n"},
      {"http10", "GET /product/42 HTTP/1.0\r\nAccept: text/html\r\n\r\n"},
      {"absolute-form", "GET http://a.example/p?q=1 HTTP/1.1\r\n"
                        "Host: other\r\nConnection: keep-alive, x-y\r\n"
                        "X-Y: 1\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n"},
      {"options-upgrade", "OPTIONS * HTTP/1.1\r\nHost: a.example\r\n"
                          "Upgrade: h2c\r\nConnection: Upgrade\r\n\r\n"},
      {"smuggle", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"bad", "GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n"},
  };
  static const char opts[][3] = {{0, 0, 0}, {0x21, 0x0a, 0x05}};
  char name[96];
  for (size_t i = 0; i < ARRAY_SIZE(reqs); i++) {
    for (size_t j = 0; j < 2; j++) {
      snprintf(name, sizeof(name), "%s-%zu", reqs[i][0], j);
      text("h1", name, opts[j], 3, reqs[i][1]);
    }
  }
}

static void response_seeds(void) {
  static const char *const r[][2] = {
      {"cl", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
             "Content-Type: text/html\r\nETag: \"x\"\r\n\r\nhello"},
      {"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                  "Connection: keep-alive, x-hop\r\nX-Hop: 1\r\n\r\n"
                  "5;a=b\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n"},
      {"interim", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n"
                  "Link: </a.css>; rel=preload\r\n\r\n"
                  "HTTP/1.1 204 No Content\r\n\r\n"},
      {"close", "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nbody"},
      {"switch", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: ws\r\n"
                 "Connection: upgrade\r\n\r\n"},
      {"notmod", "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"},
      {"extra", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 2"},
      {"fold", "HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 0\r\n\r\n"},
  };
  static const char opts[] = {0x00, 0x31, 0x5c, 0xe2};
  char name[96];
  for (size_t i = 0; i < ARRAY_SIZE(r); i++) {
    for (size_t j = 0; j < sizeof(opts); j++) {
      snprintf(name, sizeof(name), "%s-%zu", r[i][0], j);
      text("response", name, &opts[j], 1, r[i][1]);
    }
  }
}

static void config_seeds(void) {
  FILE *f = fopen("config/herald.ini.example", "rb");
  if (f != NULL) {
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    text("config", "example", "", 0, buf);
  }
  text("config", "small", "", 0,
       "[listener:a]\nlisten = 127.0.0.1:8080\ntls = off\n"
       "[backend:b]\nserver = 127.0.0.1:8081\nserver = [::1]:8082\n"
       "[route:r]\nhost = \"Www.Example.com\"\nprefix = /s/\nbackend = b\n"
       "deliver = push\n[limits]\nmax_connections = 5 ; comment\n"
       "[timeouts]\nidle = 1000\n[deliver]\nmode = both\nholdout = 0.5\n"
       "[learn]\npush_threshold = 0.9\n[admin]\nlisten = 127.0.0.1:9\n");
  text("config", "errors", "", 0,
       "[log]\nlevel = loud\n[listener:x]\nlisten = 1.2.3.4\n"
       "[nope]\nkey\n");
}

static void digest_seeds(void) {
  struct digest d;
  char out[DIGEST_COOKIE_MAX + 1];
  size_t sizes[] = {0, 1, 16, 64, 512};
  for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
    digest_init(&d);
    uint64_t h = 1;
    for (size_t k = 0; k < sizes[i]; k++) {
      h = util_mix64(h + k);
      digest_add(&d, h);
    }
    size_t n = digest_encode(&d, out, sizeof(out));
    char name[32];
    snprintf(name, sizeof(name), "set-%zu", sizes[i]);
    put("digest", name, "", 0, out, n);
    char hdr[DIGEST_COOKIE_MAX + 64];
    int k = snprintf(hdr, sizeof(hdr), "a=1; " DIGEST_COOKIE_NAME "=%s; b",
                     out);
    snprintf(name, sizeof(name), "cookie-%zu", sizes[i]);
    put("digest", name, "", 0, hdr, (size_t)k);
  }
}

static void pagekey_seeds(void) {
  /* fields: patterns, keep, authority, path, referer, ch-ua-mobile, UA */
  static const char s1[] = "/product/*, /blog/*\0id,page\0WWW.Example.com:443"
                           "\0/product/42?id=7&utm=x#f\0https://www.example.com"
                           "/blog/2024?page=2\0?1\0Mozilla/5.0 Mobi";
  static const char s2[] = "\0\0[::1]:80\0/a/0123456789abcdef0123/"
                           "123e4567-e89b-12d3-a456-426614174000\0"
                           "HTTP://A:80?x\0?0\0Mozilla";
  put("pagekey", "https", "\x01", 1, s1, sizeof(s1) - 1);
  put("pagekey", "ids", "\x40", 1, s2, sizeof(s2) - 1);
}

static void link_seeds(void) {
  /* fields: authority, path, then Link field values, one per line */
  static const char s1[] =
      "shop.example:443\0/docs/guide/index.html?x=1\0"
      "</css/a.css>; rel=preload; as=style, <js/b.js?v=2>; rel=\"preload"
      " modulepreload\"; as=script, <//SHOP.example/f.woff2#x>; "
      "rel=preload; as=font; crossorigin\n"
      "<https://evil.example/x.js>; rel=preload; as=script, "
      "<https://cdn.example>; rel=preconnect, </s.css>; rel=stylesheet\n"
      "</a>; title=\"x, \\\"y\\\"\"; rel=preload; as=image; anchor=\"#z\"";
  static const char s2[] =
      "a\0/\0</%2e%2e/x.js>; rel=preload; as=script, <../y.js>; "
      "rel=preload; as=script, </\\z.js>; rel=preload; as=script, "
      "</ok.js>; rel=PRELOAD; AS=SCRIPT; crossorigin=use-credentials, "
      "<unterminated; rel=preload";
  put("link", "mixed", "\x01", 1, s1, sizeof(s1) - 1);
  put("link", "hostile", "\x00", 1, s2, sizeof(s2) - 1);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  root = argv[1];
  mkdir(root, 0755);
  h2_seeds();
  h1_seeds();
  response_seeds();
  config_seeds();
  digest_seeds();
  pagekey_seeds();
  link_seeds();
  return 0;
}
