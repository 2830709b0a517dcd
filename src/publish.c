/*
 * publish.c: messages from application backends to the clients.  See
 * publish.h.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <hiredis/hiredis.h>
#include <yajl/yajl_tree.h>

#include "conf.h"
#include "conn.h"
#include "emitter_codec.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "nsp.h"
#include "publish.h"
#include "redis.h"
#include "room.h"
#include "secret.h"
#include "sio_codec.h"
#include "stats.h"
#include "xmalloc.h"

#define PUBLISH_ERR_MAX		256

_Static_assert(EMITTER_ROOM_NAME_MAX == ROOM_NAME_MAX,
    "the emitter's room names are the rooms' names");
_Static_assert(EMITTER_ROOMS_MAX <= ROOM_SET_MAX,
    "room_deliver_set takes every room of an emitter message");

struct publish {
	const struct conf	*pb_conf;
	struct redis		*pb_redis;
	struct nsp_registry	*pb_nsp;
	char			*pb_prefix;	/* "<emitter_key>#" */
	size_t			 pb_prefixlen;
	char			*pb_token;	/* NULL: no admin_listen */
	size_t			 pb_tokenlen;
};

/* A POST /publish waiting for Redis's answer. */
struct publish_req {
	struct conn		*pr_conn;	/* NULL once it closed */
	char			 pr_peer[64];
};

/* The events a client could not tell from the library's own. */
static const char *const publish_reserved[] = {
	"connect", "connect_error", "disconnect", "disconnecting",
	"newListener", "removeListener"
};

static void	publish_conn_closed(struct conn *, void *);

static const struct conn_proto publish_proto = {
	NULL, NULL, publish_conn_closed
};

/* A PSUBSCRIBE pattern matching key followed by '#' and anything. */
static char *
publish_pattern(const char *key)
{
	char	*p, *out;

	out = p = xmalloc(strlen(key) * 2 + 3);
	for (; *key != '\0'; key++) {
		if (strchr("*?[]\\", *key) != NULL)
			*p++ = '\\';
		*p++ = *key;
	}
	memcpy(p, "#*", 3);
	return (out);
}

struct publish *
publish_new(const struct conf *conf, struct redis *r, struct nsp_registry *reg,
    char *err, size_t errlen)
{
	struct publish	*pb;
	char		*pattern;

	pb = xcalloc(1, sizeof(*pb));
	pb->pb_conf = conf;
	pb->pb_redis = r;
	pb->pb_nsp = reg;
	xasprintf(&pb->pb_prefix, "%s#", conf->c_emitter_key);
	pb->pb_prefixlen = strlen(pb->pb_prefix);
	if (conf->c_admin_token_file != NULL &&
	    secret_load("admin_token_file", conf->c_admin_token_file,
	    PUBLISH_TOKEN_MAX, &pb->pb_token, &pb->pb_tokenlen, err,
	    errlen) == -1) {
		publish_free(pb);
		return (NULL);
	}
	pattern = publish_pattern(conf->c_emitter_key);
	redis_psubscribe(r, pattern);
	free(pattern);
	return (pb);
}

void
publish_free(struct publish *pb)
{
	if (pb == NULL)
		return;
	free(pb->pb_prefix);
	secret_free(pb->pb_token, pb->pb_tokenlen);
	free(pb);
}

/* --- from the emitter ----------------------------------------------------- */

