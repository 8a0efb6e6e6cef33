/* The header phase of a request (design §2 "Order of checks and HTTP framing"): the request id
 * and trace context, framing refusals, then 404, 405, 401, 403, 413 and 415, all decided before
 * one body byte is read, so an anonymous caller cannot make kycgate buffer a body. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway.h"
#include "kycgate/sha256.h"
#include "kycgate/torture.h"

static bool id_char(char c)
{
	return isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-';
}

/* Request ids need to be unique, not secret: a per-thread xorshift generator seeded from the
 * kernel once, instead of a getrandom() call per request. */
static void uuid_bytes(unsigned char out[16])
{
	static _Thread_local unsigned long long s[2];
	unsigned long long x, y;
	int i;

	if (s[0] == 0 && s[1] == 0) {
		kg_random_bytes(s, sizeof(s));
		s[0] |= 1;
	}
	for (i = 0; i < 2; i++) {
		x = s[0];
		y = s[1];
		s[0] = y;
		x ^= x << 23;
		s[1] = x ^ y ^ (x >> 17) ^ (y >> 26);
		memcpy(out + 8 * i, &(unsigned long long){s[1] + y}, 8);
	}
}

void kg_request_id_new(char out[KG_NEW_REQUEST_ID_BYTES + 1])
{
	unsigned char r[16];

	uuid_bytes(r);
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	/* By hand: snprintf's 16 conversions were 3% of a request's instructions (callgrind). */
	for (i = 0; i < sizeof(r); i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[r[i] >> 4];
		out[o++] = hex[r[i] & 0x0f];
	}
	out[o] = '\0';
}

/* The caller's X-Request-Id when it is 1..128 of [A-Za-z0-9._-], else a new UUID (v4). */
static void request_id(struct kg_req *req)
{
	const char *id = req->head.request_id;
	size_t n = id ? strnlen(id, KG_MAX_REQUEST_ID_BYTES + 1) : 0, i;

	for (i = 0; i < n && id_char(id[i]); i++)
		;
	if (n > 0 && n <= KG_MAX_REQUEST_ID_BYTES && i == n) {
		req->request_id = id; /* borrowed, as the head, until the request ends */
		return;
	}
	kg_request_id_new(req->new_request_id);
	req->request_id = req->new_request_id;
}

static bool lower_hex(const char *s, size_t n, bool nonzero)
{
	size_t i;
	bool any = false;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]) && (s[i] < 'a' || s[i] > 'f'))
			return false;
		any |= s[i] != '0';
	}
	return any || !nonzero;
}

/* W3C trace context: version-traceid-parentid-flags, passed through only when valid. */
static void trace_headers(struct kg_req *req)
{
	const char *tp = req->head.traceparent, *ts = req->head.tracestate;
	size_t i, n;

	if (tp != NULL && strlen(tp) == 55 && tp[2] == '-' && tp[35] == '-' && tp[52] == '-' &&
	    lower_hex(tp, 2, false) && strncmp(tp, "ff", 2) != 0 && lower_hex(tp + 3, 32, true) &&
	    lower_hex(tp + 36, 16, true) && lower_hex(tp + 53, 2, false))
		memcpy(req->traceparent, tp, 56);
	if (req->traceparent[0] == '\0' || ts == NULL)
		return;
	n = strnlen(ts, KG_MAX_TRACESTATE_BYTES + 1);
	for (i = 0; i < n && ts[i] >= 0x20 && ts[i] < 0x7f; i++)
		;
	if (n > 0 && n <= KG_MAX_TRACESTATE_BYTES && i == n)
		req->tracestate = ts; /* borrowed, as the head, until the request ends */
}

/* Framing libmicrohttpd accepts but a proxy in front would read differently (design §2, §8): the
 * request line here, the headers scanned by capture.c. */
static const char *framing_refusal(const struct kg_req *req)
{
	if (req->line_broken)
		return "the request line holds a control character or a NUL";
	return req->head.framing;
}

/* 401 / 403: the bearer token's client and the route's scope. */
static bool authorize(struct kg_req *req)
{
	const char *h = req->head.authorization;
	unsigned char digest[KG_SHA256_LEN];
	size_t n;

	if (req->cfg->auth.mode_none)
		return true;
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
		kg_reply_problem(req, KG_PB_UNAUTHORIZED, 0, "a bearer token is required", NULL);
		req->reply.www_authenticate = true;
		return false;
	}
	h += 7;
	while (*h == ' ')
		h++;
	n = strnlen(h, KG_MAX_TOKEN_BYTES + 1);
	/* A token GnuTLS cannot hash authenticates nobody. */
	if (n > 0 && n <= KG_MAX_TOKEN_BYTES && kg_sha256(h, n, digest) == KG_OK)
		req->client = kg_config_find_client(req->cfg, digest);
	if (req->client == NULL) {
		kg_reply_problem(req, KG_PB_UNAUTHORIZED, 0, "the bearer token is not known", NULL);
		req->reply.www_authenticate = true;
		return false;
	}
	if ((req->client->scopes & req->match.route->scope) != req->match.route->scope) {
		kg_reply_problem(req, KG_PB_FORBIDDEN, 0,
		                 req->match.route->scope == KG_SCOPE_CREATE
		                     ? "this route needs the users.create scope"
		                 : req->match.route->scope == KG_SCOPE_WEBHOOKS
		                     ? "this route needs the webhooks.manage scope"
		                     : "this route needs the users.read scope",
		                 NULL);
		return false;
	}
	return true;
}

