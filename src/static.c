/*
 * static.c: static files of components and the client bundle.  See
 * static.h.
 *
 * The path of a request is checked twice.  First lexically: it is split
 * at '/', each segment is percent-decoded once and refused when it could
 * move (".", "..", an encoded '/' or a '\\') or hide (NUL) anything.  Then
 * on the file system: the file's realpath(3) must lie inside the realpath
 * of the client folder, which catches symlinks that lead out of it while
 * still allowing those that stay inside.  The file is then opened by its
 * resolved name with O_NOFOLLOW, and everything sent about it (length,
 * validators) comes from fstat(2) of that descriptor.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "component.h"
#include "http.h"
#include "log.h"
#include "util.h"
#include "static.h"
#include "xmalloc.h"

#define STATIC_INDEX		"index.html"
#define STATIC_TYPE_DEFAULT	"application/octet-stream"
#define STATIC_TYPE_CLIENT	"application/javascript; charset=utf-8"
#define STATIC_TYPE_MAP		"application/json; charset=utf-8"
#define STATIC_TYPE_ERROR	"text/plain; charset=utf-8"
#define STATIC_ALLOW		"Allow: GET, HEAD\r\n"
#define STATIC_NOSNIFF		"X-Content-Type-Options: nosniff\r\n"
/* Revalidate every time: a component's files change with no new URL. */
#define STATIC_CACHE		"Cache-Control: no-cache\r\n"
#define STATIC_ETAG_SIZE	40	/* '"' 16 hex '-' 16 hex '"' NUL */
#define STATIC_DATE_SIZE	32	/* "Sun, 06 Nov 1994 08:49:37 GMT" */
#define STATIC_DATE_LEN		29	/* its length, the only one accepted */
#define STATIC_HEAD_SIZE	512	/* extra header lines of a file response */
#define STATIC_ERROR_SIZE	64	/* body of an error response */
#define STATIC_LOG_PATH_MAX	256	/* bytes of a path shown in the log */
#define STATIC_NSEC		1000000000ULL

struct static_ctx {
	const struct component_set *sc_set;	/* borrowed */
	char		*sc_eio_path;		/* "/socket.io/" */
	size_t		 sc_eio_path_len;
	char		*sc_client_script;	/* the bundle, or NULL */
	char		*sc_rain_script;	/* rain.js, or NULL */
	int		 sc_rain_warned;
	char		*sc_client_map;		/* its source map, or NULL */
	int		 sc_client_warned;	/* the bundle's absence was logged */
};

/* What a segment is when decoded. */
enum static_seg {
	STATIC_SEG_OK,
	STATIC_SEG_EMPTY,	/* "//" or the trailing slash */
	STATIC_SEG_BAD		/* cannot name a servable file */
};

struct static_type {
	const char	*st_ext;
	const char	*st_type;
};

/* Text types say their charset: client files are UTF-8 by convention. */
static const struct static_type static_types[] = {
	{ "html",	"text/html; charset=utf-8" },
	{ "htm",	"text/html; charset=utf-8" },
	{ "js",		"application/javascript; charset=utf-8" },
	{ "mjs",	"application/javascript; charset=utf-8" },
	{ "css",	"text/css; charset=utf-8" },
	{ "json",	"application/json; charset=utf-8" },
	{ "map",	"application/json; charset=utf-8" },
	{ "txt",	"text/plain; charset=utf-8" },
	{ "svg",	"image/svg+xml; charset=utf-8" },
	{ "png",	"image/png" },
	{ "jpg",	"image/jpeg" },
	{ "jpeg",	"image/jpeg" },
	{ "gif",	"image/gif" },
	{ "ico",	"image/x-icon" },
	{ "webp",	"image/webp" },
	{ "woff",	"font/woff" },
	{ "woff2",	"font/woff2" },
	{ "ttf",	"font/ttf" },
	{ "wasm",	"application/wasm" },
};

