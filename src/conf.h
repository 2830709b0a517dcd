/*
 * conf.h: the configuration file.
 *
 * raind.conf is a list of directives, one per line:
 *
 *	# comment
 *	listen 127.0.0.1:8080
 *	workers auto
 *	shutdown_timeout 10s
 *
 * Values may be double-quoted ("a b", with \" and \\ escapes).  Durations
 * need a unit (ms, s, m, h); sizes take an optional k or m suffix (1024,
 * 1048576).  Relative paths, include patterns among them, are taken from
 * the directory of the file that names them.  The directives are rows of
 * one table (name, type, bounds, default, field); every error is reported
 * as "file:line: message".
 *
 * Ownership: conf_load returns a struct conf owned by the caller and freed
 * with conf_free; every string and array inside belongs to it.
 */
#ifndef RAIND_CONF_H
#define RAIND_CONF_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#define CONF_ERR_MAX		1024	/* size of a formatted error */
#define CONF_INCLUDE_DEPTH	8	/* nested include limit */
#define CONF_LINE_MAX		4096	/* longest line accepted */
#define CONF_WORKERS_MAX	256
#define CONF_FILE_MAX		(1024 * 1024)	/* largest file accepted */
#define CONF_FILES_MAX		256	/* files read, includes counted */
#define CONF_LISTEN_MAX		64	/* listen directives */
#define CONF_LIST_MAX		1024	/* values of one string list */
#define CONF_SENTINELS_MAX	16	/* redis_sentinel addresses */

/*
 * A directive that may repeat and collects strings (components,
 * allowed_origins, ...).  cs_v has cs_n entries, each owned by the list.
 */
struct conf_strings {
	char			**cs_v;
	size_t			  cs_n;
};

/* What a listening socket serves (routes.h). */
enum conf_listen_kind {
	CONF_LISTEN_PUBLIC,		/* listen: Engine.IO, files, ... */
	CONF_LISTEN_METRICS,		/* metrics_listen: /metrics, /healthz */
	CONF_LISTEN_ADMIN		/* admin_listen: POST /publish, /healthz */
};

/* One "listen" directive, resolved to a socket address. */
struct conf_listen {
	char			*cl_text;	/* as written: "127.0.0.1:0", "[::1]:80" */
	struct sockaddr_storage	 cl_ss;
	socklen_t		 cl_sslen;
	int			 cl_tls;	/* "listen ADDR:PORT tls" */
	enum conf_listen_kind	 cl_kind;	/* what its connections serve */
	char			*cl_file;	/* where it was written, or
						   "(default)" */
	int			 cl_line;
};

struct conf {
	char			*c_path;	/* the main file, as given */

	struct conf_listen	*c_listen;
	size_t			 c_nlisten;
	int			 c_workers;	/* 0 means auto: one per CPU */
	char			*c_pid_file;	/* NULL: none */
	char			*c_user;	/* NULL: stay who we are */
	int			 c_log_level;	/* enum log_level */
	char			*c_log_file;	/* NULL: stderr (-d) or syslog */
	int64_t			 c_shutdown_timeout;	/* ms */

	/* Limits of the HTTP core (see http.h). */
	size_t			 c_max_request_line;
	size_t			 c_max_header_size;
	size_t			 c_max_headers;
	size_t			 c_max_body_size;
	int64_t			 c_header_timeout;	/* ms: whole head must arrive */
	int64_t			 c_body_timeout;	/* ms: whole body must arrive */
	int64_t			 c_keepalive_timeout;	/* ms: idle between requests */
	size_t			 c_keepalive_requests;	/* per connection */
	size_t			 c_max_connections;	/* per worker */

	/* Components and their handlers (component.h, nsp.h). */
	struct conf_strings	 c_components;	/* directories, absolute */
	int64_t			 c_handler_timeout;	/* ms a deferral may last */
	size_t			 c_handler_threads;	/* handler thread pool */

