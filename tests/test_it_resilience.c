/* Integration (issue 9): retries, the circuit breaker, per-client limits and honest backpressure,
 * driven by the simulator's fault locators through the real binary. Timings are asserted only
 * with generous bounds ("504 in under 4 s, not 8"). */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "harness.h"

#define KEY "sk_staging_res0123456789abcdef"
#define WRITER "Authorization: Bearer writer-token-0123456789abcdef"
#define READER "Authorization: Bearer reader-token-0123456789abcdef"
#define THREE "Authorization: Bearer three-token-0123456789abcdefgh"
#define FIVE "Authorization: Bearer five-token-0123456789abcdefghi"
#define JSON_CT "Content-Type: application/json"
#define CONSENT "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-06-01T12:00:00Z\"}"

/* The program's gateway: retries on, the breaker out of reach, two limited clients. @THREE@ is
 * the limit of client "three" (a reload changes it). */
static const char main_yaml[] = "server:\n"
                                "  listen: \"127.0.0.1:0\"\n"
                                "  threads: 2\n"
                                "  drain_delay_s: 0\n"
                                "  shutdown_grace_s: 1\n"
                                "crossmint:\n"
                                "  environment: staging\n"
                                "  base_url: \"http://127.0.0.1:@SIMPORT@\"\n"
                                "  api_key: \"" KEY "\"\n"
                                "  timeout_ms: 2000\n"
                                "  rate_limit: {writes_per_minute: 0, reads_per_minute: 0}\n"
                                "  retry: {max_attempts: 3, base_delay_ms: 200, "
                                "max_delay_ms: 400}\n"
                                "  circuit_breaker: {failure_threshold: 1000}\n"
                                "verification:\n"
                                "  cache_ttl_ms: 0\n"
                                "auth:\n"
                                "  clients:\n"
                                "    - name: writer\n"
                                "      token: \"writer-token-0123456789abcdef\"\n"
                                "      scopes: [users.create, users.read]\n"
                                "    - name: three\n"
                                "      token: \"three-token-0123456789abcdefgh\"\n"
                                "      scopes: [users.read]\n"
                                "      requests_per_minute: %u\n"
                                "    - name: five\n"
                                "      token: \"five-token-0123456789abcdefghi\"\n"
                                "      scopes: [users.create, users.read]\n"
                                "      requests_per_minute: 5\n";

/* A gateway whose breaker opens after 4 failed attempts (two requests of two attempts) and
 * stays open 3 s; %u is retry.base_delay_ms (a reload changes it). */
static const char breaker_yaml[] = "server:\n"
                                   "  listen: \"127.0.0.1:0\"\n"
                                   "  drain_delay_s: 0\n"
                                   "  shutdown_grace_s: 1\n"
                                   "crossmint:\n"
                                   "  environment: staging\n"
                                   "  base_url: \"http://127.0.0.1:@SIMPORT@\"\n"
                                   "  api_key: \"" KEY "\"\n"
                                   "  timeout_ms: 2000\n"
                                   "  rate_limit: {writes_per_minute: 0, reads_per_minute: 0}\n"
                                   "  retry: {max_attempts: 2, base_delay_ms: %u, "
                                   "max_delay_ms: 100}\n"
                                   "  circuit_breaker: {failure_threshold: 4, open_s: 3}\n"
                                   "verification:\n"
                                   "  cache_ttl_ms: 30000\n"
                                   "auth:\n"
                                   "  clients:\n"
                                   "    - name: writer\n"
                                   "      token: \"writer-token-0123456789abcdef\"\n"
                                   "      scopes: [users.create, users.read]\n"
                                   "    - name: reader\n"
                                   "      token: \"reader-token-0123456789abcdef\"\n"
                                   "      scopes: [users.read]\n";

static struct kt_proc sim, gw;

static void setup(void)
{
	/* A review long enough for a whole ?wait=2 to re-read while in review. */
	static const char *const args[] = {"--api-key", KEY, "--review-delay-ms", "4000", NULL};
	char yaml[sizeof(main_yaml) + 16];

	curl_global_init(CURL_GLOBAL_DEFAULT);
	kt_start_simulator(&sim, args);
	snprintf(yaml, sizeof(yaml), main_yaml, 3u);
	kt_start_gateway(&gw, yaml, sim.port, NULL);
}

