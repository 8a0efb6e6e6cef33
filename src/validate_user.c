/* The user body (Crossmint's UpsertUserDto) and the consent body. Users are checked against a
 * table of field rules, one per known field, so every problem is reported at once with its JSON
 * Pointer. Crossmint replaces the whole record on every PUT, so a key not in the table (a
 * misspelling) would silently erase what it meant: it is refused, naming the nearest known key,
 * unless the caller's configuration lets unknown nested keys pass. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "kycgate/json.h"
#include "kycgate/validate.h"
#include "validate_internal.h"

static const char D_NOT_OBJECT[] = "the body must be a JSON object";
static const char D_OBJECT[] = "must be an object";
static const char D_STRING[] = "must be a string";
static const char D_REQUIRED[] = "is required";
static const char D_NO_OFFSET[] = "a time without a UTC offset is ambiguous";

/* ---- users ------------------------------------------------------------------------------ */

enum kind {
	K_TEXT,       /* string of min..max characters */
	K_TEXT_ARRAY, /* array of K_TEXT items */
	K_BIRTH_DATE, /* existing date, 1900 or later, not in the future */
	K_COUNTRY,    /* ISO 3166-1 alpha-2 */
	K_EMAIL,
	K_PHONE,     /* E.164 */
	K_TIMESTAMP, /* RFC 3339 with an offset */
	K_OBJECT,    /* object checked with nested rules */
};

struct rule {
	const char *name; /* NULL ends a table */
	enum kind kind;
	bool required;
	size_t min, max;           /* K_TEXT, K_TEXT_ARRAY items: characters */
	const char *detail;        /* K_TEXT, K_TEXT_ARRAY: the length rule */
	const struct rule *nested; /* K_OBJECT */
};

static const char L1_20[] = "must be 1 to 20 characters";
static const char L1_64[] = "must be 1 to 64 characters";
static const char L1_100[] = "must be 1 to 100 characters";
static const char L0_200[] = "must be at most 200 characters";
static const char L1_200[] = "must be 1 to 200 characters";
static const char L1_256[] = "must be 1 to 256 characters";

/* clang-format off: one rule per line reads as a schema */
static const struct rule user_details[] = {
    {"firstName", K_TEXT, true, 1, 100, L1_100, NULL},
    {"lastName", K_TEXT, true, 1, 100, L1_100, NULL},
    {"dateOfBirth", K_BIRTH_DATE, true, 0, 0, NULL, NULL},
    {"countryOfResidence", K_COUNTRY, true, 0, 0, NULL, NULL},
    {NULL},
};

static const struct rule address[] = {
    {"line1", K_TEXT, true, 1, 200, L1_200, NULL},
    {"line2", K_TEXT, false, 0, 200, L0_200, NULL},
    {"city", K_TEXT, true, 1, 100, L1_100, NULL},
    {"stateOrRegion", K_TEXT, false, 1, 100, L1_100, NULL},
    {"postalCode", K_TEXT, true, 1, 20, L1_20, NULL},
    {NULL},
};

static const struct rule identity_document[] = {
    {"type", K_TEXT, true, 1, 64, L1_64, NULL},
    {"number", K_TEXT, true, 1, 64, L1_64, NULL},
    {"issuingCountryCode", K_COUNTRY, false, 0, 0, NULL, NULL},
    {NULL},
};

static const struct rule kyc_data[] = {
    {"nationality", K_COUNTRY, false, 0, 0, NULL, NULL},
    {"addressOfResidence", K_OBJECT, false, 0, 0, NULL, address},
    {"email", K_EMAIL, false, 0, 0, NULL, NULL},
    {"phoneNumber", K_PHONE, false, 0, 0, NULL, NULL},
    {"identityDocument", K_OBJECT, false, 0, 0, NULL, identity_document},
    {"ipAddresses", K_TEXT_ARRAY, false, 1, 256, L1_256, NULL},
    {NULL},
};

static const struct rule due_diligence[] = {
    {"employmentStatus", K_TEXT, true, 1, 100, L1_100, NULL},
    {"sourceOfFunds", K_TEXT, true, 1, 100, L1_100, NULL},
    {"industry", K_TEXT, true, 1, 100, L1_100, NULL},
    {"estimatedYearlyIncome", K_TEXT, false, 1, 100, L1_100, NULL},
    {"expectedYearlyTxVolume", K_TEXT, false, 1, 100, L1_100, NULL},
    {NULL},
};

