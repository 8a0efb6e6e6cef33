/* Integration (design §10 "Webhooks", issue 10 item 5): events observed through the real binary
 * and the standalone simulator are POSTed to receivers running in this test (webhook_rx.c:
 * threads on ephemeral loopback ports) that verify every Standard Webhooks signature and record
 * what arrives: retries with the same webhook-id, 410, a user's events in order, GET /v1/webhooks
 * and POST .../retry with their scope, a reload that adds an endpoint, no Crossmint API key ever,
 * and deliveries left pending by a stop made after the restart. */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sqlite3.h>

#include "harness.h"
#include "webhook_rx.h"

#define KEY "sk_staging_webhooks0123456789abcdef"
#define WRITER "Authorization: Bearer writer-token-0123456789abcdef"
#define READER "Authorization: Bearer reader-token-0123456789abcdef"
#define OPS "Authorization: Bearer ops-token-0123456789abcdefgh"
#define JSON_CT "Content-Type: application/json"
#define DEADLINE_MS 20000
#define HOOK_TARGET "/hook?token=abc"

/* ---- the gateway ---- */

static struct kt_proc sim, gw;
static char db_path[128];

static const char gw_head[] = "server:\n"
                              "  listen: \"127.0.0.1:0\"\n"
                              "  drain_delay_s: 0\n"
                              "  shutdown_grace_s: 1\n"
                              "crossmint:\n"
                              "  environment: staging\n"
                              "  base_url: \"http://127.0.0.1:@SIMPORT@\"\n"
                              "  api_key: \"" KEY "\"\n"
                              "  rate_limit: {writes_per_minute: 0, reads_per_minute: 0}\n"
                              "verification:\n"
                              "  cache_ttl_ms: 0\n"
                              "auth:\n"
                              "  clients:\n"
                              "    - name: writer\n"
                              "      token: \"writer-token-0123456789abcdef\"\n"
                              "      scopes: [users.create, users.read]\n"
                              "    - name: reader\n"
                              "      token: \"reader-token-0123456789abcdef\"\n"
                              "      scopes: [users.read]\n"
                              "    - name: ops\n"
                              "      token: \"ops-token-0123456789abcdefgh\"\n"
                              "      scopes: [webhooks.manage]\n"
                              "store:\n"
                              "  sqlite: {path: \"%s\"}\n"
                              "events:\n"
                              "  retry_schedule_s: [%s]\n"
                              "  webhooks:\n";

static const char gw_hook[] = "    - name: %s\n"
                              "      url: \"http://127.0.0.1:%u/hook?token=abc\"\n"
                              "      secret: \"" KT_WH_SECRET "\"\n"
                              "      timeout_ms: 2000\n";

/* The config with retry schedule sched and endpoints names[i] on ports[i]. */
static void conf(char *out, size_t cap, const char *sched, const char *const *names,
                 const unsigned *ports, int n)
{
	size_t used = (size_t)snprintf(out, cap, gw_head, db_path, sched);
	int i;

	for (i = 0; i < n; i++)
		used += (size_t)snprintf(out + used, cap - used, gw_hook, names[i], ports[i]);
	ck_assert_uint_lt(used, cap);
}

static void start_gw(const char *sched, const char *const *names, const unsigned *ports, int n)
{
	char yaml[4096];

	conf(yaml, sizeof(yaml), sched, names, ports, n);
	kt_start_gateway(&gw, yaml, sim.port, NULL);
}

static void setup(void)
{
	static const char *const args[] = {"--api-key", KEY, "--review-delay-ms", "1500", NULL};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(db_path, sizeof(db_path), "/tmp/kt-webhooks-%d.db", (int)getpid());
	kt_unlink_db(db_path);
	kt_start_simulator(&sim, args);
}

static void teardown(void)
{
	ck_assert_int_eq(kt_stop(&sim), 0);
	kt_unlink_db(db_path);
	curl_global_cleanup();
}

static void expect(const char *method, const char *target, const char *auth, const char *ctype,
                   const char *body, size_t len, long status, struct kt_resp *out)
{
	kt_expect(gw.port, method, target, auth, ctype, body, len, status, out);
}

/* A user the simulator knows, with what a review needs; its first read records an event. */
static void make_user(const char *loc)
{
	kt_make_reviewable_user(gw.port, WRITER, loc, "DE");
}

/* A read of loc (an observation). */
static void read_user(const char *loc)
{
	char t[256];

	snprintf(t, sizeof(t), "/v1/users/%s/verification", loc);
	expect("GET", t, READER, NULL, NULL, 0, 200, NULL);
}

