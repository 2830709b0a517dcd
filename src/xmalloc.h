/*
 * xmalloc.h: allocation that cannot fail.  Out of memory is fatal: a
 * worker that dies is respawned by the master, which is better than
 * every caller inventing its own half-tested recovery.
 */
#ifndef RAIND_XMALLOC_H
#define RAIND_XMALLOC_H

#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
void	*xmemdup(const void *, size_t);
int	 xasprintf(char **, const char *, ...) __attribute__((format(printf, 2, 3)));

#endif
