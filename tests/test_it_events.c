/* Integration (issue 10 items 3, 4, 7, 8): observations and events through the real binary. A
 * user's first observation records an event; a review that completes on its own records one with
 * previous; a read that changes nothing records none; ids increase in commit order. */
#include <check.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "harness.h"

#define KEY "sk_staging_events0123456789abcdef"
#define WRITER "Authorization: Bearer writer-token-0123456789abcdef"
#define READER "Authorization: Bearer reader-token-0123456789abcdef"
#define NOREAD "Authorization: Bearer create-token-0123456789abcdef"
#define JSON_CT "Content-Type: application/json"
#define REVIEW_MS 1500

/* %s: the store path. */
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
                              "verification:\n"
                              "  cache_ttl_ms: 0\n"
                              "  max_wait_s: 30\n"
                              "auth:\n"
                              "  clients:\n"
                              "    - name: writer\n"
                              "      token: \"writer-token-0123456789abcdef\"\n"
                              "      scopes: [users.create, users.read]\n"
                              "    - name: reader\n"
                              "      token: \"reader-token-0123456789abcdef\"\n"
                              "      scopes: [users.read]\n"
                              "    - name: creator\n"
                              "      token: \"create-token-0123456789abcdef\"\n"
                              "      scopes: [users.create]\n"
                              "    - name: ops\n"
                              "      token: \"ops-token-0123456789abcdefgh\"\n"
                              "      scopes: [webhooks.manage]\n"
                              "store:\n"
                              "  sqlite: {path: \"%s\"}\n";

static struct kt_proc sim, gw;
static char db_path[128];

static void start_gw(void)
{
	char yaml[sizeof(gw_yaml) + 256];

	snprintf(yaml, sizeof(yaml), gw_yaml, db_path);
	kt_start_gateway(&gw, yaml, sim.port, NULL);
}

static void setup(void)
{
	static const char *const args[] = {"--api-key", KEY, "--review-delay-ms", "1500", NULL};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(db_path, sizeof(db_path), "/tmp/kt-events-%d.db", (int)getpid());
	kt_unlink_db(db_path);
	kt_start_simulator(&sim, args);
	start_gw();
}

static void teardown(void)
{
	ck_assert_int_eq(kt_stop(&gw), 0); /* 0 also means no leak under the sanitizers */
	ck_assert_int_eq(kt_stop(&sim), 0);
	kt_unlink_db(db_path);
	curl_global_cleanup();
}

static void req(const char *method, const char *target, const char *auth, const char *ctype,
                const char *body, size_t len, struct kt_resp *r)
{
	const char *const h[] = {auth, ctype, NULL};

	kt_http(gw.port, method, target, h, body, len, r);
}

static void expect(const char *method, const char *target, const char *auth, const char *ctype,
                   const char *body, size_t len, long status)
{
	kt_expect(gw.port, method, target, auth, ctype, body, len, status, NULL);
}

/* Asserts a problem answer: status, code, problem+json. */
static void it_assert_problem(const struct kt_resp *r, long status, const char *code)
{
	char type[128], ct[128];
	const char *t;

	ck_assert_msg(r->status == status, "status %ld, wanted %ld; body %s", r->status, status,
	              r->body);
	ck_assert_ptr_nonnull(r->json);
	snprintf(type, sizeof(type), "urn:kycgate:problem:%s", code);
	t = kt_str(r->json, "type");
	ck_assert_msg(t != NULL && strcmp(t, type) == 0, "type %s, wanted %s", t ? t : "(none)",
	              type);
	ck_assert(kt_header(r, "Content-Type", ct, sizeof(ct)));
	ck_assert_str_eq(ct, "application/problem+json");
}

static long long strtoll10(const char *s)
{
	return s ? strtoll(s, NULL, 10) : -1;
}

/* A user of country cc (DE or AE) with everything a review needs. */
static void complete_user(const char *loc, const char *cc)
{
	kt_make_reviewable_user(gw.port, WRITER, loc, cc);
}

