/* route.c: see route.h. Routes are few (at most CONFIG_MAX_ROUTES), so a
 * linear scan beats any index on both speed and clarity. */
#include "config/route.h"

#include <string.h>

#include "base/http.h"
#include "base/util.h"
#include "config/config.h"

int route_match(const struct config_route *routes, int nroutes,
                const char *host, size_t host_len, const char *path,
                size_t path_len) {
  int best = -1, best_host_specific = 0;
  size_t best_len = 0;
  for (int i = 0; i < nroutes; i++) {
    const struct config_route *r = &routes[i];
    int specific = r->host[0] != '\0';
    if (specific && !util_strcaseeq(host, host_len, r->host))
      continue;
    size_t plen = strlen(r->prefix);
    if (plen > path_len || memcmp(path, r->prefix, plen) != 0)
      continue;
    if (best < 0 || specific > best_host_specific ||
        (specific == best_host_specific && plen > best_len)) {
      best = i;
      best_len = plen;
      best_host_specific = specific;
    }
  }
  return best;
}

int route_match_key(const struct config_route *routes, int nroutes,
                    const char *key) {
  const char *auth = strstr(key, "://");
  if (auth == NULL)
    return -1;
  auth += 3;
  const char *path = strchr(auth, '/');
  if (path == NULL)
    path = auth + strlen(auth);
  size_t hostlen = http_authority_host_len(auth, (size_t)(path - auth));
  return route_match(routes, nroutes, auth, hostlen, path, strlen(path));
}

int route_find(const struct config *cfg, const char *host, size_t host_len,
               const char *path, size_t path_len) {
  return route_match(cfg->routes, cfg->nroutes, host, host_len, path,
                     path_len);
}

int route_pick(const struct config *cfg, const char *host, size_t host_len,
               const char *path, size_t path_len) {
  int r = route_find(cfg, host, host_len, path, path_len);
  return r < 0 ? 0 : cfg->routes[r].backend;
}
