/* The libmicrohttpd side of the request path: daemon set-up (design §8), the access callback as a
 * small dispatcher, bounded body accumulation, suspend / resume around the upstream engine, and
 * sending replies with the headers every answer carries. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "gateway.h"
#include "idempotency.h"
#include "kycgate/log.h"
#include "kycgate/metrics.h"
#include "kycgate/server.h"
#include "kycgate/simulator.h"
#include "kycgate/store.h"
#include "events.h"
#include "events_internal.h"
#include "kycgate/torture.h"

#define CONNECTION_MEMORY_LIMIT (16 * 1024)
#define LISTEN_BACKLOG 4096
#define STOP_WAIT_MS 3000              /* at stop: longest wait for answers still being sent */
#define KG_EXIT_STOP_FORCED 3          /* the exit status when requests were still suspended */
#define KG_MAX_PEM_BYTES (1024 * 1024) /* a certificate chain or a key file */
/* TLS 1.2 and 1.3 only (design §8). */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

extern const unsigned char kg_openapi_yaml[];
extern const size_t kg_openapi_yaml_len;

/* ---- request lifecycle ----------------------------------------------------------------------- */

static struct kg_req *req_new(struct kg_gateway *gw, struct MHD_Connection *conn)
{
	struct kg_req *req = calloc(1, sizeof(*req));

	if (req == NULL)
		return NULL;
	req->gw = gw;
	req->conn = conn;
	req->fd = -1;
	req->request_id = req->new_request_id; /* "" until the head is read */
	req->started_ms = kg_now_ms();
	req->started_us = kg_now_us();
	req->outcome = "ok";
	kg_metrics_gauge_add(KG_GAUGE_INFLIGHT, 1);
	atomic_fetch_add(&gw->requests, 1);
	req->cfgref = kg_runtime_get();
	req->cfg = kg_runtime_cfg(req->cfgref);
	return req;
}

/* The request leaves gw->suspended: it runs again after the engine resumed it, or it ends. A
 * client that went away while suspended ends right after the resume (MHD_REQUEST_TERMINATED_*)
 * without the access callback running again, so the end must give the count back too. */
static void unsuspend(struct kg_req *req)
{
	if (!req->suspended_counted)
		return;
	req->suspended_counted = false;
	atomic_fetch_sub(&req->gw->suspended, 1);
}

/* The request's own fields that held personal data (decoded locators and the upstream path that
 * carries one, a document's expiry, the remembered country) are wiped before they are freed;
 * only the bytes used, as this runs for every request. */
static void wipe_personal(struct kg_req *req)
{
	size_t i;

	for (i = 0; i < KG_MAX_PARAMS; i++) {
		if (req->params[i] == NULL)
			continue;
		kg_wipe(req->params[i], req->param_len[i]);
		free(req->params[i]);
	}
	if (req->wait_path != NULL) {
		kg_wipe(req->wait_path, strlen(req->wait_path));
		free(req->wait_path);
		req->wait_path = NULL;
	}
	if (req->expires_at != NULL) {
		kg_wipe(req->expires_at, strlen(req->expires_at));
		free(req->expires_at);
	}
	kg_wipe(req->remembered, sizeof(req->remembered));
	kg_wipe(req->country, sizeof(req->country));
}

/* Gives back everything the request holds but its place in the counts and its own memory: at
 * its end, and when a waiter's record takes what it keeps (go_wait). */
static void req_clear(struct kg_req *req)
{
	unsuspend(req);
	kg_idem_end(req); /* before the exchange and the reply are freed */
	if (req->work_end != NULL)
		req->work_end(req);
	kg_req_release(req);
	if (req->reserved > 0)
		atomic_fetch_sub(&req->gw->buffered, req->reserved);
	if (req->body != NULL) {
		kg_wipe(req->body, req->body_len);
		free(req->body);
	}
	if (req->up_body != NULL) {
		kg_wipe(req->up_body, req->up_body_len);
		free(req->up_body);
	}
	kg_req_call_free(req); /* wipes its path and user key */
	kg_reply_clear(&req->reply);
	kg_req_capture_free(req);
	kg_runtime_put(req->cfgref);
	req->cfgref = NULL;
	wipe_personal(req);
}

/* The request ended: counted out. The memory is the caller's (on_completed). */
static void req_end(struct kg_req *req)
{
	req_clear(req);
	kg_metrics_gauge_add(KG_GAUGE_INFLIGHT, -1);
	atomic_fetch_sub(&req->gw->requests, 1);
}

/* Takes up to n more bytes from the gateway's buffered budget. */
static bool budget_take(struct kg_req *req, size_t n)
{
	size_t max = req->cfg->server.max_buffered_bytes;
	size_t cur = atomic_load(&req->gw->buffered);

	do {
		if (cur + n > max)
			return false;
	} while (!atomic_compare_exchange_weak(&req->gw->buffered, &cur, cur + n));
	req->reserved += n;
	return true;
}

static void on_body(struct kg_req *req, const char *data, size_t n)
{
	size_t cap;

	req->body_seen += n;
	if (req->body_over || req->budget_over || req->state != KG_REQ_BODY)
		return;
	if (req->body_len + n > req->body_limit) {
		req->body_over = true;
		return;
	}
	if (req->body_len + n + 1 > req->body_cap) {
		/* The body and its NUL, counted in the gateway's buffered budget before allocating.
		 */
		cap = kg_grow_size(req->body_cap, req->body_len + n + 1, req->body_limit + 1);
		if ((cap > req->reserved && !budget_take(req, cap - req->reserved)) ||
		    !kg_grow_wiped(&req->body, &req->body_cap, req->body_len, cap)) {
			req->budget_over = true;
			return;
		}
	}
	memcpy(req->body + req->body_len, data, n);
	req->body_len += n;
	req->body[req->body_len] = '\0';
}

