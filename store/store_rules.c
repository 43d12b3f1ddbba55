/* store_rules.c: the queries of the learner and heraldctl.
 *
 * The recorder writes visits (store.c); this file reads them back for a
 * replay, and reads and writes what the learner makes of them: rules,
 * decayed aggregates, settings and operator overrides. Like store.c it
 * only binds and steps statements prepared at open (their text is
 * store_rst_sql below), and SQLite's codes become UV_E* codes through
 * store_sqlerr. Rows that the learner writes refer to pages and resources
 * by id; a key the recorder has not seen yet (a pinned resource, a
 * template) gets its row here, with no visits. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/util.h"
#include "store/store.h"
#include "store/store_int.h"

const char *const store_rst_sql[RST_MAX] = {
    /* The no-op update makes RETURNING answer for an existing row too. */
    [RST_PAGE] =
        "INSERT INTO pages(key, is_template, first_seen, last_seen, visits)"
        " VALUES(?1, ?2, ?3, ?3, 0)"
        " ON CONFLICT(key) DO UPDATE SET key = excluded.key"
        " RETURNING id",
    /* What a recorded 200 said about the resource wins over the learner's
     * copy; the learner's only fills gaps. */
    [RST_RESOURCE] =
        "INSERT INTO resources(key, dest, bytes, first_seen, last_seen)"
        " VALUES(?1, ?2, ?3, ?4, ?4)"
        " ON CONFLICT(key) DO UPDATE SET"
        " dest = coalesce(dest, excluded.dest),"
        " bytes = coalesce(bytes, excluded.bytes)"
        " RETURNING id",
    [RST_DELETE_RULES] = "DELETE FROM rules WHERE page_id = ?1 AND class = ?2",
    [RST_INSERT_RULE] =
        "INSERT INTO rules(page_id, class, resource_id, ord, channel,"
        " confidence, wilson, n, k, clients, bytes, state, updated_at,"
        " level, rank, dest, depth, delay_ms, urgency, pushable)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
        " ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
    [RST_PUT_AGGREGATE] =
        "INSERT INTO aggregates(page_id, class, resource_id, k, n, clients,"
        " median_delay_ms, depth, bytes, pushable, last_visit)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
        " ON CONFLICT(page_id, class, resource_id) DO UPDATE SET"
        " k = excluded.k, n = excluded.n, clients = excluded.clients,"
        " median_delay_ms = excluded.median_delay_ms,"
        " depth = excluded.depth, bytes = excluded.bytes,"
        " pushable = excluded.pushable, last_visit = excluded.last_visit",
    /* Rows the learner did not place (ord -1: blocked) come after the
     * served ones. */
    [RST_LOAD_RULES] =
        "SELECT p.key, r.class, res.key, coalesce(r.dest, res.dest), r.depth,"
        " r.state, r.channel, r.ord, r.k, r.n, r.confidence, r.wilson,"
        " r.clients, r.bytes, r.delay_ms, r.pushable, r.level, r.rank,"
        " r.urgency"
        " FROM rules r"
        " JOIN pages p ON p.id = r.page_id"
        " JOIN resources res ON res.id = r.resource_id"
        " ORDER BY p.key, r.class, r.ord < 0, r.ord, res.key",
    [RST_VISITS] =
        "SELECT v.id, p.key, t.key, v.class, v.client_token, v.started_at,"
        " v.load_ms, v.bytes, v.network"
        " FROM visits v"
        " JOIN pages p ON p.id = v.page_id"
        " JOIN pages t ON t.id = v.template_id"
        " WHERE v.exact_urls = 1"
        " ORDER BY v.started_at, v.id",
    [RST_VISIT_REQS] =
        "SELECT vr.seq, res.key, vr.method, vr.content_type, vr.status,"
        " vr.dest, vr.depth, vr.parent_seq, vr.pushable, vr.already_had,"
        " vr.pushed, vr.hinted, vr.delay_ms, vr.bytes, vr.delivered,"
        " vr.urgency"
        " FROM visit_requests vr"
        " JOIN resources res ON res.id = vr.resource_id"
        " WHERE vr.visit_id = ?1 ORDER BY vr.seq",
    [RST_VISIT_NAMED] =
        "SELECT res.key, vn.channel FROM visit_named vn"
        " JOIN resources res ON res.id = vn.resource_id"
        " WHERE vn.visit_id = ?1 ORDER BY res.key",
    [RST_VISIT_DECLARED] =
        "SELECT res.key, vd.dest, vd.source FROM visit_declared vd"
        " JOIN resources res ON res.id = vd.resource_id"
        " WHERE vd.visit_id = ?1 ORDER BY res.key",
    [RST_GET_SETTING] =
        "SELECT value FROM settings WHERE scope = ?1 AND name = ?2",
    [RST_SET_SETTING] =
        "INSERT INTO settings(scope, name, value) VALUES(?1, ?2, ?3)"
        " ON CONFLICT(scope, name) DO UPDATE SET value = excluded.value",
    [RST_OVERRIDES] = "SELECT page_key, resource_key, action FROM overrides"
                      " ORDER BY page_key, resource_key",
    /* A (page, class) is listed when it has a retained visit (as page or
     * as template) or a rule. */
    [RST_PAGES] = "SELECT p.key, p.is_template, c.class, p.visits,"
                  " (SELECT count(*) FROM rules r WHERE r.page_id = p.id"
                  "  AND r.class = c.class AND r.channel IN ('push', 'hint')),"
                  " p.last_seen"
                  " FROM pages p JOIN ("
                  "  SELECT page_id AS id, class FROM visits"
                  "  UNION SELECT template_id, class FROM visits"
                  "  UNION SELECT page_id, class FROM rules) c ON c.id = p.id"
                  " ORDER BY p.key, c.class",
    [RST_OUTCOMES] =
        "SELECT o.promised, o.completed, o.cancelled, o.wasted, o.hinted,"
        " o.hinted_used FROM push_outcomes o"
        " JOIN pages p ON p.id = o.page_id"
        " JOIN resources r ON r.id = o.resource_id"
        " WHERE p.key = ?1 AND o.class = ?2 AND r.key = ?3",
};

