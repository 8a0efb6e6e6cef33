/* Private to the upstream engine (upstream*.c): its state, the per-user entries of single flight
 * and the status cache, the timer heap and the rate budget. Everything here is touched only by
 * the thread that holds run_lock (the engine thread between its epoll waits, or a request thread
 * in kg_upstream_submit_here), except what the lock and the atomics guard. */
#ifndef KYCGATE_UPSTREAM_INTERNAL_H
#define KYCGATE_UPSTREAM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <curl/curl.h>

#include "kycgate/answer.h"
#include "kycgate/breaker.h"
#include "kycgate/metrics.h"
#include "kycgate/tbucket.h"
#include "kycgate/upstream.h"

/* Where a call is inside the engine. */
enum call_state {
	CS_QUEUED = 0,
	CS_DELAYED, /* waiting for not_before_ms or a budget token (start_timer) */
	CS_JOINED,  /* a status read waiting for a flight */
	CS_LIVE,    /* an attempt is inside curl */
	CS_BACKOFF, /* between two attempts (start_timer) */
	CS_WAITING, /* a long-poll waiter on its user's entry (deadline_timer) */
	CS_DONE
};

/* What the engine takes from one config generation; shared by the calls that started on it. */
struct settings {
	atomic_uint refs;
	char *base_url;
	char *api_version;
	char *api_key_header;      /* "X-API-KEY: ..." (wiped on free) */
	struct curl_slist *common; /* built once per generation: key, media types, Expect: */
	struct curl_slist *common_bodiless; /* the same without Content-Type, for calls without a
	                                     * body (its first node points at api_key_header too) */
	unsigned long long gen; /* this generation's number, unique for the process's life */
	long connect_timeout_ms;
	long timeout_ms;
	unsigned max_inflight;
	size_t max_response_bytes;
	long max_connections;
	char *proxy;
	bool allow_http;
	unsigned cache_ttl_ms;
	unsigned reads_per_minute; /* 0 = unlimited */
	unsigned watch_share_pct;  /* events.watch.budget_share: what watch polls may use */
	unsigned writes_per_minute;
	unsigned max_attempts; /* crossmint.retry */
	unsigned base_delay_ms;
	unsigned max_delay_ms;
	unsigned failure_threshold; /* crossmint.circuit_breaker */
	unsigned long long open_ms;
};

/* One user's reads: the flight in progress, the reads joined to it, the last good answer, the
 * long-poll waiters and their shared re-read schedule. Freed as soon as nothing holds it (no
 * flight, no waiter, no answer still fresh for the cache): its cost never grows with the number
 * of users seen. */
struct entry {
	struct entry *next; /* hash chain */
	size_t hash;
	uint64_t gen;              /* raised by every write to this user */
	struct kg_up_call *flight; /* the upstream read in progress, or NULL */
	unsigned n_flights;        /* flights of this user still running (any generation) */
	unsigned pins;             /* being walked: not freed meanwhile */
	struct kg_answer *answer;  /* last good answer, kept only while fresh, or NULL */
	/* The user's remembered country (events) as the store held it when a read that got answer
	 * looked it up ("" none): lets a cached read that needs it skip the store. Dropped with
	 * the answer; a PUT that changes it is a write, which drops the answer. */
	char country[3];
	bool country_known;
	unsigned long country_epoch; /* kg_events_country_epoch() before that lookup */
	uint64_t answer_gen;
	unsigned long long answer_ms;
	bool answer_reread; /* answer came from the waiters' own re-read (not another read) */
	struct entry *exp_prev, *exp_next; /* on the expiry list while holding an answer */
	struct kg_up_wait *waiters;        /* long-poll waiters (linked by prev / next) */
	unsigned n_waiters;
	struct kg_up_wait *gone_next;    /* the next waiter whose caller is looked at */
	unsigned long long min_deadline; /* the waiters' earliest deadline ... */
	bool min_stale;                  /* ... unless the waiter that had it left */
	unsigned backoff_ms;             /* the next re-read's delay: 250 ms doubling to 2 s */
	struct kg_up_timer reread;       /* the waiters' next re-read */
	struct kg_answer *checked;  /* while waiters wait: each holds the same as this (a reference)
	                             * unless unchecked; NULL: not known */
	bool unchecked;             /* a waiter came since checked was set */
	unsigned long long read_at; /* the planned re-read (kg_now_ms()), or ULLONG_MAX: none */
	char key[];                 /* the decoded locator */
};