static const struct rule verification_history[] = {
    {"idVerificationTimestamp", K_TIMESTAMP, true, 0, 0, NULL, NULL},
    {"livenessVerificationTimestamp", K_TIMESTAMP, true, 0, 0, NULL, NULL},
    {NULL},
};

static const struct rule user_sections[] = {
    {"userDetails", K_OBJECT, false, 0, 0, NULL, user_details},
    {"kycData", K_OBJECT, false, 0, 0, NULL, kyc_data},
    {"dueDiligence", K_OBJECT, false, 0, 0, NULL, due_diligence},
    {"verificationHistory", K_OBJECT, false, 0, 0, NULL, verification_history},
    {NULL},
};
/* clang-format on */

struct user_check {
	struct kgv_errors e;
	char latest_today[11]; /* the latest calendar date anywhere on Earth now (UTC+14) */
	bool pass_unknown;     /* unknown keys inside sections pass (validation.unknown_fields) */
};

static void check_unknown(struct user_check *c, struct json_object *obj, const char *pointer,
                          const struct rule *rules, bool top);

static void check_members(struct user_check *c, struct json_object *obj, const char *pointer,
                          const struct rule *rules);

static void check_text(struct user_check *c, struct json_object *v, const char *pointer,
                       const struct rule *r)
{
	size_t chars;

	if (!json_object_is_type(v, json_type_string)) {
		kgv_error(&c->e, pointer, D_STRING);
		return;
	}
	chars = kgv_utf8_chars(json_object_get_string(v), (size_t)json_object_get_string_len(v));
	if (chars < r->min || chars > r->max)
		kgv_error(&c->e, pointer, r->detail);
}

static void check_text_array(struct user_check *c, struct json_object *v, const char *pointer,
                             const struct rule *r)
{
	size_t n;

	if (!json_object_is_type(v, json_type_array)) {
		kgv_error(&c->e, pointer, "must be an array of strings");
		return;
	}
	n = json_object_array_length(v);
	for (size_t i = 0; i < n; i++) {
		char index[24];
		char *item;
		size_t k = sizeof(index) - 1, x = i;

		index[k] = '\0';
		do {
			index[--k] = (char)('0' + x % 10);
			x /= 10;
		} while (x != 0);
		item = kg_json_pointer_join(pointer, &index[k]);
		if (item == NULL) {
			c->e.nomem = true;
			return;
		}
		check_text(c, json_object_array_get_idx(v, i), item, r);
		free(item);
	}
}

static void check_birth_date(struct user_check *c, const char *s, size_t len, const char *pointer)
{
	if (!kg_date_valid(s, len))
		kgv_error(&c->e, pointer, "must be a date YYYY-MM-DD that exists");
	else if (memcmp(s, "1900-01-01", 10) < 0)
		kgv_error(&c->e, pointer, "must be 1900-01-01 or later");
	else if (memcmp(s, c->latest_today, 10) > 0)
		kgv_error(&c->e, pointer, "must not be in the future");
}

static void check_timestamp(struct user_check *c, const char *s, size_t len, const char *pointer)
{
	char utc[40];
	enum kgv_time t = kgv_rfc3339(s, len, utc, sizeof(utc), NULL);

	if (t == KGV_TIME_NO_OFFSET)
		kgv_error(&c->e, pointer, D_NO_OFFSET);
	else if (t != KGV_TIME_OK)
		kgv_error(&c->e, pointer, "must be an RFC 3339 date-time with a UTC offset");
}

/* The kinds that are strings with a shape. */
static void check_shaped_string(struct user_check *c, struct json_object *v, const char *pointer,
                                const struct rule *r)
{
	const char *s;
	size_t len;

	if (!json_object_is_type(v, json_type_string)) {
		kgv_error(&c->e, pointer, D_STRING);
		return;
	}
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (r->kind == K_BIRTH_DATE)
		check_birth_date(c, s, len, pointer);
	else if (r->kind == K_TIMESTAMP)
		check_timestamp(c, s, len, pointer);
	else if (r->kind == K_COUNTRY && !kg_country_valid(s, len))
		kgv_error(&c->e, pointer,
		          "must be an ISO 3166-1 alpha-2 country code in upper case");
	else if (r->kind == K_EMAIL && !kgv_email_valid(s, len))
		kgv_error(&c->e, pointer,
		          "must be an e-mail address local@domain of at most 254 characters");
	else if (r->kind == K_PHONE && !kgv_e164_valid(s, len))
		kgv_error(&c->e, pointer, "must be E.164: + and 2 to 15 digits, the first not 0");
}

