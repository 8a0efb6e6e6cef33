/* The built-in Crossmint simulator (design §7): an HTTP server that serves the upstream paths of
 * crossmint/users-openapi.yaml from memory, for development, tests, demos and benchmarks.
 *
 * It runs its own libmicrohttpd daemon (thread pool, epoll, suspend/resume) and one timer thread
 * for delays, so a thousand slow calls at once hold no thread each. */
#ifndef KYCGATE_SIMULATOR_H
#define KYCGATE_SIMULATOR_H

#include <stddef.h>
#include <stdint.h>

struct kg_sim;

/* The review delay of the standalone simulator when --review-delay-ms is not given: the value
 * conf/dev.yaml sets (and the config default), so both simulators behave alike. */
#define KG_SIM_REVIEW_DELAY_MS_DEFAULT 2000

/* The standalone simulator's options, one per line, for `kycgate --help` and `kycgate simulator
 * --help`. Static text. */
extern const char kg_sim_options_help[];

struct kg_sim_opts {
	const char *host;         /* bind address, "127.0.0.1" when NULL */
	uint16_t port;            /* 0 = ephemeral */
	const char *api_key;      /* required X-API-KEY; NULL: any non-empty key is accepted */
	unsigned review_delay_ms; /* pending-review -> verified after this long */
	const char (*edd_countries)[3]; /* residents here need proof-of-address and -income */
	size_t n_edd_countries;
	unsigned threads;         /* MHD thread pool size, 0 = 2 */
	unsigned max_connections; /* 0 = 4096 */
};

/* Starts a simulator. Returns a new handle (kg_sim_stop frees it), or NULL with a reason written
 * to err (cap errcap). The options are copied. */
struct kg_sim *kg_sim_start(const struct kg_sim_opts *opts, char *err, size_t errcap);

/* The bound port (useful with port 0). */
uint16_t kg_sim_port(const struct kg_sim *sim);

/* Replaces the required API key (the embedded simulator follows the gateway's key across
 * reloads). NULL accepts any non-empty key. Thread-safe. */
void kg_sim_set_api_key(struct kg_sim *sim, const char *api_key);

/* Replaces review delay and EDD countries (reload). Thread-safe. */
void kg_sim_set_behaviour(struct kg_sim *sim, unsigned review_delay_ms,
                          const char (*edd_countries)[3], size_t n_edd_countries);

/* Stops the daemon (answering every delayed request first), frees all state. Accepts NULL. */
void kg_sim_stop(struct kg_sim *sim);

/* `kycgate simulator --listen HOST:PORT [options]` (kg_sim_options_help): runs a
 * standalone simulator until SIGINT / SIGTERM, printing one JSON line
 * {"level":"info","event":"simulator-listening","address":"HOST:PORT"} on stdout once it listens.
 * argv[0] is "simulator". Returns the process exit code. */
int kg_sim_main(int argc, char **argv);

#endif
