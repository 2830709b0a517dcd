/*
 * forward.h: Engine.IO polling requests for sessions of other nodes.
 *
 * Behind a load balancer without sticky sessions, a polling request may
 * reach a node that does not own its session (the sid names its node and
 * worker slot).  Such a request is passed through Redis to the owning
 * worker, which answers it as if the client had asked it directly, and
 * the answer comes back the same way.  WebSocket upgrades are not
 * forwarded (the client stays on polling).
 *
 * Ownership: the worker owns its struct forward; a forwarded request's
 * connection is held (conn_hold) until the answer or a timeout.
 */
#ifndef RAIND_FORWARD_H
#define RAIND_FORWARD_H

#include <stddef.h>
#include <stdint.h>

struct conn;
struct evbuffer;
struct forward;
struct http_request;
struct redis;
struct conn_host;
struct conn_site;

#define FORWARD_PENDING_MAX	10000	/* our requests awaiting answers, per worker */
#define FORWARD_SERVING_MAX	10000	/* other nodes' requests in progress, per worker */
#define FORWARD_CHANNEL		"w:"	/* <prefix>w:<node tag>:<slot>:<generation> */
#define FORWARD_TAG_MAX		32	/* bytes of a node tag */
#define FORWARD_HEADERS_MAX	4	/* Host, Origin, Cookie, Content-Type */
#define FORWARD_HEAD_MAX	(64 * 1024)	/* bytes of a forwarded answer's head */

/*
 * Start serving and sending forwarded requests over redis for the worker
 * of slot and generation; the requests of other nodes are served as
 * connections of host answered by site.
 */
struct forward	*forward_new(struct conn_host *, const struct conn_site *site,
		    int slot, unsigned generation, struct redis *,
		    const char *node_tag);
void		 forward_free(struct forward *);

/*
 * Forward the complete request (head and body) on c to the node and slot
 * named by its sid; the answer is written to c later.  Returns 0, or -1
 * when it cannot be forwarded (the caller answers).
 */
int		 forward_request(struct forward *, struct conn *, const struct http_request *,
		    const char *sid, const char *body, size_t len);

/*
 * A message on one of the worker's Redis channels: 1 when it came on the
 * worker's own forwarding channel (and was handled), else 0.
 */
int		 forward_message(struct forward *, const char *channel, size_t chlen,
		    const void *msg, size_t len);

/*
 * The wire forms, exposed for the tests.  A request names the worker to
 * answer (node tag, slot, generation) and carries the parts of the HTTP
 * request that Engine.IO looks at; decoding points into the message and
 * refuses anything malformed or anything that could smuggle a second
 * request (CR, LF or NUL in a field, headers other than the four).
 */
struct forward_header {
	const char	*fh_name;
	size_t		 fh_namelen;
	const char	*fh_value;
	size_t		 fh_valuelen;
};

struct forward_req {
	char			 fq_node[FORWARD_TAG_MAX + 1];	/* the requester */
	int			 fq_slot;
	int			 fq_generation;
	uint64_t		 fq_id;
	const char		*fq_method;
	size_t			 fq_methodlen;
	const char		*fq_target;
	size_t			 fq_targetlen;
	struct forward_header	 fq_headers[FORWARD_HEADERS_MAX];
	size_t			 fq_nheaders;
	const char		*fq_body;
	size_t			 fq_bodylen;
};

void		 forward_req_encode(struct evbuffer *, const struct forward_req *);
int		 forward_req_decode(const void *, size_t, struct forward_req *);
/* The HTTP request the owner runs, with Connection: close. */
void		 forward_req_http(struct evbuffer *, const struct forward_req *);
/* An answer: the owner's complete HTTP response, or len 0 when it had none. */
void		 forward_resp_encode(struct evbuffer *, uint64_t id, const void *,
		    size_t);
int		 forward_resp_decode(const void *, size_t, uint64_t *id,
		    const void **resp, size_t *len);
/*
 * Append the owner's response for our client: one HTTP/1.1 response with
 * a Content-Length that matches its body, its Connection header replaced
 * by ours (none, or "Connection: close" when !keepalive).  -1, with
 * nothing appended, when the response is not like that.
 */
int		 forward_resp_rewrite(struct evbuffer *, const void *, size_t,
		    int keepalive);
/* The channel of a worker, to free. */
char		*forward_channel(const char *prefix, const char *node_tag, int slot,
		    int generation);

#endif
