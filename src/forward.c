/*
 * forward.c: Engine.IO polling requests for sessions of other nodes.
 * See forward.h.
 *
 * Every worker subscribes to its own channel, <prefix>w:<node tag>:<slot>:
 * <generation>.  The generation is part of the name because during a
 * reload two workers of one slot run side by side (the old one draining):
 * only the one that made the sid must answer, and the sid names it.
 *
 * The requester (the worker a client's request reached) holds the
 * client's connection, publishes the request with an id and its own
 * channel on the owner's channel, and waits.  The owner runs the request
 * as if the client had sent it: one end of a socketpair becomes a client
 * connection (conn_adopt) carrying the request with "Connection: close",
 * so the complete response is everything read from the other end until
 * EOF.  It publishes that on the requester's channel, and the requester
 * writes it to the client, with the Connection header made right for the
 * client's own connection, which then goes on (keep-alive) or closes.
 *
 * A held GET may wait up to ping_interval on the owner, so the requester
 * waits ping_interval + ping_timeout + redis_timeout before it answers
 * 504; an answer arriving later finds no id waiting and is dropped.  When
 * nobody subscribes to the owner's channel (the node or worker is gone)
 * the PUBLISH says so at once and the client is told that its session is
 * unknown, as the owner itself would say, so that it reconnects.  The
 * owner may also die while a request waits (a held GET, typically): every
 * FORWARD_PROBE_MS the requester asks Redis how many listen on the
 * owner's channel (PUBSUB NUMSUB; Redis drops the subscriptions of a
 * process the moment its connection closes), and at 0 it answers the same
 * "Session ID unknown" without waiting for the 504.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "conf.h"
#include "conn.h"
#include "eio.h"
#include "forward.h"
#include "stats.h"
#include "host.h"
#include "http.h"
#include "log.h"
#include "redis.h"
#include "xmalloc.h"

#define FORWARD_WIRE_VERSION	1
#define FORWARD_WIRE_REQUEST	'Q'
#define FORWARD_WIRE_RESPONSE	'R'
#define FORWARD_BUCKETS		1024	/* waiting requests by id; a power of two */
#define FORWARD_METHOD_MAX	16	/* bytes of a method */
#define FORWARD_TARGET_MAX	(64 * 1024)	/* bytes of a request-target */
#define FORWARD_VALUE_MAX	(16 * 1024)	/* bytes of a header value */
#define FORWARD_READ_CHUNK	(64 * 1024)	/* bytes read from the socketpair at once */
#define FORWARD_ORIGIN_MAX	200	/* an Origin echoed in CORS headers (as eio.c) */
#define FORWARD_SLOTS_MAX	64	/* one base64url digit names a slot */
#define FORWARD_ERR_SID		1	/* Engine.IO "Session ID unknown" */
#define FORWARD_PROBE_MS	500	/* is the owner of a waiting request alive? */


/* The only request headers passed on: what Engine.IO and sessions read. */
static const char *const forward_header_names[FORWARD_HEADERS_MAX] = {
	"Host", "Origin", "Cookie", "Content-Type"
};

/* A request of ours, sent to another node, its client's connection held. */
struct forward_wait {
	LIST_ENTRY(forward_wait) fw_entry;
	struct forward		*fw_fwd;
	struct conn		*fw_conn;
	uint64_t		 fw_id;
	struct event		*fw_timer;
	struct event		*fw_probe;	/* every FORWARD_PROBE_MS */
	char			*fw_channel;	/* the owner's */
	char			 fw_origin[FORWARD_ORIGIN_MAX + 1];	/* "" none */
};
LIST_HEAD(forward_bucket, forward_wait);

/* Another node's request, being answered by a connection of this worker. */
struct forward_job {
	LIST_ENTRY(forward_job)	 fj_entry;
	struct forward		*fj_fwd;
	char			*fj_reply;	/* the requester's channel */
	uint64_t		 fj_id;
	int			 fj_fd;		/* our end of the socketpair */
	struct event		*fj_read;
	struct event		*fj_timer;
	struct evbuffer		*fj_buf;	/* the response so far */
};

/* The argument of a PUBLISH's reply callback (the wait may be gone by then). */
struct forward_pub {
	struct forward	*fp_fwd;
	uint64_t	 fp_id;
};

struct forward {
	struct conn_host	*fwd_host;		/* where answers are made */
	const struct conn_site	*fwd_site;		/* ... and what serves them */
	int			 fwd_slot;
	unsigned		 fwd_generation;
	struct redis		*fwd_redis;
	char			*fwd_prefix;
	char			 fwd_node[FORWARD_TAG_MAX + 1];
	char			*fwd_channel;	/* ours */
	uint64_t		 fwd_next_id;
	struct forward_bucket	 fwd_waits[FORWARD_BUCKETS];
	size_t			 fwd_nwaits;
	LIST_HEAD(, forward_job) fwd_jobs;
	size_t			 fwd_njobs;
	int64_t			 fwd_timeout_ms;
	size_t			 fwd_response_max;
};

