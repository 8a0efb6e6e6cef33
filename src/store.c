/* The embedded store: one SQLite connection owned by one thread, jobs through a queue, the schema
 * and its migrations, the periodic purge. See include/kycgate/store.h for the contract.
 *
 * SQLite runs in WAL mode with synchronous=FULL (a committed job survives a power cut) and a
 * busy timeout (the sqlite3 shell taking a .backup holds a read lock for a moment). Every error
 * that says the file cannot be used (read-only, full, corrupt, I/O) puts the store down; the
 * thread then closes the connection and tries again at each tick. The reason logged is SQLite's
 * error name or the system's, never a row's content. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kycgate/log.h"
#include "kycgate/metrics.h"
#include "kycgate/store.h"

#define BUSY_TIMEOUT_MS 5000

/* Schema v1. Times are Unix milliseconds (wall clock: they outlive the process).
 * - watches: one row per watched user; kind 'automatic' (after a trigger, until settled) or
 *   'explicit' (PUT .../watch, until DELETE or max_age_days); the poll schedule.
 * - states: the last observed state per user (the §3 answer without observedAt and
 *   pollAfterSeconds, and its summary for GET /v1/users), and the country of residence of the
 *   last PUT of the user through kycgate.
 * - events: id is the feed's cursor, increasing in commit order (SQLite has one writer) and never
 *   reused (AUTOINCREMENT, so a purge of the newest rows cannot hand an id out twice); body is
 *   the whole event JSON as served.
 * - deliveries: one per webhook endpoint and event, with its schedule and outcome.
 * - idempotency: one per client and key: the request's fingerprint and, once the first request
 *   ended with a definitive answer, that answer (status 0 while it runs). */
static const char schema_v1[] =
    "CREATE TABLE watches ("
    " user_locator TEXT PRIMARY KEY,"
    " kind TEXT NOT NULL CHECK (kind IN ('automatic', 'explicit')),"
    " products TEXT,"
    " since_ms INTEGER NOT NULL,"
    " trigger_ms INTEGER,"
    " next_poll_ms INTEGER NOT NULL,"
    " interval_ms INTEGER NOT NULL,"
    " last_overall TEXT,"
    " lease_until_ms INTEGER);"
    "CREATE INDEX watches_due ON watches (next_poll_ms);"
    "CREATE TABLE states ("
    " user_locator TEXT PRIMARY KEY,"
    " overall TEXT,"
    " summary TEXT,"
    " answer TEXT,"
    " observed_ms INTEGER,"
    " country TEXT);"
    "CREATE INDEX states_observed ON states (observed_ms);"
    "CREATE TABLE events ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " type TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL,"
    " user_locator TEXT NOT NULL,"
    " body TEXT NOT NULL);"
    "CREATE INDEX events_user ON events (user_locator, id);"
    "CREATE INDEX events_created ON events (created_ms);"
    "CREATE TABLE deliveries ("
    " endpoint TEXT NOT NULL,"
    " event_id INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,"
    " user_locator TEXT NOT NULL,"
    " state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'superseded')),"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " next_attempt_ms INTEGER,"
    " last_error TEXT,"
    " PRIMARY KEY (endpoint, event_id));"
    "CREATE INDEX deliveries_due ON deliveries (state, next_attempt_ms);"
    "CREATE INDEX deliveries_user ON deliveries (endpoint, user_locator, event_id);"
    "CREATE TABLE idempotency ("
    " client TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " fingerprint BLOB NOT NULL,"
    " status INTEGER NOT NULL DEFAULT 0,"
    " content_type TEXT,"
    " body BLOB,"
    " created_ms INTEGER NOT NULL,"
    " expires_ms INTEGER NOT NULL,"
    " PRIMARY KEY (client, key)) WITHOUT ROWID;"
    "CREATE INDEX idempotency_expires ON idempotency (expires_ms);";

/* Schema v2 (watch.c): when a watch last took an observation, for the "lastObserved" of
 * GET .../watch (last_overall alone does not say when). */
static const char schema_v2[] = "ALTER TABLE watches ADD COLUMN last_observed_ms INTEGER;";

/* Schema v3 (webhooks.c): the dispatcher's claim, every 500 ms, looks for each endpoint's due
 * pending deliveries in schedule order and checks each is its user's oldest pending one. With only
 * the v1 indexes the check walked the user's whole delivery history and the candidates were
 * sorted: 118 ms a claim for 20,000 users with 20 delivered events and one pending each (an
 * endpoint back after an outage); with these two indexes of pending rows only, 0.3 ms. */
