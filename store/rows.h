/* rows.h: the rows the store keeps, as the layers above make and read
 * them: a page visit with its requests (struct visit: attribution builds
 * it, the recorder writes it, the learner and heraldctl replay it) and a
 * rule (struct learn_rule: the learner makes it, the store keeps it, the
 * rule snapshot and heraldctl read it), with the vocabulary they carry:
 * how long a key is, what a request fetches (enum obs_dest), a rule's
 * channels, states, levels and ranks and the names the database spells
 * them by (rows.c).
 *
 * The names keep the prefixes of the modules that make these rows
 * (learner/obs.h, attribution.h, learn.h), so code above reads as before;
 * the definitions live here so that store/ needs nothing above it. */
#ifndef STORE_ROWS_H
#define STORE_ROWS_H

#include <stddef.h>
#include <stdint.h>

/* A key ("scheme://authority/path[?query]": a page, template, section,
 * site or resource; learner/pagekey.h makes them) fits in this many
 * bytes, NUL included. */
#define PAGEKEY_MAX 768

#define OBS_CTYPE_MAX 64 /* a response's media type, lower case */

/* Declarations noted per navigation, at most (the rest are not). */
#define OBS_DECLARED_MAX 16

/* What the client said it fetches (Sec-Fetch-Dest), or what the response's
 * content type says when the client sent no Sec-Fetch-Dest. */
enum obs_dest {
  OBS_DEST_NONE = 0,
  OBS_DEST_DOCUMENT,
  OBS_DEST_STYLE,
  OBS_DEST_SCRIPT,
  OBS_DEST_FONT,
  OBS_DEST_IMAGE,
  OBS_DEST_FETCH, /* fetch/XHR/json/other CORS */
  OBS_DEST_OTHER,
};

/* ---- a visit ------------------------------------------------------------ */

enum visit_req_flag {
  VISIT_REQ_PUSHABLE = 1u << 0,    /* GET, 200, same authority, cacheable
                                      (no no-store, no private, no
                                      Authorization), no Set-Cookie,
                                      Vary <= Accept-Encoding, complete */
  VISIT_REQ_ALREADY_HAD = 1u << 1, /* 304 to a conditional request */
  VISIT_REQ_PUSHED = 1u << 2,
  VISIT_REQ_HINTED = 1u << 3,
  VISIT_REQ_DELIVERED = 1u << 4,   /* not requested: herald pushed it whole
                                      and the client never asked (the
                                      push stood in for the request);
                                      depth 0, no delay */
};

#define VISIT_URGENCY_NONE 0xff

struct visit_req {
  char key[PAGEKEY_MAX];   /* resource key: scheme://authority/path?query,
                              the query as requested */
  char method[8];
  char content_type[OBS_CTYPE_MAX];
  uint16_t status;
  uint8_t dest;            /* enum obs_dest: Sec-Fetch-Dest, or derived
                              from content_type (learner/attribution.h) */
  uint8_t urgency;         /* RFC 9218 urgency (0 most urgent .. 7) of the
                              request's priority field; VISIT_URGENCY_NONE
                              when it had none */
  uint8_t depth;           /* 1: referred by the page (255 at most) */
  int parent;              /* index of the referring resource, or -1 */
  uint32_t flags;          /* enum visit_req_flag */
  uint32_t delay_ms;       /* request start minus page request start */
  uint64_t bytes;
};

/* What herald sent ahead of the page. */
enum visit_delivery {
  VISIT_NONE = 0,    /* no rules, mode off or shadow */
  VISIT_HINTS = 1,   /* a 103 Early Hints */
  VISIT_PUSH = 2,    /* server pushes */
  VISIT_HOLDOUT = 3, /* would have got one of those; held out to measure */
};

/* One pushed stream of the visit (OBS_PUSH). */
struct visit_push {
  char key[PAGEKEY_MAX];
  char content_type[OBS_CTYPE_MAX];
  uint64_t bytes;      /* body bytes sent */
  int completed;       /* sent to the end; 0: reset (cancelled) */
  int client_had;      /* not pushed: the browser had it (digest cookie) */
  uint8_t dest;        /* client_had: the rule's destination */
};

/* A resource herald named to the client ahead of the page: in the 103
 * Early Hints it sent, or as a push it promised (whatever became of it).
 * A request for it in this visit is herald's doing, not the page's, so
 * the learner takes it as no evidence either way. Filled by the recorder
 * (attribution leaves it empty). */
enum visit_named_channel { VISIT_NAMED_HINT = 1, VISIT_NAMED_PUSH = 2 };
struct visit_named {
  char key[PAGEKEY_MAX];
  uint8_t channel; /* enum visit_named_channel */
};

/* A resource the page's backend declared (struct visit_declared): where
 * it said so, and whether herald's 103 to the client named it. */
