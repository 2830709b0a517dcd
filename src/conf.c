/*
 * conf.c: the configuration file.  See conf.h.
 *
 * Every directive is one row of conf_directives: its name, the type of
 * its value, bounds, default and the field of struct conf it fills.  The
 * reader, the duplicate check, the defaults and conf_free all work from
 * that table, so a new directive is a new field plus a new row; only
 * values that no generic type describes (listen, workers) need a setter
 * of their own.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "util.h"
#include "http.h"
#include "log.h"
#include "session_cache.h"
#include "xmalloc.h"

#define CONF_ARGS_MAX		16	/* words on one line */
#define CONF_SHOW_BUF		96	/* a word quoted in an error, escaped */
#define CONF_NUM_BUF		32	/* a formatted bound */
#define CONF_HOST_MAX		64	/* address part of ADDR:PORT */
#define CONF_PORT_MAX		65535
#define CONF_READ_CHUNK		8192	/* first buffer of conf_read */
#define CONF_DEFAULT_FILE	"(default)"	/* "file" of defaults */
#define CONF_WILDCARDS		"*?["	/* what makes include a pattern */

#define MS_SECOND		1000LL
#define MS_MINUTE		(60 * MS_SECOND)
#define MS_HOUR			(60 * MS_MINUTE)
#define KILOBYTE		1024LL
#define MEGABYTE		(1024 * KILOBYTE)
#define GIGABYTE		(1024 * MEGABYTE)

#define CONF_REQUESTS_MAX	1000000	/* keepalive_requests */
#define CONF_CONNECTIONS_MAX	1000000	/* max_connections per worker */
#define CONF_THREADS_MAX	64	/* handler_threads */

#define nitems(a)		(sizeof(a) / sizeof((a)[0]))
/* Setters share one signature; not every one needs every argument. */
#define UNUSED			__attribute__((__unused__))

enum conf_type {
	CONF_T_DURATION,	/* int64_t, milliseconds; unit required */
	CONF_T_SIZE,		/* size_t, bytes; optional k or m */
	CONF_T_COUNT,		/* size_t, a plain number */
	CONF_T_STRING,		/* char *, NULL when unset */
	CONF_T_PATH,		/* char *, made absolute */
	CONF_T_BOOL,		/* int, yes (1) or no (0) */
	CONF_T_STRINGS,		/* struct conf_strings; each word appended */
	CONF_T_CUSTOM		/* cd_set does all the work */
};

#define CONF_F_MULTI	0x01	/* may be repeated */
#define CONF_F_NONE	0x02	/* "none" leaves a string or path NULL */
#define CONF_F_PATHS	0x04	/* strings: each made absolute like a path */

struct conf_parser;
struct conf_directive;

/* Set a value from the words after the directive's name (argc >= 1). */
typedef int	(*conf_set_fn)(struct conf_parser *,
		    const struct conf_directive *, char **argv, size_t argc);
/* Look at a value just stored in field, e.g. to check it exists. */
typedef int	(*conf_check_fn)(struct conf_parser *,
		    const struct conf_directive *, void *field);
/* Release what a custom setter allocated. */
typedef void	(*conf_free_fn)(struct conf *);

struct conf_directive {
	const char	*cd_name;
	enum conf_type	 cd_type;
	int		 cd_flags;	/* CONF_F_* */
	size_t		 cd_maxargs;	/* words after the name; 0 means 1 */
	int64_t		 cd_min;	/* bounds of numbers and amounts */
	int64_t		 cd_max;
	const char	*cd_default;	/* a value as written; NULL: zero */
	size_t		 cd_off;	/* field in struct conf */
	size_t		 cd_size;	/* its size, checked against the type */
	conf_set_fn	 cd_set;	/* CONF_T_CUSTOM only */
	conf_check_fn	 cd_check;	/* optional, after every set */
	conf_free_fn	 cd_free;	/* optional, CONF_T_CUSTOM only */
};

static int	conf_set_include(struct conf_parser *,
		    const struct conf_directive *, char **, size_t);
static int	conf_set_other_listen(struct conf_parser *,
		    const struct conf_directive *, char **, size_t);
static int	conf_set_listen(struct conf_parser *,
		    const struct conf_directive *, char **, size_t);
static int	conf_set_workers(struct conf_parser *,
		    const struct conf_directive *, char **, size_t);
static int	conf_set_log_level(struct conf_parser *,
		    const struct conf_directive *, char **, size_t);
static int	conf_check_user(struct conf_parser *,
		    const struct conf_directive *, void *);
static void	conf_free_listen(struct conf *);
static int	conf_check_eio_path(struct conf_parser *,
		    const struct conf_directive *, void *);
static int	conf_check_cidrs(struct conf_parser *,
		    const struct conf_directive *, void *);
static int	conf_check_redis(struct conf_parser *,
		    const struct conf_directive *, void *);
static int	conf_check_sentinels(struct conf_parser *,
		    const struct conf_directive *, void *);
static int	conf_check_token(struct conf_parser *,
		    const struct conf_directive *, void *);
static int	conf_check_tls_protocols(struct conf_parser *,
		    const struct conf_directive *, void *);

#define CONF_FIELD(f)							\
	.cd_off = offsetof(struct conf, f),				\
	.cd_size = sizeof(((struct conf *)NULL)->f)

/* A directive of a generic type with one value. */
#define CONF_ROW(name, type, field, min, max, def)			\
	{ .cd_name = (name), .cd_type = (type), CONF_FIELD(field),	\
	  .cd_min = (min), .cd_max = (max), .cd_default = (def) }

