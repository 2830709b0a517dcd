/*
 * http.h: the HTTP/1.1 request-head parser and response writer.
 *
 * The parser is pure (no I/O, no allocation): it is handed the bytes
 * received so far and either asks for more, returns a complete head, or
 * returns the HTTP status with which the request must be refused.  It is
 * incremental in the sense that a http_parser remembers how far it has
 * scanned, so feeding a head one byte at a time costs O(n), not O(n^2).
 *
 * Ownership: every pointer in a struct http_request points into the
 * buffer given to http_parse_head and is valid as long as those bytes
 * are, i.e. until the caller drains them.
 */
#ifndef RAIND_HTTP_H
#define RAIND_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct evbuffer;

/* Hard ceilings; the configured limits may only be lower. */
#define HTTP_HEADERS_MAX	256	/* headers per request */
#define HTTP_HEAD_MAX		(64 * 1024)	/* bytes of a head */

enum http_method {
	HTTP_METHOD_OTHER = 0,
	HTTP_METHOD_GET,
	HTTP_METHOD_HEAD,
	HTTP_METHOD_POST,
	HTTP_METHOD_PUT,
	HTTP_METHOD_DELETE,
	HTTP_METHOD_OPTIONS,
	HTTP_METHOD_PATCH,
	HTTP_METHOD_CONNECT,
	HTTP_METHOD_TRACE
};

struct http_limits {
	size_t	hl_max_request_line;	/* 414 beyond */
	size_t	hl_max_header_size;	/* 431 beyond (whole head) */
	size_t	hl_max_headers;		/* 431 beyond (count) */
	size_t	hl_max_body_size;	/* 413 beyond (Content-Length) */
};

struct http_header {
	const char	*hh_name;
	size_t		 hh_namelen;
	const char	*hh_value;	/* leading/trailing blanks trimmed */
	size_t		 hh_valuelen;
};

struct http_request {
	enum http_method	 hr_method;
	const char		*hr_method_str;
	size_t			 hr_method_len;
	const char		*hr_target;	/* request-target as sent */
	size_t			 hr_target_len;
	const char		*hr_path;	/* target without the query */
	size_t			 hr_path_len;
	const char		*hr_query;	/* after '?', or NULL */
	size_t			 hr_query_len;
	int			 hr_version;	/* 10 or 11 */
	struct http_header	 hr_headers[HTTP_HEADERS_MAX];
	size_t			 hr_nheaders;
	size_t			 hr_head_len;	/* bytes of the head, CRLFCRLF included */
	int64_t			 hr_content_length;	/* -1 when absent */
	int			 hr_keepalive;	/* per version and Connection */
	int			 hr_upgrade;	/* Connection: upgrade present */
};

struct http_parser {
	size_t	hp_scanned;	/* bytes already searched for the end of head */
	size_t	hp_line;	/* start of the line hp_scanned is in */
};

#define HTTP_PARSE_MORE		0	/* need more bytes */
#define HTTP_PARSE_ERROR	(-1)	/* refuse with *status */

void	http_parser_init(struct http_parser *);
/*
 * Look at buf[0..len).  Returns the head length (> 0) when a complete and
 * valid head was parsed into req, HTTP_PARSE_MORE when more bytes are
 * needed, or HTTP_PARSE_ERROR with *status set to 400, 411 (chunked or
 * other transfer-coding bodies), 413, 414, 431, 501 (unknown
 * Transfer-Encoding) or 505 (version).  Leading empty lines before the
 * request line are skipped, as RFC 9112 allows.
 *
 * Request bodies must be framed by Content-Length: a chunked body is
 * refused with 411 (Length Required) so that the client resends it with
 * a length (Engine.IO clients always do); any other transfer coding gets
 * 501.  414 and 431 are returned as soon as the bytes seen prove them,
 * before the head is complete.  Feed the same parser a growing buffer;
 * once it returns anything but HTTP_PARSE_MORE it is ready for the next
 * head (after the caller drained this one).
 */
int	http_parse_head(struct http_parser *, const struct http_limits *,
	    const char *buf, size_t len, struct http_request *req, int *status);

/* Case-insensitive header lookup; the first match, or NULL. */
const struct http_header *http_header_find(const struct http_request *, const char *name);
/* Does the comma-separated header value list contain token (case-insensitive)? */
int	http_header_has_token(const struct http_request *, const char *name, const char *token);
/* Value of query parameter name (not decoded), or NULL; *len set. */
const char *http_query_param(const struct http_request *, const char *name, size_t *len);

/*
 * The IMF-fixdate of t ("Sun, 06 Nov 1994 08:49:37 GMT"), written by
 * hand: strftime's %a and %b follow the locale.  len: 30 bytes or more.
 */
void	http_date_format(time_t, char *buf, size_t len);
/* The reason phrase of a status code ("Not Found"). */
const char *http_reason(int status);
/*
 * Append a response head: status line, Date, the given extra header lines
 * (each "Name: value\r\n", may be NULL), Content-Length when body_len >= 0,
 * Connection: close when !keepalive, then the blank line.
 */
void	http_response_head(struct evbuffer *, int status, const char *extra,
	    int64_t body_len, int keepalive);
/* A complete response with a body of content type ctype. */
void	http_response(struct evbuffer *, int status, const char *ctype,
	    const char *extra, const void *body, size_t body_len, int keepalive);

#endif
