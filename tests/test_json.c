/* Unit tests for src/json.c: the strict scanner (grammar, strings, UTF-8, escapes, numbers,
 * depth, duplicate keys with their pointers, trailing bytes), the json-c tree it builds,
 * serialization and JSON Pointer joining. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kycgate/json.h"

/* Parses len bytes at s with the default depth; returns the error, fills the rest. */
static enum kg_err parse_n(const char *s, size_t len, struct json_object **out, const char **detail,
                           char **pointer)
{
	return kg_json_parse(s, len, KG_MAX_JSON_DEPTH, out, detail, pointer);
}

/* Parses s, asserts success, and asserts its re-serialization equals want. */
static void assert_parses_to(const char *s, size_t len, const char *want)
{
	struct json_object *o = NULL;
	const char *detail = "unset";
	char *pointer = (char *)"unset";
	size_t n;
	char *bytes;
	enum kg_err err = parse_n(s, len, &o, &detail, &pointer);

	ck_assert_msg(err == KG_OK, "input <%s> refused: %s", s, detail ? detail : "(null)");
	ck_assert_ptr_null(pointer);
	bytes = kg_json_to_bytes(o, &n);
	ck_assert_ptr_nonnull(bytes);
	ck_assert_uint_eq(n, strlen(want));
	ck_assert_msg(memcmp(bytes, want, n) == 0, "input <%s> gave <%s>, want <%s>", s, bytes,
	              want);
	kg_json_free_bytes(bytes, n);
	json_object_put(o);
}

/* Parses len bytes at s, asserts KG_ERR_INVALID with a detail containing want_detail. */
static void assert_refused_n(const char *s, size_t len, const char *want_detail)
{
	struct json_object *o = (struct json_object *)1;
	const char *detail = NULL;
	char *pointer = (char *)"unset";
	enum kg_err err = parse_n(s, len, &o, &detail, &pointer);

	ck_assert_msg(err == KG_ERR_INVALID, "input <%.*s> not refused", (int)len, s);
	ck_assert_ptr_null(o);
	ck_assert_ptr_nonnull(detail);
	ck_assert_msg(strstr(detail, want_detail) != NULL, "input <%.*s>: detail <%s>, want <%s>",
	              (int)len, s, detail, want_detail);
	free(pointer);
}

static void assert_refused(const char *s, const char *want_detail)
{
	assert_refused_n(s, strlen(s), want_detail);
}

/* ---- accepted texts --------------------------------------------------------------------- */

static const struct {
	const char *in;
	const char *out;
} accepted[] = {
    {"{}", "{}"},
    {"[]", "[]"},
    {"{\"a\":1}", "{\"a\":1}"},
    {" \t\r\n{ \"a\" : [ 1 , 2 , { \"b\" : null } ] }\r\n ", "{\"a\":[1,2,{\"b\":null}]}"},
    {"\"str\"", "\"str\""},
    {"123", "123"},
    {"-0.5e+10", "-0.5e+10"},
    {"1.0", "1.0"},
    {"1E2", "1E2"},
    {"true", "true"},
    {"false", "false"},
    {"[true,false,null]", "[true,false,null]"},
    {"\"\\u00e9\"", "\"\xc3\xa9\""},
    {"\"\xc3\xa9\"", "\"\xc3\xa9\""},
    {"\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\""},
    {"\"\xf0\x9f\x98\x80\"", "\"\xf0\x9f\x98\x80\""},
    {"\"\xef\xbf\xbf\"", "\"\xef\xbf\xbf\""},
    {"\"\xf4\x8f\xbf\xbf\"", "\"\xf4\x8f\xbf\xbf\""},
    {"\"\\/\\\\\\\"\\b\\f\\n\\r\\t\"", "\"/\\\\\\\"\\b\\f\\n\\r\\t\""},
    {"\"a/b\"", "\"a/b\""},
    {"\"\x7f\"", "\"\x7f\""},
    {"{\"a\":1,\"b\":1}", "{\"a\":1,\"b\":1}"},
    {"{\"a\":{\"x\":1},\"b\":{\"x\":1}}", "{\"a\":{\"x\":1},\"b\":{\"x\":1}}"},
    {"[{\"a\":1},{\"a\":2}]", "[{\"a\":1},{\"a\":2}]"},
    {"{\"a\":{\"a\":{\"a\":1}}}", "{\"a\":{\"a\":{\"a\":1}}}"},
    {"{\"ab\":1,\"a\\u0062c\":2}", "{\"ab\":1,\"abc\":2}"},
    {"{\"\":1}", "{\"\":1}"},
    {"{\"\":\"e>\"}", "{\"\":\"e>\"}"}, /* found by fuzzing: see duplicates[] */
    {"[1e-400]", "[1e-400]"},
    {"1.7976931348623157e308", "1.7976931348623157e308"},
    {"-1.7976931348623157e308", "-1.7976931348623157e308"},
    {"123456789012345678901234567890.5", "123456789012345678901234567890.5"},
    {"18446744073709551615", "18446744073709551615"},
    {"-9223372036854775808", "-9223372036854775808"},
    {"[0,-0.0,0e0]", "[0,-0.0,0e0]"},
};

