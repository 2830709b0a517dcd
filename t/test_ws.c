/*
 * test_ws.c: the WebSocket codec (ws_frame.c).
 *
 * Every vector is a byte stream a client might send with the events the
 * parser must report for it.  Each is fed whole, one byte at a time,
 * split in two at every boundary (sampled for the long ones), and through
 * evbuffers made of one chunk, of one-byte chunks and of two chunks; every
 * way must give the same events.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <event2/buffer.h>

#include "ws_frame.h"

#define UNUSED			__attribute__((__unused__))
#define MiB			(1024 * 1024)
#define GiB			((uint64_t)1024 * MiB)
#define DEFAULT_MAX		MiB
#define EXPECT_MAX		32	/* events per vector */
#define LOG_MAX			4096	/* formatted events per run */
#define SPLIT_ALL_MAX		2048	/* streams split at every boundary */
#define SPLIT_EDGE		64	/* longer ones: near both ends ... */
#define SPLIT_STEP		97	/* ... and at this stride */

/* The masking key of the RFC 6455 examples (section 5.7). */
static const unsigned char rfc_key[WS_MASK_LEN] = { 0x37, 0xfa, 0x21, 0x3d };
static const unsigned char zero_key[WS_MASK_LEN] = { 0, 0, 0, 0 };
static const unsigned char odd_key[WS_MASK_LEN] = { 0xff, 0x01, 0x80, 0x7f };

/* ---- expected and observed events, both formatted as one string ---- */

struct expect {
	char	log[LOG_MAX];
	size_t	len;
};

static uint32_t
fnv1a(const void *buf, size_t len)
{
	const unsigned char	*s = buf;
	uint32_t		 h = 2166136261u;

	while (len-- > 0)
		h = (h ^ *s++) * 16777619u;
	return (h);
}

static void __attribute__((format(printf, 2, 3)))
log_add(struct expect *e, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(e->log + e->len, sizeof(e->log) - e->len, fmt, ap);
	va_end(ap);
	cr_assert(n > 0 && (size_t)n < sizeof(e->log) - e->len, "log overflow");
	e->len += (size_t)n;
}

static void
exp_msg(struct expect *e, int op, const void *data, size_t len)
{
	log_add(e, "message op=%d len=%zu h=%08x; ", op, len, fnv1a(data, len));
}

static void
exp_ctl(struct expect *e, enum ws_event_type t, const void *data, size_t len)
{
	log_add(e, "%s len=%zu h=%08x; ", t == WS_EV_PING ? "ping" : "pong",
	    len, fnv1a(data, len));
}

static void
exp_close(struct expect *e, int code, const char *reason)
{
	log_add(e, "close code=%d reason=%zu/%08x; ", code, strlen(reason),
	    fnv1a(reason, strlen(reason)));
}

static void
exp_err(struct expect *e, int code)
{
	log_add(e, "error code=%d; ", code);
}

/* Record ev; returns 1 when it ends the stream (an error). */
static int
log_event(struct expect *e, const struct ws_event *ev, const char **why)
{
	switch (ev->we_type) {
	case WS_EV_MESSAGE:
		cr_assert(ev->we_data != NULL);
		exp_msg(e, ev->we_opcode, ev->we_data, ev->we_len);
		return (0);
	case WS_EV_PING:
	case WS_EV_PONG:
		exp_ctl(e, ev->we_type, ev->we_data, ev->we_len);
		return (0);
	case WS_EV_CLOSE:
		cr_assert(ev->we_reason != NULL);
		cr_assert_eq(ev->we_reason[ev->we_reason_len], '\0');
		log_add(e, "close code=%d reason=%zu/%08x; ", ev->we_code,
		    ev->we_reason_len, fnv1a(ev->we_reason, ev->we_reason_len));
		return (0);
	case WS_EV_ERROR:
		cr_assert(ev->we_error != NULL && ev->we_error[0] != '\0');
		*why = ev->we_error;
		exp_err(e, ev->we_code);
		return (1);
	default:
		cr_assert_fail("unexpected event type %d", ev->we_type);
	}
	return (1);
}

/* ---- the vectors ---- */

/* Writes a stream into the evbuffer and the events it must give. */
typedef void builder(struct evbuffer *, struct expect *, int param);

struct vector {
	const char	*name;
	builder		*build;
	int		 param;
	size_t		 max_payload;	/* 0: DEFAULT_MAX */
};

static void
frame(struct evbuffer *w, int op, int fin, const void *data, size_t len)
{
	cr_assert_eq(ws_frame_append_masked(w, op, fin, rfc_key, data, len), 0);
}

static void
raw(struct evbuffer *w, const void *bytes, size_t len)
{
	cr_assert_eq(evbuffer_add(w, bytes, len), 0);
}

static unsigned char *
pattern(size_t len)
{
	unsigned char	*p = malloc(len + 1);
	size_t		 i;

	cr_assert(p != NULL);
	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 7 + 3);
	return (p);
}

/* The RFC's single-frame masked text message "Hello". */
static void
v_rfc_hello(struct evbuffer *w, struct expect *e, int param UNUSED)
{
	static const unsigned char b[] = { 0x81, 0x85, 0x37, 0xfa, 0x21,
	    0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58 };

	raw(w, b, sizeof(b));
	exp_msg(e, WS_OP_TEXT, "Hello", 5);
}

/* The RFC's fragmented "Hel" + "lo", masked. */
static void
v_rfc_fragmented(struct evbuffer *w, struct expect *e, int param UNUSED)
{
	frame(w, WS_OP_TEXT, 0, "Hel", 3);
	frame(w, WS_OP_CONT, 1, "lo", 2);
	exp_msg(e, WS_OP_TEXT, "Hello", 5);
}

/* One binary frame of param bytes (a length class boundary). */
static void
v_binary_len(struct evbuffer *w, struct expect *e, int param)
{
	unsigned char	*p = pattern((size_t)param);

	frame(w, WS_OP_BINARY, 1, p, (size_t)param);
	exp_msg(e, WS_OP_BINARY, p, (size_t)param);
	free(p);
}

/* One ASCII text frame of param bytes. */
static void
v_text_len(struct evbuffer *w, struct expect *e, int param)
{
	char	*p = malloc((size_t)param + 1);
	int	 i;

	cr_assert(p != NULL);
	for (i = 0; i < param; i++)
		p[i] = 'a' + i % 26;
	frame(w, WS_OP_TEXT, 1, p, (size_t)param);
	exp_msg(e, WS_OP_TEXT, p, (size_t)param);
	free(p);
}

/* Masking with other keys, the payload crossing several key periods. */
static void
v_other_keys(struct evbuffer *w, struct expect *e, int param UNUSED)
{
	static const char	 t[] = "the quick brown fox jumps over";

	cr_assert_eq(ws_frame_append_masked(w, WS_OP_TEXT, 1, zero_key, t,
	    sizeof(t) - 1), 0);
	cr_assert_eq(ws_frame_append_masked(w, WS_OP_BINARY, 0, odd_key, t,
	    7), 0);
	cr_assert_eq(ws_frame_append_masked(w, WS_OP_CONT, 1, zero_key, t + 7,
	    sizeof(t) - 8), 0);
	exp_msg(e, WS_OP_TEXT, t, sizeof(t) - 1);
	exp_msg(e, WS_OP_BINARY, t, sizeof(t) - 1);
}

