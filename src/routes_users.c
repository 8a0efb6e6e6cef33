/* The user routes: PUT (create or replace, with the erase guard of design §2) and GET of a user,
 * and PUT of consent. Their rows are in router.c. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kycgate/validate.h"
#include "events_internal.h"
#include "gateway.h"
#include "reply.h"
#include "routes.h"

/* ?replace=true | false on a PUT of a user. */
static const char *parse_replace(struct kg_req *req, const char *raw)
{
	if (strcmp(raw, "true") != 0 && strcmp(raw, "false") != 0)
		return "replace: true or false";
	req->replace = raw[0] == 't';
	return NULL;
}

const struct kg_query_param kg_users_put_query[] = {
    {.name = "replace", .parse = parse_replace},
    {.name = NULL},
};

/* The user body validated (passed on as it came); the sections it holds are kept for the erase
 * guard. */
static enum kg_err user_shape(struct kg_req *req, struct json_object *in, struct json_object **out,
                              struct json_object **errors)
{
	enum kg_err e = kg_validate_user(in, req->cfg->validation.pass_unknown_fields, errors);

	*out = e == KG_OK ? json_object_get(in) : NULL;
	req->user_sections = kg_user_sections(in);
	return e;
}

bool kg_users_put_shape(struct kg_req *req)
{
	return kg_handle_json_body(req, user_shape);
}

static enum kg_err consent_shape(struct kg_req *req, struct json_object *in,
                                 struct json_object **out, struct json_object **errors)
{
	return kg_shape_consent(in, time(NULL), out, errors);
}

bool kg_users_consent_shape(struct kg_req *req)
{
	return kg_handle_json_body(req, consent_shape);
}

#define ALL_SECTIONS ((1u << KG_USER_SECTION_COUNT) - 1)

/* A PUT of a user that leaves out a section reads the user first (the erase guard), unless the
 * caller said ?replace=true: the call in flight becomes that read. */
void kg_users_put_begin(struct kg_req *req)
{
	if (req->replace || req->user_sections == ALL_SECTIONS)
		return;
	req->erase_check = true;
	req->call->method = "GET";
	req->call->kind = KG_CALL_PLAIN;
	req->call->body = NULL;
	req->call->body_len = 0;
}

/* The sections a GET of the user says Crossmint holds: a section member present and neither
 * false nor null (UserResponseDto says a boolean; anything else counts as held, to be safe). */
static unsigned sections_held(struct json_object *user)
{
	unsigned held = 0;

	for (size_t i = 0; i < KG_USER_SECTION_COUNT; i++) {
		struct json_object *v = NULL;

		if (json_object_object_get_ex(user, kg_user_section_name(i), &v) && v != NULL &&
		    !(json_object_is_type(v, json_type_boolean) && !json_object_get_boolean(v)))
			held |= 1u << i;
	}
	return held;
}

/* 409 would-erase naming the sections in erase (names, never values). */
static void reply_would_erase(struct kg_req *req, unsigned erase)
{
	const char *names[KG_USER_SECTION_COUNT + 1] = {NULL};
	struct kg_problem_args a = {.kind = KG_PB_WOULD_ERASE, .sections = names};
	char detail[384];
	size_t n = 0, used;

	for (size_t i = 0; i < KG_USER_SECTION_COUNT; i++) {
		if (erase & (1u << i))
			names[n++] = kg_user_section_name(i);
	}
	used = (size_t)snprintf(detail, sizeof(detail), "the body leaves out");
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(detail + used, sizeof(detail) - used, "%s%s",
		                         i == 0       ? " "
		                         : i + 1 == n ? " and "
		                                      : ", ",
		                         names[i]);
	snprintf(detail + used, sizeof(detail) - used,
	         ", which Crossmint holds for this user; a PUT replaces the whole user and would "
	         "erase %s: send %s again, or add ?replace=true to erase %s",
	         n == 1 ? "it" : "them", n == 1 ? "it" : "them", n == 1 ? "it" : "them");
	a.detail = detail;
	kg_reply_problem_args(req, &a);
}

/* The read of the erase guard finished: 409 when Crossmint holds a section the body leaves out;
 * when it holds none, or has no such user (404), the PUT follows (true). A failed read answers as
 * it failed, and nothing is written. */
static bool erase_check_answer(struct kg_req *req)
{
	struct json_object *user;
	unsigned erase;

	req->erase_check = false;
	if (req->call->result != KG_UP_OK || req->call->status != 404) {
		if (kg_handle_up_problem(req))
			return false;
		user = kg_handle_up_object(req);
		if (user == NULL)
			return false;
		erase = sections_held(user) & ~req->user_sections;
		json_object_put(user);
		if (erase != 0) {
			reply_would_erase(req, erase);
			return false;
		}
	}
	kg_up_call_cleanup(req->call);
	req->call->method = req->match.route->up_method;
	kg_handle_call_kind(req);
	req->call->body = req->up_body;
	req->call->body_len = req->up_body_len;
	return true;
}

bool kg_users_put_answer(struct kg_req *req)
{
	if (req->erase_check)
		return erase_check_answer(req);
	if (req->call->result == KG_UP_OK && req->call->status >= 200 && req->call->status < 300)
		kg_events_remember_country(req);
	return kg_handle_pass(req);
}
