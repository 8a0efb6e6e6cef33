/* Private to the event source's own files (events.c, events_feed.c, events_users.c): the state
 * hung on the gateway, the feed's waiters, and what the request path calls. See events.h for the
 * contract with watch.c and webhooks.c. */
#ifndef KYCGATE_EVENTS_INTERNAL_H
#define KYCGATE_EVENTS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "events.h"
#include "kycgate/store.h"

struct kg_req;
struct kg_answer;
struct feed_req;

#define KG_EVENTS_PURGE_MS 3600000u /* the retention purge: hourly (and soon after start) */
#define KG_FEED_MAX_LIMIT 500       /* GET /v1/events and /v1/users: limit 1..500 */
#define KG_FEED_DEFAULT_LIMIT 100
#define KG_FEED_PEEK_MS 1000 /* how often waiting feed requests are checked for a hang-up */
#define KG_EVENTS_MAX_BODY_BYTES (1u << 20) /* longest event or state body stored */

struct kg_events {
	struct kg_gateway *gw;
	const char *environment;    /* kg_env_name(), static */
	atomic_uint retention_days; /* events.retention_days (reloadable) */
	int purge_hook;             /* kg_store_every id, -1 for none */
	/* The feed's waiters (events_feed.c), under mu. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread; /* deadlines and hang-ups of the waiters */
	bool thread_started;
	bool stopping;     /* under mu: the thread ends */
	bool ending;       /* under mu: draining, every waiter is answered now */
	long long last_id; /* under mu: the newest committed event id (store thread sets it) */
	struct feed_req *waiters; /* under mu: requests waiting for an event */
};

/* events.c: an observation of user loc (decoded locator): Crossmint's 2xx eligibility answer
 * (borrowed; a reference is taken) read from started_wall_ms (kg_wall_ms()). Queued as a store
 * job, or dropped (and counted) when the store is down or its queue full. Any thread; never
 * blocks. */
void kg_events_observe(struct kg_gateway *gw, const char *loc, struct kg_answer *answer,
                       unsigned long long started_wall_ms);

/* events.c: runs sql (no rows) on the store thread. */
int kg_events_exec(struct sqlite3 *db, const char *sql);

/* events_feed.c: starts and stops the waiters' thread; the store thread tells it that events up
 * to id committed (wakes the waiters behind it). */
bool kg_feed_start(struct kg_events *ev);
void kg_feed_stop(struct kg_events *ev);
void kg_feed_committed(struct kg_events *ev, long long id);

/* events_feed.c: true when the store is there and up; else a 503 (store-disabled or
 * store-unavailable) in req->reply. */
bool kg_events_store_ready(struct kg_req *req);

/* events_feed.c: the raw value of an already checked query parameter, or NULL. */
const char *kg_events_query_value(const struct kg_req *req, const char *name);

/* events_users.c: for the first upstream call of a verification route without ?country,
 * submits the lookup of the user's remembered country (into req->remembered) and counts it in
 * req->joint: true when submitted. Request thread, the request suspended. */
bool kg_events_country_lookup(struct kg_req *req);
/* Whether kg_events_country_lookup would submit a lookup for req (no side effect). */
bool kg_events_country_wanted(const struct kg_req *req);
/* The count of PUTs that may have changed a remembered country (kg_upstream_note_country,
 * kg_upstream_try_cached). Thread-safe. */
unsigned long kg_events_country_epoch(void);

/* events_users.c: a PUT of a user succeeded: its userDetails.countryOfResidence (or none) is
 * stored for the user. Request thread; never blocks. */
void kg_events_remember_country(struct kg_req *req);

/* events_feed.c: the store's retention purge (a kg_store_every hook; ctx is the kg_events). */
int kg_events_purge(struct sqlite3 *db, void *ctx);

#endif
