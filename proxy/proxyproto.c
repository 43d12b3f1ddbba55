/* proxyproto.c: see proxyproto.h. */
#include "proxy/proxyproto.h"

#include <string.h>

#include "base/client.h"

static const uint8_t v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                   0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
static const char v1_sig[] = "PROXY ";

static int fail(const char **why, const char *reason) {
  *why = reason;
  return -1;
}

/* ---- version 1 ---------------------------------------------------------- */

/* v1_port reads a decimal port: 1 to 5 digits, no leading zero. */
static int v1_port(const char *s, size_t n, uint16_t *out) {
  unsigned v = 0;
  if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (unsigned)(s[i] - '0');
  }
  if (v > 65535)
    return -1;
  *out = (uint16_t)v;
  return 0;
}

/* v1_addr: TCP4 names a dotted IPv4 address, TCP6 an IPv6 literal, both
 * bare (no brackets, no port). */
static int v1_addr(const char *s, size_t n, int v6, uint8_t out[16]) {
  if (n == 0 || s[0] == '[' || (memchr(s, ':', n) != NULL) != v6)
    return -1;
  return client_parse(s, n, 0, out);
}

static int parse_v1(const uint8_t *p, size_t n, struct proxyproto *out,
                    const char **why) {
  size_t lim = n < PROXYPROTO_V1_MAX ? n : PROXYPROTO_V1_MAX, end = 0;
  /* The line: printable ASCII, ended by CRLF. */
  for (size_t i = 0; i < lim; i++) {
    if (p[i] == '\r') {
      if (i + 1 == n)
        return 0;
      if (i + 1 >= PROXYPROTO_V1_MAX || p[i + 1] != '\n')
        return fail(why, "v1: CR without LF");
      end = i;
      break;
    }
    if (p[i] < 0x20 || p[i] > 0x7e)
      return fail(why, "v1: a control or non-ASCII byte in the line");
  }
  if (end == 0)
    return n < PROXYPROTO_V1_MAX ? 0
                                 : fail(why, "v1: no CRLF within 107 bytes");
  const char *s = (const char *)p + 6, *e = (const char *)p + end;
  /* Split on single spaces into at most 6 fields. */
  const char *f[6];
  size_t fl[6], nf = 0;
  while (s <= e && nf < 6) {
    const char *sp = memchr(s, ' ', (size_t)(e - s));
    const char *fe = sp ? sp : e;
    f[nf] = s;
    fl[nf++] = (size_t)(fe - s);
    s = fe + 1;
    if (sp == NULL)
      break;
  }
  memset(out, 0, sizeof(*out));
  out->version = 1;
  if (nf >= 1 && fl[0] == 7 && memcmp(f[0], "UNKNOWN", 7) == 0)
    return (int)end + 2; /* the rest of the line is to be ignored */
  int v6;
  if (nf >= 1 && fl[0] == 4 && memcmp(f[0], "TCP4", 4) == 0)
    v6 = 0;
  else if (nf >= 1 && fl[0] == 4 && memcmp(f[0], "TCP6", 4) == 0)
    v6 = 1;
  else
    return fail(why, "v1: protocol is not TCP4, TCP6 or UNKNOWN");
  if (nf != 5 || s <= e)
    return fail(why, "v1: not 'PROXY TCPn SRC DST SPORT DPORT'");
  for (size_t i = 1; i < 5; i++) {
    if (fl[i] == 0)
      return fail(why, "v1: an empty field (two spaces)");
  }
  if (v1_addr(f[1], fl[1], v6, out->src) != 0 ||
      v1_addr(f[2], fl[2], v6, out->dst) != 0)
    return fail(why, v6 ? "v1: a TCP6 address is not IPv6"
                        : "v1: a TCP4 address is not dotted IPv4");
  if (v1_port(f[3], fl[3], &out->sport) != 0 ||
      v1_port(f[4], fl[4], &out->dport) != 0)
    return fail(why, "v1: a port is not 0..65535 in plain decimal");
  out->has_addr = 1;
  return (int)end + 2;
}

/* ---- version 2 ---------------------------------------------------------- */

static int parse_v2(const uint8_t *p, size_t n, struct proxyproto *out,
                    const char **why) {
  if (n < 16)
    return 0;
  if ((p[12] >> 4) != 2)
    return fail(why, "v2: version is not 2");
  int cmd = p[12] & 0x0f;
  if (cmd > 1)
    return fail(why, "v2: command is neither LOCAL nor PROXY");
  size_t len = (size_t)p[14] << 8 | p[15];
  if (16 + len > PROXYPROTO_MAX)
    return fail(why, "v2: header longer than herald accepts (2064 bytes)");
  uint8_t fam = p[13];
  size_t alen;
  switch (fam) {
  case 0x00: alen = 0; break;    /* UNSPEC */
  case 0x11: alen = 12; break;   /* TCP over IPv4 */
  case 0x21: alen = 36; break;   /* TCP over IPv6 */
  case 0x31: alen = 216; break;  /* UNIX stream */
  case 0x12: case 0x22: case 0x32:
    if (cmd == 1)
      return fail(why, "v2: a datagram family on a stream connection");
    alen = fam == 0x12 ? 12 : fam == 0x22 ? 36 : 216;
    break;
  default:
    return fail(why, "v2: unknown address family or transport");
  }
  if (len < alen)
    return fail(why, "v2: address block shorter than its family needs");
  if (n < 16 + len)
    return 0;
  /* TLVs fill what follows the addresses exactly. */
  const uint8_t *t = p + 16 + alen, *te = p + 16 + len;
  while (t < te) {
    if (te - t < 3 || (size_t)(te - t - 3) < ((size_t)t[1] << 8 | t[2]))
      return fail(why, "v2: a TLV runs past the header");
    t += 3 + ((size_t)t[1] << 8 | t[2]);
  }
  memset(out, 0, sizeof(*out));
  out->version = 2;
  const uint8_t *a = p + 16;
  if (cmd == 1 && fam == 0x11) {
    client_from_v4(a, out->src);
    client_from_v4(a + 4, out->dst);
    out->sport = (uint16_t)(a[8] << 8 | a[9]);
    out->dport = (uint16_t)(a[10] << 8 | a[11]);
    out->has_addr = 1;
  } else if (cmd == 1 && fam == 0x21) {
    memcpy(out->src, a, 16);
    memcpy(out->dst, a + 16, 16);
    out->sport = (uint16_t)(a[32] << 8 | a[33]);
    out->dport = (uint16_t)(a[34] << 8 | a[35]);
    out->has_addr = 1;
  }
  /* LOCAL (a balancer's own health check), UNSPEC and UNIX carry no
   * client address: the connection's peer stands. */
  return (int)(16 + len);
}

int proxyproto_parse(const uint8_t *p, size_t n, struct proxyproto *out,
                     const char **why) {
  if (n == 0)
    return 0;
  if (p[0] == v2_sig[0]) {
    size_t k = n < sizeof(v2_sig) ? n : sizeof(v2_sig);
    if (memcmp(p, v2_sig, k) != 0)
      return fail(why, "not a PROXY protocol header");
    return n < sizeof(v2_sig) ? 0 : parse_v2(p, n, out, why);
  }
  size_t k = n < 6 ? n : 6;
  if (memcmp(p, v1_sig, k) != 0)
    return fail(why, "not a PROXY protocol header");
  return n < 6 ? 0 : parse_v1(p, n, out, why);
}