/* The id of the newest event of loc, or 0, read from the store file (WAL: beside the
 * running gateway). */
static long long event_query(const char *sql, const char *loc)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	long long id = 0;

	ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_text(s, 1, loc, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW)
			id = sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	return id;
}

static long long last_event(const char *loc)
{
	return event_query("SELECT MAX(id) FROM events WHERE user_locator = ?1", loc);
}

static long long event_count(const char *loc)
{
	return event_query("SELECT COUNT(*) FROM events WHERE user_locator = ?1", loc);
}

/* Waits for the first event of a new user: its read committed it. */
static long long first_event(const char *loc)
{
	long long deadline = kt_now_ms() + DEADLINE_MS, id = 0;

	while (id == 0 && kt_now_ms() < deadline) {
		id = last_event(loc);
		if (id == 0)
			kt_sleep_ms(50);
	}
	ck_assert_msg(id > 0, "no event was recorded for %s", loc);
	return id;
}

/* GET /v1/webhooks: the entry of name (a new reference, the caller puts it). */
static struct json_object *endpoint_view(const char *name)
{
	struct kt_resp r;
	struct json_object *list, *found = NULL;
	size_t i;

	expect("GET", "/v1/webhooks", OPS, NULL, NULL, 0, 200, &r);
	list = json_object_object_get(r.json, "webhooks");
	for (i = 0; list != NULL && i < json_object_array_length(list); i++) {
		struct json_object *e = json_object_array_get_idx(list, i);

		if (strcmp(kt_str(e, "name"), name) == 0)
			found = json_object_get(e);
	}
	kt_resp_free(&r);
	return found;
}

static long long view_int(const char *name, const char *key)
{
	struct json_object *e = endpoint_view(name);
	long long v = e ? json_object_get_int64(json_object_object_get(e, key)) : -1;

	json_object_put(e);
	return v;
}

static bool wait_view(const char *name, const char *key, long long want)
{
	long long deadline = kt_now_ms() + DEADLINE_MS;

	while (kt_now_ms() < deadline) {
		if (view_int(name, key) == want)
			return true;
		kt_sleep_ms(100);
	}
	return false;
}

static double metric(const char *sample)
{
	struct kt_resp r;
	double v;

	expect("GET", "/metrics", NULL, NULL, NULL, 0, 200, &r);
	v = kt_sample(r.body, sample);
	kt_resp_free(&r);
	return v;
}

/* ---- the tests ---- */

/* A receiver that fails twice gets the event on the third attempt, with the same webhook-id and
 * a valid signature each time, and never the API key; GET /v1/webhooks and the metrics agree. */
START_TEST(retried_until_delivered)
{
	static const char *const names[] = {"rx"};
	struct kt_rx rx;
	struct json_object *e;
	char origin[64];
	long long id;

	kt_rx_start(&rx, 2, 204);
	start_gw("1, 1, 1", names, &rx.port, 1);
	make_user("userId:wh-retry");
	read_user("userId:wh-retry");
	id = first_event("userId:wh-retry");
	ck_assert_msg(kt_rx_wait(&rx, id, 204), "event %lld was not delivered", id);
	ck_assert_int_eq(kt_rx_count(&rx, id, 500), 2);
	ck_assert_int_eq(kt_rx_count(&rx, id, 0), 3);
	kt_rx_assert_clean(&rx, HOOK_TARGET);
	ck_assert(wait_view("rx", "pending", 0));
	e = endpoint_view("rx");
	ck_assert_ptr_nonnull(e);
	snprintf(origin, sizeof(origin), "http://127.0.0.1:%u", rx.port); /* never the token */
	ck_assert_str_eq(kt_str(e, "url"), origin);
	ck_assert_int_eq(json_object_get_int64(json_object_object_get(e, "failed")), 0);
	json_object_put(e);
	ck_assert(
	    metric("kycgate_webhook_deliveries_total{endpoint=\"rx\",result=\"delivered\"}") >= 1);
	ck_assert(metric("kycgate_webhook_deliveries_total{endpoint=\"rx\",result=\"retry\"}") >=
	          2);
	ck_assert(metric("kycgate_webhook_pending{endpoint=\"rx\"}") >= 0);
	ck_assert_int_eq(kt_stop(&gw), 0);
	kt_rx_stop(&rx);
}
END_TEST

/* 410 marks the delivery failed at once; GET /v1/webhooks shows it; POST .../retry (scope
 * webhooks.manage) re-queues it and it is delivered with the same webhook-id. */
