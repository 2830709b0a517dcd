/*
 * session.h: RAIN sessions in Redis, the session store of the namespaces.
 *
 * A user's session is named by the signed cookie (cookie.h).  Each worker
 * has one store: it registers itself with the namespace registry
 * (nsp_registry_set_store) and keeps the sessions of the sockets it
 * serves loaded only for the duration of an event: load before the
 * listener (one pipelined round trip: the global hash and the component
 * hash), save after it (one atomic script for the dirty keys only, with
 * the sliding expiry), then the acknowledgement.  With
 * session_cache_size, a load of hashes the worker has read before and
 * that did not change since costs no round trip (session_cache.h).
 *
 * Keys: <prefix>s:<sid> (global) and <prefix>s:<sid>:<component id>.
 */
#ifndef RAIND_SESSION_H
#define RAIND_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_tree.h>

struct conf;
struct event_base;
struct http_request;
struct nsp_registry;
struct redis;
struct redisReply;
struct session_field;
struct session_state;
struct session_store;

#define SESSION_ID_LEN		32	/* hex characters */
#define SESSION_SET_COOKIE_MAX	512	/* a Set-Cookie header line */
#define SESSION_KEYS_MAX	4096	/* keys of one hash held in memory */
#define SESSION_KEY_MAX		1024	/* bytes of a key */
#define SESSION_REFRESH_DIVISOR	16	/* unchanged: refresh expiry after max_age/16 */
#define SESSION_ERR_UNAUTHORIZED "unauthorized"
#define SESSION_ERR_UNAVAILABLE	"session store unavailable"

/*
 * The worker's store on redis (owned by the caller, which frees it after
 * the store).  Reads the cookie secret (conf->c_cookie_secret_file);
 * NULL with err when the secret is unusable (missing, empty, readable by
 * others).
 */
struct session_store	*session_store_new(struct event_base *, const struct conf *,
			    struct redis *, struct nsp_registry *, char *err, size_t errlen);
void			 session_store_free(struct session_store *);

/*
 * With redis configured, is the cookie secret usable?  -1 with err as
 * "file:line: message" when not (main.c, at start and for raind -n).
 */
int			 session_conf_check(const struct conf *, char *err, size_t errlen);

/*
 * At an Engine.IO handshake: the session id from the request's valid
 * cookie, copied into sid (SESSION_ID_LEN + 1 bytes) and 1 returned; or,
 * with session_create yes, a new id, with set_cookie filled with the
 * "Set-Cookie: ...\r\n" line to send (1); or 0 when there is none (the
 * namespaces then refuse the client with "unauthorized").
 */
int			 session_handshake(struct session_store *, const struct http_request *,
			    char *sid, char *set_cookie, size_t set_cookie_len);

/*
 * Internals, exposed for the unit tests: a socket's session state (the
 * global and the component hash as loaded, with the keys changed since)
 * and the arguments of the save script.  Values handed out by get and
 * dump stay valid until session_state_clear or session_state_free.
 */
struct session_args {
	int		 sa_argc;
	char		**sa_argv;
	size_t		*sa_argvlen;
};

struct session_state	*session_state_new(const char *prefix, const char *sid,
			    const char *component);
void			 session_state_free(struct session_state *);
/* Forget what was loaded and changed (after the save, before a load). */
void			 session_state_clear(struct session_state *);
/* Take the fields of one hash (from the cache), replacing what it held. */
void			 session_state_fill(struct session_state *, int global,
			    const struct session_field *, size_t n);
/* Take an HGETALL reply for one hash; -1 if it is not one. */
int			 session_state_load(struct session_state *, int global,
			    const struct redisReply *, const char **why);
int			 session_state_get(struct session_state *, int global,
			    const char *key, yajl_val *out);
int			 session_state_set(struct session_state *, int global,
			    const char *key, const char *json, size_t len);
int			 session_state_remove(struct session_state *, int global,
			    const char *key);
int			 session_state_dump(struct session_state *, int global,
			    yajl_val *out);
/* Keys set or removed since the load. */
size_t			 session_state_dirty(const struct session_state *);
/*
 * The save command: cmd ("EVALSHA" or "EVAL") and script (its SHA-1 or
 * its text), 2 keys (global, component), then ARGV: ttl_ms, and per
 * hash (global first) the number of keys set, the number removed, the
 * key/value pairs set and the keys removed.
 */
void			 session_save_args(const struct session_state *, const char *cmd,
			    const char *script, int64_t ttl_ms, struct session_args *);
void			 session_args_free(struct session_args *);
/* The Lua text of the save script. */
const char		*session_script(void);

#endif
