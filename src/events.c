/* Observations and events (design §10): every successful eligibility read of a user (a status
 * read Crossmint answered 200, or a trigger whose answer held eligibility) is an observation. The
 * engine's observer only queues it as a store job; on the store thread it is normalized over all
 * products (with the user's remembered country), compared with the user's stored state, and, in
 * one transaction, recorded: an event when something that matters changed (or on the first
 * observation of the user), the new state, the user's watch, the webhook deliveries. After the
 * commit the feed's waiters wake and the webhook dispatcher is kicked.
 *
 * The comparison looks at overall, each product's status and upstreamStatus, and the sets of
 * requirement codes and of each product's failure codes; anything else (a requirement's
 * acceptedDocumentTypes after a country change, a failure message reworded) records no event. An
 * observation that started before the stored one (a slow read that finished late) is dropped,
 * unless the stored time is ahead of the wall clock (the clock was stepped back).
 *
 * Observations are dropped, and counted in kycgate_events_observations_dropped_total, when the
 * store is down or its queue is full: the next observation catches the change. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events_internal.h"
#include "gateway.h"
#include "kycgate/answer.h"
#include "kycgate/json.h"
#include "kycgate/log.h"
#include "kycgate/metrics.h"
#include "kycgate/normalize.h"
#include "routes.h"

/* One observation on its way to the store. */
struct obs {
	struct kg_store_job job;
	struct kg_events *ev;
	struct kg_answer *answer;       /* a reference */
	unsigned long long observed_ms; /* kg_wall_ms() the read started */
	char loc[KG_MAX_LOCATOR_BYTES + 1];
};

int kg_events_exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static void obs_free(struct obs *o)
{
	kg_answer_put(o->answer);
	kg_wipe(o->loc, sizeof(o->loc));
	free(o);
}

/* ---- the stored state ------------------------------------------------------------------- */

/* What is stored for one user (each NULL or 0 when absent). */
struct stored {
	bool found;
	char country[3];
	struct json_object *answer; /* the last recorded §3 answer, parsed */
	unsigned long long observed_ms;
};

static int stored_read(sqlite3 *db, const char *loc, struct stored *s)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db,
	                            "SELECT country, answer, observed_ms FROM states"
	                            " WHERE user_locator = ?1",
	                            -1, &st, NULL);
	const char *detail;

	memset(s, 0, sizeof(*s));
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(st, 1, loc, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *c = sqlite3_column_text(st, 0);
		const char *a = (const char *)sqlite3_column_text(st, 1);

		s->found = true;
		if (c != NULL && strlen((const char *)c) == 2)
			memcpy(s->country, c, 3);
		if (a != NULL &&
		    kg_json_parse(a, (size_t)sqlite3_column_bytes(st, 1), KG_MAX_JSON_DEPTH * 2,
		                  &s->answer, &detail, NULL) != KG_OK)
			s->answer = NULL; /* unreadable: the next observation records an event */
		s->observed_ms = (unsigned long long)sqlite3_column_int64(st, 2);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* ---- comparison ------------------------------------------------------------------------- */

static const char *str_of(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Every "code" (prefixed by its "kind" when it has one) of array arr of a is found in the
 * corresponding array of b. */
static bool codes_within(struct json_object *arr_a, struct json_object *arr_b)
{
	size_t i, j, na = json_object_array_length(arr_a), nb = json_object_array_length(arr_b);

	for (i = 0; i < na; i++) {
		struct json_object *x = json_object_array_get_idx(arr_a, i);
		bool found = false;

		for (j = 0; j < nb && !found; j++) {
			struct json_object *y = json_object_array_get_idx(arr_b, j);

			found = same_str(str_of(x, "code"), str_of(y, "code")) &&
			        same_str(str_of(x, "kind"), str_of(y, "kind"));
		}
		if (!found)
			return false;
	}
	return true;
}

static struct json_object *arr_of(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (o != NULL && json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_array))
		return v;
	return NULL;
}

static bool same_codes(struct json_object *a, struct json_object *b, const char *key)
{
	struct json_object *x = arr_of(a, key), *y = arr_of(b, key);
	struct json_object *empty = json_object_new_array();
	bool same;

	if (empty == NULL)
		return false;
	x = x ? x : empty;
	y = y ? y : empty;
	same = codes_within(x, y) && codes_within(y, x);
	json_object_put(empty);
	return same;
}

static struct json_object *obj_of(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (o != NULL && json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_object))
		return v;
	return NULL;
}

