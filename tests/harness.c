/* Integration-test helpers: processes and HTTP on loopback. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <curl/curl.h>

#include "harness.h"

#define START_TIMEOUT_MS 10000
#define KT_LOG_TAIL 8192 /* bytes of a failed child's log that kt_stop prints */

char *kt_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, got;

	if (f == NULL)
		return NULL;
	do {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
	} while (got > 0);
	fclose(f);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

char *kt_read_log(const struct kt_proc *p)
{
	char *s = kt_slurp(p->log_path, NULL);

	return s ? s : strdup("");
}

/* Finds the port in the listening line of the child's log. */
char *kt_log_wait(const struct kt_proc *p, const char *needle, long deadline_ms)
{
	long long end = kt_now_ms() + deadline_ms;

	for (;;) {
		char *log = kt_read_log(p);

		if (strstr(log, needle) != NULL || kt_now_ms() >= end)
			return log;
		free(log);
		kt_sleep_ms(20);
	}
}

static unsigned find_port(const struct kt_proc *p, const char *event)
{
	char *log = kt_read_log(p), *at, *q;
	unsigned port = 0;

	at = strstr(log, event);
	if (at != NULL) {
		q = strstr(at, "\"port\":\"");
		if (q != NULL)
			port = (unsigned)strtoul(q + 8, NULL, 10);
		else if ((q = strstr(at, "127.0.0.1:")) != NULL)
			port = (unsigned)strtoul(q + 10, NULL, 10);
	}
	free(log);
	return port;
}

static void spawn(struct kt_proc *p, char *const argv[], const char *const *env, const char *event)
{
	int fd, i;
	struct timespec ts = {0, 10 * 1000 * 1000};

	snprintf(p->log_path, sizeof(p->log_path), "/tmp/kycgate-test-%d-XXXXXX", (int)getpid());
	fd = mkstemp(p->log_path);
	ck_assert_int_ge(fd, 0);
	p->pid = fork();
	ck_assert_int_ge(p->pid, 0);
	if (p->pid == 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		for (i = 0; env != NULL && env[i] != NULL; i++)
			putenv((char *)env[i]);
		execv(KG_BINARY, argv);
		_exit(127);
	}
	close(fd);
	for (i = 0; i < START_TIMEOUT_MS / 10; i++) {
		p->port = find_port(p, event);
		if (p->port != 0)
			return;
		if (waitpid(p->pid, NULL, WNOHANG) == p->pid)
			break;
		nanosleep(&ts, NULL);
	}
	{
		char *log = kt_read_log(p);

		ck_abort_msg("%s did not start; its output:\n%s", argv[1], log);
		free(log);
	}
}

void kt_start_simulator(struct kt_proc *p, const char *const *extra)
{
	char *argv[16] = {KG_BINARY, "simulator", "--listen", "127.0.0.1:0"};
	int n = 4;

	memset(p, 0, sizeof(*p));
	while (extra != NULL && *extra != NULL && n < 15)
		argv[n++] = (char *)*extra++;
	argv[n] = NULL;
	spawn(p, argv, NULL, "simulator-listening");
}

/* The gateway's start-up self-check (one read of a random unknown user) is sent after its
 * "listening" line: a test that counts upstream requests or in-flight slots would race with it.
 * Waits for its log line (written once the call ended), at most SELFCHECK_WAIT_MS: an upstream
 * that never answers is some tests' point, and they do not count on it. */
#define SELFCHECK_WAIT_MS 5000

static void wait_selfcheck(const struct kt_proc *p)
{
	struct timespec ts = {0, 10 * 1000 * 1000};
	char *log;
	bool seen;
	int i;

	for (i = 0; i < SELFCHECK_WAIT_MS / 10; i++) {
		log = kt_read_log(p);
		seen = log != NULL && strstr(log, "upstream-selfcheck") != NULL;
		free(log);
		if (seen)
			return;
		nanosleep(&ts, NULL);
	}
}

