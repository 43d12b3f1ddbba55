/* notify.c: see notify.h. */
#include "proxy/notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int notify_send(const char *fmt, ...) {
  const char *path = getenv("NOTIFY_SOCKET");
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  char msg[512];
  size_t plen;
  va_list ap;

  if (path == NULL || path[0] == '\0')
    return 0;
  plen = strlen(path);
  if ((path[0] != '/' && path[0] != '@') || plen >= sizeof(sa.sun_path))
    return -EINVAL;
  memcpy(sa.sun_path, path, plen);
  if (path[0] == '@')
    sa.sun_path[0] = '\0'; /* the abstract namespace */
  va_start(ap, fmt);
  int n = vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (n < 0)
    return -EINVAL;
  if ((size_t)n >= sizeof(msg))
    n = (int)sizeof(msg) - 1;

  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return -errno;
  ssize_t rv = sendto(fd, msg, (size_t)n, MSG_NOSIGNAL,
                      (const struct sockaddr *)&sa,
                      (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                                  plen + (path[0] == '/')));
  int e = errno;
  close(fd);
  return rv < 0 ? -e : 1;
}
