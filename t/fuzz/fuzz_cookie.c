/*
 * fuzz_cookie.c: the Cookie header and cookie value parsers.
 *
 * Besides memory errors, this looks for logic errors: a sid accepted
 * from any input must be well formed and must sign to a value that
 * verifies again, raw and URL-encoded, and that the header parser finds
 * among other cookies.  The input is also checked as one cookie value
 * and, with its first byte as the split, as a secret and a header.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cookie.h"

#define FUZZ_SECRET		"fuzz secret"
#define FUZZ_NAME		"rain.sid"
#define FUZZ_HEADER_MAX		(COOKIE_VALUE_ENC_MAX + 64)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Whatever was accepted must be consistent with signing. */
static void
fuzz_roundtrip(const char *secret, size_t secretlen, const char *sid)
{
	char	value[COOKIE_VALUE_LEN + 1], line[512], hdr[FUZZ_HEADER_MAX];
	char	again[COOKIE_SID_LEN + 1];
	size_t	n;

	if (!cookie_sid_valid(sid, strlen(sid)))
		abort();
	cookie_sign(secret, secretlen, sid, value);
	if (cookie_verify(secret, secretlen, value, strlen(value), again) != 0 ||
	    strcmp(again, sid) != 0)
		abort();
	if (cookie_set_header(FUZZ_NAME, value, 1, 60, line, sizeof(line)) != 0)
		abort();
	/* "Set-Cookie: rain.sid=" then the encoded value up to ';'. */
	n = strcspn(line + 21, ";");
	memcpy(hdr, "a=b; ", 5);
	memcpy(hdr + 5, FUZZ_NAME "=", strlen(FUZZ_NAME) + 1);
	memcpy(hdr + 5 + strlen(FUZZ_NAME) + 1, line + 21, n);
	n += 5 + strlen(FUZZ_NAME) + 1;
	if (cookie_header_sid(secret, secretlen, FUZZ_NAME, hdr, n, again) != 0 ||
	    strcmp(again, sid) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*buf, sid[COOKIE_SID_LEN + 1];
	size_t	 split;

	/* An exact-size copy, for ASan to catch any read past the end. */
	if ((buf = malloc(size > 0 ? size : 1)) == NULL)
		return (0);
	memcpy(buf, data, size);

	if (cookie_verify(FUZZ_SECRET, strlen(FUZZ_SECRET), buf, size, sid) == 0)
		fuzz_roundtrip(FUZZ_SECRET, strlen(FUZZ_SECRET), sid);
	if (cookie_header_sid(FUZZ_SECRET, strlen(FUZZ_SECRET), FUZZ_NAME, buf,
	    size, sid) == 0)
		fuzz_roundtrip(FUZZ_SECRET, strlen(FUZZ_SECRET), sid);
	if (size > 1) {
		split = 1 + data[0] % (size - 1);
		if (cookie_header_sid(buf + 1, split - 1, FUZZ_NAME, buf + split,
		    size - split, sid) == 0)
			fuzz_roundtrip(buf + 1, split - 1, sid);
	}
	if (cookie_sid_valid(buf, size)) {
		memcpy(sid, buf, COOKIE_SID_LEN);
		sid[COOKIE_SID_LEN] = '\0';
		fuzz_roundtrip(FUZZ_SECRET, strlen(FUZZ_SECRET), sid);
	}
	free(buf);
	return (0);
}
