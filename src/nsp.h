/*
 * nsp.h: Socket.IO namespaces, sockets and the per-socket event pipeline.
 *
 * This layer sits between a transport and the handler modules.  The
 * transport (Engine.IO, sio.c) decodes Socket.IO packets, waits for all
 * their binary attachments, and feeds each complete packet to
 * nsp_client_packet.  Output comes back as encoded messages (struct
 * nsp_msg) through the client's ops table.  Nothing here touches a
 * network, so tests drive it with decoded packets and a fake client.
 *
 * Every event of a socket goes through an explicit asynchronous pipeline,
 * one event at a time in arrival order:
 *
 *	queued -> session load -> listeners (each may defer) -> session
 *	save -> acknowledgement -> next event
 *
 * The load and save stages belong to a session store (struct
 * nsp_store_ops, registered by the sessions module); without one they
 * pass straight through.  A listener registered with RAIN_NO_SESSION, and
 * every listener of a component without useSession, skips both.  The
 * handle functions run as the first job of a socket, through the same
 * load and save; the disconnect listeners run as its last job, without
 * session.
 *
 * Behaviour towards the client follows the Node socket.io 4.x server:
 *  - CONNECT to an unknown namespace: CONNECT_ERROR
 *    {"message":"Invalid namespace"}; the connection stays.
 *  - CONNECT to a namespace already connected on this client, any other
 *    packet to a namespace not connected, a CONNECT_ERROR from the
 *    client, an EVENT whose name is reserved ("connect", "connect_error",
 *    "disconnect", "disconnecting", "newListener", "removeListener") or
 *    malformed: nsp_client_packet returns -1 and the transport closes
 *    the whole connection (Node: "invalid state" / parse error).
 *  - An EVENT nobody listens to is dropped without an acknowledgement;
 *    an ACK with an unknown id is ignored.
 *  - DISCONNECT from the client: the socket leaves with the reason
 *    "client namespace disconnect"; the connection stays.
 *  - CONNECT beyond max_namespaces_per_connection (sockets already
 *    connected on this client): CONNECT_ERROR {"message":"too many
 *    namespaces"}; the connection and its other sockets stay, and a
 *    namespace can be connected again once one is left.
 * When a socket goes away, events that have not started yet are dropped
 * (their acknowledgement could not be delivered), the one in progress
 * completes (its session is still saved), then the disconnect listeners
 * run.
 *
 * Ownership and lifetimes:
 *  - The registry is per worker; it points into the component set it was
 *    built from, which must outlive it.  At shutdown, call
 *    nsp_client_closed for every client while the transport can still
 *    take sends (disconnect listeners may emit to other sockets), then
 *    nsp_registry_free; the event loop must not run afterwards.  Clients
 *    left open are closed by nsp_registry_free as a last resort.
 *  - A client belongs to the transport between nsp_client_new and
 *    nsp_client_closed; after nsp_client_closed returns it is freed.
 *  - The client's ops must not call back into this layer synchronously:
 *    a send or close that fails must not call nsp_client_closed from
 *    within the op (defer it to the loop), because the caller may be
 *    iterating over the recipients of a broadcast.
 *  - A struct nsp_msg is immutable and reference counted.  An op that
 *    keeps one beyond the call takes a reference (nsp_msg_ref) and drops
 *    it with nsp_msg_unref.  One message serves every recipient of a
 *    broadcast; the transport may cache its framing in nm_tcache.
 *  - Sockets are reference counted internally (the connection, jobs,
 *    deferrals, pending acks, handler holds) and outlive the client.
 */
#ifndef RAIND_NSP_H
#define RAIND_NSP_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_tree.h>

#include "nsp_msg.h"
#include "room.h"
#include "sio_codec.h"

struct event;
struct event_base;
struct component_set;
struct component;
struct component_nsp;
struct pool;
struct rain_socket;
struct rain_event;
struct nsp_job;
struct handshake;