static const struct conf_directive conf_directives[] = {
	{ .cd_name = "include", .cd_type = CONF_T_CUSTOM,
	  .cd_flags = CONF_F_MULTI, .cd_set = conf_set_include },
	{ .cd_name = "listen", .cd_type = CONF_T_CUSTOM,
	  .cd_flags = CONF_F_MULTI, .cd_default = "127.0.0.1:8080", .cd_maxargs = 2,
	  .cd_set = conf_set_listen, .cd_free = conf_free_listen },
	/* Other sockets of the listener table: /metrics; the admin API. */
	{ .cd_name = "metrics_listen", .cd_type = CONF_T_CUSTOM,
	  .cd_set = conf_set_other_listen },
	{ .cd_name = "admin_listen", .cd_type = CONF_T_CUSTOM,
	  .cd_set = conf_set_other_listen },
	{ .cd_name = "admin_token_file", .cd_type = CONF_T_PATH,
	  .cd_flags = CONF_F_NONE, CONF_FIELD(c_admin_token_file) },
	{ .cd_name = "workers", .cd_type = CONF_T_CUSTOM, CONF_FIELD(c_workers),
	  .cd_min = 1, .cd_max = CONF_WORKERS_MAX, .cd_default = "auto",
	  .cd_set = conf_set_workers },
	{ .cd_name = "pid_file", .cd_type = CONF_T_PATH,
	  .cd_flags = CONF_F_NONE, CONF_FIELD(c_pid_file) },
	{ .cd_name = "user", .cd_type = CONF_T_STRING, CONF_FIELD(c_user),
	  .cd_check = conf_check_user },
	{ .cd_name = "log_level", .cd_type = CONF_T_CUSTOM,
	  CONF_FIELD(c_log_level), .cd_default = "info",
	  .cd_set = conf_set_log_level },
	{ .cd_name = "log_file", .cd_type = CONF_T_PATH,
	  .cd_flags = CONF_F_NONE, CONF_FIELD(c_log_file) },
	CONF_ROW("shutdown_timeout", CONF_T_DURATION, c_shutdown_timeout,
	    0, MS_HOUR, "10s"),

	/* The HTTP core; the ceilings of http.h bound what may be asked. */
	CONF_ROW("max_request_line", CONF_T_SIZE, c_max_request_line,
	    64, 64 * KILOBYTE, "8k"),
	CONF_ROW("max_header_size", CONF_T_SIZE, c_max_header_size,
	    KILOBYTE, HTTP_HEAD_MAX, "16k"),
	CONF_ROW("max_headers", CONF_T_COUNT, c_max_headers,
	    1, HTTP_HEADERS_MAX, "100"),
	CONF_ROW("max_body_size", CONF_T_SIZE, c_max_body_size,
	    0, GIGABYTE, "1m"),
	CONF_ROW("header_timeout", CONF_T_DURATION, c_header_timeout,
	    100, MS_HOUR, "10s"),
	CONF_ROW("body_timeout", CONF_T_DURATION, c_body_timeout,
	    100, MS_HOUR, "30s"),
	CONF_ROW("keepalive_timeout", CONF_T_DURATION, c_keepalive_timeout,
	    0, MS_HOUR, "75s"),
	CONF_ROW("keepalive_requests", CONF_T_COUNT, c_keepalive_requests,
	    1, CONF_REQUESTS_MAX, "1000"),
	CONF_ROW("max_connections", CONF_T_COUNT, c_max_connections,
	    1, CONF_CONNECTIONS_MAX, "10000"),

	/* Components and handlers. */
	{ .cd_name = "components", .cd_type = CONF_T_STRINGS,
	  .cd_flags = CONF_F_MULTI | CONF_F_PATHS, CONF_FIELD(c_components) },
	CONF_ROW("handler_timeout", CONF_T_DURATION, c_handler_timeout,
	    100, MS_HOUR, "30s"),
	CONF_ROW("handler_threads", CONF_T_COUNT, c_handler_threads,
	    1, CONF_THREADS_MAX, "4"),

	/* Engine.IO and Socket.IO. */
	{ .cd_name = "path", .cd_type = CONF_T_STRING, CONF_FIELD(c_eio_path),
	  .cd_default = "/socket.io/", .cd_check = conf_check_eio_path },
	CONF_ROW("ping_interval", CONF_T_DURATION, c_ping_interval,
	    100, MS_HOUR, "25s"),
	CONF_ROW("ping_timeout", CONF_T_DURATION, c_ping_timeout,
	    100, MS_HOUR, "20s"),
	CONF_ROW("upgrade_timeout", CONF_T_DURATION, c_upgrade_timeout,
	    100, MS_HOUR, "10s"),
	CONF_ROW("max_payload", CONF_T_SIZE, c_max_payload,
	    KILOBYTE, 64 * MEGABYTE, "1m"),
	/* A reload's old workers: serve what they hold, then let go. */
	CONF_ROW("reload_drain_timeout", CONF_T_DURATION, c_reload_drain_timeout,
	    0, 24 * MS_HOUR, "300s"),
	CONF_ROW("reload_drain_spread", CONF_T_DURATION, c_reload_drain_spread,
	    0, MS_HOUR, "30s"),
	CONF_ROW("max_send_queue", CONF_T_SIZE, c_max_send_queue,
	    64 * KILOBYTE, GIGABYTE, "1m"),
	{ .cd_name = "allowed_origins", .cd_type = CONF_T_STRINGS,
	  .cd_flags = CONF_F_MULTI, CONF_FIELD(c_allowed_origins) },
	{ .cd_name = "trusted_proxies", .cd_type = CONF_T_STRINGS,
	  .cd_flags = CONF_F_MULTI, CONF_FIELD(c_trusted_proxies),
	  .cd_maxargs = CONF_LIST_MAX, .cd_check = conf_check_cidrs },
	/* Both installed by make install; a missing file is answered 404. */
	{ .cd_name = "client_script", .cd_type = CONF_T_PATH,
	  .cd_flags = CONF_F_NONE, CONF_FIELD(c_client_script),
	  .cd_default = RAIND_PKGDATADIR "/socket.io.min.js" },
	{ .cd_name = "rain_script", .cd_type = CONF_T_PATH,
	  .cd_flags = CONF_F_NONE, CONF_FIELD(c_rain_script),
	  .cd_default = RAIND_PKGDATADIR "/rain.js" },

	/* Sessions and routing through Redis. */
	{ .cd_name = "redis", .cd_type = CONF_T_STRING, CONF_FIELD(c_redis),
	  .cd_flags = CONF_F_NONE, .cd_check = conf_check_redis },
	/* Or the master that these sentinels name (not with redis). */
	{ .cd_name = "redis_sentinel", .cd_type = CONF_T_STRINGS,
	  .cd_flags = CONF_F_MULTI, .cd_maxargs = CONF_SENTINELS_MAX,
	  CONF_FIELD(c_redis_sentinels), .cd_check = conf_check_sentinels },
	{ .cd_name = "redis_sentinel_master", .cd_type = CONF_T_STRING,
	  CONF_FIELD(c_redis_sentinel_master), .cd_check = conf_check_token },
	{ .cd_name = "redis_password", .cd_type = CONF_T_STRING,
	  CONF_FIELD(c_redis_password) },
	CONF_ROW("redis_db", CONF_T_COUNT, c_redis_db, 0, 65535, "0"),
	{ .cd_name = "redis_prefix", .cd_type = CONF_T_STRING,
	  CONF_FIELD(c_redis_prefix), .cd_default = "rain:" },
	/* The key of the Socket.IO Redis emitter (publish.h). */
	{ .cd_name = "emitter_key", .cd_type = CONF_T_STRING,
	  CONF_FIELD(c_emitter_key), .cd_default = "socket.io",
	  .cd_check = conf_check_token },
	CONF_ROW("redis_timeout", CONF_T_DURATION, c_redis_timeout,
	    10, MS_MINUTE, "2s"),
	{ .cd_name = "cookie_secret_file", .cd_type = CONF_T_PATH,
	  .cd_flags = CONF_F_NONE, CONF_FIELD(c_cookie_secret_file) },
	{ .cd_name = "cookie_name", .cd_type = CONF_T_STRING,
	  CONF_FIELD(c_cookie_name), .cd_default = "rain.sid",
	  .cd_check = conf_check_token },
	{ .cd_name = "cookie_secure", .cd_type = CONF_T_BOOL,
	  CONF_FIELD(c_cookie_secure), .cd_default = "no" },
	CONF_ROW("cookie_max_age", CONF_T_DURATION, c_cookie_max_age,
	    0, 400 * 24 * MS_HOUR, "0s"),
	CONF_ROW("session_max_age", CONF_T_DURATION, c_session_max_age,
	    MS_SECOND, 400 * 24 * MS_HOUR, "24h"),
	{ .cd_name = "session_create", .cd_type = CONF_T_BOOL,
	  CONF_FIELD(c_session_create), .cd_default = "no" },
	/* Client-side caching of the hashes read (session_cache.h). */
	CONF_ROW("session_cache_size", CONF_T_COUNT, c_session_cache_size,
	    0, SESSION_CACHE_MAX, "0"),
	{ .cd_name = "node_id", .cd_type = CONF_T_STRING, CONF_FIELD(c_node_id),
	  .cd_check = conf_check_token },

	/* TLS. */
	{ .cd_name = "tls_certificate", .cd_type = CONF_T_PATH,
	  CONF_FIELD(c_tls_certificate) },
	{ .cd_name = "tls_certificate_key", .cd_type = CONF_T_PATH,
	  CONF_FIELD(c_tls_certificate_key) },
	{ .cd_name = "tls_chain", .cd_type = CONF_T_PATH,
	  CONF_FIELD(c_tls_chain) },
	{ .cd_name = "tls_protocols", .cd_type = CONF_T_STRINGS,
	  .cd_maxargs = 4, CONF_FIELD(c_tls_protocols),
	  .cd_check = conf_check_tls_protocols },
	{ .cd_name = "tls_ciphers", .cd_type = CONF_T_STRING,
	  CONF_FIELD(c_tls_ciphers) },

	/* Hostile clients and RAIN's idle policy. */
	{ .cd_name = "require_origin", .cd_type = CONF_T_BOOL,
	  CONF_FIELD(c_require_origin), .cd_default = "no" },
	CONF_ROW("max_namespaces_per_connection", CONF_T_COUNT,
	    c_max_namespaces, 1, 1024, "32"),
	CONF_ROW("idle_time", CONF_T_DURATION, c_idle_time,
	    MS_SECOND, 30 * 24 * MS_HOUR, "1200s"),
	{ .cd_name = "disconnect_idle", .cd_type = CONF_T_BOOL,
	  CONF_FIELD(c_disconnect_idle), .cd_default = "no" },
	CONF_ROW("disconnect_idle_on_max_conn", CONF_T_COUNT,
	    c_disconnect_idle_on_max_conn, 0, CONF_CONNECTIONS_MAX, "2000"),
	CONF_ROW("idle_check_interval", CONF_T_DURATION, c_idle_check_interval,
	    100, MS_HOUR, "10s"),
};

