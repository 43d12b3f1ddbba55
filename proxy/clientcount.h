/* clientcount.h: how many connections are open per client address.
 *
 * The server keeps one table for limits.max_connections_per_client: a
 * connection is counted under its client address when it is admitted and
 * uncounted when it closes. Addresses are 16 bytes in conn_peer_addr's
 * form. Keys are hashed with SipHash-2-4 under a key drawn at creation,
 * so a client that picks its addresses (an IPv6 /64 holds 2^64 of them)
 * cannot make them collide on purpose. Open addressing with linear
 * probing and backward-shift deletion: no tombstones, so a churn of
 * addresses never slows lookups; the table grows at half full and never
 * shrinks (24 bytes a slot, a few hundred KB at max_connections).
 * Not thread-safe: every loop of the process counts in one table, under
 * loop_shared.clients_mu (proxy/loop.h). */
#ifndef PROXY_CLIENTCOUNT_H
#define PROXY_CLIENTCOUNT_H

#include <stddef.h>
#include <stdint.h>

struct clientcount;

struct clientcount *clientcount_new(void);
void clientcount_free(struct clientcount *t); /* NULL is a no-op */

/* clientcount_get: connections counted under |addr| (0 if none). */
uint32_t clientcount_get(const struct clientcount *t, const uint8_t addr[16]);
/* clientcount_add counts one more connection under |addr| and returns
 * the new count. */
uint32_t clientcount_add(struct clientcount *t, const uint8_t addr[16]);
/* clientcount_remove uncounts one connection that clientcount_add
 * counted under |addr|. */
void clientcount_remove(struct clientcount *t, const uint8_t addr[16]);
/* clientcount_addresses: distinct addresses with a connection open. */
size_t clientcount_addresses(const struct clientcount *t);

#endif
