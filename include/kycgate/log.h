/* Log lines on stdout (design §5): event lines and one access line per request, JSON or text, of
 * at most KG_LOG_LINE_MAX bytes each; once the writer runs (kg_log_writer_start) they go out in
 * batches from its thread, and a line that finds its ring full is dropped and counted. Redaction is
 * done here: callers pass only values that are safe to log (never bodies, tokens, keys, locators or
 * upstream URLs; curl's error text only as cleaned by kg_up_error_text()); the locator leaves only
 * as kg_log_locator_hash(). Every function is thread-safe; never call one from a signal handler. */
#ifndef KYCGATE_LOG_H
#define KYCGATE_LOG_H

#include <stdbool.h>
#include <stddef.h>

#define KG_LOG_LINE_MAX 4096
#define KG_LOCATOR_HASH_LEN 12 /* hex characters of HMAC-SHA-256 */

/* Levels, lowest first: a line is written when its level is at least the threshold. */
enum kg_log_level { KG_LOG_DEBUG = 0, KG_LOG_INFO, KG_LOG_WARN, KG_LOG_ERROR };

/* Line formats: one JSON object per line, or text for humans. */
enum kg_log_format { KG_LOG_JSON = 0, KG_LOG_TEXT };

/* Sets the threshold and the format (start and reload). */
void kg_log_setup(enum kg_log_level level, enum kg_log_format format);

/* Makes stdout non-blocking and starts the writer thread (all signals blocked on it): from then
 * on no thread that logs waits on the disk or a stalled reader. False: it could not start, and
 * lines keep going out one write() each. */
bool kg_log_writer_start(void);

/* Writes what waits (a stalled reader gets about two seconds) and stops the writer; lines logged
 * afterwards are written directly again. */
void kg_log_writer_stop(void);

/* Sets the key of the locator hash (log.locator_hash_key, or random per process); copied. */
void kg_log_set_locator_key(const unsigned char *key, size_t len);

/* The first KG_LOCATOR_HASH_LEN hex characters of HMAC-SHA-256(key, locator); "" when GnuTLS
 * cannot compute it (see sha256.h), never anything derived from the locator otherwise. */
void kg_log_locator_hash(const char *locator, char out[KG_LOCATOR_HASH_LEN + 1]);

/* Writes one event line: level, event name and pairs of (const char *key, const char *value)
 * ending with NULL; values are escaped. Lines below the threshold are skipped. */
void kg_log(enum kg_log_level level, const char *event, ...);

/* One request, as the access line records it: the audit trail of who touched which user. */
struct kg_access {
	const char *request_id;
	const char *client; /* client name, or NULL */
	const char *remote; /* remote address */
	const char *method;
	const char *route; /* route template, NULL when none matched (never the path) */
	int status;
	const char *outcome; /* "ok" or the problem code */
	double duration_ms;
	long upstream_status; /* -1: no upstream call; 0: no HTTP answer */
	double upstream_ms;
	unsigned attempts;
	const char *user_hash; /* kg_log_locator_hash of the locator, or NULL */
};

/* Writes the access line (level info, warn for 5xx). */
void kg_log_access(const struct kg_access *a);

/* Request ids named in one upstream-flight line; more joined reads are only counted. */
#define KG_LOG_MAX_JOINED 16

/* One upstream read shared by several status reads (single flight): only the request id of the
 * read that started it went to Crossmint, so this line ties the others to it. */
struct kg_flight_log {
	const char *request_id; /* the one sent upstream (X-Request-Id) */
	const char *const
	    *joined; /* request ids of the reads that joined, at most KG_LOG_MAX_JOINED */
	size_t n_joined;
	size_t n_more;        /* joined reads beyond the named ones */
	long upstream_status; /* 0: no HTTP answer */
	double upstream_ms;
};

/* Writes the upstream-flight line (level info): requestId, joined (a JSON array; comma-separated
 * in text), joined_more, upstream_status, upstream_ms. Borrows f for the call only. */
void kg_log_flight(const struct kg_flight_log *f);

#endif
