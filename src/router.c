/* The route table (design §2) and a matcher over the raw path.
 *
 * A row names everything about its route: method, template, scope, the listener, the query
 * parameters it takes by name (each with its parser), the body kind (its limit and media types)
 * and the shaper of what goes upstream, the upstream method, path and kind of call, the function
 * that turns the upstream answer into the reply (or the local answer), and the operation name of
 * the metrics. The functions live in the route family files (src/routes_*.c, declared in
 * src/routes.h). Adding a route is its row, its functions and its path in openapi/kycgate.yaml
 * (tests/test_router.c holds the table against the spec). The gateway declares the templates and
 * operation names to the metrics at start (server.c). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "kycgate/config.h"
#include "kycgate/router.h"
#include "routes.h"
#include "webhooks.h"

#define LOC "{userLocator}"

static const struct kg_route routes[] = {
    /* src/routes_users.c */
    {.method = "PUT",
     .tmpl = "/v1/users/" LOC,
     .scope = KG_SCOPE_CREATE,
     .idempotent = true,
     .query = kg_users_put_query,
     .body = KG_BODY_JSON,
     .shape = kg_users_put_shape,
     .up_method = "PUT",
     .up_path = "/users/" LOC,
     .up_kind = KG_CALL_WRITE,
     .begin = kg_users_put_begin,
     .answer = kg_users_put_answer,
     .operation = "user.put"},
    {.method = "GET",
     .tmpl = "/v1/users/" LOC,
     .scope = KG_SCOPE_READ,
     .up_method = "GET",
     .up_path = "/users/" LOC,
     .up_kind = KG_CALL_PLAIN,
     .answer = kg_handle_pass,
     .operation = "user.get"},
    {.method = "PUT",
     .tmpl = "/v1/users/" LOC "/consent",
     .scope = KG_SCOPE_CREATE,
     .idempotent = true,
     .body = KG_BODY_JSON,
     .shape = kg_users_consent_shape,
     .up_method = "PUT",
     .up_path = "/users/" LOC "/legal-documents",
     .up_kind = KG_CALL_WRITE,
     .answer = kg_handle_pass,
     .operation = "consent.put"},
    /* src/routes_documents.c */
    {.method = "PUT",
     .tmpl = "/v1/users/" LOC "/documents/{documentType}",
     .scope = KG_SCOPE_CREATE,
     .idempotent = true,
     .query = kg_documents_put_query,
     .body = KG_BODY_DOCUMENT,
     .shape = kg_documents_put_shape,
     .up_method = "POST",
     .up_path = "/documents",
     .up_kind = KG_CALL_WRITE,
     .once_only = true,
     .answer = kg_handle_pass,
     .operation = "document.put"},
    {.method = "GET",
     .tmpl = "/v1/documents/{documentId}",
     .scope = KG_SCOPE_READ,
     .up_method = "GET",
     .up_path = "/documents/{documentId}",
     .up_kind = KG_CALL_PLAIN,
     .answer = kg_handle_pass,
     .operation = "document.get"},
    /* src/routes_verification.c */
    {.method = "POST",
     .tmpl = "/v1/users/" LOC "/verification",
     .scope = KG_SCOPE_CREATE,
     .idempotent = true,
     .query = kg_verification_query,
     .up_method = "PUT",
     .up_path = "/users/" LOC "/identity-verification",
     .up_kind = KG_CALL_WRITE,
     .once_only = true,
     .answer = kg_verification_trigger_answer,
     .operation = "verification.trigger"},
    {.method = "GET",
     .tmpl = "/v1/users/" LOC "/verification",
     .scope = KG_SCOPE_READ,
     .query = kg_verification_query,
     .up_method = "GET",
     .up_path = "/users/" LOC "/identity-verification",
     .up_kind = KG_CALL_STATUS_READ,
     .answer = kg_verification_get_answer,
     .operation = "verification.get"},
    /* src/routes_wallets.c */
    {.method = "PUT",
     .tmpl = "/v1/users/" LOC "/wallets/{address}",
     .scope = KG_SCOPE_CREATE,
     .idempotent = true,
     .body = KG_BODY_JSON,
     .shape = kg_wallets_put_shape,
     .up_method = "PUT",
     .up_path = "/users/" LOC "/linked-wallets/{address}",
     .up_kind = KG_CALL_WRITE,
     .answer = kg_handle_pass,
     .operation = "wallet.put"},
    {.method = "GET",
     .tmpl = "/v1/users/" LOC "/wallets/{address}",
     .scope = KG_SCOPE_READ,
     .up_method = "GET",
     .up_path = "/users/" LOC "/linked-wallets/{address}",
     .up_kind = KG_CALL_PLAIN,
     .answer = kg_handle_pass,
     .operation = "wallet.get"},
    {.method = "DELETE",
     .tmpl = "/v1/users/" LOC "/wallets/{address}",
     .scope = KG_SCOPE_CREATE,
     .idempotent = true,
     .up_method = "DELETE",
     .up_path = "/users/" LOC "/linked-wallets/{address}",
     .up_kind = KG_CALL_WRITE,
     .answer = kg_handle_pass,
     .operation = "wallet.delete"},
    /* src/events_feed.c, src/events_users.c */
    {.method = "GET",
     .tmpl = "/v1/events",
     .scope = KG_SCOPE_READ,
     .query = kg_events_query,
     .work_begin = kg_events_feed_begin,
     .work_submit = kg_events_feed_submit,
     .work_resumed = kg_events_feed_resumed,
     .operation = "events.list"},
    {.method = "GET",
     .tmpl = "/v1/users",
     .scope = KG_SCOPE_READ,
     .query = kg_users_list_query,
     .work_begin = kg_users_list_begin,
     .work_submit = kg_users_list_submit,
     .work_resumed = kg_users_list_resumed,
     .operation = "users.list"},
    /* src/routes_watch.c: answered from the store */
    {.method = "PUT",
     .tmpl = "/v1/users/" LOC "/watch",
     .scope = KG_SCOPE_READ,
     .query = kg_watch_put_query,
     .work_begin = kg_watch_begin,
     .work_submit = kg_store_route_submit,
     .work_resumed = kg_watch_resumed,
     .operation = "watch.put"},
    {.method = "GET",
     .tmpl = "/v1/users/" LOC "/watch",
     .scope = KG_SCOPE_READ,
     .work_begin = kg_watch_begin,
     .work_submit = kg_store_route_submit,
     .work_resumed = kg_watch_resumed,
     .operation = "watch.get"},
    {.method = "DELETE",
     .tmpl = "/v1/users/" LOC "/watch",
     .scope = KG_SCOPE_READ,
     .work_begin = kg_watch_begin,
     .work_submit = kg_store_route_submit,
     .work_resumed = kg_watch_resumed,
     .operation = "watch.delete"},
    /* src/routes_local.c */
    {.method = "GET",
     .tmpl = "/healthz",
     .listen = KG_LISTEN_BOTH,
     .local = kg_local_healthz,
     .operation = "healthz"},
    {.method = "GET",
     .tmpl = "/readyz",
     .listen = KG_LISTEN_BOTH,
     .local = kg_local_readyz,
     .operation = "readyz"},
    {.method = "GET", .tmpl = "/openapi.yaml", .local = kg_local_openapi, .operation = "openapi"},
    {.method = "GET",
     .tmpl = "/metrics",
     .listen = KG_LISTEN_METRICS,
     .local = kg_local_metrics,
     .operation = "metrics"},
    /* src/webhooks_routes.c: answered from the store */
    {.method = "GET",
     .tmpl = "/v1/webhooks",
     .scope = KG_SCOPE_WEBHOOKS,
     .work_begin = kg_webhooks_list_begin,
     .work_submit = kg_store_route_submit,
     .work_resumed = kg_webhooks_list_resumed,
     .operation = "webhooks.list"},
    {.method = "POST",
     .tmpl = "/v1/webhooks/{webhookName}/retry",
     .scope = KG_SCOPE_WEBHOOKS,
     .work_begin = kg_webhooks_retry_begin,
     .work_submit = kg_store_route_submit,
     .work_resumed = kg_webhooks_retry_resumed,
     .operation = "webhooks.retry"},
};

