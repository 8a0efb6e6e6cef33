/* Event log lines on stdout: one write() per line of at most KG_LOG_LINE_MAX bytes, JSON or text.
 * Callers pass only values that are safe to log: never bodies, tokens, keys or locators. */
#ifndef KYCGATE_LOG_H
#define KYCGATE_LOG_H

#include "kycgate/config.h"

#define KG_LOG_LINE_MAX 4096

/* Sets the threshold and the format (start and reload). Thread-safe. */
void kg_log_setup(enum kg_log_level level, enum kg_log_format format);

/* Writes one line: level, event name and pairs of (const char *key, const char *value) ending
 * with NULL; values are escaped. Lines below the threshold are skipped. A line that would block
 * is dropped. Thread-safe; never call from a signal handler. */
void kg_log(enum kg_log_level level, const char *event, ...);

#endif
