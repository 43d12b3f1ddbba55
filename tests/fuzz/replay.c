/* replay.c: runs a fuzz harness over saved inputs, without libFuzzer.
 *
 * `make test` builds every harness with this main (gcc, and under ASan
 * and UBSan in `make asan`) and runs it over tests/fuzz/corpus/NAME, so
 * the seeds and every input that once found a bug are checked on each
 * run, not only when a fuzz campaign runs.
 *
 *   replay_NAME FILE|DIR...   prints "N inputs" and exits 0, or aborts
 *                             on the first input that breaks the harness */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t ninputs;

static void run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    perror(path);
    exit(2);
  }
  size_t cap = 4096, len = 0;
  uint8_t *buf = malloc(cap);
  size_t k;
  while (buf != NULL && (k = fread(buf + len, 1, cap - len, f)) > 0) {
    len += k;
    if (len == cap)
      buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  if (buf == NULL)
    abort();
  /* An exact-size copy, as libFuzzer passes, so overreads are caught. */
  uint8_t *in = malloc(len ? len : 1);
  memcpy(in, buf, len);
  free(buf);
  fprintf(stderr, "replay: %s\n", path);
  LLVMFuzzerTestOneInput(in, len);
  free(in);
  ninputs++;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_path(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    perror(path);
    exit(2);
  }
  if (!S_ISDIR(st.st_mode)) {
    run_file(path);
    return;
  }
  DIR *d = opendir(path);
  if (d == NULL) {
    perror(path);
    exit(2);
  }
  char **names = NULL;
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    names = realloc(names, (n + 1) * sizeof(*names));
    size_t len = strlen(path) + strlen(e->d_name) + 2;
    names[n] = malloc(len);
    snprintf(names[n], len, "%s/%s", path, e->d_name);
    n++;
  }
  closedir(d);
  qsort(names, n, sizeof(*names), by_name);
  for (size_t i = 0; i < n; i++) {
    run_path(names[i]);
    free(names[i]);
  }
  free(names);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
    return 2;
  }
  for (int i = 1; i < argc; i++)
    run_path(argv[i]);
  printf("%zu inputs\n", ninputs);
  return 0;
}
