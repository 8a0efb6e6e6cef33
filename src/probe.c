/* The container health probe (design §1): `kycgate --probe [URL]`. The image has no curl binary;
 * with no URL the probe reads the config the server reads, so it follows server.listen and
 * server.tls. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "kycgate/probe.h"

/* 0.0.0.0 or :: (in any spelling): the listener takes every address, loopback included. */
static bool wildcard(const char *host, bool *v6)
{
	struct in_addr a4;
	struct in6_addr a6;

	*v6 = strchr(host, ':') != NULL;
	if (*v6)
		return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_UNSPECIFIED(&a6);
	return inet_pton(AF_INET, host, &a4) == 1 && a4.s_addr == htonl(INADDR_ANY);
}

enum kg_err kg_probe_url(const struct kg_config *cfg, char *url, size_t cap, const char **why)
{
	const char *host = cfg->server.listen_host;
	const char *scheme = cfg->server.tls_cert_file[0] != '\0' ? "https" : "http";
	bool v6;
	int n;

	if (cfg->server.listen_port == 0) {
		*why = "server.listen has port 0 (an ephemeral port): give --probe a URL";
		return KG_ERR_CONFIG;
	}
	if (wildcard(host, &v6))
		host = v6 ? "::1" : "127.0.0.1";
	n = snprintf(url, cap, "%s://%s%s%s:%u/healthz", scheme, v6 ? "[" : "", host, v6 ? "]" : "",
	             (unsigned)cfg->server.listen_port);
	if (n < 0 || (size_t)n >= cap) {
		*why = "the probe URL is too long";
		return KG_ERR_TOO_LARGE;
	}
	return KG_OK;
}

static size_t discard(char *p, size_t size, size_t n, void *u)
{
	return size * n;
}

static bool https_loopback(const char *url)
{
	return strncmp(url, "https://127.", 12) == 0 ||
	       strncmp(url, "https://localhost", 17) == 0 || strncmp(url, "https://[::1]", 13) == 0;
}

bool kg_probe_get(const char *url, bool verify, char *err, size_t errcap)
{
	char cerr[CURL_ERROR_SIZE] = "";
	CURL *c = curl_easy_init();
	long status = 0;
	CURLcode rc;

	if (c == NULL) {
		snprintf(err, errcap, "cannot set up curl");
		return false;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, KG_PROBE_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	if (!verify || https_loopback(url)) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK)
		snprintf(err, errcap, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
	else if (status < 200 || status > 299)
		snprintf(err, errcap, "answered %ld", status);
	return rc == CURLE_OK && status >= 200 && status <= 299;
}

/* The URL of the main listener of the config at path; false after printing why not. */
static bool own_url(const char *path, char *url, size_t cap)
{
	struct kg_config *cfg = NULL;
	char *errors = NULL;
	const char *why = NULL;
	bool ok = false;

	if (kg_config_load(path, &cfg, &errors) != KG_OK) {
		fprintf(stderr, "kycgate --probe: cannot load %s\n%s", path,
		        errors ? errors : "invalid configuration\n");
		goto out;
	}
	if (kg_probe_url(cfg, url, cap, &why) != KG_OK) {
		fprintf(stderr, "kycgate --probe: %s: %s\n", path, why);
		goto out;
	}
	ok = true;
out:
	free(errors);
	kg_config_free(cfg);
	return ok;
}

int kg_probe_main(const char *url, const char *config_path)
{
	char own[320], err[CURL_ERROR_SIZE + 64];

	if (url == NULL && !own_url(config_path, own, sizeof(own)))
		return 1;
	if (kg_probe_get(url ? url : own, url != NULL, err, sizeof(err)))
		return 0;
	fprintf(stderr, "kycgate --probe: %s: %s\n", url ? url : own, err);
	return 1;
}
