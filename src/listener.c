/*
 * listener.c: binding the listening sockets.  See listener.h.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "listener.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

/* Open one socket bound to ss with SO_REUSEPORT; -1 with errno on failure. */
static int
listener_socket(const struct sockaddr_storage *ss, socklen_t sslen)
{
	int fd, on = 1, saved;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return (-1);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1)
		goto bad;
	if (ss->ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1)
		goto bad;
	if (bind(fd, (const struct sockaddr *)ss, sslen) == -1)
		goto bad;
	if (listen(fd, LISTEN_BACKLOG) == -1)
		goto bad;
	return (fd);
bad:
	saved = errno;
	close(fd);
	errno = saved;
	return (-1);
}

static void
listener_close(struct listener *l)
{
	int i;

	for (i = 0; i < l->l_nfds; i++)
		if (l->l_fds[i] != -1)
			close(l->l_fds[i]);
	free(l->l_fds);
	free(l->l_text);
	l->l_fds = NULL;
	l->l_text = NULL;
	l->l_nfds = 0;
}

/* Append src to dst (size len, NUL-terminated), truncating. */
static void
strlcat_safe(char *dst, const char *src, size_t len)
{
	size_t n = strlen(dst);

	if (n + 1 < len)
		snprintf(dst + n, len - n, "%s", src);
}

/*
 * Make l have nslots sockets; the first one fixes the port (which may
 * have been 0 in the configuration), the others bind that same port.
 */
static int
listener_fill(struct listener *l, int nslots)
{
	int i, fd;

	for (i = nslots; i < l->l_nfds; i++)
		close(l->l_fds[i]);
	if (nslots < l->l_nfds) {
		l->l_nfds = nslots;
		return (0);
	}
	l->l_fds = xreallocarray(l->l_fds, (size_t)nslots, sizeof(int));
	for (i = l->l_nfds; i < nslots; i++) {
		if ((fd = listener_socket(&l->l_ss, l->l_sslen)) == -1)
			return (-1);
		l->l_fds[i] = fd;
		l->l_nfds = i + 1;
		if (i == 0) {
			l->l_sslen = sizeof(l->l_ss);
			if (getsockname(fd, (struct sockaddr *)&l->l_ss,
			    &l->l_sslen) == -1)
				return (-1);
			addr_format((struct sockaddr *)&l->l_ss, l->l_name,
			    sizeof(l->l_name));
		}
	}
	return (0);
}

/*
 * Sockets of an unchanged listener are dup()ed from old rather than moved,
 * so that a failure half-way leaves old exactly as it was and freeing
 * old later does not close the sockets the new set shares.
 */
static int
listener_share(struct listener *l, const struct listener *o, int nslots)
{
	int i, n = o->l_nfds < nslots ? o->l_nfds : nslots;

	l->l_fds = xcalloc((size_t)nslots, sizeof(int));
	for (i = 0; i < n; i++) {
		if ((l->l_fds[i] = fcntl(o->l_fds[i], F_DUPFD_CLOEXEC, 0)) == -1)
			return (-1);
		l->l_nfds = i + 1;
	}
	memcpy(&l->l_ss, &o->l_ss, o->l_sslen);
	l->l_sslen = o->l_sslen;
	memcpy(l->l_name, o->l_name, sizeof(l->l_name));
	return (0);
}

struct listener_set *
listener_set_open(const struct conf *conf, int nslots,
    struct listener_set *old, char *err, size_t errlen)
{
	struct listener_set	*ls;
	struct listener		*l;
	const struct listener	*o;
	const struct conf_listen *cl;
	size_t			 i, j;

	ls = xcalloc(1, sizeof(*ls));
	ls->ls_list = xcalloc(conf->c_nlisten, sizeof(*ls->ls_list));
	ls->ls_slots = nslots;
	for (i = 0; i < conf->c_nlisten; i++) {
		cl = &conf->c_listen[i];
		l = &ls->ls_list[i];
		ls->ls_count = i + 1;
		l->l_text = xstrdup(cl->cl_text);
		/* A shared socket may change sides on reload: plain, TLS. */
		l->l_tls = cl->cl_tls;
		l->l_kind = cl->cl_kind;
		for (o = NULL, j = 0; old != NULL && j < old->ls_count; j++)
			if (strcmp(old->ls_list[j].l_text, cl->cl_text) == 0) {
				o = &old->ls_list[j];
				break;
			}
		if (o != NULL) {
			if (listener_share(l, o, nslots) == -1)
				goto bad;
		} else {
			memcpy(&l->l_ss, &cl->cl_ss, cl->cl_sslen);
			l->l_sslen = cl->cl_sslen;
		}
		if (listener_fill(l, nslots) == -1)
			goto bad;
	}
	return (ls);
bad:
	snprintf(err, errlen, "%s:%d: listen %s: %s", cl->cl_file,
	    cl->cl_line, cl->cl_text, strerror(errno));
	listener_set_free(ls);
	return (NULL);
}

