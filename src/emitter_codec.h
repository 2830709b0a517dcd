/*
 * emitter_codec.h: the message format of the Socket.IO Redis emitter.
 *
 * Backends publish with the npm package @socket.io/redis-emitter (and the
 * Python, PHP, Go and Java emitters that speak its format) on the channel
 * "<key>#<namespace>#", or "<key>#<namespace>#<room>#" when the message
 * goes to exactly one room.  The message is a MessagePack array
 *
 *	[uid, packet, opts]
 *
 * where packet is a map {type: 2 (EVENT) or 5 (BINARY_EVENT), data:
 * [event, args...], nsp: "/..."} and opts a map {rooms: [...], except:
 * [...], flags: {...}} (opts may be missing).  Binary values (MessagePack
 * bin) become Socket.IO attachments; MessagePack timestamps become the
 * ISO 8601 strings JSON gives a JavaScript Date; nil becomes null.
 *
 * Decoding is done by libmsgpack; this module only checks the shape and
 * turns the data into the JSON text of a Socket.IO packet.  Every size is
 * bounded (below); what is out of bounds or of another shape is refused
 * with a reason.
 *
 * Ownership: a decoded struct emitter_msg owns its strings and
 * attachments until emitter_msg_clear; emitter_msg_steal_attach hands the
 * attachments over.
 */
#ifndef RAIND_EMITTER_CODEC_H
#define RAIND_EMITTER_CODEC_H

#include <stddef.h>

#include <yajl/yajl_tree.h>

struct evbuffer;
struct sio_attachment;

#define EMITTER_KEY_DEFAULT	"socket.io"	/* the emitter's default key */
#define EMITTER_ROOMS_MAX	64	/* rooms, and except rooms, of one message */
#define EMITTER_ROOM_NAME_MAX	256	/* bytes of a room name (room.h's limit) */
#define EMITTER_DEPTH_MAX	32	/* nesting of the data */
#define EMITTER_ERR_MAX		128
#define EMITTER_UID		"raind"	/* the uid of what raind publishes */

struct emitter_msg {
	char			 *em_nsp;
	char			**em_rooms;	/* none: the whole namespace */
	size_t			  em_nrooms;
	char			**em_except;	/* rooms whose members are left out */
	size_t			  em_nexcept;
	/* The data array ([event, args...]) as JSON, binaries as placeholders. */
	char			 *em_json;
	size_t			  em_jsonlen;
	struct sio_attachment	 *em_attach;
	size_t			  em_nattach;
};

/* 0, or -1 with a reason in err (EMITTER_ERR_MAX bytes). */
int	emitter_decode(const void *, size_t, struct emitter_msg *, char *err);
void	emitter_msg_clear(struct emitter_msg *);

/*
 * Append to out the message that sends event with args (a JSON array, or
 * NULL for none) to the sockets of nsp in any of rooms (none: all of the
 * namespace) and in none of except.  0, or -1 with a reason in err.
 */
int	emitter_encode(struct evbuffer *out, const char *nsp,
	    const char *const *rooms, size_t nrooms, const char *const *except,
	    size_t nexcept, const char *event, yajl_val args, char *err);

/*
 * The channel for such a message, to free: "<key>#<nsp>#", with "<room>#"
 * after it when there is exactly one room (where the Node adapters listen).
 */
char	*emitter_channel(const char *key, const char *nsp,
	    const char *const *rooms, size_t nrooms);

#endif
