/* ctl_io.c: what every heraldctl command needs: aligned tables and JSON
 * for output, the learner parameters in force (defaults, herald's
 * configuration, the settings table), the operator's overrides, a replay
 * of the retained visits, and finding the page or resource an operator
 * named.
 *
 * JSON goes out as it is made (tables are ctl_table.c's). Keys come from
 * request paths, so they are printed defensively: JSON escapes control
 * bytes and replaces bytes that are not UTF-8 with U+FFFD, so the output
 * always parses.
 *
 * Parameters are looked up the way herald's learner looks them up
 * (learner/learner.c): built-in defaults, then [learn] of the
 * configuration, then settings of scope 'global', then 'route:NAME' for
 * the route a page key falls under; `explain` and `simulate` use the
 * same learn.c as the learner, so what they show is what herald does. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <uv.h>

#include "base/util.h"
#include "config/config.h"
#include "config/route.h"
#include "learner/audit.h"
#include "learner/learn.h"
#include "learner/learner.h"
#include "learner/obs.h"
#include "learner/pagekey.h"
#include "store/store.h"
#include "tools/ctl.h"

/* ---- names and keys ------------------------------------------------------ */

const char *ctl_class_name(int mobile) { return mobile ? "mobile" : "desktop"; }

const char *ctl_dest_name(uint8_t dest) {
  switch (dest) {
  case OBS_DEST_DOCUMENT:
    return "document";
  case OBS_DEST_STYLE:
    return "style";
  case OBS_DEST_SCRIPT:
    return "script";
  case OBS_DEST_FONT:
    return "font";
  case OBS_DEST_IMAGE:
    return "image";
  case OBS_DEST_FETCH:
    return "fetch";
  default:
    return "other";
  }
}

const char *ctl_path_of(const char *key) {
  const char *p = strstr(key, "://");
  return p != NULL ? strchr(p + 3, '/') : NULL;
}

int ctl_page_matches(const char *key, const char *want) {
  if (strcmp(key, want) == 0)
    return 1;
  if (want[0] != '/')
    return 0;
  const char *path = ctl_path_of(key);
  return path != NULL && strcmp(path, want) == 0;
}

const char *ctl_short_key(const char *page, const char *res) {
  const char *pp = ctl_path_of(page), *rp = ctl_path_of(res);
  if (pp == NULL || rp == NULL || pp - page != rp - res ||
      strncmp(page, res, (size_t)(pp - page)) != 0)
    return res;
  return rp;
}

int ctl_res_matches(const char *page, const char *key, const char *want) {
  if (strcmp(key, want) == 0)
    return 1;
  /* A scope without an origin (route:NAME): a path on any. */
  if (page == NULL || ctl_path_of(page) == NULL)
    return ctl_page_matches(key, want);
  return want[0] == '/' && strcmp(ctl_short_key(page, key), want) == 0;
}

/* ---- JSON ---------------------------------------------------------------- */

/* utf8_len returns the length of the well-formed UTF-8 sequence at |s|,
 * or 0 when it is not one (overlong forms and surrogates included). */
