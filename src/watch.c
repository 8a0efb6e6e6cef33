/* Watches (design §10). Not landed yet: the hooks exist so that the
 * gateway's start and stop are wired once. */
#include "events.h"
#include "gateway.h"

bool kg_watches_start(struct kg_gateway *gw, const struct kg_config *cfg, char *err, size_t errcap)
{
	(void)gw;
	(void)cfg;
	(void)err;
	(void)errcap;
	return true;
}

void kg_watches_reconfigure(struct kg_gateway *gw, const struct kg_config *cfg)
{
	(void)gw;
	(void)cfg;
}

void kg_watches_stop(struct kg_gateway *gw)
{
	(void)gw;
}

void kg_watches_free(struct kg_gateway *gw)
{
	(void)gw;
}

int kg_watch_observed(struct sqlite3 *db, struct kg_gateway *gw, const char *loc,
                      const char *overall, const char *next_action, unsigned long long observed_ms)
{
	(void)db;
	(void)gw;
	(void)loc;
	(void)overall;
	(void)next_action;
	(void)observed_ms;
	return 0; /* SQLITE_OK */
}
