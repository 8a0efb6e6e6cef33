/* Integration (issue 12 item 9): a soak. For KG_SOAK_SECONDS (180 by default) several client
 * threads send mixed traffic to one gateway in front of the standalone simulator: every /v1 route
 * through a whole KYC flow, the local routes, the simulator's fault locators, hostile input
 * (refused framing, oversized bodies, bad JSON, a NUL in the target ...), and clients that hang
 * up mid-body, mid-upstream call and mid-long-poll; meanwhile the config file is edited and the
 * gateway gets SIGHUP every few seconds. Asserted:
 *   - every answer's status is in the set the README allows for that request, and every error
 *     is a problem document;
 *   - no crash: the gateway and the simulator exit 0 at the end (under the sanitizers, that is
 *     also "no leak report");
 *   - every reload succeeded, and the gateway logged no error but Crossmint's 401 / 403;
 *   - the gateway's and the simulator's open descriptors come back to their starting count once
 *     idle, plus at most crossmint.max_connections (the engine's idle keep-alive connections to
 *     Crossmint, which curl keeps on purpose; the simulator sees the same connections);
 *   - the gateway's RSS grows by less than 10% between the end of the first third and the end
 *     (skipped under AddressSanitizer, whose quarantine holds freed memory and grows RSS).
 * No timing is asserted: the machine is shared. Labelled `soak` (not run by scripts/test.sh;
 * .ci/run runs it as its own step). */
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "harness.h"

#define KEY "sk_staging_soak0123456789abcdef"
#define WRITER "Authorization: Bearer soak-writer-token-0123456789abcdef"
#define READER "Authorization: Bearer soak-reader-token-0123456789abcdef"
#define LIMITED "Authorization: Bearer soak-limited-token-0123456789abcdef"
#define CT_JSON "Content-Type: application/json"
#define CONSENT "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-06-01T12:00:00Z\"}"

#define WORKERS 4        /* clients going through the whole mix */
#define FAST 2           /* clients sending quick requests on one connection */
#define UPSTREAM_CONNS 8 /* crossmint.max_connections below: the fd allowance */
#define MAX_FAILS 20     /* failure messages kept */

/* The config: %u is the simulator's port, %d verification.cache_ttl_ms and the last %u the
 * limited client's requests_per_minute (both changed by the reloads). The breaker is out of reach,
 * so that each request has a precise set of statuses (an open breaker would make every upstream
 * route also answer 503); test_it_resilience.c covers it. */
static const char conf_fmt[] = "server:\n"
                               "  listen: \"127.0.0.1:0\"\n"
                               "  threads: 2\n"
                               "  drain_delay_s: 0\n"
                               "  shutdown_grace_s: 1\n"
                               "  max_document_bytes: 1048576\n"
                               "crossmint:\n"
                               "  environment: staging\n"
                               "  base_url: \"http://127.0.0.1:%u\"\n"
                               "  api_key: \"" KEY "\"\n"
                               /* far above what a starved CI machine adds to a fast answer,
                                * well below sim-latency-5000 */
                               "  timeout_ms: 3500\n"
                               "  max_connections: 8\n"
                               "  rate_limit: {writes_per_minute: 0, reads_per_minute: 0}\n"
                               "  retry: {base_delay_ms: 20, max_delay_ms: 100}\n"
                               "  circuit_breaker: {failure_threshold: 1000}\n"
                               "verification:\n"
                               "  cache_ttl_ms: %d\n"
                               "  max_wait_s: 5\n"
                               "auth:\n"
                               "  mode: tokens\n"
                               "  clients:\n"
                               "    - name: writer\n"
                               "      token: \"soak-writer-token-0123456789abcdef\"\n"
                               "      scopes: [users.create, users.read]\n"
                               "    - name: reader\n"
                               "      token: \"soak-reader-token-0123456789abcdef\"\n"
                               "      scopes: [users.read]\n"
                               "    - name: limited\n"
                               "      token: \"soak-limited-token-0123456789abcdef\"\n"
                               "      scopes: [users.read]\n"
                               "      requests_per_minute: %u\n"
                               "log:\n"
                               "  format: json\n"
                               "  level: info\n"
                               "  locator_hash_key: \"soak-locator-hash-key-0123456789abcdef\"\n";

