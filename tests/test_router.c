/* Unit tests of the route table and the raw-path matcher, and of the table against
 * openapi/kycgate.yaml (a route added to one and not the other fails here). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "harness.h"
#include "kycgate/config.h"
#include "kycgate/router.h"

START_TEST(matches_each_route)
{
	struct kg_match m;

	ck_assert(kg_route_match("/v1/users/userId:a", "PUT", &m));
	ck_assert_str_eq(m.route->operation, "user.put");
	ck_assert_uint_eq(m.n_params, 1);
	ck_assert_int_eq(m.params[0].kind, KG_PARAM_LOCATOR);
	ck_assert_uint_eq(m.params[0].len, 8);
	ck_assert(strncmp(m.params[0].raw, "userId:a", 8) == 0);

	ck_assert(kg_route_match("/v1/users/x/wallets/0xab", "DELETE", &m));
	ck_assert_str_eq(m.route->operation, "wallet.delete");
	ck_assert_uint_eq(m.n_params, 2);
	ck_assert_int_eq(m.params[1].kind, KG_PARAM_ADDRESS);
	ck_assert(strncmp(m.params[1].raw, "0xab", 4) == 0);

	ck_assert(kg_route_match("/v1/users/x/documents/id-passport", "PUT", &m));
	ck_assert_str_eq(m.route->operation, "document.put");
	ck_assert_str_eq(m.route->up_method, "POST");
	ck_assert_str_eq(m.route->up_path, "/documents");

	ck_assert(kg_route_match("/v1/users/x/verification", "POST", &m));
	ck_assert_str_eq(m.route->operation, "verification.trigger");
	ck_assert_str_eq(m.route->up_method, "PUT");
	ck_assert_uint_eq(m.route->scope, KG_SCOPE_CREATE);

	ck_assert(kg_route_match("/healthz", "GET", &m));
	ck_assert_str_eq(m.route->operation, "healthz");
	ck_assert_uint_eq(m.route->scope, 0);
}
END_TEST

/* Every write route (scope users.create, an upstream call) takes an Idempotency-Key (design §10);
 * no read does. */
START_TEST(writes_are_idempotent)
{
	size_t n, i, writes = 0;
	const struct kg_route *r = kg_routes(&n);

	for (i = 0; i < n; i++) {
		bool write = r[i].scope == KG_SCOPE_CREATE && r[i].up_method != NULL;

		ck_assert_msg(r[i].idempotent == write, "%s %s", r[i].method, r[i].tmpl);
		writes += write;
	}
	ck_assert_uint_eq(writes, 6);
}
END_TEST

START_TEST(method_not_allowed_lists_allow)
{
	struct kg_match m;

	ck_assert(kg_route_match("/v1/users/x/wallets/a", "POST", &m));
	ck_assert_ptr_null(m.route);
	ck_assert(m.path_found);
	ck_assert_str_eq(m.allow, "PUT, GET, DELETE");
	ck_assert_str_eq(m.path_tmpl, "/v1/users/{userLocator}/wallets/{address}");
	ck_assert(kg_route_match("/v1/users/x/verification", "PUT", &m));
	ck_assert_str_eq(m.allow, "POST, GET");
}
END_TEST

START_TEST(no_route)
{
	static const char *const paths[] = {"/",
	                                    "",
	                                    "/v1",
	                                    "/v1/users/x/",
	                                    "/v1/users/x/consent/extra",
	                                    "/v1/documents",
	                                    "/V1/users/x",
	                                    "/v1/users/x/wallets",
	                                    "//v1/users/x",
	                                    "/healthz/",
	                                    NULL};
	struct kg_match m;
	size_t i;

	for (i = 0; paths[i] != NULL; i++) {
		ck_assert(kg_route_match(paths[i], "GET", &m));
		ck_assert_msg(m.route == NULL && !m.path_found, "%s matched", paths[i]);
	}
}
END_TEST

