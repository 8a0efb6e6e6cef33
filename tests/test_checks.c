/* Unit tests of the header phase (src/checks.c) on requests built by hand, without a socket: the
 * request id and trace context, framing refusals, 404, 405, 401, 403, 413, 415 and the listeners,
 * each deciding before one body byte is read. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "req_common.h"

static const char USER[] = "/v1/users/userId:a";

START_TEST(passes_with_scope)
{
	struct rt t;

	rt_init(&t, "GET", USER, RT_READER);
	ck_assert(kg_handle_headers(&t.req));
	ck_assert_str_eq(t.req.client->name, "reader");
	ck_assert_uint_eq(t.req.body_limit, 4096);
	ck_assert_int_eq(t.req.reply.status, 0);
	rt_free(&t);
}
END_TEST

START_TEST(request_id_and_trace)
{
	static const char tp[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
	struct rt t;
	int i;

	rt_init(&t, "GET", USER, RT_READER);
	t.req.head.request_id = "abc-123_X.y";
	t.req.head.traceparent = tp;
	t.req.head.tracestate = "k=v";
	ck_assert(kg_handle_headers(&t.req));
	ck_assert_str_eq(t.req.request_id, "abc-123_X.y");
	ck_assert_str_eq(t.req.traceparent, tp);
	ck_assert_str_eq(t.req.tracestate, "k=v");
	rt_free(&t);

	/* A bad id is replaced by a UUID v4; a bad traceparent drops both trace headers. */
	rt_init(&t, "GET", USER, RT_READER);
	t.req.head.request_id = "bad id";
	t.req.head.traceparent = "00-00000000000000000000000000000000-00f067aa0ba902b7-01";
	t.req.head.tracestate = "k=v";
	ck_assert(kg_handle_headers(&t.req));
	ck_assert_uint_eq(strlen(t.req.request_id), 36);
	ck_assert_int_eq(t.req.request_id[14], '4');
	for (i = 0; i < 36; i++) { /* a UUID v4, lower-case: 8-4-4-4-12 */
		char ch = t.req.request_id[i];

		if (i == 8 || i == 13 || i == 18 || i == 23)
			ck_assert_int_eq(ch, '-');
		else
			ck_assert_msg((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'), "%s",
			              t.req.request_id);
	}
	ck_assert_ptr_nonnull(strchr("89ab", t.req.request_id[19]));
	ck_assert_str_eq(t.req.traceparent, "");
	ck_assert_ptr_null(t.req.tracestate);
	rt_free(&t);
}
END_TEST

START_TEST(framing_refused_first)
{
	struct rt t;

	/* Before the route, the token or anything else: 400 and the connection closes. */
	rt_init(&t, "GET", "/nowhere", NULL);
	t.req.head.framing = "more than one Content-Length header";
	ck_assert(!kg_handle_headers(&t.req));
	rt_problem(&t, 400, "invalid-request");
	rt_detail_has(&t, "more than one Content-Length header");
	ck_assert(t.req.reply.close);
	ck_assert_uint_gt(strlen(t.req.request_id), 0);
	rt_free(&t);

	rt_init(&t, "GET", USER, RT_READER);
	t.req.line_broken = true;
	ck_assert(!kg_handle_headers(&t.req));
	rt_problem(&t, 400, "invalid-request");
	rt_detail_has(&t, "the request line holds a control character");
	rt_free(&t);

	rt_init(&t, "GET", USER, RT_READER);
	t.req.head.oom = true;
	ck_assert(!kg_handle_headers(&t.req));
	rt_problem(&t, 503, "unavailable");
	rt_free(&t);
}
END_TEST

START_TEST(not_found_and_method)
{
	struct rt t;

	rt_init(&t, "GET", "/v1/nothing", RT_WRITER);
	ck_assert(!kg_handle_headers(&t.req));
	rt_problem(&t, 404, "not-found");
	rt_free(&t);

	rt_init(&t, "POST", "/v1/documents", RT_WRITER);
	ck_assert(!kg_handle_headers(&t.req));
	rt_problem(&t, 404, "not-found");
	rt_detail_has(&t, "POST /documents is Crossmint's");
	rt_free(&t);

	/* 405 comes before 401: no token needed to learn the allowed methods. */
	rt_init(&t, "POST", "/v1/users/x/wallets/a", NULL);
	ck_assert(!kg_handle_headers(&t.req));
	rt_problem(&t, 405, "method-not-allowed");
	ck_assert_str_eq(t.req.reply.allow, "PUT, GET, DELETE");
	rt_detail_has(&t, "\"instance\":\"/v1/users/{userLocator}/wallets/{address}\"");
	rt_free(&t);
}
END_TEST

START_TEST(unauthorized_and_forbidden)
{
	struct rt t;

	rt_init(&t, "GET", USER, NULL);
	ck_assert(!kg_handle_headers(&t.req));
	rt_problem(&t, 401, "unauthorized");
	ck_assert(t.req.reply.www_authenticate);
	rt_detail_has(&t, "a bearer token is required");
	rt_free(&t);

	rt_init(&t, "GET", USER, "Bearer not-a-known-token");
	ck_assert(!kg_handle_headers(&t.req));
	rt_problem(&t, 401, "unauthorized");
	rt_detail_has(&t, "the bearer token is not known");
	ck_assert_ptr_null(t.req.client);
	rt_free(&t);

	rt_init(&t, "GET", USER, "Basic abc");
	ck_assert(!kg_handle_headers(&t.req));
	rt_problem(&t, 401, "unauthorized");
	rt_free(&t);

	rt_init(&t, "PUT", USER, RT_READER);
	ck_assert(!kg_handle_headers(&t.req));
	rt_problem(&t, 403, "forbidden");
	rt_detail_has(&t, "users.create");
	ck_assert(!t.req.reply.www_authenticate);
	rt_free(&t);
}
END_TEST

