/* pushed.h: what a browser already has from herald's pushes, across
 * connections.
 *
 * Within one connection herald never pushes a resource twice (push.c keeps
 * the set). Across connections it keeps the set in the browser itself: a
 * cookie, herald_pd, set on the page response of every navigation that got
 * pushes, holding a digest (proxy/digest.h) of hash(authority, path,
 * validator) for each resource pushed. The next navigation's Cookie
 * carries it back and herald skips those pushes. The validator is the
 * resource's ETag (else Last-Modified) as herald last saw it from the
 * backend, so a changed resource is pushed again.
 *
 * The validator of a resource pushed for the first time may not be known
 * yet when the page's headers leave (the pushed response is still on its
 * way); such an entry is hashed with an empty validator and matches
 * whatever version is current later, until the cookie expires (Max-Age
 * 7 days) or the digest fills (512 entries) and starts afresh. A browser
 * that evicts a resource from its cache before that gets it the ordinary
 * way, by asking: the cost of a false "has it" is one request, not wrong
 * content.
 *
 * Loop thread only. */
#ifndef PROXY_PUSHED_H
#define PROXY_PUSHED_H

#include <stddef.h>

#include "proxy/digest.h"

struct http_hdr;
struct http_req;
struct pushed_validators;

struct pushed_validators *pushed_validators_new(void);
void pushed_validators_free(struct pushed_validators *pv); /* NULL no-op */

/* pushed_note_validator remembers the validator of a 200 response to GET
 * |path| (query ignored) on |authority|, if it has one. */
void pushed_note_validator(struct pushed_validators *pv, const char *authority,
                           size_t alen, const char *path, size_t plen,
                           const struct http_hdr *hdrs, size_t n);

/* pushed_read_cookie fills |d| from the request's herald_pd cookie (empty
 * when absent or malformed). */
void pushed_read_cookie(struct digest *d, const struct http_req *req);

/* pushed_has tells whether |d| says the browser has |path| as it is now. */
int pushed_has(const struct pushed_validators *pv, const struct digest *d,
               const char *authority, size_t alen, const char *path);

/* pushed_add records a push of |path| in |d|, starting a fresh set when
 * it is full. */
void pushed_add(const struct pushed_validators *pv, struct digest *d,
                const char *authority, size_t alen, const char *path);

/* pushed_cookie writes the Set-Cookie value carrying |d| into |out| and
 * returns its length, or 0 when it does not fit. */
size_t pushed_cookie(const struct digest *d, int https, char *out, size_t cap);

#endif
