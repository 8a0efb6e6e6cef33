/* Unit tests of normalize.c: design §3, normalized eligibility, and the ?products= parser.
 * JSON in the tables is written with single quotes for readability; they become double quotes
 * before parsing or comparing (no test string contains a single quote of its own). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kycgate/normalize.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define T_OBSERVED 1795640400 /* 2026-11-25T21:00:00Z */

static struct json_object *res; /* the answer under test; freed by teardown */

static char *unq(const char *s)
{
	char *c = strdup(s);
	char *p;

	ck_assert_ptr_nonnull(c);
	for (p = c; *p != '\0'; p++) {
		if (*p == '\'')
			*p = '"';
	}
	return c;
}

static struct json_object *parse(const char *qjson)
{
	char *s = unq(qjson);
	struct json_object *o = json_tokener_parse(s);

	ck_assert_msg(o != NULL || strcmp(s, "null") == 0, "test JSON does not parse: %s", s);
	free(s);
	return o;
}

static struct kg_norm_opts opts_default(void)
{
	struct kg_norm_opts o = {.locator = "userId:alice-1",
	                         .environment = "staging",
	                         .products = 0,
	                         .country = NULL,
	                         .observed_at = T_OBSERVED,
	                         .cache_ttl_ms = 0,
	                         .retry_after_s = 0,
	                         .budget_wait_s = 0};
	return o;
}

/* Normalizes qjson with opts into res; fails the test unless KG_OK. */
static void run_opts(const char *qjson, const struct kg_norm_opts *o)
{
	struct json_object *up = parse(qjson);
	const char *detail = "unset";
	enum kg_err err = kg_normalize(up, o, &res, &detail);

	json_object_put(up);
	ck_assert_msg(err == KG_OK, "kg_normalize: %s (%s) for %s", kg_err_str(err),
	              detail ? detail : "-", qjson);
	ck_assert_ptr_nonnull(res);
	ck_assert_ptr_null(detail);
}

static void run(const char *qjson)
{
	struct kg_norm_opts o = opts_default();

	run_opts(qjson, &o);
}

/* Serialized node at a '/'-separated path ("products/onramp/status", "requirements/0"), or
 * "<absent>". The text is owned by res. */
static const char *at(const char *path)
{
	struct json_object *node = res;
	const char *seg = path;

	while (*seg != '\0') {
		const char *end = strchr(seg, '/');
		size_t n = end != NULL ? (size_t)(end - seg) : strlen(seg);
		char key[128];

		ck_assert_uint_lt(n, sizeof(key));
		memcpy(key, seg, n);
		key[n] = '\0';
		if (json_object_is_type(node, json_type_array)) {
			size_t i = strtoul(key, NULL, 10);

			if (i >= json_object_array_length(node))
				return "<absent>";
			node = json_object_array_get_idx(node, i);
		} else if (!json_object_object_get_ex(node, key, &node)) {
			return "<absent>";
		}
		seg += n + (end != NULL);
	}
	return json_object_to_json_string_ext(node, JSON_C_TO_STRING_PLAIN |
	                                                JSON_C_TO_STRING_NOSLASHESCAPE);
}

static void expect(const char *path, const char *qwant)
{
	char *want = unq(qwant);
	const char *got = at(path);

	ck_assert_msg(strcmp(got, want) == 0, "%s: got %s, want %s", path, got, want);
	free(want);
}

static void teardown(void)
{
	json_object_put(res);
	res = NULL;
}

/* ---- the whole answer ------------------------------------------------------------------- */

START_TEST(design_example)
{
	run("{'eligibility': ["
	    "{'type': 'onramp', 'status': 'requires-data', 'missingData': ['kyc-data'],"
	    " 'missingDocuments': ['id']},"
	    "{'type': 'offramp', 'status': 'verified'},"
	    "{'type': 'regulated-transfer', 'status': 'rejected', 'failureReasons':"
	    " [{'code': 'id-document-expired', 'message': 'Expired/old.'}]}]}");
	expect("", "{'userLocator':'userId:alice-1','environment':'staging',"
	           "'overall':'action-required','products':{"
	           "'onramp':{'status':'action-required','upstreamStatus':'requires-data',"
	           "'eligible':false,'missingData':['kyc-data'],'missingDocuments':['id']},"
	           "'offramp':{'status':'verified','upstreamStatus':'verified','eligible':true},"
	           "'regulated-transfer':{'status':'rejected','upstreamStatus':'rejected',"
	           "'eligible':false,'retryable':true,'failureReasons':[{'code':"
	           "'id-document-expired','message':'Expired/old.','known':true}]}},"
	           "'requirements':[{'kind':'data','code':'kyc-data','known':true,"
	           "'neededFor':['onramp']},{'kind':'document','code':'id','known':true,"
	           "'neededFor':['onramp'],'acceptedDocumentTypes':[['id-passport']],"
	           "'dependsOnCountry':true}],"
	           "'nextAction':'provide-data','observedAt':'2026-11-25T21:00:00Z'}");
}
END_TEST

START_TEST(wait_answer_has_poll_after)
{
	struct kg_norm_opts o = opts_default();

	o.environment = "simulator";
	o.cache_ttl_ms = 1500;
	run_opts("{'eligibility': [{'type': 'onramp', 'status': 'pending-review'}]}", &o);
	expect("", "{'userLocator':'userId:alice-1','environment':'simulator','overall':"
	           "'in-review','products':{'onramp':{'status':'in-review','upstreamStatus':"
	           "'pending-review','eligible':false}},'requirements':[],'nextAction':'wait',"
	           "'pollAfterSeconds':2,'observedAt':'2026-11-25T21:00:00Z'}");
}
END_TEST

