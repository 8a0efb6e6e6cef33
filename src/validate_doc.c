/* The document upload route's body: a raw file or a JSON body carrying base64, shaped into
 * Crossmint's CreateUserDocumentDto. Checks, in order: Content-Type (415); the body's structure,
 * fields and parameters (400); the decoded size (413); an empty file (400); the declared type
 * against the magic bytes (415). Decoded document bytes are personal data: every intermediate
 * copy made here is wiped before it is freed. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kycgate/base64.h"
#include "kycgate/json.h"
#include "kycgate/validate.h"
#include "validate_internal.h"

static const char D_CONTENT_TYPE[] =
    "Content-Type must be image/jpeg, image/png, application/pdf or application/json";
static const char D_EMPTY[] = "the document is an empty file";
static const char D_TOO_LARGE[] = "the document is larger than the configured limit";
static const char D_NOT_OBJECT[] = "the body must be a JSON object";
static const char D_UNKNOWN_KEY[] = "unknown key; allowed: data, mimeType, expiresAt";
static const char D_REQUIRED[] = "is required";
static const char D_STRING[] = "must be a string";
static const char D_DATE[] = "must be a date YYYY-MM-DD that exists";
static const char D_EXPIRES_TWICE[] = "expiresAt is given both in the query and in the body";
static const char D_BASE64[] =
    "must be standard base64 (CR/LF allowed) or a data URL data:<type>;base64,<base64>";
static const char D_DATA_URL[] = "a data URL must be data:<type>;base64,<base64>";
static const char D_MISMATCH[] = "mimeType and the data URL's type differ";
static const char D_TYPE[] = "the document type must be image/jpeg, image/png or application/pdf";
static const char D_MAGIC[] = "the file's content does not match its declared type";
static const char D_UNKNOWN_MAGIC[] = "the file is not a JPEG, PNG or PDF";

/* What both body forms reduce to before the type checks. */
struct doc {
	const unsigned char *bytes; /* decoded file (borrowed) */
	size_t len;
	enum kg_mime declared; /* KG_MIME_NONE when nothing declared a type */
	const char *expires;   /* a valid date, or NULL */
};

/* Fields read from a JSON body; strings borrowed from the parsed tree. */
struct json_doc {
	const char *data;
	size_t data_len;
	const char *mime;    /* mimeType field, or NULL */
	const char *expires; /* expiresAt field, or NULL */
	size_t expires_len;
};

/* A token character of RFC 9110 (type and subtype names). */
static bool tchar(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$&^_.+-", c) != NULL);
}

/* Splits "data:<type>/<subtype>;base64,<b64>" (scheme and ";base64," case-insensitive).
 * *mime receives the type's kg_mime (OTHER for any type but the three). */
static bool split_data_url(const char *s, size_t len, enum kg_mime *mime, const char **b64,
                           size_t *b64_len)
{
	char type[128];
	size_t i = 5, slash = 0;

	while (i < len && (tchar((unsigned char)s[i]) || s[i] == '/') && i - 5 < sizeof(type) - 1) {
		if (s[i] == '/')
			slash = slash == 0 ? i : SIZE_MAX;
		i++;
	}
	if (slash == 0 || slash == SIZE_MAX || slash == 5 || slash + 1 == i)
		return false;
	if (len - i < 8 || strncasecmp(s + i, ";base64,", 8) != 0)
		return false;
	memcpy(type, s + 5, i - 5);
	type[i - 5] = '\0';
	*mime = kg_mime_parse(type);
	*b64 = s + i + 8;
	*b64_len = len - i - 8;
	return true;
}

/* Overwrites the bytes of a json-c string the caller holds the only reference to, before the
 * tree is released: the base64 of a document is personal data. */
static void wipe_json_string(struct json_object *str)
{
	if (!json_object_is_type(str, json_type_string))
		return;
	kg_wipe((char *)json_object_get_string(str), (size_t)json_object_get_string_len(str));
}

