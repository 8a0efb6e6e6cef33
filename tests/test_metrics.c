/* Tests of src/metrics.c: exact counts under concurrency, the exposition format, label folding
 * and caps, and a full page checked by `promtool check metrics` (a missing promtool fails). */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "kycgate/metrics.h"
#include "kycgate/router.h"

#define THREADS 4
#define CALLS 100000

static const char *const families[][2] = {
    {"kycgate_http_requests_total", "counter"},
    {"kycgate_http_request_duration_seconds", "histogram"},
    {"kycgate_longpoll_duration_seconds", "histogram"},
    {"kycgate_upstream_requests_total", "counter"},
    {"kycgate_upstream_request_duration_seconds", "histogram"},
    {"kycgate_upstream_retries_total", "counter"},
    {"kycgate_upstream_errors_total", "counter"},
    {"kycgate_circuit_breaker_state", "gauge"},
    {"kycgate_rate_limited_total", "counter"},
    {"kycgate_inflight_requests", "gauge"},
    {"kycgate_longpoll_waiting", "gauge"},
    {"kycgate_upstream_auth_ok", "gauge"},
    {"kycgate_log_lines_dropped_total", "counter"},
    {"kycgate_http_header_timeouts_total", "counter"},
    {"kycgate_config_reloads_total", "counter"},
    {"kycgate_config_last_reload_success_timestamp_seconds", "gauge"},
    {"kycgate_build_info", "gauge"},
};

static char *render(void)
{
	size_t len = 0;
	char *page = kg_metrics_render(&len);

	ck_assert_ptr_nonnull(page);
	ck_assert_uint_eq(strlen(page), len);
	return page;
}

/* The value of the sample whose name and labels are exactly key; NAN when absent. */
static double sample(const char *page, const char *key)
{
	size_t n = strlen(key);
	const char *p = page;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, key, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return NAN;
}

/* The template of the route of this operation. */
static const char *tmpl_of(const char *op)
{
	size_t n, i;
	const struct kg_route *r = kg_routes(&n);

	for (i = 0; i < n; i++)
		if (strcmp(r[i].operation, op) == 0)
			return r[i].tmpl;
	ck_abort_msg("no route for operation %s", op);
	return NULL;
}

/* Each test runs in its own process (fork mode, set in main), so it starts on fresh metrics;
 * like the gateway at start, it declares every route template first. */
static void setup(void)
{
	size_t n, i;
	const struct kg_route *r = kg_routes(&n);

	for (i = 0; i < n; i++) {
		kg_metrics_add_route(r[i].tmpl);
		if (r[i].up_method != NULL)
			kg_metrics_add_operation(r[i].operation);
	}
}

static void *hammer(void *arg)
{
	const char *tmpl = tmpl_of("user.get");
	char client[16];
	int i;

	snprintf(client, sizeof(client), "svc-%d", (int)(size_t)arg);
	for (i = 0; i < CALLS; i++) {
		kg_metrics_gauge_add(KG_GAUGE_INFLIGHT, 1);
		kg_metrics_http(tmpl, "GET", i % 2 ? 404 : 200, 0.003, false);
		kg_metrics_upstream("user.get", i % 2 ? 404 : 200, 0.02);
		kg_metrics_upstream_error(KG_UPERR_TIMEOUT);
		kg_metrics_rate_limited(client, (enum kg_metrics_rl_reason)(i % KG_RL_COUNT));
		kg_metrics_log_dropped(1);
		kg_metrics_header_timeout();
		kg_metrics_gauge_add(KG_GAUGE_INFLIGHT, -1);
	}
	return NULL;
}

/* Every route that calls upstream is counted under its own operation label, never "other", once
 * the route table was declared as the gateway does at start; an undeclared name is "other". */
START_TEST(test_every_upstream_route_has_operation)
{
	size_t n, i;
	const struct kg_route *r = kg_routes(&n);
	char key[128], *page;

	for (i = 0; i < n; i++)
		if (r[i].up_method != NULL)
			kg_metrics_upstream(r[i].operation, 299, 0.001);
	kg_metrics_upstream("nothing.declared", 298, 0.001);
	page = render();
	ck_assert_double_eq(
	    sample(page, "kycgate_upstream_requests_total{operation=\"other\",code=\"298\"}"), 1);
	for (i = 0; i < n; i++) {
		if (r[i].up_method == NULL)
			continue;
		snprintf(key, sizeof(key),
		         "kycgate_upstream_requests_total{operation=\"%s\",code=\"299\"}",
		         r[i].operation);
		ck_assert_msg(sample(page, key) == 1, "%s", key);
	}
	free(page);
}
END_TEST