/* Where a directive was first seen, for defaults and duplicates. */
struct conf_where {
	const char	*cw_file;	/* NULL: not seen */
	int		 cw_line;
};

/* The same, kept in struct conf for checks made after loading. */
struct conf_seen {
	char		*sn_file;	/* NULL: not given */
	int		 sn_line;
};

struct conf_parser {
	struct conf		*p_conf;
	const char		*p_file;	/* being read; outlives it */
	char			*p_dir;		/* its directory, absolute */
	int			 p_line;	/* 0 outside any line */
	int			 p_depth;	/* include nesting */
	char			**p_files;	/* names of included files */
	size_t			 p_nfiles;
	size_t			 p_nread;	/* files read, main one too */
	struct conf_where	 p_first[nitems(conf_directives)];
	char			*p_err;
	size_t			 p_errlen;
};

static int	conf_error(struct conf_parser *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	conf_parse_buffer(struct conf_parser *, const char *, size_t);
static const char *conf_escape(char *, size_t, const char *);

/*
 * Format the first error as "file:line: message".  Returns -1 so that
 * setters can say "return (conf_error(...));".
 */
static int
conf_error(struct conf_parser *p, const char *fmt, ...)
{
	char	msg[CONF_ERR_MAX], file[CONF_ERR_MAX];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	conf_escape(file, sizeof(file), p->p_file);
	if (p->p_line > 0)
		snprintf(p->p_err, p->p_errlen, "%s:%d: %s", file, p->p_line,
		    msg);
	else
		snprintf(p->p_err, p->p_errlen, "%s: %s", file, msg);
	return (-1);
}

/*
 * A word or file name fit to be shown in an error: the file may hold any
 * bytes and the message goes to a terminal or a log, so control
 * characters, non-ASCII bytes, quotes and backslashes are escaped, and
 * what does not fit in size is cut and ends in "...".
 */
static const char *
conf_escape(char *buf, size_t size, const char *s)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*q;
	size_t			 n = 0, need;

	for (q = (const unsigned char *)s; *q != '\0'; q++) {
		if (*q == '"' || *q == '\\')
			need = 2;
		else if (*q < 0x20 || *q >= 0x7f)
			need = 4;
		else
			need = 1;
		if (n + need + sizeof("...") > size) {
			memcpy(buf + n, "...", sizeof("..."));
			return (buf);
		}
		if (need == 4) {
			buf[n++] = '\\';
			buf[n++] = 'x';
			buf[n++] = hex[*q >> 4];
			buf[n++] = hex[*q & 0xf];
			continue;
		}
		if (need == 2)
			buf[n++] = '\\';
		buf[n++] = (char)*q;
	}
	buf[n] = '\0';
	return (buf);
}

/* A word of the file, quoted in a message. */
static const char *
conf_show(char buf[CONF_SHOW_BUF], const char *s)
{
	return (conf_escape(buf, CONF_SHOW_BUF, s));
}

/*
 * Parse a run of decimal digits: all of s, or up to *end when end is
 * given.  Returns 0, or 1 when the value overflowed and *v was clamped
 * to UINT64_MAX (bounds checks then refuse it with the usual message),
 * or -1 when there is no number.
 */
static int
conf_parse_u64(const char *s, const char **end, uint64_t *v)
{
	uint64_t	 n = 0;
	const char	*q;
	int		 over = 0;

	for (q = s; *q >= '0' && *q <= '9'; q++) {
		if (n > (UINT64_MAX - (uint64_t)(*q - '0')) / 10)
			over = 1;
		else
			n = n * 10 + (uint64_t)(*q - '0');
	}
	if (q == s)
		return (-1);
	if (end != NULL)
		*end = q;
	else if (*q != '\0')
		return (-1);
	*v = over ? UINT64_MAX : n;
	return (over);
}

/* Durations with the reason of a refusal, for error messages. */
static int
conf_duration(const char *s, int64_t *ms, const char **why)
{
	static const struct {
		const char	*u_name;
		int64_t		 u_ms;
	} units[] = {
		{ "ms", 1 }, { "s", MS_SECOND }, { "m", MS_MINUTE },
		{ "h", MS_HOUR }
	};
	const char	*unit;
	uint64_t	 n;
	size_t		 i;
	int		 rv;

	if ((rv = conf_parse_u64(s, &unit, &n)) == -1) {
		*why = "expected a number and a unit (ms, s, m, h)";
		return (-1);
	}
	if (*unit == '\0') {
		*why = "a unit (ms, s, m, h) is required";
		return (-1);
	}
	for (i = 0; i < nitems(units); i++) {
		if (strcmp(unit, units[i].u_name) != 0)
			continue;
		if (rv == 1 || n > (uint64_t)(INT64_MAX / units[i].u_ms)) {
			*why = "too large";
			return (-1);
		}
		*ms = (int64_t)n * units[i].u_ms;
		return (0);
	}
	*why = "unknown unit (use ms, s, m or h)";
	return (-1);
}

int
conf_parse_duration(const char *s, int64_t *ms)
{
	const char	*why;

	return (conf_duration(s, ms, &why));
}

static int
conf_size(const char *s, size_t *size, const char **why)
{
	const char	*suffix;
	uint64_t	 n, mult;
	int		 rv;

	if ((rv = conf_parse_u64(s, &suffix, &n)) == -1) {
		*why = "expected a number with an optional k or m";
		return (-1);
	}
	if (suffix[0] == '\0')
		mult = 1;
	else if ((suffix[0] == 'k' || suffix[0] == 'K') && suffix[1] == '\0')
		mult = KILOBYTE;
	else if ((suffix[0] == 'm' || suffix[0] == 'M') && suffix[1] == '\0')
		mult = MEGABYTE;
	else {
		*why = "unknown suffix (use k or m)";
		return (-1);
	}
	if (rv == 1 || n > SIZE_MAX / mult) {
		*why = "too large";
		return (-1);
	}
	*size = (size_t)(n * mult);
	return (0);
}

