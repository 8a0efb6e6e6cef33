/* The steps every route shares once its headers passed (checks.c), driven by its row
 * (include/kycgate/router.h): path parameters decoded and checked, the query read against the
 * parameters the row names, the row's body shaper, the upstream path and call, then the row's
 * answer function; and what most answers share (the mapping of a failed or non-2xx exchange,
 * pass-through, the refusal of the engine). What is particular to a route is in its family file
 * (src/routes_*.c). Errors are rendered by problem.c only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gateway.h"
#include "kycgate/answer.h"
#include "kycgate/json.h"
#include "kycgate/log.h"
#include "kycgate/longpoll.h"
#include "kycgate/metrics.h"
#include "kycgate/normalize.h"
#include "kycgate/validate.h"
#include "reply.h"
#include "routes.h"

/* ---- parameters ---------------------------------------------------------------------------- */

static const char *param_rule(enum kg_param kind)
{
	switch (kind) {
	case KG_PARAM_LOCATOR:
		return "userLocator: not a valid locator (email:, userId:, phoneNumber:, twitter:, "
		       "x:)";
	case KG_PARAM_DOC_TYPE:
		return "documentType: must be one of id-passport, id-idcard-front, id-idcard-back, "
		       "id-residency-permit, proof-of-address, proof-of-income, selfie-front, "
		       "selfie-left, selfie-right";
	case KG_PARAM_DOC_ID:
		return "documentId: must be 1 to 128 of A-Z a-z 0-9 _ -";
	case KG_PARAM_ADDRESS:
		return "address: must be 1 to 128 of A-Z a-z 0-9";
	case KG_PARAM_WEBHOOK:
		return "webhookName: must be 1 to 64 of A-Z a-z 0-9 _ . -";
	}
	return "invalid path parameter";
}

static bool param_valid(enum kg_param kind, const char *v, size_t n, const char **detail)
{
	switch (kind) {
	case KG_PARAM_LOCATOR:
		return kg_locator_valid(v, n, detail);
	case KG_PARAM_DOC_TYPE:
		if (n == 6 && memcmp(v, "id-ssn", 6) == 0) {
			*detail = "documentType: an SSN is not a document; send it in "
			          "kycData.identityDocument of the user";
			return false;
		}
		return kg_doc_type_parse(v, n) != KG_DOC_INVALID;
	case KG_PARAM_DOC_ID:
		return kg_document_id_valid(v, n);
	case KG_PARAM_ADDRESS:
		return kg_wallet_address_valid(v, n) && !(n <= 2 && v[0] == '.');
	case KG_PARAM_WEBHOOK:
		return kg_name_valid(v, n);
	}
	return false;
}

/* Decodes each path parameter once and checks its grammar (400 names the rule). */
static bool decode_params(struct kg_req *req)
{
	static const char *const encoding =
	    "a path parameter has a bad percent-encoding, a control character or invalid UTF-8";
	size_t i;

	for (i = 0; i < req->match.n_params; i++) {
		const struct kg_raw_param *p = &req->match.params[i];
		const char *detail = NULL;
		char v[KG_MAX_PARAM_BYTES];
		size_t n = 0;
		enum kg_err e = kg_pct_decode(p->raw, p->len, v, sizeof(v), &n);

		if (e == KG_ERR_TOO_LARGE)
			detail = p->kind == KG_PARAM_LOCATOR ? "userLocator: longer than 256 bytes"
			                                     : param_rule(p->kind);
		else if (e != KG_OK)
			detail = encoding;
		else if (n == 0 || !param_valid(p->kind, v, n, &detail))
			detail = detail ? detail : param_rule(p->kind);
		/* Held at its length (a request may wait for minutes; 10k may wait at once). */
		if (req->params[i] != NULL) { /* decoded before: replaced */
			kg_wipe(req->params[i], req->param_len[i]);
			free(req->params[i]);
			req->params[i] = NULL;
		}
		if (detail == NULL && (req->params[i] = malloc(n + 1)) != NULL) {
			memcpy(req->params[i], v, n + 1);
			req->param_len[i] = n;
		}
		kg_wipe(v,
		        sizeof(v)); /* whole: a decoding that failed half-way left bytes past n */
		if (detail != NULL) {
			kg_reply_problem(req, KG_PB_INVALID_REQUEST, 0, detail, NULL);
			return false;
		}
		if (req->params[i] == NULL) {
			kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
			return false;
		}
	}
	req->params_ok = true;
	return true;
}

