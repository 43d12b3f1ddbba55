/* route.h: pick a backend for a request by Host and path prefix. */
#ifndef CONFIG_ROUTE_H
#define CONFIG_ROUTE_H

#include <stddef.h>

struct config;
struct config_route;

/* route_match returns the index of the route among |routes| that takes a
 * request for |host| (without port) and |path|: the longest matching
 * prefix among routes naming this host, else the longest among any-host
 * routes; -1 when none does. */
int route_match(const struct config_route *routes, int nroutes,
                const char *host, size_t host_len, const char *path,
                size_t path_len);

/* route_match_key is route_match for a page or resource key
 * ("scheme://authority/path"). */
int route_match_key(const struct config_route *routes, int nroutes,
                    const char *key);

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