static const char *class_name(int mobile) {
  return mobile ? "mobile" : "desktop";
}

/* A key is a template when pagekey folded a segment (":id") or a
 * configured pattern matched (its '*' segments stay in the key). */
static int looks_like_template(const char *key) {
  return strstr(key, "/:id") != NULL || strstr(key, "/*") != NULL;
}

static int page_id(struct store *s, const char *key, int64_t now, int64_t *id) {
  sqlite3_stmt *st = store_rst(s, RST_PAGE);
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, looks_like_template(key));
  sqlite3_bind_int64(st, 3, now);
  return store_step_id(s, st, "rules: page", id);
}

static int resource_id(struct store *s, const struct learn_rule *r, int64_t now,
                       int64_t *id) {
  sqlite3_stmt *st = store_rst(s, RST_RESOURCE);
  sqlite3_bind_text(st, 1, r->key, -1, SQLITE_STATIC);
  if (r->dest != OBS_DEST_NONE)
    sqlite3_bind_int(st, 2, r->dest);
  if (r->bytes > 0)
    sqlite3_bind_int64(st, 3, (int64_t)r->bytes);
  sqlite3_bind_int64(st, 4, now);
  return store_step_id(s, st, "rules: resource", id);
}

static uint32_t channel_bits(const char *t) {
  if (strcmp(t, "push") == 0)
    return LEARN_PUSH | LEARN_HINT; /* push means push and hint */
  if (strcmp(t, "hint") == 0)
    return LEARN_HINT;
  return 0;
}

static uint8_t state_value(const char *t) {
  if (strcmp(t, "pinned") == 0)
    return LEARN_PINNED;
  if (strcmp(t, "blocked") == 0)
    return LEARN_BLOCKED;
  return LEARN_LEARNED;
}

