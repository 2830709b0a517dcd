/*
 * routes.h: what a worker's connections serve, by listening socket.
 *
 * The public site answers Engine.IO at eio_path (with the official
 * client bundle under it), /healthz, /metrics unless metrics_listen is
 * set, and the components' static files for every other path.  The
 * metrics site (metrics_listen) answers /metrics and /healthz only; the
 * admin site (admin_listen) answers POST /publish and /healthz.
 *
 * Ownership: the sites live in the worker (struct worker_sites) for its
 * whole life; the routes point at the worker's modules.
 */
#ifndef RAIND_ROUTES_H
#define RAIND_ROUTES_H

#include "conn.h"

struct worker;

struct worker_sites {
	struct conn_site	ws_public;
	struct conn_site	ws_metrics;
	struct conn_site	ws_admin;
};

/* Fill w's sites; call once the worker's modules exist. */
void	routes_build(struct worker *);

#endif
