/* The header phase of a request (design §2 "Order of checks and HTTP framing"): the request id
 * and trace context, framing refusals, then 404, 405, 401, 403, 413 and 415, all decided before
 * one body byte is read, so an anonymous caller cannot make kycgate buffer a body. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway.h"
#include "kycgate/sha256.h"
#include "kycgate/torture.h"

static const char *header(struct kg_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

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

void kg_request_id_new(char out[KG_MAX_REQUEST_ID_BYTES + 1])
{
	unsigned char r[16];

	uuid_bytes(r);
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	snprintf(out, KG_MAX_REQUEST_ID_BYTES + 1,
	         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1],
	         r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14],
	         r[15]);
}

/* The caller's X-Request-Id when it is 1..128 of [A-Za-z0-9._-], else a new UUID (v4). */
static void request_id(struct kg_req *req)
{
	const char *id = header(req, "X-Request-Id");
	size_t n = id ? strnlen(id, KG_MAX_REQUEST_ID_BYTES + 1) : 0, i;

	for (i = 0; i < n && id_char(id[i]); i++)
		;
	if (n > 0 && n <= KG_MAX_REQUEST_ID_BYTES && i == n) {
		memcpy(req->request_id, id, n + 1);
		return;
	}
	kg_request_id_new(req->request_id);
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
	const char *tp = header(req, "traceparent"), *ts = header(req, "tracestate");
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
		memcpy(req->tracestate, ts, n + 1);
}

struct framing {
	struct kg_req *req;
	unsigned content_length, transfer_encoding, authorization;
	bool bad_name, folded, bad_cl, bad_te;
};

/* libmicrohttpd 0.9.75 parses each header line in place: the name ends at the colon (made a
 * NUL), the value starts after the spaces and tabs that follow. A folded line (obs-fold, a line
 * starting with a space or tab) is joined onto the previous header's *name*, which is copied
 * elsewhere, and the value is left where it was ("Content-Length:\r\n 112" becomes the header
 * "Content-Length112" with an empty value). So a header whose value does not sit right after its
 * name's NUL and some blanks was folded. Returns the number of blanks before the value, or -1 for a
 * folded header. Reads only bytes of the header line, back from the value to the colon. */
static int value_gap(const char *key, const char *value)
{
	const char *p = value;

	while (p[-1] == ' ' || p[-1] == '\t')
		p--;
	if (p[-1] != '\0' || p - 1 != key + strlen(key))
		return -1;
	return (int)(value - p);
}

static bool all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Framing headers are taken only in their plain form: at most one blank after the colon, then
 * bare digits or exactly "chunked", nothing after (a proxy may read any other form differently). */
static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
	struct framing *f = cls;
	const char *p;
	int gap = value != NULL ? value_gap(key, value) : -1;

	for (p = key; *p != '\0'; p++)
		f->bad_name |= isspace((unsigned char)*p) != 0;
	f->folded |= gap < 0;
	if (strcasecmp(key, "Content-Length") == 0) {
		f->content_length++;
		f->bad_cl |= gap != 0 && gap != 1;
		if (value != NULL && all_digits(value)) {
			errno = 0;
			f->req->declared_len = strtoull(value, NULL, 10);
			f->req->declared = errno == 0;
		}
		f->bad_cl |= !f->req->declared;
	}
	if (strcasecmp(key, "Authorization") == 0)
		f->authorization++;
	if (strcasecmp(key, "Transfer-Encoding") == 0) {
		f->transfer_encoding++;
		f->bad_te |=
		    value == NULL || (gap != 0 && gap != 1) || strcmp(value, "chunked") != 0;
	}
	return MHD_YES;
}

/* Framing libmicrohttpd accepts but a proxy in front would read differently (design §2, §8). */
static const char *framing_refusal(struct kg_req *req)
{
	struct framing f = {.req = req};

	if (req->line_broken)
		return "the request line holds a control character or a NUL";
	MHD_get_connection_values(req->conn, MHD_HEADER_KIND, count_header, &f);
	if (f.folded)
		return "a header line is folded (continued on the next line)";
	if (f.bad_name)
		return "a header name contains whitespace";
	if (f.content_length > 1)
		return "more than one Content-Length header";
	if (f.transfer_encoding > 1)
		return "more than one Transfer-Encoding header";
	if (f.content_length > 0 && f.transfer_encoding > 0)
		return "both Content-Length and Transfer-Encoding";
	if (f.bad_cl)
		return "a Content-Length other than bare digits";
	if (f.bad_te)
		return "a Transfer-Encoding other than chunked";
	if (f.authorization > 1)
		return "more than one Authorization header";
	return NULL;
}

/* 401 / 403: the bearer token's client and the route's scope. */
static bool authorize(struct kg_req *req)
{
	const char *h = header(req, "Authorization");
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
		                     : "this route needs the users.read scope",
		                 NULL);
		return false;
	}
	return true;
}

/* The media type without parameters, lower-cased, into req->content_type. */
static void content_type(struct kg_req *req)
{
	const char *ct = header(req, "Content-Type");
	size_t i;

	if (ct == NULL)
		return;
	for (i = 0; ct[i] != '\0' && ct[i] != ';' && i + 1 < sizeof(req->content_type); i++)
		req->content_type[i] = (char)tolower((unsigned char)ct[i]);
	while (i > 0 && req->content_type[i - 1] == ' ')
		i--;
	req->content_type[i] = '\0';
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
	const char *cl = header(req, "Content-Length");
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
	enum kg_op op = req->match.route->op;
	bool local = op == KG_OP_METRICS || op == KG_OP_HEALTHZ || op == KG_OP_READYZ;

	if ((req->metrics_only && !local) ||
	    (!req->metrics_only && op == KG_OP_METRICS && req->gw->metrics_daemon != NULL)) {
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
	 * allocation from here on fail; server.c's on_completed() ends the arming. */
	const char *torture = header(req, "X-Kycgate-Torture");

	if (torture != NULL)
		kg_torture_arm(strtoul(torture, NULL, 10), req);
#endif
	request_id(req);
	trace_headers(req);
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
	return authorize(req) && body_checks(req);
}
