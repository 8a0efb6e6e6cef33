/* Unit tests for src/base64.c: RFC 4648 vectors, optional padding, CR/LF, every refused byte,
 * capacity limits and a binary round trip. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "kycgate/base64.h"

static const struct {
	const char *plain;
	const char *b64;
} vectors[] = {
    {"f", "Zg=="},        {"fo", "Zm8="},        {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

START_TEST(b64_encode_vectors)
{
	char out[16];
	const char *p = vectors[_i].plain;

	ck_assert_uint_eq(kg_base64_encode((const unsigned char *)p, strlen(p), out, sizeof(out)),
	                  strlen(vectors[_i].b64));
	ck_assert_str_eq(out, vectors[_i].b64);
	ck_assert_uint_eq(kg_base64_encoded_len(strlen(p)), strlen(vectors[_i].b64));
}
END_TEST

/* Decodes s and asserts the plain text. */
static void assert_decodes(const char *s, const char *plain)
{
	unsigned char out[64];
	size_t n = 99, need = 99;

	ck_assert_msg(kg_base64_check(s, strlen(s), &need) == KG_OK, "check refused <%s>", s);
	ck_assert_uint_eq(need, strlen(plain));
	ck_assert_msg(kg_base64_decode(s, strlen(s), out, sizeof(out), &n) == KG_OK,
	              "decode refused <%s>", s);
	ck_assert_uint_eq(n, strlen(plain));
	ck_assert_mem_eq(out, plain, n);
}

START_TEST(b64_decode_vectors)
{
	char unpadded[16];
	size_t n = strcspn(vectors[_i].b64, "=");

	assert_decodes(vectors[_i].b64, vectors[_i].plain);
	memcpy(unpadded, vectors[_i].b64, n);
	unpadded[n] = '\0';
	assert_decodes(unpadded, vectors[_i].plain);
}
END_TEST

START_TEST(b64_decode_crlf_anywhere)
{
	assert_decodes("Zm9v\r\nYmFy", "foobar");
	assert_decodes("\r\nZm\n9vY\rmE=\r\n", "fooba");
	assert_decodes("Zg=\r\n=", "f");
	assert_decodes("Zm9vYg\n==\n", "foob");
	assert_decodes("\r\n", "");
	assert_decodes("", "");
}
END_TEST

static const char *const bad[] = {
    "Z",    "Zm9vY",  "Zg=",          "Zg===", "Zm8==",   "Zm9v=",     "Zm9v==", "=",
    "==",   "====",   "Zg==Zg==",     "Zg=a",  "Z=g=",    "Zm9v Zg==", " Zg==",  "Zg== ",
    "Zg-_", "Zm9\tv", "Zm9v\xc3\xa9", "Zm9v.", "Zm9v%3D", "Zm9v\\n",   "Zm9v\v",
};