static size_t utf8_len(const unsigned char *s) {
  unsigned c = s[0];
  size_t n;
  unsigned min;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2, min = 0x80;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3, min = 0x800;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4, min = 0x10000;
  } else {
    return 0;
  }
  unsigned cp = c & (0x3f >> (n - 1));
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    cp = cp << 6 | (s[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

void ctl_json_str(const char *str) {
  const unsigned char *s = (const unsigned char *)str;
  putchar('"');
  while (*s != '\0') {
    if (*s == '"' || *s == '\\') {
      printf("\\%c", *s++);
    } else if (*s < 0x20 || *s == 0x7f) {
      printf("\\u%04x", *s++);
    } else if (*s < 0x80) {
      putchar(*s++);
    } else {
      size_t n = utf8_len(s);
      if (n == 0) {
        fputs("\\ufffd", stdout);
        s++;
      } else {
        fwrite(s, 1, n, stdout);
        s += n;
      }
    }
  }
  putchar('"');
}

void ctl_json_num(double v, int decimals) {
  if (isfinite(v))
    printf("%.*f", decimals, v);
  else
    fputs("null", stdout);
}

void ctl_json_next(size_t *count) {
  fputs(*count == 0 ? "[\n  {" : ",\n  {", stdout);
  (*count)++;
}

void ctl_json_end(size_t count) { fputs(count == 0 ? "[]\n" : "\n]\n", stdout); }

void ctl_audit(const struct ctl *c, const char *what, const char *text) {
  char ts[32], v[512];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  snprintf(v, sizeof v, "%s at %s", text, ts);
  if (store_set_setting(c->s, AUDIT_SCOPE, what, v) != 0)
    fprintf(stderr, "heraldctl: warning: noting the %s for herald's log: %s\n",
            what, store_errmsg(c->s));
}

int ctl_store_error(const struct ctl *c) {
  fprintf(stderr, "heraldctl: %s\n", store_errmsg(c->s));
  return CTL_ERROR;
}

int ctl_parse_num(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end != '\0' || errno != 0 || !isfinite(v))
    return -1;
  *out = v;
  return 0;
}

static const char size_units[] = " kMGT";

const char *ctl_fmt_size(double bytes, int exact, char *out, size_t cap) {
  int u = 0;
  double v = bytes;
  while (u + 1 < (int)sizeof size_units - 1 && v >= 1024) {
    if (exact && fmod(v * 10, 1024) != 0)
      break;
    v /= 1024;
    u++;
  }
  if (u == 0)
    snprintf(out, cap, "%.0f", bytes);
  else if (v == floor(v) || v >= 100)
    snprintf(out, cap, "%.0f%c", v, size_units[u]);
  else
    snprintf(out, cap, "%.1f%c", v, size_units[u]);
  return out;
}

int ctl_parse_size(const char *s, double *out) {
  char num[64];
  size_t n = strlen(s);
  if (n == 0 || n >= sizeof num)
    return -1;
  memcpy(num, s, n + 1);
  double mul = 1;
  const char *u = strchr(size_units + 1, num[n - 1]);
  char lower = num[n - 1] == 'K' ? 'k' : 0;
  if (u != NULL || lower) {
    int e = lower ? 1 : (int)(u - size_units);
    while (e-- > 0)
      mul *= 1024;
    num[n - 1] = '\0';
  }
  double v;
  if (ctl_parse_num(num, &v) != 0 || v * mul != floor(v * mul))
    return -1;
  *out = v * mul;
  return 0;
}

const char *ctl_plural(uint64_t n, const char *one, const char *many) {
  return n == 1 ? one : many;
}

/* ---- settings -------------------------------------------------------------- */

static const struct ctl_setting settings[] = {
    {"push_threshold", 0, 1, 0, 0, 0},
    {"hint_threshold", 0, 1, 0, 0, 0},
    {"min_visits", 0, 1e12, 0, 0, 0},
    {"min_clients", 0, 1e9, 1, 0, 0},
    {"hint_budget", 0, 1e15, 1, 0, 1},
    {"push_budget", 0, 1e15, 1, 0, 1},
    {"hint_max_resources", 0, 1e6, 1, 0, 0},
    {"push_max_resources", 0, 1e6, 1, 0, 0},
    {"z", 0, 10, 0, 0, 0},
    {"declared_prior", 0, 1e8, 0, 0, 0},
    {"half_life", 1e-3, 1e9, 0, 0, 0},
    {"mode", 0, 0, 0, 1, 0},
};

static const char *const modes[] = {"off", "hints", "shadow", "push", "both"};

const struct ctl_setting *ctl_setting_find(const char *name) {
  for (size_t i = 0; i < ARRAY_SIZE(settings); i++)
    if (strcmp(settings[i].name, name) == 0)
      return &settings[i];
  return NULL;
}

int ctl_setting_check(const struct ctl_setting *set, const char *value,
                      char *norm, size_t normcap, char *why, size_t whycap) {
  if (set->is_mode) {
    for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
      if (strcmp(value, modes[i]) == 0) {
        snprintf(norm, normcap, "%s", value);
        return 0;
      }
    }
    snprintf(why, whycap, "want off, hints, shadow, push or both");
    return -1;
  }
  double v;
  int bad = set->is_size ? ctl_parse_size(value, &v) : ctl_parse_num(value, &v);
  if (bad != 0 || v < set->min || v > set->max ||
      (set->integer && v != floor(v))) {
    snprintf(why, whycap, "want %s from %g to %g",
             set->is_size   ? "bytes (100k, 1.5M)"
             : set->integer ? "an integer"
                            : "a number",
             set->min, set->max);
    return -1;
  }
  if (set->integer)
    snprintf(norm, normcap, "%.0f", v);
  else
    snprintf(norm, normcap, "%.15g", v);
  return 0;
}

