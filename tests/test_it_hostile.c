/* Integration: hostile and malformed input gets its exact 4xx problem, never a 5xx, never a
 * partial upstream call, and the process stays up. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "it_common.h"

struct hostile {
	const char *name;
	const char *method;
	const char *target;
	const char *ctype; /* NULL: none */
	const char *auth;  /* NULL: none */
	const char *body;  /* NULL: none */
	long status;
	const char *code;
	const char *pointer; /* expected errors[0].pointer, or NULL */
};

#define W IT_WRITER
#define R IT_READER
#define J "application/json"

static const struct hostile cases[] = {
    {"malformed json", "PUT", "/v1/users/userId:h1", J, W, "{\"userDetails\":", 400,
     "invalid-request", NULL},
    {"json array", "PUT", "/v1/users/userId:h1", J, W, "[1,2]", 400, "invalid-request", ""},
    {"duplicate key", "PUT", "/v1/users/userId:h1", J, W, "{\"kycData\":{},\"kycData\":{}}", 400,
     "invalid-request", NULL},
    {"trailing comma", "PUT", "/v1/users/userId:h1", J, W, "{\"kycData\":{},}", 400,
     "invalid-request", NULL},
    {"misspelt top-level key", "PUT", "/v1/users/userId:h1", J, W,
     "{\"userDetail\":{\"firstName\":\"A\"}}", 400, "invalid-request", "/userDetail"},
    {"impossible date", "PUT", "/v1/users/userId:h1", J, W,
     "{\"userDetails\":{\"firstName\":\"A\",\"lastName\":\"B\",\"dateOfBirth\":\"2023-02-30\","
     "\"countryOfResidence\":\"DE\"}}",
     400, "invalid-request", "/userDetails/dateOfBirth"},
    {"impossible consent time", "PUT", "/v1/users/userId:h1/consent", J, W,
     "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-13-01T00:00:00Z\"}", 400,
     "invalid-request", "/acceptedAt"},
    {"consent without offset", "PUT", "/v1/users/userId:h1/consent", J, W,
     "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-10-05T14:48:00\"}", 400, "invalid-request",
     "/acceptedAt"},
    {"encoded ../ locator", "GET", "/v1/users/%2e%2e%2f%2e%2e%2fadmin", NULL, R, NULL, 400,
     "invalid-request", NULL},
    {"CR/LF in locator", "GET", "/v1/users/userId:a%0d%0aX-Evil:%201", NULL, R, NULL, 400,
     "invalid-request", NULL},
    {"NUL in locator", "GET", "/v1/users/userId:a%00b", NULL, R, NULL, 400, "invalid-request",
     NULL},
    {"malformed escape", "GET", "/v1/users/userId:a%zz", NULL, R, NULL, 400, "invalid-request",
     NULL},
    {"unknown prefix", "GET", "/v1/users/wallet:abc", NULL, R, NULL, 400, "invalid-request", NULL},
    {"prefix case", "GET", "/v1/users/UserId:abc", NULL, R, NULL, 400, "invalid-request", NULL},
    {"invalid utf-8", "GET", "/v1/users/userId:%ff%fe", NULL, R, NULL, 400, "invalid-request",
     NULL},
    {"bad email", "GET", "/v1/users/email:not-an-address", NULL, R, NULL, 400, "invalid-request",
     NULL},
    {"bad phone", "GET", "/v1/users/phoneNumber:12345", NULL, R, NULL, 400, "invalid-request",
     NULL},
    {"empty locator", "GET", "/v1/users//verification", NULL, R, NULL, 400, "invalid-request",
     NULL},
    {"unknown document type", "PUT", "/v1/users/userId:h1/documents/id-driver", "image/jpeg", W,
     "\xff\xd8\xff\xe0xx", 400, "invalid-request", NULL},
    {"ssn as document", "PUT", "/v1/users/userId:h1/documents/id-ssn", "image/jpeg", W,
     "\xff\xd8\xff\xe0xx", 400, "invalid-request", NULL},
    {"bytes not matching type", "PUT", "/v1/users/userId:h1/documents/id-passport", "image/png", W,
     "\xff\xd8\xff\xe0xx", 415, "unsupported-media-type", NULL},
    {"empty file", "PUT", "/v1/users/userId:h1/documents/id-passport", J, W, "{\"data\":\"\"}", 400,
     "invalid-request", NULL},
    {"bad base64", "PUT", "/v1/users/userId:h1/documents/id-passport", J, W,
     "{\"data\":\"/9j/ 4AA\"}", 400, "invalid-request", NULL},
    {"text document", "PUT", "/v1/users/userId:h1/documents/id-passport", "text/plain", W, "hi",
     415, "unsupported-media-type", NULL},
    {"wrong content type", "PUT", "/v1/users/userId:h1", "text/plain", W, "{}", 415,
     "unsupported-media-type", NULL},
    {"no content type", "PUT", "/v1/users/userId:h1", NULL, W, "{}", 415, "unsupported-media-type",
     NULL},
    {"missing token", "GET", "/v1/users/userId:h1", NULL, NULL, NULL, 401, "unauthorized", NULL},
    {"wrong token", "GET", "/v1/users/userId:h1", NULL,
     "Authorization: Bearer not-a-known-token-000000", NULL, 401, "unauthorized", NULL},
    {"basic auth", "GET", "/v1/users/userId:h1", NULL, "Authorization: Basic dXNlcjpwYXNz", NULL,
     401, "unauthorized", NULL},
    {"read-only token writing", "PUT", "/v1/users/userId:h1", J, R, "{}", 403, "forbidden", NULL},
    {"reader triggering", "POST", "/v1/users/userId:h1/verification", NULL, R, NULL, 403,
     "forbidden", NULL},
    {"unknown route", "GET", "/v1/nothing", NULL, R, NULL, 404, "not-found", NULL},
    {"trailing slash", "GET", "/v1/users/userId:h1/", NULL, R, NULL, 404, "not-found", NULL},
    {"unknown route unauthenticated", "GET", "/v2/users/userId:h1", NULL, NULL, NULL, 404,
     "not-found", NULL},
    {"wrong method", "PATCH", "/v1/users/userId:h1", NULL, W, NULL, 405, "method-not-allowed",
     NULL},
    {"dot wallet", "GET", "/v1/users/userId:h1/wallets/.", NULL, R, NULL, 400, "invalid-request",
     NULL},
    {"dotdot wallet", "GET", "/v1/users/userId:h1/wallets/..", NULL, R, NULL, 400,
     "invalid-request", NULL},
    {"dot document", "GET", "/v1/documents/.", NULL, R, NULL, 400, "invalid-request", NULL},
    {"dotdot document", "GET", "/v1/documents/..", NULL, R, NULL, 400, "invalid-request", NULL},
    {"dot locator", "GET", "/v1/users/userId:..", NULL, R, NULL, 400, "invalid-request", NULL},
    {"300-byte locator", "GET",
     "/v1/users/userId:"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xx"
     "xxxxxxxxxxxxxxxxxxxxxxx",
     NULL, R, NULL, 400, "invalid-request", NULL},
    {"unknown product", "GET", "/v1/users/userId:h1/verification?products=onramp,moon", NULL, R,
     NULL, 400, "invalid-request", NULL},
    {"bad country", "GET", "/v1/users/userId:h1/verification?country=XX", NULL, R, NULL, 400,
     "invalid-request", NULL},
    {"unknown query", "GET", "/v1/users/userId:h1?debug=1", NULL, R, NULL, 400, "invalid-request",
     NULL},
    {"wallet body not an object", "PUT", "/v1/users/userId:h1/wallets/0xabc", J, W, "\"base\"", 400,
     "invalid-request", ""},
    {"terms without region", "PUT", "/v1/users/userId:h1/consent", J, W,
     "{\"type\":\"terms-of-service\",\"acceptedAt\":\"2025-06-01T12:00:00Z\"}", 400,
     "invalid-request", "/region"},
    /* A PUT replaces the whole user: {} and misspelt nested keys would erase data (item 5). */
    {"empty user", "PUT", "/v1/users/userId:h1", J, W, "{}", 400, "invalid-request", ""},
    {"misspelt nested key", "PUT", "/v1/users/userId:h1", J, W,
     "{\"kycData\":{\"phonenumber\":\"+33612345678\"}}", 400, "invalid-request",
     "/kycData/phonenumber"},
    {"old name of a nested key", "PUT", "/v1/users/userId:h1", J, W,
     "{\"kycData\":{\"addressOfResidence\":{\"line1\":\"l\",\"city\":\"c\",\"postalCode\":\"p\","
     "\"state\":\"NY\"}}}",
     400, "invalid-request", "/kycData/addressOfResidence/state"},
    /* Numbers a 64-bit float or integer cannot hold are never forwarded (issue 7, item 9). */
    {"infinite number in a wallet body", "PUT", "/v1/users/userId:h1/wallets/0xabc", J, W,
     "{\"chain\":\"base\",\"n\":1e999999999}", 400, "invalid-request", "/n"},
    {"huge integer in a user", "PUT", "/v1/users/userId:h1", J, W,
     "{\"dueDiligence\":{\"employmentStatus\":\"a\",\"sourceOfFunds\":\"b\",\"industry\":\"c\","
     "\"estimatedYearlyIncome\":99999999999999999999999}}",
     400, "invalid-request", "/dueDiligence/estimatedYearlyIncome"},
    {"negative infinite number in consent", "PUT", "/v1/users/userId:h1/consent", J, W,
     "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-06-01T12:00:00Z\",\"region\":-1e999}", 400,
     "invalid-request", "/region"},
};

