/*
 * <rain/handler.h>: the API for raind component handlers.
 *
 * A handler module is a shared object under <component>/server/websockets/
 * that exports one descriptor made with RAIN_WEBSOCKET(channel, handle).
 * Its namespace is /<id>/<version>/<channel> (a channel that starts with
 * '/' gets no second slash).  For every socket that connects to the
 * namespace, raind calls handle(socket) in each module of the namespace,
 * in discovery order; handle registers listeners with rain_on.
 *
 *	#include <rain/handler.h>
 *
 *	static int
 *	on_new_message(struct rain_socket *s, struct rain_event *ev)
 *	{
 *		rain_log_info(s, "%s", rain_event_string(ev, 0, "text"));
 *		return (RAIN_DONE);
 *	}
 *
 *	static int
 *	handle(struct rain_socket *s)
 *	{
 *		rain_emit(s, "hello", "{\"message\":%s}", "Hello Sockets!");
 *		rain_on(s, "new-message", on_new_message);
 *		return (RAIN_DONE);
 *	}
 *
 *	RAIN_WEBSOCKET("chat", handle);
 *
 * Build: cc -shared -fPIC $(pkg-config --cflags rain) chat.c -o chat.so
 *
 * Threads: every function here must be called on the worker's event loop
 * thread (from handle, a listener, a timer or a completion callback),
 * except where a comment says otherwise.  A handler must never block:
 * blocking work goes to rain_pool_run.
 *
 * Events of one socket never overlap: the next event of a socket is
 * processed only after the previous one completed (its listeners returned
 * RAIN_DONE or RAIN_ERROR, or their deferrals were settled), its session
 * saved and its acknowledgement sent.
 *
 * JSON is never concatenated by hand.  Every function that takes
 * "fmt, ..." builds JSON from a format in which literal text is JSON
 * syntax written by the handler author and each conversion inserts one
 * safely encoded value:
 *
 *	%s	const char *: a JSON string, escaped (NULL gives null); the
 *		text must be valid UTF-8
 *	%d %i	int			%u	unsigned int
 *	%ld	long			%lu	unsigned long
 *	%lld	long long		%llu	unsigned long long
 *	%zu	size_t			%g	double (NaN and infinities give null)
 *	%b	int: true or false
 *	%j	const char *: JSON text, inserted as is (it is checked
 *		with the rest of the result)
 *	%v	yajl_val: a parsed JSON value (NULL gives null)
 *	%B	const void *, size_t: binary data, sent as a Socket.IO
 *		attachment (the bytes are copied)
 *	%a	struct rain_event *, int i: argument i of an event, with
 *		its binary attachments (null when there is no argument i)
 *	%A	struct rain_event *, int first: the arguments of an event
 *		from index first on, comma separated, with their binary
 *		attachments; when there are none it expands to nothing and a
 *		comma next to it is dropped
 *	%%	a percent sign
 *
 * The result is checked to be valid JSON; an invalid format, bad UTF-8 or
 * bad %j text fails the call (-1, logged) and nothing is sent.  For
 * emits and acknowledgements the format describes the argument list
 * without its brackets: "%s, %d" gives two arguments, NULL gives none.
 * For a single value (rain_reply, rain_resolve, rain_session_set) it
 * describes one value.
 */
#ifndef RAIN_HANDLER_H
#define RAIN_HANDLER_H

#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_tree.h>

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;

/*
 * The ABI version of this header.  raind refuses a module built against
 * another one.  It changes whenever a structure below or the meaning of a
 * function changes incompatibly.
 */
#define RAIN_ABI_VERSION	1
#define RAIN_WEBSOCKET_MAGIC	0x5241494eU	/* "RAIN" */
/* The name of the descriptor symbol that raind looks up in a module. */
#define RAIN_WEBSOCKET_SYMBOL	"rain_websocket_descriptor"

/* Results of handle and of listeners. */
#define RAIN_DONE		0	/* completed; acknowledge now */
#define RAIN_DEFERRED		1	/* rain_defer was called; wait */
#define RAIN_ERROR		(-1)	/* failed; logged, others still run */

/* Flags of rain_on_flags. */
#define RAIN_NO_SESSION		0x01	/* skip the session load and save */
/* In a component without useSession: load and save the global session. */
#define RAIN_GLOBAL_SESSION	0x02

/* Flags of rain_emit_to. */
#define RAIN_TO_OTHERS		0x01	/* leave out the emitting socket */

/* Modes of rain_transport_close. */
#define RAIN_CLOSE_GRACEFUL	0	/* Engine.IO close (WebSocket close frame) */
#define RAIN_CLOSE_HARD		1	/* abort the TCP connection */

