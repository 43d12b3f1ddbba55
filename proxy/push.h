/* push.h: server push behind the delivery decision.
 *
 * What it owns. When hints_decide (proxy/hints.h) chooses push for a
 * navigation, push_page picks what to promise: the page's push rules in
 * rule order, each at most once per connection (push_conn), none the
 * browser's herald_pd digest cookie says it has (proxy/pushed.h), while
 * the client's stream limit and send window have room. For each, the
 * session's sink promises a stream (PUSH_PROMISE is HTTP/2 framing, the
 * session's) and push.c starts the pushed stream's exchange: herald's
 * own GET with the page request's user-agent, accept-encoding,
 * accept-language and cache-control, recorded as OBS_PUSH tied to the
 * page. It then sees the pushed stream to its end: a response that is
 * not pushable is reset (push_response_ok), and the outcome is counted
 * (push_closed). What the client's limits cut off is returned to the
 * exchange, which names it in a 103 instead (hints_push_fallback).
 *
 * Who calls it: exchange.c only. Loop thread only. */
#ifndef PROXY_PUSH_H
#define PROXY_PUSH_H

#include <stddef.h>
#include <stdint.h>

struct exchange;
struct exchange_outcome;
struct http_hdr;
struct http_req;
struct obs;
struct loop;
struct ruleset_page;

/* What one connection pushed: hashes of authority and path (query
 * left out), so a resource is pushed at most once per connection, and
 * how many pushed streams are open. Embedded in the HTTP/2 session. */
#define PUSH_CONN_MAX 256
struct push_conn {
  uint64_t pushed[PUSH_CONN_MAX];
  size_t npushed;
  int open;
};

/* push_note_request flags a request on the connection for a resource
 * herald pushed on it already (OBS_F_PUSHED on |o|, counted wasted). */
void push_note_request(struct push_conn *pc, struct loop *lp,
                       const struct http_req *req, struct obs *o);

/* push_page promises the entries |named| of the page rules |p| for the
 * navigation |x| (request |req|), as described above. |*pushed| is how
 * many went out. Returns the entries that were to be pushed but did not
 * fit the client's limits (bit i: entry i of |p|). */
uint64_t push_page(struct exchange *x, const struct http_req *req,
                   const struct ruleset_page *p, uint64_t named,
                   int *pushed);

/* push_response_ok: the same test recording applies to call a response
 * pushable (200, no no-store/private, no Set-Cookie, Vary at most
 * Accept-Encoding). */
int push_response_ok(int status, const struct http_hdr *hdrs, size_t n);

/* push_closed counts the outcome of the pushed stream |x|. */
void push_closed(struct exchange *x, const struct exchange_outcome *o);

#endif
