/* netc.h: the non-blocking client connection of the benchmark clients
 * (pageload, connhold): a TCP connect, optional TLS by BoringSSL with
 * ALPN, an output queue drained as the socket allows, and reads.
 *
 * The caller owns the struct and polls |fd| itself: POLLOUT until
 * netc_connected, then POLLIN, plus POLLOUT while |out_len| > 0. Errors
 * are negative errno values; a TLS failure is -EPROTO. No certificate is
 * verified: these clients talk to the proxies under test on loopback. */
#ifndef TOOLS_BENCH_NETC_H
#define TOOLS_BENCH_NETC_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct netc {
  int fd;        /* -1 before netc_connect and after netc_close */
  SSL *ssl;      /* NULL for cleartext and before the handshake starts */
  uint8_t *out;  /* queued bytes not yet written; owned */
  size_t out_len;
};

/* netc_tls_ctx: a client context, TLS 1.2 and up, no verification, no
 * session cache (every connection a full handshake, as a cold visit);
 * partial writes, and a blocked write retried from a moved buffer (the
 * queue may grow in between). The caller frees it with SSL_CTX_free. */
SSL_CTX *netc_tls_ctx(void);

/* netc_connect starts a non-blocking connect of |c| (fd -1 on entry) to
 * |host|:|port| with TCP_NODELAY. 0 while in progress or done, or a
 * negative errno (-EHOSTUNREACH when the name does not resolve). */
int netc_connect(struct netc *c, const char *host, const char *port);

/* netc_connected: after POLLOUT on a connecting socket, 0 when the connect
 * succeeded, or its negative errno. */
int netc_connected(const struct netc *c);

/* netc_handshake drives the TLS handshake, starting it on the first call
 * with ALPN |alpn| (wire format: length-prefixed names). 1 when done, 0
 * when it waits for the socket, -EPROTO when it failed. */
int netc_handshake(struct netc *c, SSL_CTX *ctx, const uint8_t *alpn,
                   size_t alpn_len);

/* netc_alpn_is: the handshake selected protocol |proto| (e.g. "h2"). */
int netc_alpn_is(const struct netc *c, const char *proto);

/* netc_queue appends |n| bytes to the output queue (no limit: callers cap
 * it by checking |out_len| first). */
void netc_queue(struct netc *c, const void *p, size_t n);

/* netc_flush writes what the socket takes: 0 when the queue is empty or
 * the socket is full, or a negative errno. */
int netc_flush(struct netc *c);

/* netc_read reads into |buf|: the byte count, 0 when nothing is ready
 * now, -1 when the peer closed or the connection failed. */
ssize_t netc_read(struct netc *c, void *buf, size_t cap);

/* netc_close frees everything |c| holds; fd is -1 afterwards. */
void netc_close(struct netc *c);

#endif
