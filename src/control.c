/* The main loop: signals, the file watch and its debounce, reloads, and the shutdown sequence.
 * Nothing here runs on a request thread, and no signal handler exists: signals arrive as reads
 * of a signalfd (design §8). */
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "kycgate/apply.h"
#include "kycgate/config.h"
#include "kycgate/control.h"
#include "kycgate/log.h"
#include "kycgate/metrics.h"
#include "kycgate/runtime.h"
#include "kycgate/server.h"

#define DEBOUNCE_MS 250
#define GRACE_TICK_MS 50
#define MAX_WATCHED 64

enum phase { RUNNING = 0, DRAINING, GRACE, DONE };

struct kg_control {
	const char *path;
	struct kg_gateway *gw;
	int ep, sfd, ino, debounce, phase_timer;
	enum phase phase;
	unsigned long long grace_deadline_ms;
	int wds[MAX_WATCHED];
	size_t n_wds;
	char *names[MAX_WATCHED]; /* base names of the watched files */
	size_t n_names;
};

static void arm(int tfd, unsigned long long ms, bool periodic)
{
	struct itimerspec its = {0};

	its.it_value.tv_sec = (time_t)(ms / 1000);
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1; /* 0 would disarm */
	if (periodic)
		its.it_interval = its.it_value;
	timerfd_settime(tfd, 0, &its, NULL);
}

/* ---- the file watch ------------------------------------------------------------------------ */

static void watch_file(struct kg_control *c, const char *file)
{
	char *d = NULL, *b = NULL;
	size_t i;
	int wd;

	if (file == NULL || file[0] == '\0' || c->n_wds == MAX_WATCHED || c->n_names == MAX_WATCHED)
		return;
	d = strdup(file);
	b = strdup(file);
	if (d == NULL || b == NULL)
		goto out;
	/* Watching a directory again returns its existing watch: no event is lost. */
	wd = inotify_add_watch(c->ino, dirname(d),
	                       IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_ATTRIB);
	for (i = 0; wd >= 0 && i < c->n_wds && c->wds[i] != wd; i++)
		;
	if (wd >= 0 && i == c->n_wds)
		c->wds[c->n_wds++] = wd;
	c->names[c->n_names++] = strdup(basename(b));
out:
	free(d);
	free(b);
}

static void forget_names(struct kg_control *c)
{
	size_t i;

	for (i = 0; i < c->n_names; i++)
		free(c->names[i]);
	c->n_names = 0;
}

static void unwatch_all(struct kg_control *c)
{
	size_t i;

	for (i = 0; i < c->n_wds; i++)
		inotify_rm_watch(c->ino, c->wds[i]);
	c->n_wds = 0;
	forget_names(c);
}

/* The config file and every secret file it names; their directories, so an editor's rename or
 * a Kubernetes ConfigMap / Secret symlink swap is seen. Directories no longer named stay watched
 * until exit (harmless: only the names below count). */
static void rewatch(struct kg_control *c)
{
	struct kg_cfgref *ref = kg_runtime_get();
	const struct kg_config *cfg = kg_runtime_cfg(ref);
	size_t i;

	forget_names(c);
	watch_file(c, c->path);
	watch_file(c, cfg->crossmint.api_key_file);
	watch_file(c, cfg->log.locator_hash_key_file);
	for (i = 0; i < cfg->auth.n_clients; i++)
		watch_file(c, cfg->auth.clients[i].token_file);
	for (i = 0; i < cfg->events.n_webhooks; i++) /* a rotated webhook secret */
		watch_file(c, cfg->events.webhooks[i].secret_file);
	kg_runtime_put(ref);
}

/* True when an event names a watched file, or a Kubernetes "..data" swap. */
static bool relevant(const struct kg_control *c, const struct inotify_event *ev)
{
	size_t i;

	if (ev->mask & IN_Q_OVERFLOW)
		return true;
	if (ev->len == 0)
		return false;
	if (strncmp(ev->name, "..data", 6) == 0)
		return true;
	for (i = 0; i < c->n_names; i++)
		if (c->names[i] != NULL && strcmp(ev->name, c->names[i]) == 0)
			return true;
	return false;
}

static void on_inotify(struct kg_control *c)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	bool hit = false;

	while ((n = read(c->ino, buf, sizeof(buf))) > 0) {
		char *p = buf;

		while (p < buf + n) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			hit |= relevant(c, ev);
			p += sizeof(*ev) + ev->len;
		}
	}
	if (hit)
		arm(c->debounce, DEBOUNCE_MS, false);
}

/* ---- reload ---------------------------------------------------------------------------------- */

/* Logs every error of a failed load, one line each (errors never hold a secret value). */
static void log_errors(char *errors)
{
	char *line = errors, *end;

	while (line != NULL && *line != '\0') {
		end = strchr(line, '\n');
		if (end != NULL)
			*end = '\0';
		kg_log(KG_LOG_ERROR, "config-reload-failed", "error", line, NULL);
		line = end ? end + 1 : NULL;
	}
}

