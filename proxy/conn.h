/* conn.h: one client connection: socket, TLS, protocol choice, output.
 *
 * A conn owns its socket and, once the protocol is known, exactly one
 * session (h1 or h2). Sessions write plaintext with conn_write; the bytes
 * are queued and sent after the current loop turn (coalescing many frames
 * into one write, and one TLS record run). Output above the configured
 * high-water mark makes conn_write_blocked true: sessions stop producing
 * and the conn stops reading the client until the socket drains, which is
 * what bounds memory per connection. A conn is freed only from its
 * uv_close callbacks; conn_close may be called from anywhere, including
 * from inside a session callback. */
#ifndef PROXY_CONN_H
#define PROXY_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct config;
struct conn;
struct loop;
struct pool;
struct tls_ctx;

/* conn_accept accepts a connection on the listening socket |server| into
 * the loop |lp|: TLS with |tls| (NULL: cleartext), after a PROXY protocol
 * header when |proxy_protocol|. The connection pins the loop's pool and
 * configuration in force (conn_pool, conn_config) until it is freed. */
void conn_accept(struct loop *lp, uv_stream_t *server, struct tls_ctx *tls,
                 int proxy_protocol);
/* conn_adopt is conn_accept for a socket |fd| another thread accepted
 * (server.c hands connections to workers): the connection owns |fd|. */
void conn_adopt(struct loop *lp, int fd, struct tls_ctx *tls,
                int proxy_protocol);

/* conn_write queues plaintext for the client (copied). */
void conn_write(struct conn *c, const void *p, size_t n);
/* conn_write_frame queues a frame for the client: the |hdlen| bytes at
 * |hd|, then the first |n| bytes of |q|. On cleartext the header is
 * copied and the payload's chunks and slices move rather than being
 * copied where they can (buf_move), to go out in one writev with the
 * header. Over TLS header and payload make one contiguous run, one record
 * when they fit 16 KB: a payload that is the start of a slice is
 * encrypted from its slab at once, the header written over the dead bytes
 * before it (buf_slice_prepend); any other is copied with the header. */
struct buf;
void conn_write_frame(struct conn *c, const void *hd, size_t hdlen,
                      struct buf *q, size_t n);
/* conn_write_frames queues the first |n| bytes of |q|, which are whole
 * frames, each header contiguous with its payload: their chunks move over
 * TLS too, since no record would hold a header apart from its payload. */
void conn_write_frames(struct conn *c, struct buf *q, size_t n);
/* conn_write_blocked: output is above the high-water mark. */
int conn_write_blocked(struct conn *c);
/* conn_output_pending: bytes queued or in flight to the client. */
size_t conn_output_pending(const struct conn *c);
/* conn_keep_output_shallow: from now on the session orders its own
 * output (HTTP/2 streams by urgency, once it has sent a 103), so what is
 * committed ahead of its next choice must stay small: conn_write_blocked
 * turns true at CONN_SHALLOW_AHEAD bytes pending instead of the write
 * buffer, and the kernel keeps at most
 * CONN_SHALLOW_LOWAT unsent bytes (TCP_NOTSENT_LOWAT). A response that
 * arrives late (the page after its 103's preloads) then waits behind
 * those and what the network holds, not behind everything queued. */
#define CONN_SHALLOW_AHEAD (32 * 1024)
#define CONN_SHALLOW_LOWAT (16 * 1024)
void conn_keep_output_shallow(struct conn *c);
/* conn_flush_now sends queued output (normally done after the loop turn). */
void conn_flush_now(struct conn *c);
/* conn_mark_dirty asks for the session's produce step and a flush after
 * this loop turn (used when a backend delivers bytes). */
void conn_mark_dirty(struct conn *c);

/* conn_close closes now (discarding unsent output) when |graceful| is 0;
 * otherwise it sends what is queued, shuts down the write side and drains
 * reads briefly (lingering close) before closing. */
void conn_close(struct conn *c, int graceful);
int conn_closing(const struct conn *c);

/* conn_set_idle: the session has nothing in progress (1), or has work
 * again (0). At limits.max_connections the connection idle longest is
 * closed to make room for a new one instead of refusing it. */
void conn_set_idle(struct conn *c, int idle);

void conn_pause_read(struct conn *c);
void conn_resume_read(struct conn *c);

/* conn_set_timeout arms the session timer: after |ms| with no call to
 * conn_set_timeout the connection is closed, logging |why|. 0 disarms. */
void conn_set_timeout(struct conn *c, uint64_t ms, const char *why);

/* conn_schedule_tick asks for one call of the session's tick op within
 * |ms| (a pending earlier call stands). Sessions keep deadlines of their
 * own (HTTP/2 streams) this way, and ask again from the tick. */
void conn_schedule_tick(struct conn *c, uint64_t ms);

/* conn_loop: the loop |c| runs on. conn_config and conn_pool: the
 * configuration and backend pool |c| pinned when it was accepted, valid
 * for its whole life; its requests use these, never the loop's. */
struct loop *conn_loop(const struct conn *c);
const struct config *conn_config(const struct conn *c);
struct pool *conn_pool(const struct conn *c);
const char *conn_peer(const struct conn *c);
/* conn_peer and conn_peer_addr give the client address, as text and in
 * 16 bytes (IPv4 mapped, see base/client.h): the TCP peer's, or, on a
 * listener with proxy_protocol, the source the PROXY header named, once
 * it has been read (before that, the peer's: the balancer). A request's
 * client may differ still, behind a trusted proxy (conn_request_client).
 * limits.max_connections_per_client counts connections under this
 * address (admit_client in conn.c). */
void conn_peer_addr(const struct conn *c, uint8_t out[16]);
/* conn_request_client fills |out| with the client of a request on |c|
 * with the fields |hdrs| (client_forwarded over the connection's address
 * and the configured trusted proxies) and returns whether the
 * connection's own address is a trusted proxy (whose X-Forwarded-For may
 * then be passed on). */
struct http_hdr;
int conn_request_client(const struct conn *c, const struct http_hdr *hdrs,
                        size_t nhdrs, uint8_t out[16]);
int conn_is_tls(const struct conn *c);
uint64_t conn_id(const struct conn *c);

/* Used by loop.c. */
void conn_shutdown(struct conn *c); /* graceful drain request */
struct conn *conn_next(const struct conn *c);
void conn_flush_dirty(struct loop *lp);

#endif
