/* Private to the watch module (watch.c: the in-memory set, the scheduler, polls, the trigger,
 * the lifecycle; watch_rows.c: the watches table, what an observation does to a watch, the
 * routes' store work). See watch.c for how it works. */
#ifndef KYCGATE_WATCH_INTERNAL_H
#define KYCGATE_WATCH_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct kg_answer;
struct kg_gateway;

#define WATCH_TRIGGER_GRACE_MS 60000 /* trigger-verification this soon: still in review */

enum watch_kind { WATCH_AUTOMATIC = 0, WATCH_EXPLICIT };

/* "automatic", "explicit" (the kind column and the view's kind), by enum watch_kind. */
extern const char *const watch_kind_names[];

struct watch_node;
struct watch_poll;

struct kg_watches {
	struct kg_gateway *gw;
	atomic_int hook; /* the scheduler's store hook, -1 when none (read by request threads) */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool load_done;                   /* under mu: the start's load job ran */
	struct watch_node **set;          /* under mu: the watched users */
	unsigned rows;                    /* under mu: rows of the table */
	unsigned reserved;                /* under mu: places promised to triggers not yet run */
	unsigned by_kind[2];              /* under mu: rows by kind, for kycgate_watches */
	struct watch_poll *polls;         /* under mu: polls in flight */
	unsigned n_polls;                 /* under mu */
	unsigned long long seq;           /* under mu: numbers the polls' request ids */
	bool loaded;                      /* store thread: the set and counts match the table */
	bool leases_dropped;              /* store thread: the previous process's leases are gone */
	unsigned long long next_purge_ms; /* store thread */
	/* events.watch, replaced by a reload. */
	_Atomic unsigned long long initial_ms, max_ms, settled_ms, max_age_ms;
	atomic_uint max_watches;
};

/* One row of the watches table. */
struct watch_row {
	enum watch_kind kind;
	unsigned products; /* 0: every product */
	unsigned long long since_ms, trigger_ms, next_poll_ms, interval_ms, observed_ms;
	char overall[32]; /* "" when never observed */
};

/* ---- watch.c -------------------------------------------------------------------------------- */

/* A row of loc of kind k was inserted (added) or deleted: the set, the counts, the gauge. */
void watch_counted(struct kg_watches *w, const char *loc, enum watch_kind k, bool added);

/* A row changed kind (an automatic watch made explicit): the counts and the gauge. */
void watch_kind_changed(struct kg_watches *w, enum watch_kind from, enum watch_kind to);

/* ---- watch_rows.c: store thread, each returns an SQLite result code ------------------------- */

/* Steps a statement that returns no row, and finalizes it. */
int watch_step_done(sqlite3_stmt *s);

/* The mask of a products column ("onramp,offramp"; NULL or junk: 0, every product), and back
 * ("" for 0) into out (cap bytes). */
unsigned watch_products_of(const unsigned char *csv);
void watch_products_csv(unsigned mask, char *out, size_t cap);

/* Reads loc's row into r; *found false when there is none. */
int watch_row_get(sqlite3 *db, const char *loc, struct watch_row *r, bool *found);

/* Inserts loc's watch (its first poll poll_initial_s from now) / deletes it; both keep the
 * in-memory set and counts. */
int watch_row_insert(sqlite3 *db, struct kg_watches *w, const char *loc, enum watch_kind k,
                     unsigned products, unsigned long long now);
int watch_row_delete(sqlite3 *db, struct kg_watches *w, const char *loc, enum watch_kind k);

/* Writes r's schedule and observation back; a poll's lease ends with it when clear_lease. */
int watch_row_schedule(sqlite3 *db, const char *loc, const struct watch_row *r, bool clear_lease);

/* Applies one observation of loc (over the watch's scope) to its watch, if any; poll: the
 * watch's own poll (see watch_rows.c). */
int watch_observe(sqlite3 *db, struct kg_watches *w, const char *loc, const char *overall,
                  const char *next_action, unsigned long long at_ms, bool poll);

/* overall and nextAction of a status answer over products (0: all), into the two buffers;
 * false when the answer is not a good eligibility answer. Not SQL: it normalizes. */
bool watch_answer_state(struct kg_watches *w, struct kg_answer *a, const char *loc,
                        unsigned products, char overall[32], char next_action[32]);

#endif
