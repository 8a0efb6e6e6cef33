/* Private to the config module (src/config*.c): the YAML tree, the load context with its error
 * list, and the value helpers. Not part of the public interface: include kycgate/config.h. */
#ifndef KYCGATE_CONFIG_INTERNAL_H
#define KYCGATE_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kycgate/config.h"

#define CFG_MAX_DEPTH 64    /* YAML nesting refused deeper than this */
#define CFG_MAX_NODES 65536 /* YAML nodes in one document */
#define CFG_MAX_ERRORS 100  /* errors listed; the rest are summarized in one line */
#define CFG_PATH_MAX 256    /* "auth.clients[3].scopes[1]" */

enum ynode_type { Y_SCALAR, Y_MAP, Y_SEQ, Y_ALIAS };

/* One node of a YAML document as libyaml's events describe it. A tree owns its children; scalar
 * text is wiped when freed (it may be a token). */
struct ynode {
	enum ynode_type type;
	size_t line;   /* 1-based line where the node starts */
	bool anchored; /* carried an &anchor (refused) */
	bool tagged;   /* carried an explicit !tag (refused) */
	bool plain;    /* scalar written without quotes */
	char *text;    /* Y_SCALAR: the bytes, NUL-terminated (may hold a NUL: use len) */
	size_t len;
	struct ynode **kids; /* Y_MAP: key, value, key, value...; Y_SEQ: the items */
	size_t n_kids;
	size_t cap_kids;
};

/* A growable byte string; nomem latches the first allocation failure. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool nomem;
};

/* Lines of nodes needed after the walk (0 = not present in the file). */
enum cfg_mark {
	M_NONE = 0,
	M_SERVER,
	M_TLS_CERT,
	M_TLS_KEY,
	M_CROSSMINT,
	M_ENV,
	M_BASE_URL,
	M_API_KEY,
	M_API_KEY_FILE,
	M_RETRY_BASE,
	M_AUTH,
	M_AUTH_MODE,
	M_CLIENTS,
	M_LOG,
	M_LOCKEY,
	M_LOCKEY_FILE,
	M_STORE_DRIVER,
	M_COUNT
};

/* One recorded error: "FILE:LINE: key.path: reason" (no newline). */
struct cfg_msg {
	size_t line; /* sort key (0 for whole-file problems) */
	size_t seq;  /* order of discovery, the tie-breaker */
	char *text;
};

/* State of one load: the config being built and everything wrong with it. */
struct cfg_ctx {
	const char *file;      /* FILE in messages */
	struct kg_config *cfg; /* being built; owned by the loader */
	struct cfg_msg *errs;  /* the first CFG_MAX_ERRORS errors */
	size_t n_kept;
	size_t n_errs;        /* every error found, kept or not */
	bool nomem;           /* an allocation failed: the result is KG_ERR_NOMEM */
	size_t mark[M_COUNT]; /* lines of the keys the checks after the walk need */
	bool bad[M_COUNT];    /* that key's value already had an error */
	char *lockey;         /* log.locator_hash_key as expanded (secret), NULL when absent */
};

void sb_append(struct sbuf *b, const char *s, size_t n);
/* Wipes and frees the buffer's bytes. */
void sb_free(struct sbuf *b);

/* Records "FILE:LINE: path: reason" (path may be NULL for whole-file problems: "FILE: reason").
 * The reason must never carry a secret value. */
