/* Unit tests of the upstream engine against the in-process simulator and a tiny scripted server:
 * answers, transport failures, the in-flight cap, the response-size cap, no redirects followed,
 * bursts longer than an admission round, and stopping with calls in flight. */
#include <arpa/inet.h>
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "harness.h"
#include "kycgate/answer.h"
#include "kycgate/config.h"
#include "kycgate/simulator.h"
#include "kycgate/upstream.h"

#define KEY "sk_staging_unit0123456789"

static struct kg_config *config(const char *extra)
{
	char yaml[2048];
	struct kg_config *cfg = NULL;
	char *errors = NULL;

	snprintf(yaml, sizeof(yaml),
	         "crossmint:\n  environment: staging\n  api_key: \"" KEY "\"\n"
	         "  base_url: \"http://127.0.0.1:1\"\n%s"
	         "auth:\n  clients:\n    - name: t\n      token: \"0123456789abcdef0123\"\n"
	         "      scopes: [users.read]\n",
	         extra);
	ck_assert_msg(kg_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, &errors) == KG_OK,
	              "%s", errors ? errors : "");
	return cfg;
}

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done;
};

static struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};

static pthread_t done_thread; /* the thread that called on_done last */

static void on_done(struct kg_up_call *c)
{
	pthread_mutex_lock(&w.lock);
	done_thread = pthread_self();
	w.done++;
	pthread_cond_broadcast(&w.cond);
	pthread_mutex_unlock(&w.lock);
}

static void wait_done(int n)
{
	pthread_mutex_lock(&w.lock);
	while (w.done < n)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
}

static void run_body(struct kg_upstream *up, struct kg_up_call *c, const char *method,
                     const char *path, const char *body)
{
	memset(c, 0, sizeof(*c));
	c->method = method;
	c->body = body;
	c->body_len = body ? strlen(body) : 0;
	snprintf(c->path, sizeof(c->path), "%s", path);
	snprintf(c->request_id, sizeof(c->request_id), "unit-1");
	c->done = on_done;
	w.done = 0;
	ck_assert_int_eq(kg_upstream_reserve(up, false), KG_OK);
	kg_upstream_submit(up, c);
	wait_done(1);
}

static void run(struct kg_upstream *up, struct kg_up_call *c, const char *method, const char *path)
{
	run_body(up, c, method, path, NULL);
}

static struct kg_sim *sim_start(void)
{
	struct kg_sim_opts o = {.host = "127.0.0.1", .api_key = KEY, .review_delay_ms = 100};
	char err[128];
	struct kg_sim *sim = kg_sim_start(&o, err, sizeof(err));

	ck_assert_msg(sim != NULL, "%s", err);
	return sim;
}

START_TEST(answers_and_failures)
{
	struct kg_sim *sim = sim_start();
	struct kg_config *cfg = config("  timeout_ms: 500\n");
	char base[64], err[128];
	struct kg_upstream *up;
	struct kg_up_call c;

	snprintf(base, sizeof(base), "http://127.0.0.1:%u", kg_sim_port(sim));
	up = kg_upstream_start(cfg, base, KEY, err, sizeof(err));
	ck_assert_msg(up != NULL, "%s", err);

	run(up, &c, "GET", "/users/userId:nobody");
	ck_assert_int_eq(c.result, KG_UP_OK);
	ck_assert_int_eq(c.status, 404);
	ck_assert(c.resp != NULL && c.resp_len > 0); /* the simulator's 404 body */
	ck_assert(c.upstream_ms > 0);
	kg_up_call_cleanup(&c);

	run_body(up, &c, "PUT", "/users/userId:u1/legal-documents",
	         "{\"type\":\"crossmint-privacy-policy\",\"acceptedAt\":\"2025-01-01T00:00:00Z\"}");
	ck_assert_int_eq(c.status, 200);
	ck_assert_ptr_nonnull(strstr(c.resp, "acceptedAt"));
	kg_up_call_cleanup(&c);

	run(up, &c, "PUT", "/users/userId:u1/legal-documents");
	ck_assert_int_eq(c.status, 400); /* an empty body breaks the simulator's schema */
	kg_up_call_cleanup(&c);

	run(up, &c, "GET", "/users/userId:sim-reset");
	ck_assert_int_eq(c.result, KG_UP_RESET);
	kg_up_call_cleanup(&c);

	run(up, &c, "GET", "/users/userId:sim-latency-3000");
	ck_assert_int_eq(c.result, KG_UP_TIMEOUT);
	ck_assert(c.upstream_ms >= 400 && c.upstream_ms < 2500);
	kg_up_call_cleanup(&c);

	run(up, &c, "GET", "/users/userId:sim-ratelimit");
	ck_assert_int_eq(c.status, 429);
	ck_assert_uint_eq(c.retry_after_s, 1);
	kg_up_call_cleanup(&c);

	kg_upstream_free(up);
	kg_config_free(cfg);
	kg_sim_stop(sim);
}
END_TEST

