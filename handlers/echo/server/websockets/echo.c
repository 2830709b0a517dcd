/*
 * echo: the protocol test bed of the interop tests and benchmarks.
 * Namespace /echo/1.0/echo.
 *
 * The transport events are registered with RAIN_NO_SESSION, so that a
 * benchmark measures the transport and not the session store; the
 * session-* events (session-echo is echo with them), deferred-set and
 * never-resolve go through the whole pipeline (load, listener, save,
 * acknowledgement).
 */
#include <stdlib.h>
#include <string.h>

#include <rain/handler.h>

#define ECHO_DROP_DELAY_MS	50	/* let the drop event's own ack leave first */
#define ECHO_DEFER_MAX_MS	600000	/* longest wait deferred-set accepts */

static int
on_echo(struct rain_socket *s, struct rain_event *ev)
{
	return (rain_emit(s, "echo", RAIN_ARGS(RAIN_EVENT_ARGS(ev, 0))) == 0 ? RAIN_DONE : RAIN_ERROR);
}

static int
on_ack(struct rain_socket *s, struct rain_event *ev)
{
	(void)s;
	return (rain_ack(ev, RAIN_ARGS(RAIN_EVENT_ARGS(ev, 0))) == 0 ? RAIN_DONE : RAIN_ERROR);
}

static void
acked(struct rain_socket *s, struct rain_event *answer, const char *error, void *arg)
{
	(void)arg;
	if (answer == NULL) {
		rain_log_info(s, "please-ack not answered: %s", error);
		return;
	}
	rain_emit(s, "acked", RAIN_ARGS(RAIN_EVENT_ARGS(answer, 0)));
}

static int
on_server_ack(struct rain_socket *s, struct rain_event *ev)
{
	if (rain_emit_ack(s, acked, NULL, "please-ack",
	    RAIN_ARGS(RAIN_EVENT_ARGS(ev, 0))) == -1)
		return (rain_error(ev, "cannot ask for an acknowledgement"));
	return (RAIN_DONE);
}

static int
on_join(struct rain_socket *s, struct rain_event *ev)
{
	const char *room = rain_event_string(ev, 0, NULL);

	if (room == NULL || rain_join(s, room) == -1)
		return (rain_error(ev, "join needs a room name"));
	rain_ack(ev, RAIN_ARGS(RAIN_STR(room)));
	return (RAIN_DONE);
}

static int
on_leave(struct rain_socket *s, struct rain_event *ev)
{
	const char *room = rain_event_string(ev, 0, NULL);

	if (room == NULL)
		return (rain_error(ev, "leave needs a room name"));
	rain_leave(s, room);
	rain_ack(ev, RAIN_ARGS(RAIN_STR(room)));
	return (RAIN_DONE);
}

static int
on_to_room(struct rain_socket *s, struct rain_event *ev)
{
	const char *room = rain_event_string(ev, 0, NULL);

	if (room == NULL)
		return (rain_error(ev, "to-room needs a room name"));
	if (rain_emit_to(s, room, 0, "room-message",
	    RAIN_ARGS(RAIN_STR(room), RAIN_EVENT_ARG(ev, 1))) == -1)
		return (rain_error(ev, "cannot send to the room"));
	rain_ack(ev, RAIN_ARGS(RAIN_BOOL(1)));
	return (RAIN_DONE);
}

static int
on_broadcast(struct rain_socket *s, struct rain_event *ev)
{
	if (rain_emit_to(s, NULL, 0, "broadcast",
	    RAIN_ARGS(RAIN_EVENT_ARG(ev, 0))) == -1)
		return (rain_error(ev, "cannot broadcast"));
	rain_ack(ev, RAIN_ARGS(RAIN_BOOL(1)));
	return (RAIN_DONE);
}

static int
on_drop(struct rain_socket *s, struct rain_event *ev)
{
	const char *mode = rain_event_string(ev, 0, NULL);

	rain_transport_close(s, mode != NULL && strcmp(mode, "hard") == 0 ?
	    RAIN_CLOSE_HARD : RAIN_CLOSE_GRACEFUL, ECHO_DROP_DELAY_MS);
	return (RAIN_DONE);
}

/* The echo, with the session loaded before and saved after (benchmarks). */
static int
on_session_echo(struct rain_socket *s, struct rain_event *ev)
{
	return (rain_emit(s, "echo", RAIN_ARGS(RAIN_EVENT_ARGS(ev, 0))) == 0 ? RAIN_DONE : RAIN_ERROR);
}