const char *kg_handle_param(const struct kg_req *req, enum kg_param kind, size_t *len)
{
	size_t i;

	for (i = 0; i < req->match.n_params; i++) {
		if (req->match.params[i].kind == kind) {
			if (len != NULL)
				*len = req->param_len[i];
			return req->params[i];
		}
	}
	return NULL;
}

/* The query as read against what the route takes. */
struct query {
	const struct kg_query_param *known;      /* the route's parameters (a {NULL} row ends) */
	const char *values[KG_MAX_QUERY_PARAMS]; /* raw values, by index in known */
	const char *bad;                         /* the rule a parameter broke */
	const char *unknown; /* the first unknown name (raw, borrowed from req->query), or NULL */
};

static const struct kg_query_param no_query[] = {{.name = NULL}};

/* One argument of the query: a repeating parameter is parsed now, any other kept for later. */
static void collect_query(struct kg_req *req, struct query *q, const char *key, const char *value)
{
	const char *rule;
	size_t i;

	for (i = 0; q->known[i].name != NULL; i++) {
		if (strcmp(key, q->known[i].name) == 0) {
			if (q->known[i].repeats) {
				rule = q->known[i].parse(req, value ? value : "");
				q->bad = rule ? rule : q->bad;
			} else if (q->values[i] != NULL) {
				q->bad = "a query parameter is given twice";
			}
			q->values[i] = value ? value : "";
			return;
		}
	}
	q->bad = "unknown query parameter";
	if (q->unknown == NULL)
		q->unknown = key;
}

/* A parameter name short and plain enough to echo: 1 to 32 of A-Z a-z 0-9 _ . - (a name is not
 * personal data, but a caller could put anything in one). */
