/*
 * cookie.h: RAIN's signed session cookie.
 *
 *	<name>=<sid>.<signature>
 *
 * The sid is 32 lowercase hexadecimal characters; the signature is the
 * standard base64 of HMAC-SHA256(secret, sid) without its '=' padding
 * (43 characters).  Browsers get the value URL-encoded ('+' as %2B, '/'
 * as %2F); either form is accepted.  The secret is the content of a file
 * that only its owner may read.
 *
 * Nothing here allocates except cookie_secret_load; every input is
 * bounded by the constants below.
 */
#ifndef RAIND_COOKIE_H
#define RAIND_COOKIE_H

#include <stddef.h>
#include <stdint.h>

struct http_request;

#define COOKIE_SID_LEN		32	/* hex characters of a session id */
#define COOKIE_SID_BYTES	16	/* random bytes behind them */
#define COOKIE_SIG_LEN		43	/* base64 of 32 bytes, unpadded */
#define COOKIE_VALUE_LEN	(COOKIE_SID_LEN + 1 + COOKIE_SIG_LEN)
#define COOKIE_VALUE_ENC_MAX	(COOKIE_VALUE_LEN * 3)	/* all URL-encoded */
#define COOKIE_SECRET_MAX	4096	/* bytes of cookie_secret_file */
#define COOKIE_HEADER_MAX	8192	/* bytes of one Cookie header looked at */
#define COOKIE_PAIRS_MAX	64	/* cookies looked at in one header */
#define COOKIE_NAME_MAX		64	/* as conf.c allows for cookie_name */

/*
 * Read the secret: the file's content less one trailing newline.  -1 with
 * err when the file is missing, unreadable, empty, too large, or
 * readable or writable by group or others.  *secret is the caller's to
 * free (cookie_secret_free wipes it first).
 */
int	cookie_secret_load(const char *path, char **secret, size_t *len,
	    char *err, size_t errlen);
void	cookie_secret_free(char *secret, size_t len);

/* A new session id from the kernel's random source; -1 if unavailable. */
int	cookie_sid_new(char sid[COOKIE_SID_LEN + 1]);
/* Is s a well-formed session id (32 lowercase hex)? */
int	cookie_sid_valid(const char *s, size_t len);

/* "<sid>.<signature>" (COOKIE_VALUE_LEN + 1 bytes, NUL-terminated). */
void	cookie_sign(const char *secret, size_t secretlen, const char *sid,
	    char value[COOKIE_VALUE_LEN + 1]);
/*
 * Check one cookie value, raw or URL-encoded; on success copy its sid
 * (COOKIE_SID_LEN + 1 bytes) and return 0.  The signature is compared in
 * constant time.
 */
int	cookie_verify(const char *secret, size_t secretlen, const char *value,
	    size_t len, char sid[COOKIE_SID_LEN + 1]);
/*
 * Look through the value of one Cookie header for cookies called name and
 * return 0 with the sid of the first validly signed one, else -1.
 */
int	cookie_header_sid(const char *secret, size_t secretlen, const char *name,
	    const char *header, size_t len, char sid[COOKIE_SID_LEN + 1]);
/* The same over every Cookie header of a request. */
int	cookie_request_sid(const char *secret, size_t secretlen, const char *name,
	    const struct http_request *, char sid[COOKIE_SID_LEN + 1]);

/*
 * "Set-Cookie: <name>=<URL-encoded value>; Path=/; HttpOnly; SameSite=Lax
 * [; Secure][; Max-Age=N]\r\n" into out; -1 if it does not fit.
 */
int	cookie_set_header(const char *name, const char *value, int secure,
	    int64_t max_age_s, char *out, size_t outlen);

#endif
