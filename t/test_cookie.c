/*
 * test_cookie.c: RAIN's signed session cookie.
 *
 * The signatures below were computed outside raind, with
 *	printf %s SID | openssl dgst -sha256 -hmac SECRET -binary |
 *	    openssl base64 -A | tr -d =
 * so a mistake in the signing code cannot hide in the expected values.
 */
#include "config.h"

#include <criterion/criterion.h>

#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cookie.h"
#include "http.h"

struct vector {
	const char	*secret;
	const char	*sid;
	const char	*sig;
};

static const struct vector vectors[] = {
	{ "s3cret", "0123456789abcdef0123456789abcdef",
	    "rAL6cBT4FhmA1UZQ3DMTxr1w/mQSBZkeJRnh3GYJGQo" },
	{ "keyboard cat", "a1b2c3d4e5f60718293a4b5c6d7e8f90",
	    "Ux/STfgG8dTXPrxeqtnxxd036R4rJKNPuELZD4e10mA" },
	{ "x", "ffffffffffffffffffffffffffffffff",
	    "fir5QSb1pMSlFU2RuuUfSrkr3P8Gy2De/Mq1EMmvSqY" },
	{ "s3cret", "11111111111111111111111111111111",
	    "3tqV28Uzna6j6vppTZgh2zJePP6i+Zo31tCphnSxH7Q" },
	{ "s3cret", "22222222222222222222222222222222",
	    "+YdZJTcUcGQnZ3lOXV3m9/mH37pJiIBRQbgkMIEih2I" },
};
#define NVECTORS	(sizeof(vectors) / sizeof(vectors[0]))

/* Percent-encode '+', '/' and '=' as a browser's cookie library does. */
static void
urlencode(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *in != '\0' && o + 4 < outlen; in++) {
		if (*in == '+' || *in == '/' || *in == '=')
			o += (size_t)snprintf(out + o, outlen - o, "%%%02X",
			    (unsigned char)*in);
		else
			out[o++] = *in;
	}
	out[o] = '\0';
}

Test(cookie, sign_vectors)
{
	char	value[COOKIE_VALUE_LEN + 1], want[COOKIE_VALUE_LEN + 1];
	size_t	i;

	for (i = 0; i < NVECTORS; i++) {
		cookie_sign(vectors[i].secret, strlen(vectors[i].secret),
		    vectors[i].sid, value);
		snprintf(want, sizeof(want), "%s.%s", vectors[i].sid, vectors[i].sig);
		cr_assert_str_eq(value, want, "vector %zu", i);
	}
}

Test(cookie, verify_raw_and_encoded)
{
	char	value[COOKIE_VALUE_ENC_MAX + 1], enc[COOKIE_VALUE_ENC_MAX + 1];
	char	sid[COOKIE_SID_LEN + 1];
	size_t	i;

	for (i = 0; i < NVECTORS; i++) {
		const struct vector *v = &vectors[i];

		snprintf(value, sizeof(value), "%s.%s", v->sid, v->sig);
		memset(sid, 0, sizeof(sid));
		cr_assert_eq(cookie_verify(v->secret, strlen(v->secret), value,
		    strlen(value), sid), 0, "raw %zu", i);
		cr_assert_str_eq(sid, v->sid);
		urlencode(value, enc, sizeof(enc));
		memset(sid, 0, sizeof(sid));
		cr_assert_eq(cookie_verify(v->secret, strlen(v->secret), enc,
		    strlen(enc), sid), 0, "encoded %zu: %s", i, enc);
		cr_assert_str_eq(sid, v->sid);
	}
	/* Lowercase escapes and a quoted value are accepted too. */
	snprintf(value, sizeof(value), "\"%s.%s\"", vectors[1].sid,
	    "Ux%2fSTfgG8dTXPrxeqtnxxd036R4rJKNPuELZD4e10mA");
	cr_assert_eq(cookie_verify("keyboard cat", 12, value, strlen(value),
	    sid), 0);
}

Test(cookie, refuse_tampered)
{
	const struct vector	*v = &vectors[0];
	char			 value[COOKIE_VALUE_ENC_MAX + 8];
	char			 sid[COOKIE_SID_LEN + 1];
	size_t			 i, len;

	snprintf(value, sizeof(value), "%s.%s", v->sid, v->sig);
	len = strlen(value);
	/* Every single-character change is refused. */
	for (i = 0; i < len; i++) {
		char c = value[i];

		value[i] = c == 'a' ? 'b' : 'a';
		cr_assert_eq(cookie_verify(v->secret, strlen(v->secret), value, len,
		    sid), -1, "changed at %zu", i);
		value[i] = c;
	}
	/* Another secret. */
	cr_assert_eq(cookie_verify("s3cret2", 7, value, len, sid), -1);
	/* Uppercase hex in the sid: not what RAIN makes. */
	snprintf(value, sizeof(value), "0123456789ABCDEF0123456789abcdef.%s",
	    v->sig);
	cr_assert_eq(cookie_verify(v->secret, strlen(v->secret), value,
	    strlen(value), sid), -1);
}

