/* Allocation-failure injection (kycgate/torture.h), compiled only with KG_TORTURE.
 *
 * The link step gets -Wl,--wrap=malloc,... (CMakeLists.txt), so that a call to malloc() from an
 * object of our own becomes a call to __wrap_malloc() below, and __real_malloc() is the real one:
 * libc's, or AddressSanitizer's interceptor in a sanitizer build, which therefore still sees
 * every block and reports the ones a failure path leaks. Shared libraries are linked on their
 * own, so their internal allocations never come here, except libcurl's, which it makes through
 * our callbacks (upstream_mem.c) and which kg_torture_lib_malloc() lets through by default. */
#include <execinfo.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kycgate/torture.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

/* Allocations left before the failing one (0: disarmed), who armed it, and whether it fired. */
static atomic_ulong countdown;
static _Atomic(uintptr_t) armed_by;
static atomic_bool fired;

void kg_torture_arm(unsigned long n, const void *owner)
{
	atomic_store(&fired, false);
	atomic_store(&armed_by, (uintptr_t)owner);
	atomic_store(&countdown, n);
}

void kg_torture_end(const void *owner)
{
	char line[64];
	int len;

	if (owner == NULL || atomic_load(&armed_by) != (uintptr_t)owner)
		return;
	atomic_store(&countdown, 0);
	atomic_store(&armed_by, 0);
	len = snprintf(line, sizeof(line), "kycgate-torture: end fired=%d\n",
	               atomic_load(&fired) ? 1 : 0);
	if (write(STDERR_FILENO, line, (size_t)len) < 0)
		return;
}

/* With KG_TORTURE_BACKTRACE set in the environment, the failing allocation's stack goes to
 * stderr (addresses: addr2line -e kycgate -f -i turns them into lines), to find which one it was.
 */
static void where(void)
{
	void *frames[32];
	int n;

	if (getenv("KG_TORTURE_BACKTRACE") == NULL)
		return;
	n = backtrace(frames, 32);
	backtrace_symbols_fd(frames, n, STDERR_FILENO);
}

/* True for the one allocation that must fail: the countdown goes from 1 to 0. */
static bool fail_now(void)
{
	unsigned long c = atomic_load(&countdown);

	while (c > 0) {
		if (atomic_compare_exchange_weak(&countdown, &c, c - 1)) {
			if (c != 1)
				return false;
			atomic_store(&fired, true);
			where();
			return true;
		}
	}
	return false;
}

static bool lib_fails(void)
{
	static atomic_int fails = -1; /* read from the environment once */
	int f = atomic_load(&fails);

	if (f < 0) {
		f = getenv("KG_TORTURE_LIBCURL") != NULL;
		atomic_store(&fails, f);
	}
	return f == 1;
}

void *kg_torture_lib_malloc(size_t n)
{
	return lib_fails() ? __wrap_malloc(n) : __real_malloc(n);
}

void *kg_torture_lib_calloc(size_t n, size_t size)
{
	return lib_fails() ? __wrap_calloc(n, size) : __real_calloc(n, size);
}

void *__wrap_malloc(size_t n)
{
	return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return fail_now() ? NULL : __real_calloc(n, size);
}

/* A failing realloc leaves the block as it was, as the real one does. */
void *__wrap_realloc(void *p, size_t n)
{
	return fail_now() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	return fail_now() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return fail_now() ? NULL : __real_strndup(s, n);
}
