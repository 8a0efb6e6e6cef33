/* Process-wide Prometheus metrics: fixed tables of atomics and a text renderer (design §5).
 *
 * Request-path updates are relaxed atomic adds into static arrays indexed by small numbers: route
 * (order in which the template was declared with kg_metrics_add_route), method, operation and a
 * status-code slot. Route slots are declared, and status-code and client slots handed out the
 * first time one is seen, under one mutex; readers find them again without locking (acquire
 * loads of the published count). This module does not know the router: the gateway declares the
 * route templates at start. Histograms keep
 * per-bucket (not cumulative) counts and a sum in microseconds; the renderer cumulates them. */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kycgate/common.h"
#include "kycgate/metrics.h"

#define MAX_ROUTES 32              /* distinct templates kept; the route table has 14 */
#define MAX_ROUTE_ROWS 64          /* declared template pointers, looked up by pointer */
#define ROUTE_UNMATCHED MAX_ROUTES /* extra route slot for route="unmatched" */
#define N_METHODS 6                /* GET PUT POST DELETE HEAD other */
#define MAX_BUCKETS 16             /* finite buckets of the largest histogram */
#define SLOT_OTHER 0               /* code slot for code="other" */
#define SLOT_NONE 1                /* code slot for status 0, code="none" */
#define FIRST_CODE_SLOT 2
#define MAX_STATUS 600   /* codes 100..599 get their own slot */
#define CLIENT_SLOTS 512 /* open-addressing table, at most half full */
#define COUNT(a) (sizeof(a) / sizeof(a[0]))
#define MAX_SECONDS 1e9 /* observations are clamped here */

static const char *const method_names[N_METHODS] = {"GET",    "PUT",  "POST",
                                                    "DELETE", "HEAD", "other"};

/* Operation slots: the names the gateway declares (its route table's, in order), then two fixed
 * ones. */
#define N_OPS 32                 /* declared operations kept, the two fixed ones included */
#define OP_SELFCHECK (N_OPS - 2) /* the start-up read of the key */
#define OP_OTHER (N_OPS - 1)     /* anything not declared */

static const char *const reason_names[KG_UPERR_COUNT] = {
    [KG_UPERR_TIMEOUT] = "timeout",
    [KG_UPERR_CONNECT] = "connect",
    [KG_UPERR_RESET] = "reset",
    [KG_UPERR_TOO_LARGE] = "too_large",
    [KG_UPERR_INVALID_RESPONSE] = "invalid_response",
    [KG_UPERR_STATUS_5XX] = "status_5xx",
    [KG_UPERR_STATUS_3XX] = "status_3xx",
    [KG_UPERR_AUTH] = "auth",
    [KG_UPERR_SHUTDOWN] = "shutdown",
    [KG_UPERR_OTHER] = "other",
};

static const char *const rl_reason_names[KG_RL_COUNT] = {
    [KG_RL_CLIENT] = "client",
    [KG_RL_UPSTREAM_BUDGET] = "upstream-budget",
    [KG_RL_CROSSMINT] = "crossmint",
};

/* Upper bounds of one histogram's finite buckets, as numbers and as the le label text. */
struct bounds {
	const double *le;
	const char *const *text;
	size_t n;
};

static const double http_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                 0.1,    0.25,  0.5,    1,     2.5,  5,     10};
static const char *const http_text[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01",
                                        "0.025",  "0.05",  "0.1",    "0.25",  "0.5",
                                        "1",      "2.5",   "5",      "10"};
static const double up_le[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15};
static const char *const up_text[] = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                                      "0.5",   "1",    "2.5",   "5",    "10",  "15"};
static const double lp_le[] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 20, 30, 45, 60};
static const char *const lp_text[] = {"0.1", "0.25", "0.5", "1",  "2.5", "5",
                                      "10",  "15",   "20",  "30", "45",  "60"};

static const struct bounds http_bounds = {http_le, http_text, COUNT(http_le)};
static const struct bounds up_bounds = {up_le, up_text, COUNT(up_le)};
static const struct bounds lp_bounds = {lp_le, lp_text, COUNT(lp_le)};

/* One histogram: per-bucket counts (index n is +Inf) and the sum in microseconds. */
struct hist {
	_Atomic uint64_t bucket[MAX_BUCKETS + 1];
	_Atomic uint64_t sum_us;
};

/* Status code -> slot, per family. slot[code] holds slot + 1 once seen (0 = not yet). */
struct code_map {
	_Atomic unsigned char slot[MAX_STATUS];
	int code[KG_METRICS_MAX_CODES]; /* written before n is published */
	_Atomic unsigned n;             /* slots handed out, reserved ones included */
};

