/* proxyproto.h: the PROXY protocol header a load balancer puts before a
 * connection's first byte (haproxy's proxy-protocol.txt, versions 1 and
 * 2), so that herald learns the client's address instead of the
 * balancer's.
 *
 * Parsing is strict, since these bytes decide who a client is: version 1
 * is exactly "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n" (single spaces,
 * addresses of the family named, decimal ports without leading zeros,
 * 107 bytes at most) or "PROXY UNKNOWN...\r\n"; version 2 has the
 * signature, version 2, command LOCAL or PROXY, a stream family (UNSPEC,
 * TCP over IPv4 or IPv6, or UNIX), an address block of the family's size
 * and well-formed TLVs filling the rest. Anything else is an error, never
 * a guess. Pure: no I/O, no allocation. */
#ifndef PROXY_PROXYPROTO_H
#define PROXY_PROXYPROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROXYPROTO_V1_MAX 107
/* Version 2 headers may in principle be 64 KB; herald takes this much,
 * which leaves room for the TLVs balancers send (TLS details, ids). */
#define PROXYPROTO_MAX (16 + 2048)

struct proxyproto {
  int version;       /* 1 or 2 */
  int has_addr;      /* 0: LOCAL, UNKNOWN, UNSPEC or UNIX: no client
                        address; the connection's own peer stands */
  uint8_t src[16];   /* client address (client.h form) when has_addr */
  uint8_t dst[16];   /* the address the client connected to */
  uint16_t sport, dport;
};

/* proxyproto_parse reads the header at the start of |p| (|n| bytes).
 * Returns its length when it is complete and valid (|out| filled), 0 when
 * the bytes so far could still begin a valid header, or -1 when they
 * cannot, with the reason in |*why|. */
int proxyproto_parse(const uint8_t *p, size_t n, struct proxyproto *out,
                     const char **why);

#endif