START_TEST(json_accepts)
{
	assert_parses_to(accepted[_i].in, strlen(accepted[_i].in), accepted[_i].out);
}
END_TEST

START_TEST(json_accepts_nul_escape_in_value)
{
	struct json_object *o = NULL;
	const char *detail = NULL;
	const char in[] = "{\"k\":\"a\\u0000b\"}";

	ck_assert_int_eq(parse_n(in, strlen(in), &o, &detail, NULL), KG_OK);
	ck_assert_int_eq(json_object_get_string_len(json_object_object_get(o, "k")), 3);
	ck_assert_mem_eq(json_object_get_string(json_object_object_get(o, "k")), "a\0b", 3);
	json_object_put(o);
	assert_parses_to(in, strlen(in), "{\"k\":\"a\\u0000b\"}");
}
END_TEST

START_TEST(json_top_level_scalars_and_arrays)
{
	struct json_object *o = NULL;
	const char *detail = NULL;

	ck_assert_int_eq(parse_n("[1,2]", 5, &o, &detail, NULL), KG_OK);
	ck_assert(json_object_is_type(o, json_type_array));
	json_object_put(o);
	ck_assert_int_eq(parse_n("42", 2, &o, &detail, NULL), KG_OK);
	ck_assert(json_object_is_type(o, json_type_int));
	ck_assert_int_eq(json_object_get_int(o), 42);
	json_object_put(o);
	ck_assert_int_eq(parse_n("\"x\"", 3, &o, &detail, NULL), KG_OK);
	ck_assert(json_object_is_type(o, json_type_string));
	json_object_put(o);
	/* json-c represents JSON null as NULL. */
	o = (struct json_object *)1;
	ck_assert_int_eq(parse_n(" null ", 6, &o, &detail, NULL), KG_OK);
	ck_assert_ptr_null(o);
}
END_TEST

START_TEST(json_buffer_not_nul_terminated)
{
	char buf[8];
	struct json_object *o = NULL;
	const char *detail = NULL;

	memcpy(buf, "12345678", 8);
	ck_assert_int_eq(parse_n(buf, 3, &o, &detail, NULL), KG_OK);
	ck_assert_int_eq(json_object_get_int(o), 123);
	json_object_put(o);
	memcpy(buf, "{\"a\":1}x", 8);
	ck_assert_int_eq(parse_n(buf, 7, &o, &detail, NULL), KG_OK);
	json_object_put(o);
	assert_refused_n(buf, 8, "bytes follow");
}
END_TEST

/* ---- refused texts ---------------------------------------------------------------------- */

