/* Strict JSON for bytes from callers, and serialization helpers.
 *
 * kg_json_parse() runs two passes. The first is a recursive-descent scanner written for RFC 8259
 * that builds nothing: it checks grammar, UTF-8, control characters, escapes, depth, integer
 * range and duplicate keys (compared after unescaping, per object, by sorting the decoded keys
 * when the object closes, so an object with many keys costs n log n). Only bytes that passed go
 * to json-c's tokener, which builds the tree; a walk of the tree then refuses numbers that do not
 * fit a 64-bit float (json-c reads them as infinity but keeps their text, so they would otherwise
 * be forwarded as sent). Recursion is bounded by max_depth. */
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kycgate/json.h"

/* Static details: each names the rule that failed, never the input. */
static const char D_EMPTY[] = "the body is empty";
static const char D_SYNTAX[] = "the body is not valid JSON";
static const char D_COMMENT[] = "comments are not allowed in JSON";
static const char D_TRAILING_COMMA[] = "a trailing comma is not allowed in JSON";
static const char D_CONTROL[] = "a string contains a raw control character";
static const char D_UTF8[] = "a string is not valid UTF-8";
static const char D_ESCAPE[] = "a string contains an invalid escape";
static const char D_SURROGATE[] = "a string escape encodes a lone surrogate";
static const char D_DEPTH[] = "the JSON nesting is deeper than allowed";
static const char D_DUPLICATE[] = "an object has a duplicate key";
static const char D_NUL_KEY[] = "an object key contains U+0000";
static const char D_TRAILING[] = "bytes follow the JSON value";
static const char D_NUMBER[] = "an integer is outside the 64-bit range";
static const char D_FLOAT[] = "a number is outside the range of a 64-bit float";
static const char D_TOO_LARGE[] = "the JSON text is too large";

/* One decoded key of an object still open: bytes at keys + off. */
struct span {
	size_t off;
	size_t len;
	const char *ptr; /* set only while sorting */
};

/* Where a value sits, for the pointer of a duplicate key. Lives on the scanner's C stack. */
struct frame {
	const struct frame *parent;
	bool in_array;
	size_t index;    /* in_array: element index */
	size_t key_span; /* !in_array: index into scan.spans of the member's key */
};

struct scan {
	const unsigned char *p;
	const unsigned char *end;
	int max_depth;
	const char *detail;           /* first failure */
	const unsigned char *fail_at; /* where the first failure was found */
	bool nomem;
	char *keys; /* decoded keys of the open objects, innermost last */
	size_t keys_len;
	size_t keys_cap;
	struct span *spans;
	size_t nspans;
	size_t spans_cap;
	char *pointer; /* where the failure is: the object holding a duplicate key, or the number
	                * out of range */
	bool check_floats; /* kg_json_check: no tree follows, so the scanner itself refuses a
	                    * number that is not finite as a 64-bit float */
};

static bool scan_value(struct scan *s, int depth, const struct frame *where);

static bool fail(struct scan *s, const char *detail)
{
	if (s->detail == NULL) {
		s->detail = detail;
		s->fail_at = s->p;
	}
	return false;
}

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* Length of the valid UTF-8 sequence starting at p (lead byte >= 0x80), 0 when invalid:
 * overlongs, surrogates, code points above U+10FFFF and truncation are refused. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
	size_t n;
	unsigned char lo = 0x80, hi = 0xBF;

	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		n = 2;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF)
		n = 3;
	else if (p[0] >= 0xF0 && p[0] <= 0xF4)
		n = 4;
	else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	if (p[0] == 0xE0)
		lo = 0xA0;
	else if (p[0] == 0xED)
		hi = 0x9F;
	else if (p[0] == 0xF0)
		lo = 0x90;
	else if (p[0] == 0xF4)
		hi = 0x8F;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++) {
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	}
	return n;
}

/* The decoded key bytes at off. Before the first non-empty key there is no buffer (keys NULL):
 * every key so far is empty, and NULL + 0 would be undefined behaviour (found by fuzzing). */
static const char *key_at(const struct scan *s, size_t off)
{
	return s->keys != NULL ? s->keys + off : "";
}

