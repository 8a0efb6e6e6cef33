/* Fuzz target: the strict JSON reader and what reads a caller's JSON body after it. Every input
 * goes through kg_json_parse_pos at the caller's depth limit; a text it accepts must serialize
 * (kg_json_to_bytes) to a text it accepts again, and is then validated as a user body (both
 * unknown-field modes), a wallet body and a consent body, as the routes do. kg_json_check (the
 * tree-less check of relayed bodies) must agree with the reader: it accepts nothing the reader
 * refuses, and refuses nothing the reader accepts unless a number's text is longer than it reads
 * (128 characters, so only in inputs longer than that). */
#include <string.h>

#include "fuzz.h"
#include "kycgate/json.h"
#include "kycgate/validate.h"

#define T_NOW 1795640400 /* 2026-11-25T21:00:00Z */

static void check_roundtrip(struct json_object *obj)
{
	struct json_object *again = NULL;
	const char *detail = NULL;
	size_t len = 0;
	char *bytes = kg_json_to_bytes(obj, &len);

	if (bytes == NULL)
		return;
	FUZZ_ASSERT(kg_json_parse(bytes, len, KG_MAX_JSON_DEPTH, &again, &detail, NULL) == KG_OK);
	json_object_put(again);
	kg_json_free_bytes(bytes, len);
}

static void check_bodies(struct json_object *obj)
{
	struct json_object *errors = NULL, *out = NULL;

	(void)kg_validate_user(obj, false, &errors);
	FUZZ_ASSERT(errors != NULL);
	json_object_put(errors);
	errors = NULL;
	(void)kg_validate_user(obj, true, &errors);
	json_object_put(errors);
	(void)kg_user_sections(obj);
	errors = NULL;
	(void)kg_validate_wallet(obj, &errors);
	json_object_put(errors);
	errors = NULL;
	if (kg_shape_consent(obj, T_NOW, &out, &errors) == KG_OK)
		FUZZ_ASSERT(out != NULL);
	json_object_put(out);
	json_object_put(errors);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *obj = NULL;
	struct kg_json_pos pos = {0, 0};
	const char *detail = NULL;
	char *pointer = NULL;
	enum kg_err e;

	e = kg_json_parse_pos((const char *)data, size, KG_MAX_JSON_DEPTH, &obj, &detail, &pointer,
	                      &pos);
	{
		const char *cdetail = NULL;
		enum kg_err c =
		    kg_json_check((const char *)data, size, KG_MAX_JSON_DEPTH, &cdetail);

		if (c == KG_OK)
			FUZZ_ASSERT(e == KG_OK);
		else if (c == KG_ERR_INVALID && size <= 128)
			FUZZ_ASSERT(e != KG_OK);
	}
	if (e != KG_OK) {
		FUZZ_ASSERT(obj == NULL && detail != NULL);
		free(pointer);
		return 0;
	}
	FUZZ_ASSERT(pointer == NULL);
	check_roundtrip(obj);
	check_bodies(obj);
	json_object_put(obj);
	return 0;
}
