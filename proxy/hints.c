/* hints.c: see hints.h. */
#include "proxy/hints.h"

#include <stdio.h>
#include <string.h>

#include "base/http.h"
#include "config/config.h"
#include "config/route.h"
#include "learner/learn.h"
#include "learner/ruleset.h"
#include "base/http.h"
#include "proxy/linkfield.h"
#include "proxy/record.h"
#include "proxy/loop.h"

void hints_keys_init(struct hints_keys *k, const char *templates,
                     const char *keep_params, int sections) {
  memset(k, 0, sizeof(*k));
  k->sections = sections;
  snprintf(k->patterns, sizeof(k->patterns), "%s", templates);
  pagekey_split_patterns(&k->keys, k->patterns);
  snprintf(k->keep_params, sizeof(k->keep_params), "%s", keep_params);
  k->keys.keep_params = k->keep_params;
}

/* may_send: see hints_may_send; |o| filled. */
static int may_send(const struct config *cfg, const struct http_req *req,
                    const struct obs *o) {
  if (!record_maybe_navigation(o) || (o->flags & OBS_F_AUTHORIZATION))
    return 0;
  return req->version == 20 ||
         (req->version == 11 && cfg->deliver_hints_http1);
}

int hints_may_send(const struct config *cfg, const struct http_req *req,
                   const struct obs *o) {
  if (req->method_len != 3 || memcmp(req->method, "GET", 3) != 0)
    return 0;
  if (o != NULL)
    return may_send(cfg, req, o);
  uint32_t flags;
  if (!record_request_navigation(req, &flags) ||
      (flags & OBS_F_AUTHORIZATION))
    return 0;
  return req->version == 20 ||
         (req->version == 11 && cfg->deliver_hints_http1);
}

/* page_of returns the rules page of the navigation |req|, whatever its
 * channels, or NULL when there is none. */
static const struct ruleset_page *page_of(const struct loop *lp,
                                          const struct config *cfg,
                                          const struct http_req *req,
                                          const struct obs *o) {
  if (lp->rules == NULL || !may_send(cfg, req, o))
    return NULL;
  char key[PAGEKEY_MAX], tmpl[PAGEKEY_MAX];
  if (pagekey_make(&lp->hint_keys->keys, req->https, o->authority, o->path,
                   key, sizeof(key)) < 0)
    return NULL;
  int mobile = cfg->record_single_class ? 0 : (o->flags & OBS_F_MOBILE) != 0;
  const struct ruleset_page *p = ruleset_lookup(lp->rules, key, mobile);
  if (p != NULL)
    return p;
  /* The nearest wider level the snapshot has (learner/ruleset.h). */
  const char *base = key;
  if (pagekey_template(&lp->hint_keys->keys, key, tmpl, sizeof(tmpl)) >= 0) {
    base = tmpl;
    if (strcmp(tmpl, key) != 0 &&
        (p = ruleset_lookup(lp->rules, tmpl, mobile)) != NULL)
      return p;
  }
  char wide[PAGEKEY_MAX];
  if (pagekey_section(base, lp->hint_keys->sections, wide, sizeof(wide)) >=
          0 &&
      (p = ruleset_lookup(lp->rules, wide, mobile)) != NULL)
    return p;
  if (pagekey_site(base, wide, sizeof(wide)) >= 0)
    p = ruleset_lookup(lp->rules, wide, mobile);
  return p;
}

/* mode_of: the operator's live setting (heraldctl mode, carried by the
 * rules snapshot) wins over the route's configured mode, which wins over
 * [deliver] mode. */
static int mode_of(const struct loop *lp, const struct config *cfg,
                   const struct http_req *req) {
  size_t hostlen = http_authority_host_len(req->authority, req->authority_len);
  int r = route_find(cfg, req->authority, hostlen, req->path, req->path_len);
  int live = ruleset_mode(lp->rules, r >= 0 ? cfg->routes[r].name : NULL);
  if (live >= 0)
    return live;
  if (r >= 0 && cfg->routes[r].deliver >= 0)
    return cfg->routes[r].deliver;
  return cfg->deliver_mode;
}

