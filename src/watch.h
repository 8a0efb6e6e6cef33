/* Private to the watch module (watch.c, watch_rows.c, routes_watch.c) and to the trigger
 * (routes_verification.c): what they share beyond src/events.h. Design §10, "Watches". */
#ifndef KYCGATE_WATCH_H
#define KYCGATE_WATCH_H

#include <stdbool.h>
#include <stddef.h>

struct kg_req;
struct kg_answer;
struct kg_gateway;
struct sqlite3;
struct kg_store_job;

/* Request thread, once Crossmint accepted a trigger of the request's user: starts or renews
 * the user's automatic watch through a store job the request does not wait for. a (borrowed;
 * NULL when none) is the trigger's first status answer: settled already, the watch ends at once.
 * True when the user is watched now or will be once the job ran; false when max_watches are in
 * place, without a store, or with the store down. */
bool kg_watch_triggered(struct kg_req *req, struct kg_answer *a);

/* Store thread: the job of PUT / GET / DELETE .../watch (job->owner is the suspended request).
 * Sets job->status (200, 204, 404 not-watched, 503 watch-capacity) and, for 200, job->body
 * (the watch's view, new JSON bytes). Returns an SQLite result code. */
int kg_watch_route_run(struct sqlite3 *db, struct kg_store_job *job);

#endif
