/*
 * session_cache.h: a worker's cache of the session hashes it has read,
 * kept true by Redis's invalidation messages (redis_track in redis.h).
 *
 * A bounded table of Redis key -> the fields of its hash (an empty hash
 * for a key that does not exist), least recently used first out.  It is
 * only as good as the invalidations that keep it: it answers nothing
 * until trusted (session_cache_trust(c, 1), once the tracking is
 * confirmed), and becoming trusted or untrusted empties it.
 *
 * The race between a read and a change: a reply may be on its way on
 * the command connection while the invalidation of the same key comes
 * on the pub/sub connection.  So a read is announced when it is sent
 * (session_cache_reading gives it a ticket) and its reply is kept only
 * if nothing invalidated the key since: an invalidation removes the
 * key's entry, and an entry made again later starts after the ticket.
 * The worker's own writes (not reported to it: NOLOOP) invalidate the
 * key when they are sent, so a read sent earlier is not kept either.
 *
 * Ownership: the cache copies what it is given; fields handed out by
 * session_cache_get stay valid until the next call that changes the
 * cache (put, invalidate, flush, trust, reading, free).
 */
#ifndef RAIND_SESSION_CACHE_H
#define RAIND_SESSION_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define SESSION_CACHE_ENTRY_MAX	(16 * 1024)	/* bytes of a hash kept, keys included */
#define SESSION_CACHE_MAX	1000000		/* entries, the directive's bound */

struct session_cache;

/* One field of a hash: not NUL-terminated, len bytes each. */
struct session_field {
	const char	*sf_key;
	size_t		 sf_keylen;
	const char	*sf_val;
	size_t		 sf_vallen;
};

/* A cache of at most max entries (max > 0); untrusted until told. */
struct session_cache	*session_cache_new(size_t max);
void			 session_cache_free(struct session_cache *);

/* Empty it; then answer (on) or not (off) until told otherwise. */
void			 session_cache_trust(struct session_cache *, int on);
int			 session_cache_trusted(const struct session_cache *);
/* Forget every key (FLUSHALL); trust is unchanged. */
void			 session_cache_flush(struct session_cache *);
/* The key changed (or is being changed by this worker). */
void			 session_cache_invalidate(struct session_cache *,
			    const char *key, size_t keylen);

/*
 * The hash of key: 1 with its fields (*n of them, maybe 0), or 0 when
 * not known (not read, changed since, still being read, or untrusted).
 */
int			 session_cache_get(struct session_cache *, const char *key,
			    const struct session_field **fields, size_t *n);
/*
 * A read of key is about to be sent: the ticket to hand to put with its
 * reply; 0 when the reply is not to be kept (untrusted).
 */
uint64_t		 session_cache_reading(struct session_cache *, const char *key);
/* The reply to the read of that ticket: kept if still up to date. */
void			 session_cache_put(struct session_cache *, const char *key,
			    uint64_t ticket, const struct session_field *fields, size_t n);

/* Entries held now (those being read included), for tests. */
size_t			 session_cache_count(const struct session_cache *);

#endif
