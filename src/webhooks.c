/* Webhooks (design §10): deliveries created with each committed event, a dispatcher on the store
 * thread that claims due ones and hands their POSTs to the upstream engine, and the outcome of
 * each attempt recorded on the store thread again. See src/events.h for the contract.
 *
 * Where things run. kg_webhooks_on_event() and the dispatcher (a kg_store_every hook) run on the
 * store thread, which alone touches the list of attempts in flight; the engine's done callback
 * (engine thread, must not block) only moves its attempt onto the finished list under a mutex
 * and kicks the dispatcher, which records it. The configured endpoints are an immutable,
 * reference-counted set swapped at reload: an attempt keeps the set it started on.
 *
 * What survives a restart. Nothing about an attempt is written before its outcome: a delivery
 * in flight stays 'pending' in the table with its schedule, so after a crash or a stop it is
 * attempted again (at-least-once: the receiver dedupes on webhook-id). Deliveries of an endpoint
 * removed by a reload stay in the table, pending and not attempted, until it is configured again
 * (or their event is purged with retention). */
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
#include "kycgate/log.h"
#include "kycgate/metrics.h"
#include "webhooks.h"

#define DISPATCH_MS 500 /* the dispatcher's period; a committed event or an answer kicks it */
#define GAUGES_MS 5000  /* how often the pending gauges are counted again */
#define JITTER_PCT 20   /* a retry's delay is lengthened by up to this much */
#define MAX_NAME 64     /* events.webhooks[].name */

/* One configured endpoint (copied from the config; the key wiped when the set is freed). */
struct endpoint {
	char name[MAX_NAME + 1];
	char *url;
	unsigned char key[KG_WEBHOOK_MAX_SECRET_BYTES];
	size_t key_len;
	unsigned types, timeout_ms, max_inflight;
};

/* The endpoints and the retry schedule of one configuration generation. */
struct epset {
	atomic_uint refs;
	size_t n;
	struct endpoint *ep;
	unsigned retry_s[KG_MAX_RETRY_SCHEDULE];
	size_t n_retry;
};

/* One attempt, from its claim to its recorded outcome. */
struct delivery {
	struct delivery *next;     /* wh->inflight (store thread) */
	struct delivery *fin_next; /* wh->finished (under wh->mu) */
	struct kg_webhooks *wh;
	struct epset *set; /* a reference: ep lives in it */
	const struct endpoint *ep;
	long long event_id;
	long long attempts; /* made before this one */
	char loc[KG_MAX_LOCATOR_BYTES + 1];
	char *body; /* the event (personal data: wiped) */
	size_t body_len;
	char h_id[48], h_ts[48], h_sig[KG_WH_SIGNATURE_CAP + 24];
	const char *headers[KG_UP_MAX_HEADERS + 1];
	struct kg_up_call call;
};

struct kg_webhooks {
	struct kg_gateway *gw;
	struct kg_store *store;
	struct kg_upstream *up;
	int hook;
	pthread_mutex_t mu;
	struct epset *set;         /* under mu */
	struct delivery *finished; /* under mu: attempts the engine ended, not yet recorded */
	struct delivery *inflight; /* store thread: every claimed attempt not yet recorded */
	atomic_bool stopping;
	unsigned long long gauges_due; /* store thread: the gauges are counted again then */
	uint64_t rng;                  /* store thread: the retry jitter */
	struct kg_store_job last;      /* kg_webhooks_stop: records the last outcomes */
};

/* ---- the configured endpoints ---- */

static void set_put(struct epset *s)
{
	size_t i;

	if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	for (i = 0; i < s->n; i++) {
		kg_wipe(s->ep[i].key, sizeof(s->ep[i].key));
		if (s->ep[i].url != NULL)
			kg_wipe(s->ep[i].url, strlen(s->ep[i].url));
		free(s->ep[i].url);
	}
	free(s->ep);
	free(s);
}

static struct epset *set_new(const struct kg_config *cfg)
{
	struct epset *s = calloc(1, sizeof(*s));
	size_t i;

