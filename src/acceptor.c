/* The main listener's accept loop: a thread of ours accepts connections and hands each to
 * libmicrohttpd (MHD_add_connection), which serves it on its worker threads as if it had accepted
 * it itself.
 *
 * Why not libmicrohttpd's own listen socket: stopping it (MHD_quiesce_daemon, at the end of the
 * drain delay) races with the worker threads in 0.9.75's epoll mode with a thread pool. The
 * quiescing thread and a worker both remove the listen socket from the worker's epoll set, and
 * whichever comes second gets ENOENT, which the library treats as fatal ("Failed to remove listen
 * FD from epoll set", abort). It happened in CI about once in twenty drains under load. Here
 * stopping is a flag and a wake-up: the thread returns, and the listening socket is closed, so a
 * late client is refused at once (design §7: "the listener closes") instead of waiting in the
 * backlog.
 *
 * server.max_connections is kept here, the way libmicrohttpd kept it: at the limit the listening
 * socket is not watched, so new clients wait in the backlog (LISTEN_BACKLOG) rather than being
 * accepted and dropped; the close of a connection wakes the thread. The count goes up at accept
 * and down at libmicrohttpd's closed notification (or at once when it refuses the socket), so it
 * includes connections handed over and not yet taken by a worker. libmicrohttpd's own limit must
 * never be reached: in 0.9.75 a worker that finds itself at its limit when it takes a handed-over
 * connection leaves its cleanup mutex locked (new_connection_process_) and deadlocks at its next
 * close. server.c therefore gives every worker the whole limit. A connection the worker fails to
 * take for want of memory is never notified and stays counted: the limit gets stricter by one,
 * never looser. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "gateway.h"
#include "kycgate/log.h"

#define ACCEPT_BATCH 64          /* connections taken per wake-up before looking at the stop flag */
#define FULL_RECHECK_MS 100      /* at the limit: a missed wake-up costs at most this */
#define ERROR_BACKOFF_MS 100     /* out of descriptors or memory: the backlog waits this long */
#define ERROR_LOG_EVERY_MS 10000 /* one warning per this much time while accept keeps failing */

struct kg_acceptor {
	int fd;   /* the listening socket */
	int wake; /* eventfd: stop, or a connection closed while full */
	struct MHD_Daemon *daemon;
	unsigned max;     /* server.max_connections */
	atomic_uint open; /* connections started and not closed */
	atomic_bool full; /* the thread waits for a close */
	atomic_bool stop;
	unsigned long long last_error_log_ms;
	pthread_t thread;
	bool running;
};

int kg_listen_socket(const struct sockaddr_storage *ss, bool v6, int backlog, int *err)
{
	socklen_t len = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int one = 1;
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		*err = errno;
		return -1;
	}
	/* As libmicrohttpd did: rebinding right after a restart must not wait for TIME_WAIT, and an
	 * IPv6 listener takes IPv6 only. */
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (v6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, backlog) != 0) {
		*err = errno;
		close(fd);
		return -1;
	}
	return fd;
}

static void warn_accept(struct kg_acceptor *a, int e)
{
	unsigned long long now = kg_now_ms();

	if (a->last_error_log_ms != 0 && now - a->last_error_log_ms < ERROR_LOG_EVERY_MS)
		return;
	a->last_error_log_ms = now;
	kg_log(KG_LOG_WARN, "accept-failed", "reason", strerror(e), "detail",
	       "new connections wait in the listen backlog", NULL);
}

/* Takes what the backlog holds, up to a batch. Returns false when accept fails for want of a
 * resource, so the caller backs off instead of spinning on a socket that stays readable. */
static bool accept_some(struct kg_acceptor *a)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, i;

	for (i = 0; i < ACCEPT_BATCH && !atomic_load(&a->stop); i++) {
		if (atomic_load(&a->open) >= a->max)
			return true;
		len = sizeof(ss);
		fd = accept4(a->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return true;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				warn_accept(a, errno);
				return false;
			}
			continue; /* the client went away (ECONNABORTED, EPROTO, ...) */
		}
		/* libmicrohttpd closes the socket itself when it refuses it (its per-IP limit). */
		atomic_fetch_add(&a->open, 1);
		if (MHD_add_connection(a->daemon, fd, (const struct sockaddr *)&ss, len) != MHD_YES)
			kg_acceptor_closed(a);
	}
	return true;
}

static void *accept_main(void *arg)
{
	struct kg_acceptor *a = arg;
	struct pollfd p[2] = {{.fd = a->fd}, {.fd = a->wake, .events = POLLIN}};
	int timeout = -1;
	uint64_t v;

	while (!atomic_load(&a->stop)) {
		bool full = atomic_load(&a->open) >= a->max;

		atomic_store(&a->full, full);
		/* A close between the count and the flag would find the flag unset: look again. */
		if (full && atomic_load(&a->open) < a->max)
			continue;
		p[0].events = full || timeout > 0 ? 0 : POLLIN;
		if (full && timeout < 0)
			timeout = FULL_RECHECK_MS;
		if (poll(p, 2, timeout) < 0 && errno != EINTR)
			break;
		timeout = -1;
		if (p[1].revents & POLLIN)
			(void)!read(a->wake, &v, sizeof(v));
		if (!full && (p[0].revents & POLLIN) && !accept_some(a))
			timeout = ERROR_BACKOFF_MS;
	}
	return NULL;
}

struct kg_acceptor *kg_acceptor_new(int fd, unsigned max_connections)
{
	struct kg_acceptor *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	a->fd = fd;
	a->max = max_connections > 0 ? max_connections : 1;
	a->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (a->wake < 0) {
		free(a);
		return NULL;
	}
	return a;
}

bool kg_acceptor_run(struct kg_acceptor *a, struct MHD_Daemon *daemon)
{
	a->daemon = daemon;
	a->running = pthread_create(&a->thread, NULL, accept_main, a) == 0;
	return a->running;
}

void kg_acceptor_closed(struct kg_acceptor *a)
{
	uint64_t one = 1;

	atomic_fetch_sub(&a->open, 1);
	if (atomic_load(&a->full))
		(void)!write(a->wake, &one, sizeof(one));
}

void kg_acceptor_close(struct kg_acceptor *a)
{
	uint64_t one = 1;

	if (a == NULL || a->fd < 0)
		return;
	atomic_store(&a->stop, true);
	if (a->running) {
		(void)!write(a->wake, &one, sizeof(one));
		pthread_join(a->thread, NULL);
		a->running = false;
	}
	close(a->fd);
	a->fd = -1;
}

void kg_acceptor_free(struct kg_acceptor *a)
{
	if (a == NULL)
		return;
	kg_acceptor_close(a);
	close(a->wake);
	free(a);
}
