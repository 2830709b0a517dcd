/*
 * fuzz_eio.c: Engine.IO polling payloads and packets on arbitrary input.
 * An accepted payload, joined again with eio_payload_append, must split
 * into the same packets; base64 that decodes must encode and decode back
 * to the same bytes.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "eio_codec.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Copies of the packets a payload split into. */
struct list {
	struct eio_packet	*pkt;
	size_t			 n;
};

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_eio: %s\n", what);
		abort();
	}
}

static int
collect(const struct eio_packet *pkt, void *arg)
{
	struct list	*l = arg;
	void		*copy;

	check(l->n < EIO_PAYLOAD_PACKETS_MAX, "too many packets delivered");
	check(pkt->ep_type >= EIO_OPEN && pkt->ep_type <= EIO_NOOP,
	    "bad type");
	check(!pkt->ep_binary || pkt->ep_type == EIO_MESSAGE,
	    "binary packet not a message");
	l->pkt = realloc(l->pkt, (l->n + 1) * sizeof(*l->pkt));
	copy = malloc(pkt->ep_len + 1);
	check(l->pkt != NULL && copy != NULL, "out of memory");
	if (pkt->ep_len > 0)
		memcpy(copy, pkt->ep_data, pkt->ep_len);
	l->pkt[l->n] = *pkt;
	l->pkt[l->n].ep_data = copy;
	l->n++;
	return (0);
}

static void
list_free(struct list *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		free((void *)(uintptr_t)l->pkt[i].ep_data);
	free(l->pkt);
	l->pkt = NULL;
	l->n = 0;
}

static void
payload_round_trip(const uint8_t *data, size_t size)
{
	struct list	 a = { NULL, 0 }, b = { NULL, 0 };
	struct evbuffer	*out;
	size_t		 i, len;
	const char	*s;

	if (eio_payload_decode((const char *)data, size, collect, &a) == -1) {
		check(a.n == 0, "malformed payload delivered packets");
		return;
	}
	check(a.n > 0, "accepted payload without packets");

	out = evbuffer_new();
	check(out != NULL, "evbuffer_new");
	for (i = 0; i < a.n; i++)
		eio_payload_append(out, i > 0, &a.pkt[i]);
	len = evbuffer_get_length(out);
	s = (const char *)evbuffer_pullup(out, -1);
	check(eio_payload_decode(s, len, collect, &b) == 0,
	    "joined payload refused");
	check(a.n == b.n, "packet count changed");
	for (i = 0; i < a.n; i++) {
		check(a.pkt[i].ep_type == b.pkt[i].ep_type, "type changed");
		check(a.pkt[i].ep_binary == b.pkt[i].ep_binary,
		    "binary flag changed");
		check(a.pkt[i].ep_len == b.pkt[i].ep_len &&
		    memcmp(a.pkt[i].ep_data, b.pkt[i].ep_data,
		    a.pkt[i].ep_len) == 0, "data changed");
	}
	evbuffer_free(out);
	list_free(&a);
	list_free(&b);
}

/* The input as one packet, and as bare base64. */
static void
packet_and_base64(const uint8_t *data, size_t size)
{
	struct eio_packet	 pkt;
	unsigned char		*dec, *dec2;
	char			*enc;
	size_t			 n, n2;

	dec = malloc(base64_decoded_max(size) + 1);
	check(dec != NULL, "malloc");
	if (eio_packet_decode_base64((const char *)data, size, dec, &pkt) == 0) {
		check(pkt.ep_binary || (size > 0 && data[0] != 'b' &&
		    pkt.ep_data == (const void *)(data + 1) &&
		    pkt.ep_len == size - 1), "text packet misread");
		check(!pkt.ep_binary ||
		    pkt.ep_len <= base64_decoded_max(size), "overrun");
	}
	if (eio_packet_decode((const char *)data, size, &pkt) == 0)
		check(!pkt.ep_binary && data[0] >= '0' && data[0] <= '6',
		    "eio_packet_decode accepted a bad type");

	if (base64_decode((const char *)data, size, dec, &n) == 0) {
		check(n <= base64_decoded_max(size), "base64 overrun");
		enc = malloc(base64_encoded_len(n) + 1);
		dec2 = malloc(n + 1);
		check(enc != NULL && dec2 != NULL, "malloc");
		base64_encode(dec, n, enc);
		check(strlen(enc) == base64_encoded_len(n), "encoded length");
		check(base64_decode(enc, strlen(enc), dec2, &n2) == 0,
		    "own base64 refused");
		check(n2 == n && memcmp(dec, dec2, n) == 0,
		    "base64 bytes changed");
		free(enc);
		free(dec2);
	}
	free(dec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	payload_round_trip(data, size);
	packet_and_base64(data, size);
	return (0);
}
