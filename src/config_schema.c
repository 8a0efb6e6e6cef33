/* The schema of design §4 as data, and the walk that checks a YAML tree against it and fills
 * struct kg_config. Each key is a row of a static table (type, range, destination); keys that
 * need more than a type and a range have a handler. Checks that span keys (environment against
 * key prefix, auth mode against environment, ...) run afterwards in config.c. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

#define KIB 1024ull
#define MIB (1024ull * 1024ull)
#define GIB (1024ull * 1024ull * 1024ull)
#define MAX_FIELDS 32 /* rows in one table */
#define MAX_COUNTRIES 300

#define OFF(m) offsetof(struct kg_config, m)

/* ---- node helpers ---- */

bool cfg_is_null(const struct ynode *v)
{
	if (v->type != Y_SCALAR || !v->plain)
		return false;
	return v->len == 0 || strcmp(v->text, "~") == 0 || strcmp(v->text, "null") == 0 ||
	       strcmp(v->text, "Null") == 0 || strcmp(v->text, "NULL") == 0;
}

const char *cfg_kind(const struct ynode *v)
{
	if (v->type == Y_MAP)
		return "a mapping";
	if (v->type == Y_SEQ)
		return "a list";
	return cfg_is_null(v) ? "an empty value" : "a scalar";
}

static const char *show_path(const char *path)
{
	return path[0] != '\0' ? path : "(root)";
}

/* Reports anchors, tags and aliases on v; false when v cannot be used (an alias). */
bool cfg_usable(struct cfg_ctx *c, const struct ynode *v, const char *path)
{
	if (v->type == Y_ALIAS) {
		cfg_err(c, v->line, show_path(path), "aliases are not allowed");
		return false;
	}
	if (v->anchored)
		cfg_err(c, v->line, show_path(path), "anchors are not allowed");
	if (v->tagged)
		cfg_err(c, v->line, show_path(path), "tags are not allowed");
	return true;
}

/* out = path.key (or key at the root); a path too long for cap ends in "...". */
void cfg_join(char *out, size_t cap, const char *path, const char *key)
{
	int n;

	if (path[0] == '\0')
		n = snprintf(out, cap, "%s", key);
	else
		n = snprintf(out, cap, "%s.%s", path, key);
	if ((n < 0 || (size_t)n >= cap) && cap > 4)
		memcpy(out + cap - 4, "...", 4);
}

/* The expanded text of scalar v (new; free with cfg_free_secret), or NULL after recording
 * why. Reasons never contain the value. */
char *cfg_scalar(struct cfg_ctx *c, const struct ynode *v, const char *path)
{
	char why[256];
	char *s = NULL;
	size_t n;

	if (!cfg_usable(c, v, path))
		return NULL;
	if (v->type != Y_SCALAR) {
		cfg_err(c, v->line, path, "expected a scalar, found %s", cfg_kind(v));
		return NULL;
	}
	if (memchr(v->text, '\0', v->len) != NULL) {
		cfg_err(c, v->line, path, "must not contain a NUL byte");
		return NULL;
	}
	if (cfg_is_null(v)) {
		s = strdup("");
		if (s == NULL)
			c->nomem = true;
		return s;
	}
	if (!cfg_expand(v->text, v->len, &s, &n, why, sizeof(why)))
		cfg_err(c, v->line, path, "%s", why);
	return s;
}

static bool get_uint(struct cfg_ctx *c, const struct ynode *v, const char *path,
                     unsigned long long min, unsigned long long max, unsigned long long *out)
{
	char *s = cfg_scalar(c, v, path);
	enum cfg_num r;
	bool ok = false;

	if (s == NULL)
		return false;
	r = cfg_parse_ull(s, out);
	if (r == NUM_BAD)
		cfg_err(c, v->line, path, "expected a non-negative decimal integer");
	else if (r == NUM_RANGE || *out < min || *out > max)
		cfg_err(c, v->line, path, "must be between %llu and %llu", min, max);
	else
		ok = true;
	cfg_free_secret(s);
	return ok;
}

