/* The engine's timer heap: a binary min-heap of timers embedded in calls and entries, with each
 * timer knowing its place so it can be disarmed in O(log n) when its call ends early. */
#include <stdlib.h>

#include "upstream_internal.h"

#define NOT_ARMED ((size_t)-1)

void up_timer_init(struct kg_up_timer *t, void (*fire)(struct kg_upstream *, struct kg_up_timer *))
{
	t->when = 0;
	t->idx = NOT_ARMED;
	t->fire = fire;
}

static void swap(struct heap *h, size_t a, size_t b)
{
	struct kg_up_timer *t = h->items[a];

	h->items[a] = h->items[b];
	h->items[b] = t;
	h->items[a]->idx = a;
	h->items[b]->idx = b;
}

static void up_sift(struct heap *h, size_t i)
{
	while (i > 0 && h->items[(i - 1) / 2]->when > h->items[i]->when) {
		swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void down_sift(struct heap *h, size_t i)
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

void up_heap_disarm(struct heap *h, struct kg_up_timer *t)
{
	size_t i = t->idx;

	if (i == NOT_ARMED)
		return;
	t->idx = NOT_ARMED;
	h->n--;
	if (i == h->n)
		return;
	h->items[i] = h->items[h->n];
	h->items[i]->idx = i;
	up_sift(h, i);
	down_sift(h, h->items[i]->idx);
}

bool up_heap_arm(struct heap *h, struct kg_up_timer *t, unsigned long long when)
{
	struct kg_up_timer **grown;

	up_heap_disarm(h, t);
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;

		grown = realloc(h->items, cap * sizeof(*grown));
		if (grown == NULL)
			return false;
		h->items = grown;
		h->cap = cap;
	}
	t->when = when;
	t->idx = h->n;
	h->items[h->n++] = t;
	up_sift(h, t->idx);
	return true;
}

struct kg_up_timer *up_heap_top(const struct heap *h)
{
	return h->n > 0 ? h->items[0] : NULL;
}

void up_heap_free(struct heap *h)
{
	free(h->items);
	h->items = NULL;
	h->n = h->cap = 0;
}
