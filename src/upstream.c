/* The upstream engine: one thread, one curl multi handle driven by curl_multi_socket_action on
 * epoll, a hand-over queue whose eventfd fires only when it goes from empty to non-empty, curl's
 * timer kept as a value that bounds epoll_wait, and a pool of easy handles (design §8). */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "kycgate/config.h"
#include "kycgate/log.h"
#include "kycgate/metrics.h"
#include "kycgate/retry.h"
#include "upstream_internal.h"

#define MAX_EVENTS 128
#define MAXAGE_CONN_S 30 /* below the idle timeouts of common load balancers in front of APIs */
#define SWEEP_MS 1000    /* how often cached answers past cache_ttl_ms are let go */
#define RECV_BUFFER_BYTES 4096 /* curl's receive buffer (set_shape_options) */
#define RETRY_MIN_LEFT_MS 100  /* a retry needs at least this long before the exchange deadline */

/* Per-call private data kept on the engine thread. */
struct callpriv {
	struct settings *settings;
	struct curl_slist nodes[3];
	struct curl_slist own[KG_UP_MAX_HEADERS + 1]; /* a call with its own url: its headers */
	char hdr_id[KG_MAX_REQUEST_ID_BYTES + 16];
	char hdr_tp[96];
	char hdr_ts[KG_MAX_TRACESTATE_BYTES + 16];
	char url[2048];
	char errbuf[CURL_ERROR_SIZE];
	unsigned long long shape; /* the shape the handle's options were set for; 0: partly set */
	bool too_large;
	bool nomem;             /* the answer's buffer could not grow */
	unsigned long mem_mark; /* up_mem_failures() when the exchange began */
};

static void settings_put(struct settings *s)
{
	if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	free(s->base_url);
	free(s->api_version);
	if (s->api_key_header != NULL) {
		kg_wipe(s->api_key_header, strlen(s->api_key_header));
		free(s->api_key_header);
	}
	/* Each list's first node points at api_key_header, which is already freed: unlink it. */
	if (s->common != NULL) {
		s->common->data = NULL;
		curl_slist_free_all(s->common);
	}
	if (s->common_bodiless != NULL) {
		s->common_bodiless->data = NULL;
		curl_slist_free_all(s->common_bodiless);
	}
	if (s->proxy != NULL) /* may carry the proxy's user:password */
		kg_wipe(s->proxy, strlen(s->proxy));
	free(s->proxy);
	free(s);
}

static bool loopback_url(const char *url)
{
	static const char *const prefixes[] = {
	    "http://127.", "http://localhost:", "http://localhost/", "http://[::1]"};
	size_t i;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(url, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

/* A list of headers whose first node is the key's, built by hand so that the key exists once in
 * memory, wiped on free; then the others. NULL when out of memory. */
static struct curl_slist *key_list(char *key_header, const char *const *others, size_t n)
{
	struct curl_slist *head = curl_slist_append(NULL, "-"), *tail = head;
	size_t i;

	if (head == NULL)
		return NULL;
	free(head->data);
	head->data = key_header;
	for (i = 0; i < n && tail != NULL; i++)
		tail = curl_slist_append(tail, others[i]);
	if (tail == NULL) {
		head->data = NULL;
		curl_slist_free_all(head);
		return NULL;
	}
	return head;
}

static struct settings *settings_new(const struct kg_config *cfg, const char *base_url,
                                     const char *api_key)
{
	static atomic_ullong generations;
	/* Content-Type only where there is a body: a GET's is noise that curl formats and
	 * Crossmint parses on every read. */
	static const char *const with_body[] = {"Content-Type: application/json",
	                                        "Accept: application/json", "Expect:"};
	struct settings *s = calloc(1, sizeof(*s));
	const char *key = api_key ? api_key : "";
	size_t klen = strlen(key) + sizeof("X-API-KEY: ");

	if (s == NULL)
		return NULL;
	atomic_init(&s->refs, 1);
	s->base_url = strdup(base_url);
	s->api_version = strdup(cfg->crossmint.api_version);
	s->proxy = strdup(cfg->crossmint.proxy ? cfg->crossmint.proxy : "");
	s->api_key_header = malloc(klen);
	if (s->base_url == NULL || s->api_version == NULL || s->proxy == NULL ||
	    s->api_key_header == NULL)
		goto fail;
	snprintf(s->api_key_header, klen, "X-API-KEY: %s", key);
	s->common = key_list(s->api_key_header, with_body, 3);
	s->common_bodiless = key_list(s->api_key_header, with_body + 1, 1);
	if (s->common == NULL || s->common_bodiless == NULL)
		goto fail;
	s->gen = atomic_fetch_add(&generations, 1) + 1;
	s->connect_timeout_ms = cfg->crossmint.connect_timeout_ms;
	s->timeout_ms = cfg->crossmint.timeout_ms;
	s->max_inflight = cfg->crossmint.max_inflight;
	s->max_response_bytes = cfg->crossmint.max_response_bytes;
	s->max_connections = cfg->crossmint.max_connections;
	s->allow_http = cfg->crossmint.environment != KG_ENV_PRODUCTION && loopback_url(base_url);
	s->cache_ttl_ms = cfg->verification.cache_ttl_ms;
	s->reads_per_minute = cfg->crossmint.rate_limit.reads_per_minute;
	s->watch_share_pct = cfg->events.watch.budget_share_pct;
	s->writes_per_minute = cfg->crossmint.rate_limit.writes_per_minute;
	s->max_attempts = cfg->crossmint.retry.max_attempts;
	s->base_delay_ms = cfg->crossmint.retry.base_delay_ms;
	s->max_delay_ms = cfg->crossmint.retry.max_delay_ms;
	s->failure_threshold = cfg->crossmint.circuit_breaker.failure_threshold;
	s->open_ms = 1000ull * cfg->crossmint.circuit_breaker.open_s;
	return s;
fail:
	settings_put(s);
	return NULL;
}

/* How many connections curl keeps: those of the calls in curl now plus crossmint.max_connections
 * idle ones. With max_connections alone (64 in the slow benchmark, 1000 calls at once), curl
 * closed all but 64 connections as each exchange ended, so nearly every call opened a new one
 * (kycgate_upstream_connections_opened_total was one per call): p50 250-360 ms for a 200 ms
 * upstream. Following the calls in curl keeps a burst's connections while it lasts, and as it
 * drains each connection given back closes one beyond the limit, so max_connections idle ones
 * stay. Called whenever the number of calls in curl changes (curl gives a connection back
 * inside curl_multi_socket_action, before the call leaves the live list). */
static void conn_cache_follow(struct kg_upstream *up)
{
	long want = (long)up->n_live + up->cur->max_connections;

	if (want == up->cache_limit)
		return;
	up->cache_limit = want;
	curl_multi_setopt(up->multi, CURLMOPT_MAXCONNECTS, want);
}

/* ---- curl callbacks ------------------------------------------------------------------------ */

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct kg_up_call *call = userp;
	struct callpriv *p = call->priv;
	size_t n = size * nmemb;

	if (call->resp_len + n > call->resp_limit) {
		p->too_large = true;
		return 0;
	}
	if (call->resp_len + n + 1 > call->resp_cap &&
	    !kg_grow_wiped(
	        &call->resp, &call->resp_cap, call->resp_len,
	        kg_grow_size(call->resp_cap, call->resp_len + n + 1, call->resp_limit + 1))) {
		p->nomem = true;
		return 0;
	}
	memcpy(call->resp + call->resp_len, data, n);
	call->resp_len += n;
	call->resp[call->resp_len] = '\0';
	return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
	struct kg_up_call *call = userp;
	size_t n = size * nmemb, i;
	unsigned long v = 0;
	const size_t name = sizeof("Retry-After:") - 1;

	if (n <= name || strncasecmp(data, "Retry-After:", name) != 0)
		return n;
	for (i = name; i < n && data[i] == ' '; i++)
		;
	for (; i < n && data[i] >= '0' && data[i] <= '9' && v < 86400; i++)
		v = v * 10 + (unsigned long)(data[i] - '0');
	call->retry_after_s = v > 86400 ? 86400 : (unsigned)v;
	return n;
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *sockp)
{
	struct kg_upstream *up = userp;
	struct epoll_event ev = {0};

	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(up->epfd, EPOLL_CTL_DEL, fd, NULL);
		curl_multi_assign(up->multi, fd, NULL);
		return 0;
	}
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	ev.data.fd = fd;
	if (sockp == NULL) {
		if (epoll_ctl(up->epfd, EPOLL_CTL_ADD, fd, &ev) != 0 && errno == EEXIST)
			epoll_ctl(up->epfd, EPOLL_CTL_MOD, fd, &ev);
		curl_multi_assign(up->multi, fd, up);
	} else {
		epoll_ctl(up->epfd, EPOLL_CTL_MOD, fd, &ev);
	}
	return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct kg_upstream *up = userp;

	up->timer_deadline_ms =
	    timeout_ms < 0 ? -1 : (long long)(kg_now_ms() + (unsigned long long)timeout_ms);
	return 0;
}