static bool get_bool(struct cfg_ctx *c, const struct ynode *v, const char *path, bool *out)
{
	char *s = cfg_scalar(c, v, path);
	bool ok = true;

	if (s == NULL)
		return false;
	if (strcmp(s, "true") == 0)
		*out = true;
	else if (strcmp(s, "false") == 0)
		*out = false;
	else
		ok = false;
	if (!ok)
		cfg_err(c, v->line, path, "expected true or false");
	cfg_free_secret(s);
	return ok;
}

/* Matches v against names[0..n); *idx is the match. expect lists the names for the message. */
static bool get_enum(struct cfg_ctx *c, const struct ynode *v, const char *path,
                     const char *const *names, size_t n, const char *expect, size_t *idx)
{
	char *s = cfg_scalar(c, v, path);
	char shown[40];
	size_t i;

	if (s == NULL)
		return false;
	for (i = 0; i < n; i++) {
		if (strcmp(s, names[i]) == 0) {
			*idx = i;
			cfg_free_secret(s);
			return true;
		}
	}
	cfg_sanitize(s, strlen(s), shown, sizeof(shown));
	cfg_err(c, v->line, path, "invalid value \"%s\" (expected %s)", shown, expect);
	cfg_free_secret(s);
	return false;
}

/* Replaces the string at *dst with s (takes ownership). */
static void put_str(char **dst, char *s)
{
	cfg_free_secret(*dst);
	*dst = s;
}

/* ---- handlers ---- */

static void fn_listen(struct cfg_ctx *c, const struct ynode *v, const char *path, void *base)
{
	struct kg_config *cfg = base;
	char *s = cfg_scalar(c, v, path), *host = NULL;
	const char *why;
	uint16_t port;

	if (s == NULL)
		return;
	why = cfg_split_listen(s, &host, &port);
	if (why != NULL) {
		cfg_err(c, v->line, path, "%s", why);
	} else {
		put_str(&cfg->server.listen_host, host);
		cfg->server.listen_port = port;
	}
	cfg_free_secret(s);
}

static void fn_metrics_listen(struct cfg_ctx *c, const struct ynode *v, const char *path,
                              void *base)
{
	struct kg_config *cfg = base;
	char *s = cfg_scalar(c, v, path), *host = NULL;
	const char *why = NULL;
	uint16_t port = 0;

	if (s == NULL)
		return;
	if (s[0] != '\0')
		why = cfg_split_listen(s, &host, &port);
	if (why != NULL) {
		free(host);
		cfg_err(c, v->line, path, "%s (or \"\" to serve metrics on server.listen)", why);
		cfg_free_secret(s);
		return;
	}
	free(cfg->metrics.listen_host);
	cfg->metrics.listen_host = host; /* NULL for "" */
	cfg->metrics.listen_port = host ? port : 0;
	put_str(&cfg->metrics.listen, s);
}

static void fn_env(struct cfg_ctx *c, const struct ynode *v, const char *path, void *base)
{
	static const char *const names[] = {"staging", "production", "simulator"};
	struct kg_config *cfg = base;
	size_t i;

	if (get_enum(c, v, path, names, 3, "staging, production or simulator", &i))
		cfg->crossmint.environment = (enum kg_env)i;
}

static void fn_mode(struct cfg_ctx *c, const struct ynode *v, const char *path, void *base)
{
	static const char *const names[] = {"tokens", "none"};
	struct kg_config *cfg = base;
	size_t i;

	if (get_enum(c, v, path, names, 2, "tokens or none", &i))
		cfg->auth.mode_none = i == 1;
}

static void fn_level(struct cfg_ctx *c, const struct ynode *v, const char *path, void *base)
{
	static const char *const names[] = {"debug", "info", "warn", "error"};
	struct kg_config *cfg = base;
	size_t i;

	if (get_enum(c, v, path, names, 4, "debug, info, warn or error", &i))
		cfg->log.level = (enum kg_log_level)i;
}

