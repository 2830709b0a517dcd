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
 *		rain_emit_to(s, NULL, RAIN_TO_OTHERS, "new-message",
 *		    RAIN_ARGS(RAIN_EVENT_ARG(ev, 0)));
 *		return (rain_reply(ev, RAIN_BOOL(1)));
 *	}
 *
 *	static int
 *	handle(struct rain_socket *s)
 *	{
 *		rain_emit(s, "hello", RAIN_ARGS(RAIN_OBJECT(
 *		    RAIN_KV("message", RAIN_STR("Hello Sockets!")))));
 *		return (RAIN_DONE);
 *	}
 *
 *	static const struct rain_listener listeners[] = {
 *		{ "new-message", on_new_message, 0 },
 *		{ NULL, NULL, 0 }
 *	};
 *
 *	RAIN_WEBSOCKET("chat", handle, listeners);
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
 * saved and its acknowledgement sent.  The same holds for handle: events
 * that arrive while it is deferred wait for it.
 *
 * JSON is never concatenated by hand, and what a handler sends is typed:
 * every value is a struct rain_arg made by one of the RAIN_* constructors
 * below (RAIN_STR, RAIN_INT, RAIN_OBJECT, ...), whose arguments the
 * compiler checks like any initializer.  A function that sends one value
 * (rain_reply, rain_resolve, rain_session_set) takes one struct rain_arg;
 * one that sends an argument list (rain_emit, rain_ack, ...) takes
 * RAIN_ARGS(...) or RAIN_NO_ARGS.  Strings must be valid UTF-8, RAIN_JSON
 * text valid JSON; otherwise the call fails (-1, logged) and nothing is
 * sent.
 */
#ifndef RAIN_HANDLER_H
#define RAIN_HANDLER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;

/*
 * The ABI version of this header.  raind refuses a module built against
 * another one.  It changes whenever a structure below or the meaning of a
 * function changes incompatibly.  Version 2 is the first stable handler
 * API ("ABI v1" of the documentation): opaque values, typed arguments and
 * listener tables.  Modules built against version 1 must be rebuilt.
 */
#define RAIN_ABI_VERSION	2
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

/*
 * A JSON value received from the client (an event's argument, the CONNECT
 * auth payload) or read from a session: opaque, read with rain_value_*.
 */
typedef struct rain_value rain_value;

/* What a rain_value holds.  A NULL pointer (no such value) reads as null. */
enum rain_type {
	RAIN_TYPE_NULL,
	RAIN_TYPE_FALSE,
	RAIN_TYPE_TRUE,
	RAIN_TYPE_NUMBER,
	RAIN_TYPE_STRING,
	RAIN_TYPE_ARRAY,
	RAIN_TYPE_OBJECT
};

/* The kinds of struct rain_arg; use the constructors, not these. */
enum rain_arg_type {
	RAIN_ARG_END,		/* ends a list */
	RAIN_ARG_NULL,
	RAIN_ARG_BOOL,
	RAIN_ARG_INT,
	RAIN_ARG_UINT,
	RAIN_ARG_DOUBLE,	/* NaN and infinities give null */
	RAIN_ARG_STRING,	/* NULL gives null */
	RAIN_ARG_JSON,		/* JSON text, inserted as is once checked */
	RAIN_ARG_VALUE,		/* a rain_value (NULL gives null) */
	RAIN_ARG_BINARY,	/* bytes, sent as a Socket.IO attachment */
	RAIN_ARG_EVENT_ARG,	/* argument i of an event, with its attachments */
	RAIN_ARG_EVENT_ARGS,	/* arguments first.. of an event (lists only) */
	RAIN_ARG_ARRAY,
	RAIN_ARG_OBJECT
};

struct rain_event;
struct rain_member;

/* One value to send, made by a RAIN_* constructor. */
struct rain_arg {
	enum rain_arg_type	 ra_type;
	union {
		long long			 ra_int;
		unsigned long long		 ra_uint;
		double				 ra_double;
		const char			*ra_str;
		const rain_value		*ra_value;
		struct {
			const void	*ra_data;
			size_t		 ra_len;
		}				 ra_bin;
		struct {
			const struct rain_event	*ra_ev;
			size_t			 ra_index;
		}				 ra_evarg;
		const struct rain_arg		*ra_list;	/* RAIN_ARG_END ends it */
		const struct rain_member	*ra_members;	/* a NULL key ends it */
	}			 ra_u;
};

/* One member of RAIN_OBJECT. */
struct rain_member {
	const char	*rm_key;
	struct rain_arg	 rm_value;
};

/*
 * The constructors.  Each is an expression of type struct rain_arg, so
 * the compiler checks what it is given: RAIN_STR(42) or RAIN_INT("x")
 * is a diagnostic, not a runtime surprise.
 */
#define RAIN_NULL		((struct rain_arg){ .ra_type = RAIN_ARG_NULL })
#define RAIN_BOOL(b)		((struct rain_arg){ .ra_type = RAIN_ARG_BOOL,	\
				    .ra_u.ra_int = (b) ? 1 : 0 })
