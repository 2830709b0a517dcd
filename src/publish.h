/*
 * publish.h: messages from application backends to the clients.
 *
 * Two ways in, one way out:
 *  - the Socket.IO Redis emitter (emitter_codec.h): every worker
 *    subscribes to "<emitter_key>#*" and delivers what is published there
 *    to its own sockets (room_deliver_set), so each recipient on every
 *    node gets a message exactly once;
 *  - POST /publish on admin_listen, for backends with no Redis client:
 *    a bearer token (admin_token_file) and a JSON body
 *	{"namespace": "/id/1.0/chat", "room": "lobby", "except": [...],
 *	 "event": "news", "args": [...]}
 *    which is turned into the emitter's message and published on its
 *    channel: 202 once Redis took it, 400, 401, 413 or 503 with a JSON
 *    {"error": ...} otherwise.
 *
 * Ownership: the worker owns its struct publish; a request waiting for
 * Redis's answer is owned by the publish module and forgets its
 * connection if that closes first.
 */
#ifndef RAIND_PUBLISH_H
#define RAIND_PUBLISH_H

#include <stddef.h>

struct conf;
struct conn;
struct http_request;
struct nsp_registry;
struct publish;
struct redis;

#define PUBLISH_PATH		"/publish"
#define PUBLISH_TOKEN_MAX	4096	/* bytes of the admin token */

/*
 * Subscribe r to the emitter's channels; with admin_listen set, also load
 * the token (-1 with err when it cannot be read).
 */
struct publish	*publish_new(const struct conf *, struct redis *,
		    struct nsp_registry *, char *err, size_t errlen);
void		 publish_free(struct publish *);
/*
 * A message on a subscribed channel: 1 when the channel is the emitter's
 * (delivered, or dropped with a log line when malformed), 0 otherwise.
 */
int		 publish_message(struct publish *, const char *channel,
		    size_t chlen, const char *msg, size_t len);
/* The routes of POST /publish (conn.h). */
int		 publish_head(void *arg, struct conn *, const struct http_request *);
void		 publish_request(void *arg, struct conn *,
		    const struct http_request *, const char *body, size_t len);
/* The admin site's answers of the HTTP core, in JSON (conn_site's cs_error). */
void		 publish_http_error(struct conn *, int status, const char *why,
		    const char *extra, int keepalive);
/* Is the admin configuration usable?  -1 with "file:line: why" in err. */
int		 publish_conf_check(const struct conf *, char *err, size_t errlen);

#endif
