/* Integration (issue 12 item 5): long-poll waiters count only against their own limits. Three
 * hundred ?wait requests on users in review, on a gateway whose crossmint.max_inflight is 32:
 * none is refused, they hold no max_inflight place while they wait, their users' re-reads are
 * shared, and each gets the verified answer once the review ends. verification.max_waiting
 * refuses one more waiter with its documented problem. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "harness.h"

#define KEY "sk_staging_waiters0123456789ab"
#define BEARER "waiters-token-0123456789abcdef-0123"
#define TOKEN "Authorization: Bearer " BEARER
#define USERS 10
#define PER_USER 30
#define WAITERS (USERS * PER_USER)
#define BATCH 8
#define REVIEW_MS 8000

/* %u: verification.max_waiting. */
static const char yaml_fmt[] =
    "server:\n  listen: \"127.0.0.1:0\"\n  drain_delay_s: 0\n"
    "crossmint:\n  environment: staging\n  base_url: \"http://127.0.0.1:@SIMPORT@\"\n"
    "  api_key: \"" KEY "\"\n  timeout_ms: 3000\n  max_inflight: 32\n"
    "  rate_limit: {writes_per_minute: 0, reads_per_minute: 0}\n"
    "verification:\n  max_wait_s: 30\n  max_waiting_per_client: 1000\n  max_waiting: %u\n"
    "auth:\n  clients:\n    - name: svc\n      token: \"" BEARER "\"\n"
    "      scopes: [users.create, users.read]\n";

static struct kt_proc sim, gw;

static void setup(void)
{
	char review[16];
	const char *args[] = {"--api-key", KEY, "--review-delay-ms", review, NULL};
	struct rlimit rl;

	snprintf(review, sizeof(review), "%d", REVIEW_MS);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	kt_start_simulator(&sim, args);
}

static void teardown(void)
{
	kt_stop(&sim);
	curl_global_cleanup();
}

static void send_json(unsigned port, const char *method, const char *target, const char *body)
{
	const char *const h[] = {TOKEN, "Content-Type: application/json", NULL};
	struct kt_resp r;

	kt_http(port, method, target, h, body, body ? strlen(body) : 0, &r);
	ck_assert_msg(r.status == 200, "%s %s: %ld %s", method, target, r.status, r.body);
	kt_resp_free(&r);
}

/* A user with only userDetails: regulated-transfer goes in review on trigger. */
static void in_review_user(unsigned port, const char *loc)
{
	char t[256];

	snprintf(t, sizeof(t), "/v1/users/%s/consent", loc);
	send_json(port, "PUT", t,
	          "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-06-01T12:00:00Z\"}");
	snprintf(t, sizeof(t), "/v1/users/%s", loc);
	send_json(port, "PUT", t,
	          "{\"userDetails\":{\"firstName\":\"A\",\"lastName\":\"B\","
	          "\"dateOfBirth\":\"1990-01-01\",\"countryOfResidence\":\"BR\"}}");
	snprintf(t, sizeof(t), "/v1/users/%s/verification", loc);
	send_json(port, "POST", t, NULL);
}

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

/* Waits (generously) until sample reads want. */
static void wait_metric(unsigned port, const char *sample, double want)
{
	long long deadline = kt_now_ms() + 20000;
	double v;

	while ((v = metric(port, sample)) != want && kt_now_ms() < deadline)
		kt_sleep_ms(20);
	ck_assert_msg(v == want, "%s is %g, not %g", sample, v, want);
}

/* A ?wait request on its own connection, sent at once and read later. */
static int open_wait(unsigned port, const char *loc)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	char req[512];
	int fd = socket(AF_INET, SOCK_STREAM, 0), n;

	ck_assert_int_ge(fd, 0);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	n = snprintf(
	    req, sizeof(req),
	    "GET /v1/users/%s/verification?wait=30&products=regulated-transfer HTTP/1.1\r\n"
	    "Host: x\r\n" TOKEN "\r\nConnection: close\r\n\r\n",
	    loc);
	ck_assert_int_eq(write(fd, req, (size_t)n), n);
	return fd;
}

