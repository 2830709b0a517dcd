/*
 * cookie.c: RAIN's signed session cookie.  See cookie.h.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "cookie.h"
#include "secret.h"
#include "http.h"
#include "util.h"
#include "xmalloc.h"

#define COOKIE_HMAC_LEN		32	/* SHA-256 */
#define COOKIE_HEADER_NAME	"Cookie"

static const char cookie_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char cookie_hex[] = "0123456789abcdef";

int
cookie_secret_load(const char *path, char **secret, size_t *len, char *err,
    size_t errlen)
{
	return (secret_load("cookie_secret_file", path, COOKIE_SECRET_MAX,
	    secret, len, err, errlen));
}

void
cookie_secret_free(char *secret, size_t len)
{
	secret_free(secret, len);
}

int
cookie_sid_new(char sid[COOKIE_SID_LEN + 1])
{
	unsigned char	rnd[COOKIE_SID_BYTES];
	size_t		i;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return (-1);
	for (i = 0; i < sizeof(rnd); i++) {
		sid[2 * i] = cookie_hex[rnd[i] >> 4];
		sid[2 * i + 1] = cookie_hex[rnd[i] & 0x0f];
	}
	sid[COOKIE_SID_LEN] = '\0';
	return (0);
}

int
cookie_sid_valid(const char *s, size_t len)
{
	size_t	i;

	if (len != COOKIE_SID_LEN)
		return (0);
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return (0);
	return (1);
}

/* The unpadded base64 signature of sid (COOKIE_SIG_LEN characters). */
static void
cookie_signature(const char *secret, size_t secretlen, const char *sid,
    char sig[COOKIE_SIG_LEN])
{
	unsigned char	mac[EVP_MAX_MD_SIZE];
	unsigned int	maclen = 0;
	uint32_t	v;
	size_t		i, o = 0;

	if (HMAC(EVP_sha256(), secret, (int)secretlen,
	    (const unsigned char *)sid, COOKIE_SID_LEN, mac, &maclen) == NULL ||
	    maclen != COOKIE_HMAC_LEN) {
		/* Never matches a signature: base64 has no '!'. */
		memset(sig, '!', COOKIE_SIG_LEN);
		return;
	}
	/* 32 bytes: ten full groups of three, then two bytes (three characters). */
	for (i = 0; i + 3 <= COOKIE_HMAC_LEN; i += 3) {
		v = (uint32_t)mac[i] << 16 | (uint32_t)mac[i + 1] << 8 | mac[i + 2];
		sig[o++] = cookie_b64[(v >> 18) & 0x3f];
		sig[o++] = cookie_b64[(v >> 12) & 0x3f];
		sig[o++] = cookie_b64[(v >> 6) & 0x3f];
		sig[o++] = cookie_b64[v & 0x3f];
	}
	v = (uint32_t)mac[i] << 16 | (uint32_t)mac[i + 1] << 8;
	sig[o++] = cookie_b64[(v >> 18) & 0x3f];
	sig[o++] = cookie_b64[(v >> 12) & 0x3f];
	sig[o++] = cookie_b64[(v >> 6) & 0x3f];
	OPENSSL_cleanse(mac, sizeof(mac));
}

void
cookie_sign(const char *secret, size_t secretlen, const char *sid,
    char value[COOKIE_VALUE_LEN + 1])
{
	memcpy(value, sid, COOKIE_SID_LEN);
	value[COOKIE_SID_LEN] = '.';
	cookie_signature(secret, secretlen, sid, value + COOKIE_SID_LEN + 1);
	value[COOKIE_VALUE_LEN] = '\0';
}

/*
 * Percent-decode at most outlen bytes of in into out; -1 on a bad escape
 * or when the result would be longer.  Some clients quote the value.
 */
static int
cookie_decode(const char *in, size_t len, char *out, size_t outlen, size_t *n)
{
	size_t		i, o = 0;
	unsigned char	c;

	if (len >= 2 && in[0] == '"' && in[len - 1] == '"') {
		in++;
		len -= 2;
	}
	for (i = 0; i < len; i++) {
		if (o == outlen)
			return (-1);
		if (in[i] != '%') {
			out[o++] = in[i];
			continue;
		}
		if (pct_decode_byte(in + i, len - i, &c) == -1)
			return (-1);
		out[o++] = (char)c;
		i += 2;
	}
	*n = o;
	return (0);
}