static const char *const param_names[] = {
    [KG_PARAM_LOCATOR] = "userLocator", [KG_PARAM_DOC_TYPE] = "documentType",
    [KG_PARAM_DOC_ID] = "documentId",   [KG_PARAM_ADDRESS] = "address",
    [KG_PARAM_WEBHOOK] = "webhookName",
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
	if (used > 0 && used + 2 < sizeof(m->allow)) {
		memcpy(m->allow + used, ", ", 3);
		used += 2;
	}
	kg_copy(m->allow + used, sizeof(m->allow) - used, method);
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

/* Each route template's number of segments, counted once: a template can only match a path with
 * as many, which spares most of the templates' segment walks (the router was 4% of a request's
 * instructions). */
static unsigned char route_segments[sizeof(routes) / sizeof(routes[0])];
static pthread_once_t route_segments_once = PTHREAD_ONCE_INIT;

static void count_route_segments(void)
{
	size_t i;
	const char *t;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		for (t = routes[i].tmpl; *t != '\0'; t++)
			route_segments[i] += *t == '/';
}

bool kg_route_match(const char *path, const char *method, struct kg_match *m)
{
	size_t i, segments = 0, len = strnlen(path, KG_MAX_RAW_PATH_BYTES + 1);
	struct kg_match probe;

	pthread_once(&route_segments_once, count_route_segments);

	memset(m, 0, sizeof(*m));
	if (len > KG_MAX_RAW_PATH_BYTES)
		return false;
	for (i = 0; i < len; i++)
		segments += path[i] == '/';
	if (segments > KG_MAX_PATH_SEGMENTS)
		return false;
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (route_segments[i] != segments || !match_template(routes[i].tmpl, path, &probe))
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