static bool key_append(struct scan *s, const void *bytes, size_t n)
{
	if (s->keys_cap - s->keys_len < n) {
		size_t cap = s->keys_cap ? s->keys_cap : 256;
		char *grown;

		while (cap - s->keys_len < n)
			cap *= 2;
		/* Not realloc, which would free the old keys unwiped. */
		grown = malloc(cap);
		if (grown == NULL) {
			s->nomem = true;
			return false;
		}
		if (s->keys != NULL) {
			memcpy(grown, s->keys, s->keys_len);
			kg_wipe(s->keys, s->keys_cap);
			free(s->keys);
		}
		s->keys = grown;
		s->keys_cap = cap;
	}
	memcpy(s->keys + s->keys_len, bytes, n);
	s->keys_len += n;
	return true;
}

static bool append_code_point(struct scan *s, unsigned long cp)
{
	unsigned char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xC0 | (cp >> 6));
		b[1] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xE0 | (cp >> 12));
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xF0 | (cp >> 18));
		b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		b[3] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return key_append(s, b, n);
}

/* Reads the four hex digits after "\u"; s->p points at the first. */
static bool read_hex4(struct scan *s, unsigned long *out)
{
	unsigned long v = 0;

	if (s->end - s->p < 4)
		return fail(s, D_ESCAPE);
	for (int i = 0; i < 4; i++) {
		unsigned char c = s->p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned long)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned long)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned long)(c - 'A' + 10);
		else
			return fail(s, D_ESCAPE);
	}
	s->p += 4;
	*out = v;
	return true;
}

/* A \u escape (s->p after the 'u'), pairing surrogates; the code point goes to *cp. */
static bool scan_unicode_escape(struct scan *s, unsigned long *cp)
{
	unsigned long lo;

	if (!read_hex4(s, cp))
		return false;
	if (*cp >= 0xDC00 && *cp <= 0xDFFF)
		return fail(s, D_SURROGATE);
	if (*cp < 0xD800 || *cp > 0xDBFF)
		return true;
	if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
		return fail(s, D_SURROGATE);
	s->p += 2;
	if (!read_hex4(s, &lo))
		return false;
	if (lo < 0xDC00 || lo > 0xDFFF)
		return fail(s, D_SURROGATE);
	*cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
	return true;
}

/* One escape sequence, s->p after the backslash. Keys get the decoded bytes appended. */
static bool scan_escape(struct scan *s, bool is_key)
{
	static const char simple_in[] = "\"\\/bfnrt";
	static const char simple_out[] = "\"\\/\b\f\n\r\t";
	const char *hit;
	unsigned long cp;

	if (s->p >= s->end)
		return fail(s, D_SYNTAX);
	if (*s->p == 'u') {
		s->p++;
		if (!scan_unicode_escape(s, &cp))
			return false;
		if (is_key && cp == 0)
			return fail(s, D_NUL_KEY);
		return !is_key || append_code_point(s, cp);
	}
	hit = *s->p != '\0' ? strchr(simple_in, *s->p) : NULL;
	if (hit == NULL)
		return fail(s, D_ESCAPE);
	s->p++;
	return !is_key || key_append(s, &simple_out[hit - simple_in], 1);
}

/* A string, s->p at the opening quote. A key's decoded bytes are appended to s->keys. */
static bool scan_string(struct scan *s, bool is_key)
{
	s->p++;
	while (s->p < s->end && *s->p != '"') {
		const unsigned char *start = s->p;
		size_t n = 1;

		if (*s->p == '\\') {
			s->p++;
			if (!scan_escape(s, is_key))
				return false;
			continue;
		}
		if (*s->p < 0x20)
			return fail(s, D_CONTROL);
		if (*s->p >= 0x80 && (n = utf8_seq(s->p, s->end)) == 0)
			return fail(s, D_UTF8);
		s->p += n;
		if (is_key && !key_append(s, start, n))
			return false;
	}
	if (s->p >= s->end)
		return fail(s, D_SYNTAX);
	s->p++;
	return true;
}

static size_t skip_digits(struct scan *s)
{
	size_t n = 0;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
		s->p++;
		n++;
	}
	return n;
}

/* Integers json-c would clamp (beyond int64 when negative, beyond uint64 otherwise) are refused:
 * forwarding a different number than the caller sent is worse than a 400. */