/* Reads each connection's whole answer (they close after it); out[i] is new memory. */
static void read_all(int *fds, int n, char **out, size_t *lens)
{
	long long deadline = kt_now_ms() + 60000;
	struct pollfd *p = calloc((size_t)n, sizeof(*p));
	int i, open = n;

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < n; i++) {
		p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
		out[i] = calloc(1, 1);
		lens[i] = 0;
	}
	while (open > 0 && kt_now_ms() < deadline) {
		if (poll(p, (nfds_t)n, 1000) < 0 && errno != EINTR)
			break;
		for (i = 0; i < n; i++) {
			char buf[4096];
			ssize_t got;

			if (p[i].fd < 0 || p[i].revents == 0)
				continue;
			got = read(p[i].fd, buf, sizeof(buf));
			if (got > 0) {
				out[i] = realloc(out[i], lens[i] + (size_t)got + 1);
				ck_assert_ptr_nonnull(out[i]);
				memcpy(out[i] + lens[i], buf, (size_t)got);
				lens[i] += (size_t)got;
				out[i][lens[i]] = '\0';
				continue;
			}
			close(p[i].fd);
			p[i].fd = -1;
			open--;
		}
	}
	ck_assert_msg(open == 0, "%d waiters never answered", open);
	free(p);
}

START_TEST(waiters_hold_no_inflight_place)
{
	static int fds[WAITERS];
	static char *out[WAITERS];
	static size_t lens[WAITERS];
	char yaml[2048], loc[64], target[128];
	int i, u, reads = 0, verified = 0;

	snprintf(yaml, sizeof(yaml), yaml_fmt, 10000u);
	kt_start_gateway(&gw, yaml, sim.port, NULL);
	for (u = 0; u < USERS; u++) {
		snprintf(loc, sizeof(loc), "userId:waiter-%d", u);
		in_review_user(gw.port, loc);
	}
	kt_sim_clear(sim.port);
	/* In batches of 8: a waiter's first read is an ordinary read (it holds a place until it is
	 * answered), so each batch's first reads end before the next batch comes. */
	for (i = 0; i < WAITERS; i++) {
		snprintf(loc, sizeof(loc), "userId:waiter-%d", i % USERS);
		fds[i] = open_wait(gw.port, loc);
		if ((i + 1) % BATCH == 0) {
			wait_metric(gw.port, "kycgate_longpoll_waiting", i + 1);
			wait_metric(gw.port, "kycgate_upstream_inflight", 0);
		}
	}
	/* Three hundred waiting (the last, partial batch too), max_inflight 32: they hold none of
	 * its places. */
	wait_metric(gw.port, "kycgate_longpoll_waiting", WAITERS);
	ck_assert_double_le(metric(gw.port, "kycgate_upstream_inflight"), USERS);
	read_all(fds, WAITERS, out, lens);
	for (i = 0; i < WAITERS; i++) {
		ck_assert_msg(strncmp(out[i], "HTTP/1.1 200", 12) == 0, "waiter %d: %.300s", i,
		              out[i]);
		verified += strstr(out[i], "\"overall\":\"verified\"") != NULL;
		free(out[i]);
	}
	ck_assert_int_eq(verified, WAITERS);
	/* Shared re-reads: a handful per user over the review, not one per waiter and tick. */
	for (u = 0; u < USERS; u++) {
		snprintf(target, sizeof(target),
		         "/2025-06-09/users/userId:waiter-%d/identity-verification", u);
		reads += kt_sim_count(sim.port, "GET", target);
	}
	ck_assert_msg(reads >= USERS && reads <= USERS * 12, "%d upstream reads", reads);
	ck_assert_double_eq(metric(gw.port, "kycgate_longpoll_waiting"), 0);
	ck_assert_int_eq(kt_stop(&gw), 0);
}
END_TEST

