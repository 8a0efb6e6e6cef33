/* Per-client request limits (auth.clients[].requests_per_minute, design §4): one token bucket per
 * client name, process state that survives reloads (a reload resizes a bucket without refilling
 * it). Each request that passed authentication takes one token; a long-poll's re-reads are the
 * engine's, never the caller's, so they take none. */
#ifndef KYCGATE_CLIENT_LIMIT_H
#define KYCGATE_CLIENT_LIMIT_H

#include <stdbool.h>
#include <stddef.h>

struct kg_climits;

/* What one request learnt of its client's limit, for the RateLimit-Policy / RateLimit headers
 * (draft-ietf-httpapi-ratelimit-headers) and Retry-After. */
struct kg_climit_note {
	unsigned limit;         /* requests per minute; 0 = no limit (no headers) */
	unsigned remaining;     /* whole requests left now */
	unsigned reset_s;       /* seconds until the bucket is full again */
	unsigned retry_after_s; /* refused: seconds until one request is allowed (>= 1) */
};

/* A new, empty set of buckets; NULL when memory ran out. Free with kg_climits_free (accepts
 * NULL). */
struct kg_climits *kg_climits_new(void);
void kg_climits_free(struct kg_climits *cl);

/* Takes one request from the bucket of client name (copied), sized per_minute (> 0), at now_ms
 * (kg_now_ms(); tests pass their own clock). true when allowed; note says what is left either
 * way. A bucket that cannot be created (out of memory) allows. Thread-safe. */
bool kg_climits_take(struct kg_climits *cl, const char *name, unsigned per_minute,
                     unsigned long long now_ms, struct kg_climit_note *note);

/* The values of the RateLimit-Policy and RateLimit headers for note (limit > 0), as the current
 * draft spells them: "client";q=60;w=60 and "client";r=59;t=1. */
void kg_climit_headers(const struct kg_climit_note *note, char *policy, size_t policy_cap,
                       char *state, size_t state_cap);

struct kg_req;

/* The request path (checks.c, after 401 / 403): takes one token for req's client when its
 * requests_per_minute is set, keeping the note in req for the headers of the answer; false with
 * the 429 rate-limited problem set when the client is over its limit. */
bool kg_client_limit_check(struct kg_req *req);

#endif
