/* digest.h: the "already pushed to this browser" set, carried in a cookie.
 *
 * Across connections herald remembers what it pushed to a browser in a
 * cookie it sets on the page response (herald_pd), and skips those pushes
 * next time. The set is a Golomb-coded set (GCS) as in the HTTP Cache
 * Digests draft (draft-ietf-httpbis-cache-digest), with one change that
 * keeps it mergeable.
 *
 * ENTRIES. An entry is digest_hash(authority, path, validator), a 64-bit
 * hash; the validator is the strong ETag (or Last-Modified) of the pushed
 * response, so a changed resource hashes differently and is pushed again.
 * The set keeps only the top DIGEST_DOMAIN_BITS (16) bits of each hash.
 *
 * WHY A FIXED DOMAIN. The draft reduces each hash modulo N*P, with N the
 * entry count at encode time. After decoding such a set only the reduced
 * values are left, so it cannot be re-encoded with a larger N once new
 * pushes are added: the bits needed are gone. herald instead reduces every
 * hash to the same domain [0, 2^16) whatever N is. Decoded entries and new
 * ones live in the same space, a decoded set is queried and extended as is,
 * and re-encoding is exact. 16 = log2(DIGEST_MAX_ENTRIES) + 7: a full set
 * has the draft's P = 2^7.
 *
 * FALSE POSITIVES. A non-member matches with probability n / 65536, n the
 * number of distinct entries: 16 entries 0.02%, 64 entries 0.1%, 512 (the
 * cap) 0.78% (1/128). A false positive only costs one push not made: the
 * browser requests that resource itself. There are no false negatives.
 *
 * SIZE. Sorted values are delta-coded, each delta Golomb-Rice coded with a
 * parameter k that the encoder picks per set (the k giving the fewest bits;
 * about log2(65536 / n)), so small sets stay near the GCS optimum of
 * log2(1/fp) + ~1.5 bits per entry despite the fixed domain. Typical cookie
 * values: 16 entries about 40 bytes, 64 entries about 127 (12 bits an
 * entry), 512 entries about 735 (8.6 bits an entry). Worst case, for any
 * set of at most 512 entries: 774 bytes, under DIGEST_COOKIE_MAX (1024).
 * So the cookie never overflows: the entry cap is the only limit. When
 * digest_add reports the set full, the caller starts a fresh set
 * (digest_init, then add the current pushes): the browser may get a few
 * resources pushed again once, which is cheaper than a larger cookie sent
 * with every request to the origin.
 *
 * WIRE FORMAT (version 1), then base64url without padding:
 *   1 byte   version (1)
 *   1 byte   k, the Rice parameter, 0..16
 *   varint   n, LEB128 (7 bits a byte, low first, minimal), 0..512
 *   bits     n codes, most significant bit first: for values
 *            v0 < v1 < ... the deltas d0 = v0, di = vi - v(i-1) - 1, each
 *            as q = d >> k one-bits, a zero bit, then the low k bits of d
 *   zero bits up to the byte boundary; nothing after
 * The decoder rejects anything else (bad base64url or non-zero unused bits,
 * other versions, k > 16, n > cap, values past 2^16, truncation, trailing
 * bytes or bits). base64url is written here (a few lines) rather than
 * adapted from BoringSSL's EVP_EncodeBlock: that one has the standard
 * alphabet, pads, and decodes leniently, and the cookie needs the url-safe,
 * unpadded, strict form without a scratch copy.
 *
 * The functions are for the loop thread but keep no state: the set lives in
 * the caller's struct (about 1 KB) and nothing is allocated. */
#ifndef PROXY_DIGEST_H
#define PROXY_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define DIGEST_MAX_ENTRIES 512
#define DIGEST_COOKIE_MAX 1024 /* encoded bytes, cookie value */
#define DIGEST_DOMAIN_BITS 16  /* entries are the top 16 bits of the hash */
#define DIGEST_VERSION 1
#define DIGEST_COOKIE_NAME "herald_pd"

/* digest is a set of at most DIGEST_MAX_ENTRIES reduced hashes. |v| holds
 * the top DIGEST_DOMAIN_BITS bits of each entry's hash, sorted ascending and
 * without duplicates; |n| is how many there are. Zeroed (or digest_init)
 * it is the empty set. */
struct digest {
  uint16_t v[DIGEST_MAX_ENTRIES];
  size_t n;
};

/* digest_init empties |d|. */
void digest_init(struct digest *d);

/* digest_hash hashes the resource at |path| on |authority| with the
 * validator |validator| (the ETag as sent, quotes included, or
 * Last-Modified; empty when there is none). The three are hashed as given,
 * each with its length, so ("ab", "c") and ("a", "bc") differ; callers pass
 * the authority lowercased. */
uint64_t digest_hash(const char *authority, size_t alen, const char *path,
                     size_t plen, const char *validator, size_t vlen);

/* digest_decode replaces |d| with the set in the cookie value
 * |cookie_value| of |len| bytes (not NUL-terminated). It returns 0, or -1
 * when the value is malformed, longer than DIGEST_COOKIE_MAX or holds more
 * than DIGEST_MAX_ENTRIES entries; |d| is then empty. */
int digest_decode(struct digest *d, const char *cookie_value, size_t len);

/* digest_contains returns 1 if |hash| (from digest_hash) is in |d|, or
 * collides with an entry (probability |d->n| / 65536); 0 otherwise. */
int digest_contains(const struct digest *d, uint64_t hash);

/* digest_add adds |hash| to |d|. It returns 0 when |hash| is in the set
 * afterwards (added, or already there), or -1 when the set is full: the
 * caller then starts a fresh set (see above). */
int digest_add(struct digest *d, uint64_t hash);

/* digest_encode writes |d| to |out| as a NUL-terminated cookie value and
 * returns its length, at most 774 (< DIGEST_COOKIE_MAX). It returns 0,
 * writing nothing, when |cap| is not more than that length: an |out| of
 * DIGEST_COOKIE_MAX + 1 bytes always suffices. */
size_t digest_encode(const struct digest *d, char *out, size_t cap);

/* digest_from_cookie_header finds the DIGEST_COOKIE_NAME cookie in the
 * Cookie header value |cookie_hdr| of |len| bytes ("a=1; herald_pd=...;
 * b=2") and decodes it into |d|. It returns 0 when found and valid, 1 when
 * absent, -1 when malformed; on 1 and -1 |d| is empty. Only the first
 * herald_pd counts. HTTP/2 clients may split Cookie into several fields:
 * call this per field until it returns other than 1, or join them with
 * "; " first. */
int digest_from_cookie_header(struct digest *d, const char *cookie_hdr,
                              size_t len);

#endif