#define NSP_HANDLER_TIMEOUT_DEFAULT	30000	/* ms, handler_timeout */
#define NSP_THREADS_DEFAULT		4	/* handler_threads */
#define NSP_QUEUE_MAX			64	/* events waiting per socket */
#define NSP_ACKS_MAX			1024	/* acks awaited from one client */
#define NSP_NAMES_MAX			4096	/* event names per namespace */
#define NSP_NAMESPACES_MAX		32	/* max_namespaces_per_connection */
#define NSP_SOCKET_ID_BYTES		15	/* random bytes of a socket id */
#define NSP_SOCKET_ID_LEN		20	/* base64url characters */
#define NSP_ERR_TIMEOUT			"handler timeout"
#define NSP_ERR_ACK_TIMEOUT		"ack timeout"
#define NSP_ERR_DISCONNECTED		"disconnected"
#define NSP_ERR_HANDLER			"handler error"
#define NSP_ERR_QUEUE			"too many pending events"
#define NSP_ERR_INVALID_NSP		"Invalid namespace"
#define NSP_ERR_NAMESPACES		"too many namespaces"
/* Why a socket leaves when the server disconnects it (the Node server's words). */
#define NSP_REASON_SERVER		"server namespace disconnect"

/*
 * Settings from the configuration (handler_timeout, handler_threads,
 * max_namespaces_per_connection).
 */
struct nsp_settings {
	int64_t		ns_handler_timeout;	/* ms a deferral may stay unsettled */
	int64_t		ns_ack_timeout;		/* ms for a client ack; 0: handler_timeout */
	int		ns_threads;		/* thread pool size */
	size_t		ns_queue_max;		/* events waiting per socket */
	size_t		ns_max_namespaces;	/* sockets per client; 0: no limit */
};


enum nsp_close {
	NSP_CLOSE_GRACEFUL = 0,		/* Engine.IO close / WebSocket close frame */
	NSP_CLOSE_HARD = 1		/* abort TCP (RST), no close frame */
};

/* What a transport provides for one Engine.IO connection. */
struct nsp_client_ops {
	/* Queue msg for the client (take a reference to keep it). */
	void	(*co_send)(void *arg, struct nsp_msg *);
	/*
	 * Close the Engine.IO connection after delay_ms, without a Socket.IO
	 * DISCONNECT; the transport then calls nsp_client_closed.
	 */
	void	(*co_close)(void *arg, enum nsp_close, unsigned int delay_ms);
};

/* One per Engine.IO connection, idle ones too: one allocation, id included. */
struct nsp_client {
	struct nsp_registry		*nc_reg;
	const struct nsp_client_ops	*nc_ops;
	void				*nc_arg;
	char				*nc_session_id;	/* from the cookie, or NULL */
	struct handshake		*nc_handshake;	/* a reference, or NULL */
	LIST_HEAD(, nsp_socket)		 nc_sockets;
	LIST_ENTRY(nsp_client)		 nc_entry;	/* in nr_clients */
	/* One socket per namespace, and namespaces come with modules. */
	uint16_t			 nc_nsockets;	/* <= COMPONENT_MODULES_MAX + 1 */
	char				 nc_id[];	/* Engine.IO sid, for logs */
};

/* A server-to-client acknowledgement being waited for. */
struct nsp_ackwait {
	LIST_ENTRY(nsp_ackwait)	 aw_entry;
	int64_t			 aw_id;
	struct rain_socket	*aw_view;
	void			(*aw_cb)(struct rain_socket *, struct rain_event *,
				    const char *, void *);
	void			*aw_arg;
	struct event		*aw_timer;
};

/*
 * A Socket.IO socket: one client in one namespace.  Every idle client
 * holds one, so the small fields are packed behind the id, counters are
 * as wide as their limits need, and the views share the allocation.
 */
