/* store.c: herald's SQLite database.
 *
 * One connection per store, used by one thread (hence SQLITE_OPEN_NOMUTEX).
 * Opening sets the pragmas that make a SIGKILL harmless (WAL with
 * synchronous=NORMAL loses at most the open transaction), runs quick_check,
 * brings the schema up to STORE_SCHEMA_VERSION and prepares every statement
 * once, so the recorder's hot path only binds and steps. All SQL is
 * constant text; values always travel through sqlite3_bind_*. SQLITE_*
 * codes become UV_E* codes here and nowhere else. */
#include "store/store.h"
#include "store/store_int.h"

#include <errno.h>
#include <libgen.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "base/util.h"

/* Long enough for a competing heraldctl write to finish, short enough that
 * a stuck lock is reported while someone is still watching. */
#define BUSY_TIMEOUT_MS 2000
/* A checkpoint truncates the WAL back to this size (16 MiB), so one burst
 * of writes does not leave a large -wal file behind for good. */
#define JOURNAL_SIZE_LIMIT 16777216

#define STR_(x) #x
#define STR(x) STR_(x)

/* schema.c: migrations[i] takes a database from version i to i + 1. */
extern const char *const store_migrations[STORE_SCHEMA_VERSION];

/* store_count's allowlist: the caller's name is never pasted into SQL, it
 * only selects one of these prepared statements. */
#define COUNT(t) {t, "SELECT count(*) FROM " t}
static const struct {
  const char *table, *sql;
} counts[] = {
    COUNT("pages"),          COUNT("resources"),  COUNT("visits"),
    COUNT("visit_requests"), COUNT("aggregates"), COUNT("aggregate_clients"),
    COUNT("rules"),          COUNT("settings"),   COUNT("overrides"),
    COUNT("push_outcomes"),  COUNT("visit_named"),  COUNT("visit_declared"),
};

enum stmt_id {
  ST_BEGIN,
  ST_COMMIT,
  ST_ROLLBACK,
  ST_UPSERT_PAGE,
  ST_UPSERT_RESOURCE,
  ST_INSERT_VISIT,
  ST_INSERT_REQ,
  ST_TRIM,
  ST_ADD_OUTCOME,
  ST_INSERT_NAMED,
  ST_INSERT_DECLARED,
  ST_RULES0, /* store_rules.c's statements, RST_MAX of them */
  ST_COUNT0 = ST_RULES0 + RST_MAX, /* one per counts entry */
  ST_MAX = ST_COUNT0 + ARRAY_SIZE(counts),
};

