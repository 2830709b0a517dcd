/*
 * conn.c: HTTP/1.1 connections in a worker.  See conn.h.
 *
 * A connection is a small state machine driven by its read and write
 * callbacks (its own for a plain socket, a bufferevent's for TLS) and one
 * timer:
 *
 *	IDLE --bytes--> HEAD --head--> BODY --body--> route --> IDLE ...
 *
 * The timer is re-armed on every transition: keepalive_timeout while
 * idle, header_timeout for the whole head (a slowloris client sending a
 * byte now and then gains nothing), body_timeout for the body, and
 * header_timeout again for flushing the last response before a close.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <linux/sockios.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "conf.h"
#include "conn.h"
#include "stats.h"
#include "handoff.h"
#include "host.h"
#include "http.h"
#include "log.h"
#include "tls.h"
#include "util.h"
#include "xmalloc.h"

/* c_io bits */
#define CONN_IO_READING	0x01	/* the socket is in the host's epoll set */
#define CONN_IO_NOREAD	0x02	/* reading is off (closing) */
#define CONN_IO_FLUSH	0x04	/* on the host's flush queue */
#define CONN_IO_LATER	0x08	/* on the host's later queue */
#define CONN_IO_DEAD	0x10	/* closed; freed once c_refs is 0 */

/*
 * Ready sockets taken from the host's epoll instance per turn of the
 * loop at most; more stay ready for the next turn.
 */
#define CONN_EPOLL_BATCH	256

static void	conn_bev_read_cb(struct bufferevent *, void *);
static void	conn_bev_write_cb(struct bufferevent *, void *);
static void	conn_bev_event_cb(struct bufferevent *, short, void *);
static void	conn_read_cb(evutil_socket_t, short, void *);
static void	conn_unref(struct conn *);
static void	conn_write_cb(evutil_socket_t, short, void *);
static void	conn_timer_cb(evutil_socket_t, short, void *);
static void	conn_readable(struct conn *);
static void	conn_drained(struct conn *);
static void	conn_process(struct conn *);
static void	conn_finish(struct conn *);

/*
 * Lifetime.  Whatever may run code on a conn (one of its callbacks, a
 * place on a host queue) holds a reference; conn_close does everything a
 * close does at once but frees the memory only when the last reference
 * goes, so that nothing below it on the stack sees freed memory.
 */
static void
conn_ref(struct conn *c)
{
	if (c->c_refs == UINT8_MAX)
		fatalx("conn: reference count overflow");
	c->c_refs++;
}

/* An empty buffer, from the host's spares if it has one. */
static struct evbuffer *
conn_buffer_get(struct conn_host *h)
{
	struct evbuffer *b;

	if (h->ch_nspare > 0)
		return (h->ch_spare[--h->ch_nspare]);
	if ((b = evbuffer_new()) == NULL)
		fatalx("conn: cannot create a buffer");
	return (b);
}

/* Give back a buffer: kept as a spare when empty and there is room. */
static void
conn_buffer_put(struct conn_host *h, struct evbuffer *b)
{
	if (evbuffer_get_length(b) == 0 && h->ch_nspare < HOST_SPARE_BUFFERS)
		h->ch_spare[h->ch_nspare++] = b;
	else
		evbuffer_free(b);
}

static void
conn_free(struct conn *c)
{
	if (c->c_timer != NULL)
		event_free(c->c_timer);
	if (c->c_wev != NULL)
		event_free(c->c_wev);
	if (c->c_in != NULL)
		conn_buffer_put(c->c_host, c->c_in);
	if (c->c_out != NULL)
		conn_buffer_put(c->c_host, c->c_out);
	if (c->c_addr.ca_family == AF_UNIX)
		free(c->c_addr.ca_u.cau_text);
	free(c);
}

void
conn_host_done(struct conn_host *h)
{
	while (h->ch_nspare > 0)
		evbuffer_free(h->ch_spare[--h->ch_nspare]);
	if (h->ch_flush_ev != NULL)
		event_free(h->ch_flush_ev);
	if (h->ch_later_ev != NULL)
		event_free(h->ch_later_ev);
	h->ch_flush_ev = h->ch_later_ev = NULL;
	if (h->ch_epoll_ev != NULL)
		event_free(h->ch_epoll_ev);
	h->ch_epoll_ev = NULL;
	if (h->ch_epfd != -1)
		close(h->ch_epfd);
	h->ch_epfd = -1;
}

/*
 * Plain connections' input.  Their sockets sit in one epoll instance of
 * the host, level-triggered, data.ptr the conn, and libevent watches only
 * that instance: a connection costs an epoll entry instead of a struct
 * event, libevent's map entry and an entry in libevent's own epoll set.
 *
 * Every conn of a batch is held (a reference) before any of them runs:
 * one connection's callback may close another of the same batch (a
 * broadcast dropping a slow reader), which is then skipped, never read
 * through freed memory.  One whose reading was turned off meanwhile is
 * skipped too, as libevent skips an event deleted while it is active.
 * A full batch leaves the instance readable, so the rest waits for the
 * next turn of the loop like every other event.
 */
