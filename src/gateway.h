/* Private to the request path (server.c, capture.c, checks.c, handlers.c, routes_*.c, reply.c):
 * the gateway's process state and one request's state. Nothing outside src/ includes this, but
 * the unit tests of the header phase and the routes (tests/test_checks.c, tests/test_routes.c),
 * which build requests by hand. */
#ifndef KYCGATE_GATEWAY_H
#define KYCGATE_GATEWAY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <microhttpd.h>
#include <json-c/json.h>

#include "kycgate/client_limit.h"
#include "kycgate/config.h"
#include "kycgate/problem.h"
#include "kycgate/router.h"
#include "kycgate/runtime.h"
#include "kycgate/store.h"
#include "kycgate/upstream.h"
#include "reply.h"

struct kg_sim;
struct kg_heads;
struct kg_acceptor;

/* One open client connection (libmicrohttpd's socket context), for the request-head deadline of
 * heads.c and for what the URI log callback saw of the request target. */
struct kg_conn {
	struct kg_conn *prev, *next;            /* in the heads list, under its lock */
	struct kg_heads *heads;                 /* the list it is in */
	int fd;                                 /* the socket, shut (never closed) when overdue */
	_Atomic unsigned long long deadline_ms; /* kg_now_ms() the head is due by; 0 = none */
	size_t target_len;                      /* bytes of the target before its first NUL */
	bool target_ctl;                        /* a control character or a space in the target */
};

/* What a libmicrohttpd daemon serves: the main listener, or the metrics.listen one (only
 * /metrics, /healthz and /readyz). */
struct kg_listener {
	struct kg_gateway *gw;
	bool metrics_only;
};

struct kg_gateway {
	struct MHD_Daemon *daemon;
	struct MHD_Daemon *metrics_daemon; /* metrics.listen, or NULL */
	struct kg_listener main_listener, metrics_listener;
	uint16_t metrics_port;
	struct kg_upstream *up;
	struct kg_sim *sim;      /* embedded simulator, or NULL */
	char base_url[256];      /* resolved upstream base URL */
	uint16_t port;           /* bound port */
	enum kg_env environment; /* fixed for the process (a switch needs a restart) */
	atomic_size_t buffered;  /* request body bytes held now, all connections */
	atomic_bool draining;    /* SIGTERM seen: /readyz answers 503 */
	atomic_uint suspended;   /* requests suspended or resumed but not yet run again */
	atomic_uint requests;    /* requests begun and not yet completed (answer sent or dropped) */
	atomic_bool closing;     /* quiesced: answers carry Connection: close */
	struct kg_acceptor *acceptor;  /* the main listener's socket and accept thread */
	struct kg_up_call selfcheck;   /* the start-up read of a random unknown user */
	struct kg_heads *heads;        /* the request-head deadlines of every client connection */
	atomic_uint header_timeout_ms; /* server.header_timeout_s (reloadable) */
	unsigned idle_ms;              /* server.connection_timeout_s, fixed at start */
	char *tls_cert, *tls_key;      /* PEM read at start (the key wiped at stop) */
	size_t tls_cert_len, tls_key_len;
	char sim_key[80];    /* the key made up for the embedded simulator, or "" */
	const char *openapi; /* the spec served at /openapi.yaml (static) */
	size_t openapi_len;
	struct kg_climits *climits; /* per-client limits (client_limit.c), or NULL */
	struct kg_store *store;     /* the store (store.c); NULL with store.driver: none */
	/* The event source (events.h): each NULL until it starts, and with store.driver none. */
	struct kg_events *events;     /* observations, events, the feed (events.c) */
	struct kg_watches *watches;   /* watched users (watch.c) */
	struct kg_webhooks *webhooks; /* webhook deliveries (webhooks.c) */
};