void kt_start_gateway(struct kt_proc *p, const char *yaml, unsigned sim_port,
                      const char *const *env)
{
	char *argv[] = {KG_BINARY, "--config", p->conf_path, NULL};
	char port[16];
	const char *at;
	FILE *f;
	int fd;

	memset(p, 0, sizeof(*p));
	argv[2] = p->conf_path;
	snprintf(p->conf_path, sizeof(p->conf_path), "/tmp/kycgate-conf-%d-XXXXXX", (int)getpid());
	fd = mkstemp(p->conf_path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	snprintf(port, sizeof(port), "%u", sim_port);
	for (at = yaml; *at != '\0'; at++) {
		if (strncmp(at, "@SIMPORT@", 9) == 0) {
			fputs(port, f);
			at += 8;
		} else {
			fputc(*at, f);
		}
	}
	/* Each gateway gets its own store file beside its config (removed by kt_stop), unless the
	 * test chose one: the default /var/lib/kycgate is no place for tests. */
	if (strstr(yaml, "\nstore:") == NULL && strncmp(yaml, "store:", 6) != 0)
		fprintf(f, "\nstore:\n  sqlite: {path: \"%s.db\"}\n", p->conf_path);
	fclose(f);
	spawn(p, argv, env, "\"listening\"");
	wait_selfcheck(p);
}

void kt_unlink_db(const char *path)
{
	static const char *const ext[] = {"", "-wal", "-shm"};
	char p[320];
	size_t i;

	for (i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", path, ext[i]);
		unlink(p);
	}
}

/* A child that did not exit 0 (a crash, an abort, a sanitizer's report, a hang) says how it ended
 * and shows the end of its log, which kt_stop deletes: a rare failure can then be diagnosed from
 * the test's output. */
static void report_end(const struct kt_proc *p, int status, bool killed)
{
	char *log = kt_read_log(p);
	size_t n = strlen(log), from = n > KT_LOG_TAIL ? n - KT_LOG_TAIL : 0;

	if (killed)
		fprintf(stderr, "kt_stop: pid %d did not exit after SIGTERM: killed\n",
		        (int)p->pid);
	else if (WIFSIGNALED(status))
		fprintf(stderr, "kt_stop: pid %d ended by signal %d\n", (int)p->pid,
		        WTERMSIG(status));
	else
		fprintf(stderr, "kt_stop: pid %d exited %d\n", (int)p->pid, WEXITSTATUS(status));
	fprintf(stderr, "--- the end of its log ---\n%s\n--- end ---\n", log + from);
	free(log);
}

/* Removes the store file kt_start_gateway chose for conf (and its WAL). */
static void unlink_store(const char *conf)
{
	char path[300];

	snprintf(path, sizeof(path), "%s.db", conf);
	kt_unlink_db(path);
}

int kt_stop(struct kt_proc *p)
{
	int status = 0, i;
	struct timespec ts = {0, 10 * 1000 * 1000};

	if (p->pid <= 0)
		return -1;
	kill(p->pid, SIGTERM);
	for (i = 0; i < 1500; i++) {
		if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				report_end(p, status, false);
			p->pid = 0;
			if (p->conf_path[0]) {
				unlink(p->conf_path);
				unlink_store(p->conf_path);
			}
			unlink(p->log_path);
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		}
		nanosleep(&ts, NULL);
	}
	report_end(p, 0, true);
	kill(p->pid, SIGKILL);
	waitpid(p->pid, &status, 0);
	p->pid = 0;
	return -1;
}

/* ---- HTTP ------------------------------------------------------------------------------------ */

struct sink {
	char *buf;
	size_t len;
};

static size_t on_data(char *d, size_t size, size_t n, void *u)
{
	struct sink *s = u;

	s->buf = realloc(s->buf, s->len + size * n + 1);
	memcpy(s->buf + s->len, d, size * n);
	s->len += size * n;
	s->buf[s->len] = '\0';
	return size * n;
}

static size_t on_hdr(char *d, size_t size, size_t n, void *u)
{
	char *h = u;
	size_t used = strlen(h);

	if (strncmp(d, "HTTP/", 5) == 0)
		used = 0; /* keep the last response's block */
	if (used + size * n + 1 < 8192) {
		memcpy(h + used, d, size * n);
		h[used + size * n] = '\0';
	}
	return size * n;
}

CURLcode kt_http_try(unsigned port, const char *method, const char *target,
                     const char *const *headers, const void *body, size_t len, struct kt_resp *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hl = curl_slist_append(NULL, "Expect:");
	struct sink s = {NULL, 0};
	char url[4096];
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, target);
	while (headers != NULL && *headers != NULL)
		hl = curl_slist_append(hl, *headers++);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_hdr);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r->headers);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	}
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	r->body = s.buf ? s.buf : strdup("");
	r->len = s.len;
	r->json = json_tokener_parse(r->body);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	return rc;
}

void kt_http(unsigned port, const char *method, const char *target, const char *const *headers,
             const void *body, size_t len, struct kt_resp *r)
{
	CURLcode rc = kt_http_try(port, method, target, headers, body, len, r);

	ck_assert_msg(rc == CURLE_OK, "%s %s: %s", method, target, curl_easy_strerror(rc));
}

void kt_resp_free(struct kt_resp *r)
{
	free(r->body);
	json_object_put(r->json);
	memset(r, 0, sizeof(*r));
}

