/* Status reads on the engine thread (design §6): concurrent reads of one user share one upstream
 * call (single flight), a later read may reuse the last good answer for cache_ttl_ms, and a write
 * raises the user's generation so no read joins or reuses an answer fetched before it. Failures
 * are shared with the reads that were waiting for them, never cached.
 *
 * Long-poll waiters wait on their user's entry, suspended, until a read of that user (theirs or
 * anyone's) observes another answer than the one they hold: the user's waiters share one re-read
 * schedule, so 10k waiters on 500 users cost 500 re-reads per tick, not 10k resumes. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kycgate/log.h"
#include "kycgate/longpoll.h"
#include "upstream_internal.h"

#define REREAD_FIRST_MS 250
#define REREAD_MAX_MS 2000
#define LAST_READ_MARGIN_MS 100 /* a waiter's last re-read comes this long before its deadline */
#define REREAD_MIN_GAP_MS 50    /* however the deadlines fall, re-reads of a user are this apart */
#define EXPIRY_TICK_MS 1000     /* how often answers past cache_ttl_ms are let go */
#define GONE_CHECKS_PER_READ 4  /* waiters whose caller is looked at per re-read */
#define READ_NONE ULLONG_MAX    /* entry.read_at: no re-read planned */
#define REREAD_SLOT_MS 50       /* re-reads start on this grid of the monotonic clock */

#define ENTRY_OF(t) ((struct entry *)((char *)(t)-offsetof(struct entry, reread)))

/* ---- the per-user table ------------------------------------------------------------------- */