static void	forward_conn_closed(struct conn *, void *);

static const struct conn_proto forward_conn_proto = {
	NULL, NULL, forward_conn_closed
};

/* --- wire forms -------------------------------------------------------- */

static void
forward_put(struct evbuffer *b, uint64_t v, int bytes)
{
	unsigned char	x[8];
	int		i;

	for (i = bytes - 1; i >= 0; i--) {
		x[i] = (unsigned char)v;
		v >>= 8;
	}
	evbuffer_add(b, x, (size_t)bytes);
}

static void
forward_put_bytes(struct evbuffer *b, const void *p, size_t len, int lenbytes)
{
	forward_put(b, len, lenbytes);
	if (len > 0)
		evbuffer_add(b, p, len);
}

struct forward_reader {
	const unsigned char	*fr_p;
	size_t			 fr_left;
	int			 fr_bad;
};

static uint64_t
forward_get(struct forward_reader *r, int bytes)
{
	uint64_t	v = 0;
	int		i;

	if (r->fr_bad || r->fr_left < (size_t)bytes) {
		r->fr_bad = 1;
		return (0);
	}
	for (i = 0; i < bytes; i++)
		v = v << 8 | r->fr_p[i];
	r->fr_p += bytes;
	r->fr_left -= (size_t)bytes;
	return (v);
}

static const char *
forward_take(struct forward_reader *r, size_t n)
{
	const char *p = (const char *)r->fr_p;

	if (r->fr_bad || r->fr_left < n) {
		r->fr_bad = 1;
		return (NULL);
	}
	r->fr_p += n;
	r->fr_left -= n;
	return (p);
}

/* Can bytes go into a request line or a header value as they are? */
static int
forward_field_ok(const char *p, size_t len, int spaces)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0' || p[i] == 0x7f)
			return (0);
		if ((unsigned char)p[i] < 0x20 && p[i] != '\t')
			return (0);
		if (!spaces && (p[i] == ' ' || p[i] == '\t'))
			return (0);
	}
	return (1);
}

static int
forward_tag_ok(const char *p, size_t len)
{
	if (len == 0 || len > FORWARD_TAG_MAX)
		return (0);
	return (sid_b64url_valid(p, len));
}

static const char *
forward_header_known(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < FORWARD_HEADERS_MAX; i++)
		if (strlen(forward_header_names[i]) == len &&
		    strncasecmp(forward_header_names[i], name, len) == 0)
			return (forward_header_names[i]);
	return (NULL);
}

/*
 * A request: version, type, the requester's node tag (1-byte length),
 * slot and generation (1 byte each), the id (8 bytes), the method
 * (1-byte length), the target (2), the number of headers (1) and each
 * name (1) and value (2), then the body (4).
 */
void
forward_req_encode(struct evbuffer *b, const struct forward_req *q)
{
	size_t i;

	forward_put(b, FORWARD_WIRE_VERSION, 1);
	forward_put(b, FORWARD_WIRE_REQUEST, 1);
	forward_put_bytes(b, q->fq_node, strlen(q->fq_node), 1);
	forward_put(b, (uint64_t)q->fq_slot, 1);
	forward_put(b, (uint64_t)q->fq_generation, 1);
	forward_put(b, q->fq_id, 8);
	forward_put_bytes(b, q->fq_method, q->fq_methodlen, 1);
	forward_put_bytes(b, q->fq_target, q->fq_targetlen, 2);
	forward_put(b, q->fq_nheaders, 1);
	for (i = 0; i < q->fq_nheaders; i++) {
		forward_put_bytes(b, q->fq_headers[i].fh_name,
		    q->fq_headers[i].fh_namelen, 1);
		forward_put_bytes(b, q->fq_headers[i].fh_value,
		    q->fq_headers[i].fh_valuelen, 2);
	}
	forward_put_bytes(b, q->fq_body, q->fq_bodylen, 4);
}

