/* What the routes answered from the store share (the watch routes, the webhook routes): a work
 * route (router.h) whose work is one KG_STORE_RUN job. work_begin allocates the job with
 * kg_store_route_begin, the row's work_submit is kg_store_route_submit, and work_resumed reads
 * the result with kg_store_route_job. The job's answer bytes may hold personal data: they are
 * wiped when the request ends. */
#include <stdlib.h>

#include "gateway.h"
#include "reply.h"
#include "routes.h"

static void work_end(struct kg_req *req)
{
	struct kg_store_job *job = req->work;

	kg_store_job_cleanup(job);
	free(job);
	req->work = NULL;
	req->work_end = NULL;
}

struct kg_store_job *kg_store_route_begin(struct kg_req *req,
                                          int (*run)(struct sqlite3 *, struct kg_store_job *),
                                          const char *what)
{
	struct kg_store_job *job;

	if (req->gw->store == NULL) {
		kg_reply_problem(req, KG_PB_STORE_DISABLED, 0, what, NULL);
		return NULL;
	}
	job = calloc(1, sizeof(*job));
	if (job == NULL) {
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
		return NULL;
	}
	job->op = KG_STORE_RUN;
	job->run = run;
	job->owner = req;
	req->work = job;
	req->work_end = work_end;
	return job;
}

/* Store thread: the job ended; the request runs again. */
static void job_done(struct kg_store_job *job)
{
	kg_req_wake(job->owner);
}

void kg_store_route_submit(struct kg_req *req)
{
	struct kg_store_job *job = req->work;

	job->done = job_done;
	if (kg_store_submit(req->gw->store, job) != KG_OK) {
		job->result = KG_STORE_DOWN; /* a full queue: as a store that is down */
		kg_req_wake(req);
	}
}

struct kg_store_job *kg_store_route_job(struct kg_req *req)
{
	return req->work;
}
