/*
 * test_route.c: routing across nodes.  The wire forms of forwarded
 * requests and answers (forward.c), the Redis channel names, and the
 * room layer's use of pub/sub (room.c): what it subscribes to and when,
 * what it publishes, and what it makes of messages from other nodes and
 * of its own, driven through the bundled echo component with fake
 * clients and fake pub/sub operations.
 */
#include "config.h"

#include <criterion/criterion.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "component.h"
#include "forward.h"
#include "log.h"
#include "nsp.h"
#include "room.h"
#include "sio_codec.h"

#define NSP		"/echo/1.0/echo"
#define BUS		"AAAA.1"	/* our node, generation 1 */
#define OTHER_BUS	"AAAA.2"	/* our node, generation 2 (a reload) */
#define OTHER		"BBBB"	/* another node */
#define PREFIX		"rain:"
#define NFAKES		3
#define CALLS_MAX	64

/* --- wire forms of forwarding ------------------------------------------ */

static struct evbuffer *
encode_req(const struct forward_req *q)
{
	struct evbuffer *b = evbuffer_new();

	cr_assert_not_null(b);
	forward_req_encode(b, q);
	return (b);
}

static void
sample_req(struct forward_req *q)
{
	static const char target[] = "/socket.io/?EIO=4&transport=polling&sid=x";
	static const char body[] = "42/echo/1.0/echo,1[\"ack\",1,2]";

	memset(q, 0, sizeof(*q));
	strcpy(q->fq_node, OTHER);
	q->fq_slot = 3;
	q->fq_generation = 63;
	q->fq_id = 0x0102030405060708ULL;
	q->fq_method = "POST";
	q->fq_methodlen = 4;
	q->fq_target = target;
	q->fq_targetlen = sizeof(target) - 1;
	q->fq_headers[0] = (struct forward_header){ "Host", 4, "example.org:80", 14 };
	q->fq_headers[1] = (struct forward_header){ "Cookie", 6, "rain.sid=a.b", 12 };
	q->fq_headers[2] = (struct forward_header){ "Content-Type", 12,
	    "text/plain;charset=UTF-8", 24 };
	q->fq_nheaders = 3;
	q->fq_body = body;
	q->fq_bodylen = sizeof(body) - 1;
}

static char *
to_string(struct evbuffer *b)
{
	size_t len = evbuffer_get_length(b);
	char *s = malloc(len + 1);

	cr_assert_not_null(s);
	evbuffer_copyout(b, s, len);
	s[len] = '\0';
	return (s);
}

Test(forward, request_round_trip)
{
	struct forward_req q, d;
	struct evbuffer *b, *h;
	unsigned char *p;
	size_t len;
	char *text;

	sample_req(&q);
	b = encode_req(&q);
	len = evbuffer_get_length(b);
	p = evbuffer_pullup(b, -1);
	cr_assert_eq(forward_req_decode(p, len, &d), 0);
	cr_expect_str_eq(d.fq_node, OTHER);
	cr_expect_eq(d.fq_slot, 3);
	cr_expect_eq(d.fq_generation, 63);
	cr_expect_eq(d.fq_id, 0x0102030405060708ULL);
	cr_expect_eq(d.fq_nheaders, 3);
	cr_expect_eq(d.fq_bodylen, q.fq_bodylen);
	cr_expect(memcmp(d.fq_body, q.fq_body, q.fq_bodylen) == 0);

	h = evbuffer_new();
	forward_req_http(h, &d);
	text = to_string(h);
	cr_expect_str_eq(text, "POST /socket.io/?EIO=4&transport=polling&sid=x HTTP/1.1\r\n"
	    "Host: example.org:80\r\nCookie: rain.sid=a.b\r\n"
	    "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 29\r\n"
	    "Connection: close\r\n\r\n42/echo/1.0/echo,1[\"ack\",1,2]");
	free(text);
	evbuffer_free(h);
	evbuffer_free(b);
}

