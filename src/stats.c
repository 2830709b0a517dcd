/*
 * stats.c: shared counters and the Prometheus exposition.  See stats.h.
 */
#include "config.h"

#include <sys/mman.h>

#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "log.h"
#include "stats.h"

#define STATS_CELLS		(2 * STATS_SLOTS_MAX)	/* generation parity x slot */

struct stats_nsp {
	int		 sn_used;	/* set (release) once sn_name is written */
	char		 sn_name[STATS_NSP_NAME_MAX];
	int64_t		 sn_sockets;
};

struct stats_hist {
	uint64_t	 sh_buckets[STATS_BUCKETS];	/* not cumulative */
	uint64_t	 sh_count;
	uint64_t	 sh_sum_usec;
};

struct stats_cell {
	uint64_t		 sc_counters[STAT_NCOUNTERS];
	int64_t			 sc_gauges[STAT_NGAUGES];
	struct stats_hist	 sc_hist[STAT_NHISTOGRAMS];
	struct stats_nsp	 sc_nsps[STATS_NSP_MAX];
};

struct stats_region {
	unsigned		 sr_generation;
	unsigned		 sr_draining;
	struct stats_cell	 sr_cells[STATS_CELLS];
};

/* Upper bounds of the buckets, in microseconds (the le labels in seconds). */
static const int64_t stats_bounds_usec[STATS_BUCKETS] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000
};
static const char *const stats_bounds_text[STATS_BUCKETS] = {
	"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
	"0.25", "0.5", "1", "2.5"
};

static const struct {
	const char	*name;
	const char	*help;
} stats_counter_info[STAT_NCOUNTERS] = {
	[STAT_HTTP_REQUESTS] = { "raind_http_requests_total",
	    "HTTP requests answered, Engine.IO polling included." },
	[STAT_EIO_MESSAGES_IN] = { "raind_messages_received_total",
	    "Engine.IO messages received from clients." },
	[STAT_EIO_MESSAGES_OUT] = { "raind_messages_sent_total",
	    "Engine.IO messages sent to clients." },
	[STAT_EIO_BYTES_IN] = { "raind_message_bytes_received_total",
	    "Bytes of Engine.IO messages received from clients." },
	[STAT_EIO_BYTES_OUT] = { "raind_message_bytes_sent_total",
	    "Bytes of Engine.IO messages sent to clients." },
	[STAT_SIO_EVENTS_IN] = { "raind_events_received_total",
	    "Socket.IO events received from clients." },
	[STAT_SIO_EVENTS_OUT] = { "raind_events_sent_total",
	    "Socket.IO packets sent to sockets (events, acknowledgements)." },
	[STAT_BROADCASTS] = { "raind_broadcasts_total",
	    "Room emits and namespace broadcasts made by handlers." },
	[STAT_DELIVERIES] = { "raind_broadcast_deliveries_total",
	    "Broadcast messages delivered to local sockets." },
	[STAT_HANDOFFS] = { "raind_handoffs_total",
	    "Connections handed to the worker owning their session." },
	[STAT_FORWARDS] = { "raind_forwards_total",
	    "Polling requests forwarded to the node owning their session." },
	[STAT_SLOW_DROPS] = { "raind_slow_reader_drops_total",
	    "Clients dropped for reading slower than max_send_queue allows." },
	[STAT_HANDLER_ERRORS] = { "raind_handler_errors_total",
	    "Handler calls that failed (RAIN_ERROR, rejections)." },
	[STAT_HANDLER_TIMEOUTS] = { "raind_handler_timeouts_total",
	    "Deferrals not settled within handler_timeout." },
	[STAT_REDIS_RECONNECTS] = { "raind_redis_reconnects_total",
	    "Redis connections lost (each is retried with a backoff)." },
	[STAT_CONNECTIONS_ACCEPTED] = { "raind_connections_accepted_total",
	    "TCP connections accepted." },
	[STAT_EMITTER_MESSAGES] = { "raind_emitter_messages_total",
	    "Messages received on the Socket.IO emitter's channels." },
	[STAT_EMITTER_DROPPED] = { "raind_emitter_dropped_total",
	    "Emitter messages dropped as malformed." },
	[STAT_PUBLISHED] = { "raind_published_total",
	    "POST /publish messages handed to Redis." },
	[STAT_SESSION_CACHE_HITS] = { "raind_session_cache_hits_total",
	    "Session hashes loaded from the worker's cache, without Redis." },
	[STAT_SESSION_CACHE_MISSES] = { "raind_session_cache_misses_total",
	    "Session hashes the cache could not answer, read from Redis." },
};

