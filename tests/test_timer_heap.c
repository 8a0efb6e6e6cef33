/* Unit tests of the shared timer heap (src/base/timer_heap.c), used by the upstream engine and
 * the simulator: deadline order, disarming from anywhere, re-arming, reserved room. */
#include <check.h>
#include <stdlib.h>

#include "harness.h"
#include "kycgate/timer_heap.h"

#define N 500

/* A small deterministic generator, so a failure repeats. */
static unsigned long long next_rand(unsigned long long *state)
{
	*state = *state * 6364136223846793005ull + 1442695040888963407ull;
	return *state >> 33;
}

/* Pops everything: deadlines never decrease, every timer comes out idle, and the count is n. */
static void drain_in_order(struct kg_timer_heap *h, size_t n)
{
	unsigned long long last = 0;
	struct kg_timer *t;
	size_t popped = 0;

	while ((t = kg_timer_heap_pop(h)) != NULL) {
		ck_assert_uint_ge(t->when, last);
		ck_assert(!kg_timer_armed(t));
		last = t->when;
		popped++;
	}
	ck_assert_uint_eq(popped, n);
	ck_assert_uint_eq(h->n, 0);
}

START_TEST(empty_heap)
{
	struct kg_timer_heap h = {0};
	struct kg_timer t;

	kg_timer_init(&t);
	ck_assert(!kg_timer_armed(&t));
	ck_assert_ptr_null(kg_timer_heap_top(&h));
	ck_assert_ptr_null(kg_timer_heap_pop(&h));
	kg_timer_heap_disarm(&h, &t); /* not armed: nothing happens */
	ck_assert_uint_eq(h.n, 0);
	kg_timer_heap_cleanup(&h);
	kg_timer_heap_cleanup(NULL);
}
END_TEST

START_TEST(pops_in_deadline_order)
{
	static struct kg_timer timers[N];
	struct kg_timer_heap h = {0};
	unsigned long long seed = 1;
	size_t i;

	for (i = 0; i < N; i++) {
		kg_timer_init(&timers[i]);
		ck_assert(kg_timer_heap_arm(&h, &timers[i], next_rand(&seed) % 1000));
		ck_assert(kg_timer_armed(&timers[i]));
	}
	ck_assert_uint_eq(h.n, N);
	drain_in_order(&h, N);
	kg_timer_heap_cleanup(&h);
}
END_TEST

/* Disarming any timer (the top, a leaf, one in the middle) and re-arming others keeps the order
 * of the rest. */
START_TEST(disarm_and_rearm_anywhere)
{
	static struct kg_timer timers[N];
	struct kg_timer_heap h = {0};
	unsigned long long seed = 7;
	size_t i, armed = N;

	for (i = 0; i < N; i++) {
		kg_timer_init(&timers[i]);
		ck_assert(kg_timer_heap_arm(&h, &timers[i], next_rand(&seed) % 10000));
	}
	for (i = 0; i < N; i += 3) {
		kg_timer_heap_disarm(&h, &timers[i]);
		ck_assert(!kg_timer_armed(&timers[i]));
		armed--;
	}
	kg_timer_heap_disarm(&h, &timers[0]); /* twice: nothing more happens */
	ck_assert_uint_eq(h.n, armed);
	for (i = 1; i < N; i += 3) /* armed ones move, earlier or later */
		ck_assert(kg_timer_heap_arm(&h, &timers[i], next_rand(&seed) % 10000));
	ck_assert_uint_eq(h.n, armed);
	ck_assert(kg_timer_heap_arm(&h, &timers[3], 5)); /* an idle one comes back, earliest */
	armed++;
	ck_assert_ptr_eq(kg_timer_heap_top(&h), &timers[3]);
	ck_assert(kg_timer_armed(kg_timer_heap_top(&h))); /* top leaves it armed */
	drain_in_order(&h, armed);
	kg_timer_heap_cleanup(&h);
}
END_TEST

/* Reserved room is there without another allocation: the array does not move. */
START_TEST(reserve_makes_room)
{
	static struct kg_timer timers[200];
	struct kg_timer_heap h = {0};
	struct kg_timer **items;
	size_t i;

	ck_assert(kg_timer_heap_reserve(&h, 200));
	ck_assert_uint_ge(h.cap, 200);
	items = h.items;
	ck_assert(kg_timer_heap_reserve(&h, 10)); /* less than held: unchanged */
	ck_assert_ptr_eq(h.items, items);
	for (i = 0; i < 200; i++) {
		kg_timer_init(&timers[i]);
		ck_assert(kg_timer_heap_arm(&h, &timers[i], 200 - i));
	}
	ck_assert_ptr_eq(h.items, items);
	ck_assert_ptr_eq(kg_timer_heap_top(&h), &timers[199]);
	drain_in_order(&h, 200);
	kg_timer_heap_cleanup(&h);
	ck_assert_ptr_null(h.items);
	ck_assert_uint_eq(h.cap, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("timer_heap");
	TCase *tc = tcase_create("timer_heap");
	int failed;

	tcase_add_test(tc, empty_heap);
	tcase_add_test(tc, pops_in_deadline_order);
	tcase_add_test(tc, disarm_and_rearm_anywhere);
	tcase_add_test(tc, reserve_makes_room);
	suite_add_tcase(s, tc);
	failed = kt_run_suite(s);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
