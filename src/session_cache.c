/*
 * session_cache.c: the session hashes a worker has read.  See
 * session_cache.h.
 *
 * A chained hash table of fixed size (a power of two at least the
 * number of entries allowed, so chains stay short without rehashing)
 * and a list from the most to the least recently used.  Tickets and
 * entry starts come from one counter: a reply is up to date when its
 * ticket is newer than the start of the key's entry, i.e. when the read
 * was sent after the entry was made and the entry has lived since.
 */
#include "config.h"

#include <sys/queue.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "session_cache.h"
#include "xmalloc.h"

struct session_cache_entry {
	TAILQ_ENTRY(session_cache_entry) ce_lru;	/* most recent first */
	struct session_cache_entry	*ce_next;	/* in its bucket */
	char				*ce_key;
	size_t				 ce_keylen;
	size_t				 ce_hash;
	uint64_t			 ce_start;	/* replies to older tickets are stale */
	uint64_t			 ce_ticket;	/* of the reply held */
	int				 ce_valid;	/* holds the hash */
	struct session_field		*ce_fields;	/* one block with the bytes */
	size_t				 ce_n;
};
TAILQ_HEAD(session_cache_lru, session_cache_entry);

struct session_cache {
	struct session_cache_entry	**sc_buckets;
	size_t				  sc_mask;	/* buckets - 1 */
	size_t				  sc_n;
	size_t				  sc_max;
	struct session_cache_lru	  sc_lru;
	uint64_t			  sc_seq;
	int				  sc_trusted;
};

/* FNV-1a. */
static size_t
session_cache_hash(const char *s, size_t len)
{
	uint64_t	h = 1469598103934665603ULL;
	size_t		i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return ((size_t)h);
}

struct session_cache *
session_cache_new(size_t max)
{
	struct session_cache	*sc;
	size_t			 nb = 16;

	if (max > SESSION_CACHE_MAX)
		max = SESSION_CACHE_MAX;
	if (max == 0)
		max = 1;
	while (nb < max)
		nb *= 2;
	sc = xcalloc(1, sizeof(*sc));
	sc->sc_buckets = xcalloc(nb, sizeof(*sc->sc_buckets));
	sc->sc_mask = nb - 1;
	sc->sc_max = max;
	TAILQ_INIT(&sc->sc_lru);
	return (sc);
}

static struct session_cache_entry **
session_cache_slot(struct session_cache *sc, const char *key, size_t keylen,
    size_t h)
{
	struct session_cache_entry **cep;

	for (cep = &sc->sc_buckets[h & sc->sc_mask]; *cep != NULL;
	    cep = &(*cep)->ce_next)
		if ((*cep)->ce_hash == h && (*cep)->ce_keylen == keylen &&
		    memcmp((*cep)->ce_key, key, keylen) == 0)
			break;
	return (cep);
}

static void
session_cache_unlink(struct session_cache *sc, struct session_cache_entry **cep)
{
	struct session_cache_entry *ce = *cep;

	*cep = ce->ce_next;
	TAILQ_REMOVE(&sc->sc_lru, ce, ce_lru);
	sc->sc_n--;
	free(ce->ce_fields);
	free(ce->ce_key);
	free(ce);
}

static void
session_cache_remove(struct session_cache *sc, const char *key, size_t keylen)
{
	struct session_cache_entry	**cep;
	size_t				  h = session_cache_hash(key, keylen);

	cep = session_cache_slot(sc, key, keylen, h);
	if (*cep != NULL)
		session_cache_unlink(sc, cep);
}

/* Remove an entry known to be there. */
static void
session_cache_drop(struct session_cache *sc, struct session_cache_entry *ce)
{
	session_cache_unlink(sc, session_cache_slot(sc, ce->ce_key,
	    ce->ce_keylen, ce->ce_hash));
}

void
session_cache_flush(struct session_cache *sc)
{
	struct session_cache_entry *ce;

	while ((ce = TAILQ_LAST(&sc->sc_lru, session_cache_lru)) != NULL)
		session_cache_drop(sc, ce);
}

void
session_cache_free(struct session_cache *sc)
{
	if (sc == NULL)
		return;
	session_cache_flush(sc);
	free(sc->sc_buckets);
	free(sc);
}

