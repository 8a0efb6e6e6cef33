/* The webhook module's pure parts and its store work (design §10): the Standard Webhooks
 * signature against the specification's published test vector and one computed independently
 * (python3 hmac), the URL shown by GET /v1/webhooks, the secret and URL checks of the config,
 * and, on a real store without an engine, the deliveries each event creates, superseding, and
 * the re-queue of failed deliveries. */
#include <check.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events.h"
#include "gateway.h"
#include "kycgate/config.h"
#include "kycgate/store.h"
#include "webhooks.h"

/* The test vector of the Standard Webhooks specification (its libraries' tests). */
START_TEST(signature_standard_vector)
{
	static const unsigned char key[] = {0x31, 0xf2, 0x90, 0xf6, 0xbf, 0x06, 0x29, 0x8a,
	                                    0xab, 0x4f, 0x08, 0xd4, 0x3c, 0x3f, 0x08, 0x2c,
	                                    0xf6, 0x48, 0xa3, 0x62, 0xda, 0x2d, 0xa4, 0xb0};
	static const char body[] = "{\"test\": 2432232314}";
	char sig[KG_WH_SIGNATURE_CAP];

	ck_assert_int_eq(kg_webhook_sign(key, sizeof(key), "msg_p5jXN8AQM9LWM0D4loKWxJek",
	                                 1614265330ull, body, strlen(body), sig),
	                 KG_OK);
	ck_assert_str_eq(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}
END_TEST

/* Key bytes 0..31, id 1042, timestamp 1700000000: computed with python3's hmac. */
START_TEST(signature_computed_vector)
{
	unsigned char key[32];
	static const char body[] = "{\"id\":\"1042\"}";
	char sig[KG_WH_SIGNATURE_CAP];
	size_t i;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)i;
	ck_assert_int_eq(
	    kg_webhook_sign(key, sizeof(key), "1042", 1700000000ull, body, strlen(body), sig),
	    KG_OK);
	ck_assert_str_eq(sig, "v1,R+ILCmxyznyPqgsa8CWfjdAKtLPlmYgzDHSInrp39oU=");
	/* Another timestamp, another signature. */
	ck_assert_int_eq(
	    kg_webhook_sign(key, sizeof(key), "1042", 1700000001ull, body, strlen(body), sig),
	    KG_OK);
	ck_assert_str_ne(sig, "v1,R+ILCmxyznyPqgsa8CWfjdAKtLPlmYgzDHSInrp39oU=");
}
END_TEST

START_TEST(url_origin)
{
	char out[64];

	kg_webhook_url_origin("https://hooks.example.com/in/abc?token=s3cret", out, sizeof(out));
	ck_assert_str_eq(out, "https://hooks.example.com");
	kg_webhook_url_origin("http://127.0.0.1:8080?x=1", out, sizeof(out));
	ck_assert_str_eq(out, "http://127.0.0.1:8080");
	kg_webhook_url_origin("https://u:p@h.example/x", out, sizeof(out));
	ck_assert_str_eq(out, "https://h.example");
}
END_TEST

#define BASE "crossmint: {environment: %s}\nauth: {mode: none}\n"
#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

static struct kg_config *load(const char *env, const char *events, char **err)
{
	char yaml[4096];
	struct kg_config *cfg = NULL;
	int n = snprintf(yaml, sizeof(yaml), BASE "%s", env, events);

	*err = NULL;
	if (kg_config_load_string("t.yaml", yaml, (size_t)n, &cfg, err) != KG_OK)
		return NULL;
	return cfg;
}

static void assert_refused(const char *env, const char *events, const char *want)
{
	char *err = NULL;
	struct kg_config *cfg = load(env, events, &err);

	ck_assert_ptr_null(cfg);
	ck_assert_msg(err != NULL && strstr(err, want) != NULL, "no \"%s\" in: %s", want,
	              err ? err : "(none)");
	ck_assert_msg(strstr(err, "MfKQ9r8") == NULL, "the secret is quoted: %s", err);
	free(err);
}

