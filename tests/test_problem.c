/* Unit tests of RFC 9457 problem rendering. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "harness.h"
#include "kycgate/common.h"
#include "kycgate/problem.h"

static struct json_object *render(const struct kg_problem_args *a)
{
	size_t len = 0;
	char *s = kg_problem_render(a, &len);
	struct json_object *o;

	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(strlen(s), len);
	o = json_tokener_parse(s);
	free(s);
	ck_assert_ptr_nonnull(o);
	return o;
}

static const char *str(struct json_object *o, const char *k)
{
	return json_object_get_string(json_object_object_get(o, k));
}

START_TEST(every_kind_has_its_status_and_code)
{
	static const struct {
		enum kg_problem kind;
		int status;
		const char *code;
	} t[] = {
	    {KG_PB_INVALID_REQUEST, 400, "invalid-request"},
	    {KG_PB_UNAUTHORIZED, 401, "unauthorized"},
	    {KG_PB_FORBIDDEN, 403, "forbidden"},
	    {KG_PB_NOT_FOUND, 404, "not-found"},
	    {KG_PB_METHOD_NOT_ALLOWED, 405, "method-not-allowed"},
	    {KG_PB_WOULD_ERASE, 409, "would-erase"},
	    {KG_PB_PAYLOAD_TOO_LARGE, 413, "payload-too-large"},
	    {KG_PB_UNSUPPORTED_MEDIA_TYPE, 415, "unsupported-media-type"},
	    {KG_PB_RATE_LIMITED, 429, "rate-limited"},
	    {KG_PB_UPSTREAM_AUTH, 502, "upstream-auth"},
	    {KG_PB_UPSTREAM_ERROR, 502, "upstream-error"},
	    {KG_PB_UPSTREAM_FAILED, 502, "upstream-error"},
	    {KG_PB_UPSTREAM_INVALID, 502, "upstream-invalid-response"},
	    {KG_PB_UPSTREAM_TIMEOUT, 504, "upstream-timeout"},
	    {KG_PB_UNAVAILABLE, 503, "unavailable"},
	    {KG_PB_UPSTREAM_UNAVAILABLE, 503, "upstream-unavailable"},
	};
	size_t i;
	char type[96];

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct kg_problem_args a = {
		    .kind = t[i].kind, .instance = "/v1/x", .request_id = "r1"};
		struct json_object *o = render(&a);

		ck_assert_int_eq(kg_problem_status(t[i].kind), t[i].status);
		ck_assert_str_eq(kg_problem_code(t[i].kind), t[i].code);
		snprintf(type, sizeof(type), "urn:kycgate:problem:%s", t[i].code);
		ck_assert_str_eq(str(o, "type"), type);
		ck_assert_int_eq(json_object_get_int(json_object_object_get(o, "status")),
		                 t[i].status);
		ck_assert_str_eq(str(o, "instance"), "/v1/x");
		ck_assert_str_eq(str(o, "requestId"), "r1");
		ck_assert_ptr_nonnull(str(o, "title"));
		ck_assert_ptr_nonnull(str(o, "detail"));
		ck_assert(!json_object_object_get_ex(o, "errors", NULL));
		ck_assert(!json_object_object_get_ex(o, "upstream", NULL));
		json_object_put(o);
	}
}
END_TEST

/* Titles say what happened: no answer is "could not be reached", a 5xx answer "failed". */
START_TEST(upstream_titles_are_honest)
{
	static const struct {
		enum kg_problem kind;
		const char *title;
	} t[] = {
	    {KG_PB_UPSTREAM_ERROR, "Crossmint could not be reached"},
	    {KG_PB_UPSTREAM_FAILED, "Crossmint failed"},
	    {KG_PB_UPSTREAM_TIMEOUT, "Crossmint did not answer in time"},
	    {KG_PB_UPSTREAM_INVALID, "Crossmint's answer was not understood"},
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct kg_problem_args a = {.kind = t[i].kind};
		struct json_object *o = render(&a);

		ck_assert_str_eq(str(o, "title"), t[i].title);
		json_object_put(o);
	}
}
END_TEST

