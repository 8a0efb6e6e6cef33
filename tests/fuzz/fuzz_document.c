/* Fuzz target: document decoding. The input is a document upload as the route receives it
 * (kg_shape_document: a raw file or its JSON form with base64 or a data: URL, under a
 * Content-Type and an ?expiresAt); and the same bytes as base64 text (kg_base64_check and
 * kg_base64_decode agree on the size, and what they decode encodes back to a text that decodes
 * to the same bytes) and as binary (kg_base64_encode then decode gives them back).
 * Input: byte 0 picks the Content-Type, byte 1 the ?expiresAt, the document type and the size
 * limit; the rest is the body. */
#include <string.h>

#include "fuzz.h"
#include "kycgate/base64.h"
#include "kycgate/validate.h"

static void check_shape(const uint8_t *data, size_t size)
{
	static const char *const types[] = {NULL,
	                                    "application/json",
	                                    "image/jpeg",
	                                    "image/png",
	                                    "application/pdf",
	                                    "text/plain",
	                                    "application/json; charset=utf-8",
	                                    "IMAGE/PNG; q=1"};
	static const char *const expires[] = {NULL, "2030-01-31", "2030-02-30", "x"};
	struct kg_doc_input in = {0};
	struct json_object *out = NULL, *errors = NULL;
	const char *detail = NULL;
	enum kg_err e;

	in.content_type = types[data[0] % 8];
	in.expires_at_query = expires[data[1] % 4];
	in.max_document_bytes = (data[1] & 0x80) ? 64 : 1024 * 1024;
	in.body = data + 2;
	in.body_len = size - 2;
	e = kg_shape_document(&in, "userId:fuzz-1", (enum kg_doc_type)((data[1] >> 2) % 9), &out,
	                      &detail, &errors);
	if (e == KG_OK) {
		struct json_object *d = NULL;

		FUZZ_ASSERT(out != NULL && json_object_object_get_ex(out, "data", &d));
		FUZZ_ASSERT(strncmp(json_object_get_string(d), "data:", 5) == 0);
	} else {
		FUZZ_ASSERT(out == NULL && detail != NULL);
	}
	json_object_put(out);
	json_object_put(errors);
}

/* The bytes as base64 text. */
static void check_decode(const char *in, size_t n)
{
	size_t want = 0, got = 0, len;
	unsigned char *buf;
	char *enc;

	if (kg_base64_check(in, n, &want) != KG_OK) {
		FUZZ_ASSERT(kg_base64_decode(in, n, NULL, 0, &got) == KG_ERR_INVALID);
		return;
	}
	buf = malloc(want + 1);
	FUZZ_ASSERT(buf != NULL);
	FUZZ_ASSERT(kg_base64_decode(in, n, buf, want, &got) == KG_OK && got == want);
	if (want > 0)
		FUZZ_ASSERT(kg_base64_decode(in, n, buf, want - 1, &got) == KG_ERR_TOO_LARGE);
	len = kg_base64_encoded_len(want);
	enc = malloc(len + 1);
	FUZZ_ASSERT(enc != NULL);
	if (want > 0) {
		unsigned char *again = malloc(want);

		FUZZ_ASSERT(again != NULL);
		FUZZ_ASSERT(kg_base64_encode(buf, want, enc, len + 1) == len);
		FUZZ_ASSERT(kg_base64_decode(enc, len, again, want, &got) == KG_OK && got == want);
		FUZZ_ASSERT(memcmp(again, buf, want) == 0);
		free(again);
	}
	free(enc);
	free(buf);
}

/* The bytes as binary. */
static void check_encode(const uint8_t *data, size_t size)
{
	size_t len = kg_base64_encoded_len(size), got = 0;
	unsigned char *back;
	char *enc;

	if (size == 0)
		return;
	enc = malloc(len + 1);
	back = malloc(size);
	FUZZ_ASSERT(enc != NULL && back != NULL);
	FUZZ_ASSERT(kg_base64_encode(data, size, enc, len + 1) == len);
	FUZZ_ASSERT(kg_base64_encode(data, size, enc, len) == 0);
	FUZZ_ASSERT(kg_base64_decode(enc, len, back, size, &got) == KG_OK && got == size);
	FUZZ_ASSERT(memcmp(back, data, size) == 0);
	free(enc);
	free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char mime[64];
	size_t n;

	if (size < 2)
		return 0;
	check_shape(data, size);
	check_decode((const char *)data + 2, size - 2);
	check_encode(data, size);
	(void)kg_mime_sniff(data, size);
	n = size < sizeof(mime) - 1 ? size : sizeof(mime) - 1;
	memcpy(mime, data, n);
	mime[n] = '\0';
	(void)kg_mime_parse(mime);
	return 0;
}