int
publish_message(struct publish *pb, const char *channel, size_t chlen,
    const char *buf, size_t len)
{
	struct emitter_msg	 m;
	struct nsp_namespace	*nn;
	struct nsp_msg		*msg;
	char			 err[EMITTER_ERR_MAX];

	if (chlen < pb->pb_prefixlen ||
	    memcmp(channel, pb->pb_prefix, pb->pb_prefixlen) != 0)
		return (0);
	stats_inc(STAT_EMITTER_MESSAGES);
	if (emitter_decode(buf, len, &m, err) == -1) {
		stats_inc(STAT_EMITTER_DROPPED);
		log_warnx("emitter message on %.*s dropped: %s", (int)chlen,
		    channel, err);
		return (1);
	}
	/* A namespace no component serves here has nobody to reach. */
	if ((nn = nsp_registry_find(pb->pb_nsp, m.em_nsp)) != NULL) {
		msg = nsp_msg_new(SIO_EVENT, m.em_nsp, -1, m.em_json,
		    m.em_jsonlen, m.em_attach, m.em_nattach);
		/* The message owns the attachments now. */
		m.em_attach = NULL;
		m.em_nattach = 0;
		room_deliver_set(nn, (const char *const *)m.em_rooms, m.em_nrooms,
		    (const char *const *)m.em_except, m.em_nexcept, msg);
		nsp_msg_unref(msg);
	} else
		log_debug("emitter message for %s: not served here", m.em_nsp);
	emitter_msg_clear(&m);
	return (1);
}

/* --- POST /publish -------------------------------------------------------- */

void
publish_http_error(struct conn *c, int status, const char *why,
    const char *extra, int keepalive)
{
	struct json_buf	jb;

	json_buf_init(&jb);
	if (json_put_raw(&jb, "{\"error\":", 9) == -1 ||
	    json_put_string(&jb, why, strlen(why)) == -1 ||
	    json_put_raw(&jb, "}\n", 2) == -1)
		fatalx("publish: out of memory");
	http_response(conn_output(c), status, "application/json", extra,
	    jb.jb_text, jb.jb_len, keepalive);
	json_buf_clear(&jb);
}

/* Answer with status and {"error": why}; 401 asks for the bearer token. */
static void
publish_error(struct conn *c, int status, const char *why, int close)
{
	publish_http_error(c, status, why, status == 401 ?
	    "WWW-Authenticate: Bearer realm=\"raind\"\r\n" : NULL,
	    close ? 0 : conn_keepalive(c));
}

int
publish_head(void *arg, struct conn *c, const struct http_request *req)
{
	struct publish	*pb = arg;
	char		 why[PUBLISH_ERR_MAX];

	/* The body would be refused anyway: say so in JSON, unread. */
	if (req->hr_content_length > (int64_t)pb->pb_conf->c_max_payload) {
		snprintf(why, sizeof(why), "the body is larger than max_payload "
		    "(%zu bytes)", pb->pb_conf->c_max_payload);
		log_info("publish: %s", why);
		publish_error(c, 413, why, 1);
		conn_close_after_write(c);
		return (CONN_HEAD_DONE);
	}
	return (CONN_HEAD_BODY);
}

/* Is the request's bearer token the admin token? */
static int
publish_authorized(struct publish *pb, const struct http_request *req)
{
	const struct http_header	*h;
	static const char		 scheme[] = "Bearer ";
	size_t				 n = sizeof(scheme) - 1;

	if (pb->pb_token == NULL ||
	    (h = http_header_find(req, "Authorization")) == NULL ||
	    h->hh_valuelen <= n || strncasecmp(h->hh_value, scheme, n) != 0)
		return (0);
	return (secret_equal(h->hh_value + n, h->hh_valuelen - n,
	    pb->pb_token, pb->pb_tokenlen));
}

/* A room list: a string, or an array of strings.  -1 with why. */
static int
publish_rooms(yajl_val v, const char *field, const char **out, size_t *n,
    char *why)
{
	size_t	i;

	*n = 0;
	if (v == NULL || YAJL_IS_NULL(v))
		return (0);
	if (YAJL_IS_STRING(v)) {
		out[(*n)++] = YAJL_GET_STRING(v);
	} else if (YAJL_IS_ARRAY(v)) {
		if (v->u.array.len > EMITTER_ROOMS_MAX) {
			snprintf(why, PUBLISH_ERR_MAX, "\"%s\": more than %d "
			    "rooms", field, EMITTER_ROOMS_MAX);
			return (-1);
		}
		for (i = 0; i < v->u.array.len; i++) {
			if (!YAJL_IS_STRING(v->u.array.values[i]))
				goto bad;
			out[(*n)++] = YAJL_GET_STRING(v->u.array.values[i]);
		}
	} else
		goto bad;
	for (i = 0; i < *n; i++)
		if (out[i][0] == '\0' || strlen(out[i]) > ROOM_NAME_MAX)
			goto bad;
	return (0);
 bad:
	snprintf(why, PUBLISH_ERR_MAX, "\"%s\" must be a room name or an array "
	    "of room names (1 to %d bytes each)", field, ROOM_NAME_MAX);
	return (-1);
}

