/* Validation of path segments and parameters (percent-decoding, locators, identifiers, upstream
 * path encoding), media types, country codes, the wallet body, and the helpers the body
 * validators share (validate_internal.h). Dates and times are in validate_time.c, documents in
 * validate_doc.c, users and consent in validate_user.c. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kycgate/json.h"
#include "kycgate/validate.h"
#include "validate_internal.h"

/* ---- problem lists ---------------------------------------------------------------------- */

bool kgv_errors_init(struct kgv_errors *e)
{
	e->first = NULL;
	e->list = json_object_new_array();
	e->nomem = e->list == NULL;
	return !e->nomem;
}

/* Appends {pointer, text}; summary (static) becomes e->first when it is the first problem. */
static void append(struct kgv_errors *e, const char *pointer, const char *text, const char *summary)
{
	struct json_object *item = NULL, *p = NULL, *d = NULL;

	if (e->list == NULL) {
		e->nomem = true;
		return;
	}
	item = json_object_new_object();
	p = json_object_new_string(pointer);
	d = json_object_new_string(text);
	if (item == NULL || p == NULL || d == NULL)
		goto fail;
	if (json_object_object_add(item, "pointer", p) != 0)
		goto fail;
	p = NULL;
	if (json_object_object_add(item, "detail", d) != 0)
		goto fail;
	d = NULL;
	if (json_object_array_add(e->list, item) != 0)
		goto fail;
	if (e->first == NULL)
		e->first = summary;
	return;
fail:
	json_object_put(item);
	json_object_put(p);
	json_object_put(d);
	e->nomem = true;
}

void kgv_error(struct kgv_errors *e, const char *pointer, const char *detail)
{
	append(e, pointer, detail, detail);
}

void kgv_error_at(struct kgv_errors *e, const char *parent, const char *key, const char *detail)
{
	kgv_error_at_text(e, parent, key, detail, detail);
}

void kgv_error_at_text(struct kgv_errors *e, const char *parent, const char *key, const char *text,
                       const char *summary)
{
	char *pointer = kg_json_pointer_join(parent, key);

	if (pointer == NULL) {
		e->nomem = true;
		return;
	}
	append(e, pointer, text, summary);
	free(pointer);
}

void kgv_errors_drop(struct kgv_errors *e)
{
	json_object_put(e->list);
	e->list = NULL;
}

/* ---- UTF-8 ------------------------------------------------------------------------------ */

/* Length of the valid sequence at s[0] (a byte >= 0x80), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
	size_t n;
	unsigned char lo = 0x80, hi = 0xBF;

	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		n = 3;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		n = 4;
	else
		return 0;
	if (left < n)
		return 0;
	if (s[0] == 0xE0)
		lo = 0xA0; /* overlong */
	else if (s[0] == 0xED)
		hi = 0x9F; /* surrogates */
	else if (s[0] == 0xF0)
		lo = 0x90; /* overlong */
	else if (s[0] == 0xF4)
		hi = 0x8F; /* above U+10FFFF */
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++) {
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	}
	return n;
}

bool kgv_utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t n = s[i] < 0x80 ? 1 : utf8_seq(s + i, len - i);

		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

size_t kgv_utf8_chars(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xC0) != 0x80;
	return n;
}

/* ---- percent-decoding ------------------------------------------------------------------- */

/* Decodes the escape at raw[i] ('%'); -1 when malformed. */
static int decode_escape(const char *raw, size_t raw_len, size_t i)
{
	int hi, lo;

	if (raw_len - i < 3)
		return -1;
	hi = kg_hex_digit(raw[i + 1]);
	lo = kg_hex_digit(raw[i + 2]);
	if (hi < 0 || lo < 0)
		return -1;
	return hi << 4 | lo;
}

enum kg_err kg_pct_decode(const char *raw, size_t raw_len, char *out, size_t cap, size_t *out_len)
{
	size_t n = 0;
	enum kg_err err = KG_ERR_INVALID;

