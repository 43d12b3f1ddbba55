/* client.h: who a request comes from.
 *
 * An address is 16 bytes: IPv6, with IPv4 as the mapped ::ffff:a.b.c.d,
 * so one comparison serves both families. A connection's address is its
 * TCP peer, or the source a PROXY protocol header named (proxy/conn.c).
 * A request's client is that address, unless it is a trusted proxy
 * ([clients] trusted_proxies): then it is the right-most X-Forwarded-For
 * address that is not trusted, walking left past trusted ones. A header
 * from an untrusted peer is ignored, since anyone can write one.
 *
 * Distinct clients for learning (learn.min_clients) are distinct networks
 * (client_network: an IPv4 /24 or IPv6 /48 by default), which an attacker
 * cannot multiply as cheaply as User-Agents or addresses in one network.
 *
 * Everything here is pure: proxy/conn.c applies it to a connection and
 * the configuration in force (conn_request_client). */
#ifndef BASE_CLIENT_H
#define BASE_CLIENT_H

#include <stddef.h>
#include <stdint.h>

struct http_hdr;

#define CLIENT_TEXT_MAX 46    /* INET6_ADDRSTRLEN */
#define CLIENT_MAX_TRUSTED 64 /* entries of [clients] trusted_proxies */
#define CLIENT_MAX_HOPS 32    /* X-Forwarded-For entries walked at most */

/* A network: |bits| leading bits of |addr| (of 128; an IPv4 /8 is 104). */
struct client_cidr {
  uint8_t addr[16];
  uint8_t bits;
};

/* client_from_v4 maps a 4-byte IPv4 address to the 16-byte form. */
void client_from_v4(const uint8_t v4[4], uint8_t out[16]);
int client_is_v4(const uint8_t a[16]);

/* client_parse reads a numeric address of |n| bytes: "a.b.c.d" or an IPv6
 * literal, bare or in brackets, and with |allow_port| also "a.b.c.d:PORT"
 * or "[v6]:PORT" (some proxies write ports into X-Forwarded-For). Returns
 * 0, or -1 for anything else (names, "unknown", zone ids). */
int client_parse(const char *s, size_t n, int allow_port, uint8_t out[16]);

/* client_format writes the address as text: dotted IPv4, or RFC 5952
 * IPv6. |cap| should be CLIENT_TEXT_MAX. */
void client_format(const uint8_t a[16], char *out, size_t cap);

/* client_cidrs_parse reads a list of addresses and ADDR/BITS networks
 * separated by commas or spaces ("10.0.0.0/8, 2001:db8::/32 192.0.2.7")
 * into |out| (|cap| entries) and sets |*n|. Bits past the prefix must be
 * zero, so a typo like 10.0.0.1/8 is caught. Returns 0, or -1 with the
 * reason in |why|. */
int client_cidrs_parse(const char *list, struct client_cidr *out, int cap,
                       int *n, char *why, size_t whylen);

/* client_trusted tells whether |a| is in one of the |n| networks. */
int client_trusted(const struct client_cidr *set, int n, const uint8_t a[16]);

/* client_forwarded resolves the client of a request that came from |peer|
 * with the header fields |hdrs|: |peer| itself unless it is trusted;
 * then each X-Forwarded-For entry from the right (several fields read as
 * one list, in order) until one is not trusted. An entry that is not an
 * address stops the walk at the last address known, as does the hop
 * limit; when every entry is trusted the left-most is the client. Returns
 * whether |peer| is trusted (then its X-Forwarded-For may be passed on). */
int client_forwarded(const struct client_cidr *set, int n,
                     const uint8_t peer[16], const struct http_hdr *hdrs,
                     size_t nhdrs, uint8_t out[16]);

/* client_network keeps the first |v4_bits| (IPv4) or |v6_bits| (IPv6)
 * bits of |a| and zeroes the rest: the network counted as one client. */
void client_network(const uint8_t a[16], int v4_bits, int v6_bits,
                    uint8_t out[16]);

#endif
