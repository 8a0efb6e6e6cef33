/* kycgate configuration: loading, the checks that span keys, and the accessors of config.h.
 *
 * A load runs in three steps, all on the caller's thread with no global state: libyaml events
 * to a tree (config_yaml.c), the tree checked against the schema tables into a struct
 * kg_config (config_schema.c), then the rules that involve several keys (below). Every problem
 * is collected; the struct is handed out only when there is none. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_internal.h"
#include "kycgate/sha256.h"
#include "kycgate/simulator.h"

#define OFF(m) offsetof(struct kg_config, m)
#define MIN_LOCKEY_BYTES 32

/* ---- defaults ---- */

static void set_numbers(struct kg_config *cfg)
{
	cfg->server.listen_port = 8080;
	cfg->server.max_connections = 4096;
	cfg->server.connection_timeout_s = 60;
	cfg->server.header_timeout_s = 10;
	cfg->server.max_body_bytes = 1024 * 1024;
	cfg->server.max_document_bytes = 10 * 1024 * 1024;
	cfg->server.max_buffered_bytes = 64 * 1024 * 1024;
	cfg->server.shutdown_grace_s = 10;
	cfg->server.drain_delay_s = 5;
	cfg->crossmint.environment = KG_ENV_STAGING;
	cfg->crossmint.connect_timeout_ms = 3000;
	cfg->crossmint.timeout_ms = 15000;
	cfg->crossmint.max_connections = 32;
	cfg->crossmint.max_inflight = 1024;
	cfg->crossmint.max_response_bytes = 1024 * 1024;
	cfg->crossmint.retry.max_attempts = 3;
	cfg->crossmint.retry.base_delay_ms = 100;
	cfg->crossmint.retry.max_delay_ms = 2000;
	cfg->crossmint.rate_limit.writes_per_minute = 120;
	cfg->crossmint.rate_limit.reads_per_minute = 360;
	cfg->crossmint.circuit_breaker.failure_threshold = 5;
	cfg->crossmint.circuit_breaker.open_s = 30;
	cfg->simulator.review_delay_ms = KG_SIM_REVIEW_DELAY_MS_DEFAULT;
	cfg->verification.max_wait_s = 30;
	cfg->verification.max_waiting_per_client = 100;
	cfg->verification.cache_ttl_ms = 1000;
	cfg->verification.max_waiting = 10000;
	cfg->log.level = KG_LOG_INFO;
	cfg->log.format = KG_LOG_JSON;
	cfg->metrics.enabled = true;
	cfg->store.driver = KG_STORE_SQLITE;
	cfg->store.postgres_lease_s = 30;
	cfg->store.postgres_replicas = 2;
	cfg->events.idempotency_ttl_h = 24;
	cfg->events.retention_days = 30;
	cfg->events.watch.poll_initial_s = 5;
	cfg->events.watch.poll_max_s = 300;
	cfg->events.watch.poll_settled_s = 3600;
	cfg->events.watch.budget_share_pct = 50;
	cfg->events.watch.max_watches = 100000;
	cfg->events.watch.max_age_days = 90;
	{
		static const unsigned sched[] = {5, 300, 1800, 7200, 18000, 36000, 36000};

		memcpy(cfg->events.retry_schedule_s, sched, sizeof(sched));
		cfg->events.n_retry_schedule = sizeof(sched) / sizeof(sched[0]);
	}
}

/* A new config holding every default of design §4, or NULL when out of memory. */
static struct kg_config *new_defaults(const char *path)
{
	struct kg_config *cfg = calloc(1, sizeof(*cfg));

