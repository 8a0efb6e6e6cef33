/* Idempotency-Key on the write routes (design §10): the key's check, the request's fingerprint,
 * the claim through a store job (the request suspended meanwhile), the replay, and the stored
 * answer. See idempotency.h for the contract.
 *
 * Stored answers may hold personal data (a user's record as Crossmint returned it): the copies
 * made here are wiped when freed, and the store deletes them (secure_delete) after
 * events.idempotency_ttl_h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "idempotency.h"
#include "kycgate/buf.h"
#include "kycgate/sha256.h"

/* A FINISH or ABANDON job that outlives its request: it owns a copy of the answer. */
struct idem_after {
	struct kg_store_job job;
	char *body;
	size_t len;
};

static bool key_ok(const char *k)
{
	size_t i;

	for (i = 0; k[i] != '\0'; i++)
		if ((unsigned char)k[i] < 0x21 || (unsigned char)k[i] > 0x7e ||
		    i >= KG_STORE_MAX_KEY_BYTES)
			return false;
	return i > 0;
}

/* SHA-256 over the method, the concrete path with its raw query, and the body's SHA-256. */
static bool fingerprint(const struct kg_req *req, unsigned char out[KG_STORE_FINGERPRINT_LEN])
{
	unsigned char body[KG_SHA256_DIGEST_LEN];
	struct kg_buf b;
	size_t i;
	bool ok;

	if (kg_sha256(req->body, req->body_len, body) != KG_OK)
		return false;
	kg_buf_init(&b, 16384);
	kg_buf_add_str(&b, req->method);
	kg_buf_add(&b, " ", 1);
	kg_buf_add_str(&b, req->head.url ? req->head.url : "");
	for (i = 0; i < req->n_query; i++) {
		kg_buf_add(&b, i == 0 ? "?" : "&", 1);
		kg_buf_add_str(&b, req->query[i].name);
		if (req->query[i].value != NULL) {
			kg_buf_add(&b, "=", 1);
			kg_buf_add_str(&b, req->query[i].value);
		}
	}
	kg_buf_add(&b, "\n", 1);
	kg_buf_add(&b, body, sizeof(body));
	ok = !b.failed && kg_sha256(b.data, b.len, out) == KG_OK;
	kg_buf_cleanup(&b);
	return ok;
}

/* Store thread: the claim's result is in; the request runs again. */
static void on_claimed(struct kg_store_job *job)
{
	struct kg_req *req = job->owner;

	req->state = KG_REQ_STORE_DONE;
	MHD_resume_connection(req->conn);
}

enum kg_idem_step kg_idem_begin(struct kg_req *req)
{
	const char *key = req->head.idempotency_key;
	struct kg_store_job *job;

	if (!req->match.route->idempotent || key == NULL)
		return KG_IDEM_GO;
	if (!key_ok(key)) {
		kg_reply_problem(req, KG_PB_INVALID_REQUEST, 0,
		                 "Idempotency-Key must be 1 to 255 visible ASCII characters", NULL);
		return KG_IDEM_REPLY;
	}
	if (req->gw->store == NULL) {
		kg_reply_problem(req, KG_PB_STORE_DISABLED, 0,
		                 "Idempotency-Key needs the store (store.driver is none)", NULL);
		return KG_IDEM_REPLY;
	}
	/* Allocated only here: most requests carry no key, and a long-poll waiter never does. */
	if (req->idem == NULL && (req->idem = malloc(sizeof(*req->idem))) == NULL) {
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
		return KG_IDEM_REPLY;
	}
	job = req->idem;
	memset(job, 0, sizeof(*job));
	if (!fingerprint(req, job->fingerprint)) { /* out of memory, or GnuTLS failing */
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0,
		                 "the gateway cannot take this request now", NULL);
		return KG_IDEM_REPLY;
	}
	job->op = KG_STORE_IDEM_BEGIN;
	job->done = on_claimed;
	job->owner = req;
	job->ttl_ms = (unsigned long long)req->cfg->events.idempotency_ttl_h * 3600000ull;
	snprintf(job->client, sizeof(job->client), "%s", req->client ? req->client->name : "");
	snprintf(job->key, sizeof(job->key), "%s", key);
	return KG_IDEM_STORE;
}