START_TEST(hostile_input)
{
	const struct hostile *h = &cases[_i];
	char ctype[128];
	const char *hdrs[4] = {NULL};
	struct kt_resp r;
	struct json_object *reqs, *errors;
	int n = 0;

	if (h->ctype != NULL) {
		snprintf(ctype, sizeof(ctype), "Content-Type: %s", h->ctype);
		hdrs[n++] = ctype;
	}
	if (h->auth != NULL)
		hdrs[n++] = h->auth;
	kt_sim_clear(it_sim.port);
	kt_http(it_gw.port, h->method, h->target, hdrs, h->body, h->body ? strlen(h->body) : 0, &r);
	ck_assert_msg(r.status == h->status, "%s: %ld, wanted %ld: %s", h->name, r.status,
	              h->status, r.body);
	it_assert_problem(&r, h->status, h->code);
	if (h->pointer != NULL) {
		ck_assert_msg(json_object_object_get_ex(r.json, "errors", &errors), "%s: no errors",
		              h->name);
		ck_assert_str_eq(kt_str(json_object_array_get_idx(errors, 0), "pointer"),
		                 h->pointer);
	}
	if (h->status == 401) {
		char v[64];

		ck_assert(kt_header(&r, "WWW-Authenticate", v, sizeof(v)));
		ck_assert_str_eq(v, "Bearer");
	}
	if (h->status == 405) {
		char v[64];

		ck_assert(kt_header(&r, "Allow", v, sizeof(v)));
		ck_assert_str_eq(v, "PUT, GET");
	}
	kt_resp_free(&r);
	reqs = kt_sim_requests(it_sim.port);
	ck_assert_msg(json_object_array_length(reqs) == 0, "%s reached upstream", h->name);
	json_object_put(reqs);
}
END_TEST