START_TEST(gone_then_retried)
{
	static const char *const names[] = {"rx"};
	struct kt_rx rx;
	struct json_object *e;
	struct kt_resp r;
	long long id;

	kt_rx_start(&rx, 0, 410);
	start_gw("1, 1, 1", names, &rx.port, 1);
	make_user("userId:wh-gone");
	read_user("userId:wh-gone");
	id = first_event("userId:wh-gone");
	ck_assert(kt_rx_wait(&rx, id, 410));
	ck_assert(wait_view("rx", "failed", 1));
	e = endpoint_view("rx");
	ck_assert_str_eq(kt_str(e, "lastError"), "status 410");
	json_object_put(e);
	kt_sleep_ms(1500); /* no retry after a 410 */
	ck_assert_int_eq(kt_rx_count(&rx, id, 0), 1);
	ck_assert(metric("kycgate_webhook_deliveries_total{endpoint=\"rx\",result=\"failed\"}") ==
	          1);

	/* Scopes and names. */
	expect("GET", "/v1/webhooks", READER, NULL, NULL, 0, 403, NULL);
	expect("GET", "/v1/webhooks", NULL, NULL, NULL, 0, 401, NULL);
	expect("POST", "/v1/webhooks/rx/retry", WRITER, NULL, NULL, 0, 403, NULL);
	expect("POST", "/v1/webhooks/nope/retry", OPS, NULL, NULL, 0, 404, NULL);
	/* a name no configuration can hold: the path's grammar, before any store work */
	expect("POST", "/v1/webhooks/no%20pe/retry", OPS, NULL, NULL, 0, 400, NULL);

	kt_rx_set(&rx, 0, 200);
	expect("POST", "/v1/webhooks/rx/retry", OPS, NULL, NULL, 0, 200, &r);
	ck_assert_int_eq(json_object_get_int64(json_object_object_get(r.json, "requeued")), 1);
	kt_resp_free(&r);
	ck_assert(kt_rx_wait(&rx, id, 200));
	ck_assert(wait_view("rx", "failed", 0));
	expect("POST", "/v1/webhooks/rx/retry", OPS, NULL, NULL, 0, 200, &r);
	ck_assert_int_eq(json_object_get_int64(json_object_object_get(r.json, "requeued")), 0);
	kt_resp_free(&r);
	kt_rx_assert_clean(&rx, HOOK_TARGET);
	ck_assert_int_eq(kt_stop(&gw), 0);
	kt_rx_stop(&rx);
}
END_TEST

/* A user's events arrive in id order, one at a time, also with every first attempt failing:
 * trigger (in review), then the review settles and a read observes it. No id is attempted after
 * a larger one of the same user, and the newest is delivered. */
START_TEST(user_events_in_order)
{
	static const char *const names[] = {"rx"};
	struct kt_rx rx;
	long long last = 0, deadline;
	int i;

	kt_rx_start(&rx, 1, 200);
	start_gw("1, 1, 1, 1", names, &rx.port, 1);
	make_user("userId:wh-order");
	read_user("userId:wh-order");
	expect("POST", "/v1/users/userId:wh-order/verification", WRITER, NULL, NULL, 0, 200, NULL);
	deadline = kt_now_ms() + DEADLINE_MS;
	do { /* the simulator's review ends after 1.5 s; reads observe it */
		kt_sleep_ms(300);
		read_user("userId:wh-order");
		last = last_event("userId:wh-order");
	} while (kt_now_ms() < deadline &&
	         !(event_count("userId:wh-order") >= 3 && kt_rx_count(&rx, last, 200) > 0));
	/* first read, the trigger (in review), the review's end */
	ck_assert_int_ge(event_count("userId:wh-order"), 3);
	ck_assert_msg(kt_rx_wait(&rx, last, 200), "the newest event %lld was not delivered", last);
	pthread_mutex_lock(&rx.mu);
	for (i = 1; i < rx.n; i++)
		ck_assert_msg(rx.hits[i].id >= rx.hits[i - 1].id,
		              "event %lld attempted after event %lld", rx.hits[i].id,
		              rx.hits[i - 1].id);
	pthread_mutex_unlock(&rx.mu);
	kt_rx_assert_clean(&rx, HOOK_TARGET);
	ck_assert_int_eq(kt_stop(&gw), 0);
	kt_rx_stop(&rx);
}
END_TEST

