/* The simulator's eligibility rules (design §7, crossmint/users-api.md §5): what each product
 * needs from a user, the snapshot taken at a trigger, and its rendering as Crossmint's
 * {"eligibility": [...]}. Pure functions over the caller's data. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim_internal.h"

enum product { P_ONRAMP, P_OFFRAMP, P_REGULATED_TRANSFER };

static const char *const product_names[SIM_PRODUCTS] = {"onramp", "offramp", "regulated-transfer"};

static const char *const status_names[] = {
    [SIM_ST_NOT_STARTED] = "not-started",
    [SIM_ST_PENDING_PRIVACY_POLICY] = "pending-privacy-policy",
    [SIM_ST_REQUIRES_DATA] = "requires-data",
    [SIM_ST_PENDING_REVIEW] = "pending-review",
    [SIM_ST_VERIFIED] = "verified",
    [SIM_ST_REJECTED] = "rejected",
};

static const char *const data_codes[] = {"user-details", "kyc-data", "due-diligence",
                                         "verification-history"};
static const char *const doc_codes[] = {"id", "selfie", "proof-of-address", "proof-of-income"};

/* EU 27 plus Iceland, Liechtenstein and Norway. */
static const char eu_eea[][3] = {"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR",
                                 "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU", "MT", "NL",
                                 "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO"};

/* US states whose residents need due diligence. */
static const char *const dd_states[] = {"NY", "NC", "TN", "TX", "VA", "VT"};

static bool in_list(const char *code, const char (*list)[3], size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (code[0] != '\0' && strcmp(code, list[i]) == 0)
			return true;
	}
	return false;
}

/* ---- facts ---------------------------------------------------------------------------------- */

static struct json_object *member(struct json_object *obj, const char *name)
{
	struct json_object *v = NULL;

	if (obj == NULL || !json_object_object_get_ex(obj, name, &v))
		return NULL;
	return v;
}

static const char *member_string(struct json_object *obj, const char *name)
{
	struct json_object *v = member(obj, name);

	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static bool is_dd_state(const char *state)
{
	size_t i;

	for (i = 0; state != NULL && i < sizeof(dd_states) / sizeof(dd_states[0]); i++) {
		if (strcasecmp(state, dd_states[i]) == 0)
			return true;
	}
	return false;
}

static void set_country(struct sim_facts *facts, const char *country)
{
	facts->country[0] = '\0';
	if (country == NULL || strlen(country) != 2)
		return;
	facts->country[0] = (char)(country[0] & ~0x20);
	facts->country[1] = (char)(country[1] & ~0x20);
	facts->country[2] = '\0';
}

enum kg_err sim_facts_set(struct sim_facts *facts, struct json_object *body)
{
	struct json_object *details = member(body, "userDetails");
	struct json_object *kyc = member(body, "kycData");
	const char *last = member_string(details, "lastName");
	const char *doc_type = member_string(member(kyc, "identityDocument"), "type");
	char *email = sim_strdup(member_string(kyc, "email"));
	char *phone = sim_strdup(member_string(kyc, "phoneNumber"));

	if ((email == NULL && member_string(kyc, "email") != NULL) ||
	    (phone == NULL && member_string(kyc, "phoneNumber") != NULL)) {
		free(email);
		free(phone);
		return KG_ERR_NOMEM;
	}
	sim_facts_cleanup(facts);
	facts->user_details = details != NULL;
	facts->kyc_data = kyc != NULL;
	facts->due_diligence = member(body, "dueDiligence") != NULL;
	facts->verification_history = member(body, "verificationHistory") != NULL;
	set_country(facts, member_string(details, "countryOfResidence"));
	facts->sanctioned = last != NULL && strcmp(last, "Sanctioned") == 0;
	facts->ssn = doc_type != NULL && strcmp(doc_type, "ssn") == 0;
	facts->dd_state =
	    is_dd_state(member_string(member(kyc, "addressOfResidence"), "stateOrRegion"));
	facts->email = email;
	facts->phone = (phone != NULL && phone[0] != '\0') ? phone : NULL;
	if (facts->phone == NULL)
		free(phone);
	return KG_OK;
}

void sim_facts_cleanup(struct sim_facts *facts)
{
	free(facts->email);
	free(facts->phone);
	memset(facts, 0, sizeof(*facts));
}

/* ---- rules ---------------------------------------------------------------------------------- */

static unsigned missing_data(const struct sim_facts *f, enum product p)
{
	bool us = strcmp(f->country, "US") == 0;
	unsigned m = 0;

	if (!f->user_details)
		m |= SIM_MISS_USER_DETAILS;
	if (p == P_REGULATED_TRANSFER)
		return m;
	if (!f->kyc_data || (us && (!f->ssn || f->phone == NULL)))
		m |= SIM_MISS_KYC_DATA;
	if (!f->due_diligence && (!us || f->dd_state))
		m |= SIM_MISS_DUE_DILIGENCE;
	if (!f->verification_history)
		m |= SIM_MISS_VERIFICATION_HISTORY;
	return m;
}

static bool has_id(const struct sim_holdings *h)
{
	const char *country = h->facts->country;
	bool eu = in_list(country, eu_eea, sizeof(eu_eea) / sizeof(eu_eea[0]));

	if (h->docs[SIM_DOC_PASSPORT])
		return true;
	if (eu && h->docs[SIM_DOC_IDCARD_FRONT] && h->docs[SIM_DOC_IDCARD_BACK])
		return true;
	return strcmp(country, "ES") == 0 && h->docs[SIM_DOC_RESIDENCY_PERMIT];
}

static unsigned missing_docs(const struct sim_holdings *h, const struct sim_behaviour *b,
                             enum product p)
{
	const char *country = h->facts->country;
	unsigned m = 0;

	if (p == P_REGULATED_TRANSFER)
		return 0;
	if (strcmp(country, "US") != 0) {
		if (!has_id(h))
			m |= SIM_MISS_ID;
		if (!h->docs[SIM_DOC_SELFIE_FRONT])
			m |= SIM_MISS_SELFIE;
	}
	if (in_list(country, (const char(*)[3])b->edd, b->n_edd)) {
		if (!h->docs[SIM_DOC_PROOF_OF_ADDRESS])
			m |= SIM_MISS_PROOF_OF_ADDRESS;
		if (!h->docs[SIM_DOC_PROOF_OF_INCOME])
			m |= SIM_MISS_PROOF_OF_INCOME;
	}
	return m;
}

static void evaluate(const struct sim_holdings *h, const struct sim_behaviour *b, enum product p,
                     struct sim_product *out)
{
	memset(out, 0, sizeof(*out));
	if (!h->privacy_policy) {
		out->status = SIM_ST_PENDING_PRIVACY_POLICY;
		return;
	}
	out->missing_data = missing_data(h->facts, p);
	out->missing_docs = missing_docs(h, b, p);
	if (out->missing_data != 0 || out->missing_docs != 0)
		out->status = SIM_ST_REQUIRES_DATA;
	else if (h->facts->sanctioned)
		out->status = SIM_ST_REJECTED;
	else if (h->expired_doc && p != P_REGULATED_TRANSFER) /* it needs only user details */
		out->status = SIM_ST_REJECTED;
	else
		out->status = SIM_ST_PENDING_REVIEW;
	out->expired = out->status == SIM_ST_REJECTED && !h->facts->sanctioned;
}

void sim_verify_snapshot(const struct sim_holdings *h, const struct sim_behaviour *b,
                         unsigned long long now_ms, struct sim_snapshot *out)
{
	unsigned p;

	out->taken = true;
	out->taken_ms = now_ms;
	for (p = 0; p < SIM_PRODUCTS; p++)
		evaluate(h, b, (enum product)p, &out->products[p]);
}

/* ---- rendering ------------------------------------------------------------------------------ */

static struct json_object *codes_array(unsigned bits, const char *const *codes, size_t n)
{
	struct json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; arr != NULL && i < n; i++) {
		if (bits & (1u << i))
			json_object_array_add(arr, json_object_new_string(codes[i]));
	}
	return arr;
}