static void
v_ping_pong(struct evbuffer *w, struct expect *e, int param UNUSED)
{
	unsigned char	*p = pattern(WS_CONTROL_MAX);

	frame(w, WS_OP_PING, 1, "hi", 2);
	frame(w, WS_OP_PONG, 1, NULL, 0);
	frame(w, WS_OP_PING, 1, p, WS_CONTROL_MAX);
	frame(w, WS_OP_PONG, 1, p, WS_CONTROL_MAX);
	exp_ctl(e, WS_EV_PING, "hi", 2);
	exp_ctl(e, WS_EV_PONG, "", 0);
	exp_ctl(e, WS_EV_PING, p, WS_CONTROL_MAX);
	exp_ctl(e, WS_EV_PONG, p, WS_CONTROL_MAX);
	free(p);
}

/* Control frames between fragments, and an empty final fragment. */
static void
v_frag_with_controls(struct evbuffer *w, struct expect *e, int param UNUSED)
{
	frame(w, WS_OP_TEXT, 0, "Hel", 3);
	frame(w, WS_OP_PING, 1, "p", 1);
	frame(w, WS_OP_CONT, 0, "lo", 2);
	frame(w, WS_OP_PONG, 1, "q", 1);
	frame(w, WS_OP_CONT, 0, NULL, 0);
	frame(w, WS_OP_PING, 1, NULL, 0);
	frame(w, WS_OP_CONT, 1, NULL, 0);
	exp_ctl(e, WS_EV_PING, "p", 1);
	exp_ctl(e, WS_EV_PONG, "q", 1);
	exp_ctl(e, WS_EV_PING, "", 0);
	exp_msg(e, WS_OP_TEXT, "Hello", 5);
}

/* A binary message in many fragments of varied length classes. */
static void
v_frag_binary_many(struct evbuffer *w, struct expect *e, int param UNUSED)
{
	static const size_t	 sizes[] = { 0, 1, 125, 126, 127, 300, 65536, 3 };
	size_t			 i, off = 0, total = 0;
	unsigned char		*p;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		total += sizes[i];
	p = pattern(total);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		frame(w, i == 0 ? WS_OP_BINARY : WS_OP_CONT,
		    i == sizeof(sizes) / sizeof(sizes[0]) - 1, p + off, sizes[i]);
		off += sizes[i];
	}
	exp_msg(e, WS_OP_BINARY, p, total);
	free(p);
}

/* "κόσμε" with its characters cut across fragments. */
static void
v_utf8_split(struct evbuffer *w, struct expect *e, int param UNUSED)
{
	static const char	s[] = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";

	frame(w, WS_OP_TEXT, 0, s, 1);
	frame(w, WS_OP_CONT, 0, s + 1, 2);
	frame(w, WS_OP_PING, 1, "x", 1);
	frame(w, WS_OP_CONT, 0, s + 3, 1);
	frame(w, WS_OP_CONT, 0, s + 4, 4);
	frame(w, WS_OP_CONT, 1, s + 8, sizeof(s) - 9);
	exp_ctl(e, WS_EV_PING, "x", 1);
	exp_msg(e, WS_OP_TEXT, s, sizeof(s) - 1);
}

/* A 4-byte character, one byte per fragment. */
static void
v_utf8_4byte_split(struct evbuffer *w, struct expect *e, int param UNUSED)
{
	static const char	s[] = "\xf0\x9d\x84\x9e";

	frame(w, WS_OP_TEXT, 0, s, 1);
	frame(w, WS_OP_CONT, 0, s + 1, 1);
	frame(w, WS_OP_CONT, 0, s + 2, 1);
	frame(w, WS_OP_CONT, 1, s + 3, 1);
	exp_msg(e, WS_OP_TEXT, s, 4);
}

/* The edges of every UTF-8 length and of the excluded ranges. */
static void
v_utf8_edges(struct evbuffer *w, struct expect *e, int param UNUSED)
{
	static const char	s[] = "a\0\x7f" "\xc2\x80" "\xdf\xbf"
	    "\xe0\xa0\x80" "\xed\x9f\xbf" "\xee\x80\x80" "\xef\xbf\xbf"
	    "\xf0\x90\x80\x80" "\xf4\x8f\xbf\xbf";

	frame(w, WS_OP_TEXT, 1, s, sizeof(s) - 1);
	exp_msg(e, WS_OP_TEXT, s, sizeof(s) - 1);
}

/* Several messages back to back, ending with a close. */
static void
v_stream(struct evbuffer *w, struct expect *e, int param UNUSED)
{
	frame(w, WS_OP_TEXT, 1, "a", 1);
	frame(w, WS_OP_BINARY, 1, "\0\1", 2);
	frame(w, WS_OP_PING, 1, "z", 1);
	frame(w, WS_OP_TEXT, 1, NULL, 0);
	frame(w, WS_OP_CLOSE, 1, "\x03\xe8" "bye", 5);
	exp_msg(e, WS_OP_TEXT, "a", 1);
	exp_msg(e, WS_OP_BINARY, "\0\1", 2);
	exp_ctl(e, WS_EV_PING, "z", 1);
	exp_msg(e, WS_OP_TEXT, "", 0);
	exp_close(e, 1000, "bye");
}

static void
v_close_empty(struct evbuffer *w, struct expect *e, int param UNUSED)
{
	frame(w, WS_OP_CLOSE, 1, NULL, 0);
	exp_close(e, WS_CLOSE_NO_STATUS, "");
}

/* A close with code param and no reason: valid codes. */
static void
v_close_code(struct evbuffer *w, struct expect *e, int param)
{
	unsigned char	b[2] = { (unsigned char)(param >> 8), (unsigned char)param };

	frame(w, WS_OP_CLOSE, 1, b, 2);
	exp_close(e, param, "");
}

static void
v_close_reason(struct evbuffer *w, struct expect *e, int param UNUSED)
{
	static const char	s[] = "\x03\xe9" "going away \xce\xba\xe1\xbd\xb9";

	frame(w, WS_OP_CLOSE, 1, s, sizeof(s) - 1);
	exp_close(e, WS_CLOSE_GOING_AWAY, s + 2);
}

/* A close reason of the greatest length. */
static void
v_close_reason_max(struct evbuffer *w, struct expect *e, int param UNUSED)
{
	char	b[WS_CONTROL_MAX + 1];

	memset(b, 'r', sizeof(b));
	b[0] = 0x0f;
	b[1] = 0xa0;	/* 4000 */
	b[WS_CONTROL_MAX] = '\0';
	frame(w, WS_OP_CLOSE, 1, b, WS_CONTROL_MAX);
	exp_close(e, 4000, b + 2);
}