START_TEST(null_locator_and_environment)
{
	struct kg_norm_opts o = opts_default();

	o.locator = NULL;
	o.environment = NULL;
	run_opts("{'eligibility': []}", &o);
	expect("userLocator", "null");
	expect("environment", "null");
}
END_TEST

/* ---- status map ------------------------------------------------------------------------- */

static const struct {
	const char *upstream;
	const char *status;
	const char *eligible;
} status_cases[] = {
    {"not-started", "not-started", "false"},
    {"requires-data", "action-required", "false"},
    {"pending-privacy-policy", "action-required", "false"},
    {"pending-review", "in-review", "false"},
    {"verified", "verified", "true"},
    {"rejected", "rejected", "false"},
    {"frozen", "unknown", "false"},
    {"", "unknown", "false"},
    {"VERIFIED", "unknown", "false"},
    {"verified ", "unknown", "false"},
};

START_TEST(status_map)
{
	char in[256], want[128];

	snprintf(in, sizeof(in), "{'eligibility': [{'type': 'onramp', 'status': '%s'}]}",
	         status_cases[_i].upstream);
	run(in);
	snprintf(want, sizeof(want), "'%s'", status_cases[_i].status);
	expect("products/onramp/status", want);
	snprintf(want, sizeof(want), "'%s'", status_cases[_i].upstream);
	expect("products/onramp/upstreamStatus", want);
	expect("products/onramp/eligible", status_cases[_i].eligible);
	expect("products/onramp/retryable",
	       strcmp(status_cases[_i].upstream, "rejected") == 0 ? "false" : "<absent>");
}
END_TEST

/* ---- overall ---------------------------------------------------------------------------- */

/* Upstream statuses in overall precedence order, with the normalized word each gives. */
static const struct {
	const char *upstream;
	const char *overall;
} precedence[] = {
    {"requires-data", "action-required"},
    {"pending-privacy-policy", "action-required"},
    {"not-started", "not-started"},
    {"pending-review", "in-review"},
    {"frozen", "unknown"},
    {"rejected", "rejected"},
    {"verified", "verified"},
};

START_TEST(overall_pairs)
{
	size_t i = (size_t)_i / ARRAY_LEN(precedence);
	size_t j = (size_t)_i % ARRAY_LEN(precedence);
	size_t first = i < j ? i : j;
	char in[256], want[64];

	snprintf(in, sizeof(in),
	         "{'eligibility': [{'type': 'onramp', 'status': '%s'},"
	         " {'type': 'offramp', 'status': '%s'}]}",
	         precedence[i].upstream, precedence[j].upstream);
	run(in);
	snprintf(want, sizeof(want), "'%s'", precedence[first].overall);
	expect("overall", want);
}
END_TEST

START_TEST(overall_empty_is_unknown)
{
	run("{'eligibility': []}");
	expect("overall", "'unknown'");
	expect("products", "{}");
	expect("requirements", "[]");
	expect("nextAction", "'contact-support'");
	expect("pollAfterSeconds", "<absent>");
}
END_TEST

START_TEST(overall_all_verified)
{
	run("{'eligibility': [{'type': 'onramp', 'status': 'verified'},"
	    " {'type': 'offramp', 'status': 'verified'}]}");
	expect("overall", "'verified'");
	expect("nextAction", "'none'");
}
END_TEST

/* ---- ?products= filter ------------------------------------------------------------------ */

START_TEST(filter_absent_product_is_unknown)
{
	struct kg_norm_opts o = opts_default();

	o.products = KG_PRODUCT_ONRAMP_LIGHT;
	run_opts("{'eligibility': [{'type': 'onramp', 'status': 'verified'}]}", &o);
	expect("products", "{'onramp-light':{'status':'unknown','upstreamStatus':null,"
	                   "'eligible':false}}");
	expect("overall", "'unknown'");
	expect("requirements", "[]");
	expect("nextAction", "'contact-support'");
}
END_TEST

START_TEST(filter_order_is_bit_order)
{
	struct kg_norm_opts o = opts_default();

	o.products = KG_PRODUCT_REGULATED_TRANSFER | KG_PRODUCT_ONRAMP | KG_PRODUCT_OFFRAMP;
	run_opts("{'eligibility': [{'type': 'regulated-transfer', 'status': 'verified'},"
	         " {'type': 'offramp', 'status': 'verified'},"
	         " {'type': 'onramp', 'status': 'verified'}]}",
	         &o);
	expect("products", "{'onramp':{'status':'verified','upstreamStatus':'verified',"
	                   "'eligible':true},'offramp':{'status':'verified','upstreamStatus':"
	                   "'verified','eligible':true},'regulated-transfer':{'status':'verified',"
	                   "'upstreamStatus':'verified','eligible':true}}");
	expect("overall", "'verified'");
}
END_TEST

static const char *const mixed =
    "{'eligibility': [{'type': 'onramp', 'status': 'verified'},"
    " {'type': 'offramp', 'status': 'requires-data', 'missingData': ['kyc-data']},"
    " {'type': 'regulated-transfer', 'status': 'pending-review'}]}";

START_TEST(filter_only_verified)
{
	struct kg_norm_opts o = opts_default();

	o.products = KG_PRODUCT_ONRAMP;
	run_opts(mixed, &o);
	expect("overall", "'verified'");
	expect("requirements", "[]");
	expect("nextAction", "'none'");
	expect("products/offramp", "<absent>");
	expect("pollAfterSeconds", "<absent>");
}
END_TEST

