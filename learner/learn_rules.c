/* learn_rules.c: from counts to the ordered, budgeted list a key serves
 * (DECISIONS and ORDER AND BUDGETS in learn.h).
 *
 * The learner recomputes every known key's list at every cycle, and the
 * lists of all pages of a site share the wider levels' decisions. So each
 * node keeps a cache of the entries that could decide "yes" at its level
 * (the only ones that can be served from it), rebuilt only when the node
 * changed or the parameters did: a page's list then costs its chain's
 * few candidates and a hash lookup per level for each, never a walk over
 * a site's thousands of rarely requested resources. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "learner/learn.h"
#include "learner/learn_int.h"

/* What one level says about one resource. */
struct view {
  double k, n, confidence, lower, upper, prior;
  int seen, pushable, superseded, suspended_hint, suspended_push, declared;
};

/* view_of: k and n include a declared resource's prior (learn.h). */
static void view_of(const struct learn *l, const struct page *p,
                    const struct entry *e, const struct learn_params *prm,
                    struct view *w) {
  uint32_t c = learn_clock(p, e);
  w->prior = learn_prior(l, e, c, prm->declared_prior);
  w->n = learn_decayed_n(l, c) + w->prior;
  w->k = learn_entry_k(l, e, c) + w->prior;
  w->confidence = w->n > 0 ? w->k / w->n : 0;
  if (w->confidence > 1)
    w->confidence = 1;
  w->lower = learn_wilson_lower(w->confidence, w->n, prm->z);
  w->upper = learn_wilson_upper(w->confidence, w->n, prm->z);
  w->seen = (e->flags & ENTRY_SEEN) != 0;
  w->pushable = (e->flags & ENTRY_PUSHABLE) != 0;
  w->superseded = (e->flags & ENTRY_SUPERSEDED) != 0;
  w->declared = (e->flags & ENTRY_DECLARED) != 0;
  w->suspended_hint = learn_suspended(l, p, e, prm->hint_threshold);
  w->suspended_push = learn_suspended(l, p, e, prm->push_threshold);
}

/* decide: 1 yes, 0 no, -1 undecided (see learn.h). A resource never
 * genuinely requested can only be served as a declared hint: whether its
 * response may be pushed is unknown. */
static int decide(const struct view *w, const struct entry *e,
                  const struct learn_params *prm, double threshold,
                  int suspended, int push) {
  if (!w->seen && (!w->declared || push))
    return w->n > 0 && w->upper < threshold ? 0 : -1;
  if (w->superseded || suspended || (w->seen && !w->pushable))
    return 0;
  if (w->lower >= threshold && w->n >= prm->min_visits &&
      e->nclients >= prm->min_clients)
    return 1;
  return w->upper < threshold ? 0 : -1;
}

static uint64_t params_hash(const struct learn_params *p) {
  double v[5] = {p->push_threshold, p->hint_threshold, p->z, p->min_visits,
                 p->declared_prior};
  uint64_t h = util_fnv1a(UTIL_FNV1A_INIT, v, sizeof(v));
  return util_fnv1a(h, &p->min_clients, sizeof(p->min_clients)) | 1;
}

/* candidates returns node |pi|'s entries that can decide "yes" for some
 * channel at its level, from the cache when it is current. */
static const uint32_t *candidates(struct learn *l, uint32_t pi,
                                  const struct learn_params *prm,
                                  uint32_t *n) {
  struct page *p = &l->pages[pi];
  uint64_t ph = params_hash(prm);
  if (p->cand_params != ph || p->cand_stamp != p->stamp) {
    double lo = prm->hint_threshold < prm->push_threshold
                    ? prm->hint_threshold
                    : prm->push_threshold;
    p->ncand = 0;
    for (uint32_t i = 0; i < p->nres; i++) {
      const struct entry *e = &p->ents[i];
      uint32_t f = e->flags & (ENTRY_SEEN | ENTRY_PUSHABLE |
                               ENTRY_SUPERSEDED | ENTRY_DECLARED);
      int requested = (f & ~ENTRY_DECLARED) == (ENTRY_SEEN | ENTRY_PUSHABLE);
      int declared_only = f == ENTRY_DECLARED;
      if (!(requested || declared_only) || e->nclients < prm->min_clients)
        continue;
      struct view w;
      view_of(l, p, e, prm, &w);
      if (w.lower < lo || w.n < prm->min_visits)
        continue;
      if (p->ncand == p->ccand) {
        uint32_t c = p->ccand ? p->ccand * 2 : 8;
        p->cand = learn_realloc(l, p->cand, (size_t)p->ccand * sizeof(uint32_t),
                                (size_t)c * sizeof(uint32_t));
        p->ccand = c;
      }
      p->cand[p->ncand++] = e->res;
    }
    p->cand_params = ph;
    p->cand_stamp = p->stamp;
  }
  *n = p->ncand;
  return p->cand;
}

