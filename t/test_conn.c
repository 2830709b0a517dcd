/*
 * test_conn.c: the connection layer (conn.c) on its own, with a site of
 * test routes and no protocol above it.  Each test drives one connection
 * over a socketpair through a private event loop: routing and the HTTP
 * core's own answers, pipelining, a held request and its release, a
 * connection taken over by another protocol, the output bound and the
 * write event of a full socket, timeouts, and the buffers a connection
 * holds: none once nothing waits in them.  Two tests drive more than one
 * connection: the input of several comes from the host's epoll instance
 * in one batch, and a connection handed to another worker must vanish
 * from it.
 */
#include "config.h"

#include <criterion/criterion.h>

#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "conf.h"
#include "conn.h"
#include "handoff.h"
#include "host.h"
#include "http.h"
#include "log.h"

#define TURNS_MAX	2000	/* loop turns a test waits at most */
#define TURN_MS		5	/* a turn ends after this even with no event */
#define BIG_BYTES	(4 * 1024 * 1024)	/* more than a socketpair holds */

static const char test_conf[] =
    "listen 127.0.0.1:0\n"
    "header_timeout 300ms\n"
    "body_timeout 300ms\n"
    "keepalive_timeout 10s\n"
    "max_header_size 4k\n"
    "max_body_size 16k\n"
    "max_payload 64k\n";

static struct event_base	*base;
static struct conf		*conf;
static struct conn_host		 host;
static struct conn_site		 site;
static int			 peer = -1;	/* the client's end */
static int			 peer2 = -1;	/* of a second connection */
static int			 closed_calls;	/* cp_closed */
static int			 drained_calls;	/* cp_drained */
static struct conn		*held;		/* by /hold */
static struct evbuffer		*got;		/* what the upgraded protocol read */
static struct conn		*duel[2];	/* each closes the other on input */
static int			 duel_reads;	/* their cp_read */
static int			 handed_fd = -1;	/* as the other worker got it */

/* --- routes ---------------------------------------------------------------- */

static void
hello_request(void *arg, struct conn *c, const struct http_request *req,
    const char *body, size_t bodylen)
{
	char text[64];
	int n;

	(void)arg;
	(void)req;
	n = snprintf(text, sizeof(text), "hello %zu", bodylen);
	(void)body;
	http_response(conn_output(c), 200, "text/plain", NULL, text, (size_t)n,
	    conn_keepalive(c));
}

static void
proto_read(struct conn *c, void *arg)
{
	struct evbuffer *in = conn_input(c);

	(void)arg;
	evbuffer_add_buffer(got, in);
}

static void
proto_drained(struct conn *c, void *arg)
{
	(void)c;
	(void)arg;
	drained_calls++;
}

static void
proto_closed(struct conn *c, void *arg)
{
	(void)arg;
	closed_calls++;
	if (c == held)
		held = NULL;
}

static const struct conn_proto test_proto = {
	proto_read, proto_drained, proto_closed
};

static void
hold_request(void *arg, struct conn *c, const struct http_request *req,
    const char *body, size_t bodylen)
{
	(void)arg;
	(void)req;
	(void)body;
	(void)bodylen;
	held = c;
	conn_hold(c, &test_proto, NULL);
}