/* Reads one optional string member into *s / *len; a wrong type is recorded. */
static void read_string(struct kgv_errors *e, struct json_object *body, const char *key,
                        const char **s, size_t *len)
{
	struct json_object *v;

	if (!json_object_object_get_ex(body, key, &v))
		return;
	if (!json_object_is_type(v, json_type_string)) {
		kgv_error_at(e, "", key, D_STRING);
		return;
	}
	*s = json_object_get_string(v);
	*len = (size_t)json_object_get_string_len(v);
}

/* Checks the JSON body's members; problems go to e. */
static void read_json_fields(struct kgv_errors *e, struct json_object *body,
                             const struct kg_doc_input *in, struct json_doc *jd)
{
	size_t mime_len = 0;

	json_object_object_foreach(body, key, val)
	{
		(void)val;
		if (strcmp(key, "data") != 0 && strcmp(key, "mimeType") != 0 &&
		    strcmp(key, "expiresAt") != 0)
			kgv_error_at(e, "", key, D_UNKNOWN_KEY);
	}
	if (!json_object_object_get_ex(body, "data", NULL))
		kgv_error(e, "/data", D_REQUIRED);
	read_string(e, body, "data", &jd->data, &jd->data_len);
	read_string(e, body, "mimeType", &jd->mime, &mime_len);
	read_string(e, body, "expiresAt", &jd->expires, &jd->expires_len);
	if (jd->mime != NULL && strlen(jd->mime) != mime_len)
		jd->mime = ""; /* a NUL inside: no media type, so OTHER below */
	if (jd->expires != NULL && in->expires_at_query != NULL)
		kgv_error(e, "/expiresAt", D_EXPIRES_TWICE);
	else if (jd->expires != NULL && !kg_date_valid(jd->expires, jd->expires_len))
		kgv_error(e, "/expiresAt", D_DATE);
}

/* ?expiresAt, when given, is a real date. A parameter, not a field: no pointer. */
static bool query_date_valid(const struct kg_doc_input *in, const char **detail)
{
	const char *q = in->expires_at_query;

	if (q == NULL || kg_date_valid(q, strlen(q)))
		return true;
	*detail = "the expiresAt parameter must be a date YYYY-MM-DD that exists";
	return false;
}

/* The type checks and the output object shared by both body forms. */
static enum kg_err shape(const struct doc *d, const char *locator, enum kg_doc_type type,
                         struct json_object **out, const char **detail);

/* Raw body: Content-Type gives the declared type, the query the expiry. */
static enum kg_err from_raw(const struct kg_doc_input *in, enum kg_mime declared,
                            const char *locator, enum kg_doc_type type, struct json_object **out,
                            const char **detail)
{
	struct doc d = {.bytes = in->body,
	                .len = in->body_len,
	                .declared = declared,
	                .expires = in->expires_at_query};

	if (!query_date_valid(in, detail))
		return KG_ERR_INVALID;
	if (in->body_len > in->max_document_bytes) {
		*detail = D_TOO_LARGE;
		return KG_ERR_TOO_LARGE;
	}
	if (in->body_len == 0) {
		*detail = D_EMPTY;
		return KG_ERR_INVALID;
	}
	return shape(&d, locator, type, out, detail);
}

/* The declared type of a JSON body: mimeType, else the data URL's type (both: must agree). */
static enum kg_err declared_type(const struct json_doc *jd, enum kg_mime url_mime,
                                 enum kg_mime *declared, const char **detail)
{
	enum kg_mime field = KG_MIME_NONE;

	if (jd->mime != NULL) {
		field = kg_mime_parse(jd->mime);
		if (field == KG_MIME_NONE)
			field = KG_MIME_OTHER; /* an empty mimeType declares no known type */
	}
	if (field != KG_MIME_NONE && url_mime != KG_MIME_NONE && field != url_mime) {
		*detail = D_MISMATCH;
		return KG_ERR_MEDIA_TYPE;
	}
	*declared = field != KG_MIME_NONE ? field : url_mime;
	return KG_OK;
}

