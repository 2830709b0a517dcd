/*
 * util.h: small helpers shared by the master and the workers.
 */
#ifndef RAIND_UTIL_H
#define RAIND_UTIL_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#define ADDR_STR_MAX	64	/* "[ffff:...:ffff]:65535" and NUL */

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t	 monotonic_ms(void);
/* Microseconds of CLOCK_MONOTONIC. */
int64_t	 monotonic_us(void);
/* Format "1.2.3.4:80" or "[::1]:80" into buf (ADDR_STR_MAX bytes). */
const char *addr_format(const struct sockaddr *, char *buf, size_t len);
int	 fd_nonblock(int);
int	 fd_cloexec(int, int on);
/* Write all of buf, retrying on EINTR; -1 on error. */
int	 write_all(int, const void *, size_t);
/*
 * Decode the percent escape "%XX" at p (left bytes available) into *out;
 * -1 when p does not start with a valid one.
 */
int	 pct_decode_byte(const char *p, size_t left, unsigned char *out);
/* Bytes of an IPv6 address, the longest addr_parse gives. */
#define ADDR_BYTES_MAX	16
/* Parse an IPv4 or IPv6 address s[0..len) into out: 4, 16, or 0 if it is none. */
int	 addr_parse(const char *s, size_t len, unsigned char *out);
/* Parse "address" or "address/bits" into net and *bits: 4, 16, or 0. */
int	 cidr_parse(const char *s, unsigned char *net, int *bits);
/* Is the address a (n bytes) inside net/bits (nn bytes)? */
int	 cidr_contains(const unsigned char *a, int n, const unsigned char *net,
	    int nn, int bits);
/* Write contents to path atomically (temporary file and rename). */
int	 file_write_atomic(const char *path, const char *contents, size_t len);

#endif