static struct stats_region	*stats_region;
static struct stats_cell	 stats_private;	/* written when unattached */
static struct stats_cell	*stats_mine = &stats_private;

struct stats_region *
stats_region_new(void)
{
	struct stats_region *sr;

	sr = mmap(NULL, sizeof(*sr), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sr == MAP_FAILED)
		fatal("stats: mmap of %zu bytes", sizeof(*sr));
	stats_region = sr;
	return (sr);
}

static struct stats_cell *
stats_cell(struct stats_region *sr, unsigned generation, int slot)
{
	if (slot < 0 || slot >= STATS_SLOTS_MAX)
		return (NULL);
	return (&sr->sr_cells[(generation % 2) * STATS_SLOTS_MAX + (unsigned)slot]);
}

void
stats_set_generation(struct stats_region *sr, unsigned generation)
{
	__atomic_store_n(&sr->sr_generation, generation, __ATOMIC_RELAXED);
}

void
stats_set_draining(struct stats_region *sr, unsigned workers)
{
	__atomic_store_n(&sr->sr_draining, workers, __ATOMIC_RELAXED);
}

void
stats_worker_gone(struct stats_region *sr, unsigned generation, int slot)
{
	struct stats_cell	*c;
	size_t			 i;

	if ((c = stats_cell(sr, generation, slot)) == NULL)
		return;
	for (i = 0; i < STAT_NGAUGES; i++)
		__atomic_store_n(&c->sc_gauges[i], 0, __ATOMIC_RELAXED);
	for (i = 0; i < STATS_NSP_MAX; i++)
		__atomic_store_n(&c->sc_nsps[i].sn_sockets, 0, __ATOMIC_RELAXED);
}

void
stats_attach(struct stats_region *sr, unsigned generation, int slot)
{
	struct stats_cell *c;

	stats_region = sr;
	if (sr == NULL || (c = stats_cell(sr, generation, slot)) == NULL)
		return;
	stats_mine = c;
	/* The master zeroed what a predecessor held when it died (stats.h). */
	stats_gauge_add(STAT_G_WORKER_UP, 1);
}

void
stats_add(enum stats_counter which, uint64_t n)
{
	__atomic_fetch_add(&stats_mine->sc_counters[which], n, __ATOMIC_RELAXED);
}

void
stats_gauge_add(enum stats_gauge which, int64_t n)
{
	__atomic_fetch_add(&stats_mine->sc_gauges[which], n, __ATOMIC_RELAXED);
}

void
stats_gauge_set(enum stats_gauge which, int64_t v)
{
	__atomic_store_n(&stats_mine->sc_gauges[which], v, __ATOMIC_RELAXED);
}

void
stats_observe(enum stats_histogram which, int64_t usec)
{
	struct stats_hist	*h = &stats_mine->sc_hist[which];
	size_t			 i;

	if (usec < 0)
		usec = 0;
	for (i = 0; i < STATS_BUCKETS; i++)
		if (usec <= stats_bounds_usec[i]) {
			__atomic_fetch_add(&h->sh_buckets[i], 1, __ATOMIC_RELAXED);
			break;
		}
	__atomic_fetch_add(&h->sh_sum_usec, (uint64_t)usec, __ATOMIC_RELAXED);
	/* Last, so that a reader never sees a count its buckets lack. */
	__atomic_fetch_add(&h->sh_count, 1, __ATOMIC_RELEASE);
}

void
stats_nsp_add(const char *nsp, int64_t n)
{
	struct stats_nsp	*e;
	size_t			 i;

	if (strlen(nsp) >= STATS_NSP_NAME_MAX)
		return;
	for (i = 0; i < STATS_NSP_MAX; i++) {
		e = &stats_mine->sc_nsps[i];
		if (!e->sn_used) {
			/* Only this worker writes its cell: no race to claim it. */
			memcpy(e->sn_name, nsp, strlen(nsp) + 1);
			__atomic_store_n(&e->sn_used, 1, __ATOMIC_RELEASE);
		} else if (strcmp(e->sn_name, nsp) != 0)
			continue;
		__atomic_fetch_add(&e->sn_sockets, n, __ATOMIC_RELAXED);
		return;
	}
}

