/* The simulator's in-memory store and the route handlers that read and change it: users (consent,
 * the facts of the last user body, documents by type, linked wallets, the last verification
 * snapshot), documents by id, and the per-locator call counters of the flaky fault.
 *
 * One mutex guards the whole store; handlers hold it while they build their answer. Bodies
 * reaching the handlers were already checked against the schema by sim_routes.c. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

struct sim_doc {
	char id[40]; /* "doc_" + 24 hex digits */
	enum sim_doc_type type;
	char created_at[32]; /* UTC, milliseconds */
	char expires_at[11]; /* "YYYY-MM-DD", or "" */
};

struct sim_wallet {
	struct sim_wallet *next;
	char *address; /* decoded path segment */
	char chain[32];
	char challenge[80];
};

struct sim_user {
	bool exists;      /* consent or user data was sent */
	char *privacy_at; /* privacy policy acceptedAt, or NULL */
	char *tos_at;     /* terms of service acceptedAt, or NULL */
	struct sim_facts facts;
	struct sim_doc *docs[SIM_DOC_TYPES];
	struct sim_wallet *wallets;
	struct sim_snapshot snap;
};

struct sim_counter {
	unsigned long calls;
};

/* ---- lifecycle ------------------------------------------------------------------------------ */

static void free_user(void *value)
{
	struct sim_user *u = value;
	unsigned i;

	if (u == NULL)
		return;
	for (i = 0; i < SIM_DOC_TYPES; i++)
		free(u->docs[i]);
	while (u->wallets != NULL) {
		struct sim_wallet *w = u->wallets;

		u->wallets = w->next;
		free(w->address);
		free(w);
	}
	sim_facts_cleanup(&u->facts);
	free(u->privacy_at);
	free(u->tos_at);
	free(u);
}

static enum kg_err copy_edd(struct sim_behaviour *b, const char (*edd)[3], size_t n)
{
	char(*copy)[3] = NULL;
	size_t i;

	if (n > SIM_MAX_EDD_COUNTRIES)
		return KG_ERR_INVALID;
	if (n > 0) {
		copy = calloc(n, sizeof(*copy));
		if (copy == NULL)
			return KG_ERR_NOMEM;
	}
	for (i = 0; i < n; i++) {
		copy[i][0] = (char)(edd[i][0] & ~0x20);
		copy[i][1] = (char)(edd[i][1] & ~0x20);
		copy[i][2] = '\0';
	}
	free(b->edd);
	b->edd = copy;
	b->n_edd = n;
	return KG_OK;
}

enum kg_err sim_store_init(struct sim_store *st, unsigned review_delay_ms, const char (*edd)[3],
                           size_t n_edd)
{
	enum kg_err err;

	memset(st, 0, sizeof(*st));
	err = copy_edd(&st->behaviour, edd, n_edd);
	if (err != KG_OK)
		return err;
	st->behaviour.review_delay_ms = review_delay_ms;
	if (pthread_mutex_init(&st->lock, NULL) != 0) {
		free(st->behaviour.edd);
		return KG_ERR_INTERNAL;
	}
	return KG_OK;
}

void sim_store_cleanup(struct sim_store *st)
{
	sim_map_clear(&st->docs, NULL); /* documents belong to their users */
	sim_map_clear(&st->users, free_user);
	sim_map_clear(&st->flaky, free);
	free(st->behaviour.edd);
	pthread_mutex_destroy(&st->lock);
	memset(st, 0, sizeof(*st));
}

enum kg_err sim_store_set_behaviour(struct sim_store *st, unsigned review_delay_ms,
                                    const char (*edd)[3], size_t n_edd)
{
	enum kg_err err;

	pthread_mutex_lock(&st->lock);
	err = copy_edd(&st->behaviour, edd, n_edd);
	if (err == KG_OK)
		st->behaviour.review_delay_ms = review_delay_ms;
	pthread_mutex_unlock(&st->lock);
	return err;
}

