/* Integration: the command line (design §1) and the embedded simulator (environment simulator,
 * an in-process simulator on an ephemeral loopback port behind the same libcurl path). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "harness.h"

static const char embedded_yaml[] = "server:\n  listen: \"127.0.0.1:0\"\n  drain_delay_s: 0\n"
                                    "crossmint:\n  environment: simulator\n"
                                    "simulator:\n  review_delay_ms: 200\n"
                                    "auth:\n  mode: tokens\n  clients:\n    - name: dev\n"
                                    "      token: \"embedded-token-0123456789abcdef\"\n"
                                    "      scopes: [users.create, users.read]\n";

START_TEST(version_help_usage)
{
	const char *const version[] = {"", "--version", NULL};
	const char *const help[] = {"", "--help", NULL};
	const char *const short_help[] = {"", "-h", NULL};
	const char *const bad[] = {"", "--frobnicate", NULL};
	char *out;

	ck_assert_int_eq(kt_run(version, &out), 0);
	ck_assert(strncmp(out, "kycgate ", 8) == 0);
	free(out);
	ck_assert_int_eq(kt_run(help, &out), 0);
	ck_assert_ptr_nonnull(strstr(out, "--check-config"));
	free(out);
	ck_assert_int_eq(kt_run(short_help, &out), 0);
	ck_assert_ptr_nonnull(strstr(out, "--check-config"));
	free(out);
	ck_assert_int_eq(kt_run(bad, &out), 2);
	ck_assert_ptr_nonnull(strstr(out, "usage:"));
	free(out);
}
END_TEST

/* Usage errors say what is wrong and exit 2; a value given as --name=value is not echoed. */
START_TEST(usage_errors_name_the_argument)
{
	static const struct {
		const char *argv[5];
		const char *says;
	} t[] = {
	    {{"", "--port", "9000", NULL}, "kycgate: unknown option --port\n"},
	    {{"", "--port=9000", NULL}, "kycgate: unknown option --port\n"},
	    {{"", "serve", NULL}, "kycgate: unknown command serve\n"},
	    {{"", "--config", NULL}, "kycgate: a value is missing after --config\n"},
	    {{"", "--config", "a.yaml", "--port", NULL}, "kycgate: unexpected argument --port\n"},
	    {{"", "--version", "--help", NULL}, "kycgate: unexpected argument --help\n"},
	    {{"", "--version=9000", NULL}, "kycgate: unknown option --version\n"},
	};
	size_t i;
	char *out;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert_msg(kt_run(t[i].argv, &out) == 2, "case %zu: %s", i, out);
		ck_assert_msg(strstr(out, t[i].says) != NULL, "case %zu: %s", i, out);
		ck_assert_ptr_nonnull(strstr(out, "usage:"));
		ck_assert_ptr_null(strstr(out, "9000"));
		free(out);
	}
}
END_TEST

/* The top-level help lists the standalone simulator's options, and the simulator's review delay
 * defaults to what conf/dev.yaml sets, so both simulators behave alike. */
START_TEST(help_lists_simulator_options)
{
	const char *const help[] = {"", "--help", NULL};
	const char *const sim_help[] = {"", "simulator", "--help", NULL};
	char *out, *dev, *at, want[64];

	dev = kt_slurp(KG_SOURCE_DIR "/conf/dev.yaml", NULL);
	ck_assert_ptr_nonnull(dev);
	at = strstr(dev, "\n  review_delay_ms: ");
	ck_assert_ptr_nonnull(at);
	snprintf(want, sizeof(want), "(default %lu,", strtoul(at + 19, NULL, 10));
	free(dev);
	ck_assert_int_eq(kt_run(help, &out), 0);
	ck_assert_ptr_nonnull(strstr(out, "kycgate simulator --listen HOST:PORT"));
	ck_assert_ptr_nonnull(strstr(out, "--api-key KEY"));
	ck_assert_ptr_nonnull(strstr(out, "--edd-countries LIST"));
	ck_assert_msg(strstr(out, want) != NULL, "wanted %s in\n%s", want, out);
	free(out);
	ck_assert_int_eq(kt_run(sim_help, &out), 0);
	ck_assert_msg(strstr(out, want) != NULL, "wanted %s in\n%s", want, out);
	free(out);
}
END_TEST