	if (cfg == NULL)
		return NULL;
	set_numbers(cfg);
	cfg->path = strdup(path);
	cfg->server.listen_host = strdup("0.0.0.0");
	cfg->server.tls_cert_file = strdup("");
	cfg->server.tls_key_file = strdup("");
	cfg->crossmint.base_url = strdup("");
	cfg->crossmint.api_version = strdup("2025-06-09");
	cfg->crossmint.api_key_file = strdup("");
	cfg->crossmint.proxy = strdup("");
	cfg->log.locator_hash_key_file = strdup("");
	cfg->metrics.listen = strdup("");
	cfg->store.sqlite_path = strdup(KG_STORE_DEFAULT_PATH);
	cfg->store.postgres_dsn = strdup("");
	cfg->store.postgres_dsn_file = strdup("");
	cfg->simulator.edd_countries = calloc(2, sizeof(*cfg->simulator.edd_countries));
	if (!cfg->path || !cfg->server.listen_host || !cfg->server.tls_cert_file ||
	    !cfg->server.tls_key_file || !cfg->crossmint.base_url || !cfg->crossmint.api_version ||
	    !cfg->crossmint.api_key_file || !cfg->crossmint.proxy ||
	    !cfg->log.locator_hash_key_file || !cfg->metrics.listen ||
	    !cfg->simulator.edd_countries || !cfg->store.sqlite_path || !cfg->store.postgres_dsn ||
	    !cfg->store.postgres_dsn_file) {
		kg_config_free(cfg);
		return NULL;
	}
	memcpy(cfg->simulator.edd_countries[0], "AE", 3);
	memcpy(cfg->simulator.edd_countries[1], "TR", 3);
	cfg->simulator.n_edd_countries = 2;
	return cfg;
}

/* ---- checks that span keys ---- */

/* The first present line among marks a and b, else 1. */
static size_t line_or(const struct cfg_ctx *c, enum cfg_mark a, enum cfg_mark b)
{
	if (c->mark[a] != 0)
		return c->mark[a];
	return c->mark[b] != 0 ? c->mark[b] : 1;
}

static void check_tls(struct cfg_ctx *c)
{
	const struct kg_config *cfg = c->cfg;
	bool cert = cfg->server.tls_cert_file[0] != '\0', key = cfg->server.tls_key_file[0] != '\0';

	if (cert && !key)
		cfg_err(c, line_or(c, M_TLS_CERT, M_SERVER), "server.tls.key_file",
		        "required when server.tls.cert_file is set");
	if (key && !cert)
		cfg_err(c, line_or(c, M_TLS_KEY, M_SERVER), "server.tls.cert_file",
		        "required when server.tls.key_file is set");
}

static void check_retry(struct cfg_ctx *c)
{
	const struct kg_config *cfg = c->cfg;

	if (cfg->crossmint.retry.base_delay_ms > cfg->crossmint.retry.max_delay_ms)
		cfg_err(c, line_or(c, M_RETRY_BASE, M_CROSSMINT), "crossmint.retry.base_delay_ms",
		        "must not exceed crossmint.retry.max_delay_ms");
}

static void check_base_url(struct cfg_ctx *c)
{
	struct kg_config *cfg = c->cfg;
	const char *why;

	if (cfg->crossmint.base_url[0] == '\0' || c->bad[M_ENV])
		return;
	why = cfg_check_url(cfg->crossmint.base_url, cfg->crossmint.environment);
	if (why != NULL)
		cfg_err(c, c->mark[M_BASE_URL], "crossmint.base_url", "%s", why);
}

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* What is wrong with a Crossmint key for env, or NULL. Never quotes the key. */
static const char *key_problem(const char *key, size_t len, enum kg_env env)
{
	const char *want = env == KG_ENV_PRODUCTION ? "sk_production_" : "sk_staging_";
	size_t i;

	if (strlen(key) != len)
		return "must not contain a NUL byte";
	for (i = 0; i < len; i++)
		if (key[i] < 0x21 || key[i] > 0x7e)
			return "must be printable ASCII without spaces";
	if (env == KG_ENV_SIMULATOR)
		return NULL;
	if (starts(key, "ck_"))
		return "a client key (ck_) cannot call the Users API; use a server key (sk_)";
	if (starts(key, want))
		return len > strlen(want) ? NULL : "holds only a prefix, not a key";
	if (env == KG_ENV_STAGING && starts(key, "sk_production_"))
		return "a production key in staging (staging needs an sk_staging_ key)";
	if (env == KG_ENV_PRODUCTION && starts(key, "sk_staging_"))
		return "a staging key in production (production needs an sk_production_ key)";
	if (starts(key, "sk_live") || starts(key, "sk_test"))
		return "an old-format key (sk_live/sk_test); create a new server key in the "
		       "Crossmint console";
	return env == KG_ENV_PRODUCTION
	           ? "not a production server key (expected the sk_production_ prefix)"
	           : "not a staging server key (expected the sk_staging_ prefix)";
}

