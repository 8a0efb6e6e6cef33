/* Retry decisions and backoff (kycgate/retry.h). */
#include "kycgate/retry.h"

bool kg_retry_wanted(enum kg_up_result result, long status, unsigned retry_after_s, bool once_only)
{
	switch (result) {
	case KG_UP_CONNECT:
		return true;
	case KG_UP_RESET:
	case KG_UP_TIMEOUT:
		return !once_only; /* the request may have reached Crossmint */
	case KG_UP_OK:
		if (status == 429 || status == 503)
			return !once_only || retry_after_s > 0;
		return !once_only && (status == 502 || status == 504 || status == 408);
	default:
		return false;
	}
}

unsigned long long kg_retry_delay_ms(unsigned n, unsigned base_ms, unsigned max_ms,
                                     unsigned retry_after_s, uint32_t rnd)
{
	unsigned long long hi = base_ms, lo = base_ms, d;
	unsigned i;

	for (i = 0; i < n && hi < max_ms; i++)
		hi *= 2;
	if (hi > max_ms)
		hi = max_ms;
	if (lo > hi)
		lo = hi;
	d = lo + (unsigned long long)rnd % (hi - lo + 1);
	if ((unsigned long long)retry_after_s * 1000 > d)
		d = (unsigned long long)retry_after_s * 1000;
	return d;
}
