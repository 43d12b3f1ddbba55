/* tls.h: BoringSSL over libuv through memory BIOs.
 *
 * The socket stays libuv's: ciphertext read from it is fed in with
 * tls_feed, plaintext comes out of tls_read, plaintext to send goes into
 * tls_write and the resulting ciphertext is drained with tls_out. The
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
void tls_ctx_free(struct tls_ctx *ctx); /* NULL is a no-op; refcounted */
void tls_ctx_ref(struct tls_ctx *ctx);

struct tls_conn *tls_conn_new(struct tls_ctx *ctx);
void tls_conn_free(struct tls_conn *t); /* NULL is a no-op */

/* tls_feed hands ciphertext from the socket to the TLS engine. */
void tls_feed(struct tls_conn *t, const uint8_t *p, size_t n);

/* tls_read decrypts into |out|. Returns bytes (>0), 0 when more
 * ciphertext is needed (check tls_out: the handshake may want to send),
 * UV_EOF on close_notify, or UV_EPROTO on a TLS error. */
int tls_read(struct tls_conn *t, uint8_t *out, size_t cap);

/* tls_write encrypts all of |p|; returns 0 or UV_EPROTO. */
int tls_write(struct tls_conn *t, const uint8_t *p, size_t n);

/* tls_out returns ciphertext waiting to be sent (valid until the next tls_
 * call) and its length; tls_out_consume drops |n| bytes of it. */
size_t tls_out(struct tls_conn *t, const uint8_t **out);
void tls_out_consume(struct tls_conn *t, size_t n);

int tls_handshake_done(const struct tls_conn *t);
/* tls_alpn_h2 tells whether ALPN selected "h2". */
int tls_alpn_h2(const struct tls_conn *t);
/* tls_last_error describes the last failure (for a log line). */
const char *tls_last_error(struct tls_conn *t);

#endif
