/* The circuit breaker's state machine (kycgate/breaker.h). */
#include "kycgate/breaker.h"

void kg_breaker_init(struct kg_breaker *b)
{
	b->state = KG_BREAKER_CLOSED;
	b->failures = 0;
	b->open_until_ms = 0;
	b->probing = false;
}

enum kg_breaker_outcome kg_breaker_classify(enum kg_up_result result, long status)
{
	switch (result) {
	case KG_UP_OK:
		if (status == 408 || status == 502 || status == 503 || status == 504)
			return KG_BREAKER_FAILURE;
		if (status == 429 || status >= 500)
			return KG_BREAKER_NEUTRAL;
		return KG_BREAKER_SUCCESS;
	case KG_UP_TIMEOUT:
	case KG_UP_CONNECT:
	case KG_UP_RESET:
		return KG_BREAKER_FAILURE;
	default:
		return KG_BREAKER_NEUTRAL;
	}
}

bool kg_breaker_tick(struct kg_breaker *b, unsigned long long now_ms)
{
	if (b->state != KG_BREAKER_OPEN || now_ms < b->open_until_ms)
		return false;
	b->state = KG_BREAKER_HALF_OPEN;
	b->probing = false;
	return true;
}

enum kg_breaker_verdict kg_breaker_admit(struct kg_breaker *b, unsigned long long now_ms,
                                         unsigned long long *retry_ms)
{
	kg_breaker_tick(b, now_ms);
	switch (b->state) {
	case KG_BREAKER_CLOSED:
		return KG_BREAKER_PASS;
	case KG_BREAKER_HALF_OPEN:
		if (!b->probing) {
			b->probing = true;
			return KG_BREAKER_PROBE;
		}
		*retry_ms = 1000; /* the probe's answer decides; ask again shortly */
		return KG_BREAKER_REFUSE;
	case KG_BREAKER_OPEN:
	default:
		*retry_ms = b->open_until_ms > now_ms ? b->open_until_ms - now_ms : 1;
		return KG_BREAKER_REFUSE;
	}
}

static void trip(struct kg_breaker *b, unsigned long long open_ms, unsigned long long now_ms)
{
	b->state = KG_BREAKER_OPEN;
	b->open_until_ms = now_ms + open_ms;
	b->failures = 0;
	b->probing = false;
}

bool kg_breaker_record(struct kg_breaker *b, enum kg_breaker_outcome o, bool probe,
                       unsigned failure_threshold, unsigned long long open_ms,
                       unsigned long long now_ms)
{
	if (probe && b->state == KG_BREAKER_HALF_OPEN) {
		if (o == KG_BREAKER_FAILURE) {
			trip(b, open_ms, now_ms);
			return true;
		}
		/* A success, or an answer that says Crossmint is up (429, 500): closed again. */
		kg_breaker_init(b);
		return true;
	}
	if (b->state != KG_BREAKER_CLOSED)
		return false;
	if (o == KG_BREAKER_SUCCESS)
		b->failures = 0;
	if (o != KG_BREAKER_FAILURE)
		return false;
	if (++b->failures < failure_threshold)
		return false;
	trip(b, open_ms, now_ms);
	return true;
}

void kg_breaker_probe_lost(struct kg_breaker *b)
{
	if (b->state == KG_BREAKER_HALF_OPEN)
		b->probing = false;
}

const char *kg_breaker_state_name(enum kg_breaker_state s)
{
	switch (s) {
	case KG_BREAKER_OPEN:
		return "open";
	case KG_BREAKER_HALF_OPEN:
		return "half-open";
	case KG_BREAKER_CLOSED:
	default:
		return "closed";
	}
}