/* GET .../verification of loc; the answer's overall into out. */
static void read_overall(const char *loc, char *out, size_t cap)
{
	struct kt_resp r;
	char t[256];

	snprintf(t, sizeof(t), "/v1/users/%s/verification", loc);
	req("GET", t, READER, NULL, NULL, 0, &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	snprintf(out, cap, "%s", kt_str(r.json, "overall"));
	kt_resp_free(&r);
}

/* The events of loc as the store holds them (the gateway stopped): bodies into out[], count. */
static int stored_events(const char *loc, struct json_object **out, int max)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int n = 0;

	ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db,
	                                    "SELECT id, body FROM events WHERE user_locator = ?1"
	                                    " ORDER BY id",
	                                    -1, &s, NULL),
	                 SQLITE_OK);
	sqlite3_bind_text(s, 1, loc, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW && n < max) {
		out[n] = json_tokener_parse((const char *)sqlite3_column_text(s, 1));
		ck_assert_ptr_nonnull(out[n]);
		ck_assert_int_eq(strtoll10(kt_str(out[n], "id")), sqlite3_column_int64(s, 0));
		n++;
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n;
}

static const char *prev_overall(struct json_object *e)
{
	struct json_object *p = json_object_object_get(e, "previous");

	return p ? kt_str(p, "overall") : NULL;
}

/* Trigger, read (nothing changed), the review completes, read: exactly two events, in order,
 * the second with previous. Checked in the store file after the gateway stopped. */
START_TEST(observations_recorded)
{
	struct json_object *ev[8];
	long long deadline;
	char overall[32] = "";
	int n, i;

	complete_user("userId:ev-1", "DE");
	expect("POST", "/v1/users/userId:ev-1/verification", WRITER, NULL, NULL, 0, 200);
	read_overall("userId:ev-1", overall, sizeof(overall));
	ck_assert_str_eq(overall, "in-review");
	deadline = kt_now_ms() + 20000;
	while (strcmp(overall, "verified") != 0 && kt_now_ms() < deadline) {
		kt_sleep_ms(200);
		read_overall("userId:ev-1", overall, sizeof(overall));
	}
	ck_assert_str_eq(overall, "verified");
	read_overall("userId:ev-1", overall, sizeof(overall)); /* no change: no event */
	ck_assert_int_eq(kt_stop(&gw), 0);
	n = stored_events("userId:ev-1", ev, 8);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(kt_str(ev[0], "type"), "verification.updated");
	ck_assert_str_eq(kt_str(ev[0], "environment"), "staging");
	ck_assert_str_eq(kt_str(ev[0], "userLocator"), "userId:ev-1");
	ck_assert_ptr_null(json_object_object_get(ev[0], "previous"));
	ck_assert(json_object_object_get_ex(ev[0], "previous", NULL));
	ck_assert_str_eq(kt_str(json_object_object_get(ev[0], "data"), "overall"), "in-review");
	ck_assert_ptr_null(
	    json_object_object_get(json_object_object_get(ev[0], "data"), "observedAt"));
	ck_assert_ptr_null(
	    json_object_object_get(json_object_object_get(ev[0], "data"), "pollAfterSeconds"));
	ck_assert_str_eq(kt_str(json_object_object_get(ev[1], "data"), "overall"), "verified");
	ck_assert_str_eq(prev_overall(ev[1]), "in-review");
	ck_assert_str_eq(
	    kt_str(json_object_object_get(json_object_object_get(ev[1], "previous"), "products"),
	           "onramp"),
	    "in-review");
	ck_assert_int_lt(strtoll10(kt_str(ev[0], "id")), strtoll10(kt_str(ev[1], "id")));
	ck_assert_int_eq(strlen(kt_str(ev[1], "createdAt")), 20);
	for (i = 0; i < n; i++)
		json_object_put(ev[i]);
	start_gw(); /* for the teardown */
}
END_TEST

/* GET target with the reader's token. */
static void get(const char *target, struct kt_resp *r)
{
	req("GET", target, READER, NULL, NULL, 0, r);
}

/* A user with consent only (every product not-started), observed once: one event. */
static void observed_user(const char *loc)
{
	static const char consent[] =
	    "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-06-01T12:00:00Z\"}";
	char t[256], overall[32];

	snprintf(t, sizeof(t), "/v1/users/%s/consent", loc);
	expect("PUT", t, WRITER, JSON_CT, consent, strlen(consent), 200);
	read_overall(loc, overall, sizeof(overall));
}

