/* Integration (design §10 "Watches", issue 10 item 2): watches through the real binary and the
 * standalone simulator. PUT / GET / DELETE of an explicit watch and their problems; a trigger
 * starts an automatic watch that polls Crossmint on its own, doubling its interval while in
 * review, and ends once the user settled (Crossmint is no longer polled); an explicit watch of a
 * settled user keeps polling at poll_settled_s; max_watches (503 watch-capacity, a trigger
 * answering watched:false); watches survive a restart; store.driver none. Watch polls are told
 * apart at the simulator by their request id (watch-poll-N). */
#include <check.h>
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

#define KEY "sk_staging_watch0123456789abcdef"
#define WRITER "Authorization: Bearer writer-token-0123456789abcdef"
#define READER "Authorization: Bearer reader-token-0123456789abcdef"
#define JSON_CT "Content-Type: application/json"
#define REVIEW_MS 3000 /* the simulator's review: pending-review turns verified after this */
#define DEADLINE_MS 20000

/* %s: extra sections (a store, other events.watch values). */
static const char gw_yaml[] = "server:\n"
                              "  listen: \"127.0.0.1:0\"\n"
                              "  drain_delay_s: 0\n"
                              "  shutdown_grace_s: 1\n"
                              "crossmint:\n"
                              "  environment: staging\n"
                              "  base_url: \"http://127.0.0.1:@SIMPORT@\"\n"
                              "  api_key: \"" KEY "\"\n"
                              "  timeout_ms: 3000\n"
                              "  rate_limit: {writes_per_minute: 0, reads_per_minute: 0}\n"
                              "  retry: {max_attempts: 1}\n"
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
                              "%s";

static struct kt_proc sim, gw;

static void start_gw(struct kt_proc *p, const char *extra)
{
	char yaml[sizeof(gw_yaml) + 512];

	snprintf(yaml, sizeof(yaml), gw_yaml, extra);
	kt_start_gateway(p, yaml, sim.port, NULL);
}

static void setup(void)
{
	char rd[16];
	const char *args[] = {"--api-key", KEY, "--review-delay-ms", rd, NULL};

	snprintf(rd, sizeof(rd), "%d", REVIEW_MS);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	kt_start_simulator(&sim, args);
	start_gw(&gw, "events:\n  watch: {poll_initial_s: 1, poll_max_s: 4, poll_settled_s: 3}\n");
}

static void teardown(void)
{
	ck_assert_int_eq(kt_stop(&gw), 0); /* 0 also means no leak under the sanitizers */
	ck_assert_int_eq(kt_stop(&sim), 0);
	curl_global_cleanup();
}

static void call(const struct kt_proc *p, const char *method, const char *target, const char *auth,
                 const char *body, struct kt_resp *r)
{
	const char *const with_body[] = {auth, JSON_CT, NULL};
	const char *const without[] = {auth, NULL};

	kt_http(p->port, method, target, body ? with_body : without, body, body ? strlen(body) : 0,
	        r);
}

static void expect(const struct kt_proc *p, const char *method, const char *target,
                   const char *body, long status)
{
	struct kt_resp r;

	call(p, method, target, WRITER, body, &r);
	ck_assert_msg(r.status == status, "%s %s: %ld, wanted %ld: %s", method, target, r.status,
	              status, r.body);
	kt_resp_free(&r);
}

static void assert_problem(const struct kt_resp *r, long status, const char *code)
{
	char type[96];
	const char *t = r->json ? kt_str(r->json, "type") : NULL;

	snprintf(type, sizeof(type), "urn:kycgate:problem:%s", code);
	ck_assert_msg(r->status == status && t != NULL && strcmp(t, type) == 0,
	              "%ld %s, wanted %ld %s", r->status, r->body, status, code);
}

/* A user with consent and details (no documents), so that a trigger scoped to
 * regulated-transfer puts it in review for REVIEW_MS. */
