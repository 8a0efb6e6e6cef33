/* The event feed (design §10): GET /v1/events?after=&limit=&wait=&userLocator=, its waiters,
 * and the retention purge.
 *
 * A page is read by a store job (the request suspended meanwhile), which renders it from the
 * stored event bodies. A request with wait and nothing newer joins the waiters: the store thread,
 * right after it commits an event (kg_feed_committed), hands each waiter behind that id a new
 * read job; a waiter's own thread answers those whose wait is over, whose client hung up (a peek
 * every KG_FEED_PEEK_MS, as the ?wait long-poll does) or, when draining, all at once. Nothing
 * polls the store. Waiters count against the client's verification.max_waiting_per_client and
 * never against crossmint.max_inflight.
 *
 * The cursor: ids increase in commit order and are never reused (AUTOINCREMENT, and a rolled-back
 * insert gives its id back), so the only gap below the oldest kept id is what the purge deleted:
 * an after smaller than the oldest kept id minus one was purged past, and gets 410
 * cursor-expired naming the oldest kept id (with nothing kept, the next id to come). */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events_internal.h"
#include "gateway.h"
#include "kycgate/buf.h"
#include "kycgate/longpoll.h"
#include "kycgate/validate.h"
#include "reply.h"
#include "routes.h"

/* A feed request's state (req->work). */
struct feed_req {
	struct feed_req *prev, *next; /* in ev->waiters, under ev->mu */
	bool listed;                  /* in ev->waiters */
	struct kg_req *req;
	struct kg_events *ev;
	struct kg_store_job job;
	/* The query. */
	bool after_given;
	long long after; /* the cursor; after a read, the next one */
	unsigned limit;
	bool by_user;
	char loc[KG_MAX_LOCATOR_BYTES + 1];
	bool wait;                      /* wait > 0 was asked */
	unsigned long long deadline_ms; /* kg_now_ms() the wait ends */
	/* The last read (store thread, then the request thread after the wake). */
	struct kg_buf page; /* the events' bodies, comma-separated */
	unsigned n;
	bool expired;
	long long oldest;
};

/* ---- the query ----------------------------------------------------------------------------- */

/* A decimal run of 1 to 18 digits (no sign) into *v. */
static bool parse_dec(const char *raw, long long *v)
{
	size_t i;

	*v = 0;
	for (i = 0; raw[i] >= '0' && raw[i] <= '9'; i++) {
		if (i == 18)
			return false;
		*v = *v * 10 + (raw[i] - '0');
	}
	return i > 0 && raw[i] == '\0';
}

static const char *check_after(struct kg_req *req, const char *raw)
{
	long long v;

	(void)req;
	return parse_dec(raw, &v) ? NULL : "after: an event id (the next of the previous page)";
}

static const char *check_limit(struct kg_req *req, const char *raw)
{
	long long v;

	(void)req;
	return parse_dec(raw, &v) && v >= 1 && v <= KG_FEED_MAX_LIMIT
	           ? NULL
	           : "limit: an integer from 1 to 500";
}

/* As ?wait of the verification routes: more than verification.max_wait_s is clamped to it. */
static const char *check_wait(struct kg_req *req, const char *raw)
{
	unsigned long long v = 0;
	size_t i;

	for (i = 0; raw[i] >= '0' && raw[i] <= '9'; i++)
		if (v < 1000000) /* past any max_wait_s: stop growing, keep reading digits */
			v = v * 10 + (unsigned long long)(raw[i] - '0');
	if (i == 0 || raw[i] != '\0')
		return "wait: an integer number of seconds from 0";
	req->wait_given = true;
	req->wait_s =
	    v > req->cfg->verification.max_wait_s ? req->cfg->verification.max_wait_s : (unsigned)v;
	req->wait_deadline_ms = req->started_ms + 1000ull * req->wait_s;
	return NULL;
}

static const char *check_user(struct kg_req *req, const char *raw)
{
	char buf[KG_MAX_PARAM_BYTES];
	const char *detail = NULL;
	size_t n = 0;

	(void)req;
	if (kg_pct_decode(raw, strlen(raw), buf, sizeof(buf), &n) != KG_OK || n == 0 ||
	    !kg_locator_valid(buf, n, &detail)) {
		kg_wipe(buf, sizeof(buf));
		return "userLocator: not a valid locator (email:, userId:, phoneNumber:, twitter:, "
		       "x:)";
	}
	kg_wipe(buf, sizeof(buf));
	return NULL;
}

