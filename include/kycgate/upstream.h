/* The upstream engine (design §6, §8): one thread owning one libcurl multi handle, driven by
 * curl_multi_socket_action on epoll, with a hand-over queue from request threads.
 *
 * Request threads fill a struct kg_up_call and submit it. The engine runs the exchange and calls
 * call->done exactly once, on the thread running the engine: its own, or a request thread that
 * found it idle in kg_upstream_submit_here() (one thread at a time either way); done must not
 * block, and the engine never touches the call after done returns. */
#ifndef KYCGATE_UPSTREAM_H
#define KYCGATE_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "kycgate/common.h"
#include "kycgate/timer_heap.h"

struct kg_upstream;
struct kg_config;

/* How an exchange ended, before looking at the HTTP status. */
enum kg_up_result {
	KG_UP_OK = 0,    /* an HTTP answer arrived (any status) */
	KG_UP_TIMEOUT,   /* connect or total deadline passed */
	KG_UP_CONNECT,   /* could not connect (refused, DNS, TLS handshake) */
	KG_UP_RESET,     /* connection closed or reset without a full answer */
	KG_UP_TOO_LARGE, /* answer over crossmint.max_response_bytes */
	KG_UP_SHUTDOWN,  /* the engine stopped before the exchange ended */
	KG_UP_ERROR,     /* any other transport failure */
	KG_UP_BUDGET,    /* the upstream rate budget is spent (budget_wait_s says how long) */
	KG_UP_DEADLINE,  /* deadline_ms passed while the call was still waiting */
	KG_UP_OPEN,      /* the circuit breaker is open: no upstream call was made (retry_after_s
	                  * says when a probe may go) */
	KG_UP_NOMEM,     /* the gateway ran out of memory (Crossmint may not have been reached) */
};

/* What a call is, for single flight, the status cache and user generations (design §6). */
enum kg_call_kind {
	KG_CALL_PLAIN = 0,   /* an exchange on its own */
	KG_CALL_STATUS_READ, /* GET identity-verification: joins a flight or reuses the cache */
	KG_CALL_WRITE,       /* changes user_key's data: raises its generation */
};

/* An engine timer (engine-private, embedded in calls). */
struct kg_up_timer {
	struct kg_timer base; /* its place in the engine's timer heap; base.when is the deadline */
	void (*fire)(struct kg_upstream *up, struct kg_up_timer *t);
};

struct kg_answer;

/* Upstream request headers passed through from the caller (validated by the handler). */
#define KG_UP_MAX_HEADER 640

/* Most headers of a call with its own url. */
#define KG_UP_MAX_HEADERS 8

/* Longest curl error text kept on a call (kg_up_error_text; CURL_ERROR_SIZE is 256). */
#define KG_UP_ERROR_TEXT_MAX 200

/* One upstream exchange. The submitter owns it; the engine borrows it from kg_upstream_submit()
 * until it calls done. */
