/* RFC 9457 problem answers: every error kycgate writes is rendered here and nowhere else. */
#ifndef KYCGATE_PROBLEM_H
#define KYCGATE_PROBLEM_H

#include <stddef.h>

#include <json-c/json.h>

enum kg_problem {
	KG_PB_INVALID_REQUEST = 0,    /* 400 */
	KG_PB_UNAUTHORIZED,           /* 401 (+ WWW-Authenticate) */
	KG_PB_FORBIDDEN,              /* 403 */
	KG_PB_NOT_FOUND,              /* 404 */
	KG_PB_METHOD_NOT_ALLOWED,     /* 405 (+ Allow) */
	KG_PB_WOULD_ERASE,            /* 409 (+ "sections") */
	KG_PB_PAYLOAD_TOO_LARGE,      /* 413 */
	KG_PB_UNSUPPORTED_MEDIA_TYPE, /* 415 */
	KG_PB_RATE_LIMITED,           /* 429 (+ Retry-After) */
	KG_PB_UPSTREAM_REJECTED,      /* Crossmint's 4xx status */
	KG_PB_UPSTREAM_AUTH,          /* 502 */
	KG_PB_UPSTREAM_ERROR,         /* 502: no exchange (connect, reset, transport) */
	KG_PB_UPSTREAM_FAILED,        /* 502, code upstream-error: Crossmint answered 5xx or 3xx */
	KG_PB_UPSTREAM_INVALID,       /* 502 */
	KG_PB_UPSTREAM_TIMEOUT,       /* 504 */
	KG_PB_UNAVAILABLE,            /* 503 (+ Retry-After) */
	KG_PB_UPSTREAM_UNAVAILABLE,   /* 503 (+ Retry-After): the circuit breaker is open */
	KG_PB_INTERNAL,               /* 500: a bug; detail never says more */
	KG_PB_IDEM_REUSED,            /* 422: an Idempotency-Key used for another request */
	KG_PB_IDEM_IN_FLIGHT,         /* 409: the first request with this key still runs */
	KG_PB_STORE_UNAVAILABLE,      /* 503 (+ Retry-After): the store failed */
	KG_PB_STORE_DISABLED,         /* 503: store.driver is none */
	KG_PB_NOT_WATCHED,            /* 404: GET / DELETE of a watch that does not exist */
	KG_PB_WATCH_CAPACITY,         /* 503: events.watch.max_watches are in place */
	KG_PB_CURSOR_EXPIRED,         /* 410 (+ "oldestId"): the feed's after was purged */
	KG_PB_COUNT
};

/* The default HTTP status of a problem kind. */
int kg_problem_status(enum kg_problem p);
/* The code after "urn:kycgate:problem:" ("invalid-request", ...). Static. */
const char *kg_problem_code(enum kg_problem p);

/* What one problem answer says. Every pointer is borrowed for the duration of the call. */
struct kg_problem_args {
	enum kg_problem kind;
	int status;                  /* 0 = kg_problem_status(kind) */
	const char *detail;          /* the rule that failed, never a value; NULL = title */
	const char *instance;        /* the route template, or NULL when no route matched */
	const char *request_id;      /* echoed as requestId */
	struct json_object *errors;  /* array of {pointer, detail}, or NULL */
	const char *const *sections; /* NULL-terminated user section names, or NULL: "sections" */
	int upstream_status;         /* > 0: add "upstream": {"status", "body"} */
	const char *upstream_body;   /* Crossmint's bytes (parsed JSON if valid, else a string),
	                              * cut to KG_MAX_UPSTREAM_BODY_IN_PROBLEM */
	size_t upstream_body_len;
	const char *oldest_id; /* non-NULL: "oldestId" (cursor-expired: the oldest event kept) */
};

/* Renders the application/problem+json body. Returns new memory (caller frees) and its length in
 * *len, or NULL on allocation failure. Thread-safe. */
char *kg_problem_render(const struct kg_problem_args *a, size_t *len);

/* The 503 `unavailable` problem to send when rendering or copying one ran out of memory: fixed
 * bytes, no allocation (no instance or requestId: the request id is in X-Request-Id). */
extern const char kg_problem_nomem[];
extern const size_t kg_problem_nomem_len;

#endif