void kg_req_joint_done(struct kg_req *req)
{
	if (atomic_fetch_sub(&req->joint, 1) == 1)
		MHD_resume_connection(req->conn);
}

/* Called by the engine (its thread, or a request thread in kg_upstream_submit_here) when
 * req->call ends: the last thing it does is resume (unless the remembered country's lookup still
 * runs: then that does). */
static void on_upstream_done(struct kg_up_call *call)
{
	struct kg_req *req = call->owner;

	req->state = KG_REQ_RESUMED;
	kg_req_joint_done(req);
}

/* Called by the engine thread when a waiter's wait ends: its record (still KG_REQ_UPSTREAM)
 * becomes a request again when libmicrohttpd runs it (on_wait_over). */
static void on_wait_done(struct kg_up_wait *w)
{
	struct kg_waitrec *rec = w->owner;

	MHD_resume_connection(rec->conn);
}

static void suspend(struct kg_req *req)
{
	req->suspended_counted = true;
	atomic_fetch_add(&req->gw->suspended, 1);
	MHD_suspend_connection(req->conn);
}

/* A long-poll waiter goes to the engine with no call (kg_upstream_wait), and as its record: the
 * request is freed while it waits (thousands wait at once). Its own limits were checked when it
 * came in. Without memory for the record it answers its latest state now. */
static enum MHD_Result go_wait(struct kg_req *req)
{
	struct kg_upstream *up = req->gw->up;
	struct kg_waitrec *rec = malloc(sizeof(*rec));

	if (rec == NULL || kg_upstream_reserve_wait(up) != KG_OK) {
		free(rec);
		req->in_wait = false;
		kg_reply_refused(req);
		return kg_reply_send(req);
	}
	req->state = KG_REQ_UPSTREAM;
	suspend(req); /* first, so the engine's resume can never come before it */
	kg_waitrec_take(rec, req);
	rec->wait.owner = rec;
	rec->wait.done = on_wait_done;
	*req->ctx = rec;
	req_clear(req);
	free(req);
	kg_upstream_wait(up, &rec->wait);
	return MHD_YES;
}

/* Reserves a place in the engine, suspends the connection, then hands req->call over (suspend
 * first, so the engine's resume can never come before it). A call that continues an admitted
 * request (a follow-up or long-poll re-read) may exceed max_inflight.
 *
 * A first status read whose answer is in the engine's cache is answered here, on this thread,
 * when the engine is free at that instant (kg_upstream_try_cached): no suspend, no hand-over,
 * no resume. Polling a few users is mostly that: the suspend and resume alone cost three
 * system calls (an epoll_ctl pair and libmicrohttpd's wake), the hand-over a wake of another
 * thread. A read that needs the user's remembered country (events) takes the one the read that
 * got the cached answer looked up in the store (on_resumed notes it), unless a PUT since may
 * have changed it; without one known, it goes to the engine and the store as before. */
static enum MHD_Result go_upstream(struct kg_req *req, bool continuing)
{
	enum kg_err e;

	if (req->in_wait)
		return go_wait(req);
	e = kg_upstream_reserve(req->gw->up, continuing);
	if (e != KG_OK) {
		kg_reply_refused(req);
		return kg_reply_send(req);
	}
	if (!continuing &&
	    kg_upstream_try_cached(req->gw->up, req->call,
	                           kg_events_country_wanted(req) ? req->remembered : NULL,
	                           kg_events_country_epoch())) {
		kg_upstream_release(req->gw->up);
		req->state = KG_REQ_RESUMED;
		if (kg_handle_upstream(req))
			return go_upstream(req, true);
		return kg_reply_send(req);
	}
	req->call->owner = req;
	req->call->done = on_upstream_done;
	req->state = KG_REQ_UPSTREAM;
	atomic_store(&req->joint, 1);
	suspend(req);
	if (!continuing)
		kg_events_country_lookup(req); /* alongside the call, never before it */
	kg_upstream_submit_here(req->gw->up, req->call);
	return MHD_YES;
}

void kg_req_wake(struct kg_req *req)
{
	req->state = KG_REQ_WORK_DONE;
	MHD_resume_connection(req->conn);
}

/* A work route (router.h): suspended first, so the work's wake can never come before it. */
static enum MHD_Result go_work(struct kg_req *req)
{
	req->state = KG_REQ_WORK;
	suspend(req);
	req->match.route->work_submit(req);
	return MHD_YES;
}

/* The request is valid: the Idempotency-Key step (idempotency.c), suspended while its store job
 * runs, then the upstream call. */
static enum MHD_Result go_on(struct kg_req *req)
{
	switch (kg_idem_begin(req)) {
	case KG_IDEM_GO:
		return go_upstream(req, false);
	case KG_IDEM_REPLY:
		return kg_reply_send(req);
	case KG_IDEM_STORE:
		break;
	}
	suspend(req); /* first, so the store's resume can never come before it */
	kg_idem_submit(req);
	return MHD_YES;
}

static enum MHD_Result on_complete(struct kg_req *req)
{
	if (req->declared && req->body_seen != req->declared_len) {
		/* libmicrohttpd frames the body by Content-Length, so this cannot happen today; if
		 * it ever did, the bytes left would start a request of their own. */
		kg_reply_problem(req, KG_PB_INVALID_REQUEST, 0,
		                 "the body length differs from Content-Length", NULL);
		req->reply.close = true;
		return kg_reply_send(req);
	}
	if (req->body_over) {
		kg_reply_too_large(req);
		return kg_reply_send(req);
	}
	if (req->budget_over) {
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0,
		                 "the gateway holds too many request bodies", NULL);
		return kg_reply_send(req);
	}
	if (req->match.route->work_begin != NULL)
		return kg_handle_work(req) ? go_work(req) : kg_reply_send(req);
	if (kg_handle_request(req))
		return go_on(req);
	return kg_reply_send(req);
}