static void
conn_epoll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct epoll_event	 evs[CONN_EPOLL_BATCH];
	struct conn		*c;
	int			 i, n;

	(void)what;
	(void)arg;
	if ((n = epoll_wait(fd, evs, CONN_EPOLL_BATCH, 0)) == -1) {
		if (errno == EINTR)
			return;
		fatal("conn: epoll_wait");
	}
	for (i = 0; i < n; i++)
		conn_ref(evs[i].data.ptr);
	for (i = 0; i < n; i++) {
		c = evs[i].data.ptr;
		if (!(c->c_io & (CONN_IO_DEAD | CONN_IO_NOREAD)))
			conn_read_cb(c->c_fd, EV_READ, c);
		conn_unref(c);
	}
}

/*
 * The host's epoll instance and its event, made with the first plain
 * connection so that a failure costs that connection, not the worker.
 */
static int
conn_epoll_open(struct conn_host *h)
{
	int fd;

	if (h->ch_epfd != -1)
		return (0);
	if ((fd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		log_warn("conn: epoll_create1");
		return (-1);
	}
	if ((h->ch_epoll_ev = event_new(h->ch_base, fd, EV_READ | EV_PERSIST,
	    conn_epoll_cb, h)) == NULL || event_add(h->ch_epoll_ev, NULL) == -1) {
		log_warnx("conn: cannot watch the epoll instance");
		if (h->ch_epoll_ev != NULL)
			event_free(h->ch_epoll_ev);
		h->ch_epoll_ev = NULL;
		close(fd);
		return (-1);
	}
	h->ch_epfd = fd;
	return (0);
}

/* Put a plain connection's socket in the host's epoll set, or take it out. */
static void
conn_epoll_ctl(struct conn *c, int op)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = c;
	if (epoll_ctl(c->c_host->ch_epfd, op, c->c_fd, &ev) == -1) {
		/* As a failed event_add was: the worker cannot go on reading. */
		if (op == EPOLL_CTL_ADD)
			fatal("conn: epoll_ctl");
		log_warn("%s: epoll_ctl", conn_peer(c));
	}
}

/*
 * The input held at most (0: no bound).  HTTP: never more than one
 * complete request can take, the largest head plus the largest body, so
 * that TCP pushes back on a client that sends ahead.  Taken over: the
 * protocol bounds its own messages; a message and a head's worth.
 * Lingering: what comes is thrown away as it comes.
 */
static size_t
conn_read_bound(const struct conn *c)
{
	const struct conf *conf = c->c_host->ch_conf;

	switch (c->c_state) {
	case CONN_LINGER:
		return (0);
	case CONN_UPGRADED:
		return (conf->c_max_payload + conf->c_max_header_size);
	default:
		return (conf->c_max_header_size + conf->c_max_body_size + 1);
	}
}

/*
 * Watch the socket for input or stop, as the state asks: not once reading
 * is off, nor while the input holds conn_read_bound bytes (TCP then
 * pushes back on the client).  Buffers that emptied are freed.
 */
static void
conn_io_settle(struct conn *c)
{
	size_t	max;
	int	want;

	if (c->c_bev != NULL || (c->c_io & CONN_IO_DEAD))
		return;
	if (c->c_in != NULL && evbuffer_get_length(c->c_in) == 0) {
		conn_buffer_put(c->c_host, c->c_in);
		c->c_in = NULL;
	}
	max = conn_read_bound(c);
	want = !(c->c_io & CONN_IO_NOREAD) &&
	    (max == 0 || conn_input_len(c) < max);
	if (want == !!(c->c_io & CONN_IO_READING))
		return;
	if (want) {
		conn_epoll_ctl(c, EPOLL_CTL_ADD);
		c->c_io |= CONN_IO_READING;
	} else {
		conn_epoll_ctl(c, EPOLL_CTL_DEL);
		c->c_io &= ~CONN_IO_READING;
	}
}

static void
conn_unref(struct conn *c)
{
	if (--c->c_refs > 0)
		return;
	if (c->c_io & CONN_IO_DEAD)
		conn_free(c);
	else
		conn_io_settle(c);
}

static void
conn_read_enable(struct conn *c, int on)
{
	if (c->c_bev != NULL) {
		if (on)
			bufferevent_enable(c->c_bev, EV_READ);
		else
			bufferevent_disable(c->c_bev, EV_READ);
		return;
	}
	if (on)
		c->c_io &= ~CONN_IO_NOREAD;
	else
		c->c_io |= CONN_IO_NOREAD;
	if (c->c_refs == 0)
		conn_io_settle(c);
}

/* Apply the bound of the state the connection is in. */
static void
conn_read_max(struct conn *c)
{
	if (c->c_bev != NULL) {
		bufferevent_setwatermark(c->c_bev, EV_READ, 0,
		    conn_read_bound(c));
		return;
	}
	if (c->c_refs == 0)
		conn_io_settle(c);
}

static int
conn_fd(const struct conn *c)
{
	return (c->c_bev != NULL ? bufferevent_getfd(c->c_bev) : c->c_fd);
}

/*
 * The host's queues.  ch_flush is run by an event made active, so in the
 * same turn of the loop as what queued the output: several additions are
 * written with one system call, and none waits for epoll.  ch_later runs
 * from a zero timeout, after the next poll, so that a client with much
 * input waiting cannot keep the others from their turn.
 */
