/* The integration tests' webhook receiver (webhook_rx.h): one thread per receiver, one connection
 * at a time, each answered and closed. */
#include "webhook_rx.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "harness.h"
#include "kycgate/base64.h"
#include "kycgate/sha256.h"

static bool header(const char *head, const char *name, char *out, size_t cap)
{
	size_t n = strlen(name);
	const char *p = strstr(head, "\r\n");

	while (p != NULL && p[2] != '\r') {
		const char *line = p + 2, *end = strstr(line, "\r\n");

		if (end == NULL)
			return false;
		if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
			const char *v = line + n + 1;

			while (*v == ' ')
				v++;
			snprintf(out, cap, "%.*s", (int)(end - v), v);
			return true;
		}
		p = end;
	}
	return false;
}

/* "v1," + base64 of HMAC-SHA256(secret bytes, id.ts.body), computed here from the parts (not
 * with the gateway's signing code, so that a mistake there shows). */
static bool verify(const char *id, const char *ts, const char *body, size_t len, const char *sig)
{
	unsigned char key[32], mac[KG_SHA256_DIGEST_LEN];
	char want[64], *msg;
	int n = snprintf(NULL, 0, "%s.%s.", id, ts);
	size_t i;
	bool ok;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)i;
	if (n < 0 || (msg = malloc((size_t)n + len + 1)) == NULL)
		return false;
	snprintf(msg, (size_t)n + 1, "%s.%s.", id, ts);
	memcpy(msg + n, body, len);
	ok = kg_hmac_sha256(key, sizeof(key), msg, (size_t)n + len, mac) == KG_OK;
	free(msg);
	if (!ok)
		return false;
	memcpy(want, "v1,", 3);
	kg_base64_encode(mac, sizeof(mac), want + 3, sizeof(want) - 3);
	return strcmp(sig, want) == 0;
}

static void serve(struct kt_rx *r, int c)
{
	char *buf = r->buf, v[256], id[32] = "", ts[32] = "", sig[128] = "", *end;
	size_t got = 0, want = 0, len;
	struct json_object *o;
	struct kt_hit h = {0};
	int i, tries = 0;

	while (got < sizeof(r->buf) - 1) {
		ssize_t k = recv(c, buf + got, sizeof(r->buf) - 1 - got, 0);

		if (k <= 0)
			return;
		got += (size_t)k;
		buf[got] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end == NULL)
			continue;
		want = (size_t)(end + 4 - buf);
		if (header(buf, "Content-Length", v, sizeof(v)))
			want += strtoul(v, NULL, 10);
		if (got >= want)
			break;
	}
	end = strstr(buf, "\r\n\r\n");
	if (end == NULL)
		return;
	*end = '\0';
	len = got - (size_t)(end + 4 - buf);
	header(buf, "webhook-id", id, sizeof(id));
	header(buf, "webhook-timestamp", ts, sizeof(ts));
	header(buf, "webhook-signature", sig, sizeof(sig));
	h.id = strtoll(id, NULL, 10);
	h.ts = strtoll(ts, NULL, 10);
	h.api_key = header(buf, "X-API-KEY", v, sizeof(v));
	h.ua_ok = header(buf, "User-Agent", v, sizeof(v)) && strncmp(v, "kycgate/", 8) == 0;
	h.ct_ok = header(buf, "Content-Type", v, sizeof(v)) && strcmp(v, "application/json") == 0;
	sscanf(buf, "POST %127s", h.target);
	h.sig_ok = verify(id, ts, end + 4, len, sig);
	h.body = strndup(end + 4, len);
	ck_assert_ptr_nonnull(h.body);
	h.body_len = len;
	o = json_tokener_parse(end + 4);
	h.body_id_ok = o != NULL && kt_str(o, "id") != NULL && strcmp(kt_str(o, "id"), id) == 0;
	snprintf(h.loc, sizeof(h.loc), "%s",
	         o && kt_str(o, "userLocator") ? kt_str(o, "userLocator") : "");
	json_object_put(o);
	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->n; i++)
		tries += r->hits[i].id == h.id;
	h.status = r->hold_ms > 0 ? 599 : tries < r->fail_first ? 500 : r->status;
	if (r->n < KT_RX_MAX_HITS)
		r->hits[r->n++] = h;
	else
		free(h.body);
	i = r->hold_ms;
	pthread_mutex_unlock(&r->mu);
	if (i > 0) {
		kt_sleep_ms(i);
		return;
	}
	snprintf(buf, sizeof(r->buf),
	         "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", h.status);
	send(c, buf, strlen(buf), MSG_NOSIGNAL);
}

