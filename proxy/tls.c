/* tls.c: see tls.h.
 *
 * Ciphertext leaves BoringSSL through a BIO of our own whose write appends
 * to the connection's chunk queue: a memory BIO would zero every byte it
 * grows by and then be copied out again, which was a tenth of the CPU of
 * a 100 KB response over TLS. Ciphertext in still goes through a memory
 * BIO (requests are small). */
#include "proxy/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "base/buf.h"
#include "base/util.h"

struct tls_ctx {
  SSL_CTX *ssl_ctx;
  /* Atomic: a listener's context is referenced by the main loop and
   * released by the worker a connection is handed to. */
  atomic_int refs;
};

struct tls_conn {
  SSL *ssl;
  BIO *rbio, *wbio; /* owned by |ssl| */
  struct buf out;   /* ciphertext to send, appended by wbio */
  char err[128];
};

/* The write BIO: everything written is queued in tls_conn.out, never
 * refused (conn.c bounds how much plaintext it encrypts before the socket
 * drains). Flush succeeds; nothing else is supported. */
static int queue_bio_write(BIO *b, const char *p, int n) {
  struct tls_conn *t = BIO_get_data(b);
  if (n <= 0)
    return 0;
  buf_append(&t->out, p, (size_t)n);
  return n;
}

static long queue_bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)b;
  (void)num;
  (void)ptr;
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static BIO_METHOD *queue_bio_method;
static pthread_once_t queue_bio_once = PTHREAD_ONCE_INIT;

static void queue_bio_init(void) {
  queue_bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                                  "herald queue");
  if (queue_bio_method == NULL ||
      !BIO_meth_set_write(queue_bio_method, queue_bio_write) ||
      !BIO_meth_set_ctrl(queue_bio_method, queue_bio_ctrl)) {
    fprintf(stderr, "herald: out of memory in TLS\n");
    abort();
  }
}

static const uint8_t alpn_h2[] = {2, 'h', '2'};
static const uint8_t alpn_h1[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

/* Prefer h2, accept http/1.1; a client offering neither proceeds without
 * ALPN and is served HTTP/1.1 (as nginx and nghttpx do). */
static int select_alpn(SSL *ssl, const uint8_t **out, uint8_t *out_len,
                       const uint8_t *in, unsigned in_len, void *arg) {
  (void)ssl;
  (void)arg;
  const uint8_t *prefs[] = {alpn_h2, alpn_h1};
  for (size_t k = 0; k < ARRAY_SIZE(prefs); k++) {
    for (unsigned i = 0; i < in_len; i += 1u + in[i]) {
      if (in[i] == prefs[k][0] && i + 1u + in[i] <= in_len &&
          memcmp(in + i + 1, prefs[k] + 1, in[i]) == 0) {
        *out = in + i + 1;
        *out_len = in[i];
        return SSL_TLSEXT_ERR_OK;
      }
    }
  }
  return SSL_TLSEXT_ERR_NOACK;
}

/* pem_holds: the first 64 KB of |path| contain |marker|, e.g. a PEM
 * "PRIVATE KEY-----" line: what turns a parse failure into "cert and key
 * swapped?". Runs where certificates are loaded: off the loop. */
static int pem_holds(const char *path, const char *marker) {
  char buf[65536];
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return 0;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  return memmem(buf, n, marker, strlen(marker)) != NULL;
}

struct tls_ctx *tls_ctx_new(const char *cert_file, const char *key_file,
                            char *err, size_t errlen) {
  SSL_CTX *c = SSL_CTX_new(TLS_method());
  if (c == NULL)
    goto fail;
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION |
                             SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER);
  if (SSL_CTX_use_certificate_chain_file(c, cert_file) != 1) {
    if (pem_holds(cert_file, "PRIVATE KEY-----"))
      snprintf(err, errlen, "cert %s: holds a private key, not a "
               "certificate (are cert and key swapped?)", cert_file);
    else
      snprintf(err, errlen, "cert %s: cannot load a PEM certificate chain: "
               "%s", cert_file, ERR_reason_error_string(ERR_get_error()));
    goto fail_msg;
  }
  if (SSL_CTX_use_PrivateKey_file(c, key_file, SSL_FILETYPE_PEM) != 1) {
    uint32_t e = ERR_peek_last_error();
    if (ERR_GET_LIB(e) == ERR_LIB_X509 &&
        (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH ||
         ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH))
      snprintf(err, errlen, "key %s does not match cert %s", key_file,
               cert_file);
    else if (!pem_holds(key_file, "PRIVATE KEY-----") &&
             pem_holds(key_file, "CERTIFICATE-----"))
      snprintf(err, errlen, "key %s: holds a certificate, not a private "
               "key (are cert and key swapped?)", key_file);
    else
      snprintf(err, errlen, "key %s: cannot load a PEM private key: %s",
               key_file, ERR_reason_error_string(ERR_get_error()));
    goto fail_msg;
  }
  if (SSL_CTX_check_private_key(c) != 1) {
    snprintf(err, errlen, "key %s does not match cert %s", key_file,
             cert_file);
    goto fail_msg;
  }
  SSL_CTX_set_alpn_select_cb(c, select_alpn, NULL);
  struct tls_ctx *ctx = xcalloc(1, sizeof(*ctx));
  ctx->ssl_ctx = c;
  atomic_init(&ctx->refs, 1);
  return ctx;
fail:
  snprintf(err, errlen, "cannot create TLS context: %s",
           ERR_reason_error_string(ERR_get_error()));
fail_msg:
  SSL_CTX_free(c);
  ERR_clear_error();
  return NULL;
}