static void check_api_key(struct cfg_ctx *c)
{
	struct kg_config *cfg = c->cfg;
	const char *path = "crossmint.api_key", *file = cfg->crossmint.api_key_file, *why;
	size_t line = c->mark[M_API_KEY], len = 0;
	char *key = cfg->crossmint.api_key;

	if (key != NULL && key[0] == '\0') {
		cfg_free_secret(key);
		cfg->crossmint.api_key = key = NULL;
	}
	if (key != NULL)
		len = strlen(key);
	if (file[0] != '\0' && key != NULL) {
		cfg_err(c, c->mark[M_API_KEY_FILE], "crossmint.api_key_file",
		        "set either crossmint.api_key or crossmint.api_key_file, not both");
		return;
	}
	if (file[0] != '\0') {
		path = "crossmint.api_key_file";
		line = c->mark[M_API_KEY_FILE];
		if (!cfg_read_secret(c, file, line, path, &key, &len))
			return;
		cfg->crossmint.api_key = key;
	}
	if (c->bad[M_ENV] || c->bad[M_API_KEY] || c->bad[M_API_KEY_FILE])
		return;
	if (key == NULL && cfg->crossmint.environment == KG_ENV_PRODUCTION)
		cfg_err(c, line_or(c, M_API_KEY, M_CROSSMINT), path,
		        "production requires an API key (crossmint.api_key or "
		        "crossmint.api_key_file)");
	if (key == NULL)
		return;
	why = key_problem(key, len, cfg->crossmint.environment);
	if (why != NULL)
		cfg_err(c, line, path, "%s", why);
}

/* log.locator_hash_key or _file, at least 32 bytes; the bytes move into cfg->log. */
static void check_lockey(struct cfg_ctx *c)
{
	struct kg_config *cfg = c->cfg;
	const char *path = "log.locator_hash_key", *file = cfg->log.locator_hash_key_file;
	size_t line = c->mark[M_LOCKEY], len = 0;
	char *key = c->lockey;

	c->lockey = NULL;
	if (key != NULL && key[0] == '\0') {
		cfg_free_secret(key);
		key = NULL;
	}
	if (key != NULL && file[0] != '\0') {
		cfg_err(c, c->mark[M_LOCKEY_FILE], "log.locator_hash_key_file",
		        "set either log.locator_hash_key or log.locator_hash_key_file, not both");
		goto fail;
	}
	if (key != NULL) {
		len = strlen(key);
	} else if (file[0] != '\0') {
		path = "log.locator_hash_key_file";
		line = c->mark[M_LOCKEY_FILE];
		if (!cfg_read_secret(c, file, line, path, &key, &len))
			return;
	} else {
		return;
	}
	if (len < MIN_LOCKEY_BYTES) {
		cfg_err(c, line, path, "must be at least %d bytes", MIN_LOCKEY_BYTES);
		goto fail;
	}
	cfg->log.locator_hash_key = (unsigned char *)key;
	cfg->log.locator_hash_key_len = len;
	return;
fail:
	if (key != NULL)
		kg_wipe(key, len ? len : strlen(key));
	free(key);
}

static void check_auth(struct cfg_ctx *c)
{
	const struct kg_config *cfg = c->cfg;

	if (cfg->auth.mode_none) {
		if (cfg->crossmint.environment != KG_ENV_SIMULATOR && !c->bad[M_ENV])
			cfg_err(c, c->mark[M_AUTH_MODE], "auth.mode",
			        "none is allowed only when crossmint.environment is simulator");
		return;
	}
	if (cfg->auth.n_clients == 0 && !c->bad[M_CLIENTS])
		cfg_err(c, line_or(c, M_CLIENTS, M_AUTH), "auth.clients",
		        "at least one client is required when auth.mode is tokens");
}