static const char *const stmt_sql[ST_RULES0] = {
    /* IMMEDIATE takes the write lock now, while the busy handler can still
     * wait for it; a deferred BEGIN upgrading later could fail at once. */
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    /* The first sight fixes is_template and first_seen. */
    [ST_UPSERT_PAGE] =
        "INSERT INTO pages(key, is_template, first_seen, last_seen, visits)"
        " VALUES(?1, ?2, ?3, ?3, 1)"
        " ON CONFLICT(key) DO UPDATE SET"
        " last_seen = max(last_seen, excluded.last_seen),"
        " visits = visits + 1"
        " RETURNING id",
    /* A 304 or an empty content type says nothing about the resource, so
     * NULLs keep what an earlier full response told us. */
    [ST_UPSERT_RESOURCE] =
        "INSERT INTO resources(key, content_type, dest, bytes, first_seen,"
        " last_seen) VALUES(?1, ?2, ?3, ?4, ?5, ?5)"
        " ON CONFLICT(key) DO UPDATE SET"
        " content_type = coalesce(excluded.content_type, content_type),"
        " dest = coalesce(excluded.dest, dest),"
        " bytes = coalesce(excluded.bytes, bytes),"
        " last_seen = max(last_seen, excluded.last_seen)"
        " RETURNING id",
    [ST_INSERT_VISIT] =
        "INSERT INTO visits(page_id, template_id, class, client_token,"
        " started_at, load_ms, bytes, holdout, delivery, network, exact_urls)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1)",
    [ST_INSERT_REQ] =
        "INSERT INTO visit_requests(visit_id, seq, resource_id, method,"
        " status, bytes, content_type, dest, delay_ms, depth, parent_seq,"
        " pushable, already_had, pushed, hinted, delivered, urgency)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
        " ?14, ?15, ?16, ?17)",
    /* Named resources come from rules, so their rows exist. */
    [ST_INSERT_NAMED] =
        "INSERT INTO visit_named(visit_id, resource_id, channel)"
        " SELECT ?1, id, ?3 FROM resources WHERE key = ?2"
        " ON CONFLICT(visit_id, resource_id) DO NOTHING",
    [ST_INSERT_DECLARED] =
        "INSERT INTO visit_declared(visit_id, resource_id, dest, source)"
        " VALUES(?1, ?2, ?3, ?4)"
        " ON CONFLICT(visit_id, resource_id) DO NOTHING",
    /* Requests go with their visit through ON DELETE CASCADE. */
    [ST_ADD_OUTCOME] =
        "INSERT INTO push_outcomes(page_id, class, resource_id, promised,"
        " completed, cancelled, wasted, hinted, hinted_used, pushed_bytes,"
        " updated_at)"
        " SELECT p.id, ?3, r.id, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11"
        " FROM pages p JOIN resources r WHERE p.key = ?1 AND r.key = ?2"
        " ON CONFLICT(page_id, class, resource_id) DO UPDATE SET"
        " promised = promised + excluded.promised,"
        " completed = completed + excluded.completed,"
        " cancelled = cancelled + excluded.cancelled,"
        " wasted = wasted + excluded.wasted,"
        " hinted = hinted + excluded.hinted,"
        " hinted_used = hinted_used + excluded.hinted_used,"
        " pushed_bytes = pushed_bytes + excluded.pushed_bytes,"
        " updated_at = excluded.updated_at",
    [ST_TRIM] = "DELETE FROM visits WHERE id IN (SELECT id FROM visits"
                " ORDER BY started_at DESC, id DESC LIMIT -1 OFFSET ?1)",
};

struct store {
  sqlite3 *db;
  char *path;
  sqlite3_stmt *st[ST_MAX];
  char err[512];
};

/* The primary result code's name, for messages an operator can search. */
static const char *code_name(int rc) {
  switch (rc & 0xff) {
  case SQLITE_ERROR: return "SQLITE_ERROR";
  case SQLITE_PERM: return "SQLITE_PERM";
  case SQLITE_BUSY: return "SQLITE_BUSY";
  case SQLITE_LOCKED: return "SQLITE_LOCKED";
  case SQLITE_NOMEM: return "SQLITE_NOMEM";
  case SQLITE_READONLY: return "SQLITE_READONLY";
  case SQLITE_IOERR: return "SQLITE_IOERR";
  case SQLITE_CORRUPT: return "SQLITE_CORRUPT";
  case SQLITE_FULL: return "SQLITE_FULL";
  case SQLITE_CANTOPEN: return "SQLITE_CANTOPEN";
  case SQLITE_CONSTRAINT: return "SQLITE_CONSTRAINT";
  case SQLITE_NOTADB: return "SQLITE_NOTADB";
  default: return "SQLITE_?";
  }
}

/* uv_code is the one place SQLite's codes become libuv's. For open
 * failures the OS errno tells a permission problem from a missing file. */
static int uv_code(sqlite3 *db, int rc) {
  int sys = db != NULL ? sqlite3_system_errno(db) : 0;
  switch (rc & 0xff) {
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    return UV_EBUSY;
  case SQLITE_PERM:
  case SQLITE_AUTH:
    return UV_EACCES;
  case SQLITE_READONLY:
    return sys == EROFS ? UV_EROFS : UV_EACCES;
  case SQLITE_CANTOPEN:
    if (sys == EACCES || sys == EPERM)
      return UV_EACCES;
    if (sys == EROFS)
      return UV_EROFS;
    if (sys == ENOENT)
      return UV_ENOENT;
    return UV_EIO;
  case SQLITE_FULL:
    return UV_ENOSPC;
  case SQLITE_NOMEM:
    return UV_ENOMEM;
  default:
    return UV_EIO; /* CORRUPT, NOTADB, IOERR and the rest */
  }
}

static void vseterr(struct store *s, const char *fmt, va_list ap) {
  int n = snprintf(s->err, sizeof(s->err), "store %s: ", s->path);
  if (n < 0 || (size_t)n >= sizeof(s->err))
    return;
  vsnprintf(s->err + n, sizeof(s->err) - (size_t)n, fmt, ap);
}

