/* The request-head deadline (server.header_timeout_s): a client must complete each request head
 * in time, however it paces its bytes.
 *
 * libmicrohttpd's connection timeout is an idle timeout: a client sending one header byte every
 * few seconds never reaches it, and enough such clients take every connection. Each connection is
 * registered here when it opens, with a deadline; the access handler's first call (the head is
 * complete) clears it, the end of a request sets a longer one for the idle gap before the next,
 * and the next request line tightens it again. One thread wakes a few times a second and shuts
 * down (shutdown(2), never close) the socket of every connection past its deadline; libmicrohttpd
 * then sees the socket end and closes the connection the usual way.
 *
 * A bare CR line ending: libmicrohttpd 0.9.75 ends lines only at LF, keeps reading a request line
 * that never ends, and offers no hook on the bytes before a line is complete. kg_head_has_bare_cr()
 * looks at what arrived with a new connection (the listener defers accept until data arrives, so
 * the first segment is there) and server.c refuses it at once; a bare CR in a later segment or a
 * later request of a kept-alive connection is cut by this deadline instead (or, once an LF comes,
 * refused as a control character in the target).
 *
 * Locking: the list and every fd in it are under one mutex, taken when a connection opens or
 * closes and by the sweeping thread. libmicrohttpd calls the closed notification before it closes
 * the socket, and that removes the entry under the mutex, so the sweeper never shuts an fd that
 * has been closed (and maybe reused). Deadlines are atomics, changed without the mutex. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>

#include "gateway.h"
#include "kycgate/metrics.h"

#define SWEEP_MS 200    /* how often overdue heads are looked for */
#define PEEK_BYTES 2048 /* how much of a new connection's first bytes is looked at */
#define KILLED ULLONG_MAX

struct kg_heads {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool stop;            /* under lock */
	struct kg_conn *head; /* every open connection, under lock */
};

/* Shuts every connection past its deadline; called with the lock held. */
static void sweep(struct kg_heads *h)
{
	unsigned long long now = kg_now_ms(), d;
	struct kg_conn *c;

	for (c = h->head; c != NULL; c = c->next) {
		d = atomic_load(&c->deadline_ms);
		if (d == 0 || d == KILLED || d > now)
			continue;
		if (!atomic_compare_exchange_strong(&c->deadline_ms, &d, KILLED))
			continue; /* the head completed, or a new deadline was set, meanwhile */
		shutdown(c->fd, SHUT_RDWR);
		kg_metrics_header_timeout();
	}
}

static void *sweeper(void *arg)
{
	struct kg_heads *h = arg;
	struct timespec ts;

	pthread_mutex_lock(&h->lock);
	while (!h->stop) {
		sweep(h);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += SWEEP_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&h->wake, &h->lock, &ts);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

struct kg_heads *kg_heads_start(void)
{
	struct kg_heads *h = calloc(1, sizeof(*h));
	pthread_condattr_t ca;

	if (h == NULL)
		return NULL;
	pthread_mutex_init(&h->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&h->thread, NULL, sweeper, h) != 0) {
		pthread_cond_destroy(&h->wake);
		pthread_mutex_destroy(&h->lock);
		free(h);
		return NULL;
	}
	return h;
}

void kg_heads_free(struct kg_heads *h)
{
	struct kg_conn *c, *next;

	if (h == NULL)
		return;
	pthread_mutex_lock(&h->lock);
	h->stop = true;
	pthread_cond_signal(&h->wake);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thread, NULL);
	for (c = h->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	pthread_cond_destroy(&h->wake);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

struct kg_conn *kg_heads_add(struct kg_heads *h, int fd, unsigned long long deadline_ms)
{
	struct kg_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->fd = fd;
	atomic_init(&c->deadline_ms, deadline_ms);
	pthread_mutex_lock(&h->lock);
	c->next = h->head;
	if (h->head != NULL)
		h->head->prev = c;
	h->head = c;
	pthread_mutex_unlock(&h->lock);
	return c;
}

void kg_heads_remove(struct kg_heads *h, struct kg_conn *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&h->lock);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		h->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&h->lock);
	free(c);
}

void kg_conn_arm(struct kg_conn *c, unsigned long long deadline_ms, bool only_sooner)
{
	unsigned long long d = atomic_load(&c->deadline_ms);

	do {
		if (d == KILLED || (only_sooner && d != 0 && d <= deadline_ms))
			return;
	} while (!atomic_compare_exchange_weak(&c->deadline_ms, &d, deadline_ms));
}

bool kg_conn_head_done(struct kg_conn *c)
{
	unsigned long long d = atomic_load(&c->deadline_ms);

	do {
		if (d == KILLED)
			return false;
	} while (!atomic_compare_exchange_weak(&c->deadline_ms, &d, 0));
	return true;
}

/* Whether the n bytes of a head's first segment hold a bare CR before the head's end. */
static bool bare_cr(const char *buf, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i++) {
		if (buf[i] == '\r' && buf[i + 1] != '\n')
			return true;
		/* The head ends at an empty line; a body may hold any byte. */
		if (buf[i] == '\n' &&
		    (buf[i + 1] == '\n' || (i + 2 < n && buf[i + 1] == '\r' && buf[i + 2] == '\n')))
			return false;
	}
	return false;
}

bool kg_head_has_bare_cr(int fd)
{
	char buf[PEEK_BYTES];
	ssize_t got = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	size_t n = got > 0 ? (size_t)got : 0;
	bool found = bare_cr(buf, n);

	kg_wipe(buf, n); /* the caller's token and body bytes, on a thread's stack */
	return found;
}