bool sim_store_flaky_fails(struct sim_store *st, const char *locator, unsigned long limit)
{
	struct sim_counter *c;
	bool fails = false;

	pthread_mutex_lock(&st->lock);
	c = sim_map_get(&st->flaky, locator);
	if (c == NULL) {
		c = calloc(1, sizeof(*c));
		if (c == NULL || sim_map_put(&st->flaky, locator, c) != KG_OK) {
			free(c);
			goto out;
		}
	}
	fails = c->calls < limit;
	if (c->calls < ULONG_MAX)
		c->calls++;
out:
	pthread_mutex_unlock(&st->lock);
	return fails;
}

/* The user stored under locator, created (not yet existing) when absent; NULL when memory is
 * short. Call with the lock held. */
static struct sim_user *user_get_or_add(struct sim_store *st, const char *locator)
{
	struct sim_user *u = sim_map_get(&st->users, locator);

	if (u != NULL)
		return u;
	u = calloc(1, sizeof(*u));
	if (u == NULL || sim_map_put(&st->users, locator, u) != KG_OK) {
		free(u);
		return NULL;
	}
	return u;
}

/* The existing user stored under locator, or NULL (lock held). */
static struct sim_user *user_find(struct sim_store *st, const char *locator)
{
	struct sim_user *u = sim_map_get(&st->users, locator);

	return (u != NULL && u->exists) ? u : NULL;
}

/* ---- users ---------------------------------------------------------------------------------- */

static void add_legal(struct json_object *arr, const char *type, const char *at)
{
	struct json_object *e;

	if (at == NULL)
		return;
	e = json_object_new_object();
	json_object_object_add(e, "type", json_object_new_string(type));
	json_object_object_add(e, "acceptedAt", json_object_new_string(at));
	json_object_object_add(e, "isValidVersion", json_object_new_boolean(1));
	json_object_array_add(arr, e);
}

static struct json_object *render_user(const struct sim_user *u, const char *locator)
{
	struct json_object *o = json_object_new_object();
	struct json_object *legal = json_object_new_array();

	json_object_object_add(o, "userDetails", json_object_new_boolean(u->facts.user_details));
	json_object_object_add(o, "kycData", json_object_new_boolean(u->facts.kyc_data));
	json_object_object_add(o, "dueDiligence", json_object_new_boolean(u->facts.due_diligence));
	json_object_object_add(o, "verificationHistory",
	                       json_object_new_boolean(u->facts.verification_history));
	if (u->facts.email != NULL)
		json_object_object_add(o, "email", json_object_new_string(u->facts.email));
	if (u->facts.phone != NULL)
		json_object_object_add(o, "phoneNumber", json_object_new_string(u->facts.phone));
	if (strncmp(locator, "userId:", 7) == 0)
		json_object_object_add(o, "userId", json_object_new_string(locator + 7));
	add_legal(legal, "crossmint-privacy-policy", u->privacy_at);
	add_legal(legal, "crossmint-terms-of-service", u->tos_at);
	json_object_object_add(o, "legalDocuments", legal);
	return o;
}

void sim_handle_user(struct sim_store *st, const struct sim_call *call, struct sim_answer *ans)
{
	struct sim_user *u;
	unsigned status = 200;

	pthread_mutex_lock(&st->lock);
	if (strcmp(call->method, "GET") == 0) {
		u = user_find(st, call->locator);
		if (u == NULL)
			sim_answer_error(ans, 404, "User not found");
		else
			sim_answer_json(ans, 200, render_user(u, call->locator));
		goto out;
	}
	u = user_get_or_add(st, call->locator);
	if (u == NULL || sim_facts_set(&u->facts, call->body) != KG_OK) {
		sim_answer_error(ans, 503, "Out of memory");
		goto out;
	}
	if (!u->exists) /* a user made by consent is updated, not created */
		status = 201;
	u->exists = true;
	sim_answer_json(ans, status, render_user(u, call->locator));
out:
	pthread_mutex_unlock(&st->lock);
}