void
listener_set_free(struct listener_set *ls)
{
	size_t i;

	if (ls == NULL)
		return;
	for (i = 0; i < ls->ls_count; i++)
		listener_close(&ls->ls_list[i]);
	free(ls->ls_list);
	free(ls);
}

char *
listener_set_export(const struct listener_set *ls)
{
	char	*out, num[16];
	size_t	 i, len = 1;
	int	 j;

	for (i = 0; i < ls->ls_count; i++)
		len += strlen(ls->ls_list[i].l_text) + 2 +
		    (size_t)ls->ls_list[i].l_nfds * sizeof(num);
	out = xcalloc(1, len);
	for (i = 0; i < ls->ls_count; i++) {
		if (i > 0)
			strlcat_safe(out, ";", len);
		strlcat_safe(out, ls->ls_list[i].l_text, len);
		strlcat_safe(out, "=", len);
		for (j = 0; j < ls->ls_list[i].l_nfds; j++) {
			/* The new executable gets them: no close-on-exec. */
			if (fcntl(ls->ls_list[i].l_fds[j], F_SETFD, 0) == -1) {
				free(out);
				return (NULL);
			}
			snprintf(num, sizeof(num), "%s%d", j > 0 ? "," : "",
			    ls->ls_list[i].l_fds[j]);
			strlcat_safe(out, num, len);
		}
	}
	return (out);
}

struct listener_set *
listener_set_inherited(const char *spec, char *err, size_t errlen)
{
	struct listener_set	*ls;
	struct listener		*l;
	char			*copy, *entry, *save, *eq, *fdp, *save2, *end;
	long			 fd;

	ls = xcalloc(1, sizeof(*ls));
	copy = xstrdup(spec);
	for (entry = strtok_r(copy, ";", &save); entry != NULL;
	    entry = strtok_r(NULL, ";", &save)) {
		if ((eq = strchr(entry, '=')) == NULL || ls->ls_count >= LISTEN_INHERIT_MAX)
			goto bad;
		*eq = '\0';
		ls->ls_list = xreallocarray(ls->ls_list, ls->ls_count + 1,
		    sizeof(*ls->ls_list));
		l = &ls->ls_list[ls->ls_count++];
		memset(l, 0, sizeof(*l));
		l->l_text = xstrdup(entry);
		for (fdp = strtok_r(eq + 1, ",", &save2); fdp != NULL;
		    fdp = strtok_r(NULL, ",", &save2)) {
			fd = strtol(fdp, &end, 10);
			if (*end != '\0' || fd < 0 || fd > INT32_MAX ||
			    fcntl((int)fd, F_SETFD, FD_CLOEXEC) == -1)
				goto bad;
			l->l_fds = xreallocarray(l->l_fds, (size_t)l->l_nfds + 1,
			    sizeof(int));
			l->l_fds[l->l_nfds++] = (int)fd;
		}
		if (l->l_nfds == 0)
			goto bad;
		l->l_sslen = sizeof(l->l_ss);
		if (getsockname(l->l_fds[0], (struct sockaddr *)&l->l_ss,
		    &l->l_sslen) == -1)
			goto bad;
		addr_format((struct sockaddr *)&l->l_ss, l->l_name, sizeof(l->l_name));
		if (l->l_nfds > ls->ls_slots)
			ls->ls_slots = l->l_nfds;
	}
	free(copy);
	return (ls);
 bad:
	snprintf(err, errlen, "inherited listeners: bad entry \"%.64s\"", spec);
	free(copy);
	listener_set_free(ls);
	return (NULL);
}

char *
listener_set_ports(const struct listener_set *ls)
{
	char	*out, *p;
	size_t	 i, len = 1;

	for (i = 0; i < ls->ls_count; i++)
		len += strlen(ls->ls_list[i].l_name) + 1;
	p = out = xmalloc(len);
	for (i = 0; i < ls->ls_count; i++)
		p += sprintf(p, "%s\n", ls->ls_list[i].l_name);
	*p = '\0';
	return (out);
}
