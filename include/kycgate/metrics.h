/* Process-wide Prometheus metrics (design §5, "GET /metrics").
 *
 * One set of counters, gauges and histograms for the whole process, kept in fixed static tables of
 * atomics: the update functions take no lock and allocate nothing on the request path (a mutex is
 * taken only the first time a status code, a client name or the environment is seen, so at most a
 * few hundred times in the life of the process). Every update function is thread-safe and may be
 * called from any thread at any rate; kg_metrics_render() may run at the same time and sees each
 * counter at some recent value (a histogram's _count always equals its +Inf bucket).
 *
 * Label values are bounded and carry no personal data: route templates declared by the gateway,
 * methods, status codes, operation names, fixed reasons and client names from the config. Anything
 * else folds into a fixed value ("unmatched", "other"). */
#ifndef KYCGATE_METRICS_H
#define KYCGATE_METRICS_H

#include <stdbool.h>
#include <stddef.h>

/* Distinct status codes kept per family (HTTP, upstream), "none" and "other" included; codes
 * first seen after that are counted as code="other". */
#define KG_METRICS_MAX_CODES 32
/* Distinct client names in kycgate_rate_limited_total; later new names count as client="other". */
#define KG_METRICS_MAX_CLIENTS 256
/* Longest client name kept as a label ([A-Za-z0-9._-]{1,64}, as in the config). */
#define KG_METRICS_MAX_CLIENT_BYTES 64
/* Longest environment name kept in kycgate_build_info (longer ones are cut). */
#define KG_METRICS_MAX_ENV_BYTES 64

/* The fixed reasons of kycgate_upstream_errors_total{reason}. */
enum kg_metrics_reason {
	KG_UPERR_TIMEOUT = 0,      /* "timeout": connect or total deadline passed */
	KG_UPERR_CONNECT,          /* "connect": DNS, TCP or TLS set-up failed */
	KG_UPERR_RESET,            /* "reset": connection closed without a full answer */
	KG_UPERR_TOO_LARGE,        /* "too_large": answer over the response-size cap */
	KG_UPERR_INVALID_RESPONSE, /* "invalid_response": unparsable or unexpected body */
	KG_UPERR_STATUS_5XX,       /* "status_5xx" */
	KG_UPERR_STATUS_3XX,       /* "status_3xx": a redirect (never followed) */
	KG_UPERR_AUTH,             /* "auth": 401 / 403 from upstream */
	KG_UPERR_SHUTDOWN,         /* "shutdown": abandoned at the end of the shutdown grace */
	KG_UPERR_OTHER,            /* "other" */
	KG_UPERR_COUNT
};

/* The fixed reasons of kycgate_rate_limited_total{client,reason}: who refused the request. */
enum kg_metrics_rl_reason {
	KG_RL_CLIENT = 0,      /* "client": the caller's own per-client limit */
	KG_RL_UPSTREAM_BUDGET, /* "upstream-budget": the gateway's upstream rate budget was spent */
	KG_RL_CROSSMINT,       /* "crossmint": Crossmint answered 429 */
	KG_RL_COUNT
};

/* The gauges set or moved by other modules:
 * circuit state   kycgate_circuit_breaker_state (enum kg_metrics_circuit: 0 closed, 1 open,
 *                 2 half-open), set by the upstream engine;
 * inflight        kycgate_inflight_requests, +1 / -1 around each request;
 * longpoll        kycgate_longpoll_waiting, +1 / -1 around each ?wait;
 * upstream auth   kycgate_upstream_auth_ok, 1 / 0 from the start-up self-check; no sample is
 *                 rendered until it is first set (absent means "not known yet");
 * store up        kycgate_store_up, 1 / 0 set by the store (src/store.c); no sample without a
 *                 store (store.driver: none);
 * watches         kycgate_watches{kind} and kycgate_watch_lag_seconds, set by the watch
 *                 scheduler (src/watch.c); 0 without a store. */