/* One rate-limited client: published by ready (release) after name is written. */
struct client {
	_Atomic int ready;
	char name[KG_METRICS_MAX_CLIENT_BYTES + 1];
	_Atomic uint64_t count[KG_RL_COUNT]; /* by enum kg_metrics_rl_reason */
};

/* Declared under lock; an entry is written before the count that covers it is published. */
static const char *route_names[MAX_ROUTES]; /* unique templates, static strings */
static _Atomic size_t n_routes;
static const char *op_names[N_OPS] = {[OP_SELFCHECK] = "selfcheck", [OP_OTHER] = "other"};
static _Atomic size_t n_ops;                 /* declared operations, in op_names[0 .. n_ops) */
static const char *row_tmpl[MAX_ROUTE_ROWS]; /* every declared template pointer ... */
static size_t row_route[MAX_ROUTE_ROWS];     /* ... and its route slot */
static _Atomic size_t n_rows;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* slot hand-out, env, reset */

static struct code_map http_codes = {.n = FIRST_CODE_SLOT};
static _Atomic uint64_t http_count[MAX_ROUTES + 1][N_METHODS][KG_METRICS_MAX_CODES];
static struct hist http_hist[MAX_ROUTES + 1];
static struct hist lp_hist;

static struct code_map up_codes = {.n = FIRST_CODE_SLOT};
static _Atomic uint64_t up_count[N_OPS][KG_METRICS_MAX_CODES];
static struct hist up_hist[N_OPS];

static _Atomic uint64_t up_errors[KG_UPERR_COUNT];
static _Atomic uint64_t up_retries;
static _Atomic uint64_t up_connects;
static _Atomic uint64_t cache_hits[2]; /* [0] engine, [1] direct */
static _Atomic uint64_t log_dropped;
static _Atomic uint64_t header_timeouts;
static _Atomic uint64_t events_recorded;      /* kycgate_events_total */
static _Atomic uint64_t observations_dropped; /* kycgate_events_observations_dropped_total */
static _Atomic uint64_t reloads[2];           /* [0] failure, [1] success */
static _Atomic uint64_t reload_ts_bits;       /* a double's bits; 0 = 0.0 */

static _Atomic long long gauges[KG_GAUGE_COUNT];
static _Atomic bool known[KG_GAUGE_COUNT]; /* set once: the gauges that have no sample before */

static struct client clients[CLIENT_SLOTS];
static unsigned n_clients; /* under lock */
static _Atomic uint64_t clients_other[KG_RL_COUNT];

static char env_name[KG_METRICS_MAX_ENV_BYTES + 1]; /* under lock; "" = unknown */

/* ---- lookups ---------------------------------------------------------------------------- */

void kg_metrics_add_route(const char *tmpl)
{
	size_t rows, routes, i, j;

	if (tmpl == NULL)
		return;
	pthread_mutex_lock(&lock);
	rows = atomic_load_explicit(&n_rows, memory_order_relaxed);
	routes = atomic_load_explicit(&n_routes, memory_order_relaxed);
	for (i = 0; i < rows && row_tmpl[i] != tmpl; i++)
		;
	for (j = 0; j < routes && strcmp(route_names[j], tmpl) != 0; j++)
		;
	if (i == rows && rows < MAX_ROUTE_ROWS && (j < routes || routes < MAX_ROUTES)) {
		if (j == routes) {
			route_names[j] = tmpl;
			atomic_store_explicit(&n_routes, routes + 1, memory_order_release);
		}
		row_tmpl[rows] = tmpl;
		row_route[rows] = j;
		atomic_store_explicit(&n_rows, rows + 1, memory_order_release);
	}
	pthread_mutex_unlock(&lock);
}

void kg_metrics_add_operation(const char *operation)
{
	size_t n, i;

	if (operation == NULL)
		return;
	pthread_mutex_lock(&lock);
	n = atomic_load_explicit(&n_ops, memory_order_relaxed);
	for (i = 0; i < n && strcmp(op_names[i], operation) != 0; i++)
		;
	if (i == n && n < OP_SELFCHECK && strcmp(operation, op_names[OP_SELFCHECK]) != 0 &&
	    strcmp(operation, op_names[OP_OTHER]) != 0) {
		op_names[n] = operation;
		atomic_store_explicit(&n_ops, n + 1, memory_order_release);
	}
	pthread_mutex_unlock(&lock);
}

static size_t route_index(const char *tmpl)
{
	size_t rows = atomic_load_explicit(&n_rows, memory_order_acquire);
	size_t routes = atomic_load_explicit(&n_routes, memory_order_acquire);
	size_t i;

	if (tmpl == NULL)
		return ROUTE_UNMATCHED;
	for (i = 0; i < rows; i++)
		if (row_tmpl[i] == tmpl)
			return row_route[i];
	for (i = 0; i < routes; i++)
		if (strcmp(route_names[i], tmpl) == 0)
			return i;
	return ROUTE_UNMATCHED;
}

