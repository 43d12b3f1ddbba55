/* hints.c: see hints.h. */
#include "proxy/hints.h"

#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "learner/learn.h"
#include "learner/ruleset.h"
#include "proxy/http.h"
#include "proxy/record.h"
#include "proxy/server.h"

void hints_keys_init(struct hints_keys *k, const char *templates,
                     const char *keep_params) {
  memset(k, 0, sizeof(*k));
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
 * channels, or NULL when herald delivers nothing for it. */
static const struct ruleset_page *page_of(const struct server *srv,
                                          const struct http_req *req,
                                          const struct obs *o) {
  const struct config *cfg = srv->cfg;
  if (srv->rules == NULL || cfg->deliver_mode == CONFIG_DELIVER_OFF ||
      !is_navigation(o))
    return NULL;
  if (req->version != 20 && !cfg->deliver_hints_http1)
    return NULL;
  char key[PAGEKEY_MAX], tmpl[PAGEKEY_MAX];
  if (pagekey_make(&srv->hint_keys->keys, req->https, o->authority, o->path,
                   key, sizeof(key)) < 0)
    return NULL;
  int mobile = cfg->record_single_class ? 0 : (o->flags & OBS_F_MOBILE) != 0;
  const struct ruleset_page *p = ruleset_lookup(srv->rules, key, mobile);
  if (p == NULL &&
      pagekey_template(&srv->hint_keys->keys, key, tmpl, sizeof(tmpl)) >= 0 &&
      strcmp(tmpl, key) != 0)
    p = ruleset_lookup(srv->rules, tmpl, mobile);
  return p;
}

enum hints_action hints_decide(struct server *srv, const struct http_req *req,
                               const struct obs *o, const struct conn *c,
                               uint64_t id, int can_push,
                               const struct ruleset_page **page) {
  struct obs tmp;
  if (o == NULL) {
    record_request(&tmp, c, id, req);
    o = &tmp;
  }
  const struct ruleset_page *p = page_of(srv, req, o);
  if (p == NULL)
    return HINTS_NONE;
  int mode = srv->cfg->deliver_mode;
  if (mode == CONFIG_DELIVER_SHADOW) {
    srv->stats.hints_shadow++;
    return HINTS_NONE;
  }
  *page = p;
  if ((mode == CONFIG_DELIVER_PUSH || mode == CONFIG_DELIVER_BOTH) &&
      can_push)
    return HINTS_PUSH;
  if (mode == CONFIG_DELIVER_PUSH)
    return HINTS_NONE; /* this client refuses push; hints are not wanted */
  for (size_t i = 0; i < p->n; i++) {
    if (p->entries[i].channels & LEARN_HINT)
      return HINTS_EARLY;
  }
  return HINTS_NONE;
}

size_t hints_link(const struct ruleset_page *p, size_t i, char *out,
                  size_t cap) {
  const struct ruleset_entry *e = &p->entries[i];
  if (!(e->channels & LEARN_HINT))
    return 0;
  /* Fonts and other CORS fetches need crossorigin, or the browser cannot
   * use the preloaded response and downloads it again. */
  const char *as = NULL, *cors = "";
  switch (e->dest) {
  case OBS_DEST_STYLE: as = "style"; break;
  case OBS_DEST_SCRIPT: as = "script"; break;
  case OBS_DEST_IMAGE: as = "image"; break;
  case OBS_DEST_FONT: as = "font"; cors = "; crossorigin"; break;
  case OBS_DEST_FETCH: as = "fetch"; cors = "; crossorigin"; break;
  default: return 0; /* a preload without a valid as= is ignored */
  }
  int n = snprintf(out, cap, "<%s>; rel=preload; as=%s%s", e->path, as, cors);
  return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}
