/* The main thread's loop (design §4, §5, §8): signals through a signalfd, the config file and its
 * secret files watched with inotify (debounced with a timerfd), reloads validated in full and
 * swapped in atomically, and the shutdown sequence (drain, quiesce, grace, stop). */
#ifndef KYCGATE_CONTROL_H
#define KYCGATE_CONTROL_H

struct kg_gateway;
struct kg_control;

/* Sets up the loop and the file watch (before the gateway says it listens, so no change made
 * after that is missed). path is the config file to reload (borrowed); sfd a non-blocking
 * signalfd for SIGHUP, SIGTERM and SIGINT. Returns NULL when it cannot be set up. */
struct kg_control *kg_control_new(const char *path, struct kg_gateway *gw, int sfd);

/* Runs until SIGTERM / SIGINT has been carried through the shutdown sequence; the gateway is then
 * ready for kg_gateway_stop(). */
void kg_control_run(struct kg_control *c);

/* Frees the loop (not the signalfd). Accepts NULL. */
void kg_control_free(struct kg_control *c);

#endif
