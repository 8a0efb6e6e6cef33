/* Unit tests for the config module (src/config*.c): the schema and defaults of design §4, every
 * error as "FILE:LINE: key.path: reason", environment expansion, secrets kept out of messages,
 * key and URL rules, clients and tokens, the example files in conf/, and hostile input. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kycgate/config.h"
#include "kycgate/sha256.h"

#define TOK "abcdefghijklmnopqrstuvwxyz012345" /* 32 characters: no warning */
#define CLIENTS                                                                                    \
	"auth:\n"                                                                                  \
	"  clients:\n"                                                                             \
	"    - name: a\n"                                                                          \
	"      token: " TOK "\n"                                                                   \
	"      scopes: [users.read]\n"

/* ---- helpers ---- */

static struct kg_config *load_ok(const char *yaml)
{
	struct kg_config *cfg = NULL;
	char *err = NULL;
	enum kg_err rc = kg_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, &err);

	ck_assert_msg(rc == KG_OK, "load failed (%d):\n%s", rc, err ? err : "(null)");
	ck_assert_ptr_null(err);
	ck_assert_ptr_nonnull(cfg);
	return cfg;
}

/* Loads yaml expecting KG_ERR_CONFIG; returns the error text (caller frees). */
static char *load_bad(const char *yaml)
{
	struct kg_config *cfg = NULL;
	char *err = NULL;
	enum kg_err rc = kg_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, &err);

	ck_assert_msg(rc == KG_ERR_CONFIG, "expected KG_ERR_CONFIG, got %d", rc);
	ck_assert_ptr_null(cfg);
	ck_assert_ptr_nonnull(err);
	return err;
}

/* True when some line of text starts with prefix. */
static bool has_line(const char *text, const char *prefix)
{
	const char *p = text;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, prefix, strlen(prefix)) == 0)
			return true;
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return false;
}

static size_t count_lines(const char *text)
{
	size_t n = 0;

	for (; *text != '\0'; text++)
		n += *text == '\n';
	return n;
}

#define ASSERT_ERR(yaml, prefix)                                                                   \
	do {                                                                                       \
		char *e_ = load_bad(yaml);                                                         \
		ck_assert_msg(has_line(e_, prefix), "no line \"%s\" in:\n%s", prefix, e_);         \
		free(e_);                                                                          \
	} while (0)

/* Asserts the error text holds prefix and never the secret. */
#define ASSERT_SECRET_ERR(yaml, prefix, secret)                                                    \
	do {                                                                                       \
		char *e_ = load_bad(yaml);                                                         \
		ck_assert_msg(has_line(e_, prefix), "no line \"%s\" in:\n%s", prefix, e_);         \
		ck_assert_msg(strstr(e_, secret) == NULL, "secret leaked:\n%s", e_);               \
		free(e_);                                                                          \
	} while (0)

