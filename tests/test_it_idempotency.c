/* Integration (issue 10 items 1 and 6): the store and Idempotency-Key through the real binary.
 * A repeated key makes one upstream call and replays with Idempotent-Replayed; another request
 * with the key is a 422, a repeat while the first runs a 409; failures are not kept; a caller
 * that gave up still finds its answer; a read-only store fails only the requests that need it;
 * store.driver none refuses keys; a stop with a request still waiting on a locked store ends the
 * process with a line that says so, not with libmicrohttpd's abort. */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sqlite3.h>

#include "harness.h"

#define KEY "sk_staging_idem0123456789abcdef"
#define WRITER "Authorization: Bearer writer-token-0123456789abcdef"
#define OTHER "Authorization: Bearer other-token-0123456789abcdefgh"
#define JSON_CT "Content-Type: application/json"
#define CONSENT "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-06-01T12:00:00Z\"}"
#define CONSENT2 "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-06-01T12:00:01Z\"}"

/* %s: the store section ("" for the harness's own store file). */
static const char gw_yaml[] = "server:\n"
                              "  listen: \"127.0.0.1:0\"\n"
                              "  drain_delay_s: 0\n"
                              "  shutdown_grace_s: 1\n"
                              "crossmint:\n"
                              "  environment: staging\n"
                              "  base_url: \"http://127.0.0.1:@SIMPORT@\"\n"
                              "  api_key: \"" KEY "\"\n"
                              "  timeout_ms: 5000\n"
                              "  rate_limit: {writes_per_minute: 0, reads_per_minute: 0}\n"
                              "  retry: {max_attempts: 1}\n"
                              "verification:\n"
                              "  cache_ttl_ms: 0\n"
                              "auth:\n"
                              "  clients:\n"
                              "    - name: writer\n"
                              "      token: \"writer-token-0123456789abcdef\"\n"
                              "      scopes: [users.create, users.read]\n"
                              "    - name: other\n"
                              "      token: \"other-token-0123456789abcdefgh\"\n"
                              "      scopes: [users.create, users.read]\n"
                              "%s";

static struct kt_proc sim, gw;

static void start_gw(const char *store)
{
	char yaml[sizeof(gw_yaml) + 512];

	snprintf(yaml, sizeof(yaml), gw_yaml, store);
	kt_start_gateway(&gw, yaml, sim.port, NULL);
}

static void setup(void)
{
	static const char *const args[] = {"--api-key", KEY, "--review-delay-ms", "4000", NULL};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	kt_start_simulator(&sim, args);
	start_gw("");
}

static void teardown(void)
{
	ck_assert_int_eq(kt_stop(&gw), 0); /* 0 also means no leak under the sanitizers */
	ck_assert_int_eq(kt_stop(&sim), 0);
	curl_global_cleanup();
}

/* One request, with an Idempotency-Key when key is not NULL. */
static void call(const char *method, const char *target, const char *auth, const char *key,
                 const char *body, struct kt_resp *r)
{
	char kh[400];
	const char *const h[] = {auth, JSON_CT, key ? kh : NULL, NULL};

	snprintf(kh, sizeof(kh), "Idempotency-Key: %s", key ? key : "");
	kt_http(gw.port, method, target, h, body, body ? strlen(body) : 0, r);
}

static bool replayed(const struct kt_resp *r)
{
	char v[16];

	return kt_header(r, "Idempotent-Replayed", v, sizeof(v)) && strcmp(v, "true") == 0;
}

static const char *problem_type(const struct kt_resp *r)
{
	return r->json ? kt_str(r->json, "type") : "";
}

/* Requests the simulator saw with this method and target. */
static int upstream_count(const char *method, const char *target)
{
	return kt_sim_count(sim.port, method, target);
}

#define TRIGGER_UP(loc) "/2025-06-09/users/" loc "/identity-verification"

