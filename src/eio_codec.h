/*
 * eio_codec.h: Engine.IO protocol v4 packets and polling payloads.
 *
 * A packet is one type digit followed by its data: "4hello", "2probe".
 * Over websocket a text frame is one packet and a binary frame is one
 * binary message (no type byte).  Over polling a payload concatenates
 * packets separated by the record separator 0x1e; a binary message is
 * "b" followed by its base64 encoding.
 *
 * Ownership: decoded packets point into the buffer given, except binary
 * data from base64, which is written into scratch memory: the caller's
 * (eio_packet_decode_base64) or the decoder's own, valid only during the
 * callback (eio_payload_decode).  Nothing here keeps a pointer after
 * returning.
 */
#ifndef RAIND_EIO_CODEC_H
#define RAIND_EIO_CODEC_H

#include <stddef.h>

struct evbuffer;

enum eio_type {
	EIO_OPEN = 0,
	EIO_CLOSE = 1,
	EIO_PING = 2,
	EIO_PONG = 3,
	EIO_MESSAGE = 4,
	EIO_UPGRADE = 5,
	EIO_NOOP = 6
};

#define EIO_PROTOCOL		4
#define EIO_RECORD_SEP		'\x1e'
#define EIO_BINARY_PREFIX	'b'	/* "b<base64>": a binary message as text */
#define EIO_PAYLOAD_PACKETS_MAX	4096	/* packets per polling payload */

struct eio_packet {
	enum eio_type	 ep_type;	/* EIO_MESSAGE for binary */
	int		 ep_binary;
	const void	*ep_data;
	size_t		 ep_len;
};

/*
 * Decode one text packet (a websocket text frame): a type digit 0..6 and
 * any data.  0, or -1 when malformed (empty, or an unknown type, "b"
 * included).
 */
int	eio_packet_decode(const char *buf, size_t len, struct eio_packet *);
/*
 * The same, but "b<base64>" is accepted too and decoded into scratch,
 * which must hold base64_decoded_max(len) bytes.  The reference client
 * sends binary this way over websocket when forceBase64 is set.
 */
int	eio_packet_decode_base64(const char *buf, size_t len,
	    unsigned char *scratch, struct eio_packet *);

/*
 * Split a polling payload and call fn for each packet in order.  Binary
 * packets ("b<base64>") are decoded into scratch memory (one allocation
 * per call, bounded by len) which is valid only during the call of fn.
 * The whole payload is checked first: when any record is malformed (bad
 * type, bad base64, empty record; so an empty payload too) or there are
 * more than EIO_PAYLOAD_PACKETS_MAX, -1 is returned and fn is never
 * called.  Returns -1 as soon as fn returns -1, 0 otherwise.
 */
int	eio_payload_decode(const char *buf, size_t len,
	    int (*fn)(const struct eio_packet *, void *), void *arg);

/*
 * Append one packet as polling payload record (type digit and data, or
 * "b" and base64 for binary), with a leading separator when sep.  Text
 * data must not contain EIO_RECORD_SEP, which the reference does not
 * escape either; JSON text from sio_codec never does.
 */
void	eio_payload_append(struct evbuffer *out, int sep, const struct eio_packet *);
/* Append one text packet: type digit then data (type 0..6, else fatal). */
void	eio_packet_encode(struct evbuffer *out, enum eio_type, const void *data, size_t len);

/* Standard base64 (RFC 4648 alphabet, with padding), as Engine.IO uses. */
size_t	base64_encoded_len(size_t);
/* Bytes enough to decode len characters of base64. */
size_t	base64_decoded_max(size_t len);
void	base64_encode(const void *, size_t, char *out);	/* out: encoded_len + 1 */
/*
 * Decode standard base64 into out (base64_decoded_max(len) bytes).
 * Padding is optional but, when present, must complete the last group of
 * four; any other character (whitespace, the URL-safe "-_") is invalid.
 * 0 with *outlen set, or -1 when invalid.
 */
int	base64_decode(const char *, size_t, unsigned char *out, size_t *outlen);

#endif
