/* dblock.c: see dblock.h. */
#include "store/dblock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "base/util.h"

struct dblock {
  int fd;
};

int dblock_acquire(const char *db_path, uid_t owner, gid_t group,
                   struct dblock **out, char *err, size_t errlen) {
  char path[4096], pid[32];
  int n = snprintf(path, sizeof(path), "%s.lock", db_path);
  if (n < 0 || (size_t)n >= sizeof(path)) {
    snprintf(err, errlen, "database path is too long");
    return -ENAMETOOLONG;
  }
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) {
    int e = errno;
    snprintf(err, errlen, "cannot open the lock file %s: %s", path,
             strerror(e));
    return -e;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
    int e = errno;
    if (e == EWOULDBLOCK) {
      ssize_t got = pread(fd, pid, sizeof(pid) - 1, 0);
      pid[got > 0 ? got : 0] = '\0';
      pid[strcspn(pid, "\n")] = '\0';
      snprintf(err, errlen, "database %s is in use by herald pid %s (lock "
               "file %s); one herald per database", db_path,
               pid[0] ? pid : "(not written yet)", path);
      close(fd);
      return -EBUSY;
    }
    snprintf(err, errlen, "cannot lock %s: %s", path, strerror(e));
    close(fd);
    return -e;
  }
  n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
  if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
    int e = errno;
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(e));
    close(fd);
    return -e;
  }
  if ((owner != (uid_t)-1 || group != (gid_t)-1) &&
      fchown(fd, owner, group) < 0) {
    int e = errno;
    snprintf(err, errlen, "cannot give %s to the service user: %s", path,
             strerror(e));
    close(fd);
    return -e;
  }
  struct dblock *l = xcalloc(1, sizeof(*l));
  l->fd = fd;
  *out = l;
  return 0;
}

void dblock_release(struct dblock *l) {
  if (l == NULL)
    return;
  close(l->fd); /* closing the last descriptor releases the flock */
  free(l);
}