/* The request headers the request path reads: the first of each name, or NULL. */
struct kg_req_head {
	const char *request_id;      /* X-Request-Id */
	const char *traceparent;     /* traceparent */
	const char *tracestate;      /* tracestate */
	const char *authorization;   /* Authorization */
	const char *content_type;    /* Content-Type */
	const char *content_length;  /* Content-Length */
	const char *idempotency_key; /* Idempotency-Key */
	const char *url;             /* the request target's path, as received */
#ifdef KG_TORTURE
	const char
	    *torture; /* X-Kycgate-Torture: arms the allocation-failure walk (torture builds) */
#endif
	const char *framing; /* the framing rule the head breaks (static text), or NULL */
	bool oom;            /* the head could not be captured: answer 503 */
};

/* One query argument: name and raw value (value NULL for "?name" without "="). */
struct kg_query_arg {
	const char *name;
	const char *value;
};

enum kg_req_state {
	KG_REQ_BODY = 0,   /* accepting body bytes */
	KG_REQ_UPSTREAM,   /* suspended, the engine holds the call */
	KG_REQ_RESUMED,    /* the engine finished and resumed us */
	KG_REQ_STORE,      /* suspended, the store holds the Idempotency-Key job */
	KG_REQ_STORE_DONE, /* the store finished and resumed us */
	KG_REQ_ANSWERED,   /* a reply was queued */
	KG_REQ_WORK,       /* suspended, a route's work (work_submit) runs elsewhere */
	KG_REQ_WORK_DONE,  /* the work ended and woke us (kg_req_wake) */
};

#define KG_MAX_PARAM_BYTES (KG_MAX_LOCATOR_BYTES + 1)

/* A traceparent is version "00": 55 characters (checks.c refuses any other length). */
#define KG_TRACEPARENT_BYTES 55
/* A generated request id: a UUID in its 36-character text form. */
#define KG_NEW_REQUEST_ID_BYTES 36
/* A Content-Type's media type as kept: the longest the gateway takes ("application/json") with
 * room to spare; a longer one is kept as "", which no route takes, like an absent one. */
#define KG_MAX_MEDIA_TYPE_BYTES 23

/* What libmicrohttpd's con_cls points at: a request (struct kg_req), or the record of a request
 * that waits in the engine (struct kg_waitrec). Each begins with its kind. */
enum kg_ctx_kind {
	KG_CTX_REQ = 0, /* zeroed memory is a request */
	KG_CTX_WAITREC,
};

/* Fields are ordered by size to leave no padding, and buffers only some requests need are
 * allocated or borrowed rather than held inline. A long-poll waiter does not hold one while it
 * waits (struct kg_waitrec). */
struct kg_req {
	enum kg_ctx_kind ctx_kind; /* KG_CTX_REQ */
	enum kg_req_state state;
	struct kg_gateway *gw;
	struct MHD_Connection *conn;
	void **ctx; /* libmicrohttpd's con_cls for this connection (NULL in unit tests) */
	struct kg_cfgref *cfgref;    /* config this request runs on */
	const struct kg_config *cfg; /* borrowed from cfgref */
	struct kg_match match;
	const struct kg_client *client; /* NULL with auth.mode none */
	struct kg_climit_note limit;    /* the client's limit, for RateLimit headers */
	unsigned long long started_ms;
	unsigned long long started_us;   /* for the access line's duration */
	unsigned long long declared_len; /* a Content-Length was given (declared) with this value */
	unsigned long long body_seen;    /* body bytes received, kept or not */
	const char *outcome;             /* "ok" or the problem code answered (static) */

	/* The caller's X-Request-Id when valid (borrowed as the head, until the request ends), else
	 * new_request_id. */
	const char *request_id;
	const char *tracestate; /* the head's, once valid (borrowed as the head); NULL when none */

	/* Body accumulation, bounded by body_limit and by the gateway's buffered budget. */
	char *body;
	size_t body_len, body_cap, body_limit;
	size_t reserved; /* bytes counted in gw->buffered for this request */

	/* Decoded path parameters, in route order. */
	char *params[KG_MAX_PARAMS]; /* each allocated at its length once valid, or NULL */
	size_t param_len[KG_MAX_PARAMS];

