/*
 * handshake.c: the facts of a client's Engine.IO handshake.  See
 * handshake.h.
 *
 * The address, then the headers and the query parameters as
 * "name\0value\0" pairs, each list ended by an empty name, are kept in
 * one block at the end of the struct, so a connection pays one
 * allocation for all of it (every idle client holds one), and a lookup is
 * a walk over a few hundred bytes.  Names are never empty: HTTP header
 * names are tokens, and query parameters without a name are skipped.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "handshake.h"
#include "http.h"
#include "util.h"
#include "xmalloc.h"

#define HANDSHAKE_XFF_HOPS_MAX	32	/* X-Forwarded-For entries looked at */

struct handshake {
	unsigned int	 hs_refs;
	char		 hs_block[];	/* address\0, headers\0, query parameters\0 */
};

/* The address of "1.2.3.4:5" or "[::1]:5", without brackets and port. */
static void
handshake_peer_ip(const char *peer, char *out, size_t len)
{
	const char *end;

	if (peer[0] == '[' && (end = strchr(peer, ']')) != NULL) {
		snprintf(out, len, "%.*s", (int)(end - peer - 1), peer + 1);
		return;
	}
	if ((end = strrchr(peer, ':')) != NULL && strchr(peer, ':') == end) {
		snprintf(out, len, "%.*s", (int)(end - peer), peer);
		return;
	}
	snprintf(out, len, "%s", peer);
}

static int
handshake_addr_in_len(const char *addr, size_t len, const struct conf_strings *list)
{
	unsigned char	a[ADDR_BYTES_MAX], net[ADDR_BYTES_MAX];
	size_t		i;
	int		n, nn, bits;

	if (list == NULL || list->cs_n == 0 ||
	    (n = addr_parse(addr, len, a)) == 0)
		return (0);
	for (i = 0; i < list->cs_n; i++) {
		nn = cidr_parse(list->cs_v[i], net, &bits);
		if (nn != 0 && cidr_contains(a, n, net, nn, bits))
			return (1);
	}
	return (0);
}

int
handshake_cidr_valid(const char *s)
{
	unsigned char	net[ADDR_BYTES_MAX];
	int		bits;

	return (cidr_parse(s, net, &bits) != 0);
}

int
handshake_addr_in(const char *addr, const struct conf_strings *list)
{
	return (handshake_addr_in_len(addr, strlen(addr), list));
}

/*
 * The client behind trusted proxies: X-Forwarded-For from the right, the
 * first entry that is not a trusted proxy (or the left-most one when all
 * are).  Entries that are not addresses end the walk: what lies left of
 * them cannot be trusted either.
 */
static void
handshake_forwarded(char address[HANDSHAKE_ADDR_MAX],
    const struct http_request *req, const struct conf_strings *trusted)
{
	const struct http_header	*h;
	const char			*v, *p, *start;
	unsigned char			 bytes[ADDR_BYTES_MAX];
	size_t				 len, hops = 0;

	if ((h = http_header_find(req, "X-Forwarded-For")) == NULL)
		return;
	v = h->hh_value;
	p = v + h->hh_valuelen;
	while (p > v && hops++ < HANDSHAKE_XFF_HOPS_MAX) {
		start = p;
		while (start > v && start[-1] != ',')
			start--;
		len = (size_t)(p - start);
		while (len > 0 && (*start == ' ' || *start == '\t')) {
			start++;
			len--;
		}
		while (len > 0 && (start[len - 1] == ' ' || start[len - 1] == '\t'))
			len--;
		if (addr_parse(start, len, bytes) == 0)
			return;
		snprintf(address, HANDSHAKE_ADDR_MAX, "%.*s", (int)len, start);
		if (!handshake_addr_in_len(start, len, trusted))
			return;
		p = start;
		while (p > v && p[-1] != ',')
			p--;
		if (p == v)
			return;
		p--;	/* the comma */
	}
}

/*
 * Append name\0value\0 to block (HANDSHAKE_BYTES_MAX bytes, on the
 * caller's stack: the pairs are gathered there and copied once into the
 * handshake's own allocation, so no growing buffer leaves a hole in the
 * heap between a session's long-lived objects).  0, or -1 when over the
 * bound.
 */
static int
handshake_put(char *block, size_t *len, const char *name, size_t nlen,
    const char *value, size_t vlen)
{
	if (*len + nlen + vlen + 2 > HANDSHAKE_BYTES_MAX)
		return (-1);
	memcpy(block + *len, name, nlen);
	block[*len + nlen] = '\0';
	memcpy(block + *len + nlen + 1, value, vlen);
	block[*len + nlen + 1 + vlen] = '\0';
	*len += nlen + vlen + 2;
	return (0);
}