struct static_ctx *
static_new(const struct component_set *set, const char *eio_path,
    const char *client_script, const char *rain_script)
{
	struct static_ctx *sc;

	sc = xcalloc(1, sizeof(*sc));
	sc->sc_set = set;
	sc->sc_eio_path = xstrdup(eio_path);
	sc->sc_eio_path_len = strlen(eio_path);
	if (client_script != NULL) {
		sc->sc_client_script = xstrdup(client_script);
		xasprintf(&sc->sc_client_map, "%s%s", client_script,
		    STATIC_CLIENT_MAP_SUFFIX);
	}
	if (rain_script != NULL)
		sc->sc_rain_script = xstrdup(rain_script);
	return (sc);
}

void
static_free(struct static_ctx *sc)
{
	if (sc == NULL)
		return;
	free(sc->sc_eio_path);
	free(sc->sc_client_script);
	free(sc->sc_rain_script);
	free(sc->sc_client_map);
	free(sc);
}

/* The content type of a file name, by its extension. */
static const char *
static_type(const char *name)
{
	const char	*slash, *dot;
	size_t		 i;

	slash = strrchr(name, '/');
	dot = strrchr(slash != NULL ? slash : name, '.');
	if (dot == NULL)
		return (STATIC_TYPE_DEFAULT);
	for (i = 0; i < sizeof(static_types) / sizeof(static_types[0]); i++)
		if (strcasecmp(dot + 1, static_types[i].st_ext) == 0)
			return (static_types[i].st_type);
	return (STATIC_TYPE_DEFAULT);
}

/*
 * Percent-decode one segment src[0..len) into dst (dstlen bytes, NUL
 * terminated), once: "%252e" stays "%2e".  A segment that could escape
 * or confuse the lookup is STATIC_SEG_BAD: a malformed escape, a control
 * byte (NUL among them, which would cut the C string), '/' (only
 * reachable as %2F) or '\\', "." and "..", any other leading dot (hidden
 * files), or one too long for dst.
 */
static enum static_seg
static_segment(const char *src, size_t len, char *dst, size_t dstlen)
{
	size_t		i, n = 0;
	unsigned char	c;

	if (len == 0)
		return (STATIC_SEG_EMPTY);
	for (i = 0; i < len; i++) {
		c = (unsigned char)src[i];
		if (c == '%') {
			if (pct_decode_byte(src + i, len - i, &c) == -1)
				return (STATIC_SEG_BAD);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
			return (STATIC_SEG_BAD);
		if (n + 1 >= dstlen)
			return (STATIC_SEG_BAD);
		dst[n++] = (char)c;
	}
	dst[n] = '\0';
	if (dst[0] == '.')
		return (STATIC_SEG_BAD);
	return (STATIC_SEG_OK);
}

/*
 * Take the next segment of the path at *pp (just after a '/') and decode
 * it into dst; *pp moves past it and its '/'.  *last says whether it was
 * the final one.
 */
static enum static_seg
static_next(const char **pp, const char *end, char *dst, size_t dstlen,
    int *last)
{
	const char	*p = *pp, *slash;
	size_t		 len;

	slash = memchr(p, '/', (size_t)(end - p));
	len = slash != NULL ? (size_t)(slash - p) : (size_t)(end - p);
	*pp = slash != NULL ? slash + 1 : end;
	*last = slash == NULL;
	return (static_segment(p, len, dst, dstlen));
}

/* n decimal digits at s, or -1. */
static int
static_digits(const char *s, int n)
{
	int	v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		v = v * 10 + (s[i] - '0');
	}
	return (v);
}

/*
 * Parse an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT").  The obsolete
 * RFC 850 and asctime forms are not parsed: browsers echo the
 * Last-Modified they were sent, and an unparsed date only costs a full
 * answer instead of a 304.  0, or -1 when not a valid date.
 */
