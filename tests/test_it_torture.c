/* Integration, torture builds only (cmake -DKG_TORTURE=ON; scripts/test.sh builds one with the
 * sanitizers): every allocation of one request fails in turn, as curl's torture tests do.
 *
 * For each route of the table the walk sends the same request with "X-Kycgate-Torture: N" for
 * N = 1, 2, ...: the gateway's Nth allocation (malloc, calloc, realloc, strdup, strndup of its own
 * code, include/kycgate/torture.h) from the header phase on returns NULL. Each answer must be the
 * route's normal answer or a 503 `unavailable` problem, the gateway must answer /healthz after it,
 * and the walk ends at the first N whose failure never fired (the gateway writes
 * "kycgate-torture: end fired=0|1" when the request ends). At the end in-flight requests are back
 * to 0, a plain request works, and the gateway exits 0, which in a sanitizer build also means no
 * failure path leaked (LeakSanitizer changes the exit code).
 *
 * Requests go one at a time, so the process-wide countdown counts only this request's
 * allocations (the upstream engine's included). The simulator is a separate process, never
 * armed. A walk is capped at MAX_N (about 4 times the longest request seen), and reaching the cap
 * is a failure: the walk must cover the whole request. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "it_common.h"

#define MAX_N 600

static const char jpeg[] = "\xff\xd8\xff\xe0"
                           "0123456789abcdef";

static const char user_body[] =
    "{\"userDetails\":{\"firstName\":\"Alice\",\"lastName\":\"Martin\","
    "\"dateOfBirth\":\"1990-01-15\",\"countryOfResidence\":\"DE\"},"
    "\"kycData\":{\"nationality\":\"DE\",\"addressOfResidence\":{\"line1\":\"Hauptstr. 1\","
    "\"city\":\"Berlin\",\"postalCode\":\"10115\"},\"email\":\"alice@example.com\","
    "\"identityDocument\":{\"type\":\"passport\",\"number\":\"C01X00T47\","
    "\"issuingCountryCode\":\"DE\"}},"
    "\"dueDiligence\":{\"employmentStatus\":\"full-time\",\"sourceOfFunds\":\"salary\","
    "\"industry\":\"software\"},"
    "\"verificationHistory\":{\"idVerificationTimestamp\":\"2026-01-15T10:30:00Z\","
    "\"livenessVerificationTimestamp\":\"2026-01-15T10:32:00Z\"}}";
/* Only userDetails: the erase guard reads the user first (design §2). */
static const char user_partial[] =
    "{\"userDetails\":{\"firstName\":\"Bob\",\"lastName\":\"Martin\","
    "\"dateOfBirth\":\"1990-01-15\",\"countryOfResidence\":\"DE\"}}";
static const char bad_user[] = "{\"userDetails\":{\"x\":1}}";
static const char consent[] =
    "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-06-01T12:00:00+02:00\"}";
static const char selfie_json[] = "{\"data\":\"iVBORw0KGgowMTIzNDU2Nzg5YWJjZGVm\"}";
static const char wallet[] = "{\"chain\":\"base-sepolia\"}";

static const char *const w[] = {IT_WRITER, IT_JSON, NULL};
static const char *const wjpeg[] = {IT_WRITER, "Content-Type: image/jpeg", NULL};
static const char *const wr[] = {IT_WRITER, NULL};
static const char *const rd[] = {IT_READER, NULL};

/* A complete user ("tt-full"), in review after a trigger, and its passport's document path. */
static char docpath[256];

/* One exchange that may fail at the transport (a connection closed without an answer is what
 * the walk must catch, not a reason to abort): returns curl's code, r filled as by kt_http. */
static CURLcode exchange(const char *method, const char *target, const char *const *hdrs,
                         const char *extra, const char *body, size_t len, struct kt_resp *r)
{
	const char *all[8];
	size_t n = 0;

	while (hdrs != NULL && hdrs[n] != NULL && n < 6) {
		all[n] = hdrs[n];
		n++;
	}
	all[n++] = extra;
	all[n] = NULL;
	return kt_http_try(it_gw.port, method, target, all, body, len, r);
}