static double metric(const char *sample)
{
	struct kt_resp r;
	double v;

	kt_http(gw.port, "GET", "/metrics", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	v = kt_sample(r.body, sample);
	kt_resp_free(&r);
	return v;
}

/* A repeated key on a trigger: one upstream trigger; the repeat replays status and body with
 * Idempotent-Replayed: true. */
START_TEST(trigger_once)
{
	struct kt_resp a, b, c;

	call("PUT", "/v1/users/userId:idem-1/consent", WRITER, NULL, CONSENT, &a);
	ck_assert_int_eq(a.status, 200);
	kt_resp_free(&a);
	kt_sim_clear(sim.port);
	call("POST", "/v1/users/userId:idem-1/verification", WRITER, "trigger-idem-1", NULL, &a);
	ck_assert_int_eq(a.status, 200);
	ck_assert(!replayed(&a));
	call("POST", "/v1/users/userId:idem-1/verification", WRITER, "trigger-idem-1", NULL, &b);
	ck_assert_int_eq(b.status, 200);
	ck_assert(replayed(&b));
	ck_assert_str_eq(a.body, b.body);
	ck_assert_int_eq(upstream_count("PUT", TRIGGER_UP("userId:idem-1")), 1);
	/* The key is the client's own: another client's same key is a new request. */
	call("POST", "/v1/users/userId:idem-1/verification", OTHER, "trigger-idem-1", NULL, &c);
	ck_assert_int_eq(c.status, 200);
	ck_assert(!replayed(&c));
	ck_assert_int_eq(upstream_count("PUT", TRIGGER_UP("userId:idem-1")), 2);
	kt_resp_free(&a);
	kt_resp_free(&b);
	kt_resp_free(&c);
	ck_assert_double_eq(metric("kycgate_store_up"), 1);
}
END_TEST

/* The same key on another request (body, user) is a 422 and reaches nobody. */
START_TEST(reused_key)
{
	struct kt_resp a, b, c;

	call("PUT", "/v1/users/userId:idem-2/consent", WRITER, "consent-2", CONSENT, &a);
	ck_assert_int_eq(a.status, 200);
	kt_sim_clear(sim.port);
	call("PUT", "/v1/users/userId:idem-2/consent", WRITER, "consent-2", CONSENT2, &b);
	ck_assert_int_eq(b.status, 422);
	ck_assert_str_eq(problem_type(&b), "urn:kycgate:problem:idempotency-key-reused");
	call("PUT", "/v1/users/userId:idem-3/consent", WRITER, "consent-2", CONSENT, &c);
	ck_assert_int_eq(c.status, 422);
	ck_assert_int_eq(upstream_count("PUT", "/2025-06-09/users/userId:idem-3/legal-documents"),
	                 0);
	kt_resp_free(&a);
	kt_resp_free(&b);
	kt_resp_free(&c);
}
END_TEST

struct bg {
	pthread_t t;
	struct kt_resp r;
	const char *target, *key;
};

static void *bg_main(void *arg)
{
	struct bg *b = arg;

	call("POST", b->target, WRITER, b->key, NULL, &b->r);
	return NULL;
}

static void pause_ms(long ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&t, NULL);
}

/* A repeat while the first request runs (a 1.5 s upstream) is a 409; after it, a replay. */
START_TEST(in_flight)
{
	struct bg first = {.target = "/v1/users/userId:sim-latency-1500/verification",
	                   .key = "in-flight-1"};
	struct kt_resp b, c;

	kt_sim_clear(sim.port);
	ck_assert_int_eq(pthread_create(&first.t, NULL, bg_main, &first), 0);
	pause_ms(500);
	call("POST", first.target, WRITER, first.key, NULL, &b);
	ck_assert_int_eq(b.status, 409);
	ck_assert_str_eq(problem_type(&b), "urn:kycgate:problem:idempotency-key-in-flight");
	pthread_join(first.t, NULL);
	call("POST", first.target, WRITER, first.key, NULL, &c);
	ck_assert_int_eq(c.status, first.r.status);
	ck_assert(replayed(&c));
	ck_assert_int_eq(upstream_count("PUT", TRIGGER_UP("userId:sim-latency-1500")), 1);
	kt_resp_free(&first.r);
	kt_resp_free(&b);
	kt_resp_free(&c);
}
END_TEST

/* A 5xx is not kept: the same key tries again upstream. */
START_TEST(failure_not_kept)
{
	struct kt_resp a, b;

	kt_sim_clear(sim.port);
	call("POST", "/v1/users/userId:sim-status-500/verification", WRITER, "fails-1", NULL, &a);
	ck_assert_int_eq(a.status, 502);
	call("POST", "/v1/users/userId:sim-status-500/verification", WRITER, "fails-1", NULL, &b);
	ck_assert_int_eq(b.status, 502);
	ck_assert(!replayed(&b));
	ck_assert_int_eq(upstream_count("PUT", TRIGGER_UP("userId:sim-status-500")), 2);
	kt_resp_free(&a);
	kt_resp_free(&b);
}
END_TEST