START_TEST(test_concurrent_exact)
{
	pthread_t t[THREADS];
	const double total = (double)THREADS * CALLS;
	size_t i;
	char *page;

	for (i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, hammer, (void *)i), 0);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	page = render();
#define U "{route=\"/v1/users/{userLocator}\""
	ck_assert_double_eq(
	    sample(page, "kycgate_http_requests_total" U ",method=\"GET\",code=\"200\"}"),
	    total / 2);
	ck_assert_double_eq(
	    sample(page, "kycgate_http_requests_total" U ",method=\"GET\",code=\"404\"}"),
	    total / 2);
	ck_assert_double_eq(sample(page, "kycgate_http_request_duration_seconds_count" U "}"),
	                    total);
	ck_assert_double_eq(
	    sample(page, "kycgate_http_request_duration_seconds_bucket" U ",le=\"0.0025\"}"), 0);
	ck_assert_double_eq(
	    sample(page, "kycgate_http_request_duration_seconds_bucket" U ",le=\"0.005\"}"), total);
	ck_assert_double_eq_tol(sample(page, "kycgate_http_request_duration_seconds_sum" U "}"),
	                        total * 0.003, 1e-6);
#undef U
	ck_assert_double_eq(
	    sample(page, "kycgate_upstream_requests_total{operation=\"user.get\",code=\"404\"}"),
	    total / 2);
	ck_assert_double_eq(
	    sample(page, "kycgate_upstream_request_duration_seconds_count{operation=\"user.get\"}"),
	    total);
	ck_assert_double_eq(sample(page, "kycgate_upstream_errors_total{reason=\"timeout\"}"),
	                    total);
	ck_assert_double_eq(
	    sample(page, "kycgate_rate_limited_total{client=\"svc-3\",reason=\"client\"}") +
	        sample(page, "kycgate_rate_limited_total{client=\"svc-3\",reason=\"crossmint\"}") +
	        sample(page,
	               "kycgate_rate_limited_total{client=\"svc-3\",reason=\"upstream-budget\"}"),
	    CALLS);
	ck_assert_double_eq(sample(page, "kycgate_log_lines_dropped_total"), total);
	ck_assert_double_eq(sample(page, "kycgate_http_header_timeouts_total"), total);
	ck_assert_double_eq(sample(page, "kycgate_inflight_requests"), 0);
	free(page);
}
END_TEST

START_TEST(test_every_family_has_help_and_type)
{
	char *page = render();
	char want[160];
	size_t i;

	for (i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		snprintf(want, sizeof(want), "# HELP %s ", families[i][0]);
		ck_assert_msg(strstr(page, want) != NULL, "missing %s", want);
		snprintf(want, sizeof(want), "\n# TYPE %s %s\n", families[i][0], families[i][1]);
		ck_assert_msg(strstr(page, want) != NULL, "missing %s", want);
	}
	ck_assert_double_eq(sample(page, "kycgate_config_reloads_total{result=\"success\"}"), 0);
	ck_assert_double_eq(sample(page, "kycgate_config_reloads_total{result=\"failure\"}"), 0);
	ck_assert_double_eq(sample(page, "kycgate_longpoll_duration_seconds_count"), 0);
	ck_assert_double_eq(sample(page, "kycgate_upstream_errors_total{reason=\"shutdown\"}"), 0);
	ck_assert_double_eq(
	    sample(page, "kycgate_build_info{version=\"" KG_VERSION "\",environment=\"unknown\"}"),
	    1);
	ck_assert(isnan(sample(page, "kycgate_upstream_auth_ok")));
	free(page);
}
END_TEST

