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
 *   - it has no Referer and arrives on the same HTTP/2 connection.
 * Among several candidate visits the latest that started before the
 * request wins, preferring one on the same connection (two tabs on two
 * connections stay apart). Navigations, requests to another authority,
 * requests past the window and truncated paths are never attributed.
 * Completion order is not request order (a stylesheet may finish after
 * the font it references), so requests that match nothing yet are held
 * for the window and matched again when the visit gains a resource. */
#ifndef LEARNER_ATTRIBUTION_H
#define LEARNER_ATTRIBUTION_H

#include <stddef.h>
#include <stdint.h>

#include "learner/obs.h"
#include "learner/pagekey.h"

struct attrib;

struct attrib_config {
  uint64_t window_ms;        /* default 5000 */
  int single_class;          /* 1: everyone is "desktop" */
  struct pagekey_config keys;
};

enum visit_req_flag {
  VISIT_REQ_PUSHABLE = 1u << 0,    /* GET, 200, same authority, cacheable,
                                      no Set-Cookie, Vary <= Accept-Encoding */
  VISIT_REQ_ALREADY_HAD = 1u << 1, /* 304 to a conditional request */
  VISIT_REQ_PUSHED = 1u << 2,
  VISIT_REQ_HINTED = 1u << 3,
};

struct visit_req {
  char key[PAGEKEY_MAX];   /* resource key (same scheme://authority/path) */
  char method[8];
  char content_type[OBS_CTYPE_MAX];
  uint16_t status;
  uint8_t dest;            /* enum obs_dest: Sec-Fetch-Dest or derived */
  uint8_t depth;           /* 1: referred by the page */
  int parent;              /* index of the referring resource, or -1 */
  uint32_t flags;          /* enum visit_req_flag */
  uint32_t delay_ms;       /* request start minus page request start */
  uint64_t bytes;
};

struct visit {
  char page_key[PAGEKEY_MAX];
  char template_key[PAGEKEY_MAX];
  int mobile;
  uint8_t client_token[16];
  uint64_t start_ms;       /* page request arrival, Unix ms */
  uint64_t load_ms;        /* page start to end of last attributed response */
  uint64_t bytes;          /* page + attributed response bytes */
  struct visit_req *reqs;  /* in attribution order */
  size_t nreqs;
};

/* attrib_emit_cb receives each finished visit; |v| is valid during the
 * call only. */
typedef void (*attrib_emit_cb)(void *ud, const struct visit *v);

struct attrib *attrib_new(const struct attrib_config *cfg);
void attrib_free(struct attrib *a); /* NULL is a no-op */

/* attrib_add feeds one observation (client_token filled, kinds in the
 * order the recorder received them). */
void attrib_add(struct attrib *a, const struct obs *o);

/* attrib_expire emits every visit whose window has closed by |now_ms| and
 * forgets held requests older than the window. */
void attrib_expire(struct attrib *a, uint64_t now_ms, attrib_emit_cb emit,
                   void *ud);

/* attrib_flush emits every confirmed visit regardless of time (shutdown). */
void attrib_flush(struct attrib *a, attrib_emit_cb emit, void *ud);

/* attrib_pending counts visits not yet emitted (for tests and metrics). */
size_t attrib_pending(const struct attrib *a);

#endif