static bool has_warning(const struct kg_config *cfg, const char *prefix)
{
	size_t i;

	for (i = 0; i < cfg->n_warnings; i++)
		if (strncmp(cfg->warnings[i], prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

/* Writes content to a new temporary file with the given mode; returns its path (static). */
static const char *temp_file(const char *content, size_t len, mode_t mode)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/kgcfg_test_XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, content, len), (ssize_t)len);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static void digest_of(const char *token, unsigned char out[KG_SHA256_LEN])
{
	ck_assert_int_eq(kg_sha256(token, strlen(token), out), KG_OK);
}

/* ---- defaults ---- */

START_TEST(defaults_of_minimal_file)
{
	struct kg_config *cfg = load_ok(CLIENTS);
	unsigned char d[KG_SHA256_LEN];

	ck_assert_str_eq(cfg->path, "t.yaml");
	ck_assert_str_eq(cfg->server.listen_host, "0.0.0.0");
	ck_assert_uint_eq(cfg->server.listen_port, 8080);
	ck_assert_uint_eq(cfg->server.threads, 0);
	ck_assert_uint_eq(cfg->server.max_connections, 4096);
	ck_assert_uint_eq(cfg->server.connection_timeout_s, 60);
	ck_assert_uint_eq(cfg->server.header_timeout_s, 10);
	ck_assert_uint_eq(cfg->server.max_connections_per_ip, 0);
	ck_assert_uint_eq(cfg->server.max_body_bytes, 1048576);
	ck_assert_uint_eq(cfg->server.max_document_bytes, 10485760);
	ck_assert_uint_eq(cfg->server.max_buffered_bytes, 67108864);
	ck_assert_uint_eq(cfg->server.shutdown_grace_s, 10);
	ck_assert_uint_eq(cfg->server.drain_delay_s, 5);
	ck_assert_str_eq(cfg->server.tls_cert_file, "");
	ck_assert_str_eq(cfg->server.tls_key_file, "");
	ck_assert_int_eq(cfg->crossmint.environment, KG_ENV_STAGING);
	ck_assert_str_eq(cfg->crossmint.base_url, "");
	ck_assert_str_eq(kg_config_base_url(cfg), "https://staging.crossmint.com/api");
	ck_assert_str_eq(cfg->crossmint.api_version, "2025-06-09");
	ck_assert_ptr_null(cfg->crossmint.api_key);
	ck_assert_str_eq(cfg->crossmint.api_key_file, "");
	ck_assert_uint_eq(cfg->crossmint.connect_timeout_ms, 3000);
	ck_assert_uint_eq(cfg->crossmint.timeout_ms, 15000);
	ck_assert_uint_eq(cfg->crossmint.max_connections, 32);
	ck_assert_uint_eq(cfg->crossmint.max_inflight, 1024);
	ck_assert_uint_eq(cfg->crossmint.max_response_bytes, 1048576);
	ck_assert_str_eq(cfg->crossmint.proxy, "");
	ck_assert_uint_eq(cfg->crossmint.retry.max_attempts, 3);
	ck_assert_uint_eq(cfg->crossmint.retry.base_delay_ms, 100);
	ck_assert_uint_eq(cfg->crossmint.retry.max_delay_ms, 2000);
	ck_assert_uint_eq(cfg->crossmint.rate_limit.writes_per_minute, 120);
	ck_assert_uint_eq(cfg->crossmint.rate_limit.reads_per_minute, 360);
	ck_assert_uint_eq(cfg->crossmint.circuit_breaker.failure_threshold, 5);
	ck_assert_uint_eq(cfg->crossmint.circuit_breaker.open_s, 30);
	ck_assert_uint_eq(cfg->simulator.review_delay_ms, 2000);
	ck_assert_uint_eq(cfg->simulator.n_edd_countries, 2);
	ck_assert_str_eq(cfg->simulator.edd_countries[0], "AE");
	ck_assert_str_eq(cfg->simulator.edd_countries[1], "TR");
	ck_assert(!cfg->auth.mode_none);
	ck_assert_uint_eq(cfg->auth.n_clients, 1);
	ck_assert_str_eq(cfg->auth.clients[0].name, "a");
	ck_assert_uint_eq(cfg->auth.clients[0].scopes, KG_SCOPE_READ);
	ck_assert_uint_eq(cfg->auth.clients[0].requests_per_minute, 0);
	digest_of(TOK, d);
	ck_assert_mem_eq(cfg->auth.clients[0].token_digest, d, KG_SHA256_LEN);
	ck_assert_uint_eq(cfg->verification.max_wait_s, 30);
	ck_assert_uint_eq(cfg->verification.max_waiting_per_client, 100);
	ck_assert_uint_eq(cfg->verification.cache_ttl_ms, 1000);
	ck_assert_int_eq(cfg->log.level, KG_LOG_INFO);
	ck_assert_int_eq(cfg->log.format, KG_LOG_JSON);
	ck_assert_ptr_null(cfg->log.locator_hash_key);
	ck_assert_uint_eq(cfg->log.locator_hash_key_len, 0);
	ck_assert_str_eq(cfg->log.locator_hash_key_file, "");
	ck_assert(cfg->metrics.enabled);
	ck_assert_str_eq(cfg->metrics.listen, "");
	ck_assert(!cfg->validation.pass_unknown_fields);
	ck_assert_uint_eq(cfg->n_warnings, 0);
	kg_config_free(cfg);
}
END_TEST

START_TEST(empty_sections_keep_defaults)
{
	struct kg_config *cfg = load_ok("server:\nlog: ~\nmetrics: null\n" CLIENTS);

	ck_assert_uint_eq(cfg->server.listen_port, 8080);
	ck_assert_int_eq(cfg->log.level, KG_LOG_INFO);
	kg_config_free(cfg);
}
END_TEST

START_TEST(every_value_is_read)
{
	struct kg_config *cfg = load_ok("server:\n"
	                                "  listen: \"[::1]:9000\"\n"
	                                "  threads: \"4\"\n"
	                                "  max_connections: 10\n"
	                                "  connection_timeout_s: 5\n"
	                                "  header_timeout_s: 3\n"
	                                "  max_connections_per_ip: 7\n"
	                                "  max_body_bytes: 2048\n"
	                                "  max_document_bytes: 4096\n"
	                                "  max_buffered_bytes: 2097152\n"
	                                "  shutdown_grace_s: 0\n"
	                                "  drain_delay_s: 600\n"
	                                "crossmint:\n"
	                                "  environment: production\n"
	                                "  api_key: sk_production_abc\n"
	                                "  api_version: \"2026-01-02\"\n"
	                                "  connect_timeout_ms: 1\n"
	                                "  timeout_ms: 600000\n"
	                                "  max_connections: 10000\n"
	                                "  max_inflight: 1\n"
	                                "  max_response_bytes: 1024\n"
	                                "simulator: {review_delay_ms: 0, edd_countries: []}\n"
	                                "verification: {max_wait_s: 300, cache_ttl_ms: 0}\n"
	                                "log: {level: error, format: text}\n"
	                                "metrics: {enabled: false}\n"
	                                "validation: {unknown_fields: pass}\n" CLIENTS);

	ck_assert_str_eq(cfg->server.listen_host, "::1");
	ck_assert_uint_eq(cfg->server.listen_port, 9000);
	ck_assert_uint_eq(cfg->server.threads, 4);
	ck_assert_uint_eq(cfg->server.max_connections, 10);
	ck_assert_uint_eq(cfg->server.connection_timeout_s, 5);
	ck_assert_uint_eq(cfg->server.header_timeout_s, 3);
	ck_assert_uint_eq(cfg->server.max_connections_per_ip, 7);
	ck_assert_uint_eq(cfg->server.max_body_bytes, 2048);
	ck_assert_uint_eq(cfg->server.max_document_bytes, 4096);
	ck_assert_uint_eq(cfg->server.max_buffered_bytes, 2097152);
	ck_assert_uint_eq(cfg->server.shutdown_grace_s, 0);
	ck_assert_uint_eq(cfg->server.drain_delay_s, 600);
	ck_assert_int_eq(cfg->crossmint.environment, KG_ENV_PRODUCTION);
	ck_assert_str_eq(kg_config_base_url(cfg), "https://www.crossmint.com/api");
	ck_assert_str_eq(cfg->crossmint.api_key, "sk_production_abc");
	ck_assert_str_eq(cfg->crossmint.api_version, "2026-01-02");
	ck_assert_uint_eq(cfg->crossmint.connect_timeout_ms, 1);
	ck_assert_uint_eq(cfg->crossmint.timeout_ms, 600000);
	ck_assert_uint_eq(cfg->crossmint.max_connections, 10000);
	ck_assert_uint_eq(cfg->crossmint.max_inflight, 1);
	ck_assert_uint_eq(cfg->crossmint.max_response_bytes, 1024);
	ck_assert_uint_eq(cfg->simulator.review_delay_ms, 0);
	ck_assert_uint_eq(cfg->simulator.n_edd_countries, 0);
	ck_assert_uint_eq(cfg->verification.max_wait_s, 300);
	ck_assert_uint_eq(cfg->verification.cache_ttl_ms, 0);
	ck_assert_int_eq(cfg->log.level, KG_LOG_ERROR);
	ck_assert_int_eq(cfg->log.format, KG_LOG_TEXT);
	ck_assert(!cfg->metrics.enabled);
	ck_assert(cfg->validation.pass_unknown_fields);
	kg_config_free(cfg);
}
END_TEST

START_TEST(empty_document_needs_clients)
{
	char *e = load_bad("");

	ck_assert_str_eq(e, "t.yaml:1: auth.clients: at least one client is required when "
	                    "auth.mode is tokens\n");
	free(e);
	e = load_bad("# only a comment\n");
	ck_assert(has_line(e, "t.yaml:1: auth.clients: at least one client is required"));
	free(e);
	ASSERT_ERR("auth:\n  clients: []\n", "t.yaml:2: auth.clients: at least one client");
}
END_TEST

/* ---- structural errors ---- */

START_TEST(type_errors)
{
	ASSERT_ERR("server:\n  threads: abc\n" CLIENTS,
	           "t.yaml:2: server.threads: expected a non-negative decimal integer");
	ASSERT_ERR("server:\n  threads: -1\n" CLIENTS,
	           "t.yaml:2: server.threads: expected a non-negative decimal integer");
	ASSERT_ERR("server:\n  threads: +1\n" CLIENTS,
	           "t.yaml:2: server.threads: expected a non-negative decimal integer");
	ASSERT_ERR("server:\n  threads: 1.5\n" CLIENTS,
	           "t.yaml:2: server.threads: expected a non-negative decimal integer");
	ASSERT_ERR("server:\n  threads: \" 1\"\n" CLIENTS,
	           "t.yaml:2: server.threads: expected a non-negative decimal integer");
	ASSERT_ERR("server:\n  listen:\n    host: x\n" CLIENTS,
	           "t.yaml:3: server.listen: expected a scalar, found a mapping");
	ASSERT_ERR("server:\n  threads: [1]\n" CLIENTS,
	           "t.yaml:2: server.threads: expected a scalar, found a list");
	ASSERT_ERR("server: 5\n" CLIENTS, "t.yaml:1: server: expected a mapping, found a scalar");
	ASSERT_ERR("crossmint:\n  - a\n" CLIENTS,
	           "t.yaml:2: crossmint: expected a mapping, found a list");
	ASSERT_ERR("metrics:\n  enabled: yes\n" CLIENTS,
	           "t.yaml:2: metrics.enabled: expected true or false");
	ASSERT_ERR("metrics:\n  enabled: 1\n" CLIENTS,
	           "t.yaml:2: metrics.enabled: expected true or false");
	ASSERT_ERR("- a\n", "t.yaml:1: (root): expected a mapping, found a list");
	ASSERT_ERR("just text\n", "t.yaml:1: (root): expected a mapping, found a scalar");
	ASSERT_ERR("auth:\n  clients:\n    - name: a\n      token: " TOK
	           "\n      scopes: users.read\n",
	           "t.yaml:5: auth.clients[0].scopes: expected a list, found a scalar");
	ASSERT_ERR("auth:\n  clients: {name: a}\n",
	           "t.yaml:2: auth.clients: expected a list, found a mapping");
	ASSERT_ERR("auth:\n  clients:\n    - x\n",
	           "t.yaml:3: auth.clients[0]: expected a mapping, found a scalar");
	ASSERT_ERR("simulator:\n  edd_countries: AE\n" CLIENTS,
	           "t.yaml:2: simulator.edd_countries: expected a list, found a scalar");
}
END_TEST

START_TEST(range_errors)
{
	ASSERT_ERR("server:\n  max_connections: 0\n" CLIENTS,
	           "t.yaml:2: server.max_connections: must be between 1 and 1000000");
	ASSERT_ERR("server:\n  max_connections: 1000001\n" CLIENTS,
	           "t.yaml:2: server.max_connections: must be between 1 and 1000000");
	ASSERT_ERR("server:\n  header_timeout_s: 0\n" CLIENTS,
	           "t.yaml:2: server.header_timeout_s: must be between 1 and 3600");
	ASSERT_ERR("server:\n  max_connections_per_ip: 1000001\n" CLIENTS,
	           "t.yaml:2: server.max_connections_per_ip: must be between 0 and 1000000");
	ASSERT_ERR("server:\n  threads: 1025\n" CLIENTS,
	           "t.yaml:2: server.threads: must be between 0 and 1024");
	ASSERT_ERR("server:\n  max_body_bytes: 1023\n" CLIENTS,
	           "t.yaml:2: server.max_body_bytes: must be between 1024 and 67108864");
	ASSERT_ERR("server:\n  max_buffered_bytes: 17179869185\n" CLIENTS,
	           "t.yaml:2: server.max_buffered_bytes: must be between 1048576 and 17179869184");
	ASSERT_ERR("server:\n  drain_delay_s: 99999999999999999999999999\n" CLIENTS,
	           "t.yaml:2: server.drain_delay_s: must be between 0 and 600");
	ASSERT_ERR("crossmint:\n  retry:\n    max_attempts: 11\n" CLIENTS,
	           "t.yaml:3: crossmint.retry.max_attempts: must be between 1 and 10");
	ASSERT_ERR("crossmint:\n  circuit_breaker: {open_s: 0}\n" CLIENTS,
	           "t.yaml:2: crossmint.circuit_breaker.open_s: must be between 1 and 3600");
	ASSERT_ERR("verification:\n  max_wait_s: 301\n" CLIENTS,
	           "t.yaml:2: verification.max_wait_s: must be between 0 and 300");
	ASSERT_ERR("simulator:\n  review_delay_ms: 3600001\n" CLIENTS,
	           "t.yaml:2: simulator.review_delay_ms: must be between 0 and 3600000");
	ASSERT_ERR("auth:\n  clients:\n    - name: a\n      token: " TOK
	           "\n      scopes: [users.read]\n      requests_per_minute: 1000001\n",
	           "t.yaml:6: auth.clients[0].requests_per_minute: must be between 0 and 1000000");
}
END_TEST

START_TEST(unknown_keys)
{
	ASSERT_ERR("server:\n  lisen: \"0.0.0.0:1\"\n" CLIENTS,
	           "t.yaml:2: server.lisen: unknown key");
	ASSERT_ERR(CLIENTS "extra: 1\n", "t.yaml:6: extra: unknown key");
	ASSERT_ERR("auth:\n  clients:\n    - name: a\n      token: " TOK
	           "\n      scopes: [users.read]\n      scope: x\n",
	           "t.yaml:6: auth.clients[0].scope: unknown key");
	ASSERT_ERR("crossmint:\n  retry: {attempts: 2}\n" CLIENTS,
	           "t.yaml:2: crossmint.retry.attempts: unknown key");
}
END_TEST

/* An unknown key names the closest known key at its level, when one is close. */
START_TEST(unknown_keys_suggest_the_nearest)
{
	char *e;

	ASSERT_ERR("verification:\n  cache_ttl: 500\n" CLIENTS,
	           "t.yaml:2: verification.cache_ttl: unknown key (did you mean cache_ttl_ms?)\n");
	ASSERT_ERR("server:\n  lisen: \"0.0.0.0:1\"\n" CLIENTS,
	           "t.yaml:2: server.lisen: unknown key (did you mean listen?)\n");
	ASSERT_ERR("Server:\n  threads: 1\n" CLIENTS,
	           "t.yaml:1: Server: unknown key (did you mean server?)\n");
	ASSERT_ERR("auth:\n  clients:\n    - name: a\n      token: " TOK
	           "\n      scopes: [users.read]\n      scope: x\n",
	           "t.yaml:6: auth.clients[0].scope: unknown key (did you mean scopes?)\n");
	/* Nothing close: no guess. */
	e = load_bad(CLIENTS "extra: 1\n");
	ck_assert_msg(strstr(e, "t.yaml:6: extra: unknown key\n") != NULL, "%s", e);
	free(e);
	e = load_bad("crossmint:\n  colour: blue\n" CLIENTS);
	ck_assert_msg(strstr(e, "t.yaml:2: crossmint.colour: unknown key\n") != NULL, "%s", e);
	free(e);
}
END_TEST

START_TEST(duplicate_keys)
{
	ASSERT_ERR("server:\n  threads: 1\n  threads: 2\n" CLIENTS,
	           "t.yaml:3: server.threads: duplicate key (first at line 2)");
	ASSERT_ERR("server: {}\n" CLIENTS "server: {}\n",
	           "t.yaml:7: server: duplicate key (first at line 1)");
}
END_TEST

START_TEST(anchors_aliases_and_tags_refused)
{
	char *e = load_bad("server:\n  threads: &n 4\n  max_connections: *n\n" CLIENTS);

	ck_assert(has_line(e, "t.yaml:2: server.threads: anchors are not allowed"));
	ck_assert(has_line(e, "t.yaml:3: server.max_connections: aliases are not allowed"));
	free(e);
	e = load_bad("base: &b {threads: 1}\nserver:\n  <<: *b\n" CLIENTS);
	ck_assert(has_line(e, "t.yaml:1: base: unknown key"));
	ck_assert(has_line(e, "t.yaml:3: server.<<: unknown key"));
	free(e);
	ASSERT_ERR("server: &s {threads: 1}\n" CLIENTS,
	           "t.yaml:1: server: anchors are not allowed");
	ASSERT_ERR("server:\n  threads: !!int 4\n" CLIENTS,
	           "t.yaml:2: server.threads: tags are not allowed");
	ASSERT_ERR(CLIENTS "log: *x\n", "t.yaml:6: log: aliases are not allowed");
}
END_TEST

START_TEST(multiple_errors_at_once)
{
	char *e = load_bad("server:\n"
	                   "  threads: many\n"
	                   "  bogus: 1\n"
	                   "crossmint:\n"
	                   "  environment: moon\n"
	                   "log:\n"
	                   "  level: loud\n");

	/* Every problem, sorted by line. */
	ck_assert_str_eq(e, "t.yaml:1: auth.clients: at least one client is required when "
	                    "auth.mode is tokens\n"
	                    "t.yaml:2: server.threads: expected a non-negative decimal integer\n"
	                    "t.yaml:3: server.bogus: unknown key\n"
	                    "t.yaml:5: crossmint.environment: invalid value \"moon\" (expected "
	                    "staging, production or simulator)\n"
	                    "t.yaml:7: log.level: invalid value \"loud\" (expected debug, info, "
	                    "warn or error)\n");
	ck_assert_uint_eq(count_lines(e), 5);
	free(e);
}
END_TEST

START_TEST(enum_errors)
{
	ASSERT_ERR("log:\n  format: xml\n" CLIENTS,
	           "t.yaml:2: log.format: invalid value \"xml\" (expected json or text)");
	ASSERT_ERR("auth:\n  mode: open\n",
	           "t.yaml:2: auth.mode: invalid value \"open\" (expected tokens or none)");
	ASSERT_ERR("crossmint:\n  environment: Staging\n" CLIENTS,
	           "t.yaml:2: crossmint.environment: invalid value \"Staging\"");
	ASSERT_ERR("validation:\n  unknown_fields: allow\n" CLIENTS,
	           "t.yaml:2: validation.unknown_fields: invalid value \"allow\" (expected refuse "
	           "or pass)");
}
END_TEST

START_TEST(yaml_syntax_errors)
{
	char *e = load_bad("server:\n  threads: 1\n bad: [\n");

	ck_assert_msg(strncmp(e, "t.yaml:3: yaml syntax: ", 23) == 0, "%s", e);
	ck_assert_uint_eq(count_lines(e), 1);
	free(e);
	e = load_bad("a: b\n  c: d\n");
	ck_assert_msg(strncmp(e, "t.yaml:2: yaml syntax: mapping values are not allowed", 53) == 0,
	              "%s", e);
	free(e);
	ASSERT_ERR(CLIENTS "---\nserver: {}\n",
	           "t.yaml:6: (root): only one YAML document is allowed");
	ASSERT_ERR("server:\n  threads: \"\\0\"\n" CLIENTS,
	           "t.yaml:2: server.threads: must not contain a NUL byte");
}
END_TEST

/* ---- environment expansion ---- */

START_TEST(env_expansion)
{
	struct kg_config *cfg;

	setenv("KG_T_THREADS", "7", 1);
	setenv("KG_T_EMPTY", "", 1);
	setenv("KG_T_YAML", "[a]:{b}", 1);
	unsetenv("KG_T_UNSET");
	cfg = load_ok("server:\n"
	              "  threads: ${KG_T_THREADS}\n"
	              "  max_connections: ${KG_T_UNSET:-12}\n"
	              "  shutdown_grace_s: ${KG_T_EMPTY:-13}\n"
	              "  drain_delay_s: 1${KG_T_THREADS}\n"
	              "crossmint:\n"
	              "  proxy: \"${KG_T_YAML}/$${X}/$$/$/a$\"\n" CLIENTS);
	ck_assert_uint_eq(cfg->server.threads, 7);
	ck_assert_uint_eq(cfg->server.max_connections, 12);
	ck_assert_uint_eq(cfg->server.shutdown_grace_s, 13);
	ck_assert_uint_eq(cfg->server.drain_delay_s, 17);
	/* Not re-parsed as YAML, and $${ is a literal ${. */
	ck_assert_str_eq(cfg->crossmint.proxy, "[a]:{b}/${X}/$$/$/a$");
	kg_config_free(cfg);
}
END_TEST

START_TEST(env_errors)
{
	unsetenv("KG_T_UNSET");
	setenv("KG_T_EMPTY", "", 1);
	ASSERT_ERR("server:\n  threads: ${KG_T_UNSET}\n" CLIENTS,
	           "t.yaml:2: server.threads: environment variable KG_T_UNSET is not set");
	/* Set but empty is not unset: the value is "" (then not an integer). */
	ASSERT_ERR("server:\n  threads: ${KG_T_EMPTY}\n" CLIENTS,
	           "t.yaml:2: server.threads: expected a non-negative decimal integer");
	ASSERT_ERR("server:\n  threads: \"${\"\n" CLIENTS,
	           "t.yaml:2: server.threads: malformed environment reference");
	ASSERT_ERR("server:\n  threads: \"${}\"\n" CLIENTS,
	           "t.yaml:2: server.threads: malformed environment reference");
	ASSERT_ERR("server:\n  threads: \"${1A}\"\n" CLIENTS,
	           "t.yaml:2: server.threads: malformed environment reference");
	ASSERT_ERR("server:\n  threads: \"${A-B}\"\n" CLIENTS,
	           "t.yaml:2: server.threads: malformed environment reference");
	ASSERT_ERR("server:\n  threads: \"${KG_T_UNSET:-1\"\n" CLIENTS,
	           "t.yaml:2: server.threads: malformed environment reference");
	ASSERT_ERR("server:\n  threads: \"${A B}\"\n" CLIENTS,
	           "t.yaml:2: server.threads: malformed environment reference");
	ASSERT_ERR("server:\n  threads: \"${KG_T_UNSET:-${KG_T_EMPTY}}\"\n" CLIENTS,
	           "t.yaml:2: server.threads: nested reference in the default of ${KG_T_UNSET}");
}
END_TEST

/* ---- secrets and keys ---- */

START_TEST(secret_values_never_in_errors)
{
	setenv("KG_T_SECRET", "sk_live_SECRETVALUE", 1);
	ASSERT_SECRET_ERR("crossmint:\n  api_key: sk_production_SECRETVALUE\n" CLIENTS,
	                  "t.yaml:2: crossmint.api_key: a production key in staging",
	                  "SECRETVALUE");
	ASSERT_SECRET_ERR("crossmint:\n  api_key: \"${KG_T_SECRET}\"\n" CLIENTS,
	                  "t.yaml:2: crossmint.api_key: an old-format key", "SECRETVALUE");
	ASSERT_SECRET_ERR("crossmint:\n  api_key: \"sk_staging_ SECRETVALUE\"\n" CLIENTS,
	                  "t.yaml:2: crossmint.api_key: must be printable ASCII", "SECRETVALUE");
	ASSERT_SECRET_ERR("crossmint:\n  api_key: [SECRETVALUE]\n" CLIENTS,
	                  "t.yaml:2: crossmint.api_key: expected a scalar", "SECRETVALUE");
	ASSERT_SECRET_ERR("auth:\n  clients:\n    - name: a\n      token: SECRETVALUE\n"
	                  "      scopes: [users.read]\n",
	                  "t.yaml:4: auth.clients[0].token: must be at least 16 characters",
	                  "SECRETVALUE");
	ASSERT_SECRET_ERR("log:\n  locator_hash_key: SECRETVALUE\n" CLIENTS,
	                  "t.yaml:2: log.locator_hash_key: must be at least 32 bytes",
	                  "SECRETVALUE");
}
END_TEST

START_TEST(key_prefix_rules)
{
	struct kg_config *cfg;

	ASSERT_ERR("crossmint:\n  environment: production\n  api_key: sk_staging_abc\n" CLIENTS,
	           "t.yaml:3: crossmint.api_key: a staging key in production");
	ASSERT_ERR("crossmint:\n  api_key: ck_staging_abc\n" CLIENTS,
	           "t.yaml:2: crossmint.api_key: a client key (ck_) cannot call the Users API");
	ASSERT_ERR("crossmint:\n  environment: production\n  api_key: ck_production_abc\n" CLIENTS,
	           "t.yaml:3: crossmint.api_key: a client key (ck_) cannot call the Users API");
	ASSERT_ERR("crossmint:\n  api_key: sk_test_abc\n" CLIENTS,
	           "t.yaml:2: crossmint.api_key: an old-format key (sk_live/sk_test)");
	ASSERT_ERR("crossmint:\n  environment: production\n  api_key: sk_live_abc\n" CLIENTS,
	           "t.yaml:3: crossmint.api_key: an old-format key (sk_live/sk_test)");
	ASSERT_ERR("crossmint:\n  api_key: whatever\n" CLIENTS,
	           "t.yaml:2: crossmint.api_key: not a staging server key");
	ASSERT_ERR("crossmint:\n  api_key: sk_staging_\n" CLIENTS,
	           "t.yaml:2: crossmint.api_key: holds only a prefix");

	cfg = load_ok("crossmint:\n  api_key: sk_staging_abc\n" CLIENTS);
	ck_assert_str_eq(cfg->crossmint.api_key, "sk_staging_abc");
	kg_config_free(cfg);
	cfg = load_ok("crossmint:\n  environment: simulator\n  api_key: anything-goes\n" CLIENTS);
	ck_assert_str_eq(cfg->crossmint.api_key, "anything-goes");
	kg_config_free(cfg);
	cfg = load_ok("crossmint:\n  environment: simulator\n  api_key: sk_production_x\n" CLIENTS);
	kg_config_free(cfg);
}
END_TEST

START_TEST(production_needs_key)
{
	setenv("KG_T_EMPTY", "", 1);
	unsetenv("KG_T_UNSET");
	ASSERT_ERR("crossmint:\n  environment: production\n" CLIENTS,
	           "t.yaml:1: crossmint.api_key: production requires an API key");
	ASSERT_ERR("crossmint:\n  environment: production\n  api_key: \"${KG_T_EMPTY}\"\n" CLIENTS,
	           "t.yaml:3: crossmint.api_key: production requires an API key");
	/* An unset variable is reported once, by name. */
	{
		char *e = load_bad("crossmint:\n  environment: production\n"
		                   "  api_key: \"${KG_T_UNSET}\"\n" CLIENTS);

		ck_assert(has_line(e, "t.yaml:3: crossmint.api_key: environment variable "
		                      "KG_T_UNSET is not set"));
		ck_assert_uint_eq(count_lines(e), 1);
		free(e);
	}
}
END_TEST

START_TEST(empty_key_is_not_set)
{
	struct kg_config *cfg;

	setenv("KG_T_EMPTY", "", 1);
	cfg = load_ok("crossmint:\n  api_key: \"${KG_T_EMPTY}\"\n" CLIENTS);
	ck_assert_ptr_null(cfg->crossmint.api_key);
	kg_config_free(cfg);
	cfg = load_ok("crossmint:\n  api_key: \"${KG_T_UNSET:-}\"\n  api_key_file: \"\"\n" CLIENTS);
	ck_assert_ptr_null(cfg->crossmint.api_key);
	kg_config_free(cfg);
}
END_TEST

START_TEST(api_key_file)
{
	struct kg_config *cfg;
	char yaml[512], big[5000];
	const char *path;

	path = temp_file("sk_staging_fromfile \n\n", 22, 0600);
	snprintf(yaml, sizeof(yaml), "crossmint:\n  api_key_file: %s\n" CLIENTS, path);
	cfg = load_ok(yaml);
	ck_assert_str_eq(cfg->crossmint.api_key, "sk_staging_fromfile");
	ck_assert_str_eq(cfg->crossmint.api_key_file, path);
	ck_assert_uint_eq(cfg->n_warnings, 0);
	kg_config_free(cfg);
	chmod(path, 0644);
	cfg = load_ok(yaml);
	ck_assert_msg(has_warning(cfg, "t.yaml:2: crossmint.api_key_file: "), "no warning");
	ck_assert_ptr_nonnull(strstr(cfg->warnings[0], "group- or world-readable"));
	kg_config_free(cfg);

	snprintf(yaml, sizeof(yaml),
	         "crossmint:\n  api_key: sk_staging_a\n  api_key_file: %s\n" CLIENTS, path);
	ASSERT_ERR(yaml, "t.yaml:3: crossmint.api_key_file: set either crossmint.api_key or "
	                 "crossmint.api_key_file, not both");
	unlink(path);
	snprintf(yaml, sizeof(yaml), "crossmint:\n  api_key_file: %s\n" CLIENTS, path);
	ASSERT_ERR(yaml, "t.yaml:2: crossmint.api_key_file: cannot read /tmp/kgcfg_test_");

	path = temp_file("sk_production_SECRETVALUE\n", 26, 0600);
	snprintf(yaml, sizeof(yaml), "crossmint:\n  api_key_file: %s\n" CLIENTS, path);
	ASSERT_SECRET_ERR(yaml, "t.yaml:2: crossmint.api_key_file: a production key in staging",
	                  "SECRETVALUE");
	unlink(path);

	memset(big, 'k', sizeof(big));
	path = temp_file(big, sizeof(big), 0600);
	snprintf(yaml, sizeof(yaml), "crossmint:\n  api_key_file: %s\n" CLIENTS, path);
	ASSERT_ERR(yaml, "t.yaml:2: crossmint.api_key_file: /tmp/kgcfg_test_");
	{
		char *e = load_bad(yaml);

		ck_assert_ptr_nonnull(strstr(e, "is larger than 4096 bytes"));
		free(e);
	}
	unlink(path);
	path = temp_file(" \n", 2, 0600);
	snprintf(yaml, sizeof(yaml), "crossmint:\n  api_key_file: %s\n" CLIENTS, path);
	{
		char *e = load_bad(yaml);

		ck_assert_ptr_nonnull(strstr(e, "is empty"));
		free(e);
	}
	unlink(path);
}
END_TEST

/* ---- base URL ---- */

static void assert_url(const char *env, const char *url, const char *want)
{
	char yaml[512];
	struct kg_config *cfg;

	snprintf(yaml, sizeof(yaml),
	         "crossmint:\n  environment: %s\n  api_key: sk_%s_k\n  base_url: \"%s\"\n" CLIENTS,
	         env, env, url);
	cfg = load_ok(yaml);
	ck_assert_str_eq(kg_config_base_url(cfg), want);
	kg_config_free(cfg);
}

static void assert_url_bad(const char *env, const char *url, const char *reason)
{
	char yaml[512], want[256];

	snprintf(yaml, sizeof(yaml),
	         "crossmint:\n  environment: %s\n  api_key: sk_%s_k\n  base_url: \"%s\"\n" CLIENTS,
	         env, env, url);
	snprintf(want, sizeof(want), "t.yaml:4: crossmint.base_url: %s", reason);
	ASSERT_ERR(yaml, want);
}

START_TEST(base_url_rules)
{
	struct kg_config *cfg;

	assert_url("staging", "http://127.0.0.1:9000/", "http://127.0.0.1:9000");
	assert_url("staging", "http://127.5.6.7:9000/api", "http://127.5.6.7:9000/api");
	assert_url("staging", "http://localhost:9000", "http://localhost:9000");
	assert_url("staging", "http://[::1]:9000", "http://[::1]:9000");
	assert_url("staging", "https://example.com/api/", "https://example.com/api");
	assert_url("production", "https://proxy.internal:8443/api",
	           "https://proxy.internal:8443/api");
	assert_url_bad("production", "http://127.0.0.1:9000",
	               "production requires an https:// base URL");
	assert_url_bad("production", "http://example.com", "production requires an https://");
	assert_url_bad("staging", "http://example.com",
	               "http:// is allowed only for a loopback host");
	assert_url_bad("staging", "http://128.0.0.1",
	               "http:// is allowed only for a loopback host");
	assert_url_bad("staging", "http://[::2]:80", "http:// is allowed only for a loopback host");
	assert_url_bad("staging", "ftp://example.com", "must start with https://");
	assert_url_bad("staging", "example.com", "must start with https://");
	assert_url_bad("staging", "https://example.com/api?x=1",
	               "must not contain a query or fragment");
	assert_url_bad("staging", "https://example.com/#f", "must not contain a query or fragment");
	assert_url_bad("staging", "https://user:pw@example.com", "must not contain userinfo");
	assert_url_bad("staging", "https://", "has no host");
	assert_url_bad("staging", "https://example.com:99999", "has an invalid port");
	assert_url_bad("staging", "https://exa mple.com", "must not contain spaces");

	cfg = load_ok("crossmint:\n  environment: simulator\n" CLIENTS);
	ck_assert_ptr_null(kg_config_base_url(cfg));
	kg_config_free(cfg);
	cfg = load_ok(
	    "crossmint:\n  environment: simulator\n  base_url: http://127.0.0.1:1\n" CLIENTS);
	ck_assert_str_eq(kg_config_base_url(cfg), "http://127.0.0.1:1");
	kg_config_free(cfg);
}
END_TEST

/* ---- auth ---- */

START_TEST(auth_none_only_with_simulator)
{
	struct kg_config *cfg;

	ASSERT_ERR("auth:\n  mode: none\n",
	           "t.yaml:2: auth.mode: none is allowed only when crossmint.environment is "
	           "simulator");
	ASSERT_ERR("crossmint: {environment: production, api_key: sk_production_x}\n"
	           "auth:\n  mode: none\n",
	           "t.yaml:3: auth.mode: none is allowed only");
	cfg = load_ok("crossmint:\n  environment: simulator\nauth:\n  mode: none\n");
	ck_assert(cfg->auth.mode_none);
	ck_assert_uint_eq(cfg->auth.n_clients, 0);
	kg_config_free(cfg);
}
END_TEST

START_TEST(token_length_rules)
{
	struct kg_config *cfg;
	unsigned char d[KG_SHA256_LEN];

	ASSERT_ERR("auth:\n  clients:\n    - name: a\n      token: \"123456789012345\"\n"
	           "      scopes: [users.read]\n",
	           "t.yaml:4: auth.clients[0].token: must be at least 16 characters");
	ASSERT_ERR("auth:\n  clients:\n    - name: a\n      token: \"1234567890 1234567\"\n"
	           "      scopes: [users.read]\n",
	           "t.yaml:4: auth.clients[0].token: must be printable ASCII without spaces");
	cfg = load_ok("auth:\n  clients:\n    - name: a\n      token: \"1234567890123456\"\n"
	              "      scopes: [users.read]\n");
	ck_assert_uint_eq(cfg->n_warnings, 1);
	ck_assert_str_eq(cfg->warnings[0], "t.yaml:4: auth.clients[0].token: shorter than 32 "
	                                   "characters; use at least 32");
	ck_assert_ptr_null(strstr(cfg->warnings[0], "1234567890123456"));
	digest_of("1234567890123456", d);
	ck_assert_mem_eq(cfg->auth.clients[0].token_digest, d, KG_SHA256_LEN);
	kg_config_free(cfg);
	cfg = load_ok("auth:\n  clients:\n    - name: a\n      token: "
	              "\"1234567890123456789012345678901\"\n      scopes: [users.read]\n");
	ck_assert_uint_eq(cfg->n_warnings, 1);
	kg_config_free(cfg);
}
END_TEST

START_TEST(token_sha256_rules)
{
	struct kg_config *cfg;
	unsigned char d[KG_SHA256_LEN];

	ASSERT_ERR("auth:\n  clients:\n    - name: a\n      token_sha256: \"abc\"\n"
	           "      scopes: [users.read]\n",
	           "t.yaml:4: auth.clients[0].token_sha256: must be 64 hexadecimal characters");
	ASSERT_ERR("auth:\n  clients:\n    - name: a\n      token_sha256: "
	           "\"g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"\n"
	           "      scopes: [users.read]\n",
	           "t.yaml:4: auth.clients[0].token_sha256: must be 64 hexadecimal characters");
	ASSERT_ERR("auth:\n  clients:\n    - name: a\n      token_sha256: "
	           "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85\"\n"
	           "      scopes: [users.read]\n",
	           "t.yaml:4: auth.clients[0].token_sha256: must be 64 hexadecimal characters");
	cfg = load_ok("auth:\n  clients:\n    - name: a\n      token_sha256: "
	              "\"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\"\n"
	              "      scopes: [users.read]\n");
	digest_of("", d);
	ck_assert_mem_eq(cfg->auth.clients[0].token_digest, d, KG_SHA256_LEN);
	kg_config_free(cfg);
}
END_TEST

START_TEST(token_file_rules)
{
	struct kg_config *cfg;
	char yaml[512];
	const char *path;
	unsigned char d[KG_SHA256_LEN];

	path = temp_file(TOK "\r\n", strlen(TOK) + 2, 0600);
	snprintf(yaml, sizeof(yaml),
	         "auth:\n  clients:\n    - name: a\n      token_file: %s\n"
	         "      scopes: [users.create]\n",
	         path);
	cfg = load_ok(yaml);
	digest_of(TOK, d);
	ck_assert_mem_eq(cfg->auth.clients[0].token_digest, d, KG_SHA256_LEN);
	ck_assert_uint_eq(cfg->auth.clients[0].scopes, KG_SCOPE_CREATE);
	ck_assert_uint_eq(cfg->n_warnings, 0);
	kg_config_free(cfg);
	/* Group-readable by this process's own group (a Kubernetes Secret with fsGroup): fine. */
	chmod(path, 0640);
	cfg = load_ok(yaml);
	ck_assert_uint_eq(cfg->n_warnings, 0);
	kg_config_free(cfg);
	/* Group-readable by another group: warned about (needs root to change the group). */
	if (chown(path, (uid_t)-1, getegid() + 4242) == 0) {
		cfg = load_ok(yaml);
		ck_assert(has_warning(cfg, "t.yaml:4: auth.clients[0].token_file: "));
		kg_config_free(cfg);
	}
	unlink(path);

	path = temp_file("SECRETVALUE\n", 12, 0600);
	snprintf(yaml, sizeof(yaml),
	         "auth:\n  clients:\n    - name: a\n      token_file: %s\n"
	         "      scopes: [users.create]\n",
	         path);
	ASSERT_SECRET_ERR(yaml, "t.yaml:4: auth.clients[0].token_file: must be at least 16",
	                  "SECRETVALUE");
	unlink(path);
	ASSERT_ERR(yaml, "t.yaml:4: auth.clients[0].token_file: cannot read");
}
END_TEST

START_TEST(client_rules)
{
	ASSERT_ERR("auth:\n  clients:\n    - name: a\n      token: " TOK "\n      token_sha256: "
	           "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"\n"
	           "      scopes: [users.read]\n",
	           "t.yaml:3: auth.clients[0]: set only one of token, token_sha256 or token_file");
	ASSERT_ERR(
	    "auth:\n  clients:\n    - name: a\n      scopes: [users.read]\n",
	    "t.yaml:3: auth.clients[0]: one of token, token_sha256 or token_file is required");
	ASSERT_ERR("auth:\n  clients:\n    - token: " TOK "\n      scopes: [users.read]\n",
	           "t.yaml:3: auth.clients[0].name: required");
	ASSERT_ERR("auth:\n  clients:\n    - name: \"a b\"\n      token: " TOK
	           "\n      scopes: [users.read]\n",
	           "t.yaml:3: auth.clients[0].name: must be 1 to 64 characters");
	ASSERT_ERR("auth:\n  clients:\n    - name: \"\"\n      token: " TOK
	           "\n      scopes: [users.read]\n",
	           "t.yaml:3: auth.clients[0].name: must be 1 to 64 characters");
	ASSERT_ERR("auth:\n  clients:\n    - name: a\n      token: " TOK "\n",
	           "t.yaml:3: auth.clients[0].scopes: required");
	ASSERT_ERR("auth:\n  clients:\n    - name: a\n      token: " TOK "\n      scopes: []\n",
	           "t.yaml:5: auth.clients[0].scopes: at least one scope is required");
	ASSERT_ERR("auth:\n  clients:\n    - name: a\n      token: " TOK
	           "\n      scopes:\n        - users.read\n        - users.write\n",
	           "t.yaml:7: auth.clients[0].scopes[1]: unknown scope \"users.write\" (expected "
	           "users.create, users.read or webhooks.manage)");
	ASSERT_ERR(CLIENTS "    - name: a\n      token: " TOK "x\n      scopes: [users.read]\n",
	           "t.yaml:6: auth.clients[1].name: duplicate client name (also auth.clients[0])");
	ASSERT_ERR(CLIENTS "    - name: b\n      token_sha256: "
	                   "\"c4a5b4e6b3d48daf0ee01e1f4c9ea8e0dbbfac7d8c2a0e8a4a7a7ce0c0d64d4a\"\n"
	                   "      scopes: [users.read]\n"
	                   "    - name: c\n      token: " TOK "\n      scopes: [users.read]\n",
	           "t.yaml:10: auth.clients[2].token: same token as auth.clients[0]");
}
END_TEST

START_TEST(find_client)
{
	struct kg_config *cfg = load_ok(CLIENTS "    - name: w\n      token: " TOK "-writer\n"
	                                        "      scopes: [users.create, users.read]\n");
	unsigned char d[KG_SHA256_LEN];
	const struct kg_client *cl;

	digest_of(TOK, d);
	cl = kg_config_find_client(cfg, d);
	ck_assert_ptr_eq(cl, &cfg->auth.clients[0]);
	digest_of(TOK "-writer", d);
	cl = kg_config_find_client(cfg, d);
	ck_assert_ptr_nonnull(cl);
	ck_assert_str_eq(cl->name, "w");
	ck_assert_uint_eq(cl->scopes, KG_SCOPE_CREATE | KG_SCOPE_READ);
	digest_of("not-a-known-token-at-all-0000000", d);
	ck_assert_ptr_null(kg_config_find_client(cfg, d));
	ck_assert_ptr_null(kg_config_find_client(NULL, d));
	kg_config_free(cfg);
}
END_TEST

/* Digests that differ only in their last byte are told apart. */
START_TEST(find_client_compares_whole_digest)
{
	struct kg_config *cfg =
	    load_ok("auth:\n  clients:\n"
	            "    - name: x\n      scopes: [users.read]\n      token_sha256: "
	            "\"00000000000000000000000000000000000000000000000000000000000000aa\"\n"
	            "    - name: y\n      scopes: [users.read]\n      token_sha256: "
	            "\"00000000000000000000000000000000000000000000000000000000000000bb\"\n");
	unsigned char d[KG_SHA256_LEN] = {0};
	const struct kg_client *cl;

	d[KG_SHA256_LEN - 1] = 0xbb;
	cl = kg_config_find_client(cfg, d);
	ck_assert_ptr_nonnull(cl);
	ck_assert_str_eq(cl->name, "y");
	d[KG_SHA256_LEN - 1] = 0xcc;
	ck_assert_ptr_null(kg_config_find_client(cfg, d));
	kg_config_free(cfg);
}
END_TEST

/* ---- other keys ---- */

START_TEST(listen_rules)
{
	struct kg_config *cfg = load_ok("server:\n  listen: \"127.0.0.1:0\"\n" CLIENTS);

	ck_assert_str_eq(cfg->server.listen_host, "127.0.0.1");
	ck_assert_uint_eq(cfg->server.listen_port, 0);
	kg_config_free(cfg);
	cfg = load_ok("server:\n  listen: \"[::]:65535\"\n" CLIENTS);
	ck_assert_str_eq(cfg->server.listen_host, "::");
	ck_assert_uint_eq(cfg->server.listen_port, 65535);
	kg_config_free(cfg);
	ASSERT_ERR("server:\n  listen: \"::1:80\"\n" CLIENTS,
	           "t.yaml:2: server.listen: an IPv6 address needs brackets");
	ASSERT_ERR("server:\n  listen: host\n" CLIENTS,
	           "t.yaml:2: server.listen: expected host:port or [ipv6]:port");
	ASSERT_ERR("server:\n  listen: \"h:65536\"\n" CLIENTS,
	           "t.yaml:2: server.listen: port must be a number from 0 to 65535");
	ASSERT_ERR("server:\n  listen: \"h:\"\n" CLIENTS,
	           "t.yaml:2: server.listen: port must be a number from 0 to 65535");
	ASSERT_ERR("server:\n  listen: \":80\"\n" CLIENTS, "t.yaml:2: server.listen: invalid host");
	ASSERT_ERR("server:\n  listen: \"[zz]:80\"\n" CLIENTS,
	           "t.yaml:2: server.listen: invalid IPv6 address");
	ASSERT_ERR("metrics:\n  listen: nope\n" CLIENTS,
	           "t.yaml:2: metrics.listen: expected host:port or [ipv6]:port");
}
END_TEST

START_TEST(edd_countries_rules)
{
	struct kg_config *cfg = load_ok("simulator:\n  edd_countries: [FR, DE, US]\n" CLIENTS);

	ck_assert_uint_eq(cfg->simulator.n_edd_countries, 3);
	ck_assert_str_eq(cfg->simulator.edd_countries[2], "US");
	kg_config_free(cfg);
	ASSERT_ERR("simulator:\n  edd_countries: [FR, de]\n" CLIENTS,
	           "t.yaml:2: simulator.edd_countries[1]: expected an upper-case ISO 3166 alpha-2");
	ASSERT_ERR("simulator:\n  edd_countries:\n    - FRA\n" CLIENTS,
	           "t.yaml:3: simulator.edd_countries[0]: expected an upper-case ISO 3166 alpha-2");
}
END_TEST

START_TEST(locator_hash_key_rules)
{
	struct kg_config *cfg;
	char yaml[512];
	const char *path;
	const char *key32 = "0123456789abcdef0123456789abcdef";

	snprintf(yaml, sizeof(yaml), "log:\n  locator_hash_key: \"%s\"\n" CLIENTS, key32);
	cfg = load_ok(yaml);
	ck_assert_uint_eq(cfg->log.locator_hash_key_len, 32);
	ck_assert_mem_eq(cfg->log.locator_hash_key, key32, 32);
	kg_config_free(cfg);
	ASSERT_ERR("log:\n  locator_hash_key: \"0123456789abcdef0123456789abcde\"\n" CLIENTS,
	           "t.yaml:2: log.locator_hash_key: must be at least 32 bytes");

	path = temp_file("0123456789abcdef0123456789abcdef0123\n", 37, 0600);
	snprintf(yaml, sizeof(yaml), "log:\n  locator_hash_key_file: %s\n" CLIENTS, path);
	cfg = load_ok(yaml);
	ck_assert_uint_eq(cfg->log.locator_hash_key_len, 36);
	kg_config_free(cfg);
	snprintf(yaml, sizeof(yaml),
	         "log:\n  locator_hash_key: \"%s\"\n  locator_hash_key_file: %s\n" CLIENTS, key32,
	         path);
	ASSERT_ERR(yaml, "t.yaml:3: log.locator_hash_key_file: set either log.locator_hash_key or "
	                 "log.locator_hash_key_file, not both");
	unlink(path);
	path = temp_file("short\n", 6, 0600);
	snprintf(yaml, sizeof(yaml), "log:\n  locator_hash_key_file: %s\n" CLIENTS, path);
	ASSERT_ERR(yaml, "t.yaml:2: log.locator_hash_key_file: must be at least 32 bytes");
	unlink(path);
}
END_TEST

START_TEST(cross_key_rules)
{
	ASSERT_ERR("server:\n  tls:\n    cert_file: /c.pem\n" CLIENTS,
	           "t.yaml:3: server.tls.key_file: required when server.tls.cert_file is set");
	ASSERT_ERR("server:\n  tls: {key_file: /k.pem}\n" CLIENTS,
	           "t.yaml:2: server.tls.cert_file: required when server.tls.key_file is set");
	ASSERT_ERR("crossmint:\n  retry:\n    base_delay_ms: 3000\n" CLIENTS,
	           "t.yaml:3: crossmint.retry.base_delay_ms: must not exceed "
	           "crossmint.retry.max_delay_ms");
	ASSERT_ERR("crossmint:\n  api_version: v1\n" CLIENTS,
	           "t.yaml:2: crossmint.api_version: expected a date like 2025-06-09");
	ASSERT_ERR("crossmint:\n  proxy: \"http://a b\"\n" CLIENTS,
	           "t.yaml:2: crossmint.proxy: must not contain spaces or control characters");
}
END_TEST

/* Every key of the schema is active now (retries, the breaker and per-client limits landed in
 * issue 9): setting them loads their values and warns about nothing. */
START_TEST(resilience_keys)
{
	struct kg_config *cfg =
	    load_ok("crossmint:\n"
	            "  retry: {max_attempts: 5, base_delay_ms: 50, max_delay_ms: 400}\n"
	            "  circuit_breaker: {failure_threshold: 6, open_s: 31}\n"
	            "auth:\n  clients:\n    - name: a\n      token: " TOK "\n"
	            "      scopes: [users.read]\n      requests_per_minute: 60\n");

	ck_assert_uint_eq(cfg->crossmint.retry.max_attempts, 5);
	ck_assert_uint_eq(cfg->crossmint.retry.base_delay_ms, 50);
	ck_assert_uint_eq(cfg->crossmint.retry.max_delay_ms, 400);
	ck_assert_uint_eq(cfg->crossmint.circuit_breaker.failure_threshold, 6);
	ck_assert_uint_eq(cfg->crossmint.circuit_breaker.open_s, 31);
	ck_assert_uint_eq(cfg->auth.clients[0].requests_per_minute, 60);
	ck_assert_uint_eq(cfg->n_warnings, 0);
	kg_config_free(cfg);
}
END_TEST

static bool has_inactive(const struct kg_config *cfg, const char *key)
{
	size_t i;

	for (i = 0; i < cfg->n_inactive_keys; i++)
		if (strcmp(cfg->inactive_keys[i], key) == 0)
			return true;
	return false;
}

/* store.* and events.* (design §10): the store and idempotency_ttl_h are active; the keys of
 * the features not built yet load and are listed as not active, never silently accepted. */
START_TEST(store_and_events_keys)
{
	struct kg_config *cfg = load_ok(CLIENTS);

	ck_assert_int_eq(cfg->store.driver, KG_STORE_SQLITE);
	ck_assert_str_eq(cfg->store.sqlite_path, KG_STORE_DEFAULT_PATH);
	ck_assert_uint_eq(cfg->events.idempotency_ttl_h, 24);
	ck_assert_uint_eq(cfg->n_inactive_keys, 0);
	kg_config_free(cfg);

	cfg = load_ok("store:\n  driver: none\n  sqlite: {path: ./x.db}\n"
	              "events: {idempotency_ttl_h: 2}\n" CLIENTS);
	ck_assert_int_eq(cfg->store.driver, KG_STORE_NONE);
	ck_assert_str_eq(cfg->store.sqlite_path, "./x.db");
	ck_assert_uint_eq(cfg->events.idempotency_ttl_h, 2);
	ck_assert_uint_eq(cfg->n_inactive_keys, 0);
	kg_config_free(cfg);

	cfg = load_ok("store:\n  postgres: {dsn_file: /run/pg, lease_s: 30, replicas: 2}\n"
	              "events:\n"
	              "  retention_days: 7\n"
	              "  retry_schedule_s: [1, 2]\n"
	              "  watch: {poll_initial_s: 1, budget_share: 0.25}\n"
	              "  webhooks:\n"
	              "    - name: compliance\n"
	              "      url: https://c.example/h\n"
	              "      secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"
	              "      types: [verification.updated]\n" CLIENTS);
	ck_assert(has_inactive(cfg, "store.postgres"));
	ck_assert(!has_inactive(cfg, "events.retention_days")); /* the event feed's */
	ck_assert_uint_eq(cfg->events.retention_days, 7);
	ck_assert(!has_inactive(cfg, "events.retry_schedule_s"));
	ck_assert(!has_inactive(cfg, "events.watch")); /* watches are in force (watch.c) */
	ck_assert(!has_inactive(cfg, "events.webhooks"));
	ck_assert_uint_eq(cfg->n_inactive_keys, 1);
	ck_assert_uint_eq(cfg->events.n_retry_schedule, 2);
	ck_assert_uint_eq(cfg->events.watch.budget_share_pct, 25);
	ck_assert_uint_eq(cfg->events.n_webhooks, 1);
	ck_assert_uint_eq(cfg->events.webhooks[0].timeout_ms, 5000);
	ck_assert_uint_eq(cfg->events.webhooks[0].max_inflight, 8);
	ck_assert_uint_eq(cfg->events.webhooks[0].types, KG_EVENT_UPDATED);
	ck_assert_uint_eq(cfg->events.webhooks[0].key_len, 24);
	kg_config_free(cfg);

	ASSERT_ERR("store: {driver: postgres}\n" CLIENTS,
	           "t.yaml:1: store.driver: postgres is not in this release");
	ASSERT_ERR("store: {driver: mysql}\n" CLIENTS, "t.yaml:1: store.driver: invalid value");
	ASSERT_ERR("store: {sqlite: {path: \"\"}}\n" CLIENTS,
	           "t.yaml:1: store.sqlite.path: required when store.driver is sqlite");
	ASSERT_ERR("events: {idempotency_ttl_h: 0}\n" CLIENTS,
	           "t.yaml:1: events.idempotency_ttl_h: must be between 1 and 8760");
	ASSERT_ERR("events:\n  webhooks:\n    - {name: a, url: ftp://x, secret: s}\n" CLIENTS,
	           "t.yaml:3: events.webhooks[0]: url is required");
	ASSERT_ERR("events:\n  watch: {budget_share: 2}\n" CLIENTS,
	           "t.yaml:2: events.watch.budget_share: expected a number from 0.01 to 1");
	ASSERT_ERR("events:\n  colour: 1\n" CLIENTS, "t.yaml:2: events.colour: unknown key");
}
END_TEST

/* ---- example files ---- */

/* The config inside deploy/kubernetes.yaml loads (with its secret paths pointed at temp files),
 * every client token comes from the mounted Secret kycgate-clients, and the pod's termination
 * grace covers drain_delay_s + shutdown_grace_s + 5 (design §5). */
START_TEST(kubernetes_example)
{
	FILE *f = fopen(KG_SOURCE_DIR "/deploy/kubernetes.yaml", "rb");
	static char doc[65536], yaml[65536];
	char *start, *end, *line, *grace;
	struct kg_config *cfg = NULL;
	char *err = NULL;
	size_t n, used = 0;
	FILE *sec;

	ck_assert_ptr_nonnull(f);
	n = fread(doc, 1, sizeof(doc) - 1, f);
	fclose(f);
	doc[n] = '\0';
	start = strstr(doc, "kycgate.yaml: |\n");
	ck_assert_ptr_nonnull(start);
	start += strlen("kycgate.yaml: |\n");
	end = strstr(start, "\n---");
	ck_assert_ptr_nonnull(end);
	*end = '\0';
	for (line = start; line != NULL && *line != '\0';) {
		char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		if (len >= 4)
			used += (size_t)snprintf(yaml + used, sizeof(yaml) - used, "%.*s\n",
			                         (int)(len - 4), line + 4);
		line = nl ? nl + 1 : NULL;
	}
	sec = fopen("/tmp/kycgate-k8s-key", "w");
	fputs("sk_production_k8sexample0123456789", sec);
	fclose(sec);
	sec = fopen("/tmp/kycgate-k8s-lkey", "w");
	fputs("0123456789abcdef0123456789abcdef0123456789abcdef", sec);
	fclose(sec);
	sec = fopen("/tmp/kycgate-k8s-tok", "w");
	fputs("k8s-client-token-0123456789abcdef0123456789abcdef", sec);
	fclose(sec);
	chmod("/tmp/kycgate-k8s-key", 0600);
	chmod("/tmp/kycgate-k8s-lkey", 0600);
	chmod("/tmp/kycgate-k8s-tok", 0600);
	{
		char *p;

		while ((p = strstr(yaml, "/run/secrets/crossmint/api_key")) != NULL)
			memcpy(p, "/tmp/kycgate-k8s-key          ", 30);
		while ((p = strstr(yaml, "/run/secrets/log/locator_hash_key")) != NULL)
			memcpy(p, "/tmp/kycgate-k8s-lkey            ", 33);
		while ((p = strstr(yaml, "/run/secrets/clients/onboarding")) != NULL)
			memcpy(p, "/tmp/kycgate-k8s-tok           ", 31);
	}
	ck_assert_msg(kg_config_load_string("k8s", yaml, strlen(yaml), &cfg, &err) == KG_OK, "%s",
	              err ? err : "");
	ck_assert_int_eq(cfg->crossmint.environment, KG_ENV_PRODUCTION);
	ck_assert_uint_eq(cfg->n_warnings, 0);
	/* Every client's token comes from the mounted Secret: none is baked into the manifest. */
	ck_assert_uint_ge(cfg->auth.n_clients, 1);
	for (n = 0; n < cfg->auth.n_clients; n++)
		ck_assert_str_eq(cfg->auth.clients[n].token_file, "/tmp/kycgate-k8s-tok");
	ck_assert_ptr_nonnull(strstr(end + 1, "mountPath: /run/secrets/clients,"));
	ck_assert_ptr_nonnull(strstr(end + 1, "secretName: kycgate-clients,"));
	grace = strstr(end + 1, "terminationGracePeriodSeconds:");
	ck_assert_ptr_nonnull(grace);
	ck_assert_int_ge(strtol(grace + strlen("terminationGracePeriodSeconds:"), NULL, 10),
	                 (long)(cfg->server.drain_delay_s + cfg->server.shutdown_grace_s + 5));
	kg_config_free(cfg);
	unlink("/tmp/kycgate-k8s-key");
	unlink("/tmp/kycgate-k8s-lkey");
	unlink("/tmp/kycgate-k8s-tok");
}
END_TEST

START_TEST(example_kycgate_yaml)
{
	struct kg_config *cfg = NULL;
	char *err = NULL;

	setenv("CROSSMINT_API_KEY", "sk_staging_x0123456789", 1);
	ck_assert_int_eq(kg_config_load(KG_SOURCE_DIR "/conf/kycgate.yaml", &cfg, &err), KG_OK);
	ck_assert_msg(err == NULL, "%s", err);
	ck_assert_int_eq(cfg->crossmint.environment, KG_ENV_STAGING);
	ck_assert_str_eq(cfg->crossmint.api_key, "sk_staging_x0123456789");
	ck_assert_uint_eq(cfg->auth.n_clients, 1);
	ck_assert_str_eq(cfg->auth.clients[0].name, "onboarding");
	ck_assert_uint_eq(cfg->auth.clients[0].scopes, KG_SCOPE_CREATE | KG_SCOPE_READ);
	ck_assert_uint_eq(cfg->n_warnings, 0);
	ck_assert_uint_eq(cfg->n_inactive_keys, 0); /* the inactive keys are commented out */
	ck_assert_int_eq(cfg->store.driver, KG_STORE_SQLITE);
	ck_assert_str_eq(cfg->store.sqlite_path, "/var/lib/kycgate/kycgate.db");
	ck_assert_uint_eq(cfg->events.idempotency_ttl_h, 24);
	ck_assert_str_eq(kg_config_base_url(cfg), "https://staging.crossmint.com/api");
	ck_assert_uint_eq(cfg->server.drain_delay_s, 5);
	kg_config_free(cfg);

	/* Or from a file named by CROSSMINT_API_KEY_FILE (a Docker or Kubernetes secret). */
	unsetenv("CROSSMINT_API_KEY");
	{
		FILE *f = fopen("/tmp/kycgate-example-key", "w");

		fputs("sk_staging_fromfile0123456789\n", f);
		fclose(f);
		chmod("/tmp/kycgate-example-key", 0600);
	}
	setenv("CROSSMINT_API_KEY_FILE", "/tmp/kycgate-example-key", 1);
	ck_assert_int_eq(kg_config_load(KG_SOURCE_DIR "/conf/kycgate.yaml", &cfg, &err), KG_OK);
	ck_assert_str_eq(cfg->crossmint.api_key, "sk_staging_fromfile0123456789");
	kg_config_free(cfg);
	/* Both at once is refused. */
	setenv("CROSSMINT_API_KEY", "sk_staging_x0123456789", 1);
	ck_assert_int_eq(kg_config_load(KG_SOURCE_DIR "/conf/kycgate.yaml", &cfg, &err),
	                 KG_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, "not both"));
	free(err);
	unsetenv("CROSSMINT_API_KEY");
	unsetenv("CROSSMINT_API_KEY_FILE");
	unlink("/tmp/kycgate-example-key");
	/* Neither: valid in staging (the start-up warns that every call will be refused). */
	ck_assert_int_eq(kg_config_load(KG_SOURCE_DIR "/conf/kycgate.yaml", &cfg, &err), KG_OK);
	ck_assert_ptr_null(cfg->crossmint.api_key);
	kg_config_free(cfg);
}
END_TEST