START_TEST(b64_refused)
{
	size_t need = 99, n = 99;
	unsigned char out[16] = {0};
	const char *s = bad[_i];
	size_t len = strlen(s);

	ck_assert_msg(kg_base64_check(s, len, &need) == KG_ERR_INVALID, "accepted <%s>", s);
	ck_assert_uint_eq(need, 0);
	ck_assert_int_eq(kg_base64_decode(s, len, out, sizeof(out), &n), KG_ERR_INVALID);
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(b64_decode_capacity)
{
	unsigned char out[6];
	size_t n = 99;

	ck_assert_int_eq(kg_base64_decode("Zm9vYmFy", 8, out, 5, &n), KG_ERR_TOO_LARGE);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(kg_base64_decode("Zm9vYmFy", 8, out, 6, &n), KG_OK);
	ck_assert_uint_eq(n, 6);
	ck_assert_int_eq(kg_base64_decode("", 0, NULL, 0, &n), KG_OK);
	ck_assert_uint_eq(n, 0);
	/* A NUL byte is refused like any other byte outside the alphabet. */
	ck_assert_int_eq(kg_base64_decode("Zm9v\0", 5, out, sizeof(out), &n), KG_ERR_INVALID);
	/* Invalid input wins over size. */
	ck_assert_int_eq(kg_base64_decode("Zm9v YmFy", 9, out, 1, &n), KG_ERR_INVALID);
}
END_TEST

START_TEST(b64_encode_capacity)
{
	char out[9];

	ck_assert_uint_eq(kg_base64_encode((const unsigned char *)"foobar", 6, out, 8), 0);
	ck_assert_uint_eq(kg_base64_encode((const unsigned char *)"foobar", 6, out, 9), 8);
	ck_assert_str_eq(out, "Zm9vYmFy");
	ck_assert_uint_eq(kg_base64_encode((const unsigned char *)"", 0, out, 9), 0);
	ck_assert_uint_eq(kg_base64_encoded_len(0), 0);
	ck_assert_uint_eq(kg_base64_encoded_len(1), 4);
	ck_assert_uint_eq(kg_base64_encoded_len(3), 4);
	ck_assert_uint_eq(kg_base64_encoded_len(4), 8);
	ck_assert_uint_eq(kg_base64_encoded_len((size_t)-1), 0);
}
END_TEST

/* Unused bits of the last group are ignored, as most decoders do. */
START_TEST(b64_ignores_unused_bits)
{
	assert_decodes("Zh==", "f");
	assert_decodes("Zm9=", "fo");
}
END_TEST

START_TEST(b64_round_trip_binary)
{
	unsigned char in[300], back[300];
	char enc[404];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 7 + 3);
	for (size_t len = 1; len <= sizeof(in); len++) {
		size_t n = kg_base64_encode(in, len, enc, sizeof(enc));
		size_t m = 0;

		ck_assert_uint_eq(n, kg_base64_encoded_len(len));
		ck_assert_int_eq(kg_base64_decode(enc, n, back, sizeof(back), &m), KG_OK);
		ck_assert_uint_eq(m, len);
		ck_assert_mem_eq(back, in, len);
	}
}
END_TEST

START_TEST(b64_full_alphabet)
{
	const char *all = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char out[48], want[48];
	char enc[80];
	size_t n = 0;

	ck_assert_int_eq(kg_base64_decode(all, 64, out, sizeof(out), &n), KG_OK);
	ck_assert_uint_eq(n, 48);
	for (int i = 0; i < 48; i += 3) {
		/* sextets 4k..4k+3 packed: the decoding of the alphabet in order */
		unsigned v = (unsigned)(i / 3 * 4);

		want[i] = (unsigned char)(v << 2 | (v + 1) >> 4);
		want[i + 1] = (unsigned char)(((v + 1) & 0xF) << 4 | (v + 2) >> 2);
		want[i + 2] = (unsigned char)(((v + 2) & 0x3) << 6 | (v + 3));
	}
	ck_assert_mem_eq(out, want, 48);
	ck_assert_uint_eq(kg_base64_encode(out, 48, enc, sizeof(enc)), 64);
	ck_assert_str_eq(enc, all);
}
END_TEST

static Suite *base64_suite(void)
{
	Suite *s = suite_create("base64");
	TCase *t = tcase_create("base64");
	size_t nv = sizeof(vectors) / sizeof(vectors[0]);

	tcase_add_loop_test(t, b64_encode_vectors, 0, (int)nv);
	tcase_add_loop_test(t, b64_decode_vectors, 0, (int)nv);
	tcase_add_test(t, b64_decode_crlf_anywhere);
	tcase_add_loop_test(t, b64_refused, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(t, b64_decode_capacity);
	tcase_add_test(t, b64_encode_capacity);
	tcase_add_test(t, b64_ignores_unused_bits);
	tcase_add_test(t, b64_round_trip_binary);
	tcase_add_test(t, b64_full_alphabet);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(base64_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
