/* buf.h: a byte queue made of fixed-size chunks.
 *
 * Bodies travel through herald in these queues: a backend's response body
 * waits here for the HTTP/2 stream's flow-control window, a client's request
 * body waits here for the backend socket. Chunks come from a free list (a
 * buf_cache) that one thread owns, each event loop its own, so a
 * steady-state proxy allocates nothing per request for body bytes.
 * Every queue's owner enforces its own cap by pausing the producer; the
 * queue itself never refuses bytes.
 *
 * A queue can also hold slices: chunks that own no bytes but reference
 * part of a slab, a larger refcounted buffer one backend read lands in
 * (buf_slab_get, buf_append_slice), so a large response body travels from
 * the backend read to the client's socket without being copied. A slab
 * goes back to its cache when its last reference (the reader's, every
 * slice's) is dropped. Slice chunks, and the small chunks that hold the
 * few bytes queued after a slice (a frame header), come from a second
 * free list of 128-byte chunks. A queue set with buf_set_small_first
 * takes its first chunk from a third, of 2 KB chunks, when its first
 * append fits one. Free lists keep what was freed (up to a
 * cap) and give back, on each buf_cache_trim, whatever sat unused since
 * the trim before. */
#ifndef BASE_BUF_H
#define BASE_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "base/util.h"

#define BUF_CHUNK_SIZE 16384

struct buf_chunk;

struct buf_slab;

/* Chunk classes, each with its own free list: BUF_FULL chunks hold
 * BUF_CHUNK_SIZE bytes, BUF_MID ones 2 KB in all (buf_set_small_first),
 * BUF_SMALL ones 128 bytes in all (slices, and the few bytes queued
 * after one). */
enum buf_class { BUF_FULL, BUF_MID, BUF_SMALL, BUF_CLASSES };

/* Chunks and slabs kept for reuse, by one thread (a loop's, in loop.h).
 * |n| and |nslabs| are the lengths of the free lists; |lo| and
 * |lo_slabs| their lowest since the last buf_cache_trim. */
struct buf_cache {
  struct buf_chunk *free[BUF_CLASSES];
  size_t n[BUF_CLASSES], lo[BUF_CLASSES];
  struct buf_slab *slabs;
  size_t nslabs, lo_slabs;
};

struct buf {
  struct buf_chunk *head, *tail;
  size_t len;              /* bytes queued */
  size_t slices;           /* slice chunks among them */
  struct buf_cache *cache; /* where chunks come from and go back to */
  size_t headroom;         /* kept free before a new chunk's bytes */
  int small_first;         /* buf_set_small_first */
};

/* buf_init makes an empty queue whose chunks come from |cache|, which
 * must outlive it and belong to the thread using the queue; NULL takes
 * chunks from malloc and gives them back to free. Chunks that buf_take
 * moves go back to the cache of the queue they end in. */
void buf_init(struct buf *q, struct buf_cache *cache);
/* buf_set_headroom makes every chunk |q| starts from now on keep |n|
 * bytes (at most BUF_HEADROOM_MAX) free before its first byte, so a
 * header can go there later (buf_prepend) and travel with the bytes
 * after it in one contiguous run. Such chunks hold |n| bytes fewer.
 * buf_cleanup and buf_take keep the setting. */
#define BUF_HEADROOM_MAX 64
void buf_set_headroom(struct buf *q, size_t n);
/* buf_prepend puts the |n| bytes at |p| before the first byte of |q| when
 * its first chunk has that much room before it (headroom, or bytes
 * already consumed); returns 1 then, else 0 and |q| is unchanged. A slice
 * never has room: the bytes before it are another's. */
int buf_prepend(struct buf *q, const void *p, size_t n);
/* buf_set_small_first makes |q| start from a 2 KB chunk whenever its
 * first append (into an empty queue) fits one; the bytes after it go in
 * full chunks. For a queue that often holds a few hundred bytes for a
 * while (a request head kept for a resend, a small answer waiting for
 * the client's window), which would otherwise pin 16 KB: with 1,000
 * requests in flight, 16 MB of a 30 MB peak. Not for a queue whose
 * chunks become TLS records (a connection's output): one more, smaller
 * record per flush. buf_cleanup and buf_take keep the setting. */
