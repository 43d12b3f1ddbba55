/* h2probe: a frame-level HTTP/2 cleartext (prior knowledge) probe client.
 *
 * Integration tests use it to send what real clients refuse to send:
 * header fields with CR, LF, NUL or uppercase, missing pseudo-headers,
 * HPACK bombs, CONTINUATION, PING, SETTINGS and empty-DATA floods, Rapid
 * Reset, too many streams and an invalid connection preface.
 *
 * Header blocks come from nghttp2's stand-alone HPACK deflater, which does
 * not validate; frame headers are written by hand.  The socket is
 * non-blocking and every wait goes through poll() bounded by one overall
 * deadline (--timeout), with alarm() as a backstop.
 *
 * Whatever happens, the last line on stdout is one summary a shell test can
 * grep, for example:
 *
 *   RESULT mode=req status=400 rst=none goaway=none goaway_last=-1 closed=0
 *     close=none sent=1 stop_at=none frames=3 body=0 ...   (one line)
 *
 * Run "h2probe --help" for the modes and every field. */
#include "base/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <limits.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

enum {
  FT_DATA = 0,
  FT_HEADERS = 1,
  FT_PRIORITY = 2,
  FT_RST_STREAM = 3,
  FT_SETTINGS = 4,
  FT_PUSH_PROMISE = 5,
  FT_PING = 6,
  FT_GOAWAY = 7,
  FT_WINDOW_UPDATE = 8,
  FT_CONTINUATION = 9
};

enum {
  FL_END_STREAM = 0x1,
  FL_ACK = 0x1,
  FL_END_HEADERS = 0x4,
  FL_PADDED = 0x8,
  FL_PRIORITY = 0x20
};

#define MAX_HEADERS 256
#define MAX_FLOOD 10000000L
#define RBUF_MAX ((size_t)32 << 20)  /* biggest frame plus slack */
#define HBLOCK_MAX ((size_t)4 << 20) /* header block we accept to decode */
#define READ_ROUNDS 64               /* reads per readable event */