	if (out_len != NULL)
		*out_len = 0;
	if (cap == 0)
		return KG_ERR_TOO_LARGE;
	for (size_t i = 0; i < raw_len; i++) {
		int c = (unsigned char)raw[i];

		if (c == '%') {
			c = decode_escape(raw, raw_len, i);
			if (c < 0)
				goto fail;
			i += 2;
		}
		if (c < 0x20 || c == 0x7F)
			goto fail;
		if (n < cap - 1)
			out[n] = (char)c;
		n++;
	}
	if (n > cap - 1) {
		err = KG_ERR_TOO_LARGE;
		goto fail;
	}
	if (!kgv_utf8_valid((const unsigned char *)out, n))
		goto fail;
	out[n] = '\0';
	if (out_len != NULL)
		*out_len = n;
	return KG_OK;
fail:
	kg_wipe(out, n < cap ? n : cap);
	out[0] = '\0';
	return err;
}

/* ---- locators and identifiers ----------------------------------------------------------- */

static bool is_alnum(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* A byte allowed in the local part: printable non-space ASCII but ( ) , : ; < > [ \ ] ". */
static bool email_local_byte(unsigned char c)
{
	return c > 0x20 && c < 0x7F && strchr("(),:;<>[\\]\"", c) == NULL;
}

/* Dot-separated labels of [A-Za-z0-9-]{1,63}, no label starting or ending with '-', at least
 * one dot. */
static bool email_domain_valid(const char *s, size_t len)
{
	size_t label = 0, dots = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			dots++;
		} else if (is_alnum(c) || c == '-') {
			if (c == '-' && label == 0)
				return false;
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return dots > 0 && label > 0 && s[len - 1] != '-';
}

bool kgv_email_valid(const char *s, size_t len)
{
	const char *at;
	size_t local;

	if (len == 0 || len > 254)
		return false;
	at = memchr(s, '@', len);
	if (at == NULL || memchr(at + 1, '@', len - (size_t)(at - s) - 1) != NULL)
		return false;
	local = (size_t)(at - s);
	if (local == 0 || local > 64)
		return false;
	for (size_t i = 0; i < local; i++) {
		if (!email_local_byte((unsigned char)s[i]))
			return false;
	}
	return email_domain_valid(at + 1, len - local - 1);
}

bool kgv_e164_valid(const char *s, size_t len)
{
	if (len < 3 || len > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9')
		return false;
	for (size_t i = 2; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return true;
}

static bool handle_valid(const char *s, size_t len)
{
	if (len == 0 || len > 15)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!is_alnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	}
	return true;
}

/* Valid UTF-8 without C0 controls, DEL or C1 controls (U+0080..U+009F, encoded C2 80..9F). */
static bool printable_utf8(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < len; i++) {
		if (u[i] < 0x20 || u[i] == 0x7F)
			return false;
		if (u[i] == 0xC2 && i + 1 < len && u[i + 1] <= 0x9F)
			return false;
	}
	return kgv_utf8_valid(u, len);
}

struct locator_kind {
	const char *prefix; /* with its colon */
	bool (*value_valid)(const char *s, size_t len);
	const char *detail;
};

static const struct locator_kind locator_kinds[] = {
    {"email:", kgv_email_valid, "an email: locator must be an e-mail address"},
    {"userId:", printable_utf8, "a userId: locator must be printable UTF-8"},
    {"phoneNumber:", kgv_e164_valid,
     "a phoneNumber: locator must be E.164 (+ and 2 to 15 digits, the first not 0)"},
    {"twitter:", handle_valid, "a twitter: locator must be 1 to 15 of A-Z a-z 0-9 _"},
    {"x:", handle_valid, "an x: locator must be 1 to 15 of A-Z a-z 0-9 _"},
};

static const struct locator_kind *locator_kind_of(const char *loc, size_t len)
{
	for (size_t i = 0; i < sizeof(locator_kinds) / sizeof(locator_kinds[0]); i++) {
		size_t n = strlen(locator_kinds[i].prefix);

		if (len >= n && memcmp(loc, locator_kinds[i].prefix, n) == 0)
			return &locator_kinds[i];
	}
	return NULL;
}

bool kg_locator_valid(const char *loc, size_t len, const char **detail)
{
	const struct locator_kind *kind;
	const char *why = NULL, *value;
	size_t vlen;

	if (loc == NULL || len > KG_MAX_LOCATOR_BYTES) {
		why = "a locator is at most 256 bytes";
		goto out;
	}
	kind = locator_kind_of(loc, len);
	if (kind == NULL) {
		why = "a locator is prefix:value with prefix email, userId, phoneNumber, twitter "
		      "or x";
		goto out;
	}
	value = loc + strlen(kind->prefix);
	vlen = len - strlen(kind->prefix);
	if (vlen == 0)
		why = "the locator value is empty";
	else if ((vlen == 1 && value[0] == '.') || (vlen == 2 && memcmp(value, "..", 2) == 0))
		why = "the locator value may not be . or ..";
	else if (!kind->value_valid(value, vlen))
		why = kind->detail;
out:
	if (detail != NULL)
		*detail = why;
	return why == NULL;
}

bool kg_document_id_valid(const char *s, size_t len)
{
	if (s == NULL || len == 0 || len > KG_MAX_DOCUMENT_ID_BYTES)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!is_alnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	}
	return true;
}