/* A plain request that must answer status. */
static void must(const char *method, const char *target, const char *const *hdrs, const char *body,
                 size_t len, long status)
{
	struct kt_resp r;

	kt_http(it_gw.port, method, target, hdrs, body, len, &r);
	ck_assert_msg(r.status == status, "%s %s: %ld, wanted %ld: %s", method, target, r.status,
	              status, r.body);
	kt_resp_free(&r);
}

/* The number of "kycgate-torture: end" lines in the gateway's output, and the last one's fired
 * value. */
static int ends(int *fired)
{
	char *log = kt_read_log(&it_gw), *p = log;
	int n = 0;

	*fired = -1;
	while ((p = strstr(p, "kycgate-torture: end fired=")) != NULL) {
		p += strlen("kycgate-torture: end fired=");
		*fired = *p == '1';
		n++;
	}
	free(log);
	return n;
}

/* The end of the gateway's output, to see why an answer was wrong. */
static void log_tail(void)
{
	char *log = kt_read_log(&it_gw);
	size_t n = strlen(log);

	if (getenv("KT_TORTURE_FULL_LOG") != NULL) /* when debugging */
		n = 0;
	fprintf(stderr, "gateway output, last lines:\n%s\n", log + (n > 6000 ? n - 6000 : 0));
	free(log);
}

/* Waits until the armed request ended (its end line is the (before + 1)th): whether it fired. */
static bool wait_end(int before, const char *what, unsigned long n)
{
	struct timespec ts = {0, 5 * 1000 * 1000};
	int fired, i;

	for (i = 0; i < 4000; i++) {
		if (ends(&fired) > before)
			return fired == 1;
		nanosleep(&ts, NULL);
	}
	log_tail();
	ck_abort_msg("%s, allocation %lu failing: the armed request never ended", what, n);
	return false;
}

struct route {
	const char *name, *method, *target;
	const char *const *hdrs;
	const char *body;
	size_t len;
	long status;         /* the normal answer */
	void (*setup)(void); /* before each attempt, unarmed (may be NULL) */
	const char *problem; /* a normal answer that is a problem (its code), or NULL */
};

static void wallet_linked(void)
{
	must("PUT", "/v1/users/userId:tt-full/wallets/0xAbC123", w, wallet, strlen(wallet), 200);
}

static void in_review(void)
{
	must("POST", "/v1/users/userId:tt-full/verification", wr, NULL, 0, 200);
}

static void partial_user(void)
{
	struct kt_resp r;

	/* 201 the first time (created), 200 after. */
	kt_http(it_gw.port, "PUT", "/v1/users/userId:tt-part?replace=true", w, user_partial,
	        strlen(user_partial), &r);
	ck_assert_msg(r.status == 200 || r.status == 201, "partial user: %ld", r.status);
	kt_resp_free(&r);
}