/* The connection's state of heads.c, or NULL (out of memory when it opened). */
static struct kg_conn *conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci != NULL ? ci->socket_context : NULL;
}

/* libmicrohttpd splits the request line in place and hands out C strings, so a NUL in the method
 * or the target cuts it short: "GET /v1/users/userId:a\0/verification" would route as the user
 * route. Each part must end exactly where the next begins: the method at the space before the
 * target, the target (as long as on_uri measured it) at the space before the version. */
static bool line_intact(const struct kg_conn *c, const char *method, const char *url,
                        const char *version)
{
	const char *p = method + strlen(method) + 1;

	while (*p == ' ')
		p++;
	return p == url && (uintptr_t)version - (uintptr_t)url == c->target_len + 1 &&
	       !c->target_ctl;
}

/* The head is complete (the handler's first call): clears its deadline, and refuses (MHD_NO,
 * the connection closes) a request whose connection was already shut for being late. */
static enum MHD_Result on_head(const struct kg_listener *l, struct MHD_Connection *conn,
                               const char *url, const char *method, const char *version,
                               void **con_cls)
{
	struct kg_conn *c = conn_of(conn);
	struct kg_req *req;

	if (c == NULL || !kg_conn_head_done(c))
		return MHD_NO;
	req = req_new(l->gw, conn);
	if (req == NULL)
		return MHD_NO;
	req->metrics_only = l->metrics_only;
	req->ctx = con_cls;
	req->line_broken = !line_intact(c, method, url, version);
	*con_cls = req;
	kg_copy(req->method, sizeof(req->method), method);
	kg_req_capture(req, conn);
	req->head.url = url;
	kg_route_match(url, method, &req->match);
	if (!kg_handle_headers(req))
		return kg_reply_send(req);
	return MHD_YES;
}

/* What a con_cls points at: both kinds begin with their kind. */
static enum kg_ctx_kind ctx_kind(const void *ctx)
{
	const enum kg_ctx_kind *kind = ctx;

	return *kind;
}

/* The engine finished the request's call or wait: it answers, or goes on (a follow-up call, a
 * wait). */
static enum MHD_Result on_resumed(struct kg_req *req)
{
	unsuspend(req);
	if (req->remembered_read) { /* for the cached reads that follow (go_upstream) */
		req->remembered_read = false;
		kg_upstream_note_country(req->gw->up, req->call, req->remembered,
		                         req->country_epoch);
	}
	if (req->in_wait && !kg_handle_wait_end(req))
		return kg_reply_send(req);
	if (kg_handle_upstream(req))
		return go_upstream(req, true);
	return kg_reply_send(req);
}

/* A waiter's wait ended without memory to become a request again: the request, rebuilt on the
 * stack, answers 503 and is kept as an answered record until it completes. */
static enum MHD_Result wait_over_nomem(const struct kg_listener *l, struct kg_waitrec *rec,
                                       void **con_cls)
{
	struct kg_req req;
	enum MHD_Result rc;

	memset(&req, 0, sizeof(req));
	kg_waitrec_give(&req, rec, l->gw, con_cls);
	unsuspend(&req);
	req.in_wait = false;
	kg_reply_problem(&req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
	rc = kg_reply_send(&req);
	kg_waitrec_take(rec, &req);
	req_clear(&req);
	return rc;
}

/* A waiter's wait ended (on_wait_done resumed it): the request again, from its record. */
static enum MHD_Result on_wait_over(const struct kg_listener *l, void **con_cls)
{
	struct kg_waitrec *rec = *con_cls;
	struct kg_req *req;

	if (rec->state != KG_REQ_UPSTREAM)
		return MHD_YES; /* answered already (wait_over_nomem) */
	req = calloc(1, sizeof(*req));
	if (req == NULL)
		return wait_over_nomem(l, rec, con_cls);
	kg_waitrec_give(req, rec, l->gw, con_cls);
	free(rec);
	*con_cls = req;
	return on_resumed(req);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
	struct kg_req *req = *con_cls;

	if (req == NULL)
		return on_head(cls, conn, url, method, version, con_cls);
	if (ctx_kind(req) == KG_CTX_WAITREC)
		return on_wait_over(cls, con_cls);
	if (*upload_data_size > 0) {
		on_body(req, upload_data, *upload_data_size);
		/* The bytes are consumed (libmicrohttpd never reads them again) and may be personal
		 * data: wiped in its read buffer, which is freed without a wipe. */
		kg_wipe((char *)upload_data, *upload_data_size);
		*upload_data_size = 0; /* always consume, even a body being refused (design §8) */
		return MHD_YES;
	}
	if (req->state == KG_REQ_BODY)
		return on_complete(req);
	if (req->state == KG_REQ_STORE_DONE) {
		unsuspend(req);
		if (kg_idem_resumed(req) == KG_IDEM_GO)
			return go_upstream(req, false);
		return kg_reply_send(req);
	}
	if (req->state == KG_REQ_WORK_DONE) {
		unsuspend(req);
		if (req->match.route->work_resumed(req))
			return go_work(req);
		return kg_reply_send(req);
	}
	if (req->state == KG_REQ_RESUMED)
		return on_resumed(req);
	return MHD_YES;
}

/* The client's address as text into out ("" when unknown). */
static void remote_address(struct MHD_Connection *conn, char out[INET6_ADDRSTRLEN])
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	out[0] = '\0';
	if (sa != NULL && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out,
		          INET6_ADDRSTRLEN);
	else if (sa != NULL && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
		          INET6_ADDRSTRLEN);
}

