/* SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104), plus a constant-time comparison.
 *
 * Used for client token digests and the keyed locator hash in access logs. No global state:
 * every function is thread-safe. Intermediate values derived from keys are wiped. */
#include <stdint.h>
#include <string.h>

#include "kycgate/common.h"
#include "kycgate/sha256.h"

#define BLOCK 64

static const uint32_t k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t rotr(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static uint32_t load_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void store_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* One application of the compression function (FIPS 180-4 §6.2.2) to a 64-byte block. */
static void compress(uint32_t h[8], const unsigned char *blk)
{
	uint32_t w[64], v[8];
	unsigned t;

	for (t = 0; t < 16; t++)
		w[t] = load_be32(blk + 4 * t);
	for (t = 16; t < 64; t++) {
		uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
		uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);

		w[t] = w[t - 16] + s0 + w[t - 7] + s1;
	}
	memcpy(v, h, sizeof(v));
	for (t = 0; t < 64; t++) {
		uint32_t s1 = rotr(v[4], 6) ^ rotr(v[4], 11) ^ rotr(v[4], 25);
		uint32_t ch = (v[4] & v[5]) ^ (~v[4] & v[6]);
		uint32_t t1 = v[7] + s1 + ch + k[t] + w[t];
		uint32_t s0 = rotr(v[0], 2) ^ rotr(v[0], 13) ^ rotr(v[0], 22);
		uint32_t maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
		uint32_t t2 = s0 + maj;

		v[7] = v[6];
		v[6] = v[5];
		v[5] = v[4];
		v[4] = v[3] + t1;
		v[3] = v[2];
		v[2] = v[1];
		v[1] = v[0];
		v[0] = t1 + t2;
	}
	for (t = 0; t < 8; t++)
		h[t] += v[t];
	kg_wipe(w, sizeof(w));
	kg_wipe(v, sizeof(v));
}

void kg_sha256_init(struct kg_sha256 *s)
{
	static const uint32_t iv[8] = {
	    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(s->h, iv, sizeof(iv));
	s->len = 0;
	s->used = 0;
	memset(s->buf, 0, sizeof(s->buf));
}

void kg_sha256_update(struct kg_sha256 *s, const void *data, size_t len)
{
	const unsigned char *p = data;

	if (len == 0)
		return;
	s->len += len;
	if (s->used > 0) {
		size_t take = BLOCK - s->used < len ? BLOCK - s->used : len;

		memcpy(s->buf + s->used, p, take);
		s->used += take;
		p += take;
		len -= take;
		if (s->used < BLOCK)
			return;
		compress(s->h, s->buf);
		s->used = 0;
	}
	for (; len >= BLOCK; p += BLOCK, len -= BLOCK)
		compress(s->h, p);
	if (len > 0) {
		memcpy(s->buf, p, len);
		s->used = len;
	}
}

void kg_sha256_final(struct kg_sha256 *s, unsigned char out[KG_SHA256_DIGEST_LEN])
{
	uint64_t bits = s->len * 8;
	unsigned i;

	/* Padding (FIPS 180-4 §5.1.1): 0x80, zeros to 56 mod 64, the bit length big-endian. */
	s->buf[s->used++] = 0x80;
	if (s->used > 56) {
		memset(s->buf + s->used, 0, BLOCK - s->used);
		compress(s->h, s->buf);
		s->used = 0;
	}
	memset(s->buf + s->used, 0, 56 - s->used);
	for (i = 0; i < 8; i++)
		s->buf[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
	compress(s->h, s->buf);
	for (i = 0; i < 8; i++)
		store_be32(out + 4 * i, s->h[i]);
	kg_wipe(s, sizeof(*s));
}

void kg_sha256(const void *data, size_t len, unsigned char out[KG_SHA256_DIGEST_LEN])
{
	struct kg_sha256 s;

	kg_sha256_init(&s);
	kg_sha256_update(&s, data, len);
	kg_sha256_final(&s, out);
}

void kg_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                    unsigned char out[KG_SHA256_DIGEST_LEN])
{
	unsigned char k0[BLOCK], pad[BLOCK], inner[KG_SHA256_DIGEST_LEN];
	struct kg_sha256 s;
	unsigned i;

	/* K0 (FIPS 198-1): the key hashed when longer than a block, zero-padded to a block. */
	memset(k0, 0, sizeof(k0));
	if (key_len > BLOCK)
		kg_sha256(key, key_len, k0);
	else if (key_len > 0)
		memcpy(k0, key, key_len);

	for (i = 0; i < BLOCK; i++)
		pad[i] = k0[i] ^ 0x36;
	kg_sha256_init(&s);
	kg_sha256_update(&s, pad, BLOCK);
	kg_sha256_update(&s, msg, msg_len);
	kg_sha256_final(&s, inner);

	for (i = 0; i < BLOCK; i++)
		pad[i] = k0[i] ^ 0x5c;
	kg_sha256_init(&s);
	kg_sha256_update(&s, pad, BLOCK);
	kg_sha256_update(&s, inner, sizeof(inner));
	kg_sha256_final(&s, out);

	kg_wipe(k0, sizeof(k0));
	kg_wipe(pad, sizeof(pad));
	kg_wipe(inner, sizeof(inner));
}

_Bool kg_ct_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a;
	const volatile unsigned char *y = b;
	unsigned char diff = 0;
	size_t i;

	/* Every byte is read whatever the earlier ones were: the time depends on n only. */
	for (i = 0; i < n; i++)
		diff |= (unsigned char)(x[i] ^ y[i]);
	return diff == 0;
}