int
stats_least_loaded(unsigned generation, int nslots, int self, int64_t below)
{
	struct stats_cell	*c;
	int64_t			 v, best_v = below;
	int			 slot, best = -1;

	if (stats_region == NULL)
		return (-1);
	for (slot = 0; slot < nslots; slot++) {
		if (slot == self ||
		    (c = stats_cell(stats_region, generation, slot)) == NULL ||
		    __atomic_load_n(&c->sc_gauges[STAT_G_WORKER_UP],
		    __ATOMIC_RELAXED) <= 0)
			continue;
		v = __atomic_load_n(&c->sc_gauges[STAT_G_CONNECTIONS],
		    __ATOMIC_RELAXED);
		if (v < best_v) {
			best_v = v;
			best = slot;
		}
	}
	return (best);
}

/*
 * The exposition.
 */

static void
stats_family(struct evbuffer *out, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

static uint64_t
stats_sum_counter(const struct stats_region *sr, enum stats_counter which)
{
	uint64_t	 sum = 0;
	size_t		 i;

	for (i = 0; i < STATS_CELLS; i++)
		sum += __atomic_load_n(&sr->sr_cells[i].sc_counters[which],
		    __ATOMIC_RELAXED);
	return (sum);
}

static int64_t
stats_sum_gauge(const struct stats_region *sr, enum stats_gauge which)
{
	int64_t	 sum = 0;
	size_t	 i;

	for (i = 0; i < STATS_CELLS; i++)
		sum += __atomic_load_n(&sr->sr_cells[i].sc_gauges[which],
		    __ATOMIC_RELAXED);
	return (sum);
}

static void
stats_gauge_line(struct evbuffer *out, const char *name, const char *help,
    int64_t v)
{
	stats_family(out, name, "gauge", help);
	evbuffer_add_printf(out, "%s %lld\n", name, (long long)v);
}

/* A label value as the text format wants it: \\, \" and \n escaped. */
static void
stats_label(struct evbuffer *out, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			evbuffer_add_printf(out, "\\%c", *v);
		else if (*v == '\n')
			evbuffer_add(out, "\\n", 2);
		else
			evbuffer_add(out, v, 1);
	}
}

static void
stats_namespaces(struct evbuffer *out, const struct stats_region *sr)
{
	const char	*names[STATS_NSP_MAX];
	int64_t		 counts[STATS_NSP_MAX];
	const struct stats_nsp *e;
	size_t		 c, i, k, n = 0;

	for (c = 0; c < STATS_CELLS; c++)
		for (i = 0; i < STATS_NSP_MAX; i++) {
			e = &sr->sr_cells[c].sc_nsps[i];
			if (!__atomic_load_n(&e->sn_used, __ATOMIC_ACQUIRE))
				break;
			for (k = 0; k < n; k++)
				if (strcmp(names[k], e->sn_name) == 0)
					break;
			if (k == n) {
				if (n == STATS_NSP_MAX)
					continue;
				names[n] = e->sn_name;
				counts[n++] = 0;
			}
			counts[k] += __atomic_load_n(&e->sn_sockets, __ATOMIC_RELAXED);
		}
	stats_family(out, "raind_sockets", "gauge",
	    "Socket.IO sockets connected, by namespace.");
	for (k = 0; k < n; k++) {
		evbuffer_add(out, "raind_sockets{namespace=\"", 25);
		stats_label(out, names[k]);
		evbuffer_add_printf(out, "\"} %lld\n", (long long)counts[k]);
	}
}

static void
stats_histogram(struct evbuffer *out, const struct stats_region *sr,
    enum stats_histogram which, const char *name, const char *help)
{
	uint64_t	 buckets[STATS_BUCKETS] = { 0 }, count = 0, sum = 0, cum = 0;
	const struct stats_hist *h;
	size_t		 c, i;