static const char schema_v3[] =
    "CREATE INDEX deliveries_pending_due ON deliveries (endpoint, next_attempt_ms, event_id)"
    " WHERE state = 'pending';"
    "CREATE INDEX deliveries_pending_user ON deliveries (endpoint, user_locator, event_id)"
    " WHERE state = 'pending';";

/* migrations[v] takes a file at user_version v to v + 1. */
static const char *const migrations[KG_STORE_SCHEMA_VERSION] = {schema_v1, schema_v2, schema_v3};

/* One periodic hook (kg_store_every). */
struct hook {
	int (*fn)(sqlite3 *db, void *ctx); /* NULL: a free slot */
	void *ctx;
	unsigned interval_ms;
	unsigned long long due_ms; /* kg_now_ms() it runs next */
	bool missed;               /* came due while the store was down: runs once it is back */
};

struct kg_store {
	char *path;
	sqlite3 *db; /* store thread only (and kg_store_open before the thread starts) */
	atomic_bool up;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct kg_store_job *head, *tail; /* the queue, under mu */
	size_t queued;
	bool claims_dropped; /* the previous process's claims were dropped (first open) */
	bool stopping;       /* under mu */
	bool tick_now;       /* under mu */
	struct hook hooks[KG_STORE_MAX_HOOKS]; /* under mu */
	int running_hook;                      /* the hook running now, -1 for none; under mu */
};

static unsigned long long wall_ms(void)
{
	return kg_wall_ms();
}

static void set_up(struct kg_store *st, bool up, const char *why)
{
	bool was = atomic_exchange(&st->up, up);

	kg_metrics_gauge_set(KG_GAUGE_STORE_UP, up ? 1 : 0);
	if (was && !up)
		kg_log(KG_LOG_ERROR, "store-down", "reason", why, "detail",
		       "routes that need the store answer 503 store-unavailable; others go on",
		       NULL);
	else if (!was && up && why != NULL)
		kg_log(KG_LOG_INFO, "store-up", "detail", why, NULL);
}

/* Runs sql (no rows expected); SQLITE_OK or the error code. */
static int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static int user_version(sqlite3 *db, int *v)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL);

	if (rc == SQLITE_OK) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			*v = sqlite3_column_int(s, 0);
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(s);
	return rc;
}

/* Brings the schema from its version to KG_STORE_SCHEMA_VERSION, each step in one transaction
 * with its user_version. NULL on success, else a static reason. */
static const char *migrate(sqlite3 *db)
{
	char sql[64];
	int v = 0;

	if (user_version(db, &v) != SQLITE_OK)
		return sqlite3_errstr(sqlite3_errcode(db));
	if (v > KG_STORE_SCHEMA_VERSION)
		return "the file's schema is newer than this kycgate (written by a later release)";
	for (; v < KG_STORE_SCHEMA_VERSION; v++) {
		int rc = exec(db, "BEGIN IMMEDIATE");

		if (rc == SQLITE_OK)
			rc = exec(db, migrations[v]);
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if (rc == SQLITE_OK)
			rc = exec(db, sql);
		if (rc == SQLITE_OK)
			rc = exec(db, "COMMIT");
		if (rc != SQLITE_OK) {
			exec(db, "ROLLBACK");
			return sqlite3_errstr(rc);
		}
	}
	return NULL;
}

/* Creates the file 0600 when missing (SQLite would use 0644) and checks an existing one's mode:
 * a file others may read is used, with a warning (refusing would take idempotency away from a
 * running deployment over a mode an operator set). NULL when it can be opened for writing. */
static const char *prepare_file(const char *path, char *warn, size_t warncap, char *why,
                                size_t whycap)
{
	struct stat sb;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);

	if (fd < 0) {
		snprintf(why, whycap, "cannot open the file: %s", strerror(errno));
		return why;
	}
	if (fstat(fd, &sb) == 0 && !S_ISREG(sb.st_mode)) {
		close(fd);
		return "not a regular file";
	}
	if ((sb.st_mode & 077) != 0 && warn != NULL)
		snprintf(warn, warncap,
		         "the store file is readable or writable by others than its owner (mode "
		         "%04o): it holds personal data; chmod 0600 it",
		         (unsigned)(sb.st_mode & 07777));
	close(fd);
	return NULL;
}

