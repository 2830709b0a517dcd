/*
 * test_handler.c: the dispatch layer (nsp.c, handler.c, room.c) driven
 * with decoded Socket.IO packets through fake clients that capture the
 * encoded output, on a real event_base.  The modules come from the trees
 * that "make check" assembles (t/components-assemble.sh): the test
 * modules of t/modules and the bundled echo and chat components.
 */
#include "config.h"

#include <criterion/criterion.h>

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "rain/handler.h"

#include "component.h"
#include "log.h"
#include "nsp.h"
#include "sio_codec.h"

#define WAIT_MAX_MS	5000	/* a test that waits longer has failed */
#define NFAKES		4

#define ALPHA		"/alpha/1.0/main"

struct fake {
	struct nsp_client	*nc;
	struct nsp_msg		**msgs;
	size_t			  nmsgs;
	int			  closes;
	int			  close_mode;
	unsigned int		  close_delay;
};

static struct event_base	*base;
static struct component_set	*set;
static struct nsp_registry	*reg;
static struct fake		 fakes[NFAKES];

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
	struct fake *f = arg;

	f->closes++;
	f->close_mode = mode;
	f->close_delay = delay;
}

static const struct nsp_client_ops fake_ops = { fake_send, fake_close };

static void
fake_clear(struct fake *f)
{
	size_t i;

	for (i = 0; i < f->nmsgs; i++)
		nsp_msg_unref(f->msgs[i]);
	free(f->msgs);
	f->msgs = NULL;
	f->nmsgs = 0;
}

static struct fake *
fake_new(int i)
{
	struct fake *f = &fakes[i];
	char id[16];

	memset(f, 0, sizeof(*f));
	snprintf(id, sizeof(id), "eio%d", i);
	f->nc = nsp_client_new(reg, &fake_ops, f, id);
	return (f);
}

static void
fake_gone(struct fake *f, const char *reason)
{
	if (f->nc != NULL)
		nsp_client_closed(f->nc, reason);
	f->nc = NULL;
}

static long
elapsed_ms(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return ((t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000);
}

/* Run the loop until cond holds; timers fire, nothing sleeps. */
#define RUN_UNTIL(cond) do {						\
	struct timespec t0_;						\
									\
	clock_gettime(CLOCK_MONOTONIC, &t0_);				\
	while (!(cond)) {						\
		cr_assert(elapsed_ms(&t0_) < WAIT_MAX_MS,		\
		    "timed out waiting for %s", #cond);			\
		event_base_loop(base, EVLOOP_ONCE);			\
	}								\
} while (0)

static char *
path_of(const char *rel)
{
	static char path[PATH_MAX];
	const char *b = getenv("RAIND_BUILDDIR");

	snprintf(path, sizeof(path), "%s/%s", b != NULL ? b : ".", rel);
	return (path);
}

static void
start(const char *rel, int64_t timeout_ms, size_t queue_max)
{
	struct nsp_settings ns;
	const char *dirs[1];
	char err[COMPONENT_ERR_MAX];

	log_setlevel(LOG_LEVEL_ERROR);
	base = event_base_new();
	cr_assert_not_null(base);
	dirs[0] = path_of(rel);
	set = component_discover(dirs, 1, err, sizeof(err));
	cr_assert_not_null(set, "%s", err);
	nsp_settings_default(&ns);
	if (timeout_ms > 0)
		ns.ns_handler_timeout = timeout_ms;
	if (queue_max > 0)
		ns.ns_queue_max = queue_max;
	reg = nsp_registry_new(base, set, &ns);
	memset(fakes, 0, sizeof(fakes));
}

static void
start_good(void)
{
	start("t/components-trees/good", 0, 0);
}

static void
stop(void)
{
	int i, allowed;

	for (i = 0; i < NFAKES; i++)
		fake_gone(&fakes[i], "transport close");
	/* Let pending timers of handlers finish before the sockets go. */
	allowed = reg->nr_pool != NULL ? 1 : 0;
	RUN_UNTIL(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED) <= allowed);
	nsp_registry_free(reg);
	for (i = 0; i < NFAKES; i++)
		fake_clear(&fakes[i]);
	component_set_free(set);
	event_base_free(base);
}

static int
feed(struct fake *f, const char *text)
{
	struct sio_packet p;
	char err[SIO_NSP_MAX];

	cr_assert(sio_decode(text, strlen(text), &p, err, sizeof(err)) == 0, "%s: %s", text, err);
	return (nsp_client_packet(f->nc, &p));
}

static int
feed_bin(struct fake *f, const char *text, const void *data, size_t len)
{
	struct sio_packet p;
	char err[SIO_NSP_MAX];

	cr_assert(sio_decode(text, strlen(text), &p, err, sizeof(err)) == 0, "%s: %s", text, err);
	cr_assert_eq(sio_add_attachment(&p, data, len), 1);
	return (nsp_client_packet(f->nc, &p));
}

static const char *
out(struct fake *f, size_t i)
{
	cr_assert(i < f->nmsgs, "only %zu messages, wanted #%zu", f->nmsgs, i);
	return (f->msgs[i]->nm_data);
}

/* Index of the first message from `from` on that starts with prefix, or -1. */
static long
find_from(struct fake *f, size_t from, const char *prefix)
{
	size_t i;

	for (i = from; i < f->nmsgs; i++)
		if (strncmp(f->msgs[i]->nm_data, prefix, strlen(prefix)) == 0)
			return ((long)i);
	return (-1);
}

static long
find(struct fake *f, const char *prefix)
{
	return (find_from(f, 0, prefix));
}

static size_t
count(struct fake *f, const char *text)
{
	size_t i, n = 0;

	for (i = 0; i < f->nmsgs; i++)
		if (strcmp(f->msgs[i]->nm_data, text) == 0)
			n++;
	return (n);
}

/* Connect f to nsp and check the CONNECT answer; returns the socket id. */
static const char *
connect_to(struct fake *f, const char *nsp)
{
	static char sid[NSP_SOCKET_ID_LEN + 1];
	char pkt[256], want[256];
	const char *o;
	size_t before = f->nmsgs;

	snprintf(pkt, sizeof(pkt), "0%s,", nsp);
	cr_assert_eq(feed(f, pkt), 0);
	/* The answer waits for the session's load when there is a store. */
	RUN_UNTIL(f->nmsgs > before);
	o = out(f, before);
	snprintf(want, sizeof(want), "40%s,{\"sid\":\"", nsp);
	cr_assert(strncmp(o, want, strlen(want)) == 0, "%s", o);
	cr_assert_eq(strlen(o), strlen(want) + NSP_SOCKET_ID_LEN + 2, "%s", o);
	memcpy(sid, o + strlen(want), NSP_SOCKET_ID_LEN);
	sid[NSP_SOCKET_ID_LEN] = '\0';
	return (sid);
}