	for (c = 0; c < STATS_CELLS; c++) {
		h = &sr->sr_cells[c].sc_hist[which];
		/* The count first: buckets read after it hold at least as much. */
		count += __atomic_load_n(&h->sh_count, __ATOMIC_ACQUIRE);
		for (i = 0; i < STATS_BUCKETS; i++)
			buckets[i] += __atomic_load_n(&h->sh_buckets[i], __ATOMIC_RELAXED);
		sum += __atomic_load_n(&h->sh_sum_usec, __ATOMIC_RELAXED);
	}
	stats_family(out, name, "histogram", help);
	for (i = 0; i < STATS_BUCKETS; i++) {
		cum += buckets[i];
		/* A bucket never holds more than the total after it. */
		evbuffer_add_printf(out, "%s_bucket{le=\"%s\"} %llu\n", name,
		    stats_bounds_text[i], (unsigned long long)(cum < count ? cum : count));
	}
	evbuffer_add_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n"
	    "%s_count %llu\n", name, (unsigned long long)count, name,
	    (double)sum / 1e6, name, (unsigned long long)count);
}

void
stats_format(struct evbuffer *out)
{
	const struct stats_region *sr = stats_region;
	size_t i;

	if (sr == NULL)
		return;
	for (i = 0; i < STAT_NCOUNTERS; i++) {
		stats_family(out, stats_counter_info[i].name, "counter",
		    stats_counter_info[i].help);
		evbuffer_add_printf(out, "%s %llu\n", stats_counter_info[i].name,
		    (unsigned long long)stats_sum_counter(sr, i));
	}
	stats_gauge_line(out, "raind_connections",
	    "TCP connections open, any protocol.",
	    stats_sum_gauge(sr, STAT_G_CONNECTIONS));
	stats_family(out, "raind_connections_by_state", "gauge",
	    "TCP connections open, by what they are doing.");
	evbuffer_add_printf(out, "raind_connections_by_state{state=\"http\"} %lld\n"
	    "raind_connections_by_state{state=\"held_poll\"} %lld\n"
	    "raind_connections_by_state{state=\"websocket\"} %lld\n"
	    "raind_connections_by_state{state=\"tls_relay\"} %lld\n",
	    (long long)stats_sum_gauge(sr, STAT_G_CONN_HTTP),
	    (long long)stats_sum_gauge(sr, STAT_G_CONN_HELD),
	    (long long)stats_sum_gauge(sr, STAT_G_CONN_WEBSOCKET),
	    (long long)stats_sum_gauge(sr, STAT_G_CONN_RELAY));
	stats_family(out, "raind_eio_sessions", "gauge",
	    "Engine.IO sessions, by transport.");
	evbuffer_add_printf(out, "raind_eio_sessions{transport=\"polling\"} %lld\n"
	    "raind_eio_sessions{transport=\"websocket\"} %lld\n",
	    (long long)stats_sum_gauge(sr, STAT_G_EIO_POLLING),
	    (long long)stats_sum_gauge(sr, STAT_G_EIO_WEBSOCKET));
	stats_namespaces(out, sr);
	stats_gauge_line(out, "raind_rooms",
	    "Rooms with local members, summed over the workers.",
	    stats_sum_gauge(sr, STAT_G_ROOMS));
	stats_gauge_line(out, "raind_redis_connected_workers",
	    "Workers whose Redis connection is up.",
	    stats_sum_gauge(sr, STAT_G_REDIS_UP));
	stats_gauge_line(out, "raind_workers", "Worker processes running.",
	    stats_sum_gauge(sr, STAT_G_WORKER_UP));
	stats_gauge_line(out, "raind_reload_generation",
	    "Generation of the workers taking new connections (1 at start, +1 per reload).",
	    (int64_t)__atomic_load_n(&sr->sr_generation, __ATOMIC_RELAXED));
	stats_gauge_line(out, "raind_draining_workers",
	    "Workers of older generations still finishing their connections.",
	    (int64_t)__atomic_load_n(&sr->sr_draining, __ATOMIC_RELAXED));
	stats_histogram(out, sr, STAT_H_SESSION_LOAD, "raind_session_load_seconds",
	    "Time to load a session from Redis.");
	stats_histogram(out, sr, STAT_H_SESSION_SAVE, "raind_session_save_seconds",
	    "Time to save a session to Redis.");
}
