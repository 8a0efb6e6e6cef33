/* Integration: status reads through the real gateway and simulator — single flight, the short
 * cache, generations raised by writes, failures never cached, ?wait long-poll (shared re-reads,
 * clamping, the per-client cap, a client that leaves), and the upstream read budget. */
#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "harness.h"

#define KEY "sk_staging_status0123456789"
#define TOKEN "Authorization: Bearer status-token-0123456789abcdef-0123"

static const char yaml_fmt[] =
    "server:\n  listen: \"127.0.0.1:0\"\n  drain_delay_s: 0\n"
    "crossmint:\n  environment: staging\n  base_url: \"http://127.0.0.1:@SIMPORT@\"\n"
    "  api_key: \"" KEY "\"\n  timeout_ms: 3000\n"
    "  rate_limit: {writes_per_minute: 0, reads_per_minute: %u}\n"
    "verification:\n  cache_ttl_ms: 1000\n  max_wait_s: %u\n  max_waiting_per_client: %u\n"
    "auth:\n  clients:\n    - name: svc\n      token: \"status-token-0123456789abcdef-0123\"\n"
    "      scopes: [users.create, users.read]\n"
    "log:\n  level: info\n";

static struct kt_proc sim, gw, gw_budget, gw_short, gw_nostore;
static int refused_503;

static void setup(void)
{
	static const char *const args[] = {"--api-key", KEY, "--review-delay-ms", "1500", NULL};
	char yaml[2048];

	curl_global_init(CURL_GLOBAL_DEFAULT);
	kt_start_simulator(&sim, args);
	snprintf(yaml, sizeof(yaml), yaml_fmt, 0u, 2u, 3u);
	kt_start_gateway(&gw, yaml, sim.port, NULL);
	snprintf(yaml, sizeof(yaml), yaml_fmt, 6u, 2u, 3u);
	kt_start_gateway(&gw_budget, yaml, sim.port, NULL);
	snprintf(yaml, sizeof(yaml), yaml_fmt, 0u, 1u, 3u);
	kt_start_gateway(&gw_short, yaml, sim.port, NULL);
	snprintf(yaml, sizeof(yaml), yaml_fmt, 0u, 5u, 3u);
	snprintf(yaml + strlen(yaml), sizeof(yaml) - strlen(yaml), "store: {driver: none}\n");
	kt_start_gateway(&gw_nostore, yaml, sim.port, NULL);
}

static void teardown(void)
{
	kt_stop(&gw_nostore);
	kt_stop(&gw_short);
	kt_stop(&gw_budget);
	kt_stop(&gw);
	kt_stop(&sim);
	curl_global_cleanup();
}

/* Requests the simulator saw with this method and target. */
static int upstream_count(const char *method, const char *target)
{
	return kt_sim_count(sim.port, method, target);
}

static void get(unsigned port, const char *target, struct kt_resp *r)
{
	const char *const h[] = {TOKEN, NULL};

	kt_http(port, "GET", target, h, NULL, 0, r);
}

static void send_json_to(unsigned port, const char *method, const char *target, const char *body,
                         long want)
{
	const char *const h[] = {TOKEN, "Content-Type: application/json", NULL};
	struct kt_resp r;

	kt_http(port, method, target, h, body, body ? strlen(body) : 0, &r);
	ck_assert_msg(r.status == want, "%s %s: %ld %s", method, target, r.status, r.body);
	kt_resp_free(&r);
}

static void send_json(const char *method, const char *target, const char *body, long want)
{
	send_json_to(gw.port, method, target, body, want);
}

/* A consent written through the gateway at port (a write: it raises the user's generation
 * there). */
static void consent_via(unsigned port, const char *loc)
{
	char t[256];

	snprintf(t, sizeof(t), "/v1/users/%s/consent", loc);
	send_json_to(port, "PUT", t,
	             "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-06-01T12:00:00Z\"}", 200);
}

static void consent(const char *loc)
{
	consent_via(gw.port, loc);
}

