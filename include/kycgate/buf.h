/* A growable byte buffer for text built piece by piece (the simulator's request bodies and
 * recorded targets).
 *
 * Bounded: it never holds more than the max given to kg_buf_init(). Private: whenever its bytes
 * move (growth) or are let go (cleanup) the old copy is wiped first, as it may hold personal data.
 * It grows with kg_grow_size() / kg_grow_wiped() (common.h), the growth the gateway's request and
 * answer bodies use on their own fields. A failed add (memory short, or past max) is sticky: the
 * buffer keeps what it held and every later add does nothing, so a builder checks once at the end.
 * Not thread-safe. */
#ifndef KYCGATE_BUF_H
#define KYCGATE_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct kg_buf {
	char *data;  /* owned; NUL-terminated when not NULL (NULL until the first byte is added) */
	size_t len;  /* bytes held, the NUL excluded */
	size_t cap;  /* bytes allocated, the NUL included */
	size_t max;  /* most bytes it may hold, the NUL excluded */
	bool failed; /* an add failed: memory was short or max would have been passed */
};

/* Makes b empty, holding at most max bytes (max < SIZE_MAX). */
void kg_buf_init(struct kg_buf *b, size_t max);

/* Appends len bytes (any bytes; bytes may be NULL when len is 0). Returns false when this add or
 * an earlier one failed (b->failed). */
bool kg_buf_add(struct kg_buf *b, const void *bytes, size_t len);

/* Appends the string s without its NUL; as kg_buf_add(). */
bool kg_buf_add_str(struct kg_buf *b, const char *s);

/* Wipes and frees the bytes; b is then empty with the same max and no failure. Accepts NULL. */
void kg_buf_cleanup(struct kg_buf *b);

#endif
