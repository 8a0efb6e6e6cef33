/* Log lines on stdout: each line is built in a stack buffer and written with one write() of at
 * most KG_LOG_LINE_MAX bytes, so lines from threads never interleave; stdout is non-blocking once
 * kg_log_nonblocking() ran, and a line that would block is dropped and counted (design §5).
 * Redaction lives here: the locator only ever leaves as a keyed hash. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kycgate/log.h"
#include "kycgate/metrics.h"
#include "kycgate/sha256.h"

static atomic_int threshold = KG_LOG_INFO;
static atomic_int format = KG_LOG_JSON;

static pthread_mutex_t key_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char hash_key[64];
static size_t hash_key_len;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void kg_log_setup(enum kg_log_level level, enum kg_log_format fmt)
{
	atomic_store(&threshold, (int)level);
	atomic_store(&format, (int)fmt);
}

void kg_log_nonblocking(void)
{
	int fl = fcntl(STDOUT_FILENO, F_GETFL);

	if (fl >= 0)
		fcntl(STDOUT_FILENO, F_SETFL, fl | O_NONBLOCK);
}

void kg_log_set_locator_key(const unsigned char *key, size_t len)
{
	unsigned char digest[KG_SHA256_DIGEST_LEN];

	pthread_mutex_lock(&key_lock);
	/* HMAC hashes long keys first; keep the short form (if GnuTLS cannot hash, every later
	 * kg_log_locator_hash() fails too and writes no hash). */
	if (len > sizeof(hash_key)) {
		(void)kg_sha256(key, len, digest);
		key = digest;
		len = sizeof(digest);
	}
	memcpy(hash_key, key, len);
	hash_key_len = len;
	pthread_mutex_unlock(&key_lock);
	kg_wipe(digest, sizeof(digest));
}