	/* Verification query and long-poll state. */
	unsigned long long wait_deadline_ms;
	struct kg_answer *latest; /* the latest good status answer while waiting */

	/* The upstream exchange and what is sent. */
	struct kg_up_call *call; /* the upstream exchange, allocated while the request makes one */
	/* A long-poll waiter parked in the engine (kg_upstream_wait) holds no call, and waits as
	 * its record (struct kg_waitrec), which holds wait meanwhile: wait is set up for it
	 * (next_poll) and read back after it (kg_handle_wait_end). wait_path is the status read's
	 * path for the re-reads (holds a locator: wiped). */
	struct kg_up_wait wait;
	char *wait_path;
	char *up_body;
	size_t up_body_len;

	/* PUT of a user: a document's ?expiresAt=, decoded (allocated when given), or NULL. */
	char *expires_at;

	/* The request head as the handlers see it, captured at the first callback (capture.c).
	 * Strings are borrowed from libmicrohttpd's connection memory (or, in unit tests, from the
	 * test) until the request ends; NULL when absent. */
	struct kg_req_head head;
	struct kg_query_arg *query; /* the query's arguments in order (owned), raw (not decoded) */
	size_t n_query;

	struct kg_reply reply;

	/* Idempotency-Key (idempotency.c): the store job, allocated when a key is given
	 * (kg_idem_begin). */
	struct kg_store_job *idem;

	/* A work route's own state (router.h, work_begin), or NULL; work_end (set with it) frees
	 * it when the request ends. */
	void *work;
	void (*work_end)(struct kg_req *req);

	unsigned products;      /* verification query */
	unsigned wait_s;        /* ?wait=N, clamped to verification.max_wait_s */
	unsigned user_sections; /* PUT of a user: the sections the body holds (kg_user_sections) */
	int fd;                 /* the client's socket (only peeked at), -1 when none */
	/* The remembered country (events_users.c): looked up in the store alongside the first
	 * upstream call of a verification route without ?country. joint counts what must end
	 * before the request runs again (the call, and the lookup when one was submitted). */
	atomic_uint joint;

	char new_request_id[KG_NEW_REQUEST_ID_BYTES + 1];
	char traceparent[KG_TRACEPARENT_BYTES + 1];
	char content_type[KG_MAX_MEDIA_TYPE_BYTES + 1]; /* request media type, lower-cased, "" if
	                                                 * none (or longer than any taken) */
	char method[8];              /* request method (cut), for the access line */
	char country[3];             /* verification query */
	char remembered[3];          /* the stored country, "" when none */
	bool remembered_read;        /* remembered is what the store held (the lookup succeeded) */
	unsigned long country_epoch; /* kg_events_country_epoch() when the lookup was submitted */

	bool metrics_only; /* arrived on the metrics.listen listener */
	bool
	    suspended_counted; /* counted in gw->suspended: from suspend until run again or ended */
	bool line_broken;      /* a NUL or control character in the request line */
	bool declared;         /* a Content-Length was given */
	bool params_ok;        /* params[] hold decoded, validated values */
	bool body_over;        /* more bytes than body_limit arrived */
	bool budget_over;      /* the buffered-bytes budget was spent */
	bool wait_given;       /* ?wait= was given */
	bool waiting_counted;  /* counted in the client's waiting requests */
	bool in_wait;          /* wait is to go to the engine, or ended and not yet read back
	                        * (kg_handle_wait_end) */
	bool followup_read;    /* the trigger answered without eligibility */
	bool watch_asked;      /* the trigger asked for the user's automatic watch (watch.c) ... */
	bool watched;          /* ... and this is the answer's "watched" */
	bool replace;          /* PUT of a user: ?replace=true: erasing what the body leaves out is
	                        * intended (design §2, "Create or replace a user") */
	bool erase_check;      /* the read before the PUT is the call in flight */
	bool idem_claimed;     /* this request holds the Idempotency-Key's claim (its answer is
	                        * stored, or the claim dropped, when it ends) */
	bool idem_waiting;     /* suspended on the store job */
};

