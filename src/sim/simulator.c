/* The built-in Crossmint simulator (design §7): lifecycle, the libmicrohttpd glue and the timer
 * that answers delayed requests.
 *
 * A request is read by the access handler (its body kept up to SIM_MAX_BODY_BYTES), then
 * sim_dispatch() prepares its answer. An answer with a delay suspends the connection and enters
 * a min-heap served by one timer thread, which resumes it when due; the access handler, called
 * again, queues the prepared answer. No thread is held per request. kg_sim_stop() answers every
 * delayed request with 503 and waits until none is suspended before MHD_stop_daemon(). */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "sim_internal.h"

#define STOP_FLUSH_MS 2000 /* how long kg_sim_stop waits for resumed answers to be sent */

/* The delayed request a timer of kg_sim.heap belongs to. */
#define REQ_OF(t) ((struct sim_req *)((char *)(t)-offsetof(struct sim_req, timer)))

/* ---- timer thread --------------------------------------------------------------------------- */

/* Pops every due request (all of them when stopping, answered 503) into a list. */
static struct sim_req *take_due(struct kg_sim *sim, unsigned long long now)
{
	struct sim_req *batch = NULL;
	struct kg_timer *top;

	while ((top = kg_timer_heap_top(&sim->heap)) != NULL &&
	       (sim->stopping || top->when <= now)) {
		struct sim_req *req = REQ_OF(kg_timer_heap_pop(&sim->heap));

		if (sim->stopping) {
			req->ans.location = req->ans.retry_after = req->ans.allow = NULL;
			sim_answer_error(&req->ans, 503, "Simulator stopping");
		}
		req->next = batch;
		batch = req;
	}
	return batch;
}

static void wait_for_work(struct kg_sim *sim)
{
	struct timespec ts;
	const struct kg_timer *top = kg_timer_heap_top(&sim->heap);
	unsigned long long now;
	unsigned long long wait_ms;

	if (top == NULL) {
		pthread_cond_wait(&sim->timer_cond, &sim->timer_lock);
		return;
	}
	now = kg_now_ms();
	wait_ms = top->when > now ? top->when - now : 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(wait_ms / 1000);
	ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L + 999999L; /* round up: wake when due */
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&sim->timer_cond, &sim->timer_lock, &ts);
}

static void *timer_main(void *arg)
{
	struct kg_sim *sim = arg;

	pthread_mutex_lock(&sim->timer_lock);
	while (!sim->timer_quit) {
		struct sim_req *batch = take_due(sim, kg_now_ms());

		if (batch == NULL) {
			wait_for_work(sim);
			continue;
		}
		pthread_mutex_unlock(&sim->timer_lock);
		while (batch != NULL) {
			struct sim_req *next = batch->next; /* batch may be freed once resumed */

			MHD_resume_connection(batch->conn);
			batch = next;
		}
		pthread_mutex_lock(&sim->timer_lock);
	}
	pthread_mutex_unlock(&sim->timer_lock);
	return NULL;
}

/* ---- libmicrohttpd glue --------------------------------------------------------------------- */

static size_t unescape_none(void *cls, struct MHD_Connection *conn, char *s)
{
	return strlen(s);
}

