/* Integration: the gateway's answers conform to openapi/kycgate.yaml. Real requests to every
 * route (success and error answers) through the gateway and the standalone simulator; each answer
 * is written as one JSON line, and tools/spec/check-answers.mjs validates them all against the
 * response the spec declares (status, Content-Type, body schema, documented headers). */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "it_common.h"

static char answers_path[64];

static const char jpeg[] = "\xff\xd8\xff\xe0"
                           "0123456789abcdef";

static const char user_body[] =
    "{\"userDetails\":{\"firstName\":\"Alice\",\"lastName\":\"Martin\","
    "\"dateOfBirth\":\"1990-01-15\",\"countryOfResidence\":\"DE\"},"
    "\"kycData\":{\"nationality\":\"DE\",\"addressOfResidence\":{\"line1\":\"Hauptstr. 1\","
    "\"city\":\"Berlin\",\"postalCode\":\"10115\"},\"email\":\"alice@example.com\"},"
    "\"dueDiligence\":{\"employmentStatus\":\"full-time\",\"sourceOfFunds\":\"salary\","
    "\"industry\":\"software\"}}";
static const char details_only[] =
    "{\"userDetails\":{\"firstName\":\"Alice\",\"lastName\":\"Martin\","
    "\"dateOfBirth\":\"1990-01-15\",\"countryOfResidence\":\"DE\"}}";
static const char consent_body[] =
    "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-06-01T12:00:00+02:00\"}";

