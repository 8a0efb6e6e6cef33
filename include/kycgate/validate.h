/* Validation of everything a caller sends: path segments, parameters, and request bodies,
 * and the shaping of the bodies kycgate sends upstream. Pure functions: no I/O, no logging,
 * no global state; every function is thread-safe.
 *
 * Field problems are collected into a json-c array of {"pointer": "/a/b", "detail": "..."}
 * objects; a detail names the rule that failed, never the value. */
#ifndef KYCGATE_VALIDATE_H
#define KYCGATE_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <json-c/json.h>

#include "kycgate/common.h"

/* ---- path segments and parameters -------------------------------------------------------- */

/* Percent-decodes one raw path segment or query value exactly once into out (capacity cap,
 * always NUL-terminated on success, *out_len excludes the NUL).
 * Refuses (KG_ERR_INVALID): a malformed escape, %00 or any decoded byte < 0x20 or 0x7F,
 * invalid UTF-8 (overlongs, surrogates, > U+10FFFF), a result that does not fit in cap - 1
 * bytes (KG_ERR_TOO_LARGE). '+' is not a space. */
enum kg_err kg_pct_decode(const char *raw, size_t raw_len, char *out, size_t cap, size_t *out_len);

/* Locator grammar of design §2 over the decoded value: prefix one of "email:", "userId:",
 * "phoneNumber:", "twitter:", "x:" (case-sensitive), non-empty value, at most
 * KG_MAX_LOCATOR_BYTES in all; email must look like an address (one '@', non-empty local part,
 * a domain with a dot, no spaces), phoneNumber E.164 (+ then 2..15 digits, first digit 1-9),
 * twitter/x [A-Za-z0-9_]{1,15}, userId printable UTF-8 (no control characters); the whole
 * value "." or ".." is refused. On failure *detail (if not NULL) names the rule. */
bool kg_locator_valid(const char *loc, size_t len, const char **detail);

/* [A-Za-z0-9_-]{1,128}, not "." or "..". */
bool kg_document_id_valid(const char *s, size_t len);

/* [A-Za-z0-9]{1,128}. */
bool kg_wallet_address_valid(const char *s, size_t len);

/* A configured name (auth.clients[].name, events.webhooks[].name): 1 to KG_NAME_MAX_BYTES of
 * A-Z a-z 0-9 _ . - (so it is safe as a metric label and in a path). */
#define KG_NAME_MAX_BYTES 64
bool kg_name_valid(const char *s, size_t len);

/* Appends the upstream form of a decoded path value to out: every byte outside
 * A-Z a-z 0-9 - . _ ~ @ becomes %XX (upper-case hex). For a locator, the prefix and its colon
 * stay literal and only the value after the first ':' is encoded (is_locator true).
 * Returns the number of bytes written (NUL not counted, out NUL-terminated), or 0 when it does
 * not fit in cap. */
size_t kg_path_encode(const char *val, size_t len, bool is_locator, char *out, size_t cap);

/* ---- documents -------------------------------------------------------------------------- */

enum kg_doc_type {
	KG_DOC_INVALID = -1,
	KG_DOC_ID_PASSPORT = 0,
	KG_DOC_ID_IDCARD_FRONT,
	KG_DOC_ID_IDCARD_BACK,
	KG_DOC_ID_RESIDENCY_PERMIT,
	KG_DOC_PROOF_OF_ADDRESS,
	KG_DOC_PROOF_OF_INCOME,
	KG_DOC_SELFIE_FRONT,
	KG_DOC_SELFIE_LEFT,
	KG_DOC_SELFIE_RIGHT,
	KG_DOC_TYPE_COUNT
};

/* Parses a documentType path value; KG_DOC_INVALID when unknown. */
enum kg_doc_type kg_doc_type_parse(const char *s, size_t len);
/* The wire name ("id-passport", ...), or NULL for an invalid value. Static. */
const char *kg_doc_type_name(enum kg_doc_type t);

enum kg_mime { KG_MIME_NONE = 0, KG_MIME_JPEG, KG_MIME_PNG, KG_MIME_PDF, KG_MIME_OTHER };

/* Maps a media type (parameters after ';' and case ignored) to kg_mime; NULL or "" is NONE. */
enum kg_mime kg_mime_parse(const char *s);
/* "image/jpeg", "image/png", "application/pdf"; NULL for NONE / OTHER. Static. */
const char *kg_mime_name(enum kg_mime m);
/* The type the magic bytes at offset 0 say: JPEG FF D8 FF, PNG's 8-byte signature, PDF "%PDF-";
 * KG_MIME_OTHER when none matches. */
enum kg_mime kg_mime_sniff(const unsigned char *data, size_t len);

/* A strictly valid calendar date "YYYY-MM-DD" that exists (leap years honoured). */
bool kg_date_valid(const char *s, size_t len);