	if (s == NULL)
		return NULL;
	atomic_init(&s->refs, 1);
	s->ep = calloc(cfg->events.n_webhooks + 1, sizeof(*s->ep));
	if (s->ep == NULL) {
		free(s);
		return NULL;
	}
	for (i = 0; i < cfg->events.n_webhooks; i++) {
		const struct kg_webhook *w = &cfg->events.webhooks[i];
		struct endpoint *e = &s->ep[s->n];

		snprintf(e->name, sizeof(e->name), "%s", w->name);
		e->url = strdup(w->url);
		if (e->url == NULL) {
			set_put(s);
			return NULL;
		}
		s->n++;
		memcpy(e->key, w->key, w->key_len);
		e->key_len = w->key_len;
		e->types = w->types;
		e->timeout_ms = w->timeout_ms;
		e->max_inflight = w->max_inflight;
	}
	memcpy(s->retry_s, cfg->events.retry_schedule_s, sizeof(s->retry_s));
	s->n_retry = cfg->events.n_retry_schedule;
	return s;
}

static struct epset *set_get(struct kg_webhooks *wh)
{
	struct epset *s;

	pthread_mutex_lock(&wh->mu);
	s = wh->set;
	atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&wh->mu);
	return s;
}

static void declare_metrics(const struct epset *s)
{
	const char *names[KG_MAX_WEBHOOKS];
	size_t i;

	for (i = 0; i < s->n && i < KG_MAX_WEBHOOKS; i++)
		names[i] = s->ep[i].name;
	kg_metrics_webhook_endpoints(names, i);
}

bool kg_webhooks_known(struct kg_gateway *gw, const char *name)
{
	struct epset *s;
	bool found = false;
	size_t i;

	if (gw->webhooks == NULL)
		return false;
	s = set_get(gw->webhooks);
	for (i = 0; i < s->n && !found; i++)
		found = strcmp(s->ep[i].name, name) == 0;
	set_put(s);
	return found;
}

/* ---- SQL helpers ---- */

/* Runs one statement without rows: ?1 endpoint, ?2 a text (a locator, a state), ?3 ?4 ?5
 * integers, ?6 a text or NULL; parameters sql does not name are not bound. *changes (when not
 * NULL) gets the rows it changed. */
