/* fuzz_h2.c: libFuzzer harness for the HTTP/2 session input.
 *
 * Input: WORLD_OPT_BYTES option bytes (see world_opts_parse), then the
 * frames one client sends after the connection preface (the harness sends
 * the preface itself, so every input reaches the frame layer). They go
 * through nghttp2 and h2.c as on a real connection; requests are
 * forwarded by upstream.c to the fake backend (see fake.h).
 *
 * Frames out: herald's output is walked frame by frame. Every frame must
 * be a known type with a length that type allows; every header block
 * (HEADERS or PUSH_PROMISE plus CONTINUATIONs) must decode with one HPACK
 * decoder kept across the connection, so a lost, duplicated or reordered
 * block is caught; every field must be valid HTTP/2 (lower-case name,
 * legal value) and never a connection-specific one (RFC 9113 8.2.2),
 * which a proxy forwarding HTTP/1.1 responses must strip. */
#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/http.h"
#include "base/util.h"
#include "proxy/session.h"
#include "tests/fuzz/fake.h"

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

struct out_check {
  uint8_t *buf;
  size_t len, cap;
  nghttp2_hd_inflater *hd;
  int in_block;      /* a header block awaits CONTINUATION */
  int32_t block_stream;
  int frames;
};

static void check_field(const nghttp2_nv *nv) {
  if (nv->namelen == 0)
    fuzz_fail("empty field name in herald's output");
  if (nv->name[0] == ':') {
    if (!(nv->namelen == 7 && memcmp(nv->name, ":status", 7) == 0) &&
        !(nv->namelen == 7 && memcmp(nv->name, ":method", 7) == 0) &&
        !(nv->namelen == 5 && memcmp(nv->name, ":path", 5) == 0) &&
        !(nv->namelen == 7 && memcmp(nv->name, ":scheme", 7) == 0) &&
        !(nv->namelen == 10 && memcmp(nv->name, ":authority", 10) == 0))
      fuzz_fail("unknown pseudo-header %.*s in herald's output",
                (int)nv->namelen, nv->name);
    return;
  }
  if (!nghttp2_check_header_name(nv->name, nv->namelen))
    fuzz_fail("invalid field name '%.*s' in herald's output",
              (int)nv->namelen, nv->name);
  if (!nghttp2_check_header_value(nv->value, nv->valuelen))
    fuzz_fail("invalid value of '%.*s' in herald's output", (int)nv->namelen,
              nv->name);
  if (http_is_hop_by_hop((const char *)nv->name, nv->namelen) &&
      !(nv->namelen == 2 && memcmp(nv->name, "te", 2) == 0))
    fuzz_fail("connection-specific field '%.*s' in herald's HTTP/2 output",
              (int)nv->namelen, nv->name);
}

static void inflate(struct out_check *oc, const uint8_t *p, size_t n,
                    int final) {
  for (;;) {
    nghttp2_nv nv;
    int flags = 0;
    ssize_t k = nghttp2_hd_inflate_hd2(oc->hd, &nv, &flags, p, n, final);
    if (k < 0)
      fuzz_fail("herald's header block does not decode: %s",
                nghttp2_strerror((int)k));
    p += k;
    n -= (size_t)k;
    if (flags & NGHTTP2_HD_INFLATE_EMIT)
      check_field(&nv);
    if (flags & NGHTTP2_HD_INFLATE_FINAL) {
      nghttp2_hd_inflate_end_headers(oc->hd);
      return;
    }
    if (n == 0 && !(flags & NGHTTP2_HD_INFLATE_EMIT))
      return;
  }
}

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