enum kg_metrics_gauge {
	KG_GAUGE_CIRCUIT_STATE = 0,
	KG_GAUGE_INFLIGHT,
	KG_GAUGE_LONGPOLL_WAITING,
	KG_GAUGE_UPSTREAM_AUTH_OK,
	KG_GAUGE_STORE_UP,
	KG_GAUGE_WATCHES_AUTOMATIC, /* kycgate_watches{kind="automatic"}, set by watch.c */
	KG_GAUGE_WATCHES_EXPLICIT,  /* kycgate_watches{kind="explicit"}, set by watch.c */
	KG_GAUGE_WATCH_LAG_MS,      /* kycgate_watch_lag_seconds (kept in ms), set by watch.c */
	KG_GAUGE_UPSTREAM_INFLIGHT, /* kycgate_upstream_inflight: places of max_inflight held */
	KG_GAUGE_COUNT
};

/* Values of KG_GAUGE_CIRCUIT_STATE (the same numbers as enum kg_breaker_state). */
enum kg_metrics_circuit { KG_CIRCUIT_CLOSED = 0, KG_CIRCUIT_OPEN = 1, KG_CIRCUIT_HALF_OPEN = 2 };

/* Declares a route template that may become a route label (the gateway declares every row of its
 * route table at start; a template declared again, by the same or another pointer, keeps one
 * label). tmpl is borrowed for the life of the process (a static string). Past 32 distinct
 * templates, later ones stay undeclared. Thread-safe. */
void kg_metrics_add_route(const char *tmpl);

/* Counts one answered request: kycgate_http_requests_total{route,method,code} and one observation
 * of kycgate_http_request_duration_seconds{route}, or, when longpoll is true (a ?wait request), of
 * kycgate_longpoll_duration_seconds instead. route_tmpl is a declared template
 * (kg_metrics_add_route; compared by pointer, then by content) or NULL for an unmatched path; any
 * other string also counts as route="unmatched", so a raw path can never become a label. method
 * outside GET PUT POST DELETE HEAD counts as "other"; status outside 100..599 as code="other".
 * seconds below zero or NaN count as 0. Borrows its strings for the call only. Thread-safe,
 * lock-free after the first sight of each status code. */
void kg_metrics_http(const char *route_tmpl, const char *method, int status, double seconds,
                     bool longpoll);

/* Declares an operation name that may become an operation label (the gateway declares the
 * operation of every upstream route of its table at start, in table order; a name declared again
 * keeps one label). operation is borrowed for the life of the process (a static string). Past 30
 * distinct names, later ones stay undeclared. "selfcheck" and "other" are always there.
 * Thread-safe. */
void kg_metrics_add_operation(const char *operation);

/* Counts one upstream exchange: kycgate_upstream_requests_total{operation,code} and one observation
 * of kycgate_upstream_request_duration_seconds{operation}. operation is a declared name
 * (kg_metrics_add_operation) or selfcheck (anything else, NULL included, counts as "other").
 * status 0 (no HTTP answer) gives code="none". Thread-safe, as kg_metrics_http(). */
void kg_metrics_upstream(const char *operation, int status, double seconds);

/* Adds one to kycgate_upstream_errors_total{reason}; out-of-range reasons count as "other".
 * Thread-safe, lock-free. */
void kg_metrics_upstream_error(enum kg_metrics_reason reason);

/* Adds one to kycgate_upstream_retries_total: an attempt made after a failed one of the same
 * exchange. Thread-safe, lock-free. */
void kg_metrics_upstream_retry(void);

/* Adds one to kycgate_status_cache_hits_total{path}: a status read answered from the cache,
 * on the request's own thread (direct: kg_upstream_try_cached) or by the engine. Thread-safe,
 * lock-free. */
void kg_metrics_status_cache_hit(bool direct);

/* Adds n to kycgate_upstream_connections_opened_total (connections an attempt had to open). */
void kg_metrics_upstream_connects(unsigned n);

/* The label value of a reason ("connect"); "other" when out of range. Static. */
const char *kg_metrics_reason_name(enum kg_metrics_reason reason);

/* Adds one to kycgate_rate_limited_total{client,reason}: a request answered 429, by the caller's
 * name and what refused it. client_name is a configured client's name; a name that breaks
 * [A-Za-z0-9._-]{1,64}, NULL, or a new name once KG_METRICS_MAX_CLIENTS are known counts as
 * client="other". An out-of-range reason is not counted. Only (client, reason) pairs counted at
 * least once are rendered. The name is copied. Thread-safe; locks only to add a new name. */
