/* The watches table (schema in src/store.c) and what an observation does to a watch (design
 * §10): a poll's own doubles the interval while the user is in review; any other read only pushes
 * the next poll back; a settled user's automatic watch ends, an explicit one goes to
 * poll_settled_s. And the store work of PUT / GET / DELETE .../watch. Every function here runs on
 * the store thread; see watch.c for the module. */
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "events.h"
#include "gateway.h"
#include "kycgate/answer.h"
#include "kycgate/normalize.h"
#include "routes.h"
#include "watch.h"
#include "watch_internal.h"

/* ---- rows ---------------------------------------------------------------------------------- */

int watch_step_done(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

unsigned watch_products_of(const unsigned char *csv)
{
	unsigned mask = 0;

	if (csv == NULL ||
	    kg_products_parse((const char *)csv, strlen((const char *)csv), &mask) != KG_OK)
		return 0;
	return mask;
}

/* "onramp,offramp" of a mask into out (cap bytes); "" for 0 (every product). */
void watch_products_csv(unsigned mask, char *out, size_t cap)
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
int watch_row_get(sqlite3 *db, const char *loc, struct watch_row *r, bool *found)
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
		r->kind = t != NULL && strcmp((const char *)t, "explicit") == 0 ? WATCH_EXPLICIT
		                                                                : WATCH_AUTOMATIC;
		r->products = watch_products_of(sqlite3_column_text(s, 1));
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

int watch_row_insert(sqlite3 *db, struct kg_watches *w, const char *loc, enum watch_kind k,
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
	watch_products_csv(products, csv, sizeof(csv));
	sqlite3_bind_text(s, 1, loc, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, watch_kind_names[k], -1, SQLITE_STATIC);
	if (csv[0] != '\0')
		sqlite3_bind_text(s, 3, csv, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)now);
	if (k == WATCH_AUTOMATIC)
		sqlite3_bind_int64(s, 5, (sqlite3_int64)now);
	sqlite3_bind_int64(s, 6, (sqlite3_int64)(now + initial));
	sqlite3_bind_int64(s, 7, (sqlite3_int64)initial);
	rc = watch_step_done(s);
	if (rc == SQLITE_OK)
		watch_counted(w, loc, k, true);
	return rc;
}

int watch_row_delete(sqlite3 *db, struct kg_watches *w, const char *loc, enum watch_kind k)
{
	sqlite3_stmt *s = NULL;
	int rc =
	    sqlite3_prepare_v2(db, "DELETE FROM watches WHERE user_locator = ?1", -1, &s, NULL);

	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(s, 1, loc, -1, SQLITE_STATIC);
	rc = watch_step_done(s);
	if (rc == SQLITE_OK && sqlite3_changes(db) > 0)
		watch_counted(w, loc, k, false);
	return rc;
}

/* Writes r's schedule and observation back; a poll's lease ends with it when clear_lease. */
int watch_row_schedule(sqlite3 *db, const char *loc, const struct watch_row *r, bool clear_lease)
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
	return watch_step_done(s);
}

/* ---- observations -------------------------------------------------------------------------- */

/* Settled: nextAction is neither wait nor, within WATCH_TRIGGER_GRACE_MS of the trigger,
 * trigger-verification (Crossmint may take a moment to start). */
static bool settled(const struct watch_row *r, const char *next_action, unsigned long long at_ms)
{
	if (strcmp(next_action, "wait") == 0)
		return false;
	return !(strcmp(next_action, "trigger-verification") == 0 && r->trigger_ms != 0 &&
	         at_ms < r->trigger_ms + WATCH_TRIGGER_GRACE_MS);
}

/* Applies one observation of loc to its watch, if any. A poll's own (poll) doubles the interval
 * while in review and ends the poll's lease; any other read only pushes the next poll back. An
 * automatic watch of a settled user ends; an explicit one goes to poll_settled_s. */
