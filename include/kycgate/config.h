/* kycgate configuration: the YAML schema of design §4 parsed once into an immutable typed struct.
 *
 * The request path never touches YAML: it reads a struct kg_config that nobody modifies after
 * kg_config_load() returns. Reload builds a new struct and swaps it (see runtime.h). */
#ifndef KYCGATE_CONFIG_H
#define KYCGATE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kycgate/common.h"
#include "kycgate/log.h" /* log.level and log.format are the log module's enums */

enum kg_env { KG_ENV_STAGING = 0, KG_ENV_PRODUCTION, KG_ENV_SIMULATOR };

/* store.driver (design §10). postgres is part of the schema but not of this release: a config
 * that asks for it is refused rather than run without the store it expects. */
enum kg_store_driver { KG_STORE_SQLITE = 0, KG_STORE_NONE };
#define KG_STORE_DEFAULT_PATH "/var/lib/kycgate/kycgate.db"

#define KG_MAX_WEBHOOKS 64              /* events.webhooks entries */
#define KG_MAX_RETRY_SCHEDULE 32        /* events.retry_schedule_s entries */
#define KG_WEBHOOK_MIN_SECRET_BYTES 24  /* a Standard Webhooks secret, decoded */
#define KG_WEBHOOK_MAX_SECRET_BYTES 128 /* longer secrets are refused */
#define KG_WEBHOOK_MAX_URL_BYTES 2000   /* events.webhooks[].url */

/* Event types, as bits of struct kg_webhook's types. */
#define KG_EVENT_UPDATED 1u /* verification.updated */
#define KG_EVENT_ALL KG_EVENT_UPDATED

/* One events.webhooks[] entry (design §10, src/webhooks.c). */
struct kg_webhook {
	char *name;            /* unique, [A-Za-z0-9_.-]{1,64} */
	char *url;             /* as written: https (http only outside production or on loopback) */
	char *secret;          /* inline secret (wiped when freed), "" when secret_file is used */
	char *secret_file;     /* "" when not set; read at load (start and each reload) */
	unsigned timeout_ms;   /* 1..600000, default 5000 */
	unsigned max_inflight; /* 1..1000, default 8 */
	unsigned types;        /* KG_EVENT_* bits taken; default KG_EVENT_ALL */
	unsigned char *key; /* the secret's bytes (the base64 after whsec_, decoded; from secret or
	                     * secret_file), KG_WEBHOOK_MIN..MAX_SECRET_BYTES; wiped when freed */
	size_t key_len;
	size_t line; /* where the entry starts in the file (for the checks after the walk) */
};

/* Scope bits of a client. */
#define KG_SCOPE_CREATE 1u   /* users.create */
#define KG_SCOPE_READ 2u     /* users.read */
#define KG_SCOPE_WEBHOOKS 4u /* webhooks.manage */

#define KG_SHA256_LEN 32

/* One caller of the internal API. */
struct kg_client {
	char *name;                                /* auth.clients[].name, unique, non-empty */
	unsigned char token_digest[KG_SHA256_LEN]; /* SHA-256 of the token (never the token) */
	unsigned scopes;                           /* KG_SCOPE_* bits */
	unsigned requests_per_minute;              /* 0 = unlimited */
	char *token_file; /* the token's file (watched for reload), or NULL */
};

struct kg_config {
	char *path; /* the file this came from (as given) */

	struct {
		char *listen_host;             /* "0.0.0.0", "127.0.0.1", "::" (brackets removed) */
		uint16_t listen_port;          /* 0 = ephemeral (tests) */
		unsigned threads;              /* 0 = CPUs available to the process */
		unsigned max_connections;      /* 1..1000000, default 4096 */
		unsigned connection_timeout_s; /* 1..3600, default 60 */
		unsigned header_timeout_s;     /* 1..3600, default 10: a request head's deadline */
		unsigned max_connections_per_ip; /* 0..1000000, default 0 (off) */
		size_t max_body_bytes;           /* 1 KiB..64 MiB, default 1 MiB */
		size_t max_document_bytes;       /* 1 KiB..64 MiB, default 10 MiB (decoded) */
		size_t max_buffered_bytes;       /* 1 MiB..16 GiB, default 64 MiB */
		unsigned shutdown_grace_s;       /* 0..3600, default 10 */
		unsigned drain_delay_s;          /* 0..600, default 5 */
		char *tls_cert_file;             /* "" when TLS is off */
		char *tls_key_file;              /* "" when TLS is off */
	} server;

	struct {
		enum kg_env environment; /* default staging */
		char *base_url;          /* the override as given, or "" (use the environment's) */
		char *api_version;       /* default "2025-06-09" */
		char *api_key;      /* the resolved key (inline, from api_key_file); NULL if none */
		char *api_key_file; /* "" when not set */
		unsigned connect_timeout_ms; /* 1..60000, default 3000 */
		unsigned timeout_ms;         /* 1..600000, default 15000 */
		unsigned max_connections;    /* 1..10000, default 32 */
		unsigned max_inflight;       /* 1..100000, default 1024 */
		size_t max_response_bytes;   /* 1 KiB..64 MiB, default 1 MiB */
		char *proxy;                 /* "" = no proxy */
		struct {
			unsigned max_attempts;  /* 1..10, default 3 */
			unsigned base_delay_ms; /* 1..60000, default 100 */
			unsigned max_delay_ms;  /* 1..600000, default 2000 */
		} retry;
		struct {
			unsigned writes_per_minute; /* 0..1000000, default 120 (0 = unlimited) */
			unsigned reads_per_minute;  /* 0..1000000, default 360 (0 = unlimited) */
		} rate_limit;
		struct {
			unsigned failure_threshold; /* 1..1000, default 5 */
			unsigned open_s;            /* 1..3600, default 30 */
		} circuit_breaker;
	} crossmint;

