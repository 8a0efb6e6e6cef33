/* Unit tests of the routes (src/handlers.c and src/routes_*.c) on requests built by hand, without
 * a socket or an engine: each route's success (what would go upstream: method, path, kind, body;
 * and the reply its answer becomes) and its main refusals (parameters, query, body, the upstream
 * answer mapped to a problem). */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "kycgate/answer.h"
#include "req_common.h"

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
static const char details_only[] =
    "{\"userDetails\":{\"firstName\":\"Alice\",\"lastName\":\"Martin\","
    "\"dateOfBirth\":\"1990-01-15\",\"countryOfResidence\":\"DE\"}}";
static const char review[] =
    "{\"eligibility\":[{\"type\":\"onramp\",\"status\":\"pending-review\"},"
    "{\"type\":\"offramp\",\"status\":\"verified\"}]}";
static const char verified[] = "{\"eligibility\":[{\"type\":\"onramp\",\"status\":\"verified\"},"
                               "{\"type\":\"offramp\",\"status\":\"verified\"}]}";
static const char png[] = "\x89PNG\r\n\x1a\n"
                          "0123456789abcdef";

/* The header phase passes, then the handler runs: its result (true: a call is prepared). */
static bool run(struct rt *t)
{
	ck_assert_msg(kg_handle_headers(&t->req), "%s", t->req.reply.body ? t->req.reply.body : "");
	return kg_handle_request(&t->req);
}

/* A JSON request through the header phase and the handler. */
static bool run_json(struct rt *t, const char *body)
{
	rt_body(t, "application/json", body, strlen(body));
	return run(t);
}

/* The call prepared for the engine. */
static void assert_call(const struct rt *t, const char *method, const char *path,
                        enum kg_call_kind kind)
{
	ck_assert_str_eq(t->req.call->method, method);
	ck_assert_str_eq(t->req.call->path, path);
	ck_assert_int_eq(t->req.call->kind, kind);
	ck_assert_str_eq(t->req.call->request_id, t->req.request_id);
}

/* The call's body holds text. */
static void assert_up_body_has(const struct rt *t, const char *text)
{
	ck_assert_ptr_nonnull(t->req.call->body);
	ck_assert_msg(strstr(t->req.call->body, text) != NULL, "%.*s", (int)t->req.call->body_len,
	              t->req.call->body);
}

/* A status read answered by the engine with a shared answer. */
static void status_answer(struct rt *t, long status, const char *body)
{
	kg_up_call_cleanup(t->req.call);
	t->req.call->result = KG_UP_OK;
	t->req.call->status = status;
	t->req.call->answer = kg_answer_new(status, strdup(body), strlen(body), 0, time(NULL));
	ck_assert_ptr_nonnull(t->req.call->answer);
}

/* A request refused by the handler with this problem, before any call. */
static void refused(const char *method, const char *target, const char *ctype, const char *body,
                    int status, const char *code, const char *detail)
{
	struct rt t;

	rt_init(&t, method, target, RT_WRITER);
	if (body != NULL)
		rt_body(&t, ctype, body, strlen(body));
	ck_assert_msg(!run(&t), "%s %s was not refused", method, target);
	rt_problem(&t, status, code);
	if (detail != NULL)
		rt_detail_has(&t, detail);
	ck_assert(t.req.call == NULL || t.req.call->method == NULL);
	rt_free(&t);
}

/* ---- users ------------------------------------------------------------------------------------
 */

START_TEST(user_put)
{
	struct rt t;

	rt_init(&t, "PUT", "/v1/users/userId:a", RT_WRITER);
	ck_assert(run_json(&t, user_body));
	assert_call(&t, "PUT", "/users/userId:a", KG_CALL_WRITE);
	ck_assert_str_eq(t.req.call->user_key, "userId:a");
	assert_up_body_has(&t, "\"firstName\":\"Alice\"");
	ck_assert(!t.req.erase_check);
	/* Crossmint's answer passes through as it came. */
	rt_upstream(&t, 201, "{\"id\":\"u1\"}");
	ck_assert(!kg_handle_upstream(&t.req));
	ck_assert_int_eq(t.req.reply.status, 201);
	ck_assert_str_eq(t.req.reply.content_type, "application/json");
	ck_assert_str_eq(t.req.reply.body, "{\"id\":\"u1\"}");
	rt_free(&t);
}
END_TEST