START_TEST(check_config)
{
	const char *const good[] = {"", "--check-config", KG_SOURCE_DIR "/conf/dev.yaml", NULL};
	const char *const joined[] = {"", "--check-config=" KG_SOURCE_DIR "/conf/dev.yaml", NULL};
	const char *const bad[] = {"", "--check-config", "/tmp/kycgate-bad-config.yaml", NULL};
	const char *const missing[] = {"", "--check-config", "/nonexistent/k.yaml", NULL};
	FILE *f = fopen("/tmp/kycgate-bad-config.yaml", "w");
	char *out;

	fputs("server:\n  listen: \"127.0.0.1:8080\"\n  max_body_bytes: lots\n"
	      "crossmint:\n  environment: staging\n  colour: blue\n",
	      f);
	fclose(f);
	ck_assert_int_eq(kt_run(good, &out), 0);
	free(out);
	ck_assert_int_eq(kt_run(joined, &out), 0); /* --check-config=FILE */
	free(out);
	ck_assert_int_eq(kt_run(bad, &out), 1);
	ck_assert_msg(strstr(out, "/tmp/kycgate-bad-config.yaml:3: server.max_body_bytes: ") !=
	                  NULL,
	              "%s", out);
	ck_assert_msg(strstr(out, "/tmp/kycgate-bad-config.yaml:6: crossmint.colour: ") != NULL,
	              "%s", out);
	free(out);
	unlink("/tmp/kycgate-bad-config.yaml");
	ck_assert_int_eq(kt_run(missing, &out), 1);
	free(out);
}
END_TEST