Test(forward, request_without_host_is_http10)
{
	struct forward_req q, d;
	struct evbuffer *b, *h;
	char *text;

	sample_req(&q);
	q.fq_method = "GET";
	q.fq_methodlen = 3;
	q.fq_headers[0] = q.fq_headers[1];
	q.fq_nheaders = 1;
	q.fq_bodylen = 0;
	b = encode_req(&q);
	cr_assert_eq(forward_req_decode(evbuffer_pullup(b, -1), evbuffer_get_length(b),
	    &d), 0);
	h = evbuffer_new();
	forward_req_http(h, &d);
	text = to_string(h);
	cr_expect_str_eq(text, "GET /socket.io/?EIO=4&transport=polling&sid=x HTTP/1.0\r\n"
	    "Cookie: rain.sid=a.b\r\nConnection: close\r\n\r\n");
	free(text);
	evbuffer_free(h);
	evbuffer_free(b);
}

/* Every proper prefix of a good message is refused, and so is one byte more. */
Test(forward, request_truncated_or_long)
{
	struct forward_req q, d;
	struct evbuffer *b;
	unsigned char *p, *longer;
	size_t len, i;

	sample_req(&q);
	b = encode_req(&q);
	len = evbuffer_get_length(b);
	p = evbuffer_pullup(b, -1);
	for (i = 0; i < len; i++)
		cr_expect_eq(forward_req_decode(p, i, &d), -1, "prefix of %zu bytes", i);
	longer = malloc(len + 1);
	memcpy(longer, p, len);
	longer[len] = 'x';
	cr_expect_eq(forward_req_decode(longer, len + 1, &d), -1);
	free(longer);
	evbuffer_free(b);
}

static int
decode_modified(void (*modify)(struct forward_req *))
{
	struct forward_req q, d;
	struct evbuffer *b;
	int rc;

	sample_req(&q);
	modify(&q);
	b = encode_req(&q);
	rc = forward_req_decode(evbuffer_pullup(b, -1), evbuffer_get_length(b), &d);
	evbuffer_free(b);
	return (rc);
}

static void m_none(struct forward_req *q) { (void)q; }
static void m_tag(struct forward_req *q) { strcpy(q->fq_node, "A:B"); }
static void m_tag_empty(struct forward_req *q) { q->fq_node[0] = '\0'; }
static void m_slot(struct forward_req *q) { q->fq_slot = 64; }
static void m_method(struct forward_req *q) { q->fq_method = "get"; }
static void m_method_empty(struct forward_req *q) { q->fq_methodlen = 0; }
static void m_target_crlf(struct forward_req *q) {
	q->fq_target = "/x\r\nX: y"; q->fq_targetlen = 8; }
static void m_target_space(struct forward_req *q) {
	q->fq_target = "/x HTTP/1.1"; q->fq_targetlen = 11; }
static void m_target_rel(struct forward_req *q) {
	q->fq_target = "x"; q->fq_targetlen = 1; }
static void m_header_name(struct forward_req *q) {
	q->fq_headers[0].fh_name = "Connection"; q->fq_headers[0].fh_namelen = 10; }
static void m_header_twice(struct forward_req *q) {
	q->fq_headers[1] = q->fq_headers[0]; }
static void m_header_lf(struct forward_req *q) {
	q->fq_headers[1].fh_value = "a\nb"; q->fq_headers[1].fh_valuelen = 3; }
static void m_header_nul(struct forward_req *q) {
	q->fq_headers[1].fh_value = "a\0b"; q->fq_headers[1].fh_valuelen = 3; }
static void m_header_case(struct forward_req *q) {
	q->fq_headers[0].fh_name = "hOST"; }

Test(forward, request_malformed_refused)
{
	cr_expect_eq(decode_modified(m_none), 0);
	cr_expect_eq(decode_modified(m_header_case), 0);
	cr_expect_eq(decode_modified(m_tag), -1);
	cr_expect_eq(decode_modified(m_tag_empty), -1);
	cr_expect_eq(decode_modified(m_slot), -1);
	cr_expect_eq(decode_modified(m_method), -1);
	cr_expect_eq(decode_modified(m_method_empty), -1);
	cr_expect_eq(decode_modified(m_target_crlf), -1);
	cr_expect_eq(decode_modified(m_target_space), -1);
	cr_expect_eq(decode_modified(m_target_rel), -1);
	cr_expect_eq(decode_modified(m_header_name), -1);
	cr_expect_eq(decode_modified(m_header_twice), -1);
	cr_expect_eq(decode_modified(m_header_lf), -1);
	cr_expect_eq(decode_modified(m_header_nul), -1);
}

