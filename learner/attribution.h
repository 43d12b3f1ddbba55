/* attribution.h: from observed requests to page visits and the
 * subresources that followed them. Pure: no I/O, no clock of its own, no
 * threads; the recorder feeds it and writes what it emits.
 *
 * A visit starts with an OBS_NAV_START for a request that may be a
 * navigation and is confirmed by the same request's OBS_DONE: a GET
 * answered 200 text/html, not cut short, without Authorization (anything
 * else discards it). A later request is attributed to a visit of the same
 * client (client token) within the window when:
 *   - its Referer is the page's URL (depth 1), or
 *   - its Referer is a resource already attributed to the visit (depth 2+,
 *     parent recorded), or
 *   - it has no Referer, or one that names only an origin (Referrer-Policy
 *     origin, strict-origin, or strict-origin-when-cross-origin across
 *     origins; unless the page is that origin's root), and arrives on the
 *     same HTTP/2 connection (depth 1: the parent is unknown).
 * A resource's key is the URL it was requested by, query included byte
 * for byte (pagekey_resource); the page's key keeps only the kept query
 * parameters (pagekey_make).
 * Among several candidate visits the latest that started before the
 * request wins, preferring one on the same connection when the request
 * came over HTTP/2 (two tabs on two connections stay apart; HTTP/1.1
 * connections are pooled, so there the connection says nothing). The
 * window runs from the page request's start; "within" means the
 * request's start is in [page start, page start + window). Navigations
 * (OBS_F_NAVIGATE, dest DOCUMENT, or a GET that would have started a
 * visit), requests to another authority, requests past the window and
 * truncated paths are never attributed. A resource key already in the
 * visit, or equal to the page key, is recorded once (the first).
 * Completion order is not request order (a stylesheet may finish after
 * the font it references), so requests that match nothing yet are held
 * for the window and matched again when a visit of the client gains a
 * resource or is confirmed. Resources may attach to a visit that is still
 * tentative (the HTML is still streaming); they go with it if it is
 * discarded. An OBS_PUSH (a stream herald pushed) belongs to the visit
 * whose page stream promised it; its bytes count in the visit's bytes and
 * its end in the load time when it completed. A completed push the client
 * did not also request is emitted among the requests too, flagged
 * VISIT_REQ_DELIVERED: the page needed it as much as if it had been asked
 * for, and a learner that saw only requests would lose confidence in
 * exactly the resources it pushes. A push skipped because the browser's
 * digest says it has the resource (OBS_F_CLIENT_HAD) is emitted the same
 * way, as already had (no bytes, status 304). The page's own OBS_DONE
 * says what herald sent ahead of it (OBS_F_HOLDOUT, _GOT_HINTS,
 * _GOT_PUSH). An OBS_DECLARED (what the page's backend declared, in a
 * Link field or its own 103) belongs to the visit of its page request
 * (connection, stream and start); one whose key is not a safe path of
 * the page's origin (pagekey_rule_ok) is dropped, a key declared twice is
 * kept once, and at most OBS_DECLARED_MAX are kept per visit. */
#ifndef LEARNER_ATTRIBUTION_H
#define LEARNER_ATTRIBUTION_H

#include <stddef.h>
#include <stdint.h>

#include "learner/obs.h"
#include "learner/pagekey.h"
#include "store/rows.h"

struct attrib;

/* Zero in any field takes the default. attrib_new copies the pattern and
 * keep_params strings. */
struct attrib_config {
  uint64_t window_ms;        /* default 5000 */
  int single_class;          /* 1: everyone is "desktop" */
  struct pagekey_config keys;
  /* Caps on memory; what goes over is dropped oldest first and counted in
   * struct attrib_stats. */
  size_t max_visits;         /* visits in flight, default 65536 */
  size_t max_reqs;           /* resources recorded per visit, default 256 */
  size_t max_held_client;    /* held requests per client, default 256 */
  size_t max_held;           /* held requests in all, default 4096 */
  size_t max_visits_client;  /* open visits per client, default 64: a
                                client (or one address behind a NAT)
                                loading pages faster than that cannot make
                                every request walk a long list */
};

/* When the client sent no Sec-Fetch-Dest, a request's dest (struct
 * visit_req, store/rows.h) is derived from the media type (parameters
 * ignored): text/css is STYLE; a type containing "javascript" or
 * "ecmascript" is SCRIPT; a "font/" type, or one
 * containing "woff", "ttf", "otf", "truetype", "opentype" or
 * "fontobject" is FONT; an "image/" type is IMAGE; one containing "json"
 * or "xml", or text/plain, is FETCH; anything else (text/html included)
 * is OTHER. */

/* attrib_emit_cb receives each finished visit; |v| is valid during the
 * call only, and the callee may change the flags of its requests. */
typedef void (*attrib_emit_cb)(void *ud, struct visit *v);

struct attrib *attrib_new(const struct attrib_config *cfg);
void attrib_free(struct attrib *a); /* NULL is a no-op */

/* attrib_add feeds one observation (client_token and network filled,
 * kinds in the order the recorder received them). */
void attrib_add(struct attrib *a, const struct obs *o);

/* attrib_expire emits every confirmed visit whose window has closed by
 * |now_ms| (start + window <= now), frees it, and discards tentative
 * visits still unconfirmed 30 s after their window closed. It forgets held
 * requests older than the window. A request that started inside a window
 * but finishes after the visit was emitted is lost, so a caller that
 * wants slow responses counted passes a |now_ms| that lags the clock.
 * Visits are examined in arrival order, stopping at the first whose window
 * is still open. */
void attrib_expire(struct attrib *a, uint64_t now_ms, attrib_emit_cb emit,
                   void *ud);

/* attrib_flush emits every confirmed visit regardless of time (shutdown).
 * Tentative visits and held requests stay until attrib_expire or
 * attrib_free. */
void attrib_flush(struct attrib *a, attrib_emit_cb emit, void *ud);

/* attrib_pending counts visits not yet emitted, tentative ones included
 * (for tests and metrics). */
size_t attrib_pending(const struct attrib *a);

/* attrib_held counts requests held for a referrer not yet seen. */
size_t attrib_held(const struct attrib *a);

/* Counters since attrib_new, for metrics and tests. */
struct attrib_stats {
  uint64_t visits_started;   /* tentative visits created */
  uint64_t visits_confirmed;
  uint64_t visits_discarded; /* not a 200 HTML GET, or never confirmed */
  uint64_t visits_dropped;   /* over max_visits, dropped unemitted */
  uint64_t visits_emitted;
  uint64_t reqs_attributed;  /* resources recorded in a visit */
  uint64_t reqs_duplicate;   /* key already in the visit (or the page) */
  uint64_t reqs_over_cap;    /* the visit already had max_reqs */
  uint64_t reqs_held;        /* held when they first arrived */
  uint64_t held_dropped;     /* over max_held_client or max_held */
  uint64_t held_expired;     /* older than the window, never matched */
};

void attrib_get_stats(const struct attrib *a, struct attrib_stats *out);

#endif
