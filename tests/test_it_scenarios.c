/* Integration: end-to-end KYC scenarios through the real gateway and the standalone simulator
 * (design §2, §3, §7; crossmint/users-api.md §5). Each scenario goes from the first call to the
 * final state through the gateway only, and compares every normalized verification answer with
 * the whole expected object (observedAt checked apart), so overall, nextAction, each product's
 * status / upstreamStatus / eligible / missing lists / retryable / failureReasons and the
 * requirements list (kind, code, known, neededFor, acceptedDocumentTypes, dependsOnCountry) are
 * asserted exactly, arrays in order. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "it_common.h"

/* The simulator's review delay is 300 ms (it_common.h); wait a little longer. */
#define REVIEW_WAIT_US (450 * 1000)

static const char jpeg[] = "\xff\xd8\xff\xe0"
                           "\x00\x10JFIF\x00\x01\x01\x00"
                           "scan-bytes";

static const char *const w_json[] = {IT_WRITER, IT_JSON, NULL};
static const char *const w_jpeg[] = {IT_WRITER, "Content-Type: image/jpeg", NULL};
static const char *const w_plain[] = {IT_WRITER, NULL};
static const char *const rd[] = {IT_READER, NULL};

/* ---- expected answers (single quotes stand for double quotes) ------------------------------ */

#define P_NOT_STARTED "{'status':'not-started','upstreamStatus':'not-started','eligible':false}"
#define P_REVIEW "{'status':'in-review','upstreamStatus':'pending-review','eligible':false}"
#define P_VERIFIED "{'status':'verified','upstreamStatus':'verified','eligible':true}"
#define P_PRIVACY                                                                                  \
	"{'status':'action-required','upstreamStatus':'pending-privacy-policy','eligible':false}"
#define P_SANCTIONED                                                                               \
	"{'status':'rejected','upstreamStatus':'rejected','eligible':false,'retryable':false}"
#define P_EXPIRED                                                                                  \
	"{'status':'rejected','upstreamStatus':'rejected','eligible':false,'retryable':true,"      \
	"'failureReasons':[{'code':'id-document-expired','message':'The ID document provided is "  \
	"expired. Please submit a currently valid ID.','known':true}]}"
/* requires-data with the given missingData / missingDocuments members (JSON fragments). */
#define P_NEEDS(members)                                                                           \
	"{'status':'action-required','upstreamStatus':'requires-data','eligible':false," members "}"

#define ALL3(p) "{'onramp':" p ",'offramp':" p ",'regulated-transfer':" p "}"
/* onramp and offramp as p, regulated-transfer (user details only) as rt. */
#define RAMPS(p, rt) "{'onramp':" p ",'offramp':" p ",'regulated-transfer':" rt "}"

#define NOT_STARTED_ALL                                                                            \
	"{'overall':'not-started','products':" ALL3(                                               \
	    P_NOT_STARTED) ",'requirements':[],"                                                   \
	                   "'nextAction':'trigger-verification'}"
#define IN_REVIEW_ALL                                                                              \
	"{'overall':'in-review','products':" ALL3(                                                 \
	    P_REVIEW) ",'requirements':[],"                                                        \
	              "'nextAction':'wait','pollAfterSeconds':1}"
#define VERIFIED_ALL                                                                               \
	"{'overall':'verified','products':" ALL3(P_VERIFIED) ",'requirements':[],"                 \
	                                                     "'nextAction':'none'}"

#define NEEDED_RAMPS "'neededFor':['onramp','offramp']"
#define REQ_DATA(code) "{'kind':'data','code':'" code "','known':true," NEEDED_RAMPS "}"
#define ID_EU "[['id-passport'],['id-idcard-front','id-idcard-back']]"
#define ID_ES "[['id-passport'],['id-idcard-front','id-idcard-back'],['id-residency-permit']]"
#define ID_ELSEWHERE "[['id-passport']]"
#define REQ_ID(types)                                                                              \
	"{'kind':'document','code':'id','known':true," NEEDED_RAMPS                                \
	",'acceptedDocumentTypes':" types "}"
