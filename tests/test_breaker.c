/* Unit tests of the circuit breaker's state machine (src/breaker.c) with a clock of our own: what
 * counts, opening at the threshold, refusing while open, one probe when half-open, and what the
 * probe's outcome does. */
#include <check.h>
#include <stdlib.h>

#include "harness.h"
#include "kycgate/breaker.h"

#define THRESHOLD 3
#define OPEN_MS 30000ull

static bool record(struct kg_breaker *b, enum kg_breaker_outcome o, bool probe,
                   unsigned long long now)
{
	return kg_breaker_record(b, o, probe, THRESHOLD, OPEN_MS, now);
}

START_TEST(classify_follows_design_6)
{
	static const long failing[] = {408, 502, 503, 504};
	static const long fine[] = {200, 201, 204, 302, 400, 401, 403, 404, 409, 422};
	static const long neutral[] = {429, 500, 501, 505};
	size_t i;

	for (i = 0; i < sizeof(failing) / sizeof(failing[0]); i++)
		ck_assert_int_eq(kg_breaker_classify(KG_UP_OK, failing[i]), KG_BREAKER_FAILURE);
	for (i = 0; i < sizeof(fine) / sizeof(fine[0]); i++)
		ck_assert_int_eq(kg_breaker_classify(KG_UP_OK, fine[i]), KG_BREAKER_SUCCESS);
	for (i = 0; i < sizeof(neutral) / sizeof(neutral[0]); i++)
		ck_assert_int_eq(kg_breaker_classify(KG_UP_OK, neutral[i]), KG_BREAKER_NEUTRAL);
	ck_assert_int_eq(kg_breaker_classify(KG_UP_CONNECT, 0), KG_BREAKER_FAILURE);
	ck_assert_int_eq(kg_breaker_classify(KG_UP_RESET, 0), KG_BREAKER_FAILURE);
	ck_assert_int_eq(kg_breaker_classify(KG_UP_TIMEOUT, 0), KG_BREAKER_FAILURE);
	ck_assert_int_eq(kg_breaker_classify(KG_UP_TOO_LARGE, 0), KG_BREAKER_NEUTRAL);
	ck_assert_int_eq(kg_breaker_classify(KG_UP_SHUTDOWN, 0), KG_BREAKER_NEUTRAL);
}
END_TEST

/* Consecutive failures open it; a success in between starts the count again; neutral outcomes
 * neither count nor reset. */
START_TEST(opens_after_consecutive_failures)
{
	struct kg_breaker b;
	unsigned long long retry = 0;

	kg_breaker_init(&b);
	ck_assert(!record(&b, KG_BREAKER_FAILURE, false, 0));
	ck_assert(!record(&b, KG_BREAKER_FAILURE, false, 0));
	ck_assert(!record(&b, KG_BREAKER_SUCCESS, false, 0));
	ck_assert(!record(&b, KG_BREAKER_FAILURE, false, 0));
	ck_assert(!record(&b, KG_BREAKER_NEUTRAL, false, 0));
	ck_assert(!record(&b, KG_BREAKER_FAILURE, false, 0));
	ck_assert_int_eq(b.state, KG_BREAKER_CLOSED);
	ck_assert_int_eq(kg_breaker_admit(&b, 10, &retry), KG_BREAKER_PASS);
	ck_assert(record(&b, KG_BREAKER_FAILURE, false, 1000));
	ck_assert_int_eq(b.state, KG_BREAKER_OPEN);
	ck_assert_int_eq(kg_breaker_admit(&b, 1000, &retry), KG_BREAKER_REFUSE);
	ck_assert_uint_eq(retry, OPEN_MS);
	ck_assert_int_eq(kg_breaker_admit(&b, 1000 + OPEN_MS - 1, &retry), KG_BREAKER_REFUSE);
	ck_assert_uint_eq(retry, 1);
	/* Late answers of attempts that started before it opened change nothing. */
	ck_assert(!record(&b, KG_BREAKER_SUCCESS, false, 2000));
	ck_assert_int_eq(b.state, KG_BREAKER_OPEN);
}
END_TEST

static void open_at(struct kg_breaker *b, unsigned long long now)
{
	int i;

	kg_breaker_init(b);
	for (i = 0; i < THRESHOLD; i++)
		record(b, KG_BREAKER_FAILURE, false, now);
	ck_assert_int_eq(b->state, KG_BREAKER_OPEN);
}

/* After open_ms one probe goes; the others are refused until it answers. */
START_TEST(half_open_lets_one_probe)
{
	struct kg_breaker b;
	unsigned long long retry = 0;

	open_at(&b, 0);
	ck_assert(!kg_breaker_tick(&b, OPEN_MS - 1));
	ck_assert(kg_breaker_tick(&b, OPEN_MS));
	ck_assert_int_eq(b.state, KG_BREAKER_HALF_OPEN);
	ck_assert_int_eq(kg_breaker_admit(&b, OPEN_MS, &retry), KG_BREAKER_PROBE);
	ck_assert_int_eq(kg_breaker_admit(&b, OPEN_MS, &retry), KG_BREAKER_REFUSE);
	ck_assert_uint_ge(retry, 1);
	/* A probe lost (shutdown, no budget) lets the next attempt probe. */
	kg_breaker_probe_lost(&b);
	ck_assert_int_eq(kg_breaker_admit(&b, OPEN_MS, &retry), KG_BREAKER_PROBE);
	/* Its success closes the breaker with a fresh count. */
	ck_assert(record(&b, KG_BREAKER_SUCCESS, true, OPEN_MS + 5));
	ck_assert_int_eq(b.state, KG_BREAKER_CLOSED);
	ck_assert_uint_eq(b.failures, 0);
	ck_assert_int_eq(kg_breaker_admit(&b, OPEN_MS + 6, &retry), KG_BREAKER_PASS);
}
END_TEST

/* admit turns it half-open by itself (no tick needed); a failed probe opens it for open_ms more. */
START_TEST(failed_probe_opens_again)
{
	struct kg_breaker b;
	unsigned long long retry = 0;

	open_at(&b, 100);
	ck_assert_int_eq(kg_breaker_admit(&b, 100 + OPEN_MS, &retry), KG_BREAKER_PROBE);
	ck_assert(record(&b, KG_BREAKER_FAILURE, true, 200 + OPEN_MS));
	ck_assert_int_eq(b.state, KG_BREAKER_OPEN);
	ck_assert_uint_eq(b.open_until_ms, 200 + 2 * OPEN_MS);
	ck_assert_int_eq(kg_breaker_admit(&b, 300 + OPEN_MS, &retry), KG_BREAKER_REFUSE);
	/* A probe answered 429 or 500: Crossmint is up, closed. */
	ck_assert_int_eq(kg_breaker_admit(&b, 200 + 2 * OPEN_MS, &retry), KG_BREAKER_PROBE);
	ck_assert(record(&b, KG_BREAKER_NEUTRAL, true, 300 + 2 * OPEN_MS));
	ck_assert_int_eq(b.state, KG_BREAKER_CLOSED);
	ck_assert_str_eq(kg_breaker_state_name(KG_BREAKER_HALF_OPEN), "half-open");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("breaker");
	TCase *tc = tcase_create("breaker");
	int failed;

	tcase_add_test(tc, classify_follows_design_6);
	tcase_add_test(tc, opens_after_consecutive_failures);
	tcase_add_test(tc, half_open_lets_one_probe);
	tcase_add_test(tc, failed_probe_opens_again);
	suite_add_tcase(s, tc);
	failed = kt_run_suite(s);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
