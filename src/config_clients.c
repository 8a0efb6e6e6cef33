/* auth.clients: each entry walked against its table, its token resolved (token, token_sha256 or
 * token_file) and hashed with SHA-256, then names and tokens checked for uniqueness. The plain
 * token is wiped as soon as its digest is taken. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "kycgate/validate.h"
#include "kycgate/sha256.h"

#define MAX_CLIENTS 1024 /* auth.clients entries */

#define CL(m) offsetof(struct client_raw, m)

/* Lines of a client's keys (0 = absent), like enum cfg_mark for the whole file. */
enum { CM_NONE = 0, CM_NAME, CM_TOKEN, CM_SHA, CM_FILE, CM_SCOPES, CM_COUNT };

/* One auth.clients[] entry as written, before its token is resolved and hashed. */
struct client_raw {
	char *name;
	char *token; /* plain token (secret: wiped when freed) */
	char *token_sha256;
	char *token_file;
	unsigned scopes;
	unsigned requests_per_minute;
	size_t mark[CM_COUNT];
	bool bad[CM_COUNT];
	const char *src_key; /* the token key used: "token", "token_sha256" or "token_file" */
	size_t src_line;
};

static void fn_scopes(struct cfg_ctx *c, const struct ynode *v, const char *path, void *base)
{
	struct client_raw *r = base;
	char item[CFG_PATH_MAX], shown[40];
	size_t i;

	if (!cfg_is_list(c, v, path))
		return;
	if (v->n_kids == 0)
		cfg_err(c, v->line, path, "at least one scope is required");
	for (i = 0; i < v->n_kids; i++) {
		char *s;

		snprintf(item, sizeof(item), "%s[%zu]", path, i);
		s = cfg_scalar(c, v->kids[i], item);
		if (s == NULL)
			continue;
		if (strcmp(s, "users.create") == 0) {
			r->scopes |= KG_SCOPE_CREATE;
		} else if (strcmp(s, "users.read") == 0) {
			r->scopes |= KG_SCOPE_READ;
		} else if (strcmp(s, "webhooks.manage") == 0) {
			r->scopes |= KG_SCOPE_WEBHOOKS;
		} else {
			cfg_sanitize(s, strlen(s), shown, sizeof(shown));
			cfg_err(c, v->kids[i]->line, item,
			        "unknown scope \"%s\" (expected users.create, users.read or "
			        "webhooks.manage)",
			        shown);
		}
		cfg_free_secret(s);
	}
}

/* ---- clients ---- */

static const struct field client_fields[] = {
    {.key = "name", .type = F_STR, .off = CL(name), .mark = CM_NAME},
    {.key = "token", .type = F_STR, .off = CL(token), .mark = CM_TOKEN},
    {.key = "token_sha256", .type = F_STR, .off = CL(token_sha256), .mark = CM_SHA},
    {.key = "token_file", .type = F_STR, .off = CL(token_file), .mark = CM_FILE},
    {.key = "scopes", .type = F_FN, .fn = fn_scopes, .mark = CM_SCOPES},
    {.key = "requests_per_minute", .type = F_UINT, .off = CL(requests_per_minute), .max = 1000000},
    {.key = NULL},
};

static bool name_ok(const char *s)
{
	return kg_name_valid(s, strlen(s));
}

/* Checks a plain token (from token or token_file) and writes its digest. */
static bool check_token(struct cfg_ctx *c, const char *t, size_t n, size_t line, const char *path,
                        unsigned char digest[KG_SHA256_LEN])
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (t[i] < 0x21 || t[i] > 0x7e) {
			cfg_err(c, line, path, "must be printable ASCII without spaces");
			return false;
		}
	}
	if (n < 16) {
		cfg_err(c, line, path, "must be at least 16 characters");
		return false;
	}
	if (n > KG_MAX_TOKEN_BYTES) {
		cfg_err(c, line, path, "must be at most %d characters", KG_MAX_TOKEN_BYTES);
		return false;
	}
	if (n < 32)
		cfg_warn(c, line, path, "shorter than 32 characters; use at least 32");
	if (kg_sha256(t, n, digest) != KG_OK) {
		cfg_err(c, line, path, "cannot be hashed: GnuTLS is not operational");
		return false;
	}
	return true;
}

static void token_from_file(struct cfg_ctx *c, struct client_raw *r, const char *path,
                            unsigned char digest[KG_SHA256_LEN])
{
	char *buf = NULL;
	size_t n = 0;

	if (!cfg_read_secret(c, r->token_file, r->mark[CM_FILE], path, &buf, &n))
		return;
	check_token(c, buf, n, r->mark[CM_FILE], path, digest);
	kg_wipe(buf, n);
	free(buf);
}

/* Resolves exactly one of token, token_sha256 and token_file into digest. An empty value
 * counts as not set (like crossmint.api_key). */