/* Decodes the base64 of a JSON body into new memory *bytes (caller wipes and frees). */
static enum kg_err decode_data(const char *b64, size_t b64_len, size_t limit, unsigned char **bytes,
                               size_t *len, const char **detail)
{
	size_t need;

	*bytes = NULL;
	*len = 0;
	if (kg_base64_check(b64, b64_len, &need) != KG_OK) {
		*detail = D_BASE64;
		return KG_ERR_INVALID;
	}
	if (need > limit) {
		*detail = D_TOO_LARGE;
		return KG_ERR_TOO_LARGE;
	}
	if (need == 0) {
		*detail = D_EMPTY;
		return KG_ERR_INVALID;
	}
	*bytes = malloc(need);
	if (*bytes == NULL)
		return KG_ERR_NOMEM;
	if (kg_base64_decode(b64, b64_len, *bytes, need, len) != KG_OK) {
		kg_wipe(*bytes, need);
		free(*bytes);
		*bytes = NULL;
		*len = 0;
		return KG_ERR_INTERNAL; /* kg_base64_check passed: cannot happen */
	}
	return KG_OK;
}

/* Data URL or plain base64 → decoded bytes and declared type, then shape(). */
static enum kg_err from_json_fields(const struct kg_doc_input *in, const struct json_doc *jd,
                                    const char *locator, enum kg_doc_type type,
                                    struct json_object **out, const char **detail,
                                    struct kgv_errors *e)
{
	const char *b64 = jd->data;
	size_t b64_len = jd->data_len;
	enum kg_mime url_mime = KG_MIME_NONE;
	struct doc d = {.expires = jd->expires != NULL ? jd->expires : in->expires_at_query};
	unsigned char *bytes = NULL;
	enum kg_err err;

	if (b64_len >= 5 && strncasecmp(b64, "data:", 5) == 0 &&
	    !split_data_url(jd->data, jd->data_len, &url_mime, &b64, &b64_len)) {
		kgv_error(e, "/data", D_DATA_URL);
		*detail = D_DATA_URL;
		return KG_ERR_INVALID;
	}
	err = decode_data(b64, b64_len, in->max_document_bytes, &bytes, &d.len, detail);
	if (err == KG_ERR_INVALID)
		kgv_error(e, "/data", *detail);
	if (err == KG_OK)
		err = declared_type(jd, url_mime, &d.declared, detail);
	if (err == KG_OK) {
		d.bytes = bytes;
		err = shape(&d, locator, type, out, detail);
	}
	kg_wipe(bytes, d.len);
	free(bytes);
	return err;
}

/* JSON body: parsed strictly, then its fields checked, then decoded. */
static enum kg_err from_json(const struct kg_doc_input *in, const char *locator,
                             enum kg_doc_type type, struct json_object **out, const char **detail,
                             struct kgv_errors *e)
{
	struct json_object *body = NULL, *data = NULL;
	struct json_doc jd = {0};
	char *dup = NULL;
	enum kg_err err;

	err = kg_json_parse((const char *)in->body, in->body_len, KG_MAX_JSON_DEPTH, &body, detail,
	                    &dup);
	if (err == KG_ERR_INVALID && dup != NULL)
		kgv_error(e, dup, *detail);
	free(dup);
	if (err != KG_OK)
		goto out;
	err = KG_ERR_INVALID;
	if (!json_object_is_type(body, json_type_object)) {
		kgv_error(e, "", D_NOT_OBJECT);
		*detail = D_NOT_OBJECT;
		goto out;
	}
	read_json_fields(e, body, in, &jd);
	if (e->first != NULL || e->nomem) {
		*detail = e->first;
		goto out;
	}
	if (jd.expires == NULL && !query_date_valid(in, detail))
		goto out;
	err = from_json_fields(in, &jd, locator, type, out, detail, e);
out:
	if (json_object_object_get_ex(body, "data", &data))
		wipe_json_string(data);
	json_object_put(body);
	return err;
}