static const struct route routes[] = {
    {"healthz", "GET", "/healthz", NULL, NULL, 0, 200, NULL, NULL},
    {"readyz", "GET", "/readyz", NULL, NULL, 0, 200, NULL, NULL},
    {"openapi", "GET", "/openapi.yaml", NULL, NULL, 0, 200, NULL, NULL},
    {"metrics", "GET", "/metrics", NULL, NULL, 0, 200, NULL, NULL},
    {"not found", "GET", "/v1/nothing", rd, NULL, 0, 404, NULL, "not-found"},
    {"unauthorized", "GET", "/v1/users/userId:tt-full", NULL, NULL, 0, 401, NULL, "unauthorized"},
    {"invalid body", "PUT", "/v1/users/userId:tt-full", w, bad_user, sizeof(bad_user) - 1, 400,
     NULL, "invalid-request"},
    {"user PUT", "PUT", "/v1/users/userId:tt-full", w, user_body, sizeof(user_body) - 1, 200, NULL,
     NULL},
    {"user PUT, erase guard read", "PUT", "/v1/users/userId:tt-part", w, user_partial,
     sizeof(user_partial) - 1, 200, partial_user, NULL},
    {"user GET", "GET", "/v1/users/userId:tt-full", rd, NULL, 0, 200, NULL, NULL},
    {"upstream 404", "GET", "/v1/users/userId:tt-nobody", rd, NULL, 0, 404, NULL,
     "upstream-rejected"},
    {"consent PUT", "PUT", "/v1/users/userId:tt-full/consent", w, consent, sizeof(consent) - 1, 200,
     NULL, NULL},
    {"document PUT raw", "PUT", "/v1/users/userId:tt-full/documents/id-passport", wjpeg, jpeg,
     sizeof(jpeg) - 1, 200, NULL, NULL},
    {"document PUT JSON", "PUT", "/v1/users/userId:tt-full/documents/selfie-front", w, selfie_json,
     sizeof(selfie_json) - 1, 200, NULL, NULL},
    {"document GET", "GET", docpath, rd, NULL, 0, 200, NULL, NULL},
    {"verification POST", "POST", "/v1/users/userId:tt-full/verification", wr, NULL, 0, 200, NULL,
     NULL},
    {"verification GET", "GET", "/v1/users/userId:tt-full/verification?products=onramp", rd, NULL,
     0, 200, NULL, NULL},
    {"verification GET ?wait=1 in review", "GET", "/v1/users/userId:tt-full/verification?wait=1",
     rd, NULL, 0, 200, in_review, NULL},
    {"wallet PUT", "PUT", "/v1/users/userId:tt-full/wallets/0xAbC123", w, wallet,
     sizeof(wallet) - 1, 200, NULL, NULL},
    {"wallet GET", "GET", "/v1/users/userId:tt-full/wallets/0xAbC123", rd, NULL, 0, 200,
     wallet_linked, NULL},
    {"wallet DELETE", "DELETE", "/v1/users/userId:tt-full/wallets/0xAbC123", wr, NULL, 0, 204,
     wallet_linked, NULL},
};

/* A problem answer with code, as problem+json. */
static bool is_problem(const struct kt_resp *r, const char *code)
{
	char type[128], ct[128];
	const char *t = r->json ? kt_str(r->json, "type") : NULL;

	snprintf(type, sizeof(type), "urn:kycgate:problem:%s", code);
	return t != NULL && strcmp(t, type) == 0 && kt_header(r, "Content-Type", ct, sizeof(ct)) &&
	       strcmp(ct, "application/problem+json") == 0;
}

/* The normal answer, or 503 unavailable. */
static void check_answer(const struct route *rt, unsigned long n, CURLcode rc,
                         const struct kt_resp *r)
{
	char ct[128];

	if (rc != CURLE_OK || (r->status != 503 && r->status != rt->status))
		log_tail();
	ck_assert_msg(rc == CURLE_OK, "%s, allocation %lu failing: no answer (%s)", rt->name, n,
	              curl_easy_strerror(rc));
	if (r->status == 503) {
		ck_assert_msg(is_problem(r, "unavailable"),
		              "%s, allocation %lu failing: 503 but not an unavailable problem: %s",
		              rt->name, n, r->body);
		return;
	}
	ck_assert_msg(r->status == rt->status,
	              "%s, allocation %lu failing: %ld, wanted %ld or 503: %s", rt->name, n,
	              r->status, rt->status, r->body);
	if (kt_header(r, "Content-Type", ct, sizeof(ct)) && strstr(ct, "json") != NULL)
		ck_assert_msg(r->json != NULL,
		              "%s, allocation %lu failing: a body that is not JSON: %s", rt->name,
		              n, r->body);
	if (rt->problem != NULL)
		ck_assert_msg(is_problem(r, rt->problem), "%s, allocation %lu failing: %s",
		              rt->name, n, r->body);
}