int watch_observe(sqlite3 *db, struct kg_watches *w, const char *loc, const char *overall,
                  const char *next_action, unsigned long long at_ms, bool poll)
{
	unsigned long long now = kg_wall_ms(), max = atomic_load(&w->max_ms), next;
	struct watch_row r;
	bool found;
	int rc = watch_row_get(db, loc, &r, &found);

	if (rc != SQLITE_OK || !found)
		return rc;
	if (settled(&r, next_action, at_ms)) {
		if (r.kind == WATCH_AUTOMATIC)
			return watch_row_delete(db, w, loc, r.kind);
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
	return watch_row_schedule(db, loc, &r, poll);
}

/* An observation over every product of a watch scoped to some (?products of its PUT or
 * trigger) says nothing of its scope: it only pushes the next poll back, and the watch's own
 * polls, read over its scope, decide when it is settled. */
static int push_back(sqlite3 *db, const char *loc, struct watch_row *r, unsigned long long at_ms)
{
	if (r->next_poll_ms >= at_ms + r->interval_ms)
		return SQLITE_OK;
	r->next_poll_ms = at_ms + r->interval_ms;
	return watch_row_schedule(db, loc, r, false);
}

int kg_watch_observed(struct sqlite3 *db, struct kg_gateway *gw, const char *loc,
                      const char *overall, const char *next_action, unsigned long long observed_ms)
{
	struct watch_row r;
	bool found;
	int rc;

	if (gw == NULL || gw->watches == NULL || loc == NULL || overall == NULL ||
	    next_action == NULL)
		return SQLITE_OK;
	rc = watch_row_get(db, loc, &r, &found);
	if (rc != SQLITE_OK || !found)
		return rc;
	if (r.products != 0)
		return push_back(db, loc, &r, observed_ms);
	return watch_observe(db, gw->watches, loc, overall, next_action, observed_ms, false);
}

/* overall and nextAction of a status answer over products (0: all), into the two buffers;
 * false when the answer is not a good eligibility answer. Store thread (it normalizes). */
bool watch_answer_state(struct kg_watches *w, struct kg_answer *a, const char *loc,
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

/* ---- the routes' store work ---------------------------------------------------------------- */

/* "2026-11-25T21:00:00Z" of a wall-clock millisecond time. */
static struct json_object *rfc3339(unsigned long long ms)
{
	char buf[21];

	kg_events_stamp(ms, buf);
	return json_object_new_string(buf);
}

/* The view of GET .../watch: {"userLocator", "kind", "since", "nextPollAt", "lastObserved":
 * {"overall", "at"} | null, "products": [names in scope]} as new bytes into job->body. */
static int view(struct kg_store_job *job, const char *loc, const struct watch_row *r)
{
	const char *const *names = kg_product_names();
	struct json_object *o = json_object_new_object(), *last = NULL, *prods;
	const char *bytes;
	size_t len = 0;
	int i;

	json_object_object_add(o, "userLocator", json_object_new_string(loc));
	json_object_object_add(o, "kind", json_object_new_string(watch_kind_names[r->kind]));
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

static int set_explicit(sqlite3 *db, struct kg_watches *w, const char *loc, struct watch_row *r,
                        unsigned products)
{
	char csv[96];
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(
	    db, "UPDATE watches SET kind = 'explicit', products = ?2 WHERE user_locator = ?1", -1,
	    &s, NULL);

	if (rc != SQLITE_OK)
		return rc;
	watch_products_csv(products, csv, sizeof(csv));
	sqlite3_bind_text(s, 1, loc, -1, SQLITE_STATIC);
	if (csv[0] != '\0')
		sqlite3_bind_text(s, 2, csv, -1, SQLITE_STATIC);
	rc = watch_step_done(s);
	if (rc == SQLITE_OK && r->kind == WATCH_AUTOMATIC)
		watch_kind_changed(w, WATCH_AUTOMATIC, WATCH_EXPLICIT);
	r->kind = WATCH_EXPLICIT;
	r->products = products;
	return rc;
}

/* PUT: creates the explicit watch, or makes the user's watch explicit (never the reverse). */
static int route_put(sqlite3 *db, struct kg_watches *w, struct kg_store_job *job, const char *loc,
                     unsigned products)
{
	unsigned long long now = kg_wall_ms();
	struct watch_row r;
	bool found, room;
	int rc = watch_row_get(db, loc, &r, &found);

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
	rc = watch_row_insert(db, w, loc, WATCH_EXPLICIT, products, now);
	if (rc == SQLITE_OK)
		rc = watch_row_get(db, loc, &r, &found);
	if (rc == SQLITE_OK)
		kg_store_kick(w->gw->store, atomic_load(&w->hook));
	return rc == SQLITE_OK ? view(job, loc, &r) : rc;
}

int kg_watch_route_run(struct sqlite3 *db, struct kg_store_job *job)
{
	struct kg_req *req = job->owner;
	struct kg_watches *w = req->gw->watches;
	const char *loc = kg_handle_param(req, KG_PARAM_LOCATOR, NULL);
	struct watch_row r;
	bool found;
	int rc;

	job->status = 404;
	if (w == NULL || loc == NULL)
		return SQLITE_MISUSE;
	if (strcmp(req->method, "PUT") == 0)
		return route_put(db, w, job, loc, req->products);
	rc = watch_row_get(db, loc, &r, &found);
	if (rc != SQLITE_OK || !found)
		return rc;
	if (strcmp(req->method, "DELETE") == 0) {
		rc = watch_row_delete(db, w, loc, r.kind);
		job->status = 204;
		return rc;
	}
	return view(job, loc, &r);
}