START_TEST(user_put_erase_guard)
{
	struct rt t;

	/* A body that leaves out sections reads the user first; held sections give 409. */
	rt_init(&t, "PUT", "/v1/users/userId:a", RT_WRITER);
	ck_assert(run_json(&t, details_only));
	ck_assert(t.req.erase_check);
	assert_call(&t, "GET", "/users/userId:a", KG_CALL_PLAIN);
	ck_assert_ptr_null(t.req.call->body);
	rt_upstream(&t, 200, "{\"userDetails\":true,\"kycData\":true,\"dueDiligence\":false}");
	ck_assert(!kg_handle_upstream(&t.req));
	rt_problem(&t, 409, "would-erase");
	rt_detail_has(&t, "kycData");
	ck_assert(strstr(t.req.reply.body, "dueDiligence") == NULL);
	rt_free(&t);

	/* No such user: the PUT follows, with the body. */
	rt_init(&t, "PUT", "/v1/users/userId:a", RT_WRITER);
	ck_assert(run_json(&t, details_only));
	rt_upstream(&t, 404, "{\"error\":\"not found\"}");
	ck_assert(kg_handle_upstream(&t.req));
	ck_assert(!t.req.erase_check);
	assert_call(&t, "PUT", "/users/userId:a", KG_CALL_WRITE);
	assert_up_body_has(&t, "\"userDetails\"");
	rt_free(&t);

	/* ?replace=true: no read. */
	rt_init(&t, "PUT", "/v1/users/userId:a?replace=true", RT_WRITER);
	ck_assert(run_json(&t, details_only));
	ck_assert(!t.req.erase_check);
	assert_call(&t, "PUT", "/users/userId:a", KG_CALL_WRITE);
	rt_free(&t);
}
END_TEST

START_TEST(user_refusals)
{
	refused("PUT", "/v1/users/userId:a?replace=yes", "application/json", user_body, 400,
	        "invalid-request", "replace: true or false");
	refused("PUT", "/v1/users/userId:a?replace=true&replace=true", "application/json",
	        user_body, 400, "invalid-request", "a query parameter is given twice");
	refused("PUT", "/v1/users/userId:a?force=1", "application/json", user_body, 400,
	        "invalid-request", "unknown query parameter force (this route takes replace)");
	refused("PUT", "/v1/users/userId:a", "application/json", "{\"userDetails\":", 400,
	        "invalid-request", "(line 1, column");
	refused("PUT", "/v1/users/userId:a", "application/json", "", 400, "invalid-request",
	        "the body is empty");
	refused("PUT", "/v1/users/userId:a", "application/json", "{\"nope\":1}", 400,
	        "invalid-request", "the body breaks the rules listed in errors");
	refused("GET", "/v1/users/alice", NULL, NULL, 400, "invalid-request",
	        "a locator is prefix:value");
	refused("GET", "/v1/users/userId:a%zz", NULL, NULL, 400, "invalid-request",
	        "bad percent-encoding");
	refused("GET", "/v1/users/userId:a?x=1", NULL, NULL, 400, "invalid-request",
	        "this route takes none");
}
END_TEST

START_TEST(user_get_and_upstream_problems)
{
	static const struct {
		enum kg_up_result result;
		long status;
		const char *body;
		int want;
		const char *code;
	} t[] = {
	    {KG_UP_OK, 200, "{\"id\":\"u1\"}", 200, NULL},
	    {KG_UP_OK, 404, "{\"message\":\"no\"}", 404, "upstream-rejected"},
	    {KG_UP_OK, 401, "{}", 502, "upstream-auth"},
	    {KG_UP_OK, 429, "{}", 429, "rate-limited"},
	    {KG_UP_OK, 500, "{}", 502, "upstream-error"},
	    {KG_UP_OK, 302, NULL, 502, "upstream-error"},
	    {KG_UP_OK, 200, "[1]", 502, "upstream-invalid-response"},
	    {KG_UP_TIMEOUT, 0, NULL, 504, "upstream-timeout"},
	    {KG_UP_CONNECT, 0, NULL, 502, "upstream-error"},
	    {KG_UP_TOO_LARGE, 0, NULL, 502, "upstream-invalid-response"},
	    {KG_UP_SHUTDOWN, 0, NULL, 503, "unavailable"},
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct rt r;

		rt_init(&r, "GET", "/v1/users/email:a%40b.c", RT_READER);
		ck_assert(run(&r));
		assert_call(&r, "GET", "/users/email:a@b.c", KG_CALL_PLAIN);
		ck_assert_ptr_null(r.req.call->body);
		rt_upstream(&r, t[i].status, t[i].body);
		r.req.call->result = t[i].result;
		ck_assert(!kg_handle_upstream(&r.req));
		if (t[i].code != NULL)
			rt_problem(&r, t[i].want, t[i].code);
		else
			ck_assert_str_eq(r.req.reply.body, t[i].body);
		ck_assert_int_eq(r.req.reply.status, t[i].want);
		rt_free(&r);
	}
}
END_TEST

