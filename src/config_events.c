/* The events.* keys of design §10 that need more than a type and a range: the webhook list (with
 * its secrets, decoded here, and its URLs, checked once the environment is known), the retry
 * schedule, the watch budget share; and the list of keys set but not active yet (store.postgres:
 * every events.* key is in force). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "kycgate/validate.h"
#include "kycgate/base64.h"

#define WH(m) offsetof(struct kg_webhook, m)

void cfg_add_inactive(struct cfg_ctx *c, const char *key)
{
	struct kg_config *cfg = c->cfg;
	char **k = realloc(cfg->inactive_keys, (cfg->n_inactive_keys + 1) * sizeof(*k));

	if (k == NULL) {
		c->nomem = true;
		return;
	}
	cfg->inactive_keys = k;
	k[cfg->n_inactive_keys] = strdup(key);
	if (k[cfg->n_inactive_keys] == NULL)
		c->nomem = true;
	else
		cfg->n_inactive_keys++;
}

static void fn_types(struct cfg_ctx *c, const struct ynode *v, const char *path, void *base)
{
	struct kg_webhook *w = base;
	char item[CFG_PATH_MAX];
	size_t i;

	if (!cfg_is_list(c, v, path))
		return;
	w->types = 0;
	if (v->n_kids == 0)
		cfg_err(c, v->line, path, "at least one type (or leave types out: every type)");
	for (i = 0; i < v->n_kids; i++) {
		char *s;

		snprintf(item, sizeof(item), "%s[%zu]", path, i);
		s = cfg_scalar(c, v->kids[i], item);
		if (s != NULL && strcmp(s, "verification.updated") != 0)
			cfg_err(c, v->kids[i]->line, item,
			        "unknown event type (expected verification.updated)");
		else if (s != NULL)
			w->types |= KG_EVENT_UPDATED;
		cfg_free_secret(s);
	}
}

static const struct field webhook_fields[] = {
    {.key = "name", .type = F_STR, .off = WH(name)},
    {.key = "url", .type = F_STR, .off = WH(url)},
    {.key = "secret", .type = F_STR, .off = WH(secret)},
    {.key = "secret_file", .type = F_STR, .off = WH(secret_file)},
    {.key = "types", .type = F_FN, .fn = fn_types},
    {.key = "timeout_ms", .type = F_UINT, .off = WH(timeout_ms), .min = 1, .max = 600000},
    {.key = "max_inflight", .type = F_UINT, .off = WH(max_inflight), .min = 1, .max = 1000},
    {.key = NULL},
};

static bool name_ok(const char *s)
{
	return kg_name_valid(s, strlen(s));
}

/* The checks of one entry that need its other keys. */
static void check_webhook(struct cfg_ctx *c, const struct kg_webhook *w, size_t line,
                          const char *path)
{
	bool secret = w->secret != NULL && w->secret[0] != '\0';
	bool file = w->secret_file != NULL && w->secret_file[0] != '\0';

	if (w->name == NULL || !name_ok(w->name))
		cfg_err(c, line, path, "name is required: 1 to 64 of A-Z a-z 0-9 _ . -");
	if (w->url == NULL ||
	    (strncmp(w->url, "https://", 8) != 0 && strncmp(w->url, "http://", 7) != 0))
		cfg_err(c, line, path, "url is required: an http or https URL");
	if (secret == file)
		cfg_err(c, line, path, "exactly one of secret or secret_file is required");
}

/* Decodes a Standard Webhooks secret ("whsec_" + base64 of 24 to 128 bytes) into w->key. Never
 * quotes the secret. */
static void decode_secret(struct cfg_ctx *c, struct kg_webhook *w, const char *s, size_t line,
                          const char *path)
{
	size_t n = strlen(s), len = 0;

	if (strncmp(s, "whsec_", 6) != 0) {
		cfg_err(c, line, path, "must be a Standard Webhooks secret (whsec_ + base64)");
		return;
	}
	w->key = malloc(KG_WEBHOOK_MAX_SECRET_BYTES);
	if (w->key == NULL) {
		c->nomem = true;
		return;
	}
	if (kg_base64_decode(s + 6, n - 6, w->key, KG_WEBHOOK_MAX_SECRET_BYTES, &len) != KG_OK ||
	    len < KG_WEBHOOK_MIN_SECRET_BYTES) {
		cfg_err(c, line, path, "must be whsec_ followed by the base64 of %d to %d bytes",
		        KG_WEBHOOK_MIN_SECRET_BYTES, KG_WEBHOOK_MAX_SECRET_BYTES);
		kg_wipe(w->key, KG_WEBHOOK_MAX_SECRET_BYTES);
		free(w->key);
		w->key = NULL;
		return;
	}
	w->key_len = len;
}

/* The secret of one entry, inline or read from its file (at each load: start and reload). */
static void load_secret(struct cfg_ctx *c, struct kg_webhook *w, size_t line, const char *path)
{
	char sub[CFG_PATH_MAX], *s = NULL;
	size_t len = 0;

	if (w->secret != NULL && w->secret[0] != '\0') {
		cfg_join(sub, sizeof(sub), path, "secret");
		decode_secret(c, w, w->secret, line, sub);
		return;
	}
	if (w->secret_file == NULL || w->secret_file[0] == '\0')
		return;
	cfg_join(sub, sizeof(sub), path, "secret_file");
	if (!cfg_read_secret(c, w->secret_file, line, sub, &s, &len))
		return;
	if (strlen(s) != len)
		cfg_err(c, line, sub, "must not contain a NUL byte");
	else
		decode_secret(c, w, s, line, sub);
	kg_wipe(s, len);
	free(s);
}