Test(cookie, refuse_wrong_length)
{
	const struct vector	*v = &vectors[0];
	char			 value[256], sid[COOKIE_SID_LEN + 1];

	/* Padding, truncation, extra characters, a short sid, no dot. */
	snprintf(value, sizeof(value), "%s.%s=", v->sid, v->sig);
	cr_assert_eq(cookie_verify(v->secret, 6, value, strlen(value), sid), -1);
	snprintf(value, sizeof(value), "%s.%.42s", v->sid, v->sig);
	cr_assert_eq(cookie_verify(v->secret, 6, value, strlen(value), sid), -1);
	snprintf(value, sizeof(value), "%s.%sA", v->sid, v->sig);
	cr_assert_eq(cookie_verify(v->secret, 6, value, strlen(value), sid), -1);
	snprintf(value, sizeof(value), "%.31s.%s", v->sid, v->sig);
	cr_assert_eq(cookie_verify(v->secret, 6, value, strlen(value), sid), -1);
	snprintf(value, sizeof(value), "%s%s", v->sid, v->sig);
	cr_assert_eq(cookie_verify(v->secret, 6, value, strlen(value), sid), -1);
	cr_assert_eq(cookie_verify(v->secret, 6, "", 0, sid), -1);
	/* Broken escapes. */
	snprintf(value, sizeof(value), "%s.%s%%2", v->sid, v->sig);
	cr_assert_eq(cookie_verify(v->secret, 6, value, strlen(value), sid), -1);
	snprintf(value, sizeof(value), "%s.%%zz%s", v->sid, v->sig + 1);
	cr_assert_eq(cookie_verify(v->secret, 6, value, strlen(value), sid), -1);
}

Test(cookie, among_other_cookies)
{
	const struct vector	*v = &vectors[2];
	char			 hdr[1024], enc[COOKIE_VALUE_ENC_MAX + 1];
	char			 value[COOKIE_VALUE_LEN + 1], sid[COOKIE_SID_LEN + 1];

	snprintf(value, sizeof(value), "%s.%s", v->sid, v->sig);
	urlencode(value, enc, sizeof(enc));
	snprintf(hdr, sizeof(hdr), "theme=dark; rain.sidx=1;rain.sid=%s ; lang=en",
	    enc);
	cr_assert_eq(cookie_header_sid(v->secret, 1, "rain.sid", hdr, strlen(hdr),
	    sid), 0);
	cr_assert_str_eq(sid, v->sid);
	/* A bad one first (another path's stale cookie), then the good one. */
	snprintf(hdr, sizeof(hdr), "rain.sid=%s.%s; rain.sid=%s",
	    vectors[0].sid, v->sig, value);
	cr_assert_eq(cookie_header_sid(v->secret, 1, "rain.sid", hdr, strlen(hdr),
	    sid), 0);
	cr_assert_str_eq(sid, v->sid);
	/* Another name. */
	cr_assert_eq(cookie_header_sid(v->secret, 1, "sid", hdr, strlen(hdr),
	    sid), -1);
	/* Nothing useful. */
	cr_assert_eq(cookie_header_sid(v->secret, 1, "rain.sid", ";;; =; rain.sid",
	    16, sid), -1);
}

Test(cookie, several_headers)
{
	const struct vector	*v = &vectors[1];
	struct http_request	 req;
	char			 good[256], sid[COOKIE_SID_LEN + 1];

	snprintf(good, sizeof(good), "a=b; rain.sid=%s.%s", v->sid, v->sig);
	memset(&req, 0, sizeof(req));
	req.hr_headers[0] = (struct http_header){ "Host", 4, "x", 1 };
	req.hr_headers[1] = (struct http_header){ "Cookie", 6, "x=y", 3 };
	req.hr_headers[2] = (struct http_header){ "cookie", 6, good, strlen(good) };
	req.hr_nheaders = 3;
	cr_assert_eq(cookie_request_sid(v->secret, strlen(v->secret), "rain.sid",
	    &req, sid), 0);
	cr_assert_str_eq(sid, v->sid);
	req.hr_nheaders = 2;
	cr_assert_eq(cookie_request_sid(v->secret, strlen(v->secret), "rain.sid",
	    &req, sid), -1);
}