static void *
module_sym(const char *name)
{
	const struct component_nsp *cn = component_nsp_find(set, ALPHA);
	void *p;

	cr_assert_not_null(cn);
	p = dlsym(cn->cn_modules[0]->cm_dl, name);
	cr_assert_not_null(p, "%s", name);
	return (p);
}

TestSuite(nsp, .init = start_good, .fini = stop);

Test(nsp, unknown_namespace_refused)
{
	struct fake *f = fake_new(0);

	cr_expect_eq(feed(f, "0/nope,"), 0);
	cr_expect_str_eq(out(f, 0), "44/nope,{\"message\":\"Invalid namespace\"}");
	/* A component's namespace needs the whole name. */
	cr_expect_eq(feed(f, "0/alpha/1.0,"), 0);
	cr_expect_str_eq(out(f, 1), "44/alpha/1.0,{\"message\":\"Invalid namespace\"}");
	cr_expect_eq(f->closes, 0);
}

Test(nsp, main_namespace_always_exists)
{
	struct fake *f = fake_new(0);

	cr_assert_eq(feed(f, "0"), 0);
	cr_expect(strncmp(out(f, 0), "40{\"sid\":\"", 10) == 0, "%s", out(f, 0));
	/* No handlers: events are dropped without an acknowledgement. */
	cr_expect_eq(feed(f, "21[\"anything\"]"), 0);
	cr_expect_eq(f->nmsgs, 1);
}