bool kg_name_valid(const char *s, size_t len)
{
	size_t i;

	if (len < 1 || len > KG_NAME_MAX_BYTES)
		return false;
	for (i = 0; i < len; i++) {
		char ch = s[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

bool kg_wallet_address_valid(const char *s, size_t len)
{
	if (s == NULL || len == 0 || len > KG_MAX_ADDRESS_BYTES)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!is_alnum((unsigned char)s[i]))
			return false;
	}
	return true;
}

/* ---- upstream path encoding ------------------------------------------------------------- */

static bool path_byte_literal(unsigned char c)
{
	return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '@';
}

size_t kg_path_encode(const char *val, size_t len, bool is_locator, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *colon = is_locator ? memchr(val, ':', len) : NULL;
	size_t literal = colon != NULL ? (size_t)(colon - val) + 1 : 0;
	size_t w = 0;

	if (cap == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)val[i];
		bool keep = i < literal || path_byte_literal(c);

		if (cap - w < (keep ? 2u : 4u))
			goto fail;
		if (keep) {
			out[w++] = (char)c;
			continue;
		}
		out[w++] = '%';
		out[w++] = hex[c >> 4];
		out[w++] = hex[c & 0x0F];
	}
	out[w] = '\0';
	return w;
fail:
	out[0] = '\0';
	return 0;
}

/* ---- document types and media types ----------------------------------------------------- */

static const char *const doc_type_names[KG_DOC_TYPE_COUNT] = {
    [KG_DOC_ID_PASSPORT] = "id-passport",
    [KG_DOC_ID_IDCARD_FRONT] = "id-idcard-front",
    [KG_DOC_ID_IDCARD_BACK] = "id-idcard-back",
    [KG_DOC_ID_RESIDENCY_PERMIT] = "id-residency-permit",
    [KG_DOC_PROOF_OF_ADDRESS] = "proof-of-address",
    [KG_DOC_PROOF_OF_INCOME] = "proof-of-income",
    [KG_DOC_SELFIE_FRONT] = "selfie-front",
    [KG_DOC_SELFIE_LEFT] = "selfie-left",
    [KG_DOC_SELFIE_RIGHT] = "selfie-right",
};

enum kg_doc_type kg_doc_type_parse(const char *s, size_t len)
{
	if (s == NULL)
		return KG_DOC_INVALID;
	for (int i = 0; i < KG_DOC_TYPE_COUNT; i++) {
		if (strlen(doc_type_names[i]) == len && memcmp(doc_type_names[i], s, len) == 0)
			return (enum kg_doc_type)i;
	}
	return KG_DOC_INVALID;
}

const char *kg_doc_type_name(enum kg_doc_type t)
{
	if ((int)t < 0 || t >= KG_DOC_TYPE_COUNT)
		return NULL;
	return doc_type_names[t];
}

bool kgv_media_type_is(const char *s, const char *essence)
{
	const char *end;
	size_t n = strlen(essence);

	if (s == NULL)
		return false;
	while (*s == ' ' || *s == '\t')
		s++;
	end = strchr(s, ';');
	if (end == NULL)
		end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return (size_t)(end - s) == n && strncasecmp(s, essence, n) == 0;
}

