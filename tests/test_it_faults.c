/* Integration: every simulator fault locator mapped to its problem status through the gateway,
 * a thousand slow upstream calls in flight at once, the in-flight cap, and curl's own words in
 * the log line of an upstream that cannot be reached. */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "it_common.h"

struct fault {
	const char *locator;
	long status;
	const char *code;
	int upstream_status; /* expected upstream.status, 0 = none */
	const char *title;   /* expected title, NULL = not checked */
};

#define REACHED "Crossmint failed"
#define UNREACHED "Crossmint could not be reached"

static const struct fault faults[] = {
    {"userId:sim-status-500", 502, "upstream-error", 0, REACHED},
    {"userId:sim-status-503", 502, "upstream-error", 0, REACHED},
    {"userId:sim-status-404", 404, "upstream-rejected", 404, NULL},
    {"userId:sim-status-422", 422, "upstream-rejected", 422, NULL},
    {"userId:sim-status-400", 400, "upstream-rejected", 400, NULL},
    {"userId:sim-status-401", 502, "upstream-auth", 0, NULL},
    {"userId:sim-status-403", 502, "upstream-auth", 0, NULL},
    {"userId:sim-status-408", 504, "upstream-timeout", 0, NULL},
    {"userId:sim-status-429", 429, "rate-limited", 0, NULL},
    {"userId:sim-status-302", 502, "upstream-error", 0, REACHED},
    {"userId:sim-malformed", 502, "upstream-invalid-response", 0, NULL},
    {"userId:sim-reset", 502, "upstream-error", 0, UNREACHED},
    {"userId:sim-ratelimit", 429, "rate-limited", 0, NULL},
    {"userId:sim-latency-5000", 504, "upstream-timeout", 0, NULL},
};

START_TEST(fault_locators)
{
	const struct fault *f = &faults[_i / 2];
	const char *const rd[] = {IT_READER, NULL};
	char target[256], v[32];
	struct kt_resp r;

	/* Each fault through a pass-through route and through the verification route. */
	snprintf(target, sizeof(target), "/v1/users/%s%s", f->locator,
	         _i % 2 ? "/verification" : "");
	kt_http(it_gw.port, "GET", target, rd, NULL, 0, &r);
	ck_assert_msg(r.status == f->status, "%s: %ld: %s", target, r.status, r.body);
	it_assert_problem(&r, f->status, f->code);
	if (f->title != NULL)
		ck_assert_msg(strcmp(kt_str(r.json, "title"), f->title) == 0, "%s: %s", target,
		              r.body);
	if (f->upstream_status != 0)
		ck_assert_int_eq(json_object_get_int(json_object_object_get(
		                     json_object_object_get(r.json, "upstream"), "status")),
		                 f->upstream_status);
	else
		ck_assert(!json_object_object_get_ex(r.json, "upstream", NULL));
	if (f->status == 429) {
		ck_assert(kt_header(&r, "Retry-After", v, sizeof(v)));
		ck_assert_str_eq(v, "1");
	}
	/* Crossmint's key or URL never shows. */
	ck_assert_ptr_null(strstr(r.body, IT_KEY));
	ck_assert_ptr_null(strstr(r.body, "127.0.0.1"));
	kt_resp_free(&r);
}
END_TEST

/* sim-flaky-2 fails twice with 503 then behaves: the gateway's retries (crossmint.retry, three
 * attempts by default) hide both failures from the caller (more in test_it_resilience.c). */