/* Answer 101 and hand the connection to proto. */
static void
switch_protocols(struct conn *c, const char *name,
    const struct conn_proto *proto)
{
	evbuffer_add_printf(conn_output(c),
	    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: %s\r\n\r\n", name);
	conn_takeover(c, proto, NULL);
}

static void
upgrade_request(void *arg, struct conn *c, const struct http_request *req,
    const char *body, size_t bodylen)
{
	(void)arg;
	(void)req;
	(void)body;
	(void)bodylen;
	switch_protocols(c, "test", &test_proto);
}

static void
big_request(void *arg, struct conn *c, const struct http_request *req,
    const char *body, size_t bodylen)
{
	char *blob;

	(void)arg;
	(void)req;
	(void)body;
	(void)bodylen;
	blob = malloc(BIG_BYTES);
	cr_assert_not_null(blob);
	memset(blob, 'x', BIG_BYTES);
	http_response(conn_output(c), 200, "application/octet-stream", NULL,
	    blob, BIG_BYTES, conn_keepalive(c));
	free(blob);
}

/*
 * A protocol whose input makes it close the other connection of the
 * pair, as a broadcast drops a slow reader: if both have input in the
 * same batch, the second is closed before its turn comes.
 */
static void
duel_read(struct conn *c, void *arg)
{
	struct conn *other = duel[0] == c ? duel[1] : duel[0];

	(void)arg;
	/* A protocol may be called with nothing new (conn_adopt's first call). */
	if (conn_input_len(c) == 0)
		return;
	duel_reads++;
	evbuffer_add_buffer(got, conn_input(c));
	if (other != NULL)
		conn_close(other);
}

static void
duel_closed(struct conn *c, void *arg)
{
	(void)arg;
	closed_calls++;
	if (duel[0] == c)
		duel[0] = NULL;
	if (duel[1] == c)
		duel[1] = NULL;
}

static const struct conn_proto duel_proto = {
	duel_read, NULL, duel_closed
};

static void
duel_request(void *arg, struct conn *c, const struct http_request *req,
    const char *body, size_t bodylen)
{
	(void)arg;
	(void)req;
	(void)body;
	(void)bodylen;
	switch_protocols(c, "duel", &duel_proto);
}

/* A route that closes its connection from inside the request callback. */
static void
close_request(void *arg, struct conn *c, const struct http_request *req,
    const char *body, size_t bodylen)
{
	(void)arg;
	(void)req;
	(void)body;
	(void)bodylen;
	http_response(conn_output(c), 200, "text/plain", NULL, "bye", 3, 0);
	conn_close(c);
}

static void
site_route(const char *path, unsigned methods,
    void (*fn)(void *, struct conn *, const struct http_request *,
    const char *, size_t))
{
	struct conn_route r;

	memset(&r, 0, sizeof(r));
	r.cr_path = path;
	r.cr_methods = methods;
	r.cr_allow = "GET, POST";
	r.cr_request = fn;
	conn_site_add(&site, &r);
}

/* --- the loop and the client ----------------------------------------------- */

static void
turn_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* One turn of the loop, ended by a short timer if nothing happens. */
static void
turn(void)
{
	struct timeval	 tv = { 0, TURN_MS * 1000 };
	struct event	*t = evtimer_new(base, turn_cb, NULL);

	evtimer_add(t, &tv);
	event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
}

static void
setup(void)
{
	char err[256];

	log_init(1, 0);
	conf = conf_load_buffer("test.conf", test_conf, strlen(test_conf), err,
	    sizeof(err));
	cr_assert_not_null(conf, "%s", err);
	base = event_base_new();
	cr_assert_not_null(base);
	host_init(&host);
	host.ch_base = base;
	host.ch_conf = conf;
	memset(&site, 0, sizeof(site));
	site.cs_name = "test";
	site_route("/hello", CONN_METHOD(HTTP_METHOD_GET) |
	    CONN_METHOD(HTTP_METHOD_POST), hello_request);
	site_route("/hold", 0, hold_request);
	site_route("/upgrade", 0, upgrade_request);
	site_route("/big", 0, big_request);
	site_route("/close", 0, close_request);
	site_route("/duel", 0, duel_request);
	closed_calls = drained_calls = duel_reads = 0;
	held = NULL;
	duel[0] = duel[1] = NULL;
	got = evbuffer_new();
}

static void
teardown(void)
{
	struct conn *c;

	while ((c = TAILQ_FIRST(&host.ch_conns)) != NULL)
		conn_close(c);
	/* Let the queues give back what they still hold. */
	turn();
	if (peer != -1)
		close(peer);
	if (peer2 != -1)
		close(peer2);
	if (handed_fd != -1)
		close(handed_fd);
	peer = peer2 = handed_fd = -1;
	conn_host_done(&host);
	evbuffer_free(got);
	event_base_free(base);
	conf_free(conf);
}

TestSuite(conn, .init = setup, .fini = teardown);

/* One more connection of the site, its client end in *peerp. */
static struct conn *
open_conn_as(int *peerp)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	conn_adopt(&host, &site, sv[0], "tester", NULL, 0);
	*peerp = sv[1];
	return (TAILQ_LAST(&host.ch_conns, conn_list));
}

