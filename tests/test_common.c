/* Unit tests of the shared helpers: buffer growth within a bound, error names, wiping, clocks,
 * hashing, hex digits. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kycgate/common.h"

START_TEST(grow_size_doubles_within_max)
{
	ck_assert_uint_eq(kg_grow_size(0, 10, 1 << 20), 4096);
	ck_assert_uint_eq(kg_grow_size(4096, 4097, 1 << 20), 8192);
	ck_assert_uint_eq(kg_grow_size(4096, 100000, 1 << 20), 131072);
	/* Never past max, and max when doubling would overshoot it. */
	ck_assert_uint_eq(kg_grow_size(4096, 5000, 6000), 6000);
	ck_assert_uint_eq(kg_grow_size(0, 10, 100), 100);
	ck_assert_uint_eq(kg_grow_size(524288, 1048577, 1048577), 1048577);
}
END_TEST

START_TEST(grow_keeps_bytes)
{
	char *buf = NULL;
	size_t cap = 0;

	ck_assert(kg_grow_wiped(&buf, &cap, 0, 16));
	ck_assert_uint_eq(cap, 16);
	memcpy(buf, "0123456789abcdef", 16);
	ck_assert(kg_grow_wiped(&buf, &cap, 16, 64));
	ck_assert_uint_eq(cap, 64);
	ck_assert(memcmp(buf, "0123456789abcdef", 16) == 0);
	free(buf);
}
END_TEST

/* Levenshtein, case-insensitive, and bounded: past max it answers max + 1. */
START_TEST(edit_distance)
{
	static const struct {
		const char *a, *b;
		size_t max, want;
	} t[] = {
	    {"cache_ttl", "cache_ttl_ms", 3, 3},
	    {"cache_ttl", "cache_ttl_ms", 2, 3},
	    {"phonenumber", "phoneNumber", 3, 0},
	    {"lisen", "listen", 3, 1},
	    {"kitten", "sitting", 5, 3},
	    {"", "abc", 5, 3},
	    {"abc", "", 1, 2},
	    {"colour", "proxy", 3, 4},
	    {"state", "stateOrRegion", 3, 4},
	    {"ab", "ba", 2, 2},
	};
	char longer[KG_EDIT_DISTANCE_MAX_BYTES + 2];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(kg_edit_distance(t[i].a, strlen(t[i].a), t[i].b, strlen(t[i].b),
		                               t[i].max) == t[i].want,
		              "case %zu", i);
	/* Past the length bound nothing is close, not even the same text. */
	memset(longer, 'a', sizeof(longer));
	ck_assert_uint_eq(kg_edit_distance(longer, sizeof(longer), longer, sizeof(longer), 3), 4);
	ck_assert_uint_eq(kg_edit_distance(longer, KG_EDIT_DISTANCE_MAX_BYTES, longer,
	                                   KG_EDIT_DISTANCE_MAX_BYTES, 3),
	                  0);
}
END_TEST

START_TEST(names_wipe_clock)
{
	unsigned long long a, b;
	char s[4] = "abc";
	int e;

	for (e = KG_OK; e <= KG_ERR_INTERNAL; e++)
		ck_assert_ptr_nonnull(kg_err_str((enum kg_err)e));
	ck_assert_str_eq(kg_err_str((enum kg_err)999), "unknown error");
	kg_wipe(NULL, 0);
	kg_wipe(s, 3);
	ck_assert(s[0] == 0 && s[1] == 0 && s[2] == 0);
	a = kg_now_us();
	b = kg_now_us();
	ck_assert_uint_ge(b, a);
	ck_assert_uint_le(kg_now_ms(), kg_now_us() / 1000 + 1);
}
END_TEST

/* FNV-1a 32-bit reference values (draft-eastlake-fnv test vectors). */
START_TEST(fnv1a_vectors)
{
	ck_assert_uint_eq(kg_fnv1a(NULL, 0), 0x811c9dc5u);
	ck_assert_uint_eq(kg_fnv1a("a", 1), 0xe40c292cu);
	ck_assert_uint_eq(kg_fnv1a("foobar", 6), 0xbf9cf968u);
	/* Every byte counts, NULs and high bytes included. */
	ck_assert_uint_ne(kg_fnv1a("a\0b", 3), kg_fnv1a("a\0c", 3));
	ck_assert_uint_ne(kg_fnv1a("\xff", 1), kg_fnv1a("\x7f", 1));
}
END_TEST

/* kg_copy: snprintf's "%s" semantics, cut and terminated, the source's length returned. */
START_TEST(copy_cuts_and_terminates)
{
	char out[6];

	memset(out, 'x', sizeof(out));
	ck_assert_uint_eq(kg_copy(out, sizeof(out), "abc"), 3);
	ck_assert_str_eq(out, "abc");
	ck_assert_uint_eq(kg_copy(out, sizeof(out), "abcde"), 5);
	ck_assert_str_eq(out, "abcde");
	ck_assert_uint_eq(kg_copy(out, sizeof(out), "abcdefgh"), 8);
	ck_assert_str_eq(out, "abcde");
	ck_assert_uint_eq(kg_copy(out, sizeof(out), ""), 0);
	ck_assert_str_eq(out, "");
	ck_assert_uint_eq(kg_copy(out, 1, "abc"), 3);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(hex_digits_and_unhex)
{
	unsigned char out[4] = {0};
	int c;

	for (c = 0; c < 256; c++) {
		int want = c >= '0' && c <= '9'   ? c - '0'
		           : c >= 'a' && c <= 'f' ? c - 'a' + 10
		           : c >= 'A' && c <= 'F' ? c - 'A' + 10
		                                  : -1;

		ck_assert_int_eq(kg_hex_digit((char)c), want);
	}
	ck_assert(kg_unhex("00fFa5", 6, out, 3));
	ck_assert(out[0] == 0x00 && out[1] == 0xff && out[2] == 0xa5);
	ck_assert(kg_unhex("", 0, out, 0));
	/* Exactly 2*n digits, nothing else. */
	ck_assert(!kg_unhex("00ff", 4, out, 3));
	ck_assert(!kg_unhex("00ffa", 5, out, 3));
	ck_assert(!kg_unhex("00ffa5", 6, out, 2));
	ck_assert(!kg_unhex("0g", 2, out, 1));
	ck_assert(!kg_unhex("g0", 2, out, 1));
	ck_assert(!kg_unhex(" 0", 2, out, 1));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("common");
	TCase *tc = tcase_create("common");
	int failed;

	tcase_add_test(tc, grow_size_doubles_within_max);
	tcase_add_test(tc, grow_keeps_bytes);
	tcase_add_test(tc, names_wipe_clock);
	tcase_add_test(tc, edit_distance);
	tcase_add_test(tc, fnv1a_vectors);
	tcase_add_test(tc, hex_digits_and_unhex);
	tcase_add_test(tc, copy_cuts_and_terminates);
	suite_add_tcase(s, tc);
	failed = kt_run_suite(s);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