static const struct {
	const char *in;
	const char *detail;
} refused[] = {
    {"", "empty"},
    {"   ", "not valid JSON"},
    {"{", "not valid JSON"},
    {"[", "not valid JSON"},
    {"{\"a\"}", "not valid JSON"},
    {"{\"a\" 1}", "not valid JSON"},
    {"{\"a\":}", "not valid JSON"},
    {"{\"a\":1,}", "trailing comma"},
    {"[1,]", "trailing comma"},
    {"[1 , ]", "trailing comma"},
    {"{\"a\":[1,],\"b\":2}", "trailing comma"},
    {"[,1]", "not valid JSON"},
    {"{,}", "not valid JSON"},
    {"[1,,2]", "not valid JSON"},
    {"/* c */ {}", "comments"},
    {"{} // c", "comments"},
    {"{\"a\":1 /* x */}", "comments"},
    {"{/**/}", "comments"},
    {"[1,/**/2]", "comments"},
    {"# c\n{}", "not valid JSON"},
    {"{'a':1}", "not valid JSON"},
    {"{a:1}", "not valid JSON"},
    {"['a']", "not valid JSON"},
    {"[01]", "not valid JSON"},
    {"[-01]", "not valid JSON"},
    {"[1.]", "not valid JSON"},
    {"[.5]", "not valid JSON"},
    {"[+1]", "not valid JSON"},
    {"[1e]", "not valid JSON"},
    {"[1e+]", "not valid JSON"},
    {"[-]", "not valid JSON"},
    {"[0x10]", "not valid JSON"},
    {"NaN", "not valid JSON"},
    {"Infinity", "not valid JSON"},
    {"[-Infinity]", "not valid JSON"},
    {"[True]", "not valid JSON"},
    {"[nul]", "not valid JSON"},
    {"[truex]", "not valid JSON"},
    {"\"unterminated", "not valid JSON"},
    {"\"\\x\"", "invalid escape"},
    {"\"\\u12\"", "invalid escape"},
    {"\"\\u12G4\"", "invalid escape"},
    {"\"\\U0041\"", "invalid escape"},
    {"\"\\'\"", "invalid escape"},
    {"\"a\tb\"", "raw control character"},
    {"\"a\nb\"", "raw control character"},
    {"\"\x01\"", "raw control character"},
    {"\"\x1f\"", "raw control character"},
    {"{\"a\rb\":1}", "raw control character"},
    {"\"\xff\"", "UTF-8"},
    {"\"\x80\"", "UTF-8"},
    {"\"\xc0\xaf\"", "UTF-8"},
    {"\"\xc1\xbf\"", "UTF-8"},
    {"\"\xe0\x80\xaf\"", "UTF-8"},
    {"\"\xf0\x80\x80\xaf\"", "UTF-8"},
    {"\"\xed\xa0\x80\"", "UTF-8"},
    {"\"\xed\xbf\xbf\"", "UTF-8"},
    {"\"\xf4\x90\x80\x80\"", "UTF-8"},
    {"\"\xf5\x80\x80\x80\"", "UTF-8"},
    {"\"\xe2\x82\"", "UTF-8"},
    {"\"\xc3\"", "UTF-8"},
    {"\"\xc3\x28\"", "UTF-8"},
    {"{\"\xff\":1}", "UTF-8"},
    {"\"\\ud800\"", "lone surrogate"},
    {"\"\\udc00\"", "lone surrogate"},
    {"\"\\ude00\\ud83d\"", "lone surrogate"},
    {"\"\\ud800\\u0041\"", "lone surrogate"},
    {"\"\\ud800x\"", "lone surrogate"},
    {"\"\\ud800\\ud800\"", "lone surrogate"},
    {"{\"\\udfff\":1}", "lone surrogate"},
    {"{\"a\":1,\"a\":2}", "duplicate key"},
    {"{\"a\":1,\"\\u0061\":2}", "duplicate key"},
    {"{\"\\u00e9\":1,\"\xc3\xa9\":2}", "duplicate key"},
    {"{\"a\\/b\":1,\"a/b\":2}", "duplicate key"},
    {"{\"a\\u0000b\":1}", "U+0000"},
    {"{} {}", "bytes follow"},
    {"{}x", "bytes follow"},
    {"1 2", "bytes follow"},
    {"[1] ]", "bytes follow"},
    {"\"a\" \"b\"", "bytes follow"},
    {"{},", "bytes follow"},
    {"\xef\xbb\xbf{}", "not valid JSON"},
    {"\f{}", "not valid JSON"},
    {"{}\v", "bytes follow"},
    {"[18446744073709551616]", "64-bit range"},
    {"99999999999999999999999", "64-bit range"},
    {"-9223372036854775809", "64-bit range"},
    {"{\"a\":-99999999999999999999}", "64-bit range"},
    {"1e400", "64-bit float"},
    {"-1e400", "64-bit float"},
    {"1e999999999", "64-bit float"},
    {"1.8e308", "64-bit float"},
    {"{\"a\":-1e999}", "64-bit float"},
};