/* A wallet.get upstream bucket. */
static double bucket(const char *page, const char *le)
{
	char key[160];

	snprintf(
	    key, sizeof(key),
	    "kycgate_upstream_request_duration_seconds_bucket{operation=\"wallet.get\",le=\"%s\"}",
	    le);
	return sample(page, key);
}

START_TEST(test_histogram_cumulative)
{
	static const double obs[] = {0.0001, 0.005, 0.0051, 0.3, 0.3, 9.9, 10, 11, 1e12, -1, NAN};
	const char *prefix =
	    "kycgate_upstream_request_duration_seconds_bucket{operation=\"wallet.get\"";
	const char *p;
	double last = -1, v;
	size_t i, buckets = 0;
	char *page;

	for (i = 0; i < sizeof(obs) / sizeof(obs[0]); i++)
		kg_metrics_upstream("wallet.get", 200, obs[i]);
	page = render();
	for (p = strstr(page, prefix); p != NULL; p = strstr(p + 1, prefix)) {
		v = strtod(strchr(p, '}') + 2, NULL);
		ck_assert(v >= last);
		last = v;
		buckets++;
	}
	ck_assert_uint_eq(buckets, 13); /* 12 bounds and +Inf */
	ck_assert_double_eq(bucket(page, "0.005"),
	                    4); /* 0.0001, 0.005 (le is inclusive), -1, NaN */
	ck_assert_double_eq(bucket(page, "0.01"), 5);
	ck_assert_double_eq(bucket(page, "0.25"), 5);
	ck_assert_double_eq(bucket(page, "0.5"), 7);
	ck_assert_double_eq(bucket(page, "10"), 9);
	ck_assert_double_eq(bucket(page, "15"), 10);
	ck_assert_double_eq(bucket(page, "+Inf"), 11);
	ck_assert_double_eq(
	    sample(page,
	           "kycgate_upstream_request_duration_seconds_count{operation=\"wallet.get\"}"),
	    11);
	free(page);
}
END_TEST

START_TEST(test_longpoll_histogram)
{
	const char *tmpl = tmpl_of("verification.get");
	char *page;

	kg_metrics_http(tmpl, "GET", 200, 12.5, true);
	kg_metrics_http(tmpl, "GET", 200, 0.5, true);
	page = render();
	ck_assert_double_eq(sample(page, "kycgate_longpoll_duration_seconds_count"), 2);
	ck_assert_double_eq(sample(page, "kycgate_longpoll_duration_seconds_bucket{le=\"0.5\"}"),
	                    1);
	ck_assert_double_eq(sample(page, "kycgate_longpoll_duration_seconds_bucket{le=\"15\"}"), 2);
	ck_assert_double_eq(sample(page, "kycgate_longpoll_duration_seconds_sum"), 13);
	ck_assert_ptr_null(strstr(page, "kycgate_http_request_duration_seconds_count"));
	ck_assert_double_eq(sample(page,
	                           "kycgate_http_requests_total{route=\"/v1/users/"
	                           "{userLocator}/verification\",method=\"GET\",code=\"200\"}"),
	                    2);
	free(page);
}
END_TEST

START_TEST(test_methods_fold_to_other)
{
	const char *tmpl = tmpl_of("healthz");
	char *page;

	kg_metrics_http(tmpl, "PATCH", 405, 0.001, false);
	kg_metrics_http(tmpl, "get", 405, 0.001, false);
	kg_metrics_http(tmpl, NULL, 405, 0.001, false);
	kg_metrics_http(tmpl, "HEAD", 200, 0.001, false);
	page = render();
	ck_assert_double_eq(
	    sample(page,
	           "kycgate_http_requests_total{route=\"/healthz\",method=\"other\",code=\"405\"}"),
	    3);
	ck_assert_double_eq(
	    sample(page,
	           "kycgate_http_requests_total{route=\"/healthz\",method=\"HEAD\",code=\"200\"}"),
	    1);
	ck_assert_ptr_null(strstr(page, "PATCH"));
	free(page);
}
END_TEST

