/* Watches (design §10): kycgate polls a watched user's status on its own, so that reads happen
 * (and events.c records them) without a caller polling.
 *
 * A watch is a row of the watches table, so it survives a restart. The store thread owns every
 * row: the scheduler is a store hook (every WATCH_TICK_MS, and kicked when a watch is created)
 * that reads the due watches in next_poll_ms order, leases each (lease_until_ms: it is not read
 * again while its poll runs) and hands a status read (a watch poll: single flight, the watch
 * share of the read budget) to the engine. The poll's end comes back as a store job that applies
 * what was read: the next poll (doubling while in review, poll_settled_s once settled), the last
 * observed overall, and the end of an automatic watch whose user settled. A failed poll is
 * retried after the current interval, never dropped. Any other read of the user (events.c calls
 * kg_watch_observed) pushes the next poll back.
 *
 * The trigger (routes_verification.c) must say at once whether its user is watched, without a
 * disk read in series: the store thread keeps in memory the set of watched users (64-bit hashes
 * of their locators, never the locators) and the count of rows, loaded from the table at start
 * and changed with every insert and delete; a trigger of a user not in the set reserves a place
 * below max_watches that its job turns into a row.
 *
 * This file: the set, the polls, the scheduler, the trigger, the lifecycle; watch_rows.c: the
 * table's rows, what an observation does to a watch, the routes' store work. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "gateway.h"
#include "kycgate/answer.h"
#include "kycgate/metrics.h"
#include "kycgate/validate.h"
#include "routes.h"
#include "watch.h"
#include "watch_internal.h"

#define WATCH_TICK_MS 500             /* the scheduler looks for due watches this often */
#define WATCH_MAX_DUE 64              /* due watches read per tick */
#define WATCH_MAX_INFLIGHT 16         /* polls in the engine at once (they use max_inflight) */
#define WATCH_POLL_DEADLINE_MS 300000 /* a poll still waiting for budget ends (retried later) */
#define WATCH_LEASE_MS 600000         /* a poll's lease: longer than any poll can run */
#define WATCH_PURGE_MS 60000          /* how often watches past max_age_days are looked for */
#define WATCH_PURGE_BATCH 256         /* watches past max_age_days ended per tick at most */
#define WATCH_SET_BUCKETS 65536       /* the in-memory set of watched users */

const char *const watch_kind_names[] = {"automatic", "explicit"};

struct watch_node {
	uint64_t h;
	struct watch_node *next;
};

/* One poll in the engine, then its end as a store job. */
struct watch_poll {
	struct kg_up_call call; /* call.user_key: the locator */
	struct kg_store_job job;
	struct kg_watches *w;
	unsigned products;
	struct watch_poll *next; /* in w->polls */
};

/* ---- the in-memory set and counts ---------------------------------------------------------- */

static uint64_t loc_hash(const char *loc)
{
	uint64_t h = 1469598103934665603ull;

	for (; *loc != '\0'; loc++)
		h = (h ^ (unsigned char)*loc) * 1099511628211ull;
	return h;
}

static bool set_has(const struct kg_watches *w, uint64_t h)
{
	const struct watch_node *n;

	for (n = w->set[h % WATCH_SET_BUCKETS]; n != NULL; n = n->next)
		if (n->h == h)
			return true;
	return false;
}

/* A node's hash is of a locator, unkeyed: guessing candidates finds the locator back. */
static void node_free(struct watch_node *n)
{
	kg_wipe(&n->h, sizeof(n->h));
	free(n);
}

/* A row was inserted (under mu). Out of memory leaves the user out of the set: a trigger then
 * reserves a place it does not need, which its job gives back. */
static void set_add(struct kg_watches *w, uint64_t h, enum watch_kind k)
{
	struct watch_node *n = malloc(sizeof(*n));

	w->rows++;
	w->by_kind[k]++;
	if (n == NULL)
		return;
	n->h = h;
	n->next = w->set[h % WATCH_SET_BUCKETS];
	w->set[h % WATCH_SET_BUCKETS] = n;
}