#define ENTRY_MIN_BUCKETS 256 /* the table doubles past one entry a bucket, halves below 1/8 */

struct kg_upstream {
	pthread_t thread;
	bool thread_done; /* kg_upstream_stop joined the thread */
	int epfd;
	int wakefd;
	CURLM *multi;
	long long timer_deadline_ms; /* curl's timer; -1: none */

	pthread_mutex_t lock; /* guards the queue, settings and the buckets */
	struct kg_up_call *q_head, *q_tail;
	struct kg_up_wait *wq_head, *wq_tail; /* long-poll waiters handed over */
	struct settings *settings;
	struct kg_tbucket reads, writes; /* the rate budget: process state, survives reloads */

	atomic_uint inflight; /* reserved calls: queued, waiting, inside curl */
	atomic_uint waiting;  /* reserved long-poll waiters (kg_upstream_reserve_wait) */
	atomic_uint max_inflight;
	atomic_bool stopping;
	atomic_bool end_waits; /* long-poll waiters are to be answered now (draining) */
	bool waits_ended;      /* engine thread: end_waits was handled */

	/* Held by whichever thread runs the engine: the engine thread, released only while it
	 * sleeps in epoll_wait, or a request thread that found it free (kg_upstream_submit_here).
	 */
	pthread_mutex_t run_lock;
	atomic_llong
	    sleep_until_ms; /* when the sleeping engine thread wakes by itself; -1: never */

	/* Under run_lock only. */
	struct kg_up_call *live; /* calls inside curl */
	unsigned n_live;
	bool q_more;      /* calls were left in the queue for the next round (ADMIT_BATCH) */
	long cache_limit; /* CURLMOPT_MAXCONNECTS now */
	struct kg_timer_heap heap; /* of struct kg_up_timer */
	struct entry **buckets;    /* the per-user table (NULL until the first read) */
	size_t n_buckets;
	size_t n_entries;
	struct entry *exp_head, *exp_tail; /* entries holding an answer, the oldest first */
	struct kg_up_timer sweep;
	struct settings *cur;             /* the settings taken at the last hand-over */
	struct kg_breaker breaker;        /* process state, survives reloads */
	struct kg_up_timer breaker_timer; /* when the open breaker turns half-open */
	uint64_t rng;                     /* xorshift state for the backoff's jitter */
	/* Easy handles given back, each with the shape its options were last set for (up_shape):
	 * a handle is reset only when a call needs another shape. Each keeps the wiped block of
	 * per-call data it last served (upstream.c's struct callpriv), so that a call allocates
	 * nothing of its own. */
	struct pooled {
		CURL *easy;
		unsigned long long shape; /* 0: unknown, reset before use */
		void *priv;               /* all zero, or NULL */
	} pool[64];
	size_t n_pool;
	/* Flights' calls given back, wiped (upstream_status.c: flight_give). */
	struct kg_up_call *spare_flights[16];
	size_t n_spare_flights;
	/* The observer of successful status reads (kg_upstream_set_observer), under its own lock
	 * (not lock: the hand-over queue must not wait on an observer). */
	pthread_mutex_t observer_lock;
	kg_up_observer observer;
	void *observer_ctx;
	unsigned long long last_admit_ms; /* when a call last came in */
	bool trim_due;                    /* calls came since the heap was last trimmed */
};

/* Moves the count of max_inflight places held, and its gauge. */
static inline void up_inflight_add(struct kg_upstream *up, int delta)
{
	atomic_fetch_add(&up->inflight, (unsigned)delta);
	kg_metrics_gauge_add(KG_GAUGE_UPSTREAM_INFLIGHT, delta);
}

/* The engine's timers on the shared timer heap (kycgate/timer_heap.h). */
#define UP_TIMER_OF(k) ((struct kg_up_timer *)((char *)(k)-offsetof(struct kg_up_timer, base)))

static inline void up_timer_init(struct kg_up_timer *t,
                                 void (*fire)(struct kg_upstream *, struct kg_up_timer *))
{
	kg_timer_init(&t->base);
	t->fire = fire;
}

