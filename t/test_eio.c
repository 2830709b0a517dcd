/*
 * test_eio.c: the Engine.IO v4 codec (packets, polling payloads, base64)
 * against engine.io-parser 5 and RFC 4648.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <event2/buffer.h>

#include "eio_codec.h"

/*
 * Criterion hands parameters to the test process by copying the structs,
 * so vectors hold their strings in arrays, not as pointers.
 */
#define VEC_MAX		128
#define PKTS_MAX	8

/* The contents of b (the caller frees), NUL-terminated, b drained. */
static char *
drain(struct evbuffer *b, size_t *lenp)
{
	size_t	 len = evbuffer_get_length(b);
	char	*s = malloc(len + 1);

	cr_assert_not_null(s);
	cr_assert_eq(evbuffer_remove(b, s, len), (int)len);
	s[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return (s);
}

/* Packets collected by a payload callback, with copies of their data. */
struct collect {
	size_t			 n;
	struct eio_packet	 pkt[PKTS_MAX];
	unsigned char		 data[PKTS_MAX][VEC_MAX];
	int			 stop_at;	/* return -1 on this packet, or -1 */
};

static int
collect_fn(const struct eio_packet *pkt, void *arg)
{
	struct collect	*c = arg;

	cr_assert_lt(c->n, PKTS_MAX);
	cr_assert_leq(pkt->ep_len, VEC_MAX);
	/* Even an empty message has a data pointer. */
	cr_assert_not_null(pkt->ep_data);
	c->pkt[c->n] = *pkt;
	memcpy(c->data[c->n], pkt->ep_data, pkt->ep_len);
	c->pkt[c->n].ep_data = c->data[c->n];
	if ((int)c->n++ == c->stop_at)
		return (-1);
	return (0);
}

struct eio_pkt_vec {
	char		 in[VEC_MAX];
	int		 ok;
	enum eio_type	 type;
	char		 data[VEC_MAX];
};

ParameterizedTestParameters(eio, packet_decode)
{
	static struct eio_pkt_vec v[] = {
		{ "0{\"sid\":\"abc\",\"upgrades\":[]}", 1, EIO_OPEN,
		    "{\"sid\":\"abc\",\"upgrades\":[]}" },
		{ "1", 1, EIO_CLOSE, "" },
		{ "2", 1, EIO_PING, "" },
		{ "2probe", 1, EIO_PING, "probe" },
		{ "3probe", 1, EIO_PONG, "probe" },
		{ "4", 1, EIO_MESSAGE, "" },
		{ "4hello \xe2\x82\xac", 1, EIO_MESSAGE, "hello \xe2\x82\xac" },
		{ "40/chat,", 1, EIO_MESSAGE, "0/chat," },
		{ "5", 1, EIO_UPGRADE, "" },
		{ "6", 1, EIO_NOOP, "" },
		{ "", 0, 0, "" },
		{ "7", 0, 0, "" },
		{ "9hello", 0, 0, "" },
		{ "x", 0, 0, "" },
		{ "/", 0, 0, "" },
		{ " 4", 0, 0, "" },
		{ "b", 0, 0, "" },
		{ "bAQID", 0, 0, "" },
		{ "\x1e", 0, 0, "" },
	};

	return (cr_make_param_array(struct eio_pkt_vec, v, sizeof(v) / sizeof(v[0])));
}

ParameterizedTest(struct eio_pkt_vec *t, eio, packet_decode)
{
	struct eio_packet	 pkt;
	unsigned char		 scratch[VEC_MAX];
	size_t			 len = strlen(t->in);

	if (!t->ok) {
		cr_assert_eq(eio_packet_decode(t->in, len, &pkt), -1, "%s", t->in);
		return;
	}
	cr_assert_eq(eio_packet_decode(t->in, len, &pkt), 0, "%s", t->in);
	cr_assert_eq(pkt.ep_type, t->type);
	cr_assert_eq(pkt.ep_binary, 0);
	cr_assert_eq(pkt.ep_len, strlen(t->data));
	cr_assert_eq(memcmp(pkt.ep_data, t->data, pkt.ep_len), 0);
	/* The data points into the input. */
	cr_assert_eq(pkt.ep_data, t->in + 1);
	/* Text packets decode the same with base64 allowed. */
	cr_assert_eq(eio_packet_decode_base64(t->in, len, scratch, &pkt), 0);
	cr_assert_eq(pkt.ep_type, t->type);
	cr_assert_eq(pkt.ep_binary, 0);
}

Test(eio, packet_decode_base64)
{
	struct eio_packet	pkt;
	unsigned char		scratch[16];

	cr_assert_eq(eio_packet_decode_base64("bAQID", 5, scratch, &pkt), 0);
	cr_assert_eq(pkt.ep_type, EIO_MESSAGE);
	cr_assert_eq(pkt.ep_binary, 1);
	cr_assert_eq(pkt.ep_len, 3);
	cr_assert_eq(pkt.ep_data, scratch);
	cr_assert_eq(memcmp(scratch, "\x01\x02\x03", 3), 0);

	cr_assert_eq(eio_packet_decode_base64("b", 1, scratch, &pkt), 0);
	cr_assert_eq(pkt.ep_binary, 1);
	cr_assert_eq(pkt.ep_len, 0);

	cr_assert_eq(eio_packet_decode_base64("b!!", 3, scratch, &pkt), -1);
	cr_assert_eq(eio_packet_decode_base64("bA", 2, scratch, &pkt), -1);
	cr_assert_eq(eio_packet_decode_base64("", 0, scratch, &pkt), -1);
	cr_assert_eq(eio_packet_decode_base64("8", 1, scratch, &pkt), -1);
}

/* Polling payloads: the packets each splits into, or none when malformed. */
struct eio_payload_vec {
	char		 in[VEC_MAX];
	int		 ok;
	size_t		 n;
	int		 binary[PKTS_MAX];
	enum eio_type	 type[PKTS_MAX];
	char		 data[PKTS_MAX][16];
	size_t		 len[PKTS_MAX];	/* 0: strlen(data) */
};

ParameterizedTestParameters(eio, payload_decode)
{
	static struct eio_payload_vec v[] = {
		{ "4hello", 1, 1, { 0 }, { EIO_MESSAGE }, { "hello" }, { 0 } },
		{ "4", 1, 1, { 0 }, { EIO_MESSAGE }, { "" }, { 0 } },
		{ "4hello\x1e" "2probe\x1e" "bAQID", 1, 3, { 0, 0, 1 },
		    { EIO_MESSAGE, EIO_PING, EIO_MESSAGE },
		    { "hello", "probe", "\x01\x02\x03" }, { 0, 0, 3 } },
		{ "bAA==\x1e" "b\x1e" "6", 1, 3, { 1, 1, 0 },
		    { EIO_MESSAGE, EIO_MESSAGE, EIO_NOOP },
		    { "", "", "" }, { 1, 0, 0 } },
		{ "b/w\x1e" "bAP8", 1, 2, { 1, 1 },
		    { EIO_MESSAGE, EIO_MESSAGE }, { "\xff", "\x00\xff" },
		    { 1, 2 } },
		{ "1", 1, 1, { 0 }, { EIO_CLOSE }, { "" }, { 0 } },
		{ "42[\"a\",\"b\"]\x1e" "42[\"c\"]", 1, 2, { 0, 0 },
		    { EIO_MESSAGE, EIO_MESSAGE },
		    { "2[\"a\",\"b\"]", "2[\"c\"]" }, { 0, 0 } },
		{ "", 0, 0, { 0 }, { 0 }, { "" }, { 0 } },
		{ "\x1e", 0, 0, { 0 }, { 0 }, { "" }, { 0 } },
		{ "4a\x1e", 0, 0, { 0 }, { 0 }, { "" }, { 0 } },
		{ "\x1e" "4a", 0, 0, { 0 }, { 0 }, { "" }, { 0 } },
		{ "4a\x1e\x1e" "4b", 0, 0, { 0 }, { 0 }, { "" }, { 0 } },
		{ "4a\x1e" "9", 0, 0, { 0 }, { 0 }, { "" }, { 0 } },
		{ "4a\x1e" "b!!", 0, 0, { 0 }, { 0 }, { "" }, { 0 } },
		{ "4a\x1e" "bA", 0, 0, { 0 }, { 0 }, { "" }, { 0 } },
		{ "bAQI D", 0, 0, { 0 }, { 0 }, { "" }, { 0 } },
		{ "bAQ-_", 0, 0, { 0 }, { 0 }, { "" }, { 0 } },
		{ "bAA=", 0, 0, { 0 }, { 0 }, { "" }, { 0 } },
		{ "bAA==\n", 0, 0, { 0 }, { 0 }, { "" }, { 0 } },
		{ "x\x1e" "4a", 0, 0, { 0 }, { 0 }, { "" }, { 0 } },
	};

	return (cr_make_param_array(struct eio_payload_vec, v, sizeof(v) / sizeof(v[0])));
}

ParameterizedTest(struct eio_payload_vec *t, eio, payload_decode)
{
	struct collect		 c;
	struct evbuffer		*b;
	size_t			 i, len, outlen;
	char			*out;

	memset(&c, 0, sizeof(c));
	c.stop_at = -1;
	if (!t->ok) {
		cr_assert_eq(eio_payload_decode(t->in, strlen(t->in),
		    collect_fn, &c), -1);
		/* The payload is checked before anything is delivered. */
		cr_assert_eq(c.n, 0);
		return;
	}
	cr_assert_eq(eio_payload_decode(t->in, strlen(t->in), collect_fn, &c),
	    0);
	cr_assert_eq(c.n, t->n);
	for (i = 0; i < t->n; i++) {
		len = t->len[i] ? t->len[i] : strlen(t->data[i]);
		cr_assert_eq(c.pkt[i].ep_binary, t->binary[i], "packet %zu", i);
		cr_assert_eq(c.pkt[i].ep_type, t->type[i], "packet %zu", i);
		cr_assert_eq(c.pkt[i].ep_len, len, "packet %zu", i);
		cr_assert_eq(memcmp(c.data[i], t->data[i], len), 0);
	}

	/* Joined again, the packets give a payload that splits the same. */
	b = evbuffer_new();
	cr_assert_not_null(b);
	for (i = 0; i < c.n; i++)
		eio_payload_append(b, i > 0, &c.pkt[i]);
	out = drain(b, &outlen);
	{
		struct collect	d;

		memset(&d, 0, sizeof(d));
		d.stop_at = -1;
		cr_assert_eq(eio_payload_decode(out, outlen, collect_fn, &d), 0);
		cr_assert_eq(d.n, c.n);
		for (i = 0; i < c.n; i++) {
			cr_assert_eq(d.pkt[i].ep_binary, c.pkt[i].ep_binary);
			cr_assert_eq(d.pkt[i].ep_type, c.pkt[i].ep_type);
			cr_assert_eq(d.pkt[i].ep_len, c.pkt[i].ep_len);
			cr_assert_eq(memcmp(d.data[i], c.data[i],
			    c.pkt[i].ep_len), 0);
		}
	}
	free(out);
	evbuffer_free(b);
}

Test(eio, payload_callback_stops)
{
	struct collect	c;
	const char	*s = "4a\x1e" "4b\x1e" "4c";

	memset(&c, 0, sizeof(c));
	c.stop_at = 1;
	cr_assert_eq(eio_payload_decode(s, strlen(s), collect_fn, &c), -1);
	cr_assert_eq(c.n, 2);
	cr_assert_eq(c.data[1][0], 'b');
}

static int
count_fn(const struct eio_packet *pkt, void *arg)
{
	size_t	*n = arg;

	cr_assert_eq(pkt->ep_type, EIO_NOOP);
	(*n)++;
	return (0);
}

Test(eio, payload_packet_limit)
{
	char	*s;
	size_t	 i, n, len = 2 * (EIO_PAYLOAD_PACKETS_MAX + 1);

	s = malloc(len);
	cr_assert_not_null(s);
	for (i = 0; i < EIO_PAYLOAD_PACKETS_MAX + 1; i++) {
		s[2 * i] = '6';
		s[2 * i + 1] = EIO_RECORD_SEP;
	}
	/* Exactly the limit: "6" records joined, no trailing separator. */
	n = 0;
	cr_assert_eq(eio_payload_decode(s, 2 * EIO_PAYLOAD_PACKETS_MAX - 1,
	    count_fn, &n), 0);
	cr_assert_eq(n, EIO_PAYLOAD_PACKETS_MAX);
	/* One more: refused before any is delivered. */
	n = 0;
	cr_assert_eq(eio_payload_decode(s, len - 1, count_fn, &n), -1);
	cr_assert_eq(n, 0);
	free(s);
}

struct big {
	unsigned char	*want;
	size_t		 len;
	size_t		 n;
};

static int
big_fn(const struct eio_packet *pkt, void *arg)
{
	struct big	*b = arg;

	cr_assert(pkt->ep_binary);
	cr_assert_eq(pkt->ep_len, b->n == 0 ? b->len : 0);
	if (b->n == 0)
		cr_assert_eq(memcmp(pkt->ep_data, b->want, b->len), 0);
	b->n++;
	return (0);
}

Test(eio, payload_binary_large)
{
	struct eio_packet	 pkt;
	struct evbuffer		*buf = evbuffer_new();
	struct big		 b;
	char			*s;
	size_t			 i, len;

	/* Larger than one encoding chunk, and not a multiple of three. */
	b.len = 10000;
	b.n = 0;
	b.want = malloc(b.len);
	cr_assert_not_null(b.want);
	for (i = 0; i < b.len; i++)
		b.want[i] = (unsigned char)(i * 7 + 3);
	pkt.ep_type = EIO_MESSAGE;
	pkt.ep_binary = 1;
	pkt.ep_data = b.want;
	pkt.ep_len = b.len;
	eio_payload_append(buf, 0, &pkt);
	pkt.ep_len = 0;
	eio_payload_append(buf, 1, &pkt);
	s = drain(buf, &len);
	cr_assert_eq(len, 1 + base64_encoded_len(b.len) + 2);
	cr_assert_eq(s[0], 'b');
	cr_assert_eq(memcmp(s + len - 2, "\x1e" "b", 2), 0);
	cr_assert_eq(eio_payload_decode(s, len, big_fn, &b), 0);
	cr_assert_eq(b.n, 2);
	free(s);
	free(b.want);
	evbuffer_free(buf);
}

Test(eio, encode)
{
	struct evbuffer		*b = evbuffer_new();
	struct eio_packet	 pkt;
	char			*s;
	size_t			 len;

	cr_assert_not_null(b);
	eio_packet_encode(b, EIO_OPEN, "{\"sid\":\"x\"}", 11);
	s = drain(b, NULL);
	cr_assert_str_eq(s, "0{\"sid\":\"x\"}");
	free(s);

	eio_packet_encode(b, EIO_PING, NULL, 0);
	eio_packet_encode(b, EIO_NOOP, NULL, 0);
	s = drain(b, NULL);
	cr_assert_str_eq(s, "26");
	free(s);

	/* A payload: text, binary and text again. */
	pkt.ep_type = EIO_MESSAGE;
	pkt.ep_binary = 0;
	pkt.ep_data = "hello";
	pkt.ep_len = 5;
	eio_payload_append(b, 0, &pkt);
	pkt.ep_binary = 1;
	pkt.ep_data = "\x01\x02\x03\x04";
	pkt.ep_len = 4;
	eio_payload_append(b, 1, &pkt);
	pkt.ep_type = EIO_PING;
	pkt.ep_binary = 0;
	pkt.ep_data = "probe";
	pkt.ep_len = 5;
	eio_payload_append(b, 1, &pkt);
	s = drain(b, &len);
	cr_assert_eq(len, 23);
	cr_assert_str_eq(s, "4hello\x1e" "bAQIDBA==\x1e" "2probe");
	free(s);
	evbuffer_free(b);
}

/* RFC 4648 section 10, and what is refused. */
struct b64_vec {
	char	plain[16];
	char	enc[16];
};

ParameterizedTestParameters(eio, base64_rfc4648)
{
	static struct b64_vec v[] = {
		{ "", "" },
		{ "f", "Zg==" },
		{ "fo", "Zm8=" },
		{ "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};

	return (cr_make_param_array(struct b64_vec, v, sizeof(v) / sizeof(v[0])));
}

ParameterizedTest(struct b64_vec *t, eio, base64_rfc4648)
{
	char		enc[32];
	unsigned char	dec[32];
	size_t		plen = strlen(t->plain), elen = strlen(t->enc), n;

	cr_assert_eq(base64_encoded_len(plen), elen);
	base64_encode(t->plain, plen, enc);
	cr_assert_str_eq(enc, t->enc);

	cr_assert_leq(plen, base64_decoded_max(elen));
	cr_assert_eq(base64_decode(t->enc, elen, dec, &n), 0);
	cr_assert_eq(n, plen);
	cr_assert_eq(memcmp(dec, t->plain, n), 0);

	/* Without its padding it decodes the same. */
	while (elen > 0 && t->enc[elen - 1] == '=')
		elen--;
	cr_assert_eq(base64_decode(t->enc, elen, dec, &n), 0);
	cr_assert_eq(n, plen);
	cr_assert_eq(memcmp(dec, t->plain, n), 0);
}

ParameterizedTestParameters(eio, base64_bad)
{
	static struct b64_vec v[] = {
		{ "", "Z" },
		{ "", "Zm9vY" },
		{ "", "=" },
		{ "", "==" },
		{ "", "Zg=" },
		{ "", "Zg===" },
		{ "", "Z===" },
		{ "", "====" },
		{ "", "Zm9v=" },
		{ "", "=Zg=" },
		{ "", "Zg==Zg==" },
		{ "", "Zm=v" },
		{ "", "Zm 9v" },
		{ "", "Zm9v\n" },
		{ "", "Zm-v" },
		{ "", "Zm_v" },
		{ "", "Zm9\x80" },
	};

	return (cr_make_param_array(struct b64_vec, v, sizeof(v) / sizeof(v[0])));
}

ParameterizedTest(struct b64_vec *t, eio, base64_bad)
{
	unsigned char	dec[32];
	size_t		n;

	cr_assert_eq(base64_decode(t->enc, strlen(t->enc), dec, &n), -1,
	    "%s", t->enc);
}

Test(eio, base64_all_bytes)
{
	unsigned char	in[256], dec[256];
	char		enc[400];
	size_t		i, len, n;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)i;
	for (len = 0; len <= sizeof(in); len++) {
		base64_encode(in, len, enc);
		cr_assert_eq(strlen(enc), base64_encoded_len(len));
		cr_assert_eq(base64_decode(enc, strlen(enc), dec, &n), 0);
		cr_assert_eq(n, len);
		cr_assert_eq(memcmp(dec, in, len), 0);
	}
	/* Unused low bits of the last character are ignored, as in Node. */
	cr_assert_eq(base64_decode("QR==", 4, dec, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(dec[0], 'A');
}