static void check_store(struct cfg_ctx *c)
{
	const struct kg_config *cfg = c->cfg;

	if (cfg->store.driver == KG_STORE_SQLITE && cfg->store.sqlite_path[0] == '\0')
		cfg_err(c, line_or(c, M_STORE_DRIVER, M_NONE), "store.sqlite.path",
		        "required when store.driver is sqlite (or set store.driver: none)");
}

static void finalize(struct cfg_ctx *c)
{
	check_store(c);
	check_tls(c);
	check_retry(c);
	check_base_url(c);
	check_api_key(c);
	check_lockey(c);
	check_auth(c);
	cfg_check_webhooks(c);
}

/* ---- loading ---- */

/* Hands the result out: the config on success, else the error text. */
static enum kg_err hand_out(struct cfg_ctx *c, struct kg_config **out, char **errors)
{
	enum kg_err rc = KG_OK;
	char *text;

	if (c->nomem || c->cfg == NULL) {
		rc = KG_ERR_NOMEM;
		cfg_drop_errors(c);
		c->n_errs = 0;
		cfg_err(c, 0, NULL, "out of memory");
	} else if (c->n_errs > 0) {
		rc = KG_ERR_CONFIG;
	}
	if (rc == KG_OK) {
		*out = c->cfg;
		return KG_OK;
	}
	kg_config_free(c->cfg);
	c->cfg = NULL;
	text = cfg_take_errors(c);
	if (errors != NULL)
		*errors = text;
	else
		free(text);
	return rc;
}

static enum kg_err load_text(const char *name, const char *text, size_t len, struct kg_config **out,
                             char **errors)
{
	struct cfg_ctx c;
	struct ynode *root = NULL;
	enum kg_err rc;

	memset(&c, 0, sizeof(c));
	c.file = name;
	c.cfg = new_defaults(name);
	if (c.cfg != NULL && len > KG_MAX_CONFIG_FILE_BYTES)
		cfg_err(&c, 0, NULL, "larger than %d bytes", KG_MAX_CONFIG_FILE_BYTES);
	else if (c.cfg != NULL && cfg_yaml_parse(&c, text, len, &root)) {
		cfg_walk(&c, root);
		finalize(&c);
	}
	rc = hand_out(&c, out, errors);
	cfg_ynode_free(root);
	cfg_free_secret(c.lockey);
	return rc;
}

enum kg_err kg_config_load_string(const char *name, const char *yaml, size_t len,
                                  struct kg_config **out, char **errors)
{
	if (errors != NULL)
		*errors = NULL;
	if (out == NULL || (yaml == NULL && len > 0))
		return KG_ERR_INVALID;
	*out = NULL;
	return load_text(name != NULL ? name : "<string>", yaml, len, out, errors);
}

/* "FILE: reason" as a new string (NULL when out of memory). */
static char *file_error(const char *path, const char *reason)
{
	size_t n = strlen(path) + strlen(reason) + 4;
	char *s = malloc(n);

	if (s != NULL)
		snprintf(s, n, "%s: %s\n", path, reason);
	return s;
}

/* Reads the whole file (at most KG_MAX_CONFIG_FILE_BYTES + 1 bytes) into a new buffer. */
static enum kg_err read_file(const char *path, char **buf, size_t *len, char **errors)
{
	char ebuf[128];
	size_t cap = KG_MAX_CONFIG_FILE_BYTES + 1, got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	ssize_t r = 0;

	*buf = NULL;
	if (fd < 0)
		goto io;
	*buf = malloc(cap);
	if (*buf == NULL) {
		close(fd);
		return KG_ERR_NOMEM;
	}
	while (got < cap && (r = read(fd, *buf + got, cap - got)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto io;
		got += (size_t)r;
	}
	close(fd);
	*len = got;
	return KG_OK;
io:
	*errors = file_error(path, strerror_r(errno, ebuf, sizeof(ebuf)));
	if (fd >= 0)
		close(fd);
	if (*buf != NULL)
		kg_wipe(*buf, got); /* what was read before the error may hold a secret */
	free(*buf);
	*buf = NULL;
	return KG_ERR_IO;
}

enum kg_err kg_config_load(const char *path, struct kg_config **out, char **errors)
{
	char *buf = NULL, *err = NULL;
	size_t len = 0;
	enum kg_err rc;

