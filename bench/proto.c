/* A measuring stick, not a gateway: kycgate's request path in its barest form, in three designs, to
 * learn what each costs on this machine (bench/run.sh runs all three in the fast workload). It
 * checks the bearer token, forwards GET /v1/users/{locator}/verification to the upstream's
 * identity-verification with the key, and relays status and body: no validation, limits,
 * logging, metrics, cache or single flight.
 * - engine: kycgate's design today (design §8): a libmicrohttpd thread pool suspends each
 *   request and hands it over through a queue (an eventfd written when it goes from empty to
 *   non-empty) to one engine thread that runs curl's multi handle and resumes the request.
 * - loop: README "What 0.6x needs": each of THREADS threads runs its own libmicrohttpd daemon
 *   in external epoll mode (all bound to one port with SO_REUSEPORT) and its own curl multi
 *   handle in one epoll loop, so a request never leaves the thread that read it.
 * - shared: the loop threads of `loop`, each with its own daemon, but ONE curl multi handle for
 *   all, under one mutex, and no engine thread: whichever loop thread holds the mutex drives
 *   curl for everyone (admits the calls the others queued, runs curl's socket events and timer,
 *   hands each finished call back to its own thread). It asks what kycgate would get from loop
 *   threads taking turns on today's single engine state (upstream.c's run_lock) instead of one
 *   engine per thread (README "Loop threads sharing one engine": the engine's throughput, not
 *   the loop's). See shared_drive for how nothing is stranded.
 *   proto PORT UPSTREAM_BASE_URL API_KEY TOKEN THREADS engine|loop|shared
 * Build: cc -O2 -o proto bench/proto.c -lmicrohttpd -lcurl -lpthread */
#define _GNU_SOURCE
#include <microhttpd.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#define MAX_THREADS 16
#define MAX_BODY (64 * 1024)

struct loop {
	struct MHD_Daemon *d;
	int mhd_fd;
	int ep;
	CURLM *multi;
	long curl_deadline_ms; /* -1: none */
	CURL *pool[256];
	int n_pool;
	bool queued; /* shared: this thread queued a call since its last turn on the curl state */
	/* shared: a turn that saw calls of this loop end pushes them on `done` and sets `resumed`;
	 * the loop's own thread then resumes them. It is woken through wake_fd: libmicrohttpd
	 * 0.9.75 has no inter-thread channel in external epoll mode, so even a resume from another
	 * thread would wake nobody until the daemon's next timeout. */
	bool resumed;
	int wake_fd;
	bool run_mhd; /* shared: calls of this thread ended in its own turn, since its MHD_run */
	struct req *done;
};

struct req {
	struct MHD_Connection *conn;
	CURL *easy;
	long status;
	size_t len;
	char body[MAX_BODY];
	int state; /* 0 head, 1 in curl, 2 answer ready */
	char target[1024];
	struct req *next;   /* engine, shared: the hand-over queue */
	struct loop *owner; /* the loop whose daemon holds the connection */
	CURLcode result;    /* shared: how the transfer ended */
};

static const char *base, *key_header, *token;
static struct curl_slist *headers;
static unsigned short port;
static int engine_mode, shared_mode;

/* engine mode: the one engine and its hand-over queue */
static struct loop engine;
static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static struct req *q_head, *q_tail;
static int wake_fd;

/* shared mode: the one curl state (multi handle, the epoll set of curl's sockets) that the loop
 * threads take turns on, and the work waiting for whoever holds it next.
 * sh_queue is pushed without the lock so a request thread never waits for another's turn. */
static struct loop shared, loops[MAX_THREADS];
static int n_loops;
static pthread_mutex_t sh_lock = PTHREAD_MUTEX_INITIALIZER;
static struct req *sh_queue;
static bool sh_ready; /* curl's epoll set reported readable and nobody has drained it yet */

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t on_data(char *p, size_t size, size_t n, void *userp)
{
	struct req *r = userp;

	n *= size;
	if (r->len + n > sizeof(r->body))
		return 0;
	memcpy(r->body + r->len, p, n);
	r->len += n;
	return n;
}