/* Percent-decode s[0..len) in place ('+' is a space); the new length. */
static size_t
handshake_unescape(char *s, size_t len)
{
	unsigned char	c;
	size_t		i, o = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '%' && pct_decode_byte(s + i, len - i, &c) == 0) {
			s[o++] = (char)c;
			i += 2;
		} else if (s[i] == '+')
			s[o++] = ' ';
		else
			s[o++] = s[i];
	}
	return (o);
}

static void
handshake_query_parse(char *block, size_t *len, const struct http_request *req)
{
	char		 buf[HANDSHAKE_BYTES_MAX];
	const char	*q = req->hr_query, *end, *amp, *eq;
	size_t		 nlen, vlen;

	if (q == NULL)
		return;
	end = q + req->hr_query_len;
	while (q < end) {
		if ((amp = memchr(q, '&', (size_t)(end - q))) == NULL)
			amp = end;
		if ((eq = memchr(q, '=', (size_t)(amp - q))) == NULL)
			eq = amp;
		nlen = (size_t)(eq - q);
		vlen = eq < amp ? (size_t)(amp - eq - 1) : 0;
		if (nlen > 0 && nlen + vlen < sizeof(buf)) {
			memcpy(buf, q, nlen);
			nlen = handshake_unescape(buf, nlen);
			memcpy(buf + nlen, eq + 1, vlen);
			vlen = eq < amp ? handshake_unescape(buf + nlen, vlen) : 0;
			/* Names with a NUL in them would not be found anyway. */
			if (memchr(buf, '\0', nlen) == NULL)
				(void)handshake_put(block, len, buf, nlen,
				    buf + nlen, vlen);
		}
		q = amp + 1;
	}
}

struct handshake *
handshake_new(const char *peer, const struct http_request *req,
    const struct conf_strings *trusted)
{
	struct handshake	*hs;
	const struct http_header *h;
	char			 address[HANDSHAKE_ADDR_MAX], *p;
	char			 block[HANDSHAKE_BYTES_MAX];
	size_t			 i, alen, hlen, len = 0;

	handshake_peer_ip(peer, address, sizeof(address));
	if (handshake_addr_in(address, trusted))
		handshake_forwarded(address, req, trusted);
	for (i = 0; i < req->hr_nheaders; i++) {
		h = &req->hr_headers[i];
		if (handshake_put(block, &len, h->hh_name, h->hh_namelen,
		    h->hh_value, h->hh_valuelen) == -1)
			break;
	}
	hlen = len;
	handshake_query_parse(block, &len, req);

	/* Gathered: now one allocation of the exact size, lists ended. */
	alen = strlen(address) + 1;
	hs = xmalloc(sizeof(*hs) + alen + len + 2);
	hs->hs_refs = 1;
	p = hs->hs_block;
	memcpy(p, address, alen);
	p += alen;
	if (hlen > 0)
		memcpy(p, block, hlen);
	p += hlen;
	*p++ = '\0';
	if (len > hlen)
		memcpy(p, block + hlen, len - hlen);
	p += len - hlen;
	*p = '\0';
	return (hs);
}

struct handshake *
handshake_ref(struct handshake *hs)
{
	if (hs != NULL)
		hs->hs_refs++;
	return (hs);
}

void
handshake_free(struct handshake *hs)
{
	if (hs == NULL || --hs->hs_refs > 0)
		return;
	free(hs);
}

const char *
handshake_address(const struct handshake *hs)
{
	return (hs != NULL ? hs->hs_block : NULL);
}

/*
 * The value of the first pair named name in the list of headers
 * (query 0) or of query parameters (query 1), compared with cmp, or NULL.
 * One walk.
 */
static const char *
handshake_find(const struct handshake *hs, int query, const char *name,
    int (*cmp)(const char *, const char *))
{
	const char	*p, *v;

	if (hs == NULL || name == NULL)
		return (NULL);
	p = hs->hs_block + strlen(hs->hs_block) + 1;	/* after the address */
	if (query) {
		while (*p != '\0') {			/* over the headers */
			p += strlen(p) + 1;
			p += strlen(p) + 1;
		}
		p++;
	}
	while (*p != '\0') {
		v = p + strlen(p) + 1;
		if (cmp(p, name) == 0)
			return (v);
		p = v + strlen(v) + 1;
	}
	return (NULL);
}

const char *
handshake_header(const struct handshake *hs, const char *name)
{
	return (handshake_find(hs, 0, name, strcasecmp));
}

const char *
handshake_query(const struct handshake *hs, const char *name)
{
	return (handshake_find(hs, 1, name, strcmp));
}
