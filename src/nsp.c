/*
 * nsp.c: Socket.IO namespaces, sockets and the per-socket event pipeline.
 * See nsp.h.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/random.h>

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "component.h"
#include "handler.h"
#include "json.h"
#include "log.h"
#include "handshake.h"
#include "nsp.h"
#include "stats.h"
#include "pool.h"
#include "room.h"
#include "sio_codec.h"
#include "xmalloc.h"

/* The narrow counters of struct nsp_socket and struct rain_socket. */
_Static_assert(COMPONENT_MODULES_MAX < UINT16_MAX, "ns_nviews and nc_nsockets are 16 bits");
_Static_assert(ROOM_PER_SOCKET_MAX <= UINT16_MAX, "ns_nrooms is 16 bits");
_Static_assert(NSP_ACKS_MAX <= UINT16_MAX, "ns_nacks is 16 bits");
_Static_assert(NSP_QUEUE_MAX <= UINT32_MAX, "ns_nqueued is 32 bits");
_Static_assert(RAIN_LISTENERS_MAX <= UINT16_MAX, "rs_nlisteners is 16 bits");

#define NSP_SESSIONS_UNAVAILABLE	"sessions are not available: no redis configured"

/* Event names a client may not send (socket.io-parser's RESERVED_EVENTS). */
static const char *const nsp_reserved[] = {
	"connect", "connect_error", "disconnect", "disconnecting",
	"newListener", "removeListener", NULL
};

static void	nsp_job_run(struct nsp_job *);
static void	nsp_job_release(struct nsp_job *);
static void	nsp_socket_pump(struct nsp_socket *);
static void	nsp_socket_free(struct nsp_socket *);
static void	nsp_socket_touch(struct nsp_socket *);

void
nsp_settings_default(struct nsp_settings *ns)
{
	memset(ns, 0, sizeof(*ns));
	ns->ns_handler_timeout = NSP_HANDLER_TIMEOUT_DEFAULT;
	ns->ns_ack_timeout = 0;
	ns->ns_threads = NSP_THREADS_DEFAULT;
	ns->ns_queue_max = NSP_QUEUE_MAX;
	ns->ns_max_namespaces = NSP_NAMESPACES_MAX;
}

int
nsp_event_reserved(const char *name)
{
	size_t i;

	for (i = 0; nsp_reserved[i] != NULL; i++)
		if (strcmp(name, nsp_reserved[i]) == 0)
			return (1);
	return (0);
}

/*
 * Milliseconds of CLOCK_MONOTONIC for the idle policy (util.c has the
 * same, but the unit tests of this layer do not link it).
 */
static int64_t
nsp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static void
nsp_timeval(int64_t ms, struct timeval *tv)
{
	if (ms < 0)
		ms = 0;
	tv->tv_sec = (time_t)(ms / 1000);
	tv->tv_usec = (suseconds_t)((ms % 1000) * 1000);
}

/* Move json attachments into the codec's form (the json array is freed). */
static struct sio_attachment *
nsp_attach_from_json(struct json_attach *ja, size_t n)
{
	struct sio_attachment *sa;
	size_t i;

	if (n == 0) {
		free(ja);
		return (NULL);
	}
	sa = xcalloc(n, sizeof(*sa));
	for (i = 0; i < n; i++) {
		sa[i].sa_data = ja[i].ja_data;
		sa[i].sa_len = ja[i].ja_len;
	}
	free(ja);
	return (sa);
}

/* Encode the text and attachments of jb as one packet (jb is cleared). */
static struct nsp_msg *
nsp_msg_from_json(enum sio_type type, const char *nsp, int64_t id, struct json_buf *jb)
{
	struct json_attach *ja;
	struct sio_attachment *sa;
	struct nsp_msg *msg;
	size_t n;

	ja = json_buf_steal_attach(jb, &n);
	sa = nsp_attach_from_json(ja, n);
	msg = nsp_msg_new(type, nsp, id, jb->jb_text, jb->jb_len, sa, n);
	json_buf_clear(jb);
	return (msg);
}

/* Send {"message": text} as CONNECT_ERROR straight to a client. */
static void
nsp_client_connect_error(struct nsp_client *c, const char *nsp, const char *text)
{
	struct json_buf jb;
	struct nsp_msg *msg;

	json_buf_init(&jb);
	json_put_raw(&jb, "{\"message\":", 11);
	json_put_string(&jb, text, strlen(text));
	json_put_raw(&jb, "}", 1);
	msg = nsp_msg_from_json(SIO_CONNECT_ERROR, nsp, -1, &jb);
	c->nc_ops->co_send(c->nc_arg, msg);
	nsp_msg_unref(msg);
}

/*
 * The registry.
 */

static struct nsp_namespace *
nsp_namespace_new(struct nsp_registry *reg, const char *name,
    const struct component_nsp *cn)
{
	struct nsp_namespace *nn;
	const struct rain_listener *tab;
	size_t i;

	nn = xcalloc(1, sizeof(*nn));
	nn->nn_name = xstrdup(name);
	nn->nn_reg = reg;
	nn->nn_cnsp = cn;
	nn->nn_comp = cn != NULL ? cn->cn_comp : NULL;
	TAILQ_INIT(&nn->nn_sockets);
	nn->nn_rooms = room_table_new(reg->nr_routing);
	/* The events of the modules' listener tables are known names. */
	for (i = 0; cn != NULL && i < cn->cn_nmodules; i++)
		for (tab = cn->cn_modules[i]->cm_desc->rw_listeners;
		    tab != NULL && tab->rl_event != NULL; tab++)
			if (nsp_intern(nn, tab->rl_event) == NULL)
				log_warnx("%s: too many event names, \"%.64s\" of %s "
				    "will not be dispatched", name, tab->rl_event,
				    cn->cn_modules[i]->cm_path);
	return (nn);
}

static void
nsp_namespace_free(struct nsp_namespace *nn)
{
	size_t i;

	room_table_free(nn->nn_rooms);
	for (i = 0; i < nn->nn_nnames; i++)
		free(nn->nn_names[i]);
	free(nn->nn_names);
	free(nn->nn_name);
	free(nn);
}

