/* ctl_live.c: `heraldctl rules --live ADMIN`: the rules a running herald
 * has in force, asked of its admin listener (GET /rules, see
 * proxy/admin_rules.c), beside what the database holds.
 *
 * The two differ while a change is on its way (herald writes the rules
 * table and then publishes the same lists, one learner interval after a
 * setting changed), after `heraldctl learn` or `import` rewrote the
 * table under a running herald (it keeps serving its own until it
 * recomputes those keys), or when herald refused a stored rule (a
 * resource that is not a safe path on the page's own origin). A key the
 * database has and the snapshot leaves out is served its wider key's
 * list, which is the same by the learner's design, so it is not counted
 * as a difference.
 *
 * The request is one blocking HTTP/1.1 GET with a deadline; llhttp reads
 * the response and SQLite's JSON functions the body (store_live_rules). */
#include <errno.h>
#include <llhttp.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/util.h"
#include "learner/learn.h"
#include "store/store.h"
#include "tools/ctl.h"

#define LIVE_TIMEOUT_S 5
#define LIVE_MAX_BODY (64u << 20)

/* ---- the request ----------------------------------------------------- */

struct reply {
  char *body;
  size_t len, cap;
  int complete, too_big;
};

static int on_body(llhttp_t *p, const char *at, size_t n) {
  struct reply *r = p->data;
  if (r->len + n + 1 > LIVE_MAX_BODY) {
    r->too_big = 1;
    return -1;
  }
  if (r->len + n + 1 > r->cap) {
    while (r->len + n + 1 > r->cap)
      r->cap = r->cap ? r->cap * 2 : 65536;
    r->body = xrealloc(r->body, r->cap);
  }
  memcpy(r->body + r->len, at, n);
  r->len += n;
  r->body[r->len] = '\0';
  return 0;
}

static int on_complete(llhttp_t *p) {
  ((struct reply *)p->data)->complete = 1;
  return HPE_PAUSED;
}

/* dial connects to ADMIN: host:port, [v6]:port, or a bare port (on
 * 127.0.0.1, as herald's --admin takes it). Returns the socket or -1. */
static int dial(const char *admin) {
  char host[256], port[16];
  int p;
  if (admin[strspn(admin, "0123456789")] == '\0' && admin[0] != '\0') {
    snprintf(host, sizeof host, "127.0.0.1");
    p = atoi(admin);
  } else if (util_parse_hostport(admin, host, sizeof host, &p) != 0) {
    fprintf(stderr, "heraldctl: --live '%s': want host:port or a port\n",
            admin);
    return -1;
  }
  snprintf(port, sizeof port, "%d", p);
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_NUMERICSERV},
                  *ai;
  int rc = getaddrinfo(host, port, &hints, &ai);
  if (rc != 0) {
    fprintf(stderr, "heraldctl: --live %s: %s\n", admin, gai_strerror(rc));
    return -1;
  }
  int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
  struct timeval tv = {LIVE_TIMEOUT_S, 0};
  if (fd >= 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
    fprintf(stderr,
            "heraldctl: --live %s: %s (is herald running, with [admin]"
            " listen there?)\n",
            admin, strerror(errno));
    if (fd >= 0)
      close(fd);
    fd = -1;
  }
  freeaddrinfo(ai);
  return fd;
}

/* fetch GETs /rules from |admin| into |r|. */
static int fetch(const char *admin, struct reply *r) {
  int fd = dial(admin);
  if (fd < 0)
    return CTL_ERROR;
  char req[512];
  int n = snprintf(req, sizeof req,
                   "GET /rules HTTP/1.1\r\nHost: %s\r\nUser-Agent: heraldctl"
                   "\r\nConnection: close\r\n\r\n",
                   admin);
  llhttp_settings_t set;
  llhttp_settings_init(&set);
  set.on_body = on_body;
  set.on_message_complete = on_complete;
  llhttp_t parser;
  llhttp_init(&parser, HTTP_RESPONSE, &set);
  parser.data = r;
  int status = CTL_OK;
  /* MSG_NOSIGNAL: a peer that closed is an error line, not SIGPIPE. */
  if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
    fprintf(stderr, "heraldctl: --live %s: %s\n", admin, strerror(errno));
    status = CTL_ERROR;
  }
  char buf[65536];
  while (status == CTL_OK && !r->complete) {
    ssize_t got = read(fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      fprintf(stderr, "heraldctl: --live %s: %s\n", admin,
              errno == EAGAIN ? "no answer in 5 s" : strerror(errno));
      status = CTL_ERROR;
      break;
    }
    llhttp_errno_t e = got == 0 ? llhttp_finish(&parser)
                                : llhttp_execute(&parser, buf, (size_t)got);
    if (r->too_big || (e != HPE_OK && e != HPE_PAUSED) ||
        (got == 0 && !r->complete)) {
      fprintf(stderr, "heraldctl: --live %s: %s\n", admin,
              r->too_big ? "the answer is over 64 MiB"
                         : "not an HTTP answer (is that herald's admin"
                           " listener?)");
      status = CTL_ERROR;
    }
  }
  close(fd);
  if (status == CTL_OK && parser.status_code != 200) {
    fprintf(stderr, "heraldctl: --live %s: GET /rules answered %d%s\n", admin,
            parser.status_code,
            parser.status_code == 404 ? " (a herald without /rules?)" : "");
    status = CTL_ERROR;
  }
  if (status == CTL_OK && r->body == NULL)
    on_body(&parser, "", 0);
  return status;
}

