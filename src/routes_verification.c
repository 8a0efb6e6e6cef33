/* The verification routes: the trigger (POST, Crossmint's PUT identity-verification), the status
 * (GET, a shared status read) and the long-poll (?wait=N re-reads with backoff while a product in
 * scope is in review). Their rows are in router.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kycgate/answer.h"
#include "kycgate/longpoll.h"
#include "kycgate/metrics.h"
#include "kycgate/normalize.h"
#include "kycgate/validate.h"
#include "events_internal.h"
#include "gateway.h"
#include "reply.h"
#include "routes.h"
#include "watch.h"

/* ---- the query ----------------------------------------------------------------------------- */

static const char D_PRODUCTS[] = "products: a comma-separated list of onramp, onramp-light, "
                                 "offramp, regulated-transfer (the parameter may repeat)";

/* One ?products value: its names join req->products. The parameter may repeat
 * (?products=onramp&products=offramp, what generated clients send), mixed with the comma form. */
static const char *parse_products(struct kg_req *req, const char *raw)
{
	char buf[KG_MAX_QUERY_VALUE_BYTES + 1];
	size_t n = 0;
	unsigned mask = 0;

	if (kg_pct_decode(raw, strlen(raw), buf, sizeof(buf), &n) != KG_OK || n == 0 ||
	    kg_products_parse(buf, n, &mask) != KG_OK)
		return D_PRODUCTS;
	req->products |= mask;
	return NULL;
}

static const char *parse_country(struct kg_req *req, const char *raw)
{
	char buf[KG_MAX_QUERY_VALUE_BYTES + 1];

	if (!kg_handle_query_decode(raw, buf, sizeof(buf)) || !kg_country_valid(buf, strlen(buf)))
		return "country: an ISO 3166-1 alpha-2 code in upper case";
	memcpy(req->country, buf, 3);
	return NULL;
}

/* ?wait=N: a run of decimal digits, of any length; more than verification.max_wait_s (at most
 * 300) is clamped to it (design §2). A sign, a fraction or an empty value is a 400. */
static const char *parse_wait(struct kg_req *req, const char *raw)
{
	unsigned long long n = 0;
	size_t i;

	for (i = 0; raw[i] >= '0' && raw[i] <= '9'; i++) {
		if (n < 1000000) /* past any max_wait_s: stop growing, keep reading digits */
			n = n * 10 + (unsigned long long)(raw[i] - '0');
	}
	if (i == 0 || raw[i] != '\0')
		return "wait: an integer number of seconds from 0";
	req->wait_given = true;
	req->wait_s =
	    n > req->cfg->verification.max_wait_s ? req->cfg->verification.max_wait_s : (unsigned)n;
	req->wait_deadline_ms = req->started_ms + 1000ull * req->wait_s;
	return NULL;
}

const char *kg_verification_products(struct kg_req *req, const char *raw)
{
	return parse_products(req, raw);
}

const struct kg_query_param kg_verification_query[] = {
    {.name = "products", .parse = parse_products, .repeats = true},
    {.name = "country", .parse = parse_country},
    {.name = "wait", .parse = parse_wait},
    {.name = NULL},
};

/* ---- the answer ---------------------------------------------------------------------------- */

/* The normalized view of a status answer for this request; the bytes become the reply. */
bool kg_verification_view(struct kg_req *req, struct kg_answer *a, bool *in_review)
{
	struct kg_view v = {
	    .locator = kg_handle_param(req, KG_PARAM_LOCATOR, NULL),
	    .environment = kg_env_name(req->gw->environment),
	    .products = req->products,
	    .country = req->country[0]      ? req->country
	               : req->remembered[0] ? req->remembered
	                                    : NULL,
	    .cache_ttl_ms = req->cfg->verification.cache_ttl_ms,
	    .budget_wait_s = req->call ? req->call->budget_wait_s : 0, /* none while waiting */
	};
	const char *detail = NULL;
	char *bytes = NULL;
	size_t len = 0;
	enum kg_err e = kg_answer_view(a, &v, &bytes, &len, in_review, &detail);

	if (e == KG_ERR_UPSTREAM) {
		/* Counted once per upstream answer: by the read that fetched it, not by the reads
		 * that shared or reused it (as count_upstream). */
		if (!req->call->shared && !req->call->cached)
			kg_metrics_upstream_error(KG_UPERR_INVALID_RESPONSE);
		kg_reply_problem(req, KG_PB_UPSTREAM_INVALID, 0, detail, NULL);
		return false;
	}
	if (e != KG_OK) {
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
		return false;
	}
	kg_reply_json(req, 200, bytes, len);
	return true;
}

#define LAST_READ_MARGIN_MS 100

/* Hands the request to the engine as a waiter on its user (kg_upstream_wait): it stays
 * suspended until a read observes another answer than its latest, or its deadline; the user's
 * waiters share one re-read schedule (250 ms doubling to 2 s, the last just before a deadline).
 * The call is freed meanwhile (kg_handle_wait_end makes one of the outcome). False when the wait
 * is over. */