Test(forward, request_bad_version_or_type)
{
	struct forward_req q, d;
	struct evbuffer *b;
	unsigned char *p;
	size_t len;

	sample_req(&q);
	b = encode_req(&q);
	len = evbuffer_get_length(b);
	p = evbuffer_pullup(b, -1);
	p[0] = 2;
	cr_expect_eq(forward_req_decode(p, len, &d), -1);
	p[0] = 1;
	p[1] = 'R';
	cr_expect_eq(forward_req_decode(p, len, &d), -1);
	evbuffer_free(b);
}

Test(forward, response_round_trip)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	struct evbuffer *b = evbuffer_new();
	const void *r;
	unsigned char *p;
	uint64_t id;
	size_t len, rlen, i;

	forward_resp_encode(b, 42, resp, sizeof(resp) - 1);
	len = evbuffer_get_length(b);
	p = evbuffer_pullup(b, -1);
	cr_assert_eq(forward_resp_decode(p, len, &id, &r, &rlen), 0);
	cr_expect_eq(id, 42);
	cr_expect_eq(rlen, sizeof(resp) - 1);
	cr_expect(memcmp(r, resp, rlen) == 0);
	for (i = 0; i < len; i++)
		cr_expect_eq(forward_resp_decode(p, i, &id, &r, &rlen), -1, "%zu", i);
	p[1] = 'Q';
	cr_expect_eq(forward_resp_decode(p, len, &id, &r, &rlen), -1);
	evbuffer_free(b);

	/* No answer at all: an empty response. */
	b = evbuffer_new();
	forward_resp_encode(b, 7, NULL, 0);
	cr_assert_eq(forward_resp_decode(evbuffer_pullup(b, -1), evbuffer_get_length(b),
	    &id, &r, &rlen), 0);
	cr_expect_eq(id, 7);
	cr_expect_eq(rlen, 0);
	evbuffer_free(b);
}

static char *
rewrite(const char *resp, int keepalive, int *rc)
{
	struct evbuffer *b = evbuffer_new();
	char *s;

	*rc = forward_resp_rewrite(b, resp, strlen(resp), keepalive);
	s = to_string(b);
	evbuffer_free(b);
	return (s);
}

Test(forward, response_rewrite)
{
	static const char owner[] = "HTTP/1.1 200 OK\r\nDate: x\r\n"
	    "Content-Type: text/plain; charset=UTF-8\r\nContent-Length: 4\r\n"
	    "Connection: close\r\n\r\n2\x1e" "6x";
	char *s;
	int rc;

	s = rewrite(owner, 1, &rc);
	cr_expect_eq(rc, 0);
	cr_expect_str_eq(s, "HTTP/1.1 200 OK\r\nDate: x\r\n"
	    "Content-Type: text/plain; charset=UTF-8\r\nContent-Length: 4\r\n"
	    "\r\n2\x1e" "6x");
	free(s);
	s = rewrite(owner, 0, &rc);
	cr_expect_eq(rc, 0);
	cr_expect_str_eq(s, "HTTP/1.1 200 OK\r\nDate: x\r\n"
	    "Content-Type: text/plain; charset=UTF-8\r\nContent-Length: 4\r\n"
	    "Connection: close\r\n\r\n2\x1e" "6x");
	free(s);
	s = rewrite("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
	    "connection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n", 1, &rc);
	cr_expect_eq(rc, 0);
	cr_expect_str_eq(s, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
	free(s);
}

Test(forward, response_rewrite_refuses)
{
	static const char *const bad[] = {
		"",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokk",	/* too long */
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok",	/* too short */
		"HTTP/1.1 200 OK\r\n\r\nok",				/* no length */
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n",		/* no end of head */
		"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\nX: y\r\nContent-Length: 2\r\n\r\nok",	/* bare LF */
		"HTTP/1.1 200 OK\r\nX: y\nSet-Cookie: z\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nX: y\rz\r\nContent-Length: 2\r\n\r\nok",
		"garbage",
	};
	size_t i;
	char *s;
	int rc;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = rewrite(bad[i], 1, &rc);
		cr_expect_eq(rc, -1, "#%zu accepted", i);
		cr_expect_str_eq(s, "", "#%zu left output", i);
		free(s);
	}
}

Test(forward, channels)
{
	char *s = forward_channel(PREFIX, "Ab-_", 5, 63);

	cr_expect_str_eq(s, "rain:w:Ab-_:5:63");
	free(s);
}

