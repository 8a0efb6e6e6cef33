/* Value helpers of the config module: the error list, environment expansion, numbers, listen
 * addresses, base URLs and secret files. Pure functions over bytes, except cfg_read_secret
 * (reads a file) and cfg_expand (reads the environment). No global state. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_internal.h"

#define MAX_VAR_NAME 128 /* ${NAME}: longer names are refused */

void sb_append(struct sbuf *b, const char *s, size_t n)
{
	if (b->nomem)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = malloc(cap);
		if (p == NULL) {
			b->nomem = true;
			return;
		}
		if (b->p != NULL)
			memcpy(p, b->p, b->len);
		sb_free(b);
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void sb_free(struct sbuf *b)
{
	if (b->p != NULL)
		kg_wipe(b->p, b->cap);
	free(b->p);
	b->p = NULL;
	b->cap = 0;
}

/* Formats "FILE:LINE: path: reason" (or "FILE: reason" when path is NULL) into out. */
__attribute__((format(printf, 4, 0))) static void format_line(const struct cfg_ctx *c, size_t line,
                                                              const char *path, const char *fmt,
                                                              va_list ap, char *out, size_t cap)
{
	char reason[512];

	vsnprintf(reason, sizeof(reason), fmt, ap);
	if (path == NULL)
		snprintf(out, cap, "%s: %s", c->file, reason);
	else
		snprintf(out, cap, "%s:%zu: %s: %s", c->file, line ? line : 1, path, reason);
}

void cfg_err(struct cfg_ctx *c, size_t line, const char *path, const char *fmt, ...)
{
	char msg[1024];
	struct cfg_msg *m;
	va_list ap;

	c->n_errs++;
	if (c->n_kept == CFG_MAX_ERRORS)
		return;
	va_start(ap, fmt);
	format_line(c, line, path, fmt, ap, msg, sizeof(msg));
	va_end(ap);
	if (c->errs == NULL)
		c->errs = calloc(CFG_MAX_ERRORS, sizeof(*c->errs));
	if (c->errs == NULL)
		goto nomem;
	m = &c->errs[c->n_kept];
	m->line = path == NULL ? 0 : (line ? line : 1);
	m->seq = c->n_kept;
	m->text = strdup(msg);
	if (m->text == NULL)
		goto nomem;
	c->n_kept++;
	return;
nomem:
	c->nomem = true;
}

static int by_line(const void *a, const void *b)
{
	const struct cfg_msg *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void cfg_drop_errors(struct cfg_ctx *c)
{
	size_t i;

	for (i = 0; i < c->n_kept; i++)
		free(c->errs[i].text);
	free(c->errs);
	c->errs = NULL;
	c->n_kept = 0;
}

char *cfg_take_errors(struct cfg_ctx *c)
{
	struct sbuf b = {0};
	char more[256];
	size_t i;

	if (c->n_kept > 0)
		qsort(c->errs, c->n_kept, sizeof(*c->errs), by_line);
	for (i = 0; i < c->n_kept; i++) {
		sb_append(&b, c->errs[i].text, strlen(c->errs[i].text));
		sb_append(&b, "\n", 1);
	}
	if (c->n_errs > c->n_kept) {
		snprintf(more, sizeof(more), "%s: %zu more errors not shown\n", c->file,
		         c->n_errs - c->n_kept);
		sb_append(&b, more, strlen(more));
	}
	cfg_drop_errors(c);
	if (b.nomem) {
		sb_free(&b);
		return NULL;
	}
	return b.p;
}

void cfg_warn(struct cfg_ctx *c, size_t line, const char *path, const char *fmt, ...)
{
	struct kg_config *cfg = c->cfg;
	char msg[1024];
	char **w;
	va_list ap;

	va_start(ap, fmt);
	format_line(c, line, path, fmt, ap, msg, sizeof(msg));
	va_end(ap);
	w = realloc(cfg->warnings, (cfg->n_warnings + 1) * sizeof(*w));
	if (w == NULL)
		goto nomem;
	cfg->warnings = w;
	w[cfg->n_warnings] = strdup(msg);
	if (w[cfg->n_warnings] == NULL)
		goto nomem;
	cfg->n_warnings++;
	return;
nomem:
	c->nomem = true;
}

void cfg_sanitize(const char *s, size_t n, char *out, size_t cap)
{
	size_t i, keep = n;

	if (cap == 0)
		return;
	if (n > cap - 1)
		keep = cap > 4 ? cap - 4 : cap - 1; /* room for "..." */
	for (i = 0; i < keep; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (keep < n && cap > 4) {
		memcpy(out + keep, "...", 3);
		keep += 3;
	}
	out[keep] = '\0';
}

static bool name_start(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_';
}

static bool name_char(char ch)
{
	return name_start(ch) || (ch >= '0' && ch <= '9');
}

/* Expands one reference starting at s[0] == '$', s[1] == '{'. Returns the bytes consumed, or 0
 * with a reason in why. */
static size_t expand_ref(const char *s, size_t len, struct sbuf *out, char *why, size_t whycap)
{
	char name[MAX_VAR_NAME + 1];
	const char *val, *def = NULL, *close;
	size_t i = 2, n, def_len = 0;

	while (i < len && name_char(s[i]) && i - 2 < MAX_VAR_NAME + 1)
		i++;
	n = i - 2;
	if (n == 0 || n > MAX_VAR_NAME || !name_start(s[2]) || i >= len)
		goto malformed;
	memcpy(name, s + 2, n);
	name[n] = '\0';
	if (s[i] == ':' && i + 1 < len && s[i + 1] == '-') {
		def = s + i + 2;
		close = memchr(def, '}', len - i - 2);
		if (close == NULL)
			goto malformed;
		def_len = (size_t)(close - def);
		for (size_t k = 0; k + 1 < def_len; k++) {
			if (def[k] == '$' && def[k + 1] == '{') {
				snprintf(why, whycap, "nested reference in the default of ${%s}",
				         name);
				return 0;
			}
		}
		i = (size_t)(close - s);
	} else if (s[i] != '}') {
		goto malformed;
	}
	val = getenv(name);
	if (def != NULL && (val == NULL || *val == '\0'))
		sb_append(out, def, def_len);
	else if (val != NULL)
		sb_append(out, val, strlen(val));
	else {
		snprintf(why, whycap, "environment variable %s is not set", name);
		return 0;
	}
	return i + 1;
malformed:
	snprintf(why, whycap,
	         "malformed environment reference (expected ${NAME} or "
	         "${NAME:-default}; write $${ for a literal ${)");
	return 0;
}

bool cfg_expand(const char *s, size_t len, char **out, size_t *out_len, char *why, size_t whycap)
{
	struct sbuf b = {0};
	size_t i = 0, used;

	*out = NULL;
	sb_append(&b, "", 0);
	while (i < len) {
		if (s[i] == '$' && i + 2 < len && s[i + 1] == '$' && s[i + 2] == '{') {
			sb_append(&b, "${", 2);
			i += 3;
		} else if (s[i] == '$' && i + 1 < len && s[i + 1] == '{') {
			used = expand_ref(s + i, len - i, &b, why, whycap);
			if (used == 0)
				goto fail;
			i += used;
		} else {
			sb_append(&b, s + i, 1);
			i++;
		}
	}
	if (b.nomem) {
		snprintf(why, whycap, "out of memory");
		goto fail;
	}
	*out = b.p;
	*out_len = b.len;
	return true;
fail:
	sb_free(&b);
	return false;
}

enum cfg_num cfg_parse_ull(const char *s, unsigned long long *v)
{
	char *end;
	size_t i;

	if (s[0] == '\0')
		return NUM_BAD;
	for (i = 0; s[i] != '\0'; i++)
		if (s[i] < '0' || s[i] > '9')
			return NUM_BAD;
	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return NUM_RANGE;
	if (errno != 0 || *end != '\0')
		return NUM_BAD;
	return NUM_OK;
}

/* Port text: 1 to 5 digits, at most 65535. */
static bool parse_port(const char *s, size_t n, unsigned long *port)
{
	unsigned long v = 0;
	size_t i;

	if (n == 0 || n > 5)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	*port = v;
	return v <= 65535;
}

/* A host name or IPv4 literal: [A-Za-z0-9._-]{1,253}. */
static bool host_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 253)
		return false;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (!name_char(ch) && ch != '.' && ch != '-')
			return false;
	}
	return true;
}

