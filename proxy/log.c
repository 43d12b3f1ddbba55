/* log.c: see log.h. */
#include "proxy/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int log_level = LOG_LEVEL_INFO;
static int access_fd = -1;

static const char *level_names[] = {"error", "warn", "info", "debug"};

int log_level_parse(const char *s) {
  for (int i = 0; i < 4; i++) {
    if (strcmp(s, level_names[i]) == 0)
      return i;
  }
  return -1;
}

static size_t stamp(char *buf, size_t cap) {
  struct timeval tv;
  struct tm tm;
  gettimeofday(&tv, NULL);
  gmtime_r(&tv.tv_sec, &tm);
  size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
  n += (size_t)snprintf(buf + n, cap - n, ".%03dZ", (int)(tv.tv_usec / 1000));
  return n;
}

static void vwrite_line(int fd, const char *prefix, const char *fmt, va_list ap) {
  char buf[2048];
  size_t n = stamp(buf, sizeof(buf));
  n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s", prefix);
  int m = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
  if (m < 0)
    return;
  n += (size_t)m;
  if (n > sizeof(buf) - 2)
    n = sizeof(buf) - 2;
  buf[n++] = '\n';
  ssize_t rv;
  do {
    rv = write(fd, buf, n);
  } while (rv < 0 && errno == EINTR);
}

void log_write(int level, const char *fmt, ...) {
  char prefix[24];
  snprintf(prefix, sizeof(prefix), " [%s] ", level_names[level]);
  va_list ap;
  va_start(ap, fmt);
  vwrite_line(STDERR_FILENO, prefix, fmt, ap);
  va_end(ap);
}

int log_access_open(const char *path) {
  if (access_fd >= 0)
    close(access_fd);
  access_fd = -1;
  if (path == NULL || path[0] == '\0')
    return 0;
  if (strcmp(path, "-") == 0 || strcmp(path, "/dev/stdout") == 0) {
    access_fd = dup(STDOUT_FILENO);
    return access_fd < 0 ? -errno : 0;
  }
  access_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  return access_fd < 0 ? -errno : 0;
}

int log_access_enabled(void) { return access_fd >= 0; }

void log_access(const char *fmt, ...) {
  if (access_fd < 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  vwrite_line(access_fd, " ", fmt, ap);
  va_end(ap);
}
