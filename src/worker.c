/*
 * worker.c: a worker process.  See worker.h.
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <malloc.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "conf.h"
#include "conn.h"
#include "listener.h"
#include "eio.h"
#include "forward.h"
#include "handoff.h"
#include "host.h"
#include "log.h"
#include "nsp.h"
#include "publish.h"
#include "redis.h"
#include "room.h"
#include "routes.h"
#include "session.h"
#include "static.h"
#include "stats.h"
#include "worker.h"
#include "xmalloc.h"

#define WORKER_PRIORITIES	2	/* 0: Redis invalidations; 1: the rest */

/*
 * The argument of one listener's accept callback: its connections speak
 * TLS when wl_tls is set.  Allocated once per listener for the life of
 * the worker.
 */
struct worker_listen {
	struct worker		*wl_worker;
	struct ssl_ctx_st	*wl_tls;
	const struct conn_site	*wl_site;	/* what its connections serve */
	int			 wl_unlimited;	/* not under max_connections */
};

static void	worker_accept_cb(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);
static void	worker_accept_error_cb(struct evconnlistener *, void *);

static void
worker_accept_set(struct worker *w, int on)
{
	size_t i;

	if (w->w_accepting == on)
		return;
	w->w_accepting = on;
	for (i = 0; i < w->w_nlisteners; i++) {
		if (on)
			evconnlistener_enable(w->w_listeners[i]);
		else
			evconnlistener_disable(w->w_listeners[i]);
	}
}

/*
 * Accept again unless stopping or waiting after EMFILE.  A worker at
 * max_connections keeps accepting: see worker_accept_cb.
 */
static void
worker_accept_update(struct worker *w)
{
	int on;

	on = !w->w_stopping && !w->w_draining &&
	    !evtimer_pending(w->w_accept_retry, NULL);
	worker_accept_set(w, on);
}

/*
 * No worker has room: refuse at once rather than let the client hang.
 * A plain connection gets a 503 with Retry-After if the socket takes it
 * now; a TLS one is closed (no handshake is spent on a refusal).
 */
static void
worker_refuse(struct worker *w, int fd, int tls)
{
	static const char	answer[] = "HTTP/1.1 503 Service Unavailable\r\n"
	    "Retry-After: 1\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: 20\r\nConnection: close\r\n\r\n"
	    "503 all workers full";
	int64_t			now = monotonic_ms();

	if (!tls && send(fd, answer, sizeof(answer) - 1,
	    MSG_DONTWAIT | MSG_NOSIGNAL) == -1)
		log_debug("refusal not sent: %s", strerror(errno));
	close(fd);
	w->w_refused++;
	if (now - w->w_refused_logged >= WORKER_REFUSED_LOG_MS) {
		log_warnx("every worker at max_connections (%zu): %zu connection(s) "
		    "refused", w->w_conf->c_max_connections, w->w_refused);
		w->w_refused = 0;
		w->w_refused_logged = now;
	}
}

/*
 * A worker at max_connections does not stop accepting: its listening
 * socket is its own (SO_REUSEPORT), so the kernel would go on queueing
 * connections there however idle the other workers are.  It passes the
 * new connection to the least loaded worker of its generation that has
 * room (over the handoff channel, with the counts of stats.h), or, when
 * every worker is full (the node's limit), refuses it at once.
 */
static void
worker_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int socklen, void *arg)
{
	struct worker_listen	*wl = arg;
	struct worker		*w = wl->wl_worker;
	int			 slot;

	(void)l;
	if (w->w_host.ch_nconns < w->w_conf->c_max_connections || wl->wl_unlimited) {
		conn_accept(&w->w_host, wl->wl_site, fd, sa, socklen, wl->wl_tls);
		return;
	}
	/* A TLS connection cannot change workers before its handshake. */
	if (wl->wl_tls == NULL && w->w_handoff != NULL &&
	    (slot = stats_least_loaded(w->w_generation,
	    handoff_slots(w->w_handoff), w->w_slot,
	    (int64_t)w->w_conf->c_max_connections)) >= 0 &&
	    handoff_send(w->w_handoff, slot, fd, NULL, NULL, 0) == 0) {
		stats_inc(STAT_HANDOFFS);
		log_debug("at max_connections: new connection passed to slot %d",
		    slot);
		return;
	}
	worker_refuse(w, fd, wl->wl_tls != NULL);
}

static void
worker_accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	worker_accept_update(arg);
}

