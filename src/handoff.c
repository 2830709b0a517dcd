/*
 * handoff.c: connections and messages between the workers of one node.
 * See handoff.h.
 *
 * Lifetime of the descriptors.  The master creates the mesh before it
 * forks a generation and keeps every descriptor of it open until the
 * generation is retired, so that a crashed worker can be respawned with
 * the same channels: its successor inherits the mesh again and calls
 * handoff_worker_new on it.  Because the master holds both ends of every
 * socketpair, the death of a worker is invisible on the sockets: nobody
 * sees EOF, and what was addressed to the dead worker stays queued in the
 * kernel until its successor reads it.  Two consequences shape this file.
 *
 * Handoff to a dead worker.  The datagram (and the client connection in
 * it) waits in the socket until the respawned worker reads it, which then
 * serves the request as usual.  The queue is bounded by the send buffer of
 * the channel (HANDOFF_SOCKBUF); once it is full, handoff_send fails with
 * EAGAIN and returns -1, so the caller answers 503 instead of piling up
 * clients that nobody serves.
 *
 * Bus and worker death.  A byte stream cannot survive a change of worker
 * at one of its ends: a worker that dies half way through writing a frame
 * leaves a partial frame in the stream, and the reader would take the
 * first bytes of the successor's frames as the rest of it (the length it
 * already read says how much to wait for, so no marker can help); a
 * worker that dies half way through reading leaves its successor in the
 * middle of a frame.  The bus links are therefore SOCK_SEQPACKET, like the
 * handoff channels: the kernel delivers every datagram whole or not at
 * all, whoever dies.  A message is cut into fragments of at most
 * BUS_FRAG_MAX bytes, each carrying the message length and its offset, so
 * a reader always knows where it is: a fragment at offset 0 starts a new
 * message (dropping an incomplete one, whose writer died), and fragments
 * that do not continue the message being assembled are skipped until the
 * next one starts (the previous reader of our slot consumed the start and
 * died).  Nothing has to be drained or negotiated when a worker restarts,
 * and a respawned worker may still receive, whole, messages published
 * while its slot was empty; they are broadcasts for rooms in which it has
 * no members yet, which it drops like any other.
 *
 * Datagram formats (integers big-endian):
 *
 *   handoff:  magic "RHOF" | u16 version | u16 0 | u32 length | bytes
 *             and exactly one descriptor in SCM_RIGHTS
 *   bus:      magic "RBUS" | u16 version | u16 0 | u32 message length |
 *             u32 offset of the fragment | fragment bytes
 */
#include "config.h"

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "handoff.h"
#include "log.h"
#include "xmalloc.h"

#define HANDOFF_SLOTS_MAX	1024
#define HANDOFF_MAGIC		0x52484f46u	/* "RHOF" */
#define HANDOFF_VERSION		2	/* 2: the peer after the header */
#define HANDOFF_HDR_LEN		12
#define HANDOFF_DGRAM_MAX	(HANDOFF_HDR_LEN + HANDOFF_BYTES_MAX)
/* Room for several of the largest datagrams (the kernel doubles it). */
#define HANDOFF_SOCKBUF		(1024 * 1024)
/* Datagrams read per wake-up, so that one busy sender cannot starve the loop. */
#define HANDOFF_READ_BATCH	64
/* Descriptors we accept from a malformed datagram to close them ourselves. */
#define HANDOFF_FDS_MAX		8

#define BUS_MAGIC		0x52425553u	/* "RBUS" */
#define BUS_VERSION		1
#define BUS_HDR_LEN		16
#define BUS_FRAG_MAX		(64 * 1024)
#define BUS_DGRAM_MAX		(BUS_HDR_LEN + BUS_FRAG_MAX)
#define BUS_SOCKBUF		(1024 * 1024)
#define BUS_READ_BATCH		64

/*
 * Linux refuses (EMSGSIZE) a datagram larger than the send buffer less a
 * few bytes (32 in unix_dgram_sendmsg); keep a margin so that our own
 * check fails first and says why.
 */
#define SOCK_SLACK		256

_Static_assert(BUS_MSG_MAX <= UINT32_MAX, "bus lengths are 32-bit on the wire");
_Static_assert(HANDOFF_BYTES_MAX <= UINT32_MAX, "handoff lengths are 32-bit");

struct handoff_mesh {
	int		  hm_nslots;
	int		(*hm_chan)[2];	/* [slot]: [0] its reader, [1] the writers */
	int		(*hm_bus)[2];	/* [pair]: [0] lower slot, [1] higher slot */
	size_t		  hm_chan_max;	/* largest datagram every channel takes */
};

