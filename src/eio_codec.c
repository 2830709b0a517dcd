/*
 * eio_codec.c: Engine.IO protocol v4 packets and polling payloads.  See
 * eio_codec.h.
 *
 * What is valid follows engine.io-parser v5 (protocol 4): a text packet
 * is a type digit 0..6 and any data; a polling payload is records split
 * on 0x1e, each a text packet or "b" and base64.  Where the reference is
 * lenient by accident (Node's base64 decoder skips characters it does not
 * know), this decoder is strict: such input never comes from a real client.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "eio_codec.h"
#include "log.h"
#include "xmalloc.h"

#define EIO_TYPE_MIN		EIO_OPEN
#define EIO_TYPE_MAX		EIO_NOOP

#define BASE64_PAD		'='
#define BASE64_QUANTUM_IN	3	/* bytes per group of characters */
#define BASE64_QUANTUM_OUT	4	/* characters per group */
#define BASE64_PAD_MAX		2
#define BASE64_BITS		6	/* bits per character */
#define BASE64_CHUNK		256	/* groups encoded per stack buffer */

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void	eio_add(struct evbuffer *, const void *, size_t);
static int	base64_value(unsigned char);
static int	base64_scan(const char *, size_t, unsigned char *, size_t *);
static int	eio_record_check(const char *, size_t, int *, size_t *);

/*
 * Appending to an evbuffer fails only when memory runs out, which is
 * fatal here as it is for xmalloc.
 */
static void
eio_add(struct evbuffer *out, const void *data, size_t len)
{
	if (evbuffer_add(out, data, len) == -1)
		fatalx("%s: out of memory", __func__);
}

int
eio_packet_decode(const char *buf, size_t len, struct eio_packet *pkt)
{
	int	c;

	if (len == 0)
		return (-1);
	c = (unsigned char)buf[0];
	if (c < '0' + EIO_TYPE_MIN || c > '0' + EIO_TYPE_MAX)
		return (-1);
	pkt->ep_type = (enum eio_type)(c - '0');
	pkt->ep_binary = 0;
	pkt->ep_data = buf + 1;
	pkt->ep_len = len - 1;
	return (0);
}

int
eio_packet_decode_base64(const char *buf, size_t len, unsigned char *scratch,
    struct eio_packet *pkt)
{
	size_t	n;

	if (len == 0 || buf[0] != EIO_BINARY_PREFIX)
		return (eio_packet_decode(buf, len, pkt));
	if (base64_scan(buf + 1, len - 1, scratch, &n) == -1)
		return (-1);
	pkt->ep_type = EIO_MESSAGE;
	pkt->ep_binary = 1;
	pkt->ep_data = scratch;
	pkt->ep_len = n;
	return (0);
}

/*
 * Check one payload record without decoding it.  For a binary record
 * *binary is set and *binlen to the length of its base64 text, else
 * *binlen is 0.
 */
static int
eio_record_check(const char *rec, size_t len, int *binary, size_t *binlen)
{
	struct eio_packet	 pkt;
	size_t			 n;

	*binlen = 0;
	if (len > 0 && rec[0] == EIO_BINARY_PREFIX) {
		if (base64_scan(rec + 1, len - 1, NULL, &n) == -1)
			return (-1);
		*binary = 1;
		*binlen = len - 1;
		return (0);
	}
	return (eio_packet_decode(rec, len, &pkt));
}

int
eio_payload_decode(const char *buf, size_t len,
    int (*fn)(const struct eio_packet *, void *), void *arg)
{
	struct eio_packet	 pkt;
	const char		*p, *sep, *end = buf + len;
	unsigned char		*scratch = NULL;
	size_t			 npkt = 0, binlen, binmax = 0;
	int			 ret = -1, binary = 0;

	/*
	 * The whole payload is checked before the first packet is handed
	 * on, so a malformed payload has no effect at all; the second pass
	 * then cannot fail except through fn.  An empty payload is one empty
	 * record, which is malformed as in the reference.
	 */
	for (p = buf;; p = sep + 1) {
		sep = memchr(p, EIO_RECORD_SEP, (size_t)(end - p));
		if (++npkt > EIO_PAYLOAD_PACKETS_MAX)
			return (-1);
		if (eio_record_check(p, (size_t)((sep ? sep : end) - p),
		    &binary, &binlen) == -1)
			return (-1);
		if (binlen > binmax)
			binmax = binlen;
		if (sep == NULL)
			break;
	}

	/*
	 * One scratch buffer, big enough for the largest binary record (and
	 * never NULL, so that even an empty message has a data pointer).
	 */
	if (binary)
		scratch = xmalloc(base64_decoded_max(binmax));
	for (p = buf;; p = sep + 1) {
		sep = memchr(p, EIO_RECORD_SEP, (size_t)(end - p));
		if (eio_packet_decode_base64(p, (size_t)((sep ? sep : end) - p),
		    scratch, &pkt) == -1)
			goto done;
		if (fn(&pkt, arg) == -1)
			goto done;
		if (sep == NULL)
			break;
	}
	ret = 0;
done:
	free(scratch);
	return (ret);
}

