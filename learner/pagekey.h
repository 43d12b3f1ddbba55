/* pagekey.h: how a URL becomes a page key, a template key and a resource
 * key, and how a client is classed. Pure functions, unit-tested. */
#ifndef LEARNER_PAGEKEY_H
#define LEARNER_PAGEKEY_H

#include <stddef.h>

#include "store/rows.h" /* PAGEKEY_MAX */

#define PAGEKEY_MAX_PATTERNS 32

/* Templates: each configured pattern is a path where a '*' segment matches
 * one segment (pattern "/product/STAR", with STAR written as '*', turns
 * /product/123 into that pattern). Without a
 * matching pattern, segments that are all digits, a UUID, or hex of 16 or
 * more characters are folded to ":id". */
struct pagekey_config {
  const char *patterns[PAGEKEY_MAX_PATTERNS];
  int npatterns;
  /* Query parameters kept in keys, comma-separated names; NULL or "" keeps
   * none (the default: query strings are dropped). */
  const char *keep_params;
};

/* pagekey_split_patterns fills |cfg|'s patterns from |patterns|, a
 * comma-separated list ("/product/STAR, /blog/STAR", STAR being '*'),
 * which it cuts in place: the patterns point into it, so it must outlive
 * |cfg|. */
void pagekey_split_patterns(struct pagekey_config *cfg, char *patterns);

/* pagekey_make writes "scheme://authority/path[?kept params]" for |path|
 * (origin-form, may carry a query) into |out| (|cap| bytes, at least
 * PAGEKEY_MAX). The authority is lower-cased and a default port (:80 for
 * http, :443 for https) dropped. Returns the length, or -1 if it does not
 * fit. */
int pagekey_make(const struct pagekey_config *cfg, int https,
                 const char *authority, const char *path, char *out,
                 size_t cap);

/* pagekey_resource writes the key of a subresource: like pagekey_make,
 * but the query string is kept whole, byte for byte (a resource key names
 * exactly the URL the browser requested). Returns the length, or -1. */
int pagekey_resource(int https, const char *authority, const char *path,
                     char *out, size_t cap);

/* pagekey_template writes the template key of the page key |key| into
 * |out|. Returns the length, or -1. When no segment folds, the template
 * equals the key. */
int pagekey_template(const struct pagekey_config *cfg, const char *key,
                     char *out, size_t cap);

/* Level keys (STAR stands for '*' in these comments). pagekey_section
 * writes the section key of |key| (a page or template key):
 * "scheme://authority/SEG/STARSTAR" for its first |depth| path segments,
 * when the path has more segments than that. Returns the length, or -1
 * when there is no section (|depth| 0, a shallow path, a bad key or no
 * room). */
int pagekey_section(const char *key, int depth, char *out, size_t cap);

/* pagekey_site writes the site key of |key|,
 * "scheme://authority/STARSTAR". Returns the length, or -1. */
int pagekey_site(const char *key, char *out, size_t cap);

/* pagekey_scope_matches says whether the operator scope |scope| covers
 * |key|: a scope without STAR is one key and matches it exactly; in one
 * with STAR (a pattern), STARSTAR matches any rest of the path and STAR
 * any run of characters within one segment, and scheme and authority
 * must be equal. Patterns are matched against keys as written, so
 * "https://h/docs/STARSTAR" covers the pages under /docs/ and that
 * section's own key, and "https://h/product/STAR" the template
 * "https://h/product/:id". */
int pagekey_scope_matches(const char *scope, const char *key);

/* pagekey_from_url turns an absolute URL (a Referer) into a key the same
 * way, so a Referer can be compared with page and resource keys. Returns
 * the length, or -1 for anything not http(s). */
int pagekey_from_url(const struct pagekey_config *cfg, const char *url,
                     char *out, size_t cap);

/* pagekey_resource_from_url turns an absolute URL (a Referer) into a
 * resource key (whole query, no fragment), to compare with resource keys
 * (a font's Referer names its stylesheet). Returns the length, or -1. */
int pagekey_resource_from_url(const char *url, char *out, size_t cap);

/* pagekey_is_origin says whether |key| (any key made here) names the
 * origin's root, "scheme://authority/" with no query: what a Referer
 * carries under Referrer-Policy origin or strict-origin. */
int pagekey_is_origin(const char *key);

/* pagekey_path_safe tells whether the origin-form |path| (|len| bytes,
 * optional query) may be named to a client as a resource of the page's
 * own origin, in a 103 Link or a PUSH_PROMISE. It must start with exactly
 * one '/' ("//host/x" is another host to a browser), hold no dot
 * segment ("." or "..", also as %2e), no backslash (browsers read it as
 * '/'), no control byte, space, '"', '<', '>' or '#', and only well-formed
 * %HH escapes.
 * Bytes browsers send unescaped although RFC 3986 does not allow them
 * ('|', '[', ']', in a query '^', '`', '{', '}') pass, and so does
 * non-ASCII: whatever writes the path into a header leaves it as a
 * browser's URL parser would (http_path_escape). */
int pagekey_path_safe(const char *path, size_t len);

/* pagekey_rule_ok tells whether |resource_key| may be served for
 * |page_key|: both are keys of one origin (the same "scheme://authority")
 * and the resource's path is pagekey_path_safe. The learner checks every
 * rule it makes, and the rule snapshot every rule it is given (also those
 * loaded from the database), so a poisoned record or database cannot
 * reach a client. */
int pagekey_rule_ok(const char *page_key, const char *resource_key);

/* pagekey_is_mobile classes a client from its Sec-CH-UA-Mobile value (may
 * be NULL) and User-Agent (may be NULL). */
int pagekey_is_mobile(const char *ch_ua_mobile, size_t ch_len,
                      const char *user_agent, size_t ua_len);

#endif
