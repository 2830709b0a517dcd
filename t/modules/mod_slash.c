/* mod_slash: a channel starting with '/' (namespace /alpha/1.0/slashed). */
#include <rain/handler.h>

static int
handle(struct rain_socket *s)
{
	rain_emit(s, "hello-slash", RAIN_ARGS(RAIN_STR(rain_namespace(s))));
	return (RAIN_DONE);
}

RAIN_WEBSOCKET("/slashed", handle, NULL);