static void check_field(struct user_check *c, struct json_object *v, const char *pointer,
                        const struct rule *r)
{
	switch (r->kind) {
	case K_OBJECT:
		if (!json_object_is_type(v, json_type_object)) {
			kgv_error(&c->e, pointer, D_OBJECT);
			break;
		}
		check_members(c, v, pointer, r->nested);
		if (!c->pass_unknown)
			check_unknown(c, v, pointer, r->nested, false);
		break;
	case K_TEXT:
		check_text(c, v, pointer, r);
		break;
	case K_TEXT_ARRAY:
		check_text_array(c, v, pointer, r);
		break;
	default:
		check_shaped_string(c, v, pointer, r);
		break;
	}
}

/* Checks the members of obj named in rules; other members are left alone. */
static void check_members(struct user_check *c, struct json_object *obj, const char *pointer,
                          const struct rule *rules)
{
	for (const struct rule *r = rules; r->name != NULL; r++) {
		struct json_object *v;
		char *field;
		bool present = json_object_object_get_ex(obj, r->name, &v);

		if (!present && !r->required)
			continue;
		field = kg_json_pointer_join(pointer, r->name);
		if (field == NULL) {
			c->e.nomem = true;
			return;
		}
		if (!present)
			kgv_error(&c->e, field, D_REQUIRED);
		else
			check_field(c, v, field, r);
		free(field);
	}
}

/* ---- unknown keys ------------------------------------------------------------------------ */

/* true when the shorter of a and b (at least 4 bytes) begins the other, case ignored. */
static bool prefix_of(const char *a, size_t al, const char *b, size_t bl)
{
	size_t n = al < bl ? al : bl;

	return n >= 4 && strncasecmp(a, b, n) == 0;
}

/* The known key of rules nearest to key, or NULL when none is close: an edit distance of at most
 * 1 (keys of up to 4 characters), 2 (up to 10) or 3, case ignored; else one beginning the other
 * ("state" for stateOrRegion). The smallest distance wins, then table order. */
static const char *nearest_key(const char *key, const struct rule *rules)
{
	size_t kl = strlen(key), best_score = SIZE_MAX;
	const char *best = NULL;

	if (kl > KG_EDIT_DISTANCE_MAX_BYTES)
		return NULL;
	for (const struct rule *r = rules; r->name != NULL; r++) {
		size_t rl = strlen(r->name), limit = rl <= 4 ? 1 : rl <= 10 ? 2 : 3, score;
		size_t d = kg_edit_distance(key, kl, r->name, rl, limit);

		if (d <= limit)
			score = d;
		else if (prefix_of(key, kl, r->name, rl))
			score = limit + 1;
		else
			continue;
		if (score < best_score) {
			best_score = score;
			best = r->name;
		}
	}
	return best;
}

static const struct rule *find_rule(const struct rule *rules, const char *key)
{
	for (const struct rule *r = rules; r->name != NULL; r++) {
		if (strcmp(r->name, key) == 0)
			return r;
	}
	return NULL;
}

static const char D_UNKNOWN_TOP[] = "unknown top-level key; Crossmint replaces the whole user on "
                                    "every PUT, so a misspelt key would erase a section";
static const char D_UNKNOWN[] = "unknown key; Crossmint replaces the whole user on every PUT, so "
                                "a misspelt key would erase the field it meant";

/* One unknown key: the rule, then "did you mean X?" when a known key is close, else the known
 * keys of that object. Names keys, never values. */
static void unknown_key(struct user_check *c, const char *pointer, const char *key,
                        const struct rule *rules, bool top)
{
	const char *summary = top ? D_UNKNOWN_TOP : D_UNKNOWN;
	const char *near = nearest_key(key, rules);
	char text[512];
	size_t used;

	if (near != NULL) {
		snprintf(text, sizeof(text), "%s; did you mean %s?", summary, near);
	} else {
		used = (size_t)snprintf(text, sizeof(text), "%s; the known keys here are", summary);
		for (const struct rule *r = rules; r->name != NULL && used < sizeof(text); r++)
			used += (size_t)snprintf(text + used, sizeof(text) - used, "%s %s",
			                         r == rules ? "" : ",", r->name);
	}
	kgv_error_at_text(&c->e, pointer, key, text, summary);
}