START_TEST(test_routes_only_templates)
{
	char *copy = strdup("/v1/users/{userLocator}/consent");
	char *page;

	ck_assert_ptr_nonnull(copy);
	kg_metrics_http(NULL, "GET", 404, 0.001, false);
	kg_metrics_http("/v1/users/email:jane@example.com", "GET", 404, 0.001, false);
	kg_metrics_http(copy, "PUT", 200, 0.001, false); /* same text, other pointer */
	page = render();
	ck_assert_double_eq(
	    sample(page,
	           "kycgate_http_requests_total{route=\"unmatched\",method=\"GET\",code=\"404\"}"),
	    2);
	ck_assert_double_eq(sample(page,
	                           "kycgate_http_requests_total{route=\"/v1/users/{userLocator}/"
	                           "consent\",method=\"PUT\",code=\"200\"}"),
	                    1);
	ck_assert_ptr_null(strstr(page, "jane"));
	free(page);
	free(copy);
}
END_TEST

/* Only declared templates become labels; declaring one again (another pointer) keeps one label. */
START_TEST(test_routes_declared)
{
	static const char other[] = "/v1/events/{eventId}";
	char *copy = strdup(tmpl_of("user.get"));
	char *page;

	ck_assert_ptr_nonnull(copy);
	kg_metrics_http(other, "GET", 200, 0.001, false);
	kg_metrics_add_route(other);
	kg_metrics_add_route(copy);
	kg_metrics_http(other, "GET", 200, 0.001, false);
	kg_metrics_http(copy, "GET", 200, 0.001, false);
	kg_metrics_http(tmpl_of("user.get"), "GET", 200, 0.001, false);
	page = render();
	ck_assert_double_eq(
	    sample(page,
	           "kycgate_http_requests_total{route=\"unmatched\",method=\"GET\",code=\"200\"}"),
	    1);
	ck_assert_double_eq(sample(page, "kycgate_http_requests_total{route=\"/v1/events/"
	                                 "{eventId}\",method=\"GET\",code=\"200\"}"),
	                    1);
	ck_assert_double_eq(sample(page, "kycgate_http_requests_total{route=\"/v1/users/"
	                                 "{userLocator}\",method=\"GET\",code=\"200\"}"),
	                    2);
	free(page);
	free(copy);
}
END_TEST

START_TEST(test_status_codes)
{
	char key[160];
	char *page;
	int c;

	kg_metrics_upstream("selfcheck", 0, 0.1);
	kg_metrics_upstream("nonsense", 200, 0.1);
	kg_metrics_upstream(NULL, 200, 0.1);
	kg_metrics_http(NULL, "GET", 700, 0.1, false);
	kg_metrics_http(NULL, "GET", -3, 0.1, false);
	for (c = 200; c < 300; c++) /* far more codes than slots */
		kg_metrics_http(NULL, "GET", c, 0.1, false);
	page = render();
	ck_assert_double_eq(
	    sample(page, "kycgate_upstream_requests_total{operation=\"selfcheck\",code=\"none\"}"),
	    1);
	ck_assert_double_eq(
	    sample(page, "kycgate_upstream_requests_total{operation=\"other\",code=\"200\"}"), 2);
	/* 30 codes get slots (two are "other" and "none"), the other 70 fold, plus 700 and -3 */
	for (c = 200; c < 230; c++) {
		snprintf(
		    key, sizeof(key),
		    "kycgate_http_requests_total{route=\"unmatched\",method=\"GET\",code=\"%d\"}",
		    c);
		ck_assert_double_eq(sample(page, key), 1);
	}
	ck_assert(isnan(sample(
	    page, "kycgate_http_requests_total{route=\"unmatched\",method=\"GET\",code=\"230\"}")));
	ck_assert_double_eq(
	    sample(
	        page,
	        "kycgate_http_requests_total{route=\"unmatched\",method=\"GET\",code=\"other\"}"),
	    72);
	free(page);
}
END_TEST

START_TEST(test_label_escaping)
{
	char *page;

	kg_metrics_set_build_info("a\\b\"c\nd");
	page = render();
	ck_assert_double_eq(sample(page, "kycgate_build_info{version=\"" KG_VERSION
	                                 "\",environment=\"a\\\\b\\\"c\\nd\"}"),
	                    1);
	free(page);
	kg_metrics_set_build_info("production");
	page = render();
	ck_assert_ptr_nonnull(strstr(page, "environment=\"production\"} 1\n"));
	free(page);
}
END_TEST