void sim_handle_legal(struct sim_store *st, const struct sim_call *call, struct sim_answer *ans)
{
	struct json_object *type = NULL;
	struct json_object *at = NULL;
	struct json_object *out;
	struct sim_user *u;
	char *copy;

	json_object_object_get_ex(call->body, "type", &type);
	json_object_object_get_ex(call->body, "acceptedAt", &at);
	copy = sim_strdup(json_object_get_string(at));
	pthread_mutex_lock(&st->lock);
	u = user_get_or_add(st, call->locator);
	if (u == NULL || copy == NULL) {
		free(copy);
		sim_answer_error(ans, 503, "Out of memory");
		goto out;
	}
	if (strcmp(json_object_get_string(type), "crossmint-privacy-policy") == 0) {
		free(u->privacy_at);
		u->privacy_at = copy;
	} else {
		free(u->tos_at);
		u->tos_at = copy;
	}
	u->exists = true;
	out = json_object_new_object();
	json_object_object_add(out, "acceptedAt", json_object_new_string(copy));
	sim_answer_json(ans, 200, out);
out:
	pthread_mutex_unlock(&st->lock);
}

/* ---- verification --------------------------------------------------------------------------- */

static void holdings_of(const struct sim_user *u, struct sim_holdings *h)
{
	char today[16];
	unsigned i;

	sim_utc_today(today, sizeof(today));
	memset(h, 0, sizeof(*h));
	h->privacy_policy = u->privacy_at != NULL;
	h->facts = &u->facts;
	for (i = 0; i < SIM_DOC_TYPES; i++) {
		const struct sim_doc *d = u->docs[i];

		h->docs[i] = d != NULL;
		if (d != NULL && d->expires_at[0] != '\0' && strcmp(d->expires_at, today) < 0)
			h->expired_doc = true;
	}
}

void sim_handle_verification(struct sim_store *st, const struct sim_call *call,
                             struct sim_answer *ans)
{
	unsigned long long now = kg_now_ms();
	bool trigger = strcmp(call->method, "PUT") == 0;
	struct sim_holdings h;
	struct sim_user *u;

	pthread_mutex_lock(&st->lock);
	u = user_find(st, call->locator);
	if (u == NULL) {
		sim_answer_error(ans, 404, "User not found");
		goto out;
	}
	if (trigger) {
		holdings_of(u, &h);
		sim_verify_snapshot(&h, &st->behaviour, now, &u->snap);
	}
	/* userId:sim-noeligibility: the trigger is accepted but its answer carries no eligibility
	 * list (the gateway then reads the status once); reads behave normally. */
	if (trigger && strcmp(call->locator, "userId:sim-noeligibility") == 0) {
		sim_answer_json(ans, 200, json_object_new_object());
		goto out;
	}
	sim_answer_json(ans, 200,
	                sim_verify_render(&u->snap, st->behaviour.review_delay_ms, now, !trigger));
out:
	pthread_mutex_unlock(&st->lock);
}

/* ---- documents ------------------------------------------------------------------------------ */

static struct json_object *render_doc(const struct sim_doc *d)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(d->id));
	json_object_object_add(o, "documentType",
	                       json_object_new_string(sim_doc_type_name(d->type)));
	json_object_object_add(o, "createdAt", json_object_new_string(d->created_at));
	if (d->expires_at[0] != '\0')
		json_object_object_add(o, "expiresAt", json_object_new_string(d->expires_at));
	return o;
}

/* A new document of type with a fresh id, indexed by id; NULL when memory is short. */
static struct sim_doc *doc_add(struct sim_store *st, enum sim_doc_type type)
{
	struct sim_doc *d = calloc(1, sizeof(*d));
	int tries;

	if (d == NULL)
		return NULL;
	d->type = type;
	for (tries = 0; tries < 8; tries++) {
		sim_random_id(d->id, sizeof(d->id), "doc_", 12);
		if (sim_map_get(&st->docs, d->id) == NULL)
			break;
	}
	if (sim_map_get(&st->docs, d->id) != NULL || sim_map_put(&st->docs, d->id, d) != KG_OK) {
		free(d);
		return NULL;
	}
	return d;
}

void sim_handle_document_post(struct sim_store *st, const struct sim_call *call,
                              struct sim_answer *ans)
{
	struct json_object *type = NULL;
	struct json_object *expires = NULL;
	enum sim_doc_type t;
	struct sim_user *u;
	struct sim_doc *d;
	unsigned status = 200;