/* Whatever follows a close is ignored, even garbage. */
static void
v_after_close(struct evbuffer *w, struct expect *e, int param UNUSED)
{
	frame(w, WS_OP_TEXT, 0, "pa", 2);
	frame(w, WS_OP_CLOSE, 1, "\x03\xe8", 2);
	frame(w, WS_OP_CONT, 1, "rt", 2);
	raw(w, "\xff\xff\xff", 3);
	exp_close(e, 1000, "");
}

/* A message of exactly the limit (param: in how many fragments). */
static void
v_max_exact(struct evbuffer *w, struct expect *e, int param)
{
	unsigned char	*p = pattern(100);

	if (param == 1)
		frame(w, WS_OP_BINARY, 1, p, 100);
	else {
		frame(w, WS_OP_BINARY, 0, p, 60);
		frame(w, WS_OP_CONT, 0, p + 60, 40);
		frame(w, WS_OP_CONT, 1, NULL, 0);
	}
	exp_msg(e, WS_OP_BINARY, p, 100);
	free(p);
}

/* Events before a bad frame are still delivered. */
static void
v_message_then_error(struct evbuffer *w, struct expect *e, int param UNUSED)
{
	frame(w, WS_OP_TEXT, 1, "ok", 2);
	frame(w, WS_OP_PING, 1, NULL, 0);
	raw(w, "\xc1\x80\0\0\0\0", 6);	/* RSV1 */
	frame(w, WS_OP_TEXT, 1, "never", 5);
	exp_msg(e, WS_OP_TEXT, "ok", 2);
	exp_ctl(e, WS_EV_PING, "", 0);
	exp_err(e, WS_CLOSE_PROTOCOL_ERROR);
}

/* ---- protocol errors (1002) ---- */

/* Header byte 0 given by param, otherwise a valid masked empty frame. */
static void
v_bad_byte0(struct evbuffer *w, struct expect *e, int param)
{
	unsigned char	b[6] = { (unsigned char)param, 0x80, 1, 2, 3, 4 };

	raw(w, b, sizeof(b));
	exp_err(e, WS_CLOSE_PROTOCOL_ERROR);
}

/* An unmasked frame of opcode param. */
static void
v_unmasked(struct evbuffer *w, struct expect *e, int param)
{
	unsigned char	b[3] = { 0x80 | (unsigned char)param, 1, 'x' };

	raw(w, b, sizeof(b));
	exp_err(e, WS_CLOSE_PROTOCOL_ERROR);
}

/* A control frame (opcode param) with a 7-bit length field of 126 or 127. */
static void
v_control_long(struct evbuffer *w, struct expect *e, int param)
{
	unsigned char	 b[4] = { 0x80 | (unsigned char)param, 0x80 | 126, 0, 126 };
	unsigned char	*p = pattern(200);

	raw(w, b, sizeof(b));
	raw(w, rfc_key, sizeof(rfc_key));
	raw(w, p, 126);
	exp_err(e, WS_CLOSE_PROTOCOL_ERROR);
	free(p);
}

static void
v_control_len127(struct evbuffer *w, struct expect *e, int param UNUSED)
{
	static const unsigned char b[] = { 0x8a, 0xff, 0, 0, 0, 0, 0, 1, 0, 0 };

	raw(w, b, sizeof(b));
	exp_err(e, WS_CLOSE_PROTOCOL_ERROR);
}

static void
v_cont_without_message(struct evbuffer *w, struct expect *e, int param)
{
	if (param) {
		frame(w, WS_OP_TEXT, 1, "done", 4);
		exp_msg(e, WS_OP_TEXT, "done", 4);
	}
	frame(w, WS_OP_CONT, 1, "x", 1);
	exp_err(e, WS_CLOSE_PROTOCOL_ERROR);
}

/* A new data frame (opcode param) inside a fragmented message. */
static void
v_data_inside_message(struct evbuffer *w, struct expect *e, int param)
{
	frame(w, WS_OP_BINARY, 0, "ab", 2);
	frame(w, WS_OP_PING, 1, NULL, 0);
	frame(w, param, 1, "cd", 2);
	exp_ctl(e, WS_EV_PING, "", 0);
	exp_err(e, WS_CLOSE_PROTOCOL_ERROR);
}

/* A 16-bit length holding param (<= 125). */
static void
v_nonminimal16(struct evbuffer *w, struct expect *e, int param)
{
	unsigned char	b[4] = { 0x82, 0x80 | 126, 0, (unsigned char)param };

	raw(w, b, sizeof(b));
	raw(w, rfc_key, sizeof(rfc_key));
	exp_err(e, WS_CLOSE_PROTOCOL_ERROR);
}

/* A 64-bit length holding param (<= 65535). */
static void
v_nonminimal64(struct evbuffer *w, struct expect *e, int param)
{
	unsigned char	b[10] = { 0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0,
	    (unsigned char)(param >> 8), (unsigned char)param };

	raw(w, b, sizeof(b));
	raw(w, rfc_key, sizeof(rfc_key));
	exp_err(e, WS_CLOSE_PROTOCOL_ERROR);
}

static void
v_len64_msb(struct evbuffer *w, struct expect *e, int param UNUSED)
{
	static const unsigned char b[] = { 0x82, 0xff, 0x80, 0, 0, 0, 0, 0,
	    0, 1 };

	raw(w, b, sizeof(b));
	exp_err(e, WS_CLOSE_PROTOCOL_ERROR);
}

static void
v_close_one_byte(struct evbuffer *w, struct expect *e, int param UNUSED)
{
	frame(w, WS_OP_CLOSE, 1, "\x03", 1);
	exp_err(e, WS_CLOSE_PROTOCOL_ERROR);
}

static void
v_close_bad_code(struct evbuffer *w, struct expect *e, int param)
{
	unsigned char	b[4] = { (unsigned char)(param >> 8), (unsigned char)param,
	    'o', 'k' };

	frame(w, WS_OP_CLOSE, 1, b, sizeof(b));
	exp_err(e, WS_CLOSE_PROTOCOL_ERROR);
}

/* ---- invalid payloads (1007) ---- */

static const char *const bad_utf8[] = {
	"\xc0\x80",		/* overlong NUL */
	"\xc1\xbf",		/* overlong 2-byte */
	"\xe0\x80\x80",		/* overlong 3-byte */
	"\xe0\x9f\xbf",
	"\xed\xa0\x80",		/* surrogate U+D800 */
	"\xed\xbf\xbf",		/* surrogate U+DFFF */
	"\xf0\x80\x80\x80",	/* overlong 4-byte */
	"\xf0\x8f\xbf\xbf",
	"\xf4\x90\x80\x80",	/* U+110000 */
	"\xf5\x80\x80\x80",
	"\xf8\x88\x80\x80\x80",	/* old 5-byte form */
	"\xfe",
	"\xff",
	"\x80",			/* lone continuation */
	"a\xbf",
	"\xc2\x41",		/* missing continuation */
	"\xe2\x28\xa1",
	"\xe2\x82",		/* cut at the end of the message */
	"\xf0\x9d\x84",
	"\xce\xba\xce",
	"hello\xf4",
};
#define N_BAD_UTF8	(sizeof(bad_utf8) / sizeof(bad_utf8[0]))

