/* config_file.c: config_load, the INI file (see config.h).
 *
 * The file is read with libinih; everything here is what inih leaves to
 * the caller: which sections exist ([listener:NAME], [backend:NAME],
 * [route:NAME] and the global ones of config_keys.c), what each key of a
 * named section means, and a message that points at the offending line
 * ("FILE:LINE: key 'S.K': why"). */
#include <ctype.h>
#include <ini.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/http.h"
#include "base/log.h"
#include "base/util.h"
#include "config/config_int.h"

/* inih copies section names into a fixed char[50] (MAX_SECTION, not
 * exported) and truncates silently, so a 49-byte section may have been cut
 * short; CONFIG_SECTION_MAX keeps below that. */
_Static_assert(CONFIG_SECTION_MAX < 49, "inih truncates sections at 49");

/* ---- the file ---- */

enum section_kind {
  SEC_NONE,
  SEC_GLOBAL, /* one of the sections in keys[] */
  SEC_LISTENER,
  SEC_BACKEND,
  SEC_ROUTE,
};

/* Keys of the named sections; the index is the bit in load_ctx.seen. */
static const char *const listener_keys[] = {"listen", "tls", "cert", "key",
                                            "proxy_protocol"};
static const char *const route_keys[] = {"host", "prefix", "backend",
                                         "deliver"};

struct load_ctx {
  struct config *c;
  FILE *f;
  int read_errno;        /* fgets failed for a reason other than EOF */
  int lineno;            /* lines handed to inih so far */
  int section_line;      /* line of the last "[...]" header read */
  bool new_section;      /* a header was read since the last key */
  char section_raw[CONFIG_SECTION_MAX + 1]; /* as inih passes it */
  char section[CONFIG_SECTION_MAX + 1];     /* trimmed, for messages */
  enum section_kind kind;
  int index;             /* listener/backend/route being filled */
  unsigned seen;         /* keys set in this listener or route */
  bool gseen[CONFIG_KEYS_MAX]; /* global keys set anywhere in the file */
  int err_line;          /* 0 while there is no error */
  char err[REASON_MAX];  /* "key 'S.K': why" or "section [S]: why" */
};

static void fail_at(struct load_ctx *x, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* fail_at records the first error only: later ones are often knock-on
 * effects of it, and inih reports the first failing line anyway. */
static void fail_at(struct load_ctx *x, int line, const char *fmt, ...) {
  va_list ap;
  if (x->err_line != 0)
    return;
  x->err_line = line;
  va_start(ap, fmt);
  vsnprintf(x->err, sizeof x->err, fmt, ap);
  va_end(ap);
}

/* read_line is inih's fgets. Seeing each raw line lets us count lines
 * ourselves, notice "[...]" headers (inih only reports keys, so an
 * identical repeated header, or an empty section, would otherwise go
 * unseen), and reject overlong lines, which inih would silently split in
 * two and parse the tail as a line of its own. */
static char *read_line(char *buf, int cap, void *stream) {
  struct load_ctx *x = stream;
  const char *p;
  size_t n;

  if (x->err_line != 0)
    return NULL; /* stop: the error is already recorded */
  errno = 0;
  if (fgets(buf, cap, x->f) == NULL) {
    if (ferror(x->f))
      x->read_errno = errno ? errno : EIO;
    return NULL;
  }
  x->lineno++;
  n = strlen(buf);
  if (n == (size_t)cap - 1 && buf[n - 1] != '\n') {
    int ch = getc(x->f);
    if (ch != '\n' && ch != EOF) {
      fail_at(x, x->lineno, "line is longer than %d bytes", cap - 1);
      return NULL;
    }
  }
  p = buf;
  if (x->lineno == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
    p += 3; /* inih skips a UTF-8 BOM on the first line too */
  while (*p == ' ' || *p == '\t')
    p++;
  if (*p == '[') {
    x->new_section = true;
    x->section_line = x->lineno;
  }
  return buf;
}

/* trim returns |s| without surrounding blanks, in |out|. */
static void trim(const char *s, char *out, size_t cap) {
  size_t n;
  while (isspace((unsigned char)*s))
    s++;
  n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1]))
    n--;
  if (n >= cap)
    n = cap - 1;
  memcpy(out, s, n);
  out[n] = '\0';
}

