/*
 * test_handoff.c: connection handoff and the message bus between workers.
 *
 * Every worker of a three-slot mesh runs in this process, each on its own
 * event_base, through handoff_worker_attach (the mesh stays open, as in
 * the master).  The bases are turned without blocking until what a test
 * waits for has happened, for a bounded number of turns.
 */
#include "config.h"

#include <criterion/criterion.h>

#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "handoff.h"

#define SLOTS		3
#define TURNS_MAX	200000	/* loop turns before a wait fails */
#define SETTLE_TURNS	50	/* turns to show that nothing more comes */
#define BIG_MSG		(5u * 1024 * 1024)
/* Larger than any socket buffer, so that a sender stops half way. */
#define HUGE_MSG	(16u * 1024 * 1024)
#define SMALL_MSGS	1000

struct rx {
	size_t		  n;
	size_t		  cap;
	unsigned char	**msg;
	size_t		 *len;
};

struct peer {
	struct event_base	*base;
	struct handoff		*h;
	int			 conns;		/* hc_conn calls */
	int			 fd;		/* the last connection received */
	unsigned char		*bytes;		/* and its bytes */
	char			 peer[HANDOFF_PEER_MAX];	/* and its peer, or "" */
	size_t			 nbytes;
	struct rx		 rx;		/* bus messages */
};

static struct handoff_mesh	*mesh;
static struct peer		 peers[SLOTS];

static void
on_conn(void *arg, int fd, const char *peer, const void *bytes, size_t len)
{
	struct peer *p = arg;

	snprintf(p->peer, sizeof(p->peer), "%s", peer != NULL ? peer : "");
	if (p->fd != -1)
		close(p->fd);
	free(p->bytes);
	p->fd = fd;
	p->bytes = malloc(len + 1);
	cr_assert_not_null(p->bytes);
	memcpy(p->bytes, bytes, len);
	p->nbytes = len;
	p->conns++;
}

static void
on_bus(void *arg, const void *msg, size_t len)
{
	struct rx *rx = &((struct peer *)arg)->rx;

	if (rx->n == rx->cap) {
		rx->cap = rx->cap ? rx->cap * 2 : 64;
		rx->msg = realloc(rx->msg, rx->cap * sizeof(*rx->msg));
		rx->len = realloc(rx->len, rx->cap * sizeof(*rx->len));
		cr_assert(rx->msg != NULL && rx->len != NULL);
	}
	cr_assert_not_null(rx->msg[rx->n] = malloc(len));
	memcpy(rx->msg[rx->n], msg, len);
	rx->len[rx->n++] = len;
}

static const struct handoff_cbs cbs = { on_conn, on_bus };

static void
peer_start(int slot)
{
	struct peer *p = &peers[slot];

	p->h = handoff_worker_attach(mesh, slot, p->base, &cbs, p);
	cr_assert_not_null(p->h, "attach slot %d", slot);
}

/* A worker that dies: everything it had read or queued is lost. */
static void
peer_kill(int slot)
{
	handoff_worker_free(peers[slot].h);
	peers[slot].h = NULL;
}

static void
setup(void)
{
	int i;

	cr_assert_not_null(mesh = handoff_mesh_new(SLOTS));
	for (i = 0; i < SLOTS; i++) {
		memset(&peers[i], 0, sizeof(peers[i]));
		peers[i].fd = -1;
		cr_assert_not_null(peers[i].base = event_base_new());
		peer_start(i);
	}
}

static void
teardown(void)
{
	struct peer *p;
	size_t k;
	int i;

	for (i = 0; i < SLOTS; i++) {
		p = &peers[i];
		handoff_worker_free(p->h);
		event_base_free(p->base);
		if (p->fd != -1)
			close(p->fd);
		free(p->bytes);
		for (k = 0; k < p->rx.n; k++)
			free(p->rx.msg[k]);
		free(p->rx.msg);
		free(p->rx.len);
	}
	handoff_mesh_free(mesh);
	mesh = NULL;
}

