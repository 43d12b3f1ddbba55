/* recorder.c: see recorder.h.
 *
 * DESIGN. Two arrays of fixed-size records, one mutex, one condition
 * variable. The loop thread appends to the filling array under the mutex
 * (a memcpy). The recorder thread wakes every flush interval (or when the
 * filling array is half full), swaps the arrays under the mutex, and does
 * all the work (token hashing, attribution, SQLite) on the array it took,
 * holding nothing. */
#include "learner/recorder.h"

#include <errno.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "base/client.h"
#include "base/log.h"
#include "base/util.h"
#include "learner/learn.h"
#include "learner/ruleset.h"
#include "store/store.h"

#define TRIM_EVERY_MS 60000

struct recorder {
  struct recorder_config cfg;
  char *db_path;
  char *templates_buf;   /* owns the pattern strings of cfg.attrib.keys */
  char *keep_params;

  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct obs *fill;      /* the loop appends here; guarded by mu */
  uint32_t len;          /* records in |fill|; guarded by mu */
  struct obs *spare;     /* the recorder works on this one */
  int stop;              /* guarded by mu */
  int ready;             /* stored rules published (or no DB); guarded by mu */
  pthread_cond_t ready_cv;

  atomic_int enabled;
  atomic_uint_fast64_t posted, dropped, visits, requests, write_errors;
  atomic_uint queue_depth;
  atomic_uint_fast64_t l_cycles, l_cycle_us, l_rules, l_pages;
  struct learner_config *_Atomic pending_learner; /* from a reload */
  struct log_limit drop_log; /* every worker loop posts */

  /* recorder thread only */
  struct store *store;
  struct learner *learner;
  struct attrib *attrib;
  uint8_t key[32];
  int64_t key_day;
  /* Recent (address, User-Agent hash) → tokens, so a busy client costs
   * two HMACs per key change rather than per request. Cleared with the
   * key. */
  struct token_slot {
    uint8_t addr[16];
    uint64_t ua_hash;
    uint8_t token[16];
    uint8_t network[16];
    int used;
  } tokens[256];
  uint64_t busy_batches; /* batches lost to a lock since the last success */
};

static uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int recorder_enabled(const struct recorder *r) {
  return r != NULL && atomic_load_explicit(&r->enabled, memory_order_relaxed);
}

int recorder_post(struct recorder *r, const struct obs *o) {
  if (!recorder_enabled(r))
    return -1;
  pthread_mutex_lock(&r->mu);
  if (r->len == r->cfg.queue_cap) {
    pthread_mutex_unlock(&r->mu);
    uint64_t n = atomic_fetch_add(&r->dropped, 1) + 1;
    unsigned held;
    if (log_limit_pass(&r->drop_log, util_now_ms(), 10000, &held))
      LOG_WARN("recorder queue full (record.queue %u): %llu observations "
               "dropped so far", r->cfg.queue_cap, (unsigned long long)n);
    return -1;
  }
  memcpy(&r->fill[r->len], o, sizeof(*o));
  r->len++;
  if (r->len == r->cfg.queue_cap / 2)
    pthread_cond_signal(&r->cv);
  pthread_mutex_unlock(&r->mu);
  atomic_fetch_add_explicit(&r->posted, 1, memory_order_relaxed);
  return 0;
}

void recorder_stats(struct recorder *r, struct recorder_stats *out) {
  out->posted = atomic_load(&r->posted);
  out->dropped = atomic_load(&r->dropped);
  out->visits = atomic_load(&r->visits);
  out->requests = atomic_load(&r->requests);
  out->write_errors = atomic_load(&r->write_errors);
  out->queue_depth = atomic_load(&r->queue_depth);
  out->enabled = atomic_load(&r->enabled);
  out->learner_cycles = atomic_load(&r->l_cycles);
  out->learner_last_cycle_us = atomic_load(&r->l_cycle_us);
  out->learner_rules = atomic_load(&r->l_rules);
  out->learner_pages = atomic_load(&r->l_pages);
}

void recorder_set_learner(struct recorder *r,
                          const struct learner_config *lc) {
  if (r == NULL)
    return;
  struct learner_config *copy = xmalloc(sizeof(*copy));
  *copy = *lc;
  free(atomic_exchange(&r->pending_learner, copy));
}

/* publish_learner_stats copies the learner's counters where the loop
 * thread can read them. Recorder thread. */