START_TEST(filter_excludes_verified)
{
	struct kg_norm_opts o = opts_default();

	o.products = KG_PRODUCT_OFFRAMP | KG_PRODUCT_REGULATED_TRANSFER;
	run_opts(mixed, &o);
	expect("overall", "'action-required'");
	expect("products/onramp", "<absent>");
	expect("requirements", "[{'kind':'data','code':'kyc-data','known':true,"
	                       "'neededFor':['offramp']}]");
	expect("nextAction", "'provide-data'");
}
END_TEST

START_TEST(filter_scopes_next_action_and_poll)
{
	struct kg_norm_opts o = opts_default();

	o.products = KG_PRODUCT_REGULATED_TRANSFER;
	o.retry_after_s = 7;
	run_opts(mixed, &o);
	expect("overall", "'in-review'");
	expect("nextAction", "'wait'");
	expect("pollAfterSeconds", "7");
}
END_TEST

START_TEST(unknown_type_kept_without_filter)
{
	run("{'eligibility': [{'type': 'onramp', 'status': 'verified'},"
	    " {'type': 'card-issuing', 'status': 'requires-data', 'missingData': ['tax-id']}]}");
	expect("products/card-issuing",
	       "{'status':'action-required','upstreamStatus':"
	       "'requires-data','eligible':false,'missingData':['tax-id']}");
	expect("overall", "'action-required'");
	expect("requirements", "[{'kind':'data','code':'tax-id','known':false,"
	                       "'neededFor':['card-issuing']}]");
}
END_TEST

START_TEST(unknown_type_dropped_with_filter)
{
	struct kg_norm_opts o = opts_default();

	o.products = KG_PRODUCT_ONRAMP;
	run_opts("{'eligibility': [{'type': 'onramp', 'status': 'verified'},"
	         " {'type': 'card-issuing', 'status': 'requires-data', 'missingData': ['x']}]}",
	         &o);
	expect("products", "{'onramp':{'status':'verified','upstreamStatus':'verified',"
	                   "'eligible':true}}");
	expect("overall", "'verified'");
	expect("requirements", "[]");
}
END_TEST

START_TEST(duplicate_entry_first_wins)
{
	struct kg_norm_opts o = opts_default();

	run("{'eligibility': [{'type': 'onramp', 'status': 'verified'},"
	    " {'type': 'offramp', 'status': 'verified'},"
	    " {'type': 'onramp', 'status': 'rejected'}]}");
	expect("products", "{'onramp':{'status':'verified','upstreamStatus':'verified',"
	                   "'eligible':true},'offramp':{'status':'verified','upstreamStatus':"
	                   "'verified','eligible':true}}");
	expect("overall", "'verified'");
	teardown();
	o.products = KG_PRODUCT_ONRAMP;
	run_opts("{'eligibility': [{'type': 'onramp', 'status': 'pending-review'},"
	         " {'type': 'onramp', 'status': 'verified'}]}",
	         &o);
	expect("products/onramp/status", "'in-review'");
}
END_TEST

/* ---- requirements ----------------------------------------------------------------------- */

START_TEST(requirements_union_order_dedup)
{
	struct kg_norm_opts o = opts_default();

	o.country = "GB";
	run_opts("{'eligibility': ["
	         "{'type': 'onramp', 'status': 'requires-data',"
	         " 'missingData': ['user-details', 'kyc-data', 'kyc-data', 'zeta'],"
	         " 'missingDocuments': ['selfie', 'id', 'id']},"
	         "{'type': 'offramp', 'status': 'requires-data',"
	         " 'missingData': ['kyc-data', 'due-diligence', 'alpha'],"
	         " 'missingDocuments': ['proof-of-income', 'id', 'utility-bill']},"
	         "{'type': 'regulated-transfer', 'status': 'pending-privacy-policy'},"
	         "{'type': 'onramp-light', 'status': 'requires-data',"
	         " 'missingData': ['verification-history', 'user-details'],"
	         " 'missingDocuments': ['proof-of-address']}]}",
	         &o);
	expect("requirements",
	       "[{'kind':'consent','code':'privacy-policy','known':true,"
	       "'neededFor':['regulated-transfer']},"
	       "{'kind':'data','code':'alpha','known':false,'neededFor':['offramp']},"
	       "{'kind':'data','code':'due-diligence','known':true,'neededFor':['offramp']},"
	       "{'kind':'data','code':'kyc-data','known':true,'neededFor':['onramp','offramp']},"
	       "{'kind':'data','code':'user-details','known':true,"
	       "'neededFor':['onramp','onramp-light']},"
	       "{'kind':'data','code':'verification-history','known':true,"
	       "'neededFor':['onramp-light']},"
	       "{'kind':'data','code':'zeta','known':false,'neededFor':['onramp']},"
	       "{'kind':'document','code':'id','known':true,'neededFor':['onramp','offramp'],"
	       "'acceptedDocumentTypes':[['id-passport']]},"
	       "{'kind':'document','code':'proof-of-address','known':true,"
	       "'neededFor':['onramp-light'],'acceptedDocumentTypes':[['proof-of-address']]},"
	       "{'kind':'document','code':'proof-of-income','known':true,"
	       "'neededFor':['offramp'],'acceptedDocumentTypes':[['proof-of-income']]},"
	       "{'kind':'document','code':'selfie','known':true,'neededFor':['onramp'],"
	       "'acceptedDocumentTypes':[['selfie-front']]},"
	       "{'kind':'document','code':'utility-bill','known':false,'neededFor':['offramp']}]");
	/* the product's own lists are de-duplicated too, first occurrence kept */
	expect("products/onramp/missingData", "['user-details','kyc-data','zeta']");
	expect("products/onramp/missingDocuments", "['selfie','id']");
	expect("nextAction", "'accept-privacy-policy'");
}
END_TEST