/* Opens and migrates st->db. NULL on success, else the reason (static or in why). */
static const char *open_db(struct kg_store *st, char *warn, size_t warncap, char *why,
                           size_t whycap)
{
	const char *r = prepare_file(st->path, warn, warncap, why, whycap);
	int rc;

	if (r != NULL)
		return r;
	rc = sqlite3_open_v2(st->path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	if (sqlite3_db_readonly(st->db, "main") == 1) {
		r = "the file is read-only";
		goto close;
	}
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	rc = exec(st->db, "PRAGMA journal_mode = WAL");
	if (rc == SQLITE_OK)
		rc = exec(st->db, "PRAGMA synchronous = FULL");
	if (rc == SQLITE_OK)
		rc = exec(st->db, "PRAGMA foreign_keys = ON");
	/* Deleted rows (expired answers, purged events: personal data) are overwritten. */
	if (rc == SQLITE_OK)
		rc = exec(st->db, "PRAGMA secure_delete = ON");
	if (rc != SQLITE_OK)
		goto fail;
	r = migrate(st->db);
	/* Claims left by the previous process (its requests are gone) are dropped, once: after a
	 * reopen, the claims are this process's own running requests. */
	if (r == NULL && !st->claims_dropped)
		r = exec(st->db, "DELETE FROM idempotency WHERE status = 0") == SQLITE_OK
		        ? NULL
		        : sqlite3_errstr(sqlite3_errcode(st->db));
	if (r == NULL) {
		st->claims_dropped = true;
		return NULL;
	}
	goto close;
fail:
	r = sqlite3_errstr(rc);
close:
	sqlite3_close(st->db);
	st->db = NULL;
	return r;
}

/* True for the errors that say the file cannot be used (rather than one bad statement). */
static bool fatal(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_READONLY:
	case SQLITE_FULL:
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
		return true;
	default:
		return false;
	}
}

static void fail(struct kg_store *st, int rc)
{
	if (!fatal(rc))
		return;
	set_up(st, false, sqlite3_errstr(rc));
	sqlite3_close(st->db);
	st->db = NULL;
}

/* ---- idempotency ---- */

static void bind_key(sqlite3_stmt *s, const struct kg_store_job *job)
{
	sqlite3_bind_text(s, 1, job->client, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, job->key, -1, SQLITE_STATIC);
}

/* Reads the row of (client, key) into job: REPLAY, REUSED, IN_FLIGHT, or OK when absent. */
static int idem_read(sqlite3 *db, struct kg_store_job *job, unsigned long long now, bool *found)
{
	sqlite3_stmt *s = NULL;
	int rc =
	    sqlite3_prepare_v2(db,
	                       "SELECT fingerprint, status, content_type, body FROM idempotency"
	                       " WHERE client = ?1 AND key = ?2 AND expires_ms > ?3",
	                       -1, &s, NULL);

	*found = false;
	if (rc != SQLITE_OK)
		goto out;
	bind_key(s, job);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)now);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		rc = SQLITE_OK;
		goto out;
	}
	if (rc != SQLITE_ROW)
		goto out;
	rc = SQLITE_OK;
	*found = true;
	if (sqlite3_column_bytes(s, 0) != KG_STORE_FINGERPRINT_LEN ||
	    memcmp(sqlite3_column_blob(s, 0), job->fingerprint, KG_STORE_FINGERPRINT_LEN) != 0) {
		job->result = KG_STORE_REUSED;
	} else if (sqlite3_column_int(s, 1) == 0) {
		job->result = KG_STORE_IN_FLIGHT;
	} else {
		const void *b = sqlite3_column_blob(s, 3);
		size_t n = (size_t)sqlite3_column_bytes(s, 3);
		const unsigned char *t = sqlite3_column_text(s, 2);

		job->result = KG_STORE_REPLAY;
		job->status = sqlite3_column_int(s, 1);
		snprintf(job->content_type, sizeof(job->content_type), "%s",
		         t ? (const char *)t : "");
		job->body = malloc(n + 1);
		if (job->body == NULL) {
			rc = SQLITE_NOMEM;
			goto out;
		}
		if (n > 0)
			memcpy(job->body, b, n);
		job->body[n] = '\0';
		job->body_len = n;
	}
