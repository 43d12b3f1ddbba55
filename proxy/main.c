/* main.c: herald's entry point: configuration, then the loop.
 *
 *   herald -c FILE            run from an INI file
 *   herald --listen A:P --backend A:P   a one-liner, no file
 *   herald -t -c FILE         check a configuration and exit 0 / 1
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "learner/recorder.h"
#include "proxy/server.h"

#define HERALD_VERSION "0.1.0"

/* start_recorder starts recording when a database is configured. The
 * database itself is opened on the recorder's thread; a failure there is
 * logged and turns recording off without stopping the proxy. */
static struct recorder *start_recorder(const struct config *cfg,
                                       struct server *srv) {
  if (cfg->db[0] == '\0' || !cfg->record_enabled)
    return NULL;
  struct recorder_config rc = {
      .db_path = cfg->db,
      .attrib = {
          .window_ms = (uint64_t)cfg->record_window,
          .single_class = cfg->record_single_class,
          .keys = {.keep_params = cfg->record_keep_params},
      },
      .templates = cfg->record_templates,
      .retain_visits = cfg->record_retain_visits,
      .queue_cap = (uint32_t)cfg->record_queue,
      .flush_ms = (uint32_t)cfg->record_flush,
      .ipv4_prefix = cfg->client_ipv4_prefix,
      .ipv6_prefix = cfg->client_ipv6_prefix,
  };
  server_learner_config(cfg, srv, &rc.learner);
  struct recorder *r = NULL;
  int rv = recorder_start(&r, &rc);
  if (rv != 0) {
    LOG_ERR("recording off: cannot start the recorder thread: %s",
            uv_strerror(rv));
    return NULL;
  }
  return r;
}

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
  srv.argc = argc;
  srv.argv = argv;
  srv.recorder = start_recorder(&cfg, &srv);
  /* Stored rules serve from the first request; a database that takes
   * longer than this to open only delays them. */
  if (srv.recorder != NULL && recorder_wait_ready(srv.recorder, 3000) != 0)
    LOG_WARN("recorder: database still opening; stored rules apply once loaded");
  server_adopt_rules(&srv);
  LOG_INFO("herald %s started (pid %d)", HERALD_VERSION, (int)uv_os_getpid());
  server_run(&srv);
  /* One summary line, so a test or an operator can see what was delivered
   * without a metrics endpoint. */
  LOG_INFO("stats: %" PRIu64 " requests, %" PRIu64 " 103 early hints sent, "
           "%" PRIu64 " shadow, %" PRIu64 " pushes promised",
           srv.stats.requests, srv.stats.hints_sent, srv.stats.hints_shadow,
           srv.stats.pushes_promised);
  /* The recorder writes what is finished and publishes its last rules
   * while the server's handles are still open. */
  recorder_stop(srv.recorder);
  srv.recorder = NULL;
  server_cleanup(&srv);
  uv_loop_close(loop);
  log_access_close();
  LOG_INFO("herald stopped");
  return 0;
}