START_TEST(requirements_neededfor_follows_filter_order)
{
	struct kg_norm_opts o = opts_default();

	o.products = KG_PRODUCT_ONRAMP | KG_PRODUCT_OFFRAMP;
	run_opts("{'eligibility': ["
	         "{'type': 'offramp', 'status': 'requires-data', 'missingData': ['kyc-data']},"
	         "{'type': 'onramp', 'status': 'requires-data', 'missingData': ['kyc-data']}]}",
	         &o);
	expect("requirements/0/neededFor", "['onramp','offramp']");
	teardown();
	run("{'eligibility': ["
	    "{'type': 'offramp', 'status': 'requires-data', 'missingData': ['kyc-data']},"
	    "{'type': 'onramp', 'status': 'requires-data', 'missingData': ['kyc-data']}]}");
	expect("requirements/0/neededFor", "['offramp','onramp']");
}
END_TEST

START_TEST(empty_missing_lists_omitted)
{
	run("{'eligibility': [{'type': 'onramp', 'status': 'requires-data',"
	    " 'missingData': [], 'missingDocuments': null}]}");
	expect("products/onramp", "{'status':'action-required','upstreamStatus':'requires-data',"
	                          "'eligible':false}");
	expect("requirements", "[]");
	expect("nextAction", "'provide-data'");
}
END_TEST

static const struct {
	const char *country; /* NULL: no ?country */
	const char *want;    /* the id requirement after neededFor */
} id_cases[] = {
    {"DE", "'acceptedDocumentTypes':[['id-passport'],['id-idcard-front','id-idcard-back']]}"},
    {"NO", "'acceptedDocumentTypes':[['id-passport'],['id-idcard-front','id-idcard-back']]}"},
    {"GR", "'acceptedDocumentTypes':[['id-passport'],['id-idcard-front','id-idcard-back']]}"},
    {"ES", "'acceptedDocumentTypes':[['id-passport'],['id-idcard-front','id-idcard-back'],"
           "['id-residency-permit']]}"},
    {"US", "'acceptedDocumentTypes':[['id-passport'],['id-idcard-front','id-idcard-back']]}"},
    {"GB", "'acceptedDocumentTypes':[['id-passport']]}"},
    {"CH", "'acceptedDocumentTypes':[['id-passport']]}"},
    /* No country known: only the passport, which every country accepts (issue 7, item 20). */
    {NULL, "'acceptedDocumentTypes':[['id-passport']],'dependsOnCountry':true}"},
    {"", "'acceptedDocumentTypes':[['id-passport']],'dependsOnCountry':true}"},
};

START_TEST(id_document_types_by_country)
{
	struct kg_norm_opts o = opts_default();
	char want[512];

	o.country = id_cases[_i].country;
	run_opts("{'eligibility': [{'type': 'onramp', 'status': 'requires-data',"
	         " 'missingDocuments': ['id']}]}",
	         &o);
	snprintf(want, sizeof(want),
	         "{'kind':'document','code':'id','known':true,"
	         "'neededFor':['onramp'],%s",
	         id_cases[_i].want);
	expect("requirements/0", want);
	expect("requirements/1", "<absent>");
	expect("nextAction", "'upload-documents'");
}
END_TEST

START_TEST(privacy_policy_consent)
{
	run("{'eligibility': [{'type': 'onramp', 'status': 'pending-privacy-policy'},"
	    " {'type': 'offramp', 'status': 'pending-privacy-policy'}]}");
	expect("requirements", "[{'kind':'consent','code':'privacy-policy','known':true,"
	                       "'neededFor':['onramp','offramp']}]");
	expect("nextAction", "'accept-privacy-policy'");
	expect("overall", "'action-required'");
}
END_TEST

START_TEST(data_code_privacy_policy_is_not_consent)
{
	run("{'eligibility': [{'type': 'onramp', 'status': 'pending-privacy-policy',"
	    " 'missingData': ['privacy-policy']}]}");
	expect("requirements", "[{'kind':'consent','code':'privacy-policy','known':true,"
	                       "'neededFor':['onramp']},{'kind':'data','code':'privacy-policy',"
	                       "'known':false,'neededFor':['onramp']}]");
}
END_TEST

/* ---- nextAction ------------------------------------------------------------------------- */