static bool v6_ok(const char *s, size_t n, struct in6_addr *a)
{
	char buf[INET6_ADDRSTRLEN + 1];

	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(AF_INET6, buf, a) == 1;
}

const char *cfg_split_listen(const char *s, char **host, uint16_t *port)
{
	const char *h = s, *colon;
	size_t hn;
	unsigned long p;
	struct in6_addr a6;

	*host = NULL;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL || rb[1] != ':')
			return "expected host:port or [ipv6]:port";
		h = s + 1;
		hn = (size_t)(rb - h);
		colon = rb + 1;
		if (!v6_ok(h, hn, &a6))
			return "invalid IPv6 address";
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return "expected host:port or [ipv6]:port";
		hn = (size_t)(colon - s);
		if (memchr(s, ':', hn) != NULL)
			return "an IPv6 address needs brackets: [addr]:port";
		if (!host_ok(s, hn))
			return "invalid host (expected a host name, an IPv4 or a [IPv6] address)";
	}
	if (!parse_port(colon + 1, strlen(colon + 1), &p))
		return "port must be a number from 0 to 65535";
	*host = strndup(h, hn);
	if (*host == NULL)
		return "out of memory";
	*port = (uint16_t)p;
	return NULL;
}

/* 127.0.0.0/8, localhost or [::1]; host is the authority's host part, brackets included. */
static bool loopback(const char *h, size_t n)
{
	char buf[16];
	struct in_addr a4;
	struct in6_addr a6;

	if (n == 9 && strncasecmp(h, "localhost", 9) == 0)
		return true;
	if (n >= 2 && h[0] == '[')
		return v6_ok(h + 1, n - 2, &a6) && IN6_IS_ADDR_LOOPBACK(&a6);
	if (n >= sizeof(buf))
		return false;
	memcpy(buf, h, n);
	buf[n] = '\0';
	return inet_pton(AF_INET, buf, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

/* Checks the authority auth[0..n): host (name, IPv4 or [IPv6]) and optional port. */
static const char *check_authority(const char *auth, size_t n, size_t *host_len)
{
	const char *port = NULL;
	size_t hn = n;
	unsigned long p;
	struct in6_addr a6;

	if (memchr(auth, '@', n) != NULL)
		return "must not contain userinfo (user@)";
	if (n > 0 && auth[0] == '[') {
		const char *rb = memchr(auth, ']', n);

		if (rb == NULL || !v6_ok(auth + 1, (size_t)(rb - auth - 1), &a6))
			return "has an invalid IPv6 host";
		hn = (size_t)(rb - auth) + 1;
		if (hn < n && auth[hn] != ':')
			return "has an invalid host";
	} else {
		const char *colon = memchr(auth, ':', n);

		hn = colon ? (size_t)(colon - auth) : n;
		if (hn == 0)
			return "has no host";
		if (!host_ok(auth, hn))
			return "has an invalid host";
	}
	if (hn < n) {
		port = auth + hn + 1;
		if (!parse_port(port, n - hn - 1, &p) || p == 0)
			return "has an invalid port";
	}
	*host_len = hn;
	return NULL;
}

const char *cfg_check_url(char *url, enum kg_env env)
{
	size_t n = strlen(url), i, alen, hlen = 0;
	const char *auth, *why;
	bool https;

	for (i = 0; i < n; i++)
		if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f)
			return "must not contain spaces or control characters";
	https = strncasecmp(url, "https://", 8) == 0;
	if (!https && strncasecmp(url, "http://", 7) != 0)
		return "must start with https://";
	auth = url + (https ? 8 : 7);
	if (strpbrk(url, "?#") != NULL)
		return "must not contain a query or fragment";
	alen = strcspn(auth, "/");
	if (alen == 0)
		return "has no host";
	why = check_authority(auth, alen, &hlen);
	if (why != NULL)
		return why;
	if (!https && env == KG_ENV_PRODUCTION)
		return "production requires an https:// base URL";
	if (!https && !loopback(auth, hlen))
		return "http:// is allowed only for a loopback host (127.0.0.0/8, localhost, "
		       "[::1])";
	if (url[n - 1] == '/')
		url[n - 1] = '\0';
	return NULL;
}

const char *cfg_check_webhook_url(const char *url, enum kg_env env)
{
	size_t n = strlen(url), i, alen, hlen = 0;
	const char *auth, *why;
	bool https;

	if (n > KG_WEBHOOK_MAX_URL_BYTES)
		return "longer than 2000 bytes (KG_WEBHOOK_MAX_URL_BYTES)";
	for (i = 0; i < n; i++)
		if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
			return "must not contain spaces, control or non-ASCII characters";
	https = strncasecmp(url, "https://", 8) == 0;
	if (!https && strncasecmp(url, "http://", 7) != 0)
		return "must start with https:// (http:// only outside production or on loopback)";
	if (strchr(url, '#') != NULL)
		return "must not contain a fragment";
	auth = url + (https ? 8 : 7);
	alen = strcspn(auth, "/?");
	if (alen == 0)
		return "has no host";
	why = check_authority(auth, alen, &hlen);
	if (why != NULL)
		return why;
	if (!https && env == KG_ENV_PRODUCTION && !loopback(auth, hlen))
		return "production requires https:// unless the host is loopback (127.0.0.0/8, "
		       "localhost, [::1])";
	return NULL;
}

/* Reads at most max+1 bytes of fd into buf (cap max+1); returns the count or -1. */
static ssize_t read_all(int fd, char *buf, size_t cap)
{
	size_t got = 0;

	while (got < cap) {
		ssize_t r = read(fd, buf + got, cap - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

bool cfg_read_secret(struct cfg_ctx *c, const char *file, size_t line, const char *path, char **out,
                     size_t *len)
{
	char safe[128], ebuf[128];
	char *buf = NULL;
	struct stat st;
	ssize_t n = -1;
	int fd;

	*out = NULL;
	cfg_sanitize(file, strlen(file), safe, sizeof(safe));
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) != 0)
		goto io;
	buf = malloc(KG_MAX_SECRET_FILE_BYTES + 1);
	if (buf == NULL) {
		c->nomem = true;
		goto fail;
	}
	n = read_all(fd, buf, KG_MAX_SECRET_FILE_BYTES + 1);
	if (n < 0)
		goto io;
	if (n > KG_MAX_SECRET_FILE_BYTES) {
		cfg_err(c, line, path, "%s is larger than %d bytes", safe,
		        KG_MAX_SECRET_FILE_BYTES);
		goto fail;
	}
	while (n > 0 && strchr(" \t\r\n\v\f", buf[n - 1]) != NULL && buf[n - 1] != '\0')
		n--;
	buf[n] = '\0';
	if (n == 0) {
		cfg_err(c, line, path, "%s is empty", safe);
		goto fail;
	}
	/* Group-readable is fine when the group is this process's own (a Kubernetes Secret mounted
	 * with fsGroup and mode 0440): nobody else can read it. */
	if ((st.st_mode & S_IROTH) || ((st.st_mode & S_IRGRP) && st.st_gid != getegid()))
		cfg_warn(c, line, path,
		         "%s is group- or world-readable; make it readable by its "
		         "owner only (chmod 600)",
		         safe);
	close(fd);
	*out = buf;
	*len = (size_t)n;
	return true;
io:
	cfg_err(c, line, path, "cannot read %s: %s", safe, strerror_r(errno, ebuf, sizeof(ebuf)));
fail:
	if (buf != NULL)
		kg_wipe(buf, KG_MAX_SECRET_FILE_BYTES + 1);
	free(buf);
	if (fd >= 0)
		close(fd);
	return false;
}

void cfg_free_secret(char *s)
{
	if (s == NULL)
		return;
	kg_wipe(s, strlen(s));
	free(s);
}