struct kg_up_call {
	/* In: set before submitting. */
	const char *method; /* "GET", "PUT", "POST", "DELETE" (static) */
	char path[1024];    /* after base URL and version: "/users/userId:a/..." */
	const char *body;   /* request body (borrowed until done), NULL for none */
	size_t body_len;
	char request_id[KG_MAX_REQUEST_ID_BYTES + 1];
	char traceparent[64];                         /* "" when none */
	char tracestate[KG_MAX_TRACESTATE_BYTES + 1]; /* "" when none */
	void (*done)(struct kg_up_call *call);        /* called once, on the engine thread */
	void *owner;                                  /* the submitter's context */
	enum kg_call_kind kind;
	char user_key[KG_MAX_LOCATOR_BYTES + 1]; /* decoded locator, for STATUS_READ and WRITE */
	bool force_budget; /* takes a token even when none is left (the follow-up read of a trigger
	                    * Crossmint already accepted) */
	bool low_priority; /* a long-poll re-read: waits for budget, never refused */
	bool watch_poll;   /* a watch's poll (watch.c): waits for budget, never refused, and takes
	                    * a token only while more than 1 - events.watch.budget_share of the
	                    * read bucket remain (design §10) */
	unsigned long long not_before_ms; /* kg_now_ms() before which it does not start; 0 = now */
	unsigned long long deadline_ms; /* finish with KG_UP_DEADLINE if still waiting; 0 = none */
	bool once_only; /* may start work at Crossmint (a trigger, a document upload): retried only
	                 * when it provably never reached it (design §6); ignored for a GET */
	/* A call to another service than Crossmint (a webhook, design §10) when url is set: the
	 * absolute URL (borrowed until done) instead of base URL + version + path, with headers
	 * (up to KG_UP_MAX_HEADERS "Name: value" lines, NULL-terminated, borrowed until done)
	 * instead of Crossmint's (never the API key, no X-Request-Id), ended after timeout_ms
	 * (0: crossmint.timeout_ms). It takes no budget token, neither waits on nor counts for the
	 * circuit breaker, and is never retried (the caller has its own schedule); kind must be
	 * PLAIN, and path is not used. */
	const char *url;
	const char *const *headers;
	unsigned timeout_ms;
	/* Out: valid when done is called. */
	enum kg_up_result result;
	long status; /* HTTP status when result is KG_UP_OK */
	char *resp;  /* answer body, new (free with kg_up_call_cleanup) */
	size_t resp_len;
	unsigned retry_after_s; /* Retry-After in seconds, 0 if none (KG_UP_OPEN: until a probe) */
	unsigned attempts;      /* attempts made, retries included (0: none was needed or allowed;
	                         * a joined read: those of its flight) */
	double upstream_ms;     /* time spent upstream, from the first attempt to the last answer */
	struct kg_answer *answer; /* STATUS_READ: the shared answer (a reference), or NULL */
	bool shared;              /* STATUS_READ: joined another call's flight */
	bool cached;              /* STATUS_READ: reused a cached answer */
	unsigned budget_wait_s;   /* seconds until the read budget has a token */
	/* curl's own words when the exchange failed in transport ("SSL certificate problem: ..."),
	 * cleaned by kg_up_error_text(); "" when curl said nothing or the call reached curl never
	 */
	char error_text[KG_UP_ERROR_TEXT_MAX + 1];

	/* Engine-private. */
	struct kg_up_call *next;                  /* hand-over queue */
	struct kg_up_call *live_prev, *live_next; /* calls inside curl */
	struct kg_up_call *join_prev, *join_next; /* reads joined to a flight */
	struct kg_up_call *flight;                /* the flight a read is joined to */
	struct kg_up_call *joiners;               /* a flight: the reads waiting for it */
	struct kg_up_timer start_timer,
	    deadline_timer; /* start_timer also times a retry's backoff */
	int state;
	bool probe; /* the attempt in curl is the circuit breaker's half-open probe */
	unsigned long long
	    exchange_deadline_ms;        /* the first attempt's start + crossmint.timeout_ms */
	bool internal;                   /* a flight owned by the engine, not a request */
	unsigned long long flight_gen;   /* a flight: the user generation it reads at */
	const struct kg_up_call *first;  /* a flight: the read that started it (compared only) */
	struct kg_upstream *priv_engine; /* a flight: its engine */
	void *easy;
	void *priv;
	size_t resp_cap;
	size_t resp_limit;
	unsigned long long started_us;
	unsigned long long started_wall_ms; /* a flight: kg_wall_ms() when it was created */
};

/* A long-poll waiter (design §6, issue 12 item 5): a status read of user_key parked on its user's
 * entry in the engine until a read of that user (its waiters' shared re-read, or anyone's)
 * observes an answer other than seen, or deadline_ms passes (KG_UP_DEADLINE), or the caller on
 * client_fd hung up (KG_UP_DEADLINE). Only the re-reads are upstream calls. It is under 200
 * bytes, not a struct kg_up_call (2.5 KiB): thousands wait at once, and a waiting request holds
 * no call. Its deadline is kept by its user's entry, not by a timer of its own.
 * The submitter owns it; the engine borrows it (and its strings) from kg_upstream_wait() until
 * it calls done, on the engine thread, exactly once. */
