/* Private interface between the simulator's source files (design §7).
 *
 * simulator.c   lifecycle, the libmicrohttpd glue (access handler, suspend/resume) and the timer
 * sim_routes.c  route table, path decoding, authentication, faults, dispatch of one request
 * sim_users.c   the in-memory store (users, documents, wallets) and the route handlers on it
 * sim_verify.c  eligibility rules and snapshots
 * sim_schema.c  request body checks against crossmint/users-openapi.yaml
 * sim_record.c  the ring of received requests served at /_simulator/requests
 * sim_util.c    string map, JSON answers, clocks, random ids
 * sim_main.c    `kycgate simulator` command line
 *
 * The simulator stands apart from the gateway (library kgsim, tests/sim_apart.sh checks it): it
 * includes only this header and public ones, and it links kgbase (src/base/: errors, clocks, hex
 * digits, hashing, the timer heap, buffers, the constant-time compare), never the gateway's code.
 * Its percent-decoder (sim_routes.c), its strict JSON parsing (sim_util.c), its locator rule and
 * body schema checks (sim_schema.c) and its verification rules (sim_verify.c) look like the
 * gateway's validate*.c and normalize.c on purpose and must stay separate copies: the simulator is
 * the test double the gateway is checked against, and a double that shared the code under test
 * would agree with its bugs. Do not deduplicate them. */
#ifndef KYCGATE_SIM_INTERNAL_H
#define KYCGATE_SIM_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "kycgate/buf.h"
#include "kycgate/common.h"
#include "kycgate/simulator.h"
#include "kycgate/timer_heap.h"

#define SIM_VERSION_PREFIX "2025-06-09"
#define SIM_MAX_BODY_BYTES (32u * 1024u * 1024u) /* larger request bodies are a 413 */
#define SIM_RECORD_SLOTS 1024u                   /* requests kept for /_simulator/requests */
#define SIM_RECORD_BODY_BYTES (64u * 1024u)      /* body bytes kept per recorded request */
#define SIM_RECORD_HEADER_BYTES 1024u            /* bytes kept per recorded header value */
#define SIM_MAX_LATENCY_MS 600000u               /* sim-latency-<ms> is clamped to this */
#define SIM_MAX_EDD_COUNTRIES 256u               /* EDD country list length */
#define SIM_JSON_DEPTH 32                        /* nesting limit of request bodies */
#define SIM_DEFAULT_THREADS 2u
#define SIM_DEFAULT_CONNECTIONS 4096u
#define SIM_MAX_THREADS 64u
#define SIM_PRODUCTS 3u /* onramp, offramp, regulated-transfer */
/* Path and query assembled for the recorder (MHD's 16 KiB connection memory bounds them first). */
#define SIM_RECORD_TARGET_BYTES (16u * 1024u)

/* ---- sim_util.c ---------------------------------------------------------------------------- */

/* A string-keyed hash map with chained buckets; values are borrowed pointers. Not thread-safe. */
struct sim_map_entry {
	struct sim_map_entry *next;
	char *key; /* owned */
	void *value;
};

struct sim_map {
	struct sim_map_entry **buckets;
	size_t n_buckets; /* a power of two, or 0 before the first insert */
	size_t count;
};

/* The value stored under key, or NULL. */
void *sim_map_get(const struct sim_map *map, const char *key);
/* Stores value under a copy of key (key must not be present yet). */
enum kg_err sim_map_put(struct sim_map *map, const char *key, void *value);
/* Removes key; returns its value, or NULL when absent. */
void *sim_map_remove(struct sim_map *map, const char *key);
/* Frees every entry, calling free_value (when not NULL) on each value; the map is then empty. */
void sim_map_clear(struct sim_map *map, void (*free_value)(void *value));

/* An answer prepared for one request, queued now or after a delay. */
struct sim_answer {
	unsigned status;         /* HTTP status */
	char *body;              /* new bytes or NULL for an empty body */
	size_t len;              /* body length */
	bool json;               /* adds Content-Type: application/json */
	const char *location;    /* static Location value, or NULL */
	const char *retry_after; /* static Retry-After value, or NULL */
	const char *allow;       /* static Allow value (405), or NULL */
	bool reset;              /* close the connection without an answer */
	unsigned delay_ms;       /* answer this much later (0: now) */
};

