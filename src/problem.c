/* RFC 9457 problem rendering: one table of kinds, one renderer. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "kycgate/buf.h"
#include "kycgate/common.h"
#include "kycgate/json.h"
#include "kycgate/problem.h"

/* Far above any problem written: the details are short static texts, Crossmint's body is cut to
 * KG_MAX_UPSTREAM_BODY_IN_PROBLEM (escaping at most sixfold) and errors are bounded lists. */
#define PROBLEM_MAX_BYTES (1024 * 1024)

struct kind {
	int status;
	const char *code;
	const char *title;
};

static const struct kind kinds[KG_PB_COUNT] = {
    [KG_PB_INVALID_REQUEST] = {400, "invalid-request", "The request is invalid"},
    [KG_PB_UNAUTHORIZED] = {401, "unauthorized", "A valid bearer token is required"},
    [KG_PB_FORBIDDEN] = {403, "forbidden", "The token lacks the scope this route needs"},
    [KG_PB_NOT_FOUND] = {404, "not-found", "No such route"},
    [KG_PB_METHOD_NOT_ALLOWED] = {405, "method-not-allowed",
                                  "The route does not allow this method"},
    [KG_PB_WOULD_ERASE] = {409, "would-erase",
                           "The PUT would erase sections Crossmint holds for this user"},
    [KG_PB_PAYLOAD_TOO_LARGE] = {413, "payload-too-large", "The request body is too large"},
    [KG_PB_UNSUPPORTED_MEDIA_TYPE] = {415, "unsupported-media-type",
                                      "The content type is not accepted here"},
    [KG_PB_RATE_LIMITED] = {429, "rate-limited", "Too many requests"},
    [KG_PB_UPSTREAM_REJECTED] = {400, "upstream-rejected", "Crossmint rejected the request"},
    [KG_PB_UPSTREAM_AUTH] = {502, "upstream-auth", "Crossmint refused the gateway's credentials"},
    /* One code, two honest titles: no answer came, or the answer was a failure. */
    [KG_PB_UPSTREAM_ERROR] = {502, "upstream-error", "Crossmint could not be reached"},
    [KG_PB_UPSTREAM_FAILED] = {502, "upstream-error", "Crossmint failed"},
    [KG_PB_UPSTREAM_INVALID] = {502, "upstream-invalid-response",
                                "Crossmint's answer was not understood"},
    [KG_PB_UPSTREAM_TIMEOUT] = {504, "upstream-timeout", "Crossmint did not answer in time"},
    [KG_PB_UNAVAILABLE] = {503, "unavailable", "The gateway cannot take this request now"},
    [KG_PB_UPSTREAM_UNAVAILABLE] = {503, "upstream-unavailable",
                                    "Crossmint is failing; the gateway is not calling it now"},
    [KG_PB_INTERNAL] = {500, "internal", "Internal error"},
    [KG_PB_IDEM_REUSED] = {422, "idempotency-key-reused",
                           "The Idempotency-Key was used for another request"},
    [KG_PB_IDEM_IN_FLIGHT] = {409, "idempotency-key-in-flight",
                              "The first request with this Idempotency-Key is still running"},
    [KG_PB_STORE_UNAVAILABLE] = {503, "store-unavailable", "The gateway's store is not available"},
    [KG_PB_STORE_DISABLED] = {503, "store-disabled", "The gateway runs without a store"},
    [KG_PB_NOT_WATCHED] = {404, "not-watched", "The user is not watched"},
    [KG_PB_WATCH_CAPACITY] = {503, "watch-capacity", "The gateway watches as many users as it may"},
    [KG_PB_CURSOR_EXPIRED] = {410, "cursor-expired", "Events after this cursor are no longer kept"},
};

int kg_problem_status(enum kg_problem p)
{
	return (p >= 0 && p < KG_PB_COUNT) ? kinds[p].status : 500;
}

const char *kg_problem_code(enum kg_problem p)
{
	return (p >= 0 && p < KG_PB_COUNT) ? kinds[p].code : "internal";
}

/* A JSON string, escaped as json-c writes it (JSON_C_TO_STRING_NOSLASHESCAPE), so the bytes
 * are those the json-c tree gave before problems were written straight into a buffer. */
static void add_string(struct kg_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;

	kg_buf_add(b, "\"", 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6] = {'\\', 0, 0, 0, 0, 0};
		size_t k = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		kg_buf_add(b, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '\b':
			esc[1] = 'b';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '"':
		case '\\':
			esc[1] = (char)c;
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			k = 6;
		}
		kg_buf_add(b, esc, k);
	}
	kg_buf_add(b, s + run, n - run);
	kg_buf_add(b, "\"", 1);
}

static void add_str(struct kg_buf *b, const char *s)
{
	add_string(b, s, strlen(s));
}

/* ,"key": */
static void add_key(struct kg_buf *b, const char *key)
{
	kg_buf_add(b, ",\"", 2);
	kg_buf_add_str(b, key);
	kg_buf_add(b, "\":", 2);
}