/* One non-blocking pass of every running worker's loop. */
static void
turn(void)
{
	int i;

	for (i = 0; i < SLOTS; i++)
		if (peers[i].h != NULL)
			event_base_loop(peers[i].base, EVLOOP_NONBLOCK);
}

#define WAIT_FOR(cond) do {						\
	int turns_;							\
	for (turns_ = 0; turns_ < TURNS_MAX && !(cond); turns_++)	\
		turn();							\
	cr_assert((cond), "never happened: %s", #cond);			\
} while (0)

static void
settle(void)
{
	int i;

	for (i = 0; i < SETTLE_TURNS; i++)
		turn();
}

static int
fd_is_open(int fd)
{
	return (fcntl(fd, F_GETFD) != -1);
}

/* A connected pair; sp[0] is handed off, sp[1] plays the client. */
static void
client_pair(int sp[2])
{
	cr_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp) == 0);
}

static void
fill(unsigned char *buf, size_t len, unsigned seed)
{
	size_t k;

	for (k = 0; k < len; k++)
		buf[k] = (unsigned char)(seed * 131 + k * 7 + (k >> 8));
}

/* Message seq of a test series: its length and contents follow from seq. */
static unsigned char *
msg_make(unsigned seq, size_t big_at, size_t big_len, size_t *len)
{
	unsigned char *m;

	*len = seq == big_at ? big_len : 1 + (seq * 37) % 300;
	cr_assert_not_null(m = malloc(*len));
	fill(m, *len, seq);
	return (m);
}

static void
expect_msg(const struct rx *rx, size_t i, const void *msg, size_t len)
{
	cr_assert(i < rx->n);
	cr_assert_eq(rx->len[i], len, "message %zu: %zu bytes, not %zu", i,
	    rx->len[i], len);
	cr_assert(memcmp(rx->msg[i], msg, len) == 0, "message %zu differs", i);
}

TestSuite(handoff, .init = setup, .fini = teardown);
TestSuite(bus, .init = setup, .fini = teardown);

Test(handoff, connection_and_bytes_reach_the_slot)
{
	static const char req[] =
	    "GET /socket.io/?EIO=4&transport=websocket&sid=abc HTTP/1.1\r\n"
	    "Host: example.org\r\nUpgrade: websocket\r\n\r\n";
	struct peer *p2 = &peers[2];
	char buf[16];
	int sp[2];

	client_pair(sp);
	cr_assert_eq(handoff_send(peers[0].h, 2, sp[0], NULL, req, strlen(req)), 0);
	/* Ours no more: closed at once by the sender. */
	cr_assert(!fd_is_open(sp[0]) && errno == EBADF);
	WAIT_FOR(p2->conns == 1);
	settle();
	cr_assert_eq(p2->conns, 1);
	cr_assert_eq(peers[0].conns + peers[1].conns, 0);
	cr_assert_eq(p2->nbytes, strlen(req));
	cr_assert(memcmp(p2->bytes, req, strlen(req)) == 0);
	cr_assert_str_eq(p2->peer, "", "a client's own socket names no peer");
	cr_assert(fcntl(p2->fd, F_GETFD) & FD_CLOEXEC);

	/* The connection works both ways. */
	cr_assert_eq(write(p2->fd, "pong", 4), 4);
	cr_assert_eq(read(sp[1], buf, sizeof(buf)), 4);
	cr_assert(memcmp(buf, "pong", 4) == 0);
	cr_assert_eq(write(sp[1], "ping", 4), 4);
	cr_assert_eq(read(p2->fd, buf, sizeof(buf)), 4);
	cr_assert(memcmp(buf, "ping", 4) == 0);
	close(sp[1]);
}

