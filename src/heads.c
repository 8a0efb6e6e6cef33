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
 * that never ends, and offers no hook on the bytes before a line is complete. kg_head_precheck()
 * looks at what arrived with a new connection (the listener defers accept until data arrives, so
 * the first segment is there) and server.c refuses it at once; a bare CR in a later segment or a
 * later request of a kept-alive connection is cut by this deadline instead (or, once an LF comes,
 * refused as a control character in the target). The same look refuses a malformed
 * Content-Length, which libmicrohttpd would otherwise answer itself (HTML, headers twice).
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
#include <strings.h>
#include <stdint.h>
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
	/* No deadline comes before this: the sweep skips the list until then. 10k long-poll
	 * waiters (heads complete, no deadline) made the 5-a-second walk of every connection half
	 * of the process's CPU while nothing else happened. */
	_Atomic unsigned long long next_due;
};

/* Lowers *due to d (a deadline just set). */
static void due_lower(_Atomic unsigned long long *due, unsigned long long d)
{
	unsigned long long cur = atomic_load(due);

	while (d < cur && !atomic_compare_exchange_weak(due, &cur, d))
		;
}

/* Shuts every connection past its deadline; called with the lock held. */
static void sweep(struct kg_heads *h)
{
	unsigned long long now = kg_now_ms(), d;
	struct kg_conn *c;

	if (now < atomic_load(&h->next_due))
		return;
	/* Reset first: a deadline set during the walk lowers it again, one set before is seen. */
	atomic_store(&h->next_due, ULLONG_MAX);
	for (c = h->head; c != NULL; c = c->next) {
		d = atomic_load(&c->deadline_ms);
		if (d != 0 && d != KILLED && d > now)
			due_lower(&h->next_due, d);
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
	c->heads = h;
	atomic_init(&c->deadline_ms, deadline_ms);
	if (deadline_ms != 0)
		due_lower(&h->next_due, deadline_ms);
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
	if (deadline_ms != 0)
		due_lower(&c->heads->next_due, deadline_ms);
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

/* The end of the line that starts at buf[at] (the index of its LF, or n when it is not in the
 * bytes), or SIZE_MAX when a CR in it is not followed by LF. */
static size_t line_end(const char *buf, size_t n, size_t at)
{
	size_t i;

	for (i = at; i < n; i++) {
		if (buf[i] == '\n')
			return i;
		if (buf[i] == '\r' && i + 1 < n && buf[i + 1] != '\n')
			return SIZE_MAX;
	}
	return n;
}

/* Whether a Content-Length line (len bytes, CR LF excluded) is "Content-Length:", at most one
 * SP or HTAB, and bare digits: what kycgate accepts (a sign, a trailing blank, hex or a second
 * value would be read otherwise by another parser). */
static bool content_length_ok(const char *line, size_t len)
{
	static const char name[] = "content-length:";
	size_t i = sizeof(name) - 1;

	if (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == len)
		return false;
	for (; i < len; i++)
		if (line[i] < '0' || line[i] > '9')
			return false;
	return true;
}

/* What is wrong with the first head among the n bytes, or NULL: a bare CR, or a Content-Length
 * libmicrohttpd would answer by itself (with an HTML page, not a problem). Stops at the head's
 * end: a body may hold any byte. */
static const char *head_fault(const char *buf, size_t n)
{
	size_t at = 0, end, len;

	while (at < n) {
		end = line_end(buf, n, at);
		if (end == SIZE_MAX)
			return "a line of the request head ends in a bare CR";
		if (end == n)
			return NULL; /* the rest of the head has not arrived: libmicrohttpd decides
			              */
		len = end > at && buf[end - 1] == '\r' ? end - at - 1 : end - at;
		if (len == 0)
			return NULL; /* the empty line: the head is complete */
		if (len >= 15 && strncasecmp(buf + at, "content-length:", 15) == 0 &&
		    !content_length_ok(buf + at, len))
			return "Content-Length must be bare digits";
		at = end + 1;
	}
	return NULL;
}

const char *kg_head_precheck(int fd)
{
	char buf[PEEK_BYTES];
	ssize_t got = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	size_t n = got > 0 ? (size_t)got : 0;
	const char *fault = head_fault(buf, n);

	kg_wipe(buf, n); /* the caller's token and body bytes, on a thread's stack */
	return fault;
}