struct kg_up_wait {
	/* In: set before kg_upstream_wait(); the strings are borrowed until done. */
	const char *user_key;                 /* decoded locator */
	const char *path;                     /* the status read's path, for the re-reads */
	const char *request_id;               /* sent with a re-read this waiter starts */
	const char *traceparent, *tracestate; /* "" when none */
	const struct kg_answer *seen;         /* the caller's latest answer; NULL: any settles */
	unsigned long long deadline_ms;       /* kg_now_ms() at which it ends; required */
	void (*done)(struct kg_up_wait *w);   /* called once, on the engine thread */
	void *owner;                          /* the submitter's context */
	int client_fd;                        /* peeked at before a re-read; -1: none */

	/* Out: valid when done is called, as a status read's (struct kg_up_call). */
	enum kg_up_result result;
	long status;
	struct kg_answer *answer; /* the shared answer (a reference), or NULL */
	double upstream_ms;
	unsigned retry_after_s;
	unsigned attempts;
	unsigned budget_wait_s;
	bool shared; /* always: the read that observed it was the user's */
	bool cached; /* the cached answer settled it */

	/* Engine-private (fields ordered to leave no padding: thousands wait at once). */
	unsigned char state;
	struct kg_up_wait *next, *prev; /* the hand-over queue, then the user's waiters */
	void *entry;                    /* the user entry it waits on */
};

/* Initialises libcurl for the process with allocation callbacks that wipe every block libcurl
 * frees (its header lists and request buffers hold the API key). Call once, before any thread
 * starts and instead of curl_global_init(); undo with kg_upstream_global_cleanup() at exit.
 * Not thread-safe. */
enum kg_err kg_upstream_global_init(void);
void kg_upstream_global_cleanup(void);

/* Starts the engine thread. cfg is borrowed only during the call (the engine copies what it
 * needs); base_url is the resolved base URL (with the embedded simulator's port when that
 * applies) and api_key the key to send (NULL: none), both copied. Returns NULL on failure with a
 * reason in err. */
struct kg_upstream *kg_upstream_start(const struct kg_config *cfg, const char *base_url,
                                      const char *api_key, char *err, size_t errcap);

/* Reserves a place for one call: KG_OK, or KG_ERR_BUSY when crossmint.max_inflight calls are
 * already reserved (unless over_cap: a call that continues an admitted request, such as a
 * long-poll re-read, may exceed the cap) or the engine is stopping / stopped. Thread-safe; never
 * blocks; valid until kg_upstream_free(). */
enum kg_err kg_upstream_reserve(struct kg_upstream *up, bool over_cap);

/* Gives back a reservation that will not be submitted. */
void kg_upstream_release(struct kg_upstream *up);

/* Reserves a place for one long-poll waiter (kg_upstream_wait): KG_OK, or KG_ERR_BUSY only when the
 * engine is stopping or stopped. Waiters have their own limits (verification.max_waiting and
 * max_waiting_per_client, kycgate/longpoll.h); the re-reads they share are the upstream calls.
 * Thread-safe; never blocks. */
enum kg_err kg_upstream_reserve_wait(struct kg_upstream *up);

/* Hands a long-poll waiter to the engine, using one kg_upstream_reserve_wait() reservation;
 * done will be called exactly once (with KG_UP_SHUTDOWN if the engine is stopping or draining).
 * Thread-safe; never blocks. */
void kg_upstream_wait(struct kg_upstream *up, struct kg_up_wait *w);

/* Hands a call to the engine, using one reservation; done will be called exactly once (with
 * KG_UP_SHUTDOWN if the engine is stopping). Thread-safe; never blocks on the network. */
void kg_upstream_submit(struct kg_upstream *up, struct kg_up_call *call);

/* As kg_upstream_submit, but when the engine is idle the calling thread runs it: admits call (its
 * done may be called before this returns), lets curl send it, and runs what else is due (other
 * calls' done among them). Only from a thread that holds no lock a done callback may take (the
 * request threads); never blocks on the network. */
