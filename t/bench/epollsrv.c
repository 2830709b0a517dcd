/*
 * epollsrv.c: the least a server must do for loadgen, on bare epoll, as a
 * floor to compare raind with.
 *
 *	epollsrv [-a address] [-p port]
 *
 * It accepts WebSocket connections, answers the opening handshake, sends
 * the Engine.IO open packet, accepts any namespace CONNECT, and handles
 * two events: `echo` is sent straight back, and `broadcast` is framed
 * once and written to every connection with one write(2) each, then
 * acknowledged with [true].  No heartbeat, no sessions, no JSON parsing,
 * no coalescing of writes: what is left is mostly what the kernel charges
 * for one send over loopback TCP, which is the part of raind's cost per
 * broadcast delivery that no server avoids without batching several
 * messages into one write.
 *
 * It prints "LISTENING <port>" once it accepts connections and runs until
 * SIGTERM or SIGINT.  Loopback only: it is a measuring tool, not a server.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "ws_frame.h"
#include "xmalloc.h"

#define EP_ADDRESS_DEFAULT	"127.0.0.1"
#define EP_BACKLOG		4096
#define EP_EVENTS		256		/* per epoll_wait */
#define EP_READ_CHUNK		(64 * 1024)
#define EP_HEAD_MAX		8192		/* the client's request head */
#define EP_MAX_PAYLOAD		(1024 * 1024)	/* one client message */
#define EP_SID_LEN		20

/* Engine.IO open packet: the Node server's defaults, no upgrades. */
#define EIO_OPEN_FMT		"0{\"sid\":\"%s\",\"upgrades\":[]," \
				"\"pingInterval\":25000,\"pingTimeout\":20000," \
				"\"maxPayload\":1000000}"
/* Packet type digits: Engine.IO message, then Socket.IO. */
#define EIO_MESSAGE_CH		'4'
#define SIO_CONNECT_CH		'0'
#define SIO_DISCONNECT_CH	'1'
#define SIO_EVENT_CH		'2'
#define SIO_ACK_CH		'3'
#define EV_ECHO			"[\"echo\","
#define EV_BROADCAST		"[\"broadcast\","
#define ACK_TRUE		"[true]"
#define STRLEN(s)		(sizeof(s) - 1)

#define HDR_KEY			"\r\nsec-websocket-key:"	/* lower case */

enum ep_state {
	ST_HTTP,		/* reading the request head */
	ST_WS
};

struct ep_conn {
	int			 ec_fd;
	enum ep_state		 ec_state;
	int			 ec_dead;	/* closed at the end of the batch */
	int			 ec_member;	/* connected to a namespace */
	size_t			 ec_slot;	/* in the member array */
	char			*ec_head;	/* until the upgrade */
	size_t			 ec_head_len;
	struct ws_parser	 ec_ws;
	/* Output the kernel did not take yet. */
	unsigned char		*ec_out;
	size_t			 ec_out_off;
	size_t			 ec_out_len;
	size_t			 ec_out_cap;
	int			 ec_want_out;	/* EPOLLOUT registered */
	char			 ec_sid[EP_SID_LEN + 1];
	struct ep_conn		*ec_next_dead;
};

static int			 ep_fd = -1;
static struct ep_conn		**members;	/* every namespace member */
static size_t			 nmembers, members_cap;
static struct ep_conn		*dead_list;
static uint64_t			 sid_counter;
static volatile sig_atomic_t	 quit;

static void	conn_kill(struct ep_conn *);
static void	usage(int) __attribute__((noreturn));

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: epollsrv [-a address] [-p port]\n"
	    "  -a address  IPv4 loopback address to listen on (default %s)\n"
	    "  -p port     port, 0 for any free one (default 0)\n",
	    EP_ADDRESS_DEFAULT);
	exit(status);
}

static void
ep_ctl(int op, struct ep_conn *c, uint32_t events)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = c;
	if (epoll_ctl(ep_fd, op, c->ec_fd, &ev) == -1)
		fatal("epoll_ctl");
}

