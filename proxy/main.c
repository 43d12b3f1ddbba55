/* main.c: herald's entry point: configuration, then the loop.
 *
 *   herald -c FILE            run from an INI file
 *   herald --listen A:P --backend A:P   a one-liner, no file
 *   herald -t -c FILE         check a configuration and exit 0 / 1
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "config/config.h"
#include "proxy/log.h"
#include "proxy/server.h"

#define HERALD_VERSION "0.1.0"

int main(int argc, char **argv) {
  static struct config cfg; /* large: keep it off the stack */
  char err[1024] = "";
  const char *path = NULL;
  int test_only = 0, help = 0, version = 0;

  if (config_from_args(&cfg, argc, argv, &path, &test_only, &help, &version,
                       err, sizeof(err)) != 0) {
    fprintf(stderr, "herald: %s\n", err);
    if (test_only)
      fprintf(stderr, "herald: configuration %s test failed\n",
              path ? path : "(flags)");
    return 1;
  }
  if (help) {
    config_usage(argv[0]);
    return 0;
  }
  if (version) {
    printf("herald %s (libuv %s, nghttp2 %s)\n", HERALD_VERSION,
           uv_version_string(), "1.52");
    return 0;
  }
  if (test_only) {
    printf("herald: configuration %s is ok\n", path ? path : "(flags)");
    return 0;
  }
  log_level = cfg.log_level;
  if (log_access_open(cfg.access_log) != 0) {
    fprintf(stderr, "herald: cannot open access log %s\n", cfg.access_log);
    return 1;
  }

  uv_loop_t *loop = uv_default_loop();
  static struct server srv;
  if (server_init(&srv, loop, &cfg, err, sizeof(err)) != 0) {
    LOG_ERR("%s", err);
    server_cleanup(&srv);
    uv_loop_close(loop);
    log_access_close();
    return 1;
  }
  LOG_INFO("herald %s started (pid %d)", HERALD_VERSION, (int)uv_os_getpid());
  server_run(&srv);
  server_cleanup(&srv);
  uv_loop_close(loop);
  log_access_close();
  LOG_INFO("herald stopped");
  return 0;
}
