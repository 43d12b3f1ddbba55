/* access.c: see access.h. */
#include "proxy/access.h"

#include <stdint.h>
#include <sys/time.h>

#include "base/log.h"
#include "proxy/conn.h"

/* The format in force; loop thread only. */
static struct access_format current;
static int current_ready;

void access_format_use(const char *fmt) {
  char why[256];
  if (access_format_parse(fmt, &current, why, sizeof(why)) != 0) {
    /* Configuration validation parsed it already; keep logging. */
    LOG_ERR("access_format: %s; using the default", why);
    access_format_parse(ACCESS_FORMAT_DEFAULT, &current, why, sizeof(why));
  }
  current_ready = 1;
}

void access_log_request(const struct conn *c, const struct access_entry *e) {
  if (!log_access_enabled())
    return;
  if (!current_ready)
    access_format_use(ACCESS_FORMAT_DEFAULT);
  struct timeval tv;
  gettimeofday(&tv, NULL);
  char line[4096];
  size_t n = access_format_line(&current, e, conn_peer(c),
                                (uint64_t)tv.tv_sec * 1000000 +
                                    (uint64_t)tv.tv_usec,
                                line, sizeof(line));
  log_access_line(line, n);
}