/*
 * The body, checked and turned into the emitter's message: its channel
 * in *channel (to free) and its bytes in out.  -1 with why.
 */
static int
publish_parse(struct publish *pb, const char *body, size_t len,
    struct evbuffer *out, char **channel, char *why)
{
	static const char	*const fields[] = { "namespace", "room",
	    "except", "event", "args" };
	const char		*rooms[EMITTER_ROOMS_MAX], *except[EMITTER_ROOMS_MAX];
	const char		*nsp, *event;
	char			*text, perr[128];
	yajl_val		 root, v[5];
	size_t			 i, j, nrooms, nexcept;
	int			 ret = -1;

	/* yajl wants a string; a NUL inside is not JSON anyway. */
	if (memchr(body, '\0', len) != NULL || !json_utf8_valid(body, len)) {
		snprintf(why, PUBLISH_ERR_MAX, "the body is not UTF-8 JSON text");
		return (-1);
	}
	text = xstrndup(body, len);
	root = yajl_tree_parse(text, perr, sizeof(perr));
	free(text);
	if (root == NULL || !YAJL_IS_OBJECT(root)) {
		snprintf(why, PUBLISH_ERR_MAX, "the body is not a JSON object");
		goto out;
	}
	memset(v, 0, sizeof(v));
	for (i = 0; i < root->u.object.len; i++) {
		for (j = 0; j < sizeof(fields) / sizeof(fields[0]); j++)
			if (strcmp(root->u.object.keys[i], fields[j]) == 0)
				break;
		if (j == sizeof(fields) / sizeof(fields[0])) {
			snprintf(why, PUBLISH_ERR_MAX, "unknown field \"%.64s\"",
			    root->u.object.keys[i]);
			goto out;
		}
		v[j] = root->u.object.values[i];
	}
	if (v[0] == NULL || !YAJL_IS_STRING(v[0]) ||
	    (nsp = YAJL_GET_STRING(v[0]))[0] != '/' ||
	    strlen(nsp) > SIO_NSP_MAX) {
		snprintf(why, PUBLISH_ERR_MAX, "\"namespace\" must be a "
		    "namespace name (\"/id/version/channel\")");
		goto out;
	}
	if (nsp_registry_find(pb->pb_nsp, nsp) == NULL) {
		snprintf(why, PUBLISH_ERR_MAX, "no component serves the "
		    "namespace %.128s", nsp);
		goto out;
	}
	if (publish_rooms(v[1], "room", rooms, &nrooms, why) == -1 ||
	    publish_rooms(v[2], "except", except, &nexcept, why) == -1)
		goto out;
	if (v[3] == NULL || !YAJL_IS_STRING(v[3]) ||
	    (event = YAJL_GET_STRING(v[3]))[0] == '\0') {
		snprintf(why, PUBLISH_ERR_MAX, "\"event\" must be a non-empty "
		    "string");
		goto out;
	}
	for (i = 0; i < sizeof(publish_reserved) / sizeof(publish_reserved[0]);
	    i++)
		if (strcmp(event, publish_reserved[i]) == 0) {
			snprintf(why, PUBLISH_ERR_MAX, "\"%s\" is a reserved "
			    "event name", event);
			goto out;
		}
	if (v[4] != NULL && !YAJL_IS_ARRAY(v[4])) {
		snprintf(why, PUBLISH_ERR_MAX, "\"args\" must be an array");
		goto out;
	}
	if (emitter_encode(out, nsp, rooms, nrooms, except, nexcept, event,
	    v[4], why) == -1)
		goto out;
	*channel = emitter_channel(pb->pb_conf->c_emitter_key, nsp, rooms,
	    nrooms);
	ret = 0;
 out:
	yajl_tree_free(root);
	return (ret);
}