/* draw returns true with probability |f|. xorshift64* is plenty for
 * sampling. */
static int draw(struct loop *lp, double f) {
  if (f <= 0)
    return 0;
  uint64_t x = lp->rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  lp->rng = x;
  double u = (double)((x * 2685821657736338717ull) >> 11) / 9007199254740992.0;
  return u < f;
}

/* as_of is the as= of a preload for |dest|, or NULL: a preload without a
 * valid as= is ignored by browsers, so it is never named. */
static const char *as_of(uint8_t dest, const char **cors) {
  *cors = "";
  switch (dest) {
  case OBS_DEST_STYLE: return "style";
  case OBS_DEST_SCRIPT: return "script";
  case OBS_DEST_IMAGE: return "image";
  case OBS_DEST_FONT: *cors = "; crossorigin"; return "font";
  case OBS_DEST_FETCH: *cors = "; crossorigin"; return "fetch";
  default: return NULL;
  }
}

uint8_t hints_dest_of(const char *as) {
  static const uint8_t dests[] = {OBS_DEST_STYLE, OBS_DEST_SCRIPT,
                                  OBS_DEST_IMAGE, OBS_DEST_FONT,
                                  OBS_DEST_FETCH};
  const char *cors;
  for (size_t i = 0; i < sizeof(dests); i++)
    if (strcmp(as, as_of(dests[i], &cors)) == 0)
      return dests[i];
  return OBS_DEST_NONE;
}

int hints_verify_draw(struct loop *lp, const struct config *cfg) {
  return draw(lp, cfg->deliver_verify);
}

/* note_named records on |o| which entries of |p| a 103 names. */
static void note_named(const struct loop *lp, struct obs *o,
                       const struct ruleset_page *p, uint64_t mask) {
  o->rules_gen = ruleset_gen(lp->rules);
  o->rules_slot = ruleset_slot(lp->rules, p);
  o->named_mask = mask;
}

enum hints_action hints_decide(struct loop *lp, const struct config *cfg,
                               const struct http_req *req,
                               struct obs *o, const struct conn *c,
                               uint64_t id, int can_push,
                               const struct ruleset_page **page,
                               uint64_t *named) {
  struct obs tmp;
  if (o == NULL) {
    record_request(&tmp, c, id, req);
    o = &tmp;
  }
  const struct ruleset_page *p = page_of(lp, cfg, req, o);
  if (p == NULL)
    return HINTS_NONE;
  int mode = mode_of(lp, cfg, req);
  if (mode == CONFIG_DELIVER_OFF)
    return HINTS_NONE;
  if (mode == CONFIG_DELIVER_SHADOW) {
    lp->stats.hints_shadow++;
    return HINTS_NONE;
  }
  enum hints_action a = HINTS_NONE;
  if ((mode == CONFIG_DELIVER_PUSH || mode == CONFIG_DELIVER_BOTH) &&
      can_push) {
    for (size_t i = 0; i < p->n && a == HINTS_NONE; i++) {
      if (p->entries[i].channels & LEARN_PUSH)
        a = HINTS_PUSH;
    }
  }
  if (a == HINTS_NONE && mode != CONFIG_DELIVER_PUSH) {
    /* A client that refuses push, or a page with nothing to push (its
     * rules are hints only): the 103. A push-only route sends nothing to
     * a client that refuses push. */
    for (size_t i = 0; i < p->n && a == HINTS_NONE; i++) {
      if (p->entries[i].channels & LEARN_HINT)
        a = HINTS_EARLY;
    }
  }
  if (a == HINTS_NONE)
    return HINTS_NONE;
  if (draw(lp, cfg->deliver_holdout)) {
    o->flags |= OBS_F_HOLDOUT;
    lp->stats.holdout_visits++;
    return HINTS_NONE;
  }
  uint32_t channel = a == HINTS_PUSH ? LEARN_PUSH : LEARN_HINT;
  int verifying = hints_verify_draw(lp, cfg), withheld = 0;
  uint64_t mask = 0;
  const char *cors;
  for (size_t i = 0; i < p->n && i < 64; i++) {
    const struct ruleset_entry *e = &p->entries[i];
    /* Only what will really go out is named: the mask is what the
     * learner censors (a path hints_link would refuse is left out). */
    if (!(e->channels & channel) ||
        (a == HINTS_EARLY && as_of(e->dest, &cors) == NULL) ||
        !pagekey_path_safe(e->path, strlen(e->path)))
      continue;
    if (verifying) {
      lp->stats.verify_withheld++;
      withheld = 1;
      continue;
    }
    mask |= 1ull << i;
  }
  if (mask == 0)
    return withheld ? HINTS_VERIFY : HINTS_NONE;
  o->flags |= a == HINTS_PUSH ? OBS_F_GOT_PUSH : OBS_F_GOT_HINTS;
  if (a == HINTS_EARLY)
    note_named(lp, o, p, mask);
  *page = p;
  *named = mask;
  return a;
}

