/*
 * conn.h: one client connection in a worker: HTTP/1.1 with keep-alive
 * and pipelining, the limits and timeouts of the HTTP core, and routing.
 *
 * Ownership: the host's connection list (host.h) owns every struct conn;
 * a conn frees itself (and its buffers, events and timer) when it
 * closes.  A conn closed from inside one of its own callbacks is freed
 * when that callback returns, so the code below it on the stack may
 * still look at it.
 *
 * A plain connection does its own I/O: its socket sits in the host's
 * epoll instance while it reads (host.h; no event of its own), and an
 * input and an output buffer exist only while bytes wait in them.  An
 * idle connection (keep-alive, held long-poll, websocket with nothing in
 * flight) holds no buffer at all.  Output is written from the event loop
 * in the same turn it was queued (a flush list in the host), and a write
 * event is made only while the socket is full.  A TLS connection goes
 * through an OpenSSL bufferevent (tls.h) instead.
 */
#ifndef RAIND_CONN_H
#define RAIND_CONN_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stddef.h>
#include <stdint.h>

#include "http.h"

struct bufferevent;
struct conn;
struct event;
struct event_base;
struct evbuffer;
struct iovec;
struct ssl_ctx_st;
struct handoff;
struct conn_host;

/*
 * While a response is larger than this in the output buffer, pipelined
 * requests wait: a client that sends but never reads cannot make the
 * worker buffer an unbounded number of responses.
 */
#define CONN_OUTPUT_HIGH	(64 * 1024)

/*
 * After the last response, the write side is shut down and what the
 * client still sends is read and thrown away for a while before the
 * socket is closed: closing with unread input makes the kernel send a
 * reset, which can destroy the response (a 413, a WebSocket close frame)
 * before the client has read it.
 */
#define CONN_LINGER_MS		2000

/* "[IPv6 address]:port" and its NUL fit. */
#define CONN_PEER_MAX		64
#define CONN_LINGER_MAX		(4 * 1024 * 1024)	/* bytes discarded at most */

/* A plain connection reads at most this much from its socket per turn. */
#define CONN_READ_MAX		(16 * 1024)

enum conn_state {
	CONN_IDLE,		/* keep-alive: waiting for a request */
	CONN_HEAD,		/* part of a head has arrived */
	CONN_BODY,		/* head done, waiting for the body */
	CONN_BUSY,		/* a route holds the request (async) */
	CONN_CLOSING,		/* flushing the last response */
	CONN_LINGER,		/* written and shut down; discarding input */
	CONN_UPGRADED		/* taken over by another protocol (WebSocket) */
};

/*
 * Routing.  A site is what the connections of one listening socket
 * serve: routes tried in order, the first that takes a request answers
 * it, and a request no route takes gets a 404.  The worker builds its
 * sites at start (routes.c); this module knows no path and no protocol.
 */
#define CONN_METHOD(m)		(1u << (m))	/* a bit of cr_methods */
#define CONN_HEAD_BODY		0	/* cr_head: read the body, then cr_request */
#define CONN_HEAD_DONE		1	/* cr_head: answered, or the connection moved */

struct conn_route {
	/* Does the route take req?  NULL: when the path is cr_path exactly. */
	int		(*cr_match)(void *arg, const struct http_request *);
	const char	*cr_path;
	unsigned	 cr_methods;	/* CONN_METHOD bits; 0: any (cr_request checks) */
	const char	*cr_allow;	/* the Allow header of a 405 */
	/*
	 * Optional, once the head is in and before the body is read.  With
	 * cr_flush set it is called only once earlier responses are written
	 * (a route that may move the connection to another process needs
	 * it).
	 */
	int		(*cr_head)(void *arg, struct conn *,
			    const struct http_request *);
	int		 cr_flush;
	/* The whole request is in; the answer goes to conn_output. */
	void		(*cr_request)(void *arg, struct conn *,
			    const struct http_request *, const char *body,
			    size_t bodylen);
	void		*cr_arg;
};

#define CONN_SITE_ROUTES_MAX	8

struct conn_site {
	const char		*cs_name;	/* in log lines: "public", "metrics", ... */
	struct conn_route	 cs_routes[CONN_SITE_ROUTES_MAX];
	size_t			 cs_nroutes;
	/*
	 * Optional: write the HTTP core's own answers (404, 405, 408, 413,
	 * ...) in the site's form; extra holds header lines or is NULL.
	 * Plain text without it.
	 */
	void			(*cs_error)(struct conn *, int status,
				    const char *reason, const char *extra,
				    int keepalive);
};

/* Append a route (copied); fatal beyond CONN_SITE_ROUTES_MAX. */
void	conn_site_add(struct conn_site *, const struct conn_route *);
/* The route of site that takes req, or NULL. */
const struct conn_route *conn_site_find(const struct conn_site *,
	    const struct http_request *);

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

/*
 * Who is at the other end, kept compact and written out when a log line
 * asks (conn_peer): as text, 64 bytes were a twentieth of an idle
 * connection.  A socketpair's peer (a relayed TLS client, a forwarded
 * request) is the text it was handed over with.
 */
struct conn_addr {
	union {
		struct in_addr	 cau_v4;
		struct in6_addr	 cau_v6;
		char		*cau_text;	/* AF_UNIX: xstrdup'd */
	}			 ca_u;
	uint16_t		 ca_port;	/* host order */
	uint8_t			 ca_family;	/* AF_INET, AF_INET6, AF_UNIX */
};