START_TEST(config_checks)
{
	char *err = NULL, path[] = "/tmp/kycgate-whsec-XXXXXX", events[512];
	struct kg_config *cfg;
	int fd;

	/* Too short: 16 bytes. */
	assert_refused("staging",
	               "events:\n  webhooks:\n    - {name: a, url: \"https://h.example/x\","
	               " secret: whsec_AAECAwQFBgcICQoLDA0ODw==}\n",
	               "base64 of 24 to 128 bytes");
	assert_refused("staging",
	               "events:\n  webhooks:\n    - {name: a, url: \"https://h.example/x\","
	               " secret: MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw}\n",
	               "Standard Webhooks secret");
	assert_refused("staging",
	               "events:\n  webhooks:\n    - {name: a, url: \"https://h.example/x\","
	               " secret: \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa!w\"}\n",
	               "base64 of 24 to 128 bytes");
	/* http in production only on loopback. */
	assert_refused(
	    "production",
	    "events:\n  webhooks:\n    - {name: a, url: \"http://h.example/x\", secret: " SECRET
	    "}\n",
	    "production requires https://");
	assert_refused("staging",
	               "events:\n  webhooks:\n    - {name: a, url: \"https://h.example/x#f\","
	               " secret: " SECRET "}\n",
	               "fragment");
	assert_refused("staging",
	               "events:\n  webhooks:\n    - {name: a, url: \"https://h.example/x\","
	               " secret: " SECRET ", types: []}\n",
	               "at least one type");
	cfg = load("simulator",
	           "events:\n  retry_schedule_s: [1, 2]\n  webhooks:\n"
	           "    - {name: a, url: \"http://127.0.0.1:9/x?t=1\", secret: " SECRET "}\n",
	           &err);
	ck_assert_msg(cfg != NULL, "%s", err ? err : "");
	ck_assert_uint_eq(cfg->events.webhooks[0].key_len, 24);
	ck_assert_uint_eq(cfg->events.webhooks[0].key[0], 0x31);
	ck_assert_uint_eq(cfg->n_inactive_keys, 0);
	kg_config_free(cfg);
	/* secret_file, read at load. */
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, SECRET "\n", strlen(SECRET) + 1), (ssize_t)strlen(SECRET) + 1);
	close(fd);
	snprintf(events, sizeof(events),
	         "events:\n  webhooks:\n    - {name: a, url: \"https://h.example/x\","
	         " secret_file: \"%s\"}\n",
	         path);
	cfg = load("simulator", events, &err);
	unlink(path);
	ck_assert_msg(cfg != NULL, "%s", err ? err : "");
	ck_assert_uint_eq(cfg->events.webhooks[0].key_len, 24);
	ck_assert_uint_eq(cfg->events.webhooks[0].key[23], 0xb0);
	kg_config_free(cfg);
	free(err);
}
END_TEST

/* ---- the store work ---- */

/* One job at a time: its end is signalled here. */
static pthread_mutex_t sync_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sync_cv = PTHREAD_COND_INITIALIZER;
static bool sync_done;

static void job_done(struct kg_store_job *job)
{
	(void)job;
	pthread_mutex_lock(&sync_mu);
	sync_done = true;
	pthread_cond_signal(&sync_cv);
	pthread_mutex_unlock(&sync_mu);
}

static struct kg_gateway *t_gw;
static long long t_event;
static const char *t_loc;

