/*
 * ws.h: WebSocket connections (RFC 6455) on top of a struct conn.
 *
 * ws_accept answers the upgrade request with 101 and takes the
 * connection over; from then on frames are parsed with ws_frame.h and
 * whole messages reach the owner's wh_message.  Sending never blocks:
 * output queues in the connection's buffer up to max_send_queue bytes,
 * beyond which the client is dropped (it does not read, and must not grow
 * the worker's memory).
 *
 * Lifetimes: the owner hears wh_closed exactly once when the connection
 * ends for a reason it did not ask for (the peer closed, a protocol
 * error, the send queue overflowed, the worker stops); wh_closed is never
 * called from inside a ws_* call, so the owner may be in the middle of
 * anything.  After ws_close or ws_abort the owner forgets the ws_conn and
 * hears nothing more.
 */
#ifndef RAIND_WS_H
#define RAIND_WS_H

#include <stddef.h>

struct conn;
struct http_request;
struct nsp_msg;
struct ws_conn;

/* How long our close frame waits for the peer's before TCP is closed. */
#define WS_CLOSE_WAIT_MS	2000

struct ws_handler {
	void	(*wh_message)(void *arg, int binary, const void *data, size_t len);
	void	(*wh_closed)(void *arg, const char *reason);
};

/*
 * Check an upgrade request.  Returns 0 when it is a valid WebSocket
 * handshake, else the status to refuse with (400, or 426 for another
 * version, with *extra set to the header line to add).
 */
int	ws_upgrade_check(const struct http_request *, const char **extra);

/*
 * Send the 101 response (with extra header lines, may be NULL) and take
 * the connection over.  The request must have passed ws_upgrade_check.
 * A max_send_queue above UINT32_MAX is taken as UINT32_MAX.
 */
struct ws_conn *ws_accept(struct conn *, const struct http_request *,
	    const char *extra, size_t max_payload, size_t max_send_queue,
	    const struct ws_handler *, void *arg);

/* Hand the connection to another owner (an upgrade completed). */
void	ws_rebind(struct ws_conn *, const struct ws_handler *, void *arg);
/* Queue a text or binary message; -1 when the connection is going away. */
int	ws_send(struct ws_conn *, int binary, const void *data, size_t len);
/*
 * Queue a Socket.IO message and its attachments, framed once and shared
 * by reference with every other connection it is sent to.
 */
int	ws_send_msg(struct ws_conn *, struct nsp_msg *);
/* Close with code and reason (close handshake, then TCP close). */
void	ws_close(struct ws_conn *, int code, const char *reason);
/* Abort: TCP reset, no close frame. */
void	ws_abort(struct ws_conn *);
/* Bytes waiting to be written to the client. */
size_t	ws_queued(const struct ws_conn *);

/* Clients dropped for overflowing max_send_queue, in this worker. */
extern unsigned long ws_dropped_slow;

#endif
