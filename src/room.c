/*
 * room.c: rooms of a namespace and delivery to many sockets.  See room.h.
 */
#include "config.h"

#include <sys/queue.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "nsp.h"
#include "room.h"
#include "xmalloc.h"

struct room {
	char			*r_name;
	struct room		*r_next;	/* hash chain */
	LIST_HEAD(, room_member) r_members;
	size_t			 r_nmembers;
};

struct room_table {
	struct room	**rt_buckets;
	size_t		  rt_nbuckets;	/* a power of two */
	size_t		  rt_nrooms;
};

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

struct room_table *
room_table_new(void)
{
	struct room_table *rt;

	rt = xcalloc(1, sizeof(*rt));
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
			free(r->r_name);
			free(r);
		}
	}
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
	}
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

size_t
room_deliver(struct nsp_namespace *nn, const char *name, struct nsp_msg *msg,
    const struct nsp_socket *except)
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
	return (n);
}
