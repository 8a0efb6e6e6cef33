/* The growable, bounded, wiped byte buffer (kycgate/buf.h). */
#include <stdlib.h>
#include <string.h>

#include "kycgate/buf.h"
#include "kycgate/common.h"

void kg_buf_init(struct kg_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

bool kg_buf_add(struct kg_buf *b, const void *bytes, size_t len)
{
	if (b->failed)
		return false;
	if (len == 0)
		return true;
	if (len > b->max - b->len) {
		b->failed = true;
		return false;
	}
	if (b->len + len + 1 > b->cap &&
	    !kg_grow_wiped(&b->data, &b->cap, b->len,
	                   kg_grow_size(b->cap, b->len + len + 1, b->max + 1))) {
		b->failed = true;
		return false;
	}
	memcpy(b->data + b->len, bytes, len);
	b->len += len;
	b->data[b->len] = '\0';
	return true;
}

bool kg_buf_add_str(struct kg_buf *b, const char *s)
{
	return kg_buf_add(b, s, strlen(s));
}

void kg_buf_cleanup(struct kg_buf *b)
{
	if (b == NULL)
		return;
	if (b->data != NULL)
		kg_wipe(b->data, b->len);
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->failed = false;
}