static void fn_format(struct cfg_ctx *c, const struct ynode *v, const char *path, void *base)
{
	static const char *const names[] = {"json", "text"};
	struct kg_config *cfg = base;
	size_t i;

	if (get_enum(c, v, path, names, 2, "json or text", &i))
		cfg->log.format = (enum kg_log_format)i;
}

static void fn_unknown_fields(struct cfg_ctx *c, const struct ynode *v, const char *path,
                              void *base)
{
	static const char *const names[] = {"refuse", "pass"};
	struct kg_config *cfg = base;
	size_t i;

	if (get_enum(c, v, path, names, 2, "refuse or pass", &i))
		cfg->validation.pass_unknown_fields = i == 1;
}

/* api_version goes into every upstream path: YYYY-MM-DD digits only. */
static void fn_api_version(struct cfg_ctx *c, const struct ynode *v, const char *path, void *base)
{
	struct kg_config *cfg = base;
	char *s = cfg_scalar(c, v, path);
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < 10; i++) {
		bool dash = i == 4 || i == 7;

		if (s[i] == '\0' || (dash ? s[i] != '-' : (s[i] < '0' || s[i] > '9')))
			break;
	}
	if (i < 10 || s[10] != '\0') {
		cfg_err(c, v->line, path, "expected a date like 2025-06-09");
		cfg_free_secret(s);
		return;
	}
	put_str(&cfg->crossmint.api_version, s);
}

static void fn_proxy(struct cfg_ctx *c, const struct ynode *v, const char *path, void *base)
{
	struct kg_config *cfg = base;
	char *s = cfg_scalar(c, v, path);
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; s[i] != '\0'; i++) {
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f) {
			cfg_err(c, v->line, path, "must not contain spaces or control characters");
			cfg_free_secret(s);
			return;
		}
	}
	put_str(&cfg->crossmint.proxy, s);
}

static void fn_lockey(struct cfg_ctx *c, const struct ynode *v, const char *path, void *base)
{
	char *s = cfg_scalar(c, v, path);

	if (s != NULL)
		put_str(&c->lockey, s);
}

/* A list v is expected; reports a type error otherwise. */
bool cfg_is_list(struct cfg_ctx *c, const struct ynode *v, const char *path)
{
	if (!cfg_usable(c, v, path))
		return false;
	if (v->type == Y_SEQ)
		return true;
	cfg_err(c, v->line, path, "expected a list, found %s", cfg_kind(v));
	return false;
}

