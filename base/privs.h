/* privs.h: running as [server] user after starting as root.
 *
 * herald starts as root only to bind ports below 1024 and to open files
 * the service user could not; once the listeners are bound and the
 * database and logs are open it drops to the configured user and group
 * for good (supplementary groups included), before serving a request.
 * The rest of the process then runs as that user: a reload re-reads the
 * configuration and certificates with its rights, SIGUSR1 reopens the logs
 * with them, and the database's directory must be writable by it (SQLite
 * creates its -wal and -shm files there). privs_can_access answers "could
 * that user do this?" exactly, ACLs and groups included, by asking a
 * child that has dropped to the user. */
#ifndef BASE_PRIVS_H
#define BASE_PRIVS_H

#include <stddef.h>
#include <sys/types.h>

#define PRIVS_MAX_GROUPS 64

struct privs {
  char user[64], group[64];
  uid_t uid;
  gid_t gid;
  gid_t groups[PRIVS_MAX_GROUPS]; /* the user's supplementary groups */
  int ngroups;
};

/* privs_lookup resolves |user| and |group| ("" = the user's primary
 * group) from the user database. Returns 0, or -1 with "no such user 'x'"
 * or the like in |err|. Blocking (NSS): not on the loop thread. */
int privs_lookup(const char *user, const char *group, struct privs *out,
                 char *err, size_t errlen);

/* privs_switching: the process runs as root and |p| is another user, so
 * privs_drop will change who it is. */
int privs_switching(const struct privs *p);

/* privs_can_access tells whether |p|'s user may access(|path|, |mode|)
 * (R_OK, W_OK, X_OK, F_OK). Returns 1 yes, 0 no (|*why| gets the errno),
 * or -1 when it cannot tell. Forks; call it before the loop runs. */
int privs_can_access(const struct privs *p, const char *path, int mode,
                     int *why);

/* privs_drop sets the groups, group and user of the whole process (every
 * thread) to |p|'s, irreversibly, and checks that root cannot be regained.
 * Returns 0, or -1 with the reason in |err|. */
int privs_drop(const struct privs *p, char *err, size_t errlen);

#endif