/* The document route's input: either a raw file or a JSON body. */
struct kg_doc_input {
	const char *content_type;  /* request Content-Type header, may be NULL */
	const unsigned char *body; /* request body bytes (borrowed) */
	size_t body_len;
	const char *expires_at_query; /* decoded ?expiresAt= value, or NULL */
	size_t max_document_bytes;    /* decoded size limit (server.max_document_bytes) */
};

/* Shapes the Crossmint upload body {"reference": {"userLocator": loc}, "documentType": name,
 * "data": "data:<mime>;base64,...", "expiresAt"?} from a raw file (Content-Type image/jpeg,
 * image/png or application/pdf, with ?expiresAt) or a JSON body
 * {"data": base64 or data: URL, "mimeType"?, "expiresAt"?} (Content-Type application/json; no
 * other keys). Rules of design §2: base64 standard alphabet, padding optional, CR/LF ignored;
 * declared type = Content-Type (raw), else mimeType, else the data URL's type; two declared and
 * different, magic bytes not matching, or a type other than the three: KG_ERR_MEDIA_TYPE; no
 * declared type: the magic bytes decide; empty file: KG_ERR_INVALID; decoded size over the limit:
 * KG_ERR_TOO_LARGE; expiresAt must be a real date.
 * On success *out is a new object (json_object_put). On failure *detail names the rule and
 * *errors (if not NULL and the problem is about a field) is a new array of {pointer, detail}.
 * locator is the decoded, validated locator. */
enum kg_err kg_shape_document(const struct kg_doc_input *in, const char *locator,
                              enum kg_doc_type type, struct json_object **out, const char **detail,
                              struct json_object **errors);

/* ---- consent ---------------------------------------------------------------------------- */

/* Validates {"type": "privacy-policy" | "terms-of-service", "acceptedAt": RFC 3339, "region"?}
 * (no other keys; Crossmint's spellings "crossmint-privacy-policy" and
 * "crossmint-terms-of-service" are accepted for type too) and shapes Crossmint's body {"type":
 * "crossmint-privacy-policy" | "crossmint-terms-of-service", "acceptedAt":
 * "YYYY-MM-DDTHH:MM:SS[.fff]Z" (converted to UTC), "region"?}. A time without an offset, an
 * impossible date or time, or one more than 300 s after now is refused; region (eu, us, worldwide)
 * is required for terms-of-service. On failure returns KG_ERR_INVALID with *errors a new array of
 * {pointer, detail}. */
enum kg_err kg_shape_consent(struct json_object *body, time_t now, struct json_object **out,
                             struct json_object **errors);

/* Parses an RFC 3339 date-time with a mandatory offset ("Z", "+hh:mm", "-hh:mm"; 'T' or 't')
 * and writes its UTC form "YYYY-MM-DDTHH:MM:SS[.frac]Z" into out (cap >= 40). *epoch receives
 * the UTC seconds. Returns false on any violation (also leap second 60). */
bool kg_rfc3339_to_utc(const char *s, size_t len, char *out, size_t cap, long long *epoch);

/* ---- users ------------------------------------------------------------------------------ */

/* Validates a user body (design §2, "Create or replace a user"): must be an object with at least
 * one member; top-level keys only userDetails, kycData, dueDiligence, verificationHistory;
 * unknown keys inside them refused too unless pass_unknown (validation.unknown_fields: pass);
 * each unknown key is reported with a pointer at it and, when a known key of that object is
 * close, "did you mean <key>?"; known fields checked for type and shape (dates exist, ISO 3166-1
 * alpha-2 country codes, E.164 phones, e-mail shape, lengths: names 100, address lines 200, city
 * 100, postal codes 20, e-mail 254, other strings 256). Every problem is appended to *errors (a
 * new array, also when empty: caller puts it). Returns KG_OK when there were none, else
 * KG_ERR_INVALID. */
enum kg_err kg_validate_user(struct json_object *body, bool pass_unknown,
                             struct json_object **errors);

/* The sections of a user, in Crossmint's order; bit i of a section set is section i. */
#define KG_USER_SECTION_COUNT 4
/* "userDetails", "kycData", "dueDiligence", "verificationHistory"; NULL past the last. Static. */
const char *kg_user_section_name(size_t i);
/* The set of sections body holds as members (whatever their values); 0 when not an object. */
unsigned kg_user_sections(struct json_object *body);

/* true for an ISO 3166-1 alpha-2 code in upper case ("DE", "US"). */
bool kg_country_valid(const char *s, size_t len);
/* true for countries of the EU/EEA. */
bool kg_country_eu_eea(const char *cc);

/* ---- wallets ---------------------------------------------------------------------------- */

/* A wallet body must be a JSON object; it passes through unchanged. */
enum kg_err kg_validate_wallet(struct json_object *body, struct json_object **errors);

#endif