#define RAIN_INT(n)		((struct rain_arg){ .ra_type = RAIN_ARG_INT,	\
				    .ra_u.ra_int = (n) })
#define RAIN_UINT(n)		((struct rain_arg){ .ra_type = RAIN_ARG_UINT,	\
				    .ra_u.ra_uint = (n) })
#define RAIN_DOUBLE(d)		((struct rain_arg){ .ra_type = RAIN_ARG_DOUBLE, \
				    .ra_u.ra_double = (d) })
#define RAIN_STR(s)		((struct rain_arg){ .ra_type = RAIN_ARG_STRING, \
				    .ra_u.ra_str = (s) })
#define RAIN_JSON(text)		((struct rain_arg){ .ra_type = RAIN_ARG_JSON,	\
				    .ra_u.ra_str = (text) })
#define RAIN_VALUE(v)		((struct rain_arg){ .ra_type = RAIN_ARG_VALUE,	\
				    .ra_u.ra_value = (v) })
#define RAIN_BINARY(p, n)	((struct rain_arg){ .ra_type = RAIN_ARG_BINARY, \
				    .ra_u.ra_bin = { (p), (n) } })
#define RAIN_EVENT_ARG(ev, i)	((struct rain_arg){ .ra_type = RAIN_ARG_EVENT_ARG, \
				    .ra_u.ra_evarg = { (ev), (i) } })
#define RAIN_EVENT_ARGS(ev, first) ((struct rain_arg){			\
				    .ra_type = RAIN_ARG_EVENT_ARGS,		\
				    .ra_u.ra_evarg = { (ev), (first) } })
#define RAIN_ARRAY(...)		((struct rain_arg){ .ra_type = RAIN_ARG_ARRAY, \
				    .ra_u.ra_list = RAIN_ARGS(__VA_ARGS__) })
#define RAIN_EMPTY_ARRAY	((struct rain_arg){ .ra_type = RAIN_ARG_ARRAY, \
				    .ra_u.ra_list = RAIN_NO_ARGS })
#define RAIN_OBJECT(...)	((struct rain_arg){ .ra_type = RAIN_ARG_OBJECT, \
				    .ra_u.ra_members = (const struct rain_member[]){ \
				    __VA_ARGS__, { NULL, { .ra_type = RAIN_ARG_END } } } })
#define RAIN_EMPTY_OBJECT	((struct rain_arg){ .ra_type = RAIN_ARG_OBJECT, \
				    .ra_u.ra_members = NULL })
#define RAIN_KV(key, value)	{ (key), value }
/* An argument list for rain_emit and friends; RAIN_NO_ARGS for none. */
#define RAIN_ARGS(...)		((const struct rain_arg[]){ __VA_ARGS__,	\
				    { .ra_type = RAIN_ARG_END } })
#define RAIN_NO_ARGS		((const struct rain_arg *)0)

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

/*
 * A row of a module's listener table: every socket of the namespace gets
 * these listeners before handle runs (flags as rain_on_flags).  A row
 * with a NULL event ends the table.
 */
struct rain_listener {
	const char	 *rl_event;
	rain_listener_fn  rl_fn;
	int		  rl_flags;
};

/* The descriptor of a module; made by RAIN_WEBSOCKET, read by raind at load. */
struct rain_websocket {
	uint32_t		 rw_magic;	/* RAIN_WEBSOCKET_MAGIC */
	uint32_t		 rw_abi;	/* RAIN_ABI_VERSION */
	const char		*rw_channel;
	rain_handle_fn		 rw_handle;	/* may be NULL with listeners */
	const struct rain_listener *rw_listeners; /* may be NULL */
};

#if defined(__GNUC__)
#define RAIN_EXPORT	__attribute__((visibility("default")))
#else
#define RAIN_EXPORT
#endif

/* handle or listeners may be NULL, not both. */
#define RAIN_WEBSOCKET(channel, handle, listeners)			\
	RAIN_EXPORT const struct rain_websocket rain_websocket_descriptor = { \
		RAIN_WEBSOCKET_MAGIC, RAIN_ABI_VERSION, (channel), (handle),	\
		(listeners) }

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
 * const rain_value * from an event: owned by the event, same lifetime.
 */

/* Listeners. */
int		 rain_on(struct rain_socket *, const char *event, rain_listener_fn);
int		 rain_on_flags(struct rain_socket *, const char *event,
		    rain_listener_fn, int flags);
int		 rain_on_disconnect(struct rain_socket *, rain_disconnect_fn);

/* The event. */
const char	*rain_event_name(const struct rain_event *);
size_t		 rain_event_argc(const struct rain_event *);
const rain_value *rain_event_arg(const struct rain_event *, size_t i);
/* Argument i if it is a string (key NULL), or its member key if that is one; else NULL. */
const char	*rain_event_string(const struct rain_event *, size_t i, const char *key);
/* Argument i as an integer; -1 with *ok 0 if it is not one (ok may be NULL). */
long long	 rain_event_integer(const struct rain_event *, size_t i, int *ok);
/* The bytes of argument i if it is binary, else NULL. */
const void	*rain_event_binary(const struct rain_event *, size_t i, size_t *len);
size_t		 rain_event_nattach(const struct rain_event *);
const void	*rain_event_attachment(const struct rain_event *, size_t n, size_t *len);
/* Placeholder number of a binary value nested in an argument, or -1. */
int		 rain_value_binary_num(const rain_value *);
int		 rain_event_wants_ack(const struct rain_event *);