/* The access line and the request metrics, once per request. */
static void account(struct kg_req *req, enum MHD_RequestTerminationCode toe)
{
	/* A 405 matched a path: its template, as in the problem's instance. */
	const char *tmpl = req->match.route ? req->match.route->tmpl : req->match.path_tmpl;
	char remote[INET6_ADDRSTRLEN] = "", user[KG_LOCATOR_HASH_LEN + 1];
	const char *loc = NULL;
	bool answered = req->state == KG_REQ_ANSWERED && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
	struct kg_access a = {
	    .request_id = req->request_id,
	    .client = req->client ? req->client->name : NULL,
	    .remote = remote,
	    .method = req->method,
	    .route = tmpl,
	    .status = answered ? req->reply.status : 0,
	    .outcome = answered ? req->outcome : "client-gone",
	    .duration_ms = (double)(kg_now_us() - req->started_us) / 1000.0,
	    .upstream_status = req->call && req->call->method ? req->call->status : -1,
	    .upstream_ms = req->call ? req->call->upstream_ms : 0,
	    .attempts = req->call ? req->call->attempts : 0,
	};
	size_t i;

	remote_address(req->conn, remote);
	for (i = 0; req->params_ok && i < req->match.n_params; i++)
		if (req->match.params[i].kind == KG_PARAM_LOCATOR)
			loc = req->params[i];
	if (loc != NULL) {
		kg_log_locator_hash(loc, user);
		a.user_hash = user;
	}
	kg_log_access(&a);
	kg_metrics_http(tmpl, req->method, a.status, a.duration_ms / 1000.0,
	                req->wait_given && req->wait_s > 0);
}

/* The caller's token stays in libmicrohttpd's read buffer, which is freed without a wipe: the
 * request is over, so nothing reads its headers again. */
static void wipe_token(struct MHD_Connection *conn)
{
	const char *v = NULL;
	size_t n = 0;

	if (MHD_lookup_connection_value_n(conn, MHD_HEADER_KIND, "Authorization", 13, &v, &n) ==
	        MHD_YES &&
	    v != NULL)
		kg_wipe((char *)v, n);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	const struct kg_listener *l = cls;
	struct kg_req *req = *con_cls, waiter;
	struct kg_conn *c = conn_of(conn);

	/* Kept alive: the idle gap before the next request is connection_timeout_s's (an idle
	 * timeout), then that request's head has header_timeout_s (tightened by on_uri). */
	if (c != NULL && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		kg_conn_arm(c,
		            kg_now_ms() + l->gw->idle_ms + atomic_load(&l->gw->header_timeout_ms),
		            false);
	if (req == NULL)
		return;
	if (ctx_kind(req) == KG_CTX_WAITREC) {
		/* A waiter's record (its caller left after the wait ended, or it was answered
		 * without memory): the request rebuilt on the stack for its end, which needs none.
		 */
		struct kg_waitrec *rec = *con_cls;

		memset(&waiter, 0, sizeof(waiter));
		kg_waitrec_give(&waiter, rec, l->gw, con_cls);
		free(rec);
		req = &waiter;
	}
	account(req, toe);
	wipe_token(conn);
#ifdef KG_TORTURE
	kg_torture_end(conn); /* the arming of checks.c's kg_handle_headers(), if any */
#endif
	req_end(req);
	if (req != &waiter)
		free(req);
	*con_cls = NULL;
}

/* A first request head that breaks a framing rule libmicrohttpd does not check (a bare CR, RFC
 * 9112 §2.2: it would wait for an LF that never comes) or answers by itself without a problem (a
 * malformed Content-Length) is answered before libmicrohttpd reads it: a 400 problem with
 * Connection: close, then the write side is shut. The client's close (or the head deadline) ends
 * the connection. */
static void refuse_head(const struct kg_listener *l, struct MHD_Connection *conn, int fd,
                        const char *detail)
{
	char id[KG_MAX_REQUEST_ID_BYTES + 1], head[512], remote[INET6_ADDRSTRLEN];
	unsigned long long t0 = kg_now_us();
	struct kg_problem_args a = {
	    .kind = KG_PB_INVALID_REQUEST, .detail = detail, .request_id = id};
	struct kg_access line = {.request_id = id, .remote = remote, .method = "-", .status = 400};
	size_t len = 0;
	char *body;
	int n;

	kg_request_id_new(id);
	body = kg_problem_render(&a, &len);
	n = snprintf(head, sizeof(head),
	             "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: "
	             "application/problem+json\r\nContent-Length: %zu\r\nX-Request-Id: %s\r\n"
	             "X-Kycgate-Environment: %s\r\nCache-Control: no-store\r\n"
	             "X-Content-Type-Options: nosniff\r\n\r\n",
	             len, id, kg_env_name(l->gw->environment));
	if (body != NULL && n > 0 && (size_t)n < sizeof(head)) {
		struct iovec iov[2] = {{head, (size_t)n}, {body, len}};
		struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};

		(void)sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	shutdown(fd, body != NULL ? SHUT_WR : SHUT_RDWR);
	free(body);
	remote_address(conn, remote);
	line.outcome = kg_problem_code(KG_PB_INVALID_REQUEST);
	line.upstream_status = -1;
	line.duration_ms = (double)(kg_now_us() - t0) / 1000.0;
	kg_log_access(&line);
	kg_metrics_http(NULL, NULL, 400, line.duration_ms / 1000.0, false);
}

/* A connection opens: its head is due within header_timeout_s. It closes: forgotten, before
 * libmicrohttpd closes the socket (heads.c relies on that order). */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
	const struct kg_listener *l = cls;
	const union MHD_ConnectionInfo *ci;
	const char *fault = NULL;

	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		kg_heads_remove(l->gw->heads, *socket_context);
		*socket_context = NULL;
		if (!l->metrics_only)
			kg_acceptor_closed(l->gw->acceptor);
		return;
	}
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci == NULL)
		return;
	*socket_context = kg_heads_add(l->gw->heads, ci->connect_fd,
	                               kg_now_ms() + atomic_load(&l->gw->header_timeout_ms));
	if (l->metrics_only || l->gw->tls_cert == NULL)
		fault = kg_head_precheck(ci->connect_fd);
	if (fault != NULL)
		refuse_head(l, conn, ci->connect_fd, fault);
}

