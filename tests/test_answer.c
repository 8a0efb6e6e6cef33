/* Unit tests of shared status answers: one normalization per view, views kept apart by their
 * inputs, junk refused, references. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kycgate/answer.h"

static struct kg_answer *make(const char *body)
{
	struct kg_answer *a = kg_answer_new(200, strdup(body), strlen(body), 0, 1764104400);

	ck_assert_ptr_nonnull(a);
	return a;
}

static const char review[] =
    "{\"eligibility\":[{\"type\":\"onramp\",\"status\":\"pending-review\"},"
    "{\"type\":\"offramp\",\"status\":\"verified\"}]}";

START_TEST(views)
{
	struct kg_answer *a = make(review);
	struct kg_view all = {
	    .locator = "userId:a", .environment = "staging", .cache_ttl_ms = 1000};
	struct kg_view off = all;
	char *b1, *b2, *b3;
	size_t l1, l2, l3;
	bool r1, r2, r3;
	const char *detail;

	off.products = 4; /* offramp */
	ck_assert_int_eq(kg_answer_view(a, &all, &b1, &l1, &r1, &detail), KG_OK);
	ck_assert_int_eq(kg_answer_view(a, &all, &b2, &l2, &r2, &detail), KG_OK);
	ck_assert_int_eq(kg_answer_view(a, &off, &b3, &l3, &r3, &detail), KG_OK);
	ck_assert_str_eq(b1, b2); /* the same bytes, normalized once */
	ck_assert(r1 && r2);
	ck_assert(!r3); /* offramp alone is verified */
	ck_assert_ptr_nonnull(strstr(b1, "\"pollAfterSeconds\":1"));
	ck_assert_ptr_nonnull(strstr(b1, "\"observedAt\":\"2025-11-25T21:00:00Z\""));
	ck_assert_ptr_null(strstr(b3, "onramp"));
	free(b1);
	free(b2);
	free(b3);
	/* pollAfterSeconds follows the budget wait: another view. */
	all.budget_wait_s = 7;
	ck_assert_int_eq(kg_answer_view(a, &all, &b1, &l1, &r1, &detail), KG_OK);
	ck_assert_ptr_nonnull(strstr(b1, "\"pollAfterSeconds\":7"));
	free(b1);
	/* More views than are kept still answer right. */
	for (unsigned p = 1; p <= 8; p <<= 1) {
		all.products = p;
		ck_assert_int_eq(kg_answer_view(a, &all, &b1, &l1, &r1, &detail), KG_OK);
		free(b1);
	}
	kg_answer_put(a);
}
END_TEST

START_TEST(junk_and_refs)
{
	static const char *const junk[] = {
	    "", "[]", "{\"eligibility\":{}}", "{\"eligibility\":[1]}", "not json", NULL};
	struct kg_view v = {.locator = "userId:a", .environment = "staging"};
	const char *detail = NULL;
	char *bytes;
	size_t len, i;
	bool r;

	for (i = 0; junk[i] != NULL; i++) {
		struct kg_answer *a = make(junk[i]);

		ck_assert_int_eq(kg_answer_view(a, &v, &bytes, &len, &r, &detail), KG_ERR_UPSTREAM);
		ck_assert_ptr_nonnull(detail);
		kg_answer_put(a);
	}
	{
		struct kg_answer *a = make(review), *b = kg_answer_ref(a);
		const char *body;

		kg_answer_put(a);
		body = kg_answer_body(b, &len);
		ck_assert_uint_eq(len, strlen(review));
		ck_assert(memcmp(body, review, len) == 0);
		ck_assert_int_eq(kg_answer_status(b), 200);
		kg_answer_put(b);
	}
	kg_answer_put(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("answer");
	TCase *tc = tcase_create("answer");
	int failed;

	tcase_add_test(tc, views);
	tcase_add_test(tc, junk_and_refs);
	suite_add_tcase(s, tc);
	failed = kt_run_suite(s);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