void cfg_err(struct cfg_ctx *c, size_t line, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The errors as one new string, sorted by line, one per line each ending in '\n' (NULL when
 * out of memory); frees the list. */
char *cfg_take_errors(struct cfg_ctx *c);
/* Frees the error list. */
void cfg_drop_errors(struct cfg_ctx *c);
/* Appends "FILE:LINE: path: reason" to cfg->warnings. */
void cfg_warn(struct cfg_ctx *c, size_t line, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Copies at most cap-1 bytes of s (n bytes) into out for a message: non-printable bytes become
 * '?', and "..." marks a cut. Never use it on a secret. */
void cfg_sanitize(const char *s, size_t n, char *out, size_t cap);

/* Expands ${VAR}, ${VAR:-default} (default when VAR is unset or empty) and $${ (a literal ${)
 * in s[0..len). Returns true with *out new (NUL-terminated, length *out_len); false with a
 * reason in why (naming the variable, never a value) and *out NULL. *out must be wiped by
 * callers holding a secret. */
bool cfg_expand(const char *s, size_t len, char **out, size_t *out_len, char *why, size_t whycap);

enum cfg_num { NUM_OK, NUM_BAD, NUM_RANGE };
/* Parses unsigned decimal digits (no sign, no spaces) into *v. */
enum cfg_num cfg_parse_ull(const char *s, unsigned long long *v);

/* Splits "host:port" or "[v6]:port". Returns NULL with *host new (brackets removed) and *port,
 * else a static reason. */
const char *cfg_split_listen(const char *s, char **host, uint16_t *port);

/* Checks a base URL override in place (strips one trailing slash). Returns NULL when url is
 * acceptable for env, else a static reason. */
const char *cfg_check_url(char *url, enum kg_env env);

/* Reads a secret file (at most KG_MAX_SECRET_FILE_BYTES, trailing whitespace stripped). On
 * failure records an error at line/path and returns false. Warns when the file is group- or
 * world-readable. *out is new, NUL-terminated, to be wiped and freed. */
bool cfg_read_secret(struct cfg_ctx *c, const char *file, size_t line, const char *path, char **out,
                     size_t *len);

/* Wipes strlen(s) bytes and frees s. Accepts NULL. */
void cfg_free_secret(char *s);

/* Parses text[0..len) into a tree. Returns true with *root new (NULL for an empty stream), or
 * false after recording the syntax or structure error (or setting c->nomem). */
bool cfg_yaml_parse(struct cfg_ctx *c, const char *text, size_t len, struct ynode **root);
/* Frees a tree, wiping scalar text. Accepts NULL. */
void cfg_ynode_free(struct ynode *n);

/* Types of a schema table row. */
enum ftype { F_END = 0, F_MAP, F_UINT, F_SIZE, F_BOOL, F_STR, F_FN };

/* Where the walk of one mapping writes: a struct (kg_config or client_raw) and its marks. */
struct walk {
	struct cfg_ctx *c;
	void *base;
	size_t *marks;
	bool *bad;
};

typedef void (*field_fn)(struct cfg_ctx *c, const struct ynode *v, const char *path, void *base);

/* One key of a mapping. */
struct field {
	const char *key;
	enum ftype type;
	size_t off;                  /* destination in the walk's base */
	unsigned long long min, max; /* F_UINT, F_SIZE */
	const struct field *sub;     /* F_MAP */
	field_fn fn;                 /* F_FN */
	int mark;                    /* index in the walk's marks, 0 = none */
	bool inactive; /* its feature has not landed: reported as not active when set */
};

/* Helpers of the schema walk (config_schema.c), shared with config_clients.c. */

/* True for a plain empty scalar, "~" or "null": the key is treated as absent. */
bool cfg_is_null(const struct ynode *v);
/* "a mapping", "a list", "an empty value" or "a scalar", for type errors. */
const char *cfg_kind(const struct ynode *v);
/* Reports anchors, tags and aliases on v; false when v cannot be used (an alias). */
bool cfg_usable(struct cfg_ctx *c, const struct ynode *v, const char *path);
/* True when v is a list; records a type error otherwise. */
bool cfg_is_list(struct cfg_ctx *c, const struct ynode *v, const char *path);
/* out = path.key (or key at the root); a path too long for cap ends in "...". */
void cfg_join(char *out, size_t cap, const char *path, const char *key);
/* The expanded text of scalar v (new; free with cfg_free_secret), or NULL after recording
 * why. Reasons never contain the value. */
char *cfg_scalar(struct cfg_ctx *c, const struct ynode *v, const char *path);
/* Checks mapping m against table tab, writing into w->base. */
void cfg_walk_map(struct walk *w, const struct ynode *m, const char *path, const struct field *tab);
/* Records key (a path) as set but not active (cfg->inactive_keys). */
void cfg_add_inactive(struct cfg_ctx *c, const char *key);
/* The events.webhooks handler (config_events.c): fills cfg->events.webhooks. */
void cfg_fn_webhooks(struct cfg_ctx *c, const struct ynode *v, const char *path, void *base);
/* The events.retry_schedule_s handler (config_events.c). */
void cfg_fn_retry_schedule(struct cfg_ctx *c, const struct ynode *v, const char *path, void *base);
/* The events.watch.budget_share handler (config_events.c): a decimal in (0, 1]. */
void cfg_fn_budget_share(struct cfg_ctx *c, const struct ynode *v, const char *path, void *base);
/* The checks of events.webhooks that need the environment (config_events.c): each URL. */
void cfg_check_webhooks(struct cfg_ctx *c);
/* Checks a webhook URL (design §10): http or https, a host, no user info or fragment (a query
 * is kept); http in production only for a loopback host. NULL when acceptable, else a static
 * reason. */
const char *cfg_check_webhook_url(const char *url, enum kg_env env);
/* Frees cfg->events.webhooks, wiping secrets. */
void cfg_free_webhooks(struct kg_config *cfg);
/* The auth.clients handler (config_clients.c): fills cfg->auth.clients. */
void cfg_fn_clients(struct cfg_ctx *c, const struct ynode *v, const char *path, void *base);

/* Walks the root node into c->cfg against the schema tables (config_schema.c). */
void cfg_walk(struct cfg_ctx *c, const struct ynode *root);

#endif
