/* What each route does once its headers passed (checks.c): parameter and body validation (400),
 * the upstream call each route makes, the mapping of the upstream answer into kycgate's answer,
 * and the long-poll. Errors are rendered by problem.c only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

#include "gateway.h"
#include "kycgate/answer.h"
#include "kycgate/json.h"
#include "kycgate/log.h"
#include "kycgate/metrics.h"
#include "kycgate/normalize.h"
#include "kycgate/validate.h"

/* ---- replies ------------------------------------------------------------------------------- */

/* Drops a reply being replaced (its body may hold personal data: wiped). */
static void reply_clear(struct kg_req *req)
{
	if (req->reply.body != NULL && !req->reply.is_static) {
		kg_wipe(req->reply.body, req->reply.len);
		free(req->reply.body);
	}
	memset(&req->reply, 0, sizeof(req->reply));
}

/* Sets req->reply to the problem a describes (a->instance and a->request_id filled here). */
static void reply_problem(struct kg_req *req, struct kg_problem_args *a)
{
	enum kg_problem kind = a->kind;

	a->instance = req->match.route ? req->match.route->tmpl : req->match.path_tmpl;
	a->request_id = req->request_id;
	if (kind == KG_PB_UPSTREAM_REJECTED) {
		a->upstream_status = (int)req->call.status;
		a->upstream_body = req->call.resp;
		a->upstream_body_len = req->call.resp_len;
		if (a->upstream_body == NULL && req->call.answer != NULL) /* a shared status read */
			a->upstream_body = kg_answer_body(req->call.answer, &a->upstream_body_len);
	}
	reply_clear(req);
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

	reply_problem(req, &a);
}

void kg_reply_too_large(struct kg_req *req)
{
	char detail[96];

	snprintf(detail, sizeof(detail), "the body is over this route's limit of %zu bytes",
	         req->body_limit);
	kg_reply_problem(req, KG_PB_PAYLOAD_TOO_LARGE, 0, detail, NULL);
}

static void reply_json(struct kg_req *req, int status, char *body, size_t len)
{
	reply_clear(req);
	req->reply.status = status;
	req->reply.content_type = "application/json";
	req->reply.body = body;
	req->reply.len = len;
}

static void reply_static(struct kg_req *req, int status, const char *ctype, const char *body,
                         size_t len)
{
	memset(&req->reply, 0, sizeof(req->reply));
	req->reply.status = status;
	req->reply.content_type = ctype;
	req->reply.body = (char *)body;
	req->reply.len = len;
	req->reply.is_static = true;
}

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
		enum kg_err e = kg_pct_decode(p->raw, p->len, req->params[i], KG_MAX_PARAM_BYTES,
		                              &req->param_len[i]);

		if (e == KG_ERR_TOO_LARGE)
			detail = p->kind == KG_PARAM_LOCATOR ? "userLocator: longer than 256 bytes"
			                                     : param_rule(p->kind);
		else if (e != KG_OK)
			detail = encoding;
		else if (req->param_len[i] == 0 ||
		         !param_valid(p->kind, req->params[i], req->param_len[i], &detail))
			detail = detail ? detail : param_rule(p->kind);
		if (detail != NULL) {
			kg_reply_problem(req, KG_PB_INVALID_REQUEST, 0, detail, NULL);
			return false;
		}
	}
	req->params_ok = true;
	return true;
}

/* The decoded value of the parameter of this kind (the route has it). */
static const char *param(const struct kg_req *req, enum kg_param kind, size_t *len)
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

struct query {
	struct kg_req *req;
	const char *const *known; /* names this route takes */
	const char *values[4];    /* raw values, by index in known */
	const char *bad;          /* the rule a parameter broke */
	const char *unknown;      /* the first unknown name (raw, MHD's), or NULL */
	unsigned products;        /* ?products: the names of every occurrence */
};

static const char D_PRODUCTS[] = "products: a comma-separated list of onramp, onramp-light, "
                                 "offramp, regulated-transfer (the parameter may repeat)";

/* One ?products value: its names join q->products. The parameter may repeat
 * (?products=onramp&products=offramp, what generated clients send), mixed with the comma form. */
