/* log.h: leveled error log on stderr (or a file) and the optional access
 * log.
 *
 * The level is tested before anything is formatted (Redis's serverLog), and
 * each record is one write(2) so lines from the learner thread never
 * interleave with the loop thread's. */
#ifndef BASE_LOG_H
#define BASE_LOG_H

#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Atomic: a reload changes it on the loop while other threads log. */
extern _Atomic int log_level;

void log_write(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define LOG_AT(lvl, ...)         \
  do {                           \
    if ((lvl) <= log_level)      \
      log_write((lvl), __VA_ARGS__); \
  } while (0)
#define LOG_ERR(...) LOG_AT(LOG_LEVEL_ERROR, __VA_ARGS__)
#define LOG_WARN(...) LOG_AT(LOG_LEVEL_WARN, __VA_ARGS__)
#define LOG_INFO(...) LOG_AT(LOG_LEVEL_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) LOG_AT(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* log_level_parse maps "error", "warn", "info", "debug" to a level, or -1. */
int log_level_parse(const char *s);

/* log_error_open sends the error log (stderr, and so anything else the
 * process writes there) to |path|, appending; NULL or "" leaves stderr
 * alone. Returns 0 or a negative errno. */
int log_error_open(const char *path);

/* log_reopen opens the error log and access log files again by name, for
 * logrotate (SIGUSR1): a renamed file gets no more lines, a new one is
 * created. stderr and stdout are left alone. On failure the old file is
 * kept and |err| says which and why; returns 0 or -1. It does disk I/O:
 * never call it on the loop thread. */
int log_reopen(char *err, size_t errlen);
/* The files being written, "" when none (or stderr / stdout). */
const char *log_error_path(void);
const char *log_access_path(void);

/* log_access_open opens |path| for appending access records; NULL or ""
 * turns the access log off, "-" is stdout. Returns 0 or a negative
 * errno. */
int log_access_open(const char *path);
int log_access_enabled(void);
/* log_access_close flushes and stops the writer thread. */
void log_access_close(void);
/* log_access_dropped counts lines dropped because the ring was full (any
 * thread). */
uint64_t log_access_dropped(void);
/* log_access_line queues one access record of |n| bytes; the newline is
 * added here. */
void log_access_line(const char *line, size_t n);

/* A line that can repeat quickly (a refusal per connection in a flood)
 * is logged at most once per period, whichever thread hits it; the line
 * says how many were held back. Zero-initialised; lives as long as its
 * users. */
struct log_limit {
  _Atomic uint64_t last_ms;
  _Atomic unsigned held;
};

/* log_limit_pass: 1 when the caller should log now (|*held| gets the
 * number of lines held back since the last one), 0 when it should not
 * (and the line is counted as held). |now_ms| is any monotonic
 * millisecond clock the users share (uv_now of any loop). */
int log_limit_pass(struct log_limit *l, uint64_t now_ms, uint64_t period_ms,
                   unsigned *held);

#endif
