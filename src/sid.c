/*
 * sid.c: Engine.IO session ids.  See sid.h.
 */
#include "config.h"

#include <sys/random.h>

#include <string.h>

#include "log.h"
#include "sid.h"

static const char sid_b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int
sid_b64url_value(char ch)
{
	const char *p;

	if (ch == '\0' || (p = strchr(sid_b64url, ch)) == NULL)
		return (-1);
	return ((int)(p - sid_b64url));
}

int
sid_b64url_valid(const char *p, size_t len)
{
	size_t i;

	if (len == 0)
		return (0);
	for (i = 0; i < len; i++)
		if (sid_b64url_value(p[i]) == -1)
			return (0);
	return (1);
}

void
sid_b64url_digits(const unsigned char *bytes, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = sid_b64url[bytes[i] & 63];
}

void
sid_new(char sid[SID_LEN + 1], const char *tag, int slot, unsigned generation)
{
	unsigned char	rnd[SID_LEN];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		fatal("getrandom");
	memcpy(sid, tag, SID_TAG_LEN);
	sid[SID_TAG_LEN] = sid_b64url[(unsigned)slot & 63];
	sid[SID_TAG_LEN + 1] = sid_b64url[generation & 63];
	sid_b64url_digits(rnd + SID_TAG_LEN + 2, SID_LEN - SID_TAG_LEN - 2,
	    sid + SID_TAG_LEN + 2);
	sid[SID_LEN] = '\0';
}

int
sid_parse(const char *sid, size_t len, char tag[SID_TAG_LEN + 1], int *slot,
    int *generation)
{
	if (len != SID_LEN || !sid_b64url_valid(sid, len))
		return (-1);
	memcpy(tag, sid, SID_TAG_LEN);
	tag[SID_TAG_LEN] = '\0';
	*slot = sid_b64url_value(sid[SID_TAG_LEN]);
	*generation = sid_b64url_value(sid[SID_TAG_LEN + 1]);
	return (0);
}
