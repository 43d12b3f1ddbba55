/* fuzz_link.c: libFuzzer harness for what herald reads of a backend's
 * Link fields (proxy/linkfield.h) and what it may name from them
 * (hints_declared_read, hints_compose in proxy/hints.h).
 *
 * Input: one option byte (https), then NUL-separated fields: the
 * request's authority, its path, and the rest: Link field values, one per
 * line ('\n').
 *
 * Checked: linkfield_next moves forward, stays inside the value, and
 * points its target inside it; every declared link hints_declared_read
 * keeps is a safe path of the request's own origin (one leading '/', no
 * fragment, pagekey_path_safe), with a destination herald can name, each
 * path once, at most the cap; the 103 hints_compose builds from them has
 * one "<path>; rel=preload; as=..." value per link, at most
 * HINTS_LINKS_MAX, none holding CR, LF, NUL or a second '<' or '>'. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "learner/obs.h"
#include "learner/pagekey.h"
#include "proxy/hints.h"
#include "base/http.h"
#include "proxy/linkfield.h"
#include "base/util.h"
#include "tests/fuzz/fake.h"

#define MAX_FIELDS 32

static void check_parse(const char *v, size_t n) {
  size_t pos = 0, guard = 0;
  struct linkfield lf;
  int rv;
  while ((rv = linkfield_next(v, n, &pos, &lf)) == 1) {
    if (pos > n)
      fuzz_fail("linkfield_next ran past the value (%zu > %zu)", pos, n);
    if (lf.target < v || lf.target + lf.target_len > v + n)
      fuzz_fail("a target outside the value");
    if (memchr(lf.target, '>', lf.target_len) != NULL)
      fuzz_fail("a target holding '>'");
    if (strlen(lf.as) >= sizeof(lf.as))
      fuzz_fail("as= not terminated");
    if (++guard > n + 1)
      fuzz_fail("linkfield_next does not move forward");
  }
  if (rv != 0 && rv != -1)
    fuzz_fail("linkfield_next returned %d", rv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  int https = data[0] & 1;
  char *in = xmalloc(size);
  memcpy(in, data + 1, size - 1);
  in[size - 1] = '\0';
  const char *auth = in;
  const char *path = auth + strlen(auth);
  if (path < in + size - 1)
    path++;
  const char *rest = path + strlen(path);
  if (rest < in + size - 1)
    rest++;
  /* The values may hold NULs: they end at the input's end, not at one. */
  size_t rest_len = (size_t)(in + size - 1 - rest);
  struct http_hdr hdrs[MAX_FIELDS];
  size_t n = 0;
  const char *p = rest, *end = rest + rest_len;
  while (p <= end && n < MAX_FIELDS) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *stop = nl ? nl : end;
    hdrs[n] = (struct http_hdr){n % 2 ? "Link" : "link", 4, p,
                                (size_t)(stop - p)};
    n++;
    check_parse(p, (size_t)(stop - p));
    if (nl == NULL)
      break;
    p = nl + 1;
  }

  struct hints_declared d[HINTS_DECLARED_MAX];
  size_t nd = hints_declared_read(hdrs, n, https, auth, strlen(auth), path,
                                  strlen(path), d, HINTS_DECLARED_MAX);
  if (nd > HINTS_DECLARED_MAX)
    fuzz_fail("%zu declared links, more than the cap", nd);
  for (size_t i = 0; i < nd; i++) {
    size_t len = strnlen(d[i].path, sizeof(d[i].path));
    if (len == sizeof(d[i].path))
      fuzz_fail("a declared path not terminated");
    if (d[i].path[0] != '/' || d[i].path[1] == '/' ||
        strchr(d[i].path, '#') != NULL || !pagekey_path_safe(d[i].path, len))
      fuzz_fail("declared an unsafe path '%s'", d[i].path);
    if (d[i].dest == OBS_DEST_NONE || d[i].dest == OBS_DEST_DOCUMENT ||
        d[i].dest == OBS_DEST_OTHER)
      fuzz_fail("declared '%s' with destination %u", d[i].path, d[i].dest);
    for (size_t j = 0; j < i; j++)
      if (strcmp(d[i].path, d[j].path) == 0)
        fuzz_fail("declared '%s' twice", d[i].path);
  }

  static struct hints_early e;
  size_t links = hints_compose(NULL, 0, d, nd, &e);
  if (links > HINTS_LINKS_MAX || links > nd)
    fuzz_fail("%zu Link fields for %zu links", links, nd);
  for (size_t i = 0; i < links; i++) {
    const char *l = e.link[i];
    if (e.len[i] != strlen(l) || e.len[i] >= HINTS_LINK_LEN)
      fuzz_fail("Link field length %zu for '%s'", e.len[i], l);
    const char *gt = strchr(l, '>');
    if (l[0] != '<' || l[1] != '/' || l[2] == '/' || gt == NULL ||
        strchr(l + 1, '<') != NULL || strchr(gt + 1, '>') != NULL ||
        strstr(gt, ">; rel=preload; as=") != gt ||
        strpbrk(l, "\r\n") != NULL)
      fuzz_fail("Link field '%s'", l);
  }
  free(in);
  return 0;
}
