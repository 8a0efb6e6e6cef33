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
 * below max_watches that its job turns into a row. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "events.h"
#include "gateway.h"
#include "kycgate/answer.h"
#include "kycgate/log.h"
#include "kycgate/metrics.h"
#include "kycgate/normalize.h"
#include "kycgate/validate.h"
#include "routes.h"
#include "watch.h"

#define WATCH_TICK_MS 500             /* the scheduler looks for due watches this often */
#define WATCH_MAX_DUE 64              /* due watches read per tick */
#define WATCH_MAX_INFLIGHT 16         /* polls in the engine at once (they use max_inflight) */
#define WATCH_POLL_DEADLINE_MS 300000 /* a poll still waiting for budget ends (retried later) */
#define WATCH_LEASE_MS 600000         /* a poll's lease: longer than any poll can run */
#define WATCH_PURGE_MS 60000          /* how often watches past max_age_days are looked for */
#define WATCH_TRIGGER_GRACE_MS 60000  /* trigger-verification this soon: still in review */
#define WATCH_SET_BUCKETS 65536       /* the in-memory set of watched users */

enum kind { K_AUTOMATIC = 0, K_EXPLICIT };
static const char *const kind_names[] = {"automatic", "explicit"};

struct node {
	uint64_t h;
	struct node *next;
};

/* One poll in the engine, then its end as a store job. */
struct poll {
	struct kg_up_call call; /* call.user_key: the locator */
	struct kg_store_job job;
	struct kg_watches *w;
	unsigned products;
	struct poll *next; /* in w->polls */
};

struct kg_watches {
	struct kg_gateway *gw;
	atomic_int hook; /* the scheduler's store hook, -1 when none (read by request threads) */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool load_done;         /* under mu: the start's load job ran */
	struct node **set;      /* under mu: the watched users */
	unsigned rows;          /* under mu: rows of the table */
	unsigned reserved;      /* under mu: places promised to triggers whose job has not run */
	unsigned by_kind[2];    /* under mu: rows by kind, for kycgate_watches */
	struct poll *polls;     /* under mu: polls in flight */
	unsigned n_polls;       /* under mu */
	unsigned long long seq; /* under mu: numbers the polls' request ids */
	bool loaded;            /* store thread: the set and counts match the table */
	unsigned long long next_purge_ms; /* store thread */
	/* events.watch, replaced by a reload. */
	_Atomic unsigned long long initial_ms, max_ms, settled_ms, max_age_ms;
	atomic_uint max_watches;
};

/* One row of the watches table. */
struct row {
	enum kind kind;
	unsigned products; /* 0: every product */
	unsigned long long since_ms, trigger_ms, next_poll_ms, interval_ms, observed_ms;
	char overall[32]; /* "" when never observed */
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
	const struct node *n;

	for (n = w->set[h % WATCH_SET_BUCKETS]; n != NULL; n = n->next)
		if (n->h == h)
			return true;
	return false;
}

/* A row was inserted (under mu). Out of memory leaves the user out of the set: a trigger then
 * reserves a place it does not need, which its job gives back. */
static void set_add(struct kg_watches *w, uint64_t h, enum kind k)
{
	struct node *n = malloc(sizeof(*n));

	w->rows++;
	w->by_kind[k]++;
	if (n == NULL)
		return;
	n->h = h;
	n->next = w->set[h % WATCH_SET_BUCKETS];
	w->set[h % WATCH_SET_BUCKETS] = n;
}

/* A row was deleted (under mu). */
static void set_del(struct kg_watches *w, uint64_t h, enum kind k)
{
	struct node **pp = &w->set[h % WATCH_SET_BUCKETS], *n;

	w->rows--;
	w->by_kind[k]--;
	for (; (n = *pp) != NULL; pp = &n->next)
		if (n->h == h) {
			*pp = n->next;
			free(n);
			return;
		}
}

/* Empties the set and the counts (under mu), before they are loaded again. */
static void set_clear(struct kg_watches *w)
{
	size_t b;

	for (b = 0; b < WATCH_SET_BUCKETS; b++) {
		struct node *n, *next;

		for (n = w->set[b]; n != NULL; n = next) {
			next = n->next;
			free(n);
		}
		w->set[b] = NULL;
	}
	w->rows = w->by_kind[K_AUTOMATIC] = w->by_kind[K_EXPLICIT] = 0;
}