const struct kg_query_param kg_events_query[] = {
    {.name = "after", .parse = check_after},
    {.name = "limit", .parse = check_limit},
    {.name = "wait", .parse = check_wait},
    {.name = "userLocator", .parse = check_user},
    {.name = NULL},
};

/* The raw value of query parameter name (checked already), or NULL. */
const char *kg_events_query_value(const struct kg_req *req, const char *name)
{
	size_t i;

	for (i = 0; i < req->n_query; i++)
		if (strcmp(req->query[i].name, name) == 0)
			return req->query[i].value ? req->query[i].value : "";
	return NULL;
}

/* ---- the read (store thread) ----------------------------------------------------------------- */

static int one_int(sqlite3 *db, const char *sql, long long *v, bool *null)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);

	*v = 0;
	*null = true;
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*null = sqlite3_column_type(s, 0) == SQLITE_NULL;
		*v = (long long)sqlite3_column_int64(s, 0);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	return rc;
}

/* The oldest kept id, or with nothing kept the next id to come. */
static int oldest_id(sqlite3 *db, long long *oldest)
{
	long long seq;
	bool null;
	int rc = one_int(db, "SELECT MIN(id) FROM events", oldest, &null);

	if (rc != SQLITE_OK || !null)
		return rc;
	rc = one_int(db, "SELECT seq FROM sqlite_sequence WHERE name = 'events'", &seq, &null);
	*oldest = null ? 1 : seq + 1;
	return rc;
}

/* The events after fr->after into fr->page; fr->after becomes the next cursor. */
static int read_page(sqlite3 *db, struct feed_req *fr)
{
	sqlite3_stmt *s = NULL;
	long long last = fr->after, max;
	bool null;
	int rc = sqlite3_prepare_v2(db,
	                            fr->by_user ? "SELECT id, body FROM events WHERE id > ?1 AND"
	                                          " user_locator = ?3 ORDER BY id LIMIT ?2"
	                                        : "SELECT id, body FROM events WHERE id > ?1"
	                                          " ORDER BY id LIMIT ?2",
	                            -1, &s, NULL);

	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)fr->after);
	sqlite3_bind_int(s, 2, (int)fr->limit);
	if (fr->by_user)
		sqlite3_bind_text(s, 3, fr->loc, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (fr->n > 0)
			kg_buf_add(&fr->page, ",", 1);
		kg_buf_add(&fr->page, sqlite3_column_text(s, 1),
		           (size_t)sqlite3_column_bytes(s, 1));
		last = (long long)sqlite3_column_int64(s, 0);
		fr->n++;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return rc;
	rc = SQLITE_OK;
	if (fr->page.failed)
		return SQLITE_NOMEM;
	/* Filtered and not full: every id up to the newest was scanned (others' events are not
	 * read again). */
	if (fr->by_user && fr->n < fr->limit) {
		rc = one_int(db, "SELECT MAX(id) FROM events", &max, &null);
		if (rc == SQLITE_OK && !null && max > last)
			last = max;
	}
	fr->after = last;
	return rc;
}

static int feed_run(sqlite3 *db, struct kg_store_job *job)
{
	struct feed_req *fr = job->owner;
	int rc;

	kg_buf_cleanup(&fr->page);
	fr->n = 0;
	rc = oldest_id(db, &fr->oldest);
	if (rc != SQLITE_OK)
		return rc;
	if (!fr->after_given) {
		fr->after = fr->oldest - 1;
		fr->after_given = true;
	} else if (fr->after + 1 < fr->oldest) {
		fr->expired = true;
		return SQLITE_OK;
	}
	return read_page(db, fr);
}

/* ---- waiting ------------------------------------------------------------------------------- */

static void unlist(struct kg_events *ev, struct feed_req *fr)
{
	if (!fr->listed)
		return;
	if (fr->prev != NULL)
		fr->prev->next = fr->next;
	else
		ev->waiters = fr->next;
	if (fr->next != NULL)
		fr->next->prev = fr->prev;
	fr->prev = fr->next = NULL;
	fr->listed = false;
}

static void feed_done(struct kg_store_job *job);

/* Hands fr's read to the store; when it cannot, the request wakes with the store down. */
static void submit_read(struct feed_req *fr)
{
	memset(&fr->job, 0, sizeof(fr->job));
	fr->job.op = KG_STORE_RUN;
	fr->job.run = feed_run;
	fr->job.done = feed_done;
	fr->job.owner = fr;
	if (kg_store_submit(fr->ev->gw->store, &fr->job) != KG_OK) {
		fr->job.result = KG_STORE_DOWN;
		kg_req_wake(fr->req);
	}
}

