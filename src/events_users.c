/* What kycgate has observed (design §10): GET /v1/users?overall=&product=&limit=&after=, and
 * the remembered country of residence (states.country).
 *
 * The list answers from the states table, newest observation first (observed_ms, then the row
 * id, both in the opaque cursor "<observed_ms>-<rowid>"). product=P keeps the users whose last
 * answer holds product P with a status other than verified (it needs something, is in review,
 * was rejected, ...); with overall=X as well, both hold. It answers with many users' locators:
 * personal data, by design, under users.read.
 *
 * The country: a successful PUT of a user through kycgate stores its
 * userDetails.countryOfResidence (NULL when the PUT has none: Crossmint replaced the record). A
 * status read or trigger without ?country looks the country up with a store job submitted at the
 * same time as the upstream call, and the request runs again only when both ended
 * (kg_req_joint_done in server.c): the lookup (an indexed read on the store thread) runs while
 * Crossmint answers, so it adds no latency in series with Crossmint unless the store is slower
 * than Crossmint. A cache in memory was not chosen: it would be wrong after a restart or on
 * another replica, and it would need its own bound and eviction. With the store down, disabled
 * or its queue full, the read goes on without a country, as before. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "events_internal.h"
#include "gateway.h"
#include "kycgate/buf.h"
#include "kycgate/json.h"
#include "kycgate/normalize.h"
#include "kycgate/validate.h"
#include "reply.h"
#include "routes.h"

/* ---- the list ------------------------------------------------------------------------------ */

static const char *const overall_names[] = {"action-required", "not-started", "in-review",
                                            "verified",        "rejected",    "unknown"};

struct users_req {
	struct kg_store_job job;
	struct kg_req *req;
	const char *overall; /* static, or NULL */
	const char *product; /* static, or NULL */
	unsigned limit;
	bool after_given;
	long long after_ms, after_row;
	struct kg_buf page; /* the answer */
	unsigned n;
	long long last_ms, last_row;
};

static const char *overall_of(const char *raw)
{
	size_t i;

	for (i = 0; i < sizeof(overall_names) / sizeof(overall_names[0]); i++)
		if (strcmp(raw, overall_names[i]) == 0)
			return overall_names[i];
	return NULL;
}

static const char *check_overall(struct kg_req *req, const char *raw)
{
	(void)req;
	return overall_of(raw) ? NULL
	                       : "overall: one of action-required, not-started, in-review, "
	                         "verified, rejected, unknown";
}

static const char *product_of(const char *raw)
{
	const char *const *names = kg_product_names();
	size_t i;

	for (i = 0; i < KG_PRODUCT_COUNT; i++)
		if (strcmp(raw, names[i]) == 0)
			return names[i];
	return NULL;
}

static const char *check_product(struct kg_req *req, const char *raw)
{
	(void)req;
	return product_of(raw) ? NULL
	                       : "product: one of onramp, onramp-light, offramp, "
	                         "regulated-transfer";
}

static bool parse_limit(const char *raw, unsigned *v)
{
	unsigned long n = 0;
	size_t i;

	for (i = 0; raw[i] >= '0' && raw[i] <= '9' && i < 4; i++)
		n = n * 10 + (unsigned long)(raw[i] - '0');
	*v = (unsigned)n;
	return i > 0 && raw[i] == '\0' && n >= 1 && n <= KG_FEED_MAX_LIMIT;
}

static const char *check_limit(struct kg_req *req, const char *raw)
{
	unsigned v;

	(void)req;
	return parse_limit(raw, &v) ? NULL : "limit: an integer from 1 to 500";
}

/* The cursor "<observed_ms>-<rowid>", both decimal. */
static bool parse_cursor(const char *raw, long long *ms, long long *row)
{
	char *end = NULL;

	if (raw[0] < '0' || raw[0] > '9')
		return false;
	*ms = strtoll(raw, &end, 10);
	if (end == NULL || *end != '-' || end[1] < '0' || end[1] > '9' || end - raw > 18)
		return false;
	raw = end + 1;
	*row = strtoll(raw, &end, 10);
	return end != NULL && *end == '\0' && end - raw <= 18;
}