enum kg_mime kg_mime_parse(const char *s)
{
	if (s == NULL || *s == '\0')
		return KG_MIME_NONE;
	for (int m = KG_MIME_JPEG; m <= KG_MIME_PDF; m++) {
		if (kgv_media_type_is(s, kg_mime_name((enum kg_mime)m)))
			return (enum kg_mime)m;
	}
	return KG_MIME_OTHER;
}

const char *kg_mime_name(enum kg_mime m)
{
	switch (m) {
	case KG_MIME_JPEG:
		return "image/jpeg";
	case KG_MIME_PNG:
		return "image/png";
	case KG_MIME_PDF:
		return "application/pdf";
	default:
		return NULL;
	}
}

enum kg_mime kg_mime_sniff(const unsigned char *data, size_t len)
{
	static const unsigned char jpeg[] = {0xFF, 0xD8, 0xFF};
	static const unsigned char png[] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
	static const unsigned char pdf[] = {'%', 'P', 'D', 'F', '-'};

	if (data == NULL)
		return KG_MIME_OTHER;
	if (len >= sizeof(jpeg) && memcmp(data, jpeg, sizeof(jpeg)) == 0)
		return KG_MIME_JPEG;
	if (len >= sizeof(png) && memcmp(data, png, sizeof(png)) == 0)
		return KG_MIME_PNG;
	if (len >= sizeof(pdf) && memcmp(data, pdf, sizeof(pdf)) == 0)
		return KG_MIME_PDF;
	return KG_MIME_OTHER;
}

/* ---- countries -------------------------------------------------------------------------- */

/* ISO 3166-1 alpha-2, every officially assigned code (249), sorted. */
static const char countries[] =
    "ADAEAFAGAIALAMAOAQARASATAUAWAXAZBABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZ"
    "CACCCDCFCGCHCICKCLCMCNCOCRCUCVCWCXCYCZDEDJDKDMDODZECEEEGEHERESETFIFJFKFMFOFR"
    "GAGBGDGEGFGGGHGIGLGMGNGPGQGRGSGTGUGWGYHKHMHNHRHTHUIDIEILIMINIOIQIRISITJEJMJO"
    "JPKEKGKHKIKMKNKPKRKWKYKZLALBLCLILKLRLSLTLULVLYMAMCMDMEMFMGMHMKMLMMMNMOMPMQMR"
    "MSMTMUMVMWMXMYMZNANCNENFNGNINLNONPNRNUNZOMPAPEPFPGPHPKPLPMPNPRPSPTPWPYQARERO"
    "RSRURWSASBSCSDSESGSHSISJSKSLSMSNSOSRSSSTSVSXSYSZTCTDTFTGTHTJTKTLTMTNTOTRTTTV"
    "TWTZUAUGUMUSUYUZVAVCVEVGVIVNVUWFWSYEYTZAZMZW";

/* EU member states and the EEA members IS, LI, NO. */
static const char eu_eea[] = "ATBEBGCYCZDEDKEEESFIFRGRHRHUIEISITLILTLULVMTNLNOPLPTROSESISK";

static bool in_code_list(const char *list, size_t count, const char *cc)
{
	size_t lo = 0, hi = count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(list + 2 * mid, cc, 2);

		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

bool kg_country_valid(const char *s, size_t len)
{
	if (s == NULL || len != 2)
		return false;
	return in_code_list(countries, (sizeof(countries) - 1) / 2, s);
}

bool kg_country_eu_eea(const char *cc)
{
	if (cc == NULL || strlen(cc) != 2)
		return false;
	return in_code_list(eu_eea, (sizeof(eu_eea) - 1) / 2, cc);
}

/* ---- wallets ---------------------------------------------------------------------------- */

enum kg_err kg_validate_wallet(struct json_object *body, struct json_object **errors)
{
	struct kgv_errors e;

	if (errors != NULL)
		*errors = NULL;
	if (json_object_is_type(body, json_type_object))
		return KG_OK;
	if (!kgv_errors_init(&e))
		return KG_ERR_NOMEM;
	kgv_error(&e, "", "the body must be a JSON object");
	if (e.nomem) {
		kgv_errors_drop(&e);
		return KG_ERR_NOMEM;
	}
	if (errors != NULL)
		*errors = e.list;
	else
		kgv_errors_drop(&e);
	return KG_ERR_INVALID;
}
