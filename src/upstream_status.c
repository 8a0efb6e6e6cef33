/* Status reads on the engine thread (design §6): concurrent reads of one user share one upstream
 * call (single flight), a later read may reuse the last good answer for cache_ttl_ms, and a write
 * raises the user's generation so no read joins or reuses an answer fetched before it. Failures
 * are shared with the reads that were waiting for them, never cached. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kycgate/log.h"
#include "upstream_internal.h"

static size_t hash(const char *s)
{
	return kg_fnv1a(s, strlen(s)) % ENTRY_BUCKETS;
}

static struct entry *entry_find(struct kg_upstream *up, const char *key, bool create)
{
	size_t b = hash(key);
	struct entry *e;

	for (e = up->entries[b]; e != NULL; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	if (!create)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	snprintf(e->key, sizeof(e->key), "%s", key);
	e->next = up->entries[b];
	up->entries[b] = e;
	up->n_entries++;
	return e;
}

static void entry_drop_answer(struct entry *e)
{
	kg_answer_put(e->answer);
	e->answer = NULL;
}

void up_write_touch(struct kg_upstream *up, const char *key)
{
	struct entry *e = entry_find(up, key, false);

	if (e == NULL)
		return; /* nobody read this user recently: nothing to invalidate */
	e->gen++;
	entry_drop_answer(e);
}

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

/* Hands the same outcome (and a reference to the same answer) to one read. */
static void deliver(struct kg_upstream *up, struct kg_up_call *call, const struct kg_up_call *from,
                    struct kg_answer *answer)
{
	enum kg_up_result result = from->result;

	if (result == KG_UP_OK && answer == NULL)
		result = KG_UP_NOMEM; /* the answer could not be kept */
	call->status = from->status;
	call->retry_after_s = from->retry_after_s;
	call->upstream_ms = from->upstream_ms;
	call->attempts = from->attempts;
	call->answer = answer ? kg_answer_ref(answer) : NULL;
	up_finish(up, call, result);
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

/* A flight ended: build the shared answer, cache it if good and still current, wake its readers. */
static void flight_done(struct kg_up_call *f)
{
	struct entry *e = f->owner;
	struct kg_upstream *up = f->priv_engine;
	struct kg_answer *answer = NULL;
	struct kg_up_call *j;

	if (f->result == KG_UP_OK) {
		answer =
		    kg_answer_new(f->status, f->resp, f->resp_len, f->retry_after_s, time(NULL));
		f->resp = NULL;
		f->resp_len = f->resp_cap = 0;
	}
	if (e->flight == f)
		e->flight = NULL;
	e->n_flights--;
	if (answer != NULL && f->status >= 200 && f->status < 300 && f->flight_gen == e->gen) {
		entry_drop_answer(e);
		e->answer = kg_answer_ref(answer);
		e->answer_gen = f->flight_gen;
		e->answer_ms = kg_now_ms();
	}
	if (answer != NULL && f->status == 200)
		observe(up, e->key, answer, f->started_wall_ms);
	log_flight(f);
	while ((j = f->joiners) != NULL) {
		j->shared = j != f->first;
		deliver(up, j, f, answer);
	}
	kg_answer_put(answer);
	kg_up_call_cleanup(f);
	free(f);
}

/* A new upstream read for e, copying the request's identity headers from call. */
static struct kg_up_call *flight_new(struct kg_upstream *up, struct entry *e,
                                     const struct kg_up_call *call)
{
	struct kg_up_call *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	f->method = "GET";
	memcpy(f->path, call->path, sizeof(f->path));
	memcpy(f->request_id, call->request_id, sizeof(f->request_id));
	memcpy(f->traceparent, call->traceparent, sizeof(f->traceparent));
	memcpy(f->tracestate, call->tracestate, sizeof(f->tracestate));
	f->done = flight_done;
	f->owner = e;
	f->priv_engine = up;
	f->internal = true;
	f->kind = KG_CALL_PLAIN;
	f->flight_gen = e->gen;
	f->first = call;
	f->started_wall_ms = kg_wall_ms();
	up_call_timers_init(f);
	return f;
}

static bool cache_fresh(const struct kg_upstream *up, const struct entry *e)
{
	unsigned ttl = up->cur->cache_ttl_ms;

	return e->answer != NULL && ttl > 0 && e->answer_gen == e->gen &&
	       kg_now_ms() - e->answer_ms < ttl;
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
		call->cached = true;
		call->status = kg_answer_status(e->answer);
		call->retry_after_s = kg_answer_retry_after(e->answer);
		call->answer = kg_answer_ref(e->answer);
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
		return;
	}
	if (r == KG_UP_BUDGET) {
		call->budget_wait_s = (unsigned)((wait + 999) / 1000);
		if (!call->low_priority && !call->watch_poll) {
			up_finish(up, call, KG_UP_BUDGET);
			return;
		}
		/* A long-poll re-read or a watch poll waits for a token (its deadline still holds):
		 * late, never dropped. */
		call->state = CS_DELAYED;
		if (!up_heap_arm(&up->heap, &call->start_timer, kg_now_ms() + wait))
			up_finish(up, call, KG_UP_NOMEM);
		return;
	}
	f = flight_new(up, e, call);
	if (f == NULL) {
		if (probe)
			kg_breaker_probe_lost(&up->breaker);
		up_finish(up, call, KG_UP_NOMEM);
		return;
	}
	join(f, call);
	e->flight = f;
	e->n_flights++;
	f->probe = probe;
	up_start_exchange(up, f);
}

static bool entry_idle(const struct kg_upstream *up, const struct entry *e)
{
	return e->n_flights == 0 && !cache_fresh(up, e);
}

void up_entries_sweep(struct kg_upstream *up, struct kg_up_timer *t)
{
	size_t b;

	for (b = 0; b < ENTRY_BUCKETS; b++) {
		struct entry **pp = &up->entries[b], *e;

		while ((e = *pp) != NULL) {
			if (!entry_idle(up, e)) {
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			entry_drop_answer(e);
			free(e);
			up->n_entries--;
		}
	}
	up_heap_arm(&up->heap, t, kg_now_ms() + 10000);
}

void up_entries_free(struct kg_upstream *up)
{
	size_t b;

	for (b = 0; b < ENTRY_BUCKETS; b++) {
		struct entry *e, *next;

		for (e = up->entries[b]; e != NULL; e = next) {
			next = e->next;
			entry_drop_answer(e);
			free(e);
		}
		up->entries[b] = NULL;
	}
	up->n_entries = 0;
}
