/*
 * fuzz_ws.c: libFuzzer target for the WebSocket codec (ws_frame.c).
 *
 * Input: one byte choosing the message size limit, two bytes choosing a
 * split position, then the bytes a client sends.  The stream is parsed
 * whole, split in two, one byte at a time and through an evbuffer of
 * two chunks; the events must be identical (abort otherwise).  Every
 * event is also checked against the protocol: text messages and close
 * reasons are valid UTF-8 by an independent decoder, sizes are within
 * the limits, codes are ones that may be sent.  Messages are re-encoded
 * and parsed again, and ping payloads are sent back as close reasons,
 * which must always survive the trip.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "ws_frame.h"

#define FUZZ_PREFIX	3
#define FUZZ_EVENTS_MAX	100000

static const size_t limits[] = { 0, 1, 2, 7, 125, 126, 127, 1000, 65535,
    65536, 1 << 20 };
static const unsigned char fuzz_key[WS_MASK_LEN] = { 0xa5, 0x5a, 0x00, 0xff };

#define CHECK(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,	\
		    __LINE__, #c);					\
		abort();						\
	}								\
} while (0)

struct digest {
	uint64_t	 h;
	size_t		 n;
	int		 dead;
	const char	*why;
};

static void
digest_add(struct digest *d, const void *buf, size_t len)
{
	const unsigned char	*s = buf;

	while (len-- > 0)
		d->h = (d->h ^ *s++) * UINT64_C(1099511628211);
}

static void
digest_int(struct digest *d, uint64_t v)
{
	digest_add(d, &v, sizeof(v));
}

/* An independent, decoding UTF-8 check. */
static int
utf8_ok(const unsigned char *s, size_t len)
{
	static const uint32_t	 min[] = { 0, 0x80, 0x800, 0x10000 };
	uint32_t		 cp;
	size_t			 i = 0, k, n;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			n = 1;
			cp = s[i] & 0x1f;
		} else if ((s[i] & 0xf0) == 0xe0) {
			n = 2;
			cp = s[i] & 0x0f;
		} else if ((s[i] & 0xf8) == 0xf0) {
			n = 3;
			cp = s[i] & 0x07;
		} else
			return (0);
		if (len - i <= n)
			return (0);
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return (0);
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min[n] || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return (0);
		i += n + 1;
	}
	return (1);
}

/* Protocol properties of one event, whatever the input. */
static void
check_event(const struct ws_event *ev, size_t max)
{
	switch (ev->we_type) {
	case WS_EV_MESSAGE:
		CHECK(ev->we_opcode == WS_OP_TEXT ||
		    ev->we_opcode == WS_OP_BINARY);
		CHECK(ev->we_len <= max);
		CHECK(ev->we_data != NULL);
		if (ev->we_opcode == WS_OP_TEXT)
			CHECK(utf8_ok(ev->we_data, ev->we_len));
		break;
	case WS_EV_PING:
	case WS_EV_PONG:
		CHECK(ev->we_len <= WS_CONTROL_MAX);
		break;
	case WS_EV_CLOSE:
		CHECK(ev->we_code == WS_CLOSE_NO_STATUS ||
		    ws_close_code_valid(ev->we_code));
		CHECK(ev->we_reason_len <= WS_CLOSE_REASON_MAX);
		CHECK(ev->we_reason[ev->we_reason_len] == '\0');
		CHECK(utf8_ok((const unsigned char *)ev->we_reason,
		    ev->we_reason_len));
		break;
	case WS_EV_ERROR:
		CHECK(ev->we_code == WS_CLOSE_PROTOCOL_ERROR ||
		    ev->we_code == WS_CLOSE_INVALID_PAYLOAD ||
		    ev->we_code == WS_CLOSE_TOO_BIG);
		CHECK(ev->we_error != NULL);
		break;
	default:
		CHECK(0);
	}
}

static void
record(struct digest *d, const struct ws_event *ev, size_t max)
{
	check_event(ev, max);
	CHECK(++d->n < FUZZ_EVENTS_MAX);
	digest_int(d, ev->we_type);
	digest_int(d, (uint64_t)ev->we_opcode);
	digest_int(d, (uint64_t)ev->we_code);
	digest_int(d, ev->we_len);
	if (ev->we_len > 0)
		digest_add(d, ev->we_data, ev->we_len);
	if (ev->we_type == WS_EV_CLOSE)
		digest_add(d, ev->we_reason, ev->we_reason_len);
	if (ev->we_type == WS_EV_ERROR) {
		d->dead = 1;
		d->why = ev->we_error;
	}
}

static void
feed(struct ws_parser *p, struct digest *d, const uint8_t *b, size_t n,
    size_t max)
{
	struct ws_event		ev;
	enum ws_event_type	t;
	size_t			used;

	while (!d->dead) {
		t = ws_parser_feed(p, b, n, &used, &ev);
		CHECK(used <= n && t == ev.we_type);
		if (t == WS_EV_MORE) {
			CHECK(used == n);
			return;
		}
		record(d, &ev, max);
		b += used;
		n -= used;
	}
}

static void
feed_evbuffer(struct ws_parser *p, struct digest *d, struct evbuffer *in,
    size_t max)
{
	struct ws_event		ev;
	enum ws_event_type	t;

	while (!d->dead) {
		t = ws_parser_feed_evbuffer(p, in, &ev);
		CHECK(t == ev.we_type);
		if (t == WS_EV_MORE) {
			CHECK(evbuffer_get_length(in) == 0);
			return;
		}
		record(d, &ev, max);
	}
}

