/* Helpers shared by validate.c, validate_doc.c and validate_user.c. Not a public interface:
 * nothing outside those files includes it. Every function is pure and thread-safe. */
#ifndef KYCGATE_VALIDATE_INTERNAL_H
#define KYCGATE_VALIDATE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

/* A list of {"pointer", "detail"} problems being collected. */
struct kgv_errors {
	struct json_object *list; /* new array, owned until handed to the caller */
	const char *first;        /* detail of the first problem, or NULL */
	bool nomem;               /* an allocation failed; the list may be incomplete */
};

/* Starts an empty list; false (and e->nomem) on allocation failure. */
bool kgv_errors_init(struct kgv_errors *e);
/* Appends {pointer, detail}; detail must be static. Sets e->nomem on allocation failure. */
void kgv_error(struct kgv_errors *e, const char *pointer, const char *detail);
/* Appends {parent + "/" + escaped key, detail}. */
void kgv_error_at(struct kgv_errors *e, const char *parent, const char *key, const char *detail);
/* kgv_error_at() with a detail built at run time: text is copied; summary (static) stands for it
 * in e->first. */
void kgv_error_at_text(struct kgv_errors *e, const char *parent, const char *key, const char *text,
                       const char *summary);
/* Releases the list (NULL allowed). */
void kgv_errors_drop(struct kgv_errors *e);

/* Well-formed UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
bool kgv_utf8_valid(const unsigned char *s, size_t len);
/* The number of code points in UTF-8 text (continuation bytes are not counted). */
size_t kgv_utf8_chars(const char *s, size_t len);

/* E-mail shape of design §2: local@domain, <= 254 bytes (see validate.c). */
bool kgv_email_valid(const char *s, size_t len);
/* E.164: '+', then 2 to 15 digits, the first 1-9. */
bool kgv_e164_valid(const char *s, size_t len);

/* The media type s (a header value) has the essence (type/subtype, lower case) given,
 * ignoring parameters after ';', surrounding blanks and case. */
bool kgv_media_type_is(const char *s, const char *essence);

enum kgv_time {
	KGV_TIME_OK,        /* valid, converted */
	KGV_TIME_NO_OFFSET, /* a valid local date-time with no offset */
	KGV_TIME_BAD,       /* anything else */
};

/* kg_rfc3339_to_utc() telling a missing offset apart from other faults. */
enum kgv_time kgv_rfc3339(const char *s, size_t len, char *out, size_t cap, long long *epoch);

#endif
