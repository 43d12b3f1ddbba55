/* learnbench.c: how fast the learner digests recorded visits.
 *
 *   learnbench [--visits N] [--pages P] [--resources R] [--seed S]
 *              [--db PATH --db-visits M]
 *
 * Synthesises N visits spread over P pages (each page has R resources:
 * most requested on nearly every visit, some on about half, a few rarely,
 * over 20 client tokens and two classes), folds them into the learner,
 * recomputes every page's rules, and prints the time of each step and the
 * process's peak RSS. With --db it also writes M of those visits into a
 * herald database (for the proxy-side benchmark that measures request
 * latency while a herald starts up and replays them). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "learner/learn.h"
#include "store/store.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}
static double unit(void) { return (double)(rng() >> 11) / 9007199254740992.0; }

struct gen {
  int pages, resources;
  struct visit v;
  struct visit_req *reqs;
};

/* make_visit fills g->v with one synthetic visit number |i|. */
static void make_visit(struct gen *g, long i) {
  int page = (int)(rng() % (uint64_t)g->pages);
  struct visit *v = &g->v;
  snprintf(v->page_key, sizeof(v->page_key), "https://shop.example/p/%d",
           page);
  snprintf(v->template_key, sizeof(v->template_key), "%s", v->page_key);
  v->mobile = (rng() & 7) == 0;
  memset(v->client_token, 0, sizeof(v->client_token));
  v->client_token[0] = (uint8_t)(rng() % 20);
  memcpy(v->network, v->client_token, sizeof(v->network));
  v->start_ms = 1700000000000ull + (uint64_t)i * 10;
  v->load_ms = 800;
  v->bytes = 50000;
  v->nreqs = 0;
  for (int r = 0; r < g->resources; r++) {
    /* Resource r of a page: the first 60% almost always, the next 30%
     * about half the time, the rest rarely. */
    double p = r < g->resources * 6 / 10 ? 0.99
               : r < g->resources * 9 / 10 ? 0.5 : 0.05;
    if (unit() >= p)
      continue;
    struct visit_req *q = &g->reqs[v->nreqs++];
    memset(q, 0, sizeof(*q));
    snprintf(q->key, sizeof(q->key), "https://shop.example/s/%d/%d.js",
             page % 500, r);
    snprintf(q->method, sizeof(q->method), "GET");
    snprintf(q->content_type, sizeof(q->content_type),
             "application/javascript");
    q->status = 200;
    q->dest = OBS_DEST_SCRIPT;
    q->depth = 1;
    q->parent = -1;
    q->flags = VISIT_REQ_PUSHABLE;
    q->delay_ms = (uint32_t)(50 + r * 10);
    q->bytes = 4000 + (uint64_t)r * 100;
  }
  v->reqs = g->reqs;
}

struct count_ctx {
  struct learn *l;
  const struct learn_params *p;
  size_t pages, rules;
};

static void on_page(void *ud, uint32_t id, const char *key, int mobile,
                    int level, int64_t parent) {
  (void)id, (void)level, (void)parent;
  struct count_ctx *x = ud;
  struct learn_rule out[64];
  size_t n = learn_rules(x->l, key, mobile, x->p, NULL, out, 64);
  x->pages++;
  for (size_t i = 0; i < n; i++)
    x->rules += out[i].channels != 0;
}

int main(int argc, char **argv) {
  long visits = 1000000, db_visits = 0;
  int pages = 10000, resources = 20;
  const char *db = NULL;
  static const struct option opts[] = {
      {"visits", required_argument, NULL, 'v'},
      {"pages", required_argument, NULL, 'p'},
      {"resources", required_argument, NULL, 'r'},
      {"seed", required_argument, NULL, 's'},
      {"db", required_argument, NULL, 'd'},
      {"db-visits", required_argument, NULL, 'm'},
      {NULL, 0, NULL, 0},
  };
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'v': visits = atol(optarg); break;
    case 'p': pages = atoi(optarg); break;
    case 'r': resources = atoi(optarg); break;
    case 's': rng_state = strtoull(optarg, NULL, 10) | 1; break;
    case 'd': db = optarg; break;
    case 'm': db_visits = atol(optarg); break;
    default:
      fprintf(stderr, "usage: learnbench [--visits N] [--pages P] "
                      "[--resources R] [--seed S] [--db PATH --db-visits M]\n");
      return 2;
    }
  }
  if (visits < 1 || pages < 1 || resources < 1 || resources > 200) {
    fprintf(stderr, "learnbench: bad sizes\n");
    return 2;
  }
  struct gen g;
  memset(&g, 0, sizeof(g));
  g.pages = pages;
  g.resources = resources;
  g.reqs = calloc((size_t)resources, sizeof(struct visit_req));
  struct learn *l = learn_new(100, 1);
  struct learn_params p;
  learn_params_defaults(&p);

  double t0 = now_s();
  for (long i = 0; i < visits; i++) {
    make_visit(&g, i);
    learn_visit(l, &g.v);
  }
  double t1 = now_s();
  struct count_ctx x = {l, &p, 0, 0};
  learn_foreach_page(l, on_page, &x);
  double t2 = now_s();
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("learner: digested %ld visits over %d pages (%d resources each) in "
         "%.2f s (%.0f visits/s)\n", visits, pages, resources, t1 - t0,
         (double)visits / (t1 - t0));
  printf("learner: recomputed rules of %zu page/class pairs in %.2f s: %zu "
         "rules\n", x.pages, t2 - t1, x.rules);
  printf("learner: total %.2f s, peak RSS %.1f MB, learner memory %.1f MB\n",
         t2 - t0, (double)ru.ru_maxrss / 1024.0,
         (double)learn_memory(l) / 1048576.0);
  learn_free(l);

  if (db != NULL && db_visits > 0) {
    struct store *st;
    char err[512];
    if (store_open(&st, db, err, sizeof(err)) != 0) {
      fprintf(stderr, "learnbench: %s\n", err);
      return 1;
    }
    double t3 = now_s();
    for (long i = 0; i < db_visits; i += 1000) {
      store_begin(st);
      for (long k = i; k < i + 1000 && k < db_visits; k++) {
        make_visit(&g, k);
        if (store_add_visit(st, &g.v) != 0) {
          fprintf(stderr, "learnbench: %s\n", store_errmsg(st));
          return 1;
        }
      }
      if (store_commit(st) != 0) {
        fprintf(stderr, "learnbench: %s\n", store_errmsg(st));
        return 1;
      }
    }
    printf("store: wrote %ld visits into %s in %.2f s\n", db_visits, db,
           now_s() - t3);
    store_close(st);
  }
  free(g.reqs);
  return 0;
}
