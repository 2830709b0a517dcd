/*
 * ws_frame.c: the WebSocket protocol codec.  See ws_frame.h.
 *
 * The parser is a byte-driven state machine.  Every check is made as soon
 * as the bytes it depends on are present, and never depends on how the
 * input was split, so feeding a stream one byte at a time gives exactly
 * the events of feeding it whole.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <openssl/evp.h>

#include "xmalloc.h"
#include "ws_frame.h"

/* Bits of the first two header bytes (RFC 6455 section 5.2). */
#define WS_FIN			0x80
#define WS_RSV_MASK		0x70
#define WS_OPCODE_MASK		0x0f
#define WS_OP_CONTROL		0x08	/* opcodes 0x8-0xf are control frames */
#define WS_MASKED		0x80
#define WS_LEN7_MASK		0x7f
#define WS_LEN7_MAX		125	/* largest length in the 7-bit field */
#define WS_LEN7_16		126	/* a 16-bit length follows */
#define WS_LEN7_64		127	/* a 64-bit length follows */
#define WS_LEN16_MAX		0xffff
#define WS_LEN64_MSB		(UINT64_C(1) << 63)
#define WS_HDR_BASE		2	/* the two fixed bytes */
#define WS_CLOSE_CODE_LEN	2

#define WS_SHA1_LEN		20
#define WS_KEY_NONCE_CHARS	22	/* base64 of 16 bytes, before "==" */

/*
 * The reassembly buffer starts at WS_BUF_MIN and doubles as payload
 * arrives.  It is freed once its message has been delivered, so a
 * connection with nothing in flight holds no buffer.
 */
#define WS_BUF_MIN		256

enum ws_state {
	WS_ST_HEADER = 0,
	WS_ST_PAYLOAD,
	WS_ST_CLOSED,		/* a close frame was received */
	WS_ST_ERROR
};