static void spec_setup(void)
{
	int fd;

	snprintf(answers_path, sizeof(answers_path), "/tmp/kycgate-answers-%d-XXXXXX",
	         (int)getpid());
	fd = mkstemp(answers_path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	it_setup();
}

static void spec_teardown(void)
{
	it_teardown();
	unlink(answers_path);
}

/* The response headers of r as a JSON object (a repeated header joined with ", "). */
static struct json_object *headers_json(const struct kt_resp *r)
{
	struct json_object *o = json_object_new_object(), *prev;
	const char *line = strchr(r->headers, '\n');

	while (line != NULL && line[1] != '\0') {
		const char *name = line + 1, *colon = strchr(name, ':'),
		           *end = strpbrk(name, "\r\n");
		char key[128], val[4096];

		line = strchr(name, '\n');
		if (colon == NULL || end == NULL || colon > end || colon == name)
			continue;
		snprintf(key, sizeof(key), "%.*s", (int)(colon - name), name);
		colon++;
		while (*colon == ' ' || *colon == '\t')
			colon++;
		if (json_object_object_get_ex(o, key, &prev)) {
			snprintf(val, sizeof(val), "%s, %.*s", json_object_get_string(prev),
			         (int)(end - colon), colon);
		} else {
			snprintf(val, sizeof(val), "%.*s", (int)(end - colon), colon);
		}
		json_object_object_add(o, key, json_object_new_string(val));
	}
	return o;
}

static bool json_media(const char *ct)
{
	size_t n = strcspn(ct, ";");

	while (n > 0 && ct[n - 1] == ' ')
		n--;
	return (n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
	       (n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0);
}

/* Appends one answer to the answers file. */
static void record(const char *method, const char *tmpl, const struct kt_resp *r)
{
	struct json_object *o = json_object_new_object();
	char ct[256];
	bool has_ct = kt_header(r, "Content-Type", ct, sizeof(ct));
	FILE *f = fopen(answers_path, "a");

	ck_assert_ptr_nonnull(f);
	json_object_object_add(o, "method", json_object_new_string(method));
	json_object_object_add(o, "path", json_object_new_string(tmpl));
	json_object_object_add(o, "status", json_object_new_int((int)r->status));
	json_object_object_add(o, "contentType", has_ct ? json_object_new_string(ct) : NULL);
	json_object_object_add(o, "headers", headers_json(r));
	json_object_object_add(
	    o, "body", has_ct && json_media(ct) && r->len > 0 ? json_object_get(r->json) : NULL);
	json_object_object_add(o, "bodyLength", json_object_new_int64((int64_t)r->len));
	fprintf(f, "%s\n",
	        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	                                              JSON_C_TO_STRING_NOSLASHESCAPE));
	fclose(f);
	json_object_put(o);
}

/* One exchange: asserts the status and the headers every answer carries, records the answer.
 * tmpl is the spec's path template for target. The caller frees r. */
static void answer(const char *method, const char *target, const char *tmpl,
                   const char *const *hdrs, const void *body, size_t len, long status,
                   struct kt_resp *r)
{
	static const char *const always[] = {"X-Request-Id", "X-Kycgate-Environment",
	                                     "Cache-Control", NULL};
	char v[256];
	int i;

	kt_http(it_gw.port, method, target, hdrs, body, len, r);
	ck_assert_msg(r->status == status, "%s %s: %ld, wanted %ld: %s", method, target, r->status,
	              status, r->body);
	for (i = 0; always[i] != NULL; i++)
		ck_assert_msg(kt_header(r, always[i], v, sizeof(v)), "%s %s: no %s header", method,
		              target, always[i]);
	record(method, tmpl, r);
}

/* answer() for a caller that only needs it recorded. */
static void answer_only(const char *method, const char *target, const char *tmpl,
                        const char *const *hdrs, const void *body, size_t len, long status)
{
	struct kt_resp r;

	answer(method, target, tmpl, hdrs, body, len, status, &r);
	kt_resp_free(&r);
}

#define T_USER "/v1/users/{userLocator}"
#define T_CONSENT "/v1/users/{userLocator}/consent"
#define T_DOC_PUT "/v1/users/{userLocator}/documents/{documentType}"
#define T_DOC_GET "/v1/documents/{documentId}"
#define T_VERIFY "/v1/users/{userLocator}/verification"
#define T_WALLET "/v1/users/{userLocator}/wallets/{address}"
#define T_WATCH "/v1/users/{userLocator}/watch"

START_TEST(operations)
{
	answer_only("GET", "/healthz", "/healthz", NULL, NULL, 0, 200);
	answer_only("GET", "/metrics", "/metrics", NULL, NULL, 0, 200);
	answer_only("GET", "/readyz", "/readyz", NULL, NULL, 0, 200);
	answer_only("GET", "/openapi.yaml", "/openapi.yaml", NULL, NULL, 0, 200);
}
END_TEST

START_TEST(users_and_consent)
{
	static const char bad_consent[] =
	    "{\"type\":\"cookies\",\"acceptedAt\":\"2025-06-01T12:00:00\"}";
	static const char bad_user[] =
	    "{\"userDetails\":{\"dateOfBirth\":\"1990-02-30\"},\"userdetails\":{}}";
	const char *const w[] = {IT_WRITER, IT_JSON, "X-Request-Id: spec-users-1", NULL};
	const char *const rd[] = {IT_READER, NULL};
	struct kt_resp r;

	answer_only("PUT", "/v1/users/userId:spec-1/consent", T_CONSENT, w, consent_body,
	            strlen(consent_body), 200);
	answer("PUT", "/v1/users/userId:spec-1/consent", T_CONSENT, w, bad_consent,
	       strlen(bad_consent), 400, &r);
	it_assert_problem(&r, 400, "invalid-request");
	ck_assert_ptr_nonnull(json_object_object_get(r.json, "errors"));
	kt_resp_free(&r);

	/* 201 creates a user; consent already created spec-1, so its PUT updates it: 200. */
	answer_only("PUT", "/v1/users/userId:spec-new", T_USER, w, user_body, strlen(user_body),
	            201);
	answer_only("PUT", "/v1/users/userId:spec-1", T_USER, w, user_body, strlen(user_body), 200);
	answer("PUT", "/v1/users/userId:spec-1", T_USER, w, bad_user, strlen(bad_user), 400, &r);
	it_assert_problem(&r, 400, "invalid-request");
	ck_assert_int_ge(json_object_array_length(json_object_object_get(r.json, "errors")), 2);
	kt_resp_free(&r);
	/* The erase guard: leaving out sections Crossmint holds is a 409 unless ?replace=true. */
	answer("PUT", "/v1/users/userId:spec-1", T_USER, w, details_only, strlen(details_only), 409,
	       &r);
	it_assert_problem(&r, 409, "would-erase");
	ck_assert_int_eq(json_object_array_length(json_object_object_get(r.json, "sections")), 2);
	kt_resp_free(&r);
	answer_only("PUT", "/v1/users/userId:spec-2", T_USER, w, user_body, strlen(user_body), 201);
	answer_only("PUT", "/v1/users/userId:spec-2?replace=true", T_USER, w, details_only,
	            strlen(details_only), 200);
	answer_only("PUT", "/v1/users/userId:spec-2?replace=1", T_USER, w, details_only,
	            strlen(details_only), 400);
	/* A path parameter that breaks its rule: 400 without errors. */
	answer_only("GET", "/v1/users/nobody", T_USER, rd, NULL, 0, 400);

	answer_only("GET", "/v1/users/userId:spec-1", T_USER, rd, NULL, 0, 200);
	answer("GET", "/v1/users/userId:spec-nobody", T_USER, rd, NULL, 0, 404, &r);
	it_assert_problem(&r, 404, "upstream-rejected");
	kt_resp_free(&r);
}
END_TEST

START_TEST(documents)
{
	const char *const wjpeg[] = {IT_WRITER, "Content-Type: image/jpeg", NULL};
	const char *const wpng[] = {IT_WRITER, "Content-Type: image/png", NULL};
	const char *const wtext[] = {IT_WRITER, "Content-Type: text/plain", NULL};
	const char *const rd[] = {IT_READER, NULL};
	char docpath[300];
	const char *id;
	struct kt_resp r;

	answer("PUT", "/v1/users/userId:spec-1/documents/id-passport?expiresAt=2031-01-01",
	       T_DOC_PUT, wjpeg, jpeg, sizeof(jpeg) - 1, 201, &r);
	id = kt_str(r.json, "id");
	ck_assert_ptr_nonnull(id);
	snprintf(docpath, sizeof(docpath), "/v1/documents/%s", id);
	kt_resp_free(&r);
	/* 415 from the headers, and from magic bytes that do not match the declared type. */
	answer("PUT", "/v1/users/userId:spec-1/documents/id-passport", T_DOC_PUT, wtext, "hello", 5,
	       415, &r);
	it_assert_problem(&r, 415, "unsupported-media-type");
	kt_resp_free(&r);
	answer_only("PUT", "/v1/users/userId:spec-1/documents/selfie-front", T_DOC_PUT, wpng, jpeg,
	            sizeof(jpeg) - 1, 415);
	answer_only("PUT", "/v1/users/userId:spec-1/documents/id-ssn", T_DOC_PUT, wjpeg, jpeg,
	            sizeof(jpeg) - 1, 400);
	answer_only("GET", docpath, T_DOC_GET, rd, NULL, 0, 200);
}
END_TEST

START_TEST(verification)
{
	const char *const wr[] = {IT_WRITER, NULL};
	const char *const rd[] = {IT_READER, NULL};
	struct kt_resp r;

	answer("POST", "/v1/users/userId:spec-1/verification", T_VERIFY, wr, NULL, 0, 200, &r);
	ck_assert_ptr_nonnull(kt_str(r.json, "overall"));
	ck_assert_ptr_nonnull(json_object_object_get(r.json, "watched")); /* a trigger's answer */
	kt_resp_free(&r);
	answer_only("GET", "/v1/users/userId:spec-1/verification", T_VERIFY, rd, NULL, 0, 200);
	answer("GET", "/v1/users/userId:spec-1/verification?products=onramp", T_VERIFY, rd, NULL, 0,
	       200, &r);
	ck_assert_int_eq(json_object_object_length(json_object_object_get(r.json, "products")), 1);
	kt_resp_free(&r);
	answer_only("GET", "/v1/users/userId:spec-1/verification?products=onramp-light,nope",
	            T_VERIFY, rd, NULL, 0, 400);
	/* The repeated form, alone or mixed with the comma form, de-duplicated (issue 7, item 6).
	 */
	answer("GET", "/v1/users/userId:spec-1/verification?products=onramp&products=offramp",
	       T_VERIFY, rd, NULL, 0, 200, &r);
	ck_assert_int_eq(json_object_object_length(json_object_object_get(r.json, "products")), 2);
	ck_assert_ptr_nonnull(
	    json_object_object_get(json_object_object_get(r.json, "products"), "offramp"));
	kt_resp_free(&r);
	answer("GET",
	       "/v1/users/userId:spec-1/verification?products=onramp,offramp&country=DE"
	       "&products=onramp&products=regulated-transfer",
	       T_VERIFY, rd, NULL, 0, 200, &r);
	ck_assert_int_eq(json_object_object_length(json_object_object_get(r.json, "products")), 3);
	kt_resp_free(&r);
	answer("GET", "/v1/users/userId:spec-1/verification?products=onramp&products=nope",
	       T_VERIFY, rd, NULL, 0, 400, &r);
	it_assert_problem(&r, 400, "invalid-request");
	ck_assert_ptr_nonnull(strstr(kt_str(r.json, "detail"), "regulated-transfer"));
	kt_resp_free(&r);
	answer_only("GET",
	            "/v1/users/userId:spec-1/verification?products=onramp&products=", T_VERIFY, rd,
	            NULL, 0, 400);
	/* Other parameters still may not repeat. */
	answer_only("GET", "/v1/users/userId:spec-1/verification?country=DE&country=FR", T_VERIFY,
	            rd, NULL, 0, 400);
}
END_TEST

START_TEST(wallets)
{
	const char *const w[] = {IT_WRITER, IT_JSON, NULL};
	const char *const wr[] = {IT_WRITER, NULL};
	const char *const rd[] = {IT_READER, NULL};
	struct kt_resp r;

	answer_only("PUT", "/v1/users/userId:spec-1/wallets/0xAbC123", T_WALLET, w,
	            "{\"chain\":\"base-sepolia\"}", 24, 200);
	answer_only("GET", "/v1/users/userId:spec-1/wallets/0xAbC123", T_WALLET, rd, NULL, 0, 200);
	answer("DELETE", "/v1/users/userId:spec-1/wallets/0xAbC123", T_WALLET, wr, NULL, 0, 204,
	       &r);
	ck_assert_uint_eq(r.len, 0);
	kt_resp_free(&r);
	answer_only("GET", "/v1/users/userId:spec-1/wallets/0xAbC123", T_WALLET, rd, NULL, 0, 404);
}
END_TEST

/* Answers kycgate decides before calling upstream. */
START_TEST(gateway_errors)
{
	const char *const w[] = {IT_WRITER, IT_JSON, "Transfer-Encoding: chunked", NULL};
	const char *const rdjson[] = {IT_READER, IT_JSON, NULL};
	const char *const rd[] = {IT_READER, NULL};
	const char *const wr[] = {IT_WRITER, NULL};
	char v[64];
	size_t n = 2 * 1024 * 1024;
	char *big = malloc(n);
	struct kt_resp r;

	answer("GET", "/v1/users/userId:spec-1", T_USER, NULL, NULL, 0, 401, &r);
	it_assert_problem(&r, 401, "unauthorized");
	ck_assert(kt_header(&r, "WWW-Authenticate", v, sizeof(v)));
	kt_resp_free(&r);
	answer("PUT", "/v1/users/userId:spec-1/consent", T_CONSENT, rdjson, consent_body,
	       strlen(consent_body), 403, &r);
	it_assert_problem(&r, 403, "forbidden");
	kt_resp_free(&r);
	answer("GET", "/v1/no-such-route", "/v1/no-such-route", rd, NULL, 0, 404, &r);
	it_assert_problem(&r, 404, "not-found");
	kt_resp_free(&r);
	answer("POST", "/v1/users/userId:spec-1", T_USER, wr, NULL, 0, 405, &r);
	it_assert_problem(&r, 405, "method-not-allowed");
	ck_assert(kt_header(&r, "Allow", v, sizeof(v)));
	kt_resp_free(&r);
	answer_only("DELETE", "/healthz", "/healthz", NULL, NULL, 0, 405);

	ck_assert_ptr_nonnull(big);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	answer("PUT", "/v1/users/userId:spec-1", T_USER, w, big, n, 413, &r);
	it_assert_problem(&r, 413, "payload-too-large");
	kt_resp_free(&r);
	free(big);
}
END_TEST

/* Upstream failures, through the simulator's fault locators. */
START_TEST(upstream_errors)
{
	const char *const rd[] = {IT_READER, NULL};
	const char *const wr[] = {IT_WRITER, NULL};
	char v[32];
	struct kt_resp r;

	answer("GET", "/v1/users/userId:sim-status-500", T_USER, rd, NULL, 0, 502, &r);
	it_assert_problem(&r, 502, "upstream-error");
	kt_resp_free(&r);
	answer_only("POST", "/v1/users/userId:sim-status-500/verification", T_VERIFY, wr, NULL, 0,
	            502);
	/* A 4xx the operation does not list: the 4XX entry. */
	answer("GET", "/v1/users/userId:sim-status-422", T_USER, rd, NULL, 0, 422, &r);
	it_assert_problem(&r, 422, "upstream-rejected");
	kt_resp_free(&r);
	answer("GET", "/v1/users/userId:sim-ratelimit", T_USER, rd, NULL, 0, 429, &r);
	it_assert_problem(&r, 429, "rate-limited");
	ck_assert(kt_header(&r, "Retry-After", v, sizeof(v)));
	kt_resp_free(&r);
	/* The simulator waits 5 s; the gateway's deadline is 2 s. */
	answer("GET", "/v1/users/userId:sim-latency-5000", T_USER, rd, NULL, 0, 504, &r);
	it_assert_problem(&r, 504, "upstream-timeout");
	kt_resp_free(&r);
}
END_TEST

/* Runs the checker on everything recorded above; its output is the failure message. */
START_TEST(answers_match_spec)
{
	char out_path[64] = "/tmp/kycgate-check-XXXXXX";
	int fd = mkstemp(out_path), status = 0;
	size_t lines = 0;
	char *answers = kt_slurp(answers_path, NULL), *out, *p;
	pid_t pid;

	ck_assert_int_ge(fd, 0);
	ck_assert_ptr_nonnull(answers);
	for (p = answers; *p != '\0'; p++)
		lines += *p == '\n';
	free(answers);
	/* 35 answers when every test above ran to its end */
	ck_assert_msg(lines >= 35, "only %zu answers were recorded", lines);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		if (chdir(KG_SOURCE_DIR) != 0)
			_exit(126);
		execlp("node", "node", "tools/spec/check-answers.mjs", "openapi/kycgate.yaml",
		       answers_path, (char *)NULL);
		_exit(127);
	}
	close(fd);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	out = kt_slurp(out_path, NULL);
	unlink(out_path);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "check-answers.mjs failed (status %d; 127: node not found):\n%s", status,
	              out ? out : "");
	free(out);
}
END_TEST