static const char PREFACE[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/* What we learned about one of our streams. */
struct stream {
  int status;        /* :status of the final response HEADERS, or -1 */
  int interim;       /* informational (1xx) HEADERS received */
  int rst;           /* RST_STREAM code received, or -1 */
  int ended;         /* END_STREAM received */
  long long body;    /* DATA payload bytes received */
};

struct conn {
  int fd;
  SSL *ssl;             /* --tls, else NULL */
  uint64_t start_ms;
  uint64_t deadline_ms; /* hard end of the whole run */
  int verbose;
  int auto_window_update;
  int reset_pushes;     /* --reset-pushes: accept push, cancel each one */
  long pushes_reset;

  /* output queue */
  uint8_t *obuf;
  size_t olen, opos, ocap;

  /* input: bytes read but not yet parsed */
  uint8_t *rbuf;
  size_t rlen, rcap;
  int any_rx;     /* at least one byte received */
  int http1;      /* the peer answered with HTTP/1.x, not frames */
  int http1_status;
  int frame_error; /* the peer sent something we cannot parse as frames */

  nghttp2_hd_deflater *deflater;
  nghttp2_hd_inflater *inflater;
  int hpack_error;

  /* header block being assembled from HEADERS/PUSH_PROMISE + CONTINUATION */
  uint8_t *hblock;
  size_t hlen, hcap;
  int32_t hstream;
  int hend_stream;
  int in_block;

  /* peer's settings and our send windows (for --data) */
  int got_settings, got_settings_ack;
  uint32_t peer_max_frame;
  long long peer_max_streams; /* -1 = not announced */
  long long peer_initial_window;
  long long swin_conn, swin_stream; /* send windows: connection, cur_sid */
  uint32_t cur_sid;

  /* observations */
  int closed;          /* the peer closed or reset the connection */
  const char *close_how;
  int dead;            /* nothing more can be read */
  int got_goaway;
  uint32_t goaway_code;
  int32_t goaway_last;
  char goaway_debug[65];
  long frames_rx;
  long rx_type[10];
  long pings_acked;
  long rst_count, refused;
  int first_rst;       /* first RST_STREAM code on any stream, or -1 */
  long long sent;      /* mode-specific progress counter */
  long long stop_at;   /* |sent| when GOAWAY or close was first seen */

  struct stream *streams; /* index (id - 1) / 2, odd ids only */
  size_t nstreams;
};

/* ------------------------------------------------------------ small tools */

static const char *mode_name = "none";
static int g_blocked; /* a write made no progress for --stall ms */

static void on_alarm(int sig) {
  char line[160];
  int n;
  (void)sig;
  n = snprintf(line, sizeof(line),
               "\nRESULT mode=%s error=hard-timeout timeout=1 closed=0\n",
               mode_name);
  if (n > 0)
    (void)!write(STDOUT_FILENO, line, (size_t)n);
  _exit(3);
}

static const char *code_name(uint32_t code) {
  static const char *names[] = {
      "NO_ERROR",         "PROTOCOL_ERROR",     "INTERNAL_ERROR",
      "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT", "STREAM_CLOSED",
      "FRAME_SIZE_ERROR", "REFUSED_STREAM",     "CANCEL",
      "COMPRESSION_ERROR", "CONNECT_ERROR",     "ENHANCE_YOUR_CALM",
      "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"};
  static char buf[16];
  if (code < ARRAY_SIZE(names))
    return names[code];
  snprintf(buf, sizeof(buf), "0x%" PRIx32, code);
  return buf;
}

static const char *type_name(uint8_t t) {
  static const char *names[] = {"DATA",     "HEADERS", "PRIORITY",
                                "RST_STREAM", "SETTINGS", "PUSH_PROMISE",
                                "PING",     "GOAWAY",  "WINDOW_UPDATE",
                                "CONTINUATION"};
  return t < ARRAY_SIZE(names) ? names[t] : "UNKNOWN";
}

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static int remaining_ms(const struct conn *c) {
  uint64_t now = util_now_ms();
  if (now >= c->deadline_ms)
    return 0;
  return (int)(c->deadline_ms - now);
}

static int min_int(int a, int b) { return a < b ? a : b; }

static struct stream *stream_get(struct conn *c, uint32_t id) {
  size_t i;
  if (id == 0 || (id & 1) == 0)
    return NULL;
  i = (id - 1) / 2;
  return i < c->nstreams ? &c->streams[i] : NULL;
}

static void note_stop(struct conn *c) {
  if (c->stop_at < 0)
    c->stop_at = c->sent;
}

/* ------------------------------------------------------------ output side */

static void out_append(struct conn *c, const void *p, size_t n) {
  if (c->opos > 0 && c->opos == c->olen)
    c->opos = c->olen = 0;
  if (c->olen + n > c->ocap) {
    if (c->opos > 0) {
      memmove(c->obuf, c->obuf + c->opos, c->olen - c->opos);
      c->olen -= c->opos;
      c->opos = 0;
    }
    while (c->olen + n > c->ocap)
      c->ocap = c->ocap ? c->ocap * 2 : 65536;
    c->obuf = xrealloc(c->obuf, c->ocap);
  }
  memcpy(c->obuf + c->olen, p, n);
  c->olen += n;
}

static void out_frame(struct conn *c, uint8_t type, uint8_t flags,
                      uint32_t sid, const uint8_t *payload, size_t len) {
  uint8_t h[9];
  h[0] = (uint8_t)(len >> 16);
  h[1] = (uint8_t)(len >> 8);
  h[2] = (uint8_t)len;
  h[3] = type;
  h[4] = flags;
  put32(h + 5, sid & 0x7fffffffu);
  out_append(c, h, sizeof(h));
  if (len > 0)
    out_append(c, payload, len);
  if (c->verbose >= 2)
    fprintf(stderr, "> %s stream=%" PRIu32 " flags=0x%02x len=%zu\n",
            type_name(type), sid, flags, len);
}

static void out_rst(struct conn *c, uint32_t sid, uint32_t code) {
  uint8_t p[4];
  put32(p, code);
  out_frame(c, FT_RST_STREAM, 0, sid, p, 4);
}

static void out_window_update(struct conn *c, uint32_t sid, uint32_t inc) {
  uint8_t p[4];
  put32(p, inc);
  out_frame(c, FT_WINDOW_UPDATE, 0, sid, p, 4);
}

/* out_header_block queues |hb| as HEADERS plus CONTINUATIONs of at most
 * |maxf| bytes; END_HEADERS on the last frame unless |no_end_headers|. */
static long out_header_block(struct conn *c, uint32_t sid, const uint8_t *hb,
                             size_t len, size_t maxf, int end_stream,
                             int no_end_headers) {
  size_t off = 0;
  long frames = 0;
  if (maxf == 0)
    maxf = 16384;
  do {
    size_t n = len - off < maxf ? len - off : maxf;
    uint8_t flags = 0;
    if (off == 0 && end_stream)
      flags |= FL_END_STREAM;
    if (off + n == len && !no_end_headers)
      flags |= FL_END_HEADERS;
    out_frame(c, off == 0 ? FT_HEADERS : FT_CONTINUATION, flags, sid,
              hb + off, n);
    off += n;
    frames++;
  } while (off < len && frames < 100000);
  return frames;
}

/* ------------------------------------------------------------- input side */

static void decode_block(struct conn *c, int32_t sid, const uint8_t *in,
                         size_t len) {
  struct stream *s = stream_get(c, (uint32_t)sid);
  size_t guard;
  if (c->hpack_error)
    return;
  for (guard = 0; guard < 1000000; guard++) {
    nghttp2_nv nv;
    int flags = 0;
    ssize_t rv = nghttp2_hd_inflate_hd2(c->inflater, &nv, &flags, in, len, 1);
    if (rv < 0) {
      c->hpack_error = 1;
      if (c->verbose)
        fprintf(stderr, "< HPACK decode error: %s\n",
                nghttp2_strerror((int)rv));
      return;
    }
    in += rv;
    len -= (size_t)rv;
    if (flags & NGHTTP2_HD_INFLATE_EMIT) {
      if (c->verbose)
        fprintf(stderr, "<   %.*s: %.*s\n", (int)nv.namelen, nv.name,
                (int)nv.valuelen, nv.value);
      if (s != NULL && s->status < 0 && nv.namelen == 7 &&
          memcmp(nv.name, ":status", 7) == 0 && nv.valuelen == 3) {
        int st = atoi((const char *)nv.value) % 1000;
        if (st >= 100 && st < 200)
          s->interim++; /* a 103: the final response follows */
        else
          s->status = st;
      }
    }
    if (flags & NGHTTP2_HD_INFLATE_FINAL) {
      nghttp2_hd_inflate_end_headers(c->inflater);
      break;
    }
    if ((flags & NGHTTP2_HD_INFLATE_EMIT) == 0 && len == 0)
      break;
  }
}

static void block_append(struct conn *c, const uint8_t *p, size_t n) {
  if (c->hlen + n > HBLOCK_MAX) {
    c->frame_error = 1;
    return;
  }
  if (c->hlen + n > c->hcap) {
    while (c->hlen + n > c->hcap)
      c->hcap = c->hcap ? c->hcap * 2 : 16384;
    c->hblock = xrealloc(c->hblock, c->hcap);
  }
  memcpy(c->hblock + c->hlen, p, n);
  c->hlen += n;
}

static void block_finish(struct conn *c) {
  struct stream *s = stream_get(c, (uint32_t)c->hstream);
  decode_block(c, c->hstream, c->hblock, c->hlen);
  if (s != NULL && c->hend_stream)
    s->ended = 1;
  c->hlen = 0;
  c->in_block = 0;
}

/* strip_padding removes the pad length byte and the padding. */
static int strip_padding(const uint8_t **p, size_t *len, uint8_t flags) {
  if (flags & FL_PADDED) {
    size_t pad;
    if (*len < 1)
      return -1;
    pad = (*p)[0];
    if (pad + 1 > *len)
      return -1;
    *p += 1;
    *len -= 1 + pad;
  }
  return 0;
}

static void handle_settings(struct conn *c, const uint8_t *p, size_t len,
                            uint8_t flags) {
  size_t i;
  if (flags & FL_ACK) {
    c->got_settings_ack = 1;
    return;
  }
  c->got_settings = 1;
  for (i = 0; i + 6 <= len; i += 6) {
    uint16_t id = (uint16_t)(p[i] << 8 | p[i + 1]);
    uint32_t v = get32(p + i + 2);
    if (c->verbose)
      fprintf(stderr, "<   setting 0x%x = %" PRIu32 "\n", id, v);
    if (id == 3)
      c->peer_max_streams = v;
    else if (id == 4) {
      c->swin_stream += (long long)v - c->peer_initial_window;
      c->peer_initial_window = v;
    } else if (id == 5)
      c->peer_max_frame = v;
  }
  out_frame(c, FT_SETTINGS, FL_ACK, 0, NULL, 0);
}

static void handle_frame(struct conn *c, uint8_t type, uint8_t flags,
                         uint32_t sid, const uint8_t *p, size_t len) {
  struct stream *s = stream_get(c, sid);
  c->frames_rx++;
  if (type < ARRAY_SIZE(c->rx_type))
    c->rx_type[type]++;
  if (c->verbose)
    fprintf(stderr, "< %s stream=%" PRIu32 " flags=0x%02x len=%zu\n",
            type_name(type), sid, flags, len);
  if (c->in_block && type != FT_CONTINUATION) {
    c->frame_error = 1; /* the peer broke its own header block */
    c->in_block = 0;
    c->hlen = 0;
  }
  switch (type) {
  case FT_DATA:
    if (strip_padding(&p, &len, flags) < 0)
      break;
    if (s != NULL) {
      s->body += (long long)len;
      if (flags & FL_END_STREAM)
        s->ended = 1;
    }
    if (c->auto_window_update && len > 0) {
      out_window_update(c, 0, (uint32_t)len);
      if (s != NULL && !s->ended)
        out_window_update(c, sid, (uint32_t)len);
    }
    break;
  case FT_HEADERS:
  case FT_PUSH_PROMISE:
    if (strip_padding(&p, &len, flags) < 0)
      break;
    if (type == FT_HEADERS && (flags & FL_PRIORITY)) {
      if (len < 5)
        break;
      p += 5;
      len -= 5;
    }
    if (type == FT_PUSH_PROMISE) {
      if (len < 4)
        break;
      if (c->reset_pushes) {
        out_rst(c, get32(p) & 0x7fffffffu, 8 /* CANCEL */);
        c->pushes_reset++;
      }
      p += 4; /* the promised stream's own frames are not tracked */
      len -= 4;
    }
    c->in_block = 1;
    c->hstream = (int32_t)sid;
    c->hend_stream = type == FT_HEADERS && (flags & FL_END_STREAM);
    c->hlen = 0;
    block_append(c, p, len);
    if (flags & FL_END_HEADERS)
      block_finish(c);
    break;
  case FT_CONTINUATION:
    if (!c->in_block) {
      c->frame_error = 1;
      break;
    }
    block_append(c, p, len);
    if (flags & FL_END_HEADERS)
      block_finish(c);
    break;
  case FT_RST_STREAM:
    if (len < 4)
      break;
    c->rst_count++;
    if (c->first_rst < 0)
      c->first_rst = (int)get32(p);
    if (get32(p) == 7)
      c->refused++;
    if (s != NULL && s->rst < 0)
      s->rst = (int)get32(p);
    break;
  case FT_SETTINGS:
    handle_settings(c, p, len, flags);
    break;
  case FT_PING:
    if (len != 8)
      break;
    if (flags & FL_ACK)
      c->pings_acked++;
    else
      out_frame(c, FT_PING, FL_ACK, 0, p, 8);
    break;
  case FT_GOAWAY: {
    size_t i, n;
    if (len < 8)
      break;
    if (!c->got_goaway) {
      c->got_goaway = 1;
      c->goaway_last = (int32_t)(get32(p) & 0x7fffffffu);
      c->goaway_code = get32(p + 4);
      n = len - 8 < sizeof(c->goaway_debug) - 1 ? len - 8
                                                 : sizeof(c->goaway_debug) - 1;
      for (i = 0; i < n; i++) {
        uint8_t ch = p[8 + i];
        c->goaway_debug[i] = (ch > ' ' && ch < 127) ? (char)ch : '_';
      }
      c->goaway_debug[n] = '\0';
      note_stop(c);
    }
    break;
  }
  case FT_WINDOW_UPDATE:
    if (len != 4)
      break;
    if (sid == 0)
      c->swin_conn += get32(p) & 0x7fffffffu;
    else if (sid == c->cur_sid)
      c->swin_stream += get32(p) & 0x7fffffffu;
    break;
  default:
    break;
  }
}

/* parse_input handles every complete frame in the input buffer. */
static void parse_input(struct conn *c) {
  size_t off = 0;
  long guard;
  if (!c->any_rx && c->rlen > 0)
    c->any_rx = 1;
  if (c->http1 || c->frame_error) {
    c->rlen = 0;
    return;
  }
  if (off == 0 && c->frames_rx == 0 && c->rlen >= 5 &&
      memcmp(c->rbuf, "HTTP/", 5) == 0) {
    /* A server that also speaks HTTP/1.1 may answer garbage that way. */
    c->http1 = 1;
    if (c->rlen >= 12)
      c->http1_status = atoi((const char *)c->rbuf + 9);
    if (c->verbose)
      fprintf(stderr, "< HTTP/1.x response: %.*s\n",
              (int)(c->rlen < 40 ? c->rlen : 40), c->rbuf);
    c->rlen = 0;
    return;
  }
  for (guard = 0; guard < 10000000L && c->rlen - off >= 9; guard++) {
    const uint8_t *h = c->rbuf + off;
    size_t len = (size_t)h[0] << 16 | (size_t)h[1] << 8 | h[2];
    if (c->rlen - off < 9 + len)
      break;
    handle_frame(c, h[3], h[4], get32(h + 5) & 0x7fffffffu, h + 9, len);
    off += 9 + len;
  }
  if (off > 0) {
    memmove(c->rbuf, c->rbuf + off, c->rlen - off);
    c->rlen -= off;
  }
}

/* conn_recv and conn_send behave like recv and send (-1 with errno EAGAIN
 * when there is nothing to do yet), over TLS with --tls, so the rest of
 * the probe does not care which. */
static ssize_t tls_result(struct conn *c, int rv) {
  switch (SSL_get_error(c->ssl, rv)) {
  case SSL_ERROR_WANT_READ:
  case SSL_ERROR_WANT_WRITE:
    errno = EAGAIN;
    return -1;
  case SSL_ERROR_ZERO_RETURN:
    return 0; /* close_notify */
  case SSL_ERROR_SYSCALL:
    if (errno == 0)
      return 0; /* EOF without close_notify */
    return -1;
  default:
    errno = ECONNRESET;
    return -1;
  }
}

static ssize_t conn_recv(struct conn *c, void *p, size_t n) {
  int rv;
  if (c->ssl == NULL)
    return recv(c->fd, p, n, 0);
  errno = 0;
  rv = SSL_read(c->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
  return rv > 0 ? rv : tls_result(c, rv);
}

static ssize_t conn_send(struct conn *c, const void *p, size_t n) {
  int rv;
  if (c->ssl == NULL)
    return send(c->fd, p, n, MSG_NOSIGNAL);
  errno = 0;
  rv = SSL_write(c->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
  if (rv > 0)
    return rv;
  rv = (int)tls_result(c, rv);
  if (rv == 0)
    errno = EPIPE;
  return -1;
}

static void mark_closed(struct conn *c, const char *how) {
  if (!c->closed) {
    c->closed = 1;
    c->close_how = how;
    note_stop(c);
    if (c->verbose)
      fprintf(stderr, "* connection closed by peer (%s)\n", how);
  }
}

static void do_read(struct conn *c) {
  int round;
  for (round = 0; round < READ_ROUNDS && !c->dead; round++) {
    ssize_t n;
    if (c->rcap - c->rlen < 65536) {
      if (c->rcap >= RBUF_MAX) {
        c->frame_error = 1; /* a frame bigger than we are willing to hold */
        c->rlen = 0;
      } else {
        c->rcap = c->rcap ? c->rcap * 2 : 262144;
        c->rbuf = xrealloc(c->rbuf, c->rcap);
      }
    }
    n = conn_recv(c, c->rbuf + c->rlen, c->rcap - c->rlen);
    if (n > 0) {
      c->rlen += (size_t)n;
      parse_input(c);
      continue;
    }
    if (n == 0) {
      c->dead = 1;
      mark_closed(c, "eof");
    } else if (errno == EINTR) {
      continue;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
      c->dead = 1;
      mark_closed(c, errno == ECONNRESET ? "reset" : "error");
    }
    break;
  }
}

static int do_write(struct conn *c) {
  int progress = 0, round;
  for (round = 0; round < READ_ROUNDS && c->opos < c->olen; round++) {
    ssize_t n = conn_send(c, c->obuf + c->opos, c->olen - c->opos);
    if (n > 0) {
      c->opos += (size_t)n;
      progress = 1;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      break;
    mark_closed(c, n < 0 && errno == EPIPE ? "pipe" : "reset");
    c->opos = c->olen; /* nothing more will go out */
    break;
  }
  return progress;
}

/* io_step runs one poll round of at most |ms| milliseconds: reads when
 * |want_read| (otherwise only notices a close) and writes queued output.
 * Returns 1 if bytes moved. */
static int io_step(struct conn *c, int ms, int want_read) {
  struct pollfd p;
  int n, progress = 0;
  size_t before_r = c->rlen;
  long before_f = c->frames_rx;
  ms = min_int(ms, remaining_ms(c));
  if (ms < 0)
    ms = 0;
  p.fd = c->fd;
  p.events = 0;
  p.revents = 0;
  if (want_read && !c->dead)
    p.events |= POLLIN;
  else if (!c->closed)
    p.events |= POLLRDHUP;
  if (c->opos < c->olen && !c->closed)
    p.events |= POLLOUT;
  if (c->dead && c->closed && !(p.events & POLLOUT))
    return 0;
  n = poll(&p, 1, ms);
  if (n <= 0)
    return 0;
  if (p.revents & POLLIN)
    do_read(c);
  if (p.revents & POLLOUT)
    progress |= do_write(c);
  if (!want_read && (p.revents & (POLLERR | POLLHUP | POLLRDHUP)))
    mark_closed(c, (p.revents & POLLERR) ? "reset" : "eof");
  else if (p.revents & POLLERR) {
    int err = 0;
    socklen_t el = sizeof(err);
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (!want_read)
      mark_closed(c, "reset");
    else
      do_read(c);
  }
  if (c->rlen != before_r || c->frames_rx != before_f)
    progress = 1;
  return progress;
}

/* flush writes all queued output.  With |read_while| it keeps reading (and
 * so answering SETTINGS and PINGs) while it waits; without, it gives up
 * after |stall_ms| without progress and returns -2 (blocked).  Returns -1
 * if the connection closed or the deadline passed, 0 when all is written. */
static int flush(struct conn *c, int read_while, int stall_ms) {
  uint64_t last = util_now_ms();
  long guard;
  for (guard = 0; guard < 100000000L && c->opos < c->olen; guard++) {
    if (c->closed || remaining_ms(c) == 0)
      return -1;
    if (io_step(c, 50, read_while))
      last = util_now_ms();
    else if (stall_ms > 0 && util_now_ms() - last >= (uint64_t)stall_ms)
      return -2;
  }
  return c->opos < c->olen ? -1 : 0;
}

/* pump reads for |ms| milliseconds (or until |done| says stop). */
static void pump(struct conn *c, int ms, int (*done)(struct conn *)) {
  uint64_t end = util_now_ms() + (uint64_t)(ms < 0 ? 0 : ms);
  long guard;
  for (guard = 0; guard < 10000000L; guard++) {
    uint64_t now = util_now_ms();
    if (done != NULL && done(c))
      return;
    if (now >= end || remaining_ms(c) == 0 || c->dead)
      return;
    io_step(c, (int)(end - now), 1);
  }
}

/* ------------------------------------------------------------ connection */

static int connect_to(const char *host, const char *port, int rcvbuf,
                      int timeout_ms) {
  struct addrinfo hints, *res = NULL, *ai;
  int fd = -1;
  memset(&hints, 0, sizeof(hints));
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host, port, &hints, &res) != 0)
    return -1;
  for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
    struct pollfd p;
    int one = 1, err = 0;
    socklen_t el = sizeof(err);
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK, 0);
    if (fd < 0)
      continue;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (rcvbuf > 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
      break;
    if (errno != EINPROGRESS) {
      close(fd);
      fd = -1;
      continue;
    }
    p.fd = fd;
    p.events = POLLOUT;
    p.revents = 0;
    if (poll(&p, 1, timeout_ms) != 1 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  return fd;
}

/* tls_start (--tls) runs a TLS handshake offering ALPN h2 (the
 * certificate is not checked). Returns 0, or -1 with a message. */
static int tls_start(struct conn *c) {
  static const uint8_t alpn[] = {2, 'h', '2'};
  const uint8_t *sel;
  unsigned sel_len;
  SSL_CTX *ctx = SSL_CTX_new(TLS_method());
  if (ctx == NULL || SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn)) != 0)
    return -1;
  c->ssl = SSL_new(ctx);
  SSL_CTX_free(ctx); /* the SSL holds its own reference */
  if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
    return -1;
  SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
                           SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_set_connect_state(c->ssl);
  for (;;) {
    struct pollfd p;
    int rv = SSL_do_handshake(c->ssl), e;
    if (rv == 1)
      break;
    e = SSL_get_error(c->ssl, rv);
    if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) ||
        remaining_ms(c) == 0) {
      fprintf(stderr, "h2probe: TLS handshake failed\n");
      return -1;
    }
    p.fd = c->fd;
    p.events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
    p.revents = 0;
    poll(&p, 1, min_int(100, remaining_ms(c)));
  }
  SSL_get0_alpn_selected(c->ssl, &sel, &sel_len);
  if (sel_len != 2 || memcmp(sel, "h2", 2) != 0) {
    fprintf(stderr, "h2probe: the server did not select ALPN h2\n");
    return -1;
  }
  return 0;
}