/* builtin writes the value of |name| that herald uses without a setting:
 * from -c CONFIG when given, else the default; |*from_cfg| says which. */
static void builtin(const struct ctl *c, const char *name, char *out,
                    size_t cap, int *from_cfg) {
  struct learn_params d, fp;
  learn_params_defaults(&d);
  double dv = 0, cv = 0;
  const struct config *f = c->cfg;
  if (f != NULL)
    learner_params_from_config(f, &fp);
  if (strcmp(name, "mode") == 0) {
    int m = f != NULL ? f->deliver_mode : CONFIG_DEFAULT_DELIVER;
    snprintf(out, cap, "%s", config_deliver_name(m));
    *from_cfg = m != CONFIG_DEFAULT_DELIVER;
    return;
  }
  if (strcmp(name, "push_threshold") == 0)
    dv = d.push_threshold, cv = f ? f->learn_push_threshold : dv;
  else if (strcmp(name, "hint_threshold") == 0)
    dv = d.hint_threshold, cv = f ? f->learn_hint_threshold : dv;
  else if (strcmp(name, "min_visits") == 0)
    dv = d.min_visits, cv = f ? f->learn_min_visits : dv;
  else if (strcmp(name, "min_clients") == 0)
    dv = d.min_clients, cv = f ? f->learn_min_clients : dv;
  else if (strcmp(name, "hint_budget") == 0)
    dv = (double)d.hint_budget, cv = f ? (double)fp.hint_budget : dv;
  else if (strcmp(name, "push_budget") == 0)
    dv = (double)d.push_budget, cv = f ? (double)fp.push_budget : dv;
  else if (strcmp(name, "hint_max_resources") == 0)
    dv = d.hint_max, cv = f ? fp.hint_max : dv;
  else if (strcmp(name, "push_max_resources") == 0)
    dv = d.push_max, cv = f ? fp.push_max : dv;
  else if (strcmp(name, "z") == 0)
    dv = d.z, cv = f ? f->learn_z : dv;
  else if (strcmp(name, "declared_prior") == 0)
    dv = d.declared_prior, cv = f ? f->learn_declared_prior : dv;
  else if (strcmp(name, "half_life") == 0)
    dv = 100, cv = f ? f->learn_half_life : dv;
  snprintf(out, cap, "%.15g", cv);
  *from_cfg = cv != dv;
}

/* stored reads settings(|scope|, |name|): 1 and |out| when set, 0 when
 * not, -1 on an error (reported). */
static int stored(const struct ctl *c, const char *scope, const char *name,
                  char *out, size_t cap) {
  int rv = store_get_setting(c->s, scope, name, out, cap);
  if (rv == UV_ENOENT)
    return 0;
  if (rv != 0) {
    ctl_store_error(c);
    return -1;
  }
  return 1;
}

