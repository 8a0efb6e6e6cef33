/* The store module: opening and migrating a file (empty, already v1, corrupt, read-only, newer),
 * its mode, the queue's order and callbacks, and the idempotency operations with their purge. */
#include <check.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "kycgate/store.h"

static char dir[64];
static char path[128];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/kg-store-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/kycgate.db", dir);
}

static void teardown(void)
{
	char cmd[400];

	/* An immutable file (the read-only test, as root) must be released before removal. */
	snprintf(cmd, sizeof(cmd), "chattr -i '%s' 2>/dev/null; rm -rf '%s'", path, dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

/* ---- waiting for jobs ---- */

struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
	int order[64]; /* the job numbers in the order their done ran */
};

struct tjob {
	struct kg_store_job job;
	struct waiter *w;
	int n;
};

static void tjob_done(struct kg_store_job *job)
{
	struct tjob *t = job->owner;

	pthread_mutex_lock(&t->w->mu);
	t->w->order[t->w->done++] = t->n;
	pthread_cond_signal(&t->w->cv);
	pthread_mutex_unlock(&t->w->mu);
}

static void waiter_init(struct waiter *w)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
}

static void wait_for(struct waiter *w, int n)
{
	pthread_mutex_lock(&w->mu);
	while (w->done < n)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

/* Runs one idempotency job to its end; returns its result (the job keeps its outputs). */
static enum kg_store_result run_job(struct kg_store *st, struct tjob *t, enum kg_store_op op,
                                    const char *key, char fp)
{
	struct waiter w;

	waiter_init(&w);
	memset(&t->job, 0, sizeof(t->job));
	t->w = &w;
	t->job.op = op;
	t->job.done = tjob_done;
	t->job.owner = t;
	t->job.ttl_ms = 3600 * 1000;
	snprintf(t->job.client, sizeof(t->job.client), "onboarding");
	snprintf(t->job.key, sizeof(t->job.key), "%s", key);
	memset(t->job.fingerprint, fp, sizeof(t->job.fingerprint));
	ck_assert_int_eq(kg_store_submit(st, &t->job), KG_OK);
	wait_for(&w, 1);
	return t->job.result;
}

/* Runs t's job again as op, keeping its other inputs (an IDEM_FINISH after its BEGIN). */
static enum kg_store_result run_job_keep(struct kg_store *st, struct tjob *t, enum kg_store_op op)
{
	struct waiter w;

	waiter_init(&w);
	t->w = &w;
	t->job.op = op;
	ck_assert_int_eq(kg_store_submit(st, &t->job), KG_OK);
	wait_for(&w, 1);
	return t->job.result;
}

static int query_int(const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int v = -1;

	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static struct kg_store *open_up(void)
{
	char err[200], warn[200];
	struct kg_store *st = kg_store_open(path, err, sizeof(err), warn, sizeof(warn));

	ck_assert_ptr_nonnull(st);
	ck_assert_msg(kg_store_up(st), "store down: %s", err);
	ck_assert_str_eq(warn, "");
	return st;
}

/* ---- opening ---- */

START_TEST(creates_and_migrates_an_empty_file)
{
	struct kg_store *st = open_up();
	struct stat sb;

	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
	kg_store_free(st);
	ck_assert_int_eq(query_int("PRAGMA user_version"), KG_STORE_SCHEMA_VERSION);
	ck_assert_int_eq(
	    query_int("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name"
	              " IN ('watches', 'states', 'events', 'deliveries', 'idempotency')"),
	    5);
	/* WAL is a property of the file: it stays after close. */
	{
		sqlite3 *db = NULL;
		sqlite3_stmt *s = NULL;

		ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
		ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL),
		                 SQLITE_OK);
		ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
		ck_assert_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
		sqlite3_finalize(s);
		sqlite3_close(db);
	}
}
END_TEST

/* A file already at v1 is opened as it is: its rows stay. */
START_TEST(reopens_a_v1_file)
{
	struct kg_store *st = open_up();
	struct tjob t;

	ck_assert_int_eq(run_job(st, &t, KG_STORE_IDEM_BEGIN, "k1", 'a'), KG_STORE_OK);
	t.job.answer_status = 201;
	t.job.answer_type = "application/json";
	t.job.answer_body = "{\"ok\":true}";
	t.job.answer_len = 11;
	ck_assert_int_eq(run_job_keep(st, &t, KG_STORE_IDEM_FINISH), KG_STORE_OK);
	kg_store_free(st);
	st = open_up();
	ck_assert_int_eq(run_job(st, &t, KG_STORE_IDEM_BEGIN, "k1", 'a'), KG_STORE_REPLAY);
	ck_assert_int_eq(t.job.status, 201);
	kg_store_job_cleanup(&t.job);
	kg_store_free(st);
	ck_assert_int_eq(query_int("PRAGMA user_version"), KG_STORE_SCHEMA_VERSION);
}
END_TEST