static const struct {
	const char *entries; /* inside the eligibility array */
	const char *want;
} next_cases[] = {
    {"{'type':'a','status':'requires-data','missingData':['kyc-data']},"
     "{'type':'b','status':'pending-privacy-policy'}",
     "accept-privacy-policy"},
    {"{'type':'a','status':'requires-data','missingDocuments':['id']},"
     "{'type':'b','status':'requires-data','missingData':['kyc-data']}",
     "provide-data"},
    {"{'type':'a','status':'requires-data','missingDocuments':['id']},"
     "{'type':'b','status':'requires-data'}",
     "provide-data"},
    {"{'type':'a','status':'requires-data','missingData':[],'missingDocuments':[]}",
     "provide-data"},
    {"{'type':'a','status':'not-started'},"
     "{'type':'b','status':'requires-data','missingDocuments':['id']}",
     "upload-documents"},
    {"{'type':'a','status':'pending-review'},{'type':'b','status':'not-started'}",
     "trigger-verification"},
    {"{'type':'a','status':'rejected','failureReasons':[{'code':'x'}]},"
     "{'type':'b','status':'pending-review'}",
     "wait"},
    {"{'type':'a','status':'rejected'},"
     "{'type':'b','status':'rejected','failureReasons':[{'code':'x'}]}",
     "resubmit"},
    {"{'type':'a','status':'rejected','failureReasons':[]},{'type':'b','status':'verified'}",
     "contact-support"},
    {"{'type':'a','status':'frozen'},{'type':'b','status':'verified'}", "contact-support"},
    {"{'type':'a','status':'verified'}", "none"},
    /* a verified product listing data still needs nothing done */
    {"{'type':'a','status':'verified','missingData':['kyc-data']}", "none"},
};

START_TEST(next_action_precedence)
{
	char in[512], want[64];

	snprintf(in, sizeof(in), "{'eligibility': [%s]}", next_cases[_i].entries);
	run(in);
	snprintf(want, sizeof(want), "'%s'", next_cases[_i].want);
	expect("nextAction", want);
	expect("pollAfterSeconds", strcmp(next_cases[_i].want, "wait") == 0 ? "1" : "<absent>");
}
END_TEST

/* ---- rejected products ------------------------------------------------------------------ */

START_TEST(rejected_retryable_and_reasons)
{
	run("{'eligibility': ["
	    "{'type': 'onramp', 'status': 'rejected', 'failureReasons': ["
	    " {'code': 'id-document-expired', 'message': 'Expired.'},"
	    " {'code': 'sanctions-hit'}, {'code': 'blurry', 'message': null, 'extra': 1}]},"
	    "{'type': 'offramp', 'status': 'rejected'},"
	    "{'type': 'onramp-light', 'status': 'rejected', 'failureReasons': null},"
	    "{'type': 'regulated-transfer', 'status': 'rejected', 'failureReasons': []}]}");
	expect("products/onramp",
	       "{'status':'rejected','upstreamStatus':'rejected',"
	       "'eligible':false,'retryable':true,'failureReasons':["
	       "{'code':'id-document-expired','message':'Expired.','known':true},"
	       "{'code':'sanctions-hit','known':false},"
	       "{'code':'blurry','known':false}]}");
	expect("products/offramp", "{'status':'rejected','upstreamStatus':'rejected',"
	                           "'eligible':false,'retryable':false}");
	expect("products/onramp-light/retryable", "false");
	expect("products/regulated-transfer/retryable", "false");
	expect("products/regulated-transfer/failureReasons", "<absent>");
	expect("overall", "'rejected'");
	expect("nextAction", "'resubmit'");
}
END_TEST

START_TEST(reasons_on_other_status_not_shown)
{
	run("{'eligibility': [{'type': 'onramp', 'status': 'verified',"
	    " 'failureReasons': [{'code': 'old'}]}]}");
	expect("products/onramp", "{'status':'verified','upstreamStatus':'verified',"
	                          "'eligible':true}");
}
END_TEST

/* ---- pollAfterSeconds and observedAt ---------------------------------------------------- */

static const struct {
	unsigned ttl_ms, budget_s, retry_s;
	const char *want;
} poll_cases[] = {
    {0, 0, 0, "1"},
    {1, 0, 0, "1"},
    {999, 0, 0, "1"},
    {1000, 0, 0, "1"},
    {1001, 0, 0, "2"},
    {5000, 0, 0, "5"},
    {5000, 9, 0, "9"},
    {5000, 0, 12, "12"},
    {5000, 9, 3, "9"},
    {0, 0, 1, "1"},
    {30500, 2, 30, "31"},
    {4294967295u, 0, 0, "4294968"},
    {0, 4294967295u, 0, "4294967295"},
};

START_TEST(poll_after_seconds)
{
	struct kg_norm_opts o = opts_default();

	o.cache_ttl_ms = poll_cases[_i].ttl_ms;
	o.budget_wait_s = poll_cases[_i].budget_s;
	o.retry_after_s = poll_cases[_i].retry_s;
	run_opts("{'eligibility': [{'type': 'onramp', 'status': 'pending-review'}]}", &o);
	expect("pollAfterSeconds", poll_cases[_i].want);
}
END_TEST

static const struct {
	time_t t;
	const char *want;
} stamp_cases[] = {
    {0, "'1970-01-01T00:00:00Z'"},
    {T_OBSERVED, "'2026-11-25T21:00:00Z'"},
    {951868799, "'2000-02-29T23:59:59Z'"},
    {T_OBSERVED + 3600 * 3 + 61, "'2026-11-26T00:01:01Z'"},
};

START_TEST(observed_at_format)
{
	struct kg_norm_opts o = opts_default();

	o.observed_at = stamp_cases[_i].t;
	run_opts("{'eligibility': []}", &o);
	expect("observedAt", stamp_cases[_i].want);
}
END_TEST

/* ---- junk ------------------------------------------------------------------------------- */

