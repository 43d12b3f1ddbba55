/* access.h: one access-log line per request.
 *
 * Format (space-separated, one line):
 *   TIME CLIENT PROTO METHOD AUTHORITY PATH STATUS BYTES MS BACKEND
 * CLIENT is the request's client (base/client.h): the PROXY header's
 * source, or the X-Forwarded-For address a trusted proxy vouched for.
 * STATUS 0 means the client or herald reset the stream before a response
 * completed. Lines go through log.c's writer thread: the loop never
 * touches the disk. */
#ifndef PROXY_ACCESS_H
#define PROXY_ACCESS_H

#include <stdint.h>

struct conn;

/* |client| is the request's client (16 bytes), or NULL for the
 * connection's address. */
void access_log_request(const struct conn *c, const uint8_t *client,
                        const char *proto, const char *method,
                        const char *authority, const char *path, int status,
                        uint64_t bytes, uint64_t ms, const char *backend);

#endif