/*
 * Values.  Each accessor is safe on any value, NULL included: the wrong
 * kind gives NULL, 0 or -1.
 */
enum rain_type	 rain_value_type(const rain_value *);
/* The string (NUL-terminated, UTF-8), or NULL if v is not a string. */
const char	*rain_value_string(const rain_value *);
/* An integer number into *out: 0, or -1 if v is not one. */
int		 rain_value_integer(const rain_value *, long long *out);
/* Any number into *out: 0, or -1 if v is not a number. */
int		 rain_value_number(const rain_value *, double *out);
/* A number's text exactly as received, or NULL. */
const char	*rain_value_number_text(const rain_value *);
/* Elements of an array, members of an object, else 0. */
size_t		 rain_value_count(const rain_value *);
/* Element i of an array, or the value of member i of an object, or NULL. */
const rain_value *rain_value_at(const rain_value *, size_t i);
/* The key of member i of an object, or NULL. */
const char	*rain_value_key(const rain_value *, size_t i);
/* The member of an object with this key, or NULL. */
const rain_value *rain_value_get(const rain_value *, const char *key);

/* Emitting.  0 on success, -1 (logged) on failure. */
int		 rain_emit(struct rain_socket *, const char *event,
		    const struct rain_arg *args);
/* Ask the client for an acknowledgement; cb runs once (answer, or timeout after the ack timeout, or disconnect). */
int		 rain_emit_ack(struct rain_socket *, rain_ack_fn cb, void *arg,
		    const char *event, const struct rain_arg *args);
/* Every socket in room (NULL: every socket of the namespace), encoded once. */
int		 rain_emit_to(struct rain_socket *, const char *room, int flags,
		    const char *event, const struct rain_arg *args);

/* Rooms of this namespace.  The socket leaves them all when it disconnects. */
int		 rain_join(struct rain_socket *, const char *room);
int		 rain_leave(struct rain_socket *, const char *room);
int		 rain_in_room(struct rain_socket *, const char *room);

/* Completion and acknowledgements. */
/*
 * The value of the default acknowledgement [null, value].  Returns
 * RAIN_DONE, or RAIN_ERROR (logged) when the value cannot be built, so a
 * listener may end with "return (rain_reply(ev, ...));".
 */
int		 rain_reply(struct rain_event *, struct rain_arg value);
/* The exact acknowledgement arguments instead of [err, value] (a list). */
int		 rain_ack(struct rain_event *, const struct rain_arg *args);
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
 *
 * handle may defer the same way with rain_defer_connect(s) and return
 * RAIN_DEFERRED: the socket's events wait, and the session is saved, once
 * it is settled (a rejection or a timeout is logged; the socket stays).
 */
struct rain_defer *rain_defer(struct rain_event *);
struct rain_defer *rain_defer_connect(struct rain_socket *);
struct rain_event *rain_defer_event(struct rain_defer *);
struct rain_socket *rain_defer_socket(struct rain_defer *);
void		 rain_defer_oncancel(struct rain_defer *, void (*fn)(void *), void *arg);
/* Settle with a reply value (RAIN_NULL for none). */
int		 rain_resolve(struct rain_defer *, struct rain_arg value);
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
const rain_value *rain_auth(struct rain_socket *);
/*
 * The handshake (Socket.IO's socket.handshake), valid while the socket
 * is: the user's session id (from the rain.sid cookie, or made by
 * session_create; NULL without sessions), the client's address (the real
 * peer, or from X-Forwarded-For when the peer is one of
 * trusted_proxies), a header of the Engine.IO handshake request (name
 * compared case-insensitively) and one of its query parameters
 * (percent-decoded).  NULL when unknown.
 */
const char	*rain_session_id(struct rain_socket *);
const char	*rain_remote_address(struct rain_socket *);
const char	*rain_handshake_header(struct rain_socket *, const char *name);
const char	*rain_handshake_query(struct rain_socket *, const char *name);
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
int		 rain_session_get(struct rain_socket *, const char *key,
		    const rain_value **out);
int		 rain_session_set(struct rain_socket *, const char *key,
		    struct rain_arg value);
int		 rain_session_remove(struct rain_socket *, const char *key);
int		 rain_session_dump(struct rain_socket *, const rain_value **out);
int		 rain_global_session_get(struct rain_socket *, const char *key,
		    const rain_value **out);
int		 rain_global_session_set(struct rain_socket *, const char *key,
		    struct rain_arg value);
int		 rain_global_session_remove(struct rain_socket *, const char *key);

#ifdef __cplusplus
}
#endif

#endif