static size_t method_index(const char *method)
{
	size_t i;

	if (method == NULL)
		return N_METHODS - 1;
	for (i = 0; i < N_METHODS - 1; i++)
		if (strcmp(method_names[i], method) == 0)
			return i;
	return N_METHODS - 1;
}

static size_t op_index(const char *operation)
{
	size_t n = atomic_load_explicit(&n_ops, memory_order_acquire), i;

	if (operation == NULL)
		return OP_OTHER;
	for (i = 0; i < n; i++)
		if (strcmp(op_names[i], operation) == 0)
			return i;
	if (strcmp(operation, op_names[OP_SELFCHECK]) == 0)
		return OP_SELFCHECK;
	return OP_OTHER;
}

/* The k-th operation slot in rendering order (declared ones, then selfcheck, then other), of n
 * declared; N_OPS past the end. */
static size_t op_at(size_t k, size_t n)
{
	if (k < n)
		return k;
	if (k == n)
		return OP_SELFCHECK;
	return k == n + 1 ? OP_OTHER : N_OPS;
}

/* The slot of a status code in map, handing one out on first sight. */
static size_t code_slot(struct code_map *map, int status)
{
	unsigned v, n;

	if (status == 0)
		return SLOT_NONE;
	if (status < 100 || status >= MAX_STATUS)
		return SLOT_OTHER;
	v = atomic_load_explicit(&map->slot[status], memory_order_acquire);
	if (v != 0)
		return v - 1;
	pthread_mutex_lock(&lock);
	v = atomic_load_explicit(&map->slot[status], memory_order_relaxed);
	n = atomic_load_explicit(&map->n, memory_order_relaxed);
	if (v == 0 && n < KG_METRICS_MAX_CODES) {
		map->code[n] = status;
		atomic_store_explicit(&map->n, n + 1, memory_order_release);
		v = n + 1;
	} else if (v == 0) {
		v = SLOT_OTHER + 1;
	}
	atomic_store_explicit(&map->slot[status], (unsigned char)v, memory_order_release);
	pthread_mutex_unlock(&lock);
	return v - 1;
}

static void add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t get(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static void observe(struct hist *h, const struct bounds *b, double seconds)
{
	size_t i = 0;

	if (!(seconds > 0)) /* negative or NaN */
		seconds = 0;
	if (seconds > MAX_SECONDS)
		seconds = MAX_SECONDS;
	while (i < b->n && seconds > b->le[i])
		i++;
	add(&h->bucket[i], 1);
	add(&h->sum_us, (uint64_t)(seconds * 1e6 + 0.5));
}

/* ---- updates ---------------------------------------------------------------------------- */

void kg_metrics_http(const char *route_tmpl, const char *method, int status, double seconds,
                     bool longpoll)
{
	size_t r = route_index(route_tmpl);

	add(&http_count[r][method_index(method)][code_slot(&http_codes, status)], 1);
	if (longpoll)
		observe(&lp_hist, &lp_bounds, seconds);
	else
		observe(&http_hist[r], &http_bounds, seconds);
}

void kg_metrics_upstream(const char *operation, int status, double seconds)
{
	size_t op = op_index(operation);

	add(&up_count[op][code_slot(&up_codes, status)], 1);
	observe(&up_hist[op], &up_bounds, seconds);
}

void kg_metrics_upstream_error(enum kg_metrics_reason reason)
{
	if ((unsigned)reason >= KG_UPERR_COUNT)
		reason = KG_UPERR_OTHER;
	add(&up_errors[reason], 1);
}

void kg_metrics_status_cache_hit(bool direct)
{
	add(&cache_hits[direct ? 1 : 0], 1);
}

void kg_metrics_upstream_retry(void)
{
	add(&up_retries, 1);
}

void kg_metrics_upstream_connects(unsigned n)
{
	if (n > 0)
		add(&up_connects, n);
}

const char *kg_metrics_reason_name(enum kg_metrics_reason reason)
{
	return reason_names[(unsigned)reason < KG_UPERR_COUNT ? reason : KG_UPERR_OTHER];
}

static bool client_name_ok(const char *s, size_t *len)
{
	size_t i;

	if (s == NULL)
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';

		if (!ok || i == KG_METRICS_MAX_CLIENT_BYTES)
			return false;
	}
	*len = i;
	return i > 0;
}