static int insert_rule(struct store *s, int64_t pid, int mobile,
                       const struct learn_rule *r, int64_t now) {
  int64_t rid;
  int rv = resource_id(s, r, now, &rid);
  if (rv != 0)
    return rv;
  sqlite3_stmt *st = store_rst(s, RST_INSERT_RULE);
  sqlite3_bind_int64(st, 1, pid);
  sqlite3_bind_text(st, 2, class_name(mobile), -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, rid);
  sqlite3_bind_int(st, 4, r->ord);
  sqlite3_bind_text(st, 5, learn_channel_name(r->channels), -1,
                    SQLITE_STATIC);
  sqlite3_bind_double(st, 6, r->confidence);
  sqlite3_bind_double(st, 7, r->wilson);
  sqlite3_bind_double(st, 8, r->n);
  sqlite3_bind_double(st, 9, r->k);
  sqlite3_bind_int(st, 10, r->clients);
  sqlite3_bind_int64(st, 11, (int64_t)r->bytes);
  sqlite3_bind_text(st, 12, learn_state_name(r->state), -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 13, now);
  sqlite3_bind_text(st, 14, learn_level_name(r->level), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 15, learn_rank_name(r->rank), -1, SQLITE_STATIC);
  if (r->dest != OBS_DEST_NONE)
    sqlite3_bind_int(st, 16, r->dest);
  sqlite3_bind_int(st, 17, r->depth);
  sqlite3_bind_int64(st, 18, r->median_delay_ms);
  if (r->urgency != VISIT_URGENCY_NONE)
    sqlite3_bind_int(st, 19, r->urgency);
  sqlite3_bind_int(st, 20, r->pushable);
  return store_step(s, st, "rules: insert");
}

int store_replace_rules(struct store *s, const char *page_key, int mobile,
                        const struct learn_rule *rules, size_t n,
                        int64_t now_ms) {
  int64_t pid;
  int rv = page_id(s, page_key, now_ms, &pid);
  if (rv != 0)
    return rv;
  sqlite3_stmt *st = store_rst(s, RST_DELETE_RULES);
  sqlite3_bind_int64(st, 1, pid);
  sqlite3_bind_text(st, 2, class_name(mobile), -1, SQLITE_STATIC);
  rv = store_step(s, st, "rules: delete");
  for (size_t i = 0; rv == 0 && i < n; i++) {
    const struct learn_rule *r = &rules[i];
    /* Near misses (no channel, learned) explain; they are not rules. */
    if (r->channels != 0 || r->state == LEARN_PINNED ||
        r->state == LEARN_BLOCKED)
      rv = insert_rule(s, pid, mobile, r, now_ms);
  }
  return rv;
}

int store_put_aggregate(struct store *s, const char *page_key, int mobile,
                        const struct learn_rule *r, int pushable,
                        int64_t now_ms) {
  int64_t pid, rid;
  int rv = page_id(s, page_key, now_ms, &pid);
  if (rv == 0)
    rv = resource_id(s, r, now_ms, &rid);
  if (rv != 0)
    return rv;
  sqlite3_stmt *st = store_rst(s, RST_PUT_AGGREGATE);
  sqlite3_bind_int64(st, 1, pid);
  sqlite3_bind_text(st, 2, class_name(mobile), -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, rid);
  sqlite3_bind_double(st, 4, r->k);
  sqlite3_bind_double(st, 5, r->n);
  sqlite3_bind_int(st, 6, r->clients);
  sqlite3_bind_int64(st, 7, r->median_delay_ms);
  sqlite3_bind_int(st, 8, r->depth);
  sqlite3_bind_int64(st, 9, (int64_t)r->bytes);
  sqlite3_bind_int(st, 10, !!pushable);
  sqlite3_bind_int64(st, 11, now_ms);
  return store_step(s, st, "aggregates: put");
}

