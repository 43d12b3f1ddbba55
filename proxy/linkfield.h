/* linkfield.h: Link field values (RFC 8288) as a backend writes them.
 *
 * A backend that knows what its pages need says so in Link fields, on a
 * page's response or in its own 103 Early Hints:
 *   Link: </css/a.css>; rel=preload; as=style, <https://cdn/>; rel=preconnect
 * This module only reads the syntax; what herald does with a link (only
 * same-origin safe paths, proxy/hints.h) is decided by the caller.
 *
 * Grammar (RFC 8288 3):
 *   Link       = #link-value
 *   link-value = "<" URI-Reference ">" *( OWS ";" OWS link-param )
 *   link-param = token BWS [ "=" BWS ( token / quoted-string ) ]
 * A field may carry several link-values, and a URI-Reference may contain
 * commas, so link-values are cut at top-level commas only. Parameter
 * names are case-insensitive; only the first occurrence of a parameter
 * counts (RFC 8288 3.3 says so of rel; the others follow suit). rel is a
 * space-separated list of relation types, case-insensitive. Quoted
 * strings may hold quoted-pairs ("\x" for x).
 *
 * Input is the backend's and may be hostile: parsing never reads past the
 * value, never allocates, and copies only into fixed fields; once a
 * link-value is malformed (no '<', no '>', an unterminated quoted string,
 * a parameter that is not a token) the rest of the field is refused,
 * since where the next link-value starts is no longer known. */
#ifndef PROXY_LINKFIELD_H
#define PROXY_LINKFIELD_H

#include <stddef.h>
#include <stdint.h>

/* Relation types herald knows (anything else is LINKFIELD_REL_OTHER). */
enum linkfield_rel {
  LINKFIELD_REL_PRELOAD = 1u << 0,
  LINKFIELD_REL_PRECONNECT = 1u << 1,
  LINKFIELD_REL_MODULEPRELOAD = 1u << 2,
  LINKFIELD_REL_OTHER = 1u << 3,
};

/* The crossorigin parameter: absent, anonymous (no value, "", or any
 * value other than use-credentials, as HTML reads the attribute), or
 * use-credentials. */
enum linkfield_cors {
  LINKFIELD_CORS_NONE,
  LINKFIELD_CORS_ANONYMOUS,
  LINKFIELD_CORS_CREDENTIALS,
};

#define LINKFIELD_AS_MAX 16

struct linkfield {
  const char *target;  /* the URI-Reference between '<' and '>', as
                          written (points into the parsed value) */
  size_t target_len;
  uint32_t rels;       /* enum linkfield_rel; 0 without a rel */
  char as[LINKFIELD_AS_MAX]; /* the as= value, lower case; "" when absent
                                or longer than fits */
  uint8_t cors;        /* enum linkfield_cors */
  uint8_t anchor;      /* an anchor parameter: the link is about another
                          resource than the response's */
  uint8_t nopush;      /* the nopush parameter (no server push wanted) */
};

/* linkfield_next parses the link-value of the field value |v| (|n| bytes)
 * that starts at or after |*pos| (0 for the first), skipping empty list
 * elements. Returns 1 with |out| filled and |*pos| past the link-value,
 * 0 when no link-value is left, -1 when the rest of the value is
 * malformed (the caller stops reading this value). */
int linkfield_next(const char *v, size_t n, size_t *pos,
                   struct linkfield *out);

#endif
