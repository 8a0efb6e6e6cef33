/* Helper of test_sha256: a process that links src/base/sha256.c and GnuTLS only, so that with
 * GNUTLS_NO_IMPLICIT_INIT=1 nothing initialises GnuTLS (in a program that also links
 * libmicrohttpd, its constructor would). Exit 0 when both functions fail as sha256.h says
 * (KG_ERR_INTERNAL, output all zero); 1 or 2 otherwise. */
#include <stdlib.h>
#include <string.h>

#include "kycgate/sha256.h"

int main(void)
{
	unsigned char d[KG_SHA256_DIGEST_LEN], zero[KG_SHA256_DIGEST_LEN] = {0};

	memset(d, 0xff, sizeof(d));
	if (kg_sha256("abc", 3, d) != KG_ERR_INTERNAL || memcmp(d, zero, sizeof(d)) != 0)
		return 1;
	memset(d, 0xff, sizeof(d));
	if (kg_hmac_sha256("k", 1, "abc", 3, d) != KG_ERR_INTERNAL ||
	    memcmp(d, zero, sizeof(d)) != 0)
		return 2;
	return EXIT_SUCCESS;
}