static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *sockp)
{
	struct loop *l = userp;
	struct epoll_event ev = {.data.fd = fd};

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
		curl_multi_assign(l->multi, fd, NULL);
		return 0;
	}
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	if (sockp == NULL) {
		epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev);
		curl_multi_assign(l->multi, fd, l);
	} else {
		epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev);
	}
	return 0;
}

static int on_timer(CURLM *m, long ms, void *userp)
{
	struct loop *l = userp;

	(void)m;
	/* atomic: in shared mode loop threads read it, without the lock, for their epoll timeout */
	__atomic_store_n(&l->curl_deadline_ms, ms < 0 ? -1 : now_ms() + ms, __ATOMIC_RELAXED);
	return 0;
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *body,
                              size_t len)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ok;

	MHD_add_response_header(resp, "Content-Type", "application/json");
	ok = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ok;
}

static void prepare(struct loop *l, struct req *r);
static void start(struct loop *l, struct req *r);
static void push(struct req **stack, struct req *r);

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **ctx)
{
	struct loop *l = cls;
	struct req *r = *ctx;
	const char *auth, *id, *end;

	(void)method;
	(void)version;
	(void)upload;
	if (r == NULL) {
		r = calloc(1, sizeof(*r));
		r->conn = c;
		r->owner = l;
		*ctx = r;
		return MHD_YES;
	}
	if (*upload_size != 0) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->state == 2)
		return answer(c, (unsigned)r->status, r->body, r->len);
	auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0 || strcmp(auth + 7, token) != 0)
		return answer(c, 401, "{}", 2);
	if (strncmp(url, "/v1/users/", 10) != 0 || (end = strchr(url + 10, '/')) == NULL ||
	    strcmp(end, "/verification") != 0)
		return answer(c, 404, "{}", 2);
	id = url + 10;
	snprintf(r->target, sizeof(r->target), "%s/2025-06-09/users/%.*s/identity-verification",
	         base, (int)(end - id), id);
	r->state = 1;
	MHD_suspend_connection(c);
	if (shared_mode) {
		prepare(l, r); /* outside the lock: only curl's multi needs it */
		push(&sh_queue, r);
		l->queued = true;
		return MHD_YES;
	}
	if (engine_mode) {
		bool wake;

		pthread_mutex_lock(&q_lock);
		wake = q_head == NULL;
		if (q_tail != NULL)
			q_tail->next = r;
		else
			q_head = r;
		q_tail = r;
		pthread_mutex_unlock(&q_lock);
		if (wake) {
			uint64_t one = 1;

			if (write(wake_fd, &one, sizeof(one)) < 0)
				perror("eventfd");
		}
		return MHD_YES;
	}
	start(l, r);
	return MHD_YES;
}

static void prepare(struct loop *l, struct req *r)
{
	r->easy = l->n_pool > 0 ? l->pool[--l->n_pool] : curl_easy_init();
	curl_easy_reset(r->easy);
	curl_easy_setopt(r->easy, CURLOPT_URL, r->target);
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_PROXY, "");
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, 10000L);
}

static void start(struct loop *l, struct req *r)
{
	prepare(l, r);
	curl_multi_add_handle(l->multi, r->easy);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **ctx,
                         enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	free(*ctx);
	*ctx = NULL;
}

static void reap(struct loop *l)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(l->multi, &left)) != NULL) {
		struct req *r;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		if (shared_mode) { /* the rest is the owner's (finish_done), outside the lock */
			r->result = m->data.result;
			curl_multi_remove_handle(l->multi, m->easy_handle);
			push(&r->owner->done, r);
			__atomic_store_n(&r->owner->resumed, true, __ATOMIC_RELEASE);
			continue;
		}
		r->status = 502;
		if (m->data.result == CURLE_OK)
			curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &r->status);
		curl_multi_remove_handle(l->multi, m->easy_handle);
		if (l->n_pool < (int)(sizeof(l->pool) / sizeof(l->pool[0])))
			l->pool[l->n_pool++] = m->easy_handle;
		else
			curl_easy_cleanup(m->easy_handle);
		r->easy = NULL;
		r->state = 2;
		MHD_resume_connection(r->conn);
	}
}

static void multi_init(struct loop *l)
{
	l->ep = epoll_create1(0);
	l->multi = curl_multi_init();
	l->curl_deadline_ms = -1;
	curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l);
	curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l);
	curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, 64L);
}