/* ---- the lists ------------------------------------------------------- */

/* One key's served list: "resource channel\n" per rule, in order. */
struct list {
  char *key;
  int mobile;
  char *rules;
  size_t nrules;
  int found; /* in the other side */
};

struct lists {
  struct list *v;
  size_t n, cap;
};

static void add(struct lists *ls, const char *key, int mobile, const char *res,
                const char *channel) {
  struct list *l = ls->n > 0 ? &ls->v[ls->n - 1] : NULL;
  if (l == NULL || l->mobile != mobile || strcmp(l->key, key) != 0) {
    if (ls->n == ls->cap) {
      ls->cap = ls->cap ? ls->cap * 2 : 64;
      ls->v = xrealloc(ls->v, ls->cap * sizeof(*ls->v));
    }
    l = &ls->v[ls->n++];
    *l = (struct list){xstrdup(key), mobile, xstrdup(""), 0, 0};
  }
  if (res == NULL)
    return;
  size_t old = strlen(l->rules), len = strlen(res) + strlen(channel) + 2;
  l->rules = xrealloc(l->rules, old + len + 1);
  snprintf(l->rules + old, len + 1, "%s %s\n", res, channel);
  l->nrules++;
}

static void on_live(void *ud, const char *key, int mobile, const char *res,
                    const char *channel) {
  add(ud, key, mobile, res, channel);
}

static void on_db(void *ud, const char *key, int mobile,
                  const struct learn_rule *r) {
  struct lists *ls = ud;
  add(ls, key, mobile, NULL, NULL);
  if (r->channels != 0)
    add(ls, key, mobile, r->key, learn_channel_name(r->channels));
}

static int cmp_list(const void *a, const void *b) {
  const struct list *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  return c != 0 ? c : x->mobile - y->mobile;
}

static void lists_free(struct lists *ls) {
  for (size_t i = 0; i < ls->n; i++) {
    free(ls->v[i].key);
    free(ls->v[i].rules);
  }
  free(ls->v);
}

/* in_list says whether |rules| has the line "res channel". */
static int in_list(const char *rules, const char *line, size_t len) {
  for (const char *p = rules; *p != '\0';) {
    const char *nl = strchr(p, '\n');
    if ((size_t)(nl - p) == len && memcmp(p, line, len) == 0)
      return 1;
    p = nl + 1;
  }
  return 0;
}

/* ---- the command ----------------------------------------------------- */

struct diff {
  size_t keys, only_live, only_db, differ;
};

static void print_json(const struct ctl *c, const struct store_live *h,
                       const struct lists *live, const struct lists *db,
                       const struct diff *d) {
  printf("{\"admin\": ");
  ctl_json_str(c->live);
  printf(", \"gen\": %lld, \"truncated\": %s, \"keys\": %zu,"
         " \"same\": %s, \"differs\": [",
         (long long)h->gen, h->truncated ? "true" : "false", live->n,
         d->differ == 0 ? "true" : "false");
  size_t count = 0;
  for (size_t i = 0; i < live->n; i++) {
    const struct list *l = &live->v[i];
    struct list *o = bsearch(l, db->v, db->n, sizeof(*db->v), cmp_list);
    if (db->n > 0 && o != NULL && strcmp(o->rules, l->rules) == 0)
      continue;
    printf("%s\n  {\"key\": ", count++ ? "," : "");
    ctl_json_str(l->key);
    printf(", \"class\": \"%s\", \"live\": ", ctl_class_name(l->mobile));
    ctl_json_str(l->rules);
    fputs(", \"database\": ", stdout);
    if (db->n > 0 && o != NULL)
      ctl_json_str(o->rules);
    else
      fputs("null", stdout);
    putchar('}');
  }
  printf("%s]}\n", count ? "\n" : "");
}