/* ---- the exchange ------------------------------------------------------------------------- */

static enum kg_up_result map_result(CURLcode rc, bool too_large)
{
	switch (rc) {
	case CURLE_OK:
		return KG_UP_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return KG_UP_TIMEOUT;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
		return KG_UP_CONNECT;
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return KG_UP_RESET;
	case CURLE_WRITE_ERROR:
		return too_large ? KG_UP_TOO_LARGE : KG_UP_ERROR;
	case CURLE_OUT_OF_MEMORY: /* curl allocates through upstream_mem.c, so through ours */
		return KG_UP_NOMEM;
	default:
		return KG_UP_ERROR;
	}
}

#define CALL_OF(t, field) ((struct kg_up_call *)((char *)(t)-offsetof(struct kg_up_call, field)))

static void fire_start(struct kg_upstream *up, struct kg_up_timer *t);
static void fire_deadline(struct kg_upstream *up, struct kg_up_timer *t);
static bool up_budget_take(struct kg_upstream *up, bool read, enum up_prio prio, bool force,
                           unsigned long long *wait_ms);

/* libcurl 7.88 can lose a transfer's timer when one of its own allocations fails (found by the
 * allocation-failure walk: the transfer then never ends, and its request never answers). So each
 * attempt in curl also has a watchdog on the engine's heap (its start_timer, which otherwise times
 * a delayed start or a backoff: fire_start() tells them apart by the call's state),
 * WATCHDOG_SLACK_MS after curl's own timeout, which ends it. */
#define WATCHDOG_SLACK_MS 1000

static void unlink_live(struct kg_upstream *up, struct kg_up_call *call)
{
	if (call->live_prev != NULL)
		call->live_prev->live_next = call->live_next;
	else
		up->live = call->live_next;
	if (call->live_next != NULL)
		call->live_next->live_prev = call->live_prev;
	call->live_prev = call->live_next = NULL;
	up->n_live--;
	conn_cache_follow(up);
}

/* ---- the circuit breaker ---------------------------------------------------------------- */

/* Logs a change of the breaker's state and sets its gauge; arms the half-open timer when open. */
static void breaker_changed(struct kg_upstream *up, enum kg_breaker_state was)
{
	const struct kg_breaker *b = &up->breaker;
	char until[32];

	if (b->state == was)
		return;
	kg_metrics_gauge_set(KG_GAUGE_CIRCUIT_STATE, (long long)b->state);
	snprintf(until, sizeof(until), "%llu",
	         b->state == KG_BREAKER_OPEN ? (b->open_until_ms - kg_now_ms() + 999) / 1000 : 0);
	kg_log(b->state == KG_BREAKER_OPEN ? KG_LOG_WARN : KG_LOG_INFO, "circuit-breaker", "state",
	       kg_breaker_state_name(b->state), "was", kg_breaker_state_name(was), "open_s", until,
	       NULL);
	if (b->state == KG_BREAKER_OPEN) {
		up_heap_disarm(&up->heap, &up->breaker_timer);
		up_heap_arm(&up->heap, &up->breaker_timer, b->open_until_ms);
	}
}

static void fire_breaker(struct kg_upstream *up, struct kg_up_timer *t)
{
	enum kg_breaker_state was = up->breaker.state;

	(void)t;
	kg_breaker_tick(&up->breaker, kg_now_ms());
	breaker_changed(up, was);
}

enum kg_up_result up_gate(struct kg_upstream *up, bool read, enum up_prio prio, bool force,
                          unsigned long long *wait_ms, bool *probe)
{
	enum kg_breaker_state was = up->breaker.state;
	enum kg_breaker_verdict v = kg_breaker_admit(&up->breaker, kg_now_ms(), wait_ms);

	breaker_changed(up, was);
	if (v == KG_BREAKER_REFUSE)
		return KG_UP_OPEN;
	if (!up_budget_take(up, read, prio, force, wait_ms)) {
		if (v == KG_BREAKER_PROBE)
			kg_breaker_probe_lost(&up->breaker);
		return KG_UP_BUDGET;
	}
	*probe = v == KG_BREAKER_PROBE;
	return KG_UP_OK;
}

/* ---- ending attempts and calls ----------------------------------------------------------- */

/* Ends the attempt call has in curl with result: its status and curl's words, the handle back to
 * the pool. With report the outcome goes to the circuit breaker; without (shutdown) a probe is
 * only given back. */