static void
conn_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn_host	*h = arg;
	struct conn		*c;

	(void)fd;
	(void)what;
	while ((c = STAILQ_FIRST(&h->ch_flush)) != NULL) {
		STAILQ_REMOVE_HEAD(&h->ch_flush, c_flush);
		c->c_io &= ~CONN_IO_FLUSH;
		/* The queue's reference is the callback's now. */
		if (!(c->c_io & CONN_IO_DEAD) && c->c_wev == NULL)
			conn_write_cb(c->c_fd, EV_WRITE, c);
		conn_unref(c);
	}
}

static void
conn_later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn_host	*h = arg;
	struct conn_queue	 q;
	struct conn		*c;

	(void)fd;
	(void)what;
	/* Those queued again from here wait for the next turn. */
	STAILQ_INIT(&q);
	STAILQ_CONCAT(&q, &h->ch_later);
	while ((c = STAILQ_FIRST(&q)) != NULL) {
		STAILQ_REMOVE_HEAD(&q, c_later);
		c->c_io &= ~CONN_IO_LATER;
		if (!(c->c_io & CONN_IO_DEAD))
			conn_readable(c);
		conn_unref(c);
	}
}

static struct event *
conn_host_event(struct conn_host *h, struct event **evp,
    event_callback_fn cb)
{
	if (*evp == NULL && (*evp = event_new(h->ch_base, -1, 0, cb, h)) ==
	    NULL)
		fatalx("conn: cannot create an event");
	return (*evp);
}

/* Write c's output in this turn of the loop. */
static void
conn_flush_soon(struct conn *c)
{
	struct conn_host *h = c->c_host;

	if (c->c_io & (CONN_IO_FLUSH | CONN_IO_DEAD) || c->c_wev != NULL)
		return;
	conn_ref(c);
	c->c_io |= CONN_IO_FLUSH;
	if (STAILQ_EMPTY(&h->ch_flush))
		event_active(conn_host_event(h, &h->ch_flush_ev,
		    conn_flush_cb), 0, 0);
	STAILQ_INSERT_TAIL(&h->ch_flush, c, c_flush);
}

void
conn_read_later(struct conn *c)
{
	static const struct timeval	 now = { 0, 0 };
	struct conn_host		*h = c->c_host;

	if (c->c_bev != NULL) {
		bufferevent_trigger(c->c_bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
		return;
	}
	if (c->c_io & (CONN_IO_LATER | CONN_IO_DEAD))
		return;
	conn_ref(c);
	c->c_io |= CONN_IO_LATER;
	if (STAILQ_EMPTY(&h->ch_later))
		evtimer_add(conn_host_event(h, &h->ch_later_ev, conn_later_cb),
		    &now);
	STAILQ_INSERT_TAIL(&h->ch_later, c, c_later);
}

struct event_base *
conn_base(const struct conn *c)
{
	return (c->c_host->ch_base);
}

/*
 * The timer exists only while it runs: a held long-poll or a websocket
 * (whose protocols keep their own time) holds no struct event here.
 */
static void
conn_timer_set(struct conn *c, int64_t ms)
{
	struct timeval tv;

	if (ms <= 0) {
		if (c->c_timer != NULL) {
			event_free(c->c_timer);
			c->c_timer = NULL;
		}
		return;
	}
	if (c->c_timer == NULL &&
	    (c->c_timer = evtimer_new(c->c_host->ch_base, conn_timer_cb, c)) ==
	    NULL)
		fatalx("conn: cannot create a timer");
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(c->c_timer, &tv);
}

/* The /metrics gauge of what a connection in this state is doing. */
static enum stats_gauge
conn_state_gauge(enum conn_state state)
{
	switch (state) {
	case CONN_BUSY:
		return (STAT_G_CONN_HELD);
	case CONN_UPGRADED:
		return (STAT_G_CONN_WEBSOCKET);
	default:
		return (STAT_G_CONN_HTTP);
	}
}

static void
conn_set_state(struct conn *c, enum conn_state state)
{
	const struct conf *conf = c->c_host->ch_conf;

	if (conn_state_gauge(c->c_state) != conn_state_gauge(state)) {
		stats_gauge_add(conn_state_gauge(c->c_state), -1);
		stats_gauge_add(conn_state_gauge(state), 1);
	}
	c->c_state = state;
	switch (state) {
	case CONN_IDLE:
		http_parser_init(&c->c_parser);
		conn_timer_set(c, conf->c_keepalive_timeout);
		break;
	case CONN_HEAD:
	case CONN_CLOSING:
		conn_timer_set(c, conf->c_header_timeout);
		break;
	case CONN_LINGER:
		conn_timer_set(c, CONN_LINGER_MS);
		break;
	case CONN_BODY:
		conn_timer_set(c, conf->c_body_timeout);
		break;
	case CONN_BUSY:
	case CONN_UPGRADED:
		conn_timer_set(c, 0);
		break;
	}
}

/* Keep sa's address and port, or text for a socketpair's peer. */
static void
conn_addr_set(struct conn_addr *ca, const struct sockaddr *sa,
    const char *text)
{
	if (ca->ca_family == AF_UNIX)
		free(ca->ca_u.cau_text);
	memset(ca, 0, sizeof(*ca));
	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		ca->ca_u.cau_v4 = sin->sin_addr;
		ca->ca_port = ntohs(sin->sin_port);
		ca->ca_family = AF_INET;
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		ca->ca_u.cau_v6 = sin6->sin6_addr;
		ca->ca_port = ntohs(sin6->sin6_port);
		ca->ca_family = AF_INET6;
		break;
	}
	default:
		ca->ca_u.cau_text = xstrdup(text != NULL ? text : "(local)");
		ca->ca_family = AF_UNIX;
		break;
	}
}