/* --- channel names of rooms -------------------------------------------- */

Test(room_channel, names_and_escapes)
{
	char *a, *b;

	a = room_channel(PREFIX, NSP, "lobby");
	cr_expect_str_eq(a, "rain:r:/echo/1.0/echo:lobby");
	free(a);
	a = room_channel(PREFIX, NSP, NULL);
	cr_expect_str_eq(a, "rain:n:/echo/1.0/echo");
	free(a);
	a = room_channel("", "/a%b:c", "d:e");
	cr_expect_str_eq(a, "r:/a%25b%3Ac:d:e");
	free(a);
	/* The same bytes split differently are different channels. */
	a = room_channel(PREFIX, "/a:b", "c");
	b = room_channel(PREFIX, "/a", "b:c");
	cr_expect_str_neq(a, b);
	free(a);
	free(b);
	a = room_channel(PREFIX, "/a%3Ab", "c");
	b = room_channel(PREFIX, "/a:b", "c");
	cr_expect_str_neq(a, b);
	free(a);
	free(b);
}

/* --- rooms through pub/sub --------------------------------------------- */

struct fake {
	struct nsp_client	*nc;
	struct nsp_msg		**msgs;
	size_t			  nmsgs;
};

struct call {
	char		*channel;
	unsigned char	*msg;
	size_t		 len;
};

static struct event_base	*base;
static struct component_set	*set;
static struct nsp_registry	*reg;
static struct fake		 fakes[NFAKES];
static struct call		 pubs[CALLS_MAX], subs[CALLS_MAX], unsubs[CALLS_MAX];
static size_t			 npubs, nsubs, nunsubs;
static struct call		 bus[CALLS_MAX];
static size_t			 nbus;

static void
record(struct call *c, size_t *n, const char *channel, const void *msg, size_t len)
{
	cr_assert(*n < CALLS_MAX);
	c[*n].channel = channel != NULL ? strdup(channel) : NULL;
	c[*n].msg = malloc(len + 1);
	if (len > 0)
		memcpy(c[*n].msg, msg, len);
	c[*n].len = len;
	(*n)++;
}

static void
clear(struct call *c, size_t *n)
{
	size_t i;

	for (i = 0; i < *n; i++) {
		free(c[i].channel);
		free(c[i].msg);
	}
	*n = 0;
}

static void
op_publish(void *arg, const char *channel, const void *msg, size_t len)
{
	(void)arg;
	record(pubs, &npubs, channel, msg, len);
}

static void
op_subscribe(void *arg, const char *channel)
{
	(void)arg;
	record(subs, &nsubs, channel, NULL, 0);
}

static void
op_unsubscribe(void *arg, const char *channel)
{
	(void)arg;
	record(unsubs, &nunsubs, channel, NULL, 0);
}

static void
op_bus(void *arg, const void *msg, size_t len)
{
	(void)arg;
	record(bus, &nbus, NULL, msg, len);
}

/* No waiting for subscriptions: room.c treats a NULL ro_wait as "none". */
static const struct room_remote_ops fake_remote = {
	.ro_publish = op_publish, .ro_subscribe = op_subscribe,
	.ro_unsubscribe = op_unsubscribe, .ro_wait = NULL
};

static void
fake_send(void *arg, struct nsp_msg *m)
{
	struct fake *f = arg;

	f->msgs = realloc(f->msgs, (f->nmsgs + 1) * sizeof(*f->msgs));
	cr_assert_not_null(f->msgs);
	f->msgs[f->nmsgs++] = nsp_msg_ref(m);
}

static void
fake_close(void *arg, enum nsp_close mode, unsigned int delay)
{
	(void)arg;
	(void)mode;
	(void)delay;
}

static const struct nsp_client_ops fake_ops = { fake_send, fake_close };

static size_t
count(struct fake *f, const char *text)
{
	size_t i, n = 0;

	for (i = 0; i < f->nmsgs; i++)
		if (strcmp(f->msgs[i]->nm_data, text) == 0)
			n++;
	return (n);
}

static void
feed(struct fake *f, const char *text)
{
	struct sio_packet p;
	char err[SIO_NSP_MAX];

	cr_assert(sio_decode(text, strlen(text), &p, err, sizeof(err)) == 0, "%s: %s",
	    text, err);
	cr_assert_eq(nsp_client_packet(f->nc, &p), 0, "%s", text);
}

