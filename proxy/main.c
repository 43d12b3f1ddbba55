/* main.c: herald's entry point: configuration, then the loop.
 *
 *   herald -c FILE            run from an INI file
 *   herald                    run from CONFIG_DEFAULT_PATH
 *   herald --listen A:P --backend A:P   a one-liner, no file
 *   herald -t -c FILE         check a configuration and exit 0 / 1
 *
 * The start, in order: configuration, logs, the database lock (one herald
 * per database), listeners, the recorder and its stored rules, then, when
 * started as root with [server] user, the switch to that user; only then
 * is herald ready (sd_notify READY=1) and the loop serves.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "base/log.h"
#include "base/util.h"
#include "config/config.h"
#include "learner/recorder.h"
#include "proxy/admin.h"
#include "proxy/loop.h"
#include "proxy/worker.h"
#include "base/log.h"
#include "proxy/notify.h"
#include "proxy/preflight.h"
#include "base/privs.h"
#include "proxy/server.h"
#include "base/util.h"
#include "store/dblock.h"
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

/* open_database takes the database lock and, when herald will drop to
 * |user|, makes sure that user can keep using the database (creating it
 * as theirs if missing). Returns 1 to record, 0 to run without recording
 * (logged), or -1 to refuse to start (logged): another herald has the
 * database, or the service user could not use it. */
static int open_database(const struct config *cfg, const struct privs *user,
                         struct dblock **lock) {
  char err[1024];
  if (cfg->db[0] == '\0' || !cfg->record_enabled)
    return 0;
  if (user != NULL && preflight_db(cfg->db, user, 1, err, sizeof(err)) < 0) {
    LOG_ERR("%s", err);
    return -1;
  }
  int rv = dblock_acquire(cfg->db, user ? user->uid : (uid_t)-1,
                          user ? user->gid : (gid_t)-1, lock, err,
                          sizeof(err));
  if (rv == -EBUSY) {
    LOG_ERR("%s", err);
    return -1;
  }
  if (rv != 0) {
    LOG_ERR("recording off: %s", err);
    return 0;
  }
  return 1;
}

int main(int argc, char **argv) {
  struct config *cfg = config_new(); /* large: keep it off the stack */
  char err[1024] = "";
  const char *path = NULL;
  int test_only = 0, help = 0, version = 0;

  if (config_from_args(cfg, argc, argv, &path, &test_only, &help, &version,
                       err, sizeof(err)) != 0 ||
      (test_only && preflight_check(cfg, err, sizeof(err)) != 0)) {
    fprintf(stderr, "herald: %s\n", err);
    if (test_only)
      fprintf(stderr, "herald: configuration %s test failed\n",
              path ? path : "(flags)");
    config_unref(cfg);
    return 1;
  }
  if (help) {
    config_usage(argv[0]);
    config_unref(cfg);
    return 0;
  }
  if (version) {
    printf("herald %s (libuv %s, nghttp2 %s)\n", HERALD_VERSION,
           uv_version_string(), "1.52");
    config_unref(cfg);
    return 0;
  }
  if (test_only) {
    printf("herald: configuration %s is ok\n", path ? path : "(flags)");
    config_unref(cfg);
    return 0;
  }
  log_level = cfg->log_level;
  int rv = log_error_open(cfg->error_log);
  if (rv != 0) {
    fprintf(stderr, "herald: cannot open error log %s: %s\n", cfg->error_log,
            strerror(-rv));
    config_unref(cfg);
    return 1;
  }
  LOG_INFO("configuration: %s", path ? path : "command-line flags only");
  rv = log_access_open(cfg->access_log);
  if (rv != 0) {
    LOG_ERR("cannot open access log %s: %s", cfg->access_log, strerror(-rv));
    config_unref(cfg);
    return 1;
  }

  /* Started as root with [server] user: everything that needs root
   * (ports below 1024, files the user may not open) happens first, then
   * herald becomes that user before it serves. */
  static struct privs privs;
  struct privs *user = NULL;
  if (cfg->server_user[0] != '\0') {
    if (privs_lookup(cfg->server_user, cfg->server_group, &privs, err,
                     sizeof(err)) < 0) {
      LOG_ERR("server.user: %s", err);
      config_unref(cfg);
      return 1;
    }
    if (privs_switching(&privs))
      user = &privs;
    else if (geteuid() != privs.uid)
      LOG_WARN("server.user '%s' ignored: only root can switch users "
               "(herald runs as uid %d)", privs.user, (int)geteuid());
  }
  struct dblock *lock = NULL;
  int record = open_database(cfg, user, &lock);
  if (record < 0) {
    config_unref(cfg);
    return 1;
  }
  uv_loop_t *loop = uv_default_loop();
  int status = 1;
  struct recorder *rec = NULL;
  /* The server takes main's reference to the configuration. */
  struct server *srv = server_new(loop, cfg, argc, argv, err, sizeof(err));
  cfg = NULL;
  if (srv == NULL) {
    LOG_ERR("%s", err);
    goto out;
  }
  rec = record ? start_recorder(server_config(srv), srv) : NULL;
  server_set_recorder(srv, rec);
  /* Stored rules serve from the first request; a database that takes
   * longer than this to open only delays them. */
  if (rec != NULL && recorder_wait_ready(rec, 3000) != 0)
    LOG_WARN("recorder: database still opening; stored rules apply once loaded");
  if (user != NULL) {
    if (privs_drop(user, err, sizeof(err)) != 0) {
      LOG_ERR("%s", err);
      goto out;
    }
    LOG_INFO("running as user %s (uid %d), group %s (gid %d)", user->user,
             (int)user->uid, user->group, (int)user->gid);
  }
  server_adopt_rules(srv);
  LOG_INFO("herald %s started (pid %d)", HERALD_VERSION, (int)uv_os_getpid());
  notify_send("READY=1\nSTATUS=serving\nMAINPID=%d", (int)uv_os_getpid());
  server_run(srv);
  status = 0;
  struct worker_stats total;
  admin_worker_totals(srv, &total);
  const struct loop_stats *st = &total.stats;
  /* One summary line, so a test or an operator can see what was delivered
   * without a metrics endpoint. */
  LOG_INFO("stats: %" PRIu64 " requests, %" PRIu64 " 103 early hints sent, "
           "%" PRIu64 " shadow, %" PRIu64 " pushes promised",
           st->requests, st->hints_sent, st->hints_shadow,
           st->pushes_promised);
out:
  /* The recorder writes what is finished and publishes its last rules
   * while the server's handles are still open. */
  recorder_stop(rec);
  if (srv != NULL)
    server_set_recorder(srv, NULL);
  server_free(srv);
  uv_loop_close(loop);
  log_access_close();
  dblock_release(lock);
  LOG_INFO("herald %s", status == 0 ? "stopped" : "did not start");
  return status;
}
