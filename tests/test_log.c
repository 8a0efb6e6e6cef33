/* Unit tests of log lines: JSON validity and escaping, text format, the 4096-byte bound (a field
 * that does not fit is left out whole, the line stays valid), thresholds, the access line, and
 * the locator hash. */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "harness.h"
#include "kycgate/log.h"
#include "kycgate/metrics.h"
#include "kycgate/sha256.h"

static char path[] = "/tmp/kycgate-logtest-XXXXXX";
static int saved = -1;

/* Sends stdout to a temp file for one test. */
static void capture(void)
{
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	fflush(stdout);
	saved = dup(1);
	dup2(fd, 1);
	close(fd);
}

/* Restores stdout and returns what was written (caller frees). */
static char *captured(void)
{
	FILE *f;
	char *buf = calloc(1, 65536);
	size_t n;

	dup2(saved, 1);
	close(saved);
	f = fopen(path, "rb");
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	unlink(path);
	memcpy(path + strlen(path) - 6, "XXXXXX", 6);
	return buf;
}

START_TEST(json_line_escapes_everything)
{
	char *out;
	struct json_object *o;

	kg_log_setup(KG_LOG_INFO, KG_LOG_JSON);
	capture();
	kg_log(KG_LOG_WARN, "ev\"ent", "k", "quote\" back\\ nl\n nul-free \x01 del\x7f", NULL);
	out = captured();
	ck_assert_uint_eq(strchr(out, '\n') - out + 1, strlen(out)); /* one line */
	o = json_tokener_parse(out);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "level")), "warn");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "event")), "ev\"ent");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "k")),
	                 "quote\" back\\ nl\n nul-free \x01 del\x7f");
	json_object_put(o);
	free(out);
}
END_TEST

START_TEST(text_line_cannot_forge_a_line)
{
	char *out;

	kg_log_setup(KG_LOG_DEBUG, KG_LOG_TEXT);
	capture();
	kg_log(KG_LOG_INFO, "event", "k", "a\nERROR forged", NULL);
	out = captured();
	ck_assert_ptr_nonnull(strstr(out, " info event k=a\\u000aERROR forged\n"));
	ck_assert_uint_eq(strchr(out, '\n') - out + 1, strlen(out));
	free(out);
}
END_TEST

START_TEST(threshold)
{
	char *out;

	kg_log_setup(KG_LOG_WARN, KG_LOG_JSON);
	capture();
	kg_log(KG_LOG_INFO, "hidden", NULL);
	kg_log(KG_LOG_ERROR, "shown", NULL);
	out = captured();
	ck_assert_ptr_null(strstr(out, "hidden"));
	ck_assert_ptr_nonnull(strstr(out, "shown"));
	free(out);
}
END_TEST

START_TEST(long_values_keep_the_line_valid)
{
	char *big = malloc(10000), *out;
	struct json_object *o;

	memset(big, 'x', 9999);
	big[9999] = '\0';
	kg_log_setup(KG_LOG_INFO, KG_LOG_JSON);
	capture();
	kg_log(KG_LOG_INFO, "big", "small", "kept", "huge", big, NULL);
	out = captured();
	ck_assert_uint_le(strlen(out), KG_LOG_LINE_MAX);
	o = json_tokener_parse(out);
	ck_assert_msg(o != NULL, "not JSON: %.200s", out);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "small")), "kept");
	ck_assert(!json_object_object_get_ex(o, "huge", NULL));
	ck_assert(json_object_get_boolean(json_object_object_get(o, "truncated")));
	json_object_put(o);
	free(out);
	free(big);
}
END_TEST

START_TEST(access_line)
{
	struct kg_access a = {
	    .request_id = "r-1",
	    .client = "svc",
	    .remote = "127.0.0.1",
	    .method = "GET",
	    .route = "/v1/users/{userLocator}",
	    .status = 404,
	    .outcome = "upstream-rejected",
	    .duration_ms = 1.25,
	    .upstream_status = 404,
	    .upstream_ms = 12345.6789,
	    .attempts = 1,
	    .user_hash = "0123456789ab",
	};
	struct json_object *o;
	char *out;

	kg_log_setup(KG_LOG_INFO, KG_LOG_JSON);
	capture();
	kg_log_access(&a);
	a.route = NULL;
	a.upstream_status = -1;
	a.user_hash = NULL;
	a.status = 502;
	kg_log_access(&a);
	out = captured();
	o = json_tokener_parse(out);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "event")), "request");
	ck_assert_int_eq(json_object_get_int(json_object_object_get(o, "status")), 404);
	ck_assert(json_object_is_type(json_object_object_get(o, "duration_ms"), json_type_double));
	/* Numbers and the time are formatted by hand: as printf's %.3f, %d and ISO 8601. */
	ck_assert_ptr_nonnull(strstr(out, ",\"status\":404,"));
	ck_assert_ptr_nonnull(strstr(out, ",\"duration_ms\":1.250,"));
	ck_assert_ptr_nonnull(strstr(out, ",\"upstream_ms\":12345.679,"));
	ck_assert_ptr_nonnull(strstr(out, ",\"attempts\":1,"));
	ck_assert_int_eq(strlen(json_object_get_string(json_object_object_get(o, "time"))), 24);
	ck_assert_int_eq(json_object_get_string(json_object_object_get(o, "time"))[19], '.');
	ck_assert_int_eq(json_object_get_string(json_object_object_get(o, "time"))[23], 'Z');
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "user")), "0123456789ab");
	json_object_put(o);
	o = json_tokener_parse(strchr(out, '\n') + 1);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "level")), "warn");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "route")), "unmatched");
	ck_assert(!json_object_object_get_ex(o, "upstream_status", NULL));
	ck_assert(!json_object_object_get_ex(o, "user", NULL));
	json_object_put(o);
	free(out);
}
END_TEST