/* A file written by schema v1 (before watches.last_observed_ms) is migrated at open: its watch
 * rows stay, with no last observation (v2), and its deliveries get the indexes of pending rows
 * the webhook dispatcher's claim uses (v3). */
START_TEST(migrates_a_v1_watches_table)
{
	static const char v1[] =
	    "CREATE TABLE watches (user_locator TEXT PRIMARY KEY,"
	    " kind TEXT NOT NULL CHECK (kind IN ('automatic', 'explicit')), products TEXT,"
	    " since_ms INTEGER NOT NULL, trigger_ms INTEGER, next_poll_ms INTEGER NOT NULL,"
	    " interval_ms INTEGER NOT NULL, last_overall TEXT, lease_until_ms INTEGER);"
	    "CREATE INDEX watches_due ON watches (next_poll_ms);"
	    /* the one other v1 table the open touches (it drops stale claims) */
	    "CREATE TABLE idempotency (client TEXT NOT NULL, key TEXT NOT NULL,"
	    " fingerprint BLOB NOT NULL, status INTEGER NOT NULL DEFAULT 0, content_type TEXT,"
	    " body BLOB, created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL,"
	    " PRIMARY KEY (client, key)) WITHOUT ROWID;"
	    "CREATE TABLE deliveries (endpoint TEXT NOT NULL, event_id INTEGER NOT NULL,"
	    " user_locator TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
	    " next_attempt_ms INTEGER, last_error TEXT, PRIMARY KEY (endpoint, event_id));"
	    "INSERT INTO watches (user_locator, kind, since_ms, next_poll_ms, interval_ms,"
	    " last_overall) VALUES ('userId:old', 'explicit', 1, 2, 3, 'verified');"
	    "PRAGMA user_version = 1;";
	sqlite3 *db = NULL;
	struct kg_store *st;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, v1, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	chmod(path, 0600);
	st = open_up();
	kg_store_free(st);
	ck_assert_int_eq(query_int("PRAGMA user_version"), 3);
	ck_assert_int_eq(
	    query_int("SELECT interval_ms FROM watches WHERE user_locator = 'userId:old'"), 3);
	ck_assert_int_eq(query_int("SELECT count(*) FROM watches WHERE last_observed_ms IS NULL"),
	                 1);
	ck_assert_int_eq(
	    query_int("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name"
	              " IN ('deliveries_pending_due', 'deliveries_pending_user')"),
	    2);
}
END_TEST

static void write_file(const char *text, size_t len, mode_t mode)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	fclose(f);
	chmod(path, mode);
}

/* A file that is not a database leaves the store down; jobs finish with KG_STORE_DOWN. */
START_TEST(corrupt_file_is_down)
{
	static const char junk[] = "this is not an SQLite database, not at all, 0123456789abcdef"
	                           "0123456789abcdef0123456789abcdef0123456789abcdef";
	char err[200], warn[200];
	struct kg_store *st;
	struct tjob t;

	write_file(junk, sizeof(junk) - 1, 0600);
	st = kg_store_open(path, err, sizeof(err), warn, sizeof(warn));
	ck_assert_ptr_nonnull(st);
	ck_assert(!kg_store_up(st));
	ck_assert_msg(strstr(err, "not a database") != NULL, "reason: %s", err);
	ck_assert_int_eq(run_job(st, &t, KG_STORE_IDEM_BEGIN, "k", 'a'), KG_STORE_DOWN);
	kg_store_free(st);
}
END_TEST

/* Makes path unwritable: mode 0400, and (root ignores modes) the immutable attribute. False
 * when it cannot. */
static bool make_read_only(void)
{
	char cmd[400];

	chmod(path, 0400);
	if (geteuid() != 0)
		return true;
	snprintf(cmd, sizeof(cmd), "chattr +i '%s' 2>/dev/null", path);
	return system(cmd) == 0;
}

/* A read-only file (a v1 file made read-only after it was written) is down; the store comes
 * back at the next tick once the file is writable again. */