START_TEST(flaky_then_ok)
{
	const char *const w[] = {IT_WRITER, IT_JSON, NULL};
	static const char consent[] =
	    "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-06-01T12:00:00Z\"}";
	struct kt_resp r;

	kt_http(it_gw.port, "PUT", "/v1/users/userId:sim-flaky-2/consent", w, consent,
	        strlen(consent), &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	kt_resp_free(&r);
}
END_TEST

/* A thousand slow calls at once: none waits for a thread, none fails. A user read is not
 * coalesced (only status reads are): each is an upstream call of its own, holding a connection
 * to the simulator for its 300 ms. The test has its own gateway: with the shared one's 2 s
 * upstream timeout (there to make sim-latency-5000 a quick 504) it was a timed test. Under the
 * sanitizers, with both cores busy with other work, an exchange of the thousand took up to 4.4 s
 * (the gateway, the simulator and this client all waiting for a CPU), and each one past 2 s
 * answered 504 upstream-timeout: one run got 285 answers 404 of 1000. Here crossmint.timeout_ms
 * is the default 15 s, several times the slowest exchange seen and under the client's 30 s, so
 * that a late exchange still shows as the gateway's answer. Calls held on the two request
 * threads would need 1000 x 300 ms / 2 = 150 s: most would miss the client's 30 s. */
START_TEST(thousand_slow_calls)
{
	/* The shared gateway's settings but the timeout: its breaker too stays closed, so that a
	 * failure shows as itself, not as the open breaker's answer to every call after it. */
	static const char yaml[] =
	    "server:\n  listen: \"127.0.0.1:0\"\n  threads: 2\n  drain_delay_s: 0\n"
	    "  shutdown_grace_s: 1\n"
	    "crossmint:\n  environment: staging\n  base_url: \"http://127.0.0.1:@SIMPORT@\"\n"
	    "  api_key: \"" IT_KEY "\"\n  timeout_ms: 15000\n"
	    "  rate_limit: {writes_per_minute: 0, reads_per_minute: 0}\n"
	    "  circuit_breaker: {failure_threshold: 1000}\n"
	    "auth:\n  clients:\n    - name: reader\n"
	    "      token: \"reader-token-0123456789abcdef\"\n      scopes: [users.read]\n";
	enum { N = 1000 };
	struct kt_resp *r = calloc(N, sizeof(*r));
	struct kt_proc g;
	int i, ok = 0, other = -1;
	char seen[256] = "";

	kt_start_gateway(&g, yaml, it_sim.port, NULL);
	kt_concurrent_get(g.port, "/v1/users/userId:sim-latency-300", IT_READER, N, r);
	for (i = 0; i < N; i++) {
		ok += r[i].status == 404; /* the slow user does not exist: Crossmint's 404 */
		if (r[i].status != 404 && other < 0) {
			other = i;
			snprintf(seen, sizeof(seen), "%ld %.200s", r[i].status, r[i].body);
		}
		kt_resp_free(&r[i]);
	}
	free(r);
	ck_assert_msg(ok == N, "%d of %d answered 404; the first other: %s", ok, N, seen);
	ck_assert_int_eq(kt_stop(&g), 0);
}
END_TEST

static char *log_line(const struct kt_proc *p, const char *a, const char *b);

/* crossmint.max_inflight: past it, 503 unavailable with Retry-After at once; nothing queues. */
START_TEST(inflight_cap_answers_503)
{
	static const char yaml[] =
	    "server:\n  listen: \"127.0.0.1:0\"\n  drain_delay_s: 0\n"
	    "crossmint:\n  environment: staging\n  base_url: \"http://127.0.0.1:@SIMPORT@\"\n"
	    "  api_key: \"" IT_KEY "\"\n  max_inflight: 2\n"
	    "  rate_limit: {writes_per_minute: 0, reads_per_minute: 0}\n"
	    "auth:\n  clients:\n    - name: reader\n"
	    "      token: \"reader-token-0123456789abcdef\"\n      scopes: [users.read]\n";
	enum { N = 6 };
	struct kt_proc g;
	struct kt_resp r[N];
	char v[32];
	int i, refused = 0, answered = 0;
	char *line;

	kt_start_gateway(&g, yaml, it_sim.port, NULL);
	/* The start-up self-check holds one of the two slots until it is answered (it is logged
	 * after its slot is given back): without this wait only one read might get in. */
	line = log_line(&g, "upstream-selfcheck", "status");
	ck_assert_msg(line != NULL, "no self-check line");
	free(line);
	kt_concurrent_get(g.port, "/v1/users/userId:sim-latency-800", IT_READER, N, r);
	for (i = 0; i < N; i++) {
		if (r[i].status == 503) {
			refused++;
			ck_assert_msg(kt_header(&r[i], "Retry-After", v, sizeof(v)),
			              "no Retry-After");
		}
		answered += r[i].status == 404;
		kt_resp_free(&r[i]);
	}
	ck_assert_int_eq(refused + answered, N);
	ck_assert_int_ge(refused, 1);
	ck_assert_int_ge(answered, 2);
	ck_assert_int_eq(kt_stop(&g), 0);
}
END_TEST

/* The line of the child's log holding a and b (new string), polled for up to 5 s; NULL if none. */
static char *log_line(const struct kt_proc *p, const char *a, const char *b)
{
	struct timespec pause = {0, 50 * 1000000L};
	int tries;

	for (tries = 0; tries < 100; tries++) {
		char *log = kt_read_log(p), *line = log, *nl, *found = NULL;

		for (; line != NULL && *line != '\0' && found == NULL; line = nl ? nl + 1 : NULL) {
			nl = strchr(line, '\n');
			if (nl != NULL)
				*nl = '\0';
			if (strstr(line, a) != NULL && strstr(line, b) != NULL)
				found = strdup(line);
		}
		free(log);
		if (found != NULL)
			return found;
		nanosleep(&pause, NULL);
	}
	return NULL;
}

/* An upstream that refuses connections: the answer is 502, and the log says why in curl's words
 * (on the request's upstream-failed line and on the start-up self-check), never with the path or
 * the locator. */
START_TEST(connect_failure_logged)
{
	static const char *const env[] = {"IT_API_KEY=" IT_KEY, NULL};
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct kt_proc g;
	struct kt_resp r;
	const char *const h[] = {IT_READER, NULL};
	char *line, *log;

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0); /* never listening */
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	kt_start_gateway(&g, it_gateway_yaml, ntohs(a.sin_port), env);
	kt_http(g.port, "GET", "/v1/users/userId:refused-person", h, NULL, 0, &r);
	it_assert_problem(&r, 502, "upstream-error");
	kt_resp_free(&r);
	line = log_line(&g, "\"event\":\"upstream-failed\"", "\"reason\":\"connect\"");
	ck_assert_msg(line != NULL, "no upstream-failed line with reason connect");
	ck_assert_msg(strstr(line, "\"detail\":\"Failed to connect to 127.0.0.1 port") != NULL,
	              "%s", line);
	free(line);
	line = log_line(&g, "\"event\":\"upstream-selfcheck\"", "\"error\":\"Failed to connect");
	ck_assert_msg(line != NULL, "no self-check line with curl's error");
	free(line);
	log = kt_read_log(&g);
	ck_assert_msg(strstr(log, "refused-person") == NULL && strstr(log, "/users/userId") == NULL,
	              "a locator or an upstream path in the log:\n%s", log);
	free(log);
	ck_assert_int_eq(kt_stop(&g), 0);
	close(fd);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("it_faults");
	TCase *tc = tcase_create("faults");
	int failed;

	tcase_add_unchecked_fixture(tc, it_setup, it_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, fault_locators, 0, (int)(2 * sizeof(faults) / sizeof(faults[0])));
	tcase_add_test(tc, flaky_then_ok);
	tcase_add_test(tc, thousand_slow_calls);
	tcase_add_test(tc, inflight_cap_answers_503);
	tcase_add_test(tc, connect_failure_logged);
	suite_add_tcase(s, tc);
	failed = kt_run_suite(s);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
