/* The one place the request path reads libmicrohttpd's view of a request head: at the first
 * callback, the headers the handlers need, the framing verdict, the query arguments and the
 * socket (for the long-poll's hung-up check) are copied into the request (struct kg_req_head,
 * req->query), so that the header phase (checks.c) and the handlers see plain data and can be
 * tested without a socket.
 *
 * The framing scan must run here: it reads where libmicrohttpd put each header value in its
 * read buffer (see value_gap). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway.h"

struct framing {
	struct kg_req *req;
	unsigned content_length, transfer_encoding, authorization;
	bool bad_name, folded, bad_cl, bad_te;
};

/* libmicrohttpd 0.9.75 parses each header line in place: the name ends at the colon (made a
 * NUL), the value starts after the spaces and tabs that follow. A folded line (obs-fold, a line
 * starting with a space or tab) is joined onto the previous header's *name*, which is copied
 * elsewhere, and the value is left where it was ("Content-Length:\r\n 112" becomes the header
 * "Content-Length112" with an empty value). So a header whose value does not sit right after its
 * name's NUL and some blanks was folded. Returns the number of blanks before the value, or -1 for a
 * folded header. Reads only bytes of the header line, back from the value to the colon. */
static int value_gap(const char *key, const char *value)
{
	const char *p = value;

	while (p[-1] == ' ' || p[-1] == '\t')
		p--;
	if (p[-1] != '\0' || p - 1 != key + strlen(key))
		return -1;
	return (int)(value - p);
}

static bool all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Framing headers are taken only in their plain form: at most one blank after the colon, then
 * bare digits or exactly "chunked", nothing after (a proxy may read any other form differently). */
static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
	struct framing *f = cls;
	const char *p;
	int gap = value != NULL ? value_gap(key, value) : -1;

	for (p = key; *p != '\0'; p++)
		f->bad_name |= isspace((unsigned char)*p) != 0;
	f->folded |= gap < 0;
	if (strcasecmp(key, "Content-Length") == 0) {
		f->content_length++;
		f->bad_cl |= gap != 0 && gap != 1;
		if (value != NULL && all_digits(value)) {
			errno = 0;
			f->req->declared_len = strtoull(value, NULL, 10);
			f->req->declared = errno == 0;
		}
		f->bad_cl |= !f->req->declared;
	}
	if (strcasecmp(key, "Authorization") == 0)
		f->authorization++;
	if (strcasecmp(key, "Transfer-Encoding") == 0) {
		f->transfer_encoding++;
		f->bad_te |=
		    value == NULL || (gap != 0 && gap != 1) || strcmp(value, "chunked") != 0;
	}
	return MHD_YES;
}

/* Framing libmicrohttpd accepts but a proxy in front would read differently (design §2, §8). */
static const char *framing_refusal(struct kg_req *req, struct MHD_Connection *conn)
{
	struct framing f = {.req = req};

	MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, &f);
	if (f.folded)
		return "a header line is folded (continued on the next line)";
	if (f.bad_name)
		return "a header name contains whitespace";
	if (f.content_length > 1)
		return "more than one Content-Length header";
	if (f.transfer_encoding > 1)
		return "more than one Transfer-Encoding header";
	if (f.content_length > 0 && f.transfer_encoding > 0)
		return "both Content-Length and Transfer-Encoding";
	if (f.bad_cl)
		return "a Content-Length other than bare digits";
	if (f.bad_te)
		return "a Transfer-Encoding other than chunked";
	if (f.authorization > 1)
		return "more than one Authorization header";
	return NULL;
}

static enum MHD_Result count_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
	(*(size_t *)cls)++;
	return MHD_YES;
}

static enum MHD_Result copy_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
	struct kg_req *req = cls;

	req->query[req->n_query++] = (struct kg_query_arg){key, value};
	return MHD_YES;
}

/* The query arguments, in order, into req->query. */
static bool capture_query(struct kg_req *req, struct MHD_Connection *conn)
{
	size_t n = 0;

	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, count_arg, &n);
	if (n == 0)
		return true;
	req->query = calloc(n, sizeof(*req->query));
	if (req->query == NULL)
		return false;
	req->n_query = 0;
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, copy_arg, req);
	return true;
}

static const char *header(struct MHD_Connection *conn, const char *name)
{
	return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

void kg_req_capture(struct kg_req *req, struct MHD_Connection *conn)
{
	struct kg_req_head *h = &req->head;
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

	h->request_id = header(conn, "X-Request-Id");
	h->traceparent = header(conn, "traceparent");
	h->tracestate = header(conn, "tracestate");
	h->authorization = header(conn, "Authorization");
	h->content_type = header(conn, "Content-Type");
	h->content_length = header(conn, "Content-Length");
	h->idempotency_key = header(conn, "Idempotency-Key");
#ifdef KG_TORTURE
	h->torture = header(conn, "X-Kycgate-Torture");
#endif
	h->framing = framing_refusal(req, conn);
	h->oom = !capture_query(req, conn);
	req->fd = ci != NULL ? ci->connect_fd : -1;
}

void kg_req_capture_free(struct kg_req *req)
{
	free(req->query);
	req->query = NULL;
	req->n_query = 0;
}