	struct {
		unsigned review_delay_ms; /* 0..3600000, default 2000 */
		char (*edd_countries)[3]; /* ISO alpha-2, NUL-terminated; default AE, TR */
		size_t n_edd_countries;
	} simulator;

	struct {
		bool mode_none;            /* auth.mode: none (only with the simulator) */
		struct kg_client *clients; /* auth.clients */
		size_t n_clients;
	} auth;

	struct {
		unsigned max_wait_s;             /* 0..300, default 30 */
		unsigned max_waiting_per_client; /* 0..100000, default 100 */
		unsigned cache_ttl_ms;           /* 0..60000, default 1000 */
		unsigned max_waiting; /* every client's waiters, 0..1000000, default 10000 */
	} verification;

	struct {
		enum kg_log_level level;   /* default info */
		enum kg_log_format format; /* default json */
		unsigned char
		    *locator_hash_key; /* resolved key bytes (>= 32), NULL when none set */
		size_t locator_hash_key_len;
		char *locator_hash_key_file; /* "" when not set */
	} log;

	struct {
		/* unknown_fields: pass lets keys kycgate does not know inside a user's sections
		 * through (a field Crossmint added before kycgate knows it); refuse (default,
		 * false) answers 400. Top-level keys are always checked. */
		bool pass_unknown_fields;
	} validation;

	struct {
		bool enabled;      /* default true */
		char *listen;      /* "" = served on the main listener */
		char *listen_host; /* listen split like server.listen, NULL when "" */
		uint16_t listen_port;
	} metrics;

	struct {
		enum kg_store_driver driver; /* default sqlite */
		char *sqlite_path;           /* default /var/lib/kycgate/kycgate.db */
		/* store.postgres: parsed, not active in this release (reported at start). */
		char *postgres_dsn;         /* secret (wiped when freed), "" when not set */
		char *postgres_dsn_file;    /* "" when not set */
		unsigned postgres_lease_s;  /* 1..3600, default 30 */
		unsigned postgres_replicas; /* 1..64, default 2 */
	} store;

	struct {
		unsigned
		    idempotency_ttl_h; /* 1..8760, default 24: how long a stored answer replays */
		/* The rest of events.* is parsed and checked but not active in this release. */
		unsigned retention_days;                          /* 1..3650, default 30 */
		unsigned retry_schedule_s[KG_MAX_RETRY_SCHEDULE]; /* default 5 300 1800 ... */
		size_t n_retry_schedule;
		/* events.watch (watch.c): in force, applied by a reload. */
		struct {
			unsigned poll_initial_s; /* 1..86400, default 5 */
			unsigned poll_max_s;     /* 1..86400, default 300 */
			unsigned poll_settled_s; /* 1..604800, default 3600 */
			unsigned
			    budget_share_pct; /* budget_share 0.01..1 as a percentage, default 50 */
			unsigned max_watches; /* 0..10000000, default 100000 */
			unsigned max_age_days; /* 1..3650, default 90 */
		} watch;
		struct kg_webhook *webhooks;
		size_t n_webhooks;
	} events;

	/* Keys that were set but whose feature has not landed yet ("events.webhooks", ...);
	 * reported once at start and at each reload, at warn level (config-key-not-active). */
	char **inactive_keys;
	size_t n_inactive_keys;

	/* Warnings found while loading (a short token, a group-readable key file, ...), one line
	 * each, never naming a secret value. */
	char **warnings;
	size_t n_warnings;
};

/* Parses and validates the YAML file at path.
 * On success returns KG_OK and *out is new (free with kg_config_free); *errors is NULL.
 * On failure returns KG_ERR_CONFIG (or KG_ERR_IO / KG_ERR_NOMEM) and *errors is a new string
 * (caller frees) holding every problem found, one per line, as "FILE:LINE: key.path: reason".
 * A reason never contains the value of a secret key (api_key, token, locator_hash_key).
 * Environment references (${VAR}, ${VAR:-default}, $${) are expanded from getenv().
 * Thread-safe (no global state). */
enum kg_err kg_config_load(const char *path, struct kg_config **out, char **errors);

/* Same as kg_config_load() over an in-memory document; name is used as FILE in messages. */
enum kg_err kg_config_load_string(const char *name, const char *yaml, size_t len,
                                  struct kg_config **out, char **errors);

/* Frees cfg and everything it owns, wiping secrets first. Accepts NULL. */
void kg_config_free(struct kg_config *cfg);

/* The base URL to use: the override when set, else the environment's default
 * ("https://staging.crossmint.com/api", "https://www.crossmint.com/api"); NULL for the
 * simulator without an override (the embedded simulator decides at start). Borrowed from cfg. */
const char *kg_config_base_url(const struct kg_config *cfg);

/* "staging", "production" or "simulator". Static. */
const char *kg_env_name(enum kg_env env);

/* Finds the client whose token digest equals digest, comparing in constant time over all
 * clients. Returns a pointer borrowed from cfg, or NULL. */
const struct kg_client *kg_config_find_client(const struct kg_config *cfg,
                                              const unsigned char digest[KG_SHA256_LEN]);

#endif
