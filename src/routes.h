/* Private to the request path: what the route families (src/routes_*.c) export for the rows of
 * the route table (src/router.c), and the steps every route shares (src/handlers.c) that they
 * use. A family function sees only the request; it fills req->reply when it refuses or answers.
 *
 * Adding a route: its row in router.c (method, template, scope, listener, query parameters by
 * name, body kind and shaper, upstream method, path and kind, answer or local function, operation
 * name), its functions in the family file, and its path in openapi/kycgate.yaml
 * (tests/test_router.c holds the table against the spec). */
#ifndef KYCGATE_ROUTES_H
#define KYCGATE_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "kycgate/answer.h"
#include "kycgate/router.h"

struct kg_req;

/* ---- handlers.c: the steps every route shares ---------------------------------------------- */

/* The decoded value of the path parameter of this kind (borrowed from req), or NULL when the
 * route has none; *len (when not NULL) its length. Valid once the parameters were decoded. */
const char *kg_handle_param(const struct kg_req *req, enum kg_param kind, size_t *len);

/* Percent-decodes a query value into out (cap bytes with its NUL): false when it is badly encoded,
 * too long or empty. */
bool kg_handle_query_decode(const char *raw, char *out, size_t cap);

/* Parses the caller's JSON body strictly and runs shape on it: shape sets *out (a new object, what
 * goes upstream) or returns an error with *errors (new, the rules broken). The result becomes
 * req->up_body; false with req->reply (400, or 503 out of memory). */
bool kg_handle_json_body(struct kg_req *req,
                         enum kg_err (*shape)(struct kg_req *req, struct json_object *in,
                                              struct json_object **out,
                                              struct json_object **errors));

/* Serializes obj (borrowed) into req->up_body and the call's body; false with a 503. */
bool kg_handle_set_up_body(struct kg_req *req, struct json_object *obj);

/* Sets req->call.kind (the row's up_kind when the route names a user, else PLAIN) and its
 * user_key. */
void kg_handle_call_kind(struct kg_req *req);

/* Maps a transport failure or a non-2xx status of req->call into req->reply (true); false when
 * the answer is a 2xx. */
bool kg_handle_up_problem(struct kg_req *req);

/* Parses a 2xx body that must be a JSON object: new, or NULL with a 502 in req->reply. */
struct json_object *kg_handle_up_object(struct kg_req *req);

/* The answer of most routes: a problem, or Crossmint's validated JSON object (or 204) passed
 * through. Always false (no follow-up). */
bool kg_handle_pass(struct kg_req *req);

/* ---- routes_users.c: PUT / GET of a user, consent ------------------------------------------ */

extern const struct kg_query_param kg_users_put_query[];
bool kg_users_put_shape(struct kg_req *req);
void kg_users_put_begin(struct kg_req *req);
bool kg_users_put_answer(struct kg_req *req);
bool kg_users_consent_shape(struct kg_req *req);

/* ---- routes_documents.c: upload and read of a document ------------------------------------- */

extern const struct kg_query_param kg_documents_put_query[];
bool kg_documents_put_shape(struct kg_req *req);

/* ---- routes_verification.c: trigger, status and the long-poll view ------------------------- */

extern const struct kg_query_param kg_verification_query[];
bool kg_verification_get_answer(struct kg_req *req);
bool kg_verification_trigger_answer(struct kg_req *req);

/* The normalized view of a status answer a (borrowed) for this request into req->reply (200);
 * *in_review tells whether a product in scope is in review. False with a problem in req->reply. */
bool kg_verification_view(struct kg_req *req, struct kg_answer *a, bool *in_review);

/* The parser of ?products (the parameter may repeat), for other routes that take it. */
const char *kg_verification_products(struct kg_req *req, const char *raw);

/* ---- routes_store.c: work routes answered by one store job (router.h, work_begin) --------- */

struct sqlite3;
struct kg_store_job;

/* work_begin's part: a new KG_STORE_RUN job running run, owned by req (freed, its answer bytes
 * wiped, when the request ends); NULL with req->reply filled: 503 store-disabled (detail what)
 * without a store, 503 when out of memory. */
struct kg_store_job *kg_store_route_begin(struct kg_req *req,
                                          int (*run)(struct sqlite3 *, struct kg_store_job *),
                                          const char *what);
/* The row's work_submit: hands the job to the store (a full queue ends it as KG_STORE_DOWN). */
void kg_store_route_submit(struct kg_req *req);
/* work_resumed's part: the finished job. */
struct kg_store_job *kg_store_route_job(struct kg_req *req);

/* ---- routes_watch.c: PUT / GET / DELETE of a watch, work routes answered from the store ----- */

extern const struct kg_query_param kg_watch_put_query[];
bool kg_watch_begin(struct kg_req *req);
bool kg_watch_resumed(struct kg_req *req);

/* ---- routes_wallets.c: linked wallets ------------------------------------------------------ */

bool kg_wallets_put_shape(struct kg_req *req);

/* ---- events_feed.c, events_users.c: the event feed and the observed users (design §10) ----- */

extern const struct kg_query_param kg_events_query[];
bool kg_events_feed_begin(struct kg_req *req);
void kg_events_feed_submit(struct kg_req *req);
bool kg_events_feed_resumed(struct kg_req *req);

extern const struct kg_query_param kg_users_list_query[];
bool kg_users_list_begin(struct kg_req *req);
void kg_users_list_submit(struct kg_req *req);
bool kg_users_list_resumed(struct kg_req *req);

/* ---- routes_local.c: answered by the gateway itself ---------------------------------------- */

void kg_local_healthz(struct kg_req *req);
void kg_local_readyz(struct kg_req *req);
void kg_local_openapi(struct kg_req *req);
void kg_local_metrics(struct kg_req *req);

#endif