static bool next_poll(struct kg_req *req)
{
	unsigned long long now = kg_now_ms();
	const char *loc = kg_handle_param(req, KG_PARAM_LOCATOR, NULL);

	if (req->wait_deadline_ms <= now + LAST_READ_MARGIN_MS ||
	    kg_longpoll_client_gone(req->fd) || loc == NULL)
		return false;
	if (req->wait_path == NULL) {
		size_t n = strnlen(req->call->path, sizeof(req->call->path));

		req->wait_path = malloc(n + 1);
		if (req->wait_path == NULL)
			return false; /* the latest state is answered now */
		memcpy(req->wait_path, req->call->path, n);
		req->wait_path[n] = '\0';
	}
	kg_req_call_free(req);
	/* The query was parsed into products, country and wait: a waiter keeps none of it. */
	kg_req_capture_free(req);
	req->wait = (struct kg_up_wait){
	    .user_key = loc,
	    .path = req->wait_path,
	    .request_id = req->request_id,
	    .traceparent = req->traceparent,
	    .tracestate = req->tracestate ? req->tracestate : "",
	    .seen = req->latest,
	    .client_fd = req->fd,
	    .deadline_ms = req->wait_deadline_ms,
	};
	req->in_wait = true;
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
	kg_reply_clear(&req->reply);
	return true;
}

/* A status answer arrived (or a waiter's deadline passed): answer, or keep waiting. */
static bool status_answer(struct kg_req *req)
{
	struct kg_answer *a = req->call->answer;
	bool in_review = false;

	if (req->latest != NULL && (req->call->result != KG_UP_OK || a == NULL ||
	                            kg_answer_status(a) < 200 || kg_answer_status(a) >= 300)) {
		/* Mid-wait: a deadline, a failed re-read or shutdown answers the latest state. */
		kg_verification_view(req, req->latest, &in_review);
		return false;
	}
	if (kg_handle_up_problem(req))
		return false;
	if (!kg_verification_view(req, a, &in_review))
		return false;
	return keep_waiting(req, a, in_review);
}

/* A trigger answer without a valid eligibility list is followed by one status read. */
static bool follow_up_read(struct kg_req *req)
{
	req->followup_read = true;
	kg_up_call_cleanup(req->call);
	req->call->kind = KG_CALL_STATUS_READ;
	req->call->method = "GET";
	req->call->body = NULL;
	req->call->body_len = 0;
	/* Crossmint accepted the trigger: this read is not refused for budget. */
	req->call->force_budget = true;
	return true;
}

/* Crossmint accepted the trigger: the user's automatic watch starts or is renewed (design §10);
 * a (or NULL) is the first status answer after it, which may show the user settled already. */
static void ask_watch(struct kg_req *req, struct kg_answer *a)
{
	req->watched = kg_watch_triggered(req, a);
	req->watch_asked = true;
}

/* The trigger's 200 answer carries "watched" (false past max_watches or without a store): the
 * normalized object's closing brace becomes ,"watched":...}. */
static void add_watched(struct kg_req *req)
{
	static const char t[] = ",\"watched\":true}", f[] = ",\"watched\":false}";
	struct kg_reply *r = &req->reply;
	const char *add = req->watched ? t : f;
	size_t n = req->watched ? sizeof(t) - 1 : sizeof(f) - 1;
	char *body;

	if (!req->watch_asked || r->status != 200 || r->is_static || r->len < 2 ||
	    r->body[r->len - 1] != '}')
		return;
	body = malloc(r->len - 1 + n + 1);
	if (body == NULL)
		return; /* the answer goes out without it rather than not at all */
	memcpy(body, r->body, r->len - 1);
	memcpy(body + r->len - 1, add, n + 1);
	kg_wipe(r->body, r->len);
	free(r->body);
	r->body = body;
	r->len = r->len - 1 + n;
}

/* The trigger's own answer, normalized when it holds eligibility. */
static bool trigger_answer(struct kg_req *req)
{
	struct json_object *obj;
	struct kg_answer *a;
	bool present, in_review;

	if (req->call->resp_len == 0)
		return follow_up_read(req);
	obj = kg_handle_up_object(req);
	if (obj == NULL)
		return false;
	present = kg_eligibility_present(obj);
	json_object_put(obj);
	if (!present) {
		/* Asked now, so the watch exists before the follow-up read is observed. */
		ask_watch(req, NULL);
		return follow_up_read(req);
	}
	a = kg_answer_new(req->call->status, req->call->resp, req->call->resp_len,
	                  req->call->retry_after_s, time(NULL));
	req->call->resp = NULL;
	req->call->resp_len = req->call->resp_cap = 0;
	if (a == NULL) {
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
		return false;
	}
	/* The watch first: its store job then runs before the observation's. */
	ask_watch(req, a);
	/* The trigger's answer holds eligibility: an observation too (design §10), read from when
	 * the request began (the wall clock of its monotonic start). */
	kg_events_observe(req->gw, kg_handle_param(req, KG_PARAM_LOCATOR, NULL), a,
	                  kg_wall_ms() - (kg_now_ms() - req->started_ms));
	if (!kg_verification_view(req, a, &in_review)) {
		kg_answer_put(a);
		return false;
	}
	/* ?wait on the trigger: re-read while a product in scope is in review. */
	in_review = keep_waiting(req, a, in_review);
	kg_answer_put(a);
	return in_review;
}

bool kg_verification_get_answer(struct kg_req *req)
{
	return status_answer(req);
}

/* The trigger's answer, or (after it) the status read that follows it or a long-poll re-read. */
bool kg_verification_trigger_answer(struct kg_req *req)
{
	bool more;

	if (req->call->kind == KG_CALL_STATUS_READ) {
		/* The follow-up read: what it saw applies to the watch asked for before it. */
		if (req->followup_read && req->latest == NULL && req->call->result == KG_UP_OK &&
		    req->call->answer != NULL && kg_answer_status(req->call->answer) == 200)
			ask_watch(req, req->call->answer);
		more = status_answer(req);
	} else if (kg_handle_up_problem(req)) {
		return false;
	} else {
		more = trigger_answer(req);
	}
	if (!more)
		add_watched(req);
	return more;
}
