/*
 * tls.h: TLS termination with OpenSSL, through libevent's OpenSSL
 * bufferevents.
 *
 * The master builds one server context (SSL_CTX) from the tls_*
 * directives at start and on every reload; the workers of a generation
 * inherit it across fork() and make one SSL per accepted connection on a
 * "listen ADDR:PORT tls" socket.  A context that cannot be built (a
 * missing file, a key that does not match its certificate, an unknown
 * cipher) is reported as "file:line: message" naming the directive, with
 * OpenSSL's reason; on reload the old context and workers stay.
 *
 * Idle connections are kept small: SSL_MODE_RELEASE_BUFFERS lets OpenSSL
 * free its 16 kB+ read and write buffers between records.  There is no
 * server-side session cache (each worker would have its own); resumption
 * uses session tickets, whose key is made with the context and so is
 * shared by every worker of a generation.  Compression and renegotiation
 * are off.
 *
 * A TLS session cannot move to another process.  When a request on a TLS
 * connection belongs to an Engine.IO session owned by another worker,
 * tls_relay() keeps the TLS connection here and relays the plaintext over
 * a socketpair whose other end was handed over (see conn_handoff in
 * conn.h).
 *
 * Ownership: the caller of tls_ctx_new owns the context (tls_ctx_free).
 * A bufferevent from tls_bufferevent_new owns its SSL and descriptor
 * (BEV_OPT_CLOSE_ON_FREE).  tls_relay takes over the bufferevent and the
 * descriptor it is given and frees them when the relay ends.
 */
#ifndef RAIND_TLS_H
#define RAIND_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

struct bufferevent;
struct conf;
struct event_base;
struct conn_host;

/*
 * A relay holds at most this many bytes queued in each direction; beyond
 * it the side that sends faster is no longer read until half is written.
 */
#define TLS_RELAY_HIGH		(64 * 1024)

/* Does conf have a TLS listener or TLS settings to build a context for? */
int		 tls_wanted(const struct conf *);
/*
 * The server context for conf.  NULL on failure, with err filled with
 * "file:line: message" (errlen bytes, CONF_ERR_MAX will do).
 */
SSL_CTX		*tls_ctx_new(const struct conf *, char *err, size_t errlen);
void		 tls_ctx_free(SSL_CTX *);

/*
 * A bufferevent that accepts a TLS connection on fd (nonblocking).  fd is
 * taken over even on failure (NULL): it is closed then.
 */
struct bufferevent *tls_bufferevent_new(struct event_base *, int fd, SSL_CTX *);
/* Is bev a TLS bufferevent? */
int		 tls_is(struct bufferevent *);
/*
 * bev failed (BEV_EVENT_ERROR): if OpenSSL says why, log it at info for
 * peer and return 1, else return 0 (a socket error: see errno).  A plain
 * HTTP request on a TLS port is answered with a plaintext 400 before the
 * caller closes the connection, so that whoever typed http:// learns why.
 */
int		 tls_failed(struct bufferevent *, const char *peer);
/*
 * Before freeing a TLS bufferevent: send close_notify (best effort, never
 * blocks) unless tls_quiet was called, as conn_abort does.
 */
void		 tls_close_notify(struct bufferevent *);
void		 tls_quiet(struct bufferevent *);

/*
 * Relay between the TLS connection tls (taken over with its callbacks
 * replaced) and fd, our end of a socketpair whose other end another
 * worker serves.  peer names the client in logs.  The relay counts as one
 * of w's connections and ends, closing both sides, when either side
 * closes (once what the other sent is written) or fails.
 */
void		 tls_relay(struct conn_host *, struct bufferevent *tls, int fd,
		    const char *peer);

#endif