static void collect_products(struct query *q, const char *raw)
{
	char buf[KG_MAX_QUERY_VALUE_BYTES + 1];
	size_t n = 0;
	unsigned mask = 0;

	if (kg_pct_decode(raw, strlen(raw), buf, sizeof(buf), &n) != KG_OK || n == 0 ||
	    kg_products_parse(buf, n, &mask) != KG_OK) {
		q->bad = D_PRODUCTS;
		return;
	}
	q->products |= mask;
}

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
	struct query *q = cls;
	size_t i;

	for (i = 0; q->known[i] != NULL; i++) {
		if (strcmp(key, q->known[i]) == 0) {
			if (strcmp(key, "products") == 0)
				collect_products(q, value ? value : "");
			else if (q->values[i] != NULL)
				q->bad = "a query parameter is given twice";
			q->values[i] = value ? value : "";
			return MHD_YES;
		}
	}
	q->bad = "unknown query parameter";
	if (q->unknown == NULL)
		q->unknown = key;
	return MHD_YES;
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

	for (i = 0; q->known[i] != NULL && used < sizeof(takes); i++)
		used += (size_t)snprintf(takes + used, sizeof(takes) - used, "%s%s", i ? ", " : "",
		                         q->known[i]);
	if (echo_name(q->unknown))
		snprintf(detail, sizeof(detail), "unknown query parameter %s (this route takes %s)",
		         q->unknown, i ? takes : "none");
	else
		snprintf(detail, sizeof(detail), "an unknown query parameter (this route takes %s)",
		         i ? takes : "none");
	kg_reply_problem(req, KG_PB_INVALID_REQUEST, 0, detail, NULL);
}

/* Decodes one query value into out, or sets the problem. */
static bool query_value(struct kg_req *req, const char *raw, char *out, size_t cap,
                        const char *rule)
{
	size_t n;

	if (kg_pct_decode(raw, strlen(raw), out, cap, &n) != KG_OK || n == 0) {
		kg_reply_problem(req, KG_PB_INVALID_REQUEST, 0, rule, NULL);
		return false;
	}
	return true;
}

static const char *const no_query[] = {NULL};

/* ?wait=N: a run of decimal digits, of any length; more than verification.max_wait_s (at most
 * 300) is clamped to it (design §2). A sign, a fraction or an empty value is a 400. */
static bool parse_wait(struct kg_req *req, const char *raw)
{
	unsigned long long n = 0;
	size_t i;

	for (i = 0; raw[i] >= '0' && raw[i] <= '9'; i++) {
		if (n < 1000000) /* past any max_wait_s: stop growing, keep reading digits */
			n = n * 10 + (unsigned long long)(raw[i] - '0');
	}
	if (i == 0 || raw[i] != '\0') {
		kg_reply_problem(req, KG_PB_INVALID_REQUEST, 0,
		                 "wait: an integer number of seconds from 0", NULL);
		return false;
	}
	req->wait_given = true;
	req->wait_s =
	    n > req->cfg->verification.max_wait_s ? req->cfg->verification.max_wait_s : (unsigned)n;
	req->wait_deadline_ms = req->started_ms + 1000ull * req->wait_s;
	req->backoff_ms = 250;
	return true;
}
static const char *const verify_query[] = {"products", "country", "wait", NULL};
static const char *const document_query[] = {"expiresAt", NULL};
static const char *const user_put_query[] = {"replace", NULL};

/* ?replace=true | false on a PUT of a user. */
static bool parse_replace(struct kg_req *req, const char *raw)
{
	if (strcmp(raw, "true") != 0 && strcmp(raw, "false") != 0) {
		kg_reply_problem(req, KG_PB_INVALID_REQUEST, 0, "replace: true or false", NULL);
		return false;
	}
	req->replace = raw[0] == 't';
	return true;
}