START_TEST(example_dev_yaml)
{
	struct kg_config *cfg = NULL;
	char *err = NULL;
	unsigned char d[KG_SHA256_LEN];
	const struct kg_client *cl;

	clearenv();
	ck_assert_int_eq(kg_config_load(KG_SOURCE_DIR "/conf/dev.yaml", &cfg, &err), KG_OK);
	ck_assert_msg(err == NULL, "%s", err);
	ck_assert_int_eq(cfg->crossmint.environment, KG_ENV_SIMULATOR);
	ck_assert_ptr_null(cfg->crossmint.api_key);
	ck_assert_str_eq(cfg->server.listen_host, "127.0.0.1");
	ck_assert_uint_eq(cfg->server.listen_port, 8080);
	ck_assert_uint_eq(cfg->server.drain_delay_s, 0);
	ck_assert_uint_eq(cfg->simulator.review_delay_ms, 2000);
	ck_assert_int_eq(cfg->log.format, KG_LOG_TEXT);
	ck_assert_str_eq(cfg->store.sqlite_path, "./kycgate-dev.db");
	ck_assert_uint_eq(cfg->auth.n_clients, 2);
	ck_assert_uint_eq(cfg->n_warnings, 0);
	digest_of("dev-token-change-me-0123456789abcdef", d);
	cl = kg_config_find_client(cfg, d);
	ck_assert_ptr_nonnull(cl);
	ck_assert_str_eq(cl->name, "dev");
	ck_assert_uint_eq(cl->scopes, KG_SCOPE_CREATE | KG_SCOPE_READ);
	digest_of("dev-reader-token-0123456789abcdef", d);
	cl = kg_config_find_client(cfg, d);
	ck_assert_ptr_nonnull(cl);
	ck_assert_str_eq(cl->name, "dev-reader");
	ck_assert_uint_eq(cl->scopes, KG_SCOPE_READ);
	kg_config_free(cfg);
}
END_TEST

