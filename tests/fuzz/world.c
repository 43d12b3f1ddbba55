/* world.c: the server the protocol harnesses run in (see fake.h).
 *
 * One loop context per process (struct loop): a configuration with two
 * backends and routes, learned rules for a few pages of a.example (so
 * requests can get 103s and pushes), the pushed-resource validators, and
 * the fake pool. Each input sets a few options (limits, delivery mode,
 * backend behaviour) and runs one client connection to its end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "config/config.h"
#include "learner/learn.h"
#include "learner/obs.h"
#include "learner/ruleset.h"
#include "proxy/hints.h"
#include "proxy/pushed.h"
#include "proxy/loop.h"
#include "proxy/upstream.h"
#include "tests/fuzz/fake.h"

static struct loop *lp;
static struct config cfg;
static uv_loop_t *loop;
/* herald's loop always has referenced handles (listeners, signals); the
 * world's needs one too, or uv_run returns at once without running the
 * unreferenced timers upstream.c relies on. */
static uv_timer_t keep_alive;

static void on_keep_alive(uv_timer_t *t) { (void)t; }

struct loop *world_loop(void) { return lp; }
struct config *world_config(void) { return &cfg; }
struct pool *world_pool(void) { return lp->pool; }

static struct learn_rule rule(const char *key, uint32_t channels, int dest) {
  struct learn_rule r;
  memset(&r, 0, sizeof(r));
  snprintf(r.key, sizeof(r.key), "%s", key);
  r.channels = channels;
  r.state = LEARN_LEARNED;
  r.dest = (uint8_t)dest;
  r.bytes = 1000;
  return r;
}

static struct ruleset *build_rules(void) {
  struct ruleset_builder *b = ruleset_builder_new();
  static const char *const schemes[] = {"http", "https"};
  for (int s = 0; s < 2; s++) {
    char k[5][128];
    snprintf(k[0], sizeof(k[0]), "%s://a.example/s.css", schemes[s]);
    snprintf(k[1], sizeof(k[1]), "%s://a.example/app.js", schemes[s]);
    snprintf(k[2], sizeof(k[2]), "%s://a.example/f.woff2", schemes[s]);
    snprintf(k[3], sizeof(k[3]), "%s://a.example/i.png", schemes[s]);
    snprintf(k[4], sizeof(k[4]), "%s://a.example/api/d.json", schemes[s]);
    struct learn_rule r[5] = {
        rule(k[0], LEARN_PUSH | LEARN_HINT, OBS_DEST_STYLE),
        rule(k[1], LEARN_PUSH | LEARN_HINT, OBS_DEST_SCRIPT),
        rule(k[2], LEARN_HINT, OBS_DEST_FONT),
        rule(k[3], LEARN_HINT, OBS_DEST_IMAGE),
        rule(k[4], LEARN_PUSH, OBS_DEST_FETCH),
    };
    char page[128];
    for (int mobile = 0; mobile < 2; mobile++) {
      snprintf(page, sizeof(page), "%s://a.example/", schemes[s]);
      ruleset_builder_add(b, page, mobile, r, 5);
      snprintf(page, sizeof(page), "%s://a.example/product/*", schemes[s]);
      ruleset_builder_add(b, page, mobile, r + 1, 3);
      /* A section's rules serve its pages never seen. */
      snprintf(page, sizeof(page), "%s://a.example/docs/**", schemes[s]);
      ruleset_builder_add(b, page, mobile, r, 2);
      /* Hints only (nothing the learner would push). */
      snprintf(page, sizeof(page), "%s://a.example/hintonly", schemes[s]);
      ruleset_builder_add(b, page, mobile, r + 2, 2);
      snprintf(page, sizeof(page), "%s://a.example/off", schemes[s]);
      ruleset_builder_add(b, page, mobile, r, 2);
    }
  }
  /* The operator turned delivery off live for the route of /off. */
  ruleset_builder_set_mode(b, "r3", CONFIG_DELIVER_OFF);
  return ruleset_build(b);
}