static struct json_object *events_of(const struct kt_resp *r)
{
	struct json_object *e = json_object_object_get(r->json, "events");

	ck_assert_msg(e != NULL && json_object_is_type(e, json_type_array), "%s", r->body);
	return e;
}

static const char *event_user(const struct kt_resp *r, size_t i)
{
	return kt_str(json_object_array_get_idx(events_of(r), i), "userLocator");
}

/* Reads the feed from after until n events arrived (the store records asynchronously); the
 * last answer stays in r. */
static void feed_until(const char *query, size_t n, struct kt_resp *r)
{
	long long deadline = kt_now_ms() + 10000;
	char t[512];

	snprintf(t, sizeof(t), "/v1/events%s", query);
	for (;;) {
		get(t, r);
		ck_assert_msg(r->status == 200, "%ld %s", r->status, r->body);
		if (json_object_array_length(events_of(r)) >= n || kt_now_ms() > deadline)
			break;
		kt_resp_free(r);
		kt_sleep_ms(50);
	}
	ck_assert_int_eq(json_object_array_length(events_of(r)), n);
}

/* Pages: limit, next, after; the userLocator filter (next is the highest id scanned); nothing
 * newer answers next = after; bad parameters are 400s naming them. */
START_TEST(feed_pages)
{
	struct kt_resp r;
	char q[256], next[32], first[32];

	observed_user("userId:fa");
	observed_user("userId:fb");
	observed_user("userId:fc");
	observed_user("userId:fa"); /* nothing changed: no event */
	feed_until("", 3, &r);
	ck_assert_str_eq(event_user(&r, 0), "userId:fa");
	ck_assert_str_eq(event_user(&r, 2), "userId:fc");
	snprintf(first, sizeof(first), "%s",
	         kt_str(json_object_array_get_idx(events_of(&r), 0), "id"));
	kt_resp_free(&r);
	snprintf(q, sizeof(q), "/v1/events?limit=2&after=%lld", strtoll10(first) - 1);
	get(q, &r);
	ck_assert_int_eq(json_object_array_length(events_of(&r)), 2);
	ck_assert_str_eq(event_user(&r, 1), "userId:fb");
	snprintf(next, sizeof(next), "%s", kt_str(r.json, "next"));
	ck_assert_str_eq(next, kt_str(json_object_array_get_idx(events_of(&r), 1), "id"));
	kt_resp_free(&r);
	snprintf(q, sizeof(q), "/v1/events?limit=2&after=%s", next);
	get(q, &r);
	ck_assert_int_eq(json_object_array_length(events_of(&r)), 1);
	ck_assert_str_eq(event_user(&r, 0), "userId:fc");
	snprintf(next, sizeof(next), "%s", kt_str(r.json, "next"));
	kt_resp_free(&r);
	snprintf(q, sizeof(q), "/v1/events?after=%s", next); /* nothing newer */
	get(q, &r);
	ck_assert_int_eq(json_object_array_length(events_of(&r)), 0);
	ck_assert_str_eq(kt_str(r.json, "next"), next);
	kt_resp_free(&r);
	/* The filter: only fb's event, and next is the newest id scanned (fc's). */
	snprintf(q, sizeof(q), "/v1/events?userLocator=userId:fb&after=%lld", strtoll10(first) - 1);
	get(q, &r);
	ck_assert_int_eq(json_object_array_length(events_of(&r)), 1);
	ck_assert_str_eq(event_user(&r, 0), "userId:fb");
	ck_assert_str_eq(kt_str(r.json, "next"), next);
	kt_resp_free(&r);
	get("/v1/events?limit=0", &r);
	it_assert_problem(&r, 400, "invalid-request");
	ck_assert_ptr_nonnull(strstr(kt_str(r.json, "detail"), "limit"));
	kt_resp_free(&r);
	get("/v1/events?limit=501", &r);
	it_assert_problem(&r, 400, "invalid-request");
	kt_resp_free(&r);
	get("/v1/events?after=-1", &r);
	it_assert_problem(&r, 400, "invalid-request");
	ck_assert_ptr_nonnull(strstr(kt_str(r.json, "detail"), "after"));
	kt_resp_free(&r);
	get("/v1/events?wait=x", &r);
	it_assert_problem(&r, 400, "invalid-request");
	kt_resp_free(&r);
	get("/v1/events?userLocator=nobody", &r);
	it_assert_problem(&r, 400, "invalid-request");
	ck_assert_ptr_nonnull(strstr(kt_str(r.json, "detail"), "userLocator"));
	kt_resp_free(&r);
}
END_TEST

