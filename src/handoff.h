/*
 * handoff.h: connections and messages between the workers of one node.
 *
 * Two channels, both made by the master before it forks a generation of
 * workers, so every worker inherits them:
 *
 *  - Handoff: one SOCK_SEQPACKET socketpair per worker slot.  Any worker
 *    passes a client connection (SCM_RIGHTS) to the slot that owns its
 *    Engine.IO session, together with the bytes it already read from it,
 *    in one datagram of at most HANDOFF_BYTES_MAX bytes.  The receiving
 *    worker continues the connection as if it had read those bytes itself.
 *
 *  - Bus: a SOCK_SEQPACKET socketpair between every two slots, used to
 *    pass room emits and namespace broadcasts to the other workers.  A bus
 *    message is opaque bytes (the caller encodes it), sent in fragments
 *    that carry its length and offset, and delivered whole and in order to
 *    every other worker of the generation.  Datagrams, not a byte stream,
 *    so that a worker that dies half way through a message cannot leave
 *    its respawned successor or its peers out of step (see handoff.c).
 *
 * Ownership: the master owns a struct handoff_mesh (handoff_mesh_new,
 * handoff_mesh_free) per generation; a worker turns it into its struct
 * handoff with handoff_worker_new after the fork, which closes the
 * descriptors that are not its own.  The master keeps the mesh open until
 * the generation is retired, so that a respawned worker of a slot calls
 * handoff_worker_new on the same mesh again.  Callbacks must not free
 * the struct handoff they are called from.
 */
#ifndef RAIND_HANDOFF_H
#define RAIND_HANDOFF_H

#include <stddef.h>
#include <stdint.h>

struct event_base;

#define HANDOFF_BYTES_MAX	(128 * 1024)	/* bytes passed with a connection */
#define HANDOFF_PEER_MAX	64		/* its peer's name, NUL included */
#define BUS_MSG_MAX		(256u * 1024 * 1024)	/* one bus message */
#define BUS_QUEUE_MAX		(64u * 1024 * 1024)	/* unsent bytes to one peer */

struct handoff_mesh;
struct handoff;

/* Master: the channels of a generation of nslots workers; NULL with errno on failure. */
struct handoff_mesh	*handoff_mesh_new(int nslots);
/*
 * Master after an upgrade: the mesh of a generation of the previous
 * master, known only by its channels' writing ends fds[0..nslots) (taken
 * over), to reach its draining workers.  NULL on bad input.
 */
struct handoff_mesh	*handoff_mesh_adopt(int nslots, const int *fds);
/* Master: close every descriptor of the mesh (its workers keep their copies). */
void			 handoff_mesh_free(struct handoff_mesh *);

struct handoff_cbs {
	/*
	 * A connection handed over: fd (now owned by the callee), the name
	 * of the client it stands for when fd is a relay (else NULL), and
	 * the bytes already read from it, valid during the call only.
	 */
	void	(*hc_conn)(void *arg, int fd, const char *peer,
		    const void *bytes, size_t len);
	/* A bus message from another worker, valid during the call only. */
	void	(*hc_bus)(void *arg, const void *msg, size_t len);
};

/*
 * Worker, after fork: keep the descriptors of slot, close the others of
 * the mesh, and watch the incoming channels on base.  NULL on failure.
 */
struct handoff		*handoff_worker_new(struct handoff_mesh *, int slot,
			    struct event_base *, const struct handoff_cbs *, void *arg);
void			 handoff_worker_free(struct handoff *);
/*
 * Worker, after fork: a handle that only passes connections to the slots
 * of another generation's mesh (handoff_send), for sessions owned by the
 * workers that drain after a reload.  Free with handoff_worker_free.
 */
struct handoff		*handoff_sender_new(struct handoff_mesh *);

/*
 * Pass fd with bytes[0..len) to the worker of slot; peer names the client
 * when fd is one end of a relay (a TLS connection the caller decrypts),
 * NULL when fd is the client's own socket.  On success (0) fd
 * is closed here (the other worker owns the connection now); on failure
 * (-1: bad slot, len over HANDOFF_BYTES_MAX, the peer's queue is full or
 * gone) fd is left to the caller, who should answer the client (503).
 */
int			 handoff_send(struct handoff *, int slot, int fd,
			    const char *peer, const void *bytes, size_t len);

/*
 * Send msg to every other worker of the generation.  Returns the number
 * of workers it was queued for; a peer whose queue is over BUS_QUEUE_MAX
 * is skipped and logged (it is stuck and would only grow our memory).
 * -1 when len is 0 or over BUS_MSG_MAX.  msg is copied if it must wait.
 */
int			 bus_publish(struct handoff *, const void *msg, size_t len);

/* The number of slots of the generation and our own. */
int			 handoff_slots(const struct handoff *);
int			 handoff_slot(const struct handoff *);

/*
 * For tests, which run every worker of a mesh in one process.
 *
 * handoff_worker_attach is handoff_worker_new without closing anything:
 * the worker works on duplicates of its slot's descriptors and the mesh
 * keeps all of its own, as the master does for a generation.
 * bus_set_queue_max replaces BUS_QUEUE_MAX for one worker.  The two fd
 * functions return the mesh's descriptors, to write malformed datagrams:
 * the end others write to reach slot, and slot's end of its bus link to
 * peer (-1 when there is none).
 */
struct handoff		*handoff_worker_attach(struct handoff_mesh *, int slot,
			    struct event_base *, const struct handoff_cbs *, void *arg);
void			 bus_set_queue_max(struct handoff *, size_t);
int			 handoff_mesh_chan_fd(const struct handoff_mesh *, int slot);
/* The number of slots of a mesh. */
int			 handoff_mesh_slots(const struct handoff_mesh *);
int			 handoff_mesh_bus_fd(const struct handoff_mesh *, int slot,
			    int peer);

#endif