/* Finds name's slot; NULL with *empty set to the first free slot on its probe path. */
static struct client *client_find(const char *name, size_t len, struct client **empty)
{
	uint32_t h = kg_fnv1a(name, len);
	size_t i;

	for (i = 0; i < CLIENT_SLOTS; i++) {
		struct client *c = &clients[(h + i) % CLIENT_SLOTS];

		if (!atomic_load_explicit(&c->ready, memory_order_acquire)) {
			*empty = c;
			return NULL;
		}
		if (strcmp(c->name, name) == 0)
			return c;
	}
	*empty = NULL;
	return NULL;
}

void kg_metrics_rate_limited(const char *client_name, enum kg_metrics_rl_reason reason)
{
	size_t len;
	struct client *c = NULL, *empty = NULL;

	if ((unsigned)reason >= KG_RL_COUNT)
		return;
	if (client_name_ok(client_name, &len))
		c = client_find(client_name, len, &empty);
	if (c == NULL && empty != NULL) {
		pthread_mutex_lock(&lock);
		c = client_find(client_name, len, &empty);
		if (c == NULL && empty != NULL && n_clients < KG_METRICS_MAX_CLIENTS) {
			memcpy(empty->name, client_name, len + 1);
			atomic_store_explicit(&empty->ready, 1, memory_order_release);
			n_clients++;
			c = empty;
		}
		pthread_mutex_unlock(&lock);
	}
	add(c ? &c->count[reason] : &clients_other[reason], 1);
}

void kg_metrics_gauge_set(enum kg_metrics_gauge gauge, long long value)
{
	if ((unsigned)gauge >= KG_GAUGE_COUNT)
		return;
	if (gauge == KG_GAUGE_UPSTREAM_AUTH_OK || gauge == KG_GAUGE_STORE_UP)
		value = value != 0;
	atomic_store_explicit(&gauges[gauge], value, memory_order_relaxed);
	atomic_store_explicit(&known[gauge], true, memory_order_release);
}

void kg_metrics_gauge_add(enum kg_metrics_gauge gauge, long long delta)
{
	if ((unsigned)gauge >= KG_GAUGE_COUNT || gauge == KG_GAUGE_UPSTREAM_AUTH_OK ||
	    gauge == KG_GAUGE_STORE_UP)
		return;
	atomic_fetch_add_explicit(&gauges[gauge], delta, memory_order_relaxed);
}

void kg_metrics_log_dropped(unsigned long long n)
{
	add(&log_dropped, n);
}

void kg_metrics_header_timeout(void)
{
	add(&header_timeouts, 1);
}

void kg_metrics_event_recorded(void)
{
	add(&events_recorded, 1);
}

void kg_metrics_observation_dropped(void)
{
	add(&observations_dropped, 1);
}

void kg_metrics_config_loaded(double unix_seconds)
{
	uint64_t bits;

	if (!isfinite(unix_seconds) || unix_seconds < 0)
		unix_seconds = 0;
	memcpy(&bits, &unix_seconds, sizeof(bits));
	atomic_store_explicit(&reload_ts_bits, bits, memory_order_relaxed);
}

void kg_metrics_config_reload(bool success, double unix_seconds)
{
	add(&reloads[success ? 1 : 0], 1);
	if (success)
		kg_metrics_config_loaded(unix_seconds);
}

void kg_metrics_set_build_info(const char *environment)
{
	size_t n = environment ? strnlen(environment, KG_METRICS_MAX_ENV_BYTES) : 0;

	pthread_mutex_lock(&lock);
	memcpy(env_name, environment ? environment : "", n);
	env_name[n] = '\0';
	pthread_mutex_unlock(&lock);
}

/* ---- webhooks ------------------------------------------------------------------------------ */

static const char *const wh_result_names[KG_WH_RESULT_COUNT] = {
    [KG_WH_DELIVERED] = "delivered",
    [KG_WH_RETRY] = "retry",
    [KG_WH_FAILED] = "failed",
    [KG_WH_SUPERSEDED] = "superseded",
};

/* One webhook endpoint's samples; everything under lock (updates come from the store thread a
 * few times per delivery, never from the request path). */
struct wh_slot {
	char name[KG_METRICS_MAX_CLIENT_BYTES + 1];
	bool current; /* configured now: its gauges are rendered */
	uint64_t results[KG_WH_RESULT_COUNT];
	unsigned long long pending;
	double oldest_s;
};

static struct wh_slot wh_slots[KG_METRICS_MAX_WEBHOOKS];
static size_t n_wh;                           /* under lock */
static uint64_t wh_other[KG_WH_RESULT_COUNT]; /* under lock */

/* The slot of name, added when new and there is room; NULL for "other". Under lock. */
static struct wh_slot *wh_slot(const char *name)
{
	size_t i, len;