Test(cookie, set_cookie_line)
{
	char out[512], value[COOKIE_VALUE_LEN + 1];

	cookie_sign("s3cret", 6, vectors[4].sid, value);
	cr_assert_eq(cookie_set_header("rain.sid", value, 0, 0, out,
	    sizeof(out)), 0);
	cr_assert_str_eq(out, "Set-Cookie: rain.sid=22222222222222222222222222222222."
	    "%2BYdZJTcUcGQnZ3lOXV3m9%2FmH37pJiIBRQbgkMIEih2I; Path=/; HttpOnly; "
	    "SameSite=Lax\r\n");
	cr_assert_eq(cookie_set_header("sid", value, 1, 3600, out, sizeof(out)), 0);
	cr_assert(strstr(out, "; SameSite=Lax; Secure; Max-Age=3600\r\n") != NULL,
	    "%s", out);
	cr_assert_eq(cookie_set_header("sid", value, 1, 3600, out, 40), -1);
	cr_assert_str_eq(out, "");
}

Test(cookie, new_sids)
{
	char	a[COOKIE_SID_LEN + 1], b[COOKIE_SID_LEN + 1];
	char	value[COOKIE_VALUE_LEN + 1], sid[COOKIE_SID_LEN + 1];

	cr_assert_eq(cookie_sid_new(a), 0);
	cr_assert_eq(cookie_sid_new(b), 0);
	cr_assert(cookie_sid_valid(a, strlen(a)));
	cr_assert_str_neq(a, b);
	cookie_sign("k", 1, a, value);
	cr_assert_eq(cookie_verify("k", 1, value, strlen(value), sid), 0);
	cr_assert_str_eq(sid, a);
}

static char tmpdir[64];

static void
mktmp(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_cookie.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void
rmtmp(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	cr_assert_eq(system(cmd), 0);
}

static void
writefile(const char *path, const char *text, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert(fd != -1);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
}

Test(cookie, secret_file, .init = mktmp, .fini = rmtmp)
{
	char	 path[128], err[256], *secret;
	size_t	 len;

	snprintf(path, sizeof(path), "%s/secret", tmpdir);
	/* One trailing newline is dropped, not two, not other blanks. */
	writefile(path, "s3cret\n", 0600);
	cr_assert_eq(cookie_secret_load(path, &secret, &len, err, sizeof(err)), 0);
	cr_assert_eq(len, 6);
	cr_assert_eq(memcmp(secret, "s3cret", 6), 0);
	cookie_secret_free(secret, len);
	writefile(path, "s3cret \n\n", 0400);
	cr_assert_eq(cookie_secret_load(path, &secret, &len, err, sizeof(err)), 0);
	cr_assert_eq(len, 8);
	cr_assert_eq(memcmp(secret, "s3cret \n", 8), 0);
	cookie_secret_free(secret, len);

	writefile(path, "s3cret\n", 0640);
	cr_assert_eq(cookie_secret_load(path, &secret, &len, err, sizeof(err)), -1);
	cr_assert(strstr(err, "mode 0640") != NULL, "%s", err);
	cr_assert_null(secret);
	writefile(path, "s3cret\n", 0602);
	cr_assert_eq(cookie_secret_load(path, &secret, &len, err, sizeof(err)), -1);
	writefile(path, "\n", 0600);
	cr_assert_eq(cookie_secret_load(path, &secret, &len, err, sizeof(err)), -1);
	cr_assert(strstr(err, "empty") != NULL, "%s", err);
	writefile(path, "", 0600);
	cr_assert_eq(cookie_secret_load(path, &secret, &len, err, sizeof(err)), -1);

	snprintf(path, sizeof(path), "%s/absent", tmpdir);
	cr_assert_eq(cookie_secret_load(path, &secret, &len, err, sizeof(err)), -1);
	cr_assert(strstr(err, "No such file") != NULL, "%s", err);
	cr_assert_eq(cookie_secret_load(NULL, &secret, &len, err, sizeof(err)), -1);
	cr_assert_eq(cookie_secret_load(tmpdir, &secret, &len, err, sizeof(err)), -1);
}

Test(cookie, secret_too_large, .init = mktmp, .fini = rmtmp)
{
	char	 path[128], err[256], *secret, *big;
	size_t	 len;

	snprintf(path, sizeof(path), "%s/secret", tmpdir);
	big = malloc(COOKIE_SECRET_MAX + 2);
	cr_assert_not_null(big);
	memset(big, 'k', COOKIE_SECRET_MAX);
	big[COOKIE_SECRET_MAX] = '\n';
	big[COOKIE_SECRET_MAX + 1] = '\0';
	writefile(path, big, 0600);
	cr_assert_eq(cookie_secret_load(path, &secret, &len, err, sizeof(err)), 0);
	cr_assert_eq(len, COOKIE_SECRET_MAX);
	cookie_secret_free(secret, len);
	big[COOKIE_SECRET_MAX] = 'k';
	writefile(path, big, 0600);
	cr_assert_eq(cookie_secret_load(path, &secret, &len, err, sizeof(err)), -1);
	free(big);
}
