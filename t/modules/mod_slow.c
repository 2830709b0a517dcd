/*
 * mod_slow: a handle that defers (channel "slow"): it says "ready" and
 * settles after the number of milliseconds in the CONNECT auth's "ms"
 * (default 30), or never with {"never": true}.  Its "ping" listener
 * answers with how many connects had settled, so a test sees that events
 * waited for handle.
 */
#include <stddef.h>

#include <rain/handler.h>

int	slow_settled;

static void
settle(struct rain_socket *s, void *arg)
{
	struct rain_defer *d = arg;

	rain_emit(s, "ready", RAIN_NO_ARGS);
	slow_settled++;
	rain_resolve(d, RAIN_NULL);
}

static void
forget(void *arg)
{
	(void)arg;
}

static int
handle(struct rain_socket *s)
{
	const rain_value	*auth = rain_auth(s);
	struct rain_defer	*d;
	long long		 ms = 30;

	rain_value_integer(rain_value_get(auth, "ms"), &ms);
	if ((d = rain_defer_connect(s)) == NULL)
		return (RAIN_ERROR);
	if (rain_value_type(rain_value_get(auth, "never")) == RAIN_TYPE_TRUE) {
		rain_defer_oncancel(d, forget, NULL);
		return (RAIN_DEFERRED);
	}
	if (rain_later(s, (unsigned int)ms, settle, d) == -1)
		rain_reject(d, "no timer");
	return (RAIN_DEFERRED);
}

static int
on_ping(struct rain_socket *s, struct rain_event *ev)
{
	(void)s;
	return (rain_reply(ev, RAIN_INT(slow_settled)));
}

static const struct rain_listener listeners[] = {
	{ "ping", on_ping, 0 },
	{ NULL, NULL, 0 }
};

RAIN_WEBSOCKET("slow", handle, listeners);
