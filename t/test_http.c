/*
 * test_http.c: the HTTP/1.1 request-head parser and response writer.
 *
 * Every vector is also fed one byte more at a time to one parser, in a
 * buffer allocated to the exact length so that AddressSanitizer sees any
 * read past what was received: the answer must be "more" until the
 * prefix that decides, and then the same as a one-shot parse.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <event2/buffer.h>

#include "http.h"

/* A string literal with its length, NUL bytes included. */
#define RAW(s)		s, sizeof(s) - 1
#define NHDR		4	/* headers checked per valid vector */
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static const struct http_limits limits_default = {
	.hl_max_request_line = 1024,
	.hl_max_header_size = 4096,
	.hl_max_headers = 16,
	.hl_max_body_size = 1024 * 1024,
};

/* Small enough to write vectors that cross every bound. */
static const struct http_limits limits_small = {
	.hl_max_request_line = 32,
	.hl_max_header_size = 128,
	.hl_max_headers = 3,
	.hl_max_body_size = 100,
};

struct hdr {
	const char	*name;
	const char	*value;
};

struct valid_vec {
	const char		*raw;
	size_t			 len;
	enum http_method	 method;
	const char		*method_str;
	const char		*path;
	const char		*query;		/* NULL: no '?' */
	int			 version;
	int64_t			 clen;
	int			 keepalive;
	int			 upgrade;
	size_t			 nheaders;
	struct hdr		 headers[NHDR];	/* the first ones */
};

struct error_vec {
	const char	*raw;
	size_t		 len;
	int		 status;
	int		 small;		/* limits_small, not limits_default */
	size_t		 at;		/* deciding prefix length; 0: all */
};