/* A user with only userDetails: regulated-transfer goes in review on trigger. */
static void in_review_user_via(unsigned port, const char *loc)
{
	char t[256];

	consent_via(port, loc);
	snprintf(t, sizeof(t), "/v1/users/%s", loc);
	send_json_to(port, "PUT", t,
	             "{\"userDetails\":{\"firstName\":\"A\",\"lastName\":\"B\","
	             "\"dateOfBirth\":\"1990-01-01\",\"countryOfResidence\":\"BR\"}}",
	             200); /* the consent created the user */
	snprintf(t, sizeof(t), "/v1/users/%s/verification", loc);
	send_json_to(port, "POST", t, NULL, 200);
}

static void in_review_user(const char *loc)
{
	in_review_user_via(gw.port, loc);
}

/* n concurrent GETs of target; returns how many answered 200 with the same body. */
static int concurrent_gets(unsigned port, const char *target, int n)
{
	struct kt_resp r[64];
	int i, same = 0;

	kt_concurrent_get(port, target, TOKEN, n, r);
	for (i = 0; i < n; i++) {
		same += r[i].status == 200 && strcmp(r[i].body, r[0].body) == 0;
		refused_503 += r[i].status == 503;
	}
	for (i = 0; i < n; i++)
		kt_resp_free(&r[i]);
	return same;
}

/* The request id the simulator received with the one call to target. */
static void upstream_request_id(const char *target, char *out, size_t cap)
{
	struct json_object *reqs = kt_sim_requests(sim.port);
	size_t i;

	out[0] = '\0';
	for (i = 0; i < json_object_array_length(reqs); i++) {
		struct json_object *r = json_object_array_get_idx(reqs, i);

		if (strcmp(kt_str(r, "target"), target) == 0 && kt_str(r, "requestId") != NULL)
			snprintf(out, cap, "%s", kt_str(r, "requestId"));
	}
	json_object_put(reqs);
}

/* The gateway's upstream-flight line naming request id rid (new JSON object), or NULL: waited for
 * up to 5 s, or (!wait) looked for once rid's own access line, logged after it, is out. */
static struct json_object *flight_line(const char *rid, bool wait)
{
	char *log, *line, *nl, want[200];
	struct json_object *found = NULL;

	snprintf(want, sizeof(want), "\"event\":\"request\",\"requestId\":\"%s\"", rid);
	log = kt_log_wait(&gw, want, 5000);
	snprintf(want, sizeof(want), "\"event\":\"upstream-flight\",\"requestId\":\"%s\"", rid);
	if (wait) {
		free(log);
		log = kt_log_wait(&gw, want, 5000);
	}
	line = log;
	for (; line != NULL && *line != '\0' && found == NULL; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (nl != NULL)
			*nl = '\0';
		if (strstr(line, want) != NULL)
			found = json_tokener_parse(line);
	}
	free(log);
	return found;
}

#define FLIGHT_READS 30

/* Concurrent reads of one user make one upstream call; its request id is the first read's, and
 * one log line names the joined reads' ids (KG_LOG_MAX_JOINED of them, the rest counted). */
START_TEST(single_flight)
{
	static const char up[] = "/2025-06-09/users/userId:sim-latency-400/identity-verification";
	struct kt_resp r[FLIGHT_READS];
	struct json_object *line, *joined;
	char ids[FLIGHT_READS][160], rid[160];
	int i, k, named;

	consent("userId:sim-latency-400");
	kt_sim_clear(sim.port);
	kt_concurrent_get(gw.port, "/v1/users/userId:sim-latency-400/verification", TOKEN,
	                  FLIGHT_READS, r);
	for (i = 0; i < FLIGHT_READS; i++) {
		ck_assert_msg(r[i].status == 200 && strcmp(r[i].body, r[0].body) == 0, "%ld",
		              r[i].status);
		ck_assert(kt_header(&r[i], "X-Request-Id", ids[i], sizeof(ids[i])));
	}
	for (i = 0; i < FLIGHT_READS; i++)
		kt_resp_free(&r[i]);
	ck_assert_int_eq(upstream_count("GET", up), 1);
	upstream_request_id(up, rid, sizeof(rid));
	for (k = 0; k < FLIGHT_READS && strcmp(ids[k], rid) != 0; k++)
		;
	ck_assert_msg(k < FLIGHT_READS, "upstream request id %s is no caller's", rid);

	line = flight_line(rid, true);
	ck_assert_msg(line != NULL, "no upstream-flight line for %s", rid);
	ck_assert(json_object_object_get_ex(line, "joined", &joined));
	named = (int)json_object_array_length(joined);
	ck_assert_int_eq(named, FLIGHT_READS - 1 < 16 ? FLIGHT_READS - 1 : 16);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(line, "joined_more")),
	                 FLIGHT_READS - 1 - named);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(line, "upstream_status")), 200);
	for (i = 0; i < named; i++) {
		const char *id = json_object_get_string(json_object_array_get_idx(joined, i));

		for (k = 0; k < FLIGHT_READS && strcmp(ids[k], id) != 0; k++)
			;
		ck_assert_msg(k < FLIGHT_READS && strcmp(id, rid) != 0, "joined id %s", id);
	}
	ck_assert_ptr_null(strstr(json_object_to_json_string(line), "sim-latency"));
	json_object_put(line);
}
END_TEST