out:
	sqlite3_finalize(s);
	return rc;
}

static int idem_begin(sqlite3 *db, struct kg_store_job *job)
{
	unsigned long long now = wall_ms();
	sqlite3_stmt *s = NULL;
	bool found = false;
	int rc = exec(db, "BEGIN IMMEDIATE");

	if (rc != SQLITE_OK)
		return rc;
	rc = idem_read(db, job, now, &found);
	if (rc != SQLITE_OK || found)
		goto end;
	rc = sqlite3_prepare_v2(db,
	                        "INSERT OR REPLACE INTO idempotency (client, key, fingerprint, "
	                        "status, created_ms, expires_ms) VALUES (?1, ?2, ?3, 0, ?4, ?5)",
	                        -1, &s, NULL);
	if (rc != SQLITE_OK)
		goto end;
	bind_key(s, job);
	sqlite3_bind_blob(s, 3, job->fingerprint, KG_STORE_FINGERPRINT_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)now);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)(now + job->ttl_ms));
	rc = sqlite3_step(s);
	rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	job->result = KG_STORE_OK;
end:
	sqlite3_finalize(s);
	if (rc == SQLITE_OK)
		rc = exec(db, "COMMIT");
	if (rc != SQLITE_OK) {
		exec(db, "ROLLBACK");
		kg_store_job_cleanup(job);
	}
	return rc;
}

static int idem_finish(sqlite3 *db, struct kg_store_job *job)
{
	unsigned long long now = wall_ms();
	sqlite3_stmt *s = NULL;
	int rc =
	    sqlite3_prepare_v2(db,
	                       "UPDATE idempotency SET status = ?3, content_type = ?4, body = ?5,"
	                       " expires_ms = ?6 WHERE client = ?1 AND key = ?2 AND status = 0",
	                       -1, &s, NULL);

	if (rc != SQLITE_OK)
		return rc;
	bind_key(s, job);
	sqlite3_bind_int(s, 3, job->answer_status);
	if (job->answer_type != NULL)
		sqlite3_bind_text(s, 4, job->answer_type, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 5, job->answer_body ? job->answer_body : "",
	                  (int)(job->answer_len <= KG_STORE_MAX_ANSWER_BYTES ? job->answer_len : 0),
	                  SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, (sqlite3_int64)(now + job->ttl_ms));
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	job->result = KG_STORE_OK;
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int idem_abandon(sqlite3 *db, struct kg_store_job *job)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(
	    db, "DELETE FROM idempotency WHERE client = ?1 AND key = ?2 AND status = 0", -1, &s,
	    NULL);

	if (rc != SQLITE_OK)
		return rc;
	bind_key(s, job);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	job->result = KG_STORE_OK;
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* ---- the thread ---- */

static void run(struct kg_store *st, struct kg_store_job *job)
{
	int rc = SQLITE_OK;

	job->result = KG_STORE_DOWN;
	if (st->db == NULL)
		return;
	switch (job->op) {
	case KG_STORE_NOP:
		job->result = KG_STORE_OK;
		break;
	case KG_STORE_IDEM_BEGIN:
		rc = idem_begin(st->db, job);
		break;
	case KG_STORE_IDEM_FINISH:
		rc = idem_finish(st->db, job);
		break;
	case KG_STORE_IDEM_ABANDON:
		rc = idem_abandon(st->db, job);
		break;
	case KG_STORE_RUN:
		job->result = KG_STORE_OK;
		rc = job->run != NULL ? job->run(st->db, job) : SQLITE_MISUSE;
		break;
	}
	if (rc != SQLITE_OK) {
		job->result = KG_STORE_DOWN;
		fail(st, rc);
	}
}

/* Purges what expired; reopens a store that is down. */
static void tick(struct kg_store *st)
{
	char why[160], warn[200];
	sqlite3_stmt *s = NULL;
	int rc;

	if (st->db == NULL) {
		warn[0] = '\0';
		if (open_db(st, warn, sizeof(warn), why, sizeof(why)) == NULL)
			set_up(st, true, "the store file is usable again");
		return;
	}
	rc = sqlite3_prepare_v2(st->db, "DELETE FROM idempotency WHERE expires_ms <= ?1", -1, &s,
	                        NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, (sqlite3_int64)wall_ms());
		rc = sqlite3_step(s);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_OK)
		fail(st, rc);
}

