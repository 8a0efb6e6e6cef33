/* Request body checks of the simulator, following crossmint/users-openapi.yaml: required fields
 * and types of UpsertUserDto's sections, AcceptLegalDocumentDto (acceptedAt pattern, region for
 * the terms of service), CreateUserDocumentDto (a data URL with valid base64, the documentType
 * enum) and LinkWalletDto (the chain enum). Unknown keys are accepted, as Crossmint does.
 * Messages name the rule that failed, never a value. Pure functions. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sim_internal.h"

static const char *const doc_type_names[SIM_DOC_TYPES] = {
    [SIM_DOC_SSN] = "id-ssn",
    [SIM_DOC_PASSPORT] = "id-passport",
    [SIM_DOC_IDCARD_BACK] = "id-idcard-back",
    [SIM_DOC_IDCARD_FRONT] = "id-idcard-front",
    [SIM_DOC_RESIDENCY_PERMIT] = "id-residency-permit",
    [SIM_DOC_PROOF_OF_ADDRESS] = "proof-of-address",
    [SIM_DOC_PROOF_OF_INCOME] = "proof-of-income",
    [SIM_DOC_SELFIE_FRONT] = "selfie-front",
    [SIM_DOC_SELFIE_LEFT] = "selfie-left",
    [SIM_DOC_SELFIE_RIGHT] = "selfie-right",
};

static const char *const wallet_chains[] = {
    "ethereum",         "polygon",      "arbitrum",         "base",         "solana", "stellar",
    "ethereum-sepolia", "polygon-amoy", "arbitrum-sepolia", "base-sepolia",
};

static const char *const locator_prefixes[] = {
    "email:", "userId:", "phoneNumber:", "twitter:", "x:"};

const char *sim_doc_type_name(enum sim_doc_type type)
{
	return type < SIM_DOC_TYPES ? doc_type_names[type] : "unknown";
}

enum sim_doc_type sim_doc_type_parse(const char *s)
{
	unsigned i;

	for (i = 0; i < SIM_DOC_TYPES; i++) {
		if (strcmp(s, doc_type_names[i]) == 0)
			return (enum sim_doc_type)i;
	}
	return SIM_DOC_TYPES;
}

bool sim_locator_valid(const char *s, size_t len)
{
	size_t i;
	size_t plen;

	if (len > KG_MAX_LOCATOR_BYTES)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return false;
	}
	for (i = 0; i < sizeof(locator_prefixes) / sizeof(locator_prefixes[0]); i++) {
		plen = strlen(locator_prefixes[i]);
		if (len > plen && strncmp(s, locator_prefixes[i], plen) == 0)
			return true;
	}
	return false;
}

/* ---- table-driven object checks ------------------------------------------------------------- */

struct spec;

struct field {
	const char *name;
	bool required;
	const struct spec *object; /* NULL: a string */
};

struct spec {
	const char *path; /* dotted path of the object, for messages */
	const struct field *fields;
	size_t n_fields;
};

#define SPEC(path, fields)                                                                         \
	{                                                                                          \
		path, fields, sizeof(fields) / sizeof(fields[0])                                   \
	}

static const struct field user_details_fields[] = {
    {"firstName", true, NULL},
    {"lastName", true, NULL},
    {"dateOfBirth", true, NULL},
    {"countryOfResidence", true, NULL},
};
static const struct spec user_details_spec = SPEC("userDetails", user_details_fields);

static const struct field address_fields[] = {
    {"line1", true, NULL},          {"line2", false, NULL},     {"city", true, NULL},
    {"stateOrRegion", false, NULL}, {"postalCode", true, NULL},
};
static const struct spec address_spec = SPEC("kycData.addressOfResidence", address_fields);

static const struct field identity_fields[] = {
    {"type", true, NULL},
    {"number", true, NULL},
    {"issuingCountryCode", false, NULL},
};
static const struct spec identity_spec = SPEC("kycData.identityDocument", identity_fields);

static const struct field kyc_fields[] = {
    {"nationality", false, NULL},
    {"addressOfResidence", false, &address_spec},
    {"email", false, NULL},
    {"phoneNumber", false, NULL},
    {"identityDocument", false, &identity_spec},
};
static const struct spec kyc_spec = SPEC("kycData", kyc_fields);

static const struct field due_diligence_fields[] = {
    {"employmentStatus", true, NULL},
    {"sourceOfFunds", true, NULL},
    {"industry", true, NULL},
    {"estimatedYearlyIncome", false, NULL},
};
static const struct spec due_diligence_spec = SPEC("dueDiligence", due_diligence_fields);

static const struct field history_fields[] = {
    {"idVerificationTimestamp", true, NULL},
    {"livenessVerificationTimestamp", true, NULL},
};
static const struct spec history_spec = SPEC("verificationHistory", history_fields);

