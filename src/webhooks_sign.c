/* The Standard Webhooks 1.0 signature and what GET /v1/webhooks shows of a URL. Pure functions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kycgate/base64.h"
#include "kycgate/sha256.h"
#include "webhooks.h"

enum kg_err kg_webhook_sign(const unsigned char *key, size_t key_len, const char *id,
                            unsigned long long timestamp_s, const char *body, size_t len,
                            char out[KG_WH_SIGNATURE_CAP])
{
	unsigned char mac[KG_SHA256_DIGEST_LEN];
	char head[64];
	int n = snprintf(head, sizeof(head), "%s.%llu.", id, timestamp_s);
	char *msg;
	enum kg_err e;

	out[0] = '\0';
	if (n < 0 || (size_t)n >= sizeof(head))
		return KG_ERR_INVALID;
	/* The body is the event (personal data): the copy is wiped. */
	msg = malloc((size_t)n + len + 1);
	if (msg == NULL)
		return KG_ERR_NOMEM;
	memcpy(msg, head, (size_t)n);
	if (len > 0)
		memcpy(msg + n, body, len);
	e = kg_hmac_sha256(key, key_len, msg, (size_t)n + len, mac);
	kg_wipe(msg, (size_t)n + len);
	free(msg);
	if (e != KG_OK)
		return e;
	memcpy(out, "v1,", 3);
	if (kg_base64_encode(mac, sizeof(mac), out + 3, KG_WH_SIGNATURE_CAP - 3) == 0)
		return KG_ERR_INTERNAL;
	return KG_OK;
}

void kg_webhook_url_origin(const char *url, char *out, size_t cap)
{
	const char *sep = strstr(url, "://"), *host, *at;
	size_t n;

	if (cap == 0)
		return;
	if (sep == NULL) {
		out[0] = '\0';
		return;
	}
	host = sep + 3;
	n = strcspn(host, "/?#");
	/* The configuration refuses user info; never show it should one get through. */
	at = memchr(host, '@', n);
	if (at != NULL) {
		n -= (size_t)(at + 1 - host);
		host = at + 1;
	}
	snprintf(out, cap, "%.*s://%.*s", (int)(sep - url), url, (int)n, host);
}
