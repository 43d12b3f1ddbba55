/* http.h: protocol-neutral request heads and the HTTP/2 → HTTP/1.1 mapping.
 *
 * Front sessions (h1.c, h2.c) parse and validate what the client sent into a
 * struct http_req; upstream.c turns it into bytes for the backend with
 * http_req_serialize. Everything here is pure so the mapping rules that
 * stop request smuggling are unit-tested in isolation. */
#ifndef BASE_HTTP_H
#define BASE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* A header field; the bytes are borrowed from whoever built the list. */
struct http_hdr {
  const char *name;
  size_t name_len;
  const char *value;
  size_t value_len;
};

struct http_req {
  const char *method;
  size_t method_len;
  const char *path; /* origin-form ("/x?y") or "*" */
  size_t path_len;
  const char *authority; /* validated host[:port] */
  size_t authority_len;
  int https;              /* the client-side scheme */
  int version;            /* client's protocol: 11, 10 or 20 */
  const struct http_hdr *hdrs; /* regular fields, hop-by-hop included */
  size_t nhdrs;
  int64_t content_length; /* -1 when the client gave none */
  int has_body;           /* body bytes follow the head */
  /* Transfer codings the client applied before chunked ("gzip"), to be
   * forwarded with the chunked framing; NULL or "" when none. */
  const char *transfer_codings;
  const char *client_addr; /* the address herald got the request from
                              (conn_peer: PROXY-aware), as text: the
                              X-Forwarded-For entry herald adds */
  int forwarded_trusted;   /* client_addr is a trusted proxy: its
                              X-Forwarded-For goes on with client_addr
                              appended; otherwise it is dropped */
  const uint8_t *client;   /* the request's client (16 bytes, see
                              conn_request_client), or NULL: the
                              connection's */
};

/* http_is_hop_by_hop tells whether |name| is a connection-specific field
 * that a proxy must never forward in either direction. */
int http_is_hop_by_hop(const char *name, size_t len);

/* http_is_tchar: |c| may appear in a token (RFC 9110 5.6.2). */
int http_is_tchar(unsigned char c);

/* http_list_next walks a comma-separated field value: from |*pos| (start
 * at 0) it finds the next non-empty element, trimmed of spaces and tabs,
 * sets |*item| and |*item_len| and returns 1; 0 at the end. */
int http_list_next(const char *list, size_t list_len, size_t *pos,
                   const char **item, size_t *item_len);

/* http_token_listed tells whether the comma-separated |list| (a Connection
 * header value) names |name|, ignoring case and optional whitespace. */
int http_token_listed(const char *list, size_t list_len, const char *name,
                      size_t name_len);

/* http_authority_valid accepts "host", "host:port", "[v6]:port" with a
 * reg-name or IP literal host; userinfo, paths, queries, spaces and empty
 * hosts are rejected (they would be read differently by the backend). */
int http_authority_valid(const char *p, size_t len);

/* http_authority_host returns the length of the host part of a valid
 * authority (without port; brackets kept for IPv6). */
size_t http_authority_host_len(const char *p, size_t len);

/* http_path_valid accepts an origin-form target ("/..." without spaces or
 * control bytes), or "*" when |is_options|. */
int http_path_valid(const char *p, size_t len, int is_options);

/* http_path_escape copies the origin-form path and query |p| (|n| bytes)
 * into |out| as a browser's URL parser (WHATWG URL Standard, http and
 * https) would leave them, so that a URL herald writes into a Link field
 * (RFC 8288) or a PUSH_PROMISE is requested exactly as the browser
 * requested it before: only what the parser percent-encodes becomes %HH.
 * That is controls, space, DEL, non-ASCII, '"', '#', '<' and '>'
 * anywhere; in the path also '^', '`', '{', '}' and '\\' (read as '/');
 * in the query (from the first '?') also '\''. Everything else is copied
 * unchanged: escapes, '%', and the bytes browsers send raw ('|', '[', ']',
 * and in a query '^', '`', '{', '}', '\\'). '<', '>', controls and space
 * are always encoded, so nothing can close a Link's "<...>" or end its
 * field. Returns the length written (NUL-terminated), or 0 when it does
 * not fit in |cap|. */
