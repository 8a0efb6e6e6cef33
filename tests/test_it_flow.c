/* Integration: the whole KYC flow through the real gateway and the standalone simulator, and the
 * exact upstream request line and body of every route as the simulator received them. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "it_common.h"

static const char jpeg[] = "\xff\xd8\xff\xe0"
                           "0123456789abcdef";
static const char png[] = "\x89PNG\r\n\x1a\n"
                          "0123456789abcdef";

static const char eu_user[] =
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

/* The last request the simulator recorded. */
static struct json_object *last_request(struct json_object *reqs)
{
	size_t n = json_object_array_length(reqs);

	ck_assert_uint_gt(n, 0);
	return json_object_array_get_idx(reqs, n - 1);
}

/* reqs without the start-up self-check of a gateway just started (its read of a random unknown
 * user is sent after the "listening" line the harness waits for, so it may land after the test's
 * kt_sim_clear). Takes reqs; returns a new array. */
static struct json_object *without_selfcheck(struct json_object *reqs)
{
	struct json_object *out = json_object_new_array();
	size_t i;

	for (i = 0; i < json_object_array_length(reqs); i++) {
		struct json_object *q = json_object_array_get_idx(reqs, i);

		if (strstr(kt_str(q, "target"), "/users/userId:kycgate-selfcheck-") == NULL)
			json_object_array_add(out, json_object_get(q));
	}
	json_object_put(reqs);
	return out;
}

/* Runs one call on gateway port and asserts its status and every upstream request line the
 * simulator saw, in order: up is {method, target, method, target, ..., NULL}. A GET carries no
 * body upstream, nor does any request when the caller sent none (DELETE, the trigger). */
static void call_seq_on(unsigned port, const char *method, const char *target,
                        const char *const *hdrs, const void *body, size_t len, long status,
                        const char *const *up, struct kt_resp *r)
{
	struct json_object *reqs, *q;
	size_t n = 0;

	kt_sim_clear(it_sim.port);
	kt_http(port, method, target, hdrs, body, len, r);
	ck_assert_msg(r->status == status, "%s %s: %ld, wanted %ld: %s", method, target, r->status,
	              status, r->body);
	reqs = without_selfcheck(kt_sim_requests(it_sim.port));
	for (; up[2 * n] != NULL; n++) {
		ck_assert_msg(n < json_object_array_length(reqs),
		              "%s %s: upstream request %zu missing", method, target, n);
		q = json_object_array_get_idx(reqs, n);
		ck_assert_str_eq(kt_str(q, "method"), up[2 * n]);
		ck_assert_str_eq(kt_str(q, "target"), up[2 * n + 1]);
		ck_assert(json_object_get_boolean(json_object_object_get(q, "apiKeyOk")));
		ck_assert(!json_object_get_boolean(json_object_object_get(q, "authorization")));
		/* Crossmint's contract: the media type on every request with a body, and only
		 * there (a POST without one sends an empty body). */
		if (strcmp(up[2 * n], "GET") == 0 ||
		    (strcmp(up[2 * n], "DELETE") == 0 && kt_str(q, "body")[0] == '\0'))
			ck_assert_ptr_null(kt_str(q, "contentType"));
		else
			ck_assert_str_eq(kt_str(q, "contentType"), "application/json");
		ck_assert_ptr_nonnull(kt_str(q, "requestId"));
		if (body == NULL || strcmp(up[2 * n], "GET") == 0)
			ck_assert_str_eq(kt_str(q, "body"), "");
	}
	ck_assert_msg(json_object_array_length(reqs) == n,
	              "%s %s: %zu upstream requests, wanted %zu", method, target,
	              json_object_array_length(reqs), n);
	json_object_put(reqs);
}

/* call_seq_on() on the shared gateway. */
static void call_seq(const char *method, const char *target, const char *const *hdrs,
                     const void *body, size_t len, long status, const char *const *up,
                     struct kt_resp *r)
{
	call_seq_on(it_gw.port, method, target, hdrs, body, len, status, up, r);
}