static void seterr(struct store *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vseterr(s, fmt, ap);
  va_end(ap);
}

/* sqlerr records |rc| from step |what| (NULL while opening, where the
 * step would only be noise) and returns its UV_E* code. */
static int sqlerr(struct store *s, int rc, const char *what) {
  const char *why;
  switch (rc & 0xff) {
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    why = "database is locked by another process";
    break;
  case SQLITE_NOTADB:
    why = "file is not a database or is corrupt";
    break;
  case SQLITE_CORRUPT:
    why = "database is corrupt";
    break;
  case SQLITE_READONLY:
    why = "database is read-only (permissions?)";
    break;
  case SQLITE_CANTOPEN:
    why = sqlite3_system_errno(s->db) != 0
              ? strerror(sqlite3_system_errno(s->db))
              : "cannot open the file";
    break;
  default:
    why = sqlite3_errmsg(s->db);
  }
  if (what != NULL)
    seterr(s, "%s: %s (%s)", what, why, code_name(rc));
  else
    seterr(s, "%s (%s)", why, code_name(rc));
  return uv_code(s->db, rc);
}

/* step runs a statement that returns no rows and resets it. Bindings are
 * cleared too: they may point into a visit that is about to go away. */
static int step(struct store *s, sqlite3_stmt *st, const char *what) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW)
    return sqlerr(s, rc, what);
  return 0;
}

/* step_id runs an upsert ... RETURNING id and stores the id. */
static int step_id(struct store *s, sqlite3_stmt *st, const char *what,
                   int64_t *id) {
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *id = sqlite3_column_int64(st, 0);
    rc = sqlite3_step(st); /* finishes the statement */
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (rc != SQLITE_DONE)
    return sqlerr(s, rc, what);
  return 0;
}

/* query_text runs a one-off statement and copies the first column of its
 * first row (a pragma's answer) into |out|. */
static int query_text(struct store *s, const char *sql, char *out,
                      size_t cap) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
  if (rc != SQLITE_OK)
    return sqlerr(s, rc, NULL);
  out[0] = '\0';
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    const unsigned char *t = sqlite3_column_text(st, 0);
    snprintf(out, cap, "%s", t != NULL ? (const char *)t : "");
    rc = SQLITE_DONE;
  }
  if (rc != SQLITE_DONE) {
    int e = sqlerr(s, rc, NULL);
    sqlite3_finalize(st);
    return e;
  }
  sqlite3_finalize(st);
  return 0;
}

static int query_int(struct store *s, const char *sql, int64_t *out) {
  char buf[32];
  int rv = query_text(s, sql, buf, sizeof buf);
  if (rv == 0)
    *out = strtoll(buf, NULL, 10);
  return rv;
}

static int exec(struct store *s, const char *sql, const char *what) {
  int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
  return rc == SQLITE_OK ? 0 : sqlerr(s, rc, what);
}

/* check_dir names a missing or unwritable directory plainly; SQLite would
 * only say "unable to open database file", with the errno of its last
 * fallback attempt. */
static int check_dir(struct store *s) {
  char *copy = xstrdup(s->path);
  const char *dir = dirname(copy);
  struct stat sb;
  int rv = 0;
  if (s->path[0] == '\0') {
    rv = UV_EINVAL;
    seterr(s, "no database path given");
  } else if (stat(dir, &sb) != 0) {
    int e = errno;
    rv = uv_translate_sys_error(e);
    if (e == ENOENT || e == ENOTDIR)
      seterr(s, "directory %s does not exist", dir);
    else
      seterr(s, "directory %s: %s", dir, strerror(e));
  } else if (!S_ISDIR(sb.st_mode)) {
    rv = UV_ENOTDIR;
    seterr(s, "%s is not a directory", dir);
  } else if (stat(s->path, &sb) != 0 && errno == ENOENT &&
             access(dir, W_OK | X_OK) != 0) {
    int e = errno;
    rv = uv_translate_sys_error(e);
    seterr(s, "cannot create the database in %s: %s", dir, strerror(e));
  }
  free(copy);
  return rv;
}

/* read_version returns 0 for an empty file, the stored version for a
 * herald database, and an error for anything else. */
