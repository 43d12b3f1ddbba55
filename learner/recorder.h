/* recorder.h: the bridge from the loop thread to the store thread.
 *
 * The loop posts fixed-size observations (learner/obs.h) with
 * recorder_post: one memcpy into the filling half of a double buffer under
 * a mutex that the recorder holds only to swap the halves (O(1)). A full
 * half drops the observation and counts it; the loop never waits on
 * recording work. The recorder thread owns the SQLite connection: it drains
 * the ring in batches, turns client address + User-Agent into a keyed
 * client token (telling visits apart) and the address's network into a
 * keyed network token (counting distinct clients); the key is random,
 * kept only in memory and replaced every UTC day, so tokens count without
 * identifying anyone,
 * runs attribution, and writes finished visits in one transaction per
 * batch. A database that cannot be opened or fails later is reported in
 * one log line and recording stops; proxying goes on. */
#ifndef LEARNER_RECORDER_H
#define LEARNER_RECORDER_H

#include <stdint.h>

#include "learner/attribution.h"
#include "learner/learner.h"
#include "learner/obs.h"

struct recorder;

struct recorder_config {
  const char *db_path;
  struct attrib_config attrib; /* keys.patterns ignored: see templates */
  const char *templates;       /* comma-separated patterns, or "" */
  int64_t retain_visits;
  uint32_t queue_cap;   /* observations per half of the double buffer */
  uint32_t flush_ms;    /* batch interval */
  int ipv4_prefix;      /* a network counted as one client: IPv4 /24 */
  int ipv6_prefix;      /* and IPv6 /48 (0: those defaults) */
  struct learner_config learner; /* the learner runs on this thread */
};

struct recorder_stats {
  uint64_t posted;      /* accepted into the ring */
  uint64_t dropped;     /* queue full */
  uint64_t visits;      /* visits written */
  uint64_t requests;    /* attributed requests written */
  uint64_t write_errors;
  uint32_t queue_depth;
  int enabled;          /* 0 once the database failed */
  /* The learner's, published after every recompute (atomics, so the loop
   * reads them without a lock). */
  uint64_t learner_cycles;
  uint64_t learner_last_cycle_us;
  uint64_t learner_rules, learner_pages; /* in its last snapshot */
};

/* recorder_start copies |cfg| (strings included) and starts the thread;
 * the database is opened there, never on the caller's thread. Returns 0 or
 * a negative UV_E* code. */
int recorder_start(struct recorder **out, const struct recorder_config *cfg);

/* recorder_wait_ready waits until the thread has opened the database and
 * published the stored rules (or given up on the database), at most
 * |timeout_ms|. Returns 0 when ready, -1 on timeout. Called once at start,
 * before the loop serves, so a restarted herald pushes from its first
 * request. */
int recorder_wait_ready(struct recorder *r, uint32_t timeout_ms);

/* recorder_post copies |o| into the queue. Returns 0, or -1 when it was
 * dropped (queue full, or recording off). Any thread: every worker loop
 * posts. */
int recorder_post(struct recorder *r, const struct obs *o);

/* recorder_enabled: cheap check before building an observation. */
int recorder_enabled(const struct recorder *r);

void recorder_stats(struct recorder *r, struct recorder_stats *out);

/* recorder_set_learner hands new learner settings (a reload) to the
 * recorder thread: |lc| is copied and swapped in through an atomic
 * pointer, and the thread applies its params, interval, recompute_after
 * and routes before its next tick (half_life and publish are ignored: they
 * need a restart). The next recompute then rewrites every page's rules.
 * Any thread; NULL |r| is a no-op. */
void recorder_set_learner(struct recorder *r, const struct learner_config *lc);

/* recorder_stop writes what is queued and finished, then joins the
 * thread and frees |r|. NULL is a no-op. */
void recorder_stop(struct recorder *r);

#endif
