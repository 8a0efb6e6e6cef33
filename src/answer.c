/* Shared status answers: one upstream body, its normalized views computed once each. */
#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kycgate/answer.h"
#include "kycgate/json.h"
#include "kycgate/normalize.h"

struct view {
	unsigned products;
	unsigned cache_ttl_ms;
	unsigned budget_wait_s;
	char country[3];
	char *bytes;
	size_t len;
	bool in_review;
};

struct kg_answer {
	atomic_uint refs;
	long status;
	char *body;
	size_t len;
	unsigned retry_after_s;
	time_t observed_at;
	pthread_mutex_t lock; /* guards views */
	struct view views[KG_ANSWER_VIEWS];
	size_t n_views;
};

struct kg_answer *kg_answer_new(long status, char *body, size_t len, unsigned retry_after_s,
                                time_t observed_at)
{
	struct kg_answer *a = calloc(1, sizeof(*a));

	if (a == NULL) {
		kg_wipe(body, len);
		free(body);
		return NULL;
	}
	atomic_init(&a->refs, 1);
	a->status = status;
	a->body = body;
	a->len = len;
	a->retry_after_s = retry_after_s;
	a->observed_at = observed_at;
	pthread_mutex_init(&a->lock, NULL);
	return a;
}

struct kg_answer *kg_answer_ref(struct kg_answer *a)
{
	atomic_fetch_add(&a->refs, 1);
	return a;
}

void kg_answer_put(struct kg_answer *a)
{
	size_t i;

	if (a == NULL || atomic_fetch_sub(&a->refs, 1) != 1)
		return;
	for (i = 0; i < a->n_views; i++) {
		kg_wipe(a->views[i].bytes, a->views[i].len);
		free(a->views[i].bytes);
	}
	kg_wipe(a->body, a->len);
	free(a->body);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

long kg_answer_status(const struct kg_answer *a)
{
	return a->status;
}

const char *kg_answer_body(const struct kg_answer *a, size_t *len)
{
	*len = a->len;
	return a->body;
}

unsigned kg_answer_retry_after(const struct kg_answer *a)
{
	return a->retry_after_s;
}

/* Normalizes the body for one view (the expensive part, done outside the lock). */
static enum kg_err render(const struct kg_answer *a, const struct kg_view *v, struct view *out,
                          const char **detail)
{
	struct kg_norm_opts o = {
	    .locator = v->locator,
	    .environment = v->environment,
	    .products = v->products,
	    .country = v->country,
	    .observed_at = a->observed_at,
	    .cache_ttl_ms = v->cache_ttl_ms,
	    .retry_after_s = a->retry_after_s,
	    .budget_wait_s = v->budget_wait_s,
	};
	struct json_object *up = NULL, *norm = NULL;
	enum kg_err e;

	*detail = "Crossmint's answer is not a JSON object";
	if (a->len == 0)
		return KG_ERR_UPSTREAM;
	e = kg_json_parse(a->body, a->len, KG_MAX_JSON_DEPTH * 2, &up, detail, NULL);
	if (e != KG_OK)
		return e == KG_ERR_NOMEM ? e
		                         : KG_ERR_UPSTREAM; /* out of memory is not Crossmint's */
	e = kg_normalize(up, &o, &norm, detail);
	json_object_put(up);
	if (e != KG_OK)
		return e;
	out->in_review = kg_normalized_in_review(norm);
	out->bytes = kg_json_to_bytes(norm, &out->len);
	json_object_put(norm);
	return out->bytes ? KG_OK : KG_ERR_NOMEM;
}

static bool same_view(const struct view *s, const struct kg_view *v)
{
	const char *c = v->country ? v->country : "";

	/* pollAfterSeconds depends on the last two as well. */
	return s->products == v->products && strcmp(s->country, c) == 0 &&
	       s->cache_ttl_ms == v->cache_ttl_ms && s->budget_wait_s == v->budget_wait_s;
}

static enum kg_err copy_out(const struct view *s, char **bytes, size_t *len, bool *in_review)
{
	*bytes = malloc(s->len + 1);
	if (*bytes == NULL)
		return KG_ERR_NOMEM;
	memcpy(*bytes, s->bytes, s->len + 1);
	*len = s->len;
	*in_review = s->in_review;
	return KG_OK;
}

enum kg_err kg_answer_view(struct kg_answer *a, const struct kg_view *v, char **bytes, size_t *len,
                           bool *in_review, const char **detail)
{
	struct view fresh = {.products = v->products,
	                     .cache_ttl_ms = v->cache_ttl_ms,
	                     .budget_wait_s = v->budget_wait_s};
	enum kg_err e;
	size_t i;

	pthread_mutex_lock(&a->lock);
	for (i = 0; i < a->n_views; i++) {
		if (same_view(&a->views[i], v)) {
			e = copy_out(&a->views[i], bytes, len, in_review);
			pthread_mutex_unlock(&a->lock);
			return e;
		}
	}
	pthread_mutex_unlock(&a->lock);
	/* Two threads may render the same view at once; the first to store it wins. */
	e = render(a, v, &fresh, detail);
	if (e != KG_OK)
		return e;
	snprintf(fresh.country, sizeof(fresh.country), "%s", v->country ? v->country : "");
	e = copy_out(&fresh, bytes, len, in_review);
	pthread_mutex_lock(&a->lock);
	if (a->n_views < KG_ANSWER_VIEWS) {
		for (i = 0; i < a->n_views && !same_view(&a->views[i], v); i++)
			;
		if (i == a->n_views) {
			a->views[a->n_views++] = fresh;
			fresh.bytes = NULL;
		}
	}
	pthread_mutex_unlock(&a->lock);
	if (fresh.bytes != NULL) /* another thread stored this view first, or no room */
		kg_wipe(fresh.bytes, fresh.len);
	free(fresh.bytes);
	return e;
}