void kg_metrics_rate_limited(const char *client_name, enum kg_metrics_rl_reason reason);

/* Sets a gauge. For KG_GAUGE_UPSTREAM_AUTH_OK, any non-zero value is stored as 1, and the first
 * call makes the sample appear (until then the gauge has no sample: the self-check has not run).
 * Thread-safe, lock-free. */
void kg_metrics_gauge_set(enum kg_metrics_gauge gauge, long long value);

/* Adds delta (may be negative) to a gauge, for KG_GAUGE_INFLIGHT and KG_GAUGE_LONGPOLL_WAITING.
 * Thread-safe, lock-free. */
void kg_metrics_gauge_add(enum kg_metrics_gauge gauge, long long delta);

/* Adds n to kycgate_log_lines_dropped_total. Thread-safe, lock-free. */
void kg_metrics_log_dropped(unsigned long long n);

/* Adds one to kycgate_http_header_timeouts_total: a client connection closed because its request
 * head was not complete within server.header_timeout_s. Thread-safe, lock-free. */
void kg_metrics_header_timeout(void);

/* An event was recorded (kycgate_events_total); an observation was dropped because the store
 * was down or its queue full (kycgate_events_observations_dropped_total). Thread-safe. */
void kg_metrics_event_recorded(void);
void kg_metrics_observation_dropped(void);

/* Counts one config reload in kycgate_config_reloads_total{result="success"|"failure"}; on success
 * also sets kycgate_config_last_reload_success_timestamp_seconds to unix_seconds. Thread-safe. */
void kg_metrics_config_reload(bool success, double unix_seconds);

/* Sets kycgate_config_last_reload_success_timestamp_seconds without counting a reload (the first
 * load at start-up). Until called it is 0. Thread-safe. */
void kg_metrics_config_loaded(double unix_seconds);

/* Sets the environment label of kycgate_build_info{version,environment} (version is KG_VERSION).
 * Copied, cut at KG_METRICS_MAX_ENV_BYTES; NULL or never set renders "unknown". Thread-safe. */
void kg_metrics_set_build_info(const char *environment);

/* Webhook endpoints kept as labels (names come from the config, never from requests); names
 * first seen after that are counted as endpoint="other". */
#define KG_METRICS_MAX_WEBHOOKS 128

/* The results of kycgate_webhook_deliveries_total{endpoint,result}. */
enum kg_metrics_wh_result {
	KG_WH_DELIVERED = 0, /* "delivered": a 2xx */
	KG_WH_RETRY,         /* "retry": an attempt failed, another is scheduled */
	KG_WH_FAILED,        /* "failed": a 410, or the retry schedule ran out */
	KG_WH_SUPERSEDED,    /* "superseded": a newer event of the user took its place */
	KG_WH_RESULT_COUNT
};

/* The endpoints configured now (start, reload): only they have kycgate_webhook_pending and
 * kycgate_webhook_oldest_pending_seconds samples; counters of every endpoint ever seen stay.
 * Names are copied. Thread-safe (takes a lock: not for the request path). */
void kg_metrics_webhook_endpoints(const char *const *names, size_t n);

/* Adds n to kycgate_webhook_deliveries_total{endpoint,result}. Thread-safe (takes a lock). */
void kg_metrics_webhook_result(const char *endpoint, enum kg_metrics_wh_result result,
                               unsigned long long n);

/* Sets kycgate_webhook_pending{endpoint} and kycgate_webhook_oldest_pending_seconds{endpoint}
 * (0 when nothing is pending). Thread-safe (takes a lock). */
void kg_metrics_webhook_backlog(const char *endpoint, unsigned long long pending, double oldest_s);

/* Renders every metric family in the Prometheus text exposition format 0.0.4 (# HELP, # TYPE,
 * samples; histograms as cumulative _bucket{le} up to +Inf, _sum and _count). Returns a new
 * NUL-terminated string (caller frees with free()) and stores its length in *len when len is not
 * NULL; NULL when memory ran out. Thread-safe; runs alongside the update functions. */
char *kg_metrics_render(size_t *len);

#endif
