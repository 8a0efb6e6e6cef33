/* The main thread's loop (design §4, §5, §8): signals through a signalfd, the config file and its
 * secret files watched with inotify (debounced with a timerfd), reloads validated in full and
 * swapped in atomically, and the shutdown sequence (drain, quiesce, grace, stop). */
#ifndef KYCGATE_CONTROL_H
#define KYCGATE_CONTROL_H

struct kg_gateway;

/* Runs until SIGTERM / SIGINT has been carried through the shutdown sequence; the gateway is then
 * ready for kg_gateway_stop(). path is the config file to reload; sfd a signalfd for SIGHUP,
 * SIGTERM and SIGINT. Returns 0, or 1 when the loop could not be set up. */
int kg_control_run(const char *path, struct kg_gateway *gw, int sfd);

#endif