/* Gives a call's handle and its per-call data back to the pool (or frees them when it is full).
 * The data is wiped here: it held the URL (a locator) and the request's headers. A handle that
 * opened a connection may have counted a retry on a dead one (libcurl's retrycount, which only
 * curl_easy_reset clears): it starts from scratch next time, as do handles whose set-up failed
 * (shape 0). */
static void pool_give(struct kg_upstream *up, CURL *easy, struct callpriv *p, bool reusable)
{
	unsigned long long shape = p != NULL && reusable ? p->shape : 0;

	if (p != NULL)
		kg_wipe(p, sizeof(*p));
	if (easy == NULL || up->n_pool >= sizeof(up->pool) / sizeof(up->pool[0])) {
		if (easy != NULL)
			curl_easy_cleanup(easy);
		free(p);
		return;
	}
	up->pool[up->n_pool].easy = easy;
	up->pool[up->n_pool].shape = shape;
	up->pool[up->n_pool++].priv = p;
}

static void attempt_close(struct kg_upstream *up, struct kg_up_call *call, enum kg_up_result result,
                          bool report)
{
	struct callpriv *p = call->priv;
	CURL *easy = call->easy;
	enum kg_breaker_state was = up->breaker.state;
	long opened = 0;

	if (call->state == CS_LIVE)
		unlink_live(up, call);
	up_heap_disarm(&up->heap, &call->start_timer); /* the attempt's watchdog */
	call->result = result;
	call->error_text[0] = '\0';
	if (p != NULL && result != KG_UP_OK)
		kg_up_error_text(p->errbuf, call->error_text, sizeof(call->error_text));
	if (easy != NULL) {
		if (result == KG_UP_OK)
			curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &call->status);
		if (curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &opened) == CURLE_OK &&
		    opened > 0)
			kg_metrics_upstream_connects((unsigned)opened);
		curl_multi_remove_handle(up->multi, easy);
	}
	if (call->started_us != 0)
		call->upstream_ms = (double)(kg_now_us() - call->started_us) / 1000.0;
	call->easy = NULL;
	call->priv = NULL;
	if (p != NULL)
		settings_put(p->settings);
	pool_give(up, easy, p, opened == 0);
	/* Another service's answer says nothing about Crossmint's health. */
	if (report && easy != NULL && call->url == NULL)
		kg_breaker_record(&up->breaker, kg_breaker_classify(result, call->status),
		                  call->probe, up->cur->failure_threshold, up->cur->open_ms,
		                  kg_now_ms());
	else if (call->probe)
		kg_breaker_probe_lost(&up->breaker);
	call->probe = false;
	breaker_changed(up, was);
}

/* Ends a call wherever it is in the engine and calls its done, exactly once. A call between
 * attempts keeps its last attempt's answer unless result says otherwise. */
void up_finish(struct kg_upstream *up, struct kg_up_call *call, enum kg_up_result result)
{
	if (call->state == CS_DONE)
		return;
	up_heap_disarm(&up->heap, &call->start_timer);
	up_heap_disarm(&up->heap, &call->deadline_timer);
	if (call->state == CS_JOINED)
		up_status_unjoin(up, call);
	if (call->state == CS_LIVE || call->easy != NULL || call->priv != NULL) {
		attempt_close(up, call, result, false);
	} else if (call->attempts == 0 || result != call->result) {
		call->result = result;
		call->error_text[0] = '\0';
	}
	if (call->probe) { /* admitted as the probe, but it never reached curl */
		kg_breaker_probe_lost(&up->breaker);
		call->probe = false;
	}
	if (call->kind == KG_CALL_WRITE)
		up_write_touch(up, call->user_key);
	if (call->kind == KG_CALL_STATUS_READ) {
		pthread_mutex_lock(&up->lock);
		call->budget_wait_s = up_budget_wait_s_locked(up);
		pthread_mutex_unlock(&up->lock);
	}
	call->state = CS_DONE;
	if (!call->internal)
		up_inflight_add(up, -1);
	call->done(call);
}

/* Whether the call sends a body (set_method): a POST or PUT always does, an empty one at least. */
static bool sends_body(const struct kg_up_call *call)
{
	return strcmp(call->method, "GET") != 0 &&
	       (call->body != NULL || strcmp(call->method, "DELETE") != 0);
}

/* The caller's headers are nodes inside priv, chained in front of the generation's list. */
static struct curl_slist *call_headers(struct kg_up_call *call, struct callpriv *p)
{
	struct curl_slist *head =
	    sends_body(call) ? p->settings->common : p->settings->common_bodiless;
	size_t n = 0;

	memcpy(p->hdr_id, "X-Request-Id: ", 14);
	kg_copy(p->hdr_id + 14, sizeof(p->hdr_id) - 14, call->request_id);
	p->nodes[n++].data = p->hdr_id;
	if (call->traceparent[0] != '\0') {
		snprintf(p->hdr_tp, sizeof(p->hdr_tp), "traceparent: %s", call->traceparent);
		p->nodes[n++].data = p->hdr_tp;
	}
	if (call->tracestate[0] != '\0') {
		snprintf(p->hdr_ts, sizeof(p->hdr_ts), "tracestate: %s", call->tracestate);
		p->nodes[n++].data = p->hdr_ts;
	}
	while (n-- > 0) {
		p->nodes[n].next = head;
		head = &p->nodes[n];
	}
	return head;
}

/* The headers of a call with its own url: only its own, in nodes inside priv, and an empty
 * Expect: (design §8). Never the generation's list, which carries the API key. */
static struct curl_slist *own_headers(struct kg_up_call *call, struct callpriv *p)
{
	static char expect[] = "Expect:";
	struct curl_slist *head = NULL;
	size_t n = 0, i;

	while (call->headers != NULL && call->headers[n] != NULL && n < KG_UP_MAX_HEADERS)
		n++;
	p->own[n].data = expect;
	p->own[n].next = NULL;
	head = &p->own[n];
	for (i = n; i-- > 0;) {
		p->own[i].data = (char *)call->headers[i];
		p->own[i].next = head;
		head = &p->own[i];
	}
	return head;
}

/* The options that copy a string (method, URL, proxy, protocols) allocate inside libcurl: each
 * result is checked, or a failed copy would send the exchange with the wrong method (a PUT with
 * a body becomes a POST, a DELETE a GET). False when one failed. A pooled handle still holds
 * the last call's method and body: each call starts from a bare GET (POSTFIELDS, even NULL,
 * makes the method POST; HTTPGET then makes it GET again). */
static bool set_method(CURL *easy, struct kg_up_call *call)
{
	bool ok = true;

	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
	curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, NULL);
	ok &= curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L) == CURLE_OK;
	if (strcmp(call->method, "GET") == 0)
		return ok;
	ok &= curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, call->method) == CURLE_OK;
	if (sends_body(call)) {
		ok &= curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
		                       (curl_off_t)call->body_len) == CURLE_OK;
		ok &= curl_easy_setopt(easy, CURLOPT_POSTFIELDS, call->body ? call->body : "") ==
		      CURLE_OK;
	}
	return ok;
}

