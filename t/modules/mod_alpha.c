/*
 * mod_alpha: a test module (channel "main") exercising the handler API.
 * The counters are read by the tests with dlsym.
 */
#include <stdlib.h>
#include <string.h>

#include <rain/handler.h>

int	alpha_disconnects;	/* disconnect listener calls */
int	alpha_data_freed;	/* user data destructor calls */
int	alpha_late_fired;	/* "late" timers that went off */
char	alpha_last_reason[64];

static int
on_ping(struct rain_socket *s, struct rain_event *ev)
{
	(void)s;
	return (rain_reply(ev, RAIN_STR("pong")));
}

static int
on_order(struct rain_socket *s, struct rain_event *ev)
{
	rain_emit(s, "order-alpha", RAIN_ARGS(RAIN_EVENT_ARGS(ev, 0)));
	return (RAIN_DONE);
}

static int
on_fail(struct rain_socket *s, struct rain_event *ev)
{
	(void)s;
	return (rain_error(ev, "alpha failed"));
}

static int
on_exact(struct rain_socket *s, struct rain_event *ev)
{
	(void)s;
	rain_ack(ev, RAIN_ARGS(RAIN_EVENT_ARGS(ev, 0)));
	return (RAIN_DONE);
}

static void
defer_fire(struct rain_socket *s, void *arg)
{
	struct rain_defer *d = arg;

	rain_emit(s, "resolving", RAIN_ARGS(RAIN_EVENT_ARG(rain_defer_event(d), 0)));
	rain_resolve(d, RAIN_EVENT_ARG(rain_defer_event(d), 0));
}

/* ("defer", value, ms): resolve with value after ms. */
static int
on_defer(struct rain_socket *s, struct rain_event *ev)
{
	struct rain_defer *d = rain_defer(ev);
	long long ms = rain_event_integer(ev, 1, NULL);

	if (d == NULL || rain_later(s, ms < 0 ? 0 : (unsigned int)ms, defer_fire, d) == -1)
		return (RAIN_ERROR);
	return (RAIN_DEFERRED);
}

static void
reject_fire(struct rain_socket *s, void *arg)
{
	(void)s;
	rain_reject(arg, "nope");
}

static int
on_defer_reject(struct rain_socket *s, struct rain_event *ev)
{
	struct rain_defer *d = rain_defer(ev);

	rain_next_tick(s, reject_fire, d);
	return (RAIN_DEFERRED);
}

/* The seed's process.nextTick example. */
static void
data_later(struct rain_socket *s, void *arg)
{
	struct rain_defer *d = arg;

	rain_emit(s, "data-stored", RAIN_ARGS(RAIN_EVENT_ARG(rain_defer_event(d), 0)));
	rain_resolve(d, RAIN_NULL);
}

static int
on_data(struct rain_socket *s, struct rain_event *ev)
{
	rain_next_tick(s, data_later, rain_defer(ev));
	return (RAIN_DEFERRED);
}

/* Settled synchronously, before returning. */
static int
on_sync_defer(struct rain_socket *s, struct rain_event *ev)
{
	(void)s;
	rain_resolve(rain_defer(ev), RAIN_INT(7));
	return (RAIN_DEFERRED);
}

static void
late_fire(struct rain_socket *s, void *arg)
{
	struct rain_defer *d = arg;

	alpha_late_fired++;
	/* After the timeout: the event is still readable and resolving is harmless. */
	if (rain_event_argc(rain_defer_event(d)) > 0)
		rain_log_debug(s, "late: still have the arguments");
	rain_resolve(d, RAIN_STR("too late"));
}

/* ("late", ms): resolve after ms, meant to be longer than handler_timeout. */
static int
on_late(struct rain_socket *s, struct rain_event *ev)
{
	struct rain_defer *d = rain_defer(ev);
	long long ms = rain_event_integer(ev, 0, NULL);

	rain_later(s, ms < 0 ? 0 : (unsigned int)ms, late_fire, d);
	return (RAIN_DEFERRED);
}