struct conn {
	TAILQ_ENTRY(conn)	 c_entry;
	struct conn_host	*c_host;
	/* TLS: the OpenSSL bufferevent; NULL for a plain connection. */
	struct bufferevent	*c_bev;
	/* Plain: the buffers while bytes wait in them. */
	struct evbuffer		*c_in;
	struct evbuffer		*c_out;
	struct event		*c_wev;		/* while the socket is full */
	struct event		*c_timer;
	STAILQ_ENTRY(conn)	 c_flush;	/* on ch_flush (CONN_IO_FLUSH) */
	STAILQ_ENTRY(conn)	 c_later;	/* on ch_later (CONN_IO_LATER) */
	const struct conn_proto	*c_proto;	/* CONN_BUSY, CONN_UPGRADED */
	void			*c_proto_arg;
	const struct conn_site	*c_site;	/* what the connection serves */
	const struct conn_route	*c_route;	/* of the request being read */
	struct http_parser	 c_parser;
	int			 c_fd;		/* plain: the socket */
	uint8_t			 c_state;	/* enum conn_state */
	uint8_t			 c_keepalive;	/* of the current request */
	uint8_t			 c_io;		/* CONN_IO_* */
	uint8_t			 c_refs;	/* callbacks and queues holding it */
	/*
	 * The parsed head lives on the stack of conn_process only: a
	 * struct http_request is kilobytes, too much to keep for every idle
	 * or websocket connection.  Between reads only its sizes are kept
	 * (max_header_size and max_body_size bound them well under 4 GB).
	 */
	uint32_t		 c_headlen;	/* CONN_BODY: bytes of the head */
	uint32_t		 c_bodylen;	/* CONN_BODY: bytes of the body */
	uint32_t		 c_nrequests;	/* served (keepalive_requests) */
	uint32_t		 c_lingered;	/* bytes discarded in CONN_LINGER */
	struct conn_addr	 c_addr;	/* see conn_peer */
};

/*
 * The peer as "address:port" (or the text it was handed over with), for
 * log lines.  The string lives in a small ring of per-thread buffers:
 * valid until CONN_PEER_RING more calls, so a log line may name a few.
 */
#define CONN_PEER_RING	4
const char *conn_peer(const struct conn *);

/* Take over an accepted socket; TLS with tls (the listener's context) set. */
void	conn_accept(struct conn_host *, const struct conn_site *, int fd,
	    const struct sockaddr *, int socklen, struct ssl_ctx_st *tls);
/* Take over a socket handed over by another worker, with the bytes it read. */
void	conn_adopt(struct conn_host *, const struct conn_site *, int fd,
	    const char *peer, const void *bytes, size_t len);
/*
 * The output buffer, made if need be; what is added to it is written from
 * the event loop.  Valid until the caller returns to the loop.
 */
struct evbuffer *conn_output(struct conn *);
/* Bytes waiting in the output (0 when it has no buffer). */
size_t	conn_output_len(const struct conn *);
/* The input buffer, made if need be (empty then); as conn_output. */
struct evbuffer *conn_input(struct conn *);
size_t	conn_input_len(const struct conn *);
/* Call the holder's cp_read again from a later turn of the loop. */
void	conn_read_later(struct conn *);
struct event_base *conn_base(const struct conn *);
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
/*
 * Write iov[0..n) to the socket at once, without the output buffer and
 * its event, when the connection was taken over, is not TLS and has
 * nothing queued.  Returns the bytes written (0 when it could not, or the
 * socket is full); the caller queues the rest with conn_output.
 */
ssize_t	conn_write_direct(struct conn *, const struct iovec *, int n);
/* Bytes the kernel holds unsent for the socket (0 for TLS, or unknown). */
size_t	conn_kernel_queued(struct conn *);
/* Hand the connection to another protocol for good (after a 101 response). */
void	conn_takeover(struct conn *, const struct conn_proto *, void *arg);
/*
 * Pass the connection, with its unread input, to the worker of slot.
 * 0: it is gone from this worker (freed); -1: it stays here.
 *
 * A TLS connection cannot move: its session keys live in this process.
 * It is handed over as one end of a socketpair instead, with the
 * plaintext already read, and the worker of slot adopts that end as a
 * plain connection.  This worker keeps the TLS connection and relays the
 * plaintext both ways for the rest of its life (tls_relay in tls.h: a
 * bounded buffer per direction, reading paused while the other side does
 * not keep up, and one side closed when the other closes).  So polling
 * requests and websocket upgrades over TLS reach the session's worker as
 * they do without TLS, at the cost of one copy per byte and two
 * descriptors here.
 */
int	conn_handoff(struct conn *, int slot);
/* The same through another generation's channels (handoff_sender_new). */
int	conn_handoff_via(struct conn *, struct handoff *, int slot);
/* Close once the output is written (bounded by header_timeout). */
void	conn_close_after_write(struct conn *);
/* Abort: the peer gets a TCP reset, nothing queued is sent. */
void	conn_abort(struct conn *);
/* Free what the connection layer keeps in h (after its last conn is freed). */
void	conn_host_done(struct conn_host *);
/* Graceful stop: close idle connections, let busy ones finish their request. */
void	conn_stop_all(struct conn_host *);
/* Close at once. */
void	conn_close(struct conn *);

#endif
