/* What the simulator answers to one fully received request: the route table, decoding of the
 * raw path (each segment percent-decoded exactly once), the API key, the faults chosen by the
 * locator, the body checks, and the call into the store's handlers. Runs on MHD threads.
 *
 * Order of checks: /_simulator/ routes (no key, not recorded); recording; 404; 405; 401; 400 for
 * a bad path parameter; the locator's fault; 415, 413 and 400 for the body; the handler. For
 * POST /documents the locator is in the body, so the body is read before the fault. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kycgate/sha256.h"
#include "sim_internal.h"

enum {
	M_GET = 1u << 0,
	M_PUT = 1u << 1,
	M_POST = 1u << 2,
	M_DELETE = 1u << 3,
};

typedef void handler_fn(struct sim_store *st, const struct sim_call *call, struct sim_answer *ans);
typedef bool check_fn(struct json_object *body, char *msg, size_t msgcap);

/* One upstream route: the segments after "/2025-06-09" ("*" is one non-empty segment). */
struct route {
	const char *segs[5];   /* NULL-terminated */
	const char *allow;     /* the Allow header of a 405 */
	unsigned methods;      /* M_* allowed */
	unsigned body_methods; /* M_* that carry a JSON body */
	int locator_seg;       /* index of the locator in segs, or -1 */
	int param_seg;         /* index of the document id or wallet address, or -1 */
	check_fn *check;       /* body schema */
	handler_fn *handler;
};

static const struct route routes[] = {
    {{"users", "*", NULL},
     "GET, PUT",
     M_GET | M_PUT,
     M_PUT,
     1,
     -1,
     sim_check_user_body,
     sim_handle_user},
    {{"users", "*", "legal-documents", NULL},
     "PUT",
     M_PUT,
     M_PUT,
     1,
     -1,
     sim_check_legal_body,
     sim_handle_legal},
    {{"users", "*", "identity-verification", NULL},
     "GET, PUT",
     M_GET | M_PUT,
     0,
     1,
     -1,
     NULL,
     sim_handle_verification},
    {{"users", "*", "linked-wallets", "*", NULL},
     "GET, PUT, DELETE",
     M_GET | M_PUT | M_DELETE,
     M_PUT,
     1,
     3,
     sim_check_wallet_body,
     sim_handle_wallet},
    {{"documents", NULL},
     "POST",
     M_POST,
     M_POST,
     -1,
     -1,
     sim_check_document_body,
     sim_handle_document_post},
    {{"documents", "*", NULL}, "GET", M_GET, 0, -1, 1, NULL, sim_handle_document_get},
};

struct seg {
	const char *p;
	size_t len;
};

/* The state of one dispatch. */
struct dispatch {
	struct kg_sim *sim;
	struct sim_req *req;
	struct sim_answer *ans;
	unsigned method; /* M_* bit, 0 for any other method */
	const struct route *route;
	struct seg segs[KG_MAX_PATH_SEGMENTS];
	size_t n_segs;
	char locator[KG_MAX_LOCATOR_BYTES + 1];
	char param[KG_MAX_RAW_PATH_BYTES + 1];
	struct json_object *body;
	struct sim_call call;
};

static unsigned method_bit(const char *method)
{
	if (strcmp(method, "GET") == 0)
		return M_GET;
	if (strcmp(method, "PUT") == 0)
		return M_PUT;
	if (strcmp(method, "POST") == 0)
		return M_POST;
	if (strcmp(method, "DELETE") == 0)
		return M_DELETE;
	return 0;
}

static const char *header(const struct sim_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

/* ---- /_simulator/ --------------------------------------------------------------------------- */

/* Serves /_simulator/requests and /_simulator/healthz; false for any other path. */
static bool serve_internal(struct dispatch *d)
{
	bool requests = strcmp(d->req->url, "/_simulator/requests") == 0;
	bool health = strcmp(d->req->url, "/_simulator/healthz") == 0;

	if (!requests && !health)
		return false;
	if (health && d->method == M_GET) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "status", json_object_new_string("ok"));
		sim_answer_json(d->ans, 200, o);
	} else if (requests && d->method == M_GET) {
		sim_answer_json(d->ans, 200, sim_recorder_render(&d->sim->recorder));
	} else if (requests && d->method == M_DELETE) {
		sim_recorder_clear(&d->sim->recorder);
		sim_answer_empty(d->ans, 204);
	} else {
		d->ans->allow = requests ? "GET, DELETE" : "GET";
		sim_answer_error(d->ans, 405, "Method not allowed");
	}
	return true;
}