/* A request line arrived, before any unescaping: measures the target up to its first NUL and
 * notes control characters (line_intact() compares), and gives this request's head
 * header_timeout_s from now. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	const struct kg_listener *l = cls;
	struct kg_conn *c = conn_of(conn);
	const unsigned char *p = (const unsigned char *)uri;

	if (c == NULL || uri == NULL)
		return NULL;
	c->target_ctl = false;
	for (; *p != '\0'; p++)
		c->target_ctl |= *p <= ' ' || *p == 0x7f;
	c->target_len = (size_t)(p - (const unsigned char *)uri);
	kg_conn_arm(c, kg_now_ms() + atomic_load(&l->gw->header_timeout_ms), true);
	return NULL;
}

/* Routing happens on the raw path: no decoding before the handler (design §8). */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	/* libmicrohttpd's messages can quote request bytes: only their existence is logged. */
	kg_log(KG_LOG_DEBUG, "http-library-message", NULL);
}

/* ---- the gateway ----------------------------------------------------------------------------- */

static unsigned cpu_count(void)
{
	cpu_set_t set;
	int n;

	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return 2;
	n = CPU_COUNT(&set);
	return n > 0 ? (unsigned)n : 2;
}

/* Resolves a listen host and port into a socket address. */
static bool listen_addr(const char *host, uint16_t port, struct sockaddr_storage *ss, bool *v6)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host,
	              &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*v6 = false;
		return true;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*v6 = true;
		return true;
	}
	return false;
}

/* Why a listener did not start, for the operator: writes "key: ADDRESS is already in use" (or
 * another reason) to err. e is the errno of the bind or listen that failed, or -1 when the address
 * was bound and something else failed; 0 when libmicrohttpd bound the address (it does not keep
 * the errno), and then the address is bound once more, as it binds it (SO_REUSEADDR), and
 * released at once. */
static void listen_failure(const char *key, const char *host, uint16_t port,
                           const struct sockaddr_storage *ss, bool v6, int e, char *err,
                           size_t errcap)
{
	char addr[300];
	int fd;

	snprintf(addr, sizeof(addr), v6 ? "[%s]:%u" : "%s:%u", host, (unsigned)port);
	if (e == 0) {
		fd = kg_listen_socket(ss, v6, 1, &e);
		if (fd >= 0)
			close(fd);
	}
	if (e == EADDRINUSE)
		snprintf(err, errcap, "%s: %s is already in use", key, addr);
	else if (e == EACCES)
		snprintf(err, errcap,
		         "%s: %s needs privileges this process lacks (a port below 1024)", key,
		         addr);
	else if (e == EADDRNOTAVAIL)
		snprintf(err, errcap, "%s: %s is not an address of this host", key, addr);
	else if (e > 0)
		snprintf(err, errcap, "%s: cannot listen on %s: %s", key, addr, strerror(e));
	else
		snprintf(err, errcap,
		         "%s: cannot start the listener on %s (the address is free: a TLS "
		         "certificate or key refused, or resources exhausted)",
		         key, addr);
}

/* Reads a PEM file (at most KG_MAX_PEM_BYTES) into new NUL-terminated memory. */
static char *read_pem(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0;

	if (f == NULL)
		return NULL;
	buf = malloc(KG_MAX_PEM_BYTES + 1);
	if (buf != NULL)
		n = fread(buf, 1, KG_MAX_PEM_BYTES + 1, f);
	fclose(f);
	if (buf == NULL || n == 0 || n > KG_MAX_PEM_BYTES) {
		if (buf != NULL)
			kg_wipe(buf, n);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* server.tls: certificate and key read once at start (a change needs a restart). */
static bool load_tls(struct kg_gateway *gw, const struct kg_config *cfg, char *err, size_t errcap)
{
	if (cfg->server.tls_cert_file[0] == '\0')
		return true;
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		snprintf(err, errcap, "server.tls: this libmicrohttpd has no TLS support");
		return false;
	}
	gw->tls_cert = read_pem(cfg->server.tls_cert_file, &gw->tls_cert_len);
	gw->tls_key = read_pem(cfg->server.tls_key_file, &gw->tls_key_len);
	if (gw->tls_cert == NULL || gw->tls_key == NULL) {
		snprintf(err, errcap, "server.tls: cannot read the certificate or key file");
		return false;
	}
	return true;
}

/* The port a listening socket is bound to (server.listen's port 0 picks one). */
static uint16_t bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)&ss)->sin_port);
}

/* A plain-HTTP listener hands a connection over only once its first bytes arrived (Linux's
 * TCP_DEFER_ACCEPT, nginx's "deferred"), so refuse_head() sees the first segment, and a
 * connection that never sends costs no libmicrohttpd slot. Best effort: without it the check
 * sees what happens to be there, and the head deadline covers the rest. */
static void defer_accept(int fd, unsigned timeout_s)
{
	int secs = timeout_s > 0 ? (int)timeout_s : 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof(secs));
}

