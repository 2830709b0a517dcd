/*
 * handler.c: the rain_* functions of <rain/handler.h>.
 *
 * Modules resolve these symbols against the daemon (linked with
 * -export-dynamic).  Every function checks its handles, because a
 * mistake in a handler must cost at most its own event, never the worker.
 */
#include "config.h"

#include <sys/queue.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "rain/handler.h"

#include "component.h"
#include "handler.h"
#include "handshake.h"
#include "json.h"
#include "log.h"
#include "nsp.h"
#include "sio_codec.h"
#include "pool.h"
#include "room.h"
#include "stats.h"
#include "xmalloc.h"

/* The public limits are the ones the modules enforce. */
_Static_assert(RAIN_ROOM_NAME_MAX == ROOM_NAME_MAX, "room name limits differ");
_Static_assert(RAIN_ROOMS_MAX == ROOM_PER_SOCKET_MAX, "rooms per socket differ");

/* Work for rain_later and rain_pool_run. */
struct handler_call {
	struct rain_socket	*hc_view;
	rain_callback_fn	 hc_fn;
	void			(*hc_work)(void *);
	void			*hc_arg;
};

void
handler_view_clear(struct rain_socket *v)
{
	if (v->rs_data != NULL && v->rs_data_free != NULL)
		v->rs_data_free(v->rs_data);
	v->rs_data = NULL;
	free(v->rs_listeners);
	v->rs_listeners = NULL;
	v->rs_nlisteners = 0;
	free(v->rs_ondisc);
	v->rs_ondisc = NULL;
	v->rs_nondisc = 0;
}