/* Checks the query string against what the route takes; fills products, country. */
static bool parse_query(struct kg_req *req, char *expires_at, size_t cap)
{
	enum kg_op op = req->match.route->op;
	struct query q = {.req = req, .known = no_query};
	char buf[KG_MAX_QUERY_VALUE_BYTES + 1];

	if (op == KG_OP_VERIFY_GET || op == KG_OP_VERIFY_POST)
		q.known = verify_query;
	else if (op == KG_OP_DOCUMENT_PUT)
		q.known = document_query;
	else if (op == KG_OP_USER_PUT)
		q.known = user_put_query;
	MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, collect_query, &q);
	if (q.unknown != NULL) {
		reply_unknown_query(req, &q);
		return false;
	}
	if (q.bad != NULL) {
		kg_reply_problem(req, KG_PB_INVALID_REQUEST, 0, q.bad, NULL);
		return false;
	}
	if (q.known == verify_query && q.values[0] != NULL)
		req->products = q.products;
	if (q.known == verify_query && q.values[1] != NULL) {
		if (!query_value(req, q.values[1], buf, sizeof(buf), "country: not a country") ||
		    !kg_country_valid(buf, strlen(buf))) {
			kg_reply_problem(req, KG_PB_INVALID_REQUEST, 0,
			                 "country: an ISO 3166-1 alpha-2 code in upper case", NULL);
			return false;
		}
		memcpy(req->country, buf, 3);
	}
	if (q.known == verify_query && q.values[2] != NULL && !parse_wait(req, q.values[2]))
		return false;
	if (q.known == user_put_query && q.values[0] != NULL && !parse_replace(req, q.values[0]))
		return false;
	if (q.known == document_query && q.values[0] != NULL &&
	    !query_value(req, q.values[0], expires_at, cap, "expiresAt: not a date"))
		return false;
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

/* Serializes what goes upstream into req->up_body. */
static bool set_up_body(struct kg_req *req, struct json_object *obj)
{
	req->up_body = kg_json_to_bytes(obj, &req->up_body_len);
	if (req->up_body == NULL) {
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
		return false;
	}
	req->call.body = req->up_body;
	req->call.body_len = req->up_body_len;
	return true;
}

/* The validated object of a user, consent or wallet body, shaped for Crossmint. */
static struct json_object *shape_json(struct kg_req *req, struct json_object *in)
{
	struct json_object *out = NULL, *errors = NULL;
	enum kg_err e = KG_ERR_INVALID;

	switch (req->match.route->op) {
	case KG_OP_USER_PUT:
		e = kg_validate_user(in, req->cfg->validation.pass_unknown_fields, &errors);
		out = e == KG_OK ? json_object_get(in) : NULL;
		req->user_sections = kg_user_sections(in);
		break;
	case KG_OP_CONSENT_PUT:
		e = kg_shape_consent(in, time(NULL), &out, &errors);
		break;
	case KG_OP_WALLET_PUT:
		e = kg_validate_wallet(in, &errors);
		out = e == KG_OK ? json_object_get(in) : NULL;
		break;
	default:
		break;
	}
	if (e == KG_ERR_NOMEM)
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
	else if (e != KG_OK)
		kg_reply_problem(req, KG_PB_INVALID_REQUEST, 0,
		                 "the body breaks the rules listed in errors", errors);
	json_object_put(errors);
	return out;
}

static bool document_body(struct kg_req *req, const char *expires_at)
{
	const char *loc = param(req, KG_PARAM_LOCATOR, NULL);
	size_t tlen = 0;
	const char *tname = param(req, KG_PARAM_DOC_TYPE, &tlen);
	struct kg_doc_input in = {
	    .content_type = req->content_type,
	    .body = (const unsigned char *)req->body,
	    .body_len = req->body_len,
	    .expires_at_query = expires_at[0] ? expires_at : NULL,
	    .max_document_bytes = req->cfg->server.max_document_bytes,
	};
	struct json_object *out = NULL, *errors = NULL;
	const char *detail = NULL;
	char limit[96];
	enum kg_err e =
	    kg_shape_document(&in, loc, kg_doc_type_parse(tname, tlen), &out, &detail, &errors);
	bool ok;

	if (e == KG_ERR_TOO_LARGE) {
		snprintf(limit, sizeof(limit),
		         "the document is over the limit of %zu bytes (decoded)",
		         in.max_document_bytes);
		detail = limit;
	}
	if (e == KG_ERR_NOMEM) {
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
		json_object_put(errors);
		return false;
	}
	if (e != KG_OK) {
		kg_reply_problem(req,
		                 e == KG_ERR_MEDIA_TYPE  ? KG_PB_UNSUPPORTED_MEDIA_TYPE
		                 : e == KG_ERR_TOO_LARGE ? KG_PB_PAYLOAD_TOO_LARGE
		                                         : KG_PB_INVALID_REQUEST,
		                 0, detail, errors);
		json_object_put(errors);
		return false;
	}
	ok = set_up_body(req, out);
	json_object_put(out);
	return ok;
}

