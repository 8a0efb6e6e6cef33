/* A min-heap of timers ordered by deadline, shared by the upstream engine and the simulator.
 *
 * Intrusive: a struct kg_timer is embedded in whatever it times (a call, a delayed request) and
 * knows its place in the heap, so it is disarmed in O(log n) when its owner ends early; the owner
 * gets back from the timer with its own container macro. The heap never owns, frees or copies a
 * timer. Timers with equal deadlines come out in no particular order. Not thread-safe: the owner
 * of the heap serialises every call (one thread, or one lock). */
#ifndef KYCGATE_TIMER_HEAP_H
#define KYCGATE_TIMER_HEAP_H

#include <stdbool.h>
#include <stddef.h>

/* One timer. Both fields are the heap's: read `when` while armed, write neither. */
struct kg_timer {
	unsigned long long when; /* deadline, in whatever unit the owner uses (kg_now_ms()) */
	size_t idx;              /* place in the heap, or KG_TIMER_IDLE when not armed */
};

#define KG_TIMER_IDLE ((size_t)-1)

/* The heap; zero-initialised it is empty. */
struct kg_timer_heap {
	struct kg_timer **items; /* items[0] is the earliest deadline */
	size_t n;                /* armed timers */
	size_t cap;              /* slots allocated */
};

/* Marks t not armed; call before t is first armed or tested with kg_timer_armed(). */
void kg_timer_init(struct kg_timer *t);

/* True when t is in a heap. */
bool kg_timer_armed(const struct kg_timer *t);

/* Makes room for n armed timers, so that arming up to n never fails. False when memory is short
 * (the heap is unchanged). */
bool kg_timer_heap_reserve(struct kg_timer_heap *h, size_t n);

/* Arms t to fire at when, disarming it first if it was armed (in h). False when memory is short:
 * t is then not armed. */
bool kg_timer_heap_arm(struct kg_timer_heap *h, struct kg_timer *t, unsigned long long when);

/* Takes t out of h; nothing when t is not armed. */
void kg_timer_heap_disarm(struct kg_timer_heap *h, struct kg_timer *t);

/* The timer with the earliest deadline (still armed), or NULL when h is empty. */
struct kg_timer *kg_timer_heap_top(const struct kg_timer_heap *h);

/* Disarms and returns the timer with the earliest deadline, or NULL when h is empty. */
struct kg_timer *kg_timer_heap_pop(struct kg_timer_heap *h);

/* Frees the heap's array without touching the timers still in it (they may be gone already:
 * they stay marked armed and must not be used with h again). h is then empty. Accepts NULL. */
void kg_timer_heap_cleanup(struct kg_timer_heap *h);

#endif