/* A reload adds an endpoint: it receives the events committed after it appeared, not before. */
START_TEST(reload_adds_endpoint)
{
	static const char *const one[] = {"first"}, *const two[] = {"first", "second"};
	struct kt_rx a, b;
	unsigned ports[2];
	char yaml[4096], *at;
	long long old, fresh, deadline;
	FILE *f;

	kt_rx_start(&a, 0, 200);
	kt_rx_start(&b, 0, 200);
	ports[0] = a.port;
	ports[1] = b.port;
	start_gw("1", one, ports, 1);
	make_user("userId:wh-old");
	read_user("userId:wh-old");
	old = first_event("userId:wh-old");
	ck_assert(kt_rx_wait(&a, old, 200));

	conf(yaml, sizeof(yaml), "1", two, ports, 2);
	at = strstr(yaml, "@SIMPORT@"); /* kt_start_gateway's substitution, done by hand here */
	ck_assert_ptr_nonnull(at);
	f = fopen(gw.conf_path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%.*s%u%s", (int)(at - yaml), yaml, sim.port, at + 9);
	fclose(f);
	kill(gw.pid, SIGHUP);
	deadline = kt_now_ms() + DEADLINE_MS;
	while (view_int("second", "pending") < 0 && kt_now_ms() < deadline)
		kt_sleep_ms(100);
	ck_assert_int_eq(view_int("second", "pending"), 0);

	make_user("userId:wh-new");
	read_user("userId:wh-new");
	fresh = first_event("userId:wh-new");
	ck_assert(kt_rx_wait(&b, fresh, 200));
	ck_assert(kt_rx_wait(&a, fresh, 200));
	ck_assert_int_eq(kt_rx_count(&b, old, 0), 0);
	kt_rx_assert_clean(&a, HOOK_TARGET);
	kt_rx_assert_clean(&b, HOOK_TARGET);
	ck_assert_int_eq(kt_stop(&gw), 0);
	kt_rx_stop(&a);
	kt_rx_stop(&b);
}
END_TEST

/* A gateway stopped while a delivery waits for its retry delivers it after the restart. */
START_TEST(pending_survives_restart)
{
	static const char *const names[] = {"rx"};
	struct kt_rx rx;
	long long id, deadline;

	kt_rx_start(&rx, 0, 503);
	start_gw("3, 3, 3", names, &rx.port, 1);
	make_user("userId:wh-restart");
	read_user("userId:wh-restart");
	id = first_event("userId:wh-restart");
	ck_assert(kt_rx_wait(&rx, id, 503));
	ck_assert_int_eq(view_int("rx", "pending"), 1);
	deadline = kt_now_ms() + DEADLINE_MS; /* the gauges are recounted every 5 s */
	while ((metric("kycgate_webhook_pending{endpoint=\"rx\"}") != 1 ||
	        metric("kycgate_webhook_oldest_pending_seconds{endpoint=\"rx\"}") <= 0) &&
	       kt_now_ms() < deadline)
		kt_sleep_ms(200);
	ck_assert(metric("kycgate_webhook_pending{endpoint=\"rx\"}") == 1);
	ck_assert(metric("kycgate_webhook_oldest_pending_seconds{endpoint=\"rx\"}") > 0);
	ck_assert_int_eq(kt_stop(&gw), 0);

	kt_rx_set(&rx, 0, 200);
	start_gw("3, 3, 3", names, &rx.port, 1);
	ck_assert_msg(kt_rx_wait(&rx, id, 200),
	              "the pending delivery was not sent after the restart");
	ck_assert(wait_view("rx", "pending", 0));
	kt_rx_assert_clean(&rx, HOOK_TARGET);
	ck_assert_int_eq(kt_stop(&gw), 0);
	kt_rx_stop(&rx);
}
END_TEST

/* An attempt in flight when the gateway stops was never answered: it is pending at the next
 * start and sent again with the same webhook-id (at-least-once). */
START_TEST(inflight_at_stop_sent_again)
{
	static const char *const names[] = {"rx"};
	struct kt_rx rx;
	long long id;

	kt_rx_start(&rx, 0, 200);
	kt_rx_hold(&rx, 4000);
	start_gw("1", names, &rx.port, 1);
	make_user("userId:wh-inflight");
	read_user("userId:wh-inflight");
	id = first_event("userId:wh-inflight");
	ck_assert(kt_rx_wait(&rx, id, 599)); /* the attempt arrived and hangs */
	ck_assert_int_eq(kt_stop(&gw), 0);

	kt_rx_hold(&rx, 0);
	start_gw("1", names, &rx.port, 1);
	ck_assert_msg(kt_rx_wait(&rx, id, 200),
	              "the delivery in flight at the stop was not sent again");
	ck_assert_int_eq(kt_rx_count(&rx, id, 599), 1);
	kt_rx_assert_clean(&rx, HOOK_TARGET);
	ck_assert_int_eq(kt_stop(&gw), 0);
	kt_rx_stop(&rx);
}
END_TEST

/* Runs statement on the store file beside the running gateway (WAL). */
static void store_sql(const char *statement)
{
	sqlite3 *db = NULL;

	ck_assert_int_eq(sqlite3_open(db_path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	ck_assert_int_eq(sqlite3_exec(db, statement, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* Waits until the sample reads want. */
static bool wait_metric(const char *sample, double want)
{
	long long deadline = kt_now_ms() + DEADLINE_MS;

	while (kt_now_ms() < deadline) {
		if (metric(sample) == want)
			return true;
		kt_sleep_ms(100);
	}
	return false;
}

#define AUTO_WATCHES "kycgate_watches{kind=\"automatic\"}"

/* An observation whose transaction ends the user's automatic watch (the review ended) and then
 * fails (its delivery cannot be written) rolls back: the watch row stays, and the in-memory set
 * and kycgate_watches must agree with the table again, not count the watch as ended (a later
 * end of it then counted it twice, below zero). */
START_TEST(rollback_keeps_watch_set)
{
	static const char *const names[] = {"rx"};
	static const char loc[] = "userId:wh-rollback";
	char yaml[4096];
	struct kt_rx rx;
	long long deadline;
	size_t used;

	kt_rx_start(&rx, 0, 204);
	conf(yaml, sizeof(yaml), "1", names, &rx.port, 1);
	used = strlen(yaml);
	/* No poll of the watch's own during the test: only the reads below observe the user. */
	snprintf(yaml + used, sizeof(yaml) - used, "  watch: {poll_initial_s: 600}\n");
	kt_start_gateway(&gw, yaml, sim.port, NULL);
	make_user(loc);
	read_user(loc);
	expect("POST", "/v1/users/userId:wh-rollback/verification", WRITER, NULL, NULL, 0, 200,
	       NULL);
	deadline = kt_now_ms() + DEADLINE_MS;
	while (event_count(loc) < 2 && kt_now_ms() < deadline)
		kt_sleep_ms(50);
	ck_assert_int_eq(event_count(loc), 2); /* first read, the trigger (in review) */
	ck_assert(wait_metric(AUTO_WATCHES, 1));
	store_sql("CREATE TRIGGER kt_fail BEFORE INSERT ON deliveries"
	          " BEGIN SELECT RAISE(ABORT, 'injected'); END");
	deadline = kt_now_ms() + DEADLINE_MS;
	do { /* the simulator's review ends after 1.5 s: that read's transaction fails */
		kt_sleep_ms(300);
		read_user(loc);
	} while (metric("kycgate_events_observations_dropped_total") < 1 && kt_now_ms() < deadline);
	ck_assert(metric("kycgate_events_observations_dropped_total") >= 1);
	ck_assert_int_eq(event_count(loc), 2);
	expect("GET", "/v1/users/userId:wh-rollback/watch", READER, NULL, NULL, 0, 200, NULL);
	ck_assert_msg(wait_metric(AUTO_WATCHES, 1),
	              "the rolled-back end of the watch is still counted: %g",
	              metric(AUTO_WATCHES));
	store_sql("DROP TRIGGER kt_fail");
	read_user(loc); /* now the end commits */
	deadline = kt_now_ms() + DEADLINE_MS;
	while (event_count(loc) < 3 && kt_now_ms() < deadline)
		kt_sleep_ms(50);
	ck_assert_int_eq(event_count(loc), 3);
	ck_assert_msg(wait_metric(AUTO_WATCHES, 0), "kycgate_watches automatic: %g",
	              metric(AUTO_WATCHES));
	expect("GET", "/v1/users/userId:wh-rollback/watch", READER, NULL, NULL, 0, 404, NULL);
	ck_assert_int_eq(kt_stop(&gw), 0);
	kt_rx_stop(&rx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("it_webhooks");
	TCase *tc = tcase_create("webhooks");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, retried_until_delivered);
	tcase_add_test(tc, gone_then_retried);
	tcase_add_test(tc, user_events_in_order);
	tcase_add_test(tc, reload_adds_endpoint);
	tcase_add_test(tc, pending_survives_restart);
	tcase_add_test(tc, inflight_at_stop_sent_again);
	tcase_add_test(tc, rollback_keeps_watch_set);
	suite_add_tcase(s, tc);
	return kt_run_suite(s) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