START_TEST(errors_and_status_override)
{
	struct json_object *errs = json_object_new_array(), *e = json_object_new_object(), *o;
	struct kg_problem_args a = {
	    .kind = KG_PB_UPSTREAM_REJECTED, .status = 422, .detail = "rule", .errors = errs};

	json_object_object_add(e, "pointer", json_object_new_string("/a"));
	json_object_object_add(e, "detail", json_object_new_string("bad"));
	json_object_array_add(errs, e);
	o = render(&a);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(o, "status")), 422);
	ck_assert_str_eq(str(o, "detail"), "rule");
	ck_assert_str_eq(str(o, "instance"), "unmatched");
	ck_assert_uint_eq(json_object_array_length(json_object_object_get(o, "errors")), 1);
	json_object_put(o);
	json_object_put(errs);
}
END_TEST

/* would-erase names the sections (names, never values) in a "sections" member. */
START_TEST(would_erase_sections)
{
	static const char *const names[] = {"kycData", "dueDiligence", NULL};
	struct kg_problem_args a = {.kind = KG_PB_WOULD_ERASE, .sections = names};
	struct json_object *o = render(&a), *secs;

	ck_assert_int_eq(json_object_get_int(json_object_object_get(o, "status")), 409);
	secs = json_object_object_get(o, "sections");
	ck_assert_uint_eq(json_object_array_length(secs), 2);
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(secs, 0)), "kycData");
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(secs, 1)),
	                 "dueDiligence");
	json_object_put(o);
}
END_TEST

START_TEST(upstream_body_json_or_cut_string)
{
	static const char js[] = "{\"error\":true,\"message\":\"no\"}";
	struct kg_problem_args a = {.kind = KG_PB_UPSTREAM_REJECTED,
	                            .status = 404,
	                            .upstream_status = 404,
	                            .upstream_body = js,
	                            .upstream_body_len = sizeof(js) - 1};
	struct json_object *o = render(&a), *up, *body;
	char *big;

	up = json_object_object_get(o, "upstream");
	ck_assert_int_eq(json_object_get_int(json_object_object_get(up, "status")), 404);
	body = json_object_object_get(up, "body");
	ck_assert(json_object_is_type(body, json_type_object));
	ck_assert_str_eq(str(body, "message"), "no");
	json_object_put(o);

	big = malloc(10000);
	memset(big, 'x', 10000);
	a.upstream_body = big;
	a.upstream_body_len = 10000;
	o = render(&a);
	body = json_object_object_get(json_object_object_get(o, "upstream"), "body");
	ck_assert(json_object_is_type(body, json_type_string));
	ck_assert_int_eq(json_object_get_string_len(body), KG_MAX_UPSTREAM_BODY_IN_PROBLEM);
	json_object_put(o);
	free(big);

	a.upstream_body = "<html>\"quoted\"";
	a.upstream_body_len = strlen(a.upstream_body);
	o = render(&a);
	body = json_object_object_get(json_object_object_get(o, "upstream"), "body");
	ck_assert_str_eq(json_object_get_string(body), "<html>\"quoted\"");
	json_object_put(o);
}
END_TEST

/* Problems are written without a json-c tree; their bytes must stay those json-c writes (plain,
 * "/" unescaped): control characters as \u00xx or their short escapes, a body that is not JSON
 * (a NUL inside) as a string. Crossmint's JSON is the exception: relayed as sent, only the
 * whitespace between its tokens left out. */