/* Every product of pa is in pb with the same status, upstreamStatus and failure codes. */
static bool products_within(struct json_object *pa, struct json_object *pb)
{
	json_object_object_foreach(pa, name, x)
	{
		struct json_object *y = obj_of(pb, name);

		if (y == NULL || !same_str(str_of(x, "status"), str_of(y, "status")) ||
		    !same_str(str_of(x, "upstreamStatus"), str_of(y, "upstreamStatus")) ||
		    !same_codes(x, y, "failureReasons"))
			return false;
	}
	return true;
}

/* True when the two §3 answers differ in what records an event (see the top of the file). */
static bool changed(struct json_object *old, struct json_object *now)
{
	struct json_object *po = obj_of(old, "products"), *pn = obj_of(now, "products");

	if (old == NULL || po == NULL || pn == NULL)
		return true;
	return !same_str(str_of(old, "overall"), str_of(now, "overall")) ||
	       !products_within(po, pn) || !products_within(pn, po) ||
	       !same_codes(old, now, "requirements");
}

/* ---- building what is stored -------------------------------------------------------------- */

/* The §3 summary {overall, products: {name: status}} of answer a; NULL when out of memory. */
static struct json_object *summary_of(struct json_object *a)
{
	struct json_object *s = json_object_new_object(), *p = json_object_new_object();
	struct json_object *prods = obj_of(a, "products");
	const char *overall = str_of(a, "overall");

	if (s == NULL || p == NULL)
		goto fail;
	if (prods != NULL) {
		json_object_object_foreach(prods, name, v)
		{
			const char *st = str_of(v, "status");

			if (json_object_object_add(p, name, json_object_new_string(st ? st : "")) !=
			    0)
				goto fail;
		}
	}
	if (json_object_object_add(s, "overall",
	                           json_object_new_string(overall ? overall : "unknown")) != 0)
		goto fail;
	json_object_object_add(s, "products", p);
	return s;
fail:
	json_object_put(p);
	json_object_put(s);
	return NULL;
}

/* "YYYY-MM-DDTHH:MM:SSZ" of wall-clock milliseconds ms into buf (21 bytes). */
void kg_events_stamp(unsigned long long ms, char buf[21])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) != 20)
		snprintf(buf, 21, "1970-01-01T00:00:00Z");
}

/* The event's JSON (design §10): new bytes (wipe and free), NULL when out of memory. */
static char *event_body(const struct obs *o, long long id, unsigned long long created_ms,
                        struct json_object *now, struct json_object *old, size_t *len)
{
	struct json_object *e = json_object_new_object(), *prev = NULL;
	char ids[24], when[21];
	char *bytes = NULL;

	if (e == NULL)
		return NULL;
	snprintf(ids, sizeof(ids), "%lld", id);
	kg_events_stamp(created_ms, when);
	if (old != NULL && (prev = summary_of(old)) == NULL)
		goto out;
	json_object_object_add(e, "id", json_object_new_string(ids));
	json_object_object_add(e, "type", json_object_new_string("verification.updated"));
	json_object_object_add(e, "createdAt", json_object_new_string(when));
	json_object_object_add(e, "environment", json_object_new_string(o->ev->environment));
	json_object_object_add(e, "userLocator", json_object_new_string(o->loc));
	json_object_object_add(e, "data", json_object_get(now));
	json_object_object_add(e, "previous", prev); /* NULL: JSON null */
	bytes = kg_json_to_bytes(e, len);
out:
	json_object_put(e);
	return bytes;
}

/* The §3 answer of the observation over all products, without observedAt and
 * pollAfterSeconds; NULL when Crossmint's answer is junk (not an observation) or out of memory.
 */
static struct json_object *normalize(const struct obs *o, const char *country)
{
	struct kg_norm_opts opts = {
	    .locator = o->loc,
	    .environment = o->ev->environment,
	    .country = country[0] ? country : NULL,
	    .observed_at = (time_t)(o->observed_ms / 1000),
	};
	struct json_object *up = NULL, *norm = NULL;
	const char *detail;
	size_t len;
	const char *body = kg_answer_body(o->answer, &len);

	if (len == 0 ||
	    kg_json_parse(body, len, KG_MAX_JSON_DEPTH * 2, &up, &detail, NULL) != KG_OK)
		return NULL;
	if (kg_normalize(up, &opts, &norm, &detail) != KG_OK)
		norm = NULL;
	json_object_put(up);
	if (norm != NULL) {
		json_object_object_del(norm, "observedAt");
		json_object_object_del(norm, "pollAfterSeconds");
	}
	return norm;
}

/* ---- recording ------------------------------------------------------------------------------ */

