/* Fuzz target: eligibility normalization of whatever Crossmint (or anything in its place)
 * answers. The input is an upstream status body, shared as one kg_answer and viewed with several
 * (?products, ?country) views as the read routes do (kg_answer_view parses it strictly and
 * normalizes it, kg_normalize); a view rendered twice gives the same bytes, and what it renders
 * is valid JSON. */
#include <string.h>

#include "fuzz.h"
#include "kycgate/answer.h"
#include "kycgate/json.h"
#include "kycgate/normalize.h"

#define T_OBSERVED 1795640400 /* 2026-11-25T21:00:00Z */

static void check_view(struct kg_answer *a, const struct kg_view *v)
{
	char *b1 = NULL, *b2 = NULL;
	size_t n1 = 0, n2 = 0;
	bool r1 = false, r2 = false;
	const char *detail = NULL;
	struct json_object *obj = NULL;

	if (kg_answer_view(a, v, &b1, &n1, &r1, &detail) != KG_OK) {
		FUZZ_ASSERT(detail != NULL);
		return;
	}
	/* The second time it comes from the answer's cache of views. */
	FUZZ_ASSERT(kg_answer_view(a, v, &b2, &n2, &r2, &detail) == KG_OK);
	FUZZ_ASSERT(n1 == n2 && memcmp(b1, b2, n1) == 0 && r1 == r2);
	FUZZ_ASSERT(kg_json_parse(b1, n1, KG_MAX_JSON_DEPTH * 2, &obj, &detail, NULL) == KG_OK);
	json_object_put(obj);
	free(b1);
	free(b2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const countries[] = {NULL, "DE", "GB", "US"};
	struct kg_view v = {.locator = "userId:fuzz-1", .environment = "staging"};
	struct json_object *up = NULL;
	const char *detail = NULL;
	struct kg_answer *a;
	char *body;
	unsigned i;

	body = malloc(size + 1);
	if (body == NULL)
		return 0;
	memcpy(body, data, size);
	body[size] = '\0';
	a = kg_answer_new(200, body, size, (unsigned)(size % 3), T_OBSERVED);
	if (a == NULL)
		return 0;
	for (i = 0; i < 6; i++) { /* more views than the answer keeps (KG_ANSWER_VIEWS) */
		v.products = i == 0 ? 0 : (i * 5u) % (1u << KG_PRODUCT_COUNT);
		v.country = countries[i % 4];
		v.cache_ttl_ms = i * 1000u;
		v.budget_wait_s = i % 2;
		check_view(a, &v);
	}
	kg_answer_put(a);
	if (kg_json_parse((const char *)data, size, KG_MAX_JSON_DEPTH * 2, &up, &detail, NULL) ==
	    KG_OK) {
		(void)kg_eligibility_present(up);
		json_object_put(up);
	}
	return 0;
}