int
conf_parse_size(const char *s, size_t *size)
{
	const char	*why;

	return (conf_size(s, size, &why));
}

int
conf_parse_bool(const char *s, int *v)
{
	if (strcmp(s, "yes") == 0)
		*v = 1;
	else if (strcmp(s, "no") == 0)
		*v = 0;
	else
		return (-1);
	return (0);
}

/*
 * "1.2.3.4:80", "[::1]:80" or "*:80", numeric only: a listener that
 * depends on DNS at start-up is a listener that fails at boot.
 */
int
conf_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *sslen)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	char			 host[CONF_HOST_MAX];
	const char		*start, *port, *end;
	size_t			 hlen;
	uint64_t		 n;
	int			 v6;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL || end[1] != ':')
			return (-1);
		start = s + 1;
		port = end + 2;
		v6 = 1;
	} else {
		if ((end = strrchr(s, ':')) == NULL)
			return (-1);
		start = s;
		port = end + 1;
		v6 = 0;
	}
	hlen = (size_t)(end - start);
	if (hlen == 0 || hlen >= sizeof(host))
		return (-1);
	memcpy(host, start, hlen);
	host[hlen] = '\0';
	if (conf_parse_u64(port, NULL, &n) == -1 || n > CONF_PORT_MAX)
		return (-1);

	if (v6) {
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return (-1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)n);
		*sslen = sizeof(*sin6);
	} else {
		if (strcmp(host, "*") == 0)
			sin->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return (-1);
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)n);
		*sslen = sizeof(*sin);
	}
	return (0);
}

void
conf_strings_add(struct conf_strings *cs, const char *s)
{
	cs->cs_v = xreallocarray(cs->cs_v, cs->cs_n + 1, sizeof(*cs->cs_v));
	cs->cs_v[cs->cs_n++] = xstrdup(s);
}

void
conf_strings_clear(struct conf_strings *cs)
{
	size_t	i;

	for (i = 0; i < cs->cs_n; i++)
		free(cs->cs_v[i]);
	free(cs->cs_v);
	cs->cs_v = NULL;
	cs->cs_n = 0;
}

int
conf_redis_wanted(const struct conf *c)
{
	return (c->c_redis != NULL || c->c_redis_sentinels.cs_n > 0);
}

int
conf_workers(const struct conf *c)
{
	long	n;

	if (c->c_workers > 0)
		return (c->c_workers);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > CONF_WORKERS_MAX)
		n = CONF_WORKERS_MAX;
	return ((int)n);
}

/* Bounds in the units an operator would write them in. */
static const char *
conf_fmt_duration(char buf[CONF_NUM_BUF], int64_t ms)
{
	if (ms == 0)
		snprintf(buf, CONF_NUM_BUF, "0s");
	else if (ms % MS_HOUR == 0)
		snprintf(buf, CONF_NUM_BUF, "%lldh", (long long)(ms / MS_HOUR));
	else if (ms % MS_MINUTE == 0)
		snprintf(buf, CONF_NUM_BUF, "%lldm",
		    (long long)(ms / MS_MINUTE));
	else if (ms % MS_SECOND == 0)
		snprintf(buf, CONF_NUM_BUF, "%llds",
		    (long long)(ms / MS_SECOND));
	else
		snprintf(buf, CONF_NUM_BUF, "%lldms", (long long)ms);
	return (buf);
}

static const char *
conf_fmt_size(char buf[CONF_NUM_BUF], int64_t n)
{
	if (n != 0 && n % MEGABYTE == 0)
		snprintf(buf, CONF_NUM_BUF, "%lldm", (long long)(n / MEGABYTE));
	else if (n != 0 && n % KILOBYTE == 0)
		snprintf(buf, CONF_NUM_BUF, "%lldk", (long long)(n / KILOBYTE));
	else
		snprintf(buf, CONF_NUM_BUF, "%lld", (long long)n);
	return (buf);
}

static const char *
conf_fmt_count(char buf[CONF_NUM_BUF], int64_t n)
{
	snprintf(buf, CONF_NUM_BUF, "%lld", (long long)n);
	return (buf);
}

static int
conf_out_of_bounds(struct conf_parser *p, const struct conf_directive *d,
    const char *(*fmt)(char *, int64_t))
{
	char	lo[CONF_NUM_BUF], hi[CONF_NUM_BUF];

	return (conf_error(p, "%s must be between %s and %s", d->cd_name,
	    fmt(lo, d->cd_min), fmt(hi, d->cd_max)));
}

static void *
conf_field(struct conf_parser *p, const struct conf_directive *d)
{
	return ((char *)p->p_conf + d->cd_off);
}

/*
 * Join a relative path to the directory of the file being read, so that
 * a configuration means the same wherever raind was started from and
 * after it changed directory.  If pattern, the directory is escaped for
 * glob(3).
 */
static int
conf_path(struct conf_parser *p, const char *s, int pattern, char **out)
{
	char		 shown[CONF_SHOW_BUF];
	const char	*q;
	char		*dir, *w;
	size_t		 len;

	if (s[0] == '\0')
		return (conf_error(p, "empty path"));
	if (s[0] == '/')
		*out = xstrdup(s);
	else {
		dir = xmalloc(strlen(p->p_dir) * 2 + 1);
		for (q = p->p_dir, w = dir; *q != '\0'; q++) {
			if (pattern && strchr(CONF_WILDCARDS "\\", *q) != NULL)
				*w++ = '\\';
			*w++ = *q;
		}
		*w = '\0';
		len = strlen(dir);
		xasprintf(out, "%s%s%s", dir,
		    len > 0 && dir[len - 1] == '/' ? "" : "/", s);
		free(dir);
	}
	if (strlen(*out) >= PATH_MAX) {
		free(*out);
		*out = NULL;
		return (conf_error(p, "path too long: \"%s\"",
		    conf_show(shown, s)));
	}
	return (0);
}

/* The absolute directory of file. */
static int
conf_dir(const char *file, char **dir, char *why, size_t whylen)
{
	char		 cwd[PATH_MAX];
	const char	*slash;
	size_t		 len;

	slash = strrchr(file, '/');
	if (slash == file) {
		*dir = xstrdup("/");
		return (0);
	}
	len = slash != NULL ? (size_t)(slash - file) : 0;
	if (file[0] == '/') {
		*dir = xstrndup(file, len);
		return (0);
	}
	if (getcwd(cwd, sizeof(cwd)) == NULL) {
		snprintf(why, whylen, "getcwd: %s", strerror(errno));
		return (-1);
	}
	if (len == 0)
		*dir = xstrdup(cwd);
	else
		xasprintf(dir, "%s%s%.*s", cwd,
		    strcmp(cwd, "/") == 0 ? "" : "/", (int)len, file);
	return (0);
}

/*
 * Read all of path, which must be a regular file of at most
 * CONF_FILE_MAX bytes, into a new buffer.
 */
