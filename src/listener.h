/*
 * listener.h: the listening sockets, bound by the master before it forks.
 *
 * Each configured address gets one socket per worker slot, all bound
 * with SO_REUSEPORT to the same address, so the kernel spreads new
 * connections evenly over the workers (a single shared socket lets the
 * busiest, most recently woken worker take most of them).  The master
 * keeps every socket open for the life of the listener, so a respawned
 * worker finds the connections that queued while its slot was empty.
 *
 * Ownership: a listener_set owns its listeners and their sockets.
 */
#ifndef RAIND_LISTENER_H
#define RAIND_LISTENER_H

#include <sys/socket.h>

#include <stddef.h>

#include "util.h"

#define LISTEN_BACKLOG	511

struct conf;

struct listener {
	char			*l_text;	/* as configured: "127.0.0.1:0" */
	struct sockaddr_storage	 l_ss;		/* bound address, real port */
	socklen_t		 l_sslen;
	char			 l_name[ADDR_STR_MAX];	/* bound address as text */
	int			 l_tls;		/* "listen ADDR:PORT tls" */
	int			 l_kind;	/* enum conf_listen_kind */
	int			*l_fds;		/* one per slot */
	int			 l_nfds;
};

struct listener_set {
	struct listener		*ls_list;
	size_t			 ls_count;
	int			 ls_slots;
};

/*
 * Bind the listeners of conf with nslots sockets each.  Listeners whose
 * text is unchanged are taken over from old (which may be NULL) with
 * their sockets, so a reload keeps the ports and the queued connections;
 * slots are added or closed to match nslots.  Returns NULL and fills err
 * ("file:line: bind 1.2.3.4:80: Address already in use") on failure, in
 * which case old is left untouched.
 */
struct listener_set *listener_set_open(const struct conf *, int nslots,
	    struct listener_set *old, char *err, size_t errlen);
/* Close every socket of ls (those taken over by a newer set excepted) and free it. */
void	listener_set_free(struct listener_set *);
/*
 * For a binary upgrade.  export (in the child that will exec the new
 * executable): "text=fd,fd,...;..." with the descriptors made to survive
 * exec; caller frees; NULL on failure.  inherited (in the new master):
 * the set those descriptors make, to pass as old to listener_set_open
 * and free after; NULL with err on a bad description.
 */
#define LISTEN_INHERIT_MAX	128
char	*listener_set_export(const struct listener_set *);
struct listener_set *listener_set_inherited(const char *spec, char *err,
	    size_t errlen);
/* "ADDRESS:PORT\n" per listener in configuration order; caller frees. */
char	*listener_set_ports(const struct listener_set *);

#endif