static const char eu_user[] =
    "{\"userDetails\":{\"firstName\":\"Alice\",\"lastName\":\"Martin\","
    "\"dateOfBirth\":\"1990-01-15\",\"countryOfResidence\":\"DE\"},"
    "\"kycData\":{\"nationality\":\"DE\",\"addressOfResidence\":{\"line1\":\"Hauptstr. 1\","
    "\"city\":\"Berlin\",\"postalCode\":\"10115\"},\"email\":\"alice@example.com\","
    "\"identityDocument\":{\"type\":\"passport\",\"number\":\"C01X00T47\","
    "\"issuingCountryCode\":\"DE\"}},"
    "\"dueDiligence\":{\"employmentStatus\":\"full-time\",\"sourceOfFunds\":\"salary\","
    "\"industry\":\"software\"},"
    "\"verificationHistory\":{\"idVerificationTimestamp\":\"2026-01-15T10:30:00Z\","
    "\"livenessVerificationTimestamp\":\"2026-01-15T10:32:00Z\"}}";
static const char details_only[] =
    "{\"userDetails\":{\"firstName\":\"Alice\",\"lastName\":\"Martin\","
    "\"dateOfBirth\":\"1990-01-15\",\"countryOfResidence\":\"DE\"}}";
static const char jpeg[] = "\xff\xd8\xff\xe0"
                           "0123456789abcdef";
/* "\x89PNG\r\n\x1a\n0123456789abcdef" in base64 */
static const char selfie_json[] = "{\"data\":\"iVBORw0KGgowMTIzNDU2Nzg5YWJjZGVm\"}";

/* ---- shared state ------------------------------------------------------------------------- */

static unsigned gw_port;
static atomic_bool stopping;
static atomic_long n_requests, n_bad;
static atomic_uint fault_next, hostile_next, raw_next, cut_next;
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static char fails[MAX_FAILS][512];
static int n_fails;