struct nsp_socket {
	unsigned int		 ns_refs;
	char			 ns_id[NSP_SOCKET_ID_LEN + 1];
	uint8_t			 ns_connected;
	uint8_t			 ns_acked;	/* CONNECT answered to the client */
	uint8_t			 ns_pumping;
	uint16_t		 ns_nviews;	/* <= COMPONENT_MODULES_MAX */
	uint16_t		 ns_nrooms;	/* <= ROOM_PER_SOCKET_MAX */
	struct nsp_namespace	*ns_nsp;
	struct nsp_client	*ns_client;	/* NULL once disconnected */
	/*
	 * In its client's nc_sockets while it has one, else in the
	 * registry's nr_sockets (until connected, after disconnecting, as
	 * long as references keep it): one entry serves both.
	 */
	LIST_ENTRY(nsp_socket)	 ns_entry;
	TAILQ_ENTRY(nsp_socket)	 ns_nsp_entry;	/* while connected */
	/*
	 * When the client last sent this socket a CONNECT, an EVENT or an
	 * ACK (ms of CLOCK_MONOTONIC), and its place in the registry's
	 * list of connected sockets, least recently active first.
	 */
	int64_t			 ns_active;
	TAILQ_ENTRY(nsp_socket)	 ns_active_entry;	/* while connected */
	/* One per module of the namespace, right after the struct. */
	struct rain_socket	*ns_views;
	TAILQ_HEAD(, nsp_job)	 ns_queue;	/* first: the job in progress */
	LIST_HEAD(, nsp_ackwait) ns_acks;
	int64_t			 ns_next_ack;
	struct room_memberships	 ns_rooms;
	yajl_val		 ns_auth;	/* CONNECT payload, or NULL */
	void			*ns_session;	/* the session store's state */
	struct handshake	*ns_handshake;	/* a reference, or NULL */
	char			*ns_session_id;	/* the user's, or NULL */
	uint32_t		 ns_nqueued;	/* <= ns_queue_max */
	uint16_t		 ns_nacks;	/* <= NSP_ACKS_MAX */
};

struct nsp_namespace {
	char				*nn_name;
	struct nsp_registry		*nn_reg;
	const struct component_nsp	*nn_cnsp;	/* NULL for "/" */
	const struct component		*nn_comp;	/* NULL for "/" */
	TAILQ_HEAD(, nsp_socket)	 nn_sockets;
	size_t				 nn_nsockets;
	struct room_table		*nn_rooms;
	char				**nn_names;	/* interned event names */
	size_t				 nn_nnames;
};

/*
 * The session store (sessions module).  load and save start an
 * asynchronous stage and call nsp_stage_done(job, error) when it is over,
 * possibly before returning; error is NULL on success, else a message
 * for the client's acknowledgement.  get, set, remove and dump work on
 * what load fetched (global: the user's global session, else the
 * component session).  authorize decides a CONNECT (-1 refuses with
 * *reason).  free drops ns_session.
 */
struct nsp_store_ops {
	int	(*so_authorize)(void *arg, struct nsp_client *, struct nsp_socket *,
		    const char **reason);
	void	(*so_load)(void *arg, struct nsp_socket *, struct nsp_job *);
	void	(*so_save)(void *arg, struct nsp_socket *, struct nsp_job *);
	int	(*so_get)(void *arg, struct nsp_socket *, int global, const char *key,
		    yajl_val *out);
	int	(*so_set)(void *arg, struct nsp_socket *, int global, const char *key,
		    const char *json, size_t len);
	int	(*so_remove)(void *arg, struct nsp_socket *, int global, const char *key);
	int	(*so_dump)(void *arg, struct nsp_socket *, int global, yajl_val *out);
	void	(*so_free)(void *arg, struct nsp_socket *);
};

struct nsp_registry {
	struct event_base		*nr_base;
	struct nsp_settings		 nr_settings;
	const struct component_set	*nr_set;
	struct nsp_namespace		**nr_nsps;	/* [0] is "/" */
	size_t				 nr_nnsps;
	struct pool			*nr_pool;	/* created on first use */
	const struct nsp_store_ops	*nr_store;	/* NULL: no sessions */
	void				*nr_store_arg;
	LIST_HEAD(, nsp_client)		 nr_clients;	/* to close at the end */
	LIST_HEAD(, nsp_socket)		 nr_sockets;	/* those with no client */
	TAILQ_HEAD(, nsp_socket)	 nr_active;	/* by ns_active */
	size_t				 nr_nactive;	/* connected sockets */
	struct room_routing		*nr_routing;	/* its namespaces' rooms, beyond the worker */
};