void
eio_payload_append(struct evbuffer *out, int sep, const struct eio_packet *pkt)
{
	const unsigned char	*data = pkt->ep_data;
	char			 enc[BASE64_CHUNK * BASE64_QUANTUM_OUT + 1];
	char			 c;
	size_t			 off, n;

	if (sep) {
		c = EIO_RECORD_SEP;
		eio_add(out, &c, 1);
	}
	if (!pkt->ep_binary) {
		eio_packet_encode(out, pkt->ep_type, pkt->ep_data, pkt->ep_len);
		return;
	}
	c = EIO_BINARY_PREFIX;
	eio_add(out, &c, 1);
	/* Whole groups per chunk, so only the last chunk can carry padding. */
	for (off = 0; off < pkt->ep_len; off += n) {
		n = pkt->ep_len - off;
		if (n > BASE64_CHUNK * BASE64_QUANTUM_IN)
			n = BASE64_CHUNK * BASE64_QUANTUM_IN;
		base64_encode(data + off, n, enc);
		eio_add(out, enc, base64_encoded_len(n));
	}
}

void
eio_packet_encode(struct evbuffer *out, enum eio_type type, const void *data,
    size_t len)
{
	char	c;

	if (type < EIO_TYPE_MIN || type > EIO_TYPE_MAX)
		fatalx("%s: bad packet type %d", __func__, (int)type);
	c = (char)('0' + type);
	eio_add(out, &c, 1);
	if (len > 0)
		eio_add(out, data, len);
}

size_t
base64_encoded_len(size_t len)
{
	return ((len + BASE64_QUANTUM_IN - 1) / BASE64_QUANTUM_IN *
	    BASE64_QUANTUM_OUT);
}

size_t
base64_decoded_max(size_t len)
{
	return ((len + BASE64_QUANTUM_OUT - 1) / BASE64_QUANTUM_OUT *
	    BASE64_QUANTUM_IN);
}

void
base64_encode(const void *src, size_t len, char *out)
{
	const unsigned char	*in = src;
	uint32_t		 v;
	size_t			 i;

	for (i = 0; i + BASE64_QUANTUM_IN <= len; i += BASE64_QUANTUM_IN) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*out++ = base64_alphabet[(v >> 18) & 0x3f];
		*out++ = base64_alphabet[(v >> 12) & 0x3f];
		*out++ = base64_alphabet[(v >> 6) & 0x3f];
		*out++ = base64_alphabet[v & 0x3f];
	}
	switch (len - i) {
	case 1:
		v = (uint32_t)in[i] << 16;
		*out++ = base64_alphabet[(v >> 18) & 0x3f];
		*out++ = base64_alphabet[(v >> 12) & 0x3f];
		*out++ = BASE64_PAD;
		*out++ = BASE64_PAD;
		break;
	case 2:
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		*out++ = base64_alphabet[(v >> 18) & 0x3f];
		*out++ = base64_alphabet[(v >> 12) & 0x3f];
		*out++ = base64_alphabet[(v >> 6) & 0x3f];
		*out++ = BASE64_PAD;
		break;
	}
	*out = '\0';
}

/* The 6-bit value of a character of the standard alphabet, or -1. */
static int
base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return (c - 'A');
	if (c >= 'a' && c <= 'z')
		return (c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (c - '0' + 52);
	if (c == '+')
		return (62);
	if (c == '/')
		return (63);
	return (-1);
}

/*
 * Decode (out not NULL) or only check (out NULL) standard base64.
 * Padding may be left out, but when present it must complete the last
 * group of four.  Like most decoders, and like Node's, this one ignores
 * the unused low bits of the last character, so "QR==" and "QQ==" both
 * decode to "A".
 */
static int
base64_scan(const char *in, size_t len, unsigned char *out, size_t *outlen)
{
	uint32_t	acc = 0;
	size_t		i, n = len, o = 0;
	int		v, bits = 0;

	if (n > 0 && in[n - 1] == BASE64_PAD) {
		if (len % BASE64_QUANTUM_OUT != 0)
			return (-1);
		while (n > 0 && in[n - 1] == BASE64_PAD &&
		    len - n < BASE64_PAD_MAX)
			n--;
	}
	/* One character alone carries only six bits: not even a byte. */
	if (n % BASE64_QUANTUM_OUT == 1)
		return (-1);
	for (i = 0; i < n; i++) {
		if ((v = base64_value((unsigned char)in[i])) == -1)
			return (-1);
		acc = (acc << BASE64_BITS | (uint32_t)v) & 0xffffff;
		bits += BASE64_BITS;
		if (bits >= 8) {
			bits -= 8;
			if (out != NULL)
				out[o] = (unsigned char)(acc >> bits);
			o++;
		}
	}
	*outlen = o;
	return (0);
}

int
base64_decode(const char *in, size_t len, unsigned char *out, size_t *outlen)
{
	return (base64_scan(in, len, out, outlen));
}
