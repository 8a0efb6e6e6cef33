/* Normalized eligibility (design §3): Crossmint's per-product eligibility list turned into one
 * actionable shape. A pure function over a json-c object: no I/O, no logging, thread-safe. */
#ifndef KYCGATE_NORMALIZE_H
#define KYCGATE_NORMALIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <json-c/json.h>

#include "kycgate/common.h"

/* Products the ?products= filter knows (bit i = kg_product_names()[i]). */
#define KG_PRODUCT_ONRAMP (1u << 0)
#define KG_PRODUCT_ONRAMP_LIGHT (1u << 1)
#define KG_PRODUCT_OFFRAMP (1u << 2)
#define KG_PRODUCT_REGULATED_TRANSFER (1u << 3)
#define KG_PRODUCT_COUNT 4

/* "onramp", "onramp-light", "offramp", "regulated-transfer", in bit order. Static. */
const char *const *kg_product_names(void);

/* Parses a decoded ?products= value ("onramp,offramp"): comma-separated known names, no empty
 * item. On success *mask is the set (non-zero). On failure returns KG_ERR_INVALID. */
enum kg_err kg_products_parse(const char *csv, size_t len, unsigned *mask);

struct kg_norm_opts {
	const char *locator;     /* decoded locator, echoed as userLocator (borrowed) */
	const char *environment; /* "staging" | "production" | "simulator" */
	unsigned products;       /* 0 = every product in the answer; else the ?products= set */
	const char *country;     /* ?country= (upper-case alpha-2), or NULL */
	time_t observed_at;      /* when the answer was read from Crossmint */
	unsigned cache_ttl_ms;   /* verification.cache_ttl_ms, for pollAfterSeconds */
	unsigned retry_after_s;  /* upstream Retry-After, 0 if none */
	unsigned budget_wait_s;  /* seconds until the read budget has a token, 0 if one now */
};

/* Builds the normalized answer of design §3 from Crossmint's {"eligibility": [...]}.
 * On success returns KG_OK and *out is a new object (json_object_put).
 * Structural junk (not an object, no array "eligibility", an entry without string type/status,
 * missingData / missingDocuments / failureReasons of the wrong type) returns KG_ERR_UPSTREAM with
 * *detail naming the rule; *out is NULL. */
enum kg_err kg_normalize(struct json_object *upstream, const struct kg_norm_opts *opts,
                         struct json_object **out, const char **detail);

/* true when any product of a normalized answer produced by kg_normalize has status in-review
 * (used by ?wait). The answer holds only the products in scope (kg_normalize applied
 * opts->products), so this looks at every product it holds. */
bool kg_normalized_in_review(struct json_object *normalized);

/* true when upstream holds a valid "eligibility" array (a trigger answer without one is followed
 * by a status read). */
bool kg_eligibility_present(struct json_object *upstream);

#endif
