/*
 * handshake.h: what a handler may know of the Engine.IO handshake that
 * opened a client's connection (RAIN's and Socket.IO's socket.handshake):
 * the client's address, the request's headers and its query parameters.
 *
 * The client's address is the peer of the connection that carried the
 * handshake (the real one also when a worker relayed or handed the
 * connection over), unless that peer is one of trusted_proxies: then it
 * is taken from X-Forwarded-For, right to left, as the first address that
 * is not itself a trusted proxy.  X-Forwarded-For from anyone else is
 * ignored, so a client cannot choose its own address.
 *
 * Ownership: handshake_new copies what it keeps (bounded by
 * HANDSHAKE_BYTES_MAX) and returns one reference; handshake_ref takes
 * another and handshake_free drops one.  The client (nsp.h) holds one and
 * each of its sockets another, so that a socket's facts outlive its
 * connection as long as a handler may ask.  The strings it returns live
 * as long as the reference they were read through.
 */
#ifndef RAIND_HANDSHAKE_H
#define RAIND_HANDSHAKE_H

#include <stddef.h>

struct conf_strings;
struct http_request;

#define HANDSHAKE_BYTES_MAX	(16 * 1024)	/* headers and query kept */
#define HANDSHAKE_ADDR_MAX	64		/* an address as text, NUL included */

struct handshake;

/*
 * peer is the connection's peer as conn.c formats it ("1.2.3.4:5",
 * "[::1]:5"); trusted the trusted_proxies list (may be empty).
 */
struct handshake	*handshake_new(const char *peer, const struct http_request *,
			    const struct conf_strings *trusted);
struct handshake	*handshake_ref(struct handshake *);
void			 handshake_free(struct handshake *);

/* The client's address, without a port ("1.2.3.4", "::1"). */
const char		*handshake_address(const struct handshake *);
/* A header's value (name compared case-insensitively), or NULL. */
const char		*handshake_header(const struct handshake *, const char *name);
/* A query parameter, percent-decoded ('+' is a space), or NULL. */
const char		*handshake_query(const struct handshake *, const char *name);

/* Is addr ("1.2.3.4" or "::1") in list (addresses and CIDR blocks)? */
int			 handshake_addr_in(const char *addr, const struct conf_strings *list);
/* Is s an address or a CIDR block (for the configuration's check)? */
int			 handshake_cidr_valid(const char *s);

#endif