int ctl_effective(const struct ctl *c, const char *name, const char *route,
                  char *value, size_t cap, char *source, size_t scap) {
  const struct ctl_setting *set = ctl_setting_find(name);
  char scope[160], raw[128];
  int found = 0;
  if (route != NULL) {
    snprintf(scope, sizeof scope, "route:%s", route);
    found = stored(c, scope, name, raw, sizeof raw);
  }
  if (found == 0) {
    snprintf(scope, sizeof scope, "global");
    found = stored(c, scope, name, raw, sizeof raw);
  }
  if (found < 0)
    return CTL_ERROR;
  if (found == 0) {
    int from_cfg;
    builtin(c, name, value, cap, &from_cfg);
    snprintf(source, scap, "%s", from_cfg ? "config" : "default");
    return CTL_OK;
  }
  char why[96];
  if (set != NULL &&
      ctl_setting_check(set, raw, value, cap, why, sizeof why) != 0) {
    fprintf(stderr, "heraldctl: setting %s.%s = '%s': %s\n", scope, name, raw,
            why);
    return CTL_ERROR;
  }
  snprintf(source, scap, "%s", scope);
  return CTL_OK;
}

int ctl_params(const struct ctl *c, const char *route, struct learn_params *p,
               double *half_life) {
  static const char *const names[] = {
      "push_threshold",     "hint_threshold",     "min_visits",
      "min_clients",        "hint_budget",        "push_budget",
      "hint_max_resources", "push_max_resources", "z",
      "half_life",          "declared_prior"};
  double v[ARRAY_SIZE(names)];
  for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
    char val[64], src[160];
    int st = ctl_effective(c, names[i], route, val, sizeof val, src, sizeof src);
    if (st != CTL_OK)
      return st;
    v[i] = strtod(val, NULL);
  }
  p->push_threshold = v[0];
  p->hint_threshold = v[1];
  p->min_visits = v[2];
  p->min_clients = (int)v[3];
  p->hint_budget = (uint64_t)v[4];
  p->push_budget = (uint64_t)v[5];
  p->hint_max = (int)v[6];
  p->push_max = (int)v[7];
  p->z = v[8];
  *half_life = v[9];
  p->declared_prior = v[10];
  return CTL_OK;
}

int ctl_section_depth(const struct ctl *c) {
  return c->cfg != NULL ? c->cfg->record_sections : 1;
}

const char *ctl_route_of(const struct ctl *c, const char *key) {
  if (c->cfg == NULL)
    return NULL;
  int i = route_match_key(c->cfg->routes, c->cfg->nroutes, key);
  return i < 0 ? NULL : c->cfg->routes[i].name;
}

/* ---- overrides and replay ------------------------------------------------- */

static void on_override(void *ud, const char *page_key,
                        const char *resource_key, const char *action) {
  struct ctl_overrides *o = ud;
  if (o->n == o->cap) {
    o->cap = o->cap != 0 ? o->cap * 2 : 16;
    o->v = xrealloc(o->v, o->cap * sizeof(*o->v));
  }
  o->v[o->n++] = (struct ctl_override){
      xstrdup(page_key), xstrdup(resource_key), strcmp(action, "block") == 0};
}

int ctl_overrides_load(const struct ctl *c, struct ctl_overrides *o) {
  memset(o, 0, sizeof(*o));
  int rv = store_load_overrides(c->s, on_override, o);
  o->pinned = xcalloc(o->n + 1, sizeof(*o->pinned));
  o->blocked = xcalloc(o->n + 1, sizeof(*o->blocked));
  if (rv != 0) {
    fprintf(stderr, "heraldctl: %s\n", store_errmsg(c->s));
    return CTL_ERROR;
  }
  return CTL_OK;
}

void ctl_overrides_free(struct ctl_overrides *o) {
  for (size_t i = 0; i < o->n; i++) {
    free(o->v[i].page);
    free(o->v[i].resource);
  }
  free(o->v);
  free(o->pinned);
  free(o->blocked);
  memset(o, 0, sizeof(*o));
}

int ctl_scope_covers(const struct ctl *c, const char *scope,
                     const char *key) {
  if (strncmp(scope, "route:", 6) == 0) {
    const char *route = ctl_route_of(c, key);
    return route != NULL && strcmp(route, scope + 6) == 0;
  }
  return pagekey_scope_matches(scope, key);
}