/* A candidate rule before it is written out: the key is borrowed (an
 * interned string or the caller's override), so sorting moves a small
 * struct, not a PAGEKEY_MAX buffer. */
struct cand {
  const char *key;
  uint32_t res;
  struct view w;          /* at |level| */
  uint64_t bytes;
  uint32_t median, channels, used, unused;
  int clients;
  uint8_t depth, dest, urgency, rank, state, level, place;
};

/* The attributes serving order compares (learn.h, ORDER AND BUDGETS). */
struct order_key {
  uint8_t rank, place, depth;
  uint32_t median;
  const char *key;
};

/* order: rank, then place, then median delay, then depth, then key. */
static int order(struct order_key a, struct order_key b) {
  if (a.rank != b.rank)
    return a.rank < b.rank ? -1 : 1;
  if (a.place != b.place)
    return a.place < b.place ? -1 : 1;
  if (a.median != b.median)
    return a.median < b.median ? -1 : 1;
  if (a.depth != b.depth)
    return a.depth < b.depth ? -1 : 1;
  return strcmp(a.key, b.key);
}

static int cmp_served(const void *a, const void *b) {
  const struct cand *x = a, *y = b;
  return order((struct order_key){x->rank, x->place, x->depth, x->median,
                                  x->key},
               (struct order_key){y->rank, y->place, y->depth, y->median,
                                  y->key});
}

int learn_rule_order(const struct learn_rule *x, const struct learn_rule *y) {
  return order((struct order_key){x->rank, x->place, x->depth,
                                  x->median_delay_ms, x->key},
               (struct order_key){y->rank, y->place, y->depth,
                                  y->median_delay_ms, y->key});
}

/* to_front moves the candidates with a channel to the front of |c|
 * (order among them not kept) and returns how many there are. */
static size_t to_front(struct cand *c, size_t n) {
  size_t w = 0;
  for (size_t i = 0; i < n; i++) {
    if (c[i].channels != 0) {
      struct cand t = c[w];
      c[w++] = c[i];
      c[i] = t;
    }
  }
  return w;
}

static int cmp_missed(const void *a, const void *b) {
  const struct cand *x = a, *y = b;
  int xb = x->state == LEARN_BLOCKED, yb = y->state == LEARN_BLOCKED;
  if (xb != yb)
    return yb - xb;
  if (x->w.lower != y->w.lower)
    return x->w.lower > y->w.lower ? -1 : 1;
  return strcmp(x->key, y->key);
}

/* describe fills what a rule shows from entry |e| of |p|. */
static void describe(const struct learn *l, const struct page *p,
                     const struct entry *e, const struct learn_params *prm,
                     struct cand *c) {
  view_of(l, p, e, prm, &c->w);
  c->level = p->level;
  c->clients = e->nclients;
  c->used = e->used;
  c->unused = e->unused;
}

/* declared_attrs fills what a declaration says of a resource no level
 * saw requested: its destination (from as=). No size is known; by the
 * backend's word the page needs it at once. */
static void declared_attrs(const struct entry *e, struct cand *c) {
  c->bytes = 0;
  c->median = 0;
  c->depth = 1;
  c->dest = e->dest;
  c->urgency = VISIT_URGENCY_NONE;
  c->rank = learn_rank_of(e->dest, VISIT_URGENCY_NONE);
}

/* observed fills the resource's own attributes (size, type, delay) from
 * the most specific entry that saw a genuine request of it. (Its place
 * comes from the most specific entry that knows one: a page first
 * visited after its site's rules were served never learns its own.) */