/* Store thread: a read ended. Nothing new for a waiting request: it joins the waiters (or reads
 * again at once when an event committed meanwhile); else it wakes. */
static void feed_done(struct kg_store_job *job)
{
	struct feed_req *fr = job->owner;
	struct kg_events *ev = fr->ev;

	if (job->result != KG_STORE_OK || fr->n > 0 || fr->expired || !fr->wait) {
		kg_req_wake(fr->req);
		return;
	}
	pthread_mutex_lock(&ev->mu);
	if (ev->ending || ev->stopping || kg_now_ms() >= fr->deadline_ms) {
		pthread_mutex_unlock(&ev->mu);
		kg_req_wake(fr->req);
		return;
	}
	if (ev->last_id > fr->after) {
		pthread_mutex_unlock(&ev->mu);
		submit_read(fr);
		return;
	}
	fr->listed = true;
	fr->prev = NULL;
	fr->next = ev->waiters;
	if (ev->waiters != NULL)
		ev->waiters->prev = fr;
	ev->waiters = fr;
	pthread_cond_broadcast(&ev->cv); /* a new deadline */
	pthread_mutex_unlock(&ev->mu);
}

void kg_feed_committed(struct kg_events *ev, long long id)
{
	struct feed_req *fr, *next;

	pthread_mutex_lock(&ev->mu);
	if (id > ev->last_id)
		ev->last_id = id;
	for (fr = ev->waiters; fr != NULL; fr = next) {
		next = fr->next;
		if (fr->after >= id)
			continue;
		unlist(ev, fr);
		submit_read(fr);
	}
	pthread_mutex_unlock(&ev->mu);
}

/* The waiters' thread: answers those whose wait is over or whose client hung up, and all of
 * them when draining. */