START_TEST(walk)
{
	const struct route *rt = &routes[_i];
	struct kt_resp r;
	unsigned long n;
	char arm[64];
	CURLcode rc;
	int fired, before;
	bool hit = true;
	const char *only = getenv("KT_TORTURE_ONLY"); /* a part of route names, when debugging */

	if (only != NULL && strstr(rt->name, only) == NULL)
		return;
	for (n = 1; n <= MAX_N && hit; n++) {
		if (rt->setup != NULL)
			rt->setup();
		before = ends(&fired);
		snprintf(arm, sizeof(arm), "X-Kycgate-Torture: %lu", n);
		rc = exchange(rt->method, rt->target, rt->hdrs, arm, rt->body, rt->len, &r);
		hit = wait_end(before, rt->name, n);
		check_answer(rt, n, rc, &r);
		kt_resp_free(&r);
		must("GET", "/healthz", NULL, NULL, 0, 200);
	}
	ck_assert_msg(!hit, "%s: still failing allocations at N = %d; raise MAX_N", rt->name,
	              MAX_N);
	fprintf(stderr, "torture: %s: %lu allocations walked\n", rt->name, n - 2);
}
END_TEST

/* After every walk: nothing in flight, and a plain request works. */
START_TEST(after)
{
	struct kt_resp r;

	if (kt_http_try(it_gw.port, "GET", "/metrics", NULL, NULL, 0, &r) != CURLE_OK)
		log_tail();
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(r.status, 200);
	/* This /metrics request is the one in flight. */
	ck_assert(kt_sample(r.body, "kycgate_inflight_requests") == 1);
	kt_resp_free(&r);
	must("GET", "/v1/users/userId:tt-full", rd, NULL, 0, 200);
}
END_TEST

/* The user every route works on: complete (consent, data, passport, selfie), and the passport's
 * document id for the document GET. */
static void setup(void)
{
	struct kt_resp r;
	const char *id;

	it_setup();
	must("PUT", "/v1/users/userId:tt-full/consent", w, consent, strlen(consent), 200);
	must("PUT", "/v1/users/userId:tt-full", w, user_body, strlen(user_body), 200);
	kt_http(it_gw.port, "PUT", "/v1/users/userId:tt-full/documents/id-passport", wjpeg, jpeg,
	        sizeof(jpeg) - 1, &r);
	ck_assert_int_eq(r.status, 201);
	id = kt_str(r.json, "id");
	ck_assert_ptr_nonnull(id);
	snprintf(docpath, sizeof(docpath), "/v1/documents/%s", id);
	kt_resp_free(&r);
	must("PUT", "/v1/users/userId:tt-full/documents/selfie-front", w, selfie_json,
	     strlen(selfie_json), 201);
}

/* it_teardown(), but the gateway's last output is shown when it exits non-zero (LeakSanitizer's
 * report, in a sanitizer build), and the simulator is stopped whatever happened. */
static void teardown(void)
{
	FILE *f = fopen(it_gw.log_path, "r"); /* still readable once kt_stop() unlinked it */
	int gw = kt_stop(&it_gw), sim = kt_stop(&it_sim);
	char buf[4096];
	size_t n;

	if (gw != 0 && f != NULL) {
		fprintf(stderr, "the gateway exited %d; its output from the end:\n", gw);
		if (fseek(f, -16384, SEEK_END) != 0)
			rewind(f);
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			fwrite(buf, 1, n, stderr);
	}
	if (f != NULL)
		fclose(f);
	curl_global_cleanup();
	ck_assert_msg(gw == 0, "the gateway exited %d (under the sanitizers: a leak)", gw);
	ck_assert_int_eq(sim, 0);
}

int main(void)
{
	Suite *s = suite_create("it_torture");
	TCase *tc = tcase_create("torture");
	int failed;

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, walk, 0, (int)(sizeof(routes) / sizeof(routes[0])));
	tcase_add_test(tc, after);
	suite_add_tcase(s, tc);
	failed = kt_run_suite(s);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
