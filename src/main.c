/* kycgate's entry point: the command line (design §1), start-up checks, and the main loop that
 * owns signals. Everything else lives in the core library. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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
#include "kycgate/probe.h"
#include "kycgate/runtime.h"
#include "kycgate/server.h"
#include "kycgate/simulator.h"
#include "kycgate/upstream.h"

#define DEFAULT_CONFIG "/etc/kycgate/kycgate.yaml"

static const char usage[] =
    "usage: kycgate [--config FILE]         run the gateway (default $KYCGATE_CONFIG or\n"
    "                                       " DEFAULT_CONFIG ")\n"
    "       kycgate --check-config FILE     validate a config file; exit 0 when valid\n"
    "       kycgate --probe URL             GET URL; exit 0 on a 2xx answer\n"
    "       kycgate --probe [--config FILE] GET /healthz where that config listens\n"
    "       kycgate --version               print the version\n"
    "       kycgate --help | -h             print this help\n"
    "       kycgate simulator --listen HOST:PORT [options]\n"
    "                                       run the Crossmint simulator alone; options:\n";

static void help(FILE *out)
{
	fputs(usage, out);
	fputs(kg_sim_options_help, out);
}

/* A usage error: what is wrong and the argument it is about (cut at '=', so a value given as
 * --name=value is never echoed), then the help; exit code 2. */
static int usage_error(const char *what, const char *arg)
{
	const char *eq = strchr(arg, '=');

	fprintf(stderr, "kycgate: %s %.*s\n", what, eq ? (int)(eq - arg) : (int)strlen(arg), arg);
	help(stderr);
	return 2;
}

enum command { CMD_SERVE, CMD_CHECK_CONFIG, CMD_VERSION, CMD_HELP };

static const struct {
	const char *name;
	enum command cmd;
	bool takes_value;
} commands[] = {
    {"--config", CMD_SERVE, true},     {"--check-config", CMD_CHECK_CONFIG, true},
    {"--version", CMD_VERSION, false}, {"--help", CMD_HELP, false},
    {"-h", CMD_HELP, false},
};

/* The command argv asks for and its value (NULL when none); a value follows its option or is
 * joined to it (--config=FILE). Returns 0, or 2 after a usage error (an unknown option, a missing
 * value, an extra argument). */
static int parse_command(int argc, char **argv, enum command *cmd, const char **value)
{
	size_t i, n = sizeof(commands) / sizeof(commands[0]), len;
	const char *eq;
	int want;

	*cmd = CMD_SERVE;
	*value = NULL;
	if (argc < 2)
		return 0;
	eq = strchr(argv[1], '=');
	len = eq ? (size_t)(eq - argv[1]) : strlen(argv[1]);
	for (i = 0; i < n; i++) {
		if (strlen(commands[i].name) == len &&
		    memcmp(argv[1], commands[i].name, len) == 0 &&
		    (eq == NULL || commands[i].takes_value))
			break;
	}
	if (i == n)
		return usage_error(argv[1][0] == '-' ? "unknown option" : "unknown command",
		                   argv[1]);
	want = commands[i].takes_value && eq == NULL ? 3 : 2;
	if (argc < want)
		return usage_error("a value is missing after", argv[1]);
	if (argc > want)
		return usage_error("unexpected argument", argv[want]);
	*cmd = commands[i].cmd;
	if (commands[i].takes_value)
		*value = eq ? eq + 1 : argv[2];
	return 0;
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

/* --probe URL | --probe [--config FILE]: the container HEALTHCHECK (design §1). Without a URL
 * it reads the config the server would read: FILE, else $KYCGATE_CONFIG, else the default. */
static int probe_cmd(int argc, char **argv, const char *config)
{
	const char *url = NULL;
	int rc;

	if (argc == 3 && argv[2][0] != '-')
		url = argv[2];
	else if (argc == 4 && strcmp(argv[2], "--config") == 0)
		config = argv[3];
	else if (argc != 2)
		return usage_error("unexpected argument", argv[argc - 1]);
	if (kg_upstream_global_init() != KG_OK)
		return 1;
	rc = kg_probe_main(url, config ? config : DEFAULT_CONFIG);
	kg_upstream_global_cleanup();
	return rc;
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
	if (!kg_log_writer_start())
		fputs("cannot start the log writer: lines are written by the threads that log\n",
		      stderr);
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
	const char *value;
	enum command cmd;
	int rc;

	/* One large upload must not leave its pages in the heap for good (design §8). */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	mallopt(M_ARENA_MAX, 4);
	/* Memory holds personal data and the key: no core dumps, and no reading it through
	 * /proc/PID/mem or ptrace by processes of the same user (design §5). Only a process with
	 * CAP_SYS_PTRACE (root, usually) still can. */
	setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
	prctl(PR_SET_DUMPABLE, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && strcmp(argv[1], "simulator") == 0)
		return kg_sim_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "--probe") == 0)
		return probe_cmd(argc, argv, config);
	rc = parse_command(argc, argv, &cmd, &value);
	if (rc != 0)
		return rc;
	switch (cmd) {
	case CMD_VERSION:
		printf("kycgate %s\n", KG_VERSION);
		return 0;
	case CMD_HELP:
		help(stdout);
		return 0;
	case CMD_CHECK_CONFIG:
		return check_config(value);
	case CMD_SERVE:
		if (value != NULL)
			config = value;
		break;
	}
	if (kg_upstream_global_init() != KG_OK) {
		fputs("cannot initialise libcurl\n", stderr);
		return 1;
	}
	rc = serve(config ? config : DEFAULT_CONFIG);
	kg_log_writer_stop();
	kg_upstream_global_cleanup();
	return rc;
}