static void publish(struct kg_watches *w)
{
	kg_metrics_gauge_set(KG_GAUGE_WATCHES_AUTOMATIC, w->by_kind[K_AUTOMATIC]);
	kg_metrics_gauge_set(KG_GAUGE_WATCHES_EXPLICIT, w->by_kind[K_EXPLICIT]);
}

static void counted(struct kg_watches *w, const char *loc, enum kind k, bool added)
{
	pthread_mutex_lock(&w->mu);
	if (added)
		set_add(w, loc_hash(loc), k);
	else
		set_del(w, loc_hash(loc), k);
	publish(w);
	pthread_mutex_unlock(&w->mu);
}

/* ---- rows ---------------------------------------------------------------------------------- */

static int step_done(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static unsigned products_of(const unsigned char *csv)
{
	unsigned mask = 0;

	if (csv == NULL ||
	    kg_products_parse((const char *)csv, strlen((const char *)csv), &mask) != KG_OK)
		return 0;
	return mask;
}

/* "onramp,offramp" of a mask into out (cap bytes); "" for 0 (every product). */
static void products_csv(unsigned mask, char *out, size_t cap)
{
	const char *const *names = kg_product_names();
	size_t used = 0;
	int i;

	out[0] = '\0';
	for (i = 0; i < KG_PRODUCT_COUNT; i++)
		if (mask & (1u << i))
			used += (size_t)snprintf(out + used, used < cap ? cap - used : 0, "%s%s",
			                         used ? "," : "", names[i]);
}

/* Reads loc's row into r; *found false when there is none. */
static int row_get(sqlite3 *db, const char *loc, struct row *r, bool *found)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db,
	                            "SELECT kind, products, since_ms, trigger_ms, next_poll_ms,"
	                            " interval_ms, last_overall, last_observed_ms FROM watches"
	                            " WHERE user_locator = ?1",
	                            -1, &s, NULL);
	const unsigned char *t;

	*found = false;
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(s, 1, loc, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*found = true;
		t = sqlite3_column_text(s, 0);
		r->kind = t != NULL && strcmp((const char *)t, "explicit") == 0 ? K_EXPLICIT
		                                                                : K_AUTOMATIC;
		r->products = products_of(sqlite3_column_text(s, 1));
		r->since_ms = (unsigned long long)sqlite3_column_int64(s, 2);
		r->trigger_ms = (unsigned long long)sqlite3_column_int64(s, 3);
		r->next_poll_ms = (unsigned long long)sqlite3_column_int64(s, 4);
		r->interval_ms = (unsigned long long)sqlite3_column_int64(s, 5);
		t = sqlite3_column_text(s, 6);
		snprintf(r->overall, sizeof(r->overall), "%s", t ? (const char *)t : "");
		r->observed_ms = (unsigned long long)sqlite3_column_int64(s, 7);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	return rc;
}

static int row_insert(sqlite3 *db, struct kg_watches *w, const char *loc, enum kind k,
                      unsigned products, unsigned long long now)
{
	unsigned long long initial = atomic_load(&w->initial_ms);
	char csv[96];
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(
	    db,
	    "INSERT INTO watches (user_locator, kind, products, since_ms, trigger_ms,"
	    " next_poll_ms, interval_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	    -1, &s, NULL);

	if (rc != SQLITE_OK)
		return rc;
	products_csv(products, csv, sizeof(csv));
	sqlite3_bind_text(s, 1, loc, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, kind_names[k], -1, SQLITE_STATIC);
	if (csv[0] != '\0')
		sqlite3_bind_text(s, 3, csv, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)now);
	if (k == K_AUTOMATIC)
		sqlite3_bind_int64(s, 5, (sqlite3_int64)now);
	sqlite3_bind_int64(s, 6, (sqlite3_int64)(now + initial));
	sqlite3_bind_int64(s, 7, (sqlite3_int64)initial);
	rc = step_done(s);
	if (rc == SQLITE_OK)
		counted(w, loc, k, true);
	return rc;
}