const char *
conn_peer(const struct conn *c)
{
	static _Thread_local char	 ring[CONN_PEER_RING][CONN_PEER_MAX];
	static _Thread_local unsigned	 next;
	const struct conn_addr		*ca = &c->c_addr;
	struct sockaddr_storage		 ss;
	struct sockaddr_in		*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6		*sin6 = (struct sockaddr_in6 *)&ss;
	char				*buf;

	if (ca->ca_family == AF_UNIX)
		return (ca->ca_u.cau_text);
	memset(&ss, 0, sizeof(ss));
	if (ca->ca_family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_addr = ca->ca_u.cau_v4;
		sin->sin_port = htons(ca->ca_port);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = ca->ca_u.cau_v6;
		sin6->sin6_port = htons(ca->ca_port);
	}
	buf = ring[next++ % CONN_PEER_RING];
	return (addr_format((struct sockaddr *)&ss, buf, CONN_PEER_MAX));
}

static struct conn *
conn_new(struct conn_host *h, const struct conn_site *site, int fd,
    const struct sockaddr *sa, SSL_CTX *tls)
{
	struct conn	*c;
	char		 peer[CONN_PEER_MAX];

	if (tls != NULL) {
		c = xcalloc(1, sizeof(*c));
		c->c_fd = -1;
		/*
		 * The handshake runs under header_timeout, as the head
		 * does.  fd is closed on failure.
		 */
		if ((c->c_bev = tls_bufferevent_new(h->ch_base, fd, tls)) == NULL) {
			log_warnx("%s: cannot create a TLS bufferevent",
			    addr_format(sa, peer, sizeof(peer)));
			free(c);
			return (NULL);
		}
		bufferevent_setcb(c->c_bev, conn_bev_read_cb, conn_bev_write_cb,
		    conn_bev_event_cb, c);
		bufferevent_enable(c->c_bev, EV_READ | EV_WRITE);
	} else {
		if (conn_epoll_open(h) == -1) {
			log_warnx("%s: cannot watch the connection",
			    addr_format(sa, peer, sizeof(peer)));
			close(fd);
			return (NULL);
		}
		c = xcalloc(1, sizeof(*c));
		c->c_fd = fd;
	}
	conn_addr_set(&c->c_addr, sa, NULL);
	c->c_host = h;
	c->c_site = site;
	TAILQ_INSERT_TAIL(&h->ch_conns, c, c_entry);
	host_conn_opened(h);
	stats_gauge_add(conn_state_gauge(c->c_state), 1);
	/* The first request gets header_timeout from the accept on. */
	conn_set_state(c, CONN_IDLE);
	conn_set_state(c, CONN_HEAD);
	conn_read_max(c);
	return (c);
}

void
conn_accept(struct conn_host *h, const struct conn_site *site, int fd,
    const struct sockaddr *sa, int socklen, SSL_CTX *tls)
{
	struct conn	*c;
	int		 one = 1;

	(void)socklen;
	/*
	 * Messages are written as they come, each a small segment: Nagle's
	 * algorithm would hold one back until the last is acknowledged, which
	 * the client's delayed ACK turns into tens of milliseconds.
	 */
	if ((sa->sa_family == AF_INET || sa->sa_family == AF_INET6) &&
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1)
		log_debug("TCP_NODELAY: %s", strerror(errno));
	if ((c = conn_new(h, site, fd, sa, tls)) == NULL)
		return;
	log_debug("%s: connected (%s%s)", conn_peer(c), site->cs_name,
	    tls != NULL ? ", TLS" : "");
}

void
conn_adopt(struct conn_host *h, const struct conn_site *site, int fd,
    const char *peer, const void *bytes, size_t len)
{
	struct sockaddr_storage	ss;
	socklen_t		sslen = sizeof(ss);
	struct conn		*c;

	memset(&ss, 0, sizeof(ss));
	if (getpeername(fd, (struct sockaddr *)&ss, &sslen) == -1) {
		/* The client left while the connection was in transit. */
		close(fd);
		return;
	}
	if (fd_nonblock(fd) == -1) {
		close(fd);
		return;
	}
	/* conn_new closes fd itself when it fails. */
	if ((c = conn_new(h, site, fd, (struct sockaddr *)&ss, NULL)) == NULL)
		return;
	/*
	 * A socketpair: a TLS client relayed by the worker that accepted
	 * it, or a request forwarded from another node through Redis.
	 */
	if (ss.ss_family == AF_UNIX)
		conn_addr_set(&c->c_addr, (struct sockaddr *)&ss,
		    peer != NULL ? peer : "(relayed)");
	log_debug("%s: handed over with %zu bytes", conn_peer(c), len);
	if (len > 0 && evbuffer_add(conn_input(c), bytes, len) == -1) {
		log_warnx("%s: cannot take the bytes handed over", conn_peer(c));
		conn_close(c);
		return;
	}
	/* From the loop, as if the bytes had just been read. */
	conn_read_later(c);
}

struct evbuffer *
conn_output(struct conn *c)
{
	if (c->c_bev != NULL)
		return (bufferevent_get_output(c->c_bev));
	if (c->c_out == NULL)
		c->c_out = conn_buffer_get(c->c_host);
	conn_flush_soon(c);
	return (c->c_out);
}

