/* Per-client request limits (kycgate/client_limit.h): a small hash table of token buckets keyed
 * by client name, under one mutex (taken once per request, held for a few hundred
 * nanoseconds). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "kycgate/client_limit.h"
#include "kycgate/metrics.h"
#include "kycgate/tbucket.h"

#define SLOTS 64 /* hash chains; clients are few (the config lists them) */

struct climit {
	struct climit *next;
	char *name;
	struct kg_tbucket bucket;
};

struct kg_climits {
	pthread_mutex_t lock;
	struct climit *slots[SLOTS];
};

struct kg_climits *kg_climits_new(void)
{
	struct kg_climits *cl = calloc(1, sizeof(*cl));

	if (cl != NULL)
		pthread_mutex_init(&cl->lock, NULL);
	return cl;
}

void kg_climits_free(struct kg_climits *cl)
{
	size_t i;

	if (cl == NULL)
		return;
	for (i = 0; i < SLOTS; i++) {
		struct climit *c, *next;

		for (c = cl->slots[i]; c != NULL; c = next) {
			next = c->next;
			free(c->name);
			free(c);
		}
	}
	pthread_mutex_destroy(&cl->lock);
	free(cl);
}

/* The bucket of name, created (empty: full at its first refill) when new; NULL on no memory. */
static struct climit *find(struct kg_climits *cl, const char *name)
{
	size_t slot = kg_fnv1a(name, strlen(name)) % SLOTS;
	struct climit *c;

	for (c = cl->slots[slot]; c != NULL; c = c->next)
		if (strcmp(c->name, name) == 0)
			return c;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->name = strdup(name);
	if (c->name == NULL) {
		free(c);
		return NULL;
	}
	c->next = cl->slots[slot];
	cl->slots[slot] = c;
	return c;
}

bool kg_climits_take(struct kg_climits *cl, const char *name, unsigned per_minute,
                     unsigned long long now_ms, struct kg_climit_note *note)
{
	unsigned long long wait = 0;
	struct climit *c;
	bool ok = true;

	memset(note, 0, sizeof(*note));
	note->limit = per_minute;
	pthread_mutex_lock(&cl->lock);
	c = find(cl, name);
	if (c != NULL) {
		ok = kg_tbucket_take(&c->bucket, per_minute, 1.0, false, now_ms, &wait);
		note->remaining = c->bucket.tokens < 1.0 ? 0 : (unsigned)floor(c->bucket.tokens);
		note->reset_s =
		    (unsigned)((kg_tbucket_full_ms(&c->bucket, per_minute) + 999) / 1000);
	}
	pthread_mutex_unlock(&cl->lock);
	if (!ok)
		note->retry_after_s = wait < 1000 ? 1 : (unsigned)((wait + 999) / 1000);
	return ok;
}

void kg_climit_headers(const struct kg_climit_note *note, char *policy, size_t policy_cap,
                       char *state, size_t state_cap)
{
	snprintf(policy, policy_cap, "\"client\";q=%u;w=60", note->limit);
	snprintf(state, state_cap, "\"client\";r=%u;t=%u", note->remaining, note->reset_s);
}

bool kg_client_limit_check(struct kg_req *req)
{
	unsigned per_minute = req->client ? req->client->requests_per_minute : 0;
	char detail[96];

	if (per_minute == 0 || req->gw->climits == NULL)
		return true;
	if (kg_climits_take(req->gw->climits, req->client->name, per_minute, kg_now_ms(),
	                    &req->limit))
		return true;
	kg_metrics_rate_limited(req->client->name, KG_RL_CLIENT);
	snprintf(detail, sizeof(detail), "this client is over its limit of %u requests per minute",
	         per_minute);
	kg_reply_problem(req, KG_PB_RATE_LIMITED, 0, detail, NULL);
	req->reply.retry_after_s = req->limit.retry_after_s;
	return false;
}
