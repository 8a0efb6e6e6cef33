/* The document routes: upload (PUT of a file, or its JSON form, shaped into Crossmint's POST
 * /documents) and read (GET by id, passed through). Their rows are in router.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kycgate/validate.h"
#include "gateway.h"
#include "reply.h"
#include "routes.h"

/* ?expiresAt= on an upload: checked with the body (kg_shape_document). */
static const char *parse_expires_at(struct kg_req *req, const char *raw)
{
	char v[KG_MAX_QUERY_VALUE_BYTES + 1];
	size_t n;

	if (!kg_handle_query_decode(raw, v, sizeof(v)))
		return "expiresAt: not a date";
	/* Held only by the requests that give it (a date may be personal data: wiped when freed).
	 */
	n = strlen(v);
	if (req->expires_at != NULL) { /* given twice: the last one, as before */
		kg_wipe(req->expires_at, strlen(req->expires_at));
		free(req->expires_at);
	}
	if ((req->expires_at = malloc(n + 1)) != NULL)
		memcpy(req->expires_at, v, n + 1);
	kg_wipe(v, n);
	return req->expires_at != NULL ? NULL : "expiresAt: out of memory";
}

const struct kg_query_param kg_documents_put_query[] = {
    {.name = "expiresAt", .parse = parse_expires_at},
    {.name = NULL},
};

bool kg_documents_put_shape(struct kg_req *req)
{
	const char *loc = kg_handle_param(req, KG_PARAM_LOCATOR, NULL);
	size_t tlen = 0;
	const char *tname = kg_handle_param(req, KG_PARAM_DOC_TYPE, &tlen);
	struct kg_doc_input in = {
	    .content_type = req->content_type,
	    .body = (const unsigned char *)req->body,
	    .body_len = req->body_len,
	    .expires_at_query =
	        req->expires_at != NULL && req->expires_at[0] ? req->expires_at : NULL,
	    .max_document_bytes = req->cfg->server.max_document_bytes,
	};
	struct json_object *out = NULL, *errors = NULL;
	const char *detail = NULL;
	char limit[96];
	enum kg_err e =
	    kg_shape_document(&in, loc, kg_doc_type_parse(tname, tlen), &out, &detail, &errors);
	bool ok;

	if (e == KG_ERR_TOO_LARGE) {
		snprintf(limit, sizeof(limit),
		         "the document is over the limit of %zu bytes (decoded)",
		         in.max_document_bytes);
		detail = limit;
	}
	if (e == KG_ERR_NOMEM) {
		kg_reply_problem(req, KG_PB_UNAVAILABLE, 0, "out of memory", NULL);
		json_object_put(errors);
		return false;
	}
	if (e != KG_OK) {
		kg_reply_problem(req,
		                 e == KG_ERR_MEDIA_TYPE  ? KG_PB_UNSUPPORTED_MEDIA_TYPE
		                 : e == KG_ERR_TOO_LARGE ? KG_PB_PAYLOAD_TOO_LARGE
		                                         : KG_PB_INVALID_REQUEST,
		                 0, detail, errors);
		json_object_put(errors);
		return false;
	}
	ok = kg_handle_set_up_body(req, out);
	json_object_put(out);
	return ok;
}
