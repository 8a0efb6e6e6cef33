/* The embedded store (design §10): one SQLite file, owned by one store thread that takes work
 * through a queue, so no request thread and not the engine thread ever waits on disk.
 *
 * The file is opened (created with mode 0600) and its schema migrated to KG_STORE_SCHEMA_VERSION
 * (PRAGMA user_version) by kg_store_open(), on the caller's thread, before the gateway serves:
 * WAL journal, synchronous=FULL. A store that cannot be used (a read-only or corrupt file, a full
 * disk, a schema written by a newer kycgate) is "down": kg_store_open() still returns a handle,
 * every job then finishes with KG_STORE_DOWN, and the thread tries to open the file again every
 * KG_STORE_TICK_MS. It never fails the process: only the routes that need it answer 503.
 *
 * Work is a struct kg_store_job owned by the submitter (embedded in a request, like the engine's
 * struct kg_up_call): the store thread runs jobs one at a time in submission order and calls
 * job->done on its own thread exactly once; done must not block (it resumes a connection), and
 * the store never touches the job after done returns. The same thread purges expired
 * idempotency answers every KG_STORE_TICK_MS.
 *
 * Schema v1 (one schema for both drivers, see the comments in src/store.c): watches (one per
 * watched user), states (the last observed state per user, with the country of the last PUT),
 * events (ids increasing in commit order, never reused), deliveries (one per endpoint and
 * event), idempotency (one stored answer per client and key). Schema v2 adds
 * watches.last_observed_ms. Locators are personal data: they are stored only because polling
 * and events need them. */
#ifndef KYCGATE_STORE_H
#define KYCGATE_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "kycgate/common.h"

#define KG_STORE_SCHEMA_VERSION 3
#define KG_STORE_TICK_MS 60000  /* purge of expired rows; retry of a down store */
#define KG_STORE_MAX_QUEUE 4096 /* jobs waiting at once; past it, submit says KG_ERR_BUSY */
#define KG_STORE_MAX_ANSWER_BYTES (1u << 20) /* longest answer body kept for a replay */
#define KG_STORE_MAX_KEY_BYTES 255           /* Idempotency-Key */
#define KG_STORE_MAX_CLIENT_BYTES 64         /* auth.clients[].name */
#define KG_STORE_FINGERPRINT_LEN 32          /* SHA-256 */

struct kg_store;
struct sqlite3;

enum kg_store_op {
	KG_STORE_NOP = 0,      /* runs nothing (ordering, tests) */
	KG_STORE_IDEM_BEGIN,   /* claims (client, key) for fingerprint, or finds its answer */
	KG_STORE_IDEM_FINISH,  /* stores the definitive answer of a claimed key */
	KG_STORE_IDEM_ABANDON, /* drops a claim whose answer is not definitive (5xx, 429, ...) */
	KG_STORE_RUN,          /* runs job->run (the other modules' work: events, watches, ...) */
};

enum kg_store_result {
	KG_STORE_OK = 0,    /* done; for IDEM_BEGIN: the key was new and is now claimed */
	KG_STORE_REPLAY,    /* IDEM_BEGIN: the key's answer is in status / content_type / body */
	KG_STORE_REUSED,    /* IDEM_BEGIN: the key was used for another request (fingerprint) */
	KG_STORE_IN_FLIGHT, /* IDEM_BEGIN: the first request with this key is still running */
	KG_STORE_DOWN,      /* the store is not usable: nothing was read or written */
};

/* One unit of work. The submitter owns it; the store borrows it from kg_store_submit() until it
 * calls done. */
struct kg_store_job {
	/* In: set before submitting. */
	enum kg_store_op op;
	void (*done)(struct kg_store_job *job); /* called once, on the store thread */
	void *owner;                            /* the submitter's context */
	/* KG_STORE_RUN: runs on the store thread with the open connection, result preset to
	 * KG_STORE_OK; returns an SQLite result code. A code other than SQLITE_OK sets the result
	 * to KG_STORE_DOWN, and one that says the file cannot be used puts the store down. It must
	 * leave no transaction open. */
	int (*run)(struct sqlite3 *db, struct kg_store_job *job);
	char client[KG_STORE_MAX_CLIENT_BYTES + 1];
	char key[KG_STORE_MAX_KEY_BYTES + 1];
	unsigned char fingerprint[KG_STORE_FINGERPRINT_LEN];
	unsigned long long ttl_ms; /* IDEM_BEGIN / IDEM_FINISH: kept this long from now */
	/* IDEM_FINISH: the answer to keep (borrowed until done). */
	int answer_status;
	const char *answer_type; /* Content-Type (static or borrowed), NULL for none */
	const char *answer_body;
	size_t answer_len;

	/* Out: valid when done is called. */
	enum kg_store_result result;
	int status;            /* REPLAY: the stored status */
	char content_type[64]; /* REPLAY: the stored Content-Type, "" for none */
	char *body;            /* REPLAY: new (wipe and free with kg_store_job_cleanup), or NULL */
	size_t body_len;

	/* Private to the store. */
	struct kg_store_job *next;
};

/* Opens the store at path (creating the file with mode 0600) and migrates it; starts the store
 * thread. Returns a new handle (free with kg_store_free), or NULL only when out of memory or a
 * thread cannot start. When the file cannot be used the handle is down and why (no personal
 * data: the path is the operator's) is in err; a file readable by others than its owner is kept
 * but noted in warn (err, warn: cap bytes each, "" when nothing to say). Main thread, at start. */
struct kg_store *kg_store_open(const char *path, char *err, size_t errcap, char *warn,
                               size_t warncap);

/* Ends the store: the jobs still queued run (their done called on the store thread), then the
 * thread is joined and the connection closed. Submitting after this began is refused. Accepts
 * NULL. Call it once nothing can submit any more (after the daemon stopped). */
void kg_store_free(struct kg_store *st);

/* True while the store is usable (also what kycgate_store_up says). Any thread. */
bool kg_store_up(const struct kg_store *st);

/* Hands job to the store thread; done will be called exactly once. KG_ERR_BUSY when
 * KG_STORE_MAX_QUEUE jobs wait, KG_ERR_INVALID after kg_store_free began (done is not called
 * then). Any thread; never blocks on disk. */
enum kg_err kg_store_submit(struct kg_store *st, struct kg_store_job *job);

/* Wipes and frees what a finished job holds (its replayed body). Accepts NULL. */
void kg_store_job_cleanup(struct kg_store_job *job);

/* Periodic work of the other modules (the watch scheduler, the webhook dispatcher, purges).
 * fn runs on the store thread, with the open connection, every interval_ms and soon after
 * kg_store_kick(); never while the store is down (a hook that came due meanwhile runs as soon as
 * the store is back). It returns an SQLite result code, handled as a
 * job's. Returns the hook's id, or -1 when KG_STORE_MAX_HOOKS are registered. Any thread. */
#define KG_STORE_MAX_HOOKS 8
int kg_store_every(struct kg_store *st, unsigned interval_ms,
                   int (*fn)(struct sqlite3 *db, void *ctx), void *ctx);

/* Runs hook id as soon as the thread is free (after the job it runs now). Any thread; cheap. */
void kg_store_kick(struct kg_store *st, int id);

/* Unregisters hook id; when it returns, fn is not running and will not run again. Not from the
 * store thread. Accepts NULL and -1. */
void kg_store_cancel(struct kg_store *st, int id);

/* Runs the periodic work now (purge, reopen when down) on the store thread; for tests. */
void kg_store_tick(struct kg_store *st);

#endif