static void send_preface(struct conn *c, long long window) {
  uint8_t s[18];
  size_t n = 0;
  out_append(c, PREFACE, sizeof(PREFACE) - 1);
  s[n++] = 0; /* ENABLE_PUSH: only to cancel what is pushed */
  s[n++] = 2;
  put32(s + n, c->reset_pushes ? 1 : 0);
  n += 4;
  if (window >= 0) { /* INITIAL_WINDOW_SIZE */
    s[n++] = 0;
    s[n++] = 4;
    put32(s + n, (uint32_t)window);
    n += 4;
  }
  out_frame(c, FT_SETTINGS, 0, 0, s, n);
}

static int handshake_done(struct conn *c) {
  return (c->got_settings && c->got_settings_ack) || c->closed ||
         c->got_goaway;
}

static long g_acks_wanted;

static int ping_acked(struct conn *c) {
  return c->pings_acked >= g_acks_wanted || c->closed || c->dead ||
         c->got_goaway;
}

/* sync_ping sends a PING and reads until its ACK (at most |ms|): the peer
 * answers in order, so everything sent before has then been processed. */
static void sync_ping(struct conn *c, int ms) {
  uint8_t p[8] = {'h', '2', 'p', 'r', 'o', 'b', 'e', 0};
  out_frame(c, FT_PING, 0, 0, p, sizeof(p));
  g_acks_wanted = c->pings_acked + 1;
  if (flush(c, 1, 0) == 0)
    pump(c, ms, ping_acked);
}