void tls_ctx_ref(struct tls_ctx *ctx) { atomic_fetch_add(&ctx->refs, 1); }

void tls_ctx_free(struct tls_ctx *ctx) {
  if (ctx == NULL || atomic_fetch_sub(&ctx->refs, 1) > 1)
    return;
  SSL_CTX_free(ctx->ssl_ctx);
  free(ctx);
}

struct tls_conn *tls_conn_new(struct tls_ctx *ctx, struct buf_cache *bufs) {
  pthread_once(&queue_bio_once, queue_bio_init);
  struct tls_conn *t = xcalloc(1, sizeof(*t));
  buf_init(&t->out, bufs);
  t->ssl = SSL_new(ctx->ssl_ctx);
  t->rbio = BIO_new(BIO_s_mem());
  t->wbio = BIO_new(queue_bio_method);
  if (t->ssl == NULL || t->rbio == NULL || t->wbio == NULL) {
    fprintf(stderr, "herald: out of memory in TLS\n");
    abort();
  }
  BIO_set_data(t->wbio, t);
  BIO_set_init(t->wbio, 1);
  SSL_set_bio(t->ssl, t->rbio, t->wbio);
  SSL_set_accept_state(t->ssl);
  return t;
}

void tls_conn_free(struct tls_conn *t) {
  if (t == NULL)
    return;
  SSL_free(t->ssl);
  buf_cleanup(&t->out);
  free(t);
}

void tls_feed(struct tls_conn *t, const uint8_t *p, size_t n) {
  /* A memory BIO grows as needed; the caller bounds how much it reads
   * before draining plaintext, so this never accumulates. */
  BIO_write(t->rbio, p, (int)n);
}

static int tls_error(struct tls_conn *t, int rv) {
  int e = SSL_get_error(t->ssl, rv);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
    return 0;
  if (e == SSL_ERROR_ZERO_RETURN)
    return UV_EOF;
  unsigned long code = ERR_get_error();
  snprintf(t->err, sizeof(t->err), "%s",
           code ? ERR_reason_error_string(code) : "TLS error");
  ERR_clear_error();
  return UV_EPROTO;
}

int tls_read(struct tls_conn *t, uint8_t *out, size_t cap) {
  if (!SSL_is_init_finished(t->ssl)) {
    int rv = SSL_do_handshake(t->ssl);
    if (rv != 1)
      return tls_error(t, rv);
  }
  int rv = SSL_read(t->ssl, out, (int)cap);
  if (rv > 0)
    return rv;
  return tls_error(t, rv);
}

int tls_write(struct tls_conn *t, const uint8_t *p, size_t n) {
  while (n > 0) {
    int chunk = n > 16384 ? 16384 : (int)n;
    int rv = SSL_write(t->ssl, p, chunk);
    if (rv <= 0) {
      int e = tls_error(t, rv);
      return e == 0 ? UV_EPROTO : e;
    }
    p += rv;
    n -= (size_t)rv;
  }
  return 0;
}

size_t tls_out_pending(const struct tls_conn *t) { return t->out.len; }

void tls_out_take(struct tls_conn *t, struct buf *dst) {
  buf_take(dst, &t->out);
}

int tls_handshake_done(const struct tls_conn *t) {
  return SSL_is_init_finished(t->ssl);
}

int tls_alpn_h2(const struct tls_conn *t) {
  const uint8_t *p;
  unsigned len;
  SSL_get0_alpn_selected(t->ssl, &p, &len);
  return len == 2 && memcmp(p, "h2", 2) == 0;
}

const char *tls_last_error(struct tls_conn *t) {
  return t->err[0] ? t->err : "TLS error";
}