struct nsp_registry *
nsp_registry_new(struct event_base *base, const struct component_set *set,
    const struct nsp_settings *settings)
{
	struct nsp_registry *reg;
	size_t i, n;

	reg = xcalloc(1, sizeof(*reg));
	reg->nr_base = base;
	reg->nr_routing = room_routing_new();
	if (settings != NULL)
		reg->nr_settings = *settings;
	else
		nsp_settings_default(&reg->nr_settings);
	if (reg->nr_settings.ns_queue_max == 0)
		reg->nr_settings.ns_queue_max = NSP_QUEUE_MAX;
	reg->nr_set = set;
	LIST_INIT(&reg->nr_clients);
	LIST_INIT(&reg->nr_sockets);
	TAILQ_INIT(&reg->nr_active);
	n = set != NULL ? set->cs_nnsps : 0;
	reg->nr_nsps = xcalloc(n + 1, sizeof(*reg->nr_nsps));
	reg->nr_nsps[reg->nr_nnsps++] = nsp_namespace_new(reg, "/", NULL);
	for (i = 0; i < n; i++) {
		/* A component may name "/" itself; it then serves the main namespace. */
		if (strcmp(set->cs_nsps[i]->cn_name, "/") == 0) {
			reg->nr_nsps[0]->nn_cnsp = set->cs_nsps[i];
			reg->nr_nsps[0]->nn_comp = set->cs_nsps[i]->cn_comp;
			continue;
		}
		reg->nr_nsps[reg->nr_nnsps++] = nsp_namespace_new(reg, set->cs_nsps[i]->cn_name,
		    set->cs_nsps[i]);
	}
	return (reg);
}

void
nsp_registry_set_store(struct nsp_registry *reg, const struct nsp_store_ops *ops, void *arg)
{
	reg->nr_store = ops;
	reg->nr_store_arg = arg;
}

struct nsp_namespace *
nsp_registry_find(struct nsp_registry *reg, const char *name)
{
	size_t i;

	for (i = 0; i < reg->nr_nnsps; i++)
		if (strcmp(reg->nr_nsps[i]->nn_name, name) == 0)
			return (reg->nr_nsps[i]);
	return (NULL);
}

struct pool *
nsp_registry_pool(struct nsp_registry *reg)
{
	if (reg->nr_pool == NULL)
		reg->nr_pool = pool_new(reg->nr_base, reg->nr_settings.ns_threads);
	return (reg->nr_pool);
}

/*
 * Tear down a socket that is still referenced when the worker stops: its
 * jobs and deferrals go without their handlers' help, since the loop will
 * not run again.
 */
static void
nsp_socket_destroy(struct nsp_socket *s)
{
	struct nsp_ackwait *aw;
	struct nsp_job *job;
	struct rain_defer *d;

	s->ns_refs++;
	while ((aw = LIST_FIRST(&s->ns_acks)) != NULL) {
		LIST_REMOVE(aw, aw_entry);
		s->ns_nacks--;
		event_free(aw->aw_timer);
		aw->aw_cb(aw->aw_view, NULL, "server shutting down", aw->aw_arg);
		free(aw);
		s->ns_refs--;
	}
	while ((job = TAILQ_FIRST(&s->ns_queue)) != NULL) {
		TAILQ_REMOVE(&s->ns_queue, job, nj_entry);
		s->ns_nqueued--;
		if ((d = job->nj_defer) != NULL) {
			job->nj_defer = NULL;
			if (d->d_cancel != NULL)
				d->d_cancel(d->d_cancel_arg);
			free(d);
		}
		job->nj_refs = 1;
		job->nj_sock = NULL;
		nsp_job_release(job);
	}
	nsp_socket_free(s);
}

void
nsp_registry_free(struct nsp_registry *reg)
{
	struct nsp_client *c;
	size_t i;

	if (reg == NULL)
		return;
	/* Completions of pool jobs still refer to live sockets: run them first. */
	pool_free(reg->nr_pool);
	reg->nr_pool = NULL;
	while ((c = LIST_FIRST(&reg->nr_clients)) != NULL)
		nsp_client_closed(c, "server shutting down");
	while (!LIST_EMPTY(&reg->nr_sockets))
		nsp_socket_destroy(LIST_FIRST(&reg->nr_sockets));
	for (i = 0; i < reg->nr_nnsps; i++)
		nsp_namespace_free(reg->nr_nsps[i]);
	free(reg->nr_nsps);
	room_routing_free(reg->nr_routing);
	free(reg);
}

struct room_routing *
nsp_registry_routing(struct nsp_registry *reg)
{
	return (reg->nr_routing);
}

/*
 * Event names are interned per namespace, so that a listener costs a
 * pointer per socket and matching an event is a pointer comparison.
 */
const char *
nsp_interned(struct nsp_namespace *nn, const char *name)
{
	size_t i;

	for (i = 0; i < nn->nn_nnames; i++)
		if (strcmp(nn->nn_names[i], name) == 0)
			return (nn->nn_names[i]);
	return (NULL);
}

const char *
nsp_intern(struct nsp_namespace *nn, const char *name)
{
	const char *s;

	if ((s = nsp_interned(nn, name)) != NULL)
		return (s);
	if (nn->nn_nnames >= NSP_NAMES_MAX || strlen(name) > RAIN_EVENT_NAME_MAX)
		return (NULL);
	nn->nn_names = xreallocarray(nn->nn_names, nn->nn_nnames + 1, sizeof(*nn->nn_names));
	nn->nn_names[nn->nn_nnames] = xstrdup(name);
	return (nn->nn_names[nn->nn_nnames++]);
}

/*
 * Sockets.
 */

/* A Socket.IO socket id: 15 random bytes in base64url, as the Node server makes them. */
static void
nsp_socket_id(char *out)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char r[NSP_SOCKET_ID_BYTES];
	size_t i, o = 0;
	ssize_t n;

	do {
		n = getrandom(r, sizeof(r), 0);
	} while (n == -1 && errno == EINTR);
	if (n != (ssize_t)sizeof(r))
		fatal("getrandom");
	for (i = 0; i < sizeof(r); i += 3) {
		out[o++] = b64[r[i] >> 2];
		out[o++] = b64[((r[i] & 0x03) << 4) | (r[i + 1] >> 4)];
		out[o++] = b64[((r[i + 1] & 0x0f) << 2) | (r[i + 2] >> 6)];
		out[o++] = b64[r[i + 2] & 0x3f];
	}
	out[o] = '\0';
}

static struct nsp_socket *
nsp_socket_new(struct nsp_namespace *nn)
{
	struct nsp_socket *s;
	size_t i, n;

	/* The views follow the struct: one allocation for both. */
	n = nn->nn_cnsp != NULL ? nn->nn_cnsp->cn_nmodules : 0;
	s = xcalloc(1, sizeof(*s) + n * sizeof(*s->ns_views));
	s->ns_refs = 1;		/* the connection */
	s->ns_nsp = nn;
	nsp_socket_id(s->ns_id);
	TAILQ_INIT(&s->ns_queue);
	LIST_INIT(&s->ns_acks);
	LIST_INIT(&s->ns_rooms);
	if (n > 0) {
		s->ns_views = (struct rain_socket *)(s + 1);
		s->ns_nviews = (uint16_t)n;
		for (i = 0; i < n; i++) {
			s->ns_views[i].rs_sock = s;
			s->ns_views[i].rs_module = nn->nn_cnsp->cn_modules[i];
		}
	}
	LIST_INSERT_HEAD(&nn->nn_reg->nr_sockets, s, ns_entry);
	return (s);
}