	if (name == NULL || !client_name_ok(name, &len))
		return NULL;
	for (i = 0; i < n_wh; i++)
		if (strcmp(wh_slots[i].name, name) == 0)
			return &wh_slots[i];
	if (n_wh == KG_METRICS_MAX_WEBHOOKS)
		return NULL;
	memcpy(wh_slots[n_wh].name, name, len + 1);
	return &wh_slots[n_wh++];
}

void kg_metrics_webhook_endpoints(const char *const *names, size_t n)
{
	size_t i;

	pthread_mutex_lock(&lock);
	for (i = 0; i < n_wh; i++)
		wh_slots[i].current = false;
	for (i = 0; i < n; i++) {
		struct wh_slot *w = wh_slot(names[i]);

		if (w != NULL)
			w->current = true;
	}
	pthread_mutex_unlock(&lock);
}

void kg_metrics_webhook_result(const char *endpoint, enum kg_metrics_wh_result result,
                               unsigned long long n)
{
	struct wh_slot *w;

	if ((unsigned)result >= KG_WH_RESULT_COUNT)
		return;
	pthread_mutex_lock(&lock);
	w = wh_slot(endpoint);
	if (w != NULL)
		w->results[result] += n;
	else
		wh_other[result] += n;
	pthread_mutex_unlock(&lock);
}

void kg_metrics_webhook_backlog(const char *endpoint, unsigned long long pending, double oldest_s)
{
	struct wh_slot *w;

	pthread_mutex_lock(&lock);
	w = wh_slot(endpoint);
	if (w != NULL) {
		w->pending = pending;
		w->oldest_s = oldest_s > 0 ? oldest_s : 0;
	}
	pthread_mutex_unlock(&lock);
}

/* ---- rendering -------------------------------------------------------------------------- */

/* A growing output buffer; fail is sticky. */
struct out {
	char *p;
	size_t len, cap;
	bool fail;
};