/* What a handle's options depend on beyond the call: the settings' generation, and whether the
 * call has its own url (another service: no proxy, http allowed). Never 0. */
static unsigned long long up_shape(const struct settings *s, const struct kg_up_call *call)
{
	return s->gen * 2 + (call->url != NULL ? 1 : 0);
}

/* The options every call of a shape has; a handle keeps them between calls of that shape. */
static bool set_shape_options(CURL *easy, struct kg_up_call *call, const struct settings *s)
{
	bool ok = true;

	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	/* A call with its own url: the configuration checked its scheme (design §10); the proxy
	 * is Crossmint's, not the receiver's. */
	ok &= curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR,
	                       s->allow_http || call->url != NULL ? "http,https" : "https") ==
	      CURLE_OK;
	ok &= curl_easy_setopt(easy, CURLOPT_PROXY, call->url != NULL ? "" : s->proxy) == CURLE_OK;
	curl_easy_setopt(easy, CURLOPT_MAXAGE_CONN, (long)MAXAGE_CONN_S);
	curl_easy_setopt(easy, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
	/* libcurl 7.88 allocates its receive buffer for every transfer and frees it at the end (so
	 * through upstream_mem.c, which wipes it): 16 KiB by default, 5-6% of kycgate's
	 * instructions a request in the fast workload. Crossmint's answers are a few KiB; a longer
	 * one only takes more reads. */
	curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, (long)RECV_BUFFER_BYTES);
	return ok;
}

/* Sets up easy for call: from scratch when it last served another shape (or is new, or its last
 * set-up failed part way), else only what differs between calls. curl_easy_reset and the
 * options of the shape were 3-4% of the engine thread's CPU a call in the fast workload. */
static bool set_options(CURL *easy, unsigned long long had, struct kg_up_call *call,
                        struct callpriv *p)
{
	const struct settings *s = p->settings;
	unsigned long long now = kg_now_ms(), shape = up_shape(s, call);
	/* Every attempt ends by the exchange's deadline: retries never add to timeout_ms. */
	long left_ms =
	    call->exchange_deadline_ms > now ? (long)(call->exchange_deadline_ms - now) : 1;
	bool ok = true;

	if (had != shape) {
		curl_easy_reset(easy);
		if (!set_shape_options(easy, call, s))
			return false;
	}
	ok &= curl_easy_setopt(easy, CURLOPT_URL, p->url) == CURLE_OK;
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
	                 s->connect_timeout_ms < left_ms ? s->connect_timeout_ms : left_ms);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, left_ms);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER,
	                 call->url != NULL ? own_headers(call, p) : call_headers(call, p));
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, call);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, call);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, p->errbuf);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, call);
	/* libcurl silently sends a request again when a reused connection dies before any answer;
	 * a call that may start work at Crossmint goes on a fresh connection, so that it is sent
	 * once (design §6). */
	curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT,
	                 call->once_only && strcmp(call->method, "GET") != 0 ? 1L : 0L);
	if (!ok || !set_method(easy, call))
		return false;
	p->shape = shape;
	return true;
}

/* Starts the HTTP exchange of call in curl on the current settings. */
void up_start_exchange(struct kg_upstream *up, struct kg_up_call *call)
{
	struct callpriv *p = NULL;
	struct settings *s = up->cur;
	unsigned long long timeout_ms = call->url != NULL && call->timeout_ms > 0
	                                    ? call->timeout_ms
	                                    : (unsigned long long)s->timeout_ms;
	CURL *easy = NULL;
	unsigned long long had = 0;

	if (call->attempts++ == 0) {
		call->started_us = kg_now_us();
		call->exchange_deadline_ms = kg_now_ms() + timeout_ms;
	} else {
		kg_up_call_cleanup(call); /* the last attempt's answer */
	}
	call->status = 0;
	call->retry_after_s = 0;
	if (up->n_pool > 0) {
		up->n_pool--;
		easy = up->pool[up->n_pool].easy;
		had = up->pool[up->n_pool].shape;
		p = up->pool[up->n_pool].priv;
	} else {
		easy = curl_easy_init();
	}
	if (p == NULL)
		p = calloc(1, sizeof(*p));
	if (p == NULL || easy == NULL) {
		pool_give(up, easy, p, false);
		up_finish(up, call, KG_UP_NOMEM);
		return;
	}
	atomic_fetch_add(&s->refs, 1);
	p->mem_mark = up_mem_failures();
	p->settings = s;
	call->priv = p;
	call->resp_limit = s->max_response_bytes;
	call->easy = easy;
	if ((call->url != NULL ? (size_t)snprintf(p->url, sizeof(p->url), "%s", call->url)
	                       : (size_t)snprintf(p->url, sizeof(p->url), "%s/%s%s", s->base_url,
	                                          s->api_version, call->path)) >= sizeof(p->url)) {
		up_finish(up, call, KG_UP_ERROR);
		return;
	}
	if (!set_options(easy, had, call, p)) {
		up_finish(up, call, KG_UP_NOMEM);
		return;
	}
	if (curl_multi_add_handle(up->multi, easy) != CURLM_OK) {
		up_finish(up, call, up_mem_failures() != p->mem_mark ? KG_UP_NOMEM : KG_UP_ERROR);
		return;
	}
	call->state = CS_LIVE;
	call->live_prev = NULL;
	call->live_next = up->live;
	if (up->live != NULL)
		up->live->live_prev = call;
	up->live = call;
	up->n_live++;
	conn_cache_follow(up);
	if (!up_heap_arm(&up->heap, &call->start_timer,
	                 kg_now_ms() + timeout_ms + WATCHDOG_SLACK_MS))
		up_finish(up, call, KG_UP_NOMEM);
}

/* After a failed attempt: schedules the next one on the timer heap (true) when design §6 allows
 * it, there are attempts left, the breaker is not open and the backoff ends early enough before
 * the exchange's deadline. */
static bool retry_later(struct kg_upstream *up, struct kg_up_call *call)
{
	const struct settings *s = up->cur;
	unsigned long long now = kg_now_ms(), delay;
	bool once = call->once_only && strcmp(call->method, "GET") != 0;

	if (call->url != NULL)
		return false;
	if (call->attempts >= s->max_attempts || up->breaker.state == KG_BREAKER_OPEN ||
	    !kg_retry_wanted(call->result, call->status, call->retry_after_s, once))
		return false;
	delay = kg_retry_delay_ms(call->attempts, s->base_delay_ms, s->max_delay_ms,
	                          call->result == KG_UP_OK ? call->retry_after_s : 0,
	                          kg_xorshift(&up->rng));
	if (now + delay + RETRY_MIN_LEFT_MS > call->exchange_deadline_ms)
		return false;
	call->state = CS_BACKOFF;
	return up_heap_arm(&up->heap, &call->start_timer, now + delay);
}

