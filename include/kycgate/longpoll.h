/* Long-poll bookkeeping (design §2, GET .../verification?wait=N): how many requests each client
 * has waiting (verification.max_waiting_per_client), and whether a waiting caller hung up. */
#ifndef KYCGATE_LONGPOLL_H
#define KYCGATE_LONGPOLL_H

#include <stdbool.h>

/* Why kg_longpoll_admit() refused, or that it counted the request. */
enum kg_longpoll_verdict {
	KG_LONGPOLL_IN = 0,     /* counted: give it back with kg_longpoll_leave() */
	KG_LONGPOLL_CLIENT_CAP, /* the client has max_per_client waiting already */
	KG_LONGPOLL_GLOBAL_CAP, /* the gateway has max_total waiting already (every client) */
};

/* Counts one more waiting request of client (a name, copied) unless it has max_per_client
 * waiting already or all clients together have max_total (verification.max_waiting): KG_LONGPOLL_IN
 * when counted (the kycgate_longpoll_waiting gauge moves with it). The table is process state
 * across reloads; more distinct clients than it holds share its last place. Thread-safe. */
enum kg_longpoll_verdict kg_longpoll_admit(const char *client, unsigned max_per_client,
                                           unsigned max_total);

/* Gives back a place kg_longpoll_admit() counted for client.
 * Thread-safe. */
void kg_longpoll_leave(const char *client);

/* The caller on socket fd hung up (an orderly close seen by a peek that consumes nothing):
 * libmicrohttpd does not notice while the connection is suspended. fd < 0: false. Never blocks. */
bool kg_longpoll_client_gone(int fd);

#endif