int
forward_req_decode(const void *buf, size_t len, struct forward_req *q)
{
	struct forward_reader	 r = { buf, len, 0 };
	struct forward_header	*h;
	const char		*p;
	size_t			 n, i, j;

	memset(q, 0, sizeof(*q));
	if (forward_get(&r, 1) != FORWARD_WIRE_VERSION ||
	    forward_get(&r, 1) != FORWARD_WIRE_REQUEST)
		return (-1);
	n = forward_get(&r, 1);
	if ((p = forward_take(&r, n)) == NULL || !forward_tag_ok(p, n))
		return (-1);
	memcpy(q->fq_node, p, n);
	q->fq_node[n] = '\0';
	q->fq_slot = (int)forward_get(&r, 1);
	q->fq_generation = (int)forward_get(&r, 1);
	if (q->fq_slot >= FORWARD_SLOTS_MAX || q->fq_generation >= FORWARD_SLOTS_MAX)
		return (-1);
	q->fq_id = forward_get(&r, 8);

	q->fq_methodlen = forward_get(&r, 1);
	if (q->fq_methodlen == 0 || q->fq_methodlen > FORWARD_METHOD_MAX ||
	    (q->fq_method = forward_take(&r, q->fq_methodlen)) == NULL)
		return (-1);
	for (i = 0; i < q->fq_methodlen; i++)
		if (q->fq_method[i] < 'A' || q->fq_method[i] > 'Z')
			return (-1);
	q->fq_targetlen = forward_get(&r, 2);
	if (q->fq_targetlen == 0 || q->fq_targetlen > FORWARD_TARGET_MAX ||
	    (q->fq_target = forward_take(&r, q->fq_targetlen)) == NULL ||
	    q->fq_target[0] != '/' ||
	    !forward_field_ok(q->fq_target, q->fq_targetlen, 0))
		return (-1);

	q->fq_nheaders = forward_get(&r, 1);
	if (r.fr_bad || q->fq_nheaders > FORWARD_HEADERS_MAX)
		return (-1);
	for (i = 0; i < q->fq_nheaders; i++) {
		h = &q->fq_headers[i];
		h->fh_namelen = forward_get(&r, 1);
		if ((h->fh_name = forward_take(&r, h->fh_namelen)) == NULL ||
		    forward_header_known(h->fh_name, h->fh_namelen) == NULL)
			return (-1);
		/* Twice the same header would let the owner choose another. */
		for (j = 0; j < i; j++)
			if (q->fq_headers[j].fh_namelen == h->fh_namelen &&
			    strncasecmp(q->fq_headers[j].fh_name, h->fh_name,
			    h->fh_namelen) == 0)
				return (-1);
		h->fh_valuelen = forward_get(&r, 2);
		if (h->fh_valuelen > FORWARD_VALUE_MAX ||
		    (h->fh_value = forward_take(&r, h->fh_valuelen)) == NULL ||
		    !forward_field_ok(h->fh_value, h->fh_valuelen, 1))
			return (-1);
	}
	q->fq_bodylen = forward_get(&r, 4);
	if ((q->fq_body = forward_take(&r, q->fq_bodylen)) == NULL ||
	    r.fr_left != 0)
		return (-1);
	return (0);
}

void
forward_req_http(struct evbuffer *b, const struct forward_req *q)
{
	const struct forward_header	*h;
	size_t				 i;
	int				 host = 0;

	for (i = 0; i < q->fq_nheaders; i++)
		if (q->fq_headers[i].fh_namelen == 4 &&
		    strncasecmp(q->fq_headers[i].fh_name, "Host", 4) == 0)
			host = 1;
	/* HTTP/1.1 needs a Host; a client without one spoke HTTP/1.0. */
	evbuffer_add_printf(b, "%.*s %.*s HTTP/1.%d\r\n", (int)q->fq_methodlen,
	    q->fq_method, (int)q->fq_targetlen, q->fq_target, host ? 1 : 0);
	for (i = 0; i < q->fq_nheaders; i++) {
		h = &q->fq_headers[i];
		evbuffer_add_printf(b, "%.*s: %.*s\r\n", (int)h->fh_namelen,
		    h->fh_name, (int)h->fh_valuelen, h->fh_value);
	}
	if (q->fq_bodylen > 0 || (q->fq_methodlen == 4 &&
	    memcmp(q->fq_method, "POST", 4) == 0))
		evbuffer_add_printf(b, "Content-Length: %zu\r\n", q->fq_bodylen);
	evbuffer_add_printf(b, "Connection: close\r\n\r\n");
	if (q->fq_bodylen > 0)
		evbuffer_add(b, q->fq_body, q->fq_bodylen);
}

/* An answer: version, type, the id (8 bytes), the response (4-byte length). */
void
forward_resp_encode(struct evbuffer *b, uint64_t id, const void *resp, size_t len)
{
	forward_put(b, FORWARD_WIRE_VERSION, 1);
	forward_put(b, FORWARD_WIRE_RESPONSE, 1);
	forward_put(b, id, 8);
	forward_put_bytes(b, resp, len, 4);
}

int
forward_resp_decode(const void *buf, size_t len, uint64_t *id, const void **resp,
    size_t *resplen)
{
	struct forward_reader r = { buf, len, 0 };

	if (forward_get(&r, 1) != FORWARD_WIRE_VERSION ||
	    forward_get(&r, 1) != FORWARD_WIRE_RESPONSE)
		return (-1);
	*id = forward_get(&r, 8);
	*resplen = forward_get(&r, 4);
	if ((*resp = forward_take(&r, *resplen)) == NULL || r.fr_left != 0)
		return (-1);
	return (0);
}

