/*
 * host.h: what the connection layer (conn.c, tls.c) needs of the process
 * it runs in, so that it never reaches up into the worker.
 *
 * The worker embeds one struct conn_host and fills it at start.  The host
 * is the one owner of the connection count: conn.c and tls.c (relays)
 * call host_conn_opened and host_conn_closed, nothing else touches
 * ch_nconns.
 */
#ifndef RAIND_HOST_H
#define RAIND_HOST_H

#include <sys/queue.h>

#include <stddef.h>

struct conf;
struct conn;
struct event;
struct event_base;
struct evbuffer;
struct handoff;

#define HOST_SPARE_BUFFERS	16

TAILQ_HEAD(conn_list, conn);
STAILQ_HEAD(conn_queue, conn);

struct conn_host {
	struct event_base	*ch_base;
	const struct conf	*ch_conf;
	struct handoff		*ch_handoff;	/* to the other workers, or NULL */
	struct conn_list	 ch_conns;	/* HTTP and websocket connections */
	size_t			 ch_nconns;	/* those and TLS relays */
	int			 ch_closing;	/* no more keep-alive (stop, drain) */
	/*
	 * conn.c's: connections with output to write in this turn of the
	 * loop, and those whose protocol reads again in the next one; each
	 * queue has one event, made on first use.
	 */
	struct conn_queue	 ch_flush;
	struct conn_queue	 ch_later;
	struct event		*ch_flush_ev;
	struct event		*ch_later_ev;
	/*
	 * conn.c's: the epoll instance that watches plain connections'
	 * sockets for input, and the one libevent event that watches it.
	 * A connection then costs an epoll entry and no struct event or
	 * libevent bookkeeping of its own.  Made on first use; -1 before.
	 */
	int			 ch_epfd;
	struct event		*ch_epoll_ev;
	/*
	 * Emptied connection buffers kept for the next to need one, so that
	 * a message read and answered costs no buffer allocation.
	 */
	struct evbuffer		*ch_spare[HOST_SPARE_BUFFERS];
	size_t			 ch_nspare;
	/* After a connection or relay closed (ch_nconns already down). */
	void			(*ch_closed)(void *arg);
	void			*ch_arg;
};

void	host_init(struct conn_host *);
void	host_conn_opened(struct conn_host *);
void	host_conn_closed(struct conn_host *);

#endif