static void
nsp_socket_free(struct nsp_socket *s)
{
	struct nsp_registry *reg = s->ns_nsp->nn_reg;
	size_t i;

	for (i = 0; i < s->ns_nviews; i++)
		handler_view_clear(&s->ns_views[i]);
	if (s->ns_session != NULL && reg->nr_store != NULL && reg->nr_store->so_free != NULL)
		reg->nr_store->so_free(reg->nr_store_arg, s);
	if (s->ns_auth != NULL)
		yajl_tree_free(s->ns_auth);
	handshake_free(s->ns_handshake);
	free(s->ns_session_id);
	LIST_REMOVE(s, ns_entry);	/* from whichever list it is in */
	free(s);
}

void
nsp_socket_hold(struct nsp_socket *s)
{
	s->ns_refs++;
}

void
nsp_socket_release(struct nsp_socket *s)
{
	if (--s->ns_refs == 0)
		nsp_socket_free(s);
}

void
nsp_socket_send(struct nsp_socket *s, struct nsp_msg *msg)
{
	struct nsp_client *c = s->ns_client;

	if (!s->ns_connected || c == NULL)
		return;
	c->nc_ops->co_send(c->nc_arg, msg);
	stats_inc(STAT_SIO_EVENTS_OUT);
	/* What the server sends is activity too (idle.h). */
	nsp_socket_touch(s);
}

/* Send a packet without data or with JSON text to one socket. */
static void
nsp_socket_packet(struct nsp_socket *s, enum sio_type type, int64_t id, const char *json)
{
	struct nsp_msg *msg;

	msg = nsp_msg_new(type, s->ns_nsp->nn_name, id, json, json != NULL ? strlen(json) : 0,
	    NULL, 0);
	nsp_socket_send(s, msg);
	nsp_msg_unref(msg);
}

/*
 * Jobs: the pipeline of one socket.
 */

static struct nsp_job *
nsp_job_new(struct nsp_socket *s, enum nsp_job_kind kind)
{
	struct nsp_job *job;

	job = xcalloc(1, sizeof(*job));
	job->nj_refs = 1;	/* the queue */
	job->nj_kind = kind;
	job->nj_state = NSP_JOB_QUEUED;
	job->nj_sock = s;
	nsp_socket_hold(s);
	job->nj_ack_id = -1;
	job->nj_ev.ev_job = job;
	json_buf_init(&job->nj_reply);
	json_buf_init(&job->nj_exact);
	return (job);
}

static void
nsp_job_release(struct nsp_job *job)
{
	size_t i;

	if (--job->nj_refs > 0)
		return;
	if (job->nj_timer != NULL)
		event_free(job->nj_timer);
	if (job->nj_ev.ev_data != NULL)
		yajl_tree_free(job->nj_ev.ev_data);
	free(job->nj_ev.ev_raw);
	for (i = 0; i < job->nj_ev.ev_nattach; i++)
		free(job->nj_ev.ev_attach[i].ja_data);
	free(job->nj_ev.ev_attach);
	free(job->nj_calls);
	json_buf_clear(&job->nj_reply);
	json_buf_clear(&job->nj_exact);
	free(job->nj_error);
	free(job->nj_cur_error);
	free(job->nj_stage_error);
	free(job->nj_reason);
	if (job->nj_sock != NULL)
		nsp_socket_release(job->nj_sock);
	free(job);
}

static void
nsp_job_enqueue(struct nsp_socket *s, struct nsp_job *job)
{
	TAILQ_INSERT_TAIL(&s->ns_queue, job, nj_entry);
	s->ns_nqueued++;
}

struct nsp_socket *
nsp_job_socket(struct nsp_job *job)
{
	return (job->nj_sock);
}

const char *
nsp_job_what(const struct nsp_job *job)
{
	switch (job->nj_kind) {
	case NSP_JOB_CONNECT:
		return ("handle");
	case NSP_JOB_DISCONNECT:
		return ("disconnect");
	default:
		return (job->nj_ev.ev_name);
	}
}

/* Does a listener with these flags need the session loaded? */
static int
nsp_flags_session(const struct component *comp, int flags)
{
	if (comp == NULL)
		return (0);
	if (comp->c_use_session)
		return (!(flags & RAIN_NO_SESSION));
	return ((flags & RAIN_GLOBAL_SESSION) != 0);
}

/* Work out which functions the job calls and whether it needs the session. */
static void
nsp_job_prepare(struct nsp_job *job)
{
	struct nsp_socket *s = job->nj_sock;
	const struct nsp_registry *reg = s->ns_nsp->nn_reg;
	const struct component *comp = s->ns_nsp->nn_comp;
	struct rain_socket *v;
	const struct rain_listener *tab;
	size_t i, j, n = 0;
	int session = 0;

	if (job->nj_kind == NSP_JOB_CONNECT) {
		job->nj_calls = xcalloc(s->ns_nviews + 1, sizeof(*job->nj_calls));
		for (i = 0; i < s->ns_nviews; i++) {
			/* A module may have only a listener table. */
			if (s->ns_views[i].rs_module->cm_desc->rw_handle == NULL)
				continue;
			job->nj_calls[n].ca_view = &s->ns_views[i];
			job->nj_calls[n++].ca_handle = s->ns_views[i].rs_module->cm_desc->rw_handle;
		}
		/*
		 * Always with a store: the global session must exist (RAIN's
		 * rule, checked by the load) and every handle may use it.
		 */
		job->nj_session = s->ns_nviews > 0 && reg->nr_store != NULL;
		job->nj_ncalls = n;
		return;
	} else if (job->nj_kind == NSP_JOB_EVENT) {
		/*
		 * Per module: the rows of its static table first, then what
		 * handle registered with rain_on, in order.
		 */
		for (i = 0; i < s->ns_nviews; i++) {
			for (tab = s->ns_views[i].rs_module->cm_desc->rw_listeners;
			    tab != NULL && tab->rl_event != NULL; tab++)
				if (strcmp(tab->rl_event, job->nj_ev.ev_name) == 0)
					n++;
			for (j = 0; j < s->ns_views[i].rs_nlisteners; j++)
				if (s->ns_views[i].rs_listeners[j].hl_name == job->nj_ev.ev_name)
					n++;
		}
		job->nj_calls = xcalloc(n + 1, sizeof(*job->nj_calls));
		n = 0;
		for (i = 0; i < s->ns_nviews; i++) {
			v = &s->ns_views[i];
			for (tab = v->rs_module->cm_desc->rw_listeners;
			    tab != NULL && tab->rl_event != NULL; tab++) {
				if (strcmp(tab->rl_event, job->nj_ev.ev_name) != 0)
					continue;
				job->nj_calls[n].ca_view = v;
				job->nj_calls[n].ca_fn = tab->rl_fn;
				job->nj_calls[n++].ca_flags = tab->rl_flags;
				if (nsp_flags_session(comp, tab->rl_flags))
					session = 1;
			}
			for (j = 0; j < v->rs_nlisteners; j++) {
				if (v->rs_listeners[j].hl_name != job->nj_ev.ev_name)
					continue;
				job->nj_calls[n].ca_view = v;
				job->nj_calls[n].ca_fn = v->rs_listeners[j].hl_fn;
				job->nj_calls[n++].ca_flags = v->rs_listeners[j].hl_flags;
				if (nsp_flags_session(comp, v->rs_listeners[j].hl_flags))
					session = 1;
			}
		}
		if (n == 0) {
			/* As in Node, nobody listening means no acknowledgement. */
			log_debug("%s %s: no listener for \"%s\"", s->ns_nsp->nn_name, s->ns_id,
			    job->nj_ev.ev_name);
			job->nj_ack_id = -1;
		}
	}
	job->nj_ncalls = n;
	job->nj_session = session && reg->nr_store != NULL && comp != NULL;
}

