/* Unit tests of the retry rules and the backoff (src/retry.c): which attempts are retried, and
 * that full jitter stays between base_delay_ms and the capped exponential bound. */
#include <check.h>
#include <stdlib.h>

#include "harness.h"
#include "kycgate/retry.h"

START_TEST(which_attempts_are_retried)
{
	static const long again[] = {408, 429, 502, 503, 504};
	static const long never[] = {200, 204, 302, 400, 401, 403, 404, 409, 422, 500, 501};
	size_t i;

	for (i = 0; i < sizeof(again) / sizeof(again[0]); i++)
		ck_assert_msg(kg_retry_wanted(KG_UP_OK, again[i], 0, false), "%ld", again[i]);
	for (i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		ck_assert_msg(!kg_retry_wanted(KG_UP_OK, never[i], 0, false), "%ld", never[i]);
	ck_assert(kg_retry_wanted(KG_UP_CONNECT, 0, 0, false));
	ck_assert(kg_retry_wanted(KG_UP_RESET, 0, 0, false));
	ck_assert(kg_retry_wanted(KG_UP_TIMEOUT, 0, 0, false));
	ck_assert(!kg_retry_wanted(KG_UP_TOO_LARGE, 0, 0, false));
	ck_assert(!kg_retry_wanted(KG_UP_SHUTDOWN, 0, 0, false));
	ck_assert(!kg_retry_wanted(KG_UP_BUDGET, 0, 0, false));
}
END_TEST

/* A trigger or an upload: only when it provably never reached Crossmint. */
START_TEST(once_only_calls)
{
	ck_assert(kg_retry_wanted(KG_UP_CONNECT, 0, 0, true));
	ck_assert(!kg_retry_wanted(KG_UP_RESET, 0, 0, true));
	ck_assert(!kg_retry_wanted(KG_UP_TIMEOUT, 0, 0, true));
	ck_assert(!kg_retry_wanted(KG_UP_OK, 502, 0, true));
	ck_assert(!kg_retry_wanted(KG_UP_OK, 504, 0, true));
	ck_assert(!kg_retry_wanted(KG_UP_OK, 408, 0, true));
	ck_assert(!kg_retry_wanted(KG_UP_OK, 503, 0, true));
	ck_assert(!kg_retry_wanted(KG_UP_OK, 429, 0, true));
	ck_assert(kg_retry_wanted(KG_UP_OK, 503, 2, true));
	ck_assert(kg_retry_wanted(KG_UP_OK, 429, 1, true));
}
END_TEST

/* Retry n waits between base and min(max, base * 2^n), over many random draws, and the draws
 * reach both ends of that range. */
START_TEST(backoff_bounds)
{
	unsigned long long state = 42, d, lo_seen, hi_seen;
	unsigned n, i;

	for (n = 1; n <= 8; n++) {
		unsigned long long hi = 100ull << n;

		if (hi > 2000)
			hi = 2000;
		lo_seen = ~0ull;
		hi_seen = 0;
		for (i = 0; i < 20000; i++) {
			state = state * 6364136223846793005ull + 1442695040888963407ull;
			d = kg_retry_delay_ms(n, 100, 2000, 0, (uint32_t)(state >> 32));
			ck_assert_uint_ge(d, 100);
			ck_assert_uint_le(d, hi);
			lo_seen = d < lo_seen ? d : lo_seen;
			hi_seen = d > hi_seen ? d : hi_seen;
		}
		ck_assert_uint_le(lo_seen, 110);
		ck_assert_uint_ge(hi_seen, hi - 10);
	}
	/* Extremes: the bound never overflows, max below base is max. */
	ck_assert_uint_le(kg_retry_delay_ms(60, 100, 2000, 0, 0xffffffffu), 2000);
	ck_assert_uint_eq(kg_retry_delay_ms(3, 500, 200, 0, 12345), 200);
}
END_TEST

/* Retry-After wins when longer than the backoff (the deadline then decides). */
START_TEST(retry_after_wins)
{
	ck_assert_uint_eq(kg_retry_delay_ms(1, 100, 2000, 3, 7), 3000);
	ck_assert_uint_le(kg_retry_delay_ms(1, 100, 2000, 0, 7), 200);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("retry");
	TCase *tc = tcase_create("retry");
	int failed;

	tcase_add_test(tc, which_attempts_are_retried);
	tcase_add_test(tc, once_only_calls);
	tcase_add_test(tc, backoff_bounds);
	tcase_add_test(tc, retry_after_wins);
	suite_add_tcase(s, tc);
	failed = kt_run_suite(s);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