/* A read nobody joined writes no flight line (its access line says it all). */
START_TEST(lone_read_no_flight_line)
{
	static const char up[] = "/2025-06-09/users/userId:lone-1/identity-verification";
	struct kt_resp r;
	char rid[160];

	consent("userId:lone-1");
	kt_sim_clear(sim.port);
	get(gw.port, "/v1/users/userId:lone-1/verification", &r);
	ck_assert_int_eq(r.status, 200);
	kt_resp_free(&r);
	upstream_request_id(up, rid, sizeof(rid));
	ck_assert(rid[0] != '\0');
	ck_assert_ptr_null(flight_line(rid, false));
}
END_TEST

START_TEST(cache_generation_and_failures)
{
	static const char up[] = "/2025-06-09/users/userId:cache-1/identity-verification";
	struct kt_resp r;

	consent("userId:cache-1");
	kt_sim_clear(sim.port);
	get(gw.port, "/v1/users/userId:cache-1/verification", &r);
	ck_assert_int_eq(r.status, 200);
	kt_resp_free(&r);
	get(gw.port, "/v1/users/userId:cache-1/verification?products=onramp", &r);
	ck_assert_int_eq(r.status, 200);
	kt_resp_free(&r);
	ck_assert_int_eq(upstream_count("GET", up), 1); /* within cache_ttl_ms */

	consent("userId:cache-1"); /* a write raises the generation */
	get(gw.port, "/v1/users/userId:cache-1/verification", &r);
	kt_resp_free(&r);
	ck_assert_int_eq(upstream_count("GET", up), 2);

	usleep(1100 * 1000); /* past cache_ttl_ms */
	get(gw.port, "/v1/users/userId:cache-1/verification", &r);
	kt_resp_free(&r);
	ck_assert_int_eq(upstream_count("GET", up), 3);

	kt_sim_clear(sim.port);
	get(gw.port, "/v1/users/userId:sim-status-500/verification", &r);
	ck_assert_int_eq(r.status, 502);
	kt_resp_free(&r);
	get(gw.port, "/v1/users/userId:sim-status-500/verification", &r);
	ck_assert_int_eq(r.status, 502);
	kt_resp_free(&r);
	ck_assert_int_eq(
	    upstream_count("GET", "/2025-06-09/users/userId:sim-status-500/identity-verification"),
	    2);
}
END_TEST

