/*
 * ws_frame.h: the WebSocket protocol (RFC 6455), server side, without I/O.
 *
 * Three parts:
 *
 *  - ws_accept_key: the Sec-WebSocket-Accept value of the opening
 *    handshake.
 *  - struct ws_parser: an incremental parser of the frames a client sends.
 *    It is fed whatever bytes have arrived (from memory or straight from
 *    an evbuffer) and reports one event per call: a complete data message,
 *    a ping, a pong, a close, or a protocol error together with the close
 *    code to answer with.  It enforces everything RFC 6455 asks of a
 *    server that negotiated no extension: masking, minimal lengths,
 *    fragmentation rules, control frame limits, UTF-8 in text messages and
 *    close reasons, valid close codes, and a message size limit.
 *  - Encoders of the unmasked frames a server sends, and of masked client
 *    frames for tests and the load generator.
 *
 * Memory: a ws_parser keeps the message being reassembled in a buffer it
 * allocates (with xmalloc, so never more than max_payload bytes, and only
 * as payload actually arrives: a frame that merely declares a large size
 * costs nothing) and control frame payloads in a fixed array inside the
 * struct.  The declared length of every frame, and the running size of a
 * fragmented message, are checked against max_payload before a byte of its
 * payload is stored.
 *
 * Lifetimes: the data and reason pointers of a struct ws_event point into
 * the parser and stay valid until the next call of any ws_parser_*
 * function on that parser.  The error text (we_error) is a static string.
 */
#ifndef RAIND_WS_FRAME_H
#define RAIND_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

/* Opcodes (RFC 6455 section 5.2). */
#define WS_OP_CONT		0x0
#define WS_OP_TEXT		0x1
#define WS_OP_BINARY		0x2
#define WS_OP_CLOSE		0x8
#define WS_OP_PING		0x9
#define WS_OP_PONG		0xa

/* Close codes (RFC 6455 section 7.4.1). */
#define WS_CLOSE_NORMAL			1000
#define WS_CLOSE_GOING_AWAY		1001
#define WS_CLOSE_PROTOCOL_ERROR		1002
#define WS_CLOSE_UNSUPPORTED		1003
#define WS_CLOSE_NO_STATUS		1005	/* never sent: close without a code */
#define WS_CLOSE_ABNORMAL		1006	/* never sent: connection lost */
#define WS_CLOSE_INVALID_PAYLOAD	1007
#define WS_CLOSE_POLICY			1008
#define WS_CLOSE_TOO_BIG		1009
#define WS_CLOSE_INTERNAL		1011

/* Frame layout limits. */
#define WS_HEADER_MAX		14	/* 2 + 8 (64-bit length) + 4 (mask key) */
#define WS_SERVER_HEADER_MAX	10	/* unmasked: 2 + 8 */
#define WS_CONTROL_MAX		125	/* payload of a control frame */
#define WS_CLOSE_REASON_MAX	(WS_CONTROL_MAX - 2)	/* after the 2-byte code */
#define WS_MASK_LEN		4

/* The opening handshake (RFC 6455 section 4.2). */
#define WS_KEY_LEN		24	/* base64 of a 16-byte nonce */
#define WS_ACCEPT_LEN		28	/* base64 of a SHA-1 digest */
#define WS_GUID			"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_VERSION		13	/* Sec-WebSocket-Version */

/*
 * Compute the Sec-WebSocket-Accept value for the client's
 * Sec-WebSocket-Key (key, len; blanks already trimmed) into out, NUL
 * terminated.  Returns 0, or -1 when the key is not 22 base64 characters
 * followed by "==", i.e. not the encoding of a 16-byte nonce.
 */
int	ws_accept_key(const char *key, size_t len, char out[WS_ACCEPT_LEN + 1]);

/*
 * Incremental UTF-8 validation (Unicode table 3-7: no overlong forms, no
 * surrogates, nothing above U+10FFFF).  Feed a text in any number of
 * pieces, split anywhere; the state carries a partial sequence across.
 */
struct ws_utf8 {
	uint8_t	wu_need;	/* continuation bytes expected, or WS_UTF8_BAD */
	uint8_t	wu_lo;		/* range allowed for the next continuation byte */
	uint8_t	wu_hi;
};
#define WS_UTF8_BAD		0xff

void	ws_utf8_init(struct ws_utf8 *);
/*
 * 0 while the bytes seen so far can begin valid UTF-8, -1 once they
 * cannot (and from then on).
 */
int	ws_utf8_validate(struct ws_utf8 *, const void *buf, size_t len);
/* 1 when the text seen so far is valid UTF-8, not cut inside a character. */
int	ws_utf8_complete(const struct ws_utf8 *);

/* May code be sent in a close frame?  1000-1003, 1007-1014, 3000-4999. */
int	ws_close_code_valid(int code);

/* What one call of the parser produced. */
enum ws_event_type {
	WS_EV_MORE = 0,		/* all input consumed, no event yet */
	WS_EV_MESSAGE,		/* a complete text or binary message */
	WS_EV_PING,
	WS_EV_PONG,
	WS_EV_CLOSE,		/* a valid close frame; the peer wants to close */
	WS_EV_ERROR		/* protocol violation: close with we_code */
};