Test(handoff, bytes_up_to_the_limit)
{
	unsigned char *big;
	int sp[2];

	cr_assert_not_null(big = malloc(HANDOFF_BYTES_MAX + 1));
	fill(big, HANDOFF_BYTES_MAX + 1, 7);

	client_pair(sp);
	cr_assert_eq(handoff_send(peers[1].h, 0, sp[0], NULL, big,
	    HANDOFF_BYTES_MAX), 0);
	WAIT_FOR(peers[0].conns == 1);
	cr_assert_eq(peers[0].nbytes, (size_t)HANDOFF_BYTES_MAX);
	cr_assert(memcmp(peers[0].bytes, big, HANDOFF_BYTES_MAX) == 0);
	close(sp[1]);

	/* One more byte is refused, and the caller keeps the connection. */
	client_pair(sp);
	cr_assert_eq(handoff_send(peers[1].h, 0, sp[0], NULL, big,
	    HANDOFF_BYTES_MAX + 1), -1);
	cr_assert(fd_is_open(sp[0]));
	settle();
	cr_assert_eq(peers[0].conns, 1);
	close(sp[0]);
	close(sp[1]);
	free(big);
}

Test(handoff, no_bytes)
{
	int sp[2];

	client_pair(sp);
	cr_assert_eq(handoff_send(peers[2].h, 1, sp[0], NULL, NULL, 0), 0);
	WAIT_FOR(peers[1].conns == 1);
	cr_assert_eq(peers[1].nbytes, 0);
	close(sp[1]);
}

Test(handoff, self_and_unknown_slots_refused)
{
	int sp[2];

	client_pair(sp);
	cr_assert_eq(handoff_send(peers[0].h, 0, sp[0], NULL, "x", 1), -1);
	cr_assert_eq(handoff_send(peers[0].h, -1, sp[0], NULL, "x", 1), -1);
	cr_assert_eq(handoff_send(peers[0].h, SLOTS, sp[0], NULL, "x", 1), -1);
	cr_assert(fd_is_open(sp[0]));
	settle();
	cr_assert_eq(peers[0].conns + peers[1].conns + peers[2].conns, 0);
	cr_assert_eq(handoff_slots(peers[0].h), SLOTS);
	cr_assert_eq(handoff_slot(peers[2].h), 2);
	close(sp[0]);
	close(sp[1]);
}

