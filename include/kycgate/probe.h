/* The container health probe, `kycgate --probe [URL]` (design §1): one GET, exit status 0 on a
 * 2xx answer. With no URL it probes /healthz on the main listener of the config the server would
 * load, so a HEALTHCHECK follows server.listen and server.tls without being rewritten. */
#ifndef KYCGATE_PROBE_H
#define KYCGATE_PROBE_H

#include <stdbool.h>
#include <stddef.h>

#include "kycgate/config.h"

/* The probe gives up after this long (the container HEALTHCHECK's timeout must be longer). */
#define KG_PROBE_TIMEOUT_MS 5000L

/* Writes "SCHEME://HOST:PORT/healthz" for cfg's main listener into url (cap bytes): https when
 * server.tls is set, else http; a wildcard address (0.0.0.0, ::) becomes loopback (127.0.0.1,
 * [::1]); any other address or host name is kept. Returns KG_OK; else *why is a static reason and
 * the result is KG_ERR_CONFIG when the port is 0 (ephemeral: the file does not say where the
 * server listens) or KG_ERR_TOO_LARGE when cap is too small. Pure and thread-safe. */
enum kg_err kg_probe_url(const struct kg_config *cfg, char *url, size_t cap, const char **why);

/* GETs url once: no proxy, http and https only, at most KG_PROBE_TIMEOUT_MS, the body discarded.
 * The peer's certificate is not checked when verify is false, nor for https on loopback (the
 * certificate names the service, not 127.0.0.1). Returns true on a 2xx answer; else false with
 * a reason in err (curl's error text, or the status). Needs curl_global_init(). */
bool kg_probe_get(const char *url, bool verify, char *err, size_t errcap);

/* The `--probe` command: GETs url when it is non-NULL; else loads the config at config_path and
 * probes its main listener (certificate unchecked: it is this host's own listener). On failure
 * prints one reason to stderr (a config that does not load prints its errors). Returns the exit
 * status: 0 when healthy, else 1. Needs curl_global_init(). */
int kg_probe_main(const char *url, const char *config_path);

#endif