/* ---- recording ------------------------------------------------------------------------------ */

/* Appends "?k=v&k2" from MHD's parsed query (a space came from '+', so it goes back). */
static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                               const char *value, size_t value_size)
{
	struct kg_buf *buf = cls;
	size_t i;

	kg_buf_add_str(buf, buf->len == 0 ? "?" : "&");
	for (i = 0; i < key_size; i++)
		kg_buf_add(buf, key[i] == ' ' ? "+" : &key[i], 1);
	if (value != NULL) {
		kg_buf_add_str(buf, "=");
		for (i = 0; i < value_size; i++)
			kg_buf_add(buf, value[i] == ' ' ? "+" : &value[i], 1);
	}
	return MHD_YES;
}

static void record(struct dispatch *d, bool key_ok)
{
	struct kg_buf query;
	struct kg_buf target;
	struct sim_record_in in = {0};

	kg_buf_init(&query, SIM_RECORD_TARGET_BYTES);
	kg_buf_init(&target, SIM_RECORD_TARGET_BYTES);
	MHD_get_connection_values_n(d->req->conn, MHD_GET_ARGUMENT_KIND, add_arg, &query);
	kg_buf_add_str(&target, d->req->url);
	if (query.len > 0)
		kg_buf_add(&target, query.data, query.len);
	in.method = d->req->method;
	in.target = target.failed || query.failed ? NULL : target.data;
	in.body = d->req->body.data;
	in.body_len = d->req->body.len;
	in.api_key_ok = key_ok;
	in.authorization = header(d->req, MHD_HTTP_HEADER_AUTHORIZATION) != NULL;
	in.content_type = header(d->req, MHD_HTTP_HEADER_CONTENT_TYPE);
	in.request_id = header(d->req, "X-Request-Id");
	in.traceparent = header(d->req, "traceparent");
	in.tracestate = header(d->req, "tracestate");
	if (in.target != NULL)
		sim_recorder_add(&d->sim->recorder, &in);
	kg_buf_cleanup(&query);
	kg_buf_cleanup(&target);
}

/* ---- routing and path parameters ------------------------------------------------------------ */

/* Splits the raw path after "/2025-06-09/" into segments; false when it does not start so or has
 * too many segments. */
static bool split_path(struct dispatch *d)
{
	static const char prefix[] = "/" SIM_VERSION_PREFIX "/";
	const char *p = d->req->url;

	if (strncmp(p, prefix, sizeof(prefix) - 1) != 0)
		return false;
	p += sizeof(prefix) - 1;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash == NULL ? strlen(p) : (size_t)(slash - p);

		if (d->n_segs == KG_MAX_PATH_SEGMENTS)
			return false;
		d->segs[d->n_segs].p = p;
		d->segs[d->n_segs].len = len;
		d->n_segs++;
		if (slash == NULL)
			return true;
		p = slash + 1;
	}
}

static bool route_matches(const struct route *r, const struct seg *segs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const char *want = r->segs[i];

		if (want == NULL || segs[i].len == 0)
			return false;
		if (strcmp(want, "*") != 0 &&
		    (strlen(want) != segs[i].len || memcmp(want, segs[i].p, segs[i].len) != 0))
			return false;
	}
	return r->segs[n] == NULL;
}

/* Finds the route; answers 404 or 405 and returns false when there is none. */
static bool match_route(struct dispatch *d)
{
	size_t i;

	if (!split_path(d))
		goto not_found;
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (route_matches(&routes[i], d->segs, d->n_segs)) {
			d->route = &routes[i];
			break;
		}
	}
	if (d->route == NULL)
		goto not_found;
	if ((d->route->methods & d->method) == 0) {
		d->ans->allow = d->route->allow;
		sim_answer_error(d->ans, 405, "Method not allowed");
		return false;
	}
	return true;
not_found:
	sim_answer_error(d->ans, 404, "Not found");
	return false;
}

/* Percent-decodes s once into out (cap bytes with the NUL); false on a malformed escape, %00 or
 * when the result does not fit. Apart from the gateway's kg_pct_decode on purpose (a test double
 * does not share the code it checks: see sim_internal.h). */