/* Replaces ans's status and body with a Crossmint-like error {"error": true, "message": msg}.
 * msg names a rule, never a value from the request. Keeps delay_ms. */
void sim_answer_error(struct sim_answer *ans, unsigned status, const char *msg);
/* Replaces ans's status and body with obj serialized; takes ownership of obj (also on failure,
 * which turns the answer into a 500). */
void sim_answer_json(struct sim_answer *ans, unsigned status, struct json_object *obj);
/* Replaces ans's status with status and its body with nothing. */
void sim_answer_empty(struct sim_answer *ans, unsigned status);
/* Frees ans's body and resets every field. */
void sim_answer_clear(struct sim_answer *ans);

/* Writes the current UTC time as "YYYY-MM-DDTHH:MM:SS.mmmZ" (cap >= 25). */
void sim_utc_timestamp(char *out, size_t cap);
/* Writes today's UTC date as "YYYY-MM-DD" (cap >= 11). */
void sim_utc_today(char *out, size_t cap);
/* Writes prefix followed by 2*n_random random hex digits (cap must fit it and a NUL). */
void sim_random_id(char *out, size_t cap, const char *prefix, size_t n_random);
/* strdup that accepts NULL. */
char *sim_strdup(const char *s);
/* Parses len bytes as one strict JSON text (depth SIM_JSON_DEPTH, trailing whitespace only).
 * Returns a new reference or NULL. */
struct json_object *sim_parse_json(const char *buf, size_t len);

/* ---- sim_schema.c -------------------------------------------------------------------------- */

enum sim_doc_type {
	SIM_DOC_SSN,
	SIM_DOC_PASSPORT,
	SIM_DOC_IDCARD_BACK,
	SIM_DOC_IDCARD_FRONT,
	SIM_DOC_RESIDENCY_PERMIT,
	SIM_DOC_PROOF_OF_ADDRESS,
	SIM_DOC_PROOF_OF_INCOME,
	SIM_DOC_SELFIE_FRONT,
	SIM_DOC_SELFIE_LEFT,
	SIM_DOC_SELFIE_RIGHT,
	SIM_DOC_TYPES,
};

/* The name of a document type (static). */
const char *sim_doc_type_name(enum sim_doc_type type);
/* True when s (length len, NUL-free) matches ^(email|userId|phoneNumber|twitter|x):.+$, has no
 * control character and is at most KG_MAX_LOCATOR_BYTES long. */
bool sim_locator_valid(const char *s, size_t len);
/* Each check returns true when body follows its schema; else writes a sentence naming the rule
 * that failed (never a value) to msg (cap msgcap). */
bool sim_check_user_body(struct json_object *body, char *msg, size_t msgcap);
bool sim_check_legal_body(struct json_object *body, char *msg, size_t msgcap);
bool sim_check_document_body(struct json_object *body, char *msg, size_t msgcap);
bool sim_check_wallet_body(struct json_object *body, char *msg, size_t msgcap);
/* The document type named s, or SIM_DOC_TYPES when s names none. */
enum sim_doc_type sim_doc_type_parse(const char *s);

/* ---- sim_verify.c -------------------------------------------------------------------------- */

/* What the rules need from the last user body (the rest of the body is not kept). */
struct sim_facts {
	bool user_details; /* sections present in the last PUT user */
	bool kyc_data;
	bool due_diligence;
	bool verification_history;
	char country[3]; /* userDetails.countryOfResidence upper-cased, "" when not 2 letters */
	bool sanctioned; /* userDetails.lastName is exactly "Sanctioned" */
	bool ssn;        /* kycData.identityDocument.type is "ssn" */
	bool dd_state;   /* kycData.addressOfResidence.stateOrRegion needs due diligence */
	char *email;     /* kycData.email, owned, or NULL */
	char *phone;     /* kycData.phoneNumber, owned, or NULL */
};