START_TEST(json_refuses)
{
	assert_refused(refused[_i].in, refused[_i].detail);
}
END_TEST

START_TEST(json_refuses_raw_nul)
{
	assert_refused_n("\"a\0b\"", 5, "raw control character");
	assert_refused_n("{}\0", 3, "bytes follow");
	assert_refused_n("\0", 1, "not valid JSON");
	assert_refused_n("[1\0]", 4, "not valid JSON");
}
END_TEST

START_TEST(json_refuses_null_buffer)
{
	struct json_object *o = NULL;
	const char *detail = NULL;

	ck_assert_int_eq(kg_json_parse(NULL, 0, 32, &o, &detail, NULL), KG_ERR_INVALID);
	ck_assert_str_eq(detail, "the body is empty");
}
END_TEST

/* ---- duplicate key pointers ------------------------------------------------------------- */

static const struct {
	const char *in;
	const char *pointer;
} duplicates[] = {
    {"{\"a\":1,\"a\":2}", ""},
    {"{\"x\":{\"k\":1,\"k\":2}}", "/x"},
    {"{\"x\":{\"y\":[0,{\"k\":1,\"k\":2}]}}", "/x/y/1"},
    {"[[],[],[{\"a\":1,\"b\":2,\"a\":3}]]", "/2/0"},
    {"{\"a/b\":{\"~\":{\"q\":1,\"q\":1}}}", "/a~1b/~0"},
    {"{\"a\":{\"b\":1},\"c\":{\"d\":{\"e\":1,\"\\u0065\":2}}}", "/c/d"},
    {"{\"z\":1,\"y\":{\"z\":1},\"x\":2,\"z\":3}", ""},
    {"{\"\xc3\xa9\":{\"k\":1,\"k\":1}}", "/\xc3\xa9"},
    /* Empty keys before any other key: no key buffer yet (libFuzzer found NULL + 0 there; the
     * input is kept in tests/fuzz/corpus/json/crash-empty-key). */
    {"{\"\":1,\"\":2}", ""},
    {"{\"\":{\"k\":1,\"k\":2}}", "/"},
    {"{\"\":{\"\":{\"\":1,\"\":1}}}", "//"},
};

START_TEST(json_duplicate_pointer)
{
	struct json_object *o = NULL;
	const char *detail = NULL;
	char *pointer = NULL;
	const char *in = duplicates[_i].in;

	ck_assert_int_eq(parse_n(in, strlen(in), &o, &detail, &pointer), KG_ERR_INVALID);
	ck_assert_str_eq(detail, "an object has a duplicate key");
	ck_assert_ptr_nonnull(pointer);
	ck_assert_str_eq(pointer, duplicates[_i].pointer);
	free(pointer);
	/* The pointer is optional. */
	ck_assert_int_eq(parse_n(in, strlen(in), &o, &detail, NULL), KG_ERR_INVALID);
}
END_TEST

/* ---- numbers out of range, with their pointers (issue 7, item 9) ------------------------ */

static const struct {
	const char *in;
	const char *pointer;
	const char *detail;
} out_of_range[] = {
    {"1e999999999", "", "64-bit float"},
    {"{\"a\":[1,2.5,1e999999999]}", "/a/2", "64-bit float"},
    {"{\"kycData\":{\"x\":{\"y~/\":-1e999}}}", "/kycData/x/y~0~1", "64-bit float"},
    {"[{\"a\":1},{\"b\":[0,1E+400]}]", "/1/b/1", "64-bit float"},
    {"{\"a\":1,\"b\":{\"c\":18446744073709551616}}", "/b/c", "64-bit range"},
    {"[0,[-9223372036854775809]]", "/1/0", "64-bit range"},
    {"99999999999999999999999", "", "64-bit range"},
};

