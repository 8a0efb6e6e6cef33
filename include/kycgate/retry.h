/* Which upstream attempts are retried and after how long (design §6). Pure functions; the
 * upstream engine applies them on its timer heap. */
#ifndef KYCGATE_RETRY_H
#define KYCGATE_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "kycgate/upstream.h"

/* Whether an attempt that ended with result and (for KG_UP_OK) HTTP status, and Retry-After
 * retry_after_s (0 = none), may be tried again. Retried: connect errors, resets, attempt timeouts,
 * 502 / 503 / 504 / 408, and 429; not 500, other 4xx or a 2xx / 3xx. A call that may start work
 * at Crossmint (once_only: a trigger, a document upload) is retried only when it provably never
 * reached it: a connect failure, or 429 / 503 with Retry-After. */
bool kg_retry_wanted(enum kg_up_result result, long status, unsigned retry_after_s, bool once_only);

/* The backoff before retry number n (1 for the first retry) with full jitter: uniform over
 * [base_ms, min(max_ms, base_ms * 2^n)] (never below base_ms, never above max_ms), drawn from
 * rnd (any 32 random bits). When Retry-After said more, that wins (it may exceed max_ms: the
 * deadline then decides whether the retry happens). */
unsigned long long kg_retry_delay_ms(unsigned n, unsigned base_ms, unsigned max_ms,
                                     unsigned retry_after_s, uint32_t rnd);

#endif
