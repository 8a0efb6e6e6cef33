/* Shared set-up of the integration tests: one standalone simulator and one gateway in front of
 * it (environment staging, base URL on loopback), started once per test program. */
#ifndef KYCGATE_IT_COMMON_H
#define KYCGATE_IT_COMMON_H

#include "harness.h"

#define IT_KEY "sk_staging_it0123456789abcdef"
#define IT_WRITER "Authorization: Bearer writer-token-0123456789abcdef"
#define IT_READER "Authorization: Bearer reader-token-0123456789abcdef"
#define IT_JSON "Content-Type: application/json"

static const char it_gateway_yaml[] = "server:\n"
                                      "  listen: \"127.0.0.1:0\"\n"
                                      "  threads: 2\n"
                                      "  drain_delay_s: 0\n"
                                      "  shutdown_grace_s: 1\n"
                                      "  max_document_bytes: 1048576\n"
                                      "crossmint:\n"
                                      "  environment: staging\n"
                                      "  base_url: \"http://127.0.0.1:@SIMPORT@\"\n"
                                      "  api_key: \"${IT_API_KEY}\"\n"
                                      "  timeout_ms: 2000\n"
                                      "  rate_limit: {writes_per_minute: 0, reads_per_minute: 0}\n"
                                      "  retry: {base_delay_ms: 20, max_delay_ms: 100}\n"
                                      /* the shared gateway's fault tests must not open it */
                                      "  circuit_breaker: {failure_threshold: 1000}\n"
                                      "verification:\n"
                                      "  cache_ttl_ms: 0\n"
                                      "auth:\n"
                                      "  mode: tokens\n"
                                      "  clients:\n"
                                      "    - name: writer\n"
                                      "      token: \"writer-token-0123456789abcdef\"\n"
                                      "      scopes: [users.create, users.read]\n"
                                      "    - name: reader\n"
                                      "      token: \"reader-token-0123456789abcdef\"\n"
                                      "      scopes: [users.read]\n"
                                      "log:\n"
                                      "  format: json\n"
                                      "  level: info\n";

static struct kt_proc it_sim, it_gw;

static inline void it_setup(void)
{
	static const char *const sim_args[] = {"--api-key", IT_KEY, "--review-delay-ms", "300",
	                                       NULL};
	static const char *const env[] = {"IT_API_KEY=" IT_KEY, NULL};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	kt_start_simulator(&it_sim, sim_args);
	kt_start_gateway(&it_gw, it_gateway_yaml, it_sim.port, env);
}

static inline void it_teardown(void)
{
	/* Exit code 0 also means no leak when built with the sanitizers. */
	ck_assert_int_eq(kt_stop(&it_gw), 0);
	ck_assert_int_eq(kt_stop(&it_sim), 0);
	curl_global_cleanup();
}

/* Asserts a problem answer: status, code, and that it is problem+json with a request id. */
static inline void it_assert_problem(const struct kt_resp *r, long status, const char *code)
{
	char type[128], ct[128];
	const char *t;

	ck_assert_msg(r->status == status, "status %ld, wanted %ld; body %s", r->status, status,
	              r->body);
	ck_assert_ptr_nonnull(r->json);
	snprintf(type, sizeof(type), "urn:kycgate:problem:%s", code);
	t = kt_str(r->json, "type");
	ck_assert_msg(t != NULL && strcmp(t, type) == 0, "type %s, wanted %s", t ? t : "(none)",
	              type);
	ck_assert(kt_header(r, "Content-Type", ct, sizeof(ct)));
	ck_assert_str_eq(ct, "application/problem+json");
	ck_assert_ptr_nonnull(kt_str(r->json, "requestId"));
	ck_assert_ptr_nonnull(kt_str(r->json, "detail"));
}

#endif
