/* An upstream status answer shared by every read that joined one upstream call (single flight)
 * or reused it from the short cache (design §6). Immutable once built, reference counted, and
 * normalized at most once per distinct (?products, ?country): the serialized bytes are shared by
 * the waiters. Thread-safe. */
#ifndef KYCGATE_ANSWER_H
#define KYCGATE_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "kycgate/common.h"

struct kg_answer;

/* A new answer taking ownership of body (malloc'd, may be NULL), with one reference. */
struct kg_answer *kg_answer_new(long status, char *body, size_t len, unsigned retry_after_s,
                                time_t observed_at);

struct kg_answer *kg_answer_ref(struct kg_answer *a);
/* Drops a reference; the last one wipes and frees. Accepts NULL. */
void kg_answer_put(struct kg_answer *a);

long kg_answer_status(const struct kg_answer *a);
const char *kg_answer_body(const struct kg_answer *a, size_t *len);
unsigned kg_answer_retry_after(const struct kg_answer *a);

/* What a caller's view of the answer depends on. */
struct kg_view {
	const char *locator;     /* decoded locator */
	const char *environment; /* "staging", ... */
	unsigned products;       /* ?products mask, 0 = all */
	const char *country;     /* ?country, or NULL */
	unsigned cache_ttl_ms;   /* for pollAfterSeconds */
	unsigned budget_wait_s;  /* seconds until the read budget has a token */
};

/* The normalized bytes of this answer for view v: computed on the first call for a given
 * (products, country, cache_ttl_ms, budget_wait_s) and shared after that (at most KG_ANSWER_VIEWS
 * distinct views are kept; further ones are computed each time). On success *bytes is new memory
 * (caller wipes and frees: it holds personal data), *in_review tells whether a
 * product in scope is in review. On upstream junk returns KG_ERR_UPSTREAM with *detail. */
#define KG_ANSWER_VIEWS 4
enum kg_err kg_answer_view(struct kg_answer *a, const struct kg_view *v, char **bytes, size_t *len,
                           bool *in_review, const char **detail);

#endif
