/* fuzz_h1.c: libFuzzer harness for the HTTP/1.1 request path.
 *
 * Input: WORLD_OPT_BYTES option bytes (backend behaviour, chunking,
 * limits; see world_opts_parse), then the bytes one client sends on one
 * connection. They go through llhttp and h1.c as on a real connection,
 * requests are forwarded by upstream.c to the fake backend, which checks
 * what reaches it and answers (see fake.h for the invariants). Herald's
 * output to the client must be HTTP/1.x responses. */
#include <stdint.h>
#include <string.h>

#include "proxy/session.h"
#include "tests/fuzz/fake.h"

struct out_check {
  int seen;
};

static void sink(void *ud, const uint8_t *p, size_t n) {
  struct out_check *oc = ud;
  if (oc->seen == 0 && n > 0) {
    if (n < 7 || memcmp(p, "HTTP/1.", 7) != 0)
      fuzz_fail("herald's first bytes to an HTTP/1.1 client are not a "
                "status line: %.*s", (int)(n < 40 ? n : 40), p);
    oc->seen = 1;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct out_check oc = {0};
  world_fuzz(data, size, "", &h1_session_ops, h1_session_new, sink, &oc);
  return 0;
}
