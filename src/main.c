/* kycgate's entry point: the command line (design §1), start-up checks, and the main loop that
 * owns signals. Everything else lives in the core library. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include <malloc.h>

#include <curl/curl.h>

#include "kycgate/apply.h"
#include "kycgate/config.h"
#include "kycgate/control.h"
#include "kycgate/log.h"
#include "kycgate/metrics.h"
#include "kycgate/runtime.h"
#include "kycgate/server.h"
#include "kycgate/simulator.h"

#define DEFAULT_CONFIG "/etc/kycgate/kycgate.yaml"
#define PROBE_TIMEOUT_MS 5000L

static const char usage[] =
    "usage: kycgate [--config FILE]         run the gateway (default $KYCGATE_CONFIG or\n"
    "                                       " DEFAULT_CONFIG ")\n"
    "       kycgate --check-config FILE     validate a config file; exit 0 when valid\n"
    "       kycgate --probe URL             GET URL; exit 0 on a 2xx answer\n"
    "       kycgate simulator --listen HOST:PORT [--api-key KEY] [--review-delay-ms N]\n"
    "                                       run the Crossmint simulator alone\n"
    "       kycgate --version | --help\n";

static size_t discard(char *p, size_t size, size_t n, void *u)
{
	return size * n;
}

/* --probe: the container HEALTHCHECK (no curl binary in the image). */
static int probe(const char *url)
{
	CURL *c = curl_easy_init();
	long status = 0;
	CURLcode rc;

	if (c == NULL)
		return 1;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, PROBE_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	/* A liveness probe of this host's own listener: with server.tls its certificate names the
	 * service, not 127.0.0.1, so loopback is probed without verification. */
	if (strncmp(url, "https://127.", 12) == 0 || strncmp(url, "https://localhost", 17) == 0 ||
	    strncmp(url, "https://[::1]", 13) == 0) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return rc == CURLE_OK && status >= 200 && status < 300 ? 0 : 1;
}

static int check_config(const char *path)
{
	struct kg_config *cfg = NULL;
	char *errors = NULL;
	enum kg_err e = kg_config_load(path, &cfg, &errors);

	if (e != KG_OK) {
		fputs(errors ? errors : "invalid configuration\n", stderr);
		free(errors);
		return 1;
	}
	kg_config_free(cfg);
	printf("%s: valid\n", path);
	return 0;
}

/* Raises the soft open-files limit to the hard one; refuses when the connections and upstream
 * calls the config allows cannot fit (design §4). */
static bool raise_fd_limit(const struct kg_config *cfg)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)cfg->server.max_connections + cfg->crossmint.max_inflight + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return false;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		kg_log(
		    KG_LOG_ERROR, "start-refused", "reason",
		    "server.max_connections + crossmint.max_inflight + 64 exceeds the open-files "
		    "limit",
		    NULL);
		return false;
	}
	return true;
}

/* Blocks every signal in this thread and the threads it starts; returns a signalfd. */
static int signals_setup(void)
{
	sigset_t all, mine;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	sigemptyset(&mine);
	sigaddset(&mine, SIGTERM);
	sigaddset(&mine, SIGINT);
	sigaddset(&mine, SIGHUP);
	return signalfd(-1, &mine, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* Logs where the gateway listens (and serves metrics, when on their own listener). */
static void log_listening(struct kg_gateway *gw)
{
	struct kg_cfgref *ref = kg_runtime_get();
	char addr[300], port[8];

	snprintf(port, sizeof(port), "%u", kg_gateway_port(gw));
	snprintf(addr, sizeof(addr), "%s", kg_runtime_cfg(ref)->server.listen_host);
	kg_log(KG_LOG_INFO, "listening", "host", addr, "port", port, "environment",
	       kg_env_name(kg_runtime_cfg(ref)->crossmint.environment), "version", KG_VERSION,
	       NULL);
	kg_runtime_put(ref);
	if (kg_gateway_metrics_port(gw) != 0) {
		snprintf(port, sizeof(port), "%u", kg_gateway_metrics_port(gw));
		kg_log(KG_LOG_INFO, "metrics-listening", "port", port, NULL);
	}
}

static int serve(const char *path)
{
	struct kg_config *cfg = NULL;
	struct kg_gateway *gw = NULL;
	struct kg_control *ctl = NULL;
	char *errors = NULL, err[256];
	int sfd = -1, rc = 1;

	if (kg_config_load(path, &cfg, &errors) != KG_OK) {
		fputs(errors ? errors : "invalid configuration\n", stderr);
		free(errors);
		return 1;
	}
	kg_log_nonblocking();
	if (kg_apply_config(cfg, NULL, err, sizeof(err)) != KG_OK) {
		kg_log(KG_LOG_ERROR, "start-failed", "reason", err, NULL);
		return 1;
	}
	kg_metrics_config_loaded((double)time(NULL));
	/* cfg is in force now, owned by the runtime: valid until the next swap on this thread. */
	if (!raise_fd_limit(cfg))
		goto out;
	sfd = signals_setup();
	if (sfd < 0) {
		kg_log(KG_LOG_ERROR, "start-failed", "reason", "cannot set up the signals", NULL);
		goto out;
	}
	gw = kg_gateway_start(err, sizeof(err));
	if (gw == NULL) {
		kg_log(KG_LOG_ERROR, "start-failed", "reason", err, NULL);
		goto out;
	}
	ctl = kg_control_new(path, gw, sfd);
	if (ctl == NULL) {
		kg_log(KG_LOG_ERROR, "start-failed", "reason", "cannot set up the main loop", NULL);
		goto out;
	}
	log_listening(gw);
	kg_gateway_selfcheck(gw);
	kg_control_run(ctl);
	rc = 0;
out:
	kg_control_free(ctl);
	kg_gateway_stop(gw);
	kg_runtime_clear();
	if (sfd >= 0)
		close(sfd);
	if (rc == 0)
		kg_log(KG_LOG_INFO, "stopped", NULL);
	return rc;
}

int main(int argc, char **argv)
{
	const char *config = getenv("KYCGATE_CONFIG");
	int rc;

	/* One large upload must not leave its pages in the heap for good (design §8). */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	mallopt(M_ARENA_MAX, 4);
	/* Memory holds personal data and the key: no core dumps (design §5). */
	setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && strcmp(argv[1], "simulator") == 0)
		return kg_sim_main(argc - 1, argv + 1);
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("kycgate %s\n", KG_VERSION);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "--check-config") == 0)
		return check_config(argv[2]);
	if (argc == 3 && strcmp(argv[1], "--probe") == 0) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		rc = probe(argv[2]);
		curl_global_cleanup();
		return rc;
	}
	if (argc == 3 && strcmp(argv[1], "--config") == 0)
		config = argv[2];
	else if (argc != 1) {
		fputs(usage, stderr);
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = serve(config ? config : DEFAULT_CONFIG);
	curl_global_cleanup();
	return rc;
}