struct bg_answer {
	const char *target;
	const char *const *hdrs;
	struct kt_resp r;
};

static void *bg_answer_main(void *arg)
{
	struct bg_answer *b = arg;

	kt_http(it_gw.port, "POST", b->target, b->hdrs, NULL, 0, &b->r);
	return NULL;
}

/* Idempotency-Key (issue 10 item 6): a first answer, its replay, a reused key, a bad key, a
 * repeat while the first runs. */
START_TEST(idempotency)
{
	const char *const k1[] = {IT_WRITER, "Idempotency-Key: spec-idem-1", NULL};
	const char *const kc[] = {IT_WRITER, IT_JSON, "Idempotency-Key: spec-idem-2", NULL};
	const char *const bad[] = {IT_WRITER, "Idempotency-Key: two words", NULL};
	const char *const k3[] = {IT_WRITER, "Idempotency-Key: spec-idem-3", NULL};
	struct bg_answer first = {"/v1/users/userId:sim-latency-1000/verification", k3, {0}};
	static const char other[] =
	    "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-06-01T12:00:01Z\"}";
	char v[16];
	pthread_t t;
	struct kt_resp r;

	answer_only("POST", "/v1/users/userId:spec-1/verification", T_VERIFY, k1, NULL, 0, 200);
	answer("POST", "/v1/users/userId:spec-1/verification", T_VERIFY, k1, NULL, 0, 200, &r);
	ck_assert(kt_header(&r, "Idempotent-Replayed", v, sizeof(v)));
	kt_resp_free(&r);
	answer_only("PUT", "/v1/users/userId:spec-1/consent", T_CONSENT, kc, consent_body,
	            strlen(consent_body), 200);
	answer("PUT", "/v1/users/userId:spec-1/consent", T_CONSENT, kc, other, strlen(other), 422,
	       &r);
	it_assert_problem(&r, 422, "idempotency-key-reused");
	kt_resp_free(&r);
	answer_only("POST", "/v1/users/userId:spec-1/verification", T_VERIFY, bad, NULL, 0, 400);
	ck_assert_int_eq(pthread_create(&t, NULL, bg_answer_main, &first), 0);
	usleep(400 * 1000);
	answer("POST", first.target, T_VERIFY, k3, NULL, 0, 409, &r);
	it_assert_problem(&r, 409, "idempotency-key-in-flight");
	kt_resp_free(&r);
	pthread_join(t, NULL);
	record("POST", T_VERIFY, &first.r);
	kt_resp_free(&first.r);
}
END_TEST

