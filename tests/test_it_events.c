/* Integration (issue 10 items 3, 4, 7, 8): observations and events through the real binary. A
 * user's first observation records an event; a review that completes on its own records one with
 * previous; a read that changes nothing records none; ids increase in commit order. */
#include <check.h>
#include <sqlite3.h>
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
	static const char *const args[] = {"--api-key", KEY, "--review-delay-ms", "1500", NULL};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(db_path, sizeof(db_path), "/tmp/kt-events-%d.db", (int)getpid());
	unlink_db();
	kt_start_simulator(&sim, args);
	start_gw();
}

static void teardown(void)
{
	ck_assert_int_eq(kt_stop(&gw), 0); /* 0 also means no leak under the sanitizers */
	ck_assert_int_eq(kt_stop(&sim), 0);
	unlink_db();
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
	struct kt_resp r;

	req(method, target, auth, ctype, body, len, &r);
	ck_assert_msg(r.status == status, "%s %s: %ld %s", method, target, r.status, r.body);
	kt_resp_free(&r);
}

static long long strtoll10(const char *s)
{
	return s ? strtoll(s, NULL, 10) : -1;
}

static const char jpeg[] = "\xff\xd8\xff\xe0"
                           "0123456789abcdef";

/* A user of country cc (DE or AE) with everything a review needs. */
static void complete_user(const char *loc, const char *cc)
{
	static const char consent[] =
	    "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-06-01T12:00:00Z\"}";
	char body[2048], t[256];

	snprintf(body, sizeof(body),
	         "{\"userDetails\":{\"firstName\":\"Alice\",\"lastName\":\"Martin\","
	         "\"dateOfBirth\":\"1990-01-15\",\"countryOfResidence\":\"%s\"},"
	         "\"kycData\":{\"nationality\":\"%s\",\"addressOfResidence\":{\"line1\":\"Main "
	         "1\",\"city\":\"Town\",\"postalCode\":\"10115\"},\"email\":\"a@example.com\","
	         "\"identityDocument\":{\"type\":\"passport\",\"number\":\"C01X00T47\","
	         "\"issuingCountryCode\":\"%s\"}},"
	         "\"dueDiligence\":{\"employmentStatus\":\"full-time\",\"sourceOfFunds\":"
	         "\"salary\",\"industry\":\"software\"},"
	         "\"verificationHistory\":{\"idVerificationTimestamp\":\"2026-01-15T10:30:00Z\","
	         "\"livenessVerificationTimestamp\":\"2026-01-15T10:32:00Z\"}}",
	         cc, cc, cc);
	snprintf(t, sizeof(t), "/v1/users/%s", loc);
	expect("PUT", t, WRITER, JSON_CT, body, strlen(body), 201);
	snprintf(t, sizeof(t), "/v1/users/%s/consent", loc);
	expect("PUT", t, WRITER, JSON_CT, consent, strlen(consent), 200);
	snprintf(t, sizeof(t), "/v1/users/%s/documents/id-passport", loc);
	expect("PUT", t, WRITER, "Content-Type: image/jpeg", jpeg, sizeof(jpeg) - 1, 201);
	snprintf(t, sizeof(t), "/v1/users/%s/documents/selfie-front", loc);
	expect("PUT", t, WRITER, "Content-Type: image/jpeg", jpeg, sizeof(jpeg) - 1, 201);
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

int main(void)
{
	Suite *s = suite_create("it_events");
	TCase *tc = tcase_create("events");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, observations_recorded);
	suite_add_tcase(s, tc);
	return kt_run_suite(s) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
