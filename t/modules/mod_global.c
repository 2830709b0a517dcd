/*
 * mod_global: a test module (channel "g") of a component without
 * useSession that uses the user's global session, as RAIN gave
 * socket.globalSession to every component.
 *
 * handle counts the connects in the global key "visits" and greets with
 * the count; "gget" and "gset" read and write a global key (registered
 * with RAIN_GLOBAL_SESSION); "plain" tries the same without the flag and
 * must be refused; "cget" tries the component session, which a component
 * without useSession does not have; "facts" tells the handshake's facts.
 */
#include <stddef.h>

#include <rain/handler.h>

static int
on_gget(struct rain_socket *s, struct rain_event *ev)
{
	const char	*key = rain_event_string(ev, 0, NULL);
	const rain_value *v;

	if (key == NULL || rain_global_session_get(s, key, &v) == -1)
		return (rain_error(ev, "global session unavailable"));
	return (rain_reply(ev, RAIN_VALUE(v)));
}

static int
on_gset(struct rain_socket *s, struct rain_event *ev)
{
	const char *key = rain_event_string(ev, 0, NULL);

	if (key == NULL || rain_global_session_set(s, key, RAIN_EVENT_ARG(ev, 1)) == -1)
		return (rain_error(ev, "global session unavailable"));
	return (rain_reply(ev, RAIN_BOOL(1)));
}

static int
on_cget(struct rain_socket *s, struct rain_event *ev)
{
	const rain_value *v;

	if (rain_session_get(s, "x", &v) == -1)
		return (rain_error(ev, "no component session"));
	return (rain_reply(ev, RAIN_VALUE(v)));
}

/* The handshake's facts: [session id, address, header arg 0, query arg 1]. */
static int
on_facts(struct rain_socket *s, struct rain_event *ev)
{
	return (rain_ack(ev, RAIN_ARGS(RAIN_STR(rain_session_id(s)),
	    RAIN_STR(rain_remote_address(s)),
	    RAIN_STR(rain_handshake_header(s, rain_event_string(ev, 0, NULL))),
	    RAIN_STR(rain_handshake_query(s, rain_event_string(ev, 1, NULL))))) == 0 ?
	    RAIN_DONE : RAIN_ERROR);
}

static int
handle(struct rain_socket *s)
{
	const rain_value	*v;
	long long		 visits = 0;

	if (rain_global_session_get(s, "visits", &v) == 0)
		rain_value_integer(v, &visits);
	visits++;
	rain_global_session_set(s, "visits", RAIN_INT(visits));
	rain_emit(s, "hello", RAIN_ARGS(RAIN_INT(visits)));
	rain_on_flags(s, "gget", on_gget, RAIN_GLOBAL_SESSION);
	rain_on_flags(s, "gset", on_gset, RAIN_GLOBAL_SESSION);
	rain_on(s, "plain", on_gget);
	rain_on_flags(s, "cget", on_cget, RAIN_GLOBAL_SESSION);
	rain_on_flags(s, "facts", on_facts, RAIN_NO_SESSION);
	return (RAIN_DONE);
}

RAIN_WEBSOCKET("g", handle, NULL);