static int
static_date_parse(const char *s, size_t len, time_t *t)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	struct tm	 tm;
	const char	*m;
	time_t		 v;

	if (len != STATIC_DATE_LEN || s[3] != ',' || s[4] != ' ' ||
	    s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
	    s[22] != ':' || memcmp(s + 25, " GMT", 4) != 0)
		return (-1);
	memset(&tm, 0, sizeof(tm));
	for (m = months; *m != '\0'; m += 3)
		if (memcmp(m, s + 8, 3) == 0)
			break;
	if (*m == '\0')
		return (-1);
	tm.tm_mon = (int)(m - months) / 3;
	if ((tm.tm_mday = static_digits(s + 5, 2)) < 1 || tm.tm_mday > 31 ||
	    (tm.tm_year = static_digits(s + 12, 4)) < 1970 ||
	    (tm.tm_hour = static_digits(s + 17, 2)) < 0 || tm.tm_hour > 23 ||
	    (tm.tm_min = static_digits(s + 20, 2)) < 0 || tm.tm_min > 59 ||
	    (tm.tm_sec = static_digits(s + 23, 2)) < 0 || tm.tm_sec > 60)
		return (-1);
	tm.tm_year -= 1900;
	if ((v = timegm(&tm)) == (time_t)-1)
		return (-1);
	*t = v;
	return (0);
}

/*
 * Does the If-None-Match list v[0..len) hold etag?  Weak comparison (RFC
 * 9110 13.1.2): a "W/" prefix is ignored; our own tags are always
 * strong.  A malformed list matches nothing, which costs a full answer.
 */
static int
static_etag_match(const char *v, size_t len, const char *etag)
{
	const char	*p = v, *end = v + len, *q;
	size_t		 elen = strlen(etag);

	for (;;) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		if (p == end)
			return (0);
		if (*p == '*')
			return (1);
		if (end - p >= 2 && p[0] == 'W' && p[1] == '/')
			p += 2;
		if (p == end || *p != '"')
			return (0);
		if ((q = memchr(p + 1, '"', (size_t)(end - p - 1))) == NULL)
			return (0);
		q++;
		if ((size_t)(q - p) == elen && memcmp(p, etag, elen) == 0)
			return (1);
		p = q;
	}
}

static int
static_header_is(const struct http_header *hh, const char *name)
{
	size_t	len = strlen(name);

	return (hh->hh_namelen == len && strncasecmp(hh->hh_name, name, len) == 0);
}

/*
 * May the client keep its copy (RFC 9110 13.2.2)?  If-None-Match, in
 * every header that carries it, decides alone when present; otherwise
 * If-Modified-Since compares with the file's time in whole seconds, the
 * precision of Last-Modified.
 */
static int
static_not_modified(const struct http_request *req, const char *etag,
    time_t mtime)
{
	const struct http_header	*hh;
	time_t				 since;
	size_t				 i;
	int				 seen = 0;

	for (i = 0; i < req->hr_nheaders; i++) {
		hh = &req->hr_headers[i];
		if (!static_header_is(hh, "If-None-Match"))
			continue;
		seen = 1;
		if (static_etag_match(hh->hh_value, hh->hh_valuelen, etag))
			return (1);
	}
	if (seen)
		return (0);
	if ((hh = http_header_find(req, "If-Modified-Since")) == NULL ||
	    static_date_parse(hh->hh_value, hh->hh_valuelen, &since) == -1)
		return (0);
	return (mtime <= since);
}

/* A short plain-text answer: 301, 404, 405.  extra may be NULL. */
static int
static_answer(const struct http_request *req, struct evbuffer *out,
    int status, const char *extra, int keepalive)
{
	char	body[STATIC_ERROR_SIZE], *head;
	int	n;

	n = snprintf(body, sizeof(body), "%d %s\n", status, http_reason(status));
	/* extra may hold a long Location: allocate rather than bound it. */
	xasprintf(&head, "Content-Type: %s\r\n%s%s", STATIC_TYPE_ERROR,
	    STATIC_NOSNIFF, extra != NULL ? extra : "");
	http_response_head(out, status, head, n, keepalive);
	free(head);
	if (req->hr_method != HTTP_METHOD_HEAD &&
	    evbuffer_add(out, body, (size_t)n) == -1)
		fatalx("%s: out of memory", __func__);
	return (1);
}

