/*
 * mod_table: a module with only a static listener table (no handle), on
 * channel "table", exercising the typed values of <rain/handler.h>.
 */
#include <math.h>
#include <stddef.h>

#include <rain/handler.h>

static int
on_typed(struct rain_socket *s, struct rain_event *ev)
{
	(void)s;
	return (rain_reply(ev, RAIN_OBJECT(
	    RAIN_KV("i", RAIN_INT(-3)),
	    RAIN_KV("u", RAIN_UINT(18446744073709551615ULL)),
	    RAIN_KV("d", RAIN_DOUBLE(1.5)),
	    RAIN_KV("nan", RAIN_DOUBLE(NAN)),
	    RAIN_KV("s", RAIN_STR("\xc3\xa9\"\n")),
	    RAIN_KV("none", RAIN_STR(NULL)),
	    RAIN_KV("j", RAIN_JSON("[1,{\"a\":2}]")),
	    RAIN_KV("b", RAIN_BOOL(5)),
	    RAIN_KV("arr", RAIN_ARRAY(RAIN_INT(1), RAIN_NULL, RAIN_EVENT_ARGS(ev, 0))),
	    RAIN_KV("ea", RAIN_EMPTY_ARRAY),
	    RAIN_KV("eo", RAIN_EMPTY_OBJECT),
	    RAIN_KV("arg", RAIN_EVENT_ARG(ev, 0)),
	    RAIN_KV("missing", RAIN_EVENT_ARG(ev, 9)))));
}

/* Reads a value with the accessors and says what it saw. */
static int
on_inspect(struct rain_socket *s, struct rain_event *ev)
{
	const rain_value	*v = rain_event_arg(ev, 0);
	long long		 n = 0;
	double			 d = 0;

	(void)s;
	rain_value_integer(rain_value_get(v, "n"), &n);
	rain_value_number(rain_value_get(v, "d"), &d);
	return (rain_ack(ev, RAIN_ARGS(
	    RAIN_INT(rain_value_type(v)),
	    RAIN_UINT(rain_value_count(v)),
	    RAIN_STR(rain_value_key(v, 0)),
	    RAIN_INT(n),
	    RAIN_DOUBLE(d),
	    RAIN_STR(rain_value_number_text(rain_value_get(v, "d"))),
	    RAIN_STR(rain_value_string(rain_value_at(rain_value_get(v, "l"), 1))),
	    RAIN_BOOL(rain_value_at(v, 99) == NULL),
	    RAIN_INT(rain_value_type(rain_value_get(v, "t"))))) == 0 ?
	    RAIN_DONE : RAIN_ERROR);
}

static int
on_bad_json(struct rain_socket *s, struct rain_event *ev)
{
	(void)s;
	return (rain_reply(ev, RAIN_JSON("{\"a\":")));
}

static int
on_bad_utf8(struct rain_socket *s, struct rain_event *ev)
{
	(void)s;
	return (rain_reply(ev, RAIN_STR("\xff")));
}

static int
on_list_as_value(struct rain_socket *s, struct rain_event *ev)
{
	(void)s;
	return (rain_reply(ev, RAIN_EVENT_ARGS(ev, 0)));
}

static const struct rain_listener listeners[] = {
	{ "typed", on_typed, 0 },
	{ "inspect", on_inspect, RAIN_NO_SESSION },
	{ "bad-json", on_bad_json, 0 },
	{ "bad-utf8", on_bad_utf8, 0 },
	{ "list-as-value", on_list_as_value, 0 },
	{ NULL, NULL, 0 }
};

RAIN_WEBSOCKET("table", NULL, listeners);
