/* util.h: small helpers every module uses.
 *
 * herald is an application, so running out of memory aborts (as h2o and
 * Redis do): caps on every buffer and queue are what protect memory, not
 * NULL checks scattered through the hot path. */
#ifndef BASE_UTIL_H
#define BASE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define container_of(ptr, type, member) \
  ((type *)((char *)(ptr) - offsetof(type, member)))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* iov is a borrowed byte slice; who owns |base| is said where it is used. */
struct iov {
  const uint8_t *base;
  size_t len;
};

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* util_now_ms returns a monotonic clock in milliseconds. */
uint64_t util_now_ms(void);

/* util_memcaseeq compares |n| bytes of |a| and |b| ignoring ASCII case. */
int util_memcaseeq(const char *a, const char *b, size_t n);

/* util_lower_copy copies |n| bytes of |src| to |dst| with the ASCII
 * capitals lower-cased (HTTP/2 field names). */
void util_lower_copy(char *dst, const char *src, size_t n);

/* util_strcaseeq compares |a| of |alen| bytes with the NUL-terminated |b|
 * ignoring ASCII case. Inline so that the length of a literal |b| is a
 * constant and most field names are told apart by their length alone
 * (header classification runs for every field of every request). */
static inline int util_strcaseeq(const char *a, size_t alen, const char *b) {
  return alen == strlen(b) && util_memcaseeq(a, b, alen);
}

/* FNV-1a over |n| bytes, continuing from |h| (start from UTIL_FNV1A_INIT).
 * Fast and unkeyed: for in-memory tables and fingerprints, never for
 * anything an attacker must not be able to collide on purpose. */
#define UTIL_FNV1A_INIT 14695981039346656037ull
uint64_t util_fnv1a(uint64_t h, const void *p, size_t n);

/* util_mix64 is MurmurHash3's fmix64 finaliser: every input bit reaches
 * every output bit, so the top or low bits alone make a good index. */
uint64_t util_mix64(uint64_t h);

/* util_parse_hostport splits "host:port", "[v6]:port" into |host| (without
 * brackets, at most |hostcap|-1 bytes) and |*port|. Returns 0 or -1. */
int util_parse_hostport(const char *s, char *host, size_t hostcap, int *port);

#endif