static bool integer_in_range(const unsigned char *digits, size_t n, bool negative)
{
	const char *limit = negative ? "9223372036854775808" : "18446744073709551615";
	size_t limit_len = strlen(limit);

	if (n != limit_len)
		return n < limit_len;
	return memcmp(digits, limit, n) <= 0;
}

static char *frame_pointer(const struct scan *s, const struct frame *where);

/* Longest number text kg_json_check reads as a float; a longer one is refused with the others
 * that are not finite (its caller then treats the text as not JSON). */
#define MAX_FLOAT_TEXT 128

/* The number text [p, end), already checked by the grammar, is finite as a 64-bit float. */
static bool float_finite(const unsigned char *p, const unsigned char *end)
{
	char text[MAX_FLOAT_TEXT + 1];
	size_t n = (size_t)(end - p);

	if (n > MAX_FLOAT_TEXT)
		return false;
	memcpy(text, p, n);
	text[n] = '\0';
	return isfinite(strtod(text, NULL));
}

/* A number, s->p at its first byte; where is its place, for the pointer of one out of range. */
static bool scan_number(struct scan *s, const struct frame *where)
{
	bool negative = false, is_int = true;
	const unsigned char *digits;
	size_t n;

	if (*s->p == '-') {
		negative = true;
		s->p++;
	}
	digits = s->p;
	n = skip_digits(s);
	if (n == 0 || (n > 1 && digits[0] == '0'))
		return fail(s, D_SYNTAX);
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		is_int = false;
		if (skip_digits(s) == 0)
			return fail(s, D_SYNTAX);
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		is_int = false;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (skip_digits(s) == 0)
			return fail(s, D_SYNTAX);
	}
	if (!is_int && s->check_floats && !float_finite(digits - negative, s->p))
		return fail(s, D_FLOAT);
	if (is_int && !integer_in_range(digits, n, negative)) {
		s->pointer = frame_pointer(s, where);
		if (s->pointer == NULL)
			s->nomem = true;
		return fail(s, D_NUMBER);
	}
	return true;
}

static bool scan_literal(struct scan *s, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return fail(s, D_SYNTAX);
	s->p += n;
	return true;
}

/* Expects byte c after optional whitespace. */
static bool expect(struct scan *s, unsigned char c)
{
	skip_ws(s);
	if (s->p >= s->end || *s->p != c)
		return fail(s, s->p < s->end && *s->p == '/' ? D_COMMENT : D_SYNTAX);
	s->p++;
	return true;
}

/* After a ',' (whitespace skipped): a closing bracket here is a trailing comma. */
static bool refuse_trailing_comma(struct scan *s, unsigned char close)
{
	if (s->p < s->end && *s->p == close)
		return fail(s, D_TRAILING_COMMA);
	return true;
}

/* Returns the pointer of the value at where as new memory, or NULL on allocation failure. */
static char *frame_pointer(const struct scan *s, const struct frame *where)
{
	char *prefix, *joined, *key;
	char index[24];
	size_t i = sizeof(index) - 1;
	size_t v;

	if (where == NULL)
		return strdup("");
	prefix = frame_pointer(s, where->parent);
	if (prefix == NULL)
		return NULL;
	if (where->in_array) {
		index[i] = '\0';
		v = where->index;
		do {
			index[--i] = (char)('0' + v % 10);
			v /= 10;
		} while (v != 0);
		joined = kg_json_pointer_join(prefix, &index[i]);
	} else {
		/* Keys holding U+0000 were refused, so each key is a C string once terminated. */
		const struct span *k = &s->spans[where->key_span];

		key = strndup(key_at(s, k->off), k->len);
		joined = key != NULL ? kg_json_pointer_join(prefix, key) : NULL;
		free(key);
	}
	free(prefix);
	return joined;
}

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->ptr, y->ptr, x->len);
}

