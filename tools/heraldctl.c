/* heraldctl.c: the operator's command line for herald.
 *
 * This first cut only reports its version; the learner and operator
 * issues add the commands that read and tune the rule database. */
#include <stdio.h>
#include <string.h>

#define HERALDCTL_VERSION "0.1.0"

static void usage(FILE *f) {
  fprintf(f,
          "usage: heraldctl [--version | --help]\n"
          "  --version   print the version and exit\n"
          "  --help      this text\n"
          "Rule inspection and tuning commands arrive with the learner.\n");
}

int main(int argc, char **argv) {
  if (argc == 2 && (strcmp(argv[1], "--version") == 0 ||
                    strcmp(argv[1], "-V") == 0 ||
                    strcmp(argv[1], "version") == 0)) {
    printf("heraldctl %s\n", HERALDCTL_VERSION);
    return 0;
  }
  if (argc == 2 && (strcmp(argv[1], "--help") == 0 ||
                    strcmp(argv[1], "-h") == 0)) {
    usage(stdout);
    return 0;
  }
  usage(stderr);
  return 2;
}
