/* A token bucket refilled continuously: per_minute tokens at most, per_minute / 60000 tokens per
 * millisecond. Used for the gateway's upstream rate budget (upstream.c) and for the per-client
 * limits (client_limit.c). Pure functions over a plain value and a clock reading passed in, so
 * tests drive time themselves; not thread-safe (the owner locks). */
#ifndef KYCGATE_TBUCKET_H
#define KYCGATE_TBUCKET_H

#include <stdbool.h>

struct kg_tbucket {
	double tokens;            /* may go below zero after a forced take */
	unsigned long long at_ms; /* the clock reading of the last refill */
	bool started;             /* false: full at the first refill */
};

/* Brings b to now_ms: a bucket never used starts full; tokens never exceed per_minute, so a
 * smaller size after a reload applies at once and a larger one is reached by refilling, never by
 * a jump. per_minute must be > 0. */
void kg_tbucket_refill(struct kg_tbucket *b, unsigned per_minute, unsigned long long now_ms);

/* Milliseconds until b (refilled) holds need tokens; 0 when it already does. */
unsigned long long kg_tbucket_wait_ms(const struct kg_tbucket *b, unsigned per_minute, double need);

/* Refills b, then takes one token when it holds at least need (or when force: it may then go
 * below zero, and later takes wait longer); true when taken. On refusal *wait_ms (may be NULL)
 * says when need tokens will be there. */
bool kg_tbucket_take(struct kg_tbucket *b, unsigned per_minute, double need, bool force,
                     unsigned long long now_ms, unsigned long long *wait_ms);

/* The need to pass to kg_tbucket_take for a taker that must leave keep (a fraction, 0..1) of
 * the bucket's per_minute tokens to others: keep * per_minute + 1, at least 1 and at most
 * per_minute (with a tiny bucket such a taker waits for a full one). Pure. */
double kg_tbucket_need(unsigned per_minute, double keep);

/* Milliseconds until b (refilled) is full again; 0 when it is. */
unsigned long long kg_tbucket_full_ms(const struct kg_tbucket *b, unsigned per_minute);

#endif