static enum MHD_Result queue_answer(struct sim_req *req)
{
	struct sim_answer *ans = &req->ans;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (ans->reset)
		return MHD_NO;
	if (ans->body != NULL)
		resp =
		    MHD_create_response_from_buffer_with_free_callback(ans->len, ans->body, free);
	else
		resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	ans->body = NULL; /* the response owns it now */
	ans->len = 0;
	if (ans->json)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (ans->location != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, ans->location);
	if (ans->retry_after != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ans->retry_after);
	if (ans->allow != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, ans->allow);
	ret = MHD_queue_response(req->conn, ans->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Suspends req until its delay has passed. Returns false when the answer must go now (the
 * simulator is stopping: the answer became a 503; or memory is short: no delay). */
static bool delay_begin(struct kg_sim *sim, struct sim_req *req)
{
	unsigned long long due;

	pthread_mutex_lock(&sim->timer_lock);
	if (sim->stopping) {
		req->ans.location = req->ans.retry_after = req->ans.allow = NULL;
		sim_answer_error(&req->ans, 503, "Simulator stopping");
	}
	if (sim->stopping || !kg_timer_heap_reserve(&sim->heap, sim->n_suspended + 1)) {
		pthread_mutex_unlock(&sim->timer_lock);
		return false;
	}
	sim->n_suspended++; /* before suspending: kg_sim_stop now waits for this request */
	sim->n_delayed_open++;
	req->delayed = req->suspended = req->open = true;
	due = kg_now_ms() + req->ans.delay_ms;
	pthread_mutex_unlock(&sim->timer_lock);

	MHD_suspend_connection(req->conn); /* never with timer_lock held: it is a leaf lock */

	pthread_mutex_lock(&sim->timer_lock);
	/* Room was reserved, so arming cannot fail. */
	kg_timer_heap_arm(&sim->heap, &req->timer, due);
	pthread_cond_signal(&sim->timer_cond);
	pthread_mutex_unlock(&sim->timer_lock);
	return true;
}

/* Drops req from the counts kg_sim_stop waits on: its suspension (once back in the access
 * handler or completed) and, when completed, the delayed request itself. */
static void delay_end(struct kg_sim *sim, struct sim_req *req, bool completed)
{
	pthread_mutex_lock(&sim->timer_lock);
	if (req->suspended) {
		req->suspended = false;
		sim->n_suspended--;
	}
	if (completed && req->open) {
		req->open = false;
		sim->n_delayed_open--;
	}
	if (sim->stopping)
		pthread_cond_broadcast(&sim->idle_cond);
	pthread_mutex_unlock(&sim->timer_lock);
}

static enum MHD_Result begin_request(struct kg_sim *sim, struct MHD_Connection *conn,
                                     const char *url, const char *method, void **con_cls)
{
	struct sim_req *req = calloc(1, sizeof(*req));

	if (req == NULL)
		return MHD_NO;
	req->sim = sim;
	req->conn = conn;
	kg_timer_init(&req->timer);
	kg_buf_init(&req->body, SIM_MAX_BODY_BYTES);
	req->url = url;
	req->method = method;
	*con_cls = req;
	return MHD_YES;
}

/* Keeps up to SIM_MAX_BODY_BYTES of the body; the rest is consumed and dropped. */
static void take_body(struct sim_req *req, const char *data, size_t size)
{
	if (req->body_too_large || size > SIM_MAX_BODY_BYTES - req->body.len) {
		req->body_too_large = true;
		return;
	}
	kg_buf_add(&req->body, data, size);
}

static enum MHD_Result finish_request(struct kg_sim *sim, struct sim_req *req)
{
	sim_dispatch(sim, req);
	if (req->ans.reset)
		return MHD_NO;
	if (req->ans.delay_ms > 0 && delay_begin(sim, req))
		return MHD_YES;
	return queue_answer(req);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
	struct kg_sim *sim = cls;
	struct sim_req *req = *con_cls;

	if (req == NULL)
		return begin_request(sim, conn, url, method, con_cls);
	if (req->delayed) {
		delay_end(sim, req, false); /* resumed by the timer */
		return queue_answer(req);
	}
	if (*upload_data_size != 0) {
		take_body(req, upload_data, *upload_data_size);
		*upload_data_size = 0; /* always consume, even a refused body */
		return MHD_YES;
	}
	return finish_request(sim, req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct kg_sim *sim = cls;
	struct sim_req *req = *con_cls;

	if (req == NULL)
		return;
	if (req->delayed)
		delay_end(sim, req, true);
	sim_answer_clear(&req->ans);
	kg_buf_cleanup(&req->body);
	free(req);
	*con_cls = NULL;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

static bool init_sync(struct kg_sim *sim)
{
	pthread_condattr_t attr;
	bool ok = false;

	if (pthread_condattr_init(&attr) != 0)
		return false;
	if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0)
		goto out;
	if (pthread_mutex_init(&sim->key_lock, NULL) != 0)
		goto out;
	if (pthread_mutex_init(&sim->timer_lock, NULL) != 0)
		goto fail_key;
	if (pthread_cond_init(&sim->timer_cond, &attr) != 0)
		goto fail_timer;
	if (pthread_cond_init(&sim->idle_cond, &attr) != 0)
		goto fail_cond;
	ok = true;
	goto out;
fail_cond:
	pthread_cond_destroy(&sim->timer_cond);
fail_timer:
	pthread_mutex_destroy(&sim->timer_lock);
fail_key:
	pthread_mutex_destroy(&sim->key_lock);
out:
	pthread_condattr_destroy(&attr);
	return ok;
}

/* Resolves host (NULL: 127.0.0.1) into addr with port, preferring IPv4. */
static bool resolve(const char *host, uint16_t port, struct sockaddr_storage *addr, bool *v6)
{
	struct addrinfo hints = {0};
	struct addrinfo *res = NULL;
	struct addrinfo *pick;
	struct addrinfo *ai;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if (getaddrinfo(host == NULL ? "127.0.0.1" : host, NULL, &hints, &res) != 0)
		return false;
	pick = res;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			pick = ai;
			break;
		}
	}
	if (pick == NULL || pick->ai_addrlen > sizeof(*addr)) {
		freeaddrinfo(res);
		return false;
	}
	memset(addr, 0, sizeof(*addr));
	memcpy(addr, pick->ai_addr, pick->ai_addrlen);
	*v6 = pick->ai_family == AF_INET6;
	if (*v6)
		((struct sockaddr_in6 *)addr)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)addr)->sin_port = htons(port);
	freeaddrinfo(res);
	return true;
}