	if (errors != NULL)
		*errors = NULL;
	if (path == NULL || out == NULL)
		return KG_ERR_INVALID;
	*out = NULL;
	rc = read_file(path, &buf, &len, &err);
	if (rc == KG_OK)
		rc = load_text(path, buf, len, out, &err);
	if (buf != NULL)
		kg_wipe(buf, len);
	free(buf);
	if (errors != NULL)
		*errors = err;
	else
		free(err);
	return rc;
}

void kg_config_free(struct kg_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->server.listen_host);
	free(cfg->server.tls_cert_file);
	free(cfg->server.tls_key_file);
	free(cfg->crossmint.base_url);
	free(cfg->crossmint.api_version);
	cfg_free_secret(cfg->crossmint.api_key);
	free(cfg->crossmint.api_key_file);
	cfg_free_secret(cfg->crossmint.proxy); /* may carry the proxy's user:password */
	free(cfg->simulator.edd_countries);
	for (i = 0; i < cfg->auth.n_clients; i++) {
		free(cfg->auth.clients[i].name);
		free(cfg->auth.clients[i].token_file);
	}
	if (cfg->auth.clients != NULL)
		kg_wipe(cfg->auth.clients, cfg->auth.n_clients * sizeof(*cfg->auth.clients));
	free(cfg->auth.clients);
	if (cfg->log.locator_hash_key != NULL)
		kg_wipe(cfg->log.locator_hash_key, cfg->log.locator_hash_key_len);
	free(cfg->log.locator_hash_key);
	free(cfg->log.locator_hash_key_file);
	free(cfg->metrics.listen);
	free(cfg->metrics.listen_host);
	free(cfg->store.sqlite_path);
	cfg_free_secret(cfg->store.postgres_dsn);
	free(cfg->store.postgres_dsn_file);
	cfg_free_webhooks(cfg);
	for (i = 0; i < cfg->n_inactive_keys; i++)
		free(cfg->inactive_keys[i]);
	free(cfg->inactive_keys);
	for (i = 0; i < cfg->n_warnings; i++)
		free(cfg->warnings[i]);
	free(cfg->warnings);
	free(cfg);
}

/* ---- accessors ---- */

const char *kg_config_base_url(const struct kg_config *cfg)
{
	if (cfg->crossmint.base_url != NULL && cfg->crossmint.base_url[0] != '\0')
		return cfg->crossmint.base_url;
	switch (cfg->crossmint.environment) {
	case KG_ENV_STAGING:
		return "https://staging.crossmint.com/api";
	case KG_ENV_PRODUCTION:
		return "https://www.crossmint.com/api";
	case KG_ENV_SIMULATOR:
		break;
	}
	return NULL;
}

const char *kg_env_name(enum kg_env env)
{
	switch (env) {
	case KG_ENV_STAGING:
		return "staging";
	case KG_ENV_PRODUCTION:
		return "production";
	case KG_ENV_SIMULATOR:
		return "simulator";
	}
	return "unknown";
}

const struct kg_client *kg_config_find_client(const struct kg_config *cfg,
                                              const unsigned char digest[KG_SHA256_LEN])
{
	const struct kg_client *found = NULL;
	size_t i;

	if (cfg == NULL || digest == NULL)
		return NULL;
	/* Every client is compared, match or not, so the time does not tell which one matched. */
	for (i = 0; i < cfg->auth.n_clients; i++) {
		bool eq = kg_ct_equal(cfg->auth.clients[i].token_digest, digest, KG_SHA256_LEN);

		if (eq && found == NULL)
			found = &cfg->auth.clients[i];
	}
	return found;
}