static void add_int(struct kg_buf *b, int v)
{
	char num[16];
	int n = snprintf(num, sizeof(num), "%d", v);

	kg_buf_add(b, num, n > 0 ? (size_t)n : 0);
}

/* A json-c value as json-c writes it (the errors array, Crossmint's parsed body). */
static void add_json(struct kg_buf *b, struct json_object *v)
{
	size_t n;
	char *text = kg_json_to_bytes(v, &n);

	if (text == NULL) {
		b->failed = true;
		return;
	}
	kg_buf_add(b, text, n);
	kg_json_free_bytes(text, n);
}

/* Crossmint's body as JSON when it parses, else as a (cut) string. */
/* JSON text the strict scanner accepted, without the whitespace between tokens: its strings
 * and numbers as sent. */
static void add_compact(struct kg_buf *b, const char *p, size_t len)
{
	bool in_string = false, escaped = false;
	size_t i, run = 0;

	for (i = 0; i < len; i++) {
		char c = p[i];

		if (in_string) {
			in_string = escaped || c != '"';
			escaped = !escaped && c == '\\';
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			kg_buf_add(b, p + run, i - run);
			run = i + 1;
			continue;
		}
		in_string = c == '"';
	}
	kg_buf_add(b, p + run, len - run);
}

/* Crossmint's body: its JSON as it sent it (checked by the strict scanner, which builds no tree:
 * a json-c tree and its serialization were about a tenth of the CPU of an answer relayed from
 * Crossmint, issue 12), or the text as a JSON string, cut. */
static void add_upstream_body(struct kg_buf *b, const char *body, size_t len)
{
	const char *detail;

	if (body == NULL || len == 0) {
		add_string(b, "", 0);
		return;
	}
	if (len <= KG_MAX_UPSTREAM_BODY_IN_PROBLEM &&
	    kg_json_check(body, len, KG_MAX_JSON_DEPTH, &detail) == KG_OK) {
		add_compact(b, body, len);
		return;
	}
	add_string(b, body,
	           len > KG_MAX_UPSTREAM_BODY_IN_PROBLEM ? KG_MAX_UPSTREAM_BODY_IN_PROBLEM : len);
}

const char kg_problem_nomem[] =
    "{\"type\":\"urn:kycgate:problem:unavailable\",\"title\":\"The gateway cannot take this "
    "request now\",\"status\":503,\"detail\":\"the gateway is out of memory\"}";
const size_t kg_problem_nomem_len = sizeof(kg_problem_nomem) - 1;

/* Written straight into one buffer: a json-c tree per problem was most of the cost of an
 * answer relayed from Crossmint (issue 12). Field order and bytes are the tree's. */
char *kg_problem_render(const struct kg_problem_args *a, size_t *len)
{
	enum kg_problem kind = (a->kind >= 0 && a->kind < KG_PB_COUNT) ? a->kind : KG_PB_INTERNAL;
	int status = a->status > 0 ? a->status : kinds[kind].status;
	struct kg_buf b;

	*len = 0;
	kg_buf_init(&b, PROBLEM_MAX_BYTES);
	kg_buf_add_str(&b, "{\"type\":\"urn:kycgate:problem:");
	kg_buf_add_str(&b, kinds[kind].code);
	kg_buf_add_str(&b, "\",\"title\":");
	add_str(&b, kinds[kind].title);
	add_key(&b, "status");
	add_int(&b, status);
	add_key(&b, "detail");
	add_str(&b, a->detail ? a->detail : kinds[kind].title);
	add_key(&b, "instance");
	add_str(&b, a->instance ? a->instance : "unmatched");
	add_key(&b, "requestId");
	add_str(&b, a->request_id ? a->request_id : "");
	if (a->errors != NULL && json_object_array_length(a->errors) > 0) {
		add_key(&b, "errors");
		add_json(&b, a->errors);
	}
	if (a->sections != NULL) {
		add_key(&b, "sections");
		kg_buf_add(&b, "[", 1);
		for (size_t i = 0; a->sections[i] != NULL; i++) {
			if (i > 0)
				kg_buf_add(&b, ",", 1);
			add_str(&b, a->sections[i]);
		}
		kg_buf_add(&b, "]", 1);
	}
	if (a->oldest_id != NULL) {
		add_key(&b, "oldestId");
		add_str(&b, a->oldest_id);
	}
	if (a->upstream_status > 0) {
		add_key(&b, "upstream");
		kg_buf_add_str(&b, "{\"status\":");
		add_int(&b, a->upstream_status);
		kg_buf_add_str(&b, ",\"body\":");
		add_upstream_body(&b, a->upstream_body, a->upstream_body_len);
		kg_buf_add(&b, "}", 1);
	}
	if (!kg_buf_add(&b, "}", 1)) {
		kg_buf_cleanup(&b);
		return NULL;
	}
	*len = b.len;
	return b.data;
}