enum sim_status {
	SIM_ST_NOT_STARTED,
	SIM_ST_PENDING_PRIVACY_POLICY,
	SIM_ST_REQUIRES_DATA,
	SIM_ST_PENDING_REVIEW,
	SIM_ST_VERIFIED,
	SIM_ST_REJECTED,
};

/* Bits of struct sim_product.missing_data and .missing_docs, in answer order. */
enum {
	SIM_MISS_USER_DETAILS = 1u << 0,
	SIM_MISS_KYC_DATA = 1u << 1,
	SIM_MISS_DUE_DILIGENCE = 1u << 2,
	SIM_MISS_VERIFICATION_HISTORY = 1u << 3,
};
enum {
	SIM_MISS_ID = 1u << 0,
	SIM_MISS_SELFIE = 1u << 1,
	SIM_MISS_PROOF_OF_ADDRESS = 1u << 2,
	SIM_MISS_PROOF_OF_INCOME = 1u << 3,
};

struct sim_product {
	enum sim_status status;
	unsigned missing_data; /* SIM_MISS_* data bits */
	unsigned missing_docs; /* SIM_MISS_* document bits */
	bool expired;          /* rejected for an expired document (adds failureReasons) */
};

/* The status taken at the last trigger. */
struct sim_snapshot {
	bool taken;                  /* false before the first trigger: every product not-started */
	unsigned long long taken_ms; /* kg_now_ms() at the trigger */
	struct sim_product products[SIM_PRODUCTS];
};

/* What a user holds, as the rules see it. */
struct sim_holdings {
	bool privacy_policy;           /* privacy policy accepted */
	const struct sim_facts *facts; /* the last user data */
	bool docs[SIM_DOC_TYPES];      /* document types held */
	bool expired_doc;              /* some held document expired before today (UTC) */
};

/* Behaviour that reloads replace. */
struct sim_behaviour {
	unsigned review_delay_ms;
	char (*edd)[3]; /* owned array of n_edd upper-case codes */
	size_t n_edd;
};

/* Fills facts from a user body already checked by sim_check_user_body. Frees the old strings. */
enum kg_err sim_facts_set(struct sim_facts *facts, struct json_object *body);
void sim_facts_cleanup(struct sim_facts *facts);
/* Takes a snapshot of what h holds now. */
void sim_verify_snapshot(const struct sim_holdings *h, const struct sim_behaviour *b,
                         unsigned long long now_ms, struct sim_snapshot *out);
/* Renders {"eligibility": [...]} for snap as seen at now_ms: pending-review turns verified once
 * review_delay_ms has passed since the snapshot (lazy_review false keeps it pending).
 * Returns a new object or NULL. */
struct json_object *sim_verify_render(const struct sim_snapshot *snap, unsigned review_delay_ms,
                                      unsigned long long now_ms, bool lazy_review);

/* ---- sim_users.c --------------------------------------------------------------------------- */

/* The store, guarded by its own mutex; every function below takes it. */
struct sim_store {
	pthread_mutex_t lock;
	struct sim_map users; /* decoded locator -> struct sim_user */
	struct sim_map docs;  /* document id -> struct sim_doc (owned by its user) */
	struct sim_map flaky; /* decoded locator -> struct sim_counter */
	struct sim_behaviour behaviour;
};

enum kg_err sim_store_init(struct sim_store *st, unsigned review_delay_ms, const char (*edd)[3],
                           size_t n_edd);
void sim_store_cleanup(struct sim_store *st);
enum kg_err sim_store_set_behaviour(struct sim_store *st, unsigned review_delay_ms,
                                    const char (*edd)[3], size_t n_edd);
/* Counts one call for locator; true while the count is at most limit (the call must fail). */
bool sim_store_flaky_fails(struct sim_store *st, const char *locator, unsigned long limit);

/* One request, decoded, as the route handlers see it. */
struct sim_call {
	const char *method;       /* "GET", "PUT", "POST" or "DELETE" */
	const char *locator;      /* decoded locator, or NULL */
	const char *param;        /* decoded document id or wallet address, or NULL */
	struct json_object *body; /* parsed body (a JSON object) for routes that take one */
};