START_TEST(read_only_file_is_down_then_back)
{
	char err[200], warn[200], cmd[400];
	struct kg_store *st = open_up();
	struct tjob t;

	kg_store_free(st);
	if (!make_read_only()) {
		fprintf(stderr,
		        "read_only_file_is_down: cannot make a file read-only as root here\n");
		return;
	}
	st = kg_store_open(path, err, sizeof(err), warn, sizeof(warn));
	ck_assert_ptr_nonnull(st);
	ck_assert(!kg_store_up(st));
	ck_assert_int_eq(run_job(st, &t, KG_STORE_IDEM_BEGIN, "k", 'a'), KG_STORE_DOWN);
	snprintf(cmd, sizeof(cmd), "chattr -i '%s' 2>/dev/null; chmod 0600 '%s'", path, path);
	ck_assert_int_eq(system(cmd), 0);
	kg_store_tick(st);
	ck_assert_int_eq(run_job(st, &t, KG_STORE_NOP, "", 0), KG_STORE_OK);
	ck_assert(kg_store_up(st));
	ck_assert_int_eq(run_job(st, &t, KG_STORE_IDEM_BEGIN, "k", 'a'), KG_STORE_OK);
	kg_store_free(st);
}
END_TEST

/* A schema newer than this release is never written to. */
START_TEST(newer_schema_is_down)
{
	char err[200], warn[200];
	struct kg_store *st;
	sqlite3 *db = NULL;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	st = kg_store_open(path, err, sizeof(err), warn, sizeof(warn));
	ck_assert(!kg_store_up(st));
	ck_assert_msg(strstr(err, "newer") != NULL, "reason: %s", err);
	kg_store_free(st);
	ck_assert_int_eq(query_int("PRAGMA user_version"), 99);
}
END_TEST

/* An existing file others may read is used, with a warning. */
START_TEST(loose_mode_warns)
{
	char err[200], warn[200];
	struct kg_store *st;

	write_file("", 0, 0644);
	chmod(path, 0644);
	st = kg_store_open(path, err, sizeof(err), warn, sizeof(warn));
	ck_assert(kg_store_up(st));
	ck_assert_msg(strstr(warn, "0644") != NULL, "warning: %s", warn);
	kg_store_free(st);
}
END_TEST

/* ---- the queue ---- */

/* Jobs finish in submission order, each done called once, whatever threads submit them. */
START_TEST(queue_runs_in_order)
{
	struct kg_store *st = open_up();
	struct tjob jobs[64];
	struct waiter w;
	int i;

	waiter_init(&w);
	for (i = 0; i < 64; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].w = &w;
		jobs[i].n = i;
		jobs[i].job.op = KG_STORE_NOP;
		jobs[i].job.done = tjob_done;
		jobs[i].job.owner = &jobs[i];
		ck_assert_int_eq(kg_store_submit(st, &jobs[i].job), KG_OK);
	}
	wait_for(&w, 64);
	for (i = 0; i < 64; i++)
		ck_assert_int_eq(w.order[i], i);
	kg_store_free(st);
	ck_assert_int_eq(w.done, 64);
}
END_TEST

/* kg_store_free runs what is still queued, then refuses new work. */
START_TEST(free_drains_the_queue)
{
	struct kg_store *st = open_up();
	struct tjob jobs[16];
	struct waiter w;
	int i;

	waiter_init(&w);
	for (i = 0; i < 16; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].w = &w;
		jobs[i].n = i;
		jobs[i].job.op = KG_STORE_IDEM_ABANDON;
		jobs[i].job.done = tjob_done;
		jobs[i].job.owner = &jobs[i];
		ck_assert_int_eq(kg_store_submit(st, &jobs[i].job), KG_OK);
	}
	kg_store_free(st);
	ck_assert_int_eq(w.done, 16);
}
END_TEST

/* ---- other modules' work: KG_STORE_RUN jobs and periodic hooks ---- */

static int run_insert(sqlite3 *db, struct kg_store_job *job)
{
	(void)job;
	return sqlite3_exec(db, "INSERT INTO states (user_locator) VALUES ('userId:run')", NULL,
	                    NULL, NULL);
}

static int run_bad(sqlite3 *db, struct kg_store_job *job)
{
	(void)job;
	return sqlite3_exec(db, "SELECT * FROM no_such_table", NULL, NULL, NULL);
}

/* A RUN job runs its function with the connection; an SQL error says KG_STORE_DOWN for that job
 * only (the store stays up: the file is fine). */