enum visit_decl_flag {
  VISIT_DECL_LINK = 1u << 0,  /* a Link field of the page's response */
  VISIT_DECL_EARLY = 1u << 1, /* the backend's own 103 */
  VISIT_DECL_NAMED = 1u << 2, /* herald's 103 named it (forwarded or
                                 merged): what the client then fetched is
                                 herald's doing (struct visit_named) */
};
struct visit_declared {
  char key[PAGEKEY_MAX];
  uint8_t dest;  /* enum obs_dest, from the link's as= */
  uint8_t flags; /* enum visit_decl_flag */
};

struct visit {
  char page_key[PAGEKEY_MAX];
  char template_key[PAGEKEY_MAX];
  int mobile;
  uint8_t client_token[16]; /* who: address and User-Agent (attribution) */
  uint8_t network[16];     /* the client's network (recorder.h): what
                              learn.min_clients counts; all zero for a
                              visit recorded before herald knew it */
  uint64_t start_ms;       /* page request arrival, Unix ms */
  uint64_t load_ms;        /* page start to end of last attributed response */
  uint64_t bytes;          /* page + attributed + pushed response bytes */
  uint8_t delivery;        /* enum visit_delivery */
  struct visit_req *reqs;  /* in the order the client made them (start
                              time, then connection and stream), then the
                              completed pushes */
  size_t nreqs;
  struct visit_push *pushes;
  size_t npushes;
  struct visit_named *named; /* see struct visit_named */
  size_t nnamed;
  struct visit_declared *declared; /* what the backend declared */
  size_t ndeclared;
  /* Where the page's 103 came from (the proxy's choice, carried by the
   * page's OBS_DONE): snapshot generation, page slot, and the entries
   * named (bit i: entry i). Zero without a 103. */
  uint64_t rules_gen;
  uint32_t rules_slot;
  uint64_t named_mask;
};

/* ---- a rule -------------------------------------------------------------- */

enum learn_channel {
  LEARN_PUSH = 1u << 0,
  LEARN_HINT = 1u << 1,
};

enum learn_state { LEARN_LEARNED, LEARN_PINNED, LEARN_BLOCKED };

enum learn_level {
  LEARN_PAGE,
  LEARN_TEMPLATE,
  LEARN_SECTION,
  LEARN_SITE,
  LEARN_LEVELS,
};

/* How much the page needs a resource first; lower goes first. */
enum learn_rank {
  LEARN_RANK_STYLE,  /* a render-blocking stylesheet */
  LEARN_RANK_SCRIPT, /* a synchronous (parser-blocking) script */
  LEARN_RANK_FONT,
  LEARN_RANK_OTHER,  /* images, fetches, async scripts, print styles */
};

struct learn_rule {
  char key[PAGEKEY_MAX];  /* resource key */
  uint8_t dest;           /* enum obs_dest */
  uint8_t depth;
  uint8_t state;          /* enum learn_state */
  uint8_t level;          /* enum learn_level that decided (served rules),
                             or whose entry is shown (near misses) */
  uint8_t rank;           /* enum learn_rank */
  uint8_t urgency;        /* latest genuine, VISIT_URGENCY_NONE unknown */
  uint32_t channels;      /* enum learn_channel; 0 = near miss, no rule */
  int ord;                /* position in the page's list, from 0 */
  double k, n, confidence, wilson; /* at |level| */
  int clients;            /* at most LEARN_MAX_CLIENTS */
  uint64_t bytes;          /* latest size seen */
  uint32_t median_delay_ms;
  uint8_t place;           /* median place among its rank's requests in a
                              visit, from 0; LEARN_PLACE_NONE (learn.h)
                              unknown */
  uint8_t pushable;        /* the latest request was VISIT_REQ_PUSHABLE */
  uint8_t superseded;      /* at |level|, see learner/learn.h */
  uint8_t suspended;
  uint8_t declared;        /* at |level|: the backend declared it (its k
                              and n include the prior) */
  uint32_t pushes_used;    /* push outcomes (recent: halved past 256) */
  uint32_t pushes_unused;
};

/* learn_rank_of ranks a resource by its destination and the urgency its
 * genuine requests carried (VISIT_URGENCY_NONE: unknown). */
uint8_t learn_rank_of(uint8_t dest, uint8_t urgency);

/* Names as the rules table and heraldctl spell them: channels "push"
 * (push and hint), "hint", "none"; states "learned", "pinned", "blocked";
 * levels "page", "template", "section", "site"; ranks "style", "script",
 * "font", "other". The parsers return -1 for an unknown name. */
const char *learn_channel_name(uint32_t channels);
const char *learn_state_name(uint8_t state);
const char *learn_level_name(uint8_t level);
const char *learn_rank_name(uint8_t rank);
int learn_level_parse(const char *name);

#endif
