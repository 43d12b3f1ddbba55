/* hints.h: 103 Early Hints from the learned rules.
 *
 * When a navigation arrives for a page that has hint rules, the front
 * session sends one 103 with a Link: rel=preload field per resource, in
 * rule order, right after forwarding the request: the browser fetches
 * what the page needs while the backend is still thinking. Only GET
 * navigations (Sec-Fetch-Mode: navigate or Sec-Fetch-Dest: document, or
 * Accept: text/html without Sec-Fetch-*) without Authorization get hints;
 * HTTP/1.1 clients only when [deliver] hints_http1 is on (old HTTP/1.1
 * clients mishandle 1xx). In shadow mode the decision is made and counted
 * but nothing is sent. The rules are those of the page's key in the
 * snapshot, else of the nearest wider level present: its template, its
 * section, its site (learner/ruleset.h).
 *
 * Verification: with probability [deliver] verify a navigation that
 * would get something gets nothing (every resource left out at once), so
 * that a resource herald names on every visit still gets visits where the
 * page alone decides whether to fetch it (learner/learn.h, "what makes a
 * hinted resource leave"), and the learner sees the page's own order. One
 * draw for the whole navigation: a page waits for the slowest of what it
 * needs, so leaving out one resource costs a navigation about as much as
 * leaving out all; drawn per resource, most navigations of a page with a
 * dozen rules would pay. What was named is recorded with the navigation,
 * exactly.
 *
 * What the backend declares. A backend may name what its pages need
 * itself: Link: rel=preload fields on a page's response, or its own 103
 * before the final response (backend 1xx reach the session through
 * upstream's on_info). herald reads both the same way (hints_declared_read:
 * only rel=preload links with an as= it can name, whose target is a safe
 * path of the request's own origin; never another origin, whatever the
 * relation, so never a preconnect), and
 *   - tells the recorder about them (OBS_DECLARED, at most
 *     OBS_DECLARED_MAX per navigation): the learner takes them as a prior
 *     (learner/learn.h, DECLARED RESOURCES), so they enter herald's own
 *     103, merged with what it learned;
 *   - sends a navigation at most one 103, ever. herald's own goes out as
 *     the request is forwarded, before any backend answer can arrive, so
 *     a backend 103 to a request that got one is dropped (counted); its
 *     declarations still teach the learner, and the next navigation's 103
 *     carries them. A backend 103 to a request that got none (no rules,
 *     holdout, shadow or off: the backend's own hints are the site's
 *     baseline) is passed on once, rebuilt by hints_compose from its
 *     usable links only: no other field (Set-Cookie, Content-Security-
 *     Policy, anything else) and no other link; a later one is dropped.
 *     It is subject to the verification draw like herald's own (passed
 *     on whole or not at all): what a 103 names is no evidence, so a
 *     declared resource the page no longer requests could otherwise never
 *     be seen to leave.
 *     It goes only where herald's own may go (hints_may_send): a GET
 *     navigation without Authorization, over HTTP/2, or HTTP/1.1 with
 *     [deliver] hints_http1.
 *   - never passes on 100 or 102 (herald answers Expect: 100-continue
 *     itself; 102 is obsolete) nor any other 1xx.
 *   - passes a backend 103 on when it arrives, before the final status is
 *     known: if the final response is then an error, the hint has gone
 *     out (what it named is a same-origin path the backend itself
 *     announced), and nothing is learned from it: only a 200 HTML
 *     navigation makes a visit. */
#ifndef PROXY_HINTS_H
#define PROXY_HINTS_H

#include <stddef.h>
#include <stdint.h>

#include "learner/obs.h"
#include "learner/pagekey.h"

struct conn;
struct hints_early;
struct config;
struct loop;
struct http_hdr;
struct http_req;
struct ruleset_page;

/* hints_keys holds the page-key settings the loop needs, copied: they
 * are read at start and kept to the end (restart-only keys), while the
 * configuration they came from is freed by a reload on any loop's thread,
 * so |keys| points into these buffers, never into a config. */
struct hints_keys {
  struct pagekey_config keys;
  char patterns[1024];    /* [record] templates, cut in place */
  char keep_params[1024]; /* [record] keep_params */
  int sections;           /* [record] sections */
};

void hints_keys_init(struct hints_keys *k, const char *templates,
                     const char *keep_params, int sections);

