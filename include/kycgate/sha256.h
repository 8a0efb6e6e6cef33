/* SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104): token digests and the locator hash. */
#ifndef KYCGATE_SHA256_H
#define KYCGATE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define KG_SHA256_DIGEST_LEN 32

struct kg_sha256 {
	uint32_t h[8];         /* chaining state */
	uint64_t len;          /* bytes hashed so far */
	unsigned char buf[64]; /* pending block */
	size_t used;           /* bytes in buf */
};

void kg_sha256_init(struct kg_sha256 *s);
void kg_sha256_update(struct kg_sha256 *s, const void *data, size_t len);
/* Writes the digest and wipes the state. */
void kg_sha256_final(struct kg_sha256 *s, unsigned char out[KG_SHA256_DIGEST_LEN]);
/* One-shot digest of data (len may be 0, data may then be NULL). */
void kg_sha256(const void *data, size_t len, unsigned char out[KG_SHA256_DIGEST_LEN]);
/* HMAC-SHA-256 of msg under key (any length). */
void kg_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                    unsigned char out[KG_SHA256_DIGEST_LEN]);
/* Constant-time comparison of n bytes: true when equal. */
_Bool kg_ct_equal(const void *a, const void *b, size_t n);

#endif
