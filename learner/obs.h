/* obs.h: one observed request, as the loop thread hands it to the
 * recorder.
 *
 * The record is fixed-size so the loop copies it into a bounded queue with
 * one memcpy and never allocates for it. Strings are truncated to their
 * field (a truncated path is flagged and never learned from). The client
 * address travels only in memory: the recorder turns it and the
 * User-Agent hash into a keyed client token (telling visits apart), and
 * its network into a keyed network token (counting distinct clients), and
 * zeroes it before anything is written. */
#ifndef LEARNER_OBS_H
#define LEARNER_OBS_H

#include <stdint.h>

#include "store/rows.h" /* OBS_CTYPE_MAX, enum obs_dest */

#define OBS_AUTHORITY_MAX 128
#define OBS_PATH_MAX 512   /* path and query as the client sent them */
#define OBS_REFERER_MAX 640

enum obs_kind {
  OBS_NAV_START = 1, /* a request that may be a navigation has arrived */
  OBS_DONE = 2,      /* a request finished (or was abandoned) */
  OBS_PUSH = 3,      /* a pushed stream ended: path is the pushed resource,
                        referer the page's URL, stream_id the page's
                        stream, bytes what was sent, OBS_F_CUT_SHORT when
                        the client (or herald) reset it */
  OBS_DECLARED = 4,  /* the backend declared a resource of a navigation's
                        page (proxy/hints.h): path is the resource (a safe
                        path of the page's origin), dest its as=; conn_id,
                        stream_id, start_ms, authority and the client
                        are the page request's; OBS_F_DECL_EARLY when it
                        came in the backend's own 103, else in a Link
                        field of its final response; OBS_F_DECL_NAMED when
                        herald's 103 to the client named it */
};

enum obs_flag {
  OBS_F_TLS = 1u << 0,           /* scheme https */
  OBS_F_H2 = 1u << 1,            /* arrived over HTTP/2 */
  OBS_F_NAVIGATE = 1u << 2,      /* Sec-Fetch-Mode: navigate or Dest: document */
  OBS_F_SEC_FETCH = 1u << 3,     /* the client sent any Sec-Fetch-* field */
  OBS_F_ACCEPT_HTML = 1u << 4,   /* Accept prefers text/html */
  OBS_F_AUTHORIZATION = 1u << 5, /* the request carried Authorization */
  OBS_F_CONDITIONAL = 1u << 6,   /* If-None-Match / If-Modified-Since */
  OBS_F_MOBILE = 1u << 7,        /* Sec-CH-UA-Mobile ?1, else UA says Mobi */
  OBS_F_NO_STORE = 1u << 8,      /* Cache-Control: no-store */
  OBS_F_PRIVATE = 1u << 9,       /* Cache-Control: private */
  OBS_F_SET_COOKIE = 1u << 10,   /* response sets a cookie */
  OBS_F_VARY_OTHER = 1u << 11,   /* Vary names more than Accept-Encoding */
  OBS_F_CUT_SHORT = 1u << 12,    /* response incomplete or reset */
  OBS_F_TRUNCATED = 1u << 13,    /* a string did not fit its field */
  OBS_F_PUSHED = 1u << 14,       /* herald pushed it on this connection */
  /* 1u << 15 unused (hinted requests are marked by the recorder) */
  OBS_F_HTML = 1u << 16,         /* response Content-Type is text/html */
  OBS_F_HOLDOUT = 1u << 17,      /* a navigation held out: nothing sent */
  OBS_F_GOT_HINTS = 1u << 18,    /* a navigation that got a 103 */
  OBS_F_GOT_PUSH = 1u << 19,     /* a navigation that got pushes */
  OBS_F_CLIENT_HAD = 1u << 20,   /* OBS_PUSH not made: the browser's digest
                                    cookie says it has the resource */
  OBS_F_IGNORED = 1u << 21,      /* the client is on [record]
                                    ignore_agents or ignore_clients: its
                                    navigations are not visits */
  OBS_F_DECL_EARLY = 1u << 22,   /* OBS_DECLARED: from the backend's 103 */
  OBS_F_DECL_NAMED = 1u << 23,   /* OBS_DECLARED: in herald's 103 */
};

#define OBS_URGENCY_NONE 0xff

struct obs {
  uint8_t kind;        /* enum obs_kind */
  uint8_t dest;        /* enum obs_dest from Sec-Fetch-Dest, or NONE */
  uint16_t status;     /* 0 for OBS_NAV_START or no response */
  uint32_t flags;      /* enum obs_flag */
  uint64_t start_ms;   /* wall clock (Unix ms) when the request arrived */
  uint64_t end_ms;     /* wall clock when it finished (OBS_DONE) */
  uint64_t conn_id;    /* herald's connection id */
  uint64_t stream_id;  /* HTTP/2 stream id, or request number on HTTP/1.1 */
  uint64_t bytes;      /* response body bytes sent */
  uint64_t ua_hash;    /* hash of the User-Agent (not keyed) */
  /* A navigation that got a 103 (OBS_F_GOT_HINTS, on its OBS_DONE): the
   * rules snapshot (ruleset_gen), the page's slot in it, and which of its
   * entries the 103 named (bit i: entry i), so the learner knows exactly
   * what herald, not the page, caused the browser to fetch. */
  uint64_t rules_gen;
  uint64_t named_mask;
  uint32_t rules_slot;
  uint8_t urgency;     /* RFC 9218 priority u= (0..7), OBS_URGENCY_NONE */
  uint8_t addr[16];    /* the request's client (base/client.h form) */
  uint8_t client_token[16]; /* filled by the recorder; addr then zeroed */
  uint8_t network[16];      /* filled by the recorder too */
  char method[8];
  char authority[OBS_AUTHORITY_MAX]; /* host[:port] */
  char path[OBS_PATH_MAX];           /* origin-form, with query */
  char referer[OBS_REFERER_MAX];     /* absolute URL, or "" */
  char content_type[OBS_CTYPE_MAX];  /* response media type, lower case */
};

#endif
