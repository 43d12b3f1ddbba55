/* preflight.c: see preflight.h. */
#include "proxy/preflight.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "proxy/pool.h"
#include "base/privs.h"
#include "proxy/tls.h"

/* can reports whether |p|'s user (or this process, for NULL) may access
 * |path| with |mode|; |*why| gets the errno when not. */
static int can(const struct privs *p, const char *path, int mode, int *why) {
  if (p != NULL) {
    int rv = privs_can_access(p, path, mode, why);
    if (rv < 0)
      *why = EIO;
    return rv == 1;
  }
  if (access(path, mode) == 0)
    return 1;
  *why = errno;
  return 0;
}

static const char *who(const struct privs *p, char *buf, size_t cap) {
  if (p == NULL)
    return "herald";
  snprintf(buf, cap, "user '%s'", p->user);
  return buf;
}

/* dir_of writes the directory of |path| ("." for a bare name). */
static void dir_of(const char *path, char *out, size_t cap) {
  const char *slash = strrchr(path, '/');
  if (slash == NULL)
    snprintf(out, cap, ".");
  else if (slash == path)
    snprintf(out, cap, "/");
  else
    snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

/* check_dir: |dir| exists, is a directory, and |p| may create files in
 * it. |key| and |file| name what needs it in the message. */
static int check_dir(const char *key, const char *file, const char *dir,
                     const struct privs *p, char *err, size_t errlen) {
  struct stat st;
  char wb[96];
  int why = 0;
  if (stat(dir, &st) < 0) {
    snprintf(err, errlen, "%s %s: directory %s: %s", key, file, dir,
             strerror(errno));
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "%s %s: %s is not a directory", key, file, dir);
    return -1;
  }
  if (!can(p, dir, W_OK | X_OK, &why)) {
    snprintf(err, errlen, "%s %s: %s cannot create files in %s: %s", key,
             file, who(p, wb, sizeof wb), dir, strerror(why));
    return -1;
  }
  return 0;
}

/* check_file: |path|, where it exists, is a file |p| may read and write. */
static int check_file(const char *key, const char *path,
                      const struct privs *p, char *err, size_t errlen) {
  struct stat st;
  char wb[96];
  int why = 0;
  if (lstat(path, &st) < 0)
    return 0; /* created when needed */
  if (S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "%s %s: is a directory", key, path);
    return -1;
  }
  if (!can(p, path, R_OK | W_OK, &why)) {
    snprintf(err, errlen, "%s %s: %s cannot write it: %s", key, path,
             who(p, wb, sizeof wb), strerror(why));
    return -1;
  }
  return 0;
}

int preflight_db(const char *db, const struct privs *p, int create,
                 char *err, size_t errlen) {
  char dir[CONFIG_PATH_MAX], side[CONFIG_PATH_MAX + 8];
  dir_of(db, dir, sizeof dir);
  if (check_dir("store.db", db, dir, p, err, errlen) < 0 ||
      check_file("store.db", db, p, err, errlen) < 0)
    return -1;
  static const char *const sides[] = {"-wal", "-shm", ".lock"};
  for (size_t i = 0; i < sizeof(sides) / sizeof(sides[0]); i++) {
    snprintf(side, sizeof side, "%s%s", db, sides[i]);
    if (check_file("store.db", side, p, err, errlen) < 0)
      return -1;
  }
  if (!create)
    return 0;
  int fd = open(db, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                0640);
  if (fd < 0) {
    if (errno == EEXIST)
      return 0;
    snprintf(err, errlen, "store.db %s: cannot create it: %s", db,
             strerror(errno));
    return -1;
  }
  if (p != NULL && fchown(fd, p->uid, p->gid) < 0) {
    snprintf(err, errlen, "store.db %s: cannot give it to user '%s': %s",
             db, p->user, strerror(errno));
    close(fd);
    unlink(db);
    return -1;
  }
  close(fd);
  return 0;
}

/* check_log: a log file herald opens (before dropping privileges). */
static int check_log(const char *key, const char *path, char *err,
                     size_t errlen) {
  char dir[CONFIG_PATH_MAX];
  if (path[0] == '\0' || strcmp(path, "-") == 0 ||
      strcmp(path, "/dev/stdout") == 0)
    return 0;
  if (access(path, F_OK) == 0)
    return check_file(key, path, NULL, err, errlen);
  dir_of(path, dir, sizeof dir);
  return check_dir(key, path, dir, NULL, err, errlen);
}

int preflight_check(struct config *cfg, char *err, size_t errlen) {
  char why[1024];
  for (int i = 0; i < cfg->nlisteners; i++) {
    const struct config_listener *l = &cfg->listeners[i];
    if (!l->tls)
      continue;
    struct tls_ctx *ctx = tls_ctx_new(l->cert, l->key, why, sizeof why);
    if (ctx == NULL) {
      snprintf(err, errlen, "listener '%s': %s", l->name, why);
      return -1;
    }
    tls_ctx_free(ctx);
  }
  /* pool_new resolves every backend name, as the start does. */
  struct pool *pool = pool_new(NULL, cfg, err, errlen);
  if (pool == NULL)
    return -1;
  pool_free(pool);

  if (check_log("log.error_log", cfg->error_log, err, errlen) < 0 ||
      check_log("log.access_log", cfg->access_log, err, errlen) < 0)
    return -1;

  struct privs p, *user = NULL;
  if (cfg->server_user[0] != '\0') {
    if (privs_lookup(cfg->server_user, cfg->server_group, &p, why,
                     sizeof why) < 0) {
      snprintf(err, errlen, "server.user: %s", why);
      return -1;
    }
    if (privs_switching(&p))
      user = &p;
  }
  if (cfg->db[0] != '\0' && cfg->record_enabled &&
      preflight_db(cfg->db, user, 0, err, errlen) < 0)
    return -1;
  return 0;
}
