/*
 * sio_codec.h: Socket.IO protocol v5 packets (encoding and decoding).
 *
 * A packet is text: <type>[<attachments>-][<nsp>,][<id>][<json>], e.g.
 *	2/chat,12["message","hi"]
 *	51-["upload",{"_placeholder":true,"num":0}]
 * Binary packets (BINARY_EVENT, BINARY_ACK) are followed by their
 * attachments, each in its own Engine.IO binary message; the JSON keeps
 * {"_placeholder":true,"num":N} objects where the buffers go.
 *
 * Ownership: a decoded struct sio_packet owns its nsp string, its parsed
 * data tree and its attachments; sio_packet_clear frees them.  Encoders
 * append to the evbuffer given and keep nothing.
 */
#ifndef RAIND_SIO_CODEC_H
#define RAIND_SIO_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

struct evbuffer;

enum sio_type {
	SIO_CONNECT = 0,
	SIO_DISCONNECT = 1,
	SIO_EVENT = 2,
	SIO_ACK = 3,
	SIO_CONNECT_ERROR = 4,
	SIO_BINARY_EVENT = 5,
	SIO_BINARY_ACK = 6
};

#define SIO_PROTOCOL		5
#define SIO_NSP_MAX		1024	/* longest namespace name accepted */
#define SIO_ATTACHMENTS_MAX	64	/* attachments per packet */
#define SIO_ID_MAX		INT64_C(999999999999999) /* ack id bound */
#define SIO_DEPTH_MAX		64	/* JSON nesting accepted */
#define SIO_ERR_MAX		64	/* room for any reason sio_decode gives */

#define SIO_PLACEHOLDER_KEY	"_placeholder"
#define SIO_PLACEHOLDER_NUM	"num"

struct sio_attachment {
	unsigned char	*sa_data;
	size_t		 sa_len;
};

struct sio_packet {
	enum sio_type		 sp_type;
	char			*sp_nsp;	/* "/" when absent */
	int64_t			 sp_id;		/* ack id, -1 when absent */
	yajl_val		 sp_data;	/* NULL when absent */
	/*
	 * The data as it was sent (NUL-terminated copy), so that arguments
	 * can be passed on byte for byte: the tree cannot hold a string
	 * with "\u0000" in it (yajl's strings are C strings, cut there).
	 */
	char			*sp_raw;
	size_t			 sp_rawlen;
	size_t			 sp_nattach;	/* declared attachments */
	size_t			 sp_nrecv;	/* attachments received so far */
	struct sio_attachment	*sp_attach;	/* sp_nattach slots */
};

/*
 * Decode one text packet.  Returns 0 on success, -1 on a malformed packet
 * with a short reason in err (when err is not NULL; SIO_ERR_MAX bytes hold
 * any reason).  Checks what the Node server checks: a known type,
 * attachments "<n>-" only on binary types and within SIO_ATTACHMENTS_MAX,
 * a namespace within SIO_NSP_MAX (recognised by its leading '/'; no NUL
 * byte), an ack id within SIO_ID_MAX, JSON as JSON.parse takes it (but
 * "\u0000" in a string is refused: the tree holds C strings) nested
 * within SIO_DEPTH_MAX, and the data each type may carry:
 * CONNECT absent or an object; DISCONNECT absent; EVENT and BINARY_EVENT
 * a non-empty array whose first element is a number or a string that is
 * not a reserved event name (sio_event_reserved), as socket.io-parser
 * 4.2 checks; ACK and BINARY_ACK an array; CONNECT_ERROR an object or a
 * string.  A binary packet declaring no attachments is complete at once,
 * so its placeholders are checked here (see sio_add_attachment).
 * Binary packets keep their type; the Node decoder turns them into
 * EVENT and ACK once the attachments are in.  On failure the packet
 * holds nothing to free.
 */
int	sio_decode(const char *buf, size_t len, struct sio_packet *, char *err, size_t errlen);
/*
 * Add the next binary attachment (the bytes are copied; data may be NULL
 * when len is 0); 1 when the packet is now complete, 0 when more are
 * due, -1 when none were expected or when the packet, now complete, has
 * a placeholder that names no attachment (sio_placeholders_check).
 * Either -1 means the client broke the protocol.
 */
int	sio_add_attachment(struct sio_packet *, const void *data, size_t len);
/* Is every declared attachment present? */
int	sio_complete(const struct sio_packet *);
/* Free what the packet owns; it is then empty (sp_id -1). */
void	sio_packet_clear(struct sio_packet *);
/*
 * Find element idx of the JSON array text raw[0..len) (as checked by
 * sio_decode): 0 with *p, *plen set to its text, or -1 when absent.
 */
int	sio_json_element(const char *raw, size_t len, size_t idx,
	    const char **p, size_t *plen);

/* Is name an event name socket.io reserves ("connect", "disconnect", ...)? */
int	sio_event_reserved(const char *name);

/*
 * Is v a placeholder, an object whose "_placeholder" is true?  1 with
 * *num set when its "num" is a non-negative integer, 0 when v is no
 * placeholder, -1 for a placeholder without a usable "num".
 */
int	sio_placeholder(yajl_val v, size_t *num);
/*
 * Walk the packet's data: 0 when every placeholder is well formed and
 * names an attachment below sp_nattach, -1 otherwise.  Placeholders are
 * only meaningful in binary packets; in others they are plain objects.
 */
int	sio_placeholders_check(const struct sio_packet *);

/*
 * Encode the text part of a packet into out.  json is the data as JSON
 * text (NULL for none), nattach the number of attachments (binary types
 * only), id the ack id or -1.  The namespace "/" (and NULL or "") is
 * omitted as the reference implementation does; any other must start
 * with '/' to decode again.
 */
void	sio_encode(struct evbuffer *out, enum sio_type, const char *nsp,
	    int64_t id, const char *json, size_t jsonlen, size_t nattach);
/* Encode a decoded packet again; -1 (out untouched) when its tree cannot be. */
int	sio_packet_encode(struct evbuffer *out, const struct sio_packet *);
/* The server's answer to CONNECT: 0/nsp,{"sid":"..."} ("/" omitted). */
void	sio_encode_connect(struct evbuffer *out, const char *nsp, const char *sid);
/* A refused CONNECT: 4/nsp,{"message":"..."} ("/" omitted). */
void	sio_encode_connect_error(struct evbuffer *out, const char *nsp,
	    const char *message);

/*
 * JSON helpers, so that nothing builds JSON by hand.
 *
 * sio_json_parse parses JSON text with the rules and bounds of sio_decode
 * (NULL with a reason in err when refused); free with yajl_tree_free.
 * sio_json_string appends s as a JSON string: quotes, backslashes and
 * control characters escaped (\n, \u001f, ...), other bytes unchanged,
 * so s should be UTF-8.  sio_json_gen returns a yajl generator writing
 * into out, for building larger values; free it with yajl_gen_free.
 * sio_json_gen_value writes a tree to a generator and sio_json_value to
 * a buffer (out untouched on failure); -1 when the tree cannot be
 * written.  sio_json_equal compares two trees (recursively: trees from
 * sio_json_parse or sio_decode, whose depth is bounded): same structure,
 * same member order, numbers by their text.
 */
yajl_val	sio_json_parse(const char *, size_t, char *err, size_t errlen);
void		sio_json_string(struct evbuffer *, const char *s, size_t len);
yajl_gen	sio_json_gen(struct evbuffer *out);
int		sio_json_gen_value(yajl_gen, yajl_val);
int		sio_json_value(struct evbuffer *out, yajl_val);
int		sio_json_equal(yajl_val, yajl_val);

#endif