/* A published message, shared by the queues of every peer that needs it. */
struct bus_msg {
	size_t		 bm_refs;
	size_t		 bm_len;
	unsigned char	 bm_data[];
};

struct bus_out {
	TAILQ_ENTRY(bus_out)	 bo_entry;
	struct bus_msg		*bo_msg;
	size_t			 bo_off;	/* bytes already sent */
};
TAILQ_HEAD(bus_outq, bus_out);

struct bus_link {
	struct handoff		*bl_h;
	int			 bl_peer;
	int			 bl_fd;		/* -1 once closed */
	struct event		*bl_rev;
	struct event		*bl_wev;
	struct bus_outq		 bl_outq;
	size_t			 bl_queued;	/* unsent bytes in bl_outq */
	int			 bl_over;	/* over the limit: publishes skip it */
	size_t			 bl_skipped;	/* messages skipped while over */
	unsigned char		*bl_in;		/* message being reassembled */
	size_t			 bl_in_len;
	size_t			 bl_in_off;
};

struct handoff {
	struct event_base	*ho_base;
	struct handoff_cbs	 ho_cbs;
	void			*ho_arg;
	int			 ho_nslots;
	int			 ho_slot;
	int			 ho_in;		/* our channel, end [0] */
	struct event		*ho_in_ev;
	unsigned char		*ho_in_buf;	/* HANDOFF_DGRAM_MAX */
	int			*ho_out;	/* [slot]: its channel, end [1] */
	int			*ho_out_full;	/* [slot]: logged that it is full */
	size_t			 ho_out_max;	/* largest datagram they take */
	struct bus_link		*ho_links;	/* [slot]; ours is unused */
	unsigned char		*ho_bus_buf;	/* BUS_DGRAM_MAX */
	size_t			 ho_bus_queue_max;
};

static void	 handoff_read(evutil_socket_t, short, void *);
static void	 bus_read(evutil_socket_t, short, void *);
static void	 bus_flush(evutil_socket_t, short, void *);
static void	 bus_link_close(struct bus_link *);

static void
put_u16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void
put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint16_t
get_u16(const unsigned char *p)
{
	return ((uint16_t)(p[0] << 8 | p[1]));
}

static uint32_t
get_u32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3]);
}

/*
 * Ask for size bytes of buffer with option opt.  The FORCE variant goes
 * past net.core.[rw]mem_max but needs CAP_NET_ADMIN; without it the plain
 * option gives what the sysctl allows, which the caller checks.
 */
static void
sock_setbuf(int fd, int force, int opt, int size)
{
	if (setsockopt(fd, SOL_SOCKET, force, &size, sizeof(size)) == 0)
		return;
	if (setsockopt(fd, SOL_SOCKET, opt, &size, sizeof(size)) == -1)
		log_warn("handoff: setsockopt %s",
		    opt == SO_SNDBUF ? "SO_SNDBUF" : "SO_RCVBUF");
}

/* The largest datagram fd can send, from the send buffer it really got. */
static size_t
sock_dgram_max(int fd)
{
	socklen_t	len = sizeof(int);
	int		size;

	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, &len) == -1) {
		log_warn("handoff: getsockopt SO_SNDBUF");
		return (0);
	}
	if (size <= SOCK_SLACK)
		return (0);
	return ((size_t)size - SOCK_SLACK);
}

static int
fd_dup(int fd)
{
	int	nfd;

	if ((nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1)
		log_warn("handoff: dup of descriptor %d", fd);
	return (nfd);
}

static void
fd_close(int *fd)
{
	if (*fd != -1)
		close(*fd);
	*fd = -1;
}

static size_t
mesh_npairs(int nslots)
{
	return ((size_t)nslots * (size_t)(nslots - 1) / 2);
}

/* The link between slots a and b: index of the pair, and a's end of it. */
static size_t
mesh_pair(int nslots, int a, int b, int *end)
{
	int	lo = a < b ? a : b, hi = a < b ? b : a;

	*end = a == lo ? 0 : 1;
	return ((size_t)lo * (size_t)(2 * nslots - lo - 1) / 2 +
	    (size_t)(hi - lo - 1));
}

static int
mesh_socketpair(int sv[2], int bufsize)
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0, sv) == -1) {
		log_warn("handoff: socketpair");
		return (-1);
	}
	sock_setbuf(sv[0], SO_SNDBUFFORCE, SO_SNDBUF, bufsize);
	sock_setbuf(sv[0], SO_RCVBUFFORCE, SO_RCVBUF, bufsize);
	sock_setbuf(sv[1], SO_SNDBUFFORCE, SO_SNDBUF, bufsize);
	sock_setbuf(sv[1], SO_RCVBUFFORCE, SO_RCVBUF, bufsize);
	return (0);
}

