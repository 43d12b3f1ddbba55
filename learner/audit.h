/* audit.h: the operator's changes, logged when herald applies them.
 *
 * Every change heraldctl makes reaches a running herald through the
 * database: settings (threshold, min-visits, budget, max-resources,
 * mode, and import's), overrides (pin, block, unpin, import's) and the
 * rows heraldctl writes under scope AUDIT_SCOPE to say that `learn` or
 * `import` ran. The learner reads them all at every recompute check; an
 * audit keeps the last reading and logs, at info level, every row that
 * appeared, changed or went away since: what, old and new value, scope.
 * The first reading (at start) is the baseline and logs nothing.
 *
 * Owned by the learner's thread; not thread-safe. */
#ifndef LEARNER_AUDIT_H
#define LEARNER_AUDIT_H

#include <stddef.h>

/* settings(scope, name, value) rows heraldctl writes for a `learn` or an
 * `import` ("learn", "import"), the value a sentence saying what it did;
 * they carry no parameter. */
#define AUDIT_SCOPE "heraldctl"

struct audit;

/* audit_value_cb writes the value of setting |name| in force for |scope|
 * before the change (|after| 0) or after it (1) into |out|, for a row
 * that is new or gone: its other side is whatever the configuration or a
 * wider scope gives. */
typedef void (*audit_value_cb)(void *ud, const char *scope, const char *name,
                               int after, char *out, size_t cap);

struct audit *audit_new(void);
void audit_free(struct audit *a); /* NULL is a no-op */

/* A reading: audit_setting and audit_override add the rows, then
 * audit_commit logs the differences with the previous reading and keeps
 * this one. */
void audit_setting(struct audit *a, const char *scope, const char *name,
                   const char *value);
void audit_override(struct audit *a, const char *scope, const char *resource,
                    const char *action);
/* Returns how many changes were logged. audit_discard drops a reading
 * that could not be completed (a busy database), keeping the previous. */
size_t audit_commit(struct audit *a, audit_value_cb value, void *ud);
void audit_discard(struct audit *a);

#endif
