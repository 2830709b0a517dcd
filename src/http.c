/*
 * http.c: the HTTP/1.1 request-head parser and response writer.  See http.h.
 *
 * The parser works in two stages.  The scan (http_scan) looks at each
 * byte once, line by line, for the empty line that ends the head, and
 * enforces the two limits that can be proven before the head is
 * complete: the request line (414) and the head size (431).  Only then is
 * the complete head parsed and checked (http_parse_complete), once.
 *
 * The result is a function of the bytes alone: for a buffer, it is the
 * decision made at the shortest prefix that allows one.  So the caller
 * gets the same answer whether the bytes came in one read or one at a
 * time, and the parser state is only a cache of how far it got.
 */
#include "config.h"

#include <sys/types.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>

#include "http.h"
#include "log.h"

#define HTTP_STATUS_BAD_REQUEST		400
#define HTTP_STATUS_LENGTH_REQUIRED	411
#define HTTP_STATUS_TOO_LARGE		413
#define HTTP_STATUS_URI_TOO_LONG	414
#define HTTP_STATUS_HEADERS_TOO_LARGE	431
#define HTTP_STATUS_NOT_IMPLEMENTED	501
#define HTTP_STATUS_VERSION		505

/*
 * Content-Length values above 2^53 are refused as malformed: no body
 * limit comes near, and every value below fits a double exactly, so the
 * number never overflows here nor in a JavaScript peer.
 */
#define HTTP_CONTENT_LENGTH_MAX		(INT64_C(1) << 53)

/* "HTTP/" DIGIT "." DIGIT */
#define HTTP_VERSION_PREFIX		"HTTP/"
#define HTTP_VERSION_LEN		8

#define HTTP_SERVER_NAME		"raind"
/* "Sun, 06 Nov 1994 08:49:37 GMT" is 29; room for absurd years. */
#define HTTP_DATE_SIZE			64

#define HTTP_MIN(a, b)			((a) < (b) ? (a) : (b))

static const struct {
	const char		*name;
	enum http_method	 method;
} http_methods[] = {
	{ "GET",	HTTP_METHOD_GET },
	{ "HEAD",	HTTP_METHOD_HEAD },
	{ "POST",	HTTP_METHOD_POST },
	{ "PUT",	HTTP_METHOD_PUT },
	{ "DELETE",	HTTP_METHOD_DELETE },
	{ "OPTIONS",	HTTP_METHOD_OPTIONS },
	{ "PATCH",	HTTP_METHOD_PATCH },
	{ "CONNECT",	HTTP_METHOD_CONNECT },
	{ "TRACE",	HTTP_METHOD_TRACE },
};