START_TEST(json_number_out_of_range_pointer)
{
	struct json_object *o = (struct json_object *)1;
	const char *detail = NULL;
	char *pointer = NULL;
	const char *in = out_of_range[_i].in;

	ck_assert_int_eq(parse_n(in, strlen(in), &o, &detail, &pointer), KG_ERR_INVALID);
	ck_assert_ptr_null(o);
	ck_assert_msg(strstr(detail, out_of_range[_i].detail) != NULL, "%s: %s", in, detail);
	ck_assert_ptr_nonnull(pointer);
	ck_assert_str_eq(pointer, out_of_range[_i].pointer);
	free(pointer);
	ck_assert_int_eq(parse_n(in, strlen(in), &o, &detail, NULL), KG_ERR_INVALID);
}
END_TEST

/* 400 digits before the point: no exponent, still beyond a double. */
START_TEST(json_long_number_out_of_range)
{
	char buf[512];

	buf[0] = '[';
	buf[1] = '1';
	memset(buf + 2, '0', 400);
	memcpy(buf + 402, ".5]", 4);
	assert_refused(buf, "64-bit float");
	buf[0] = '[';
	memcpy(buf + 1, "0.", 2);
	memset(buf + 3, '0', 400);
	memcpy(buf + 403, "1e700]", 7); /* 1e299: finite */
	assert_parses_to(buf, strlen(buf), buf);
}
END_TEST

START_TEST(json_no_pointer_for_other_failures)
{
	struct json_object *o = NULL;
	const char *detail = NULL;
	char *pointer = (char *)"unset";

	ck_assert_int_eq(parse_n("{\"a\":1,}", 8, &o, &detail, &pointer), KG_ERR_INVALID);
	ck_assert_ptr_null(pointer);
}
END_TEST

/* Where the text broke: 1-based line and column (characters), with the rule. */
START_TEST(json_failure_position)
{
	static const struct {
		const char *in;
		const char *detail;
		size_t line, column;
	} t[] = {
	    {"{\"a\":1,}", "a trailing comma is not allowed in JSON", 1, 8},
	    {"{\n  \"userDetails\": {},\n}", "a trailing comma is not allowed in JSON", 3, 1},
	    {"{\"userDetails\":", "the body is not valid JSON", 1, 16},
	    {"{\n  \"a\": tru\n}", "the body is not valid JSON", 2, 8},
	    {"{\"\xc3\xa9t\xc3\xa9\": 1 // note\n}", "comments are not allowed in JSON", 1, 11},
	    {"[1]\n\nx", "bytes follow the JSON value", 3, 1},
	    {"{\"a\":\"x\ty\"}", "a string contains a raw control character", 1, 8},
	};
	struct json_object *o = NULL;
	struct kg_json_pos pos;
	const char *detail = NULL;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert_int_eq(kg_json_parse_pos(t[i].in, strlen(t[i].in), KG_MAX_JSON_DEPTH, &o,
		                                   &detail, NULL, &pos),
		                 KG_ERR_INVALID);
		ck_assert_msg(strcmp(detail, t[i].detail) == 0, "case %zu: %s", i, detail);
		ck_assert_msg(pos.line == t[i].line && pos.column == t[i].column,
		              "case %zu: line %zu column %zu", i, pos.line, pos.column);
	}
	/* No place: an empty text, a duplicate key (its pointer says where); none on success. */
	ck_assert_int_eq(kg_json_parse_pos("", 0, 4, &o, &detail, NULL, &pos), KG_ERR_INVALID);
	ck_assert(pos.line == 0 && pos.column == 0);
	ck_assert_int_eq(kg_json_parse_pos("{\"a\":1,\"a\":2}", 13, 4, &o, &detail, NULL, &pos),
	                 KG_ERR_INVALID);
	ck_assert(pos.line == 0 && pos.column == 0);
	ck_assert_int_eq(kg_json_parse_pos("{}", 2, 4, &o, &detail, NULL, &pos), KG_OK);
	ck_assert(pos.line == 0 && pos.column == 0);
	json_object_put(o);
}
END_TEST