void ctl_overrides_for(const struct ctl *c, struct ctl_overrides *o,
                       const char *page, struct learn_overrides *out) {
  *out = (struct learn_overrides){o->pinned, 0, o->blocked, 0};
  for (size_t i = 0; i < o->n; i++) {
    if (!ctl_scope_covers(c, o->v[i].page, page))
      continue;
    if (o->v[i].block)
      o->blocked[out->nblocked++] = o->v[i].resource;
    else
      o->pinned[out->npinned++] = o->v[i].resource;
  }
}

struct replay {
  struct learn *l;
  uint64_t visits;
};

static void on_visit(void *ud, const struct visit *v) {
  struct replay *r = ud;
  learn_visit(r->l, v);
  r->visits++;
}

int ctl_replay(const struct ctl *c, struct learn *l, uint64_t *visits) {
  struct replay r = {l, 0};
  int rv = store_replay_visits(c->s, on_visit, &r);
  *visits = r.visits;
  if (rv != 0) {
    fprintf(stderr, "heraldctl: %s\n", store_errmsg(c->s));
    return CTL_ERROR;
  }
  return CTL_OK;
}

/* ---- finding pages and resources ------------------------------------------ */

/* find_key looks |want| up among the keys of the list |which| (|page|:
 * the page of STORE_KEYS_OVERRIDDEN), matched by ctl_page_matches or,
 * with a page or for resources, ctl_res_matches. */
struct find {
  const char *what, *want, *page;
  char *out;
  size_t cap;
  int found;
  char other[512];
};

static int on_key(void *ud, const char *key) {
  struct find *f = ud;
  int m = f->page != NULL || strcmp(f->what, "page") != 0
              ? ctl_res_matches(f->page, key, f->want)
              : ctl_page_matches(key, f->want);
  if (!m)
    return 0;
  if (strcmp(key, f->want) == 0) { /* an exact key beats any path match */
    snprintf(f->out, f->cap, "%s", key);
    f->found = 1;
    f->other[0] = '\0';
    return 1;
  }
  if (f->found++ == 0)
    snprintf(f->out, f->cap, "%s", key);
  else if (f->other[0] == '\0')
    snprintf(f->other, sizeof f->other, "%s", key);
  return 0;
}

static int find_key(const struct ctl *c, enum store_keys which,
                    const char *what, const char *want, const char *page,
                    char *out, size_t cap) {
  struct find f = {what, want, page, out, cap, 0, ""};
  if (store_list_keys(c->s, which, page, on_key, &f) != 0)
    return ctl_store_error(c);
  if (f.found == 0) {
    if (strcmp(what, "override") == 0)
      fprintf(stderr, "heraldctl: no pin or block of %s on %s\n", want, page);
    else if (page != NULL)
      fprintf(stderr, "heraldctl: unknown resource %s on %s\n", want, page);
    else if (strcmp(what, "resource") == 0)
      fprintf(stderr, "heraldctl: unknown resource %s\n", want);
    else
      fprintf(stderr, "heraldctl: unknown page %s\n", want);
    return CTL_NOT_FOUND;
  }
  if (f.found > 1) {
    fprintf(stderr,
            "heraldctl: %s %s is ambiguous: %s, %s%s; give the whole key\n",
            what, want, out, f.other, f.found > 2 ? ", ..." : "");
    return CTL_ERROR;
  }
  return CTL_OK;
}

int ctl_find_page(const struct ctl *c, const char *want, char *out,
                  size_t cap) {
  return find_key(c, STORE_KEYS_PAGES, "page", want, NULL, out, cap);
}

int ctl_find_resource(const struct ctl *c, const char *page, const char *want,
                      char *out, size_t cap) {
  return find_key(c, STORE_KEYS_RESOURCES, "resource", want, page, out, cap);
}

int ctl_find_override(const struct ctl *c, const char *page, const char *want,
                      char *out, size_t cap) {
  return find_key(c, STORE_KEYS_OVERRIDDEN, "override", want, page, out, cap);
}
