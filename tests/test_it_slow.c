/* Integration: slow clients (issue 7.3). A client that trickles its request head a byte at a time
 * never goes idle, so only server.header_timeout_s ends it; server.max_connections_per_ip keeps
 * one address from taking every connection. Each case starts its own gateway (embedded
 * simulator) with low limits and checks that a new client is still served, with generous bounds. */
#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "harness.h"

#define TRICKLERS 200
#define TRICKLE_MS 500
#define SERVED_WITHIN_MS 15000 /* generous: a few seconds are expected */

/* header_timeout_s 1, few connections; the idle timeout is far longer than any case. */
static const char deadline_yaml[] = "server:\n"
                                    "  listen: \"127.0.0.1:0\"\n"
                                    "  threads: 2\n"
                                    "  max_connections: 64\n"
                                    "  connection_timeout_s: 120\n"
                                    "  header_timeout_s: 1\n"
                                    "  drain_delay_s: 0\n"
                                    "  shutdown_grace_s: 1\n"
                                    "crossmint:\n"
                                    "  environment: simulator\n"
                                    "auth:\n"
                                    "  mode: none\n"
                                    "log:\n"
                                    "  level: info\n";

/* A long head deadline, so only the per-address limit can help. */
static const char per_ip_yaml[] = "server:\n"
                                  "  listen: \"127.0.0.1:0\"\n"
                                  "  threads: 2\n"
                                  "  max_connections: 64\n"
                                  "  connection_timeout_s: 120\n"
                                  "  header_timeout_s: 120\n"
                                  "  max_connections_per_ip: 8\n"
                                  "  drain_delay_s: 0\n"
                                  "  shutdown_grace_s: 1\n"
                                  "crossmint:\n"
                                  "  environment: simulator\n"
                                  "auth:\n"
                                  "  mode: none\n"
                                  "log:\n"
                                  "  level: info\n";

static struct kt_proc gw;

/* A TCP connection to 127.0.0.1:port from the loopback address `from`, or -1. */
static int dial(unsigned port, const char *from)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct sockaddr_in b = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	inet_pton(AF_INET, from, &b.sin_addr);
	if (bind(fd, (struct sockaddr *)&b, sizeof(b)) != 0 ||
	    connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* TRICKLERS connections that each start a head and send one more header byte every
 * TRICKLE_MS, never completing it, until stopped. */
struct trickle {
	unsigned port;
	const char *from;
	int fd[TRICKLERS];
	int opened;
	volatile int stop;
	pthread_t thread;
};

static void *trickle_loop(void *arg)
{
	struct trickle *t = arg;
	int i;

	while (!t->stop) {
		for (i = 0; i < TRICKLERS; i++)
			if (t->fd[i] >= 0 && send(t->fd[i], "a", 1, MSG_NOSIGNAL) != 1) {
				close(t->fd[i]);
				t->fd[i] = -1;
			}
		usleep(TRICKLE_MS * 1000);
	}
	return NULL;
}

static void trickle_start(struct trickle *t, unsigned port, const char *from)
{
	static const char head[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
	struct rlimit rl;
	int i;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	memset(t, 0, sizeof(*t));
	t->port = port;
	t->from = from;
	for (i = 0; i < TRICKLERS; i++) {
		t->fd[i] = dial(port, from);
		if (t->fd[i] >= 0 && send(t->fd[i], head, sizeof(head) - 1, MSG_NOSIGNAL) < 0) {
			close(t->fd[i]);
			t->fd[i] = -1;
		}
		t->opened += t->fd[i] >= 0;
	}
	ck_assert_int_gt(t->opened, TRICKLERS / 2);
	ck_assert_int_eq(pthread_create(&t->thread, NULL, trickle_loop, t), 0);
	usleep(2 * TRICKLE_MS * 1000); /* every connection the gateway took is now held */
}

static void trickle_stop(struct trickle *t)
{
	int i;

	t->stop = 1;
	pthread_join(t->thread, NULL);
	for (i = 0; i < TRICKLERS; i++)
		if (t->fd[i] >= 0)
			close(t->fd[i]);
}

/* GET target on a new connection from 127.0.0.1; asserts 200 within SERVED_WITHIN_MS. */
static void assert_served(const char *target)
{
	char req[256];
	long long t0 = kt_now_ms();
	char *out;

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	         target);
	out = kt_raw(gw.port, req, strlen(req), SERVED_WITHIN_MS + 5000);
	ck_assert_msg(strncmp(out, "HTTP/1.1 200", 12) == 0, "%s: got \"%s\"", target, out);
	ck_assert_msg(kt_now_ms() - t0 < SERVED_WITHIN_MS, "%s took %lld ms", target,
	              kt_now_ms() - t0);
	free(out);
}

static double metric(const char *name)
{
	struct kt_resp r;
	const char *at;
	double v = -1;

	kt_http(gw.port, "GET", "/metrics", NULL, NULL, 0, &r);
	at = strstr(r.body, name);
	if (at != NULL)
		v = strtod(at + strlen(name), NULL);
	kt_resp_free(&r);
	return v;
}

static void start_deadline_gateway(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	kt_start_gateway(&gw, deadline_yaml, 0, NULL);
}

static void start_per_ip_gateway(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	kt_start_gateway(&gw, per_ip_yaml, 0, NULL);
}

static void stop_gateway(void)
{
	ck_assert_int_eq(kt_stop(&gw), 0);
	curl_global_cleanup();
}

/* A few hundred trickling heads fill max_connections and the backlog behind it; each is cut
 * header_timeout_s after it was taken, so a new client (a probe) gets its turn. */
START_TEST(trickling_heads_are_cut)
{
	struct trickle t;

	trickle_start(&t, gw.port, "127.0.0.1");
	assert_served("/healthz");
	assert_served("/readyz");
	trickle_stop(&t);
	ck_assert(metric("\nkycgate_http_header_timeouts_total ") >= 64);
}
END_TEST

/* A first head with bare CR line endings is answered at once: 400, Connection: close, a problem
 * (libmicrohttpd alone would wait for an LF that never comes). */
START_TEST(bare_cr_is_refused)
{
	static const char req[] = "GET /healthz HTTP/1.1\rHost: x\r\r";
	char *out = kt_raw(gw.port, req, sizeof(req) - 1, 20000);

	ck_assert_msg(strncmp(out, "HTTP/1.1 400 ", 13) == 0, "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "Connection: close\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "application/problem+json"));
	ck_assert_ptr_nonnull(strstr(out, "bare CR"));
	free(out);
}
END_TEST