/* ------------------------------------------------------------- arguments */

struct hdr {
  uint8_t *name, *value;
  size_t namelen, valuelen;
};

struct opts {
  const char *mode, *host, *port;
  long long n;          /* N for the flood modes */
  long long data;       /* --data bytes, -1 = no DATA frame */
  int no_end;           /* --no-end */
  int no_end_headers;   /* --no-end-headers */
  int trailers;         /* --trailers */
  int tls;              /* --tls */
  int half_close_ms;    /* --half-close, -1 = no */
  int close_notify;     /* --close-notify */
  long long repeat;     /* --repeat */
  int pace_ms;          /* --pace */
  int timeout_s;        /* --timeout */
  int wait_ms;          /* --wait, -1 = mode default */
  int hold_ms;          /* --hold */
  int reset_pushes;     /* --reset-pushes */
  int stall_ms;         /* --stall */
  long long window;     /* --window, -1 = do not send */
  int rcvbuf;           /* --rcvbuf */
  int no_handshake;     /* --no-handshake */
  size_t frame_max;     /* --frame-max for req header blocks */
  int ftype, fflags;    /* frame mode: --type, --flags */
  long long fstream, fstep; /* --stream, --stream-step */
  const char *fpayload; /* --payload, hex */
  int open_first;       /* --open */
  int after_ms;         /* --after: frame mode waits this long after --open */
  int abort_close;      /* --abort: frame mode ends with a TCP RST */
  const char *path, *authority, *variant;
  int verbose;
  struct hdr hdrs[MAX_HEADERS];
  size_t nhdrs;
};

