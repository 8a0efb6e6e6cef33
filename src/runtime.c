/* The current configuration behind a mutex-guarded pointer and a reference count: loading the
 * pointer and incrementing happen under the same lock, so a swap can never free a config that a
 * request is about to take (design §8). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "kycgate/runtime.h"

struct kg_cfgref {
	atomic_uint refs;
	struct kg_config *cfg;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct kg_cfgref *current;

struct kg_cfgref *kg_runtime_wrap(struct kg_config *cfg)
{
	struct kg_cfgref *ref = malloc(sizeof(*ref));

	if (ref == NULL) {
		kg_config_free(cfg);
		return NULL;
	}
	atomic_init(&ref->refs, 1);
	ref->cfg = cfg;
	return ref;
}

void kg_runtime_install(struct kg_cfgref *ref)
{
	struct kg_cfgref *old;

	pthread_mutex_lock(&lock);
	old = current;
	current = ref;
	pthread_mutex_unlock(&lock);
	kg_runtime_put(old);
}

struct kg_cfgref *kg_runtime_get(void)
{
	struct kg_cfgref *ref;

	pthread_mutex_lock(&lock);
	ref = current;
	if (ref != NULL)
		atomic_fetch_add(&ref->refs, 1);
	pthread_mutex_unlock(&lock);
	return ref;
}

const struct kg_config *kg_runtime_cfg(const struct kg_cfgref *ref)
{
	return ref->cfg;
}

void kg_runtime_put(struct kg_cfgref *ref)
{
	if (ref == NULL || atomic_fetch_sub(&ref->refs, 1) != 1)
		return;
	kg_config_free(ref->cfg);
	free(ref);
}

void kg_runtime_clear(void)
{
	struct kg_cfgref *old;

	pthread_mutex_lock(&lock);
	old = current;
	current = NULL;
	pthread_mutex_unlock(&lock);
	kg_runtime_put(old);
}