/* ---- hostile input ---- */

START_TEST(null_and_bad_arguments)
{
	struct kg_config *cfg = NULL;
	char *err = NULL;

	ck_assert_int_eq(kg_config_load_string("x", NULL, 5, &cfg, &err), KG_ERR_INVALID);
	ck_assert_int_eq(kg_config_load_string("x", "a: b", 4, NULL, &err), KG_ERR_INVALID);
	ck_assert_int_eq(kg_config_load(NULL, &cfg, &err), KG_ERR_INVALID);
	ck_assert_int_eq(kg_config_load_string(NULL, NULL, 0, &cfg, &err), KG_ERR_CONFIG);
	ck_assert_ptr_null(cfg);
	ck_assert(has_line(err, "<string>:1: auth.clients: "));
	free(err);
	ck_assert_int_eq(kg_config_load_string("x", CLIENTS, strlen(CLIENTS), &cfg, NULL), KG_OK);
	kg_config_free(cfg);
	ck_assert_int_eq(kg_config_load_string("x", "", 0, &cfg, NULL), KG_ERR_CONFIG);
	kg_config_free(NULL);
	ck_assert_str_eq(kg_env_name(KG_ENV_STAGING), "staging");
	ck_assert_str_eq(kg_env_name(KG_ENV_PRODUCTION), "production");
	ck_assert_str_eq(kg_env_name(KG_ENV_SIMULATOR), "simulator");
}
END_TEST

