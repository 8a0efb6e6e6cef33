/* libmicrohttpd's own cost of a waiting connection, without kycgate (README "Performance",
 * "Waiters, memory (fourth pass)"): every request is suspended and never answered.
 *   cc -O2 -o /tmp/mhdfloor bench/mhdfloor.c -lmicrohttpd
 *   /tmp/mhdfloor PORT [POOL_BYTES] & python3 bench/mhdfloor.py PORT $! 10000 */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *data,
                                 size_t *data_size, void **state)
{
	(void)cls;
	(void)url;
	(void)method;
	(void)version;
	(void)data;
	(void)data_size;
	if (*state == NULL) { /* the head: come back for the body, as kycgate does */
		*state = c;
		return MHD_YES;
	}
	MHD_suspend_connection(c);
	return MHD_YES;
}

int main(int argc, char **argv)
{
	unsigned long port = argc > 1 ? strtoul(argv[1], NULL, 10) : 18089;
	size_t pool = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 16384;
	/* kycgate's daemon: two epoll threads (this machine's cores), its pool size and limits. */
	struct MHD_Daemon *d = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
	        MHD_USE_TURBO,
	    (unsigned short)port, NULL, NULL, on_access, NULL, MHD_OPTION_THREAD_POOL_SIZE, 2u,
	    MHD_OPTION_CONNECTION_LIMIT, 24000u, MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u, MHD_OPTION_END);

	if (d == NULL)
		return 1;
	pause();
	return 0;
}