static int hexval(int ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

/* unescape decodes \r \n \t \0 \\ \xHH; other bytes are copied. */
static uint8_t *unescape(const char *s, size_t len, size_t *outlen) {
  uint8_t *out = xmalloc(len + 1);
  size_t i, o = 0;
  for (i = 0; i < len; i++) {
    if (s[i] != '\\' || i + 1 >= len) {
      out[o++] = (uint8_t)s[i];
      continue;
    }
    i++;
    switch (s[i]) {
    case 'r': out[o++] = '\r'; break;
    case 'n': out[o++] = '\n'; break;
    case 't': out[o++] = '\t'; break;
    case '0': out[o++] = '\0'; break;
    case '\\': out[o++] = '\\'; break;
    case 'x':
      if (i + 2 < len + 0 && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
        out[o++] = (uint8_t)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
        i += 2;
        break;
      }
      out[o++] = '\\';
      out[o++] = 'x';
      break;
    default:
      out[o++] = '\\';
      out[o++] = (uint8_t)s[i];
      break;
    }
  }
  *outlen = o;
  return out;
}

/* parse_header splits "name: value"; the separator is the first ':' after
 * the first byte (so ":path: /" works) and one following space is
 * skipped, any further whitespace stays in the value. */
static int parse_header(const char *arg, struct hdr *h) {
  const char *colon = strchr(arg + (arg[0] != '\0'), ':');
  const char *v;
  if (colon == NULL)
    return -1;
  v = colon + 1;
  if (*v == ' ')
    v++;
  h->name = unescape(arg, (size_t)(colon - arg), &h->namelen);
  h->value = unescape(v, strlen(v), &h->valuelen);
  return 0;
}

static void usage(FILE *f) {
  fputs(
      "usage: h2probe MODE HOST PORT [N] [options]\n"
      "modes:\n"
      "  req HOST PORT [-H 'name: value']... [--data BYTES] [--no-end]\n"
      "        one request on stream 1 with exactly the given header list in\n"
      "        order (pseudo-headers included); escapes \\r \\n \\t \\0 \\\\ "
      "\\xHH\n"
      "        work in names and values; --data sends one DATA payload of\n"
      "        BYTES bytes ('a') ending the stream; --no-end never ends it;\n"
      "        --no-end-headers stops after a HEADERS without END_HEADERS;\n"
      "        --repeat K sends it on K streams (1, 3, 5, ...)\n"
      "  rapid HOST PORT N      N x (HEADERS GET + RST_STREAM CANCEL)\n"
      "  cont HOST PORT N       HEADERS without END_HEADERS + up to N\n"
      "                         CONTINUATIONs of one 64-byte literal each;\n"
      "                         the first 200 are paced --pace MS apart (3)\n"
      "  bomb HOST PORT [REFS]  4000-byte header added to the dynamic table,\n"
      "                         then REFS (default 16000) 1-byte references;\n"
      "                         --repeat K: K bombs on streams 1, 3, ...,\n"
      "                         each after the last was answered (sent=\n"
      "                         bombs sent); --trailers: each a POST whose\n"
      "                         trailers are the bomb\n"
      "  ping HOST PORT N       N PINGs without reading (small SO_RCVBUF)\n"
      "  settings HOST PORT N   N SETTINGS without reading\n"
      "  emptydata HOST PORT N  POST stream, then N empty DATA frames\n"
      "  streams HOST PORT N    N concurrent GET streams\n"
      "  preface HOST PORT      invalid connection preface\n"
      "  frame HOST PORT N      N copies of one frame: --type T --flags F\n"
      "                         --stream S [--stream-step K] --payload HEX;\n"
      "                         --open first sends GET --path on stream 1\n"
      "                         (PRIORITY/WINDOW_UPDATE floods, WINDOW_UPDATE\n"
      "                         0, window overflow); reads meanwhile;\n"
      "                         --after MS waits MS (or until stream 1\n"
      "                         is answered) between the GET and them;\n"
      "                         --abort: instead of them, close with RST\n"
      "options:\n"
      "  --timeout S     hard limit for the whole run (default 20)\n"
      "  --wait MS       how long to wait for answers after sending\n"
      "  --hold MS       after a flood, keep the connection MS ms unread\n"
      "  --stall MS      a write blocked this long counts as blocked (1000)\n"
      "  --window N      send SETTINGS_INITIAL_WINDOW_SIZE=N\n"
      "  --reset-pushes  accept server push (ENABLE_PUSH=1) and answer every\n"
      "                  PUSH_PROMISE with RST_STREAM CANCEL (pushes_reset=)\n"
      "  --rcvbuf N      SO_RCVBUF (ping/settings default 4096)\n"
      "  --path P --authority A   for the generated requests\n"
      "  --frame-max N   split req header blocks into frames of N bytes\n"
      "  --variant V     preface: badmagic (default), garbage, nosettings\n"
      "  --no-handshake  do not wait for the server's SETTINGS first\n"
      "  --tls           TLS with ALPN h2 (certificate not checked)\n"
      "  --half-close MS after the mode, close the sending side (FIN) and\n"
      "                  wait up to MS for the server to close\n"
      "  --close-notify  with --tls --half-close: TLS close_notify first\n"
      "  -v, -vv         frames and headers on stderr\n"
      "output: progress on stderr with -v; the last stdout line is\n"
      "  RESULT mode= status= rst= goaway= goaway_last= closed= close=\n"
      "         sent= stop_at= frames= body= rst_count= refused= responses=\n"
      "         completed= blocked= http1= http1_status= hpack_error=\n"
      "         settings= pings_acked= timeout= elapsed_ms= goaway_debug=\n"
      "         halfclose_ms= interim=\n"
      "  status is the final response's; interim counts the 1xx (103)\n"
      "  responses before it on stream 1\n"
      "  status/rst/goaway are 'none' when absent; error codes by name\n"
      "  (PROTOCOL_ERROR, ...); sent counts the mode's unit (frames,\n"
      "  pairs, streams); stop_at is sent when GOAWAY or close was seen.\n",
      f);
}

static long long parse_num(const char *s, const char *what) {
  char *end;
  long long v;
  errno = 0;
  v = strtoll(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < 0) {
    fprintf(stderr, "h2probe: bad %s '%s'\n", what, s);
    exit(2);
  }
  return v;
}

static void parse_args(int argc, char **argv, struct opts *o) {
  int i, pos = 0;
  memset(o, 0, sizeof(*o));
  o->n = -1;
  o->data = -1;
  o->timeout_s = 20;
  o->wait_ms = -1;
  o->stall_ms = 1000;
  o->window = -1;
  o->rcvbuf = -1;
  o->half_close_ms = -1;
  o->path = "/";
  o->variant = "badmagic";
  o->pace_ms = 3;
  o->ftype = -1;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *next = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_ARG                                                    \
  do {                                                              \
    if (next == NULL) {                                             \
      fprintf(stderr, "h2probe: %s needs an argument\n", a);        \
      exit(2);                                                      \
    }                                                               \
    i++;                                                            \
  } while (0)
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      exit(0);
    } else if (strcmp(a, "-H") == 0) {
      NEED_ARG;
      if (o->nhdrs >= MAX_HEADERS || parse_header(next, &o->hdrs[o->nhdrs]))
        fprintf(stderr, "h2probe: bad or too many -H '%s'\n", next), exit(2);
      o->nhdrs++;
    } else if (strcmp(a, "--data") == 0) {
      NEED_ARG;
      o->data = parse_num(next, "--data");
    } else if (strcmp(a, "--no-end") == 0) {
      o->no_end = 1;
    } else if (strcmp(a, "--no-end-headers") == 0) {
      o->no_end_headers = 1;
    } else if (strcmp(a, "--trailers") == 0) {
      o->trailers = 1;
    } else if (strcmp(a, "--tls") == 0) {
      o->tls = 1;
    } else if (strcmp(a, "--close-notify") == 0) {
      o->close_notify = 1;
    } else if (strcmp(a, "--half-close") == 0) {
      NEED_ARG;
      o->half_close_ms = (int)parse_num(next, "--half-close");
    } else if (strcmp(a, "--repeat") == 0) {
      NEED_ARG;
      o->repeat = parse_num(next, "--repeat");
    } else if (strcmp(a, "--pace") == 0) {
      NEED_ARG;
      o->pace_ms = (int)parse_num(next, "--pace");
    } else if (strcmp(a, "--timeout") == 0) {
      NEED_ARG;
      o->timeout_s = (int)parse_num(next, "--timeout");
    } else if (strcmp(a, "--wait") == 0) {
      NEED_ARG;
      o->wait_ms = (int)parse_num(next, "--wait");
    } else if (strcmp(a, "--hold") == 0) {
      NEED_ARG;
      o->hold_ms = (int)parse_num(next, "--hold");
    } else if (strcmp(a, "--stall") == 0) {
      NEED_ARG;
      o->stall_ms = (int)parse_num(next, "--stall");
    } else if (strcmp(a, "--reset-pushes") == 0) {
      o->reset_pushes = 1;
    } else if (strcmp(a, "--window") == 0) {
      NEED_ARG;
      o->window = parse_num(next, "--window");
    } else if (strcmp(a, "--rcvbuf") == 0) {
      NEED_ARG;
      o->rcvbuf = (int)parse_num(next, "--rcvbuf");
    } else if (strcmp(a, "--frame-max") == 0) {
      NEED_ARG;
      o->frame_max = (size_t)parse_num(next, "--frame-max");
    } else if (strcmp(a, "--path") == 0) {
      NEED_ARG;
      o->path = next;
    } else if (strcmp(a, "--authority") == 0) {
      NEED_ARG;
      o->authority = next;
    } else if (strcmp(a, "--variant") == 0) {
      NEED_ARG;
      o->variant = next;
    } else if (strcmp(a, "--type") == 0) {
      NEED_ARG;
      o->ftype = (int)parse_num(next, "--type");
    } else if (strcmp(a, "--flags") == 0) {
      NEED_ARG;
      o->fflags = (int)parse_num(next, "--flags");
    } else if (strcmp(a, "--stream") == 0) {
      NEED_ARG;
      o->fstream = parse_num(next, "--stream");
    } else if (strcmp(a, "--stream-step") == 0) {
      NEED_ARG;
      o->fstep = parse_num(next, "--stream-step");
    } else if (strcmp(a, "--payload") == 0) {
      NEED_ARG;
      o->fpayload = next;
    } else if (strcmp(a, "--open") == 0) {
      o->open_first = 1;
    } else if (strcmp(a, "--abort") == 0) {
      o->abort_close = 1;
    } else if (strcmp(a, "--after") == 0) {
      NEED_ARG;
      o->after_ms = (int)parse_num(next, "--after");
    } else if (strcmp(a, "--no-handshake") == 0) {
      o->no_handshake = 1;
    } else if (strcmp(a, "-v") == 0) {
      o->verbose = 1;
    } else if (strcmp(a, "-vv") == 0) {
      o->verbose = 2;
    } else if (a[0] == '-' && a[1] != '\0') {
      fprintf(stderr, "h2probe: unknown option %s\n", a);
      exit(2);
    } else if (pos == 0) {
      o->mode = a, pos++;
    } else if (pos == 1) {
      o->host = a, pos++;
    } else if (pos == 2) {
      o->port = a, pos++;
    } else if (pos == 3) {
      o->n = parse_num(a, "N"), pos++;
    } else {
      fprintf(stderr, "h2probe: unexpected argument %s\n", a);
      exit(2);
    }
#undef NEED_ARG
  }
  if (o->mode == NULL || o->host == NULL || o->port == NULL) {
    usage(stderr);
    exit(2);
  }
  if (o->timeout_s < 1 || o->timeout_s > 3600) {
    fprintf(stderr, "h2probe: --timeout must be 1..3600\n");
    exit(2);
  }
  if (o->n > MAX_FLOOD || o->repeat > MAX_FLOOD) {
    fprintf(stderr, "h2probe: N is capped at %ld\n", MAX_FLOOD);
    exit(2);
  }
}

/* ------------------------------------------------------------------ modes */

/* deflate_nva HPACK-encodes |nv| with the connection's deflater. */
static uint8_t *deflate_nva(struct conn *c, const nghttp2_nv *nv, size_t n,
                            size_t *len) {
  size_t bound = nghttp2_hd_deflate_bound(c->deflater, nv, n);
  uint8_t *buf = xmalloc(bound);
  ssize_t rv = nghttp2_hd_deflate_hd(c->deflater, buf, bound, nv, n);
  if (rv < 0) {
    fprintf(stderr, "h2probe: HPACK deflate: %s\n", nghttp2_strerror((int)rv));
    exit(1);
  }
  *len = (size_t)rv;
  return buf;
}

#define NV(n, v, vl)                                                       \
  {                                                                        \
    (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, (vl), NGHTTP2_NV_FLAG_NONE \
  }

/* request_block encodes a plain request for the generated modes. */
static uint8_t *request_block(struct conn *c, const struct opts *o,
                              const char *method, size_t *len) {
  nghttp2_nv nv[4] = {
      NV(":method", method, strlen(method)),
      NV(":scheme", "http", 4),
      NV(":path", o->path, strlen(o->path)),
      NV(":authority", o->authority, strlen(o->authority)),
  };
  return deflate_nva(c, nv, ARRAY_SIZE(nv), len);
}

static int s1_done(struct conn *c) {
  const struct stream *s = &c->streams[0];
  return s->ended || s->rst >= 0 || c->dead ||
         (c->got_goaway && c->goaway_last < 1) || c->http1;
}

/* is_dead: nothing more to read (EOF or error), so the story is complete */
static int is_dead(struct conn *c) { return c->dead; }

/* print_escaped writes |p| to stderr with non-printable bytes as \xHH. */
static void print_escaped(const uint8_t *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
      fputc(p[i], stderr);
    else
      fprintf(stderr, "\\x%02x", p[i]);
  }
}

/* send_request queues one request from the -H list on stream |sid|, with
 * the --data body, and flushes it. */