/* Commits one event of t_loc and its deliveries, as events.c does. */
static int run_event(sqlite3 *db, struct kg_store_job *job)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);

	(void)job;
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db,
		                        "INSERT INTO events (type, created_ms, user_locator, body)"
		                        " VALUES ('verification.updated', 1, ?1, '{}')",
		                        -1, &s, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(s, 1, t_loc, -1, SQLITE_STATIC);
		rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
	}
	sqlite3_finalize(s);
	t_event = sqlite3_last_insert_rowid(db);
	if (rc == SQLITE_OK)
		rc = kg_webhooks_on_event(db, t_gw, t_event, t_loc, 1);
	sqlite3_exec(db, rc == SQLITE_OK ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static const char *t_sql;

static int run_sql(sqlite3 *db, struct kg_store_job *job)
{
	(void)job;
	return sqlite3_exec(db, t_sql, NULL, NULL, NULL);
}

static void run_job(struct kg_store_job *job)
{
	job->op = KG_STORE_RUN;
	job->done = job_done;
	sync_done = false;
	ck_assert_int_eq(kg_store_submit(t_gw->store, job), KG_OK);
	pthread_mutex_lock(&sync_mu);
	while (!sync_done)
		pthread_cond_wait(&sync_cv, &sync_mu);
	pthread_mutex_unlock(&sync_mu);
	ck_assert_int_eq(job->result, KG_STORE_OK);
}

static void event_of(const char *loc)
{
	struct kg_store_job job = {.run = run_event};

	t_loc = loc;
	run_job(&job);
}

static void sql(const char *text)
{
	struct kg_store_job job = {.run = run_sql};

	t_sql = text;
	run_job(&job);
}

static char *t_path;

/* "state:attempts" of the deliveries of endpoint ep, in event order, e.g. "pending:0,...". */
static void states(const char *ep, char *out, size_t cap)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	size_t used = 0;

	out[0] = '\0';
	ck_assert_int_eq(sqlite3_open_v2(t_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db,
	                                    "SELECT state, attempts FROM deliveries WHERE"
	                                    " endpoint = ?1 ORDER BY event_id",
	                                    -1, &s, NULL),
	                 SQLITE_OK);
	sqlite3_bind_text(s, 1, ep, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW)
		used += (size_t)snprintf(out + used, cap - used, "%s%s:%d", used ? "," : "",
		                         (const char *)sqlite3_column_text(s, 0),
		                         sqlite3_column_int(s, 1));
	sqlite3_finalize(s);
	sqlite3_close(db);
}

/* The dispatcher's claim (every 500 ms) seeks the indexes of pending deliveries: no walk of a
 * user's delivered history and no sort of every pending row (store.c, schema v3). */
START_TEST(claim_uses_the_pending_indexes)
{
	static char path[] = "/tmp/kycgate-whplan-XXXXXX";
	char err[128], warn[128], plan[1024] = "", q[1024], aside[64];
	struct kg_store *st;
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	size_t used = 0;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	st = kg_store_open(path, err, sizeof(err), warn, sizeof(warn));
	ck_assert_msg(st != NULL && kg_store_up(st), "%s", err);
	kg_store_free(st);
	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", kg_webhooks_claim_sql);
	ck_assert_int_eq(sqlite3_prepare_v2(db, q, -1, &s, NULL), SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW)
		used += (size_t)snprintf(plan + used, sizeof(plan) - used, "%s; ",
		                         (const char *)sqlite3_column_text(s, 3));
	sqlite3_finalize(s);
	sqlite3_close(db);
	unlink(path);
	snprintf(aside, sizeof(aside), "%s-wal", path);
	unlink(aside);
	snprintf(aside, sizeof(aside), "%s-shm", path);
	unlink(aside);
	ck_assert_msg(strstr(plan, "d USING INDEX deliveries_pending_due") != NULL, "%s", plan);
	ck_assert_msg(strstr(plan, "x USING INDEX deliveries_pending_user") != NULL, "%s", plan);
	ck_assert_msg(strstr(plan, "TEMP B-TREE") == NULL, "%s", plan);
}
END_TEST