static int
conf_read(const char *path, char **bufp, size_t *lenp, char *why,
    size_t whylen)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 len = 0, size = 0;
	ssize_t		 n;
	int		 fd;

	/* Non-blocking: a FIFO given by mistake must not hang the reader. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		goto syserr;
	if (fstat(fd, &st) == -1)
		goto syserr;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto syserr;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "not a regular file");
		goto bad;
	}
	for (;;) {
		if (len == size) {
			if (size > CONF_FILE_MAX) {
				snprintf(why, whylen,
				    "file too large (max %d bytes)",
				    CONF_FILE_MAX);
				goto bad;
			}
			/* One byte more than allowed tells "too large". */
			size = size == 0 ? CONF_READ_CHUNK : size * 2;
			if (size > CONF_FILE_MAX + 1)
				size = CONF_FILE_MAX + 1;
			buf = xreallocarray(buf, size, 1);
		}
		n = read(fd, buf + len, size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto syserr;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	*bufp = buf;
	*lenp = len;
	return (0);

syserr:
	snprintf(why, whylen, "%s", strerror(errno));
bad:
	if (fd != -1)
		close(fd);
	free(buf);
	return (-1);
}

/* Read and parse one included file; errors are located at the include. */
static int
conf_include_file(struct conf_parser *p, const char *path)
{
	char		 why[CONF_ERR_MAX], shown[CONF_ERR_MAX];
	const char	*file;
	char		*buf, *dir, *name, *odir;
	size_t		 len;
	int		 oline, rv;

	if (p->p_nread >= CONF_FILES_MAX)
		return (conf_error(p, "too many configuration files (max %d)",
		    CONF_FILES_MAX));
	if (conf_read(path, &buf, &len, why, sizeof(why)) == -1)
		return (conf_error(p, "%s: %s",
		    conf_escape(shown, sizeof(shown), path), why));
	if (conf_dir(path, &dir, why, sizeof(why)) == -1) {
		free(buf);
		return (conf_error(p, "%s: %s",
		    conf_escape(shown, sizeof(shown), path), why));
	}
	p->p_nread++;
	/* The name outlives the file: listen and duplicates point at it. */
	name = xstrdup(path);
	p->p_files = xreallocarray(p->p_files, p->p_nfiles + 1,
	    sizeof(*p->p_files));
	p->p_files[p->p_nfiles++] = name;

	file = p->p_file;
	odir = p->p_dir;
	oline = p->p_line;
	p->p_file = name;
	p->p_dir = dir;
	p->p_depth++;
	rv = conf_parse_buffer(p, buf, len);
	p->p_depth--;
	p->p_file = file;
	p->p_dir = odir;
	p->p_line = oline;
	free(dir);
	free(buf);
	return (rv);
}

/*
 * include GLOB.  Matches are read in sorted order (glob sorts them).  A
 * pattern may match nothing, as a conf.d directory may be empty; a plain
 * name that does not exist is a mistake and reported.
 */
static int
conf_set_include(struct conf_parser *p,
    const struct conf_directive *d UNUSED, char **argv, size_t argc UNUSED)
{
	char		 shown[CONF_SHOW_BUF];
	glob_t		 g;
	char		*path;
	size_t		 i, len;
	int		 rv = 0, grv;

	if (p->p_depth >= CONF_INCLUDE_DEPTH)
		return (conf_error(p, "include nested too deeply (max %d)",
		    CONF_INCLUDE_DEPTH));
	if (strpbrk(argv[0], CONF_WILDCARDS) == NULL) {
		if (conf_path(p, argv[0], 0, &path) == -1)
			return (-1);
		rv = conf_include_file(p, path);
		free(path);
		return (rv);
	}

	if (conf_path(p, argv[0], 1, &path) == -1)
		return (-1);
	memset(&g, 0, sizeof(g));
	grv = glob(path, GLOB_MARK, NULL, &g);
	if (grv != 0 && grv != GLOB_NOMATCH)
		rv = conf_error(p, "include \"%s\": cannot expand the pattern",
		    conf_show(shown, argv[0]));
	for (i = 0; grv == 0 && i < g.gl_pathc; i++) {
		/* GLOB_MARK ends directories with '/'; a pattern skips them. */
		len = strlen(g.gl_pathv[i]);
		if (len > 0 && g.gl_pathv[i][len - 1] == '/')
			continue;
		if ((rv = conf_include_file(p, g.gl_pathv[i])) == -1)
			break;
	}
	globfree(&g);
	free(path);
	return (rv);
}

/* The port of a resolved listen address. */
static unsigned int
conf_addr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohs(((const struct sockaddr_in *)ss)->sin_port));
	if (ss->ss_family == AF_INET6)
		return (ntohs(((const struct sockaddr_in6 *)ss)->sin6_port));
	return (0);
}

static int
conf_set_listen(struct conf_parser *p, const struct conf_directive *d UNUSED,
    char **argv, size_t argc)
{
	struct conf		*c = p->p_conf;
	struct conf_listen	*l;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			 shown[CONF_SHOW_BUF];
	char			 file[CONF_ERR_MAX];
	size_t			 i;

	if (argc > 1 && strcmp(argv[1], "tls") != 0)
		return (conf_error(p, "unexpected argument \"%s\" to listen",
		    conf_show(shown, argv[1])));
	if (conf_parse_addr(argv[0], &ss, &sslen) == -1)
		return (conf_error(p, "invalid listen address \"%s\": expected "
		    "IPV4:PORT, [IPV6]:PORT or *:PORT",
		    conf_show(shown, argv[0])));
	/*
	 * Compared resolved, so "*:80" and "0.0.0.0:80" are one listener;
	 * port 0 (any free port) never clashes.
	 */
	for (i = 0; i < c->c_nlisten && conf_addr_port(&ss) != 0; i++) {
		l = &c->c_listen[i];
		if (l->cl_sslen == sslen && memcmp(&l->cl_ss, &ss, sslen) == 0)
			return (conf_error(p, "duplicate listen \"%s\", first "
			    "set at %s:%d", conf_show(shown, argv[0]),
			    conf_escape(file, sizeof(file), l->cl_file),
			    l->cl_line));
	}
	if (c->c_nlisten >= CONF_LISTEN_MAX)
		return (conf_error(p, "too many listen directives (max %d)",
		    CONF_LISTEN_MAX));
	c->c_listen = xreallocarray(c->c_listen, c->c_nlisten + 1,
	    sizeof(*c->c_listen));
	l = &c->c_listen[c->c_nlisten++];
	memset(l, 0, sizeof(*l));
	l->cl_text = xstrdup(argv[0]);
	l->cl_tls = argc > 1;
	memcpy(&l->cl_ss, &ss, sizeof(ss));
	l->cl_sslen = sslen;
	l->cl_file = xstrdup(p->p_file);
	l->cl_line = p->p_line;
	return (0);
}

int
conf_has_listen_kind(const struct conf *c, enum conf_listen_kind kind)
{
	size_t i;

	for (i = 0; i < c->c_nlisten; i++)
		if (c->c_listen[i].cl_kind == kind)
			return (1);
	return (0);
}

/*
 * metrics_listen ADDR:PORT, admin_listen ADDR:PORT: a listen entry whose
 * connections serve /metrics, or the admin API (routes.h).
 */
