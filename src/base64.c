/* Standard base64 with padding on output; lenient only in what RFC 4648 lets a reader accept
 * by agreement: missing padding and CR/LF line breaks. */
#include <stdint.h>

#include "kycgate/base64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of an alphabet byte, or -1. */
static int sextet(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

size_t kg_base64_encoded_len(size_t n)
{
	size_t groups = n / 3 + (n % 3 != 0);

	if (groups > SIZE_MAX / 4)
		return 0;
	return groups * 4;
}

size_t kg_base64_encode(const unsigned char *in, size_t n, char *out, size_t cap)
{
	size_t need = kg_base64_encoded_len(n);
	size_t w = 0;

	if (n == 0 || need == 0 || cap <= need)
		return 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned long v = (unsigned long)in[i] << 16;
		size_t left = n - i;

		if (left > 1)
			v |= (unsigned long)in[i + 1] << 8;
		if (left > 2)
			v |= in[i + 2];
		out[w++] = alphabet[(v >> 18) & 0x3F];
		out[w++] = alphabet[(v >> 12) & 0x3F];
		out[w++] = left > 1 ? alphabet[(v >> 6) & 0x3F] : '=';
		out[w++] = left > 2 ? alphabet[v & 0x3F] : '=';
	}
	out[w] = '\0';
	return w;
}

enum kg_err kg_base64_check(const char *in, size_t n, size_t *decoded_len)
{
	size_t data = 0, pad = 0;

	*decoded_len = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '\r' || c == '\n')
			continue;
		if (c == '=')
			pad++;
		else if (pad != 0 || sextet(c) < 0)
			return KG_ERR_INVALID;
		else
			data++;
	}
	if (data % 4 == 1)
		return KG_ERR_INVALID;
	if (pad != 0 && (pad > 2 || (data + pad) % 4 != 0))
		return KG_ERR_INVALID;
	*decoded_len = data / 4 * 3 + (data % 4 == 0 ? 0 : data % 4 - 1);
	return KG_OK;
}

enum kg_err kg_base64_decode(const char *in, size_t n, unsigned char *out, size_t cap,
                             size_t *out_len)
{
	size_t total, w = 0, bits = 0;
	unsigned long acc = 0;
	enum kg_err err;

	*out_len = 0;
	err = kg_base64_check(in, n, &total);
	if (err != KG_OK)
		return err;
	if (total > cap)
		return KG_ERR_TOO_LARGE;
	for (size_t i = 0; i < n && w < total; i++) {
		int v = sextet((unsigned char)in[i]);

		if (v < 0)
			continue; /* CR, LF; '=' only ends the input */
		acc = (acc << 6 | (unsigned long)v) & 0xFFFFFF;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[w++] = (unsigned char)(acc >> bits);
		}
	}
	*out_len = w;
	return KG_OK;
}