static void resolve_token(struct cfg_ctx *c, struct client_raw *r, const char *path, size_t line,
                          unsigned char digest[KG_SHA256_LEN])
{
	bool has_t = r->token && r->token[0], has_h = r->token_sha256 && r->token_sha256[0];
	bool has_f = r->token_file && r->token_file[0];
	char sub[CFG_PATH_MAX];

	if (r->bad[CM_TOKEN] || r->bad[CM_SHA] || r->bad[CM_FILE])
		return;
	if (has_t + has_h + has_f != 1) {
		cfg_err(c, line, path,
		        has_t + has_h + has_f == 0
		            ? "one of token, token_sha256 or token_file is required"
		            : "set only one of token, token_sha256 or token_file");
		return;
	}
	r->src_key = has_t ? "token" : has_h ? "token_sha256" : "token_file";
	r->src_line = r->mark[has_t ? CM_TOKEN : has_h ? CM_SHA : CM_FILE];
	cfg_join(sub, sizeof(sub), path, r->src_key);
	if (has_t)
		check_token(c, r->token, strlen(r->token), r->src_line, sub, digest);
	else if (has_f)
		token_from_file(c, r, sub, digest);
	else if (!kg_unhex(r->token_sha256, strlen(r->token_sha256), digest, KG_SHA256_LEN))
		cfg_err(c, r->src_line, sub,
		        "must be 64 hexadecimal characters (printf %%s TOKEN | sha256sum)");
}

/* Turns one walked entry into out; true when it is valid. */
static bool finish_client(struct cfg_ctx *c, struct client_raw *r, const char *path, size_t line,
                          struct kg_client *out)
{
	size_t before = c->n_errs;
	char sub[CFG_PATH_MAX];

	cfg_join(sub, sizeof(sub), path, "name");
	if (r->name == NULL)
		cfg_err(c, line, sub, "required");
	else if (!name_ok(r->name))
		cfg_err(c, r->mark[CM_NAME], sub,
		        "must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' or '-'");
	out->name = r->name;
	r->name = NULL;
	cfg_join(sub, sizeof(sub), path, "scopes");
	if (r->mark[CM_SCOPES] == 0)
		cfg_err(c, line, sub, "required (users.create, users.read, webhooks.manage)");
	out->scopes = r->scopes;
	out->requests_per_minute = r->requests_per_minute;
	resolve_token(c, r, path, line, out->token_digest);
	if (r->token_file != NULL && r->token_file[0] != '\0') {
		out->token_file = r->token_file;
		r->token_file = NULL;
	}
	return c->n_errs == before;
}

/* Unique names and tokens among the valid entries. */
static void check_unique(struct cfg_ctx *c, const struct client_raw *raw,
                         const struct kg_client *cl, const bool *ok, size_t n, const char *path)
{
	char sub[CFG_PATH_MAX];
	size_t i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < i && ok[i]; j++) {
			if (!ok[j])
				continue;
			if (strcmp(cl[i].name, cl[j].name) == 0) {
				snprintf(sub, sizeof(sub), "%s[%zu].name", path, i);
				cfg_err(c, raw[i].mark[CM_NAME], sub,
				        "duplicate client name (also %s[%zu])", path, j);
			}
			if (memcmp(cl[i].token_digest, cl[j].token_digest, KG_SHA256_LEN) == 0) {
				snprintf(sub, sizeof(sub), "%s[%zu].%s", path, i, raw[i].src_key);
				cfg_err(c, raw[i].src_line, sub, "same token as %s[%zu]", path, j);
			}
		}
	}
}

static void free_raw(struct client_raw *raw, size_t n)
{
	size_t i;

	for (i = 0; raw != NULL && i < n; i++) {
		free(raw[i].name);
		cfg_free_secret(raw[i].token);
		free(raw[i].token_sha256);
		free(raw[i].token_file);
	}
	free(raw);
}

/* Walks and checks every entry of v into cl[0..n); ok[i] tells which are valid. */
static void walk_clients(struct cfg_ctx *c, const struct ynode *v, const char *path,
                         struct client_raw *raw, struct kg_client *cl, bool *ok)
{
	char item[CFG_PATH_MAX];
	size_t i;

	for (i = 0; i < v->n_kids; i++) {
		const struct ynode *kid = v->kids[i];
		struct walk w = {c, &raw[i], raw[i].mark, raw[i].bad};

		snprintf(item, sizeof(item), "%s[%zu]", path, i);
		if (!cfg_usable(c, kid, item))
			continue;
		if (kid->type != Y_MAP) {
			cfg_err(c, kid->line, item, "expected a mapping, found %s", cfg_kind(kid));
			continue;
		}
		cfg_walk_map(&w, kid, item, client_fields);
		ok[i] = finish_client(c, &raw[i], item, kid->line, &cl[i]);
	}
	check_unique(c, raw, cl, ok, v->n_kids, path);
}

void cfg_fn_clients(struct cfg_ctx *c, const struct ynode *v, const char *path, void *base)
{
	struct kg_config *cfg = base;
	struct client_raw *raw = NULL;
	struct kg_client *cl = NULL;
	bool *ok = NULL;
	size_t n;

	if (cfg_is_null(v))
		return; /* as if absent: "at least one client" comes later */
	if (!cfg_is_list(c, v, path))
		return;
	n = v->n_kids;
	if (n == 0)
		return;
	if (n > MAX_CLIENTS) {
		cfg_err(c, v->line, path, "at most %d clients", MAX_CLIENTS);
		return;
	}
	raw = calloc(n, sizeof(*raw));
	cl = calloc(n, sizeof(*cl));
	ok = calloc(n, sizeof(*ok));
	if (raw == NULL || cl == NULL || ok == NULL) {
		c->nomem = true;
		goto out;
	}
	walk_clients(c, v, path, raw, cl, ok);
	cfg->auth.clients = cl;
	cfg->auth.n_clients = n;
	cl = NULL;
out:
	free(cl);
	free(ok);
	free_raw(raw, n);
}