/* The flight line: ids as a JSON array (escaped), in text a comma-separated list; with ids too
 * long for one line the list is left out whole and the line stays valid. */
START_TEST(flight_line)
{
	static char big[KG_LOG_MAX_JOINED][300];
	const char *ids[] = {"a-1", "b\"2"}, *bigs[KG_LOG_MAX_JOINED];
	struct kg_flight_log f = {.request_id = "lead",
	                          .joined = ids,
	                          .n_joined = 2,
	                          .n_more = 5,
	                          .upstream_status = 200,
	                          .upstream_ms = 12.5};
	struct json_object *o, *j;
	char *out;
	size_t i;

	kg_log_setup(KG_LOG_INFO, KG_LOG_JSON);
	capture();
	kg_log_flight(&f);
	out = captured();
	o = json_tokener_parse(out);
	ck_assert_msg(o != NULL, "%s", out);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "event")),
	                 "upstream-flight");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "requestId")), "lead");
	j = json_object_object_get(o, "joined");
	ck_assert_uint_eq(json_object_array_length(j), 2);
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(j, 1)), "b\"2");
	ck_assert_int_eq(json_object_get_int(json_object_object_get(o, "joined_more")), 5);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(o, "upstream_status")), 200);
	json_object_put(o);
	free(out);

	kg_log_setup(KG_LOG_INFO, KG_LOG_TEXT);
	capture();
	kg_log_flight(&f);
	out = captured();
	ck_assert_msg(strstr(out, " info upstream-flight requestId=lead joined=a-1,b\\\"2 "
	                          "joined_more=5 upstream_status=200") != NULL,
	              "%s", out);
	free(out);

	for (i = 0; i < KG_LOG_MAX_JOINED; i++) {
		memset(big[i], 'x', sizeof(big[i]) - 1);
		bigs[i] = big[i];
	}
	f.joined = bigs;
	f.n_joined = KG_LOG_MAX_JOINED;
	kg_log_setup(KG_LOG_INFO, KG_LOG_JSON);
	capture();
	kg_log_flight(&f);
	out = captured();
	o = json_tokener_parse(out);
	ck_assert_msg(o != NULL, "%.300s", out);
	ck_assert(json_object_get_boolean(json_object_object_get(o, "truncated")));
	ck_assert_int_eq(json_object_get_int(json_object_object_get(o, "joined_more")), 5);
	json_object_put(o);
	free(out);
}
END_TEST

START_TEST(locator_hash_is_keyed_hmac)
{
	static const unsigned char key[] = "0123456789abcdef0123456789abcdef";
	unsigned char mac[KG_SHA256_DIGEST_LEN];
	char h1[KG_LOCATOR_HASH_LEN + 1], h2[KG_LOCATOR_HASH_LEN + 1], want[13];
	int i;

	kg_log_set_locator_key(key, 32);
	kg_log_locator_hash("userId:alice", h1);
	ck_assert_int_eq(kg_hmac_sha256(key, 32, "userId:alice", 12, mac), KG_OK);
	for (i = 0; i < 6; i++)
		snprintf(want + 2 * i, 3, "%02x", mac[i]);
	ck_assert_str_eq(h1, want);
	kg_log_locator_hash("userId:bob", h2);
	ck_assert_str_ne(h1, h2);
	kg_log_set_locator_key((const unsigned char *)"another-key-another-key-another!", 32);
	kg_log_locator_hash("userId:alice", h2);
	ck_assert_str_ne(h1, h2);
}
END_TEST

/* ---- the writer thread ---------------------------------------------------------------------- */