int hints_push_fallback(struct loop *lp, const struct config *cfg,
                        const struct http_req *req, struct obs *o,
                        const struct ruleset_page *p, uint64_t cut,
                        int none_pushed, struct hints_early *e) {
  if (mode_of(lp, cfg, req) != CONFIG_DELIVER_BOTH)
    return 0;
  uint64_t mask = 0;
  const char *cors;
  for (size_t i = 0; i < p->n && i < 64; i++) {
    const struct ruleset_entry *x = &p->entries[i];
    /* Cut from the pushes, or a hint the learner would not push (not
     * pushable, or below the push threshold): the 103 carries it. */
    int hint_only = (x->channels & (LEARN_HINT | LEARN_PUSH)) == LEARN_HINT;
    if (((cut >> i & 1) || hint_only) && (x->channels & LEARN_HINT) &&
        as_of(x->dest, &cors) != NULL &&
        pagekey_path_safe(x->path, strlen(x->path)))
      mask |= 1ull << i;
  }
  if (mask == 0 || hints_compose(p, mask, NULL, 0, e) == 0)
    return 0;
  if (o != NULL) {
    o->flags |= OBS_F_GOT_HINTS;
    if (none_pushed)
      o->flags &= ~(uint32_t)OBS_F_GOT_PUSH;
    note_named(lp, o, p, mask);
  }
  return 1;
}

size_t hints_link(const struct ruleset_page *p, size_t i, char *out,
                  size_t cap) {
  const struct ruleset_entry *e = &p->entries[i];
  if (!(e->channels & LEARN_HINT))
    return 0;
  return hints_link_path(e->path, e->dest, LINKFIELD_CORS_NONE, out, cap);
}

size_t hints_link_path(const char *path, uint8_t dest, uint8_t cors_mode,
                       char *out, size_t cap) {
  /* Fonts and other CORS fetches need crossorigin, or the browser cannot
   * use the preloaded response and downloads it again. */
  const char *cors;
  const char *as = as_of(dest, &cors);
  if (as == NULL)
    return 0;
  if (cors_mode == LINKFIELD_CORS_CREDENTIALS)
    cors = "; crossorigin=use-credentials";
  else if (cors_mode == LINKFIELD_CORS_ANONYMOUS)
    cors = "; crossorigin";
  /* The snapshot holds only checked rules, and declarations are checked
   * when read; checked again here because a path that names another host
   * must never reach a client. */
  size_t plen = strlen(path);
  if (!pagekey_path_safe(path, plen) || cap < 2)
    return 0;
  out[0] = '<';
  size_t n = http_path_escape(path, plen, out + 1, cap - 1);
  if (n == 0)
    return 0;
  n++;
  int k = snprintf(out + n, cap - n, ">; rel=preload; as=%s%s", as, cors);
  return k > 0 && (size_t)k < cap - n ? n + (size_t)k : 0;
}