/* Write a raw datagram to slot's channel, carrying the descriptors fds. */
static void
chan_inject(int slot, const void *data, size_t len, const int *fds, int nfds)
{
	union {
		struct cmsghdr	hdr;
		unsigned char	buf[CMSG_SPACE(4 * sizeof(int))];
	} cmsg;
	struct msghdr msg;
	struct iovec iov;
	struct cmsghdr *cm;

	iov.iov_base = (void *)data;
	iov.iov_len = len;
	memset(&msg, 0, sizeof(msg));
	memset(&cmsg, 0, sizeof(cmsg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (nfds > 0) {
		msg.msg_control = cmsg.buf;
		msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	}
	cr_assert_eq(sendmsg(handoff_mesh_chan_fd(mesh, slot), &msg, 0),
	    (ssize_t)len);
}

Test(handoff, malformed_datagrams_dropped_and_descriptors_closed)
{
	/* "RHOF", version 1, 0, length 2, "ok". */
	static const unsigned char nofd[] = {
		'R', 'H', 'O', 'F', 0, 1, 0, 0, 0, 0, 0, 2, 'o', 'k'
	};
	char buf[4];
	int a[2], b[2], fds[2], sp[2];

	/* Garbage with two connections: both closed by the receiver. */
	client_pair(a);
	client_pair(b);
	fds[0] = a[0];
	fds[1] = b[0];
	chan_inject(2, "garbage, not a handoff", 22, fds, 2);
	close(a[0]);
	close(b[0]);
	WAIT_FOR(read(a[1], buf, sizeof(buf)) == 0 &&
	    read(b[1], buf, sizeof(buf)) == 0);
	/* Neither a well-formed datagram without a descriptor. */
	chan_inject(2, nofd, sizeof(nofd), NULL, 0);
	settle();
	cr_assert_eq(peers[2].conns, 0);
	close(a[1]);
	close(b[1]);

	/* The channel still works. */
	client_pair(sp);
	cr_assert_eq(handoff_send(peers[0].h, 2, sp[0], NULL, "ok", 2), 0);
	WAIT_FOR(peers[2].conns == 1);
	cr_assert(memcmp(peers[2].bytes, "ok", 2) == 0);
	close(sp[1]);
}

Test(handoff, queued_for_a_dead_worker_until_it_is_respawned)
{
	int sp[2];

	peer_kill(2);
	client_pair(sp);
	cr_assert_eq(handoff_send(peers[0].h, 2, sp[0], NULL, "waiting", 7), 0);
	settle();
	peer_start(2);
	WAIT_FOR(peers[2].conns == 1);
	cr_assert(memcmp(peers[2].bytes, "waiting", 7) == 0);
	cr_assert_eq(write(peers[2].fd, "!", 1), 1);
	close(sp[1]);
}

Test(handoff, full_queue_refused)
{
	unsigned char *big;
	int i, sent = 0, sp[2];

	cr_assert_not_null(big = malloc(HANDOFF_BYTES_MAX));
	fill(big, HANDOFF_BYTES_MAX, 3);
	/* Slot 1 does not read: its queue fills up, then sends fail. */
	for (i = 0; i < 1000; i++) {
		client_pair(sp);
		close(sp[1]);
		if (handoff_send(peers[0].h, 1, sp[0], NULL, big,
		    HANDOFF_BYTES_MAX) == -1)
			break;
		sent++;
	}
	cr_assert(i < 1000, "the queue never filled");
	cr_assert(sent > 0);
	cr_assert(fd_is_open(sp[0]));
	close(sp[0]);

	WAIT_FOR(peers[1].conns == sent);
	cr_assert(memcmp(peers[1].bytes, big, HANDOFF_BYTES_MAX) == 0);
	client_pair(sp);
	cr_assert_eq(handoff_send(peers[0].h, 1, sp[0], NULL, big, 10), 0);
	WAIT_FOR(peers[1].conns == sent + 1);
	close(sp[1]);
	free(big);
}

Test(handoff, worker_new_closes_the_mesh)
{
	struct handoff_mesh *m;
	struct handoff *h;
	int fds[6], i, n = 0;

	cr_assert_not_null(m = handoff_mesh_new(2));
	for (i = 0; i < 2; i++)
		fds[n++] = handoff_mesh_chan_fd(m, i);
	fds[n++] = handoff_mesh_bus_fd(m, 0, 1);
	fds[n++] = handoff_mesh_bus_fd(m, 1, 0);
	cr_assert_not_null(h = handoff_worker_new(m, 1, peers[0].base, &cbs,
	    &peers[0]));
	for (i = 0; i < n; i++)
		cr_assert(!fd_is_open(fds[i]), "descriptor %d left open", fds[i]);
	cr_assert_eq(handoff_mesh_chan_fd(m, 0), -1);
	cr_assert_eq(handoff_slot(h), 1);
	cr_assert_eq(handoff_slots(h), 2);
	/* In a worker the mesh is only memory now. */
	handoff_mesh_free(m);
	handoff_worker_free(h);
}

Test(handoff, bad_meshes)
{
	struct handoff_mesh *m;
	struct handoff *h;
	int sp[2];

	cr_assert_null(handoff_mesh_new(0));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(handoff_worker_attach(mesh, SLOTS, peers[0].base, &cbs,
	    NULL));

	/* A single worker has nobody to talk to. */
	cr_assert_not_null(m = handoff_mesh_new(1));
	cr_assert_not_null(h = handoff_worker_attach(m, 0, peers[0].base, &cbs,
	    NULL));
	cr_assert_eq(bus_publish(h, "x", 1), 0);
	client_pair(sp);
	cr_assert_eq(handoff_send(h, 0, sp[0], NULL, NULL, 0), -1);
	close(sp[0]);
	close(sp[1]);
	handoff_worker_free(h);
	handoff_mesh_free(m);
}

Test(bus, every_other_worker_once_and_in_order)
{
	unsigned char *m;
	size_t len, k;
	unsigned seq;
	int i;

	for (seq = 0; seq < SMALL_MSGS; seq++) {
		m = msg_make(seq, SMALL_MSGS / 2, BIG_MSG, &len);
		cr_assert_eq(bus_publish(peers[1].h, m, len), 2);
		free(m);
		/* Let some of it through now and then, like a live worker. */
		if (seq % 100 == 0)
			turn();
	}
	WAIT_FOR(peers[0].rx.n == SMALL_MSGS && peers[2].rx.n == SMALL_MSGS);
	settle();
	cr_assert_eq(peers[1].rx.n, 0);
	for (i = 0; i < SLOTS; i += 2) {
		cr_assert_eq(peers[i].rx.n, SMALL_MSGS, "slot %d", i);
		for (k = 0; k < SMALL_MSGS; k++) {
			m = msg_make((unsigned)k, SMALL_MSGS / 2, BIG_MSG, &len);
			expect_msg(&peers[i].rx, k, m, len);
			free(m);
		}
	}
	cr_assert_eq(peers[0].rx.len[SMALL_MSGS / 2], BIG_MSG);
}

Test(bus, empty_and_oversized_messages_refused)
{
	cr_assert_eq(bus_publish(peers[0].h, "", 0), -1);
	cr_assert_eq(bus_publish(peers[0].h, "x", (size_t)BUS_MSG_MAX + 1), -1);
	settle();
	cr_assert_eq(peers[1].rx.n + peers[2].rx.n, 0);
}

/* Write a raw datagram on slot's end of its link to peer. */
static void
bus_inject(int slot, int peer, const void *data, size_t len)
{
	cr_assert_eq(send(handoff_mesh_bus_fd(mesh, slot, peer), data, len, 0),
	    (ssize_t)len);
}

Test(bus, malformed_frame_closes_that_link_only)
{
	bus_inject(1, 0, "garbage, not a frame", 20);
	settle();

	/* Slot 0 dropped its link to 1 and kept the one to 2. */
	cr_assert_eq(bus_publish(peers[0].h, "from 0", 6), 1);
	WAIT_FOR(peers[2].rx.n == 1);
	expect_msg(&peers[2].rx, 0, "from 0", 6);

	cr_assert_eq(bus_publish(peers[2].h, "from 2", 6), 2);
	WAIT_FOR(peers[0].rx.n == 1 && peers[1].rx.n == 1);
	expect_msg(&peers[0].rx, 0, "from 2", 6);
	expect_msg(&peers[1].rx, 0, "from 2", 6);

	/* Slot 1 cannot tell (the mesh holds the link), but 0 never reads it. */
	cr_assert_eq(bus_publish(peers[1].h, "from 1", 6), 2);
	WAIT_FOR(peers[2].rx.n == 2);
	settle();
	expect_msg(&peers[2].rx, 1, "from 1", 6);
	cr_assert_eq(peers[0].rx.n, 1);
}

Test(bus, zero_length_frame_closes_the_link)
{
	/* "RBUS", version 1, 0, message length 0, offset 0, one byte. */
	static const unsigned char frame[] = {
		'R', 'B', 'U', 'S', 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'x'
	};

	bus_inject(2, 0, frame, sizeof(frame));
	settle();
	cr_assert_eq(bus_publish(peers[0].h, "still", 5), 1);
	WAIT_FOR(peers[1].rx.n == 1);
	settle();
	cr_assert_eq(peers[2].rx.n, 0);
}

Test(bus, writer_dies_half_way_through_a_message)
{
	unsigned char *huge;

	cr_assert_not_null(huge = malloc(HUGE_MSG));
	fill(huge, HUGE_MSG, 11);
	cr_assert_eq(bus_publish(peers[1].h, huge, HUGE_MSG), 2);
	free(huge);
	/* Dies with most of it queued; the respawned worker starts afresh. */
	peer_kill(1);
	peer_start(1);
	cr_assert_eq(bus_publish(peers[1].h, "after restart", 13), 2);
	WAIT_FOR(peers[0].rx.n == 1 && peers[2].rx.n == 1);
	settle();
	cr_assert_eq(peers[0].rx.n, 1);
	cr_assert_eq(peers[2].rx.n, 1);
	expect_msg(&peers[0].rx, 0, "after restart", 13);
	expect_msg(&peers[2].rx, 0, "after restart", 13);
}

Test(bus, reader_dies_half_way_through_a_message)
{
	unsigned char *huge;

	cr_assert_not_null(huge = malloc(HUGE_MSG));
	fill(huge, HUGE_MSG, 13);
	cr_assert_eq(bus_publish(peers[1].h, huge, HUGE_MSG), 2);
	/* Slot 0 reads the start of it, and dies. */
	event_base_loop(peers[0].base, EVLOOP_NONBLOCK);
	cr_assert_eq(peers[0].rx.n, 0);
	peer_kill(0);
	peer_start(0);

	/* Its successor skips the rest and gets what follows. */
	cr_assert_eq(bus_publish(peers[1].h, "next", 4), 2);
	WAIT_FOR(peers[0].rx.n == 1 && peers[2].rx.n == 2);
	settle();
	cr_assert_eq(peers[0].rx.n, 1);
	expect_msg(&peers[0].rx, 0, "next", 4);
	cr_assert_eq(peers[2].rx.n, 2);
	expect_msg(&peers[2].rx, 0, huge, HUGE_MSG);
	expect_msg(&peers[2].rx, 1, "next", 4);
	free(huge);
}

Test(bus, stuck_peer_skipped_over_the_queue_limit)
{
	unsigned char m[64 * 1024];
	size_t k;
	int i, r, queued = 0, skipped = 0;

	bus_set_queue_max(peers[1].h, 4 * sizeof(m));
	/* Nobody reads: the sockets fill, then the queues, then skips. */
	for (i = 0; i < 1000 && skipped < 10; i++) {
		fill(m, sizeof(m), (unsigned)i);
		memcpy(m, &i, sizeof(i));
		r = bus_publish(peers[1].h, m, sizeof(m));
		cr_assert(r >= 0 && r <= 2);
		queued += r;
		skipped += r < 2;
	}
	cr_assert_eq(skipped, 10, "the queue limit was never reached");

	/* What was queued arrives, in order; the rest was skipped. */
	WAIT_FOR((int)(peers[0].rx.n + peers[2].rx.n) == queued);
	for (i = 0; i < SLOTS; i += 2) {
		int prev = -1, seq;

		for (k = 0; k < peers[i].rx.n; k++) {
			cr_assert_eq(peers[i].rx.len[k], sizeof(m));
			memcpy(&seq, peers[i].rx.msg[k], sizeof(seq));
			cr_assert_gt(seq, prev);
			prev = seq;
		}
	}

	/* Drained: both peers take messages again. */
	cr_assert_eq(bus_publish(peers[1].h, "again", 5), 2);
	WAIT_FOR(peers[0].rx.n + peers[2].rx.n == (size_t)queued + 2);
}

Test(handoff, relay_names_its_client)
{
	struct peer *p1 = &peers[1];
	int sp[2];

	client_pair(sp);
	cr_assert_eq(handoff_send(peers[0].h, 1, sp[0], "[2001:db8::7]:4431", "GET",
	    3), 0);
	WAIT_FOR(p1->conns == 1);
	cr_assert_str_eq(p1->peer, "[2001:db8::7]:4431");
	cr_assert_eq(p1->nbytes, 3);
	cr_assert(memcmp(p1->bytes, "GET", 3) == 0);
	close(sp[1]);
	/* A name that does not fit is refused, the descriptor left to us. */
	{
		char longname[HANDOFF_PEER_MAX + 8];

		memset(longname, 'a', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		client_pair(sp);
		cr_assert_eq(handoff_send(peers[0].h, 1, sp[0], longname, "x", 1), -1);
		close(sp[0]);
		close(sp[1]);
	}
}
