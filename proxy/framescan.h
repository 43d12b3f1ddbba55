/* framescan.h: the frame headers in a client's HTTP/2 byte stream, found
 * before nghttp2 parses the same bytes.
 *
 * herald schedules HTTP/2 by RFC 9218 (it sends
 * SETTINGS_NO_RFC7540_PRIORITIES: proxy/preload.h), and then nghttp2 skips
 * every PRIORITY frame without a callback. A flood of them costs the
 * client nothing to read (no frame answers one), so the session must
 * still count them against its glitch budget: the scanner walks the frame
 * headers of the bytes as they arrive, however a read splits them, after
 * the 24-byte client preface. It checks nothing (nghttp2 does, on the
 * same bytes) and skips each payload unread. One per session, on its loop
 * thread; no allocation. */
#ifndef PROXY_FRAMESCAN_H
#define PROXY_FRAMESCAN_H

#include <stddef.h>
#include <stdint.h>

#define FRAMESCAN_PREFACE 24 /* "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" */

struct framescan {
  size_t preface;  /* preface bytes still to skip */
  uint8_t hdr[9];  /* the frame header being read */
  size_t have;     /* of hdr */
  uint64_t skip;   /* payload bytes still to skip */
};

void framescan_init(struct framescan *f);

/* framescan_count reads |n| bytes of the stream and returns how many
 * frame headers of |type| were completed in them. */
size_t framescan_count(struct framescan *f, const uint8_t *data, size_t n,
                       uint8_t type);

#endif
