/* One way to put a config in force, used at start (main.c) and at reload (control.c): validate
 * what can fail, swap, then the log settings and the warnings. */
#include <stdio.h>
#include <string.h>

#include "kycgate/apply.h"
#include "kycgate/config.h"
#include "kycgate/log.h"
#include "kycgate/metrics.h"
#include "kycgate/runtime.h"
#include "kycgate/server.h"

static void append(char *buf, size_t cap, const char *word)
{
	size_t used = strlen(buf);

	snprintf(buf + used, cap - used, "%s%s", used ? " " : "", word);
}

/* Keys that a running process cannot change; a reload that changes them says so. */
static void restart_needed(const struct kg_config *old, const struct kg_config *cfg)
{
	char keys[256] = "";

	if (strcmp(old->server.listen_host, cfg->server.listen_host) != 0 ||
	    old->server.listen_port != cfg->server.listen_port)
		append(keys, sizeof(keys), "server.listen");
	if (old->server.threads != cfg->server.threads)
		append(keys, sizeof(keys), "server.threads");
	if (old->server.max_connections != cfg->server.max_connections)
		append(keys, sizeof(keys), "server.max_connections");
	if (old->server.connection_timeout_s != cfg->server.connection_timeout_s)
		append(keys, sizeof(keys), "server.connection_timeout_s");
	if (old->server.max_connections_per_ip != cfg->server.max_connections_per_ip)
		append(keys, sizeof(keys), "server.max_connections_per_ip");
	if (strcmp(old->server.tls_cert_file, cfg->server.tls_cert_file) != 0 ||
	    strcmp(old->server.tls_key_file, cfg->server.tls_key_file) != 0)
		append(keys, sizeof(keys), "server.tls");
	if (strcmp(old->metrics.listen, cfg->metrics.listen) != 0)
		append(keys, sizeof(keys), "metrics.listen");

	if (keys[0] == '\0')
		return;
	kg_log(KG_LOG_WARN, "config-restart-needed", "keys", keys, "detail",
	       "these keys keep their old values until the process restarts", NULL);
}

/* The warnings a config carries, logged each time it is put in force. */
static void report(const struct kg_config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->n_warnings; i++)
		kg_log(KG_LOG_WARN, "config-warning", "detail", cfg->warnings[i], NULL);
	for (i = 0; i < cfg->n_inactive_keys; i++)
		kg_log(KG_LOG_WARN, "config-key-not-active", "key", cfg->inactive_keys[i], "detail",
		       "accepted, but its feature is not in this release", NULL);
	if (cfg->crossmint.environment != KG_ENV_SIMULATOR && cfg->crossmint.api_key == NULL)
		kg_log(KG_LOG_WARN, "no-api-key", "detail",
		       "no Crossmint key is set (crossmint.api_key / api_key_file): every upstream "
		       "call will be refused",
		       NULL);
	if (cfg->auth.mode_none)
		kg_log(KG_LOG_ERROR, "auth-disabled", "detail",
		       "auth.mode is none: every caller has every scope", NULL);
	if (cfg->crossmint.environment == KG_ENV_SIMULATOR &&
	    strcmp(cfg->server.listen_host, "127.0.0.1") != 0 &&
	    strcmp(cfg->server.listen_host, "::1") != 0)
		kg_log(KG_LOG_ERROR, "simulator-exposed", "detail",
		       "the simulator environment listens beyond loopback", NULL);
}

/* The key of the locator hash in access lines: configured (shared by replicas, so one user has
 * one hash everywhere), else random for this process, chosen at start and kept across reloads
 * (a new one would change every user's hash mid-run). */
static void locator_key(const struct kg_config *cfg, bool start)
{
	unsigned char rnd[32];

	if (cfg->log.locator_hash_key != NULL) {
		kg_log_set_locator_key(cfg->log.locator_hash_key, cfg->log.locator_hash_key_len);
		return;
	}
	if (start) {
		kg_random_bytes(rnd, sizeof(rnd));
		kg_log_set_locator_key(rnd, sizeof(rnd));
		kg_wipe(rnd, sizeof(rnd));
	}
	kg_log(KG_LOG_WARN, "locator-hash-key-random", "detail",
	       "log.locator_hash_key is not set: user hashes in access lines change at every start "
	       "and differ between replicas",
	       NULL);
}

/* What can refuse cfg before anything changes: a switch of environment. */
static enum kg_err check(const struct kg_config *old, const struct kg_config *cfg, char *err,
                         size_t errcap)
{
	/* The environment decides the key, the base URL and what every answer is labelled: mixing
	 * them until a restart could label a real verification as a staging one. */
	if (old != NULL && old->crossmint.environment != cfg->crossmint.environment) {
		snprintf(err, errcap,
		         "crossmint.environment changed: restart the process to switch "
		         "environments; nothing was changed");
		return KG_ERR_CONFIG;
	}
	return KG_OK;
}

enum kg_err kg_apply_config(struct kg_config *cfg, struct kg_gateway *gw, char *err, size_t errcap)
{
	struct kg_cfgref *old = kg_runtime_get(), *ref = NULL;
	const struct kg_config *prev = old ? kg_runtime_cfg(old) : NULL;
	enum kg_err e = check(prev, cfg, err, errcap);

	if (e != KG_OK) {
		kg_config_free(cfg);
		goto out;
	}
	ref = kg_runtime_wrap(cfg); /* owns cfg from here, also on failure */
	if (ref == NULL || (gw != NULL && kg_gateway_reconfigure(gw, cfg) != KG_OK)) {
		snprintf(err, errcap, "out of memory");
		kg_runtime_put(ref);
		e = KG_ERR_NOMEM;
		goto out;
	}
	/* Nothing fails from here: swap, then the settings and warnings of the new config (which
	 * the runtime keeps alive until the next swap, on this thread). */
	kg_runtime_install(ref);
	kg_log_setup(cfg->log.level, cfg->log.format);
	locator_key(cfg, prev == NULL);
	kg_metrics_set_build_info(kg_env_name(cfg->crossmint.environment));
	if (prev != NULL)
		restart_needed(prev, cfg);
	report(cfg);
out:
	kg_runtime_put(old);
	return e;
}