static int
static_not_found(const struct http_request *req, struct evbuffer *out,
    int keepalive, const char *why)
{
	int	len;

	len = req->hr_path_len > STATIC_LOG_PATH_MAX ? STATIC_LOG_PATH_MAX :
	    (int)req->hr_path_len;
	log_debug("static: %.*s: %s", len, req->hr_path, why);
	return (static_answer(req, out, 404, NULL, keepalive));
}

/* 301 to the same path with a slash added, the query kept. */
static int
static_redirect(const struct http_request *req, struct evbuffer *out,
    int keepalive)
{
	char	*loc;

	if (req->hr_query != NULL)
		xasprintf(&loc, "Location: %.*s/?%.*s\r\n",
		    (int)req->hr_path_len, req->hr_path,
		    (int)req->hr_query_len, req->hr_query);
	else
		xasprintf(&loc, "Location: %.*s/\r\n", (int)req->hr_path_len,
		    req->hr_path);
	static_answer(req, out, 301, loc, keepalive);
	free(loc);
	return (1);
}

/*
 * Open path for serving: read-only, O_NONBLOCK so that a FIFO cannot
 * stall the worker in open(2), and O_NOFOLLOW when the name was already
 * resolved.  -1 with errno, or the descriptor and its fstat.
 */
static int
static_open(const char *path, int nofollow, struct stat *st)
{
	int	fd, save;

	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC |
	    (nofollow ? O_NOFOLLOW : 0));
	if (fd == -1)
		return (-1);
	if (fstat(fd, st) == -1) {
		save = errno;
		close(fd);
		errno = save;
		return (-1);
	}
	return (fd);
}

/*
 * Answer with the file open on fd (a regular file, described by st),
 * which this function closes or hands to out.
 */
static int
static_send(const struct http_request *req, struct evbuffer *out,
    int keepalive, int fd, const struct stat *st, const char *ctype)
{
	char		etag[STATIC_ETAG_SIZE], date[STATIC_DATE_SIZE];
	char		head[STATIC_HEAD_SIZE];
	uint64_t	mtime_ns;

	mtime_ns = (uint64_t)st->st_mtim.tv_sec * STATIC_NSEC +
	    (uint64_t)st->st_mtim.tv_nsec;
	snprintf(etag, sizeof(etag), "\"%llx-%llx\"",
	    (unsigned long long)st->st_size, (unsigned long long)mtime_ns);
	http_date_format(st->st_mtime, date, sizeof(date));

	if (static_not_modified(req, etag, st->st_mtime)) {
		close(fd);
		/* A 304 carries the validators, not the representation's type. */
		snprintf(head, sizeof(head), "ETag: %s\r\nLast-Modified: %s\r\n%s",
		    etag, date, STATIC_CACHE);
		http_response_head(out, 304, head, -1, keepalive);
		return (1);
	}
	snprintf(head, sizeof(head), "Content-Type: %s\r\nETag: %s\r\n"
	    "Last-Modified: %s\r\n%s%s", ctype, etag, date, STATIC_CACHE,
	    STATIC_NOSNIFF);
	http_response_head(out, 200, head, (int64_t)st->st_size, keepalive);
	if (req->hr_method == HTTP_METHOD_HEAD || st->st_size == 0) {
		close(fd);
		return (1);
	}
	/*
	 * The evbuffer owns fd from here and closes it once sent (sendfile
	 * on a plain socket; mmap, or failing that read, behind TLS).  As
	 * for every append, failure means memory is exhausted, which is
	 * fatal as in xmalloc; libevent 2.1 would not even say whether it
	 * still owns fd then.
	 */
	if (evbuffer_add_file(out, fd, 0, st->st_size) == -1)
		fatalx("%s: out of memory", __func__);
	return (1);
}

