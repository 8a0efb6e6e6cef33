/* The linked-wallet routes: PUT (the body validated), GET and DELETE (passed through). Their rows
 * are in router.c. */
#include "kycgate/validate.h"
#include "gateway.h"
#include "reply.h"
#include "routes.h"

static enum kg_err wallet_shape(struct kg_req *req, struct json_object *in,
                                struct json_object **out, struct json_object **errors)
{
	enum kg_err e = kg_validate_wallet(in, errors);

	*out = e == KG_OK ? json_object_get(in) : NULL;
	return e;
}

bool kg_wallets_put_shape(struct kg_req *req)
{
	return kg_handle_json_body(req, wallet_shape);
}
