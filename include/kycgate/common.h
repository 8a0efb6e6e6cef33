/* Shared error enum, named bounds and small helpers used by every kycgate module. */
#ifndef KYCGATE_COMMON_H
#define KYCGATE_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KG_VERSION "0.1.0"

/* Every bound on bytes from the network or from a file, named once. */
#define KG_MAX_LOCATOR_BYTES 256               /* decoded locator, prefix included (design §2) */
#define KG_MAX_DOCUMENT_ID_BYTES 128           /* [A-Za-z0-9_-]{1,128} */
#define KG_MAX_ADDRESS_BYTES 128               /* wallet address [A-Za-z0-9]{1,128} */
#define KG_MAX_RAW_PATH_BYTES 2048             /* raw request target, query excluded */
#define KG_MAX_PATH_SEGMENTS 8                 /* /v1/users/{loc}/wallets/{addr} has 5 */
#define KG_MAX_REQUEST_ID_BYTES 128            /* X-Request-Id accepted from callers */
#define KG_MAX_TRACESTATE_BYTES 512            /* W3C tracestate passed through */
#define KG_MAX_JSON_DEPTH 32                   /* nesting limit for caller JSON */
#define KG_MAX_UPSTREAM_BODY_IN_PROBLEM 4096   /* upstream.body in a problem answer */
#define KG_MAX_CONFIG_FILE_BYTES (1024 * 1024) /* a YAML config file */
#define KG_MAX_SECRET_FILE_BYTES 4096          /* api_key_file, token_file, locator_hash_key_file */
#define KG_MAX_TOKEN_BYTES 4096                /* a bearer token presented by a caller */
#define KG_MAX_QUERY_VALUE_BYTES 256           /* ?products=, ?country=, ?wait=, ?expiresAt= */
#define KG_DOCUMENT_JSON_OVERHEAD 4096         /* JSON document body: base64 size plus this */

/* One error enum for every action; predicates return bool. */
enum kg_err {
	KG_OK = 0,
	KG_ERR_NOMEM,      /* allocation failed */
	KG_ERR_INVALID,    /* input breaks a rule (maps to 400) */
	KG_ERR_TOO_LARGE,  /* input over a named bound (maps to 413) */
	KG_ERR_MEDIA_TYPE, /* wrong or mismatching content type (maps to 415) */
	KG_ERR_IO,         /* a file or socket operation failed */
	KG_ERR_CONFIG,     /* configuration invalid */
	KG_ERR_UPSTREAM,   /* upstream answer unusable (maps to 502) */
	KG_ERR_BUSY,       /* a capacity limit was reached (maps to 503) */
	KG_ERR_INTERNAL,   /* a bug or an impossible state */
};

/* Static text naming an error; never NULL. */
const char *kg_err_str(enum kg_err err);

/* Overwrites n bytes at p so the compiler cannot drop the store (personal data, secrets).
 * p may be NULL when n is 0. */
void kg_wipe(void *p, size_t n);

/* Copies the string src into dst (cap > 0 bytes), cut to cap - 1 bytes, always terminated; returns
 * strlen(src), so a result >= cap means it was cut (as snprintf's "%s", at a fraction of its
 * cost on the request path). */
size_t kg_copy(char *dst, size_t cap, const char *src);

/* The capacity a growing buffer takes to hold need bytes: doubling from 4 KiB, at most max
 * (which must be >= need). */
size_t kg_grow_size(size_t cap, size_t need, size_t max);

/* Grows *buf (holding used bytes, capacity *cap) to exactly new_cap bytes (> *cap); the old
 * buffer is wiped before it is freed (it may hold personal data). Returns false on allocation
 * failure, leaving *buf and *cap unchanged. */
bool kg_grow_wiped(char **buf, size_t *cap, size_t used, size_t new_cap);

/* The 32-bit FNV-1a hash of len bytes at data (data may be NULL when len is 0): a fast
 * non-cryptographic hash for in-memory tables (the simulator's maps, the engine's per-user
 * entries, the metrics' client slots). Chosen keys can be made to collide: never use it where that
 * matters. Pure, thread-safe. */
uint32_t kg_fnv1a(const void *data, size_t len);

/* The value of one hexadecimal digit (0-9, a-f, A-F), or -1 for any other byte. Pure. */
int kg_hex_digit(char c);

/* Decodes exactly 2*n hexadecimal digits (either case) at s (slen bytes) into n bytes at out.
 * False when slen is not 2*n or a byte is not a hex digit (out may then hold a prefix). Pure. */
bool kg_unhex(const char *s, size_t slen, unsigned char *out, size_t n);

/* Fills buf with n bytes from the kernel's random source (getrandom). Thread-safe. */
void kg_random_bytes(void *buf, size_t n);

/* The next number of the xorshift64 generator whose state is *state (never 0: seed it from
 * kg_random_bytes with the low bit set): its high 32 bits. For jitter, never for secrets; one
 * thread per state. */
uint32_t kg_xorshift(uint64_t *state);

/* Longest name kg_edit_distance compares (a longer one is never "close"). */
#define KG_EDIT_DISTANCE_MAX_BYTES 64

/* The Levenshtein distance between a (alen bytes) and b (blen bytes), ASCII letters compared
 * case-insensitively, for "did you mean" suggestions. Bounded: returns max + 1 as soon as the
 * distance is known to exceed max, and for any input longer than KG_EDIT_DISTANCE_MAX_BYTES.
 * max must be below SIZE_MAX. Pure, no allocation, thread-safe. */
size_t kg_edit_distance(const char *a, size_t alen, const char *b, size_t blen, size_t max);

/* Monotonic clock in milliseconds. Thread-safe. */
unsigned long long kg_now_ms(void);

/* Wall clock (CLOCK_REALTIME) in Unix milliseconds, for times that outlive the process (the
 * store's rows). Thread-safe. */
unsigned long long kg_wall_ms(void);

/* Monotonic clock in microseconds. Thread-safe. */
unsigned long long kg_now_us(void);

#endif