/* finish ends a SELECT: |rc| is the last sqlite3_step result. */
static int finish(struct store *s, sqlite3_stmt *st, int rc, const char *what) {
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE ? 0 : store_sqlerr(s, rc, what);
}

static int64_t clamp(int64_t v, int64_t lo, int64_t hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

int store_load_rules(struct store *s, store_rule_cb cb, void *ud) {
  sqlite3_stmt *st = store_rst(s, RST_LOAD_RULES);
  int rc;
  struct learn_rule r;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    memset(&r, 0, sizeof r);
    snprintf(r.key, sizeof r.key, "%s", store_text(st, 2));
    r.dest = (uint8_t)clamp(sqlite3_column_int64(st, 3), 0, UINT8_MAX);
    r.depth = (uint8_t)clamp(sqlite3_column_int64(st, 4), 0, UINT8_MAX);
    r.state = state_value(store_text(st, 5));
    r.channels = channel_bits(store_text(st, 6));
    r.ord = (int)clamp(sqlite3_column_int64(st, 7), -1, INT32_MAX);
    r.k = sqlite3_column_double(st, 8);
    r.n = sqlite3_column_double(st, 9);
    r.confidence = sqlite3_column_double(st, 10);
    r.wilson = sqlite3_column_double(st, 11);
    r.clients = (int)clamp(sqlite3_column_int64(st, 12), 0, INT32_MAX);
    r.bytes = (uint64_t)clamp(sqlite3_column_int64(st, 13), 0, INT64_MAX);
    r.median_delay_ms =
        (uint32_t)clamp(sqlite3_column_int64(st, 14), 0, UINT32_MAX);
    /* Without counts, a rule with a channel was pushable when made. */
    r.pushable = sqlite3_column_type(st, 15) != SQLITE_NULL
                     ? sqlite3_column_int(st, 15) != 0
                     : r.channels != 0;
    int level = learn_level_parse(store_text(st, 16));
    r.level = (uint8_t)(level < 0 ? LEARN_PAGE : level);
    r.urgency = sqlite3_column_type(st, 18) != SQLITE_NULL
                    ? (uint8_t)clamp(sqlite3_column_int64(st, 18), 0, 7)
                    : VISIT_URGENCY_NONE;
    r.rank = learn_rank_of(r.dest, r.urgency);
    cb(ud, store_text(st, 0), strcmp(store_text(st, 1), "mobile") == 0, &r);
  }
  return finish(s, st, rc, "load rules");
}

/* load_reqs fills |v|'s requests from the rows of visit |id|, growing
 * |*reqs| (|*cap| entries) as needed. parent_seq names a seq; requests
 * are numbered by seq from 0 when written, so the seq is the index, but a
 * gap (a hand-edited file) must not make a parent point past itself. */