static void
v_bad_utf8_text(struct evbuffer *w, struct expect *e, int param)
{
	const char	*s = bad_utf8[param];

	frame(w, WS_OP_TEXT, 1, s, strlen(s));
	exp_err(e, WS_CLOSE_INVALID_PAYLOAD);
}

/* The same bytes as the last fragment of a message, after a valid start. */
static void
v_bad_utf8_fragment(struct evbuffer *w, struct expect *e, int param)
{
	const char	*s = bad_utf8[param];

	frame(w, WS_OP_TEXT, 0, "ok \xce", 4);
	frame(w, WS_OP_CONT, 0, "\xba", 1);
	frame(w, WS_OP_PONG, 1, NULL, 0);
	frame(w, WS_OP_CONT, 1, s, strlen(s));
	exp_ctl(e, WS_EV_PONG, "", 0);
	exp_err(e, WS_CLOSE_INVALID_PAYLOAD);
}

/* A character whose start and rest are in different fragments, rest bad. */
static void
v_bad_utf8_across(struct evbuffer *w, struct expect *e, int param UNUSED)
{
	frame(w, WS_OP_TEXT, 0, "\xed", 1);
	frame(w, WS_OP_CONT, 1, "\xa0\x80", 2);
	exp_err(e, WS_CLOSE_INVALID_PAYLOAD);
}

/* A message ending inside a character that began in an earlier fragment. */
static void
v_utf8_truncated_message(struct evbuffer *w, struct expect *e, int param UNUSED)
{
	frame(w, WS_OP_TEXT, 0, "\xf0\x9d", 2);
	frame(w, WS_OP_CONT, 0, "\x84", 1);
	frame(w, WS_OP_CONT, 1, NULL, 0);
	exp_err(e, WS_CLOSE_INVALID_PAYLOAD);
}

/* Binary messages are not UTF-8 checked. */
static void
v_binary_not_utf8(struct evbuffer *w, struct expect *e, int param)
{
	const char	*s = bad_utf8[param];

	frame(w, WS_OP_BINARY, 1, s, strlen(s));
	exp_msg(e, WS_OP_BINARY, s, strlen(s));
}

static void
v_close_bad_reason(struct evbuffer *w, struct expect *e, int param)
{
	char	b[16];
	size_t	n = strlen(bad_utf8[param]);

	b[0] = 0x03;
	b[1] = (char)0xe8;
	memcpy(b + 2, bad_utf8[param], n);
	frame(w, WS_OP_CLOSE, 1, b, 2 + n);
	exp_err(e, WS_CLOSE_INVALID_PAYLOAD);
}

/* ---- too big (1009) ---- */

static void
v_too_big_single(struct evbuffer *w, struct expect *e, int param UNUSED)
{
	unsigned char	*p = pattern(101);

	frame(w, WS_OP_TEXT, 1, p, 101);
	exp_err(e, WS_CLOSE_TOO_BIG);
	free(p);
}

/* The sum of fragments exceeds the limit, with a ping in between. */
static void
v_too_big_fragments(struct evbuffer *w, struct expect *e, int param UNUSED)
{
	unsigned char	*p = pattern(101);

	frame(w, WS_OP_BINARY, 0, p, 60);
	frame(w, WS_OP_PING, 1, NULL, 0);
	frame(w, WS_OP_CONT, 0, p + 60, 40);
	frame(w, WS_OP_CONT, 1, p + 100, 1);
	exp_ctl(e, WS_EV_PING, "", 0);
	exp_err(e, WS_CLOSE_TOO_BIG);
	free(p);
}

/* Just a header declaring 1 GiB (param 0) or 2^63 - 1 bytes (param 1). */
static void
v_too_big_declared(struct evbuffer *w, struct expect *e, int param)
{
	unsigned char	b[10] = { 0x82, 0xff, 0, 0, 0, 0x40, 0, 0, 0, 0 };

	if (param)
		memcpy(b + 2, "\x7f\xff\xff\xff\xff\xff\xff\xff", 8);
	raw(w, b, sizeof(b));
	raw(w, rfc_key, sizeof(rfc_key));
	exp_err(e, WS_CLOSE_TOO_BIG);
}