START_TEST(test_client_cap)
{
	char name[32], long_name[80];
	char *page;
	int i;

	for (i = 0; i < KG_METRICS_MAX_CLIENTS + 44; i++) {
		snprintf(name, sizeof(name), "client-%d", i);
		kg_metrics_rate_limited(name, KG_RL_CROSSMINT);
		kg_metrics_rate_limited(name, KG_RL_CROSSMINT);
	}
	/* known names still count on their own */
	kg_metrics_rate_limited("client-0", KG_RL_CROSSMINT);
	memset(long_name, 'x', 65);
	long_name[65] = '\0';
	kg_metrics_rate_limited(long_name, KG_RL_CROSSMINT);
	kg_metrics_rate_limited("jane@example.com", KG_RL_CROSSMINT);
	kg_metrics_rate_limited("", KG_RL_CROSSMINT);
	kg_metrics_rate_limited(NULL, KG_RL_CROSSMINT);
	page = render();
#define RL(c) "kycgate_rate_limited_total{client=\"" c "\",reason=\"crossmint\"}"
	ck_assert_double_eq(sample(page, RL("client-0")), 3);
	ck_assert_double_eq(sample(page, RL("client-255")), 2);
	ck_assert(isnan(sample(page, RL("client-256"))));
	ck_assert_double_eq(sample(page, RL("other")), 44 * 2 + 4);
#undef RL
	ck_assert_ptr_null(strstr(page, "jane"));
	free(page);
}
END_TEST

/* 429s are counted by who refused them; a pair never counted is not rendered, and a reason out of
 * range is not counted. */
START_TEST(test_rate_limited_reasons)
{
	char *page;

	kg_metrics_rate_limited("svc", KG_RL_UPSTREAM_BUDGET);
	kg_metrics_rate_limited("svc", KG_RL_UPSTREAM_BUDGET);
	kg_metrics_rate_limited("svc", KG_RL_CROSSMINT);
	kg_metrics_rate_limited("svc", (enum kg_metrics_rl_reason)99);
	kg_metrics_rate_limited("other-svc", KG_RL_CLIENT);
	page = render();
	ck_assert_double_eq(
	    sample(page, "kycgate_rate_limited_total{client=\"svc\",reason=\"upstream-budget\"}"),
	    2);
	ck_assert_double_eq(
	    sample(page, "kycgate_rate_limited_total{client=\"svc\",reason=\"crossmint\"}"), 1);
	ck_assert(
	    isnan(sample(page, "kycgate_rate_limited_total{client=\"svc\",reason=\"client\"}")));
	ck_assert_double_eq(
	    sample(page, "kycgate_rate_limited_total{client=\"other-svc\",reason=\"client\"}"), 1);
	ck_assert_ptr_null(strstr(page, "kycgate_rate_limited_total{client=\"svc\"}"));
	ck_assert_ptr_null(strstr(page, "per-client rate limit, by client name."));
	free(page);
}
END_TEST

START_TEST(test_gauges_and_reloads)
{
	char *page;

	kg_metrics_upstream_error((enum kg_metrics_reason)99);
	kg_metrics_upstream_error(KG_UPERR_AUTH);
	kg_metrics_gauge_set(KG_GAUGE_CIRCUIT_STATE, KG_CIRCUIT_HALF_OPEN);
	kg_metrics_gauge_add(KG_GAUGE_LONGPOLL_WAITING, 5);
	kg_metrics_gauge_add(KG_GAUGE_LONGPOLL_WAITING, -2);
	kg_metrics_gauge_set(KG_GAUGE_UPSTREAM_AUTH_OK, 0);
	kg_metrics_config_loaded(1700000000.5);
	kg_metrics_config_reload(false, 1800000000);
	kg_metrics_config_reload(false, 1800000000);
	page = render();
	ck_assert_double_eq(sample(page, "kycgate_upstream_errors_total{reason=\"other\"}"), 1);
	ck_assert_double_eq(sample(page, "kycgate_upstream_errors_total{reason=\"auth\"}"), 1);
	ck_assert_double_eq(sample(page, "kycgate_circuit_breaker_state"), 2);
	ck_assert_double_eq(sample(page, "kycgate_longpoll_waiting"), 3);
	ck_assert_double_eq(sample(page, "kycgate_upstream_auth_ok"), 0);
	ck_assert_double_eq(sample(page, "kycgate_config_reloads_total{result=\"failure\"}"), 2);
	ck_assert_double_eq(sample(page, "kycgate_config_reloads_total{result=\"success\"}"), 0);
	ck_assert_double_eq(sample(page, "kycgate_config_last_reload_success_timestamp_seconds"),
	                    1700000000.5);
	free(page);
	kg_metrics_config_reload(true, 1800000000);
	kg_metrics_gauge_set(KG_GAUGE_UPSTREAM_AUTH_OK, 7);
	page = render();
	ck_assert_double_eq(sample(page, "kycgate_config_reloads_total{result=\"success\"}"), 1);
	ck_assert_double_eq(sample(page, "kycgate_config_last_reload_success_timestamp_seconds"),
	                    1800000000);
	ck_assert_double_eq(sample(page, "kycgate_upstream_auth_ok"), 1);
	free(page);
}
END_TEST