static struct fake *
fake_connect(int i)
{
	struct fake *f = &fakes[i];
	char id[16];

	snprintf(id, sizeof(id), "eio%d", i);
	f->nc = nsp_client_new(reg, &fake_ops, f, id);
	feed(f, "0" NSP ",");
	cr_assert_geq(f->nmsgs, 1);
	cr_assert(strncmp(f->msgs[0]->nm_data, "40" NSP ",", strlen("40" NSP ",")) == 0);
	return (f);
}

static void
fake_gone(struct fake *f)
{
	size_t i;

	if (f->nc != NULL)
		nsp_client_closed(f->nc, "transport close");
	f->nc = NULL;
	for (i = 0; i < f->nmsgs; i++)
		nsp_msg_unref(f->msgs[i]);
	free(f->msgs);
	f->msgs = NULL;
	f->nmsgs = 0;
}

static void
start(void)
{
	struct nsp_settings ns;
	const char *dirs[1];
	const char *b = getenv("RAIND_BUILDDIR");
	char path[PATH_MAX], err[COMPONENT_ERR_MAX];

	log_setlevel(LOG_LEVEL_ERROR);
	base = event_base_new();
	cr_assert_not_null(base);
	snprintf(path, sizeof(path), "%s/handlers/built", b != NULL ? b : ".");
	dirs[0] = path;
	set = component_discover(dirs, 1, err, sizeof(err));
	cr_assert_not_null(set, "%s", err);
	nsp_settings_default(&ns);
	reg = nsp_registry_new(base, set, &ns);
	cr_assert_not_null(reg);
	memset(fakes, 0, sizeof(fakes));
	room_set_publisher(nsp_registry_routing(reg), op_bus, NULL);
	room_set_remote(nsp_registry_routing(reg), &fake_remote, NULL, PREFIX,
	    BUS);
}

static void
stop(void)
{
	int i;

	for (i = 0; i < NFAKES; i++)
		fake_gone(&fakes[i]);
	nsp_registry_free(reg);
	component_set_free(set);
	event_base_free(base);
	clear(pubs, &npubs);
	clear(subs, &nsubs);
	clear(unsubs, &nunsubs);
	clear(bus, &nbus);
}

TestSuite(room_remote, .init = start, .fini = stop);

Test(room_remote, namespace_channel_follows_first_and_last_socket)
{
	struct fake *a, *b;

	a = fake_connect(0);
	cr_assert_eq(nsubs, 1);
	cr_expect_str_eq(subs[0].channel, "rain:n:" NSP);
	b = fake_connect(1);
	cr_expect_eq(nsubs, 1);
	fake_gone(a);
	cr_expect_eq(nunsubs, 0);
	fake_gone(b);
	cr_assert_eq(nunsubs, 1);
	cr_expect_str_eq(unsubs[0].channel, "rain:n:" NSP);
}

Test(room_remote, room_channel_follows_first_and_last_member)
{
	struct fake *a = fake_connect(0), *b = fake_connect(1);

	clear(subs, &nsubs);
	feed(a, "2" NSP ",1[\"join\",\"r 1\"]");
	cr_assert_eq(nsubs, 1);
	cr_expect_str_eq(subs[0].channel, "rain:r:" NSP ":r 1");
	feed(b, "2" NSP ",1[\"join\",\"r 1\"]");
	feed(a, "2" NSP ",2[\"join\",\"r 1\"]");
	cr_expect_eq(nsubs, 1);
	feed(a, "2" NSP ",3[\"leave\",\"r 1\"]");
	cr_expect_eq(nunsubs, 0);
	/* The last member leaves by disconnecting. */
	fake_gone(b);
	cr_assert_eq(nunsubs, 1);
	cr_expect_str_eq(unsubs[0].channel, "rain:r:" NSP ":r 1");
}