START_TEST(consent_put)
{
	struct rt t;

	rt_init(&t, "PUT", "/v1/users/userId:a/consent", RT_WRITER);
	ck_assert(
	    run_json(&t, "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-06-01T12:00:00Z\"}"));
	assert_call(&t, "PUT", "/users/userId:a/legal-documents", KG_CALL_WRITE);
	assert_up_body_has(&t, "privacy-policy");
	rt_upstream(&t, 200, NULL);
	ck_assert(!kg_handle_upstream(&t.req));
	ck_assert_int_eq(t.req.reply.status, 204);
	rt_free(&t);

	refused("PUT", "/v1/users/userId:a/consent", "application/json", "{\"type\":1}", 400,
	        "invalid-request", "errors");
}
END_TEST

/* ---- documents --------------------------------------------------------------------------------
 */

START_TEST(document_put)
{
	struct rt t;

	rt_init(&t, "PUT", "/v1/users/userId:a/documents/id-passport", RT_WRITER);
	rt_body(&t, "image/png", png, sizeof(png) - 1);
	ck_assert(run(&t));
	assert_call(&t, "POST", "/documents", KG_CALL_WRITE);
	ck_assert_str_eq(t.req.call->user_key, "userId:a");
	assert_up_body_has(&t, "data:image/png;base64,iVBORw0KGgo");
	assert_up_body_has(&t, "userId:a");
	rt_free(&t);

	refused("PUT", "/v1/users/userId:a/documents/id-ssn", "image/png", png, 400,
	        "invalid-request", "an SSN is not a document");
	refused("PUT", "/v1/users/userId:a/documents/passport", "image/png", png, 400,
	        "invalid-request", "documentType: must be one of");
	refused("PUT", "/v1/users/userId:a/documents/id-passport?expiresAt=%zz", "image/png", png,
	        400, "invalid-request", "expiresAt: not a date");
	refused("PUT", "/v1/users/userId:a/documents/id-passport", "image/png", "GIF89a", 415,
	        "unsupported-media-type", NULL);
}
END_TEST

START_TEST(document_get)
{
	struct rt t;

	rt_init(&t, "GET", "/v1/documents/doc_1-a", RT_READER);
	ck_assert(run(&t));
	assert_call(&t, "GET", "/documents/doc_1-a", KG_CALL_PLAIN);
	ck_assert_str_eq(t.req.call->user_key, "");
	rt_free(&t);

	refused("GET", "/v1/documents/a.b", NULL, NULL, 400, "invalid-request",
	        "documentId: must be 1 to 128");
}
END_TEST

/* ---- verification -----------------------------------------------------------------------------
 */

START_TEST(verification_get)
{
	struct rt t;

	rt_init(&t, "GET", "/v1/users/userId:a/verification?products=onramp&products=offramp",
	        RT_READER);
	ck_assert(run(&t));
	assert_call(&t, "GET", "/users/userId:a/identity-verification", KG_CALL_STATUS_READ);
	ck_assert_uint_ne(t.req.products, 0);
	ck_assert(!t.req.wait_given);
	status_answer(&t, 200, review);
	ck_assert(!kg_handle_upstream(&t.req));
	ck_assert_int_eq(t.req.reply.status, 200);
	ck_assert_msg(strstr(t.req.reply.body, "\"overall\"") != NULL, "%s", t.req.reply.body);
	rt_free(&t);

	/* Crossmint's 404 is the caller's 404, with Crossmint's answer attached. */
	rt_init(&t, "GET", "/v1/users/userId:a/verification", RT_READER);
	ck_assert(run(&t));
	status_answer(&t, 404, "{\"message\":\"no user\"}");
	ck_assert(!kg_handle_upstream(&t.req));
	rt_problem(&t, 404, "upstream-rejected");
	rt_detail_has(&t, "no user");
	rt_free(&t);
}
END_TEST