static int load_reqs(struct store *s, int64_t id, struct visit *v,
                     struct visit_req **reqs, size_t *cap) {
  sqlite3_stmt *st = store_rst(s, RST_VISIT_REQS);
  int rc;
  sqlite3_bind_int64(st, 1, id);
  v->nreqs = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (v->nreqs == *cap) {
      *cap = *cap != 0 ? *cap * 2 : 64;
      *reqs = xrealloc(*reqs, *cap * sizeof(**reqs));
    }
    struct visit_req *r = &(*reqs)[v->nreqs];
    memset(r, 0, sizeof(*r));
    int64_t seq = sqlite3_column_int64(st, 0);
    snprintf(r->key, sizeof r->key, "%s", store_text(st, 1));
    snprintf(r->method, sizeof r->method, "%s", store_text(st, 2));
    snprintf(r->content_type, sizeof r->content_type, "%s", store_text(st, 3));
    r->status = (uint16_t)clamp(sqlite3_column_int64(st, 4), 0, UINT16_MAX);
    r->dest = (uint8_t)clamp(sqlite3_column_int64(st, 5), 0, UINT8_MAX);
    r->depth = (uint8_t)clamp(sqlite3_column_int64(st, 6), 0, UINT8_MAX);
    r->parent = -1;
    if (sqlite3_column_type(st, 7) != SQLITE_NULL) {
      int64_t p = sqlite3_column_int64(st, 7);
      if (p >= 0 && p < seq && p < (int64_t)v->nreqs)
        r->parent = (int)p;
    }
    if (sqlite3_column_int(st, 8))
      r->flags |= VISIT_REQ_PUSHABLE;
    if (sqlite3_column_int(st, 9))
      r->flags |= VISIT_REQ_ALREADY_HAD;
    if (sqlite3_column_int(st, 10))
      r->flags |= VISIT_REQ_PUSHED;
    if (sqlite3_column_int(st, 11))
      r->flags |= VISIT_REQ_HINTED;
    r->delay_ms = (uint32_t)clamp(sqlite3_column_int64(st, 12), 0, UINT32_MAX);
    r->bytes = (uint64_t)clamp(sqlite3_column_int64(st, 13), 0, INT64_MAX);
    if (sqlite3_column_int(st, 14))
      r->flags |= VISIT_REQ_DELIVERED;
    r->urgency = sqlite3_column_type(st, 15) != SQLITE_NULL
                     ? (uint8_t)clamp(sqlite3_column_int64(st, 15), 0, 7)
                     : VISIT_URGENCY_NONE;
    v->nreqs++;
  }
  v->reqs = *reqs;
  return finish(s, st, rc, "replay: requests");
}

/* load_named fills |v|'s named set from the rows of visit |id|. */
static int load_named(struct store *s, int64_t id, struct visit *v,
                      struct visit_named **named, size_t *cap) {
  sqlite3_stmt *st = store_rst(s, RST_VISIT_NAMED);
  int rc;
  sqlite3_bind_int64(st, 1, id);
  v->nnamed = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (v->nnamed == *cap) {
      *cap = *cap != 0 ? *cap * 2 : 16;
      *named = xrealloc(*named, *cap * sizeof(**named));
    }
    struct visit_named *n = &(*named)[v->nnamed++];
    snprintf(n->key, sizeof n->key, "%s", store_text(st, 0));
    n->channel = strcmp(store_text(st, 1), "push") == 0 ? VISIT_NAMED_PUSH
                                                      : VISIT_NAMED_HINT;
  }
  v->named = *named;
  return finish(s, st, rc, "replay: named");
}

/* load_declared fills |v|'s declared set from the rows of visit |id|
 * (at most OBS_DECLARED_MAX, as recorded). */
static int load_declared(struct store *s, int64_t id, struct visit *v,
                         struct visit_declared *declared) {
  sqlite3_stmt *st = store_rst(s, RST_VISIT_DECLARED);
  int rc;
  sqlite3_bind_int64(st, 1, id);
  v->ndeclared = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW &&
         v->ndeclared < OBS_DECLARED_MAX) {
    struct visit_declared *d = &declared[v->ndeclared++];
    snprintf(d->key, sizeof d->key, "%s", store_text(st, 0));
    d->dest = (uint8_t)clamp(sqlite3_column_int64(st, 1), 0, UINT8_MAX);
    const char *src = store_text(st, 2);
    d->flags = strcmp(src, "103") == 0    ? VISIT_DECL_EARLY
               : strcmp(src, "both") == 0 ? VISIT_DECL_EARLY | VISIT_DECL_LINK
                                          : VISIT_DECL_LINK;
  }
  v->declared = declared;
  if (rc == SQLITE_ROW)
    rc = SQLITE_DONE; /* the rest are past the cap, as when recorded */
  return finish(s, st, rc, "replay: declared");
}

/* blob_col copies column |col| into |out| (|n| bytes), zero-filled where
 * it is NULL or shorter. */
static void blob_col(sqlite3_stmt *st, int col, uint8_t *out, size_t n) {
  memset(out, 0, n);
  size_t len = (size_t)sqlite3_column_bytes(st, col);
  const void *p = sqlite3_column_blob(st, col);
  if (p != NULL)
    memcpy(out, p, len < n ? len : n);
}

