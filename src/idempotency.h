/* Private to the request path: Idempotency-Key on the write routes (design §10, "Idempotency").
 *
 * The step runs between the body phase and the upstream call, once the request is known to be
 * valid: the key is checked (1-255 visible ASCII), the request's fingerprint taken (method, the
 * concrete path with its query, the SHA-256 of the body), and a store job claims (client, key)
 * or finds its answer. The request is suspended while the job runs and resumed with its result,
 * as the upstream engine does; no request thread waits on SQLite. The first definitive answer
 * (a 2xx, or a 4xx other than 408 and 429) is stored when it is sent; any other answer drops the
 * claim, so the caller may retry with the same key. */
#ifndef KYCGATE_IDEMPOTENCY_H
#define KYCGATE_IDEMPOTENCY_H

#include <stdbool.h>

struct kg_req;

enum kg_idem_step {
	KG_IDEM_GO = 0, /* no key (or not a write route), or the key is claimed: go upstream */
	KG_IDEM_REPLY,  /* req->reply holds the answer (a replay, or a problem) */
	KG_IDEM_STORE,  /* req->idem is a prepared store job: suspend, then kg_idem_submit */
};

/* Checks the request's Idempotency-Key and prepares the claim. Request thread. */
enum kg_idem_step kg_idem_begin(struct kg_req *req);

/* Hands the prepared job to the store; its end resumes the connection (state
 * KG_REQ_STORE_DONE). Call after suspending. Request thread. */
void kg_idem_submit(struct kg_req *req);

/* After the resume: GO (claimed) or REPLY (replay, 409, 422, 503). Request thread. */
enum kg_idem_step kg_idem_resumed(struct kg_req *req);

/* The reply is being sent: a claim held by req is completed with it (definitive) or dropped.
 * Called by kg_reply_send. */
void kg_idem_answered(struct kg_req *req);

/* The request ends: a claim still held (no answer was sent) is dropped; a replayed body still
 * held is wiped. Called when the request is freed. */
void kg_idem_end(struct kg_req *req);

#endif
