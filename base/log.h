/* log.h: leveled error log on stderr and the optional access log.
 *
 * The level is tested before anything is formatted (Redis's serverLog), and
 * each record is one write(2) so lines from the learner thread never
 * interleave with the loop thread's. */
#ifndef BASE_LOG_H
#define BASE_LOG_H

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

/* log_access_open opens |path| for appending access records; NULL or ""
 * turns the access log off. Returns 0 or a negative errno. */
int log_access_open(const char *path);
int log_access_enabled(void);
/* log_access_close flushes and stops the writer thread. */
void log_access_close(void);
/* log_access_dropped counts lines dropped because the ring was full. */
uint64_t log_access_dropped(void);
/* log_access queues one access record (formatted, without newline). */
void log_access(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