static int read_version(struct store *s, int64_t *version) {
  int64_t has, objects;
  int rv = query_int(s,
                     "SELECT count(*) FROM sqlite_schema"
                     " WHERE type = 'table' AND name = 'schema_version'",
                     &has);
  if (rv != 0)
    return rv;
  if (!has) {
    rv = query_int(s, "SELECT count(*) FROM sqlite_schema", &objects);
    if (rv != 0)
      return rv;
    if (objects > 0) {
      seterr(s, "not a herald database (no schema_version table)");
      return UV_EIO;
    }
    *version = 0;
    return 0;
  }
  int64_t rows;
  rv = query_int(s, "SELECT count(*) FROM schema_version", &rows);
  if (rv == 0 && rows != 1) {
    seterr(s, "not a herald database (schema_version has %lld rows)",
           (long long)rows);
    return UV_EIO;
  }
  if (rv == 0)
    rv = query_int(s, "SELECT version FROM schema_version", version);
  return rv;
}

/* migrate brings the schema to STORE_SCHEMA_VERSION. The version is read
 * again under the write lock so two processes opening a fresh file at once
 * do not both create the schema. */
static int migrate(struct store *s) {
  int64_t v;
  int rv = read_version(s, &v);
  if (rv == 0 && v < STORE_SCHEMA_VERSION) {
    rv = exec(s, "BEGIN IMMEDIATE", NULL);
    if (rv != 0)
      return rv;
    rv = read_version(s, &v);
    for (; rv == 0 && v >= 0 && v < STORE_SCHEMA_VERSION; v++)
      rv = exec(s, store_migrations[v], "migrate");
    if (rv == 0)
      rv = exec(s, "COMMIT", NULL);
    if (rv != 0) {
      sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
      return rv;
    }
  }
  if (rv != 0)
    return rv;
  if (v > STORE_SCHEMA_VERSION) {
    seterr(s, "was written by a newer herald (schema version %lld, this one"
           " knows %d)", (long long)v, STORE_SCHEMA_VERSION);
    return UV_EIO;
  }
  if (v < 0) {
    seterr(s, "not a herald database (schema version %lld)", (long long)v);
    return UV_EIO;
  }
  return 0;
}

/* configure sets the pragmas and checks the file before anything relies
 * on it. Order matters: busy_timeout first so every later step waits for
 * a lock instead of failing at once. */
static int configure(struct store *s) {
  char buf[64];
  int rv;
  if (sqlite3_db_readonly(s->db, "main") == 1) {
    int e = access(s->path, W_OK) != 0 ? errno : EACCES;
    seterr(s, "database is read-only (%s)", strerror(e));
    return e == EROFS ? UV_EROFS : UV_EACCES;
  }
  sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
  rv = query_text(s, "PRAGMA journal_mode=WAL", buf, sizeof buf);
  if (rv != 0)
    return rv;
  if (strcmp(buf, "wal") != 0) {
    seterr(s, "cannot switch to WAL (journal_mode is %s)", buf);
    return UV_EIO;
  }
  /* foreign_keys is what makes deleting a visit delete its requests. */
  rv = exec(s,
            "PRAGMA synchronous=NORMAL;"
            "PRAGMA foreign_keys=ON;"
            "PRAGMA journal_size_limit=" STR(JOURNAL_SIZE_LIMIT) ";",
            NULL);
  if (rv != 0)
    return rv;
  rv = query_text(s, "PRAGMA quick_check", buf, sizeof buf);
  if (rv != 0)
    return rv;
  if (strcmp(buf, "ok") != 0) {
    seterr(s, "database is corrupt (quick_check: %s)", buf);
    return UV_EIO;
  }
  return 0;
}

static int prepare_all(struct store *s) {
  for (size_t i = 0; i < ST_MAX; i++) {
    const char *text = i < ST_RULES0   ? stmt_sql[i]
                       : i < ST_COUNT0 ? store_rst_sql[i - ST_RULES0]
                                       : counts[i - ST_COUNT0].sql;
    int rc = sqlite3_prepare_v3(s->db, text, -1, SQLITE_PREPARE_PERSISTENT,
                                &s->st[i], NULL);
    if (rc != SQLITE_OK)
      return sqlerr(s, rc, "prepare");
  }
  return 0;
}

