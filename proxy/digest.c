/* digest.c: see digest.h for the set, its wire format and its bounds. */
#include "proxy/digest.h"

#include <string.h>

#include "base/util.h"

#define DOMAIN ((uint32_t)1 << DIGEST_DOMAIN_BITS)
#define MAX_K DIGEST_DOMAIN_BITS
/* Raw bytes behind the longest cookie value accepted. */
#define RAW_MAX (DIGEST_COOKIE_MAX / 4 * 3)

/* The bound digest.h promises. With k = 7 a full set costs n * (k + 1)
 * bits plus at most DOMAIN >> k for the one-bits (the deltas sum to less
 * than DOMAIN), the encoder never picks a longer k, and smaller sets cost
 * less. Header: version, k, and a two-byte varint for n <= 16383. */
#define WORST_BITS (DIGEST_MAX_ENTRIES * 8 + (DOMAIN >> 7))
#define WORST_RAW (4 + (WORST_BITS + 7) / 8)
#define WORST_B64 ((WORST_RAW * 8 + 5) / 6)
_Static_assert(DIGEST_DOMAIN_BITS <= 16, "entries are stored in uint16_t");
_Static_assert(DIGEST_MAX_ENTRIES <= 16383, "n is a two-byte varint");
_Static_assert(WORST_B64 == 774, "digest.h documents 774");
_Static_assert(WORST_B64 < DIGEST_COOKIE_MAX, "a full set must fit");

void digest_init(struct digest *d) { d->n = 0; }

/* fnv1a_len feeds a field's length, so ("ab", "c") and ("a", "bc") differ. */
static uint64_t fnv1a_len(uint64_t h, size_t n) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++)
    b[i] = (uint8_t)((uint64_t)n >> (8 * i));
  return util_fnv1a(h, b, sizeof(b));
}

/* FNV-1a, then the fmix64 finaliser: FNV-1a alone mixes the last bytes
 * poorly into the top bits, and the top bits are what the set keeps. The
 * hash need not be secret: a forged cookie only stops pushes to the
 * browser that sends it. */
uint64_t digest_hash(const char *authority, size_t alen, const char *path,
                     size_t plen, const char *validator, size_t vlen) {
  uint64_t h = UTIL_FNV1A_INIT;
  h = util_fnv1a(fnv1a_len(h, alen), authority, alen);
  h = util_fnv1a(fnv1a_len(h, plen), path, plen);
  h = util_fnv1a(fnv1a_len(h, vlen), validator, vlen);
  return util_mix64(h);
}

static uint16_t reduce(uint64_t hash) {
  return (uint16_t)(hash >> (64 - DIGEST_DOMAIN_BITS));
}

/* lower_bound returns the index of the first entry >= |x|. */
static size_t lower_bound(const struct digest *d, uint16_t x) {
  size_t lo = 0, hi = d->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (d->v[mid] < x)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

int digest_contains(const struct digest *d, uint64_t hash) {
  uint16_t x = reduce(hash);
  size_t i = lower_bound(d, x);
  return i < d->n && d->v[i] == x;
}

int digest_add(struct digest *d, uint64_t hash) {
  uint16_t x = reduce(hash);
  size_t i = lower_bound(d, x);
  if (i < d->n && d->v[i] == x)
    return 0;
  if (d->n == DIGEST_MAX_ENTRIES)
    return -1;
  memmove(&d->v[i + 1], &d->v[i], (d->n - i) * sizeof(d->v[0]));
  d->v[i] = x;
  d->n++;
  return 0;
}

/* ---- base64url, no padding ------------------------------------------- */

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t b64url_len(size_t n) { return (n * 8 + 5) / 6; }

/* b64url_encode writes b64url_len(|n|) characters to |out|. */
static void b64url_encode(const uint8_t *in, size_t n, char *out) {
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    acc = (acc << 8) | in[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      *out++ = b64url[(acc >> bits) & 63];
    }
  }
  if (bits > 0)
    *out++ = b64url[(acc << (6 - bits)) & 63];
}

static int b64url_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

/* b64url_decode decodes |n| characters into |out| (room for n * 3 / 4
 * bytes) and returns the byte count, or -1 on a character outside the
 * alphabet, a length no encoding has (n % 4 == 1), or unused low bits that
 * are not zero: each byte string has exactly one accepted encoding. */
static long b64url_decode(const char *in, size_t n, uint8_t *out) {
  if (n % 4 == 1)
    return -1;
  uint32_t acc = 0;
  int bits = 0;
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64url_value((unsigned char)in[i]);
    if (v < 0)
      return -1;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (uint8_t)(acc >> bits);
    }
  }
  if ((acc & ((1u << bits) - 1)) != 0)
    return -1;
  return (long)o;
}

/* ---- Golomb-Rice bit stream ------------------------------------------ */

/* bits_put appends the low |nbits| bits of |x|, most significant first,
 * to the zeroed buffer |buf|; |*pos| counts bits written. */
static void bits_put(uint8_t *buf, size_t *pos, uint32_t x, int nbits) {
  for (int i = nbits - 1; i >= 0; i--) {
    if ((x >> i) & 1)
      buf[*pos >> 3] |= (uint8_t)(0x80 >> (*pos & 7));
    (*pos)++;
  }
}

struct bitreader {
  const uint8_t *buf;
  size_t pos, end; /* in bits */
};

/* bits_get reads one bit into |*bit|; -1 past the end. */
static int bits_get(struct bitreader *r, int *bit) {
  if (r->pos >= r->end)
    return -1;
  *bit = (r->buf[r->pos >> 3] >> (7 - (r->pos & 7))) & 1;
  r->pos++;
  return 0;
}

