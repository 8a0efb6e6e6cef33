/* The routes the gateway answers itself: /healthz, /readyz, /openapi.yaml, /metrics. Their rows
 * are in router.c (which listener serves each is in the row). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kycgate/metrics.h"
#include "gateway.h"
#include "reply.h"
#include "routes.h"

void kg_local_healthz(struct kg_req *req)
{
	static const char healthy[] = "{\"status\":\"ok\"}";

	kg_reply_static(req, 200, "application/json", healthy, sizeof(healthy) - 1);
}

/* 200 ready, or 503 once draining (SIGTERM seen). */
void kg_local_readyz(struct kg_req *req)
{
	bool ready = !atomic_load(&req->gw->draining);
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "{\"status\":\"%s\",\"environment\":\"%s\"}",
	                 ready ? "ready" : "draining", kg_env_name(req->gw->environment));
	char *body = strndup(buf, (size_t)n);

	if (body == NULL) {
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
		return;
	}
	kg_reply_json(req, ready ? 200 : 503, body, (size_t)n);
}

void kg_local_openapi(struct kg_req *req)
{
	kg_reply_static(req, 200, "application/yaml", req->gw->openapi, req->gw->openapi_len);
}

/* The Prometheus page; 404 when metrics are disabled. */
void kg_local_metrics(struct kg_req *req)
{
	size_t len = 0;
	char *body;

	if (!req->cfg->metrics.enabled) {
		kg_reply_problem(req, KG_PB_NOT_FOUND, 0, "metrics are disabled", NULL);
		return;
	}
	body = kg_metrics_render(&len);
	kg_reply_owned(req, 200, "text/plain; version=0.0.4; charset=utf-8", body, len);
	if (req->reply.body == NULL)
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
}