int store_open(struct store **out, const char *path, char *err,
               size_t errlen) {
  struct store *s = xcalloc(1, sizeof(*s));
  int rc, rv;
  s->path = xstrdup(path);
  *out = NULL;
  rv = check_dir(s);
  if (rv != 0)
    goto fail;
  rc = sqlite3_open_v2(path, &s->db,
                       SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                           SQLITE_OPEN_NOMUTEX,
                       NULL);
  if (rc != SQLITE_OK) {
    if (s->db == NULL) {
      seterr(s, "out of memory");
      rv = UV_ENOMEM;
      goto fail;
    }
    rv = sqlerr(s, rc, NULL);
    goto fail;
  }
  sqlite3_extended_result_codes(s->db, 1);
  rv = configure(s);
  if (rv == 0)
    rv = migrate(s);
  if (rv == 0)
    rv = prepare_all(s);
  if (rv != 0)
    goto fail;
  s->err[0] = '\0';
  *out = s;
  return 0;
fail:
  if (err != NULL && errlen > 0)
    snprintf(err, errlen, "%s", s->err);
  store_close(s);
  return rv;
}

void store_close(struct store *s) {
  if (s == NULL)
    return;
  for (size_t i = 0; i < ST_MAX; i++)
    sqlite3_finalize(s->st[i]);
  /* close_v2 never fails on a busy connection; the last checkpoint happens
   * here and removes the -wal file when no one else has it open. */
  sqlite3_close_v2(s->db);
  free(s->path);
  free(s);
}

const char *store_errmsg(const struct store *s) {
  return s->err;
}

void store_busy_timeout(struct store *s, int ms) {
  sqlite3_busy_timeout(s->db, ms);
}

int store_begin_read(struct store *s) {
  return exec(s, "BEGIN", "begin");
}

void store_end_read(struct store *s) {
  /* A read transaction has nothing to lose: errors are ignored. */
  sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
}

int store_begin(struct store *s) {
  return step(s, s->st[ST_BEGIN], "begin");
}

int store_commit(struct store *s) {
  return step(s, s->st[ST_COMMIT], "commit");
}

void store_rollback(struct store *s) {
  /* SQLite may already have rolled back (a full disk, an I/O error); a
   * second ROLLBACK would only fail, so skip it. Errors are ignored: the
   * failure worth reporting is the one that led here. */
  if (s == NULL || sqlite3_get_autocommit(s->db))
    return;
  sqlite3_step(s->st[ST_ROLLBACK]);
  sqlite3_reset(s->st[ST_ROLLBACK]);
}

static int upsert_page(struct store *s, const char *key, int is_template,
                       int64_t now, int64_t *id) {
  sqlite3_stmt *st = s->st[ST_UPSERT_PAGE];
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, is_template);
  sqlite3_bind_int64(st, 3, now);
  return step_id(s, st, "add visit: page", id);
}

static int upsert_resource(struct store *s, const struct visit_req *r,
                           int64_t now, int64_t *id) {
  sqlite3_stmt *st = s->st[ST_UPSERT_RESOURCE];
  sqlite3_bind_text(st, 1, r->key, -1, SQLITE_STATIC);
  /* Only a full answer describes the resource; unbound means NULL. */
  if (r->status == 200) {
    if (r->content_type[0] != '\0')
      sqlite3_bind_text(st, 2, r->content_type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (int64_t)r->bytes);
  }
  if (r->dest != OBS_DEST_NONE)
    sqlite3_bind_int(st, 3, r->dest);
  sqlite3_bind_int64(st, 5, now);
  return step_id(s, st, "add visit: resource", id);
}