/* The connection of a test that needs only one, its client end in peer. */
static struct conn *
open_conn(void)
{
	struct conn *c = open_conn_as(&peer);

	cr_assert_eq(host.ch_nconns, 1);
	return (c);
}

static void
send_all(const char *s)
{
	size_t len = strlen(s), off = 0;
	ssize_t n;

	while (off < len) {
		n = write(peer, s + off, len - off);
		if (n == -1 && errno == EAGAIN) {
			turn();
			continue;
		}
		cr_assert_gt(n, 0);
		off += (size_t)n;
	}
}

/* Read what the server writes until text has arrived n times. */
static char *
recv_until(const char *text, int n)
{
	static char	 buf[64 * 1024];
	size_t		 len = 0;
	ssize_t		 r;
	int		 i, found;
	const char	*p;

	buf[0] = '\0';
	for (i = 0; i < TURNS_MAX; i++) {
		r = read(peer, buf + len, sizeof(buf) - 1 - len);
		if (r > 0) {
			len += (size_t)r;
			buf[len] = '\0';
		}
		for (found = 0, p = buf; (p = strstr(p, text)) != NULL; p++)
			found++;
		if (found >= n)
			return (buf);
		if (r == 0)
			break;
		turn();
	}
	cr_assert_fail("waited for %d times \"%s\", got \"%s\"", n, text, buf);
	return (NULL);
}

/* Does the server close (EOF) within the turns allowed? */
static int
peer_sees_eof(void)
{
	char	buf[4096];
	ssize_t	r;
	int	i;

	for (i = 0; i < TURNS_MAX; i++) {
		r = read(peer, buf, sizeof(buf));
		if (r == 0)
			return (1);
		if (r == -1 && errno != EAGAIN)
			return (1);
		turn();
	}
	return (0);
}

/* The client has seen the server's FIN; it closes its end in turn. */
static void
close_after_linger(struct conn *c)
{
	int i;

	cr_assert_eq(c->c_state, CONN_LINGER,
	    "shut down for writing, still reading");
	close(peer);
	peer = -1;
	for (i = 0; i < TURNS_MAX && host.ch_nconns > 0; i++)
		turn();
	cr_assert_eq(host.ch_nconns, 0);
}

/* Turn the loop until c is taken over, and read its 101 from fd. */
static void
wait_upgraded(struct conn *c, int fd)
{
	char	buf[256];
	int	i;

	for (i = 0; i < TURNS_MAX && c->c_state != CONN_UPGRADED; i++)
		turn();
	cr_assert_eq(c->c_state, CONN_UPGRADED);
	for (i = 0; i < TURNS_MAX && read(fd, buf, sizeof(buf)) <= 0; i++)
		turn();
	cr_assert_lt(i, TURNS_MAX, "the 101 arrived");
}

