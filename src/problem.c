/* RFC 9457 problem rendering: one table of kinds, one renderer. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "kycgate/common.h"
#include "kycgate/json.h"
#include "kycgate/problem.h"

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

/* Crossmint's body as JSON when it parses, else as a (cut) string. */
static struct json_object *upstream_body(const char *body, size_t len)
{
	struct json_object *parsed = NULL;
	const char *detail;

	if (body == NULL || len == 0)
		return json_object_new_string("");
	if (len <= KG_MAX_UPSTREAM_BODY_IN_PROBLEM &&
	    kg_json_parse(body, len, KG_MAX_JSON_DEPTH, &parsed, &detail, NULL) == KG_OK)
		return parsed;
	if (len > KG_MAX_UPSTREAM_BODY_IN_PROBLEM)
		len = KG_MAX_UPSTREAM_BODY_IN_PROBLEM;
	return json_object_new_string_len(body, (int)len);
}

static int add(struct json_object *o, const char *key, struct json_object *v)
{
	if (v == NULL)
		return -1;
	return json_object_object_add(o, key, v);
}

/* names (NULL-terminated) as a JSON array of strings, or NULL on allocation failure. */
static struct json_object *string_array(const char *const *names)
{
	struct json_object *arr = json_object_new_array();

	for (size_t i = 0; arr != NULL && names[i] != NULL; i++) {
		struct json_object *v = json_object_new_string(names[i]);

		if (v == NULL || json_object_array_add(arr, v) != 0) {
			json_object_put(v);
			json_object_put(arr);
			arr = NULL;
		}
	}
	return arr;
}

const char kg_problem_nomem[] =
    "{\"type\":\"urn:kycgate:problem:unavailable\",\"title\":\"The gateway cannot take this "
    "request now\",\"status\":503,\"detail\":\"the gateway is out of memory\"}";
const size_t kg_problem_nomem_len = sizeof(kg_problem_nomem) - 1;

char *kg_problem_render(const struct kg_problem_args *a, size_t *len)
{
	enum kg_problem kind = (a->kind >= 0 && a->kind < KG_PB_COUNT) ? a->kind : KG_PB_INTERNAL;
	int status = a->status > 0 ? a->status : kinds[kind].status;
	struct json_object *o = json_object_new_object();
	char type[96];
	char *out = NULL;
	int rc = 0;

	if (o == NULL)
		return NULL;
	snprintf(type, sizeof(type), "urn:kycgate:problem:%s", kinds[kind].code);
	rc |= add(o, "type", json_object_new_string(type));
	rc |= add(o, "title", json_object_new_string(kinds[kind].title));
	rc |= add(o, "status", json_object_new_int(status));
	rc |= add(o, "detail", json_object_new_string(a->detail ? a->detail : kinds[kind].title));
	rc |= add(o, "instance", json_object_new_string(a->instance ? a->instance : "unmatched"));
	rc |= add(o, "requestId", json_object_new_string(a->request_id ? a->request_id : ""));
	if (a->errors != NULL && json_object_array_length(a->errors) > 0)
		rc |= add(o, "errors", json_object_get(a->errors));
	if (a->sections != NULL)
		rc |= add(o, "sections", string_array(a->sections));
	if (a->oldest_id != NULL)
		rc |= add(o, "oldestId", json_object_new_string(a->oldest_id));
	if (a->upstream_status > 0) {
		struct json_object *up = json_object_new_object();

		rc |= add(o, "upstream", up);
		if (up != NULL) {
			rc |= add(up, "status", json_object_new_int(a->upstream_status));
			rc |=
			    add(up, "body", upstream_body(a->upstream_body, a->upstream_body_len));
		}
	}
	if (rc == 0)
		out = kg_json_to_bytes(o, len);
	json_object_put(o);
	return out;
}
