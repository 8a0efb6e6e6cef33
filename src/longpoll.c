/* Long-poll waiters per client and the hung-up check (include/kycgate/longpoll.h). */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "kycgate/longpoll.h"
#include "kycgate/metrics.h"

#define MAX_WAIT_CLIENTS 1024

static pthread_mutex_t waiting_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char name[65];
	unsigned n;
} waiting[MAX_WAIT_CLIENTS];

/* The count of client name, under waiting_lock. */
static unsigned *waiting_slot(const char *name)
{
	size_t i;

	for (i = 0; i < MAX_WAIT_CLIENTS && waiting[i].name[0] != '\0'; i++)
		if (strcmp(waiting[i].name, name) == 0)
			return &waiting[i].n;
	if (i == MAX_WAIT_CLIENTS)
		return &waiting[MAX_WAIT_CLIENTS - 1].n; /* more clients than configurable: share */
	snprintf(waiting[i].name, sizeof(waiting[i].name), "%s", name);
	return &waiting[i].n;
}

static unsigned waiting_total; /* every client's, under waiting_lock */

enum kg_longpoll_verdict kg_longpoll_admit(const char *client, unsigned max_per_client,
                                           unsigned max_total)
{
	enum kg_longpoll_verdict v = KG_LONGPOLL_IN;
	unsigned *n;

	pthread_mutex_lock(&waiting_lock);
	n = waiting_slot(client);
	if (*n >= max_per_client)
		v = KG_LONGPOLL_CLIENT_CAP;
	else if (waiting_total >= max_total)
		v = KG_LONGPOLL_GLOBAL_CAP;
	else {
		(*n)++;
		waiting_total++;
	}
	pthread_mutex_unlock(&waiting_lock);
	if (v == KG_LONGPOLL_IN)
		kg_metrics_gauge_add(KG_GAUGE_LONGPOLL_WAITING, 1);
	return v;
}

void kg_longpoll_leave(const char *client)
{
	pthread_mutex_lock(&waiting_lock);
	(*waiting_slot(client))--;
	waiting_total--;
	pthread_mutex_unlock(&waiting_lock);
	kg_metrics_gauge_add(KG_GAUGE_LONGPOLL_WAITING, -1);
}

bool kg_longpoll_client_gone(int fd)
{
	char c;

	return fd >= 0 && recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}
