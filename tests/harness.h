/* Helpers for integration tests: start the real build/kycgate (gateway or standalone simulator)
 * on ephemeral loopback ports, and talk HTTP to it. */
#ifndef KYCGATE_TEST_HARNESS_H
#define KYCGATE_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <check.h>
#include <curl/curl.h>
#include <json-c/json.h>

struct kt_proc {
	pid_t pid;
	unsigned port;
	char log_path[256];  /* the child's stdout and stderr */
	char conf_path[256]; /* the config written for it, "" when none */
};

/* Starts `kycgate simulator --listen 127.0.0.1:0` (extra args appended, NULL-terminated) and
 * waits for its listening line. Aborts the test on failure. */
void kt_start_simulator(struct kt_proc *p, const char *const *extra_args);

/* Writes yaml to a temp config file and starts `kycgate --config FILE` with the environment
 * variables in env ("NAME=value", NULL-terminated, may be NULL), waiting for its listening
 * line. The YAML may contain "@SIMPORT@", replaced by sim_port. */
void kt_start_gateway(struct kt_proc *p, const char *yaml, unsigned sim_port,
                      const char *const *env);

/* Sends SIGTERM and waits; returns the exit status (or -1 when it had to be killed). */
int kt_stop(struct kt_proc *p);

/* Removes the SQLite store file at path and its -wal and -shm companions. */
void kt_unlink_db(const char *path);

/* The child's whole output so far (new string, caller frees). */
char *kt_read_log(const struct kt_proc *p);

/* The child's whole output once it holds needle, polled for up to deadline_ms (new string, also
 * at the deadline). kycgate's log writer puts a line out up to about 10 ms after it was logged,
 * so a test that looks for a line its request caused waits for it; a test that looks for the
 * absence of a line waits first for a line logged after it would have been. */
char *kt_log_wait(const struct kt_proc *p, const char *needle, long deadline_ms);

struct kt_resp {
	long status;
	char *body; /* NUL-terminated */
	size_t len;
	char headers[8192];       /* raw response header block */
	struct json_object *json; /* parsed body, or NULL */
};

/* One HTTP exchange with 127.0.0.1:port. headers is NULL-terminated ("Name: value"). */
void kt_http(unsigned port, const char *method, const char *target, const char *const *headers,
             const void *body, size_t len, struct kt_resp *r);
void kt_resp_free(struct kt_resp *r);
/* kt_http, but a transfer that fails (no answer, a connection closed early) is returned, not a
 * test failure: r then holds whatever arrived (status 0 when nothing did). */
CURLcode kt_http_try(unsigned port, const char *method, const char *target,
                     const char *const *headers, const void *body, size_t len, struct kt_resp *r);

/* kt_http with the headers auth and ctype (either may be NULL), asserting the status; the answer
 * into out (the caller frees it), or freed when out is NULL. */
void kt_expect(unsigned port, const char *method, const char *target, const char *auth,
               const char *ctype, const void *body, size_t len, long status, struct kt_resp *out);

/* Creates, through the gateway on port with auth (a "Authorization: Bearer ..." header), a user
 * loc of country cc ("DE", "AE", ...) with everything a review needs: the whole record, consent,
 * a passport and a selfie. A trigger then puts it in review. Asserts each answer. */
void kt_make_reviewable_user(unsigned port, const char *auth, const char *loc, const char *cc);

/* The value of a response header (case-insensitive), copied into out; false when absent. */
bool kt_header(const struct kt_resp *r, const char *name, char *out, size_t cap);

/* Sends raw bytes on a new connection and returns everything read until the peer closes or
 * timeout_ms passes (new string, caller frees). */
char *kt_raw(unsigned port, const char *bytes, size_t len, int timeout_ms);
/* kt_raw, and with shut the sending side is closed after the bytes (the peer reads EOF). */
char *kt_raw_shut(unsigned port, const char *bytes, size_t len, bool shut, int timeout_ms);

/* Monotonic milliseconds, for test deadlines. */
long long kt_now_ms(void);
/* Sleeps ms milliseconds (resumed after a signal). */
void kt_sleep_ms(long ms);

/* Reads a whole file (new, caller frees) and its length. */
char *kt_slurp(const char *path, size_t *len);

/* The simulator's recorded requests as a JSON array (caller puts), and clearing them. */
struct json_object *kt_sim_requests(unsigned sim_port);
/* How many requests the simulator saw with this method and target (path and query). */
int kt_sim_count(unsigned sim_port, const char *method, const char *target);
void kt_sim_clear(unsigned sim_port);

/* A string member of a JSON object, or NULL. */
const char *kt_str(struct json_object *o, const char *key);

/* Runs build/kycgate with argv (argv[0] ignored, NULL-terminated) to completion; its stdout and
 * stderr go into *out (new, caller frees). Returns the exit code, or -1. */
int kt_run(const char *const *argv, char **out);
/* n concurrent GETs of target on 127.0.0.1:port (one connection each, header may be NULL),
 * waited for together. out[i] gets status (0 when the transfer failed: the body is then curl's
 * reason, in parentheses), body and headers; free each with kt_resp_free. Raises the open-files
 * limit for large n. */
void kt_concurrent_get(unsigned port, const char *target, const char *header, int n,
                       struct kt_resp *out);

/* The value of the sample of a Prometheus page whose line starts with `sample ` (name and labels
 * exactly), or -1 when there is none. */
double kt_sample(const char *page, const char *sample);

/* Runs a Check suite in the usual mode and frees the runner; returns how many tests failed. */
int kt_run_suite(Suite *s);

#endif
