/*
 * room.c: rooms of a namespace and delivery to many sockets.  See room.h.
 */
#include "config.h"

#include <sys/queue.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "log.h"
#include "nsp.h"
#include "room.h"
#include "stats.h"
#include "sio_codec.h"
#include "xmalloc.h"

static void	room_job_wait(struct room_routing *, const char *,
		    struct nsp_job *);

struct room {
	char			*r_name;
	struct room		*r_next;	/* hash chain */
	LIST_HEAD(, room_member) r_members;
	size_t			 r_nmembers;
	char			*r_channel;	/* subscribed Redis channel, or NULL */
};

struct room_table {
	struct room	**rt_buckets;
	size_t		  rt_nbuckets;	/* a power of two */
	size_t		  rt_nrooms;
	char		 *rt_channel;	/* the namespace's subscribed channel, or NULL */
	struct room_routing *rt_routing;	/* beyond this worker: shared */
};

/*
 * Where a namespace's room emits and broadcasts go beyond this worker.
 * One per registry (nsp_registry_routing), shared by its namespaces.
 */
struct room_routing {
	const struct room_remote_ops	*rg_ops;	/* Redis, or NULL */
	void				*rg_arg;
	char				*rg_prefix;
	char				 rg_tag[ROOM_BUS_TAG_MAX];
	size_t				 rg_taglen;
	void				(*rg_bus)(void *, const void *, size_t);
	void				*rg_bus_arg;	/* the node's bus, or NULL */
};

static void	room_unsubscribe(struct room_routing *, char **);

/* FNV-1a: room names are short and chosen by clients, chains stay short. */
static size_t
room_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return ((size_t)h);
}

struct room_routing *
room_routing_new(void)
{
	return (xcalloc(1, sizeof(struct room_routing)));
}

void
room_routing_free(struct room_routing *rg)
{
	if (rg == NULL)
		return;
	free(rg->rg_prefix);
	free(rg);
}

struct room_table *
room_table_new(struct room_routing *rg)
{
	struct room_table *rt;

	rt = xcalloc(1, sizeof(*rt));
	rt->rt_routing = rg;
	rt->rt_nbuckets = ROOM_BUCKETS_MIN;
	rt->rt_buckets = xcalloc(rt->rt_nbuckets, sizeof(*rt->rt_buckets));
	return (rt);
}

static void
room_destroy(struct room_table *rt, struct room *r)
{
	struct room **rp;

	for (rp = &rt->rt_buckets[room_hash(r->r_name) & (rt->rt_nbuckets - 1)];
	    *rp != NULL; rp = &(*rp)->r_next) {
		if (*rp == r) {
			*rp = r->r_next;
			break;
		}
	}
	rt->rt_nrooms--;
	stats_gauge_add(STAT_G_ROOMS, -1);
	room_unsubscribe(rt->rt_routing, &r->r_channel);
	free(r->r_name);
	free(r);
}

void
room_table_free(struct room_table *rt)
{
	struct room *r, *next;
	struct room_member *m;
	size_t i;

	if (rt == NULL)
		return;
	for (i = 0; i < rt->rt_nbuckets; i++) {
		for (r = rt->rt_buckets[i]; r != NULL; r = next) {
			next = r->r_next;
			while ((m = LIST_FIRST(&r->r_members)) != NULL) {
				LIST_REMOVE(m, rm_room_entry);
				LIST_REMOVE(m, rm_sock_entry);
				m->rm_sock->ns_nrooms--;
				free(m);
			}
			room_unsubscribe(rt->rt_routing, &r->r_channel);
			free(r->r_name);
			free(r);
		}
	}
	room_unsubscribe(rt->rt_routing, &rt->rt_channel);
	free(rt->rt_buckets);
	free(rt);
}

static struct room *
room_find(struct room_table *rt, const char *name)
{
	struct room *r;

	for (r = rt->rt_buckets[room_hash(name) & (rt->rt_nbuckets - 1)]; r != NULL;
	    r = r->r_next)
		if (strcmp(r->r_name, name) == 0)
			return (r);
	return (NULL);
}

/* Double the table when rooms outnumber buckets. */
static void
room_grow(struct room_table *rt)
{
	struct room **nb, *r, *next;
	size_t i, n = rt->rt_nbuckets * 2, h;

	nb = xcalloc(n, sizeof(*nb));
	for (i = 0; i < rt->rt_nbuckets; i++) {
		for (r = rt->rt_buckets[i]; r != NULL; r = next) {
			next = r->r_next;
			h = room_hash(r->r_name) & (n - 1);
			r->r_next = nb[h];
			nb[h] = r;
		}
	}
	free(rt->rt_buckets);
	rt->rt_buckets = nb;
	rt->rt_nbuckets = n;
}

