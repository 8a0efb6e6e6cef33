/* Fuzz target: the request path and query values as the gateway reads them. The route matcher
 * over a raw path (kg_route_match), then each parameter percent-decoded once (kg_pct_decode) and
 * checked against its grammar (locator, document type, document id, wallet address), a valid
 * value re-encoded for the upstream path (kg_path_encode, which must decode back to the same
 * bytes); and the input as one query value (?products=, ?expiresAt=).
 * Input: the first byte picks the method and the parameter kind, the rest is the raw path. */
#include <string.h>

#include "fuzz.h"
#include "kycgate/normalize.h"
#include "kycgate/router.h"
#include "kycgate/validate.h"

#define PARAM_CAP (KG_MAX_LOCATOR_BYTES + 1)

/* kg_path_encode's output decodes back to the value it encoded. */
static void check_encode(const char *v, size_t n, bool is_locator)
{
	char enc[3 * PARAM_CAP + 1], back[PARAM_CAP];
	size_t e, m;

	e = kg_path_encode(v, n, is_locator, enc, sizeof(enc));
	FUZZ_ASSERT(e > 0 && e < sizeof(enc) && enc[e] == '\0');
	FUZZ_ASSERT(kg_pct_decode(enc, e, back, sizeof(back), &m) == KG_OK);
	FUZZ_ASSERT(m == n && memcmp(back, v, n) == 0);
}

static void check_param(enum kg_param kind, const char *raw, size_t len)
{
	char v[PARAM_CAP];
	const char *detail = NULL;
	enum kg_doc_type t;
	size_t n;

	if (kg_pct_decode(raw, len, v, sizeof(v), &n) != KG_OK)
		return;
	FUZZ_ASSERT(n < sizeof(v) && v[n] == '\0' && strlen(v) == n);
	switch (kind) {
	case KG_PARAM_LOCATOR:
		if (kg_locator_valid(v, n, &detail))
			check_encode(v, n, true);
		else
			FUZZ_ASSERT(detail != NULL);
		break;
	case KG_PARAM_DOC_TYPE:
		t = kg_doc_type_parse(v, n);
		if (t != KG_DOC_INVALID)
			FUZZ_ASSERT(strcmp(kg_doc_type_name(t), v) == 0);
		break;
	case KG_PARAM_DOC_ID:
		if (kg_document_id_valid(v, n))
			check_encode(v, n, false);
		break;
	case KG_PARAM_ADDRESS:
		if (kg_wallet_address_valid(v, n))
			check_encode(v, n, false);
		break;
	case KG_PARAM_WEBHOOK: /* read raw by its route, compared with configured names only */
		break;
	}
}

/* The input as a query value: ?products= and ?expiresAt= (a date, or an RFC 3339 time). */
static void check_query(const char *raw, size_t len)
{
	char v[KG_MAX_QUERY_VALUE_BYTES + 1], utc[40];
	long long epoch;
	unsigned mask = 0;
	size_t n;

	if (kg_pct_decode(raw, len, v, sizeof(v), &n) != KG_OK)
		return;
	if (kg_products_parse(v, n, &mask) == KG_OK)
		FUZZ_ASSERT(mask != 0 && mask < (1u << KG_PRODUCT_COUNT));
	(void)kg_date_valid(v, n);
	if (kg_rfc3339_to_utc(v, n, utc, sizeof(utc), &epoch))
		FUZZ_ASSERT(strlen(utc) < sizeof(utc) && utc[strlen(utc) - 1] == 'Z');
	(void)kg_country_valid(v, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = {"GET", "PUT", "POST", "DELETE", "PATCH", "HEAD"};
	char path[KG_MAX_RAW_PATH_BYTES + 64];
	struct kg_match m;
	size_t i, n;

	if (size == 0 || size > sizeof(path))
		return 0;
	n = size - 1;
	memcpy(path, data + 1, n);
	path[n] = '\0';
	if (kg_route_match(path, methods[data[0] % 6], &m)) {
		FUZZ_ASSERT(m.n_params <= KG_MAX_PARAMS);
		for (i = 0; i < m.n_params; i++)
			check_param(m.params[i].kind, m.params[i].raw, m.params[i].len);
	}
	/* The grammars directly, whatever the router made of the path. */
	check_param((enum kg_param)((data[0] >> 3) % 4), path, n);
	check_query(path, n);
	return 0;
}