/* begin_section sets up the object a new "[...]" fills. Errors point at
 * the header's line, which is where the fix goes. */
static int begin_section(struct load_ctx *x, const char *section) {
  struct config *c = x->c;
  char sec[CONFIG_SECTION_MAX + 1];
  char name[CONFIG_SECTION_MAX + 1];
  const char *colon;
  int line = x->section_line ? x->section_line : x->lineno;

  x->new_section = false;
  x->seen = 0;
  x->kind = SEC_NONE;
  if (strlen(section) > CONFIG_SECTION_MAX) {
    fail_at(x, line, "section [%s...]: name is too long (max %d bytes)",
            section, CONFIG_SECTION_MAX);
    return -1;
  }
  strcpy(x->section_raw, section);
  trim(section, sec, sizeof sec);
  memcpy(x->section, sec, sizeof sec);
  colon = strchr(sec, ':');
  if (colon == NULL) {
    if (!config_global_section(sec))
      goto unknown;
    x->kind = SEC_GLOBAL;
    return 0;
  }
  trim(colon + 1, name, sizeof name);
  if (name[0] == '\0') {
    fail_at(x, line, "section [%s]: missing NAME after ':'", sec);
    return -1;
  }

  if (strncmp(sec, "listener:", 9) == 0) {
    for (int i = 0; i < c->nlisteners; i++) {
      if (strcmp(c->listeners[i].name, name) == 0)
        goto duplicate;
    }
    if (c->nlisteners == CONFIG_MAX_LISTENERS) {
      fail_at(x, line, "section [%s]: too many listeners (max %d)", sec,
              CONFIG_MAX_LISTENERS);
      return -1;
    }
    x->kind = SEC_LISTENER;
    x->index = c->nlisteners++;
    memset(&c->listeners[x->index], 0, sizeof c->listeners[0]);
    strcpy(c->listeners[x->index].name, name);
    return 0;
  }
  if (strncmp(sec, "backend:", 8) == 0) {
    for (int i = 0; i < c->nbackends; i++) {
      if (strcmp(c->backends[i].name, name) == 0)
        goto duplicate;
    }
    if (c->nbackends == CONFIG_MAX_BACKENDS) {
      fail_at(x, line, "section [%s]: too many backends (max %d)", sec,
              CONFIG_MAX_BACKENDS);
      return -1;
    }
    x->kind = SEC_BACKEND;
    x->index = c->nbackends++;
    memset(&c->backends[x->index], 0, sizeof c->backends[0]);
    strcpy(c->backends[x->index].name, name);
    return 0;
  }
  if (strncmp(sec, "route:", 6) == 0) {
    for (int i = 0; i < c->nroutes; i++) {
      if (strcmp(c->routes[i].name, name) == 0)
        goto duplicate;
    }
    if (c->nroutes == CONFIG_MAX_ROUTES) {
      fail_at(x, line, "section [%s]: too many routes (max %d)", sec,
              CONFIG_MAX_ROUTES);
      return -1;
    }
    x->kind = SEC_ROUTE;
    x->index = c->nroutes++;
    memset(&c->routes[x->index], 0, sizeof c->routes[0]);
    strcpy(c->routes[x->index].name, name);
    strcpy(c->routes[x->index].prefix, "/");
    c->routes[x->index].backend = -1;
    c->routes[x->index].deliver = -1;
    return 0;
  }
unknown:
  fail_at(x, line, "section [%s]: unknown section (expected log, limits, "
          "timeouts, store, record, learn, deliver, admin, clients, "
          "server, listener:NAME, "
          "backend:NAME or route:NAME)", sec);
  return -1;
duplicate:
  fail_at(x, line, "section [%s]: duplicate name '%s'", sec, name);
  return -1;
}