void
session_cache_trust(struct session_cache *sc, int on)
{
	session_cache_flush(sc);
	sc->sc_trusted = on;
}

int
session_cache_trusted(const struct session_cache *sc)
{
	return (sc->sc_trusted);
}

void
session_cache_invalidate(struct session_cache *sc, const char *key,
    size_t keylen)
{
	session_cache_remove(sc, key, keylen);
}

int
session_cache_get(struct session_cache *sc, const char *key,
    const struct session_field **fields, size_t *n)
{
	struct session_cache_entry	*ce;
	size_t				 len = strlen(key);

	*fields = NULL;
	*n = 0;
	if (!sc->sc_trusted)
		return (0);
	ce = *session_cache_slot(sc, key, len, session_cache_hash(key, len));
	if (ce == NULL || !ce->ce_valid)
		return (0);
	TAILQ_REMOVE(&sc->sc_lru, ce, ce_lru);
	TAILQ_INSERT_HEAD(&sc->sc_lru, ce, ce_lru);
	*fields = ce->ce_fields;
	*n = ce->ce_n;
	return (1);
}

uint64_t
session_cache_reading(struct session_cache *sc, const char *key)
{
	struct session_cache_entry	**cep, *ce;
	size_t				  len = strlen(key), h;

	if (!sc->sc_trusted)
		return (0);
	h = session_cache_hash(key, len);
	cep = session_cache_slot(sc, key, len, h);
	if ((ce = *cep) == NULL) {
		/* Room first: the least recently used goes, even if being read. */
		if (sc->sc_n >= sc->sc_max)
			session_cache_drop(sc, TAILQ_LAST(&sc->sc_lru,
			    session_cache_lru));
		ce = xcalloc(1, sizeof(*ce));
		ce->ce_key = xstrndup(key, len);
		ce->ce_keylen = len;
		ce->ce_hash = h;
		ce->ce_start = ++sc->sc_seq;
		ce->ce_next = sc->sc_buckets[h & sc->sc_mask];
		sc->sc_buckets[h & sc->sc_mask] = ce;
		TAILQ_INSERT_HEAD(&sc->sc_lru, ce, ce_lru);
		sc->sc_n++;
	}
	return (++sc->sc_seq);
}

void
session_cache_put(struct session_cache *sc, const char *key, uint64_t ticket,
    const struct session_field *fields, size_t n)
{
	struct session_cache_entry	**cep, *ce;
	struct session_field		*f;
	size_t				  len = strlen(key), bytes, i;
	char				 *p;

	if (ticket == 0 || !sc->sc_trusted)
		return;
	cep = session_cache_slot(sc, key, len, session_cache_hash(key, len));
	if ((ce = *cep) == NULL || ticket <= ce->ce_start ||
	    (ce->ce_valid && ticket <= ce->ce_ticket))
		return;		/* changed since it was read, or older news */
	for (bytes = i = 0; i < n; i++)
		bytes += fields[i].sf_keylen + fields[i].sf_vallen;
	if (bytes > SESSION_CACHE_ENTRY_MAX) {
		session_cache_unlink(sc, cep);
		return;
	}
	free(ce->ce_fields);
	/* The fields, then their bytes, in one block. */
	ce->ce_fields = xmalloc(n * sizeof(*f) + bytes + 1);
	p = (char *)(ce->ce_fields + n);
	for (i = 0; i < n; i++) {
		f = &ce->ce_fields[i];
		memcpy(p, fields[i].sf_key, fields[i].sf_keylen);
		f->sf_key = p;
		f->sf_keylen = fields[i].sf_keylen;
		p += f->sf_keylen;
		memcpy(p, fields[i].sf_val, fields[i].sf_vallen);
		f->sf_val = p;
		f->sf_vallen = fields[i].sf_vallen;
		p += f->sf_vallen;
	}
	ce->ce_n = n;
	ce->ce_valid = 1;
	ce->ce_ticket = ticket;
	TAILQ_REMOVE(&sc->sc_lru, ce, ce_lru);
	TAILQ_INSERT_HEAD(&sc->sc_lru, ce, ce_lru);
}

size_t
session_cache_count(const struct session_cache *sc)
{
	return (sc->sc_n);
}