	/* Engine.IO and Socket.IO (eio.h, ws.h). */
	char			*c_eio_path;	/* "/socket.io/", with both slashes */
	int64_t			 c_ping_interval;	/* ms */
	int64_t			 c_ping_timeout;	/* ms */
	int64_t			 c_upgrade_timeout;	/* ms */
	size_t			 c_max_payload;	/* bytes of a message or POST */
	size_t			 c_max_send_queue;	/* bytes queued per client */
	struct conf_strings	 c_allowed_origins;	/* empty: same origin */
	struct conf_strings	 c_trusted_proxies;	/* X-Forwarded-For from these */
	char			*c_client_script;	/* socket.io.min.js, or NULL */
	char			*c_rain_script;		/* rain.js, or NULL */
	int64_t			 c_reload_drain_timeout; /* ms */
	int64_t			 c_reload_drain_spread;	/* ms */

	/* Sessions and routing through Redis (redis.h, session.h, cookie.h). */
	char			*c_redis;	/* "unix:/path" or "host:port"; NULL: none */
	struct conf_strings	 c_redis_sentinels;	/* "host:port" each; or empty */
	char			*c_redis_sentinel_master;	/* its name at the sentinels */
	char			*c_redis_password;
	size_t			 c_redis_db;
	char			*c_redis_prefix;	/* "rain:" */
	char			*c_emitter_key;		/* "socket.io" */
	char			*c_admin_token_file;	/* NULL: none */
	int64_t			 c_redis_timeout;	/* ms: connect and command */
	char			*c_cookie_secret_file;
	char			*c_cookie_name;	/* "rain.sid" */
	int			 c_cookie_secure;
	int64_t			 c_cookie_max_age;	/* ms; 0: a browser-session cookie */
	int64_t			 c_session_max_age;	/* ms of sliding expiry */
	int			 c_session_create;	/* make sessions for cookieless clients */
	size_t			 c_session_cache_size;	/* hashes cached per worker; 0: none */
	char			*c_node_id;	/* NULL: random at start */

	/* TLS (tls.h). */
	char			*c_tls_certificate;
	char			*c_tls_certificate_key;
	char			*c_tls_chain;
	struct conf_strings	 c_tls_protocols;	/* empty: TLSv1.2 TLSv1.3 */
	char			*c_tls_ciphers;	/* NULL: OpenSSL's default */

	/* Hostile clients and RAIN's idle policy. */
	int			 c_require_origin;
	size_t			 c_max_namespaces;	/* per connection */
	int64_t			 c_idle_time;	/* ms without an event */
	int			 c_disconnect_idle;
	size_t			 c_disconnect_idle_on_max_conn;
	int64_t			 c_idle_check_interval;	/* ms */

	struct conf_seen	*c_seen;	/* where each directive was given */
};

/*
 * Read and check path (and its includes).  Returns NULL and fills err
 * (CONF_ERR_MAX bytes) with "file:line: message" on any error.
 */
struct conf	*conf_load(const char *path, char *err, size_t errlen);
/*
 * The same for a file already in memory: buf[0..len) is parsed as if read
 * from the file name (used in errors; relative includes and paths are
 * taken from its directory).  buf need not be NUL-terminated.
 */
struct conf	*conf_load_buffer(const char *name, const char *buf, size_t len,
		    char *err, size_t errlen);
void		 conf_free(struct conf *);

/* Append a copy of s; release every entry. */
void		 conf_strings_add(struct conf_strings *, const char *s);
void		 conf_strings_clear(struct conf_strings *);

/* Value parsers shared with other modules; 0 on success, -1 on bad input. */
int		 conf_parse_duration(const char *, int64_t *ms);
int		 conf_parse_size(const char *, size_t *);
int		 conf_parse_addr(const char *, struct sockaddr_storage *, socklen_t *);
int		 conf_parse_bool(const char *, int *);	/* yes or no */

/*
 * Where directive was first given: 0 with *file and *line set (valid as
 * long as the struct conf), or -1 when it was not in the file (default
 * or unknown name).  Checks made after loading (tls.c) name the line.
 */
int		 conf_where(const struct conf *, const char *directive,
		    const char **file, int *line);

/* Is a socket of that kind configured? */
int		 conf_has_listen_kind(const struct conf *, enum conf_listen_kind);
/* Is Redis configured, at an address (redis) or through sentinels? */
int		 conf_redis_wanted(const struct conf *);

/* Number of workers to start for c_workers (resolves auto). */
int		 conf_workers(const struct conf *);

#endif