size_t
conn_output_len(const struct conn *c)
{
	if (c->c_bev != NULL)
		return (evbuffer_get_length(bufferevent_get_output(c->c_bev)));
	return (c->c_out != NULL ? evbuffer_get_length(c->c_out) : 0);
}

struct evbuffer *
conn_input(struct conn *c)
{
	if (c->c_bev != NULL)
		return (bufferevent_get_input(c->c_bev));
	if (c->c_in == NULL)
		c->c_in = conn_buffer_get(c->c_host);
	return (c->c_in);
}

size_t
conn_input_len(const struct conn *c)
{
	if (c->c_bev != NULL)
		return (evbuffer_get_length(bufferevent_get_input(c->c_bev)));
	return (c->c_in != NULL ? evbuffer_get_length(c->c_in) : 0);
}

int
conn_keepalive(const struct conn *c)
{
	return (c->c_keepalive);
}

void
conn_hold(struct conn *c, const struct conn_proto *proto, void *arg)
{
	c->c_proto = proto;
	c->c_proto_arg = arg;
	conn_set_state(c, CONN_BUSY);
}

void
conn_watch(struct conn *c, const struct conn_proto *proto, void *arg)
{
	c->c_proto = proto;
	c->c_proto_arg = arg;
}

void
conn_unhold(struct conn *c)
{
	c->c_proto = NULL;
	c->c_proto_arg = NULL;
}

void *
conn_watcher(const struct conn *c, const struct conn_proto *proto)
{
	return (c->c_proto == proto ? c->c_proto_arg : NULL);
}

/* The held request was answered: go on with the connection. */
void
conn_release(struct conn *c)
{
	c->c_proto = NULL;
	c->c_proto_arg = NULL;
	if (!c->c_keepalive) {
		conn_finish(c);
		return;
	}
	conn_set_state(c, CONN_IDLE);
	/*
	 * Pipelined requests go on from the loop: the caller may be deep in
	 * a broadcast, which a new request must not re-enter.
	 */
	conn_read_later(c);
}

ssize_t
conn_write_direct(struct conn *c, const struct iovec *iov, int n)
{
	struct msghdr	mh;
	ssize_t		r;

	/*
	 * Only a plain socket whose output is empty: anything queued must
	 * go first, and TLS writes through its own buffers.
	 */
	if (c->c_state != CONN_UPGRADED || c->c_bev != NULL ||
	    (c->c_io & CONN_IO_DEAD) || conn_output_len(c) > 0)
		return (0);
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = (struct iovec *)(uintptr_t)iov;
	mh.msg_iovlen = (size_t)n;
	r = sendmsg(c->c_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	/* Full, or broken: the output takes it, and its write says which. */
	if (r == -1)
		return (0);
	return (r);
}

size_t
conn_kernel_queued(struct conn *c)
{
	int n;

	if (c->c_bev != NULL || c->c_fd == -1 ||
	    ioctl(c->c_fd, SIOCOUTQ, &n) == -1 || n < 0)
		return (0);
	return ((size_t)n);
}

void
conn_takeover(struct conn *c, const struct conn_proto *proto, void *arg)
{
		c->c_proto = proto;
	c->c_proto_arg = arg;
	conn_set_state(c, CONN_UPGRADED);
	conn_read_max(c);
}

/*
 * conn_handoff of a TLS connection: the worker of slot gets one end of a
 * socketpair, and this one relays between the client and the other end.
 */
static int
conn_handoff_tls(struct conn *c, struct handoff *h, int slot, const void *bytes,
    size_t len)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1) {
		log_warn("%s: socketpair for handoff", conn_peer(c));
		return (-1);
	}
	if (handoff_send(h, slot, sv[1], conn_peer(c), bytes, len) == -1) {
		close(sv[0]);
		close(sv[1]);
		return (-1);
	}
	stats_inc(STAT_HANDOFFS);
	log_debug("%s: handed over to slot %d through a relay", conn_peer(c), slot);
	evbuffer_drain(bufferevent_get_input(c->c_bev), len);
	tls_relay(c->c_host, c->c_bev, sv[0], conn_peer(c));
	/* The bufferevent is the relay's now. */
	c->c_bev = NULL;
	c->c_proto = NULL;
	conn_close(c);
	return (0);
}

int
conn_handoff(struct conn *c, int slot)
{
	return (conn_handoff_via(c, c->c_host->ch_handoff, slot));
}

int
conn_handoff_via(struct conn *c, struct handoff *h, int slot)
{
	size_t		 len = conn_input_len(c);
	unsigned char	*bytes;
	int		 fd;

	if (h == NULL || len > HANDOFF_BYTES_MAX)
		return (-1);
	bytes = len > 0 ? evbuffer_pullup(conn_input(c), -1) : NULL;
	if (c->c_bev != NULL)
		return (conn_handoff_tls(c, h, slot, bytes, len));
	if ((fd = dup(c->c_fd)) == -1) {
		log_warn("%s: dup for handoff", conn_peer(c));
		return (-1);
	}
	if (handoff_send(h, slot, fd, NULL, bytes, len) == -1) {
		close(fd);
		return (-1);
	}
	stats_inc(STAT_HANDOFFS);
	log_debug("%s: handed over to slot %d", conn_peer(c), slot);
	/* Our descriptor goes; the socket lives on in the other worker. */
	c->c_proto = NULL;
	conn_close(c);
	return (0);
}