static void
out_keep(struct ep_conn *c, const void *buf, size_t len)
{
	if (c->ec_out_off > 0 && c->ec_out_off == c->ec_out_len)
		c->ec_out_off = c->ec_out_len = 0;
	if (c->ec_out_len + len > c->ec_out_cap) {
		/* Compact first; grow only when that is not enough. */
		if (c->ec_out_off > 0) {
			memmove(c->ec_out, c->ec_out + c->ec_out_off,
			    c->ec_out_len - c->ec_out_off);
			c->ec_out_len -= c->ec_out_off;
			c->ec_out_off = 0;
		}
		while (c->ec_out_len + len > c->ec_out_cap)
			c->ec_out_cap = c->ec_out_cap ? 2 * c->ec_out_cap :
			    EP_READ_CHUNK;
		c->ec_out = xreallocarray(c->ec_out, 1, c->ec_out_cap);
	}
	memcpy(c->ec_out + c->ec_out_len, buf, len);
	c->ec_out_len += len;
	if (!c->ec_want_out) {
		ep_ctl(EPOLL_CTL_MOD, c, EPOLLIN | EPOLLOUT);
		c->ec_want_out = 1;
	}
}

/*
 * Send buf with one write(2).  Whatever the kernel does not take now (a
 * full socket buffer) waits in the connection's queue for EPOLLOUT; once
 * a queue exists, later output goes behind it to keep the order.
 */
static void
conn_write(struct ep_conn *c, const void *buf, size_t len)
{
	ssize_t n;

	if (c->ec_dead)
		return;
	if (c->ec_out_len > c->ec_out_off) {
		out_keep(c, buf, len);
		return;
	}
	n = write(c->ec_fd, buf, len);
	if (n == -1) {
		if (errno != EAGAIN && errno != EINTR) {
			conn_kill(c);
			return;
		}
		n = 0;
	}
	if ((size_t)n < len)
		out_keep(c, (const unsigned char *)buf + n, len - (size_t)n);
}

static void
conn_flush(struct ep_conn *c)
{
	ssize_t n;

	while (c->ec_out_len > c->ec_out_off) {
		n = write(c->ec_fd, c->ec_out + c->ec_out_off,
		    c->ec_out_len - c->ec_out_off);
		if (n == -1) {
			if (errno == EAGAIN)
				return;
			if (errno == EINTR)
				continue;
			conn_kill(c);
			return;
		}
		c->ec_out_off += (size_t)n;
	}
	c->ec_out_off = c->ec_out_len = 0;
	ep_ctl(EPOLL_CTL_MOD, c, EPOLLIN);
	c->ec_want_out = 0;
}

/* A whole unmasked frame, in one buffer so that one write sends it. */
static unsigned char *
frame_build(int opcode, const void *data, size_t len, size_t *total)
{
	unsigned char	 hdr[WS_HEADER_MAX], *f;
	size_t		 n;

	n = ws_frame_header(hdr, opcode, len);
	f = xmalloc(n + len);
	memcpy(f, hdr, n);
	memcpy(f + n, data, len);
	*total = n + len;
	return (f);
}

static void
conn_send_text(struct ep_conn *c, const void *data, size_t len)
{
	unsigned char	*f;
	size_t		 n;

	f = frame_build(WS_OP_TEXT, data, len, &n);
	conn_write(c, f, n);
	free(f);
}

/* Two pieces as one text message: "prefix" "rest". */
static void
conn_send_text2(struct ep_conn *c, const char *a, size_t alen,
    const char *b, size_t blen)
{
	char *t;

	t = xmalloc(alen + blen);
	memcpy(t, a, alen);
	memcpy(t + alen, b, blen);
	conn_send_text(c, t, alen + blen);
	free(t);
}

static void
member_add(struct ep_conn *c)
{
	if (c->ec_member)
		return;
	if (nmembers == members_cap) {
		members_cap = members_cap ? 2 * members_cap : 1024;
		members = xreallocarray(members, members_cap,
		    sizeof(*members));
	}
	c->ec_slot = nmembers;
	members[nmembers++] = c;
	c->ec_member = 1;
}

static void
member_remove(struct ep_conn *c)
{
	if (!c->ec_member)
		return;
	members[c->ec_slot] = members[--nmembers];
	members[c->ec_slot]->ec_slot = c->ec_slot;
	c->ec_member = 0;
}

/*
 * Marked dead now, closed after the current batch of events: a broadcast
 * loop may still be walking the member array.
 */