/* delta returns the i-th Golomb-Rice input of |d| (see digest.h). */
static uint32_t delta(const struct digest *d, size_t i) {
  return i == 0 ? d->v[0] : (uint32_t)(d->v[i] - d->v[i - 1] - 1);
}

/* coded_bits returns the bit-stream length of |d| with parameter |k|. */
static size_t coded_bits(const struct digest *d, int k) {
  size_t bits = d->n * (size_t)(k + 1);
  for (size_t i = 0; i < d->n; i++)
    bits += delta(d, i) >> k;
  return bits;
}

size_t digest_encode(const struct digest *d, char *out, size_t cap) {
  int k = 0;
  size_t best = coded_bits(d, 0);
  for (int j = 1; j <= MAX_K; j++) {
    size_t b = coded_bits(d, j);
    if (b < best) {
      best = b;
      k = j;
    }
  }
  uint8_t raw[RAW_MAX];
  size_t hdr = 2 + (d->n < 128 ? 1 : 2);
  size_t rawlen = hdr + (best + 7) / 8;
  size_t outlen = b64url_len(rawlen);
  if (rawlen > sizeof(raw) || outlen >= cap)
    return 0; /* cannot happen with the sizes in digest.h, but stay safe */
  memset(raw, 0, rawlen);
  raw[0] = DIGEST_VERSION;
  raw[1] = (uint8_t)k;
  if (d->n < 128) {
    raw[2] = (uint8_t)d->n;
  } else {
    raw[2] = (uint8_t)(0x80 | (d->n & 0x7f));
    raw[3] = (uint8_t)(d->n >> 7);
  }
  size_t pos = 0;
  for (size_t i = 0; i < d->n; i++) {
    uint32_t x = delta(d, i);
    for (uint32_t q = x >> k; q > 0; q--)
      bits_put(raw + hdr, &pos, 1, 1);
    bits_put(raw + hdr, &pos, 0, 1);
    bits_put(raw + hdr, &pos, x, k);
  }
  b64url_encode(raw, rawlen, out);
  out[outlen] = '\0';
  return outlen;
}

/* decode_raw parses the version 1 byte string |raw| of |len| bytes into
 * |d|; -1 if it is not exactly one well-formed set. */
static int decode_raw(struct digest *d, const uint8_t *raw, size_t len) {
  if (len < 3 || raw[0] != DIGEST_VERSION || raw[1] > MAX_K)
    return -1;
  int k = raw[1];
  size_t n, hdr;
  if (raw[2] < 0x80) {
    n = raw[2];
    hdr = 3;
  } else {
    /* A second byte of 0 would be an overlong form; a third is never
     * needed below the cap. */
    if (len < 4 || raw[3] == 0 || raw[3] >= 0x80)
      return -1;
    n = (size_t)(raw[2] & 0x7f) | (size_t)raw[3] << 7;
    hdr = 4;
  }
  if (n > DIGEST_MAX_ENTRIES)
    return -1;
  struct bitreader r = {raw + hdr, 0, (len - hdr) * 8};
  uint32_t prev = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t q = 0;
    int bit;
    for (;;) {
      if (bits_get(&r, &bit) < 0)
        return -1;
      if (bit == 0)
        break;
      if (++q > (DOMAIN >> k))
        return -1; /* the value would be past the domain anyway */
    }
    uint32_t low = 0;
    for (int j = 0; j < k; j++) {
      if (bits_get(&r, &bit) < 0)
        return -1;
      low = (low << 1) | (uint32_t)bit;
    }
    uint32_t x = (q << k) | low;
    uint32_t v = i == 0 ? x : prev + 1 + x;
    if (v >= DOMAIN)
      return -1;
    d->v[i] = (uint16_t)v;
    prev = v;
  }
  /* The stream ends in the last byte, and its unused bits are zero. */
  if (r.end - r.pos >= 8)
    return -1;
  while (r.pos < r.end) {
    int bit;
    bits_get(&r, &bit);
    if (bit != 0)
      return -1;
  }
  d->n = n;
  return 0;
}

int digest_decode(struct digest *d, const char *cookie_value, size_t len) {
  uint8_t raw[RAW_MAX];
  d->n = 0;
  if (len > DIGEST_COOKIE_MAX)
    return -1;
  long rawlen = b64url_decode(cookie_value, len, raw);
  if (rawlen < 0 || decode_raw(d, raw, (size_t)rawlen) < 0) {
    d->n = 0;
    return -1;
  }
  return 0;
}

static int is_space(char c) { return c == ' ' || c == '\t'; }

int digest_from_cookie_header(struct digest *d, const char *cookie_hdr,
                              size_t len) {
  static const char name[] = DIGEST_COOKIE_NAME;
  const size_t name_len = sizeof(name) - 1;
  const char *p = cookie_hdr, *end = cookie_hdr + len;
  d->n = 0;
  while (p < end) {
    /* One cookie-pair: [spaces] name=value up to ';' or the end. */
    while (p < end && is_space(*p))
      p++;
    const char *semi = memchr(p, ';', (size_t)(end - p));
    const char *pair_end = semi != NULL ? semi : end;
    const char *eq = memchr(p, '=', (size_t)(pair_end - p));
    if (eq != NULL && (size_t)(eq - p) == name_len &&
        memcmp(p, name, name_len) == 0) {
      const char *v = eq + 1, *vend = pair_end;
      while (vend > v && is_space(vend[-1]))
        vend--;
      /* RFC 6265 allows the value in double quotes. */
      if (vend - v >= 2 && v[0] == '"' && vend[-1] == '"') {
        v++;
        vend--;
      }
      return digest_decode(d, v, (size_t)(vend - v));
    }
    p = semi != NULL ? semi + 1 : end;
  }
  return 1;
}