/* Limits. */
#define RAIN_EVENT_NAME_MAX	256	/* bytes in an event name */
#define RAIN_ROOM_NAME_MAX	256	/* bytes in a room name */
#define RAIN_ROOMS_MAX		128	/* rooms one socket may be in */
#define RAIN_LISTENERS_MAX	256	/* listeners per socket and module */
#define RAIN_LOG_LINE_MAX	2048	/* longer log lines are truncated */

/* A connected Socket.IO socket, as seen by one module. */
struct rain_socket;
/* An event received from the client, or the client's acknowledgement. */
struct rain_event;
/* A pending completion of a listener. */
struct rain_defer;

typedef int	(*rain_handle_fn)(struct rain_socket *);
typedef int	(*rain_listener_fn)(struct rain_socket *, struct rain_event *);
typedef void	(*rain_disconnect_fn)(struct rain_socket *, const char *reason);
/*
 * The client's answer to rain_emit_ack: answer holds its arguments, or is
 * NULL and error says why ("ack timeout", "disconnected").  answer is
 * valid during the call only.
 */
typedef void	(*rain_ack_fn)(struct rain_socket *, struct rain_event *answer,
		    const char *error, void *arg);
typedef void	(*rain_callback_fn)(struct rain_socket *, void *arg);

/* The descriptor of a module; made by RAIN_WEBSOCKET, read by raind at load. */
struct rain_websocket {
	uint32_t	 rw_magic;	/* RAIN_WEBSOCKET_MAGIC */
	uint32_t	 rw_abi;	/* RAIN_ABI_VERSION */
	const char	*rw_channel;
	rain_handle_fn	 rw_handle;
};

#if defined(__GNUC__)
#define RAIN_EXPORT	__attribute__((visibility("default")))
#else
#define RAIN_EXPORT
#endif

#define RAIN_WEBSOCKET(channel, handle)					\
	RAIN_EXPORT const struct rain_websocket rain_websocket_descriptor = { \
		RAIN_WEBSOCKET_MAGIC, RAIN_ABI_VERSION, (channel), (handle) }

/*
 * Lifetimes.
 *
 * struct rain_socket: valid from the call of handle until the socket's
 * disconnect listeners have returned and nothing of it is pending (no
 * deferral, no ack callback, no rain_later callback, no pool job).  Code
 * that keeps the pointer elsewhere (a timer of its own) takes a hold with
 * rain_socket_hold and drops it with rain_socket_release.  Functions that
 * send fail harmlessly (-1) once the socket is disconnected.
 *
 * struct rain_event: valid during the listener call; if the listener
 * defers, until the deferral is settled.
 *
 * yajl_val from an event: owned by the event, same lifetime.
 */

/* Listeners. */
int		 rain_on(struct rain_socket *, const char *event, rain_listener_fn);
int		 rain_on_flags(struct rain_socket *, const char *event,
		    rain_listener_fn, int flags);
int		 rain_on_disconnect(struct rain_socket *, rain_disconnect_fn);

/* The event. */
const char	*rain_event_name(const struct rain_event *);
size_t		 rain_event_argc(const struct rain_event *);
yajl_val	 rain_event_arg(const struct rain_event *, size_t i);
/* Argument i if it is a string (key NULL), or its member key if that is one; else NULL. */
const char	*rain_event_string(const struct rain_event *, size_t i, const char *key);
/* Argument i as an integer; -1 with *ok 0 if it is not one (ok may be NULL). */
long long	 rain_event_integer(const struct rain_event *, size_t i, int *ok);
/* The bytes of argument i if it is binary, else NULL. */
const void	*rain_event_binary(const struct rain_event *, size_t i, size_t *len);
size_t		 rain_event_nattach(const struct rain_event *);
const void	*rain_event_attachment(const struct rain_event *, size_t n, size_t *len);
/* Placeholder number of a binary value nested in an argument, or -1. */
int		 rain_value_binary_num(yajl_val);
int		 rain_event_wants_ack(const struct rain_event *);

/* Emitting.  0 on success, -1 (logged) on failure. */
int		 rain_emit(struct rain_socket *, const char *event, const char *fmt, ...);
/* Ask the client for an acknowledgement; cb runs once (answer, or timeout after the ack timeout, or disconnect). */
int		 rain_emit_ack(struct rain_socket *, rain_ack_fn cb, void *arg,
		    const char *event, const char *fmt, ...);
/* Every socket in room (NULL: every socket of the namespace), encoded once. */
int		 rain_emit_to(struct rain_socket *, const char *room, int flags,
		    const char *event, const char *fmt, ...);

/* Rooms of this namespace.  The socket leaves them all when it disconnects. */
int		 rain_join(struct rain_socket *, const char *room);
int		 rain_leave(struct rain_socket *, const char *room);
int		 rain_in_room(struct rain_socket *, const char *room);