static const struct {
	int		 status;
	const char	*reason;
} http_reasons[] = {
	{ 100, "Continue" },
	{ 101, "Switching Protocols" },
	{ 200, "OK" },
	{ 204, "No Content" },
	{ 206, "Partial Content" },
	{ 301, "Moved Permanently" },
	{ 302, "Found" },
	{ 304, "Not Modified" },
	{ 400, "Bad Request" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 408, "Request Timeout" },
	{ 411, "Length Required" },
	{ 413, "Content Too Large" },
	{ 414, "URI Too Long" },
	{ 426, "Upgrade Required" },
	{ 429, "Too Many Requests" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" },
	{ 501, "Not Implemented" },
	{ 502, "Bad Gateway" },
	{ 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" },
	{ 505, "HTTP Version Not Supported" },
};

/* The path of an absolute-form target without one ("http://host"). */
static const char http_root_path[] = "/";

/* RFC 9110 tchar: the characters of methods and header names. */
static int
http_is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return (1);
	return (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/*
 * Request targets are visible ASCII: clients percent-encode anything
 * else, so a raw byte outside that range is a broken or hostile client.
 */
static int
http_is_target_char(unsigned char c)
{
	return (c > 0x20 && c < 0x7f);
}

/* Field values: visible ASCII, blanks and obs-text (RFC 9110 5.5). */
static int
http_is_value_char(unsigned char c)
{
	return (c == '\t' || (c >= 0x20 && c != 0x7f));
}

static int
http_is_blank(char c)
{
	return (c == ' ' || c == '\t');
}

/* Length of a line (LF excluded) without the CR that may end it. */
static size_t
http_line_content(const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\r')
		return (len - 1);
	return (len);
}

/*
 * Is the line that ends with the LF at buf[off - 1] empty?  Only the
 * bytes just before off matter, which is what lets the scan resume
 * without remembering anything about earlier lines.
 */
static int
http_prev_line_empty(const char *buf, size_t off)
{
	if (off == 1 || buf[off - 2] == '\n')
		return (1);
	if (buf[off - 2] == '\r' && (off == 2 || buf[off - 3] == '\n'))
		return (1);
	return (0);
}

void
http_parser_init(struct http_parser *hp)
{
	hp->hp_scanned = 0;
	hp->hp_line = 0;
}

/*
 * Find the end of the head in buf[0..len), resuming where the previous
 * call stopped.  A line is empty when it holds nothing or a lone CR; an
 * empty line before the request line is skipped, the first one after it
 * ends the head.  The line the scan is in is the request line when no
 * non-empty line came before it, which the bytes just before its start
 * tell (http_prev_line_empty): had a non-empty line been followed by an
 * empty one, the head would already have ended.
 *
 * No byte beyond the head-size limit is looked at, so the 414 and 431
 * decisions are those of the shortest prefix that proves them.  Returns
 * the head length, HTTP_PARSE_MORE, or HTTP_PARSE_ERROR with *status.
 */
static int
http_scan(struct http_parser *hp, const struct http_limits *hl,
    const char *buf, size_t len, int *status)
{
	const char	*lf;
	size_t		 max_head, lim, line, end, n;
	int		 before_rl;

	max_head = HTTP_MIN(hl->hl_max_header_size, (size_t)HTTP_HEAD_MAX);
	lim = len > max_head ? max_head + 1 : len;

	/* A shrunk buffer or changed limits: start over rather than trust. */
	if (hp->hp_scanned > lim || hp->hp_line > hp->hp_scanned)
		http_parser_init(hp);

	for (;;) {
		line = hp->hp_line;
		before_rl = line == 0 || http_prev_line_empty(buf, line);
		lf = memchr(buf + hp->hp_scanned, '\n', lim - hp->hp_scanned);
		if (lf == NULL) {
			hp->hp_scanned = lim;
			break;
		}
		end = (size_t)(lf - buf);
		n = http_line_content(buf + line, end - line);
		if (n == 0 && !before_rl) {
			if (end + 1 > max_head) {
				*status = HTTP_STATUS_HEADERS_TOO_LARGE;
				return (HTTP_PARSE_ERROR);
			}
			return ((int)(end + 1));
		}
		if (before_rl && n > hl->hl_max_request_line) {
			*status = HTTP_STATUS_URI_TOO_LONG;
			return (HTTP_PARSE_ERROR);
		}
		hp->hp_line = hp->hp_scanned = end + 1;
	}

	/*
	 * An incomplete request line that is already too long cannot get
	 * shorter; a trailing CR does not count, it may be the line end.
	 */
	if (before_rl &&
	    http_line_content(buf + line, lim - line) > hl->hl_max_request_line) {
		*status = HTTP_STATUS_URI_TOO_LONG;
		return (HTTP_PARSE_ERROR);
	}
	if (lim > max_head) {
		*status = HTTP_STATUS_HEADERS_TOO_LARGE;
		return (HTTP_PARSE_ERROR);
	}
	return (HTTP_PARSE_MORE);
}

/*
 * Take the next line of a complete head at *pp (every line of it ends
 * with an LF before end); return its start and set *n to its length
 * without CR LF.
 */
static const char *
http_next_line(const char **pp, const char *end, size_t *n)
{
	const char	*line = *pp, *lf;

	lf = memchr(line, '\n', (size_t)(end - line));
	if (lf == NULL) {	/* not in a head http_scan accepted */
		*n = 0;
		*pp = end;
		return (line);
	}
	*n = http_line_content(line, (size_t)(lf - line));
	*pp = lf + 1;
	return (line);
}

static enum http_method
http_method_lookup(const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < sizeof(http_methods) / sizeof(http_methods[0]); i++)
		if (strlen(http_methods[i].name) == len &&
		    memcmp(http_methods[i].name, s, len) == 0)
			return (http_methods[i].method);
	return (HTTP_METHOD_OTHER);
}

/* "HTTP/1.1": 0 with *version set, or the status to refuse with. */
static int
http_parse_version(const char *s, size_t len, int *version)
{
	const size_t	 plen = sizeof(HTTP_VERSION_PREFIX) - 1;
	unsigned char	 major, minor;

	if (len != HTTP_VERSION_LEN ||
	    memcmp(s, HTTP_VERSION_PREFIX, plen) != 0)
		return (HTTP_STATUS_BAD_REQUEST);
	major = (unsigned char)s[plen];
	minor = (unsigned char)s[plen + 2];
	if (major < '0' || major > '9' || s[plen + 1] != '.' ||
	    minor < '0' || minor > '9')
		return (HTTP_STATUS_BAD_REQUEST);
	if (major != '1' || (minor != '0' && minor != '1'))
		return (HTTP_STATUS_VERSION);
	*version = minor == '0' ? 10 : 11;
	return (0);
}

/* Split path?query into hr_path and hr_query. */
static void
http_split_query(struct http_request *req, const char *s, size_t len)
{
	const char	*q;

	q = memchr(s, '?', len);
	if (q == NULL) {
		req->hr_path = s;
		req->hr_path_len = len;
		req->hr_query = NULL;
		req->hr_query_len = 0;
		return;
	}
	req->hr_path = s;
	req->hr_path_len = (size_t)(q - s);
	req->hr_query = q + 1;
	req->hr_query_len = len - req->hr_path_len - 1;
}

/*
 * Origin-form ("/p?q"), asterisk-form ("*", OPTIONS only) or
 * absolute-form ("http://host/p?q", whose path and query are used as if
 * sent in origin-form; RFC 9112 3.2.2 makes servers accept it).
 * Authority-form is for CONNECT, which this server does not proxy.
 */
static int
http_parse_target(struct http_request *req)
{
	static const char *const schemes[] = { "http://", "https://" };
	const char	*t = req->hr_target, *end, *auth;
	size_t		 len = req->hr_target_len, i, slen = 0;

	if (t[0] == '/') {
		http_split_query(req, t, len);
		return (0);
	}
	if (len == 1 && t[0] == '*') {
		if (req->hr_method != HTTP_METHOD_OPTIONS)
			return (HTTP_STATUS_BAD_REQUEST);
		req->hr_path = t;
		req->hr_path_len = 1;
		req->hr_query = NULL;
		req->hr_query_len = 0;
		return (0);
	}
	end = t + len;
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		slen = strlen(schemes[i]);
		if (len > slen && strncasecmp(t, schemes[i], slen) == 0)
			break;
	}
	if (i == sizeof(schemes) / sizeof(schemes[0]))
		return (HTTP_STATUS_BAD_REQUEST);
	auth = t + slen;
	for (t = auth; t < end && *t != '/' && *t != '?'; t++)
		;
	if (t == auth)
		return (HTTP_STATUS_BAD_REQUEST);
	if (t < end && *t == '/') {
		http_split_query(req, t, (size_t)(end - t));
		return (0);
	}
	req->hr_path = http_root_path;
	req->hr_path_len = sizeof(http_root_path) - 1;
	if (t < end) {
		req->hr_query = t + 1;
		req->hr_query_len = (size_t)(end - t - 1);
	} else {
		req->hr_query = NULL;
		req->hr_query_len = 0;
	}
	return (0);
}

/* METHOD SP request-target SP HTTP-version, single spaces. */
static int
http_parse_request_line(struct http_request *req, const char *s, size_t n)
{
	const char	*end = s + n, *p, *t;
	int		 status;

	for (p = s; p < end && http_is_tchar((unsigned char)*p); p++)
		;
	if (p == s || p == end || *p != ' ')
		return (HTTP_STATUS_BAD_REQUEST);
	req->hr_method_str = s;
	req->hr_method_len = (size_t)(p - s);
	req->hr_method = http_method_lookup(s, req->hr_method_len);

	t = ++p;
	while (p < end && http_is_target_char((unsigned char)*p))
		p++;
	if (p == t || p == end || *p != ' ')
		return (HTTP_STATUS_BAD_REQUEST);
	req->hr_target = t;
	req->hr_target_len = (size_t)(p - t);
	p++;

	/* The version first: a request of another version is not ours to judge. */
	if ((status = http_parse_version(p, (size_t)(end - p),
	    &req->hr_version)) != 0)
		return (status);
	return (http_parse_target(req));
}

/* name ":" OWS value OWS; no blank before the colon (RFC 9112 5.1). */
static int
http_parse_header(struct http_header *hh, const char *s, size_t n)
{
	const char	*end = s + n, *p, *v;

	for (p = s; p < end && http_is_tchar((unsigned char)*p); p++)
		;
	if (p == s || p == end || *p != ':')
		return (HTTP_STATUS_BAD_REQUEST);
	hh->hh_name = s;
	hh->hh_namelen = (size_t)(p - s);
	for (p++; p < end && http_is_blank(*p); p++)
		;
	for (v = p; p < end; p++)
		if (!http_is_value_char((unsigned char)*p))
			return (HTTP_STATUS_BAD_REQUEST);
	while (end > v && http_is_blank(end[-1]))
		end--;
	hh->hh_value = v;
	hh->hh_valuelen = (size_t)(end - v);
	return (0);
}

/* Content-Length: digits only, at most HTTP_CONTENT_LENGTH_MAX; -1 if not. */
static int64_t
http_parse_length(const char *s, size_t len)
{
	int64_t	v = 0;
	size_t	i;

	if (len == 0)
		return (-1);
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		/* v <= 2^53 here, so v * 10 + 9 cannot overflow. */
		v = v * 10 + (s[i] - '0');
		if (v > HTTP_CONTENT_LENGTH_MAX)
			return (-1);
	}
	return (v);
}

