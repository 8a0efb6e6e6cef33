/* The gateway process: the libmicrohttpd daemon, the upstream engine and (with the simulator
 * environment) the embedded simulator, wired together. */
#ifndef KYCGATE_SERVER_H
#define KYCGATE_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kg_gateway;

/* Starts serving on the current config (kg_apply_config must have put one in force). With the
 * simulator environment, starts the embedded simulator on an ephemeral loopback port first.
 * Returns a new gateway (kg_gateway_stop frees it), or NULL with a reason in err. */
struct kg_gateway *kg_gateway_start(char *err, size_t errcap);

/* The bound listener port. */
uint16_t kg_gateway_port(const struct kg_gateway *gw);

/* The bound metrics.listen port, 0 when metrics are served on the main listener. */
uint16_t kg_gateway_metrics_port(const struct kg_gateway *gw);

/* Marks the gateway as draining: /readyz answers 503 from now on. Thread-safe. */
void kg_gateway_drain(struct kg_gateway *gw);

struct kg_config;

/* Applies a reloaded config to what outlives requests: the engine's key, base URL and limits,
 * and the embedded simulator's key and behaviour. cfg is borrowed for the call (what is kept is
 * copied). On failure (KG_ERR_NOMEM) nothing was changed. Main thread (kg_apply_config). */
enum kg_err kg_gateway_reconfigure(struct kg_gateway *gw, const struct kg_config *cfg);

/* Starts the upstream self-check (design §5): one read of a random unknown user; 404 means the
 * key works. It sets kycgate_upstream_auth_ok and logs; it never gates readiness. */
void kg_gateway_selfcheck(struct kg_gateway *gw);

/* Shutdown, second step: stops accepting connections, answers waiting long-polls with their
 * latest state, and closes connections after their next answer. */
void kg_gateway_quiesce(struct kg_gateway *gw);

/* True when no request is waiting on Crossmint. */
bool kg_gateway_idle(const struct kg_gateway *gw);

/* Stops accepting, ends every upstream call (resuming each suspended request), stops the daemon
 * and the simulator, frees everything. Accepts NULL. */
void kg_gateway_stop(struct kg_gateway *gw);

#endif
