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
struct conn;
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
	CONN_CLOSING,		/* flushing the last response */
	CONN_UPGRADED		/* taken over by another protocol (WebSocket) */
};

/*
 * A protocol that holds a request (long-polling) or took the connection
 * over (WebSocket) is told what happens to it.  cp_closed is called once
 * when the connection goes away under it (EOF, error, worker stop); the
 * conn is freed right after, so the holder must forget it.
 */
struct conn_proto {
	void	(*cp_read)(struct conn *, void *arg);	 /* input arrived */
	void	(*cp_drained)(struct conn *, void *arg); /* output written */
	void	(*cp_closed)(struct conn *, void *arg);
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
	const struct conn_proto	*c_proto;	/* CONN_BUSY, CONN_UPGRADED */
	void			*c_proto_arg;
	char			 c_peer[64];
};

/* Take over an accepted socket. */
void	conn_accept(struct worker *, int fd, const struct sockaddr *, int socklen);
/* Take over a socket handed over by another worker, with the bytes it read. */
void	conn_adopt(struct worker *, int fd, const void *bytes, size_t len);
struct evbuffer *conn_output(struct conn *);
struct evbuffer *conn_input(struct conn *);
/* Does the current request allow the connection to stay open? */
int	conn_keepalive(const struct conn *);
/*
 * Hold the current request: no response yet, no further requests read.
 * Call conn_release once the response is in conn_output.
 */
void	conn_hold(struct conn *, const struct conn_proto *, void *arg);
void	conn_release(struct conn *);
/*
 * Be told (cp_closed) if the connection closes while its current request
 * is still being read; conn_unhold forgets the watcher or holder.
 */
void	conn_watch(struct conn *, const struct conn_proto *, void *arg);
void	conn_unhold(struct conn *);
/* The watcher's argument when proto watches c, else NULL. */
void	*conn_watcher(const struct conn *, const struct conn_proto *);
/* Hand the connection to another protocol for good (after a 101 response). */
void	conn_takeover(struct conn *, const struct conn_proto *, void *arg);
/*
 * Pass the connection, with its unread input, to the worker of slot.
 * 0: it is gone from this worker (freed); -1: it stays here.
 */
int	conn_handoff(struct conn *, int slot);
/* Close once the output is written (bounded by header_timeout). */
void	conn_close_after_write(struct conn *);
/* Abort: the peer gets a TCP reset, nothing queued is sent. */
void	conn_abort(struct conn *);
/* Graceful stop: close idle connections, let busy ones finish their request. */
void	conn_stop_all(struct worker *);
/* Close at once. */
void	conn_close(struct conn *);

#endif
