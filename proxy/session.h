/* session.h: what a conn asks of its protocol session (h1.c or h2.c).
 *
 * Both sessions implement the same small set of operations; the conn calls
 * them through this table so it never needs to know which protocol runs. */
#ifndef PROXY_SESSION_H
#define PROXY_SESSION_H

#include <stddef.h>
#include <stdint.h>

struct conn;
struct loop;

struct session_ops {
  /* recv feeds plaintext from the client. A negative return closes the
   * connection at once (the session has logged why). */
  int (*recv)(void *s, const uint8_t *p, size_t n);
  /* produce writes pending output with conn_write until blocked. */
  void (*produce)(void *s);
  /* writable: the output drained below the low-water mark. */
  void (*writable)(void *s);
  /* done: nothing more to do; the conn closes gracefully. */
  int (*done)(void *s);
  /* shutdown: stop taking new requests, finish in-flight ones. */
  void (*shutdown)(void *s);
  /* eof: the client closed its side. */
  void (*eof)(void *s);
  /* tick: the delay asked with conn_schedule_tick passed (may be NULL
   * for a session that never asks). */
  void (*tick)(void *s);
  void (*free)(void *s);
};

extern const struct session_ops h1_session_ops;
extern const struct session_ops h2_session_ops;

/* h1_session_new / h2_session_new attach a session to |c|. */
void *h1_session_new(struct conn *c);
void *h2_session_new(struct conn *c);

/* h2_loop_cleanup frees what h2.c keeps in |lp| (recycled streams,
 * nghttp2 callbacks and options) once the loop has ended. */
void h2_loop_cleanup(struct loop *lp);

#endif