static struct json_object *expired_reasons(void)
{
	struct json_object *arr = json_object_new_array();
	struct json_object *reason = json_object_new_object();

	json_object_object_add(reason, "code", json_object_new_string("id-document-expired"));
	json_object_object_add(reason, "message",
	                       json_object_new_string("The ID document provided is expired. "
	                                              "Please submit a currently valid ID."));
	json_object_array_add(arr, reason);
	return arr;
}

static struct json_object *render_product(const struct sim_product *pr, enum sim_status status,
                                          unsigned p)
{
	struct json_object *e = json_object_new_object();

	json_object_object_add(e, "type", json_object_new_string(product_names[p]));
	json_object_object_add(e, "status", json_object_new_string(status_names[status]));
	if (status != SIM_ST_REQUIRES_DATA)
		goto out;
	if (pr->missing_data != 0)
		json_object_object_add(e, "missingData",
		                       codes_array(pr->missing_data, data_codes, 4));
	if (pr->missing_docs != 0)
		json_object_object_add(e, "missingDocuments",
		                       codes_array(pr->missing_docs, doc_codes, 4));
out:
	if (status == SIM_ST_REJECTED && pr->expired)
		json_object_object_add(e, "failureReasons", expired_reasons());
	return e;
}

struct json_object *sim_verify_render(const struct sim_snapshot *snap, unsigned review_delay_ms,
                                      unsigned long long now_ms, bool lazy_review)
{
	struct json_object *root = json_object_new_object();
	struct json_object *arr = json_object_new_array();
	bool reviewed = lazy_review && now_ms - snap->taken_ms >= review_delay_ms;
	unsigned p;

	if (root == NULL || arr == NULL) {
		json_object_put(root);
		json_object_put(arr);
		return NULL;
	}
	for (p = 0; p < SIM_PRODUCTS; p++) {
		const struct sim_product *pr = &snap->products[p];
		enum sim_status st = snap->taken ? pr->status : SIM_ST_NOT_STARTED;

		if (st == SIM_ST_PENDING_REVIEW && reviewed)
			st = SIM_ST_VERIFIED;
		json_object_array_add(arr, render_product(pr, st, p));
	}
	json_object_object_add(root, "eligibility", arr);
	return root;
}
