/*
 * idle.c: RAIN's idle policy.  See idle.h.
 */
#include "config.h"

#include <stdlib.h>

#include <event2/event.h>

#include "conf.h"
#include "idle.h"
#include "log.h"
#include "nsp.h"
#include "xmalloc.h"

struct idle {
	struct nsp_registry	*id_reg;
	const struct conf	*id_conf;
	idle_load_fn		 id_load;
	void			*id_arg;
	struct event		*id_timer;
};

static void
idle_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	idle_check(arg);
}

struct idle *
idle_new(struct event_base *base, struct nsp_registry *reg,
    const struct conf *conf, idle_load_fn load, void *arg)
{
	struct idle	*id;
	struct timeval	 tv;

	id = xcalloc(1, sizeof(*id));
	id->id_reg = reg;
	id->id_conf = conf;
	id->id_load = load;
	id->id_arg = arg;
	/*
	 * A persistent timer: the checks keep their rhythm whatever a check
	 * costs, and nothing has to re-arm it.
	 */
	id->id_timer = event_new(base, -1, EV_PERSIST, idle_timer_cb, id);
	if (id->id_timer == NULL)
		fatalx("idle: cannot create a timer");
	tv.tv_sec = conf->c_idle_check_interval / 1000;
	tv.tv_usec = (conf->c_idle_check_interval % 1000) * 1000;
	if (event_add(id->id_timer, &tv) == -1)
		fatalx("idle: cannot start the timer");
	return (id);
}

void
idle_free(struct idle *id)
{
	if (id == NULL)
		return;
	event_free(id->id_timer);
	free(id);
}

size_t
idle_check(struct idle *id)
{
	const struct conf	*conf = id->id_conf;
	size_t			 load, n;

	/* Nobody can be idle yet: no need to ask for the load. */
	if (id->id_reg->nr_nactive == 0)
		return (0);
	/*
	 * RAIN's rule: idle sockets go only when disconnect_idle is on and
	 * the worker holds at least disconnect_idle_on_max_conn connections.
	 * With disconnect_idle off nothing is ever taken for idleness.
	 */
	if (!conf->c_disconnect_idle)
		return (0);
	load = id->id_load(id->id_arg);
	if (load < conf->c_disconnect_idle_on_max_conn)
		return (0);
	n = nsp_disconnect_idle(id->id_reg, conf->c_idle_time);
	if (n > 0)
		log_info("%zu socket(s) idle for %lld ms disconnected (%zu "
		    "connections, disconnect_idle_on_max_conn %zu)", n,
		    (long long)conf->c_idle_time, load,
		    (size_t)conf->c_disconnect_idle_on_max_conn);
	return (n);
}