static int
on_session_set(struct rain_socket *s, struct rain_event *ev)
{
	if (rain_session_set(s, "value", RAIN_EVENT_ARG(ev, 0)) == -1)
		return (rain_error(ev, "session not available"));
	rain_ack(ev, RAIN_ARGS(RAIN_BOOL(1)));
	return (RAIN_DONE);
}

static int
on_session_get(struct rain_socket *s, struct rain_event *ev)
{
	const rain_value *v;

	if (rain_session_get(s, "value", &v) == -1)
		return (rain_error(ev, "session not available"));
	rain_ack(ev, RAIN_ARGS(RAIN_VALUE(v)));
	return (RAIN_DONE);
}

static int
on_session_put(struct rain_socket *s, struct rain_event *ev)
{
	const char *key = rain_event_string(ev, 0, NULL);

	if (key == NULL)
		return (rain_error(ev, "session-put needs a key"));
	if (rain_session_set(s, key, RAIN_EVENT_ARG(ev, 1)) == -1)
		return (rain_error(ev, "session not available"));
	rain_ack(ev, RAIN_ARGS(RAIN_BOOL(1)));
	return (RAIN_DONE);
}

static int
on_session_dump(struct rain_socket *s, struct rain_event *ev)
{
	const rain_value *all;

	if (rain_session_dump(s, &all) == -1)
		return (rain_error(ev, "session not available"));
	if (all == NULL)
		rain_ack(ev, RAIN_ARGS(RAIN_EMPTY_OBJECT));
	else
		rain_ack(ev, RAIN_ARGS(RAIN_VALUE(all)));
	return (RAIN_DONE);
}

/* The timer of deferred-set: store, then settle; the ack follows the save. */
static void
deferred_set_fire(struct rain_socket *s, void *arg)
{
	struct rain_defer *d = arg;
	struct rain_event *ev = rain_defer_event(d);

	if (rain_session_set(s, "value", RAIN_EVENT_ARG(ev, 0)) == -1) {
		rain_reject(d, "session not available");
		return;
	}
	rain_ack(ev, RAIN_ARGS(RAIN_BOOL(1)));
	rain_resolve(d, RAIN_NULL);
}

static int
on_deferred_set(struct rain_socket *s, struct rain_event *ev)
{
	struct rain_defer *d;
	long long ms;
	int ok;

	ms = rain_event_integer(ev, 1, &ok);
	if (!ok || ms < 0 || ms > ECHO_DEFER_MAX_MS)
		return (rain_error(ev, "deferred-set needs (value, milliseconds)"));
	if ((d = rain_defer(ev)) == NULL)
		return (RAIN_ERROR);
	if (rain_later(s, (unsigned int)ms, deferred_set_fire, d) == -1) {
		rain_reject(d, "cannot start a timer");
		return (RAIN_DEFERRED);
	}
	return (RAIN_DEFERRED);
}

static void
forget(void *arg)
{
	(void)arg;
}

static int
on_never_resolve(struct rain_socket *s, struct rain_event *ev)
{
	struct rain_defer *d;

	(void)s;
	if ((d = rain_defer(ev)) == NULL)
		return (RAIN_ERROR);
	/* Nobody will settle it: let the timeout end the handle. */
	rain_defer_oncancel(d, forget, NULL);
	return (RAIN_DEFERRED);
}

static int
handle(struct rain_socket *s)
{
	return (rain_emit(s, "hello", RAIN_ARGS(RAIN_OBJECT(
	    RAIN_KV("message", RAIN_STR("Hello Sockets!"))))) == 0 ?
	    RAIN_DONE : RAIN_ERROR);
}

static const struct rain_listener listeners[] = {
	{ "echo", on_echo, RAIN_NO_SESSION },
	{ "ack", on_ack, RAIN_NO_SESSION },
	{ "server-ack", on_server_ack, RAIN_NO_SESSION },
	{ "join", on_join, RAIN_NO_SESSION },
	{ "leave", on_leave, RAIN_NO_SESSION },
	{ "to-room", on_to_room, RAIN_NO_SESSION },
	{ "broadcast", on_broadcast, RAIN_NO_SESSION },
	{ "drop", on_drop, RAIN_NO_SESSION },
	{ "session-echo", on_session_echo, 0 },
	{ "session-set", on_session_set, 0 },
	{ "session-get", on_session_get, 0 },
	{ "session-put", on_session_put, 0 },
	{ "session-dump", on_session_dump, 0 },
	{ "deferred-set", on_deferred_set, 0 },
	{ "never-resolve", on_never_resolve, 0 },
	{ NULL, NULL, 0 }
};

RAIN_WEBSOCKET("echo", handle, listeners);