/* A row was deleted (under mu). */
static void set_del(struct kg_watches *w, uint64_t h, enum watch_kind k)
{
	struct watch_node **pp = &w->set[h % WATCH_SET_BUCKETS], *n;

	w->rows--;
	w->by_kind[k]--;
	for (; (n = *pp) != NULL; pp = &n->next)
		if (n->h == h) {
			*pp = n->next;
			node_free(n);
			return;
		}
}

/* Empties the set and the counts (under mu), before they are loaded again. */
static void set_clear(struct kg_watches *w)
{
	size_t b;

	for (b = 0; b < WATCH_SET_BUCKETS; b++) {
		struct watch_node *n, *next;

		for (n = w->set[b]; n != NULL; n = next) {
			next = n->next;
			node_free(n);
		}
		w->set[b] = NULL;
	}
	w->rows = w->by_kind[WATCH_AUTOMATIC] = w->by_kind[WATCH_EXPLICIT] = 0;
}

static void publish(struct kg_watches *w)
{
	kg_metrics_gauge_set(KG_GAUGE_WATCHES_AUTOMATIC, w->by_kind[WATCH_AUTOMATIC]);
	kg_metrics_gauge_set(KG_GAUGE_WATCHES_EXPLICIT, w->by_kind[WATCH_EXPLICIT]);
}

void watch_counted(struct kg_watches *w, const char *loc, enum watch_kind k, bool added)
{
	pthread_mutex_lock(&w->mu);
	if (added)
		set_add(w, loc_hash(loc), k);
	else
		set_del(w, loc_hash(loc), k);
	publish(w);
	pthread_mutex_unlock(&w->mu);
}

void watch_kind_changed(struct kg_watches *w, enum watch_kind from, enum watch_kind to)
{
	pthread_mutex_lock(&w->mu);
	w->by_kind[from]--;
	w->by_kind[to]++;
	publish(w);
	pthread_mutex_unlock(&w->mu);
}

/* ---- polls --------------------------------------------------------------------------------- */

static void poll_free(struct watch_poll *p)
{
	struct kg_watches *w = p->w;
	struct watch_poll **pp;

	pthread_mutex_lock(&w->mu);
	for (pp = &w->polls; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			w->n_polls--;
			break;
		}
	pthread_mutex_unlock(&w->mu);
	kg_up_call_cleanup(&p->call);
	kg_wipe(p, sizeof(*p));
	free(p);
}

/* Store thread: a poll ended. A good answer is an observation (the poll's own); anything else
 * (a failure, a timeout, a 404, budget still short at the deadline) is retried after the current
 * interval. */
static int poll_end(sqlite3 *db, struct kg_store_job *job)
{
	struct watch_poll *p = job->owner;
	const char *loc = p->call.user_key;
	char overall[32], next_action[32];
	struct watch_row r;
	bool found;
	int rc;

	if (p->call.result == KG_UP_OK &&
	    watch_answer_state(p->w, p->call.answer, loc, p->products, overall, next_action))
		return watch_observe(db, p->w, loc, overall, next_action, kg_wall_ms(), true);
	rc = watch_row_get(db, loc, &r, &found);
	if (rc != SQLITE_OK || !found)
		return rc;
	r.next_poll_ms = kg_wall_ms() + r.interval_ms;
	return watch_row_schedule(db, loc, &r, true);
}

static void poll_job_done(struct kg_store_job *job)
{
	poll_free(job->owner);
}

/* Engine thread: hands the poll's end to the store. At shutdown nothing is written: the lease is
 * dropped at the next start. */
static void poll_done(struct kg_up_call *call)
{
	struct watch_poll *p = call->owner;

	p->job.op = KG_STORE_RUN;
	p->job.run = poll_end;
	p->job.done = poll_job_done;
	p->job.owner = p;
	if (call->result == KG_UP_SHUTDOWN || kg_store_submit(p->w->gw->store, &p->job) != KG_OK)
		poll_free(p);
}

/* A new poll of loc, registered in flight; NULL when out of memory or the path is too long. */
static struct watch_poll *poll_new(struct kg_watches *w, const char *loc, unsigned products)
{
	struct watch_poll *p = calloc(1, sizeof(*p));
	size_t n;