START_TEST(global_waiting_cap)
{
	char yaml[2048];
	struct kt_resp r;
	const char *const h[] = {TOKEN, NULL};
	int fds[2];
	char *out[2];
	size_t lens[2];

	snprintf(yaml, sizeof(yaml), yaml_fmt, 2u);
	kt_start_gateway(&gw, yaml, sim.port, NULL);
	in_review_user(gw.port, "userId:capped");
	fds[0] = open_wait(gw.port, "userId:capped");
	fds[1] = open_wait(gw.port, "userId:capped");
	wait_metric(gw.port, "kycgate_longpoll_waiting", 2);
	kt_http(gw.port, "GET", "/v1/users/userId:capped/verification?wait=5", h, NULL, 0, &r);
	ck_assert_msg(r.status == 503, "%ld %s", r.status, r.body);
	ck_assert_str_eq(kt_str(r.json, "type"), "urn:kycgate:problem:unavailable");
	ck_assert_msg(strstr(kt_str(r.json, "detail"), "verification.max_waiting") != NULL, "%s",
	              r.body);
	ck_assert(kt_header(&r, "Retry-After", yaml, sizeof(yaml)));
	kt_resp_free(&r);
	/* Without ?wait the same read is answered at once. */
	kt_http(gw.port, "GET", "/v1/users/userId:capped/verification", h, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	kt_resp_free(&r);
	read_all(fds, 2, out, lens);
	ck_assert_msg(strncmp(out[0], "HTTP/1.1 200", 12) == 0, "%.300s", out[0]);
	ck_assert_msg(strncmp(out[1], "HTTP/1.1 200", 12) == 0, "%.300s", out[1]);
	free(out[0]);
	free(out[1]);
	ck_assert_int_eq(kt_stop(&gw), 0);
}
END_TEST

/* ---- a waiter's record (struct kg_waitrec): its kg_req is freed while it waits ----------- */

/* The upstream reads of loc's status the simulator saw (new array, caller puts it). */
static struct json_object *status_reads(const char *loc)
{
	struct json_object *all = kt_sim_requests(sim.port), *out = json_object_new_array();
	char target[128];
	size_t i;

	snprintf(target, sizeof(target), "/2025-06-09/users/%s/identity-verification", loc);
	for (i = 0; all != NULL && i < json_object_array_length(all); i++) {
		struct json_object *o = json_object_array_get_idx(all, i);

		if (strcmp(kt_str(o, "method"), "GET") == 0 &&
		    strcmp(kt_str(o, "target"), target) == 0)
			json_object_array_add(out, json_object_get(o));
	}
	json_object_put(all);
	return out;
}

/* A waiter alone on its user: the re-reads it starts while it waits as a record carry its
 * request id (the caller's, borrowed from the head, or the one made up, copied into the
 * record), traceparent and tracestate, and its answer its request id. */
static void ids_across_wait(const char *loc, const char *caller_id)
{
	static const char tp[] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
	char target[160], xid[80], idh[100], id[80];
	const char *h[] = {TOKEN,
	                   "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
	                   "tracestate: rec=1", caller_id ? idh : NULL, NULL};
	struct json_object *reads;
	struct kt_resp r;
	size_t i, n = 0;

	snprintf(idh, sizeof(idh), "X-Request-Id: %s", caller_id ? caller_id : "");
	in_review_user(gw.port, loc);
	kt_sim_clear(sim.port);
	snprintf(target, sizeof(target),
	         "/v1/users/%s/verification?wait=4&products=regulated-transfer", loc);
	kt_http(gw.port, "GET", target, h, NULL, 0, &r);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	ck_assert_ptr_nonnull(strstr(r.body, "\"in-review\""));
	ck_assert(kt_header(&r, "X-Request-Id", xid, sizeof(xid)));
	if (caller_id != NULL)
		ck_assert_str_eq(xid, caller_id);
	else
		ck_assert_int_eq(strlen(xid), 36);
	kt_resp_free(&r);
	/* The user's watch polls it too, with ids of its own: only this caller's are looked at. */
	reads = status_reads(loc);
	for (i = 0; i < json_object_array_length(reads); i++) {
		struct json_object *o = json_object_array_get_idx(reads, i);

		if (strcmp(kt_str(o, "traceparent") ? kt_str(o, "traceparent") : "", tp) != 0)
			continue;
		snprintf(id, sizeof(id), "%s", kt_str(o, "requestId"));
		ck_assert_str_eq(id, xid);
		ck_assert_str_eq(kt_str(o, "tracestate"), "rec=1");
		n++;
	}
	ck_assert_msg(n >= 2, "%s: %zu reads with the caller's ids: no re-read while waiting", loc,
	              n);
	json_object_put(reads);
}

START_TEST(waiter_record_keeps_ids)
{
	char yaml[2048];

	snprintf(yaml, sizeof(yaml), yaml_fmt, 10000u);
	kt_start_gateway(&gw, yaml, sim.port, NULL);
	ids_across_wait("userId:rec-ids-1", "rec-caller-id-1");
	ids_across_wait("userId:rec-ids-2", NULL);
	ck_assert_int_eq(kt_stop(&gw), 0);
}
END_TEST

/* A trigger with ?wait and an Idempotency-Key waits as a record too: its answer at the deadline
 * still says "watched" (asked for before the wait), is kept for the key, and replayed. */
START_TEST(waiter_record_trigger_with_key)
{
	const char *const h[] = {TOKEN, "Idempotency-Key: rec-trigger-key-1", NULL};
	const char *target = "/v1/users/userId:rec-trigger/verification?wait=2"
	                     "&products=regulated-transfer";
	char yaml[2048], v[16];
	struct kt_resp a, b;

	snprintf(yaml, sizeof(yaml), yaml_fmt, 10000u);
	kt_start_gateway(&gw, yaml, sim.port, NULL);
	send_json(gw.port, "PUT", "/v1/users/userId:rec-trigger/consent",
	          "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-06-01T12:00:00Z\"}");
	send_json(gw.port, "PUT", "/v1/users/userId:rec-trigger",
	          "{\"userDetails\":{\"firstName\":\"A\",\"lastName\":\"B\","
	          "\"dateOfBirth\":\"1990-01-01\",\"countryOfResidence\":\"BR\"}}");
	kt_sim_clear(sim.port);
	kt_http(gw.port, "POST", target, h, NULL, 0, &a);
	ck_assert_msg(a.status == 200, "%ld %s", a.status, a.body);
	ck_assert_ptr_nonnull(strstr(a.body, "\"in-review\""));
	ck_assert_msg(strstr(a.body, "\"watched\":") != NULL, "no watched: %s", a.body);
	ck_assert_msg(kt_sim_count(sim.port, "GET",
	                           "/2025-06-09/users/userId:rec-trigger/identity-verification") >=
	                  1,
	              "the trigger did not wait");
	kt_http(gw.port, "POST", target, h, NULL, 0, &b);
	ck_assert_msg(b.status == 200, "%ld %s", b.status, b.body);
	ck_assert(kt_header(&b, "Idempotent-Replayed", v, sizeof(v)));
	ck_assert_str_eq(v, "true");
	ck_assert_str_eq(b.body, a.body);
	kt_resp_free(&a);
	kt_resp_free(&b);
	ck_assert_int_eq(kt_stop(&gw), 0);
}
END_TEST

/* Waiters whose callers hang up are ended by their users' gone checks: their records end on the
 * stack or as requests, and every count comes back (ASan: no leak, no use after free). */
START_TEST(waiter_record_client_gone)
{
	char yaml[2048];
	int fds[6], i;

	snprintf(yaml, sizeof(yaml), yaml_fmt, 10000u);
	kt_start_gateway(&gw, yaml, sim.port, NULL);
	in_review_user(gw.port, "userId:rec-gone");
	for (i = 0; i < 6; i++)
		fds[i] = open_wait(gw.port, "userId:rec-gone");
	wait_metric(gw.port, "kycgate_longpoll_waiting", 6);
	for (i = 0; i < 6; i++)
		close(fds[i]);
	wait_metric(gw.port, "kycgate_longpoll_waiting", 0);
	wait_metric(gw.port, "kycgate_inflight_requests", 1); /* the metrics request itself */
	ck_assert_int_eq(kt_stop(&gw), 0);
}
END_TEST

/* A reload while waiters wait, which renames their client and lowers the limits: each record
 * holds the config it came in under (its client's name among it), is answered at its deadline,
 * and gives its places back once, to the name it took them under; new waiters then fit the new
 * limits exactly. */
START_TEST(waiter_record_reload)
{
	static const char renamed[] =
	    "server:\n  listen: \"127.0.0.1:0\"\n  drain_delay_s: 0\n"
	    "crossmint:\n  environment: staging\n  base_url: \"http://127.0.0.1:%u\"\n"
	    "  api_key: \"" KEY "\"\n  timeout_ms: 3000\n  max_inflight: 32\n"
	    "  rate_limit: {writes_per_minute: 0, reads_per_minute: 0}\n"
	    "verification:\n  max_wait_s: 3\n  max_waiting_per_client: 3\n  max_waiting: 3\n"
	    "auth:\n  clients:\n    - name: svc-renamed\n      token: \"" BEARER "\"\n"
	    "      scopes: [users.create, users.read]\n";
	char yaml[2048], *out[3], *log;
	size_t lens[3];
	int fds[3], i;
	FILE *f;

	snprintf(yaml, sizeof(yaml), yaml_fmt, 3u);
	kt_start_gateway(&gw, yaml, sim.port, NULL);
	in_review_user(gw.port, "userId:rec-reload");
	for (i = 0; i < 3; i++)
		fds[i] = open_wait(gw.port, "userId:rec-reload");
	wait_metric(gw.port, "kycgate_longpoll_waiting", 3);
	f = fopen(gw.conf_path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, renamed, sim.port);
	fclose(f);
	kill(gw.pid, SIGHUP);
	log = kt_log_wait(&gw, "\"event\":\"config-reloaded\"", 5000);
	ck_assert_msg(strstr(log, "\"event\":\"config-reloaded\"") != NULL, "no reload: %s", log);
	free(log);
	/* They came in with ?wait=30 under max_wait_s 30: still waiting, on the old config. */
	ck_assert_double_eq(metric(gw.port, "kycgate_longpoll_waiting"), 3);
	/* They end when their user settles at the end of the review. */
	read_all(fds, 3, out, lens);
	for (i = 0; i < 3; i++) {
		ck_assert_msg(strncmp(out[i], "HTTP/1.1 200", 12) == 0, "waiter %d: %.300s", i,
		              out[i]);
		free(out[i]);
	}
	wait_metric(gw.port, "kycgate_longpoll_waiting", 0);
	/* The new limits, whole: three new waiters fit, a fourth does not. */
	in_review_user(gw.port, "userId:rec-reload-2");
	for (i = 0; i < 3; i++)
		fds[i] = open_wait(gw.port, "userId:rec-reload-2");
	wait_metric(gw.port, "kycgate_longpoll_waiting", 3);
	{
		const char *const h[] = {TOKEN, NULL};
		struct kt_resp r;

		kt_http(gw.port, "GET", "/v1/users/userId:rec-reload-2/verification?wait=2", h,
		        NULL, 0, &r);
		ck_assert_msg(r.status == 503, "%ld %s", r.status, r.body);
		kt_resp_free(&r);
	}
	/* A stop while they wait: each answers its latest state. */
	ck_assert_int_eq(kt_stop(&gw), 0);
	read_all(fds, 3, out, lens);
	for (i = 0; i < 3; i++) {
		ck_assert_msg(strncmp(out[i], "HTTP/1.1 200", 12) == 0, "waiter %d: %.300s", i,
		              out[i]);
		ck_assert_ptr_nonnull(strstr(out[i], "\"in-review\""));
		free(out[i]);
	}
}
END_TEST

/* How many times needle occurs in s. */
static int count_of(const char *s, const char *needle)
{
	int n = 0;

	for (; (s = strstr(s, needle)) != NULL; s += strlen(needle))
		n++;
	return n;
}

/* Reads n waiters' answers and checks each is its latest state: 200 and still in review. */
static void expect_latest(int *fds, int n)
{
	char *out[8];
	size_t lens[8];
	int i;

	ck_assert_int_le(n, 8);
	read_all(fds, n, out, lens);
	for (i = 0; i < n; i++) {
		const char *body = strstr(out[i], "\r\n\r\n");

		ck_assert_msg(strncmp(out[i], "HTTP/1.1 200", 12) == 0 && body != NULL &&
		                  strstr(body, "\"overall\":\"in-review\"") != NULL,
		              "waiter %d: %.60s ... %.400s", i, out[i], body ? body : "");
		free(out[i]);
	}
}

#define STATUS_READS "kycgate_upstream_requests_total{operation=\"verification.get\",code=\"200\"}"

/* The good status reads so far (none yet: the sample is absent). */
static double status_reads_ok(unsigned port)
{
	double v = metric(port, STATUS_READS);

	return v < 0 ? 0 : v;
}

/* Waits (generously) until more than n good status reads followed the count from: n waiters'
 * first reads are at most n, so one more is a re-read, which only parked waiters ask for. */
static void wait_reread(unsigned port, double from, int n)
{
	long long deadline = kt_now_ms() + 20000;

	while (status_reads_ok(port) <= from + n && kt_now_ms() < deadline)
		kt_sleep_ms(20);
	ck_assert_msg(status_reads_ok(port) > from + n, "no re-read");
}

/* A stop answers each waiter its latest state (design §8) without an upstream call: no
 * upstream-failed line, no upstream error per waiter (a stop with 10k waiters logged 10k). */
START_TEST(waiter_stop_is_no_upstream_failure)
{
	const char *args[] = {"--api-key", KEY, "--review-delay-ms", "60000", NULL};
	struct kt_proc slow;
	char yaml[2048], *log;
	double reads;
	int fds[4], i;

	/* Its own simulator, whose review outlasts the wait for a re-read however slow the build.
	 */
	kt_start_simulator(&slow, args);
	snprintf(yaml, sizeof(yaml), yaml_fmt, 10000u);
	kt_start_gateway(&gw, yaml, slow.port, NULL);
	in_review_user(gw.port, "userId:stop-1");
	reads = status_reads_ok(gw.port);
	for (i = 0; i < 4; i++)
		fds[i] = open_wait(gw.port, "userId:stop-1");
	wait_metric(gw.port, "kycgate_longpoll_waiting", 4);
	/* Parked, not still in their first read (which a stop lets finish and answer). */
	wait_reread(gw.port, reads, 4);
	kill(gw.pid, SIGTERM);
	expect_latest(fds, 4);
	log = kt_log_wait(&gw, "\"event\":\"stopped\"", 10000);
	ck_assert_msg(strstr(log, "\"event\":\"stopped\"") != NULL, "not stopped: %.1500s", log);
	ck_assert_msg(strstr(log, "upstream-failed") == NULL,
	              "a stop logged as failed calls: %.1500s", log);
	free(log);
	ck_assert_int_eq(kt_stop(&gw), 0);
	ck_assert_int_eq(kt_stop(&slow), 0);
}
END_TEST

/* When Crossmint cannot be reached, a user's next re-read fails and answers each of its waiters
 * its latest state (200, in review) before its review ends and before its deadline (README
 * "?wait=N"): the caller polls again, and meets the failure itself. The failed re-read says so
 * once per user, not per waiter (bench/waiters.py reads these when a run's waiters were all
 * answered in review). */
START_TEST(waiter_failed_reread_answers_latest)
{
	const char *args[] = {"--api-key", KEY, "--review-delay-ms", "60000", NULL};
	struct kt_proc down;
	char yaml[2048], *log;
	double reads;
	int fds[6], i;

	kt_start_simulator(&down, args);
	snprintf(yaml, sizeof(yaml), yaml_fmt, 10000u);
	kt_start_gateway(&gw, yaml, down.port, NULL);
	in_review_user(gw.port, "userId:down-1");
	in_review_user(gw.port, "userId:down-2");
	reads = status_reads_ok(gw.port);
	for (i = 0; i < 6; i++)
		fds[i] = open_wait(gw.port, i % 2 ? "userId:down-1" : "userId:down-2");
	wait_metric(gw.port, "kycgate_longpoll_waiting", 6);
	wait_reread(gw.port, reads, 6);
	ck_assert_int_eq(kt_stop(&down), 0);
	expect_latest(fds, 6);
	ck_assert_double_ge(metric(gw.port, "kycgate_upstream_errors_total{reason=\"connect\"}") +
	                        metric(gw.port, "kycgate_upstream_errors_total{reason=\"reset\"}"),
	                    1);
	log = kt_log_wait(&gw, "\"event\":\"upstream-failed\"", 5000);
	ck_assert_msg(count_of(log, "\"event\":\"upstream-failed\"") >= 1 &&
	                  count_of(log, "\"event\":\"upstream-failed\"") <= 2,
	              "one line per failed re-read (two users): %.1500s", log);
	free(log);
	ck_assert_int_eq(kt_stop(&gw), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("it_waiters");
	TCase *tc = tcase_create("waiters");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, waiters_hold_no_inflight_place);
	tcase_add_test(tc, global_waiting_cap);
	tcase_add_test(tc, waiter_record_keeps_ids);
	tcase_add_test(tc, waiter_record_trigger_with_key);
	tcase_add_test(tc, waiter_record_client_gone);
	tcase_add_test(tc, waiter_record_reload);
	tcase_add_test(tc, waiter_stop_is_no_upstream_failure);
	tcase_add_test(tc, waiter_failed_reread_answers_latest);
	suite_add_tcase(s, tc);
	return kt_run_suite(s);
}
