/* Private to the webhook module (src/webhooks*.c, design §10) and its tests: the Standard
 * Webhooks signature, the two routes of webhooks.manage, and what the routes ask of the module.
 * The contract with the rest of the event source is src/events.h. */
#ifndef KYCGATE_WEBHOOKS_H
#define KYCGATE_WEBHOOKS_H

#include <stdbool.h>
#include <stddef.h>

#include "kycgate/common.h"

struct kg_req;
struct kg_gateway;
struct kg_store_job;
struct sqlite3;

/* "v1," + the base64 of a SHA-256 HMAC (44 characters), with its NUL. */
#define KG_WH_SIGNATURE_CAP 48

/* The Standard Webhooks 1.0 signature of one attempt into out: "v1," + base64(HMAC-SHA256(key,
 * id "." timestamp "." body)). key is the secret's decoded bytes. KG_OK, KG_ERR_NOMEM, or
 * KG_ERR_INTERNAL when GnuTLS fails (nothing may be sent then). Pure; thread-safe. */
enum kg_err kg_webhook_sign(const unsigned char *key, size_t key_len, const char *id,
                            unsigned long long timestamp_s, const char *body, size_t len,
                            char out[KG_WH_SIGNATURE_CAP]);

/* scheme://host[:port] of url into out (cap bytes): what GET /v1/webhooks shows of an endpoint
 * (a path or query may hold a token). Pure. */
void kg_webhook_url_origin(const char *url, char *out, size_t cap);

/* webhooks.c: the dispatcher's claim of an endpoint's due deliveries (?1 endpoint, ?2 now in
 * wall-clock ms, ?3 how many); its test checks it is answered from the indexes of schema v3. */
extern const char kg_webhooks_claim_sql[];

/* ---- webhooks.c, for the routes (webhooks_routes.c) ---- */

/* True when an endpoint of that name is configured now. Any thread. */
bool kg_webhooks_known(struct kg_gateway *gw, const char *name);

/* Store thread (KG_STORE_RUN jobs owned by a request, job->owner the struct kg_req): the list of
 * GET /v1/webhooks as JSON into job->body; the re-queue of POST .../retry for the endpoint named
 * in job->client, its count in job->status. SQLite result codes. */
int kg_webhooks_list_run(struct sqlite3 *db, struct kg_store_job *job);
int kg_webhooks_retry_run(struct sqlite3 *db, struct kg_store_job *job);

/* ---- webhooks_routes.c: the route functions of router.c (local, through a store job) ---- */

bool kg_webhooks_list_begin(struct kg_req *req);
bool kg_webhooks_list_resumed(struct kg_req *req);
bool kg_webhooks_retry_begin(struct kg_req *req);
bool kg_webhooks_retry_resumed(struct kg_req *req);

#endif