static void observed(const struct entry *e, struct cand *c) {
  c->bytes = e->bytes;
  c->median = e->median;
  c->depth = e->depth;
  c->dest = e->dest;
  c->urgency = e->urgency;
  c->rank = learn_rank_of(e->dest, e->urgency);
}

/* walk decides resource |res| for the chain |nodes| into |c|. What the
 * rule shows (k, n, bounds, level) comes from the level that decided it:
 * the hint decision if it was yes, else a push yes, else whatever said
 * no, else the most specific level with an entry. */
static void walk(struct learn *l, const uint32_t *nodes, size_t nn,
                 uint32_t res, const struct learn_params *prm,
                 struct cand *c) {
  int hint = -1, push = -1, got_attrs = 0;
  int at_hint = -1, at_push = -1, first = -1;
  const struct entry *decl = NULL; /* a declaration, for attributes */
  memset(c, 0, sizeof(*c));
  c->key = learn_str(l, res);
  c->res = res;
  c->rank = LEARN_RANK_OTHER;
  c->urgency = VISIT_URGENCY_NONE;
  c->place = LEARN_PLACE_NONE;
  for (size_t j = 0; j < nn && (hint < 0 || push < 0 || !got_attrs ||
                                c->place == LEARN_PLACE_NONE);
       j++) {
    const struct page *p = &l->pages[nodes[j]];
    uint32_t ei = learn_entry_of(l, p, res);
    if (ei == NONE)
      continue;
    const struct entry *e = &p->ents[ei];
    struct view w;
    view_of(l, p, e, prm, &w);
    if (first < 0)
      first = (int)j;
    if (!got_attrs && w.seen) {
      observed(e, c);
      got_attrs = 1;
    }
    if (c->place == LEARN_PLACE_NONE)
      c->place = e->place;
    if (decl == NULL && w.declared)
      decl = e;
    if (hint < 0) {
      hint = decide(&w, e, prm, prm->hint_threshold, w.suspended_hint, 0);
      if (hint >= 0)
        at_hint = (int)j;
    }
    if (push < 0) {
      push = decide(&w, e, prm, prm->push_threshold, w.suspended_push, 1);
      /* Pushes that go mostly unused lose push; a hint costs only a
       * cache check. */
      if (push == 1 && e->used + e->unused >= DEMOTE_MIN_OUTCOMES &&
          (uint32_t)e->used * 2 < (uint32_t)e->used + e->unused)
        push = 0;
      if (push >= 0)
        at_push = (int)j;
    }
  }
  int at = hint == 1   ? at_hint
           : push == 1 ? at_push
           : hint == 0 ? at_hint
           : push == 0 ? at_push
                       : first;
  if (!got_attrs && decl != NULL)
    declared_attrs(decl, c);
  if (at >= 0) {
    const struct page *p = &l->pages[nodes[at]];
    describe(l, p, &p->ents[learn_entry_of(l, p, res)], prm, c);
  }
  if (push == 1)
    c->channels |= LEARN_PUSH | LEARN_HINT;
  if (hint == 1)
    c->channels |= LEARN_HINT;
  c->state = LEARN_LEARNED;
}

static int in_list(const char *const *keys, size_t n, const char *key) {
  for (size_t i = 0; i < n; i++)
    if (keys[i] != NULL && strcmp(keys[i], key) == 0)
      return 1;
  return 0;
}

/* budget applies one channel's byte budget and count cap in serving
 * order: pinned first, then each learned one that fits; one that does not
 * is skipped and the list goes on. */
static void budget(struct cand *c, size_t n, uint32_t channel,
                   uint64_t bytes_max, int count_max) {
  uint64_t bytes = 0;
  size_t count = 0, max = count_max > 0 ? (size_t)count_max : 0;
  for (size_t i = 0; i < n; i++) {
    if (c[i].state == LEARN_PINNED) {
      bytes += c[i].bytes;
      count++;
    }
  }
  for (size_t i = 0; i < n; i++) {
    if (c[i].state == LEARN_PINNED || !(c[i].channels & channel))
      continue;
    if (count < max && bytes + c[i].bytes <= bytes_max) {
      bytes += c[i].bytes;
      count++;
    } else {
      c[i].channels &= ~channel;
    }
  }
}