/* A mesh of nslots with no descriptor yet (every one -1). */
static struct handoff_mesh *
mesh_alloc(int nslots)
{
	struct handoff_mesh	*m;
	size_t			 npairs = mesh_npairs(nslots), p;
	int			 i;

	m = xcalloc(1, sizeof(*m));
	m->hm_nslots = nslots;
	m->hm_chan = xcalloc((size_t)nslots, sizeof(*m->hm_chan));
	m->hm_bus = xcalloc(npairs, sizeof(*m->hm_bus));
	for (i = 0; i < nslots; i++)
		m->hm_chan[i][0] = m->hm_chan[i][1] = -1;
	for (p = 0; p < npairs; p++)
		m->hm_bus[p][0] = m->hm_bus[p][1] = -1;
	m->hm_chan_max = HANDOFF_DGRAM_MAX;
	return (m);
}

struct handoff_mesh *
handoff_mesh_new(int nslots)
{
	struct handoff_mesh	*m;
	size_t			 npairs, p, max;
	int			 i, saved;

	if (nslots < 1 || nslots > HANDOFF_SLOTS_MAX) {
		log_warnx("handoff: %d slots (1 to %d)", nslots, HANDOFF_SLOTS_MAX);
		errno = EINVAL;
		return (NULL);
	}
	m = mesh_alloc(nslots);
	npairs = mesh_npairs(nslots);
	for (i = 0; i < nslots; i++) {
		if (mesh_socketpair(m->hm_chan[i], HANDOFF_SOCKBUF) == -1)
			goto bad;
		if ((max = sock_dgram_max(m->hm_chan[i][1])) < m->hm_chan_max)
			m->hm_chan_max = max;
	}
	if (m->hm_chan_max <= HANDOFF_HDR_LEN) {
		log_warnx("handoff: the channels take no datagram");
		errno = ENOBUFS;
		goto bad;
	}
	if (m->hm_chan_max < HANDOFF_DGRAM_MAX)
		log_warnx("handoff: socket buffers are small (net.core.wmem_max?):"
		    " connections with over %zu bytes read cannot be handed off",
		    m->hm_chan_max - HANDOFF_HDR_LEN);

	/* Both ends of a link write, so both need room for a fragment. */
	for (p = 0; p < npairs; p++) {
		if (mesh_socketpair(m->hm_bus[p], BUS_SOCKBUF) == -1)
			goto bad;
		if (sock_dgram_max(m->hm_bus[p][0]) < BUS_DGRAM_MAX ||
		    sock_dgram_max(m->hm_bus[p][1]) < BUS_DGRAM_MAX) {
			log_warnx("bus: socket buffers cannot hold %d bytes",
			    BUS_DGRAM_MAX);
			errno = ENOBUFS;
			goto bad;
		}
	}
	return (m);
 bad:
	saved = errno;
	handoff_mesh_free(m);
	errno = saved;
	return (NULL);
}

struct handoff_mesh *
handoff_mesh_adopt(int nslots, const int *fds)
{
	struct handoff_mesh	*m;
	size_t			 max;
	int			 i;

	if (nslots < 1 || nslots > HANDOFF_SLOTS_MAX)
		return (NULL);
	m = mesh_alloc(nslots);
	for (i = 0; i < nslots; i++) {
		m->hm_chan[i][1] = fds[i];
		if (fcntl(fds[i], F_SETFD, FD_CLOEXEC) == -1) {
			log_warn("handoff: adopted descriptor %d", fds[i]);
			m->hm_chan[i][1] = -1;
			continue;
		}
		if ((max = sock_dgram_max(fds[i])) < m->hm_chan_max)
			m->hm_chan_max = max;
	}
	return (m);
}

/* Close the descriptors of the mesh held by this process. */
static void
mesh_close(struct handoff_mesh *m)
{
	size_t	p;
	int	i;

	for (i = 0; i < m->hm_nslots; i++) {
		fd_close(&m->hm_chan[i][0]);
		fd_close(&m->hm_chan[i][1]);
	}
	for (p = 0; p < mesh_npairs(m->hm_nslots); p++) {
		fd_close(&m->hm_bus[p][0]);
		fd_close(&m->hm_bus[p][1]);
	}
}

void
handoff_mesh_free(struct handoff_mesh *m)
{
	if (m == NULL)
		return;
	mesh_close(m);
	free(m->hm_chan);
	free(m->hm_bus);
	free(m);
}

int
handoff_mesh_slots(const struct handoff_mesh *m)
{
	return (m->hm_nslots);
}

int
handoff_mesh_chan_fd(const struct handoff_mesh *m, int slot)
{
	if (slot < 0 || slot >= m->hm_nslots)
		return (-1);
	return (m->hm_chan[slot][1]);
}

