/*
 * room.h: rooms of a namespace and delivery to many sockets.
 *
 * A room is a name and the set of sockets of one namespace in it; rooms
 * exist while they have members.  room_deliver is the one entry point for
 * sending a message to several sockets (a room, or the whole namespace):
 * the message is encoded once by the caller and shared by reference.
 * Today it delivers to the sockets of this worker; routing to other
 * workers and machines (Redis pub/sub) plugs in behind it.
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

struct room_table	*room_table_new(void);
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
 * Delivery beyond this worker.  When a publisher is set, room_deliver
 * also encodes every room emit and broadcast once (namespace, room,
 * message and attachments) and hands the bytes to it; the receiving
 * worker passes them to room_remote_deliver, which delivers to its own
 * sockets only, so each recipient gets the message exactly once.
 */
void			 room_set_publisher(void (*)(void *arg, const void *, size_t),
			    void *arg);
/* Deliver an encoded message from another worker; -1 when malformed. */
int			 room_remote_deliver(struct nsp_registry *, const void *, size_t);

#endif