static bool decode_segment(const struct seg *s, char *out, size_t cap)
{
	size_t i;
	size_t n = 0;

	for (i = 0; i < s->len; i++) {
		int c = (unsigned char)s->p[i];

		if (c == '%') {
			int hi = i + 2 < s->len ? kg_hex_digit(s->p[i + 1]) : -1;
			int lo = hi >= 0 ? kg_hex_digit(s->p[i + 2]) : -1;

			if (lo < 0 || (hi == 0 && lo == 0))
				return false;
			c = hi * 16 + lo;
			i += 2;
		}
		if (n + 1 >= cap)
			return false;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return true;
}

/* Decodes the locator and the id / address of the path; answers 400 and returns false when
 * one is malformed. */
static bool decode_params(struct dispatch *d)
{
	const struct route *r = d->route;

	if (r->locator_seg >= 0) {
		if (!decode_segment(&d->segs[r->locator_seg], d->locator, sizeof(d->locator)) ||
		    !sim_locator_valid(d->locator, strlen(d->locator))) {
			sim_answer_error(d->ans, 400, "Invalid user locator");
			return false;
		}
		d->call.locator = d->locator;
	}
	if (r->param_seg >= 0) {
		if (!decode_segment(&d->segs[r->param_seg], d->param, sizeof(d->param))) {
			sim_answer_error(d->ans, 400, "Invalid path parameter");
			return false;
		}
		d->call.param = d->param;
	}
	return true;
}

/* ---- authentication ------------------------------------------------------------------------- */

/* The key's bytes are compared in constant time; its length is not secret here (a test double on
 * loopback), so a presented key of another length is refused at once. */
static bool key_ok(struct kg_sim *sim, const char *presented)
{
	size_t len;
	bool ok;

	if (presented == NULL || presented[0] == '\0')
		return false;
	len = strlen(presented);
	pthread_mutex_lock(&sim->key_lock);
	ok = sim->api_key == NULL ||
	     (len == sim->api_key_len && kg_ct_equal(presented, sim->api_key, len));
	pthread_mutex_unlock(&sim->key_lock);
	return ok;
}

/* ---- faults --------------------------------------------------------------------------------- */

/* Parses 1 to max_digits decimal digits making up all of s. */
static bool parse_number(const char *s, size_t max_digits, unsigned long *out)
{
	size_t i;
	unsigned long v = 0;

	for (i = 0; s[i] != '\0'; i++) {
		if (i == max_digits || s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	*out = v;
	return i > 0;
}

static void answer_malformed(struct sim_answer *ans)
{
	static const char broken[] = "{\"eligibility\": [";
	char *body = malloc(sizeof(broken));

	if (body == NULL) {
		sim_answer_error(ans, 503, "Out of memory");
		return;
	}
	memcpy(body, broken, sizeof(broken));
	sim_answer_empty(ans, 200);
	ans->body = body;
	ans->len = sizeof(broken) - 1;
	ans->json = true;
}

static void answer_status(struct sim_answer *ans, unsigned status)
{
	if (status == 204 || status == 304)
		sim_answer_empty(ans, status);
	else
		sim_answer_error(ans, status, "Simulated failure");
	if (status >= 300 && status < 400)
		ans->location = "/" SIM_VERSION_PREFIX "/simulator-redirect";
}

/* Applies the fault the locator names (userId:sim-...). Returns true when the answer is final;
 * a latency fault only sets the delay and returns false. */
static bool apply_fault(struct dispatch *d, const char *locator)
{
	static const char prefix[] = "userId:sim-";
	const char *f = locator + sizeof(prefix) - 1;
	unsigned long n;

	if (strncmp(locator, prefix, sizeof(prefix) - 1) != 0)
		return false;
	if (strncmp(f, "status-", 7) == 0 && strlen(f + 7) == 3 && parse_number(f + 7, 3, &n) &&
	    n >= 200 && n <= 599) {
		answer_status(d->ans, (unsigned)n);
		return true;
	}
	if (strncmp(f, "latency-", 8) == 0 && parse_number(f + 8, 9, &n)) {
		d->ans->delay_ms = n > SIM_MAX_LATENCY_MS ? SIM_MAX_LATENCY_MS : (unsigned)n;
		return false;
	}
	if (strncmp(f, "flaky-", 6) == 0 && parse_number(f + 6, 9, &n)) {
		if (!sim_store_flaky_fails(&d->sim->store, locator, n))
			return false;
		sim_answer_error(d->ans, 503, "Simulated transient failure");
		return true;
	}
	if (strcmp(f, "malformed") == 0) {
		answer_malformed(d->ans);
		return true;
	}
	if (strcmp(f, "reset") == 0) {
		d->ans->reset = true;
		return true;
	}
	if (strcmp(f, "ratelimit") != 0)
		return false;
	sim_answer_error(d->ans, 429, "Too many requests");
	d->ans->retry_after = "1";
	return true;
}

/* ---- bodies --------------------------------------------------------------------------------- */

static bool is_json_media_type(const char *ct)
{
	static const char json[] = "application/json";
	size_t n = sizeof(json) - 1;

	if (ct == NULL)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, json, n) != 0)
		return false;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t';
}

/* Checks the framing of the body and parses it; answers and returns false on a failure. */
static bool read_body(struct dispatch *d)
{
	const struct sim_req *req = d->req;

	if (!is_json_media_type(header(req, MHD_HTTP_HEADER_CONTENT_TYPE)))
		sim_answer_error(d->ans, 415, "Content-Type must be application/json");
	else if (req->body_too_large)
		sim_answer_error(d->ans, 413, "Request body too large");
	else if (req->body.failed)
		sim_answer_error(d->ans, 503, "Out of memory");
	else if (req->body.len == 0)
		sim_answer_error(d->ans, 400, "A JSON body is required");
	else if ((d->body = sim_parse_json(req->body.data, req->body.len)) == NULL)
		sim_answer_error(d->ans, 400, "Body is not valid JSON");
	else if (!json_object_is_type(d->body, json_type_object))
		sim_answer_error(d->ans, 400, "Body must be a JSON object");
	else
		return true;
	return false;
}

/* The reference.userLocator of a document body, when it is a valid locator. */
static const char *locator_in_body(struct json_object *body)
{
	struct json_object *ref = NULL;
	struct json_object *loc = NULL;
	const char *s;

	if (!json_object_object_get_ex(body, "reference", &ref) ||
	    !json_object_object_get_ex(ref, "userLocator", &loc) ||
	    !json_object_is_type(loc, json_type_string))
		return NULL;
	s = json_object_get_string(loc);
	if (strlen(s) != (size_t)json_object_get_string_len(loc) ||
	    !sim_locator_valid(s, strlen(s)))
		return NULL;
	return s;
}

/* Faults, body and schema; returns true when the handler is to run. */
static bool prepare(struct dispatch *d)
{
	bool takes_body = (d->route->body_methods & d->method) != 0;
	char msg[192];
	char detail[256];

	if (d->route->locator_seg < 0 && takes_body) {
		if (!read_body(d))
			return false;
		d->call.locator = locator_in_body(d->body);
		if (d->call.locator != NULL && apply_fault(d, d->call.locator))
			return false;
	} else {
		if (d->call.locator != NULL && apply_fault(d, d->call.locator))
			return false;
		if (takes_body && !read_body(d))
			return false;
	}
	if (!takes_body || d->route->check(d->body, msg, sizeof(msg)))
		return true;
	snprintf(detail, sizeof(detail), "Invalid body: %s", msg);
	sim_answer_error(d->ans, 400, detail);
	return false;
}

void sim_dispatch(struct kg_sim *sim, struct sim_req *req)
{
	struct dispatch *d = calloc(1, sizeof(*d));
	bool ok;

	if (d == NULL) {
		sim_answer_error(&req->ans, 503, "Out of memory");
		return;
	}
	d->sim = sim;
	d->req = req;
	d->ans = &req->ans;
	d->method = method_bit(req->method);
	if (serve_internal(d))
		goto out;
	ok = key_ok(sim, header(req, "X-API-KEY"));
	record(d, ok);
	if (!match_route(d))
		goto out;
	if (!ok) {
		sim_answer_error(d->ans, 401, "Unauthorized");
		goto out;
	}
	if (!decode_params(d) || !prepare(d))
		goto out;
	d->call.method = req->method;
	d->call.body = d->body;
	d->route->handler(&sim->store, &d->call, d->ans);
out:
	json_object_put(d->body);
	free(d);
}