static const char *const junk_cases[] = {
    "null",
    "[]",
    "[{'eligibility': []}]",
    "'eligibility'",
    "42",
    "{}",
    "{'eligibility': null}",
    "{'eligibility': {}}",
    "{'eligibility': 'onramp'}",
    "{'eligibility': [1]}",
    "{'eligibility': [null]}",
    "{'eligibility': [[]]}",
    "{'eligibility': [{'status': 'verified'}]}",
    "{'eligibility': [{'type': 5, 'status': 'verified'}]}",
    "{'eligibility': [{'type': null, 'status': 'verified'}]}",
    "{'eligibility': [{'type': 'onramp'}]}",
    "{'eligibility': [{'type': 'onramp', 'status': null}]}",
    "{'eligibility': [{'type': 'onramp', 'status': true}]}",
    "{'eligibility': [{'type': 'onramp', 'status': ['verified']}]}",
    "{'eligibility': [{'type': 'onramp', 'status': 'requires-data', 'missingData': 'id'}]}",
    "{'eligibility': [{'type': 'onramp', 'status': 'requires-data', 'missingData': [1]}]}",
    "{'eligibility': [{'type': 'onramp', 'status': 'requires-data', 'missingData': [null]}]}",
    "{'eligibility': [{'type': 'onramp', 'status': 'requires-data', 'missingData': {}}]}",
    "{'eligibility': [{'type': 'onramp', 'status': 'requires-data',"
    " 'missingDocuments': ['id', {}]}]}",
    "{'eligibility': [{'type': 'onramp', 'status': 'rejected', 'failureReasons': [1]}]}",
    "{'eligibility': [{'type': 'onramp', 'status': 'rejected', 'failureReasons': [null]}]}",
    "{'eligibility': [{'type': 'onramp', 'status': 'rejected', 'failureReasons': {}}]}",
    "{'eligibility': [{'type': 'onramp', 'status': 'rejected',"
    " 'failureReasons': [{'code': 5}]}]}",
    "{'eligibility': [{'type': 'onramp', 'status': 'rejected',"
    " 'failureReasons': [{'message': 'no code'}]}]}",
    "{'eligibility': [{'type': 'onramp', 'status': 'rejected',"
    " 'failureReasons': [{'code': 'x', 'message': 7}]}]}",
    /* junk in an entry outside the filter, or in a later duplicate, is still junk */
    "{'eligibility': [{'type': 'onramp', 'status': 'verified'},"
    " {'type': 'onramp', 'status': 'verified', 'missingData': 'x'}]}",
    /* an embedded NUL would cut a key short */
    "{'eligibility': [{'type': 'onramp\\u0000x', 'status': 'verified'}]}",
    "{'eligibility': [{'type': 'onramp', 'status': 'verified\\u0000'}]}",
    "{'eligibility': [{'type': 'onramp', 'status': 'requires-data',"
    " 'missingData': ['kyc\\u0000data']}]}",
};

START_TEST(junk_is_upstream_error)
{
	struct json_object *up = parse(junk_cases[_i]);
	struct kg_norm_opts o = opts_default();
	struct json_object *out = (struct json_object *)&o; /* a sentinel that must become NULL */
	const char *detail = NULL;
	enum kg_err err;

	o.products = KG_PRODUCT_OFFRAMP;
	err = kg_normalize(up, &o, &out, &detail);
	ck_assert_msg(err == KG_ERR_UPSTREAM, "%s: got %s", junk_cases[_i], kg_err_str(err));
	ck_assert_ptr_null(out);
	ck_assert_ptr_nonnull(detail);
	ck_assert_uint_gt(strlen(detail), 0);
	ck_assert(!kg_eligibility_present(up));
	json_object_put(up);
}
END_TEST

START_TEST(junk_detail_names_rule)
{
	struct json_object *up = parse("{'eligibility': [{'type': 'onramp', 'status': 'x',"
	                               " 'missingData': [1]}]}");
	struct kg_norm_opts o = opts_default();
	const char *detail = NULL;

	ck_assert_int_eq(kg_normalize(up, &o, &res, &detail), KG_ERR_UPSTREAM);
	ck_assert_str_eq(detail, "missingData is not an array of strings");
	json_object_put(up);
	up = parse("[]");
	ck_assert_int_eq(kg_normalize(up, &o, &res, NULL), KG_ERR_UPSTREAM);
	ck_assert_ptr_null(res);
	json_object_put(up);
}
END_TEST

/* Every JSON type in every place: either KG_OK with an answer or KG_ERR_UPSTREAM without one,
 * never a crash (ASan/UBSan watch). */
static const char *const any_value[] = {
    "null",
    "true",
    "0",
    "-1.5",
    "''",
    "'x'",
    "[]",
    "{}",
    "[1]",
    "['id']",
    "[null]",
    "[{}]",
    "[{'code':'c'}]",
    "[{'code':'c','message':[]}]",
    "[[]]",
    "{'code':'c'}",
};
static const char *const any_template[] = {
    "%s",
    "{'eligibility': %s}",
    "{'eligibility': [%s]}",
    "{'eligibility': [{'type': %s, 'status': 'rejected'}]}",
    "{'eligibility': [{'type': 'onramp', 'status': %s}]}",
    "{'eligibility': [{'type': 'onramp', 'status': 'requires-data', 'missingData': %s}]}",
    "{'eligibility': [{'type': 'onramp', 'status': 'requires-data', 'missingDocuments': %s}]}",
    "{'eligibility': [{'type': 'onramp', 'status': 'rejected', 'failureReasons': %s}]}",
    "{'eligibility': [{'type': 'onramp', 'status': 'rejected', 'failureReasons': [%s]}]}",
};

/* tmpl with its one "%s" replaced by val (a format string from a table would defeat
 * -Wformat-nonliteral). */