static int row_delete(sqlite3 *db, struct kg_watches *w, const char *loc, enum kind k)
{
	sqlite3_stmt *s = NULL;
	int rc =
	    sqlite3_prepare_v2(db, "DELETE FROM watches WHERE user_locator = ?1", -1, &s, NULL);

	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(s, 1, loc, -1, SQLITE_STATIC);
	rc = step_done(s);
	if (rc == SQLITE_OK && sqlite3_changes(db) > 0)
		counted(w, loc, k, false);
	return rc;
}

/* Writes r's schedule and observation back; a poll's lease ends with it when clear_lease. */
static int row_schedule(sqlite3 *db, const char *loc, const struct row *r, bool clear_lease)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(
	    db,
	    "UPDATE watches SET next_poll_ms = ?2, interval_ms = ?3, last_overall = ?4,"
	    " last_observed_ms = ?5, lease_until_ms = CASE WHEN ?6 THEN NULL ELSE lease_until_ms"
	    " END WHERE user_locator = ?1",
	    -1, &s, NULL);

	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(s, 1, loc, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)r->next_poll_ms);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)r->interval_ms);
	if (r->overall[0] != '\0')
		sqlite3_bind_text(s, 4, r->overall, -1, SQLITE_STATIC);
	if (r->observed_ms != 0)
		sqlite3_bind_int64(s, 5, (sqlite3_int64)r->observed_ms);
	sqlite3_bind_int(s, 6, clear_lease);
	return step_done(s);
}

/* ---- observations -------------------------------------------------------------------------- */

/* Settled: nextAction is neither wait nor, within WATCH_TRIGGER_GRACE_MS of the trigger,
 * trigger-verification (Crossmint may take a moment to start). */
static bool settled(const struct row *r, const char *next_action, unsigned long long at_ms)
{
	if (strcmp(next_action, "wait") == 0)
		return false;
	return !(strcmp(next_action, "trigger-verification") == 0 && r->trigger_ms != 0 &&
	         at_ms < r->trigger_ms + WATCH_TRIGGER_GRACE_MS);
}

/* Applies one observation of loc to its watch, if any. A poll's own (poll) doubles the interval
 * while in review and ends the poll's lease; any other read only pushes the next poll back. An
 * automatic watch of a settled user ends; an explicit one goes to poll_settled_s. */
static int observe(sqlite3 *db, struct kg_watches *w, const char *loc, const char *overall,
                   const char *next_action, unsigned long long at_ms, bool poll)
{
	unsigned long long now = kg_wall_ms(), max = atomic_load(&w->max_ms), next;
	struct row r;
	bool found;
	int rc = row_get(db, loc, &r, &found);

	if (rc != SQLITE_OK || !found)
		return rc;
	if (settled(&r, next_action, at_ms)) {
		if (r.kind == K_AUTOMATIC)
			return row_delete(db, w, loc, r.kind);
		r.interval_ms = atomic_load(&w->settled_ms);
	} else if (r.interval_ms > max) { /* settled before, in review again */
		r.interval_ms = atomic_load(&w->initial_ms);
	} else if (poll) {
		r.interval_ms = r.interval_ms * 2 < max ? r.interval_ms * 2 : max;
	}
	next = (poll ? now : at_ms) + r.interval_ms;
	if (poll || next > r.next_poll_ms)
		r.next_poll_ms = next;
	if (at_ms >= r.observed_ms) {
		snprintf(r.overall, sizeof(r.overall), "%s", overall);
		r.observed_ms = at_ms;
	}
	return row_schedule(db, loc, &r, poll);
}

/* An observation over every product of a watch scoped to some (?products of its PUT or
 * trigger) says nothing of its scope: it only pushes the next poll back, and the watch's own
 * polls, read over its scope, decide when it is settled. */
static int push_back(sqlite3 *db, const char *loc, struct row *r, unsigned long long at_ms)
{
	if (r->next_poll_ms >= at_ms + r->interval_ms)
		return SQLITE_OK;
	r->next_poll_ms = at_ms + r->interval_ms;
	return row_schedule(db, loc, r, false);
}

int kg_watch_observed(struct sqlite3 *db, struct kg_gateway *gw, const char *loc,
                      const char *overall, const char *next_action, unsigned long long observed_ms)
{
	struct row r;
	bool found;
	int rc;

	if (gw == NULL || gw->watches == NULL || loc == NULL || overall == NULL ||
	    next_action == NULL)
		return SQLITE_OK;
	rc = row_get(db, loc, &r, &found);
	if (rc != SQLITE_OK || !found)
		return rc;
	if (r.products != 0)
		return push_back(db, loc, &r, observed_ms);
	return observe(db, gw->watches, loc, overall, next_action, observed_ms, false);
}