START_TEST(verification_query_refusals)
{
	static const char V[] = "/v1/users/userId:a/verification";
	static const struct {
		const char *query, *detail;
	} t[] = {
	    {"?products=bogus", "products: a comma-separated list"},
	    {"?products=onramp&products=", "products: a comma-separated list"},
	    {"?country=de", "country: an ISO 3166-1 alpha-2 code"},
	    {"?country=DE&country=FR", "a query parameter is given twice"},
	    {"?wait=-1", "wait: an integer number of seconds"},
	    {"?wait=", "wait: an integer number of seconds"},
	    {"?waiting=1", "unknown query parameter waiting (this route takes products, country, "
	                   "wait)"},
	    {"?a%20b=1&wait=x", "an unknown query parameter (this route takes"},
	};
	char target[128];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(target, sizeof(target), "%s%s", V, t[i].query);
		refused("GET", target, NULL, NULL, 400, "invalid-request", t[i].detail);
		refused("POST", target, NULL, NULL, 400, "invalid-request", t[i].detail);
	}
}
END_TEST

START_TEST(verification_long_poll)
{
	struct rt t;
	bool in_review = false;

	/* ?wait over verification.max_wait_s is clamped; an answer in review makes the request a
	 * waiter on its user, holding that answer as the one it has seen. */
	rt_init(&t, "GET", "/v1/users/userId:a/verification?wait=999&country=DE", RT_READER);
	ck_assert(run(&t));
	ck_assert(t.req.wait_given);
	ck_assert_uint_eq(t.req.wait_s, 30);
	ck_assert_str_eq(t.req.country, "DE");
	ck_assert(t.req.waiting_counted);
	status_answer(&t, 200, review);
	ck_assert(kg_handle_upstream(&t.req));
	ck_assert_int_eq(t.req.reply.status, 0);
	ck_assert_ptr_nonnull(t.req.latest);
	/* A waiter holds no call while it waits: only the small struct kg_up_wait. */
	ck_assert_ptr_null(t.req.call);
	ck_assert(t.req.in_wait);
	ck_assert_ptr_eq(t.req.wait.seen, t.req.latest);
	ck_assert_uint_eq(t.req.wait.deadline_ms, t.req.wait_deadline_ms);
	ck_assert_str_eq(t.req.wait.user_key, "userId:a");
	ck_assert_str_eq(t.req.wait.path, "/users/userId:a/identity-verification");
	ck_assert_str_eq(t.req.wait.request_id, t.req.request_id);
	/* The engine refuses the wait: the latest state answers. */
	kg_reply_refused(&t.req);
	ck_assert_int_eq(t.req.reply.status, 200);
	ck_assert(kg_verification_view(&t.req, t.req.latest, &in_review) && in_review);
	kg_reply_clear(&t.req.reply);
	/* A read observed another answer: the wait's outcome becomes a status read's, answered. */
	t.req.wait.result = KG_UP_OK;
	t.req.wait.status = 200;
	t.req.wait.shared = true;
	t.req.wait.answer = kg_answer_new(200, strdup(verified), strlen(verified), 0, time(NULL));
	ck_assert_ptr_nonnull(t.req.wait.answer);
	ck_assert(kg_handle_wait_end(&t.req));
	ck_assert(!t.req.in_wait);
	ck_assert_ptr_null(t.req.wait.answer);
	assert_call(&t, "GET", "/users/userId:a/identity-verification", KG_CALL_STATUS_READ);
	ck_assert_str_eq(t.req.call->user_key, "userId:a");
	ck_assert(!kg_handle_upstream(&t.req));
	ck_assert_int_eq(t.req.reply.status, 200);
	ck_assert_msg(strstr(t.req.reply.body, "\"overall\":\"verified\"") != NULL, "%s",
	              t.req.reply.body);
	rt_free(&t);
}
END_TEST