static void
publish_conn_closed(struct conn *c, void *arg)
{
	struct publish_req *pr = arg;

	(void)c;
	pr->pr_conn = NULL;
}

static void
publish_done_cb(void *arg, struct redisReply *reply, const char *err)
{
	struct publish_req	*pr = arg;
	struct conn		*c = pr->pr_conn;
	char			 json[64];
	int			 n;

	if (c == NULL) {
		free(pr);
		return;
	}
	conn_unhold(c);
	if (err != NULL || reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
		log_warnx("%s: publish: redis: %s", pr->pr_peer, err != NULL ?
		    err : reply != NULL && reply->type == REDIS_REPLY_ERROR ?
		    reply->str : "unexpected reply");
		publish_error(c, 503, "the message could not be handed to Redis",
		    0);
	} else {
		stats_inc(STAT_PUBLISHED);
		n = snprintf(json, sizeof(json), "{\"receivers\":%lld}\n",
		    reply->integer);
		http_response(conn_output(c), 202, "application/json", NULL,
		    json, (size_t)n, conn_keepalive(c));
	}
	free(pr);
	conn_release(c);
}

void
publish_request(void *arg, struct conn *c, const struct http_request *req,
    const char *body, size_t len)
{
	struct publish		*pb = arg;
	struct publish_req	*pr;
	struct evbuffer		*msg;
	const char		*argv[3];
	size_t			 argvlen[3];
	char			*channel = NULL, why[PUBLISH_ERR_MAX];

	if (!publish_authorized(pb, req)) {
		log_info("%s: publish: bad or missing bearer token", conn_peer(c));
		publish_error(c, 401, "a valid bearer token is required", 0);
		return;
	}
	if ((msg = evbuffer_new()) == NULL)
		fatalx("publish: out of memory");
	if (publish_parse(pb, body, len, msg, &channel, why) == -1) {
		log_info("%s: publish refused: %s", conn_peer(c), why);
		publish_error(c, 400, why, 0);
		evbuffer_free(msg);
		return;
	}
	pr = xcalloc(1, sizeof(*pr));
	pr->pr_conn = c;
	snprintf(pr->pr_peer, sizeof(pr->pr_peer), "%s", conn_peer(c));
	argv[0] = "PUBLISH";
	argvlen[0] = 7;
	argv[1] = channel;
	argvlen[1] = strlen(channel);
	argvlen[2] = evbuffer_get_length(msg);
	argv[2] = (const char *)evbuffer_pullup(msg, -1);
	conn_hold(c, &publish_proto, pr);
	redis_command(pb->pb_redis, publish_done_cb, pr, 3, argv, argvlen);
	free(channel);
	evbuffer_free(msg);
}

int
publish_conf_check(const struct conf *conf, char *err, size_t errlen)
{
	const char	*file;
	char		*token, why[CONF_ERR_MAX];
	size_t		 len, i;
	int		 line, admin = 0;

	for (i = 0; i < conf->c_nlisten; i++)
		if (conf->c_listen[i].cl_kind == CONF_LISTEN_ADMIN)
			admin = 1;
	if (!admin)
		return (0);
	if (!conf_redis_wanted(conf))
		snprintf(why, sizeof(why), "admin_listen publishes through "
		    "Redis: set redis or redis_sentinel");
	else if (secret_load("admin_token_file", conf->c_admin_token_file,
	    PUBLISH_TOKEN_MAX, &token, &len, why, sizeof(why)) == 0) {
		secret_free(token, len);
		return (0);
	}
	if (conf_where(conf, conf->c_admin_token_file != NULL &&
	    conf_redis_wanted(conf) ? "admin_token_file" : "admin_listen", &file,
	    &line) == 0)
		snprintf(err, errlen, "%s:%d: %s", file, line, why);
	else
		snprintf(err, errlen, "%s", why);
	return (-1);
}
