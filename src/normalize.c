/* Normalized eligibility (design §3): Crossmint's per-product eligibility list turned into one
 * actionable shape. Reads a borrowed json-c tree and builds a new one; no I/O, no logging, no
 * state but const tables, so every function here is thread-safe.
 *
 * Strings Crossmint names things with (product types, statuses, requirement and failure codes)
 * must be JSON strings without an embedded NUL: a "\u0000" would cut an object key or a
 * comparison short, so it is treated as structural junk like a wrong type. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kycgate/normalize.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Normalized statuses, in the order `overall` picks them (design §3): the first present of
 * action-required, not-started, in-review, unknown, rejected; verified only when all are. So the
 * overall status is simply the smallest one in scope. */
enum st { ST_ACTION, ST_NOT_STARTED, ST_IN_REVIEW, ST_UNKNOWN, ST_REJECTED, ST_VERIFIED };

static const char *const st_names[] = {"action-required", "not-started", "in-review",
                                       "unknown",         "rejected",    "verified"};

static const struct {
	const char *upstream; /* Crossmint's word */
	enum st st;           /* what we answer */
} st_map[] = {
    {"not-started", ST_NOT_STARTED},
    {"requires-data", ST_ACTION},
    {"pending-privacy-policy", ST_ACTION},
    {"pending-review", ST_IN_REVIEW},
    {"verified", ST_VERIFIED},
    {"rejected", ST_REJECTED},
};

static const char *const product_names[KG_PRODUCT_COUNT + 1] = {"onramp", "onramp-light", "offramp",
                                                                "regulated-transfer", NULL};

/* Requirement kinds, in the order requirements are listed. */
enum kind { K_CONSENT, K_DATA, K_DOCUMENT };

static const char *const kind_names[] = {"consent", "data", "document"};

/* Codes we know (design §3 and §7); anything else is kept with "known": false. */
static const char *const consent_known[] = {"privacy-policy", NULL};
static const char *const data_known[] = {"user-details", "kyc-data", "due-diligence",
                                         "verification-history", NULL};
static const char *const doc_known[] = {"id", "selfie", "proof-of-address", "proof-of-income",
                                        NULL};
static const char *const *const known_codes[] = {consent_known, data_known, doc_known};

/* Failure codes we know (users-api.md §3.5 captured only this one). */
static const char *const failure_known[] = {"id-document-expired", NULL};

/* acceptedDocumentTypes: each inner list is one way to meet the requirement, naming the
 * documentType values to PUT at /v1/users/{userLocator}/documents/{documentType}. */
static const char *const g_passport[] = {"id-passport", NULL};
static const char *const g_idcard[] = {"id-idcard-front", "id-idcard-back", NULL};
static const char *const g_residency[] = {"id-residency-permit", NULL};
static const char *const g_selfie[] = {"selfie-front", NULL};
static const char *const g_address[] = {"proof-of-address", NULL};
static const char *const g_income[] = {"proof-of-income", NULL};

static const char *const *const id_eu[] = {g_passport, g_idcard, NULL};
static const char *const *const id_es[] = {g_passport, g_idcard, g_residency, NULL};
static const char *const *const id_elsewhere[] = {g_passport, NULL};
static const char *const *const selfie_types[] = {g_selfie, NULL};
static const char *const *const address_types[] = {g_address, NULL};
static const char *const *const income_types[] = {g_income, NULL};

/* Documents other than "id", whose accepted types do not depend on the country. Listing them is
 * our choice, not Crossmint's: it tells the caller which documentType meets the requirement
 * (the simulator accepts selfie-front for "selfie", design §7). */
static const struct {
	const char *code;
	const char *const *const *groups;
} doc_rules[] = {
    {"selfie", selfie_types},
    {"proof-of-address", address_types},
    {"proof-of-income", income_types},
};

/* EU 27 plus IS, LI, NO (ISO 3166-1 alpha-2; Greece is GR). A copy of validate.c's list, kept
 * here so this module stands alone. */
static const char *const eu_eea[] = {
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
    "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
};

