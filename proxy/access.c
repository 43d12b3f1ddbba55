/* access.c: see access.h. */
#include "proxy/access.h"

#include <stdint.h>
#include <sys/time.h>

#include "base/log.h"
#include "config/config.h"
#include "proxy/conn.h"

void access_log_request(const struct conn *c, const struct access_entry *e) {
  if (!log_access_enabled())
    return;
  struct timeval tv;
  gettimeofday(&tv, NULL);
  char line[4096];
  size_t n = access_format_line(&conn_config(c)->access_compiled, e,
                                conn_peer(c),
                                (uint64_t)tv.tv_sec * 1000000 +
                                    (uint64_t)tv.tv_usec,
                                line, sizeof(line));
  log_access_line(line, n);
}
