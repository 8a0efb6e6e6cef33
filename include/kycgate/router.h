/* The static route table and the matcher over the raw request path (design §2). */
#ifndef KYCGATE_ROUTER_H
#define KYCGATE_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "kycgate/common.h"

/* What a route does once checks pass. */
enum kg_op {
	KG_OP_USER_PUT = 0,
	KG_OP_USER_GET,
	KG_OP_CONSENT_PUT,
	KG_OP_DOCUMENT_PUT,
	KG_OP_DOCUMENT_GET,
	KG_OP_VERIFY_POST,
	KG_OP_VERIFY_GET,
	KG_OP_WALLET_PUT,
	KG_OP_WALLET_GET,
	KG_OP_WALLET_DELETE,
	KG_OP_HEALTHZ,
	KG_OP_READYZ,
	KG_OP_OPENAPI,
	KG_OP_METRICS,
	KG_OP_COUNT
};

/* The kind of body a route takes. */
enum kg_body { KG_BODY_NONE = 0, KG_BODY_JSON, KG_BODY_DOCUMENT };

/* The grammar a path parameter must follow. */
enum kg_param { KG_PARAM_LOCATOR = 0, KG_PARAM_DOC_TYPE, KG_PARAM_DOC_ID, KG_PARAM_ADDRESS };

/* One row of the route table: plain data, read-only. */
struct kg_route {
	const char *method; /* "PUT", "GET", ... */
	const char *tmpl;   /* "/v1/users/{userLocator}/consent" (also the problem instance) */
	enum kg_op op;
	unsigned scope; /* KG_SCOPE_* needed, 0 = public */
	enum kg_body body;
	const char *up_method; /* upstream method, NULL when the route is answered locally */
	const char *up_path;   /* upstream path after base URL and version, with {params} */
	const char *operation; /* short name for metrics and logs ("user.put") */
};

/* The whole table and its length. Static. */
const struct kg_route *kg_routes(size_t *n);

/* Most parameters one route has. */
#define KG_MAX_PARAMS 2

/* A raw segment of the request path matched to a {param} (borrowed from the path). */
struct kg_raw_param {
	enum kg_param kind;
	const char *raw;
	size_t len;
};

/* The result of matching a raw path and a method. */
struct kg_match {
	const struct kg_route *route; /* NULL: no route for this method (see allow / found) */
	bool path_found;              /* some route has this path shape */
	const char *path_tmpl;        /* that shape's template, or NULL */
	char allow[64];               /* "GET, PUT" when path_found and route is NULL */
	const char *hint; /* !path_found and the path is Crossmint's own: the kycgate route to use
	                   * instead, as a sentence (static); else NULL */
	struct kg_raw_param params[KG_MAX_PARAMS];
	size_t n_params;
};

/* Matches the raw path (no query, not decoded) and method against the table. Placeholders match
 * any single segment, empty or not; parameters are only checked later (400 comes after 401/403).
 * Returns false when the path has more segments than KG_MAX_PATH_SEGMENTS or is longer than
 * KG_MAX_RAW_PATH_BYTES (then nothing matched). Thread-safe. */
bool kg_route_match(const char *path, const char *method, struct kg_match *m);

#endif
