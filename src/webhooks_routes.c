/* GET /v1/webhooks and POST /v1/webhooks/{webhookName}/retry (scope webhooks.manage, design
 * §10): work routes (router.h) answered by one store job (routes_store.c), the request suspended
 * meanwhile. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "reply.h"
#include "kycgate/validate.h"
#include "routes.h"
#include "webhooks.h"

/* 503 store-unavailable into req->reply (false) while the store is down, else true. */
static bool store_up(struct kg_req *req)
{
	if (kg_store_up(req->gw->store))
		return true;
	kg_reply_problem(req, KG_PB_STORE_UNAVAILABLE, 0,
	                 "the store that keeps webhook deliveries is not available", NULL);
	req->reply.retry_after_s = 5; /* as the other routes that need the store */
	return false;
}

/* A new store job running run (work_begin's part), or NULL with req->reply filled. */
static struct kg_store_job *begin(struct kg_req *req,
                                  int (*run)(struct sqlite3 *, struct kg_store_job *))
{
	if (req->gw->webhooks == NULL || req->gw->store == NULL) {
		kg_reply_problem(req, KG_PB_STORE_DISABLED, 0,
		                 "webhooks need the store (store.driver is none)", NULL);
		return NULL;
	}
	if (!store_up(req))
		return NULL;
	return kg_store_route_begin(req, run, "webhooks need the store (store.driver is none)");
}

/* The job's JSON as the 200, or 503 store-unavailable. */
static void answer_json(struct kg_req *req, struct kg_store_job *job)
{
	if (job->result != KG_STORE_OK || job->body == NULL) {
		kg_reply_problem(req, KG_PB_STORE_UNAVAILABLE, 0,
		                 "the store that keeps webhook deliveries is not available", NULL);
		req->reply.retry_after_s = 5;
		return;
	}
	kg_reply_json(req, 200, job->body, job->body_len);
	job->body = NULL; /* the reply owns it now */
	job->body_len = 0;
}

bool kg_webhooks_list_begin(struct kg_req *req)
{
	return begin(req, kg_webhooks_list_run) != NULL;
}

bool kg_webhooks_list_resumed(struct kg_req *req)
{
	answer_json(req, kg_store_route_job(req));
	return false;
}

_Static_assert(KG_NAME_MAX_BYTES <= KG_STORE_MAX_CLIENT_BYTES,
               "a webhook name fits a job's client");

bool kg_webhooks_retry_begin(struct kg_req *req)
{
	struct kg_store_job *job;

	/* The name's grammar was checked with the path (400); here: is it configured? */
	if (!kg_webhooks_known(req->gw, req->params[0])) {
		kg_reply_problem(req, KG_PB_NOT_FOUND, 0,
		                 "no webhook endpoint of that name is configured", NULL);
		return false;
	}
	job = begin(req, kg_webhooks_retry_run);
	if (job == NULL)
		return false;
	/* kg_name_valid held it to KG_NAME_MAX_BYTES, which the job's field holds */
	memcpy(job->client, req->params[0], req->param_len[0] + 1);
	return true;
}

bool kg_webhooks_retry_resumed(struct kg_req *req)
{
	struct kg_store_job *job = kg_store_route_job(req);
	char buf[160];
	int n;

	if (job->result != KG_STORE_OK) {
		answer_json(req, job);
		return false;
	}
	n = snprintf(buf, sizeof(buf), "{\"webhook\":\"%s\",\"requeued\":%d}", job->client,
	             job->status);
	job->body = strndup(buf, (size_t)n);
	job->body_len = job->body != NULL ? (size_t)n : 0;
	if (job->body == NULL) {
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
		return false;
	}
	answer_json(req, job);
	return false;
}
