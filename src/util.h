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
/* Write contents to path atomically (temporary file and rename). */
int	 file_write_atomic(const char *path, const char *contents, size_t len);

#endif