/*
 * accept(2) failed.  Out of descriptors (EMFILE, ENFILE) or memory would
 * otherwise wake us in a busy loop with the connection still queued, so
 * accepting pauses for a moment; other errors concern one connection.
 */
static void
worker_accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct worker	*w = ((struct worker_listen *)arg)->wl_worker;
	int		 err = EVUTIL_SOCKET_ERROR();
	struct timeval	 tv = { 0, WORKER_ACCEPT_RETRY_MS * 1000 };

	(void)l;
	switch (err) {
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
	case ENOMEM:
		log_warnx("accept: %s: paused for %d ms", strerror(err),
		    WORKER_ACCEPT_RETRY_MS);
		evtimer_add(w->w_accept_retry, &tv);
		worker_accept_update(w);
		break;
	default:
		log_debug("accept: %s", strerror(err));
		break;
	}
}

/* A connection or relay closed (the host counted it): resume or finish. */
static void
worker_conn_closed(void *arg)
{
	struct worker *w = arg;

	w->w_closed_since_trim++;
	if (w->w_stopping) {
		if (w->w_host.ch_nconns == 0)
			event_base_loopexit(w->w_base, NULL);
		return;
	}
	worker_accept_update(w);
}

static void
worker_stop_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	log_info("shutdown_timeout: closing %zu connections", w->w_host.ch_nconns);
	event_base_loopexit(w->w_base, NULL);
}

/*
 * Give memory back after connections went: glibc keeps freed memory for
 * reuse, and a burst of slow readers leaves megabytes of small chunks
 * (queued message references) behind.  malloc_trim returns every free
 * page to the system, also those in the middle of the heap.  It walks the
 * heap, so it runs at most every WORKER_TRIM_INTERVAL_MS and only when
 * connections closed since the last time.
 */
static void
worker_trim_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	if (w->w_closed_since_trim == 0)
		return;
	w->w_closed_since_trim = 0;
	malloc_trim(0);
}

/* Another worker passed us a connection for a session we own. */
static void
worker_handoff_conn(void *arg, int fd, const char *peer, const void *bytes,
    size_t len)
{
	struct worker *w = arg;

	conn_adopt(&w->w_host, &w->w_sites.ws_public, fd, peer, bytes, len);
}

/* A room emit or broadcast from another worker. */
static void
worker_handoff_bus(void *arg, const void *msg, size_t len)
{
	struct worker *w = arg;

	if (room_remote_deliver(w->w_nsp, msg, len) == -1)
		log_warnx("malformed message from another worker dropped");
}

/* Our room emits and broadcasts, for the other workers. */
static void
worker_publish(void *arg, const void *msg, size_t len)
{
	struct worker *w = arg;

	if (w->w_handoff != NULL)
		bus_publish(w->w_handoff, msg, len);
}

static const struct handoff_cbs worker_handoff_cbs = {
	worker_handoff_conn, worker_handoff_bus
};

/* Room emits and broadcasts for, and from, the other nodes (room.h). */
static void
worker_room_publish(void *arg, const char *channel, const void *msg, size_t len)
{
	struct worker *w = arg;

	redis_publish(w->w_redis, channel, msg, len);
}

static void
worker_room_subscribe(void *arg, const char *channel)
{
	struct worker *w = arg;

	redis_subscribe(w->w_redis, channel);
}

static void
worker_room_unsubscribe(void *arg, const char *channel)
{
	struct worker *w = arg;

	redis_unsubscribe(w->w_redis, channel);
}

static int
worker_room_wait(void *arg, const char *channel, void (*fn)(void *), void *fnarg)
{
	struct worker *w = arg;

	return (redis_subscribe_wait(w->w_redis, channel, fn, fnarg));
}

static const struct room_remote_ops worker_room_ops = {
	worker_room_publish, worker_room_subscribe, worker_room_unsubscribe,
	worker_room_wait
};

/* A message on one of our channels: a forwarded request or answer, or a room's. */
static void
worker_redis_message(void *arg, const char *channel, size_t chlen,
    const char *msg, size_t len)
{
	struct worker *w = arg;

	if (w->w_forward != NULL &&
	    forward_message(w->w_forward, channel, chlen, msg, len))
		return;
	if (w->w_publish != NULL &&
	    publish_message(w->w_publish, channel, chlen, msg, len))
		return;
	if (room_remote_message(w->w_nsp, msg, len) == -1)
		log_warnx("malformed message on %.*s dropped", (int)chlen, channel);
}

