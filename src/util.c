/*
 * util.c: small helpers.  See util.h.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

int64_t
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

int64_t
monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

const char *
addr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(sin->sin_port));
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(sin6->sin6_port));
		break;
	}
	default:
		snprintf(buf, len, "(family %d)", sa->sa_family);
		break;
	}
	return (buf);
}

int
fd_nonblock(int fd)
{
	int flags;

	if ((flags = fcntl(fd, F_GETFL)) == -1)
		return (-1);
	return (fcntl(fd, F_SETFL, flags | O_NONBLOCK));
}

int
fd_cloexec(int fd, int on)
{
	int flags;

	if ((flags = fcntl(fd, F_GETFD)) == -1)
		return (-1);
	flags = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC;
	return (fcntl(fd, F_SETFD, flags));
}

int
write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

int
file_write_atomic(const char *path, const char *contents, size_t len)
{
	char	tmp[4096];
	int	fd, saved;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path,
	    (long)getpid()) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) == -1)
		return (-1);
	if (write_all(fd, contents, len) == -1 || fsync(fd) == -1)
		goto bad;
	if (close(fd) == -1) {
		fd = -1;
		goto bad;
	}
	if (rename(tmp, path) == -1) {
		fd = -1;
		goto bad;
	}
	return (0);
bad:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	errno = saved;
	return (-1);
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

int
pct_decode_byte(const char *p, size_t left, unsigned char *out)
{
	int hi, lo;

	if (left < 3 || p[0] != '%' || (hi = hex_value(p[1])) == -1 ||
	    (lo = hex_value(p[2])) == -1)
		return (-1);
	*out = (unsigned char)(hi << 4 | lo);
	return (0);
}

/* Parse an address into bytes: 4 or 16, or 0 when it is not one. */
int
addr_parse(const char *s, size_t slen, unsigned char *out)
{
	char buf[ADDR_STR_MAX];

	if (slen == 0 || slen >= sizeof(buf))
		return (0);
	memcpy(buf, s, slen);
	buf[slen] = '\0';
	if (inet_pton(AF_INET, buf, out) == 1)
		return (4);
	if (inet_pton(AF_INET6, buf, out) == 1)
		return (16);
	return (0);
}

/* Parse "addr" or "addr/bits"; bytes and prefix bits, or 0. */
int
cidr_parse(const char *s, unsigned char *net, int *bits)
{
	const char	*slash = strchr(s, '/');
	char		*end;
	long		 b;
	int		 n;

	n = addr_parse(s, slash != NULL ? (size_t)(slash - s) : strlen(s), net);
	if (n == 0)
		return (0);
	*bits = n * 8;
	if (slash != NULL) {
		if (!isdigit((unsigned char)slash[1]))
			return (0);
		b = strtol(slash + 1, &end, 10);
		if (*end != '\0' || b < 0 || b > n * 8)
			return (0);
		*bits = (int)b;
	}
	return (n);
}

/* Is the address a[0..n) inside net/bits of the same family? */
int
cidr_contains(const unsigned char *a, int n, const unsigned char *net, int nn,
    int bits)
{
	int i, rest;

	if (n != nn)
		return (0);
	for (i = 0; i < bits / 8; i++)
		if (a[i] != net[i])
			return (0);
	if ((rest = bits % 8) != 0 &&
	    ((a[i] ^ net[i]) & (unsigned char)(0xff << (8 - rest))) != 0)
		return (0);
	return (1);
}