static void write_rule(const struct cand *c, int ord, struct learn_rule *r) {
  memset(r, 0, sizeof(*r));
  size_t n = strlen(c->key);
  memcpy(r->key, c->key, n + 1);
  r->dest = c->dest;
  r->depth = c->depth;
  r->state = c->state;
  r->level = c->level;
  r->rank = c->rank;
  r->urgency = c->urgency;
  r->channels = c->channels;
  r->ord = ord;
  r->k = c->w.k;
  r->n = c->w.n;
  r->confidence = c->w.confidence;
  r->wilson = c->w.lower;
  r->clients = c->clients;
  r->bytes = c->bytes;
  r->median_delay_ms = c->median;
  r->place = c->place;
  r->pushable = (uint8_t)c->w.pushable;
  r->superseded = (uint8_t)c->w.superseded;
  r->suspended = (uint8_t)(c->w.suspended_hint || c->w.suspended_push);
  r->declared = (uint8_t)c->w.declared;
  r->pushes_used = c->used;
  r->pushes_unused = c->unused;
}

/* add_override lists an override for a resource not among |c| yet. */
static void add_override(struct learn *l, struct cand *c, size_t *nc,
                         const char *key, uint8_t state,
                         const uint32_t *nodes, size_t nn) {
  if (key == NULL || strnlen(key, PAGEKEY_MAX) == PAGEKEY_MAX || !key[0])
    return;
  for (size_t i = 0; i < *nc; i++)
    if (strcmp(c[i].key, key) == 0)
      return;
  struct cand *x = &c[(*nc)++];
  memset(x, 0, sizeof(*x));
  x->key = key;
  x->res = NONE;
  x->state = state;
  x->rank = LEARN_RANK_OTHER;
  x->urgency = VISIT_URGENCY_NONE;
  /* What the chain knows of it, for its size and type. */
  uint32_t res = learn_lookup_str(l, key);
  const struct entry *decl = NULL;
  for (size_t j = 0; res != NONE && j < nn; j++) {
    const struct page *p = &l->pages[nodes[j]];
    uint32_t ei = learn_entry_of(l, p, res);
    if (ei != NONE && (p->ents[ei].flags & ENTRY_SEEN)) {
      observed(&p->ents[ei], x);
      x->level = p->level;
      return;
    }
    if (ei != NONE && decl == NULL && (p->ents[ei].flags & ENTRY_DECLARED))
      decl = &p->ents[ei];
  }
  if (decl != NULL)
    declared_attrs(decl, x);
}

