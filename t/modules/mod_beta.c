/*
 * mod_beta: a second test module in the same namespace as mod_alpha
 * (channel "main"), for listener order and error isolation.
 */
#include <rain/handler.h>

static int
on_order(struct rain_socket *s, struct rain_event *ev)
{
	rain_emit(s, "order-beta", RAIN_ARGS(RAIN_EVENT_ARGS(ev, 0)));
	return (RAIN_DONE);
}

static int
on_fail(struct rain_socket *s, struct rain_event *ev)
{
	(void)ev;
	rain_emit(s, "beta-ran", RAIN_NO_ARGS);
	return (RAIN_DONE);
}

static int
on_ping(struct rain_socket *s, struct rain_event *ev)
{
	(void)s;
	(void)ev;
	return (RAIN_DONE);
}

static int
handle(struct rain_socket *s)
{
	const rain_value *auth = rain_auth(s);

	/* A handle that fails must not stop the others or the socket. */
	if (rain_value_type(rain_value_get(auth, "failbeta")) == RAIN_TYPE_TRUE)
		return (RAIN_ERROR);
	rain_emit(s, "hello-beta", RAIN_ARGS(RAIN_STR(rain_component_id(s))));
	rain_on(s, "order", on_order);
	rain_on(s, "fail", on_fail);
	rain_on(s, "ping", on_ping);
	return (RAIN_DONE);
}

RAIN_WEBSOCKET("main", handle, NULL);
