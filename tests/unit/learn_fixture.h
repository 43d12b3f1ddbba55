/* learn_fixture.h: made-up visits and the rules they give, for the
 * learner's unit tests (test_learn.c, test_learn_evidence.c). Visits are
 * fed to learn_visit as attribution would emit them; a seeded generator
 * makes every run see the same ones. Included by one test file each, so
 * the state is that file's. */
#ifndef TESTS_UNIT_LEARN_FIXTURE_H
#define TESTS_UNIT_LEARN_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "learner/learn.h"

#define NEVER 1000000 /* "did not happen" for visit counts */
#define MAXREQ 512
#define MAXRULES 8192
#define DAY_MS (25ull * 3600 * 1000) /* past a client's cache memory */

static struct visit vis;
static struct visit_req reqs[MAXREQ];
static struct learn_rule rules[MAXRULES];
static size_t nrules;

/* xorshift64: a fixed seed makes every run see the same visits. */
static uint64_t rng_state;

static inline void rng_seed(uint64_t s) { rng_state = s ? s : 1; }

static inline double rng_unit(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) / 9007199254740992.0;
}

static uint64_t clock_ms = 1700000000000ull;

/* begin_at starts a visit of |page| (template |tmpl|, NULL for none) by
 * client number |client|, |gap_ms| after the last one. */
static inline void begin_at(const char *page, const char *tmpl, int mobile,
                            unsigned client, uint64_t gap_ms) {
  memset(&vis, 0, sizeof(vis));
  clock_ms += gap_ms;
  vis.start_ms = clock_ms;
  snprintf(vis.page_key, sizeof(vis.page_key), "%s", page);
  if (tmpl != NULL)
    snprintf(vis.template_key, sizeof(vis.template_key), "%s", tmpl);
  vis.mobile = mobile;
  /* Tokens differ in a middle byte only, as made-up tokens may. Each
   * client here is on a network of its own. */
  vis.client_token[7] = (uint8_t)client;
  vis.client_token[8] = (uint8_t)(client >> 8);
  vis.network[7] = (uint8_t)client;
  vis.network[8] = (uint8_t)(client >> 8);
  vis.reqs = reqs;
  vis.nreqs = 0;
}

/* begin: visits are a day apart unless a case says otherwise, so no
 * client's earlier fetches count as its cache (learn.h, EVIDENCE). */
static inline void begin(const char *page, const char *tmpl, int mobile,
                         unsigned client) {
  begin_at(page, tmpl, mobile, client, DAY_MS);
}

/* req_full adds a request: a pushable script by default, 200. */
static inline struct visit_req *req_full(const char *key, uint32_t delay,
                                         uint64_t bytes, uint8_t depth,
                                         uint32_t flags) {
  assert_true(vis.nreqs < MAXREQ);
  struct visit_req *r = &reqs[vis.nreqs++];
  memset(r, 0, sizeof(*r));
  snprintf(r->key, sizeof(r->key), "%s", key);
  strcpy(r->method, "GET");
  r->status = 200;
  r->dest = OBS_DEST_SCRIPT;
  r->urgency = VISIT_URGENCY_NONE;
  r->depth = depth;
  r->parent = -1;
  r->flags = flags;
  r->delay_ms = delay;
  r->bytes = bytes;
  return r;
}

static inline void req(const char *key, uint32_t delay) {
  req_full(key, delay, 1000, 1, VISIT_REQ_PUSHABLE);
}

/* get_rules computes the rules of |key| into rules[]. Whatever else
 * holds, served rules come first with ord 0, 1, ..., then near misses
 * with ord -1. */
static inline size_t get_rules(struct learn *l, const char *key, int mobile,
                               const struct learn_params *p,
                               const struct learn_overrides *ov) {
  nrules = learn_rules(l, key, mobile, p, ov, rules, MAXRULES);
  int served = 1;
  for (size_t i = 0; i < nrules; i++) {
    if (rules[i].channels == 0) {
      served = 0;
      assert_int_equal(rules[i].ord, -1);
    } else {
      assert_true(served);
      assert_int_equal(rules[i].ord, (int)i);
    }
  }
  return nrules;
}

static inline const struct learn_rule *find(const char *key) {
  for (size_t i = 0; i < nrules; i++)
    if (strcmp(rules[i].key, key) == 0)
      return &rules[i];
  return NULL;
}

/* channels_of is the channels of |key| in the last get_rules, 0 when not
 * listed. */
static inline uint32_t channels_of(const char *key) {
  const struct learn_rule *r = find(key);
  return r ? r->channels : 0;
}

static inline size_t served(void) {
  size_t n = 0;
  while (n < nrules && rules[n].channels != 0)
    n++;
  return n;
}

static inline struct learn_params params(void) {
  struct learn_params p;
  learn_params_defaults(&p);
  return p;
}

#endif