/* 413 is decided from Content-Length, before one body byte is read. */
START_TEST(huge_body_refused_before_reading)
{
	static const char head[] = "PUT /v1/users/userId:h1 HTTP/1.1\r\nHost: x\r\n"
	                           "Authorization: Bearer writer-token-0123456789abcdef\r\n"
	                           "Content-Type: application/json\r\n"
	                           "Content-Length: 52428800\r\n\r\n";
	char *out = kt_raw(it_gw.port, head, sizeof(head) - 1, 5000);

	ck_assert_msg(strncmp(out, "HTTP/1.1 413", 12) == 0, "got: %s", out);
	ck_assert_ptr_nonnull(strstr(out, "urn:kycgate:problem:payload-too-large"));
	/* The limit is configuration, not personal data: the caller is told it. */
	ck_assert_msg(strstr(out, "\"the body is over this route's limit of 1048576 bytes\"") !=
	                  NULL,
	              "got: %s", out);
	free(out);
}
END_TEST

/* A chunked body over the limit is consumed and refused with 413. */
START_TEST(huge_chunked_body)
{
	const char *const hdrs[] = {IT_WRITER, IT_JSON, "Transfer-Encoding: chunked", NULL};
	size_t n = 2 * 1024 * 1024;
	char *body = malloc(n);
	struct kt_resp r;

	memset(body, ' ', n);
	body[0] = '{';
	body[n - 1] = '}';
	kt_http(it_gw.port, "PUT", "/v1/users/userId:h1", hdrs, body, n, &r);
	it_assert_problem(&r, 413, "payload-too-large");
	ck_assert_str_eq(kt_str(r.json, "detail"),
	                 "the body is over this route's limit of 1048576 bytes");
	kt_resp_free(&r);
	free(body);
}
END_TEST