int
ws_accept_key(const char *key, size_t len, char out[WS_ACCEPT_LEN + 1])
{
	unsigned char	 buf[WS_KEY_LEN + sizeof(WS_GUID) - 1];
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen;
	size_t		 i;
	int		 c;

	/*
	 * Sixteen bytes always encode as 22 characters and "==".  Like the
	 * reference servers, the unused low bits of the last character are
	 * not checked: every such key decodes to 16 bytes.
	 */
	if (len != WS_KEY_LEN || key[WS_KEY_NONCE_CHARS] != '=' ||
	    key[WS_KEY_NONCE_CHARS + 1] != '=')
		return (-1);
	for (i = 0; i < WS_KEY_NONCE_CHARS; i++) {
		c = (unsigned char)key[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return (-1);
	}
	memcpy(buf, key, WS_KEY_LEN);
	memcpy(buf + WS_KEY_LEN, WS_GUID, sizeof(WS_GUID) - 1);
	if (EVP_Digest(buf, sizeof(buf), md, &mdlen, EVP_sha1(), NULL) != 1 ||
	    mdlen != WS_SHA1_LEN)
		return (-1);
	if (EVP_EncodeBlock((unsigned char *)out, md, WS_SHA1_LEN) !=
	    WS_ACCEPT_LEN)
		return (-1);
	return (0);
}

void
ws_utf8_init(struct ws_utf8 *u)
{
	u->wu_need = 0;
	u->wu_lo = 0x80;
	u->wu_hi = 0xbf;
}

/*
 * The lead byte fixes how many continuation bytes follow and the range of
 * the first of them; that range is what excludes overlong forms (E0, F0),
 * surrogates (ED) and code points above U+10FFFF (F4).  Later continuation
 * bytes are always 80-BF.
 */
int
ws_utf8_validate(struct ws_utf8 *u, const void *buf, size_t len)
{
	const unsigned char	*s = buf;
	size_t			 i = 0;
	uint64_t		 w;
	uint8_t			 need, lo, hi, c;

	need = u->wu_need;
	lo = u->wu_lo;
	hi = u->wu_hi;
	if (need == WS_UTF8_BAD)
		return (-1);
	while (i < len) {
		c = s[i++];
		if (need > 0) {
			if (c < lo || c > hi)
				goto bad;
			need--;
			lo = 0x80;
			hi = 0xbf;
			continue;
		}
		if (c < 0x80) {
			/* Skip runs of ASCII a word at a time. */
			while (len - i >= sizeof(w)) {
				memcpy(&w, s + i, sizeof(w));
				if (w & UINT64_C(0x8080808080808080))
					break;
				i += sizeof(w);
			}
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3;
		else
			goto bad;	/* continuation, C0, C1, F5-FF */
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		else if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	}
	u->wu_need = need;
	u->wu_lo = lo;
	u->wu_hi = hi;
	return (0);
bad:
	u->wu_need = WS_UTF8_BAD;
	return (-1);
}

int
ws_utf8_complete(const struct ws_utf8 *u)
{
	return (u->wu_need == 0);
}

int
ws_close_code_valid(int code)
{
	/*
	 * 1004 is reserved, 1005, 1006 and 1015 must never be sent, 1016-2999
	 * are unassigned, 3000-4999 belong to libraries and applications.
	 */
	return ((code >= 1000 && code <= 1003) ||
	    (code >= 1007 && code <= 1014) ||
	    (code >= 3000 && code <= 4999));
}

/*
 * Copy n bytes from src to dst XORing them with the mask key, starting at
 * key position phase (the payload offset of src[0]).  Used both ways:
 * masking is its own inverse.  dst and src may be equal.
 */
static void
ws_mask_copy(unsigned char *dst, const unsigned char *src, size_t n,
    const unsigned char *key, size_t phase)
{
	unsigned char	m[sizeof(uint64_t)];
	uint64_t	mw, w;
	size_t		i;

	for (i = 0; i < sizeof(m); i++)
		m[i] = key[(phase + i) % WS_MASK_LEN];
	memcpy(&mw, m, sizeof(mw));
	for (i = 0; n - i >= sizeof(w); i += sizeof(w)) {
		memcpy(&w, src + i, sizeof(w));
		w ^= mw;
		memcpy(dst + i, &w, sizeof(w));
	}
	/* The word length is a multiple of the key length. */
	for (; i < n; i++)
		dst[i] = src[i] ^ m[i % sizeof(m)];
}

void
ws_parser_init(struct ws_parser *p, size_t max_payload)
{
	memset(p, 0, sizeof(*p));
	p->wp_max_payload = max_payload < WS_PAYLOAD_MAX ?
	    (uint32_t)max_payload : WS_PAYLOAD_MAX;
	p->wp_state = WS_ST_HEADER;
	p->wp_hdr_need = WS_HDR_BASE;
	p->wp_msg_opcode = WS_OP_CONT;
	ws_utf8_init(&p->wp_utf8);
}

/* The reassembly buffer goes (the message was delivered, or all is over). */
static void
ws_parser_msg_free(struct ws_parser *p)
{
	free(p->wp_msg);
	p->wp_msg = NULL;
	p->wp_msg_len = p->wp_msg_cap = 0;
}

void
ws_parser_free(struct ws_parser *p)
{
	/* After an error the message was freed and the slot is wp_err. */
	if (p->wp_state != WS_ST_ERROR)
		ws_parser_msg_free(p);
	free(p->wp_ctl);
	p->wp_ctl = NULL;
}

int
ws_parser_in_message(const struct ws_parser *p)
{
	return (p->wp_msg_opcode != WS_OP_CONT);
}

static enum ws_event_type
ws_parser_error(struct ws_parser *p, struct ws_event *ev, int code,
    const char *why)
{
	/*
	 * Nothing of the message is wanted any more: its buffer goes, and
	 * its slot keeps why (wp_msg_len still says how much had arrived).
	 */
	if (p->wp_state != WS_ST_ERROR) {
		free(p->wp_msg);
		p->wp_msg_cap = 0;
	}
	p->wp_state = WS_ST_ERROR;
	p->wp_err_code = (uint16_t)code;
	p->wp_err = why;
	memset(ev, 0, sizeof(*ev));
	ev->we_type = WS_EV_ERROR;
	ev->we_code = code;
	ev->we_error = why;
	return (WS_EV_ERROR);
}

/* Checks on the first header byte: flags and opcode. */
static enum ws_event_type
ws_parser_byte0(struct ws_parser *p, struct ws_event *ev)
{
	unsigned char	b = p->wp_hdr[0];
	int		op = b & WS_OPCODE_MASK;

	p->wp_fin = (b & WS_FIN) != 0;
	p->wp_opcode = op;
	if (b & WS_RSV_MASK)
		return (ws_parser_error(p, ev, WS_CLOSE_PROTOCOL_ERROR,
		    "reserved bits set without an extension"));
	switch (op) {
	case WS_OP_CONT:
		if (p->wp_msg_opcode == WS_OP_CONT)
			return (ws_parser_error(p, ev, WS_CLOSE_PROTOCOL_ERROR,
			    "continuation frame outside a message"));
		break;
	case WS_OP_TEXT:
	case WS_OP_BINARY:
		if (p->wp_msg_opcode != WS_OP_CONT)
			return (ws_parser_error(p, ev, WS_CLOSE_PROTOCOL_ERROR,
			    "new message inside a fragmented message"));
		break;
	case WS_OP_CLOSE:
	case WS_OP_PING:
	case WS_OP_PONG:
		if (!p->wp_fin)
			return (ws_parser_error(p, ev, WS_CLOSE_PROTOCOL_ERROR,
			    "fragmented control frame"));
		break;
	default:
		return (ws_parser_error(p, ev, WS_CLOSE_PROTOCOL_ERROR,
		    "unknown opcode"));
	}
	return (WS_EV_MORE);
}

/* Checks on the second header byte: masking and the 7-bit length. */
static enum ws_event_type
ws_parser_byte1(struct ws_parser *p, struct ws_event *ev)
{
	unsigned char	b = p->wp_hdr[1];
	unsigned int	len7 = b & WS_LEN7_MASK;

	if (!(b & WS_MASKED))
		return (ws_parser_error(p, ev, WS_CLOSE_PROTOCOL_ERROR,
		    "unmasked client frame"));
	if ((p->wp_opcode & WS_OP_CONTROL) && len7 > WS_CONTROL_MAX)
		return (ws_parser_error(p, ev, WS_CLOSE_PROTOCOL_ERROR,
		    "control frame longer than 125 bytes"));
	if (len7 == WS_LEN7_16)
		p->wp_hdr_need = WS_HDR_BASE + 2 + WS_MASK_LEN;
	else if (len7 == WS_LEN7_64)
		p->wp_hdr_need = WS_HDR_BASE + 8 + WS_MASK_LEN;
	else
		p->wp_hdr_need = WS_HDR_BASE + WS_MASK_LEN;
	p->wp_frame_len = len7;
	return (WS_EV_MORE);
}

/*
 * Checks on the complete length, before any payload is stored: minimal
 * encoding, and the size limit for the message as reassembled so far.
 */
static enum ws_event_type
ws_parser_length(struct ws_parser *p, struct ws_event *ev)
{
	const unsigned char	*h = p->wp_hdr + WS_HDR_BASE;
	uint64_t		 len;
	int			 i;

	switch (p->wp_hdr[1] & WS_LEN7_MASK) {
	case WS_LEN7_16:
		len = (uint64_t)h[0] << 8 | h[1];
		if (len <= WS_LEN7_MAX)
			return (ws_parser_error(p, ev, WS_CLOSE_PROTOCOL_ERROR,
			    "16-bit length not minimal"));
		break;
	case WS_LEN7_64:
		for (len = 0, i = 0; i < 8; i++)
			len = len << 8 | h[i];
		if (len & WS_LEN64_MSB)
			return (ws_parser_error(p, ev, WS_CLOSE_PROTOCOL_ERROR,
			    "64-bit length with the high bit set"));
		if (len <= WS_LEN16_MAX)
			return (ws_parser_error(p, ev, WS_CLOSE_PROTOCOL_ERROR,
			    "64-bit length not minimal"));
		break;
	default:
		len = p->wp_frame_len;
		break;
	}
	/* Control frames go to wp_ctl, bounded by byte1's check. */
	if (!(p->wp_opcode & WS_OP_CONTROL) &&
	    len > p->wp_max_payload - p->wp_msg_len)
		return (ws_parser_error(p, ev, WS_CLOSE_TOO_BIG,
		    "message larger than the limit"));
	/* Within wp_max_payload (or 125 bytes): it fits 32 bits. */
	p->wp_frame_len = (uint32_t)len;
	return (WS_EV_MORE);
}

/*
 * Gather header bytes from buf[*off..len), checking each part as soon as
 * it is complete.  On return the header is complete (state PAYLOAD), or
 * all input was used, or there was an error.
 */
static enum ws_event_type
ws_parser_header(struct ws_parser *p, const unsigned char *buf, size_t len,
    size_t *off, struct ws_event *ev)
{
	enum ws_event_type	r = WS_EV_MORE;

	while (p->wp_hdr_len < p->wp_hdr_need && *off < len) {
		p->wp_hdr[p->wp_hdr_len++] = buf[(*off)++];
		if (p->wp_hdr_len == 1)
			r = ws_parser_byte0(p, ev);
		else if (p->wp_hdr_len == WS_HDR_BASE) {
			r = ws_parser_byte1(p, ev);
			if (r == WS_EV_MORE &&
			    p->wp_hdr_need == WS_HDR_BASE + WS_MASK_LEN)
				r = ws_parser_length(p, ev);
		} else if (p->wp_hdr_len + WS_MASK_LEN == p->wp_hdr_need)
			r = ws_parser_length(p, ev);	/* extended length read */
		if (r != WS_EV_MORE)
			return (r);
	}
	if (p->wp_hdr_len < p->wp_hdr_need)
		return (WS_EV_MORE);

	p->wp_frame_got = 0;
	if ((p->wp_opcode & WS_OP_CONTROL) && p->wp_ctl == NULL)
		p->wp_ctl = xmalloc(WS_CONTROL_MAX + 1);
	if (p->wp_opcode == WS_OP_TEXT || p->wp_opcode == WS_OP_BINARY) {
		p->wp_msg_opcode = p->wp_opcode;
		ws_utf8_init(&p->wp_utf8);
	}
	p->wp_state = WS_ST_PAYLOAD;
	return (WS_EV_MORE);
}

/* Make room for need bytes of message; need <= wp_max_payload. */
static void
ws_parser_reserve(struct ws_parser *p, size_t need)
{
	size_t	cap;

	if (need <= p->wp_msg_cap)
		return;
	cap = p->wp_msg_cap < WS_BUF_MIN ? WS_BUF_MIN : p->wp_msg_cap;
	while (cap < need && cap <= SIZE_MAX / 2)
		cap *= 2;
	if (cap < need || cap > p->wp_max_payload)
		cap = need > p->wp_max_payload ? need : p->wp_max_payload;
	p->wp_msg = xreallocarray(p->wp_msg, cap, 1);
	p->wp_msg_cap = (uint32_t)cap;	/* at most wp_max_payload */
}

/* Unmask and store n bytes of payload; n fits in what the frame declared. */
static enum ws_event_type
ws_parser_payload(struct ws_parser *p, const unsigned char *src, size_t n,
    struct ws_event *ev)
{
	unsigned char	*dst;

	if (p->wp_opcode & WS_OP_CONTROL)
		dst = p->wp_ctl + p->wp_frame_got;
	else {
		ws_parser_reserve(p, p->wp_msg_len + n);
		dst = p->wp_msg + p->wp_msg_len;
	}
	/* The masking key ends the header, kept until the frame is over. */
	ws_mask_copy(dst, src, n, p->wp_hdr + p->wp_hdr_need - WS_MASK_LEN,
	    p->wp_frame_got % WS_MASK_LEN);
	p->wp_frame_got += (uint32_t)n;
	if (p->wp_opcode & WS_OP_CONTROL)
		return (WS_EV_MORE);
	p->wp_msg_len += (uint32_t)n;
	/* Fail fast, as RFC 6455 section 8.1 allows. */
	if (p->wp_msg_opcode == WS_OP_TEXT &&
	    ws_utf8_validate(&p->wp_utf8, dst, n) == -1)
		return (ws_parser_error(p, ev, WS_CLOSE_INVALID_PAYLOAD,
		    "invalid UTF-8 in a text message"));
	return (WS_EV_MORE);
}

static enum ws_event_type
ws_parser_close(struct ws_parser *p, struct ws_event *ev)
{
	struct ws_utf8	u;
	size_t		len = p->wp_frame_len;

	if (len == 1)
		return (ws_parser_error(p, ev, WS_CLOSE_PROTOCOL_ERROR,
		    "close frame with a 1-byte payload"));
	ev->we_code = WS_CLOSE_NO_STATUS;
	ev->we_reason = (const char *)p->wp_ctl + len;
	if (len >= WS_CLOSE_CODE_LEN) {
		ev->we_code = p->wp_ctl[0] << 8 | p->wp_ctl[1];
		if (!ws_close_code_valid(ev->we_code))
			return (ws_parser_error(p, ev, WS_CLOSE_PROTOCOL_ERROR,
			    "invalid close code"));
		ev->we_reason = (const char *)p->wp_ctl + WS_CLOSE_CODE_LEN;
		ev->we_reason_len = len - WS_CLOSE_CODE_LEN;
		ws_utf8_init(&u);
		if (ws_utf8_validate(&u, ev->we_reason, ev->we_reason_len) ==
		    -1 || !ws_utf8_complete(&u))
			return (ws_parser_error(p, ev,
			    WS_CLOSE_INVALID_PAYLOAD,
			    "invalid UTF-8 in a close reason"));
	}
	p->wp_ctl[len] = '\0';
	p->wp_state = WS_ST_CLOSED;
	return (WS_EV_CLOSE);
}

/* A frame's payload is complete: deliver what it finished. */
static enum ws_event_type
ws_parser_frame_end(struct ws_parser *p, struct ws_event *ev)
{
	p->wp_state = WS_ST_HEADER;
	p->wp_hdr_len = 0;
	p->wp_hdr_need = WS_HDR_BASE;

	if (p->wp_opcode & WS_OP_CONTROL) {
		p->wp_ctl_done = 1;
		ev->we_opcode = p->wp_opcode;
		ev->we_data = p->wp_ctl;
		ev->we_len = p->wp_frame_len;
		switch (p->wp_opcode) {
		case WS_OP_PING:
			return (WS_EV_PING);
		case WS_OP_PONG:
			return (WS_EV_PONG);
		default:
			return (ws_parser_close(p, ev));
		}
	}
	if (!p->wp_fin)
		return (WS_EV_MORE);
	if (p->wp_msg_opcode == WS_OP_TEXT && !ws_utf8_complete(&p->wp_utf8))
		return (ws_parser_error(p, ev, WS_CLOSE_INVALID_PAYLOAD,
		    "text message ends inside a UTF-8 sequence"));
	ev->we_opcode = p->wp_msg_opcode;
	ev->we_data = p->wp_msg != NULL ? p->wp_msg : (const unsigned char *)"";
	ev->we_len = p->wp_msg_len;
	p->wp_msg_opcode = WS_OP_CONT;
	p->wp_msg_done = 1;
	return (WS_EV_MESSAGE);
}

enum ws_event_type
ws_parser_feed(struct ws_parser *p, const void *buf, size_t len,
    size_t *consumed, struct ws_event *ev)
{
	const unsigned char	*b = buf;
	size_t			 off = 0, n;
	uint64_t		 left;
	enum ws_event_type	 r = WS_EV_MORE;

	memset(ev, 0, sizeof(*ev));
	*consumed = 0;
	if (p->wp_state == WS_ST_ERROR) {
		ev->we_type = WS_EV_ERROR;
		ev->we_code = p->wp_err_code;
		ev->we_error = p->wp_err;
		return (WS_EV_ERROR);
	}
	/* The last control frame's pointers have expired too. */
	if (p->wp_ctl_done && p->wp_state != WS_ST_CLOSED) {
		p->wp_ctl_done = 0;
		free(p->wp_ctl);
		p->wp_ctl = NULL;
	}
	/* The last message's pointer has expired: drop its buffer. */
	if (p->wp_msg_done) {
		p->wp_msg_done = 0;
		p->wp_msg_len = 0;
		ws_parser_msg_free(p);
	}
	if (p->wp_state == WS_ST_CLOSED) {
		*consumed = len;
		return (WS_EV_MORE);
	}

	for (;;) {
		if (p->wp_state == WS_ST_HEADER) {
			if (off == len)
				break;
			r = ws_parser_header(p, b, len, &off, ev);
			if (r != WS_EV_MORE)
				goto done;
			if (p->wp_state == WS_ST_HEADER)
				break;
		}
		left = p->wp_frame_len - p->wp_frame_got;
		if (left > 0) {
			if (off == len)
				break;
			n = len - off < left ? len - off : (size_t)left;
			r = ws_parser_payload(p, b + off, n, ev);
			off += n;
			if (r != WS_EV_MORE)
				goto done;
			if (p->wp_frame_got < p->wp_frame_len)
				break;
		}
		r = ws_parser_frame_end(p, ev);
		if (r != WS_EV_MORE)
			goto done;
	}
	*consumed = off;
	return (WS_EV_MORE);
done:
	*consumed = off;
	ev->we_type = r;
	return (r);
}

enum ws_event_type
ws_parser_feed_evbuffer(struct ws_parser *p, struct evbuffer *in,
    struct ws_event *ev)
{
	struct evbuffer_iovec	v;
	size_t			used;
	enum ws_event_type	r;

	/* Chunk by chunk, so a large message is never linearised twice. */
	for (;;) {
		if (evbuffer_get_length(in) == 0 ||
		    evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			return (ws_parser_feed(p, NULL, 0, &used, ev));
		r = ws_parser_feed(p, v.iov_base, v.iov_len, &used, ev);
		if (used > 0 && evbuffer_drain(in, used) == -1)
			return (ws_parser_error(p, ev, WS_CLOSE_INTERNAL,
			    "evbuffer_drain failed"));
		if (r != WS_EV_MORE || used == 0)
			return (r);
	}
}

/* Header of a frame with FIN as given, masked when key is not NULL. */
static size_t
ws_header_build(unsigned char *out, int opcode, int fin,
    const unsigned char *key, uint64_t len)
{
	size_t	n, i;

	out[0] = (fin ? WS_FIN : 0) | (opcode & WS_OPCODE_MASK);
	if (len <= WS_LEN7_MAX) {
		out[1] = (unsigned char)len;
		n = WS_HDR_BASE;
	} else if (len <= WS_LEN16_MAX) {
		out[1] = WS_LEN7_16;
		out[2] = (unsigned char)(len >> 8);
		out[3] = (unsigned char)len;
		n = WS_HDR_BASE + 2;
	} else {
		out[1] = WS_LEN7_64;
		for (i = 0; i < 8; i++)
			out[WS_HDR_BASE + i] = (unsigned char)(len >> (56 - 8 * i));
		n = WS_HDR_BASE + 8;
	}
	if (key != NULL) {
		out[1] |= WS_MASKED;
		memcpy(out + n, key, WS_MASK_LEN);
		n += WS_MASK_LEN;
	}
	return (n);
}

size_t
ws_frame_header(unsigned char out[WS_HEADER_MAX], int opcode, uint64_t len)
{
	return (ws_header_build(out, opcode, 1, NULL, len));
}

int
ws_frame_append(struct evbuffer *out, int opcode, const void *data, size_t len)
{
	unsigned char	hdr[WS_HEADER_MAX];
	size_t		n;

	n = ws_frame_header(hdr, opcode, len);
	if (evbuffer_add(out, hdr, n) == -1)
		return (-1);
	if (len > 0 && evbuffer_add(out, data, len) == -1)
		return (-1);
	return (0);
}

int
ws_close_append(struct evbuffer *out, int code, const char *reason)
{
	unsigned char	payload[WS_CONTROL_MAX];
	struct ws_utf8	u;
	size_t		rlen = 0;

	/* 0, 1005, 1006, 1015...: codes that may not appear on the wire. */
	if (!ws_close_code_valid(code))
		return (ws_frame_append(out, WS_OP_CLOSE, NULL, 0));
	payload[0] = (unsigned char)(code >> 8);
	payload[1] = (unsigned char)code;
	if (reason != NULL) {
		rlen = strnlen(reason, WS_CLOSE_REASON_MAX + 1);
		if (rlen > WS_CLOSE_REASON_MAX) {
			/* Cut before the character that reason[rlen] is part of. */
			rlen = WS_CLOSE_REASON_MAX;
			while (rlen > 0 &&
			    ((unsigned char)reason[rlen] & 0xc0) == 0x80)
				rlen--;
		}
		ws_utf8_init(&u);
		if (ws_utf8_validate(&u, reason, rlen) == -1 ||
		    !ws_utf8_complete(&u))
			rlen = 0;
		memcpy(payload + WS_CLOSE_CODE_LEN, reason, rlen);
	}
	return (ws_frame_append(out, WS_OP_CLOSE, payload,
	    WS_CLOSE_CODE_LEN + rlen));
}

int
ws_frame_append_masked(struct evbuffer *out, int opcode, int fin,
    const unsigned char mask[WS_MASK_LEN], const void *data, size_t len)
{
	unsigned char		hdr[WS_HEADER_MAX];
	struct evbuffer_iovec	v;
	size_t			n;

	n = ws_header_build(hdr, opcode, fin, mask, len);
	if (evbuffer_add(out, hdr, n) == -1)
		return (-1);
	if (len == 0)
		return (0);
	/* One vector: the space reserved is contiguous. */
	if (evbuffer_reserve_space(out, len, &v, 1) != 1 || v.iov_len < len)
		return (-1);
	ws_mask_copy(v.iov_base, data, len, mask, 0);
	v.iov_len = len;
	if (evbuffer_commit_space(out, &v, 1) == -1)
		return (-1);
	return (0);
}