static struct room_member *
room_member_of(struct nsp_socket *s, struct room *r)
{
	struct room_member *m;

	LIST_FOREACH(m, &s->ns_rooms, rm_sock_entry)
		if (m->rm_room == r)
			return (m);
	return (NULL);
}

int
room_join(struct room_table *rt, struct nsp_socket *s, const char *name)
{
	struct room_member *m;
	struct room *r;
	size_t len, h;

	if (name == NULL || (len = strlen(name)) == 0 || len > ROOM_NAME_MAX)
		return (-1);
	if ((r = room_find(rt, name)) != NULL && room_member_of(s, r) != NULL)
		return (0);
	if (s->ns_nrooms >= ROOM_PER_SOCKET_MAX)
		return (-1);
	if (r == NULL) {
		if (rt->rt_nrooms >= rt->rt_nbuckets)
			room_grow(rt);
		r = xcalloc(1, sizeof(*r));
		r->r_name = xstrdup(name);
		LIST_INIT(&r->r_members);
		h = room_hash(name) & (rt->rt_nbuckets - 1);
		r->r_next = rt->rt_buckets[h];
		rt->rt_buckets[h] = r;
		rt->rt_nrooms++;
		stats_gauge_add(STAT_G_ROOMS, 1);
		/* The room's first local member: hear the other nodes' emits. */
		if (rt->rt_routing->rg_ops != NULL) {
			r->r_channel = room_channel(rt->rt_routing->rg_prefix,
			    s->ns_nsp->nn_name, name);
			rt->rt_routing->rg_ops->ro_subscribe(rt->rt_routing->rg_arg,
			    r->r_channel);
		}
	}
	/*
	 * The join's acknowledgement waits until the other nodes' emits to
	 * the room can reach us: after it, a member misses nothing.
	 */
	if (r->r_channel != NULL)
		room_job_wait(rt->rt_routing, r->r_channel,
		    nsp_socket_current_job(s));
	m = xcalloc(1, sizeof(*m));
	m->rm_room = r;
	m->rm_sock = s;
	LIST_INSERT_HEAD(&r->r_members, m, rm_room_entry);
	LIST_INSERT_HEAD(&s->ns_rooms, m, rm_sock_entry);
	r->r_nmembers++;
	s->ns_nrooms++;
	return (0);
}

static void
room_member_remove(struct room_table *rt, struct room_member *m)
{
	struct room *r = m->rm_room;

	LIST_REMOVE(m, rm_room_entry);
	LIST_REMOVE(m, rm_sock_entry);
	m->rm_sock->ns_nrooms--;
	free(m);
	if (--r->r_nmembers == 0)
		room_destroy(rt, r);
}

int
room_leave(struct room_table *rt, struct nsp_socket *s, const char *name)
{
	struct room_member *m;
	struct room *r;

	if (name == NULL || (r = room_find(rt, name)) == NULL ||
	    (m = room_member_of(s, r)) == NULL)
		return (-1);
	room_member_remove(rt, m);
	return (0);
}

void
room_leave_all(struct room_table *rt, struct nsp_socket *s)
{
	struct room_member *m;

	while ((m = LIST_FIRST(&s->ns_rooms)) != NULL)
		room_member_remove(rt, m);
}

int
room_has(struct room_table *rt, struct nsp_socket *s, const char *name)
{
	struct room *r;

	if (name == NULL || (r = room_find(rt, name)) == NULL)
		return (0);
	return (room_member_of(s, r) != NULL);
}

size_t
room_size(struct room_table *rt, const char *name)
{
	struct room *r;

	if ((r = room_find(rt, name)) == NULL)
		return (0);
	return (r->r_nmembers);
}

static size_t	room_deliver_local(struct nsp_namespace *, const char *,
		    struct nsp_msg *, const struct nsp_socket *);
#define ROOM_WIRE_VERSION	1
#define ROOM_WIRE_TAGGED	2	/* a bus tag, then a version 1 message */
#define ROOM_WIRE_ALL		0xffff	/* room length meaning "no room" */

void
room_set_publisher(struct room_routing *rg,
    void (*fn)(void *, const void *, size_t), void *arg)
{
	rg->rg_bus = fn;
	rg->rg_bus_arg = arg;
}