static int step_done(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Inserts the event and writes its body (the id is known only after the insert); *id. */
static int insert_event(sqlite3 *db, const struct obs *o, unsigned long long created_ms,
                        struct json_object *now, struct json_object *old, long long *id)
{
	sqlite3_stmt *s = NULL;
	size_t len = 0;
	char *body;
	int rc = sqlite3_prepare_v2(db,
	                            "INSERT INTO events (type, created_ms, user_locator, body)"
	                            " VALUES ('verification.updated', ?1, ?2, '')",
	                            -1, &s, NULL);

	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)created_ms);
	sqlite3_bind_text(s, 2, o->loc, -1, SQLITE_STATIC);
	rc = step_done(s);
	if (rc != SQLITE_OK)
		return rc;
	*id = (long long)sqlite3_last_insert_rowid(db);
	body = event_body(o, *id, created_ms, now, old, &len);
	if (body == NULL)
		return SQLITE_NOMEM;
	rc = sqlite3_prepare_v2(db, "UPDATE events SET body = ?1 WHERE id = ?2", -1, &s, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(s, 1, body, (int)len, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)*id);
		rc = step_done(s);
	}
	kg_json_free_bytes(body, len);
	return rc;
}

/* Upserts the user's state (the country, set by PUTs, is kept). */
static int upsert_state(sqlite3 *db, const struct obs *o, struct json_object *now)
{
	struct json_object *sum = summary_of(now);
	size_t alen = 0, slen = 0;
	char *a = kg_json_to_bytes(now, &alen), *sm = sum ? kg_json_to_bytes(sum, &slen) : NULL;
	const char *overall = str_of(now, "overall");
	sqlite3_stmt *s = NULL;
	int rc = SQLITE_NOMEM;

	if (a == NULL || sm == NULL)
		goto out;
	rc = sqlite3_prepare_v2(
	    db,
	    "INSERT INTO states (user_locator, overall, summary, answer, observed_ms)"
	    " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (user_locator) DO UPDATE SET"
	    " overall = excluded.overall, summary = excluded.summary, answer = excluded.answer,"
	    " observed_ms = excluded.observed_ms",
	    -1, &s, NULL);
	if (rc != SQLITE_OK)
		goto out;
	sqlite3_bind_text(s, 1, o->loc, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, overall ? overall : "unknown", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, sm, (int)slen, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, a, (int)alen, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)o->observed_ms);
	rc = step_done(s);
out:
	kg_json_free_bytes(a, alen);
	kg_json_free_bytes(sm, slen);
	json_object_put(sum);
	return rc;
}

/* Inside the transaction: the event (when something changed), the state, the watch, the
 * deliveries. *id is the event's id, 0 when none was recorded. */
static int record(sqlite3 *db, struct obs *o, struct json_object *now, struct json_object *old,
                  bool first, long long *id)
{
	unsigned long long created_ms = kg_wall_ms();
	const char *overall = str_of(now, "overall"), *next = str_of(now, "nextAction");
	int rc = SQLITE_OK;

	*id = 0;
	if (first || changed(old, now))
		rc = insert_event(db, o, created_ms, now, old, id);
	if (rc == SQLITE_OK)
		rc = upsert_state(db, o, now);
	if (rc == SQLITE_OK)
		rc = kg_watch_observed(db, o->ev->gw, o->loc, overall ? overall : "unknown",
		                       next ? next : "contact-support", o->observed_ms);
	if (rc == SQLITE_OK && *id > 0)
		rc = kg_webhooks_on_event(db, o->ev->gw, *id, o->loc, created_ms);
	return rc;
}

/* Store thread: compare and record one observation in one transaction. */
static int obs_run(sqlite3 *db, struct kg_store_job *job)
{
	struct obs *o = job->owner;
	struct json_object *now = NULL;
	struct stored s;
	long long id = 0;
	int rc = kg_events_exec(db, "BEGIN IMMEDIATE");

	if (rc != SQLITE_OK)
		return rc;
	rc = stored_read(db, o->loc, &s);
	/* A newer observation is stored already: this one is stale. A stored time ahead of the
	 * wall clock says the clock was stepped back, and orders nothing: dropping every read
	 * until the clock caught up would record no change for that long. */
	if (rc != SQLITE_OK || (s.found && s.answer != NULL && s.observed_ms > o->observed_ms &&
	                        s.observed_ms <= kg_wall_ms()))
		goto end;
	now = normalize(o, s.country);
	if (now == NULL)
		goto end; /* Crossmint's answer is junk: no observation (the reader got a 502) */
	rc = record(db, o, now, s.answer, !s.found || s.answer == NULL, &id);
end:
	if (rc == SQLITE_OK)
		rc = kg_events_exec(db, "COMMIT");
	if (rc != SQLITE_OK) {
		kg_events_exec(db, "ROLLBACK");
		/* The watch it may have ended (watch_counted already) is back in the table. */
		kg_watches_resync(o->ev->gw);
		id = 0;
	}
	json_object_put(now);
	json_object_put(s.answer);
	if (id > 0) {
		kg_metrics_event_recorded();
		kg_feed_committed(o->ev, id);
		kg_webhooks_kick(o->ev->gw);
	}
	return rc;
}

