/* health.h: what every worker knows about a backend server.
 *
 * Each worker has its own backend pool (its own connections), but a
 * server one worker found down is down for all of them, and /metrics
 * counts its requests and errors once for the process. One entry per
 * (backend name, "host:port") lives in a table shared by every loop of
 * the process (struct loop_shared) and by the old and new pools of a
 * reload, so a reload keeps both the counts and the down state. Entries
 * live as long as the table: a server removed by a reload keeps its
 * small entry until exit (the table is bounded by the servers ever
 * configured).
 *
 * health_get takes a mutex (pool_new only, off the loop); the entries'
 * fields are atomics that any loop thread reads and writes. */
#ifndef PROXY_HEALTH_H
#define PROXY_HEALTH_H

#include <stdatomic.h>
#include <stdint.h>

struct health;

struct health_entry {
  atomic_uint_fast64_t down_until; /* ms; 0 when up, set until a success */
  atomic_uint_fast64_t backoff;    /* ms of the last down period */
  atomic_uint_fast64_t requests, errors; /* for /metrics */
  atomic_int_fast64_t conns; /* backend connections open (every worker) */
};

struct health *health_new(void);
void health_free(struct health *h); /* NULL is a no-op */

/* health_get returns the entry of |server| of |backend|, made (up, no
 * counts) the first time; never NULL; any thread. */
struct health_entry *health_get(struct health *h, const char *backend,
                                const char *server);

#endif
