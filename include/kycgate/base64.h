/* Standard base64 (RFC 4648 section 4) for document uploads. Pure functions, thread-safe. */
#ifndef KYCGATE_BASE64_H
#define KYCGATE_BASE64_H

#include <stddef.h>

#include "kycgate/common.h"

/* Bytes needed to encode n bytes with padding, NUL not counted; 0 when that would overflow. */
size_t kg_base64_encoded_len(size_t n);

/* Encodes n bytes at in as padded standard base64 into out (capacity cap, NUL-terminated).
 * Returns the length written (NUL not counted), or 0 when out is too small or n is 0. */
size_t kg_base64_encode(const unsigned char *in, size_t n, char *out, size_t cap);

/* Checks n bytes at in without decoding: the standard alphabet; padding optional, but when
 * present correct ('=' only at the end, one or two of them, completing a group of four); CR and
 * LF ignored anywhere; any other byte (space, '-', '_', '=' before data) refused with
 * KG_ERR_INVALID. Unused bits of the last group are ignored. On success *decoded_len is the
 * exact decoded size. */
enum kg_err kg_base64_check(const char *in, size_t n, size_t *decoded_len);

/* Decodes n bytes at in (rules of kg_base64_check) into out (capacity cap). Returns
 * KG_ERR_INVALID for bad input (checked before anything is written), KG_ERR_TOO_LARGE when the
 * decoded size exceeds cap, else KG_OK with *out_len the decoded size. out may be NULL when
 * cap is 0. */
enum kg_err kg_base64_decode(const char *in, size_t n, unsigned char *out, size_t cap,
                             size_t *out_len);

#endif