int
handoff_mesh_bus_fd(const struct handoff_mesh *m, int slot, int peer)
{
	size_t	p;
	int	end;

	if (slot < 0 || slot >= m->hm_nslots || peer < 0 ||
	    peer >= m->hm_nslots || slot == peer)
		return (-1);
	p = mesh_pair(m->hm_nslots, slot, peer, &end);
	return (m->hm_bus[p][end]);
}

/*
 * The worker's struct handoff works on duplicates of the descriptors of
 * its slot, so that it owns what it closes whether or not the mesh stays
 * open in the same process (tests) or is closed at once (workers).
 */
struct handoff *
handoff_worker_attach(struct handoff_mesh *m, int slot,
    struct event_base *base, const struct handoff_cbs *cbs, void *arg)
{
	struct handoff	*h;
	struct bus_link	*l;
	size_t		 p;
	int		 i, end;

	if (m == NULL || slot < 0 || slot >= m->hm_nslots) {
		log_warnx("handoff: no slot %d in the mesh", slot);
		errno = EINVAL;
		return (NULL);
	}
	h = xcalloc(1, sizeof(*h));
	h->ho_base = base;
	h->ho_cbs = *cbs;
	h->ho_arg = arg;
	h->ho_nslots = m->hm_nslots;
	h->ho_slot = slot;
	h->ho_in = -1;
	h->ho_in_buf = xmalloc(HANDOFF_DGRAM_MAX);
	h->ho_out = xcalloc((size_t)h->ho_nslots, sizeof(*h->ho_out));
	h->ho_out_full = xcalloc((size_t)h->ho_nslots, sizeof(*h->ho_out_full));
	h->ho_out_max = m->hm_chan_max;
	h->ho_links = xcalloc((size_t)h->ho_nslots, sizeof(*h->ho_links));
	h->ho_bus_buf = xmalloc(BUS_DGRAM_MAX);
	h->ho_bus_queue_max = BUS_QUEUE_MAX;
	for (i = 0; i < h->ho_nslots; i++) {
		h->ho_out[i] = -1;
		l = &h->ho_links[i];
		l->bl_h = h;
		l->bl_peer = i;
		l->bl_fd = -1;
		TAILQ_INIT(&l->bl_outq);
	}

	if ((h->ho_in = fd_dup(m->hm_chan[slot][0])) == -1)
		goto bad;
	h->ho_in_ev = event_new(base, h->ho_in, EV_READ | EV_PERSIST,
	    handoff_read, h);
	if (h->ho_in_ev == NULL || event_add(h->ho_in_ev, NULL) == -1) {
		log_warnx("handoff: cannot watch the channel of slot %d", slot);
		goto bad;
	}
	for (i = 0; i < h->ho_nslots; i++) {
		if (i == slot)
			continue;
		if ((h->ho_out[i] = fd_dup(m->hm_chan[i][1])) == -1)
			goto bad;
		l = &h->ho_links[i];
		p = mesh_pair(m->hm_nslots, slot, i, &end);
		if ((l->bl_fd = fd_dup(m->hm_bus[p][end])) == -1)
			goto bad;
		l->bl_rev = event_new(base, l->bl_fd, EV_READ | EV_PERSIST,
		    bus_read, l);
		l->bl_wev = event_new(base, l->bl_fd, EV_WRITE | EV_PERSIST,
		    bus_flush, l);
		if (l->bl_rev == NULL || l->bl_wev == NULL ||
		    event_add(l->bl_rev, NULL) == -1) {
			log_warnx("bus: cannot watch the link to slot %d", i);
			goto bad;
		}
	}
	return (h);
 bad:
	handoff_worker_free(h);
	return (NULL);
}

struct handoff *
handoff_worker_new(struct handoff_mesh *m, int slot, struct event_base *base,
    const struct handoff_cbs *cbs, void *arg)
{
	struct handoff	*h;

	if ((h = handoff_worker_attach(m, slot, base, cbs, arg)) == NULL)
		return (NULL);
	/*
	 * We hold duplicates of our own descriptors now.  Dropping the copies
	 * of the others matters: a worker that kept a peer's reading end open
	 * would keep queues alive after the master retired the generation.
	 */
	mesh_close(m);
	return (h);
}

/*
 * A struct handoff that can only pass connections to the workers of
 * another generation (they drain after a reload): duplicates of the
 * writing ends of every slot's channel, nothing to read, no bus.
 */