void
room_set_remote(struct room_routing *rg, const struct room_remote_ops *ops,
    void *arg, const char *prefix, const char *bus_tag)
{
	size_t len;

	free(rg->rg_prefix);
	rg->rg_prefix = NULL;
	rg->rg_ops = NULL;
	rg->rg_arg = NULL;
	rg->rg_taglen = 0;
	if (ops == NULL)
		return;
	len = strlen(bus_tag);
	if (len == 0 || len > ROOM_BUS_TAG_MAX)
		fatalx("room: bad bus tag \"%s\"", bus_tag);
	memcpy(rg->rg_tag, bus_tag, len);
	rg->rg_taglen = len;
	rg->rg_prefix = xstrdup(prefix != NULL ? prefix : "");
	rg->rg_ops = ops;
	rg->rg_arg = arg;
}

char *
room_channel(const char *prefix, const char *nsp, const char *room)
{
	struct evbuffer	*b;
	const char	*p;
	char		*out;
	size_t		 len;

	if ((b = evbuffer_new()) == NULL)
		fatalx("room: out of memory");
	evbuffer_add(b, prefix, strlen(prefix));
	if (room == NULL)
		evbuffer_add(b, ROOM_CHANNEL_NSP, strlen(ROOM_CHANNEL_NSP));
	else
		evbuffer_add(b, ROOM_CHANNEL_ROOM, strlen(ROOM_CHANNEL_ROOM));
	for (p = nsp; *p != '\0'; p++) {
		if (*p == ':')
			evbuffer_add(b, "%3A", 3);
		else if (*p == '%')
			evbuffer_add(b, "%25", 3);
		else
			evbuffer_add(b, p, 1);
	}
	if (room != NULL) {
		evbuffer_add(b, ":", 1);
		evbuffer_add(b, room, strlen(room));
	}
	len = evbuffer_get_length(b);
	out = xmalloc(len + 1);
	evbuffer_remove(b, out, len);
	out[len] = '\0';
	evbuffer_free(b);
	return (out);
}

/* Forget a subscription made for a room or a namespace. */
static void
room_unsubscribe(struct room_routing *rg, char **channel)
{
	if (*channel == NULL)
		return;
	if (rg->rg_ops != NULL)
		rg->rg_ops->ro_unsubscribe(rg->rg_arg, *channel);
	free(*channel);
	*channel = NULL;
}

static void
room_job_ready(void *arg)
{
	nsp_job_unhold(arg);
}

/* Hold job (if any) until channel's subscription is confirmed. */
static void
room_job_wait(struct room_routing *rg, const char *channel, struct nsp_job *job)
{
	if (job == NULL || rg->rg_ops == NULL || rg->rg_ops->ro_wait == NULL)
		return;
	nsp_job_hold(job);
	if (rg->rg_ops->ro_wait(rg->rg_arg, channel, room_job_ready, job) == 0)
		nsp_job_unhold(job);
}

void
room_nsp_wait(struct nsp_namespace *nn, struct nsp_job *job)
{
	if (nn->nn_rooms->rt_channel != NULL)
		room_job_wait(nn->nn_rooms->rt_routing, nn->nn_rooms->rt_channel,
		    job);
}

void
room_nsp_changed(struct nsp_namespace *nn)
{
	struct room_table	*rt = nn->nn_rooms;
	struct room_routing	*rg = rt->rt_routing;

	if (rg->rg_ops == NULL)
		return;
	if (nn->nn_nsockets > 0 && rt->rt_channel == NULL) {
		rt->rt_channel = room_channel(rg->rg_prefix, nn->nn_name, NULL);
		rg->rg_ops->ro_subscribe(rg->rg_arg, rt->rt_channel);
	} else if (nn->nn_nsockets == 0)
		room_unsubscribe(rt->rt_routing, &rt->rt_channel);
}

static void
room_put16(struct evbuffer *b, size_t v)
{
	unsigned char x[2] = { (unsigned char)(v >> 8), (unsigned char)v };

	evbuffer_add(b, x, 2);
}

static void
room_put32(struct evbuffer *b, size_t v)
{
	unsigned char x[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
	    (unsigned char)(v >> 8), (unsigned char)v };

	evbuffer_add(b, x, 4);
}

/*
 * The wire form of a delivery: version, namespace, room (or none), the
 * encoded message and its attachments, each with a length in front.
 */
static void
room_encode(struct evbuffer *b, const char *nsp, const char *room,
    const struct nsp_msg *msg)
{
	size_t i, n = strlen(nsp);

	evbuffer_add(b, "\x01", 1);
	room_put16(b, n);
	evbuffer_add(b, nsp, n);
	if (room == NULL)
		room_put16(b, ROOM_WIRE_ALL);
	else {
		room_put16(b, strlen(room));
		evbuffer_add(b, room, strlen(room));
	}
	room_put32(b, msg->nm_len);
	evbuffer_add(b, msg->nm_data, msg->nm_len);
	room_put16(b, msg->nm_nattach);
	for (i = 0; i < msg->nm_nattach; i++) {
		room_put32(b, msg->nm_attach[i].sa_len);
		evbuffer_add(b, msg->nm_attach[i].sa_data, msg->nm_attach[i].sa_len);
	}
}