#define REQ_ID_ANY_COUNTRY                                                                         \
	"{'kind':'document','code':'id','known':true," NEEDED_RAMPS                                \
	",'acceptedDocumentTypes':" ID_ELSEWHERE ",'dependsOnCountry':true}"
#define REQ_SELFIE                                                                                 \
	"{'kind':'document','code':'selfie','known':true," NEEDED_RAMPS                            \
	",'acceptedDocumentTypes':[['selfie-front']]}"

/* ---- HTTP through the gateway --------------------------------------------------------------- */

static void gw(const char *method, const char *target, const char *const *hdrs, const void *body,
               size_t len, long status, struct kt_resp *r)
{
	kt_http(it_gw.port, method, target, hdrs, body, len, r);
	ck_assert_msg(r->status == status, "%s %s: %ld, wanted %ld: %s", method, target, r->status,
	              status, r->body);
}

static void consent(const char *loc)
{
	static const char body[] =
	    "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-06-01T12:00:00Z\"}";
	char target[256];
	struct kt_resp r;

	snprintf(target, sizeof(target), "/v1/users/%s/consent", loc);
	gw("PUT", target, w_json, body, strlen(body), 200, &r);
	kt_resp_free(&r);
}

/* PUT user: 201 the first time Crossmint sees the record's data, 200 after (either is fine). */
static void put_user(const char *loc, const char *json)
{
	char target[256];
	struct kt_resp r;

	snprintf(target, sizeof(target), "/v1/users/%s", loc);
	kt_http(it_gw.port, "PUT", target, w_json, json, strlen(json), &r);
	ck_assert_msg(r.status == 200 || r.status == 201, "PUT %s: %ld: %s", target, r.status,
	              r.body);
	ck_assert(json_object_get_boolean(json_object_object_get(r.json, "userDetails")));
	kt_resp_free(&r);
}

/* Uploads raw JPEG bytes as documentType (expires may be NULL); status is 201 for a new
 * document, 200 for a replacement. */
static void upload(const char *loc, const char *type, const char *expires, long status)
{
	char target[256];
	struct kt_resp r;

	if (expires != NULL)
		snprintf(target, sizeof(target), "/v1/users/%s/documents/%s?expiresAt=%s", loc,
		         type, expires);
	else
		snprintf(target, sizeof(target), "/v1/users/%s/documents/%s", loc, type);
	gw("PUT", target, w_jpeg, jpeg, sizeof(jpeg) - 1, status, &r);
	ck_assert_str_eq(kt_str(r.json, "documentType"), type);
	ck_assert_ptr_nonnull(kt_str(r.json, "id"));
	if (expires != NULL)
		ck_assert_str_eq(kt_str(r.json, "expiresAt"), expires);
	else
		ck_assert_ptr_null(kt_str(r.json, "expiresAt"));
	kt_resp_free(&r);
}

/* Replaces ' by " in a copy of s. */
static char *dq(const char *s)
{
	char *c = strdup(s), *p;

	ck_assert_ptr_nonnull(c);
	for (p = c; *p != '\0'; p++) {
		if (*p == '\'')
			*p = '"';
	}
	return c;
}

/* observedAt is "YYYY-MM-DDTHH:MM:SSZ" and close to now. */
static void assert_observed_at(const char *s)
{
	struct tm tm;
	time_t t, now = time(NULL);
	char *end;

	ck_assert_msg(s != NULL && strlen(s) == 20, "observedAt %s", s ? s : "(none)");
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	ck_assert_msg(end != NULL && *end == '\0', "observedAt %s", s);
	t = timegm(&tm);
	ck_assert_msg(t >= now - 10 && t <= now + 2, "observedAt %s is not now", s);
}

/* The normalized answer in r equals expected (single-quoted JSON, without userLocator,
 * environment and observedAt, which are checked here); line and what name the step. */