/* frame checks one whole frame. */
static void frame(struct out_check *oc, const uint8_t *h, const uint8_t *pl) {
  uint32_t len = (uint32_t)h[0] << 16 | (uint32_t)h[1] << 8 | h[2];
  uint8_t type = h[3], flags = h[4];
  int32_t id = (int32_t)(be32(h + 5) & 0x7fffffff);
  if (oc->frames++ == 0 && type != NGHTTP2_SETTINGS)
    fuzz_fail("herald's first frame is type %d, not SETTINGS", type);
  if (oc->in_block && (type != NGHTTP2_CONTINUATION || id != oc->block_stream))
    fuzz_fail("frame type %d interrupts a header block", type);
  switch (type) {
  case NGHTTP2_DATA:
    if (id == 0)
      fuzz_fail("DATA on stream 0");
    break;
  case NGHTTP2_HEADERS:
  case NGHTTP2_PUSH_PROMISE: {
    if (id == 0)
      fuzz_fail("header block on stream 0");
    size_t skip = 0, pad = 0;
    if (flags & NGHTTP2_FLAG_PADDED) {
      if (len < 1)
        fuzz_fail("padded frame too short");
      pad = pl[0];
      skip = 1;
    }
    if (type == NGHTTP2_HEADERS && (flags & NGHTTP2_FLAG_PRIORITY))
      skip += 5;
    if (type == NGHTTP2_PUSH_PROMISE) {
      if (len < skip + 4)
        fuzz_fail("PUSH_PROMISE too short");
      uint32_t promised = be32(pl + skip) & 0x7fffffff;
      if (promised == 0 || promised % 2 != 0)
        fuzz_fail("PUSH_PROMISE promises stream %u", promised);
      skip += 4;
    }
    if (skip + pad > len)
      fuzz_fail("header frame padding exceeds its length");
    int end = (flags & NGHTTP2_FLAG_END_HEADERS) != 0;
    inflate(oc, pl + skip, len - skip - pad, end);
    oc->in_block = !end;
    oc->block_stream = id;
    break;
  }
  case NGHTTP2_CONTINUATION: {
    if (!oc->in_block)
      fuzz_fail("CONTINUATION without a header block");
    int end = (flags & NGHTTP2_FLAG_END_HEADERS) != 0;
    inflate(oc, pl, len, end);
    oc->in_block = !end;
    break;
  }
  case NGHTTP2_PRIORITY:
  case NGHTTP2_RST_STREAM:
    if (id == 0 || len != (type == NGHTTP2_PRIORITY ? 5u : 4u))
      fuzz_fail("bad frame type %d: stream %d length %u", type, id, len);
    break;
  case NGHTTP2_SETTINGS:
    if (id != 0 || len % 6 != 0 || ((flags & NGHTTP2_FLAG_ACK) && len != 0))
      fuzz_fail("bad SETTINGS: stream %d length %u", id, len);
    break;
  case NGHTTP2_PING:
    if (id != 0 || len != 8)
      fuzz_fail("bad PING");
    break;
  case NGHTTP2_GOAWAY:
    if (id != 0 || len < 8)
      fuzz_fail("bad GOAWAY");
    break;
  case NGHTTP2_WINDOW_UPDATE:
    if (len != 4 || (be32(pl) & 0x7fffffff) == 0)
      fuzz_fail("bad WINDOW_UPDATE");
    break;
  default:
    fuzz_fail("herald sent frame type %d", type);
  }
}

static void sink(void *ud, const uint8_t *p, size_t n) {
  struct out_check *oc = ud;
  if (oc->len + n > oc->cap) {
    oc->cap = (oc->len + n) * 2;
    oc->buf = xrealloc(oc->buf, oc->cap);
  }
  memcpy(oc->buf + oc->len, p, n);
  oc->len += n;
  size_t off = 0;
  while (oc->len - off >= 9) {
    const uint8_t *h = oc->buf + off;
    size_t len = (size_t)h[0] << 16 | (size_t)h[1] << 8 | h[2];
    if (oc->len - off < 9 + len)
      break;
    frame(oc, h, h + 9);
    off += 9 + len;
  }
  memmove(oc->buf, oc->buf + off, oc->len - off);
  oc->len -= off;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct out_check oc = {0};
  if (nghttp2_hd_inflate_new(&oc.hd) != 0)
    abort();
  world_fuzz(data, size, preface, &h2_session_ops, h2_session_new, sink,
             &oc);
  nghttp2_hd_inflate_del(oc.hd);
  free(oc.buf);
  return 0;
}
