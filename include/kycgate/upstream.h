/* The upstream engine (design §6, §8): one thread owning one libcurl multi handle, driven by
 * curl_multi_socket_action on epoll, with a hand-over queue from request threads.
 *
 * Request threads never call curl: they fill a struct kg_up_call and submit it. The engine runs
 * the exchange and calls call->done on its own thread exactly once; done must not block, and the
 * engine never touches the call after done returns. */
#ifndef KYCGATE_UPSTREAM_H
#define KYCGATE_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "kycgate/common.h"

struct kg_upstream;
struct kg_config;

/* How an exchange ended, before looking at the HTTP status. */
enum kg_up_result {
	KG_UP_OK = 0,        /* an HTTP answer arrived (any status) */
	KG_UP_TIMEOUT,       /* connect or total deadline passed */
	KG_UP_CONNECT,       /* could not connect (refused, DNS, TLS handshake) */
	KG_UP_RESET,         /* connection closed or reset without a full answer */
	KG_UP_TOO_LARGE,     /* answer over crossmint.max_response_bytes */
	KG_UP_SHUTDOWN,      /* the engine stopped before the exchange ended */
	KG_UP_ERROR,         /* any other transport failure */
};

/* Upstream request headers passed through from the caller (validated by the handler). */
#define KG_UP_MAX_HEADER 640

/* One upstream exchange. The submitter owns it; the engine borrows it from kg_upstream_submit()
 * until it calls done. */
struct kg_up_call {
	/* In: set before submitting. */
	const char *method;            /* "GET", "PUT", "POST", "DELETE" (static) */
	char path[1024];               /* after base URL and version: "/users/userId:a/..." */
	const char *body;              /* request body (borrowed until done), NULL for none */
	size_t body_len;
	char request_id[KG_MAX_REQUEST_ID_BYTES + 1];
	char traceparent[64];          /* "" when none */
	char tracestate[KG_MAX_TRACESTATE_BYTES + 1]; /* "" when none */
	void (*done)(struct kg_up_call *call); /* called once, on the engine thread */
	void *owner;                   /* the submitter's context */

	/* Out: valid when done is called. */
	enum kg_up_result result;
	long status;                   /* HTTP status when result is KG_UP_OK */
	char *resp;                    /* answer body, new (free with kg_up_call_cleanup) */
	size_t resp_len;
	unsigned retry_after_s;        /* Retry-After in seconds, 0 if none */
	unsigned attempts;             /* exchanges made (1 until retries land) */
	double upstream_ms;            /* time spent upstream */

	/* Engine-private. */
	struct kg_up_call *next;        /* hand-over queue */
	struct kg_up_call *live_prev, *live_next; /* calls inside curl */
	void *easy;
	void *priv;
	size_t resp_cap;
	size_t resp_limit;
	unsigned long long started_ms;
};

/* Starts the engine thread. cfg is borrowed only during the call (the engine copies what it
 * needs); base_url is the resolved base URL (with the embedded simulator's port when that
 * applies) and api_key the key to send (NULL: none), both copied. Returns NULL on failure with a
 * reason in err. */
struct kg_upstream *kg_upstream_start(const struct kg_config *cfg, const char *base_url,
				      const char *api_key, char *err, size_t errcap);

/* Reserves a place for one call: KG_OK, or KG_ERR_BUSY when crossmint.max_inflight calls are
 * already reserved or the engine is stopping. Thread-safe; never blocks. */
enum kg_err kg_upstream_reserve(struct kg_upstream *up);

/* Gives back a reservation that will not be submitted. */
void kg_upstream_release(struct kg_upstream *up);

/* Hands a call to the engine, using one reservation; done will be called exactly once (with
 * KG_UP_SHUTDOWN if the engine is stopping). Thread-safe; never blocks on the network. */
void kg_upstream_submit(struct kg_upstream *up, struct kg_up_call *call);

/* Replaces what the engine takes from the configuration (key, timeouts, limits) for the
 * exchanges that start after this call. Thread-safe. */
enum kg_err kg_upstream_configure(struct kg_upstream *up, const struct kg_config *cfg,
				  const char *base_url, const char *api_key);

/* Calls in flight now. Thread-safe. */
unsigned kg_upstream_inflight(const struct kg_upstream *up);

/* Ends every pending exchange with KG_UP_SHUTDOWN (calling done for each), stops the thread and
 * frees the engine. Accepts NULL. Must not be called from the engine thread. */
void kg_upstream_stop(struct kg_upstream *up);

/* Frees what the engine left in call (the answer body, wiped). Accepts NULL. */
void kg_up_call_cleanup(struct kg_up_call *call);

#endif