/* The media type without parameters, lower-cased, into req->content_type; "" when longer than
 * any the gateway takes (KG_MAX_MEDIA_TYPE_BYTES), so it matches none. */
static void content_type(struct kg_req *req)
{
	const char *ct = req->head.content_type;
	size_t i, n;

	if (ct == NULL)
		return;
	n = strcspn(ct, ";");
	while (n > 0 && ct[n - 1] == ' ')
		n--;
	if (n > KG_MAX_MEDIA_TYPE_BYTES)
		n = 0;
	for (i = 0; i < n; i++)
		req->content_type[i] = (char)tolower((unsigned char)ct[i]);
	req->content_type[n] = '\0';
}

/* The most base64 bytes a decoded size can take, plus the JSON allowance (design §2). */
static size_t document_json_limit(size_t decoded)
{
	return (decoded + 2) / 3 * 4 + KG_DOCUMENT_JSON_OVERHEAD;
}

static bool is_raw_document_type(const char *ct)
{
	return strcmp(ct, "image/jpeg") == 0 || strcmp(ct, "image/png") == 0 ||
	       strcmp(ct, "application/pdf") == 0;
}

/* 413 and 415 from the headers, before one body byte is read. */
static bool body_checks(struct kg_req *req)
{
	const struct kg_route *r = req->match.route;
	const char *cl = req->head.content_length;
	unsigned long long declared = 0;
	char *end = NULL;

	content_type(req);
	req->body_limit = req->cfg->server.max_body_bytes;
	if (r->body == KG_BODY_DOCUMENT)
		req->body_limit = is_raw_document_type(req->content_type)
		                      ? req->cfg->server.max_document_bytes
		                      : document_json_limit(req->cfg->server.max_document_bytes);
	if (cl != NULL) {
		declared = strtoull(cl, &end, 10);
		if (end == cl || *end != '\0' || declared > req->body_limit) {
			kg_reply_too_large(req);
			req->reply.close = true;
			return false;
		}
	}
	if (r->body == KG_BODY_JSON && strcmp(req->content_type, "application/json") != 0) {
		kg_reply_problem(req, KG_PB_UNSUPPORTED_MEDIA_TYPE, 0,
		                 "this route takes application/json", NULL);
		req->reply.close = true;
		return false;
	}
	if (r->body == KG_BODY_DOCUMENT && !is_raw_document_type(req->content_type) &&
	    strcmp(req->content_type, "application/json") != 0) {
		kg_reply_problem(req, KG_PB_UNSUPPORTED_MEDIA_TYPE, 0,
		                 "documents are image/jpeg, image/png, application/pdf or "
		                 "application/json",
		                 NULL);
		req->reply.close = true;
		return false;
	}
	return true;
}

/* metrics.listen serves only /metrics, /healthz and /readyz; with it set, the main listener no
 * longer serves /metrics. Anything else there is "no such route". */
static bool listener_serves(struct kg_req *req)
{
	enum kg_listen listen = req->match.route->listen;

	if ((req->metrics_only && listen == KG_LISTEN_MAIN) ||
	    (!req->metrics_only && listen == KG_LISTEN_METRICS &&
	     req->gw->metrics_daemon != NULL)) {
		req->match.route = NULL;
		kg_reply_problem(req, KG_PB_NOT_FOUND, 0, "no route has this path", NULL);
		return false;
	}
	return true;
}

bool kg_handle_headers(struct kg_req *req)
{
	const char *refusal;

#ifdef KG_TORTURE
	/* Torture builds only (tests/test_it_torture.c): "X-Kycgate-Torture: N" makes the Nth
	 * allocation from here on fail; server.c's on_completed() ends the arming (the connection
	 * is the owner: a waiter's request is freed and made again). */
	if (req->head.torture != NULL)
		kg_torture_arm(strtoul(req->head.torture, NULL, 10), req->conn);
#endif
	request_id(req);
	trace_headers(req);
	if (req->head.oom) {
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
		return false;
	}
	refusal = framing_refusal(req);
	if (refusal != NULL) {
		kg_reply_problem(req, KG_PB_INVALID_REQUEST, 0, refusal, NULL);
		req->reply.close = true;
		return false;
	}
	if (req->match.route == NULL) {
		if (!req->match.path_found) {
			kg_reply_problem(
			    req, KG_PB_NOT_FOUND, 0,
			    req->match.hint ? req->match.hint : "no route has this path", NULL);
			return false;
		}
		kg_reply_problem(req, KG_PB_METHOD_NOT_ALLOWED, 0,
		                 "the route does not allow this method", NULL);
		req->reply.allow = req->match.allow;
		return false;
	}
	if (!listener_serves(req))
		return false;
	if (req->match.route->scope == 0) {
		req->body_limit = 0;
		return true;
	}
	/* the per-client limit (client_limit.c) after 401 / 403 */
	return authorize(req) && kg_client_limit_check(req) && body_checks(req);
}
