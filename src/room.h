/*
 * room.h: rooms of a namespace and delivery to many sockets.
 *
 * A room is a name and the set of sockets of one namespace in it; rooms
 * exist while they have members.  room_deliver is the one entry point for
 * sending a message to several sockets (a room, or the whole namespace):
 * the message is encoded once by the caller and shared by reference.
 * It delivers to the sockets of this worker at once, to the other workers
 * of the node over the bus (room_set_publisher), and to the other nodes
 * through Redis pub/sub (room_set_remote), one channel per room and one
 * per namespace.
 *
 * Ownership: the table owns its rooms and memberships; a membership is
 * removed when the socket leaves (room_leave, room_leave_all, which the
 * namespace calls when the socket disconnects).
 */
#ifndef RAIND_ROOM_H
#define RAIND_ROOM_H

#include <sys/queue.h>

#include <stddef.h>

struct nsp_msg;
struct nsp_namespace;
struct nsp_socket;
struct nsp_registry;
struct nsp_job;
struct room;

#define ROOM_NAME_MAX		256	/* bytes in a room name */
#define ROOM_PER_SOCKET_MAX	128	/* rooms one socket may be in */
#define ROOM_BUCKETS_MIN	16	/* initial hash table size */

struct room_member {
	LIST_ENTRY(room_member)	 rm_room_entry;	/* in the room */
	LIST_ENTRY(room_member)	 rm_sock_entry;	/* in the socket */
	struct room		*rm_room;
	struct nsp_socket	*rm_sock;
};
LIST_HEAD(room_memberships, room_member);

struct room_table;
struct room_routing;

/*
 * Each namespace's room table is its adapter, as Socket.IO calls it: its
 * rooms, and the routing beyond this worker that the registry's
 * namespaces share (no state of this module is process-wide).
 */
struct room_routing	*room_routing_new(void);
void			 room_routing_free(struct room_routing *);
struct room_table	*room_table_new(struct room_routing *);
void			 room_table_free(struct room_table *);
/* 0 joined (or already in), -1 bad name or too many rooms. */
int			 room_join(struct room_table *, struct nsp_socket *, const char *);
/* 0 left, -1 not in the room. */
int			 room_leave(struct room_table *, struct nsp_socket *, const char *);
void			 room_leave_all(struct room_table *, struct nsp_socket *);
int			 room_has(struct room_table *, struct nsp_socket *, const char *);
size_t			 room_size(struct room_table *, const char *);
/*
 * Send msg to every socket of room (NULL: every socket of the namespace)
 * except one (NULL: none), exactly once each.  Returns the number of
 * local recipients.
 */
size_t			 room_deliver(struct nsp_namespace *, const char *room,
			    struct nsp_msg *, const struct nsp_socket *except);

/*
 * Send msg to this worker's sockets of nn that are in any of rooms (none:
 * every socket of the namespace) and in none of except, exactly once
 * each; at most ROOM_SET_MAX of either (more: nothing is sent).  For
 * messages every worker receives itself (the emitter's, publish.h), so
 * nothing goes to the bus or to Redis.  Returns the number of recipients.
 */
#define ROOM_SET_MAX		64
size_t			 room_deliver_set(struct nsp_namespace *,
			    const char *const *rooms, size_t nrooms,
			    const char *const *except, size_t nexcept,
			    struct nsp_msg *);
/*
 * Delivery beyond this worker.  When a publisher is set, room_deliver
 * also encodes every room emit and broadcast once (namespace, room,
 * message and attachments) and hands the bytes to it; the receiving
 * worker passes them to room_remote_deliver, which delivers to its own
 * sockets only, so each recipient gets the message exactly once.
 */
void			 room_set_publisher(struct room_routing *,
			    void (*)(void *arg, const void *, size_t), void *arg);
/* Deliver an encoded message from another worker; -1 when malformed. */
int			 room_remote_deliver(struct nsp_registry *, const void *, size_t);

/*
 * Delivery beyond this node, through Redis pub/sub.  Every room emit is
 * published once on the room's channel, every namespace broadcast on the
 * namespace's channel (room_channel), as the bus message behind the tag
 * of the sender's bus.  A worker subscribes to the channel of a room
 * while it has local members in it, and to the channel of a namespace
 * while it has sockets there.  A message carrying its own bus's tag is
 * dropped on receipt, since the bus brought it already; the tag names
 * the node and the generation of its workers (during a reload two
 * generations, each on its own bus, share a node).  So every recipient
 * socket gets a message once: from the sender, from the bus, or from
 * Redis.
 *
 * The ops are called synchronously from room_join, room_leave,
 * room_deliver and room_nsp_changed; channel and msg are valid during the
 * call only.  Set the ops before any socket connects (a worker does it at
 * start); room_set_remote(NULL, ...) turns the routing off.
 */
#define ROOM_BUS_TAG_MAX	32	/* bytes of a bus tag on the wire */
#define ROOM_CHANNEL_ROOM	"r:"	/* <prefix>r:<namespace>:<room> */
#define ROOM_CHANNEL_NSP	"n:"	/* <prefix>n:<namespace> */

struct room_remote_ops {
	void	(*ro_publish)(void *arg, const char *channel, const void *msg,
		    size_t len);
	void	(*ro_subscribe)(void *arg, const char *channel);
	void	(*ro_unsubscribe)(void *arg, const char *channel);
	/* As redis_subscribe_wait: 1 when fn(fnarg) will be called later. */
	int	(*ro_wait)(void *arg, const char *channel, void (*fn)(void *),
		    void *fnarg);
};

/*
 * Hold job until the namespace's channel is subscribed, so that what
 * other nodes broadcast reaches a socket once it is told it connected.
 */
void			 room_nsp_wait(struct nsp_namespace *, struct nsp_job *);
void			 room_set_remote(struct room_routing *,
			    const struct room_remote_ops *, void *arg,
			    const char *prefix, const char *bus_tag);
/*
 * A message from a subscribed channel: 0 delivered to the local sockets
 * (or dropped because our bus brought it), -1 malformed.
 */
int			 room_remote_message(struct nsp_registry *, const void *, size_t);
/*
 * The channel of a room of nsp (room NULL: of the whole namespace), to
 * free.  ':' and '%' in the namespace are escaped (%3A, %25), so the
 * first ':' after the kind separates it from the room: the names of two
 * different rooms never map to one channel.
 */
char			*room_channel(const char *prefix, const char *nsp,
			    const char *room);
/*
 * Called by the namespace layer whenever a socket joins or leaves nn:
 * (un)subscribes the namespace's channel on the first and last socket.
 */
void			 room_nsp_changed(struct nsp_namespace *);

#endif