/* A long-poll waiter while it waits in the engine (kg_upstream_wait): what its answer, its access
 * line and its end need (384 bytes, under half a struct kg_req), while the request is freed (README
 * "Performance", "Waiters, memory (fifth pass)": 10,000 wait at once). libmicrohttpd's con_cls
 * points at it until the request runs again (kg_waitrec_give into a new kg_req) or ends. It also
 * keeps a request answered without one (memory ran out when it woke) until it completes. */
struct kg_waitrec {
	enum kg_ctx_kind ctx_kind; /* KG_CTX_WAITREC */
	enum kg_req_state state; /* KG_REQ_UPSTREAM while waiting, KG_REQ_ANSWERED once answered */
	struct MHD_Connection *conn;
	struct kg_cfgref *cfgref;       /* owned reference */
	const struct kg_client *client; /* borrowed from cfgref's config */
	const char *url;                /* the head's path (borrowed as the head), matched again */
	const char *outcome;            /* static */
	struct kg_store_job *idem;      /* the Idempotency-Key's job (owned), or NULL */
	struct kg_answer *latest;       /* the latest good status answer (a reference) */
	char *loc;                      /* the decoded locator (owned, wiped) */
	char *path;                     /* the status read's path (owned, wiped) */
	unsigned long long started_ms, started_us;
	/* The engine's part. Its strings are the record's own (loc, path, latest, the ids below),
	 * or the head's (a caller's X-Request-Id, tracestate); it also keeps the client's socket
	 * and the deadline. */
	struct kg_up_wait wait;
	struct kg_climit_note limit;
	unsigned products, wait_s;
	int status; /* the reply's, once answered */
	char new_request_id[KG_NEW_REQUEST_ID_BYTES + 1];
	char traceparent[KG_TRACEPARENT_BYTES + 1];
	char method[8];
	char country[3], remembered[3];
	bool metrics_only, suspended_counted, waiting_counted, followup_read, watch_asked, watched,
	    idem_claimed;
};

/* waitrec.c: moves what a waiter keeps from req into rec (all of rec is set); req is left holding
 * none of it, for the rest to be released and req freed. */
void kg_waitrec_take(struct kg_waitrec *rec, struct kg_req *req);

/* waitrec.c: the inverse, into req (zeroed): the request as it was, its route matched again, for
 * gw's connection whose con_cls is ctx. rec is left holding nothing (free it). */
void kg_waitrec_give(struct kg_req *req, struct kg_waitrec *rec, struct kg_gateway *gw, void **ctx);

/* server.c: the work of a suspended work route ended: the request runs again (work_resumed).
 * Any thread; exactly once per work_submit; the caller must not touch req afterwards. */
void kg_req_wake(struct kg_req *req);

/* server.c: one of what the request waits for (req->joint) ended; the last one resumes it. Any
 * thread. */
void kg_req_joint_done(struct kg_req *req);

/* handlers.c: a work route's request is complete: its parameters and query are read and its
 * work_begin runs; false with req->reply filled. */
bool kg_handle_work(struct kg_req *req);

/* heads.c: starts the thread that shuts connections whose request head is overdue; NULL when it
 * cannot. kg_heads_free() stops it and frees what is left; call it after the daemons stopped. */
struct kg_heads *kg_heads_start(void);
void kg_heads_free(struct kg_heads *h);

/* heads.c: registers a new connection's socket with a first deadline (kg_now_ms() based); NULL
 * when out of memory. kg_heads_remove() unregisters and frees it (NULL is ignored); it must run
 * before the socket is closed (libmicrohttpd's closed notification does). Thread-safe. */
struct kg_conn *kg_heads_add(struct kg_heads *h, int fd, unsigned long long deadline_ms);
void kg_heads_remove(struct kg_heads *h, struct kg_conn *c);

/* heads.c: sets a connection's deadline, or with only_sooner lowers it (an unset one is set).
 * Nothing changes once the connection was shut. Lock-free. */
void kg_conn_arm(struct kg_conn *c, unsigned long long deadline_ms, bool only_sooner);