int store_replay_visits(struct store *s, store_visit_cb cb, void *ud) {
  sqlite3_stmt *st = store_rst(s, RST_VISITS);
  struct visit *v = xcalloc(1, sizeof(*v));
  /* Never NULL, even for a visit without requests. */
  size_t cap = 64, ncap = 0;
  struct visit_req *reqs = xmalloc(cap * sizeof(*reqs));
  struct visit_named *named = NULL;
  struct visit_declared *declared =
      xmalloc(OBS_DECLARED_MAX * sizeof(*declared));
  int rc, rv = 0;
  /* One visit at a time: the visits statement stays open while each
   * visit's requests are read, so memory is one visit's worth. */
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(st, 0);
    snprintf(v->page_key, sizeof v->page_key, "%s", store_text(st, 1));
    snprintf(v->template_key, sizeof v->template_key, "%s", store_text(st, 2));
    v->mobile = strcmp(store_text(st, 3), "mobile") == 0;
    blob_col(st, 4, v->client_token, sizeof v->client_token);
    v->start_ms = (uint64_t)clamp(sqlite3_column_int64(st, 5), 0, INT64_MAX);
    v->load_ms = (uint64_t)clamp(sqlite3_column_int64(st, 6), 0, INT64_MAX);
    v->bytes = (uint64_t)clamp(sqlite3_column_int64(st, 7), 0, INT64_MAX);
    /* NULL (before schema v3): all zero, one network for all of them. */
    blob_col(st, 8, v->network, sizeof v->network);
    rv = load_reqs(s, id, v, &reqs, &cap);
    if (rv == 0)
      rv = load_named(s, id, v, &named, &ncap);
    if (rv == 0)
      rv = load_declared(s, id, v, declared);
    if (rv != 0)
      break;
    cb(ud, v);
  }
  if (rv != 0) {
    sqlite3_reset(st);
  } else {
    rv = finish(s, st, rc, "replay: visits");
  }
  free(reqs);
  free(named);
  free(declared);
  free(v);
  return rv;
}

int store_get_setting(struct store *s, const char *scope, const char *name,
                      char *out, size_t cap) {
  sqlite3_stmt *st = store_rst(s, RST_GET_SETTING);
  sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  int rv = UV_ENOENT;
  if (rc == SQLITE_ROW) {
    const char *t = store_text(st, 0);
    if (cap == 0 || strlen(t) >= cap) {
      store_seterr(s, "setting %s.%s: value longer than %zu bytes", scope, name,
                   cap);
      rv = UV_ENOBUFS;
    } else {
      memcpy(out, t, strlen(t) + 1);
      rv = 0;
    }
    rc = SQLITE_DONE;
  }
  int e = finish(s, st, rc, "get setting");
  return e != 0 ? e : rv;
}

int store_set_setting(struct store *s, const char *scope, const char *name,
                      const char *value) {
  sqlite3_stmt *st = store_rst(s, RST_SET_SETTING);
  sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC);
  return store_step(s, st, "set setting");
}

int store_load_overrides(struct store *s, store_override_cb cb, void *ud) {
  sqlite3_stmt *st = store_rst(s, RST_OVERRIDES);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    cb(ud, store_text(st, 0), store_text(st, 1), store_text(st, 2));
  return finish(s, st, rc, "load overrides");
}

int store_list_pages(struct store *s, store_page_cb cb, void *ud) {
  sqlite3_stmt *st = store_rst(s, RST_PAGES);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    struct store_page p = {
        .key = store_text(st, 0),
        .is_template = sqlite3_column_int(st, 1),
        .mobile = strcmp(store_text(st, 2), "mobile") == 0,
        .visits = sqlite3_column_int64(st, 3),
        .rules = sqlite3_column_int64(st, 4),
        .last_seen_ms = sqlite3_column_int64(st, 5),
    };
    cb(ud, &p);
  }
  return finish(s, st, rc, "list pages");
}
