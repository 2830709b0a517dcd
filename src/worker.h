/*
 * worker.h: a worker process.
 *
 * A worker owns one event_base, made after the fork, and serves the
 * connections the kernel hands to its slot's listening sockets.  It never
 * talks to the master except through signals and its exit status.
 */
#ifndef RAIND_WORKER_H
#define RAIND_WORKER_H

#include <sys/queue.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "host.h"
#include "routes.h"

struct component_set;
struct conf;
struct conn;
struct event;
struct event_base;
struct evconnlistener;
struct listener_set;
struct nsp_registry;
struct eio_server;
struct static_ctx;
struct stats_region;
struct worker_listen;
struct handoff;
struct handoff_mesh;
struct redis;
struct session_store;
struct forward;
struct publish;
struct ssl_ctx_st;

/* How long accept stays paused after EMFILE/ENFILE before retrying. */
#define WORKER_ACCEPT_RETRY_MS	100


struct worker {
	struct event_base	 *w_base;
	const struct conf	 *w_conf;
	int			  w_slot;
	unsigned		  w_generation;
	struct evconnlistener	**w_listeners;
	size_t			  w_nlisteners;
	int			  w_accepting;	/* listeners enabled */
	struct event		 *w_accept_retry;	/* after EMFILE */
	struct conn_host	  w_host;	/* its connections (host.h) */
	struct event		 *w_trim_timer;	/* gives freed memory back */
	size_t			  w_refused;	/* at the node's limit, unlogged */
	struct worker_sender	 *w_others;	/* older generations, draining */
	struct worker_listen	 *w_listen_args; /* the listeners' callback args */
	size_t			  w_nothers;
	int			  w_draining;	/* after a reload: serve, accept no more */
	int64_t			  w_drain_deadline; /* monotonic ms */
	struct event		 *w_drain_timer;
	size_t			  w_drain_total;	/* sessions when the time was up */
	int64_t			  w_refused_logged; /* monotonic ms */
	size_t			  w_closed_since_trim;
	int			  w_stopping;	/* graceful stop under way */
	struct event		 *w_stop_timer;	/* hard deadline */
	struct nsp_registry	 *w_nsp;	/* namespaces and handlers */
	struct eio_server	 *w_eio;	/* Engine.IO sessions */
	struct static_ctx	 *w_static;	/* components' client files */
	struct handoff		 *w_handoff;	/* to the other workers */
	struct redis		 *w_redis;	/* NULL without redis */
	struct session_store	 *w_session;	/* NULL without redis */
	struct forward		 *w_forward;	/* NULL without redis */
	struct publish		 *w_publish;	/* NULL without redis */
	struct worker_sites	  w_sites;	/* what the listeners serve */
	struct event		**w_signals;
	size_t			  w_nsignals;
};

/* Another generation's channels, passed to a worker (reload drain). */
struct worker_other_gen {
	unsigned		 og_generation;
	struct handoff_mesh	*og_mesh;
};

/* What a worker holds to reach the draining workers of a generation. */
struct worker_sender {
	unsigned		 ws_generation;
	struct handoff		*ws_handoff;
};

/* How often a draining worker looks whether it is done. */
#define WORKER_DRAIN_TICK_MS	250
/* At most one "connections refused" line per this many ms. */
#define WORKER_REFUSED_LOG_MS	1000
/* How often a worker may give freed memory back to the system. */
#define WORKER_TRIM_INTERVAL_MS	2000

struct worker_args {
	const struct conf	*wa_conf;
	struct listener_set	*wa_listeners;
	const struct component_set *wa_components;
	struct handoff_mesh	*wa_mesh;	/* of this generation */
	const char		*wa_node_tag;	/* sid prefix naming the node */
	struct ssl_ctx_st	*wa_tls;	/* for TLS listeners; NULL: none */
	int			 wa_slot;
	unsigned		 wa_generation;
	pid_t			 wa_master;	/* to notice its death */
	struct stats_region	*wa_stats;	/* the node's counters */
	const struct worker_other_gen *wa_others; /* older generations alive */
	size_t			 wa_nothers;
};

/* Run a worker in the child after fork; never returns. */
void	worker_main(const struct worker_args *) __attribute__((noreturn));


#endif
