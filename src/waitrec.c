/* A long-poll waiter's record (struct kg_waitrec, gateway.h): while a request waits in the
 * engine it keeps only what its answer, its access line and its end need, and its struct kg_req
 * is freed (server.c's go_wait). When the wait ends the request is rebuilt from the record, its
 * route matched again on the head's path, and runs as any resumed request.
 *
 * A waiter comes from a status read or a trigger that answered in review (routes_verification.c):
 * by then its body, upstream body, query, call and reply are spent, and its only path parameter
 * is the locator. What a waiter never has (a work route's state, a document's expiry, a PUT's
 * erase guard) is not kept. */
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "routes.h"

void kg_waitrec_take(struct kg_waitrec *rec, struct kg_req *req)
{
	size_t i;

	*rec = (struct kg_waitrec){
	    .ctx_kind = KG_CTX_WAITREC,
	    .state = req->state,
	    .conn = req->conn,
	    .cfgref = req->cfgref,
	    .client = req->client,
	    .url = req->head.url,
	    .outcome = req->outcome,
	    .idem = req->idem,
	    .latest = req->latest,
	    .path = req->wait_path,
	    .started_ms = req->started_ms,
	    .started_us = req->started_us,
	    .wait = req->wait,
	    .limit = req->limit,
	    .products = req->products,
	    .wait_s = req->wait_s,
	    .status = req->reply.status,
	    .metrics_only = req->metrics_only,
	    .suspended_counted = req->suspended_counted,
	    .waiting_counted = req->waiting_counted,
	    .followup_read = req->followup_read,
	    .watch_asked = req->watch_asked,
	    .watched = req->watched,
	    .idem_claimed = req->idem_claimed,
	};
	memcpy(rec->new_request_id, req->new_request_id, sizeof(rec->new_request_id));
	memcpy(rec->traceparent, req->traceparent, sizeof(rec->traceparent));
	memcpy(rec->method, req->method, sizeof(rec->method));
	memcpy(rec->country, req->country, sizeof(rec->country));
	memcpy(rec->remembered, req->remembered, sizeof(rec->remembered));
	for (i = 0; req->params_ok && i < req->match.n_params; i++) {
		if (req->match.params[i].kind == KG_PARAM_LOCATOR && rec->loc == NULL) {
			rec->loc = req->params[i];
			req->params[i] = NULL;
		}
	}
	/* The engine reads the record's copies, not the request's. */
	rec->wait.user_key = rec->loc;
	rec->wait.path = rec->path;
	rec->wait.seen = rec->latest;
	rec->wait.traceparent = rec->traceparent;
	if (req->request_id == req->new_request_id)
		rec->wait.request_id = rec->new_request_id;
	else
		rec->wait.request_id = req->request_id;
	rec->wait.tracestate = req->tracestate != NULL ? req->tracestate : "";
	/* What moved is no longer the request's to give back. */
	req->cfgref = NULL;
	req->idem = NULL;
	req->latest = NULL;
	req->wait_path = NULL;
	req->wait.answer = NULL;
	req->suspended_counted = false;
	req->waiting_counted = false;
	req->idem_claimed = false;
}

/* The locator goes back to the parameter the route names it in; a route that names none (never
 * a waiter's) gets it wiped. */
static void give_locator(struct kg_req *req, struct kg_waitrec *rec)
{
	size_t i;

	for (i = 0; rec->loc != NULL && i < req->match.n_params; i++) {
		if (req->match.params[i].kind == KG_PARAM_LOCATOR) {
			req->params[i] = rec->loc;
			req->param_len[i] = strlen(rec->loc);
			rec->loc = NULL;
		}
	}
	if (rec->loc != NULL) {
		kg_wipe(rec->loc, strlen(rec->loc));
		free(rec->loc);
		rec->loc = NULL;
	}
	req->params_ok = true;
}

void kg_waitrec_give(struct kg_req *req, struct kg_waitrec *rec, struct kg_gateway *gw, void **ctx)
{
	req->ctx_kind = KG_CTX_REQ;
	req->state = rec->state;
	req->gw = gw;
	req->conn = rec->conn;
	req->ctx = ctx;
	req->cfgref = rec->cfgref;
	req->cfg = kg_runtime_cfg(rec->cfgref);
	req->client = rec->client;
	req->limit = rec->limit;
	req->started_ms = rec->started_ms;
	req->started_us = rec->started_us;
	req->outcome = rec->outcome;
	req->idem = rec->idem;
	req->latest = rec->latest;
	req->wait_path = rec->path;
	req->head.url = rec->url;
	req->reply.status = rec->status;
	req->products = rec->products;
	req->wait_s = rec->wait_s;
	req->wait_given = true;
	req->wait_deadline_ms = rec->wait.deadline_ms;
	req->fd = rec->wait.client_fd;
	memcpy(req->new_request_id, rec->new_request_id, sizeof(req->new_request_id));
	memcpy(req->traceparent, rec->traceparent, sizeof(req->traceparent));
	memcpy(req->method, rec->method, sizeof(req->method));
	memcpy(req->country, rec->country, sizeof(req->country));
	memcpy(req->remembered, rec->remembered, sizeof(req->remembered));
	req->request_id = rec->wait.request_id == rec->new_request_id ? req->new_request_id
	                                                              : rec->wait.request_id;
	req->tracestate = rec->wait.tracestate[0] != '\0' ? rec->wait.tracestate : NULL;
	req->metrics_only = rec->metrics_only;
	req->suspended_counted = rec->suspended_counted;
	req->waiting_counted = rec->waiting_counted;
	req->followup_read = rec->followup_read;
	req->watch_asked = rec->watch_asked;
	req->watched = rec->watched;
	req->idem_claimed = rec->idem_claimed;
	req->in_wait = rec->state == KG_REQ_UPSTREAM;
	kg_route_match(rec->url, rec->method, &req->match);
	give_locator(req, rec);
	/* The outcome of the wait (result, answer) with the request's own strings. */
	req->wait = rec->wait;
	req->wait.user_key = kg_handle_param(req, KG_PARAM_LOCATOR, NULL);
	req->wait.path = req->wait_path;
	req->wait.seen = req->latest;
	req->wait.traceparent = req->traceparent;
	req->wait.request_id = req->request_id;
	memset(rec, 0, sizeof(*rec));
}