static void
nsp_job_error(struct nsp_job *job, const char *msg)
{
	if (job->nj_error == NULL)
		job->nj_error = xstrdup(msg);
}

static void
nsp_job_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct nsp_job *job = arg;
	struct rain_defer *d = job->nj_defer;

	(void)fd;
	(void)what;
	if (d == NULL || job->nj_state != NSP_JOB_WAIT)
		return;
	job->nj_refs++;
	handler_log(d->d_view, LOG_LEVEL_WARN, "listener for \"%s\" not settled within "
	    "%lld ms: rejected with \"%s\"", nsp_job_what(job),
	    (long long)job->nj_sock->ns_nsp->nn_reg->nr_settings.ns_handler_timeout,
	    NSP_ERR_TIMEOUT);
	nsp_job_error(job, NSP_ERR_TIMEOUT);
	stats_inc(STAT_HANDLER_TIMEOUTS);
	job->nj_defer = NULL;
	d->d_state = HANDLER_DEFER_ABANDONED;
	if (d->d_cancel != NULL) {
		/* The handler said how to forget it: the handle ends here. */
		d->d_cancel(d->d_cancel_arg);
		nsp_defer_free(d);
	}
	job->nj_state = NSP_JOB_RUN;
	nsp_job_run(job);
	nsp_job_release(job);
}

/* Make the next call of the job; it may leave the job waiting. */
static void
nsp_job_call(struct nsp_job *job)
{
	struct nsp_call *ca = &job->nj_calls[job->nj_next++];
	struct timeval tv;
	const char *msg;
	int rc;

	job->nj_cur_flags = ca->ca_flags;
	job->nj_defer_called = 0;
	free(job->nj_cur_error);
	job->nj_cur_error = NULL;
	if (job->nj_kind == NSP_JOB_CONNECT)
		rc = ca->ca_handle(ca->ca_view);
	else
		rc = ca->ca_fn(ca->ca_view, &job->nj_ev);

	if (job->nj_defer != NULL) {
		if (rc != RAIN_DEFERRED)
			handler_log(ca->ca_view, LOG_LEVEL_WARN, "listener for \"%s\" called "
			    "rain_defer but returned %d; waiting for the deferral",
			    nsp_job_what(job), rc);
		job->nj_state = NSP_JOB_WAIT;
		if (job->nj_timer == NULL &&
		    (job->nj_timer = evtimer_new(job->nj_sock->ns_nsp->nn_reg->nr_base,
		    nsp_job_timeout, job)) == NULL)
			fatalx("nsp: cannot create a timer");
		nsp_timeval(job->nj_sock->ns_nsp->nn_reg->nr_settings.ns_handler_timeout, &tv);
		evtimer_add(job->nj_timer, &tv);
		return;
	}
	if (job->nj_defer_called)
		return;		/* settled before it returned */
	if (rc == RAIN_DONE)
		return;
	if (rc == RAIN_DEFERRED)
		msg = "returned RAIN_DEFERRED without calling rain_defer";
	else if (job->nj_cur_error != NULL)
		msg = job->nj_cur_error;
	else
		msg = NSP_ERR_HANDLER;
	stats_inc(STAT_HANDLER_ERRORS);
	handler_log(ca->ca_view, LOG_LEVEL_WARN, "%s for \"%s\" failed: %s",
	    job->nj_kind == NSP_JOB_CONNECT ? "handle" : "listener", nsp_job_what(job), msg);
	nsp_job_error(job, rc == RAIN_ERROR && job->nj_cur_error != NULL ?
	    job->nj_cur_error : NSP_ERR_HANDLER);
}

static void
nsp_job_disconnect_listeners(struct nsp_job *job)
{
	struct nsp_socket *s = job->nj_sock;
	size_t i, j;

	for (i = 0; i < s->ns_nviews; i++)
		for (j = 0; j < s->ns_views[i].rs_nondisc; j++)
			s->ns_views[i].rs_ondisc[j](&s->ns_views[i], job->nj_reason);
}

/* Send the client its acknowledgement of the event. */
static void
nsp_job_ack(struct nsp_job *job)
{
	struct nsp_socket *s = job->nj_sock;
	const char *err;
	struct json_buf jb;
	struct nsp_msg *msg;
	struct json_attach *ja;
	size_t n;

	if (job->nj_kind == NSP_JOB_CONNECT) {
		if (job->nj_stage_error != NULL && !s->ns_acked && s->ns_connected) {
			/* The session could not be loaded: refuse the CONNECT. */
			log_warnx("%s %s: session not loaded (%s); connection refused",
			    s->ns_nsp->nn_name, s->ns_id, job->nj_stage_error);
			s->ns_acked = 1;
			nsp_client_connect_error(s->ns_client, s->ns_nsp->nn_name,
			    job->nj_stage_error);
			nsp_socket_disconnect(s, "server namespace disconnect", 0);
		} else if (job->nj_stage_error != NULL) {
			log_warnx("%s %s: session not saved (%s); disconnecting",
			    s->ns_nsp->nn_name, s->ns_id, job->nj_stage_error);
			nsp_socket_disconnect(s, "server namespace disconnect", 1);
		}
		return;
	}
	if (job->nj_kind != NSP_JOB_EVENT || job->nj_ack_id < 0 || !s->ns_connected)
		return;
	json_buf_init(&jb);
	err = job->nj_stage_error != NULL ? job->nj_stage_error : NULL;
	if (err == NULL && job->nj_has_exact) {
		json_put_raw(&jb, "[", 1);
		json_put_raw(&jb, job->nj_exact.jb_text != NULL ? job->nj_exact.jb_text : "",
		    job->nj_exact.jb_len);
		json_put_raw(&jb, "]", 1);
		ja = json_buf_steal_attach(&job->nj_exact, &n);
		jb.jb_attach = ja;
		jb.jb_nattach = n;
	} else if (err != NULL || job->nj_error != NULL) {
		if (err == NULL)
			err = job->nj_error;
		json_put_raw(&jb, "[{\"message\":", 12);
		if (json_put_string(&jb, err, strlen(err)) == -1)
			json_put_string(&jb, NSP_ERR_HANDLER, strlen(NSP_ERR_HANDLER));
		json_put_raw(&jb, "}]", 2);
	} else {
		json_put_raw(&jb, "[null,", 6);
		if (job->nj_reply.jb_len > 0) {
			json_put_raw(&jb, job->nj_reply.jb_text, job->nj_reply.jb_len);
			ja = json_buf_steal_attach(&job->nj_reply, &n);
			jb.jb_attach = ja;
			jb.jb_nattach = n;
		} else
			json_put_raw(&jb, "null", 4);
		json_put_raw(&jb, "]", 1);
	}
	msg = nsp_msg_from_json(SIO_ACK, s->ns_nsp->nn_name, job->nj_ack_id, &jb);
	nsp_socket_send(s, msg);
	nsp_msg_unref(msg);
}