struct handoff *
handoff_sender_new(struct handoff_mesh *m)
{
	struct handoff	*h;
	int		 i;

	h = xcalloc(1, sizeof(*h));
	h->ho_nslots = m->hm_nslots;
	h->ho_slot = -1;
	h->ho_in = -1;
	h->ho_out = xcalloc((size_t)h->ho_nslots, sizeof(*h->ho_out));
	h->ho_out_full = xcalloc((size_t)h->ho_nslots, sizeof(*h->ho_out_full));
	h->ho_out_max = m->hm_chan_max;
	h->ho_links = xcalloc((size_t)h->ho_nslots, sizeof(*h->ho_links));
	for (i = 0; i < h->ho_nslots; i++) {
		h->ho_out[i] = -1;
		h->ho_links[i].bl_fd = -1;
		TAILQ_INIT(&h->ho_links[i].bl_outq);
	}
	for (i = 0; i < h->ho_nslots; i++) {
		if ((h->ho_out[i] = fd_dup(m->hm_chan[i][1])) == -1) {
			handoff_worker_free(h);
			return (NULL);
		}
	}
	return (h);
}

void
handoff_worker_free(struct handoff *h)
{
	int	i;

	if (h == NULL)
		return;
	if (h->ho_in_ev != NULL)
		event_free(h->ho_in_ev);
	fd_close(&h->ho_in);
	for (i = 0; i < h->ho_nslots; i++) {
		fd_close(&h->ho_out[i]);
		bus_link_close(&h->ho_links[i]);
	}
	free(h->ho_in_buf);
	free(h->ho_out);
	free(h->ho_out_full);
	free(h->ho_links);
	free(h->ho_bus_buf);
	free(h);
}

int
handoff_slots(const struct handoff *h)
{
	return (h->ho_nslots);
}

int
handoff_slot(const struct handoff *h)
{
	return (h->ho_slot);
}

int
handoff_send(struct handoff *h, int slot, int fd, const char *peer,
    const void *bytes, size_t len)
{
	union {
		struct cmsghdr	hdr;
		unsigned char	buf[CMSG_SPACE(sizeof(int))];
	} cmsg;
	unsigned char	 hdr[HANDOFF_HDR_LEN];
	struct msghdr	 msg;
	struct iovec	 iov[3];
	struct cmsghdr	*cm;
	ssize_t		 n;
	size_t		 plen = peer != NULL ? strlen(peer) : 0;

	if (slot < 0 || slot >= h->ho_nslots || slot == h->ho_slot) {
		log_warnx("handoff: no peer slot %d (we are slot %d)", slot,
		    h->ho_slot);
		return (-1);
	}
	if (fd < 0 || (len > 0 && bytes == NULL)) {
		log_warnx("handoff: nothing to hand off to slot %d", slot);
		return (-1);
	}
	if (plen >= HANDOFF_PEER_MAX) {
		log_warnx("handoff to slot %d: peer name too long", slot);
		return (-1);
	}
	/* Refused here rather than truncated or refused by the kernel. */
	if (len > h->ho_out_max - HANDOFF_HDR_LEN - plen) {
		log_warnx("handoff to slot %d: %zu bytes read, over the limit"
		    " of %zu", slot, len, h->ho_out_max - HANDOFF_HDR_LEN);
		return (-1);
	}

	put_u32(hdr, HANDOFF_MAGIC);
	put_u16(hdr + 4, HANDOFF_VERSION);
	put_u16(hdr + 6, (uint16_t)plen);
	put_u32(hdr + 8, (uint32_t)len);
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = (void *)(peer != NULL ? peer : "");
	iov[1].iov_len = plen;
	iov[2].iov_base = (void *)bytes;
	iov[2].iov_len = len;
	memset(&cmsg, 0, sizeof(cmsg));
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = 3;
	msg.msg_control = cmsg.buf;
	msg.msg_controllen = sizeof(cmsg.buf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));

	do
		n = sendmsg(h->ho_out[slot], &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			log_warn("handoff to slot %d", slot);
		else if (!h->ho_out_full[slot]) {
			/* Logged once until it drains: it fails for every client. */
			log_warnx("handoff to slot %d: its queue is full (worker"
			    " stuck or being restarted)", slot);
			h->ho_out_full[slot] = 1;
		}
		return (-1);
	}
	if ((size_t)n != HANDOFF_HDR_LEN + plen + len) {
		/* A sequenced packet goes whole or not at all: a kernel bug. */
		log_warnx("handoff to slot %d: short send of %zd bytes", slot, n);
		return (-1);
	}
	if (h->ho_out_full[slot]) {
		log_info("handoff to slot %d: its queue takes connections again",
		    slot);
		h->ho_out_full[slot] = 0;
	}
	close(fd);
	return (0);
}