static void print_table(const struct ctl *c, const struct lists *live,
                        const struct lists *db) {
  static const char *const head[] = {"KEY",      "CLASS",   "ORD",
                                     "RESOURCE", "CHANNEL", "DATABASE"};
  struct ctl_table t = {ARRAY_SIZE(head), head, "llrlll", NULL, 0, 0, "ggdddd"};
  for (size_t i = 0; i < live->n; i++) {
    const struct list *l = &live->v[i];
    if (c->page != NULL && !ctl_page_matches(l->key, c->page))
      continue;
    if (c->mobile >= 0 && c->mobile != l->mobile)
      continue;
    struct list *o =
        db->n > 0 ? bsearch(l, db->v, db->n, sizeof(*db->v), cmp_list) : NULL;
    int ord = 0;
    for (const char *p = l->rules; *p != '\0'; ord++) {
      const char *nl = strchr(p, '\n'), *sp = memchr(p, ' ', (size_t)(nl - p));
      char res[4096], ords[16];
      snprintf(res, sizeof res, "%.*s", (int)(sp - p), p);
      snprintf(ords, sizeof ords, "%d", ord);
      const char *row[] = {l->key, ctl_class_name(l->mobile),
                           ords,   ctl_short_key(l->key, res),
                           sp + 1, ""};
      char chan[16];
      snprintf(chan, sizeof chan, "%.*s", (int)(nl - sp - 1), sp + 1);
      row[4] = chan;
      row[5] = o == NULL                                ? "no key"
               : in_list(o->rules, p, (size_t)(nl - p)) ? "same"
                                                        : "not there";
      ctl_table_add(&t, row);
      p = nl + 1;
    }
  }
  ctl_table_print(&t);
}

int ctl_rules_live(const struct ctl *c) {
  struct reply r = {0};
  struct lists live = {0}, db = {0};
  struct store_live h = {0};
  int st = fetch(c->live, &r);
  if (st == CTL_OK && store_live_rules(c->s, r.body, &h, on_live, &live) != 0)
    st = ctl_store_error(c);
  if (st == CTL_OK && store_load_rules(c->s, on_db, &db) != 0)
    st = ctl_store_error(c);
  free(r.body);
  if (st != CTL_OK)
    goto done;
  if (live.n > 0)
    qsort(live.v, live.n, sizeof(*live.v), cmp_list);
  if (db.n > 0)
    qsort(db.v, db.n, sizeof(*db.v), cmp_list);
  struct diff d = {0};
  for (size_t i = 0; i < live.n; i++) {
    struct list *o =
        db.n > 0 ? bsearch(&live.v[i], db.v, db.n, sizeof(*db.v), cmp_list)
                 : NULL;
    if (o == NULL)
      d.only_live++;
    else
      o->found = 1;
    if (o == NULL || strcmp(o->rules, live.v[i].rules) != 0)
      d.differ++;
  }
  for (size_t i = 0; i < db.n; i++)
    d.only_db += !db.v[i].found;
  if (c->json) {
    print_json(c, &h, &live, &db, &d);
    goto done;
  }
  print_table(c, &live, &db);
  size_t nrules = 0;
  for (size_t i = 0; i < live.n; i++)
    nrules += live.v[i].nrules;
  printf("\nherald at %s serves %zu %s for %zu %s (snapshot %lld)%s\n", c->live,
         nrules, ctl_plural(nrules, "rule", "rules"), live.n,
         ctl_plural(live.n, "key", "keys"), (long long)h.gen,
         h.truncated ? ", more than /rules lists" : "");
  if (d.differ == 0)
    printf("the database holds the same lists for these keys\n");
  else
    printf("it differs from the database on %zu %s (%zu not in the"
           " database); herald writes what it serves at its next recompute"
           " of a key\n",
           d.differ, ctl_plural(d.differ, "key", "keys"), d.only_live);
  if (d.only_db > 0)
    printf("%zu more %s in the database: herald serves %s its wider key's"
           " list\n",
           d.only_db, ctl_plural(d.only_db, "key", "keys"),
           ctl_plural(d.only_db, "it", "them"));
done:
  lists_free(&live);
  lists_free(&db);
  return st;
}