/* One status read of user loc (a watch poll when watch, with an engine deadline when
 * deadline_ms); waits for its end. */
static void status_read(struct kg_upstream *up, struct kg_up_call *c, const char *loc, bool watch,
                        unsigned long long deadline_ms)
{
	memset(c, 0, sizeof(*c));
	c->method = "GET";
	c->kind = KG_CALL_STATUS_READ;
	c->watch_poll = watch;
	c->deadline_ms = deadline_ms;
	snprintf(c->user_key, sizeof(c->user_key), "%s", loc);
	snprintf(c->path, sizeof(c->path), "/users/%s/identity-verification", loc);
	c->done = on_done;
	w.done = 0;
	ck_assert_int_eq(kg_upstream_reserve(up, false), KG_OK);
	kg_upstream_submit(up, c);
	wait_done(1);
}

/* Budget priority (design §10): with 10 reads a minute and budget_share 0.5, a watch poll takes a
 * token only while more than 5 remain, else it waits (here until its deadline) instead of being
 * refused; a caller's read still takes what is left. */
START_TEST(watch_poll_leaves_the_budget_share)
{
	struct kg_sim *sim = sim_start();
	struct kg_config *cfg = config("  rate_limit: {reads_per_minute: 10}\n"
	                               "verification: {cache_ttl_ms: 0}\n"
	                               "events:\n  watch: {budget_share: 0.5}\n");
	char base[64], err[128], loc[32];
	struct kg_upstream *up;
	struct kg_up_call c;
	int i;

	snprintf(base, sizeof(base), "http://127.0.0.1:%u", kg_sim_port(sim));
	up = kg_upstream_start(cfg, base, KEY, err, sizeof(err));
	ck_assert_msg(up != NULL, "%s", err);
	status_read(up, &c, "userId:wp-0", true, 0); /* 10 left: a poll goes */
	ck_assert_int_eq(c.result, KG_UP_OK);
	kg_up_call_cleanup(&c);
	for (i = 1; i <= 3; i++) { /* callers take 3: 6 left */
		snprintf(loc, sizeof(loc), "userId:wp-%d", i);
		status_read(up, &c, loc, false, 0);
		ck_assert_int_eq(c.result, KG_UP_OK);
		kg_up_call_cleanup(&c);
	}
	status_read(up, &c, "userId:wp-4", true, 0); /* 6 left, more than 5: goes, 5 left */
	ck_assert_int_eq(c.result, KG_UP_OK);
	kg_up_call_cleanup(&c);
	status_read(up, &c, "userId:wp-5", true, kg_now_ms() + 300); /* 5 left: waits */
	ck_assert_int_eq(c.result, KG_UP_DEADLINE);
	kg_up_call_cleanup(&c);
	for (i = 6; i <= 10; i++) { /* a caller may take the last tokens */
		snprintf(loc, sizeof(loc), "userId:wp-%d", i);
		status_read(up, &c, loc, false, 0);
		ck_assert_int_eq(c.result, KG_UP_OK);
		kg_up_call_cleanup(&c);
	}
	status_read(up, &c, "userId:wp-11", false, 0); /* and then none is left */
	ck_assert_int_eq(c.result, KG_UP_BUDGET);
	kg_up_call_cleanup(&c);
	kg_upstream_free(up);
	kg_config_free(cfg);
	kg_sim_stop(sim);
}
END_TEST

START_TEST(connect_refused)
{
	struct kg_config *cfg = config("");
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char base[64], err[128];
	struct kg_upstream *up;
	struct kg_up_call c;

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	getsockname(fd, (struct sockaddr *)&a, &alen); /* bound, never listening: refused */
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", ntohs(a.sin_port));
	up = kg_upstream_start(cfg, base, KEY, err, sizeof(err));
	run(up, &c, "GET", "/users/userId:x");
	close(fd);
	ck_assert_int_eq(c.result, KG_UP_CONNECT);
	/* curl's own words reach the call, without the path */
	ck_assert_msg(strstr(c.error_text, "Failed to connect to 127.0.0.1 port") != NULL, "%s",
	              c.error_text);
	ck_assert_ptr_null(strstr(c.error_text, "userId"));
	kg_up_call_cleanup(&c);
	kg_upstream_free(up);
	kg_config_free(cfg);
}
END_TEST

static void assert_clean(const char *in, const char *want)
{
	char out[KG_UP_ERROR_TEXT_MAX + 1];

	kg_up_error_text(in, out, sizeof(out));
	ck_assert_str_eq(out, want);
}

/* curl's error text made fit for a log: URLs keep their host only, paths and queries are cut,
 * control characters and non-ASCII dropped, the length bounded. */