struct waiter {
	char target[256];
	struct kt_resp r;
	long long took_ms;
};

static void *wait_feed(void *arg)
{
	struct waiter *w = arg;
	long long t0 = kt_now_ms();

	get(w->target, &w->r);
	w->took_ms = kt_now_ms() - t0;
	return NULL;
}

/* A waiting request is answered by the commit of an event (not at its deadline); one with
 * nothing new answers the empty page at its deadline. */
START_TEST(feed_long_poll)
{
	struct waiter w;
	struct kt_resp r;
	pthread_t th;
	char next[32];

	observed_user("userId:lp-1");
	feed_until("", 1, &r);
	snprintf(next, sizeof(next), "%s", kt_str(r.json, "next"));
	kt_resp_free(&r);
	memset(&w, 0, sizeof(w));
	snprintf(w.target, sizeof(w.target), "/v1/events?after=%s&wait=30", next);
	ck_assert_int_eq(pthread_create(&th, NULL, wait_feed, &w), 0);
	kt_sleep_ms(300); /* the request is waiting (if not, it still finds the event) */
	observed_user("userId:lp-2");
	pthread_join(th, NULL);
	ck_assert_int_eq(w.r.status, 200);
	ck_assert_int_eq(json_object_array_length(events_of(&w.r)), 1);
	ck_assert_str_eq(event_user(&w.r, 0), "userId:lp-2");
	ck_assert_int_lt(w.took_ms, 25000); /* woken by the commit, long before the deadline */
	snprintf(next, sizeof(next), "%s", kt_str(w.r.json, "next"));
	kt_resp_free(&w.r);
	/* Nothing new: the empty page at the deadline, next unchanged. */
	snprintf(w.target, sizeof(w.target), "/v1/events?after=%s&wait=1", next);
	wait_feed(&w);
	ck_assert_int_eq(w.r.status, 200);
	ck_assert_int_eq(json_object_array_length(events_of(&w.r)), 0);
	ck_assert_str_eq(kt_str(w.r.json, "next"), next);
	ck_assert_int_ge(w.took_ms, 900);
	kt_resp_free(&w.r);
}
END_TEST

static double waiting_now(void)
{
	struct kt_resp m;
	double v;

	kt_http(gw.port, "GET", "/metrics", NULL, NULL, 0, &m);
	v = kt_sample(m.body, "kycgate_longpoll_waiting");
	kt_resp_free(&m);
	return v;
}

/* A waiting caller that hangs up is released (it no longer counts as waiting); a SIGTERM answers
 * a waiting request at once (an empty page) and the gateway exits cleanly. */
START_TEST(feed_hang_up_and_drain)
{
	static const char raw[] =
	    "GET /v1/events?after=999999&wait=30 HTTP/1.1\r\nHost: x\r\n" READER "\r\n\r\n";
	struct waiter w;
	pthread_t th;
	long long deadline;
	char *out;

	out = kt_raw(gw.port, raw, sizeof(raw) - 1, 300); /* waits 300 ms, then closes */
	free(out);
	deadline = kt_now_ms() + 10000;
	while (waiting_now() != 0 && kt_now_ms() < deadline)
		kt_sleep_ms(100);
	ck_assert_double_eq(waiting_now(), 0);
	memset(&w, 0, sizeof(w));
	snprintf(w.target, sizeof(w.target), "/v1/events?after=999999&wait=30");
	ck_assert_int_eq(pthread_create(&th, NULL, wait_feed, &w), 0);
	deadline = kt_now_ms() + 10000;
	while (waiting_now() != 1 && kt_now_ms() < deadline)
		kt_sleep_ms(50);
	ck_assert_double_eq(waiting_now(), 1);
	ck_assert_int_eq(kt_stop(&gw), 0);
	pthread_join(th, NULL);
	ck_assert_int_eq(w.r.status, 200);
	ck_assert_int_eq(json_object_array_length(events_of(&w.r)), 0);
	ck_assert_str_eq(kt_str(w.r.json, "next"), "999999");
	kt_resp_free(&w.r);
	start_gw(); /* for the teardown */
}
END_TEST