static void publish_learner_stats(struct recorder *r) {
  struct learner_stats ls;
  if (r->learner == NULL)
    return;
  learner_stats(r->learner, &ls);
  atomic_store(&r->l_cycles, ls.cycles);
  atomic_store(&r->l_cycle_us, ls.last_cycle_us);
  atomic_store(&r->l_rules, (uint64_t)ls.rules);
  atomic_store(&r->l_pages, (uint64_t)ls.pages);
}

/* ---- recorder thread ---------------------------------------------------- */

/* The token key changes with the UTC day, so a token cannot follow a client
 * across days, and it never leaves memory. */
static void rotate_key(struct recorder *r, uint64_t now_ms) {
  int64_t day = (int64_t)(now_ms / 86400000);
  if (day == r->key_day)
    return;
  RAND_bytes(r->key, sizeof(r->key));
  r->key_day = day;
  memset(r->tokens, 0, sizeof(r->tokens));
}

/* tokenize fills the observation's two tokens and forgets its address.
 * The client token (address and User-Agent) tells one browser's visits
 * from another's behind the same address; the network token (the
 * address's network, base/client.h) is what counts as a distinct client,
 * since User-Agents and addresses within one network cost an attacker
 * nothing. The messages differ in length, so the two never collide. */
static void tokenize(struct recorder *r, struct obs *o) {
  uint64_t h = util_fnv1a(o->ua_hash, o->addr, sizeof(o->addr));
  struct token_slot *t = &r->tokens[h % ARRAY_SIZE(r->tokens)];
  if (!t->used || t->ua_hash != o->ua_hash ||
      memcmp(t->addr, o->addr, 16) != 0) {
    uint8_t msg[24], net[18], mac[32];
    unsigned maclen = 0;
    memcpy(msg, o->addr, 16);
    memcpy(msg + 16, &o->ua_hash, 8);
    HMAC(EVP_sha256(), r->key, sizeof(r->key), msg, sizeof(msg), mac,
         &maclen);
    memcpy(t->token, mac, sizeof(t->token));
    client_network(o->addr, r->cfg.ipv4_prefix, r->cfg.ipv6_prefix, net);
    net[16] = (uint8_t)r->cfg.ipv4_prefix;
    net[17] = (uint8_t)r->cfg.ipv6_prefix;
    HMAC(EVP_sha256(), r->key, sizeof(r->key), net, sizeof(net), mac,
         &maclen);
    memcpy(t->network, mac, sizeof(t->network));
    memcpy(t->addr, o->addr, 16);
    t->ua_hash = o->ua_hash;
    t->used = 1;
  }
  memcpy(o->client_token, t->token, sizeof(o->client_token));
  memcpy(o->network, t->network, sizeof(o->network));
  memset(o->addr, 0, sizeof(o->addr));
}

static void disable(struct recorder *r, const char *why) {
  LOG_ERR("recording off: %s (proxying continues)", why);
  atomic_store(&r->enabled, 0);
}

struct emit_ctx {
  struct recorder *r;
  int failed;
};

static struct visit_req *requested(struct visit *v, const char *key) {
  for (size_t i = 0; i < v->nreqs; i++) {
    if (!(v->reqs[i].flags & VISIT_REQ_DELIVERED) &&
        strcmp(v->reqs[i].key, key) == 0)
      return &v->reqs[i];
  }
  return NULL;
}

static int add_outcome(struct recorder *r, const struct visit *v,
                       const char *resource, const struct store_outcome *o) {
  int rv = store_add_outcome(r->store, v->page_key, v->mobile, resource, o,
                             (int64_t)v->start_ms);
  if (rv == 0 && strcmp(v->template_key, v->page_key) != 0)
    rv = store_add_outcome(r->store, v->template_key, v->mobile, resource, o,
                           (int64_t)v->start_ms);
  return rv;
}

/* outcomes settles what became of the visit's pushes and hints: a push
 * completed and not requested again was used; one reset, or requested
 * anyway (on any connection), was not. A hinted resource the visit then
 * requested was "used" (it may only have been the preload the 103
 * caused: the learner takes no evidence from it). The resources hinted
 * are the visit's named set. Marks the requests pushed/hinted. */