static bool echo_name(const char *name)
{
	size_t i;

	for (i = 0; name[i] != '\0'; i++) {
		char c = name[i];

		if (i == 32 || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		                 (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return false;
	}
	return i > 0;
}

/* 400 for an unknown query parameter: its name when it is plain, and what the route takes. */
static void reply_unknown_query(struct kg_req *req, const struct query *q)
{
	char detail[256], takes[96] = "";
	size_t i, used = 0;

	for (i = 0; q->known[i].name != NULL && used < sizeof(takes); i++)
		used += (size_t)snprintf(takes + used, sizeof(takes) - used, "%s%s", i ? ", " : "",
		                         q->known[i].name);
	if (echo_name(q->unknown))
		snprintf(detail, sizeof(detail), "unknown query parameter %s (this route takes %s)",
		         q->unknown, i ? takes : "none");
	else
		snprintf(detail, sizeof(detail), "an unknown query parameter (this route takes %s)",
		         i ? takes : "none");
	kg_reply_problem(req, KG_PB_INVALID_REQUEST, 0, detail, NULL);
}

bool kg_handle_query_decode(const char *raw, char *out, size_t cap)
{
	size_t n;

	return kg_pct_decode(raw, strlen(raw), out, cap, &n) == KG_OK && n > 0;
}

/* Checks the query against the parameters the route names and parses each into its field of the
 * request; false with a 400 in req->reply. */
static bool parse_query(struct kg_req *req)
{
	struct query q = {.known = req->match.route->query ? req->match.route->query : no_query};
	const char *rule;
	size_t i;

	for (i = 0; i < req->n_query; i++)
		collect_query(req, &q, req->query[i].name, req->query[i].value);
	if (q.unknown != NULL) {
		reply_unknown_query(req, &q);
		return false;
	}
	if (q.bad != NULL) {
		kg_reply_problem(req, KG_PB_INVALID_REQUEST, 0, q.bad, NULL);
		return false;
	}
	for (i = 0; q.known[i].name != NULL; i++) {
		if (q.known[i].repeats || q.values[i] == NULL)
			continue;
		rule = q.known[i].parse(req, q.values[i]);
		if (rule != NULL) {
			kg_reply_problem(req, KG_PB_INVALID_REQUEST, 0, rule, NULL);
			return false;
		}
	}
	return true;
}

/* Parses the caller's JSON body strictly: 400 with the rule and where (line and column, and for a
 * duplicate key the object's pointer, for a number out of range the number's). */
static struct json_object *parse_body(struct kg_req *req)
{
	struct json_object *obj = NULL, *errors = NULL;
	const char *detail = "the body is not valid JSON";
	char *pointer = NULL, at[256];
	struct kg_json_pos pos = {0, 0};
	enum kg_err err = KG_ERR_INVALID;

	if (req->body_len > 0)
		err = kg_json_parse_pos(req->body, req->body_len, KG_MAX_JSON_DEPTH, &obj, &detail,
		                        &pointer, &pos);
	if (err == KG_OK)
		return obj;
	if (err == KG_ERR_NOMEM) {
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
		return NULL;
	}
	if (req->body_len == 0)
		detail = "the body is empty";
	if (pos.line > 0) {
		snprintf(at, sizeof(at), "%s (line %zu, column %zu)", detail, pos.line, pos.column);
		detail = at;
	}
	if (pointer != NULL) {
		errors = json_object_new_array();
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "pointer", json_object_new_string(pointer));
		json_object_object_add(e, "detail", json_object_new_string(detail));
		json_object_array_add(errors, e);
		free(pointer);
	}
	kg_reply_problem(req, KG_PB_INVALID_REQUEST, 0, detail, errors);
	json_object_put(errors);
	return NULL;
}

bool kg_handle_set_up_body(struct kg_req *req, struct json_object *obj)
{
	req->up_body = kg_json_to_bytes(obj, &req->up_body_len);
	if (req->up_body == NULL) {
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
		return false;
	}
	req->call->body = req->up_body;
	req->call->body_len = req->up_body_len;
	return true;
}

bool kg_handle_json_body(struct kg_req *req,
                         enum kg_err (*shape)(struct kg_req *req, struct json_object *in,
                                              struct json_object **out,
                                              struct json_object **errors))
{
	struct json_object *in = parse_body(req), *out = NULL, *errors = NULL;
	enum kg_err e;
	bool ok;

	if (in == NULL)
		return false;
	e = shape(req, in, &out, &errors);
	json_object_put(in);
	if (e == KG_ERR_NOMEM)
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
	else if (e != KG_OK)
		kg_reply_problem(req, KG_PB_INVALID_REQUEST, 0,
		                 "the body breaks the rules listed in errors", errors);
	json_object_put(errors);
	if (e != KG_OK || out == NULL)
		return false;
	ok = kg_handle_set_up_body(req, out);
	json_object_put(out);
	return ok;
}

/* Builds the upstream path from the template and the validated, re-encoded parameters. */
static bool build_path(struct kg_req *req)
{
	const char *t = req->match.route->up_path;
	char *out = req->call->path;
	size_t cap = sizeof(req->call->path), used = 0, n;

	while (*t != '\0') {
		const char *close;
		enum kg_param kind;
		const char *v;
		size_t vlen;

		if (*t != '{') {
			if (used + 1 >= cap)
				return false;
			out[used++] = *t++;
			continue;
		}
		close = strchr(t, '}');
		kind = strncmp(t, "{userLocator}", 13) == 0  ? KG_PARAM_LOCATOR
		       : strncmp(t, "{documentId}", 12) == 0 ? KG_PARAM_DOC_ID
		                                             : KG_PARAM_ADDRESS;
		v = kg_handle_param(req, kind, &vlen);
		if (close == NULL || v == NULL)
			return false;
		n = kg_path_encode(v, vlen, kind == KG_PARAM_LOCATOR, out + used, cap - used);
		if (n == 0)
			return false;
		used += n;
		t = close + 1;
	}
	out[used] = '\0';
	return true;
}

static const char *client_name(const struct kg_req *req)
{
	return req->client ? req->client->name : "anonymous";
}

bool kg_handle_waiting_enter(struct kg_req *req)
{
	enum kg_longpoll_verdict v =
	    kg_longpoll_admit(client_name(req), req->cfg->verification.max_waiting_per_client,
	                      req->cfg->verification.max_waiting);

	req->waiting_counted = v == KG_LONGPOLL_IN;
	if (v == KG_LONGPOLL_CLIENT_CAP)
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0,
		                 "this client has too many long-poll requests waiting", NULL);
	else if (v == KG_LONGPOLL_GLOBAL_CAP)
		kg_reply_problem(
		    req, KG_PB_UNAVAILABLE, 0,
		    "the gateway has verification.max_waiting long-poll requests waiting", NULL);
	return req->waiting_counted;
}