static void teardown(void)
{
	ck_assert_int_eq(kt_stop(&gw), 0); /* 0 also means no leak under the sanitizers */
	ck_assert_int_eq(kt_stop(&sim), 0);
	curl_global_cleanup();
}

static double elapsed_ms(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) * 1000.0 + (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

static void pause_ms(long ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&t, NULL);
}

/* One request with an X-Request-Id of our own; asserts the status. */
static void call(unsigned port, const char *method, const char *target, const char *auth,
                 const char *rid, const char *body, long want, struct kt_resp *r)
{
	char idh[96];
	const char *const h[] = {auth, JSON_CT, idh, NULL};

	snprintf(idh, sizeof(idh), "X-Request-Id: %s", rid);
	kt_http(port, method, target, h, body, body ? strlen(body) : 0, r);
	ck_assert_msg(r->status == want, "%s %s: %ld, wanted %ld: %s", method, target, r->status,
	              want, r->body);
}

static void assert_code(const struct kt_resp *r, const char *code)
{
	char type[128];

	snprintf(type, sizeof(type), "urn:kycgate:problem:%s", code);
	ck_assert_msg(r->json != NULL && kt_str(r->json, "type") != NULL &&
	                  strcmp(kt_str(r->json, "type"), type) == 0,
	              "wanted %s: %s", code, r->body);
}

/* The "attempts" of the access line of request rid in line (one log line), or -1. */
static int attempts_in(const char *line, const char *rid)
{
	char needle[128];
	const char *a = strstr(line, "\"attempts\":");

	snprintf(needle, sizeof(needle), "\"requestId\":\"%s\"", rid);
	if (strstr(line, "\"event\":\"request\"") == NULL || strstr(line, needle) == NULL ||
	    a == NULL)
		return -1;
	return (int)strtol(a + strlen("\"attempts\":"), NULL, 10);
}

/* The access line of request rid (polled for up to 5 s): its "attempts" (the last such line's),
 * or -1. */
static int attempts_of(const struct kt_proc *p, const char *rid)
{
	int tries;

	for (tries = 0; tries < 100; tries++) {
		char *log = kt_read_log(p), *line, *nl;
		int n = -1, k;

		for (line = log; line != NULL && *line != '\0'; line = nl ? nl + 1 : NULL) {
			nl = strchr(line, '\n');
			if (nl != NULL)
				*nl = '\0';
			k = attempts_in(line, rid);
			if (k >= 0)
				n = k;
		}
		free(log);
		if (n >= 0)
			return n;
		pause_ms(50);
	}
	return -1;
}

/* Requests the simulator saw with this method and target. */
static int upstream_count(const char *method, const char *target)
{
	return kt_sim_count(sim.port, method, target);
}

