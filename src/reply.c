/* Replies: building (problems through problem.c), sending with the headers every answer
 * carries, and freeing with a wipe (a body may hold personal data). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "idempotency.h"
#include "kycgate/answer.h"
#include "reply.h"

void kg_reply_clear(struct kg_reply *r)
{
	if (r->body != NULL && !r->is_static) {
		kg_wipe(r->body, r->len);
		free(r->body);
	}
	memset(r, 0, sizeof(*r));
}

void kg_reply_problem_args(struct kg_req *req, struct kg_problem_args *a)
{
	enum kg_problem kind = a->kind;

	a->instance = req->match.route ? req->match.route->tmpl : req->match.path_tmpl;
	a->request_id = req->request_id;
	if (kind == KG_PB_UPSTREAM_REJECTED) {
		a->upstream_status = (int)req->call->status;
		a->upstream_body = req->call->resp;
		a->upstream_body_len = req->call->resp_len;
		if (a->upstream_body == NULL &&
		    req->call->answer != NULL) /* a shared status read */
			a->upstream_body = kg_answer_body(req->call->answer, &a->upstream_body_len);
	}
	kg_reply_clear(&req->reply);
	req->reply.status = a->status > 0 ? a->status : kg_problem_status(kind);
	req->reply.content_type = "application/problem+json";
	req->outcome = kg_problem_code(kind);
	req->reply.body = kg_problem_render(a, &req->reply.len);
	if (req->reply.body == NULL) {
		/* Out of memory: a fixed 503 problem, which needs no allocation. */
		req->reply.status = 503;
		req->reply.body = (char *)kg_problem_nomem;
		req->reply.len = kg_problem_nomem_len;
		req->reply.is_static = true;
		req->outcome = kg_problem_code(KG_PB_UNAVAILABLE);
	}
	if (req->reply.status == 503)
		req->reply.retry_after_s = 1; /* callers may set a longer one after this */
}

void kg_reply_problem(struct kg_req *req, enum kg_problem kind, int status, const char *detail,
                      struct json_object *errors)
{
	struct kg_problem_args a = {
	    .kind = kind,
	    .status = status,
	    .detail = detail,
	    .errors = errors,
	};

	kg_reply_problem_args(req, &a);
}

void kg_reply_too_large(struct kg_req *req)
{
	char detail[96];

	snprintf(detail, sizeof(detail), "the body is over this route's limit of %zu bytes",
	         req->body_limit);
	kg_reply_problem(req, KG_PB_PAYLOAD_TOO_LARGE, 0, detail, NULL);
}

void kg_reply_owned(struct kg_req *req, int status, const char *ctype, char *body, size_t len)
{
	kg_reply_clear(&req->reply);
	req->reply.status = status;
	req->reply.content_type = ctype;
	req->reply.body = body;
	req->reply.len = body != NULL ? len : 0;
}

void kg_reply_json(struct kg_req *req, int status, char *body, size_t len)
{
	kg_reply_owned(req, status, "application/json", body, len);
}

void kg_reply_static(struct kg_req *req, int status, const char *ctype, const char *body,
                     size_t len)
{
	kg_reply_clear(&req->reply);
	req->reply.status = status;
	req->reply.content_type = ctype;
	req->reply.body = (char *)body;
	req->reply.len = len;
	req->reply.is_static = true;
}

void kg_reply_empty(struct kg_req *req, int status)
{
	kg_reply_clear(&req->reply);
	req->reply.status = status;
}

/* ---- sending --------------------------------------------------------------------------------- */

/* Response bodies may hold personal data: the buffer carries its length in front so the free
 * callback can wipe it. */
struct owned {
	size_t len;
	char bytes[];
};

static void owned_free(void *cls)
{
	struct owned *o = cls;

	kg_wipe(o->bytes, o->len);
	free(o);
}

static struct MHD_Response *make_response(struct kg_reply *r)
{
	struct owned *o;

	if (r->body == NULL || r->is_static)
		return MHD_create_response_from_buffer(r->len, r->body ? r->body : (char *)"",
		                                       MHD_RESPMEM_PERSISTENT);
	o = malloc(sizeof(*o) + r->len);
	if (o == NULL) {
		/* Out of memory for the copy: the fixed 503 problem instead, which needs none. */
		kg_wipe(r->body, r->len);
		free(r->body);
		*r = (struct kg_reply){.status = 503,
		                       .content_type = "application/problem+json",
		                       .body = (char *)kg_problem_nomem,
		                       .len = kg_problem_nomem_len,
		                       .is_static = true,
		                       .retry_after_s = 1,
		                       .close = r->close};
		return MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_PERSISTENT);
	}
	o->len = r->len;
	memcpy(o->bytes, r->body, r->len);
	return MHD_create_response_from_buffer_with_free_callback_cls(r->len, o->bytes, owned_free,
	                                                              o);
}

enum MHD_Result kg_reply_send(struct kg_req *req)
{
	struct kg_reply *r = &req->reply;
	struct MHD_Response *resp = make_response(r);
	char retry[16];
	enum MHD_Result rc;

	req->state = KG_REQ_ANSWERED;
	if (r->body == kg_problem_nomem) /* make_response() ran out of memory */
		req->outcome = kg_problem_code(KG_PB_UNAVAILABLE);
	kg_idem_answered(req); /* the first definitive answer of an Idempotency-Key is kept */
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "X-Request-Id", req->request_id);
	MHD_add_response_header(resp, "X-Kycgate-Environment", kg_env_name(req->gw->environment));
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (r->content_type != NULL && r->status != 204)
		MHD_add_response_header(resp, "Content-Type", r->content_type);
	if (r->allow != NULL)
		MHD_add_response_header(resp, "Allow", r->allow);
	if (r->www_authenticate)
		MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
	if (r->replayed)
		MHD_add_response_header(resp, "Idempotent-Replayed", "true");
	if (r->retry_after_s > 0) {
		snprintf(retry, sizeof(retry), "%u", r->retry_after_s);
		MHD_add_response_header(resp, "Retry-After", retry);
	}
	if (req->limit.limit > 0) { /* the client's per-minute limit (client_limit.h) */
		char policy[64], state[64];

		kg_climit_headers(&req->limit, policy, sizeof(policy), state, sizeof(state));
		MHD_add_response_header(resp, "RateLimit-Policy", policy);
		MHD_add_response_header(resp, "RateLimit", state);
	}
	if (r->close || atomic_load(&req->gw->closing))
		MHD_add_response_header(resp, "Connection", "close");
	rc = MHD_queue_response(req->conn, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	return rc;
}