struct room_reader {
	const unsigned char	*rr_p;
	size_t			 rr_left;
	int			 rr_bad;
};

static size_t
room_get(struct room_reader *r, int bytes)
{
	size_t v = 0;
	int i;

	if (r->rr_bad || r->rr_left < (size_t)bytes) {
		r->rr_bad = 1;
		return (0);
	}
	for (i = 0; i < bytes; i++)
		v = v << 8 | r->rr_p[i];
	r->rr_p += bytes;
	r->rr_left -= (size_t)bytes;
	return (v);
}

static const unsigned char *
room_take(struct room_reader *r, size_t n)
{
	const unsigned char *p = r->rr_p;

	if (r->rr_bad || r->rr_left < n) {
		r->rr_bad = 1;
		return (NULL);
	}
	r->rr_p += n;
	r->rr_left -= n;
	return (p);
}

int
room_remote_deliver(struct nsp_registry *reg, const void *buf, size_t len)
{
	struct room_reader	 r = { buf, len, 0 };
	struct nsp_namespace	*nn;
	struct sio_attachment	*att = NULL;
	struct nsp_msg		*msg;
	const unsigned char	*p;
	char			 nsp[SIO_NSP_MAX + 1], room[ROOM_NAME_MAX + 1];
	size_t			 n, natt, i, textlen;
	const char		*text;
	int			 all;

	if (room_get(&r, 1) != ROOM_WIRE_VERSION)
		return (-1);
	n = room_get(&r, 2);
	if (n > SIO_NSP_MAX || (p = room_take(&r, n)) == NULL)
		return (-1);
	memcpy(nsp, p, n);
	nsp[n] = '\0';
	n = room_get(&r, 2);
	all = n == ROOM_WIRE_ALL;
	if (!all) {
		if (n > ROOM_NAME_MAX || (p = room_take(&r, n)) == NULL)
			return (-1);
		memcpy(room, p, n);
		room[n] = '\0';
	}
	textlen = room_get(&r, 4);
	/* An Engine.IO message: '4' and the Socket.IO packet, never empty. */
	if ((text = (const char *)room_take(&r, textlen)) == NULL ||
	    textlen == 0 || text[0] != '4' || memchr(text, '\0', textlen) != NULL)
		return (-1);
	natt = room_get(&r, 2);
	if (r.rr_bad || natt > SIO_ATTACHMENTS_MAX)
		return (-1);
	if (natt > 0)
		att = xcalloc(natt, sizeof(*att));
	for (i = 0; i < natt; i++) {
		n = room_get(&r, 4);
		if ((p = room_take(&r, n)) == NULL)
			goto bad;
		att[i].sa_data = xmemdup(p, n > 0 ? n : 1);
		att[i].sa_len = n;
	}
	if (r.rr_left != 0)
		goto bad;
	if ((nn = nsp_registry_find(reg, nsp)) == NULL) {
		/* Not served here (a reload in between): nobody to tell. */
		for (i = 0; i < natt; i++)
			free(att[i].sa_data);
		free(att);
		return (0);
	}
	msg = nsp_msg_raw(text, textlen, att, natt);
	room_deliver_local(nn, all ? NULL : room, msg, NULL);
	nsp_msg_unref(msg);
	return (0);
bad:
	for (i = 0; i < natt; i++)
		free(att[i].sa_data);
	free(att);
	return (-1);
}

/*
 * The Redis form: ROOM_WIRE_TAGGED, the length of the sender's bus tag in
 * one byte, the tag, then the bus form.
 */
int
room_remote_message(struct nsp_registry *reg, const void *buf, size_t len)
{
	struct room_reader	 r = { buf, len, 0 };
	struct room_routing	*rg;
	const unsigned char	*tag;
	size_t			 n;

	if (room_get(&r, 1) != ROOM_WIRE_TAGGED)
		return (-1);
	n = room_get(&r, 1);
	if (r.rr_bad || n == 0 || n > ROOM_BUS_TAG_MAX ||
	    (tag = room_take(&r, n)) == NULL)
		return (-1);
	/* Our own bus's: its workers had it from the bus already. */
	rg = nsp_registry_routing(reg);
	if (n == rg->rg_taglen && memcmp(tag, rg->rg_tag, n) == 0)
		return (0);
	return (room_remote_deliver(reg, r.rr_p, r.rr_left));
}