START_TEST(error_text_cleaned)
{
	char out[KG_UP_ERROR_TEXT_MAX + 1], longer[400];

	assert_clean("SSL certificate problem: self-signed certificate",
	             "SSL certificate problem: self-signed certificate");
	assert_clean("Could not resolve host: api.example.com",
	             "Could not resolve host: api.example.com");
	assert_clean("sent to https://u:pw@api.example.com:443/api/2025-06-09/users/"
	             "email:alice%40x.io/identity-verification?wait=1 and failed",
	             "sent to https://api.example.com:443[cut] and failed");
	assert_clean("no URL 'http://h/users/userId:bob'", "no URL 'http://h[cut]'");
	assert_clean("error setting certificate file: /etc/ssl/private/k.pem",
	             "error setting certificate file: [cut]");
	assert_clean("at users/userId:carol or x?y=1", "at users[cut] or x[cut]");
	assert_clean("HTTP/2 stream 1 was not closed cleanly",
	             "HTTP/2 stream 1 was not closed cleanly");
	assert_clean("one\ntwo\x01\x7f\xc3\xa9 three\r\n", "one two three");
	assert_clean(NULL, "");
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	kg_up_error_text(longer, out, sizeof(out));
	ck_assert_uint_eq(strlen(out), KG_UP_ERROR_TEXT_MAX);
	kg_up_error_text("abcdefghij", out, 5);
	ck_assert_str_eq(out, "abcd");
}
END_TEST

/* A one-shot server that answers every connection with the same bytes. */
struct scripted {
	int fd;
	unsigned port;
	const char *answer;
	pthread_t thread;
	char got[1024]; /* the start of the first request received */
};

/* A listening socket on an ephemeral loopback port (in *port). */
static int listen_loopback(unsigned *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	listen(fd, 16);
	getsockname(fd, (struct sockaddr *)&a, &alen);
	*port = ntohs(a.sin_port);
	return fd;
}

static void *scripted_main(void *arg)
{
	struct scripted *s = arg;
	char buf[4096];
	int c;

	while ((c = accept(s->fd, NULL, NULL)) >= 0) {
		ssize_t r = read(c, buf, sizeof(buf) - 1);

		if (r > 0 && s->got[0] == '\0') {
			buf[r] = '\0';
			memcpy(s->got, buf, sizeof(s->got) - 1);
		}
		r = write(c, s->answer, strlen(s->answer));
		close(c);
	}
	return NULL;
}

static void scripted_start(struct scripted *s, const char *answer)
{
	s->answer = answer;
	s->fd = listen_loopback(&s->port);
	pthread_create(&s->thread, NULL, scripted_main, s);
}

static void scripted_stop(struct scripted *s)
{
	shutdown(s->fd, SHUT_RDWR);
	close(s->fd);
	pthread_join(s->thread, NULL);
}

/* A keep-alive server: answers every request on a connection with 200 and "{}", and logs each
 * request as read (head and body), one after the other, separated by "\n--\n". */
struct kaserver {
	int fd;
	unsigned port;
	pthread_t thread;
	char log[8192];
	size_t len;
};

static void *kaserver_main(void *arg)
{
	static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
	struct kaserver *s = arg;
	char buf[2048];
	ssize_t r;
	int c;

	while ((c = accept(s->fd, NULL, NULL)) >= 0) {
		while ((r = read(c, buf, sizeof(buf))) > 0) {
			size_t n = (size_t)r < sizeof(s->log) - 8 - s->len
			               ? (size_t)r
			               : sizeof(s->log) - 8 - s->len;

			memcpy(s->log + s->len, buf, n);
			s->len += n;
			memcpy(s->log + s->len, "\n--\n", 4);
			s->len += 4;
			if (write(c, answer, sizeof(answer) - 1) < 0)
				break;
		}
		close(c);
	}
	return NULL;
}

static void kaserver_start(struct kaserver *s)
{
	memset(s, 0, sizeof(*s));
	s->fd = listen_loopback(&s->port);
	pthread_create(&s->thread, NULL, kaserver_main, s);
}

/* After the clients closed their connections. */
static void kaserver_stop(struct kaserver *s)
{
	shutdown(s->fd, SHUT_RDWR);
	close(s->fd);
	pthread_join(s->thread, NULL);
	s->log[s->len] = '\0';
}

/* The n-th request in a kaserver's log (a pointer into it; the next one follows "\n--\n"). */
static const char *kaserver_request(const struct kaserver *s, int n)
{
	const char *p = s->log;

	while (n-- > 0 && p != NULL)
		if ((p = strstr(p, "\n--\n")) != NULL)
			p += 4;
	return p;
}

/* Whether needle occurs in the n-th request of s. */
static bool in_request(const struct kaserver *s, int n, const char *needle)
{
	const char *p = kaserver_request(s, n), *end = p ? strstr(p, "\n--\n") : NULL;
	const char *hit = p ? strstr(p, needle) : NULL;

	return hit != NULL && (end == NULL || hit < end);
}

static void own_url_post(struct kg_upstream *up, struct kg_up_call *c, const char *url)
{
	static const char *const hdrs[] = {"Content-Type: application/json", NULL};

	memset(c, 0, sizeof(*c));
	c->method = "POST";
	c->url = url;
	c->headers = hdrs;
	c->timeout_ms = 2000;
	c->body = "{\"hook\":1}";
	c->body_len = strlen(c->body);
	c->done = on_done;
	w.done = 0;
	ck_assert_int_eq(kg_upstream_reserve(up, true), KG_OK);
	kg_upstream_submit(up, c);
	wait_done(1);
}