/* The hook due first (-1 for none) and when; under st->mu. */
static int next_hook(const struct kg_store *st, unsigned long long *due)
{
	int i, best = -1;

	for (i = 0; i < KG_STORE_MAX_HOOKS; i++)
		if (st->hooks[i].fn != NULL && (best < 0 || st->hooks[i].due_ms < *due)) {
			best = i;
			*due = st->hooks[i].due_ms;
		}
	return best;
}

/* Takes the next thing to do under st->mu: a tick asked for or due first, then a hook that is
 * due, else a job. */
static struct kg_store_job *next_work(struct kg_store *st, unsigned long long next_tick,
                                      bool *do_tick, int *hook)
{
	struct kg_store_job *job;
	unsigned long long due = 0;
	int h = next_hook(st, &due);

	*hook = -1;
	*do_tick = !st->stopping && (st->tick_now || kg_now_ms() >= next_tick);
	st->tick_now = false;
	if (*do_tick)
		return NULL;
	if (!st->stopping && h >= 0 && due <= kg_now_ms()) {
		*hook = h;
		return NULL;
	}
	if (st->head == NULL)
		return NULL;
	job = st->head;
	st->head = job->next;
	if (st->head == NULL)
		st->tail = NULL;
	st->queued--;
	return job;
}

/* Sleeps under st->mu until the next tick or hook (a job, a kick or kg_store_tick wakes it
 * sooner). */
static void sleep_until(struct kg_store *st, unsigned long long next_tick)
{
	unsigned long long due = next_tick, now = kg_now_ms(), left;
	struct timespec ts;

	if (next_hook(st, &due) >= 0 && due > next_tick)
		due = next_tick;
	left = due > now ? due - now : 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(left / 1000);
	ts.tv_nsec += (long)(left % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&st->cv, &st->mu, &ts);
}

/* Runs hook h (taken under st->mu, which is held on entry and on return). */
static void run_hook(struct kg_store *st, int h)
{
	struct hook k = st->hooks[h];
	int rc;

	st->hooks[h].due_ms = kg_now_ms() + k.interval_ms;
	st->running_hook = h;
	pthread_mutex_unlock(&st->mu);
	if (st->db != NULL) {
		rc = k.fn(st->db, k.ctx);
		if (rc != SQLITE_OK)
			fail(st, rc);
	}
	pthread_mutex_lock(&st->mu);
	if (st->db == NULL && st->hooks[h].fn == k.fn)
		st->hooks[h].missed = true;
	st->running_hook = -1;
	pthread_cond_broadcast(&st->cv);
}

/* A store back up runs at once the hooks that came due while it was down (an hourly purge would
 * otherwise wait up to an hour more). Under st->mu. */
static void owe_missed(struct kg_store *st)
{
	int i;

	if (st->db == NULL)
		return;
	for (i = 0; i < KG_STORE_MAX_HOOKS; i++)
		if (st->hooks[i].fn != NULL && st->hooks[i].missed) {
			st->hooks[i].missed = false;
			st->hooks[i].due_ms = 0;
		}
}

static void *thread_main(void *arg)
{
	struct kg_store *st = arg;
	unsigned long long next_tick = kg_now_ms() + KG_STORE_TICK_MS;

	pthread_mutex_lock(&st->mu);
	while (!st->stopping || st->head != NULL) {
		struct kg_store_job *job;
		bool do_tick;
		int hook;

		job = next_work(st, next_tick, &do_tick, &hook);
		if (hook >= 0) {
			run_hook(st, hook);
			continue;
		}
		if (job == NULL && !do_tick) {
			sleep_until(st, next_tick);
			continue;
		}
		pthread_mutex_unlock(&st->mu);
		if (do_tick) {
			tick(st);
			next_tick = kg_now_ms() + KG_STORE_TICK_MS;
		} else {
			run(st, job);
			job->done(job);
		}
		pthread_mutex_lock(&st->mu);
		if (do_tick)
			owe_missed(st);
	}
	pthread_mutex_unlock(&st->mu);
	return NULL;
}

/* ---- interface ---- */

