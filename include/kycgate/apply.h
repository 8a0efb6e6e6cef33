/* Putting a loaded config in force, the same way at start and at reload (design §5).
 *
 * kg_apply_config() first does everything that can fail (a reload may not change
 * crossmint.environment; the memory the swap and the engine's new settings need), so a config
 * that fails changes nothing. Then it swaps the config in, and only then applies the log settings
 * (level, format, locator hash key) and the build-info label, and logs the config's warnings
 * (config-warning, config-key-not-active, no-api-key, auth-disabled, simulator-exposed,
 * locator-hash-key-random; at reload also config-restart-needed). */
#ifndef KYCGATE_APPLY_H
#define KYCGATE_APPLY_H

#include <stddef.h>

#include "kycgate/common.h"

struct kg_config;
struct kg_gateway;

/* Puts cfg in force; takes ownership of cfg, also on failure. gw is the running gateway (its
 * engine and embedded simulator get the new settings), or NULL at start (kg_gateway_start() then
 * reads the config in force). Returns KG_OK; or, with nothing changed and a reason in err:
 * KG_ERR_CONFIG when cfg changes crossmint.environment, KG_ERR_NOMEM when memory ran out. Main
 * thread only (the only thread that swaps configs). */
enum kg_err kg_apply_config(struct kg_config *cfg, struct kg_gateway *gw, char *err, size_t errcap);

#endif