static void
conn_kill(struct ep_conn *c)
{
	if (c->ec_dead)
		return;
	c->ec_dead = 1;
	c->ec_next_dead = dead_list;
	dead_list = c;
}

static void
reap(void)
{
	struct ep_conn *c;

	while ((c = dead_list) != NULL) {
		dead_list = c->ec_next_dead;
		member_remove(c);
		close(c->ec_fd);
		if (c->ec_state == ST_WS)
			ws_parser_free(&c->ec_ws);
		free(c->ec_head);
		free(c->ec_out);
		free(c);
	}
}

/*
 * `broadcast` (payload, cb): the same frame to every member, one write
 * each, then the ack.  args is the event's JSON array, used as is.
 */
static void
do_broadcast(struct ep_conn *c, const char *pfx, size_t pfxlen,
    const char *id, size_t idlen, const char *args, size_t argslen)
{
	unsigned char	*f;
	char		*t;
	size_t		 n, i;

	t = xmalloc(pfxlen + argslen);
	memcpy(t, pfx, pfxlen);
	memcpy(t + pfxlen, args, argslen);
	f = frame_build(WS_OP_TEXT, t, pfxlen + argslen, &n);
	free(t);
	for (i = 0; i < nmembers; i++)
		conn_write(members[i], f, n);
	free(f);
	if (idlen > 0) {
		/* "43<nsp>,<id>[true]" */
		t = xmalloc(pfxlen + idlen + STRLEN(ACK_TRUE));
		memcpy(t, pfx, pfxlen);
		t[1] = SIO_ACK_CH;
		memcpy(t + pfxlen, id, idlen);
		memcpy(t + pfxlen + idlen, ACK_TRUE, STRLEN(ACK_TRUE));
		conn_send_text(c, t, pfxlen + idlen + STRLEN(ACK_TRUE));
		free(t);
	}
}

/* One text message from a client: Engine.IO, then Socket.IO. */
static void
conn_message(struct ep_conn *c, const char *s, size_t len)
{
	const char	*p, *end = s + len, *nsp_end, *id;
	char		*reply;
	size_t		 nsplen, pfxlen, idlen;

	/* Only Engine.IO messages ("4") carrying a Socket.IO packet. */
	if (len < 2 || s[0] != EIO_MESSAGE_CH)
		return;
	/* Namespace: "/name," or nothing for "/". */
	p = s + 2;
	nsp_end = p;
	if (p < end && *p == '/') {
		while (nsp_end < end && *nsp_end != ',')
			nsp_end++;
		if (nsp_end == end) {
			if (s[1] != SIO_CONNECT_CH) {
				conn_kill(c);
				return;
			}
		} else
			nsp_end++;	/* keep the comma */
	}
	nsplen = (size_t)(nsp_end - p);

	switch (s[1]) {
	case SIO_CONNECT_CH:
		/* CONNECT: "40<nsp>,{"sid":"..."}" */
		if (nsplen > 0 && p[nsplen - 1] != ',') {
			/* "40/nsp" without a comma: answer with one */
			xasprintf(&reply, "40%.*s,{\"sid\":\"%s\"}",
			    (int)nsplen, p, c->ec_sid);
		} else
			xasprintf(&reply, "40%.*s{\"sid\":\"%s\"}",
			    (int)nsplen, p, c->ec_sid);
		conn_send_text(c, reply, strlen(reply));
		free(reply);
		member_add(c);
		return;
	case SIO_DISCONNECT_CH:
		member_remove(c);
		return;
	case SIO_EVENT_CH:
		break;
	default:
		return;
	}

	/* EVENT: "42<nsp>,<id>[...]" */
	pfxlen = 2 + nsplen;
	id = nsp_end;
	p = id;
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	idlen = (size_t)(p - id);
	if ((size_t)(end - p) >= STRLEN(EV_BROADCAST) &&
	    memcmp(p, EV_BROADCAST, STRLEN(EV_BROADCAST)) == 0) {
		do_broadcast(c, s, pfxlen, id, idlen, p, (size_t)(end - p));
		return;
	}
	if ((size_t)(end - p) >= STRLEN(EV_ECHO) &&
	    memcmp(p, EV_ECHO, STRLEN(EV_ECHO)) == 0)
		conn_send_text2(c, s, pfxlen, p, (size_t)(end - p));
}