void
conn_close(struct conn *c)
{
	struct conn_host	*h = c->c_host;
	const struct conn_proto	*proto = c->c_proto;

	if (c->c_io & CONN_IO_DEAD)
		return;
	/* Whoever holds the connection hears of its end, once. */
	c->c_proto = NULL;
	if (proto != NULL && proto->cp_closed != NULL)
		proto->cp_closed(c, c->c_proto_arg);
	log_debug("%s: closed after %" PRIu32 " requests", conn_peer(c),
	    c->c_nrequests);
	stats_gauge_add(conn_state_gauge(c->c_state), -1);
	TAILQ_REMOVE(&h->ch_conns, c, c_entry);
	c->c_io |= CONN_IO_DEAD;
	if (c->c_timer != NULL) {
		event_free(c->c_timer);
		c->c_timer = NULL;
	}
	if (c->c_bev != NULL) {
		tls_close_notify(c->c_bev);
		bufferevent_free(c->c_bev);
		c->c_bev = NULL;
	}
	if (c->c_fd != -1) {
		/*
		 * Out of the epoll set before close(): a socket handed to
		 * another worker stays open there (conn_handoff_via sent a
		 * dup), and epoll would go on reporting it with this conn,
		 * freed, as its data.
		 */
		if (c->c_io & CONN_IO_READING)
			conn_epoll_ctl(c, EPOLL_CTL_DEL);
		c->c_io &= ~CONN_IO_READING;
		if (c->c_wev != NULL) {
			event_free(c->c_wev);
			c->c_wev = NULL;
		}
		close(c->c_fd);
		c->c_fd = -1;
	}
	/* Callers below us on the stack may still look at it, and its buffers. */
	if (c->c_refs == 0)
		conn_free(c);
	host_conn_closed(h);
}

/* The output is written: shut down our side and let the client finish. */
static void
conn_linger(struct conn *c)
{
	int fd = conn_fd(c);

	/* TLS says goodbye inside the stream, before TCP's FIN. */
	if (c->c_bev != NULL)
		tls_close_notify(c->c_bev);
	if (fd == -1 || shutdown(fd, SHUT_WR) == -1) {
		conn_close(c);
		return;
	}
	if (conn_input_len(c) > 0)
		evbuffer_drain(conn_input(c), conn_input_len(c));
	conn_set_state(c, CONN_LINGER);
	conn_read_max(c);
	conn_read_enable(c, 1);
}

/* Close once the output has been written (or header_timeout passed). */
static void
conn_finish(struct conn *c)
{
	conn_read_enable(c, 0);
	conn_set_state(c, CONN_CLOSING);
	if (conn_output_len(c) == 0)
		conn_linger(c);
}

void
conn_close_after_write(struct conn *c)
{
	c->c_proto = NULL;
	conn_finish(c);
}

void
conn_abort(struct conn *c)
{
	struct linger	l = { 1, 0 };
	int		fd = conn_fd(c);

	/* SO_LINGER with a zero timeout makes close(2) send a reset. */
	if (fd != -1 && setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) == -1)
		log_debug("%s: SO_LINGER: %s", conn_peer(c), strerror(errno));
	/* No close_notify either: a reset says it all. */
	if (c->c_bev != NULL)
		tls_quiet(c->c_bev);
	c->c_proto = NULL;
	conn_close(c);
}

/*
 * An answer of the HTTP core (404, 405, 408, 413, ...): in the site's own
 * form when it has one (the admin API answers JSON), else as text.
 */
static void
conn_answer_error(struct conn *c, int status, const char *extra, int keepalive)
{
	const char	*reason = http_reason(status);
	char		 body[128];
	int		 n;

	if (c->c_site->cs_error != NULL) {
		c->c_site->cs_error(c, status, reason, extra, keepalive);
		return;
	}
	n = snprintf(body, sizeof(body), "%d %s\n", status, reason);
	http_response(conn_output(c), status,
	    "text/plain; charset=utf-8", extra, body, (size_t)n, keepalive);
}

/* Refuse the current request with status and close the connection. */
static void
conn_error(struct conn *c, int status)
{
	log_info("%s: request refused with %d %s", conn_peer(c), status,
	    http_reason(status));
	conn_answer_error(c, status, NULL, 0);
	conn_finish(c);
}

void
conn_stop_all(struct conn_host *h)
{
	struct conn *c, *next;

	/*
	 * Idle connections are closed now; the others finish the request
	 * in progress, answered with Connection: close (w_stopping).
	 */
	for (c = TAILQ_FIRST(&h->ch_conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, c_entry);
		if (c->c_state == CONN_IDLE ||
		    (c->c_state == CONN_HEAD && conn_input_len(c) == 0))
			conn_close(c);
	}
}

void
conn_site_add(struct conn_site *site, const struct conn_route *r)
{
	if (site->cs_nroutes >= CONN_SITE_ROUTES_MAX)
		fatalx("conn: more than %d routes on the %s site",
		    CONN_SITE_ROUTES_MAX, site->cs_name);
	site->cs_routes[site->cs_nroutes++] = *r;
}

