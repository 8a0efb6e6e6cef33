/* The event feed (design §10): GET /v1/events, its waiters, and the retention purge. */
#include <sqlite3.h>

#include "events_internal.h"
#include "gateway.h"

bool kg_feed_start(struct kg_events *ev)
{
	(void)ev;
	return true;
}

void kg_feed_stop(struct kg_events *ev)
{
	(void)ev;
}

void kg_feed_committed(struct kg_events *ev, long long id)
{
	pthread_mutex_lock(&ev->mu);
	if (id > ev->last_id)
		ev->last_id = id;
	pthread_mutex_unlock(&ev->mu);
}

int kg_events_purge(struct sqlite3 *db, void *ctx)
{
	(void)db;
	(void)ctx;
	return SQLITE_OK;
}