/* Feed bytes to the frame parser and act on each event. */
static void
conn_ws_input(struct ep_conn *c, const unsigned char *buf, size_t len)
{
	struct ws_event		 ev;
	enum ws_event_type	 t;
	size_t			 used;
	unsigned char		 f[WS_SERVER_HEADER_MAX + WS_CONTROL_MAX];
	size_t			 n;

	while (len > 0 && !c->ec_dead) {
		t = ws_parser_feed(&c->ec_ws, buf, len, &used, &ev);
		buf += used;
		len -= used;
		switch (t) {
		case WS_EV_MORE:
			return;
		case WS_EV_MESSAGE:
			if (ev.we_opcode == WS_OP_TEXT)
				conn_message(c, (const char *)ev.we_data,
				    ev.we_len);
			break;
		case WS_EV_PING:
			n = ws_frame_header(f, WS_OP_PONG, ev.we_len);
			memcpy(f + n, ev.we_data, ev.we_len);
			conn_write(c, f, n + ev.we_len);
			break;
		case WS_EV_PONG:
			break;
		case WS_EV_CLOSE:
		case WS_EV_ERROR:
			/* Answer with a close frame (echoing the code), then close TCP. */
			if (t == WS_EV_CLOSE &&
			    !ws_close_code_valid(ev.we_code))
				n = ws_frame_header(f, WS_OP_CLOSE, 0);
			else {
				n = ws_frame_header(f, WS_OP_CLOSE, 2);
				f[n++] = (unsigned char)(ev.we_code >> 8);
				f[n++] = (unsigned char)ev.we_code;
			}
			conn_write(c, f, n);
			conn_kill(c);
			return;
		}
	}
}

static void
http_error(struct ep_conn *c, const char *status)
{
	char buf[256];
	int n;

	n = snprintf(buf, sizeof(buf), "HTTP/1.1 %s\r\nContent-Length: 0\r\n"
	    "Connection: close\r\n\r\n", status);
	conn_write(c, buf, (size_t)n);
	conn_kill(c);
}

/* Request head complete: check it, switch protocols, open Engine.IO. */
static void
conn_upgrade(struct ep_conn *c, size_t head_len)
{
	char	 low[EP_HEAD_MAX + 1], accept[WS_ACCEPT_LEN + 1];
	char	 resp[256], *open;
	char	*k, *e;
	size_t	 i, rest;
	int	 n;

	for (i = 0; i < head_len; i++)
		low[i] = (c->ec_head[i] >= 'A' && c->ec_head[i] <= 'Z') ?
		    c->ec_head[i] + ('a' - 'A') : c->ec_head[i];
	low[head_len] = '\0';
	if (strncmp(low, "get ", 4) != 0) {
		http_error(c, "405 Method Not Allowed");
		return;
	}
	e = strstr(low, "\r\n");
	if (e == NULL || memmem(low, (size_t)(e - low), "eio=4", 5) == NULL ||
	    memmem(low, (size_t)(e - low), "transport=websocket", 19) == NULL) {
		http_error(c, "400 Bad Request");
		return;
	}
	if ((k = strstr(low, HDR_KEY)) == NULL) {
		http_error(c, "400 Bad Request");
		return;
	}
	/* Back to the original case: the key is base64. */
	k = c->ec_head + (k - low) + STRLEN(HDR_KEY);
	while (*k == ' ' || *k == '\t')
		k++;
	e = k;
	while (*e != '\r' && *e != ' ' && *e != '\t')
		e++;
	if (ws_accept_key(k, (size_t)(e - k), accept) == -1) {
		http_error(c, "400 Bad Request");
		return;
	}
	n = snprintf(resp, sizeof(resp), "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
	conn_write(c, resp, (size_t)n);

	c->ec_state = ST_WS;
	ws_parser_init(&c->ec_ws, EP_MAX_PAYLOAD);
	snprintf(c->ec_sid, sizeof(c->ec_sid), "ep%018llu",
	    (unsigned long long)++sid_counter);
	xasprintf(&open, EIO_OPEN_FMT, c->ec_sid);
	conn_send_text(c, open, strlen(open));
	free(open);

	/* Frames that came with the head; then the head is not needed. */
	rest = c->ec_head_len - head_len;
	if (rest > 0)
		conn_ws_input(c, (unsigned char *)c->ec_head + head_len, rest);
	free(c->ec_head);
	c->ec_head = NULL;
	c->ec_head_len = 0;
}

static void
conn_readable(struct ep_conn *c)
{
	unsigned char	 buf[EP_READ_CHUNK];
	ssize_t		 n;
	char		*end;

	while (!c->ec_dead) {
		n = read(c->ec_fd, buf, sizeof(buf));
		if (n == -1) {
			if (errno == EAGAIN)
				return;
			if (errno == EINTR)
				continue;
			conn_kill(c);
			return;
		}
		if (n == 0) {
			conn_kill(c);
			return;
		}
		if (c->ec_state == ST_WS) {
			conn_ws_input(c, buf, (size_t)n);
			continue;
		}
		if (c->ec_head_len + (size_t)n > EP_HEAD_MAX) {
			http_error(c, "431 Request Header Fields Too Large");
			return;
		}
		memcpy(c->ec_head + c->ec_head_len, buf, (size_t)n);
		c->ec_head_len += (size_t)n;
		c->ec_head[c->ec_head_len] = '\0';
		if ((end = strstr(c->ec_head, "\r\n\r\n")) != NULL)
			conn_upgrade(c, (size_t)(end - c->ec_head) + 4);
	}
}

static void
do_accept(int lfd)
{
	struct ep_conn	*c;
	int		 fd, one = 1;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				return;
			if (errno == EMFILE || errno == ENFILE) {
				log_warn("accept");
				return;
			}
			fatal("accept4");
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = xcalloc(1, sizeof(*c));
		c->ec_fd = fd;
		c->ec_state = ST_HTTP;
		c->ec_head = xmalloc(EP_HEAD_MAX + 1);
		ep_ctl(EPOLL_CTL_ADD, c, EPOLLIN);
	}
}