void buf_set_small_first(struct buf *q);
/* buf_cleanup returns every chunk to the free list (the queue stays
 * usable, with the same cache). */
void buf_cleanup(struct buf *q);
void buf_append(struct buf *q, const void *p, size_t n);
/* buf_peek returns the first contiguous slice (valid until the queue is
 * changed) and its length, 0 when empty. */
size_t buf_peek(const struct buf *q, const uint8_t **out);
/* buf_copyout copies and removes up to |n| bytes into |dst|. */
size_t buf_copyout(struct buf *q, void *dst, size_t n);
void buf_consume(struct buf *q, size_t n);
/* buf_take moves every chunk of |src| to the end of |dst|, no copying. */
void buf_take(struct buf *dst, struct buf *src);
/* buf_move moves the first |n| bytes of |src| (at most its length) to the
 * end of |dst|: a chunk that goes whole and holds at least BUF_MOVE_MIN
 * bytes is relinked, anything less is copied (so a few bytes never pin a
 * whole chunk). A slice is relinked, or split without copying when only
 * its first bytes go, as long as the part that moves holds BUF_MOVE_MIN
 * bytes. Relinked chunks go back to |dst|'s cache, as buf_take's. */
#define BUF_MOVE_MIN 4096
void buf_move(struct buf *dst, struct buf *src, size_t n);
/* buf_slices fills up to |max| slices covering the queue's bytes in order
 * (valid until the queue changes) and returns how many it filled. */
size_t buf_slices(const struct buf *q, struct iov *out, size_t max);
/* buf_reserve makes the next |n| bytes appended to |q| (at most
 * BUF_CHUNK_SIZE) land in one contiguous run, starting a chunk if the
 * last has less room. */
void buf_reserve(struct buf *q, size_t n);
/* buf_nchunks counts the chunks a queue holds. */
size_t buf_nchunks(const struct buf *q);
/* buf_cache_release frees the chunks and slabs kept in |c| (when its
 * loop ends). */
void buf_cache_release(struct buf_cache *c);
/* buf_cache_trim frees what sat in |c|'s free lists, unused, since the
 * previous trim: called periodically, the lists shrink back after a
 * burst and stay as long as the load that fills them goes on. */
void buf_cache_trim(struct buf_cache *c);

/* ---- slabs and slices ---- */

/* A slab's bytes: BUF_SLAB_HEADROOM bytes reserved at the start (room for
 * a frame header before the first byte read), then BUF_SLAB_READ for a
 * read. */
#define BUF_SLAB_HEADROOM 64
#define BUF_SLAB_READ 65536
#define BUF_SLAB_SIZE (BUF_SLAB_HEADROOM + BUF_SLAB_READ)
/* buf_slab_get takes a slab from |c| (NULL: malloc) holding one
 * reference, the caller's. */
struct buf_slab *buf_slab_get(struct buf_cache *c);
/* buf_slab_unref drops one reference; the last returns the slab to |c|
 * (NULL: free). */
void buf_slab_unref(struct buf_cache *c, struct buf_slab *s);
uint8_t *buf_slab_data(struct buf_slab *s);
/* buf_slab_shared: 1 when a reference besides the caller's is held (a
 * slice still reads its bytes). */
int buf_slab_shared(const struct buf_slab *s);
/* buf_slab_holds: 1 when the |n| bytes at |p| lie inside |s|. */
int buf_slab_holds(const struct buf_slab *s, const uint8_t *p, size_t n);
/* buf_slice_prepend is buf_prepend for a queue whose first chunk is a
 * slice: it writes the |n| bytes at |p| over the |n| bytes before the
 * slice's first byte in its slab and makes them part of the slice.
 * Returns 1 then, else 0 (no slice first, or no room in the slab). Only
 * for a caller that knows nothing reads those bytes any more: the TLS
 * writer, once it has encrypted every byte before them. */
int buf_slice_prepend(struct buf *q, const void *p, size_t n);
/* buf_append_slice queues the |n| bytes at |p|, which lie in |s|, as a
 * slice: no copy, one more reference to |s| until the slice's bytes are
 * consumed. The caller must not change those bytes while it lives. */
void buf_append_slice(struct buf *q, struct buf_slab *s, const uint8_t *p,
                      size_t n);

#endif