/* The decisions below run on a loop thread: |lp| is that loop (the rules
 * in force, the counters, the sampling draws, the recorder) and |cfg|
 * the configuration the request's connection pinned (conn_config). */

/* What a navigation gets: nothing, a 103, or pushes; or nothing at all,
 * not even a backend's 103, because the verification draw left out what
 * herald would have named (HINTS_VERIFY: the page alone decides). */
enum hints_action { HINTS_NONE, HINTS_EARLY, HINTS_PUSH, HINTS_VERIFY };

/* hints_decide decides for the request |req| on |c| (|id|: its stream or
 * request number) by the delivery mode (the operator's live setting for
 * the page, else its route's mode, else [deliver] mode), the rules and
 * |can_push| (the client accepts push). A [deliver] holdout fraction of
 * the navigations that would get something get nothing, to measure the
 * effect. |o| is the request's observation when recording filled one,
 * else NULL; its flags record the arm (OBS_F_HOLDOUT, _GOT_HINTS,
 * _GOT_PUSH). Shadow and holdout decisions are counted here. On
 * HINTS_EARLY or HINTS_PUSH, |*page| is the page's rules and |*named| the
 * entries to name (bit i: entry i; entries past 63 are never named): of
 * the action's channel, with a valid as= for a 103. For a 103 the
 * observation also records the snapshot, the page's slot and |*named|.
 * HINTS_VERIFY: there was something to name and the verification draw
 * left all of it out; the caller then passes on no backend 103 either. */
enum hints_action hints_decide(struct loop *lp, const struct config *cfg,
                               const struct http_req *req,
                               struct obs *o, const struct conn *c,
                               uint64_t id, int can_push,
                               const struct ruleset_page **page,
                               uint64_t *named);

/* hints_push_fallback composes into |e| the 103 of a navigation that
 * got pushes: the entries |cut| of |p| that the client's limits kept out
 * of the pushes (push.h), and the page's hint-only entries (hints the
 * learner would not push), those a 103 can name, when the delivery mode
 * is both (a push-only mode sends no 103). |o| (the request's observation, or NULL) then records the
 * snapshot, the page's slot and what the 103 names, like hints_decide's
 * 103; with |none_pushed| the navigation counts as one that got hints,
 * not pushes. Returns 1 when there is a 103 to send. */
int hints_push_fallback(struct loop *lp, const struct config *cfg,
                        const struct http_req *req, struct obs *o,
                        const struct ruleset_page *p, uint64_t cut,
                        int none_pushed, struct hints_early *e);

/* hints_may_send: the request |req| (|o| its observation when recording
 * filled one, else NULL) may get a 103, from herald or forwarded from the
 * backend: a GET navigation without Authorization, over HTTP/2, or
 * HTTP/1.1 with [deliver] hints_http1 (never HTTP/1.0). */
int hints_may_send(const struct config *cfg, const struct http_req *req,
                   const struct obs *o);

/* A link a backend declared, reduced to what herald may name. */
#define HINTS_DECLARED_MAX OBS_DECLARED_MAX
struct hints_declared {
  char path[OBS_PATH_MAX]; /* origin-form, query kept, no fragment; a
                              pagekey_path_safe path of the page's origin */
  uint8_t dest;            /* enum obs_dest, from as= */
  uint8_t cors;            /* enum linkfield_cors, as declared */
};

/* hints_declared_read collects the links that the backend response
 * fields |hdrs| (|n|) declare for a request for |path| (|plen| bytes,
 * origin-form) on |authority| (|alen|; https or not): each link-value of
 * a Link field with rel=preload, an as= of style, script, font, image or
 * fetch and no anchor, whose target is an absolute path, an absolute or
 * scheme-relative URL with the request's own scheme and authority, or a
 * relative path (resolved against |path|'s directory), and whose path is
 * pagekey_path_safe. The rest is left out, and a malformed field from
 * where it breaks (proxy/linkfield.h). At most |cap|, each path once, in
 * field order. Returns how many. */
size_t hints_declared_read(const struct http_hdr *hdrs, size_t n, int https,
                           const char *authority, size_t alen,
                           const char *path, size_t plen,
                           struct hints_declared *out, size_t cap);

/* The Link fields of one 103. */
#define HINTS_LINKS_MAX 32
#define HINTS_LINK_LEN 600
struct hints_early {
  size_t n;                          /* fields in link[] */
  size_t len[HINTS_LINKS_MAX];
  char link[HINTS_LINKS_MAX][HINTS_LINK_LEN];
  uint8_t rank[HINTS_LINKS_MAX];     /* enum learn_rank of link[i] */
  uint32_t declared_named; /* bit i: the 103 names declared link i */
  int own;                 /* it names one of herald's own entries */
};