/* Does the header line [p, p + len) have this name? */
static int
forward_line_is(const char *p, size_t len, const char *name)
{
	size_t n = strlen(name);

	return (len > n && p[n] == ':' && strncasecmp(p, name, n) == 0);
}

int
forward_resp_rewrite(struct evbuffer *out, const void *buf, size_t len,
    int keepalive)
{
	const char	*resp = buf, *end, *line, *eol, *v;
	size_t		 headlen, bodylen, linelen, i;
	long long	 clen = -1;
	char		*stop;

	/* "HTTP/1.1 200 " at least, then the head within FORWARD_HEAD_MAX. */
	if (len < 13 || memcmp(resp, "HTTP/1.1 ", 9) != 0)
		return (-1);
	for (i = 9; i < 12; i++)
		if (resp[i] < '0' || resp[i] > '9')
			return (-1);
	if (resp[12] != ' ')
		return (-1);
	end = memmem(resp, len < FORWARD_HEAD_MAX ? len : FORWARD_HEAD_MAX,
	    "\r\n\r\n", 4);
	if (end == NULL)
		return (-1);
	headlen = (size_t)(end - resp) + 4;
	bodylen = len - headlen;

	/* First pass: the framing must be a Content-Length that fits. */
	line = (const char *)memchr(resp, '\n', headlen) + 1;
	if (line[-2] != '\r' || memchr(resp, '\r', (size_t)(line - 2 - resp)) != NULL)
		return (-1);
	for (; line < end + 2; line = eol + 2) {
		eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
		linelen = (size_t)(eol - line);
		/* Lines end with CRLF and nothing else: no header hides in one. */
		if (memchr(line, '\n', linelen) != NULL ||
		    memchr(line, '\r', linelen) != NULL ||
		    forward_line_is(line, linelen, "Transfer-Encoding"))
			return (-1);
		if (!forward_line_is(line, linelen, "Content-Length"))
			continue;
		if (clen != -1)
			return (-1);
		for (v = line + 15; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		if (v == eol || *v < '0' || *v > '9')
			return (-1);
		errno = 0;
		clen = strtoll(v, &stop, 10);
		if (errno != 0 || clen < 0)
			return (-1);
		while (stop < eol && (*stop == ' ' || *stop == '\t'))
			stop++;
		if (stop != eol)
			return (-1);
	}
	if (clen < 0 || (unsigned long long)clen != bodylen)
		return (-1);

	/* Second pass: everything but Connection and Keep-Alive. */
	line = (const char *)memchr(resp, '\n', headlen) + 1;
	evbuffer_add(out, resp, (size_t)(line - resp));
	for (; line < end + 2; line = eol + 2) {
		eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
		linelen = (size_t)(eol - line);
		if (forward_line_is(line, linelen, "Connection") ||
		    forward_line_is(line, linelen, "Keep-Alive"))
			continue;
		evbuffer_add(out, line, linelen + 2);
	}
	if (!keepalive)
		evbuffer_add_printf(out, "Connection: close\r\n");
	evbuffer_add(out, "\r\n", 2);
	if (bodylen > 0)
		evbuffer_add(out, resp + headlen, bodylen);
	return (0);
}

char *
forward_channel(const char *prefix, const char *node_tag, int slot, int generation)
{
	char *s;

	if (xasprintf(&s, "%s%s%s:%d:%d", prefix, FORWARD_CHANNEL, node_tag, slot,
	    generation) == -1)
		fatalx("forward: out of memory");
	return (s);
}

/* --- the requester ----------------------------------------------------- */


static struct forward_bucket *
forward_bucket(struct forward *fwd, uint64_t id)
{
	return (&fwd->fwd_waits[id & (FORWARD_BUCKETS - 1)]);
}

static struct forward_wait *
forward_wait_find(struct forward *fwd, uint64_t id)
{
	struct forward_wait *fw;

	LIST_FOREACH(fw, forward_bucket(fwd, id), fw_entry)
		if (fw->fw_id == id)
			return (fw);
	return (NULL);
}

/* The wait is over: forget it; its connection is the caller's business. */
static void
forward_wait_free(struct forward_wait *fw)
{
	LIST_REMOVE(fw, fw_entry);
	fw->fw_fwd->fwd_nwaits--;
	event_free(fw->fw_timer);
	event_free(fw->fw_probe);
	free(fw->fw_channel);
	free(fw);
}

static const char *
forward_cors(const struct forward_wait *fw, char *buf, size_t len)
{
	buf[0] = '\0';
	if (fw->fw_origin[0] != '\0')
		snprintf(buf, len, "Access-Control-Allow-Origin: %s\r\n"
		    "Access-Control-Allow-Credentials: true\r\nVary: Origin\r\n",
		    fw->fw_origin);
	return (buf);
}

/*
 * Answer the client ourselves and end the wait: 400 (the session is
 * unknown: nobody serves it), 502 (no usable answer) or 504 (none in
 * time).
 */
static void
forward_wait_answer(struct forward_wait *fw, int status)
{
	struct conn	*c = fw->fw_conn;
	char		 body[128], cors[FORWARD_ORIGIN_MAX + 128];
	const char	*ctype = "text/plain; charset=utf-8";
	int		 n;

	if (status == 400) {
		/* What the owner says of a sid it does not know. */
		n = snprintf(body, sizeof(body), "{\"code\":%d,\"message\":"
		    "\"Session ID unknown\"}", FORWARD_ERR_SID);
		ctype = "application/json";
	} else
		n = snprintf(body, sizeof(body), "%d %s\n", status,
		    status == 504 ? "Gateway Timeout" : "Bad Gateway");
	http_response(conn_output(c), status, ctype, forward_cors(fw, cors,
	    sizeof(cors)), body, (size_t)n, conn_keepalive(c));
	forward_wait_free(fw);
	conn_release(c);
}

static void
forward_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct forward_wait *fw = arg;

	(void)fd;
	(void)what;
	log_info("%s: no answer from the session's node: 504", conn_peer(fw->fw_conn));
	forward_wait_answer(fw, 504);
}