	json_object_object_get_ex(call->body, "documentType", &type);
	json_object_object_get_ex(call->body, "expiresAt", &expires);
	t = sim_doc_type_parse(json_object_get_string(type));
	pthread_mutex_lock(&st->lock);
	/* The owner must exist already (consent or user data), as with Crossmint. */
	u = user_find(st, call->locator);
	if (u == NULL) {
		sim_answer_error(ans, 404, "User not found");
		goto out;
	}
	d = u->docs[t];
	if (d == NULL) {
		d = doc_add(st, t);
		u->docs[t] = d;
		status = 201;
	}
	if (d == NULL) {
		sim_answer_error(ans, 503, "Out of memory");
		goto out;
	}
	sim_utc_timestamp(d->created_at, sizeof(d->created_at));
	d->expires_at[0] = '\0';
	if (expires != NULL)
		memcpy(d->expires_at, json_object_get_string(expires), sizeof(d->expires_at));
	sim_answer_json(ans, status, render_doc(d));
out:
	pthread_mutex_unlock(&st->lock);
}

void sim_handle_document_get(struct sim_store *st, const struct sim_call *call,
                             struct sim_answer *ans)
{
	const struct sim_doc *d;

	pthread_mutex_lock(&st->lock);
	d = sim_map_get(&st->docs, call->param);
	if (d == NULL)
		sim_answer_error(ans, 404, "Document not found");
	else
		sim_answer_json(ans, 200, render_doc(d));
	pthread_mutex_unlock(&st->lock);
}

/* ---- linked wallets ------------------------------------------------------------------------- */

static struct json_object *render_wallet(const struct sim_wallet *w)
{
	struct json_object *o = json_object_new_object();
	struct json_object *own = json_object_new_object();

	json_object_object_add(o, "address", json_object_new_string(w->address));
	json_object_object_add(o, "chain", json_object_new_string(w->chain));
	json_object_object_add(o, "type", json_object_new_string("external-wallet"));
	json_object_object_add(own, "verified", json_object_new_boolean(0));
	json_object_object_add(own, "verificationChallenge", json_object_new_string(w->challenge));
	json_object_object_add(o, "ownership", own);
	return o;
}

static struct sim_wallet **wallet_slot(struct sim_user *u, const char *address)
{
	struct sim_wallet **slot = &u->wallets;

	while (*slot != NULL && strcmp((*slot)->address, address) != 0)
		slot = &(*slot)->next;
	return slot;
}

/* Links (or re-links) address with the chain named in body; returns it, or NULL (no memory). */
static struct sim_wallet *wallet_put(struct sim_user *u, const char *address,
                                     struct json_object *body)
{
	struct sim_wallet **slot = wallet_slot(u, address);
	struct sim_wallet *w = *slot;
	struct json_object *chain = NULL;

	if (w == NULL) {
		w = calloc(1, sizeof(*w));
		if (w == NULL || (w->address = strdup(address)) == NULL) {
			free(w);
			return NULL;
		}
		sim_random_id(w->challenge, sizeof(w->challenge), "kycgate-simulator-challenge-",
		              16);
		*slot = w;
	}
	json_object_object_get_ex(body, "chain", &chain);
	snprintf(w->chain, sizeof(w->chain), "%s", json_object_get_string(chain));
	return w;
}

void sim_handle_wallet(struct sim_store *st, const struct sim_call *call, struct sim_answer *ans)
{
	struct sim_wallet **slot;
	struct sim_wallet *w;
	struct sim_user *u;

	pthread_mutex_lock(&st->lock);
	u = user_find(st, call->locator);
	if (u == NULL) {
		sim_answer_error(ans, 404, "User not found");
		goto out;
	}
	if (strcmp(call->method, "PUT") == 0) {
		w = wallet_put(u, call->param, call->body);
		if (w == NULL)
			sim_answer_error(ans, 503, "Out of memory");
		else
			sim_answer_json(ans, 200, render_wallet(w));
		goto out;
	}
	slot = wallet_slot(u, call->param);
	w = *slot;
	if (w == NULL) {
		sim_answer_error(ans, 404, "External wallet not found for this user");
	} else if (strcmp(call->method, "GET") == 0) {
		sim_answer_json(ans, 200, render_wallet(w));
	} else {
		*slot = w->next;
		free(w->address);
		free(w);
		sim_answer_empty(ans, 200);
	}
out:
	pthread_mutex_unlock(&st->lock);
}