/*
 * Run the job's state machine as far as it goes without waiting.  Stages
 * that complete synchronously (a store that answers at once, a deferral
 * settled before its listener returned) only change the state; the loop
 * here picks that up, so the stack never grows with the number of steps.
 */
/* Answer the client's CONNECT: {"sid":...}. */
static void
nsp_socket_connected(struct nsp_socket *s)
{
	struct json_buf jb;

	if (s->ns_acked || !s->ns_connected)
		return;
	s->ns_acked = 1;
	json_buf_init(&jb);
	json_put_raw(&jb, "{\"sid\":", 7);
	json_put_string(&jb, s->ns_id, strlen(s->ns_id));
	json_put_raw(&jb, "}", 1);
	nsp_socket_packet(s, SIO_CONNECT, -1, jb.jb_text);
	json_buf_clear(&jb);
}

static void
nsp_job_run(struct nsp_job *job)
{
	struct nsp_socket *s = job->nj_sock;
	const struct nsp_registry *reg = s->ns_nsp->nn_reg;

	if (job->nj_in_run)
		return;
	job->nj_in_run = 1;
	job->nj_refs++;
	for (;;) {
		switch (job->nj_state) {
		case NSP_JOB_QUEUED:
			nsp_job_prepare(job);
			job->nj_state = NSP_JOB_LOAD;
			continue;
		case NSP_JOB_LOAD:
			if (!job->nj_session) {
				job->nj_state = NSP_JOB_RUN;
				continue;
			}
			job->nj_state = NSP_JOB_LOADING;
			reg->nr_store->so_load(reg->nr_store_arg, s, job);
			continue;
		case NSP_JOB_LOADING:
		case NSP_JOB_SAVING:
		case NSP_JOB_WAIT:
			goto out;
		case NSP_JOB_RUN:
			if (job->nj_kind == NSP_JOB_CONNECT)
				nsp_socket_connected(s);
			if (job->nj_kind == NSP_JOB_DISCONNECT) {
				nsp_job_disconnect_listeners(job);
				job->nj_state = NSP_JOB_SAVE;
			} else if (job->nj_next < job->nj_ncalls)
				nsp_job_call(job);
			else
				job->nj_state = NSP_JOB_SAVE;
			continue;
		case NSP_JOB_SAVE:
			if (!job->nj_session) {
				job->nj_state = NSP_JOB_ACK;
				continue;
			}
			job->nj_state = NSP_JOB_SAVING;
			reg->nr_store->so_save(reg->nr_store_arg, s, job);
			continue;
		case NSP_JOB_ACK:
			if (job->nj_holds > 0)
				goto out;	/* nsp_job_unhold resumes */
			nsp_job_ack(job);
			job->nj_state = NSP_JOB_DONE;
			continue;
		case NSP_JOB_DONE:
			TAILQ_REMOVE(&s->ns_queue, job, nj_entry);
			s->ns_nqueued--;
			job->nj_in_run = 0;
			nsp_socket_hold(s);
			job->nj_refs--;		/* the queue's */
			nsp_job_release(job);	/* ours */
			nsp_socket_pump(s);
			nsp_socket_release(s);
			return;
		}
	}
 out:
	job->nj_in_run = 0;
	nsp_job_release(job);
}

/* Start queued jobs of s, one after the other, until one has to wait. */
static void
nsp_socket_pump(struct nsp_socket *s)
{
	struct nsp_job *job;

	if (s->ns_pumping)
		return;
	s->ns_pumping = 1;
	nsp_socket_hold(s);
	while ((job = TAILQ_FIRST(&s->ns_queue)) != NULL &&
	    job->nj_state == NSP_JOB_QUEUED && job->nj_holds == 0)
		nsp_job_run(job);
	s->ns_pumping = 0;
	nsp_socket_release(s);
}

void
nsp_job_hold(struct nsp_job *job)
{
	job->nj_holds++;
	job->nj_refs++;
}

void
nsp_job_unhold(struct nsp_job *job)
{
	struct nsp_socket *s = job->nj_sock;

	if (--job->nj_holds == 0 && !job->nj_in_run) {
		if (job->nj_state == NSP_JOB_QUEUED) {
			nsp_socket_hold(s);
			nsp_socket_pump(s);
			nsp_socket_release(s);
		} else if (job->nj_state == NSP_JOB_ACK) {
			job->nj_refs++;
			nsp_job_run(job);
			nsp_job_release(job);
		}
	}
	nsp_job_release(job);	/* the hold's */
}

struct nsp_job *
nsp_socket_current_job(struct nsp_socket *s)
{
	struct nsp_job *job = TAILQ_FIRST(&s->ns_queue);

	return (job != NULL && job->nj_in_run ? job : NULL);
}

void
nsp_stage_done(struct nsp_job *job, const char *error)
{
	if (error != NULL && job->nj_stage_error == NULL)
		job->nj_stage_error = xstrdup(error);
	if (job->nj_state == NSP_JOB_LOADING)
		/* Without its session a listener cannot do its work: skip to the answer. */
		job->nj_state = error == NULL ? NSP_JOB_RUN : NSP_JOB_ACK;
	else if (job->nj_state == NSP_JOB_SAVING)
		job->nj_state = NSP_JOB_ACK;
	else {
		log_warnx("nsp_stage_done: job not in a session stage");
		return;
	}
	job->nj_refs++;
	nsp_job_run(job);
	nsp_job_release(job);
}

int
nsp_job_connecting(const struct nsp_job *job)
{
	return (job->nj_kind == NSP_JOB_CONNECT);
}