static void
write_all(int fd, const char *s)
{
	cr_assert_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void
settle(void)
{
	int i;

	for (i = 0; i < 5; i++)
		turn();
}

/* --- tests ----------------------------------------------------------------- */

Test(conn, routes_and_holds_no_buffer_between_requests)
{
	struct conn *c = open_conn();

	send_all("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_not_null(strstr(recv_until("hello 0", 1), "HTTP/1.1 200 OK"));
	settle();
	cr_assert_eq(c->c_state, CONN_IDLE);
	cr_assert_null(c->c_in, "an idle connection holds no input buffer");
	cr_assert_null(c->c_out, "an idle connection holds no output buffer");
	cr_assert_null(c->c_wev);
	send_all("POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"
	    "abcde");
	recv_until("hello 5", 1);
	cr_assert_eq(c->c_nrequests, 2);
}

Test(conn, pipelined_requests_answered_in_order)
{
	char	*r, *a, *b;

	(void)open_conn();
	send_all("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
	    "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
	    "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
	r = recv_until("HTTP/1.1 200", 3);
	a = strstr(r, "hello 0");
	b = strstr(r, "hello 3");
	cr_assert(a != NULL && b != NULL && a < b);
	cr_assert_not_null(strstr(b, "hello 0"));
}

Test(conn, core_answers_404_405_and_bad_requests)
{
	struct conn *c = open_conn();

	send_all("GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n");
	recv_until("404 Not Found", 2);	/* the status line and the body */
	send_all("DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_not_null(strstr(recv_until("Allow: GET, POST", 1),
	    "405 Method Not Allowed"));
	cr_assert_eq(c->c_state, CONN_IDLE);
	send_all("NOT HTTP\r\n\r\n");
	recv_until("400 Bad Request", 1);
	cr_assert(peer_sees_eof(), "a bad request closes the connection");
	close_after_linger(c);
}

Test(conn, head_over_the_limit_refused)
{
	char head[6000];

	(void)open_conn();
	memset(head, 'a', sizeof(head));
	memcpy(head, "GET /hello HTTP/1.1\r\nX: ", 24);
	head[sizeof(head) - 1] = '\0';
	send_all(head);
	recv_until("431", 1);
	cr_assert(peer_sees_eof());
}

Test(conn, head_timeout_answers_408)
{
	struct conn *c = open_conn();

	send_all("GET /hello HTTP/1.1\r\n");
	recv_until("408 Request Timeout", 1);
	cr_assert(peer_sees_eof());
	close_after_linger(c);
}

Test(conn, held_request_answered_on_release)
{
	struct conn	*c = open_conn();
	char		 buf[64], *r;
	int		 i;

	/* The second request waits behind the held one. */
	send_all("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n"
	    "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
	for (i = 0; i < 100 && held == NULL; i++)
		turn();
	cr_assert_eq(held, c);
	settle();
	cr_assert_eq(read(peer, buf, sizeof(buf)), -1, "nothing answered yet");
	cr_assert_eq(c->c_state, CONN_BUSY);
	http_response(conn_output(c), 200, "text/plain", NULL, "late", 4, 1);
	conn_release(c);
	held = NULL;
	r = recv_until("hello 0", 1);
	cr_assert(strstr(r, "late") != NULL && strstr(r, "late") <
	    strstr(r, "hello 0"), "answers in the order of the requests");
	cr_assert_eq(closed_calls, 0);
}

Test(conn, held_request_hears_the_client_leave)
{
	int i;

	(void)open_conn();
	send_all("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
	for (i = 0; i < 100 && held == NULL; i++)
		turn();
	cr_assert_not_null(held);
	close(peer);
	peer = -1;
	for (i = 0; i < 100 && host.ch_nconns > 0; i++)
		turn();
	cr_assert_eq(host.ch_nconns, 0);
	cr_assert_eq(closed_calls, 1, "cp_closed once");
	cr_assert_null(held);
}

Test(conn, takeover_reads_frames_and_writes_directly)
{
	struct conn	*c = open_conn();
	struct iovec	 iov[2];
	char		 buf[64];
	ssize_t		 n;
	int		 i;

	/* Bytes right behind the upgrade request go to the new protocol. */
	send_all("GET /upgrade HTTP/1.1\r\nHost: x\r\n\r\nearly");
	recv_until("101 Switching", 1);
	for (i = 0; i < 100 && evbuffer_get_length(got) < 5; i++)
		turn();
	cr_assert_eq(c->c_state, CONN_UPGRADED);
	cr_assert_eq(evbuffer_get_length(got), 5);
	send_all("later");
	for (i = 0; i < 100 && evbuffer_get_length(got) < 10; i++)
		turn();
	cr_assert_eq(memcmp(evbuffer_pullup(got, -1), "earlylater", 10), 0);
	settle();
	cr_assert_null(c->c_in, "an idle upgraded connection holds no buffer");
	cr_assert_null(c->c_out);
	cr_assert_null(c->c_timer, "its protocol keeps its own time");
	iov[0].iov_base = (void *)"di";
	iov[0].iov_len = 2;
	iov[1].iov_base = (void *)"rect";
	iov[1].iov_len = 4;
	cr_assert_eq(conn_write_direct(c, iov, 2), 6);
	n = read(peer, buf, sizeof(buf));
	cr_assert_eq(n, 6);
	cr_assert_eq(memcmp(buf, "direct", 6), 0);
	close(peer);
	peer = -1;
	for (i = 0; i < 100 && host.ch_nconns > 0; i++)
		turn();
	cr_assert_eq(closed_calls, 1);
}

Test(conn, full_socket_waits_then_drains_and_frees)
{
	struct conn	*c = open_conn();
	char		 buf[64 * 1024], *blob;
	size_t		 total = 0;
	ssize_t		 n;
	int		 i;

	send_all("GET /upgrade HTTP/1.1\r\nHost: x\r\n\r\n");
	recv_until("\r\n\r\n", 1);
	settle();
	cr_assert_eq(drained_calls, 1, "the 101 was written");
	drained_calls = 0;
	/* More than the socket takes: the rest waits in the output. */
	cr_assert_eq(conn_output_len(c), 0);
	blob = malloc(BIG_BYTES);
	cr_assert_not_null(blob);
	memset(blob, 'y', BIG_BYTES);
	evbuffer_add(conn_output(c), blob, BIG_BYTES);
	free(blob);
	settle();
	cr_assert_gt(conn_output_len(c), 0);
	cr_assert_lt(conn_output_len(c), BIG_BYTES);
	cr_assert_not_null(c->c_wev, "a full socket has a write event");
	cr_assert_eq(conn_write_direct(c, NULL, 0), 0,
	    "no direct write while output waits");
	cr_assert_eq(drained_calls, 0);
	for (i = 0; i < 20 * TURNS_MAX && total < BIG_BYTES; i++) {
		if ((n = read(peer, buf, sizeof(buf))) > 0)
			total += (size_t)n;
		else
			turn();
	}
	cr_assert_eq(total, BIG_BYTES);
	settle();
	cr_assert_eq(drained_calls, 1, "cp_drained once the output is written");
	cr_assert_null(c->c_out, "the written output is given back");
	cr_assert_null(c->c_wev);
}

Test(conn, slow_reader_blocks_pipelining_then_resumes)
{
	char	buf[64 * 1024];
	size_t	total = 0;
	ssize_t	n;
	int	i;
	struct conn *c = open_conn();

	/* The big answer stays above CONN_OUTPUT_HIGH: /hello waits. */
	send_all("GET /big HTTP/1.1\r\nHost: x\r\n\r\n"
	    "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
	settle();
	cr_assert_eq(c->c_nrequests, 1);
	cr_assert_gt(conn_output_len(c), CONN_OUTPUT_HIGH);
	for (i = 0; i < 20 * TURNS_MAX && c->c_nrequests < 2; i++) {
		if ((n = read(peer, buf, sizeof(buf))) > 0)
			total += (size_t)n;
		else
			turn();
	}
	cr_assert_eq(c->c_nrequests, 2);
	cr_assert_gt(total, BIG_BYTES - CONN_OUTPUT_HIGH);
}

Test(conn, input_bounded_while_busy)
{
	struct conn	*c = open_conn();
	char		 chunk[4096];
	size_t		 max = conf->c_max_header_size + conf->c_max_body_size + 1;
	size_t		 sent = 0;
	ssize_t		 n;
	int		 i;

	send_all("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
	for (i = 0; i < 100 && held == NULL; i++)
		turn();
	cr_assert_eq(held, c);
	/* The client keeps sending; the connection stops reading at its bound. */
	memset(chunk, 'z', sizeof(chunk));
	for (i = 0; i < 400; i++) {
		n = write(peer, chunk, sizeof(chunk));
		if (n > 0)
			sent += (size_t)n;
		turn();
	}
	cr_assert_gt(sent, max, "the socket took more than the bound");
	cr_assert_leq(conn_input_len(c), max);
	cr_assert_geq(conn_input_len(c), max - CONN_READ_MAX);
}

Test(conn, close_inside_a_callback_is_safe)
{
	/*
	 * The route closes the connection while conn_process is below it on
	 * the stack with more requests to read: the conn lives until the
	 * callback returns, nothing after the close is served, and the
	 * sanitizer build would see any use after free.
	 */
	(void)open_conn();
	send_all("GET /close HTTP/1.1\r\nHost: x\r\n\r\n"
	    "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(peer_sees_eof());
	cr_assert_eq(host.ch_nconns, 0);
	settle();
	cr_assert(TAILQ_EMPTY(&host.ch_conns));
}

Test(conn, closing_another_connection_of_the_same_batch_is_safe)
{
	struct conn	*a = open_conn_as(&peer), *b = open_conn_as(&peer2);
	int		 i;

	duel[0] = a;
	duel[1] = b;
	write_all(peer, "GET /duel HTTP/1.1\r\nHost: x\r\n\r\n");
	write_all(peer2, "GET /duel HTTP/1.1\r\nHost: x\r\n\r\n");
	wait_upgraded(a, peer);
	wait_upgraded(b, peer2);
	settle();
	cr_assert_eq(duel_reads, 0);
	/*
	 * Both have input before the loop looks: one epoll_wait returns
	 * both, and the first to run closes the second, which must then not
	 * be read (the sanitizer build and valgrind would see its memory
	 * used after the free).
	 */
	write_all(peer, "a");
	write_all(peer2, "b");
	for (i = 0; i < TURNS_MAX && duel_reads == 0; i++)
		turn();
	settle();
	cr_assert_eq(duel_reads, 1, "the closed one is not read");
	cr_assert_eq(closed_calls, 1, "cp_closed once");
	cr_assert_eq(host.ch_nconns, 1);
	cr_assert_eq(evbuffer_get_length(got), 1);
	cr_assert((duel[0] == NULL) != (duel[1] == NULL));
}

static void
handed_conn(void *arg, int fd, const char *peername, const void *bytes,
    size_t len)
{
	(void)arg;
	(void)peername;
	(void)bytes;
	cr_assert_eq(len, 0);
	handed_fd = fd;
}

Test(conn, handed_over_connection_hears_nothing_more)
{
	static const struct handoff_cbs cbs = { handed_conn, NULL };
	struct handoff_mesh	*mesh;
	struct handoff		*here, *there;
	struct conn		*c = open_conn();
	char			 buf[64];
	size_t			 total = 0;
	ssize_t			 n;
	int			 i;

	/* Both workers of the mesh in this process, on this loop. */
	cr_assert_not_null(mesh = handoff_mesh_new(2));
	cr_assert_not_null(here = handoff_worker_attach(mesh, 0, base, &cbs,
	    NULL));
	cr_assert_not_null(there = handoff_worker_attach(mesh, 1, base, &cbs,
	    NULL));
	send_all("GET /upgrade HTTP/1.1\r\nHost: x\r\n\r\n");
	wait_upgraded(c, peer);
	settle();
	cr_assert_eq(conn_handoff_via(c, here, 1), 0);
	cr_assert_eq(host.ch_nconns, 0, "gone from this worker");
	for (i = 0; i < TURNS_MAX && handed_fd == -1; i++)
		turn();
	cr_assert_neq(handed_fd, -1);
	/*
	 * The socket is open in the other worker: what the client sends now
	 * is for it, and the freed conn must not be reported here.
	 */
	for (i = 0; i < 10; i++) {
		send_all("more");
		turn();
	}
	settle();
	cr_assert_eq(evbuffer_get_length(got), 0, "no cp_read after the handoff");
	cr_assert_eq(closed_calls, 0, "the holder let go before the handoff");
	cr_assert_eq(host.ch_nconns, 0);
	while ((n = read(handed_fd, buf, sizeof(buf))) > 0)
		total += (size_t)n;
	cr_assert_eq(total, 10 * strlen("more"), "the other worker gets it all");
	handoff_worker_free(there);
	handoff_worker_free(here);
	handoff_mesh_free(mesh);
}
