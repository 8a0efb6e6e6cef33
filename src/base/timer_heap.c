/* The timer heap (kycgate/timer_heap.h): a binary min-heap of timers embedded in their owners,
 * with each timer knowing its place so it can be disarmed in O(log n) when its owner ends early. */
#include <stdint.h>
#include <stdlib.h>

#include "kycgate/timer_heap.h"

#define FIRST_CAP 64 /* slots of the first allocation */

void kg_timer_init(struct kg_timer *t)
{
	t->when = 0;
	t->idx = KG_TIMER_IDLE;
}

bool kg_timer_armed(const struct kg_timer *t)
{
	return t->idx != KG_TIMER_IDLE;
}

static void swap(struct kg_timer_heap *h, size_t a, size_t b)
{
	struct kg_timer *t = h->items[a];

	h->items[a] = h->items[b];
	h->items[b] = t;
	h->items[a]->idx = a;
	h->items[b]->idx = b;
}

static void up_sift(struct kg_timer_heap *h, size_t i)
{
	while (i > 0 && h->items[(i - 1) / 2]->when > h->items[i]->when) {
		swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void down_sift(struct kg_timer_heap *h, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < h->n && h->items[l]->when < h->items[m]->when)
			m = l;
		if (r < h->n && h->items[r]->when < h->items[m]->when)
			m = r;
		if (m == i)
			return;
		swap(h, i, m);
		i = m;
	}
}

void kg_timer_heap_disarm(struct kg_timer_heap *h, struct kg_timer *t)
{
	size_t i = t->idx;

	if (i == KG_TIMER_IDLE)
		return;
	t->idx = KG_TIMER_IDLE;
	h->n--;
	if (i == h->n)
		return;
	h->items[i] = h->items[h->n];
	h->items[i]->idx = i;
	up_sift(h, i);
	down_sift(h, h->items[i]->idx);
}

bool kg_timer_heap_reserve(struct kg_timer_heap *h, size_t n)
{
	size_t cap = h->cap ? h->cap : FIRST_CAP;
	struct kg_timer **grown;

	if (n <= h->cap)
		return true;
	while (cap < n) {
		if (cap > SIZE_MAX / 2 / sizeof(*grown))
			return false;
		cap *= 2;
	}
	grown = realloc(h->items, cap * sizeof(*grown));
	if (grown == NULL)
		return false;
	h->items = grown;
	h->cap = cap;
	return true;
}

bool kg_timer_heap_arm(struct kg_timer_heap *h, struct kg_timer *t, unsigned long long when)
{
	kg_timer_heap_disarm(h, t);
	if (h->n == h->cap && !kg_timer_heap_reserve(h, h->n + 1))
		return false;
	t->when = when;
	t->idx = h->n;
	h->items[h->n++] = t;
	up_sift(h, t->idx);
	return true;
}

struct kg_timer *kg_timer_heap_top(const struct kg_timer_heap *h)
{
	return h->n > 0 ? h->items[0] : NULL;
}

struct kg_timer *kg_timer_heap_pop(struct kg_timer_heap *h)
{
	struct kg_timer *t = kg_timer_heap_top(h);

	if (t != NULL)
		kg_timer_heap_disarm(h, t);
	return t;
}

void kg_timer_heap_cleanup(struct kg_timer_heap *h)
{
	if (h == NULL)
		return;
	free(h->items);
	h->items = NULL;
	h->n = h->cap = 0;
}