static const struct field user_fields[] = {
    {"userDetails", false, &user_details_spec},
    {"kycData", false, &kyc_spec},
    {"dueDiligence", false, &due_diligence_spec},
    {"verificationHistory", false, &history_spec},
};
static const struct spec user_spec = SPEC("", user_fields);

/* Writes "<path>.<name>" (or "<name>" at the top) into out. */
static void field_path(const struct spec *spec, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "%s%s%s", spec->path, spec->path[0] != '\0' ? "." : "", name);
}

static bool check_object(struct json_object *obj, const struct spec *spec, char *msg, size_t cap)
{
	char path[128];
	size_t i;

	for (i = 0; i < spec->n_fields; i++) {
		const struct field *f = &spec->fields[i];
		struct json_object *v = NULL;
		bool present = json_object_object_get_ex(obj, f->name, &v);

		field_path(spec, f->name, path, sizeof(path));
		if (!present) {
			if (!f->required)
				continue;
			snprintf(msg, cap, "%s is required", path);
			return false;
		}
		if (f->object == NULL && !json_object_is_type(v, json_type_string)) {
			snprintf(msg, cap, "%s must be a string", path);
			return false;
		}
		if (f->object != NULL && !json_object_is_type(v, json_type_object)) {
			snprintf(msg, cap, "%s must be an object", path);
			return false;
		}
		if (f->object != NULL && !check_object(v, f->object, msg, cap))
			return false;
	}
	return true;
}

/* users-api.md §5.2: when dueDiligence is sent for a US resident, estimatedYearlyIncome is
 * required (optional elsewhere). */
static bool check_us_due_diligence(struct json_object *body, char *msg, size_t cap)
{
	struct json_object *details = NULL, *country = NULL, *dd = NULL;

	if (!json_object_object_get_ex(body, "dueDiligence", &dd) ||
	    json_object_object_get_ex(dd, "estimatedYearlyIncome", NULL) ||
	    !json_object_object_get_ex(body, "userDetails", &details) ||
	    !json_object_object_get_ex(details, "countryOfResidence", &country) ||
	    strcasecmp(json_object_get_string(country), "US") != 0)
		return true;
	snprintf(msg, cap, "dueDiligence.estimatedYearlyIncome is required for US residents");
	return false;
}

bool sim_check_user_body(struct json_object *body, char *msg, size_t msgcap)
{
	return check_object(body, &user_spec, msg, msgcap) &&
	       check_us_due_diligence(body, msg, msgcap);
}

/* ---- legal documents ------------------------------------------------------------------------ */

static bool digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return true;
}

static unsigned num(const char *s, size_t n)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	return v;
}

/* "YYYY-MM-DD" naming a real day of the Gregorian calendar. */
static bool valid_calendar_date(const char *s)
{
	static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned y, m, d;
	bool leap;

	if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2))
		return false;
	y = num(s, 4);
	m = num(s + 5, 2);
	d = num(s + 8, 2);
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return false;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return !(m == 2 && d == 29 && !leap);
}

/* The acceptedAt pattern: a real date, 'T', HH:MM[:SS[.fraction]], 'Z', nothing more. */
static bool valid_accepted_at(const char *s)
{
	const char *p = s + 16;

	if (strlen(s) < 17 || !valid_calendar_date(s) || s[10] != 'T')
		return false;
	if (!digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2))
		return false;
	if (num(s + 11, 2) > 23 || num(s + 14, 2) > 59)
		return false;
	if (*p == ':') {
		if (!digits(p + 1, 2) || num(p + 1, 2) > 59)
			return false;
		p += 3;
		if (*p == '.') {
			p++;
			if (*p < '0' || *p > '9')
				return false;
			while (*p >= '0' && *p <= '9')
				p++;
		}
	}
	return strcmp(p, "Z") == 0;
}

static const char *string_field(struct json_object *obj, const char *name)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, name, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool present(struct json_object *obj, const char *name)
{
	return json_object_object_get_ex(obj, name, NULL);
}

static bool fail(char *msg, size_t cap, const char *text)
{
	snprintf(msg, cap, "%s", text);
	return false;
}

bool sim_check_legal_body(struct json_object *body, char *msg, size_t msgcap)
{
	const char *type = string_field(body, "type");
	const char *at = string_field(body, "acceptedAt");
	const char *region = string_field(body, "region");
	bool tos;

	if (type == NULL)
		return fail(msg, msgcap, "type is required and must be a string");
	tos = strcmp(type, "crossmint-terms-of-service") == 0;
	if (!tos && strcmp(type, "crossmint-privacy-policy") != 0)
		return fail(msg, msgcap,
		            "type must be crossmint-privacy-policy or crossmint-terms-of-service");
	if (at == NULL)
		return fail(msg, msgcap, "acceptedAt is required and must be a string");
	if (!valid_accepted_at(at))
		return fail(msg, msgcap, "acceptedAt must be a UTC date-time ending in Z");
	if (present(body, "region") && region == NULL)
		return fail(msg, msgcap, "region must be a string");
	if (region != NULL && strcmp(region, "eu") != 0 && strcmp(region, "worldwide") != 0 &&
	    strcmp(region, "us") != 0)
		return fail(msg, msgcap, "region must be one of eu, worldwide, us");
	if (tos && region == NULL)
		return fail(msg, msgcap, "region is required for crossmint-terms-of-service");
	return true;
}