/* Writes page to a temporary file and returns promtool's exit status (127: not installed). */
static int promtool(const char *page)
{
	char path[] = "/tmp/kg_metrics_XXXXXX", cmd[128];
	int fd = mkstemp(path), rc;
	size_t len = strlen(page);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, page, len), (ssize_t)len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
	rc = system(cmd);
	unlink(path);
	ck_assert_msg(rc != -1 && WIFEXITED(rc), "promtool did not run");
	return WEXITSTATUS(rc);
}

static void fill_everything(void)
{
	size_t n, i;
	const struct kg_route *r = kg_routes(&n);

	for (i = 0; i < n; i++) {
		kg_metrics_http(r[i].tmpl, r[i].method, 200, 0.01 * (double)i, false);
		if (r[i].up_method != NULL)
			kg_metrics_upstream(r[i].operation, 200, 0.05);
	}
	kg_metrics_http(NULL, "BREW", 418, 0.0001, false);
	kg_metrics_http(tmpl_of("verification.get"), "GET", 200, 30, true);
	kg_metrics_upstream("selfcheck", 404, 0.2);
	kg_metrics_upstream("user.put", 0, 15.5);
	kg_metrics_upstream_error(KG_UPERR_RESET);
	kg_metrics_rate_limited("svc.a_b-1", KG_RL_CLIENT);
	kg_metrics_rate_limited("svc.a_b-1", KG_RL_UPSTREAM_BUDGET);
	kg_metrics_rate_limited("bad name", KG_RL_CROSSMINT);
	kg_metrics_gauge_set(KG_GAUGE_UPSTREAM_AUTH_OK, 1);
	kg_metrics_gauge_add(KG_GAUGE_INFLIGHT, 3);
	kg_metrics_log_dropped(9);
	kg_metrics_header_timeout();
	kg_metrics_config_reload(true, 1700000000.25);
	kg_metrics_set_build_info("stag\"ing\\\n");
}

START_TEST(test_promtool_accepts_page)
{
	char *page = render();

	ck_assert_msg(promtool(page) == 0, "promtool rejected the empty page (or is missing):\n%s",
	              page);
	free(page);
	fill_everything();
	page = render();
	ck_assert_msg(promtool(page) == 0, "promtool rejected the page:\n%s", page);
	free(page);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_concurrent_exact);
	tcase_add_test(tc, test_every_upstream_route_has_operation);
	tcase_add_test(tc, test_every_family_has_help_and_type);
	tcase_add_test(tc, test_histogram_cumulative);
	tcase_add_test(tc, test_longpoll_histogram);
	tcase_add_test(tc, test_methods_fold_to_other);
	tcase_add_test(tc, test_routes_only_templates);
	tcase_add_test(tc, test_routes_declared);
	tcase_add_test(tc, test_status_codes);
	tcase_add_test(tc, test_label_escaping);
	tcase_add_test(tc, test_client_cap);
	tcase_add_test(tc, test_rate_limited_reasons);
	tcase_add_test(tc, test_gauges_and_reloads);
	tcase_add_test(tc, test_promtool_accepts_page);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_FORK); /* fresh metrics per test, whatever CK_FORK says */
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
