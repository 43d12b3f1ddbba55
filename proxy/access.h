/* access.h: the access log line of a finished request, in the format of
 * the configuration its connection pinned ([log] access_format, compiled
 * by config_validate with base/access_format.h). Loop thread only: the
 * line goes through log.c's writer thread. */
#ifndef PROXY_ACCESS_H
#define PROXY_ACCESS_H

#include "base/access_format.h"

struct conn;

/* access_log_request writes |e|'s line when the access log is on. */
void access_log_request(const struct conn *c, const struct access_entry *e);

#endif
