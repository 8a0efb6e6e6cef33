/* Unit tests for the probe module (src/probe.c): the /healthz URL of a config's main listener
 * (scheme from server.tls, wildcard addresses to loopback, specific ones kept, port 0 refused). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kycgate/probe.h"

/* The probe URL of a simulator config with the given server section; NULL when refused (why is
 * then in *why). */
static const char *url_of(const char *server, char *url, size_t cap, enum kg_err *rc,
                          const char **why)
{
	char yaml[512];
	struct kg_config *cfg = NULL;
	char *err = NULL;

	snprintf(yaml, sizeof(yaml),
	         "server:\n%scrossmint:\n  environment: simulator\n"
	         "auth:\n  mode: none\n",
	         server);
	ck_assert_msg(kg_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, &err) == KG_OK,
	              "%s", err ? err : "");
	*why = NULL;
	*rc = kg_probe_url(cfg, url, cap, why);
	kg_config_free(cfg);
	return *rc == KG_OK ? url : NULL;
}

#define ASSERT_URL(server, want)                                                                   \
	do {                                                                                       \
		char u_[320];                                                                      \
		enum kg_err rc_;                                                                   \
		const char *why_;                                                                  \
		const char *got_ = url_of(server, u_, sizeof(u_), &rc_, &why_);                    \
		ck_assert_msg(got_ != NULL, "refused: %s", why_ ? why_ : "(no reason)");           \
		ck_assert_str_eq(got_, want);                                                      \
	} while (0)

START_TEST(wildcard_becomes_loopback)
{
	ASSERT_URL("  listen: \"0.0.0.0:8080\"\n", "http://127.0.0.1:8080/healthz");
	ASSERT_URL("  listen: \"[::]:9000\"\n", "http://[::1]:9000/healthz");
	ASSERT_URL("  listen: \"[0:0:0:0:0:0:0:0]:9001\"\n", "http://[::1]:9001/healthz");
	/* The default listen address is 0.0.0.0:8080. */
	ASSERT_URL("  drain_delay_s: 0\n", "http://127.0.0.1:8080/healthz");
}
END_TEST

START_TEST(specific_address_kept)
{
	ASSERT_URL("  listen: \"127.0.0.1:18080\"\n", "http://127.0.0.1:18080/healthz");
	ASSERT_URL("  listen: \"10.1.2.3:8080\"\n", "http://10.1.2.3:8080/healthz");
	ASSERT_URL("  listen: \"[fd00::5]:8080\"\n", "http://[fd00::5]:8080/healthz");
	ASSERT_URL("  listen: \"[::1]:8080\"\n", "http://[::1]:8080/healthz");
}
END_TEST

START_TEST(tls_probes_https)
{
	ASSERT_URL("  listen: \"0.0.0.0:8443\"\n  tls: {cert_file: /c.pem, key_file: /k.pem}\n",
	           "https://127.0.0.1:8443/healthz");
	ASSERT_URL("  listen: \"[fd00::5]:8443\"\n  tls: {cert_file: /c.pem, key_file: /k.pem}\n",
	           "https://[fd00::5]:8443/healthz");
}
END_TEST

START_TEST(ephemeral_port_and_small_buffer_refused)
{
	char u[320];
	enum kg_err rc;
	const char *why;

	ck_assert_ptr_null(url_of("  listen: \"127.0.0.1:0\"\n", u, sizeof(u), &rc, &why));
	ck_assert_int_eq(rc, KG_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(why, "port 0"));
	/* "http://127.0.0.1:8080/healthz" is 29 bytes and its NUL. */
	ck_assert_ptr_null(url_of("  listen: \"127.0.0.1:8080\"\n", u, 29, &rc, &why));
	ck_assert_int_eq(rc, KG_ERR_TOO_LARGE);
	ck_assert_ptr_nonnull(why);
	ck_assert_ptr_nonnull(url_of("  listen: \"127.0.0.1:8080\"\n", u, 30, &rc, &why));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("probe");
	TCase *tc = tcase_create("url");
	int failed;

	tcase_add_test(tc, wildcard_becomes_loopback);
	tcase_add_test(tc, specific_address_kept);
	tcase_add_test(tc, tls_probes_https);
	tcase_add_test(tc, ephemeral_port_and_small_buffer_refused);
	suite_add_tcase(s, tc);
	failed = kt_run_suite(s);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
