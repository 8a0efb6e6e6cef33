/* `kycgate simulator`: the standalone simulator. Parses its options, blocks the signals it
 * waits for (before any thread starts, so every thread inherits the mask), prints one JSON line
 * once it listens and runs until SIGINT or SIGTERM. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

#define MAX_REVIEW_DELAY_MS 86400000ul /* one day */

#define STR_(x) #x
#define STR(x) STR_(x)
#define REVIEW_DEFAULT STR(KG_SIM_REVIEW_DELAY_MS_DEFAULT)

const char kg_sim_options_help[] =
    "  --listen HOST:PORT     address to listen on ([v6]:PORT for IPv6; PORT 0 = any)\n"
    "  --api-key KEY          required X-API-KEY (default: $KYCGATE_SIM_API_KEY, else any\n"
    "                         non-empty key is accepted)\n"
    "  --review-delay-ms N    pending-review turns verified after N ms\n"
    "                         (default " REVIEW_DEFAULT ", as in conf/dev.yaml)\n"
    "  --edd-countries LIST   residents of these countries (AE,TR) also need proof of\n"
    "                         address and income\n";

static const char usage_head[] =
    "usage: kycgate simulator --listen HOST:PORT [--api-key KEY] [--review-delay-ms N]\n"
    "                         [--edd-countries AE,TR]\n";

static void usage(FILE *out)
{
	fputs(usage_head, out);
	fputs(kg_sim_options_help, out);
}

struct cli {
	char host[256];
	unsigned long port;
	bool v6;
	bool have_listen;
	const char *api_key; /* borrowed from argv or the environment */
	unsigned long review_delay_ms;
	char (*edd)[3]; /* owned */
	size_t n_edd;
};

static int usage_error(const char *msg)
{
	fprintf(stderr, "kycgate simulator: %s\n", msg);
	usage(stderr);
	return 2;
}

/* A decimal number made only of digits, at most max. */
static bool parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	char *end = NULL;
	unsigned long v;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

static bool host_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr(".-_:%", c) != NULL);
}

/* HOST:PORT or [V6]:PORT. */
static bool parse_listen(const char *s, struct cli *c)
{
	const char *host = s;
	const char *end;
	size_t i;
	size_t len;

	if (s[0] == '[') {
		host = s + 1;
		end = strchr(host, ']');
		if (end == NULL || end[1] != ':')
			return false;
		c->v6 = true;
	} else {
		end = strrchr(s, ':');
		if (end == NULL || memchr(s, ':', (size_t)(end - s)) != NULL)
			return false;
	}
	len = (size_t)(end - host);
	if (len == 0 || len >= sizeof(c->host))
		return false;
	for (i = 0; i < len; i++) {
		if (!host_char(host[i]) || (!c->v6 && host[i] == ':'))
			return false;
	}
	memcpy(c->host, host, len);
	c->host[len] = '\0';
	c->have_listen = true;
	return parse_ulong(end + (c->v6 ? 2 : 1), 65535, &c->port);
}

static bool letter(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}

/* A comma-separated list of two-letter country codes. */
static bool parse_edd(const char *s, struct cli *c)
{
	size_t n = (strlen(s) + 1) / 3;
	size_t i;

	if (strlen(s) % 3 != 2 || n > SIM_MAX_EDD_COUNTRIES)
		return false;
	free(c->edd);
	c->edd = calloc(n, sizeof(*c->edd));
	c->n_edd = 0;
	if (c->edd == NULL)
		return false;
	for (i = 0; i < n; i++) {
		const char *p = s + 3 * i;

		if (!letter(p[0]) || !letter(p[1]) || (p[2] != ',' && p[2] != '\0'))
			return false;
		c->edd[i][0] = (char)(p[0] & ~0x20);
		c->edd[i][1] = (char)(p[1] & ~0x20);
		c->edd[i][2] = '\0';
	}
	c->n_edd = n;
	return true;
}