/* The client left while its request was away: a late answer is dropped. */
static void
forward_conn_closed(struct conn *c, void *arg)
{
	struct forward_wait *fw = arg;

	(void)c;
	forward_wait_free(fw);
}

/*
 * The PUBLISH of a request was answered: a count of 0 means that no
 * worker listens on the owner's channel any more, so the session is gone.
 */
static void
forward_published(void *arg, struct redisReply *reply, const char *err)
{
	struct forward_pub	*fp = arg;
	struct forward_wait	*fw;

	fw = forward_wait_find(fp->fp_fwd, fp->fp_id);
	if (fw != NULL) {
		if (err != NULL) {
			log_info("%s: cannot forward: %s", conn_peer(fw->fw_conn), err);
			forward_wait_answer(fw, 400);
		} else if (reply != NULL && reply->type == REDIS_REPLY_INTEGER &&
		    reply->integer == 0) {
			log_debug("%s: nobody serves the session's node any more",
			    conn_peer(fw->fw_conn));
			forward_wait_answer(fw, 400);
		}
	}
	free(fp);
}

/*
 * The answer to PUBSUB NUMSUB <owner's channel>: [channel, count].  At 0
 * the owner is gone (killed, say) while its answer was awaited.  An error
 * changes nothing: the wait's timeout still bounds it.
 */
static void
forward_probed(void *arg, struct redisReply *reply, const char *err)
{
	struct forward_pub	*fp = arg;
	struct forward_wait	*fw;

	fw = forward_wait_find(fp->fp_fwd, fp->fp_id);
	if (fw != NULL && err == NULL && reply != NULL &&
	    reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
	    reply->element[1]->type == REDIS_REPLY_INTEGER &&
	    reply->element[1]->integer == 0) {
		log_debug("%s: the session's node went away while we waited",
		    conn_peer(fw->fw_conn));
		forward_wait_answer(fw, 400);
	}
	free(fp);
}

static void
forward_probe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct forward_wait	*fw = arg;
	struct forward_pub	*fp;
	const char		*argv[3];
	size_t			 argvlen[3];

	(void)fd;
	(void)what;
	fp = xcalloc(1, sizeof(*fp));
	fp->fp_fwd = fw->fw_fwd;
	fp->fp_id = fw->fw_id;
	argv[0] = "PUBSUB";
	argv[1] = "NUMSUB";
	argv[2] = fw->fw_channel;
	argvlen[0] = strlen(argv[0]);
	argvlen[1] = strlen(argv[1]);
	argvlen[2] = strlen(argv[2]);
	redis_command(fw->fw_fwd->fwd_redis, forward_probed, fp, 3, argv, argvlen);
}