/* hints_compose builds a navigation's one 103 into |e| from herald's
 * rules (the entries |named| of |p|, which may be NULL) and the links
 * |d| (|nd|) the backend declared in its own 103: each URL once (herald's
 * entry wins), in herald's order, critical first: by rank (herald's
 * entries' learned rank; a declared link's from its as=: stylesheets,
 * scripts, fonts, the rest), within a rank herald's own entries first,
 * each source in its own order; at most HINTS_LINKS_MAX fields, the
 * least critical left out. Returns e->n. */
size_t hints_compose(const struct ruleset_page *p, uint64_t named,
                     const struct hints_declared *d, size_t nd,
                     struct hints_early *e);

/* hints_backend_103 settles a backend's 103 to a request for |path| on
 * |authority| (https or not): it reads the links it declares and, when
 * |may| (hints_may_send) and the request got no 103 yet (|sent| 0) and
 * a link is usable, composes the 103 to pass on into |e| and returns 1
 * (the caller sends it and notes that one went out); else 0, counted as
 * dropped. It is subject to the verification draw like herald's own
 * (hints_verify_draw: one for the 103): a declaration the page never
 * requests must be seen unnamed to leave. |o| is the request's
 * observation when recording filled one (else NULL): the declarations go
 * to the recorder (hints_note_declared, those passed on flagged
 * OBS_F_DECL_NAMED), |*count| counting them per navigation. */
int hints_backend_103(struct loop *lp, const struct config *cfg,
                      const struct obs *o, int may,
                      int sent, int https, const char *authority,
                      size_t alen, const char *path, size_t plen,
                      const struct http_hdr *hdrs, size_t n,
                      uint8_t *count, struct hints_early *e);

/* hints_page_response notes what the final response of a navigation
 * declares: when |o| is an OBS_NAV_START being recorded and the
 * response (record_response applied) is a 200 text/html, its Link
 * declarations go to the recorder, |*count| as above. */
void hints_page_response(struct loop *lp, const struct obs *o,
                         const struct http_hdr *hdrs, size_t n,
                         uint8_t *count);

/* hints_note_declared posts one OBS_DECLARED per link of |d| (|n|) for
 * the navigation whose observation is |page| (an OBS_NAV_START not
 * ignored; anything else is no visit and is skipped), with |flags|, plus
 * OBS_F_DECL_NAMED for bit i of |named|; none past OBS_DECLARED_MAX per
 * navigation (|*count|). */
void hints_note_declared(struct loop *lp, const struct obs *page,
                         const struct hints_declared *d, size_t n,
                         uint32_t flags, uint32_t named, uint8_t *count);

/* hints_verify_draw draws whether a navigation gets none of what a 103
 * (or pushes) would name, with probability [deliver] verify: the
 * learner's only evidence about what herald names. The caller counts
 * each resource so left out (stats.verify_withheld). */
int hints_verify_draw(struct loop *lp, const struct config *cfg);

/* hints_link formats entry |i| of |p| as a Link field value into |out|
 * with hints_link_path and returns its length, or 0 (not a hint entry,
 * or hints_link_path refused it). */
size_t hints_link(const struct ruleset_page *p, size_t i, char *out,
                  size_t cap);

/* hints_link_path formats a preload of |path| (NUL-terminated) for the
 * destination |dest| ("</path>; rel=preload; as=style"; fonts and
 * fetches, and |cors| LINKFIELD_CORS_ANONYMOUS, with crossorigin,
 * LINKFIELD_CORS_CREDENTIALS with crossorigin=use-credentials) into
 * |out| and returns its length, or 0 when it does not fit, |dest| has no
 * valid as= or the path is not pagekey_path_safe. The path goes out as
 * a browser's URL parser leaves it (http_path_escape: the browser then
 * requests the very URL it requested before), so it cannot end the
 * "<...>" or name another host. */
size_t hints_link_path(const char *path, uint8_t dest, uint8_t cors,
                       char *out, size_t cap);

/* hints_dest_of is the destination of a preload's as= value (lower case),
 * or OBS_DEST_NONE when herald cannot name it. */
uint8_t hints_dest_of(const char *as);

#endif