static struct MHD_Daemon *start_daemon(struct kg_gateway *gw, const struct kg_config *cfg,
                                       char *err, size_t errcap)
{
	struct sockaddr_storage ss;
	bool v6 = false;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
	                 MHD_USE_ERROR_LOG | MHD_USE_TURBO | MHD_USE_NO_LISTEN_SOCKET;
	unsigned threads = cfg->server.threads ? cfg->server.threads : cpu_count();
	struct MHD_OptionItem tls[4] = {{MHD_OPTION_END, 0, NULL}};
	struct MHD_Daemon *d;
	int fd, e = 0;

	if (!listen_addr(cfg->server.listen_host, cfg->server.listen_port, &ss, &v6)) {
		snprintf(err, errcap, "server.listen: the host is not an IP address");
		return NULL;
	}
	/* Our socket and accept thread (acceptor.c says why libmicrohttpd's are not used). The
	 * acceptor keeps server.max_connections; libmicrohttpd splits its limit among its threads
	 * and must never reach it (acceptor.c), so each thread may take all of them. */
	fd = kg_listen_socket(&ss, v6, LISTEN_BACKLOG, &e);
	if (fd >= 0)
		gw->acceptor = kg_acceptor_new(fd, cfg->server.max_connections);
	if (fd >= 0 && gw->acceptor == NULL) {
		close(fd);
		snprintf(err, errcap, "server.listen: out of memory");
		return NULL;
	}
	if (fd < 0) {
		listen_failure("server.listen", cfg->server.listen_host, cfg->server.listen_port,
		               &ss, v6, e, err, errcap);
		return NULL;
	}
	gw->port = bound_port(fd);
	if (gw->tls_cert == NULL)
		defer_accept(fd, cfg->server.header_timeout_s);
	if (v6)
		flags |= MHD_USE_IPv6;
	if (gw->tls_cert != NULL) {
		flags |= MHD_USE_TLS;
		tls[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, gw->tls_cert};
		tls[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, gw->tls_key};
		tls[2] =
		    (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES};
	}
	d = MHD_start_daemon(flags, 0, NULL, NULL, on_access, &gw->main_listener, MHD_OPTION_ARRAY,
	                     tls, MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT,
	                     cfg->server.max_connections * threads, MHD_OPTION_CONNECTION_TIMEOUT,
	                     cfg->server.connection_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	                     (size_t)CONNECTION_MEMORY_LIMIT, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	                     cfg->server.max_connections_per_ip, MHD_OPTION_UNESCAPE_CALLBACK,
	                     no_unescape, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
	                     &gw->main_listener, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
	                     &gw->main_listener, MHD_OPTION_URI_LOG_CALLBACK, on_uri,
	                     &gw->main_listener, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	                     MHD_OPTION_END);
	if (d == NULL) {
		listen_failure("server.listen", cfg->server.listen_host, cfg->server.listen_port,
		               &ss, v6, -1, err, errcap);
		return NULL;
	}
	if (!kg_acceptor_run(gw->acceptor, d)) {
		snprintf(err, errcap, "server.listen: cannot start the accept thread");
		MHD_stop_daemon(d);
		return NULL;
	}
	return d;
}

/* metrics.listen: a small second daemon (one thread) for /metrics, /healthz and /readyz, so
 * they can be exposed to a monitoring network without exposing the API. */
static struct MHD_Daemon *start_metrics_daemon(struct kg_gateway *gw, const struct kg_config *cfg,
                                               char *err, size_t errcap)
{
	struct sockaddr_storage ss;
	bool v6 = false;
	struct MHD_Daemon *d;

	if (!listen_addr(cfg->metrics.listen_host, cfg->metrics.listen_port, &ss, &v6)) {
		snprintf(err, errcap, "metrics.listen: the host is not an IP address");
		return NULL;
	}
	d = MHD_start_daemon(
	    MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0),
	    cfg->metrics.listen_port, NULL, NULL, on_access, &gw->metrics_listener,
	    MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_CONNECTION_LIMIT, 64u,
	    MHD_OPTION_CONNECTION_TIMEOUT, cfg->server.connection_timeout_s,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY_LIMIT,
	    MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL, MHD_OPTION_NOTIFY_COMPLETED,
	    on_completed, &gw->metrics_listener, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
	    &gw->metrics_listener, MHD_OPTION_URI_LOG_CALLBACK, on_uri, &gw->metrics_listener,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
	if (d == NULL)
		listen_failure("metrics.listen", cfg->metrics.listen_host, cfg->metrics.listen_port,
		               &ss, v6, 0, err, errcap);
	return d;
}

/* With the simulator environment: an in-process simulator on an ephemeral loopback port, reached
 * over real HTTP through the same libcurl path (design §6). */
static bool start_simulator(struct kg_gateway *gw, const struct kg_config *cfg, char *err,
                            size_t errcap)
{
	struct kg_sim_opts o = {
	    .host = "127.0.0.1",
	    .api_key = cfg->crossmint.api_key,
	    .review_delay_ms = cfg->simulator.review_delay_ms,
	    .edd_countries = (const char(*)[3])cfg->simulator.edd_countries,
	    .n_edd_countries = cfg->simulator.n_edd_countries,
	};
	unsigned char rnd[16];
	size_t i;

	if (o.api_key == NULL) {
		kg_random_bytes(rnd, sizeof(rnd));
		memcpy(gw->sim_key, "sk_simulator_", 13);
		for (i = 0; i < sizeof(rnd); i++)
			snprintf(gw->sim_key + 13 + 2 * i, 3, "%02x", rnd[i]);
		o.api_key = gw->sim_key;
	}
	gw->sim = kg_sim_start(&o, err, errcap);
	if (gw->sim == NULL)
		return false;
	snprintf(gw->base_url, sizeof(gw->base_url), "http://127.0.0.1:%u", kg_sim_port(gw->sim));
	return true;
}

static const char *effective_key(const struct kg_gateway *gw, const struct kg_config *cfg)
{
	if (cfg->crossmint.api_key != NULL)
		return cfg->crossmint.api_key;
	return gw->sim_key[0] ? gw->sim_key : NULL;
}

/* The route templates become the metrics' route labels, and the operations of the routes that
 * call upstream its operation labels (metrics does not know the router). */
