/*
 * conn.h: one client connection in a worker: HTTP/1.1 with keep-alive
 * and pipelining, the limits and timeouts of the HTTP core, and routing.
 *
 * Ownership: the worker's connection list owns every struct conn; a conn
 * frees itself (and its bufferevent and timer) when it closes.
 */
#ifndef RAIND_CONN_H
#define RAIND_CONN_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "http.h"

struct bufferevent;
struct event;
struct worker;

/*
 * While a response is larger than this in the output buffer, pipelined
 * requests wait: a client that sends but never reads cannot make the
 * worker buffer an unbounded number of responses.
 */
#define CONN_OUTPUT_HIGH	(64 * 1024)

enum conn_state {
	CONN_IDLE,		/* keep-alive: waiting for a request */
	CONN_HEAD,		/* part of a head has arrived */
	CONN_BODY,		/* head done, waiting for the body */
	CONN_BUSY,		/* a route holds the request (async) */
	CONN_CLOSING		/* flushing the last response */
};

struct conn {
	TAILQ_ENTRY(conn)	 c_entry;
	struct worker		*c_worker;
	struct bufferevent	*c_bev;
	struct event		*c_timer;
	enum conn_state		 c_state;
	struct http_parser	 c_parser;
	struct http_request	 c_req;
	size_t			 c_nrequests;	/* served on this connection */
	int			 c_keepalive;	/* of the current request */
	char			 c_peer[64];
};

/* Take over an accepted socket. */
void	conn_accept(struct worker *, int fd, const struct sockaddr *, int socklen);
/* Graceful stop: close idle connections, let busy ones finish their request. */
void	conn_stop_all(struct worker *);
/* Close at once. */
void	conn_close(struct conn *);

#endif
