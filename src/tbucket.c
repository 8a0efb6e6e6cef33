/* The continuously refilled token bucket of kycgate/tbucket.h. */
#include <math.h>
#include <stddef.h>

#include "kycgate/tbucket.h"

void kg_tbucket_refill(struct kg_tbucket *b, unsigned per_minute, unsigned long long now_ms)
{
	if (!b->started) {
		b->tokens = per_minute;
		b->started = true;
	} else if (now_ms > b->at_ms) {
		b->tokens += (double)(now_ms - b->at_ms) * per_minute / 60000.0;
	}
	if (b->tokens > per_minute)
		b->tokens = per_minute;
	if (now_ms >= b->at_ms)
		b->at_ms = now_ms;
}

unsigned long long kg_tbucket_wait_ms(const struct kg_tbucket *b, unsigned per_minute, double need)
{
	if (b->tokens >= need)
		return 0;
	return (unsigned long long)ceil((need - b->tokens) * 60000.0 / per_minute);
}

bool kg_tbucket_take(struct kg_tbucket *b, unsigned per_minute, double need, bool force,
                     unsigned long long now_ms, unsigned long long *wait_ms)
{
	kg_tbucket_refill(b, per_minute, now_ms);
	if (force || b->tokens >= need) {
		b->tokens -= 1.0;
		return true;
	}
	if (wait_ms != NULL)
		*wait_ms = kg_tbucket_wait_ms(b, per_minute, need);
	return false;
}

unsigned long long kg_tbucket_full_ms(const struct kg_tbucket *b, unsigned per_minute)
{
	return kg_tbucket_wait_ms(b, per_minute, (double)per_minute);
}

double kg_tbucket_need(unsigned per_minute, double keep)
{
	double need = fmin(1.0 + keep * per_minute, (double)per_minute);

	return need < 1.0 ? 1.0 : need;
}
