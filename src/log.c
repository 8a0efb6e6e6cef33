/* Log lines on stdout: each line is built in a stack buffer of at most KG_LOG_LINE_MAX bytes.
 * Once kg_log_writer_start() ran, a line is copied into a ring and one writer thread writes the
 * ring to stdout in batches, so no request thread ever waits on the disk or on a pipe's reader
 * (design §5 and §8: write() to a regular file blocks whatever O_NONBLOCK says, behind the
 * filesystem's journal and the file's lock), and lines never interleave; a line that finds the
 * ring full is dropped and counted. Before the writer starts and after it stops, each line is
 * one write(). Redaction lives here: the locator only ever leaves as a keyed hash. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
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

/* ---- the writer --------------------------------------------------------------------------- */

/* Lines waiting for the writer: at the fast benchmark's 25,000 access lines a second, about 60 ms
 * of a stalled disk or reader; at 1,000 a second, about 1.5 s. */
#define RING_BYTES (512 * 1024)
#define BATCH_MS 10             /* the writer gathers lines this long before one write ... */
#define BATCH_BYTES (64 * 1024) /* ... unless this much is waiting */
#define STALL_POLL_MS 100       /* a full pipe: how long one wait for room lasts */
#define STOP_WAIT_MS 2000       /* at stop: the longest wait for a stalled reader */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char *buf;   /* RING_BYTES */
	size_t head; /* the oldest byte not written yet */
	size_t len;  /* bytes waiting */
	bool open;   /* the writer takes lines (under lock: a line never lands after it left) */
	bool idle;   /* the writer sleeps until a line comes */
	bool stopping;
	pthread_t thread;
} ring = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
static atomic_bool ring_on; /* lines go through the ring */

static void write_direct(const char *p, size_t n)
{
	ssize_t w;

	do {
		w = write(STDOUT_FILENO, p, n);
	} while (w < 0 && errno == EINTR);
	if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		kg_metrics_log_dropped(1);
}

static void emit(const char *p, size_t n)
{
	size_t tail, first;
	bool wake;

	if (!atomic_load(&ring_on)) {
		write_direct(p, n);
		return;
	}
	pthread_mutex_lock(&ring.lock);
	if (!ring.open) {
		pthread_mutex_unlock(&ring.lock);
		write_direct(p, n);
		return;
	}
	if (RING_BYTES - ring.len < n) {
		pthread_mutex_unlock(&ring.lock);
		kg_metrics_log_dropped(1);
		return;
	}
	tail = (ring.head + ring.len) % RING_BYTES;
	first = RING_BYTES - tail < n ? RING_BYTES - tail : n;
	memcpy(ring.buf + tail, p, first);
	memcpy(ring.buf, p + first, n - first);
	ring.len += n;
	/* One wake per batch: the line that ends the writer's sleep, or that fills a batch. */
	wake = ring.idle || (ring.len >= BATCH_BYTES && ring.len - n < BATCH_BYTES);
	ring.idle = ring.idle && !wake;
	pthread_mutex_unlock(&ring.lock);
	if (wake)
		pthread_cond_signal(&ring.cond);
}

static void deadline_in(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* When a stop gives up on a stalled reader (monotonic ms), 0 while the writer runs on. */
static atomic_llong give_up_at;

/* Writes n bytes of the ring from its head without the lock (only the writer moves the head, and
 * a line is only ever copied into free room). False: stdout is broken, or the stop's wait for a
 * stalled reader ran out, and what is left is lost. */
static bool write_out(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDOUT_FILENO, p, n);
		long long until;

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = {.fd = STDOUT_FILENO, .events = POLLOUT};

			until = atomic_load(&give_up_at);
			if (until != 0 && mono_ms() >= until)
				return false;
			(void)poll(&pfd, 1, STALL_POLL_MS);
			continue;
		}
		return false;
	}
	return true;
}

static void *writer_main(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "kg-log");
	pthread_mutex_lock(&ring.lock);
	for (;;) {
		size_t head, n;
		struct timespec until;

		while (ring.len == 0 && !ring.stopping) {
			ring.idle = true;
			pthread_cond_wait(&ring.cond, &ring.lock);
		}
		ring.idle = false;
		if (ring.len == 0) {
			ring.open = false; /* stopping, and everything is written */
			break;
		}
		deadline_in(&until, BATCH_MS);
		while (ring.len < BATCH_BYTES && !ring.stopping &&
		       pthread_cond_timedwait(&ring.cond, &ring.lock, &until) == 0)
			;
		head = ring.head;
		n = ring.len < RING_BYTES - head ? ring.len : RING_BYTES - head;
		pthread_mutex_unlock(&ring.lock);
		if (!write_out(ring.buf + head, n)) {
			pthread_mutex_lock(&ring.lock);
			kg_metrics_log_dropped(1);
			ring.head = 0;
			ring.len = 0;
			ring.open = false;
			break;
		}
		pthread_mutex_lock(&ring.lock);
		ring.head = (head + n) % RING_BYTES;
		ring.len -= n;
	}
	pthread_mutex_unlock(&ring.lock);
	return NULL;
}

bool kg_log_writer_start(void)
{
	int fl = fcntl(STDOUT_FILENO, F_GETFL);
	pthread_condattr_t ca;
	sigset_t all, old;
	int rc;

	if (atomic_load(&ring_on))
		return true;
	/* A stalled pipe's reader must not hold the writer at stop either. */
	if (fl >= 0)
		fcntl(STDOUT_FILENO, F_SETFL, fl | O_NONBLOCK);
	ring.buf = malloc(RING_BYTES);
	if (ring.buf == NULL)
		return false;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_destroy(&ring.cond);
	pthread_cond_init(&ring.cond, &ca);
	pthread_condattr_destroy(&ca);
	ring.head = ring.len = 0;
	ring.stopping = false;
	atomic_store(&give_up_at, 0);
	ring.open = true;
	/* Signals go to the main loop's signalfd only (design §8): none may land on this thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&ring.thread, NULL, writer_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		free(ring.buf);
		ring.buf = NULL;
		return false;
	}
	atomic_store(&ring_on, true);
	return true;
}

void kg_log_writer_stop(void)
{
	if (!atomic_load(&ring_on))
		return;
	atomic_store(&give_up_at, mono_ms() + STOP_WAIT_MS);
	pthread_mutex_lock(&ring.lock);
	ring.stopping = true;
	pthread_mutex_unlock(&ring.lock);
	pthread_cond_signal(&ring.cond);
	pthread_join(ring.thread, NULL);
	/* The writer closed the ring as it left: lines from threads still running go straight out
	 * again, and none reads the buffer any more. */
	pthread_mutex_lock(&ring.lock);
	atomic_store(&ring_on, false);
	free(ring.buf);
	ring.buf = NULL;
	pthread_mutex_unlock(&ring.lock);
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
	kg_wipe(hash_key, sizeof(hash_key)); /* a shorter new key would leave the old one's tail */
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
	if (l->cut)
		put_field(l, "truncated", "true", false);
	if (l->json)
		l->buf[l->len++] = '}';
	l->buf[l->len++] = '\n';
	emit(l->buf, l->len);
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