/* Applies one option; returns 0, or the exit code for a usage error. */
static int apply_option(struct cli *c, const char *name, const char *value)
{
	if (strcmp(name, "--listen") == 0)
		return parse_listen(value, c) ? 0 : usage_error("--listen needs HOST:PORT");
	if (strcmp(name, "--api-key") == 0) {
		c->api_key = value;
		return value[0] != '\0' ? 0 : usage_error("--api-key must not be empty");
	}
	if (strcmp(name, "--review-delay-ms") == 0)
		return parse_ulong(value, MAX_REVIEW_DELAY_MS, &c->review_delay_ms)
		           ? 0
		           : usage_error("--review-delay-ms needs a number of milliseconds");
	if (strcmp(name, "--edd-countries") == 0)
		return parse_edd(value, c) ? 0
		                           : usage_error("--edd-countries needs codes like AE,TR");
	return usage_error("unknown option");
}

/* Parses argv (argv[0] is "simulator"); returns 0, 2 (usage error) or -1 (help shown). */
static int parse_args(int argc, char **argv, struct cli *c)
{
	int i;
	int rc;

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *eq = strchr(arg, '=');
		char name[32];
		const char *value;

		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			usage(stdout);
			return -1;
		}
		if (strncmp(arg, "--", 2) != 0 ||
		    (eq != NULL && (size_t)(eq - arg) >= sizeof(name)))
			return usage_error("unknown argument");
		snprintf(name, sizeof(name), "%.*s", eq == NULL ? 31 : (int)(eq - arg), arg);
		if (eq != NULL)
			value = eq + 1;
		else if (i + 1 < argc)
			value = argv[++i];
		else
			return usage_error("an option needs a value");
		rc = apply_option(c, name, value);
		if (rc != 0)
			return rc;
	}
	if (!c->have_listen)
		return usage_error("--listen is required");
	if (c->api_key == NULL) {
		c->api_key = getenv("KYCGATE_SIM_API_KEY");
		if (c->api_key != NULL && c->api_key[0] == '\0')
			c->api_key = NULL;
	}
	return 0;
}

/* Waits for SIGINT or SIGTERM (SIGHUP is taken and ignored). */
static void wait_for_stop(const sigset_t *set)
{
	int sig = 0;

	for (;;) {
		if (sigwait(set, &sig) != 0)
			continue;
		if (sig == SIGINT || sig == SIGTERM)
			return;
	}
}

static int run(const struct cli *c)
{
	struct kg_sim_opts opts = {0};
	struct kg_sim *sim;
	char err[256] = "";
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* stays blocked: the process ends after this */
	opts.host = c->host;
	opts.port = (uint16_t)c->port;
	opts.api_key = c->api_key;
	opts.review_delay_ms = (unsigned)c->review_delay_ms;
	opts.edd_countries = (const char(*)[3])c->edd;
	opts.n_edd_countries = c->n_edd;
	sim = kg_sim_start(&opts, err, sizeof(err));
	if (sim == NULL) {
		fprintf(stderr, "kycgate simulator: %s\n", err);
		return 1;
	}
	printf("{\"level\":\"info\",\"event\":\"simulator-listening\",\"address\":\"%s%s%s:%u\"}\n",
	       c->v6 ? "[" : "", c->host, c->v6 ? "]" : "", (unsigned)kg_sim_port(sim));
	fflush(stdout);
	sigdelset(&set, SIGPIPE);
	wait_for_stop(&set);
	kg_sim_stop(sim);
	return 0;
}

/* Like the gateway: the soft open-files limit up to the hard one, so a thousand slow calls fit. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int kg_sim_main(int argc, char **argv)
{
	struct cli c = {.review_delay_ms = KG_SIM_REVIEW_DELAY_MS_DEFAULT};
	int rc = parse_args(argc, argv, &c);

	raise_fd_limit();
	if (rc == 0)
		rc = run(&c);
	else if (rc < 0)
		rc = 0;
	free(c.edd);
	return rc;
}
