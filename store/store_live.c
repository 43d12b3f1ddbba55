/* store_live.c: reads the JSON of a running herald's GET /rules (see
 * proxy/admin_rules.c) for `heraldctl rules --live`, with SQLite's JSON1
 * functions like the import does: no parser of our own. Nothing here
 * reads or writes a table. */
#include <string.h>
#include <uv.h>

#include "store/store.h"
#include "store/store_int.h"

int store_live_rules(struct store *s, const char *doc, struct store_live *head,
                     store_live_cb cb, void *ud) {
  sqlite3_stmt *st;
  int rv = store_prepare(s,
                         "SELECT json_valid(?1), json_extract(?1, '$.gen'),"
                         " json_extract(?1, '$.truncated'),"
                         " json_type(?1, '$.keys')",
                         &st, "reading /rules");
  if (rv != 0)
    return rv;
  sqlite3_bind_text(st, 1, doc, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  int ok = rc == SQLITE_ROW && sqlite3_column_int(st, 0) == 1 &&
           sqlite3_column_type(st, 3) != SQLITE_NULL &&
           strcmp(store_text(st, 3), "array") == 0;
  if (ok) {
    head->gen = sqlite3_column_int64(st, 1);
    head->truncated = sqlite3_column_int(st, 2);
  }
  rv = store_done(s, st, rc == SQLITE_ROW ? SQLITE_DONE : rc, "reading /rules");
  if (rv != 0)
    return rv;
  if (!ok) {
    store_seterr(s, "not herald's /rules document");
    return UV_EINVAL;
  }
  rv = store_prepare(s,
                     "SELECT json_extract(k.value, '$.key'),"
                     " json_extract(k.value, '$.class'),"
                     " json_extract(r.value, '$.resource'),"
                     " json_extract(r.value, '$.channel')"
                     " FROM json_each(?1, '$.keys') k"
                     " LEFT JOIN json_each(k.value, '$.rules') r"
                     " ORDER BY k.key, r.key",
                     &st, "reading /rules");
  if (rv != 0)
    return rv;
  sqlite3_bind_text(st, 1, doc, -1, SQLITE_STATIC);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *key = store_text(st, 0), *cls = store_text(st, 1);
    int null_res = sqlite3_column_type(st, 2) == SQLITE_NULL;
    cb(ud, key, strcmp(cls, "mobile") == 0, null_res ? NULL : store_text(st, 2),
       null_res ? NULL : store_text(st, 3));
  }
  return store_done(s, st, rc, "reading /rules");
}