/* Watches (design §10): an explicit watch's view, its end, and the problems of the routes. */
START_TEST(watches)
{
	static const char *const env[] = {"IT_API_KEY=" IT_KEY, NULL};
	const char *const rd[] = {IT_READER, NULL};
	char yaml[sizeof(it_gateway_yaml) + 64];
	struct kt_proc full, main_gw = it_gw;
	struct kt_resp r;

	answer("PUT", "/v1/users/userId:spec-w/watch?products=onramp", T_WATCH, rd, NULL, 0, 200,
	       &r);
	ck_assert_str_eq(kt_str(r.json, "kind"), "explicit");
	kt_resp_free(&r);
	answer_only("GET", "/v1/users/userId:spec-w/watch", T_WATCH, rd, NULL, 0, 200);
	answer_only("PUT", "/v1/users/userId:spec-w/watch?products=nope", T_WATCH, rd, NULL, 0,
	            400);
	answer_only("DELETE", "/v1/users/userId:spec-w/watch", T_WATCH, rd, NULL, 0, 204);
	answer("GET", "/v1/users/userId:spec-w/watch", T_WATCH, rd, NULL, 0, 404, &r);
	it_assert_problem(&r, 404, "not-watched");
	kt_resp_free(&r);
	answer_only("DELETE", "/v1/users/userId:spec-w/watch", T_WATCH, rd, NULL, 0, 404);
	snprintf(yaml, sizeof(yaml), "%sevents: {watch: {max_watches: 0}}\n", it_gateway_yaml);
	kt_start_gateway(&full, yaml, it_sim.port, env);
	it_gw = full; /* answer() talks to it_gw */
	answer("PUT", "/v1/users/userId:spec-w/watch", T_WATCH, rd, NULL, 0, 503, &r);
	it_assert_problem(&r, 503, "watch-capacity");
	kt_resp_free(&r);
	it_gw = main_gw;
	ck_assert_int_eq(kt_stop(&full), 0);
}
END_TEST