int
cookie_verify(const char *secret, size_t secretlen, const char *value,
    size_t len, char sid[COOKIE_SID_LEN + 1])
{
	char	raw[COOKIE_VALUE_LEN + 1], sig[COOKIE_SIG_LEN];
	size_t	n;

	if (len > COOKIE_VALUE_ENC_MAX ||
	    cookie_decode(value, len, raw, sizeof(raw), &n) == -1 ||
	    n != COOKIE_VALUE_LEN || raw[COOKIE_SID_LEN] != '.' ||
	    !cookie_sid_valid(raw, COOKIE_SID_LEN))
		return (-1);
	cookie_signature(secret, secretlen, raw, sig);
	if (CRYPTO_memcmp(sig, raw + COOKIE_SID_LEN + 1, COOKIE_SIG_LEN) != 0)
		return (-1);
	memcpy(sid, raw, COOKIE_SID_LEN);
	sid[COOKIE_SID_LEN] = '\0';
	return (0);
}

int
cookie_header_sid(const char *secret, size_t secretlen, const char *name,
    const char *header, size_t len, char sid[COOKIE_SID_LEN + 1])
{
	const char	*p, *end, *pair, *eq, *semi;
	size_t		 namelen = strlen(name), pairs = 0;

	if (len > COOKIE_HEADER_MAX)
		len = COOKIE_HEADER_MAX;
	p = header;
	end = header + len;
	/* "a=1; b=2": pairs separated by ';', blanks around them. */
	while (p < end && pairs++ < COOKIE_PAIRS_MAX) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == ';'))
			p++;
		if (p == end)
			break;
		pair = p;
		if ((semi = memchr(p, ';', (size_t)(end - p))) == NULL)
			semi = end;
		p = semi;
		while (semi > pair && (semi[-1] == ' ' || semi[-1] == '\t'))
			semi--;
		if ((eq = memchr(pair, '=', (size_t)(semi - pair))) == NULL)
			continue;
		if ((size_t)(eq - pair) != namelen ||
		    memcmp(pair, name, namelen) != 0)
			continue;
		if (cookie_verify(secret, secretlen, eq + 1,
		    (size_t)(semi - eq - 1), sid) == 0)
			return (0);
	}
	return (-1);
}

int
cookie_request_sid(const char *secret, size_t secretlen, const char *name,
    const struct http_request *req, char sid[COOKIE_SID_LEN + 1])
{
	const struct http_header	*hh;
	size_t				 i;

	for (i = 0; i < req->hr_nheaders; i++) {
		hh = &req->hr_headers[i];
		if (hh->hh_namelen != strlen(COOKIE_HEADER_NAME) ||
		    strncasecmp(hh->hh_name, COOKIE_HEADER_NAME,
		    hh->hh_namelen) != 0)
			continue;
		if (cookie_header_sid(secret, secretlen, name, hh->hh_value,
		    hh->hh_valuelen, sid) == 0)
			return (0);
	}
	return (-1);
}

int
cookie_set_header(const char *name, const char *value, int secure,
    int64_t max_age_s, char *out, size_t outlen)
{
	char	enc[COOKIE_VALUE_ENC_MAX + 1], age[32];
	size_t	i, o = 0;
	int	n;

	/* Only the base64 signature has characters a cookie value may not hold. */
	for (i = 0; value[i] != '\0'; i++) {
		if (o + 3 >= sizeof(enc))
			return (-1);
		if (value[i] == '+' || value[i] == '/' || value[i] == '=' ||
		    value[i] == '%' || value[i] == ';' || value[i] == ',' ||
		    value[i] == '"' || value[i] == ' ' || value[i] == '\\') {
			enc[o++] = '%';
			enc[o++] = "0123456789ABCDEF"[(unsigned char)value[i] >> 4];
			enc[o++] = "0123456789ABCDEF"[(unsigned char)value[i] & 0x0f];
		} else
			enc[o++] = value[i];
	}
	enc[o] = '\0';
	age[0] = '\0';
	if (max_age_s > 0)
		snprintf(age, sizeof(age), "; Max-Age=%lld", (long long)max_age_s);
	n = snprintf(out, outlen, "Set-Cookie: %s=%s; Path=/; HttpOnly; "
	    "SameSite=Lax%s%s\r\n", name, enc, secure ? "; Secure" : "", age);
	if (n < 0 || (size_t)n >= outlen) {
		if (outlen > 0)
			out[0] = '\0';
		return (-1);
	}
	return (0);
}
