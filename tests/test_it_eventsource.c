/* Integration (issue 10 item 9): the event source end to end, through the real binary, the
 * standalone simulator (which settles reviews on its own after its review delay) and a webhook
 * receiver in this test that verifies every signature. Triggers start automatic watches; their
 * polls observe the reviews' ends; the feed (GET /v1/events) and the receiver must carry the same
 * events, byte for byte, each user's in id order; a gateway stopped mid-review and started again
 * on the same store still delivers every user's final event, once in the feed and at least once
 * at the receiver; settled users are no longer polled and their watches are gone; a repeated
 * Idempotency-Key on the trigger makes one upstream trigger and one watch. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sqlite3.h>

#include "harness.h"
#include "webhook_rx.h"

#define KEY "sk_staging_eventsource0123456789ab"
#define WRITER "Authorization: Bearer writer-token-0123456789abcdef"
#define READER "Authorization: Bearer reader-token-0123456789abcdef"
#define JSON_CT "Content-Type: application/json"
#define HOOK_TARGET "/hook?src=e2e"
#define REVIEW_MS 4000    /* the simulator's review: pending-review turns verified after this */
#define POLL_MAX_S 2      /* events.watch.poll_max_s: the longest a watch waits between polls */
#define DEADLINE_MS 40000 /* for any condition awaited (generous: the machine may be busy) */
#define N_USERS 5
#define MAX_FEED 256 /* events kept by feed_all: far more than a test records */

/* %s: the store path; %u: the receiver's port. */
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
                              "auth:\n"
                              "  clients:\n"
                              "    - name: writer\n"
                              "      token: \"writer-token-0123456789abcdef\"\n"
                              "      scopes: [users.create, users.read]\n"
                              "    - name: reader\n"
                              "      token: \"reader-token-0123456789abcdef\"\n"
                              "      scopes: [users.read]\n"
                              "store:\n"
                              "  sqlite: {path: \"%s\"}\n"
                              "events:\n"
                              "  retry_schedule_s: [1, 1, 1, 1, 1, 1]\n"
                              "  watch: {poll_initial_s: 1, poll_max_s: 2}\n"
                              "  webhooks:\n"
                              "    - name: e2e\n"
                              "      url: \"http://127.0.0.1:%u" HOOK_TARGET "\"\n"
                              "      secret: \"" KT_WH_SECRET "\"\n"
                              "      timeout_ms: 10000\n";

static struct kt_proc sim, gw;
static struct kt_rx rx;
static char db_path[128];

static void start_gw(void)
{
	char yaml[sizeof(gw_yaml) + 256];

	snprintf(yaml, sizeof(yaml), gw_yaml, db_path, rx.port);
	kt_start_gateway(&gw, yaml, sim.port, NULL);
}