static int
http_name_is(const struct http_header *hh, const char *name)
{
	return (strlen(name) == hh->hh_namelen &&
	    strncasecmp(hh->hh_name, name, hh->hh_namelen) == 0);
}

/*
 * The next element of a comma-separated list in *pp..end, blanks
 * around it trimmed; empty elements are skipped (RFC 9110 5.6.1).
 * Returns 0 at the end of the list.
 */
static int
http_list_next(const char **pp, const char *end, const char **elt,
    size_t *len)
{
	const char	*p = *pp, *e;

	for (;;) {
		while (p < end && (http_is_blank(*p) || *p == ','))
			p++;
		if (p == end) {
			*pp = p;
			return (0);
		}
		for (e = p; e < end && *e != ','; e++)
			;
		*pp = e;
		while (e > p && http_is_blank(e[-1]))
			e--;
		*elt = p;
		*len = (size_t)(e - p);
		return (1);
	}
}

/*
 * Is the Transfer-Encoding exactly "chunked" (over all its header
 * lines)?  That is a body we could read but refuse (411); any other
 * coding is one we do not implement (501).
 */
static int
http_te_is_chunked(const struct http_request *req)
{
	const struct http_header	*hh;
	const char			*p, *elt;
	size_t				 i, len, n = 0, chunked = 0;

	for (i = 0; i < req->hr_nheaders; i++) {
		hh = &req->hr_headers[i];
		if (!http_name_is(hh, "Transfer-Encoding"))
			continue;
		p = hh->hh_value;
		while (http_list_next(&p, hh->hh_value + hh->hh_valuelen,
		    &elt, &len)) {
			n++;
			if (len == 7 && strncasecmp(elt, "chunked", len) == 0)
				chunked++;
		}
	}
	return (n == 1 && chunked == 1);
}