/* Completion and acknowledgements. */
/* The value of the default acknowledgement [null, value] (one JSON value). */
int		 rain_reply(struct rain_event *, const char *fmt, ...);
/* The exact acknowledgement arguments instead of [err, value] (a list). */
int		 rain_ack(struct rain_event *, const char *fmt, ...);
/* Fail with a message for the client ([{"message": ...}]); returns RAIN_ERROR. */
int		 rain_error(struct rain_event *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

/*
 * Deferral.  Inside a listener, rain_defer(ev) returns a handle and the
 * listener returns RAIN_DEFERRED.  Later, on the event loop, exactly one of
 * rain_resolve or rain_reject settles it; the socket's next events wait
 * until then.  The handle stays valid until the handler settles it, even
 * after the server gave up on it (handler_timeout, or the socket
 * disconnected): settling it late is harmless and ignored.  A handler that
 * may never settle registers a cancel function with rain_defer_oncancel:
 * on timeout raind calls it once, and the handle is invalid when it
 * returns.  rain_defer returns NULL outside a listener or when called twice.
 */
struct rain_defer *rain_defer(struct rain_event *);
struct rain_event *rain_defer_event(struct rain_defer *);
struct rain_socket *rain_defer_socket(struct rain_defer *);
void		 rain_defer_oncancel(struct rain_defer *, void (*fn)(void *), void *arg);
/* Settle with a reply value (one JSON value, NULL fmt: null). */
int		 rain_resolve(struct rain_defer *, const char *fmt, ...);
/* Settle with an error message for the client. */
int		 rain_reject(struct rain_defer *, const char *message);

/* Per-module data of a socket; free runs when the socket is freed. */
void		 rain_set_data(struct rain_socket *, void *, void (*free)(void *));
void		*rain_data(struct rain_socket *);

/* Facts. */
const char	*rain_socket_id(struct rain_socket *);
const char	*rain_namespace(struct rain_socket *);
const char	*rain_component_id(struct rain_socket *);
const char	*rain_component_version(struct rain_socket *);
/* The CONNECT auth payload of the client (an object), or NULL. */
yajl_val	 rain_auth(struct rain_socket *);
int		 rain_connected(struct rain_socket *);
void		 rain_socket_hold(struct rain_socket *);
void		 rain_socket_release(struct rain_socket *);
/* Disconnect this socket from the namespace (a Socket.IO DISCONNECT). */
void		 rain_disconnect(struct rain_socket *);
/* Close the client's whole Engine.IO connection after delay_ms, without a Socket.IO DISCONNECT. */
int		 rain_transport_close(struct rain_socket *, int mode, unsigned int delay_ms);

/* The event loop. */
struct event_base *rain_event_base(struct rain_socket *);
/* Run fn(s, arg) on the loop after ms milliseconds (0: next loop turn); holds s meanwhile. */
int		 rain_later(struct rain_socket *, unsigned int ms, rain_callback_fn, void *arg);
#define rain_next_tick(s, fn, arg)	rain_later((s), 0, (fn), (arg))
/*
 * Run work(arg) on a pool thread (it must not call rain_* functions), then
 * done(s, arg) back on the loop.  -1 when the pool queue is full.
 */
int		 rain_pool_run(struct rain_socket *, void (*work)(void *),
		    rain_callback_fn done, void *arg);

/* Logging, tagged with component, namespace and socket id. */
void		 rain_log_error(struct rain_socket *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 rain_log_warn(struct rain_socket *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 rain_log_info(struct rain_socket *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 rain_log_debug(struct rain_socket *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/*
 * Sessions: the component session (shared by every version of the
 * component) and the global session of the user.  They are loaded before
 * each listener that needs them and their changed keys saved after it
 * completed.  Values are JSON.  Every call returns 0 on success and -1 on
 * failure, e.g. when no session store is configured, in a component
 * without useSession, or in a listener registered with RAIN_NO_SESSION.
 * A value returned by get or dump belongs to the session and stays valid
 * until the key is changed or the event completes; *out is NULL when the
 * key is not set.
 */
int		 rain_session_get(struct rain_socket *, const char *key, yajl_val *out);
int		 rain_session_set(struct rain_socket *, const char *key, const char *fmt, ...);
int		 rain_session_remove(struct rain_socket *, const char *key);
int		 rain_session_dump(struct rain_socket *, yajl_val *out);
int		 rain_global_session_get(struct rain_socket *, const char *key, yajl_val *out);
int		 rain_global_session_set(struct rain_socket *, const char *key, const char *fmt, ...);
int		 rain_global_session_remove(struct rain_socket *, const char *key);

#ifdef __cplusplus
}
#endif

#endif