static bool table_resize(struct kg_upstream *up, size_t n)
{
	struct entry **b = calloc(n, sizeof(*b));
	size_t i;

	if (b == NULL)
		return false;
	for (i = 0; i < up->n_buckets; i++) {
		struct entry *e, *next;

		for (e = up->buckets[i]; e != NULL; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(up->buckets);
	up->buckets = b;
	up->n_buckets = n;
	return true;
}

static void entry_reread(struct kg_upstream *up, struct kg_up_timer *t);

/* The key is a locator (personal data): wiped with the entry. */
static void entry_free(struct entry *e)
{
	kg_wipe(e, sizeof(*e) + strlen(e->key) + 1);
	free(e);
}

static struct entry *entry_find(struct kg_upstream *up, const char *key, bool create)
{
	size_t len = strlen(key), h = kg_fnv1a(key, len);
	struct entry *e;

	if (up->buckets != NULL)
		for (e = up->buckets[h & (up->n_buckets - 1)]; e != NULL; e = e->next)
			if (e->hash == h && strcmp(e->key, key) == 0)
				return e;
	if (!create)
		return NULL;
	if (up->buckets == NULL && !table_resize(up, ENTRY_MIN_BUCKETS))
		return NULL;
	/* Past one entry a bucket the table doubles; when that fails, chains grow instead. */
	if (up->n_entries >= up->n_buckets)
		(void)table_resize(up, up->n_buckets * 2);
	e = calloc(1, sizeof(*e) + len + 1);
	if (e == NULL)
		return NULL;
	memcpy(e->key, key, len + 1);
	e->hash = h;
	up_timer_init(&e->reread, entry_reread);
	e->read_at = READ_NONE;
	e->next = up->buckets[h & (up->n_buckets - 1)];
	up->buckets[h & (up->n_buckets - 1)] = e;
	up->n_entries++;
	return e;
}

static void exp_unlink(struct kg_upstream *up, struct entry *e)
{
	if (e->exp_prev != NULL)
		e->exp_prev->exp_next = e->exp_next;
	else if (up->exp_head == e)
		up->exp_head = e->exp_next;
	if (e->exp_next != NULL)
		e->exp_next->exp_prev = e->exp_prev;
	else if (up->exp_tail == e)
		up->exp_tail = e->exp_prev;
	e->exp_prev = e->exp_next = NULL;
}

static void entry_drop_answer(struct kg_upstream *up, struct entry *e)
{
	if (e->answer == NULL)
		return;
	kg_wipe(e->country, sizeof(e->country));
	e->country_known = false;
	exp_unlink(up, e);
	kg_answer_put(e->answer);
	e->answer = NULL;
}

static bool cache_fresh(const struct kg_upstream *up, const struct entry *e)
{
	unsigned ttl = up->cur->cache_ttl_ms;

	return e->answer != NULL && ttl > 0 && e->answer_gen == e->gen &&
	       kg_now_ms() - e->answer_ms < ttl;
}

/* Frees e when nothing holds it any more (an answer past its cache time does not). */
static void entry_release(struct kg_upstream *up, struct entry *e)
{
	struct entry **pp;

	if (e->n_flights > 0 || e->n_waiters > 0 || e->pins > 0 || kg_timer_armed(&e->reread.base))
		return;
	if (cache_fresh(up, e))
		return;
	entry_drop_answer(up, e);
	for (pp = &up->buckets[e->hash & (up->n_buckets - 1)]; *pp != e; pp = &(*pp)->next)
		;
	*pp = e->next;
	entry_free(e);
	up->n_entries--;
	if (up->n_buckets > ENTRY_MIN_BUCKETS && up->n_entries < up->n_buckets / 8)
		(void)table_resize(up, up->n_buckets / 2);
}

/* Keeps answer as e's last good answer while the cache may reuse it; with the cache off the
 * entry keeps none (and is freed with its last flight). */
static void entry_keep_answer(struct kg_upstream *up, struct entry *e, struct kg_answer *answer,
                              uint64_t gen)
{
	entry_drop_answer(up, e);
	if (up->cur->cache_ttl_ms == 0)
		return;
	e->answer = kg_answer_ref(answer);
	e->answer_gen = gen;
	e->answer_ms = kg_now_ms();
	e->exp_prev = up->exp_tail;
	if (up->exp_tail != NULL)
		up->exp_tail->exp_next = e;
	else
		up->exp_head = e;
	up->exp_tail = e;
}

void up_write_touch(struct kg_upstream *up, const char *key)
{
	struct entry *e = entry_find(up, key, false);

	if (e == NULL)
		return; /* nobody read this user recently: nothing to invalidate */
	e->gen++;
	entry_drop_answer(up, e);
	entry_release(up, e);
}

/* ---- single flight ------------------------------------------------------------------------ */

/* Reads join the flight itself (not the user's entry): a flight started before a write and one
 * started after it each answer only their own readers. */
static void join(struct kg_up_call *f, struct kg_up_call *call)
{
	call->state = CS_JOINED;
	call->flight = f;
	call->join_prev = NULL;
	call->join_next = f->joiners;
	if (f->joiners != NULL)
		f->joiners->join_prev = call;
	f->joiners = call;
}

void up_status_unjoin(struct kg_upstream *up, struct kg_up_call *call)
{
	struct kg_up_call *f = call->flight;

	if (call->join_prev != NULL)
		call->join_prev->join_next = call->join_next;
	else
		f->joiners = call->join_next;
	if (call->join_next != NULL)
		call->join_next->join_prev = call->join_prev;
	call->join_prev = call->join_next = NULL;
	call->flight = NULL;
}

/* Hands an outcome (and a reference to answer) to one read or waiter. */
static void deliver_result(struct kg_upstream *up, struct kg_up_call *call,
                           enum kg_up_result result, long status, struct kg_answer *answer)
{
	if (result == KG_UP_OK && answer == NULL)
		result = KG_UP_NOMEM; /* the answer could not be kept */
	call->status = status;
	call->answer = answer ? kg_answer_ref(answer) : NULL;
	up_finish(up, call, result);
}

/* Hands the same outcome (and a reference to the same answer) to one read. */
static void deliver(struct kg_upstream *up, struct kg_up_call *call, const struct kg_up_call *from,
                    struct kg_answer *answer)
{
	call->retry_after_s = from->retry_after_s;
	call->upstream_ms = from->upstream_ms;
	call->attempts = from->attempts;
	deliver_result(up, call, from->result, from->status, answer);
}

/* Ties the reads that joined f to the request id that went upstream (read before any of them is
 * answered: an answered request may be freed at once). Nothing when no read joined. */
static void log_flight(const struct kg_up_call *f)
{
	const char *ids[KG_LOG_MAX_JOINED];
	struct kg_flight_log l = {
	    .request_id = f->request_id,
	    .joined = ids,
	    .upstream_status = f->result == KG_UP_OK ? f->status : 0,
	    .upstream_ms = f->upstream_ms,
	};
	const struct kg_up_call *j;

	for (j = f->joiners; j != NULL; j = j->join_next) {
		if (j == f->first)
			continue;
		if (l.n_joined < KG_LOG_MAX_JOINED)
			ids[l.n_joined++] = j->request_id;
		else
			l.n_more++;
	}
	if (l.n_joined > 0)
		kg_log_flight(&l);
}

/* A successful read of Crossmint is an observation (design §10): handed to the observer, which
 * only queues it. The observer's lock is held while it runs so that a cleared observer is never
 * called after kg_upstream_set_observer returned. */
static void observe(struct kg_upstream *up, const char *key, struct kg_answer *answer,
                    unsigned long long started_wall_ms)
{
	pthread_mutex_lock(&up->observer_lock);
	if (up->observer != NULL)
		up->observer(up->observer_ctx, key, answer, started_wall_ms);
	pthread_mutex_unlock(&up->observer_lock);
}

void kg_upstream_set_observer(struct kg_upstream *up, kg_up_observer fn, void *ctx)
{
	if (up == NULL)
		return;
	pthread_mutex_lock(&up->observer_lock);
	up->observer = fn;
	up->observer_ctx = ctx;
	pthread_mutex_unlock(&up->observer_lock);
}

/* ---- long-poll waiters -------------------------------------------------------------------- */

static bool same_answer(const struct kg_answer *a, const struct kg_answer *b)
{
	const char *x, *y;
	size_t nx = 0, ny = 0;

	if (a == b)
		return true;
	if (a == NULL || b == NULL || kg_answer_status(a) != kg_answer_status(b))
		return false;
	x = kg_answer_body(a, &nx);
	y = kg_answer_body(b, &ny);
	return nx == ny && (nx == 0 || memcmp(x, y, nx) == 0);
}

static void waiter_add(struct entry *e, struct kg_up_wait *w)
{
	w->state = CS_WAITING;
	w->entry = e;
	w->prev = NULL;
	w->next = e->waiters;
	if (e->waiters != NULL)
		e->waiters->prev = w;
	e->waiters = w;
	if (e->n_waiters == 0 || w->deadline_ms < e->min_deadline)
		e->min_deadline = w->deadline_ms;
	if (e->n_waiters++ == 0)
		e->backoff_ms = REREAD_FIRST_MS;
	e->unchecked = true;
}

static void waiter_unlink(struct kg_upstream *up, struct kg_up_wait *w)
{
	struct entry *e = w->entry;

	if (e->gone_next == w)
		e->gone_next = w->next;
	if (w->deadline_ms == e->min_deadline)
		e->min_stale = true;
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		e->waiters = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
	w->entry = NULL;
	if (--e->n_waiters == 0) {
		up_heap_disarm(&up->heap, &e->reread);
		e->read_at = READ_NONE;
		kg_answer_put(e->checked);
		e->checked = NULL;
	}
	entry_release(up, e);
}

void up_wait_finish(struct kg_upstream *up, struct kg_up_wait *w, enum kg_up_result result)
{
	if (w->state == CS_DONE)
		return;
	if (w->state == CS_WAITING)
		waiter_unlink(up, w);
	w->result = result;
	pthread_mutex_lock(&up->lock);
	w->budget_wait_s = up_budget_wait_s_locked(up);
	pthread_mutex_unlock(&up->lock);
	w->state = CS_DONE;
	atomic_fetch_sub(&up->waiting, 1);
	w->done(w);
}

/* Hands an outcome (and a reference to answer) to one waiter: from is the flight that observed
 * it, NULL for the cached answer. */
static void wait_deliver(struct kg_upstream *up, struct kg_up_wait *w,
                         const struct kg_up_call *from, enum kg_up_result result, long status,
                         struct kg_answer *answer)
{
	if (result == KG_UP_OK && answer == NULL)
		result = KG_UP_NOMEM; /* the answer could not be kept */
	w->shared = true;             /* counted once, by the read that fetched it */
	w->cached = from == NULL;
	if (from != NULL) {
		w->retry_after_s = from->retry_after_s;
		w->upstream_ms = from->upstream_ms;
		w->attempts = from->attempts;
	}
	w->status = status;
	w->answer = answer ? kg_answer_ref(answer) : NULL;
	up_wait_finish(up, w, result);
}

/* Ends the waiters an observation settles: those holding another answer than answer, or every
 * one with all (a failed re-read answers each with its latest state). from: the flight that
 * observed it, NULL for the cached answer. */
static void waiters_settle(struct kg_upstream *up, struct entry *e, struct kg_answer *answer,
                           const struct kg_up_call *from, bool all)
{
	struct kg_up_wait *w, *next;

	/* A re-read that sees what the last one saw settles nobody: the waiters are not walked (a
	 * walk of scattered requests per re-read was most of the engine's CPU with 10k waiters). */
	if (!all && !e->unchecked && e->checked != NULL && same_answer(answer, e->checked))
		return;
	e->pins++;
	for (w = e->waiters; w != NULL; w = next) {
		next = w->next;
		if (!all && same_answer(answer, w->seen))
			continue;
		if (from != NULL)
			wait_deliver(up, w, from, from->result, from->status, answer);
		else
			wait_deliver(up, w, NULL, KG_UP_OK, kg_answer_status(answer), answer);
	}
	if (!all && answer != NULL && e->n_waiters > 0) { /* those left hold the same as answer */
		kg_answer_put(e->checked);
		e->checked = kg_answer_ref(answer);
		e->unchecked = false;
	}
	e->pins--;
}

/* The waiters' earliest deadline (recomputed when the waiter that had it left). */
static unsigned long long entry_min_deadline(struct entry *e)
{
	const struct kg_up_wait *w;

	if (e->min_stale && e->waiters != NULL) {
		e->min_stale = false;
		e->min_deadline = e->waiters->deadline_ms;
		for (w = e->waiters; w != NULL; w = w->next)
			if (w->deadline_ms < e->min_deadline)
				e->min_deadline = w->deadline_ms;
	}
	return e->min_deadline;
}

/* Arms the user's timer at when. Out of memory for the heap: its waiters answer their latest
 * state now (nothing would wake them otherwise). */
static void entry_arm(struct kg_upstream *up, struct entry *e, unsigned long long when)
{
	struct kg_up_wait *w;

	if (kg_timer_armed(&e->reread.base) && e->reread.base.when == when)
		return;
	up_heap_disarm(&up->heap, &e->reread);
	if (up_heap_arm(&up->heap, &e->reread, when))
		return;
	e->pins++;
	while ((w = e->waiters) != NULL)
		up_wait_finish(up, w, KG_UP_NOMEM);
	e->pins--;
}

/* Plans the user's next re-read (after the backoff, or earlier for a waiter's last read just
 * before its deadline; none while a flight of the current generation runs: its end plans it)
 * and arms the user's one timer for it or for the earliest deadline, whichever comes first.
 * The waiters' deadlines are not timers of their own: 10k of them made every timer operation
 * of the engine walk a deep heap of scattered requests. */
static void reread_schedule(struct kg_upstream *up, struct entry *e)
{
	unsigned long long now = kg_now_ms(), at, min;

	if (e->n_waiters == 0)
		return;
	min = entry_min_deadline(e);
	if (e->flight != NULL && e->flight->flight_gen == e->gen) {
		e->read_at = READ_NONE;
	} else if (e->read_at == READ_NONE) {
		/* Within a quarter of the backoff either way: users whose waiters came together
		 * re-read together tick after tick otherwise, and when their reviews end together
		 * every waiter is answered in one burst (10k waiters on 500 users: the last 200-300
		 * ms after the read that settled them). Spread out, a tick settles a few users. */
		at = now + e->backoff_ms * 3 / 4 + kg_xorshift(&up->rng) % (e->backoff_ms / 2 + 1);
		if (min > now + LAST_READ_MARGIN_MS && min - LAST_READ_MARGIN_MS < at)
			at = min - LAST_READ_MARGIN_MS;
		if (at < now + REREAD_MIN_GAP_MS)
			at = now + REREAD_MIN_GAP_MS;
		/* On a grid, so that the users due in the same 50 ms share a wake-up of the
		 * engine. Spread re-reads cost more CPU than ticks in step (about 12% of a core
		 * against 5.5% with 10k waiters on 500 users, on the development machine): the
		 * price of answering within 100 ms of the observation (README "Waiters"). */
		e->read_at = (at + REREAD_SLOT_MS - 1) / REREAD_SLOT_MS * REREAD_SLOT_MS;
	}
	entry_arm(up, e, e->read_at < min ? e->read_at : min);
}

/* Waiters whose deadline passed answer their latest state. */
static void waiters_expire(struct kg_upstream *up, struct entry *e, unsigned long long now)
{
	struct kg_up_wait *w, *next;

	for (w = e->waiters; w != NULL; w = next) {
		next = w->next;
		if (w->deadline_ms <= now)
			up_wait_finish(up, w, KG_UP_DEADLINE);
	}
}

/* A new upstream read for e at path, with the identity headers of the request that starts it
 * (first: its call, compared only; NULL for the waiters' re-read). */
static struct kg_up_call *flight_new(struct kg_upstream *up, struct entry *e, const char *path,
                                     const char *request_id, const char *traceparent,
                                     const char *tracestate, const struct kg_up_call *first);

/* Waiters whose caller hung up are ended (libmicrohttpd does not see it while they are
 * suspended), so nobody re-reads for them. A few are looked at per re-read, in turn: a peek per
 * waiter and re-read was the engine's largest cost with 10k waiters. */
static void waiters_drop_gone(struct kg_upstream *up, struct entry *e)
{
	unsigned i;

	for (i = 0; i < GONE_CHECKS_PER_READ && e->n_waiters > 0; i++) {
		struct kg_up_wait *w = e->gone_next != NULL ? e->gone_next : e->waiters;

		e->gone_next = w->next;
		if (kg_longpoll_client_gone(w->client_fd))
			up_wait_finish(up, w, KG_UP_DEADLINE);
	}
}

/* The user's re-read is due: one upstream read for all its waiters (low priority: it waits for
 * a budget token, keeping the last 20% of the minute for others). */
static void entry_reread(struct kg_upstream *up, struct kg_up_timer *t)
{
	struct entry *e = ENTRY_OF(t);
	unsigned long long wait = 0, now = kg_now_ms();
	bool due = e->read_at <= now;
	struct kg_up_wait *w;
	struct kg_up_call *f;
	enum kg_up_result r;
	bool probe = false;

	e->pins++;
	if (due)
		e->read_at = READ_NONE;
	if (e->n_waiters > 0 && entry_min_deadline(e) <= now)
		waiters_expire(up, e, now);
	if (!due) /* a deadline only */
		goto out;
	waiters_drop_gone(up, e);
	if (e->n_waiters == 0 || (e->flight != NULL && e->flight->flight_gen == e->gen))
		goto out;
	if (e->backoff_ms < REREAD_MAX_MS)
		e->backoff_ms =
		    e->backoff_ms * 2 > REREAD_MAX_MS ? REREAD_MAX_MS : e->backoff_ms * 2;
	if (cache_fresh(up, e) && !e->answer_reread) {
		/* Another read observed the user moments ago: its answer is this tick's. Not the
		 * waiters' own last re-read's: the last tick before a deadline (pulled forward to
		 * LAST_READ_MARGIN_MS before it) may come within cache_ttl_ms of the one before,
		 * and it would then answer the waiters with what they had already seen, never
		 * looking (test_it_status/long_poll failed so, now and then). */
		waiters_settle(up, e, e->answer, NULL, false);
		goto out;
	}
	r = up_gate(up, true, UP_PRIO_LONGPOLL, false, &wait, &probe);
	if (r == KG_UP_OPEN) {
		/* The breaker is open: no upstream call; each waiter answers its latest state. */
		while ((w = e->waiters) != NULL) {
			w->retry_after_s = (unsigned)((wait + 999) / 1000);
			up_wait_finish(up, w, KG_UP_OPEN);
		}
		goto out;
	}
	if (r == KG_UP_BUDGET) {
		e->read_at = now + wait;
		goto out;
	}
	w = e->waiters;
	f = flight_new(up, e, w->path, w->request_id, w->traceparent, w->tracestate, NULL);
	if (f == NULL) {
		if (probe)
			kg_breaker_probe_lost(&up->breaker);
		goto out;
	}
	/* The re-read is the waiters' upstream call: it holds a place in flight while it runs. */
	up_inflight_add(up, 1);
	f->low_priority = true;
	e->flight = f;
	e->n_flights++;
	f->probe = probe;
	up_start_exchange(up, f);
out:
	reread_schedule(up, e);
	e->pins--;
	entry_release(up, e);
}

/* ---- flights ------------------------------------------------------------------------------ */

/* A waiters' re-read is an upstream call no request counts (each waiter gets it as shared): it
 * is counted here, as count_upstream() in handlers.c counts a request's own. */
static void count_reread(const struct kg_up_call *f)
{
	enum kg_metrics_reason why = KG_UPERR_OTHER;

	kg_metrics_upstream("verification.get", f->result == KG_UP_OK ? (int)f->status : 0,
	                    f->upstream_ms / 1000.0);
	if (f->result == KG_UP_OK) {
		if (f->status == 401 || f->status == 403)
			kg_metrics_upstream_error(KG_UPERR_AUTH);
		else if (f->status >= 500)
			kg_metrics_upstream_error(KG_UPERR_STATUS_5XX);
		else if (f->status >= 300 && f->status < 400)
			kg_metrics_upstream_error(KG_UPERR_STATUS_3XX);
		return;
	}
	if (f->result == KG_UP_TIMEOUT)
		why = KG_UPERR_TIMEOUT;
	else if (f->result == KG_UP_CONNECT)
		why = KG_UPERR_CONNECT;
	else if (f->result == KG_UP_RESET)
		why = KG_UPERR_RESET;
	else if (f->result == KG_UP_TOO_LARGE)
		why = KG_UPERR_TOO_LARGE;
	else if (f->result == KG_UP_SHUTDOWN)
		why = KG_UPERR_SHUTDOWN;
	kg_metrics_upstream_error(why);
	/* A failed re-read answers every waiter of its user with its latest state (in-review):
	 * their access lines show upstream_status 0 and nothing else says why, so the re-read
	 * says it once, as a request's own failed call does (handlers.c). A stop says so itself. */
	if (f->result != KG_UP_SHUTDOWN)
		kg_log(KG_LOG_WARN, "upstream-failed", "requestId", f->request_id, "operation",
		       "verification.get", "reason", kg_metrics_reason_name(why), "detail",
		       f->error_text, NULL);
}

/* The body an answer keeps is cut to its length: the read buffer grows by steps of kilobytes,
 * and the answers waiters hold as their latest (a few per user) would keep the rest for as long
 * as they wait (8 MiB with 10k waiters). */
static void resp_fit(struct kg_up_call *f)
{
	char *b;

	if (f->resp == NULL || f->resp_cap <= f->resp_len + 1 + 64)
		return;
	b = malloc(f->resp_len + 1);
	if (b == NULL)
		return; /* kept as it is */
	memcpy(b, f->resp, f->resp_len);
	b[f->resp_len] = '\0';
	kg_wipe(f->resp, f->resp_cap);
	free(f->resp);
	f->resp = b;
	f->resp_cap = f->resp_len + 1;
}

/* A flight's call is wiped (its path holds the locator) and kept for the next flight: a call is
 * a few KiB, and its calloc and free were a large-block allocation a status read. */
static void flight_give(struct kg_upstream *up, struct kg_up_call *f)
{
	kg_wipe(f, sizeof(*f));
	if (up->n_spare_flights < sizeof(up->spare_flights) / sizeof(up->spare_flights[0]))
		up->spare_flights[up->n_spare_flights++] = f;
	else
		free(f);
}

/* A flight ended: build the shared answer, cache it if good and still current, wake its readers
 * and the user's waiters it settles. */
static void flight_done(struct kg_up_call *f)
{
	struct entry *e = f->owner;
	struct kg_upstream *up = f->priv_engine;
	struct kg_answer *answer = NULL;
	struct kg_up_call *j;
	bool good;

	if (f->result == KG_UP_OK) {
		resp_fit(f);
		answer =
		    kg_answer_new(f->status, f->resp, f->resp_len, f->retry_after_s, time(NULL));
		f->resp = NULL;
		f->resp_len = f->resp_cap = 0;
	}
	if (e->flight == f)
		e->flight = NULL;
	e->n_flights--;
	e->pins++;
	good = answer != NULL && f->status >= 200 && f->status < 300;
	if (good && f->flight_gen == e->gen) {
		entry_keep_answer(up, e, answer, f->flight_gen);
		e->answer_reread = f->low_priority;
	}
	if (answer != NULL && f->status == 200)
		observe(up, e->key, answer, f->started_wall_ms);
	log_flight(f);
	while ((j = f->joiners) != NULL) {
		j->shared = j != f->first;
		deliver(up, j, f, answer);
	}
	if (good || f->low_priority)
		waiters_settle(up, e, answer, f, !good);
	reread_schedule(up, e);
	if (f->low_priority) {
		count_reread(f);
		up_inflight_add(up, -1);
	}
	kg_answer_put(answer);
	kg_up_call_cleanup(f);
	flight_give(up, f);
	e->pins--;
	entry_release(up, e);
}

static struct kg_up_call *flight_new(struct kg_upstream *up, struct entry *e, const char *path,
                                     const char *request_id, const char *traceparent,
                                     const char *tracestate, const struct kg_up_call *first)
{
	struct kg_up_call *f = up->n_spare_flights > 0 ? up->spare_flights[--up->n_spare_flights]
	                                               : calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	f->method = "GET";
	kg_copy(f->path, sizeof(f->path), path);
	kg_copy(f->request_id, sizeof(f->request_id), request_id);
	kg_copy(f->traceparent, sizeof(f->traceparent), traceparent);
	kg_copy(f->tracestate, sizeof(f->tracestate), tracestate);
	f->done = flight_done;
	f->owner = e;
	f->priv_engine = up;
	f->internal = true;
	f->kind = KG_CALL_PLAIN;
	f->flight_gen = e->gen;
	f->first = first;
	f->started_wall_ms = kg_wall_ms();
	up_call_timers_init(f);
	return f;
}

/* A cache hit: call gets e's answer (a reference) and is marked cached. */
static void take_cached(struct entry *e, struct kg_up_call *call)
{
	call->cached = true;
	call->status = kg_answer_status(e->answer);
	call->retry_after_s = kg_answer_retry_after(e->answer);
	call->answer = kg_answer_ref(e->answer);
}

bool up_status_cached(struct kg_upstream *up, struct kg_up_call *call, char *country,
                      unsigned long epoch)
{
	struct entry *e = entry_find(up, call->user_key, false);

	if (e == NULL || !cache_fresh(up, e) ||
	    (country != NULL && (!e->country_known || e->country_epoch != epoch)))
		return false;
	if (country != NULL)
		memcpy(country, e->country, sizeof(e->country));
	take_cached(e, call);
	kg_metrics_status_cache_hit(true);
	return true;
}

void up_status_note_country(struct kg_upstream *up, const struct kg_up_call *call,
                            const char *country, unsigned long epoch)
{
	struct entry *e = entry_find(up, call->user_key, false);

	/* Only beside the very answer this read got: one of a later flight may belong to a
	 * generation whose country the store did not hold yet when this read looked. */
	if (e == NULL || e->answer == NULL || e->answer != call->answer)
		return;
	kg_copy(e->country, sizeof(e->country), country);
	e->country_known = true;
	e->country_epoch = epoch;
}

void up_status_begin(struct kg_upstream *up, struct kg_up_call *call)
{
	struct entry *e = entry_find(up, call->user_key, true);
	unsigned long long wait = 0;
	struct kg_up_call *f;
	enum kg_up_result r;
	bool probe = false;

	if (e == NULL) {
		up_finish(up, call, KG_UP_NOMEM);
		return;
	}
	if (cache_fresh(up, e)) {
		take_cached(e, call);
		kg_metrics_status_cache_hit(false);
		up_finish(up, call, KG_UP_OK);
		return;
	}
	if (e->flight != NULL && e->flight->flight_gen == e->gen) {
		call->shared = true;
		join(e->flight, call);
		return;
	}
	r = up_gate(up, true, up_prio_of(call), call->force_budget, &wait, &probe);
	if (r == KG_UP_OPEN) {
		/* The breaker is open: no upstream call; a long-poll answers its latest state. */
		call->retry_after_s = (unsigned)((wait + 999) / 1000);
		up_finish(up, call, KG_UP_OPEN);
		entry_release(up, e);
		return;
	}
	if (r == KG_UP_BUDGET) {
		call->budget_wait_s = (unsigned)((wait + 999) / 1000);
		if (!call->low_priority && !call->watch_poll) {
			up_finish(up, call, KG_UP_BUDGET);
			entry_release(up, e);
			return;
		}
		/* A long-poll re-read or a watch poll waits for a token (its deadline still holds):
		 * late, never dropped. */
		call->state = CS_DELAYED;
		if (!up_heap_arm(&up->heap, &call->start_timer, kg_now_ms() + wait))
			up_finish(up, call, KG_UP_NOMEM);
		entry_release(up, e);
		return;
	}
	f = flight_new(up, e, call->path, call->request_id, call->traceparent, call->tracestate,
	               call);
	if (f == NULL) {
		if (probe)
			kg_breaker_probe_lost(&up->breaker);
		up_finish(up, call, KG_UP_NOMEM);
		entry_release(up, e);
		return;
	}
	join(f, call);
	e->flight = f;
	e->n_flights++;
	f->probe = probe;
	up_start_exchange(up, f);
}

void up_wait_admit(struct kg_upstream *up, struct kg_up_wait *w)
{
	struct entry *e;

	w->state = CS_QUEUED;
	if (up->waits_ended) {
		up_wait_finish(up, w, KG_UP_SHUTDOWN); /* draining: no new long-poll waits */
		return;
	}
	if (w->deadline_ms <= kg_now_ms()) {
		up_wait_finish(up, w, KG_UP_DEADLINE);
		return;
	}
	e = entry_find(up, w->user_key, true);
	if (e == NULL) {
		up_wait_finish(up, w, KG_UP_NOMEM);
		return;
	}
	if (cache_fresh(up, e) && !same_answer(e->answer, w->seen)) {
		/* The user moved on since this waiter's last answer. */
		wait_deliver(up, w, NULL, KG_UP_OK, kg_answer_status(e->answer), e->answer);
		return;
	}
	waiter_add(e, w);
	reread_schedule(up, e);
}

void up_waits_end(struct kg_upstream *up, enum kg_up_result result)
{
	struct entry **held, *e;
	size_t b, n = 0, i;

	held = calloc(up->n_entries + 1, sizeof(*held));
	/* Pinned, none is freed (nor the table resized) while the table is walked. */
	for (b = 0; b < up->n_buckets; b++)
		for (e = up->buckets[b]; e != NULL; e = e->next) {
			struct kg_up_wait *w;

			if (e->n_waiters == 0)
				continue;
			e->pins++;
			while ((w = e->waiters) != NULL)
				up_wait_finish(up, w, result);
			e->pins--;
			if (held != NULL)
				held[n++] = e;
		}
	/* Out of memory for the list: the entries stay until the engine is freed. */
	for (i = 0; i < n; i++)
		entry_release(up, held[i]);
	free(held);
}

/* Lets go of the answers past their cache time, oldest first, and the entries they held. */
void up_entries_sweep(struct kg_upstream *up, struct kg_up_timer *t)
{
	struct entry *e;

	while ((e = up->exp_head) != NULL && !cache_fresh(up, e)) {
		entry_drop_answer(up, e);
		entry_release(up, e);
	}
	up_trim_if_idle(up);
	up_heap_arm(&up->heap, t, kg_now_ms() + EXPIRY_TICK_MS);
}

void up_entries_free(struct kg_upstream *up)
{
	size_t b;

	for (b = 0; b < up->n_buckets; b++) {
		struct entry *e, *next;

		for (e = up->buckets[b]; e != NULL; e = next) {
			next = e->next;
			if (e->answer != NULL)
				kg_answer_put(e->answer);
			kg_answer_put(e->checked);
			entry_free(e);
		}
	}
	free(up->buckets);
	up->buckets = NULL;
	up->n_buckets = 0;
	while (up->n_spare_flights > 0)
		free(up->spare_flights[--up->n_spare_flights]);
	up->exp_head = up->exp_tail = NULL;
	up->n_entries = 0;
}