void			 nsp_settings_default(struct nsp_settings *);

/* Worker side: build the namespaces of set (plus "/") on base. */
struct nsp_registry	*nsp_registry_new(struct event_base *, const struct component_set *,
			    const struct nsp_settings *);
void			 nsp_registry_free(struct nsp_registry *);
void			 nsp_registry_set_store(struct nsp_registry *,
			    const struct nsp_store_ops *, void *arg);
struct nsp_namespace	*nsp_registry_find(struct nsp_registry *, const char *name);
/* Where the rooms of its namespaces reach beyond this worker (room.h). */
struct room_routing	*nsp_registry_routing(struct nsp_registry *);
struct pool		*nsp_registry_pool(struct nsp_registry *);
/*
 * RAIN's idle policy (idle.h decides when): every socket that got
 * nothing from its client for idle_ms is disconnected as the Node
 * server's socket.disconnect() does it (a DISCONNECT packet; the client
 * sees "io server disconnect"), and a client left without sockets by
 * this has its connection closed, so that its descriptor goes too.
 * Returns the number of sockets disconnected.
 */
size_t			 nsp_disconnect_idle(struct nsp_registry *, int64_t idle_ms);

/* Transport side. */
struct nsp_client	*nsp_client_new(struct nsp_registry *, const struct nsp_client_ops *,
			    void *arg, const char *id);
void			 nsp_client_set_session_id(struct nsp_client *, const char *);
/* The facts of the client's handshake; the client takes over the reference. */
void			 nsp_client_set_handshake(struct nsp_client *, struct handshake *);
/*
 * Feed one complete decoded packet (all attachments present).  Takes the
 * packet's contents in every case (the struct is cleared on return).
 * Returns 0, or -1 when the packet breaks the protocol and the transport
 * must close the connection.
 */
int			 nsp_client_packet(struct nsp_client *, struct sio_packet *);
/* The connection is gone (reason as Socket.IO names it: "transport close", ...); frees c. */
void			 nsp_client_closed(struct nsp_client *, const char *reason);

/* Used by the handler API and rooms. */
void			 nsp_socket_send(struct nsp_socket *, struct nsp_msg *);
void			 nsp_socket_hold(struct nsp_socket *);
void			 nsp_socket_release(struct nsp_socket *);
void			 nsp_socket_disconnect(struct nsp_socket *, const char *reason,
			    int send_packet);
const char		*nsp_intern(struct nsp_namespace *, const char *name);
const char		*nsp_interned(struct nsp_namespace *, const char *name);
int			 nsp_event_reserved(const char *);
/* Wait for the client's ack of a message; returns the ack id or -1. */
int64_t			 nsp_ack_expect(struct nsp_socket *, struct rain_socket *,
			    void (*)(struct rain_socket *, struct rain_event *, const char *,
			    void *), void *arg);
void			 nsp_ack_cancel(struct nsp_socket *, int64_t id);

/*
 * Holds on a job: while held, a queued job does not start and a job
 * that is done does not send its answer (a join waits for its room's
 * subscription).  Each hold takes a reference; unhold resumes the job.
 */
void			 nsp_job_hold(struct nsp_job *);
void			 nsp_job_unhold(struct nsp_job *);
/* The job in progress on s (running its listeners), or NULL. */
struct nsp_job		*nsp_socket_current_job(struct nsp_socket *);

/* Session stages: see struct nsp_store_ops. */
void			 nsp_stage_done(struct nsp_job *, const char *error);
struct nsp_socket	*nsp_job_socket(struct nsp_job *);
/* Is a session loaded for the job now running on s, with session use allowed? */
int			 nsp_session_usable(struct nsp_socket *, int global, const char **why);
/* Is the job a namespace CONNECT (the handle functions)? */
int			 nsp_job_connecting(const struct nsp_job *);

#endif
