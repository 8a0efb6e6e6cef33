/* SHA-256, HMAC-SHA-256 and the constant-time comparison, through GnuTLS (libgnutls30, which
 * libmicrohttpd's TLS listener already uses).
 *
 * Initialisation: GnuTLS 3.7 runs gnutls_global_init() in its own library constructor (unless
 * GNUTLS_NO_IMPLICIT_INIT=1 is in the environment); this module relies on that and calls nothing
 * at start. In kycgate libmicrohttpd 0.9.75's constructor calls gnutls_global_init() as well, so
 * the program works even with that variable set (checked). When the library is not operational
 * (that variable set and no explicit gnutls_global_init() anywhere in the process, or a failed FIPS
 * self-test) every call fails with GNUTLS_E_LIB_IN_ERROR_STATE: these functions then zero the
 * output and return KG_ERR_INTERNAL, and their callers refuse (a token that cannot be hashed
 * authenticates nobody).
 *
 * Cost: gnutls_hash_fast() and gnutls_hmac_fast() keep their nettle context on the stack and wipe
 * it; neither allocates (measured with valgrind: no heap allocation per call), as the hand-written
 * implementation they replace. */
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "kycgate/sha256.h"

enum kg_err kg_sha256(const void *data, size_t len, unsigned char out[KG_SHA256_DIGEST_LEN])
{
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, len > 0 ? data : "", len, out) < 0) {
		memset(out, 0, KG_SHA256_DIGEST_LEN);
		return KG_ERR_INTERNAL;
	}
	return KG_OK;
}

enum kg_err kg_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                           unsigned char out[KG_SHA256_DIGEST_LEN])
{
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, key_len > 0 ? key : "", key_len,
	                     msg_len > 0 ? msg : "", msg_len, out) < 0) {
		memset(out, 0, KG_SHA256_DIGEST_LEN);
		return KG_ERR_INTERNAL;
	}
	return KG_OK;
}

bool kg_ct_equal(const void *a, const void *b, size_t n)
{
	return n == 0 || gnutls_memcmp(a, b, n) == 0;
}