int
nsp_session_usable(struct nsp_socket *s, int global, const char **why)
{
	const struct nsp_registry *reg = s->ns_nsp->nn_reg;
	const struct component *comp = s->ns_nsp->nn_comp;
	struct nsp_job *job;

	if (reg->nr_store == NULL) {
		*why = NSP_SESSIONS_UNAVAILABLE;
		return (0);
	}
	if (comp == NULL || (!comp->c_use_session && !global)) {
		*why = "the component does not use sessions (useSession)";
		return (0);
	}
	job = TAILQ_FIRST(&s->ns_queue);
	if (job == NULL || !job->nj_session ||
	    (job->nj_state != NSP_JOB_RUN && job->nj_state != NSP_JOB_WAIT)) {
		*why = comp->c_use_session ? "no session is loaded outside a listener" :
		    "the global session is loaded only for handle and for listeners "
		    "registered with RAIN_GLOBAL_SESSION";
		return (0);
	}
	if (job->nj_cur_flags & RAIN_NO_SESSION) {
		*why = "the listener was registered with RAIN_NO_SESSION";
		return (0);
	}
	return (1);
}

/*
 * Deferrals.
 */

struct rain_defer *
nsp_defer_new(struct nsp_job *job)
{
	struct rain_defer *d;

	if (job->nj_state != NSP_JOB_RUN || !job->nj_in_run || job->nj_defer != NULL ||
	    job->nj_defer_called || job->nj_next == 0 ||
	    (job->nj_kind != NSP_JOB_EVENT && job->nj_kind != NSP_JOB_CONNECT))
		return (NULL);
	d = xcalloc(1, sizeof(*d));
	d->d_job = job;
	job->nj_refs++;
	d->d_view = job->nj_calls[job->nj_next - 1].ca_view;
	d->d_state = HANDLER_DEFER_PENDING;
	job->nj_defer = d;
	job->nj_defer_called = 1;
	return (d);
}

void
nsp_defer_free(struct rain_defer *d)
{
	nsp_job_release(d->d_job);
	free(d);
}

void
nsp_defer_settle(struct rain_defer *d)
{
	struct nsp_job *job = d->d_job;

	job->nj_refs++;
	job->nj_defer = NULL;
	if (job->nj_timer != NULL)
		evtimer_del(job->nj_timer);
	nsp_defer_free(d);
	if (job->nj_state == NSP_JOB_WAIT) {
		job->nj_state = NSP_JOB_RUN;
		nsp_job_run(job);
	}
	nsp_job_release(job);
}

/*
 * Acknowledgements from the client.
 */

static void
nsp_ack_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct nsp_ackwait *aw = arg;
	struct nsp_socket *s = aw->aw_view->rs_sock;

	(void)fd;
	(void)what;
	LIST_REMOVE(aw, aw_entry);
	s->ns_nacks--;
	event_free(aw->aw_timer);
	handler_log(aw->aw_view, LOG_LEVEL_INFO, "no acknowledgement %lld from the client",
	    (long long)aw->aw_id);
	aw->aw_cb(aw->aw_view, NULL, NSP_ERR_ACK_TIMEOUT, aw->aw_arg);
	free(aw);
	nsp_socket_release(s);
}

int64_t
nsp_ack_expect(struct nsp_socket *s, struct rain_socket *view,
    void (*cb)(struct rain_socket *, struct rain_event *, const char *, void *), void *arg)
{
	const struct nsp_registry *reg = s->ns_nsp->nn_reg;
	struct nsp_ackwait *aw;
	struct timeval tv;
	int64_t ms;

	if (!s->ns_connected || s->ns_nacks >= NSP_ACKS_MAX || s->ns_next_ack >= SIO_ID_MAX)
		return (-1);
	aw = xcalloc(1, sizeof(*aw));
	aw->aw_id = s->ns_next_ack++;
	aw->aw_view = view;
	aw->aw_cb = cb;
	aw->aw_arg = arg;
	if ((aw->aw_timer = evtimer_new(reg->nr_base, nsp_ack_timeout, aw)) == NULL)
		fatalx("nsp: cannot create a timer");
	ms = reg->nr_settings.ns_ack_timeout > 0 ? reg->nr_settings.ns_ack_timeout :
	    reg->nr_settings.ns_handler_timeout;
	nsp_timeval(ms, &tv);
	evtimer_add(aw->aw_timer, &tv);
	LIST_INSERT_HEAD(&s->ns_acks, aw, aw_entry);
	s->ns_nacks++;
	nsp_socket_hold(s);
	return (aw->aw_id);
}

static struct nsp_ackwait *
nsp_ack_take(struct nsp_socket *s, int64_t id)
{
	struct nsp_ackwait *aw;

	LIST_FOREACH(aw, &s->ns_acks, aw_entry) {
		if (aw->aw_id == id) {
			LIST_REMOVE(aw, aw_entry);
			s->ns_nacks--;
			event_free(aw->aw_timer);
			return (aw);
		}
	}
	return (NULL);
}

void
nsp_ack_cancel(struct nsp_socket *s, int64_t id)
{
	struct nsp_ackwait *aw;

	if ((aw = nsp_ack_take(s, id)) != NULL) {
		free(aw);
		nsp_socket_release(s);
	}
}

static int
nsp_socket_ack(struct nsp_socket *s, struct sio_packet *pkt)
{
	struct nsp_ackwait *aw;
	struct rain_event ev;
	size_t i;

	if (!YAJL_IS_ARRAY(pkt->sp_data))
		return (-1);
	if ((aw = nsp_ack_take(s, pkt->sp_id)) == NULL) {
		log_debug("%s %s: ack %lld not awaited, ignored", s->ns_nsp->nn_name, s->ns_id,
		    (long long)pkt->sp_id);
		return (0);
	}
	memset(&ev, 0, sizeof(ev));
	ev.ev_data = pkt->sp_data;
	ev.ev_raw = pkt->sp_raw;
	ev.ev_rawlen = pkt->sp_rawlen;
	ev.ev_first = 0;
	if (pkt->sp_nattach > 0) {
		ev.ev_attach = xcalloc(pkt->sp_nattach, sizeof(*ev.ev_attach));
		for (i = 0; i < pkt->sp_nattach; i++) {
			ev.ev_attach[i].ja_data = pkt->sp_attach[i].sa_data;
			ev.ev_attach[i].ja_len = pkt->sp_attach[i].sa_len;
		}
		ev.ev_nattach = pkt->sp_nattach;
	}
	aw->aw_cb(aw->aw_view, &ev, NULL, aw->aw_arg);
	free(ev.ev_attach);
	free(aw);
	nsp_socket_release(s);
	return (0);
}

/*
 * Events from the client.
 */

static void
nsp_socket_refuse_event(struct nsp_socket *s, int64_t id, const char *why)
{
	struct json_buf jb;
	struct nsp_msg *msg;

	if (id < 0)
		return;
	json_buf_init(&jb);
	json_put_raw(&jb, "[{\"message\":", 12);
	json_put_string(&jb, why, strlen(why));
	json_put_raw(&jb, "}]", 2);
	msg = nsp_msg_from_json(SIO_ACK, s->ns_nsp->nn_name, id, &jb);
	nsp_socket_send(s, msg);
	nsp_msg_unref(msg);
}