/* curl's socket events and its timer, then the transfers that ended. */
static void curl_events(struct loop *l, const struct epoll_event *evs, int n, int skip_fd)
{
	int running, i;

	for (i = 0; i < n; i++) {
		int fd = evs[i].data.fd, mask = 0;

		if (fd == skip_fd)
			continue;
		mask |= evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0;
		mask |= evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0;
		mask |= evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0;
		curl_multi_socket_action(l->multi, fd, mask, &running);
	}
	if (l->curl_deadline_ms >= 0 && now_ms() >= l->curl_deadline_ms) {
		__atomic_store_n(&l->curl_deadline_ms, -1, __ATOMIC_RELAXED);
		curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	reap(l);
}

static void *engine_main(void *arg)
{
	struct loop *l = arg;
	struct epoll_event evs[64], ev = {.events = EPOLLIN};
	int n, i;

	pthread_setname_np(pthread_self(), "proto-engine");
	ev.data.fd = wake_fd;
	epoll_ctl(l->ep, EPOLL_CTL_ADD, wake_fd, &ev);
	for (;;) {
		long now = now_ms(), to = -1;

		if (l->curl_deadline_ms >= 0)
			to = l->curl_deadline_ms > now ? l->curl_deadline_ms - now : 0;
		n = epoll_wait(l->ep, evs, 64, (int)to);
		for (i = 0; i < n; i++) {
			if (evs[i].data.fd == wake_fd) {
				struct req *r, *next;
				uint64_t v;

				if (read(wake_fd, &v, sizeof(v)) < 0)
					continue;
				pthread_mutex_lock(&q_lock);
				r = q_head;
				q_head = q_tail = NULL;
				pthread_mutex_unlock(&q_lock);
				for (; r != NULL; r = next) {
					next = r->next;
					r->next = NULL;
					start(l, r);
				}
			}
		}
		curl_events(l, evs, n, wake_fd);
	}
	return NULL;
}

/* A daemon of one loop thread: external epoll mode, all of them on one port (SO_REUSEPORT). */
static void loop_daemon(struct loop *l)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l->d = MHD_start_daemon(
	    MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO, port, NULL, NULL, on_access,
	    l, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384, MHD_OPTION_CONNECTION_LIMIT, 4096u,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
	    MHD_OPTION_END);
	if (l->d == NULL) {
		fprintf(stderr, "cannot start a daemon on port %u\n", port);
		exit(1);
	}
	l->mhd_fd = MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_EPOLL_FD)->epoll_fd;
}

/* The epoll timeout that wakes a loop thread for its daemon's timeout or curl's deadline. */
static int loop_timeout(struct loop *l, const struct loop *curl)
{
	MHD_UNSIGNED_LONG_LONG mhd_to;
	long to = -1, now = now_ms();
	long deadline = __atomic_load_n(&curl->curl_deadline_ms, __ATOMIC_RELAXED);

	if (MHD_get_timeout(l->d, &mhd_to) == MHD_YES)
		to = (long)mhd_to;
	if (deadline >= 0 && (to < 0 || deadline - now < to))
		to = deadline > now ? deadline - now : 0;
	return (int)to;
}

static void *loop_main(void *arg)
{
	struct loop *l = arg;
	struct epoll_event evs[64], ev = {.events = EPOLLIN};
	int n;

	multi_init(l);
	loop_daemon(l);
	ev.data.fd = l->mhd_fd;
	epoll_ctl(l->ep, EPOLL_CTL_ADD, l->mhd_fd, &ev);
	for (;;) {
		n = epoll_wait(l->ep, evs, 64, loop_timeout(l, l));
		curl_events(l, evs, n, l->mhd_fd);
		MHD_run(l->d); /* new requests, and the answers just resumed */
	}
	return NULL;
}

/* A lock-free stack: the admission queue, and each loop's finished calls. */
static void push(struct req **stack, struct req *r)
{
	struct req *head = __atomic_load_n(stack, __ATOMIC_RELAXED);

	do
		r->next = head;
	while (!__atomic_compare_exchange_n(stack, &head, r, true, __ATOMIC_SEQ_CST,
	                                    __ATOMIC_RELAXED));
}