/* The event feed and the observed users (issue 10 items 7, 8): pages, a wait that ends empty, bad
 * parameters. */
START_TEST(events)
{
	const char *const rd[] = {IT_READER, NULL};
	long long deadline = kt_now_ms() + 10000;
	struct kt_resp r;
	char t[128];

	/* spec-1 was read above: its first observation is an event (recorded asynchronously). */
	for (;;) {
		answer("GET", "/v1/events?limit=500", "/v1/events", rd, NULL, 0, 200, &r);
		if (json_object_array_length(json_object_object_get(r.json, "events")) > 0 ||
		    kt_now_ms() > deadline)
			break;
		kt_resp_free(&r);
		usleep(50 * 1000);
	}
	ck_assert_int_gt(json_object_array_length(json_object_object_get(r.json, "events")), 0);
	snprintf(t, sizeof(t), "/v1/events?after=%s&wait=1&userLocator=userId:nobody-here",
	         kt_str(r.json, "next"));
	kt_resp_free(&r);
	answer_only("GET", t, "/v1/events", rd, NULL, 0, 200);
	answer_only("GET", "/v1/events?limit=0", "/v1/events", rd, NULL, 0, 400);
	answer_only("GET", "/v1/users?overall=in-review&limit=2", "/v1/users", rd, NULL, 0, 200);
	answer("GET", "/v1/users?limit=1", "/v1/users", rd, NULL, 0, 200, &r);
	ck_assert_int_eq(json_object_array_length(json_object_object_get(r.json, "users")), 1);
	kt_resp_free(&r);
	answer_only("GET", "/v1/users?product=nope", "/v1/users", rd, NULL, 0, 400);
}
END_TEST