/* One simulator.edd_countries item into out (3 bytes). */
static bool country(struct cfg_ctx *c, const struct ynode *v, const char *path, char *out)
{
	char *s = cfg_scalar(c, v, path);
	bool ok;

	if (s == NULL)
		return false;
	ok = strlen(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z';
	if (ok)
		memcpy(out, s, 3);
	else
		cfg_err(c, v->line, path, "expected an upper-case ISO 3166 alpha-2 code (AE)");
	cfg_free_secret(s);
	return ok;
}

static void fn_edd(struct cfg_ctx *c, const struct ynode *v, const char *path, void *base)
{
	struct kg_config *cfg = base;
	char item[CFG_PATH_MAX];
	char(*list)[3];
	size_t i;

	if (!cfg_is_list(c, v, path))
		return;
	if (v->n_kids > MAX_COUNTRIES) {
		cfg_err(c, v->line, path, "at most %d countries", MAX_COUNTRIES);
		return;
	}
	list = calloc(v->n_kids ? v->n_kids : 1, sizeof(*list));
	if (list == NULL) {
		c->nomem = true;
		return;
	}
	for (i = 0; i < v->n_kids; i++) {
		snprintf(item, sizeof(item), "%s[%zu]", path, i);
		country(c, v->kids[i], item, list[i]);
	}
	free(cfg->simulator.edd_countries);
	cfg->simulator.edd_countries = list;
	cfg->simulator.n_edd_countries = v->n_kids;
}

static void fn_store_driver(struct cfg_ctx *c, const struct ynode *v, const char *path, void *base)
{
	static const char *const names[] = {"sqlite", "postgres", "none"};
	struct kg_config *cfg = base;
	size_t i;

	if (!get_enum(c, v, path, names, 3, "sqlite, postgres or none", &i))
		return;
	if (i == 1)
		cfg_err(c, v->line, path,
		        "postgres is not in this release (use sqlite, one replica, or none)");
	else
		cfg->store.driver = i == 0 ? KG_STORE_SQLITE : KG_STORE_NONE;
}

/* ---- tables ---- */

static const struct field tls_fields[] = {
    {.key = "cert_file", .type = F_STR, .off = OFF(server.tls_cert_file), .mark = M_TLS_CERT},
    {.key = "key_file", .type = F_STR, .off = OFF(server.tls_key_file), .mark = M_TLS_KEY},
    {.key = NULL},
};

static const struct field server_fields[] = {
    {.key = "listen", .type = F_FN, .fn = fn_listen},
    {.key = "threads", .type = F_UINT, .off = OFF(server.threads), .max = 1024},
    {.key = "max_connections",
     .type = F_UINT,
     .off = OFF(server.max_connections),
     .min = 1,
     .max = 1000000},
    {.key = "connection_timeout_s",
     .type = F_UINT,
     .off = OFF(server.connection_timeout_s),
     .min = 1,
     .max = 3600},
    {.key = "header_timeout_s",
     .type = F_UINT,
     .off = OFF(server.header_timeout_s),
     .min = 1,
     .max = 3600},
    {.key = "max_connections_per_ip",
     .type = F_UINT,
     .off = OFF(server.max_connections_per_ip),
     .max = 1000000},
    {.key = "max_body_bytes",
     .type = F_SIZE,
     .off = OFF(server.max_body_bytes),
     .min = KIB,
     .max = 64 * MIB},
    {.key = "max_document_bytes",
     .type = F_SIZE,
     .off = OFF(server.max_document_bytes),
     .min = KIB,
     .max = 64 * MIB},
    {.key = "max_buffered_bytes",
     .type = F_SIZE,
     .off = OFF(server.max_buffered_bytes),
     .min = MIB,
     .max = 16 * GIB},
    {.key = "shutdown_grace_s", .type = F_UINT, .off = OFF(server.shutdown_grace_s), .max = 3600},
    {.key = "drain_delay_s", .type = F_UINT, .off = OFF(server.drain_delay_s), .max = 600},
    {.key = "tls", .type = F_MAP, .sub = tls_fields},
    {.key = NULL},
};

static const struct field retry_fields[] = {
    {.key = "max_attempts",
     .type = F_UINT,
     .off = OFF(crossmint.retry.max_attempts),
     .min = 1,
     .max = 10},
    {.key = "base_delay_ms",
     .type = F_UINT,
     .off = OFF(crossmint.retry.base_delay_ms),
     .min = 1,
     .max = 60000,
     .mark = M_RETRY_BASE},
    {.key = "max_delay_ms",
     .type = F_UINT,
     .off = OFF(crossmint.retry.max_delay_ms),
     .min = 1,
     .max = 600000},
    {.key = NULL},
};

static const struct field rate_fields[] = {
    {.key = "writes_per_minute",
     .type = F_UINT,
     .off = OFF(crossmint.rate_limit.writes_per_minute),
     .max = 1000000},
    {.key = "reads_per_minute",
     .type = F_UINT,
     .off = OFF(crossmint.rate_limit.reads_per_minute),
     .max = 1000000},
    {.key = NULL},
};

static const struct field breaker_fields[] = {
    {.key = "failure_threshold",
     .type = F_UINT,
     .off = OFF(crossmint.circuit_breaker.failure_threshold),
     .min = 1,
     .max = 1000},
    {.key = "open_s",
     .type = F_UINT,
     .off = OFF(crossmint.circuit_breaker.open_s),
     .min = 1,
     .max = 3600},
    {.key = NULL},
};

static const struct field crossmint_fields[] = {
    {.key = "environment", .type = F_FN, .fn = fn_env, .mark = M_ENV},
    {.key = "base_url", .type = F_STR, .off = OFF(crossmint.base_url), .mark = M_BASE_URL},
    {.key = "api_version", .type = F_FN, .fn = fn_api_version},
    {.key = "api_key", .type = F_STR, .off = OFF(crossmint.api_key), .mark = M_API_KEY},
    {.key = "api_key_file",
     .type = F_STR,
     .off = OFF(crossmint.api_key_file),
     .mark = M_API_KEY_FILE},
    {.key = "connect_timeout_ms",
     .type = F_UINT,
     .off = OFF(crossmint.connect_timeout_ms),
     .min = 1,
     .max = 60000},
    {.key = "timeout_ms",
     .type = F_UINT,
     .off = OFF(crossmint.timeout_ms),
     .min = 1,
     .max = 600000},
    {.key = "max_connections",
     .type = F_UINT,
     .off = OFF(crossmint.max_connections),
     .min = 1,
     .max = 10000},
    {.key = "max_inflight",
     .type = F_UINT,
     .off = OFF(crossmint.max_inflight),
     .min = 1,
     .max = 100000},
    {.key = "max_response_bytes",
     .type = F_SIZE,
     .off = OFF(crossmint.max_response_bytes),
     .min = KIB,
     .max = 64 * MIB},
    {.key = "proxy", .type = F_FN, .fn = fn_proxy},
    {.key = "retry", .type = F_MAP, .sub = retry_fields},
    {.key = "rate_limit", .type = F_MAP, .sub = rate_fields},
    {.key = "circuit_breaker", .type = F_MAP, .sub = breaker_fields},
    {.key = NULL},
};

static const struct field simulator_fields[] = {
    {.key = "review_delay_ms",
     .type = F_UINT,
     .off = OFF(simulator.review_delay_ms),
     .max = 3600000},
    {.key = "edd_countries", .type = F_FN, .fn = fn_edd},
    {.key = NULL},
};

static const struct field auth_fields[] = {
    {.key = "mode", .type = F_FN, .fn = fn_mode, .mark = M_AUTH_MODE},
    {.key = "clients", .type = F_FN, .fn = cfg_fn_clients, .mark = M_CLIENTS},
    {.key = NULL},
};

static const struct field verification_fields[] = {
    {.key = "max_wait_s", .type = F_UINT, .off = OFF(verification.max_wait_s), .max = 300},
    {.key = "max_waiting_per_client",
     .type = F_UINT,
     .off = OFF(verification.max_waiting_per_client),
     .max = 100000},
    {.key = "cache_ttl_ms", .type = F_UINT, .off = OFF(verification.cache_ttl_ms), .max = 60000},
    {.key = "max_waiting", .type = F_UINT, .off = OFF(verification.max_waiting), .max = 1000000},
    {.key = NULL},
};

static const struct field log_fields[] = {
    {.key = "level", .type = F_FN, .fn = fn_level},
    {.key = "format", .type = F_FN, .fn = fn_format},
    {.key = "locator_hash_key", .type = F_FN, .fn = fn_lockey, .mark = M_LOCKEY},
    {.key = "locator_hash_key_file",
     .type = F_STR,
     .off = OFF(log.locator_hash_key_file),
     .mark = M_LOCKEY_FILE},
    {.key = NULL},
};

static const struct field metrics_fields[] = {
    {.key = "enabled", .type = F_BOOL, .off = OFF(metrics.enabled)},
    {.key = "listen", .type = F_FN, .fn = fn_metrics_listen},
    {.key = NULL},
};

static const struct field validation_fields[] = {
    {.key = "unknown_fields", .type = F_FN, .fn = fn_unknown_fields},
    {.key = NULL},
};

static const struct field sqlite_fields[] = {
    {.key = "path", .type = F_STR, .off = OFF(store.sqlite_path)},
    {.key = NULL},
};

static const struct field postgres_fields[] = {
    {.key = "dsn", .type = F_STR, .off = OFF(store.postgres_dsn)},
    {.key = "dsn_file", .type = F_STR, .off = OFF(store.postgres_dsn_file)},
    {.key = "lease_s", .type = F_UINT, .off = OFF(store.postgres_lease_s), .min = 1, .max = 3600},
    {.key = "replicas", .type = F_UINT, .off = OFF(store.postgres_replicas), .min = 1, .max = 64},
    {.key = NULL},
};

static const struct field store_fields[] = {
    {.key = "driver", .type = F_FN, .fn = fn_store_driver, .mark = M_STORE_DRIVER},
    {.key = "sqlite", .type = F_MAP, .sub = sqlite_fields},
    {.key = "postgres", .type = F_MAP, .sub = postgres_fields, .inactive = true},
    {.key = NULL},
};

static const struct field watch_fields[] = {
    {.key = "poll_initial_s",
     .type = F_UINT,
     .off = OFF(events.watch.poll_initial_s),
     .min = 1,
     .max = 86400},
    {.key = "poll_max_s",
     .type = F_UINT,
     .off = OFF(events.watch.poll_max_s),
     .min = 1,
     .max = 86400},
    {.key = "poll_settled_s",
     .type = F_UINT,
     .off = OFF(events.watch.poll_settled_s),
     .min = 1,
     .max = 604800},
    {.key = "budget_share", .type = F_FN, .fn = cfg_fn_budget_share},
    {.key = "max_watches", .type = F_UINT, .off = OFF(events.watch.max_watches), .max = 10000000},
    {.key = "max_age_days",
     .type = F_UINT,
     .off = OFF(events.watch.max_age_days),
     .min = 1,
     .max = 3650},
    {.key = NULL},
};

static const struct field events_fields[] = {
    {.key = "retention_days",
     .type = F_UINT,
     .off = OFF(events.retention_days),
     .min = 1,
     .max = 3650},
    {.key = "idempotency_ttl_h",
     .type = F_UINT,
     .off = OFF(events.idempotency_ttl_h),
     .min = 1,
     .max = 8760},
    {.key = "retry_schedule_s", .type = F_FN, .fn = cfg_fn_retry_schedule},
    {.key = "watch", .type = F_MAP, .sub = watch_fields},
    {.key = "webhooks", .type = F_FN, .fn = cfg_fn_webhooks},
    {.key = NULL},
};

static const struct field root_fields[] = {
    {.key = "server", .type = F_MAP, .sub = server_fields, .mark = M_SERVER},
    {.key = "crossmint", .type = F_MAP, .sub = crossmint_fields, .mark = M_CROSSMINT},
    {.key = "simulator", .type = F_MAP, .sub = simulator_fields},
    {.key = "auth", .type = F_MAP, .sub = auth_fields, .mark = M_AUTH},
    {.key = "verification", .type = F_MAP, .sub = verification_fields},
    {.key = "log", .type = F_MAP, .sub = log_fields, .mark = M_LOG},
    {.key = "metrics", .type = F_MAP, .sub = metrics_fields},
    {.key = "validation", .type = F_MAP, .sub = validation_fields},
    {.key = "store", .type = F_MAP, .sub = store_fields},
    {.key = "events", .type = F_MAP, .sub = events_fields},
    {.key = NULL},
};

/* ---- the walk ---- */

static void visit(struct walk *w, const struct field *f, const struct ynode *v, const char *path)
{
	char *base = w->base, *s;
	unsigned long long u;
	bool b;

	switch (f->type) {
	case F_MAP:
		cfg_walk_map(w, v, path, f->sub);
		break;
	case F_UINT:
		if (get_uint(w->c, v, path, f->min, f->max, &u))
			*(unsigned *)(void *)(base + f->off) = (unsigned)u;
		break;
	case F_SIZE:
		if (get_uint(w->c, v, path, f->min, f->max < SIZE_MAX ? f->max : SIZE_MAX, &u))
			*(size_t *)(void *)(base + f->off) = (size_t)u;
		break;
	case F_BOOL:
		if (get_bool(w->c, v, path, &b))
			*(bool *)(void *)(base + f->off) = b;
		break;
	case F_STR:
		s = cfg_scalar(w->c, v, path);
		if (s != NULL)
			put_str((char **)(void *)(base + f->off), s);
		break;
	case F_FN:
		f->fn(w->c, v, path, w->base);
		break;
	case F_END:
		break;
	}
}

/* The table row named by key k, or NULL. */
static const struct field *find_field(const struct field *tab, const struct ynode *k)
{
	for (; tab->key != NULL; tab++)
		if (strlen(tab->key) == k->len && memcmp(tab->key, k->text, k->len) == 0)
			return tab;
	return NULL;
}

/* The key of the row in tab closest to the unknown key k (a typo, a missing unit suffix:
 * cache_ttl for cache_ttl_ms), or NULL when none is close: at most a third of k's length in
 * edits, between 1 and 3. */
static const char *nearest_field(const struct field *tab, const struct ynode *k)
{
	size_t max = k->len / 3 < 1 ? 1 : (k->len / 3 > 3 ? 3 : k->len / 3), d, best_d = 0;
	const char *best = NULL;

	for (; tab->key != NULL; tab++) {
		d = kg_edit_distance(k->text, k->len, tab->key, strlen(tab->key), max);
		if (d <= max && (best == NULL || d < best_d)) {
			best = tab->key;
			best_d = d;
		}
	}
	return best;
}

/* Checks key node k and writes its printable name into name; false when k is unusable. */
static bool key_name(struct cfg_ctx *c, const struct ynode *k, const char *path, char *name,
                     size_t cap)
{
	if (k->type == Y_ALIAS || k->type != Y_SCALAR) {
		cfg_err(c, k->line, show_path(path), "mapping keys must be plain scalars, found %s",
		        k->type == Y_ALIAS ? "an alias" : cfg_kind(k));
		return false;
	}
	cfg_sanitize(k->text, k->len, name, cap);
	return true;
}

void cfg_walk_map(struct walk *w, const struct ynode *m, const char *path, const struct field *tab)
{
	size_t first[MAX_FIELDS] = {0}, i, before;
	char name[72], child[CFG_PATH_MAX];
	const struct field *f;

	if (!cfg_usable(w->c, m, path) || cfg_is_null(m))
		return;
	if (m->type != Y_MAP) {
		cfg_err(w->c, m->line, show_path(path), "expected a mapping, found %s",
		        cfg_kind(m));
		return;
	}
	for (i = 0; i + 1 < m->n_kids; i += 2) {
		const struct ynode *k = m->kids[i], *v = m->kids[i + 1];

		if (!key_name(w->c, k, path, name, sizeof(name)))
			continue;
		cfg_join(child, sizeof(child), path, name);
		f = find_field(tab, k);
		if (f == NULL) {
			const char *near = nearest_field(tab, k);

			if (near != NULL)
				cfg_err(w->c, k->line, child, "unknown key (did you mean %s?)",
				        near);
			else
				cfg_err(w->c, k->line, child, "unknown key");
			continue;
		}
		cfg_usable(w->c, k, child);
		if (first[f - tab] != 0) {
			cfg_err(w->c, k->line, child, "duplicate key (first at line %zu)",
			        first[f - tab]);
			continue;
		}
		first[f - tab] = k->line;
		before = w->c->n_errs;
		if (f->mark != 0)
			w->marks[f->mark] = k->line;
		visit(w, f, v, child);
		if (f->inactive && !cfg_is_null(v))
			cfg_add_inactive(w->c, child);
		if (f->mark != 0 && w->c->n_errs > before)
			w->bad[f->mark] = true;
	}
}

void cfg_walk(struct cfg_ctx *c, const struct ynode *root)
{
	struct walk w = {c, c->cfg, c->mark, c->bad};

	if (root != NULL)
		cfg_walk_map(&w, root, "", root_fields);
}