/* One publish per emit, on the room's channel, carrying our tag and the bus message. */
Test(room_remote, emit_published_once)
{
	struct fake *a = fake_connect(0), *b = fake_connect(1);
	const char *want = "42" NSP ",[\"room-message\",\"r\",{\"x\":1}]";

	feed(a, "2" NSP ",1[\"join\",\"r\"]");
	clear(pubs, &npubs);
	clear(bus, &nbus);
	feed(b, "2" NSP ",2[\"to-room\",\"r\",{\"x\":1}]");
	cr_expect_eq(count(a, want), 1);
	cr_expect_eq(count(b, want), 0);
	cr_assert_eq(npubs, 1);
	cr_assert_eq(nbus, 1);
	cr_expect_str_eq(pubs[0].channel, "rain:r:" NSP ":r");
	cr_assert_eq(pubs[0].len, bus[0].len + 2 + strlen(BUS));
	cr_expect_eq(pubs[0].msg[0], 2);
	cr_expect_eq(pubs[0].msg[1], strlen(BUS));
	cr_expect(memcmp(pubs[0].msg + 2, BUS, strlen(BUS)) == 0);
	cr_expect(memcmp(pubs[0].msg + 2 + strlen(BUS), bus[0].msg, bus[0].len) == 0);

	/* A broadcast goes on the namespace's channel. */
	clear(pubs, &npubs);
	feed(b, "2" NSP ",3[\"broadcast\",7]");
	cr_assert_eq(npubs, 1);
	cr_expect_str_eq(pubs[0].channel, "rain:n:" NSP);
}

/* What another node published reaches each local member once; our own is dropped. */
Test(room_remote, messages_from_other_nodes)
{
	struct fake *a = fake_connect(0), *b = fake_connect(1), *c = fake_connect(2);
	const char *want = "42" NSP ",[\"room-message\",\"r\",{\"x\":1}]";
	unsigned char *msg;
	size_t len;

	feed(a, "2" NSP ",1[\"join\",\"r\"]");
	feed(b, "2" NSP ",1[\"join\",\"r\"]");
	clear(pubs, &npubs);
	feed(c, "2" NSP ",2[\"to-room\",\"r\",{\"x\":1}]");
	cr_assert_eq(npubs, 1);
	cr_expect_eq(count(a, want), 1);
	cr_expect_eq(count(b, want), 1);

	/* Our own message, back from Redis: nothing more. */
	cr_expect_eq(room_remote_message(reg, pubs[0].msg, pubs[0].len), 0);
	cr_expect_eq(count(a, want), 1);
	cr_expect_eq(count(b, want), 1);
	cr_expect_eq(count(c, want), 0);

	/*
	 * The same from another bus (another node, or our node's other
	 * generation during a reload): once more to each member, not to c.
	 */
	len = pubs[0].len;
	msg = malloc(len);
	memcpy(msg, pubs[0].msg, len);
	memcpy(msg + 2, OTHER_BUS, strlen(OTHER_BUS));
	cr_expect_eq(room_remote_message(reg, msg, len), 0);
	cr_expect_eq(count(a, want), 2);
	cr_expect_eq(count(b, want), 2);
	cr_expect_eq(count(c, want), 0);
	/* Nothing of it went back out. */
	cr_expect_eq(npubs, 1);
	free(msg);
}

Test(room_remote, malformed_messages_refused)
{
	struct fake *a = fake_connect(0), *b = fake_connect(1);
	unsigned char *msg;
	size_t len, i;

	feed(a, "2" NSP ",1[\"join\",\"r\"]");
	clear(pubs, &npubs);
	feed(b, "2" NSP ",2[\"to-room\",\"r\",1]");
	cr_assert_eq(npubs, 1);
	len = pubs[0].len;
	msg = malloc(len + 1);
	memcpy(msg, pubs[0].msg, len);
	memcpy(msg + 2, OTHER_BUS, strlen(OTHER_BUS));
	for (i = 0; i < len; i++)
		cr_expect_eq(room_remote_message(reg, msg, i), -1, "prefix of %zu", i);
	msg[len] = 0;
	cr_expect_eq(room_remote_message(reg, msg, len + 1), -1);
	msg[0] = 1;
	cr_expect_eq(room_remote_message(reg, msg, len), -1);
	msg[0] = 2;
	msg[1] = 0;
	cr_expect_eq(room_remote_message(reg, msg, len), -1);
	msg[1] = (unsigned char)strlen(OTHER_BUS);
	msg[2 + strlen(OTHER_BUS)] = 9;	/* the bus version */
	cr_expect_eq(room_remote_message(reg, msg, len), -1);
	free(msg);
	/* Nothing of that reached anyone. */
	cr_expect_eq(count(a, "42" NSP ",[\"room-message\",\"r\",1]"), 1);
}