/* A JSON document whose base64 decodes past server.max_document_bytes: 413 names that limit. */
START_TEST(document_over_decoded_limit)
{
	const char *const hdrs[] = {IT_WRITER, IT_JSON, NULL};
	size_t b64 = (1048577 + 2) / 3 * 4, n = b64 + 12;
	char *body = malloc(n);
	struct kt_resp r;

	memcpy(body, "{\"data\":\"", 9);
	memset(body + 9, 'A', b64);
	memcpy(body + 9 + b64, "\"}", 2);
	n = 9 + b64 + 2;
	kt_http(it_gw.port, "PUT", "/v1/users/userId:h1/documents/id-passport", hdrs, body, n, &r);
	it_assert_problem(&r, 413, "payload-too-large");
	ck_assert_str_eq(kt_str(r.json, "detail"),
	                 "the document is over the limit of 1048576 bytes (decoded)");
	kt_resp_free(&r);
	free(body);
}
END_TEST

struct framing_case {
	const char *name;
	const char *request;
	size_t len; /* bytes of request; 0 = strlen (a NUL inside needs the length) */
};

/* After a head that kycgate misreads as body-less, this would run as a request of its own. */
#define SMUGGLED                                                                                   \
	"GET /v1/users/userId:smuggled HTTP/1.1\r\nHost: x\r\n"                                    \
	"Authorization: Bearer reader-token-0123456789abcdef\r\n\r\n"
#define PUT_HEAD                                                                                   \
	"PUT /v1/users/userId:h1 HTTP/1.1\r\nHost: x\r\n"                                          \
	"Authorization: Bearer writer-token-0123456789abcdef\r\n"                                  \
	"Content-Type: application/json\r\n"
#define GET_TAIL                                                                                   \
	" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer reader-token-0123456789abcdef\r\n\r\n"
#define NUL_TARGET "GET /v1/users/userId:a\0/verification" GET_TAIL
#define NUL_METHOD "GET\0X /v1/users/userId:h1" GET_TAIL

