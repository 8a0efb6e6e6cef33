/* Unit tests of the token bucket (src/tbucket.c) and the per-client limits built on it
 * (src/client_limit.c), with a clock of our own: full at first, refilled continuously, resized
 * by a reload without refilling, and the RateLimit header values. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kycgate/client_limit.h"
#include "kycgate/tbucket.h"

START_TEST(bucket_starts_full_and_refills)
{
	struct kg_tbucket b = {0};
	unsigned long long wait = 0;
	int i;

	for (i = 0; i < 60; i++)
		ck_assert(kg_tbucket_take(&b, 60, 1.0, false, 1000, &wait));
	ck_assert(!kg_tbucket_take(&b, 60, 1.0, false, 1000, &wait));
	ck_assert_uint_eq(wait, 1000); /* 60 per minute: one a second */
	ck_assert(!kg_tbucket_take(&b, 60, 1.0, false, 1999, &wait));
	ck_assert_uint_le(wait, 2); /* 1 ms, give or take rounding */
	ck_assert(kg_tbucket_take(&b, 60, 1.0, false, 2000, &wait));
	/* Never above its size, however long it rested. */
	kg_tbucket_refill(&b, 60, 10000000);
	ck_assert_double_eq(b.tokens, 60);
	ck_assert_uint_eq(kg_tbucket_full_ms(&b, 60), 0);
	/* forced takes go below zero: later takes wait longer. */
	b.tokens = 0;
	ck_assert(kg_tbucket_take(&b, 60, 1.0, true, 10000000, &wait));
	ck_assert_uint_eq(kg_tbucket_wait_ms(&b, 60, 1.0), 2000);
}
END_TEST

/* The need of a taker that leaves a share to others (design §10): 1 for a caller, 20% of the
 * minute plus one for a long-poll re-read, 1 - budget_share plus one for a watch poll; never
 * more than the bucket. */
START_TEST(need_leaves_a_share)
{
	struct kg_tbucket b = {0};
	int i;

	ck_assert_double_eq(kg_tbucket_need(100, 0.0), 1.0);
	ck_assert_double_eq(kg_tbucket_need(100, 0.2), 21.0);
	ck_assert_double_eq(kg_tbucket_need(100, 0.5), 51.0);
	ck_assert_double_eq(kg_tbucket_need(2, 0.5), 2.0);  /* a tiny bucket: wait for it full */
	ck_assert_double_eq(kg_tbucket_need(1, 0.99), 1.0); /* never more than the bucket */
	for (i = 0; i < 49; i++) /* 100 to 51: a share-0.5 taker still goes (to 50) */
		ck_assert(kg_tbucket_take(&b, 100, 1.0, false, 1000, NULL));
	ck_assert(kg_tbucket_take(&b, 100, kg_tbucket_need(100, 0.5), false, 1000, NULL));
	ck_assert(!kg_tbucket_take(&b, 100, kg_tbucket_need(100, 0.5), false, 1000, NULL));
	ck_assert(kg_tbucket_take(&b, 100, kg_tbucket_need(100, 0.2), false, 1000, NULL));
}
END_TEST

/* A reload that changes a size neither refills a bucket (a larger size is reached by refilling)
 * nor lets it hold more than the new size. */
START_TEST(resize_without_refill)
{
	struct kg_tbucket b = {0};
	int i;

	for (i = 0; i < 3; i++)
		ck_assert(kg_tbucket_take(&b, 3, 1.0, false, 0, NULL));
	ck_assert(!kg_tbucket_take(&b, 10, 1.0, false, 0, NULL));   /* grown to 10: still empty */
	ck_assert(kg_tbucket_take(&b, 10, 1.0, false, 6000, NULL)); /* one per 6 s */
	kg_tbucket_refill(&b, 10, 600000);
	ck_assert_double_eq(b.tokens, 10);
	kg_tbucket_refill(&b, 2, 600001); /* shrunk: at most the new size at once */
	ck_assert_double_eq(b.tokens, 2);
}
END_TEST

START_TEST(clients_have_their_own_buckets)
{
	struct kg_climits *cl = kg_climits_new();
	struct kg_climit_note n;
	char policy[64], state[64];
	int i;

	ck_assert_ptr_nonnull(cl);
	for (i = 0; i < 3; i++) {
		ck_assert(kg_climits_take(cl, "a", 3, 5000, &n));
		ck_assert_uint_eq(n.remaining, (unsigned)(2 - i));
	}
	ck_assert(!kg_climits_take(cl, "a", 3, 5000, &n));
	ck_assert_uint_eq(n.limit, 3);
	ck_assert_uint_eq(n.remaining, 0);
	ck_assert_uint_eq(n.retry_after_s, 20); /* 3 per minute: one per 20 s */
	ck_assert_uint_eq(n.reset_s, 60);
	kg_climit_headers(&n, policy, sizeof(policy), state, sizeof(state));
	ck_assert_str_eq(policy, "\"client\";q=3;w=60");
	ck_assert_str_eq(state, "\"client\";r=0;t=60");
	/* Another client is not touched; a 4th of a resized bucket still waits. */
	ck_assert(kg_climits_take(cl, "b", 3, 5000, &n));
	ck_assert(!kg_climits_take(cl, "a", 4, 5001, &n));
	ck_assert(kg_climits_take(cl, "a", 3, 25000, &n));
	kg_climits_free(cl);
	kg_climits_free(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("client_limit");
	TCase *tc = tcase_create("client_limit");
	int failed;

	tcase_add_test(tc, bucket_starts_full_and_refills);
	tcase_add_test(tc, resize_without_refill);
	tcase_add_test(tc, need_leaves_a_share);
	tcase_add_test(tc, clients_have_their_own_buckets);
	suite_add_tcase(s, tc);
	failed = kt_run_suite(s);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