static void make_user(const struct kt_proc *p, const char *loc)
{
	char t[256];

	snprintf(t, sizeof(t), "/v1/users/%s/consent", loc);
	expect(p, "PUT", t, "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-06-01T12:00:00Z\"}",
	       200);
	snprintf(t, sizeof(t), "/v1/users/%s", loc);
	expect(p, "PUT", t,
	       "{\"userDetails\":{\"firstName\":\"A\",\"lastName\":\"B\","
	       "\"dateOfBirth\":\"1990-01-01\",\"countryOfResidence\":\"BR\"}}",
	       200);
}

/* Triggers loc's verification over regulated-transfer; returns the answer's "watched" (the
 * answer must carry it). */
static bool trigger(const struct kt_proc *p, const char *loc)
{
	struct json_object *w;
	struct kt_resp r;
	char t[256];
	bool watched;

	snprintf(t, sizeof(t), "/v1/users/%s/verification?products=regulated-transfer", loc);
	call(p, "POST", t, WRITER, NULL, &r);
	ck_assert_msg(r.status == 200, "trigger: %ld %s", r.status, r.body);
	ck_assert_msg(json_object_object_get_ex(r.json, "watched", &w), "%s", r.body);
	watched = json_object_get_boolean(w);
	kt_resp_free(&r);
	return watched;
}

/* How many watch polls of loc the simulator saw (request id watch-poll-N). */
static int polls(const char *loc)
{
	struct json_object *reqs = kt_sim_requests(sim.port);
	char target[256];
	size_t i, n;
	int count = 0;

	snprintf(target, sizeof(target), "/2025-06-09/users/%s/identity-verification", loc);
	for (i = 0, n = json_object_array_length(reqs); i < n; i++) {
		struct json_object *q = json_object_array_get_idx(reqs, i);
		const char *id = kt_str(q, "requestId"), *tg = kt_str(q, "target");

		count += id != NULL && strncmp(id, "watch-poll-", 11) == 0 && tg != NULL &&
		         strcmp(tg, target) == 0 && strcmp(kt_str(q, "method"), "GET") == 0;
	}
	json_object_put(reqs);
	return count;
}

/* Waits (DEADLINE_MS at most) until loc was polled at least n times; returns kt_now_ms() then. */
static long long await_polls(const char *loc, int n)
{
	long long end = kt_now_ms() + DEADLINE_MS;

	while (polls(loc) < n) {
		ck_assert_msg(kt_now_ms() < end, "%s: %d polls, wanted %d", loc, polls(loc), n);
		kt_sleep_ms(50);
	}
	return kt_now_ms();
}

/* GET .../watch of loc on p into r (the caller frees). */
static void get_watch(const struct kt_proc *p, const char *loc, struct kt_resp *r)
{
	char t[256];

	snprintf(t, sizeof(t), "/v1/users/%s/watch", loc);
	call(p, "GET", t, READER, NULL, r);
}

/* Waits until GET .../watch of loc answers status. */
static void await_watch_status(const char *loc, long status)
{
	long long end = kt_now_ms() + DEADLINE_MS;
	struct kt_resp r;

	for (;;) {
		get_watch(&gw, loc, &r);
		if (r.status == status)
			break;
		ck_assert_msg(kt_now_ms() < end, "%s: watch %ld, wanted %ld", loc, r.status,
		              status);
		kt_resp_free(&r);
		kt_sleep_ms(100);
	}
	kt_resp_free(&r);
}