static int outcomes(struct recorder *r, struct visit *v) {
  int rv = 0;
  for (size_t i = 0; rv == 0 && i < v->npushes; i++) {
    const struct visit_push *p = &v->pushes[i];
    if (p->client_had)
      continue; /* not pushed this time */
    struct visit_req *q = requested(v, p->key);
    if (q != NULL)
      q->flags |= VISIT_REQ_PUSHED;
    struct store_outcome o = {.promised = 1,
                              .completed = p->completed,
                              .cancelled = !p->completed,
                              .wasted = q != NULL,
                              .pushed_bytes = p->bytes};
    rv = add_outcome(r, v, p->key, &o);
    if (r->learner != NULL)
      learner_outcome(r->learner, v, p->key, p->completed && q == NULL);
  }
  for (size_t i = 0; rv == 0 && i < v->nnamed; i++) {
    if (v->named[i].channel != VISIT_NAMED_HINT)
      continue;
    struct visit_req *q = requested(v, v->named[i].key);
    if (q != NULL)
      q->flags |= VISIT_REQ_HINTED;
    struct store_outcome o = {.hinted = 1, .hinted_used = q != NULL};
    rv = add_outcome(r, v, v->named[i].key, &o);
  }
  return rv;
}

static void on_visit(void *ud, struct visit *v) {
  struct emit_ctx *x = ud;
  if (x->failed)
    return;
  if (x->r->learner != NULL)
    learner_named(x->r->learner, v);
  if (outcomes(x->r, v) != 0 || store_add_visit(x->r->store, v) != 0) {
    x->failed = 1;
  } else {
    atomic_fetch_add(&x->r->visits, 1);
    atomic_fetch_add(&x->r->requests, v->nreqs);
    if (x->r->learner != NULL)
      learner_visit(x->r->learner, v);
  }
  free(v->named);
  v->named = NULL;
  v->nnamed = 0;
}

/* write_finished writes the visits whose window closed, in one
 * transaction. A busy database loses this batch (counted) and tries again
 * next time; any other error stops recording. */
static void write_finished(struct recorder *r, uint64_t now_ms, int all) {
  if (r->store == NULL)
    return;
  struct emit_ctx x = {r, 0};
  int rv = store_begin(r->store);
  if (rv == 0) {
    if (all)
      attrib_flush(r->attrib, on_visit, &x);
    else
      attrib_expire(r->attrib, now_ms, on_visit, &x);
    rv = x.failed ? -1 : store_commit(r->store);
  }
  if (rv == 0 && !x.failed) {
    if (r->busy_batches > 0)
      LOG_WARN("recording: database writable again (%llu batches lost to "
               "the lock)", (unsigned long long)r->busy_batches);
    r->busy_batches = 0;
    return;
  }
  atomic_fetch_add(&r->write_errors, 1);
  store_rollback(r->store);
  if (rv == UV_EBUSY) {
    /* One line per locked episode, not one per batch. */
    if (r->busy_batches++ == 0)
      LOG_WARN("recording: %s; batches are dropped until it is released",
               store_errmsg(r->store));
    return;
  }
  disable(r, store_errmsg(r->store));
  learner_free(r->learner);
  r->learner = NULL;
  store_close(r->store);
  r->store = NULL;
}

static void *run(void *arg) {
  struct recorder *r = arg;
  char err[512];
  /* Recording and learning may wait; requests may not. On a loaded core
   * the scheduler gives this thread about a tenth of the loop's share, so
   * a long recompute never shows up in request latency. (Linux applies
   * nice per thread.) */
  if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) != 0)
    LOG_DEBUG("recorder: cannot lower thread priority: %s", strerror(errno));
  int rv = store_open(&r->store, r->db_path, err, sizeof(err));
  if (rv != 0) {
    disable(r, err);
    r->store = NULL;
  } else {
    LOG_INFO("recording into %s", r->db_path);
    r->learner = learner_new(&r->cfg.learner, r->store);
    publish_learner_stats(r);
  }
  uint64_t last_trim = util_now_ms();
  pthread_mutex_lock(&r->mu);
  r->ready = 1;
  pthread_cond_broadcast(&r->ready_cv);
  for (;;) {
    if (r->len == 0 && !r->stop) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)r->cfg.flush_ms * 1000000;
      ts.tv_sec += (time_t)(ns / 1000000000);
      ts.tv_nsec = (long)(ns % 1000000000);
      pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    }
    struct obs *batch = r->fill;
    uint32_t n = r->len;
    r->fill = r->spare;
    r->len = 0;
    r->spare = batch;
    int stopping = r->stop;
    pthread_mutex_unlock(&r->mu);
    atomic_store(&r->queue_depth, n);

    uint64_t now = wall_ms();
    rotate_key(r, now);
    for (uint32_t i = 0; i < n; i++) {
      tokenize(r, &batch[i]);
      if (r->store != NULL)
        attrib_add(r->attrib, &batch[i]);
    }
    /* A request that started inside a visit's window may finish (and
     * reach us) up to a flush interval later: keep the window open that
     * much longer before writing. */
    write_finished(r, now - r->cfg.flush_ms, stopping);
    struct learner_config *lc = atomic_exchange(&r->pending_learner, NULL);
    if (lc != NULL && r->learner != NULL) {
      learner_set_config(r->learner, lc);
      LOG_INFO("learner: reloaded settings apply from this recompute");
    }
    free(lc);
    if (r->learner != NULL && learner_tick(r->learner, now, 0) != 0)
      atomic_fetch_add(&r->write_errors, 1);
    publish_learner_stats(r);
    if (r->store != NULL && r->cfg.retain_visits > 0 &&
        util_now_ms() - last_trim >= TRIM_EVERY_MS) {
      last_trim = util_now_ms();
      if (store_trim_visits(r->store, r->cfg.retain_visits) != 0)
        LOG_WARN("recording: trimming old visits: %s",
                 store_errmsg(r->store));
    }
    pthread_mutex_lock(&r->mu);
    if (stopping)
      break;
  }
  pthread_mutex_unlock(&r->mu);
  learner_free(r->learner);
  r->learner = NULL;
  store_close(r->store);
  r->store = NULL;
  return NULL;
}

