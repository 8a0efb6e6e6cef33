/* The gateway process: the libmicrohttpd daemon, the upstream engine and (with the simulator
 * environment) the embedded simulator, wired together. */
#ifndef KYCGATE_SERVER_H
#define KYCGATE_SERVER_H

#include <stddef.h>
#include <stdint.h>

struct kg_gateway;

/* Starts serving on the current config (kg_runtime_set must have been called). With the
 * simulator environment, starts the embedded simulator on an ephemeral loopback port first.
 * Returns a new gateway (kg_gateway_stop frees it), or NULL with a reason in err. */
struct kg_gateway *kg_gateway_start(char *err, size_t errcap);

/* The bound listener port. */
uint16_t kg_gateway_port(const struct kg_gateway *gw);

/* Marks the gateway as draining: /readyz answers 503 from now on. Thread-safe. */
void kg_gateway_drain(struct kg_gateway *gw);

/* Stops accepting, ends every upstream call (resuming each suspended request), stops the daemon
 * and the simulator, frees everything. Accepts NULL. */
void kg_gateway_stop(struct kg_gateway *gw);

#endif