/* Reports every member of obj that rules do not name. */
static void check_unknown(struct user_check *c, struct json_object *obj, const char *pointer,
                          const struct rule *rules, bool top)
{
	json_object_object_foreach(obj, key, val)
	{
		(void)val;
		if (find_rule(rules, key) == NULL)
			unknown_key(c, pointer, key, rules, top);
	}
}

const char *kg_user_section_name(size_t i)
{
	return i < KG_USER_SECTION_COUNT ? user_sections[i].name : NULL;
}

unsigned kg_user_sections(struct json_object *body)
{
	unsigned set = 0;

	for (size_t i = 0; i < KG_USER_SECTION_COUNT && json_object_is_type(body, json_type_object);
	     i++) {
		if (json_object_object_get_ex(body, user_sections[i].name, NULL))
			set |= 1u << i;
	}
	return set;
}

/* "YYYY-MM-DD" of the current date at UTC+14, where the calendar day starts first. */
static void latest_today(char out[11])
{
	time_t t = time(NULL) + 14 * 3600;
	struct tm tm;
	int v[3], width[3] = {4, 2, 2};
	char *w = out;

	if (gmtime_r(&t, &tm) == NULL) {
		memcpy(out, "9999-12-31", 11);
		return;
	}
	v[0] = tm.tm_year + 1900;
	v[1] = tm.tm_mon + 1;
	v[2] = tm.tm_mday;
	for (int f = 0; f < 3; f++) {
		for (int i = width[f] - 1; i >= 0; i--) {
			w[i] = (char)('0' + v[f] % 10);
			v[f] /= 10;
		}
		w += width[f];
		*w++ = f < 2 ? '-' : '\0';
	}
}

enum kg_err kg_validate_user(struct json_object *body, bool pass_unknown,
                             struct json_object **errors)
{
	struct user_check c = {.pass_unknown = pass_unknown};
	enum kg_err err = KG_ERR_NOMEM;

	if (errors != NULL)
		*errors = NULL;
	if (!kgv_errors_init(&c.e))
		return KG_ERR_NOMEM;
	latest_today(c.latest_today);
	if (!json_object_is_type(body, json_type_object)) {
		kgv_error(&c.e, "", D_NOT_OBJECT);
		goto out;
	}
	if (json_object_object_length(body) == 0) {
		kgv_error(
		    &c.e, "",
		    "the body holds no section; Crossmint replaces the whole user on every PUT, "
		    "so an empty body would erase every section");
		goto out;
	}
	check_unknown(&c, body, "", user_sections, true);
	check_members(&c, body, "", user_sections);
out:
	if (c.e.nomem) {
		kgv_errors_drop(&c.e);
		return KG_ERR_NOMEM;
	}
	err = c.e.first == NULL ? KG_OK : KG_ERR_INVALID;
	if (errors != NULL)
		*errors = c.e.list;
	else
		kgv_errors_drop(&c.e);
	return err;
}

/* ---- consent ---------------------------------------------------------------------------- */

/* What a valid consent body says. */
struct consent {
	const char *type; /* Crossmint's name, static */
	bool needs_region;
	char accepted_at[40]; /* UTC form */
	const char *region;   /* static, or NULL */
};

/* The string member key of body, or NULL when absent or not a string (recorded in e). */
static struct json_object *string_member(struct kgv_errors *e, struct json_object *body,
                                         const char *key, bool required)
{
	struct json_object *v;

	if (!json_object_object_get_ex(body, key, &v)) {
		if (required)
			kgv_error_at(e, "", key, D_REQUIRED);
		return NULL;
	}
	if (!json_object_is_type(v, json_type_string)) {
		kgv_error_at(e, "", key, D_STRING);
		return NULL;
	}
	return v;
}

/* Index of the string value v in names (NULL-terminated), or -1. Length-aware. */
static int match(struct json_object *v, const char *const *names)
{
	const char *s = json_object_get_string(v);
	size_t len = (size_t)json_object_get_string_len(v);

	for (int i = 0; names[i] != NULL; i++) {
		if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
			return i;
	}
	return -1;
}

/* The type: kycgate's short names, or Crossmint's own (what a GET of the user shows); even
 * indexes are the privacy policy, odd ones the terms of service. */