#define WRITERS 4
#define LINES_EACH 1000 /* 4,000 lines of about 90 bytes: less than the ring, so none may drop */

static void *log_lines(void *arg)
{
	long t = (long)arg, i;
	char v[32];

	for (i = 0; i < LINES_EACH; i++) {
		snprintf(v, sizeof(v), "%ld-%ld", t, i);
		kg_log(KG_LOG_INFO, "writer-test", "n", v, NULL);
	}
	return NULL;
}

static unsigned long long dropped_lines(void)
{
	size_t len;
	char *text = kg_metrics_render(&len);
	const char *at = strstr(text, "\nkycgate_log_lines_dropped_total ");
	unsigned long long n;

	ck_assert_ptr_nonnull(at);
	n = strtoull(at + strlen("\nkycgate_log_lines_dropped_total "), NULL, 10);
	free(text);
	return n;
}

/* Lines from several threads go out through the writer whole, each thread's in its order. */
START_TEST(writer_keeps_every_line_in_order)
{
	pthread_t th[WRITERS];
	long next[WRITERS] = {0}, t, i;
	unsigned long long dropped0 = dropped_lines();
	size_t total = 0;
	char line[512];
	FILE *f;

	kg_log_setup(KG_LOG_INFO, KG_LOG_JSON);
	capture();
	ck_assert(kg_log_writer_start());
	for (t = 0; t < WRITERS; t++)
		ck_assert_int_eq(pthread_create(&th[t], NULL, log_lines, (void *)t), 0);
	for (t = 0; t < WRITERS; t++)
		pthread_join(th[t], NULL);
	kg_log_writer_stop();
	kg_log(KG_LOG_INFO, "after-stop", NULL); /* written directly again */
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		json_object *o = json_tokener_parse(line), *n;

		ck_assert_msg(o != NULL, "not a JSON line: %s", line);
		total++;
		if (json_object_object_get_ex(o, "n", &n)) {
			ck_assert_int_eq(sscanf(json_object_get_string(n), "%ld-%ld", &t, &i), 2);
			ck_assert(t >= 0 && t < WRITERS);
			ck_assert_int_eq(i, next[t]);
			next[t]++;
		} else {
			ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "event")),
			                 "after-stop");
		}
		json_object_put(o);
	}
	fclose(f);
	unlink(path);
	memcpy(path + strlen(path) - 6, "XXXXXX", 6);
	for (t = 0; t < WRITERS; t++)
		ck_assert_int_eq(next[t], LINES_EACH);
	ck_assert_uint_eq(total, WRITERS * LINES_EACH + 1);
	ck_assert_uint_eq(dropped_lines(), dropped0);
}
END_TEST

/* A reader that never reads: logging threads drop lines (counted) instead of waiting, and the
 * writer gives up at stop instead of hanging. */
START_TEST(stalled_reader_drops_lines_and_blocks_nobody)
{
	int fds[2], fd1 = dup(1);
	unsigned long long dropped0 = dropped_lines();
	char buf[4096];
	ssize_t n;
	long i;

	ck_assert_int_eq(pipe(fds), 0);
	dup2(fds[1], 1);
	close(fds[1]);
	ck_assert(kg_log_writer_start());
	/* A pipe holds 64 KiB and the ring 512 KiB: 10,000 lines of about 90 bytes overflow both.
	 */
	for (i = 0; i < 10000; i++) {
		char v[32];

		snprintf(v, sizeof(v), "%ld", i);
		kg_log(KG_LOG_INFO, "stalled-test", "n", v, NULL);
	}
	ck_assert_uint_gt(dropped_lines(), dropped0);
	kg_log_writer_stop(); /* returns, about two seconds later, with the pipe still full */
	dup2(fd1, 1);
	close(fd1);
	/* What reached the pipe starts with whole lines. */
	n = read(fds[0], buf, sizeof(buf) - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_msg(strncmp(buf, "{\"time\":", 8) == 0, "%s", buf);
	ck_assert_ptr_nonnull(strstr(buf, "\"event\":\"stalled-test\",\"n\":\"0\"}\n"));
	close(fds[0]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");
	int failed;

	tcase_add_test(tc, json_line_escapes_everything);
	tcase_add_test(tc, text_line_cannot_forge_a_line);
	tcase_add_test(tc, threshold);
	tcase_add_test(tc, long_values_keep_the_line_valid);
	tcase_add_test(tc, access_line);
	tcase_add_test(tc, flight_line);
	tcase_add_test(tc, locator_hash_is_keyed_hmac);
	tcase_add_test(tc, writer_keeps_every_line_in_order);
	tcase_add_test(tc, stalled_reader_drops_lines_and_blocks_nobody);
	suite_add_tcase(s, tc);
	failed = kt_run_suite(s);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