/* ---- documents ------------------------------------------------------------------------------ */

static bool mime_token_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$&^_.+-", c) != NULL);
}

static bool b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* Standard-alphabet base64 of at least one byte; padding optional but, when present, correct. */
static bool valid_base64(const char *s, size_t len)
{
	size_t pad = 0;
	size_t i;

	while (pad < 2 && len > pad && s[len - 1 - pad] == '=')
		pad++;
	if (len == pad)
		return false;
	for (i = 0; i < len - pad; i++) {
		if (!b64_char(s[i]))
			return false;
	}
	if (pad > 0)
		return len % 4 == 0;
	return len % 4 != 1;
}

/* "data:<type>/<subtype>;base64,<base64>" */
static bool valid_data_url(const char *s, size_t len)
{
	size_t i = 5;
	size_t slashes = 0;
	size_t start;
	static const char marker[] = ";base64,";

	if (len < 5 || memcmp(s, "data:", 5) != 0)
		return false;
	start = i;
	while (i < len && (mime_token_char(s[i]) || s[i] == '/')) {
		if (s[i] == '/') {
			if (i == start || i + 1 >= len || !mime_token_char(s[i + 1]))
				return false;
			slashes++;
		}
		i++;
	}
	if (slashes != 1 || len - i < sizeof(marker) - 1 ||
	    memcmp(s + i, marker, sizeof(marker) - 1) != 0)
		return false;
	i += sizeof(marker) - 1;
	return valid_base64(s + i, len - i);
}

static bool check_reference(struct json_object *body, char *msg, size_t msgcap)
{
	struct json_object *ref;
	struct json_object *loc;

	if (!json_object_object_get_ex(body, "reference", &ref))
		return fail(msg, msgcap, "reference is required");
	if (!json_object_is_type(ref, json_type_object))
		return fail(msg, msgcap, "reference must be an object");
	if (!json_object_object_get_ex(ref, "userLocator", &loc))
		return fail(msg, msgcap, "reference.userLocator is required");
	if (!json_object_is_type(loc, json_type_string))
		return fail(msg, msgcap, "reference.userLocator must be a string");
	if (!sim_locator_valid(json_object_get_string(loc),
	                       (size_t)json_object_get_string_len(loc)) ||
	    strlen(json_object_get_string(loc)) != (size_t)json_object_get_string_len(loc))
		return fail(msg, msgcap, "reference.userLocator must be a user locator");
	return true;
}

bool sim_check_document_body(struct json_object *body, char *msg, size_t msgcap)
{
	const char *type = string_field(body, "documentType");
	const char *expires = string_field(body, "expiresAt");
	struct json_object *data;

	if (!check_reference(body, msg, msgcap))
		return false;
	if (type == NULL)
		return fail(msg, msgcap, "documentType is required and must be a string");
	if (sim_doc_type_parse(type) == SIM_DOC_TYPES)
		return fail(msg, msgcap, "documentType must be one of the document types");
	if (!json_object_object_get_ex(body, "data", &data) ||
	    !json_object_is_type(data, json_type_string))
		return fail(msg, msgcap, "data is required and must be a string");
	if (!valid_data_url(json_object_get_string(data), (size_t)json_object_get_string_len(data)))
		return fail(msg, msgcap, "data must be a data URL data:<mime>;base64,<base64>");
	if (present(body, "expiresAt") &&
	    (expires == NULL || strlen(expires) != 10 || !valid_calendar_date(expires)))
		return fail(msg, msgcap, "expiresAt must be a date YYYY-MM-DD");
	return true;
}

/* ---- wallets -------------------------------------------------------------------------------- */

bool sim_check_wallet_body(struct json_object *body, char *msg, size_t msgcap)
{
	const char *chain = string_field(body, "chain");
	const char *proof = string_field(body, "proof");
	size_t i;

	if (chain == NULL)
		return fail(msg, msgcap, "chain is required and must be a string");
	if (present(body, "proof") && (proof == NULL || proof[0] == '\0'))
		return fail(msg, msgcap, "proof must be a non-empty string");
	for (i = 0; i < sizeof(wallet_chains) / sizeof(wallet_chains[0]); i++) {
		if (strcmp(chain, wallet_chains[i]) == 0)
			return true;
	}
	return fail(msg, msgcap, "chain must be one of the supported chains");
}