/* Is the resolved path inside the resolved root (or the root itself)? */
static int
static_inside(const char *path, const char *root)
{
	size_t	len = strlen(root);

	if (strncmp(path, root, len) != 0)
		return (0);
	/* The root "/" (a client folder that is a symlink to it) holds all. */
	if (len == 1)
		return (1);
	return (path[len] == '/' || path[len] == '\0');
}

/*
 * Resolve name and open it if it lies inside root; -1 otherwise (not
 * found, outside, unreadable).
 */
static int
static_open_inside(const char *name, const char *root, char *resolved,
    struct stat *st)
{
	if (realpath(name, resolved) == NULL || !static_inside(resolved, root))
		return (-1);
	return (static_open(resolved, 1, st));
}

/*
 * Serve the file rel ("a/b.js", or "" for the folder itself) of component
 * c's client folder.  dir_request: the path ended with a slash.
 */
static int
static_file(const struct http_request *req, struct evbuffer *out,
    int keepalive, const struct component *c, const char *rel,
    int dir_request)
{
	char		 root[PATH_MAX], name[PATH_MAX], resolved[PATH_MAX];
	char		*base = NULL;
	struct stat	 st;
	int		 fd, n;

	xasprintf(&base, "%s/%s", c->c_dir, COMPONENT_CLIENT);
	if (realpath(base, root) == NULL) {
		free(base);
		return (static_not_found(req, out, keepalive, "no client folder"));
	}
	n = snprintf(name, sizeof(name), "%s/%s", base, rel);
	free(base);
	if (n < 0 || (size_t)n >= sizeof(name))
		return (static_not_found(req, out, keepalive, "path too long"));
	if ((fd = static_open_inside(name, root, resolved, &st)) == -1)
		return (static_not_found(req, out, keepalive,
		    "no such file inside the client folder"));
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		if (!dir_request)
			return (static_redirect(req, out, keepalive));
		/* name: the directory as resolved, so still inside root. */
		n = snprintf(name, sizeof(name), "%s/%s", resolved, STATIC_INDEX);
		if (n < 0 || (size_t)n >= sizeof(name))
			return (static_not_found(req, out, keepalive,
			    "path too long"));
		if ((fd = static_open_inside(name, root, resolved, &st)) == -1)
			return (static_not_found(req, out, keepalive,
			    "directory without " STATIC_INDEX));
	} else if (dir_request) {
		close(fd);
		return (static_not_found(req, out, keepalive, "not a directory"));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return (static_not_found(req, out, keepalive, "not a regular file"));
	}
	return (static_send(req, out, keepalive, fd, &st, static_type(resolved)));
}

static int	static_operator_file(const struct http_request *, struct evbuffer *,
		    int, const char *, const char *, const char *, int *);

/* The client bundle and its source map under the Engine.IO endpoint. */
static int
static_client(struct static_ctx *sc, const struct http_request *req,
    struct evbuffer *out, int keepalive)
{
	static const char	 script[] = STATIC_CLIENT_NAME;
	static const char	 map[] = STATIC_CLIENT_NAME STATIC_CLIENT_MAP_SUFFIX;
	const char		*name = req->hr_path + sc->sc_eio_path_len;
	const char		*file, *ctype;
	size_t			 len = req->hr_path_len - sc->sc_eio_path_len;

	if (sc->sc_client_script == NULL)
		return (0);
	if (len == sizeof(script) - 1 && memcmp(name, script, len) == 0) {
		file = sc->sc_client_script;
		ctype = STATIC_TYPE_CLIENT;
	} else if (len == sizeof(map) - 1 && memcmp(name, map, len) == 0) {
		file = sc->sc_client_map;
		ctype = STATIC_TYPE_MAP;
	} else
		return (0);
	return (static_operator_file(req, out, keepalive, file, ctype,
	    file == sc->sc_client_script ? "client_script" : NULL,
	    &sc->sc_client_warned));
}

