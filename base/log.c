/* log.c: see log.h. */
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

_Atomic int log_level = LOG_LEVEL_INFO;
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

/* The access log is written by its own thread: the loop formats a line
 * into a bounded ring and moves on; when the ring is full the line is
 * dropped and counted rather than stalling requests on a slow disk. */
#define ACCESS_RING (1 << 20)

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t thread;
  int running, stop;
  char ring[ACCESS_RING];
  size_t head, len; /* bytes in ring starting at head */
  uint64_t dropped;
} acc = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void *access_writer(void *arg) {
  (void)arg;
  static char out[65536];
  pthread_mutex_lock(&acc.mu);
  for (;;) {
    while (acc.len == 0 && !acc.stop)
      pthread_cond_wait(&acc.cv, &acc.mu);
    if (acc.len == 0 && acc.stop)
      break;
    size_t n = acc.len < sizeof(out) ? acc.len : sizeof(out);
    for (size_t i = 0; i < n; i++)
      out[i] = acc.ring[(acc.head + i) % ACCESS_RING];
    acc.head = (acc.head + n) % ACCESS_RING;
    acc.len -= n;
    int fd = access_fd;
    pthread_mutex_unlock(&acc.mu);
    size_t off = 0;
    while (off < n) {
      ssize_t rv = write(fd, out + off, n - off);
      if (rv < 0 && errno == EINTR)
        continue;
      if (rv <= 0)
        break;
      off += (size_t)rv;
    }
    pthread_mutex_lock(&acc.mu);
  }
  pthread_mutex_unlock(&acc.mu);
  return NULL;
}

static void access_stop(void) {
  if (!acc.running)
    return;
  pthread_mutex_lock(&acc.mu);
  acc.stop = 1;
  pthread_cond_signal(&acc.cv);
  pthread_mutex_unlock(&acc.mu);
  pthread_join(acc.thread, NULL);
  acc.running = 0;
  acc.stop = 0;
}

int log_access_open(const char *path) {
  access_stop();
  if (access_fd >= 0)
    close(access_fd);
  access_fd = -1;
  if (path == NULL || path[0] == '\0')
    return 0;
  if (strcmp(path, "-") == 0 || strcmp(path, "/dev/stdout") == 0)
    access_fd = dup(STDOUT_FILENO);
  else
    access_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (access_fd < 0)
    return -errno;
  if (pthread_create(&acc.thread, NULL, access_writer, NULL) != 0) {
    close(access_fd);
    access_fd = -1;
    return -EAGAIN;
  }
  acc.running = 1;
  return 0;
}

void log_access_close(void) {
  access_stop();
  if (access_fd >= 0)
    close(access_fd);
  access_fd = -1;
}

int log_access_enabled(void) { return access_fd >= 0; }

uint64_t log_access_dropped(void) { return acc.dropped; }

void log_access(const char *fmt, ...) {
  if (access_fd < 0)
    return;
  char line[2048];
  size_t n = stamp(line, sizeof(line));
  line[n++] = ' ';
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
  va_end(ap);
  if (m < 0)
    return;
  n += (size_t)m;
  if (n > sizeof(line) - 1)
    n = sizeof(line) - 1;
  line[n++] = '\n';
  pthread_mutex_lock(&acc.mu);
  if (acc.len + n > ACCESS_RING) {
    acc.dropped++;
  } else {
    size_t tail = (acc.head + acc.len) % ACCESS_RING;
    for (size_t i = 0; i < n; i++)
      acc.ring[(tail + i) % ACCESS_RING] = line[i];
    acc.len += n;
    pthread_cond_signal(&acc.cv);
  }
  pthread_mutex_unlock(&acc.mu);
}
