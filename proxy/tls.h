/* tls.h: BoringSSL over libuv through BIOs in memory.
 *
 * The socket stays libuv's: ciphertext read from it is fed in with
 * tls_feed, plaintext comes out of tls_read, plaintext to send goes into
 * tls_write and the resulting ciphertext is queued in chunks that
 * tls_out_take hands over without copying. The
 * handshake runs inside tls_read, so it never blocks the loop. BoringSSL's
 * 1/0 returns are converted to 0 / negative UV_E* codes here and nowhere
 * else. */
#ifndef PROXY_TLS_H
#define PROXY_TLS_H

#include <stddef.h>
#include <stdint.h>

struct tls_ctx;
struct tls_conn;

/* tls_ctx_new loads |cert_file| (PEM chain) and |key_file| and offers TLS
 * 1.2 and 1.3 with ALPN h2 and http/1.1. On error returns NULL and writes
 * the reason into |err|, starting "cert FILE: " or "key FILE " (a key
 * given as the certificate, a key that does not match it). Reads files:
 * not on the loop thread. */
struct tls_ctx *tls_ctx_new(const char *cert_file, const char *key_file,
                            char *err, size_t errlen);
void tls_ctx_free(struct tls_ctx *ctx); /* NULL is a no-op; refcounted,
                                          atomically: any thread */
void tls_ctx_ref(struct tls_ctx *ctx);

struct buf_cache;
/* tls_conn_new: ciphertext to send is queued in chunks from |bufs| (the
 * connection's loop's cache, see buf.h). */
struct tls_conn *tls_conn_new(struct tls_ctx *ctx, struct buf_cache *bufs);
void tls_conn_free(struct tls_conn *t); /* NULL is a no-op */

/* tls_feed hands ciphertext from the socket to the TLS engine. */
void tls_feed(struct tls_conn *t, const uint8_t *p, size_t n);

/* tls_read decrypts into |out|. Returns bytes (>0), 0 when more
 * ciphertext is needed (check tls_out: the handshake may want to send),
 * UV_EOF on close_notify, or UV_EPROTO on a TLS error. */
int tls_read(struct tls_conn *t, uint8_t *out, size_t cap);

/* tls_write encrypts all of |p|; returns 0 or UV_EPROTO. */
int tls_write(struct tls_conn *t, const uint8_t *p, size_t n);

struct buf;
/* tls_out_pending: bytes of ciphertext waiting to be sent (tls_write's,
 * and the handshake's and alerts' from tls_read). tls_out_take moves all
 * of it to the end of |dst|, which then owns it. */
size_t tls_out_pending(const struct tls_conn *t);
void tls_out_take(struct tls_conn *t, struct buf *dst);

int tls_handshake_done(const struct tls_conn *t);
/* tls_alpn_h2 tells whether ALPN selected "h2". */
int tls_alpn_h2(const struct tls_conn *t);
/* tls_last_error describes the last failure (for a log line). */
const char *tls_last_error(struct tls_conn *t);

#endif