/* Checks the keys spans[first..] of the object at where for duplicates, then pops them. */
static bool close_object(struct scan *s, size_t first, size_t keys_mark, const struct frame *where)
{
	size_t n = s->nspans - first;
	struct span *v = &s->spans[first];
	bool ok = true;

	for (size_t i = 0; i < n; i++)
		v[i].ptr = key_at(s, v[i].off);
	qsort(v, n, sizeof(*v), span_cmp);
	for (size_t i = 1; i < n && ok; i++)
		ok = span_cmp(&v[i - 1], &v[i]) != 0;
	if (!ok) {
		/* Sorting moved the keys of this object only; parents' spans are intact. */
		s->pointer = frame_pointer(s, where);
		if (s->pointer == NULL)
			s->nomem = true;
		return fail(s, D_DUPLICATE);
	}
	s->nspans = first;
	s->keys_len = keys_mark;
	return true;
}

static bool push_span(struct scan *s, size_t off)
{
	if (s->nspans == s->spans_cap) {
		size_t cap = s->spans_cap ? s->spans_cap * 2 : 32;
		struct span *grown = realloc(s->spans, cap * sizeof(*grown));

		if (grown == NULL) {
			s->nomem = true;
			return false;
		}
		s->spans = grown;
		s->spans_cap = cap;
	}
	s->spans[s->nspans].off = off;
	s->spans[s->nspans].len = s->keys_len - off;
	s->nspans++;
	return true;
}

/* One "key": value member; s->p at the key's opening quote. */
static bool scan_member(struct scan *s, int depth, const struct frame *where)
{
	size_t off = s->keys_len;
	struct frame child = {.parent = where, .in_array = false};

	if (!scan_string(s, true) || !push_span(s, off))
		return false;
	child.key_span = s->nspans - 1;
	if (!expect(s, ':'))
		return false;
	return scan_value(s, depth, &child);
}

/* An object, s->p after '{'; depth counts it. */
static bool scan_object(struct scan *s, int depth, const struct frame *where)
{
	size_t first = s->nspans, keys_mark = s->keys_len;

	skip_ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return true;
	}
	for (;;) {
		skip_ws(s);
		if (s->p >= s->end || *s->p != '"')
			return fail(s, s->p < s->end && *s->p == '/' ? D_COMMENT : D_SYNTAX);
		if (!scan_member(s, depth, where))
			return false;
		skip_ws(s);
		if (s->p < s->end && *s->p == '}')
			break;
		if (!expect(s, ','))
			return false;
		skip_ws(s);
		if (!refuse_trailing_comma(s, '}'))
			return false;
	}
	s->p++;
	return close_object(s, first, keys_mark, where);
}

/* An array, s->p after '['; depth counts it. */
static bool scan_array(struct scan *s, int depth, const struct frame *where)
{
	struct frame child = {.parent = where, .in_array = true, .index = 0};

	skip_ws(s);
	if (s->p < s->end && *s->p == ']') {
		s->p++;
		return true;
	}
	for (;;) {
		if (!scan_value(s, depth, &child))
			return false;
		skip_ws(s);
		if (s->p < s->end && *s->p == ']')
			break;
		if (!expect(s, ','))
			return false;
		skip_ws(s);
		if (!refuse_trailing_comma(s, ']'))
			return false;
		child.index++;
	}
	s->p++;
	return true;
}

/* Any value after optional whitespace; depth is the number of containers around it. */
static bool scan_value(struct scan *s, int depth, const struct frame *where)
{
	skip_ws(s);
	if (s->p >= s->end)
		return fail(s, D_SYNTAX);
	switch (*s->p) {
	case '{':
	case '[':
		if (depth >= s->max_depth)
			return fail(s, D_DEPTH);
		return *s->p++ == '{' ? scan_object(s, depth + 1, where)
		                      : scan_array(s, depth + 1, where);
	case '"':
		return scan_string(s, false);
	case 't':
		return scan_literal(s, "true");
	case 'f':
		return scan_literal(s, "false");
	case 'n':
		return scan_literal(s, "null");
	case '/':
		return fail(s, D_COMMENT);
	default:
		if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
			return scan_number(s, where);
		return fail(s, D_SYNTAX);
	}
}

/* The whole text: one value, whitespace around it, nothing else. */
static bool scan_text(struct scan *s)
{
	if (!scan_value(s, 0, NULL))
		return false;
	skip_ws(s);
	if (s->p != s->end)
		return fail(s, s->p < s->end && *s->p == '/' ? D_COMMENT : D_TRAILING);
	return true;
}