	if (p == NULL)
		return NULL;
	p->w = w;
	p->products = products;
	p->call.method = "GET";
	p->call.kind = KG_CALL_STATUS_READ;
	p->call.watch_poll = true;
	p->call.deadline_ms = kg_now_ms() + WATCH_POLL_DEADLINE_MS;
	p->call.done = poll_done;
	p->call.owner = p;
	snprintf(p->call.user_key, sizeof(p->call.user_key), "%s", loc);
	memcpy(p->call.path, "/users/", 7);
	n = kg_path_encode(loc, strlen(loc), true, p->call.path + 7, sizeof(p->call.path) - 7);
	if (n == 0 || 7 + n + sizeof("/identity-verification") > sizeof(p->call.path)) {
		kg_wipe(p, sizeof(*p)); /* the locator is in user_key and part of the path */
		free(p);
		return NULL;
	}
	memcpy(p->call.path + 7 + n, "/identity-verification", sizeof("/identity-verification"));
	pthread_mutex_lock(&w->mu);
	snprintf(p->call.request_id, sizeof(p->call.request_id), "watch-poll-%llu", ++w->seq);
	p->next = w->polls;
	w->polls = p;
	w->n_polls++;
	pthread_mutex_unlock(&w->mu);
	return p;
}

static int lease(sqlite3 *db, const char *loc, unsigned long long until)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(
	    db, "UPDATE watches SET lease_until_ms = ?2 WHERE user_locator = ?1", -1, &s, NULL);

	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(s, 1, loc, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)until);
	return watch_step_done(s);
}

/* Leases loc's watch and hands its poll to the engine. False when the engine refuses a place
 * (max_inflight: tried again at the next tick). */
static bool poll_start(sqlite3 *db, struct kg_watches *w, const char *loc, unsigned products,
                       unsigned long long now, int *rc)
{
	struct watch_poll *p;

	/* Not over the cap: polls are background work, and a caller must never find
	 * crossmint.max_inflight taken by them (WATCH_MAX_INFLIGHT bounds their share). */
	if (kg_upstream_reserve(w->gw->up, false) != KG_OK)
		return false;
	p = poll_new(w, loc, products);
	*rc = p != NULL ? lease(db, loc, now + WATCH_LEASE_MS) : SQLITE_OK;
	if (p == NULL || *rc != SQLITE_OK) {
		kg_upstream_release(w->gw->up);
		if (p != NULL)
			poll_free(p);
		return p != NULL;
	}
	kg_upstream_submit(w->gw->up, &p->call);
	return true;
}

/* ---- the scheduler ------------------------------------------------------------------------- */

/* The due watches (at most n, oldest first, not leased) into locs / products; *got how many. */
static int due(sqlite3 *db, unsigned long long now, unsigned n,
               char (*locs)[KG_MAX_LOCATOR_BYTES + 1], unsigned *products, unsigned *got)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(
	    db,
	    "SELECT user_locator, products FROM watches WHERE next_poll_ms <= ?1 AND"
	    " (lease_until_ms IS NULL OR lease_until_ms <= ?1) ORDER BY next_poll_ms LIMIT ?2",
	    -1, &s, NULL);

	*got = 0;
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)now);
	sqlite3_bind_int(s, 2, (int)n);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(s, 0);

		snprintf(locs[*got], KG_MAX_LOCATOR_BYTES + 1, "%s", t ? (const char *)t : "");
		products[(*got)++] = watch_products_of(sqlite3_column_text(s, 1));
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* kycgate_watch_lag_seconds: how overdue the most overdue watch is (0 when none is). */
static int lag(sqlite3 *db, unsigned long long now)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT MIN(next_poll_ms) FROM watches", -1, &s, NULL);
	long long late = 0;

	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
		late = (long long)now - (long long)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	kg_metrics_gauge_set(KG_GAUGE_WATCH_LAG_MS, late > 0 ? late : 0);
	return rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* Ends the watches older than max_age_days (of either kind: a user in review that long is
 * stuck, and the bound keeps rows of personal data from living for ever), at most
 * WATCH_PURGE_BATCH a tick: a mass expiry (a bulk import 90 days ago) must not hold the store
 * thread, which every request's store work waits behind. *more: a full batch ended, look again
 * at the next tick. */
