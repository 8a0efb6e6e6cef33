/* Integration: optional TLS on the listener (server.tls) with a self-signed pair made by the
 * test itself; plain HTTP sent to the TLS port is refused cleanly; --probe works over TLS, with a
 * URL or from the config. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "harness.h"

static char dir[64];
static struct kt_proc gw;

static const char yaml_fmt[] =
    "server:\n  listen: \"127.0.0.1:0\"\n  drain_delay_s: 0\n"
    "  tls: {cert_file: \"%s/cert.pem\", key_file: \"%s/key.pem\"}\n"
    "crossmint:\n  environment: simulator\n"
    "auth:\n  clients:\n    - name: t\n      token: \"tls-token-0123456789abcdef-0123456\"\n"
    "      scopes: [users.create, users.read]\n";

static void setup(void)
{
	char cmd[512], yaml[1024];

	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(dir, sizeof(dir), "/tmp/kycgate-tls-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd),
	         "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
	         "-addext subjectAltName=IP:127.0.0.1,DNS:localhost "
	         "-keyout %s/key.pem -out %s/cert.pem >/dev/null 2>&1",
	         dir, dir);
	ck_assert_msg(system(cmd) == 0, "openssl could not make a certificate");
	snprintf(yaml, sizeof(yaml), yaml_fmt, dir, dir);
	kt_start_gateway(&gw, yaml, 0, NULL);
}

static void teardown(void)
{
	char cmd[128];

	kt_stop(&gw);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	curl_global_cleanup();
}

static size_t sink(char *p, size_t s, size_t n, void *u)
{
	return s * n;
}

/* An HTTPS GET verified against the test's own certificate; returns the status. */
static long https_get(const char *path, const char *auth)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = auth ? curl_slist_append(NULL, auth) : NULL;
	char url[256], ca[128];
	long status = 0;
	CURLcode rc;

	snprintf(url, sizeof(url), "https://127.0.0.1:%u%s", gw.port, path);
	snprintf(ca, sizeof(ca), "%s/cert.pem", dir);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	rc = curl_easy_perform(c);
	ck_assert_msg(rc == CURLE_OK, "%s", curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return status;
}

START_TEST(https_serves)
{
	ck_assert_int_eq(https_get("/healthz", NULL), 200);
	ck_assert_int_eq(https_get("/v1/users/userId:tls-nobody", NULL), 401);
	ck_assert_int_eq(https_get("/v1/users/userId:tls-nobody",
	                           "Authorization: Bearer tls-token-0123456789abcdef-0123456"),
	                 404);
}
END_TEST

START_TEST(plain_http_refused_cleanly)
{
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	char *out = kt_raw(gw.port, req, sizeof(req) - 1, 3000);

	/* No HTTP answer in clear: the TLS layer closes the connection. */
	ck_assert_msg(strncmp(out, "HTTP/", 5) != 0, "answered in clear: %s", out);
	free(out);
	ck_assert_int_eq(https_get("/healthz", NULL), 200); /* and the listener still works */
}
END_TEST

START_TEST(probe_over_tls)
{
	char url[128];
	const char *argv[] = {"", "--probe", url, NULL};
	char *out;

	snprintf(url, sizeof(url), "https://127.0.0.1:%u/healthz", gw.port);
	ck_assert_int_eq(kt_run(argv, &out), 0);
	free(out);
}
END_TEST

/* --probe with no URL reads server.tls from the config and probes https; the same listener
 * probed as plain http (a config without server.tls) fails. */
START_TEST(probe_config_over_tls)
{
	char tls_conf[128], plain_conf[128], yaml[512];
	const char *tls_argv[] = {"", "--probe", "--config", tls_conf, NULL};
	const char *plain_argv[] = {"", "--probe", "--config", plain_conf, NULL};
	char *out;
	FILE *f;

	snprintf(tls_conf, sizeof(tls_conf), "%s/probe-tls.yaml", dir);
	snprintf(plain_conf, sizeof(plain_conf), "%s/probe-plain.yaml", dir);
	snprintf(yaml, sizeof(yaml),
	         "server:\n  listen: \"127.0.0.1:%u\"\n"
	         "  tls: {cert_file: \"%s/cert.pem\", key_file: \"%s/key.pem\"}\n"
	         "crossmint:\n  environment: simulator\nauth:\n  mode: none\n",
	         gw.port, dir, dir);
	f = fopen(tls_conf, "w");
	ck_assert_ptr_nonnull(f);
	fputs(yaml, f);
	fclose(f);
	snprintf(yaml, sizeof(yaml),
	         "server:\n  listen: \"127.0.0.1:%u\"\n"
	         "crossmint:\n  environment: simulator\nauth:\n  mode: none\n",
	         gw.port);
	f = fopen(plain_conf, "w");
	ck_assert_ptr_nonnull(f);
	fputs(yaml, f);
	fclose(f);
	ck_assert_int_eq(kt_run(tls_argv, &out), 0);
	free(out);
	ck_assert_int_eq(kt_run(plain_argv, &out), 1);
	free(out);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("it_tls");
	TCase *tc = tcase_create("tls");
	int failed;

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, https_serves);
	tcase_add_test(tc, plain_http_refused_cleanly);
	tcase_add_test(tc, probe_over_tls);
	tcase_add_test(tc, probe_config_over_tls);
	suite_add_tcase(s, tc);
	failed = kt_run_suite(s);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
