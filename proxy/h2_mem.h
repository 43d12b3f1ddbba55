/* h2_mem.h: the allocator nghttp2's sessions use on one loop.
 *
 * nghttp2 allocates a few small objects for every stream (the stream, its
 * outbound items, the response's header copy) and frees them when the
 * stream closes: several malloc/free pairs per request. Here blocks of up
 * to H2_MEM_MAX bytes come from per-size free lists that one loop owns, so
 * a steady connection stops calling malloc for them; larger ones go to
 * malloc. Each list keeps at most a bounded number of blocks, so a burst
 * does not pin memory forever. Under AddressSanitizer every block goes to
 * malloc, so that nghttp2's use of freed memory is still caught.
 *
 * Lifetime: one per loop (struct loop, h2_mem), made when the loop's first
 * HTTP/2 session starts, freed when the loop ends, after every session of
 * the loop is gone. Loop thread only. */
#ifndef PROXY_H2_MEM_H
#define PROXY_H2_MEM_H

#include <nghttp2/nghttp2.h>

#define H2_MEM_MAX 2048

struct h2_mem;

struct h2_mem *h2_mem_new(void);
/* h2_mem_free frees the kept blocks and |m| (NULL is a no-op). */
void h2_mem_free(struct h2_mem *m);
/* h2_mem_nghttp2 is the allocator to give nghttp2_session_server_new3;
 * valid while |m| lives. */
nghttp2_mem *h2_mem_nghttp2(struct h2_mem *m);
/* h2_mem_kept counts the blocks kept for reuse (tests). */
size_t h2_mem_kept(const struct h2_mem *m);

#endif