START_TEST(run_job_runs_its_function)
{
	struct kg_store *st = open_up();
	struct tjob t;
	struct waiter w;

	waiter_init(&w);
	memset(&t, 0, sizeof(t));
	t.w = &w;
	t.job.op = KG_STORE_RUN;
	t.job.run = run_insert;
	t.job.done = tjob_done;
	t.job.owner = &t;
	ck_assert_int_eq(kg_store_submit(st, &t.job), KG_OK);
	wait_for(&w, 1);
	ck_assert_int_eq(t.job.result, KG_STORE_OK);
	t.job.run = run_bad;
	ck_assert_int_eq(kg_store_submit(st, &t.job), KG_OK);
	wait_for(&w, 2);
	ck_assert_int_eq(t.job.result, KG_STORE_DOWN);
	ck_assert(kg_store_up(st));
	kg_store_free(st);
	ck_assert_int_eq(query_int("SELECT count(*) FROM states WHERE user_locator = 'userId:run'"),
	                 1);
}
END_TEST

struct hook_count {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int runs;
};

static int count_hook(sqlite3 *db, void *ctx)
{
	struct hook_count *h = ctx;

	ck_assert_ptr_nonnull(db);
	pthread_mutex_lock(&h->mu);
	h->runs++;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	return SQLITE_OK;
}

static void wait_runs(struct hook_count *h, int n)
{
	pthread_mutex_lock(&h->mu);
	while (h->runs < n)
		pthread_cond_wait(&h->cv, &h->mu);
	pthread_mutex_unlock(&h->mu);
}

/* A hook runs every interval, at once when kicked, and never after kg_store_cancel returns. */
START_TEST(hooks_run_periodically_kicked_and_cancelled)
{
	struct kg_store *st = open_up();
	struct hook_count slow = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0},
	                  fast = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
	int slow_id = kg_store_every(st, 3600 * 1000, count_hook, &slow);
	int fast_id = kg_store_every(st, 20, count_hook, &fast);
	int before;

	ck_assert_int_ge(slow_id, 0);
	ck_assert_int_ge(fast_id, 0);
	ck_assert_int_ne(slow_id, fast_id);
	wait_runs(&fast, 3); /* every 20 ms */
	ck_assert_int_eq(slow.runs, 0);
	kg_store_kick(st, slow_id); /* an hour early */
	wait_runs(&slow, 1);
	kg_store_cancel(st, fast_id);
	pthread_mutex_lock(&fast.mu);
	before = fast.runs;
	pthread_mutex_unlock(&fast.mu);
	usleep(100 * 1000);
	ck_assert_int_eq(fast.runs, before);
	kg_store_cancel(st, slow_id);
	ck_assert_int_eq(kg_store_every(st, 10, count_hook, &fast),
	                 fast_id < slow_id ? fast_id : slow_id);
	kg_store_free(st);
}
END_TEST

/* A hook that came due while the store was down (an hourly purge kicked at start) runs once the
 * file is usable again, not an interval later. */
START_TEST(hook_missed_while_down_runs_when_back)
{
	char err[200], warn[200], cmd[400];
	struct hook_count h = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
	struct kg_store *st = open_up();
	struct tjob t;
	int id;

	kg_store_free(st);
	if (!make_read_only()) {
		fprintf(stderr,
		        "hook_missed_while_down: cannot make a file read-only as root here\n");
		return;
	}
	st = kg_store_open(path, err, sizeof(err), warn, sizeof(warn));
	ck_assert(!kg_store_up(st));
	id = kg_store_every(st, 3600 * 1000, count_hook, &h);
	kg_store_kick(st, id);
	ck_assert_int_eq(run_job(st, &t, KG_STORE_NOP, "", 0), KG_STORE_DOWN); /* after the kick */
	ck_assert_int_eq(h.runs, 0);
	snprintf(cmd, sizeof(cmd), "chattr -i '%s' 2>/dev/null; chmod 0600 '%s'", path, path);
	ck_assert_int_eq(system(cmd), 0);
	kg_store_tick(st);
	wait_runs(&h, 1); /* the check's timeout fails it if the hook waits for its hour */
	kg_store_free(st);
}
END_TEST

/* ---- idempotency ---- */

