/*
 * fuzz_sio.c: the Socket.IO decoder on arbitrary input.  Whatever it
 * accepts must encode to text that decodes to an equal packet, and that
 * text must be a fixed point of decoding and encoding again; binary
 * packets are then completed with attachments cut from the input.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "sio_codec.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_sio: %s\n", what);
		abort();
	}
}

/* The encoding of p, NUL-terminated in a buffer the caller frees. */
static char *
encode(const struct sio_packet *p, size_t *lenp)
{
	struct evbuffer	*b = evbuffer_new();
	char		*s;
	size_t		 len;

	check(b != NULL, "evbuffer_new");
	check(sio_packet_encode(b, p) == 0, "a decoded packet does not encode");
	len = evbuffer_get_length(b);
	s = malloc(len + 1);
	check(s != NULL, "malloc");
	check(evbuffer_remove(b, s, len) == (int)len, "evbuffer_remove");
	s[len] = '\0';
	evbuffer_free(b);
	*lenp = len;
	return (s);
}

static void
same_packet(const struct sio_packet *p, const struct sio_packet *q)
{
	check(p->sp_type == q->sp_type, "type changed");
	check(strcmp(p->sp_nsp, q->sp_nsp) == 0, "namespace changed");
	check(p->sp_id == q->sp_id, "ack id changed");
	check(p->sp_nattach == q->sp_nattach, "attachment count changed");
	check(sio_json_equal(p->sp_data, q->sp_data), "data changed");
}

/* Any bytes as a JSON string: what parses back is what went in. */
static void
string_round_trip(const uint8_t *data, size_t size)
{
	struct evbuffer	*b = evbuffer_new();
	yajl_val	 v;
	size_t		 i, len;
	int		 ascii = 1;

	check(b != NULL, "evbuffer_new");
	sio_json_string(b, (const char *)data, size);
	len = evbuffer_get_length(b);
	v = sio_json_parse((const char *)evbuffer_pullup(b, -1), len, NULL, 0);
	for (i = 0; i < size; i++)
		if (data[i] == 0 || data[i] >= 0x80)
			ascii = 0;
	/* ASCII without NUL always comes back; other bytes may be refused. */
	check(v != NULL || !ascii, "escaped ASCII does not parse");
	if (v != NULL) {
		/*
		 * The tree's C string ends at the first NUL ("\u0000"); the
		 * text itself is forwarded as sent (sio_json_element).
		 */
		const uint8_t	*nul = memchr(data, 0, size);
		size_t		 keep = nul != NULL ? (size_t)(nul - data) : size;

		check(YAJL_IS_STRING(v), "escaped string is not a string");
		check(strlen(v->u.string) == keep &&
		    memcmp(v->u.string, data, keep) == 0, "string changed");
		yajl_tree_free(v);
	}
	evbuffer_free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sio_packet	 p, q;
	char			 err[SIO_ERR_MAX] = "";
	char			*s, *t;
	size_t			 i, len, tlen, alen;
	int			 r, want;

	string_round_trip(data, size);

	if (sio_decode((const char *)data, size, &p, err, sizeof(err)) == -1) {
		check(err[0] != '\0', "refused without a reason");
		check(p.sp_nsp == NULL && p.sp_data == NULL &&
		    p.sp_attach == NULL, "refused packet holds memory");
		return (0);
	}
	check(p.sp_nsp != NULL && p.sp_nsp[0] == '/', "bad namespace");
	check(strlen(p.sp_nsp) <= SIO_NSP_MAX, "namespace too long");
	check(p.sp_id >= -1 && p.sp_id <= SIO_ID_MAX, "bad ack id");
	check(p.sp_nattach <= SIO_ATTACHMENTS_MAX, "too many attachments");

	/* Every element of an array payload is found, and parses alone. */
	if (p.sp_data != NULL && YAJL_IS_ARRAY(p.sp_data)) {
		const char	*ep;
		size_t		 elen;
		yajl_val	 ev;

		check(p.sp_raw != NULL, "no raw text");
		for (i = 0; i < p.sp_data->u.array.len; i++) {
			check(sio_json_element(p.sp_raw, p.sp_rawlen, i, &ep,
			    &elen) == 0, "element not found");
			ev = sio_json_parse(ep, elen, NULL, 0);
			check(ev != NULL, "element does not parse alone");
			check(sio_json_equal(ev, p.sp_data->u.array.values[i]),
			    "element differs from the tree");
			yajl_tree_free(ev);
		}
		check(sio_json_element(p.sp_raw, p.sp_rawlen, i, &ep, &elen) == -1,
		    "element past the end");
	}

	s = encode(&p, &len);
	if (sio_decode(s, len, &q, err, sizeof(err)) == -1) {
		fprintf(stderr, "fuzz_sio: re-encoded \"%s\" refused: %s\n",
		    s, err);
		abort();
	}
	same_packet(&p, &q);
	t = encode(&q, &tlen);
	check(tlen == len && memcmp(s, t, len) == 0, "encoding not stable");
	free(t);
	free(s);
	sio_packet_clear(&q);

	/* Complete a binary packet with slices of the input. */
	for (i = 0; i < p.sp_nattach; i++) {
		alen = size == 0 ? 0 : (i * 31) % (size + 1);
		r = sio_add_attachment(&p, data, alen);
		if (i + 1 < p.sp_nattach)
			check(r == 0, "attachment refused early");
		else {
			want = sio_placeholders_check(&p) == 0 ? 1 : -1;
			check(r == want, "completion disagrees with the check");
		}
		check(p.sp_attach[i].sa_len == alen &&
		    (alen == 0 || memcmp(p.sp_attach[i].sa_data, data,
		    alen) == 0), "attachment bytes changed");
	}
	check(sio_complete(&p), "not complete");
	check(sio_add_attachment(&p, data, 0) == -1, "attachment too many");
	sio_packet_clear(&p);
	check(p.sp_nsp == NULL && p.sp_id == -1, "not cleared");
	return (0);
}