/* overall and nextAction of a status answer over products (0: all), into the two buffers;
 * false when the answer is not a good eligibility answer. Store thread (it normalizes). */
static bool answer_state(struct kg_watches *w, struct kg_answer *a, const char *loc,
                         unsigned products, char overall[32], char next_action[32])
{
	struct kg_view v = {
	    .locator = loc, .environment = kg_env_name(w->gw->environment), .products = products};
	struct json_object *o = NULL, *x;
	const char *detail = NULL;
	char *bytes = NULL;
	size_t len = 0;
	bool in_review = false, ok = false;

	if (a == NULL || kg_answer_status(a) != 200 ||
	    kg_answer_view(a, &v, &bytes, &len, &in_review, &detail) != KG_OK)
		return false;
	o = json_tokener_parse(bytes);
	if (json_object_object_get_ex(o, "overall", &x) &&
	    json_object_is_type(x, json_type_string)) {
		snprintf(overall, 32, "%s", json_object_get_string(x));
		ok = json_object_object_get_ex(o, "nextAction", &x) &&
		     json_object_is_type(x, json_type_string);
		if (ok)
			snprintf(next_action, 32, "%s", json_object_get_string(x));
	}
	json_object_put(o);
	kg_wipe(bytes, len);
	free(bytes);
	return ok;
}

/* ---- polls --------------------------------------------------------------------------------- */

static void poll_free(struct poll *p)
{
	struct kg_watches *w = p->w;
	struct poll **pp;

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
	struct poll *p = job->owner;
	const char *loc = p->call.user_key;
	char overall[32], next_action[32];
	struct row r;
	bool found;
	int rc;

	if (p->call.result == KG_UP_OK &&
	    answer_state(p->w, p->call.answer, loc, p->products, overall, next_action))
		return observe(db, p->w, loc, overall, next_action, kg_wall_ms(), true);
	rc = row_get(db, loc, &r, &found);
	if (rc != SQLITE_OK || !found)
		return rc;
	r.next_poll_ms = kg_wall_ms() + r.interval_ms;
	return row_schedule(db, loc, &r, true);
}

static void poll_job_done(struct kg_store_job *job)
{
	poll_free(job->owner);
}

/* Engine thread: hands the poll's end to the store. At shutdown nothing is written: the lease is
 * dropped at the next start. */
static void poll_done(struct kg_up_call *call)
{
	struct poll *p = call->owner;

	p->job.op = KG_STORE_RUN;
	p->job.run = poll_end;
	p->job.done = poll_job_done;
	p->job.owner = p;
	if (call->result == KG_UP_SHUTDOWN || kg_store_submit(p->w->gw->store, &p->job) != KG_OK)
		poll_free(p);
}

/* A new poll of loc, registered in flight; NULL when out of memory or the path is too long. */
static struct poll *poll_new(struct kg_watches *w, const char *loc, unsigned products)
{
	struct poll *p = calloc(1, sizeof(*p));
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
	return step_done(s);
}

/* Leases loc's watch and hands its poll to the engine. False when the engine refuses a place
 * (max_inflight: tried again at the next tick). */
static bool poll_start(sqlite3 *db, struct kg_watches *w, const char *loc, unsigned products,
                       unsigned long long now, int *rc)
{
	struct poll *p;

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
		products[(*got)++] = products_of(sqlite3_column_text(s, 1));
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
 * stuck, and the bound keeps rows of personal data from living for ever). */