/* Oldest first: a stack pops newest first. */
static struct req *take_all(struct req **stack)
{
	struct req *r = __atomic_exchange_n(stack, NULL, __ATOMIC_ACQUIRE), *fifo = NULL, *next;

	for (; r != NULL; r = next) {
		next = r->next;
		r->next = fifo;
		fifo = r;
	}
	return fifo;
}

/* Under sh_lock: the queued calls, set up by their own threads, join the multi handle. */
static void admit_queued(void)
{
	struct req *r, *next;

	for (r = take_all(&sh_queue); r != NULL; r = next) {
		next = r->next;
		r->next = NULL;
		curl_multi_add_handle(shared.multi, r->easy);
	}
}

/* On the owner's thread, outside the lock: its calls that ended, answered (MHD_run sends). */
static void finish_done(struct loop *l)
{
	struct req *r, *next;

	for (r = take_all(&l->done); r != NULL; r = next) {
		next = r->next;
		r->next = NULL;
		r->status = 502;
		if (r->result == CURLE_OK)
			curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
		if (l->n_pool < (int)(sizeof(l->pool) / sizeof(l->pool[0])))
			l->pool[l->n_pool++] = r->easy;
		else
			curl_easy_cleanup(r->easy);
		r->easy = NULL;
		r->state = 2;
		MHD_resume_connection(r->conn);
	}
}

/* Under sh_lock: one turn on the shared curl state. The calls just admitted are sent in the
 * same turn (curl_multi_add_handle asks for a timeout of 0, which curl_events runs). */
static void shared_turn(void)
{
	struct epoll_event evs[64];
	int n = 0;

	admit_queued();
	if (!__atomic_exchange_n(&sh_ready, false, __ATOMIC_ACQUIRE)) {
		curl_events(&shared, evs, 0, -1);
		return;
	}
	do {
		n = epoll_wait(shared.ep, evs, 64, 0);
		curl_events(&shared, evs, n < 0 ? 0 : n, -1);
	} while (n == 64);
}

/* After a turn, outside the lock: one wake for each loop whose calls the turn saw end.
 * Whoever clears a `resumed` flag delivers its wake, so a turn running meanwhile on another
 * thread loses none. */
static void wake_owners(struct loop *self)
{
	uint64_t one = 1;
	int i;

	for (i = 0; i < n_loops; i++) {
		if (!__atomic_exchange_n(&loops[i].resumed, false, __ATOMIC_ACQ_REL))
			continue;
		if (&loops[i] == self)
			self->run_mhd = true;
		else if (write(loops[i].wake_fd, &one, sizeof(one)) < 0)
			perror("eventfd");
	}
}

/* curl's epoll set, nested in a loop thread's own, one-shot: it fires once, then stays quiet in
 * that thread until the thread has taken a turn (re-armed here). A thread that found the lock
 * taken thus sleeps on its own connections instead of waking at every one of curl's socket
 * events while the holder reads them (edge-triggered, that was 230k failed trylocks a second
 * at 39k requests a second). The last thread to take a turn is always armed, and a re-arm
 * reports what became ready meanwhile, so no event is lost. */
static void arm_curl_set(struct loop *l, int op)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.fd = shared.ep};

	epoll_ctl(l->ep, op, shared.ep, &ev);
}

/* Takes turns on the shared curl state while there is work for it and nobody else holds it.
 * Never waits for the lock (a loop thread waiting would leave its own connections idle): work
 * is published first (a queued call, sh_ready) and the lock tried after, while a holder unlocks
 * first and looks for work after, both with full barriers; so either the trylock succeeds or
 * the holder sees the work and takes another turn. Nothing is stranded. */
static void shared_drive(struct loop *self)
{
	bool turned = false;

	self->queued = false;
	while (pthread_mutex_trylock(&sh_lock) == 0) {
		turned = true;
		shared_turn();
		pthread_mutex_unlock(&sh_lock);
		wake_owners(self);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (__atomic_load_n(&sh_queue, __ATOMIC_RELAXED) == NULL &&
		    !__atomic_load_n(&sh_ready, __ATOMIC_RELAXED))
			break;
	}
	if (turned)
		arm_curl_set(self, EPOLL_CTL_MOD);
}