Test(nsp, connect_runs_every_handle_in_order)
{
	struct fake *f = fake_new(0);
	const char *sid = connect_to(f, ALPHA);

	cr_expect_eq(strspn(sid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_"), NSP_SOCKET_ID_LEN);
	cr_assert_eq(f->nmsgs, 3);
	cr_expect_str_eq(out(f, 1), "42/alpha/1.0/main,[\"hello-alpha\"]");
	cr_expect_str_eq(out(f, 2), "42/alpha/1.0/main,[\"hello-beta\",\"alpha\"]");
}

Test(nsp, channel_with_leading_slash)
{
	struct fake *f = fake_new(0);

	connect_to(f, "/alpha/1.0/slashed");
	cr_expect_str_eq(out(f, 1), "42/alpha/1.0/slashed,[\"hello-slash\",\"/alpha/1.0/slashed\"]");
}

Test(nsp, socket_ids_differ)
{
	struct fake *a = fake_new(0), *b = fake_new(1);
	char sa[NSP_SOCKET_ID_LEN + 1];

	strcpy(sa, connect_to(a, ALPHA));
	cr_expect_str_neq(sa, connect_to(b, ALPHA));
}

Test(nsp, protocol_violations)
{
	struct fake *f = fake_new(0);

	/* Node closes the connection on each of these ("invalid state"). */
	cr_expect_eq(feed(f, "2/alpha/1.0/main,[\"ping\"]"), -1);
	cr_expect_eq(feed(f, "3/alpha/1.0/main,1[]"), -1);
	cr_expect_eq(feed(f, "1/alpha/1.0/main,"), -1);
	connect_to(f, ALPHA);
	cr_expect_eq(feed(f, "0/alpha/1.0/main,"), -1);
	cr_expect_eq(feed(f, "4/alpha/1.0/main,{\"message\":\"x\"}"), -1);
	/* Reserved names are refused by the codec already; the layer checks too. */
	cr_expect_eq(nsp_event_reserved("disconnect"), 1);
	cr_expect_eq(nsp_event_reserved("newListener"), 1);
	cr_expect_eq(nsp_event_reserved("ping"), 0);
	/* An unknown ack id is ignored. */
	cr_expect_eq(feed(f, "3/alpha/1.0/main,99[1]"), 0);
}

Test(nsp, default_ack_forms)
{
	struct fake *f = fake_new(0);

	connect_to(f, ALPHA);
	cr_assert_eq(feed(f, "2/alpha/1.0/main,1[\"ping\"]"), 0);
	cr_expect_str_eq(out(f, 3), "43/alpha/1.0/main,1[null,\"pong\"]");
	/* A failing listener: error first; the other module's listener still ran. */
	cr_assert_eq(feed(f, "2/alpha/1.0/main,2[\"fail\"]"), 0);
	cr_expect_str_eq(out(f, 4), "42/alpha/1.0/main,[\"beta-ran\"]");
	cr_expect_str_eq(out(f, 5), "43/alpha/1.0/main,2[{\"message\":\"alpha failed\"}]");
	/* No reply value: [null, null]. */
	cr_assert_eq(feed(f, "2/alpha/1.0/main,3[\"order\"]"), 0);
	cr_expect_str_eq(out(f, 8), "43/alpha/1.0/main,3[null,null]");
	/* Without an ack id, nothing is acknowledged. */
	cr_assert_eq(feed(f, "2/alpha/1.0/main,[\"ping\"]"), 0);
	cr_expect_eq(f->nmsgs, 9);
	/* A listener returning RAIN_DEFERRED without a deferral is an error. */
	cr_assert_eq(feed(f, "2/alpha/1.0/main,4[\"bad-return\"]"), 0);
	cr_expect_str_eq(out(f, 9), "43/alpha/1.0/main,4[{\"message\":\"handler error\"}]");
	cr_expect_eq(f->closes, 0);
}

Test(nsp, exact_ack_arguments)
{
	struct fake *f = fake_new(0);

	connect_to(f, ALPHA);
	cr_assert_eq(feed(f, "2/alpha/1.0/main,7[\"exact\",1,\"a\",{\"b\":[true,null]}]"), 0);
	cr_expect_str_eq(out(f, 3), "43/alpha/1.0/main,7[1,\"a\",{\"b\":[true,null]}]");
	cr_assert_eq(feed(f, "2/alpha/1.0/main,8[\"exact\"]"), 0);
	cr_expect_str_eq(out(f, 4), "43/alpha/1.0/main,8[]");
}

Test(nsp, listener_order_across_modules)
{
	struct fake *f = fake_new(0);

	connect_to(f, ALPHA);
	cr_assert_eq(feed(f, "2/alpha/1.0/main,[\"order\",1]"), 0);
	cr_assert_eq(feed(f, "2/alpha/1.0/main,[\"order\",2]"), 0);
	cr_expect_str_eq(out(f, 3), "42/alpha/1.0/main,[\"order-alpha\",1]");
	cr_expect_str_eq(out(f, 4), "42/alpha/1.0/main,[\"order-beta\",1]");
	cr_expect_str_eq(out(f, 5), "42/alpha/1.0/main,[\"order-alpha\",2]");
	cr_expect_str_eq(out(f, 6), "42/alpha/1.0/main,[\"order-beta\",2]");
}

Test(nsp, later_event_waits_for_deferral)
{
	struct fake *f = fake_new(0);
	long d, p;

	connect_to(f, ALPHA);
	cr_assert_eq(feed(f, "2/alpha/1.0/main,1[\"defer\",\"v\",30]"), 0);
	cr_assert_eq(feed(f, "2/alpha/1.0/main,2[\"ping\"]"), 0);
	cr_assert_eq(feed(f, "2/alpha/1.0/main,[\"order\",\"x\"]"), 0);
	/* Nothing of the later events before the deferral settles. */
	cr_expect_eq(f->nmsgs, 3);
	RUN_UNTIL(find(f, "43/alpha/1.0/main,2") >= 0);
	d = find(f, "43/alpha/1.0/main,1[null,\"v\"]");
	p = find(f, "43/alpha/1.0/main,2[null,\"pong\"]");
	cr_expect(find(f, "42/alpha/1.0/main,[\"resolving\",\"v\"]") == 3);
	cr_expect(d == 4 && p == 5, "defer ack at %ld, ping ack at %ld", d, p);
	cr_expect_str_eq(out(f, 6), "42/alpha/1.0/main,[\"order-alpha\",\"x\"]");
}

Test(nsp, next_tick_seed_example_and_sync_settle)
{
	struct fake *f = fake_new(0);

	connect_to(f, ALPHA);
	cr_assert_eq(feed(f, "2/alpha/1.0/main,1[\"data\",{\"k\":1}]"), 0);
	cr_assert_eq(feed(f, "2/alpha/1.0/main,2[\"sync-defer\"]"), 0);
	RUN_UNTIL(find(f, "43/alpha/1.0/main,2") >= 0);
	cr_expect_str_eq(out(f, 3), "42/alpha/1.0/main,[\"data-stored\",{\"k\":1}]");
	cr_expect_str_eq(out(f, 4), "43/alpha/1.0/main,1[null,null]");
	cr_expect_str_eq(out(f, 5), "43/alpha/1.0/main,2[null,7]");
	cr_assert_eq(feed(f, "2/alpha/1.0/main,3[\"defer-reject\"]"), 0);
	RUN_UNTIL(find(f, "43/alpha/1.0/main,3") >= 0);
	cr_expect_str_eq(out(f, 6), "43/alpha/1.0/main,3[{\"message\":\"nope\"}]");
}

Test(nsp, thread_pool_completion_on_the_loop)
{
	struct fake *f = fake_new(0);

	connect_to(f, ALPHA);
	cr_assert_eq(feed(f, "2/alpha/1.0/main,1[\"pool\",1000]"), 0);
	RUN_UNTIL(find(f, "43/alpha/1.0/main,1") >= 0);
	cr_expect_str_eq(out(f, 3), "43/alpha/1.0/main,1[null,500500]");
}

Test(nsp, binary_attachments)
{
	struct fake *f = fake_new(0);
	static const unsigned char data[] = { 0, 1, 2, 255 };
	struct nsp_msg *m;

	connect_to(f, ALPHA);
	cr_assert_eq(feed_bin(f, "51-/alpha/1.0/main,[\"bin\",{\"_placeholder\":true,\"num\":0}]",
	    data, sizeof(data)), 0);
	m = f->msgs[3];
	cr_expect_str_eq(m->nm_data, "452-/alpha/1.0/main,[\"bin\",{\"_placeholder\":true,"
	    "\"num\":0},{\"_placeholder\":true,\"num\":1},4]");
	cr_assert_eq(m->nm_nattach, 2);
	cr_expect_eq(m->nm_attach[0].sa_len, 4);
	cr_expect(memcmp(m->nm_attach[0].sa_data, data, 4) == 0);
	cr_expect_eq(m->nm_attach[1].sa_len, 4);
	cr_expect(memcmp(m->nm_attach[1].sa_data, "\xde\xad\xbe\xef", 4) == 0);
	/* A non-binary argument is an error, acknowledged as such. */
	cr_assert_eq(feed(f, "2/alpha/1.0/main,5[\"bin\",1]"), 0);
	cr_expect_str_eq(out(f, 4), "43/alpha/1.0/main,5[{\"message\":\"argument 0 is not "
	    "binary\"}]");
}

Test(nsp, facts)
{
	struct fake *f = fake_new(0);
	char want[256];
	const char *sid = connect_to(f, ALPHA);

	cr_assert_eq(feed(f, "2/alpha/1.0/main,1[\"facts\",0]"), 0);
	snprintf(want, sizeof(want), "43/alpha/1.0/main,1[\"%s\",\"/alpha/1.0/main\",\"alpha\","
	    "\"1.0\",true,true,1]", sid);
	cr_expect_str_eq(out(f, 3), want);
}

Test(nsp, user_data_and_destructor)
{
	struct fake *f = fake_new(0);
	int *freed = module_sym("alpha_data_freed");
	int before = *freed;

	connect_to(f, ALPHA);
	cr_assert_eq(feed(f, "2/alpha/1.0/main,1[\"user-data\",\"one\"]"), 0);
	cr_assert_eq(feed(f, "2/alpha/1.0/main,2[\"user-data\",\"two\"]"), 0);
	cr_expect_str_eq(out(f, 3), "43/alpha/1.0/main,1[null,null]");
	cr_expect_str_eq(out(f, 4), "43/alpha/1.0/main,2[null,\"one\"]");
	cr_expect_eq(*freed, before + 1);
	fake_gone(f, "transport close");
	cr_expect_eq(*freed, before + 2);
}

Test(nsp, disconnect_listeners)
{
	struct fake *f = fake_new(0);
	int *n = module_sym("alpha_disconnects");
	char *reason = module_sym("alpha_last_reason");
	int before = *n;

	connect_to(f, ALPHA);
	cr_assert_eq(feed(f, "1/alpha/1.0/main,"), 0);
	cr_expect_eq(*n, before + 1);
	cr_expect_str_eq(reason, "client namespace disconnect");
	/* The connection stays and the namespace can be joined again. */
	connect_to(f, ALPHA);
	fake_gone(f, "transport close");
	cr_expect_eq(*n, before + 2);
	cr_expect_str_eq(reason, "transport close");
}

Test(nsp, server_disconnect)
{
	struct fake *f = fake_new(0);
	int *n = module_sym("alpha_disconnects");
	int before = *n;

	connect_to(f, ALPHA);
	cr_assert_eq(feed(f, "2/alpha/1.0/main,1[\"bye\"]"), 0);
	cr_expect_str_eq(out(f, 3), "41/alpha/1.0/main,");
	cr_expect_eq(f->nmsgs, 4);	/* no ack once disconnected */
	cr_expect_eq(*n, before + 1);
	cr_expect_eq(feed(f, "2/alpha/1.0/main,[\"ping\"]"), -1);
}

Test(nsp, disconnect_during_deferral)
{
	struct fake *f = fake_new(0);
	int *n = module_sym("alpha_disconnects");
	int before = *n;

	connect_to(f, ALPHA);
	cr_assert_eq(feed(f, "2/alpha/1.0/main,1[\"defer\",\"v\",20]"), 0);
	cr_assert_eq(feed(f, "2/alpha/1.0/main,2[\"ping\"]"), 0);
	fake_gone(f, "transport close");
	/* The disconnect listeners wait for the event in progress. */
	cr_expect_eq(*n, before);
	RUN_UNTIL(*n == before + 1);
	cr_expect_eq(f->nmsgs, 3);
}

Test(nsp, transport_close_hook)
{
	struct fake *f = fake_new(0);

	connect_to(f, ALPHA);
	cr_assert_eq(feed(f, "2/alpha/1.0/main,[\"drop\"]"), 0);
	cr_expect_eq(f->closes, 1);
	cr_expect_eq(f->close_mode, NSP_CLOSE_HARD);
	cr_expect_eq(f->close_delay, 50);
	cr_expect_eq(f->nmsgs, 3);	/* no Socket.IO DISCONNECT */
}

Test(nsp, failing_handle_is_isolated)
{
	struct fake *f = fake_new(0);

	cr_assert_eq(feed(f, "0/alpha/1.0/main,{\"failbeta\":true}"), 0);
	cr_expect_eq(f->nmsgs, 2);
	cr_expect_str_eq(out(f, 1), "42/alpha/1.0/main,[\"hello-alpha\"]");
	cr_assert_eq(feed(f, "2/alpha/1.0/main,1[\"ping\"]"), 0);
	cr_expect_str_eq(out(f, 2), "43/alpha/1.0/main,1[null,\"pong\"]");
}

Test(nsp, rooms_and_broadcast)
{
	struct fake *a = fake_new(0), *b = fake_new(1), *c = fake_new(2);
	struct nsp_msg *m;
	long ia, ib;

	connect_to(a, ALPHA);
	connect_to(b, ALPHA);
	connect_to(c, ALPHA);
	cr_assert_eq(feed(a, "2/alpha/1.0/main,1[\"join\",\"r\"]"), 0);
	cr_assert_eq(feed(b, "2/alpha/1.0/main,1[\"join\",\"r\"]"), 0);
	cr_assert_eq(feed(b, "2/alpha/1.0/main,2[\"join\",\"r\"]"), 0);	/* twice: once */
	cr_assert_eq(feed(c, "2/alpha/1.0/main,[\"to-room\",\"r\",{\"x\":1}]"), 0);
	ia = find(a, "42/alpha/1.0/main,[\"room\",{\"x\":1}]");
	ib = find(b, "42/alpha/1.0/main,[\"room\",{\"x\":1}]");
	cr_assert(ia >= 0 && ib >= 0);
	cr_expect_eq(count(a, a->msgs[ia]->nm_data), 1);
	cr_expect_eq(count(b, b->msgs[ib]->nm_data), 1);
	cr_expect_eq(find(c, "42/alpha/1.0/main,[\"room\""), -1);
	/* Encoded once, shared by every recipient. */
	cr_expect_eq(a->msgs[ia], b->msgs[ib]);

	cr_assert_eq(feed(b, "2/alpha/1.0/main,3[\"leave\",\"r\"]"), 0);
	cr_assert_eq(feed(b, "2/alpha/1.0/main,4[\"leave\",\"r\"]"), 0);
	cr_expect(find(b, "43/alpha/1.0/main,4[{\"message\":\"not in the room\"}]") >= 0);
	cr_assert_eq(feed(c, "2/alpha/1.0/main,[\"to-room\",\"r\",2]"), 0);
	cr_expect(find(a, "42/alpha/1.0/main,[\"room\",2]") >= 0);
	cr_expect_eq(find(b, "42/alpha/1.0/main,[\"room\",2]"), -1);

	/* The namespace: everybody, the sender too, exactly once, one message. */
	cr_assert_eq(feed(a, "2/alpha/1.0/main,[\"broadcast\",\"hi\"]"), 0);
	m = a->msgs[a->nmsgs - 1];
	cr_expect_str_eq(m->nm_data, "42/alpha/1.0/main,[\"all\",\"hi\"]");
	cr_expect_eq(count(a, m->nm_data), 1);
	cr_expect_eq(count(b, m->nm_data), 1);
	cr_expect_eq(count(c, m->nm_data), 1);
	cr_expect_eq(b->msgs[b->nmsgs - 1], m);
	cr_expect_eq(c->msgs[c->nmsgs - 1], m);

	cr_assert_eq(feed(a, "2/alpha/1.0/main,[\"others\",5]"), 0);
	cr_expect_eq(count(a, "42/alpha/1.0/main,[\"others\",5]"), 0);
	cr_expect_eq(count(b, "42/alpha/1.0/main,[\"others\",5]"), 1);
	cr_expect_eq(count(c, "42/alpha/1.0/main,[\"others\",5]"), 1);

	/* Leaving on disconnect. */
	fake_gone(a, "transport close");
	cr_assert_eq(feed(c, "2/alpha/1.0/main,[\"to-room\",\"r\",3]"), 0);
	cr_expect_eq(count(b, "42/alpha/1.0/main,[\"room\",3]"), 0);
	cr_expect_eq(count(c, "42/alpha/1.0/main,[\"room\",3]"), 0);
}

Test(nsp, room_name_limits)
{
	struct fake *f = fake_new(0);
	char pkt[RAIN_ROOM_NAME_MAX + 64], name[RAIN_ROOM_NAME_MAX + 2];

	connect_to(f, ALPHA);
	memset(name, 'r', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(pkt, sizeof(pkt), "2/alpha/1.0/main,1[\"join\",\"%s\"]", name);
	cr_assert_eq(feed(f, pkt), 0);
	cr_expect_str_eq(out(f, 3), "43/alpha/1.0/main,1[{\"message\":\"cannot join\"}]");
	cr_assert_eq(feed(f, "2/alpha/1.0/main,2[\"join\",\"\"]"), 0);
	cr_expect_str_eq(out(f, 4), "43/alpha/1.0/main,2[{\"message\":\"cannot join\"}]");
	cr_assert_eq(feed(f, "2/alpha/1.0/main,3[\"join\",5]"), 0);
	cr_expect_str_eq(out(f, 5), "43/alpha/1.0/main,3[{\"message\":\"cannot join\"}]");
}

Test(nsp, emit_with_ack_round_trip)
{
	struct fake *f = fake_new(0);

	connect_to(f, ALPHA);
	cr_assert_eq(feed(f, "2/alpha/1.0/main,[\"ask\",\"q\",1]"), 0);
	cr_expect_str_eq(out(f, 3), "42/alpha/1.0/main,0[\"question\",\"q\",1]");
	cr_assert_eq(feed(f, "3/alpha/1.0/main,0[\"yes\",{\"n\":2}]"), 0);
	cr_expect_str_eq(out(f, 4), "42/alpha/1.0/main,[\"answered\",\"yes\",{\"n\":2}]");
	/* The same id again is not awaited any more. */
	cr_assert_eq(feed(f, "3/alpha/1.0/main,0[\"again\"]"), 0);
	cr_expect_eq(f->nmsgs, 5);
	/* Binary in the answer. */
	cr_assert_eq(feed(f, "2/alpha/1.0/main,[\"ask\"]"), 0);
	cr_expect_str_eq(out(f, 5), "42/alpha/1.0/main,1[\"question\"]");
	cr_assert_eq(feed_bin(f, "61-/alpha/1.0/main,1[{\"_placeholder\":true,\"num\":0}]",
	    "ab", 2), 0);
	cr_expect_str_eq(out(f, 6), "451-/alpha/1.0/main,[\"answered\",{\"_placeholder\":true,"
	    "\"num\":0}]");
	cr_expect_eq(f->msgs[6]->nm_nattach, 1);
}

Test(nsp, emit_with_ack_disconnect)
{
	struct fake *f = fake_new(0);

	connect_to(f, ALPHA);
	cr_assert_eq(feed(f, "2/alpha/1.0/main,[\"ask\"]"), 0);
	/* The callback runs with an error; nothing can be sent any more. */
	fake_gone(f, "transport close");
	cr_expect_eq(f->nmsgs, 4);
}

Test(nsp, sessions_fail_honestly_without_store)
{
	struct fake *f = fake_new(0);

	connect_to(f, ALPHA);
	cr_assert_eq(feed(f, "2/alpha/1.0/main,1[\"session\",1]"), 0);
	cr_expect_str_eq(out(f, 3), "43/alpha/1.0/main,1[{\"message\":\"no session\"}]");
	cr_assert_eq(feed(f, "2/alpha/1.0/main,2[\"nosession\"]"), 0);
	cr_expect_str_eq(out(f, 4), "43/alpha/1.0/main,2[null,false]");
}

/* A deferral that is never settled, with a short handler_timeout. */
Test(timeouts, deferral_timeout, .init = NULL, .fini = NULL)
{
	struct fake *f;
	int *cancelled, *late;
	int c0, l0;

	start("t/components-trees/good", 40, 0);
	f = fake_new(0);
	cancelled = module_sym("alpha_never_cancelled");
	late = module_sym("alpha_late_fired");
	c0 = *cancelled;
	l0 = *late;
	connect_to(f, ALPHA);
	cr_assert_eq(feed(f, "2/alpha/1.0/main,1[\"never\"]"), 0);
	cr_assert_eq(feed(f, "2/alpha/1.0/main,2[\"ping\"]"), 0);
	RUN_UNTIL(find(f, "43/alpha/1.0/main,2") >= 0);
	cr_expect_str_eq(out(f, 3), "43/alpha/1.0/main,1[{\"message\":\"handler timeout\"}]");
	cr_expect_str_eq(out(f, 4), "43/alpha/1.0/main,2[null,\"pong\"]");
	cr_expect_eq(*cancelled, c0 + 1);

	/* Settled after the timeout: ignored, and the handle was still valid. */
	cr_assert_eq(feed(f, "2/alpha/1.0/main,3[\"late\",120]"), 0);
	RUN_UNTIL(find(f, "43/alpha/1.0/main,3") >= 0);
	cr_expect_str_eq(out(f, 5), "43/alpha/1.0/main,3[{\"message\":\"handler timeout\"}]");
	RUN_UNTIL(*late == l0 + 1);
	cr_expect_eq(f->nmsgs, 6);
	stop();
}

Test(timeouts, ack_timeout, .init = NULL, .fini = NULL)
{
	struct fake *f;

	start("t/components-trees/good", 40, 0);
	f = fake_new(0);
	connect_to(f, ALPHA);
	cr_assert_eq(feed(f, "2/alpha/1.0/main,[\"ask\"]"), 0);
	RUN_UNTIL(find(f, "42/alpha/1.0/main,[\"ack-error\"") >= 0);
	cr_expect_str_eq(out(f, 4), "42/alpha/1.0/main,[\"ack-error\",\"ack timeout\"]");
	/* A late answer is ignored. */
	cr_assert_eq(feed(f, "3/alpha/1.0/main,0[1]"), 0);
	cr_expect_eq(f->nmsgs, 5);
	stop();
}

Test(timeouts, queue_limit, .init = NULL, .fini = NULL)
{
	struct fake *f;

	start("t/components-trees/good", 0, 2);
	f = fake_new(0);
	connect_to(f, ALPHA);
	cr_assert_eq(feed(f, "2/alpha/1.0/main,1[\"defer\",1,20]"), 0);
	cr_assert_eq(feed(f, "2/alpha/1.0/main,2[\"ping\"]"), 0);
	cr_assert_eq(feed(f, "2/alpha/1.0/main,3[\"ping\"]"), 0);
	cr_expect_str_eq(out(f, 3), "43/alpha/1.0/main,3[{\"message\":\"too many pending "
	    "events\"}]");
	RUN_UNTIL(find(f, "43/alpha/1.0/main,2") >= 0);
	stop();
}

/*
 * A fake session store, asynchronous like Redis: it shows the pipeline's
 * order (load, listener, save, acknowledgement) and the RAIN_NO_SESSION
 * shortcut.
 */
struct store {
	char		 trace[512];
	yajl_val	 value;
	int		 fail_load;
};

static struct store store;

static void
store_trace(const char *what)
{
	strncat(store.trace, what, sizeof(store.trace) - strlen(store.trace) - 1);
}

static void
store_done(evutil_socket_t fd, short ev, void *arg)
{
	struct nsp_job *job = arg;

	(void)fd;
	(void)ev;
	nsp_stage_done(job, store.fail_load ? "redis down" : NULL);
}

static void
store_load(void *arg, struct nsp_socket *s, struct nsp_job *job)
{
	struct timeval tv = { 0, 1000 };

	(void)arg;
	(void)s;
	store_trace("load,");
	cr_assert(event_base_once(base, -1, EV_TIMEOUT, store_done, job, &tv) == 0);
}

static void
store_save(void *arg, struct nsp_socket *s, struct nsp_job *job)
{
	(void)arg;
	(void)s;
	store_trace("save,");
	nsp_stage_done(job, NULL);	/* synchronously, the other possible way */
}

static int
store_get(void *arg, struct nsp_socket *s, int global, const char *key, yajl_val *out)
{
	(void)arg;
	(void)s;
	(void)global;
	(void)key;
	store_trace("get,");
	*out = store.value;
	return (0);
}

static int
store_set(void *arg, struct nsp_socket *s, int global, const char *key, const char *json,
    size_t len)
{
	char *copy = strndup(json, len);

	(void)arg;
	(void)s;
	(void)global;
	(void)key;
	store_trace("set,");
	if (store.value != NULL)
		yajl_tree_free(store.value);
	store.value = yajl_tree_parse(copy, NULL, 0);
	free(copy);
	return (0);
}

static const struct nsp_store_ops store_ops = {
	NULL, store_load, store_save, store_get, store_set, NULL, NULL, NULL
};

Test(store, pipeline_order, .init = NULL, .fini = NULL)
{
	struct fake *f;

	memset(&store, 0, sizeof(store));
	start("t/components-trees/good", 0, 0);
	nsp_registry_set_store(reg, &store_ops, NULL);
	f = fake_new(0);
	connect_to(f, ALPHA);
	/* handle runs between load and save too. */
	RUN_UNTIL(f->nmsgs == 3);
	cr_expect_str_eq(store.trace, "load,save,");
	cr_assert_eq(feed(f, "2/alpha/1.0/main,1[\"session\",{\"a\":[1]}]"), 0);
	cr_assert_eq(feed(f, "2/alpha/1.0/main,2[\"nosession\"]"), 0);
	cr_expect_eq(f->nmsgs, 3);	/* waiting for the load */
	RUN_UNTIL(find(f, "43/alpha/1.0/main,2") >= 0);
	cr_expect_str_eq(store.trace, "load,save,load,set,get,save,");
	cr_expect_str_eq(out(f, 3), "43/alpha/1.0/main,1[null,{\"a\":[1]}]");
	/* A RAIN_NO_SESSION listener: no load, no save, and no session access. */
	cr_expect_str_eq(out(f, 4), "43/alpha/1.0/main,2[null,false]");

	/* A failed load: the listener does not run, the ack says why. */
	store.fail_load = 1;
	cr_assert_eq(feed(f, "2/alpha/1.0/main,3[\"session\",2]"), 0);
	RUN_UNTIL(find(f, "43/alpha/1.0/main,3") >= 0);
	cr_expect_str_eq(out(f, 5), "43/alpha/1.0/main,3[{\"message\":\"redis down\"}]");
	cr_expect_str_eq(store.trace, "load,save,load,set,get,save,load,");
	stop();
	if (store.value != NULL)
		yajl_tree_free(store.value);
}

/*
 * The bundled components, loaded from the build.
 */

#define ECHO	"/echo/1.0/echo"

Test(bundled, echo, .init = NULL, .fini = NULL)
{
	struct fake *a, *b;
	static const unsigned char bin[] = { 1, 2, 3 };

	start("handlers/built", 0, 0);
	a = fake_new(0);
	b = fake_new(1);
	connect_to(a, ECHO);
	connect_to(b, ECHO);
	cr_expect_str_eq(out(a, 1), "42/echo/1.0/echo,[\"hello\",{\"message\":\"Hello Sockets!\"}]");

	cr_assert_eq(feed(a, "2/echo/1.0/echo,[\"echo\",1,\"two\",{\"3\":[null,true]},\"\\u00e9\"]"), 0);
	/* Arguments are passed on as the client wrote them. */
	cr_expect_str_eq(out(a, 2), "42/echo/1.0/echo,[\"echo\",1,\"two\",{\"3\":[null,true]},"
	    "\"\\u00e9\"]");
	cr_assert_eq(feed_bin(a, "51-/echo/1.0/echo,[\"echo\",{\"nested\":[{\"_placeholder\":"
	    "true,\"num\":0}]}]", bin, sizeof(bin)), 0);
	cr_expect_str_eq(out(a, 3), "451-/echo/1.0/echo,[\"echo\",{\"nested\":[{\"_placeholder\":"
	    "true,\"num\":0}]}]");
	cr_assert_eq(a->msgs[3]->nm_nattach, 1);
	cr_expect(memcmp(a->msgs[3]->nm_attach[0].sa_data, bin, 3) == 0);

	cr_assert_eq(feed(a, "2/echo/1.0/echo,12[\"ack\",\"x\",[1,2]]"), 0);
	cr_expect_str_eq(out(a, 4), "43/echo/1.0/echo,12[\"x\",[1,2]]");

	cr_assert_eq(feed(a, "2/echo/1.0/echo,[\"server-ack\",\"p\"]"), 0);
	cr_expect_str_eq(out(a, 5), "42/echo/1.0/echo,0[\"please-ack\",\"p\"]");
	cr_assert_eq(feed(a, "3/echo/1.0/echo,0[\"answer\",9]"), 0);
	cr_expect_str_eq(out(a, 6), "42/echo/1.0/echo,[\"acked\",\"answer\",9]");

	cr_assert_eq(feed(a, "2/echo/1.0/echo,13[\"join\",\"room1\"]"), 0);
	cr_expect_str_eq(out(a, 7), "43/echo/1.0/echo,13[\"room1\"]");
	cr_assert_eq(feed(b, "2/echo/1.0/echo,5[\"to-room\",\"room1\",{\"p\":1}]"), 0);
	cr_expect_str_eq(out(a, 8), "42/echo/1.0/echo,[\"room-message\",\"room1\",{\"p\":1}]");
	cr_expect_str_eq(out(b, 2), "43/echo/1.0/echo,5[true]");
	cr_assert_eq(feed(b, "2/echo/1.0/echo,6[\"broadcast\",\"all\"]"), 0);
	cr_expect_str_eq(out(a, 9), "42/echo/1.0/echo,[\"broadcast\",\"all\"]");
	cr_expect_str_eq(out(b, 3), "42/echo/1.0/echo,[\"broadcast\",\"all\"]");
	cr_expect_str_eq(out(b, 4), "43/echo/1.0/echo,6[true]");
	cr_assert_eq(feed(a, "2/echo/1.0/echo,14[\"leave\",\"room1\"]"), 0);
	cr_expect_str_eq(out(a, 10), "43/echo/1.0/echo,14[\"room1\"]");

	/* No session store in this test: an honest error. */
	cr_assert_eq(feed(a, "2/echo/1.0/echo,15[\"session-set\",1]"), 0);
	cr_expect_str_eq(out(a, 11), "43/echo/1.0/echo,15[{\"message\":\"session not available\"}]");

	cr_assert_eq(feed(a, "2/echo/1.0/echo,[\"drop\",\"hard\"]"), 0);
	cr_expect_eq(a->closes, 1);
	cr_expect_eq(a->close_mode, NSP_CLOSE_HARD);
	cr_expect_eq(a->close_delay, 50);
	cr_assert_eq(feed(b, "2/echo/1.0/echo,[\"drop\"]"), 0);
	cr_expect_eq(b->close_mode, NSP_CLOSE_GRACEFUL);
	stop();
}

Test(bundled, echo_never_resolve, .init = NULL, .fini = NULL)
{
	struct fake *a;

	start("handlers/built", 30, 0);
	a = fake_new(0);
	connect_to(a, ECHO);
	cr_assert_eq(feed(a, "2/echo/1.0/echo,1[\"never-resolve\"]"), 0);
	cr_assert_eq(feed(a, "2/echo/1.0/echo,2[\"deferred-set\",\"v\",5]"), 0);
	RUN_UNTIL(find(a, "43/echo/1.0/echo,2") >= 0);
	cr_expect_str_eq(out(a, 2), "43/echo/1.0/echo,1[{\"message\":\"handler timeout\"}]");
	cr_expect_str_eq(out(a, 3), "43/echo/1.0/echo,2[{\"message\":\"session not available\"}]");
	stop();
}

Test(bundled, chat, .init = NULL, .fini = NULL)
{
	struct fake *a, *b;

	start("handlers/built", 0, 0);
	a = fake_new(0);
	b = fake_new(1);
	connect_to(a, "/chat/1.0/chat");
	connect_to(b, "/chat/1.0/chat");
	cr_expect_str_eq(out(a, 1), "42/chat/1.0/chat,[\"hello\",{\"message\":\"Hello Sockets!\"}]");
	cr_assert_eq(feed(a, "2/chat/1.0/chat,1[\"new-message\",{\"text\":\"hi\"}]"), 0);
	/* Relayed to the others only. */
	cr_expect_str_eq(out(b, 2), "42/chat/1.0/chat,[\"new-message\",{\"text\":\"hi\"}]");
	cr_expect_eq(find(a, "42/chat/1.0/chat,[\"new-message\""), -1);
	/* Storing needs the session store, which this test has not. */
	cr_expect_str_eq(out(a, 2), "43/chat/1.0/chat,1[{\"message\":\"the message was relayed "
	    "but not stored\"}]");
	cr_assert_eq(feed(a, "2/chat/1.0/chat,2[\"new-message\",\"no object\"]"), 0);
	cr_expect(strstr(out(a, 3), "new-message needs") != NULL);
	stop();
}

/*
 * Limits: max_namespaces_per_connection and the idle sweep of RAIN's
 * idle policy (idle.c decides when it runs).
 */
TestSuite(limits, .init = start_good, .fini = stop);

Test(limits, namespaces_per_client)
{
	struct fake *f = fake_new(0);

	reg->nr_settings.ns_max_namespaces = 1;
	cr_assert_eq(feed(f, "0"), 0);
	cr_assert(strncmp(out(f, 0), "40{\"sid\":\"", 10) == 0, "%s", out(f, 0));
	cr_assert_eq(feed(f, "0" ALPHA ","), 0);
	cr_expect_str_eq(out(f, 1), "44" ALPHA ",{\"message\":\"too many namespaces\"}");
	cr_expect_eq(f->closes, 0);
	/* The unknown stays unknown, whatever the count. */
	cr_assert_eq(feed(f, "0/nope,"), 0);
	cr_expect_str_eq(out(f, 2), "44/nope,{\"message\":\"Invalid namespace\"}");
	/* Once "/" is left, there is room again. */
	cr_assert_eq(feed(f, "1"), 0);
	connect_to(f, ALPHA);
}

/* Pretend the client of f last spoke ms ago. */
static void
age(struct fake *f, int64_t ms)
{
	struct nsp_socket *s;

	LIST_FOREACH(s, &f->nc->nc_sockets, ns_entry)
		s->ns_active -= ms;
}

Test(limits, idle_sweep)
{
	struct fake *a = fake_new(0), *b = fake_new(1), *c = fake_new(2);
	size_t na, nb;

	connect_to(a, ALPHA);
	connect_to(b, ALPHA);
	connect_to(c, ALPHA);
	cr_expect_eq(nsp_disconnect_idle(reg, 60000), 0);

	/* a speaks again: it goes behind c in the order of activity. */
	cr_assert_eq(feed(a, "2/alpha/1.0/main,[\"ping\"]"), 0);
	age(b, 120000);
	age(c, 120000);
	na = a->nmsgs;
	nb = b->nmsgs;
	cr_expect_eq(nsp_disconnect_idle(reg, 60000), 2);
	/* The idle ones: a DISCONNECT, then their connections are closed. */
	cr_expect_str_eq(out(b, nb), "41/alpha/1.0/main,");
	cr_expect_eq(b->closes, 1);
	cr_expect_eq(b->close_mode, NSP_CLOSE_GRACEFUL);
	cr_expect_eq(c->closes, 1);
	cr_expect_eq(c->nc->nc_nsockets, 0);
	/* The active one keeps its socket and is told nothing. */
	cr_expect_eq(a->closes, 0);
	cr_expect_eq(a->nc->nc_nsockets, 1);
	cr_expect_eq(find_from(a, na, "41"), -1);
	cr_expect_eq(reg->nr_nactive, 1);
}

Test(limits, idle_client_keeps_active_namespace)
{
	struct fake *f = fake_new(0);
	struct nsp_socket *s;

	connect_to(f, ALPHA);
	cr_assert_eq(feed(f, "0"), 0);
	/* Only ALPHA is old: "/" stays, and so does the connection. */
	LIST_FOREACH(s, &f->nc->nc_sockets, ns_entry)
		if (strcmp(s->ns_nsp->nn_name, ALPHA) == 0)
			s->ns_active -= 120000;
	cr_expect_eq(nsp_disconnect_idle(reg, 60000), 1);
	cr_expect_eq(f->nc->nc_nsockets, 1);
	cr_expect_eq(f->closes, 0);
	cr_expect_neq(find(f, "41/alpha/1.0/main,"), -1);
}

/*
 * Handler ABI 2: a module with only a listener table, typed values and
 * the value accessors; handle that defers.
 */
#define TABLE	"/tab/1.0/table"
#define SLOW	"/tab/1.0/slow"

Test(abi, listener_table_and_typed_values, .init = NULL, .fini = NULL)
{
	struct fake *f;

	start("t/components-trees/abi2", 0, 0);
	f = fake_new(0);
	connect_to(f, TABLE);
	cr_assert_eq(feed(f, "2/tab/1.0/table,1[\"typed\",\"x\"]"), 0);
	RUN_UNTIL(find(f, "43/tab/1.0/table,1") >= 0);
	cr_expect_str_eq(out(f, 1), "43/tab/1.0/table,1[null,{\"i\":-3,"
	    "\"u\":18446744073709551615,\"d\":1.5,\"nan\":null,"
	    "\"s\":\"\xc3\xa9\\\"\\n\",\"none\":null,\"j\":[1,{\"a\":2}],"
	    "\"b\":true,\"arr\":[1,null,\"x\"],\"ea\":[],\"eo\":{},\"arg\":\"x\","
	    "\"missing\":null}]");
	cr_assert_eq(feed(f, "2/tab/1.0/table,2[\"inspect\",{\"n\":5,\"d\":2.50,"
	    "\"l\":[\"a\",\"b\"],\"t\":true}]"), 0);
	RUN_UNTIL(find(f, "43/tab/1.0/table,2") >= 0);
	cr_expect_str_eq(out(f, 2), "43/tab/1.0/table,2[6,4,\"n\",5,2.5,\"2.50\","
	    "\"b\",true,2]");
	/* What cannot be built fails the listener, and nothing half-built leaves. */
	cr_assert_eq(feed(f, "2/tab/1.0/table,3[\"bad-json\"]"), 0);
	cr_assert_eq(feed(f, "2/tab/1.0/table,4[\"bad-utf8\"]"), 0);
	cr_assert_eq(feed(f, "2/tab/1.0/table,5[\"list-as-value\",1,2]"), 0);
	RUN_UNTIL(find(f, "43/tab/1.0/table,5") >= 0);
	cr_expect_str_eq(out(f, 3), "43/tab/1.0/table,3[{\"message\":\"handler error\"}]");
	cr_expect_str_eq(out(f, 4), "43/tab/1.0/table,4[{\"message\":\"handler error\"}]");
	cr_expect_str_eq(out(f, 5), "43/tab/1.0/table,5[{\"message\":\"handler error\"}]");
	stop();
}

Test(abi, deferred_handle, .init = NULL, .fini = NULL)
{
	struct fake *f;
	long ready, ack;

	start("t/components-trees/abi2", 0, 0);
	f = fake_new(0);
	connect_to(f, SLOW);
	/* Sent while handle is deferred: it waits for it. */
	cr_assert_eq(feed(f, "2/tab/1.0/slow,1[\"ping\"]"), 0);
	cr_expect_eq(find(f, "43/tab/1.0/slow,1"), -1);
	RUN_UNTIL(find(f, "43/tab/1.0/slow,1") >= 0);
	ready = find(f, "42/tab/1.0/slow,[\"ready\"]");
	ack = find(f, "43/tab/1.0/slow,1[null,1]");
	cr_expect(ready >= 0 && ack > ready, "ready at %ld, ping's ack at %ld", ready, ack);
	stop();
}

Test(abi, deferred_handle_timeout, .init = NULL, .fini = NULL)
{
	struct fake *f;

	start("t/components-trees/abi2", 50, 0);
	f = fake_new(0);
	cr_assert_eq(feed(f, "0/tab/1.0/slow,{\"never\":true}"), 0);
	RUN_UNTIL(find(f, "40/tab/1.0/slow,") >= 0);
	cr_assert_eq(feed(f, "2/tab/1.0/slow,1[\"ping\"]"), 0);
	/* handler_timeout ends the wait; the socket stays and its events run. */
	RUN_UNTIL(find(f, "43/tab/1.0/slow,1") >= 0);
	cr_expect(find(f, "43/tab/1.0/slow,1[null,0]") >= 0);
	cr_expect_eq(f->closes, 0);
	stop();
}