static int
listen_on(const char *address, int port)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			fd, one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, address, &sin.sin_addr) != 1)
		fatalx("bad address %s", address);
	if ((ntohl(sin.sin_addr.s_addr) >> 24) != IN_LOOPBACKNET)
		fatalx("%s is not a loopback address", address);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		fatal("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		fatal("bind %s:%d", address, port);
	if (listen(fd, EP_BACKLOG) == -1)
		fatal("listen");
	if (getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		fatal("getsockname");
	printf("LISTENING %d\n", ntohs(sin.sin_port));
	fflush(stdout);
	return (fd);
}

int
main(int argc, char *argv[])
{
	struct epoll_event	 evs[EP_EVENTS], lev;
	struct sigaction	 sa;
	struct rlimit		 rl;
	const char		*address = EP_ADDRESS_DEFAULT;
	char			*end;
	long			 port = 0;
	int			 ch, lfd, n, i;

	log_init(1, 0);
	log_settag("epollsrv");
	while ((ch = getopt(argc, argv, "a:hp:")) != -1) {
		switch (ch) {
		case 'a':
			address = optarg;
			break;
		case 'h':
			usage(0);
		case 'p':
			port = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || port < 0 ||
			    port > 65535)
				fatalx("-p: bad port %s", optarg);
			break;
		default:
			usage(1);
		}
	}
	if (optind != argc)
		usage(1);

	/* Many connections: take every descriptor allowed. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: epoll_wait returns */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((ep_fd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1");
	lfd = listen_on(address, (int)port);
	memset(&lev, 0, sizeof(lev));
	lev.events = EPOLLIN;
	lev.data.ptr = NULL;		/* NULL: the listener */
	if (epoll_ctl(ep_fd, EPOLL_CTL_ADD, lfd, &lev) == -1)
		fatal("epoll_ctl");

	while (!quit) {
		n = epoll_wait(ep_fd, evs, EP_EVENTS, -1);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fatal("epoll_wait");
		}
		for (i = 0; i < n; i++) {
			struct ep_conn *c = evs[i].data.ptr;

			if (c == NULL) {
				do_accept(lfd);
				continue;
			}
			if (c->ec_dead)
				continue;
			if (evs[i].events & EPOLLOUT)
				conn_flush(c);
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				conn_readable(c);
		}
		reap();
	}
	return (0);
}
