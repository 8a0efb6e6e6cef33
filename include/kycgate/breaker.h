/* The upstream circuit breaker (design §6): a state machine over a plain value, with the clock
 * reading passed in. Pure and not thread-safe: the upstream engine owns one and touches it only
 * on its thread.
 *
 * Closed, it counts consecutive failed attempts (kg_breaker_classify: connect errors, resets,
 * timeouts, 502 / 503 / 504 / 408; not 429, other 4xx, 500 or a body kycgate cannot use); any
 * success resets the count; failure_threshold of them open it. Open, every exchange is refused
 * for open_ms. Then it is half-open: one exchange goes through as the probe while the others are
 * refused; the probe's success closes the breaker, its failure opens it again. */
#ifndef KYCGATE_BREAKER_H
#define KYCGATE_BREAKER_H

#include <stdbool.h>

#include "kycgate/upstream.h"

/* The values of kycgate_circuit_breaker_state. */
enum kg_breaker_state { KG_BREAKER_CLOSED = 0, KG_BREAKER_OPEN = 1, KG_BREAKER_HALF_OPEN = 2 };

/* What one attempt tells the breaker. */
enum kg_breaker_outcome {
	KG_BREAKER_SUCCESS = 0, /* Crossmint answered (2xx, 3xx, 4xx but 408 / 429) */
	KG_BREAKER_FAILURE,     /* a failure of a retried kind */
	KG_BREAKER_NEUTRAL,     /* neither: 429, 500 and other 5xx, an answer too large */
};

/* What kg_breaker_admit decided for one attempt. */
enum kg_breaker_verdict {
	KG_BREAKER_PASS = 0, /* closed: go */
	KG_BREAKER_PROBE,    /* half-open: go, as the probe (report it with probe = true) */
	KG_BREAKER_REFUSE,   /* open, or a probe is out: do not call Crossmint */
};

struct kg_breaker {
	enum kg_breaker_state state;
	unsigned failures;                /* closed: consecutive failed attempts */
	unsigned long long open_until_ms; /* open: when it turns half-open */
	bool probing;                     /* half-open: the probe is out */
};

/* A closed breaker. */
void kg_breaker_init(struct kg_breaker *b);

/* The outcome of an attempt that ended with result and (for KG_UP_OK) HTTP status. */
enum kg_breaker_outcome kg_breaker_classify(enum kg_up_result result, long status);

/* Turns an open breaker half-open once now_ms reaches open_until_ms; true when it changed. */
bool kg_breaker_tick(struct kg_breaker *b, unsigned long long now_ms);

/* Whether an attempt may start at now_ms (ticking first). On refusal *retry_ms says how long until
 * a probe may go (at least 1 ms). */
enum kg_breaker_verdict kg_breaker_admit(struct kg_breaker *b, unsigned long long now_ms,
                                         unsigned long long *retry_ms);

/* Records the outcome of an attempt; probe says it was admitted as the probe. Outcomes of other
 * attempts that end while the breaker is not closed are ignored (they started before it opened).
 * true when the state changed. */
bool kg_breaker_record(struct kg_breaker *b, enum kg_breaker_outcome o, bool probe,
                       unsigned failure_threshold, unsigned long long open_ms,
                       unsigned long long now_ms);

/* The probe ended without an outcome (shutdown, or it never reached Crossmint): the next attempt
 * may probe. */
void kg_breaker_probe_lost(struct kg_breaker *b);

/* "closed", "open", "half-open". Static. */
const char *kg_breaker_state_name(enum kg_breaker_state s);

#endif