static void recorder_free(struct recorder *r) {
  free(atomic_exchange(&r->pending_learner, NULL));
  attrib_free(r->attrib);
  pthread_mutex_destroy(&r->mu);
  pthread_cond_destroy(&r->cv);
  pthread_cond_destroy(&r->ready_cv);
  free(r->fill);
  free(r->spare);
  free(r->db_path);
  free(r->keep_params);
  free(r->templates_buf);
  free(r);
}

int recorder_start(struct recorder **out, const struct recorder_config *cfg) {
  struct recorder *r = xcalloc(1, sizeof(*r));
  r->cfg = *cfg;
  r->db_path = xstrdup(cfg->db_path);
  r->keep_params = xstrdup(cfg->attrib.keys.keep_params
                               ? cfg->attrib.keys.keep_params : "");
  r->cfg.attrib.keys.keep_params = r->keep_params;
  if (r->cfg.ipv4_prefix <= 0 || r->cfg.ipv4_prefix > 32)
    r->cfg.ipv4_prefix = 24;
  if (r->cfg.ipv6_prefix <= 0 || r->cfg.ipv6_prefix > 128)
    r->cfg.ipv6_prefix = 48;
  r->templates_buf = xstrdup(cfg->templates ? cfg->templates : "");
  r->cfg.templates = NULL;
  pagekey_split_patterns(&r->cfg.attrib.keys, r->templates_buf);
  /* Pages are touched only as records arrive, so an idle proxy does not
   * pay for the queue's full size in RSS. */
  r->fill = xmalloc((size_t)cfg->queue_cap * sizeof(*r->fill));
  r->spare = xmalloc((size_t)cfg->queue_cap * sizeof(*r->spare));
  r->attrib = attrib_new(&r->cfg.attrib);
  r->key_day = -1;
  pthread_mutex_init(&r->mu, NULL);
  pthread_cond_init(&r->cv, NULL);
  pthread_cond_init(&r->ready_cv, NULL);
  atomic_store(&r->enabled, 1);
  if (pthread_create(&r->thread, NULL, run, r) != 0) {
    int e = errno;
    recorder_free(r);
    return -e;
  }
  *out = r;
  return 0;
}

int recorder_wait_ready(struct recorder *r, uint32_t timeout_ms) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)timeout_ms * 1000000;
  ts.tv_sec += (time_t)(ns / 1000000000);
  ts.tv_nsec = (long)(ns % 1000000000);
  pthread_mutex_lock(&r->mu);
  int rv = 0;
  while (!r->ready && rv == 0)
    rv = pthread_cond_timedwait(&r->ready_cv, &r->mu, &ts);
  int ready = r->ready;
  pthread_mutex_unlock(&r->mu);
  return ready ? 0 : -1;
}

void recorder_stop(struct recorder *r) {
  if (r == NULL)
    return;
  pthread_mutex_lock(&r->mu);
  r->stop = 1;
  pthread_cond_signal(&r->cv);
  pthread_mutex_unlock(&r->mu);
  pthread_join(r->thread, NULL);
  LOG_INFO("recorder: %llu observations queued, %llu dropped (queue full), "
           "%llu visits and %llu requests written",
           (unsigned long long)atomic_load(&r->posted),
           (unsigned long long)atomic_load(&r->dropped),
           (unsigned long long)atomic_load(&r->visits),
           (unsigned long long)atomic_load(&r->requests));
  recorder_free(r);
}
