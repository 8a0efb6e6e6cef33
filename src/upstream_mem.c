/* libcurl's memory, wiped on free (design §5): libcurl builds every request head, the
 * X-API-KEY header included, in buffers of its own and frees them after each transfer. With
 * these callbacks every block libcurl frees (its header lists, request buffers, connection
 * state) is cleared to its usable size first, and a block that moves on realloc is cleared
 * before it is released. Blocks allocated by the TLS library or nghttp2 do not pass here. */
#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "kycgate/common.h"
#include "kycgate/torture.h"
#include "kycgate/upstream.h"
#include "upstream_internal.h"

#ifdef KG_TORTURE
#define malloc(n) kg_torture_lib_malloc(n) /* libcurl's allocations: see kycgate/torture.h */
#define calloc(n, size) kg_torture_lib_calloc(n, size)
#endif

static atomic_ulong failures;

unsigned long up_mem_failures(void)
{
	return atomic_load(&failures);
}

/* p, counting a failed allocation. */
static void *counted(void *p)
{
	if (p == NULL)
		atomic_fetch_add(&failures, 1);
	return p;
}

static void *wipe_malloc(size_t n)
{
	return counted(malloc(n));
}

static void wipe_free(void *p)
{
	if (p == NULL)
		return;
	kg_wipe(p, malloc_usable_size(p));
	free(p);
}

/* Grows or shrinks by copying, so the old block is never released with its bytes intact (glibc's
 * realloc would free it as it is). A block that already holds n bytes is kept. */
static void *wipe_realloc(void *p, size_t n)
{
	size_t old;
	void *q;

	if (p == NULL)
		return counted(malloc(n));
	old = malloc_usable_size(p);
	if (n <= old && n > 0)
		return p;
	q = counted(malloc(n > 0 ? n : 1));
	if (q == NULL)
		return NULL; /* p is still valid, as realloc leaves it */
	memcpy(q, p, old < n ? old : n);
	wipe_free(p);
	return q;
}

static char *wipe_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = counted(malloc(n));

	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

static void *wipe_calloc(size_t nmemb, size_t size)
{
	return counted(calloc(nmemb, size));
}

enum kg_err kg_upstream_global_init(void)
{
	CURLcode rc = curl_global_init_mem(CURL_GLOBAL_DEFAULT, wipe_malloc, wipe_free,
	                                   wipe_realloc, wipe_strdup, wipe_calloc);

	return rc == CURLE_OK ? KG_OK : KG_ERR_INTERNAL;
}

void kg_upstream_global_cleanup(void)
{
	curl_global_cleanup();
}