static int
nsp_socket_event(struct nsp_socket *s, struct sio_packet *pkt)
{
	const struct nsp_registry *reg = s->ns_nsp->nn_reg;
	struct nsp_job *job;
	const char *name, *iname;
	size_t i;

	stats_inc(STAT_SIO_EVENTS_IN);
	if (!YAJL_IS_ARRAY(pkt->sp_data) || pkt->sp_data->u.array.len == 0)
		return (-1);
	/* socket.io-parser 4.2 accepts a number as event name; JavaScript makes it a string. */
	if (YAJL_IS_STRING(pkt->sp_data->u.array.values[0]))
		name = pkt->sp_data->u.array.values[0]->u.string;
	else if (YAJL_IS_NUMBER(pkt->sp_data->u.array.values[0]))
		name = pkt->sp_data->u.array.values[0]->u.number.r;
	else
		return (-1);
	if (nsp_event_reserved(name)) {
		log_debug("%s %s: reserved event name \"%s\" from the client",
		    s->ns_nsp->nn_name, s->ns_id, name);
		return (-1);
	}
	if ((iname = nsp_interned(s->ns_nsp, name)) == NULL) {
		/* Nobody in this namespace ever listened to it: no listener, no ack. */
		log_debug("%s %s: no listener for \"%.64s\"", s->ns_nsp->nn_name, s->ns_id,
		    name);
		return (0);
	}
	if (s->ns_nqueued >= reg->nr_settings.ns_queue_max) {
		log_warnx("%s %s: more than %zu events waiting, \"%s\" refused",
		    s->ns_nsp->nn_name, s->ns_id, reg->nr_settings.ns_queue_max, iname);
		nsp_socket_refuse_event(s, pkt->sp_id, NSP_ERR_QUEUE);
		return (0);
	}
	job = nsp_job_new(s, NSP_JOB_EVENT);
	job->nj_ev.ev_name = iname;
	job->nj_ev.ev_data = pkt->sp_data;
	pkt->sp_data = NULL;
	job->nj_ev.ev_raw = pkt->sp_raw;
	job->nj_ev.ev_rawlen = pkt->sp_rawlen;
	pkt->sp_raw = NULL;
	job->nj_ev.ev_first = 1;
	if (pkt->sp_nattach > 0) {
		job->nj_ev.ev_attach = xcalloc(pkt->sp_nattach, sizeof(*job->nj_ev.ev_attach));
		for (i = 0; i < pkt->sp_nattach; i++) {
			job->nj_ev.ev_attach[i].ja_data = pkt->sp_attach[i].sa_data;
			job->nj_ev.ev_attach[i].ja_len = pkt->sp_attach[i].sa_len;
			pkt->sp_attach[i].sa_data = NULL;
		}
		job->nj_ev.ev_nattach = pkt->sp_nattach;
	}
	job->nj_ack_id = pkt->sp_id;
	job->nj_ev.ev_wants_ack = pkt->sp_id >= 0;
	nsp_job_enqueue(s, job);
	nsp_socket_pump(s);
	return (0);
}

/*
 * Connect and disconnect.
 */

static int
nsp_connect(struct nsp_client *c, struct sio_packet *pkt)
{
	struct nsp_registry *reg = c->nc_reg;
	struct nsp_namespace *nn;
	struct nsp_socket *s;
	struct nsp_job *job;
	const char *reason = NULL;

	if ((nn = nsp_registry_find(reg, pkt->sp_nsp)) == NULL) {
		log_debug("client %s: unknown namespace \"%.64s\"", c->nc_id, pkt->sp_nsp);
		nsp_client_connect_error(c, pkt->sp_nsp, NSP_ERR_INVALID_NSP);
		return (0);
	}
	if (reg->nr_settings.ns_max_namespaces > 0 &&
	    c->nc_nsockets >= reg->nr_settings.ns_max_namespaces) {
		/* Refused like an unknown one: the client may go on with the others. */
		log_info("client %s: more than %zu namespaces, \"%.64s\" refused",
		    c->nc_id, reg->nr_settings.ns_max_namespaces, pkt->sp_nsp);
		nsp_client_connect_error(c, pkt->sp_nsp, NSP_ERR_NAMESPACES);
		return (0);
	}
	s = nsp_socket_new(nn);
	if (YAJL_IS_OBJECT(pkt->sp_data)) {
		s->ns_auth = pkt->sp_data;
		pkt->sp_data = NULL;
	}
	if (reg->nr_store != NULL && reg->nr_store->so_authorize != NULL &&
	    reg->nr_store->so_authorize(reg->nr_store_arg, c, s, &reason) == -1) {
		nsp_client_connect_error(c, pkt->sp_nsp, reason != NULL ? reason :
		    "unauthorized");
		nsp_socket_release(s);
		return (0);
	}
	s->ns_client = c;
	s->ns_connected = 1;
	s->ns_handshake = handshake_ref(c->nc_handshake);
	if (c->nc_session_id != NULL)
		s->ns_session_id = xstrdup(c->nc_session_id);
	LIST_REMOVE(s, ns_entry);	/* from the registry's */
	LIST_INSERT_HEAD(&c->nc_sockets, s, ns_entry);
	c->nc_nsockets++;
	TAILQ_INSERT_TAIL(&nn->nn_sockets, s, ns_nsp_entry);
	nn->nn_nsockets++;
	stats_nsp_add(nn->nn_name, 1);
	room_nsp_changed(nn);
	s->ns_active = nsp_now_ms();
	TAILQ_INSERT_TAIL(&reg->nr_active, s, ns_active_entry);
	reg->nr_nactive++;

	log_debug("client %s: socket %s connected to %s", c->nc_id, s->ns_id, nn->nn_name);

	/*
	 * The CONNECT answer waits for the session the handle functions
	 * need, so that what they emit leaves right behind it (as with the
	 * Node server, whose connection handler runs in the same tick) and
	 * a session that cannot be loaded is a CONNECT_ERROR.
	 */
	if (s->ns_nviews > 0) {
		job = nsp_job_new(s, NSP_JOB_CONNECT);
		nsp_job_enqueue(s, job);
		room_nsp_wait(nn, job);
		nsp_socket_pump(s);
	} else
		nsp_socket_connected(s);
	return (0);
}