void cfg_check_webhooks(struct cfg_ctx *c)
{
	struct kg_config *cfg = c->cfg;
	char path[CFG_PATH_MAX];
	size_t i;

	for (i = 0; i < cfg->events.n_webhooks; i++) {
		const struct kg_webhook *w = &cfg->events.webhooks[i];
		const char *why;

		if (w->url == NULL)
			continue;
		snprintf(path, sizeof(path), "events.webhooks[%zu].url", i);
		why = cfg_check_webhook_url(w->url, cfg->crossmint.environment);
		if (why != NULL)
			cfg_err(c, w->line, path, "%s", why);
	}
}

void cfg_fn_webhooks(struct cfg_ctx *c, const struct ynode *v, const char *path, void *base)
{
	struct kg_config *cfg = base;
	char item[CFG_PATH_MAX];
	size_t i, j;

	if (!cfg_is_list(c, v, path))
		return;
	if (v->n_kids > KG_MAX_WEBHOOKS) {
		cfg_err(c, v->line, path, "at most %d endpoints", KG_MAX_WEBHOOKS);
		return;
	}
	cfg_free_webhooks(cfg);
	cfg->events.webhooks = calloc(v->n_kids ? v->n_kids : 1, sizeof(*cfg->events.webhooks));
	if (cfg->events.webhooks == NULL) {
		c->nomem = true;
		return;
	}
	for (i = 0; i < v->n_kids; i++) {
		struct kg_webhook *w = &cfg->events.webhooks[i];
		size_t marks[1] = {0};
		bool bad[1] = {false};
		struct walk wk = {c, w, marks, bad};

		w->timeout_ms = 5000;
		w->max_inflight = 8;
		w->types = KG_EVENT_ALL;
		w->line = v->kids[i]->line;
		cfg->events.n_webhooks = i + 1;
		snprintf(item, sizeof(item), "%s[%zu]", path, i);
		cfg_walk_map(&wk, v->kids[i], item, webhook_fields);
		check_webhook(c, w, v->kids[i]->line, item);
		load_secret(c, w, v->kids[i]->line, item);
		for (j = 0; j < i && w->name != NULL; j++)
			if (cfg->events.webhooks[j].name != NULL &&
			    strcmp(cfg->events.webhooks[j].name, w->name) == 0)
				cfg_err(c, v->kids[i]->line, item, "duplicate name");
	}
}

void cfg_fn_retry_schedule(struct cfg_ctx *c, const struct ynode *v, const char *path, void *base)
{
	struct kg_config *cfg = base;
	char item[CFG_PATH_MAX];
	unsigned long long u;
	size_t i;

	if (!cfg_is_list(c, v, path))
		return;
	if (v->n_kids < 1 || v->n_kids > KG_MAX_RETRY_SCHEDULE) {
		cfg_err(c, v->line, path, "1 to %d delays", KG_MAX_RETRY_SCHEDULE);
		return;
	}
	for (i = 0; i < v->n_kids; i++) {
		char *s;

		snprintf(item, sizeof(item), "%s[%zu]", path, i);
		s = cfg_scalar(c, v->kids[i], item);
		if (s == NULL)
			continue;
		if (cfg_parse_ull(s, &u) != NUM_OK || u < 1 || u > 604800)
			cfg_err(c, v->kids[i]->line, item, "must be between 1 and 604800");
		else
			cfg->events.retry_schedule_s[i] = (unsigned)u;
		cfg_free_secret(s);
	}
	cfg->events.n_retry_schedule = v->n_kids;
}

void cfg_fn_budget_share(struct cfg_ctx *c, const struct ynode *v, const char *path, void *base)
{
	struct kg_config *cfg = base;
	char *s = cfg_scalar(c, v, path), *end = NULL;
	double d;

	if (s == NULL)
		return;
	d = strtod(s, &end);
	if (s[0] == '\0' || *end != '\0' || !(d >= 0.01 && d <= 1.0))
		cfg_err(c, v->line, path, "expected a number from 0.01 to 1");
	else
		cfg->events.watch.budget_share_pct = (unsigned)(d * 100.0 + 0.5);
	cfg_free_secret(s);
}

void cfg_free_webhooks(struct kg_config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->events.n_webhooks; i++) {
		struct kg_webhook *w = &cfg->events.webhooks[i];

		free(w->name);
		/* A URL may carry a credential (?token=...): wiped, as webhooks.c wipes its copy.
		 */
		if (w->url != NULL)
			kg_wipe(w->url, strlen(w->url));
		free(w->url);
		cfg_free_secret(w->secret);
		free(w->secret_file);
		if (w->key != NULL)
			kg_wipe(w->key, KG_WEBHOOK_MAX_SECRET_BYTES);
		free(w->key);
	}
	free(cfg->events.webhooks);
	cfg->events.webhooks = NULL;
	cfg->events.n_webhooks = 0;
}