static void unlink_db(void)
{
	char p[160];

	unlink(db_path);
	snprintf(p, sizeof(p), "%s-wal", db_path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", db_path);
	unlink(p);
}

static void setup(void)
{
	char rd[16];
	const char *args[] = {"--api-key", KEY, "--review-delay-ms", rd, NULL};

	snprintf(rd, sizeof(rd), "%d", REVIEW_MS);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(db_path, sizeof(db_path), "/tmp/kt-eventsource-%d.db", (int)getpid());
	unlink_db();
	kt_start_simulator(&sim, args);
	kt_rx_start(&rx, 0, 200);
	start_gw();
}

static void teardown(void)
{
	ck_assert_int_eq(kt_stop(&gw), 0); /* 0 also means no leak under the sanitizers */
	kt_rx_stop(&rx);
	ck_assert_int_eq(kt_stop(&sim), 0);
	unlink_db();
	curl_global_cleanup();
}

static void expect(const char *method, const char *target, const char *auth, const char *ctype,
                   const char *body, size_t len, long status, struct kt_resp *out)
{
	kt_expect(gw.port, method, target, auth, ctype, body, len, status, out);
}

/* A user the simulator knows, with everything a review needs: a trigger puts it in review. */
static void make_user(const char *loc)
{
	kt_make_reviewable_user(gw.port, WRITER, loc, "DE");
}

/* POST .../verification of loc (with an Idempotency-Key when key is not NULL) into r; asserts a
 * 200 that says the user is watched and in review. */
static void trigger(const char *loc, const char *key, struct kt_resp *r)
{
	char t[256], kh[128];
	const char *const h[] = {WRITER, key ? kh : NULL, NULL};
	struct json_object *w;

	snprintf(t, sizeof(t), "/v1/users/%s/verification", loc);
	snprintf(kh, sizeof(kh), "Idempotency-Key: %s", key ? key : "");
	kt_http(gw.port, "POST", t, h, NULL, 0, r);
	ck_assert_msg(r->status == 200, "trigger %s: %ld %s", loc, r->status, r->body);
	ck_assert_msg(json_object_object_get_ex(r->json, "watched", &w) &&
	                  json_object_get_boolean(w),
	              "trigger %s: not watched: %s", loc, r->body);
	ck_assert_msg(strcmp(kt_str(r->json, "overall"), "in-review") == 0,
	              "trigger %s: not in review: %s", loc, r->body);
}

/* ---- the feed ---- */

struct feed {
	struct json_object *ev[MAX_FEED]; /* parsed events, oldest first */
	int n;
	char *raw; /* every page's body, one after the other */
	size_t raw_len;
};

static void feed_free(struct feed *f)
{
	int i;

	for (i = 0; i < f->n; i++)
		json_object_put(f->ev[i]);
	free(f->raw);
	memset(f, 0, sizeof(*f));
}

/* The whole feed, page by page (small pages, so that paging is crossed too). */
static void feed_all(struct feed *f)
{
	char after[32] = "0", t[128];

	memset(f, 0, sizeof(*f));
	for (;;) {
		struct json_object *evs;
		struct kt_resp r;
		size_t i, n;
		char *raw;

		snprintf(t, sizeof(t), "/v1/events?after=%s&limit=7", after);
		expect("GET", t, READER, NULL, NULL, 0, 200, &r);
		ck_assert(json_object_object_get_ex(r.json, "events", &evs));
		n = json_object_array_length(evs);
		for (i = 0; i < n; i++) {
			ck_assert_int_lt(f->n, MAX_FEED);
			f->ev[f->n++] = json_object_get(json_object_array_get_idx(evs, i));
		}
		raw = realloc(f->raw, f->raw_len + r.len + 1);
		ck_assert_ptr_nonnull(raw);
		memcpy(raw + f->raw_len, r.body, r.len + 1);
		f->raw = raw;
		f->raw_len += r.len;
		snprintf(after, sizeof(after), "%s", kt_str(r.json, "next"));
		kt_resp_free(&r);
		if (n == 0)
			return;
	}
}

static long long ev_id(struct json_object *e)
{
	return strtoll(kt_str(e, "id"), NULL, 10);
}

static const char *ev_overall(struct json_object *e)
{
	struct json_object *data;

	ck_assert(json_object_object_get_ex(e, "data", &data));
	return kt_str(data, "overall");
}

/* A final event: the review ended, the user verified (nothing more will change). */
static bool ev_final(struct json_object *e)
{
	return strcmp(ev_overall(e), "verified") == 0;
}

/* How many events of loc the feed holds, and how many of them are final. */
static int user_events(const struct feed *f, const char *loc, int *finals)
{
	int i, n = 0;

	*finals = 0;
	for (i = 0; i < f->n; i++) {
		if (strcmp(kt_str(f->ev[i], "userLocator"), loc) != 0)
			continue;
		n++;
		*finals += ev_final(f->ev[i]);
	}
	return n;
}

/* Waits until the feed holds a final event of every user, into f. */
static void await_finals(const char *const *users, int n, struct feed *f)
{
	long long end = kt_now_ms() + DEADLINE_MS;

	for (;;) {
		int i, finals, done = 0;

		feed_all(f);
		for (i = 0; i < n; i++) {
			user_events(f, users[i], &finals);
			done += finals > 0;
		}
		if (done == n)
			return;
		ck_assert_msg(kt_now_ms() < end, "%d of %d users have a final event", done, n);
		feed_free(f);
		kt_sleep_ms(200);
	}
}

/* ---- the receiver against the feed ---- */

/* Waits until every event of the feed was answered 2xx by the receiver. */
static void await_delivered(const struct feed *f)
{
	int i;

	for (i = 0; i < f->n; i++)
		ck_assert_msg(kt_rx_wait(&rx, ev_id(f->ev[i]), 200), "event %lld never delivered",
		              ev_id(f->ev[i]));
}

/* The receiver got exactly the feed's events: each hit is an event of the feed with the same
 * bytes as in the feed's page and the same JSON; each user's hits come in id order (a repeat of
 * the same id is at-least-once, allowed only with at_least_once). */
static void assert_rx_matches_feed(const struct feed *f, bool at_least_once)
{
	int i, j;

	kt_rx_assert_clean(&rx, HOOK_TARGET);
	pthread_mutex_lock(&rx.mu);
	for (i = 0; i < rx.n; i++) {
		const struct kt_hit *h = &rx.hits[i];
		struct json_object *body = json_tokener_parse(h->body), *e = NULL;

		for (j = 0; j < f->n && e == NULL; j++)
			if (ev_id(f->ev[j]) == h->id)
				e = f->ev[j];
		ck_assert_msg(e != NULL, "event %lld reached the receiver, not the feed", h->id);
		ck_assert_msg(body != NULL && json_object_equal(body, e),
		              "event %lld differs: receiver %s, feed %s", h->id, h->body,
		              json_object_to_json_string(e));
		ck_assert_msg(strstr(f->raw, h->body) != NULL,
		              "event %lld: the receiver's bytes are not the feed's: %s", h->id,
		              h->body);
		ck_assert_str_eq(h->loc, kt_str(e, "userLocator"));
		json_object_put(body);
		for (j = 0; j < i; j++) {
			if (strcmp(rx.hits[j].loc, h->loc) != 0)
				continue;
			ck_assert_msg(rx.hits[j].id <= h->id,
			              "%s: event %lld arrived after event %lld", h->loc, h->id,
			              rx.hits[j].id);
			ck_assert_msg(at_least_once || rx.hits[j].id != h->id,
			              "event %lld arrived twice", h->id);
		}
	}
	pthread_mutex_unlock(&rx.mu);
	for (i = 0; i < f->n; i++)
		ck_assert_int_ge(kt_rx_count(&rx, ev_id(f->ev[i]), 200), 1);
}

/* The feed holds no duplicate: each user's events differ from the one before in their state,
 * and each user has exactly one final event. */
static void assert_feed_no_duplicates(const struct feed *f, const char *const *users, int n)
{
	int u, i;

	for (u = 0; u < n; u++) {
		struct json_object *prev = NULL;
		int finals;

		user_events(f, users[u], &finals);
		ck_assert_msg(finals == 1, "%s: %d final events", users[u], finals);
		for (i = 0; i < f->n; i++) {
			struct json_object *data;

			if (strcmp(kt_str(f->ev[i], "userLocator"), users[u]) != 0)
				continue;
			ck_assert(json_object_object_get_ex(f->ev[i], "data", &data));
			ck_assert_msg(prev == NULL || !json_object_equal(prev, data),
			              "%s: event %s repeats the state before it", users[u],
			              kt_str(f->ev[i], "id"));
			prev = data;
		}
	}
}

/* ---- watches and polls ---- */

/* Waits until loc's watch is gone: GET .../watch answers 404 not-watched. */
static void await_unwatched(const char *loc)
{
	long long end = kt_now_ms() + DEADLINE_MS;
	char t[256];

	snprintf(t, sizeof(t), "/v1/users/%s/watch", loc);
	for (;;) {
		const char *const h[] = {READER, NULL};
		struct kt_resp r;
		bool gone;

		kt_http(gw.port, "GET", t, h, NULL, 0, &r);
		gone = r.status == 404 && r.json != NULL &&
		       strcmp(kt_str(r.json, "type"), "urn:kycgate:problem:not-watched") == 0;
		ck_assert_msg(gone || r.status == 200, "GET %s: %ld %s", t, r.status, r.body);
		kt_resp_free(&r);
		if (gone)
			return;
		ck_assert_msg(kt_now_ms() < end, "%s is still watched", loc);
		kt_sleep_ms(200);
	}
}

/* Status reads of loc Crossmint saw (any request id: a watch's poll or anything else). */
static int upstream_reads(const char *loc)
{
	char t[256];

	snprintf(t, sizeof(t), "/2025-06-09/users/%s/identity-verification", loc);
	return kt_sim_count(sim.port, "GET", t);
}

/* Settled users are not polled any more: their watches are gone, and over a few of the longest
 * poll intervals Crossmint sees no read of them. */
static void assert_quiet(const char *const *users, int n)
{
	int i;

	for (i = 0; i < n; i++)
		await_unwatched(users[i]);
	kt_sim_clear(sim.port);
	kt_sleep_ms(3 * POLL_MAX_S * 1000 + 500); /* a watch left over would poll in this window */
	for (i = 0; i < n; i++)
		ck_assert_msg(upstream_reads(users[i]) == 0, "%s: %d reads after it settled",
		              users[i], upstream_reads(users[i]));
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

static const char *const users[N_USERS] = {"userId:es-1", "userId:es-2", "userId:es-3",
                                           "userId:es-4", "userId:es-5"};

/* Item 1 and 3: users triggered through kycgate and settled by the simulator on its own, the
 * changes seen by the automatic watches alone (no caller reads): the receiver gets exactly the
 * feed's events, once each, each user's in id order; then the settled users are not polled. */
START_TEST(feed_and_webhooks_agree)
{
	struct feed f;
	int i, finals;

	for (i = 0; i < N_USERS; i++)
		make_user(users[i]);
	for (i = 0; i < N_USERS; i++) {
		struct kt_resp r;

		trigger(users[i], NULL, &r);
		kt_resp_free(&r);
	}
	await_finals(users, N_USERS, &f);
	for (i = 0; i < N_USERS; i++) /* in review (the trigger), then verified (a watch's poll) */
		ck_assert_int_eq(user_events(&f, users[i], &finals), 2);
	feed_free(&f);
	assert_quiet(users, N_USERS);
	/* Nothing changes any more: the feed is complete. */
	feed_all(&f);
	ck_assert_int_eq(f.n, 2 * N_USERS);
	await_delivered(&f);
	kt_sleep_ms(1500); /* a repeat would come within a retry delay (1 s) */
	assert_rx_matches_feed(&f, false);
	ck_assert_int_eq(kt_rx_count(&rx, 0, 0), f.n);
	assert_feed_no_duplicates(&f, users, N_USERS);
	feed_free(&f);
}
END_TEST

/* The users of the store file whose final event was recorded (read beside the stopped gateway). */
static int finals_in_store(void)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int n = -1;

	ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	ck_assert_int_eq(sqlite3_prepare_v2(db,
	                                    "SELECT COUNT(DISTINCT user_locator) FROM events WHERE "
	                                    "json_extract(body, '$.data.overall') = 'verified'",
	                                    -1, &s, NULL),
	                 SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n;
}

/* Item 2 and 3: the gateway stopped (SIGTERM) while the users are in review and started again
 * on the same store file and config after the reviews ended: every user's final event is in the
 * feed once and reaches the receiver (a repeat only with the same webhook-id); then the settled
 * users are not polled. */
START_TEST(restart_mid_review)
{
	long long triggered;
	struct feed f;
	int i, settled;

	for (i = 0; i < N_USERS; i++)
		make_user(users[i]);
	for (i = 0; i < N_USERS; i++) {
		struct kt_resp r;

		trigger(users[i], NULL, &r);
		kt_resp_free(&r);
	}
	triggered = kt_now_ms(); /* every review ends REVIEW_MS after this at the latest */
	ck_assert_int_eq(kt_stop(&gw), 0);
	/* The stop came while reviews were going on: the store holds no final event of at least
	 * one user (all of them unless the machine took REVIEW_MS to trigger and stop). */
	settled = finals_in_store();
	ck_assert_msg(settled < N_USERS, "every review ended before the stop: nothing tested");
	/* Down past every review's end: the simulator settles them meanwhile. */
	while (kt_now_ms() < triggered + REVIEW_MS + 1000)
		kt_sleep_ms(100);
	start_gw();
	await_finals(users, N_USERS, &f);
	feed_free(&f);
	assert_quiet(users, N_USERS);
	feed_all(&f);
	ck_assert_int_eq(f.n, 2 * N_USERS);
	await_delivered(&f);
	assert_rx_matches_feed(&f, true);
	assert_feed_no_duplicates(&f, users, N_USERS);
	feed_free(&f);
}
END_TEST

/* Item 4: a trigger repeated with its Idempotency-Key is one upstream trigger (Crossmint's PUT)
 * and one automatic
 * watch; the replay is the first answer (watched:true), also once the watch ended, and then it
 * starts no watch. */
START_TEST(idempotent_trigger_one_watch)
{
	const char *loc = "userId:es-idem";
	struct kt_resp first, again, w1, w2;
	char watch[128], replayed[16];

	make_user(loc);
	trigger(loc, "es-idem-key-1", &first);
	snprintf(watch, sizeof(watch), "/v1/users/%s/watch", loc);
	expect("GET", watch, READER, NULL, NULL, 0, 200, &w1);
	ck_assert_str_eq(kt_str(w1.json, "kind"), "automatic");
	trigger(loc, "es-idem-key-1", &again);
	ck_assert(kt_header(&again, "Idempotent-Replayed", replayed, sizeof(replayed)));
	ck_assert_str_eq(replayed, "true");
	ck_assert_uint_eq(again.len, first.len);
	ck_assert_mem_eq(again.body, first.body, first.len);
	kt_resp_free(&again);
	ck_assert_int_eq(
	    kt_sim_count(sim.port, "PUT", "/2025-06-09/users/userId:es-idem/identity-verification"),
	    1);
	/* One watch, the same one: the replay neither made another nor began it again. */
	expect("GET", watch, READER, NULL, NULL, 0, 200, &w2);
	ck_assert_str_eq(kt_str(w2.json, "kind"), "automatic");
	ck_assert_str_eq(kt_str(w2.json, "since"), kt_str(w1.json, "since"));
	kt_resp_free(&w1);
	kt_resp_free(&w2);
	ck_assert(metric("kycgate_watches{kind=\"automatic\"}") == 1);

	/* Settled: the watch ended; a replay now still says watched:true and starts none. */
	await_unwatched(loc);
	trigger(loc, "es-idem-key-1", &again);
	ck_assert_uint_eq(again.len, first.len);
	ck_assert_mem_eq(again.body, first.body, first.len);
	kt_resp_free(&again);
	expect("GET", watch, READER, NULL, NULL, 0, 404, NULL);
	ck_assert(metric("kycgate_watches{kind=\"automatic\"}") == 0);
	ck_assert_int_eq(
	    kt_sim_count(sim.port, "PUT", "/2025-06-09/users/userId:es-idem/identity-verification"),
	    1);
	kt_resp_free(&first);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("it_eventsource");
	TCase *tc = tcase_create("eventsource");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 150);
	tcase_add_test(tc, feed_and_webhooks_agree);
	tcase_add_test(tc, restart_mid_review);
	tcase_add_test(tc, idempotent_trigger_one_watch);
	suite_add_tcase(s, tc);
	return kt_run_suite(s) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