static void fill(char *buf, size_t cap, const char *tmpl, const char *val)
{
	const char *hole = strstr(tmpl, "%s");
	int n;

	ck_assert_ptr_nonnull(hole);
	n = snprintf(buf, cap, "%.*s%s%s", (int)(hole - tmpl), tmpl, val, hole + 2);
	ck_assert(n > 0 && (size_t)n < cap);
}

START_TEST(any_type_anywhere)
{
	size_t t, v;
	unsigned masks[] = {0, KG_PRODUCT_ONRAMP | KG_PRODUCT_OFFRAMP};
	size_t m;

	for (t = 0; t < ARRAY_LEN(any_template); t++) {
		for (v = 0; v < ARRAY_LEN(any_value); v++) {
			for (m = 0; m < ARRAY_LEN(masks); m++) {
				char in[512];
				struct json_object *up;
				struct kg_norm_opts o = opts_default();
				struct json_object *out = NULL;
				const char *detail = NULL;
				enum kg_err err;

				fill(in, sizeof(in), any_template[t], any_value[v]);
				up = parse(in);
				o.products = masks[m];
				err = kg_normalize(up, &o, &out, &detail);
				ck_assert_msg(err == KG_OK || err == KG_ERR_UPSTREAM, "%s", in);
				ck_assert((err == KG_OK) == (out != NULL));
				ck_assert((err == KG_OK) == (detail == NULL));
				ck_assert((err == KG_OK) == kg_eligibility_present(up));
				(void)kg_normalized_in_review(out);
				json_object_put(out);
				json_object_put(up);
			}
		}
	}
}
END_TEST

START_TEST(null_arguments)
{
	struct json_object *up = parse("{'eligibility': []}");
	const char *detail = NULL;

	ck_assert_int_eq(kg_normalize(up, NULL, &res, &detail), KG_ERR_INTERNAL);
	ck_assert_ptr_null(res);
	ck_assert_ptr_nonnull(detail);
	json_object_put(up);
}
END_TEST

/* ---- kg_normalized_in_review, kg_eligibility_present ------------------------------------ */

START_TEST(in_review_predicate)
{
	struct kg_norm_opts o = opts_default();

	run(mixed);
	ck_assert(kg_normalized_in_review(res));
	teardown();
	o.products = KG_PRODUCT_ONRAMP | KG_PRODUCT_OFFRAMP;
	run_opts(mixed, &o);
	ck_assert(!kg_normalized_in_review(res));
	teardown();
	run("{'eligibility': [{'type': 'x', 'status': 'pending-review'}]}");
	ck_assert(kg_normalized_in_review(res));
	teardown();
	run("{'eligibility': []}");
	ck_assert(!kg_normalized_in_review(res));
	ck_assert(!kg_normalized_in_review(NULL));
}
END_TEST

START_TEST(in_review_predicate_on_junk)
{
	static const char *const cases[] = {
	    "[]",
	    "{}",
	    "{'products': []}",
	    "{'products': {'a': null}}",
	    "{'products': {'a': {'status': 5}}}",
	    "{'products': {'a': 'in-review'}}",
	};
	size_t i;

	for (i = 0; i < ARRAY_LEN(cases); i++) {
		struct json_object *o = parse(cases[i]);

		ck_assert_msg(!kg_normalized_in_review(o), "%s", cases[i]);
		json_object_put(o);
	}
	res = parse("{'products': {'a': {'status': 'in-review'}}}");
	ck_assert(kg_normalized_in_review(res));
}
END_TEST

START_TEST(eligibility_present)
{
	static const struct {
		const char *json;
		bool want;
	} cases[] = {
	    {"{'eligibility': []}", true},
	    {"{'eligibility': [{'type': 'a', 'status': 'b'}], 'other': 1}", true},
	    {"{'eligibility': null}", false},
	    {"{'eligibility': {}}", false},
	    {"{}", false},
	    {"{'status': 'ok'}", false},
	    {"[]", false},
	    {"{'eligibility': [{'type': 'a'}]}", false},
	};
	size_t i;

	for (i = 0; i < ARRAY_LEN(cases); i++) {
		struct json_object *o = parse(cases[i].json);

		ck_assert_msg(kg_eligibility_present(o) == cases[i].want, "%s", cases[i].json);
		json_object_put(o);
	}
	ck_assert(!kg_eligibility_present(NULL));
}
END_TEST

/* ---- kg_products_parse ------------------------------------------------------------------ */

static const struct {
	const char *csv;
	size_t len; /* 0: strlen */
	enum kg_err want;
	unsigned mask;
} parse_cases[] = {
    {"onramp", 0, KG_OK, KG_PRODUCT_ONRAMP},
    {"onramp-light", 0, KG_OK, KG_PRODUCT_ONRAMP_LIGHT},
    {"offramp", 0, KG_OK, KG_PRODUCT_OFFRAMP},
    {"regulated-transfer", 0, KG_OK, KG_PRODUCT_REGULATED_TRANSFER},
    {"onramp,offramp", 0, KG_OK, KG_PRODUCT_ONRAMP | KG_PRODUCT_OFFRAMP},
    {"offramp,onramp", 0, KG_OK, KG_PRODUCT_ONRAMP | KG_PRODUCT_OFFRAMP},
    {"onramp,onramp", 0, KG_OK, KG_PRODUCT_ONRAMP},
    {"regulated-transfer,onramp-light,offramp,onramp", 0, KG_OK, 0xfu},
    {"onramp,offrampX", 14, KG_OK, KG_PRODUCT_ONRAMP | KG_PRODUCT_OFFRAMP}, /* len bounds */
    {"", 0, KG_ERR_INVALID, 0},
    {",", 0, KG_ERR_INVALID, 0},
    {"onramp,", 0, KG_ERR_INVALID, 0},
    {",onramp", 0, KG_ERR_INVALID, 0},
    {"onramp,,offramp", 0, KG_ERR_INVALID, 0},
    {"bogus", 0, KG_ERR_INVALID, 0},
    {"onramp, offramp", 0, KG_ERR_INVALID, 0},
    {" onramp", 0, KG_ERR_INVALID, 0},
    {"Onramp", 0, KG_ERR_INVALID, 0},
    {"onr", 0, KG_ERR_INVALID, 0},
    {"onramp-", 0, KG_ERR_INVALID, 0},
    {"onramp;offramp", 0, KG_ERR_INVALID, 0},
    {"onramp\0", 7, KG_ERR_INVALID, 0},
};