static int purge(sqlite3 *db, struct kg_watches *w, unsigned long long now, bool *more)
{
	static char locs[WATCH_PURGE_BATCH][KG_MAX_LOCATOR_BYTES + 1]; /* store thread only */
	enum watch_kind kinds[WATCH_PURGE_BATCH];
	unsigned long long age = atomic_load(&w->max_age_ms);
	sqlite3_stmt *s = NULL;
	unsigned got = 0, i;
	int rc = sqlite3_prepare_v2(db,
	                            "SELECT user_locator, kind FROM watches WHERE since_ms < ?1"
	                            " LIMIT ?2",
	                            -1, &s, NULL);

	*more = false;
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)(now > age ? now - age : 0));
	sqlite3_bind_int(s, 2, WATCH_PURGE_BATCH);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *loc = (const char *)sqlite3_column_text(s, 0);
		const char *k = (const char *)sqlite3_column_text(s, 1);

		snprintf(locs[got], sizeof(locs[got]), "%s", loc ? loc : "");
		kinds[got++] =
		    k != NULL && strcmp(k, "explicit") == 0 ? WATCH_EXPLICIT : WATCH_AUTOMATIC;
	}
	sqlite3_finalize(s);
	rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	for (i = 0; i < got && rc == SQLITE_OK; i++)
		rc = watch_row_delete(db, w, locs[i], kinds[i]);
	kg_wipe(locs, sizeof(locs[0]) * got);
	*more = rc == SQLITE_OK && got == WATCH_PURGE_BATCH;
	return rc;
}

/* The set and counts from the table; the first time, the leases of a previous process are
 * dropped (its polls are gone), so an overdue watch polls at the first tick. A later load (after
 * a rollback) keeps them: they are this process's polls in flight. */
static int load(sqlite3 *db, struct kg_watches *w)
{
	struct kg_watches fresh; /* only its set and counts */
	struct watch_node **old;
	sqlite3_stmt *s = NULL;
	int rc = SQLITE_OK;

	if (!w->leases_dropped)
		rc = sqlite3_exec(db, "UPDATE watches SET lease_until_ms = NULL", NULL, NULL, NULL);
	w->leases_dropped = rc == SQLITE_OK;
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "SELECT user_locator, kind FROM watches", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return rc;
	/* Built off the lock and swapped in: a trigger (request thread) takes w->mu and must not
	 * wait while this reads the disk, and a load that fails half-way changes nothing. */
	memset(&fresh, 0, sizeof(fresh));
	fresh.set = calloc(WATCH_SET_BUCKETS, sizeof(*fresh.set));
	if (fresh.set == NULL) {
		sqlite3_finalize(s);
		return SQLITE_NOMEM;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(s, 1);

		set_add(&fresh, loc_hash((const char *)sqlite3_column_text(s, 0)),
		        k != NULL && strcmp(k, "explicit") == 0 ? WATCH_EXPLICIT : WATCH_AUTOMATIC);
	}
	sqlite3_finalize(s);
	if (rc == SQLITE_DONE) {
		pthread_mutex_lock(&w->mu);
		old = w->set;
		w->set = fresh.set;
		w->rows = fresh.rows;
		w->by_kind[WATCH_AUTOMATIC] = fresh.by_kind[WATCH_AUTOMATIC];
		w->by_kind[WATCH_EXPLICIT] = fresh.by_kind[WATCH_EXPLICIT];
		publish(w);
		pthread_mutex_unlock(&w->mu);
		fresh.set = old;
	}
	set_clear(&fresh);
	free(fresh.set);
	w->loaded = rc == SQLITE_DONE;
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Starts the polls of the due watches, as many as free places. */
static int start_due(sqlite3 *db, struct kg_watches *w, unsigned long long now)
{
	static char locs[WATCH_MAX_DUE][KG_MAX_LOCATOR_BYTES + 1]; /* store thread only */
	unsigned products[WATCH_MAX_DUE], got = 0, i, free_places;
	int rc;

	pthread_mutex_lock(&w->mu);
	free_places = WATCH_MAX_INFLIGHT - w->n_polls;
	pthread_mutex_unlock(&w->mu);
	if (free_places == 0)
		return SQLITE_OK;
	rc = due(db, now, free_places < WATCH_MAX_DUE ? free_places : WATCH_MAX_DUE, locs, products,
	         &got);
	for (i = 0; i < got && rc == SQLITE_OK; i++)
		if (!poll_start(db, w, locs[i], products[i], now, &rc))
			break;
	kg_wipe(locs, sizeof(locs));
	return rc;
}

static int tick(sqlite3 *db, void *ctx)
{
	struct kg_watches *w = ctx;
	unsigned long long now = kg_wall_ms();
	bool more = false;
	int rc = SQLITE_OK;

	if (!w->loaded)
		rc = load(db, w);
	if (rc == SQLITE_OK && now >= w->next_purge_ms) {
		rc = purge(db, w, now, &more);
		w->next_purge_ms = more ? now : now + WATCH_PURGE_MS;
	}
	if (rc == SQLITE_OK)
		rc = lag(db, now);
	if (rc == SQLITE_OK)
		rc = start_due(db, w, now);
	return rc;
}

/* ---- the trigger --------------------------------------------------------------------------- */

/* A trigger's job: owns a copy of the locator and a reference to the answer. */
struct trigger {
	struct kg_store_job job;
	struct kg_watches *w;
	struct kg_answer *answer; /* or NULL */
	unsigned products;        /* the trigger's ?products (0: all): the watch's scope */
	bool reserved;            /* holds a place of w->reserved */
	char loc[KG_MAX_LOCATOR_BYTES + 1];
};

static int set_trigger(sqlite3 *db, struct kg_watches *w, const char *loc,
                       const struct watch_row *r, unsigned products, unsigned long long now)
{
	char csv[96];
	sqlite3_stmt *s = NULL;
	unsigned long long initial = atomic_load(&w->initial_ms);
	int rc = sqlite3_prepare_v2(
	    db,
	    "UPDATE watches SET trigger_ms = ?2, interval_ms = CASE WHEN ?3 THEN ?4 ELSE"
	    " interval_ms END, next_poll_ms = CASE WHEN ?3 THEN ?5 ELSE next_poll_ms END,"
	    " products = CASE WHEN ?3 THEN ?6 ELSE products END WHERE user_locator = ?1",
	    -1, &s, NULL);

	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(s, 1, loc, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)now);
	/* An automatic watch starts its cadence again; an explicit one keeps its own. */
	sqlite3_bind_int(s, 3, r->kind == WATCH_AUTOMATIC);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)initial);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)(now + initial));
	watch_products_csv(products, csv, sizeof(csv));
	if (csv[0] != '\0')
		sqlite3_bind_text(s, 6, csv, -1, SQLITE_STATIC);
	return watch_step_done(s);
}