/* Graceful stop: no new connections, finish the open ones, then exit. */
static void
worker_stop(struct worker *w)
{
	struct timeval	tv;
	int64_t		ms = w->w_conf->c_shutdown_timeout;

	if (w->w_stopping)
		return;
	w->w_stopping = 1;
	w->w_host.ch_closing = 1;
	log_info("stopping, %zu connections open", w->w_host.ch_nconns);
	worker_accept_set(w, 0);
	eio_server_stop(w->w_eio);
	conn_stop_all(&w->w_host);
	if (w->w_host.ch_nconns == 0) {
		event_base_loopexit(w->w_base, NULL);
		return;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(w->w_stop_timer, &tv);
}

/* The channels to generation (modulo 64) gen's workers, or NULL (eio.h). */
static struct handoff *
worker_handoff_gen_cb(void *arg, int gen)
{
	struct worker	*w = arg;
	struct handoff	*h = NULL;
	unsigned	 best = 0;
	size_t		 i;

	/* Generations are told apart modulo 64: the youngest match wins. */
	for (i = 0; i < w->w_nothers; i++)
		if ((int)(w->w_others[i].ws_generation & 63) == gen &&
		    w->w_others[i].ws_generation >= best) {
			best = w->w_others[i].ws_generation;
			h = w->w_others[i].ws_handoff;
		}
	return (h);
}

/*
 * Draining after a reload: once nothing is left, exit; once
 * reload_drain_timeout has passed, close the Engine.IO sessions left a
 * few at a time, so that they are all closed reload_drain_spread later
 * and their clients do not all reconnect at once; then stop.
 */
static void
worker_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;
	int64_t		 now = monotonic_ms(), late, spread;
	size_t		 n, due, closed;

	(void)fd;
	(void)what;
	n = eio_server_sessions(w->w_eio);
	if (w->w_host.ch_nconns == 0 && n == 0) {
		log_info("drained: exiting");
		event_base_loopexit(w->w_base, NULL);
		return;
	}
	if ((late = now - w->w_drain_deadline) < 0)
		return;
	spread = w->w_conf->c_reload_drain_spread;
	if (w->w_drain_total == 0) {
		w->w_drain_total = n;
		log_info("reload_drain_timeout: closing %zu sessions over %lld ms",
		    n, (long long)spread);
	}
	if (late >= spread) {
		worker_stop(w);
		return;
	}
	/* Closed by now: the share of the spread that has passed. */
	due = (size_t)((double)w->w_drain_total * (double)late / (double)spread);
	closed = w->w_drain_total > n ? w->w_drain_total - n : 0;
	if (due > closed)
		eio_server_close_some(w->w_eio, due - closed);
}

static void
worker_drain(struct worker *w)
{
	struct timeval tv = { 0, WORKER_DRAIN_TICK_MS * 1000 };

	if (w->w_draining || w->w_stopping)
		return;
	w->w_draining = 1;
	w->w_host.ch_closing = 1;
	worker_accept_set(w, 0);
	/*
	 * Our copies of the listening sockets go: the new generation has its
	 * own of the same sockets, and a slot it no longer has is closed for
	 * good once we let go, so the kernel queues nothing there.
	 */
	for (size_t i = 0; i < w->w_nlisteners; i++)
		evconnlistener_free(w->w_listeners[i]);
	w->w_nlisteners = 0;
	w->w_drain_deadline = monotonic_ms() + w->w_conf->c_reload_drain_timeout;
	log_info("draining after a reload: %zu connections, %zu sessions",
	    w->w_host.ch_nconns, eio_server_sessions(w->w_eio));
	w->w_drain_timer = event_new(w->w_base, -1, EV_PERSIST, worker_drain_cb, w);
	if (w->w_drain_timer == NULL || evtimer_add(w->w_drain_timer, &tv) == -1)
		fatalx("cannot start draining");
}

static void
worker_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct worker *w = arg;

	(void)what;
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		worker_stop(w);
		break;
	case SIGUSR1:
		log_reopen();
		break;
	case SIGUSR2:
		worker_drain(w);
		break;
	case SIGHUP:
		/* The master reloads; workers are replaced, not reloaded. */
		break;
	}
}

/* Drop root for the configured user, after the sockets are bound. */
static void
worker_drop_privileges(const struct conf *conf)
{
	struct passwd *pw;

	if (conf->c_user == NULL || geteuid() != 0)
		return;
	if ((pw = getpwnam(conf->c_user)) == NULL)
		fatalx("unknown user %s", conf->c_user);
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		fatal("cannot drop privileges to %s", conf->c_user);
}

