/* netc.c: see netc.h. */
#include "tools/bench/netc.h"

#include "base/util.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

SSL_CTX *netc_tls_ctx(void) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_method());
  if (ctx == NULL)
    abort();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return ctx;
}

int netc_connect(struct netc *c, const char *host, const char *port) {
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
  if (getaddrinfo(host, port, &hints, &ai) != 0)
    return -EHOSTUNREACH;
  int rv = 0, one = 1;
  c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    rv = -errno;
    goto done;
  }
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS)
    rv = -errno;
done:
  freeaddrinfo(ai);
  return rv;
}

int netc_connected(const struct netc *c) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
    return -errno;
  return -err;
}

int netc_handshake(struct netc *c, SSL_CTX *ctx, const uint8_t *alpn,
                   size_t alpn_len) {
  if (c->ssl == NULL) {
    c->ssl = SSL_new(ctx);
    if (c->ssl == NULL)
      abort();
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_connect_state(c->ssl);
    SSL_set_alpn_protos(c->ssl, alpn, alpn_len);
  }
  int rv = SSL_do_handshake(c->ssl);
  if (rv == 1)
    return 1;
  int e = SSL_get_error(c->ssl, rv);
  return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -EPROTO;
}

int netc_alpn_is(const struct netc *c, const char *proto) {
  const uint8_t *sel;
  unsigned len;
  SSL_get0_alpn_selected(c->ssl, &sel, &len);
  return len == strlen(proto) && memcmp(sel, proto, len) == 0;
}

void netc_queue(struct netc *c, const void *p, size_t n) {
  c->out = xrealloc(c->out, c->out_len + n);
  memcpy(c->out + c->out_len, p, n);
  c->out_len += n;
}

int netc_flush(struct netc *c) {
  while (c->out_len > 0) {
    ssize_t n;
    if (c->ssl != NULL) {
      int w = SSL_write(c->ssl, c->out, (int)c->out_len);
      if (w <= 0) {
        int e = SSL_get_error(c->ssl, w);
        return e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? 0
                                                                     : -EPROTO;
      }
      n = w;
    } else {
      n = write(c->fd, c->out, c->out_len);
      if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
    }
    memmove(c->out, c->out + n, c->out_len - (size_t)n);
    c->out_len -= (size_t)n;
  }
  return 0;
}

ssize_t netc_read(struct netc *c, void *buf, size_t cap) {
  if (c->ssl != NULL) {
    int r = SSL_read(c->ssl, buf, (int)cap);
    if (r > 0)
      return r;
    int e = SSL_get_error(c->ssl, r);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
  }
  ssize_t n = read(c->fd, buf, cap);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return 0;
  return n > 0 ? n : -1;
}

void netc_close(struct netc *c) {
  if (c->ssl != NULL)
    SSL_free(c->ssl);
  if (c->fd >= 0)
    close(c->fd);
  free(c->out);
  c->ssl = NULL;
  c->fd = -1;
  c->out = NULL;
  c->out_len = 0;
}