START_TEST(unreadable_files)
{
	struct kg_config *cfg = NULL;
	char *err = NULL;

	ck_assert_int_eq(kg_config_load("/nonexistent/kycgate.yaml", &cfg, &err), KG_ERR_IO);
	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(err, "/nonexistent/kycgate.yaml: No such file or directory\n");
	free(err);
	ck_assert_int_eq(kg_config_load("/tmp", &cfg, &err), KG_ERR_IO);
	ck_assert_str_eq(err, "/tmp: Is a directory\n");
	free(err);
}
END_TEST

START_TEST(oversized_input)
{
	size_t n = 2 * 1024 * 1024;
	char *big = malloc(n);
	struct kg_config *cfg = NULL;
	char *err = NULL;
	const char *path;

	ck_assert_ptr_nonnull(big);
	memset(big, '#', n);
	ck_assert_int_eq(kg_config_load_string("big", big, n, &cfg, &err), KG_ERR_CONFIG);
	ck_assert_str_eq(err, "big: larger than 1048576 bytes\n");
	free(err);
	path = temp_file(big, n, 0600);
	ck_assert_int_eq(kg_config_load(path, &cfg, &err), KG_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, ": larger than 1048576 bytes"));
	free(err);
	unlink(path);
	free(big);
}
END_TEST

