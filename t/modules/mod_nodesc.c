/* mod_nodesc: a shared object without RAIN_WEBSOCKET; refused. */
#include <rain/handler.h>

int	nodesc_handle(struct rain_socket *);

int
nodesc_handle(struct rain_socket *s)
{
	(void)s;
	return (RAIN_DONE);
}