void sim_handle_user(struct sim_store *st, const struct sim_call *call, struct sim_answer *ans);
void sim_handle_legal(struct sim_store *st, const struct sim_call *call, struct sim_answer *ans);
void sim_handle_verification(struct sim_store *st, const struct sim_call *call,
                             struct sim_answer *ans);
void sim_handle_document_post(struct sim_store *st, const struct sim_call *call,
                              struct sim_answer *ans);
void sim_handle_document_get(struct sim_store *st, const struct sim_call *call,
                             struct sim_answer *ans);
void sim_handle_wallet(struct sim_store *st, const struct sim_call *call, struct sim_answer *ans);

/* ---- sim_record.c -------------------------------------------------------------------------- */

struct sim_record;

/* The recorded facts of one request (borrowed for the call). */
struct sim_record_in {
	const char *method;
	const char *target; /* raw path plus "?" and the query, as received */
	const char *body;   /* may hold any bytes */
	size_t body_len;    /* truncated to SIM_RECORD_BODY_BYTES */
	bool api_key_ok;
	bool authorization;       /* an Authorization header was present */
	const char *content_type; /* or NULL; each header truncated to SIM_RECORD_HEADER_BYTES */
	const char *request_id;
	const char *traceparent;
	const char *tracestate;
};

struct sim_recorder {
	pthread_mutex_t lock;
	struct sim_record *ring; /* SIM_RECORD_SLOTS slots */
	size_t next;             /* slot written next */
	size_t count;            /* slots in use */
};

enum kg_err sim_recorder_init(struct sim_recorder *rec);
void sim_recorder_cleanup(struct sim_recorder *rec);
/* Records one request (drops it silently when memory is short). Thread-safe. */
void sim_recorder_add(struct sim_recorder *rec, const struct sim_record_in *in);
/* Forgets every recorded request. Thread-safe. */
void sim_recorder_clear(struct sim_recorder *rec);
/* {"requests": [...]}, oldest first; a new object or NULL. Thread-safe. */
struct json_object *sim_recorder_render(struct sim_recorder *rec);

/* ---- simulator.c / sim_routes.c ------------------------------------------------------------ */

struct sim_req;

struct kg_sim {
	struct MHD_Daemon *daemon;
	uint16_t port;

	pthread_mutex_t key_lock; /* guards api_key */
	char *api_key;            /* NULL: any non-empty key */
	size_t api_key_len;

	struct sim_store store;
	bool store_ready; /* store initialized */
	struct sim_recorder recorder;

	/* Delays: a min-heap of suspended requests served by one timer thread. */
	pthread_mutex_t timer_lock;
	pthread_cond_t timer_cond; /* wakes the timer thread */
	pthread_cond_t idle_cond;  /* wakes kg_sim_stop when a count drops */
	pthread_t timer_thread;
	bool timer_started;
	struct kg_timer_heap heap; /* of struct sim_req, by timer */
	size_t n_suspended;        /* suspended and not yet back in the access handler */
	size_t n_delayed_open;     /* delayed requests not yet completed */
	bool stopping;             /* answer every delay now, with 503 */
	bool timer_quit;
};

/* A request in flight: owned by its connection, freed by the completion callback. */
struct sim_req {
	struct kg_sim *sim;
	struct MHD_Connection *conn;
	const char *method;  /* MHD's, valid for the request */
	const char *url;     /* raw path (no-op unescape), MHD's */
	struct kg_buf body;  /* at most SIM_MAX_BODY_BYTES kept */
	bool body_too_large; /* more than SIM_MAX_BODY_BYTES arrived */
	bool delayed;        /* was suspended for a delay */
	bool suspended;      /* counted in n_suspended */
	bool open;           /* counted in n_delayed_open */
	struct sim_answer ans;
	struct kg_timer timer; /* in kg_sim.heap while delayed and not yet due */
	struct sim_req *next;  /* the timer's batch of due requests */
};

/* Decides the answer to a fully received request: fills req->ans (possibly with a delay or a
 * reset). Records the request unless it is a /_simulator/ route. Called by an MHD thread. */
void sim_dispatch(struct kg_sim *sim, struct sim_req *req);

#endif