static void *feed_thread(void *arg)
{
	struct kg_events *ev = arg;

	pthread_mutex_lock(&ev->mu);
	while (!ev->stopping) {
		unsigned long long now = kg_now_ms(), wake = now + KG_FEED_PEEK_MS;
		struct feed_req *fr, *next;
		struct timespec ts;

		for (fr = ev->waiters; fr != NULL; fr = next) {
			next = fr->next;
			if (ev->ending || now >= fr->deadline_ms ||
			    kg_longpoll_client_gone(fr->req->fd)) {
				unlist(ev, fr);
				kg_req_wake(fr->req);
			} else if (fr->deadline_ms < wake) {
				wake = fr->deadline_ms;
			}
		}
		if (ev->waiters == NULL && !ev->ending) {
			pthread_cond_wait(&ev->cv, &ev->mu);
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)((wake - now) / 1000);
		ts.tv_nsec += (long)((wake - now) % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (!ev->ending)
			pthread_cond_timedwait(&ev->cv, &ev->mu, &ts);
		else
			pthread_cond_wait(&ev->cv, &ev->mu);
	}
	pthread_mutex_unlock(&ev->mu);
	return NULL;
}

bool kg_feed_start(struct kg_events *ev)
{
	ev->thread_started = pthread_create(&ev->thread, NULL, feed_thread, ev) == 0;
	return ev->thread_started;
}

void kg_feed_stop(struct kg_events *ev)
{
	pthread_mutex_lock(&ev->mu);
	ev->stopping = true;
	pthread_cond_broadcast(&ev->cv);
	pthread_mutex_unlock(&ev->mu);
	if (ev->thread_started)
		pthread_join(ev->thread, NULL);
	ev->thread_started = false;
}

void kg_events_drain(struct kg_gateway *gw)
{
	struct kg_events *ev = gw->events;

	if (ev == NULL)
		return;
	pthread_mutex_lock(&ev->mu);
	ev->ending = true;
	pthread_cond_broadcast(&ev->cv);
	pthread_mutex_unlock(&ev->mu);
}

/* ---- the route ------------------------------------------------------------------------------ */

static void feed_end(struct kg_req *req)
{
	struct feed_req *fr = req->work;

	if (fr == NULL)
		return;
	kg_buf_cleanup(&fr->page);
	kg_wipe(fr->loc, sizeof(fr->loc));
	free(fr);
	req->work = NULL;
}

/* The store is needed: 503 store-disabled or store-unavailable in req->reply (false). */
bool kg_events_store_ready(struct kg_req *req)
{
	if (req->gw->store == NULL || req->gw->events == NULL) {
		kg_reply_problem(req, KG_PB_STORE_DISABLED, 0,
		                 "this route needs the store (store.driver is none)", NULL);
		return false;
	}
	if (!kg_store_up(req->gw->store)) {
		kg_reply_problem(req, KG_PB_STORE_UNAVAILABLE, 0,
		                 "the store that keeps events is not available; retry later", NULL);
		req->reply.retry_after_s = 5;
		return false;
	}
	return true;
}

static bool fill_query(struct kg_req *req, struct feed_req *fr)
{
	const char *v;
	long long n;
	size_t len = 0;

	fr->limit = KG_FEED_DEFAULT_LIMIT;
	if ((v = kg_events_query_value(req, "limit")) != NULL && parse_dec(v, &n))
		fr->limit = (unsigned)n;
	if ((v = kg_events_query_value(req, "after")) != NULL && parse_dec(v, &n)) {
		fr->after_given = true;
		fr->after = n;
	}
	if ((v = kg_events_query_value(req, "userLocator")) != NULL) {
		if (kg_pct_decode(v, strlen(v), fr->loc, sizeof(fr->loc), &len) != KG_OK)
			return false;
		fr->by_user = true;
	}
	fr->wait = req->wait_given && req->wait_s > 0 && !atomic_load(&req->gw->closing);
	fr->deadline_ms = req->wait_deadline_ms;
	return true;
}

bool kg_events_feed_begin(struct kg_req *req)
{
	struct feed_req *fr;

	if (!kg_events_store_ready(req))
		return false;
	fr = calloc(1, sizeof(*fr));
	if (fr == NULL) {
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
		return false;
	}
	fr->req = req;
	fr->ev = req->gw->events;
	kg_buf_init(&fr->page, (size_t)KG_FEED_MAX_LIMIT * KG_EVENTS_MAX_BODY_BYTES);
	req->work = fr;
	req->work_end = feed_end;
	if (!fill_query(req, fr)) {
		kg_reply_problem(req, KG_PB_INVALID_REQUEST, 0, "userLocator: not a valid locator",
		                 NULL);
		return false;
	}
	return !fr->wait || kg_handle_waiting_enter(req);
}

void kg_events_feed_submit(struct kg_req *req)
{
	submit_read(req->work);
}

/* The page as the reply: {"events": [...], "next": "<id>"}. */
static void reply_page(struct kg_req *req, struct feed_req *fr)
{
	char tail[48];
	struct kg_buf b;

	kg_buf_init(&b, fr->page.max + 64);
	snprintf(tail, sizeof(tail), "],\"next\":\"%lld\"}", fr->after);
	kg_buf_add_str(&b, "{\"events\":[");
	kg_buf_add(&b, fr->page.data, fr->page.len);
	kg_buf_add_str(&b, tail);
	if (b.failed) {
		kg_buf_cleanup(&b);
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
		return;
	}
	kg_reply_json(req, 200, b.data, b.len);
}

bool kg_events_feed_resumed(struct kg_req *req)
{
	struct feed_req *fr = req->work;
	char oldest[24];

	if (fr->job.result != KG_STORE_OK) {
		kg_reply_problem(req, KG_PB_STORE_UNAVAILABLE, 0,
		                 "the store that keeps events is not available; retry later", NULL);
		req->reply.retry_after_s = 5;
		return false;
	}
	if (fr->expired) {
		struct kg_problem_args a = {
		    .kind = KG_PB_CURSOR_EXPIRED,
		    .detail = "events after this cursor were purged (events.retention_days); read "
		              "the current states, then follow the feed from oldestId - 1",
		    .oldest_id = oldest,
		};

		snprintf(oldest, sizeof(oldest), "%lld", fr->oldest);
		kg_reply_problem_args(req, &a);
		return false;
	}
	reply_page(req, fr);
	return false;
}

/* ---- retention ------------------------------------------------------------------------------ */

int kg_events_purge(struct sqlite3 *db, void *ctx)
{
	struct kg_events *ev = ctx;
	unsigned long long keep_ms = atomic_load(&ev->retention_days) * 86400000ull;
	unsigned long long now = kg_wall_ms(), cut = now > keep_ms ? now - keep_ms : 0;
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, "DELETE FROM events WHERE created_ms < ?1", -1, &s, NULL);

	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)cut);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return rc;
	/* Users no longer watched and not observed within retention (a PUT's country alone has
	 * no observed_ms: it goes with them). */
	rc = sqlite3_prepare_v2(db,
	                        "DELETE FROM states WHERE COALESCE(observed_ms, 0) < ?1 AND"
	                        " user_locator NOT IN (SELECT user_locator FROM watches)",
	                        -1, &s, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)cut);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}