static void *rx_main(void *arg)
{
	struct kt_rx *r = arg;

	while (!atomic_load(&r->stop)) {
		struct pollfd p = {.fd = r->fd, .events = POLLIN};
		int c;

		if (poll(&p, 1, 100) <= 0)
			continue;
		c = accept(r->fd, NULL, NULL);
		if (c < 0)
			continue;
		serve(r, c);
		close(c);
	}
	return NULL;
}

void kt_rx_start(struct kt_rx *r, int fail_first, int status)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	r->fail_first = fail_first;
	r->status = status;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r->fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(r->fd, 0);
	ck_assert_int_eq(bind(r->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(r->fd, 64), 0);
	ck_assert_int_eq(getsockname(r->fd, (struct sockaddr *)&a, &len), 0);
	r->port = ntohs(a.sin_port);
	ck_assert_int_eq(pthread_create(&r->thread, NULL, rx_main, r), 0);
}

void kt_rx_stop(struct kt_rx *r)
{
	int i;

	atomic_store(&r->stop, true);
	pthread_join(r->thread, NULL);
	close(r->fd);
	for (i = 0; i < r->n; i++)
		free(r->hits[i].body);
	r->n = 0;
	pthread_mutex_destroy(&r->mu);
}

void kt_rx_set(struct kt_rx *r, int fail_first, int status)
{
	pthread_mutex_lock(&r->mu);
	r->fail_first = fail_first;
	r->status = status;
	pthread_mutex_unlock(&r->mu);
}

void kt_rx_hold(struct kt_rx *r, int hold_ms)
{
	pthread_mutex_lock(&r->mu);
	r->hold_ms = hold_ms;
	pthread_mutex_unlock(&r->mu);
}

void kt_rx_assert_clean(struct kt_rx *r, const char *target)
{
	long long now = time(NULL);
	int i;

	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->n; i++) {
		const struct kt_hit *h = &r->hits[i];

		ck_assert_msg(h->sig_ok, "hit %d (id %lld): the signature does not verify", i,
		              h->id);
		ck_assert_msg(!h->api_key, "hit %d: the Crossmint API key reached a receiver", i);
		ck_assert(h->ua_ok && h->ct_ok && h->body_id_ok && h->id > 0);
		ck_assert_msg(h->ts > now - 300 && h->ts <= now + 5, "webhook-timestamp %lld",
		              h->ts);
		ck_assert_str_eq(h->target, target);
	}
	ck_assert_msg(r->n < KT_RX_MAX_HITS, "the receiver dropped hits past %d", KT_RX_MAX_HITS);
	pthread_mutex_unlock(&r->mu);
}

int kt_rx_count(struct kt_rx *r, long long id, int status)
{
	int i, n = 0;

	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->n; i++)
		n += (id == 0 || r->hits[i].id == id) &&
		     (status == 0 || r->hits[i].status == status);
	pthread_mutex_unlock(&r->mu);
	return n;
}

bool kt_rx_wait(struct kt_rx *r, long long id, int status)
{
	long long deadline = kt_now_ms() + KT_RX_WAIT_MS;

	while (kt_now_ms() < deadline) {
		if (kt_rx_count(r, id, status) > 0)
			return true;
		kt_sleep_ms(50);
	}
	return false;
}