static void obs_done(struct kg_store_job *job)
{
	struct obs *o = job->owner;

	if (job->result == KG_STORE_DOWN)
		kg_metrics_observation_dropped();
	obs_free(o);
}

void kg_events_observe(struct kg_gateway *gw, const char *loc, struct kg_answer *answer,
                       unsigned long long started_wall_ms)
{
	struct kg_events *ev = gw->events;
	struct obs *o;

	if (ev == NULL || answer == NULL)
		return;
	if (!kg_store_up(gw->store) || (o = calloc(1, sizeof(*o))) == NULL) {
		kg_metrics_observation_dropped();
		return;
	}
	o->ev = ev;
	o->answer = kg_answer_ref(answer);
	o->observed_ms = started_wall_ms;
	snprintf(o->loc, sizeof(o->loc), "%s", loc);
	o->job.op = KG_STORE_RUN;
	o->job.run = obs_run;
	o->job.done = obs_done;
	o->job.owner = o;
	if (kg_store_submit(gw->store, &o->job) != KG_OK) {
		kg_metrics_observation_dropped();
		obs_free(o);
	}
}

/* The engine's observer: a successful status read. */
static void on_read(void *ctx, const char *user_key, struct kg_answer *answer,
                    unsigned long long started_wall_ms)
{
	kg_events_observe(ctx, user_key, answer, started_wall_ms);
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

/* At start: the newest event id, so the feed knows where it stands. */
static int last_id_run(sqlite3 *db, struct kg_store_job *job)
{
	struct kg_events *ev = job->owner;
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(id), 0) FROM events", -1, &s, NULL);

	if (rc != SQLITE_OK)
		return rc;
	if (sqlite3_step(s) == SQLITE_ROW)
		kg_feed_committed(ev, (long long)sqlite3_column_int64(s, 0));
	sqlite3_finalize(s);
	return SQLITE_OK;
}

static void last_id_done(struct kg_store_job *job)
{
	free(job);
}

bool kg_events_start(struct kg_gateway *gw, const struct kg_config *cfg, char *err, size_t errcap)
{
	struct kg_events *ev;
	struct kg_store_job *job;

	if (gw->store == NULL)
		return true;
	ev = calloc(1, sizeof(*ev));
	if (ev == NULL) {
		snprintf(err, errcap, "out of memory");
		return false;
	}
	ev->gw = gw;
	ev->environment = kg_env_name(gw->environment);
	atomic_init(&ev->retention_days, cfg->events.retention_days);
	ev->purge_hook = -1;
	pthread_mutex_init(&ev->mu, NULL);
	pthread_cond_init(&ev->cv, NULL);
	gw->events = ev;
	if (!kg_feed_start(ev)) {
		snprintf(err, errcap, "cannot start the event feed's thread");
		return false;
	}
	job = calloc(1, sizeof(*job));
	if (job != NULL) {
		job->op = KG_STORE_RUN;
		job->run = last_id_run;
		job->done = last_id_done;
		job->owner = ev;
		if (kg_store_submit(gw->store, job) != KG_OK)
			free(job);
	}
	ev->purge_hook = kg_store_every(gw->store, KG_EVENTS_PURGE_MS, kg_events_purge, ev);
	kg_store_kick(gw->store, ev->purge_hook); /* and at start */
	kg_upstream_set_observer(gw->up, on_read, gw);
	return true;
}

void kg_events_reconfigure(struct kg_gateway *gw, const struct kg_config *cfg)
{
	if (gw->events != NULL)
		atomic_store(&gw->events->retention_days, cfg->events.retention_days);
}

void kg_events_stop(struct kg_gateway *gw)
{
	struct kg_events *ev = gw->events;

	if (ev == NULL)
		return;
	kg_upstream_set_observer(gw->up, NULL, NULL);
	kg_store_cancel(gw->store, ev->purge_hook);
	ev->purge_hook = -1;
	kg_feed_stop(ev);
}

void kg_events_free(struct kg_gateway *gw)
{
	struct kg_events *ev = gw->events;

	if (ev == NULL)
		return;
	pthread_cond_destroy(&ev->cv);
	pthread_mutex_destroy(&ev->mu);
	free(ev);
	gw->events = NULL;
}
