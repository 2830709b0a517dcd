/*
 * idle.h: RAIN's idle policy for a worker's Socket.IO sockets.
 *
 * Every idle_check_interval the worker looks at its Socket.IO sockets.  A
 * socket that exchanged nothing with its client for idle_time is idle:
 * neither did the client send it a CONNECT, EVENT or ACK, nor did the
 * server send it an event, a broadcast or an acknowledgement (Engine.IO
 * pings and pongs do not count), so a push-only socket is never idle.
 * As RAIN did, idle sockets are disconnected only when disconnect_idle is
 * yes AND the worker holds at least disconnect_idle_on_max_conn Engine.IO
 * connections: under load, idle clients make room for active ones.  How a socket is disconnected is
 * nsp_disconnect_idle's business (nsp.h).
 *
 * Ownership: the checker belongs to whoever made it (the Engine.IO
 * server); the registry and the configuration must outlive it.
 */
#ifndef RAIND_IDLE_H
#define RAIND_IDLE_H

#include <stddef.h>

struct conf;
struct event_base;
struct idle;
struct nsp_registry;

/* The worker's load: its Engine.IO connections, now. */
typedef size_t	(*idle_load_fn)(void *arg);

struct idle	*idle_new(struct event_base *, struct nsp_registry *,
		    const struct conf *, idle_load_fn, void *arg);
void		 idle_free(struct idle *);
/* One check, as the timer runs it; returns the sockets disconnected. */
size_t		 idle_check(struct idle *);

#endif