/* heads.c: the head is complete: clears the deadline. False when the connection was already shut
 * for being late (the request must not be served). Lock-free. */
bool kg_conn_head_done(struct kg_conn *c);

/* acceptor.c: a non-blocking listening socket bound to ss (SO_REUSEADDR; IPv6 only when v6), or
 * -1 with the errno of what failed in *err. */
int kg_listen_socket(const struct sockaddr_storage *ss, bool v6, int backlog, int *err);

/* acceptor.c: the accept thread of the listening socket fd (which it owns from now on), keeping at
 * most max_connections open. kg_acceptor_run() starts it, handing connections to daemon (started
 * with MHD_USE_NO_LISTEN_SOCKET); false when the thread cannot start. kg_acceptor_closed() is
 * libmicrohttpd's closed notification of one of its connections (any thread).
 * kg_acceptor_close() stops accepting and closes the socket (idempotent); kg_acceptor_free() also
 * frees it, after the daemon stopped. */
struct kg_acceptor *kg_acceptor_new(int fd, unsigned max_connections);
bool kg_acceptor_run(struct kg_acceptor *a, struct MHD_Daemon *daemon);
void kg_acceptor_closed(struct kg_acceptor *a);
void kg_acceptor_close(struct kg_acceptor *a);
void kg_acceptor_free(struct kg_acceptor *a);

/* checks.c: a new request id (a UUID v4) into out. Thread-safe. */
void kg_request_id_new(char out[KG_NEW_REQUEST_ID_BYTES + 1]);

/* heads.c: peeks (without consuming) at the bytes already received on a new plain-HTTP
 * connection; the rule its first request head breaks (static text: a bare CR, a Content-Length
 * that is not bare digits), or NULL when none is seen in them. */
const char *kg_head_precheck(int fd);

/* capture.c: copies what the request path reads of the head (the headers of struct kg_req_head,
 * the framing verdict, Content-Length into declared / declared_len, the query arguments) from
 * conn into req, so that nothing after it calls libmicrohttpd for them. Out of memory sets
 * req->head.oom. Frees nothing: kg_req_capture_free() does. */
void kg_req_capture(struct kg_req *req, struct MHD_Connection *conn);
void kg_req_capture_free(struct kg_req *req);

/* checks.c: decides a request whose headers arrived. Fills req->reply and returns false when it
 * must be refused now (framing 400, 404 ... 415); true to go on reading the body. */
bool kg_handle_headers(struct kg_req *req);

/* handlers.c: the body is complete. Either fills req->reply (returns false) or prepares req->call
 * for the engine (returns true). */
bool kg_handle_request(struct kg_req *req);

/* handlers.c: the engine finished req->call. Fills req->reply (returns false), or prepares a
 * follow-up call (returns true). */
bool kg_handle_upstream(struct kg_req *req);

/* handlers.c: allocates req->call for the request's upstream exchange (false with a 503 in
 * req->reply when out of memory); kg_req_call_free() wipes what held a locator and frees it
 * (NULL is ignored). */
bool kg_req_call_new(struct kg_req *req);
void kg_req_call_free(struct kg_req *req);

/* handlers.c: a long-poll wait (req->wait) ended: its outcome becomes req->call's, as a status
 * read's, for the route's answer. False with a 503 in req->reply when out of memory. */
bool kg_handle_wait_end(struct kg_req *req);

/* handlers.c: the engine refused a call (in-flight cap, stopping): a waiter answers its latest
 * state, anything else 503. */
void kg_reply_refused(struct kg_req *req);

/* handlers.c: counts a long-poll request (a ?wait read, a feed request with wait) against
 * verification.max_waiting_per_client and verification.max_waiting, never against
 * crossmint.max_inflight; false with a 503 in req->reply when either is reached.
 * kg_req_release() gives the place back. */
bool kg_handle_waiting_enter(struct kg_req *req);

/* handlers.c: gives back what a request holds beyond its memory (its long-poll place, its latest
 * answer). Called once when the request ends. */
void kg_req_release(struct kg_req *req);

#endif