void kg_upstream_submit_here(struct kg_upstream *up, struct kg_up_call *call);

/* A status read answered on the calling thread from the engine's cache, with no hand-over and
 * no done: true when the engine was free at that instant (never waited for), nothing was
 * queued for it, and the user's entry held a fresh answer of its current generation (and, when
 * country is not NULL, the user's remembered country noted with that answer under this epoch,
 * copied into country[3]); call then holds what the engine would have given it (cached, status, a
 * reference to the answer, result KG_UP_OK; release it with kg_up_call_cleanup). False otherwise,
 * and call is to be submitted as usual. It takes no reservation. Thread-safe; never blocks. */
bool kg_upstream_try_cached(struct kg_upstream *up, struct kg_up_call *call, char *country,
                            unsigned long epoch);

/* Notes country ("" for none), the user's remembered country as the store held it when the
 * status read call looked it up (epoch: the caller's count of the changes that may have been
 * made to it, taken before the lookup), beside the answer call got, if the user's entry still
 * holds that very answer: a later cached read that needs the country takes it from there
 * while the count has not moved (kg_upstream_try_cached's epoch). Skipped when the engine is
 * busy at that instant. Thread-safe; never blocks. */
void kg_upstream_note_country(struct kg_upstream *up, const struct kg_up_call *call,
                              const char *country, unsigned long epoch);

/* Replaces what the engine takes from the configuration (key, timeouts, limits) for the
 * exchanges that start after this call. Thread-safe. */
enum kg_err kg_upstream_configure(struct kg_upstream *up, const struct kg_config *cfg,
                                  const char *base_url, const char *api_key);

/* Draining: answers every long-poll re-read and watch poll that is waiting now (with
 * KG_UP_SHUTDOWN) and every later one at once. Thread-safe. */
void kg_upstream_end_waits(struct kg_upstream *up);

/* Calls in flight now, long-poll waiters included. Thread-safe. */
unsigned kg_upstream_inflight(const struct kg_upstream *up);

/* Ends every pending exchange with KG_UP_SHUTDOWN (calling done for each, also for calls
 * reserved and submitted during the stop) and stops the thread. Reservations fail from then on;
 * the engine stays valid for them until kg_upstream_free(). Accepts NULL. Not from the engine
 * thread. */
void kg_upstream_stop(struct kg_upstream *up);

/* Stops the engine if needed and frees it. Call once no thread can use it any more. Accepts
 * NULL. */
void kg_upstream_free(struct kg_upstream *up);

/* Copies curl's error text into out (cap bytes, always NUL-terminated, cut to fit) so that it
 * can be logged: tabs and line breaks become spaces, other control characters and non-ASCII bytes
 * are dropped, a URL keeps only its scheme and host ("https://api.example.com[cut]": user info,
 * path, query and fragment removed), and any other word loses everything from its first '/', '?'
 * or '#' on (a path or query; "HTTP/2" is kept). At most 512 bytes of text are read; text may be
 * NULL. Pure; thread-safe. */
void kg_up_error_text(const char *text, char *out, size_t cap);

/* Called on the engine thread once per status read that reached Crossmint and was answered
 * HTTP 200 (a flight, not each read that joined it, nor a cached reuse): user_key is the decoded
 * locator (borrowed for the call), answer the shared answer (borrowed: the observer takes its own
 * reference with kg_answer_ref to keep it), started_wall_ms the kg_wall_ms() at which the read
 * started (so a read that finishes after a newer one can be told apart). It must not block. */
typedef void (*kg_up_observer)(void *ctx, const char *user_key, struct kg_answer *answer,
                               unsigned long long started_wall_ms);

/* Sets (fn non-NULL) or clears the observer of status reads (events.c). Thread-safe; once it
 * returns, a cleared observer is not called any more. */
void kg_upstream_set_observer(struct kg_upstream *up, kg_up_observer fn, void *ctx);

/* Frees what the engine left in call (the answer body, wiped; the answer reference). Accepts
 * NULL. */
void kg_up_call_cleanup(struct kg_up_call *call);

#endif
