/* hints.c: see hints.h. */
#include "proxy/hints.h"

#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "learner/learn.h"
#include "learner/ruleset.h"
#include "proxy/http.h"
#include "proxy/record.h"
#include "proxy/route.h"
#include "proxy/server.h"

void hints_keys_init(struct hints_keys *k, const char *templates,
                     const char *keep_params, int sections) {
  memset(k, 0, sizeof(*k));
  k->sections = sections;
  snprintf(k->patterns, sizeof(k->patterns), "%s", templates);
  pagekey_split_patterns(&k->keys, k->patterns);
  k->keys.keep_params = keep_params;
}

static int is_navigation(const struct obs *o) {
  if (strcmp(o->method, "GET") != 0 || (o->flags & OBS_F_AUTHORIZATION))
    return 0;
  if (o->flags & OBS_F_SEC_FETCH)
    return (o->flags & OBS_F_NAVIGATE) != 0;
  return (o->flags & OBS_F_ACCEPT_HTML) != 0;
}

/* page_of returns the rules page of the navigation |req|, whatever its
 * channels, or NULL when there is none. */
static const struct ruleset_page *page_of(const struct server *srv,
                                          const struct http_req *req,
                                          const struct obs *o) {
  const struct config *cfg = srv->cfg;
  if (srv->rules == NULL || !is_navigation(o))
    return NULL;
  if (req->version != 20 && !cfg->deliver_hints_http1)
    return NULL;
  char key[PAGEKEY_MAX], tmpl[PAGEKEY_MAX];
  if (pagekey_make(&srv->hint_keys->keys, req->https, o->authority, o->path,
                   key, sizeof(key)) < 0)
    return NULL;
  int mobile = cfg->record_single_class ? 0 : (o->flags & OBS_F_MOBILE) != 0;
  const struct ruleset_page *p = ruleset_lookup(srv->rules, key, mobile);
  if (p != NULL)
    return p;
  /* The nearest wider level the snapshot has (learner/ruleset.h). */
  const char *base = key;
  if (pagekey_template(&srv->hint_keys->keys, key, tmpl, sizeof(tmpl)) >= 0) {
    base = tmpl;
    if (strcmp(tmpl, key) != 0 &&
        (p = ruleset_lookup(srv->rules, tmpl, mobile)) != NULL)
      return p;
  }
  char wide[PAGEKEY_MAX];
  if (pagekey_section(base, srv->hint_keys->sections, wide, sizeof(wide)) >=
          0 &&
      (p = ruleset_lookup(srv->rules, wide, mobile)) != NULL)
    return p;
  if (pagekey_site(base, wide, sizeof(wide)) >= 0)
    p = ruleset_lookup(srv->rules, wide, mobile);
  return p;
}

/* mode_of: the operator's live setting (heraldctl mode, carried by the
 * rules snapshot) wins over the route's configured mode, which wins over
 * [deliver] mode. */
static int mode_of(const struct server *srv, const struct http_req *req) {
  const struct config *cfg = srv->cfg;
  size_t hostlen = http_authority_host_len(req->authority, req->authority_len);
  int r = route_find(cfg, req->authority, hostlen, req->path, req->path_len);
  int live = ruleset_mode(srv->rules, r >= 0 ? cfg->routes[r].name : NULL);
  if (live >= 0)
    return live;
  if (r >= 0 && cfg->routes[r].deliver >= 0)
    return cfg->routes[r].deliver;
  return cfg->deliver_mode;
}

/* draw returns true with probability |f|. xorshift64* is plenty for
 * sampling. */
static int draw(struct server *srv, double f) {
  if (f <= 0)
    return 0;
  uint64_t x = srv->rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  srv->rng = x;
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

enum hints_action hints_decide(struct server *srv, const struct http_req *req,
                               struct obs *o, const struct conn *c,
                               uint64_t id, int can_push,
                               const struct ruleset_page **page,
                               uint64_t *named) {
  struct obs tmp;
  if (o == NULL) {
    record_request(&tmp, c, id, req);
    o = &tmp;
  }
  const struct ruleset_page *p = page_of(srv, req, o);
  if (p == NULL)
    return HINTS_NONE;
  int mode = mode_of(srv, req);
  if (mode == CONFIG_DELIVER_OFF)
    return HINTS_NONE;
  if (mode == CONFIG_DELIVER_SHADOW) {
    srv->stats.hints_shadow++;
    return HINTS_NONE;
  }
  enum hints_action a = HINTS_NONE;
  if ((mode == CONFIG_DELIVER_PUSH || mode == CONFIG_DELIVER_BOTH) &&
      can_push) {
    for (size_t i = 0; i < p->n && a == HINTS_NONE; i++) {
      if (p->entries[i].channels & LEARN_PUSH)
        a = HINTS_PUSH;
    }
  } else if (mode != CONFIG_DELIVER_PUSH) {
    /* (A push-only route sends nothing to a client that refuses push.) */
    for (size_t i = 0; i < p->n && a == HINTS_NONE; i++) {
      if (p->entries[i].channels & LEARN_HINT)
        a = HINTS_EARLY;
    }
  }
  if (a == HINTS_NONE)
    return HINTS_NONE;
  if (draw(srv, srv->cfg->deliver_holdout)) {
    o->flags |= OBS_F_HOLDOUT;
    srv->stats.holdout_visits++;
    return HINTS_NONE;
  }
  uint32_t channel = a == HINTS_PUSH ? LEARN_PUSH : LEARN_HINT;
  /* One draw for the whole navigation. A page waits for the slowest of
   * what it needs, so leaving out one resource costs a navigation about
   * as much as leaving out all; drawn per resource, most navigations of
   * a page with a dozen rules would pay. Drawn once, every resource gets
   * the same share of samples and one navigation in 1/verify pays. */
  int verifying = draw(srv, srv->cfg->deliver_verify);
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
      srv->stats.verify_withheld++;
      continue;
    }
    mask |= 1ull << i;
  }
  if (mask == 0)
    return HINTS_NONE;
  o->flags |= a == HINTS_PUSH ? OBS_F_GOT_PUSH : OBS_F_GOT_HINTS;
  if (a == HINTS_EARLY) {
    o->rules_gen = ruleset_gen(srv->rules);
    o->rules_slot = ruleset_slot(srv->rules, p);
    o->named_mask = mask;
  }
  *page = p;
  *named = mask;
  return a;
}

size_t hints_link(const struct ruleset_page *p, size_t i, char *out,
                  size_t cap) {
  const struct ruleset_entry *e = &p->entries[i];
  if (!(e->channels & LEARN_HINT))
    return 0;
  /* Fonts and other CORS fetches need crossorigin, or the browser cannot
   * use the preloaded response and downloads it again. */
  const char *cors;
  const char *as = as_of(e->dest, &cors);
  if (as == NULL)
    return 0;
  /* The snapshot holds only checked rules; checked again here because a
   * path that names another host must never reach a client. */
  size_t plen = strlen(e->path);
  if (!pagekey_path_safe(e->path, plen) || cap < 2)
    return 0;
  out[0] = '<';
  size_t n = http_path_escape(e->path, plen, out + 1, cap - 1);
  if (n == 0)
    return 0;
  n++;
  int k = snprintf(out + n, cap - n, ">; rel=preload; as=%s%s", as, cors);
  return k > 0 && (size_t)k < cap - n ? n + (size_t)k : 0;
}