/* Many keys: duplicates are found by sorting, and a clean object of this size stays fast. */
START_TEST(json_many_keys)
{
	size_t n = 50000, cap = n * 16 + 16, len = 0;
	char *buf = malloc(cap);
	struct json_object *o = NULL;
	const char *detail = NULL;
	char *pointer = NULL;

	ck_assert_ptr_nonnull(buf);
	buf[len++] = '{';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%s\"k%zu\":%zu", i ? "," : "", i, i);
	buf[len++] = '}';
	ck_assert_int_eq(parse_n(buf, len, &o, &detail, NULL), KG_OK);
	ck_assert_int_eq(json_object_object_length(o), (int)n);
	json_object_put(o);
	/* The same object with its first key repeated at the end. */
	len--;
	len += (size_t)snprintf(buf + len, cap - len, ",\"k0\":0}");
	ck_assert_int_eq(parse_n(buf, len, &o, &detail, &pointer), KG_ERR_INVALID);
	ck_assert_str_eq(pointer, "");
	free(pointer);
	free(buf);
}
END_TEST

START_TEST(json_large_string)
{
	size_t n = 4 * 1024 * 1024;
	char *buf = malloc(n + 2);
	struct json_object *o = NULL;
	const char *detail = NULL;

	ck_assert_ptr_nonnull(buf);
	buf[0] = '"';
	memset(buf + 1, 'A', n);
	buf[n + 1] = '"';
	ck_assert_int_eq(parse_n(buf, n + 2, &o, &detail, NULL), KG_OK);
	ck_assert_int_eq(json_object_get_string_len(o), (int)n);
	json_object_put(o);
	free(buf);
}
END_TEST

/* ---- depth ------------------------------------------------------------------------------ */

/* n nested arrays, or objects when obj, around a 1. */
static char *nested(int n, bool obj, size_t *len)
{
	char *buf = malloc((size_t)n * 6 + 2);
	size_t w = 0;

	for (int i = 0; i < n; i++) {
		if (obj) {
			memcpy(buf + w, "{\"a\":", 5);
			w += 5;
		} else {
			buf[w++] = '[';
		}
	}
	buf[w++] = '1';
	for (int i = 0; i < n; i++)
		buf[w++] = obj ? '}' : ']';
	*len = w;
	return buf;
}

START_TEST(json_depth_limit)
{
	struct json_object *o = NULL;
	const char *detail = NULL;
	size_t len;
	char *buf;

	for (int obj = 0; obj < 2; obj++) {
		buf = nested(KG_MAX_JSON_DEPTH, obj, &len);
		ck_assert_int_eq(parse_n(buf, len, &o, &detail, NULL), KG_OK);
		json_object_put(o);
		free(buf);
		buf = nested(KG_MAX_JSON_DEPTH + 1, obj, &len);
		assert_refused_n(buf, len, "deeper than allowed");
		free(buf);
	}
	buf = nested(100000, false, &len);
	assert_refused_n(buf, len, "deeper than allowed");
	free(buf);
}
END_TEST

START_TEST(json_depth_parameter)
{
	struct json_object *o = NULL;
	const char *detail = NULL;

	ck_assert_int_eq(kg_json_parse("[]", 2, 1, &o, &detail, NULL), KG_OK);
	json_object_put(o);
	ck_assert_int_eq(kg_json_parse("[[]]", 4, 1, &o, &detail, NULL), KG_ERR_INVALID);
	ck_assert_int_eq(kg_json_parse("[[]]", 4, 2, &o, &detail, NULL), KG_OK);
	json_object_put(o);
	ck_assert_int_eq(kg_json_parse("{\"a\":[1]}", 9, 2, &o, &detail, NULL), KG_OK);
	json_object_put(o);
	ck_assert_int_eq(kg_json_parse("{\"a\":[{}]}", 10, 2, &o, &detail, NULL), KG_ERR_INVALID);
	ck_assert_int_eq(kg_json_parse("7", 1, 0, &o, &detail, NULL), KG_OK);
	json_object_put(o);
	ck_assert_int_eq(kg_json_parse("{}", 2, 0, &o, &detail, NULL), KG_ERR_INVALID);
	ck_assert_int_eq(kg_json_parse("[[[1]]]", 7, 3, &o, &detail, NULL), KG_OK);
	json_object_put(o);
}
END_TEST

