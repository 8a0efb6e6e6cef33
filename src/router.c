/* The route table (design §2) and a matcher over the raw path.
 *
 * A row names the method, the template, the op, the scope, the body kind, the upstream method
 * and path, and the operation name of the metrics. The behaviour is not in the row: adding a
 * route also takes its op's cases in handlers.c (parameters, body, upstream call, answer) and,
 * for a local route, in checks.c, its operation name in metrics.c's list, and a path in
 * openapi/kycgate.yaml (tests/test_router.c holds the table against the spec). */
#include <stdio.h>
#include <string.h>

#include "kycgate/config.h"
#include "kycgate/router.h"

#define LOC "{userLocator}"

static const struct kg_route routes[] = {
    {"PUT", "/v1/users/" LOC, KG_OP_USER_PUT, KG_SCOPE_CREATE, KG_BODY_JSON, "PUT", "/users/" LOC,
     "user.put"},
    {"GET", "/v1/users/" LOC, KG_OP_USER_GET, KG_SCOPE_READ, KG_BODY_NONE, "GET", "/users/" LOC,
     "user.get"},
    {"PUT", "/v1/users/" LOC "/consent", KG_OP_CONSENT_PUT, KG_SCOPE_CREATE, KG_BODY_JSON, "PUT",
     "/users/" LOC "/legal-documents", "consent.put"},
    {"PUT", "/v1/users/" LOC "/documents/{documentType}", KG_OP_DOCUMENT_PUT, KG_SCOPE_CREATE,
     KG_BODY_DOCUMENT, "POST", "/documents", "document.put"},
    {"GET", "/v1/documents/{documentId}", KG_OP_DOCUMENT_GET, KG_SCOPE_READ, KG_BODY_NONE, "GET",
     "/documents/{documentId}", "document.get"},
    {"POST", "/v1/users/" LOC "/verification", KG_OP_VERIFY_POST, KG_SCOPE_CREATE, KG_BODY_NONE,
     "PUT", "/users/" LOC "/identity-verification", "verification.trigger"},
    {"GET", "/v1/users/" LOC "/verification", KG_OP_VERIFY_GET, KG_SCOPE_READ, KG_BODY_NONE, "GET",
     "/users/" LOC "/identity-verification", "verification.get"},
    {"PUT", "/v1/users/" LOC "/wallets/{address}", KG_OP_WALLET_PUT, KG_SCOPE_CREATE, KG_BODY_JSON,
     "PUT", "/users/" LOC "/linked-wallets/{address}", "wallet.put"},
    {"GET", "/v1/users/" LOC "/wallets/{address}", KG_OP_WALLET_GET, KG_SCOPE_READ, KG_BODY_NONE,
     "GET", "/users/" LOC "/linked-wallets/{address}", "wallet.get"},
    {"DELETE", "/v1/users/" LOC "/wallets/{address}", KG_OP_WALLET_DELETE, KG_SCOPE_CREATE,
     KG_BODY_NONE, "DELETE", "/users/" LOC "/linked-wallets/{address}", "wallet.delete"},
    {"GET", "/healthz", KG_OP_HEALTHZ, 0, KG_BODY_NONE, NULL, NULL, "healthz"},
    {"GET", "/readyz", KG_OP_READYZ, 0, KG_BODY_NONE, NULL, NULL, "readyz"},
    {"GET", "/openapi.yaml", KG_OP_OPENAPI, 0, KG_BODY_NONE, NULL, NULL, "openapi"},
    {"GET", "/metrics", KG_OP_METRICS, 0, KG_BODY_NONE, NULL, NULL, "metrics"},
};

static const char *const param_names[] = {
    [KG_PARAM_LOCATOR] = "userLocator",
    [KG_PARAM_DOC_TYPE] = "documentType",
    [KG_PARAM_DOC_ID] = "documentId",
    [KG_PARAM_ADDRESS] = "address",
};

const struct kg_route *kg_routes(size_t *n)
{
	*n = sizeof(routes) / sizeof(routes[0]);
	return routes;
}

