/* Webhooks (design §10). Not landed yet: the hooks exist so that the
 * gateway's start and stop are wired once. */
#include "events.h"
#include "gateway.h"

bool kg_webhooks_start(struct kg_gateway *gw, const struct kg_config *cfg, char *err, size_t errcap)
{
	(void)gw;
	(void)cfg;
	(void)err;
	(void)errcap;
	return true;
}

void kg_webhooks_reconfigure(struct kg_gateway *gw, const struct kg_config *cfg)
{
	(void)gw;
	(void)cfg;
}

void kg_webhooks_stop(struct kg_gateway *gw)
{
	(void)gw;
}

void kg_webhooks_free(struct kg_gateway *gw)
{
	(void)gw;
}

int kg_webhooks_on_event(struct sqlite3 *db, struct kg_gateway *gw, long long event_id,
                         const char *loc, unsigned long long created_ms)
{
	(void)db;
	(void)gw;
	(void)event_id;
	(void)loc;
	(void)created_ms;
	return 0; /* SQLITE_OK */
}

void kg_webhooks_kick(struct kg_gateway *gw)
{
	(void)gw;
}