/* A caller that gave up (a 300 ms timeout on a 1.5 s trigger) and retries with its key gets the
 * answer of the first trigger: no second screening. */
START_TEST(timed_out_caller)
{
	const char *target = "/v1/users/userId:sim-latency-1501/verification";
	struct curl_slist *h = NULL;
	char url[256];
	struct kt_resp b;
	CURL *c = curl_easy_init();
	int i;

	kt_sim_clear(sim.port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", gw.port, target);
	h = curl_slist_append(h, WRITER);
	h = curl_slist_append(h, "Idempotency-Key: gave-up-1");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "POST");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 300L);
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OPERATION_TIMEDOUT);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	/* While the first runs: 409; once it ended (1.5 s), its answer. */
	for (i = 0; i < 50; i++) {
		call("POST", target, WRITER, "gave-up-1", NULL, &b);
		if (b.status != 409)
			break;
		kt_resp_free(&b);
		pause_ms(100);
	}
	ck_assert(replayed(&b));
	ck_assert_int_eq(upstream_count("PUT", TRIGGER_UP("userId:sim-latency-1501")), 1);
	kt_resp_free(&b);
}
END_TEST

START_TEST(bad_keys)
{
	char longkey[300];
	struct kt_resp a, b, c;

	memset(longkey, 'k', 256);
	longkey[256] = '\0';
	call("POST", "/v1/users/userId:idem-4/verification", WRITER, "two words", NULL, &a);
	ck_assert_int_eq(a.status, 400);
	call("POST", "/v1/users/userId:idem-4/verification", WRITER, longkey, NULL, &b);
	ck_assert_int_eq(b.status, 400);
	longkey[255] = '\0'; /* 255 is the longest */
	call("PUT", "/v1/users/userId:idem-4/consent", WRITER, longkey, CONSENT, &c);
	ck_assert_int_eq(c.status, 200);
	kt_resp_free(&a);
	kt_resp_free(&b);
	kt_resp_free(&c);
}
END_TEST

/* store.driver none: a key is refused with store-disabled; everything else works. */
START_TEST(driver_none)
{
	struct kt_resp a, b;
	char *log;

	ck_assert_int_eq(kt_stop(&gw), 0);
	/* A key of a feature not built yet is reported, never silently accepted. */
	start_gw("store: {driver: none, postgres: {dsn_file: /run/pg}}\n");
	log = kt_read_log(&gw);
	ck_assert_ptr_nonnull(strstr(log, "\"event\":\"config-key-not-active\""));
	ck_assert_ptr_nonnull(strstr(log, "\"key\":\"store.postgres\""));
	free(log);
	call("PUT", "/v1/users/userId:idem-5/consent", WRITER, "k-none", CONSENT, &a);
	ck_assert_int_eq(a.status, 503);
	ck_assert_str_eq(problem_type(&a), "urn:kycgate:problem:store-disabled");
	call("PUT", "/v1/users/userId:idem-5/consent", WRITER, NULL, CONSENT, &b);
	ck_assert_int_eq(b.status, 200);
	ck_assert_double_eq(metric("kycgate_store_up"), -1); /* no sample without a store */
	kt_resp_free(&a);
	kt_resp_free(&b);
}
END_TEST

/* Makes path unwritable: mode 0400, and as root (which ignores modes) the immutable flag. */
static bool make_read_only(const char *path)
{
	char cmd[512];

	chmod(path, 0400);
	if (geteuid() != 0)
		return true;
	snprintf(cmd, sizeof(cmd), "chattr +i '%s' 2>/dev/null", path);
	return system(cmd) == 0;
}

/* A read-only store file: logged, kycgate_store_up 0, /readyz 200, ordinary writes and reads
 * work, a write with a key gets 503 store-unavailable. */