START_TEST(idempotency_claim_replay_reuse)
{
	struct kg_store *st = open_up();
	struct tjob t;

	ck_assert_int_eq(run_job(st, &t, KG_STORE_IDEM_BEGIN, "key-1", 'a'), KG_STORE_OK);
	/* While the first runs: in flight for the same request, reused for another. */
	ck_assert_int_eq(run_job(st, &t, KG_STORE_IDEM_BEGIN, "key-1", 'a'), KG_STORE_IN_FLIGHT);
	ck_assert_int_eq(run_job(st, &t, KG_STORE_IDEM_BEGIN, "key-1", 'b'), KG_STORE_REUSED);
	t.job.answer_status = 200;
	t.job.answer_type = "application/json";
	t.job.answer_body = "{\"a\":1}";
	t.job.answer_len = 7;
	ck_assert_int_eq(run_job_keep(st, &t, KG_STORE_IDEM_FINISH), KG_STORE_OK);
	ck_assert_int_eq(run_job(st, &t, KG_STORE_IDEM_BEGIN, "key-1", 'a'), KG_STORE_REPLAY);
	ck_assert_int_eq(t.job.status, 200);
	ck_assert_str_eq(t.job.content_type, "application/json");
	ck_assert_uint_eq(t.job.body_len, 7);
	ck_assert_str_eq(t.job.body, "{\"a\":1}");
	kg_store_job_cleanup(&t.job);
	ck_assert_ptr_null(t.job.body);
	ck_assert_int_eq(run_job(st, &t, KG_STORE_IDEM_BEGIN, "key-1", 'b'), KG_STORE_REUSED);
	/* Keys are per client: another client's same key is new. */
	snprintf(t.job.client, sizeof(t.job.client), "other");
	ck_assert_int_eq(run_job_keep(st, &t, KG_STORE_IDEM_BEGIN), KG_STORE_OK);
	kg_store_free(st);
}
END_TEST

/* An abandoned claim (a 5xx, a timeout) lets the same key run again. */
START_TEST(idempotency_abandon)
{
	struct kg_store *st = open_up();
	struct tjob t;

	ck_assert_int_eq(run_job(st, &t, KG_STORE_IDEM_BEGIN, "key-2", 'a'), KG_STORE_OK);
	ck_assert_int_eq(run_job(st, &t, KG_STORE_IDEM_ABANDON, "key-2", 'a'), KG_STORE_OK);
	ck_assert_int_eq(run_job(st, &t, KG_STORE_IDEM_BEGIN, "key-2", 'a'), KG_STORE_OK);
	kg_store_free(st);
}
END_TEST

/* A claim left by a process that stopped is dropped at the next open; expired answers are
 * purged at a tick and their keys can be used again. */
START_TEST(idempotency_restart_and_purge)
{
	struct kg_store *st = open_up();
	struct tjob t;

	ck_assert_int_eq(run_job(st, &t, KG_STORE_IDEM_BEGIN, "key-3", 'a'), KG_STORE_OK);
	kg_store_free(st);
	st = open_up();
	ck_assert_int_eq(run_job(st, &t, KG_STORE_IDEM_BEGIN, "key-3", 'b'), KG_STORE_OK);
	t.job.ttl_ms = 1; /* the answer expires at once */
	t.job.answer_status = 200;
	ck_assert_int_eq(run_job_keep(st, &t, KG_STORE_IDEM_FINISH), KG_STORE_OK);
	usleep(5000);
	kg_store_tick(st);
	ck_assert_int_eq(run_job(st, &t, KG_STORE_NOP, "", 0), KG_STORE_OK);
	kg_store_free(st);
	ck_assert_int_eq(query_int("SELECT count(*) FROM idempotency"), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, creates_and_migrates_an_empty_file);
	tcase_add_test(tc, reopens_a_v1_file);
	tcase_add_test(tc, migrates_a_v1_watches_table);
	tcase_add_test(tc, corrupt_file_is_down);
	tcase_add_test(tc, read_only_file_is_down_then_back);
	tcase_add_test(tc, newer_schema_is_down);
	tcase_add_test(tc, loose_mode_warns);
	tcase_add_test(tc, queue_runs_in_order);
	tcase_add_test(tc, free_drains_the_queue);
	tcase_add_test(tc, run_job_runs_its_function);
	tcase_add_test(tc, hooks_run_periodically_kicked_and_cancelled);
	tcase_add_test(tc, hook_missed_while_down_runs_when_back);
	tcase_add_test(tc, idempotency_claim_replay_reuse);
	tcase_add_test(tc, idempotency_abandon);
	tcase_add_test(tc, idempotency_restart_and_purge);
	suite_add_tcase(s, tc);
	failed = kt_run_suite(s);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