static void
worker_listen(struct worker *w, struct listener_set *ls, int slot,
    struct ssl_ctx_st *tls)
{
	struct evconnlistener	*el;
	struct worker_listen	*wl;
	size_t			 i;
	int			 j;

	w->w_listeners = xcalloc(ls->ls_count, sizeof(*w->w_listeners));
	/* Kept here: the listeners' callbacks point into it, and they may go first. */
	wl = w->w_listen_args = xcalloc(ls->ls_count, sizeof(*wl));
	for (i = 0; i < ls->ls_count; i++) {
		wl[i].wl_worker = w;
		if (ls->ls_list[i].l_tls && tls == NULL)
			fatalx("%s: TLS listener without a TLS context",
			    ls->ls_list[i].l_name);
		wl[i].wl_tls = ls->ls_list[i].l_tls ? tls : NULL;
		/* The operator's own ports stay open when clients fill the node. */
		switch (ls->ls_list[i].l_kind) {
		case CONF_LISTEN_METRICS:
			wl[i].wl_site = &w->w_sites.ws_metrics;
			wl[i].wl_unlimited = 1;
			break;
		case CONF_LISTEN_ADMIN:
			wl[i].wl_site = &w->w_sites.ws_admin;
			wl[i].wl_unlimited = 1;
			break;
		default:
			wl[i].wl_site = &w->w_sites.ws_public;
			break;
		}
		/* Other slots' sockets are none of this worker's business. */
		for (j = 0; j < ls->ls_list[i].l_nfds; j++)
			if (j != slot)
				close(ls->ls_list[i].l_fds[j]);
		el = evconnlistener_new(w->w_base, worker_accept_cb, &wl[i],
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1,
		    ls->ls_list[i].l_fds[slot]);
		if (el == NULL)
			fatalx("cannot listen on %s", ls->ls_list[i].l_name);
		evconnlistener_set_error_cb(el, worker_accept_error_cb);
		w->w_listeners[w->w_nlisteners++] = el;
	}
	w->w_accepting = 1;
}