static int purge(sqlite3 *db, struct kg_watches *w, unsigned long long now)
{
	unsigned long long age = atomic_load(&w->max_age_ms);
	char loc[KG_MAX_LOCATOR_BYTES + 1];
	sqlite3_stmt *s = NULL;
	enum kind k;
	int rc;

	do {
		rc = sqlite3_prepare_v2(db,
		                        "SELECT user_locator, kind FROM watches WHERE since_ms < ?1"
		                        " LIMIT 1",
		                        -1, &s, NULL);
		if (rc != SQLITE_OK)
			return rc;
		sqlite3_bind_int64(s, 1, (sqlite3_int64)(now > age ? now - age : 0));
		rc = sqlite3_step(s);
		if (rc != SQLITE_ROW) {
			sqlite3_finalize(s);
			return rc == SQLITE_DONE ? SQLITE_OK : rc;
		}
		snprintf(loc, sizeof(loc), "%s", (const char *)sqlite3_column_text(s, 0));
		k = strcmp((const char *)sqlite3_column_text(s, 1), "explicit") == 0 ? K_EXPLICIT
		                                                                     : K_AUTOMATIC;
		sqlite3_finalize(s);
		rc = row_delete(db, w, loc, k);
	} while (rc == SQLITE_OK);
	kg_wipe(loc, sizeof(loc));
	return rc;
}

/* The set and counts from the table; the leases of a previous process are dropped (its polls
 * are gone), so an overdue watch polls at the first tick. */
static int load(sqlite3 *db, struct kg_watches *w)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_exec(db, "UPDATE watches SET lease_until_ms = NULL", NULL, NULL, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "SELECT user_locator, kind FROM watches", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return rc;
	pthread_mutex_lock(&w->mu);
	set_clear(w); /* a load that failed half-way may have counted some rows */
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(s, 1);

		set_add(w, loc_hash((const char *)sqlite3_column_text(s, 0)),
		        k != NULL && strcmp(k, "explicit") == 0 ? K_EXPLICIT : K_AUTOMATIC);
	}
	publish(w);
	pthread_mutex_unlock(&w->mu);
	sqlite3_finalize(s);
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
	int rc = SQLITE_OK;

	if (!w->loaded)
		rc = load(db, w);
	if (rc == SQLITE_OK && now >= w->next_purge_ms) {
		rc = purge(db, w, now);
		w->next_purge_ms = now + WATCH_PURGE_MS;
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

static int set_trigger(sqlite3 *db, struct kg_watches *w, const char *loc, const struct row *r,
                       unsigned products, unsigned long long now)
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
	sqlite3_bind_int(s, 3, r->kind == K_AUTOMATIC);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)initial);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)(now + initial));
	products_csv(products, csv, sizeof(csv));
	if (csv[0] != '\0')
		sqlite3_bind_text(s, 6, csv, -1, SQLITE_STATIC);
	return step_done(s);
}