static int insert_req(struct store *s, int64_t visit_id, size_t seq,
                      const struct visit_req *r, int64_t resource_id) {
  sqlite3_stmt *st = s->st[ST_INSERT_REQ];
  sqlite3_bind_int64(st, 1, visit_id);
  sqlite3_bind_int64(st, 2, (int64_t)seq);
  sqlite3_bind_int64(st, 3, resource_id);
  sqlite3_bind_text(st, 4, r->method, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 5, r->status);
  sqlite3_bind_int64(st, 6, (int64_t)r->bytes);
  if (r->content_type[0] != '\0')
    sqlite3_bind_text(st, 7, r->content_type, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 8, r->dest);
  sqlite3_bind_int64(st, 9, r->delay_ms);
  sqlite3_bind_int(st, 10, r->depth);
  if (r->parent >= 0)
    sqlite3_bind_int(st, 11, r->parent);
  sqlite3_bind_int(st, 12, !!(r->flags & VISIT_REQ_PUSHABLE));
  sqlite3_bind_int(st, 13, !!(r->flags & VISIT_REQ_ALREADY_HAD));
  sqlite3_bind_int(st, 14, !!(r->flags & VISIT_REQ_PUSHED));
  sqlite3_bind_int(st, 15, !!(r->flags & VISIT_REQ_HINTED));
  sqlite3_bind_int(st, 16, !!(r->flags & VISIT_REQ_DELIVERED));
  if (r->urgency != VISIT_URGENCY_NONE)
    sqlite3_bind_int(st, 17, r->urgency);
  return step(s, st, "add visit: request");
}

/* insert_declared writes one declared resource of visit |visit_id|, and
 * the resource's row (with the declared destination) if it has none. */
static int insert_declared(struct store *s, int64_t visit_id,
                           const struct visit_declared *d, int64_t now) {
  sqlite3_stmt *st = store_rst(s, RST_RESOURCE);
  int64_t resource_id;
  sqlite3_bind_text(st, 1, d->key, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, d->dest);
  sqlite3_bind_null(st, 3);
  sqlite3_bind_int64(st, 4, now);
  int rv = step_id(s, st, "add visit: declared resource", &resource_id);
  if (rv != 0)
    return rv;
  static const char *const source[] = {"link", "link", "103", "both"};
  st = s->st[ST_INSERT_DECLARED];
  sqlite3_bind_int64(st, 1, visit_id);
  sqlite3_bind_int64(st, 2, resource_id);
  sqlite3_bind_int(st, 3, d->dest);
  sqlite3_bind_text(st, 4,
                    source[d->flags & (VISIT_DECL_LINK | VISIT_DECL_EARLY)],
                    -1, SQLITE_STATIC);
  return step(s, st, "add visit: declared");
}

static int add_visit(struct store *s, const struct visit *v) {
  int64_t now = (int64_t)v->start_ms, page_id, template_id, visit_id;
  int rv = upsert_page(s, v->page_key, 0, now, &page_id);
  if (rv != 0)
    return rv;
  /* A page with nothing to fold is its own template: one row, not two. */
  template_id = page_id;
  if (strcmp(v->template_key, v->page_key) != 0) {
    rv = upsert_page(s, v->template_key, 1, now, &template_id);
    if (rv != 0)
      return rv;
  }
  sqlite3_stmt *st = s->st[ST_INSERT_VISIT];
  sqlite3_bind_int64(st, 1, page_id);
  sqlite3_bind_int64(st, 2, template_id);
  sqlite3_bind_text(st, 3, v->mobile ? "mobile" : "desktop", -1,
                    SQLITE_STATIC);
  sqlite3_bind_blob(st, 4, v->client_token, sizeof(v->client_token),
                    SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, now);
  sqlite3_bind_int64(st, 6, (int64_t)v->load_ms);
  sqlite3_bind_int64(st, 7, (int64_t)v->bytes);
  static const char *const delivery[] = {"none", "hints", "push", "holdout"};
  sqlite3_bind_int(st, 8, v->delivery == VISIT_HOLDOUT);
  sqlite3_bind_text(st, 9, delivery[v->delivery < 4 ? v->delivery : 0], -1,
                    SQLITE_STATIC);
  sqlite3_bind_blob(st, 10, v->network, sizeof(v->network), SQLITE_STATIC);
  rv = step(s, st, "add visit");
  if (rv != 0)
    return rv;
  visit_id = sqlite3_last_insert_rowid(s->db);
  for (size_t i = 0; i < v->nreqs; i++) {
    const struct visit_req *r = &v->reqs[i];
    int64_t resource_id;
    if (r->parent >= (int)i) {
      /* Attribution only names a parent it attributed earlier. */
      seterr(s, "add visit: request %zu names parent %d", i, r->parent);
      return UV_EINVAL;
    }
    rv = upsert_resource(s, r, now + r->delay_ms, &resource_id);
    if (rv == 0)
      rv = insert_req(s, visit_id, i, r, resource_id);
    if (rv != 0)
      return rv;
  }
  /* Declared before named: a declaration herald's 103 forwarded is
   * named too, and may be a resource never requested. */
  for (size_t i = 0; rv == 0 && i < v->ndeclared; i++)
    rv = insert_declared(s, visit_id, &v->declared[i], now);
  if (rv != 0)
    return rv;
  for (size_t i = 0; i < v->nnamed; i++) {
    st = s->st[ST_INSERT_NAMED];
    sqlite3_bind_int64(st, 1, visit_id);
    sqlite3_bind_text(st, 2, v->named[i].key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3,
                      v->named[i].channel == VISIT_NAMED_PUSH ? "push"
                                                              : "hint",
                      -1, SQLITE_STATIC);
    rv = step(s, st, "add visit: named");
    if (rv != 0)
      return rv;
  }
  return 0;
}

