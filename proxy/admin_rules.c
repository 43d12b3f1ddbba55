/* admin_rules.c: GET /rules on the admin listener: the rules the running
 * herald has in force, as JSON, from the snapshot the loop holds (so
 * it answers what the next navigation gets, not what the database says).
 *
 * It runs on the loop thread, like every admin request, but only when an
 * operator asks: it walks the snapshot once and stops at ADMIN_RULES_MAX
 * keys or ADMIN_RULES_BYTES of body ("truncated": true), so a large
 * snapshot cannot hold the loop for long. ?key=K answers for one key
 * (exact, every class). The document:
 *
 *   {"gen": 7, "pages": 3, "rules": 9, "truncated": false,
 *    "keys": [{"key": "https://a.example/", "class": "desktop",
 *              "rules": [{"resource": "https://a.example/app.css",
 *                         "rank": "style", "channel": "push",
 *                         "bytes": 1234}, ...]}, ...]}
 *
 * A key present with an empty list is one the learner serves nothing on
 * although a wider key serves something; a key absent is served its
 * wider key's list (learner/ruleset.h). */
#include <stdio.h>
#include <string.h>

#include "learner/ruleset.h"
#include "proxy/admin.h"
#include "proxy/loop.h"
#include "proxy/server.h"
#include "store/rows.h"

/* json_str appends |s| as a JSON string; keys come from request paths,
 * so quotes, backslashes and control bytes are escaped, and each byte
 * outside printable ASCII is written \u00XX: always valid JSON, and a
 * key a browser sends (percent-encoded) is printable ASCII anyway. */
static void json_str(struct mbuf *b, const char *s) {
  mbuf_printf(b, "\"");
  for (; *s != '\0'; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      mbuf_printf(b, "\\%c", c);
    else if (c < 0x20 || c >= 0x7f)
      mbuf_printf(b, "\\u%04x", c);
    else
      mbuf_printf(b, "%c", c);
  }
  mbuf_printf(b, "\"");
}

/* query_key copies the ?key= value of |query| (percent-decoded) into
 * |out|; 0 when there is none. */
static int query_key(const char *query, size_t n, char *out, size_t cap) {
  const char *p = query;
  const char *end = query + n;
  while (p < end) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *stop = amp != NULL ? amp : end;
    if (stop - p > 4 && memcmp(p, "key=", 4) == 0) {
      size_t len = 0;
      for (const char *q = p + 4; q < stop && len + 1 < cap; q++) {
        unsigned v;
        if (*q == '%' && stop - q > 2 && sscanf(q + 1, "%2x", &v) == 1) {
          out[len++] = (char)v;
          q += 2;
        } else {
          out[len++] = *q == '+' ? ' ' : *q;
        }
      }
      out[len] = '\0';
      return len > 0;
    }
    p = stop + 1;
  }
  return 0;
}

void admin_rules(struct server *srv, const char *query, size_t qlen,
                 struct mbuf *b) {
  /* The admin listener runs on the main loop: its snapshot, which every
   * loop is handed alike. */
  const struct ruleset *rs = server_loop(srv)->rules;
  char want[ADMIN_MAX_URL];
  int one = query != NULL && query_key(query, qlen, want, sizeof want);
  mbuf_printf(b, "{\"gen\": %llu, \"pages\": %zu, \"rules\": %zu, \"keys\": [",
              (unsigned long long)ruleset_gen(rs), ruleset_pages(rs),
              ruleset_rules(rs));
  size_t nkeys = 0;
  int truncated = 0;
  uint32_t n = ruleset_nslots(rs);
  for (uint32_t slot = 0; slot < n; slot++) {
    int mobile;
    const char *key = ruleset_slot_key(rs, slot, &mobile);
    if (key == NULL || (one && strcmp(key, want) != 0))
      continue;
    if (nkeys == ADMIN_RULES_MAX || b->len > ADMIN_RULES_BYTES) {
      truncated = 1;
      break;
    }
    const struct ruleset_page *p = ruleset_at(rs, slot);
    mbuf_printf(b, "%s\n {\"key\": ", nkeys++ ? "," : "");
    json_str(b, key);
    mbuf_printf(b, ", \"class\": \"%s\", \"rules\": [",
                mobile ? "mobile" : "desktop");
    for (size_t i = 0; i < p->n; i++) {
      const struct ruleset_entry *e = &p->entries[i];
      mbuf_printf(b, "%s{\"resource\": ", i ? ", " : "");
      json_str(b, e->key);
      mbuf_printf(b, ", \"rank\": \"%s\", \"channel\": \"%s\", \"bytes\": %u}",
                  learn_rank_name(e->rank), learn_channel_name(e->channels),
                  (unsigned)e->bytes);
    }
    mbuf_printf(b, "]}");
  }
  mbuf_printf(b, "%s], \"truncated\": %s}\n", nkeys ? "\n" : "",
              truncated ? "true" : "false");
}