/* Builds the json-c tree from bytes the scanner accepted. A top-level scalar needs the
 * terminating call with one NUL byte, as json-c cannot otherwise know a number ended. */
static enum kg_err build_tree(const char *buf, size_t len, int max_depth, struct json_object **out)
{
	int depth = max_depth < 1 ? 2 : (max_depth > INT_MAX - 2 ? INT_MAX : max_depth + 2);
	struct json_tokener *tok = json_tokener_new_ex(depth);
	enum json_tokener_error jerr;
	enum kg_err err = KG_ERR_NOMEM;

	if (tok == NULL)
		return KG_ERR_NOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	*out = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	if (*out == NULL && jerr == json_tokener_continue) {
		*out = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
	}
	/* json-c 0.16 has no error code for allocation failure; once the scanner accepted the
	 * bytes, a failed allocation is the one cause left. */
	if (jerr == json_tokener_success)
		err = KG_OK;
	json_tokener_free(tok);
	if (err != KG_OK) {
		json_object_put(*out);
		*out = NULL;
	}
	return err;
}

/* The 1-based line and column (in UTF-8 characters) of byte at within buf. */
static void position(const unsigned char *buf, const unsigned char *at, struct kg_json_pos *pos)
{
	const unsigned char *p;

	pos->line = 1;
	pos->column = 1;
	for (p = buf; p < at; p++) {
		if (*p == '\n') {
			pos->line++;
			pos->column = 1;
		} else if ((*p & 0xc0) != 0x80) {
			pos->column++;
		}
	}
}

/* "/" + the escaped segment, then inner (taken, freed); NULL on allocation failure. */
static char *pointer_prepend(const char *segment, char *inner)
{
	char *head = inner != NULL ? kg_json_pointer_join("", segment) : NULL;
	char *out = NULL;
	size_t hl, il;

	if (head != NULL) {
		hl = strlen(head);
		il = strlen(inner);
		out = malloc(hl + il + 1);
		if (out != NULL) {
			memcpy(out, head, hl);
			memcpy(out + hl, inner, il + 1);
		}
	}
	free(head);
	free(inner);
	return out;
}

/* The pointer (new memory) of the first number in v that is not finite as a 64-bit float, or
 * NULL when there is none; *nomem is set when an allocation failed. Depth is v's nesting, already
 * bounded by the scanner. */
static char *nonfinite_pointer(struct json_object *v, bool *nomem)
{
	char *inner = NULL;
	char index[24];

	switch (json_object_get_type(v)) {
	case json_type_double:
		if (isfinite(json_object_get_double(v)))
			return NULL;
		inner = strdup("");
		break;
	case json_type_object: {
		json_object_object_foreach(v, key, val)
		{
			inner = nonfinite_pointer(val, nomem);
			if (inner != NULL || *nomem) {
				inner = pointer_prepend(key, inner);
				break;
			}
		}
		if (inner == NULL)
			return NULL;
		break;
	}
	case json_type_array:
		for (size_t i = 0, n = json_object_array_length(v); i < n; i++) {
			inner = nonfinite_pointer(json_object_array_get_idx(v, i), nomem);
			if (inner != NULL || *nomem) {
				snprintf(index, sizeof(index), "%zu", i);
				inner = pointer_prepend(index, inner);
				break;
			}
		}
		if (inner == NULL)
			return NULL;
		break;
	default:
		return NULL;
	}
	if (inner == NULL)
		*nomem = true;
	return inner;
}

/* What the scanner held: the decoded keys (wiped) and their spans. The whole buffer: a closed
 * object's keys stay past keys_len, which is back to 0 once the text is read. */
static void scan_release(struct scan *s)
{
	kg_wipe(s->keys, s->keys_cap);
	free(s->keys);
	free(s->spans);
}

enum kg_err kg_json_parse(const char *buf, size_t len, int max_depth, struct json_object **out,
                          const char **detail, char **pointer_out)
{
	return kg_json_parse_pos(buf, len, max_depth, out, detail, pointer_out, NULL);
}

