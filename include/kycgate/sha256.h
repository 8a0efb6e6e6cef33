/* SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104) from GnuTLS, and a constant-time comparison:
 * client token digests and the keyed locator hash of access lines. */
#ifndef KYCGATE_SHA256_H
#define KYCGATE_SHA256_H

#include <stdbool.h>
#include <stddef.h>

#include "kycgate/common.h"

#define KG_SHA256_DIGEST_LEN 32

/* One-shot digest of data (len may be 0, data may then be NULL) into out. Returns KG_OK, or
 * KG_ERR_INTERNAL when GnuTLS is not operational (see src/base/sha256.c); out is then all zero and
 * the caller must refuse whatever the digest was for. Allocates nothing. Thread-safe. */
enum kg_err kg_sha256(const void *data, size_t len, unsigned char out[KG_SHA256_DIGEST_LEN]);

/* HMAC-SHA-256 of msg under key (any length; key may be NULL when key_len is 0) into out.
 * Results as kg_sha256(). Allocates nothing. Thread-safe. */
enum kg_err kg_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                           unsigned char out[KG_SHA256_DIGEST_LEN]);

/* Constant-time comparison of n bytes: true when equal. The time depends on n only. */
bool kg_ct_equal(const void *a, const void *b, size_t n);

#endif