START_TEST(deliveries_and_superseding)
{
	static char path[] = "/tmp/kycgate-whstore-XXXXXX";
	char err[128], warn[128], got[512], *cerr = NULL;
	struct kg_config *cfg;
	struct kg_req req;
	struct kg_store_job job;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	t_path = path;
	cfg = load("simulator",
	           "events:\n  webhooks:\n"
	           "    - {name: a, url: \"http://127.0.0.1:9/a\", secret: " SECRET "}\n"
	           "    - {name: b, url: \"http://127.0.0.1:9/b\", secret: " SECRET "}\n",
	           &cerr);
	ck_assert_msg(cfg != NULL, "%s", cerr ? cerr : "");
	t_gw = calloc(1, sizeof(*t_gw));
	t_gw->store = kg_store_open(path, err, sizeof(err), warn, sizeof(warn));
	ck_assert(kg_store_up(t_gw->store));
	ck_assert(kg_webhooks_start(t_gw, cfg, err, sizeof(err)));
	ck_assert(kg_webhooks_known(t_gw, "a"));
	ck_assert(!kg_webhooks_known(t_gw, "c"));

	/* One delivery per endpoint and event. */
	event_of("userId:u1");
	states("a", got, sizeof(got));
	ck_assert_str_eq(got, "pending:0");
	states("b", got, sizeof(got));
	ck_assert_str_eq(got, "pending:0");

	/* Not yet attempted: a newer event queues behind it (in order, nothing superseded). */
	event_of("userId:u1");
	states("a", got, sizeof(got));
	ck_assert_str_eq(got, "pending:0,pending:0");

	/* Both waiting for a retry: a newer event of u1 supersedes them; u2's stays. */
	sql("UPDATE deliveries SET attempts = 2, next_attempt_ms = 9000000000000");
	event_of("userId:u2");
	event_of("userId:u1");
	states("a", got, sizeof(got));
	ck_assert_str_eq(got, "superseded:2,superseded:2,pending:0,pending:0");

	/* Removed by a reload: new events go to the endpoints configured now only. */
	kg_config_free(cfg);
	cfg = load("simulator",
	           "events:\n  webhooks:\n"
	           "    - {name: b, url: \"http://127.0.0.1:9/b\", secret: " SECRET "}\n",
	           &cerr);
	kg_webhooks_reconfigure(t_gw, cfg);
	event_of("userId:u3");
	states("a", got, sizeof(got));
	ck_assert_str_eq(got, "superseded:2,superseded:2,pending:0,pending:0");
	states("b", got, sizeof(got));
	ck_assert_str_eq(got, "superseded:2,superseded:2,pending:0,pending:0,pending:0");

	/* Re-queue of b's failed deliveries: for each user only the newest failed one, and not
	 * one older than a delivered one. */
	sql("UPDATE deliveries SET state = 'failed', attempts = 7 WHERE endpoint = 'b'");
	sql("UPDATE deliveries SET state = 'delivered' WHERE endpoint = 'b' AND event_id = 3");
	memset(&req, 0, sizeof(req));
	req.gw = t_gw;
	memset(&job, 0, sizeof(job));
	job.run = kg_webhooks_retry_run;
	job.owner = &req;
	snprintf(job.client, sizeof(job.client), "b");
	run_job(&job);
	ck_assert_int_eq(job.status,
	                 2); /* u1: 4 (1, 2 superseded); u3: 5; u2: none (3 delivered) */
	states("b", got, sizeof(got));
	ck_assert_str_eq(got, "superseded:7,superseded:7,delivered:7,pending:0,pending:0");
	/* Nothing failed is left: a second call re-queues nothing. */
	run_job(&job);
	ck_assert_int_eq(job.status, 0);

	kg_webhooks_stop(t_gw);
	kg_store_free(t_gw->store);
	kg_webhooks_free(t_gw);
	free(t_gw);
	kg_config_free(cfg);
	free(cerr);
	unlink(path);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("webhooks");
	TCase *tc = tcase_create("webhooks");
	int failed;
	SRunner *sr;

	tcase_add_test(tc, signature_standard_vector);
	tcase_add_test(tc, signature_computed_vector);
	tcase_add_test(tc, url_origin);
	tcase_add_test(tc, config_checks);
	tcase_add_test(tc, claim_uses_the_pending_indexes);
	tcase_add_test(tc, deliveries_and_superseding);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