static const struct vector vectors[] = {
	{ "rfc hello", v_rfc_hello, 0, 0 },
	{ "rfc fragmented", v_rfc_fragmented, 0, 0 },
	{ "binary 0", v_binary_len, 0, 0 },
	{ "binary 1", v_binary_len, 1, 0 },
	{ "binary 125", v_binary_len, 125, 0 },
	{ "binary 126", v_binary_len, 126, 0 },
	{ "binary 127", v_binary_len, 127, 0 },
	{ "binary 65535", v_binary_len, 65535, 0 },
	{ "binary 65536", v_binary_len, 65536, 0 },
	{ "text 0", v_text_len, 0, 0 },
	{ "text 125", v_text_len, 125, 0 },
	{ "text 126", v_text_len, 126, 0 },
	{ "text 65536", v_text_len, 65536, 0 },
	{ "other mask keys", v_other_keys, 0, 0 },
	{ "ping and pong", v_ping_pong, 0, 0 },
	{ "fragments with controls", v_frag_with_controls, 0, 0 },
	{ "many binary fragments", v_frag_binary_many, 0, 0 },
	{ "utf-8 split across fragments", v_utf8_split, 0, 0 },
	{ "4-byte utf-8 split", v_utf8_4byte_split, 0, 0 },
	{ "utf-8 edges", v_utf8_edges, 0, 0 },
	{ "stream", v_stream, 0, 0 },
	{ "close empty", v_close_empty, 0, 0 },
	{ "close 1000", v_close_code, 1000, 0 },
	{ "close 1001", v_close_code, 1001, 0 },
	{ "close 1003", v_close_code, 1003, 0 },
	{ "close 1007", v_close_code, 1007, 0 },
	{ "close 1011", v_close_code, 1011, 0 },
	{ "close 1014", v_close_code, 1014, 0 },
	{ "close 3000", v_close_code, 3000, 0 },
	{ "close 4999", v_close_code, 4999, 0 },
	{ "close reason", v_close_reason, 0, 0 },
	{ "close reason max", v_close_reason_max, 0, 0 },
	{ "after close", v_after_close, 0, 0 },
	{ "exactly max", v_max_exact, 1, 100 },
	{ "exactly max fragmented", v_max_exact, 3, 100 },
	{ "message then error", v_message_then_error, 0, 0 },
	{ "rsv1", v_bad_byte0, 0x80 | 0x40 | WS_OP_TEXT, 0 },
	{ "rsv2", v_bad_byte0, 0x80 | 0x20 | WS_OP_BINARY, 0 },
	{ "rsv3", v_bad_byte0, 0x80 | 0x10 | WS_OP_PING, 0 },
	{ "opcode 3", v_bad_byte0, 0x83, 0 },
	{ "opcode 4", v_bad_byte0, 0x84, 0 },
	{ "opcode 5", v_bad_byte0, 0x85, 0 },
	{ "opcode 6", v_bad_byte0, 0x86, 0 },
	{ "opcode 7", v_bad_byte0, 0x87, 0 },
	{ "opcode 11", v_bad_byte0, 0x8b, 0 },
	{ "opcode 12", v_bad_byte0, 0x8c, 0 },
	{ "opcode 13", v_bad_byte0, 0x8d, 0 },
	{ "opcode 14", v_bad_byte0, 0x8e, 0 },
	{ "opcode 15", v_bad_byte0, 0x8f, 0 },
	{ "opcode 3 no fin", v_bad_byte0, 0x03, 0 },
	{ "ping without fin", v_bad_byte0, WS_OP_PING, 0 },
	{ "pong without fin", v_bad_byte0, WS_OP_PONG, 0 },
	{ "close without fin", v_bad_byte0, WS_OP_CLOSE, 0 },
	{ "unmasked text", v_unmasked, WS_OP_TEXT, 0 },
	{ "unmasked ping", v_unmasked, WS_OP_PING, 0 },
	{ "unmasked close", v_unmasked, WS_OP_CLOSE, 0 },
	{ "ping of 126", v_control_long, WS_OP_PING, 0 },
	{ "close of 126", v_control_long, WS_OP_CLOSE, 0 },
	{ "pong with 64-bit length", v_control_len127, 0, 0 },
	{ "continuation first", v_cont_without_message, 0, 0 },
	{ "continuation after message", v_cont_without_message, 1, 0 },
	{ "text inside message", v_data_inside_message, WS_OP_TEXT, 0 },
	{ "binary inside message", v_data_inside_message, WS_OP_BINARY, 0 },
	{ "16-bit length 0", v_nonminimal16, 0, 0 },
	{ "16-bit length 125", v_nonminimal16, 125, 0 },
	{ "64-bit length 0", v_nonminimal64, 0, 0 },
	{ "64-bit length 125", v_nonminimal64, 125, 0 },
	{ "64-bit length 65535", v_nonminimal64, 65535, 0 },
	{ "64-bit length high bit", v_len64_msb, 0, 0 },
	{ "close 1 byte", v_close_one_byte, 0, 0 },
	{ "close code 0", v_close_bad_code, 0, 0 },
	{ "close code 999", v_close_bad_code, 999, 0 },
	{ "close code 1004", v_close_bad_code, 1004, 0 },
	{ "close code 1005", v_close_bad_code, 1005, 0 },
	{ "close code 1006", v_close_bad_code, 1006, 0 },
	{ "close code 1015", v_close_bad_code, 1015, 0 },
	{ "close code 1016", v_close_bad_code, 1016, 0 },
	{ "close code 2999", v_close_bad_code, 2999, 0 },
	{ "close code 5000", v_close_bad_code, 5000, 0 },
	{ "close code 65535", v_close_bad_code, 65535, 0 },
	{ "bad utf-8 across fragments", v_bad_utf8_across, 0, 0 },
	{ "utf-8 cut at message end", v_utf8_truncated_message, 0, 0 },
	{ "too big", v_too_big_single, 0, 100 },
	{ "too big fragmented", v_too_big_fragments, 0, 100 },
	{ "declared 1 GiB", v_too_big_declared, 0, 0 },
	{ "declared 2^63-1", v_too_big_declared, 1, 0 },
};
#define N_VECTORS	(sizeof(vectors) / sizeof(vectors[0]))

/* Vectors repeated for every bad UTF-8 sequence follow the fixed ones. */
static builder *const utf8_builders[] = {
	v_bad_utf8_text, v_bad_utf8_fragment, v_binary_not_utf8,
	v_close_bad_reason
};
#define N_UTF8_BUILDERS	(sizeof(utf8_builders) / sizeof(utf8_builders[0]))
#define N_ALL		(N_VECTORS + N_UTF8_BUILDERS * N_BAD_UTF8)

static struct vector
vector_get(size_t i)
{
	struct vector	v = { "bad utf-8", NULL, 0, 0 };

	if (i < N_VECTORS)
		return (vectors[i]);
	i -= N_VECTORS;
	v.build = utf8_builders[i / N_BAD_UTF8];
	v.param = (int)(i % N_BAD_UTF8);
	return (v);
}

/* ---- feeding the vectors ---- */

struct run {
	struct ws_parser	 p;
	struct expect		 log;
	const char		*why;
	int			 dead;
};

static void
run_init(struct run *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	ws_parser_init(&r->p, max);
}

/* After an error, the parser must keep repeating it and consume nothing. */
static void
check_sticky(struct run *r)
{
	struct ws_event	ev;
	size_t		used = 1;

	cr_assert_eq(ws_parser_feed(&r->p, "\x81\x80", 2, &used, &ev),
	    WS_EV_ERROR);
	cr_assert_eq(used, 0);
	cr_assert_eq(ev.we_error, r->why);
}

/* Feed one piece of the stream, taking every event it completes. */
static void
run_chunk(struct run *r, const unsigned char *b, size_t n)
{
	struct ws_event		ev;
	enum ws_event_type	t;
	size_t			used;

	while (!r->dead) {
		t = ws_parser_feed(&r->p, b, n, &used, &ev);
		cr_assert(used <= n);
		cr_assert_eq(t, ev.we_type);
		if (t == WS_EV_MORE) {
			cr_assert_eq(used, n, "MORE left input unconsumed");
			return;
		}
		r->dead = log_event(&r->log, &ev, &r->why);
		b += used;
		n -= used;
	}
	check_sticky(r);
}

/* Take every event the evbuffer holds. */
static void
run_evbuffer(struct run *r, struct evbuffer *in)
{
	struct ws_event		ev;
	enum ws_event_type	t;

	while (!r->dead) {
		t = ws_parser_feed_evbuffer(&r->p, in, &ev);
		cr_assert_eq(t, ev.we_type);
		if (t == WS_EV_MORE) {
			cr_assert_eq(evbuffer_get_length(in), 0);
			return;
		}
		r->dead = log_event(&r->log, &ev, &r->why);
	}
	check_sticky(r);
}

static void
run_check(struct run *r, const struct expect *want, const char *name,
    const char *how, const char *why)
{
	cr_assert_str_eq(r->log.log, want->log, "%s (%s)", name, how);
	cr_assert_eq(r->why, why, "%s (%s): error text differs", name, how);
	ws_parser_free(&r->p);
}

static void
noop_cleanup(const void *data UNUSED, size_t len UNUSED, void *arg UNUSED)
{
}