void kg_idem_submit(struct kg_req *req)
{
	req->state = KG_REQ_STORE;
	if (kg_store_submit(req->gw->store, req->idem) != KG_OK) {
		req->idem->result = KG_STORE_DOWN; /* the queue is full: as unavailable */
		on_claimed(req->idem);
	}
}

/* The stored answer as req's reply, marked Idempotent-Replayed. */
static void replay(struct kg_req *req)
{
	struct kg_store_job *job = req->idem;
	const char *ctype = NULL;

	if (strcmp(job->content_type, "application/json") == 0)
		ctype = "application/json";
	else if (strcmp(job->content_type, "application/problem+json") == 0)
		ctype = "application/problem+json";
	if (job->status == 204 || job->body_len == 0) {
		kg_reply_empty(req, job->status);
		kg_store_job_cleanup(job);
	} else {
		kg_reply_owned(req, job->status, ctype, job->body, job->body_len);
		job->body = NULL; /* the reply owns it now */
		job->body_len = 0;
	}
	req->reply.replayed = true;
	req->outcome = "replayed";
}

enum kg_idem_step kg_idem_resumed(struct kg_req *req)
{
	switch (req->idem->result) {
	case KG_STORE_OK:
		req->idem_claimed = true;
		return KG_IDEM_GO;
	case KG_STORE_REPLAY:
		replay(req);
		break;
	case KG_STORE_REUSED:
		kg_reply_problem(
		    req, KG_PB_IDEM_REUSED, 0,
		    "this Idempotency-Key was used for a different request (method, path, "
		    "query or body)",
		    NULL);
		break;
	case KG_STORE_IN_FLIGHT:
		kg_reply_problem(req, KG_PB_IDEM_IN_FLIGHT, 0,
		                 "the first request with this Idempotency-Key has not ended; retry "
		                 "after it did",
		                 NULL);
		req->reply.retry_after_s = 1;
		break;
	case KG_STORE_DOWN:
		kg_reply_problem(
		    req, KG_PB_STORE_UNAVAILABLE, 0,
		    "the store that keeps Idempotency-Key answers is not available; retry "
		    "later or without the key",
		    NULL);
		break;
	}
	return KG_IDEM_REPLY;
}

static void after_done(struct kg_store_job *job)
{
	struct idem_after *a = job->owner;

	if (a->body != NULL)
		kg_wipe(a->body, a->len);
	free(a->body);
	kg_wipe(a, sizeof(*a)); /* its job is a copy of the request's: the key, the client */
	free(a);
}

/* A 2xx, or a 4xx other than 408 and 429: the same request would get it again. */
static bool definitive(int status)
{
	return (status >= 200 && status < 300) ||
	       (status >= 400 && status < 500 && status != 408 && status != 429);
}

void kg_idem_answered(struct kg_req *req)
{
	const struct kg_reply *r = &req->reply;
	struct idem_after *a;

	if (!req->idem_claimed)
		return;
	req->idem_claimed = false;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return; /* the claim stays until the next start: the key answers 409 until then */
	a->job = *req->idem;
	a->job.owner = a;
	a->job.done = after_done;
	a->job.op = KG_STORE_IDEM_ABANDON;
	if (definitive(r->status) && r->len <= KG_STORE_MAX_ANSWER_BYTES &&
	    (r->len == 0 || (a->body = malloc(r->len)) != NULL)) {
		if (r->len > 0)
			memcpy(a->body, r->body, r->len);
		a->len = r->len;
		a->job.op = KG_STORE_IDEM_FINISH;
		a->job.answer_status = r->status;
		a->job.answer_type = r->content_type; /* static */
		a->job.answer_body = a->body;
		a->job.answer_len = a->len;
	}
	if (kg_store_submit(req->gw->store, &a->job) != KG_OK)
		after_done(&a->job);
}

void kg_idem_end(struct kg_req *req)
{
	if (req->idem != NULL)
		kg_store_job_cleanup(req->idem);
	/* A claim still held here ended without an answer (the upstream exchange never came back
	 * to the request): dropped, so the caller may retry with the key. A caller that timed out
	 * and left is answered all the same (libmicrohttpd runs the request after the resume
	 * before it notices the closed socket), so its answer is kept. */
	req->reply.status = 0;
	kg_idem_answered(req);
	if (req->idem != NULL) {
		kg_wipe(req->idem, sizeof(*req->idem)); /* the key, the client, the fingerprint */
		free(req->idem);
		req->idem = NULL;
	}
}