/* A feed request that would wait takes one of the client's verification.max_waiting_per_client
 * places: past them 503 unavailable; one that does not wait is still served. */
START_TEST(feed_waiting_cap)
{
	static const char from[] = "  max_wait_s: 30\n";
	char yaml[sizeof(gw_yaml) + 256], conf[sizeof(gw_yaml) + 512];
	const char *at;
	struct waiter w;
	struct kt_resp r;
	pthread_t th;
	long long deadline;

	ck_assert_int_eq(kt_stop(&gw), 0);
	snprintf(yaml, sizeof(yaml), gw_yaml, db_path);
	at = strstr(yaml, from);
	ck_assert_ptr_nonnull(at);
	snprintf(conf, sizeof(conf), "%.*s%s  max_waiting_per_client: 1\n%s", (int)(at - yaml),
	         yaml, from, at + strlen(from));
	kt_start_gateway(&gw, conf, sim.port, NULL);
	memset(&w, 0, sizeof(w));
	snprintf(w.target, sizeof(w.target), "/v1/events?after=999999&wait=30");
	ck_assert_int_eq(pthread_create(&th, NULL, wait_feed, &w), 0);
	deadline = kt_now_ms() + 10000;
	while (waiting_now() != 1 && kt_now_ms() < deadline)
		kt_sleep_ms(50);
	ck_assert_double_eq(waiting_now(), 1);
	get("/v1/events?after=999999&wait=5", &r);
	it_assert_problem(&r, 503, "unavailable");
	kt_resp_free(&r);
	get("/v1/events?after=999999", &r);
	ck_assert_int_eq(r.status, 200);
	kt_resp_free(&r);
	ck_assert_int_eq(kt_stop(&gw), 0); /* the drain answers the waiter */
	pthread_join(th, NULL);
	ck_assert_int_eq(w.r.status, 200);
	kt_resp_free(&w.r);
	start_gw(); /* for the teardown */
}
END_TEST

