/*
 * eio.h: the Engine.IO v4 server of a worker, and the Socket.IO
 * connections it carries.
 *
 * Requests under the configured path (default /socket.io/) come here from
 * conn.c.  A handshake creates a session owned by this worker; its sid
 * names the node, the worker slot and the generation, so a request for a
 * session owned by another worker of the node is handed to that worker
 * (handoff.h) as soon as its head is read.  Sessions speak long-polling
 * (GET held until there is something to send, POST with packets) or
 * WebSocket, and upgrade from the first to the second with the probe
 * dance of the protocol.  Messages carry Socket.IO packets, which are
 * decoded here (with their binary attachments) and given to the
 * namespace layer (nsp.h); what it sends comes back through the client
 * ops and is queued on the session.
 *
 * Ownership: the server owns its sessions; a session owns its queue, its
 * timers, its websocket and the namespace client.  Sessions end with a
 * reason as the Node server names them ("transport close", "ping
 * timeout", "transport error", "parse error", "forced close", "server
 * shutting down").
 */
#ifndef RAIND_EIO_H
#define RAIND_EIO_H

#include "sid.h"

#include <stddef.h>
#include <stdint.h>

struct conn;
struct eio_server;
struct http_request;
struct conn_host;
struct forward;
struct handoff;
struct nsp_registry;
struct session_store;

#define EIO_SID_LEN		SID_LEN		/* sid.h */
#define EIO_NODE_TAG_LEN	SID_TAG_LEN	/* sid characters naming the node */
#define EIO_CONNECT_TIMEOUT_MS	45000	/* first namespace must connect within */
#define EIO_SESSION_BUCKETS	1024	/* initial size of the sid table */
#define EIO_CLIENT_SCRIPT	"socket.io.min.js"
#define EIO_ORIGIN_MAX		200	/* longest Origin echoed in CORS headers */
#define EIO_CLOSE_TIMEOUT_MS	30000	/* a server-side close waits for a GET */

/* Answers of eio_head. */
#define EIO_HEAD_CONTINUE	0	/* read the body, then call eio_request */
#define EIO_HEAD_DONE		1	/* answered or handed over: leave it */

/* What an Engine.IO server works with; the worker fills it in. */
struct eio_env {
	struct conn_host	*ee_host;	/* base, conf, channels to the others */
	int			 ee_slot;
	unsigned		 ee_generation;
	const char		*ee_node_tag;	/* sid characters naming the node */
	struct nsp_registry	*ee_nsp;
	struct session_store	*ee_session;	/* NULL without redis */
	struct forward		*ee_forward;	/* NULL without redis */
	/* The channels to generation gen's (modulo 64) workers, or NULL. */
	struct handoff		*(*ee_handoff_gen)(void *arg, int gen);
	void			*ee_arg;
};

struct eio_server	*eio_server_new(const struct eio_env *);
void			 eio_server_free(struct eio_server *);
/* Graceful stop: close every session so its client reconnects elsewhere. */
void			 eio_server_stop(struct eio_server *);
size_t			 eio_server_sessions(const struct eio_server *);
/* Close up to n sessions cleanly (a reload's drain ending); how many. */
size_t			 eio_server_close_some(struct eio_server *, size_t n);

/* Is this request for the Engine.IO endpoint? */
int	eio_path_match(const struct eio_server *, const struct http_request *);
/*
 * The head of an Engine.IO request is complete: hand it to the worker
 * owning its session, or refuse it early (413).  May free c (DONE).
 */
int	eio_head(struct eio_server *, struct conn *, const struct http_request *);
/* A complete Engine.IO request: answer, hold (long-poll) or upgrade. */
void	eio_request(struct eio_server *, struct conn *, const struct http_request *,
	    const char *body, size_t len);

#endif
