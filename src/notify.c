/*
 * notify.c: the service manager's readiness protocol.  See notify.h.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"
#include "notify.h"
#include "util.h"

#define NOTIFY_MSG_MAX	128

static int notify_warned;

#ifndef HAVE_LIBSYSTEMD
/* One datagram to $NOTIFY_SOCKET; 1 sent, 0 nobody listens, -1 error. */
static int
notify_send(const char *msg)
{
	const char		*path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un	 sun;
	socklen_t		 len;
	size_t			 plen;
	ssize_t			 n;
	int			 fd, saved;

	if (path == NULL || *path == '\0')
		return (0);
	plen = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || plen >= sizeof(sun.sun_path)) {
		errno = EINVAL;
		return (-1);
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, plen);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';		/* an abstract socket */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	n = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sun, len);
	saved = errno;
	close(fd);
	errno = saved;
	return (n == (ssize_t)strlen(msg) ? 1 : -1);
}
#else
static int
notify_send(const char *msg)
{
	int rc;

	if ((rc = sd_notify(0, msg)) < 0) {
		errno = -rc;
		return (-1);
	}
	return (rc);
}
#endif

static void
notify(const char *msg)
{
	if (notify_send(msg) == -1 && !notify_warned) {
		log_warn("notify the service manager (%s)", getenv("NOTIFY_SOCKET"));
		notify_warned = 1;
	}
}

void
notify_ready(void)
{
	char msg[NOTIFY_MSG_MAX];

	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=serving\nMAINPID=%ld",
	    (long)getpid());
	notify(msg);
}

void
notify_reloading(void)
{
	char msg[NOTIFY_MSG_MAX];

	/* systemd 253 and later want the time the reload started. */
	snprintf(msg, sizeof(msg), "RELOADING=1\nSTATUS=reloading\n"
	    "MONOTONIC_USEC=%" PRId64, monotonic_us());
	notify(msg);
}

void
notify_mainpid(long pid)
{
	char msg[NOTIFY_MSG_MAX];

	snprintf(msg, sizeof(msg), "MAINPID=%ld", pid);
	notify(msg);
}

void
notify_stopping(void)
{
	notify("STOPPING=1\nSTATUS=stopping");
}