/* An attempt ended in curl: retry it later, or end the call with it. */
static void attempt_end(struct kg_upstream *up, struct kg_up_call *call, enum kg_up_result result)
{
	attempt_close(up, call, result, true);
	if (retry_later(up, call))
		return;
	call->state = CS_QUEUED;
	up_finish(up, call, call->result);
}

/* A backoff ended: the next attempt passes the breaker and the budget like a first one; when
 * either refuses, the call ends with its last attempt's answer. */
static void retry_now(struct kg_upstream *up, struct kg_up_call *call)
{
	unsigned long long wait = 0;
	bool probe = false;

	if (up_gate(up, strcmp(call->method, "GET") == 0, up_prio_of(call), false, &wait, &probe) !=
	    KG_UP_OK) {
		up_finish(up, call, call->result);
		return;
	}
	kg_metrics_upstream_retry();
	call->probe = probe;
	up_start_exchange(up, call);
}

static void reap(struct kg_upstream *up)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(up->multi, &left)) != NULL) {
		struct kg_up_call *call = NULL;
		struct callpriv *p;
		enum kg_up_result result;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&call);
		p = call->priv;
		result = map_result(msg->data.result, p->too_large);
		if (result != KG_UP_OK && (p->nomem || up_mem_failures() != p->mem_mark))
			result = KG_UP_NOMEM;
		attempt_end(up, call, result);
	}
}

/* ---- the rate budget ------------------------------------------------------------------------ */

/* Takes one token of the rate budget; see up_gate. */
static bool up_budget_take(struct kg_upstream *up, bool read, enum up_prio prio, bool force,
                           unsigned long long *wait_ms)
{
	struct kg_tbucket *b = read ? &up->reads : &up->writes;
	unsigned per_minute;
	double need, keep = 0.0;
	bool ok = true;

	pthread_mutex_lock(&up->lock);
	per_minute = read ? up->settings->reads_per_minute : up->settings->writes_per_minute;
	if (per_minute > 0) {
		/* Below a caller's priority a share of the minute is left to others; with a tiny
		 * budget that means waiting for a full bucket. */
		if (prio == UP_PRIO_LONGPOLL)
			keep = 0.2;
		else if (prio == UP_PRIO_WATCH)
			keep = 1.0 - up->settings->watch_share_pct / 100.0;
		need = kg_tbucket_need(per_minute, keep);
		/* forced: may go below zero, later calls wait longer */
		ok = kg_tbucket_take(b, per_minute, need, force, kg_now_ms(), wait_ms);
	}
	pthread_mutex_unlock(&up->lock);
	return ok;
}

unsigned up_budget_wait_s_locked(struct kg_upstream *up)
{
	unsigned per_minute = up->settings->reads_per_minute;

	if (per_minute == 0)
		return 0;
	kg_tbucket_refill(&up->reads, per_minute, kg_now_ms());
	return (unsigned)((kg_tbucket_wait_ms(&up->reads, per_minute, 1.0) + 999) / 1000);
}

/* ---- admission --------------------------------------------------------------------------------
 */

/* Runs a call now: a status read joins or reuses; others take a token and go to curl. */
static void begin(struct kg_upstream *up, struct kg_up_call *call)
{
	unsigned long long wait = 0;
	enum kg_up_result r;

	call->state = CS_QUEUED;
	if (call->url != NULL) { /* another service: neither Crossmint's budget nor its breaker */
		up_start_exchange(up, call);
		return;
	}
	if (call->kind == KG_CALL_STATUS_READ) {
		up_status_begin(up, call);
		return;
	}
	r = up_gate(up, strcmp(call->method, "GET") == 0, UP_PRIO_CALLER, call->force_budget, &wait,
	            &call->probe);
	if (r == KG_UP_BUDGET)
		call->budget_wait_s = (unsigned)((wait + 999) / 1000);
	if (r == KG_UP_OPEN)
		call->retry_after_s = (unsigned)((wait + 999) / 1000);
	if (r != KG_UP_OK) {
		up_finish(up, call, r);
		return;
	}
	if (call->kind == KG_CALL_WRITE)
		up_write_touch(up, call->user_key);
	up_start_exchange(up, call);
}

void up_call_timers_init(struct kg_up_call *call)
{
	up_timer_init(&call->start_timer, fire_start);
	up_timer_init(&call->deadline_timer, fire_deadline);
}

/* After a burst, glibc keeps the freed memory of every thread's arena mapped: 30 s of new users
 * left about 4 MiB more private dirty memory than at start, for good. Once no call came for
 * TRIM_IDLE_MS and none is in curl, the engine (idle, so no request waits on it) hands it back
 * with malloc_trim(), once per burst. */
#define TRIM_IDLE_MS 5000

void up_trim_if_idle(struct kg_upstream *up)
{
	if (!up->trim_due || up->live != NULL || kg_now_ms() - up->last_admit_ms < TRIM_IDLE_MS)
		return;
	up->trim_due = false;
	malloc_trim(0);
}

static void admit(struct kg_upstream *up, struct kg_up_call *call)
{
	unsigned long long now = kg_now_ms();

	up->last_admit_ms = now;
	up->trim_due = true;

	call->state = CS_QUEUED;
	up_call_timers_init(call);
	if ((call->low_priority || call->watch_poll) && up->waits_ended) {
		up_finish(up, call, KG_UP_SHUTDOWN); /* draining: no new long-poll waits */
		return;
	}
	if (call->deadline_ms != 0 &&
	    !up_heap_arm(&up->heap, &call->deadline_timer, call->deadline_ms)) {
		up_finish(up, call, KG_UP_NOMEM);
		return;
	}
	if (call->not_before_ms > now) {
		call->state = CS_DELAYED;
		if (!up_heap_arm(&up->heap, &call->start_timer, call->not_before_ms))
			up_finish(up, call, KG_UP_NOMEM);
		return;
	}
	begin(up, call);
}

static void fire_start(struct kg_upstream *up, struct kg_up_timer *t)
{
	struct kg_up_call *call = CALL_OF(t, start_timer);

	struct callpriv *p = call->priv;

	if (call->state == CS_DELAYED)
		begin(up, call);
	else if (call->state == CS_BACKOFF)
		retry_now(up, call);
	else if (call->state == CS_LIVE) /* the watchdog: curl lost this attempt */
		attempt_end(up, call,
		            p != NULL && up_mem_failures() != p->mem_mark ? KG_UP_NOMEM
		                                                          : KG_UP_TIMEOUT);
}

