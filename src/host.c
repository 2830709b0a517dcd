/*
 * host.c: the connection layer's view of its process.  See host.h.
 */
#include "config.h"

#include <string.h>

#include "host.h"
#include "stats.h"

void
host_init(struct conn_host *h)
{
	memset(h, 0, sizeof(*h));
	TAILQ_INIT(&h->ch_conns);
	STAILQ_INIT(&h->ch_flush);
	STAILQ_INIT(&h->ch_later);
	h->ch_epfd = -1;
}

void
host_conn_opened(struct conn_host *h)
{
	h->ch_nconns++;
	stats_gauge_add(STAT_G_CONNECTIONS, 1);
	stats_inc(STAT_CONNECTIONS_ACCEPTED);
}

void
host_conn_closed(struct conn_host *h)
{
	h->ch_nconns--;
	stats_gauge_add(STAT_G_CONNECTIONS, -1);
	if (h->ch_closed != NULL)
		h->ch_closed(h->ch_arg);
}