START_TEST(garbage_does_not_crash)
{
	char buf[65536];
	struct kg_config *cfg = NULL;
	char *err = NULL;
	unsigned seed = 12345;
	size_t i, round;

	for (round = 0; round < 20; round++) {
		for (i = 0; i < sizeof(buf); i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = (char)(seed >> 16);
		}
		ck_assert_int_ne(
		    kg_config_load_string("g", buf, sizeof(buf) >> round % 8, &cfg, &err), KG_OK);
		ck_assert_ptr_null(cfg);
		ck_assert_ptr_nonnull(err);
		free(err);
	}
}
END_TEST

START_TEST(deep_and_wide_documents)
{
	char *doc = malloc(200000);
	struct kg_config *cfg = NULL;
	char *err = NULL;
	size_t i, n = 0;

	ck_assert_ptr_nonnull(doc);
	for (i = 0; i < 1000; i++)
		doc[n++] = '[';
	for (i = 0; i < 1000; i++)
		doc[n++] = ']';
	ck_assert_int_eq(kg_config_load_string("d", doc, n, &cfg, &err), KG_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, "nesting deeper than 64 levels"));
	free(err);

	/* Thousands of unknown keys: the list is capped. */
	n = 0;
	for (i = 0; i < 5000; i++)
		n += (size_t)snprintf(doc + n, 200000 - n, "k%zu: 1\n", i);
	ck_assert_int_eq(kg_config_load_string("w", doc, n, &cfg, &err), KG_ERR_CONFIG);
	ck_assert_uint_eq(count_lines(err), 101);
	ck_assert(has_line(err, "w: 4901 more errors not shown"));
	free(err);

	/* A flow list of 100000 items is refused by the node cap, not by memory. */
	n = (size_t)snprintf(doc, 200000, "simulator:\n  edd_countries: [");
	for (i = 0; i < 70000 && n + 4 < 200000; i++) {
		doc[n++] = '1';
		doc[n++] = ',';
	}
	doc[n++] = ']';
	ck_assert_int_eq(kg_config_load_string("w", doc, n, &cfg, &err), KG_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, "more than 65536 YAML nodes"));
	free(err);
	free(doc);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("schema");
	TCase *te = tcase_create("env-and-secrets");
	TCase *ta = tcase_create("auth");
	TCase *tf = tcase_create("files-and-hostile-input");

	tcase_add_test(tc, defaults_of_minimal_file);
	tcase_add_test(tc, empty_sections_keep_defaults);
	tcase_add_test(tc, every_value_is_read);
	tcase_add_test(tc, empty_document_needs_clients);
	tcase_add_test(tc, type_errors);
	tcase_add_test(tc, range_errors);
	tcase_add_test(tc, unknown_keys);
	tcase_add_test(tc, unknown_keys_suggest_the_nearest);
	tcase_add_test(tc, duplicate_keys);
	tcase_add_test(tc, anchors_aliases_and_tags_refused);
	tcase_add_test(tc, multiple_errors_at_once);
	tcase_add_test(tc, enum_errors);
	tcase_add_test(tc, yaml_syntax_errors);
	tcase_add_test(tc, listen_rules);
	tcase_add_test(tc, edd_countries_rules);
	tcase_add_test(tc, cross_key_rules);
	tcase_add_test(tc, resilience_keys);
	tcase_add_test(tc, store_and_events_keys);
	suite_add_tcase(s, tc);

	tcase_add_test(te, env_expansion);
	tcase_add_test(te, env_errors);
	tcase_add_test(te, secret_values_never_in_errors);
	tcase_add_test(te, key_prefix_rules);
	tcase_add_test(te, production_needs_key);
	tcase_add_test(te, empty_key_is_not_set);
	tcase_add_test(te, api_key_file);
	tcase_add_test(te, base_url_rules);
	tcase_add_test(te, locator_hash_key_rules);
	suite_add_tcase(s, te);

	tcase_add_test(ta, auth_none_only_with_simulator);
	tcase_add_test(ta, token_length_rules);
	tcase_add_test(ta, token_sha256_rules);
	tcase_add_test(ta, token_file_rules);
	tcase_add_test(ta, client_rules);
	tcase_add_test(ta, find_client);
	tcase_add_test(ta, find_client_compares_whole_digest);
	suite_add_tcase(s, ta);

	tcase_add_test(tf, example_kycgate_yaml);
	tcase_add_test(tf, kubernetes_example);
	tcase_add_test(tf, example_dev_yaml);
	tcase_add_test(tf, null_and_bad_arguments);
	tcase_add_test(tf, unreadable_files);
	tcase_add_test(tf, oversized_input);
	tcase_add_test(tf, garbage_does_not_crash);
	tcase_add_test(tf, deep_and_wide_documents);
	tcase_set_timeout(tf, 60);
	suite_add_tcase(s, tf);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