static void fire_deadline(struct kg_upstream *up, struct kg_up_timer *t)
{
	struct kg_up_call *call = CALL_OF(t, deadline_timer);

	if (call->state == CS_DELAYED || call->state == CS_JOINED || call->state == CS_BACKOFF)
		up_finish(up, call, KG_UP_DEADLINE);
}

/* ---- the loop ------------------------------------------------------------------------------ */

/* A call that came while the engine stops ends at once. */
static void finish_shutdown(struct kg_upstream *up, struct kg_up_call *call)
{
	call->state = CS_QUEUED;
	up_call_timers_init(call);
	up_finish(up, call, KG_UP_SHUTDOWN);
}

/* Calls admitted per round of the engine's loop. A burst (1000 calls at once in the slow
 * benchmark) was admitted whole: curl started every connect before it looked at any socket, so
 * no call's request was sent until the last connect had started, and the first wave of the burst
 * reached the upstream 120 ms after nginx's. In rounds, the connects of one batch are seen
 * complete and their requests sent before the next batch is admitted. Not a limit: the rest
 * are admitted in the next rounds, which come at once (the loop does not sleep meanwhile). */
#define ADMIT_BATCH 64

/* Takes up to ADMIT_BATCH calls of the queue (all when stopping; q_more says whether some are
 * left), every long-poll waiter and the current settings under the lock, then admits each call
 * and waiter (or ends it, when the engine stops: true). */
static bool take_queue(struct kg_upstream *up)
{
	struct kg_up_call *call, *next, *last;
	struct kg_up_wait *w, *wnext;
	struct settings *old;
	bool stopping;
	unsigned n = 1;

	pthread_mutex_lock(&up->lock);
	stopping = atomic_load(&up->stopping);
	call = last = up->q_head;
	while (last != NULL && last->next != NULL && (stopping || n < ADMIT_BATCH)) {
		last = last->next;
		n++;
	}
	up->q_head = last != NULL ? last->next : NULL;
	if (up->q_head == NULL)
		up->q_tail = NULL;
	if (last != NULL)
		last->next = NULL;
	up->q_more = up->q_head != NULL;
	w = up->wq_head;
	up->wq_head = up->wq_tail = NULL;
	old = up->cur;
	up->cur = up->settings;
	atomic_fetch_add(&up->cur->refs, 1);
	pthread_mutex_unlock(&up->lock);
	conn_cache_follow(up);
	settings_put(old);
	for (; call != NULL; call = next) {
		next = call->next;
		call->next = NULL;
		if (stopping)
			finish_shutdown(up, call);
		else
			admit(up, call);
	}
	for (; w != NULL; w = wnext) {
		wnext = w->next;
		w->next = NULL;
		if (stopping) {
			w->state = CS_QUEUED;
			up_wait_finish(up, w, KG_UP_SHUTDOWN);
			continue;
		}
		up_wait_admit(up, w);
	}
	return stopping;
}

/* The engine thread's wake: the eventfd is read here only, so a wake meant for it (a stop, the
 * end of waits) is never taken by a request thread running the engine. */
static void drain_wake(struct kg_upstream *up)
{
	uint64_t v;

	while (read(up->wakefd, &v, sizeof(v)) > 0)
		;
}

static int wait_ms(const struct kg_upstream *up)
{
	unsigned long long now = kg_now_ms(), when = (unsigned long long)-1;
	const struct kg_up_timer *top = up_heap_top(&up->heap);

	if (up->timer_deadline_ms >= 0)
		when = (unsigned long long)up->timer_deadline_ms;
	if (top != NULL && top->base.when < when)
		when = top->base.when;
	if (when == (unsigned long long)-1)
		return -1;
	if (when <= now)
		return 0;
	return when - now > 60000 ? 60000 : (int)(when - now);
}