/* Crossmint's own paths get a hint naming the kycgate route; other unknown paths none. */
START_TEST(crossmint_paths_hint)
{
	static const struct {
		const char *method, *path, *names;
	} t[] = {
	    {"GET", "/v1/users/userId:a/identity-verification",
	     "/v1/users/{userLocator}/verification"},
	    {"PUT", "/v1/users/userId:a/identity-verification",
	     "/v1/users/{userLocator}/verification"},
	    {"PUT", "/2025-06-09/users/userId:a/identity-verification", "/verification"},
	    {"PUT", "/v1/users/userId:a/legal-documents", "PUT /v1/users/{userLocator}/consent"},
	    {"POST", "/v1/documents", "PUT /v1/users/{userLocator}/documents/{documentType}"},
	    {"POST", "/2025-06-09/documents", "/documents/{documentType}"},
	    {"GET", "/v1/documents", NULL},
	    {"GET", "/v1/nothing", NULL},
	    {"GET", "/v1/users/x/consent/extra", NULL},
	};
	struct kg_match m;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert(kg_route_match(t[i].path, t[i].method, &m));
		ck_assert(!m.path_found);
		if (t[i].names == NULL) {
			ck_assert_msg(m.hint == NULL, "%s %s: %s", t[i].method, t[i].path, m.hint);
			continue;
		}
		ck_assert_msg(m.hint != NULL && strstr(m.hint, t[i].names) != NULL, "%s %s: %s",
		              t[i].method, t[i].path, m.hint ? m.hint : "(none)");
	}
	/* A path some route has never carries a hint. */
	ck_assert(kg_route_match("/v1/users/x/verification", "DELETE", &m));
	ck_assert(m.path_found && m.hint == NULL);
}
END_TEST

START_TEST(empty_placeholder_matches)
{
	struct kg_match m;

	/* Parameters are checked later (400 comes after 401 / 403), so an empty one matches. */
	ck_assert(kg_route_match("/v1/users//verification", "GET", &m));
	ck_assert_str_eq(m.route->operation, "verification.get");
	ck_assert_uint_eq(m.params[0].len, 0);
}
END_TEST

START_TEST(bounds)
{
	struct kg_match m;
	char *long_path = malloc(KG_MAX_RAW_PATH_BYTES + 16);

	ck_assert(!kg_route_match("/a/b/c/d/e/f/g/h/i/j", "GET", &m));
	ck_assert_ptr_null(m.route);
	memset(long_path, 'a', KG_MAX_RAW_PATH_BYTES + 15);
	memcpy(long_path, "/v1/users/", 10);
	long_path[KG_MAX_RAW_PATH_BYTES + 15] = '\0';
	ck_assert(!kg_route_match(long_path, "GET", &m));
	ck_assert(!m.path_found);
	free(long_path);
}
END_TEST

/* Every row names a complete behaviour: a local answer, a work route's three steps, or an
 * upstream call with its answer, a shaper for a body, named query parameters each with a parser, a
 * unique operation name. */
START_TEST(rows_are_complete)
{
	size_t n, i, j, k;
	const struct kg_route *r = kg_routes(&n);

	for (i = 0; i < n; i++) {
		bool work = r[i].work_begin != NULL;

		/* A work route (answered after a store job) has all three functions. */
		ck_assert_msg(!work || (r[i].work_submit != NULL && r[i].work_resumed != NULL &&
		                        r[i].local == NULL),
		              "%s", r[i].tmpl);
		ck_assert_msg((r[i].local != NULL || work) == (r[i].up_method == NULL), "%s",
		              r[i].tmpl);
		ck_assert_msg(r[i].local != NULL || work ||
		                  (r[i].answer != NULL && r[i].up_path != NULL),
		              "%s %s", r[i].method, r[i].tmpl);
		ck_assert_msg((r[i].body != KG_BODY_NONE) == (r[i].shape != NULL), "%s %s",
		              r[i].method, r[i].tmpl);
		/* Local routes are public, but those of webhooks.manage (they read the store). */
		ck_assert_msg(r[i].local == NULL || r[i].scope == 0 ||
		                  r[i].scope == KG_SCOPE_WEBHOOKS,
		              "%s", r[i].tmpl);
		ck_assert_ptr_nonnull(r[i].operation);
		for (j = 0; r[i].query != NULL && r[i].query[j].name != NULL; j++) {
			ck_assert(r[i].query[j].parse != NULL);
			for (k = 0; k < j; k++)
				ck_assert_str_ne(r[i].query[k].name, r[i].query[j].name);
		}
		ck_assert_uint_le(j, KG_MAX_QUERY_PARAMS);
		for (k = 0; k < i; k++)
			ck_assert_str_ne(r[k].operation, r[i].operation);
	}
}
END_TEST