size_t
room_deliver(struct nsp_namespace *nn, const char *name, struct nsp_msg *msg,
    const struct nsp_socket *except)
{
	struct evbuffer	*b;
	unsigned char	*p, head[2];
	char		*channel;
	size_t		 n, hdr = 0, len;
	struct room_routing *rg = nn->nn_rooms->rt_routing;

	stats_inc(STAT_BROADCASTS);
	n = room_deliver_local(nn, name, msg, except);
	if (rg->rg_bus == NULL && rg->rg_ops == NULL)
		return (n);
	/* One encoding serves the bus and, behind the bus tag, Redis. */
	if ((b = evbuffer_new()) == NULL)
		fatalx("room: out of memory");
	if (rg->rg_ops != NULL) {
		head[0] = ROOM_WIRE_TAGGED;
		head[1] = (unsigned char)rg->rg_taglen;
		evbuffer_add(b, head, sizeof(head));
		evbuffer_add(b, rg->rg_tag, rg->rg_taglen);
		hdr = evbuffer_get_length(b);
	}
	room_encode(b, nn->nn_name, name, msg);
	len = evbuffer_get_length(b);
	p = evbuffer_pullup(b, -1);
	if (p == NULL)
		fatalx("room: out of memory");
	if (rg->rg_bus != NULL)
		rg->rg_bus(rg->rg_bus_arg, p + hdr, len - hdr);
	if (rg->rg_ops != NULL) {
		channel = room_channel(rg->rg_prefix, nn->nn_name, name);
		rg->rg_ops->ro_publish(rg->rg_arg, channel, p, len);
		free(channel);
	}
	evbuffer_free(b);
	return (n);
}

/* Is s in one of the rooms r[0..n)? */
static int
room_in_any(struct nsp_socket *s, struct room *const *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (room_member_of(s, r[i]) != NULL)
			return (1);
	return (0);
}

size_t
room_deliver_set(struct nsp_namespace *nn, const char *const *rooms,
    size_t nrooms, const char *const *except, size_t nexcept,
    struct nsp_msg *msg)
{
	struct room		*in[ROOM_SET_MAX], *out[ROOM_SET_MAX], *r;
	struct room_member	*m;
	struct nsp_socket	*s;
	size_t			 nin = 0, nout = 0, i, n = 0;

	if (nrooms > ROOM_SET_MAX || nexcept > ROOM_SET_MAX)
		return (0);
	/* Rooms with no member here have nobody to reach or to leave out. */
	for (i = 0; i < nexcept; i++)
		if ((r = room_find(nn->nn_rooms, except[i])) != NULL)
			out[nout++] = r;
	for (i = 0; i < nrooms; i++)
		if ((r = room_find(nn->nn_rooms, rooms[i])) != NULL)
			in[nin++] = r;
	if (nrooms == 0) {
		TAILQ_FOREACH(s, &nn->nn_sockets, ns_nsp_entry) {
			if (room_in_any(s, out, nout))
				continue;
			nsp_socket_send(s, msg);
			n++;
		}
	}
	/* A socket in several of the rooms gets the message once, from the first. */
	for (i = 0; i < nin; i++) {
		LIST_FOREACH(m, &in[i]->r_members, rm_room_entry) {
			if (room_in_any(m->rm_sock, out, nout) ||
			    room_in_any(m->rm_sock, in, i))
				continue;
			nsp_socket_send(m->rm_sock, msg);
			n++;
		}
	}
	stats_add(STAT_DELIVERIES, n);
	return (n);
}

static size_t
room_deliver_local(struct nsp_namespace *nn, const char *name,
    struct nsp_msg *msg, const struct nsp_socket *except)
{
	struct nsp_socket *s;
	struct room_member *m;
	struct room *r;
	size_t n = 0;

	/* Sends never call back into this layer (nsp.h), so the lists hold still. */
	if (name == NULL) {
		TAILQ_FOREACH(s, &nn->nn_sockets, ns_nsp_entry) {
			if (s == except)
				continue;
			nsp_socket_send(s, msg);
			n++;
		}
		stats_add(STAT_DELIVERIES, n);
		return (n);
	}
	if ((r = room_find(nn->nn_rooms, name)) == NULL)
		return (0);
	LIST_FOREACH(m, &r->r_members, rm_room_entry) {
		if (m->rm_sock == except)
			continue;
		nsp_socket_send(m->rm_sock, msg);
		n++;
	}
	stats_add(STAT_DELIVERIES, n);
	return (n);
}
