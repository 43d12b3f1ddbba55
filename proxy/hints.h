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
 * hinted resource leave"), and the learner sees the page's own order.
 * What was named is recorded with the navigation, exactly. */
#ifndef PROXY_HINTS_H
#define PROXY_HINTS_H

#include <stddef.h>
#include <stdint.h>

#include "learner/obs.h"
#include "learner/pagekey.h"

struct conn;
struct server;
struct http_req;
struct ruleset_page;

/* hints_keys holds the page-key settings the loop needs (patterns cut
 * from the config). */
struct hints_keys {
  struct pagekey_config keys;
  char patterns[1024];
  int sections; /* [record] sections */
};

void hints_keys_init(struct hints_keys *k, const char *templates,
                     const char *keep_params, int sections);

/* What a navigation gets: nothing, a 103, or pushes. */
enum hints_action { HINTS_NONE, HINTS_EARLY, HINTS_PUSH };

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
 * the action's channel, with a valid as= for a 103, less those the
 * verification draw left out. For a 103 the observation also records the
 * snapshot, the page's slot and |*named|. */
enum hints_action hints_decide(struct server *srv, const struct http_req *req,
                               struct obs *o, const struct conn *c,
                               uint64_t id, int can_push,
                               const struct ruleset_page **page,
                               uint64_t *named);

/* hints_link formats entry |i| of |p| as a Link field value into |out|
 * ("</path>; rel=preload; as=style", fonts and fetches with crossorigin;
 * the path with its query, as learned) and returns its length, or 0 when
 * it does not fit, has no valid as= or the path is not pagekey_path_safe.
 * The path is percent-encoded (http_path_escape: a valid query survives
 * byte for byte), so it cannot end the "<...>" or name another host. */
size_t hints_link(const struct ruleset_page *p, size_t i, char *out,
                  size_t cap);

#endif