START_TEST(embedded_simulator_flow_and_probe)
{
	const char *const w[] = {"Authorization: Bearer embedded-token-0123456789abcdef",
	                         "Content-Type: application/json", NULL};
	static const char consent[] =
	    "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-06-01T12:00:00Z\"}";
	static const char us_user[] =
	    "{\"userDetails\":{\"firstName\":\"Bob\",\"lastName\":\"Stone\","
	    "\"dateOfBirth\":\"1985-03-02\",\"countryOfResidence\":\"US\"},"
	    "\"kycData\":{\"nationality\":\"US\",\"addressOfResidence\":{\"line1\":\"1 Main St\","
	    "\"city\":\"San Jose\",\"stateOrRegion\":\"CA\",\"postalCode\":\"95112\"},"
	    "\"email\":\"bob@example.com\",\"phoneNumber\":\"+14085550100\","
	    "\"identityDocument\":{\"type\":\"ssn\",\"number\":\"123-45-6789\","
	    "\"issuingCountryCode\":\"US\"}},"
	    "\"verificationHistory\":{\"idVerificationTimestamp\":\"2026-01-15T10:30:00Z\","
	    "\"livenessVerificationTimestamp\":\"2026-01-15T10:32:00Z\"}}";
	struct kt_proc gw;
	struct kt_resp r;
	char h[64], url[128];
	const char *probe[] = {"", "--probe", url, NULL};
	char *out;

	kt_start_gateway(&gw, embedded_yaml, 0, NULL);
	kt_http(gw.port, "PUT", "/v1/users/userId:bob-us/consent", w, consent, strlen(consent), &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert(kt_header(&r, "X-Kycgate-Environment", h, sizeof(h)));
	ck_assert_str_eq(h, "simulator");
	kt_resp_free(&r);
	kt_http(gw.port, "PUT", "/v1/users/userId:bob-us", w, us_user, strlen(us_user), &r);
	ck_assert_int_eq(r.status, 200); /* the consent created the user */
	kt_resp_free(&r);
	kt_http(gw.port, "POST", "/v1/users/userId:bob-us/verification", w, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strcmp(kt_str(r.json, "overall"), "in-review") == 0, "%s", r.body);
	ck_assert_str_eq(kt_str(r.json, "environment"), "simulator");
	kt_resp_free(&r);
	usleep(400 * 1000);
	kt_http(gw.port, "GET", "/v1/users/userId:bob-us/verification", w, NULL, 0, &r);
	ck_assert_str_eq(kt_str(r.json, "overall"), "verified");
	kt_resp_free(&r);

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/readyz", gw.port);
	ck_assert_int_eq(kt_run(probe, &out), 0);
	free(out);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/nothing", gw.port);
	ck_assert_int_eq(kt_run(probe, &out), 1);
	free(out);
	ck_assert_int_eq(kt_stop(&gw), 0);
}
END_TEST

/* A reader of stdout that stalls never stalls requests: lines are dropped and counted. */
START_TEST(stalled_log_reader_drops_lines)
{
	static const char yaml[] = "server:\n  listen: \"127.0.0.1:0\"\n  drain_delay_s: 0\n"
	                           "crossmint:\n  environment: simulator\n"
	                           "auth:\n  mode: none\n";
	const char *conf = "/tmp/kycgate-stall.yaml";
	FILE *f = fopen(conf, "w");
	int fds[2], i, status;
	char buf[4096], *port_at;
	size_t got = 0;
	unsigned port = 0;
	pid_t pid;
	struct kt_resp r;
	const char *dropped;

	fputs(yaml, f);
	fclose(f);
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		execl(KG_BINARY, KG_BINARY, "--config", conf, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	/* Read only up to the listening line, then never again. */
	while (port == 0 && got < sizeof(buf) - 1) {
		ssize_t n = read(fds[0], buf + got, sizeof(buf) - 1 - got);

		ck_assert_int_gt(n, 0);
		got += (size_t)n;
		buf[got] = '\0';
		port_at = strstr(buf, "\"port\":\"");
		if (port_at != NULL && strchr(port_at + 8, '"') != NULL)
			port = (unsigned)strtoul(port_at + 8, NULL, 10);
	}
	/* About 300 bytes a line: 4000 requests overflow a 64 KiB pipe and the log writer's 512 KiB
	 * ring together. */
	for (i = 0; i < 4000; i++) {
		kt_http(port, "GET", "/healthz", NULL, NULL, 0, &r);
		ck_assert_int_eq(r.status, 200);
		kt_resp_free(&r);
	}
	kt_http(port, "GET", "/metrics", NULL, NULL, 0, &r);
	dropped = strstr(r.body, "\nkycgate_log_lines_dropped_total ");
	ck_assert_ptr_nonnull(dropped);
	ck_assert_msg(strtoul(dropped + 33, NULL, 10) > 0, "%.80s", dropped);
	kt_resp_free(&r);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(fds[0]);
	unlink(conf);
}
END_TEST

/* metrics.listen: /metrics, /healthz and /readyz on their own listener; the API is not there,
 * and /metrics leaves the main listener. */
START_TEST(separate_metrics_listener)
{
	static const char yaml[] = "server:\n  listen: \"127.0.0.1:0\"\n  drain_delay_s: 0\n"
	                           "crossmint:\n  environment: simulator\n"
	                           "metrics:\n  listen: \"127.0.0.1:0\"\n"
	                           "auth:\n  mode: none\n";
	struct kt_proc gw;
	struct kt_resp r;
	char *log, *at;
	unsigned mport = 0;
	int i;

	kt_start_gateway(&gw, yaml, 0, NULL);
	for (i = 0; i < 100 && mport == 0; i++) {
		log = kt_read_log(&gw);
		at = strstr(log, "\"metrics-listening\"");
		if (at != NULL && (at = strstr(at, "\"port\":\"")) != NULL)
			mport = (unsigned)strtoul(at + 8, NULL, 10);
		free(log);
		if (mport == 0)
			usleep(20 * 1000);
	}
	ck_assert_uint_ne(mport, 0);
	kt_http(mport, "GET", "/metrics", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "kycgate_build_info"));
	kt_resp_free(&r);
	kt_http(mport, "GET", "/readyz", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	kt_resp_free(&r);
	kt_http(mport, "GET", "/v1/users/userId:a", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 404);
	kt_resp_free(&r);
	kt_http(gw.port, "GET", "/metrics", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 404);
	kt_resp_free(&r);
	kt_http(gw.port, "GET", "/healthz", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	kt_resp_free(&r);
	ck_assert_int_eq(kt_stop(&gw), 0);
}
END_TEST

/* Writes a config whose main listener is listen to a new temp file named in path (64 bytes). */
static void write_listen_config(char *path, const char *listen)
{
	int fd;
	FILE *f;

	snprintf(path, 64, "/tmp/kycgate-probe-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
	        "server:\n  listen: \"%s\"\ncrossmint:\n  environment: simulator\n"
	        "auth:\n  mode: none\n",
	        listen);
	fclose(f);
}

/* A socket bound to 127.0.0.1 but not listening: connections to *port are refused, and no other
 * process can listen there until it is closed. */
static int closed_port(unsigned *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* Runs kycgate --probe with args after it (NULL-terminated); returns the exit code, the output
 * in *out (caller frees). */
static int run_probe(const char *a1, const char *a2, char **out)
{
	const char *const argv[] = {"", "--probe", a1, a2, NULL};

	return kt_run(argv, out);
}

/* --probe with no URL reads the config the server would read (--config FILE, else
 * $KYCGATE_CONFIG) and probes its listener: a wildcard address on loopback; it fails, saying
 * why, when the server is down, the config does not load or names no fixed port. */
START_TEST(probe_follows_config)
{
	static const char yaml[] = "server:\n  listen: \"127.0.0.1:0\"\n  drain_delay_s: 0\n"
	                           "crossmint:\n  environment: simulator\n"
	                           "auth:\n  mode: none\n";
	struct kt_proc gw;
	char at[64], wild[64], eph[64], dead[64], listen[64];
	unsigned port;
	int down;
	char *out;

	kt_start_gateway(&gw, yaml, 0, NULL);
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", gw.port);
	write_listen_config(at, listen);
	snprintf(listen, sizeof(listen), "0.0.0.0:%u", gw.port);
	write_listen_config(wild, listen);
	write_listen_config(eph, "127.0.0.1:0");

	ck_assert_int_eq(run_probe("--config", at, &out), 0);
	free(out);
	ck_assert_int_eq(run_probe("--config", wild, &out), 0);
	free(out);
	setenv("KYCGATE_CONFIG", at, 1);
	ck_assert_int_eq(run_probe(NULL, NULL, &out), 0);
	free(out);
	setenv("KYCGATE_CONFIG", "/nonexistent/kycgate.yaml", 1);
	ck_assert_int_eq(run_probe(NULL, NULL, &out), 1);
	ck_assert_msg(strstr(out, "cannot load /nonexistent/kycgate.yaml") != NULL, "%s", out);
	free(out);
	unsetenv("KYCGATE_CONFIG");
	ck_assert_int_eq(run_probe("--config", eph, &out), 1);
	ck_assert_msg(strstr(out, "port 0") != NULL, "%s", out);
	free(out);
	ck_assert_int_eq(run_probe("--config", NULL, &out), 2);
	free(out);

	ck_assert_int_eq(kt_stop(&gw), 0);

	/* Nothing listens on a port this test holds bound (so no other process can take it). */
	down = closed_port(&port);
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
	write_listen_config(dead, listen);
	ck_assert_int_eq(run_probe("--config", dead, &out), 1);
	snprintf(listen, sizeof(listen), "http://127.0.0.1:%u/healthz: ", port);
	ck_assert_msg(strstr(out, listen) != NULL, "%s", out);
	free(out);
	close(down);
	unlink(dead);
	unlink(at);
	unlink(wild);
	unlink(eph);
}
END_TEST

/* A listener that cannot bind says which address and why, and the process exits non-zero. */
START_TEST(address_in_use_is_named)
{
	static const char yaml[] = "server:\n  listen: \"127.0.0.1:%u\"\n"
	                           "crossmint:\n  environment: simulator\n"
	                           "auth:\n  mode: none\n";
	const char *conf = "/tmp/kycgate-clash.yaml";
	const char *const run[] = {"", "--config", conf, NULL};
	struct kt_proc gw;
	char want[64], *out;
	FILE *f;

	kt_start_gateway(&gw, embedded_yaml, 0, NULL);
	f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, yaml, gw.port);
	fclose(f);
	ck_assert_int_eq(kt_run(run, &out), 1);
	snprintf(want, sizeof(want), "127.0.0.1:%u is already in use", gw.port);
	ck_assert_msg(strstr(out, want) != NULL, "wanted %s in\n%s", want, out);
	free(out);
	unlink(conf);
	ck_assert_int_eq(kt_stop(&gw), 0);
}
END_TEST

/* conf/dev.yaml takes its listen address from KYCGATE_LISTEN (scripts/run.sh on another port). */
START_TEST(dev_config_listens_where_told)
{
	static const char *const env[] = {"KYCGATE_LISTEN=127.0.0.1:0", NULL};
	char *dev = kt_slurp(KG_SOURCE_DIR "/conf/dev.yaml", NULL), *fmt;
	struct kt_proc gw;
	struct kt_resp r;

	ck_assert_ptr_nonnull(dev);
	/* The harness finds the port in a JSON log line. */
	fmt = strstr(dev, "format: text");
	ck_assert_ptr_nonnull(fmt);
	memcpy(fmt, "format: json", 12);
	kt_start_gateway(&gw, dev, 0, env);
	free(dev);
	ck_assert_uint_ne(gw.port, 8080);
	kt_http(gw.port, "GET", "/readyz", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(kt_str(r.json, "environment"), "simulator");
	kt_resp_free(&r);
	ck_assert_int_eq(kt_stop(&gw), 0);
}
END_TEST

/* auth.mode none is refused outside the simulator; production needs a key. */
START_TEST(refuses_to_start)
{
	static const char none_staging[] = "server:\n  listen: \"127.0.0.1:0\"\n"
	                                   "crossmint:\n  environment: staging\n"
	                                   "auth:\n  mode: none\n";
	FILE *f = fopen("/tmp/kycgate-refuse.yaml", "w");
	const char *const run[] = {"", "--config", "/tmp/kycgate-refuse.yaml", NULL};
	char *out;

	fputs(none_staging, f);
	fclose(f);
	ck_assert_int_eq(kt_run(run, &out), 1);
	ck_assert_msg(strstr(out, "auth.mode") != NULL, "%s", out);
	free(out);
	unlink("/tmp/kycgate-refuse.yaml");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("it_cli");
	TCase *tc = tcase_create("cli");
	int failed;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, version_help_usage);
	tcase_add_test(tc, usage_errors_name_the_argument);
	tcase_add_test(tc, help_lists_simulator_options);
	tcase_add_test(tc, check_config);
	tcase_add_test(tc, embedded_simulator_flow_and_probe);
	tcase_add_test(tc, probe_follows_config);
	tcase_add_test(tc, refuses_to_start);
	tcase_add_test(tc, address_in_use_is_named);
	tcase_add_test(tc, dev_config_listens_where_told);
	tcase_add_test(tc, stalled_log_reader_drops_lines);
	tcase_add_test(tc, separate_metrics_listener);
	suite_add_tcase(s, tc);
	failed = kt_run_suite(s);
	curl_global_cleanup();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