/* Why the datagram of n bytes in ho_in_buf is unusable, or NULL. */
static const char *
handoff_check(struct handoff *h, ssize_t n, int flags, int nfds)
{
	const unsigned char	*p = h->ho_in_buf;

	if (flags & MSG_TRUNC)
		return ("too long");
	if (flags & MSG_CTRUNC)
		return ("too many descriptors");
	if (n < HANDOFF_HDR_LEN)
		return ("too short");
	if (get_u32(p) != HANDOFF_MAGIC)
		return ("bad magic");
	if (get_u16(p + 4) != HANDOFF_VERSION)
		return ("unknown version");
	if (get_u16(p + 6) >= HANDOFF_PEER_MAX)
		return ("peer name too long");
	if ((size_t)get_u32(p + 8) + get_u16(p + 6) != (size_t)n - HANDOFF_HDR_LEN)
		return ("length mismatch");
	if (nfds != 1)
		return (nfds == 0 ? "no descriptor" : "several descriptors");
	return (NULL);
}

/* Take one datagram: 1 to go on, 0 when drained, -1 when the channel is gone. */
static int
handoff_recv(struct handoff *h)
{
	union {
		struct cmsghdr	hdr;
		unsigned char	buf[CMSG_SPACE(HANDOFF_FDS_MAX * sizeof(int))];
	} cmsg;
	int		 fds[HANDOFF_FDS_MAX];
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	const char	*why;
	char		 peer[HANDOFF_PEER_MAX];
	size_t		 k, nfds = 0, plen;
	ssize_t		 n;
	int		 fd;

	iov.iov_base = h->ho_in_buf;
	iov.iov_len = HANDOFF_DGRAM_MAX;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsg.buf;
	msg.msg_controllen = sizeof(cmsg.buf);
	if ((n = recvmsg(h->ho_in, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC)) == -1) {
		if (errno == EINTR)
			return (1);
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			log_warn("handoff: slot %d: recvmsg", h->ho_slot);
		return (0);
	}
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (k = 0; CMSG_LEN((k + 1) * sizeof(int)) <= cm->cmsg_len &&
		    nfds < HANDOFF_FDS_MAX; k++) {
			memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
			fds[nfds++] = fd;
		}
	}
	if (n == 0 && nfds == 0 && !(msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		/* Every writer closed its end, the master too: nothing will come. */
		log_warnx("handoff: the channel of slot %d is closed", h->ho_slot);
		event_del(h->ho_in_ev);
		return (-1);
	}
	if ((why = handoff_check(h, n, msg.msg_flags, (int)nfds)) != NULL) {
		log_warnx("handoff: slot %d: datagram dropped: %s", h->ho_slot,
		    why);
		for (k = 0; k < nfds; k++)
			close(fds[k]);
		return (1);
	}
	if (h->ho_cbs.hc_conn == NULL) {
		close(fds[0]);
		return (1);
	}
	plen = get_u16(h->ho_in_buf + 6);
	memcpy(peer, h->ho_in_buf + HANDOFF_HDR_LEN, plen);
	peer[plen] = '\0';
	h->ho_cbs.hc_conn(h->ho_arg, fds[0], plen > 0 ? peer : NULL,
	    h->ho_in_buf + HANDOFF_HDR_LEN + plen, (size_t)n - HANDOFF_HDR_LEN - plen);
	return (1);
}

static void
handoff_read(evutil_socket_t fd, short events, void *arg)
{
	struct handoff	*h = arg;
	int		 i;

	(void)fd;
	(void)events;
	for (i = 0; i < HANDOFF_READ_BATCH; i++)
		if (handoff_recv(h) != 1)
			break;
}

static struct bus_msg *
bus_msg_new(const void *data, size_t len)
{
	struct bus_msg	*bm;

	bm = xmalloc(sizeof(*bm) + len);
	bm->bm_refs = 1;
	bm->bm_len = len;
	memcpy(bm->bm_data, data, len);
	return (bm);
}

static void
bus_msg_unref(struct bus_msg *bm)
{
	if (--bm->bm_refs == 0)
		free(bm);
}

/* Drop everything of the link; the slot stays in ho_links, closed. */
static void
bus_link_close(struct bus_link *l)
{
	struct bus_out	*bo;

	if (l->bl_rev != NULL)
		event_free(l->bl_rev);
	if (l->bl_wev != NULL)
		event_free(l->bl_wev);
	l->bl_rev = l->bl_wev = NULL;
	fd_close(&l->bl_fd);
	while ((bo = TAILQ_FIRST(&l->bl_outq)) != NULL) {
		TAILQ_REMOVE(&l->bl_outq, bo, bo_entry);
		bus_msg_unref(bo->bo_msg);
		free(bo);
	}
	l->bl_queued = 0;
	free(l->bl_in);
	l->bl_in = NULL;
	l->bl_in_len = l->bl_in_off = 0;
}