void
worker_main(const struct worker_args *wa)
{
	static const int signals[] = { SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGHUP };
	struct worker	 w;
	struct nsp_settings ns;
	char		 tag[32];
	sigset_t	 set;
	size_t		 i;

	snprintf(tag, sizeof(tag), "worker %d", wa->wa_slot);
	log_settag(tag);
	/* The master may die without a word (SIGKILL): follow it. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
		log_warn("prctl");

	memset(&w, 0, sizeof(w));
	host_init(&w.w_host);
	w.w_host.ch_closed = worker_conn_closed;
	w.w_host.ch_arg = &w;
	w.w_conf = w.w_host.ch_conf = wa->wa_conf;
	w.w_slot = wa->wa_slot;
	w.w_generation = wa->wa_generation;
	stats_attach(wa->wa_stats, wa->wa_generation, wa->wa_slot);
	if ((w.w_base = event_base_new()) == NULL)
		fatalx("cannot create an event base");
	/* Redis's invalidations before the requests they may concern (redis.h). */
	if (event_base_priority_init(w.w_base, WORKER_PRIORITIES) == -1)
		fatalx("cannot set the event priorities");
	w.w_host.ch_base = w.w_base;
	w.w_accept_retry = evtimer_new(w.w_base, worker_accept_retry_cb, &w);
	w.w_stop_timer = evtimer_new(w.w_base, worker_stop_timer_cb, &w);
	w.w_trim_timer = event_new(w.w_base, -1, EV_PERSIST, worker_trim_cb, &w);
	if (w.w_accept_retry == NULL || w.w_stop_timer == NULL ||
	    w.w_trim_timer == NULL)
		fatalx("cannot create timers");
	{
		struct timeval tv = { WORKER_TRIM_INTERVAL_MS / 1000,
		    (WORKER_TRIM_INTERVAL_MS % 1000) * 1000 };

		if (evtimer_add(w.w_trim_timer, &tv) == -1)
			fatalx("cannot start the trim timer");
	}

	nsp_settings_default(&ns);
	ns.ns_handler_timeout = w.w_conf->c_handler_timeout;
	ns.ns_threads = (int)w.w_conf->c_handler_threads;
	ns.ns_max_namespaces = w.w_conf->c_max_namespaces;
	w.w_nsp = nsp_registry_new(w.w_base, wa->wa_components, &ns);
	if (w.w_nsp == NULL)
		fatalx("cannot set up the namespaces");
	if (conf_redis_wanted(w.w_conf)) {
		char err[256];

		if ((w.w_redis = redis_new(w.w_base, w.w_conf)) == NULL)
			fatalx("cannot set up redis");
		w.w_session = session_store_new(w.w_base, w.w_conf, w.w_redis,
		    w.w_nsp, err, sizeof(err));
		if (w.w_session == NULL)
			fatalx("sessions: %s", err);
	}
	if (w.w_redis != NULL) {
		char bus_tag[ROOM_BUS_TAG_MAX + 1], err[256];

		/* Routing to and from the other nodes (forward.h, room.h). */
		w.w_forward = forward_new(&w.w_host, &w.w_sites.ws_public,
		    w.w_slot, w.w_generation, w.w_redis, wa->wa_node_tag);
		/*
		 * Room messages of our own bus come back from Redis and are
		 * dropped; during a reload the other generation is on
		 * another bus, so the generation is part of the tag.
		 */
		snprintf(bus_tag, sizeof(bus_tag), "%s.%u", wa->wa_node_tag,
		    w.w_generation);
		room_set_remote(nsp_registry_routing(w.w_nsp), &worker_room_ops,
		    &w, w.w_conf->c_redis_prefix, bus_tag);
		redis_set_handlers(w.w_redis, worker_redis_message, NULL, &w);
		/* What backends publish, with the emitter or POST /publish. */
		w.w_publish = publish_new(w.w_conf, w.w_redis, w.w_nsp, err,
		    sizeof(err));
		if (w.w_publish == NULL)
			fatalx("%s", err);
	}

	w.w_static = static_new(wa->wa_components, w.w_conf->c_eio_path,
	    w.w_conf->c_client_script, w.w_conf->c_rain_script);
	{
		struct eio_env env = { .ee_host = &w.w_host, .ee_slot = w.w_slot,
		    .ee_generation = w.w_generation,
		    .ee_node_tag = wa->wa_node_tag, .ee_nsp = w.w_nsp,
		    .ee_session = w.w_session, .ee_forward = w.w_forward,
		    .ee_handoff_gen = worker_handoff_gen_cb, .ee_arg = &w };

		w.w_eio = eio_server_new(&env);
	}
	if (wa->wa_mesh != NULL) {
		w.w_handoff = handoff_worker_new(wa->wa_mesh, wa->wa_slot,
		    w.w_base, &worker_handoff_cbs, &w);
		if (w.w_handoff == NULL)
			fatalx("cannot join the other workers");
		w.w_host.ch_handoff = w.w_handoff;
		/* Only memory by now: the worker works on its own copies. */
		handoff_mesh_free(wa->wa_mesh);
	}
	/* Sessions of the generations draining after a reload reach them. */
	w.w_others = xcalloc(wa->wa_nothers + 1, sizeof(*w.w_others));
	for (i = 0; i < wa->wa_nothers; i++) {
		struct handoff *h = handoff_sender_new(wa->wa_others[i].og_mesh);

		if (h != NULL) {
			w.w_others[w.w_nothers].ws_generation =
			    wa->wa_others[i].og_generation;
			w.w_others[w.w_nothers++].ws_handoff = h;
		}
		handoff_mesh_free(wa->wa_others[i].og_mesh);
	}
	if (wa->wa_mesh != NULL) {
		room_set_publisher(nsp_registry_routing(w.w_nsp),
		    worker_publish, &w);
	}

	routes_build(&w);
	worker_listen(&w, wa->wa_listeners, wa->wa_slot, wa->wa_tls);
	worker_drop_privileges(w.w_conf);

	w.w_signals = xcalloc(sizeof(signals) / sizeof(signals[0]),
	    sizeof(*w.w_signals));
	for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
		w.w_signals[i] = evsignal_new(w.w_base, signals[i],
		    worker_signal_cb, &w);
		if (w.w_signals[i] == NULL || evsignal_add(w.w_signals[i], NULL) == -1)
			fatalx("cannot handle signal %d", signals[i]);
		w.w_nsignals++;
	}
	/* The master blocked every signal across fork(); handlers are in place now. */
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	if (getppid() != wa->wa_master)
		exit(0);	/* the master died before PR_SET_PDEATHSIG took */

	log_debug("started, generation %u", w.w_generation);
	if (event_base_dispatch(w.w_base) == -1)
		fatalx("event loop failed");
	log_debug("exiting with %zu connections open", w.w_host.ch_nconns);
	exit(0);
}
