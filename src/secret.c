/*
 * secret.c: secrets kept in files.  See secret.h.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "secret.h"
#include "xmalloc.h"

int
secret_load(const char *what, const char *path, size_t max, char **secret,
    size_t *len, char *err, size_t errlen)
{
	struct stat	 st;
	char		*buf = NULL;
	ssize_t		 n;
	size_t		 got = 0;
	int		 fd = -1;

	*secret = NULL;
	*len = 0;
	if (path == NULL) {
		snprintf(err, errlen, "%s is not set", what);
		goto bad;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		snprintf(err, errlen, "%s %s: %s", what, path,
		    strerror(errno));
		goto bad;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s %s: %s", what, path,
		    strerror(errno));
		goto bad;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s %s: not a regular file",
		    what, path);
		goto bad;
	}
	/* A secret others can read (or replace) signs nothing of value. */
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen, "%s %s: mode %04o gives "
		    "access to group or others (chmod 600)", what, path,
		    (unsigned int)(st.st_mode & 07777));
		goto bad;
	}
	/* One byte more than allowed, to tell "too large" from "just fits". */
	buf = xmalloc(max + 2);
	for (;;) {
		n = read(fd, buf + got, max + 2 - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "%s %s: %s", what, path,
			    strerror(errno));
			goto bad;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got == max + 2)
			break;
	}
	if (got > 0 && buf[got - 1] == '\n')
		got--;
	if (got > max) {
		snprintf(err, errlen, "%s %s: longer than %zu bytes",
		    what, path, max);
		goto bad;
	}
	if (got == 0) {
		snprintf(err, errlen, "%s %s: empty", what, path);
		goto bad;
	}
	close(fd);
	buf[got] = '\0';
	*secret = buf;
	*len = got;
	return (0);
 bad:
	if (buf != NULL)
		secret_free(buf, max + 2);
	if (fd != -1)
		close(fd);
	return (-1);
}

void
secret_free(char *secret, size_t len)
{
	if (secret == NULL)
		return;
	OPENSSL_cleanse(secret, len);
	free(secret);
}

int
secret_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	unsigned char	d;
	size_t		i;

	if (blen == 0)
		return (0);
	/* The time depends on alen only, never on where the bytes differ. */
	d = alen != blen;
	for (i = 0; i < alen; i++)
		d |= (unsigned char)a[i] ^ (unsigned char)b[i % blen];
	return (d == 0);
}