static void run_timers(struct kg_upstream *up)
{
	unsigned long long now = kg_now_ms();
	struct kg_up_timer *t;
	int running;

	if (up->timer_deadline_ms >= 0 && (unsigned long long)up->timer_deadline_ms <= now) {
		up->timer_deadline_ms = -1;
		curl_multi_socket_action(up->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	while ((t = up_heap_top(&up->heap)) != NULL && t->base.when <= now) {
		up_heap_disarm(&up->heap, t);
		t->fire(up, t);
	}
}

/* Ends every call the engine holds (shutdown): in curl, waiting for a timer, joined. */
static void abort_all(struct kg_upstream *up)
{
	struct kg_up_timer *t;

	while (up->live != NULL)
		up_finish(up, up->live, KG_UP_SHUTDOWN);
	while ((t = up_heap_top(&up->heap)) != NULL) {
		up_heap_disarm(&up->heap, t);
		if (t->fire == fire_start)
			up_finish(up, CALL_OF(t, start_timer), KG_UP_SHUTDOWN);
		else if (t->fire == fire_deadline)
			up_finish(up, CALL_OF(t, deadline_timer), KG_UP_SHUTDOWN);
	}
	up_waits_end(up, KG_UP_SHUTDOWN);
}

/* Draining: every long-poll re-read still waiting (for its backoff, a token or a flight) ends
 * now, so its request answers with the latest state it has. */
static void end_waits(struct kg_upstream *up)
{
	struct kg_up_call **calls;
	size_t i, n = 0;

	up->waits_ended = true;
	up_waits_end(up, KG_UP_SHUTDOWN);
	calls = calloc(up->heap.n + 1, sizeof(*calls));
	if (calls == NULL)
		return;
	for (i = 0; i < up->heap.n; i++) {
		struct kg_up_timer *t = UP_TIMER_OF(up->heap.items[i]);
		/* Every waiting re-read has exactly one deadline timer: none is listed twice. */
		struct kg_up_call *call =
		    t->fire == fire_deadline ? CALL_OF(t, deadline_timer) : NULL;

		/* A watch poll is background work: it ends too, so it never holds the drain. */
		if (call != NULL && (call->low_priority || call->watch_poll) &&
		    call->state != CS_DONE)
			calls[n++] = call;
	}
	for (i = 0; i < n; i++)
		up_finish(up, calls[i], KG_UP_SHUTDOWN);
	free(calls);
}

static void *engine_main(void *arg)
{
	struct kg_upstream *up = arg;
	struct epoll_event evs[MAX_EVENTS];
	int running, n, i;

	pthread_setname_np(pthread_self(), "kg-upstream");
	pthread_mutex_lock(&up->run_lock);
	up_heap_arm(&up->heap, &up->sweep, kg_now_ms() + SWEEP_MS);
	for (;;) {
		/* Calls left in the queue: the next round comes at once. */
		int ms = up->q_more ? 0 : wait_ms(up);
		bool take = up->q_more;

		atomic_store(&up->sleep_until_ms, ms < 0 ? -1 : (long long)(kg_now_ms() + ms));
		pthread_mutex_unlock(&up->run_lock);
		n = epoll_wait(up->epfd, evs, MAX_EVENTS, ms);
		pthread_mutex_lock(&up->run_lock);
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd, mask = 0;

			if (fd == up->wakefd) {
				drain_wake(up);
				take = true;
				continue;
			}
			mask |= (evs[i].events & EPOLLIN) ? CURL_CSELECT_IN : 0;
			mask |= (evs[i].events & EPOLLOUT) ? CURL_CSELECT_OUT : 0;
			mask |= (evs[i].events & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0;
			curl_multi_socket_action(up->multi, fd, mask, &running);
		}
		/* After the sockets: the requests of connects that completed go out before the next
		 * batch's connects start (in run_timers). */
		if (take && take_queue(up))
			goto out;
		run_timers(up);
		reap(up);
		if (atomic_exchange(&up->end_waits, false))
			end_waits(up);
	}
out:
	/* Every reserved call gets its done, also those submitted after the stop began. */
	abort_all(up);
	while (atomic_load(&up->inflight) + atomic_load(&up->waiting) > 0) {
		epoll_wait(up->epfd, evs, 1, 10);
		drain_wake(up);
		take_queue(up);
		abort_all(up);
	}
	pthread_mutex_unlock(&up->run_lock);
	return NULL;
}

/* ---- public -------------------------------------------------------------------------------- */

static void engine_free(struct kg_upstream *up)
{
	size_t i;

	if (up == NULL)
		return;
	up_entries_free(up);
	kg_timer_heap_cleanup(&up->heap);
	for (i = 0; i < up->n_pool; i++) {
		curl_easy_cleanup(up->pool[i].easy);
		free(up->pool[i].priv);
	}
	if (up->multi != NULL)
		curl_multi_cleanup(up->multi);
	if (up->epfd >= 0)
		close(up->epfd);
	if (up->wakefd >= 0)
		close(up->wakefd);
	settings_put(up->settings);
	settings_put(up->cur);
	pthread_mutex_destroy(&up->lock);
	pthread_mutex_destroy(&up->observer_lock);
	pthread_mutex_destroy(&up->run_lock);
	free(up);
}

struct kg_upstream *kg_upstream_start(const struct kg_config *cfg, const char *base_url,
                                      const char *api_key, char *err, size_t errcap)
{
	struct kg_upstream *up = calloc(1, sizeof(*up));
	struct epoll_event ev = {.events = EPOLLIN};

	if (up == NULL) {
		snprintf(err, errcap, "out of memory");
		return NULL;
	}
	up->epfd = up->wakefd = -1;
	up->timer_deadline_ms = -1;
	pthread_mutex_init(&up->lock, NULL);
	pthread_mutex_init(&up->observer_lock, NULL);
	pthread_mutex_init(&up->run_lock, NULL);
	atomic_init(&up->sleep_until_ms, -1);
	up_timer_init(&up->sweep, up_entries_sweep);
	up_timer_init(&up->breaker_timer, fire_breaker);
	kg_breaker_init(&up->breaker);
	kg_random_bytes(&up->rng, sizeof(up->rng));
	up->rng |= 1; /* xorshift never leaves 0 */
	kg_metrics_gauge_set(KG_GAUGE_CIRCUIT_STATE, KG_BREAKER_CLOSED);
	up->settings = settings_new(cfg, base_url, api_key);
	up->epfd = epoll_create1(EPOLL_CLOEXEC);
	up->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	up->multi = curl_multi_init();
	if (up->settings == NULL || up->epfd < 0 || up->wakefd < 0 || up->multi == NULL) {
		snprintf(err, errcap, "cannot set up the upstream engine");
		goto fail;
	}
	up->cur = up->settings;
	atomic_fetch_add(&up->cur->refs, 1);
	atomic_init(&up->max_inflight, up->settings->max_inflight);
	atomic_init(&up->waiting, 0);
	atomic_init(&up->stopping, false);
	atomic_init(&up->end_waits, false);
	ev.data.fd = up->wakefd;
	epoll_ctl(up->epfd, EPOLL_CTL_ADD, up->wakefd, &ev);
	curl_multi_setopt(up->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(up->multi, CURLMOPT_SOCKETDATA, up);
	curl_multi_setopt(up->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(up->multi, CURLMOPT_TIMERDATA, up);
	/* Connections kept after use, never a cap on transfers (design §8). */
	up->cache_limit = up->settings->max_connections;
	curl_multi_setopt(up->multi, CURLMOPT_MAXCONNECTS, up->cache_limit);
	curl_multi_setopt(up->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	if (pthread_create(&up->thread, NULL, engine_main, up) != 0) {
		snprintf(err, errcap, "cannot start the upstream thread");
		goto fail;
	}
	return up;
fail:
	engine_free(up);
	return NULL;
}

enum kg_err kg_upstream_reserve(struct kg_upstream *up, bool over_cap)
{
	/* Count first, then check: a stop that begins after the check sees this reservation and
	 * waits for its call (the engine exits only when nothing is reserved). */
	unsigned cur = atomic_fetch_add(&up->inflight, 1);

	if (atomic_load(&up->stopping) || (!over_cap && cur >= atomic_load(&up->max_inflight))) {
		atomic_fetch_sub(&up->inflight, 1);
		return KG_ERR_BUSY;
	}
	kg_metrics_gauge_add(KG_GAUGE_UPSTREAM_INFLIGHT, 1);
	return KG_OK;
}

void kg_upstream_release(struct kg_upstream *up)
{
	up_inflight_add(up, -1);
}

enum kg_err kg_upstream_reserve_wait(struct kg_upstream *up)
{
	/* As kg_upstream_reserve: counted before the check, so a stop waits for it. */
	atomic_fetch_add(&up->waiting, 1);
	if (atomic_load(&up->stopping)) {
		atomic_fetch_sub(&up->waiting, 1);
		return KG_ERR_BUSY;
	}
	return KG_OK;
}

/* The engine's fields of a call, cleared before it is handed over. */
static void call_reset(struct kg_up_call *call)
{
	call->next = call->live_prev = call->live_next = NULL;
	call->join_prev = call->join_next = NULL;
	call->flight = call->joiners = NULL;
	call->easy = call->priv = NULL;
	call->internal = false;
	call->resp = NULL;
	call->resp_len = call->resp_cap = 0;
	call->status = 0;
	call->retry_after_s = 0;
	call->budget_wait_s = 0;
	call->attempts = 0;
	call->probe = false;
	call->exchange_deadline_ms = 0;
	call->started_us = 0;
	call->upstream_ms = 0;
	call->answer = NULL;
	call->shared = call->cached = false;
}

/* Appends call to the queue; true when the queue was empty (the engine thread needs a wake). */
static bool enqueue(struct kg_upstream *up, struct kg_up_call *call)
{
	bool was_empty;

	call_reset(call);
	pthread_mutex_lock(&up->lock);
	was_empty = up->q_head == NULL;
	if (up->q_tail != NULL)
		up->q_tail->next = call;
	else
		up->q_head = call;
	up->q_tail = call;
	pthread_mutex_unlock(&up->lock);
	return was_empty;
}

static void wake_engine(struct kg_upstream *up)
{
	uint64_t one = 1;
	ssize_t w = write(up->wakefd, &one, sizeof(one));

	(void)w;
}

void kg_upstream_submit(struct kg_upstream *up, struct kg_up_call *call)
{
	if (enqueue(up, call))
		wake_engine(up);
}

void kg_upstream_note_country(struct kg_upstream *up, const struct kg_up_call *call,
                              const char *country, unsigned long epoch)
{
	if (call->kind != KG_CALL_STATUS_READ || call->answer == NULL ||
	    pthread_mutex_trylock(&up->run_lock) != 0)
		return;
	up_status_note_country(up, call, country, epoch);
	pthread_mutex_unlock(&up->run_lock);
}

bool kg_upstream_try_cached(struct kg_upstream *up, struct kg_up_call *call, char *country,
                            unsigned long epoch)
{
	bool queued;

	if (call->kind != KG_CALL_STATUS_READ || call->url != NULL ||
	    pthread_mutex_trylock(&up->run_lock) != 0)
		return false;
	/* A write still in the queue raises its user's generation when it is admitted: behind
	 * it, as behind anything queued, a read takes its turn in the engine. So does a read after
	 * a reload the engine has not taken yet (its cache_ttl_ms may be shorter). */
	pthread_mutex_lock(&up->lock);
	queued = up->q_head != NULL || atomic_load(&up->stopping) || up->cur != up->settings;
	pthread_mutex_unlock(&up->lock);
	if (!queued)
		call_reset(call); /* the engine's fields, as a hand-over clears them */
	if (queued || !up_status_cached(up, call, country, epoch)) {
		pthread_mutex_unlock(&up->run_lock);
		return false;
	}
	call->state = CS_DONE;
	call->result = KG_UP_OK;
	call->error_text[0] = '\0';
	pthread_mutex_lock(&up->lock);
	call->budget_wait_s = up_budget_wait_s_locked(up);
	pthread_mutex_unlock(&up->lock);
	pthread_mutex_unlock(&up->run_lock);
	return true;
}

/* Wakes the sleeping engine thread when the work just done here armed a timer (curl's or the
 * heap's) that is due before it would wake by itself. */
static void wake_if_sooner(struct kg_upstream *up)
{
	int ms = wait_ms(up);
	long long when = ms < 0 ? -1 : (long long)(kg_now_ms() + ms),
	          sleeping = atomic_load(&up->sleep_until_ms);

	if (when >= 0 && (sleeping < 0 || when < sleeping))
		wake_engine(up);
}

/* One hand-over fewer per call while nothing is in curl (light traffic): the request thread
 * admits its call and lets curl send it at once; the engine thread is woken only by the answer.
 * Queueing cost an eventfd write and a wake of the engine thread, a context switch or an idle
 * core's wake-up (p50 at 1000 requests/s 50-80 us lower without it). With calls in curl the
 * engine thread is busy anyway and drains the queue in batches: there, taking its place made
 * the fast benchmark slower (its thread then waits for this lock when answers arrive). */
void kg_upstream_submit_here(struct kg_upstream *up, struct kg_up_call *call)
{
	if (pthread_mutex_trylock(&up->run_lock) != 0) {
		kg_upstream_submit(up, call);
		return;
	}
	if (atomic_load(&up->stopping) || up->n_live > 0) {
		pthread_mutex_unlock(&up->run_lock);
		kg_upstream_submit(up, call);
		return;
	}
	call_reset(call);
	/* Calls queued before this one are admitted first, as the engine thread would. Behind a
	 * queue longer than a round, this one waits its turn with them: the engine thread's (it
	 * sleeps and would not see them otherwise). */
	if (take_queue(up))
		finish_shutdown(up, call);
	else if (up->q_more)
		enqueue(up, call);
	else
		admit(up, call);
	run_timers(up);
	reap(up);
	if (up->q_more)
		wake_engine(up);
	else
		wake_if_sooner(up);
	pthread_mutex_unlock(&up->run_lock);
}

void kg_upstream_wait(struct kg_upstream *up, struct kg_up_wait *w)
{
	bool wake;

	w->next = w->prev = NULL;
	w->entry = NULL;
	w->state = CS_QUEUED;
	w->result = KG_UP_OK;
	w->status = 0;
	w->answer = NULL;
	w->retry_after_s = w->attempts = w->budget_wait_s = 0;
	w->upstream_ms = 0;
	w->shared = w->cached = false;
	pthread_mutex_lock(&up->lock);
	wake = up->wq_head == NULL && up->q_head == NULL;
	if (up->wq_tail != NULL)
		up->wq_tail->next = w;
	else
		up->wq_head = w;
	up->wq_tail = w;
	pthread_mutex_unlock(&up->lock);
	if (wake)
		wake_engine(up);
}

enum kg_err kg_upstream_configure(struct kg_upstream *up, const struct kg_config *cfg,
                                  const char *base_url, const char *api_key)
{
	struct settings *s = settings_new(cfg, base_url, api_key), *old;

	if (s == NULL)
		return KG_ERR_NOMEM;
	pthread_mutex_lock(&up->lock);
	old = up->settings;
	up->settings = s;
	atomic_store(&up->max_inflight, s->max_inflight);
	pthread_mutex_unlock(&up->lock);
	settings_put(old);
	return KG_OK;
}

void kg_upstream_end_waits(struct kg_upstream *up)
{
	atomic_store(&up->end_waits, true);
	wake_engine(up);
}

unsigned kg_upstream_inflight(const struct kg_upstream *up)
{
	struct kg_upstream *u = (struct kg_upstream *)up;

	return atomic_load(&u->inflight) + atomic_load(&u->waiting);
}

void kg_upstream_stop(struct kg_upstream *up)
{
	if (up == NULL || up->thread_done)
		return;
	atomic_store(&up->stopping, true);
	wake_engine(up);
	pthread_join(up->thread, NULL);
	up->thread_done = true;
}

void kg_upstream_free(struct kg_upstream *up)
{
	if (up == NULL)
		return;
	kg_upstream_stop(up);
	engine_free(up);
}

void kg_up_call_cleanup(struct kg_up_call *call)
{
	if (call == NULL)
		return;
	kg_answer_put(call->answer);
	call->answer = NULL;
	if (call->resp == NULL)
		return;
	kg_wipe(call->resp, call->resp_cap);
	free(call->resp);
	call->resp = NULL;
	call->resp_len = call->resp_cap = 0;
}
