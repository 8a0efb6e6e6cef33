/* Private to the request path: the one home of replies. A reply is built into req->reply by the
 * functions below (problems rendered by problem.c only), sent by kg_reply_send() with the headers
 * every answer carries, and freed (its body wiped) by kg_reply_clear(). */
#ifndef KYCGATE_REPLY_H
#define KYCGATE_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>
#include <json-c/json.h>

#include "kycgate/problem.h"

struct kg_req;

/* What the gateway answers. */
struct kg_reply {
	int status;
	const char *content_type; /* static */
	char *body;               /* owned (wiped and freed by kg_reply_clear); NULL for none */
	size_t len;
	const char *allow;      /* Allow header (borrowed from the request's match), or NULL */
	bool www_authenticate;  /* WWW-Authenticate: Bearer */
	unsigned retry_after_s; /* Retry-After when > 0 */
	bool close;             /* Connection: close */
	bool is_static;         /* body is static memory, not freed */
	bool replayed;          /* Idempotent-Replayed: true (a stored answer, idempotency.c) */
};

/* Drops a reply (its body may hold personal data: wiped, then freed) and zeroes it. */
void kg_reply_clear(struct kg_reply *r);

/* Sets req->reply to a problem answer. detail names the rule, never a value; errors is
 * borrowed. status 0: the kind's own status. A 503 carries Retry-After: 1 (callers may set a
 * longer one after). Sets req->outcome to the problem's code. */
void kg_reply_problem(struct kg_req *req, enum kg_problem kind, int status, const char *detail,
                      struct json_object *errors);

/* Same with the full problem arguments; a->instance and a->request_id are filled here, and for
 * KG_PB_UPSTREAM_REJECTED the upstream answer of req->call. */
void kg_reply_problem_args(struct kg_req *req, struct kg_problem_args *a);

/* Sets req->reply to a 413 that names the route's body limit, req->body_limit. */
void kg_reply_too_large(struct kg_req *req);

/* Sets req->reply to a JSON answer; takes ownership of body (also on failure: a NULL body is an
 * empty answer). */
void kg_reply_json(struct kg_req *req, int status, char *body, size_t len);

/* Sets req->reply to an answer of owned bytes of the given content type (static); takes
 * ownership of body. */
void kg_reply_owned(struct kg_req *req, int status, const char *ctype, char *body, size_t len);

/* Sets req->reply to an answer of static bytes (never freed). */
void kg_reply_static(struct kg_req *req, int status, const char *ctype, const char *body,
                     size_t len);

/* Sets req->reply to a bodyless answer (204). */
void kg_reply_empty(struct kg_req *req, int status);

/* Queues req->reply on req->conn with X-Request-Id, X-Kycgate-Environment, Cache-Control,
 * X-Content-Type-Options and the reply's own headers; the request is answered from then on
 * (req->state). Returns libmicrohttpd's result (MHD_NO when out of memory). The reply stays in
 * req (the access line reads its status) until kg_reply_clear. */
enum MHD_Result kg_reply_send(struct kg_req *req);

#endif
