/* Small helpers shared by every module: error names, wiping, the monotonic clock. */
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

unsigned long long kg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
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