__attribute__((format(printf, 1, 2))) static void record_fail(const char *fmt, ...)
{
	va_list ap;

	atomic_fetch_add(&n_bad, 1);
	pthread_mutex_lock(&fail_lock);
	if (n_fails < MAX_FAILS) {
		va_start(ap, fmt);
		vsnprintf(fails[n_fails++], sizeof(fails[0]), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&fail_lock);
}

/* Checks status against a 0-terminated set of allowed statuses. */
static bool expect(long status, const long *allowed, const char *method, const char *target,
                   const char *body)
{
	const long *a;
	char set[128] = "";
	size_t n = 0;

	atomic_fetch_add(&n_requests, 1);
	for (a = allowed; *a != 0; a++) {
		if (*a == status)
			return true;
		n += (size_t)snprintf(set + n, sizeof(set) - n, " %ld", *a);
		if (n >= sizeof(set))
			n = sizeof(set) - 1;
	}
	record_fail("%s %s: %ld, allowed{%s }: %.200s", method, target, status, set,
	            body ? body : "");
	return false;
}

#define S(...) ((const long[]){__VA_ARGS__, 0})
#define ARRAY_N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- HTTP through curl -------------------------------------------------------------------- */

struct sink {
	char *buf;
	size_t len;
};

static size_t on_data(char *d, size_t size, size_t n, void *u)
{
	struct sink *s = u;
	char *b = realloc(s->buf, s->len + size * n + 1);

	if (b == NULL)
		return 0;
	s->buf = b;
	memcpy(s->buf + s->len, d, size * n);
	s->len += size * n;
	s->buf[s->len] = '\0';
	return size * n;
}

struct worker {
	int idx;
	CURL *c; /* kept: its connection is reused across requests */
	unsigned iter;
};

/* One exchange on the worker's handle (a fresh connection when fresh); checks the status against
 * allowed (0 when the transfer failed, which is never allowed) and that an error is a problem
 * document. Returns the status, and the body in *out when out is not NULL. */
static long req(struct worker *w, bool fresh, const char *method, const char *target,
                const char *const *hdrs, const void *body, size_t len, const long *allowed,
                char **out)
{
	struct curl_slist *hl = curl_slist_append(NULL, "Expect:");
	struct sink s = {NULL, 0};
	char url[1024];
	long status = 0;
	CURLcode rc;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", gw_port, target);
	while (hdrs != NULL && *hdrs != NULL)
		hl = curl_slist_append(hl, *hdrs++);
	curl_easy_reset(w->c);
	curl_easy_setopt(w->c, CURLOPT_URL, url);
	curl_easy_setopt(w->c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(w->c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(w->c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(w->c, CURLOPT_PROXY, "");
	curl_easy_setopt(w->c, CURLOPT_TIMEOUT_MS, 30000L);
	curl_easy_setopt(w->c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(w->c, CURLOPT_FRESH_CONNECT, fresh ? 1L : 0L);
	curl_easy_setopt(w->c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(w->c, CURLOPT_WRITEDATA, &s);
	if (body != NULL) {
		curl_easy_setopt(w->c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		curl_easy_setopt(w->c, CURLOPT_POSTFIELDS, body);
	}
	rc = curl_easy_perform(w->c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(w->c, CURLINFO_RESPONSE_CODE, &status);
	if (expect(status, allowed, method, target,
	           rc == CURLE_OK ? s.buf : curl_easy_strerror(rc)) &&
	    status >= 400 && (s.buf == NULL || strstr(s.buf, "\"urn:kycgate:problem:") == NULL))
		record_fail("%s %s: %ld without a problem body: %.200s", method, target, status,
		            s.buf ? s.buf : "");
	curl_slist_free_all(hl);
	if (out != NULL)
		*out = s.buf ? s.buf : strdup("");
	else
		free(s.buf);
	return status;
}

/* ---- raw sockets: refused framing and clients that hang up -------------------------------- */

static int raw_connect(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)gw_port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		record_fail("connect: %s", strerror(errno));
	return fd;
}

/* Sends bytes, waits pause_ms, then closes: with reset, by RST (SO_LINGER 0). */
static void hang_up(const char *bytes, size_t len, long pause_ms, bool reset)
{
	int fd = raw_connect();
	struct linger lg = {1, 0};

	if (fd < 0)
		return;
	atomic_fetch_add(&n_requests, 1);
	if (send(fd, bytes, len, MSG_NOSIGNAL) != (ssize_t)len)
		record_fail("hang_up: send: %s", strerror(errno));
	kt_sleep_ms(pause_ms);
	if (reset)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* A raw request whose answer must start with status_line (kt_raw asserts, which only the test's
 * own thread may do). */
static void raw_expect(const char *name, const char *bytes, size_t len, const char *status_line)
{
	int fd = raw_connect();
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	char out[512];
	size_t got = 0;
	ssize_t n;

	if (fd < 0)
		return;
	atomic_fetch_add(&n_requests, 1);
	if (send(fd, bytes, len, MSG_NOSIGNAL) != (ssize_t)len)
		record_fail("raw %s: send: %s", name, strerror(errno));
	/* the status line is enough */
	while (got < strlen(status_line) && poll(&pfd, 1, 10000) > 0) {
		n = read(fd, out + got, sizeof(out) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	out[got] = '\0';
	close(fd);
	if (strncmp(out, status_line, strlen(status_line)) != 0)
		record_fail("raw %s: wanted %s, got %.200s", name, status_line, out);
}

/* ---- the traffic -------------------------------------------------------------------------- */

struct fault {
	const char *method, *target, *body;
	const long *allowed;
	const char *ctype; /* NULL: JSON when there is a body */
};

/* Fault locators, each through a route that reaches the simulator, with the README's mapping
 * ("When Crossmint misbehaves"): retried kinds that keep failing end as their last attempt's
 * answer. None of these users exists (but sim-noeligibility, which its consent creates), so a
 * call that gets through is Crossmint's 404. */
static const struct fault faults[] = {
    {"GET", "/v1/users/userId:sim-status-500", NULL, S(502), NULL},
    {"GET", "/v1/users/userId:sim-status-503/verification", NULL, S(502), NULL},
    {"GET", "/v1/users/userId:sim-status-404", NULL, S(404), NULL},
    {"GET", "/v1/users/userId:sim-status-422/verification", NULL, S(422), NULL},
    {"GET", "/v1/users/userId:sim-status-400", NULL, S(400), NULL},
    {"GET", "/v1/users/userId:sim-status-401", NULL, S(502), NULL},
    {"GET", "/v1/users/userId:sim-status-403/verification", NULL, S(502), NULL},
    {"GET", "/v1/users/userId:sim-status-408", NULL, S(504), NULL},
    {"GET", "/v1/users/userId:sim-status-429/verification", NULL, S(429), NULL},
    {"GET", "/v1/users/userId:sim-status-302", NULL, S(502), NULL},
    {"GET", "/v1/users/userId:sim-malformed/verification", NULL, S(502), NULL},
    {"GET", "/v1/users/userId:sim-reset", NULL, S(502), NULL},
    {"GET", "/v1/users/userId:sim-ratelimit/verification", NULL, S(429), NULL},
    {"GET", "/v1/users/userId:sim-latency-5000", NULL, S(504), NULL},
    {"GET", "/v1/users/userId:sim-latency-200/verification", NULL, S(404), NULL},
    /* two failures in all, three attempts per call: always hidden */
    {"GET", "/v1/users/userId:sim-flaky-2", NULL, S(404), NULL},
    /* nine failures in all: the first calls fail, the later ones get through */
    {"GET", "/v1/users/userId:sim-flaky-9/verification", NULL, S(502, 404), NULL},
    {"PUT", "/v1/users/userId:sim-status-503/consent", CONSENT, S(502), NULL},
    {"PUT", "/v1/users/userId:sim-reset/consent", CONSENT, S(502), NULL},
    {"PUT", "/v1/users/userId:sim-noeligibility/consent", CONSENT, S(200), NULL},
    {"POST", "/v1/users/userId:sim-noeligibility/verification", NULL, S(200), NULL},
    {"POST", "/v1/users/userId:sim-reset/verification", NULL, S(502), NULL},
    {"POST", "/v1/users/userId:sim-status-503/verification", NULL, S(502), NULL},
    {"POST", "/v1/users/userId:sim-latency-5000/verification", NULL, S(504), NULL},
    {"PUT", "/v1/users/userId:sim-status-500", NULL, S(502), NULL}, /* body: details_only */
    {"PUT", "/v1/users/userId:sim-status-404/wallets/0xabc", "{\"chain\":\"base\"}", S(404), NULL},
    {"DELETE", "/v1/users/userId:sim-status-502/wallets/0xabc", NULL, S(502), NULL},
    /* Crossmint's 504 is one of its 5xx (502); only its 408 and our own deadline are 504 */
    {"GET", "/v1/users/userId:sim-status-504/wallets/0xabc", NULL, S(502), NULL},
    {"GET", "/v1/documents/sim-unknown-document", NULL, S(404), NULL},
    /* an upload is not retried on 500; the locator is in the body sent upstream */
    {"PUT", "/v1/users/userId:sim-status-500/documents/id-passport", jpeg, S(502), "image/jpeg"},
    {"PUT", "/v1/users/userId:sim-latency-5000/documents/selfie-front", selfie_json, S(504), NULL},
};

static void send_fault(struct worker *w)
{
	const struct fault *f = &faults[atomic_fetch_add(&fault_next, 1) % ARRAY_N(faults)];
	char ct[64];
	const char *const wj[] = {WRITER, ct, NULL};
	const char *const rd[] = {READER, NULL};
	const char *body = f->body;

	snprintf(ct, sizeof(ct), "Content-Type: %s", f->ctype ? f->ctype : "application/json");
	if (strcmp(f->method, "PUT") == 0 && body == NULL)
		body = details_only;
	req(w, w->iter % 2 == 0, f->method, f->target, strcmp(f->method, "GET") ? wj : rd, body,
	    body == jpeg ? sizeof(jpeg) - 1
	    : body       ? strlen(body)
	                 : 0,
	    f->allowed, NULL);
}

/* Hostile input refused before anything goes upstream (test_it_hostile.c has the details). */
struct hostile {
	const char *method, *target, *ctype, *auth, *body;
	long status;
};

static const struct hostile hostiles[] = {
    {"PUT", "/v1/users/userId:soak-h", "application/json", WRITER, "{\"userDetails\":", 400},
    {"PUT", "/v1/users/userId:soak-h", "application/json", WRITER, "{}", 400},
    {"PUT", "/v1/users/userId:soak-h", "application/json", WRITER, "{\"kycData\":{},}", 400},
    {"PUT", "/v1/users/userId:soak-h/wallets/0xabc", "application/json", WRITER,
     "{\"chain\":\"base\",\"n\":1e999999999}", 400},
    {"GET", "/v1/users/userId:a%00b", NULL, READER, NULL, 400},
    {"GET", "/v1/users/%2e%2e%2f%2e%2e%2fadmin", NULL, READER, NULL, 400},
    {"GET", "/v1/users/userId:%ff%fe/verification", NULL, READER, NULL, 400},
    {"GET", "/v1/users/userId:soak-h?debug=1", NULL, READER, NULL, 400},
    {"GET", "/v1/users/userId:soak-h/verification?products=moon", NULL, READER, NULL, 400},
    {"GET", "/v1/users/userId:soak-h/verification?wait=x", NULL, READER, NULL, 400},
    {"GET", "/v1/users/userId:soak-h", NULL, NULL, NULL, 401},
    {"GET", "/v1/users/userId:soak-h", NULL, "Authorization: Bearer not-a-known-token-0000000",
     NULL, 401},
    {"PUT", "/v1/users/userId:soak-h", "application/json", READER, "{}", 403},
    {"GET", "/v1/nothing", NULL, READER, NULL, 404},
    {"PATCH", "/v1/users/userId:soak-h", NULL, WRITER, NULL, 405},
    {"PUT", "/v1/users/userId:soak-h", "text/plain", WRITER, "{}", 415},
    {"PUT", "/v1/users/userId:soak-h/documents/id-passport", "image/png", WRITER,
     "\xff\xd8\xff\xe0xx", 415},
    {"PUT", "/v1/users/userId:soak-h/documents/id-ssn", "image/jpeg", WRITER, "\xff\xd8\xff\xe0xx",
     400},
};

static void send_hostile(struct worker *w)
{
	unsigned i = atomic_fetch_add(&hostile_next, 1) % (ARRAY_N(hostiles) + 1);
	const struct hostile *h = &hostiles[i < ARRAY_N(hostiles) ? i : 0];
	const char *hdrs[3] = {NULL};
	char ct[64];
	int n = 0;

	if (i == ARRAY_N(hostiles)) {
		/* A chunked body over max_body_bytes: read and refused. */
		const char *const big[] = {WRITER, CT_JSON, "Transfer-Encoding: chunked", NULL};
		size_t len = 2 * 1024 * 1024;
		char *body = malloc(len);

		if (body == NULL)
			return;
		memset(body, ' ', len);
		body[0] = '{';
		body[len - 1] = '}';
		req(w, false, "PUT", "/v1/users/userId:soak-h", big, body, len, S(413), NULL);
		free(body);
		return;
	}
	if (h->ctype != NULL) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", h->ctype);
		hdrs[n++] = ct;
	}
	if (h->auth != NULL)
		hdrs[n++] = h->auth;
	req(w, false, h->method, h->target, hdrs, h->body, h->body ? strlen(h->body) : 0,
	    (const long[]){h->status, 0}, NULL);
}

#define PUT_HEAD                                                                                   \
	"PUT /v1/users/userId:soak-raw HTTP/1.1\r\nHost: x\r\n"                                    \
	"Authorization: Bearer soak-writer-token-0123456789abcdef\r\n"                             \
	"Content-Type: application/json\r\n"
#define GET_TAIL                                                                                   \
	" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer soak-reader-token-0123456789abcdef\r\n\r\n"
#define NUL_TARGET "GET /v1/users/userId:a\0/verification" GET_TAIL

struct raw {
	const char *name, *bytes;
	size_t len; /* 0: strlen */
	const char *status_line;
};

static const struct raw raws[] = {
    {"two Content-Length", PUT_HEAD "Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}", 0,
     "HTTP/1.1 400"},
    {"Content-Length and chunked",
     PUT_HEAD "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 0,
     "HTTP/1.1 400"},
    {"folded Content-Length", PUT_HEAD "Content-Length:\r\n 2\r\n\r\n{}", 0, "HTTP/1.1 400"},
    {"Content-Length +2", PUT_HEAD "Content-Length: +2\r\n\r\n{}", 0, "HTTP/1.1 400"},
    {"NUL in the target", NUL_TARGET, sizeof(NUL_TARGET) - 1, "HTTP/1.1 400"},
    {"space in the target", "GET /v1/users/userId:a b/verification" GET_TAIL, 0, "HTTP/1.1 400"},
    {"50 MB announced", PUT_HEAD "Content-Length: 52428800\r\n\r\n", 0, "HTTP/1.1 413"},
};

static void send_raw(void)
{
	const struct raw *r = &raws[atomic_fetch_add(&raw_next, 1) % ARRAY_N(raws)];

	raw_expect(r->name, r->bytes, r->len ? r->len : strlen(r->bytes), r->status_line);
}

/* A client that hangs up: mid-body, while its call is upstream (a slow locator), or while it
 * waits on a user in review (loc). */
static void send_cut(const char *loc)
{
	unsigned k = atomic_fetch_add(&cut_next, 1);
	char head[512];
	int n;

	switch (k % 3) {
	case 0:
		n = snprintf(head, sizeof(head),
		             PUT_HEAD "Content-Length: 500\r\n\r\n{\"userDetails\"");
		break;
	case 1:
		n = snprintf(head, sizeof(head), "GET /v1/users/userId:sim-latency-1500" GET_TAIL);
		break;
	default:
		n = snprintf(head, sizeof(head), "GET /v1/users/%s/verification?wait=5" GET_TAIL,
		             loc);
		break;
	}
	hang_up(head, (size_t)n, 100 + (long)(k % 4) * 50, k % 2 == 1);
}

/* The id of a document answer (new string), or NULL. */
static char *doc_id(const char *body)
{
	struct json_object *o = json_tokener_parse(body);
	const char *id = kt_str(o, "id");
	char *copy = id ? strdup(id) : NULL;

	json_object_put(o);
	return copy;
}

/* One user through every /v1 route, in the order of a real integration. */
static void flow(struct worker *w, const char *loc)
{
	const char *const wj[] = {WRITER, CT_JSON, NULL};
	const char *const wjpeg[] = {WRITER, "Content-Type: image/jpeg", NULL};
	const char *const wr[] = {WRITER, NULL};
	const char *const rd[] = {READER, NULL};
	char t[512], *body = NULL, *id;
	bool fresh = w->iter % 3 == 0;

	snprintf(t, sizeof(t), "/v1/users/%s/consent", loc);
	req(w, fresh, "PUT", t, wj, CONSENT, strlen(CONSENT), S(200), NULL);
	snprintf(t, sizeof(t), "/v1/users/%s", loc);
	req(w, false, "PUT", t, wj, eu_user, strlen(eu_user), S(200), NULL);
	req(w, false, "PUT", t, wj, details_only, strlen(details_only), S(409), NULL);
	req(w, fresh, "GET", t, rd, NULL, 0, S(200), NULL);
	snprintf(t, sizeof(t), "/v1/users/%s/documents/id-passport?expiresAt=2031-01-01", loc);
	req(w, false, "PUT", t, wjpeg, jpeg, sizeof(jpeg) - 1, S(201), &body);
	id = doc_id(body);
	free(body);
	snprintf(t, sizeof(t), "/v1/users/%s/documents/selfie-front", loc);
	req(w, false, "PUT", t, wj, selfie_json, strlen(selfie_json), S(201), NULL);
	if (id != NULL) {
		snprintf(t, sizeof(t), "/v1/documents/%s", id);
		req(w, fresh, "GET", t, rd, NULL, 0, S(200), NULL);
		free(id);
	}
	snprintf(t, sizeof(t), "/v1/users/%s/verification", loc);
	req(w, false, "POST", t, wr, NULL, 0, S(200), NULL);
	if (w->iter % 2 == 0)
		send_cut(loc);
	snprintf(t, sizeof(t), "/v1/users/%s/verification?wait=%u&country=DE", loc, w->iter % 4);
	req(w, false, "GET", t, rd, NULL, 0, S(200), NULL);
	snprintf(t, sizeof(t), "/v1/users/%s/wallets/0xAbC%u", loc, w->iter);
	req(w, false, "PUT", t, wj, "{\"chain\":\"base-sepolia\"}", 24, S(200), NULL);
	req(w, fresh, "GET", t, rd, NULL, 0, S(200), NULL);
	req(w, false, "DELETE", t, wr, NULL, 0, S(204), NULL);
	req(w, false, "GET", t, rd, NULL, 0, S(404), NULL);
}

static void send_local(struct worker *w)
{
	static const char *const paths[] = {"/healthz", "/readyz", "/metrics", "/openapi.yaml"};

	req(w, w->iter % 2 == 1, "GET", paths[w->iter % ARRAY_N(paths)], NULL, NULL, 0, S(200),
	    NULL);
}

/* A fast client: quick answers on one kept-alive connection, paced (status reads that the cache,
 * toggled by the reloads, may serve; a local route; a refusal), for volume. */
static void *fast_main(void *arg)
{
	struct worker *w = arg;
	const char *const wj[] = {WRITER, CT_JSON, NULL};
	const char *const rd[] = {READER, NULL};
	char user[96], status[128], consent[128];

	w->c = curl_easy_init();
	snprintf(user, sizeof(user), "/v1/users/userId:soak-fast-%d", w->idx);
	snprintf(status, sizeof(status), "%s/verification?products=onramp", user);
	snprintf(consent, sizeof(consent), "%s/consent", user);
	req(w, false, "PUT", consent, wj, CONSENT, strlen(CONSENT), S(200), NULL);
	while (!atomic_load(&stopping)) {
		req(w, false, "GET", status, rd, NULL, 0, S(200), NULL);
		req(w, false, "GET", user, rd, NULL, 0, S(200), NULL);
		req(w, false, "GET", "/healthz", NULL, NULL, 0, S(200), NULL);
		req(w, false, "PUT", user, wj, "{\"userDetails\":", 15, S(400), NULL);
		w->iter++;
		kt_sleep_ms(10); /* a few hundred requests a second: the access log stays small */
	}
	curl_easy_cleanup(w->c);
	return NULL;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	const char *const lim[] = {LIMITED, NULL};
	char loc[64];

	w->c = curl_easy_init();
	while (!atomic_load(&stopping)) {
		snprintf(loc, sizeof(loc), "userId:soak-%d-%u", w->idx, w->iter);
		flow(w, loc);
		send_fault(w);
		send_fault(w);
		send_hostile(w);
		send_raw();
		send_local(w);
		/* the limited client's bucket survives reloads that resize it */
		req(w, false, "GET", "/v1/users/userId:soak-limited", lim, NULL, 0, S(404, 429),
		    NULL);
		w->iter++;
	}
	curl_easy_cleanup(w->c);
	return NULL;
}

/* ---- the process: descriptors, memory, config ---------------------------------------------- */

/* Open descriptors of pid, or -1 when /proc does not tell (needs ptrace access: the gateway is
 * not dumpable, so only root sees it). */
static int count_fds(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* VmRSS of pid in KiB, or -1. */
static long rss_kib(pid_t pid)
{
	char path[64], *status, *at;
	long kib = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	status = kt_slurp(path, NULL);
	if (status != NULL && (at = strstr(status, "\nVmRSS:")) != NULL)
		kib = strtol(at + 7, NULL, 10);
	free(status);
	return kib;
}

static void conf_text(char *out, size_t cap, unsigned sim_port, int ttl_ms, unsigned rpm)
{
	int n = snprintf(out, cap, conf_fmt, sim_port, ttl_ms, rpm);

	ck_assert(n > 0 && (size_t)n < cap);
}

/* Replaces the config by a rename (the gateway never reads half a file), then SIGHUP. */
static void reload(const struct kt_proc *gw, const char *text)
{
	char tmp[300];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.new", gw->conf_path);
	f = fopen(tmp, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(rename(tmp, gw->conf_path), 0);
	ck_assert_int_eq(kill(gw->pid, SIGHUP), 0);
}

static double metric(unsigned port, const char *sample)
{
	struct kt_resp r;
	double v;

	kt_http(port, "GET", "/metrics", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	v = kt_sample(r.body, sample);
	kt_resp_free(&r);
	return v;
}

/* Waits up to 30 s for the descriptors of pid to come back to at most limit; returns the last
 * count. */
static int settle_fds(pid_t pid, int limit)
{
	long long end = kt_now_ms() + 30000;
	int n;

	while ((n = count_fds(pid)) > limit && kt_now_ms() < end)
		kt_sleep_ms(250);
	return n;
}

/* Checks the gateway's log: no line at level error but upstream-auth (Crossmint's 401 / 403 are
 * logged at error: sim-status-401 and -403 ask for them). Prints the first warnings other than
 * those the faults ask for (a 5xx access line, a failed upstream attempt). */
static int log_errors(const struct kt_proc *gw)
{
	char *log = kt_read_log(gw), *line, *nl;
	int errors = 0, warns = 0;

	for (line = log; line != NULL && *line != '\0'; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (nl != NULL)
			*nl = '\0';
		if (strstr(line, "\"level\":\"error\"") != NULL &&
		    strstr(line, "\"event\":\"upstream-auth\"") == NULL && errors++ < 5)
			fprintf(stderr, "soak: error line: %.400s\n", line);
		if (strstr(line, "\"level\":\"warn\"") != NULL &&
		    strstr(line, "\"event\":\"request\"") == NULL &&
		    strstr(line, "\"event\":\"upstream-failed\"") == NULL && warns++ < 5)
			fprintf(stderr, "soak: warning line: %.400s\n", line);
	}
	free(log);
	return errors;
}

/* What the soak measured. */
struct figures {
	long seconds;
	int reloads;                                    /* config edits, each with a SIGHUP */
	double ok_reloads, failed_reloads;              /* kycgate_config_reloads_total */
	long rss_third, rss_end, rss_max;               /* gateway VmRSS, KiB */
	int gw_fd0, gw_fd_peak, gw_fd, sim_fd0, sim_fd; /* at start, peak, idle at the end */
};

/* Runs the clients for f->seconds, editing the config and sending SIGHUP every two seconds, and
 * samples the gateway's RSS and descriptors. */
static void drive(const struct kt_proc *gw, unsigned sim_port, struct figures *f)
{
	struct worker w[WORKERS + FAST];
	pthread_t th[WORKERS + FAST];
	char text[4096];
	long long third, end;
	long rss;
	int i, fds;

	for (i = 0; i < WORKERS + FAST; i++) {
		w[i] = (struct worker){.idx = i};
		ck_assert_int_eq(
		    pthread_create(&th[i], NULL, i < WORKERS ? worker_main : fast_main, &w[i]), 0);
	}
	third = kt_now_ms() + f->seconds * 1000 / 3;
	end = kt_now_ms() + f->seconds * 1000;
	while (kt_now_ms() < end) {
		kt_sleep_ms(2000);
		f->reloads++;
		conf_text(text, sizeof(text), sim_port, f->reloads % 2 ? 500 : 0,
		          f->reloads % 3 ? 120 : 60);
		reload(gw, text);
		rss = rss_kib(gw->pid);
		if (rss > f->rss_max)
			f->rss_max = rss;
		if (f->rss_third < 0 && kt_now_ms() >= third)
			f->rss_third = rss;
		fds = count_fds(gw->pid);
		if (fds > f->gw_fd_peak)
			f->gw_fd_peak = fds;
	}
	f->rss_end = rss_kib(gw->pid);
	atomic_store(&stopping, true);
	for (i = 0; i < WORKERS + FAST; i++)
		pthread_join(th[i], NULL);
}

static void report(const struct figures *f)
{
	int i;

	fprintf(
	    stderr,
	    "soak: %ld s, %ld requests, %ld unexpected; %d reloads sent, %.0f succeeded, %.0f "
	    "failed; gateway fds %d at start, %d peak, %d idle; simulator fds %d at start, %d "
	    "idle; gateway RSS %ld KiB at the end of the first third, %ld at the end, %ld max\n",
	    f->seconds, atomic_load(&n_requests), atomic_load(&n_bad), f->reloads, f->ok_reloads,
	    f->failed_reloads, f->gw_fd0, f->gw_fd_peak, f->gw_fd, f->sim_fd0, f->sim_fd,
	    f->rss_third, f->rss_end, f->rss_max);
	for (i = 0; i < n_fails; i++)
		fprintf(stderr, "soak: unexpected: %s\n", fails[i]);
}

static void check_figures(const struct figures *f)
{
	ck_assert_msg(atomic_load(&n_bad) == 0, "%ld unexpected answers, first: %s",
	              atomic_load(&n_bad), fails[0]);
	ck_assert_msg(atomic_load(&n_requests) >= 100, "only %ld requests",
	              atomic_load(&n_requests));
	ck_assert_msg(f->ok_reloads >= f->reloads && f->failed_reloads == 0,
	              "%d reloads sent, %.0f succeeded, %.0f failed", f->reloads, f->ok_reloads,
	              f->failed_reloads);
	if (f->gw_fd0 >= 0) {
		ck_assert_msg(f->gw_fd <= f->gw_fd0 + UPSTREAM_CONNS,
		              "gateway: %d descriptors idle, %d at start (+%d allowed)", f->gw_fd,
		              f->gw_fd0, UPSTREAM_CONNS);
		ck_assert_msg(f->sim_fd <= f->sim_fd0 + UPSTREAM_CONNS,
		              "simulator: %d descriptors idle, %d at start (+%d allowed)",
		              f->sim_fd, f->sim_fd0, UPSTREAM_CONNS);
	} else {
		fprintf(stderr, "soak: /proc/PID/fd not readable: descriptors not checked\n");
	}
#if defined(__SANITIZE_ADDRESS__)
	fprintf(stderr, "soak: AddressSanitizer build: RSS growth not checked\n");
#else
	ck_assert_msg(f->rss_third > 0 && f->rss_end * 10 < f->rss_third * 11,
	              "gateway RSS %ld KiB at the end, %ld KiB after the first third: over 10%%",
	              f->rss_end, f->rss_third);
#endif
}

START_TEST(soak)
{
	static const char *const sim_args[] = {"--api-key", KEY, "--review-delay-ms", "1000", NULL};
	const char *env_s = getenv("KG_SOAK_SECONDS");
	struct figures f = {.seconds = env_s ? strtol(env_s, NULL, 10) : 180, .rss_third = -1};
	struct kt_proc sim, gw;
	char text[4096];

	ck_assert_msg(f.seconds >= 10, "KG_SOAK_SECONDS must be at least 10");
	kt_start_simulator(&sim, sim_args);
	conf_text(text, sizeof(text), sim.port, 0, 60);
	kt_start_gateway(&gw, text, sim.port, NULL);
	gw_port = gw.port;
	kt_sleep_ms(500); /* the start-up self-check */
	f.gw_fd0 = count_fds(gw.pid);
	f.sim_fd0 = count_fds(sim.pid);

	drive(&gw, sim.port, &f);

	kt_sleep_ms(1000); /* the last reload */
	f.ok_reloads = metric(gw.port, "kycgate_config_reloads_total{result=\"success\"}");
	f.failed_reloads = metric(gw.port, "kycgate_config_reloads_total{result=\"failure\"}");
	f.gw_fd = settle_fds(gw.pid, f.gw_fd0 + UPSTREAM_CONNS);
	f.sim_fd = settle_fds(sim.pid, f.sim_fd0 + UPSTREAM_CONNS);
	report(&f);
	check_figures(&f);
	ck_assert_int_eq(log_errors(&gw), 0);
	ck_assert_int_eq(kt_stop(&gw), 0);
	ck_assert_int_eq(kt_stop(&sim), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("it_soak");
	TCase *tc = tcase_create("soak");
	const char *env_s = getenv("KG_SOAK_SECONDS");
	long seconds = env_s ? strtol(env_s, NULL, 10) : 180;
	int failed;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_set_timeout(tc, (double)seconds + 120);
	tcase_add_test(tc, soak);
	suite_add_tcase(s, tc);
	failed = kt_run_suite(s);
	curl_global_cleanup();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