static void declare_routes(void)
{
	size_t n, i;
	const struct kg_route *r = kg_routes(&n);

	for (i = 0; i < n; i++) {
		kg_metrics_add_route(r[i].tmpl);
		if (r[i].up_method != NULL)
			kg_metrics_add_operation(r[i].operation);
	}
}

/* Opens the store of store.driver (design §10). A store file that cannot be used does not stop
 * the start: it is logged, kycgate_store_up says 0, and only the routes that need it answer
 * 503. False only when out of memory. */
static bool open_store(struct kg_gateway *gw, const struct kg_config *cfg, char *err, size_t errcap)
{
	char why[200], warn[200];

	if (cfg->store.driver == KG_STORE_NONE) {
		kg_log(KG_LOG_INFO, "store-disabled", "detail",
		       "store.driver is none: Idempotency-Key is refused with 503 store-disabled",
		       NULL);
		return true;
	}
	gw->store = kg_store_open(cfg->store.sqlite_path, why, sizeof(why), warn, sizeof(warn));
	if (gw->store == NULL) {
		snprintf(err, errcap, "cannot start the store");
		return false;
	}
	if (warn[0] != '\0')
		kg_log(KG_LOG_WARN, "store-file-mode", "path", cfg->store.sqlite_path, "detail",
		       warn, NULL);
	if (kg_store_up(gw->store))
		kg_log(KG_LOG_INFO, "store-opened", "path", cfg->store.sqlite_path, NULL);
	else
		kg_log(KG_LOG_ERROR, "store-down", "path", cfg->store.sqlite_path, "reason", why,
		       "detail",
		       "routes that need the store answer 503 store-unavailable; others go on; "
		       "retried every minute",
		       NULL);
	return true;
}

struct kg_gateway *kg_gateway_start(char *err, size_t errcap)
{
	struct kg_gateway *gw = calloc(1, sizeof(*gw));
	struct kg_cfgref *ref = kg_runtime_get();
	const struct kg_config *cfg;
	const union MHD_DaemonInfo *info;

	if (gw == NULL || ref == NULL) {
		snprintf(err, errcap, "no configuration loaded");
		goto fail;
	}
	declare_routes();
	gw->main_listener = (struct kg_listener){gw, false};
	gw->metrics_listener = (struct kg_listener){gw, true};
	cfg = kg_runtime_cfg(ref);
	gw->environment = cfg->crossmint.environment;
	gw->openapi = (const char *)kg_openapi_yaml;
	gw->openapi_len = kg_openapi_yaml_len;
	if (gw->environment == KG_ENV_SIMULATOR && kg_config_base_url(cfg) == NULL) {
		if (!start_simulator(gw, cfg, err, errcap))
			goto fail;
	} else {
		kg_copy(gw->base_url, sizeof(gw->base_url), kg_config_base_url(cfg));
	}
	if (!load_tls(gw, cfg, err, errcap))
		goto fail;
	atomic_init(&gw->header_timeout_ms, cfg->server.header_timeout_s * 1000u);
	gw->idle_ms = cfg->server.connection_timeout_s * 1000u;
	gw->heads = kg_heads_start();
	if (gw->heads == NULL) {
		snprintf(err, errcap, "cannot start the request-head timer");
		goto fail;
	}
	gw->up = kg_upstream_start(cfg, gw->base_url, effective_key(gw, cfg), err, errcap);
	if (gw->up == NULL)
		goto fail;
	gw->climits = kg_climits_new(); /* per-client limits */
	if (gw->climits == NULL) {
		snprintf(err, errcap, "out of memory");
		goto fail;
	}
	if (!open_store(gw, cfg, err, errcap))
		goto fail;
	if (!kg_events_start(gw, cfg, err, errcap) || !kg_watches_start(gw, cfg, err, errcap) ||
	    !kg_webhooks_start(gw, cfg, err, errcap))
		goto fail;
	gw->daemon = start_daemon(gw, cfg, err, errcap);
	if (gw->daemon == NULL)
		goto fail;
	if (cfg->metrics.listen_host != NULL) {
		gw->metrics_daemon = start_metrics_daemon(gw, cfg, err, errcap);
		if (gw->metrics_daemon == NULL)
			goto fail;
		info = MHD_get_daemon_info(gw->metrics_daemon, MHD_DAEMON_INFO_LISTEN_FD);
		if (info != NULL && info->listen_fd != MHD_INVALID_SOCKET)
			defer_accept(info->listen_fd, cfg->server.header_timeout_s);
		info = MHD_get_daemon_info(gw->metrics_daemon, MHD_DAEMON_INFO_BIND_PORT);
		gw->metrics_port = info ? info->port : cfg->metrics.listen_port;
	}
	kg_runtime_put(ref);
	return gw;
fail:
	kg_runtime_put(ref);
	kg_gateway_stop(gw);
	return NULL;
}

uint16_t kg_gateway_port(const struct kg_gateway *gw)
{
	return gw->port;
}

uint16_t kg_gateway_metrics_port(const struct kg_gateway *gw)
{
	return gw->metrics_daemon ? gw->metrics_port : 0;
}

void kg_gateway_drain(struct kg_gateway *gw)
{
	atomic_store(&gw->draining, true);
}

enum kg_err kg_gateway_reconfigure(struct kg_gateway *gw, const struct kg_config *cfg)
{
	const char *base = gw->base_url;
	enum kg_err e;

