/* fuzz_pagekey.c: libFuzzer harness for the page-key builder.
 *
 * Input: one option byte (https, a smaller output buffer), then
 * NUL-separated fields: template patterns, kept query parameters,
 * authority, path, a Referer URL, Sec-CH-UA-Mobile, User-Agent.
 *
 * Checked: a key is NUL-terminated at its returned length, inside the
 * buffer, and starts with the scheme; a key is its own normalization
 * (pagekey_from_url of a key gives the key back), which is what lets a
 * Referer be compared with page keys; a template keeps the key's origin,
 * and without patterns folding ids is stable; with a smaller buffer a
 * function gives the same key or -1, never a cut one. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "learner/pagekey.h"
#include "tests/fuzz/fake.h"

enum { F_PATTERNS, F_KEEP, F_AUTH, F_PATH, F_URL, F_CH, F_UA, NFIELDS };

static void check_key(const char *what, int n, const char *out, size_t cap) {
  if (n < 0)
    return;
  if ((size_t)n >= cap || strlen(out) != (size_t)n)
    fuzz_fail("%s returned %d for '%s' (cap %zu)", what, n, out, cap);
  if (strncmp(out, "http://", 7) != 0 && strncmp(out, "https://", 8) != 0)
    fuzz_fail("%s made '%s'", what, out);
}

/* smaller: the same call into |cap| bytes gives |full| or -1. */
static void check_smaller(const char *what, int n, const char *full,
                          int m, const char *small, size_t cap) {
  if (n < 0 && m >= 0)
    fuzz_fail("%s fits a smaller buffer but not a larger one", what);
  if (n >= 0 && (size_t)n < cap && (m != n || strcmp(full, small) != 0))
    fuzz_fail("%s differs with a smaller buffer: '%s' vs '%s'", what, full,
              small);
  if (n >= 0 && (size_t)n >= cap && m != -1)
    fuzz_fail("%s returned %d into %zu bytes for a %d-byte key", what, m,
              cap, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  int https = data[0] & 1;
  size_t small_cap = 1 + (size_t)(data[0] >> 1) * 6; /* 1..763 */
  char *in = xmalloc(size);
  memcpy(in, data + 1, size - 1);
  in[size - 1] = '\0';
  const char *f[NFIELDS];
  char *p = in, *end = in + size - 1;
  for (int i = 0; i < NFIELDS; i++) {
    f[i] = p;
    p += strlen(p);
    if (p < end)
      p++; /* past the NUL separator; the last field ends at |end| */
  }
  char *patterns = xstrdup(f[F_PATTERNS]);
  struct pagekey_config cfg;
  memset(&cfg, 0, sizeof(cfg));
  pagekey_split_patterns(&cfg, patterns);
  cfg.keep_params = f[F_KEEP];
  struct pagekey_config plain = {.npatterns = 0, .keep_params = f[F_KEEP]};

  char *key = xmalloc(PAGEKEY_MAX), *again = xmalloc(PAGEKEY_MAX);
  char *tmpl = xmalloc(PAGEKEY_MAX), *small = xmalloc(small_cap);
  int n = pagekey_make(&cfg, https, f[F_AUTH], f[F_PATH], key, PAGEKEY_MAX);
  check_key("pagekey_make", n, key, PAGEKEY_MAX);
  if (n >= 0) {
    if (strncmp(key, https ? "https://" : "http://", https ? 8 : 7) != 0)
      fuzz_fail("key '%s' has the wrong scheme", key);
    int m = pagekey_from_url(&cfg, key, again, PAGEKEY_MAX);
    if (m != n || strcmp(key, again) != 0)
      fuzz_fail("key '%s' normalizes to '%s'", key, m < 0 ? "(error)" : again);
    int t = pagekey_template(&cfg, key, tmpl, PAGEKEY_MAX);
    check_key("pagekey_template", t, tmpl, PAGEKEY_MAX);
    size_t origin = strcspn(key + 8, "/") + 8;
    if (t >= 0 && strncmp(key, tmpl, origin) != 0)
      fuzz_fail("template '%s' of '%s' changed the origin", tmpl, key);
    int s = pagekey_template(&cfg, key, small, small_cap);
    check_smaller("pagekey_template", t, tmpl, s, small, small_cap);
    t = pagekey_template(&plain, key, tmpl, PAGEKEY_MAX);
    if (t >= 0) {
      int t2 = pagekey_template(&plain, tmpl, again, PAGEKEY_MAX);
      if (t2 != t || strcmp(tmpl, again) != 0)
        fuzz_fail("folding ids is not stable: '%s' then '%s'", tmpl, again);
    }
  }
  int u = pagekey_from_url(&cfg, f[F_URL], again, PAGEKEY_MAX);
  check_key("pagekey_from_url", u, again, PAGEKEY_MAX);
  int s = pagekey_from_url(&cfg, f[F_URL], small, small_cap);
  check_smaller("pagekey_from_url", u, again, s, small, small_cap);
  if (u >= 0) {
    int w = pagekey_from_url(&cfg, again, key, PAGEKEY_MAX);
    if (w != u || strcmp(key, again) != 0)
      fuzz_fail("URL key '%s' normalizes to '%s'", again, key);
  }
  int mob = pagekey_is_mobile(f[F_CH], strlen(f[F_CH]), f[F_UA],
                              strlen(f[F_UA]));
  if (mob != 0 && mob != 1)
    fuzz_fail("pagekey_is_mobile returned %d", mob);
  free(key);
  free(again);
  free(tmpl);
  free(small);
  free(patterns);
  free(in);
  return 0;
}