struct kg_store *kg_store_open(const char *path, char *err, size_t errcap, char *warn,
                               size_t warncap)
{
	struct kg_store *st = calloc(1, sizeof(*st));
	char why[160];
	const char *r;

	if (err != NULL && errcap > 0)
		err[0] = '\0';
	if (warn != NULL && warncap > 0)
		warn[0] = '\0';
	if (st == NULL)
		return NULL;
	st->path = strdup(path);
	if (st->path == NULL) {
		free(st);
		return NULL;
	}
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->cv, NULL);
	st->running_hook = -1;
	r = open_db(st, warn, warncap, why, sizeof(why));
	atomic_store(&st->up, r == NULL);
	kg_metrics_gauge_set(KG_GAUGE_STORE_UP, r == NULL ? 1 : 0);
	if (r != NULL && err != NULL)
		snprintf(err, errcap, "%s", r);
	if (pthread_create(&st->thread, NULL, thread_main, st) != 0) {
		sqlite3_close(st->db);
		pthread_cond_destroy(&st->cv);
		pthread_mutex_destroy(&st->mu);
		free(st->path);
		free(st);
		return NULL;
	}
	return st;
}

void kg_store_free(struct kg_store *st)
{
	if (st == NULL)
		return;
	pthread_mutex_lock(&st->mu);
	st->stopping = true;
	pthread_cond_broadcast(&st->cv);
	pthread_mutex_unlock(&st->mu);
	pthread_join(st->thread, NULL); /* after it ran every queued job */
	sqlite3_close(st->db);
	pthread_cond_destroy(&st->cv);
	pthread_mutex_destroy(&st->mu);
	free(st->path);
	free(st);
}

bool kg_store_up(const struct kg_store *st)
{
	return st != NULL && atomic_load(&((struct kg_store *)st)->up);
}

enum kg_err kg_store_submit(struct kg_store *st, struct kg_store_job *job)
{
	enum kg_err rc = KG_OK;

	if (st == NULL || job == NULL || job->done == NULL)
		return KG_ERR_INVALID;
	job->next = NULL;
	job->body = NULL;
	job->body_len = 0;
	job->content_type[0] = '\0';
	pthread_mutex_lock(&st->mu);
	if (st->stopping) {
		rc = KG_ERR_INVALID;
	} else if (st->queued >= KG_STORE_MAX_QUEUE) {
		rc = KG_ERR_BUSY;
	} else {
		if (st->tail != NULL)
			st->tail->next = job;
		else
			st->head = job;
		st->tail = job;
		st->queued++;
		pthread_cond_broadcast(&st->cv);
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

void kg_store_job_cleanup(struct kg_store_job *job)
{
	if (job == NULL || job->body == NULL)
		return;
	kg_wipe(job->body, job->body_len);
	free(job->body);
	job->body = NULL;
	job->body_len = 0;
}

void kg_store_tick(struct kg_store *st)
{
	pthread_mutex_lock(&st->mu);
	st->tick_now = true;
	pthread_cond_broadcast(&st->cv);
	pthread_mutex_unlock(&st->mu);
}

int kg_store_every(struct kg_store *st, unsigned interval_ms,
                   int (*fn)(struct sqlite3 *db, void *ctx), void *ctx)
{
	int i, id = -1;

	if (st == NULL || fn == NULL)
		return -1;
	pthread_mutex_lock(&st->mu);
	for (i = 0; i < KG_STORE_MAX_HOOKS && id < 0; i++)
		if (st->hooks[i].fn == NULL) {
			st->hooks[i] =
			    (struct hook){fn, ctx, interval_ms, kg_now_ms() + interval_ms, false};
			id = i;
		}
	pthread_cond_broadcast(&st->cv);
	pthread_mutex_unlock(&st->mu);
	return id;
}

void kg_store_kick(struct kg_store *st, int id)
{
	if (st == NULL || id < 0 || id >= KG_STORE_MAX_HOOKS)
		return;
	pthread_mutex_lock(&st->mu);
	if (st->hooks[id].fn != NULL) {
		st->hooks[id].due_ms = 0;
		pthread_cond_broadcast(&st->cv);
	}
	pthread_mutex_unlock(&st->mu);
}

void kg_store_cancel(struct kg_store *st, int id)
{
	if (st == NULL || id < 0 || id >= KG_STORE_MAX_HOOKS)
		return;
	pthread_mutex_lock(&st->mu);
	while (st->running_hook == id)
		pthread_cond_wait(&st->cv, &st->mu);
	st->hooks[id].fn = NULL;
	pthread_mutex_unlock(&st->mu);
}