static void
vector_run(const struct vector *v)
{
	struct evbuffer	*w, *in;
	struct expect	 want;
	struct run	 r;
	unsigned char	*b;
	size_t		 n, i, max;
	const char	*why;

	memset(&want, 0, sizeof(want));
	max = v->max_payload != 0 ? v->max_payload : DEFAULT_MAX;
	w = evbuffer_new();
	cr_assert(w != NULL);
	v->build(w, &want, v->param);
	n = evbuffer_get_length(w);
	b = evbuffer_pullup(w, -1);
	cr_assert(n > 0 && b != NULL);

	run_init(&r, max);
	run_chunk(&r, b, n);
	cr_assert_str_eq(r.log.log, want.log, "%s (whole)", v->name);
	why = r.why;
	ws_parser_free(&r.p);

	run_init(&r, max);
	for (i = 0; i < n; i++)
		run_chunk(&r, b + i, 1);
	run_check(&r, &want, v->name, "byte by byte", why);

	for (i = 1; i < n; i++) {
		if (n > SPLIT_ALL_MAX && i > SPLIT_EDGE &&
		    i < n - SPLIT_EDGE && i % SPLIT_STEP != 0)
			continue;
		run_init(&r, max);
		run_chunk(&r, b, i);
		run_chunk(&r, b + i, n - i);
		run_check(&r, &want, v->name, "split", why);

		/* The same split as two evbuffer chunks, fed as they come. */
		in = evbuffer_new();
		run_init(&r, max);
		evbuffer_add_reference(in, b, i, noop_cleanup, NULL);
		run_evbuffer(&r, in);
		evbuffer_add_reference(in, b + i, n - i, noop_cleanup, NULL);
		run_evbuffer(&r, in);
		run_check(&r, &want, v->name, "evbuffer split", why);
		evbuffer_free(in);
	}

	/* One evbuffer of one-byte chunks, fed at once. */
	in = evbuffer_new();
	for (i = 0; i < n; i++)
		evbuffer_add_reference(in, b + i, 1, noop_cleanup, NULL);
	run_init(&r, max);
	run_evbuffer(&r, in);
	run_check(&r, &want, v->name, "evbuffer of 1-byte chunks", why);
	evbuffer_free(in);

	in = evbuffer_new();
	evbuffer_add(in, b, n);
	run_init(&r, max);
	run_evbuffer(&r, in);
	run_check(&r, &want, v->name, "evbuffer", why);
	evbuffer_free(in);

	evbuffer_free(w);
}

ParameterizedTestParameters(ws, vectors)
{
	static size_t	idx[N_ALL];
	size_t		i;

	for (i = 0; i < N_ALL; i++)
		idx[i] = i;
	return (cr_make_param_array(size_t, idx, N_ALL));
}

ParameterizedTest(size_t *i, ws, vectors)
{
	struct vector	v = vector_get(*i);

	vector_run(&v);
}

/* ---- the handshake ---- */

Test(ws, accept_key_examples)
{
	static const char *const kv[][2] = {
		{ "dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" },
		{ "x3JJHMbDL1EzLkh9GBhXDw==", "HSmrc0sMlYUkAGmm5OPpG2HaGWk=" },
		{ "AAAAAAAAAAAAAAAAAAAAAA==", "ICX+Yqv66kxgM0FcWaLWlFLwTAI=" },
	};
	char	out[WS_ACCEPT_LEN + 1];
	size_t	i;

	for (i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
		memset(out, 'x', sizeof(out));
		cr_assert_eq(ws_accept_key(kv[i][0], strlen(kv[i][0]), out), 0);
		cr_assert_str_eq(out, kv[i][1]);
	}
}

Test(ws, accept_key_invalid)
{
	static const char *const bad[] = {
		"",
		"dGhlIHNhbXBsZSBub25jZQ=",	/* 23 */
		"dGhlIHNhbXBsZSBub25jZQ===",	/* 25 */
		"dGhlIHNhbXBsZSBub25jZQAA",	/* no padding: 18 bytes */
		"dGhlIHNhbXBsZSBub25jZ===",	/* 15 bytes */
		"dGhlIHNhbXBsZSBub25j=Q==",
		"dGhlIHNhbXBsZSBub25jZ-==",	/* base64url */
		"dGhlIHNhbXBsZSBub25jZ_==",
		"dGhlIHNhbXBsZSBub25jZ ==",
		"dGhlIHNhbXBsZSBub25jZ\x80==",
		"dGhlIHNhbXBsZSBub25jZ\0==",
	};
	char	out[WS_ACCEPT_LEN + 1];
	size_t	i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(ws_accept_key(bad[i], i == 10 ? WS_KEY_LEN :
		    strlen(bad[i]), out), -1, "key %zu accepted", i);
	/* The length given counts, not the NUL. */
	cr_assert_eq(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==x", WS_KEY_LEN,
	    out), 0);
	cr_assert_eq(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", WS_KEY_LEN - 1,
	    out), -1);
}

/* ---- the size limit applies before anything is buffered ---- */

Test(ws, too_big_before_buffering)
{
	/* Header of a masked binary frame declaring 1 GiB, no mask yet. */
	static const unsigned char b[] = { 0x82, 0xff, 0, 0, 0, 0, 0x40, 0,
	    0, 0 };
	struct ws_parser	p;
	struct ws_event		ev;
	size_t			used;

	cr_assert_eq((uint64_t)0x40000000, GiB);
	ws_parser_init(&p, 16 * MiB);
	cr_assert_eq(ws_parser_feed(&p, b, sizeof(b) - 1, &used, &ev),
	    WS_EV_MORE);
	cr_assert_eq(used, sizeof(b) - 1);
	cr_assert_eq(ws_parser_feed(&p, b + sizeof(b) - 1, 1, &used, &ev),
	    WS_EV_ERROR);
	cr_assert_eq(ev.we_code, WS_CLOSE_TOO_BIG);
	cr_assert_eq(used, 1);
	cr_assert_eq(p.wp_msg_cap, 0, "memory was reserved");
	ws_parser_free(&p);
}

Test(ws, too_big_fragment_before_buffering)
{
	struct evbuffer		*w = evbuffer_new();
	struct ws_parser	 p;
	struct ws_event		 ev;
	unsigned char		 buf[80], *b;
	size_t			 used, n;

	memset(buf, 'x', sizeof(buf));
	frame(w, WS_OP_BINARY, 0, buf, 60);
	n = evbuffer_get_length(w);
	frame(w, WS_OP_CONT, 1, buf, 41);
	b = evbuffer_pullup(w, -1);
	ws_parser_init(&p, 100);
	cr_assert_eq(ws_parser_feed(&p, b, n, &used, &ev), WS_EV_MORE);
	cr_assert(ws_parser_in_message(&p));
	/* Only the 2 fixed header bytes of the second frame. */
	cr_assert_eq(ws_parser_feed(&p, b + n, 2, &used, &ev), WS_EV_ERROR);
	cr_assert_eq(ev.we_code, WS_CLOSE_TOO_BIG);
	cr_assert_eq(p.wp_msg_len, 60);
	ws_parser_free(&p);
	evbuffer_free(w);
}