/*
 * A file the operator names (the client bundle, its map, rain.js):
 * symlinks (npm's, pnpm's) are followed.  Its absence is the operator's
 * to fix, said once per worker rather than once per request (directive
 * NULL: say nothing, as for a missing source map).
 */
static int
static_operator_file(const struct http_request *req, struct evbuffer *out,
    int keepalive, const char *file, const char *ctype, const char *directive,
    int *warned)
{
	struct stat	 st;
	int		 fd;

	if (req->hr_method != HTTP_METHOD_GET &&
	    req->hr_method != HTTP_METHOD_HEAD)
		return (static_answer(req, out, 405, STATIC_ALLOW, keepalive));
	if ((fd = static_open(file, 0, &st)) == -1) {
		if (directive != NULL && !*warned) {
			log_warn("%s %s", directive, file);
			*warned = 1;
		}
		return (static_not_found(req, out, keepalive, "no such file"));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		if (directive != NULL && !*warned) {
			log_warnx("%s %s: not a regular file", directive, file);
			*warned = 1;
		}
		return (static_not_found(req, out, keepalive, "not a regular file"));
	}
	return (static_send(req, out, keepalive, fd, &st, ctype));
}

int
static_serve(struct static_ctx *sc, const struct http_request *req,
    struct evbuffer *out, int keepalive)
{
	const struct component	*c;
	const char		*p = req->hr_path, *end = p + req->hr_path_len;
	char			 id[COMPONENT_ID_MAX + 1];
	char			 version[COMPONENT_VERSION_MAX + 1];
	char			 rel[PATH_MAX], seg[PATH_MAX];
	size_t			 n = 0, len;
	int			 last;

	if (req->hr_path_len >= sc->sc_eio_path_len &&
	    memcmp(p, sc->sc_eio_path, sc->sc_eio_path_len) == 0)
		return (static_client(sc, req, out, keepalive));
	if (sc->sc_rain_script != NULL &&
	    req->hr_path_len == strlen(STATIC_RAIN_PATH) &&
	    memcmp(p, STATIC_RAIN_PATH, req->hr_path_len) == 0)
		return (static_operator_file(req, out, keepalive,
		    sc->sc_rain_script, STATIC_TYPE_CLIENT, "rain_script",
		    &sc->sc_rain_warned));

	/* /<id>/<version>: both must decode cleanly and name a component. */
	if (sc->sc_set == NULL || p == end || *p++ != '/')
		return (0);
	if (static_next(&p, end, id, sizeof(id), &last) != STATIC_SEG_OK || last)
		return (0);
	if (static_next(&p, end, version, sizeof(version), &last) !=
	    STATIC_SEG_OK)
		return (0);
	if ((c = component_find(sc->sc_set, id, version)) == NULL)
		return (0);

	if (req->hr_method != HTTP_METHOD_GET &&
	    req->hr_method != HTTP_METHOD_HEAD)
		return (static_answer(req, out, 405, STATIC_ALLOW, keepalive));
	if (last)
		return (static_redirect(req, out, keepalive));

	/* The rest, segment by segment, into rel ("a/b/c.js"). */
	rel[0] = '\0';
	for (;;) {
		switch (static_next(&p, end, seg, sizeof(seg), &last)) {
		case STATIC_SEG_OK:
			break;
		case STATIC_SEG_EMPTY:
			if (last)	/* a trailing slash: a folder */
				return (static_file(req, out, keepalive, c, rel, 1));
			return (static_not_found(req, out, keepalive,
			    "empty segment"));
		case STATIC_SEG_BAD:
			return (static_not_found(req, out, keepalive,
			    "refused segment"));
		}
		len = strlen(seg);
		if (n + (n > 0) + len >= sizeof(rel))
			return (static_not_found(req, out, keepalive,
			    "path too long"));
		if (n > 0)
			rel[n++] = '/';
		memcpy(rel + n, seg, len + 1);
		n += len;
		if (last)
			return (static_file(req, out, keepalive, c, rel, 0));
	}
}