static inline bool up_heap_arm(struct kg_timer_heap *h, struct kg_up_timer *t,
                               unsigned long long when)
{
	return kg_timer_heap_arm(h, &t->base, when);
}

static inline void up_heap_disarm(struct kg_timer_heap *h, struct kg_up_timer *t)
{
	kg_timer_heap_disarm(h, &t->base);
}

/* The armed timer with the earliest deadline, or NULL. */
static inline struct kg_up_timer *up_heap_top(const struct kg_timer_heap *h)
{
	struct kg_timer *k = kg_timer_heap_top(h);

	return k == NULL ? NULL : UP_TIMER_OF(k);
}

/* upstream.c */
void up_finish(struct kg_upstream *up, struct kg_up_call *call, enum kg_up_result result);
/* How many of libcurl's allocations failed so far (upstream_mem.c): libcurl reports some of its
 * own out-of-memory failures as other errors (an empty reply, say), so a failed exchange during
 * which this moved is counted as out of memory, never as Crossmint's failure. */
unsigned long up_mem_failures(void);
void up_start_exchange(struct kg_upstream *up, struct kg_up_call *call);
/* Arms nothing: gives call's two timers their engine callbacks. */
void up_call_timers_init(struct kg_up_call *call);
/* Who a read is for, by how much of the read bucket it must leave to the others (design §10): a
 * caller's read may take the last token, a long-poll re-read only while more than 20% remain, a
 * watch poll only while more than 1 - events.watch.budget_share remain. */
enum up_prio { UP_PRIO_CALLER = 0, UP_PRIO_LONGPOLL, UP_PRIO_WATCH };

static inline enum up_prio up_prio_of(const struct kg_up_call *call)
{
	return call->watch_poll     ? UP_PRIO_WATCH
	       : call->low_priority ? UP_PRIO_LONGPOLL
	                            : UP_PRIO_CALLER;
}

/* Lets one attempt start: the circuit breaker, then one budget token (below the caller's
 * priority, a share of the minute's tokens is left to others: enum up_prio). KG_UP_OK: go,
 * *probe says it is the breaker's probe; KG_UP_OPEN: the breaker refused, *wait_ms until a
 * probe may go; KG_UP_BUDGET: no token, *wait_ms until one is there. */
enum kg_up_result up_gate(struct kg_upstream *up, bool read, enum up_prio prio, bool force,
                          unsigned long long *wait_ms, bool *probe);
unsigned up_budget_wait_s_locked(struct kg_upstream *up);

/* upstream_status.c */
void up_status_begin(struct kg_upstream *up, struct kg_up_call *call);
/* The cache's part of up_status_begin alone (kg_upstream_try_cached, run_lock held): true when
 * the user's entry holds a fresh answer of its current generation (and, when country is not
 * NULL, the remembered country read with it, copied there), which call then carries as a cache
 * hit; false, call untouched, otherwise. A country noted under another epoch than epoch is not
 * known. Creates no entry. */
bool up_status_cached(struct kg_upstream *up, struct kg_up_call *call, char *country,
                      unsigned long epoch);
/* kg_upstream_note_country's part (run_lock held). */
void up_status_note_country(struct kg_upstream *up, const struct kg_up_call *call,
                            const char *country, unsigned long epoch);
void up_status_unjoin(struct kg_upstream *up, struct kg_up_call *call);
/* A long-poll waiter handed over (kg_upstream_wait): parked on its user's entry (whose one
 * timer keeps its deadline), or settled at once by a fresh cached answer. up_wait_finish() ends
 * it wherever it is and calls its done, once; up_waits_end() ends every waiter. */
void up_wait_admit(struct kg_upstream *up, struct kg_up_wait *w);
void up_wait_finish(struct kg_upstream *up, struct kg_up_wait *w, enum kg_up_result result);
void up_waits_end(struct kg_upstream *up, enum kg_up_result result);
void up_write_touch(struct kg_upstream *up, const char *key);
void up_entries_sweep(struct kg_upstream *up, struct kg_up_timer *t);
/* upstream.c: gives freed memory back to the system once traffic stopped (called each second). */
void up_trim_if_idle(struct kg_upstream *up);
void up_entries_free(struct kg_upstream *up);

#endif
