/* privs.c: see privs.h. */
#include "base/privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int privs_lookup(const char *user, const char *group, struct privs *out,
                 char *err, size_t errlen) {
  struct passwd pw, *pwp = NULL;
  struct group gr, *grp = NULL;
  char buf[16384];
  int rv;

  memset(out, 0, sizeof(*out));
  if (strlen(user) >= sizeof(out->user) ||
      strlen(group) >= sizeof(out->group)) {
    snprintf(err, errlen, "user or group name is too long");
    return -1;
  }
  rv = getpwnam_r(user, &pw, buf, sizeof(buf), &pwp);
  if (pwp == NULL) {
    snprintf(err, errlen, "no such user '%s'%s%s", user, rv ? ": " : "",
             rv ? strerror(rv) : "");
    return -1;
  }
  out->uid = pw.pw_uid;
  out->gid = pw.pw_gid;
  strcpy(out->user, user);
  if (group[0] != '\0') {
    rv = getgrnam_r(group, &gr, buf, sizeof(buf), &grp);
    if (grp == NULL) {
      snprintf(err, errlen, "no such group '%s'%s%s", group, rv ? ": " : "",
               rv ? strerror(rv) : "");
      return -1;
    }
    out->gid = gr.gr_gid;
    strcpy(out->group, group);
  } else {
    rv = getgrgid_r(out->gid, &gr, buf, sizeof(buf), &grp);
    snprintf(out->group, sizeof(out->group), "%s",
             grp != NULL ? gr.gr_name : "");
  }
  /* The user's own groups, as login would give them (initgroups), with
   * the chosen group first. */
  int n = PRIVS_MAX_GROUPS;
  if (getgrouplist(user, out->gid, out->groups, &n) < 0) {
    snprintf(err, errlen, "user '%s' is in more than %d groups", user,
             PRIVS_MAX_GROUPS);
    return -1;
  }
  out->ngroups = n;
  return 0;
}

int privs_switching(const struct privs *p) {
  return geteuid() == 0 && (p->uid != 0 || p->gid != 0);
}

/* set_ids is the drop itself; async-signal-safe, so a forked child of a
 * threaded process may run it. */
static int set_ids(const struct privs *p) {
  if (setgroups((size_t)p->ngroups, p->groups) < 0 ||
      setresgid(p->gid, p->gid, p->gid) < 0 ||
      setresuid(p->uid, p->uid, p->uid) < 0)
    return -errno;
  return 0;
}

int privs_can_access(const struct privs *p, const char *path, int mode,
                     int *why) {
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    /* Only async-signal-safe calls in the child. */
    if (set_ids(p) < 0)
      _exit(255);
    if (access(path, mode) == 0)
      _exit(0);
    _exit(errno > 0 && errno < 254 ? errno + 1 : 254);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR)
      return -1;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) == 255)
    return -1;
  if (WEXITSTATUS(status) == 0)
    return 1;
  *why = WEXITSTATUS(status) - 1;
  return 0;
}

int privs_drop(const struct privs *p, char *err, size_t errlen) {
  /* glibc applies each of these to every thread of the process. */
  int rv = set_ids(p);
  if (rv < 0) {
    snprintf(err, errlen, "cannot switch to user '%s' group '%s': %s",
             p->user, p->group, strerror(-rv));
    return -1;
  }
  if (p->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
    snprintf(err, errlen, "switched to user '%s' but could regain root",
             p->user);
    return -1;
  }
  return 0;
}