static void send_request(struct conn *c, const struct opts *o, uint32_t sid) {
  nghttp2_nv nv[MAX_HEADERS];
  size_t i, hlen;
  uint8_t *hb;
  int end_on_headers = o->data < 0 && !o->no_end && !o->no_end_headers;
  for (i = 0; i < o->nhdrs; i++) {
    nv[i].name = o->hdrs[i].name;
    nv[i].namelen = o->hdrs[i].namelen;
    nv[i].value = o->hdrs[i].value;
    nv[i].valuelen = o->hdrs[i].valuelen;
    nv[i].flags = NGHTTP2_NV_FLAG_NONE;
  }
  if (c->verbose >= 2 && sid == 1)
    for (i = 0; i < o->nhdrs; i++) {
      fputs(">   ", stderr);
      print_escaped(nv[i].name, nv[i].namelen);
      fputs(": ", stderr);
      print_escaped(nv[i].value, nv[i].valuelen);
      fputc('\n', stderr);
    }
  hb = deflate_nva(c, nv, o->nhdrs, &hlen);
  out_header_block(c, sid, hb, hlen,
                   o->frame_max ? o->frame_max : c->peer_max_frame,
                   end_on_headers, o->no_end_headers);
  free(hb);
  c->cur_sid = sid;
  c->swin_stream = c->peer_initial_window;
  /* HEADERS and the first DATA go out in one write, so the peer sees the
   * whole request at once */
  if (o->data < 0 || o->no_end_headers) {
    flush(c, 1, 0);
    return;
  }
  {
    long long left = o->data;
    uint8_t chunk[16384];
    memset(chunk, 'a', sizeof(chunk));
    for (i = 0; i < 1000000 && !c->closed; i++) {
      long long n = left, win = c->swin_conn < c->swin_stream
                                    ? c->swin_conn
                                    : c->swin_stream;
      if (n > (long long)c->peer_max_frame)
        n = c->peer_max_frame;
      if (n > (long long)sizeof(chunk))
        n = sizeof(chunk);
      if (n > win)
        n = win > 0 ? win : 0;
      if (n == 0 && left > 0) { /* wait for WINDOW_UPDATE */
        struct stream *s = stream_get(c, sid);
        if (remaining_ms(c) == 0 || c->dead || c->got_goaway ||
            (s != NULL && (s->rst >= 0 || s->ended)))
          break;
        io_step(c, 100, 1);
        continue;
      }
      left -= n;
      c->swin_conn -= n;
      c->swin_stream -= n;
      out_frame(c, FT_DATA, left == 0 && !o->no_end ? FL_END_STREAM : 0, sid,
                chunk, (size_t)n);
      if (flush(c, 1, 0) < 0 || left == 0)
        break;
    }
  }
}

static long long g_streams_n;
static int streams_done(struct conn *c);

static void mode_req(struct conn *c, const struct opts *o) {
  long long k, repeat = o->repeat > 0 ? o->repeat : 1;
  for (k = 0; k < repeat; k++) {
    if (c->closed || c->got_goaway || remaining_ms(c) == 0)
      break;
    send_request(c, o, (uint32_t)(2 * k + 1));
    c->sent = k + 1;
    /* with --repeat, a PING round trip now and then shows when the peer
     * gave up on us, and keeps it from falling far behind */
    if (repeat > 1 && ((k + 1) % 16 == 0 || k + 1 == repeat))
      sync_ping(c, 1000);
  }
  g_streams_n = repeat;
  pump(c, o->wait_ms >= 0 ? o->wait_ms : remaining_ms(c),
       repeat > 1 ? streams_done : s1_done);
}

static void mode_rapid(struct conn *c, const struct opts *o) {
  long long i;
  for (i = 0; i < o->n; i++) {
    size_t len;
    uint32_t sid = (uint32_t)(2 * i + 1);
    uint8_t *hb;
    if (c->closed || c->got_goaway || remaining_ms(c) == 0)
      break;
    hb = request_block(c, o, "GET", &len);
    out_frame(c, FT_HEADERS, FL_END_STREAM | FL_END_HEADERS, sid, hb, len);
    out_rst(c, sid, 8 /* CANCEL */);
    free(hb);
    if ((i + 1) % 16 == 0 || i + 1 == o->n) {
      if (flush(c, 1, 0) < 0)
        break;
      c->sent = i + 1;
      sync_ping(c, 1000);
    }
  }
  pump(c, o->wait_ms >= 0 ? o->wait_ms : 2000, is_dead);
}

static void mode_cont(struct conn *c, const struct opts *o) {
  long long i;
  size_t len;
  uint8_t *hb = request_block(c, o, "GET", &len);
  out_frame(c, FT_HEADERS, FL_END_STREAM, 1, hb, len);
  free(hb);
  if (flush(c, 1, 0) == 0)
    c->sent = 1;
  for (i = 0; i < o->n; i++) {
    /* literal without indexing, new name: 0x00 len name len value = 64 */
    uint8_t f[64];
    char name[16];
    if (c->closed || c->got_goaway || remaining_ms(c) == 0)
      break;
    snprintf(name, sizeof(name), "x-cont-%05u", (unsigned)(i % 100000));
    f[0] = 0x00;
    f[1] = 12;
    memcpy(f + 2, name, 12);
    f[14] = 49;
    memset(f + 15, 'c', 49);
    out_frame(c, FT_CONTINUATION, i + 1 == o->n ? FL_END_HEADERS : 0, 1, f,
              sizeof(f));
    /* Pace the first frames so "closed after k frames" is exact; then go
     * in batches. */
    if (i < 200 || (i + 1) % 64 == 0 || i + 1 == o->n) {
      if (flush(c, 1, 0) < 0)
        break;
      c->sent = i + 2;
      io_step(c, i < 200 ? o->pace_ms : 0, 1);
    }
  }
  pump(c, o->wait_ms >= 0 ? o->wait_ms : 2000, is_dead);
}

static size_t hpack_int(uint8_t *p, uint8_t first, int prefix, size_t v) {
  size_t n = 0, max = ((size_t)1 << prefix) - 1;
  if (v < max) {
    p[n++] = (uint8_t)(first | v);
    return n;
  }
  p[n++] = (uint8_t)(first | max);
  v -= max;
  while (v >= 128 && n < 10) {
    p[n++] = (uint8_t)(0x80 | (v & 0x7f));
    v >>= 7;
  }
  p[n++] = (uint8_t)v;
  return n;
}

enum bomb_part { BOMB_WHOLE, BOMB_POST_HEAD, BOMB_TRAILERS };

/* bomb_block builds a header block of |*len| bytes, by hand (never
 * through the deflater, whose idea of the peer's table the bomb would
 * break): the bomb (see mode_bomb) as a GET, a plain POST head, or the
 * bomb without pseudo-headers, as trailers. */
static uint8_t *bomb_block(const struct opts *o, enum bomb_part part,
                           size_t *len) {
  long long refs = o->n >= 0 ? o->n : 16000;
  size_t alen = strlen(o->authority), cap, n = 0;
  uint8_t *hb;
  long long i;
  if (alen > 200)
    alen = 200;
  cap = 512 + alen + strlen(o->path) + 4000 + (size_t)refs;
  hb = xmalloc(cap);
  if (part == BOMB_TRAILERS)
    goto bomb;
  hb[n++] = part == BOMB_POST_HEAD ? 0x83 : 0x82; /* :method POST / GET */
  hb[n++] = 0x86; /* :scheme http */
  if (strcmp(o->path, "/") == 0) {
    hb[n++] = 0x84; /* :path / */
  } else {
    size_t pl = strlen(o->path) > 200 ? 200 : strlen(o->path);
    n += hpack_int(hb + n, 0x00, 4, 4); /* literal, indexed name :path */
    n += hpack_int(hb + n, 0x00, 7, pl);
    memcpy(hb + n, o->path, pl);
    n += pl;
  }
  n += hpack_int(hb + n, 0x00, 4, 1); /* :authority, literal value */
  n += hpack_int(hb + n, 0x00, 7, alen);
  memcpy(hb + n, o->authority, alen);
  n += alen;
  if (part == BOMB_POST_HEAD) {
    *len = n;
    return hb;
  }
bomb:
  /* literal with incremental indexing, new name "x-bomb", 4000-byte value:
   * 6 + 4000 + 32 = 4038 bytes, fits the default 4096-byte table */
  hb[n++] = 0x40;
  n += hpack_int(hb + n, 0x00, 7, 6);
  memcpy(hb + n, "x-bomb", 6);
  n += 6;
  n += hpack_int(hb + n, 0x00, 7, 4000);
  memset(hb + n, 'b', 4000);
  n += 4000;
  for (i = 0; i < refs; i++)
    hb[n++] = 0x80 | 62; /* indexed: the newest dynamic table entry */
  *len = n;
  return hb;
}

static int32_t g_bomb_sid;

static int bomb_answered(struct conn *c) {
  const struct stream *s = stream_get(c, (uint32_t)g_bomb_sid);
  return c->dead || c->got_goaway ||
         (s != NULL && (s->status >= 0 || s->rst >= 0));
}

/* mode_bombs (bomb --repeat K): the bomb on streams 1, 3, 5, ..., each
 * sent once the one before was answered; |sent| counts bombs sent, so
 * stop_at says how many went out before the GOAWAY or close. With
 * --trailers each stream is a POST whose trailers are the bomb. */
