/* log.c: see log.h. */
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

_Atomic int log_level = LOG_LEVEL_INFO;
static int access_fd = -1;
/* The files behind stderr and access_fd, for SIGUSR1; "" when not files. */
static char error_path[1024], access_path[1024];

static const char *const level_names[] = {"error", "warn", "info", "debug"};

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

static int open_log(const char *path) {
  return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY,
              0644);
}

int log_error_open(const char *path) {
  if (path == NULL || path[0] == '\0') {
    error_path[0] = '\0';
    return 0;
  }
  if (strlen(path) >= sizeof(error_path))
    return -ENAMETOOLONG;
  int fd = open_log(path);
  if (fd < 0)
    return -errno;
  /* Everything written to stderr (sanitizers and libraries included)
   * lands in the file, and a reopen is one atomic dup2 under every
   * thread's feet. */
  if (dup2(fd, STDERR_FILENO) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  close(fd);
  strcpy(error_path, path);
  return 0;
}

/* reopen points |target| at a fresh open of |path|: dup2 swaps the file
 * atomically, so a write in progress on another thread lands whole in
 * either the old file or the new one. */
static int reopen(const char *path, int target, char *err, size_t errlen,
                  const char *what) {
  int fd = open_log(path);
  if (fd < 0 || dup2(fd, target) < 0) {
    snprintf(err, errlen, "cannot reopen the %s %s: %s; still writing to "
             "the old file", what, path, strerror(errno));
    if (fd >= 0)
      close(fd);
    return -1;
  }
  close(fd);
  return 0;
}

int log_reopen(char *err, size_t errlen) {
  int rv = 0;
  err[0] = '\0';
  if (error_path[0] != '\0' &&
      reopen(error_path, STDERR_FILENO, err, errlen, "error log") < 0)
    rv = -1;
  /* access_fd changes only at start and exit, never during a reopen. */
  if (access_fd >= 0 && access_path[0] != '\0') {
    size_t n = strlen(err);
    if (n > 0 && n + 2 < errlen) {
      memcpy(err + n, "; ", 3);
      n += 2;
    }
    if (reopen(access_path, access_fd, err + n, errlen - n, "access log") < 0)
      rv = -1;
    else
      err[n > 2 ? n - 2 : n] = '\0';
  }
  return rv;
}

const char *log_error_path(void) { return error_path; }
const char *log_access_path(void) { return access_path; }

int log_access_open(const char *path) {
  access_stop();
  if (access_fd >= 0)
    close(access_fd);
  access_fd = -1;
  access_path[0] = '\0';
  if (path == NULL || path[0] == '\0')
    return 0;
  if (strlen(path) >= sizeof(access_path))
    return -ENAMETOOLONG;
  if (strcmp(path, "-") == 0 || strcmp(path, "/dev/stdout") == 0) {
    access_fd = dup(STDOUT_FILENO);
  } else {
    access_fd = open_log(path);
    if (access_fd >= 0)
      strcpy(access_path, path);
  }
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

uint64_t log_access_dropped(void) {
  /* Every loop thread adds to it under the lock. */
  pthread_mutex_lock(&acc.mu);
  uint64_t n = acc.dropped;
  pthread_mutex_unlock(&acc.mu);
  return n;
}

void log_access_line(const char *line, size_t n) {
  if (access_fd < 0)
    return;
  pthread_mutex_lock(&acc.mu);
  if (acc.len + n + 1 > ACCESS_RING) {
    acc.dropped++;
  } else {
    size_t tail = (acc.head + acc.len) % ACCESS_RING;
    for (size_t i = 0; i < n; i++)
      acc.ring[(tail + i) % ACCESS_RING] = line[i];
    acc.ring[(tail + n) % ACCESS_RING] = '\n';
    acc.len += n + 1;
    pthread_cond_signal(&acc.cv);
  }
  pthread_mutex_unlock(&acc.mu);
}

int log_limit_pass(struct log_limit *l, uint64_t now_ms, uint64_t period_ms,
                   unsigned *held) {
  uint64_t last = atomic_load_explicit(&l->last_ms, memory_order_relaxed);
  /* 0 means never logged; the thread that wins the exchange logs. */
  if ((last == 0 || (now_ms >= last && now_ms - last >= period_ms)) &&
      atomic_compare_exchange_strong(&l->last_ms, &last,
                                     now_ms ? now_ms : 1)) {
    *held = atomic_exchange(&l->held, 0);
    return 1;
  }
  atomic_fetch_add_explicit(&l->held, 1, memory_order_relaxed);
  return 0;
}