START_TEST(body_limits_and_types)
{
	struct rt t;

	/* A declared length over the JSON limit: 413 naming the limit, and close. */
	rt_init(&t, "PUT", USER, RT_WRITER);
	t.req.head.content_type = "application/json";
	t.req.head.content_length = "4097";
	ck_assert(!kg_handle_headers(&t.req));
	rt_problem(&t, 413, "payload-too-large");
	rt_detail_has(&t, "limit of 4096 bytes");
	ck_assert(t.req.reply.close);
	rt_free(&t);

	rt_init(&t, "PUT", USER, RT_WRITER);
	t.req.head.content_type = "text/plain";
	ck_assert(!kg_handle_headers(&t.req));
	rt_problem(&t, 415, "unsupported-media-type");
	rt_free(&t);

	/* Parameters of the media type are ignored, its case too. */
	rt_init(&t, "PUT", USER, RT_WRITER);
	t.req.head.content_type = "Application/JSON; charset=utf-8";
	ck_assert(kg_handle_headers(&t.req));
	ck_assert_str_eq(t.req.content_type, "application/json");
	rt_free(&t);
	rt_init(&t, "PUT", USER, RT_WRITER);
	t.req.head.content_type = "application/json   ;charset=utf-8";
	ck_assert(kg_handle_headers(&t.req));
	ck_assert_str_eq(t.req.content_type, "application/json");
	rt_free(&t);

	/* A media type longer than any taken (KG_MAX_MEDIA_TYPE_BYTES) is kept as none: 415, even
	 * when it starts with one that is taken. */
	rt_init(&t, "PUT", USER, RT_WRITER);
	t.req.head.content_type = "application/jsonxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
	ck_assert(!kg_handle_headers(&t.req));
	rt_problem(&t, 415, "unsupported-media-type");
	ck_assert_str_eq(t.req.content_type, "");
	rt_free(&t);

	/* A document: a file takes max_document_bytes, its JSON form the base64 allowance. */
	rt_init(&t, "PUT", "/v1/users/userId:a/documents/id-passport", RT_WRITER);
	t.req.head.content_type = "image/png";
	ck_assert(kg_handle_headers(&t.req));
	ck_assert_uint_eq(t.req.body_limit, 1048576);
	rt_free(&t);

	rt_init(&t, "PUT", "/v1/users/userId:a/documents/id-passport", RT_WRITER);
	t.req.head.content_type = "application/json";
	ck_assert(kg_handle_headers(&t.req));
	ck_assert_uint_gt(t.req.body_limit, 1048576 / 3 * 4);
	rt_free(&t);

	rt_init(&t, "PUT", "/v1/users/userId:a/documents/id-passport", RT_WRITER);
	t.req.head.content_type = "image/gif";
	ck_assert(!kg_handle_headers(&t.req));
	rt_problem(&t, 415, "unsupported-media-type");
	rt_free(&t);
}
END_TEST

START_TEST(listeners)
{
	struct rt t;

	/* Public routes need no token and take no body. */
	rt_init(&t, "GET", "/healthz", NULL);
	ck_assert(kg_handle_headers(&t.req));
	ck_assert_uint_eq(t.req.body_limit, 0);
	rt_free(&t);

	/* metrics.listen serves /metrics, /healthz and /readyz only. */
	rt_init(&t, "GET", USER, RT_READER);
	t.req.metrics_only = true;
	ck_assert(!kg_handle_headers(&t.req));
	rt_problem(&t, 404, "not-found");
	rt_free(&t);

	rt_init(&t, "GET", "/readyz", NULL);
	t.req.metrics_only = true;
	ck_assert(kg_handle_headers(&t.req));
	rt_free(&t);

	/* With metrics.listen set, the main listener no longer serves /metrics. */
	rt_init(&t, "GET", "/metrics", NULL);
	ck_assert(kg_handle_headers(&t.req));
	rt_free(&t);

	rt_init(&t, "GET", "/metrics", NULL);
	t.gw.metrics_daemon = (struct MHD_Daemon *)&t; /* only compared with NULL */
	ck_assert(!kg_handle_headers(&t.req));
	rt_problem(&t, 404, "not-found");
	rt_free(&t);

	rt_init(&t, "GET", "/openapi.yaml", NULL);
	t.req.metrics_only = true;
	ck_assert(!kg_handle_headers(&t.req));
	rt_problem(&t, 404, "not-found");
	rt_free(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("checks");
	TCase *tc = tcase_create("checks");

	tcase_add_test(tc, passes_with_scope);
	tcase_add_test(tc, request_id_and_trace);
	tcase_add_test(tc, framing_refused_first);
	tcase_add_test(tc, not_found_and_method);
	tcase_add_test(tc, unauthorized_and_forbidden);
	tcase_add_test(tc, body_limits_and_types);
	tcase_add_test(tc, listeners);
	suite_add_tcase(s, tc);
	return kt_run_suite(s) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
