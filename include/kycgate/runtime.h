/* The configuration in force, shared by reference: each request takes a reference when it starts
 * and finishes on that config even if a reload swaps in another. */
#ifndef KYCGATE_RUNTIME_H
#define KYCGATE_RUNTIME_H

#include "kycgate/config.h"

struct kg_cfgref;

/* Wraps cfg for kg_runtime_install(), the step of a swap that can fail: takes ownership of cfg,
 * also on failure. Returns a new reference, or NULL when memory ran out (cfg is then freed).
 * Drop a reference never installed with kg_runtime_put(). */
struct kg_cfgref *kg_runtime_wrap(struct kg_config *cfg);

/* Makes ref's config the current one (takes the reference); cannot fail. The previous one is
 * freed once its last reference is dropped. */
void kg_runtime_install(struct kg_cfgref *ref);

/* A new reference to the current config, or NULL before the first kg_runtime_install.
 * Drop it with kg_runtime_put. Thread-safe. */
struct kg_cfgref *kg_runtime_get(void);

/* The config behind a reference (borrowed while the reference is held). */
const struct kg_config *kg_runtime_cfg(const struct kg_cfgref *ref);

/* Drops a reference. Accepts NULL. Thread-safe. */
void kg_runtime_put(struct kg_cfgref *ref);

/* Drops the current config (at exit). */
void kg_runtime_clear(void);

#endif