void kg_req_release(struct kg_req *req)
{
	if (req->waiting_counted) {
		kg_longpoll_leave(client_name(req));
		req->waiting_counted = false;
	}
	kg_answer_put(req->latest);
	req->latest = NULL;
	kg_answer_put(req->wait.answer); /* a wait that ended and was never read back */
	req->wait.answer = NULL;
}

_Static_assert(sizeof(((struct kg_up_call *)0)->traceparent) >=
                   sizeof(((struct kg_req *)0)->traceparent),
               "a request's traceparent fits its call's");

bool kg_req_call_new(struct kg_req *req)
{
	if (req->call == NULL)
		req->call = calloc(1, sizeof(*req->call));
	if (req->call == NULL)
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
	return req->call != NULL;
}

void kg_req_call_free(struct kg_req *req)
{
	struct kg_up_call *c = req->call;

	if (c == NULL)
		return;
	kg_up_call_cleanup(c);
	kg_wipe(c->path, strnlen(c->path, sizeof(c->path)));
	kg_wipe(c->user_key, strnlen(c->user_key, sizeof(c->user_key)));
	free(c);
	req->call = NULL;
}

bool kg_handle_wait_end(struct kg_req *req)
{
	struct kg_up_wait *w = &req->wait;
	struct kg_up_call *c;

	req->in_wait = false;
	if (!kg_req_call_new(req)) {
		kg_answer_put(w->answer);
		w->answer = NULL;
		return false;
	}
	c = req->call;
	c->kind = KG_CALL_STATUS_READ;
	c->method = "GET";
	kg_copy(c->user_key, sizeof(c->user_key), w->user_key);
	kg_copy(c->path, sizeof(c->path), req->wait_path);
	kg_copy(c->request_id, sizeof(c->request_id), req->request_id);
	memcpy(c->traceparent, req->traceparent, sizeof(req->traceparent));
	kg_copy(c->tracestate, sizeof(c->tracestate), req->tracestate ? req->tracestate : "");
	c->result = w->result;
	c->status = w->status;
	c->answer = w->answer; /* the reference moves */
	w->answer = NULL;
	c->retry_after_s = w->retry_after_s;
	c->attempts = w->attempts;
	c->budget_wait_s = w->budget_wait_s;
	c->upstream_ms = w->upstream_ms;
	/* Never the waiter's own call: its user's re-reads are counted by the engine, and an end
	 * without a read (a stop, the deadline, the open breaker, no memory) is no upstream call
	 * at all. Counted here, a stop with 10k waiters logged 10k upstream-failed lines. */
	c->shared = true;
	c->cached = w->cached;
	return true;
}

void kg_handle_call_kind(struct kg_req *req)
{
	const char *loc = kg_handle_param(req, KG_PARAM_LOCATOR, NULL);

	req->call->kind = KG_CALL_PLAIN;
	req->call->once_only = req->match.route->once_only;
	if (loc == NULL)
		return;
	kg_copy(req->call->user_key, sizeof(req->call->user_key), loc);
	req->call->kind = req->match.route->up_kind;
}

bool kg_handle_work(struct kg_req *req)
{
	return decode_params(req) && parse_query(req) && req->match.route->work_begin(req);
}

