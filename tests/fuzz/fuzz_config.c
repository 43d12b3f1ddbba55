/* fuzz_config.c: libFuzzer harness for the configuration file parser.
 *
 * Input: the contents of an INI file, loaded with config_load (through a
 * memfd, so nothing touches the disk) and, when it loads, checked with
 * config_validate. Checked: an error message always names the file, a
 * file loads the same way twice (libinih keeps process-wide settings, so
 * a load must not depend on the one before), and a loaded configuration
 * respects the array bounds the rest of herald indexes by. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "tests/fuzz/fake.h"

static int load(struct config *c, const char *path, char *err, size_t len) {
  memset(c, 0, sizeof(*c));
  config_defaults(c);
  err[0] = '\0';
  return config_load(c, path, err, len);
}

static void check_bounds(const struct config *c) {
  if (c->nlisteners < 0 || c->nlisteners > CONFIG_MAX_LISTENERS ||
      c->nbackends < 0 || c->nbackends > CONFIG_MAX_BACKENDS ||
      c->nroutes < 0 || c->nroutes > CONFIG_MAX_ROUTES)
    fuzz_fail("counts out of range: %d listeners %d backends %d routes",
              c->nlisteners, c->nbackends, c->nroutes);
  for (int i = 0; i < c->nbackends; i++) {
    if (c->backends[i].nservers < 0 ||
        c->backends[i].nservers > CONFIG_MAX_SERVERS)
      fuzz_fail("backend %d has %d servers", i, c->backends[i].nservers);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int fd = -1;
  static char path[64];
  if (fd < 0) {
    log_level = -1;
    fd = memfd_create("herald-fuzz.ini", MFD_CLOEXEC);
    if (fd < 0)
      fuzz_fail("memfd_create failed");
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  }
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
    fuzz_fail("cannot write the memfd");
  struct config *a = xmalloc(sizeof(*a)), *b = xmalloc(sizeof(*b));
  char ea[512], eb[512];
  int ra = load(a, path, ea, sizeof(ea));
  int rb = load(b, path, eb, sizeof(eb));
  if (ra != rb || strcmp(ea, eb) != 0)
    fuzz_fail("two loads differ: %d '%s' then %d '%s'", ra, ea, rb, eb);
  if (ra != 0) {
    if (strncmp(ea, path, strlen(path)) != 0)
      fuzz_fail("error does not name the file: '%s'", ea);
  } else {
    if (memcmp(a, b, sizeof(*a)) != 0)
      fuzz_fail("two loads of one file give different configurations");
    check_bounds(a);
    if (config_validate(a, ea, sizeof(ea)) == 0) {
      check_bounds(a);
      for (int i = 0; i < a->nroutes; i++) {
        if (a->routes[i].backend < 0 || a->routes[i].backend >= a->nbackends)
          fuzz_fail("route %d resolved to backend %d of %d", i,
                    a->routes[i].backend, a->nbackends);
      }
      if (a->nlisteners < 1 || a->nbackends < 1)
        fuzz_fail("a valid configuration without listener or backend");
    } else if (ea[0] == '\0') {
      fuzz_fail("config_validate failed without a message");
    }
  }
  free(a);
  free(b);
  return 0;
}