bool kt_header(const struct kt_resp *r, const char *name, char *out, size_t cap)
{
	const char *line = r->headers;
	size_t n = strlen(name);

	while (line != NULL && *line != '\0') {
		if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
			const char *v = line + n + 1, *end = strpbrk(v, "\r\n");

			while (*v == ' ')
				v++;
			snprintf(out, cap, "%.*s", (int)(end ? end - v : (long)strlen(v)), v);
			return true;
		}
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	return false;
}

char *kt_raw(unsigned port, const char *bytes, size_t len, int timeout_ms)
{
	return kt_raw_shut(port, bytes, len, false, timeout_ms);
}

char *kt_raw_shut(unsigned port, const char *bytes, size_t len, bool shut, int timeout_ms)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct pollfd pfd;
	struct sink s = {NULL, 0};
	char buf[4096];
	ssize_t n;

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(write(fd, bytes, len), (ssize_t)len);
	if (shut)
		shutdown(fd, SHUT_WR);
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (poll(&pfd, 1, timeout_ms) > 0) {
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		on_data(buf, 1, (size_t)n, &s);
	}
	close(fd);
	return s.buf ? s.buf : strdup("");
}

struct json_object *kt_sim_requests(unsigned sim_port)
{
	struct kt_resp r;
	struct json_object *arr = NULL;

	kt_http(sim_port, "GET", "/_simulator/requests", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(r.json);
	if (json_object_object_get_ex(r.json, "requests", &arr))
		json_object_get(arr);
	kt_resp_free(&r);
	ck_assert_ptr_nonnull(arr);
	return arr;
}

int kt_sim_count(unsigned sim_port, const char *method, const char *target)
{
	struct json_object *reqs = kt_sim_requests(sim_port);
	size_t i;
	int n = 0;

	for (i = 0; i < json_object_array_length(reqs); i++) {
		struct json_object *o = json_object_array_get_idx(reqs, i);

		n += strcmp(kt_str(o, "method"), method) == 0 &&
		     strcmp(kt_str(o, "target"), target) == 0;
	}
	json_object_put(reqs);
	return n;
}

void kt_sim_clear(unsigned sim_port)
{
	struct kt_resp r;

	kt_http(sim_port, "DELETE", "/_simulator/requests", NULL, NULL, 0, &r);
	ck_assert_int_lt(r.status, 300);
	kt_resp_free(&r);
}

const char *kt_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int kt_run(const char *const *argv, char **out)
{
	char path[64] = "/tmp/kycgate-run-XXXXXX";
	char *args[16];
	int fd = mkstemp(path), status = 0, i;
	pid_t pid;

	ck_assert_int_ge(fd, 0);
	args[0] = KG_BINARY;
	for (i = 1; argv[i] != NULL && i < 15; i++)
		args[i] = (char *)argv[i];
	args[i] = NULL;
	pid = fork();
	if (pid == 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		execv(KG_BINARY, args);
		_exit(127);
	}
	close(fd);
	waitpid(pid, &status, 0);
	*out = kt_slurp(path, NULL);
	unlink(path);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

double kt_sample(const char *page, const char *sample)
{
	size_t n = strlen(sample);
	const char *line = page;

	while (line != NULL && *line != '\0') {
		if (strncmp(line, sample, n) == 0 && line[n] == ' ')
			return strtod(line + n + 1, NULL);
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	return -1;
}

int kt_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed;
}

/* The body of a transfer that got no answer: curl's reason, in parentheses. */
static void transfer_failed(CURL *easy, CURLcode rc)
{
	struct sink *s = NULL;
	char text[160];
	int len;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&s);
	if (s == NULL || s->buf != NULL)
		return;
	len = snprintf(text, sizeof(text), "(client: %s)", curl_easy_strerror(rc));
	s->buf = strdup(text);
	s->len = s->buf != NULL ? (size_t)len : 0;
}

void kt_concurrent_get(unsigned port, const char *target, const char *header, int n,
                       struct kt_resp *out)
{
	CURLM *m = curl_multi_init();
	CURL **e = calloc((size_t)n, sizeof(*e));
	struct sink *sinks = calloc((size_t)n, sizeof(*sinks));
	struct curl_slist *h = header ? curl_slist_append(NULL, header) : NULL;
	struct rlimit rl;
	char url[512];
	int running = 1, i;

