/* A webhook receiver for the integration tests (design §10 "Webhooks"): a thread on an ephemeral
 * loopback port that verifies every Standard Webhooks signature against KT_WH_SECRET, answers
 * each attempt with a status the test sets, and records what arrived (headers checked, the body
 * kept) for the test to compare with the event feed. */
#ifndef KYCGATE_TEST_WEBHOOK_RX_H
#define KYCGATE_TEST_WEBHOOK_RX_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* The bytes 0..31, as a Standard Webhooks secret: the receiver verifies with these bytes. */
#define KT_WH_SECRET "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KT_RX_MAX_HITS 256
#define KT_RX_MAX_REQUEST 70000 /* a request larger than this is not read whole */
#define KT_RX_WAIT_MS 20000     /* kt_rx_wait's deadline */

struct kt_hit {
	long long id;     /* webhook-id */
	long long ts;     /* webhook-timestamp */
	bool sig_ok;      /* the signature verifies with the secret */
	bool body_id_ok;  /* the body's "id" is the webhook-id */
	bool api_key;     /* an X-API-KEY header arrived (must never) */
	bool ua_ok;       /* User-Agent: kycgate/... */
	bool ct_ok;       /* Content-Type: application/json */
	int status;       /* what was answered */
	char loc[64];     /* the body's userLocator */
	char target[128]; /* the request target */
	char *body;       /* the body as it arrived (NUL-terminated), freed by kt_rx_stop */
	size_t body_len;
};

struct kt_rx {
	int fd;
	unsigned port;
	pthread_t thread;
	pthread_mutex_t mu; /* guards what follows */
	atomic_bool stop;
	int fail_first; /* 500 to the first fail_first attempts of each id */
	int status;     /* then this */
	int hold_ms;    /* > 0: no answer at all, the connection held this long (status 599) */
	struct kt_hit hits[KT_RX_MAX_HITS];
	int n;
	char buf[KT_RX_MAX_REQUEST]; /* the receiver thread's own: never shared between receivers */
};

/* Starts a receiver answering 500 to the first fail_first attempts of each id, then status. */
void kt_rx_start(struct kt_rx *r, int fail_first, int status);
/* Stops its thread, closes its socket and frees the bodies kept. */
void kt_rx_stop(struct kt_rx *r);
void kt_rx_set(struct kt_rx *r, int fail_first, int status);
void kt_rx_hold(struct kt_rx *r, int hold_ms);
/* Asserts that every request it got is a proper, signed webhook without the API key, sent to
 * target. */
void kt_rx_assert_clean(struct kt_rx *r, const char *target);
/* Attempts of id (0: any) answered status (0: any). */
int kt_rx_count(struct kt_rx *r, long long id, int status);
/* Waits (KT_RX_WAIT_MS at most) until id got an answer of status. */
bool kt_rx_wait(struct kt_rx *r, long long id, int status);

#endif
