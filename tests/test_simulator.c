/* Tests of the built-in simulator over real HTTP: each test starts one in-process on an ephemeral
 * loopback port (kg_sim_start, port 0) and talks to it with libcurl. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <curl/curl.h>
#include <json-c/json.h>

#include "kycgate/common.h"
#include "kycgate/simulator.h"

#define KEY "sk_test_simulator_key"
#define V "/2025-06-09"
#define PNG                                                                                        \
	"data:image/"                                                                              \
	"png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+"                 \
	"M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

static struct kg_sim *sim;
static char base[64];

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void start_sim(unsigned review_delay_ms)
{
	static const char edd[][3] = {"AE", "TR"};
	struct kg_sim_opts o = {0};
	char err[256] = "";

	o.host = "127.0.0.1";
	o.api_key = KEY;
	o.review_delay_ms = review_delay_ms;
	o.edd_countries = edd;
	o.n_edd_countries = 2;
	sim = kg_sim_start(&o, err, sizeof(err));
	ck_assert_msg(sim != NULL, "kg_sim_start: %s", err);
	ck_assert_uint_ne(kg_sim_port(sim), 0);
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", (unsigned)kg_sim_port(sim));
}

static void setup(void)
{
	start_sim(200);
}

static void teardown(void)
{
	kg_sim_stop(sim);
	sim = NULL;
}

/* ---- HTTP helpers ---------------------------------------------------------------------------- */

struct resp {
	CURLcode rc;
	long status;
	char *body;
	size_t len;
	char location[256];
	char retry_after[64];
	char content_type[128];
	char allow[64];
	unsigned long long ms; /* time taken */
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct resp *r = ud;
	char *b = realloc(r->body, r->len + size * n + 1);

	if (b == NULL)
		return 0;
	memcpy(b + r->len, p, size * n);
	r->body = b;
	r->len += size * n;
	r->body[r->len] = '\0';
	return size * n;
}