int store_add_visit(struct store *s, const struct visit *v) {
  /* Outside a batch, make one, so a visit is never half-written. */
  int own = sqlite3_get_autocommit(s->db);
  int rv = own ? store_begin(s) : 0;
  if (rv != 0)
    return rv;
  rv = add_visit(s, v);
  if (own) {
    if (rv == 0)
      rv = store_commit(s);
    if (rv != 0)
      store_rollback(s);
  }
  return rv;
}

int store_add_outcome(struct store *s, const char *page_key, int mobile,
                      const char *resource_key, const struct store_outcome *o,
                      int64_t now_ms) {
  sqlite3_stmt *st = s->st[ST_ADD_OUTCOME];
  sqlite3_bind_text(st, 1, page_key, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, resource_key, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, mobile ? "mobile" : "desktop", -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 4, o->promised);
  sqlite3_bind_int(st, 5, o->completed);
  sqlite3_bind_int(st, 6, o->cancelled);
  sqlite3_bind_int(st, 7, o->wasted);
  sqlite3_bind_int(st, 8, o->hinted);
  sqlite3_bind_int(st, 9, o->hinted_used);
  sqlite3_bind_int64(st, 10, (int64_t)o->pushed_bytes);
  sqlite3_bind_int64(st, 11, now_ms);
  return step(s, st, "add outcome");
}

int store_trim_visits(struct store *s, int64_t retain) {
  if (retain < 0) {
    seterr(s, "trim: negative retain %lld", (long long)retain);
    return UV_EINVAL;
  }
  sqlite3_bind_int64(s->st[ST_TRIM], 1, retain);
  return step(s, s->st[ST_TRIM], "trim visits");
}

int64_t store_count(struct store *s, const char *table) {
  for (size_t i = 0; i < ARRAY_SIZE(counts); i++) {
    if (strcmp(table, counts[i].table) != 0)
      continue;
    sqlite3_stmt *st = s->st[ST_COUNT0 + i];
    int64_t n = 0;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      n = sqlite3_column_int64(st, 0);
      rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
      return sqlerr(s, rc, "count");
    return n;
  }
  seterr(s, "count: unknown table %s", table);
  return UV_EINVAL;
}

/* ---- shared with store_rules.c (store_int.h) ---------------------------- */

sqlite3_stmt *store_rst(struct store *s, enum store_rst id) {
  return s->st[ST_RULES0 + id];
}

void store_seterr(struct store *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vseterr(s, fmt, ap);
  va_end(ap);
}

int store_sqlerr(struct store *s, int rc, const char *what) {
  return sqlerr(s, rc, what);
}

int store_step(struct store *s, sqlite3_stmt *st, const char *what) {
  return step(s, st, what);
}

int store_step_id(struct store *s, sqlite3_stmt *st, const char *what,
                  int64_t *id) {
  return step_id(s, st, what, id);
}

sqlite3 *store_db(struct store *s) { return s->db; }

int store_prepare(struct store *s, const char *sql, sqlite3_stmt **out,
                  const char *what) {
  int rc = sqlite3_prepare_v2(s->db, sql, -1, out, NULL);
  if (rc == SQLITE_OK)
    return 0;
  *out = NULL;
  return sqlerr(s, rc, what);
}

int store_done(struct store *s, sqlite3_stmt *st, int rc, const char *what) {
  /* The message is read before finalize may replace it. */
  int rv = rc == SQLITE_DONE ? 0 : sqlerr(s, rc, what);
  sqlite3_finalize(st);
  return rv;
}