static void sql(const char *statement)
{
	sqlite3 *db = NULL;

	ck_assert_int_eq(sqlite3_open(db_path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, statement, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* Events past retention are purged (at start, then hourly); an after older than the oldest kept
 * gets 410 cursor-expired naming it; after = oldest - 1 still works. */
START_TEST(cursor_expired)
{
	struct kt_resp r;
	long long deadline;
	char q[128], oldest[32] = "";

	observed_user("userId:ce-1");
	observed_user("userId:ce-2");
	observed_user("userId:ce-3");
	feed_until("", 3, &r);
	kt_resp_free(&r);
	ck_assert_int_eq(kt_stop(&gw), 0);
	/* The first two events are 40 days old (retention_days is 30 by default). */
	sql("UPDATE events SET created_ms = created_ms - 3456000000 WHERE id IN"
	    " (SELECT id FROM events ORDER BY id LIMIT 2)");
	start_gw();
	deadline = kt_now_ms() + 10000;
	do {
		get("/v1/events?after=0", &r);
		if (r.status == 410)
			break;
		kt_resp_free(&r);
		kt_sleep_ms(50);
	} while (kt_now_ms() < deadline);
	it_assert_problem(&r, 410, "cursor-expired");
	snprintf(oldest, sizeof(oldest), "%s", kt_str(r.json, "oldestId"));
	ck_assert_int_eq(strtoll10(oldest), 3);
	kt_resp_free(&r);
	snprintf(q, sizeof(q), "/v1/events?after=%lld", strtoll10(oldest) - 1);
	get(q, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(json_object_array_length(events_of(&r)), 1);
	ck_assert_str_eq(event_user(&r, 0), "userId:ce-3");
	kt_resp_free(&r);
	get("/v1/events", &r); /* without after: from the oldest kept */
	ck_assert_int_eq(json_object_array_length(events_of(&r)), 1);
	kt_resp_free(&r);
}
END_TEST

/* The overall stored for loc, read from the store file. */
static void stored_overall(const char *loc, char *out, size_t cap)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;

	ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	ck_assert_int_eq(sqlite3_prepare_v2(db,
	                                    "SELECT overall FROM states WHERE user_locator = ?1",
	                                    -1, &s, NULL),
	                 SQLITE_OK);
	sqlite3_bind_text(s, 1, loc, -1, SQLITE_STATIC);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	snprintf(out, cap, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(db);
}

/* Once the event of a new user (observed now) is in the feed after cursor after, every
 * observation of an earlier read was handled: they are recorded in the order of their reads. */
static void observations_settled(const char *loc, const char *after)
{
	struct kt_resp r;
	char q[64];

	observed_user(loc);
	snprintf(q, sizeof(q), "?after=%s", after);
	feed_until(q, 1, &r);
	ck_assert_str_eq(event_user(&r, 0), loc);
	kt_resp_free(&r);
}

/* An observation older than the stored state (a slow read that finished after a newer one) is
 * dropped: no event, the newer state stays. Made deterministic by holding the store's write lock
 * while the read runs, then storing a newer, different state (as a newer read would) before the
 * gateway can record the read. */
START_TEST(stale_observation_dropped)
{
	char sql_newer[256], overall[32];
	sqlite3 *db = NULL;
	struct timespec ts;
	struct kt_resp r;

	observed_user("userId:stale-1");
	feed_until("", 1, &r);
	kt_resp_free(&r);
	ck_assert_int_eq(sqlite3_open(db_path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	/* With ?country the read needs no store lookup: it is answered while the lock is held,
	 * and its observation waits for the lock. */
	req("GET", "/v1/users/userId:stale-1/verification?country=DE", READER, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	kt_resp_free(&r);
	kt_sleep_ms(20); /* the newer state's time is past the read's start */
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(sql_newer, sizeof(sql_newer),
	         "UPDATE states SET observed_ms = %lld, overall = 'rejected',"
	         " answer = json_set(answer, '$.overall', 'rejected')"
	         " WHERE user_locator = 'userId:stale-1'",
	         (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	ck_assert_int_eq(sqlite3_exec(db, sql_newer, NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	observations_settled("userId:stale-2", "1");
	stored_overall("userId:stale-1", overall, sizeof(overall));
	ck_assert_str_eq(overall, "rejected");
}
END_TEST

/* A stored state dated ahead of the wall clock (the clock was stepped back) cannot order reads:
 * an observation is recorded rather than dropped until the clock catches up. */
START_TEST(clock_stepped_back)
{
	char overall[32];
	struct kt_resp r;

	observed_user("userId:step-1");
	feed_until("", 1, &r);
	kt_resp_free(&r);
	ck_assert_int_eq(kt_stop(&gw), 0);
	sql("UPDATE states SET observed_ms = observed_ms + 86400000, overall = 'rejected',"
	    " answer = json_set(answer, '$.overall', 'rejected')"
	    " WHERE user_locator = 'userId:step-1'");
	start_gw();
	read_overall("userId:step-1", overall, sizeof(overall));
	ck_assert_str_eq(overall, "not-started");
	feed_until("?after=1", 1, &r); /* the change back to not-started */
	ck_assert_str_eq(event_user(&r, 0), "userId:step-1");
	kt_resp_free(&r);
	stored_overall("userId:step-1", overall, sizeof(overall));
	ck_assert_str_eq(overall, "not-started");
}
END_TEST

static size_t users_n(const struct kt_resp *r)
{
	struct json_object *u = json_object_object_get(r->json, "users");

	ck_assert_msg(u != NULL, "%s", r->body);
	return json_object_array_length(u);
}

static const char *user_at(const struct kt_resp *r, size_t i)
{
	return kt_str(json_object_array_get_idx(json_object_object_get(r->json, "users"), i),
	              "userLocator");
}

/* GET /v1/users: newest observation first, the overall and product filters, the cursor. */
START_TEST(users_list)
{
	struct kt_resp r;
	char q[256], next[64];
	long long deadline;

	observed_user("userId:ul-1");
	observed_user("userId:ul-2");
	complete_user("userId:ul-3", "DE");
	expect("POST", "/v1/users/userId:ul-3/verification", WRITER, NULL, NULL, 0, 200);
	deadline = kt_now_ms() + 10000;
	do { /* the store records asynchronously */
		get("/v1/users", &r);
		ck_assert_int_eq(r.status, 200);
		if (users_n(&r) == 3)
			break;
		kt_resp_free(&r);
		kt_sleep_ms(50);
	} while (kt_now_ms() < deadline);
	ck_assert_int_eq(users_n(&r), 3);
	ck_assert_str_eq(user_at(&r, 0), "userId:ul-3");
	ck_assert_str_eq(user_at(&r, 2), "userId:ul-1");
	ck_assert_ptr_nonnull(kt_str(
	    json_object_array_get_idx(json_object_object_get(r.json, "users"), 0), "observedAt"));
	ck_assert(json_object_is_type(json_object_object_get(r.json, "next"), json_type_null));
	kt_resp_free(&r);
	get("/v1/users?overall=in-review", &r);
	ck_assert_int_eq(users_n(&r), 1);
	ck_assert_str_eq(user_at(&r, 0), "userId:ul-3");
	kt_resp_free(&r);
	get("/v1/users?overall=not-started&product=onramp", &r);
	ck_assert_int_eq(users_n(&r), 2);
	kt_resp_free(&r);
	get("/v1/users?overall=verified", &r);
	ck_assert_int_eq(users_n(&r), 0);
	kt_resp_free(&r);
	get("/v1/users?limit=2", &r);
	ck_assert_int_eq(users_n(&r), 2);
	snprintf(next, sizeof(next), "%s", kt_str(r.json, "next"));
	kt_resp_free(&r);
	snprintf(q, sizeof(q), "/v1/users?limit=2&after=%s", next);
	get(q, &r);
	ck_assert_int_eq(users_n(&r), 1);
	ck_assert_str_eq(user_at(&r, 0), "userId:ul-1");
	kt_resp_free(&r);
	get("/v1/users?overall=done", &r);
	it_assert_problem(&r, 400, "invalid-request");
	kt_resp_free(&r);
	get("/v1/users?product=card", &r);
	it_assert_problem(&r, 400, "invalid-request");
	kt_resp_free(&r);
	get("/v1/users?after=x", &r);
	it_assert_problem(&r, 400, "invalid-request");
	kt_resp_free(&r);
}
END_TEST

/* The "id" requirement of loc's status read without ?country (NULL when none). */
static struct json_object *id_requirement(const char *loc, struct kt_resp *r)
{
	struct json_object *reqs;
	char t[256];
	size_t i;

	snprintf(t, sizeof(t), "/v1/users/%s/verification", loc);
	get(t, r);
	ck_assert_int_eq(r->status, 200);
	reqs = json_object_object_get(r->json, "requirements");
	for (i = 0; i < json_object_array_length(reqs); i++) {
		struct json_object *q = json_object_array_get_idx(reqs, i);

		if (strcmp(kt_str(q, "code"), "id") == 0)
			return q;
	}
	return NULL;
}

/* A user without its ID document, triggered: "id" is required. */
static void needs_id(const char *loc, const char *cc)
{
	static const char consent[] =
	    "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-06-01T12:00:00Z\"}";
	char body[1024], t[256];

	snprintf(body, sizeof(body),
	         "{\"userDetails\":{\"firstName\":\"Ann\",\"lastName\":\"Lee\","
	         "\"dateOfBirth\":\"1990-01-15\",\"countryOfResidence\":\"%s\"}}",
	         cc);
	snprintf(t, sizeof(t), "/v1/users/%s?replace=true", loc);
	expect("PUT", t, WRITER, JSON_CT, body, strlen(body), 201);
	snprintf(t, sizeof(t), "/v1/users/%s/consent", loc);
	expect("PUT", t, WRITER, JSON_CT, consent, strlen(consent), 200);
	snprintf(t, sizeof(t), "/v1/users/%s/verification", loc);
	expect("POST", t, WRITER, NULL, NULL, 0, 200);
}

/* The country of the last PUT stands in for ?country: AE accepts the passport only (and says it
 * no longer depends on the country), DE the ID card too; a user with no PUT gets the default. */
START_TEST(remembered_country)
{
	static const char consent[] =
	    "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-06-01T12:00:00Z\"}";
	struct json_object *q;
	struct kt_resp r;

	needs_id("userId:rc-ae", "AE");
	q = id_requirement("userId:rc-ae", &r);
	ck_assert_ptr_nonnull(q);
	ck_assert_int_eq(
	    json_object_array_length(json_object_object_get(q, "acceptedDocumentTypes")), 1);
	ck_assert_ptr_null(json_object_object_get(q, "dependsOnCountry"));
	kt_resp_free(&r);
	needs_id("userId:rc-de", "DE");
	q = id_requirement("userId:rc-de", &r);
	ck_assert_ptr_nonnull(q);
	ck_assert_int_eq(
	    json_object_array_length(json_object_object_get(q, "acceptedDocumentTypes")), 2);
	kt_resp_free(&r);
	/* No country known: what every country accepts, and it depends on the country. */
	expect("PUT", "/v1/users/userId:rc-none/consent", WRITER, JSON_CT, consent, strlen(consent),
	       200);
	expect("POST", "/v1/users/userId:rc-none/verification", WRITER, NULL, NULL, 0, 200);
	q = id_requirement("userId:rc-none", &r);
	ck_assert_ptr_nonnull(q);
	ck_assert(json_object_get_boolean(json_object_object_get(q, "dependsOnCountry")));
	kt_resp_free(&r);
}
END_TEST

/* users.read is needed for the feed and the list. */
START_TEST(scopes)
{
	struct kt_resp r;

	req("GET", "/v1/events", NOREAD, NULL, NULL, 0, &r);
	it_assert_problem(&r, 403, "forbidden");
	kt_resp_free(&r);
	req("GET", "/v1/users", NOREAD, NULL, NULL, 0, &r);
	it_assert_problem(&r, 403, "forbidden");
	kt_resp_free(&r);
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

/* A read-only store file: reads and writes go on, the feed and the list answer 503
 * store-unavailable. */
START_TEST(read_only_store)
{
	struct kt_resp r;
	char cmd[512], overall[32], ra[16];

	ck_assert_int_eq(kt_stop(&gw), 0); /* a v1 file, closed */
	if (!make_read_only(db_path)) {
		fprintf(stderr, "read_only_store: cannot make a file read-only as root here\n");
		start_gw();
		return;
	}
	start_gw();
	observed_user("userId:ro-1");
	read_overall("userId:ro-1", overall, sizeof(overall));
	ck_assert_str_eq(overall, "not-started");
	get("/v1/events", &r);
	it_assert_problem(&r, 503, "store-unavailable");
	kt_resp_free(&r);
	get("/v1/users", &r);
	it_assert_problem(&r, 503, "store-unavailable");
	kt_resp_free(&r);
	/* the webhook routes too, with the same Retry-After as every route that needs the store */
	req("GET", "/v1/webhooks", "Authorization: Bearer ops-token-0123456789abcdefgh", NULL, NULL,
	    0, &r);
	it_assert_problem(&r, 503, "store-unavailable");
	ck_assert(kt_header(&r, "Retry-After", ra, sizeof(ra)));
	ck_assert_str_eq(ra, "5");
	kt_resp_free(&r);
	ck_assert_int_eq(kt_stop(&gw), 0);
	snprintf(cmd, sizeof(cmd), "chattr -i '%s' 2>/dev/null; chmod 0600 '%s'", db_path, db_path);
	ck_assert_int_eq(system(cmd), 0);
	start_gw();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("it_events");
	TCase *tc = tcase_create("events");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, observations_recorded);
	tcase_add_test(tc, feed_pages);
	tcase_add_test(tc, feed_long_poll);
	tcase_add_test(tc, feed_hang_up_and_drain);
	tcase_add_test(tc, feed_waiting_cap);
	tcase_add_test(tc, cursor_expired);
	tcase_add_test(tc, stale_observation_dropped);
	tcase_add_test(tc, clock_stepped_back);
	tcase_add_test(tc, users_list);
	tcase_add_test(tc, remembered_country);
	tcase_add_test(tc, scopes);
	tcase_add_test(tc, read_only_store);
	suite_add_tcase(s, tc);
	return kt_run_suite(s) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
