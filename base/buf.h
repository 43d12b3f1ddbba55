/* buf.h: a byte queue made of fixed-size chunks.
 *
 * Bodies travel through herald in these queues: a backend's response body
 * waits here for the HTTP/2 stream's flow-control window, a client's request
 * body waits here for the backend socket. Chunks come from a free list (a
 * buf_cache) that one thread owns, each event loop its own, so a
 * steady-state proxy allocates nothing per request for body bytes.
 * Every queue's owner enforces its own cap by pausing the producer; the
 * queue itself never refuses bytes. */
#ifndef BASE_BUF_H
#define BASE_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "base/util.h"

#define BUF_CHUNK_SIZE 16384

struct buf_chunk;

/* Chunks kept for reuse, by one thread (a loop's, in loop.h). */
struct buf_cache {
  struct buf_chunk *free;
  size_t count;
};

struct buf {
  struct buf_chunk *head, *tail;
  size_t len;              /* bytes queued */
  struct buf_cache *cache; /* where chunks come from and go back to */
  size_t headroom;         /* kept free before a new chunk's bytes */
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
 * already consumed); returns 1 then, else 0 and |q| is unchanged. */
int buf_prepend(struct buf *q, const void *p, size_t n);
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
 * whole chunk). Relinked chunks go back to |dst|'s cache, as buf_take's. */
#define BUF_MOVE_MIN 4096
void buf_move(struct buf *dst, struct buf *src, size_t n);
/* buf_slices fills up to |max| slices covering the queue's bytes in order
 * (valid until the queue changes) and returns how many it filled. */
size_t buf_slices(const struct buf *q, struct iov *out, size_t max);
/* buf_nchunks counts the chunks a queue holds. */
size_t buf_nchunks(const struct buf *q);
/* buf_cache_release frees the chunks kept in |c| (when its loop ends). */
void buf_cache_release(struct buf_cache *c);

#endif
