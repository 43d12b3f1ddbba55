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
 * _GOT_PUSH). */
#ifndef LEARNER_ATTRIBUTION_H
#define LEARNER_ATTRIBUTION_H

#include <stddef.h>
#include <stdint.h>

#include "learner/obs.h"
#include "learner/pagekey.h"

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

enum visit_req_flag {
  VISIT_REQ_PUSHABLE = 1u << 0,    /* GET, 200, same authority, cacheable
                                      (no no-store, no private, no
                                      Authorization), no Set-Cookie,
                                      Vary <= Accept-Encoding, complete */
  VISIT_REQ_ALREADY_HAD = 1u << 1, /* 304 to a conditional request */
  VISIT_REQ_PUSHED = 1u << 2,
  VISIT_REQ_HINTED = 1u << 3,
  VISIT_REQ_DELIVERED = 1u << 4,   /* not requested: herald pushed it whole
                                      and the client never asked (the
                                      push stood in for the request);
                                      depth 0, no delay */
};

/* When the client sent no Sec-Fetch-Dest, dest is derived from the media
 * type (parameters ignored): text/css is STYLE; a type containing
 * "javascript" or "ecmascript" is SCRIPT; a "font/" type, or one
 * containing "woff", "ttf", "otf", "truetype", "opentype" or
 * "fontobject" is FONT; an "image/" type is IMAGE; one containing "json"
 * or "xml", or text/plain, is FETCH; anything else (text/html included)
 * is OTHER. */
#define VISIT_URGENCY_NONE 0xff

struct visit_req {
  char key[PAGEKEY_MAX];   /* resource key: scheme://authority/path?query,
                              the query as requested */
  char method[8];
  char content_type[OBS_CTYPE_MAX];
  uint16_t status;
  uint8_t dest;            /* enum obs_dest: Sec-Fetch-Dest, or derived
                              from content_type (see below) */
  uint8_t urgency;         /* RFC 9218 urgency (0 most urgent .. 7) of the
                              request's priority field; VISIT_URGENCY_NONE
                              when it had none */
  uint8_t depth;           /* 1: referred by the page (255 at most) */
  int parent;              /* index of the referring resource, or -1 */
  uint32_t flags;          /* enum visit_req_flag */
  uint32_t delay_ms;       /* request start minus page request start */
  uint64_t bytes;
};

/* What herald sent ahead of the page. */
enum visit_delivery {
  VISIT_NONE = 0,    /* no rules, mode off or shadow */
  VISIT_HINTS = 1,   /* a 103 Early Hints */
  VISIT_PUSH = 2,    /* server pushes */
  VISIT_HOLDOUT = 3, /* would have got one of those; held out to measure */
};

/* One pushed stream of the visit (OBS_PUSH). */
struct visit_push {
  char key[PAGEKEY_MAX];
  char content_type[OBS_CTYPE_MAX];
  uint64_t bytes;      /* body bytes sent */
  int completed;       /* sent to the end; 0: reset (cancelled) */
  int client_had;      /* not pushed: the browser had it (digest cookie) */
  uint8_t dest;        /* client_had: the rule's destination */
};

/* A resource herald named to the client ahead of the page: in the 103
 * Early Hints it sent, or as a push it promised (whatever became of it).
 * A request for it in this visit is herald's doing, not the page's, so
 * the learner takes it as no evidence either way. Filled by the recorder
 * (attribution leaves it empty). */
enum visit_named_channel { VISIT_NAMED_HINT = 1, VISIT_NAMED_PUSH = 2 };
struct visit_named {
  char key[PAGEKEY_MAX];
  uint8_t channel; /* enum visit_named_channel */
};

struct visit {
  char page_key[PAGEKEY_MAX];
  char template_key[PAGEKEY_MAX];
  int mobile;
  uint8_t client_token[16]; /* who: address and User-Agent (attribution) */
  uint8_t network[16];     /* the client's network (recorder.h): what
                              learn.min_clients counts; all zero for a
                              visit recorded before herald knew it */
  uint64_t start_ms;       /* page request arrival, Unix ms */
  uint64_t load_ms;        /* page start to end of last attributed response */
  uint64_t bytes;          /* page + attributed + pushed response bytes */
  uint8_t delivery;        /* enum visit_delivery */
  struct visit_req *reqs;  /* in the order the client made them (start
                              time, then connection and stream), then the
                              completed pushes */
  size_t nreqs;
  struct visit_push *pushes;
  size_t npushes;
  struct visit_named *named; /* see struct visit_named */
  size_t nnamed;
  /* Where the page's 103 came from (the proxy's choice, carried by the
   * page's OBS_DONE): snapshot generation, page slot, and the entries
   * named (bit i: entry i). Zero without a 103. */
  uint64_t rules_gen;
  uint32_t rules_slot;
  uint64_t named_mask;
};

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
