/* access.h: one access-log line per request.
 *
 * Format (space-separated, one line):
 *   TIME CLIENT PROTO METHOD AUTHORITY PATH STATUS BYTES MS BACKEND
 * STATUS 0 means the client or herald reset the stream before a response
 * completed. Lines go through log.c's writer thread: the loop never
 * touches the disk. */
#ifndef PROXY_ACCESS_H
#define PROXY_ACCESS_H

#include <stdint.h>

struct conn;

void access_log_request(const struct conn *c, const char *proto,
                        const char *method, const char *authority,
                        const char *path, int status, uint64_t bytes,
                        uint64_t ms, const char *backend);

#endif