	ck_assert(m != NULL && e != NULL && sinks != NULL);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, target);
	for (i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		e[i] = curl_easy_init();
		curl_easy_setopt(e[i], CURLOPT_URL, url);
		curl_easy_setopt(e[i], CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(e[i], CURLOPT_PROXY, "");
		curl_easy_setopt(e[i], CURLOPT_TIMEOUT_MS, 30000L);
		curl_easy_setopt(e[i], CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(e[i], CURLOPT_WRITEDATA, &sinks[i]);
		curl_easy_setopt(e[i], CURLOPT_HEADERFUNCTION, on_hdr);
		curl_easy_setopt(e[i], CURLOPT_HEADERDATA, out[i].headers);
		curl_easy_setopt(e[i], CURLOPT_PRIVATE, &sinks[i]);
		curl_multi_add_handle(m, e[i]);
	}
	while (running) {
		CURLMsg *msg;
		int left;

		curl_multi_perform(m, &running);
		/* A transfer that failed (status 0) says why in its body: a failed run's message
		 * then tells the client's own timeout from the gateway's answers. */
		while ((msg = curl_multi_info_read(m, &left)) != NULL)
			if (msg->msg == CURLMSG_DONE && msg->data.result != CURLE_OK)
				transfer_failed(msg->easy_handle, msg->data.result);
		curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	for (i = 0; i < n; i++) {
		curl_easy_getinfo(e[i], CURLINFO_RESPONSE_CODE, &out[i].status);
		out[i].body = sinks[i].buf ? sinks[i].buf : strdup("");
		out[i].len = sinks[i].len;
		out[i].json = json_tokener_parse(out[i].body);
		curl_multi_remove_handle(m, e[i]);
		curl_easy_cleanup(e[i]);
	}
	curl_slist_free_all(h);
	curl_multi_cleanup(m);
	free(sinks);
	free(e);
}

long long kt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void kt_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* One PUT of kt_make_reviewable_user with its expected status. */
static void put_expect(unsigned port, const char *auth, const char *ctype, const char *target,
                       const char *body, size_t len, long status)
{
	const char *const h[] = {auth, ctype, NULL};
	struct kt_resp r;

	kt_http(port, "PUT", target, h, body, len, &r);
	ck_assert_msg(r.status == status, "PUT %s: %ld %s", target, r.status, r.body);
	kt_resp_free(&r);
}

void kt_expect(unsigned port, const char *method, const char *target, const char *auth,
               const char *ctype, const void *body, size_t len, long status, struct kt_resp *out)
{
	const char *const h[] = {auth != NULL ? auth : ctype, auth != NULL ? ctype : NULL, NULL};
	struct kt_resp r;

	kt_http(port, method, target, h, body, len, &r);
	ck_assert_msg(r.status == status, "%s %s: %ld, wanted %ld: %s", method, target, r.status,
	              status, r.body);
	if (out != NULL)
		*out = r;
	else
		kt_resp_free(&r);
}

void kt_make_reviewable_user(unsigned port, const char *auth, const char *loc, const char *cc)
{
	static const char jpeg[] = "\xff\xd8\xff\xe0"
	                           "0123456789abcdef";
	static const char consent[] =
	    "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-06-01T12:00:00Z\"}";
	static const char json[] = "Content-Type: application/json",
	                  image[] = "Content-Type: image/jpeg";
	char body[2048], t[320];

	snprintf(body, sizeof(body),
	         "{\"userDetails\":{\"firstName\":\"Alice\",\"lastName\":\"Martin\","
	         "\"dateOfBirth\":\"1990-01-15\",\"countryOfResidence\":\"%s\"},"
	         "\"kycData\":{\"nationality\":\"%s\",\"addressOfResidence\":{\"line1\":\"Main "
	         "1\",\"city\":\"Town\",\"postalCode\":\"10115\"},\"email\":\"a@example.com\","
	         "\"identityDocument\":{\"type\":\"passport\",\"number\":\"C01X00T47\","
	         "\"issuingCountryCode\":\"%s\"}},"
	         "\"dueDiligence\":{\"employmentStatus\":\"full-time\",\"sourceOfFunds\":"
	         "\"salary\",\"industry\":\"software\"},"
	         "\"verificationHistory\":{\"idVerificationTimestamp\":\"2026-01-15T10:30:00Z\","
	         "\"livenessVerificationTimestamp\":\"2026-01-15T10:32:00Z\"}}",
	         cc, cc, cc);
	snprintf(t, sizeof(t), "/v1/users/%s", loc);
	put_expect(port, auth, json, t, body, strlen(body), 201);
	snprintf(t, sizeof(t), "/v1/users/%s/consent", loc);
	put_expect(port, auth, json, t, consent, strlen(consent), 200);
	snprintf(t, sizeof(t), "/v1/users/%s/documents/id-passport", loc);
	put_expect(port, auth, image, t, jpeg, sizeof(jpeg) - 1, 201);
	snprintf(t, sizeof(t), "/v1/users/%s/documents/selfie-front", loc);
	put_expect(port, auth, image, t, jpeg, sizeof(jpeg) - 1, 201);
}
