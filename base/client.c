/* client.c: see client.h. */
#include "base/client.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/http.h"
#include "base/util.h"

static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                      0xff, 0xff};

void client_from_v4(const uint8_t v4[4], uint8_t out[16]) {
  memcpy(out, v4_prefix, 12);
  memcpy(out + 12, v4, 4);
}

int client_is_v4(const uint8_t a[16]) {
  return memcmp(a, v4_prefix, 12) == 0;
}

/* parse_bare reads a whole numeric address (no brackets, no port). */
static int parse_bare(const char *s, size_t n, uint8_t out[16]) {
  char tmp[CLIENT_TEXT_MAX];
  uint8_t v4[4];
  if (n == 0 || n >= sizeof(tmp))
    return -1;
  memcpy(tmp, s, n);
  tmp[n] = '\0';
  if (inet_pton(AF_INET, tmp, v4) == 1) {
    client_from_v4(v4, out);
    return 0;
  }
  return inet_pton(AF_INET6, tmp, out) == 1 ? 0 : -1;
}

static int port_ok(const char *s, size_t n) {
  if (n == 0 || n > 5)
    return 0;
  unsigned v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return 0;
    v = v * 10 + (unsigned)(s[i] - '0');
  }
  return v <= 65535;
}

int client_parse(const char *s, size_t n, int allow_port, uint8_t out[16]) {
  if (n > 0 && s[0] == '[') {
    const char *e = memchr(s, ']', n);
    if (e == NULL)
      return -1;
    size_t in = (size_t)(e - s) - 1, rest = n - in - 2;
    if (rest > 0 && !(allow_port && e[1] == ':' && port_ok(e + 2, rest - 1)))
      return -1;
    if (memchr(s + 1, '.', in) != NULL && memchr(s + 1, ':', in) == NULL)
      return -1; /* "[1.2.3.4]" is no IPv6 literal */
    return parse_bare(s + 1, in, out);
  }
  if (parse_bare(s, n, out) == 0)
    return 0;
  /* "a.b.c.d:port": only IPv4 may carry a port without brackets. */
  const char *colon = memchr(s, ':', n);
  if (!allow_port || colon == NULL || memchr(colon + 1, ':',
                                             n - (size_t)(colon - s) - 1))
    return -1;
  size_t hn = (size_t)(colon - s);
  if (!port_ok(colon + 1, n - hn - 1) || parse_bare(s, hn, out) != 0 ||
      !client_is_v4(out))
    return -1;
  return 0;
}

void client_format(const uint8_t a[16], char *out, size_t cap) {
  if (cap == 0)
    return;
  if (client_is_v4(a)) {
    snprintf(out, cap, "%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
    return;
  }
  if (inet_ntop(AF_INET6, a, out, (socklen_t)cap) == NULL)
    out[0] = '\0';
}

static void mask(const uint8_t a[16], int bits, uint8_t out[16]) {
  for (int i = 0; i < 16; i++) {
    int keep = bits - i * 8;
    if (keep >= 8)
      out[i] = a[i];
    else if (keep <= 0)
      out[i] = 0;
    else
      out[i] = (uint8_t)(a[i] & (0xff << (8 - keep)));
  }
}

/* parse_cidr reads one "ADDR" or "ADDR/BITS". */
static int parse_cidr(const char *s, size_t n, struct client_cidr *c,
                      char *why, size_t whylen) {
  const char *slash = memchr(s, '/', n);
  size_t an = slash ? (size_t)(slash - s) : n;
  if (client_parse(s, an, 0, c->addr) != 0) {
    snprintf(why, whylen, "'%.*s' is not a numeric IPv4 or IPv6 address",
             (int)(an < 64 ? an : 64), s);
    return -1;
  }
  /* The length counts in the family as written: "10.0.0.0/8" is IPv4,
   * "::ffff:10.0.0.0/104" the same network written as IPv6. */
  int v4 = memchr(s, ':', an) == NULL;
  int max = v4 ? 32 : 128, bits = max;
  if (slash != NULL) {
    const char *b = slash + 1;
    size_t bn = n - an - 1;
    bits = 0;
    if (bn == 0 || bn > 3)
      bits = -1;
    for (size_t i = 0; bits >= 0 && i < bn; i++)
      bits = b[i] >= '0' && b[i] <= '9' ? bits * 10 + (b[i] - '0') : -1;
    if (bits < 0 || bits > max || (bn > 1 && b[0] == '0')) {
      snprintf(why, whylen, "'%.*s': the prefix length must be 0..%d",
               (int)(n < 64 ? n : 64), s, max);
      return -1;
    }
  }
  c->bits = (uint8_t)(v4 ? bits + 96 : bits);
  uint8_t m[16];
  mask(c->addr, c->bits, m);
  if (memcmp(m, c->addr, 16) != 0) {
    char t[CLIENT_TEXT_MAX];
    client_format(m, t, sizeof(t));
    snprintf(why, whylen, "'%.*s' has bits set past /%d (the network is "
             "%s/%d)", (int)(n < 64 ? n : 64), s, bits, t, bits);
    return -1;
  }
  return 0;
}

int client_cidrs_parse(const char *list, struct client_cidr *out, int cap,
                       int *n, char *why, size_t whylen) {
  const char *p = list;
  *n = 0;
  for (;;) {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    if (*p == '\0')
      return 0;
    size_t len = strcspn(p, " \t,");
    if (*n == cap) {
      snprintf(why, whylen, "more than %d entries", cap);
      return -1;
    }
    if (parse_cidr(p, len, &out[*n], why, whylen) != 0)
      return -1;
    (*n)++;
    p += len;
  }
}

int client_trusted(const struct client_cidr *set, int n, const uint8_t a[16]) {
  for (int i = 0; i < n; i++) {
    uint8_t m[16];
    mask(a, set[i].bits, m);
    if (memcmp(m, set[i].addr, 16) == 0)
      return 1;
  }
  return 0;
}

int client_forwarded(const struct client_cidr *set, int n,
                     const uint8_t peer[16], const struct http_hdr *hdrs,
                     size_t nhdrs, uint8_t out[16]) {
  memcpy(out, peer, 16);
  if (n == 0 || !client_trusted(set, n, peer))
    return 0;
  int hops = 0;
  /* Right to left: the last field's last entry is the nearest hop. */
  for (size_t i = nhdrs; i-- > 0;) {
    const struct http_hdr *h = &hdrs[i];
    if (!util_strcaseeq(h->name, h->name_len, "x-forwarded-for"))
      continue;
    size_t end = h->value_len;
    for (;;) {
      while (end > 0 && (h->value[end - 1] == ' ' ||
                         h->value[end - 1] == '\t'))
        end--;
      size_t start = end;
      while (start > 0 && h->value[start - 1] != ',')
        start--;
      size_t s = start;
      while (s < end && (h->value[s] == ' ' || h->value[s] == '\t'))
        s++;
      if (s < end) {
        uint8_t a[16];
        if (++hops > CLIENT_MAX_HOPS ||
            client_parse(h->value + s, end - s, 1, a) != 0)
          return 1;
        memcpy(out, a, 16);
        if (!client_trusted(set, n, a))
          return 1;
      }
      if (start == 0)
        break;
      end = start - 1; /* past the comma */
    }
  }
  return 1;
}

void client_network(const uint8_t a[16], int v4_bits, int v6_bits,
                    uint8_t out[16]) {
  if (client_is_v4(a))
    mask(a, 96 + v4_bits, out);
  else
    mask(a, v6_bits, out);
}