/* One product in scope, pointing into the borrowed upstream tree. */
struct prod {
	const char *type;            /* product type (upstream or a static name) */
	const char *upstream;        /* Crossmint's status, NULL when Crossmint did not list it */
	enum st st;                  /* normalized status */
	struct json_object *data;    /* missingData array, NULL when absent or null */
	struct json_object *docs;    /* missingDocuments array, NULL when absent or null */
	struct json_object *reasons; /* failureReasons array, NULL when absent or null */
};

/* The products in scope, in answer order. */
struct scope {
	struct prod *p; /* new (free) */
	size_t n;
};

/* One (requirement, product) pair, before sorting and merging. */
struct ref {
	enum kind kind;
	const char *code; /* borrowed */
	size_t prod;      /* index into scope */
};

const char *const *kg_product_names(void)
{
	return product_names;
}

/* ---- small helpers ---------------------------------------------------------------------- */

static bool in_list(const char *const *list, const char *s)
{
	size_t i;

	for (i = 0; list[i] != NULL; i++) {
		if (strcmp(list[i], s) == 0)
			return true;
	}
	return false;
}

/* The member key of obj, or NULL when obj is not an object, or key is absent or JSON null. */
static struct json_object *member(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

/* Items in an array, 0 for NULL (json-c asserts on a NULL array). */
static size_t items(struct json_object *arr)
{
	return arr == NULL ? 0 : json_object_array_length(arr);
}

static const char *item_str(struct json_object *arr, size_t i)
{
	return json_object_get_string(json_object_array_get_idx(arr, i));
}

/* A JSON string without an embedded NUL. */
static bool is_word(struct json_object *v)
{
	if (!json_object_is_type(v, json_type_string))
		return false;
	return strlen(json_object_get_string(v)) == (size_t)json_object_get_string_len(v);
}

/* Adds v under key, taking ownership of v (also on failure). v NULL means an allocation failed.
 * Returns 0, or -1 on failure. */
static int put(struct json_object *obj, const char *key, struct json_object *v)
{
	if (v == NULL)
		return -1;
	if (json_object_object_add(obj, key, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

/* put() of a string copy, or of JSON null when s is NULL. */
static int put_str(struct json_object *obj, const char *key, const char *s)
{
	if (s == NULL)
		return json_object_object_add(obj, key, NULL) == 0 ? 0 : -1;
	return put(obj, key, json_object_new_string(s));
}

/* Appends v to arr, taking ownership of v (also on failure). Returns 0, or -1. */
static int push(struct json_object *arr, struct json_object *v)
{
	if (v == NULL)
		return -1;
	if (json_object_array_add(arr, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

/* Adds key to a set (a json-c object used as a hash set). Returns 1 when key is new, 0 when
 * it was already there, -1 on allocation failure. */
static int set_add(struct json_object *set, const char *key)
{
	if (json_object_object_get_ex(set, key, NULL))
		return 0;
	return json_object_object_add(set, key, NULL) == 0 ? 1 : -1;
}

/* ---- structure checks ------------------------------------------------------------------- */

/* missingData / missingDocuments: absent, null, or an array of strings. */
static bool words_ok(struct json_object *arr)
{
	size_t i;

	if (arr == NULL)
		return true;
	if (!json_object_is_type(arr, json_type_array))
		return false;
	for (i = 0; i < items(arr); i++) {
		if (!is_word(json_object_array_get_idx(arr, i)))
			return false;
	}
	return true;
}

/* failureReasons: absent, null, or an array of objects with a string code and, when present
 * and not null, a string message (any bytes: it is text for the end user). */
static bool reasons_ok(struct json_object *arr)
{
	size_t i;

	if (arr == NULL)
		return true;
	if (!json_object_is_type(arr, json_type_array))
		return false;
	for (i = 0; i < items(arr); i++) {
		struct json_object *r = json_object_array_get_idx(arr, i);
		struct json_object *msg = member(r, "message");

		if (!json_object_is_type(r, json_type_object) || !is_word(member(r, "code")))
			return false;
		if (msg != NULL && !json_object_is_type(msg, json_type_string))
			return false;
	}
	return true;
}

/* The rule one eligibility entry breaks, or NULL when it is well formed. */
static const char *entry_junk(struct json_object *e)
{
	if (!json_object_is_type(e, json_type_object))
		return "an eligibility entry is not an object";
	if (!is_word(member(e, "type")))
		return "an eligibility entry has no string type";
	if (!is_word(member(e, "status")))
		return "an eligibility entry has no string status";
	if (!words_ok(member(e, "missingData")))
		return "missingData is not an array of strings";
	if (!words_ok(member(e, "missingDocuments")))
		return "missingDocuments is not an array of strings";
	if (!reasons_ok(member(e, "failureReasons")))
		return "failureReasons is not an array of objects with a string code";
	return NULL;
}

/* The rule Crossmint's answer breaks, or NULL when every entry is well formed. */
static const char *answer_junk(struct json_object *upstream)
{
	struct json_object *list = member(upstream, "eligibility");
	size_t i;

	if (!json_object_is_type(upstream, json_type_object))
		return "the answer is not a JSON object";
	if (!json_object_is_type(list, json_type_array))
		return "the answer has no eligibility array";
	for (i = 0; i < items(list); i++) {
		const char *why = entry_junk(json_object_array_get_idx(list, i));

		if (why != NULL)
			return why;
	}
	return NULL;
}

/* ---- the products in scope -------------------------------------------------------------- */

static enum st st_of(const char *upstream)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(st_map); i++) {
		if (strcmp(st_map[i].upstream, upstream) == 0)
			return st_map[i].st;
	}
	return ST_UNKNOWN;
}

static void prod_load(struct prod *p, struct json_object *e)
{
	p->type = json_object_get_string(member(e, "type"));
	p->upstream = json_object_get_string(member(e, "status"));
	p->st = st_of(p->upstream);
	p->data = member(e, "missingData");
	p->docs = member(e, "missingDocuments");
	p->reasons = member(e, "failureReasons");
}

/* No filter: every product type, in order of first appearance, unknown types included.
 * Crossmint should list a type once; if it repeats one, the first entry wins and later ones
 * are ignored (the first is what a reader of the raw answer meets first). */
static enum kg_err scope_all(struct json_object *list, struct scope *s)
{
	struct json_object *seen = json_object_new_object();
	enum kg_err err = KG_ERR_NOMEM;
	size_t i;

	if (seen == NULL)
		goto out;
	for (i = 0; i < items(list); i++) {
		struct json_object *e = json_object_array_get_idx(list, i);
		int added = set_add(seen, json_object_get_string(member(e, "type")));

		if (added < 0)
			goto out;
		if (added > 0)
			prod_load(&s->p[s->n++], e);
	}
	err = KG_OK;
out:
	json_object_put(seen);
	return err;
}

/* With ?products=: the listed products in the filter's bit order, each from its first entry
 * upstream (later duplicates ignored, as above); one Crossmint did not list is "unknown" with
 * upstreamStatus null. */
static void scope_filtered(struct json_object *list, unsigned mask, struct scope *s)
{
	size_t i, j;

	for (i = 0; i < KG_PRODUCT_COUNT; i++) {
		struct prod *p = &s->p[s->n];

		if ((mask & (1u << i)) == 0)
			continue;
		s->n++;
		p->type = product_names[i];
		p->st = ST_UNKNOWN;
		for (j = 0; j < items(list); j++) {
			struct json_object *e = json_object_array_get_idx(list, j);

			if (strcmp(json_object_get_string(member(e, "type")), p->type) == 0) {
				prod_load(p, e);
				break;
			}
		}
	}
}

/* Fills s (s->p new, caller frees) from a well-formed eligibility list. */
static enum kg_err scope_build(struct json_object *list, unsigned mask, struct scope *s)
{
	s->n = 0;
	s->p = calloc(items(list) + KG_PRODUCT_COUNT, sizeof(*s->p));
	if (s->p == NULL)
		return KG_ERR_NOMEM;
	if (mask == 0)
		return scope_all(list, s);
	scope_filtered(list, mask, s);
	return KG_OK;
}

/* ---- products --------------------------------------------------------------------------- */

/* A new array of arr's strings, first occurrence kept; NULL on allocation failure. */
static struct json_object *uniq_copy(struct json_object *arr)
{
	struct json_object *seen = json_object_new_object();
	struct json_object *copy = json_object_new_array();
	size_t i;

	if (seen == NULL || copy == NULL)
		goto fail;
	for (i = 0; i < items(arr); i++) {
		const char *s = item_str(arr, i);
		int added = set_add(seen, s);

		if (added < 0)
			goto fail;
		if (added > 0 && push(copy, json_object_new_string(s)) != 0)
			goto fail;
	}
	json_object_put(seen);
	return copy;
fail:
	json_object_put(seen);
	json_object_put(copy);
	return NULL;
}

/* {"code", "message"?, "known"} from one well-formed upstream failure reason; NULL on
 * allocation failure. */
static struct json_object *reason_json(struct json_object *r)
{
	struct json_object *o = json_object_new_object();
	struct json_object *msg = member(r, "message");
	const char *code = json_object_get_string(member(r, "code"));

	if (o == NULL)
		return NULL;
	if (put_str(o, "code", code) != 0)
		goto fail;
	if (msg != NULL && put(o, "message",
	                       json_object_new_string_len(json_object_get_string(msg),
	                                                  json_object_get_string_len(msg))) != 0)
		goto fail;
	if (put(o, "known", json_object_new_boolean(in_list(failure_known, code))) != 0)
		goto fail;
	return o;
fail:
	json_object_put(o);
	return NULL;
}

static struct json_object *reasons_json(struct json_object *arr)
{
	struct json_object *copy = json_object_new_array();
	size_t i;

	if (copy == NULL)
		return NULL;
	for (i = 0; i < items(arr); i++) {
		if (push(copy, reason_json(json_object_array_get_idx(arr, i))) != 0) {
			json_object_put(copy);
			return NULL;
		}
	}
	return copy;
}

/* Adds products[p->type]. Missing lists and failure reasons appear only when non-empty;
 * retryable only on a rejected product. Returns 0, or -1 on allocation failure. */
static int prod_json(struct json_object *products, const struct prod *p)
{
	struct json_object *o = json_object_new_object();

	if (put(products, p->type, o) != 0)
		return -1;
	if (put_str(o, "status", st_names[p->st]) != 0 ||
	    put_str(o, "upstreamStatus", p->upstream) != 0 ||
	    put(o, "eligible", json_object_new_boolean(p->st == ST_VERIFIED)) != 0)
		return -1;
	if (items(p->data) > 0 && put(o, "missingData", uniq_copy(p->data)) != 0)
		return -1;
	if (items(p->docs) > 0 && put(o, "missingDocuments", uniq_copy(p->docs)) != 0)
		return -1;
	if (p->st != ST_REJECTED)
		return 0;
	if (put(o, "retryable", json_object_new_boolean(items(p->reasons) > 0)) != 0)
		return -1;
	if (items(p->reasons) > 0 && put(o, "failureReasons", reasons_json(p->reasons)) != 0)
		return -1;
	return 0;
}

static struct json_object *products_json(const struct scope *s)
{
	struct json_object *o = json_object_new_object();
	size_t i;

	if (o == NULL)
		return NULL;
	for (i = 0; i < s->n; i++) {
		if (prod_json(o, &s->p[i]) != 0) {
			json_object_put(o);
			return NULL;
		}
	}
	return o;
}

/* ---- requirements ----------------------------------------------------------------------- */

static bool is_upstream(const struct prod *p, const char *status)
{
	return p->upstream != NULL && strcmp(p->upstream, status) == 0;
}

/* Writes the refs of one product's code list at r + k; returns the new count. */
static size_t refs_add(struct ref *r, size_t k, enum kind kind, struct json_object *arr,
                       size_t prod)
{
	size_t i;

	for (i = 0; i < items(arr); i++) {
		r[k].kind = kind;
		r[k].code = item_str(arr, i);
		r[k].prod = prod;
		k++;
	}
	return k;
}

/* Fills r (room for every ref, or NULL to count) and returns the number of refs. */
static size_t refs_fill(const struct scope *s, struct ref *r)
{
	size_t i, k = 0;

	for (i = 0; i < s->n; i++) {
		const struct prod *p = &s->p[i];
		bool consent = is_upstream(p, "pending-privacy-policy");

		if (r == NULL) {
			k += consent + items(p->data) + items(p->docs);
			continue;
		}
		if (consent)
			r[k++] = (struct ref){K_CONSENT, "privacy-policy", i};
		k = refs_add(r, k, K_DATA, p->data, i);
		k = refs_add(r, k, K_DOCUMENT, p->docs, i);
	}
	return k;
}

/* Stable requirement order: consent, data, documents; then by code; then product order. */
static int ref_cmp(const void *a, const void *b)
{
	const struct ref *x = a;
	const struct ref *y = b;
	int c;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	c = strcmp(x->code, y->code);
	if (c != 0)
		return c;
	return (x->prod > y->prod) - (x->prod < y->prod);
}

static bool is_eu_eea(const char *cc)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(eu_eea); i++) {
		if (strcmp(eu_eea[i], cc) == 0)
			return true;
	}
	return false;
}

/* Accepted ways to meet "id" for a country of residence (users-api.md §5): EU/EEA passport or
 * ID card (plus residency permit in ES); US the same pair (asked only under enhanced due
 * diligence); elsewhere passport only. With no country known, only what every country accepts
 * (the passport), *depends set: offering the ID card there would send a resident of, say, AE
 * to upload documents that never count. */
static const char *const *const *id_groups(const char *country, bool *depends)
{
	*depends = country == NULL || country[0] == '\0';
	if (*depends)
		return id_elsewhere;
	if (strcmp(country, "ES") == 0)
		return id_es;
	if (is_eu_eea(country) || strcmp(country, "US") == 0)
		return id_eu;
	return id_elsewhere;
}

static struct json_object *groups_json(const char *const *const *groups)
{
	struct json_object *outer = json_object_new_array();
	size_t i, j;

	if (outer == NULL)
		return NULL;
	for (i = 0; groups[i] != NULL; i++) {
		struct json_object *inner = json_object_new_array();

		if (push(outer, inner) != 0)
			goto fail;
		for (j = 0; groups[i][j] != NULL; j++) {
			if (push(inner, json_object_new_string(groups[i][j])) != 0)
				goto fail;
		}
	}
	return outer;
fail:
	json_object_put(outer);
	return NULL;
}

/* Adds acceptedDocumentTypes (and dependsOnCountry) to a document requirement we know how to
 * meet. Returns 0, or -1 on allocation failure. */
static int doc_types(struct json_object *req, const char *code, const char *country)
{
	const char *const *const *groups = NULL;
	bool depends = false;
	size_t i;

	if (strcmp(code, "id") == 0)
		groups = id_groups(country, &depends);
	for (i = 0; groups == NULL && i < ARRAY_LEN(doc_rules); i++) {
		if (strcmp(code, doc_rules[i].code) == 0)
			groups = doc_rules[i].groups;
	}
	if (groups == NULL)
		return 0;
	if (put(req, "acceptedDocumentTypes", groups_json(groups)) != 0)
		return -1;
	if (depends && put(req, "dependsOnCountry", json_object_new_boolean(1)) != 0)
		return -1;
	return 0;
}

/* Appends a new requirement to arr; returns its neededFor array (borrowed), or NULL on
 * allocation failure. */
static struct json_object *req_new(struct json_object *arr, const struct ref *r,
                                   const char *country)
{
	struct json_object *o = json_object_new_object();
	struct json_object *needed;

	if (push(arr, o) != 0)
		return NULL;
	if (put_str(o, "kind", kind_names[r->kind]) != 0 || put_str(o, "code", r->code) != 0 ||
	    put(o, "known", json_object_new_boolean(in_list(known_codes[r->kind], r->code))) != 0)
		return NULL;
	needed = json_object_new_array();
	if (put(o, "neededFor", needed) != 0)
		return NULL;
	if (r->kind == K_DOCUMENT && doc_types(o, r->code, country) != 0)
		return NULL;
	return needed;
}

/* The de-duplicated union of what the products in scope ask for, each with the products it
 * blocks in answer order. Sorting keeps this O(n log n) whatever Crossmint sends. */
static struct json_object *reqs_json(const struct scope *s, const char *country)
{
	struct json_object *arr = json_object_new_array();
	struct json_object *needed = NULL;
	size_t i, n = refs_fill(s, NULL);
	struct ref *r = calloc(n + 1, sizeof(*r));

	if (arr == NULL || r == NULL)
		goto fail;
	n = refs_fill(s, r);
	qsort(r, n, sizeof(*r), ref_cmp);
	for (i = 0; i < n; i++) {
		bool same =
		    i > 0 && r[i].kind == r[i - 1].kind && strcmp(r[i].code, r[i - 1].code) == 0;

		if (same && r[i].prod == r[i - 1].prod)
			continue;
		if (!same)
			needed = req_new(arr, &r[i], country);
		if (needed == NULL ||
		    push(needed, json_object_new_string(s->p[r[i].prod].type)) != 0)
			goto fail;
	}
	free(r);
	return arr;
fail:
	free(r);
	json_object_put(arr);
	return NULL;
}

/* ---- overall, nextAction, pollAfterSeconds, observedAt ---------------------------------- */

/* The smallest status in scope (see enum st); unknown when nothing is in scope. */
static enum st overall_of(const struct scope *s)
{
	enum st o = ST_VERIFIED;
	size_t i;

	if (s->n == 0)
		return ST_UNKNOWN;
	for (i = 0; i < s->n; i++) {
		if (s->p[i].st < o)
			o = s->p[i].st;
	}
	return o;
}

static bool na_consent(const struct prod *p)
{
	return is_upstream(p, "pending-privacy-policy");
}

/* Also a requires-data product that names nothing missing: the data is what to look at. */
static bool na_data(const struct prod *p)
{
	return is_upstream(p, "requires-data") && (items(p->data) > 0 || items(p->docs) == 0);
}

static bool na_docs(const struct prod *p)
{
	return is_upstream(p, "requires-data") && items(p->docs) > 0;
}

static bool na_trigger(const struct prod *p)
{
	return p->st == ST_NOT_STARTED;
}

static bool na_wait(const struct prod *p)
{
	return p->st == ST_IN_REVIEW;
}

static bool na_resubmit(const struct prod *p)
{
	return p->st == ST_REJECTED && items(p->reasons) > 0;
}

static bool na_support(const struct prod *p)
{
	return p->st == ST_UNKNOWN || (p->st == ST_REJECTED && items(p->reasons) == 0);
}

static const struct {
	const char *name;
	bool (*applies)(const struct prod *p);
} next_rules[] = {
    {"accept-privacy-policy", na_consent}, {"provide-data", na_data}, {"upload-documents", na_docs},
    {"trigger-verification", na_trigger},  {"wait", na_wait},         {"resubmit", na_resubmit},
    {"contact-support", na_support},
};

/* The first rule that applies to some product in scope, else "none". With nothing in scope
 * (an empty list) overall is unknown, and so is what to do: contact-support, never "none",
 * which would read as "all done". */
static const char *next_action(const struct scope *s)
{
	size_t i, j;

	if (s->n == 0)
		return "contact-support";
	for (i = 0; i < ARRAY_LEN(next_rules); i++) {
		for (j = 0; j < s->n; j++) {
			if (next_rules[i].applies(&s->p[j]))
				return next_rules[i].name;
		}
	}
	return "none";
}

/* max(1, ceil(cache_ttl_ms / 1000), budget_wait_s, retry_after_s). */
static unsigned poll_after(const struct kg_norm_opts *opts)
{
	unsigned s = 1;
	unsigned ttl = opts->cache_ttl_ms / 1000u + (opts->cache_ttl_ms % 1000u != 0);

	if (ttl > s)
		s = ttl;
	if (opts->budget_wait_s > s)
		s = opts->budget_wait_s;
	if (opts->retry_after_s > s)
		s = opts->retry_after_s;
	return s;
}

/* "YYYY-MM-DDTHH:MM:SSZ" into buf (at least 21 bytes); false when t has no such form. */
static bool stamp(time_t t, char *buf, size_t cap)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
		return false;
	return strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 20;
}

/* ---- the answer ------------------------------------------------------------------------- */

/* Builds the answer object from the scope; NULL on allocation failure. */
static struct json_object *answer_json(const struct scope *s, const struct kg_norm_opts *opts,
                                       const char *when)
{
	struct json_object *o = json_object_new_object();
	const char *next = next_action(s);

	if (o == NULL)
		return NULL;
	if (put_str(o, "userLocator", opts->locator) != 0 ||
	    put_str(o, "environment", opts->environment) != 0 ||
	    put_str(o, "overall", st_names[overall_of(s)]) != 0 ||
	    put(o, "products", products_json(s)) != 0 ||
	    put(o, "requirements", reqs_json(s, opts->country)) != 0 ||
	    put_str(o, "nextAction", next) != 0)
		goto fail;
	if (strcmp(next, "wait") == 0 &&
	    put(o, "pollAfterSeconds", json_object_new_int64((int64_t)poll_after(opts))) != 0)
		goto fail;
	if (put_str(o, "observedAt", when) != 0)
		goto fail;
	return o;
fail:
	json_object_put(o);
	return NULL;
}

enum kg_err kg_normalize(struct json_object *upstream, const struct kg_norm_opts *opts,
                         struct json_object **out, const char **detail)
{
	struct scope s = {NULL, 0};
	const char *why = NULL;
	char when[32];
	enum kg_err err = KG_ERR_INTERNAL;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || opts == NULL) {
		why = "kg_normalize called without opts or out";
		goto out;
	}
	if (!stamp(opts->observed_at, when, sizeof(when))) {
		why = "observed_at has no RFC 3339 form";
		goto out;
	}
	err = KG_ERR_UPSTREAM;
	why = answer_junk(upstream);
	if (why != NULL)
		goto out;
	err = scope_build(member(upstream, "eligibility"), opts->products, &s);
	if (err == KG_OK)
		*out = answer_json(&s, opts, when);
	if (*out == NULL) {
		err = KG_ERR_NOMEM;
		why = "out of memory building the normalized answer";
	}
out:
	if (detail != NULL)
		*detail = why;
	free(s.p);
	return err;
}

bool kg_normalized_in_review(struct json_object *normalized)
{
	struct json_object *products = member(normalized, "products");

	if (!json_object_is_type(products, json_type_object))
		return false;
	json_object_object_foreach(products, type, prod)
	{
		const char *st = json_object_get_string(member(prod, "status"));

		(void)type;
		if (st != NULL && strcmp(st, "in-review") == 0)
			return true;
	}
	return false;
}

/* Valid means what kg_normalize accepts: an object whose "eligibility" array holds only
 * well-formed entries. A trigger answer with a malformed list is then followed by a status
 * read instead of failing outright. */
bool kg_eligibility_present(struct json_object *upstream)
{
	return answer_junk(upstream) == NULL;
}

/* ---- ?products= ------------------------------------------------------------------------- */

/* The bit of the product named by n bytes at s, 0 when none. */
static unsigned product_bit(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < KG_PRODUCT_COUNT; i++) {
		if (strlen(product_names[i]) == n && memcmp(product_names[i], s, n) == 0)
			return 1u << i;
	}
	return 0;
}

enum kg_err kg_products_parse(const char *csv, size_t len, unsigned *mask)
{
	unsigned set = 0;
	size_t start = 0;

	if (csv == NULL || mask == NULL || len == 0)
		return KG_ERR_INVALID;
	while (start <= len) {
		const char *comma = memchr(csv + start, ',', len - start);
		size_t end = comma != NULL ? (size_t)(comma - csv) : len;
		unsigned bit = product_bit(csv + start, end - start);

		if (bit == 0)
			return KG_ERR_INVALID;
		set |= bit;
		start = end + 1;
	}
	*mask = set;
	return KG_OK;
}