size_t http_path_escape(const char *p, size_t n, char *out, size_t cap);

/* http_transfer_codings reads the Transfer-Encoding fields of |hdrs| (one
 * list, RFC 9110 5.6.1, over any number of fields) and returns
 *   HTTP_TE_NONE       no Transfer-Encoding field;
 *   HTTP_TE_CHUNKED    chunked is the final coding, and the only chunked;
 *   HTTP_TE_UNCHUNKED  codings without chunked (a response body then ends
 *                      at close; a request cannot be framed at all);
 *   HTTP_TE_INVALID    chunked twice or not last, chunked with parameters,
 *                      a quoted string, a byte outside a token, or more
 *                      than fits |out|.
 * The codings other than chunked go to |out| (|cap| bytes, NUL-terminated,
 * "" when none) joined with ", ", as written; "identity" (no coding at
 * all) is left out. */
enum http_te {
  HTTP_TE_NONE,
  HTTP_TE_CHUNKED,
  HTTP_TE_UNCHUNKED,
  HTTP_TE_INVALID
};
enum http_te http_transfer_codings(const struct http_hdr *hdrs, size_t n,
                                   char *out, size_t cap);

/* http_method_idempotent per RFC 9110 9.2.2. */
int http_method_idempotent(const char *m, size_t len);

/* http_req_serialize appends the HTTP/1.1 request head for |req| to |out|:
 * request line, Host from the authority, the client's fields minus
 * hop-by-hop ones and those Connection names, Cookie crumbs joined with
 * "; " (RFC 9113 8.2.3), Content-Length or chunked framing (after the
 * request's own transfer codings, if any), and the X-Forwarded-For (see
 * forwarded_trusted), X-Forwarded-Proto and Via fields. */
void http_req_serialize(const struct http_req *req, struct buf *out);

/* http_status_reason returns the reason phrase for |status|. */
const char *http_status_reason(int status);

/* http_fields collects header fields as llhttp delivers them in pieces
 * (a name or value may be split across reads). It enforces a cap on the
 * total size (name + value + 32 per field, as HTTP/2 counts) and on the
 * number of fields, and checks that names are tokens. */
struct http_field_ent {
  uint32_t noff, nlen, voff, vlen;
};
struct http_fields {
  char *buf;
  size_t len, cap;
  struct http_field_ent *ent;
  size_t n, ent_cap;
  size_t size;      /* HTTP/2-style accounted size */
  size_t max_size, max_fields;
  int in_value;
  const char *last_end; /* end of the last value piece (fold check) */
};

void http_fields_init(struct http_fields *f, size_t max_size,
                      size_t max_fields);
void http_fields_reset(struct http_fields *f);
void http_fields_cleanup(struct http_fields *f);
/* The add functions return 0, HTTP_FIELDS_TOO_BIG when a cap is hit, or
 * HTTP_FIELDS_INVALID for a non-token name or an obs-fold continuation. */
#define HTTP_FIELDS_TOO_BIG (-1)
#define HTTP_FIELDS_INVALID (-2)
int http_fields_name(struct http_fields *f, const char *p, size_t n);
int http_fields_value(struct http_fields *f, const char *p, size_t n,
                      const char *read_start);
/* http_fields_name_end is called when a field name is complete (llhttp's
 * on_header_field_complete); an empty name is HTTP_FIELDS_INVALID. */
int http_fields_name_end(struct http_fields *f);
/* http_fields_export fills |out| (|f->n| entries) with pointers into the
 * collector, valid until it is next changed. */
void http_fields_export(const struct http_fields *f, struct http_hdr *out);

#endif