static void mode_bombs(struct conn *c, const struct opts *o) {
  size_t n, maxf = c->peer_max_frame < 16384 ? c->peer_max_frame : 16384;
  long long k, repeat = o->repeat > 0 ? o->repeat : 1;
  for (k = 0; k < repeat; k++) {
    uint8_t *hb;
    if (c->closed || c->got_goaway || remaining_ms(c) == 0)
      break;
    g_bomb_sid = (int32_t)(2 * k + 1);
    if (o->trailers) {
      hb = bomb_block(o, BOMB_POST_HEAD, &n);
      out_header_block(c, (uint32_t)g_bomb_sid, hb, n, maxf, 0, 0);
      free(hb);
    }
    hb = bomb_block(o, o->trailers ? BOMB_TRAILERS : BOMB_WHOLE, &n);
    out_header_block(c, (uint32_t)g_bomb_sid, hb, n, maxf, 1, 0);
    free(hb);
    if (flush(c, 1, 0) < 0)
      break;
    c->sent = k + 1;
    pump(c, 5000, bomb_answered);
  }
  pump(c, o->wait_ms >= 0 ? o->wait_ms : 2000, is_dead);
}

static void mode_bomb(struct conn *c, const struct opts *o) {
  size_t n, maxf;
  uint8_t *hb;
  if (o->repeat > 1 || o->trailers) {
    mode_bombs(c, o);
    return;
  }
  hb = bomb_block(o, BOMB_WHOLE, &n);
  maxf = c->peer_max_frame < 16384 ? c->peer_max_frame : 16384;
  out_header_block(c, 1, hb, n, maxf, 1, 0);
  free(hb);
  c->sent = (long long)n;
  if (flush(c, 1, 0) < 0)
    c->sent = (long long)c->opos;
  pump(c, o->wait_ms >= 0 ? o->wait_ms : 5000, s1_done);
}

/* mode_frame: N copies of one frame described by the options, for floods
 * of frames that get no answer (PRIORITY, WINDOW_UPDATE) and for single
 * protocol errors (a WINDOW_UPDATE of 0, one overflowing a window). It
 * reads while sending and makes a PING round trip every 256 frames, so
 * pings_acked shows whether the peer kept up. */