const struct conn_route *
conn_site_find(const struct conn_site *site, const struct http_request *req)
{
	const struct conn_route	*r;
	size_t			 i;

	for (i = 0; i < site->cs_nroutes; i++) {
		r = &site->cs_routes[i];
		if (r->cr_match != NULL ? r->cr_match(r->cr_arg, req) :
		    req->hr_path_len == strlen(r->cr_path) &&
		    memcmp(req->hr_path, r->cr_path, req->hr_path_len) == 0)
			return (r);
	}
	return (NULL);
}

static void
conn_dispatch(struct conn *c, const struct http_request *req, const char *body,
    size_t bodylen)
{
	const struct conn_route	*r = c->c_route;
	char			 allow[96];

	c->c_nrequests++;
	c->c_route = NULL;
	/* A draining worker lets its keep-alive clients go to the new ones. */
	c->c_keepalive = req->hr_keepalive && !c->c_host->ch_closing &&
	    c->c_nrequests < c->c_host->ch_conf->c_keepalive_requests &&
	    c->c_host->ch_conf->c_keepalive_timeout > 0;

	stats_inc(STAT_HTTP_REQUESTS);
	if (r == NULL) {
		conn_answer_error(c, 404, NULL, c->c_keepalive);
		return;
	}
	if (r->cr_methods != 0 &&
	    (r->cr_methods & CONN_METHOD(req->hr_method)) == 0) {
		snprintf(allow, sizeof(allow), "Allow: %s\r\n", r->cr_allow);
		conn_answer_error(c, 405, allow, c->c_keepalive);
		return;
	}
	r->cr_request(r->cr_arg, c, req, body, bodylen);
}

/*
 * Parse and answer as many complete requests as the input holds, in
 * order, while the output stays under CONN_OUTPUT_HIGH.
 */
static void
conn_process(struct conn *c)
{
	struct evbuffer		*in;
	const struct conf	*conf = c->c_host->ch_conf;
	struct http_limits	 limits;
	struct http_request	 req;	/* kilobytes: on the stack only */
	size_t			 avail, want, headlen, pulled;
	unsigned char		*buf;
	int			 n, status;

	limits.hl_max_request_line = conf->c_max_request_line;
	limits.hl_max_header_size = conf->c_max_header_size;
	limits.hl_max_headers = conf->c_max_headers;
	limits.hl_max_body_size = conf->c_max_body_size;

	while (c->c_state == CONN_IDLE || c->c_state == CONN_HEAD ||
	    c->c_state == CONN_BODY) {
		if (conn_output_len(c) > CONN_OUTPUT_HIGH)
			return;	/* conn_drained resumes */
		if ((avail = conn_input_len(c)) == 0)
			return;
		in = conn_input(c);
		pulled = 0;	/* bytes req was parsed from in this turn */
		if (c->c_state == CONN_IDLE)
			conn_set_state(c, CONN_HEAD);
		if (c->c_state == CONN_HEAD) {
			/* One byte past the limit is enough to know it is over. */
			want = avail < conf->c_max_header_size + 1 ? avail :
			    conf->c_max_header_size + 1;
			buf = evbuffer_pullup(in, (ev_ssize_t)want);
			pulled = want;
			n = http_parse_head(&c->c_parser, &limits, (char *)buf,
			    want, &req, &status);
			if (n == HTTP_PARSE_ERROR) {
				conn_error(c, status);
				return;
			}
			if (n == HTTP_PARSE_MORE)
				return;
			c->c_route = conn_site_find(c->c_site, &req);
			if (c->c_route != NULL && c->c_route->cr_head != NULL) {
				/*
				 * The route may move the connection to another
				 * process, which needs the output flushed
				 * first: wait for the drain.
				 */
				if (c->c_route->cr_flush &&
				    conn_output_len(c) > 0) {
					http_parser_init(&c->c_parser);
					return;
				}
				if (c->c_route->cr_head(c->c_route->cr_arg, c,
				    &req) == CONN_HEAD_DONE)
					return;
			}
			/* The parser held both to their limits (conf.c). */
			c->c_headlen = (uint32_t)req.hr_head_len;
			c->c_bodylen = req.hr_content_length > 0 ?
			    (uint32_t)req.hr_content_length : 0;
			conn_set_state(c, CONN_BODY);
		}
		/* CONN_BODY: the head is parsed; wait for all of the body. */
		headlen = c->c_headlen;
		want = headlen + c->c_bodylen;
		if (avail < want)
			return;
		buf = evbuffer_pullup(in, (ev_ssize_t)want);
		/*
		 * hr_* point into the pulled-up input.  When the whole request
		 * was already contiguous for the head's parse (no body, or a
		 * small one read with it), the pullup moved nothing and req
		 * stands; otherwise parse the head again where it is now.
		 */
		if (want > pulled) {
			http_parser_init(&c->c_parser);
			if (http_parse_head(&c->c_parser, &limits, (char *)buf,
			    headlen, &req, &status) <= 0) {
				conn_error(c, 500);
				return;
			}
		}
		conn_dispatch(c, &req, (char *)buf + headlen, want - headlen);
		evbuffer_drain(in, want);
		if ((c->c_io & CONN_IO_DEAD) || c->c_state == CONN_BUSY ||
		    c->c_state == CONN_CLOSING || c->c_state == CONN_LINGER)
			return;
		if (c->c_state == CONN_UPGRADED) {
			/* Frames may have come right behind the upgrade request. */
			if (conn_input_len(c) > 0)
				c->c_proto->cp_read(c, c->c_proto_arg);
			return;
		}
		if (!c->c_keepalive) {
			conn_finish(c);
			return;
		}
		conn_set_state(c, CONN_IDLE);
	}
}