bool kg_handle_request(struct kg_req *req)
{
	const struct kg_route *r = req->match.route;

	if (r->local != NULL) {
		r->local(req);
		return false;
	}
	if (!kg_req_call_new(req) || !decode_params(req) || !parse_query(req) ||
	    (r->shape != NULL && !r->shape(req)))
		return false;
	if (!build_path(req)) {
		kg_reply_problem(req, KG_PB_INVALID_REQUEST, 0, "the path is too long", NULL);
		return false;
	}
	if (req->wait_given && req->wait_s > 0 && !kg_handle_waiting_enter(req))
		return false;
	req->call->method = r->up_method;
	kg_handle_call_kind(req);
	if (r->begin != NULL)
		r->begin(req);
	kg_copy(req->call->request_id, sizeof(req->call->request_id), req->request_id);
	memcpy(req->call->traceparent, req->traceparent, sizeof(req->traceparent));
	kg_copy(req->call->tracestate, sizeof(req->call->tracestate),
	        req->tracestate ? req->tracestate : "");
	return true;
}

/* ---- the upstream answer --------------------------------------------------------------------- */

/* The upstream call this request made itself (not a shared, cached or refused one) is counted. */
static void count_upstream(const struct kg_req *req)
{
	const struct kg_up_call *c = req->call;
	static const enum kg_metrics_reason reasons[] = {
	    [KG_UP_TIMEOUT] = KG_UPERR_TIMEOUT,   [KG_UP_CONNECT] = KG_UPERR_CONNECT,
	    [KG_UP_RESET] = KG_UPERR_RESET,       [KG_UP_TOO_LARGE] = KG_UPERR_TOO_LARGE,
	    [KG_UP_SHUTDOWN] = KG_UPERR_SHUTDOWN, [KG_UP_ERROR] = KG_UPERR_OTHER,
	    [KG_UP_NOMEM] = KG_UPERR_OTHER,
	};

	if (c->shared || c->cached || c->result == KG_UP_BUDGET || c->result == KG_UP_DEADLINE)
		return;
	if (c->result == KG_UP_OPEN) /* the circuit breaker refused, no upstream call */
		return;
	kg_metrics_upstream(req->erase_check ? "user.get" : req->match.route->operation,
	                    c->result == KG_UP_OK ? (int)c->status : 0, c->upstream_ms / 1000.0);
	if (c->result != KG_UP_OK) {
		kg_metrics_upstream_error(reasons[c->result]);
		/* curl's own words, cleaned by the engine (no URL path or query, no locator) */
		kg_log(KG_LOG_WARN, "upstream-failed", "requestId", req->request_id, "operation",
		       req->match.route->operation, "reason",
		       kg_metrics_reason_name(reasons[c->result]), "detail", c->error_text, NULL);
	} else if (c->status == 401 || c->status == 403)
		kg_metrics_upstream_error(KG_UPERR_AUTH);
	else if (c->status >= 500)
		kg_metrics_upstream_error(KG_UPERR_STATUS_5XX);
	else if (c->status >= 300 && c->status < 400)
		kg_metrics_upstream_error(KG_UPERR_STATUS_3XX);
}