START_TEST(bytes_are_json_c_bytes)
{
	static const char *const sections[] = {"userDetails", "a/b", NULL};
	static const char bodies[][48] = {"{ \"e\" : [1, 2.5, true, null], \"u\": \"\\u00e9/\" }",
	                                  "not json \x01\x1f\"\\/ \xc3\xa9", "[1,2"};
	struct json_object *errors = json_object_new_array(), *e = json_object_new_object();
	struct kg_problem_args a = {.kind = KG_PB_INVALID_REQUEST,
	                            .detail = "a \x02 detail/with \"quotes\" \\ \b\f\n\r\t \x7f",
	                            .instance = "/v1/users/{userLocator}",
	                            .request_id = "req\x1b",
	                            .sections = sections,
	                            .oldest_id = "42",
	                            .upstream_status = 404};

	json_object_object_add(e, "pointer", json_object_new_string("/a~1b"));
	json_object_object_add(e, "detail", json_object_new_string("bad\tvalue"));
	json_object_array_add(errors, e);
	a.errors = errors;
	for (size_t i = 0; i <= sizeof(bodies) / sizeof(bodies[0]); i++) {
		size_t len = 0, want_len = 0;
		char *got, *want;
		struct json_object *o;

		a.upstream_body = i < 3 ? bodies[i] : "x\0y";
		a.upstream_body_len = i < 3 ? strlen(bodies[i]) : 3;
		got = kg_problem_render(&a, &len);
		ck_assert_ptr_nonnull(got);
		o = json_tokener_parse(got);
		ck_assert_ptr_nonnull(o);
		want = strdup(json_object_to_json_string_length(
		    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &want_len));
		if (i == 0) {
			ck_assert_ptr_nonnull(
			    strstr(got, "\"body\":{\"e\":[1,2.5,true,null],\"u\":\"\\u00e9/\"}}}"));
		} else {
			ck_assert_uint_eq(len, want_len);
			ck_assert_str_eq(got, want);
		}
		ck_assert_ptr_nonnull(strstr(got, "\"detail\":\"a \\u0002 detail/with"));
		json_object_put(o);
		free(got);
		free(want);
	}
	json_object_put(errors);
}
END_TEST

/* The relayed JSON keeps its strings whole (spaces, escaped quotes and backslashes inside them);
 * what the strict reader refuses (a number no double holds, a duplicate key, bad UTF-8) is
 * relayed as a string. */
START_TEST(upstream_json_relayed_as_sent)
{
	static const struct {
		const char *body, *want;
	} cases[] = {
	    {" {\"m\" : \"a \\\" b\\\\\", \"n\":\t-1.5e3 }\n",
	     "\"body\":{\"m\":\"a \\\" b\\\\\",\"n\":-1.5e3}"},
	    {"[ \"x y\" , {} ]", "\"body\":[\"x y\",{}]"},
	    {"{\"n\":1e999}", "\"body\":\"{\\\"n\\\":1e999}\""},
	    {"{\"a\":1,\"a\":2}", "\"body\":\"{\\\"a\\\":1,\\\"a\\\":2}\""},
	};
	struct kg_problem_args a = {.kind = KG_PB_UPSTREAM_REJECTED, .upstream_status = 400};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = 0;
		char *got;
		struct json_object *o;

		a.upstream_body = cases[i].body;
		a.upstream_body_len = strlen(cases[i].body);
		got = kg_problem_render(&a, &len);
		ck_assert_ptr_nonnull(got);
		ck_assert_msg(strstr(got, cases[i].want) != NULL, "case %zu: %s", i, got);
		o = json_tokener_parse(got);
		ck_assert_ptr_nonnull(o);
		json_object_put(o);
		free(got);
	}
}
END_TEST

START_TEST(out_of_range_kind_is_internal)
{
	struct kg_problem_args a = {.kind = (enum kg_problem)999};
	struct json_object *o = render(&a);

	ck_assert_str_eq(str(o, "type"), "urn:kycgate:problem:internal");
	ck_assert_int_eq(json_object_get_int(json_object_object_get(o, "status")), 500);
	json_object_put(o);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("problem");
	TCase *tc = tcase_create("problem");
	int failed;

	tcase_add_test(tc, every_kind_has_its_status_and_code);
	tcase_add_test(tc, upstream_titles_are_honest);
	tcase_add_test(tc, errors_and_status_override);
	tcase_add_test(tc, would_erase_sections);
	tcase_add_test(tc, upstream_body_json_or_cut_string);
	tcase_add_test(tc, bytes_are_json_c_bytes);
	tcase_add_test(tc, upstream_json_relayed_as_sent);
	tcase_add_test(tc, out_of_range_kind_is_internal);
	suite_add_tcase(s, tc);
	failed = kt_run_suite(s);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
