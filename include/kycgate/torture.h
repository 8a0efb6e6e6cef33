/* Allocation-failure injection ("torture", as curl's tests and SQLite's fault hooks do), built
 * only with the CMake option KG_TORTURE (which defines KG_TORTURE). Every malloc, calloc,
 * realloc, strdup and strndup made by kycgate's own code (the kgbase, kgsim and kgcore libraries
 * and the program) is linked through the wrappers of src/base/torture.c (ld --wrap); the
 * libraries' own allocations (json-c, libcurl, libmicrohttpd, GnuTLS, libyaml) are not.
 *
 * One countdown for the whole process: once armed with n, the nth allocation from then on
 * returns NULL (once), and the others go through. Meant for a test that sends one request at a
 * time (tests/test_it_torture.c). Thread-safe. */
#ifndef KYCGATE_TORTURE_H
#define KYCGATE_TORTURE_H

#ifdef KG_TORTURE

#include <stddef.h>

/* Arms the countdown for owner (any pointer, compared only): the nth allocation from now fails.
 * n = 0 leaves it disarmed. */
void kg_torture_arm(unsigned long n, const void *owner);

/* libcurl allocates through upstream_mem.c, so through the wrappers: these are for it, and fail
 * only when KG_TORTURE_LIBCURL is set in the environment. libcurl 7.88 mishandles some of its own
 * out-of-memory paths (singlesocket() destroys a socket's transfer hash and leaves the socket
 * in use; a later hash lookup divides by zero: SIGFPE), which is libcurl's to fix, not ours. */
void *kg_torture_lib_malloc(size_t n);
void *kg_torture_lib_calloc(size_t n, size_t size);

/* When owner armed the countdown: disarms it and writes one line to stderr (write(2), no
 * allocation), "kycgate-torture: end fired=1" when the failure was injected, fired=0 when the
 * countdown never reached zero. A test reads these lines to know when its walk is done. */
void kg_torture_end(const void *owner);

#endif

#endif