static int key_index(const char *const *names, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++) {
    if (strcmp(names[i], name) == 0)
      return (int)i;
  }
  return -1;
}

static int set_listener_key(struct config_listener *l, int k, const char *v,
                            char *why, size_t whylen) {
  switch (k) {
  case 0:
    return config_parse_addr(v, 1, l->host, sizeof l->host, &l->port, why,
                             whylen);
  case 1:
    return config_parse_bool(v, &l->tls, why, whylen);
  case 2:
    return config_copy_str(l->cert, sizeof l->cert, v, why, whylen);
  case 3:
    return config_copy_str(l->key, sizeof l->key, v, why, whylen);
  default:
    return config_parse_bool(v, &l->proxy_protocol, why, whylen);
  }
}

/* Route hosts are compared with the request's Host, which is
 * case-insensitive: store them lowercase so the router need not fold. */
static int set_route_host(struct config_route *r, const char *v, char *why,
                          size_t whylen) {
  size_t n = strlen(v);
  if (config_copy_str(r->host, sizeof r->host, v, why, whylen) < 0)
    return -1;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)v[i];
    if (isspace(ch) || ch == '/' || (ch == ':' && v[0] != '[')) {
      snprintf(why, whylen, "'%.64s' is not a host name without port", v);
      return -1;
    }
    r->host[i] = (char)tolower(ch);
  }
  if (v[0] == '[' && v[n - 1] != ']') {
    snprintf(why, whylen, "'%.64s' is not a host name without port", v);
    return -1;
  }
  return 0;
}

static int set_route_key(struct config_route *r, int k, const char *v,
                         char *why, size_t whylen) {
  switch (k) {
  case 0:
    return set_route_host(r, v, why, whylen);
  case 1:
    if (v[0] != '/') {
      snprintf(why, whylen, "'%.64s' does not start with '/'", v);
      return -1;
    }
    return config_copy_str(r->prefix, sizeof r->prefix, v, why, whylen);
  case 3:
    return config_parse_deliver(v, &r->deliver, why, whylen);
  default:
    if (v[0] == '\0') {
      snprintf(why, whylen, "empty backend name");
      return -1;
    }
    return config_copy_str(r->backend_name, sizeof r->backend_name, v, why,
                    whylen);
  }
}

static int add_server(struct config_backend *b, const char *v, char *why,
                      size_t whylen) {
  struct config_server *s;
  if (b->nservers == CONFIG_MAX_SERVERS) {
    snprintf(why, whylen, "too many servers (max %d)", CONFIG_MAX_SERVERS);
    return -1;
  }
  s = &b->servers[b->nservers];
  if (config_parse_addr(v, 0, s->host, sizeof s->host, &s->port, why,
                        whylen) < 0)
    return -1;
  b->nservers++;
  return 0;
}

/* unquote strips one pair of surrounding double quotes: inih passes them
 * through, and `access_log = ""` is the natural way to write "off". */
static int unquote(const char *v, char *out, size_t cap) {
  size_t n = strlen(v);
  if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
    v++;
    n -= 2;
  }
  if (n >= cap)
    return -1;
  memcpy(out, v, n);
  out[n] = '\0';
  return 0;
}