static int trigger_run(sqlite3 *db, struct kg_store_job *job)
{
	struct trigger *t = job->owner;
	struct kg_watches *w = t->w;
	unsigned long long now = kg_wall_ms();
	char overall[32], next_action[32];
	struct row r;
	bool found, room;
	int rc;

	pthread_mutex_lock(&w->mu);
	if (t->reserved)
		w->reserved--;
	room = t->reserved || w->rows + w->reserved < atomic_load(&w->max_watches);
	t->reserved = false; /* given back: a row takes its place below */
	pthread_mutex_unlock(&w->mu);
	rc = row_get(db, t->loc, &r, &found);
	if (rc == SQLITE_OK && found)
		rc = set_trigger(db, w, t->loc, &r, t->products, now);
	else if (rc == SQLITE_OK && room)
		rc = row_insert(db, w, t->loc, K_AUTOMATIC, t->products, now);
	if (rc == SQLITE_OK && found && r.kind == K_EXPLICIT)
		t->products = r.products; /* an explicit watch keeps its own scope */
	if (rc == SQLITE_OK &&
	    answer_state(w, t->answer, t->loc, t->products, overall, next_action))
		rc = observe(db, w, t->loc, overall, next_action, now, false);
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

/* ---- the routes' store work ---------------------------------------------------------------- */

/* "2026-11-25T21:00:00Z" of a wall-clock millisecond time. */
static struct json_object *rfc3339(unsigned long long ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[32];

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return NULL;
	return json_object_new_string(buf);
}

/* The view of GET .../watch: {"userLocator", "kind", "since", "nextPollAt", "lastObserved":
 * {"overall", "at"} | null, "products": [names in scope]} as new bytes into job->body. */
static int view(struct kg_store_job *job, const char *loc, const struct row *r)
{
	const char *const *names = kg_product_names();
	struct json_object *o = json_object_new_object(), *last = NULL, *prods;
	const char *bytes;
	size_t len = 0;
	int i;

	json_object_object_add(o, "userLocator", json_object_new_string(loc));
	json_object_object_add(o, "kind", json_object_new_string(kind_names[r->kind]));
	json_object_object_add(o, "since", rfc3339(r->since_ms));
	json_object_object_add(o, "nextPollAt", rfc3339(r->next_poll_ms));
	if (r->overall[0] != '\0') {
		last = json_object_new_object();
		json_object_object_add(last, "overall", json_object_new_string(r->overall));
		json_object_object_add(last, "at", rfc3339(r->observed_ms));
	}
	json_object_object_add(o, "lastObserved", last);
	prods = json_object_new_array();
	for (i = 0; i < KG_PRODUCT_COUNT; i++)
		if (r->products == 0 || (r->products & (1u << i)))
			json_object_array_add(prods, json_object_new_string(names[i]));
	json_object_object_add(o, "products", prods);
	bytes = json_object_to_json_string_length(
	    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	job->body = bytes != NULL ? malloc(len + 1) : NULL;
	if (job->body != NULL) {
		memcpy(job->body, bytes, len + 1);
		job->body_len = len;
		job->status = 200;
	}
	kg_wipe((char *)bytes, len);
	json_object_put(o);
	return job->body != NULL ? SQLITE_OK : SQLITE_NOMEM;
}

static int set_explicit(sqlite3 *db, struct kg_watches *w, const char *loc, struct row *r,
                        unsigned products)
{
	char csv[96];
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(
	    db, "UPDATE watches SET kind = 'explicit', products = ?2 WHERE user_locator = ?1", -1,
	    &s, NULL);

	if (rc != SQLITE_OK)
		return rc;
	products_csv(products, csv, sizeof(csv));
	sqlite3_bind_text(s, 1, loc, -1, SQLITE_STATIC);
	if (csv[0] != '\0')
		sqlite3_bind_text(s, 2, csv, -1, SQLITE_STATIC);
	rc = step_done(s);
	if (rc == SQLITE_OK && r->kind == K_AUTOMATIC) {
		pthread_mutex_lock(&w->mu);
		w->by_kind[K_AUTOMATIC]--;
		w->by_kind[K_EXPLICIT]++;
		publish(w);
		pthread_mutex_unlock(&w->mu);
	}
	r->kind = K_EXPLICIT;
	r->products = products;
	return rc;
}

/* PUT: creates the explicit watch, or makes the user's watch explicit (never the reverse). */
static int route_put(sqlite3 *db, struct kg_watches *w, struct kg_store_job *job, const char *loc,
                     unsigned products)
{
	unsigned long long now = kg_wall_ms();
	struct row r;
	bool found, room;
	int rc = row_get(db, loc, &r, &found);

	if (rc != SQLITE_OK)
		return rc;
	if (found) {
		rc = set_explicit(db, w, loc, &r, products);
		return rc == SQLITE_OK ? view(job, loc, &r) : rc;
	}
	pthread_mutex_lock(&w->mu);
	room = w->rows + w->reserved < atomic_load(&w->max_watches);
	pthread_mutex_unlock(&w->mu);
	if (!room) {
		job->status = 503;
		return SQLITE_OK;
	}
	rc = row_insert(db, w, loc, K_EXPLICIT, products, now);
	if (rc == SQLITE_OK)
		rc = row_get(db, loc, &r, &found);
	if (rc == SQLITE_OK)
		kg_store_kick(w->gw->store, atomic_load(&w->hook));
	return rc == SQLITE_OK ? view(job, loc, &r) : rc;
}

int kg_watch_route_run(struct sqlite3 *db, struct kg_store_job *job)
{
	struct kg_req *req = job->owner;
	struct kg_watches *w = req->gw->watches;
	const char *loc = kg_handle_param(req, KG_PARAM_LOCATOR, NULL);
	struct row r;
	bool found;
	int rc;

	job->status = 404;
	if (w == NULL || loc == NULL)
		return SQLITE_MISUSE;
	if (strcmp(req->method, "PUT") == 0)
		return route_put(db, w, job, loc, req->products);
	rc = row_get(db, loc, &r, &found);
	if (rc != SQLITE_OK || !found)
		return rc;
	if (strcmp(req->method, "DELETE") == 0) {
		rc = row_delete(db, w, loc, r.kind);
		job->status = 204;
		return rc;
	}
	return view(job, loc, &r);
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