void
nsp_socket_disconnect(struct nsp_socket *s, const char *reason, int send_packet)
{
	struct nsp_namespace *nn = s->ns_nsp;
	struct nsp_ackwait *aw;
	struct nsp_job *job, *next;

	if (!s->ns_connected)
		return;
	nsp_socket_hold(s);
	if (send_packet)
		nsp_socket_packet(s, SIO_DISCONNECT, -1, NULL);
	log_debug("%s %s: disconnected (%s)", nn->nn_name, s->ns_id, reason);
	s->ns_connected = 0;
	if (s->ns_client != NULL) {
		LIST_REMOVE(s, ns_entry);
		s->ns_client->nc_nsockets--;
		s->ns_client = NULL;
		LIST_INSERT_HEAD(&nn->nn_reg->nr_sockets, s, ns_entry);
	}
	TAILQ_REMOVE(&nn->nn_sockets, s, ns_nsp_entry);
	nn->nn_nsockets--;
	stats_nsp_add(nn->nn_name, -1);
	TAILQ_REMOVE(&nn->nn_reg->nr_active, s, ns_active_entry);
	nn->nn_reg->nr_nactive--;
	room_leave_all(nn->nn_rooms, s);
	room_nsp_changed(nn);

	while ((aw = LIST_FIRST(&s->ns_acks)) != NULL) {
		LIST_REMOVE(aw, aw_entry);
		s->ns_nacks--;
		event_free(aw->aw_timer);
		aw->aw_cb(aw->aw_view, NULL, NSP_ERR_DISCONNECTED, aw->aw_arg);
		free(aw);
		nsp_socket_release(s);
	}
	/* Events not started yet could not be acknowledged any more. */
	for (job = TAILQ_FIRST(&s->ns_queue); job != NULL; job = next) {
		next = TAILQ_NEXT(job, nj_entry);
		if (job->nj_state != NSP_JOB_QUEUED || job->nj_kind != NSP_JOB_EVENT)
			continue;
		TAILQ_REMOVE(&s->ns_queue, job, nj_entry);
		s->ns_nqueued--;
		nsp_job_release(job);
	}
	if (s->ns_nviews > 0) {
		job = nsp_job_new(s, NSP_JOB_DISCONNECT);
		job->nj_reason = xstrdup(reason);
		nsp_job_enqueue(s, job);
		nsp_socket_pump(s);
	}
	nsp_socket_release(s);		/* the connection's reference */
	nsp_socket_release(s);
}

/*
 * Clients.
 */

struct nsp_client *
nsp_client_new(struct nsp_registry *reg, const struct nsp_client_ops *ops, void *arg,
    const char *id)
{
	struct nsp_client *c;
	size_t len;

	if (id == NULL)
		id = "-";
	len = strlen(id) + 1;
	/* Up to the id, not sizeof: a sid then fits a 96-byte malloc chunk. */
	c = xcalloc(1, offsetof(struct nsp_client, nc_id) + len);
	c->nc_reg = reg;
	c->nc_ops = ops;
	c->nc_arg = arg;
	memcpy(c->nc_id, id, len);
	LIST_INIT(&c->nc_sockets);
	LIST_INSERT_HEAD(&reg->nr_clients, c, nc_entry);
	return (c);
}

void
nsp_client_set_session_id(struct nsp_client *c, const char *sid)
{
	free(c->nc_session_id);
	c->nc_session_id = sid != NULL ? xstrdup(sid) : NULL;
}

void
nsp_client_set_handshake(struct nsp_client *c, struct handshake *hs)
{
	handshake_free(c->nc_handshake);
	c->nc_handshake = hs;
}

void
nsp_client_closed(struct nsp_client *c, const char *reason)
{
	struct nsp_socket *s;

	while ((s = LIST_FIRST(&c->nc_sockets)) != NULL)
		nsp_socket_disconnect(s, reason, 0);
	LIST_REMOVE(c, nc_entry);
	handshake_free(c->nc_handshake);
	free(c->nc_session_id);
	free(c);
}

/*
 * s exchanged something with its client: it is the most recently active
 * socket now.
 */
static void
nsp_socket_touch(struct nsp_socket *s)
{
	struct nsp_registry *reg = s->ns_nsp->nn_reg;

	if (!s->ns_connected)
		return;
	s->ns_active = nsp_now_ms();
	if (TAILQ_NEXT(s, ns_active_entry) != NULL) {
		TAILQ_REMOVE(&reg->nr_active, s, ns_active_entry);
		TAILQ_INSERT_TAIL(&reg->nr_active, s, ns_active_entry);
	}
}

size_t
nsp_disconnect_idle(struct nsp_registry *reg, int64_t idle_ms)
{
	struct nsp_socket	*s;
	struct nsp_client	*c;
	int64_t			 now = nsp_now_ms();
	size_t			 n = 0;

	/*
	 * The list is in order of activity, so the walk stops at the first
	 * active socket.  Each disconnect takes its socket off the list (and
	 * a disconnect listener may take others), so the head is always the
	 * next one to look at.
	 */
	while ((s = TAILQ_FIRST(&reg->nr_active)) != NULL &&
	    now - s->ns_active >= idle_ms) {
		c = s->ns_client;
		log_debug("client %s: socket %s of %s idle for %" PRId64
		    " ms: disconnected", c->nc_id, s->ns_id, s->ns_nsp->nn_name,
		    now - s->ns_active);
		nsp_socket_disconnect(s, NSP_REASON_SERVER, 1);
		n++;
		/* The close is deferred by the transport: c stays valid here. */
		if (c->nc_nsockets == 0)
			c->nc_ops->co_close(c->nc_arg, NSP_CLOSE_GRACEFUL, 0);
	}
	return (n);
}

static struct nsp_socket *
nsp_client_socket(struct nsp_client *c, const char *nsp)
{
	struct nsp_socket *s;

	LIST_FOREACH(s, &c->nc_sockets, ns_entry)
		if (strcmp(s->ns_nsp->nn_name, nsp) == 0)
			return (s);
	return (NULL);
}

int
nsp_client_packet(struct nsp_client *c, struct sio_packet *pkt)
{
	struct nsp_socket *s;
	int rc = -1;

	if (pkt->sp_nsp == NULL || !sio_complete(pkt))
		goto done;
	s = nsp_client_socket(c, pkt->sp_nsp);
	switch (pkt->sp_type) {
	case SIO_CONNECT:
		/* Node: a second CONNECT to a connected namespace is an invalid state. */
		if (s == NULL)
			rc = nsp_connect(c, pkt);
		break;
	case SIO_EVENT:
	case SIO_BINARY_EVENT:
		if (s != NULL) {
			nsp_socket_touch(s);
			rc = nsp_socket_event(s, pkt);
		}
		break;
	case SIO_ACK:
	case SIO_BINARY_ACK:
		if (s != NULL) {
			nsp_socket_touch(s);
			rc = nsp_socket_ack(s, pkt);
		}
		break;
	case SIO_DISCONNECT:
		if (s != NULL) {
			nsp_socket_disconnect(s, "client namespace disconnect", 0);
			rc = 0;
		}
		break;
	default:
		/* CONNECT_ERROR is for servers to send. */
		break;
	}
 done:
	if (rc == -1)
		log_debug("client %s: invalid packet (type %d) for namespace \"%.64s\"",
		    c->nc_id, (int)pkt->sp_type, pkt->sp_nsp != NULL ? pkt->sp_nsp : "?");
	sio_packet_clear(pkt);
	return (rc);
}