/* A loop thread of the shared design: its daemon, its finished calls, and turns on curl. */
static void *shared_main(void *arg)
{
	struct loop *l = arg;
	struct epoll_event evs[64], ev = {.events = EPOLLIN};
	int n, i;

	l->ep = epoll_create1(0);
	loop_daemon(l);
	ev.data.fd = l->mhd_fd;
	epoll_ctl(l->ep, EPOLL_CTL_ADD, l->mhd_fd, &ev);
	ev.data.fd = l->wake_fd;
	epoll_ctl(l->ep, EPOLL_CTL_ADD, l->wake_fd, &ev);
	arm_curl_set(l, EPOLL_CTL_ADD);
	for (;;) {
		long deadline;
		bool due;

		n = epoll_wait(l->ep, evs, 64, l->run_mhd ? 0 : loop_timeout(l, &shared));
		for (i = 0; i < n; i++) {
			uint64_t v;

			if (evs[i].data.fd == shared.ep)
				__atomic_store_n(&sh_ready, true, __ATOMIC_SEQ_CST);
			else if (evs[i].data.fd == l->wake_fd &&
			         read(l->wake_fd, &v, sizeof(v)) < 0)
				perror("eventfd");
		}
		deadline = __atomic_load_n(&shared.curl_deadline_ms, __ATOMIC_RELAXED);
		due = deadline >= 0 && now_ms() >= deadline;
		/* finished calls first, so MHD_run sends their answers */
		if (due || __atomic_load_n(&sh_ready, __ATOMIC_RELAXED))
			shared_drive(l);
		l->run_mhd = false;
		finish_done(l);
		MHD_run(l->d);
		/* the calls of the requests just read are sent now, not after another epoll_wait;
		 * one of ours that ends in this turn sets run_mhd, and the next epoll_wait does not
		 * sleep */
		if (l->queued)
			shared_drive(l);
	}
	return NULL;
}

static struct MHD_Daemon *engine_daemon(int threads)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return MHD_start_daemon(
	    MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO, port, NULL,
	    NULL, on_access, &engine, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_THREAD_POOL_SIZE,
	    (unsigned)threads, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
	    MHD_OPTION_CONNECTION_LIMIT, 4096u, MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
}

int main(int argc, char **argv)
{
	pthread_t th[MAX_THREADS];
	int threads = argc > 6 ? (int)strtol(argv[5], NULL, 10) : 0, i;
	char *kh;

	if (argc != 7 || threads < 1 || threads > MAX_THREADS ||
	    (strcmp(argv[6], "engine") != 0 && strcmp(argv[6], "loop") != 0 &&
	     strcmp(argv[6], "shared") != 0)) {
		fprintf(stderr, "usage: proto PORT UPSTREAM_BASE_URL API_KEY TOKEN THREADS "
		                "engine|loop|shared\n");
		return 2;
	}
	engine_mode = strcmp(argv[6], "engine") == 0;
	shared_mode = strcmp(argv[6], "shared") == 0;
	port = (unsigned short)strtol(argv[1], NULL, 10);
	base = argv[2];
	token = argv[4];
	kh = malloc(strlen(argv[3]) + 16);
	snprintf(kh, strlen(argv[3]) + 16, "X-API-KEY: %s", argv[3]);
	key_header = kh;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	headers = curl_slist_append(NULL, key_header);
	headers = curl_slist_append(headers, "Accept: application/json");
	if (engine_mode) {
		wake_fd = eventfd(0, EFD_NONBLOCK);
		multi_init(&engine);
		if (engine_daemon(threads) == NULL) {
			fprintf(stderr, "cannot start the daemon on port %u\n", port);
			return 1;
		}
		pthread_create(&th[0], NULL, engine_main, &engine);
		threads = 1;
	} else if (shared_mode) {
		multi_init(&shared);
		n_loops = threads;
		for (i = 0; i < threads; i++)
			loops[i].wake_fd = eventfd(0, EFD_NONBLOCK);
		for (i = 0; i < threads; i++)
			pthread_create(&th[i], NULL, shared_main, &loops[i]);
	} else {
		for (i = 0; i < threads; i++)
			pthread_create(&th[i], NULL, loop_main, &loops[i]);
	}
	printf("proto (%s) listening on 127.0.0.1:%u\n", argv[6], port);
	fflush(stdout);
	for (i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	return 0;
}