static void
handler_vlog(struct rain_socket *v, int level, const char *fmt, va_list ap)
{
	char line[RAIN_LOG_LINE_MAX], *p;
	const struct component *c;

	if (level > log_getlevel())
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	/* Handlers log what clients sent: keep one event on one log line. */
	for (p = line; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (v == NULL) {
		log_info("(no socket): %s", line);
		return;
	}
	c = v->rs_module->cm_comp;
	switch (level) {
	case LOG_LEVEL_ERROR:
		log_errorx("%s %s %s %s: %s", c->c_id, c->c_version,
		    v->rs_sock->ns_nsp->nn_name, v->rs_sock->ns_id, line);
		break;
	case LOG_LEVEL_WARN:
		log_warnx("%s %s %s %s: %s", c->c_id, c->c_version,
		    v->rs_sock->ns_nsp->nn_name, v->rs_sock->ns_id, line);
		break;
	case LOG_LEVEL_INFO:
		log_info("%s %s %s %s: %s", c->c_id, c->c_version,
		    v->rs_sock->ns_nsp->nn_name, v->rs_sock->ns_id, line);
		break;
	default:
		log_debug("%s %s %s %s: %s", c->c_id, c->c_version,
		    v->rs_sock->ns_nsp->nn_name, v->rs_sock->ns_id, line);
		break;
	}
}

void
handler_log(struct rain_socket *v, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	handler_vlog(v, level, fmt, ap);
	va_end(ap);
}

#define HANDLER_LOG_FN(name, level)					\
void									\
name(struct rain_socket *v, const char *fmt, ...)			\
{									\
	va_list ap;							\
									\
	va_start(ap, fmt);						\
	handler_vlog(v, level, fmt, ap);				\
	va_end(ap);							\
}
HANDLER_LOG_FN(rain_log_error, LOG_LEVEL_ERROR)
HANDLER_LOG_FN(rain_log_warn, LOG_LEVEL_WARN)
HANDLER_LOG_FN(rain_log_info, LOG_LEVEL_INFO)
HANDLER_LOG_FN(rain_log_debug, LOG_LEVEL_DEBUG)

/*
 * Listeners.
 */

int
rain_on_flags(struct rain_socket *v, const char *event, rain_listener_fn fn, int flags)
{
	struct handler_listener *hl;
	const char *name;

	if (v == NULL || event == NULL || fn == NULL)
		return (-1);
	if (nsp_event_reserved(event)) {
		handler_log(v, LOG_LEVEL_WARN, "rain_on: \"%s\" is reserved (use "
		    "rain_on_disconnect for disconnections)", event);
		return (-1);
	}
	if (v->rs_nlisteners >= RAIN_LISTENERS_MAX) {
		handler_log(v, LOG_LEVEL_WARN, "rain_on: more than %d listeners",
		    RAIN_LISTENERS_MAX);
		return (-1);
	}
	if (*event == '\0' || (name = nsp_intern(v->rs_sock->ns_nsp, event)) == NULL) {
		handler_log(v, LOG_LEVEL_WARN, "rain_on: bad event name (empty, longer "
		    "than %d bytes, or too many names)", RAIN_EVENT_NAME_MAX);
		return (-1);
	}
	v->rs_listeners = xreallocarray(v->rs_listeners, v->rs_nlisteners + 1,
	    sizeof(*v->rs_listeners));
	hl = &v->rs_listeners[v->rs_nlisteners++];
	hl->hl_name = name;
	hl->hl_fn = fn;
	hl->hl_flags = flags;
	return (0);
}

int
rain_on(struct rain_socket *v, const char *event, rain_listener_fn fn)
{
	return (rain_on_flags(v, event, fn, 0));
}

int
rain_on_disconnect(struct rain_socket *v, rain_disconnect_fn fn)
{
	if (v == NULL || fn == NULL || v->rs_nondisc >= RAIN_LISTENERS_MAX)
		return (-1);
	v->rs_ondisc = xreallocarray(v->rs_ondisc, v->rs_nondisc + 1, sizeof(*v->rs_ondisc));
	v->rs_ondisc[v->rs_nondisc++] = fn;
	return (0);
}

/*
 * The event.
 */

const char *
rain_event_name(const struct rain_event *ev)
{
	return (ev != NULL ? ev->ev_name : NULL);
}

size_t
rain_event_argc(const struct rain_event *ev)
{
	if (ev == NULL || !YAJL_IS_ARRAY(ev->ev_data) || ev->ev_data->u.array.len < ev->ev_first)
		return (0);
	return (ev->ev_data->u.array.len - ev->ev_first);
}

/* The public rain_value is yajl's tree node, never seen as such outside. */
#define HV(v)		((yajl_val)(v))
#define RV(v)		((const rain_value *)(v))

const rain_value *
rain_event_arg(const struct rain_event *ev, size_t i)
{
	if (i >= rain_event_argc(ev))
		return (NULL);
	return (RV(ev->ev_data->u.array.values[ev->ev_first + i]));
}

enum rain_type
rain_value_type(const rain_value *rv)
{
	yajl_val v = HV(rv);

	if (v == NULL)
		return (RAIN_TYPE_NULL);
	switch (v->type) {
	case yajl_t_string:
		return (RAIN_TYPE_STRING);
	case yajl_t_number:
		return (RAIN_TYPE_NUMBER);
	case yajl_t_object:
		return (RAIN_TYPE_OBJECT);
	case yajl_t_array:
		return (RAIN_TYPE_ARRAY);
	case yajl_t_true:
		return (RAIN_TYPE_TRUE);
	case yajl_t_false:
		return (RAIN_TYPE_FALSE);
	default:
		return (RAIN_TYPE_NULL);
	}
}

const char *
rain_value_string(const rain_value *rv)
{
	yajl_val v = HV(rv);

	return (YAJL_IS_STRING(v) ? v->u.string : NULL);
}

int
rain_value_integer(const rain_value *rv, long long *out)
{
	yajl_val v = HV(rv);

	if (!YAJL_IS_INTEGER(v))
		return (-1);
	if (out != NULL)
		*out = YAJL_GET_INTEGER(v);
	return (0);
}

int
rain_value_number(const rain_value *rv, double *out)
{
	yajl_val v = HV(rv);

	if (!YAJL_IS_NUMBER(v))
		return (-1);
	if (out != NULL)
		*out = YAJL_IS_DOUBLE(v) ? YAJL_GET_DOUBLE(v) :
		    YAJL_IS_INTEGER(v) ? (double)YAJL_GET_INTEGER(v) :
		    strtod(v->u.number.r, NULL);
	return (0);
}

const char *
rain_value_number_text(const rain_value *rv)
{
	yajl_val v = HV(rv);

	return (YAJL_IS_NUMBER(v) ? v->u.number.r : NULL);
}

size_t
rain_value_count(const rain_value *rv)
{
	yajl_val v = HV(rv);

	if (YAJL_IS_ARRAY(v))
		return (v->u.array.len);
	if (YAJL_IS_OBJECT(v))
		return (v->u.object.len);
	return (0);
}

const rain_value *
rain_value_at(const rain_value *rv, size_t i)
{
	yajl_val v = HV(rv);

	if (YAJL_IS_ARRAY(v) && i < v->u.array.len)
		return (RV(v->u.array.values[i]));
	if (YAJL_IS_OBJECT(v) && i < v->u.object.len)
		return (RV(v->u.object.values[i]));
	return (NULL);
}

const char *
rain_value_key(const rain_value *rv, size_t i)
{
	yajl_val v = HV(rv);

	return (YAJL_IS_OBJECT(v) && i < v->u.object.len ? v->u.object.keys[i] : NULL);
}

const rain_value *
rain_value_get(const rain_value *rv, const char *key)
{
	yajl_val v = HV(rv);
	size_t k;

	if (!YAJL_IS_OBJECT(v) || key == NULL)
		return (NULL);
	for (k = 0; k < v->u.object.len; k++)
		if (strcmp(v->u.object.keys[k], key) == 0)
			return (RV(v->u.object.values[k]));
	return (NULL);
}

const char *
rain_event_string(const struct rain_event *ev, size_t i, const char *key)
{
	const rain_value *v = rain_event_arg(ev, i);

	return (rain_value_string(key == NULL ? v : rain_value_get(v, key)));
}

long long
rain_event_integer(const struct rain_event *ev, size_t i, int *ok)
{
	long long n;

	if (rain_value_integer(rain_event_arg(ev, i), &n) == -1) {
		if (ok != NULL)
			*ok = 0;
		return (-1);
	}
	if (ok != NULL)
		*ok = 1;
	return (n);
}

int
rain_value_binary_num(const rain_value *v)
{
	size_t num;

	if (!json_is_placeholder(HV(v), &num) || num >= JSON_ATTACH_MAX)
		return (-1);
	return ((int)num);
}

const void *
rain_event_attachment(const struct rain_event *ev, size_t n, size_t *len)
{
	if (ev == NULL || n >= ev->ev_nattach)
		return (NULL);
	if (len != NULL)
		*len = ev->ev_attach[n].ja_len;
	/* A zero-length buffer still is a buffer: never answer NULL for it. */
	return (ev->ev_attach[n].ja_data != NULL ? (const void *)ev->ev_attach[n].ja_data :
	    (const void *)"");
}

const void *
rain_event_binary(const struct rain_event *ev, size_t i, size_t *len)
{
	int num = rain_value_binary_num(rain_event_arg(ev, i));

	if (num < 0)
		return (NULL);
	return (rain_event_attachment(ev, (size_t)num, len));
}

size_t
rain_event_nattach(const struct rain_event *ev)
{
	return (ev != NULL ? ev->ev_nattach : 0);
}

int
rain_event_wants_ack(const struct rain_event *ev)
{
	return (ev != NULL && ev->ev_wants_ack);
}

/*
 * Building messages.
 */

/*
 * One argument, passed on as the client sent it when that is possible
 * (no attachments to renumber): the text keeps what the tree cannot, a
 * "\u0000" inside a string or the exact digits of a number.
 */
static int
handler_put_arg(struct json_buf *jb, struct rain_event *ev, size_t i)
{
	const char	*p;
	size_t		 len;

	if (ev->ev_nattach == 0 && ev->ev_raw != NULL &&
	    sio_json_element(ev->ev_raw, ev->ev_rawlen, ev->ev_first + i,
	    &p, &len) == 0)
		return (json_put_raw(jb, p, len));
	return (json_put_value(jb, HV(rain_event_arg(ev, i)), ev->ev_attach,
	    ev->ev_nattach));
}

/* The arguments of an event from first on, comma separated; none: nothing. */
static int
handler_put_event_args(struct json_buf *jb, struct rain_event *ev, size_t first,
    int *sep)
{
	size_t i, argc = rain_event_argc(ev);

	for (i = first; i < argc; i++) {
		if (*sep && json_put_raw(jb, ",", 1) == -1)
			return (-1);
		if (handler_put_arg(jb, ev, i) == -1)
			return (-1);
		*sep = 1;
	}
	return (0);
}

static int	handler_put_list(struct json_buf *, const struct rain_arg *, int);

/*
 * One typed value.  depth bounds the nesting of RAIN_ARRAY and
 * RAIN_OBJECT, which a handler builds itself and could make cyclic only
 * by casting.
 */
static int
handler_put_value(struct json_buf *jb, const struct rain_arg *a, int depth)
{
	const struct rain_member *m;
	char num[64];
	int n, sep = 0;

	if (depth > JSON_DEPTH_MAX) {
		snprintf(jb->jb_err, sizeof(jb->jb_err), "nested deeper than %d",
		    JSON_DEPTH_MAX);
		return (-1);
	}
	switch (a->ra_type) {
	case RAIN_ARG_NULL:
		return (json_put_raw(jb, "null", 4));
	case RAIN_ARG_BOOL:
		return (a->ra_u.ra_int ? json_put_raw(jb, "true", 4) :
		    json_put_raw(jb, "false", 5));
	case RAIN_ARG_INT:
		n = snprintf(num, sizeof(num), "%lld", a->ra_u.ra_int);
		return (json_put_raw(jb, num, (size_t)n));
	case RAIN_ARG_UINT:
		n = snprintf(num, sizeof(num), "%llu", a->ra_u.ra_uint);
		return (json_put_raw(jb, num, (size_t)n));
	case RAIN_ARG_DOUBLE:
		if (!isfinite(a->ra_u.ra_double))
			return (json_put_raw(jb, "null", 4));
		n = snprintf(num, sizeof(num), "%.17g", a->ra_u.ra_double);
		return (json_put_raw(jb, num, (size_t)n));
	case RAIN_ARG_STRING:
		if (a->ra_u.ra_str == NULL)
			return (json_put_raw(jb, "null", 4));
		return (json_put_string(jb, a->ra_u.ra_str, strlen(a->ra_u.ra_str)));
	case RAIN_ARG_JSON:
		if (a->ra_u.ra_str == NULL ||
		    !json_valid(a->ra_u.ra_str, strlen(a->ra_u.ra_str), JSON_FMT_VALUE)) {
			snprintf(jb->jb_err, sizeof(jb->jb_err), "RAIN_JSON: not "
			    "one valid JSON value");
			return (-1);
		}
		return (json_put_raw(jb, a->ra_u.ra_str, strlen(a->ra_u.ra_str)));
	case RAIN_ARG_VALUE:
		if (a->ra_u.ra_value == NULL)
			return (json_put_raw(jb, "null", 4));
		return (json_put_value(jb, HV(a->ra_u.ra_value), NULL, 0));
	case RAIN_ARG_BINARY:
		if (a->ra_u.ra_bin.ra_data == NULL && a->ra_u.ra_bin.ra_len > 0) {
			snprintf(jb->jb_err, sizeof(jb->jb_err), "RAIN_BINARY: NULL data");
			return (-1);
		}
		return (json_put_binary(jb, a->ra_u.ra_bin.ra_data != NULL ?
		    a->ra_u.ra_bin.ra_data : "", a->ra_u.ra_bin.ra_len));
	case RAIN_ARG_EVENT_ARG:
		if (a->ra_u.ra_evarg.ra_index >= rain_event_argc(a->ra_u.ra_evarg.ra_ev))
			return (json_put_raw(jb, "null", 4));
		return (handler_put_arg(jb, (struct rain_event *)a->ra_u.ra_evarg.ra_ev,
		    a->ra_u.ra_evarg.ra_index));
	case RAIN_ARG_ARRAY:
		if (json_put_raw(jb, "[", 1) == -1 ||
		    handler_put_list(jb, a->ra_u.ra_list, depth + 1) == -1)
			return (-1);
		return (json_put_raw(jb, "]", 1));
	case RAIN_ARG_OBJECT:
		if (json_put_raw(jb, "{", 1) == -1)
			return (-1);
		for (m = a->ra_u.ra_members; m != NULL && m->rm_key != NULL; m++) {
			if ((sep && json_put_raw(jb, ",", 1) == -1) ||
			    json_put_string(jb, m->rm_key, strlen(m->rm_key)) == -1 ||
			    json_put_raw(jb, ":", 1) == -1 ||
			    handler_put_value(jb, &m->rm_value, depth + 1) == -1)
				return (-1);
			sep = 1;
		}
		return (json_put_raw(jb, "}", 1));
	case RAIN_ARG_EVENT_ARGS:
		snprintf(jb->jb_err, sizeof(jb->jb_err), "RAIN_EVENT_ARGS gives a "
		    "list: use it in RAIN_ARGS or RAIN_ARRAY");
		return (-1);
	case RAIN_ARG_END:
	default:
		snprintf(jb->jb_err, sizeof(jb->jb_err), "not a RAIN_* value (type %d)",
		    (int)a->ra_type);
		return (-1);
	}
}

/* A list (RAIN_ARGS, RAIN_ARRAY): values comma separated, NULL: none. */
static int
handler_put_list(struct json_buf *jb, const struct rain_arg *list, int depth)
{
	const struct rain_arg *a;
	int sep = 0;

	for (a = list; a != NULL && a->ra_type != RAIN_ARG_END; a++) {
		if (a->ra_type == RAIN_ARG_EVENT_ARGS) {
			if (handler_put_event_args(jb, (struct rain_event *)
			    a->ra_u.ra_evarg.ra_ev, a->ra_u.ra_evarg.ra_index, &sep) == -1)
				return (-1);
			continue;
		}
		if ((sep && json_put_raw(jb, ",", 1) == -1) ||
		    handler_put_value(jb, a, depth) == -1)
			return (-1);
		sep = 1;
	}
	return (0);
}

/* Build a single value or a list into jb; on failure jb is empty again. */
static int
handler_build(struct json_buf *jb, const struct rain_arg *value,
    const struct rain_arg *list)
{
	int rc;

	rc = value != NULL ? handler_put_value(jb, value, 0) :
	    handler_put_list(jb, list, 0);
	if (rc == -1) {
		char err[JSON_ERR_MAX];

		memcpy(err, jb->jb_err, sizeof(err));
		json_buf_clear(jb);
		memcpy(jb->jb_err, err, sizeof(err));
	}
	return (rc);
}

int
handler_build_event(struct json_buf *jb, const char *event, const struct rain_arg *args)
{
	size_t comma;

	if (event == NULL || *event == '\0' || nsp_event_reserved(event)) {
		snprintf(jb->jb_err, sizeof(jb->jb_err), "bad or reserved event name");
		return (-1);
	}
	if (json_put_raw(jb, "[", 1) == -1 ||
	    json_put_string(jb, event, strlen(event)) == -1)
		return (-1);
	comma = jb->jb_len;
	if (json_put_raw(jb, ",", 1) == -1)
		return (-1);
	if (handler_put_list(jb, args, 0) == -1)
		return (-1);
	if (jb->jb_len == comma + 1)
		jb->jb_len = comma;	/* no arguments */
	return (json_put_raw(jb, "]", 1));
}

static struct nsp_msg *
handler_event_msg(struct rain_socket *v, int64_t id, const char *event,
    const struct rain_arg *args)
{
	struct json_buf jb;
	struct json_attach *ja;
	struct sio_attachment *sa = NULL;
	struct nsp_msg *msg;
	size_t n, i;

	json_buf_init(&jb);
	if (handler_build_event(&jb, event, args) == -1) {
		handler_log(v, LOG_LEVEL_WARN, "emit \"%.64s\": %s", event != NULL ? event : "",
		    jb.jb_err);
		json_buf_clear(&jb);
		return (NULL);
	}
	ja = json_buf_steal_attach(&jb, &n);
	if (n > 0) {
		sa = xcalloc(n, sizeof(*sa));
		for (i = 0; i < n; i++) {
			sa[i].sa_data = ja[i].ja_data;
			sa[i].sa_len = ja[i].ja_len;
		}
	}
	free(ja);
	msg = nsp_msg_new(SIO_EVENT, v->rs_sock->ns_nsp->nn_name, id, jb.jb_text, jb.jb_len,
	    sa, n);
	json_buf_clear(&jb);
	return (msg);
}

int
rain_emit(struct rain_socket *v, const char *event, const struct rain_arg *args)
{
	struct nsp_msg *msg;

	if (v == NULL || !v->rs_sock->ns_connected)
		return (-1);
	msg = handler_event_msg(v, -1, event, args);
	if (msg == NULL)
		return (-1);
	nsp_socket_send(v->rs_sock, msg);
	nsp_msg_unref(msg);
	return (0);
}

int
rain_emit_ack(struct rain_socket *v, rain_ack_fn cb, void *arg, const char *event,
    const struct rain_arg *args)
{
	struct nsp_msg *msg;
	int64_t id;

	if (v == NULL || cb == NULL || !v->rs_sock->ns_connected)
		return (-1);
	if ((id = nsp_ack_expect(v->rs_sock, v, cb, arg)) == -1) {
		handler_log(v, LOG_LEVEL_WARN, "emit \"%.64s\": more than %d acknowledgements "
		    "awaited", event != NULL ? event : "", NSP_ACKS_MAX);
		return (-1);
	}
	msg = handler_event_msg(v, id, event, args);
	if (msg == NULL) {
		nsp_ack_cancel(v->rs_sock, id);
		return (-1);
	}
	nsp_socket_send(v->rs_sock, msg);
	nsp_msg_unref(msg);
	return (0);
}

int
rain_emit_to(struct rain_socket *v, const char *room, int flags, const char *event,
    const struct rain_arg *args)
{
	struct nsp_msg *msg;

	if (v == NULL)
		return (-1);
	if (room != NULL && (*room == '\0' || strlen(room) > RAIN_ROOM_NAME_MAX))
		return (-1);
	msg = handler_event_msg(v, -1, event, args);
	if (msg == NULL)
		return (-1);
	room_deliver(v->rs_sock->ns_nsp, room, msg,
	    (flags & RAIN_TO_OTHERS) ? v->rs_sock : NULL);
	nsp_msg_unref(msg);
	return (0);
}

/*
 * Rooms.
 */

int
rain_join(struct rain_socket *v, const char *room)
{
	if (v == NULL || !v->rs_sock->ns_connected)
		return (-1);
	if (room_join(v->rs_sock->ns_nsp->nn_rooms, v->rs_sock, room) == -1) {
		handler_log(v, LOG_LEVEL_INFO, "cannot join a room: empty or longer than %d "
		    "bytes, or already in %d rooms", RAIN_ROOM_NAME_MAX, RAIN_ROOMS_MAX);
		return (-1);
	}
	return (0);
}

int
rain_leave(struct rain_socket *v, const char *room)
{
	if (v == NULL)
		return (-1);
	return (room_leave(v->rs_sock->ns_nsp->nn_rooms, v->rs_sock, room));
}

int
rain_in_room(struct rain_socket *v, const char *room)
{
	if (v == NULL)
		return (0);
	return (room_has(v->rs_sock->ns_nsp->nn_rooms, v->rs_sock, room));
}

/*
 * Completion and acknowledgements.
 */

/* The job of an event that has not completed yet, or NULL. */
static struct nsp_job *
handler_open_job(struct rain_event *ev)
{
	struct nsp_job *job;

	if (ev == NULL || (job = ev->ev_job) == NULL)
		return (NULL);
	if (job->nj_state != NSP_JOB_RUN && job->nj_state != NSP_JOB_WAIT)
		return (NULL);
	return (job);
}

static int
handler_reply(struct nsp_job *job, const struct rain_arg *value)
{
	json_buf_clear(&job->nj_reply);
	if (handler_build(&job->nj_reply, value, NULL) == -1) {
		log_warnx("%s %s: reply to \"%s\": %s", job->nj_sock->ns_nsp->nn_name,
		    job->nj_sock->ns_id, nsp_job_what(job), job->nj_reply.jb_err);
		json_buf_clear(&job->nj_reply);
		return (-1);
	}
	return (0);
}

int
rain_reply(struct rain_event *ev, struct rain_arg value)
{
	struct nsp_job *job;

	if ((job = handler_open_job(ev)) == NULL)
		return (RAIN_ERROR);
	return (handler_reply(job, &value) == 0 ? RAIN_DONE : RAIN_ERROR);
}

int
rain_ack(struct rain_event *ev, const struct rain_arg *args)
{
	struct nsp_job *job;

	if ((job = handler_open_job(ev)) == NULL)
		return (-1);
	json_buf_clear(&job->nj_exact);
	job->nj_has_exact = 0;
	if (handler_build(&job->nj_exact, NULL, args) == -1) {
		log_warnx("%s %s: ack of \"%s\": %s", job->nj_sock->ns_nsp->nn_name,
		    job->nj_sock->ns_id, job->nj_ev.ev_name, job->nj_exact.jb_err);
		json_buf_clear(&job->nj_exact);
		return (-1);
	}
	job->nj_has_exact = 1;
	return (0);
}

int
rain_error(struct rain_event *ev, const char *fmt, ...)
{
	struct nsp_job *job;
	char msg[RAIN_LOG_LINE_MAX];
	va_list ap;

	if ((job = handler_open_job(ev)) == NULL)
		return (RAIN_ERROR);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (job->nj_in_run) {
		free(job->nj_cur_error);
		job->nj_cur_error = xstrdup(msg);
	} else if (job->nj_error == NULL)
		job->nj_error = xstrdup(msg);
	return (RAIN_ERROR);
}

struct rain_defer *
rain_defer(struct rain_event *ev)
{
	if (ev == NULL || ev->ev_job == NULL)
		return (NULL);
	return (nsp_defer_new(ev->ev_job));
}

struct rain_defer *
rain_defer_connect(struct rain_socket *v)
{
	struct nsp_job *job;

	if (v == NULL || (job = nsp_socket_current_job(v->rs_sock)) == NULL ||
	    job->nj_kind != NSP_JOB_CONNECT)
		return (NULL);
	return (nsp_defer_new(job));
}

struct rain_event *
rain_defer_event(struct rain_defer *d)
{
	return (d != NULL ? &d->d_job->nj_ev : NULL);
}

struct rain_socket *
rain_defer_socket(struct rain_defer *d)
{
	return (d != NULL ? d->d_view : NULL);
}

void
rain_defer_oncancel(struct rain_defer *d, void (*fn)(void *), void *arg)
{
	if (d == NULL || d->d_state != HANDLER_DEFER_PENDING)
		return;
	d->d_cancel = fn;
	d->d_cancel_arg = arg;
}

int
rain_resolve(struct rain_defer *d, struct rain_arg value)
{
	struct nsp_job *job;
	int rc;

	if (d == NULL)
		return (-1);
	if (d->d_state == HANDLER_DEFER_ABANDONED) {
		handler_log(d->d_view, LOG_LEVEL_DEBUG, "deferral of \"%s\" settled after its "
		    "timeout, ignored", nsp_job_what(d->d_job));
		nsp_defer_free(d);
		return (0);
	}
	job = d->d_job;
	rc = handler_reply(job, &value);
	if (rc == -1 && job->nj_error == NULL)
		job->nj_error = xstrdup(NSP_ERR_HANDLER);
	nsp_defer_settle(d);
	return (rc);
}

int
rain_reject(struct rain_defer *d, const char *message)
{
	struct nsp_job *job;

	if (d == NULL)
		return (-1);
	if (d->d_state == HANDLER_DEFER_ABANDONED) {
		handler_log(d->d_view, LOG_LEVEL_DEBUG, "deferral of \"%s\" settled after its "
		    "timeout, ignored", nsp_job_what(d->d_job));
		nsp_defer_free(d);
		return (0);
	}
	job = d->d_job;
	if (message == NULL)
		message = NSP_ERR_HANDLER;
	stats_inc(STAT_HANDLER_ERRORS);
	handler_log(d->d_view, LOG_LEVEL_WARN, "%s for \"%s\" rejected: %s",
	    job->nj_kind == NSP_JOB_CONNECT ? "handle" : "listener",
	    nsp_job_what(job), message);
	if (job->nj_error == NULL)
		job->nj_error = xstrdup(message);
	nsp_defer_settle(d);
	return (0);
}

/*
 * Data and facts.
 */

void
rain_set_data(struct rain_socket *v, void *data, void (*fn)(void *))
{
	if (v == NULL)
		return;
	if (v->rs_data != NULL && v->rs_data != data && v->rs_data_free != NULL)
		v->rs_data_free(v->rs_data);
	v->rs_data = data;
	v->rs_data_free = fn;
}

void *
rain_data(struct rain_socket *v)
{
	return (v != NULL ? v->rs_data : NULL);
}

const char *
rain_socket_id(struct rain_socket *v)
{
	return (v != NULL ? v->rs_sock->ns_id : NULL);
}

const char *
rain_namespace(struct rain_socket *v)
{
	return (v != NULL ? v->rs_sock->ns_nsp->nn_name : NULL);
}

const char *
rain_component_id(struct rain_socket *v)
{
	return (v != NULL ? v->rs_module->cm_comp->c_id : NULL);
}

const char *
rain_component_version(struct rain_socket *v)
{
	return (v != NULL ? v->rs_module->cm_comp->c_version : NULL);
}

const rain_value *
rain_auth(struct rain_socket *v)
{
	return (v != NULL ? RV(v->rs_sock->ns_auth) : NULL);
}

const char *
rain_session_id(struct rain_socket *v)
{
	return (v != NULL ? v->rs_sock->ns_session_id : NULL);
}

const char *
rain_remote_address(struct rain_socket *v)
{
	return (v != NULL ? handshake_address(v->rs_sock->ns_handshake) : NULL);
}

const char *
rain_handshake_header(struct rain_socket *v, const char *name)
{
	return (v != NULL ? handshake_header(v->rs_sock->ns_handshake, name) : NULL);
}

const char *
rain_handshake_query(struct rain_socket *v, const char *name)
{
	return (v != NULL ? handshake_query(v->rs_sock->ns_handshake, name) : NULL);
}

int
rain_connected(struct rain_socket *v)
{
	return (v != NULL && v->rs_sock->ns_connected);
}

void
rain_socket_hold(struct rain_socket *v)
{
	if (v != NULL)
		nsp_socket_hold(v->rs_sock);
}

void
rain_socket_release(struct rain_socket *v)
{
	if (v != NULL)
		nsp_socket_release(v->rs_sock);
}

void
rain_disconnect(struct rain_socket *v)
{
	if (v != NULL)
		nsp_socket_disconnect(v->rs_sock, "server namespace disconnect", 1);
}

int
rain_transport_close(struct rain_socket *v, int mode, unsigned int delay_ms)
{
	struct nsp_client *c;

	if (v == NULL || (c = v->rs_sock->ns_client) == NULL)
		return (-1);
	c->nc_ops->co_close(c->nc_arg, mode == RAIN_CLOSE_HARD ? NSP_CLOSE_HARD :
	    NSP_CLOSE_GRACEFUL, delay_ms);
	return (0);
}

/*
 * The event loop and the pool.
 */

struct event_base *
rain_event_base(struct rain_socket *v)
{
	return (v != NULL ? v->rs_sock->ns_nsp->nn_reg->nr_base : NULL);
}

static void
handler_later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct handler_call *hc = arg;

	(void)fd;
	(void)what;
	hc->hc_fn(hc->hc_view, hc->hc_arg);
	nsp_socket_release(hc->hc_view->rs_sock);
	free(hc);
}