static void
never_cancel(void *arg)
{
	int *cancelled = arg;

	(*cancelled)++;
}

int	alpha_never_cancelled;

static int
on_never(struct rain_socket *s, struct rain_event *ev)
{
	struct rain_defer *d = rain_defer(ev);

	(void)s;
	rain_defer_oncancel(d, never_cancel, &alpha_never_cancelled);
	return (RAIN_DEFERRED);
}

static int
on_bad_return(struct rain_socket *s, struct rain_event *ev)
{
	(void)s;
	(void)ev;
	return (RAIN_DEFERRED);	/* without rain_defer */
}

static int
on_bin(struct rain_socket *s, struct rain_event *ev)
{
	static const unsigned char extra[] = { 0xde, 0xad, 0xbe, 0xef };
	size_t len = 0;
	const void *b = rain_event_binary(ev, 0, &len);

	if (b == NULL)
		return (rain_error(ev, "argument 0 is not binary"));
	rain_emit(s, "bin", RAIN_ARGS(RAIN_EVENT_ARGS(ev, 0),
	    RAIN_BINARY(extra, sizeof(extra)), RAIN_UINT(len)));
	return (RAIN_DONE);
}

static int
on_join(struct rain_socket *s, struct rain_event *ev)
{
	return (rain_join(s, rain_event_string(ev, 0, NULL)) == 0 ? RAIN_DONE :
	    rain_error(ev, "cannot join"));
}

static int
on_leave(struct rain_socket *s, struct rain_event *ev)
{
	return (rain_leave(s, rain_event_string(ev, 0, NULL)) == 0 ? RAIN_DONE :
	    rain_error(ev, "not in the room"));
}

static int
on_to_room(struct rain_socket *s, struct rain_event *ev)
{
	return (rain_emit_to(s, rain_event_string(ev, 0, NULL), 0, "room",
	    RAIN_ARGS(RAIN_EVENT_ARG(ev, 1))) == 0 ?
	    RAIN_DONE : RAIN_ERROR);
}

static int
on_broadcast(struct rain_socket *s, struct rain_event *ev)
{
	return (rain_emit_to(s, NULL, 0, "all", RAIN_ARGS(RAIN_EVENT_ARGS(ev, 0))) == 0 ? RAIN_DONE : RAIN_ERROR);
}

static int
on_others(struct rain_socket *s, struct rain_event *ev)
{
	return (rain_emit_to(s, NULL, RAIN_TO_OTHERS, "others",
	    RAIN_ARGS(RAIN_EVENT_ARGS(ev, 0))) == 0 ?
	    RAIN_DONE : RAIN_ERROR);
}

static void
answered(struct rain_socket *s, struct rain_event *answer, const char *error, void *arg)
{
	(void)arg;
	if (answer == NULL)
		rain_emit(s, "ack-error", RAIN_ARGS(RAIN_STR(error)));
	else
		rain_emit(s, "answered", RAIN_ARGS(RAIN_EVENT_ARGS(answer, 0)));
}

static int
on_ask(struct rain_socket *s, struct rain_event *ev)
{
	return (rain_emit_ack(s, answered, NULL, "question",
	    RAIN_ARGS(RAIN_EVENT_ARGS(ev, 0))) == 0 ? RAIN_DONE :
	    RAIN_ERROR);
}

static void
data_free(void *p)
{
	alpha_data_freed++;
	free(p);
}

static int
on_user_data(struct rain_socket *s, struct rain_event *ev)
{
	const char *prev = rain_data(s);

	rain_reply(ev, RAIN_STR(prev));
	rain_set_data(s, strdup(rain_event_string(ev, 0, NULL)), data_free);
	return (RAIN_DONE);
}