static int on_key(void *user, const char *section, const char *name,
                  const char *value) {
  struct load_ctx *x = user;
  struct config *c = x->c;
  char why[REASON_MAX];
  /* Every field is shorter than this, so longer is an error anyway. */
  char v[CONFIG_PATH_MAX + 1];
  int k = -1;
  int rc;

  if (x->err_line != 0)
    return 0;
  if (section[0] == '\0') {
    fail_at(x, x->lineno, "key '%s': outside any [section]", name);
    return 0;
  }
  /* inih repeats the section with every key; a header line read since the
   * last key, or a different name, starts a new one. */
  if (x->new_section || x->kind == SEC_NONE ||
      strcmp(section, x->section_raw) != 0) {
    if (begin_section(x, section) < 0)
      return 0;
  }
  if (unquote(value, v, sizeof v) < 0) {
    fail_at(x, x->lineno, "key '%s.%s': value is too long (max %d bytes)",
            x->section, name, CONFIG_PATH_MAX - 1);
    return 0;
  }

  switch (x->kind) {
  case SEC_GLOBAL: {
    const struct key_def *kd = config_find_key(x->section, name);
    if (kd == NULL)
      goto unknown;
    k = config_key_index(kd);
    if (x->gseen[k])
      goto duplicate;
    x->gseen[k] = true;
    rc = config_set_key(c, kd, v, why, sizeof why);
    break;
  }
  case SEC_LISTENER:
    k = key_index(listener_keys, ARRAY_SIZE(listener_keys), name);
    if (k < 0)
      goto unknown;
    if (x->seen & (1u << k))
      goto duplicate;
    x->seen |= 1u << k;
    rc = set_listener_key(&c->listeners[x->index], k, v, why, sizeof why);
    break;
  case SEC_BACKEND:
    if (strcmp(name, "server") != 0)
      goto unknown;
    rc = add_server(&c->backends[x->index], v, why, sizeof why);
    break;
  case SEC_ROUTE:
    k = key_index(route_keys, ARRAY_SIZE(route_keys), name);
    if (k < 0)
      goto unknown;
    if (x->seen & (1u << k))
      goto duplicate;
    x->seen |= 1u << k;
    rc = set_route_key(&c->routes[x->index], k, v, why, sizeof why);
    break;
  default:
    return 0;
  }
  if (rc < 0) {
    fail_at(x, x->lineno, "key '%s.%s': %s", x->section, name, why);
    return 0;
  }
  return 1;
unknown:
  fail_at(x, x->lineno, "key '%s.%s': unknown key", x->section, name);
  return 0;
duplicate:
  fail_at(x, x->lineno, "key '%s.%s': set twice in one section", x->section,
          name);
  return 0;
}

int config_load(struct config *c, const char *path, char *err,
                size_t errlen) {
  struct load_ctx *x = NULL;
  FILE *f = NULL;
  int r;

  if (strlen(path) >= sizeof c->source) {
    snprintf(err, errlen, "%.64s...: config path is too long", path);
    goto fail;
  }
  f = fopen(path, "r");
  if (f == NULL) {
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    goto fail;
  }
  x = xcalloc(1, sizeof *x);
  x->c = c;
  x->f = f;
  strcpy(c->source, path);

  /* Debian's inih makes its compile-time options runtime globals. Set the
   * ones we rely on every time, since they are process-wide:
   * - multiline off: otherwise an indented "key = v" line is taken as a
   *   continuation of the previous value, not as a key;
   * - a longer line buffer: the default 200 bytes cannot hold a path
   *   (with ini_use_stack the buffer is a VLA of ini_max_line bytes);
   * - stop at the first error, which is the only one we report. */
  ini_allow_multiline = false;
  ini_use_stack = true;
  ini_max_line = CONFIG_LINE_MAX;
  ini_stop_on_first_error = true;
  ini_allow_no_value = false;

  r = ini_parse_stream(read_line, x, on_key, x);
  if (x->err_line != 0 && (r <= 0 || r >= x->err_line)) {
    snprintf(err, errlen, "%s:%d: %s", path, x->err_line, x->err);
    goto fail;
  }
  if (r > 0) {
    /* inih rejected the line itself, so no handler saw it. */
    snprintf(err, errlen, "%s:%d: syntax error (expected [section] or "
             "key = value)", path, r);
    goto fail;
  }
  if (r < 0) {
    snprintf(err, errlen, "%s: cannot parse (inih error %d)", path, r);
    goto fail;
  }
  if (x->read_errno != 0) {
    snprintf(err, errlen, "%s: cannot read: %s", path,
             strerror(x->read_errno));
    goto fail;
  }
  free(x);
  fclose(f);
  return 0;
fail:
  free(x);
  if (f != NULL)
    fclose(f);
  return -1;
}