static bool request_body(struct kg_req *req, const char *expires_at)
{
	struct json_object *in, *out;
	bool ok;

	if (req->match.route->body == KG_BODY_DOCUMENT)
		return document_body(req, expires_at);
	if (req->match.route->body != KG_BODY_JSON)
		return true;
	in = parse_body(req);
	if (in == NULL)
		return false;
	out = shape_json(req, in);
	json_object_put(in);
	if (out == NULL)
		return false;
	ok = set_up_body(req, out);
	json_object_put(out);
	return ok;
}

/* Builds the upstream path from the template and the validated, re-encoded parameters. */
static bool build_path(struct kg_req *req)
{
	const char *t = req->match.route->up_path;
	char *out = req->call.path;
	size_t cap = sizeof(req->call.path), used = 0, n;

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
		v = param(req, kind, &vlen);
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

static void local_route(struct kg_req *req)
{
	static const char healthy[] = "{\"status\":\"ok\"}";
	char buf[128];
	int n;

	switch (req->match.route->op) {
	case KG_OP_HEALTHZ:
		reply_static(req, 200, "application/json", healthy, sizeof(healthy) - 1);
		return;
	case KG_OP_READYZ: {
		bool ready = !atomic_load(&req->gw->draining);
		char *body;

		n = snprintf(buf, sizeof(buf), "{\"status\":\"%s\",\"environment\":\"%s\"}",
		             ready ? "ready" : "draining", kg_env_name(req->gw->environment));
		body = strndup(buf, (size_t)n);
		if (body == NULL) {
			kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
			return;
		}
		reply_json(req, ready ? 200 : 503, body, (size_t)n);
		return;
	}
	case KG_OP_OPENAPI:
		reply_static(req, 200, "application/yaml", req->gw->openapi, req->gw->openapi_len);
		return;
	case KG_OP_METRICS:
		if (!req->cfg->metrics.enabled) {
			kg_reply_problem(req, KG_PB_NOT_FOUND, 0, "metrics are disabled", NULL);
			return;
		}
		memset(&req->reply, 0, sizeof(req->reply));
		req->reply.status = 200;
		req->reply.content_type = "text/plain; version=0.0.4; charset=utf-8";
		req->reply.body = kg_metrics_render(&req->reply.len);
		if (req->reply.body == NULL)
			kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
		return;
	default:
		kg_reply_problem(req, KG_PB_INTERNAL, 0, NULL, NULL);
	}
}

/* Long-poll waiters per client, process state across reloads (verification.max_waiting_per_client).
 */
#define MAX_WAIT_CLIENTS 1024

static pthread_mutex_t waiting_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char name[65];
	unsigned n;
} waiting[MAX_WAIT_CLIENTS];

static unsigned *waiting_slot(const char *name)
{
	size_t i;

	for (i = 0; i < MAX_WAIT_CLIENTS && waiting[i].name[0] != '\0'; i++)
		if (strcmp(waiting[i].name, name) == 0)
			return &waiting[i].n;
	if (i == MAX_WAIT_CLIENTS)
		return &waiting[MAX_WAIT_CLIENTS - 1].n; /* more clients than configurable: share */
	snprintf(waiting[i].name, sizeof(waiting[i].name), "%s", name);
	return &waiting[i].n;
}

static const char *client_name(const struct kg_req *req)
{
	return req->client ? req->client->name : "anonymous";
}

static bool waiting_enter(struct kg_req *req)
{
	unsigned *n;
	bool ok;

	pthread_mutex_lock(&waiting_lock);
	n = waiting_slot(client_name(req));
	ok = *n < req->cfg->verification.max_waiting_per_client;
	*n += ok;
	pthread_mutex_unlock(&waiting_lock);
	req->waiting_counted = ok;
	if (ok)
		kg_metrics_gauge_add(KG_GAUGE_LONGPOLL_WAITING, 1);
	if (!ok) {
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0,
		                 "this client has too many long-poll requests waiting", NULL);
	}
	return ok;
}

void kg_req_release(struct kg_req *req)
{
	if (req->waiting_counted) {
		pthread_mutex_lock(&waiting_lock);
		(*waiting_slot(client_name(req)))--;
		pthread_mutex_unlock(&waiting_lock);
		req->waiting_counted = false;
		kg_metrics_gauge_add(KG_GAUGE_LONGPOLL_WAITING, -1);
	}
	kg_answer_put(req->latest);
	req->latest = NULL;
}

