/* store.h: herald's SQLite database: schema, migrations, queries.
 *
 * Only the recorder/learner thread (and heraldctl) ever open a store; the
 * loop thread never calls into this module. The database runs in WAL mode
 * with synchronous=NORMAL: a killed process loses at most the transaction
 * in progress and the file always passes integrity_check. Statements are
 * prepared once at open. Errors are negative UV_E* codes:
 *   UV_ENOENT  the directory does not exist
 *   UV_EACCES  permission denied / read-only database (UV_EROFS too)
 *   UV_EBUSY   locked by another process past the busy timeout
 *   UV_EIO     corrupt, not a herald database, or another SQLite error
 * with a one-line explanation from store_errmsg. */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct visit;

#define STORE_SCHEMA_VERSION 1

/* store_open opens or creates the database at |path|, runs forward
 * migrations up to STORE_SCHEMA_VERSION and a quick_check. On error it
 * returns a negative UV_E* code, sets |*out| to NULL and writes one line
 * naming the path and the cause into |err|. */
int store_open(struct store **out, const char *path, char *err,
               size_t errlen);
void store_close(struct store *s); /* NULL is a no-op */

/* store_errmsg describes the last failure of |s|. */
const char *store_errmsg(const struct store *s);

/* store_begin / store_commit wrap a batch in one transaction;
 * store_rollback abandons it. */
int store_begin(struct store *s);
int store_commit(struct store *s);
void store_rollback(struct store *s);

/* store_add_visit records one finished visit: its page and template rows
 * (created on first sight, last_seen and visit counts updated), its
 * resources, the visit row and one row per attributed request. Call inside
 * a transaction (outside one it makes its own); after an error, roll the
 * transaction back. |v| is only read during the call. */
int store_add_visit(struct store *s, const struct visit *v);

/* store_trim_visits deletes the oldest visits (and their requests) beyond
 * the newest |retain| by start time. A negative |retain| is UV_EINVAL. */
int store_trim_visits(struct store *s, int64_t retain);

/* store_count runs "SELECT count(*) FROM |table|" (tests and heraldctl).
 * Returns the count or a negative UV_E* code; a name that is not one of
 * the schema's tables is UV_EINVAL. */
int64_t store_count(struct store *s, const char *table);

#endif