static void expect_norm(struct kt_resp *r, const char *loc, const char *expected, int line,
                        const char *what)
{
	char *text = dq(expected), env[64];
	struct json_object *want = json_tokener_parse(text);
	struct json_object *got = r->json;

	ck_assert_msg(want != NULL, "bad expected JSON: %s", text);
	ck_assert_msg(got != NULL && json_object_is_type(got, json_type_object), "body %s",
	              r->body);
	ck_assert(kt_header(r, "X-Kycgate-Environment", env, sizeof(env)));
	ck_assert_str_eq(env, "staging");
	assert_observed_at(kt_str(got, "observedAt"));
	json_object_object_del(got, "observedAt");
	json_object_object_add(want, "userLocator", json_object_new_string(loc));
	json_object_object_add(want, "environment", json_object_new_string("staging"));
	ck_assert_msg(json_object_equal(want, got), "line %d, %s\n got: %s\nwant: %s", line, what,
	              json_object_to_json_string_ext(got, JSON_C_TO_STRING_NOSLASHESCAPE),
	              json_object_to_json_string_ext(want, JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(want);
	free(text);
}

/* POST the verification (query "" or "?..."), and compare the answer. */
#define trigger(...) trigger_at(__LINE__, __VA_ARGS__)
static void trigger_at(int line, const char *loc, const char *query, const char *expected)
{
	char target[256];
	struct kt_resp r;

	snprintf(target, sizeof(target), "/v1/users/%s/verification%s", loc, query);
	gw("POST", target, w_plain, NULL, 0, 200, &r);
	/* A trigger's answer says whether the user is watched (design §10): here it is. */
	ck_assert_msg(json_object_get_boolean(json_object_object_get(r.json, "watched")), "%s",
	              r.body);
	json_object_object_del(r.json, "watched");
	expect_norm(&r, loc, expected, line, target);
	kt_resp_free(&r);
}

/* GET the verification status (query "" or "?..."), and compare the answer. */
#define status(...) status_at(__LINE__, __VA_ARGS__)
static void status_at(int line, const char *loc, const char *query, const char *expected)
{
	char target[256];
	struct kt_resp r;

	snprintf(target, sizeof(target), "/v1/users/%s/verification%s", loc, query);
	gw("GET", target, rd, NULL, 0, 200, &r);
	expect_norm(&r, loc, expected, line, target);
	kt_resp_free(&r);
}

/* Trigger → in-review; after the review delay → verified. */
static void review_to_verified(const char *loc)
{
	trigger(loc, "", IN_REVIEW_ALL);
	usleep(REVIEW_WAIT_US);
	status(loc, "", VERIFIED_ALL);
}

/* ---- user bodies ---------------------------------------------------------------------------- */

enum {
	U_KYC = 1 << 0,    /* kycData */
	U_SSN = 1 << 1,    /* kycData.identityDocument is an SSN (else a passport) */
	U_PHONE = 1 << 2,  /* kycData.phoneNumber */
	U_DD = 1 << 3,     /* dueDiligence */
	U_INCOME = 1 << 4, /* dueDiligence.estimatedYearlyIncome */
	U_VH = 1 << 5,     /* verificationHistory */
};
#define U_FULL_NON_US (U_KYC | U_DD | U_VH)
#define U_FULL_US (U_KYC | U_SSN | U_PHONE | U_VH)

/* A user object resident in country (state may be NULL), with the sections in flags. */
static char *user_json(const char *country, const char *state, const char *last, unsigned flags)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	ck_assert_ptr_nonnull(f);
	fprintf(f,
	        "{\"userDetails\":{\"firstName\":\"Test\",\"lastName\":\"%s\","
	        "\"dateOfBirth\":\"1988-04-02\",\"countryOfResidence\":\"%s\"}",
	        last, country);
	if (flags & U_KYC) {
		fprintf(f,
		        ",\"kycData\":{\"nationality\":\"%s\",\"addressOfResidence\":{"
		        "\"line1\":\"1 Main Street\",\"city\":\"Somewhere\",",
		        country);
		if (state != NULL)
			fprintf(f, "\"stateOrRegion\":\"%s\",", state);
		fprintf(f, "\"postalCode\":\"10001\"},\"email\":\"test@example.com\",");
		if (flags & U_PHONE)
			fprintf(f, "\"phoneNumber\":\"+14155550123\",");
		if (flags & U_SSN)
			fprintf(f,
			        "\"identityDocument\":{\"type\":\"ssn\",\"number\":\"123-45-6789\","
			        "\"issuingCountryCode\":\"US\"}}");
		else
			fprintf(f,
			        "\"identityDocument\":{\"type\":\"passport\",\"number\":"
			        "\"X1234567\",\"issuingCountryCode\":\"%s\"}}",
			        country);
	}
	if (flags & U_DD) {
		fprintf(f, ",\"dueDiligence\":{\"employmentStatus\":\"full-time\","
		           "\"sourceOfFunds\":\"salary-disbursement\","
		           "\"industry\":\"financial-institution\"");
		if (flags & U_INCOME)
			fprintf(f, ",\"estimatedYearlyIncome\":\"income-50k-100k\"");
		fprintf(f, "}");
	}
	if (flags & U_VH)
		fprintf(f, ",\"verificationHistory\":{\"idVerificationTimestamp\":"
		           "\"2026-01-15T10:30:00Z\",\"livenessVerificationTimestamp\":"
		           "\"2026-01-15T10:32:00Z\"}");
	fprintf(f, "}");
	fclose(f);
	return s;
}

static void put_user_with(const char *loc, const char *country, const char *state, const char *last,
                          unsigned flags)
{
	char *json = user_json(country, state, last, flags);

	put_user(loc, json);
	free(json);
}

/* Crossmint refuses the PUT: the gateway answers upstream-rejected with Crossmint's message. */
static void refused_user(const char *loc, const char *country, const char *state, unsigned flags,
                         long status, const char *message)
{
	char *json = user_json(country, state, "Jones", flags), target[256];
	struct json_object *up;
	struct kt_resp r;

	snprintf(target, sizeof(target), "/v1/users/%s", loc);
	gw("PUT", target, w_json, json, strlen(json), status, &r);
	it_assert_problem(&r, status, "upstream-rejected");
	up = json_object_object_get(json_object_object_get(r.json, "upstream"), "body");
	ck_assert_msg(strcmp(kt_str(up, "message"), message) == 0, "%s", r.body);
	kt_resp_free(&r);
	free(json);
}

/* ---- 1. US resident in CA ------------------------------------------------------------------- */

START_TEST(us_ca_ssn_and_phone)
{
	const char *loc = "userId:scen-us-ca-1";

	consent(loc);
	put_user_with(loc, "US", "CA", "Smith", U_FULL_US);
	/* Before the first trigger every product is not-started. */
	status(loc, "", NOT_STARTED_ALL);
	/* No document upload, no due diligence: straight to review. */
	review_to_verified(loc);
}
END_TEST

START_TEST(us_ca_missing_phone_then_fixed)
{
	const char *loc = "userId:scen-us-ca-2";

	consent(loc);
	put_user_with(loc, "US", "CA", "Smith", U_FULL_US & ~U_PHONE);
	trigger(loc, "",
	        "{'overall':'action-required','products':" RAMPS(
	            P_NEEDS("'missingData':['kyc-data']"),
	            P_REVIEW) ",'requirements':[" REQ_DATA("kyc-data") "],'nextAction':'provide-"
	                                                               "data'}");
	/* The status read returns the trigger's snapshot (regulated-transfer may be verified by
	 * now, so only the ramps are read, through the filter). */
	status(
	    loc, "?products=onramp,offramp",
	    "{'overall':'action-required','products':{'onramp':" P_NEEDS(
	        "'missingData':['kyc-data'"
	        "]") ",'offramp':" P_NEEDS("'missingData':['kyc-data']") "},'requirements':"
	                                                                 "[" REQ_DATA(
	                                                                     "kyc-data") "],'"
	                                                                                 "nextActio"
	                                                                                 "n"
	                                                                                 "':'"
	                                                                                 "provide-"
	                                                                                 "data'}");
	put_user_with(loc, "US", "CA", "Smith", U_FULL_US);
	review_to_verified(loc);
}
END_TEST

/* ---- 2. US residents in due-diligence states ------------------------------------------------ */

static void us_due_diligence(const char *loc, const char *state)
{
	consent(loc);
	put_user_with(loc, "US", state, "Jones", U_FULL_US);
	trigger(loc, "",
	        "{'overall':'action-required','products':" RAMPS(
	            P_NEEDS("'missingData':['due-diligence']"),
	            P_REVIEW) ",'requirements':[" REQ_DATA("due-diligence") "],'nextAction':'"
	                                                                    "provide-data'}");
	refused_user(
	    loc, "US", state, U_FULL_US | U_DD, 400,
	    "Invalid body: dueDiligence.estimatedYearlyIncome is required for US residents");
	put_user_with(loc, "US", state, "Jones", U_FULL_US | U_DD | U_INCOME);
	review_to_verified(loc);
}

START_TEST(us_ny_due_diligence)
{
	us_due_diligence("userId:scen-us-ny-1", "NY");
}
END_TEST

START_TEST(us_tx_due_diligence)
{
	us_due_diligence("userId:scen-us-tx-1", "TX");
}
END_TEST

/* ---- 3. EU resident with an ID card ---------------------------------------------------------- */

START_TEST(eu_fr_idcard)
{
	const char *loc = "userId:scen-eu-fr-1";
	char want[2048];

	consent(loc);
	put_user_with(loc, "FR", NULL, "Dupont", U_FULL_NON_US);
	upload(loc, "id-idcard-front", "2032-05-01", 201);
	trigger(loc, "",
	        "{'overall':'action-required','products':" RAMPS(
	            P_NEEDS("'missingDocuments':['id','selfie']"),
	            P_REVIEW) ",'requirements':[" REQ_ID(ID_EU) "," REQ_SELFIE "],"
	                                                        "'nextAction':'upload-documents'}");

	/* The selfie alone does not complete the ID: front without back is still "id". */
	upload(loc, "selfie-front", NULL, 201);
	trigger(
	    loc, "",
	    "{'overall':'action-required','products':" RAMPS(
	        P_NEEDS("'missingDocuments':['id']"),
	        P_REVIEW) ",'requirements':[" REQ_ID(ID_EU) "],'nextAction':'upload-documents'}");

	/* The same upstream answer, narrowed by the caller's country (ramps only: the status
	 * read may already show regulated-transfer verified); without ?country, the country of
	 * the user's last PUT through kycgate (FR) stands in (design §10). */
	snprintf(want, sizeof(want),
	         "{'overall':'action-required','products':{'onramp':%s,'offramp':%s},"
	         "'requirements':[%s],'nextAction':'upload-documents'}",
	         P_NEEDS("'missingDocuments':['id']"), P_NEEDS("'missingDocuments':['id']"),
	         REQ_ID(ID_EU));
	status(loc, "?products=onramp,offramp&country=FR", want);
	snprintf(want, sizeof(want),
	         "{'overall':'action-required','products':{'onramp':%s,'offramp':%s},"
	         "'requirements':[%s],'nextAction':'upload-documents'}",
	         P_NEEDS("'missingDocuments':['id']"), P_NEEDS("'missingDocuments':['id']"),
	         REQ_ID(ID_EU));
	status(loc, "?products=onramp,offramp", want);
	snprintf(want, sizeof(want),
	         "{'overall':'action-required','products':{'onramp':%s,'offramp':%s},"
	         "'requirements':[%s],'nextAction':'upload-documents'}",
	         P_NEEDS("'missingDocuments':['id']"), P_NEEDS("'missingDocuments':['id']"),
	         REQ_ID(ID_ES));
	status(loc, "?products=onramp,offramp&country=ES", want);

	upload(loc, "id-idcard-back", "2032-05-01", 201);
	review_to_verified(loc);
}
END_TEST

/* ---- 4. Non-EU resident with a passport ------------------------------------------------------ */

START_TEST(non_eu_br_passport)
{
	const char *loc = "userId:scen-br-1";
	char want[2048];

	consent(loc);
	put_user_with(loc, "BR", NULL, "Silva", U_FULL_NON_US);
	trigger(loc, "",
	        "{'overall':'action-required','products':" RAMPS(
	            P_NEEDS("'missingDocuments':['id','selfie']"),
	            P_REVIEW) ",'requirements':[" REQ_ID(ID_ELSEWHERE) "," REQ_SELFIE "],"
	                                                               "'nextAction':'upload-"
	                                                               "documents'}");
	snprintf(want, sizeof(want),
	         "{'overall':'action-required','products':{'onramp':%s,'offramp':%s},"
	         "'requirements':[%s,%s],'nextAction':'upload-documents'}",
	         P_NEEDS("'missingDocuments':['id','selfie']"),
	         P_NEEDS("'missingDocuments':['id','selfie']"), REQ_ID(ID_ELSEWHERE), REQ_SELFIE);
	status(loc, "?products=onramp,offramp&country=BR", want);

	/* An ID card does not meet "id" outside the EU/EEA. */
	upload(loc, "id-idcard-front", NULL, 201);
	upload(loc, "id-idcard-back", NULL, 201);
	upload(loc, "selfie-front", NULL, 201);
	trigger(loc, "?country=BR",
	        "{'overall':'action-required','products':" RAMPS(
	            P_NEEDS("'missingDocuments':['id']"),
	            P_REVIEW) ",'requirements':[" REQ_ID(ID_ELSEWHERE) "],'nextAction':'upload-"
	                                                               "documents'}");

	upload(loc, "id-passport", "2033-01-31", 201);
	review_to_verified(loc);
}
END_TEST

/* ---- 5. Sanctioned user -----------------------------------------------------------------------
 */

START_TEST(sanctioned_rejected_final)
{
	const char *loc = "userId:scen-sanctioned-1";
	const char *want = "{'overall':'rejected','products':" ALL3(
	    P_SANCTIONED) ",'requirements':[],'nextAction':'contact-support'}";

	consent(loc);
	put_user_with(loc, "DE", NULL, "Sanctioned", U_FULL_NON_US);
	upload(loc, "id-passport", "2031-01-01", 201);
	upload(loc, "selfie-front", NULL, 201);
	trigger(loc, "", want);
	/* Final: the review delay changes nothing. */
	usleep(REVIEW_WAIT_US);
	status(loc, "", want);
}
END_TEST

/* A document needs its user, as with Crossmint: consent or user data first. */
START_TEST(document_before_user_is_refused)
{
	const char *loc = "userId:scen-doc-first-1";
	char target[256];
	struct json_object *up;
	struct kt_resp r;

	snprintf(target, sizeof(target), "/v1/users/%s/documents/id-passport", loc);
	gw("PUT", target, w_jpeg, jpeg, sizeof(jpeg) - 1, 404, &r);
	it_assert_problem(&r, 404, "upstream-rejected");
	up = json_object_object_get(json_object_object_get(r.json, "upstream"), "body");
	ck_assert_str_eq(kt_str(up, "message"), "User not found");
	kt_resp_free(&r);
	consent(loc);
	upload(loc, "id-passport", NULL, 201);
}
END_TEST

/* ---- 6. Expired document ----------------------------------------------------------------------
 */

START_TEST(expired_document_resubmit)
{
	const char *loc = "userId:scen-expired-1";
	/* regulated-transfer needs only user details: the expired passport does not reject it. */
	const char *reviewing = "{'overall':'in-review','products':" RAMPS(
	    P_EXPIRED, P_REVIEW) ",'requirements':[],'nextAction':'wait','pollAfterSeconds':1}";
	const char *rejected = "{'overall':'rejected','products':" RAMPS(
	    P_EXPIRED, P_VERIFIED) ",'requirements':[],'nextAction':'resubmit'}";

	consent(loc);
	put_user_with(loc, "NL", NULL, "de Vries", U_FULL_NON_US);
	upload(loc, "selfie-front", NULL, 201);
	upload(loc, "id-passport", "2020-01-31", 201);
	trigger(loc, "", reviewing);
	usleep(REVIEW_WAIT_US);
	status(loc, "", rejected);

	/* A valid passport replaces the expired one; the answer changes at the next trigger. */
	upload(loc, "id-passport", "2036-12-31", 200);
	status(loc, "", rejected);
	review_to_verified(loc);
}
END_TEST

/* ---- 7. No consent ----------------------------------------------------------------------------
 */

START_TEST(no_consent_pending_privacy_policy)
{
	const char *loc = "userId:scen-noconsent-1";

	put_user_with(loc, "DE", NULL, "Becker", U_FULL_NON_US);
	upload(loc, "id-passport", "2031-01-01", 201);
	upload(loc, "selfie-front", NULL, 201);
	status(loc, "", NOT_STARTED_ALL);
	trigger(loc, "",
	        "{'overall':'action-required','products':" ALL3(
	            P_PRIVACY) ",'requirements':[{'kind':'consent','code':'privacy-policy','known':"
	                       "true,"
	                       "'neededFor':['onramp','offramp','regulated-transfer']}],"
	                       "'nextAction':'accept-privacy-policy'}");
	consent(loc);
	review_to_verified(loc);
}
END_TEST

/* ---- 8. ?products= ----------------------------------------------------------------------------
 */

START_TEST(products_filter_regulated_transfer)
{
	const char *loc = "userId:scen-products-1";
	const char *ramp =
	    P_NEEDS("'missingData':['kyc-data','due-diligence','verification-history'],"
	            "'missingDocuments':['id','selfie']");
	char want[4096];

	consent(loc);
	put_user_with(loc, "DE", NULL, "Weber", 0);
	trigger(loc, "?products=regulated-transfer",
	        "{'overall':'in-review','products':{'regulated-transfer':" P_REVIEW "},"
	        "'requirements':[],'nextAction':'wait','pollAfterSeconds':1}");
	usleep(REVIEW_WAIT_US);
	status(loc, "?products=regulated-transfer",
	       "{'overall':'verified','products':{'regulated-transfer':" P_VERIFIED "},"
	       "'requirements':[],'nextAction':'none'}");

	/* Unfiltered, the ramps decide. */
	snprintf(want, sizeof(want),
	         "{'overall':'action-required','products':{'onramp':%s,'offramp':%s,"
	         "'regulated-transfer':%s},'requirements':[%s,%s,%s,%s,%s],"
	         "'nextAction':'provide-data'}",
	         ramp, ramp, P_VERIFIED, REQ_DATA("due-diligence"), REQ_DATA("kyc-data"),
	         REQ_DATA("verification-history"), REQ_ID(ID_EU), REQ_SELFIE);
	status(loc, "", want);
	snprintf(want, sizeof(want),
	         "{'overall':'action-required','products':{'onramp':%s,'regulated-transfer':%s},"
	         "'requirements':[{'kind':'data','code':'due-diligence','known':true,"
	         "'neededFor':['onramp']},{'kind':'data','code':'kyc-data','known':true,"
	         "'neededFor':['onramp']},{'kind':'data','code':'verification-history',"
	         "'known':true,'neededFor':['onramp']},{'kind':'document','code':'id','known':true,"
	         "'neededFor':['onramp'],'acceptedDocumentTypes':%s},{'kind':'document',"
	         "'code':'selfie','known':true,'neededFor':['onramp'],"
	         "'acceptedDocumentTypes':[['selfie-front']]}],'nextAction':'provide-data'}",
	         ramp, P_VERIFIED, ID_EU);
	status(loc, "?products=onramp,regulated-transfer&country=DE", want);
	/* A listed product Crossmint does not answer for is unknown. */
	status(loc, "?products=regulated-transfer,onramp-light",
	       "{'overall':'unknown','products':{'regulated-transfer':" P_VERIFIED ","
	       "'onramp-light':{'status':'unknown','upstreamStatus':null,'eligible':false}},"
	       "'requirements':[],'nextAction':'contact-support'}");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("it_scenarios");
	TCase *tc = tcase_create("scenarios");
	int failed;

	tcase_add_unchecked_fixture(tc, it_setup, it_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, us_ca_ssn_and_phone);
	tcase_add_test(tc, us_ca_missing_phone_then_fixed);
	tcase_add_test(tc, us_ny_due_diligence);
	tcase_add_test(tc, us_tx_due_diligence);
	tcase_add_test(tc, eu_fr_idcard);
	tcase_add_test(tc, non_eu_br_passport);
	tcase_add_test(tc, sanctioned_rejected_final);
	tcase_add_test(tc, expired_document_resubmit);
	tcase_add_test(tc, document_before_user_is_refused);
	tcase_add_test(tc, no_consent_pending_privacy_policy);
	tcase_add_test(tc, products_filter_regulated_transfer);
	suite_add_tcase(s, tc);
	failed = kt_run_suite(s);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
