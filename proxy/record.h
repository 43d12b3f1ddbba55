/* record.h: what the loop thread notes about a request for the recorder.
 *
 * An exchange (exchange.h) keeps one struct obs per request and fills
 * it in three steps: from the validated request head, from the response
 * head, and at the end. Each step is a single pass over fields the
 * exchange already has; nothing here allocates or blocks. Posting is
 * recorder_post. */
#ifndef PROXY_RECORD_H
#define PROXY_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "learner/obs.h"

struct conn;
struct http_req;
struct http_hdr;

/* record_request fills |o| from a validated request on |c|. */
void record_request(struct obs *o, const struct conn *c, uint64_t stream_id,
                    const struct http_req *req);

/* record_urgency reads the urgency of an RFC 9218 Priority field value
 * (a structured-field dictionary such as "u=0, i"): the integer of member
 * "u" when it is 0..7, else the default 3. */
uint8_t record_urgency(const char *value, size_t len);

/* record_maybe_navigation: worth an OBS_NAV_START (the recorder decides). */
int record_maybe_navigation(const struct obs *o);

/* record_request_navigation is record_maybe_navigation for |req| itself,
 * without filling an obs (for a herald that records nothing); sets
 * |*flags| to the OBS_F_ bits it looked at. */
int record_request_navigation(const struct http_req *req, uint32_t *flags);

/* record_response notes the response head. */
void record_response(struct obs *o, int status, const struct http_hdr *hdrs,
                     size_t n);

/* record_finish notes the end: body bytes sent and whether the response
 * was cut short (reset, backend failure after the head, client gone). */
void record_finish(struct obs *o, uint64_t bytes, int cut_short);

#endif