int
forward_request(struct forward *fwd, struct conn *c, const struct http_request *req,
    const char *sid, const char *body, size_t len)
{
	const struct conf		*conf = fwd->fwd_host->ch_conf;
	const struct http_header	*hh;
	struct forward_req		 q;
	struct forward_wait		*fw;
	struct forward_pub		*fp;
	struct evbuffer			*b;
	struct timeval			 tv;
	const char			*argv[3];
	size_t				 argvlen[3], i;
	char				 tag[EIO_NODE_TAG_LEN + 1], *channel;
	int				 slot, gen;

	if (!redis_connected(fwd->fwd_redis))
		return (-1);
	if (fwd->fwd_nwaits >= FORWARD_PENDING_MAX) {
		log_warnx("%s: %d requests forwarded already: refused", conn_peer(c),
		    FORWARD_PENDING_MAX);
		return (-1);
	}
	if (strlen(sid) != EIO_SID_LEN || len > conf->c_max_payload ||
	    !forward_tag_ok(sid, EIO_NODE_TAG_LEN) ||
	    (slot = sid_b64url_value(sid[EIO_NODE_TAG_LEN])) == -1 ||
	    (gen = sid_b64url_value(sid[EIO_NODE_TAG_LEN + 1])) == -1 ||
	    req->hr_method_len > FORWARD_METHOD_MAX ||
	    req->hr_target_len > FORWARD_TARGET_MAX)
		return (-1);
	memcpy(tag, sid, EIO_NODE_TAG_LEN);
	tag[EIO_NODE_TAG_LEN] = '\0';

	memset(&q, 0, sizeof(q));
	snprintf(q.fq_node, sizeof(q.fq_node), "%s", fwd->fwd_node);
	q.fq_slot = fwd->fwd_slot & (FORWARD_SLOTS_MAX - 1);
	q.fq_generation = (int)(fwd->fwd_generation & (FORWARD_SLOTS_MAX - 1));
	q.fq_id = fwd->fwd_next_id++;
	q.fq_method = req->hr_method_str;
	q.fq_methodlen = req->hr_method_len;
	q.fq_target = req->hr_target;
	q.fq_targetlen = req->hr_target_len;
	for (i = 0; i < FORWARD_HEADERS_MAX; i++) {
		if ((hh = http_header_find(req, forward_header_names[i])) == NULL ||
		    hh->hh_valuelen > FORWARD_VALUE_MAX)
			continue;
		q.fq_headers[q.fq_nheaders].fh_name = forward_header_names[i];
		q.fq_headers[q.fq_nheaders].fh_namelen =
		    strlen(forward_header_names[i]);
		q.fq_headers[q.fq_nheaders].fh_value = hh->hh_value;
		q.fq_headers[q.fq_nheaders].fh_valuelen = hh->hh_valuelen;
		q.fq_nheaders++;
	}
	q.fq_body = body;
	q.fq_bodylen = len;

	fw = xcalloc(1, sizeof(*fw));
	fw->fw_fwd = fwd;
	fw->fw_conn = c;
	fw->fw_id = q.fq_id;
	if ((hh = http_header_find(req, "Origin")) != NULL &&
	    hh->hh_valuelen <= FORWARD_ORIGIN_MAX)
		memcpy(fw->fw_origin, hh->hh_value, hh->hh_valuelen);
	if ((fw->fw_timer = evtimer_new(fwd->fwd_host->ch_base,
	    forward_timeout_cb, fw)) == NULL)
		fatalx("forward: cannot create a timer");
	tv.tv_sec = fwd->fwd_timeout_ms / 1000;
	tv.tv_usec = (fwd->fwd_timeout_ms % 1000) * 1000;
	evtimer_add(fw->fw_timer, &tv);
	channel = forward_channel(fwd->fwd_prefix, tag, slot, gen);
	fw->fw_channel = channel;
	if ((fw->fw_probe = event_new(fwd->fwd_host->ch_base, -1, EV_PERSIST,
	    forward_probe_cb, fw)) == NULL)
		fatalx("forward: cannot create a timer");
	tv.tv_sec = FORWARD_PROBE_MS / 1000;
	tv.tv_usec = (FORWARD_PROBE_MS % 1000) * 1000;
	evtimer_add(fw->fw_probe, &tv);
	LIST_INSERT_HEAD(forward_bucket(fwd, fw->fw_id), fw, fw_entry);
	fwd->fwd_nwaits++;

	if ((b = evbuffer_new()) == NULL)
		fatalx("forward: out of memory");
	forward_req_encode(b, &q);
	fp = xcalloc(1, sizeof(*fp));
	fp->fp_fwd = fwd;
	fp->fp_id = fw->fw_id;
	argv[0] = "PUBLISH";
	argvlen[0] = strlen(argv[0]);
	argv[1] = channel;
	argvlen[1] = strlen(channel);
	argvlen[2] = evbuffer_get_length(b);
	argv[2] = (const char *)evbuffer_pullup(b, -1);
	/* The PUBLISH's reply comes later, from the loop, never from within. */
	conn_hold(c, &forward_conn_proto, fw);
	redis_command(fwd->fwd_redis, forward_published, fp, 3, argv, argvlen);
	stats_inc(STAT_FORWARDS);
	log_debug("%s: %.*s forwarded to %s as #%llu", conn_peer(c),
	    (int)req->hr_method_len, req->hr_method_str, channel,
	    (unsigned long long)fw->fw_id);
	evbuffer_free(b);
	return (0);
}

