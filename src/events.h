/* The event source of design §10, split in three modules that meet only through this header:
 * - events.c (observations, change detection, events, the feed, GET /v1/users, the remembered
 *   country): turns every successful eligibility read into a compare-and-record on the store;
 * - watch.c (watches): polls watched users through the engine, so that reads happen;
 * - webhooks.c (webhooks): delivers committed events to the configured endpoints.
 * Each keeps its state in a struct hung on the gateway, started after the store opened and the
 * engine started, stopped (no new work; store hooks cancelled) once the daemons stopped and
 * before the engine is freed, and freed after the store, whose last jobs may still call back.
 * Each start returns false only when out of memory or a thread cannot start (err says why); with
 * store.driver none each is a no-op. Each reconfigure runs on the reload thread with the new
 * configuration (already applied to the engine). */
#ifndef KYCGATE_EVENTS_H
#define KYCGATE_EVENTS_H

#include <stdbool.h>
#include <stddef.h>

struct kg_gateway;
struct kg_config;
struct sqlite3;

/* ---- events.c ---- */
bool kg_events_start(struct kg_gateway *gw, const struct kg_config *cfg, char *err, size_t errcap);
void kg_events_reconfigure(struct kg_gateway *gw, const struct kg_config *cfg);
void kg_events_stop(struct kg_gateway *gw);
void kg_events_free(struct kg_gateway *gw);
/* Draining (SIGTERM): every request waiting on the feed is answered now, and later ones do not
 * wait. Any thread; never blocks. */
void kg_events_drain(struct kg_gateway *gw);

/* "YYYY-MM-DDTHH:MM:SSZ" of wall-clock milliseconds ms into buf (the epoch when ms has no such
 * form); what every time of the event source looks like. Pure. */
void kg_events_stamp(unsigned long long ms, char buf[21]);

/* ---- watch.c ---- */
bool kg_watches_start(struct kg_gateway *gw, const struct kg_config *cfg, char *err, size_t errcap);
void kg_watches_reconfigure(struct kg_gateway *gw, const struct kg_config *cfg);
void kg_watches_stop(struct kg_gateway *gw);
void kg_watches_free(struct kg_gateway *gw);

/* Store thread, inside the transaction that records an observation of user loc (decoded
 * locator) made at observed_ms (wall clock), whether or not it changed anything: the user's
 * watch, if any, takes the observation (its next poll is pushed back; an automatic watch of a
 * settled user ends, see design §10). overall and next_action are the §3 answer's "overall" and
 * "nextAction". Returns an SQLite result code (anything but SQLITE_OK rolls the observation
 * back). */
int kg_watch_observed(struct sqlite3 *db, struct kg_gateway *gw, const char *loc,
                      const char *overall, const char *next_action, unsigned long long observed_ms);

/* Store thread, after a transaction that called kg_watch_observed rolled back: a watch it ended
 * is in the table again, so the in-memory set and counts are loaded again from the table at the
 * scheduler's next tick. */
void kg_watches_resync(struct kg_gateway *gw);

/* ---- webhooks.c ---- */
bool kg_webhooks_start(struct kg_gateway *gw, const struct kg_config *cfg, char *err,
                       size_t errcap);
void kg_webhooks_reconfigure(struct kg_gateway *gw, const struct kg_config *cfg);
void kg_webhooks_stop(struct kg_gateway *gw);
void kg_webhooks_free(struct kg_gateway *gw);

/* Store thread, inside the transaction that records event event_id of user loc at created_ms
 * (wall clock): creates its deliveries, one per endpoint configured now that takes its type, and
 * supersedes that user's older deliveries still waiting for a retry (design §10). Returns an
 * SQLite result code (anything but SQLITE_OK rolls the event back). */
int kg_webhooks_on_event(struct sqlite3 *db, struct kg_gateway *gw, long long event_id,
                         const char *loc, unsigned long long created_ms);

/* Any thread, after an event committed: the dispatcher looks for due deliveries soon. Cheap;
 * never blocks. */
void kg_webhooks_kick(struct kg_gateway *gw);

#endif
