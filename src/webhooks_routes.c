/* GET /v1/webhooks and POST /v1/webhooks/{webhookName}/retry (scope webhooks.manage, design
 * §10): local routes that read the store through a store job, the request suspended meanwhile
 * (server.c runs req->local_job and then req->local_answer). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "reply.h"
#include "webhooks.h"

/* 503 store-disabled or store-unavailable into req->reply (false), or true to go on. */
static bool store_ready(struct kg_req *req)
{
	if (req->gw->store == NULL || req->gw->webhooks == NULL) {
		kg_reply_problem(req, KG_PB_STORE_DISABLED, 0,
		                 "webhooks need the store (store.driver is none)", NULL);
		return false;
	}
	if (!kg_store_up(req->gw->store)) {
		kg_reply_problem(req, KG_PB_STORE_UNAVAILABLE, 0,
		                 "the store that keeps webhook deliveries is not available", NULL);
		return false;
	}
	return true;
}

static void prepare(struct kg_req *req, int (*run)(struct sqlite3 *, struct kg_store_job *),
                    void (*answer)(struct kg_req *))
{
	memset(&req->local_job, 0, sizeof(req->local_job));
	req->local_job.op = KG_STORE_RUN;
	req->local_job.run = run;
	req->local_job.owner = req;
	req->local_answer = answer;
}

/* The job's JSON as the 200, or 503 store-unavailable. */
static void answer_json(struct kg_req *req)
{
	struct kg_store_job *job = &req->local_job;

	if (job->result != KG_STORE_OK || job->body == NULL) {
		kg_reply_problem(req, KG_PB_STORE_UNAVAILABLE, 0,
		                 "the store that keeps webhook deliveries is not available", NULL);
		return;
	}
	kg_reply_json(req, 200, job->body, job->body_len);
	job->body = NULL; /* the reply owns it now */
	job->body_len = 0;
}

void kg_webhooks_route_list(struct kg_req *req)
{
	if (store_ready(req))
		prepare(req, kg_webhooks_list_run, answer_json);
}

static void answer_retry(struct kg_req *req)
{
	struct kg_store_job *job = &req->local_job;
	char buf[160];
	int n;

	if (job->result != KG_STORE_OK) {
		kg_reply_problem(req, KG_PB_STORE_UNAVAILABLE, 0,
		                 "the store that keeps webhook deliveries is not available", NULL);
		return;
	}
	n = snprintf(buf, sizeof(buf), "{\"webhook\":\"%s\",\"requeued\":%d}", job->client,
	             job->status);
	job->body = strndup(buf, (size_t)n);
	job->body_len = job->body != NULL ? (size_t)n : 0;
	if (job->body == NULL) {
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
		return;
	}
	answer_json(req);
}

/* A configured name is [A-Za-z0-9_.-]{1,64}: anything else names no endpoint. */
static bool name_ok(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return false;
	return n >= 1 && n < sizeof(((struct kg_store_job *)0)->client);
}

void kg_webhooks_route_retry(struct kg_req *req)
{
	const struct kg_raw_param *p = &req->match.params[0];
	char name[sizeof(req->local_job.client)];

	if (!store_ready(req))
		return;
	if (req->match.n_params != 1 || !name_ok(p->raw, p->len)) {
		kg_reply_problem(req, KG_PB_NOT_FOUND, 0, "no webhook endpoint of that name", NULL);
		return;
	}
	memcpy(name, p->raw, p->len);
	name[p->len] = '\0';
	if (!kg_webhooks_known(req->gw, name)) {
		kg_reply_problem(req, KG_PB_NOT_FOUND, 0,
		                 "no webhook endpoint of that name is configured", NULL);
		return;
	}
	prepare(req, kg_webhooks_retry_run, answer_retry);
	memcpy(req->local_job.client, name, p->len + 1);
}
