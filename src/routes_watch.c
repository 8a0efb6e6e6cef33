/* The watch routes (design §10, "Watches"): PUT, GET and DELETE /v1/users/{userLocator}/watch.
 * Work routes (router.h): answered from the store, never from Crossmint; the request is
 * suspended while its job runs on the store thread (watch.c, kg_watch_route_run) and answered
 * from the job's result. DELETE answers 204 (the watch is gone: nothing left to show). Their
 * rows are in router.c. */
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "reply.h"
#include "routes.h"
#include "watch.h"

const struct kg_query_param kg_watch_put_query[] = {
    {.name = "products", .parse = kg_verification_products, .repeats = true},
    {.name = NULL},
};

/* The request's work: its store job, whose answer bytes (job.body) hold personal data. */
static void work_end(struct kg_req *req)
{
	struct kg_store_job *job = req->work;

	kg_store_job_cleanup(job);
	free(job);
	req->work = NULL;
	req->work_end = NULL;
}

bool kg_watch_begin(struct kg_req *req)
{
	struct kg_store_job *job;

	if (req->gw->store == NULL) {
		kg_reply_problem(req, KG_PB_STORE_DISABLED, 0,
		                 "watches need the store (store.driver is none)", NULL);
		return false;
	}
	job = calloc(1, sizeof(*job));
	if (job == NULL) {
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
		return false;
	}
	job->op = KG_STORE_RUN;
	job->run = kg_watch_route_run;
	job->owner = req;
	req->work = job;
	req->work_end = work_end;
	return true;
}

/* Store thread: the job ended; the request runs again. */
static void job_done(struct kg_store_job *job)
{
	kg_req_wake(job->owner);
}

void kg_watch_submit(struct kg_req *req)
{
	struct kg_store_job *job = req->work;

	job->done = job_done;
	if (kg_store_submit(req->gw->store, job) != KG_OK) {
		job->result = KG_STORE_DOWN; /* a full queue: as a store that is down */
		kg_req_wake(req);
	}
}

bool kg_watch_resumed(struct kg_req *req)
{
	struct kg_store_job *job = req->work;

	if (job->result == KG_STORE_DOWN) {
		kg_reply_problem(req, KG_PB_STORE_UNAVAILABLE, 0,
		                 "the store that keeps watches is not available; retry later",
		                 NULL);
		req->reply.retry_after_s = 5; /* as the feed's and GET /v1/users' */
	} else if (job->status == 200 && job->body != NULL) {
		kg_reply_json(req, 200, job->body, job->body_len);
		job->body = NULL; /* the reply owns it now */
		job->body_len = 0;
	} else if (job->status == 204) {
		kg_reply_empty(req, 204);
	} else if (job->status == 503) {
		kg_reply_problem(req, KG_PB_WATCH_CAPACITY, 0,
		                 "events.watch.max_watches users are watched already", NULL);
	} else {
		kg_reply_problem(req, KG_PB_NOT_WATCHED, 0, "this user has no watch", NULL);
	}
	return false;
}