static void add_backend(const char *name, const char *host) {
  struct config_backend *be = &cfg.backends[cfg.nbackends++];
  snprintf(be->name, sizeof(be->name), "%s", name);
  snprintf(be->servers[0].host, sizeof(be->servers[0].host), "%s", host);
  be->servers[0].port = 80;
  be->nservers = 1;
}

static void add_route(const char *host, const char *prefix, int backend,
                      const char *backend_name, int deliver) {
  struct config_route *r = &cfg.routes[cfg.nroutes++];
  snprintf(r->name, sizeof(r->name), "r%d", cfg.nroutes);
  snprintf(r->host, sizeof(r->host), "%s", host);
  snprintf(r->prefix, sizeof(r->prefix), "%s", prefix);
  snprintf(r->backend_name, sizeof(r->backend_name), "%s", backend_name);
  r->backend = backend;
  r->deliver = deliver;
}

void world_init(void) {
  if (loop != NULL)
    return;
  /* Quiet unless FUZZ_LOG is set: a campaign runs millions of inputs and
   * herald logs every rejected request. */
  log_level = getenv("FUZZ_LOG") ? LOG_LEVEL_DEBUG : -1;
  loop = uv_default_loop();
  uv_timer_init(loop, &keep_alive);
  uv_timer_start(&keep_alive, on_keep_alive, 1000000000, 1000000000);
  config_defaults(&cfg);
  add_backend("web", "192.0.2.80");
  add_backend("api", "192.0.2.81");
  add_route("", "/api/", 1, "api", -1);
  add_route("b.example", "/", 1, "api", CONFIG_DELIVER_PUSH);
  add_route("", "/off", 0, "web", -1); /* r3: off live (build_rules) */
  cfg.deliver_hints_http1 = 1;
  cfg.deliver_holdout = 0;
  lp = loop_new(loop, NULL);
  lp->cfg = &cfg;
  lp->pool = fake_pool_new(lp, &cfg);
  lp->rules = build_rules();
  lp->hint_keys = xmalloc(sizeof(*lp->hint_keys));
  hints_keys_init(lp->hint_keys, "/product/*", "", cfg.record_sections);
  lp->rng = 0x9e3779b97f4a7c15ull;
}

void world_opts_parse(struct world_opts *o, const uint8_t *p) {
  memset(o, 0, sizeof(*o));
  o->kind = (enum fake_backend_kind)((p[0] & 15) % FB_KINDS);
  o->slice = (p[0] >> 4) == 0 ? 0 : (size_t)1 << ((p[0] >> 4) - 1);
  o->tls = p[1] & 1;
  o->eof = (p[1] >> 1) & 1;
  o->timeout = (p[1] >> 2) & 1;
  o->small_limits = (p[1] >> 3) & 1;
  static const int modes[] = {CONFIG_DELIVER_HINTS, CONFIG_DELIVER_BOTH,
                              CONFIG_DELIVER_PUSH, CONFIG_DELIVER_SHADOW};
  o->deliver = modes[(p[1] >> 4) & 3];
  o->connect_status = (p[1] >> 6) & 1 ? UV_ECONNREFUSED : 0;
  o->get_fail = (p[1] >> 7) & 1;
  o->chunk = p[2] == 0 ? 0 : p[2] < 128 ? p[2] : (size_t)(p[2] - 127) * 128;
}

void world_apply(const struct world_opts *o) {
  struct config d;
  config_defaults(&d);
  cfg.deliver_mode = o->deliver;
  if (o->small_limits) {
    cfg.write_buffer = 4096;
    cfg.max_request_body = 1024;
    cfg.max_requests_per_conn = 3;
    cfg.max_concurrent_streams = 4;
    cfg.max_header_list_size = 2048;
    cfg.max_header_fields = 20;
  } else {
    cfg.write_buffer = d.write_buffer;
    cfg.max_request_body = d.max_request_body;
    cfg.max_requests_per_conn = d.max_requests_per_conn;
    cfg.max_concurrent_streams = d.max_concurrent_streams;
    cfg.max_header_list_size = d.max_header_list_size;
    cfg.max_header_fields = d.max_header_fields;
  }
  fake_pool_set_connect_status(lp->pool, o->connect_status);
  fake_pool_set_get_fail(lp->pool, o->get_fail);
}