static int
on_facts(struct rain_socket *s, struct rain_event *ev)
{
	rain_ack(ev, RAIN_ARGS(RAIN_STR(rain_socket_id(s)), RAIN_STR(rain_namespace(s)),
	    RAIN_STR(rain_component_id(s)), RAIN_STR(rain_component_version(s)),
	    RAIN_BOOL(rain_event_wants_ack(ev)), RAIN_BOOL(rain_event_base(s) != NULL),
	    RAIN_UINT(rain_event_argc(ev))));
	return (RAIN_DONE);
}

static int
on_session(struct rain_socket *s, struct rain_event *ev)
{
	const rain_value *v;

	if (rain_session_set(s, "data", RAIN_EVENT_ARG(ev, 0)) == -1)
		return (rain_error(ev, "no session"));
	if (rain_session_get(s, "data", &v) == -1)
		return (rain_error(ev, "no session"));
	rain_reply(ev, RAIN_VALUE(v));
	return (RAIN_DONE);
}

static int
on_nosession(struct rain_socket *s, struct rain_event *ev)
{
	const rain_value *v;

	rain_reply(ev, RAIN_BOOL(rain_session_get(s, "data", &v) == 0));
	return (RAIN_DONE);
}

static int
on_bye(struct rain_socket *s, struct rain_event *ev)
{
	(void)ev;
	rain_disconnect(s);
	return (RAIN_DONE);
}

static int
on_drop(struct rain_socket *s, struct rain_event *ev)
{
	(void)ev;
	rain_transport_close(s, RAIN_CLOSE_HARD, 50);
	return (RAIN_DONE);
}

static void
pool_work(void *arg)
{
	long long *n = arg;
	long long i, sum = 0;

	for (i = 1; i <= *n; i++)
		sum += i;
	*n = sum;
}

static void
pool_done(struct rain_socket *s, void *arg)
{
	struct rain_defer *d = rain_data(s);
	long long *n = arg;

	rain_set_data(s, NULL, NULL);
	rain_resolve(d, RAIN_INT(*n));
	free(n);
}

static int
on_pool(struct rain_socket *s, struct rain_event *ev)
{
	long long *n = malloc(sizeof(*n));
	struct rain_defer *d = rain_defer(ev);

	*n = rain_event_integer(ev, 0, NULL);
	rain_set_data(s, d, NULL);
	if (rain_pool_run(s, pool_work, pool_done, n) == -1) {
		free(n);
		rain_reject(d, "pool full");
	}
	return (RAIN_DEFERRED);
}

static void
on_disconnect(struct rain_socket *s, const char *reason)
{
	(void)s;
	alpha_disconnects++;
	strncpy(alpha_last_reason, reason, sizeof(alpha_last_reason) - 1);
}

static int
handle(struct rain_socket *s)
{
	rain_emit(s, "hello-alpha", RAIN_NO_ARGS);
	rain_on(s, "ping", on_ping);
	rain_on(s, "order", on_order);
	rain_on(s, "fail", on_fail);
	rain_on(s, "exact", on_exact);
	rain_on(s, "defer", on_defer);
	rain_on(s, "defer-reject", on_defer_reject);
	rain_on(s, "data", on_data);
	rain_on(s, "sync-defer", on_sync_defer);
	rain_on(s, "late", on_late);
	rain_on(s, "never", on_never);
	rain_on(s, "bad-return", on_bad_return);
	rain_on(s, "bin", on_bin);
	rain_on(s, "join", on_join);
	rain_on(s, "leave", on_leave);
	rain_on(s, "to-room", on_to_room);
	rain_on(s, "broadcast", on_broadcast);
	rain_on(s, "others", on_others);
	rain_on(s, "ask", on_ask);
	rain_on(s, "user-data", on_user_data);
	rain_on(s, "facts", on_facts);
	rain_on(s, "session", on_session);
	rain_on_flags(s, "nosession", on_nosession, RAIN_NO_SESSION);
	rain_on(s, "bye", on_bye);
	rain_on(s, "drop", on_drop);
	rain_on(s, "pool", on_pool);
	rain_on_disconnect(s, on_disconnect);
	return (RAIN_DONE);
}

RAIN_WEBSOCKET("main", handle, NULL);