static int step(sqlite3 *db, const char *sql, const char *t1, const char *t2, long long i3,
                long long i4, long long i5, const char *t6, int *changes)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL), n = sqlite3_bind_parameter_count(s);

	if (rc != SQLITE_OK)
		return rc;
	if (n >= 1)
		sqlite3_bind_text(s, 1, t1, -1, SQLITE_STATIC);
	if (n >= 2)
		sqlite3_bind_text(s, 2, t2, -1, SQLITE_STATIC);
	if (n >= 3)
		sqlite3_bind_int64(s, 3, i3);
	if (n >= 4)
		sqlite3_bind_int64(s, 4, i4);
	if (n >= 5)
		sqlite3_bind_int64(s, 5, i5);
	if (n >= 6 && t6 != NULL)
		sqlite3_bind_text(s, 6, t6, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (changes != NULL)
		*changes = sqlite3_changes(db);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* ---- the attempts in flight (store thread) ---- */

static struct delivery *inflight_find(struct kg_webhooks *wh, const char *ep, const char *loc,
                                      long long event_id)
{
	struct delivery *d;

	for (d = wh->inflight; d != NULL; d = d->next)
		if (strcmp(d->ep->name, ep) == 0 &&
		    (loc != NULL ? strcmp(d->loc, loc) == 0 : d->event_id == event_id))
			return d;
	return NULL;
}

static unsigned inflight_count(struct kg_webhooks *wh, const char *ep)
{
	struct delivery *d;
	unsigned n = 0;

	for (d = wh->inflight; d != NULL; d = d->next)
		n += strcmp(d->ep->name, ep) == 0;
	return n;
}

static void delivery_free(struct delivery *d)
{
	if (d->body != NULL)
		kg_wipe(d->body, d->body_len);
	free(d->body);
	kg_up_call_cleanup(&d->call);
	set_put(d->set);
	kg_wipe(d, sizeof(*d));
	free(d);
}

static void inflight_remove(struct kg_webhooks *wh, struct delivery *d)
{
	struct delivery **p;

	for (p = &wh->inflight; *p != NULL; p = &(*p)->next)
		if (*p == d) {
			*p = d->next;
			return;
		}
}

/* ---- new events (store thread, inside the event's transaction) ---- */

static int add_delivery(sqlite3 *db, struct kg_webhooks *wh, const struct endpoint *ep,
                        long long event_id, const char *loc)
{
	/* Older deliveries of the user waiting for a retry: the newer event carries the whole
	 * state and takes their place. One in flight now is left to finish. */
	static const char supersede[] =
	    "UPDATE deliveries SET state = 'superseded' WHERE endpoint = ?1 AND user_locator = ?2"
	    " AND state = 'pending' AND attempts > 0 AND event_id < ?3 AND event_id <> ?4";
	static const char insert[] =
	    "INSERT OR IGNORE INTO deliveries (endpoint, event_id, user_locator, state, attempts,"
	    " next_attempt_ms) VALUES (?1, ?3, ?2, 'pending', 0, ?4)";
	const struct delivery *busy = inflight_find(wh, ep->name, loc, 0);
	int n = 0, rc = step(db, supersede, ep->name, loc, event_id, busy ? busy->event_id : -1, 0,
	                     NULL, &n);

	if (rc == SQLITE_OK && n > 0)
		kg_metrics_webhook_result(ep->name, KG_WH_SUPERSEDED, (unsigned long long)n);
	if (rc == SQLITE_OK)
		rc = step(db, insert, ep->name, loc, event_id, (long long)kg_wall_ms(), 0, NULL,
		          NULL);
	return rc;
}

int kg_webhooks_on_event(struct sqlite3 *db, struct kg_gateway *gw, long long event_id,
                         const char *loc, unsigned long long created_ms)
{
	struct kg_webhooks *wh = gw != NULL ? gw->webhooks : NULL;
	struct epset *s;
	int rc = SQLITE_OK;
	size_t i;

	(void)created_ms;
	if (wh == NULL || loc == NULL)
		return SQLITE_OK;
	s = set_get(wh);
	/* verification.updated is the only type there is. */
	for (i = 0; i < s->n && rc == SQLITE_OK; i++)
		if ((s->ep[i].types & KG_EVENT_UPDATED) != 0)
			rc = add_delivery(db, wh, &s->ep[i], event_id, loc);
	set_put(s);
	return rc;
}

void kg_webhooks_kick(struct kg_gateway *gw)
{
	if (gw != NULL && gw->webhooks != NULL)
		kg_store_kick(gw->webhooks->store, gw->webhooks->hook);
}

/* ---- an attempt ---- */

/* Engine thread: the attempt ended. Its outcome is recorded by the dispatcher. */
static void on_sent(struct kg_up_call *call)
{
	struct delivery *d = call->owner;
	struct kg_webhooks *wh = d->wh;

	pthread_mutex_lock(&wh->mu);
	d->fin_next = wh->finished;
	wh->finished = d;
	pthread_mutex_unlock(&wh->mu);
	kg_store_kick(wh->store, wh->hook);
}

/* The headers of one attempt: webhook-id (the same on every attempt), webhook-timestamp and
 * webhook-signature (this attempt's), and never anything of Crossmint's. */
static bool sign(struct delivery *d)
{
	static const char ua[] = "User-Agent: kycgate/" KG_VERSION;
	unsigned long long ts = kg_wall_ms() / 1000;
	char id[24], sig[KG_WH_SIGNATURE_CAP];

	snprintf(id, sizeof(id), "%lld", d->event_id);
	if (kg_webhook_sign(d->ep->key, d->ep->key_len, id, ts, d->body, d->body_len, sig) != KG_OK)
		return false;
	snprintf(d->h_id, sizeof(d->h_id), "webhook-id: %s", id);
	snprintf(d->h_ts, sizeof(d->h_ts), "webhook-timestamp: %llu", ts);
	snprintf(d->h_sig, sizeof(d->h_sig), "webhook-signature: %s", sig);
	d->headers[0] = "Content-Type: application/json";
	d->headers[1] = d->h_id;
	d->headers[2] = d->h_ts;
	d->headers[3] = d->h_sig;
	d->headers[4] = ua;
	d->headers[5] = NULL;
	return true;
}

/* Starts the attempt of the row at s (event_id, user_locator, attempts, body). False when it
 * cannot start (the engine stops, out of memory): the delivery stays pending. */
static bool start(struct kg_webhooks *wh, struct epset *set, const struct endpoint *ep,
                  sqlite3_stmt *s)
{
	struct delivery *d = calloc(1, sizeof(*d));
	const unsigned char *loc = sqlite3_column_text(s, 1), *body = sqlite3_column_text(s, 3);
	size_t len = (size_t)sqlite3_column_bytes(s, 3);

	if (d == NULL || loc == NULL || body == NULL)
		goto fail;
	d->wh = wh;
	d->ep = ep;
	d->event_id = sqlite3_column_int64(s, 0);
	d->attempts = sqlite3_column_int64(s, 2);
	snprintf(d->loc, sizeof(d->loc), "%s", (const char *)loc);
	d->body = malloc(len + 1);
	if (d->body == NULL)
		goto fail;
	memcpy(d->body, body, len + 1);
	d->body_len = len;
	if (!sign(d) || kg_upstream_reserve(wh->up, true) != KG_OK)
		goto fail;
	atomic_fetch_add(&set->refs, 1);
	d->set = set;
	d->call.method = "POST";
	d->call.url = ep->url;
	d->call.headers = d->headers;
	d->call.timeout_ms = ep->timeout_ms;
	d->call.body = d->body;
	d->call.body_len = d->body_len;
	d->call.kind = KG_CALL_PLAIN;
	d->call.done = on_sent;
	d->call.owner = d;
	d->next = wh->inflight;
	wh->inflight = d;
	kg_upstream_submit(wh->up, &d->call);
	return true;
fail:
	if (d != NULL)
		delivery_free(d);
	return false;
}

const char kg_webhooks_claim_sql[] =
    "SELECT d.event_id, d.user_locator, d.attempts, e.body FROM deliveries d"
    " JOIN events e ON e.id = d.event_id"
    " WHERE d.endpoint = ?1 AND d.state = 'pending' AND d.next_attempt_ms <= ?2"
    " AND d.event_id = (SELECT MIN(x.event_id) FROM deliveries x WHERE x.endpoint = ?1"
    " AND x.user_locator = d.user_locator AND x.state = 'pending')"
    " ORDER BY d.next_attempt_ms, d.event_id LIMIT ?3";

/* Claims the due deliveries of ep: for each user only the oldest pending one (a user's events go
 * out in id order, one at a time), up to max_inflight in flight. */
static int claim(sqlite3 *db, struct kg_webhooks *wh, struct epset *set, const struct endpoint *ep)
{
	const char *sql = kg_webhooks_claim_sql;
	unsigned busy = inflight_count(wh, ep->name);
	sqlite3_stmt *s = NULL;
	int rc;

	if (busy >= ep->max_inflight || wh->up == NULL) /* no engine: the unit tests */
		return SQLITE_OK;
	rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(s, 1, ep->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)kg_wall_ms());
	/* The ones in flight are due too and come back: room for them and max_inflight more. */
	sqlite3_bind_int64(s, 3, (sqlite3_int64)busy + ep->max_inflight);
	while (busy < ep->max_inflight && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (inflight_find(wh, ep->name, NULL, sqlite3_column_int64(s, 0)) != NULL)
			continue;
		if (!start(wh, set, ep, s))
			break;
		busy++;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* ---- outcomes (store thread) ---- */

/* A short fixed word for last_error (never a body): "status 500", "timeout", ... */
static void error_word(const struct kg_up_call *c, char *out, size_t cap)
{
	switch (c->result) {
	case KG_UP_OK:
		snprintf(out, cap, "status %ld", c->status);
		break;
	case KG_UP_TIMEOUT:
		snprintf(out, cap, "timeout");
		break;
	case KG_UP_CONNECT:
		snprintf(out, cap, "connect");
		break;
	case KG_UP_RESET:
		snprintf(out, cap, "reset");
		break;
	case KG_UP_TOO_LARGE:
		snprintf(out, cap, "answer too large");
		break;
	default:
		snprintf(out, cap, "error");
		break;
	}
}

static int newer_pending(sqlite3 *db, const struct delivery *d, bool *found)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db,
	                            "SELECT 1 FROM deliveries WHERE endpoint = ?1 AND"
	                            " user_locator = ?2 AND state = 'pending' AND event_id > ?3"
	                            " LIMIT 1",
	                            -1, &s, NULL);

	*found = false;
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(s, 1, d->ep->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, d->loc, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, d->event_id);
	rc = sqlite3_step(s);
	*found = rc == SQLITE_ROW;
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Records the outcome of d's attempt: 2xx delivered; 410 failed at once; anything else
 * superseded when a newer event of the user waits, failed past the schedule, else retried
 * after the schedule's next delay with jitter. An attempt the engine's stop ended was no
 * attempt: the delivery stays as it was. */
static int record(sqlite3 *db, struct kg_webhooks *wh, const struct epset *cur,
                  const struct delivery *d)
{
	static const char sql[] =
	    "UPDATE deliveries SET state = ?2, attempts = attempts + 1, next_attempt_ms = ?3,"
	    " last_error = ?6 WHERE endpoint = ?1 AND event_id = ?4 AND state = 'pending'";
	const struct kg_up_call *c = &d->call;
	long long n = d->attempts + 1, next = 0;
	enum kg_metrics_wh_result r;
	const char *state;
	char err[32], id[24];
	bool newer = false;
	int rc;

	if (c->result == KG_UP_SHUTDOWN)
		return SQLITE_OK;
	error_word(c, err, sizeof(err));
	if (c->result == KG_UP_OK && c->status >= 200 && c->status < 300) {
		r = KG_WH_DELIVERED;
		state = "delivered";
	} else if (c->result == KG_UP_OK && c->status == 410) {
		r = KG_WH_FAILED;
		state = "failed";
	} else if ((rc = newer_pending(db, d, &newer)) != SQLITE_OK) {
		return rc;
	} else if (newer) {
		r = KG_WH_SUPERSEDED;
		state = "superseded";
	} else if ((size_t)n > cur->n_retry) {
		r = KG_WH_FAILED;
		state = "failed";
	} else {
		unsigned long long delay = 1000ull * cur->retry_s[n - 1];

		delay += delay * (kg_xorshift(&wh->rng) % (JITTER_PCT + 1)) / 100;
		next = (long long)(kg_wall_ms() + delay);
		r = KG_WH_RETRY;
		state = "pending";
	}
	rc = step(db, sql, d->ep->name, state, next, d->event_id, 0,
	          r == KG_WH_DELIVERED ? NULL : err, NULL);
	if (rc != SQLITE_OK)
		return rc;
	kg_metrics_webhook_result(d->ep->name, r, 1);
	if (r == KG_WH_FAILED) {
		snprintf(id, sizeof(id), "%lld", d->event_id);
		kg_log(KG_LOG_WARN, "webhook-failed", "endpoint", d->ep->name, "eventId", id,
		       "reason", err, NULL);
	}
	return SQLITE_OK;
}

/* Records every attempt the engine ended since the last pass, and frees it. */
static int record_finished(sqlite3 *db, struct kg_webhooks *wh)
{
	struct delivery *d, *next;
	struct epset *cur;
	int rc = SQLITE_OK, r;

	pthread_mutex_lock(&wh->mu);
	d = wh->finished;
	wh->finished = NULL;
	pthread_mutex_unlock(&wh->mu);
	if (d == NULL)
		return SQLITE_OK;
	cur = set_get(wh);
	for (; d != NULL; d = next) {
		next = d->fin_next;
		/* A failed write leaves the delivery pending: attempted again (at-least-once). */
		r = record(db, wh, cur, d);
		if (rc == SQLITE_OK)
			rc = r;
		inflight_remove(wh, d);
		delivery_free(d);
	}
	set_put(cur);
	return rc;
}

static int backlog(sqlite3 *db, const struct endpoint *ep)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db,
	                            "SELECT COUNT(*), MIN(e.created_ms) FROM deliveries d"
	                            " JOIN events e ON e.id = d.event_id"
	                            " WHERE d.endpoint = ?1 AND d.state = 'pending'",
	                            -1, &s, NULL);
	unsigned long long now = kg_wall_ms();

	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(s, 1, ep->name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		long long oldest = sqlite3_column_int64(s, 1);
		double age =
		    sqlite3_column_type(s, 1) == SQLITE_NULL || (unsigned long long)oldest > now
		        ? 0
		        : (double)(now - (unsigned long long)oldest) / 1000.0;

		kg_metrics_webhook_backlog(ep->name, (unsigned long long)sqlite3_column_int64(s, 0),
		                           age);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The hook: outcomes first (they free places), then claims, now and then the gauges. */
static int dispatch(sqlite3 *db, void *ctx)
{
	struct kg_webhooks *wh = ctx;
	struct epset *set;
	int rc = record_finished(db, wh);
	size_t i;

	/* Draining (quiesced): no new attempts, so that the engine empties and the stop comes
	 * soon; what is due waits for the next start. */
	if (rc != SQLITE_OK || atomic_load(&wh->stopping) || atomic_load(&wh->gw->closing))
		return rc;
	set = set_get(wh);
	for (i = 0; i < set->n && rc == SQLITE_OK; i++)
		rc = claim(db, wh, set, &set->ep[i]);
	if (rc == SQLITE_OK && kg_now_ms() >= wh->gauges_due) {
		for (i = 0; i < set->n && rc == SQLITE_OK; i++)
			rc = backlog(db, &set->ep[i]);
		wh->gauges_due = kg_now_ms() + GAUGES_MS;
	}
	set_put(set);
	return rc;
}

static int last_run(sqlite3 *db, struct kg_store_job *job)
{
	return record_finished(db, job->owner);
}

static void last_done(struct kg_store_job *job)
{
	(void)job;
}

/* ---- the routes' store work ---- */

static int endpoint_view(sqlite3 *db, const struct endpoint *ep, struct json_object *o)
{
	sqlite3_stmt *s = NULL;
	char origin[KG_WEBHOOK_MAX_URL_BYTES + 1], when[32];
	int rc = sqlite3_prepare_v2(
	    db,
	    "SELECT (SELECT COUNT(*) FROM deliveries WHERE endpoint = ?1 AND state = 'pending'),"
	    " (SELECT COUNT(*) FROM deliveries WHERE endpoint = ?1 AND state = 'failed'),"
	    " (SELECT last_error FROM deliveries WHERE endpoint = ?1 AND last_error IS NOT NULL"
	    "  AND state IN ('pending', 'failed') ORDER BY event_id DESC LIMIT 1),"
	    " (SELECT MIN(e.created_ms) FROM deliveries d JOIN events e ON e.id = d.event_id"
	    "  WHERE d.endpoint = ?1 AND d.state = 'pending')",
	    -1, &s, NULL);

	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(s, 1, ep->name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const unsigned char *err = sqlite3_column_text(s, 2);

		kg_webhook_url_origin(ep->url, origin, sizeof(origin));
		json_object_object_add(o, "name", json_object_new_string(ep->name));
		json_object_object_add(o, "url", json_object_new_string(origin));
		json_object_object_add(o, "pending",
		                       json_object_new_int64(sqlite3_column_int64(s, 0)));
		json_object_object_add(o, "failed",
		                       json_object_new_int64(sqlite3_column_int64(s, 1)));
		json_object_object_add(o, "lastError",
		                       err ? json_object_new_string((const char *)err) : NULL);
		if (sqlite3_column_type(s, 3) != SQLITE_NULL) {
			kg_events_stamp((unsigned long long)sqlite3_column_int64(s, 3), when);
			json_object_object_add(o, "oldestPendingAt", json_object_new_string(when));
		} else {
			json_object_object_add(o, "oldestPendingAt", NULL);
		}
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Takes the serialized bytes of o into job->body (job->result stays OK), or SQLITE_NOMEM. */
static int job_body(struct kg_store_job *job, struct json_object *o)
{
	size_t len = 0;
	const char *text =
	    json_object_to_json_string_length(o, JSON_C_TO_STRING_NOSLASHESCAPE, &len);

	job->body = text != NULL ? strndup(text, len) : NULL;
	job->body_len = job->body != NULL ? len : 0;
	return job->body != NULL ? SQLITE_OK : SQLITE_NOMEM;
}

int kg_webhooks_list_run(sqlite3 *db, struct kg_store_job *job)
{
	struct kg_req *req = job->owner;
	struct json_object *root = json_object_new_object(), *list = json_object_new_array();
	struct epset *set = set_get(req->gw->webhooks);
	int rc = root != NULL && list != NULL ? SQLITE_OK : SQLITE_NOMEM;
	size_t i;

	for (i = 0; i < set->n && rc == SQLITE_OK; i++) {
		struct json_object *o = json_object_new_object();

		rc = o != NULL ? endpoint_view(db, &set->ep[i], o) : SQLITE_NOMEM;
		if (o != NULL)
			json_object_array_add(list, o);
	}
	set_put(set);
	if (rc == SQLITE_OK) {
		json_object_object_add(root, "webhooks", list);
		list = NULL;
		rc = job_body(job, root);
	}
	json_object_put(list);
	json_object_put(root);
	return rc;
}

int kg_webhooks_retry_run(sqlite3 *db, struct kg_store_job *job)
{
	/* The newest failed delivery of each user, unless a newer one is pending or delivered;
	 * then the failed ones older than a pending or delivered one are superseded. */
	static const char requeue[] =
	    "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_ms = ?3,"
	    " last_error = NULL WHERE endpoint = ?1 AND state = 'failed' AND event_id IN"
	    " (SELECT MAX(event_id) FROM deliveries WHERE endpoint = ?1 AND state = 'failed'"
	    " GROUP BY user_locator) AND NOT EXISTS (SELECT 1 FROM deliveries n WHERE"
	    " n.endpoint = ?1 AND n.user_locator = deliveries.user_locator AND"
	    " n.event_id > deliveries.event_id AND n.state IN ('pending', 'delivered'))";
	static const char older[] =
	    "UPDATE deliveries SET state = 'superseded' WHERE endpoint = ?1 AND state = 'failed'"
	    " AND EXISTS (SELECT 1 FROM deliveries n WHERE n.endpoint = ?1 AND"
	    " n.user_locator = deliveries.user_locator AND n.event_id > deliveries.event_id AND"
	    " n.state IN ('pending', 'delivered'))";
	struct kg_req *req = job->owner;
	int n = 0, rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return rc;
	rc = step(db, requeue, job->client, NULL, (long long)kg_wall_ms(), 0, 0, NULL, &n);
	if (rc == SQLITE_OK)
		rc = step(db, older, job->client, NULL, 0, 0, 0, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	job->status = n;
	if (req->gw->webhooks != NULL)
		kg_store_kick(req->gw->webhooks->store, req->gw->webhooks->hook);
	return SQLITE_OK;
}

/* ---- lifecycle ---- */

bool kg_webhooks_start(struct kg_gateway *gw, const struct kg_config *cfg, char *err, size_t errcap)
{
	struct kg_webhooks *wh;

	if (gw->store == NULL)
		return true;
	wh = calloc(1, sizeof(*wh));
	if (wh == NULL || (wh->set = set_new(cfg)) == NULL) {
		free(wh);
		snprintf(err, errcap, "out of memory");
		return false;
	}
	pthread_mutex_init(&wh->mu, NULL);
	atomic_init(&wh->stopping, false);
	wh->gw = gw;
	wh->store = gw->store;
	wh->up = gw->up;
	kg_random_bytes(&wh->rng, sizeof(wh->rng));
	wh->rng |= 1; /* xorshift never leaves 0 */
	declare_metrics(wh->set);
	gw->webhooks = wh;
	wh->hook = kg_store_every(gw->store, DISPATCH_MS, dispatch, wh);
	if (wh->hook < 0) {
		snprintf(err, errcap, "cannot register the webhook dispatcher with the store");
		return false;
	}
	return true;
}

void kg_webhooks_reconfigure(struct kg_gateway *gw, const struct kg_config *cfg)
{
	struct kg_webhooks *wh = gw->webhooks;
	struct epset *s, *old;

	if (wh == NULL)
		return;
	s = set_new(cfg);
	if (s == NULL) {
		kg_log(KG_LOG_ERROR, "webhooks-reload", "detail",
		       "out of memory: the previous webhook endpoints stay", NULL);
		return;
	}
	declare_metrics(s);
	pthread_mutex_lock(&wh->mu);
	old = wh->set;
	wh->set = s;
	pthread_mutex_unlock(&wh->mu);
	set_put(old);
	kg_store_kick(wh->store, wh->hook);
}

void kg_webhooks_stop(struct kg_gateway *gw)
{
	struct kg_webhooks *wh = gw->webhooks;

	if (wh == NULL)
		return;
	atomic_store(&wh->stopping, true);
	/* The hook's id stays: kicking a cancelled hook does nothing, and nothing registers one
	 * after the stop. */
	kg_store_cancel(wh->store, wh->hook);
	/* The engine stopped first: every attempt has ended. Their outcomes are recorded by one
	 * last job, which the store runs before it closes. */
	memset(&wh->last, 0, sizeof(wh->last));
	wh->last.op = KG_STORE_RUN;
	wh->last.run = last_run;
	wh->last.done = last_done;
	wh->last.owner = wh;
	kg_store_submit(wh->store, &wh->last);
}

void kg_webhooks_free(struct kg_gateway *gw)
{
	struct kg_webhooks *wh = gw->webhooks;
	struct delivery *d, *next;

	if (wh == NULL)
		return;
	/* Attempts whose outcome could not be recorded: pending in the table, sent again. */
	for (d = wh->inflight; d != NULL; d = next) {
		next = d->next;
		delivery_free(d);
	}
	set_put(wh->set);
	pthread_mutex_destroy(&wh->mu);
	free(wh);
	gw->webhooks = NULL;
}