static const struct framing_case framing[] = {
    {"two Transfer-Encoding",
     "PUT /v1/users/userId:h1 HTTP/1.1\r\nHost: x\r\n"
     "Authorization: Bearer writer-token-0123456789abcdef\r\n"
     "Content-Type: application/json\r\n"
     "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
     "2\r\n{}\r\n0\r\n\r\n",
     0},
    {"two Content-Length",
     "PUT /v1/users/userId:h1 HTTP/1.1\r\nHost: x\r\n"
     "Authorization: Bearer writer-token-0123456789abcdef\r\n"
     "Content-Type: application/json\r\n"
     "Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}",
     0},
    {"gzip, chunked",
     "PUT /v1/users/userId:h1 HTTP/1.1\r\nHost: x\r\n"
     "Authorization: Bearer writer-token-0123456789abcdef\r\n"
     "Content-Type: application/json\r\n"
     "Transfer-Encoding: gzip, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
     0},
    {"Content-Length and chunked",
     "PUT /v1/users/userId:h1 HTTP/1.1\r\nHost: x\r\n"
     "Authorization: Bearer writer-token-0123456789abcdef\r\n"
     "Content-Type: application/json\r\nContent-Length: 2\r\n"
     "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
     0},
    {"space before colon",
     "PUT /v1/users/userId:h1 HTTP/1.1\r\nHost: x\r\n"
     "Authorization: Bearer writer-token-0123456789abcdef\r\n"
     "Content-Type: application/json\r\n"
     "Content-Length : 2\r\n\r\n{}",
     0},
    {"two Authorization",
     "GET /v1/users/userId:h1 HTTP/1.1\r\nHost: x\r\n"
     "Authorization: Bearer writer-token-0123456789abcdef\r\n"
     "Authorization: Bearer reader-token-0123456789abcdef\r\n\r\n",
     0},
    /* obs-fold: libmicrohttpd would read no Content-Length (or Transfer-Encoding) here and run
     * the body as a second request, which reaches upstream. */
    {"folded Content-Length (space)", PUT_HEAD "Content-Length:\r\n 93\r\n\r\n" SMUGGLED, 0},
    {"folded Content-Length (tab)", PUT_HEAD "Content-Length:\r\n\t93\r\n\r\n" SMUGGLED, 0},
    {"folded Content-Length value", PUT_HEAD "Content-Length: 9\r\n 3\r\n\r\n" SMUGGLED, 0},
    {"folded Transfer-Encoding", PUT_HEAD "Transfer-Encoding:\r\n chunked\r\n\r\n" SMUGGLED, 0},
    {"folded other header",
     "GET /v1/users/userId:h1 HTTP/1.1\r\nHost: x\r\n"
     "X-Note: a\r\n b\r\n"
     "Authorization: Bearer reader-token-0123456789abcdef\r\n\r\n",
     0},
    {"blank fold line",
     "GET /v1/users/userId:h1 HTTP/1.1\r\nHost: x\r\n"
     "X-Note: a\r\n \r\n"
     "Authorization: Bearer reader-token-0123456789abcdef\r\n\r\n",
     0},
    {"Content-Length +5", PUT_HEAD "Content-Length: +5\r\n\r\n{}   ", 0},
    {"Content-Length 5 after two spaces", PUT_HEAD "Content-Length:  5\r\n\r\n{}   ", 0},
    {"Content-Length 5 after a tab and a space", PUT_HEAD "Content-Length:\t 5\r\n\r\n{}   ", 0},
    {"Content-Length 5 and a space", PUT_HEAD "Content-Length: 5 \r\n\r\n{}   ", 0},
    {"Content-Length 0x5", PUT_HEAD "Content-Length: 0x5\r\n\r\n{}   ", 0},
    {"Transfer-Encoding Chunked", PUT_HEAD "Transfer-Encoding: Chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
     0},
    {"Transfer-Encoding chunked and a space",
     PUT_HEAD "Transfer-Encoding: chunked \r\n\r\n2\r\n{}\r\n0\r\n\r\n", 0},
    {"Transfer-Encoding Chunked and a space",
     PUT_HEAD "Transfer-Encoding: Chunked \r\n\r\n2\r\n{}\r\n0\r\n\r\n", 0},
    {"Transfer-Encoding chunked after two spaces",
     PUT_HEAD "Transfer-Encoding:  chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 0},
    /* A NUL cuts libmicrohttpd's C strings: this would be served as GET /v1/users/{locator}. */
    {"NUL in the target", NUL_TARGET, sizeof(NUL_TARGET) - 1},
    {"NUL in the method", NUL_METHOD, sizeof(NUL_METHOD) - 1},
    {"0x01 in the target", "GET /v1/users/userId:a\x01b/verification" GET_TAIL, 0},
    {"DEL in the target",
     "GET /v1/users/userId:a\x7f"
     "b/verification" GET_TAIL,
     0},
    {"tab in the target", "GET /v1/users/userId:a\tb/verification" GET_TAIL, 0},
    {"CR in the target", "GET /v1/users/userId:a\rb/verification" GET_TAIL, 0},
    {"space in the target", "GET /v1/users/userId:a b/verification" GET_TAIL, 0},
};

START_TEST(framing_refused)
{
	const struct framing_case *f = &framing[_i];
	char *out;
	struct json_object *reqs;

	kt_sim_clear(it_sim.port);
	out = kt_raw(it_gw.port, f->request, f->len ? f->len : strlen(f->request), 5000);
	ck_assert_msg(strncmp(out, "HTTP/1.1 400", 12) == 0, "%s: got %s", f->name, out);
	ck_assert_msg(strstr(out, "urn:kycgate:problem:invalid-request") != NULL, "%s: got %s",
	              f->name, out);
	ck_assert_msg(strstr(out, "Connection: close") != NULL, "%s: no Connection: close",
	              f->name);
	/* One answer only: nothing after the refusal was read as a request of its own. (A malformed
	 * Content-Length is answered before libmicrohttpd reads it: its own 400 is HTML and repeats
	 * its header block, a libmicrohttpd 0.9.75 quirk.) */
	ck_assert_msg(strstr(out + 12, "HTTP/1.1 ") == NULL, "%s: a second answer: %s", f->name,
	              out);
	free(out);
	reqs = kt_sim_requests(it_sim.port);
	ck_assert_msg(json_object_array_length(reqs) == 0, "%s reached upstream", f->name);
	json_object_put(reqs);
}
END_TEST

/* A body cut short by the client closing its side: libmicrohttpd 0.9.75 closes the connection at
 * once, before any answer can be sent, and the request is never acted on. */
START_TEST(short_body_then_close)
{
	static const char req[] = PUT_HEAD "Content-Length: 300\r\n\r\n" SMUGGLED;
	char *out;
	struct json_object *reqs;

	kt_sim_clear(it_sim.port);
	out = kt_raw_shut(it_gw.port, req, sizeof(req) - 1, true, 5000);
	ck_assert_msg(strstr(out, "HTTP/1.1 2") == NULL, "acted on: %s", out);
	free(out);
	reqs = kt_sim_requests(it_sim.port);
	ck_assert_uint_eq(json_object_array_length(reqs), 0);
	json_object_put(reqs);
}
END_TEST

/* The order of design §2, each decided from the headers (no body is sent): the first failing
 * check answers. */
struct order_case {
	const char *name;
	const char *request;
	const char *status_line;
	const char *code;
};

static const struct order_case order[] = {
    {"405 before 401", "PATCH /v1/users/userId:h1 HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 405",
     "method-not-allowed"},
    {"401 before 403",
     "PUT /v1/users/userId:h1 HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999\r\n\r\n",
     "HTTP/1.1 401", "unauthorized"},
    {"403 before 413",
     "PUT /v1/users/userId:h1 HTTP/1.1\r\nHost: x\r\n"
     "Authorization: Bearer reader-token-0123456789abcdef\r\n"
     "Content-Type: text/plain\r\nContent-Length: 99999999\r\n\r\n",
     "HTTP/1.1 403", "forbidden"},
    {"413 before 415",
     "PUT /v1/users/userId:h1 HTTP/1.1\r\nHost: x\r\n"
     "Authorization: Bearer writer-token-0123456789abcdef\r\n"
     "Content-Type: text/plain\r\nContent-Length: 99999999\r\n\r\n",
     "HTTP/1.1 413", "payload-too-large"},
    {"415 before 400",
     "PUT /v1/users/bad-locator HTTP/1.1\r\nHost: x\r\n"
     "Authorization: Bearer writer-token-0123456789abcdef\r\n"
     "Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}",
     "HTTP/1.1 415", "unsupported-media-type"},
    /* The documents route has its own limits: the raw file (max_document_bytes, 1 MiB here) ... */
    {"raw document over its limit",
     "PUT /v1/users/userId:h1/documents/id-passport HTTP/1.1\r\nHost: x\r\n"
     "Authorization: Bearer writer-token-0123456789abcdef\r\n"
     "Content-Type: image/jpeg\r\nContent-Length: 1048577\r\n\r\n",
     "HTTP/1.1 413", "payload-too-large"},
    /* ... and its base64 size plus 4 KiB as JSON (1398104 + 4096). */
    {"JSON document over its limit",
     "PUT /v1/users/userId:h1/documents/id-passport HTTP/1.1\r\nHost: x\r\n"
     "Authorization: Bearer writer-token-0123456789abcdef\r\n"
     "Content-Type: application/json\r\nContent-Length: 1402201\r\n\r\n",
     "HTTP/1.1 413", "payload-too-large"},
};

START_TEST(order_of_checks)
{
	const struct order_case *o = &order[_i];
	char *out = kt_raw(it_gw.port, o->request, strlen(o->request), 5000);
	char type[96];

	ck_assert_msg(strncmp(out, o->status_line, strlen(o->status_line)) == 0, "%s: %s", o->name,
	              out);
	snprintf(type, sizeof(type), "urn:kycgate:problem:%s", o->code);
	ck_assert_msg(strstr(out, type) != NULL, "%s: %s", o->name, out);
	free(out);
}
END_TEST

/* A JSON document within the JSON limit but over the raw one is read (and judged on content). */
START_TEST(json_document_between_the_limits)
{
	const char *const hdrs[] = {IT_WRITER, IT_JSON, NULL};
	size_t n = 1100000;
	char *body = malloc(n + 32);
	struct kt_resp r;

	memcpy(body, "{\"data\":\"", 9);
	memset(body + 9, 'A', n);
	memcpy(body + 9 + n, "\"}", 3);
	kt_http(it_gw.port, "PUT", "/v1/users/userId:h1/documents/id-passport", hdrs, body, n + 11,
	        &r);
	/* Not 413 from the headers: the decoded bytes (all zero) match no declared type. */
	ck_assert_msg(r.status == 415, "%ld %s", r.status, r.body);
	kt_resp_free(&r);
	free(body);
}
END_TEST

START_TEST(products_problem_lists_the_known_ones)
{
	const char *const h[] = {IT_READER, NULL};
	struct kt_resp r;
	const char *d;

	kt_http(it_gw.port, "GET", "/v1/users/userId:h1/verification?products=moon", h, NULL, 0,
	        &r);
	it_assert_problem(&r, 400, "invalid-request");
	d = kt_str(r.json, "detail");
	ck_assert(strstr(d, "onramp") && strstr(d, "onramp-light") && strstr(d, "offramp") &&
	          strstr(d, "regulated-transfer"));
	ck_assert_ptr_null(strstr(d, "moon")); /* the rule, never the value */
	kt_resp_free(&r);
}
END_TEST

/* Details name what is wrong when that is not personal data: the unknown query parameter, where
 * the JSON broke, the kycgate route for a Crossmint path. */
static const struct {
	const char *method, *target, *body;
	long status;
	const char *detail;
} details[] = {
    {"GET", "/v1/users/userId:h1?debug=1", NULL, 400,
     "unknown query parameter debug (this route takes none)"},
    {"GET", "/v1/users/userId:h1/verification?prodcts=onramp", NULL, 400,
     "unknown query parameter prodcts (this route takes products, country, wait)"},
    {"GET", "/v1/users/userId:h1?a%40example.com=1", NULL, 400,
     "an unknown query parameter (this route takes none)"},
    {"GET", "/v1/users/userId:h1?aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1", NULL, 400,
     "an unknown query parameter (this route takes none)"},
    {"PUT", "/v1/users/userId:h1", "{\n  \"userDetails\": {\"firstName\": \"A\"},\n}", 400,
     "a trailing comma is not allowed in JSON (line 3, column 1)"},
    {"PUT", "/v1/users/userId:h1", "{\"userDetails\":", 400,
     "the body is not valid JSON (line 1, column 16)"},
    {"GET", "/v1/users/userId:h1/identity-verification", NULL, 404,
     "no route has this path: /identity-verification is Crossmint's; kycgate's is POST "
     "(trigger) or GET (status) /v1/users/{userLocator}/verification"},
    {"PUT", "/v1/users/userId:h1/legal-documents", "{}", 404,
     "no route has this path: /legal-documents is Crossmint's; kycgate's is PUT "
     "/v1/users/{userLocator}/consent"},
    {"POST", "/v1/documents", "{}", 404,
     "no route has this path: POST /documents is Crossmint's; kycgate's is PUT "
     "/v1/users/{userLocator}/documents/{documentType} (the file as the body)"},
};

START_TEST(details_name_what_is_wrong)
{
	const char *const h[] = {IT_WRITER, IT_JSON, NULL};
	const char *body = details[_i].body;
	struct kt_resp r;

	kt_http(it_gw.port, details[_i].method, details[_i].target, h, body,
	        body ? strlen(body) : 0, &r);
	it_assert_problem(&r, details[_i].status,
	                  details[_i].status == 404 ? "not-found" : "invalid-request");
	ck_assert_msg(strcmp(kt_str(r.json, "detail"), details[_i].detail) == 0, "%s %s: %s",
	              details[_i].method, details[_i].target, r.body);
	ck_assert_ptr_null(strstr(r.body, "example.com"));
	ck_assert_ptr_null(strstr(r.body, "userId:h1"));
	kt_resp_free(&r);
}
END_TEST

START_TEST(still_alive)
{
	struct kt_resp r;

	kt_http(it_gw.port, "GET", "/healthz", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	kt_resp_free(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("it_hostile");
	TCase *tc = tcase_create("hostile");
	int failed;

	tcase_add_unchecked_fixture(tc, it_setup, it_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, hostile_input, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, huge_body_refused_before_reading);
	tcase_add_test(tc, huge_chunked_body);
	tcase_add_test(tc, document_over_decoded_limit);
	tcase_add_loop_test(tc, framing_refused, 0, (int)(sizeof(framing) / sizeof(framing[0])));
	tcase_add_test(tc, short_body_then_close);
	tcase_add_loop_test(tc, order_of_checks, 0, (int)(sizeof(order) / sizeof(order[0])));
	tcase_add_test(tc, json_document_between_the_limits);
	tcase_add_test(tc, products_problem_lists_the_known_ones);
	tcase_add_loop_test(tc, details_name_what_is_wrong, 0,
	                    (int)(sizeof(details) / sizeof(details[0])));
	tcase_add_test(tc, still_alive);
	suite_add_tcase(s, tc);
	failed = kt_run_suite(s);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