static const struct valid_vec valid_vecs[] = {
	{ RAW("GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
	    HTTP_METHOD_GET, "GET", "/", NULL, 11, -1, 1, 0, 1,
	    { { "Host", "a" } } },
	{ RAW("GET /socket.io/?EIO=4&transport=polling&t=N8hyd6w HTTP/1.1\r\n"
	    "Host: example.com:8080\r\nAccept: */*\r\n"
	    "Cookie: rain.sid=s%3Aabc.def\r\n\r\n"),
	    HTTP_METHOD_GET, "GET", "/socket.io/",
	    "EIO=4&transport=polling&t=N8hyd6w", 11, -1, 1, 0, 3,
	    { { "Host", "example.com:8080" }, { "Accept", "*/*" },
	    { "Cookie", "rain.sid=s%3Aabc.def" } } },
	{ RAW("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
	    "Host: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\n\r\n"),
	    HTTP_METHOD_GET, "GET", "/socket.io/",
	    "EIO=4&transport=websocket", 11, -1, 1, 1, 5,
	    { { "Host", "h" }, { "Upgrade", "websocket" },
	    { "Connection", "Upgrade" },
	    { "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==" } } },
	/* Firefox lists keep-alive first. */
	{ RAW("GET /ws HTTP/1.1\r\nHost: h\r\n"
	    "Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n"),
	    HTTP_METHOD_GET, "GET", "/ws", NULL, 11, -1, 1, 1, 3,
	    { { "Host", "h" }, { "Connection", "keep-alive, Upgrade" } } },
	{ RAW("POST /socket.io/?EIO=4&transport=polling&sid=abc HTTP/1.1\r\n"
	    "Host: h\r\nContent-Type: text/plain;charset=UTF-8\r\n"
	    "Content-Length: 42\r\n\r\n"),
	    HTTP_METHOD_POST, "POST", "/socket.io/",
	    "EIO=4&transport=polling&sid=abc", 11, 42, 1, 0, 3,
	    { { "Host", "h" }, { "Content-Type", "text/plain;charset=UTF-8" },
	    { "Content-Length", "42" } } },
	{ RAW("GET /a HTTP/1.0\r\n\r\n"),
	    HTTP_METHOD_GET, "GET", "/a", NULL, 10, -1, 0, 0, 0, { { 0 } } },
	{ RAW("GET /a HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"),
	    HTTP_METHOD_GET, "GET", "/a", NULL, 10, -1, 1, 0, 1,
	    { { "Connection", "Keep-Alive" } } },
	{ RAW("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n"
	    "Connection: close\r\n\r\n"),
	    HTTP_METHOD_GET, "GET", "/a", NULL, 10, -1, 0, 0, 2, { { 0 } } },
	{ RAW("HEAD /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"),
	    HTTP_METHOD_HEAD, "HEAD", "/x", NULL, 11, -1, 0, 0, 2,
	    { { "Host", "h" }, { "Connection", "close" } } },
	{ RAW("GET /x HTTP/1.1\r\nHost: h\r\nConnection: foo,\t CLOSE ,\r\n\r\n"),
	    HTTP_METHOD_GET, "GET", "/x", NULL, 11, -1, 0, 0, 2, { { 0 } } },
	/* LF-only line endings, and a mix. */
	{ RAW("GET /lf HTTP/1.1\nHost: h\nX-A: 1\n\n"),
	    HTTP_METHOD_GET, "GET", "/lf", NULL, 11, -1, 1, 0, 2,
	    { { "Host", "h" }, { "X-A", "1" } } },
	{ RAW("GET /mix HTTP/1.1\nHost: h\r\nX-A: 1\n\r\n"),
	    HTTP_METHOD_GET, "GET", "/mix", NULL, 11, -1, 1, 0, 2,
	    { { "Host", "h" }, { "X-A", "1" } } },
	{ RAW("GET /mix HTTP/1.1\r\nHost: h\n\n"),
	    HTTP_METHOD_GET, "GET", "/mix", NULL, 11, -1, 1, 0, 1,
	    { { "Host", "h" } } },
	/* Leading empty lines are skipped but part of the head. */
	{ RAW("\r\n\r\nGET /lead HTTP/1.1\r\nHost: h\r\n\r\n"),
	    HTTP_METHOD_GET, "GET", "/lead", NULL, 11, -1, 1, 0, 1,
	    { { "Host", "h" } } },
	{ RAW("\n\r\n\nGET /lead HTTP/1.1\nHost: h\n\n"),
	    HTTP_METHOD_GET, "GET", "/lead", NULL, 11, -1, 1, 0, 1,
	    { { "Host", "h" } } },
	{ RAW("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"),
	    HTTP_METHOD_OPTIONS, "OPTIONS", "*", NULL, 11, -1, 1, 0, 1,
	    { { "Host", "h" } } },
	{ RAW("OPTIONS /socket.io/ HTTP/1.1\r\nHost: h\r\n"
	    "Origin: https://app.example\r\n"
	    "Access-Control-Request-Method: POST\r\n\r\n"),
	    HTTP_METHOD_OPTIONS, "OPTIONS", "/socket.io/", NULL, 11, -1, 1, 0,
	    3, { { "Host", "h" }, { "Origin", "https://app.example" },
	    { "Access-Control-Request-Method", "POST" } } },
	/* Absolute-form: the path and query are taken from it. */
	{ RAW("GET http://example.com/a/b?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"),
	    HTTP_METHOD_GET, "GET", "/a/b", "x=1", 11, -1, 1, 0, 1,
	    { { "Host", "example.com" } } },
	{ RAW("GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n"),
	    HTTP_METHOD_GET, "GET", "/", NULL, 11, -1, 1, 0, 1, { { 0 } } },
	{ RAW("GET HTTPS://h:443?q=2 HTTP/1.1\r\nHost: h\r\n\r\n"),
	    HTTP_METHOD_GET, "GET", "/", "q=2", 11, -1, 1, 0, 1, { { 0 } } },
	{ RAW("GET /p? HTTP/1.1\r\nHost: h\r\n\r\n"),
	    HTTP_METHOD_GET, "GET", "/p", "", 11, -1, 1, 0, 1, { { 0 } } },
	{ RAW("GET /p??a=?b HTTP/1.1\r\nHost: h\r\n\r\n"),
	    HTTP_METHOD_GET, "GET", "/p", "?a=?b", 11, -1, 1, 0, 1, { { 0 } } },
	/* Blanks around values trimmed; empty values kept. */
	{ RAW("GET / HTTP/1.1\r\nHost:h\r\nX-Empty:\r\nX-Pad: \t v  w \t \r\n"
	    "X-Blank:   \r\n\r\n"),
	    HTTP_METHOD_GET, "GET", "/", NULL, 11, -1, 1, 0, 4,
	    { { "Host", "h" }, { "X-Empty", "" }, { "X-Pad", "v  w" },
	    { "X-Blank", "" } } },
	/* The same Content-Length twice is one length. */
	{ RAW("PUT /u HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
	    "content-length: 005\r\n\r\n"),
	    HTTP_METHOD_PUT, "PUT", "/u", NULL, 11, 5, 1, 0, 3, { { 0 } } },
	{ RAW("POST / HTTP/1.1\r\nHost: h\r\nCONTENT-LENGTH: 0\r\n\r\n"),
	    HTTP_METHOD_POST, "POST", "/", NULL, 11, 0, 1, 0, 2,
	    { { "Host", "h" }, { "CONTENT-LENGTH", "0" } } },
	{ RAW("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1048576\r\n\r\n"),
	    HTTP_METHOD_POST, "POST", "/", NULL, 11, 1048576, 1, 0, 2,
	    { { 0 } } },
	/* Methods: unknown tokens are methods too. */
	{ RAW("BREW /pot HTTP/1.1\r\nHost: h\r\n\r\n"),
	    HTTP_METHOD_OTHER, "BREW", "/pot", NULL, 11, -1, 1, 0, 1, { { 0 } } },
	{ RAW("get / HTTP/1.1\r\nHost: h\r\n\r\n"),
	    HTTP_METHOD_OTHER, "get", "/", NULL, 11, -1, 1, 0, 1, { { 0 } } },
	{ RAW("DELETE /d HTTP/1.1\r\nHost: h\r\n\r\n"),
	    HTTP_METHOD_DELETE, "DELETE", "/d", NULL, 11, -1, 1, 0, 1, { { 0 } } },
	{ RAW("PATCH /d HTTP/1.1\r\nHost: h\r\n\r\n"),
	    HTTP_METHOD_PATCH, "PATCH", "/d", NULL, 11, -1, 1, 0, 1, { { 0 } } },
	{ RAW("TRACE /d HTTP/1.1\r\nHost: h\r\n\r\n"),
	    HTTP_METHOD_TRACE, "TRACE", "/d", NULL, 11, -1, 1, 0, 1, { { 0 } } },
	/* Token characters in names, obs-text in values. */
	{ RAW("GET / HTTP/1.1\r\nHost: h\r\nX!#$%&'*+-.^_`|~9: \xc3\xa9t\xc3\xa9\r\n\r\n"),
	    HTTP_METHOD_GET, "GET", "/", NULL, 11, -1, 1, 0, 2,
	    { { "Host", "h" }, { "X!#$%&'*+-.^_`|~9", "\xc3\xa9t\xc3\xa9" } } },
	/* Transfer-Encoding is only the header's business when present. */
	{ RAW("GET / HTTP/1.1\r\nHost: h\r\nTE: trailers\r\n\r\n"),
	    HTTP_METHOD_GET, "GET", "/", NULL, 11, -1, 1, 0, 2, { { 0 } } },
};

static const struct error_vec error_vecs[] = {
	/* Request line. */
	{ RAW("GET / HTTP/1.1\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET  / HTTP/1.1\r\nHost: h\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET / HTTP/1.1 \r\nHost: h\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET /  HTTP/1.1\r\nHost: h\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET /\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET\r\n\r\n"), 400, 0, 0 },
	{ RAW(" GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 400, 0, 0 },
	{ RAW("G@T / HTTP/1.1\r\nHost: h\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET /a\x01z HTTP/1.1\r\nHost: h\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET /a\x7fz HTTP/1.1\r\nHost: h\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET /\x80 HTTP/1.1\r\nHost: h\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET /a\0z HTTP/1.1\r\nHost: h\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET foo HTTP/1.1\r\nHost: h\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET * HTTP/1.1\r\nHost: h\r\n\r\n"), 400, 0, 0 },
	{ RAW("OPTIONS *x HTTP/1.1\r\nHost: h\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET http:// HTTP/1.1\r\nHost: h\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET ftp://h/x HTTP/1.1\r\nHost: h\r\n\r\n"), 400, 0, 0 },
	{ RAW("CONNECT example.com:443 HTTP/1.1\r\nHost: h\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET / http/1.1\r\nHost: h\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET / HTTP/1.1x\r\nHost: h\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET / HTTP/11\r\nHost: h\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET / HTTP/1.a\r\nHost: h\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET / HTTP/\r\nHost: h\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET / HTTP/1.10\r\nHost: h\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET / HTTP/1.1\r\r\nHost: h\r\n\r\n"), 400, 0, 0 },
	{ RAW("\r\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"), 400, 0, 0 },
	/* Versions: well formed but not ours. */
	{ RAW("GET / HTTP/2.0\r\nHost: h\r\n\r\n"), 505, 0, 0 },
	{ RAW("GET / HTTP/1.2\r\nHost: h\r\n\r\n"), 505, 0, 0 },
	{ RAW("GET / HTTP/0.9\r\n\r\n"), 505, 0, 0 },
	{ RAW("GET garbage HTTP/3.0\r\n\r\n"), 505, 0, 0 },
	{ RAW("PRI * HTTP/2.0\r\n\r\n"), 505, 0, 0 },
	/* Header lines. */
	{ RAW("GET / HTTP/1.1\r\nHost : h\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET / HTTP/1.1\r\nHost\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET / HTTP/1.1\r\nHost: h\r\nX(: v\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n\tb\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET / HTTP/1.1\r\n Host: h\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\0b\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x7f\r\n\r\n"), 400, 0, 0 },
	{ RAW("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400, 0, 0 },
	/* Content-Length. */
	{ RAW("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n"), 400, 0, 0 },
	{ RAW("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n"), 400, 0, 0 },
	{ RAW("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n"), 400, 0, 0 },
	{ RAW("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n"), 400, 0, 0 },
	{ RAW("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1,1\r\n\r\n"), 400, 0, 0 },
	{ RAW("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n"), 400, 0, 0 },
	{ RAW("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n"), 400, 0, 0 },
	{ RAW("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
	    "Content-Length: 6\r\n\r\n"), 400, 0, 0 },
	{ RAW("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9007199254740993\r\n\r\n"),
	    400, 0, 0 },
	{ RAW("POST / HTTP/1.1\r\nHost: h\r\n"
	    "Content-Length: 99999999999999999999999999999999\r\n\r\n"), 400, 0, 0 },
	{ RAW("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1048577\r\n\r\n"),
	    413, 0, 0 },
	{ RAW("POST / HTTP/1.0\r\nContent-Length: 101\r\n\r\n"), 413, 1, 0 },
	/* Transfer-Encoding. */
	{ RAW("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"),
	    411, 0, 0 },
	{ RAW("POST / HTTP/1.1\r\nHost: h\r\ntransfer-encoding:  Chunked \r\n\r\n"),
	    411, 0, 0 },
	{ RAW("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n"),
	    501, 0, 0 },
	{ RAW("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
	    501, 0, 0 },
	{ RAW("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"), 501, 0, 0 },
	{ RAW("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n"),
	    501, 0, 0 },
	{ RAW("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
	    "Content-Length: 5\r\n\r\n"), 400, 0, 0 },
	{ RAW("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
	    "Transfer-Encoding: gzip\r\n\r\n"), 400, 0, 0 },
	/* Limits, small: request line 32, head 128, 3 headers. */
	{ RAW("GET /0123456789012345678901234 HTTP/1.1\r\nHost: h\r\n\r\n"),
	    414, 1, 33 },
	/* The 33rd byte is a CR, which may still end the line. */
	{ RAW("GET /012345678901234567 HTTP/1.1\r\rHost: h\r\n\r\n"),
	    414, 1, 34 },
	{ RAW("GET / HTTP/1.0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n"), 431, 1, 0 },
	{ RAW("GET / HTTP/1.0\r\nX: 0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    "0123456789\r\n\r\n"), 431, 1, 129 },
	/* Leading empty lines count towards the head. */
	{ RAW("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n"
	    "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n"
	    "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n"
	    "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n"
	    "GET / HTTP/1.0\r\n\r\n"), 431, 1, 129 },
};

/* A copy of s in a buffer of exactly len bytes, for ASan to guard. */
static char *
exact_copy(const char *s, size_t len)
{
	char	*p;

	p = malloc(len == 0 ? 1 : len);
	cr_assert_not_null(p);
	memcpy(p, s, len);
	return (p);
}

static int
parse_once(const struct http_limits *hl, const char *s, size_t len,
    struct http_request *req, int *status)
{
	struct http_parser	hp;

	http_parser_init(&hp);
	*status = 0;
	return (http_parse_head(&hp, hl, s, len, req, status));
}

static void
assert_str(const char *p, size_t len, const char *want, const char *what)
{
	cr_assert_not_null(p, "%s is NULL", what);
	cr_assert_eq(len, strlen(want), "%s: length %zu, want %zu (%s)",
	    what, len, strlen(want), want);
	cr_assert(memcmp(p, want, len) == 0, "%s: got \"%.*s\", want \"%s\"",
	    what, (int)len, p, want);
}

/* Do two parses of the same bytes (in buffers a and b) agree? */
static void
assert_same_request(const char *a, const struct http_request *ra,
    const char *b, const struct http_request *rb)
{
	size_t	i;

	cr_assert_eq(ra->hr_method, rb->hr_method);
	cr_assert_eq(ra->hr_method_str - a, rb->hr_method_str - b);
	cr_assert_eq(ra->hr_method_len, rb->hr_method_len);
	cr_assert_eq(ra->hr_target - a, rb->hr_target - b);
	cr_assert_eq(ra->hr_target_len, rb->hr_target_len);
	cr_assert_eq(ra->hr_path_len, rb->hr_path_len);
	cr_assert(memcmp(ra->hr_path, rb->hr_path, ra->hr_path_len) == 0);
	cr_assert_eq(ra->hr_query == NULL, rb->hr_query == NULL);
	if (ra->hr_query != NULL) {
		cr_assert_eq(ra->hr_query - a, rb->hr_query - b);
		cr_assert_eq(ra->hr_query_len, rb->hr_query_len);
	}
	cr_assert_eq(ra->hr_version, rb->hr_version);
	cr_assert_eq(ra->hr_nheaders, rb->hr_nheaders);
	for (i = 0; i < ra->hr_nheaders; i++) {
		cr_assert_eq(ra->hr_headers[i].hh_name - a,
		    rb->hr_headers[i].hh_name - b);
		cr_assert_eq(ra->hr_headers[i].hh_namelen,
		    rb->hr_headers[i].hh_namelen);
		cr_assert_eq(ra->hr_headers[i].hh_value - a,
		    rb->hr_headers[i].hh_value - b);
		cr_assert_eq(ra->hr_headers[i].hh_valuelen,
		    rb->hr_headers[i].hh_valuelen);
	}
	cr_assert_eq(ra->hr_head_len, rb->hr_head_len);
	cr_assert_eq(ra->hr_content_length, rb->hr_content_length);
	cr_assert_eq(ra->hr_keepalive, rb->hr_keepalive);
	cr_assert_eq(ra->hr_upgrade, rb->hr_upgrade);
}

/*
 * Feed raw[0..1], raw[0..2], ... to one parser.  Returns the prefix
 * length at which it decided (with *rp, *statusp and the request in req
 * of the buffer *bufp, owned by the caller), or 0 if it never did.
 */
static size_t
feed_split(const struct http_limits *hl, const char *raw, size_t len,
    struct http_request *req, int *rp, int *statusp, char **bufp)
{
	struct http_parser	 hp;
	size_t			 n;
	char			*buf;
	int			 r, status;

	http_parser_init(&hp);
	for (n = 1; n <= len; n++) {
		buf = exact_copy(raw, n);
		status = 0;
		r = http_parse_head(&hp, hl, buf, n, req, &status);
		if (r != HTTP_PARSE_MORE) {
			*rp = r;
			*statusp = status;
			*bufp = buf;
			return (n);
		}
		cr_assert_eq(hp.hp_scanned <= n, 1);
		free(buf);
	}
	return (0);
}

/* Split reads and one-shot parse agree, deciding at prefix `at`. */
static void
check_split(const struct http_limits *hl, const char *raw, size_t len,
    size_t at)
{
	static struct http_request	 r1, r2;
	char				*one, *buf = NULL;
	int				 ret1, st1, ret2 = 0, st2 = 0;
	size_t				 n;

	one = exact_copy(raw, len);
	ret1 = parse_once(hl, one, len, &r1, &st1);
	cr_assert_neq(ret1, HTTP_PARSE_MORE, "%.*s", (int)len, raw);
	n = feed_split(hl, raw, len, &r2, &ret2, &st2, &buf);
	cr_assert_eq(n, at, "decided at prefix %zu, want %zu: %.*s", n, at,
	    (int)len, raw);
	cr_assert_eq(ret2, ret1, "split %d, one-shot %d: %.*s", ret2, ret1,
	    (int)len, raw);
	if (ret1 == HTTP_PARSE_ERROR)
		cr_assert_eq(st2, st1, "split status %d, one-shot %d: %.*s",
		    st2, st1, (int)len, raw);
	else
		assert_same_request(one, &r1, buf, &r2);
	free(buf);
	free(one);
}

static void
free_indices(struct criterion_test_params *crp)
{
	cr_free(crp->params);
}

/*
 * Criterion runs each test in a new process image, where the pointers of
 * this one mean nothing: the parameters are indices into the tables.
 */
static struct criterion_test_params
indices(size_t n)
{
	size_t	*idx, i;

	idx = cr_malloc(n * sizeof(*idx));
	cr_assert_not_null(idx);
	for (i = 0; i < n; i++)
		idx[i] = i;
	return (cr_make_param_array(size_t, idx, n, free_indices));
}

ParameterizedTestParameters(http, valid)
{
	return (indices(NELEM(valid_vecs)));
}

ParameterizedTest(size_t *ip, http, valid)
{
	static struct http_request	 req;
	const struct valid_vec		*v = &valid_vecs[*ip];
	char				*buf;
	int				 r, status;
	size_t				 i;

	buf = exact_copy(v->raw, v->len);
	r = parse_once(&limits_default, buf, v->len, &req, &status);
	cr_assert_eq(r, (int)v->len, "parse returned %d (status %d) for %s",
	    r, status, v->raw);
	cr_assert_eq(req.hr_head_len, v->len);
	cr_assert_eq(req.hr_method, v->method);
	assert_str(req.hr_method_str, req.hr_method_len, v->method_str,
	    "method");
	assert_str(req.hr_path, req.hr_path_len, v->path, "path");
	if (v->query == NULL)
		cr_assert_null(req.hr_query);
	else
		assert_str(req.hr_query, req.hr_query_len, v->query, "query");
	cr_assert_eq(req.hr_version, v->version);
	cr_assert_eq(req.hr_content_length, v->clen);
	cr_assert_eq(req.hr_keepalive, v->keepalive);
	cr_assert_eq(req.hr_upgrade, v->upgrade);
	cr_assert_eq(req.hr_nheaders, v->nheaders, "%zu headers in %s",
	    req.hr_nheaders, v->raw);
	for (i = 0; i < NHDR && v->headers[i].name != NULL; i++) {
		assert_str(req.hr_headers[i].hh_name,
		    req.hr_headers[i].hh_namelen, v->headers[i].name, "name");
		assert_str(req.hr_headers[i].hh_value,
		    req.hr_headers[i].hh_valuelen, v->headers[i].value, "value");
	}
	free(buf);
}

ParameterizedTestParameters(http, valid_split)
{
	return (indices(NELEM(valid_vecs)));
}

ParameterizedTest(size_t *ip, http, valid_split)
{
	const struct valid_vec	*v = &valid_vecs[*ip];

	check_split(&limits_default, v->raw, v->len, v->len);
}

ParameterizedTestParameters(http, error)
{
	return (indices(NELEM(error_vecs)));
}

ParameterizedTest(size_t *ip, http, error)
{
	static struct http_request	 req;
	const struct error_vec		*v = &error_vecs[*ip];
	char				*buf;
	int				 r, status;

	buf = exact_copy(v->raw, v->len);
	r = parse_once(v->small ? &limits_small : &limits_default, buf,
	    v->len, &req, &status);
	cr_assert_eq(r, HTTP_PARSE_ERROR, "parse returned %d for %s", r,
	    v->raw);
	cr_assert_eq(status, v->status, "status %d, want %d for %s", status,
	    v->status, v->raw);
	free(buf);
}

ParameterizedTestParameters(http, error_split)
{
	return (indices(NELEM(error_vecs)));
}

ParameterizedTest(size_t *ip, http, error_split)
{
	const struct error_vec	*v = &error_vecs[*ip];

	check_split(v->small ? &limits_small : &limits_default, v->raw,
	    v->len, v->at != 0 ? v->at : v->len);
}

Test(http, more_on_partial_heads)
{
	static const char *const partial[] = {
		"", "\r", "\r\n", "\n\r", "G", "GET / HTTP/1.1",
		"GET / HTTP/1.1\r", "GET / HTTP/1.1\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\n", "GET / HTTP/1.1\r\nHost: h\r\n\r",
		"GET / HTTP/1.1\nHost: h\n", "garbage without an end",
	};
	static struct http_request	req;
	size_t				i;
	int				status;

	for (i = 0; i < NELEM(partial); i++)
		cr_assert_eq(parse_once(&limits_default, partial[i],
		    strlen(partial[i]), &req, &status), HTTP_PARSE_MORE,
		    "\"%s\"", partial[i]);
}

Test(http, pipelining)
{
	static const char two[] =
	    "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n"
	    "GET /b HTTP/1.1\r\nHost: h\r\n\r\n";
	static struct http_request	 req;
	struct http_parser		 hp;
	size_t				 first;
	int				 r, status;

	first = strstr(two, "GET") - two;
	http_parser_init(&hp);
	r = http_parse_head(&hp, &limits_default, two, sizeof(two) - 1, &req,
	    &status);
	cr_assert_eq(r, (int)first);
	assert_str(req.hr_path, req.hr_path_len, "/a", "path");
	cr_assert_eq(req.hr_content_length, 3);

	/* The same parser goes on with the next head once drained. */
	r = http_parse_head(&hp, &limits_default, two + first,
	    sizeof(two) - 1 - first, &req, &status);
	cr_assert_eq(r, (int)(sizeof(two) - 1 - first));
	assert_str(req.hr_path, req.hr_path_len, "/b", "path");
	cr_assert_eq(req.hr_content_length, -1);

	/* And splitting the first head still stops at its end. */
	check_split(&limits_default, two, sizeof(two) - 1, first);
}

Test(http, pipelining_error_head_not_confused)
{
	static const char two[] =
	    "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/9.9\r\n\r\n";
	static struct http_request	 req;
	int				 r, status;

	r = parse_once(&limits_default, two, sizeof(two) - 1, &req, &status);
	cr_assert_eq(r, (int)(strstr(two, "GET /b") - two));
}

/* A request line of exactly n bytes: "GET /xxxx HTTP/1.1". */
static char *
request_line(size_t n)
{
	char	*s;

	cr_assert_geq(n, sizeof("GET / HTTP/1.1") - 1);
	s = malloc(n + 1);
	cr_assert_not_null(s);
	memcpy(s, "GET /", 5);
	memset(s + 5, 'x', n - 14);
	memcpy(s + n - 9, " HTTP/1.1", 9);
	s[n] = '\0';
	return (s);
}

/* A head of exactly n bytes, one header X padded to fit. */
static char *
head_of_size(size_t n)
{
	static const char	 pre[] = "GET / HTTP/1.0\r\nX: ";
	char			*s;
	size_t			 fill;

	cr_assert_geq(n, sizeof(pre) - 1 + 4);
	fill = n - (sizeof(pre) - 1) - 4;
	s = malloc(n + 1);
	cr_assert_not_null(s);
	memcpy(s, pre, sizeof(pre) - 1);
	memset(s + sizeof(pre) - 1, 'v', fill);
	memcpy(s + n - 4, "\r\n\r\n", 4);
	s[n] = '\0';
	return (s);
}

/* A head with n headers. */
static char *
head_with_headers(size_t n)
{
	char	*s, *p;
	size_t	 i, size = 32 + n * 16;

	s = p = malloc(size);
	cr_assert_not_null(s);
	p += sprintf(p, "GET / HTTP/1.1\r\n");
	for (i = 0; i < n; i++)
		p += sprintf(p, i == 0 ? "Host: h\r\n" : "X-%zu: v\r\n", i);
	sprintf(p, "\r\n");
	return (s);
}

static char *
with_host(const char *line)
{
	char	*s;

	s = malloc(strlen(line) + sizeof("\r\nHost: h\r\n\r\n"));
	cr_assert_not_null(s);
	sprintf(s, "%s\r\nHost: h\r\n\r\n", line);
	return (s);
}

Test(http, request_line_limit)
{
	static struct http_request	 req;
	struct http_limits		 hl = limits_default;
	char				*line, *head;
	int				 r, status;

	hl.hl_max_request_line = 64;

	/* Exactly at the limit. */
	line = request_line(64);
	head = with_host(line);
	r = parse_once(&hl, head, strlen(head), &req, &status);
	cr_assert_eq(r, (int)strlen(head));
	check_split(&hl, head, strlen(head), strlen(head));
	/* An incomplete line at the limit, or with a CR after it, may end. */
	cr_assert_eq(parse_once(&hl, line, 64, &req, &status),
	    HTTP_PARSE_MORE);
	cr_assert_eq(parse_once(&hl, head, 65, &req, &status),
	    HTTP_PARSE_MORE);
	free(line);
	free(head);

	/* One over: refused at the 65th byte, with or without its end. */
	line = request_line(65);
	head = with_host(line);
	r = parse_once(&hl, head, strlen(head), &req, &status);
	cr_assert_eq(r, HTTP_PARSE_ERROR);
	cr_assert_eq(status, 414);
	check_split(&hl, head, strlen(head), 65);
	cr_assert_eq(parse_once(&hl, line, 64, &req, &status),
	    HTTP_PARSE_MORE);
	status = 0;
	cr_assert_eq(parse_once(&hl, line, 65, &req, &status),
	    HTTP_PARSE_ERROR);
	cr_assert_eq(status, 414);
	free(line);
	free(head);
}

Test(http, request_line_limit_after_empty_lines)
{
	static const char		 raw[] = "\r\n\nGET /xxxxxx HTTP/1.1";
	static struct http_request	 req;
	struct http_limits		 hl = limits_default;
	int				 status;

	/* The skipped empty lines are not part of the request line. */
	hl.hl_max_request_line = sizeof(raw) - 1 - 3;
	cr_assert_eq(parse_once(&hl, raw, sizeof(raw) - 1, &req, &status),
	    HTTP_PARSE_MORE);
	hl.hl_max_request_line--;
	cr_assert_eq(parse_once(&hl, raw, sizeof(raw) - 1, &req, &status),
	    HTTP_PARSE_ERROR);
	cr_assert_eq(status, 414);
}

Test(http, head_size_limit)
{
	static struct http_request	 req;
	struct http_limits		 hl = limits_default;
	char				*head;
	int				 r, status;

	hl.hl_max_header_size = 200;

	head = head_of_size(200);
	r = parse_once(&hl, head, 200, &req, &status);
	cr_assert_eq(r, 200);
	check_split(&hl, head, 200, 200);
	free(head);

	head = head_of_size(201);
	r = parse_once(&hl, head, 201, &req, &status);
	cr_assert_eq(r, HTTP_PARSE_ERROR);
	cr_assert_eq(status, 431);
	check_split(&hl, head, 201, 201);
	/* 200 bytes without the end are still fine... */
	cr_assert_eq(parse_once(&hl, head, 200, &req, &status),
	    HTTP_PARSE_MORE);
	free(head);

	/* ... but not 201, whatever comes later. */
	head = head_of_size(400);
	status = 0;
	cr_assert_eq(parse_once(&hl, head, 400, &req, &status),
	    HTTP_PARSE_ERROR);
	cr_assert_eq(status, 431);
	check_split(&hl, head, 400, 201);
	free(head);
}

Test(http, head_size_hard_ceiling)
{
	static struct http_request	 req;
	struct http_limits		 hl = limits_default;
	char				*head;
	int				 status;

	/* A configured limit above HTTP_HEAD_MAX is HTTP_HEAD_MAX. */
	hl.hl_max_header_size = 10 * HTTP_HEAD_MAX;
	hl.hl_max_request_line = HTTP_HEAD_MAX;
	head = head_of_size(HTTP_HEAD_MAX);
	cr_assert_eq(parse_once(&hl, head, HTTP_HEAD_MAX, &req, &status),
	    HTTP_HEAD_MAX);
	free(head);
	head = head_of_size(HTTP_HEAD_MAX + 1);
	cr_assert_eq(parse_once(&hl, head, HTTP_HEAD_MAX + 1, &req, &status),
	    HTTP_PARSE_ERROR);
	cr_assert_eq(status, 431);
	free(head);
}

Test(http, header_count_limit)
{
	static struct http_request	 req;
	struct http_limits		 hl = limits_default;
	char				*head;
	int				 status;

	hl.hl_max_headers = 5;
	head = head_with_headers(5);
	cr_assert_eq(parse_once(&hl, head, strlen(head), &req, &status),
	    (int)strlen(head));
	cr_assert_eq(req.hr_nheaders, 5);
	free(head);
	head = head_with_headers(6);
	cr_assert_eq(parse_once(&hl, head, strlen(head), &req, &status),
	    HTTP_PARSE_ERROR);
	cr_assert_eq(status, 431);
	check_split(&hl, head, strlen(head), strlen(head));
	free(head);

	/* A configured count above HTTP_HEADERS_MAX is HTTP_HEADERS_MAX. */
	hl.hl_max_headers = 10 * HTTP_HEADERS_MAX;
	hl.hl_max_header_size = HTTP_HEAD_MAX;
	head = head_with_headers(HTTP_HEADERS_MAX);
	cr_assert_eq(parse_once(&hl, head, strlen(head), &req, &status),
	    (int)strlen(head));
	cr_assert_eq(req.hr_nheaders, HTTP_HEADERS_MAX);
	free(head);
	head = head_with_headers(HTTP_HEADERS_MAX + 1);
	cr_assert_eq(parse_once(&hl, head, strlen(head), &req, &status),
	    HTTP_PARSE_ERROR);
	cr_assert_eq(status, 431);
	free(head);
}

Test(http, body_size_limit)
{
	static const char	at[] =
	    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n";
	static const char	over[] =
	    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 101\r\n\r\n";
	static const char	big[] =
	    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9007199254740992\r\n\r\n";
	static const char	bigger[] =
	    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9007199254740993\r\n\r\n";
	static struct http_request	req;
	struct http_limits		hl = limits_default;
	int				status;

	hl.hl_max_body_size = 100;
	cr_assert_eq(parse_once(&hl, at, sizeof(at) - 1, &req, &status),
	    (int)sizeof(at) - 1);
	cr_assert_eq(req.hr_content_length, 100);
	cr_assert_eq(parse_once(&hl, over, sizeof(over) - 1, &req, &status),
	    HTTP_PARSE_ERROR);
	cr_assert_eq(status, 413);

	/* 2^53 is the largest length; above it is malformed, not too large. */
	hl.hl_max_body_size = SIZE_MAX;
	cr_assert_eq(parse_once(&hl, big, sizeof(big) - 1, &req, &status),
	    (int)sizeof(big) - 1);
	cr_assert_eq(req.hr_content_length, INT64_C(9007199254740992));
	cr_assert_eq(parse_once(&hl, bigger, sizeof(bigger) - 1, &req,
	    &status), HTTP_PARSE_ERROR);
	cr_assert_eq(status, 400);
}

Test(http, leading_empty_lines_bounded)
{
	static struct http_request	 req;
	struct http_limits		 hl = limits_default;
	char				 buf[300];
	int				 status;

	/* Nothing but empty lines: more, until the head limit. */
	hl.hl_max_header_size = 200;
	memset(buf, '\n', sizeof(buf));
	cr_assert_eq(parse_once(&hl, buf, 200, &req, &status),
	    HTTP_PARSE_MORE);
	cr_assert_eq(parse_once(&hl, buf, 201, &req, &status),
	    HTTP_PARSE_ERROR);
	cr_assert_eq(status, 431);
	check_split(&hl, buf, sizeof(buf), 201);
}

Test(http, parser_reused_and_misused)
{
	static const char		 a[] = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
	static const char		 b[] = "GET /bb HTTP/1.1\r\nHost: h\r\n\r\n";
	static struct http_request	 req;
	struct http_parser		 hp;
	int				 status;

	http_parser_init(&hp);
	cr_assert_eq(http_parse_head(&hp, &limits_default, a, 20, &req,
	    &status), HTTP_PARSE_MORE);
	/* A shorter buffer than before: starts over, no harm done. */
	cr_assert_eq(http_parse_head(&hp, &limits_default, b, 5, &req,
	    &status), HTTP_PARSE_MORE);
	cr_assert_eq(http_parse_head(&hp, &limits_default, b, sizeof(b) - 1,
	    &req, &status), (int)sizeof(b) - 1);
	assert_str(req.hr_path, req.hr_path_len, "/bb", "path");
	/* Asking again about the same bytes gives the same answer. */
	cr_assert_eq(http_parse_head(&hp, &limits_default, b, sizeof(b) - 1,
	    &req, &status), (int)sizeof(b) - 1);
	cr_assert_eq(http_parse_head(&hp, &limits_default, a, sizeof(a) - 1,
	    &req, &status), (int)sizeof(a) - 1);
	assert_str(req.hr_path, req.hr_path_len, "/a", "path");
}

static void
parse_ok(const char *raw, struct http_request *req)
{
	int	status;

	cr_assert_eq(parse_once(&limits_default, raw, strlen(raw), req,
	    &status), (int)strlen(raw), "%s: status %d", raw, status);
}

Test(http, header_find)
{
	static struct http_request	 req;
	const struct http_header	*hh;

	parse_ok("GET / HTTP/1.1\r\nHost: h\r\nX-Dup: one\r\nx-dup: two\r\n"
	    "Upgrade: websocket\r\n\r\n", &req);
	hh = http_header_find(&req, "x-DUP");
	cr_assert_not_null(hh);
	assert_str(hh->hh_value, hh->hh_valuelen, "one", "first match");
	hh = http_header_find(&req, "UPGRADE");
	cr_assert_not_null(hh);
	assert_str(hh->hh_value, hh->hh_valuelen, "websocket", "value");
	cr_assert_null(http_header_find(&req, "X-Du"));
	cr_assert_null(http_header_find(&req, "X-Dupe"));
	cr_assert_null(http_header_find(&req, "Cookie"));
}

Test(http, header_has_token)
{
	static struct http_request	 req;

	parse_ok("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n"
	    "Accept-Encoding: gzip ,deflate,\t BR\t,,\r\n"
	    "connection: Upgrade\r\nX-Odd: a b, c\r\n\r\n", &req);
	cr_assert(http_header_has_token(&req, "Connection", "upgrade"));
	cr_assert(http_header_has_token(&req, "CONNECTION", "KEEP-ALIVE"));
	cr_assert_not(http_header_has_token(&req, "Connection", "close"));
	cr_assert(http_header_has_token(&req, "accept-encoding", "gzip"));
	cr_assert(http_header_has_token(&req, "Accept-Encoding", "deflate"));
	cr_assert(http_header_has_token(&req, "Accept-Encoding", "br"));
	cr_assert_not(http_header_has_token(&req, "Accept-Encoding", "gz"));
	cr_assert_not(http_header_has_token(&req, "Accept-Encoding", ""));
	cr_assert(http_header_has_token(&req, "X-Odd", "a b"));
	cr_assert_not(http_header_has_token(&req, "X-Odd", "a"));
	cr_assert_not(http_header_has_token(&req, "Missing", "a"));
	cr_assert_eq(req.hr_keepalive, 1);
	cr_assert_eq(req.hr_upgrade, 1);
}

Test(http, query_param)
{
	static struct http_request	 req;
	const char			*v;
	size_t				 len;

	parse_ok("GET /socket.io/?EIO=4&transport=polling&flag&empty=&"
	    "sid=a%2Bb&EIO=3&t=x=y HTTP/1.1\r\nHost: h\r\n\r\n", &req);
	v = http_query_param(&req, "EIO", &len);
	assert_str(v, len, "4", "EIO (first of two)");
	v = http_query_param(&req, "transport", &len);
	assert_str(v, len, "polling", "transport");
	v = http_query_param(&req, "flag", &len);
	assert_str(v, len, "", "flag");
	v = http_query_param(&req, "empty", &len);
	assert_str(v, len, "", "empty");
	v = http_query_param(&req, "sid", &len);
	assert_str(v, len, "a%2Bb", "sid, not decoded");
	v = http_query_param(&req, "t", &len);
	assert_str(v, len, "x=y", "t");
	cr_assert_null(http_query_param(&req, "eio", &len));
	cr_assert_null(http_query_param(&req, "EI", &len));
	cr_assert_null(http_query_param(&req, "transports", &len));
	cr_assert_null(http_query_param(&req, "x", &len));

	parse_ok("GET /p HTTP/1.1\r\nHost: h\r\n\r\n", &req);
	cr_assert_null(http_query_param(&req, "EIO", &len));
	parse_ok("GET /p? HTTP/1.1\r\nHost: h\r\n\r\n", &req);
	cr_assert_null(http_query_param(&req, "EIO", &len));
	parse_ok("GET /p?&&a HTTP/1.1\r\nHost: h\r\n\r\n", &req);
	v = http_query_param(&req, "a", &len);
	assert_str(v, len, "", "a after empty pairs");
}

Test(http, reason)
{
	static const struct {
		int		 status;
		const char	*reason;
	} known[] = {
		{ 100, "Continue" }, { 101, "Switching Protocols" },
		{ 200, "OK" }, { 204, "No Content" },
		{ 206, "Partial Content" }, { 301, "Moved Permanently" },
		{ 302, "Found" }, { 304, "Not Modified" },
		{ 400, "Bad Request" }, { 403, "Forbidden" },
		{ 404, "Not Found" }, { 405, "Method Not Allowed" },
		{ 408, "Request Timeout" }, { 411, "Length Required" },
		{ 413, "Content Too Large" }, { 414, "URI Too Long" },
		{ 426, "Upgrade Required" }, { 429, "Too Many Requests" },
		{ 431, "Request Header Fields Too Large" },
		{ 500, "Internal Server Error" }, { 501, "Not Implemented" },
		{ 503, "Service Unavailable" },
		{ 505, "HTTP Version Not Supported" },
	};
	size_t	i;

	for (i = 0; i < NELEM(known); i++)
		cr_assert_str_eq(http_reason(known[i].status), known[i].reason);
	cr_assert_str_eq(http_reason(0), "Unknown");
	cr_assert_str_eq(http_reason(299), "Unknown");
	cr_assert_str_eq(http_reason(-1), "Unknown");
}

/* IMF-fixdate of t, formatted independently of http.c. */
static void
imf_date(time_t t, char *buf, size_t size)
{
	static const char *const days[] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
	};
	static const char *const months[] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
	};
	struct tm	tm;

	cr_assert_not_null(gmtime_r(&t, &tm));
	snprintf(buf, size, "%s, %02d %s %04d %02d:%02d:%02d GMT",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/*
 * The response in evb must be status_line, a Date of about now, then
 * rest, byte for byte.
 */
static void
assert_response(struct evbuffer *evb, const char *status_line,
    const char *rest, size_t restlen)
{
	char		 want[64], *out;
	const char	*date;
	size_t		 len, slen = strlen(status_line);
	time_t		 before, t;
	int		 found = 0;

	before = time(NULL);
	len = evbuffer_get_length(evb);
	out = malloc(len + 1);
	cr_assert_not_null(out);
	cr_assert_eq(evbuffer_remove(evb, out, len), (int)len);
	out[len] = '\0';

	cr_assert(len > slen + 6 + 29 + 2, "short response: %s", out);
	cr_assert(memcmp(out, status_line, slen) == 0, "got: %s", out);
	cr_assert(memcmp(out + slen, "Date: ", 6) == 0, "got: %s", out);
	date = out + slen + 6;
	/* The date was taken just before `before`, or in the same second. */
	for (t = before - 2; t <= before + 1 && !found; t++) {
		imf_date(t, want, sizeof(want));
		found = memcmp(date, want, 29) == 0;
	}
	cr_assert(found, "date: %.29s", date);
	cr_assert(memcmp(date + 29, "\r\n", 2) == 0);
	cr_assert_eq(len - (slen + 6 + 29 + 2), restlen, "got: %s", out);
	cr_assert(memcmp(date + 31, rest, restlen) == 0, "got: %s", out);
	free(out);
}

Test(http, response_head)
{
	struct evbuffer	*evb;
	static const char rest_101[] = "Server: raind\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
	static const char rest_404[] = "Server: raind\r\n"
	    "Content-Length: 0\r\nConnection: close\r\n\r\n";
	static const char rest_200[] = "Server: raind\r\n"
	    "Content-Length: 1234567890123\r\n\r\n";

	evb = evbuffer_new();
	cr_assert_not_null(evb);

	http_response_head(evb, 101, "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", -1, 1);
	assert_response(evb, "HTTP/1.1 101 Switching Protocols\r\n", rest_101,
	    sizeof(rest_101) - 1);

	http_response_head(evb, 404, NULL, 0, 0);
	assert_response(evb, "HTTP/1.1 404 Not Found\r\n", rest_404,
	    sizeof(rest_404) - 1);

	http_response_head(evb, 200, NULL, INT64_C(1234567890123), 1);
	assert_response(evb, "HTTP/1.1 200 OK\r\n", rest_200,
	    sizeof(rest_200) - 1);

	http_response_head(evb, 299, "", -1, 1);
	assert_response(evb, "HTTP/1.1 299 Unknown\r\n", "Server: raind\r\n\r\n",
	    sizeof("Server: raind\r\n\r\n") - 1);
	evbuffer_free(evb);
}

Test(http, response_with_body)
{
	struct evbuffer	*evb;
	static const char rest_ok[] = "Server: raind\r\n"
	    "Content-Type: text/plain; charset=UTF-8\r\n"
	    "Access-Control-Allow-Origin: *\r\n"
	    "Content-Length: 5\r\n\r\n0{\0}\n";
	static const char rest_400[] = "Server: raind\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: 0\r\nConnection: close\r\n\r\n";
	static const char rest_204[] = "Server: raind\r\n"
	    "Content-Length: 0\r\n\r\n";

	evb = evbuffer_new();
	cr_assert_not_null(evb);

	http_response(evb, 200, "text/plain; charset=UTF-8",
	    "Access-Control-Allow-Origin: *\r\n", "0{\0}\n", 5, 1);
	assert_response(evb, "HTTP/1.1 200 OK\r\n", rest_ok,
	    sizeof(rest_ok) - 1);

	http_response(evb, 400, "application/json", NULL, NULL, 0, 0);
	assert_response(evb, "HTTP/1.1 400 Bad Request\r\n", rest_400,
	    sizeof(rest_400) - 1);

	http_response(evb, 204, NULL, NULL, NULL, 0, 1);
	assert_response(evb, "HTTP/1.1 204 No Content\r\n", rest_204,
	    sizeof(rest_204) - 1);
	evbuffer_free(evb);
}
