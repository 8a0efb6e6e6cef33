/* Unit tests of the growable buffer (src/base/buf.c): bytes kept across growth, the NUL, the
 * bound, the sticky failure, cleanup. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kycgate/buf.h"

START_TEST(adds_and_grows)
{
	static char big[20000];
	struct kg_buf b;
	size_t i;

	kg_buf_init(&b, 1 << 20);
	ck_assert_ptr_null(b.data);
	ck_assert(kg_buf_add(&b, NULL, 0)); /* nothing: still no allocation */
	ck_assert_ptr_null(b.data);
	ck_assert(kg_buf_add_str(&b, "ab"));
	ck_assert(kg_buf_add(&b, "c\0d", 3)); /* any bytes, NUL included */
	ck_assert_uint_eq(b.len, 5);
	ck_assert(memcmp(b.data, "abc\0d", 6) == 0); /* and a NUL after them */
	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	ck_assert(kg_buf_add(&b, big, sizeof(big))); /* past the first allocation */
	ck_assert_uint_eq(b.len, 5 + sizeof(big));
	ck_assert_uint_gt(b.cap, b.len);
	ck_assert(memcmp(b.data, "abc\0d", 5) == 0);
	ck_assert(memcmp(b.data + 5, big, sizeof(big)) == 0);
	ck_assert_int_eq(b.data[b.len], '\0');
	ck_assert(!b.failed);
	kg_buf_cleanup(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.max, 1 << 20);
	kg_buf_cleanup(NULL);
}
END_TEST

/* max bytes fit exactly; one more fails, keeps what was held, and every later add fails. */
START_TEST(bound_is_exact_and_failure_sticky)
{
	struct kg_buf b;

	kg_buf_init(&b, 8);
	ck_assert(kg_buf_add_str(&b, "12345678"));
	ck_assert_uint_eq(b.len, 8);
	ck_assert(!kg_buf_add_str(&b, "9"));
	ck_assert(b.failed);
	ck_assert_str_eq(b.data, "12345678");
	ck_assert(!kg_buf_add(&b, NULL, 0));
	kg_buf_cleanup(&b);
	ck_assert(!b.failed); /* empty again, usable again */
	ck_assert(kg_buf_add_str(&b, "x"));

	/* A single add past the bound fails whole: nothing of it is kept. */
	kg_buf_cleanup(&b);
	ck_assert(kg_buf_add_str(&b, "1234"));
	ck_assert(!kg_buf_add_str(&b, "56789"));
	ck_assert_str_eq(b.data, "1234");
	kg_buf_cleanup(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("buf");
	int failed;

	tcase_add_test(tc, adds_and_grows);
	tcase_add_test(tc, bound_is_exact_and_failure_sticky);
	suite_add_tcase(s, tc);
	failed = kt_run_suite(s);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