/* Runs one call and asserts status and the one upstream request line the simulator saw. */
static void call(const char *method, const char *target, const char *const *hdrs, const void *body,
                 size_t len, long status, const char *up_method, const char *up_target,
                 struct kt_resp *r)
{
	const char *const up[] = {up_method, up_target, NULL};

	call_seq(method, target, hdrs, body, len, status, up, r);
}

/* The body the simulator received last, parsed. */
static struct json_object *upstream_body(void)
{
	struct json_object *reqs = kt_sim_requests(it_sim.port), *b;

	b = json_tokener_parse(kt_str(last_request(reqs), "body"));
	json_object_put(reqs);
	ck_assert_ptr_nonnull(b);
	return b;
}

static const char *product_status(struct json_object *norm, const char *product)
{
	struct json_object *products, *p;

	ck_assert(json_object_object_get_ex(norm, "products", &products));
	ck_assert_msg(json_object_object_get_ex(products, product, &p), "no product %s", product);
	return kt_str(p, "status");
}

START_TEST(full_flow_eu_resident)
{
	const char *const w[] = {IT_WRITER, IT_JSON, "X-Request-Id: flow-1", NULL};
	const char *const wjpeg[] = {IT_WRITER, "Content-Type: image/jpeg", NULL};
	const char *const rd[] = {IT_READER, NULL};
	const char *const wr[] = {IT_WRITER, NULL};
	struct kt_resp r;
	struct json_object *b;
	char h[256], docpath[256], b64[128];
	const char *docid;
	CURL *c = curl_easy_init();

	/* Consent: +02:00 converted to UTC Z, privacy policy named as Crossmint wants. */
	call("PUT", "/v1/users/userId:alice-1/consent", w,
	     "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-06-01T12:00:00+02:00\"}", 66, 200,
	     "PUT", "/2025-06-09/users/userId:alice-1/legal-documents", &r);
	ck_assert(kt_header(&r, "X-Request-Id", h, sizeof(h)));
	ck_assert_str_eq(h, "flow-1");
	ck_assert(kt_header(&r, "X-Kycgate-Environment", h, sizeof(h)));
	ck_assert_str_eq(h, "staging");
	ck_assert(kt_header(&r, "Cache-Control", h, sizeof(h)));
	ck_assert_str_eq(h, "no-store");
	ck_assert(kt_header(&r, "X-Content-Type-Options", h, sizeof(h)));
	b = upstream_body();
	ck_assert_str_eq(kt_str(b, "type"), "crossmint-privacy-policy");
	ck_assert_str_eq(kt_str(b, "acceptedAt"), "2025-06-01T10:00:00Z");
	json_object_put(b);
	kt_resp_free(&r);

	/* The consent created the user: this PUT updates it (200). */
	call("PUT", "/v1/users/userId:alice-1", w, eu_user, strlen(eu_user), 200, "PUT",
	     "/2025-06-09/users/userId:alice-1", &r);
	b = upstream_body();
	{
		/* The validated user goes upstream whole: every section, re-serialized. */
		struct json_object *sent = json_tokener_parse(eu_user);

		ck_assert(json_object_equal(b, sent));
		json_object_put(sent);
	}
	json_object_put(b);
	kt_resp_free(&r);

	/* A raw passport scan: sent upstream as a data URL with the locator as reference. */
	call("PUT", "/v1/users/userId:alice-1/documents/id-passport?expiresAt=2031-01-01", wjpeg,
	     jpeg, sizeof(jpeg) - 1, 201, "POST", "/2025-06-09/documents", &r);
	docid = kt_str(r.json, "id");
	ck_assert_ptr_nonnull(docid);
	snprintf(docpath, sizeof(docpath), "/v1/documents/%s", docid);
	b = upstream_body();
	ck_assert_str_eq(kt_str(json_object_object_get(b, "reference"), "userLocator"),
	                 "userId:alice-1");
	ck_assert_str_eq(kt_str(b, "documentType"), "id-passport");
	ck_assert_str_eq(kt_str(b, "expiresAt"), "2031-01-01");
	ck_assert(strncmp(kt_str(b, "data"), "data:image/jpeg;base64,/9j/", 27) == 0);
	json_object_put(b);
	kt_resp_free(&r);

	/* Trigger: the selfie is missing. */
	call("POST", "/v1/users/userId:alice-1/verification", wr, NULL, 0, 200, "PUT",
	     "/2025-06-09/users/userId:alice-1/identity-verification", &r);
	ck_assert_str_eq(kt_str(r.json, "overall"), "action-required");
	ck_assert_str_eq(kt_str(r.json, "nextAction"), "upload-documents");
	ck_assert_str_eq(product_status(r.json, "onramp"), "action-required");
	ck_assert_str_eq(product_status(r.json, "regulated-transfer"), "in-review");
	ck_assert_str_eq(kt_str(r.json, "userLocator"), "userId:alice-1");
	ck_assert_str_eq(kt_str(r.json, "environment"), "staging");
	kt_resp_free(&r);

	/* The selfie as JSON with a plain base64 body. */
	{
		char *enc = NULL, body[512];
		static const char tbl[] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		size_t i, o = 0, n = sizeof(png) - 1;
		const unsigned char *s = (const unsigned char *)png;

		for (i = 0; i + 2 < n; i += 3) {
			b64[o++] = tbl[s[i] >> 2];
			b64[o++] = tbl[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
			b64[o++] = tbl[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)];
			b64[o++] = tbl[s[i + 2] & 63];
		}
		if (n - i == 1) {
			b64[o++] = tbl[s[i] >> 2];
			b64[o++] = tbl[(s[i] & 3) << 4];
		} else if (n - i == 2) {
			b64[o++] = tbl[s[i] >> 2];
			b64[o++] = tbl[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
			b64[o++] = tbl[(s[i + 1] & 15) << 2];
		}
		b64[o] = '\0';
		snprintf(body, sizeof(body), "{\"data\":\"%s\"}", b64);
		call("PUT", "/v1/users/userId:alice-1/documents/selfie-front", w, body,
		     strlen(body), 201, "POST", "/2025-06-09/documents", &r);
		kt_resp_free(&r);
		b = upstream_body();
		ck_assert(strncmp(kt_str(b, "data"), "data:image/png;base64,iVBORw0KGgo", 33) == 0);
		ck_assert_str_eq(kt_str(b, "documentType"), "selfie-front");
		ck_assert_str_eq(kt_str(json_object_object_get(b, "reference"), "userLocator"),
		                 "userId:alice-1");
		ck_assert(!json_object_object_get_ex(b, "expiresAt", NULL));
		json_object_put(b);
		free(enc);
	}

	call("POST", "/v1/users/userId:alice-1/verification", wr, NULL, 0, 200, "PUT",
	     "/2025-06-09/users/userId:alice-1/identity-verification", &r);
	ck_assert_str_eq(kt_str(r.json, "overall"), "in-review");
	ck_assert_str_eq(kt_str(r.json, "nextAction"), "wait");
	kt_resp_free(&r);

	usleep(500 * 1000); /* the simulator's review delay is 300 ms */
	call("GET", "/v1/users/userId:alice-1/verification", rd, NULL, 0, 200, "GET",
	     "/2025-06-09/users/userId:alice-1/identity-verification", &r);
	ck_assert_str_eq(kt_str(r.json, "overall"), "verified");
	ck_assert_str_eq(kt_str(r.json, "nextAction"), "none");
	ck_assert(json_object_get_boolean(json_object_object_get(
	    json_object_object_get(json_object_object_get(r.json, "products"), "onramp"),
	    "eligible")));
	kt_resp_free(&r);

	{
		char up[300];

		snprintf(up, sizeof(up), "/2025-06-09/documents/%s", docpath + 14);
		call("GET", docpath, rd, NULL, 0, 200, "GET", up, &r);
		ck_assert_str_eq(kt_str(r.json, "documentType"), "id-passport");
		kt_resp_free(&r);
	}
	call("GET", "/v1/users/userId:alice-1", rd, NULL, 0, 200, "GET",
	     "/2025-06-09/users/userId:alice-1", &r);
	ck_assert(json_object_get_boolean(json_object_object_get(r.json, "userDetails")));
	kt_resp_free(&r);
	curl_easy_cleanup(c);
}
END_TEST

START_TEST(wallet_routes)
{
	static const char consent[] =
	    "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-06-01T12:00:00Z\"}";
	const char *const w[] = {IT_WRITER, IT_JSON, NULL};
	const char *const wr[] = {IT_WRITER, NULL};
	const char *const rd[] = {IT_READER, NULL};
	struct kt_resp r;
	struct json_object *b;

	call("PUT", "/v1/users/userId:wal-1/consent", w, consent, strlen(consent), 200, "PUT",
	     "/2025-06-09/users/userId:wal-1/legal-documents", &r);
	kt_resp_free(&r);
	call("PUT", "/v1/users/userId:wal-1/wallets/0xAbC123", w, "{\"chain\":\"base-sepolia\"}",
	     24, 200, "PUT", "/2025-06-09/users/userId:wal-1/linked-wallets/0xAbC123", &r);
	ck_assert_str_eq(kt_str(r.json, "type"), "external-wallet");
	kt_resp_free(&r);
	b = upstream_body();
	ck_assert_str_eq(kt_str(b, "chain"), "base-sepolia");
	json_object_put(b);
	call("GET", "/v1/users/userId:wal-1/wallets/0xAbC123", rd, NULL, 0, 200, "GET",
	     "/2025-06-09/users/userId:wal-1/linked-wallets/0xAbC123", &r);
	kt_resp_free(&r);
	/* Crossmint's empty 200 to an unlink is answered 204. */
	call("DELETE", "/v1/users/userId:wal-1/wallets/0xAbC123", wr, NULL, 0, 204, "DELETE",
	     "/2025-06-09/users/userId:wal-1/linked-wallets/0xAbC123", &r);
	ck_assert_uint_eq(r.len, 0);
	kt_resp_free(&r);
	call("GET", "/v1/users/userId:wal-1/wallets/0xAbC123", rd, NULL, 0, 404, "GET",
	     "/2025-06-09/users/userId:wal-1/linked-wallets/0xAbC123", &r);
	it_assert_problem(&r, 404, "upstream-rejected");
	ck_assert_int_eq(json_object_get_int(json_object_object_get(
	                     json_object_object_get(r.json, "upstream"), "status")),
	                 404);
	kt_resp_free(&r);
}
END_TEST

/* Locator values are percent-encoded upstream; prefix and colon stay literal. */
START_TEST(locator_escaping)
{
	const char *const w[] = {IT_WRITER, IT_JSON, NULL};
	const char *const rd[] = {IT_READER, NULL};
	static const char consent[] =
	    "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-06-01T12:00:00Z\"}";
	struct kt_resp r;

	call("PUT", "/v1/users/email:a%2Bb@example.com/consent", w, consent, strlen(consent), 200,
	     "PUT", "/2025-06-09/users/email:a%2Bb@example.com/legal-documents", &r);
	kt_resp_free(&r);
	call("PUT", "/v1/users/userId:a%2F..%2Fb%3Fc%23d%20e/consent", w, consent, strlen(consent),
	     200, "PUT", "/2025-06-09/users/userId:a%2F..%2Fb%3Fc%23d%20e/legal-documents", &r);
	kt_resp_free(&r);
	call("GET", "/v1/users/userId:a%2F..%2Fb%3Fc%23d%20e", rd, NULL, 0, 200, "GET",
	     "/2025-06-09/users/userId:a%2F..%2Fb%3Fc%23d%20e", &r);
	kt_resp_free(&r);
	/* A literal %, a second colon, unreserved punctuation; twitter: and x: forms. */
	call("PUT", "/v1/users/userId:50%25:off~._-/consent", w, consent, strlen(consent), 200,
	     "PUT", "/2025-06-09/users/userId:50%25%3Aoff~._-/legal-documents", &r);
	kt_resp_free(&r);
	call("PUT", "/v1/users/twitter:jdoe_1/consent", w, consent, strlen(consent), 200, "PUT",
	     "/2025-06-09/users/twitter:jdoe_1/legal-documents", &r);
	kt_resp_free(&r);
	call("PUT", "/v1/users/x:jdoe/consent", w, consent, strlen(consent), 200, "PUT",
	     "/2025-06-09/users/x:jdoe/legal-documents", &r);
	kt_resp_free(&r);
	call("PUT", "/v1/users/phoneNumber:%2B12125551234/consent", w, consent, strlen(consent),
	     200, "PUT", "/2025-06-09/users/phoneNumber:%2B12125551234/legal-documents", &r);
	kt_resp_free(&r);
}
END_TEST

/* A trigger answer without an eligibility list is followed by one status read, which is what
 * gets normalized (design §2). */
START_TEST(trigger_without_eligibility_reads_status)
{
	const char *const w[] = {IT_WRITER, IT_JSON, NULL};
	const char *const wr[] = {IT_WRITER, NULL};
	static const char consent[] =
	    "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-06-01T12:00:00Z\"}";
	struct kt_resp r;
	struct json_object *reqs;
	size_t n;

	call("PUT", "/v1/users/userId:sim-noeligibility/consent", w, consent, strlen(consent), 200,
	     "PUT", "/2025-06-09/users/userId:sim-noeligibility/legal-documents", &r);
	kt_resp_free(&r);
	kt_sim_clear(it_sim.port);
	kt_http(it_gw.port, "POST", "/v1/users/userId:sim-noeligibility/verification", wr, NULL, 0,
	        &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	/* The snapshot the trigger took: consent but no data. */
	ck_assert_str_eq(kt_str(r.json, "overall"), "action-required");
	ck_assert_str_eq(kt_str(r.json, "nextAction"), "provide-data");
	kt_resp_free(&r);
	reqs = kt_sim_requests(it_sim.port);
	n = json_object_array_length(reqs);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(kt_str(json_object_array_get_idx(reqs, 0), "method"), "PUT");
	ck_assert_str_eq(kt_str(json_object_array_get_idx(reqs, 1), "method"), "GET");
	ck_assert_str_eq(kt_str(json_object_array_get_idx(reqs, 1), "target"),
	                 "/2025-06-09/users/userId:sim-noeligibility/identity-verification");
	json_object_put(reqs);
}
END_TEST

/* Only an allowlist of headers goes upstream: the key, the request id, trace context. */
START_TEST(upstream_headers)
{
	const char *const rd[] = {
	    IT_READER, "X-Request-Id: abc.DEF_1-2",
	    "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	    "Cookie: secret=1", NULL};
	struct kt_resp r;
	struct json_object *reqs, *last;

	kt_sim_clear(it_sim.port);
	kt_http(it_gw.port, "GET", "/v1/users/userId:nobody-here", rd, NULL, 0, &r);
	it_assert_problem(&r, 404, "upstream-rejected");
	ck_assert_str_eq(kt_str(r.json, "instance"), "/v1/users/{userLocator}");
	ck_assert_ptr_null(strstr(r.body, "nobody-here"));
	kt_resp_free(&r);
	reqs = kt_sim_requests(it_sim.port);
	last = last_request(reqs);
	ck_assert_str_eq(kt_str(last, "requestId"), "abc.DEF_1-2");
	ck_assert_str_eq(kt_str(last, "traceparent"),
	                 "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
	json_object_put(reqs);
}
END_TEST

/* Invalid identity headers are replaced or dropped, never passed on. */
START_TEST(invalid_identity_headers)
{
	char long_state[600];
	const char *const bad[] = {
	    IT_READER, "X-Request-Id: has space/and?slash",
	    "traceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01",
	    "tracestate: vendor=1", NULL};
	const char *const good_state[] = {
	    IT_READER, "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	    "tracestate: congo=t61rcWkgMzE,rojo=00f067aa0ba902b7", long_state, NULL};
	struct kt_resp r;
	struct json_object *reqs, *last;
	char id[160];

	kt_sim_clear(it_sim.port);
	kt_http(it_gw.port, "GET", "/v1/users/userId:nobody-here", bad, NULL, 0, &r);
	ck_assert(kt_header(&r, "X-Request-Id", id, sizeof(id)));
	ck_assert_uint_eq(strlen(id), 36); /* a generated UUID */
	ck_assert_ptr_null(strstr(id, "space"));
	kt_resp_free(&r);
	reqs = kt_sim_requests(it_sim.port);
	last = last_request(reqs);
	ck_assert_str_eq(kt_str(last, "requestId"), id);
	ck_assert_ptr_null(kt_str(last, "traceparent")); /* an all-zero trace id is invalid */
	ck_assert_ptr_null(kt_str(last, "tracestate"));  /* no tracestate without traceparent */
	json_object_put(reqs);

	/* A valid tracestate passes; one over 512 characters does not. */
	snprintf(long_state, sizeof(long_state), "X-Ignored: 1");
	kt_sim_clear(it_sim.port);
	kt_http(it_gw.port, "GET", "/v1/users/userId:nobody-here", good_state, NULL, 0, &r);
	kt_resp_free(&r);
	reqs = kt_sim_requests(it_sim.port);
	ck_assert_str_eq(kt_str(last_request(reqs), "tracestate"),
	                 "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
	json_object_put(reqs);
	memset(long_state, 'a', sizeof(long_state) - 1);
	long_state[sizeof(long_state) - 1] = '\0';
	memcpy(long_state, "tracestate: ", 12);
	{
		const char *const too_long[] = {
		    IT_READER,
		    "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		    long_state, NULL};

		kt_sim_clear(it_sim.port);
		kt_http(it_gw.port, "GET", "/v1/users/userId:nobody-here", too_long, NULL, 0, &r);
		kt_resp_free(&r);
		reqs = kt_sim_requests(it_sim.port);
		ck_assert_ptr_null(kt_str(last_request(reqs), "tracestate"));
		json_object_put(reqs);
	}
}
END_TEST

static const char details_only[] =
    "{\"userDetails\":{\"firstName\":\"Alice\",\"lastName\":\"Martin\","
    "\"dateOfBirth\":\"1990-01-15\",\"countryOfResidence\":\"DE\"}}";

/* The sections a 409 would-erase names. */
static void assert_sections(const struct kt_resp *r, const char *const *want)
{
	struct json_object *secs = json_object_object_get(r->json, "sections");
	size_t i;

	it_assert_problem(r, 409, "would-erase");
	for (i = 0; want[i] != NULL; i++) {
		ck_assert_msg(i < json_object_array_length(secs), "%s", r->body);
		ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(secs, i)),
		                 want[i]);
		ck_assert_ptr_nonnull(strstr(kt_str(r->json, "detail"), want[i]));
	}
	ck_assert_uint_eq(json_object_array_length(secs), i);
}

/* Erase guard (issue 7, item 5): a PUT that leaves out a section Crossmint holds reads the user
 * first and answers 409 without writing, unless ?replace=true. */
START_TEST(erase_guard)
{
	static const char *const three[] = {"kycData", "dueDiligence", "verificationHistory", NULL};
	static const char up_user[] = "/2025-06-09/users/userId:erase-1";
	const char *const w[] = {IT_WRITER, IT_JSON, NULL};
	const char *const put[] = {"PUT", up_user, NULL};
	const char *const get[] = {"GET", up_user, NULL};
	const char *const get_put[] = {"GET", up_user, "PUT", up_user, NULL};
	const char *const none[] = {NULL};
	struct kt_resp r;
	char two[1024];

	/* Every section sent: nothing to erase, no read. */
	call_seq("PUT", "/v1/users/userId:erase-1", w, eu_user, strlen(eu_user), 201, put, &r);
	kt_resp_free(&r);
	/* Only userDetails: the three others are held, so 409 and no PUT. */
	call_seq("PUT", "/v1/users/userId:erase-1", w, details_only, strlen(details_only), 409, get,
	         &r);
	assert_sections(&r, three);
	ck_assert_ptr_null(strstr(r.body, "Alice"));
	kt_resp_free(&r);
	call_seq("PUT", "/v1/users/userId:erase-1?replace=false", w, details_only,
	         strlen(details_only), 409, get, &r);
	assert_sections(&r, three);
	kt_resp_free(&r);
	/* The caller means it: no read, the PUT replaces the record. */
	call_seq("PUT", "/v1/users/userId:erase-1?replace=true", w, details_only,
	         strlen(details_only), 200, put, &r);
	ck_assert(!json_object_get_boolean(json_object_object_get(r.json, "kycData")));
	kt_resp_free(&r);
	/* Now only userDetails is held: a body that leaves out the others reads, then writes. */
	call_seq("PUT", "/v1/users/userId:erase-1", w, details_only, strlen(details_only), 200,
	         get_put, &r);
	kt_resp_free(&r);
	/* kycData held again; a body with only dueDiligence would erase userDetails and kycData. */
	snprintf(two, sizeof(two), "%.*s,\"kycData\":{\"email\":\"alice@example.com\"}}",
	         (int)strlen(details_only) - 1, details_only);
	call_seq("PUT", "/v1/users/userId:erase-1", w, two, strlen(two), 200, get_put, &r);
	kt_resp_free(&r);
	{
		static const char *const both[] = {"userDetails", "kycData", NULL};
		static const char dd[] = "{\"dueDiligence\":{\"employmentStatus\":\"full-time\","
		                         "\"sourceOfFunds\":\"salary\",\"industry\":\"software\"}}";

		call_seq("PUT", "/v1/users/userId:erase-1", w, dd, strlen(dd), 409, get, &r);
		assert_sections(&r, both);
		kt_resp_free(&r);
	}
	/* replace must be true or false; nothing goes upstream. */
	call_seq("PUT", "/v1/users/userId:erase-1?replace=yes", w, details_only,
	         strlen(details_only), 400, none, &r);
	it_assert_problem(&r, 400, "invalid-request");
	kt_resp_free(&r);
}
END_TEST

/* The read of the erase guard: a user Crossmint does not know (404) is created; a read that
 * fails answers as it failed and writes nothing. */
START_TEST(erase_guard_read_outcomes)
{
	const char *const w[] = {IT_WRITER, IT_JSON, NULL};
	const char *const new_user[] = {"GET", "/2025-06-09/users/userId:erase-new", "PUT",
	                                "/2025-06-09/users/userId:erase-new", NULL};
	const char *const failed[] = {"GET", "/2025-06-09/users/userId:sim-status-500", NULL};
	const char *const slow[] = {"GET", "/2025-06-09/users/userId:sim-latency-5000", NULL};
	struct kt_resp r;

	call_seq("PUT", "/v1/users/userId:erase-new", w, details_only, strlen(details_only), 201,
	         new_user, &r);
	kt_resp_free(&r);
	call_seq("PUT", "/v1/users/userId:sim-status-500", w, details_only, strlen(details_only),
	         502, failed, &r);
	it_assert_problem(&r, 502, "upstream-error");
	kt_resp_free(&r);
	/* The simulator answers after 5 s; the gateway's deadline is 2 s. */
	call_seq("PUT", "/v1/users/userId:sim-latency-5000", w, details_only, strlen(details_only),
	         504, slow, &r);
	it_assert_problem(&r, 504, "upstream-timeout");
	kt_resp_free(&r);
}
END_TEST

/* validation.unknown_fields: pass lets unknown nested keys through to Crossmint; top-level keys
 * stay checked. The shared gateway refuses them. */
START_TEST(unknown_fields_pass)
{
	static const char body[] =
	    "{\"userDetails\":{\"firstName\":\"A\",\"lastName\":\"B\",\"middleName\":\"C\","
	    "\"dateOfBirth\":\"1990-01-15\",\"countryOfResidence\":\"DE\"}}";
	static const char *const env[] = {"IT_API_KEY=" IT_KEY, NULL};
	const char *const w[] = {IT_WRITER, IT_JSON, NULL};
	const char *const up[] = {"GET", "/2025-06-09/users/userId:pass-1", "PUT",
	                          "/2025-06-09/users/userId:pass-1", NULL};
	const char *const none[] = {NULL};
	char yaml[sizeof(it_gateway_yaml) + 64];
	struct kt_proc gw;
	struct kt_resp r;
	struct json_object *b;

	call_seq("PUT", "/v1/users/userId:pass-1", w, body, strlen(body), 400, none, &r);
	ck_assert_str_eq(
	    kt_str(json_object_array_get_idx(json_object_object_get(r.json, "errors"), 0),
	           "pointer"),
	    "/userDetails/middleName");
	kt_resp_free(&r);
	snprintf(yaml, sizeof(yaml), "%svalidation:\n  unknown_fields: pass\n", it_gateway_yaml);
	kt_start_gateway(&gw, yaml, it_sim.port, env);
	call_seq_on(gw.port, "PUT", "/v1/users/userId:pass-1", w, body, strlen(body), 201, up, &r);
	kt_resp_free(&r);
	b = upstream_body();
	ck_assert_str_eq(kt_str(json_object_object_get(b, "userDetails"), "middleName"), "C");
	json_object_put(b);
	call_seq_on(gw.port, "PUT", "/v1/users/userId:pass-1", w, "{\"userdetails\":{}}", 17, 400,
	            none, &r);
	kt_resp_free(&r);
	ck_assert_int_eq(kt_stop(&gw), 0);
}
END_TEST

START_TEST(health_and_spec)
{
	struct kt_resp r;
	char h[64];

	kt_http(it_gw.port, "GET", "/healthz", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	kt_resp_free(&r);
	kt_http(it_gw.port, "GET", "/readyz", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(kt_str(r.json, "environment"), "staging");
	kt_resp_free(&r);
	kt_http(it_gw.port, "GET", "/openapi.yaml", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert(kt_header(&r, "Content-Type", h, sizeof(h)));
	ck_assert_str_eq(h, "application/yaml");
	ck_assert_ptr_nonnull(strstr(r.body, "openapi: 3.1"));
	/* A relative server: the document is right whatever address the gateway listens on. */
	ck_assert_ptr_nonnull(strstr(r.body, "\nservers:\n  - url: /\n"));
	ck_assert_ptr_null(strstr(r.body, "127.0.0.1:8080"));
	kt_resp_free(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("it_flow");
	TCase *tc = tcase_create("flow");
	int failed;

	tcase_add_unchecked_fixture(tc, it_setup, it_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, full_flow_eu_resident);
	tcase_add_test(tc, wallet_routes);
	tcase_add_test(tc, locator_escaping);
	tcase_add_test(tc, upstream_headers);
	tcase_add_test(tc, invalid_identity_headers);
	tcase_add_test(tc, trigger_without_eligibility_reads_status);
	tcase_add_test(tc, erase_guard);
	tcase_add_test(tc, erase_guard_read_outcomes);
	tcase_add_test(tc, unknown_fields_pass);
	tcase_add_test(tc, health_and_spec);
	suite_add_tcase(s, tc);
	failed = kt_run_suite(s);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
