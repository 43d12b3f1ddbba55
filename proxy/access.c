/* access.c: see access.h. */
#include "proxy/access.h"

#include <inttypes.h>

#include "base/client.h"
#include "base/log.h"
#include "proxy/conn.h"

static const char *or_dash(const char *s) {
  return s != NULL && s[0] != '\0' ? s : "-";
}

void access_log_request(const struct conn *c, const uint8_t *client,
                        const char *proto, const char *method,
                        const char *authority, const char *path, int status,
                        uint64_t bytes, uint64_t ms, const char *backend) {
  if (!log_access_enabled())
    return;
  char addr[CLIENT_TEXT_MAX];
  const char *who = conn_peer(c);
  if (client != NULL) {
    client_format(client, addr, sizeof(addr));
    who = addr;
  }
  log_access("%s %s %s %s %s %d %" PRIu64 " %" PRIu64 " %s", or_dash(who),
             proto, or_dash(method), or_dash(authority), or_dash(path),
             status, bytes, ms, or_dash(backend));
}
