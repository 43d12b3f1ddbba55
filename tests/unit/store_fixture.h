/* store_fixture.h: a fresh database for the store's unit tests
 * (test_store.c, test_store_rules.c, test_store_admin.c): each test gets
 * a directory under /tmp (setup_dir), with the store open in it (setup:
 * f->s), and a raw sqlite3 connection of its own checks or plants rows
 * from outside, the way an operator's sqlite3 shell would. */
#ifndef TESTS_UNIT_STORE_FIXTURE_H
#define TESTS_UNIT_STORE_FIXTURE_H

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "store/store.h"

struct fix {
  char dir[64];
  char db[256];
  char err[512];
  struct store *s;
};

static inline int setup_dir(void **state) {
  struct fix *f = xcalloc(1, sizeof(*f));
  snprintf(f->dir, sizeof f->dir, "/tmp/herald-store-XXXXXX");
  if (mkdtemp(f->dir) == NULL)
    return -1;
  snprintf(f->db, sizeof f->db, "%s/herald.db", f->dir);
  *state = f;
  return 0;
}

static inline int setup(void **state) {
  if (setup_dir(state) != 0)
    return -1;
  struct fix *f = *state;
  if (store_open(&f->s, f->db, f->err, sizeof f->err) != 0) {
    print_error("store_open: %s\n", f->err);
    return -1;
  }
  return 0;
}

static inline int teardown(void **state) {
  struct fix *f = *state;
  store_close(f->s);
  chmod(f->dir, 0700); /* the read-only case may have left it 0500 */
  DIR *d = opendir(f->dir);
  if (d != NULL) {
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
        continue;
      snprintf(p, sizeof p, "%s/%s", f->dir, e->d_name);
      unlink(p);
    }
    closedir(d);
  }
  rmdir(f->dir);
  free(f);
  return 0;
}

/* raw_text runs |sql| on its own connection and copies the first column
 * of the first row ("" for none) into a static buffer. */
static inline const char *raw_text(const char *path, const char *sql) {
  static char out[1024];
  sqlite3 *db;
  sqlite3_stmt *st;
  out[0] = '\0';
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL),
                   SQLITE_OK);
  sqlite3_busy_timeout(db, 2000);
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
    snprintf(out, sizeof out, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

/* raw_exec runs |sql| on its own connection, creating the file if need
 * be (a foreign database, an old schema). */
static inline void raw_exec(const char *path, const char *sql) {
  sqlite3 *db;
  assert_int_equal(sqlite3_open_v2(path, &db,
                                   SQLITE_OPEN_READWRITE |
                                       SQLITE_OPEN_CREATE,
                                   NULL),
                   SQLITE_OK);
  sqlite3_busy_timeout(db, 2000);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
}

#endif