static void keep_header(const char *line, size_t len, const char *name, char *out, size_t cap)
{
	size_t n = strlen(name);
	size_t v;

	if (len <= n + 1 || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return;
	for (v = n + 1; v < len && line[v] == ' '; v++)
		;
	while (len > v && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	snprintf(out, cap, "%.*s", (int)(len - v), line + v);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct resp *r = ud;

	keep_header(p, size * n, "Location", r->location, sizeof(r->location));
	keep_header(p, size * n, "Retry-After", r->retry_after, sizeof(r->retry_after));
	keep_header(p, size * n, "Content-Type", r->content_type, sizeof(r->content_type));
	keep_header(p, size * n, "Allow", r->allow, sizeof(r->allow));
	return size * n;
}

static void resp_free(struct resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* Sets up an easy handle for method on path with body (len bytes, NULL for none) and headers. */
static CURL *easy_for(struct resp *r, const char *method, const char *path, const char *body,
                      size_t len, struct curl_slist *headers)
{
	CURL *c = curl_easy_init();
	char url[4096];

	ck_assert_ptr_nonnull(c);
	snprintf(url, sizeof(url), "%s%s", base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	if (strcmp(method, "GET") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL || strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body == NULL ? "" : body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	return c;
}

/* Sends one request; extra header lines (NULL-terminated) replace the defaults they name. */
static void http_raw(struct resp *r, const char *method, const char *path, const char *body,
                     size_t len, const char *const *lines)
{
	struct curl_slist *h = NULL;
	unsigned long long t0 = kg_now_ms();
	CURL *c;

	memset(r, 0, sizeof(*r));
	h = curl_slist_append(h, "Expect:");
	for (; lines != NULL && *lines != NULL; lines++)
		h = curl_slist_append(h, *lines);
	c = easy_for(r, method, path, body, len, h);
	r->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	r->ms = kg_now_ms() - t0;
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
}

/* A request with the right key; a body goes as application/json, no body without any type. */
static void http(struct resp *r, const char *method, const char *path, const char *body)
{
	const char *json[] = {"X-API-KEY: " KEY, "Content-Type: application/json", NULL};
	const char *none[] = {"X-API-KEY: " KEY, "Content-Type:", NULL};

	http_raw(r, method, path, body, body == NULL ? 0 : strlen(body), body ? json : none);
}

static void assert_json(const struct resp *r, long status, const char *want)
{
	struct json_object *w = json_tokener_parse(want);
	struct json_object *g = r->body == NULL ? NULL : json_tokener_parse(r->body);

	ck_assert_msg(r->rc == CURLE_OK, "curl: %s", curl_easy_strerror(r->rc));
	ck_assert_msg(r->status == status, "status %ld, want %ld (body %s)", r->status, status,
	              r->body ? r->body : "");
	ck_assert_msg(w != NULL, "bad expectation %s", want);
	ck_assert_msg(json_object_equal(g, w), "body %s, want %s", r->body ? r->body : "", want);
	ck_assert_str_eq(r->content_type, "application/json");
	json_object_put(w);
	json_object_put(g);
}

/* Asserts a Crossmint-like error answer with this status and message. */
static void assert_error(const struct resp *r, long status, const char *message)
{
	char want[512];

	snprintf(want, sizeof(want), "{\"error\":true,\"message\":\"%s\"}", message);
	assert_json(r, status, want);
}

static void assert_status(const struct resp *r, long status)
{
	ck_assert_msg(r->rc == CURLE_OK, "curl: %s", curl_easy_strerror(r->rc));
	ck_assert_msg(r->status == status, "status %ld, want %ld (body %s)", r->status, status,
	              r->body ? r->body : "");
}

static const char *user_path(char *buf, size_t cap, const char *loc, const char *suffix)
{
	snprintf(buf, cap, V "/users/%s%s", loc, suffix);
	return buf;
}

/* ---- flow helpers ---------------------------------------------------------------------------- */

static void consent(const char *loc)
{
	struct resp r;
	char p[512];

	http(&r, "PUT", user_path(p, sizeof(p), loc, "/legal-documents"),
	     "{\"type\":\"crossmint-privacy-policy\",\"acceptedAt\":\"2025-01-02T03:04:05Z\"}");
	assert_json(&r, 200, "{\"acceptedAt\":\"2025-01-02T03:04:05Z\"}");
	resp_free(&r);
}

struct ub {
	const char *country; /* NULL: no userDetails */
	const char *last;    /* NULL: "Doe" */
	bool kyc;
	const char *state; /* stateOrRegion, or NULL */
	bool ssn;          /* identityDocument ssn instead of passport */
	bool phone;
	bool dd;
	bool vh;
};

static void add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static struct json_object *kyc_object(const struct ub *b)
{
	struct json_object *kyc = json_object_new_object();
	struct json_object *addr = json_object_new_object();
	struct json_object *id = json_object_new_object();

	add_str(kyc, "nationality", b->country ? b->country : "DE");
	add_str(addr, "line1", "1 Main Street");
	add_str(addr, "city", "Somewhere");
	add_str(addr, "postalCode", "12345");
	if (b->state != NULL)
		add_str(addr, "stateOrRegion", b->state);
	json_object_object_add(kyc, "addressOfResidence", addr);
	add_str(kyc, "email", "user@example.com");
	if (b->phone)
		add_str(kyc, "phoneNumber", "+12125551234");
	add_str(id, "type", b->ssn ? "ssn" : "passport");
	add_str(id, "number", b->ssn ? "123-45-6789" : "AB123456");
	json_object_object_add(kyc, "identityDocument", id);
	return kyc;
}

static void put_user(const char *loc, const struct ub *b, long want_status)
{
	struct json_object *o = json_object_new_object();
	struct resp r;
	char p[512];

	if (b->country != NULL) {
		struct json_object *d = json_object_new_object();

		add_str(d, "firstName", "Jane");
		add_str(d, "lastName", b->last ? b->last : "Doe");
		add_str(d, "dateOfBirth", "1990-01-15");
		add_str(d, "countryOfResidence", b->country);
		json_object_object_add(o, "userDetails", d);
	}
	if (b->kyc)
		json_object_object_add(o, "kycData", kyc_object(b));
	if (b->dd) {
		struct json_object *d = json_object_new_object();

		add_str(d, "employmentStatus", "full-time");
		add_str(d, "sourceOfFunds", "salary-disbursement");
		add_str(d, "industry", "financial-institution");
		add_str(d, "estimatedYearlyIncome", "income-50k-100k");
		json_object_object_add(o, "dueDiligence", d);
	}
	if (b->vh) {
		struct json_object *d = json_object_new_object();

		add_str(d, "idVerificationTimestamp", "2024-01-15T10:30:00Z");
		add_str(d, "livenessVerificationTimestamp", "2024-01-15T10:32:00Z");
		json_object_object_add(o, "verificationHistory", d);
	}
	http(&r, "PUT", user_path(p, sizeof(p), loc, ""), json_object_to_json_string(o));
	assert_status(&r, want_status);
	resp_free(&r);
	json_object_put(o);
}

static void upload_doc(struct resp *r, const char *loc, const char *type, const char *expires)
{
	struct json_object *o = json_object_new_object();
	struct json_object *ref = json_object_new_object();

	add_str(ref, "userLocator", loc);
	json_object_object_add(o, "reference", ref);
	add_str(o, "documentType", type);
	add_str(o, "data", PNG);
	if (expires != NULL)
		add_str(o, "expiresAt", expires);
	http(r, "POST", V "/documents", json_object_to_json_string(o));
	json_object_put(o);
}

static void upload(const char *loc, const char *type)
{
	struct resp r;

	upload_doc(&r, loc, type, NULL);
	assert_status(&r, 201);
	resp_free(&r);
}

/* Asserts the eligibility answer: onramp and offramp are {"type"} + onoff, regulated-transfer
 * is {"type"} + rt (JSON object texts). */
static void assert_elig(const struct resp *r, const char *onoff, const char *rt)
{
	static const char *const types[] = {"onramp", "offramp", "regulated-transfer"};
	struct json_object *g = r->body ? json_tokener_parse(r->body) : NULL;
	struct json_object *arr = NULL;
	int i;

	assert_status(r, 200);
	ck_assert_msg(json_object_object_get_ex(g, "eligibility", &arr), "body %s", r->body);
	ck_assert_int_eq((int)json_object_array_length(arr), 3);
	for (i = 0; i < 3; i++) {
		struct json_object *w = json_tokener_parse(i < 2 ? onoff : rt);

		ck_assert_ptr_nonnull(w);
		json_object_object_add(w, "type", json_object_new_string(types[i]));
		ck_assert_msg(json_object_equal(json_object_array_get_idx(arr, (size_t)i), w),
		              "entry %d of %s, want %s", i, r->body, json_object_to_json_string(w));
		json_object_put(w);
	}
	json_object_put(g);
}

static void trigger(struct resp *r, const char *loc)
{
	char p[512];

	http(r, "PUT", user_path(p, sizeof(p), loc, "/identity-verification"), NULL);
}

static void status_of(struct resp *r, const char *loc)
{
	char p[512];

	http(r, "GET", user_path(p, sizeof(p), loc, "/identity-verification"), NULL);
}

static void expect_trigger(const char *loc, const char *onoff, const char *rt)
{
	struct resp r;

	trigger(&r, loc);
	assert_elig(&r, onoff, rt);
	resp_free(&r);
}

#define PENDING "{\"status\":\"pending-review\"}"
#define VERIFIED "{\"status\":\"verified\"}"

/* ---- authentication and routing -------------------------------------------------------------- */

START_TEST(test_auth)
{
	const char *none[] = {NULL};
	const char *wrong[] = {"X-API-KEY: nope", NULL};
	const char *empty[] = {"X-API-KEY;", NULL};
	const char *prefix[] = {"X-API-KEY: " KEY "x", NULL};
	const char *shorter[] = {"X-API-KEY: sk_test_simulator_ke", NULL};
	const char *same_len[] = {"X-API-KEY: sk_test_simulator_kez", NULL}; /* last byte differs */
	const char *other[] = {"X-API-KEY: anything", NULL};
	const char *right[] = {"X-API-KEY: " KEY, NULL};
	struct resp r;

	http_raw(&r, "GET", V "/users/userId:a", NULL, 0, none);
	assert_error(&r, 401, "Unauthorized");
	resp_free(&r);
	http_raw(&r, "GET", V "/users/userId:a", NULL, 0, wrong);
	assert_error(&r, 401, "Unauthorized");
	resp_free(&r);
	http_raw(&r, "GET", V "/users/userId:a", NULL, 0, empty);
	assert_error(&r, 401, "Unauthorized");
	resp_free(&r);
	http_raw(&r, "GET", V "/users/userId:a", NULL, 0, prefix);
	assert_error(&r, 401, "Unauthorized");
	resp_free(&r);
	http_raw(&r, "GET", V "/users/userId:a", NULL, 0, shorter);
	assert_error(&r, 401, "Unauthorized");
	resp_free(&r);
	http_raw(&r, "GET", V "/users/userId:a", NULL, 0, same_len);
	assert_error(&r, 401, "Unauthorized");
	resp_free(&r);
	http_raw(&r, "GET", V "/users/userId:a", NULL, 0, right);
	assert_error(&r, 404, "User not found");
	resp_free(&r);

	kg_sim_set_api_key(sim, NULL); /* any non-empty key */
	http_raw(&r, "GET", V "/users/userId:a", NULL, 0, other);
	assert_status(&r, 404);
	resp_free(&r);
	http_raw(&r, "GET", V "/users/userId:a", NULL, 0, empty);
	assert_status(&r, 401);
	resp_free(&r);
	http_raw(&r, "GET", V "/users/userId:a", NULL, 0, none);
	assert_status(&r, 401);
	resp_free(&r);

	kg_sim_set_api_key(sim, "anything");
	http_raw(&r, "GET", V "/users/userId:a", NULL, 0, other);
	assert_status(&r, 404);
	resp_free(&r);
	http_raw(&r, "GET", V "/users/userId:a", NULL, 0, right);
	assert_status(&r, 401);
	resp_free(&r);
}
END_TEST

START_TEST(test_not_found_and_method)
{
	static const char *const missing[] = {
	    "/",
	    "/nope",
	    V,
	    V "/",
	    V "/users",
	    V "/users/",
	    V "/users/userId:a/",
	    V "/users/userId:a/consent",
	    V "/users/userId:a/linked-wallets",
	    V "/users/userId:a/linked-wallets/0xabc/x",
	    V "/documents/",
	    "/2025-06-10/documents",
	    "/_simulator/other",
	    V "/users//legal-documents",
	};
	struct resp r;
	size_t i;

	for (i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
		http(&r, "GET", missing[i], NULL);
		assert_error(&r, 404, "Not found");
		resp_free(&r);
	}
	http(&r, "POST", V "/users/userId:a", "{}");
	assert_error(&r, 405, "Method not allowed");
	ck_assert_str_eq(r.allow, "GET, PUT");
	resp_free(&r);
	http(&r, "GET", V "/users/userId:a/legal-documents", NULL);
	assert_error(&r, 405, "Method not allowed");
	ck_assert_str_eq(r.allow, "PUT");
	resp_free(&r);
	http(&r, "DELETE", V "/documents", NULL);
	assert_error(&r, 405, "Method not allowed");
	resp_free(&r);
	http(&r, "PATCH", V "/users/userId:a/linked-wallets/0xabc", "{}");
	assert_error(&r, 405, "Method not allowed");
	ck_assert_str_eq(r.allow, "GET, PUT, DELETE");
	resp_free(&r);
	http(&r, "PUT", V "/documents/doc_1", "{}");
	assert_status(&r, 405);
	resp_free(&r);
}
END_TEST

START_TEST(test_unknown_user)
{
	static const char *const reads[] = {
	    V "/users/userId:ghost",
	    V "/users/userId:ghost/identity-verification",
	    V "/users/userId:ghost/linked-wallets/0xabc",
	};
	struct resp r;
	size_t i;

	for (i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
		http(&r, "GET", reads[i], NULL);
		assert_error(&r, 404, "User not found");
		resp_free(&r);
	}
	trigger(&r, "userId:ghost");
	assert_error(&r, 404, "User not found");
	resp_free(&r);
	http(&r, "PUT", V "/users/userId:ghost/linked-wallets/0xabc", "{\"chain\":\"base\"}");
	assert_error(&r, 404, "User not found");
	resp_free(&r);
	http(&r, "DELETE", V "/users/userId:ghost/linked-wallets/0xabc", NULL);
	assert_error(&r, 404, "User not found");
	resp_free(&r);

	/* a document needs its user: it neither lands nor makes the user exist */
	upload_doc(&r, "userId:ghost", "id-passport", NULL);
	assert_error(&r, 404, "User not found");
	resp_free(&r);
	http(&r, "GET", V "/users/userId:ghost", NULL);
	assert_status(&r, 404);
	resp_free(&r);
}
END_TEST

/* ---- routes ---------------------------------------------------------------------------------- */

START_TEST(test_user_routes)
{
	const struct ub full = {"DE", NULL, true, NULL, false, true, false, false};
	const char *want =
	    "{\"userDetails\":true,\"kycData\":true,\"dueDiligence\":false,"
	    "\"verificationHistory\":false,\"email\":\"user@example.com\","
	    "\"phoneNumber\":\"+12125551234\",\"userId\":\"alice-1\",\"legalDocuments\":[]}";
	const char *want_consented =
	    "{\"userDetails\":true,\"kycData\":true,\"dueDiligence\":false,"
	    "\"verificationHistory\":false,\"email\":\"user@example.com\","
	    "\"phoneNumber\":\"+12125551234\",\"userId\":\"alice-1\",\"legalDocuments\":["
	    "{\"type\":\"crossmint-privacy-policy\",\"acceptedAt\":\"2025-01-02T03:04:05Z\","
	    "\"isValidVersion\":true},"
	    "{\"type\":\"crossmint-terms-of-service\",\"acceptedAt\":\"2025-01-02T03:04:06.5Z\","
	    "\"isValidVersion\":true}]}";
	struct resp r;

	put_user("userId:alice-1", &full, 201);
	http(&r, "GET", V "/users/userId:alice-1", NULL);
	assert_json(&r, 200, want);
	resp_free(&r);
	put_user("userId:alice-1", &full, 200);

	consent("userId:alice-1");
	http(&r, "PUT", V "/users/userId:alice-1/legal-documents",
	     "{\"type\":\"crossmint-terms-of-service\",\"acceptedAt\":\"2025-01-02T03:04:06.5Z\","
	     "\"region\":\"eu\"}");
	assert_json(&r, 200, "{\"acceptedAt\":\"2025-01-02T03:04:06.5Z\"}");
	resp_free(&r);
	http(&r, "GET", V "/users/userId:alice-1", NULL);
	assert_json(&r, 200, want_consented);
	resp_free(&r);

	/* a full replace: sections left out are gone; unknown top-level keys are ignored */
	http(&r, "PUT", V "/users/userId:alice-1", "{\"somethingNew\":1}");
	assert_status(&r, 200);
	resp_free(&r);
	http(&r, "GET", V "/users/userId:alice-1", NULL);
	ck_assert_ptr_nonnull(strstr(r.body, "\"userDetails\":false"));
	ck_assert_ptr_null(strstr(r.body, "email"));
	resp_free(&r);

	/* consent alone creates the user; a non-userId locator has no userId */
	consent("email:bob@example.com");
	http(&r, "GET", V "/users/email:bob@example.com", NULL);
	assert_json(&r, 200,
	            "{\"userDetails\":false,\"kycData\":false,\"dueDiligence\":false,"
	            "\"verificationHistory\":false,\"legalDocuments\":[{\"type\":"
	            "\"crossmint-privacy-policy\",\"acceptedAt\":\"2025-01-02T03:04:05Z\","
	            "\"isValidVersion\":true}]}");
	resp_free(&r);
	put_user("email:bob@example.com", &full, 200); /* it exists: updated, not created */
}
END_TEST

static void assert_doc(const struct resp *r, long status, const char *type, const char *expires,
                       char *id_out, size_t idcap)
{
	struct json_object *o;
	struct json_object *v;
	const char *id;
	size_t i;

	assert_status(r, status);
	o = json_tokener_parse(r->body);
	ck_assert_ptr_nonnull(o);
	ck_assert(json_object_object_get_ex(o, "id", &v));
	id = json_object_get_string(v);
	ck_assert_uint_eq(strlen(id), 28);
	ck_assert(strncmp(id, "doc_", 4) == 0);
	for (i = 4; i < 28; i++)
		ck_assert(strchr("0123456789abcdef", id[i]) != NULL);
	snprintf(id_out, idcap, "%s", id);
	ck_assert(json_object_object_get_ex(o, "documentType", &v));
	ck_assert_str_eq(json_object_get_string(v), type);
	ck_assert(json_object_object_get_ex(o, "createdAt", &v));
	ck_assert_uint_eq(strlen(json_object_get_string(v)), 24);
	ck_assert_int_eq(json_object_get_string(v)[23], 'Z');
	if (expires == NULL) {
		ck_assert(!json_object_object_get_ex(o, "expiresAt", NULL));
	} else {
		ck_assert(json_object_object_get_ex(o, "expiresAt", &v));
		ck_assert_str_eq(json_object_get_string(v), expires);
	}
	ck_assert_int_eq(json_object_object_length(o), expires ? 4 : 3);
	json_object_put(o);
}

START_TEST(test_document_routes)
{
	char id[64];
	char id2[64];
	char id3[64];
	char path[128];
	struct resp r;
	struct resp g;

	consent("userId:doc-owner");
	upload_doc(&r, "userId:doc-owner", "id-passport", "2031-12-31");
	assert_doc(&r, 201, "id-passport", "2031-12-31", id, sizeof(id));
	snprintf(path, sizeof(path), V "/documents/%s", id);
	http(&g, "GET", path, NULL);
	assert_json(&g, 200, r.body);
	resp_free(&g);
	resp_free(&r);

	/* create-or-replace per (user, type): same id, 200 */
	upload_doc(&r, "userId:doc-owner", "id-passport", NULL);
	assert_doc(&r, 200, "id-passport", NULL, id2, sizeof(id2));
	ck_assert_str_eq(id, id2);
	http(&g, "GET", path, NULL);
	assert_json(&g, 200, r.body);
	resp_free(&g);
	resp_free(&r);

	upload_doc(&r, "userId:doc-owner", "id-ssn", NULL); /* id-ssn is in the enum */
	assert_doc(&r, 201, "id-ssn", NULL, id3, sizeof(id3));
	ck_assert_str_ne(id, id3);
	resp_free(&r);

	http(&r, "GET", V "/documents/doc_0000", NULL);
	assert_error(&r, 404, "Document not found");
	resp_free(&r);
}
END_TEST

START_TEST(test_wallet_routes)
{
	const char *wp = V "/users/userId:w/linked-wallets/0xAbC123";
	struct json_object *o;
	struct json_object *own;
	struct json_object *v;
	struct resp r;
	struct resp g;

	consent("userId:w");
	http(&r, "PUT", wp, "{\"chain\":\"base-sepolia\",\"proof\":\"0xsig\"}");
	assert_status(&r, 200);
	o = json_tokener_parse(r.body);
	ck_assert(json_object_object_get_ex(o, "ownership", &own));
	ck_assert(json_object_object_get_ex(own, "verificationChallenge", &v));
	ck_assert_uint_gt(strlen(json_object_get_string(v)), 10);
	json_object_object_del(own, "verificationChallenge");
	ck_assert_str_eq(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
	                 "{\"address\":\"0xAbC123\",\"chain\":\"base-sepolia\",\"type\":"
	                 "\"external-wallet\",\"ownership\":{\"verified\":false}}");
	json_object_put(o);
	http(&g, "GET", wp, NULL);
	assert_json(&g, 200, r.body);
	resp_free(&g);
	resp_free(&r);

	http(&r, "PUT", wp, "{\"chain\":\"ethereum\"}"); /* re-link: new chain, 200 */
	assert_status(&r, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "\"chain\":\"ethereum\""));
	resp_free(&r);

	http(&r, "DELETE", wp, NULL);
	assert_status(&r, 200);
	ck_assert_uint_eq(r.len, 0);
	ck_assert_str_eq(r.content_type, "");
	resp_free(&r);
	http(&r, "GET", wp, NULL);
	assert_error(&r, 404, "External wallet not found for this user");
	resp_free(&r);
	http(&r, "DELETE", wp, NULL);
	assert_error(&r, 404, "External wallet not found for this user");
	resp_free(&r);
}
END_TEST

/* ---- eligibility ----------------------------------------------------------------------------- */

START_TEST(test_not_started_and_snapshot)
{
	const struct ub full = {"BR", NULL, true, NULL, false, false, true, true};
	const char *everything = "{\"status\":\"requires-data\",\"missingData\":[\"user-details\","
	                         "\"kyc-data\",\"due-diligence\",\"verification-history\"],"
	                         "\"missingDocuments\":[\"id\",\"selfie\"]}";
	const char *details = "{\"status\":\"requires-data\",\"missingData\":[\"user-details\"]}";
	struct resp r;

	consent("userId:snap");
	status_of(&r, "userId:snap");
	assert_elig(&r, "{\"status\":\"not-started\"}", "{\"status\":\"not-started\"}");
	resp_free(&r);

	expect_trigger("userId:snap", everything, details);

	/* data sent after the trigger shows only at the next trigger */
	put_user("userId:snap", &full, 200);
	upload("userId:snap", "id-passport");
	upload("userId:snap", "selfie-front");
	status_of(&r, "userId:snap");
	assert_elig(&r, everything, details);
	resp_free(&r);
	expect_trigger("userId:snap", PENDING, PENDING);
}
END_TEST

START_TEST(test_flow_eu_idcard_verified)
{
	const struct ub de = {"DE", NULL, true, NULL, false, false, true, true};
	unsigned long long t0;
	unsigned long long t1;
	struct resp r;

	consent("userId:de");
	put_user("userId:de", &de, 200);
	expect_trigger("userId:de",
	               "{\"status\":\"requires-data\",\"missingDocuments\":[\"id\",\"selfie\"]}",
	               PENDING);
	upload("userId:de", "id-idcard-front");
	upload("userId:de", "selfie-front");
	expect_trigger("userId:de", "{\"status\":\"requires-data\",\"missingDocuments\":[\"id\"]}",
	               PENDING);
	upload("userId:de", "id-idcard-back");

	t0 = kg_now_ms();
	expect_trigger("userId:de", PENDING, PENDING);
	status_of(&r, "userId:de");
	t1 = kg_now_ms();
	if (t1 - t0 < 200) /* read within the review delay of 200 ms */
		assert_elig(&r, PENDING, PENDING);
	resp_free(&r);
	sleep_ms(250);
	status_of(&r, "userId:de");
	assert_elig(&r, VERIFIED, VERIFIED);
	resp_free(&r);
	/* a new trigger takes a new snapshot: pending again */
	expect_trigger("userId:de", PENDING, PENDING);
}
END_TEST

START_TEST(test_flow_non_eu_passport)
{
	const struct ub br = {"BR", NULL, true, NULL, false, false, true, true};

	consent("userId:br");
	put_user("userId:br", &br, 200);
	upload("userId:br", "id-idcard-front"); /* ID cards count only in the EU/EEA */
	upload("userId:br", "id-idcard-back");
	upload("userId:br", "id-residency-permit");
	upload("userId:br", "selfie-left");
	expect_trigger("userId:br",
	               "{\"status\":\"requires-data\",\"missingDocuments\":[\"id\",\"selfie\"]}",
	               PENDING);
	upload("userId:br", "id-passport");
	upload("userId:br", "selfie-front");
	expect_trigger("userId:br", PENDING, PENDING);
}
END_TEST

START_TEST(test_flow_us_states)
{
	const struct ub ca = {"US", NULL, true, "CA", true, true, false, true};
	const struct ub tx = {"US", NULL, true, "TX", true, true, false, true};
	const struct ub tx_dd = {"US", NULL, true, "TX", true, true, true, true};
	const struct ub no_phone = {"US", NULL, true, "CA", true, false, false, true};
	const struct ub passport = {"US", NULL, true, "CA", false, true, false, true};

	consent("userId:us-ca");
	put_user("userId:us-ca", &ca, 200);
	expect_trigger("userId:us-ca", PENDING, PENDING); /* no documents, no due diligence */

	consent("userId:us-tx");
	put_user("userId:us-tx", &tx, 200);
	expect_trigger("userId:us-tx",
	               "{\"status\":\"requires-data\",\"missingData\":[\"due-diligence\"]}",
	               PENDING);
	put_user("userId:us-tx", &tx_dd, 200);
	expect_trigger("userId:us-tx", PENDING, PENDING);

	put_user("userId:us-ca", &no_phone, 200);
	expect_trigger("userId:us-ca",
	               "{\"status\":\"requires-data\",\"missingData\":[\"kyc-data\"]}", PENDING);
	put_user("userId:us-ca", &passport, 200);
	expect_trigger("userId:us-ca",
	               "{\"status\":\"requires-data\",\"missingData\":[\"kyc-data\"]}", PENDING);
}
END_TEST

START_TEST(test_flow_es_residency_permit)
{
	const struct ub es = {"ES", NULL, true, NULL, false, false, true, true};
	const struct ub fr = {"FR", NULL, true, NULL, false, false, true, true};

	consent("userId:es");
	put_user("userId:es", &es, 200);
	upload("userId:es", "id-residency-permit");
	upload("userId:es", "selfie-front");
	expect_trigger("userId:es", PENDING, PENDING);

	consent("userId:fr");
	put_user("userId:fr", &fr, 200);
	upload("userId:fr", "id-residency-permit"); /* only Spain accepts the permit */
	upload("userId:fr", "selfie-front");
	expect_trigger("userId:fr", "{\"status\":\"requires-data\",\"missingDocuments\":[\"id\"]}",
	               PENDING);
}
END_TEST

START_TEST(test_flow_missing_consent)
{
	const struct ub de = {"DE", NULL, true, NULL, false, false, true, true};
	const char *pp = "{\"status\":\"pending-privacy-policy\"}";
	struct resp r;

	put_user("userId:nc", &de, 201);
	upload("userId:nc", "id-passport");
	upload("userId:nc", "selfie-front");
	expect_trigger("userId:nc", pp, pp);
	http(&r, "PUT", V "/users/userId:nc/legal-documents",
	     "{\"type\":\"crossmint-terms-of-service\",\"acceptedAt\":\"2025-01-02T03:04:05Z\","
	     "\"region\":\"worldwide\"}");
	assert_status(&r, 200);
	resp_free(&r);
	expect_trigger("userId:nc", pp, pp); /* the terms of service are not the privacy policy */
	consent("userId:nc");
	expect_trigger("userId:nc", PENDING, PENDING);
}
END_TEST

START_TEST(test_flow_edd_country)
{
	static const char only_br[][3] = {"BR"};
	const struct ub ae = {"AE", NULL, true, NULL, false, false, true, true};

	consent("userId:ae");
	put_user("userId:ae", &ae, 200);
	upload("userId:ae", "id-passport");
	upload("userId:ae", "selfie-front");
	expect_trigger("userId:ae",
	               "{\"status\":\"requires-data\",\"missingDocuments\":[\"proof-of-address\","
	               "\"proof-of-income\"]}",
	               PENDING);
	upload("userId:ae", "proof-of-income");
	expect_trigger("userId:ae",
	               "{\"status\":\"requires-data\",\"missingDocuments\":[\"proof-of-address\"]}",
	               PENDING);

	kg_sim_set_behaviour(sim, 200, only_br, 1); /* a reload drops AE from the list */
	expect_trigger("userId:ae", PENDING, PENDING);
	kg_sim_set_behaviour(sim, 200, NULL, 0);
}
END_TEST

START_TEST(test_flow_sanctioned)
{
	const struct ub s = {"DE", "Sanctioned", true, NULL, false, false, true, true};
	const char *rejected = "{\"status\":\"rejected\"}";
	struct resp r;

	consent("userId:sanctioned");
	put_user("userId:sanctioned", &s, 200);
	upload("userId:sanctioned", "id-passport");
	upload_doc(&r, "userId:sanctioned", "selfie-front", "2001-01-01"); /* final wins */
	assert_status(&r, 201);
	resp_free(&r);
	expect_trigger("userId:sanctioned", rejected, rejected);
	sleep_ms(250);
	status_of(&r, "userId:sanctioned");
	assert_elig(&r, rejected, rejected);
	resp_free(&r);
}
END_TEST

START_TEST(test_flow_expired_document)
{
	const struct ub de = {"DE", NULL, true, NULL, false, false, true, true};
	const char *expired = "{\"status\":\"rejected\",\"failureReasons\":[{\"code\":"
	                      "\"id-document-expired\",\"message\":\"The ID document provided is "
	                      "expired. Please submit a currently valid ID.\"}]}";
	struct resp r;

	consent("userId:exp");
	put_user("userId:exp", &de, 200);
	upload_doc(&r, "userId:exp", "id-passport", "2020-01-01");
	assert_status(&r, 201);
	resp_free(&r);
	upload("userId:exp", "selfie-front");
	/* regulated-transfer needs only user details: an expired passport does not reject it */
	expect_trigger("userId:exp", expired, PENDING);
	upload_doc(&r, "userId:exp", "id-passport", "2999-12-31"); /* a valid one replaces it */
	assert_status(&r, 200);
	resp_free(&r);
	expect_trigger("userId:exp", PENDING, PENDING);
}
END_TEST

/* ---- faults ---------------------------------------------------------------------------------- */

START_TEST(test_fault_status)
{
	static const long codes[] = {500, 404, 401, 403, 408, 429, 422, 502};
	char loc[64];
	char p[256];
	struct resp r;
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		snprintf(loc, sizeof(loc), "userId:sim-status-%ld", codes[i]);
		http(&r, "GET", user_path(p, sizeof(p), loc, ""), NULL);
		assert_error(&r, codes[i], "Simulated failure");
		resp_free(&r);
		http(&r, "PUT", user_path(p, sizeof(p), loc, "/identity-verification"), NULL);
		assert_error(&r, codes[i], "Simulated failure");
		resp_free(&r);
	}
	http(&r, "PUT", V "/users/userId:sim-status-302/legal-documents", "{}");
	assert_error(&r, 302, "Simulated failure");
	ck_assert_str_eq(r.location, V "/simulator-redirect");
	resp_free(&r);
	upload_doc(&r, "userId:sim-status-500", "id-passport", NULL); /* locator in the body */
	assert_error(&r, 500, "Simulated failure");
	resp_free(&r);
	http(&r, "GET", V "/users/userId:sim-status-5000", NULL); /* not a status: no fault */
	assert_status(&r, 404);
	resp_free(&r);
	{
		const char *wrong[] = {"X-API-KEY: nope", NULL};

		http_raw(&r, "GET", V "/users/userId:sim-status-500", NULL, 0, wrong);
		assert_error(&r, 401, "Unauthorized"); /* the key is checked first */
		resp_free(&r);
	}
}
END_TEST

START_TEST(test_fault_latency)
{
	struct resp r;

	http(&r, "PUT", V "/users/userId:sim-latency-300/legal-documents",
	     "{\"type\":\"crossmint-privacy-policy\",\"acceptedAt\":\"2025-01-02T03:04:05Z\"}");
	assert_status(&r, 200);
	ck_assert_uint_ge(r.ms, 300);
	resp_free(&r);
	http(&r, "GET", V "/users/userId:sim-latency-300", NULL);
	assert_status(&r, 200);
	ck_assert_uint_ge(r.ms, 300);
	ck_assert_uint_lt(r.ms, 5000);
	resp_free(&r);
	upload_doc(&r, "userId:sim-latency-300", "selfie-front", NULL);
	assert_status(&r, 201);
	ck_assert_uint_ge(r.ms, 300);
	resp_free(&r);
}
END_TEST

START_TEST(test_fault_flaky)
{
	const char *body =
	    "{\"type\":\"crossmint-privacy-policy\",\"acceptedAt\":\"2025-01-02T03:04:05Z\"}";
	struct resp r;

	http(&r, "PUT", V "/users/userId:sim-flaky-2/legal-documents", body);
	assert_error(&r, 503, "Simulated transient failure");
	resp_free(&r);
	http(&r, "GET", V "/users/userId:sim-flaky-2", NULL);
	assert_error(&r, 503, "Simulated transient failure");
	resp_free(&r);
	http(&r, "PUT", V "/users/userId:sim-flaky-2/legal-documents", body);
	assert_status(&r, 200);
	resp_free(&r);
	http(&r, "GET", V "/users/userId:sim-flaky-2", NULL);
	assert_status(&r, 200);
	resp_free(&r);
	/* counted per locator: another one starts at zero */
	http(&r, "GET", V "/users/userId:sim-flaky-1", NULL);
	assert_status(&r, 503);
	resp_free(&r);
	http(&r, "GET", V "/users/userId:sim-flaky-1", NULL);
	assert_status(&r, 404);
	resp_free(&r);
}
END_TEST

START_TEST(test_fault_malformed_reset_ratelimit)
{
	struct json_object *o;
	struct resp r;

	http(&r, "GET", V "/users/userId:sim-malformed/identity-verification", NULL);
	assert_status(&r, 200);
	ck_assert_str_eq(r.body, "{\"eligibility\": [");
	ck_assert_str_eq(r.content_type, "application/json");
	o = json_tokener_parse(r.body);
	ck_assert_ptr_null(o);
	resp_free(&r);

	http(&r, "GET", V "/users/userId:sim-reset", NULL);
	ck_assert_msg(r.rc == CURLE_GOT_NOTHING || r.rc == CURLE_RECV_ERROR, "curl: %s",
	              curl_easy_strerror(r.rc));
	resp_free(&r);
	http(&r, "PUT", V "/users/userId:sim-reset", "{}");
	ck_assert(r.rc != CURLE_OK);
	resp_free(&r);

	http(&r, "PUT", V "/users/userId:sim-ratelimit/identity-verification", NULL);
	assert_error(&r, 429, "Too many requests");
	ck_assert_str_eq(r.retry_after, "1");
	resp_free(&r);

	/* the simulator still serves after a reset */
	http(&r, "GET", "/_simulator/healthz", NULL);
	assert_json(&r, 200, "{\"status\":\"ok\"}");
	resp_free(&r);
}
END_TEST

/* ---- schema ---------------------------------------------------------------------------------- */

struct bad_case {
	const char *method;
	const char *path;
	const char *body;
	const char *message;
};

START_TEST(test_schema_errors)
{
	static const struct bad_case cases[] = {
	    {"PUT", V "/users/userId:s", "{", "Body is not valid JSON"},
	    {"PUT", V "/users/userId:s", "{}x", "Body is not valid JSON"},
	    {"PUT", V "/users/userId:s", "{\"a\":1,}", "Body is not valid JSON"},
	    {"PUT", V "/users/userId:s", "[]", "Body must be a JSON object"},
	    {"PUT", V "/users/userId:s", "{\"userDetails\":\"x\"}",
	     "Invalid body: userDetails must be an object"},
	    {"PUT", V "/users/userId:s",
	     "{\"userDetails\":{\"lastName\":\"D\",\"dateOfBirth\":\"1990-01-01\","
	     "\"countryOfResidence\":\"DE\"}}",
	     "Invalid body: userDetails.firstName is required"},
	    {"PUT", V "/users/userId:s",
	     "{\"userDetails\":{\"firstName\":1,\"lastName\":\"D\",\"dateOfBirth\":\"1990-01-01\","
	     "\"countryOfResidence\":\"DE\"}}",
	     "Invalid body: userDetails.firstName must be a string"},
	    {"PUT", V "/users/userId:s",
	     "{\"kycData\":{\"addressOfResidence\":{\"line1\":\"a\",\"postalCode\":\"1\"}}}",
	     "Invalid body: kycData.addressOfResidence.city is required"},
	    {"PUT", V "/users/userId:s", "{\"kycData\":{\"identityDocument\":{\"type\":\"ssn\"}}}",
	     "Invalid body: kycData.identityDocument.number is required"},
	    {"PUT", V "/users/userId:s",
	     "{\"dueDiligence\":{\"employmentStatus\":\"a\",\"sourceOfFunds\":\"b\"}}",
	     "Invalid body: dueDiligence.industry is required"},
	    {"PUT", V "/users/userId:s",
	     "{\"userDetails\":{\"firstName\":\"A\",\"lastName\":\"D\",\"dateOfBirth\":"
	     "\"1990-01-01\",\"countryOfResidence\":\"US\"},\"dueDiligence\":{"
	     "\"employmentStatus\":\"a\",\"sourceOfFunds\":\"b\",\"industry\":\"c\"}}",
	     "Invalid body: dueDiligence.estimatedYearlyIncome is required for US residents"},
	    {"PUT", V "/users/userId:s",
	     "{\"verificationHistory\":{\"idVerificationTimestamp\":\"2024-01-15T10:30:00Z\"}}",
	     "Invalid body: verificationHistory.livenessVerificationTimestamp is required"},
	    {"PUT", V "/users/userId:s/legal-documents",
	     "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-01-02T03:04:05Z\"}",
	     "Invalid body: type must be crossmint-privacy-policy or crossmint-terms-of-service"},
	    {"PUT", V "/users/userId:s/legal-documents",
	     "{\"type\":\"crossmint-privacy-policy\",\"acceptedAt\":\"2025-10-05T14:48:00\"}",
	     "Invalid body: acceptedAt must be a UTC date-time ending in Z"},
	    {"PUT", V "/users/userId:s/legal-documents",
	     "{\"type\":\"crossmint-privacy-policy\",\"acceptedAt\":\"2023-02-29T14:48Z\"}",
	     "Invalid body: acceptedAt must be a UTC date-time ending in Z"},
	    {"PUT", V "/users/userId:s/legal-documents",
	     "{\"type\":\"crossmint-privacy-policy\",\"acceptedAt\":\"2025-10-05T14:48:00+02:00\"}",
	     "Invalid body: acceptedAt must be a UTC date-time ending in Z"},
	    {"PUT", V "/users/userId:s/legal-documents", "{\"type\":\"crossmint-privacy-policy\"}",
	     "Invalid body: acceptedAt is required and must be a string"},
	    {"PUT", V "/users/userId:s/legal-documents",
	     "{\"type\":\"crossmint-terms-of-service\",\"acceptedAt\":\"2025-01-02T03:04:05Z\"}",
	     "Invalid body: region is required for crossmint-terms-of-service"},
	    {"PUT", V "/users/userId:s/legal-documents",
	     "{\"type\":\"crossmint-terms-of-service\",\"acceptedAt\":\"2025-01-02T03:04:05Z\","
	     "\"region\":\"mars\"}",
	     "Invalid body: region must be one of eu, worldwide, us"},
	    {"POST", V "/documents", "{\"documentType\":\"id-passport\",\"data\":\"" PNG "\"}",
	     "Invalid body: reference is required"},
	    {"POST", V "/documents",
	     "{\"reference\":{\"userLocator\":\"bob\"},\"documentType\":\"id-passport\","
	     "\"data\":\"" PNG "\"}",
	     "Invalid body: reference.userLocator must be a user locator"},
	    {"POST", V "/documents",
	     "{\"reference\":{\"userLocator\":\"userId:s\"},\"documentType\":\"id-card\","
	     "\"data\":\"" PNG "\"}",
	     "Invalid body: documentType must be one of the document types"},
	    {"POST", V "/documents",
	     "{\"reference\":{\"userLocator\":\"userId:s\"},\"documentType\":\"id-passport\","
	     "\"data\":\"iVBORw0KGgo=\"}",
	     "Invalid body: data must be a data URL data:<mime>;base64,<base64>"},
	    {"POST", V "/documents",
	     "{\"reference\":{\"userLocator\":\"userId:s\"},\"documentType\":\"id-passport\","
	     "\"data\":\"data:image/png;base64,iVBO*w0KGgo=\"}",
	     "Invalid body: data must be a data URL data:<mime>;base64,<base64>"},
	    {"POST", V "/documents",
	     "{\"reference\":{\"userLocator\":\"userId:s\"},\"documentType\":\"id-passport\","
	     "\"data\":\"data:image/png;base64,\"}",
	     "Invalid body: data must be a data URL data:<mime>;base64,<base64>"},
	    {"POST", V "/documents",
	     "{\"reference\":{\"userLocator\":\"userId:s\"},\"documentType\":\"id-passport\","
	     "\"data\":\"data:image/png;base64,iVBORw0KG\"}",
	     "Invalid body: data must be a data URL data:<mime>;base64,<base64>"},
	    {"POST", V "/documents",
	     "{\"reference\":{\"userLocator\":\"userId:s\"},\"documentType\":\"id-passport\","
	     "\"data\":\"" PNG "\",\"expiresAt\":\"2030-13-01\"}",
	     "Invalid body: expiresAt must be a date YYYY-MM-DD"},
	    {"PUT", V "/users/userId:s/linked-wallets/0xabc", "{}",
	     "Invalid body: chain is required and must be a string"},
	    {"PUT", V "/users/userId:s/linked-wallets/0xabc", "{\"chain\":\"dogecoin\"}",
	     "Invalid body: chain must be one of the supported chains"},
	    {"PUT", V "/users/userId:s/linked-wallets/0xabc", "{\"chain\":\"base\",\"proof\":\"\"}",
	     "Invalid body: proof must be a non-empty string"},
	    {"PUT", V "/users/userId:s", "", "A JSON body is required"},
	    {"GET", V "/users/foo:bar", NULL, "Invalid user locator"},
	    {"GET", V "/users/userId:", NULL, "Invalid user locator"},
	    {"GET", V "/users/userId:%zz", NULL, "Invalid user locator"},
	    {"GET", V "/users/userId:a%00b", NULL, "Invalid user locator"},
	    {"GET", V "/users/userId:a%0a", NULL, "Invalid user locator"},
	    {"GET", V "/users/userId:a%2", NULL, "Invalid user locator"},
	    {"GET", V "/documents/doc%zz", NULL, "Invalid path parameter"},
	};
	struct resp r;
	size_t i;

	consent("userId:s");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_case *c = &cases[i];

		if (c->body != NULL && c->body[0] == '\0') {
			const char *h[] = {"X-API-KEY: " KEY, "Content-Type: application/json",
			                   NULL};

			http_raw(&r, c->method, c->path, "", 0, h);
		} else {
			http(&r, c->method, c->path, c->body);
		}
		assert_error(&r, 400, c->message);
		resp_free(&r);
	}
}
END_TEST

START_TEST(test_schema_accepts)
{
	const char *charset[] = {"X-API-KEY: " KEY, "Content-Type: Application/JSON; charset=utf-8",
	                         NULL};
	const char *text[] = {"X-API-KEY: " KEY, "Content-Type: text/plain", NULL};
	const char *none[] = {"X-API-KEY: " KEY, "Content-Type:", NULL};
	const char *body =
	    "{\"type\":\"crossmint-privacy-policy\",\"acceptedAt\":\"2024-02-29T00:00Z\"}";
	struct resp r;

	http_raw(&r, "PUT", V "/users/userId:acc/legal-documents", body, strlen(body), charset);
	assert_json(&r, 200, "{\"acceptedAt\":\"2024-02-29T00:00Z\"}");
	resp_free(&r);
	http_raw(&r, "PUT", V "/users/userId:acc/legal-documents", body, strlen(body), text);
	assert_error(&r, 415, "Content-Type must be application/json");
	resp_free(&r);
	http_raw(&r, "PUT", V "/users/userId:acc/legal-documents", body, strlen(body), none);
	assert_error(&r, 415, "Content-Type must be application/json");
	resp_free(&r);

	/* unpadded base64, other MIME types, unknown nested and top-level keys */
	http(
	    &r, "POST", V "/documents",
	    "{\"reference\":{\"userLocator\":\"userId:acc\"},\"documentType\":\"proof-of-address\","
	    "\"data\":\"data:application/pdf;base64,JVBERi0xLjQK\",\"extra\":1}");
	assert_status(&r, 201);
	resp_free(&r);
	http(&r, "POST", V "/documents",
	     "{\"reference\":{\"userLocator\":\"userId:acc\"},\"documentType\":\"selfie-right\","
	     "\"data\":\"data:image/jpeg;base64,/9j/4A\"}");
	assert_status(&r, 201);
	resp_free(&r);
	http(&r, "PUT", V "/users/userId:acc",
	     "{\"kycData\":{\"ipAddresses\":[],\"email\":\"a@b.c\"},\"dueDiligence\":{"
	     "\"employmentStatus\":\"a\",\"sourceOfFunds\":\"b\",\"industry\":\"c\","
	     "\"expectedYearlyTxVolume\":\"volume-0-25k\"},\"whatever\":{}}");
	assert_status(&r, 200); /* the consent above created the user */
	resp_free(&r);
	/* estimatedYearlyIncome is optional outside the US (users-api.md §5.2) */
	http(&r, "PUT", V "/users/userId:acc",
	     "{\"userDetails\":{\"firstName\":\"A\",\"lastName\":\"D\",\"dateOfBirth\":"
	     "\"1990-01-01\",\"countryOfResidence\":\"DE\"},\"dueDiligence\":{"
	     "\"employmentStatus\":\"a\",\"sourceOfFunds\":\"b\",\"industry\":\"c\"}}");
	assert_status(&r, 200);
	resp_free(&r);
}
END_TEST

START_TEST(test_body_too_large)
{
	const char *h[] = {"X-API-KEY: " KEY, "Content-Type: application/json", NULL};
	size_t len = 32u * 1024u * 1024u + 16u;
	char *big = malloc(len);
	struct resp r;

	ck_assert_ptr_nonnull(big);
	memset(big, ' ', len);
	big[0] = '{';
	big[len - 1] = '}';
	http_raw(&r, "PUT", V "/users/userId:big", big, len, h);
	assert_error(&r, 413, "Request body too large");
	resp_free(&r);
	big[len - 33] = '}';
	http_raw(&r, "PUT", V "/users/userId:big", big, len - 32, h); /* just under: fine */
	assert_status(&r, 201);
	resp_free(&r);
	free(big);
}
END_TEST

/* ---- recording ------------------------------------------------------------------------------- */

static struct json_object *recorded(void)
{
	struct json_object *o;
	struct json_object *arr = NULL;
	struct resp r;

	http_raw(&r, "GET", "/_simulator/requests", NULL, 0, NULL); /* no key needed */
	assert_status(&r, 200);
	o = json_tokener_parse(r.body);
	resp_free(&r);
	ck_assert(json_object_object_get_ex(o, "requests", &arr));
	json_object_get(arr);
	json_object_put(o);
	return arr;
}

START_TEST(test_recording)
{
	const char *consent_body =
	    "{\"type\":\"crossmint-privacy-policy\",\"acceptedAt\":\"2025-01-02T03:04:05Z\"}";
	const char *h1[] = {"X-API-KEY: " KEY,
	                    "Content-Type: application/json",
	                    "X-Request-Id: req-1",
	                    "Authorization: Bearer leak",
	                    "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
	                    NULL};
	const char *h2[] = {"X-API-KEY: wrong", NULL};
	struct json_object *arr;
	struct json_object *want;
	struct json_object *body_json;
	char want_text[2048];
	struct resp r;

	http_raw(&r, "DELETE", "/_simulator/requests", NULL, 0, NULL);
	assert_status(&r, 204);
	resp_free(&r);
	http_raw(&r, "PUT", V "/users/userId:a%2Fb/legal-documents", consent_body,
	         strlen(consent_body), h1);
	assert_status(&r, 200);
	resp_free(&r);
	http_raw(&r, "GET", V "/users/userId:a%2Fb?x=1&y=a+b&z", NULL, 0, h2);
	assert_status(&r, 401);
	resp_free(&r);
	http(&r, "GET", "/_simulator/healthz", NULL); /* not recorded */
	assert_status(&r, 200);
	resp_free(&r);

	arr = recorded();
	body_json = json_object_new_string(consent_body);
	snprintf(
	    want_text, sizeof(want_text),
	    "[{\"method\":\"PUT\",\"target\":\"/2025-06-09/users/userId:a%%2Fb/legal-documents\","
	    "\"body\":%s,\"apiKeyOk\":true,\"authorization\":true,"
	    "\"contentType\":\"application/json\",\"requestId\":\"req-1\","
	    "\"traceparent\":\"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\","
	    "\"tracestate\":null},"
	    "{\"method\":\"GET\",\"target\":\"/2025-06-09/users/userId:a%%2Fb?x=1&y=a+b&z\","
	    "\"body\":\"\",\"apiKeyOk\":false,\"authorization\":false,\"contentType\":null,"
	    "\"requestId\":null,\"traceparent\":null,\"tracestate\":null}]",
	    json_object_to_json_string_ext(body_json, JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(body_json);
	want = json_tokener_parse(want_text);
	ck_assert_ptr_nonnull(want);
	ck_assert_msg(json_object_equal(arr, want), "recorded %s\nwant %s",
	              json_object_to_json_string(arr), want_text);
	json_object_put(want);
	json_object_put(arr);

	/* the locator segment is decoded exactly once: %3A and %2F name the same user */
	http(&r, "GET", V "/users/userId%3Aa%2Fb", NULL);
	assert_status(&r, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "\"userId\":\"a/b\""));
	resp_free(&r);
	http(&r, "GET", V "/users/userId:a%252Fb", NULL);
	assert_status(&r, 404);
	resp_free(&r);

	http_raw(&r, "DELETE", "/_simulator/requests", NULL, 0, NULL);
	assert_status(&r, 204);
	resp_free(&r);
	arr = recorded();
	ck_assert_int_eq((int)json_object_array_length(arr), 0);
	json_object_put(arr);
	http(&r, "POST", "/_simulator/requests", "{}");
	assert_status(&r, 405);
	resp_free(&r);
}
END_TEST

START_TEST(test_recording_ring_and_truncation)
{
	const char *h[] = {"X-API-KEY: " KEY, "Content-Type: application/json", "Expect:", NULL};
	struct curl_slist *sl = NULL;
	size_t big_len = 100 * 1024;
	char *big = malloc(big_len + 1);
	struct json_object *arr;
	struct json_object *e;
	struct json_object *v;
	struct resp r = {0};
	char path[128];
	CURL *c;
	int i;

	for (i = 0; h[i] != NULL; i++)
		sl = curl_slist_append(sl, h[i]);
	c = easy_for(&r, "GET", "/", NULL, 0, sl); /* one keep-alive handle for speed */
	for (i = 0; i < 1030; i++) {
		snprintf(path, sizeof(path), "%s" V "/users/userId:ring-%d", base, i);
		curl_easy_setopt(c, CURLOPT_URL, path);
		ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	}
	curl_easy_cleanup(c);
	curl_slist_free_all(sl);
	resp_free(&r);
	arr = recorded();
	ck_assert_int_eq((int)json_object_array_length(arr), 1024);
	e = json_object_array_get_idx(arr, 0);
	ck_assert(json_object_object_get_ex(e, "target", &v));
	ck_assert_str_eq(json_object_get_string(v), V "/users/userId:ring-6");
	json_object_put(arr);

	memset(big, 'x', big_len);
	big[0] = '"';
	big[big_len - 1] = '"';
	big[big_len] = '\0';
	http(&r, "PUT", V "/users/userId:ring-big", big);
	assert_error(&r, 400, "Body must be a JSON object");
	resp_free(&r);
	arr = recorded();
	e = json_object_array_get_idx(arr, json_object_array_length(arr) - 1);
	ck_assert(json_object_object_get_ex(e, "body", &v));
	ck_assert_int_eq(json_object_get_string_len(v), 64 * 1024);
	json_object_put(arr);
	free(big);
}
END_TEST

/* ---- concurrency and shutdown ---------------------------------------------------------------- */

struct multi_run {
	int n;
	const char *path;
	long *status;
	CURLcode *rc;
	unsigned long long ms;
};

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
	return size * n;
}

/* Runs run->n GETs of run->path at once through one multi handle. */
static void *run_multi(void *arg)
{
	struct multi_run *run = arg;
	struct curl_slist *h = curl_slist_append(NULL, "X-API-KEY: " KEY);
	CURLM *m = curl_multi_init();
	CURL **easy = calloc((size_t)run->n, sizeof(*easy));
	unsigned long long t0 = kg_now_ms();
	char url[256];
	int running = 0;
	int i;

	snprintf(url, sizeof(url), "%s%s", base, run->path);
	for (i = 0; i < run->n; i++) {
		easy[i] = curl_easy_init();
		curl_easy_setopt(easy[i], CURLOPT_URL, url);
		curl_easy_setopt(easy[i], CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(easy[i], CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(easy[i], CURLOPT_TIMEOUT_MS, 30000L);
		curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(easy[i], CURLOPT_PRIVATE, (void *)&run->status[i]);
		curl_multi_add_handle(m, easy[i]);
	}
	do {
		CURLMsg *msg;
		int left;

		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			char *priv = NULL;
			long *slot;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
			slot = (long *)(void *)priv;
			run->rc[slot - run->status] = msg->data.result;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, slot);
		}
		if (running > 0)
			curl_multi_poll(m, NULL, 0, 200, NULL);
	} while (running > 0 && kg_now_ms() - t0 < 40000);
	run->ms = kg_now_ms() - t0;
	for (i = 0; i < run->n; i++) {
		curl_multi_remove_handle(m, easy[i]);
		curl_easy_cleanup(easy[i]);
	}
	free(easy);
	curl_multi_cleanup(m);
	curl_slist_free_all(h);
	return NULL;
}

START_TEST(test_thousand_slow_calls)
{
	enum { N = 1000 };
	struct multi_run run = {N, V "/users/userId:sim-latency-200", NULL, NULL, 0};
	int ok = 0;
	int i;

	consent("userId:sim-latency-200");
	run.status = calloc(N, sizeof(*run.status));
	run.rc = calloc(N, sizeof(*run.rc));
	run_multi(&run);
	for (i = 0; i < N; i++)
		ok += run.rc[i] == CURLE_OK && run.status[i] == 200;
	ck_assert_int_eq(ok, N);
	ck_assert_uint_ge(run.ms, 200);
	ck_assert_msg(run.ms < 5000, "1000 calls of 200 ms took %llu ms", run.ms);
	free(run.status);
	free(run.rc);
}
END_TEST

START_TEST(test_stop_with_suspended_requests)
{
	enum { N = 50 };
	struct multi_run run = {N, V "/users/userId:sim-latency-20000", NULL, NULL, 0};
	unsigned long long t0;
	pthread_t th;
	int seen = 0;
	int i;

	run.status = calloc(N, sizeof(*run.status));
	run.rc = calloc(N, sizeof(*run.rc));
	ck_assert_int_eq(pthread_create(&th, NULL, run_multi, &run), 0);
	for (t0 = kg_now_ms(); seen < N && kg_now_ms() - t0 < 10000; sleep_ms(20)) {
		struct json_object *arr = recorded();

		seen = (int)json_object_array_length(arr);
		json_object_put(arr);
	}
	ck_assert_int_eq(seen, N);
	t0 = kg_now_ms();
	kg_sim_stop(sim); /* must answer the suspended requests first */
	sim = NULL;
	ck_assert_uint_lt(kg_now_ms() - t0, 5000);
	pthread_join(th, NULL);
	for (i = 0; i < N; i++) {
		ck_assert_int_eq(run.rc[i], CURLE_OK);
		ck_assert_int_eq(run.status[i], 503);
	}
	ck_assert_uint_lt(run.ms, 10000);
	free(run.status);
	free(run.rc);
}
END_TEST

/* ---- start options and the command line ------------------------------------------------------ */

START_TEST(test_start_errors)
{
	struct kg_sim_opts o = {0};
	struct kg_sim *other;
	char err[256] = "";

	o.threads = 1000;
	ck_assert_ptr_null(kg_sim_start(&o, err, sizeof(err)));
	ck_assert_uint_gt(strlen(err), 0);
	o.threads = 0;
	o.port = kg_sim_port(sim); /* taken */
	err[0] = '\0';
	ck_assert_ptr_null(kg_sim_start(&o, err, sizeof(err)));
	ck_assert_uint_gt(strlen(err), 0);
	o.port = 0;
	o.host = ""; /* resolves to nothing, without DNS */
	ck_assert_ptr_null(kg_sim_start(&o, err, sizeof(err)));
	o.host = "localhost"; /* names resolve; defaults for the rest */
	o.threads = 1;
	other = kg_sim_start(&o, err, sizeof(err));
	ck_assert_msg(other != NULL, "%s", err);
	kg_sim_stop(other);
	other = kg_sim_start(NULL, err, sizeof(err));
	ck_assert_msg(other != NULL, "%s", err);
	kg_sim_stop(other);
	kg_sim_stop(NULL);
}
END_TEST

static int main_quiet(int argc, char **argv)
{
	int saved = dup(2);
	int devnull = open("/dev/null", O_WRONLY);
	int rc;

	dup2(devnull, 2);
	close(devnull);
	rc = kg_sim_main(argc, argv);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	return rc;
}

START_TEST(test_main_usage)
{
	static const char *const bad[][3] = {
	    {"--review-delay-ms", "5", NULL},   {"--listen", "nocolon", NULL},
	    {"--listen", "[::1", NULL},         {"--listen", "[::1]8080", NULL},
	    {"--listen", "::1:8080", NULL},     {"--listen", "127.0.0.1:70000", NULL},
	    {"--listen", "127.0.0.1:-1", NULL}, {"--listen", ":8080", NULL},
	    {"--listen", "127.0.0.1:", NULL},   {"--listen", "a\"b:1", NULL},
	    {"--listen", NULL, NULL},           {"--bogus", "1", NULL},
	    {"listen", "127.0.0.1:0", NULL},
	};
	static const char *const bad_extra[][2] = {
	    {"--review-delay-ms", "abc"},
	    {"--review-delay-ms", "-5"},
	    {"--review-delay-ms", "99999999999999999999"},
	    {"--review-delay-ms", "86400001"},
	    {"--edd-countries", "USA"},
	    {"--edd-countries", "AE,"},
	    {"--edd-countries", "A1"},
	    {"--api-key", ""},
	};
	char *argv[6];
	size_t i;
	int argc;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		argv[0] = "simulator";
		argv[1] = (char *)bad[i][0];
		argv[2] = (char *)bad[i][1];
		argc = bad[i][1] == NULL ? 2 : 3;
		ck_assert_msg(main_quiet(argc, argv) == 2, "case %zu", i);
	}
	ck_assert_int_eq(main_quiet(1, argv), 2); /* --listen is required */
	for (i = 0; i < sizeof(bad_extra) / sizeof(bad_extra[0]); i++) {
		argv[0] = "simulator";
		argv[1] = "--listen=127.0.0.1:0";
		argv[2] = (char *)bad_extra[i][0];
		argv[3] = (char *)bad_extra[i][1];
		ck_assert_msg(main_quiet(4, argv) == 2, "extra case %zu", i);
	}
	argv[1] = "--help";
	{
		int saved = dup(1);
		int devnull = open("/dev/null", O_WRONLY);

		dup2(devnull, 1);
		close(devnull);
		ck_assert_int_eq(kg_sim_main(2, argv), 0);
		fflush(stdout);
		dup2(saved, 1);
		close(saved);
	}
}
END_TEST

/* Reads one line from fd within timeout_ms. */
static bool read_line(int fd, char *buf, size_t cap, int timeout_ms)
{
	size_t n = 0;

	while (n + 1 < cap) {
		struct pollfd p = {fd, POLLIN, 0};
		ssize_t got;

		if (poll(&p, 1, timeout_ms) <= 0)
			return false;
		got = read(fd, buf + n, 1);
		if (got <= 0)
			return false;
		if (buf[n] == '\n') {
			buf[n] = '\0';
			return true;
		}
		n++;
	}
	return false;
}

static int wait_child(pid_t pid, int timeout_ms)
{
	unsigned long long t0 = kg_now_ms();
	int status = 0;

	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (kg_now_ms() - t0 > (unsigned long long)timeout_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		sleep_ms(10);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(test_main_runs_until_sigterm)
{
	char *argv[] = {"simulator",         "--listen", "127.0.0.1:0",     "--api-key", "main-key",
	                "--review-delay-ms", "5",        "--edd-countries", "AE,tr",     NULL};
	const char *right[] = {"X-API-KEY: main-key", NULL};
	const char *wrong[] = {"X-API-KEY: " KEY, NULL};
	struct json_object *o;
	struct json_object *v;
	char line[512];
	const char *addr;
	int fds[2];
	struct resp r;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int rc;

		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		rc = kg_sim_main(9, argv);
		fflush(stdout);
		_exit(rc);
	}
	close(fds[1]);
	ck_assert(read_line(fds[0], line, sizeof(line), 10000));
	o = json_tokener_parse(line);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(json_object_object_length(o), 3);
	ck_assert(json_object_object_get_ex(o, "level", &v));
	ck_assert_str_eq(json_object_get_string(v), "info");
	ck_assert(json_object_object_get_ex(o, "event", &v));
	ck_assert_str_eq(json_object_get_string(v), "simulator-listening");
	ck_assert(json_object_object_get_ex(o, "address", &v));
	addr = json_object_get_string(v);
	ck_assert(strncmp(addr, "127.0.0.1:", 10) == 0);
	snprintf(base, sizeof(base), "http://%s", addr);
	json_object_put(o);

	http_raw(&r, "GET", V "/users/userId:m", NULL, 0, right);
	assert_error(&r, 404, "User not found");
	resp_free(&r);
	http_raw(&r, "GET", V "/users/userId:m", NULL, 0, wrong);
	assert_status(&r, 401);
	resp_free(&r);
	kill(pid, SIGHUP); /* ignored */
	sleep_ms(50);
	http_raw(&r, "GET", "/_simulator/healthz", NULL, 0, NULL);
	assert_status(&r, 200);
	resp_free(&r);
	kill(pid, SIGTERM);
	ck_assert_int_eq(wait_child(pid, 10000), 0);
	close(fds[0]);
}
END_TEST

START_TEST(test_main_env_key)
{
	char *argv[] = {"simulator", "--listen=127.0.0.1:0", NULL};
	const char *right[] = {"X-API-KEY: env-key", NULL};
	const char *wrong[] = {"X-API-KEY: other", NULL};
	char line[512];
	int fds[2];
	struct json_object *o;
	struct json_object *v;
	struct resp r;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int rc;

		setenv("KYCGATE_SIM_API_KEY", "env-key", 1);
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		rc = kg_sim_main(2, argv);
		fflush(stdout);
		_exit(rc);
	}
	close(fds[1]);
	ck_assert(read_line(fds[0], line, sizeof(line), 10000));
	o = json_tokener_parse(line);
	ck_assert(json_object_object_get_ex(o, "address", &v));
	snprintf(base, sizeof(base), "http://%s", json_object_get_string(v));
	json_object_put(o);
	http_raw(&r, "GET", V "/users/userId:m", NULL, 0, right);
	assert_status(&r, 404);
	resp_free(&r);
	http_raw(&r, "GET", V "/users/userId:m", NULL, 0, wrong);
	assert_status(&r, 401);
	resp_free(&r);
	kill(pid, SIGINT);
	ck_assert_int_eq(wait_child(pid, 10000), 0);
	close(fds[0]);
}
END_TEST

/* ---- runner ---------------------------------------------------------------------------------- */

static TCase *tcase(const char *name, bool fixture)
{
	TCase *tc = tcase_create(name);

	tcase_set_timeout(tc, 120);
	if (fixture)
		tcase_add_checked_fixture(tc, setup, teardown);
	return tc;
}

static Suite *simulator_suite(void)
{
	Suite *s = suite_create("simulator");
	TCase *api = tcase("api", true);
	TCase *flows = tcase("eligibility", true);
	TCase *faults = tcase("faults", true);
	TCase *load = tcase("load", true);
	TCase *cli = tcase("cli", false);

	tcase_add_test(api, test_auth);
	tcase_add_test(api, test_not_found_and_method);
	tcase_add_test(api, test_unknown_user);
	tcase_add_test(api, test_user_routes);
	tcase_add_test(api, test_document_routes);
	tcase_add_test(api, test_wallet_routes);
	tcase_add_test(api, test_schema_errors);
	tcase_add_test(api, test_schema_accepts);
	tcase_add_test(api, test_body_too_large);
	tcase_add_test(api, test_recording);
	tcase_add_test(api, test_recording_ring_and_truncation);
	tcase_add_test(api, test_start_errors);
	tcase_add_test(flows, test_not_started_and_snapshot);
	tcase_add_test(flows, test_flow_eu_idcard_verified);
	tcase_add_test(flows, test_flow_non_eu_passport);
	tcase_add_test(flows, test_flow_us_states);
	tcase_add_test(flows, test_flow_es_residency_permit);
	tcase_add_test(flows, test_flow_missing_consent);
	tcase_add_test(flows, test_flow_edd_country);
	tcase_add_test(flows, test_flow_sanctioned);
	tcase_add_test(flows, test_flow_expired_document);
	tcase_add_test(faults, test_fault_status);
	tcase_add_test(faults, test_fault_latency);
	tcase_add_test(faults, test_fault_flaky);
	tcase_add_test(faults, test_fault_malformed_reset_ratelimit);
	tcase_add_test(load, test_thousand_slow_calls);
	tcase_add_test(load, test_stop_with_suspended_requests);
	tcase_add_test(cli, test_main_usage);
	tcase_add_test(cli, test_main_runs_until_sigterm);
	tcase_add_test(cli, test_main_env_key);
	suite_add_tcase(s, api);
	suite_add_tcase(s, flows);
	suite_add_tcase(s, faults);
	suite_add_tcase(s, load);
	suite_add_tcase(s, cli);
	return s;
}

/* A thousand connections need more descriptors than the usual soft limit. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(void)
{
	SRunner *sr;
	int failed;

	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	sr = srunner_create(simulator_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