bool kg_handle_up_problem(struct kg_req *req)
{
	const struct kg_up_call *c = req->call;
	long st = c->status;

	switch (c->result) {
	case KG_UP_OK:
		break;
	case KG_UP_TIMEOUT:
		kg_reply_problem(req, KG_PB_UPSTREAM_TIMEOUT, 0, "Crossmint did not answer in time",
		                 NULL);
		return true;
	case KG_UP_TOO_LARGE:
		kg_reply_problem(req, KG_PB_UPSTREAM_INVALID, 0, "Crossmint's answer is too large",
		                 NULL);
		return true;
	case KG_UP_BUDGET:
		kg_metrics_rate_limited(client_name(req), KG_RL_UPSTREAM_BUDGET);
		kg_reply_problem(req, KG_PB_RATE_LIMITED, 0,
		                 "the gateway's upstream rate budget is spent", NULL);
		req->reply.retry_after_s = c->budget_wait_s ? c->budget_wait_s : 1;
		return true;
	case KG_UP_SHUTDOWN:
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "the gateway is shutting down", NULL);
		req->reply.close = true;
		return true;
	case KG_UP_OPEN: /* the circuit breaker is open (upstream.c, breaker.c) */
		kg_reply_problem(req, KG_PB_UPSTREAM_UNAVAILABLE, 0,
		                 "recent calls to Crossmint failed; the gateway waits before it "
		                 "tries again",
		                 NULL);
		req->reply.retry_after_s = c->retry_after_s ? c->retry_after_s : 1;
		return true;
	case KG_UP_NOMEM: /* the gateway itself ran out of memory */
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
		return true;
	default:
		kg_reply_problem(req, KG_PB_UPSTREAM_ERROR, 0,
		                 c->result == KG_UP_CONNECT ? "Crossmint could not be reached"
		                                            : "the connection to Crossmint failed",
		                 NULL);
		return true;
	}
	if (st >= 200 && st < 300)
		return false;
	if (st == 401 || st == 403) {
		kg_log(KG_LOG_ERROR, "upstream-auth", "requestId", req->request_id, "operation",
		       req->match.route->operation, "hint",
		       "Crossmint refused the API key: check the key, its scopes and that the "
		       "project has the users KYC API enabled",
		       NULL);
		kg_reply_problem(req, KG_PB_UPSTREAM_AUTH, 0, "Crossmint refused the gateway's key",
		                 NULL);
	} else if (st == 408) {
		kg_reply_problem(req, KG_PB_UPSTREAM_TIMEOUT, 0, "Crossmint answered 408", NULL);
	} else if (st == 429) {
		kg_metrics_rate_limited(client_name(req), KG_RL_CROSSMINT);
		kg_reply_problem(req, KG_PB_RATE_LIMITED, 0, "Crossmint's rate limit was reached",
		                 NULL);
		req->reply.retry_after_s = c->retry_after_s ? c->retry_after_s : 1;
	} else if (st >= 400 && st < 500) {
		kg_reply_problem(req, KG_PB_UPSTREAM_REJECTED, (int)st,
		                 "Crossmint rejected the request; its answer is in upstream", NULL);
	} else {
		char detail[96];

		snprintf(detail, sizeof(detail),
		         st >= 300 && st < 400
		             ? "Crossmint answered %ld, a redirect (never followed)"
		             : "Crossmint answered %ld, a server error",
		         st);
		kg_reply_problem(req, KG_PB_UPSTREAM_FAILED, 0, detail, NULL);
	}
	return true;
}

struct json_object *kg_handle_up_object(struct kg_req *req)
{
	struct json_object *obj = NULL;
	const char *detail;
	enum kg_err e = KG_ERR_INVALID;

	if (req->call->resp_len > 0)
		e = kg_json_parse(req->call->resp, req->call->resp_len, KG_MAX_JSON_DEPTH * 2, &obj,
		                  &detail, NULL);
	if (e == KG_OK && json_object_is_type(obj, json_type_object))
		return obj;
	json_object_put(obj);
	if (e == KG_ERR_NOMEM) {
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
		return NULL;
	}
	kg_metrics_upstream_error(KG_UPERR_INVALID_RESPONSE);
	kg_reply_problem(req, KG_PB_UPSTREAM_INVALID, 0, "Crossmint's answer is not a JSON object",
	                 NULL);
	return NULL;
}

static void pass_through(struct kg_req *req)
{
	struct json_object *obj;

	if (req->call->resp_len == 0) {
		kg_reply_empty(req, 204);
		return;
	}
	obj = kg_handle_up_object(req);
	if (obj == NULL)
		return;
	json_object_put(obj);
	/* The validated bytes go back as they came: hand the buffer over to the reply. */
	kg_reply_json(req, (int)req->call->status, req->call->resp, req->call->resp_len);
	req->call->resp = NULL;
	req->call->resp_len = req->call->resp_cap = 0;
}

void kg_reply_refused(struct kg_req *req)
{
	bool in_review;

	if (req->latest != NULL) {
		kg_verification_view(req, req->latest, &in_review);
		return;
	}
	kg_reply_problem(req, KG_PB_UNAVAILABLE, 0,
	                 atomic_load(&req->gw->closing) ? "the gateway is shutting down"
	                                                : "too many upstream calls in flight",
	                 NULL);
}

bool kg_handle_pass(struct kg_req *req)
{
	if (kg_handle_up_problem(req))
		return false;
	pass_through(req);
	return false;
}

bool kg_handle_upstream(struct kg_req *req)
{
	count_upstream(req);
	return req->match.route->answer(req);
}