enum kg_err kg_json_parse_pos(const char *buf, size_t len, int max_depth, struct json_object **out,
                              const char **detail, char **pointer_out, struct kg_json_pos *pos)
{
	struct scan s = {.p = (const unsigned char *)buf,
	                 .end = (const unsigned char *)buf + len,
	                 .max_depth = max_depth};
	enum kg_err err = KG_ERR_INVALID;

	*out = NULL;
	*detail = NULL;
	if (pointer_out != NULL)
		*pointer_out = NULL;
	if (pos != NULL)
		*pos = (struct kg_json_pos){0, 0};
	if (len == 0 || buf == NULL) {
		*detail = D_EMPTY;
		goto out;
	}
	if (len > (size_t)INT_MAX - 1) {
		*detail = D_TOO_LARGE;
		goto out;
	}
	if (!scan_text(&s)) {
		err = s.nomem ? KG_ERR_NOMEM : KG_ERR_INVALID;
		*detail = s.detail != NULL ? s.detail : D_SYNTAX;
		if (pos != NULL && err == KG_ERR_INVALID && s.detail != D_DUPLICATE &&
		    s.fail_at != NULL)
			position((const unsigned char *)buf, s.fail_at, pos);
		goto out;
	}
	err = build_tree(buf, len, max_depth, out);
	if (err != KG_OK) {
		*detail = "out of memory";
		goto out;
	}
	s.pointer = nonfinite_pointer(*out, &s.nomem);
	if (s.pointer != NULL || s.nomem) {
		err = s.nomem ? KG_ERR_NOMEM : KG_ERR_INVALID;
		*detail = s.nomem ? "out of memory" : D_FLOAT;
		json_object_put(*out);
		*out = NULL;
	}
out:
	if (pointer_out != NULL && err == KG_ERR_INVALID)
		*pointer_out = s.pointer;
	else
		free(s.pointer);
	scan_release(&s);
	return err;
}

enum kg_err kg_json_check(const char *buf, size_t len, int max_depth, const char **detail)
{
	struct scan s = {.p = (const unsigned char *)buf,
	                 .end = (const unsigned char *)buf + len,
	                 .max_depth = max_depth,
	                 .check_floats = true};
	enum kg_err err = KG_OK;

	*detail = NULL;
	if (len == 0 || buf == NULL) {
		*detail = D_EMPTY;
		return KG_ERR_INVALID;
	}
	if (!scan_text(&s)) {
		err = s.nomem ? KG_ERR_NOMEM : KG_ERR_INVALID;
		*detail = s.detail != NULL ? s.detail : D_SYNTAX;
	}
	free(s.pointer);
	scan_release(&s);
	return err;
}

char *kg_json_to_bytes(struct json_object *obj, size_t *len_out)
{
	size_t len = 0;
	const char *text;
	char *copy;

	*len_out = 0;
	text = json_object_to_json_string_length(
	    obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (text == NULL)
		return NULL;
	copy = malloc(len + 1);
	if (copy != NULL) {
		memcpy(copy, text, len);
		copy[len] = '\0';
		*len_out = len;
	}
	/* json-c keeps the text in the object's print buffer and frees it without a wipe; nothing
	 * reads it again (the next serialization rewrites it), so it is wiped here. (For NULL it
	 * returns a static "null".) */
	if (obj != NULL)
		kg_wipe((char *)text, len);
	return copy;
}

void kg_json_free_bytes(char *bytes, size_t len)
{
	if (bytes == NULL)
		return;
	kg_wipe(bytes, len);
	free(bytes);
}

char *kg_json_pointer_join(const char *prefix, const char *key)
{
	size_t plen = prefix != NULL ? strlen(prefix) : 0;
	size_t klen = key != NULL ? strlen(key) : 0;
	size_t extra = 0;
	char *out, *w;

	for (size_t i = 0; i < klen; i++)
		extra += key[i] == '~' || key[i] == '/';
	out = malloc(plen + 1 + klen + extra + 1);
	if (out == NULL)
		return NULL;
	if (plen != 0)
		memcpy(out, prefix, plen);
	w = out + plen;
	*w++ = '/';
	for (size_t i = 0; i < klen; i++) {
		if (key[i] == '~' || key[i] == '/') {
			*w++ = '~';
			*w++ = key[i] == '~' ? '0' : '1';
		} else {
			*w++ = key[i];
		}
	}
	*w = '\0';
	return out;
}
