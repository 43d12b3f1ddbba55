/* preflight.h: what `herald -t` checks beyond the configuration's syntax.
 *
 * A start fails on more than a bad key: a certificate that does not load
 * or does not match its key, a backend name that does not resolve, a
 * database whose directory is missing or read-only, a log file that
 * cannot be opened. preflight_check runs those steps the way the start
 * does (the same tls_ctx_new and pool_new), binding nothing, so a
 * configuration that passes -t starts. It does not take the database
 * lock: -t is what an operator runs next to the herald it is about to
 * reload. Blocking (files, resolver, fork): not on the loop thread. */
#ifndef PROXY_PREFLIGHT_H
#define PROXY_PREFLIGHT_H

#include <stddef.h>

struct config;
struct privs;

/* preflight_check returns 0, or -1 with the first problem in |err|,
 * naming the key and the file. */
int preflight_check(struct config *cfg, char *err, size_t errlen);

/* preflight_db checks that the database |db| ([store] db) can be used by
 * |p|'s user (NULL: by this process): its directory exists and is
 * writable (SQLite creates -wal and -shm files there), and the database
 * and those files, where they exist, are readable and writable. With
 * |create| it also creates a missing database file empty, owned by |p|'s
 * user (SQLite takes an empty file as a new database, and running as root
 * gives its -wal and -shm files the database file's owner). Returns 0 or
 * -1 with the reason in |err|. */
int preflight_db(const char *db, const struct privs *p, int create,
                 char *err, size_t errlen);

#endif