Test(ws, buffer_released_after_large_message)
{
	struct evbuffer		*w = evbuffer_new();
	struct ws_parser	 p;
	struct ws_event		 ev;
	unsigned char		*big = pattern(200000);
	size_t			 used, n;

	frame(w, WS_OP_BINARY, 1, big, 200000);
	frame(w, WS_OP_TEXT, 1, "small", 5);
	n = evbuffer_get_length(w);
	ws_parser_init(&p, MiB);
	cr_assert_eq(ws_parser_feed(&p, evbuffer_pullup(w, -1), n, &used, &ev),
	    WS_EV_MESSAGE);
	cr_assert_eq(ev.we_len, 200000);
	cr_assert_eq(memcmp(ev.we_data, big, 200000), 0);
	cr_assert_eq(evbuffer_drain(w, used), 0);
	cr_assert_eq(ws_parser_feed_evbuffer(&p, w, &ev), WS_EV_MESSAGE);
	cr_assert_eq(ev.we_len, 5);
	cr_assert_eq(memcmp(ev.we_data, "small", 5), 0);
	cr_assert(p.wp_msg_cap <= 64 * 1024, "large buffer kept");
	cr_assert_eq(ws_parser_feed_evbuffer(&p, w, &ev), WS_EV_MORE);
	ws_parser_free(&p);
	evbuffer_free(w);
	free(big);
}

Test(ws, state_queries_and_close_swallows)
{
	struct ws_parser	p;
	struct ws_event		ev;
	struct evbuffer		*w = evbuffer_new();
	size_t			used, n;
	unsigned char		*b;

	frame(w, WS_OP_TEXT, 0, "a", 1);
	frame(w, WS_OP_CLOSE, 1, NULL, 0);
	n = evbuffer_get_length(w);
	b = evbuffer_pullup(w, -1);
	ws_parser_init(&p, 10);
	cr_assert_not(ws_parser_in_message(&p));
	cr_assert_eq(ws_parser_feed(&p, b, n, &used, &ev), WS_EV_CLOSE);
	cr_assert_eq(used, n);
	cr_assert_eq(ev.we_code, WS_CLOSE_NO_STATUS);
	cr_assert_eq(ev.we_reason_len, 0);
	cr_assert_eq(ws_parser_feed(&p, "\xff\xff", 2, &used, &ev), WS_EV_MORE);
	cr_assert_eq(used, 2);
	ws_parser_free(&p);
	evbuffer_free(w);
}

Test(ws, empty_feed)
{
	struct ws_parser	p;
	struct ws_event		ev;
	size_t			used = 7;

	ws_parser_init(&p, 10);
	cr_assert_eq(ws_parser_feed(&p, NULL, 0, &used, &ev), WS_EV_MORE);
	cr_assert_eq(used, 0);
	cr_assert_eq(ev.we_type, WS_EV_MORE);
	ws_parser_free(&p);
}

/* ---- encoders ---- */

Test(ws, frame_header_lengths)
{
	static const struct {
		uint64_t	len;
		size_t		hlen;
		unsigned char	hdr[WS_SERVER_HEADER_MAX];
	} c[] = {
		{ 0, 2, { 0x81, 0 } },
		{ 125, 2, { 0x81, 125 } },
		{ 126, 4, { 0x81, 126, 0, 126 } },
		{ 65535, 4, { 0x81, 126, 0xff, 0xff } },
		{ 65536, 10, { 0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0 } },
		{ UINT64_C(0x0102030405060708), 10,
		    { 0x81, 127, 1, 2, 3, 4, 5, 6, 7, 8 } },
	};
	unsigned char	out[WS_HEADER_MAX];
	size_t		i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		cr_assert_eq(ws_frame_header(out, WS_OP_TEXT, c[i].len),
		    c[i].hlen);
		cr_assert_eq(memcmp(out, c[i].hdr, c[i].hlen), 0, "case %zu", i);
	}
	cr_assert_eq(ws_frame_header(out, WS_OP_PING, 3), 2);
	cr_assert_eq(out[0], 0x89);
}

static void
assert_evbuffer(struct evbuffer *b, const void *want, size_t len)
{
	cr_assert_eq(evbuffer_get_length(b), len);
	cr_assert_eq(memcmp(evbuffer_pullup(b, -1), want, len), 0);
	evbuffer_drain(b, len);
}