/* Input arrived (or is still there): whoever reads it now gets it. */
static void
conn_readable(struct conn *c)
{
	size_t n;

	if (c->c_state == CONN_UPGRADED) {
		c->c_proto->cp_read(c, c->c_proto_arg);
		return;
	}
	if (c->c_state == CONN_LINGER) {
		if ((n = conn_input_len(c)) > 0)
			evbuffer_drain(conn_input(c), n);
		c->c_lingered += n;
		if (c->c_lingered > CONN_LINGER_MAX)
			conn_close(c);
		return;
	}
	conn_process(c);
}

/* The output is all written. */
static void
conn_drained(struct conn *c)
{
	switch (c->c_state) {
	case CONN_CLOSING:
		conn_linger(c);
		return;
	case CONN_LINGER:
		return;
	case CONN_UPGRADED:
	case CONN_BUSY:
		if (c->c_proto != NULL && c->c_proto->cp_drained != NULL)
			c->c_proto->cp_drained(c, c->c_proto_arg);
		return;
	default:
		/* Output drained: pipelined requests may go on. */
		conn_process(c);
	}
}

/* EOF or an error on a plain socket: nothing more can be read or written. */
static void
conn_io_failed(struct conn *c, const char *what, int err)
{
	if (err != 0)
		log_debug("%s: %s: %s", conn_peer(c), what, strerror(err));
	conn_close(c);
}

static void
conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	char		 buf[CONN_READ_MAX];
	size_t		 room = sizeof(buf), held, max;
	ssize_t		 n;

	(void)what;
	conn_ref(c);
	held = conn_input_len(c);
	if ((max = conn_read_bound(c)) > 0)
		room = held >= max ? 0 : max - held < room ? max - held : room;
	/*
	 * Through the stack: the input buffer gets a chain of the size read
	 * (an idle connection's few bytes cost no 16 kB), and no FIONREAD
	 * is asked for first.
	 */
	if (room > 0) {
		n = read(fd, buf, room);
		if (n == 0)
			conn_io_failed(c, "read", 0);
		else if (n == -1 && errno != EAGAIN && errno != EINTR)
			conn_io_failed(c, "read", errno);
		else if (n > 0) {
			if (evbuffer_add(conn_input(c), buf, (size_t)n) == -1)
				fatalx("conn: cannot grow an input buffer");
			conn_readable(c);
		}
	}
	conn_unref(c);
}

/* Write what the output holds; a write event waits while the socket is full. */
static void
conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	int		 n, wrote = 0;

	(void)what;
	conn_ref(c);
	while (c->c_out != NULL && evbuffer_get_length(c->c_out) > 0) {
		if ((n = evbuffer_write(c->c_out, fd)) > 0) {
			wrote = 1;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno != EAGAIN) {
			conn_io_failed(c, "write", errno);
			goto out;
		}
		/* Full: wait until the socket takes more. */
		if (c->c_wev == NULL && ((c->c_wev = event_new(c->c_host->ch_base,
		    fd, EV_WRITE | EV_PERSIST, conn_write_cb, c)) == NULL ||
		    event_add(c->c_wev, NULL) == -1))
			fatalx("conn: cannot create a write event");
		goto out;
	}
	if (c->c_wev != NULL) {
		event_free(c->c_wev);
		c->c_wev = NULL;
	}
	if (c->c_out != NULL) {
		conn_buffer_put(c->c_host, c->c_out);
		c->c_out = NULL;
	}
	/* An output made and left empty says nothing was waiting for it. */
	if (wrote)
		conn_drained(c);
 out:
	conn_unref(c);
}

/* A TLS connection's bufferevent callbacks. */
static void
conn_bev_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	conn_ref(c);
	conn_readable(c);
	conn_unref(c);
}

static void
conn_bev_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	conn_ref(c);
	conn_drained(c);
	conn_unref(c);
}

static void
conn_bev_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	/* A TLS handshake done: the HTTP side has nothing to do with it. */
	if (what & BEV_EVENT_CONNECTED)
		return;
	conn_ref(c);
	/*
	 * OpenSSL's errors (a failed handshake, a plaintext request on a TLS
	 * port) are the client's doing: logged at info; socket errors at debug.
	 */
	if ((what & BEV_EVENT_ERROR) && !tls_failed(bev, conn_peer(c)))
		log_debug("%s: %s", conn_peer(c), strerror(EVUTIL_SOCKET_ERROR()));
	/* EOF or error: nothing more can be read or written. */
	conn_close(c);
	conn_unref(c);
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	conn_ref(c);
	switch (c->c_state) {
	case CONN_IDLE:
		log_debug("%s: keep-alive timeout", conn_peer(c));
		conn_close(c);
		break;
	case CONN_HEAD:
	case CONN_BODY:
		log_info("%s: request timeout (%s)", conn_peer(c),
		    c->c_state == CONN_HEAD ? "head" : "body");
		conn_error(c, 408);
		break;
	case CONN_CLOSING:
		log_info("%s: client does not read its response", conn_peer(c));
		conn_close(c);
		break;
	case CONN_LINGER:
		conn_close(c);
		break;
	case CONN_BUSY:
	case CONN_UPGRADED:
		break;
	}
	conn_unref(c);
}
