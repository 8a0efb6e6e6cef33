/* Strict JSON for bytes from callers (RFC 8259) and helpers for serializing json-c objects.
 *
 * json-c alone is too lenient for a gateway: it keeps the last of duplicate keys and accepts
 * some non-standard input. kg_json_parse() first checks the bytes with a strict scanner
 * (grammar, UTF-8, control characters, duplicate keys, depth), then builds the json-c tree. */
#ifndef KYCGATE_JSON_H
#define KYCGATE_JSON_H

#include <stddef.h>

#include <json-c/json.h>

#include "kycgate/common.h"

/* Parses len bytes at buf as one JSON text (surrounding whitespace allowed).
 * Refuses: len 0 or buf NULL, len INT_MAX or more, grammar errors, comments, trailing commas,
 * raw control characters (< 0x20) in strings, invalid escapes, invalid UTF-8 (also in \u
 * escapes: lone surrogates), U+0000 in an object key, integers outside the 64-bit range (below
 * INT64_MIN, above UINT64_MAX), other numbers that are not finite as a 64-bit float (1e400; a
 * number too small, 1e-400, is accepted), nesting deeper than max_depth, duplicate keys in one
 * object (compared after unescaping), trailing bytes.
 * On success returns KG_OK and *out is a new reference (json_object_put).
 * On failure returns KG_ERR_INVALID, or KG_ERR_NOMEM when memory ran out; *out is NULL and
 * *detail points to a static English sentence naming the rule that failed (never the input's
 * bytes). When the failure is a duplicate key, *pointer_out (if not NULL) receives a new JSON
 * Pointer string (caller frees) to the object holding it; for a number out of range, to that
 * number; otherwise NULL.
 * The decoded keys held while scanning are wiped before they are freed. Thread-safe. buf need
 * not be NUL-terminated. */
enum kg_err kg_json_parse(const char *buf, size_t len, int max_depth, struct json_object **out,
                          const char **detail, char **pointer_out);

/* Where kg_json_parse_pos found the text invalid: 1-based line (lines end at LF) and column
 * (counted in characters, UTF-8 code points); both 0 when the failure has no place (an empty or
 * too large text, a duplicate key: its JSON Pointer says where, out of memory). */
struct kg_json_pos {
	size_t line;
	size_t column;
};

/* kg_json_parse that also reports where a grammar failure was found (pos may be NULL). */
enum kg_err kg_json_parse_pos(const char *buf, size_t len, int max_depth, struct json_object **out,
                              const char **detail, char **pointer_out, struct kg_json_pos *pos);

/* Checks buf as kg_json_parse() would accept it (the same grammar, UTF-8, escapes, depth,
 * duplicate keys, integer range, and numbers finite as 64-bit floats; one of more than 128
 * characters counts as not finite), building nothing: for bytes relayed as they are. KG_OK,
 * KG_ERR_INVALID (*detail: the rule that failed) or KG_ERR_NOMEM. Thread-safe. */
enum kg_err kg_json_check(const char *buf, size_t len, int max_depth, const char **detail);

/* Serializes obj with JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE into new memory
 * (caller frees with kg_json_free_bytes, which wipes it). *len_out receives the length.
 * Returns NULL on allocation failure. json-c also keeps its own serialization inside obj until
 * obj is freed; that copy is not wiped. */
char *kg_json_to_bytes(struct json_object *obj, size_t *len_out);

/* Wipes and frees bytes from kg_json_to_bytes. Accepts NULL. */
void kg_json_free_bytes(char *bytes, size_t len);

/* Appends the JSON Pointer escaping (RFC 6901: '~' -> "~0", '/' -> "~1") of key to a pointer
 * prefix, returning new memory "prefix/escaped" (caller frees), or NULL on allocation failure. */
char *kg_json_pointer_join(const char *prefix, const char *key);

#endif