/* A bare CR that comes in a later segment is past what arrived with the connection: the head
 * deadline cuts it (no answer) instead of connection_timeout_s. */
START_TEST(late_bare_cr_is_cut)
{
	static const char line[] = "GET /healthz HTTP/1.1", rest[] = "\rHost: x\r\r";
	int fd = dial(gw.port, "127.0.0.1");
	long long t0 = kt_now_ms();
	char buf[256];
	struct pollfd p = {.fd = fd, .events = POLLIN};

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(send(fd, line, sizeof(line) - 1, MSG_NOSIGNAL), sizeof(line) - 1);
	usleep(200 * 1000);
	ck_assert_int_eq(send(fd, rest, sizeof(rest) - 1, MSG_NOSIGNAL), sizeof(rest) - 1);
	ck_assert_int_eq(poll(&p, 1, 20000), 1);
	ck_assert_int_le(recv(fd, buf, sizeof(buf), 0), 0);
	ck_assert_msg(kt_now_ms() - t0 < 10000, "held %lld ms", kt_now_ms() - t0);
	close(fd);
}
END_TEST

/* The idle gap between two requests on a kept-alive connection is connection_timeout_s's, not
 * the head deadline's; the next head, once its request line arrived, has header_timeout_s. */
START_TEST(keep_alive_gap_then_slow_head)
{
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char line[] = "GET /healthz HTTP/1.1\r\nX-Slow: ";
	int fd = dial(gw.port, "127.0.0.1"), i;
	char buf[4096];
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n;
	long long t0;

	ck_assert_int_ge(fd, 0);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), sizeof(req) - 1);
		ck_assert_int_eq(poll(&p, 1, 10000), 1);
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		ck_assert_int_gt(n, 12);
		ck_assert_int_eq(strncmp(buf, "HTTP/1.1 200", 12), 0);
		if (i == 0)
			usleep(2500 * 1000); /* longer than header_timeout_s */
	}
	ck_assert_int_eq(send(fd, line, sizeof(line) - 1, MSG_NOSIGNAL), sizeof(line) - 1);
	t0 = kt_now_ms();
	while (kt_now_ms() - t0 < 20000 && send(fd, "a", 1, MSG_NOSIGNAL) == 1 &&
	       (poll(&p, 1, 300) == 0 || recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0))
		;
	ck_assert_msg(kt_now_ms() - t0 < 10000, "the slow head lived %lld ms", kt_now_ms() - t0);
	close(fd);
}
END_TEST

/* Trickling heads from one address hold at most max_connections_per_ip connections (the rest
 * are closed at once), so a client from another address is served at once. */
START_TEST(one_address_cannot_take_every_connection)
{
	struct trickle t;

	trickle_start(&t, gw.port, "127.0.0.2");
	assert_served("/healthz");
	trickle_stop(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("it_slow");
	TCase *deadline = tcase_create("deadline"), *per_ip = tcase_create("per_ip");
	int failed;

	tcase_add_unchecked_fixture(deadline, start_deadline_gateway, stop_gateway);
	tcase_set_timeout(deadline, 60);
	tcase_add_test(deadline, bare_cr_is_refused);
	tcase_add_test(deadline, late_bare_cr_is_cut);
	tcase_add_test(deadline, keep_alive_gap_then_slow_head);
	tcase_add_test(deadline, trickling_heads_are_cut);
	suite_add_tcase(s, deadline);
	tcase_add_unchecked_fixture(per_ip, start_per_ip_gateway, stop_gateway);
	tcase_set_timeout(per_ip, 60);
	tcase_add_test(per_ip, one_address_cannot_take_every_connection);
	suite_add_tcase(s, per_ip);
	failed = kt_run_suite(s);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
