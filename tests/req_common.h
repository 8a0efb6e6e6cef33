/* A request built by hand, for unit tests of the header phase (src/checks.c) and the route
 * handlers (src/handlers.c, src/routes_*.c) without a socket: a gateway struct with no daemon, a
 * config loaded from YAML, the head and the query as capture.c would have copied them, a body. */
#ifndef KYCGATE_REQ_COMMON_H
#define KYCGATE_REQ_COMMON_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "kycgate/config.h"
#include "kycgate/problem.h"
#include "routes.h"

#define RT_WRITER "Bearer writer-token-0123456789abcdef"
#define RT_READER "Bearer reader-token-0123456789abcdef"

static const char rt_yaml[] = "crossmint:\n"
                              "  environment: staging\n"
                              "  base_url: \"http://127.0.0.1:9\"\n"
                              "  api_key: \"sk_staging_unit0123456789abcdef\"\n"
                              "server:\n"
                              "  max_body_bytes: 4096\n"
                              "  max_document_bytes: 1048576\n"
                              "verification:\n"
                              "  max_wait_s: 30\n"
                              "auth:\n"
                              "  mode: tokens\n"
                              "  clients:\n"
                              "    - name: writer\n"
                              "      token: \"writer-token-0123456789abcdef\"\n"
                              "      scopes: [users.create, users.read]\n"
                              "    - name: reader\n"
                              "      token: \"reader-token-0123456789abcdef\"\n"
                              "      scopes: [users.read]\n";

struct rt {
	struct kg_gateway gw;
	struct kg_config *cfg;
	struct kg_req req;
	char path[512];  /* the raw path (the matcher borrows from it) */
	char query[512]; /* the query, split in place into args */
	struct kg_query_arg args[16];
	char content_length[24];
};

/* The config of every test of this file (loaded once per test process). */
static inline struct kg_config *rt_config(const char *yaml)
{
	struct kg_config *cfg = NULL;
	char *err = NULL;

	ck_assert_msg(kg_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, &err) == KG_OK,
	              "%s", err ? err : "");
	return cfg;
}

/* Splits "name=value&name" of t->query into t->args. */
static inline void rt_split_query(struct rt *t)
{
	char *p = t->query;

	while (*p != '\0' && t->req.n_query < sizeof(t->args) / sizeof(t->args[0])) {
		char *amp = strchr(p, '&'), *eq;

		if (amp != NULL)
			*amp = '\0';
		eq = strchr(p, '=');
		if (eq != NULL)
			*eq = '\0';
		t->args[t->req.n_query++] = (struct kg_query_arg){p, eq ? eq + 1 : NULL};
		if (amp == NULL)
			break;
		p = amp + 1;
	}
	/* Owned, as capture.c's (a long-poll waiter frees it with kg_req_capture_free). */
	t->req.query = NULL;
	if (t->req.n_query > 0) {
		t->req.query = calloc(t->req.n_query, sizeof(*t->req.query));
		ck_assert_ptr_nonnull(t->req.query);
		memcpy(t->req.query, t->args, t->req.n_query * sizeof(*t->req.query));
	}
}

/* A request "METHOD target" with the given Authorization (NULL: none), matched and ready for
 * kg_handle_headers(). */
static inline void rt_init_yaml(struct rt *t, const char *yaml, const char *method,
                                const char *target, const char *auth)
{
	const char *q = strchr(target, '?');
	size_t n = q ? (size_t)(q - target) : strlen(target);

	memset(t, 0, sizeof(*t));
	t->cfg = rt_config(yaml);
	t->gw.environment = t->cfg->crossmint.environment;
	t->gw.openapi = "openapi: 3.1.0\n";
	t->gw.openapi_len = strlen(t->gw.openapi);
	t->req.gw = &t->gw;
	t->req.cfg = t->cfg;
	t->req.fd = -1;
	t->req.request_id = t->req.new_request_id;
	t->req.outcome = "ok";
	t->req.started_ms = kg_now_ms();
	snprintf(t->req.method, sizeof(t->req.method), "%s", method);
	ck_assert_uint_lt(n, sizeof(t->path));
	memcpy(t->path, target, n);
	if (q != NULL) {
		snprintf(t->query, sizeof(t->query), "%s", q + 1);
		rt_split_query(t);
	}
	t->req.head.authorization = auth;
	kg_route_match(t->path, method, &t->req.match);
}

static inline void rt_init(struct rt *t, const char *method, const char *target, const char *auth)
{
	rt_init_yaml(t, rt_yaml, method, target, auth);
}

/* The body and its Content-Type, as declared in the head and then received. */
static inline void rt_body(struct rt *t, const char *ctype, const char *body, size_t len)
{
	t->req.head.content_type = ctype;
	snprintf(t->content_length, sizeof(t->content_length), "%zu", len);
	t->req.head.content_length = t->content_length;
	t->req.declared = true;
	t->req.declared_len = len;
	t->req.body = malloc(len + 1);
	ck_assert_ptr_nonnull(t->req.body);
	memcpy(t->req.body, body, len);
	t->req.body[len] = '\0';
	t->req.body_len = t->req.body_cap = len;
}

/* The engine's answer to the call in flight: result OK, status, a body (copied; NULL: none). */
static inline void rt_upstream(struct rt *t, long status, const char *body)
{
	kg_up_call_cleanup(t->req.call);
	t->req.call->result = KG_UP_OK;
	t->req.call->status = status;
	t->req.call->resp = body ? strdup(body) : NULL;
	t->req.call->resp_len = body ? strlen(body) : 0;
}

/* The reply is the problem code (its "type" ends with it) with this status. */
static inline void rt_problem(const struct rt *t, int status, const char *code)
{
	char type[96];

	ck_assert_int_eq(t->req.reply.status, status);
	ck_assert_str_eq(t->req.reply.content_type, "application/problem+json");
	ck_assert_str_eq(t->req.outcome, code);
	snprintf(type, sizeof(type), "\"urn:kycgate:problem:%s\"", code);
	ck_assert_msg(strstr(t->req.reply.body, type) != NULL, "%s", t->req.reply.body);
}

/* The problem's detail holds text. */
static inline void rt_detail_has(const struct rt *t, const char *text)
{
	ck_assert_msg(strstr(t->req.reply.body, text) != NULL, "%s", t->req.reply.body);
}

static inline void rt_free(struct rt *t)
{
	kg_req_release(&t->req);
	kg_req_call_free(&t->req);
	kg_req_capture_free(&t->req);
	free(t->req.wait_path);
	free(t->req.expires_at);
	for (size_t i = 0; i < KG_MAX_PARAMS; i++)
		free(t->req.params[i]);
	free(t->req.body);
	free(t->req.up_body);
	kg_reply_clear(&t->req.reply);
	kg_config_free(t->cfg);
}

#endif