/* Single flight, the status cache and user generations need to know what a call is. */
static void call_kind(struct kg_req *req)
{
	const char *loc = param(req, KG_PARAM_LOCATOR, NULL);

	req->call.kind = KG_CALL_PLAIN;
	if (loc == NULL)
		return;
	snprintf(req->call.user_key, sizeof(req->call.user_key), "%s", loc);
	if (req->match.route->op == KG_OP_VERIFY_GET)
		req->call.kind = KG_CALL_STATUS_READ;
	else if (strcmp(req->match.route->up_method, "GET") != 0)
		req->call.kind = KG_CALL_WRITE;
}

#define ALL_SECTIONS ((1u << KG_USER_SECTION_COUNT) - 1)

/* A PUT of a user that leaves out a section reads the user first (the erase guard), unless the
 * caller said ?replace=true: the call in flight becomes that read. */
static void erase_check_begin(struct kg_req *req)
{
	if (req->match.route->op != KG_OP_USER_PUT || req->replace ||
	    req->user_sections == ALL_SECTIONS)
		return;
	req->erase_check = true;
	req->call.method = "GET";
	req->call.kind = KG_CALL_PLAIN;
	req->call.body = NULL;
	req->call.body_len = 0;
}

bool kg_handle_request(struct kg_req *req)
{
	const struct kg_route *r = req->match.route;
	char expires_at[KG_MAX_QUERY_VALUE_BYTES + 1] = "";

	if (r->up_method == NULL) {
		local_route(req);
		return false;
	}
	if (!decode_params(req) || !parse_query(req, expires_at, sizeof(expires_at)) ||
	    !request_body(req, expires_at))
		return false;
	if (!build_path(req)) {
		kg_reply_problem(req, KG_PB_INVALID_REQUEST, 0, "the path is too long", NULL);
		return false;
	}
	if (req->wait_given && req->wait_s > 0 && !waiting_enter(req))
		return false;
	req->call.method = r->up_method;
	call_kind(req);
	erase_check_begin(req);
	memcpy(req->call.request_id, req->request_id, sizeof(req->call.request_id));
	memcpy(req->call.traceparent, req->traceparent, sizeof(req->call.traceparent));
	memcpy(req->call.tracestate, req->tracestate, sizeof(req->call.tracestate));
	return true;
}

/* ---- the upstream answer --------------------------------------------------------------------- */