/* A gateway without a store refuses a key with 503 store-disabled. */
START_TEST(store_disabled)
{
	static const char *const env[] = {"IT_API_KEY=" IT_KEY, NULL};
	const char *const kc[] = {IT_WRITER, IT_JSON, "Idempotency-Key: spec-none-1", NULL};
	char yaml[sizeof(it_gateway_yaml) + 32];
	struct kt_proc none, main_gw = it_gw;
	struct kt_resp r;

	snprintf(yaml, sizeof(yaml), "%sstore: {driver: none}\n", it_gateway_yaml);
	kt_start_gateway(&none, yaml, it_sim.port, env);
	it_gw = none; /* answer() talks to it_gw */
	answer("PUT", "/v1/users/userId:spec-1/consent", T_CONSENT, kc, consent_body,
	       strlen(consent_body), 503, &r);
	it_assert_problem(&r, 503, "store-disabled");
	kt_resp_free(&r);
	answer("GET", "/v1/users/userId:spec-1/watch", T_WATCH, kc, NULL, 0, 503, &r);
	it_assert_problem(&r, 503, "store-disabled");
	kt_resp_free(&r);
	answer("GET", "/v1/events", "/v1/events", kc, NULL, 0, 503, &r);
	it_assert_problem(&r, 503, "store-disabled");
	kt_resp_free(&r);
	answer_only("GET", "/v1/users", "/v1/users", kc, NULL, 0, 503);
	it_gw = main_gw;
	ck_assert_int_eq(kt_stop(&none), 0);
}
END_TEST

