/*
 * mod_beta: a second test module in the same namespace as mod_alpha
 * (channel "main"), for listener order and error isolation.
 */
#include <rain/handler.h>

static int
on_order(struct rain_socket *s, struct rain_event *ev)
{
	rain_emit(s, "order-beta", "%A", ev, 0);
	return (RAIN_DONE);
}

static int
on_fail(struct rain_socket *s, struct rain_event *ev)
{
	(void)ev;
	rain_emit(s, "beta-ran", NULL);
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
	yajl_val auth = rain_auth(s);
	const char *path[] = { "failbeta", NULL };

	/* A handle that fails must not stop the others or the socket. */
	if (auth != NULL && yajl_tree_get(auth, path, yajl_t_true) != NULL)
		return (RAIN_ERROR);
	rain_emit(s, "hello-beta", "%s", rain_component_id(s));
	rain_on(s, "order", on_order);
	rain_on(s, "fail", on_fail);
	rain_on(s, "ping", on_ping);
	return (RAIN_DONE);
}

RAIN_WEBSOCKET("main", handle);