/* ---- serialization and pointers --------------------------------------------------------- */

START_TEST(json_to_bytes_plain_no_slash_escape)
{
	struct json_object *o = json_object_new_object();
	struct json_object *a = json_object_new_array();
	size_t n = 0;
	char *bytes;

	json_object_object_add(o, "url", json_object_new_string("https://x/y"));
	json_object_array_add(a, json_object_new_int(1));
	json_object_array_add(a, json_object_new_string_len("a\0b", 3));
	json_object_object_add(o, "list", a);
	bytes = kg_json_to_bytes(o, &n);
	ck_assert_str_eq(bytes, "{\"url\":\"https://x/y\",\"list\":[1,\"a\\u0000b\"]}");
	ck_assert_uint_eq(n, strlen(bytes));
	kg_json_free_bytes(bytes, n);
	kg_json_free_bytes(NULL, 0);
	json_object_put(o);
}
END_TEST

START_TEST(json_to_bytes_null)
{
	size_t n = 99;
	char *bytes = kg_json_to_bytes(NULL, &n);

	ck_assert_str_eq(bytes, "null");
	ck_assert_uint_eq(n, 4);
	kg_json_free_bytes(bytes, n);
}
END_TEST

START_TEST(json_pointer_join)
{
	static const struct {
		const char *prefix, *key, *want;
	} cases[] = {
	    {"", "a", "/a"},
	    {NULL, "a", "/a"},
	    {"", "", "/"},
	    {"/x", "a/b~c", "/x/a~1b~0c"},
	    {"/x/0", "~~", "/x/0/~0~0"},
	    {"/a~1b", "//", "/a~1b/~1~1"},
	    {"", "~1", "/~01"},
	    {"/p", "\xc3\xa9", "/p/\xc3\xa9"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *p = kg_json_pointer_join(cases[i].prefix, cases[i].key);

		ck_assert_str_eq(p, cases[i].want);
		free(p);
	}
}
END_TEST

static Suite *json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *t = tcase_create("parse");

	tcase_add_loop_test(t, json_accepts, 0, sizeof(accepted) / sizeof(accepted[0]));
	tcase_add_test(t, json_accepts_nul_escape_in_value);
	tcase_add_test(t, json_top_level_scalars_and_arrays);
	tcase_add_test(t, json_buffer_not_nul_terminated);
	tcase_add_loop_test(t, json_refuses, 0, sizeof(refused) / sizeof(refused[0]));
	tcase_add_test(t, json_refuses_raw_nul);
	tcase_add_test(t, json_refuses_null_buffer);
	tcase_add_loop_test(t, json_duplicate_pointer, 0,
	                    sizeof(duplicates) / sizeof(duplicates[0]));
	tcase_add_loop_test(t, json_number_out_of_range_pointer, 0,
	                    sizeof(out_of_range) / sizeof(out_of_range[0]));
	tcase_add_test(t, json_long_number_out_of_range);
	tcase_add_test(t, json_no_pointer_for_other_failures);
	tcase_add_test(t, json_failure_position);
	tcase_add_test(t, json_many_keys);
	tcase_add_test(t, json_large_string);
	tcase_add_test(t, json_depth_limit);
	tcase_add_test(t, json_depth_parameter);
	suite_add_tcase(s, t);
	t = tcase_create("serialize");
	tcase_add_test(t, json_to_bytes_plain_no_slash_escape);
	tcase_add_test(t, json_to_bytes_null);
	tcase_add_test(t, json_pointer_join);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(json_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