/*
 * The framing headers, checked once all are known: Content-Length and
 * Transfer-Encoding decide where the body ends, and a request whose
 * framing two parties could read differently is refused outright.
 */
static int
http_check_framing(const struct http_limits *hl, struct http_request *req)
{
	const struct http_header	*hh;
	size_t				 i;
	int64_t				 clen = -1, v;
	int				 te = 0, host = 0;

	for (i = 0; i < req->hr_nheaders; i++) {
		hh = &req->hr_headers[i];
		if (http_name_is(hh, "Content-Length")) {
			if ((v = http_parse_length(hh->hh_value,
			    hh->hh_valuelen)) == -1)
				return (HTTP_STATUS_BAD_REQUEST);
			if (clen != -1 && clen != v)
				return (HTTP_STATUS_BAD_REQUEST);
			clen = v;
		} else if (http_name_is(hh, "Transfer-Encoding"))
			te = 1;
		else if (http_name_is(hh, "Host")) {
			/* RFC 9112 3.2: one Host, no guessing which. */
			if (host)
				return (HTTP_STATUS_BAD_REQUEST);
			host = 1;
		}
	}
	if (te && clen != -1)
		return (HTTP_STATUS_BAD_REQUEST);
	if (req->hr_version == 11 && !host)
		return (HTTP_STATUS_BAD_REQUEST);
	if (te)
		return (http_te_is_chunked(req) ? HTTP_STATUS_LENGTH_REQUIRED :
		    HTTP_STATUS_NOT_IMPLEMENTED);
	if (clen != -1 && (uint64_t)clen > (uint64_t)hl->hl_max_body_size)
		return (HTTP_STATUS_TOO_LARGE);
	req->hr_content_length = clen;
	return (0);
}