/* The owner's answer to one of our requests. */
static void
forward_answer(struct forward *fwd, const void *msg, size_t len)
{
	struct forward_wait	*fw;
	struct conn		*c;
	const void		*resp;
	size_t			 resplen;
	uint64_t		 id;

	if (forward_resp_decode(msg, len, &id, &resp, &resplen) == -1) {
		log_warnx("forward: malformed answer dropped");
		return;
	}
	if ((fw = forward_wait_find(fwd, id)) == NULL) {
		/* Timed out, or its client left. */
		log_debug("forward: late answer #%llu dropped",
		    (unsigned long long)id);
		return;
	}
	c = fw->fw_conn;
	if (resplen == 0 || forward_resp_rewrite(conn_output(c), resp, resplen,
	    conn_keepalive(c)) == -1) {
		log_info("%s: the session's node gave no usable answer: 502",
		    conn_peer(c));
		forward_wait_answer(fw, 502);
		return;
	}
	forward_wait_free(fw);
	conn_release(c);
}

/* --- the owner --------------------------------------------------------- */

static void
forward_job_free(struct forward_job *fj)
{
	LIST_REMOVE(fj, fj_entry);
	fj->fj_fwd->fwd_njobs--;
	event_free(fj->fj_read);
	event_free(fj->fj_timer);
	/* The connection on the other end sees EOF and closes, if still open. */
	close(fj->fj_fd);
	evbuffer_free(fj->fj_buf);
	free(fj->fj_reply);
	free(fj);
}

/* Send the requester the answer (len 0: there is none) and finish. */
static void
forward_job_reply(struct forward_job *fj, const void *resp, size_t len)
{
	struct evbuffer *b;

	if ((b = evbuffer_new()) == NULL)
		fatalx("forward: out of memory");
	forward_resp_encode(b, fj->fj_id, resp, len);
	redis_publish(fj->fj_fwd->fwd_redis, fj->fj_reply, evbuffer_pullup(b, -1),
	    evbuffer_get_length(b));
	evbuffer_free(b);
	forward_job_free(fj);
}

static void
forward_job_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct forward_job	*fj = arg;
	size_t			 have;
	int			 n;

	(void)what;
	n = evbuffer_read(fj->fj_buf, fd, FORWARD_READ_CHUNK);
	if (n > 0) {
		if (evbuffer_get_length(fj->fj_buf) > fj->fj_fwd->fwd_response_max) {
			log_warnx("forward: answer #%llu over %zu bytes dropped",
			    (unsigned long long)fj->fj_id,
			    fj->fj_fwd->fwd_response_max);
			forward_job_reply(fj, NULL, 0);
		}
		return;
	}
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	/* EOF: the response is complete ("Connection: close"). */
	have = evbuffer_get_length(fj->fj_buf);
	if (n == -1) {
		log_warn("forward: reading answer #%llu", (unsigned long long)fj->fj_id);
		have = 0;
	}
	forward_job_reply(fj, have > 0 ? evbuffer_pullup(fj->fj_buf, -1) : NULL,
	    have);
}

static void
forward_job_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct forward_job *fj = arg;

	(void)fd;
	(void)what;
	log_info("forward: request #%llu of %s not answered in time",
	    (unsigned long long)fj->fj_id, fj->fj_reply);
	forward_job_reply(fj, NULL, 0);
}

/* Another node's request for a session of ours: answer it here. */
static void
forward_serve(struct forward *fwd, const void *msg, size_t len)
{
	struct forward_req	 q;
	struct forward_job	*fj;
	struct evbuffer		*b;
	struct timeval		 tv;
	char			*reply;
	int			 sv[2];

	if (forward_req_decode(msg, len, &q) == -1) {
		log_warnx("forward: malformed request dropped");
		return;
	}
	reply = forward_channel(fwd->fwd_prefix, q.fq_node, q.fq_slot,
	    q.fq_generation);
	if (fwd->fwd_njobs >= FORWARD_SERVING_MAX ||
	    q.fq_bodylen > fwd->fwd_host->ch_conf->c_max_payload ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1) {
		if (fwd->fwd_njobs >= FORWARD_SERVING_MAX)
			log_warnx("forward: %d requests in progress: #%llu refused",
			    FORWARD_SERVING_MAX, (unsigned long long)q.fq_id);
		else if (q.fq_bodylen > fwd->fwd_host->ch_conf->c_max_payload)
			log_info("forward: request #%llu over max_payload refused",
			    (unsigned long long)q.fq_id);
		else
			log_warn("forward: socketpair");
		if ((b = evbuffer_new()) == NULL)
			fatalx("forward: out of memory");
		forward_resp_encode(b, q.fq_id, NULL, 0);
		redis_publish(fwd->fwd_redis, reply, evbuffer_pullup(b, -1),
		    evbuffer_get_length(b));
		evbuffer_free(b);
		free(reply);
		return;
	}

	fj = xcalloc(1, sizeof(*fj));
	fj->fj_fwd = fwd;
	fj->fj_reply = reply;
	fj->fj_id = q.fq_id;
	fj->fj_fd = sv[1];
	fj->fj_read = event_new(fwd->fwd_host->ch_base, sv[1], EV_READ | EV_PERSIST,
	    forward_job_read_cb, fj);
	fj->fj_timer = evtimer_new(fwd->fwd_host->ch_base, forward_job_timeout_cb,
	    fj);
	if ((fj->fj_buf = evbuffer_new()) == NULL || fj->fj_read == NULL ||
	    fj->fj_timer == NULL)
		fatalx("forward: out of memory");
	event_add(fj->fj_read, NULL);
	tv.tv_sec = fwd->fwd_timeout_ms / 1000;
	tv.tv_usec = (fwd->fwd_timeout_ms % 1000) * 1000;
	evtimer_add(fj->fj_timer, &tv);
	LIST_INSERT_HEAD(&fwd->fwd_jobs, fj, fj_entry);
	fwd->fwd_njobs++;

	if ((b = evbuffer_new()) == NULL)
		fatalx("forward: out of memory");
	forward_req_http(b, &q);
	log_debug("forward: request #%llu from %s", (unsigned long long)q.fq_id,
	    reply);
	/* May answer at once; the answer waits in the socketpair for the loop. */
	conn_adopt(fwd->fwd_host, fwd->fwd_site, sv[0],
	    NULL, evbuffer_pullup(b, -1), evbuffer_get_length(b));
	evbuffer_free(b);
}

/* --- the worker's side ------------------------------------------------- */

int
forward_message(struct forward *fwd, const char *channel, size_t chlen,
    const void *msg, size_t len)
{
	const unsigned char *p = msg;

	if (chlen != strlen(fwd->fwd_channel) ||
	    memcmp(channel, fwd->fwd_channel, chlen) != 0)
		return (0);
	if (len >= 2 && p[0] == FORWARD_WIRE_VERSION && p[1] == FORWARD_WIRE_REQUEST)
		forward_serve(fwd, msg, len);
	else if (len >= 2 && p[0] == FORWARD_WIRE_VERSION &&
	    p[1] == FORWARD_WIRE_RESPONSE)
		forward_answer(fwd, msg, len);
	else
		log_warnx("forward: unknown message dropped");
	return (1);
}

struct forward *
forward_new(struct conn_host *host, const struct conn_site *site, int slot,
    unsigned generation, struct redis *redis, const char *node_tag)
{
	const struct conf	*conf = host->ch_conf;
	struct forward		*fwd;
	size_t			 i;

	if (!forward_tag_ok(node_tag, strlen(node_tag)))
		fatalx("forward: bad node tag \"%s\"", node_tag);
	fwd = xcalloc(1, sizeof(*fwd));
	fwd->fwd_host = host;
	fwd->fwd_site = site;
	fwd->fwd_slot = slot;
	fwd->fwd_generation = generation;
	fwd->fwd_redis = redis;
	fwd->fwd_prefix = xstrdup(conf->c_redis_prefix != NULL ?
	    conf->c_redis_prefix : "");
	snprintf(fwd->fwd_node, sizeof(fwd->fwd_node), "%s", node_tag);
	fwd->fwd_channel = forward_channel(fwd->fwd_prefix, node_tag,
	    slot & (FORWARD_SLOTS_MAX - 1),
	    (int)(generation & (FORWARD_SLOTS_MAX - 1)));
	/*
	 * Ids start at random, so that the answers still in flight for a
	 * crashed predecessor on this channel find nothing to match.
	 */
	if (getrandom(&fwd->fwd_next_id, sizeof(fwd->fwd_next_id), 0) !=
	    (ssize_t)sizeof(fwd->fwd_next_id))
		fatal("getrandom");
	for (i = 0; i < FORWARD_BUCKETS; i++)
		LIST_INIT(&fwd->fwd_waits[i]);
	LIST_INIT(&fwd->fwd_jobs);
	/* A held GET may wait ping_interval on the owner; Redis adds its delay. */
	fwd->fwd_timeout_ms = conf->c_ping_interval + conf->c_ping_timeout +
	    conf->c_redis_timeout;
	/* A poll flushes at most the send queue; binary data grows by base64. */
	fwd->fwd_response_max = 2 * conf->c_max_send_queue + FORWARD_HEAD_MAX;
	redis_subscribe(redis, fwd->fwd_channel);
	return (fwd);
}

/*
 * Free the state; the connections held and adopted are the worker's and
 * close with it.  Call after redis_free, whose callbacks refer to fwd.
 */
void
forward_free(struct forward *fwd)
{
	struct forward_wait	*fw;
	struct forward_job	*fj;
	size_t			 i;

	if (fwd == NULL)
		return;
	for (i = 0; i < FORWARD_BUCKETS; i++)
		while ((fw = LIST_FIRST(&fwd->fwd_waits[i])) != NULL) {
			conn_unhold(fw->fw_conn);
			forward_wait_free(fw);
		}
	while ((fj = LIST_FIRST(&fwd->fwd_jobs)) != NULL)
		forward_job_free(fj);
	free(fwd->fwd_channel);
	free(fwd->fwd_prefix);
	free(fwd);
}