static void put_n(struct out *o, const char *s, size_t n)
{
	if (o->fail)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 16384;
		char *p;

		while (cap < o->len + n + 1)
			cap *= 2;
		p = realloc(o->p, cap);
		if (p == NULL) {
			o->fail = true;
			return;
		}
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void put(struct out *o, const char *s)
{
	put_n(o, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void putf(struct out *o, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		o->fail = true;
		return;
	}
	put_n(o, tmp, (size_t)n);
}

/* Appends a label value escaped as the exposition format asks: \\, \" and \n. */
static void put_escaped(struct out *o, const char *s)
{
	const char *run = s;

	for (; *s != '\0'; s++) {
		const char *esc = *s == '\\'   ? "\\\\"
		                  : *s == '"'  ? "\\\""
		                  : *s == '\n' ? "\\n"
		                               : NULL;

		if (esc == NULL)
			continue;
		put_n(o, run, (size_t)(s - run));
		put(o, esc);
		run = s + 1;
	}
	put_n(o, run, (size_t)(s - run));
}

/* Appends name="value" with a leading comma unless first. */
static void put_label(struct out *o, bool first, const char *name, const char *value)
{
	if (!first)
		put(o, ",");
	put(o, name);
	put(o, "=\"");
	put_escaped(o, value);
	put(o, "\"");
}

static void family(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP ");
	put(o, name);
	put(o, " ");
	put(o, help);
	put(o, "\n# TYPE ");
	put(o, name);
	put(o, " ");
	put(o, type);
	put(o, "\n");
}

static void put_u64(struct out *o, uint64_t v)
{
	putf(o, " %llu\n", (unsigned long long)v);
}

/* Starts a sample line: name, suffix and, when lname is set, {lname="lvalue"}. */
static void put_head(struct out *o, const char *name, const char *suffix, const char *lname,
                     const char *lvalue)
{
	put(o, name);
	put(o, suffix);
	if (lname == NULL)
		return;
	put(o, "{");
	put_label(o, true, lname, lvalue);
	put(o, "}");
}

/* One histogram's samples; lname (may be NULL) names the one label put before le. */
static void put_hist(struct out *o, const char *name, const char *lname, const char *lvalue,
                     struct hist *h, const struct bounds *b)
{
	uint64_t cum = 0, sum = get(&h->sum_us);
	size_t i;

	for (i = 0; i <= b->n; i++) {
		cum += get(&h->bucket[i]);
		put(o, name);
		put(o, "_bucket{");
		if (lname != NULL)
			put_label(o, true, lname, lvalue);
		put_label(o, lname == NULL, "le", i < b->n ? b->text[i] : "+Inf");
		put(o, "}");
		put_u64(o, cum);
	}
	put_head(o, name, "_sum", lname, lvalue);
	putf(o, " %llu.%06llu\n", (unsigned long long)(sum / 1000000u),
	     (unsigned long long)(sum % 1000000u));
	put_head(o, name, "_count", lname, lvalue);
	put_u64(o, cum);
}

static uint64_t hist_total(struct hist *h, const struct bounds *b)
{
	uint64_t t = 0;
	size_t i;

	for (i = 0; i <= b->n; i++)
		t += get(&h->bucket[i]);
	return t;
}

static const char *route_label(size_t r)
{
	return r == ROUTE_UNMATCHED ? "unmatched" : route_names[r];
}

/* The code label of a slot; buf holds the digits. */
static const char *code_label(const struct code_map *map, unsigned slot, char buf[8])
{
	if (slot == SLOT_OTHER)
		return "other";
	if (slot == SLOT_NONE)
		return "none";
	snprintf(buf, 8, "%d", map->code[slot]);
	return buf;
}

/* The kycgate_http_requests_total samples of route slot r that are not 0. */
static void render_route_counts(struct out *o, size_t r, unsigned n_codes)
{
	size_t m;
	unsigned c;
	char buf[8];

	for (m = 0; m < N_METHODS; m++) {
		for (c = 0; c < n_codes; c++) {
			uint64_t v = get(&http_count[r][m][c]);

			if (v == 0)
				continue;
			put(o, "kycgate_http_requests_total{");
			put_label(o, true, "route", route_label(r));
			put_label(o, false, "method", method_names[m]);
			put_label(o, false, "code", code_label(&http_codes, c, buf));
			put(o, "}");
			put_u64(o, v);
		}
	}
}

static void render_http_count(struct out *o)
{
	unsigned n = atomic_load_explicit(&http_codes.n, memory_order_acquire);
	size_t routes = atomic_load_explicit(&n_routes, memory_order_acquire), r;

	family(o, "kycgate_http_requests_total", "counter",
	       "HTTP requests answered, by route template, method and status code.");
	for (r = 0; r < routes; r++)
		render_route_counts(o, r, n);
	render_route_counts(o, ROUTE_UNMATCHED, n);
}

static void render_http_hist(struct out *o)
{
	size_t routes = atomic_load_explicit(&n_routes, memory_order_acquire), r;

	family(o, "kycgate_http_request_duration_seconds", "histogram",
	       "Time from request start to answer, by route template (long-polls excluded).");
	for (r = 0; r <= MAX_ROUTES; r++) {
		if (r >= routes && r != ROUTE_UNMATCHED)
			continue;
		if (hist_total(&http_hist[r], &http_bounds) != 0)
			put_hist(o, "kycgate_http_request_duration_seconds", "route",
			         route_label(r), &http_hist[r], &http_bounds);
	}
	family(o, "kycgate_longpoll_duration_seconds", "histogram",
	       "Time from request start to answer of requests with ?wait.");
	put_hist(o, "kycgate_longpoll_duration_seconds", NULL, NULL, &lp_hist, &lp_bounds);
}

static void render_upstream(struct out *o)
{
	unsigned n = atomic_load_explicit(&up_codes.n, memory_order_acquire), c;
	size_t ops = atomic_load_explicit(&n_ops, memory_order_acquire), op, k;
	char buf[8];

	family(o, "kycgate_upstream_requests_total", "counter",
	       "Upstream exchanges, by operation and status code (none = no HTTP answer).");
	for (k = 0; (op = op_at(k, ops)) < N_OPS; k++) {
		for (c = 0; c < n; c++) {
			uint64_t v = get(&up_count[op][c]);

			if (v == 0)
				continue;
			put(o, "kycgate_upstream_requests_total{");
			put_label(o, true, "operation", op_names[op]);
			put_label(o, false, "code", code_label(&up_codes, c, buf));
			put(o, "}");
			put_u64(o, v);
		}
	}
	family(o, "kycgate_upstream_request_duration_seconds", "histogram",
	       "Duration of one upstream exchange, by operation.");
	for (k = 0; (op = op_at(k, ops)) < N_OPS; k++) {
		if (hist_total(&up_hist[op], &up_bounds) != 0)
			put_hist(o, "kycgate_upstream_request_duration_seconds", "operation",
			         op_names[op], &up_hist[op], &up_bounds);
	}
}

static void render_upstream_faults(struct out *o)
{
	size_t i;

	family(o, "kycgate_upstream_retries_total", "counter",
	       "Upstream attempts made after a failed attempt of the same exchange.");
	put(o, "kycgate_upstream_retries_total");
	put_u64(o, get(&up_retries));
	family(o, "kycgate_status_cache_hits_total", "counter",
	       "Status reads answered from the cache (verification.cache_ttl_ms), by where: "
	       "direct on the request's thread, or by the upstream engine.");
	put_head(o, "kycgate_status_cache_hits_total", "", "path", "direct");
	put_u64(o, get(&cache_hits[1]));
	put_head(o, "kycgate_status_cache_hits_total", "", "path", "engine");
	put_u64(o, get(&cache_hits[0]));
	family(o, "kycgate_upstream_connections_opened_total", "counter",
	       "Connections to Crossmint opened (an exchange that reused an idle one opens none).");
	put(o, "kycgate_upstream_connections_opened_total");
	put_u64(o, get(&up_connects));
	family(o, "kycgate_upstream_errors_total", "counter",
	       "Upstream exchanges that failed, by reason.");
	for (i = 0; i < KG_UPERR_COUNT; i++) {
		put_head(o, "kycgate_upstream_errors_total", "", "reason", reason_names[i]);
		put_u64(o, get(&up_errors[i]));
	}
}

/* One client's kycgate_rate_limited_total samples that are not 0. */
static void render_client(struct out *o, const char *name, _Atomic uint64_t *count)
{
	size_t r;

	for (r = 0; r < KG_RL_COUNT; r++) {
		uint64_t v = get(&count[r]);

		if (v == 0)
			continue;
		put(o, "kycgate_rate_limited_total{");
		put_label(o, true, "client", name);
		put_label(o, false, "reason", rl_reason_names[r]);
		put(o, "}");
		put_u64(o, v);
	}
}

static void render_clients(struct out *o)
{
	size_t i;

	family(
	    o, "kycgate_rate_limited_total", "counter",
	    "Requests answered 429, by client name and reason: client (the per-client limit), "
	    "upstream-budget (the gateway's upstream rate budget), crossmint (Crossmint's 429).");
	for (i = 0; i < CLIENT_SLOTS; i++) {
		struct client *c = &clients[i];

		if (atomic_load_explicit(&c->ready, memory_order_acquire))
			render_client(o, c->name, c->count);
	}
	render_client(o, "other", clients_other);
}

static void gauge(struct out *o, const char *name, const char *help, enum kg_metrics_gauge g)
{
	family(o, name, "gauge", help);
	if ((g == KG_GAUGE_UPSTREAM_AUTH_OK || g == KG_GAUGE_STORE_UP) &&
	    !atomic_load_explicit(&known[g], memory_order_acquire))
		return;
	putf(o, "%s %lld\n", name, atomic_load_explicit(&gauges[g], memory_order_relaxed));
}

static void render_gauges(struct out *o)
{
	gauge(o, "kycgate_circuit_breaker_state",
	      "Upstream circuit breaker: 0 closed, 1 open, 2 half-open.", KG_GAUGE_CIRCUIT_STATE);
	gauge(o, "kycgate_inflight_requests", "Requests being handled now.", KG_GAUGE_INFLIGHT);
	gauge(o, "kycgate_longpoll_waiting", "Long-poll requests waiting now.",
	      KG_GAUGE_LONGPOLL_WAITING);
	gauge(o, "kycgate_upstream_auth_ok",
	      "1 when the start-up self-check found the API key accepted, 0 when refused; "
	      "no sample until it ran.",
	      KG_GAUGE_UPSTREAM_AUTH_OK);
	gauge(o, "kycgate_store_up",
	      "1 while the store is usable, 0 when it failed (routes that need it answer 503); "
	      "no sample without a store.",
	      KG_GAUGE_STORE_UP);
	gauge(o, "kycgate_upstream_inflight",
	      "Places of crossmint.max_inflight held now: calls queued, waiting or inside curl "
	      "(a long-poll waiter holds none; its user's re-read holds one while it runs).",
	      KG_GAUGE_UPSTREAM_INFLIGHT);
	family(o, "kycgate_watches", "gauge",
	       "Watched users (design §10), by kind: automatic (after a trigger, until settled) "
	       "or explicit (PUT .../watch).");
	putf(o, "kycgate_watches{kind=\"automatic\"} %lld\n",
	     atomic_load_explicit(&gauges[KG_GAUGE_WATCHES_AUTOMATIC], memory_order_relaxed));
	putf(o, "kycgate_watches{kind=\"explicit\"} %lld\n",
	     atomic_load_explicit(&gauges[KG_GAUGE_WATCHES_EXPLICIT], memory_order_relaxed));
	family(o, "kycgate_watch_lag_seconds", "gauge",
	       "How overdue the most overdue watch poll is (late when the read budget is short).");
	putf(o, "kycgate_watch_lag_seconds %.3f\n",
	     (double)atomic_load_explicit(&gauges[KG_GAUGE_WATCH_LAG_MS], memory_order_relaxed) /
	         1000.0);
}

static void render_wh_results(struct out *o, const char *name, const uint64_t *results)
{
	size_t r;

	for (r = 0; r < KG_WH_RESULT_COUNT; r++) {
		put(o, "kycgate_webhook_deliveries_total{");
		put_label(o, true, "endpoint", name);
		put_label(o, false, "result", wh_result_names[r]);
		put(o, "}");
		put_u64(o, results[r]);
	}
}

static void render_webhooks(struct out *o)
{
	size_t i, r;
	bool other = false;

	pthread_mutex_lock(&lock);
	family(o, "kycgate_webhook_deliveries_total", "counter",
	       "Webhook delivery attempts and outcomes, by endpoint and result: delivered, retry "
	       "(failed, another attempt scheduled), failed, superseded.");
	for (i = 0; i < n_wh; i++)
		render_wh_results(o, wh_slots[i].name, wh_slots[i].results);
	for (r = 0; r < KG_WH_RESULT_COUNT; r++)
		other |= wh_other[r] != 0;
	if (other)
		render_wh_results(o, "other", wh_other);
	family(o, "kycgate_webhook_pending", "gauge",
	       "Webhook deliveries waiting (first attempt or retry), by configured endpoint.");
	for (i = 0; i < n_wh; i++)
		if (wh_slots[i].current) {
			put_head(o, "kycgate_webhook_pending", "", "endpoint", wh_slots[i].name);
			put_u64(o, wh_slots[i].pending);
		}
	family(
	    o, "kycgate_webhook_oldest_pending_seconds", "gauge",
	    "Age of the event of the oldest waiting delivery, by configured endpoint (0: none).");
	for (i = 0; i < n_wh; i++)
		if (wh_slots[i].current) {
			put_head(o, "kycgate_webhook_oldest_pending_seconds", "", "endpoint",
			         wh_slots[i].name);
			putf(o, " %.3f\n", wh_slots[i].oldest_s);
		}
	pthread_mutex_unlock(&lock);
}

static void render_process(struct out *o)
{
	uint64_t bits = atomic_load_explicit(&reload_ts_bits, memory_order_relaxed);
	char env[KG_METRICS_MAX_ENV_BYTES + 1];
	double ts;

	memcpy(&ts, &bits, sizeof(ts));
	family(o, "kycgate_log_lines_dropped_total", "counter",
	       "Log lines dropped because the log output was not keeping up.");
	put(o, "kycgate_log_lines_dropped_total");
	put_u64(o, get(&log_dropped));
	family(o, "kycgate_http_header_timeouts_total", "counter",
	       "Client connections closed because a request head was not complete in time.");
	put(o, "kycgate_http_header_timeouts_total");
	put_u64(o, get(&header_timeouts));
	family(o, "kycgate_events_total", "counter",
	       "Events recorded: observations that changed a user's state (design §10).");
	put(o, "kycgate_events_total");
	put_u64(o, get(&events_recorded));
	family(o, "kycgate_events_observations_dropped_total", "counter",
	       "Observations not recorded because the store was down or its queue full.");
	put(o, "kycgate_events_observations_dropped_total");
	put_u64(o, get(&observations_dropped));
	family(o, "kycgate_config_reloads_total", "counter", "Config reloads, by result.");
	put_head(o, "kycgate_config_reloads_total", "", "result", "success");
	put_u64(o, get(&reloads[1]));
	put_head(o, "kycgate_config_reloads_total", "", "result", "failure");
	put_u64(o, get(&reloads[0]));
	family(o, "kycgate_config_last_reload_success_timestamp_seconds", "gauge",
	       "Unix time of the last successful config load or reload.");
	putf(o, "kycgate_config_last_reload_success_timestamp_seconds %.3f\n", ts);
	pthread_mutex_lock(&lock);
	memcpy(env, env_name, sizeof(env));
	pthread_mutex_unlock(&lock);
	family(o, "kycgate_build_info", "gauge", "Always 1; labels give version and environment.");
	put(o, "kycgate_build_info{");
	put_label(o, true, "version", KG_VERSION);
	put_label(o, false, "environment", env[0] ? env : "unknown");
	put(o, "} 1\n");
}

char *kg_metrics_render(size_t *len)
{
	struct out o = {0};

	render_http_count(&o);
	render_http_hist(&o);
	render_upstream(&o);
	render_upstream_faults(&o);
	render_clients(&o);
	render_gauges(&o);
	render_webhooks(&o);
	render_process(&o);
	if (o.fail) {
		free(o.p);
		return NULL;
	}
	if (len != NULL)
		*len = o.len;
	return o.p;
}
