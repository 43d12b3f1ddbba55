/* route.h: pick a backend for a request by Host and path prefix. */
#ifndef PROXY_ROUTE_H
#define PROXY_ROUTE_H

#include <stddef.h>

struct config;

/* route_pick returns the index of the backend for |host| (without port)
 * and |path|: the longest matching prefix among routes naming this host,
 * else the longest among any-host routes, else backend 0. */
/* route_find returns the index of the route that takes the request (the
 * same choice), or -1 when none does. */
int route_find(const struct config *cfg, const char *host, size_t host_len,
               const char *path, size_t path_len);

int route_pick(const struct config *cfg, const char *host, size_t host_len,
               const char *path, size_t path_len);

#endif