void kg_log_locator_hash(const char *locator, char out[KG_LOCATOR_HASH_LEN + 1])
{
	unsigned char mac[KG_SHA256_DIGEST_LEN];
	enum kg_err e;
	size_t i;

	pthread_mutex_lock(&key_lock);
	e = kg_hmac_sha256(hash_key, hash_key_len, locator, strlen(locator), mac);
	pthread_mutex_unlock(&key_lock);
	out[0] = '\0';
	if (e != KG_OK)
		return;
	for (i = 0; i < KG_LOCATOR_HASH_LEN / 2; i++) {
		out[2 * i] = "0123456789abcdef"[mac[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[mac[i] & 15];
	}
	out[KG_LOCATOR_HASH_LEN] = '\0';
}

/* ---- line building -------------------------------------------------------------------------- */

struct line {
	char buf[KG_LOG_LINE_MAX];
	size_t len;
	bool json;
	bool cut; /* a field did not fit and was left out */
};

/* Appends n bytes when they fit whole, keeping room for the closing "}\n". */
static bool put(struct line *l, const char *s, size_t n)
{
	if (l->len + n + 2 > sizeof(l->buf)) {
		l->cut = true;
		return false;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
	return true;
}

/* JSON string escaping into out (also used in text mode, so a value cannot forge a line).
 * Returns false when s did not fit whole. */
static bool escape(const char *s, char *out, size_t cap)
{
	size_t n = 0;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (n + 7 >= cap) {
			out[n] = '\0';
			return false;
		}
		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
		} else {
			out[n++] = (char)c;
		}
	}
	out[n] = '\0';
	return true;
}

/* The access line is written for every request: its fields are escaped straight into the line
 * (no snprintf, no intermediate buffers), as escape() would, with the same bound on one value. */
static bool put_raw(struct line *l, const char *s)
{
	size_t n = strlen(s);

	if (l->len + n + 2 > sizeof(l->buf))
		return false;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
	return true;
}

static bool put_escaped(struct line *l, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t start = l->len, n = l->len;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		/* Room for the longest escape and the closing quote and "}\n". */
		if (n + 9 > sizeof(l->buf) || n - start + 7 >= KG_LOG_LINE_MAX / 2)
			return false;
		if (c == '"' || c == '\\') {
			l->buf[n++] = '\\';
			l->buf[n++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(l->buf + n, "\\u00", 4);
			l->buf[n + 4] = hex[c >> 4];
			l->buf[n + 5] = hex[c & 15];
			n += 6;
		} else {
			l->buf[n++] = (char)c;
		}
	}
	l->len = n;
	return true;
}

/* One key/value; quoted says whether the value is a JSON string. The field goes in whole or not
 * at all (then the line says "truncated"). */
static void put_field(struct line *l, const char *key, const char *val, bool quoted)
{
	size_t start = l->len;
	bool ok;

	if (l->json)
		ok = put_raw(l, ",\"") && put_raw(l, key) && put_raw(l, quoted ? "\":\"" : "\":") &&
		     put_escaped(l, val) && (!quoted || put_raw(l, "\""));
	else
		ok = put_raw(l, " ") && put_raw(l, key) && put_raw(l, "=") && put_escaped(l, val);
	if (!ok) {
		l->len = start;
		l->cut = true;
	}
}

/* v in decimal into out (at least 21 bytes); its length. */
static size_t fmt_ull(unsigned long long v, char *out)
{
	char rev[21];
	size_t n = 0, i;

	do {
		rev[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	for (i = 0; i < n; i++)
		out[i] = rev[n - 1 - i];
	out[n] = '\0';
	return n;
}

static void put_ull(struct line *l, const char *key, unsigned long long v)
{
	char num[24];

	fmt_ull(v, num);
	put_field(l, key, num, false);
}

static void put_long(struct line *l, const char *key, long v)
{
	char num[24];

	if (v < 0) {
		num[0] = '-';
		fmt_ull(0ULL - (unsigned long long)v, num + 1);
	} else {
		fmt_ull((unsigned long long)v, num);
	}
	put_field(l, key, num, false);
}

/* Milliseconds as "%.3f" prints them; snprintf only for what is not a plain duration. */
static void put_ms(struct line *l, const char *key, double ms)
{
	char num[48];

	if (ms >= 0 && ms < 1e15) {
		unsigned long long us = (unsigned long long)(ms * 1000.0 + 0.5);
		size_t n = fmt_ull(us / 1000, num);

		num[n] = '.';
		num[n + 1] = (char)('0' + us / 100 % 10);
		num[n + 2] = (char)('0' + us / 10 % 10);
		num[n + 3] = (char)('0' + us % 10);
		num[n + 4] = '\0';
	} else {
		snprintf(num, sizeof(num), "%.3f", ms);
	}
	put_field(l, key, num, false);
}

/* The time's text to the second, kept per thread: gmtime_r and its formatting run once a second
 * per thread instead of once per line. */
static _Thread_local time_t stamp_sec = (time_t)-1;
static _Thread_local char stamp[64];

static void begin_line(struct line *l, enum kg_log_level level, const char *event)
{
	struct timespec ts;
	long ms;

	l->json = atomic_load(&format) == KG_LOG_JSON;
	l->len = 0;
	l->cut = false;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != stamp_sec) {
		struct tm tm;

		gmtime_r(&ts.tv_sec, &tm);
		snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
		         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		stamp_sec = ts.tv_sec;
	}
	ms = ts.tv_nsec / 1000000;
	put_raw(l, l->json ? "{\"time\":\"" : "");
	put_raw(l, stamp);
	l->buf[l->len++] = '.';
	l->buf[l->len++] = (char)('0' + ms / 100);
	l->buf[l->len++] = (char)('0' + ms / 10 % 10);
	l->buf[l->len++] = (char)('0' + ms % 10);
	put_raw(l, l->json ? "Z\",\"level\":\"" : "Z ");
	put_raw(l, level_names[level]);
	put_raw(l, l->json ? "\",\"event\":\"" : " ");
	put_escaped(l, event);
	if (l->json)
		put_raw(l, "\"");
}

static void end_line(struct line *l)
{
	ssize_t w;

	if (l->cut)
		put_field(l, "truncated", "true", false);
	if (l->json)
		l->buf[l->len++] = '}';
	l->buf[l->len++] = '\n';
	do {
		w = write(STDOUT_FILENO, l->buf, l->len);
	} while (w < 0 && errno == EINTR);
	if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		kg_metrics_log_dropped(1);
}

void kg_log(enum kg_log_level level, const char *event, ...)
{
	struct line l;
	const char *key;
	va_list ap;

	if ((int)level < atomic_load(&threshold))
		return;
	begin_line(&l, level, event);
	l.cut = false;
	va_start(ap, event);
	while ((key = va_arg(ap, const char *)) != NULL)
		put_field(&l, key, va_arg(ap, const char *), true);
	va_end(ap);
	end_line(&l);
}

void kg_log_access(const struct kg_access *a)
{
	struct line l;

	if (KG_LOG_INFO < atomic_load(&threshold))
		return;
	begin_line(&l, a->status >= 500 ? KG_LOG_WARN : KG_LOG_INFO, "request");
	put_field(&l, "requestId", a->request_id, true);
	put_field(&l, "client", a->client ? a->client : "", true);
	put_field(&l, "remote", a->remote ? a->remote : "", true);
	put_field(&l, "method", a->method, true);
	put_field(&l, "route", a->route ? a->route : "unmatched", true);
	put_long(&l, "status", a->status);
	put_field(&l, "outcome", a->outcome, true);
	put_ms(&l, "duration_ms", a->duration_ms);
	if (a->upstream_status >= 0) {
		put_long(&l, "upstream_status", a->upstream_status);
		put_ms(&l, "upstream_ms", a->upstream_ms);
		put_ull(&l, "attempts", a->attempts);
	}
	if (a->user_hash != NULL)
		put_field(&l, "user", a->user_hash, true);
	end_line(&l);
}

/* Appends ,"key":["a","b"] (JSON) or  key=a,b (text) with each id escaped; all ids or none. */
static void put_list(struct line *l, const char *key, const char *const *ids, size_t n)
{
	char field[KG_LOG_LINE_MAX], esc[KG_LOG_LINE_MAX / 2];
	size_t used, i;
	int k;

	k = snprintf(field, sizeof(field), l->json ? ",\"%s\":[" : " %s=", key);
	used = (size_t)k;
	for (i = 0; i < n; i++) {
		if (!escape(ids[i], esc, sizeof(esc)))
			goto cut;
		k = snprintf(field + used, sizeof(field) - used, l->json ? "%s\"%s\"" : "%s%s",
		             i > 0 ? "," : "", esc);
		if (k < 0 || (size_t)k >= sizeof(field) - used)
			goto cut;
		used += (size_t)k;
	}
	if (l->json) {
		if (used + 1 >= sizeof(field))
			goto cut;
		field[used++] = ']';
	}
	put(l, field, used);
	return;
cut:
	l->cut = true;
}

void kg_log_flight(const struct kg_flight_log *f)
{
	struct line l;
	char num[32];

	if (KG_LOG_INFO < atomic_load(&threshold))
		return;
	begin_line(&l, KG_LOG_INFO, "upstream-flight");
	l.cut = false;
	put_field(&l, "requestId", f->request_id, true);
	put_list(&l, "joined", f->joined, f->n_joined);
	snprintf(num, sizeof(num), "%zu", f->n_more);
	put_field(&l, "joined_more", num, false);
	snprintf(num, sizeof(num), "%ld", f->upstream_status);
	put_field(&l, "upstream_status", num, false);
	snprintf(num, sizeof(num), "%.3f", f->upstream_ms);
	put_field(&l, "upstream_ms", num, false);
	end_line(&l);
}
