/* Observations, events and the feed (design §10). Not landed yet: the hooks exist so that the
 * gateway's start and stop are wired once. */
#include "events.h"
#include "gateway.h"

bool kg_events_start(struct kg_gateway *gw, const struct kg_config *cfg, char *err, size_t errcap)
{
	(void)gw;
	(void)cfg;
	(void)err;
	(void)errcap;
	return true;
}

void kg_events_reconfigure(struct kg_gateway *gw, const struct kg_config *cfg)
{
	(void)gw;
	(void)cfg;
}

void kg_events_stop(struct kg_gateway *gw)
{
	(void)gw;
}

void kg_events_free(struct kg_gateway *gw)
{
	(void)gw;
}