/* Parse the complete head buf[0..head_len): 0, or the status to refuse with. */
static int
http_parse_complete(const struct http_limits *hl, const char *buf,
    size_t head_len, struct http_request *req)
{
	const char	*p = buf, *end = buf + head_len, *line;
	size_t		 n, max_headers;
	int		 status;

	max_headers = HTTP_MIN(hl->hl_max_headers, (size_t)HTTP_HEADERS_MAX);
	req->hr_nheaders = 0;
	req->hr_head_len = head_len;
	req->hr_content_length = -1;

	/* The empty lines http_scan skipped. */
	for (;;) {
		if (p < end && *p == '\n')
			p++;
		else if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
			p += 2;
		else
			break;
	}
	line = http_next_line(&p, end, &n);
	if ((status = http_parse_request_line(req, line, n)) != 0)
		return (status);

	for (;;) {
		line = http_next_line(&p, end, &n);
		if (n == 0)
			break;
		/* obs-fold: RFC 9112 5.2 lets a server refuse it, and we do. */
		if (http_is_blank(line[0]))
			return (HTTP_STATUS_BAD_REQUEST);
		if (req->hr_nheaders == max_headers)
			return (HTTP_STATUS_HEADERS_TOO_LARGE);
		if ((status = http_parse_header(
		    &req->hr_headers[req->hr_nheaders], line, n)) != 0)
			return (status);
		req->hr_nheaders++;
	}

	if ((status = http_check_framing(hl, req)) != 0)
		return (status);
	if (req->hr_version == 11)
		req->hr_keepalive = !http_header_has_token(req, "Connection",
		    "close");
	else
		req->hr_keepalive = http_header_has_token(req, "Connection",
		    "keep-alive") && !http_header_has_token(req, "Connection",
		    "close");
	req->hr_upgrade = http_header_has_token(req, "Connection", "upgrade");
	return (0);
}

int
http_parse_head(struct http_parser *hp, const struct http_limits *hl,
    const char *buf, size_t len, struct http_request *req, int *status)
{
	int	r;

	r = http_scan(hp, hl, buf, len, status);
	if (r == HTTP_PARSE_MORE)
		return (HTTP_PARSE_MORE);
	/* Decided: the next call starts on the next head. */
	http_parser_init(hp);
	if (r == HTTP_PARSE_ERROR)
		return (HTTP_PARSE_ERROR);
	if ((*status = http_parse_complete(hl, buf, (size_t)r, req)) != 0)
		return (HTTP_PARSE_ERROR);
	return (r);
}

const struct http_header *
http_header_find(const struct http_request *req, const char *name)
{
	size_t	i;

	for (i = 0; i < req->hr_nheaders; i++)
		if (http_name_is(&req->hr_headers[i], name))
			return (&req->hr_headers[i]);
	return (NULL);
}