int
rain_later(struct rain_socket *v, unsigned int ms, rain_callback_fn fn, void *arg)
{
	struct handler_call *hc;
	struct timeval tv;

	if (v == NULL || fn == NULL)
		return (-1);
	hc = xcalloc(1, sizeof(*hc));
	hc->hc_view = v;
	hc->hc_fn = fn;
	hc->hc_arg = arg;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (event_base_once(rain_event_base(v), -1, EV_TIMEOUT, handler_later_cb, hc,
	    &tv) == -1) {
		free(hc);
		return (-1);
	}
	nsp_socket_hold(v->rs_sock);
	return (0);
}

static void
handler_pool_work(void *arg)
{
	struct handler_call *hc = arg;

	hc->hc_work(hc->hc_arg);
}

static void
handler_pool_done(void *arg, int cancelled)
{
	struct handler_call *hc = arg;

	/* Even a job that never ran reports back, so the handler can free its argument. */
	if (cancelled)
		handler_log(hc->hc_view, LOG_LEVEL_DEBUG, "pool job cancelled at shutdown");
	hc->hc_fn(hc->hc_view, hc->hc_arg);
	nsp_socket_release(hc->hc_view->rs_sock);
	free(hc);
}

int
rain_pool_run(struct rain_socket *v, void (*work)(void *), rain_callback_fn done, void *arg)
{
	struct handler_call *hc;
	struct pool *pool;

	if (v == NULL || work == NULL || done == NULL)
		return (-1);
	pool = nsp_registry_pool(v->rs_sock->ns_nsp->nn_reg);
	hc = xcalloc(1, sizeof(*hc));
	hc->hc_view = v;
	hc->hc_work = work;
	hc->hc_fn = done;
	hc->hc_arg = arg;
	if (pool_submit(pool, handler_pool_work, handler_pool_done, hc) == -1) {
		handler_log(v, LOG_LEVEL_WARN, "thread pool: queue full (%d jobs)",
		    POOL_QUEUE_MAX);
		free(hc);
		return (-1);
	}
	nsp_socket_hold(v->rs_sock);
	return (0);
}

