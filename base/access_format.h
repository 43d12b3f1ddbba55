/* access_format.h: one access-log line per request, in a configurable format.
 *
 * [log] access_format is a template of literal text and nginx-style
 * variables ($name or ${name}), compiled once (at start and on reload)
 * into a list of items, so a request costs one pass over that list and no
 * parsing. The default is the format herald always had:
 *   $time $remote_addr $proto $request_method $host $request_uri $status
 *   $body_bytes_sent $request_ms $upstream_addr
 * Request-controlled text (method, target, host, header values) is
 * escaped as nginx does: '"', '\' and bytes outside printable ASCII become
 * \xHH, so no client can forge a field or a line. An empty or absent value
 * is "-". Lines go through log.c's writer thread: the loop never touches
 * the disk. Pure functions: any thread may compile and render. */
#ifndef BASE_ACCESS_FORMAT_H
#define BASE_ACCESS_FORMAT_H

#include <stddef.h>
#include <stdint.h>

struct http_fields;

#define ACCESS_FORMAT_DEFAULT                                          \
  "$time $remote_addr $proto $request_method $host $request_uri "     \
  "$status $body_bytes_sent $request_ms $upstream_addr"
#define ACCESS_FORMAT_MAX 1024 /* bytes of template */
#define ACCESS_ITEMS_MAX 64    /* variables and literal runs in one */

/* A finished request, as the proxy's exchange describes it. Pointers are
 * borrowed for the call only. */
struct access_entry {
  const uint8_t *client;  /* the request's client (16 bytes), or NULL:
                             the connection's address */
  const char *proto;      /* "h2", "http/1.1", "http/1.0" */
  const char *method, *authority, *path;
  int status;             /* 0: reset before a response completed */
  uint64_t bytes;         /* response body bytes sent */
  uint64_t ms;            /* from the request head to the last byte */
  const char *backend;    /* "host:port" of the server used, or NULL */
  const struct http_fields *fields; /* request header fields, or NULL */
  int hints;              /* Link fields of a 103 sent ahead of it */
  int pushed;             /* the response was a server push */
};

struct access_item {
  uint8_t var;            /* what to print (access.c's enum) */
  uint16_t off, len;      /* literal text or header name, in |text| */
};

struct access_format {
  struct access_item items[ACCESS_ITEMS_MAX];
  int n;
  char text[ACCESS_FORMAT_MAX];
};

/* access_format_parse compiles |fmt| into |out|. Returns 0, or -1 with
 * the reason (an unknown variable, too long, too many items) in |why|. */
int access_format_parse(const char *fmt, struct access_format *out,
                        char *why, size_t whylen);

/* access_format_line writes the line for |e| (no newline) into |out| and
 * returns its length; a line longer than |cap| - 1 is cut. |now_us| is
 * the wall-clock time in microseconds; |peer| is the connection's
 * address text, used when e->client is NULL. Exported for tests. */
size_t access_format_line(const struct access_format *f,
                          const struct access_entry *e, const char *peer,
                          uint64_t now_us, char *out, size_t cap);

#endif