/* Loads the file and puts it in force as at start (kg_apply_config); a failure changes nothing. */
static void reload(struct kg_control *c, const char *trigger)
{
	struct kg_config *cfg = NULL;
	char *errors = NULL, err[256];

	if (kg_config_load(c->path, &cfg, &errors) != KG_OK) {
		log_errors(errors ? errors : (char[]){"invalid configuration"});
		free(errors);
		kg_metrics_config_reload(false, (double)time(NULL));
		return;
	}
	if (kg_apply_config(cfg, c->gw, err, sizeof(err)) != KG_OK) {
		kg_log(KG_LOG_ERROR, "config-reload-failed", "error", err, NULL);
		kg_metrics_config_reload(false, (double)time(NULL));
		return;
	}
	kg_metrics_config_reload(true, (double)time(NULL));
	kg_log(KG_LOG_INFO, "config-reloaded", "trigger", trigger, NULL);
	rewatch(c);
}

/* ---- shutdown -------------------------------------------------------------------------------- */

static void begin_shutdown(struct kg_control *c)
{
	struct kg_cfgref *ref = kg_runtime_get();
	unsigned drain_s = kg_runtime_cfg(ref)->server.drain_delay_s;

	kg_runtime_put(ref);
	if (c->phase != RUNNING) {
		/* A second signal skips the rest of the drain delay. */
		if (c->phase == DRAINING)
			arm(c->phase_timer, 0, false);
		return;
	}
	c->phase = DRAINING;
	kg_gateway_drain(c->gw);
	kg_log(KG_LOG_INFO, "draining", "detail", "readiness is 503; still serving", NULL);
	arm(c->phase_timer, 1000ull * drain_s, false);
}

static void on_phase_timer(struct kg_control *c)
{
	struct kg_cfgref *ref;
	uint64_t v;
	ssize_t r = read(c->phase_timer, &v, sizeof(v));

	(void)r;
	if (c->phase == DRAINING) {
		ref = kg_runtime_get();
		c->grace_deadline_ms =
		    kg_now_ms() + 1000ull * kg_runtime_cfg(ref)->server.shutdown_grace_s;
		kg_runtime_put(ref);
		kg_gateway_quiesce(c->gw);
		kg_log(KG_LOG_INFO, "quiesced", "detail",
		       "no longer accepting; waiting long-polls answered; letting calls finish",
		       NULL);
		c->phase = GRACE;
		arm(c->phase_timer, GRACE_TICK_MS, true);
		return;
	}
	if (c->phase == GRACE && (kg_gateway_idle(c->gw) || kg_now_ms() >= c->grace_deadline_ms))
		c->phase = DONE;
}

/* ---- the loop -------------------------------------------------------------------------------- */

static void on_signal(struct kg_control *c)
{
	struct signalfd_siginfo si;

	while (read(c->sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			reload(c, "SIGHUP");
		else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			begin_shutdown(c);
	}
}

static bool add(int ep, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};

	return fd >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0;
}

struct kg_control *kg_control_new(const char *path, struct kg_gateway *gw, int sfd)
{
	struct kg_control *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->path = path;
	c->gw = gw;
	c->sfd = sfd;
	c->ep = epoll_create1(EPOLL_CLOEXEC);
	c->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	c->debounce = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	c->phase_timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (!add(c->ep, sfd) || !add(c->ep, c->ino) || !add(c->ep, c->debounce) ||
	    !add(c->ep, c->phase_timer)) {
		kg_control_free(c);
		return NULL;
	}
	rewatch(c);
	return c;
}

void kg_control_run(struct kg_control *ctl)
{
	struct kg_control *c = ctl;
	struct epoll_event evs[8];
	uint64_t v;
	int n, i;

	while (c->phase != DONE) {
		n = epoll_wait(c->ep, evs, 8, -1);
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == c->sfd) {
				on_signal(c);
			} else if (fd == c->ino) {
				on_inotify(c);
			} else if (fd == c->debounce) {
				if (read(c->debounce, &v, sizeof(v)) == sizeof(v) &&
				    c->phase == RUNNING)
					reload(c, "file-change");
			} else if (fd == c->phase_timer) {
				on_phase_timer(c);
			}
		}
	}
}

void kg_control_free(struct kg_control *ctl)
{
	struct kg_control *c = ctl;

	if (c == NULL)
		return;
	unwatch_all(c);
	if (c->ep >= 0)
		close(c->ep);
	if (c->ino >= 0)
		close(c->ino);
	if (c->debounce >= 0)
		close(c->debounce);
	if (c->phase_timer >= 0)
		close(c->phase_timer);
	free(c);
}
