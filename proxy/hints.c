/* hints.c: see hints.h. */
#include "proxy/hints.h"

#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "learner/learn.h"
#include "learner/ruleset.h"
#include "proxy/http.h"
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

const struct ruleset_page *hints_page(const struct server *srv,
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

const struct ruleset_page *hints_for(const struct server *srv,
                                     const struct http_req *req,
                                     const struct obs *o) {
  const struct ruleset_page *p = hints_page(srv, req, o);
  for (size_t i = 0; p != NULL && i < p->n; i++) {
    if (p->entries[i].channels & LEARN_HINT)
      return p;
  }
  return NULL;
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
