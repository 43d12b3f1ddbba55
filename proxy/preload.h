/* preload.h: the order in which a connection sends what its 103s named.
 *
 * A browser that gets a 103 requests every preload at once, and marks
 * each with the urgency of its kind, not of its place in the page:
 * Chromium sends "u=0, i" for a preloaded stylesheet and "u=1, i" for a
 * preloaded script and font alike. Scheduled by that (RFC 9218), the
 * scripts the parser waits for share the link round-robin with fonts, so
 * they all finish together near the end, and the page renders late. herald
 * knows better: it named them in the page's order (learner/learn.h,
 * "critical first"). So each request that a 103 on the same connection
 * named is given the urgency of its place instead, and sent whole before
 * the next (not incremental): stylesheets 0 (with the page itself),
 * synchronous scripts 1, fonts 2 to 5 in the order named (the first font
 * the page asks for is the one its first text waits for; the fourth and
 * later share 5), the rest 6. The page's HTML (the browser's "u=0, i")
 * thus overtakes every script and font queued ahead of it when it arrives
 * from the backend. (Within one urgency nghttp2 keeps no order between
 * streams that are not incremental, so places within a rank need levels
 * of their own; all of a page's stylesheets and scripts are needed before
 * it renders, so their order among themselves matters little.)
 *
 * A set is per connection, created by the first 103 it sends. It keeps
 * the last PRELOAD_MAX names; a name is taken by the first request for
 * it. Loop thread only. */
#ifndef PROXY_PRELOAD_H
#define PROXY_PRELOAD_H

#include <stddef.h>
#include <stdint.h>

#define PRELOAD_MAX 32

struct preload_set;

/* preload_urgency is the RFC 9218 urgency herald gives a preload of rank
 * |rank| (enum learn_rank) when |before| resources of the same rank come
 * before it in its 103. */
uint8_t preload_urgency(uint8_t rank, size_t before);

/* preload_note remembers that a 103 named |link| (a Link field value as
 * hints_link wrote it: "</path?query>; rel=preload; ...") for a page on
 * |authority|, with rank |rank|, as its |nth| Link (from 0: the calls for
 * one 103 come in its order). Creates the set on first use. */
void preload_note(struct preload_set **set, const char *authority,
                  size_t alen, const char *link, size_t llen, uint8_t rank,
                  size_t nth);

/* preload_take returns the urgency for a request of |path| (origin-form,
 * as received) on |authority| when a 103 named exactly that URL and no
 * request took it yet, and forgets it; else -1. |set| may be NULL. */
int preload_take(struct preload_set *set, const char *authority, size_t alen,
                 const char *path, size_t plen);

void preload_free(struct preload_set *set); /* NULL no-op */

#endif
