/* A fixed-rate HTTP/1.1 client for bench/run.sh (wrk2 is not packaged): sends RATE requests a
 * second for SECONDS over CONNS kept-alive connections and prints latency percentiles measured
 * from each request's scheduled time, so a stall delays every request behind it (no coordinated
 * omission). Each request's path is TEMPLATE with its sequence number for "%d" (a new user each).
 *   fixedrate PORT RATE SECONDS CONNS TEMPLATE [HEADER]
 * Prints: "sent N answered N errors N p50_us N p90_us N p99_us N max_us N". */
#define _GNU_SOURCE /* memmem */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#define MAX_CONNS 256
#define BUF_BYTES 65536

struct conn {
	int fd;
	bool busy;
	long long sched_us; /* the scheduled time of the request in flight */
	char buf[BUF_BYTES];
	size_t len;
};

/* needle (lower case) in the first n bytes of s, any case. */
static const char *strcasestr_n(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle), i, j;

	for (i = 0; i + k <= n; i++) {
		for (j = 0; j < k && tolower((unsigned char)s[i + j]) == needle[j]; j++)
			;
		if (j == k)
			return s + i;
	}
	return NULL;
}

static long long now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static int dial(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		perror("connect");
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* The length of a complete answer at the start of buf, or 0 while incomplete (a body framed by
 * Content-Length, or chunked as nginx may send it). */
static size_t complete(const char *buf, size_t len)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4), *cl, *last;
	size_t head, body = 0;

	if (end == NULL)
		return 0;
	head = (size_t)(end - buf) + 4;
	if (strcasestr_n(buf, head, "transfer-encoding: chunked")) {
		last = memmem(buf + head, len - head, "0\r\n\r\n", 5);
		return last == NULL ? 0 : (size_t)(last - buf) + 5;
	}
	cl = strcasestr_n(buf, head, "content-length:");
	if (cl != NULL)
		body = strtoul(cl + 15, NULL, 10);
	return len >= head + body ? head + body : 0;
}

static int cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static struct conn c[MAX_CONNS];
	struct pollfd pfd[MAX_CONNS];
	int port, rate, secs, n, i;
	const char *tmpl, *header;
	long long t0, total, sent = 0, answered = 0, errors = 0, *lat;

	if (argc < 6) {
		fprintf(stderr, "usage: fixedrate PORT RATE SECONDS CONNS TEMPLATE [HEADER]\n");
		return 2;
	}
	port = (int)strtol(argv[1], NULL, 10);
	rate = (int)strtol(argv[2], NULL, 10);
	secs = (int)strtol(argv[3], NULL, 10);
	n = (int)strtol(argv[4], NULL, 10);
	tmpl = argv[5];
	header = argc > 6 ? argv[6] : "";
	if (n < 1 || n > MAX_CONNS || rate < 1 || secs < 1)
		return 2;
	total = (long long)rate * secs;
	lat = calloc((size_t)total, sizeof(*lat));
	for (i = 0; i < n; i++) {
		c[i].fd = dial(port);
		pfd[i].fd = c[i].fd;
		pfd[i].events = POLLIN;
	}
	/* Wake-ups within a few microseconds of the time asked, not the default 50 us late. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	t0 = now_us() + 100000;
	while (answered + errors < total) {
		long long now = now_us(), next = t0 + sent * 1000000 / rate;
		long long wait_us;
		struct timespec ts;

		/* Every request whose time came goes out on an idle connection. */
		while (sent < total && next <= now) {
			char path[512], req[1024];
			int len;

			for (i = 0; i < n && c[i].busy; i++)
				;
			if (i == n)
				break; /* all busy: it goes when one frees, its latency still counts
				        */
			snprintf(path, sizeof(path), tmpl, (int)sent);
			len =
			    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: bench\r\n%s%s\r\n",
			             path, header, header[0] ? "\r\n" : "");
			if (write(c[i].fd, req, (size_t)len) != len) {
				errors++;
			} else {
				c[i].busy = true;
				c[i].sched_us = next;
			}
			sent++;
			next = t0 + sent * 1000000 / rate;
		}
		/* To the microsecond: poll()'s milliseconds, truncated, made this loop spin for
		 * the last one before every send, a whole core of the two the benchmark shares
		 * with kycgate and the simulator (their wake-ups then queued behind it). */
		wait_us = sent < total ? next - now_us() : 100000;
		if (wait_us < 0)
			wait_us = 0;
		ts.tv_sec = (time_t)(wait_us / 1000000);
		ts.tv_nsec = (long)(wait_us % 1000000) * 1000;
		if (ppoll(pfd, (nfds_t)n, &ts, NULL) < 0 && errno != EINTR)
			break;
		for (i = 0; i < n; i++) {
			ssize_t got;
			size_t done;

			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			got = read(c[i].fd, c[i].buf + c[i].len, sizeof(c[i].buf) - c[i].len);
			if (got <= 0) {
				/* Closed by the server: the request in flight failed; dial again.
				 */
				close(c[i].fd);
				c[i].fd = pfd[i].fd = dial(port);
				if (c[i].busy)
					errors++;
				c[i].busy = false;
				c[i].len = 0;
				continue;
			}
			c[i].len += (size_t)got;
			done = complete(c[i].buf, c[i].len);
			if (done == 0)
				continue;
			if (strncmp(c[i].buf, "HTTP/1.1 5", 10) == 0)
				errors++;
			else
				lat[answered++] = now_us() - c[i].sched_us;
			memmove(c[i].buf, c[i].buf + done, c[i].len - done);
			c[i].len -= done;
			c[i].busy = false;
		}
	}
	qsort(lat, (size_t)answered, sizeof(*lat), cmp);
	if (answered == 0)
		return 1;
	printf(
	    "sent %lld answered %lld errors %lld p50_us %lld p90_us %lld p99_us %lld max_us %lld\n",
	    sent, answered, errors, lat[answered / 2], lat[answered * 9 / 10],
	    lat[answered * 99 / 100], lat[answered - 1]);
	return 0;
}