/* Appends text to buf (cap bytes), asserting it fits. */
static void append_text(char *buf, size_t cap, const char *text)
{
	size_t used = strlen(buf);

	ck_assert_uint_lt(used + strlen(text), cap);
	memcpy(buf + used, text, strlen(text) + 1);
}

#define T_WEBHOOKS "/v1/webhooks"
#define T_WEBHOOK_RETRY "/v1/webhooks/{webhookName}/retry"

/* The webhook routes (design §10) on a gateway with one endpoint (nothing listens there: no
 * event is needed for these answers), and without a store. */
START_TEST(webhooks)
{
	static const char *const env[] = {"IT_API_KEY=" IT_KEY, NULL};
	static const char extra[] = "    - name: ops\n"
	                            "      token: \"ops-token-0123456789abcdefgh\"\n"
	                            "      scopes: [webhooks.manage]\n"
	                            "events:\n"
	                            "  webhooks:\n"
	                            "    - name: compliance\n"
	                            "      url: \"http://127.0.0.1:9/hook?token=abc\"\n"
	                            "      secret: \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n";
	const char *const ops[] = {"Authorization: Bearer ops-token-0123456789abcdefgh", NULL};
	const char *const reader[] = {IT_READER, NULL};
	char yaml[sizeof(it_gateway_yaml) + sizeof(extra) + 64], *clients_end;
	struct kt_proc hooks, none, main_gw = it_gw;
	struct kt_resp r;

	/* The extra client goes at the end of auth.clients, before the log section. */
	snprintf(yaml, sizeof(yaml), "%s", it_gateway_yaml);
	clients_end = strstr(yaml, "log:\n");
	ck_assert_ptr_nonnull(clients_end);
	snprintf(clients_end, sizeof(yaml) - (size_t)(clients_end - yaml), "%s%s", extra,
	         strstr(it_gateway_yaml, "log:\n"));
	kt_start_gateway(&hooks, yaml, it_sim.port, env);
	it_gw = hooks; /* answer() talks to it_gw */
	answer("GET", "/v1/webhooks", T_WEBHOOKS, ops, NULL, 0, 200, &r);
	ck_assert_str_eq(
	    kt_str(json_object_array_get_idx(json_object_object_get(r.json, "webhooks"), 0), "url"),
	    "http://127.0.0.1:9");
	kt_resp_free(&r);
	answer_only("GET", "/v1/webhooks", T_WEBHOOKS, reader, NULL, 0, 403);
	answer_only("GET", "/v1/webhooks", T_WEBHOOKS, NULL, NULL, 0, 401);
	answer_only("POST", "/v1/webhooks/compliance/retry", T_WEBHOOK_RETRY, ops, NULL, 0, 200);
	answer_only("POST", "/v1/webhooks/other/retry", T_WEBHOOK_RETRY, ops, NULL, 0, 404);
	answer_only("DELETE", "/v1/webhooks", T_WEBHOOKS, ops, NULL, 0, 405);
	it_gw = main_gw;
	ck_assert_int_eq(kt_stop(&hooks), 0);

	append_text(yaml, sizeof(yaml), "store: {driver: none}\n");
	kt_start_gateway(&none, yaml, it_sim.port, env);
	it_gw = none;
	answer("GET", "/v1/webhooks", T_WEBHOOKS, ops, NULL, 0, 503, &r);
	it_assert_problem(&r, 503, "store-disabled");
	kt_resp_free(&r);
	it_gw = main_gw;
	ck_assert_int_eq(kt_stop(&none), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("it_spec");
	TCase *tc = tcase_create("spec");
	int failed;

	tcase_add_unchecked_fixture(tc, spec_setup, spec_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, operations);
	tcase_add_test(tc, users_and_consent);
	tcase_add_test(tc, documents);
	tcase_add_test(tc, verification);
	tcase_add_test(tc, wallets);
	tcase_add_test(tc, gateway_errors);
	tcase_add_test(tc, upstream_errors);
	tcase_add_test(tc, idempotency);
	tcase_add_test(tc, watches);
	tcase_add_test(tc, events);
	tcase_add_test(tc, store_disabled);
	tcase_add_test(tc, webhooks);
	tcase_add_test(tc, answers_match_spec);
	suite_add_tcase(s, tc);
	failed = kt_run_suite(s);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
