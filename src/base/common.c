/* Small helpers shared by every module: error names, wiping, hashing, hex digits, the monotonic
 * clock. */
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/random.h>
#include <time.h>

#include "kycgate/common.h"

const char *kg_err_str(enum kg_err err)
{
	switch (err) {
	case KG_OK:
		return "ok";
	case KG_ERR_NOMEM:
		return "out of memory";
	case KG_ERR_INVALID:
		return "invalid input";
	case KG_ERR_TOO_LARGE:
		return "too large";
	case KG_ERR_MEDIA_TYPE:
		return "unsupported media type";
	case KG_ERR_IO:
		return "input/output error";
	case KG_ERR_CONFIG:
		return "invalid configuration";
	case KG_ERR_UPSTREAM:
		return "upstream answer unusable";
	case KG_ERR_BUSY:
		return "capacity reached";
	case KG_ERR_INTERNAL:
		return "internal error";
	}
	return "unknown error";
}

void kg_wipe(void *p, size_t n)
{
	if (p == NULL || n == 0)
		return;
	explicit_bzero(p, n);
}

size_t kg_copy(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src), k = n < cap ? n : cap - 1;

	memcpy(dst, src, k);
	dst[k] = '\0';
	return n;
}

size_t kg_grow_size(size_t cap, size_t need, size_t max)
{
	size_t n = cap ? cap : 4096;

	while (n < need && n < max / 2)
		n *= 2;
	if (n < need)
		n = max;
	return n > max ? max : n;
}

bool kg_grow_wiped(char **buf, size_t *cap, size_t used, size_t new_cap)
{
	char *grown = malloc(new_cap);

	if (grown == NULL)
		return false;
	if (*buf != NULL) {
		memcpy(grown, *buf, used);
		kg_wipe(*buf, used);
		free(*buf);
	}
	*buf = grown;
	*cap = new_cap;
	return true;
}

uint32_t kg_fnv1a(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

int kg_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool kg_unhex(const char *s, size_t slen, unsigned char *out, size_t n)
{
	size_t i;

	if (slen / 2 != n || slen % 2 != 0)
		return false;
	for (i = 0; i < n; i++) {
		int hi = kg_hex_digit(s[2 * i]), lo = kg_hex_digit(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

unsigned long long kg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000ull +
	       (unsigned long long)ts.tv_nsec / 1000000ull;
}

unsigned long long kg_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (unsigned long long)ts.tv_sec * 1000ull +
	       (unsigned long long)ts.tv_nsec / 1000000ull;
}

unsigned long long kg_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ull +
	       (unsigned long long)ts.tv_nsec / 1000ull;
}

uint32_t kg_xorshift(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return (uint32_t)(x >> 32);
}

void kg_random_bytes(void *buf, size_t n)
{
	unsigned char *p = buf;
	ssize_t got;

	while (n > 0) {
		got = getrandom(p, n, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += got;
		n -= (size_t)got;
	}
}

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static size_t min3(size_t x, size_t y, size_t z)
{
	size_t m = x < y ? x : y;

	return m < z ? m : z;
}

size_t kg_edit_distance(const char *a, size_t alen, const char *b, size_t blen, size_t max)
{
	size_t row[KG_EDIT_DISTANCE_MAX_BYTES + 1], i, j, diag, up, best;

	if (alen > KG_EDIT_DISTANCE_MAX_BYTES || blen > KG_EDIT_DISTANCE_MAX_BYTES ||
	    (alen > blen ? alen - blen : blen - alen) > max)
		return max + 1;
	for (j = 0; j <= blen; j++)
		row[j] = j;
	/* One row of the matrix at a time; a row whose minimum is past max ends the work. */
	for (i = 1; i <= alen; i++) {
		diag = row[0];
		row[0] = i;
		best = i;
		for (j = 1; j <= blen; j++) {
			up = row[j];
			row[j] = min3(up + 1, row[j - 1] + 1,
			              diag + (ascii_lower(a[i - 1]) != ascii_lower(b[j - 1])));
			diag = up;
			best = row[j] < best ? row[j] : best;
		}
		if (best > max)
			return max + 1;
	}
	return row[blen] > max ? max + 1 : row[blen];
}