/* A sample of the gateway's /metrics page, or -1. */
static double metric(unsigned port, const char *sample)
{
	struct kt_resp r;
	double v;

	kt_http(port, "GET", "/metrics", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	v = kt_sample(r.body, sample);
	kt_resp_free(&r);
	return v;
}

/* Polls a metric until it equals want (true) or ms pass (false). */
static bool metric_becomes(unsigned port, const char *sample, double want, int ms)
{
	int waited;

	for (waited = 0; waited <= ms; waited += 50) {
		if (metric(port, sample) == want)
			return true;
		pause_ms(50);
	}
	return false;
}

/* Rewrites the gateway's config (with @SIMPORT@ replaced) and reloads it (SIGHUP), waiting for
 * the reload to count. */
static void reload(struct kt_proc *p, const char *yaml)
{
	const char *ok = "kycgate_config_reloads_total{result=\"success\"}";
	const char *at = strstr(yaml, "@SIMPORT@");
	double before = metric(p->port, ok);
	char tmp[300];
	FILE *f;

	ck_assert_ptr_nonnull(at);
	snprintf(tmp, sizeof(tmp), "%s.new", p->conf_path);
	f = fopen(tmp, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%.*s%u%s", (int)(at - yaml), yaml, sim.port, at + strlen("@SIMPORT@"));
	fclose(f);
	ck_assert_int_eq(rename(tmp, p->conf_path), 0);
	kill(p->pid, SIGHUP);
	ck_assert_msg(metric_becomes(p->port, ok, before + 1, 5000), "the reload did not happen");
}

/* sim-flaky-2 fails twice with 503: the third attempt succeeds, the caller sees only the 200. */
START_TEST(flaky_succeeds_on_third_attempt)
{
	const char *up = "/2025-06-09/users/userId:sim-flaky-2/legal-documents";
	double before = metric(gw.port, "kycgate_upstream_retries_total");
	struct kt_resp r;

	call(gw.port, "PUT", "/v1/users/userId:sim-flaky-2/consent", WRITER, "res-flaky", CONSENT,
	     200, &r);
	kt_resp_free(&r);
	ck_assert_int_eq(attempts_of(&gw, "res-flaky"), 3);
	ck_assert_int_eq(upstream_count("PUT", up), 3);
	ck_assert_double_eq(metric(gw.port, "kycgate_upstream_retries_total"), before + 2);
}
END_TEST

/* A retried status read stays one flight: concurrent readers of sim-flaky-1 share one upstream
 * read and its retry (two upstream calls in all), and all see the same answer. */
START_TEST(retried_read_stays_one_flight)
{
	enum { N = 5 };
	const char *up = "/2025-06-09/users/userId:sim-flaky-1/identity-verification";
	struct kt_resp r[N];
	int i;

	kt_concurrent_get(gw.port, "/v1/users/userId:sim-flaky-1/verification",
	                  "Authorization: Bearer writer-token-0123456789abcdef", N, r);
	for (i = 0; i < N; i++) {
		ck_assert_msg(r[i].status == 404, "%d: %ld %s", i, r[i].status, r[i].body);
		kt_resp_free(&r[i]);
	}
	ck_assert_int_eq(upstream_count("GET", up), 2);
}
END_TEST

/* sim-latency-8000 with a 2 s deadline: 504 in about 2 s, not 8; no retry past the deadline. */
START_TEST(latency_gives_504_by_the_deadline)
{
	struct timespec t0;
	struct kt_resp r;
	double ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	call(gw.port, "GET", "/v1/users/userId:sim-latency-8000", WRITER, "res-slow", NULL, 504,
	     &r);
	ms = elapsed_ms(&t0);
	assert_code(&r, "upstream-timeout");
	kt_resp_free(&r);
	ck_assert_msg(ms < 4000, "%.0f ms", ms);
	ck_assert_int_eq(attempts_of(&gw, "res-slow"), 1);
}
END_TEST

/* sim-ratelimit answers 429 with Retry-After: 1. With a 2 s deadline one retry fits (after the
 * second), a third would not: 429 with Retry-After after two attempts. */
START_TEST(ratelimit_retried_when_the_deadline_allows)
{
	struct kt_resp r;
	char v[32];

	call(gw.port, "GET", "/v1/users/userId:sim-ratelimit", WRITER, "res-429", NULL, 429, &r);
	assert_code(&r, "rate-limited");
	ck_assert(kt_header(&r, "Retry-After", v, sizeof(v)));
	ck_assert_str_eq(v, "1");
	kt_resp_free(&r);
	ck_assert_int_eq(attempts_of(&gw, "res-429"), 2);
}
END_TEST

/* A reset is retried (502 after all attempts); a malformed body is not (Crossmint answered); a
 * trigger to sim-reset is not retried (it may have reached Crossmint). */
START_TEST(reset_malformed_and_trigger)
{
	struct kt_resp r;

	call(gw.port, "GET", "/v1/users/userId:sim-reset", WRITER, "res-reset", NULL, 502, &r);
	assert_code(&r, "upstream-error");
	kt_resp_free(&r);
	ck_assert_int_eq(attempts_of(&gw, "res-reset"), 3);

	call(gw.port, "GET", "/v1/users/userId:sim-malformed/verification", WRITER, "res-bad", NULL,
	     502, &r);
	assert_code(&r, "upstream-invalid-response");
	kt_resp_free(&r);
	ck_assert_int_eq(attempts_of(&gw, "res-bad"), 1);

	call(gw.port, "POST", "/v1/users/userId:sim-reset/verification", WRITER, "res-trigger",
	     NULL, 502, &r);
	assert_code(&r, "upstream-error");
	kt_resp_free(&r);
	ck_assert_int_eq(attempts_of(&gw, "res-trigger"), 1);
	ck_assert_int_eq(
	    upstream_count("PUT", "/2025-06-09/users/userId:sim-reset/identity-verification"), 1);
}
END_TEST

/* A client limit of 3 per minute refuses the fourth request, with Retry-After and the RateLimit
 * headers; a reload that resizes the bucket (3 to 4) does not refill it. */
START_TEST(client_limit_refuses_the_fourth)
{
	const char *counted = "kycgate_rate_limited_total{client=\"three\",reason=\"client\"}";
	char yaml[sizeof(main_yaml) + 16], v[64];
	const char *want;
	struct kt_resp r;
	int i;

	for (i = 0; i < 3; i++) {
		call(gw.port, "GET", "/v1/users/userId:limit-person", THREE, "res-three", NULL, 404,
		     &r);
		ck_assert(kt_header(&r, "RateLimit-Policy", v, sizeof(v)));
		ck_assert_str_eq(v, "\"client\";q=3;w=60");
		ck_assert(kt_header(&r, "RateLimit", v, sizeof(v)));
		want = i == 2 ? "\"client\";r=0;t=" : "\"client\";r=";
		ck_assert_msg(strncmp(v, want, strlen(want)) == 0, "%s", v);
		kt_resp_free(&r);
	}
	call(gw.port, "GET", "/v1/users/userId:limit-person", THREE, "res-fourth", NULL, 429, &r);
	assert_code(&r, "rate-limited");
	ck_assert(kt_header(&r, "Retry-After", v, sizeof(v)));
	ck_assert_msg(strtol(v, NULL, 10) >= 1 && strtol(v, NULL, 10) <= 20, "Retry-After %s", v);
	ck_assert(kt_header(&r, "RateLimit", v, sizeof(v)));
	ck_assert_msg(strncmp(v, "\"client\";r=0;t=", 15) == 0, "%s", v);
	kt_resp_free(&r);
	ck_assert_double_eq(metric(gw.port, counted), 1);
	/* A caller without a limit gets no RateLimit headers. */
	call(gw.port, "GET", "/v1/users/userId:limit-person", WRITER, "res-free", NULL, 404, &r);
	ck_assert(!kt_header(&r, "RateLimit", v, sizeof(v)));
	kt_resp_free(&r);

	snprintf(yaml, sizeof(yaml), main_yaml, 4u);
	reload(&gw, yaml);
	call(gw.port, "GET", "/v1/users/userId:limit-person", THREE, "res-reloaded", NULL, 429, &r);
	ck_assert(kt_header(&r, "RateLimit-Policy", v, sizeof(v)));
	ck_assert_str_eq(v, "\"client\";q=4;w=60");
	kt_resp_free(&r);
}
END_TEST

/* A long-poll's re-reads never count against its caller: a client limited to 5 per minute makes
 * three requests, one ?wait=2 that re-reads several times, a fifth request, and only the sixth is
 * refused. */
START_TEST(long_poll_rereads_not_counted)
{
	const char *up = "/2025-06-09/users/userId:res-wait/identity-verification";
	struct kt_resp r;

	call(gw.port, "PUT", "/v1/users/userId:res-wait/consent", FIVE, "res-w1", CONSENT, 200, &r);
	kt_resp_free(&r);
	call(gw.port, "PUT", "/v1/users/userId:res-wait", FIVE, "res-w2",
	     "{\"userDetails\":{\"firstName\":\"A\",\"lastName\":\"B\","
	     "\"dateOfBirth\":\"1990-01-01\",\"countryOfResidence\":\"BR\"}}",
	     200, &r);
	kt_resp_free(&r);
	call(gw.port, "POST", "/v1/users/userId:res-wait/verification", FIVE, "res-w3", NULL, 200,
	     &r);
	kt_resp_free(&r);
	kt_sim_clear(sim.port);
	call(gw.port, "GET",
	     "/v1/users/userId:res-wait/verification?wait=2&products=regulated-transfer", FIVE,
	     "res-w4", NULL, 200, &r);
	ck_assert_msg(strcmp(kt_str(r.json, "overall"), "in-review") == 0, "%s", r.body);
	kt_resp_free(&r);
	ck_assert_int_ge(upstream_count("GET", up), 3); /* the first read and re-reads */
	call(gw.port, "GET", "/v1/users/userId:res-wait/verification", FIVE, "res-w5", NULL, 200,
	     &r);
	kt_resp_free(&r);
	call(gw.port, "GET", "/v1/users/userId:res-wait/verification", FIVE, "res-w6", NULL, 429,
	     &r);
	kt_resp_free(&r);
}
END_TEST

/* The breaker: sim-status-401 never opens it; sim-status-503 gives 502 after the attempts, then
 * opens it (fast 503 upstream-unavailable with Retry-After and no upstream call, a cached status
 * still served); it survives a reload; after open_s a failed probe opens it again and a good one
 * closes it. */
START_TEST(circuit_breaker)
{
	char yaml[sizeof(breaker_yaml) + 16], v[32], *log;
	const char *state = "kycgate_circuit_breaker_state";
	struct json_object *seen;
	struct kt_proc g;
	struct kt_resp r;
	int i;

	snprintf(yaml, sizeof(yaml), breaker_yaml, 10u);
	kt_start_gateway(&g, yaml, sim.port, NULL);
	ck_assert_double_eq(metric(g.port, state), 0);
	/* A status answer in the cache (cache_ttl_ms 30 s). */
	call(g.port, "PUT", "/v1/users/userId:res-cached/consent", WRITER, "b-c1", CONSENT, 200,
	     &r);
	kt_resp_free(&r);
	call(g.port, "GET", "/v1/users/userId:res-cached/verification", READER, "b-c2", NULL, 200,
	     &r);
	kt_resp_free(&r);

	/* Our key refused is not Crossmint failing: 401s never open the breaker. */
	for (i = 0; i < 6; i++) {
		call(g.port, "GET", "/v1/users/userId:sim-status-401", READER, "b-401", NULL, 502,
		     &r);
		assert_code(&r, "upstream-auth");
		kt_resp_free(&r);
	}
	ck_assert_double_eq(metric(g.port, state), 0);

	/* Two requests of two failed attempts each: the fourth failure opens it. */
	for (i = 0; i < 2; i++) {
		call(g.port, "GET", "/v1/users/userId:sim-status-503", READER, "b-503", NULL, 502,
		     &r);
		assert_code(&r, "upstream-error");
		kt_resp_free(&r);
	}
	ck_assert_double_eq(metric(g.port, state), 1);
	kt_sim_clear(sim.port);
	call(g.port, "GET", "/v1/users/userId:sim-status-503", READER, "b-open", NULL, 503, &r);
	assert_code(&r, "upstream-unavailable");
	ck_assert(kt_header(&r, "Retry-After", v, sizeof(v)));
	ck_assert_msg(strtol(v, NULL, 10) >= 1 && strtol(v, NULL, 10) <= 3, "Retry-After %s", v);
	kt_resp_free(&r);
	call(g.port, "PUT", "/v1/users/userId:res-other/consent", WRITER, "b-open2", CONSENT, 503,
	     &r);
	assert_code(&r, "upstream-unavailable");
	kt_resp_free(&r);
	/* A cached status answer is still served. */
	call(g.port, "GET", "/v1/users/userId:res-cached/verification", READER, "b-c3", NULL, 200,
	     &r);
	kt_resp_free(&r);
	seen = kt_sim_requests(sim.port);
	ck_assert_int_eq(json_object_array_length(seen), 0); /* no upstream call */
	json_object_put(seen);

	/* A reload keeps it (a new breaker would be closed: 0). */
	snprintf(yaml, sizeof(yaml), breaker_yaml, 20u);
	reload(&g, yaml);
	ck_assert_double_ne(metric(g.port, state), 0);

	/* Half-open after open_s; a failed probe opens it again. */
	ck_assert_msg(metric_becomes(g.port, state, 2, 8000), "never half-open");
	call(g.port, "GET", "/v1/users/userId:sim-status-503", READER, "b-probe1", NULL, 502, &r);
	kt_resp_free(&r);
	ck_assert_double_eq(metric(g.port, state), 1);
	ck_assert_int_eq(attempts_of(&g, "b-probe1"), 1); /* its retry was refused */

	/* A good probe (Crossmint's 404 for an unknown user) closes it. */
	ck_assert_msg(metric_becomes(g.port, state, 2, 8000), "never half-open again");
	call(g.port, "GET", "/v1/users/userId:res-unknown", READER, "b-probe2", NULL, 404, &r);
	kt_resp_free(&r);
	ck_assert_double_eq(metric(g.port, state), 0);
	call(g.port, "GET", "/v1/users/userId:sim-status-503", READER, "b-after", NULL, 502, &r);
	kt_resp_free(&r);
	ck_assert_int_eq(attempts_of(&g, "b-after"), 2);

	log = kt_log_wait(&g, "\"state\":\"closed\"", 5000);
	ck_assert_msg(strstr(log, "\"event\":\"circuit-breaker\",\"state\":\"open\"") != NULL, "%s",
	              log);
	ck_assert(strstr(log, "\"state\":\"half-open\"") != NULL);
	ck_assert(strstr(log, "\"state\":\"closed\"") != NULL);
	free(log);
	ck_assert_int_eq(kt_stop(&g), 0);
}
END_TEST

/* Retries take tokens of the same upstream budget as first attempts: with 2 reads a minute, one
 * taken by the start-up self-check, a read of sim-status-502 takes the last one and cannot retry
 * (one attempt, one upstream call); the next read is refused for budget. */
START_TEST(retries_draw_from_the_budget)
{
	static const char yaml[] =
	    "server:\n  listen: \"127.0.0.1:0\"\n  drain_delay_s: 0\n  shutdown_grace_s: 1\n"
	    "crossmint:\n  environment: staging\n  base_url: \"http://127.0.0.1:@SIMPORT@\"\n"
	    "  api_key: \"" KEY "\"\n  timeout_ms: 2000\n"
	    "  rate_limit: {writes_per_minute: 0, reads_per_minute: 2}\n"
	    "  retry: {max_attempts: 3, base_delay_ms: 10, max_delay_ms: 20}\n"
	    "auth:\n  clients:\n    - name: reader\n"
	    "      token: \"reader-token-0123456789abcdef\"\n      scopes: [users.read]\n";
	struct kt_proc g;
	struct kt_resp r;

	kt_start_gateway(&g, yaml, sim.port, NULL);
	/* The start-up self-check is a read too: wait until it took its token. */
	ck_assert_msg(metric_becomes(g.port, "kycgate_upstream_auth_ok", 1, 5000), "no self-check");
	call(g.port, "GET", "/v1/users/userId:sim-status-502", READER, "budget-1", NULL, 502, &r);
	kt_resp_free(&r);
	ck_assert_int_eq(attempts_of(&g, "budget-1"), 1);
	ck_assert_int_eq(upstream_count("GET", "/2025-06-09/users/userId:sim-status-502"), 1);
	call(g.port, "GET", "/v1/users/userId:sim-status-502", READER, "budget-2", NULL, 429, &r);
	assert_code(&r, "rate-limited");
	kt_resp_free(&r);
	ck_assert_int_eq(kt_stop(&g), 0);
}
END_TEST

/* A long-poll in a thread of its own. */
struct waiter {
	unsigned port;
	struct kt_resp r;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;
	const char *const h[] = {READER, NULL};

	kt_http(w->port, "GET",
	        "/v1/users/userId:res-waiter/verification?wait=4&products=regulated-transfer", h,
	        NULL, 0, &w->r);
	return NULL;
}

/* Backpressure stays honest: a long-poll whose re-read meets the breaker opened mid-wait answers
 * its latest state (200, in review), not an error. */
START_TEST(waiter_gets_latest_state_when_breaker_opens)
{
	static const char yaml[] =
	    "server:\n  listen: \"127.0.0.1:0\"\n  drain_delay_s: 0\n  shutdown_grace_s: 1\n"
	    "crossmint:\n  environment: staging\n  base_url: \"http://127.0.0.1:@SIMPORT@\"\n"
	    "  api_key: \"" KEY "\"\n  timeout_ms: 2000\n"
	    "  rate_limit: {writes_per_minute: 0, reads_per_minute: 0}\n"
	    "  retry: {max_attempts: 1}\n  circuit_breaker: {failure_threshold: 2, open_s: 60}\n"
	    "verification:\n  cache_ttl_ms: 0\n"
	    "auth:\n  clients:\n    - name: writer\n"
	    "      token: \"writer-token-0123456789abcdef\"\n"
	    "      scopes: [users.create, users.read]\n    - name: reader\n"
	    "      token: \"reader-token-0123456789abcdef\"\n      scopes: [users.read]\n";
	struct waiter w = {0};
	struct kt_proc g;
	struct kt_resp r;
	pthread_t t;
	int i;

	kt_start_gateway(&g, yaml, sim.port, NULL);
	w.port = g.port;
	call(g.port, "PUT", "/v1/users/userId:res-waiter/consent", WRITER, "w-1", CONSENT, 200, &r);
	kt_resp_free(&r);
	call(g.port, "PUT", "/v1/users/userId:res-waiter", WRITER, "w-2",
	     "{\"userDetails\":{\"firstName\":\"A\",\"lastName\":\"B\","
	     "\"dateOfBirth\":\"1990-01-01\",\"countryOfResidence\":\"BR\"}}",
	     200, &r);
	kt_resp_free(&r);
	call(g.port, "POST", "/v1/users/userId:res-waiter/verification", WRITER, "w-3", NULL, 200,
	     &r);
	kt_resp_free(&r);
	ck_assert_int_eq(pthread_create(&t, NULL, wait_thread, &w), 0);
	pause_ms(400); /* the first read is answered, the waiter is between re-reads */
	for (i = 0; i < 2; i++) {
		call(g.port, "GET", "/v1/users/userId:sim-status-503", READER, "w-503", NULL, 502,
		     &r);
		kt_resp_free(&r);
	}
	ck_assert_double_eq(metric(g.port, "kycgate_circuit_breaker_state"), 1);
	pthread_join(t, NULL);
	ck_assert_msg(w.r.status == 200, "%ld %s", w.r.status, w.r.body);
	ck_assert_msg(strcmp(kt_str(w.r.json, "overall"), "in-review") == 0, "%s", w.r.body);
	kt_resp_free(&w.r);
	ck_assert_int_eq(kt_stop(&g), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("it_resilience");
	TCase *tc = tcase_create("resilience");
	int failed;

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, flaky_succeeds_on_third_attempt);
	tcase_add_test(tc, retried_read_stays_one_flight);
	tcase_add_test(tc, latency_gives_504_by_the_deadline);
	tcase_add_test(tc, ratelimit_retried_when_the_deadline_allows);
	tcase_add_test(tc, reset_malformed_and_trigger);
	tcase_add_test(tc, client_limit_refuses_the_fourth);
	tcase_add_test(tc, long_poll_rereads_not_counted);
	tcase_add_test(tc, circuit_breaker);
	tcase_add_test(tc, waiter_gets_latest_state_when_breaker_opens);
	tcase_add_test(tc, retries_draw_from_the_budget);
	suite_add_tcase(s, tc);
	failed = kt_run_suite(s);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