struct ws_event {
	enum ws_event_type	 we_type;
	int			 we_opcode;	/* MESSAGE: WS_OP_TEXT or WS_OP_BINARY */
	const unsigned char	*we_data;	/* MESSAGE, PING, PONG, CLOSE: payload */
	size_t			 we_len;
	/*
	 * CLOSE: the code received (WS_CLOSE_NO_STATUS for an empty close
	 * frame).  ERROR: the code to send in our close frame.
	 */
	int			 we_code;
	const char		*we_reason;	/* CLOSE: valid UTF-8, NUL terminated */
	size_t			 we_reason_len;
	const char		*we_error;	/* ERROR: static text for the log */
};

/*
 * Parser state, one per connection.  The fields are private; they are
 * visible only so that a connection can embed the struct.  Every idle
 * websocket holds one, so lengths are 32 bits (messages are bounded by
 * WS_PAYLOAD_MAX) and small fields are bytes.
 */
struct ws_parser {
	/*
	 * The data message being reassembled, or after an error (state
	 * WS_ST_ERROR, when the message is gone) the error's static text.
	 */
	union {
		unsigned char	*wp_msg;
		const char	*wp_err;
	};
	/*
	 * Control frame payload, with room for a NUL after a close reason:
	 * WS_CONTROL_MAX + 1 bytes, made for a control frame and freed once
	 * it was delivered (a connection pinging nobody holds none).
	 */
	unsigned char	*wp_ctl;
	uint32_t	 wp_max_payload;	/* of a message, reassembled */
	uint32_t	 wp_msg_len;
	uint32_t	 wp_msg_cap;
	/* The frame being read: a data frame's length is checked before it is stored. */
	uint32_t	 wp_frame_len;
	uint32_t	 wp_frame_got;
	uint16_t	 wp_err_code;		/* after an error, every call repeats it */
	uint8_t		 wp_state;
	uint8_t		 wp_hdr_len;		/* header bytes gathered */
	uint8_t		 wp_hdr_need;		/* header size, once known */
	uint8_t		 wp_fin;
	uint8_t		 wp_opcode;
	uint8_t		 wp_msg_opcode;		/* WS_OP_CONT when none is open */
	uint8_t		 wp_msg_done;		/* delivered: reset on the next call */
	uint8_t		 wp_ctl_done;		/* delivered: freed on the next call */
	struct ws_utf8	 wp_utf8;
	/* The header, its masking key last (read from here for the payload). */
	unsigned char	 wp_hdr[WS_HEADER_MAX];
};

/* The largest max_payload a parser keeps; larger ones are cut to it. */
#define WS_PAYLOAD_MAX		UINT32_MAX

/*
 * Start parsing a connection's frames.  Messages (all fragments together)
 * larger than max_payload bytes are refused with WS_CLOSE_TOO_BIG.
 */
void	ws_parser_init(struct ws_parser *, size_t max_payload);
/* Free the parser's buffer; init again before reuse. */
void	ws_parser_free(struct ws_parser *);

/*
 * Parse buf[0..len).  Stops at the first event: returns its type (also in
 * ev->we_type) with *consumed set to the bytes used up to the end of the
 * frame that produced it; call again with the rest.  WS_EV_MORE means
 * every byte was consumed and more are needed.
 *
 * WS_EV_ERROR is final: every later call returns the same error and
 * consumes nothing.  After WS_EV_CLOSE the peer must not send anything
 * else, so later bytes are consumed and ignored (WS_EV_MORE).  Splitting
 * the input differently never changes the events produced.
 */
enum ws_event_type ws_parser_feed(struct ws_parser *, const void *buf,
	    size_t len, size_t *consumed, struct ws_event *ev);
/*
 * The same, reading from and draining the evbuffer in without
 * linearising it.  Returns WS_EV_MORE once the evbuffer is empty.
 */
enum ws_event_type ws_parser_feed_evbuffer(struct ws_parser *,
	    struct evbuffer *in, struct ws_event *ev);
/* Is a fragmented message open (begun, not finished)? */
int	ws_parser_in_message(const struct ws_parser *);

/*
 * Write the header of an unmasked, final frame of opcode with a payload
 * of len bytes; returns its size (2 to WS_SERVER_HEADER_MAX).  A message
 * sent to many connections is framed once: header plus payload by
 * reference.
 */
size_t	ws_frame_header(unsigned char out[WS_HEADER_MAX], int opcode,
	    uint64_t len);
/* Append a whole unmasked final frame.  0, or -1 when evbuffer fails. */
int	ws_frame_append(struct evbuffer *, int opcode, const void *data,
	    size_t len);
/*
 * Append a close frame: code, then reason (may be NULL), cut to
 * WS_CLOSE_REASON_MAX bytes at a character boundary and left out unless
 * valid UTF-8.  A code that may not be sent (0, WS_CLOSE_NO_STATUS,
 * WS_CLOSE_ABNORMAL, ...) gives an empty close frame.  0, or -1 when
 * evbuffer fails.
 */
int	ws_close_append(struct evbuffer *, int code, const char *reason);
/*
 * Append a masked frame as a client sends it, with or without FIN; for
 * tests and the load generator.  0, or -1 when evbuffer fails.
 */
int	ws_frame_append_masked(struct evbuffer *, int opcode, int fin,
	    const unsigned char mask[WS_MASK_LEN], const void *data, size_t len);

#endif