int
http_header_has_token(const struct http_request *req, const char *name,
    const char *token)
{
	const struct http_header	*hh;
	const char			*p, *elt;
	size_t				 i, len, tlen = strlen(token);

	if (tlen == 0)
		return (0);
	for (i = 0; i < req->hr_nheaders; i++) {
		hh = &req->hr_headers[i];
		if (!http_name_is(hh, name))
			continue;
		p = hh->hh_value;
		while (http_list_next(&p, hh->hh_value + hh->hh_valuelen,
		    &elt, &len))
			if (len == tlen && strncasecmp(elt, token, len) == 0)
				return (1);
	}
	return (0);
}

const char *
http_query_param(const struct http_request *req, const char *name,
    size_t *len)
{
	const char	*p, *end, *pair, *eq;
	size_t		 nlen = strlen(name);

	*len = 0;
	if (req->hr_query == NULL)
		return (NULL);
	p = req->hr_query;
	end = p + req->hr_query_len;
	for (;;) {
		pair = p;
		while (p < end && *p != '&')
			p++;
		/* pair..p is one "name=value" or "name" */
		eq = memchr(pair, '=', (size_t)(p - pair));
		if (eq == NULL)
			eq = p;
		if ((size_t)(eq - pair) == nlen &&
		    memcmp(pair, name, nlen) == 0) {
			if (eq == p)
				return (p);
			*len = (size_t)(p - eq - 1);
			return (eq + 1);
		}
		if (p == end)
			return (NULL);
		p++;
	}
}

const char *
http_reason(int status)
{
	size_t	i;

	for (i = 0; i < sizeof(http_reasons) / sizeof(http_reasons[0]); i++)
		if (http_reasons[i].status == status)
			return (http_reasons[i].reason);
	return ("Unknown");
}

void
http_date_format(time_t t, char *buf, size_t len)
{
	static const char *const days[] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
	};
	static const char *const months[] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
	};
	struct tm	tm;

	if (gmtime_r(&t, &tm) == NULL) {
		snprintf(buf, len, "Thu, 01 Jan 1970 00:00:00 GMT");
		return;
	}
	snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d GMT",
	    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/*
 * The IMF-fixdate of now, formatted at most once a second.  The static
 * buffer is fine: responses are written on a worker's one event-loop
 * thread.
 */
static const char *
http_date(void)
{
	static char	 date[HTTP_DATE_SIZE];
	static time_t	 date_sec = -1;
	time_t		 now;

	now = time(NULL);
	if (now != date_sec) {
		http_date_format(now, date, sizeof(date));
		date_sec = now;
	}
	return (date);
}

/* evbuffer appends fail only when memory is exhausted, as xmalloc does. */
static void
http_add(struct evbuffer *buf, const void *data, size_t len)
{
	if (evbuffer_add(buf, data, len) == -1)
		fatalx("%s: out of memory", __func__);
}

static void
http_addf(struct evbuffer *buf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
http_addf(struct evbuffer *buf, const char *fmt, ...)
{
	va_list	ap;
	int	r;

	va_start(ap, fmt);
	r = evbuffer_add_vprintf(buf, fmt, ap);
	va_end(ap);
	if (r == -1)
		fatalx("%s: out of memory", __func__);
}

static void
http_head_write(struct evbuffer *buf, int status, const char *ctype,
    const char *extra, int64_t body_len, int keepalive)
{
	http_addf(buf, "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: %s\r\n",
	    status, http_reason(status), http_date(), HTTP_SERVER_NAME);
	if (ctype != NULL)
		http_addf(buf, "Content-Type: %s\r\n", ctype);
	if (extra != NULL)
		http_add(buf, extra, strlen(extra));
	if (body_len >= 0)
		http_addf(buf, "Content-Length: %lld\r\n", (long long)body_len);
	/* HTTP/1.1 persists by default, so only the opposite is said. */
	if (!keepalive)
		http_addf(buf, "Connection: close\r\n");
	http_add(buf, "\r\n", 2);
}

void
http_response_head(struct evbuffer *buf, int status, const char *extra,
    int64_t body_len, int keepalive)
{
	http_head_write(buf, status, NULL, extra, body_len, keepalive);
}

void
http_response(struct evbuffer *buf, int status, const char *ctype,
    const char *extra, const void *body, size_t body_len, int keepalive)
{
	http_head_write(buf, status, ctype, extra, (int64_t)body_len,
	    keepalive);
	if (body_len > 0)
		http_add(buf, body, body_len);
}
