/* Event lines: formatted into a stack buffer and written with one write() so lines from threads
 * never interleave. */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kycgate/log.h"

static atomic_int threshold = KG_LOG_INFO;
static atomic_int format = KG_LOG_JSON;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void kg_log_setup(enum kg_log_level level, enum kg_log_format fmt)
{
	atomic_store(&threshold, (int)level);
	atomic_store(&format, (int)fmt);
}

struct line {
	char buf[KG_LOG_LINE_MAX];
	size_t len;
	bool cut;
};

static void put(struct line *l, const char *s, size_t n)
{
	if (l->len + n > sizeof(l->buf) - 2) {
		n = sizeof(l->buf) - 2 - l->len;
		l->cut = true;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void put_str(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

/* JSON string escaping (also used in text mode so a value cannot forge a line). */
static void put_escaped(struct line *l, const char *s)
{
	char esc[8];

	for (; *s != '\0' && !l->cut; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(l, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(l, esc, 6);
		} else {
			put(l, (const char *)&c, 1);
		}
	}
}

static void put_time(struct line *l)
{
	struct timespec ts;
	struct tm tm;
	char t[96];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(t, sizeof(t), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	put_str(l, t);
}

static void put_field(struct line *l, bool json, const char *key, const char *val)
{
	if (json) {
		put_str(l, ",\"");
		put_escaped(l, key);
		put_str(l, "\":\"");
		put_escaped(l, val);
		put_str(l, "\"");
	} else {
		put_str(l, " ");
		put_escaped(l, key);
		put_str(l, "=");
		put_escaped(l, val);
	}
}

void kg_log(enum kg_log_level level, const char *event, ...)
{
	struct line l = {.len = 0};
	bool json = atomic_load(&format) == KG_LOG_JSON;
	const char *key;
	va_list ap;
	ssize_t w;

	if ((int)level < atomic_load(&threshold))
		return;
	if (json) {
		put_str(&l, "{\"time\":\"");
		put_time(&l);
		put_str(&l, "\",\"level\":\"");
		put_str(&l, level_names[level]);
		put_str(&l, "\",\"event\":\"");
		put_escaped(&l, event);
		put_str(&l, "\"");
	} else {
		put_time(&l);
		put_str(&l, " ");
		put_str(&l, level_names[level]);
		put_str(&l, " ");
		put_escaped(&l, event);
	}
	va_start(ap, event);
	while ((key = va_arg(ap, const char *)) != NULL)
		put_field(&l, json, key, va_arg(ap, const char *));
	va_end(ap);
	if (json)
		put_str(&l, "}");
	l.buf[l.len++] = '\n';
	do {
		w = write(STDOUT_FILENO, l.buf, l.len);
	} while (w < 0 && errno == EINTR);
}
