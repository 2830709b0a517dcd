/*
 * mod_abi: a module built against the pre-release header (handler ABI 1,
 * whose descriptor had no listener table); refused.
 */
#include <rain/handler.h>

static int
handle(struct rain_socket *s)
{
	(void)s;
	return (RAIN_DONE);
}

RAIN_EXPORT const struct rain_websocket rain_websocket_descriptor = {
	RAIN_WEBSOCKET_MAGIC, 1, "abi", handle, NULL
};