/* The upstream call this request made itself (not a shared, cached or refused one) is counted. */
static void count_upstream(const struct kg_req *req)
{
	const struct kg_up_call *c = &req->call;
	static const enum kg_metrics_reason reasons[] = {
	    [KG_UP_TIMEOUT] = KG_UPERR_TIMEOUT,   [KG_UP_CONNECT] = KG_UPERR_CONNECT,
	    [KG_UP_RESET] = KG_UPERR_RESET,       [KG_UP_TOO_LARGE] = KG_UPERR_TOO_LARGE,
	    [KG_UP_SHUTDOWN] = KG_UPERR_SHUTDOWN, [KG_UP_ERROR] = KG_UPERR_OTHER,
	    [KG_UP_NOMEM] = KG_UPERR_OTHER,
	};

	if (c->shared || c->cached || c->result == KG_UP_BUDGET || c->result == KG_UP_DEADLINE)
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

/* Maps a transport failure or a non-2xx status to a problem; false when the answer is a 2xx. */
static bool upstream_problem(struct kg_req *req)
{
	const struct kg_up_call *c = &req->call;
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
	case KG_UP_NOMEM:
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

/* Parses a 2xx body that must be a JSON object (else 502). */
static struct json_object *upstream_object(struct kg_req *req)
{
	struct json_object *obj = NULL;
	const char *detail;
	enum kg_err e = KG_ERR_INVALID;

	if (req->call.resp_len > 0)
		e = kg_json_parse(req->call.resp, req->call.resp_len, KG_MAX_JSON_DEPTH * 2, &obj,
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

	if (req->call.resp_len == 0) {
		memset(&req->reply, 0, sizeof(req->reply));
		req->reply.status = 204;
		return;
	}
	obj = upstream_object(req);
	if (obj == NULL)
		return;
	json_object_put(obj);
	/* The validated bytes go back as they came: hand the buffer over to the reply. */
	reply_json(req, (int)req->call.status, req->call.resp, req->call.resp_len);
	req->call.resp = NULL;
	req->call.resp_len = req->call.resp_cap = 0;
}

/* The normalized view of a status answer for this request; the bytes become the reply. */
static bool answer_view(struct kg_req *req, struct kg_answer *a, bool *in_review)
{
	struct kg_view v = {
	    .locator = param(req, KG_PARAM_LOCATOR, NULL),
	    .environment = kg_env_name(req->gw->environment),
	    .products = req->products,
	    .country = req->country[0] ? req->country : NULL,
	    .cache_ttl_ms = req->cfg->verification.cache_ttl_ms,
	    .budget_wait_s = req->call.budget_wait_s,
	};
	const char *detail = NULL;
	char *bytes = NULL;
	size_t len = 0;
	enum kg_err e = kg_answer_view(a, &v, &bytes, &len, in_review, &detail);

	if (e == KG_ERR_UPSTREAM) {
		/* Counted once per upstream answer: by the read that fetched it, not by the reads
		 * that shared or reused it (as count_upstream). */
		if (!req->call.shared && !req->call.cached)
			kg_metrics_upstream_error(KG_UPERR_INVALID_RESPONSE);
		kg_reply_problem(req, KG_PB_UPSTREAM_INVALID, 0, detail, NULL);
		return false;
	}
	if (e != KG_OK) {
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
		return false;
	}
	reply_json(req, 200, bytes, len);
	return true;
}

/* The caller hung up: libmicrohttpd does not notice while the connection is suspended. */
static bool client_gone(struct kg_req *req)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	char c;

	return ci != NULL && recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

#define LAST_READ_MARGIN_MS 100

/* Schedules the next long-poll re-read (backoff 250 ms doubling to 2 s, bounded by the deadline);
 * false when the wait is over. */
static bool next_poll(struct kg_req *req)
{
	unsigned long long now = kg_now_ms(), at = now + req->backoff_ms;

	/* The last re-read is placed shortly before the deadline, so the answer is as fresh as
	 * the wait allows; a re-read still running at the deadline gives way to the latest state.
	 */
	if (at + LAST_READ_MARGIN_MS > req->wait_deadline_ms)
		at = req->wait_deadline_ms - LAST_READ_MARGIN_MS;
	if (at <= now || req->wait_deadline_ms <= now + LAST_READ_MARGIN_MS || client_gone(req))
		return false;
	kg_up_call_cleanup(&req->call);
	req->call.kind = KG_CALL_STATUS_READ;
	req->call.method = "GET";
	req->call.body = NULL;
	req->call.body_len = 0;
	req->call.force_budget = false;
	req->call.low_priority = true;
	req->call.not_before_ms = at;
	req->call.deadline_ms = req->wait_deadline_ms;
	req->backoff_ms = req->backoff_ms >= 1000 ? 2000 : req->backoff_ms * 2;
	return true;
}

/* After an answer in review: keep the answer as the latest state and schedule the next re-read
 * when the caller asked to wait (true), else let the reply stand (false). */
static bool keep_waiting(struct kg_req *req, struct kg_answer *a, bool in_review)
{
	if (!in_review || !req->wait_given || req->wait_s == 0 || atomic_load(&req->gw->closing))
		return false;
	kg_answer_put(req->latest);
	req->latest = kg_answer_ref(a);
	if (!next_poll(req))
		return false;
	reply_clear(req);
	return true;
}

/* A status answer arrived (or a waiter's deadline passed): answer, or keep waiting. */
static bool status_answer(struct kg_req *req)
{
	struct kg_answer *a = req->call.answer;
	bool in_review = false;

	if (req->latest != NULL && (req->call.result != KG_UP_OK || a == NULL ||
	                            kg_answer_status(a) < 200 || kg_answer_status(a) >= 300)) {
		/* Mid-wait: a deadline, a failed re-read or shutdown answers the latest state. */
		answer_view(req, req->latest, &in_review);
		return false;
	}
	if (upstream_problem(req))
		return false;
	if (!answer_view(req, a, &in_review))
		return false;
	return keep_waiting(req, a, in_review);
}

void kg_reply_refused(struct kg_req *req)
{
	bool in_review;

	if (req->latest != NULL) {
		answer_view(req, req->latest, &in_review);
		return;
	}
	kg_reply_problem(req, KG_PB_UNAVAILABLE, 0,
	                 atomic_load(&req->gw->closing) ? "the gateway is shutting down"
	                                                : "too many upstream calls in flight",
	                 NULL);
}

/* A trigger answer without a valid eligibility list is followed by one status read. */
static bool follow_up_read(struct kg_req *req)
{
	req->followup_read = true;
	kg_up_call_cleanup(&req->call);
	req->call.kind = KG_CALL_STATUS_READ;
	req->call.method = "GET";
	req->call.body = NULL;
	req->call.body_len = 0;
	/* Crossmint accepted the trigger: this read is not refused for budget. */
	req->call.force_budget = true;
	return true;
}

/* The trigger's own answer, normalized when it holds eligibility. */
static bool trigger_answer(struct kg_req *req)
{
	struct json_object *obj;
	struct kg_answer *a;
	bool present, in_review;

	if (req->call.resp_len == 0)
		return follow_up_read(req);
	obj = upstream_object(req);
	if (obj == NULL)
		return false;
	present = kg_eligibility_present(obj);
	json_object_put(obj);
	if (!present)
		return follow_up_read(req);
	a = kg_answer_new(req->call.status, req->call.resp, req->call.resp_len,
	                  req->call.retry_after_s, time(NULL));
	req->call.resp = NULL;
	req->call.resp_len = req->call.resp_cap = 0;
	if (a == NULL) {
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
		return false;
	}
	if (!answer_view(req, a, &in_review)) {
		kg_answer_put(a);
		return false;
	}
	/* ?wait on the trigger: re-read while a product in scope is in review. */
	in_review = keep_waiting(req, a, in_review);
	kg_answer_put(a);
	return in_review;
}

/* The sections a GET of the user says Crossmint holds: a section member present and neither
 * false nor null (UserResponseDto says a boolean; anything else counts as held, to be safe). */
static unsigned sections_held(struct json_object *user)
{
	unsigned held = 0;

	for (size_t i = 0; i < KG_USER_SECTION_COUNT; i++) {
		struct json_object *v = NULL;

		if (json_object_object_get_ex(user, kg_user_section_name(i), &v) && v != NULL &&
		    !(json_object_is_type(v, json_type_boolean) && !json_object_get_boolean(v)))
			held |= 1u << i;
	}
	return held;
}

/* 409 would-erase naming the sections in erase (names, never values). */
static void reply_would_erase(struct kg_req *req, unsigned erase)
{
	const char *names[KG_USER_SECTION_COUNT + 1] = {NULL};
	struct kg_problem_args a = {.kind = KG_PB_WOULD_ERASE, .sections = names};
	char detail[384];
	size_t n = 0, used;

	for (size_t i = 0; i < KG_USER_SECTION_COUNT; i++) {
		if (erase & (1u << i))
			names[n++] = kg_user_section_name(i);
	}
	used = (size_t)snprintf(detail, sizeof(detail), "the body leaves out");
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(detail + used, sizeof(detail) - used, "%s%s",
		                         i == 0       ? " "
		                         : i + 1 == n ? " and "
		                                      : ", ",
		                         names[i]);
	snprintf(detail + used, sizeof(detail) - used,
	         ", which Crossmint holds for this user; a PUT replaces the whole user and would "
	         "erase %s: send %s again, or add ?replace=true to erase %s",
	         n == 1 ? "it" : "them", n == 1 ? "it" : "them", n == 1 ? "it" : "them");
	a.detail = detail;
	reply_problem(req, &a);
}

/* The read of the erase guard finished: 409 when Crossmint holds a section the body leaves out;
 * when it holds none, or has no such user (404), the PUT follows (true). A failed read answers as
 * it failed, and nothing is written. */
static bool erase_check_answer(struct kg_req *req)
{
	struct json_object *user;
	unsigned erase;

	req->erase_check = false;
	if (req->call.result != KG_UP_OK || req->call.status != 404) {
		if (upstream_problem(req))
			return false;
		user = upstream_object(req);
		if (user == NULL)
			return false;
		erase = sections_held(user) & ~req->user_sections;
		json_object_put(user);
		if (erase != 0) {
			reply_would_erase(req, erase);
			return false;
		}
	}
	kg_up_call_cleanup(&req->call);
	req->call.method = req->match.route->up_method;
	call_kind(req);
	req->call.body = req->up_body;
	req->call.body_len = req->up_body_len;
	return true;
}

bool kg_handle_upstream(struct kg_req *req)
{
	enum kg_op op = req->match.route->op;

	count_upstream(req);
	if (req->erase_check)
		return erase_check_answer(req);
	if (req->call.kind == KG_CALL_STATUS_READ)
		return status_answer(req);
	if (upstream_problem(req))
		return false;
	if (op == KG_OP_VERIFY_POST)
		return trigger_answer(req);
	pass_through(req);
	return false;
}
