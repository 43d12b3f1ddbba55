/* fuzz_digest.c: libFuzzer harness for the pushed-set cookie decoder.
 *
 * Input: a cookie value (also tried as a whole Cookie header). A value
 * the decoder accepts must hold a set as digest.h defines it (sorted,
 * no duplicates, at most DIGEST_MAX_ENTRIES), must survive encode then
 * decode unchanged within the documented size, and must keep working as
 * a set when entries are added. A rejected value leaves the set empty. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "proxy/digest.h"
#include "tests/fuzz/fake.h"

static void check_set(const struct digest *d) {
  if (d->n > DIGEST_MAX_ENTRIES)
    fuzz_fail("digest holds %zu entries", d->n);
  for (size_t i = 1; i < d->n; i++) {
    if (d->v[i - 1] >= d->v[i])
      fuzz_fail("digest entries not sorted and unique at %zu", i);
  }
}

static void round_trip(const struct digest *d) {
  char out[DIGEST_COOKIE_MAX + 1];
  size_t len = digest_encode(d, out, sizeof(out));
  if (len == 0 || len > 774 || strlen(out) != len)
    fuzz_fail("digest of %zu entries encodes to %zu bytes", d->n, len);
  struct digest *back = xmalloc(sizeof(*back));
  if (digest_decode(back, out, len) != 0)
    fuzz_fail("digest_decode rejects digest_encode's output '%s'", out);
  if (back->n != d->n || memcmp(back->v, d->v, d->n * sizeof(d->v[0])) != 0)
    fuzz_fail("digest changed across encode and decode");
  /* One byte short of the output: encode must refuse, not cut. */
  if (digest_encode(d, out, len) != 0)
    fuzz_fail("digest_encode wrote into a buffer too small");
  free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* An exact-size copy so a read past the end is caught. */
  char *in = xmalloc(size ? size : 1);
  memcpy(in, data, size);
  struct digest *d = xmalloc(sizeof(*d));
  memset(d, 0xa5, sizeof(*d));
  if (digest_decode(d, in, size) == 0) {
    check_set(d);
    round_trip(d);
    /* Extend it as herald does after a push, then query. */
    uint64_t h = util_fnv1a(UTIL_FNV1A_INIT, in, size);
    for (int i = 0; i < 8; i++) {
      h = util_mix64(h + (uint64_t)i);
      size_t before = d->n;
      if (digest_add(d, h) == 0) {
        if (!digest_contains(d, h))
          fuzz_fail("digest_add then digest_contains fails");
      } else if (before != DIGEST_MAX_ENTRIES) {
        fuzz_fail("digest_add refused a set of %zu entries", before);
      }
      check_set(d);
    }
    round_trip(d);
  } else if (d->n != 0) {
    fuzz_fail("rejected value left %zu entries", d->n);
  }
  memset(d, 0xa5, sizeof(*d));
  int rv = digest_from_cookie_header(d, in, size);
  if (rv == 0) {
    check_set(d);
    round_trip(d);
  } else if (rv != 1 && rv != -1) {
    fuzz_fail("digest_from_cookie_header returned %d", rv);
  } else if (d->n != 0) {
    fuzz_fail("digest_from_cookie_header %d left %zu entries", rv, d->n);
  }
  free(d);
  free(in);
  return 0;
}