/*
 * Sessions: the store plugs in through nsp_store_ops.  Without one every
 * call fails; the first failure says why in the log, once.
 */

static int
handler_session_check(struct rain_socket *v, int global)
{
	static int warned_unavailable;
	const char *why;

	if (v == NULL)
		return (-1);
	if (nsp_session_usable(v->rs_sock, global, &why))
		return (0);
	if (v->rs_sock->ns_nsp->nn_reg->nr_store == NULL) {
		if (!warned_unavailable) {
			log_warnx("%s", why);
			warned_unavailable = 1;
		}
	} else
		handler_log(v, LOG_LEVEL_WARN, "session: %s", why);
	return (-1);
}

static int
handler_session_get(struct rain_socket *v, int global, const char *key,
    const rain_value **out)
{
	const struct nsp_registry *reg;
	yajl_val val = NULL;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (key == NULL || out == NULL || handler_session_check(v, global) == -1)
		return (-1);
	reg = v->rs_sock->ns_nsp->nn_reg;
	rc = reg->nr_store->so_get(reg->nr_store_arg, v->rs_sock, global, key, &val);
	*out = RV(val);
	return (rc);
}

static int
handler_session_set(struct rain_socket *v, int global, const char *key,
    const struct rain_arg *value)
{
	const struct nsp_registry *reg;
	struct json_buf jb;
	int rc;

	if (key == NULL || handler_session_check(v, global) == -1)
		return (-1);
	json_buf_init(&jb);
	if (handler_build(&jb, value, NULL) == -1 || jb.jb_nattach > 0) {
		handler_log(v, LOG_LEVEL_WARN, "session set \"%.64s\": %s", key,
		    jb.jb_nattach > 0 ? "binary values cannot be stored" : jb.jb_err);
		json_buf_clear(&jb);
		return (-1);
	}
	reg = v->rs_sock->ns_nsp->nn_reg;
	rc = reg->nr_store->so_set(reg->nr_store_arg, v->rs_sock, global, key, jb.jb_text,
	    jb.jb_len);
	json_buf_clear(&jb);
	return (rc);
}