static struct MHD_Daemon *start_daemon(struct kg_sim *sim, const struct kg_sim_opts *opts,
                                       const struct sockaddr_storage *addr, bool v6)
{
	unsigned threads = opts->threads == 0 ? SIM_DEFAULT_THREADS : opts->threads;
	unsigned limit =
	    opts->max_connections == 0 ? SIM_DEFAULT_CONNECTIONS : opts->max_connections;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME;

	if (v6)
		flags |= MHD_USE_IPv6;
	/* clang-format off */ /* one option per line */
	return MHD_start_daemon(flags, opts->port, NULL, NULL, on_access, sim,
				MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)addr,
				MHD_OPTION_THREAD_POOL_SIZE, threads,
				MHD_OPTION_CONNECTION_LIMIT, limit,
				MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16 * 1024),
				MHD_OPTION_UNESCAPE_CALLBACK, unescape_none, NULL,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, sim,
				MHD_OPTION_END);
	/* clang-format on */
}

/* Starts the timer thread and the daemon with every signal blocked in their threads. */
static bool start_threads(struct kg_sim *sim, const struct kg_sim_opts *opts, char *err,
                          size_t errcap)
{
	struct sockaddr_storage addr;
	sigset_t all;
	sigset_t old;
	bool v6 = false;
	bool ok = false;

	if (!resolve(opts->host, opts->port, &addr, &v6)) {
		snprintf(err, errcap, "cannot resolve the listen address");
		return false;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (pthread_create(&sim->timer_thread, NULL, timer_main, sim) != 0) {
		snprintf(err, errcap, "cannot start the timer thread");
		goto out;
	}
	sim->timer_started = true;
	sim->daemon = start_daemon(sim, opts, &addr, v6);
	if (sim->daemon == NULL) {
		snprintf(err, errcap, "cannot start the HTTP daemon (address in use or invalid?)");
		goto out;
	}
	ok = true;
out:
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ok;
}

/* Answers every delayed request (503), waits until none is suspended and, for a short while,
 * until their answers were sent. */
static void drain_delays(struct kg_sim *sim)
{
	struct timespec deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += STOP_FLUSH_MS / 1000;
	pthread_mutex_lock(&sim->timer_lock);
	sim->stopping = true;
	pthread_cond_signal(&sim->timer_cond);
	while (sim->n_suspended > 0)
		pthread_cond_wait(&sim->idle_cond, &sim->timer_lock);
	while (sim->n_delayed_open > 0 &&
	       pthread_cond_timedwait(&sim->idle_cond, &sim->timer_lock, &deadline) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&sim->timer_lock);
}

static void sim_free(struct kg_sim *sim)
{
	if (sim->timer_started) {
		pthread_mutex_lock(&sim->timer_lock);
		sim->timer_quit = true;
		pthread_cond_signal(&sim->timer_cond);
		pthread_mutex_unlock(&sim->timer_lock);
		pthread_join(sim->timer_thread, NULL);
	}
	sim_recorder_cleanup(&sim->recorder);
	if (sim->store_ready)
		sim_store_cleanup(&sim->store);
	if (sim->api_key != NULL)
		kg_wipe(sim->api_key, sim->api_key_len);
	free(sim->api_key);
	kg_timer_heap_cleanup(&sim->heap);
	pthread_cond_destroy(&sim->idle_cond);
	pthread_cond_destroy(&sim->timer_cond);
	pthread_mutex_destroy(&sim->timer_lock);
	pthread_mutex_destroy(&sim->key_lock);
	free(sim);
}

static bool check_opts(const struct kg_sim_opts *opts, char *err, size_t errcap)
{
	if (opts->threads > SIM_MAX_THREADS) {
		snprintf(err, errcap, "threads must be at most %u", SIM_MAX_THREADS);
		return false;
	}
	if (opts->n_edd_countries > SIM_MAX_EDD_COUNTRIES ||
	    (opts->n_edd_countries > 0 && opts->edd_countries == NULL)) {
		snprintf(err, errcap, "invalid EDD country list");
		return false;
	}
	return true;
}

struct kg_sim *kg_sim_start(const struct kg_sim_opts *opts, char *err, size_t errcap)
{
	static const struct kg_sim_opts defaults = {0};
	struct kg_sim *sim;
	const union MHD_DaemonInfo *info;

	if (opts == NULL)
		opts = &defaults;
	if (!check_opts(opts, err, errcap))
		return NULL;
	sim = calloc(1, sizeof(*sim));
	if (sim == NULL || !init_sync(sim)) {
		free(sim);
		snprintf(err, errcap, "out of memory");
		return NULL;
	}
	sim->store_ready = sim_store_init(&sim->store, opts->review_delay_ms, opts->edd_countries,
	                                  opts->n_edd_countries) == KG_OK;
	if (!sim->store_ready || sim_recorder_init(&sim->recorder) != KG_OK) {
		snprintf(err, errcap, "out of memory");
		goto fail;
	}
	kg_sim_set_api_key(sim, opts->api_key);
	if (opts->api_key != NULL && opts->api_key[0] != '\0' && sim->api_key == NULL) {
		snprintf(err, errcap, "out of memory");
		goto fail;
	}
	if (!start_threads(sim, opts, err, errcap))
		goto fail;
	info = MHD_get_daemon_info(sim->daemon, MHD_DAEMON_INFO_BIND_PORT);
	sim->port = info == NULL ? opts->port : info->port;
	return sim;
fail:
	kg_sim_stop(sim);
	return NULL;
}

uint16_t kg_sim_port(const struct kg_sim *sim)
{
	return sim == NULL ? 0 : sim->port;
}

void kg_sim_set_api_key(struct kg_sim *sim, const char *api_key)
{
	char *copy = NULL;
	char *old;
	size_t old_len;

	if (api_key != NULL && api_key[0] != '\0') {
		copy = strdup(api_key);
		if (copy == NULL)
			return; /* keep the old key rather than accept any */
	}
	pthread_mutex_lock(&sim->key_lock);
	old = sim->api_key;
	old_len = sim->api_key_len;
	sim->api_key = copy;
	sim->api_key_len = copy == NULL ? 0 : strlen(copy);
	pthread_mutex_unlock(&sim->key_lock);
	if (old != NULL)
		kg_wipe(old, old_len);
	free(old);
}

void kg_sim_set_behaviour(struct kg_sim *sim, unsigned review_delay_ms,
                          const char (*edd_countries)[3], size_t n_edd_countries)
{
	if (n_edd_countries > 0 && edd_countries == NULL)
		n_edd_countries = 0;
	sim_store_set_behaviour(&sim->store, review_delay_ms, edd_countries, n_edd_countries);
}

void kg_sim_stop(struct kg_sim *sim)
{
	if (sim == NULL)
		return;
	if (sim->daemon != NULL) {
		drain_delays(sim);
		MHD_stop_daemon(sim->daemon);
		sim->daemon = NULL;
	}
	sim_free(sim);
}