static int
conf_set_other_listen(struct conf_parser *p, const struct conf_directive *d,
    char **argv, size_t argc)
{
	struct conf		*c = p->p_conf;
	enum conf_listen_kind	 kind = strcmp(d->cd_name, "admin_listen") == 0 ?
	    CONF_LISTEN_ADMIN : CONF_LISTEN_METRICS;

	if (conf_has_listen_kind(c, kind))
		return (conf_error(p, "%s set twice", d->cd_name));
	if (conf_set_listen(p, d, argv, argc) == -1)
		return (-1);
	c->c_listen[c->c_nlisten - 1].cl_kind = kind;
	return (0);
}

static void
conf_free_listen(struct conf *c)
{
	size_t	i;

	for (i = 0; i < c->c_nlisten; i++) {
		free(c->c_listen[i].cl_text);
		free(c->c_listen[i].cl_file);
	}
	free(c->c_listen);
	c->c_listen = NULL;
	c->c_nlisten = 0;
}

static int
conf_set_workers(struct conf_parser *p, const struct conf_directive *d,
    char **argv, size_t argc UNUSED)
{
	char		shown[CONF_SHOW_BUF];
	uint64_t	n;
	int		v;

	if (strcmp(argv[0], "auto") == 0)
		v = 0;
	else if (conf_parse_u64(argv[0], NULL, &n) == -1)
		return (conf_error(p, "invalid value \"%s\" for workers: "
		    "expected a number or auto", conf_show(shown, argv[0])));
	else if (n < (uint64_t)d->cd_min || n > (uint64_t)d->cd_max)
		return (conf_error(p, "workers must be between %lld and %lld, "
		    "or auto", (long long)d->cd_min, (long long)d->cd_max));
	else
		v = (int)n;
	*(int *)conf_field(p, d) = v;
	return (0);
}

static int
conf_set_log_level(struct conf_parser *p, const struct conf_directive *d,
    char **argv, size_t argc UNUSED)
{
	char	shown[CONF_SHOW_BUF];
	int	level;

	if ((level = log_level_parse(argv[0])) == -1)
		return (conf_error(p, "invalid log level \"%s\": expected "
		    "error, warn, info or debug", conf_show(shown, argv[0])));
	*(int *)conf_field(p, d) = level;
	return (0);
}

/*
 * Checked when read rather than when privileges are dropped, so that
 * raind -n catches a misspelt name.
 */
static int
conf_check_user(struct conf_parser *p,
    const struct conf_directive *d UNUSED, void *field)
{
	char		 shown[CONF_SHOW_BUF];
	const char	*user = *(char **)field;

	if (user != NULL && getpwnam(user) == NULL)
		return (conf_error(p, "unknown user \"%s\"",
		    conf_show(shown, user)));
	return (0);
}

/*
 * The Engine.IO endpoint is a path prefix; like the Node server, store
 * it with a trailing slash so "/socket.io" and "/socket.io/" are one.
 */
static int
conf_check_eio_path(struct conf_parser *p,
    const struct conf_directive *d UNUSED, void *field)
{
	char	**sp = field, *s = *sp, shown[CONF_SHOW_BUF];
	size_t	  len = strlen(s), i;

	if (s[0] != '/')
		return (conf_error(p, "path \"%s\" must start with /",
		    conf_show(shown, s)));
	for (i = 0; i < len; i++)
		if (s[i] <= ' ' || s[i] == '?' || s[i] == '#' || s[i] == 0x7f)
			return (conf_error(p, "path \"%s\" has a character "
			    "not allowed in a URL path", conf_show(shown, s)));
	if (s[len - 1] != '/') {
		*sp = xmalloc(len + 2);
		memcpy(*sp, s, len);
		(*sp)[len] = '/';
		(*sp)[len + 1] = '\0';
		free(s);
	}
	return (0);
}

/* "host:port", the host a name or an address (resolved at connect). */
static int
conf_host_port(const char *s)
{
	const char	*colon;
	uint64_t	 port;

	if ((colon = strrchr(s, ':')) == NULL || colon == s ||
	    conf_parse_u64(colon + 1, NULL, &port) == -1 || port == 0 ||
	    port > CONF_PORT_MAX)
		return (-1);
	return (0);
}

/* "unix:/path" or "host:port". */
static int
conf_check_redis(struct conf_parser *p, const struct conf_directive *d UNUSED,
    void *field)
{
	const char	*s = *(char **)field;
	char		 shown[CONF_SHOW_BUF];

	if (s == NULL)
		return (0);
	if (strncmp(s, "unix:", 5) == 0) {
		if (s[5] != '/')
			return (conf_error(p, "redis \"%s\": unix: needs an "
			    "absolute path", conf_show(shown, s)));
		return (0);
	}
	if (conf_host_port(s) == -1)
		return (conf_error(p, "invalid redis address \"%s\": expected "
		    "unix:/path or host:port", conf_show(shown, s)));
	return (0);
}

/* Sentinels are reached over TCP only: "host:port" each. */
static int
conf_check_sentinels(struct conf_parser *p, const struct conf_directive *d,
    void *field)
{
	const struct conf_strings	*l = field;
	char				 shown[CONF_SHOW_BUF];
	size_t				 i;

	if (l->cs_n > CONF_SENTINELS_MAX)
		return (conf_error(p, "too many values for %s (max %d)",
		    d->cd_name, CONF_SENTINELS_MAX));
	for (i = 0; i < l->cs_n; i++)
		if (conf_host_port(l->cs_v[i]) == -1)
			return (conf_error(p, "invalid redis_sentinel address "
			    "\"%s\": expected host:port",
			    conf_show(shown, l->cs_v[i])));
	return (0);
}

/* Addresses or CIDR blocks (trusted_proxies). */
static int
conf_check_cidrs(struct conf_parser *p, const struct conf_directive *d,
    void *field)
{
	const struct conf_strings	*list = field;
	unsigned char			 net[ADDR_BYTES_MAX];
	char				 shown[CONF_SHOW_BUF];
	size_t				 i;
	int				 bits;

	for (i = 0; i < list->cs_n; i++)
		if (cidr_parse(list->cs_v[i], net, &bits) == 0)
			return (conf_error(p, "%s \"%s\": not an address or "
			    "address/bits", d->cd_name, conf_show(shown, list->cs_v[i])));
	return (0);
}