static void mode_frame(struct conn *c, const struct opts *o) {
  uint8_t payload[256];
  size_t plen = 0;
  const char *h = o->fpayload ? o->fpayload : "";
  for (; h[0] != '\0' && h[1] != '\0' && plen < sizeof(payload); h += 2) {
    if (hexval(h[0]) < 0 || hexval(h[1]) < 0)
      break;
    payload[plen++] = (uint8_t)(hexval(h[0]) << 4 | hexval(h[1]));
  }
  if (o->open_first) {
    size_t len;
    uint8_t *hb = request_block(c, o, "GET", &len);
    out_frame(c, FT_HEADERS, FL_END_STREAM | FL_END_HEADERS, 1, hb, len);
    free(hb);
    flush(c, 1, 0);
    /* --after: let the request get where it is going (say, a queue)
     * before the frames, unless it is answered first. */
    if (o->after_ms > 0)
      pump(c, o->after_ms, s1_done);
  }
  if (o->abort_close) {
    /* Linger 0: the close that follows sends RST, not FIN (a FIN is a
     * half-close after which answers are still owed). */
    struct linger l = {1, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    return;
  }
  uint32_t sid = (uint32_t)o->fstream;
  for (long long i = 0; i < o->n; i++) {
    if (c->closed || c->got_goaway || remaining_ms(c) == 0)
      break;
    out_frame(c, (uint8_t)o->ftype, (uint8_t)o->fflags, sid, payload, plen);
    sid += (uint32_t)o->fstep;
    if ((i + 1) % 256 == 0 || i + 1 == o->n) {
      if (flush(c, 1, 0) < 0)
        break;
      c->sent = i + 1;
      sync_ping(c, 1000);
    }
  }
  pump(c, o->wait_ms >= 0 ? o->wait_ms : 1500,
       o->open_first ? s1_done : is_dead);
}

/* mode_flood: N copies of one small frame, never reading. */
static void mode_flood(struct conn *c, const struct opts *o, int settings) {
  long long i;
  int blocked = 0;
  for (i = 0; i < o->n && !blocked; i++) {
    if (c->closed || remaining_ms(c) == 0)
      break;
    if (settings) {
      uint8_t s[6] = {0, 2, 0, 0, 0, 0}; /* ENABLE_PUSH = 0 */
      out_frame(c, FT_SETTINGS, 0, 0, s, sizeof(s));
    } else {
      uint8_t p[8];
      put32(p, (uint32_t)(i >> 32));
      put32(p + 4, (uint32_t)i);
      out_frame(c, FT_PING, 0, 0, p, sizeof(p));
    }
    if ((i + 1) % 64 == 0 || i + 1 == o->n) {
      int rv = flush(c, 0, o->stall_ms);
      if (rv == -2)
        blocked = 1;
      else if (rv < 0)
        break;
      else
        c->sent = i + 1;
    }
  }
  if (blocked) {
    /* count only what the kernel took */
    c->sent = i - (long long)((c->olen - c->opos) / (settings ? 15 : 17));
    if (c->verbose)
      fprintf(stderr, "* writes blocked after %lld frames\n", c->sent);
  }
  c->auto_window_update = 1;
  /* stay unread for --hold, noticing only a close */
  {
    uint64_t end = util_now_ms() + (uint64_t)o->hold_ms;
    long guard;
    for (guard = 0; guard < 1000000L && !c->closed; guard++) {
      uint64_t now = util_now_ms();
      if (now >= end || remaining_ms(c) == 0)
        break;
      io_step(c, (int)(end - now), 0);
    }
  }
  /* drop what was never sent, then drain and see how it ends */
  c->opos = c->olen = 0;
  g_blocked = blocked;
  pump(c, o->wait_ms >= 0 ? o->wait_ms : 2000, is_dead);
}

static void mode_emptydata(struct conn *c, const struct opts *o) {
  long long i;
  size_t len;
  uint8_t *hb = request_block(c, o, "POST", &len);
  out_frame(c, FT_HEADERS, FL_END_HEADERS, 1, hb, len);
  free(hb);
  flush(c, 1, 0);
  for (i = 0; i < o->n; i++) {
    if (c->closed || c->got_goaway || remaining_ms(c) == 0)
      break;
    out_frame(c, FT_DATA, 0, 1, NULL, 0);
    if ((i + 1) % 256 == 0 || i + 1 == o->n) {
      if (flush(c, 1, 0) < 0)
        break;
      c->sent = i + 1;
      sync_ping(c, 1000);
    }
  }
  pump(c, o->wait_ms >= 0 ? o->wait_ms : 1500, is_dead);
}

static int streams_done(struct conn *c) {
  long long i, settled = 0;
  if (c->dead)
    return 1;
  for (i = 0; i < g_streams_n; i++) {
    const struct stream *s = &c->streams[i];
    if (s->ended || s->rst >= 0 ||
        (c->got_goaway && (long long)(2 * i + 1) > c->goaway_last))
      settled++;
  }
  return settled == g_streams_n;
}

static void mode_streams(struct conn *c, const struct opts *o) {
  long long i;
  g_streams_n = o->n;
  for (i = 0; i < o->n; i++) {
    size_t len;
    uint8_t *hb;
    if (c->closed || c->got_goaway || remaining_ms(c) == 0)
      break;
    hb = request_block(c, o, "GET", &len);
    out_frame(c, FT_HEADERS, FL_END_STREAM | FL_END_HEADERS,
              (uint32_t)(2 * i + 1), hb, len);
    free(hb);
    c->sent = i + 1;
  }
  /* all HEADERS in as few writes as possible, nothing read meanwhile */
  if (flush(c, 0, o->stall_ms) == -2)
    g_blocked = 1;
  {
    uint64_t end = util_now_ms() + (uint64_t)o->hold_ms;
    long guard;
    for (guard = 0; guard < 1000000L && !c->closed; guard++) {
      uint64_t now = util_now_ms();
      if (now >= end || remaining_ms(c) == 0)
        break;
      io_step(c, (int)(end - now), 0);
    }
  }
  pump(c, o->wait_ms >= 0 ? o->wait_ms : 5000, streams_done);
}

static void mode_preface(struct conn *c, const struct opts *o) {
  if (strcmp(o->variant, "garbage") == 0) {
    static const char g[] = "INVALID CONNECTION PREFACE\r\n\r\n";
    out_append(c, g, sizeof(g) - 1);
  } else if (strcmp(o->variant, "nosettings") == 0) {
    uint8_t p[8] = {0};
    out_append(c, PREFACE, sizeof(PREFACE) - 1);
    out_frame(c, FT_PING, 0, 0, p, sizeof(p));
  } else { /* badmagic */
    static const char m[] = "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n";
    out_append(c, m, sizeof(m) - 1);
  }
  c->sent = (long long)c->olen;
  flush(c, 1, 0);
  pump(c, o->wait_ms >= 0 ? o->wait_ms : 3000, is_dead);
}

static long long g_halfclose_ms = -1;

/* half_close (--half-close MS) ends the run as a client that goes away
 * with its streams still open: it closes its sending side (with
 * --close-notify a TLS close_notify first, else a bare FIN) and waits up
 * to MS for the peer to close the connection (halfclose_ms= how long
 * that took, none if it did not). */
static void half_close(struct conn *c, const struct opts *o) {
  uint64_t t0;
  if (c->dead) {
    g_halfclose_ms = 0;
    return;
  }
  if (c->ssl != NULL && o->close_notify)
    SSL_shutdown(c->ssl);
  shutdown(c->fd, SHUT_WR);
  t0 = util_now_ms();
  pump(c, o->half_close_ms, is_dead);
  if (c->dead)
    g_halfclose_ms = (long long)(util_now_ms() - t0);
}

/* ------------------------------------------------------------------- main */

static void print_result(const struct conn *c, const struct opts *o,
                         int timed_out) {
  const struct stream *s1 = c->nstreams > 0 ? &c->streams[0] : NULL;
  long long responses = 0, completed = 0;
  size_t i;
  char status[16], rst[24], stop_at[24], halfclose[24];
  for (i = 0; i < c->nstreams; i++) {
    responses += c->streams[i].status >= 0;
    completed += c->streams[i].ended;
  }
  if (s1 != NULL && s1->status >= 0)
    snprintf(status, sizeof(status), "%d", s1->status);
  else
    snprintf(status, sizeof(status), "none");
  if (s1 != NULL && s1->rst >= 0)
    snprintf(rst, sizeof(rst), "%s", code_name((uint32_t)s1->rst));
  else if (c->first_rst >= 0)
    snprintf(rst, sizeof(rst), "%s", code_name((uint32_t)c->first_rst));
  else
    snprintf(rst, sizeof(rst), "none");
  if (g_halfclose_ms >= 0)
    snprintf(halfclose, sizeof(halfclose), "%lld", g_halfclose_ms);
  else
    snprintf(halfclose, sizeof(halfclose), "none");
  if (c->stop_at >= 0)
    snprintf(stop_at, sizeof(stop_at), "%lld", c->stop_at);
  else
    snprintf(stop_at, sizeof(stop_at), "none");
  printf("RESULT mode=%s status=%s rst=%s goaway=%s goaway_last=%" PRId32
         " closed=%d close=%s sent=%lld stop_at=%s frames=%ld body=%lld"
         " rst_count=%ld refused=%ld responses=%lld completed=%lld"
         " blocked=%d http1=%d http1_status=%d hpack_error=%d settings=%d"
         " pings_acked=%ld timeout=%d elapsed_ms=%llu pushes_reset=%ld"
         " goaway_debug=%s halfclose_ms=%s interim=%d\n",
         o->mode, status, rst,
         c->got_goaway ? code_name(c->goaway_code) : "none",
         c->got_goaway ? c->goaway_last : -1, c->closed,
         c->closed ? c->close_how : "none", c->sent, stop_at, c->frames_rx,
         s1 != NULL ? s1->body : 0, c->rst_count, c->refused, responses,
         completed, g_blocked, c->http1, c->http1_status,
         c->hpack_error || c->frame_error, c->got_settings, c->pings_acked,
         timed_out,
         (unsigned long long)(util_now_ms() - c->start_ms), c->pushes_reset,
         c->got_goaway && c->goaway_debug[0] ? c->goaway_debug : "-",
         halfclose, s1 != NULL ? s1->interim : 0);
  fflush(stdout);
}

int main(int argc, char **argv) {
  struct opts o;
  struct conn c;
  char authority[300];
  int flood, rv;
  size_t i;

  parse_args(argc, argv, &o);
  mode_name = o.mode;
  if (strcmp(o.mode, "req") && strcmp(o.mode, "rapid") &&
      strcmp(o.mode, "cont") && strcmp(o.mode, "bomb") &&
      strcmp(o.mode, "ping") && strcmp(o.mode, "settings") &&
      strcmp(o.mode, "emptydata") && strcmp(o.mode, "streams") &&
      strcmp(o.mode, "preface") && strcmp(o.mode, "frame")) {
    fprintf(stderr, "h2probe: unknown mode %s\n", o.mode);
    usage(stderr);
    return 2;
  }
  if (o.n < 0 && strcmp(o.mode, "req") && strcmp(o.mode, "bomb") &&
      strcmp(o.mode, "preface")) {
    fprintf(stderr, "h2probe: mode %s needs N\n", o.mode);
    return 2;
  }
  if (strcmp(o.mode, "frame") == 0 && (o.ftype < 0 || o.ftype > 255)) {
    fprintf(stderr, "h2probe: frame needs --type 0..255\n");
    return 2;
  }
  if (strcmp(o.mode, "req") == 0 && o.nhdrs == 0) {
    fprintf(stderr, "h2probe: req needs at least one -H\n");
    return 2;
  }
  if (o.authority == NULL) {
    snprintf(authority, sizeof(authority), "%s:%s", o.host, o.port);
    o.authority = authority;
  }
  flood = strcmp(o.mode, "ping") == 0 || strcmp(o.mode, "settings") == 0;
  if (flood && o.rcvbuf < 0)
    o.rcvbuf = 4096;

  signal(SIGPIPE, SIG_IGN);
  signal(SIGALRM, on_alarm);
  alarm((unsigned)o.timeout_s + 5);

  memset(&c, 0, sizeof(c));
  c.start_ms = util_now_ms();
  c.deadline_ms = c.start_ms + (uint64_t)o.timeout_s * 1000;
  c.verbose = o.verbose;
  c.auto_window_update = !flood;
  c.reset_pushes = o.reset_pushes;
  c.peer_max_frame = 16384;
  c.peer_max_streams = -1;
  c.peer_initial_window = 65535;
  c.swin_conn = c.swin_stream = 65535;
  c.goaway_last = -1;
  c.first_rst = -1;
  c.stop_at = -1;
  c.close_how = "none";
  c.nstreams = strcmp(o.mode, "rapid") == 0 || strcmp(o.mode, "streams") == 0
                   ? (size_t)o.n + 1
                   : (size_t)(o.repeat > 1 ? o.repeat : 1);
  c.streams = xcalloc(c.nstreams, sizeof(*c.streams));
  for (i = 0; i < c.nstreams; i++)
    c.streams[i].status = c.streams[i].rst = -1;
  if (nghttp2_hd_deflate_new(&c.deflater, 4096) != 0 ||
      nghttp2_hd_inflate_new(&c.inflater) != 0) {
    fprintf(stderr, "h2probe: out of memory\n");
    return 1;
  }

  c.fd = connect_to(o.host, o.port, o.rcvbuf, min_int(5000, remaining_ms(&c)));
  if (c.fd < 0) {
    printf("RESULT mode=%s error=connect status=none rst=none goaway=none "
           "closed=1 close=refused\n",
           o.mode);
    return 1;
  }

  if (o.tls && tls_start(&c) != 0) {
    printf("RESULT mode=%s error=tls status=none rst=none goaway=none "
           "closed=1 close=tls\n",
           o.mode);
    return 1;
  }

  if (strcmp(o.mode, "preface") != 0) {
    send_preface(&c, o.window);
    rv = flush(&c, 1, 0);
    if (rv == 0 && !o.no_handshake)
      pump(&c, min_int(3000, remaining_ms(&c)), handshake_done);
  }

  if (strcmp(o.mode, "req") == 0)
    mode_req(&c, &o);
  else if (strcmp(o.mode, "rapid") == 0)
    mode_rapid(&c, &o);
  else if (strcmp(o.mode, "cont") == 0)
    mode_cont(&c, &o);
  else if (strcmp(o.mode, "bomb") == 0)
    mode_bomb(&c, &o);
  else if (flood)
    mode_flood(&c, &o, strcmp(o.mode, "settings") == 0);
  else if (strcmp(o.mode, "emptydata") == 0)
    mode_emptydata(&c, &o);
  else if (strcmp(o.mode, "streams") == 0)
    mode_streams(&c, &o);
  else if (strcmp(o.mode, "frame") == 0)
    mode_frame(&c, &o);
  else
    mode_preface(&c, &o);

  if (o.half_close_ms >= 0)
    half_close(&c, &o);

  print_result(&c, &o, remaining_ms(&c) == 0);
  if (c.ssl != NULL)
    SSL_free(c.ssl);
  close(c.fd);
  nghttp2_hd_deflate_del(c.deflater);
  nghttp2_hd_inflate_del(c.inflater);
  free(c.streams);
  free(c.obuf);
  free(c.rbuf);
  free(c.hblock);
  for (i = 0; i < o.nhdrs; i++) {
    free(o.hdrs[i].name);
    free(o.hdrs[i].value);
  }
  return 0;
}
