/* Unit tests for src/base/sha256.c: FIPS 180-4 example vectors, RFC 4231 HMAC vectors, the failure
 * contract when GnuTLS is not operational, and the constant-time comparison. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kycgate/sha256.h"

static void hex(const unsigned char *d, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

static void assert_sha256(const void *msg, size_t len, const char *want)
{
	unsigned char d[KG_SHA256_DIGEST_LEN];
	char got[2 * KG_SHA256_DIGEST_LEN + 1];

	ck_assert_int_eq(kg_sha256(msg, len, d), KG_OK);
	hex(d, sizeof(d), got);
	ck_assert_str_eq(got, want);
}

static void assert_hmac(const void *key, size_t key_len, const void *msg, size_t msg_len,
                        const char *want)
{
	unsigned char d[KG_SHA256_DIGEST_LEN];
	char got[2 * KG_SHA256_DIGEST_LEN + 1];

	ck_assert_int_eq(kg_hmac_sha256(key, key_len, msg, msg_len, d), KG_OK);
	hex(d, sizeof(d), got);
	ck_assert_str_eq(got, want);
}

START_TEST(sha256_empty)
{
	assert_sha256("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_sha256(NULL, 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
END_TEST

START_TEST(sha256_abc)
{
	assert_sha256("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

START_TEST(sha256_448_bits)
{
	const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

	ck_assert_uint_eq(strlen(m) * 8, 448);
	assert_sha256(m, strlen(m),
	              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

START_TEST(sha256_896_bits)
{
	const char *m = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
	                "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";

	ck_assert_uint_eq(strlen(m) * 8, 896);
	assert_sha256(m, strlen(m),
	              "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}
END_TEST

START_TEST(sha256_million_a)
{
	size_t n = 1000000;
	char *m = malloc(n);

	ck_assert_ptr_nonnull(m);
	memset(m, 'a', n);
	assert_sha256(m, n, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(m);
}
END_TEST

/* Lengths around the padding boundary (55, 56, 63, 64 bytes) against openssl-computed digests. */
START_TEST(sha256_padding_boundaries)
{
	char m[64];

	memset(m, 'a', sizeof(m));
	assert_sha256(m, 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
	assert_sha256(m, 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
	assert_sha256(m, 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34");
	assert_sha256(m, 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}
END_TEST

START_TEST(hmac_rfc4231_case1)
{
	unsigned char key[20];

	memset(key, 0x0b, sizeof(key));
	assert_hmac(key, sizeof(key), "Hi There", 8,
	            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}
END_TEST

START_TEST(hmac_rfc4231_case2)
{
	const char *msg = "what do ya want for nothing?";

	assert_hmac("Jefe", 4, msg, strlen(msg),
	            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}
END_TEST

START_TEST(hmac_rfc4231_case3)
{
	unsigned char key[20], msg[50];

	memset(key, 0xaa, sizeof(key));
	memset(msg, 0xdd, sizeof(msg));
	assert_hmac(key, sizeof(key), msg, sizeof(msg),
	            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
}
END_TEST

/* Case 6: a key longer than the block size is hashed first. */
START_TEST(hmac_rfc4231_case6)
{
	unsigned char key[131];
	const char *msg = "Test Using Larger Than Block-Size Key - Hash Key First";

	memset(key, 0xaa, sizeof(key));
	assert_hmac(key, sizeof(key), msg, strlen(msg),
	            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}
END_TEST

START_TEST(hmac_rfc4231_case7)
{
	unsigned char key[131];
	const char *msg = "This is a test using a larger than block-size key and a larger than "
	                  "block-size data. The key needs to be hashed before being used by the "
	                  "HMAC algorithm.";

	memset(key, 0xaa, sizeof(key));
	assert_hmac(key, sizeof(key), msg, strlen(msg),
	            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}
END_TEST

/* The exit status of KG_SHA256_UNINIT (tests/sha256_uninit.c) run with environment envp. */
static int run_uninit(char *const envp[])
{
	char *const argv[] = {KG_SHA256_UNINIT, NULL};
	int status = 0;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		execve(KG_SHA256_UNINIT, argv, envp);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "status %d", status);
	return WEXITSTATUS(status);
}

/* When GnuTLS is not operational (here: never initialised) both functions fail and leave no
 * partial digest; the same helper without GNUTLS_NO_IMPLICIT_INIT=1 hashes, so the variable is
 * what makes the difference. */
START_TEST(gnutls_not_operational)
{
	char *const uninit[] = {"GNUTLS_NO_IMPLICIT_INIT=1", NULL};
	char *const normal[] = {NULL};

	ck_assert_int_eq(run_uninit(uninit), 0);
	ck_assert_int_eq(run_uninit(normal), 1);
}
END_TEST

START_TEST(ct_equal)
{
	unsigned char a[32], b[32];
	size_t i;

	memset(a, 0x5a, sizeof(a));
	memcpy(b, a, sizeof(b));
	ck_assert(kg_ct_equal(a, b, sizeof(a)));
	ck_assert(kg_ct_equal(a, b, 0));
	ck_assert(kg_ct_equal(NULL, NULL, 0));
	for (i = 0; i < sizeof(a); i++) {
		b[i] ^= 0x01;
		ck_assert(!kg_ct_equal(a, b, sizeof(a)));
		b[i] ^= 0x81;
		ck_assert(!kg_ct_equal(a, b, sizeof(a)));
		b[i] ^= 0x80;
	}
	ck_assert(kg_ct_equal(a, b, sizeof(a)));
}
END_TEST

static Suite *sha256_suite(void)
{
	Suite *s = suite_create("sha256");
	TCase *tc = tcase_create("sha256");
	TCase *th = tcase_create("hmac");

	tcase_add_test(tc, sha256_empty);
	tcase_add_test(tc, sha256_abc);
	tcase_add_test(tc, sha256_448_bits);
	tcase_add_test(tc, sha256_896_bits);
	tcase_add_test(tc, sha256_million_a);
	tcase_add_test(tc, sha256_padding_boundaries);
	tcase_add_test(tc, ct_equal);
	tcase_add_test(tc, gnutls_not_operational);
	suite_add_tcase(s, tc);
	tcase_add_test(th, hmac_rfc4231_case1);
	tcase_add_test(th, hmac_rfc4231_case2);
	tcase_add_test(th, hmac_rfc4231_case3);
	tcase_add_test(th, hmac_rfc4231_case6);
	tcase_add_test(th, hmac_rfc4231_case7);
	suite_add_tcase(s, th);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(sha256_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