static int
handler_session_remove(struct rain_socket *v, int global, const char *key)
{
	const struct nsp_registry *reg;

	if (key == NULL || handler_session_check(v, global) == -1)
		return (-1);
	reg = v->rs_sock->ns_nsp->nn_reg;
	return (reg->nr_store->so_remove(reg->nr_store_arg, v->rs_sock, global, key));
}

int
rain_session_get(struct rain_socket *v, const char *key, const rain_value **out)
{
	return (handler_session_get(v, 0, key, out));
}

int
rain_session_set(struct rain_socket *v, const char *key, struct rain_arg value)
{
	return (handler_session_set(v, 0, key, &value));
}

int
rain_session_remove(struct rain_socket *v, const char *key)
{
	return (handler_session_remove(v, 0, key));
}

int
rain_session_dump(struct rain_socket *v, const rain_value **out)
{
	const struct nsp_registry *reg;
	yajl_val val = NULL;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || handler_session_check(v, 0) == -1)
		return (-1);
	reg = v->rs_sock->ns_nsp->nn_reg;
	rc = reg->nr_store->so_dump(reg->nr_store_arg, v->rs_sock, 0, &val);
	*out = RV(val);
	return (rc);
}

int
rain_global_session_get(struct rain_socket *v, const char *key, const rain_value **out)
{
	return (handler_session_get(v, 1, key, out));
}

int
rain_global_session_set(struct rain_socket *v, const char *key, struct rain_arg value)
{
	return (handler_session_set(v, 1, key, &value));
}

int
rain_global_session_remove(struct rain_socket *v, const char *key)
{
	return (handler_session_remove(v, 1, key));
}
