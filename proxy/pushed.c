/* pushed.c: see pushed.h. The validator table is a fixed open-addressed
 * array keyed by a hash of authority and path: newer entries overwrite
 * older ones in their slot, which only means a resource is hashed with an
 * empty validator until herald sees it again. */
#include "proxy/pushed.h"

#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "base/http.h"
#include "base/util.h"

#define VALIDATOR_SLOTS 4096
#define VALIDATOR_MAX 96

struct validator_slot {
  uint64_t key; /* 0 = empty */
  uint8_t len;
  char v[VALIDATOR_MAX];
};

struct pushed_validators {
  struct validator_slot slots[VALIDATOR_SLOTS];
};

struct pushed_validators *pushed_validators_new(void) {
  return xcalloc(1, sizeof(struct pushed_validators));
}

void pushed_validators_free(struct pushed_validators *pv) { free(pv); }

static size_t path_len_no_query(const char *path, size_t plen) {
  const char *q = memchr(path, '?', plen);
  return q ? (size_t)(q - path) : plen;
}

static uint64_t slot_key(const char *authority, size_t alen, const char *path,
                         size_t plen) {
  uint64_t h = digest_hash(authority, alen, path, plen, "", 0);
  return h ? h : 1;
}

static const struct validator_slot *find(const struct pushed_validators *pv,
                                         uint64_t key) {
  const struct validator_slot *s = &pv->slots[key % VALIDATOR_SLOTS];
  return s->key == key ? s : NULL;
}

void pushed_note_validator(struct pushed_validators *pv, const char *authority,
                           size_t alen, const char *path, size_t plen,
                           const struct http_hdr *hdrs, size_t n) {
  const struct http_hdr *etag = NULL, *lm = NULL;
  for (size_t i = 0; i < n; i++) {
    if (util_strcaseeq(hdrs[i].name, hdrs[i].name_len, "etag"))
      etag = &hdrs[i];
    else if (util_strcaseeq(hdrs[i].name, hdrs[i].name_len, "last-modified"))
      lm = &hdrs[i];
  }
  const struct http_hdr *v = etag ? etag : lm;
  if (v == NULL || v->value_len == 0 || v->value_len > VALIDATOR_MAX)
    return;
  plen = path_len_no_query(path, plen);
  uint64_t key = slot_key(authority, alen, path, plen);
  struct validator_slot *s = &pv->slots[key % VALIDATOR_SLOTS];
  s->key = key;
  s->len = (uint8_t)v->value_len;
  memcpy(s->v, v->value, v->value_len);
}

void pushed_read_cookie(struct digest *d, const struct http_req *req) {
  digest_init(d);
  /* HTTP/2 clients may split Cookie into one field per cookie. */
  for (size_t i = 0; i < req->nhdrs; i++) {
    const struct http_hdr *h = &req->hdrs[i];
    if (util_strcaseeq(h->name, h->name_len, "cookie") &&
        digest_from_cookie_header(d, h->value, h->value_len) != 1)
      return;
  }
}

static uint64_t entry(const struct pushed_validators *pv, const char *authority,
                      size_t alen, const char *path, int with_validator) {
  size_t plen = strlen(path);
  const struct validator_slot *s =
      with_validator ? find(pv, slot_key(authority, alen, path, plen)) : NULL;
  return digest_hash(authority, alen, path, plen, s ? s->v : "",
                     s ? s->len : 0);
}

int pushed_has(const struct pushed_validators *pv, const struct digest *d,
               const char *authority, size_t alen, const char *path) {
  if (d->n == 0)
    return 0;
  return digest_contains(d, entry(pv, authority, alen, path, 1)) ||
         digest_contains(d, entry(pv, authority, alen, path, 0));
}

void pushed_add(const struct pushed_validators *pv, struct digest *d,
                const char *authority, size_t alen, const char *path) {
  uint64_t h = entry(pv, authority, alen, path, 1);
  if (digest_add(d, h) != 0) {
    digest_init(d);
    digest_add(d, h);
  }
}

size_t pushed_cookie(const struct digest *d, int https, char *out,
                     size_t cap) {
  char value[DIGEST_COOKIE_MAX];
  if (digest_encode(d, value, sizeof(value)) == 0)
    return 0;
  int n = snprintf(out, cap,
                   DIGEST_COOKIE_NAME "=%s; Path=/; Max-Age=604800; HttpOnly;"
                                      " SameSite=Lax%s",
                   value, https ? "; Secure" : "");
  return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}
