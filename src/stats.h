/*
 * stats.h: the counters behind GET /metrics, shared by every process of
 * a node.
 *
 * The master maps one anonymous shared region before it forks any worker.
 * It holds a cell per (generation parity, slot): a worker writes only its
 * own cell, with relaxed atomic adds, and any worker reads every cell to
 * answer a scrape, so the answer is the same whichever worker gets the
 * request.  Counters are never reset: a respawned worker, or the worker of
 * a later generation that reuses a cell, goes on from the values its
 * predecessor left, so every counter stays monotonic across crashes and
 * reloads.  Gauges (what a worker holds now) are zeroed by the master when
 * the worker that owned the cell is gone.
 *
 * Without a region (the master itself, unit tests) every update goes to
 * a private cell nobody reads: call sites need no test.
 *
 * Ownership: the master owns the region (stats_region_new, freed at
 * exit); a worker keeps a pointer to it for its life (stats_attach).
 */
#ifndef RAIND_STATS_H
#define RAIND_STATS_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

#define STATS_SLOTS_MAX		256	/* as CONF_WORKERS_MAX */
#define STATS_NSP_MAX		64	/* namespaces with their own series */
#define STATS_NSP_NAME_MAX	128	/* bytes of a namespace name kept */
#define STATS_BUCKETS		12	/* latency histogram buckets, +Inf aside */

/* Counters: monotonic totals. */
enum stats_counter {
	STAT_HTTP_REQUESTS,
	STAT_EIO_MESSAGES_IN,
	STAT_EIO_MESSAGES_OUT,
	STAT_EIO_BYTES_IN,
	STAT_EIO_BYTES_OUT,
	STAT_SIO_EVENTS_IN,
	STAT_SIO_EVENTS_OUT,
	STAT_BROADCASTS,
	STAT_DELIVERIES,
	STAT_HANDOFFS,
	STAT_FORWARDS,
	STAT_SLOW_DROPS,
	STAT_HANDLER_ERRORS,
	STAT_HANDLER_TIMEOUTS,
	STAT_REDIS_RECONNECTS,
	STAT_CONNECTIONS_ACCEPTED,
	STAT_EMITTER_MESSAGES,
	STAT_EMITTER_DROPPED,
	STAT_PUBLISHED,
	STAT_SESSION_CACHE_HITS,
	STAT_SESSION_CACHE_MISSES,
	STAT_NCOUNTERS
};

/* Gauges: what the worker holds now. */
enum stats_gauge {
	STAT_G_CONNECTIONS,		/* TCP connections, any protocol */
	STAT_G_CONN_HTTP,		/* ... reading or answering HTTP */
	STAT_G_CONN_HELD,		/* ... a long-poll held by its session */
	STAT_G_CONN_WEBSOCKET,		/* ... taken over by a websocket */
	STAT_G_CONN_RELAY,		/* ... TLS relayed to another worker */
	STAT_G_EIO_POLLING,		/* Engine.IO sessions on polling */
	STAT_G_EIO_WEBSOCKET,		/* Engine.IO sessions on websocket */
	STAT_G_ROOMS,			/* rooms with members in the worker */
	STAT_G_REDIS_UP,		/* 1 when its Redis link is up */
	STAT_G_WORKER_UP,		/* 1 while the worker runs */
	STAT_NGAUGES
};

/* Latency histograms. */
enum stats_histogram {
	STAT_H_SESSION_LOAD,
	STAT_H_SESSION_SAVE,
	STAT_NHISTOGRAMS
};

struct stats_region;

/* Master: a region for workers of up to STATS_SLOTS_MAX slots; fatal on failure. */
struct stats_region	*stats_region_new(void);
/* Master: what only it knows. */
void			 stats_set_generation(struct stats_region *, unsigned generation);
void			 stats_set_draining(struct stats_region *, unsigned workers);
/* Master: the worker of (generation, slot) is gone; zero its gauges. */
void			 stats_worker_gone(struct stats_region *, unsigned generation,
			    int slot);

/* Worker: write to the cell of (generation, slot) from now on. */
void			 stats_attach(struct stats_region *, unsigned generation, int slot);

void			 stats_add(enum stats_counter, uint64_t);
#define stats_inc(c)	stats_add((c), 1)
void			 stats_gauge_add(enum stats_gauge, int64_t);
void			 stats_gauge_set(enum stats_gauge, int64_t);
/* A latency in microseconds. */
void			 stats_observe(enum stats_histogram, int64_t usec);
/* Sockets connected to a namespace: +1 on connect, -1 on disconnect. */
void			 stats_nsp_add(const char *nsp, int64_t);

/*
 * Worker: the slot of (generation, 0..nslots-1) but self whose worker runs
 * and holds the fewest connections, fewer than below; -1 if none.
 */
int			 stats_least_loaded(unsigned generation, int nslots, int self,
			    int64_t below);

/* The Prometheus text exposition of the whole node. */
void			 stats_format(struct evbuffer *);

/* Content-Type of stats_format's text. */
#define STATS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

#endif