START_TEST(read_only_store)
{
	char dir[] = "/tmp/kg-idem-XXXXXX", path[128], store[256], cmd[512], *log;
	struct kt_resp a, b, c, d;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/kycgate.db", dir);
	snprintf(store, sizeof(store), "store:\n  sqlite: {path: \"%s\"}\n", path);
	ck_assert_int_eq(kt_stop(&gw), 0);
	start_gw(store);
	ck_assert_int_eq(kt_stop(&gw), 0); /* a v1 file, closed */
	if (!make_read_only(path)) {
		fprintf(stderr, "read_only_store: cannot make a file read-only as root here\n");
		start_gw("");
		goto out;
	}
	start_gw(store);
	log = kt_log_wait(&gw, "\"event\":\"store-down\"", 5000);
	ck_assert_ptr_nonnull(strstr(log, "\"event\":\"store-down\""));
	free(log);
	ck_assert_double_eq(metric("kycgate_store_up"), 0);
	kt_http(gw.port, "GET", "/readyz", NULL, NULL, 0, &a);
	ck_assert_int_eq(a.status, 200);
	call("PUT", "/v1/users/userId:idem-6/consent", WRITER, NULL, CONSENT, &b);
	ck_assert_int_eq(b.status, 200);
	call("PUT", "/v1/users/userId:idem-6/consent", WRITER, "k-ro", CONSENT, &c);
	ck_assert_int_eq(c.status, 503);
	ck_assert_str_eq(problem_type(&c), "urn:kycgate:problem:store-unavailable");
	call("GET", "/v1/users/userId:idem-6/verification", WRITER, NULL, NULL, &d);
	ck_assert_int_eq(d.status, 200);
	kt_resp_free(&a);
	kt_resp_free(&b);
	kt_resp_free(&c);
	kt_resp_free(&d);
out:
	snprintf(cmd, sizeof(cmd), "chattr -i '%s' 2>/dev/null; rm -rf '%s'", path, dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* A PUT with a key sent raw: what came back (new string, "" when the connection just ended). */
static void *put_with_key(void *arg)
{
	char req[512], **out = arg;
	int n =
	    snprintf(req, sizeof(req),
	             "PUT /v1/users/userId:idem-7/consent HTTP/1.1\r\nHost: 127.0.0.1\r\n" WRITER
	             "\r\n" JSON_CT "\r\nIdempotency-Key: k-stall\r\nContent-Length: %zu\r\n\r\n%s",
	             strlen(CONSENT), CONSENT);

	*out = kt_raw(gw.port, req, (size_t)n, 15000);
	return NULL;
}

/* The store's file locked by another process (as a stalled disk would hold it): a write with a
 * key waits on its store job (SQLite's busy timeout, 5 s) past the stop's own wait (the grace of
 * 1 s, then 3 s), so the process ends with exit status 3 and a stop-forced line. Before, stopping
 * libmicrohttpd with that connection still suspended aborted the process. */
START_TEST(stop_with_request_waiting_on_store)
{
	char dir[] = "/tmp/kg-idem-XXXXXX", path[128], store[256], cmd[300], *log;
	char *answer = NULL;
	sqlite3 *db = NULL;
	pthread_t th;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/kycgate.db", dir);
	snprintf(store, sizeof(store), "store:\n  sqlite: {path: \"%s\"}\n", path);
	ck_assert_int_eq(kt_stop(&gw), 0);
	start_gw(store);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(pthread_create(&th, NULL, put_with_key, &answer), 0);
	kt_sleep_ms(300); /* the request is suspended on its store job */
	kill(gw.pid, SIGTERM);
	log = kt_log_wait(&gw, "\"event\":\"stop-forced\"", 10000);
	ck_assert_msg(strstr(log, "\"event\":\"stop-forced\",\"suspended\":\"1\"") != NULL, "%s",
	              log);
	free(log);
	ck_assert_int_eq(kt_stop(&gw), 3);
	pthread_join(th, NULL);
	ck_assert_ptr_nonnull(answer);
	ck_assert_msg(strstr(answer, " 200 ") == NULL, "%s", answer); /* the connection ended */
	free(answer);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	start_gw("");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("it_idempotency");
	TCase *tc = tcase_create("idempotency");
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, trigger_once);
	tcase_add_test(tc, reused_key);
	tcase_add_test(tc, in_flight);
	tcase_add_test(tc, failure_not_kept);
	tcase_add_test(tc, timed_out_caller);
	tcase_add_test(tc, bad_keys);
	tcase_add_test(tc, driver_none);
	tcase_add_test(tc, stop_with_request_waiting_on_store);
	tcase_add_test(tc, read_only_store);
	suite_add_tcase(s, tc);
	failed = kt_run_suite(s);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