/* A pooled easy handle keeps its options between calls of one shape (upstream.c set_options):
 * nothing of one call may reach the next: not its method or body, not its way (a call with its
 * own url never goes through Crossmint's proxy, a Crossmint call always does). Keep-alive
 * servers, so that handles go back to the pool with their shape and are taken again (the pool
 * gives back the last handle first). */
START_TEST(pooled_handle_keeps_nothing_of_the_last_call)
{
	struct kaserver proxy, hook;
	struct kg_config *cfg;
	char extra[128], url[96], err[128];
	struct kg_upstream *up;
	struct kg_up_call c;
	int i;

	kaserver_start(&proxy);
	kaserver_start(&hook);
	snprintf(extra, sizeof(extra), "  proxy: \"http://127.0.0.1:%u\"\n", proxy.port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook", hook.port);
	cfg = config(extra);
	up = kg_upstream_start(cfg, "http://127.0.0.1:9/api", KEY, err, sizeof(err));
	ck_assert_msg(up != NULL, "%s", err);
	run(up, &c, "GET", "/users/userId:a");
	ck_assert_int_eq(c.status, 200);
	kg_up_call_cleanup(&c);
	run_body(up, &c, "PUT", "/users/userId:b", "{\"put\":1}");
	ck_assert_int_eq(c.status, 200);
	kg_up_call_cleanup(&c);
	run(up, &c, "GET", "/users/userId:c");
	ck_assert_int_eq(c.status, 200);
	kg_up_call_cleanup(&c);
	run(up, &c, "DELETE", "/users/userId:c");
	ck_assert_int_eq(c.status, 200);
	kg_up_call_cleanup(&c);
	for (i = 0; i < 2; i++) {
		own_url_post(up, &c, url);
		ck_assert_int_eq(c.result, KG_UP_OK);
		ck_assert_int_eq(c.status, 200);
		kg_up_call_cleanup(&c);
	}
	run(up, &c, "GET", "/users/userId:d");
	ck_assert_int_eq(c.result, KG_UP_OK);
	ck_assert_int_eq(c.status, 200);
	kg_up_call_cleanup(&c);
	kg_upstream_free(up);
	kaserver_stop(&proxy);
	kaserver_stop(&hook);

	ck_assert_msg(strncmp(kaserver_request(&proxy, 0),
	                      "GET http://127.0.0.1:9/api/2025-06-09/users/userId:a HTTP/1.1",
	                      61) == 0,
	              "%s", proxy.log);
	ck_assert_msg(strncmp(kaserver_request(&proxy, 1), "PUT http://127.0.0.1:9/api/", 27) == 0,
	              "%s", proxy.log);
	ck_assert(in_request(&proxy, 1, "Content-Type: application/json"));
	ck_assert(in_request(&proxy, 1, "{\"put\":1}"));
	ck_assert_msg(strncmp(kaserver_request(&proxy, 2),
	                      "GET http://127.0.0.1:9/api/2025-06-09/users/userId:c HTTP/1.1",
	                      61) == 0,
	              "%s", proxy.log);
	ck_assert(!in_request(&proxy, 2, "Content-Type"));
	ck_assert(!in_request(&proxy, 2, "Content-Length"));
	ck_assert(!in_request(&proxy, 2, "{\"put\":1}"));
	ck_assert_msg(strncmp(kaserver_request(&proxy, 3), "DELETE http://127.0.0.1:9/api/", 30) ==
	                  0,
	              "%s", proxy.log);
	ck_assert(!in_request(&proxy, 3, "{\"put\":1}"));
	ck_assert_msg(strncmp(kaserver_request(&proxy, 4),
	                      "GET http://127.0.0.1:9/api/2025-06-09/users/userId:d HTTP/1.1",
	                      61) == 0,
	              "%s", proxy.log);
	ck_assert(in_request(&proxy, 4, "X-API-KEY: " KEY));
	ck_assert_ptr_null(strstr(proxy.log, "/hook"));
	/* The hook's calls went straight to it, without the key. */
	ck_assert_msg(strncmp(kaserver_request(&hook, 0), "POST /hook HTTP/1.1", 19) == 0, "%s",
	              hook.log);
	ck_assert_msg(strncmp(kaserver_request(&hook, 1), "POST /hook HTTP/1.1", 19) == 0, "%s",
	              hook.log);
	ck_assert_ptr_null(strstr(hook.log, KEY));
	kg_config_free(cfg);
}
END_TEST

START_TEST(response_cap_and_no_redirect)
{
	static char big[4096];
	struct kg_config *cfg = config("  max_response_bytes: 1024\n");
	struct scripted s;
	char base[64], err[128];
	struct kg_upstream *up;
	struct kg_up_call c;
	int n;

	n = snprintf(big, sizeof(big),
	             "HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n"
	             "Connection: close\r\n\r\n");
	memset(big + n, 'x', 2000);
	scripted_start(&s, big);
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", s.port);
	up = kg_upstream_start(cfg, base, KEY, err, sizeof(err));
	run(up, &c, "GET", "/users/userId:x");
	ck_assert_int_eq(c.result, KG_UP_TOO_LARGE);
	kg_up_call_cleanup(&c);
	kg_upstream_free(up);
	scripted_stop(&s);

	scripted_start(&s, "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/x\r\n"
	                   "Content-Length: 0\r\nConnection: close\r\n\r\n");
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", s.port);
	up = kg_upstream_start(cfg, base, KEY, err, sizeof(err));
	run(up, &c, "GET", "/users/userId:x");
	ck_assert_int_eq(c.result, KG_UP_OK);
	ck_assert_int_eq(c.status, 302);
	kg_up_call_cleanup(&c);
	kg_upstream_free(up);
	scripted_stop(&s);
	kg_config_free(cfg);
}
END_TEST

/* An answer many times curl's receive buffer (4 KiB, upstream.c) arrives whole, in order. */
START_TEST(answer_longer_than_the_receive_buffer)
{
	enum { BODY = 40000 };
	static char answer[BODY + 128];
	struct kg_config *cfg = config("");
	struct scripted s;
	char base[64], err[128];
	struct kg_upstream *up;
	struct kg_up_call c;
	int n, i;

	n = snprintf(answer, sizeof(answer),
	             "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", BODY);
	for (i = 0; i < BODY; i++)
		answer[n + i] = (char)('a' + i % 26);
	scripted_start(&s, answer);
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", s.port);
	up = kg_upstream_start(cfg, base, KEY, err, sizeof(err));
	ck_assert_msg(up != NULL, "%s", err);
	run(up, &c, "GET", "/users/userId:long");
	ck_assert_int_eq(c.result, KG_UP_OK);
	ck_assert_int_eq(c.status, 200);
	ck_assert_uint_eq(c.resp_len, BODY);
	for (i = 0; i < BODY; i++)
		if (c.resp[i] != (char)('a' + i % 26))
			ck_abort_msg("byte %d differs", i);
	kg_up_call_cleanup(&c);
	kg_upstream_free(up);
	scripted_stop(&s);
	kg_config_free(cfg);
}
END_TEST

/* crossmint.proxy: the exchange goes through the configured proxy (the environment's *_PROXY
 * variables are ignored). */
START_TEST(through_the_proxy)
{
	struct scripted proxy = {0};
	struct kg_config *cfg;
	char extra[128], err[128];
	struct kg_upstream *up;
	struct kg_up_call c;

	scripted_start(&proxy, "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n"
	                       "Connection: close\r\n\r\n{}");
	snprintf(extra, sizeof(extra), "  proxy: \"http://127.0.0.1:%u\"\n", proxy.port);
	cfg = config(extra);
	setenv("http_proxy", "http://127.0.0.1:1", 1);
	up = kg_upstream_start(cfg, "http://127.0.0.1:9/api", KEY, err, sizeof(err));
	run(up, &c, "GET", "/users/userId:via-proxy");
	ck_assert_int_eq(c.result, KG_UP_OK);
	ck_assert_int_eq(c.status, 404);
	ck_assert_msg(
	    strncmp(proxy.got,
	            "GET http://127.0.0.1:9/api/2025-06-09/users/userId:via-proxy HTTP/1.1",
	            68) == 0,
	    "%s", proxy.got);
	ck_assert_ptr_nonnull(strstr(proxy.got, "X-API-KEY: " KEY));
	kg_up_call_cleanup(&c);
	kg_upstream_free(up);
	unsetenv("http_proxy");
	scripted_stop(&proxy);
	kg_config_free(cfg);
}
END_TEST

/* A call with its own URL (a webhook, design §10): only its own headers (never the API key or
 * X-Request-Id), its own timeout, no budget token, no retry, and nothing counted by the circuit
 * breaker, whose next Crossmint call still goes out. */
START_TEST(own_url_call)
{
	static const char *const hdrs[] = {"X-Test: 1", "Content-Type: application/json", NULL};
	struct kg_config *cfg = config("  rate_limit: {writes_per_minute: 1, reads_per_minute: 0}\n"
	                               "  retry: {max_attempts: 3, base_delay_ms: 10,"
	                               " max_delay_ms: 20}\n"
	                               "  circuit_breaker: {failure_threshold: 1}\n");
	struct scripted s = {0};
	char url[96], base[64], err[128];
	struct kg_upstream *up;
	struct kg_up_call c;
	int i;

	scripted_start(&s, "HTTP/1.1 503 Unavailable\r\nContent-Length: 0\r\n"
	                   "Connection: close\r\n\r\n");
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook?t=1", s.port);
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", s.port);
	up = kg_upstream_start(cfg, base, KEY, err, sizeof(err));
	ck_assert_ptr_nonnull(up);
	for (i = 0; i < 3; i++) { /* one write token a minute: a budgeted call would be refused */
		memset(&c, 0, sizeof(c));
		c.method = "POST";
		c.url = url;
		c.headers = hdrs;
		c.timeout_ms = 2000;
		c.body = "{}";
		c.body_len = 2;
		c.done = on_done;
		w.done = 0;
		ck_assert_int_eq(kg_upstream_reserve(up, true), KG_OK);
		kg_upstream_submit(up, &c);
		wait_done(1);
		ck_assert_int_eq(c.result, KG_UP_OK);
		ck_assert_int_eq(c.status, 503);
		ck_assert_uint_eq(c.attempts, 1); /* never retried */
		kg_up_call_cleanup(&c);
	}
	ck_assert_msg(strncmp(s.got, "POST /hook?t=1 HTTP/1.1\r\n", 25) == 0, "%s", s.got);
	ck_assert_ptr_nonnull(strstr(s.got, "X-Test: 1\r\n"));
	ck_assert_ptr_null(strcasestr(s.got, "X-API-KEY"));
	ck_assert_ptr_null(strstr(s.got, KEY));
	ck_assert_ptr_null(strcasestr(s.got, "X-Request-Id"));
	/* Three 503s with a threshold of 1 would have opened the breaker. */
	run(up, &c, "GET", "/users/userId:x");
	ck_assert_int_eq(c.result, KG_UP_OK);
	ck_assert_int_eq(c.status, 503);
	kg_up_call_cleanup(&c);
	kg_upstream_free(up);
	scripted_stop(&s);
	kg_config_free(cfg);
}
END_TEST

START_TEST(inflight_cap)
{
	struct kg_config *cfg = config("  max_inflight: 2\n");
	char err[128];
	struct kg_upstream *up =
	    kg_upstream_start(cfg, "http://127.0.0.1:1", KEY, err, sizeof(err));

	ck_assert_int_eq(kg_upstream_reserve(up, false), KG_OK);
	ck_assert_int_eq(kg_upstream_reserve(up, false), KG_OK);
	ck_assert_int_eq(kg_upstream_reserve(up, false), KG_ERR_BUSY);
	ck_assert_uint_eq(kg_upstream_inflight(up), 2);
	kg_upstream_release(up);
	ck_assert_int_eq(kg_upstream_reserve(up, false), KG_OK);
	kg_upstream_release(up);
	kg_upstream_release(up);
	ck_assert_uint_eq(kg_upstream_inflight(up), 0);
	kg_upstream_free(up);
	kg_config_free(cfg);
}
END_TEST

/* A server whose first connection answers after 500 ms with body A, every later one at once
 * with body B; each answer closes its connection. */
struct two_speed {
	int fd;
	unsigned port;
	int n;
	pthread_t thread;
};

static void *two_speed_conn(void *arg)
{
	static const char a[] = "HTTP/1.1 200 OK\r\nContent-Length: 50\r\nConnection: close\r\n\r\n"
	                        "{\"eligibility\":[{\"type\":\"onramp\",\"status\":\"AAA\"}]}";
	static const char b[] = "HTTP/1.1 200 OK\r\nContent-Length: 50\r\nConnection: close\r\n\r\n"
	                        "{\"eligibility\":[{\"type\":\"onramp\",\"status\":\"BBB\"}]}";
	int c = (int)((long)arg >> 1), slow = (int)((long)arg & 1);
	char buf[4096];
	ssize_t r = read(c, buf, sizeof(buf));

	(void)r;
	if (slow)
		usleep(500 * 1000);
	r = write(c, slow ? a : b, slow ? sizeof(a) - 1 : sizeof(b) - 1);
	close(c);
	return NULL;
}

static void *two_speed_main(void *arg)
{
	struct two_speed *s = arg;
	int c;

	while ((c = accept(s->fd, NULL, NULL)) >= 0) {
		pthread_t t;

		pthread_create(&t, NULL, two_speed_conn, (void *)(((long)c << 1) | (s->n++ == 0)));
		pthread_detach(t);
	}
	return NULL;
}

/* A read started before a write keeps its own (older) answer; a read after the write starts a
 * new flight and gets the new answer, even while the old flight still runs. */
START_TEST(flights_do_not_mix_across_a_write)
{
	struct kg_config *cfg = config("");
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	struct two_speed srv = {0};
	struct kg_up_call r1, wr, r2;
	char base[64], err[128];
	struct kg_upstream *up;
	size_t len;

	srv.fd = socket(AF_INET, SOCK_STREAM, 0);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	ck_assert_int_eq(bind(srv.fd, (struct sockaddr *)&a, sizeof(a)), 0);
	listen(srv.fd, 16);
	getsockname(srv.fd, (struct sockaddr *)&a, &alen);
	pthread_create(&srv.thread, NULL, two_speed_main, &srv);
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", ntohs(a.sin_port));
	up = kg_upstream_start(cfg, base, KEY, err, sizeof(err));
	w.done = 0;
	memset(&r1, 0, sizeof(r1));
	r1.method = "GET";
	r1.kind = KG_CALL_STATUS_READ;
	snprintf(r1.user_key, sizeof(r1.user_key), "userId:mix");
	snprintf(r1.path, sizeof(r1.path), "/users/userId:mix/identity-verification");
	r1.done = on_done;
	wr = r1;
	wr.method = "PUT";
	wr.kind = KG_CALL_WRITE;
	r2 = r1;
	ck_assert_int_eq(kg_upstream_reserve(up, false), KG_OK);
	kg_upstream_submit(up, &r1);
	usleep(100 * 1000);
	ck_assert_int_eq(kg_upstream_reserve(up, false), KG_OK);
	kg_upstream_submit(up, &wr);
	wait_done(1);
	ck_assert_int_eq(kg_upstream_reserve(up, false), KG_OK);
	kg_upstream_submit(up, &r2);
	wait_done(3);
	ck_assert_ptr_nonnull(r1.answer);
	ck_assert_ptr_nonnull(r2.answer);
	ck_assert_ptr_nonnull(strstr(kg_answer_body(r1.answer, &len), "AAA"));
	ck_assert_ptr_nonnull(strstr(kg_answer_body(r2.answer, &len), "BBB"));
	ck_assert(!r2.shared);
	kg_up_call_cleanup(&r1);
	kg_up_call_cleanup(&wr);
	kg_up_call_cleanup(&r2);
	kg_upstream_free(up);
	shutdown(srv.fd, SHUT_RDWR);
	close(srv.fd);
	pthread_join(srv.thread, NULL);
	kg_config_free(cfg);
}
END_TEST

/* Stopping ends every call in flight with KG_UP_SHUTDOWN, each done called once. */
/* A status read for loc, not submitted. */
static void read_of(struct kg_up_call *c, const char *loc)
{
	memset(c, 0, sizeof(*c));
	c->method = "GET";
	c->kind = KG_CALL_STATUS_READ;
	snprintf(c->user_key, sizeof(c->user_key), "%s", loc);
	snprintf(c->path, sizeof(c->path), "/users/%s/identity-verification", loc);
	c->done = on_done;
}

/* kg_upstream_submit_here: with nothing in curl the calling thread runs the engine (a cached
 * answer is done before it returns, on the caller's thread); with a call in curl it hands over
 * to the engine thread like kg_upstream_submit, and both calls end as they would. */
START_TEST(submit_here_runs_the_idle_engine)
{
	struct kg_sim *sim = sim_start();
	struct kg_config *cfg = config("verification: {cache_ttl_ms: 60000}\n");
	struct kg_up_call c, slow, d;
	char base[64], err[128];
	struct kg_upstream *up;
	unsigned long long deadline;
	bool here = false;

	snprintf(base, sizeof(base), "http://127.0.0.1:%u", kg_sim_port(sim));
	up = kg_upstream_start(cfg, base, KEY, err, sizeof(err));
	ck_assert_msg(up != NULL, "%s", err);
	run_body(up, &c, "PUT", "/users/userId:here/legal-documents",
	         "{\"type\":\"crossmint-privacy-policy\",\"acceptedAt\":\"2025-01-01T00:00:00Z\"}");
	ck_assert_int_eq(c.status, 200);
	kg_up_call_cleanup(&c);

	read_of(&c, "userId:here"); /* sent from here, answered on the engine thread */
	w.done = 0;
	ck_assert_int_eq(kg_upstream_reserve(up, false), KG_OK);
	kg_upstream_submit_here(up, &c);
	wait_done(1);
	ck_assert_int_eq(c.result, KG_UP_OK);
	ck_assert_int_eq(c.status, 200);
	ck_assert(!c.cached);
	kg_up_call_cleanup(&c);

	/* Cached: done before submit_here returns, on this thread, once the engine thread has let
	 * go of the engine (it may still be finishing the last read: then the call is queued). */
	deadline = kg_now_ms() + 10000;
	while (!here && kg_now_ms() < deadline) {
		read_of(&c, "userId:here");
		w.done = 0;
		ck_assert_int_eq(kg_upstream_reserve(up, false), KG_OK);
		kg_upstream_submit_here(up, &c);
		pthread_mutex_lock(&w.lock);
		here = w.done == 1 && pthread_equal(done_thread, pthread_self());
		pthread_mutex_unlock(&w.lock);
		wait_done(1);
		ck_assert(c.cached);
		ck_assert_int_eq(c.status, 200);
		kg_up_call_cleanup(&c);
		if (!here)
			usleep(20 * 1000);
	}
	ck_assert(here);

	/* A call in curl: the next goes through the queue, its done on the engine thread. */
	memset(&slow, 0, sizeof(slow));
	slow.method = "GET";
	snprintf(slow.path, sizeof(slow.path), "/users/userId:sim-latency-2000");
	slow.done = on_done;
	w.done = 0;
	ck_assert_int_eq(kg_upstream_reserve(up, false), KG_OK);
	kg_upstream_submit_here(up, &slow);
	usleep(200 * 1000); /* in curl by now, even if it was queued: it lasts 2 s */
	read_of(&d, "userId:here");
	ck_assert_int_eq(kg_upstream_reserve(up, false), KG_OK);
	kg_upstream_submit_here(up, &d);
	wait_done(1);
	pthread_mutex_lock(&w.lock);
	ck_assert(!pthread_equal(done_thread, pthread_self()));
	pthread_mutex_unlock(&w.lock);
	ck_assert(d.cached);
	wait_done(2);
	ck_assert_int_eq(slow.result, KG_UP_OK);
	ck_assert_int_eq(slow.status, 404);
	kg_up_call_cleanup(&slow);
	kg_up_call_cleanup(&d);
	kg_upstream_free(up);
	kg_config_free(cfg);
	kg_sim_stop(sim);
}
END_TEST

/* A burst of several admission rounds (the engine admits 64 calls per round of its loop): every
 * call is sent and answered, those left in the queue after a round included, whether the burst
 * was handed over (kg_upstream_submit) or its last call found the engine idle and ran it on this
 * thread (kg_upstream_submit_here, which leaves the rest of a long queue to the engine thread). */
START_TEST(burst_of_several_rounds)
{
	enum { N = 300 };
	struct kg_sim *sim = sim_start();
	struct kg_config *cfg = config("");
	struct kg_up_call *calls = calloc(N, sizeof(*calls));
	char base[64], err[128];
	struct kg_upstream *up;
	int i;

	snprintf(base, sizeof(base), "http://127.0.0.1:%u", kg_sim_port(sim));
	up = kg_upstream_start(cfg, base, KEY, err, sizeof(err));
	ck_assert_msg(up != NULL, "%s", err);
	ck_assert_ptr_nonnull(calls);
	w.done = 0;
	for (i = 0; i < N; i++) {
		calls[i].method = "GET";
		snprintf(calls[i].path, sizeof(calls[i].path), "/users/userId:sim-latency-200");
		calls[i].done = on_done;
		ck_assert_int_eq(kg_upstream_reserve(up, false), KG_OK);
		if (i == N - 1)
			kg_upstream_submit_here(up, &calls[i]);
		else
			kg_upstream_submit(up, &calls[i]);
	}
	wait_done(N);
	for (i = 0; i < N; i++) {
		ck_assert_int_eq(calls[i].result, KG_UP_OK);
		ck_assert_int_eq(calls[i].status, 404);
		kg_up_call_cleanup(&calls[i]);
	}
	ck_assert_uint_eq(kg_upstream_inflight(up), 0);
	free(calls);
	kg_upstream_free(up);
	kg_config_free(cfg);
	kg_sim_stop(sim);
}
END_TEST

START_TEST(stop_with_calls_in_flight)
{
	enum { N = 200 }; /* more than an admission round: the queue's rest ends too */
	struct kg_sim *sim = sim_start();
	struct kg_config *cfg = config("");
	struct kg_up_call *calls = calloc(N, sizeof(*calls));
	char base[64], err[128];
	struct kg_upstream *up;
	int i;

	snprintf(base, sizeof(base), "http://127.0.0.1:%u", kg_sim_port(sim));
	up = kg_upstream_start(cfg, base, KEY, err, sizeof(err));
	w.done = 0;
	for (i = 0; i < N; i++) {
		calls[i].method = "GET";
		snprintf(calls[i].path, sizeof(calls[i].path), "/users/userId:sim-latency-5000");
		calls[i].done = on_done;
		ck_assert_int_eq(kg_upstream_reserve(up, false), KG_OK);
		kg_upstream_submit(up, &calls[i]);
	}
	usleep(200 * 1000);
	kg_upstream_free(up);
	ck_assert_int_eq(w.done, N);
	for (i = 0; i < N; i++) {
		ck_assert_int_eq(calls[i].result, KG_UP_SHUTDOWN);
		kg_up_call_cleanup(&calls[i]);
	}
	free(calls);
	kg_config_free(cfg);
	kg_sim_stop(sim);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("upstream");
	TCase *tc = tcase_create("upstream");
	int failed;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, answers_and_failures);
	tcase_add_test(tc, connect_refused);
	tcase_add_test(tc, error_text_cleaned);
	tcase_add_test(tc, response_cap_and_no_redirect);
	tcase_add_test(tc, inflight_cap);
	tcase_add_test(tc, through_the_proxy);
	tcase_add_test(tc, answer_longer_than_the_receive_buffer);
	tcase_add_test(tc, pooled_handle_keeps_nothing_of_the_last_call);
	tcase_add_test(tc, own_url_call);
	tcase_add_test(tc, stop_with_calls_in_flight);
	tcase_add_test(tc, burst_of_several_rounds);
	tcase_add_test(tc, flights_do_not_mix_across_a_write);
	tcase_add_test(tc, watch_poll_leaves_the_budget_share);
	tcase_add_test(tc, submit_here_runs_the_idle_engine);
	suite_add_tcase(s, tc);
	failed = kt_run_suite(s);
	curl_global_cleanup();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
