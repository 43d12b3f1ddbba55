/* preload.c: see preload.h. A small ring of (hash, urgency): a
 * connection's 103s name at most a few dozen URLs, so a linear scan is
 * cheaper than anything cleverer, and a request on a connection that never
 * got a 103 costs one NULL test. */
#include "proxy/preload.h"

#include <stdlib.h>
#include <string.h>

#include "learner/learn.h"
#include "base/util.h"

struct preload_set {
  uint64_t hash[PRELOAD_MAX]; /* 0: free */
  uint8_t urgency[PRELOAD_MAX];
  size_t next;                /* the slot the next name takes (the oldest) */
  size_t seen[LEARN_RANK_OTHER + 1]; /* per rank, in the current 103 */
};

static uint64_t url_hash(const char *authority, size_t alen, const char *path,
                         size_t plen) {
  uint64_t h = util_fnv1a(UTIL_FNV1A_INIT, authority, alen);
  h = util_fnv1a(h, "\n", 1);
  h = util_fnv1a(h, path, plen);
  return h != 0 ? h : 1;
}

uint8_t preload_urgency(uint8_t rank, size_t before) {
  switch (rank) {
  case LEARN_RANK_STYLE:
    return 0;
  case LEARN_RANK_SCRIPT:
    return 1;
  case LEARN_RANK_FONT:
    return (uint8_t)(2 + (before < 3 ? before : 3));
  default:
    return 6;
  }
}

void preload_note(struct preload_set **set, const char *authority,
                  size_t alen, const char *link, size_t llen, uint8_t rank,
                  size_t nth) {
  if (llen < 3 || link[0] != '<')
    return;
  const char *end = memchr(link, '>', llen);
  if (end == NULL || end == link + 1)
    return;
  if (*set == NULL)
    *set = xcalloc(1, sizeof(**set));
  struct preload_set *s = *set;
  if (nth == 0)
    memset(s->seen, 0, sizeof(s->seen));
  if (rank > LEARN_RANK_OTHER)
    rank = LEARN_RANK_OTHER;
  s->hash[s->next] =
      url_hash(authority, alen, link + 1, (size_t)(end - link - 1));
  s->urgency[s->next] = preload_urgency(rank, s->seen[rank]++);
  s->next = (s->next + 1) % PRELOAD_MAX;
}

int preload_take(struct preload_set *set, const char *authority, size_t alen,
                 const char *path, size_t plen) {
  if (set == NULL)
    return -1;
  uint64_t h = url_hash(authority, alen, path, plen);
  for (size_t i = 0; i < PRELOAD_MAX; i++) {
    if (set->hash[i] == h) {
      set->hash[i] = 0;
      return set->urgency[i];
    }
  }
  return -1;
}

void preload_free(struct preload_set *set) { free(set); }