/*
 * Send data[*off..len) as fragments until done (1), the socket is full
 * (0) or it fails (-1, errno set); *off advances by what was sent.
 */
static int
bus_link_write(struct bus_link *l, const unsigned char *data, size_t len,
    size_t *off)
{
	unsigned char	 hdr[BUS_HDR_LEN];
	struct msghdr	 msg;
	struct iovec	 iov[2];
	size_t		 frag;
	ssize_t		 n;

	while (*off < len) {
		frag = len - *off;
		if (frag > BUS_FRAG_MAX)
			frag = BUS_FRAG_MAX;
		put_u32(hdr, BUS_MAGIC);
		put_u16(hdr + 4, BUS_VERSION);
		put_u16(hdr + 6, 0);
		put_u32(hdr + 8, (uint32_t)len);
		put_u32(hdr + 12, (uint32_t)*off);
		iov[0].iov_base = hdr;
		iov[0].iov_len = sizeof(hdr);
		iov[1].iov_base = (void *)(data + *off);
		iov[1].iov_len = frag;
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = iov;
		msg.msg_iovlen = 2;
		n = sendmsg(l->bl_fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return (0);
			return (-1);
		}
		if ((size_t)n != BUS_HDR_LEN + frag) {
			errno = EIO;
			return (-1);
		}
		*off += frag;
	}
	return (1);
}

static void
bus_flush(evutil_socket_t fd, short events, void *arg)
{
	struct bus_link	*l = arg;
	struct bus_out	*bo;
	size_t		 before;
	int		 r;

	(void)fd;
	(void)events;
	while ((bo = TAILQ_FIRST(&l->bl_outq)) != NULL) {
		before = bo->bo_off;
		r = bus_link_write(l, bo->bo_msg->bm_data, bo->bo_msg->bm_len,
		    &bo->bo_off);
		l->bl_queued -= bo->bo_off - before;
		if (r == -1) {
			log_warn("bus: link to slot %d", l->bl_peer);
			bus_link_close(l);
			return;
		}
		if (r == 0)
			return;
		TAILQ_REMOVE(&l->bl_outq, bo, bo_entry);
		bus_msg_unref(bo->bo_msg);
		free(bo);
	}
	event_del(l->bl_wev);
}

/*
 * Whether a message of len bytes must skip the link: a peer that leaves
 * more than the limit unread is stuck (or dead and not yet respawned),
 * and queueing more for it would only grow our memory.  One line when it
 * starts and one when it ends, not one per message.
 */
static int
bus_link_over(struct bus_link *l, size_t len)
{
	size_t	max = l->bl_h->ho_bus_queue_max;

	if (l->bl_queued == 0 || l->bl_queued + len <= max) {
		if (l->bl_over)
			log_info("bus: slot %d reads again; %zu messages were"
			    " skipped", l->bl_peer, l->bl_skipped);
		l->bl_over = 0;
		l->bl_skipped = 0;
		return (0);
	}
	if (!l->bl_over)
		log_warnx("bus: slot %d leaves %zu bytes unread, skipping it",
		    l->bl_peer, l->bl_queued);
	l->bl_over = 1;
	l->bl_skipped++;
	return (1);
}

int
bus_publish(struct handoff *h, const void *msg, size_t len)
{
	struct bus_msg	*bm = NULL;
	struct bus_link	*l;
	struct bus_out	*bo;
	size_t		 off;
	int		 i, r, n = 0;

	if (len == 0 || len > BUS_MSG_MAX) {
		log_warnx("bus: message of %zu bytes refused", len);
		return (-1);
	}
	for (i = 0; i < h->ho_nslots; i++) {
		l = &h->ho_links[i];
		if (i == h->ho_slot || l->bl_fd == -1 || bus_link_over(l, len))
			continue;
		off = 0;
		if (TAILQ_EMPTY(&l->bl_outq)) {
			/* In order, and without a copy while the socket takes it. */
			if ((r = bus_link_write(l, msg, len, &off)) == -1) {
				log_warn("bus: link to slot %d", i);
				bus_link_close(l);
				continue;
			}
			if (r == 1) {
				n++;
				continue;
			}
		}
		/* One copy, shared by every peer that cannot take it now. */
		if (bm == NULL)
			bm = bus_msg_new(msg, len);
		bo = xmalloc(sizeof(*bo));
		bo->bo_msg = bm;
		bo->bo_off = off;
		bm->bm_refs++;
		TAILQ_INSERT_TAIL(&l->bl_outq, bo, bo_entry);
		l->bl_queued += len - off;
		event_add(l->bl_wev, NULL);
		n++;
	}
	if (bm != NULL)
		bus_msg_unref(bm);
	return (n);
}