/* The parameter kind named by a template segment "{name}" of length len. */
static bool param_kind(const char *seg, size_t len, enum kg_param *kind)
{
	size_t i;

	if (len < 3 || seg[0] != '{' || seg[len - 1] != '}')
		return false;
	for (i = 0; i < sizeof(param_names) / sizeof(param_names[0]); i++) {
		if (strlen(param_names[i]) == len - 2 &&
		    memcmp(param_names[i], seg + 1, len - 2) == 0) {
			*kind = (enum kg_param)i;
			return true;
		}
	}
	return false;
}

/* Matches one template against the path; fills params on success. */
static bool match_template(const char *tmpl, const char *path, struct kg_match *m)
{
	const char *t = tmpl, *p = path;

	m->n_params = 0;
	while (*t == '/' && *p == '/') {
		const char *te = strchr(t + 1, '/'), *pe = strchr(p + 1, '/');
		size_t tl = te ? (size_t)(te - t - 1) : strlen(t + 1);
		size_t pl = pe ? (size_t)(pe - p - 1) : strlen(p + 1);
		enum kg_param kind;

		if (param_kind(t + 1, tl, &kind)) {
			if (m->n_params == KG_MAX_PARAMS)
				return false;
			m->params[m->n_params++] = (struct kg_raw_param){kind, p + 1, pl};
		} else if (tl != pl || memcmp(t + 1, p + 1, tl) != 0) {
			return false;
		}
		t += tl + 1;
		p += pl + 1;
	}
	return *t == '\0' && *p == '\0';
}

static void allow_add(struct kg_match *m, const char *method)
{
	size_t used = strlen(m->allow);

	if (strstr(m->allow, method) != NULL)
		return;
	snprintf(m->allow + used, sizeof(m->allow) - used, "%s%s", used ? ", " : "", method);
}

/* Crossmint's own paths, which a caller porting code from Crossmint's examples may send: a 404
 * there names the kycgate route to use. method NULL: any. */
static const struct {
	const char *suffix;
	const char *method;
	const char *hint;
} crossmint_paths[] = {
    {"/identity-verification", NULL,
     "no route has this path: /identity-verification is Crossmint's; kycgate's is POST (trigger) "
     "or GET (status) /v1/users/{userLocator}/verification"},
    {"/legal-documents", NULL,
     "no route has this path: /legal-documents is Crossmint's; kycgate's is PUT "
     "/v1/users/{userLocator}/consent"},
    {"/documents", "POST",
     "no route has this path: POST /documents is Crossmint's; kycgate's is PUT "
     "/v1/users/{userLocator}/documents/{documentType} (the file as the body)"},
};

/* The hint for a path no route has, or NULL. */
static const char *crossmint_hint(const char *path, size_t len, const char *method)
{
	size_t i, n;

	for (i = 0; i < sizeof(crossmint_paths) / sizeof(crossmint_paths[0]); i++) {
		n = strlen(crossmint_paths[i].suffix);
		if (len >= n && memcmp(path + len - n, crossmint_paths[i].suffix, n) == 0 &&
		    (crossmint_paths[i].method == NULL ||
		     strcmp(crossmint_paths[i].method, method) == 0))
			return crossmint_paths[i].hint;
	}
	return NULL;
}

bool kg_route_match(const char *path, const char *method, struct kg_match *m)
{
	size_t i, segments = 0, len = strnlen(path, KG_MAX_RAW_PATH_BYTES + 1);
	struct kg_match probe;

	memset(m, 0, sizeof(*m));
	if (len > KG_MAX_RAW_PATH_BYTES)
		return false;
	for (i = 0; i < len; i++)
		segments += path[i] == '/';
	if (segments > KG_MAX_PATH_SEGMENTS)
		return false;
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!match_template(routes[i].tmpl, path, &probe))
			continue;
		m->path_found = true;
		m->path_tmpl = routes[i].tmpl;
		allow_add(m, routes[i].method);
		if (m->route == NULL && strcmp(routes[i].method, method) == 0) {
			memcpy(m->params, probe.params, sizeof(probe.params));
			m->n_params = probe.n_params;
			m->route = &routes[i];
		}
	}
	if (!m->path_found)
		m->hint = crossmint_hint(path, len, method);
	return true;
}