/* Names that go into headers and keys: visible ASCII, no separators. */
static int
conf_check_token(struct conf_parser *p, const struct conf_directive *d,
    void *field)
{
	const char	*s = *(char **)field;
	char		 shown[CONF_SHOW_BUF];

	if (s == NULL)
		return (0);
	if (*s == '\0' || strlen(s) > 64 ||
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-") != strlen(s))
		return (conf_error(p, "invalid %s \"%s\": letters, digits, "
		    "'.', '_' and '-' only (at most 64)", d->cd_name,
		    conf_show(shown, s)));
	return (0);
}

static int
conf_check_tls_protocols(struct conf_parser *p,
    const struct conf_directive *d UNUSED, void *field)
{
	const struct conf_strings	*l = field;
	char				 shown[CONF_SHOW_BUF];
	size_t				 i;

	for (i = 0; i < l->cs_n; i++)
		if (strcmp(l->cs_v[i], "TLSv1.2") != 0 &&
		    strcmp(l->cs_v[i], "TLSv1.3") != 0)
			return (conf_error(p, "unknown TLS protocol \"%s\": "
			    "TLSv1.2 or TLSv1.3", conf_show(shown, l->cs_v[i])));
	return (0);
}

/* Store a value of a generic type. */
static int
conf_set_typed(struct conf_parser *p, const struct conf_directive *d,
    char **argv, size_t argc, void *field)
{
	char		 shown[CONF_SHOW_BUF];
	const char	*why;
	char		**sp = field, *path;
	int64_t		 ms;
	size_t		 size, i;
	uint64_t	 n;
	int		 b;

	switch (d->cd_type) {
	case CONF_T_DURATION:
		if (conf_duration(argv[0], &ms, &why) == -1)
			return (conf_error(p, "invalid duration \"%s\": %s",
			    conf_show(shown, argv[0]), why));
		if (ms < d->cd_min || ms > d->cd_max)
			return (conf_out_of_bounds(p, d, conf_fmt_duration));
		*(int64_t *)field = ms;
		break;
	case CONF_T_SIZE:
		if (conf_size(argv[0], &size, &why) == -1)
			return (conf_error(p, "invalid size \"%s\": %s",
			    conf_show(shown, argv[0]), why));
		if ((uint64_t)size < (uint64_t)d->cd_min ||
		    (uint64_t)size > (uint64_t)d->cd_max)
			return (conf_out_of_bounds(p, d, conf_fmt_size));
		*(size_t *)field = size;
		break;
	case CONF_T_COUNT:
		if (conf_parse_u64(argv[0], NULL, &n) == -1)
			return (conf_error(p, "invalid number \"%s\"",
			    conf_show(shown, argv[0])));
		if (n < (uint64_t)d->cd_min || n > (uint64_t)d->cd_max)
			return (conf_out_of_bounds(p, d, conf_fmt_count));
		*(size_t *)field = (size_t)n;
		break;
	case CONF_T_BOOL:
		if (conf_parse_bool(argv[0], &b) == -1)
			return (conf_error(p, "invalid value \"%s\" for %s: "
			    "expected yes or no", conf_show(shown, argv[0]),
			    d->cd_name));
		*(int *)field = b;
		break;
	case CONF_T_STRING:
	case CONF_T_PATH:
		free(*sp);
		*sp = NULL;
		if ((d->cd_flags & CONF_F_NONE) && strcmp(argv[0], "none") == 0)
			break;
		if (d->cd_type == CONF_T_STRING)
			*sp = xstrdup(argv[0]);
		else if (conf_path(p, argv[0], 0, sp) == -1)
			return (-1);
		break;
	case CONF_T_STRINGS:
		for (i = 0; i < argc; i++) {
			if (((struct conf_strings *)field)->cs_n >=
			    CONF_LIST_MAX)
				return (conf_error(p, "too many values for %s "
				    "(max %d)", d->cd_name, CONF_LIST_MAX));
			if (d->cd_flags & CONF_F_PATHS) {
				if (conf_path(p, argv[i], 0, &path) == -1)
					return (-1);
				conf_strings_add(field, path);
				free(path);
			} else
				conf_strings_add(field, argv[i]);
		}
		break;
	case CONF_T_CUSTOM:
		return (d->cd_set(p, d, argv, argc));
	}
	return (0);
}

static int
conf_set(struct conf_parser *p, const struct conf_directive *d,
    char **argv, size_t argc)
{
	void	*field = conf_field(p, d);

	if (conf_set_typed(p, d, argv, argc, field) == -1)
		return (-1);
	if (d->cd_check != NULL)
		return (d->cd_check(p, d, field));
	return (0);
}

static const struct conf_directive *
conf_lookup(const char *name)
{
	size_t	i;

	for (i = 0; i < nitems(conf_directives); i++)
		if (strcmp(conf_directives[i].cd_name, name) == 0)
			return (&conf_directives[i]);
	return (NULL);
}

/* One line's words: the directive's name, then its arguments. */
static int
conf_directive(struct conf_parser *p, char **argv, size_t argc)
{
	const struct conf_directive	*d;
	struct conf_where		*first;
	char				 shown[CONF_SHOW_BUF];
	char				 file[CONF_ERR_MAX];
	size_t				 maxargs;

	if ((d = conf_lookup(argv[0])) == NULL)
		return (conf_error(p, "unknown directive \"%s\"",
		    conf_show(shown, argv[0])));
	maxargs = d->cd_maxargs != 0 ? d->cd_maxargs : 1;
	if (argc < 2)
		return (conf_error(p, "missing argument to %s", d->cd_name));
	if (argc - 1 > maxargs)
		return (conf_error(p, "unexpected argument \"%s\" to %s",
		    conf_show(shown, argv[1 + maxargs]), d->cd_name));
	first = &p->p_first[d - conf_directives];
	if (first->cw_file != NULL && !(d->cd_flags & CONF_F_MULTI))
		return (conf_error(p, "duplicate directive \"%s\", first set "
		    "at %s:%d", d->cd_name,
		    conf_escape(file, sizeof(file), first->cw_file),
		    first->cw_line));
	if (first->cw_file == NULL) {
		first->cw_file = p->p_file;
		first->cw_line = p->p_line;
	}
	return (conf_set(p, d, argv + 1, argc - 1));
}

/*
 * Split a line into words, in place.  Words are separated by blanks; a
 * word may be double-quoted, with \" and \\ as the only escapes; '#' at
 * the start of a word begins a comment.
 */
static int
conf_split(struct conf_parser *p, char *line, char **argv, size_t *argc)
{
	char	*r = line, *w;
	char	 end;
	size_t	 n = 0;

	*argc = 0;
	for (;;) {
		while (*r == ' ' || *r == '\t')
			r++;
		if (*r == '\0' || *r == '#')
			break;
		if (n == CONF_ARGS_MAX)
			return (conf_error(p, "too many words (max %d)",
			    CONF_ARGS_MAX));
		argv[n++] = w = r;
		if (*r == '"') {
			for (r++; *r != '"'; r++) {
				if (*r == '\\') {
					r++;
					if (*r != '"' && *r != '\\' &&
					    *r != '\0')
						return (conf_error(p, "invalid "
						    "escape in quoted string: "
						    "only \\\" and \\\\ may be "
						    "escaped"));
				}
				if (*r == '\0')
					return (conf_error(p,
					    "unterminated quoted string"));
				*w++ = *r;
			}
			r++;
			if (*r != '\0' && *r != ' ' && *r != '\t')
				return (conf_error(p, "missing blank after "
				    "quoted string"));
		} else {
			for (; *r != '\0' && *r != ' ' && *r != '\t'; r++)
				if (*r == '"')
					return (conf_error(p, "unexpected "
					    "quote inside a word"));
			w = r;
		}
		end = *r;
		*w = '\0';
		if (end == '\0')
			break;
		r++;
	}
	*argc = n;
	return (0);
}

static int
conf_parse_buffer(struct conf_parser *p, const char *buf, size_t len)
{
	char		 line[CONF_LINE_MAX + 1];
	char		*argv[CONF_ARGS_MAX];
	const char	*cur = buf, *end = buf + len, *nl, *next;
	size_t		 n, i, argc;
	unsigned char	 c;

	p->p_line = 0;
	while (cur < end) {
		p->p_line++;
		nl = memchr(cur, '\n', (size_t)(end - cur));
		next = nl != NULL ? nl + 1 : end;
		n = (size_t)((nl != NULL ? nl : end) - cur);
		if (n > 0 && cur[n - 1] == '\r')
			n--;
		if (n > CONF_LINE_MAX)
			return (conf_error(p, "line too long (max %d bytes)",
			    CONF_LINE_MAX));
		for (i = 0; i < n; i++) {
			c = (unsigned char)cur[i];
			if (c == '\0')
				return (conf_error(p, "NUL byte"));
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return (conf_error(p, "invalid character "
				    "0x%02x", c));
		}
		memcpy(line, cur, n);
		line[n] = '\0';
		cur = next;

		if (conf_split(p, line, argv, &argc) == -1)
			return (-1);
		if (argc > 0 && conf_directive(p, argv, argc) == -1)
			return (-1);
	}
	return (0);
}

/* Every directive not given takes its default, parsed like a value. */
static int
conf_defaults(struct conf_parser *p)
{
	const struct conf_directive	*d;
	char				*value;
	size_t				 i;
	int				 rv;

	p->p_file = CONF_DEFAULT_FILE;
	p->p_line = 0;
	for (i = 0; i < nitems(conf_directives); i++) {
		d = &conf_directives[i];
		if (d->cd_default == NULL || p->p_first[i].cw_file != NULL)
			continue;
		value = xstrdup(d->cd_default);
		rv = conf_set(p, d, &value, 1);
		free(value);
		if (rv == -1)
			return (-1);
	}
	return (0);
}

/* Report an error at the line where directive was first given. */
static void
conf_locate(struct conf_parser *p, const char *directive)
{
	const struct conf_directive	*d = conf_lookup(directive);
	const struct conf_where		*w = &p->p_first[d - conf_directives];

	p->p_file = w->cw_file != NULL ? w->cw_file : CONF_DEFAULT_FILE;
	p->p_line = w->cw_file != NULL ? w->cw_line : 0;
}

/*
 * Directives that only make sense together, checked once the whole file
 * is read: Redis is either at one address (redis) or wherever the
 * sentinels say its master is (redis_sentinel and redis_sentinel_master).
 */
static int
conf_check_together(struct conf_parser *p)
{
	struct conf		*c = p->p_conf;
	const struct conf_where	*w;
	char			 file[CONF_ERR_MAX];

	if (c->c_redis_sentinels.cs_n > 0 && c->c_redis != NULL) {
		w = &p->p_first[conf_lookup("redis") - conf_directives];
		conf_locate(p, "redis_sentinel");
		return (conf_error(p, "redis_sentinel conflicts with redis "
		    "set at %s:%d: the sentinels name the master",
		    conf_escape(file, sizeof(file), w->cw_file != NULL ?
		    w->cw_file : CONF_DEFAULT_FILE), w->cw_line));
	}
	if (c->c_redis_sentinels.cs_n > 0 && c->c_redis_sentinel_master == NULL) {
		conf_locate(p, "redis_sentinel");
		return (conf_error(p, "redis_sentinel needs "
		    "redis_sentinel_master"));
	}
	if (c->c_redis_sentinels.cs_n == 0 && c->c_redis_sentinel_master != NULL) {
		conf_locate(p, "redis_sentinel_master");
		return (conf_error(p, "redis_sentinel_master needs "
		    "redis_sentinel"));
	}
	return (0);
}

/* A row whose field does not fit its type is a bug, found at once. */
static void
conf_check_table(void)
{
	const struct conf_directive	*d;
	size_t				 i, want;

	for (i = 0; i < nitems(conf_directives); i++) {
		d = &conf_directives[i];
		switch (d->cd_type) {
		case CONF_T_DURATION:
			want = sizeof(int64_t);
			break;
		case CONF_T_SIZE:
		case CONF_T_COUNT:
			want = sizeof(size_t);
			break;
		case CONF_T_STRING:
		case CONF_T_PATH:
			want = sizeof(char *);
			break;
		case CONF_T_BOOL:
			want = sizeof(int);
			break;
		case CONF_T_STRINGS:
			want = sizeof(struct conf_strings);
			break;
		case CONF_T_CUSTOM:
		default:
			if (d->cd_set == NULL)
				fatalx("conf: %s has no setter", d->cd_name);
			continue;
		}
		if (d->cd_size != want)
			fatalx("conf: %s: field of %zu bytes, type needs %zu",
			    d->cd_name, d->cd_size, want);
	}
}

struct conf *
conf_load_buffer(const char *name, const char *buf, size_t len, char *err,
    size_t errlen)
{
	struct conf_parser	 p;
	struct conf		*c;
	char			 why[CONF_ERR_MAX];
	size_t			 i;
	int			 rv = -1;

	conf_check_table();
	memset(&p, 0, sizeof(p));
	c = xcalloc(1, sizeof(*c));
	c->c_path = xstrdup(name);
	p.p_conf = c;
	p.p_file = c->c_path;
	p.p_err = err;
	p.p_errlen = err != NULL ? errlen : 0;
	p.p_nread = 1;

	if (conf_dir(name, &p.p_dir, why, sizeof(why)) == -1)
		conf_error(&p, "%s", why);
	else if (conf_parse_buffer(&p, buf, len) == 0 && conf_defaults(&p) == 0)
		rv = conf_check_together(&p);

	if (rv == 0) {
		/* Included files' names go with the parser: keep copies. */
		c->c_seen = xcalloc(nitems(conf_directives), sizeof(*c->c_seen));
		for (i = 0; i < nitems(conf_directives); i++) {
			if (p.p_first[i].cw_file == NULL)
				continue;
			c->c_seen[i].sn_file = xstrdup(p.p_first[i].cw_file);
			c->c_seen[i].sn_line = p.p_first[i].cw_line;
		}
	}
	for (i = 0; i < p.p_nfiles; i++)
		free(p.p_files[i]);
	free(p.p_files);
	free(p.p_dir);
	if (rv == -1) {
		conf_free(c);
		return (NULL);
	}
	return (c);
}

struct conf *
conf_load(const char *path, char *err, size_t errlen)
{
	struct conf	*c;
	char		 why[CONF_ERR_MAX], shown[CONF_ERR_MAX];
	char		*buf;
	size_t		 len;

	if (conf_read(path, &buf, &len, why, sizeof(why)) == -1) {
		if (err != NULL)
			snprintf(err, errlen, "%s: %s",
			    conf_escape(shown, sizeof(shown), path), why);
		return (NULL);
	}
	c = conf_load_buffer(path, buf, len, err, errlen);
	free(buf);
	return (c);
}

void
conf_free(struct conf *c)
{
	const struct conf_directive	*d;
	void				*field;
	size_t				 i;

	if (c == NULL)
		return;
	for (i = 0; i < nitems(conf_directives); i++) {
		d = &conf_directives[i];
		field = (char *)c + d->cd_off;
		switch (d->cd_type) {
		case CONF_T_STRING:
		case CONF_T_PATH:
			free(*(char **)field);
			break;
		case CONF_T_STRINGS:
			conf_strings_clear(field);
			break;
		case CONF_T_CUSTOM:
			if (d->cd_free != NULL)
				d->cd_free(c);
			break;
		default:
			break;
		}
	}
	if (c->c_seen != NULL)
		for (i = 0; i < nitems(conf_directives); i++)
			free(c->c_seen[i].sn_file);
	free(c->c_seen);
	free(c->c_path);
	free(c);
}

int
conf_where(const struct conf *c, const char *directive, const char **file,
    int *line)
{
	const struct conf_directive	*d;
	const struct conf_seen		*sn;

	if (c->c_seen == NULL || (d = conf_lookup(directive)) == NULL)
		return (-1);
	sn = &c->c_seen[d - conf_directives];
	if (sn->sn_file == NULL)
		return (-1);
	*file = sn->sn_file;
	*line = sn->sn_line;
	return (0);
}