static int trigger_run(sqlite3 *db, struct kg_store_job *job)
{
	struct trigger *t = job->owner;
	struct kg_watches *w = t->w;
	unsigned long long now = kg_wall_ms();
	char overall[32], next_action[32];
	struct watch_row r;
	bool found, room;
	int rc;

	pthread_mutex_lock(&w->mu);
	if (t->reserved)
		w->reserved--;
	room = t->reserved || w->rows + w->reserved < atomic_load(&w->max_watches);
	t->reserved = false; /* given back: a row takes its place below */
	pthread_mutex_unlock(&w->mu);
	rc = watch_row_get(db, t->loc, &r, &found);
	if (rc == SQLITE_OK && found)
		rc = set_trigger(db, w, t->loc, &r, t->products, now);
	else if (rc == SQLITE_OK && room)
		rc = watch_row_insert(db, w, t->loc, WATCH_AUTOMATIC, t->products, now);
	if (rc == SQLITE_OK && found && r.kind == WATCH_EXPLICIT)
		t->products = r.products; /* an explicit watch keeps its own scope */
	if (rc == SQLITE_OK &&
	    watch_answer_state(w, t->answer, t->loc, t->products, overall, next_action))
		rc = watch_observe(db, w, t->loc, overall, next_action, now, false);
	return rc;
}

static void trigger_done(struct kg_store_job *job)
{
	struct trigger *t = job->owner;

	if (t->reserved) { /* the job never ran (the store is down or stopping) */
		pthread_mutex_lock(&t->w->mu);
		t->w->reserved--;
		pthread_mutex_unlock(&t->w->mu);
	}
	kg_answer_put(t->answer);
	kg_wipe(t, sizeof(*t));
	free(t);
}