Test(ws, frame_append_rfc)
{
	struct evbuffer	*b = evbuffer_new();

	/* RFC 6455 section 5.7 examples. */
	cr_assert_eq(ws_frame_append(b, WS_OP_TEXT, "Hello", 5), 0);
	assert_evbuffer(b, "\x81\x05Hello", 7);
	cr_assert_eq(ws_frame_append_masked(b, WS_OP_TEXT, 1, rfc_key,
	    "Hello", 5), 0);
	assert_evbuffer(b, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
	cr_assert_eq(ws_frame_append(b, WS_OP_PING, "Hello", 5), 0);
	assert_evbuffer(b, "\x89\x05Hello", 7);
	cr_assert_eq(ws_frame_append_masked(b, WS_OP_PONG, 1, rfc_key,
	    "Hello", 5), 0);
	assert_evbuffer(b, "\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
	cr_assert_eq(ws_frame_append_masked(b, WS_OP_TEXT, 0, rfc_key,
	    "Hel", 3), 0);
	assert_evbuffer(b, "\x01\x83\x37\xfa\x21\x3d\x7f\x9f\x4d", 9);
	cr_assert_eq(ws_frame_append(b, WS_OP_BINARY, NULL, 0), 0);
	assert_evbuffer(b, "\x82\x00", 2);
	evbuffer_free(b);
}

Test(ws, frame_append_large)
{
	struct evbuffer	*b = evbuffer_new();
	unsigned char	*p = pattern(70000), *f;

	cr_assert_eq(ws_frame_append(b, WS_OP_BINARY, p, 70000), 0);
	cr_assert_eq(evbuffer_get_length(b), 70010);
	f = evbuffer_pullup(b, -1);
	cr_assert_eq(memcmp(f, "\x82\x7f\0\0\0\0\0\x01\x11\x70", 10), 0);
	cr_assert_eq(memcmp(f + 10, p, 70000), 0);
	evbuffer_free(b);
	free(p);
}

/* Parse a server (unmasked) close frame by masking it as a client would. */
static void
reparse_close(struct evbuffer *b, int *code, char *reason, size_t rsize)
{
	struct evbuffer		*m = evbuffer_new();
	struct ws_parser	 p;
	struct ws_event		 ev;
	unsigned char		*f;
	size_t			 n = evbuffer_get_length(b);

	f = evbuffer_pullup(b, -1);
	cr_assert(n >= 2 && f[0] == 0x88 && f[1] == n - 2);
	cr_assert_eq(ws_frame_append_masked(m, WS_OP_CLOSE, 1, odd_key, f + 2,
	    n - 2), 0);
	ws_parser_init(&p, 0);
	cr_assert_eq(ws_parser_feed_evbuffer(&p, m, &ev), WS_EV_CLOSE);
	*code = ev.we_code;
	snprintf(reason, rsize, "%s", ev.we_reason);
	ws_parser_free(&p);
	evbuffer_free(m);
	evbuffer_drain(b, n);
}

/* prefix ASCII bytes, then "κ" (2 bytes) up to the end of buf. */
static void
long_reason(char *buf, size_t size, size_t prefix)
{
	size_t	i;

	memset(buf, 'x', prefix);
	for (i = prefix; i + 2 < size; i += 2)
		memcpy(buf + i, "\xce\xba", 2);
	buf[i] = '\0';
}

Test(ws, close_append)
{
	struct evbuffer	*b = evbuffer_new();
	char		 longr[300], reason[WS_CONTROL_MAX + 1];
	int		 code;
	size_t		 i;

	cr_assert_eq(ws_close_append(b, WS_CLOSE_NORMAL, "bye"), 0);
	assert_evbuffer(b, "\x88\x05\x03\xe8" "bye", 7);
	cr_assert_eq(ws_close_append(b, WS_CLOSE_TOO_BIG, NULL), 0);
	assert_evbuffer(b, "\x88\x02\x03\xf1", 4);
	cr_assert_eq(ws_close_append(b, WS_CLOSE_NO_STATUS, "x"), 0);
	assert_evbuffer(b, "\x88\x00", 2);
	cr_assert_eq(ws_close_append(b, WS_CLOSE_ABNORMAL, "x"), 0);
	assert_evbuffer(b, "\x88\x00", 2);
	cr_assert_eq(ws_close_append(b, 0, NULL), 0);
	assert_evbuffer(b, "\x88\x00", 2);

	/* Too long: cut to 123 bytes. */
	memset(longr, 'a', sizeof(longr));
	longr[sizeof(longr) - 1] = '\0';
	cr_assert_eq(ws_close_append(b, WS_CLOSE_POLICY, longr), 0);
	cr_assert_eq(evbuffer_get_length(b), 2 + WS_CONTROL_MAX);
	reparse_close(b, &code, reason, sizeof(reason));
	cr_assert_eq(code, WS_CLOSE_POLICY);
	cr_assert_eq(strlen(reason), WS_CLOSE_REASON_MAX);

	/*
	 * Cut at a character boundary: after a prefix of 0, 1 or 2 ASCII
	 * bytes, 2-byte characters straddle byte 123 or end right there.
	 */
	for (i = 0; i <= 2; i++) {
		long_reason(longr, sizeof(longr), i);
		cr_assert_eq(ws_close_append(b, WS_CLOSE_GOING_AWAY, longr), 0);
		reparse_close(b, &code, reason, sizeof(reason));
		cr_assert_eq(code, WS_CLOSE_GOING_AWAY);
		cr_assert_eq(strlen(reason), i == 1 ? WS_CLOSE_REASON_MAX :
		    WS_CLOSE_REASON_MAX - 1, "prefix %zu", i);
		cr_assert_eq(memcmp(reason, longr, strlen(reason)), 0);
	}

	/* Not UTF-8: the code alone. */
	cr_assert_eq(ws_close_append(b, 4001, "bad \xff reason"), 0);
	assert_evbuffer(b, "\x88\x02\x0f\xa1", 4);
	cr_assert_eq(ws_close_append(b, 4001, "cut \xe2\x82"), 0);
	assert_evbuffer(b, "\x88\x02\x0f\xa1", 4);
	evbuffer_free(b);
}

Test(ws, close_code_valid)
{
	static const int good[] = { 1000, 1001, 1002, 1003, 1007, 1008, 1009,
	    1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999 };
	static const int bad[] = { -1, 0, 999, 1004, 1005, 1006, 1015, 1016,
	    2000, 2999, 5000, 65535, 70000 };
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_assert(ws_close_code_valid(good[i]), "%d", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_not(ws_close_code_valid(bad[i]), "%d", bad[i]);
}

/* ---- the UTF-8 validator on its own ---- */

/* 1 valid, 0 invalid, 2 valid so far but incomplete. */
static int
utf8_check(const char *s, size_t len, size_t split)
{
	struct ws_utf8	u;

	ws_utf8_init(&u);
	if (ws_utf8_validate(&u, s, split) == -1)
		return (0);
	if (ws_utf8_validate(&u, s + split, len - split) == -1)
		return (0);
	return (ws_utf8_complete(&u) ? 1 : 2);
}

Test(ws, utf8_validator)
{
	static const struct {
		const char	*s;
		int		 want;
	} c[] = {
		{ "", 1 },
		{ "plain ascii that is longer than a machine word or two", 1 },
		{ "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 1 },
		{ "\xef\xbb\xbf" "bom", 1 },
		{ "\xf4\x8f\xbf\xbf", 1 },
		{ "\xed\x9f\xbf\xee\x80\x80", 1 },
		{ "01234567\xce\xba" "01234567", 1 },
		{ "\xe2\x82", 2 },
		{ "abc\xf0", 2 },
		{ "\xf0\x9d\x84", 2 },
		{ "\xc0\xaf", 0 },
		{ "\xe0\x9f\x80", 0 },
		{ "\xed\xa0\x80", 0 },
		{ "\xf4\x90\x80\x80", 0 },
		{ "\xf0\x8f\x80\x80", 0 },
		{ "01234567890123\x80", 0 },
		{ "\xe2\x82\xe2\x82\xac", 0 },
		{ "\xf7\xbf\xbf\xbf", 0 },
	};
	struct ws_utf8	u;
	size_t		i, k, len;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		len = strlen(c[i].s);
		for (k = 0; k <= len; k++)
			cr_assert_eq(utf8_check(c[i].s, len, k), c[i].want,
			    "case %zu split %zu", i, k);
		ws_utf8_init(&u);
		for (k = 0; k < len; k++)
			if (ws_utf8_validate(&u, c[i].s + k, 1) == -1)
				break;
		cr_assert_eq(k < len ? 0 : ws_utf8_complete(&u) ? 1 : 2,
		    c[i].want, "case %zu byte by byte", i);
	}
	/* An error is sticky. */
	ws_utf8_init(&u);
	cr_assert_eq(ws_utf8_validate(&u, "\xff", 1), -1);
	cr_assert_eq(ws_utf8_validate(&u, "a", 1), -1);
	cr_assert_not(ws_utf8_complete(&u));
}

/* Every code point: valid encodings pass, surrogates fail. */
Test(ws, utf8_all_code_points)
{
	unsigned char	b[4];
	struct ws_utf8	u;
	uint32_t	cp;
	size_t		n;
	int		want;

	for (cp = 0; cp <= 0x10ffff; cp++) {
		if (cp < 0x80) {
			b[0] = (unsigned char)cp;
			n = 1;
		} else if (cp < 0x800) {
			b[0] = 0xc0 | cp >> 6;
			b[1] = 0x80 | (cp & 0x3f);
			n = 2;
		} else if (cp < 0x10000) {
			b[0] = 0xe0 | cp >> 12;
			b[1] = 0x80 | (cp >> 6 & 0x3f);
			b[2] = 0x80 | (cp & 0x3f);
			n = 3;
		} else {
			b[0] = 0xf0 | cp >> 18;
			b[1] = 0x80 | (cp >> 12 & 0x3f);
			b[2] = 0x80 | (cp >> 6 & 0x3f);
			b[3] = 0x80 | (cp & 0x3f);
			n = 4;
		}
		want = !(cp >= 0xd800 && cp <= 0xdfff);
		ws_utf8_init(&u);
		cr_assert_eq(ws_utf8_validate(&u, b, n) == 0 &&
		    ws_utf8_complete(&u), want, "U+%04X", cp);
	}
}
