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

bool kg_watch_begin(struct kg_req *req)
{
	return kg_store_route_begin(req, kg_watch_route_run,
	                            "watches need the store (store.driver is none)") != NULL;
}

bool kg_watch_resumed(struct kg_req *req)
{
	struct kg_store_job *job = kg_store_route_job(req);

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
