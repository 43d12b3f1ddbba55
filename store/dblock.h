/* dblock.h: one herald per database.
 *
 * Two heralds writing one database would each learn from half the
 * traffic and overwrite the other's rules. A herald therefore holds an
 * exclusive flock(2) on DB.lock, beside the database, for as long as it
 * runs; the file holds its pid so a second herald can say who has it.
 * The kernel drops the lock when the process ends, however it ends, so a
 * crash never leaves a stale lock, and the file itself is never removed
 * (removing it would let a third process lock a new file while a second
 * still holds the old one). heraldctl takes no lock: its reads and its
 * tuning writes are ordinary SQLite transactions, safe next to a running
 * herald. */
#ifndef STORE_DBLOCK_H
#define STORE_DBLOCK_H

#include <stddef.h>
#include <sys/types.h>

struct dblock;

/* dblock_acquire locks |db_path|.lock, creating it (owned by |owner| and
 * |group| when they are not -1, so a service user can take it on its next
 * start). Returns 0 with |*out| set; -EBUSY when another process holds it,
 * with "database FILE is in use by herald pid N (lock file FILE.lock)" in
 * |err|; or another negative errno with the reason in |err|. */
int dblock_acquire(const char *db_path, uid_t owner, gid_t group,
                   struct dblock **out, char *err, size_t errlen);

/* dblock_release unlocks and closes; NULL is a no-op. */
void dblock_release(struct dblock *l);

#endif