size_t learn_rules(struct learn *l, const char *key, int mobile,
                   const struct learn_params *prm,
                   const struct learn_overrides *ov, struct learn_rule *out,
                   size_t cap) {
  uint32_t pi = learn_find_node(l, key, mobile);
  if (pi == NONE)
    return 0;
  uint32_t nodes[LEARN_LEVELS];
  size_t nn = 0;
  for (uint32_t x = pi; x != NONE && nn < LEARN_LEVELS;
       x = l->pages[x].parent)
    nodes[nn++] = x;
  const struct page *own = &l->pages[pi];
  size_t npin = ov ? ov->npinned : 0, nblock = ov ? ov->nblocked : 0;

  /* Room for every candidate of the chain, the own node's entries (near
   * misses) and the overrides. */
  size_t room = own->nres + npin + nblock + 1;
  for (size_t j = 0; j < nn; j++) {
    uint32_t n;
    candidates(l, nodes[j], prm, &n);
    room += n;
  }
  struct cand *c = xmalloc(room * sizeof(*c));
  size_t nc = 0;
  for (size_t j = 0; j < nn; j++) {
    uint32_t n;
    const uint32_t *ids = candidates(l, nodes[j], prm, &n);
    for (uint32_t i = 0; i < n; i++) {
      int dup = 0;
      for (size_t x = 0; x < nc && !dup; x++)
        dup = c[x].res == ids[i];
      if (!dup)
        walk(l, nodes, nn, ids[i], prm, &c[nc++]);
    }
  }
  /* Near misses: the own node's genuinely requested or declared
   * entries. */
  for (uint32_t i = 0; i < own->nres; i++) {
    const struct entry *e = &own->ents[i];
    if (!(e->flags & (ENTRY_SEEN | ENTRY_DECLARED)))
      continue;
    int dup = 0;
    for (size_t x = 0; x < nc && !dup; x++)
      dup = c[x].res == e->res;
    if (!dup)
      walk(l, nodes, nn, e->res, prm, &c[nc++]);
  }
  /* Overrides: blocked wins over pinned (the operator's safety valve). */
  for (size_t i = 0; i < nc; i++) {
    if (nblock && in_list(ov->blocked, nblock, c[i].key)) {
      c[i].state = LEARN_BLOCKED;
      c[i].channels = 0;
    } else if (npin && in_list(ov->pinned, npin, c[i].key)) {
      c[i].state = LEARN_PINNED;
      c[i].channels = LEARN_PUSH | LEARN_HINT;
    }
  }
  for (size_t i = 0; i < nblock; i++)
    add_override(l, c, &nc, ov->blocked[i], LEARN_BLOCKED, nodes, nn);
  for (size_t i = 0; i < npin; i++) {
    size_t before = nc;
    add_override(l, c, &nc, ov->pinned[i], LEARN_PINNED, nodes, nn);
    if (nc > before)
      c[before].channels = LEARN_PUSH | LEARN_HINT;
  }
  /* A resource that is not a safe path on the key's own origin is never
   * served, whatever its counts or a pin say (see pagekey_rule_ok). */
  for (size_t i = 0; i < nc; i++) {
    if (c[i].channels != 0 && !pagekey_rule_ok(key, c[i].key))
      c[i].channels = 0;
  }

  /* Served ones to the front, in serving order; then the budgets, and
   * what they cut behind what stays. */
  size_t ns = to_front(c, nc);
  qsort(c, ns, sizeof(*c), cmp_served);
  budget(c, ns, LEARN_HINT, prm->hint_budget, prm->hint_max);
  budget(c, ns, LEARN_PUSH, prm->push_budget, prm->push_max);
  size_t w = to_front(c, ns);
  qsort(c, w, sizeof(*c), cmp_served);
  qsort(c + w, nc - w, sizeof(*c), cmp_missed);

  size_t n = 0;
  for (size_t i = 0; i < nc && n < cap; i++, n++)
    write_rule(&c[i], i < w ? (int)i : -1, &out[n]);
  free(c);
  return n;
}

size_t learn_evidence(const struct learn *l, const char *key, int mobile,
                      const char *resource, const struct learn_params *prm,
                      struct learn_evidence *out, size_t cap) {
  uint32_t pi = learn_find_node(l, key, mobile);
  uint32_t res = resource != NULL ? learn_lookup_str(l, resource) : NONE;
  size_t n = 0;
  for (; pi != NONE && n < cap && n < LEARN_LEVELS; n++) {
    const struct page *p = &l->pages[pi];
    struct learn_evidence *o = &out[n];
    memset(o, 0, sizeof(*o));
    o->key = learn_str(l, p->key);
    o->level = p->level;
    o->visits = learn_decayed_n(l, p->v);
    o->hint = o->push = -1;
    uint32_t ei = res != NONE ? learn_entry_of(l, p, res) : NONE;
    if (ei != NONE) {
      const struct entry *e = &p->ents[ei];
      struct view w;
      view_of(l, p, e, prm, &w);
      o->has_entry = 1;
      o->k = w.k;
      o->n = w.n;
      o->lower = w.lower;
      o->upper = w.upper;
      o->clients = e->nclients;
      o->pushable = (uint8_t)w.pushable;
      o->seen = (uint8_t)w.seen;
      o->superseded = (uint8_t)w.superseded;
      o->suspended = (uint8_t)(w.suspended_hint || w.suspended_push);
      o->declared = (uint8_t)w.declared;
      o->prior = w.prior;
      o->hint = (int8_t)decide(&w, e, prm, prm->hint_threshold,
                               w.suspended_hint, 0);
      o->push = (int8_t)decide(&w, e, prm, prm->push_threshold,
                               w.suspended_push, 1);
    }
    pi = p->parent;
  }
  return n;
}