START_TEST(explicit_watch_routes)
{
	struct json_object *last, *prods;
	struct kt_resp r;

	call(&gw, "PUT", "/v1/users/userId:w-1/watch?products=onramp", READER, NULL, &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	ck_assert_str_eq(kt_str(r.json, "userLocator"), "userId:w-1");
	ck_assert_str_eq(kt_str(r.json, "kind"), "explicit");
	ck_assert_ptr_nonnull(kt_str(r.json, "since"));
	ck_assert_ptr_nonnull(kt_str(r.json, "nextPollAt"));
	ck_assert(json_object_object_get_ex(r.json, "lastObserved", &last) && last == NULL);
	ck_assert(json_object_object_get_ex(r.json, "products", &prods));
	ck_assert_int_eq((int)json_object_array_length(prods), 1);
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(prods, 0)), "onramp");
	kt_resp_free(&r);
	/* PUT again keeps the watch; GET shows it. */
	call(&gw, "PUT", "/v1/users/userId:w-1/watch?products=onramp", READER, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	kt_resp_free(&r);
	get_watch(&gw, "userId:w-1", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(kt_str(r.json, "kind"), "explicit");
	kt_resp_free(&r);
	/* Problems: a bad ?products, a bad locator, no token, a body. */
	call(&gw, "PUT", "/v1/users/userId:w-1/watch?products=nope", READER, NULL, &r);
	assert_problem(&r, 400, "invalid-request");
	kt_resp_free(&r);
	call(&gw, "GET", "/v1/users/bogus/watch", READER, NULL, &r);
	assert_problem(&r, 400, "invalid-request");
	kt_resp_free(&r);
	kt_http(gw.port, "GET", "/v1/users/userId:w-1/watch", NULL, NULL, 0, &r);
	assert_problem(&r, 401, "unauthorized");
	kt_resp_free(&r);
	/* DELETE ends it: 204, then GET and DELETE find nothing. */
	call(&gw, "DELETE", "/v1/users/userId:w-1/watch", READER, NULL, &r);
	ck_assert_int_eq(r.status, 204);
	ck_assert_uint_eq(r.len, 0);
	kt_resp_free(&r);
	get_watch(&gw, "userId:w-1", &r);
	assert_problem(&r, 404, "not-watched");
	kt_resp_free(&r);
	call(&gw, "DELETE", "/v1/users/userId:w-1/watch", READER, NULL, &r);
	assert_problem(&r, 404, "not-watched");
	kt_resp_free(&r);
}
END_TEST

/* A trigger starts an automatic watch that polls on its own, doubling while in review (1 s,
 * then 2 s); once the review ended the watch ends and Crossmint is no longer polled. */
START_TEST(trigger_watch_polls_until_settled)
{
	const char *loc = "userId:w-auto";
	struct kt_resp r;
	long long first, second;
	int n;

	make_user(&gw, loc);
	ck_assert(trigger(&gw, loc));
	get_watch(&gw, loc, &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	ck_assert_str_eq(kt_str(r.json, "kind"), "automatic");
	kt_resp_free(&r);
	first = await_polls(loc, 1);
	second = await_polls(loc, 2);
	/* The interval doubled after the first poll: a lower bound only (late is fine). */
	ck_assert_msg(second - first >= 1800, "polls %lld ms apart", second - first);
	get_watch(&gw, loc, &r); /* while in review, the polls' overall is recorded */
	if (r.status == 200) {
		struct json_object *last;

		ck_assert(json_object_object_get_ex(r.json, "lastObserved", &last) && last != NULL);
	}
	kt_resp_free(&r);
	await_watch_status(loc, 404); /* settled: the automatic watch ended */
	n = polls(loc);
	kt_sleep_ms(5000); /* longer than poll_max_s: a watch still there would poll */
	ck_assert_int_eq(polls(loc), n);
}
END_TEST

/* An explicit watch of a settled user keeps polling, every poll_settled_s (3 s). */
START_TEST(explicit_watch_of_settled_user)
{
	const char *loc = "userId:w-settled";
	struct json_object *last;
	struct kt_resp r;
	long long a, b;

	make_user(&gw, loc);
	ck_assert(trigger(&gw, loc));
	await_watch_status(loc, 404); /* reviewed: the automatic watch ended */
	call(&gw, "PUT", "/v1/users/userId:w-settled/watch?products=regulated-transfer", READER,
	     NULL, &r);
	ck_assert_int_eq(r.status, 200);
	kt_resp_free(&r);
	a = await_polls(loc, polls(loc) + 1);
	b = await_polls(loc, polls(loc) + 1);
	ck_assert_msg(b - a >= 2700, "settled polls %lld ms apart", b - a);
	await_polls(loc, polls(loc) + 1); /* and on */
	get_watch(&gw, loc, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(kt_str(r.json, "kind"), "explicit");
	ck_assert(json_object_object_get_ex(r.json, "lastObserved", &last) && last != NULL);
	ck_assert_str_eq(kt_str(last, "overall"), "verified");
	kt_resp_free(&r);
}
END_TEST

/* max_watches: PUT past it is 503 watch-capacity; a trigger still succeeds, watched:false; a
 * watched user's trigger says watched:true. */
START_TEST(capacity)
{
	struct kt_proc small;
	struct kt_resp r;

	start_gw(&small, "events:\n  watch: {poll_initial_s: 60, max_watches: 1}\n");
	call(&small, "PUT", "/v1/users/userId:w-cap-1/watch", READER, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	kt_resp_free(&r);
	call(&small, "PUT", "/v1/users/userId:w-cap-2/watch", READER, NULL, &r);
	assert_problem(&r, 503, "watch-capacity");
	kt_resp_free(&r);
	make_user(&small, "userId:w-cap-2");
	ck_assert(!trigger(&small, "userId:w-cap-2"));
	make_user(&small, "userId:w-cap-1");
	ck_assert(trigger(&small, "userId:w-cap-1"));
	get_watch(&small, "userId:w-cap-1", &r); /* still explicit */
	ck_assert_str_eq(kt_str(r.json, "kind"), "explicit");
	kt_resp_free(&r);
	get_watch(&small, "userId:w-cap-2", &r);
	assert_problem(&r, 404, "not-watched");
	kt_resp_free(&r);
	ck_assert_int_eq(kt_stop(&small), 0);
}
END_TEST

/* Watches are rows: after a restart on the same store file the watch is there, polls, and
 * counts against max_watches. */
START_TEST(survives_restart)
{
	char store[128], extra[400];
	struct kt_proc g;
	struct kt_resp r;
	int n;

	snprintf(store, sizeof(store), "/tmp/kt-watch-%d.db", (int)getpid());
	snprintf(extra, sizeof(extra),
	         "store:\n  sqlite: {path: \"%s\"}\n"
	         "events:\n  watch: {poll_initial_s: 1, poll_settled_s: 1, max_watches: 1}\n",
	         store);
	start_gw(&g, extra);
	call(&g, "PUT", "/v1/users/userId:w-restart/watch", READER, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	kt_resp_free(&r);
	ck_assert_int_eq(kt_stop(&g), 0);
	n = polls("userId:w-restart");
	start_gw(&g, extra);
	get_watch(&g, "userId:w-restart", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(kt_str(r.json, "kind"), "explicit");
	kt_resp_free(&r);
	await_polls("userId:w-restart", n + 1);
	/* The count was loaded at start: the one place is taken. */
	call(&g, "PUT", "/v1/users/userId:w-restart-2/watch", READER, NULL, &r);
	assert_problem(&r, 503, "watch-capacity");
	kt_resp_free(&r);
	ck_assert_int_eq(kt_stop(&g), 0);
	kt_unlink_db(store);
}
END_TEST

/* store.driver none: the watch routes answer 503 store-disabled; a trigger says watched:false. */
START_TEST(store_disabled)
{
	struct kt_proc none;
	struct kt_resp r;

	start_gw(&none, "store: {driver: none}\n");
	call(&none, "PUT", "/v1/users/userId:w-none/watch", READER, NULL, &r);
	assert_problem(&r, 503, "store-disabled");
	kt_resp_free(&r);
	make_user(&none, "userId:w-none");
	ck_assert(!trigger(&none, "userId:w-none"));
	ck_assert_int_eq(kt_stop(&none), 0);
}
END_TEST

/* kycgate_watches counts watches by kind. */
START_TEST(metrics)
{
	struct kt_resp r;

	call(&gw, "PUT", "/v1/users/userId:w-m/watch", READER, NULL, &r);
	kt_resp_free(&r);
	kt_http(gw.port, "GET", "/metrics", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert(kt_sample(r.body, "kycgate_watches{kind=\"explicit\"}") >= 1);
	ck_assert(kt_sample(r.body, "kycgate_watch_lag_seconds") >= 0);
	kt_resp_free(&r);
}
END_TEST

/* A trigger whose answer shows the user settled already (over every product: documents are
 * missing, nextAction is not wait) ends its automatic watch at once. */
START_TEST(settled_trigger_ends_at_once)
{
	struct kt_resp r;

	make_user(&gw, "userId:w-done");
	call(&gw, "POST", "/v1/users/userId:w-done/verification", WRITER, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_ne(kt_str(r.json, "nextAction"), "wait");
	kt_resp_free(&r);
	await_watch_status("userId:w-done", 404);
}
END_TEST

/* Any read of a watched user is an observation (events.c calls kg_watch_observed): a caller's
 * GET updates the watch's last observed overall and pushes its next poll back (needs the events
 * branch's observations). */
START_TEST(caller_read_is_an_observation)
{
	struct kt_proc slow;
	struct json_object *last;
	struct kt_resp r, v;
	char before[32];

	start_gw(&slow, "events:\n  watch: {poll_initial_s: 600}\n");
	make_user(&slow, "userId:w-obs");
	call(&slow, "PUT", "/v1/users/userId:w-obs/watch", READER, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	snprintf(before, sizeof(before), "%s", kt_str(r.json, "nextPollAt"));
	kt_resp_free(&r);
	call(&slow, "GET", "/v1/users/userId:w-obs/verification", READER, NULL, &v);
	ck_assert_int_eq(v.status, 200);
	for (long long end = kt_now_ms() + DEADLINE_MS;; kt_sleep_ms(100)) {
		get_watch(&slow, "userId:w-obs", &r);
		ck_assert_int_eq(r.status, 200);
		if (json_object_object_get_ex(r.json, "lastObserved", &last) && last != NULL)
			break;
		ck_assert_msg(kt_now_ms() < end, "no observation: %s", r.body);
		kt_resp_free(&r);
	}
	ck_assert_str_eq(kt_str(last, "overall"), kt_str(v.json, "overall"));
	/* Settled (nextAction is not wait): the next poll moved to poll_settled_s (1 h) away. */
	ck_assert_msg(strcmp(kt_str(r.json, "nextPollAt"), before) > 0, "%s -> %s", before,
	              kt_str(r.json, "nextPollAt"));
	ck_assert_int_eq(polls("userId:w-obs"), 0);
	kt_resp_free(&r);
	kt_resp_free(&v);
	ck_assert_int_eq(kt_stop(&slow), 0);
}
END_TEST

/* Seconds from a watch view's since to its nextPollAt. */
static long first_poll_s(struct json_object *view)
{
	struct tm a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ck_assert_ptr_nonnull(strptime(kt_str(view, "since"), "%Y-%m-%dT%H:%M:%SZ", &a));
	ck_assert_ptr_nonnull(strptime(kt_str(view, "nextPollAt"), "%Y-%m-%dT%H:%M:%SZ", &b));
	return (long)(timegm(&b) - timegm(&a));
}

/* A reload applies events.watch: a watch made after it polls first after the new
 * poll_initial_s. */
START_TEST(reload_applies)
{
	struct kt_proc g;
	struct kt_resp r;
	char *conf, *at, loc[64], t[96];
	size_t len;
	FILE *f;
	int i;

	start_gw(&g, "events:\n  watch: {poll_initial_s: 600}\n");
	call(&g, "PUT", "/v1/users/userId:w-rl-0/watch", READER, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_ge(first_poll_s(r.json), 599);
	kt_resp_free(&r);
	conf = kt_slurp(g.conf_path, &len);
	at = strstr(conf, "poll_initial_s: 600");
	ck_assert_ptr_nonnull(at);
	memcpy(at, "poll_initial_s: 7  ", 19);
	f = fopen(g.conf_path, "w");
	ck_assert_ptr_nonnull(f);
	fwrite(conf, 1, len, f);
	fclose(f);
	free(conf);
	kill(g.pid, SIGHUP);
	for (i = 1;; i++) { /* the reload is asynchronous: each try watches another user */
		snprintf(loc, sizeof(loc), "userId:w-rl-%d", i);
		snprintf(t, sizeof(t), "/v1/users/%s/watch", loc);
		call(&g, "PUT", t, READER, NULL, &r);
		ck_assert_int_eq(r.status, 200);
		if (first_poll_s(r.json) <= 8)
			break;
		ck_assert_msg(i < 100, "the reload did not apply");
		kt_resp_free(&r);
		kt_sleep_ms(100);
	}
	kt_resp_free(&r);
	ck_assert_int_eq(kt_stop(&g), 0);
}
END_TEST

/* A store that is down (a read-only file): the watch routes answer 503 store-unavailable, a
 * trigger still succeeds with watched:false. */
START_TEST(store_down)
{
	char dir[] = "/tmp/kg-watch-XXXXXX", path[128], extra[256], cmd[512], ra[16];
	struct kt_proc g;
	struct kt_resp r;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/kycgate.db", dir);
	snprintf(extra, sizeof(extra), "store:\n  sqlite: {path: \"%s\"}\n", path);
	start_gw(&g, extra);
	ck_assert_int_eq(kt_stop(&g), 0); /* the file exists, closed */
	chmod(path, 0400);
	snprintf(cmd, sizeof(cmd), "chattr +i '%s' 2>/dev/null", path);
	if (geteuid() == 0 && system(cmd) != 0) {
		fprintf(stderr, "store_down: cannot make a file read-only as root here\n");
		goto out;
	}
	start_gw(&g, extra);
	call(&g, "PUT", "/v1/users/userId:w-down/watch", READER, NULL, &r);
	assert_problem(&r, 503, "store-unavailable");
	ck_assert_msg(kt_header(&r, "Retry-After", ra, sizeof(ra)), "no Retry-After");
	ck_assert_str_eq(ra, "5");
	kt_resp_free(&r);
	get_watch(&g, "userId:w-down", &r);
	assert_problem(&r, 503, "store-unavailable");
	ck_assert(kt_header(&r, "Retry-After", ra, sizeof(ra)));
	kt_resp_free(&r);
	make_user(&g, "userId:w-down");
	ck_assert(!trigger(&g, "userId:w-down"));
	ck_assert_int_eq(kt_stop(&g), 0);
out:
	snprintf(cmd, sizeof(cmd), "chattr -i '%s' 2>/dev/null; rm -rf '%s'", path, dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* The metric's value on p's /metrics page (-1 when absent). */
static double metric(const struct kt_proc *p, const char *sample)
{
	struct kt_resp r;
	double v;

	kt_http(p->port, "GET", "/metrics", NULL, NULL, 0, &r);
	v = kt_sample(r.body, sample);
	kt_resp_free(&r);
	return v;
}

/* With the read budget short for polls (2 a minute, the start-up self-check took one, and a poll
 * may only take one while more than 1 - 0.01 of the bucket remains), a due poll waits instead of
 * being refused or dropped, and kycgate_watch_lag_seconds shows it late. */
START_TEST(short_budget_polls_late)
{
	long long end = kt_now_ms() + DEADLINE_MS;
	struct kt_proc g;
	struct kt_resp r;

	{
		char yaml[sizeof(gw_yaml) + 512], *at;

		snprintf(yaml, sizeof(yaml), gw_yaml,
		         "events:\n  watch: {poll_initial_s: 1, budget_share: 0.01}\n");
		at = strstr(yaml, "reads_per_minute: 0");
		ck_assert_ptr_nonnull(at);
		memcpy(at, "reads_per_minute: 2", 19);
		kt_start_gateway(&g, yaml, sim.port, NULL);
	}
	call(&g, "PUT", "/v1/users/userId:w-late/watch", READER, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	kt_resp_free(&r);
	while (metric(&g, "kycgate_watch_lag_seconds") < 2.0) {
		ck_assert_msg(kt_now_ms() < end, "lag %.3f",
		              metric(&g, "kycgate_watch_lag_seconds"));
		kt_sleep_ms(100);
	}
	ck_assert_int_eq(polls("userId:w-late"), 0); /* waiting in the engine, not sent */
	get_watch(&g, "userId:w-late", &r);          /* and not dropped */
	ck_assert_int_eq(r.status, 200);
	kt_resp_free(&r);
	ck_assert_int_eq(kt_stop(&g), 0);
}
END_TEST

/* A poll that fails (here Crossmint's 404: the user is unknown) is retried, never dropped. */
START_TEST(failed_poll_retried)
{
	struct kt_resp r;

	call(&gw, "PUT", "/v1/users/userId:w-unknown/watch", READER, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	kt_resp_free(&r);
	await_polls("userId:w-unknown", 3);
	get_watch(&gw, "userId:w-unknown", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert(json_object_object_get(r.json, "lastObserved") ==
	          NULL); /* a 404 observes nothing */
	kt_resp_free(&r);
}
END_TEST

#define OLD_WATCHES 300 /* more than one purge batch (WATCH_PURGE_BATCH) */

/* Watches older than events.watch.max_age_days (90) end, of either kind, however many expired
 * at once (the purge goes in batches, so that it never holds the store thread long); a young
 * one stays. */
START_TEST(max_age_purged)
{
	char store[128], extra[256], sql[512];
	long long end;
	struct kt_proc g;
	struct kt_resp r;
	sqlite3 *db = NULL;

	snprintf(store, sizeof(store), "/tmp/kt-watch-age-%d.db", (int)getpid());
	kt_unlink_db(store);
	snprintf(extra, sizeof(extra), "store:\n  sqlite: {path: \"%s\"}\n", store);
	start_gw(&g, extra);
	call(&g, "PUT", "/v1/users/userId:w-young/watch", READER, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	kt_resp_free(&r);
	ck_assert_int_eq(kt_stop(&g), 0);
	/* Watched for 100 days, next poll tomorrow: only the purge ends them. */
	snprintf(sql, sizeof(sql),
	         "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)"
	         " INSERT INTO watches (user_locator, kind, since_ms, next_poll_ms, interval_ms)"
	         " SELECT 'userId:w-old-' || i, CASE WHEN i %% 2 THEN 'explicit' ELSE 'automatic'"
	         " END, %lld, %lld, 3600000 FROM n",
	         OLD_WATCHES, (long long)time(NULL) * 1000 - 100 * 86400000ll,
	         (long long)time(NULL) * 1000 + 86400000ll);
	ck_assert_int_eq(sqlite3_open(store, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	start_gw(&g, extra);
	end = kt_now_ms() + DEADLINE_MS;
	while ((metric(&g, "kycgate_watches{kind=\"explicit\"}") != 1 ||
	        metric(&g, "kycgate_watches{kind=\"automatic\"}") != 0) &&
	       kt_now_ms() < end)
		kt_sleep_ms(100);
	ck_assert(metric(&g, "kycgate_watches{kind=\"explicit\"}") == 1);
	ck_assert(metric(&g, "kycgate_watches{kind=\"automatic\"}") == 0);
	get_watch(&g, "userId:w-young", &r);
	ck_assert_int_eq(r.status, 200);
	kt_resp_free(&r);
	get_watch(&g, "userId:w-old-1", &r);
	assert_problem(&r, 404, "not-watched");
	kt_resp_free(&r);
	get_watch(&g, "userId:w-old-300", &r);
	assert_problem(&r, 404, "not-watched");
	kt_resp_free(&r);
	ck_assert_int_eq(kt_stop(&g), 0);
	kt_unlink_db(store);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("it_watch");
	TCase *tc = tcase_create("watch");
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, explicit_watch_routes);
	tcase_add_test(tc, trigger_watch_polls_until_settled);
	tcase_add_test(tc, explicit_watch_of_settled_user);
	tcase_add_test(tc, capacity);
	tcase_add_test(tc, survives_restart);
	tcase_add_test(tc, store_disabled);
	tcase_add_test(tc, metrics);
	tcase_add_test(tc, settled_trigger_ends_at_once);
	tcase_add_test(tc, caller_read_is_an_observation);
	tcase_add_test(tc, reload_applies);
	tcase_add_test(tc, store_down);
	tcase_add_test(tc, short_budget_polls_late);
	tcase_add_test(tc, failed_poll_retried);
	tcase_add_test(tc, max_age_purged);
	suite_add_tcase(s, tc);
	failed = kt_run_suite(s);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