/* The status cache's hits so far, by path ("direct" or "engine"). */
static long cache_hits(unsigned port, const char *path)
{
	struct kt_resp r;
	char name[96];
	long n;

	kt_http(port, "GET", "/metrics", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	snprintf(name, sizeof(name), "kycgate_status_cache_hits_total{path=\"%s\"}", path);
	n = (long)kt_sample(r.body, name);
	kt_resp_free(&r);
	return n;
}

/* Six reads of userId:cache-<tag> within cache_ttl_ms after a first one (a view among them),
 * then one after a write, on the gateway at port: the upstream saw two reads, each read after
 * the first was a cache hit and gave the first's answer, the one after the write was not. The
 * hits counted on each path are added to *direct and *engine. */
static void cached_reads(unsigned port, const char *tag, long *direct, long *engine)
{
	struct kt_resp first, r;
	char loc[64], up[160], path[160], view[192];
	long d0, e0, d1, e1;
	int i;

	snprintf(loc, sizeof(loc), "userId:cache-%s", tag);
	snprintf(up, sizeof(up), "/2025-06-09/users/%s/identity-verification", loc);
	snprintf(path, sizeof(path), "/v1/users/%s/verification", loc);
	snprintf(view, sizeof(view), "%s?products=onramp", path);
	consent_via(port, loc);
	kt_sim_clear(sim.port);
	get(port, path, &first);
	ck_assert_int_eq(first.status, 200);
	d0 = cache_hits(port, "direct");
	e0 = cache_hits(port, "engine");
	for (i = 0; i < 5; i++) {
		get(port, path, &r);
		ck_assert_int_eq(r.status, 200);
		ck_assert_str_eq(r.body, first.body);
		kt_resp_free(&r);
	}
	get(port, view, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert(strstr(r.body, "\"onramp\"") != NULL);
	ck_assert(strstr(r.body, "\"offramp\"") == NULL);
	kt_resp_free(&r);
	ck_assert_int_eq(upstream_count("GET", up), 1);
	d1 = cache_hits(port, "direct");
	e1 = cache_hits(port, "engine");
	ck_assert_int_eq((d1 - d0) + (e1 - e0), 6);
	*direct += d1 - d0;
	*engine += e1 - e0;

	consent_via(port, loc); /* a write raises the generation: the next read is no hit */
	get(port, path, &r);
	ck_assert_int_eq(r.status, 200);
	kt_resp_free(&r);
	ck_assert_int_eq(upstream_count("GET", up), 2);
	ck_assert_int_eq(cache_hits(port, "direct") + cache_hits(port, "engine"), d1 + e1);
	kt_resp_free(&first);
}

/* A cached answer is given on the request's own thread when the engine is free (no hand-over),
 * without a store and with one (the remembered country noted by the first read). */
START_TEST(cached_reads_answered_directly)
{
	long direct = 0, engine = 0;

	cached_reads(gw_nostore.port, "direct", &direct, &engine);
	/* With the engine idle between requests nearly all are direct: one goes to the engine only
	 * when it comes while the engine thread runs a round. */
	ck_assert_msg(direct >= 1, "direct %ld engine %ld", direct, engine);
	direct = engine = 0;
	cached_reads(gw.port, "store", &direct, &engine);
	ck_assert_msg(direct >= 1, "direct %ld engine %ld", direct, engine);
}
END_TEST

/* The number of document types the "id" requirement of loc's answer through gw accepts (its
 * remembered country decides: AE the passport only, DE the ID card too). */
static size_t id_types(const char *loc)
{
	struct json_object *reqs, *q;
	struct kt_resp r;
	char t[256];
	size_t i, n = 0;

	snprintf(t, sizeof(t), "/v1/users/%s/verification", loc);
	get(gw.port, t, &r);
	ck_assert_int_eq(r.status, 200);
	reqs = json_object_object_get(r.json, "requirements");
	for (i = 0; i < json_object_array_length(reqs); i++) {
		q = json_object_array_get_idx(reqs, i);
		if (strcmp(kt_str(q, "code"), "id") == 0)
			n = json_object_array_length(
			    json_object_object_get(q, "acceptedDocumentTypes"));
	}
	kt_resp_free(&r);
	return n;
}

static void put_country(const char *loc, const char *cc, long want)
{
	char body[256], t[256];

	snprintf(body, sizeof(body),
	         "{\"userDetails\":{\"firstName\":\"Ann\",\"lastName\":\"Lee\","
	         "\"dateOfBirth\":\"1990-01-15\",\"countryOfResidence\":\"%s\"}}",
	         cc);
	snprintf(t, sizeof(t), "/v1/users/%s?replace=true", loc);
	send_json("PUT", t, body, want);
}

/* A cached read that needs the remembered country (the store is on) takes the one looked up by
 * the read that got the answer, on the request's thread; a PUT of a user's country since (any
 * user's: a count, not a table) sends the next read back through the engine and the store. */
START_TEST(cached_reads_keep_country)
{
	long d0;
	int i;

	put_country("userId:cc-1", "AE", 201);
	consent("userId:cc-1");
	send_json("POST", "/v1/users/userId:cc-1/verification", NULL, 200);
	ck_assert_uint_eq(id_types("userId:cc-1"), 1); /* read upstream, country from the store */
	/* The country is noted, and a hit taken, only when the engine is free at that instant
	 * (never waited for): a read that finds it busy goes the long way and notes again. */
	d0 = cache_hits(gw.port, "direct");
	for (i = 0; i < 20 && cache_hits(gw.port, "direct") == d0; i++)
		ck_assert_uint_eq(id_types("userId:cc-1"), 1);
	ck_assert_int_gt(cache_hits(gw.port, "direct"), d0);

	put_country("userId:cc-2", "DE", 201); /* another user's country: the count moves */
	d0 = cache_hits(gw.port, "direct");
	ck_assert_uint_eq(id_types("userId:cc-1"), 1); /* through the engine and the store */
	ck_assert_int_eq(cache_hits(gw.port, "direct"), d0);

	put_country("userId:cc-1", "DE", 200); /* a write: the answer goes too */
	ck_assert_uint_eq(id_types("userId:cc-1"), 2);
	ck_assert_uint_eq(id_types("userId:cc-1"), 2);
}
END_TEST

/* A ?wait read whose first answer comes from the cache on the request's thread (in review)
 * waits as any other, and is answered verified when the review ends. */
START_TEST(cached_read_then_wait)
{
	static const char path[] =
	    "/v1/users/userId:cache-wait/verification?products=regulated-transfer";
	struct kt_resp r;
	long hits;

	in_review_user("userId:cache-wait"); /* the review ends 1.5 s after the trigger */
	get(gw_nostore.port, path, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strcmp(kt_str(r.json, "overall"), "in-review") == 0, "%s", r.body);
	kt_resp_free(&r);
	hits = cache_hits(gw_nostore.port, "direct") + cache_hits(gw_nostore.port, "engine");
	get(gw_nostore.port,
	    "/v1/users/userId:cache-wait/verification?products=regulated-transfer&wait=5", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strcmp(kt_str(r.json, "overall"), "verified") == 0, "%s", r.body);
	kt_resp_free(&r);
	/* Its first read was the cache's (the answer was younger than cache_ttl_ms). */
	ck_assert_int_ge(cache_hits(gw_nostore.port, "direct") +
	                     cache_hits(gw_nostore.port, "engine"),
	                 hits + 1);
}
END_TEST

static double elapsed_ms(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) * 1000.0 + (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

START_TEST(long_poll)
{
	struct kt_resp r;
	struct timespec t0;
	double ms;

	in_review_user("userId:poll-1");
	get(gw.port, "/v1/users/userId:poll-1/verification?wait=abc", &r);
	ck_assert_int_eq(r.status, 400);
	kt_resp_free(&r);

	/* ?wait=30 is clamped to max_wait_s (1 on this gateway): the review lasts 1.5 s, so the
	 * answer comes after about a second with the latest state, still in review. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	get(gw_short.port,
	    "/v1/users/userId:poll-1/verification?wait=30&products=regulated-transfer", &r);
	ms = elapsed_ms(&t0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strcmp(kt_str(r.json, "overall"), "in-review") == 0, "%s", r.body);
	ck_assert_msg(ms >= 800 && ms < 1450, "%.0f ms", ms);
	kt_resp_free(&r);

	/* Review ends 1.5 s after the trigger: a waiter gets verified before its deadline. */
	in_review_user("userId:poll-2");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	get(gw.port, "/v1/users/userId:poll-2/verification?wait=2&products=regulated-transfer", &r);
	ms = elapsed_ms(&t0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strcmp(kt_str(r.json, "overall"), "verified") == 0, "%s", r.body);
	ck_assert_msg(ms < 2500, "%.0f ms", ms);
	kt_resp_free(&r);

	/* Not in review: answered at once. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	get(gw.port, "/v1/users/userId:poll-2/verification?wait=2&products=regulated-transfer", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert(elapsed_ms(&t0) < 1000);
	kt_resp_free(&r);
}
END_TEST

/* ?wait takes any run of digits and clamps it; anything else is a 400 (issue 7, item 10). */
START_TEST(wait_values)
{
	static const char *const bad[] = {"-1",   "+5",   "",     "1.5", "1e3",
	                                  "%2B5", "5%20", "0x10", NULL};
	char target[256];
	struct kt_resp r;

	in_review_user("userId:poll-6");
	/* Clamped to max_wait_s (1 on gw_short): answered once the wait or the review ends. */
	get(gw_short.port,
	    "/v1/users/userId:poll-6/verification?products=regulated-transfer"
	    "&wait=1234567890123456789012345678901234567890",
	    &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	kt_resp_free(&r);
	get(gw.port, "/v1/users/userId:poll-6/verification?wait=0000000000000&products=onramp", &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	kt_resp_free(&r);
	for (int i = 0; bad[i] != NULL; i++) {
		snprintf(target, sizeof(target), "/v1/users/userId:poll-6/verification?wait=%s",
		         bad[i]);
		get(gw.port, target, &r);
		ck_assert_msg(r.status == 400, "wait=%s: %ld", bad[i], r.status);
		kt_resp_free(&r);
	}
}
END_TEST

START_TEST(waiters_share_rereads)
{
	static const char up[] = "/2025-06-09/users/userId:poll-3/identity-verification";
	int reads;

	in_review_user("userId:poll-3");
	kt_sim_clear(sim.port);
	/* 3 waiters (the per-client cap) for about 1.5 s each. */
	ck_assert_int_eq(
	    concurrent_gets(
	        gw.port, "/v1/users/userId:poll-3/verification?wait=2&products=regulated-transfer",
	        3),
	    3);
	reads = upstream_count("GET", up);
	/* Alone, each waiter would read about 6 times (250, 500, 1000 ms ... ); shared and
	 * cached for cache_ttl_ms they read a few times in all. */
	ck_assert_msg(reads >= 1 && reads <= 4, "%d upstream reads", reads);
}
END_TEST

START_TEST(waiting_cap_per_client)
{
	int ok;

	in_review_user("userId:poll-4");
	/* 5 at once, cap 3: two are refused with 503 at once, three wait. */
	refused_503 = 0;
	ok = concurrent_gets(gw.port, "/v1/users/userId:poll-4/verification?wait=1", 5);
	ck_assert_int_eq(refused_503, 2);
	ck_assert_int_le(ok, 3);
}
END_TEST

START_TEST(client_gone_stops_polling)
{
	static const char up[] = "/2025-06-09/users/userId:poll-5/identity-verification";
	static const char req[] = "GET /v1/users/userId:poll-5/verification?wait=2 HTTP/1.1\r\n"
	                          "Host: x\r\n" TOKEN "\r\n\r\n";
	char *out;
	int before, after;

	in_review_user("userId:poll-5");
	kt_sim_clear(sim.port);
	out = kt_raw(gw.port, req, sizeof(req) - 1, 300); /* reads 300 ms, then hangs up */
	free(out);
	usleep(1200 * 1000);
	before = upstream_count("GET", up);
	usleep(1500 * 1000);
	after = upstream_count("GET", up);
	ck_assert_msg(after == before, "polling went on after the client left: %d -> %d", before,
	              after);
}
END_TEST

static struct kt_proc *shutdown_target;

static void *term_later(void *arg)
{
	usleep(400 * 1000);
	kill(shutdown_target->pid, SIGTERM);
	return NULL;
}

/* Forty long-polls waiting when SIGTERM comes: each is answered with its latest state (200,
 * in review), none twice, none lost, and the process exits 0. */
START_TEST(shutdown_with_many_waiters)
{
	char yaml[2048];
	struct kt_proc g;
	pthread_t t;
	int i, ok;

	snprintf(yaml, sizeof(yaml), yaml_fmt, 0u, 30u, 99u); /* room for all 40 waiters */
	kt_start_gateway(&g, yaml, sim.port, NULL);
	for (i = 0; i < 4; i++) {
		char loc[64];

		snprintf(loc, sizeof(loc), "userId:term-%d", i);
		in_review_user(loc);
	}
	shutdown_target = &g;
	pthread_create(&t, NULL, term_later, NULL);
	ok = concurrent_gets(
	    g.port, "/v1/users/userId:term-1/verification?wait=30&products=regulated-transfer", 40);
	pthread_join(t, NULL);
	ck_assert_int_eq(ok, 40);
	ck_assert_int_eq(kt_stop(&g), 0);
}
END_TEST

/* 6 reads a minute on this gateway. A long-poll re-read takes a token only while more than 20%
 * of the minute's tokens remain, so when the budget runs low the waiter waits and is answered
 * with its latest state at its deadline, never 429; a normal read past the budget gets 429. */
START_TEST(read_budget)
{
	struct kt_resp r;
	struct timespec t0;
	char v[16];
	int i, limited = 0;
	double ms;

	for (i = 0; i < 4; i++) {
		get(gw_budget.port, "/v1/users/userId:budget-nobody", &r);
		ck_assert_int_eq(r.status, 404);
		kt_resp_free(&r);
	}
	in_review_user("userId:budget-wait");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	get(gw_budget.port,
	    "/v1/users/userId:budget-wait/verification?wait=2&products=regulated-transfer", &r);
	ms = elapsed_ms(&t0);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	/* The review ends at 1.5 s, but no re-read could take a token: the first state stands. */
	ck_assert_str_eq(kt_str(r.json, "overall"), "in-review");
	ck_assert_msg(ms >= 1800, "%.0f ms", ms);
	kt_resp_free(&r);
	for (i = 0; i < 3 && limited == 0; i++) {
		get(gw_budget.port, "/v1/users/userId:budget-nobody", &r);
		if (r.status == 429) {
			char *end;

			limited++;
			ck_assert_str_eq(kt_str(r.json, "type"),
			                 "urn:kycgate:problem:rate-limited");
			ck_assert(kt_header(&r, "Retry-After", v, sizeof(v)));
			ck_assert_msg(strtol(v, &end, 10) >= 1 && end != v && *end == '\0',
			              "Retry-After: %s", v);
		} else {
			ck_assert_int_eq(r.status, 404);
		}
		kt_resp_free(&r);
	}
	ck_assert_int_eq(limited, 1);
	/* Counted under the budget's reason, not as the caller's own limit nor Crossmint's. */
	kt_http(gw_budget.port, "GET", "/metrics", NULL, NULL, 0, &r);
	ck_assert_msg(kt_sample(r.body, "kycgate_rate_limited_total{client=\"svc\","
	                                "reason=\"upstream-budget\"}") == 1,
	              "%.2000s", r.body);
	ck_assert(strstr(r.body, "reason=\"crossmint\"") == NULL);
	ck_assert(strstr(r.body, "reason=\"client\"") == NULL);
	kt_resp_free(&r);
}
END_TEST

/* Rewrites gw_nostore's config with cache_ttl_ms ttl and reloads it (SIGHUP), then waits until
 * the reload is counted. */
/* yaml_fmt without a store, with cache_ttl_ms ttl and max_wait_s max_wait, into out. */
static void nostore_yaml(char *out, size_t cap, unsigned ttl, unsigned max_wait)
{
	char yaml[2048], *at;

	snprintf(yaml, sizeof(yaml), yaml_fmt, 0u, max_wait, 3u);
	at = strstr(yaml, "cache_ttl_ms: 1000");
	ck_assert_ptr_nonnull(at);
	snprintf(out, cap, "%.*scache_ttl_ms: %u%sstore: {driver: none}\n", (int)(at - yaml), yaml,
	         ttl, at + strlen("cache_ttl_ms: 1000"));
}

static void reload_nostore(unsigned ttl)
{
	char yaml[2048], *at, fixed[2048];
	struct kt_resp r;
	double before, now;
	FILE *f;
	int i;

	nostore_yaml(fixed, sizeof(fixed), ttl, 5u);
	kt_http(gw_nostore.port, "GET", "/metrics", NULL, NULL, 0, &r);
	before = kt_sample(r.body, "kycgate_config_reloads_total{result=\"success\"}");
	kt_resp_free(&r);
	/* The harness wrote @SIMPORT@ as the simulator's port. */
	snprintf(yaml, sizeof(yaml), "%u", sim.port);
	at = strstr(fixed, "@SIMPORT@");
	ck_assert_ptr_nonnull(at);
	f = fopen(gw_nostore.conf_path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%.*s%s%s", (int)(at - fixed), fixed, yaml, at + strlen("@SIMPORT@"));
	fclose(f);
	kill(gw_nostore.pid, SIGHUP);
	for (i = 0; i < 200; i++) {
		kt_http(gw_nostore.port, "GET", "/metrics", NULL, NULL, 0, &r);
		now = kt_sample(r.body, "kycgate_config_reloads_total{result=\"success\"}");
		kt_resp_free(&r);
		if (now > before)
			return;
		usleep(10 * 1000);
	}
	ck_abort_msg("the reload was never counted");
}

/* A reload that turns the cache off holds at once for the reads answered on the request's
 * thread too: the first read after it goes through the engine, which takes the new settings. */
START_TEST(reload_turns_cache_off)
{
	static const char up[] = "/2025-06-09/users/userId:cache-reload/identity-verification";
	static const char path[] = "/v1/users/userId:cache-reload/verification";
	struct kt_resp r;
	int i;

	consent_via(gw_nostore.port, "userId:cache-reload");
	kt_sim_clear(sim.port);
	get(gw_nostore.port, path, &r);
	kt_resp_free(&r);
	get(gw_nostore.port, path, &r);
	kt_resp_free(&r);
	ck_assert_int_eq(upstream_count("GET", up), 1);
	reload_nostore(0);
	for (i = 0; i < 3; i++) {
		get(gw_nostore.port, path, &r);
		ck_assert_int_eq(r.status, 200);
		kt_resp_free(&r);
	}
	ck_assert_int_eq(upstream_count("GET", up), 4);
	reload_nostore(1000);
}
END_TEST

/* A waiters' tick comes sooner after the re-read before it than cache_ttl_ms when the deadline
 * pulls it forward, or the backoff (2 s at most, plus its quarter and the 50 ms grid: under
 * 2.6 s) is shorter than the cache time. Such a tick must still look upstream: the answer it
 * would reuse is the one the waiters were already given. With a 3 s cache and a 6 s wait on a
 * review that outlasts it: the first read (cached until 3 s, which the ticks before then take),
 * a first re-read between 3 and 4.7 s, and at least one more before the deadline; reusing its
 * own re-read, the engine made that first one only. */
START_TEST(reread_never_reuses_its_own)
{
	static const char *const args[] = {"--api-key", KEY, "--review-delay-ms", "60000", NULL};
	static const char up[] = "/2025-06-09/users/userId:reread-own/identity-verification";
	struct kt_proc sim_long, gw_long;
	struct kt_resp r;
	char yaml[2048];

	kt_start_simulator(&sim_long, args);
	nostore_yaml(yaml, sizeof(yaml), 3000u, 6u);
	kt_start_gateway(&gw_long, yaml, sim_long.port, NULL);
	in_review_user_via(gw_long.port, "userId:reread-own");
	kt_sim_clear(sim_long.port);
	get(gw_long.port,
	    "/v1/users/userId:reread-own/verification?products=regulated-transfer&wait=6", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strcmp(kt_str(r.json, "overall"), "in-review") == 0, "%s", r.body);
	kt_resp_free(&r);
	ck_assert_int_ge(kt_sim_count(sim_long.port, "GET", up), 3);
	kt_stop(&gw_long);
	kt_stop(&sim_long);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("it_status");
	TCase *tc = tcase_create("status");
	int failed;

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, single_flight);
	tcase_add_test(tc, lone_read_no_flight_line);
	tcase_add_test(tc, cache_generation_and_failures);
	tcase_add_test(tc, cached_reads_answered_directly);
	tcase_add_test(tc, cached_read_then_wait);
	tcase_add_test(tc, cached_reads_keep_country);
	tcase_add_test(tc, reload_turns_cache_off);
	tcase_add_test(tc, reread_never_reuses_its_own);
	tcase_add_test(tc, long_poll);
	tcase_add_test(tc, wait_values);
	tcase_add_test(tc, waiters_share_rereads);
	tcase_add_test(tc, waiting_cap_per_client);
	tcase_add_test(tc, client_gone_stops_polling);
	tcase_add_test(tc, read_budget);
	tcase_add_test(tc, shutdown_with_many_waiters);
	suite_add_tcase(s, tc);
	failed = kt_run_suite(s);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
