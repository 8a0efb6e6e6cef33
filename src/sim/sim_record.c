/* The ring of the last SIM_RECORD_SLOTS requests the simulator received, for tests: served at
 * GET /_simulator/requests and cleared by DELETE /_simulator/requests. Bodies are kept here
 * (truncated) because tests assert what the gateway sent; nothing here is ever logged. */
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

struct sim_record {
	char *method;
	char *target;
	char *body;
	size_t body_len;
	bool api_key_ok;
	bool authorization;
	char *content_type;
	char *request_id;
	char *traceparent;
	char *tracestate;
};

static void record_free(struct sim_record *r)
{
	free(r->method);
	free(r->target);
	free(r->body);
	free(r->content_type);
	free(r->request_id);
	free(r->traceparent);
	free(r->tracestate);
	memset(r, 0, sizeof(*r));
}

/* A copy of at most max bytes of s (NULL stays NULL); *failed set when memory is short. */
static char *copy_bounded(const char *s, size_t max, bool *failed)
{
	char *out;

	if (s == NULL)
		return NULL;
	out = strndup(s, max);
	if (out == NULL)
		*failed = true;
	return out;
}

enum kg_err sim_recorder_init(struct sim_recorder *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->ring = calloc(SIM_RECORD_SLOTS, sizeof(*rec->ring));
	if (rec->ring == NULL)
		return KG_ERR_NOMEM;
	if (pthread_mutex_init(&rec->lock, NULL) != 0) {
		free(rec->ring);
		rec->ring = NULL;
		return KG_ERR_INTERNAL;
	}
	return KG_OK;
}

void sim_recorder_cleanup(struct sim_recorder *rec)
{
	size_t i;

	if (rec->ring == NULL)
		return;
	for (i = 0; i < SIM_RECORD_SLOTS; i++)
		record_free(&rec->ring[i]);
	free(rec->ring);
	pthread_mutex_destroy(&rec->lock);
	memset(rec, 0, sizeof(*rec));
}

void sim_recorder_add(struct sim_recorder *rec, const struct sim_record_in *in)
{
	struct sim_record r = {0};
	bool failed = false;

	r.body_len = in->body_len < SIM_RECORD_BODY_BYTES ? in->body_len : SIM_RECORD_BODY_BYTES;
	r.body = malloc(r.body_len + 1);
	if (r.body == NULL)
		return;
	if (r.body_len > 0)
		memcpy(r.body, in->body, r.body_len);
	r.body[r.body_len] = '\0';
	r.method = copy_bounded(in->method, SIM_RECORD_HEADER_BYTES, &failed);
	r.target = copy_bounded(in->target, KG_MAX_RAW_PATH_BYTES * 4, &failed);
	r.content_type = copy_bounded(in->content_type, SIM_RECORD_HEADER_BYTES, &failed);
	r.request_id = copy_bounded(in->request_id, SIM_RECORD_HEADER_BYTES, &failed);
	r.traceparent = copy_bounded(in->traceparent, SIM_RECORD_HEADER_BYTES, &failed);
	r.tracestate = copy_bounded(in->tracestate, SIM_RECORD_HEADER_BYTES, &failed);
	r.api_key_ok = in->api_key_ok;
	r.authorization = in->authorization;
	if (failed || r.method == NULL || r.target == NULL) {
		record_free(&r);
		return;
	}
	pthread_mutex_lock(&rec->lock);
	record_free(&rec->ring[rec->next]);
	rec->ring[rec->next] = r;
	rec->next = (rec->next + 1) % SIM_RECORD_SLOTS;
	if (rec->count < SIM_RECORD_SLOTS)
		rec->count++;
	pthread_mutex_unlock(&rec->lock);
}

void sim_recorder_clear(struct sim_recorder *rec)
{
	size_t i;

	pthread_mutex_lock(&rec->lock);
	for (i = 0; i < SIM_RECORD_SLOTS; i++)
		record_free(&rec->ring[i]);
	rec->next = 0;
	rec->count = 0;
	pthread_mutex_unlock(&rec->lock);
}

static struct json_object *string_or_null(const char *s)
{
	return s == NULL ? NULL : json_object_new_string(s);
}

static struct json_object *render_one(const struct sim_record *r)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "method", json_object_new_string(r->method));
	json_object_object_add(o, "target", json_object_new_string(r->target));
	json_object_object_add(o, "body", json_object_new_string_len(r->body, (int)r->body_len));
	json_object_object_add(o, "apiKeyOk", json_object_new_boolean(r->api_key_ok));
	json_object_object_add(o, "authorization", json_object_new_boolean(r->authorization));
	json_object_object_add(o, "contentType", string_or_null(r->content_type));
	json_object_object_add(o, "requestId", string_or_null(r->request_id));
	json_object_object_add(o, "traceparent", string_or_null(r->traceparent));
	json_object_object_add(o, "tracestate", string_or_null(r->tracestate));
	return o;
}

struct json_object *sim_recorder_render(struct sim_recorder *rec)
{
	struct json_object *root = json_object_new_object();
	struct json_object *arr = json_object_new_array();
	size_t i;

	if (root == NULL || arr == NULL) {
		json_object_put(root);
		json_object_put(arr);
		return NULL;
	}
	pthread_mutex_lock(&rec->lock);
	for (i = 0; i < rec->count; i++) {
		size_t slot = (rec->next + SIM_RECORD_SLOTS - rec->count + i) % SIM_RECORD_SLOTS;

		json_object_array_add(arr, render_one(&rec->ring[slot]));
	}
	pthread_mutex_unlock(&rec->lock);
	json_object_object_add(root, "requests", arr);
	return root;
}