	if (gw->sim == NULL && kg_config_base_url(cfg) != NULL)
		base = kg_config_base_url(cfg);
	/* The engine first: it is the one step that can fail, and it fails without a change. */
	e = kg_upstream_configure(gw->up, cfg, base, effective_key(gw, cfg));
	if (e != KG_OK)
		return e;
	atomic_store(&gw->header_timeout_ms, cfg->server.header_timeout_s * 1000u);
	kg_events_reconfigure(gw, cfg);
	kg_watches_reconfigure(gw, cfg);
	kg_webhooks_reconfigure(gw, cfg);
	if (gw->sim == NULL)
		return KG_OK;
	kg_sim_set_api_key(gw->sim, effective_key(gw, cfg));
	kg_sim_set_behaviour(gw->sim, cfg->simulator.review_delay_ms,
	                     (const char(*)[3])cfg->simulator.edd_countries,
	                     cfg->simulator.n_edd_countries);
	return KG_OK;
}

static void selfcheck_done(struct kg_up_call *c)
{
	char status[16];

	snprintf(status, sizeof(status), "%ld", c->status);
	if (c->result == KG_UP_OK && (c->status == 401 || c->status == 403)) {
		kg_metrics_gauge_set(KG_GAUGE_UPSTREAM_AUTH_OK, 0);
		kg_log(KG_LOG_ERROR, "upstream-selfcheck", "status", status, "detail",
		       "Crossmint refused the API key: check the key, its scopes (users.create, "
		       "users.read) and that the project has the users KYC API enabled",
		       NULL);
	} else if (c->result == KG_UP_OK && c->status == 404) {
		kg_metrics_gauge_set(KG_GAUGE_UPSTREAM_AUTH_OK, 1);
		kg_log(KG_LOG_INFO, "upstream-selfcheck", "status", status, "detail",
		       "the API key works", NULL);
	} else if (c->result != KG_UP_SHUTDOWN) {
		kg_log(KG_LOG_WARN, "upstream-selfcheck", "status", status, "detail",
		       "Crossmint gave no verdict on the key; it will show at the first call",
		       "error", c->error_text, NULL);
	}
	kg_up_call_cleanup(c);
}

void kg_gateway_selfcheck(struct kg_gateway *gw)
{
	struct kg_up_call *c = &gw->selfcheck;
	unsigned char r[8];
	char hex[17];
	size_t i;

	if (kg_upstream_reserve(gw->up, false) != KG_OK)
		return;
	kg_random_bytes(r, sizeof(r));
	for (i = 0; i < sizeof(r); i++)
		snprintf(hex + 2 * i, 3, "%02x", r[i]);
	memset(c, 0, sizeof(*c));
	c->method = "GET";
	snprintf(c->path, sizeof(c->path), "/users/userId:kycgate-selfcheck-%s", hex);
	snprintf(c->request_id, sizeof(c->request_id), "selfcheck-%s", hex);
	c->done = selfcheck_done;
	kg_upstream_submit(gw->up, c);
}

void kg_gateway_quiesce(struct kg_gateway *gw)
{
	if (atomic_exchange(&gw->closing, true))
		return;
	kg_acceptor_close(gw->acceptor);
	kg_upstream_end_waits(gw->up);
	kg_events_drain(gw);
}

bool kg_gateway_idle(const struct kg_gateway *gw)
{
	return kg_upstream_inflight(gw->up) == 0 && atomic_load(&gw->suspended) == 0 &&
	       atomic_load(&gw->requests) == 0;
}

/* A request still suspended STOP_WAIT_MS after the engine ended every call waits on a store job
 * (a disk that stalls, a database locked by another process): libmicrohttpd aborts when stopped
 * with a connection suspended (design §8), and nothing else can end that request. The process
 * ends here instead, with a line that says why and its log written out; SQLite's committed
 * transactions are on disk whatever the exit. */
static _Noreturn void stop_forced(struct kg_gateway *gw)
{
	char n[24];

	snprintf(n, sizeof(n), "%u", (unsigned)atomic_load(&gw->suspended));
	kg_log(KG_LOG_ERROR, "stop-forced", "suspended", n, "reason",
	       "requests still waiting on the store at the end of the stop", NULL);
	kg_log_writer_stop();
	_exit(KG_EXIT_STOP_FORCED);
}

void kg_gateway_stop(struct kg_gateway *gw)
{
	unsigned long long deadline;

	if (gw == NULL)
		return;
	if (gw->daemon != NULL && !atomic_load(&gw->closing))
		kg_gateway_quiesce(gw);
	/* The engine ends every call and resumes its request; the daemon may stop only once no
	 * connection is suspended (design §8). */
	kg_upstream_stop(gw->up);
	/* Resumed requests still have to send their 503; stopping the daemon would drop them. */
	deadline = kg_now_ms() + STOP_WAIT_MS;
	while ((atomic_load(&gw->suspended) > 0 || atomic_load(&gw->requests) > 0) &&
	       kg_now_ms() < deadline)
		usleep(1000);
	if (atomic_load(&gw->suspended) > 0)
		stop_forced(gw);
	if (gw->daemon != NULL)
		MHD_stop_daemon(gw->daemon);
	if (gw->metrics_daemon != NULL)
		MHD_stop_daemon(gw->metrics_daemon);
	kg_acceptor_free(gw->acceptor); /* after the daemon: its last closes count down */
	kg_heads_free(gw->heads);       /* every connection is closed now */
	/* The event source submits no more work to the engine or the store. */
	kg_webhooks_stop(gw);
	kg_watches_stop(gw);
	kg_events_stop(gw);
	/* Only now can no request thread reach the engine. */
	kg_upstream_free(gw->up);
	kg_climits_free(gw->climits);
	kg_store_free(gw->store); /* no request can submit a job any more */
	/* The store ran its last jobs, which may have called back into these. */
	kg_webhooks_free(gw);
	kg_watches_free(gw);
	kg_events_free(gw);
	kg_sim_stop(gw->sim);
	kg_wipe(gw->sim_key, sizeof(gw->sim_key));
	if (gw->tls_key != NULL)
		kg_wipe(gw->tls_key, gw->tls_key_len);
	free(gw->tls_key);
	free(gw->tls_cert);
	free(gw);
}