static const char *check_after(struct kg_req *req, const char *raw)
{
	long long a, b;

	(void)req;
	return parse_cursor(raw, &a, &b) ? NULL : "after: the next of a previous page";
}

const struct kg_query_param kg_users_list_query[] = {
    {.name = "overall", .parse = check_overall},
    {.name = "product", .parse = check_product},
    {.name = "limit", .parse = check_limit},
    {.name = "after", .parse = check_after},
    {.name = NULL},
};

/* One user of the page: {"userLocator", "overall", "products", "observedAt"}. */
static void add_user(struct users_req *ur, sqlite3_stmt *s)
{
	struct json_object *o = json_object_new_object(), *sum = NULL;
	const char *summary = (const char *)sqlite3_column_text(s, 2), *detail;
	char when[21];
	size_t len = 0;
	char *bytes;

	if (o == NULL)
		goto fail;
	kg_events_stamp((unsigned long long)sqlite3_column_int64(s, 3), when);
	if (summary == NULL || kg_json_parse(summary, strlen(summary), KG_MAX_JSON_DEPTH, &sum,
	                                     &detail, NULL) != KG_OK)
		sum = NULL;
	json_object_object_add(o, "userLocator",
	                       json_object_new_string((const char *)sqlite3_column_text(s, 0)));
	json_object_object_add(o, "overall",
	                       json_object_new_string(sqlite3_column_text(s, 1)
	                                                  ? (const char *)sqlite3_column_text(s, 1)
	                                                  : "unknown"));
	json_object_object_add(
	    o, "products", json_object_get(sum ? json_object_object_get(sum, "products") : NULL));
	if (json_object_object_get(o, "products") == NULL)
		json_object_object_add(o, "products", json_object_new_object());
	json_object_object_add(o, "observedAt", json_object_new_string(when));
	json_object_put(sum);
	bytes = kg_json_to_bytes(o, &len);
	json_object_put(o);
	if (bytes == NULL)
		goto fail;
	if (ur->n > 0)
		kg_buf_add(&ur->page, ",", 1);
	kg_buf_add(&ur->page, bytes, len);
	kg_json_free_bytes(bytes, len);
	return;
fail:
	ur->page.failed = true;
}

