/* The static route table and the matcher over the raw request path (design §2). A route is one
 * row of data that names its behaviour (functions of src/routes_*.c); nothing switches on a kind
 * of route. */
#ifndef KYCGATE_ROUTER_H
#define KYCGATE_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "kycgate/common.h"
#include "kycgate/upstream.h"

struct kg_req;

/* The kind of body a route takes: it sets the body's limit and media types (checks.c: 413, 415)
 * before one byte is read. JSON: application/json up to server.max_body_bytes; DOCUMENT: a file
 * (image/jpeg, image/png, application/pdf) up to server.max_document_bytes, or its JSON form. */
enum kg_body { KG_BODY_NONE = 0, KG_BODY_JSON, KG_BODY_DOCUMENT };

/* The grammar a path parameter must follow. */
enum kg_param {
	KG_PARAM_LOCATOR = 0,
	KG_PARAM_DOC_TYPE,
	KG_PARAM_DOC_ID,
	KG_PARAM_ADDRESS,
	KG_PARAM_WEBHOOK, /* a configured webhook endpoint's name (read raw by its local route) */
};

/* Which listener serves a route. */
enum kg_listen {
	KG_LISTEN_MAIN = 0, /* the main listener only */
	KG_LISTEN_BOTH,     /* the main listener and metrics.listen */
	KG_LISTEN_METRICS,  /* metrics.listen when it is set, else the main listener */
};

/* A query parameter a route takes, by name. parse reads one raw (still percent-encoded) value
 * into the request's own field for it; it returns NULL, or the rule the value breaks (static
 * text, the 400's detail). A parameter that repeats is parsed at each occurrence, as the query is
 * read; any other is parsed once the whole query was read (given twice: 400), in row order. */
struct kg_query_param {
	const char *name;
	const char *(*parse)(struct kg_req *req, const char *raw);
	bool repeats;
};

/* Most query parameters one route takes. */
#define KG_MAX_QUERY_PARAMS 4

/* One row of the route table: everything about a route, read-only. The functions run on the
 * request's thread and see only the request (src/gateway.h); they fill req->reply when they
 * refuse or answer. */
struct kg_route {
	const char *method; /* "PUT", "GET", ... */
	const char *tmpl;   /* "/v1/users/{userLocator}/consent" (also the problem instance) */
	unsigned scope;     /* KG_SCOPE_* needed, 0 = public */
	enum kg_listen listen;
	/* The query parameters taken, ended by a row without a name; NULL: none. */
	const struct kg_query_param *query;
	enum kg_body body;
	/* Turns the caller's body into what goes upstream (req->up_body); false with req->reply
	 * (400, 413, 415). NULL: the route takes no body. */
	bool (*shape)(struct kg_req *req);
	const char *up_method;     /* upstream method; NULL when the route is answered locally */
	const char *up_path;       /* upstream path after base URL and version, with {params} */
	enum kg_call_kind up_kind; /* what the call is, when it names a user (else PLAIN) */
	/* The call may start work at Crossmint (a paid screening, a large upload): retried only
	 * when it provably never reached Crossmint (design §6). */
	bool once_only;
	/* A write that takes an Idempotency-Key (design §10): its first definitive answer per
	 * client and key is stored and replayed (idempotency.c). */
	bool idempotent;
	/* Optional: adjusts the first upstream call once it is prepared (the erase guard). */
	void (*begin)(struct kg_req *req);
	/* The engine finished req->call: fills req->reply (false), or prepares a follow-up call
	 * (true). */
	bool (*answer)(struct kg_req *req);
	/* A local route's answer into req->reply (up_method NULL). */
	void (*local)(struct kg_req *req);
	/* A local route whose answer needs work on another thread (the store; up_method NULL):
	 * work_begin runs on the request thread once the parameters and the query were read; it
	 * fills req->reply (false) or prepares the work (true). The request is then suspended and
	 * work_submit hands the work over; the work ends with exactly one kg_req_wake(). Then
	 * work_resumed runs on the request thread: it fills req->reply (false) or prepares more
	 * work (true: suspended and submitted again). */
	bool (*work_begin)(struct kg_req *req);
	void (*work_submit)(struct kg_req *req);
	bool (*work_resumed)(struct kg_req *req);
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
	const char *path_tmpl;        /* that shape's template, or NULL */
	const char *hint; /* !path_found and the path is Crossmint's own: the kycgate route to use
	                   * instead, as a sentence (static); else NULL */
	struct kg_raw_param params[KG_MAX_PARAMS];
	size_t n_params;
	/* "GET, PUT" when path_found and route is NULL; room for every method a route can have
	 * ("GET, HEAD, PUT, POST, PATCH, DELETE"), sized so the struct has no padding (it is part
	 * of every request, thousands of which wait at once). */
	char allow[39];
	bool path_found; /* some route has this path shape */
};

/* Matches the raw path (no query, not decoded) and method against the table. Placeholders match
 * any single segment, empty or not; parameters are only checked later (400 comes after 401/403).
 * Returns false when the path has more segments than KG_MAX_PATH_SEGMENTS or is longer than
 * KG_MAX_RAW_PATH_BYTES (then nothing matched). Thread-safe. */
bool kg_route_match(const char *path, const char *method, struct kg_match *m);

#endif
