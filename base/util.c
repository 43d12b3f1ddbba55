/* util.c: allocation that aborts on failure, and tiny string helpers. */
#include "base/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void oom(size_t n) {
  fprintf(stderr, "herald: out of memory allocating %zu bytes\n", n);
  abort();
}

void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (p == NULL)
    oom(n);
  return p;
}

void *xcalloc(size_t count, size_t n) {
  void *p = calloc(count ? count : 1, n ? n : 1);
  if (p == NULL)
    oom(count * n);
  return p;
}

void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (q == NULL)
    oom(n);
  return q;
}

char *xstrndup(const char *s, size_t n) {
  char *p = xmalloc(n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

uint64_t util_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline unsigned char lower(unsigned char ch) {
  return (ch >= 'A' && ch <= 'Z') ? (unsigned char)(ch | 0x20) : ch;
}

uint64_t util_fnv1a(uint64_t h, const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++) {
    h ^= b[i];
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t util_mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

/* lower8 lower-cases the ASCII capitals among the 8 bytes of |x| at once:
 * a byte gets 0x20 when its low 7 bits are at least 'A' and not above 'Z'
 * and its top bit is clear (no carry crosses a byte: 0x7f + 0x3f < 0x100). */
static inline uint64_t lower8(uint64_t x) {
  const uint64_t low7 = x & 0x7f7f7f7f7f7f7f7full;
  const uint64_t ge_a = low7 + 0x3f3f3f3f3f3f3f3full; /* 0x80 - 'A' */
  const uint64_t gt_z = low7 + 0x2525252525252525ull; /* 0x7f - 'Z' */
  const uint64_t upper = (ge_a ^ gt_z) & ~x & 0x8080808080808080ull;
  return x | (upper >> 2);
}

int util_memcaseeq(const char *a, const char *b, size_t n) {
  /* Header names: ASCII only, so no locale-aware tolower; eight bytes a
   * step, since every field of every message goes through here. */
  if (n < 8) {
    for (size_t i = 0; i < n; i++) {
      if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
        return 0;
    }
    return 1;
  }
  /* Whole words, the last one ending at the last byte (it may overlap the
   * one before: comparing bytes twice changes nothing). */
  for (size_t i = 0;; i += 8) {
    if (i + 8 > n)
      i = n - 8;
    uint64_t x, y;
    memcpy(&x, a + i, 8);
    memcpy(&y, b + i, 8);
    if (x != y && lower8(x) != lower8(y))
      return 0;
    if (i + 8 == n)
      return 1;
  }
}

void util_lower_copy(char *dst, const char *src, size_t n) {
  if (n < 8) {
    for (size_t i = 0; i < n; i++)
      dst[i] = (char)lower((unsigned char)src[i]);
    return;
  }
  /* As util_memcaseeq, the last word ends at the last byte; writing a
   * lower-cased byte twice writes the same byte, also when |dst| is
   * |src|. */
  for (size_t i = 0;; i += 8) {
    if (i + 8 > n)
      i = n - 8;
    uint64_t x;
    memcpy(&x, src + i, 8);
    x = lower8(x);
    memcpy(dst + i, &x, 8);
    if (i + 8 == n)
      return;
  }
}

int util_parse_hostport(const char *s, char *host, size_t hostcap, int *port) {
  const char *colon;
  size_t hlen;
  if (s[0] == '[') {
    const char *end = strchr(s, ']');
    if (end == NULL || end[1] != ':')
      return -1;
    hlen = (size_t)(end - s - 1);
    s++;
    colon = end + 1;
  } else {
    colon = strrchr(s, ':');
    if (colon == NULL)
      return -1;
    hlen = (size_t)(colon - s);
  }
  if (hlen == 0 || hlen >= hostcap)
    return -1;
  char *endp;
  long p = strtol(colon + 1, &endp, 10);
  if (*endp != '\0' || colon[1] == '\0' || p < 1 || p > 65535)
    return -1;
  memcpy(host, s, hlen);
  host[hlen] = '\0';
  *port = (int)p;
  return 0;
}