static void
same(const struct digest *a, const struct digest *b)
{
	CHECK(a->h == b->h);
	CHECK(a->n == b->n);
	CHECK(a->dead == b->dead);
	CHECK(a->why == b->why);
}

/* Encode a message again, as a client, and parse it alone. */
static void
roundtrip_message(const struct ws_event *ev, size_t max)
{
	struct evbuffer		*b = evbuffer_new();
	struct ws_parser	 p;
	struct ws_event		 ev2;

	CHECK(b != NULL);
	CHECK(ws_frame_append_masked(b, ev->we_opcode, 1, fuzz_key,
	    ev->we_data, ev->we_len) == 0);
	ws_parser_init(&p, max);
	CHECK(ws_parser_feed_evbuffer(&p, b, &ev2) == WS_EV_MESSAGE);
	CHECK(ev2.we_opcode == ev->we_opcode && ev2.we_len == ev->we_len);
	CHECK(memcmp(ev2.we_data, ev->we_data, ev->we_len) == 0);
	ws_parser_free(&p);
	evbuffer_free(b);
}

/* Any bytes as a close reason: the encoder must emit a valid close frame. */
static void
roundtrip_close(const unsigned char *data, size_t len)
{
	struct evbuffer		*b = evbuffer_new(), *m = evbuffer_new();
	struct ws_parser	 p;
	struct ws_event		 ev;
	unsigned char		 hdr[WS_HEADER_MAX], *f;
	char			 reason[WS_CONTROL_MAX + 1];
	size_t			 n;

	CHECK(b != NULL && m != NULL);
	memcpy(reason, data, len);
	reason[len] = '\0';
	CHECK(ws_close_append(b, 4000 + (int)len, reason) == 0);
	n = evbuffer_get_length(b);
	f = evbuffer_pullup(b, -1);
	CHECK(n >= 4 && n <= 2 + WS_CONTROL_MAX);
	CHECK(ws_frame_header(hdr, WS_OP_CLOSE, n - 2) == 2);
	CHECK(memcmp(hdr, f, 2) == 0);
	CHECK(ws_frame_append_masked(m, WS_OP_CLOSE, 1, fuzz_key, f + 2,
	    n - 2) == 0);
	ws_parser_init(&p, 0);
	CHECK(ws_parser_feed_evbuffer(&p, m, &ev) == WS_EV_CLOSE);
	CHECK(ev.we_code == 4000 + (int)len);
	/* The reason is the original, or a prefix of it, or dropped. */
	CHECK(ev.we_reason_len <= strlen(reason));
	CHECK(memcmp(ev.we_reason, reason, ev.we_reason_len) == 0);
	ws_parser_free(&p);
	evbuffer_free(b);
	evbuffer_free(m);
}

static void
noop_cleanup(const void *data, size_t len, void *arg)
{
	(void)data;
	(void)len;
	(void)arg;
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ws_parser	 p;
	struct ws_event		 ev;
	struct digest		 whole, split, bytes, evb;
	struct evbuffer		*in;
	char			 accept[WS_ACCEPT_LEN + 1];
	const uint8_t		*b;
	size_t			 n, max, cut, used, i;
	enum ws_event_type	 t;

	if (size < FUZZ_PREFIX)
		return (0);
	max = limits[data[0] % (sizeof(limits) / sizeof(limits[0]))];
	b = data + FUZZ_PREFIX;
	n = size - FUZZ_PREFIX;
	cut = ((size_t)data[1] << 8 | data[2]) % (n + 1);

	(void)ws_accept_key((const char *)b, n < WS_KEY_LEN ? n : WS_KEY_LEN,
	    accept);

	/* Whole, with the side checks on each event. */
	memset(&whole, 0, sizeof(whole));
	ws_parser_init(&p, max);
	used = 0;
	while (!whole.dead) {
		t = ws_parser_feed(&p, b + used, n - used, &i, &ev);
		used += i;
		if (t == WS_EV_MORE) {
			CHECK(used == n);
			break;
		}
		record(&whole, &ev, max);
		if (t == WS_EV_MESSAGE)
			roundtrip_message(&ev, max);
		if (t == WS_EV_PING || t == WS_EV_PONG)
			roundtrip_close(ev.we_data, ev.we_len);
	}
	ws_parser_free(&p);

	memset(&split, 0, sizeof(split));
	ws_parser_init(&p, max);
	feed(&p, &split, b, cut, max);
	feed(&p, &split, b + cut, n - cut, max);
	ws_parser_free(&p);
	same(&whole, &split);

	memset(&bytes, 0, sizeof(bytes));
	ws_parser_init(&p, max);
	for (i = 0; i < n; i++)
		feed(&p, &bytes, b + i, 1, max);
	ws_parser_free(&p);
	same(&whole, &bytes);

	memset(&evb, 0, sizeof(evb));
	in = evbuffer_new();
	CHECK(in != NULL);
	ws_parser_init(&p, max);
	evbuffer_add_reference(in, b, cut, noop_cleanup, NULL);
	evbuffer_add_reference(in, b + cut, n - cut, noop_cleanup, NULL);
	feed_evbuffer(&p, &evb, in, max);
	ws_parser_free(&p);
	evbuffer_free(in);
	same(&whole, &evb);
	return (0);
}
