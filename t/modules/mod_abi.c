/* mod_abi: a module built for another handler ABI version; refused. */
#include <rain/handler.h>

static int
handle(struct rain_socket *s)
{
	(void)s;
	return (RAIN_DONE);
}

RAIN_EXPORT const struct rain_websocket rain_websocket_descriptor = {
	RAIN_WEBSOCKET_MAGIC, RAIN_ABI_VERSION + 998, "abi", handle
};