START_TEST(verification_waiters_per_client)
{
	static const char yaml[] = "crossmint:\n"
	                           "  environment: staging\n"
	                           "  base_url: \"http://127.0.0.1:9\"\n"
	                           "  api_key: \"sk_staging_unit0123456789abcdef\"\n"
	                           "verification:\n"
	                           "  max_waiting_per_client: 1\n"
	                           "auth:\n"
	                           "  mode: tokens\n"
	                           "  clients:\n"
	                           "    - name: waiter\n"
	                           "      token: \"waiter-token-0123456789abcdef\"\n"
	                           "      scopes: [users.read]\n";
	static const char V[] = "/v1/users/userId:a/verification?wait=5";
	struct rt a, b;

	rt_init_yaml(&a, yaml, "GET", V, "Bearer waiter-token-0123456789abcdef");
	rt_init_yaml(&b, yaml, "GET", V, "Bearer waiter-token-0123456789abcdef");
	ck_assert(run(&a));
	ck_assert(!run(&b));
	rt_problem(&b, 503, "unavailable");
	rt_detail_has(&b, "too many long-poll requests");
	rt_free(&b);
	rt_free(&a); /* gives its place back */
	rt_init_yaml(&b, yaml, "GET", V, "Bearer waiter-token-0123456789abcdef");
	ck_assert(run(&b));
	rt_free(&b);
}
END_TEST

START_TEST(verification_trigger)
{
	struct rt t;

	rt_init(&t, "POST", "/v1/users/userId:a/verification", RT_WRITER);
	ck_assert(run(&t));
	assert_call(&t, "PUT", "/users/userId:a/identity-verification", KG_CALL_WRITE);
	ck_assert_ptr_null(t.req.call->body);
	/* An answer without eligibility is followed by one status read, never refused for budget.
	 */
	rt_upstream(&t, 200, "{}");
	ck_assert(kg_handle_upstream(&t.req));
	ck_assert(t.req.followup_read);
	ck_assert_int_eq(t.req.call->kind, KG_CALL_STATUS_READ);
	ck_assert_str_eq(t.req.call->method, "GET");
	ck_assert(t.req.call->force_budget);
	status_answer(&t, 200, review);
	ck_assert(!kg_handle_upstream(&t.req));
	ck_assert_int_eq(t.req.reply.status, 200);
	rt_free(&t);

	/* An answer with eligibility is normalized at once. */
	rt_init(&t, "POST", "/v1/users/userId:a/verification", RT_WRITER);
	ck_assert(run(&t));
	rt_upstream(&t, 200, review);
	ck_assert(!kg_handle_upstream(&t.req));
	ck_assert_int_eq(t.req.reply.status, 200);
	ck_assert_msg(strstr(t.req.reply.body, "\"overall\"") != NULL, "%s", t.req.reply.body);
	rt_free(&t);

	rt_init(&t, "POST", "/v1/users/userId:a/verification", RT_WRITER);
	ck_assert(run(&t));
	rt_upstream(&t, 400, "{\"message\":\"missing data\"}");
	ck_assert(!kg_handle_upstream(&t.req));
	rt_problem(&t, 400, "upstream-rejected");
	rt_free(&t);
}
END_TEST

/* ---- wallets ----------------------------------------------------------------------------------
 */

START_TEST(wallets)
{
	static const char P[] = "/v1/users/userId:a/wallets/0xAbC123";
	static const char UP[] = "/users/userId:a/linked-wallets/0xAbC123";
	struct rt t;

	rt_init(&t, "PUT", P, RT_WRITER);
	ck_assert(run_json(&t, "{\"chain\":\"base-sepolia\"}"));
	assert_call(&t, "PUT", UP, KG_CALL_WRITE);
	assert_up_body_has(&t, "base-sepolia");
	rt_free(&t);

	rt_init(&t, "GET", P, RT_READER);
	ck_assert(run(&t));
	assert_call(&t, "GET", UP, KG_CALL_PLAIN);
	rt_free(&t);

	rt_init(&t, "DELETE", P, RT_WRITER);
	ck_assert(run(&t));
	assert_call(&t, "DELETE", UP, KG_CALL_WRITE);
	rt_upstream(&t, 204, NULL);
	ck_assert(!kg_handle_upstream(&t.req));
	ck_assert_int_eq(t.req.reply.status, 204);
	rt_free(&t);

	refused("PUT", P, "application/json", "[1]", 400, "invalid-request", "errors");
	refused("GET", "/v1/users/userId:a/wallets/0x-1", NULL, NULL, 400, "invalid-request",
	        "address: must be 1 to 128");
	refused("GET", "/v1/users/userId:a/wallets/..", NULL, NULL, 400, "invalid-request",
	        "address: must be 1 to 128");
}
END_TEST

