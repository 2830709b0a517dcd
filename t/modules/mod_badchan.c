/* mod_badchan: a channel with a ',' cannot be a namespace; refused. */
#include <rain/handler.h>

static int
handle(struct rain_socket *s)
{
	(void)s;
	return (RAIN_DONE);
}

RAIN_WEBSOCKET("a,b", handle, NULL);
