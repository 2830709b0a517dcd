/*
 * secret.h: secrets kept in files (the cookie secret, the admin token).
 *
 * A secret file holds the secret and at most one trailing newline; only
 * its owner may read or write it.
 */
#ifndef RAIND_SECRET_H
#define RAIND_SECRET_H

#include <stddef.h>

/*
 * Read the secret of the directive what (named in errors) from path: the
 * file's content less one trailing newline, at most max bytes.  -1 with
 * err when the file is missing, unreadable, empty, too large, or readable
 * or writable by group or others.  *secret is NUL-terminated and the
 * caller's to free with secret_free, which wipes it first.
 */
int	secret_load(const char *what, const char *path, size_t max,
	    char **secret, size_t *len, char *err, size_t errlen);
void	secret_free(char *secret, size_t len);
/*
 * Is a[0..alen) equal to the secret b[0..blen)?  In a time that depends
 * on alen only (what a client sends), not on the secret's bytes.
 */
int	secret_equal(const char *a, size_t alen, const char *b, size_t blen);

#endif