/* ---- local ------------------------------------------------------------------------------------
 */

START_TEST(local_routes)
{
	struct rt t;

	rt_init(&t, "GET", "/healthz", NULL);
	ck_assert(!run(&t));
	ck_assert_int_eq(t.req.reply.status, 200);
	ck_assert_str_eq(t.req.reply.body, "{\"status\":\"ok\"}");
	ck_assert_ptr_null(t.req.call); /* a local route makes no upstream call */
	rt_free(&t);

	rt_init(&t, "GET", "/readyz", NULL);
	ck_assert(!run(&t));
	ck_assert_int_eq(t.req.reply.status, 200);
	ck_assert_str_eq(t.req.reply.body, "{\"status\":\"ready\",\"environment\":\"staging\"}");
	rt_free(&t);

	rt_init(&t, "GET", "/readyz", NULL);
	atomic_store(&t.gw.draining, true);
	ck_assert(!run(&t));
	ck_assert_int_eq(t.req.reply.status, 503);
	ck_assert(strstr(t.req.reply.body, "draining") != NULL);
	rt_free(&t);

	rt_init(&t, "GET", "/openapi.yaml", NULL);
	ck_assert(!run(&t));
	ck_assert_int_eq(t.req.reply.status, 200);
	ck_assert_str_eq(t.req.reply.content_type, "application/yaml");
	ck_assert_str_eq(t.req.reply.body, "openapi: 3.1.0\n");
	rt_free(&t);

	rt_init(&t, "GET", "/metrics", NULL);
	ck_assert(!run(&t));
	ck_assert_int_eq(t.req.reply.status, 200);
	ck_assert(strncmp(t.req.reply.content_type, "text/plain", 10) == 0);
	rt_free(&t);
}
END_TEST

START_TEST(metrics_disabled)
{
	static const char yaml[] = "crossmint:\n"
	                           "  environment: staging\n"
	                           "  base_url: \"http://127.0.0.1:9\"\n"
	                           "  api_key: \"sk_staging_unit0123456789abcdef\"\n"
	                           "metrics:\n"
	                           "  enabled: false\n"
	                           "auth:\n"
	                           "  mode: tokens\n"
	                           "  clients:\n"
	                           "    - name: r\n"
	                           "      token: \"reader-token-0123456789abcdef\"\n"
	                           "      scopes: [users.read]\n";
	struct rt t;

	rt_init_yaml(&t, yaml, "GET", "/metrics", NULL);
	ck_assert(!run(&t));
	rt_problem(&t, 404, "not-found");
	rt_detail_has(&t, "metrics are disabled");
	rt_free(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("routes");
	TCase *tc = tcase_create("routes");

	tcase_add_test(tc, user_put);
	tcase_add_test(tc, user_put_erase_guard);
	tcase_add_test(tc, user_refusals);
	tcase_add_test(tc, user_get_and_upstream_problems);
	tcase_add_test(tc, consent_put);
	tcase_add_test(tc, document_put);
	tcase_add_test(tc, document_get);
	tcase_add_test(tc, verification_get);
	tcase_add_test(tc, verification_query_refusals);
	tcase_add_test(tc, verification_long_poll);
	tcase_add_test(tc, verification_waiters_per_client);
	tcase_add_test(tc, verification_trigger);
	tcase_add_test(tc, wallets);
	tcase_add_test(tc, local_routes);
	tcase_add_test(tc, metrics_disabled);
	suite_add_tcase(s, tc);
	return kt_run_suite(s) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