/* Adds key: string (length-aware) to obj. */
static bool add_string(struct json_object *obj, const char *key, const char *s, size_t len)
{
	struct json_object *v;

	if (len > INT_MAX)
		return false;
	v = json_object_new_string_len(s, (int)len);
	if (v == NULL)
		return false;
	if (json_object_object_add(obj, key, v) != 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

/* "data:<mime>;base64,<padded base64>" as a string member of obj. */
static bool add_data_url(struct json_object *obj, enum kg_mime mime, const unsigned char *bytes,
                         size_t len)
{
	const char *name = kg_mime_name(mime);
	size_t head = strlen("data:") + strlen(name) + strlen(";base64,");
	size_t enc = kg_base64_encoded_len(len);
	size_t total = head + enc;
	char *url;
	bool ok = false;

	if (enc == 0 || total < enc || total > INT_MAX - 1)
		return false;
	url = malloc(total + 1);
	if (url == NULL)
		return false;
	memcpy(url, "data:", 5);
	memcpy(url + 5, name, strlen(name));
	memcpy(url + head - 8, ";base64,", 8);
	if (kg_base64_encode(bytes, len, url + head, enc + 1) == enc)
		ok = add_string(obj, "data", url, total);
	kg_wipe(url, total);
	free(url);
	return ok;
}

static struct json_object *build_output(const struct doc *d, const char *locator,
                                        enum kg_doc_type type)
{
	struct json_object *out = json_object_new_object();
	struct json_object *ref = json_object_new_object();
	const char *tname = kg_doc_type_name(type);
	bool ok = out != NULL && ref != NULL && tname != NULL;

	ok = ok && add_string(ref, "userLocator", locator, strlen(locator));
	ok = ok && json_object_object_add(out, "reference", ref) == 0;
	if (ok)
		ref = NULL;
	ok = ok && add_string(out, "documentType", tname, strlen(tname));
	ok = ok && add_data_url(out, d->declared, d->bytes, d->len);
	if (ok && d->expires != NULL)
		ok = add_string(out, "expiresAt", d->expires, strlen(d->expires));
	json_object_put(ref);
	if (!ok) {
		json_object_put(out);
		out = NULL;
	}
	return out;
}

static enum kg_err shape(const struct doc *d, const char *locator, enum kg_doc_type type,
                         struct json_object **out, const char **detail)
{
	enum kg_mime sniffed = kg_mime_sniff(d->bytes, d->len);
	struct doc typed = *d;

	if (d->declared == KG_MIME_OTHER) {
		*detail = D_TYPE;
		return KG_ERR_MEDIA_TYPE;
	}
	if (d->declared == KG_MIME_NONE && sniffed == KG_MIME_OTHER) {
		*detail = D_UNKNOWN_MAGIC;
		return KG_ERR_MEDIA_TYPE;
	}
	if (d->declared != KG_MIME_NONE && sniffed != d->declared) {
		*detail = D_MAGIC;
		return KG_ERR_MEDIA_TYPE;
	}
	typed.declared = sniffed;
	if (locator == NULL || kg_doc_type_name(type) == NULL) {
		*detail = "internal error: no locator or document type";
		return KG_ERR_INTERNAL;
	}
	*out = build_output(&typed, locator, type);
	return *out != NULL ? KG_OK : KG_ERR_NOMEM;
}

enum kg_err kg_shape_document(const struct kg_doc_input *in, const char *locator,
                              enum kg_doc_type type, struct json_object **out, const char **detail,
                              struct json_object **errors)
{
	struct kgv_errors e = {0};
	enum kg_mime raw = kg_mime_parse(in->content_type);
	enum kg_err err;

	*out = NULL;
	*detail = NULL;
	if (errors != NULL)
		*errors = NULL;
	if (raw == KG_MIME_JPEG || raw == KG_MIME_PNG || raw == KG_MIME_PDF)
		return from_raw(in, raw, locator, type, out, detail);
	if (!kgv_media_type_is(in->content_type, "application/json")) {
		*detail = D_CONTENT_TYPE;
		return KG_ERR_MEDIA_TYPE;
	}
	if (!kgv_errors_init(&e))
		return KG_ERR_NOMEM;
	err = from_json(in, locator, type, out, detail, &e);
	if (e.nomem && err != KG_OK)
		err = KG_ERR_NOMEM;
	if (err != KG_OK && *detail == NULL)
		*detail = err == KG_ERR_NOMEM ? "out of memory" : D_CONTENT_TYPE;
	if (errors != NULL && err == KG_ERR_INVALID && e.first != NULL) {
		*errors = e.list;
		e.list = NULL;
	}
	kgv_errors_drop(&e);
	return err;
}
