/* curl's error text (CURLOPT_ERRORBUFFER, filled by libcurl's failf) made fit for a log line.
 *
 * The design keeps upstream URLs and locators out of logs. libcurl 7.88's failf messages name a
 * host ("Could not resolve host: %s", "Failed to connect to %s port %u ...") but not the request
 * path; this cleaner still cuts anything that looks like a URL path or query, in case a message
 * (or a later libcurl) prints one. It is a pure function: the engine calls it when a call ends. */
#include <stdbool.h>
#include <string.h>

#include "kycgate/upstream.h"

#define SCAN_MAX 512     /* bytes of input looked at (CURL_ERROR_SIZE is 256) */
#define CUT_MARK "[cut]" /* replaces what was removed from a token */

/* Output bounded by cap; the last byte is kept for the NUL. */
struct text {
	char *p;
	size_t cap, len;
};

static void put(struct text *o, const char *s, size_t n)
{
	while (n-- > 0 && o->len + 1 < o->cap)
		o->p[o->len++] = *s++;
}

static bool is_delim(char c)
{
	return c == ' ' || c == '"' || c == '\'' || c == '(' || c == ')' || c == '<' || c == '>' ||
	       c == '[' || c == ']' || c == ',' || c == ';';
}

/* A URL keeps its scheme and host (without user info); its path, query and fragment go. */
static void put_url(struct text *o, const char *t, size_t n, const char *sep)
{
	const char *auth = sep + 3, *end = auth, *at;

	while (end < t + n && *end != '/' && *end != '?' && *end != '#')
		end++;
	for (at = end; at > auth && at[-1] != '@'; at--)
		;
	put(o, t, (size_t)(auth - t));
	put(o, at, (size_t)(end - at));
	if (end < t + n)
		put(o, CUT_MARK, strlen(CUT_MARK));
}

/* One token (a run without delimiters): from its first '/', '?' or '#' on, it is cut. Protocol
 * names ("HTTP/2") are kept whole. */
static void put_token(struct text *o, const char *t, size_t n)
{
	const char *sep = memmem(t, n, "://", 3);
	size_t keep = 0;

	if (sep != NULL) {
		put_url(o, t, n, sep);
		return;
	}
	if (n >= 5 && memcmp(t, "HTTP/", 5) == 0) {
		put(o, t, n);
		return;
	}
	while (keep < n && t[keep] != '/' && t[keep] != '?' && t[keep] != '#')
		keep++;
	put(o, t, keep);
	if (keep < n)
		put(o, CUT_MARK, strlen(CUT_MARK));
}

/* Printable ASCII only: tabs and line breaks become spaces, other bytes are dropped. */
static size_t printable(const char *in, char *buf, size_t cap)
{
	size_t i, n = 0;

	for (i = 0; in[i] != '\0' && i < SCAN_MAX && n < cap; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '\t' || c == '\n' || c == '\r')
			buf[n++] = ' ';
		else if (c >= 0x20 && c < 0x7f)
			buf[n++] = (char)c;
	}
	return n;
}

void kg_up_error_text(const char *text, char *out, size_t cap)
{
	char buf[SCAN_MAX];
	struct text o = {out, cap, 0};
	size_t n, i = 0, start;

	if (cap == 0)
		return;
	n = text != NULL ? printable(text, buf, sizeof(buf)) : 0;
	while (i < n) {
		if (is_delim(buf[i])) {
			put(&o, &buf[i++], 1);
			continue;
		}
		for (start = i; i < n && !is_delim(buf[i]); i++)
			;
		put_token(&o, buf + start, i - start);
	}
	while (o.len > 0 && out[o.len - 1] == ' ')
		o.len--;
	out[o.len] = '\0';
}