/* ---- the table against the spec ------------------------------------------------------------ */

struct spec_op {
	char path[128];
	char method[128];
};

static bool is_method(const char *k)
{
	static const char *const methods[] = {"get",   "put",  "post",    "delete",
	                                      "patch", "head", "options", NULL};
	size_t i;

	for (i = 0; methods[i] != NULL; i++)
		if (strcmp(k, methods[i]) == 0)
			return true;
	return false;
}

/* Collects (path, method) pairs from the spec's paths mapping. */
static size_t spec_ops(struct spec_op *ops, size_t cap)
{
	FILE *f = fopen(KG_SOURCE_DIR "/openapi/kycgate.yaml", "rb");
	yaml_parser_t p;
	yaml_event_t ev;
	int depth = 0, in_paths = 0, done = 0;
	char path[128] = "", last_key[128] = "";
	bool expect_key = false;
	size_t n = 0;

	ck_assert_ptr_nonnull(f);
	yaml_parser_initialize(&p);
	yaml_parser_set_input_file(&p, f);
	while (!done && yaml_parser_parse(&p, &ev)) {
		switch (ev.type) {
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			if (in_paths && depth == 2 && ev.type == YAML_MAPPING_START_EVENT)
				snprintf(path, sizeof(path), "%s", last_key);
			depth++;
			expect_key = ev.type == YAML_MAPPING_START_EVENT;
			if (depth == 2 && strcmp(last_key, "paths") == 0)
				in_paths = 1;
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			depth--;
			if (in_paths && depth == 1)
				in_paths = 0;
			expect_key = true;
			break;
		case YAML_SCALAR_EVENT:
			if (expect_key) {
				snprintf(last_key, sizeof(last_key), "%s",
				         (char *)ev.data.scalar.value);
				if (in_paths && depth == 3 && n < cap && is_method(last_key)) {
					snprintf(ops[n].path, sizeof(ops[n].path), "%s", path);
					snprintf(ops[n].method, sizeof(ops[n].method), "%s",
					         last_key);
					n++;
				}
			}
			expect_key = !expect_key;
			break;
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	fclose(f);
	return n;
}

START_TEST(table_matches_spec)
{
	struct spec_op ops[64];
	size_t n = spec_ops(ops, 64), nr, i, j;
	const struct kg_route *r = kg_routes(&nr);

	ck_assert_uint_eq(n, nr);
	for (i = 0; i < nr; i++) {
		bool found = false;

		for (j = 0; j < n && !found; j++)
			found = strcmp(ops[j].path, r[i].tmpl) == 0 &&
			        strcasecmp(ops[j].method, r[i].method) == 0;
		ck_assert_msg(found, "%s %s is not in openapi/kycgate.yaml", r[i].method,
		              r[i].tmpl);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("router");
	TCase *tc = tcase_create("router");
	int failed;

	tcase_add_test(tc, matches_each_route);
	tcase_add_test(tc, method_not_allowed_lists_allow);
	tcase_add_test(tc, writes_are_idempotent);
	tcase_add_test(tc, no_route);
	tcase_add_test(tc, crossmint_paths_hint);
	tcase_add_test(tc, empty_placeholder_matches);
	tcase_add_test(tc, bounds);
	tcase_add_test(tc, rows_are_complete);
	tcase_add_test(tc, table_matches_spec);
	suite_add_tcase(s, tc);
	failed = kt_run_suite(s);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
