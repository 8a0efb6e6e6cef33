/* Shared by the fuzz targets (tests/fuzz/fuzz_*.c): the libFuzzer entry point's prototype and
 * the check that turns a broken property into a crash libFuzzer reports. */
#ifndef KYCGATE_FUZZ_H
#define KYCGATE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Called by libFuzzer (or by replay.c) once per input; returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property every input must keep: when it fails, says which and aborts (a crash). */
#define FUZZ_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__,        \
			        #cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif
