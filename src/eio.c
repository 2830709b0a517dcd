/*
 * eio.c: the Engine.IO v4 server and its Socket.IO connections.  See eio.h.
 *
 * A session moves through:
 *
 *	OPEN (polling or websocket) --probe--> UPGRADING --"5"--> OPEN (websocket)
 *	OPEN --close--> CLOSING (out of the table, torn down from the loop)
 *
 * Everything the server sends is queued on the session first: over
 * websocket the queue is flushed at once, over polling when a GET is
 * waiting.  Closing is always finished from the loop (ES_T_CLOSE), so
 * that no caller (a broadcast loop in nsp.c, a websocket read loop) sees
 * the session vanish under it.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/random.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "conf.h"
#include "conn.h"
#include "eio.h"
#include "stats.h"
#include "handshake.h"
#include "eio_codec.h"
#include "forward.h"
#include "handoff.h"
#include "host.h"
#include "http.h"
#include "idle.h"
#include "log.h"
#include "nsp.h"
#include "session.h"
#include "sio_codec.h"
#include "util.h"
#include "ws.h"
#include "ws_frame.h"
#include "xmalloc.h"

/* Engine.IO error codes and their messages, as the Node server sends them. */
#define EIO_ERR_TRANSPORT	0	/* Transport unknown */
#define EIO_ERR_SID		1	/* Session ID unknown */
#define EIO_ERR_METHOD		2	/* Bad handshake method */
#define EIO_ERR_REQUEST		3	/* Bad request */
#define EIO_ERR_FORBIDDEN	4	/* Forbidden */
#define EIO_ERR_VERSION		5	/* Unsupported protocol version */

static const char *const eio_errors[] = {
	"Transport unknown", "Session ID unknown", "Bad handshake method",
	"Bad request", "Forbidden", "Unsupported protocol version"
};

/* How much of a refused Origin the log shows. */
#define EIO_ORIGIN_LOG_MAX	128


enum es_transport {
	ES_POLLING,
	ES_WEBSOCKET
};

enum es_state {
	ES_OPEN,
	ES_CLOSING
};

/* A session's rarely needed timers (es_timers). */
enum es_timer {
	ES_T_UPGRADE,
	ES_T_CONNECT,
	ES_T_CLOSE,	/* deferred close */
	ES_T_DROP,	/* a handler asked for a close */
	ES_T_FLUSH,	/* answer the waiting GET */
	ES_T_COUNT
};

/* One queued Engine.IO packet. */
struct eio_out {
	TAILQ_ENTRY(eio_out)	 eo_entry;
	enum eio_type		 eo_type;
	struct nsp_msg		*eo_msg;	/* a Socket.IO message, or NULL */
	char			*eo_data;	/* else: the data after the type */
	size_t			 eo_len;
};
TAILQ_HEAD(eio_queue, eio_out);

/*
 * A Socket.IO packet whose binary attachments are still coming.  Made
 * only while a packet waits for them: an idle session holds none.
 */
struct eio_pending {
	struct sio_packet	 ep_pkt;
	size_t			 ep_bytes;	/* its attachments so far */
};

/*
 * A session.  Every idle client holds one, so the flags and small enums
 * are bytes packed behind the sid rather than ints with holes between.
 */
struct eio_session {
	/*
	 * In its hash bucket: singly linked, since a bucket holds about
	 * one session and removal walks it (8 bytes less per session).
	 */
	SLIST_ENTRY(eio_session) es_entry;
	struct eio_server	*es_srv;
	char			 es_sid[EIO_SID_LEN + 1];
	uint8_t			 es_transport;	/* enum es_transport */
	uint8_t			 es_state;	/* enum es_state */
	uint8_t			 es_poll_keepalive;
	uint8_t			 es_probed;	/* "3probe" sent: noop owed to a GET */
	uint8_t			 es_beat_on;	/* in a heartbeat list */
	uint8_t			 es_ping_sent;	/* waiting for the pong */
	uint8_t			 es_drop_hard;
	uint8_t			 es_close_hard;
	struct conn		*es_poll;	/* held polling GET */
	struct ws_conn		*es_ws;		/* websocket transport */
	struct ws_conn		*es_probe;	/* websocket being upgraded to */
	struct eio_queue	 es_queue;
	size_t			 es_queued;	/* bytes in es_queue */
	/* In one of the server's heartbeat lists (eio_server's srv_beats). */
	TAILQ_ENTRY(eio_session) es_beat_entry;
	int64_t			 es_beat_at;	/* monotonic ms: ping, or its timeout */
	/*
	 * ES_T_COUNT timers, each made on first use, in an array made with
	 * the first and freed with the last: an idle session holds neither
	 * timers nor room for them.  NULL when none exists.
	 */
	struct event		**es_timers;
	/*
	 * Why the session ends: while OPEN, set by a server-side close that
	 * waits for the client's next poll (es_shutting_down); once CLOSING,
	 * the reason of the close.  One field serves both, since a session
	 * waiting to shut down closes with that very reason.
	 */
	const char		*es_reason;
	struct conn		*es_post;	/* a POST whose body is coming */
	struct nsp_client	*es_client;
	struct eio_pending	*es_pending;	/* waiting for attachments, or NULL */
	char			*es_origin;	/* allowed Origin for CORS, or NULL */
};

SLIST_HEAD(eio_bucket, eio_session);
TAILQ_HEAD(eio_beats, eio_session);

/*
 * The heartbeat: one timer per list instead of one per session.  Every
 * session of a list waits the same delay (ping_interval for the next
 * ping, ping_timeout for the pong), so appending keeps a list in order
 * of deadline and only its head needs a timer.
 */
struct eio_beat_list {
	struct eio_beats	 bl_list;
	struct event		*bl_timer;	/* at the head's deadline */
	int64_t			 bl_delay;	/* ms */
	struct eio_server	*bl_srv;
	int			 bl_pong;	/* the list of pongs awaited */
};

struct eio_server {
	struct eio_env		 srv_env;	/* what the worker gave it */
	const struct conf	*srv_conf;
	char			 srv_node[EIO_NODE_TAG_LEN + 1];
	struct eio_bucket	*srv_buckets;
	size_t			 srv_nbuckets;
	size_t			 srv_nsessions;
	size_t			 srv_pathlen;
	struct idle		*srv_idle;	/* RAIN's idle policy */
	struct eio_beat_list	 srv_beats[2];	/* [0] next ping, [1] pong */
};

static void	es_flush(struct eio_session *);
static int	es_shutting_down(const struct eio_session *);
static void	es_beat_cb(evutil_socket_t, short, void *);
static void	es_flush_poll(struct eio_session *);
static void	es_flush_cb(evutil_socket_t, short, void *);
static void	es_shutdown(struct eio_session *, const char *);
static void	es_close(struct eio_session *, const char *reason, int hard);
static void	es_packet(struct eio_session *, enum eio_type, int binary,
		    const void *, size_t);
static void	es_send(struct eio_session *, enum eio_type, const char *, size_t);
static void	es_client_send(void *, struct nsp_msg *);
static void	es_client_close(void *, enum nsp_close, unsigned int);
static void	es_drop_cb(evutil_socket_t, short, void *);

static void	es_post_closed(struct conn *, void *);
static const struct conn_proto es_post_proto = {
	NULL, NULL, es_post_closed
};

static const struct nsp_client_ops es_client_ops = {
	es_client_send, es_client_close
};

/* Sessions by sid: a hash table that doubles when it fills up. */
static uint32_t
eio_hash(const char *sid)
{
	uint32_t h = 2166136261u;

	while (*sid != '\0')
		h = (h ^ (unsigned char)*sid++) * 16777619u;
	return (h);
}

static struct eio_session *
eio_find(struct eio_server *srv, const char *sid, size_t len)
{
	struct eio_session	*es;
	char			 key[EIO_SID_LEN + 1];

	if (len != EIO_SID_LEN)
		return (NULL);
	memcpy(key, sid, len);
	key[len] = '\0';
	SLIST_FOREACH(es, &srv->srv_buckets[eio_hash(key) % srv->srv_nbuckets],
	    es_entry)
		if (strcmp(es->es_sid, key) == 0)
			return (es);
	return (NULL);
}

static void
eio_insert(struct eio_server *srv, struct eio_session *es)
{
	struct eio_bucket	*nb;
	struct eio_session	*s;
	size_t			 i, n;

	if (srv->srv_nsessions >= srv->srv_nbuckets) {
		n = srv->srv_nbuckets * 2;
		nb = xcalloc(n, sizeof(*nb));
		for (i = 0; i < srv->srv_nbuckets; i++)
			while ((s = SLIST_FIRST(&srv->srv_buckets[i])) != NULL) {
				SLIST_REMOVE_HEAD(&srv->srv_buckets[i], es_entry);
				SLIST_INSERT_HEAD(&nb[eio_hash(s->es_sid) % n], s,
				    es_entry);
			}
		free(srv->srv_buckets);
		srv->srv_buckets = nb;
		srv->srv_nbuckets = n;
	}
	SLIST_INSERT_HEAD(&srv->srv_buckets[eio_hash(es->es_sid) %
	    srv->srv_nbuckets], es, es_entry);
	srv->srv_nsessions++;
	stats_gauge_add(es->es_transport == ES_POLLING ? STAT_G_EIO_POLLING :
	    STAT_G_EIO_WEBSOCKET, 1);
}

/*
 * The load the idle policy weighs against disconnect_idle_on_max_conn:
 * this worker's Engine.IO connections, whatever their transport (a
 * polling client holds no TCP connection between its requests).
 */
static size_t
eio_idle_load(void *arg)
{
	return (eio_server_sessions(arg));
}

struct eio_server *
eio_server_new(const struct eio_env *env)
{
	struct eio_server	*srv;
	struct eio_beat_list	*bl;
	const struct conf	*conf = env->ee_host->ch_conf;
	int			 i;

	srv = xcalloc(1, sizeof(*srv));
	srv->srv_env = *env;
	srv->srv_conf = conf;
	snprintf(srv->srv_node, sizeof(srv->srv_node), "%s", env->ee_node_tag);
	srv->srv_nbuckets = EIO_SESSION_BUCKETS;
	srv->srv_buckets = xcalloc(srv->srv_nbuckets, sizeof(*srv->srv_buckets));
	srv->srv_pathlen = strlen(conf->c_eio_path);
	srv->srv_idle = idle_new(env->ee_host->ch_base, env->ee_nsp, conf,
	    eio_idle_load, srv);
	for (i = 0; i < 2; i++) {
		bl = &srv->srv_beats[i];
		TAILQ_INIT(&bl->bl_list);
		bl->bl_srv = srv;
		bl->bl_pong = i;
		bl->bl_delay = i == 0 ? conf->c_ping_interval : conf->c_ping_timeout;
		bl->bl_timer = evtimer_new(env->ee_host->ch_base, es_beat_cb, bl);
		if (bl->bl_timer == NULL)
			fatalx("eio: cannot create the heartbeat timers");
	}
	return (srv);
}

void
eio_server_free(struct eio_server *srv)
{
	if (srv == NULL)
		return;
	idle_free(srv->srv_idle);
	event_free(srv->srv_beats[0].bl_timer);
	event_free(srv->srv_beats[1].bl_timer);
	free(srv->srv_buckets);
	free(srv);
}

size_t
eio_server_close_some(struct eio_server *srv, size_t n)
{
	struct eio_session	*es, *next;
	size_t			 i, done = 0;

	for (i = 0; i < srv->srv_nbuckets && done < n; i++)
		for (es = SLIST_FIRST(&srv->srv_buckets[i]); es != NULL &&
		    done < n; es = next) {
			next = SLIST_NEXT(es, es_entry);
			/* Told to go: the client reconnects to a new worker. */
			es_close(es, "server shutting down", 0);
			done++;
		}
	return (done);
}

size_t
eio_server_sessions(const struct eio_server *srv)
{
	return (srv->srv_nsessions);
}

void
eio_server_stop(struct eio_server *srv)
{
	struct eio_session	*es, *next;
	size_t			 i;

	for (i = 0; i < srv->srv_nbuckets; i++)
		for (es = SLIST_FIRST(&srv->srv_buckets[i]); es != NULL; es = next) {
			next = SLIST_NEXT(es, es_entry);
			es_close(es, "server shutting down", 0);
		}
}

/*
 * The sid: 4 characters naming the node, one the worker slot, one the
 * generation (both base64url digits), and 14 random ones (84 bits), as
 * long as the Node server's and as unguessable.
 */
static void
eio_sid_new(struct eio_server *srv, char sid[EIO_SID_LEN + 1])
{
	sid_new(sid, srv->srv_node, srv->srv_env.ee_slot,
	    srv->srv_env.ee_generation);
}

int
eio_path_match(const struct eio_server *srv, const struct http_request *req)
{
	const char *path = srv->srv_conf->c_eio_path;

	/* "/socket.io" without its slash is the endpoint too. */
	if (req->hr_path_len == srv->srv_pathlen - 1)
		return (memcmp(req->hr_path, path, req->hr_path_len) == 0);
	return (req->hr_path_len >= srv->srv_pathlen &&
	    memcmp(req->hr_path, path, srv->srv_pathlen) == 0);
}

/* --- HTTP answers ----------------------------------------------------- */

/*
 * Is the request's Origin allowed?  No Origin (not a browser) is, unless
 * require_origin says otherwise; so is the request's own origin (its
 * host equals Host), and whatever allowed_origins names ("*" for any).
 * Browsers send Origin with every websocket upgrade and cross-origin
 * request, so this is what stops another site's page from using a
 * visitor's cookie (cross-site websocket hijacking).
 */
static int
eio_origin_allowed(const struct eio_server *srv, const struct http_request *req,
    const struct http_header **originp)
{
	const struct conf_strings	*list = &srv->srv_conf->c_allowed_origins;
	const struct http_header	*origin, *host;
	const char			*o;
	size_t				 olen, i;

	*originp = origin = http_header_find(req, "Origin");
	if (origin == NULL)
		return (!srv->srv_conf->c_require_origin);
	for (i = 0; i < list->cs_n; i++) {
		if (strcmp(list->cs_v[i], "*") == 0 ||
		    (strlen(list->cs_v[i]) == origin->hh_valuelen &&
		    strncasecmp(list->cs_v[i], origin->hh_value,
		    origin->hh_valuelen) == 0))
			return (1);
	}
	if ((host = http_header_find(req, "Host")) == NULL)
		return (0);
	o = origin->hh_value;
	olen = origin->hh_valuelen;
	if (olen > 7 && strncasecmp(o, "http://", 7) == 0) {
		o += 7;
		olen -= 7;
	} else if (olen > 8 && strncasecmp(o, "https://", 8) == 0) {
		o += 8;
		olen -= 8;
	} else
		return (0);
	return (olen == host->hh_valuelen &&
	    strncasecmp(o, host->hh_value, olen) == 0);
}

/* CORS headers for an allowed cross-origin request, into buf. */
static const char *
eio_cors(const struct http_header *origin, char *buf, size_t len)
{
	if (origin == NULL || origin->hh_valuelen > EIO_ORIGIN_MAX) {
		buf[0] = '\0';
		return (buf);
	}
	snprintf(buf, len, "Access-Control-Allow-Origin: %.*s\r\n"
	    "Access-Control-Allow-Credentials: true\r\nVary: Origin\r\n",
	    (int)origin->hh_valuelen, origin->hh_value);
	return (buf);
}

/*
 * Any other answer to an Engine.IO request (polling data, a close, a 400,
 * 413, 500 or 503): with the CORS headers whenever the request had an
 * allowed Origin, since a browser that does not get them reports a
 * "transport error" instead of what the server said.
 */
static void
eio_answer(struct conn *c, int status, const char *ctype,
    const struct http_header *origin, const char *body, size_t len, int keepalive)
{
	char cors[320];

	http_response(conn_output(c), status, ctype,
	    eio_cors(origin, cors, sizeof(cors)), body, len, keepalive);
}

/* The allowed Origin of a request, or NULL (none, or not allowed). */
static const struct http_header *
eio_cors_origin(const struct eio_server *srv, const struct http_request *req)
{
	const struct http_header *origin;

	return (eio_origin_allowed(srv, req, &origin) ? origin : NULL);
}

/* An answer to the session's waiting GET, with the session's CORS headers. */
static void
es_answer_poll(struct eio_session *es, struct conn *c, const char *body, size_t len)
{
	struct http_header origin;

	origin.hh_value = es->es_origin;
	origin.hh_valuelen = es->es_origin != NULL ? strlen(es->es_origin) : 0;
	eio_answer(c, 200, "text/plain; charset=UTF-8",
	    es->es_origin != NULL ? &origin : NULL, body, len, es->es_poll_keepalive);
}

/* The Node server's error answer: 400 with {"code":N,"message":"..."}. */
static void
eio_error(struct conn *c, int code, const struct http_header *origin)
{
	char	body[128], cors[320];
	int	n, status = code == EIO_ERR_FORBIDDEN ? 403 : 400;

	n = snprintf(body, sizeof(body), "{\"code\":%d,\"message\":\"%s\"}",
	    code, eio_errors[code]);
	http_response(conn_output(c), status, "application/json",
	    eio_cors(origin, cors, sizeof(cors)), body, (size_t)n,
	    conn_keepalive(c));
	log_debug("%s: engine.io error %d: %s", conn_peer(c), code, eio_errors[code]);
}

/*
 * A refused websocket upgrade: the Node server writes a short 400 and
 * destroys the socket, so the connection closes after it.
 */
static void
eio_upgrade_error(struct conn *c, int status, const char *extra, const char *msg)
{
	char	head[256];

	snprintf(head, sizeof(head), "%sConnection: close\r\n",
	    extra != NULL ? extra : "");
	http_response(conn_output(c), status, "text/html", head, msg,
	    strlen(msg), 0);
	conn_close_after_write(c);
}

/* An error answered as the Node server does for this kind of request. */
static void
eio_fail(struct conn *c, int code, const struct http_header *origin, int upgrade)
{
	if (upgrade)
		eio_upgrade_error(c, 400, NULL, eio_errors[code]);
	else
		eio_error(c, code, origin);
}

/* --- the session ------------------------------------------------------ */

static void
eio_out_free(struct eio_out *eo)
{
	if (eo->eo_msg != NULL)
		nsp_msg_unref(eo->eo_msg);
	free(eo->eo_data);
	free(eo);
}

static size_t
eio_out_size(const struct eio_out *eo)
{
	size_t n, i;

	/* The entry itself counts: a slow poller's queue is mostly entries. */
	if (eo->eo_msg == NULL)
		return (sizeof(*eo) + eo->eo_len + 1);
	n = sizeof(*eo) + eo->eo_msg->nm_len;
	for (i = 0; i < eo->eo_msg->nm_nattach; i++)
		n += eo->eo_msg->nm_attach[i].sa_len;
	return (n);
}

/*
 * A session's rarely needed timer, made on first use: most sessions never
 * upgrade, get dropped by a handler or poll, and every struct event is
 * memory an idle connection holds.
 */
static struct event *
es_timer(struct eio_session *es, enum es_timer t, event_callback_fn cb)
{
	if (es->es_timers == NULL)
		es->es_timers = xcalloc(ES_T_COUNT, sizeof(*es->es_timers));
	if (es->es_timers[t] == NULL && (es->es_timers[t] =
	    evtimer_new(es->es_srv->srv_env.ee_host->ch_base, cb, es)) == NULL)
		fatalx("eio: cannot create a timer");
	return (es->es_timers[t]);
}

/* The timer if it was made, else NULL. */
static struct event *
es_timer_get(const struct eio_session *es, enum es_timer t)
{
	return (es->es_timers != NULL ? es->es_timers[t] : NULL);
}

static void
es_timer_del(struct eio_session *es, enum es_timer t)
{
	struct event *ev = es_timer_get(es, t);

	if (ev != NULL)
		evtimer_del(ev);
}

/* Free a timer that has done its work, and the array with the last one. */
static void
es_timer_free(struct eio_session *es, enum es_timer t)
{
	int i;

	if (es->es_timers == NULL || es->es_timers[t] == NULL)
		return;
	event_free(es->es_timers[t]);
	es->es_timers[t] = NULL;
	for (i = 0; i < ES_T_COUNT; i++)
		if (es->es_timers[i] != NULL)
			return;
	free(es->es_timers);
	es->es_timers = NULL;
}

static void
es_timer_ms(struct event *ev, int64_t ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(ev, &tv);
}

/* Arm a list's timer for its head, or stop it when the list is empty. */
static void
es_beat_rearm(struct eio_beat_list *bl)
{
	struct eio_session	*head = TAILQ_FIRST(&bl->bl_list);
	int64_t			 ms;

	if (head == NULL) {
		evtimer_del(bl->bl_timer);
		return;
	}
	ms = head->es_beat_at - monotonic_ms();
	es_timer_ms(bl->bl_timer, ms > 0 ? ms : 1);
}

/* Take es out of its heartbeat list, if it is in one. */
static void
es_beat_stop(struct eio_session *es)
{
	struct eio_beat_list	*bl;
	int			 head;

	if (!es->es_beat_on)
		return;
	bl = &es->es_srv->srv_beats[es->es_ping_sent];
	head = TAILQ_FIRST(&bl->bl_list) == es;
	TAILQ_REMOVE(&bl->bl_list, es, es_beat_entry);
	es->es_beat_on = 0;
	if (head)
		es_beat_rearm(bl);
}

/* Wait for the time to ping (pong 0) or for the pong (pong 1). */
static void
es_beat_start(struct eio_session *es, int pong)
{
	struct eio_beat_list *bl;

	es_beat_stop(es);
	es->es_ping_sent = pong;
	bl = &es->es_srv->srv_beats[pong];
	es->es_beat_at = monotonic_ms() + bl->bl_delay;
	TAILQ_INSERT_TAIL(&bl->bl_list, es, es_beat_entry);
	es->es_beat_on = 1;
	if (TAILQ_FIRST(&bl->bl_list) == es)
		es_beat_rearm(bl);
}

/* Every session of the list whose time has come: ping it, or close it. */
static void
es_beat_cb(evutil_socket_t fd, short what, void *arg)
{
	struct eio_beat_list	*bl = arg;
	struct eio_session	*es;
	int64_t			 now = monotonic_ms();

	(void)fd;
	(void)what;
	while ((es = TAILQ_FIRST(&bl->bl_list)) != NULL &&
	    es->es_beat_at <= now) {
		TAILQ_REMOVE(&bl->bl_list, es, es_beat_entry);
		es->es_beat_on = 0;
		if (bl->bl_pong) {
			es_close(es, "ping timeout", 0);
			continue;
		}
		es_send(es, EIO_PING, NULL, 0);
		es_beat_start(es, 1);
	}
	es_beat_rearm(bl);
}

static void
es_connect_cb(evutil_socket_t fd, short what, void *arg)
{
	struct eio_session *es = arg;

	(void)fd;
	(void)what;
	/* It has done its work: an idle session holds no timer for it. */
	es_timer_free(es, ES_T_CONNECT);
	if (es->es_client != NULL && es->es_client->nc_nsockets == 0)
		es_shutdown(es, "forced close");
}

static void
es_upgrade_cb(evutil_socket_t fd, short what, void *arg)
{
	struct eio_session *es = arg;

	(void)fd;
	(void)what;
	if (es->es_probe != NULL) {
		log_debug("session %s: upgrade timed out", es->es_sid);
		ws_abort(es->es_probe);
		es->es_probe = NULL;
		es->es_probed = 0;
	}
}

/* Tear the session down; runs from the loop (ES_T_CLOSE). */
static void
es_close_cb(evutil_socket_t fd, short what, void *arg)
{
	struct eio_session	*es = arg;
	struct eio_out		*eo;
	struct conn		*c;
	int			 i;

	(void)fd;
	(void)what;
	log_debug("session %s closed: %s", es->es_sid, es->es_reason);
	if (es->es_probe != NULL)
		ws_abort(es->es_probe);
	if (es->es_ws != NULL) {
		if (es->es_close_hard)
			ws_abort(es->es_ws);
		else
			ws_close(es->es_ws, strcmp(es->es_reason,
			    "server shutting down") == 0 ? WS_CLOSE_GOING_AWAY :
			    WS_CLOSE_NORMAL, NULL);
	}
	if ((c = es->es_poll) != NULL) {
		es->es_poll = NULL;
		if (es->es_close_hard)
			conn_abort(c);
		else {
			/* The waiting GET carries the close packet. */
			es_answer_poll(es, c, "1", 1);
			conn_release(c);
		}
	}
	if (es->es_client != NULL)
		nsp_client_closed(es->es_client, es->es_reason);
	while ((eo = TAILQ_FIRST(&es->es_queue)) != NULL) {
		TAILQ_REMOVE(&es->es_queue, eo, eo_entry);
		eio_out_free(eo);
	}
	if (es->es_pending != NULL) {
		sio_packet_clear(&es->es_pending->ep_pkt);
		free(es->es_pending);
	}
	es_beat_stop(es);
	for (i = 0; i < ES_T_COUNT; i++)
		es_timer_free(es, i);
	free(es->es_origin);
	free(es);
}

/*
 * Close the session: out of the table now (later requests for it get
 * "Session ID unknown"), torn down from the loop.
 */
static void
es_close(struct eio_session *es, const char *reason, int hard)
{
	struct timeval tv = { 0, 0 };

	if (es->es_state == ES_CLOSING)
		return;
	es->es_state = ES_CLOSING;
	es->es_reason = reason;
	es->es_close_hard = hard;
	SLIST_REMOVE(&es->es_srv->srv_buckets[eio_hash(es->es_sid) %
	    es->es_srv->srv_nbuckets], es, eio_session, es_entry);
	es->es_srv->srv_nsessions--;
	stats_gauge_add(es->es_transport == ES_POLLING ? STAT_G_EIO_POLLING :
	    STAT_G_EIO_WEBSOCKET, -1);
	es_beat_stop(es);
	es_timer_del(es, ES_T_UPGRADE);
	es_timer_del(es, ES_T_CONNECT);
	es_timer_del(es, ES_T_DROP);
	es_timer_del(es, ES_T_FLUSH);
	if (es->es_post != NULL) {
		/* A POST body still coming: its connection forgets us. */
		conn_unhold(es->es_post);
		es->es_post = NULL;
	}
	evtimer_add(es_timer(es, ES_T_CLOSE, es_close_cb), &tv);
}

/* Is a server-side close waiting for the client's next poll? */
static int
es_shutting_down(const struct eio_session *es)
{
	return (es->es_state == ES_OPEN && es->es_reason != NULL);
}

/*
 * A close the server decides (Node's socket.close()): the client is told
 * with a close packet.  Over polling with no GET waiting, the session
 * stays until the next GET, which carries a noop and the close packet,
 * or until EIO_CLOSE_TIMEOUT_MS.
 */
static void
es_shutdown(struct eio_session *es, const char *reason)
{
	if (es->es_state != ES_OPEN || es_shutting_down(es))
		return;
	if (es->es_transport != ES_POLLING || es->es_poll != NULL) {
		es_close(es, reason, 0);
		return;
	}
	es->es_reason = reason;
	es_beat_stop(es);
	es_timer_del(es, ES_T_CONNECT);
	es->es_drop_hard = 0;
	es_timer_ms(es_timer(es, ES_T_DROP, es_drop_cb), EIO_CLOSE_TIMEOUT_MS);
}

static struct eio_session *
es_new(struct eio_server *srv, enum es_transport transport,
    const struct http_header *origin)
{
	struct eio_session	*es;

	es = xcalloc(1, sizeof(*es));
	es->es_srv = srv;
	do
		eio_sid_new(srv, es->es_sid);
	while (eio_find(srv, es->es_sid, EIO_SID_LEN) != NULL);
	es->es_transport = transport;
	TAILQ_INIT(&es->es_queue);
	if (origin != NULL && origin->hh_valuelen <= EIO_ORIGIN_MAX)
		es->es_origin = xstrndup(origin->hh_value, origin->hh_valuelen);
	es->es_client = nsp_client_new(srv->srv_env.ee_nsp, &es_client_ops,
	    es, es->es_sid);
	eio_insert(srv, es);
	es_beat_start(es, 0);
	es_timer_ms(es_timer(es, ES_T_CONNECT, es_connect_cb),
	    EIO_CONNECT_TIMEOUT_MS);
	log_debug("session %s opened (%s)", es->es_sid,
	    transport == ES_POLLING ? "polling" : "websocket");
	return (es);
}

/*
 * The user's session, from the handshake's cookie or made now
 * (session_create yes, with the Set-Cookie line for the answer).
 */
static void
es_session(struct eio_session *es, const struct http_request *req,
    char *set_cookie, size_t len)
{
	struct session_store	*store = es->es_srv->srv_env.ee_session;
	char			 sid[SESSION_ID_LEN + 1];

	set_cookie[0] = '\0';
	if (store != NULL && session_handshake(store, req, sid, set_cookie, len))
		nsp_client_set_session_id(es->es_client, sid);
}

/* The handshake packet: 0{"sid":...,"upgrades":[...],...}. */
static void
es_handshake(struct eio_session *es, struct evbuffer *out)
{
	const struct conf *conf = es->es_srv->srv_conf;

	evbuffer_add_printf(out, "0{\"sid\":\"%s\",\"upgrades\":%s,"
	    "\"pingInterval\":%" PRId64 ",\"pingTimeout\":%" PRId64
	    ",\"maxPayload\":%zu}", es->es_sid,
	    es->es_transport == ES_POLLING ? "[\"websocket\"]" : "[]",
	    conf->c_ping_interval, conf->c_ping_timeout, conf->c_max_payload);
}

static void
es_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	es_flush(arg);
}

/*
 * Queue a packet.  Over websocket it is written at once; a waiting
 * polling GET is answered from the loop, so that everything queued in
 * the same turn (a CONNECT answer and what handle emits, a burst of
 * broadcasts) leaves in one response, as the Node server's would.
 */
static void
es_enqueue(struct eio_session *es, struct eio_out *eo)
{
	struct timeval	 tv = { 0, 0 };
	struct event	*ev;

	if (es->es_state != ES_OPEN) {
		eio_out_free(eo);
		return;
	}
	TAILQ_INSERT_TAIL(&es->es_queue, eo, eo_entry);
	es->es_queued += eio_out_size(eo);
	if (es->es_queued > es->es_srv->srv_conf->c_max_send_queue) {
		ws_dropped_slow++;
		stats_inc(STAT_SLOW_DROPS);
		log_warnx("session %s: over max_send_queue (%zu bytes): closed",
		    es->es_sid, es->es_srv->srv_conf->c_max_send_queue);
		es_close(es, "transport error", 1);
		return;
	}
	if (es->es_transport == ES_WEBSOCKET)
		es_flush(es);
	else if (es->es_poll != NULL) {
		ev = es_timer(es, ES_T_FLUSH, es_flush_cb);
		if (!evtimer_pending(ev, NULL))
			evtimer_add(ev, &tv);
	}
}

static void
es_send(struct eio_session *es, enum eio_type type, const char *data, size_t len)
{
	struct eio_out *eo;

	eo = xcalloc(1, sizeof(*eo));
	eo->eo_type = type;
	if (len > 0)
		eo->eo_data = xmemdup(data, len);
	eo->eo_len = len;
	es_enqueue(es, eo);
}

/* Answer the waiting GET with everything queued. */
static void
es_flush_poll(struct eio_session *es)
{
	struct conn		*c = es->es_poll;
	struct evbuffer		*body;
	struct eio_out		*eo;
	struct eio_packet	 p;
	char			 cors[320], extra[400];
	struct http_header	 origin;
	size_t			 i;
	int			 sep = 0;

	if ((body = evbuffer_new()) == NULL)
		fatalx("eio: out of memory");
	while ((eo = TAILQ_FIRST(&es->es_queue)) != NULL) {
		TAILQ_REMOVE(&es->es_queue, eo, eo_entry);
		if (eo->eo_msg != NULL) {
			if (sep)
				evbuffer_add(body, "\x1e", 1);
			evbuffer_add(body, eo->eo_msg->nm_data, eo->eo_msg->nm_len);
			for (i = 0; i < eo->eo_msg->nm_nattach; i++) {
				p.ep_type = EIO_MESSAGE;
				p.ep_binary = 1;
				p.ep_data = eo->eo_msg->nm_attach[i].sa_data;
				p.ep_len = eo->eo_msg->nm_attach[i].sa_len;
				eio_payload_append(body, 1, &p);
			}
		} else {
			p.ep_type = eo->eo_type;
			p.ep_binary = 0;
			p.ep_data = eo->eo_data;
			p.ep_len = eo->eo_len;
			eio_payload_append(body, sep, &p);
		}
		sep = 1;
		eio_out_free(eo);
	}
	es->es_queued = 0;
	es->es_poll = NULL;
	origin.hh_value = es->es_origin;
	origin.hh_valuelen = es->es_origin != NULL ? strlen(es->es_origin) : 0;
	snprintf(extra, sizeof(extra), "Content-Type: text/plain; charset=UTF-8\r\n%s",
	    es->es_origin != NULL ? eio_cors(&origin, cors, sizeof(cors)) : "");
	http_response_head(conn_output(c), 200, extra,
	    (int64_t)evbuffer_get_length(body), es->es_poll_keepalive);
	evbuffer_add_buffer(conn_output(c), body);
	evbuffer_free(body);
	conn_release(c);
}

/* Send what is queued if the current transport can take it now. */
static void
es_flush(struct eio_session *es)
{
	struct eio_out *eo;

	if (es->es_state != ES_OPEN || TAILQ_EMPTY(&es->es_queue))
		return;
	if (es->es_transport == ES_POLLING) {
		if (es->es_poll != NULL)
			es_flush_poll(es);
		return;
	}
	while ((eo = TAILQ_FIRST(&es->es_queue)) != NULL) {
		TAILQ_REMOVE(&es->es_queue, eo, eo_entry);
		es->es_queued -= eio_out_size(eo);
		if (eo->eo_msg != NULL)
			ws_send_msg(es->es_ws, eo->eo_msg);
		else {
			char buf[1 + 128];

			/* Our own packets are tiny: ping, close, noop. */
			buf[0] = (char)('0' + eo->eo_type);
			if (eo->eo_len < sizeof(buf) - 1) {
				/* A ping has no data: eo_data is NULL then. */
				if (eo->eo_len > 0)
					memcpy(buf + 1, eo->eo_data, eo->eo_len);
				ws_send(es->es_ws, 0, buf, eo->eo_len + 1);
			} else {
				struct evbuffer *tmp = evbuffer_new();

				eio_packet_encode(tmp, eo->eo_type, eo->eo_data,
				    eo->eo_len);
				ws_send(es->es_ws, 0, evbuffer_pullup(tmp, -1),
				    evbuffer_get_length(tmp));
				evbuffer_free(tmp);
			}
		}
		eio_out_free(eo);
	}
}

/* --- the namespace client's ops ---------------------------------------- */

static void
es_client_send(void *arg, struct nsp_msg *msg)
{
	struct eio_session	*es = arg;
	struct eio_out		*eo;

	stats_inc(STAT_EIO_MESSAGES_OUT);
	stats_add(STAT_EIO_BYTES_OUT, msg->nm_len);
	/*
	 * Over websocket with nothing waiting here, the message goes straight
	 * to the transport, which queues and bounds it itself: no entry to
	 * make and free for each delivery.
	 */
	if (es->es_state == ES_OPEN && es->es_transport == ES_WEBSOCKET &&
	    es->es_ws != NULL && TAILQ_EMPTY(&es->es_queue) &&
	    msg->nm_len <= es->es_srv->srv_conf->c_max_send_queue) {
		ws_send_msg(es->es_ws, msg);
		return;
	}
	eo = xcalloc(1, sizeof(*eo));
	eo->eo_type = EIO_MESSAGE;
	eo->eo_msg = nsp_msg_ref(msg);
	es_enqueue(es, eo);
}

static void
es_drop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct eio_session *es = arg;

	(void)fd;
	(void)what;
	if (es_shutting_down(es)) {
		es_close(es, es->es_reason, 0);
		return;
	}
	if (es->es_drop_hard)
		es_close(es, "forced close", 1);
	else
		es_shutdown(es, "forced close");
}

static void
es_client_close(void *arg, enum nsp_close how, unsigned int delay_ms)
{
	struct eio_session *es = arg;

	if (es->es_state != ES_OPEN)
		return;
	es->es_drop_hard = how == NSP_CLOSE_HARD;
	es_timer_ms(es_timer(es, ES_T_DROP, es_drop_cb), delay_ms);
}

/* --- packets from the client ------------------------------------------- */

/* A Socket.IO packet is complete: on to the namespaces. */
static void
es_sio_deliver(struct eio_session *es, struct sio_packet *pkt)
{
	if (nsp_client_packet(es->es_client, pkt) == -1) {
		log_info("session %s: invalid socket.io packet: closed", es->es_sid);
		es_shutdown(es, "parse error");
		return;
	}
	/* A namespace is connected: the connect timeout is moot. */
	if (es->es_client->nc_nsockets > 0)
		es_timer_free(es, ES_T_CONNECT);
}

static void
es_message(struct eio_session *es, int binary, const void *data, size_t len)
{
	struct sio_packet	pkt;
	char			err[SIO_ERR_MAX];
	int			rc;

	if (binary) {
		if (es->es_pending == NULL) {
			log_info("session %s: unexpected binary message", es->es_sid);
			es_shutdown(es, "parse error");
			return;
		}
		/*
		 * A packet with all its attachments is bounded like one
		 * message: 64 attachments of max_payload each would let one
		 * client hold 64 times that.
		 */
		es->es_pending->ep_bytes += len;
		if (es->es_pending->ep_bytes > es->es_srv->srv_conf->c_max_payload) {
			log_info("session %s: attachments over max_payload", es->es_sid);
			es_shutdown(es, "parse error");
			return;
		}
		rc = sio_add_attachment(&es->es_pending->ep_pkt, data, len);
		if (rc == -1) {
			log_info("session %s: bad attachment", es->es_sid);
			es_shutdown(es, "parse error");
			return;
		}
		if (rc == 1) {
			pkt = es->es_pending->ep_pkt;
			free(es->es_pending);
			es->es_pending = NULL;
			es_sio_deliver(es, &pkt);
			sio_packet_clear(&pkt);
		}
		return;
	}
	if (es->es_pending != NULL) {
		log_info("session %s: text while attachments were due", es->es_sid);
		es_shutdown(es, "parse error");
		return;
	}
	memset(&pkt, 0, sizeof(pkt));
	if (sio_decode(data, len, &pkt, err, sizeof(err)) == -1) {
		log_info("session %s: socket.io parse error: %s", es->es_sid, err);
		es_shutdown(es, "parse error");
		return;
	}
	if (!sio_complete(&pkt)) {
		es->es_pending = xcalloc(1, sizeof(*es->es_pending));
		es->es_pending->ep_pkt = pkt;
		return;
	}
	es_sio_deliver(es, &pkt);
	sio_packet_clear(&pkt);
}

/* One Engine.IO packet from the client over the session's transport. */
static void
es_packet(struct eio_session *es, enum eio_type type, int binary,
    const void *data, size_t len)
{
	if (es->es_state != ES_OPEN || es_shutting_down(es))
		return;
	if (binary || type == EIO_MESSAGE) {
		stats_inc(STAT_EIO_MESSAGES_IN);
		stats_add(STAT_EIO_BYTES_IN, len);
	}
	if (binary) {
		es_message(es, 1, data, len);
		return;
	}
	switch (type) {
	case EIO_PONG:
		if (es->es_ping_sent)
			es_beat_start(es, 0);
		break;
	case EIO_MESSAGE:
		es_message(es, 0, data, len);
		break;
	case EIO_CLOSE:
		es_close(es, "transport close", 0);
		break;
	case EIO_NOOP:
		break;
	default:
		/* A v4 client never pings, and upgrades only on a probe. */
		log_info("session %s: unexpected packet type %d", es->es_sid, type);
		es_close(es, "parse error", 0);
		break;
	}
}

static int
es_post_packet(const struct eio_packet *p, void *arg)
{
	struct eio_session *es = arg;

	es_packet(es, p->ep_type, p->ep_binary, p->ep_data, p->ep_len);
	return (es->es_state == ES_OPEN ? 0 : -1);
}

/* --- websocket transport ----------------------------------------------- */

static void
es_ws_text(struct eio_session *es, const void *data, size_t len, int binary)
{
	struct eio_packet p;

	if (binary) {
		es_packet(es, EIO_MESSAGE, 1, data, len);
		return;
	}
	if (len > 0 && *(const char *)data == EIO_BINARY_PREFIX) {
		/* forceBase64 clients send binary as "b<base64>" text. */
		unsigned char *scratch = xmalloc(base64_decoded_max(len));

		if (eio_packet_decode_base64(data, len, scratch, &p) == 0)
			es_packet(es, p.ep_type, p.ep_binary, p.ep_data, p.ep_len);
		else {
			log_info("session %s: bad base64 message", es->es_sid);
			es_close(es, "parse error", 0);
		}
		free(scratch);
		return;
	}
	if (eio_packet_decode(data, len, &p) == -1) {
		log_info("session %s: bad engine.io packet", es->es_sid);
		es_close(es, "parse error", 0);
		return;
	}
	es_packet(es, p.ep_type, p.ep_binary, p.ep_data, p.ep_len);
}

static void
es_ws_message(void *arg, int binary, const void *data, size_t len)
{
	es_ws_text(arg, data, len, binary);
}

static void
es_ws_closed(void *arg, const char *reason)
{
	struct eio_session *es = arg;

	es->es_ws = NULL;
	es_close(es, reason, 0);
}

static const struct ws_handler es_ws_handler = {
	es_ws_message, es_ws_closed
};

/* Messages on the websocket being probed before the upgrade. */
static void
es_probe_message(void *arg, int binary, const void *data, size_t len)
{
	struct eio_session	*es = arg;
	static const char	 ping[] = "2probe", upgrade[] = "5";

	if (!binary && len == sizeof(ping) - 1 && memcmp(data, ping, len) == 0) {
		ws_send(es->es_probe, 0, "3probe", 6);
		/* Release the waiting GET so the client can pause polling. */
		es->es_probed = 1;
		if (es->es_poll != NULL)
			es_send(es, EIO_NOOP, NULL, 0);
		return;
	}
	if (!binary && len == 1 && memcmp(data, upgrade, 1) == 0 &&
	    es->es_probed) {
		es_timer_del(es, ES_T_UPGRADE);
		es->es_transport = ES_WEBSOCKET;
		stats_gauge_add(STAT_G_EIO_POLLING, -1);
		stats_gauge_add(STAT_G_EIO_WEBSOCKET, 1);
		es->es_ws = es->es_probe;
		es->es_probe = NULL;
		es->es_probed = 0;
		/* From now on this websocket is the session's transport. */
		ws_rebind(es->es_ws, &es_ws_handler, es);
		if (es->es_poll != NULL) {
			struct conn *c = es->es_poll;

			es->es_poll = NULL;
			es_answer_poll(es, c, "6", 1);
			conn_release(c);
		}
		log_debug("session %s upgraded to websocket", es->es_sid);
		es_flush(es);
		return;
	}
	log_info("session %s: unexpected packet during upgrade", es->es_sid);
	ws_abort(es->es_probe);
	es->es_probe = NULL;
	es->es_probed = 0;
}

static void
es_probe_closed(void *arg, const char *reason)
{
	struct eio_session *es = arg;

	(void)reason;
	es->es_probe = NULL;
	es->es_probed = 0;
	es_timer_del(es, ES_T_UPGRADE);
}

static const struct ws_handler es_probe_handler = {
	es_probe_message, es_probe_closed
};

/* --- polling transport ------------------------------------------------- */

static void
es_poll_closed(struct conn *c, void *arg)
{
	struct eio_session *es = arg;

	(void)c;
	es->es_poll = NULL;
	/* The Node server: "poll connection closed prematurely". */
	es_close(es, "transport close", 0);
}

static const struct conn_proto es_poll_proto = {
	NULL, NULL, es_poll_closed
};

/* The GET after a server-side close: what is queued, a noop, the close. */
static void
es_send_now(struct eio_session *es, struct conn *c)
{
	struct eio_out	*eo;
	const char	*reason = es->es_reason;

	eo = xcalloc(1, sizeof(*eo));
	eo->eo_type = EIO_NOOP;
	TAILQ_INSERT_TAIL(&es->es_queue, eo, eo_entry);
	eo = xcalloc(1, sizeof(*eo));
	eo->eo_type = EIO_CLOSE;
	TAILQ_INSERT_TAIL(&es->es_queue, eo, eo_entry);
	es->es_poll = c;
	es->es_poll_keepalive = conn_keepalive(c);
	conn_hold(c, &es_poll_proto, es);
	es_flush_poll(es);
	es_close(es, reason, 0);
}

static void
es_poll_get(struct eio_session *es, struct conn *c, const struct http_header *origin)
{
	if (es->es_poll != NULL) {
		/* Two GETs at once: the Node server closes the session. */
		log_info("session %s: overlapping polls: closed", es->es_sid);
		eio_answer(c, 400, NULL, origin, NULL, 0, conn_keepalive(c));
		es_close(es, "transport error", 0);
		return;
	}
	/* The answer to this GET, whenever it leaves, is for its origin. */
	free(es->es_origin);
	es->es_origin = origin != NULL && origin->hh_valuelen <= EIO_ORIGIN_MAX ?
	    xstrndup(origin->hh_value, origin->hh_valuelen) : NULL;
	if (es_shutting_down(es)) {
		es_send_now(es, c);
		return;
	}
	es->es_poll = c;
	es->es_poll_keepalive = conn_keepalive(c);
	conn_hold(c, &es_poll_proto, es);
	if (es->es_probed)
		es_send(es, EIO_NOOP, NULL, 0);
	else
		es_flush(es);
}

static void
es_poll_post(struct eio_session *es, struct conn *c, const struct http_request *req,
    const char *body, size_t len, const struct http_header *origin)
{
	const struct http_header	*ctype;
	char				 cors[320];

	ctype = http_header_find(req, "Content-Type");
	if (ctype != NULL && ctype->hh_valuelen >= 24 &&
	    strncasecmp(ctype->hh_value, "application/octet-stream", 24) == 0) {
		/* Binary POST bodies are Engine.IO v3; the Node server refuses them. */
		eio_answer(c, 400, NULL, origin, NULL, 0, conn_keepalive(c));
		es_close(es, "transport error", 0);
		return;
	}
	/* The Node server says "ok" first and closes on a bad payload after. */
	http_response(conn_output(c), 200, "text/html",
	    eio_cors(origin, cors, sizeof(cors)), "ok", 2, conn_keepalive(c));
	if (eio_payload_decode(body, len, es_post_packet, es) == -1 &&
	    es->es_state == ES_OPEN && !es_shutting_down(es)) {
		log_info("session %s: bad polling payload", es->es_sid);
		es_close(es, "parse error", 0);
	}
}

/* The connection of a POST whose body was still coming went away. */
static void
es_post_closed(struct conn *c, void *arg)
{
	struct eio_session *es = arg;

	(void)c;
	es->es_post = NULL;
}

/* --- requests ---------------------------------------------------------- */

struct eio_query {
	const char	*eq_sid;
	size_t		 eq_sidlen;
	const char	*eq_transport;
	size_t		 eq_transportlen;
	const char	*eq_eio;
	size_t		 eq_eiolen;
};

static void
eio_query_parse(const struct http_request *req, struct eio_query *q)
{
	q->eq_sid = http_query_param(req, "sid", &q->eq_sidlen);
	q->eq_transport = http_query_param(req, "transport", &q->eq_transportlen);
	q->eq_eio = http_query_param(req, "EIO", &q->eq_eiolen);
}

static int
eio_query_is(const char *v, size_t len, const char *want)
{
	return (v != NULL && len == strlen(want) && memcmp(v, want, len) == 0);
}

int
eio_head(struct eio_server *srv, struct conn *c, const struct http_request *req)
{
	struct eio_query	q;
	struct eio_session	*es;
	struct handoff		*h;
	int			slot, gen;

	eio_query_parse(req, &q);
	if (req->hr_method == HTTP_METHOD_POST && req->hr_content_length >= 0 &&
	    (uint64_t)req->hr_content_length > srv->srv_conf->c_max_payload) {
		/* The body is not read: the connection cannot go on. */
		log_info("%s: polling POST of %" PRId64 " bytes refused",
		    conn_peer(c), req->hr_content_length);
		eio_answer(c, 413, "text/plain", eio_cors_origin(srv, req), NULL, 0, 0);
		conn_close_after_write(c);
		return (EIO_HEAD_DONE);
	}
	if (q.eq_sid == NULL || q.eq_sidlen != EIO_SID_LEN ||
	    memcmp(q.eq_sid, srv->srv_node, EIO_NODE_TAG_LEN) != 0)
		return (EIO_HEAD_CONTINUE);
	slot = sid_b64url_value(q.eq_sid[EIO_NODE_TAG_LEN]);
	gen = sid_b64url_value(q.eq_sid[EIO_NODE_TAG_LEN + 1]);
	if (slot == srv->srv_env.ee_slot && req->hr_method == HTTP_METHOD_POST &&
	    (es = eio_find(srv, q.eq_sid, q.eq_sidlen)) != NULL &&
	    es->es_state == ES_OPEN) {
		if (es->es_post != NULL) {
			/* Two POSTs at once: the Node server ends it all. */
			log_info("session %s: overlapping POSTs: closed", es->es_sid);
			conn_abort(es->es_post);
			es->es_post = NULL;
			eio_answer(c, 400, NULL, eio_cors_origin(srv, req), NULL, 0, 0);
			conn_close_after_write(c);
			es_close(es, "transport error", 0);
			return (EIO_HEAD_DONE);
		}
		/* Until its body is read, this POST is the session's. */
		es->es_post = c;
		conn_watch(c, &es_post_proto, es);
		return (EIO_HEAD_CONTINUE);
	}
	if (gen != (int)(srv->srv_env.ee_generation & 63)) {
		/*
		 * A session of a generation that drains after a reload.  When
		 * its worker is gone, so is the session: "Session ID unknown".
		 */
		h = srv->srv_env.ee_handoff_gen(srv->srv_env.ee_arg, gen);
		if (slot < 0 || h == NULL || slot >= handoff_slots(h) ||
		    conn_handoff_via(c, h, slot) == -1)
			return (EIO_HEAD_CONTINUE);
		return (EIO_HEAD_DONE);
	} else if (slot == srv->srv_env.ee_slot)
		return (EIO_HEAD_CONTINUE);
	else
		h = srv->srv_env.ee_host->ch_handoff;
	if (slot < 0 || h == NULL || slot >= handoff_slots(h))
		return (EIO_HEAD_CONTINUE);
	if (conn_handoff_via(c, h, slot) == 0)
		return (EIO_HEAD_DONE);
	log_warnx("%s: cannot hand over to slot %d", conn_peer(c), slot);
	eio_answer(c, 503, "text/plain", eio_cors_origin(srv, req), NULL, 0, 0);
	conn_close_after_write(c);
	return (EIO_HEAD_DONE);
}

static void
eio_preflight(struct conn *c, const struct http_request *req,
    const struct http_header *origin)
{
	const struct http_header	*h;
	char				 extra[1024], cors[320];
	int				 n;

	h = http_header_find(req, "Access-Control-Request-Headers");
	n = snprintf(extra, sizeof(extra), "%sAccess-Control-Allow-Methods: "
	    "GET, POST, OPTIONS\r\nAccess-Control-Max-Age: 86400\r\n",
	    eio_cors(origin, cors, sizeof(cors)));
	if (h != NULL && h->hh_valuelen < 512 && n > 0 && (size_t)n < sizeof(extra))
		snprintf(extra + n, sizeof(extra) - (size_t)n,
		    "Access-Control-Allow-Headers: %.*s\r\n",
		    (int)h->hh_valuelen, h->hh_value);
	http_response(conn_output(c), 204, NULL, extra, NULL, 0, conn_keepalive(c));
}

/* Handshake over a direct websocket: the session starts on websocket. */
static void
eio_ws_handshake(struct eio_server *srv, struct conn *c,
    const struct http_request *req, const struct http_header *origin)
{
	struct eio_session	*es;
	struct evbuffer		*b;
	struct ws_conn		*wc;
	char			 cookie[SESSION_SET_COOKIE_MAX];

	es = es_new(srv, ES_WEBSOCKET, origin);
	es_session(es, req, cookie, sizeof(cookie));
	nsp_client_set_handshake(es->es_client, handshake_new(conn_peer(c), req,
	    &srv->srv_conf->c_trusted_proxies));
	wc = ws_accept(c, req, cookie, srv->srv_conf->c_max_payload,
	    srv->srv_conf->c_max_send_queue, &es_ws_handler, es);
	if (wc == NULL) {
		es_close(es, "transport error", 1);
		eio_upgrade_error(c, 400, NULL, "Bad request");
		return;
	}
	es->es_ws = wc;
	if ((b = evbuffer_new()) == NULL)
		fatalx("eio: out of memory");
	es_handshake(es, b);
	ws_send(wc, 0, evbuffer_pullup(b, -1), evbuffer_get_length(b));
	evbuffer_free(b);
}

/* A request for another node's session: polls go there, upgrades stay there. */
static void
eio_request_remote(struct eio_server *srv, struct conn *c,
    const struct http_request *req, const struct eio_query *q, int upgrade,
    const struct http_header *origin, const char *body, size_t len)
{
	char sid[EIO_SID_LEN + 1];

	if (upgrade) {
		eio_upgrade_error(c, 400, NULL, eio_errors[EIO_ERR_REQUEST]);
		return;
	}
	memcpy(sid, q->eq_sid, EIO_SID_LEN);
	sid[EIO_SID_LEN] = '\0';
	if (forward_request(srv->srv_env.ee_forward, c, req, sid, body, len) == 0)
		return;
	eio_error(c, EIO_ERR_SID, origin);
}

/* The upgrade of one of our polling sessions to websocket. */
static void
eio_request_upgrade(struct eio_server *srv, struct eio_session *es,
    struct conn *c, const struct http_request *req)
{
	const char	*wsextra;
	int		 status;

	if (es->es_transport != ES_POLLING || es->es_probe != NULL) {
		eio_upgrade_error(c, 400, NULL, eio_errors[EIO_ERR_REQUEST]);
		return;
	}
	if ((status = ws_upgrade_check(req, &wsextra)) != 0) {
		eio_upgrade_error(c, status, wsextra, "Bad request");
		return;
	}
	es->es_probe = ws_accept(c, req, NULL, srv->srv_conf->c_max_payload,
	    srv->srv_conf->c_max_send_queue, &es_probe_handler, es);
	if (es->es_probe != NULL)
		es_timer_ms(es_timer(es, ES_T_UPGRADE, es_upgrade_cb),
		    srv->srv_conf->c_upgrade_timeout);
}

/* A request for one of our sessions: a poll, a POST or an upgrade. */
static void
eio_request_session(struct eio_server *srv, struct conn *c,
    const struct http_request *req, const struct eio_query *q, int upgrade,
    int websocket, const struct http_header *origin, const char *body,
    size_t len)
{
	struct eio_session *es;

	if ((es = eio_find(srv, q->eq_sid, q->eq_sidlen)) == NULL) {
		eio_fail(c, EIO_ERR_SID, origin, upgrade);
		return;
	}
	if (!eio_query_is(q->eq_eio, q->eq_eiolen, "4")) {
		/* Another protocol for a v4 session. */
		eio_fail(c, EIO_ERR_REQUEST, origin, upgrade);
		return;
	}
	if (websocket && upgrade) {
		eio_request_upgrade(srv, es, c, req);
		return;
	}
	if (websocket || es->es_transport != ES_POLLING) {
		eio_error(c, EIO_ERR_REQUEST, origin);
		return;
	}
	if (req->hr_method == HTTP_METHOD_GET)
		es_poll_get(es, c, origin);
	else if (req->hr_method == HTTP_METHOD_POST)
		es_poll_post(es, c, req, body, len, origin);
	else {
		/* As the Node server: 500, and the session goes on. */
		eio_answer(c, 500, NULL, origin, NULL, 0, conn_keepalive(c));
	}
}

/* A handshake: a new session, on polling or straight on websocket. */
static void
eio_request_new(struct eio_server *srv, struct conn *c,
    const struct http_request *req, const struct eio_query *q, int upgrade,
    int websocket, const struct http_header *origin)
{
	struct eio_session	*es;
	struct evbuffer		*b;
	const char		*wsextra;
	char			 cors[320];
	char			 cookie[SESSION_SET_COOKIE_MAX];
	char			 extra[sizeof(cors) + sizeof(cookie)];
	int			 status;

	if (req->hr_method != HTTP_METHOD_GET) {
		eio_fail(c, EIO_ERR_METHOD, origin, upgrade);
		return;
	}
	if (websocket && !upgrade) {
		eio_error(c, EIO_ERR_REQUEST, origin);
		return;
	}
	if (!eio_query_is(q->eq_eio, q->eq_eiolen, "4")) {
		eio_fail(c, EIO_ERR_VERSION, origin, upgrade);
		return;
	}
	if (srv->srv_nsessions >= srv->srv_conf->c_max_connections) {
		/*
		 * Polling sessions hold no connection between requests: count
		 * them against max_connections too, or handshakes alone could
		 * fill the worker's memory until their heartbeat times out.
		 */
		log_warnx("%s: %zu sessions (max_connections): handshake refused",
		    conn_peer(c), srv->srv_nsessions);
		if (upgrade)
			eio_upgrade_error(c, 503, NULL, "Service Unavailable");
		else
			eio_answer(c, 503, "text/plain", origin, NULL, 0,
			    conn_keepalive(c));
		return;
	}
	if (websocket) {
		if ((status = ws_upgrade_check(req, &wsextra)) != 0) {
			eio_upgrade_error(c, status, wsextra, "Bad request");
			return;
		}
		eio_ws_handshake(srv, c, req, origin);
		return;
	}
	es = es_new(srv, ES_POLLING, origin);
	es_session(es, req, cookie, sizeof(cookie));
	nsp_client_set_handshake(es->es_client, handshake_new(conn_peer(c), req,
	    &srv->srv_conf->c_trusted_proxies));
	if ((b = evbuffer_new()) == NULL)
		fatalx("eio: out of memory");
	es_handshake(es, b);
	snprintf(extra, sizeof(extra), "%s%s", eio_cors(origin, cors,
	    sizeof(cors)), cookie);
	http_response(conn_output(c), 200, "text/plain; charset=UTF-8", extra,
	    evbuffer_pullup(b, -1), evbuffer_get_length(b), conn_keepalive(c));
	evbuffer_free(b);
}

void
eio_request(struct eio_server *srv, struct conn *c, const struct http_request *req,
    const char *body, size_t len)
{
	const struct http_header	*origin;
	struct eio_session		*es;
	struct eio_query		 q;
	int				 upgrade, websocket;

	/* A POST whose body was being read is in: its session forgets it. */
	if ((es = conn_watcher(c, &es_post_proto)) != NULL) {
		es->es_post = NULL;
		conn_unhold(c);
	}

	upgrade = req->hr_upgrade && http_header_has_token(req, "Upgrade", "websocket");
	if (!eio_origin_allowed(srv, req, &origin)) {
		if (origin == NULL)
			log_info("%s: request without Origin refused "
			    "(require_origin)", conn_peer(c));
		else
			log_info("%s: origin %.*s refused", conn_peer(c),
			    origin->hh_valuelen > EIO_ORIGIN_LOG_MAX ?
			    EIO_ORIGIN_LOG_MAX : (int)origin->hh_valuelen,
			    origin->hh_value);
		if (upgrade)
			eio_upgrade_error(c, 403, NULL, "Forbidden");
		else
			eio_error(c, EIO_ERR_FORBIDDEN, NULL);
		return;
	}
	if (req->hr_method == HTTP_METHOD_OPTIONS) {
		eio_preflight(c, req, origin);
		return;
	}
	eio_query_parse(req, &q);
	websocket = eio_query_is(q.eq_transport, q.eq_transportlen, "websocket");
	if (!websocket && !eio_query_is(q.eq_transport, q.eq_transportlen, "polling")) {
		eio_fail(c, EIO_ERR_TRANSPORT, origin, upgrade);
		return;
	}
	if (q.eq_sid != NULL && q.eq_sidlen == EIO_SID_LEN &&
	    memcmp(q.eq_sid, srv->srv_node, EIO_NODE_TAG_LEN) != 0 &&
	    srv->srv_env.ee_forward != NULL)
		eio_request_remote(srv, c, req, &q, upgrade, origin, body, len);
	else if (q.eq_sid != NULL)
		eio_request_session(srv, c, req, &q, upgrade, websocket, origin,
		    body, len);
	else
		eio_request_new(srv, c, req, &q, upgrade, websocket, origin);
}