static void consent_type(struct kgv_errors *e, struct json_object *body, struct consent *out)
{
	static const char *const names[] = {"privacy-policy", "terms-of-service",
	                                    "crossmint-privacy-policy",
	                                    "crossmint-terms-of-service", NULL};
	struct json_object *v = string_member(e, body, "type", true);
	int i;

	if (v == NULL)
		return;
	i = match(v, names);
	if (i < 0) {
		kgv_error(
		    e, "/type",
		    "must be privacy-policy or terms-of-service (Crossmint's "
		    "crossmint-privacy-policy and crossmint-terms-of-service are accepted too)");
		return;
	}
	out->type = i % 2 == 0 ? "crossmint-privacy-policy" : "crossmint-terms-of-service";
	out->needs_region = i % 2 == 1;
}

static void consent_time(struct kgv_errors *e, struct json_object *body, time_t now,
                         struct consent *out)
{
	struct json_object *v = string_member(e, body, "acceptedAt", true);
	long long epoch;
	enum kgv_time t;

	if (v == NULL)
		return;
	t = kgv_rfc3339(json_object_get_string(v), (size_t)json_object_get_string_len(v),
	                out->accepted_at, sizeof(out->accepted_at), &epoch);
	if (t == KGV_TIME_NO_OFFSET)
		kgv_error(e, "/acceptedAt", "acceptedAt: a time without a UTC offset is ambiguous");
	else if (t != KGV_TIME_OK)
		kgv_error(e, "/acceptedAt",
		          "must be an RFC 3339 date-time that exists, with Z or a +hh:mm offset");
	else if (epoch > (long long)now + 300)
		kgv_error(e, "/acceptedAt", "must not be more than 5 minutes in the future");
}

static void consent_region(struct kgv_errors *e, struct json_object *body, struct consent *out)
{
	static const char *const names[] = {"eu", "us", "worldwide", NULL};
	struct json_object *v = string_member(e, body, "region", false);
	int i;

	if (v == NULL) {
		if (out->needs_region && !json_object_object_get_ex(body, "region", NULL))
			kgv_error(e, "/region", "is required for terms-of-service");
		return;
	}
	i = match(v, names);
	if (i < 0)
		kgv_error(e, "/region", "must be eu, us or worldwide");
	else
		out->region = names[i];
}

static struct json_object *consent_build(const struct consent *c)
{
	struct json_object *out = json_object_new_object();
	const char *keys[3] = {"type", "acceptedAt", "region"};
	const char *vals[3] = {c->type, c->accepted_at, c->region};

	for (int i = 0; out != NULL && i < 3; i++) {
		struct json_object *v;

		if (vals[i] == NULL)
			continue;
		v = json_object_new_string(vals[i]);
		if (v == NULL || json_object_object_add(out, keys[i], v) != 0) {
			json_object_put(v);
			json_object_put(out);
			out = NULL;
		}
	}
	return out;
}

enum kg_err kg_shape_consent(struct json_object *body, time_t now, struct json_object **out,
                             struct json_object **errors)
{
	struct kgv_errors e;
	struct consent c = {0};
	enum kg_err err = KG_ERR_INVALID;

	*out = NULL;
	if (errors != NULL)
		*errors = NULL;
	if (!kgv_errors_init(&e))
		return KG_ERR_NOMEM;
	if (!json_object_is_type(body, json_type_object)) {
		kgv_error(&e, "", D_NOT_OBJECT);
		goto out;
	}
	json_object_object_foreach(body, key, val)
	{
		(void)val;
		if (strcmp(key, "type") != 0 && strcmp(key, "acceptedAt") != 0 &&
		    strcmp(key, "region") != 0)
			kgv_error_at(&e, "", key, "unknown key; allowed: type, acceptedAt, region");
	}
	consent_type(&e, body, &c);
	consent_time(&e, body, now, &c);
	consent_region(&e, body, &c);
	if (e.first == NULL && !e.nomem) {
		*out = consent_build(&c);
		err = *out != NULL ? KG_OK : KG_ERR_NOMEM;
	}
out:
	if (e.nomem)
		err = KG_ERR_NOMEM;
	if (err == KG_ERR_INVALID && errors != NULL) {
		*errors = e.list;
		e.list = NULL;
	}
	kgv_errors_drop(&e);
	return err;
}