START_TEST(products_parse)
{
	const char *csv = parse_cases[_i].csv;
	size_t len = parse_cases[_i].len ? parse_cases[_i].len : strlen(csv);
	unsigned mask = 0x100u;
	enum kg_err err = kg_products_parse(csv, len, &mask);

	ck_assert_msg(err == parse_cases[_i].want, "%s: %s", csv, kg_err_str(err));
	if (err == KG_OK)
		ck_assert_uint_eq(mask, parse_cases[_i].mask);
	else
		ck_assert_uint_eq(mask, 0x100u);
}
END_TEST

START_TEST(products_parse_edge)
{
	unsigned mask = 0;

	ck_assert_int_eq(kg_products_parse(NULL, 0, &mask), KG_ERR_INVALID);
	ck_assert_int_eq(kg_products_parse("onramp", 6, NULL), KG_ERR_INVALID);
}
END_TEST

START_TEST(product_names)
{
	const char *const *n = kg_product_names();

	ck_assert_str_eq(n[0], "onramp");
	ck_assert_str_eq(n[1], "onramp-light");
	ck_assert_str_eq(n[2], "offramp");
	ck_assert_str_eq(n[3], "regulated-transfer");
	ck_assert_ptr_null(n[KG_PRODUCT_COUNT]);
}
END_TEST

/* ---- runner ----------------------------------------------------------------------------- */

static TCase *tcase(const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, NULL, teardown);
	return tc;
}

static Suite *normalize_suite(void)
{
	Suite *s = suite_create("normalize");
	TCase *tc;

	tc = tcase("answer");
	tcase_add_test(tc, design_example);
	tcase_add_test(tc, wait_answer_has_poll_after);
	tcase_add_test(tc, null_locator_and_environment);
	tcase_add_loop_test(tc, status_map, 0, ARRAY_LEN(status_cases));
	tcase_add_loop_test(tc, overall_pairs, 0, ARRAY_LEN(precedence) * ARRAY_LEN(precedence));
	tcase_add_test(tc, overall_empty_is_unknown);
	tcase_add_test(tc, overall_all_verified);
	suite_add_tcase(s, tc);

	tc = tcase("filter");
	tcase_add_test(tc, filter_absent_product_is_unknown);
	tcase_add_test(tc, filter_order_is_bit_order);
	tcase_add_test(tc, filter_only_verified);
	tcase_add_test(tc, filter_excludes_verified);
	tcase_add_test(tc, filter_scopes_next_action_and_poll);
	tcase_add_test(tc, unknown_type_kept_without_filter);
	tcase_add_test(tc, unknown_type_dropped_with_filter);
	tcase_add_test(tc, duplicate_entry_first_wins);
	suite_add_tcase(s, tc);

	tc = tcase("requirements");
	tcase_add_test(tc, requirements_union_order_dedup);
	tcase_add_test(tc, requirements_neededfor_follows_filter_order);
	tcase_add_test(tc, empty_missing_lists_omitted);
	tcase_add_loop_test(tc, id_document_types_by_country, 0, ARRAY_LEN(id_cases));
	tcase_add_test(tc, privacy_policy_consent);
	tcase_add_test(tc, data_code_privacy_policy_is_not_consent);
	suite_add_tcase(s, tc);

	tc = tcase("next");
	tcase_add_loop_test(tc, next_action_precedence, 0, ARRAY_LEN(next_cases));
	tcase_add_test(tc, rejected_retryable_and_reasons);
	tcase_add_test(tc, reasons_on_other_status_not_shown);
	tcase_add_loop_test(tc, poll_after_seconds, 0, ARRAY_LEN(poll_cases));
	tcase_add_loop_test(tc, observed_at_format, 0, ARRAY_LEN(stamp_cases));
	suite_add_tcase(s, tc);

	tc = tcase("junk");
	tcase_add_loop_test(tc, junk_is_upstream_error, 0, ARRAY_LEN(junk_cases));
	tcase_add_test(tc, junk_detail_names_rule);
	tcase_add_test(tc, any_type_anywhere);
	tcase_add_test(tc, null_arguments);
	suite_add_tcase(s, tc);

	tc = tcase("predicates");
	tcase_add_test(tc, in_review_predicate);
	tcase_add_test(tc, in_review_predicate_on_junk);
	tcase_add_test(tc, eligibility_present);
	tcase_add_loop_test(tc, products_parse, 0, ARRAY_LEN(parse_cases));
	tcase_add_test(tc, products_parse_edge);
	tcase_add_test(tc, product_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(normalize_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