void
bus_set_queue_max(struct handoff *h, size_t max)
{
	h->ho_bus_queue_max = max;
}

/* Why the fragment of n bytes in ho_bus_buf is unusable, or NULL. */
static const char *
bus_check(const unsigned char *p, ssize_t n, int flags)
{
	uint32_t	total, off;

	if (flags & MSG_TRUNC)
		return ("too long");
	if (flags & MSG_CTRUNC)
		return ("descriptors attached");
	if (n <= BUS_HDR_LEN)
		return ("too short");
	if (get_u32(p) != BUS_MAGIC)
		return ("bad magic");
	if (get_u16(p + 4) != BUS_VERSION || get_u16(p + 6) != 0)
		return ("unknown version");
	total = get_u32(p + 8);
	off = get_u32(p + 12);
	if (total == 0 || total > BUS_MSG_MAX)
		return ("bad length");
	if (off >= total || (size_t)n - BUS_HDR_LEN > total - off)
		return ("bad offset");
	return (NULL);
}

static void
bus_deliver(struct bus_link *l, const void *msg, size_t len)
{
	struct handoff	*h = l->bl_h;

	if (h->ho_cbs.hc_bus != NULL)
		h->ho_cbs.hc_bus(h->ho_arg, msg, len);
}

/* Add a fragment to the message being assembled on the link. */
static void
bus_take(struct bus_link *l, const unsigned char *data, size_t frag,
    size_t total, size_t off)
{
	unsigned char	*msg;

	if (off == 0) {
		if (l->bl_in != NULL)
			log_info("bus: slot %d: incomplete message of %zu bytes"
			    " dropped (the worker was restarted)", l->bl_peer,
			    l->bl_in_len);
		free(l->bl_in);
		l->bl_in = NULL;
		if (frag == total) {
			bus_deliver(l, data, frag);
			return;
		}
		l->bl_in = xmalloc(total);
		l->bl_in_len = total;
		l->bl_in_off = 0;
	} else if (l->bl_in == NULL || off != l->bl_in_off ||
	    total != l->bl_in_len) {
		/*
		 * The rest of a message whose start the previous worker of
		 * our slot read before it died: skip to the next one.
		 */
		if (l->bl_in != NULL)
			log_warnx("bus: slot %d: fragment out of sequence,"
			    " message dropped", l->bl_peer);
		else
			log_debug("bus: slot %d: tail of a message skipped",
			    l->bl_peer);
		free(l->bl_in);
		l->bl_in = NULL;
		return;
	}
	memcpy(l->bl_in + off, data, frag);
	l->bl_in_off += frag;
	if (l->bl_in_off < l->bl_in_len)
		return;
	/* Detached first: the callback may close this link. */
	msg = l->bl_in;
	l->bl_in = NULL;
	bus_deliver(l, msg, total);
	free(msg);
}

/* Take one fragment: 1 to go on, 0 when drained or the link is closed. */
static int
bus_recv(struct bus_link *l)
{
	unsigned char	*p = l->bl_h->ho_bus_buf;
	struct msghdr	 msg;
	struct iovec	 iov;
	const char	*why;
	ssize_t		 n;

	iov.iov_base = p;
	iov.iov_len = BUS_DGRAM_MAX;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	/* No room for control data: the kernel closes any descriptor sent. */
	if ((n = recvmsg(l->bl_fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC)) == -1) {
		if (errno == EINTR)
			return (1);
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return (0);
		log_warn("bus: link to slot %d", l->bl_peer);
		bus_link_close(l);
		return (0);
	}
	if (n == 0 && !(msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		log_info("bus: link to slot %d closed", l->bl_peer);
		bus_link_close(l);
		return (0);
	}
	if ((why = bus_check(p, n, msg.msg_flags)) != NULL) {
		/* Only our own code writes here: a bug, not worth a worker. */
		log_warnx("bus: link to slot %d: malformed frame (%s), closing"
		    " it", l->bl_peer, why);
		bus_link_close(l);
		return (0);
	}
	bus_take(l, p + BUS_HDR_LEN, (size_t)n - BUS_HDR_LEN, get_u32(p + 8),
	    get_u32(p + 12));
	return (l->bl_fd != -1);
}

static void
bus_read(evutil_socket_t fd, short events, void *arg)
{
	struct bus_link	*l = arg;
	int		 i;

	(void)fd;
	(void)events;
	for (i = 0; i < BUS_READ_BATCH; i++)
		if (bus_recv(l) != 1)
			break;
}