static int users_run(sqlite3 *db, struct kg_store_job *job)
{
	struct users_req *ur = job->owner;
	char path[64];
	sqlite3_stmt *s = NULL;
	int rc;

	snprintf(path, sizeof(path), "$.products.\"%s\"", ur->product ? ur->product : "");
	rc = sqlite3_prepare_v2(
	    db,
	    "SELECT user_locator, overall, summary, observed_ms, rowid FROM states"
	    " WHERE answer IS NOT NULL"
	    " AND (?1 IS NULL OR overall = ?1)"
	    " AND (?2 = 0 OR COALESCE(json_extract(summary, ?3), 'verified') <> 'verified')"
	    " AND (?4 = 0 OR observed_ms < ?5 OR (observed_ms = ?5 AND rowid < ?6))"
	    " ORDER BY observed_ms DESC, rowid DESC LIMIT ?7",
	    -1, &s, NULL);
	if (rc != SQLITE_OK)
		return rc;
	if (ur->overall != NULL)
		sqlite3_bind_text(s, 1, ur->overall, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, ur->product != NULL);
	sqlite3_bind_text(s, 3, path, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 4, ur->after_given);
	sqlite3_bind_int64(s, 5, ur->after_ms);
	sqlite3_bind_int64(s, 6, ur->after_row);
	sqlite3_bind_int(s, 7, (int)ur->limit);
	kg_buf_add_str(&ur->page, "{\"users\":[");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		add_user(ur, s);
		ur->last_ms = (long long)sqlite3_column_int64(s, 3);
		ur->last_row = (long long)sqlite3_column_int64(s, 4);
		ur->n++;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void users_done(struct kg_store_job *job)
{
	struct users_req *ur = job->owner;

	kg_req_wake(ur->req);
}

static void users_end(struct kg_req *req)
{
	struct users_req *ur = req->work;

	if (ur == NULL)
		return;
	kg_buf_cleanup(&ur->page);
	free(ur);
	req->work = NULL;
}

bool kg_users_list_begin(struct kg_req *req)
{
	struct users_req *ur;
	const char *v;

	if (!kg_events_store_ready(req))
		return false;
	ur = calloc(1, sizeof(*ur));
	if (ur == NULL) {
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
		return false;
	}
	ur->req = req;
	req->work = ur;
	req->work_end = users_end;
	kg_buf_init(&ur->page, (size_t)KG_FEED_MAX_LIMIT * 4096);
	ur->limit = KG_FEED_DEFAULT_LIMIT;
	if ((v = kg_events_query_value(req, "overall")) != NULL)
		ur->overall = overall_of(v);
	if ((v = kg_events_query_value(req, "product")) != NULL)
		ur->product = product_of(v);
	if ((v = kg_events_query_value(req, "limit")) != NULL)
		parse_limit(v, &ur->limit);
	if ((v = kg_events_query_value(req, "after")) != NULL)
		ur->after_given = parse_cursor(v, &ur->after_ms, &ur->after_row);
	return true;
}

void kg_users_list_submit(struct kg_req *req)
{
	struct users_req *ur = req->work;

	ur->job.op = KG_STORE_RUN;
	ur->job.run = users_run;
	ur->job.done = users_done;
	ur->job.owner = ur;
	if (kg_store_submit(req->gw->store, &ur->job) != KG_OK) {
		ur->job.result = KG_STORE_DOWN;
		kg_req_wake(req);
	}
}

bool kg_users_list_resumed(struct kg_req *req)
{
	struct users_req *ur = req->work;
	char tail[64];

	if (ur->job.result != KG_STORE_OK) {
		kg_reply_problem(req, KG_PB_STORE_UNAVAILABLE, 0,
		                 "the store that keeps users' states is not available; retry later",
		                 NULL);
		req->reply.retry_after_s = 5;
		return false;
	}
	/* A full page may have more after it; a short one is the end. */
	if (ur->n == ur->limit)
		snprintf(tail, sizeof(tail), "],\"next\":\"%lld-%lld\"}", ur->last_ms,
		         ur->last_row);
	else
		snprintf(tail, sizeof(tail), "],\"next\":null}");
	kg_buf_add_str(&ur->page, tail);
	if (ur->page.failed) {
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
		return false;
	}
	kg_reply_json(req, 200, ur->page.data, ur->page.len);
	ur->page.data = NULL; /* the reply owns it now */
	ur->page.len = ur->page.cap = 0;
	return false;
}

/* ---- the remembered country ------------------------------------------------------------------ */

/* A PUT's country on its way to the store (owns its copies). */
struct country_put {
	struct kg_store_job job;
	char loc[KG_MAX_LOCATOR_BYTES + 1];
	char country[3]; /* "" for none */
};

static int country_put_run(sqlite3 *db, struct kg_store_job *job)
{
	struct country_put *cp = job->owner;
	sqlite3_stmt *s = NULL;
	/* A row without an answer keeps the PUT's time in observed_ms, for the retention purge
	 * (such a row is neither listed nor compared). */
	int rc = sqlite3_prepare_v2(
	    db,
	    "INSERT INTO states (user_locator, country, observed_ms) VALUES (?1, ?2, ?3)"
	    " ON CONFLICT (user_locator) DO UPDATE SET country = excluded.country,"
	    " observed_ms = CASE WHEN answer IS NULL THEN excluded.observed_ms ELSE observed_ms "
	    "END",
	    -1, &s, NULL);

	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(s, 1, cp->loc, -1, SQLITE_STATIC);
	if (cp->country[0] != '\0')
		sqlite3_bind_text(s, 2, cp->country, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)kg_wall_ms());
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void country_put_done(struct kg_store_job *job)
{
	struct country_put *cp = job->owner;

	kg_wipe(cp, sizeof(*cp));
	free(cp);
}

/* Raised by every PUT of a user that may change a remembered country, before its store job is
 * submitted: a country noted beside a cached answer (kg_upstream_note_country) serves only
 * while this has not moved since the lookup that read it was submitted. A lookup submitted
 * after the raise runs after the PUT's job (the store runs its jobs in order). */
static atomic_ulong country_epoch;

unsigned long kg_events_country_epoch(void)
{
	return atomic_load(&country_epoch);
}

void kg_events_remember_country(struct kg_req *req)
{
	struct json_object *body = NULL, *ud = NULL, *c = NULL;
	const char *loc = kg_handle_param(req, KG_PARAM_LOCATOR, NULL), *detail;
	struct country_put *cp;

	atomic_fetch_add(&country_epoch, 1);
	if (req->gw->store == NULL || loc == NULL || req->up_body == NULL ||
	    !kg_store_up(req->gw->store))
		return;
	cp = calloc(1, sizeof(*cp));
	if (cp == NULL)
		return;
	if (kg_json_parse(req->up_body, req->up_body_len, KG_MAX_JSON_DEPTH, &body, &detail,
	                  NULL) == KG_OK &&
	    json_object_object_get_ex(body, "userDetails", &ud) &&
	    json_object_object_get_ex(ud, "countryOfResidence", &c) &&
	    json_object_is_type(c, json_type_string) && json_object_get_string_len(c) == 2)
		memcpy(cp->country, json_object_get_string(c), 3);
	json_object_put(body);
	snprintf(cp->loc, sizeof(cp->loc), "%s", loc);
	cp->job.op = KG_STORE_RUN;
	cp->job.run = country_put_run;
	cp->job.done = country_put_done;
	cp->job.owner = cp;
	if (kg_store_submit(req->gw->store, &cp->job) != KG_OK)
		country_put_done(&cp->job);
}

/* A lookup of a read's remembered country: allocated only for reads that need it, so that every
 * request does not carry a store job. */
struct country_get {
	struct kg_store_job job;
	struct kg_req *req; /* suspended until the lookup and the upstream call both ended */
};

static int country_get_run(sqlite3 *db, struct kg_store_job *job)
{
	struct country_get *cg = job->owner;
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT country FROM states WHERE user_locator = ?1", -1,
	                            &s, NULL);

	if (rc != SQLITE_OK)
		return rc;
	/* user_key is never written by the engine: reading it while the call runs is safe. */
	sqlite3_bind_text(s, 1, cg->req->call->user_key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const unsigned char *c = sqlite3_column_text(s, 0);

		if (c != NULL && strlen((const char *)c) == 2)
			memcpy(cg->req->remembered, c, 3);
		rc = SQLITE_DONE;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void country_get_done(struct kg_store_job *job)
{
	struct country_get *cg = job->owner;
	struct kg_req *req = cg->req;

	req->remembered_read = job->result == KG_STORE_OK;
	free(cg);
	kg_req_joint_done(req); /* the last thing: req may be resumed and freed */
}

bool kg_events_country_wanted(const struct kg_req *req)
{
	return req->gw->store != NULL && req->gw->events != NULL && req->country[0] == '\0' &&
	       req->call->user_key[0] != '\0' && req->match.route->query == kg_verification_query &&
	       kg_store_up(req->gw->store);
}

bool kg_events_country_lookup(struct kg_req *req)
{
	struct country_get *cg;

	if (!kg_events_country_wanted(req))
		return false;
	cg = calloc(1, sizeof(*cg));
	if (cg == NULL)
		return false; /* the read goes on without its country, as with the store down */
	cg->req = req;
	cg->job.op = KG_STORE_RUN;
	cg->job.run = country_get_run;
	cg->job.done = country_get_done;
	cg->job.owner = cg;
	req->country_epoch = kg_events_country_epoch();
	atomic_store(&req->joint, 2);
	if (kg_store_submit(req->gw->store, &cg->job) != KG_OK) {
		atomic_store(&req->joint, 1);
		free(cg);
		return false;
	}
	return true;
}