bool kg_watch_triggered(struct kg_req *req, struct kg_answer *a)
{
	struct kg_watches *w = req->gw->watches;
	const char *loc = kg_handle_param(req, KG_PARAM_LOCATOR, NULL);
	struct trigger *t;
	bool watched;

	if (w == NULL || loc == NULL || !kg_store_up(req->gw->store))
		return false;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return false;
	pthread_mutex_lock(&w->mu);
	watched = set_has(w, loc_hash(loc));
	if (!watched && w->rows + w->reserved < atomic_load(&w->max_watches)) {
		w->reserved++;
		t->reserved = watched = true;
	}
	pthread_mutex_unlock(&w->mu);
	t->w = w;
	t->answer = a != NULL ? kg_answer_ref(a) : NULL;
	t->products = req->products;
	snprintf(t->loc, sizeof(t->loc), "%s", loc);
	t->job.op = KG_STORE_RUN;
	t->job.run = trigger_run;
	t->job.done = trigger_done;
	t->job.owner = t;
	if (kg_store_submit(req->gw->store, &t->job) != KG_OK) {
		trigger_done(&t->job);
		return false;
	}
	kg_store_kick(req->gw->store, atomic_load(&w->hook));
	return watched;
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

static void apply(struct kg_watches *w, const struct kg_config *cfg)
{
	atomic_store(&w->initial_ms, 1000ull * cfg->events.watch.poll_initial_s);
	atomic_store(&w->max_ms, 1000ull * cfg->events.watch.poll_max_s);
	atomic_store(&w->settled_ms, 1000ull * cfg->events.watch.poll_settled_s);
	atomic_store(&w->max_age_ms, 86400000ull * cfg->events.watch.max_age_days);
	atomic_store(&w->max_watches, cfg->events.watch.max_watches);
}

static int load_run(sqlite3 *db, struct kg_store_job *job)
{
	return load(db, job->owner);
}

static void load_done(struct kg_store_job *job)
{
	struct kg_watches *w = job->owner;

	pthread_mutex_lock(&w->mu);
	w->load_done = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

bool kg_watches_start(struct kg_gateway *gw, const struct kg_config *cfg, char *err, size_t errcap)
{
	struct kg_watches *w;
	struct kg_store_job job = {.op = KG_STORE_RUN, .run = load_run, .done = load_done};

	if (gw->store == NULL)
		return true;
	w = calloc(1, sizeof(*w));
	if (w == NULL || (w->set = calloc(WATCH_SET_BUCKETS, sizeof(*w->set))) == NULL) {
		free(w);
		snprintf(err, errcap, "out of memory");
		return false;
	}
	w->gw = gw;
	atomic_init(&w->hook, -1);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	apply(w, cfg);
	gw->watches = w;
	/* The set and counts are loaded before the first request (the main thread may wait on
	 * the disk at start); a store that is down loads them at its first tick once up. */
	job.owner = w;
	if (kg_store_submit(gw->store, &job) == KG_OK) {
		pthread_mutex_lock(&w->mu);
		while (!w->load_done)
			pthread_cond_wait(&w->cv, &w->mu);
		pthread_mutex_unlock(&w->mu);
	}
	atomic_store(&w->hook, kg_store_every(gw->store, WATCH_TICK_MS, tick, w));
	if (atomic_load(&w->hook) < 0) {
		snprintf(err, errcap, "no store hook is free for the watch scheduler");
		return false;
	}
	return true;
}

void kg_watches_resync(struct kg_gateway *gw)
{
	struct kg_watches *w = gw != NULL ? gw->watches : NULL;

	if (w == NULL)
		return;
	w->loaded = false;
	kg_store_kick(gw->store, atomic_load(&w->hook));
}

void kg_watches_reconfigure(struct kg_gateway *gw, const struct kg_config *cfg)
{
	if (gw->watches != NULL)
		apply(gw->watches, cfg);
}

void kg_watches_stop(struct kg_gateway *gw)
{
	if (gw->watches == NULL)
		return;
	kg_store_cancel(gw->store, atomic_exchange(&gw->watches->hook, -1));
}

void kg_watches_free(struct kg_gateway *gw)
{
	struct kg_watches *w = gw->watches;

	if (w == NULL)
		return;
	set_clear(w);
	free(w->set);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
	gw->watches = NULL;
}