int world_turn(struct conn *c, const struct world_opts *o) {
  int any = fake_conn_turn(c);
  any |= fake_backend_step(lp->pool, o->kind, o->slice);
  uv_run(loop, UV_RUN_NOWAIT);
  any |= fake_conn_turn(c);
  return any;
}

static void settle(struct conn *c, const struct world_opts *o) {
  for (int i = 0; i < 64 && world_turn(c, o); i++)
    ;
}

void world_settle(void) {
  for (int i = 0; i < 8; i++)
    uv_run(loop, UV_RUN_NOWAIT);
}

void world_run(const struct world_opts *o, const struct session_ops *ops,
               void *(*session_new)(struct conn *c), const uint8_t *data,
               size_t n, fake_conn_sink sink, void *sink_ud) {
  world_apply(o);
  struct conn *c = fake_conn_new(lp, o->tls, ops, session_new, sink,
                                 sink_ud);
  world_turn(c, o);
  size_t off = 0;
  while (off < n && !fake_conn_closed(c)) {
    for (int i = 0; i < 8 && fake_conn_read_paused(c); i++)
      world_turn(c, o);
    if (fake_conn_read_paused(c))
      break; /* the client cannot send more until something times out */
    size_t k = o->chunk == 0 || o->chunk > n - off ? n - off : o->chunk;
    fake_conn_feed(c, data + off, k);
    off += k;
    world_turn(c, o);
  }
  settle(c, o);
  if (o->eof) {
    fake_conn_eof(c);
    settle(c, o);
  }
  if (o->timeout) {
    fake_backend_timeout(lp->pool);
    settle(c, o);
    fake_conn_fire_timeout(c);
    settle(c, o);
  }
  fake_conn_free(c);
  world_settle();
  if (getenv("FUZZ_LOG") != NULL)
    fprintf(stderr, "world: %llu requests, %llu hints, %llu pushes, "
            "%llu backend errors\n", (unsigned long long)lp->stats.requests,
            (unsigned long long)lp->stats.hints_sent,
            (unsigned long long)lp->stats.pushes_promised,
            (unsigned long long)lp->stats.backend_errors);
  if (fake_backend_busy(lp->pool) != 0)
    fuzz_fail("%d backend connections still owned after the client "
              "connection was freed", fake_backend_busy(lp->pool));
  if (lp->upstream_stats.active != 0)
    fuzz_fail("%lld upstream exchanges alive after the client connection "
              "was freed", (long long)lp->upstream_stats.active);
  if (lp->stats.h2_streams_active != 0)
    fuzz_fail("h2_streams_active is %lld after the connection was freed",
              (long long)lp->stats.h2_streams_active);
  fake_pool_close_idle(lp->pool);
  world_settle();
}

void world_fuzz(const uint8_t *data, size_t size, const char *prefix,
                const struct session_ops *ops,
                void *(*session_new)(struct conn *c), fake_conn_sink sink,
                void *sink_ud) {
  if (size < WORLD_OPT_BYTES)
    return;
  world_init();
  struct world_opts o;
  world_opts_parse(&o, data);
  size_t plen = strlen(prefix), n = size - WORLD_OPT_BYTES;
  uint8_t *in = xmalloc(plen + n + 1);
  memcpy(in, prefix, plen);
  memcpy(in + plen, data + WORLD_OPT_BYTES, n);
  world_run(&o, ops, session_new, in, plen + n, sink, sink_ud);
  free(in);
}
