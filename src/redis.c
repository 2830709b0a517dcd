/*
 * redis.c: a worker's connections to Redis.  See redis.h.
 *
 * hiredis 0.14 has neither a connect timeout for asynchronous contexts
 * nor a per-command timeout, so both are kept here: one timer per
 * connection, armed for the connect (and AUTH/SELECT) while connecting,
 * then for the oldest command in flight.  Commands on one connection are
 * answered in order, so the oldest one is the head of the in-flight list.
 * A connection that does not answer in time is considered broken: every
 * command in flight fails and the connection is made again.
 *
 * Every command has a struct redis_cmd that hiredis holds as privdata
 * until it calls the reply callback, which it does exactly once, even
 * when the context is freed (with a NULL reply).  A command failed early
 * (timeout, connection lost) is marked rc_done: its caller has had its
 * answer and the late hiredis callback only frees it.
 *
 * With sentinels, the address of the master is not configured but asked
 * for: before a connection is made and the master is not known, one
 * sentinel after the other is asked "SENTINEL get-master-addr-by-name"
 * (one short-lived connection per question, with the same timeout as
 * any command).  Every connection then checks with ROLE that it reached
 * a master: a sentinel may not have heard of a failover yet.  Whenever a
 * connection to the master is lost, or a command is refused with an
 * error that only a server that is no longer (or not yet) the master
 * gives, the master is forgotten and asked for again; a connection still
 * up on an old master is dropped when the sentinels name another one.
 * Each round of questions starts with the sentinel after the one that
 * answered last, so a sentinel that lags behind is not asked forever.
 *
 * Client-side caching (redis_track) ties the two connections together:
 * the tracking of the command connection redirects to the pub/sub
 * connection by its id, and neither survives the other's reconnection.
 * Every change of either connection's state therefore turns the tracking
 * off (the cache is flushed) until CLIENT TRACKING, sent again with the
 * current id, is confirmed.  A generation number tells a late answer to
 * an older CLIENT TRACKING from the answer to the current one.
 *
 * The sentinel that answered is also listened to: its +switch-master
 * message moves the connections at once, which matters when the old
 * master lives on (a failover asked for, a partition) and would take
 * writes that its demotion throws away.  That subscription is only a
 * shortcut: it is made again after the next answer when lost.
 */
#include "config.h"

#include <sys/queue.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "conf.h"
#include "log.h"
#include "redis.h"
#include "stats.h"
#include "util.h"
#include "xmalloc.h"

#define REDIS_ERR_MAX		256	/* a remembered error message */
#define REDIS_CHANNELS_MIN	64	/* buckets of the channel table */
#define REDIS_UNIX_PREFIX	"unix:"
#define REDIS_ROLE_MASTER	"master"	/* first word of ROLE's answer */
#define REDIS_SWITCH_MASTER	"+switch-master"	/* a sentinel's channel */
#define REDIS_SWITCH_WORDS	5	/* name, old ip and port, new ip and port */

/* What redis_conn_lost does with the hiredis context. */
#define REDIS_FREE_NOT		0	/* hiredis is freeing it itself */
#define REDIS_FREE_NOW		1
#define REDIS_FREE_LATER	2	/* from the loop (connect callback) */

enum redis_state {
	REDIS_DOWN = 0,		/* waiting to reconnect */
	REDIS_CONNECTING,	/* TCP or unix connect under way */
	REDIS_HELLO,		/* AUTH and SELECT sent, not yet answered */
	REDIS_UP
};

/* Client-side caching, from the caller's point of view (redis_track). */
enum redis_track_state {
	REDIS_TRACKING_OFF = 0,	/* not asked for in this generation */
	REDIS_TRACKING_SENT,	/* CLIENT TRACKING ON sent, not yet answered */
	REDIS_TRACKING_ON,
	REDIS_TRACKING_REFUSED	/* until the next reset */
};

struct redis_cmd {
	TAILQ_ENTRY(redis_cmd)	 rc_entry;	/* in flight, or failed */
	struct redis		*rc_redis;
	redis_reply_fn		*rc_fn;		/* NULL: fire and forget */
	void			*rc_arg;
	int64_t			 rc_start;	/* monotonic ms when sent */
	int			 rc_done;	/* the caller has had its answer */
	char			*rc_err;	/* for the failed queue */
};
TAILQ_HEAD(redis_cmds, redis_cmd);

struct redis_conn {
	struct redis		*cn_redis;
	int			 cn_pubsub;
	redisAsyncContext	*cn_ac;		/* NULL while down */
	enum redis_state	 cn_state;
	int			 cn_hello;	/* AUTH/SELECT answers awaited */
	int64_t			 cn_backoff;	/* ms before the next attempt */
	int			 cn_logged;	/* this outage has been logged */
	int			 cn_waiting;	/* for the sentinels to name the master */
	unsigned int		 cn_gen;	/* r_master_gen it connected to */
	long long		 cn_id;		/* CLIENT ID (pub/sub, tracking); 0: unknown */
	struct event		*cn_retry;
	struct event		*cn_timer;	/* connect or oldest command */
	struct redis_cmds	 cn_inflight;
	size_t			 cn_ninflight;
	char			 cn_err[REDIS_ERR_MAX];	/* why it is down */
};

/* Someone waiting for a SUBSCRIBE to be confirmed (redis_subscribe_wait). */
struct redis_waiter {
	struct redis_waiter	*rw_next;
	void			(*rw_fn)(void *);
	void			*rw_arg;
};

struct redis_channel {
	char			*ch_name;
	struct redis_channel	*ch_next;
	size_t			 ch_refs;
	int			 ch_sub;	/* SUBSCRIBE is what we asked for last */
	int			 ch_unsubs;	/* UNSUBSCRIBEs not yet confirmed */
	int			 ch_confirmed;	/* the SUBSCRIBE was answered */
	struct redis_waiter	*ch_waiters;
};

/* Tell the channel's waiters they need wait no longer. */
static void
redis_channel_wake(struct redis_channel *ch)
{
	struct redis_waiter *w, *next;

	/* Detached first: a waiter may subscribe or unsubscribe. */
	w = ch->ch_waiters;
	ch->ch_waiters = NULL;
	for (; w != NULL; w = next) {
		next = w->rw_next;
		w->rw_fn(w->rw_arg);
		free(w);
	}
}

/* The sentinels and what they said last (sentinel mode only). */
struct redis_sentinels {
	char			**se_host;
	int			 *se_port;
	size_t			  se_n;		/* 0: not in sentinel mode */
	char			 *se_master;	/* the master's name */
	int			  se_known;	/* r_host and r_port are the master */
	unsigned int		  se_gen;	/* changes when the master moves */
	size_t			  se_next;	/* asked first in the next round */
	size_t			  se_asked;	/* asked in this round */
	size_t			  se_cur;	/* being asked */
	redisAsyncContext	 *se_ac;	/* the question in flight, or NULL */
	struct event		 *se_timer;
	redisAsyncContext	 *se_sub;	/* listening for +switch-master */
	size_t			  se_sub_idx;	/* to that sentinel */
};

struct redis {
	struct event_base	*r_base;
	struct timeval		 r_sub_polled;	/* the loop's time at the last poll */
	char			*r_addr;	/* as configured, for logs */
	char			*r_host;	/* NULL for a unix socket */
	int			 r_port;
	int64_t			 r_backoff_max;	/* ms */
	struct redis_sentinels	 r_sent;
	char			*r_path;
	char			*r_password;
	size_t			 r_db;
	int64_t			 r_timeout;	/* ms */
	struct redis_conn	 r_cmd;
	struct redis_conn	 r_sub;
	struct event		*r_fail_ev;	/* runs r_failed from the loop */
	struct redis_cmds	 r_failed;
	redisAsyncContext	**r_zombies;	/* contexts to free from the loop */
	size_t			 r_nzombies;
	struct redis_channel	**r_channels;
	size_t			 r_nbuckets;	/* a power of two */
	size_t			 r_nchannels;
	char			*r_patterns[REDIS_PATTERNS_MAX]; /* PSUBSCRIBEd for good */
	size_t			 r_npatterns;
	redis_message_fn	*r_msg_fn;
	redis_state_fn		*r_state_fn;
	void			*r_handler_arg;
	redis_track_fn		*r_track_fn;	/* NULL: no client-side caching */
	void			*r_track_arg;
	enum redis_track_state	 r_track_state;
	unsigned int		 r_track_gen;	/* changes at every reset */
	int			 r_track_logged; /* a refusal was logged */
};

/* An answer awaited to CLIENT TRACKING ON, sent in generation trq_gen. */
struct redis_track_req {
	struct redis		*trq_redis;
	unsigned int		 trq_gen;
};

static void	redis_conn_start(struct redis_conn *);
static void	redis_pattern_send(struct redis *, const char *);
static void	redis_sentinel_ask(struct redis *);
static void	redis_conn_lost(struct redis_conn *, const char *, int);
static void	redis_channel_send(struct redis *, struct redis_channel *, int);
static void	redis_track_reset(struct redis *);
static void	redis_track_try(struct redis *);

static const char *
redis_conn_name(const struct redis_conn *cn)
{
	return (cn->cn_pubsub ? "redis pub/sub" : "redis");
}

/*
 * Failing a command later: its callback must come from the loop, never
 * from inside redis_command, so the caller's state is consistent.
 */
static void
redis_fail_later(struct redis *r, struct redis_cmd *cmd, const char *err)
{
	cmd->rc_err = xstrdup(err);
	TAILQ_INSERT_TAIL(&r->r_failed, cmd, rc_entry);
	event_active(r->r_fail_ev, EV_TIMEOUT, 1);
}

static void
redis_fail_cb(evutil_socket_t fd, short what, void *arg)
{
	struct redis		*r = arg;
	struct redis_cmds	 q;
	struct redis_cmd	*cmd;

	(void)fd;
	(void)what;
	while (r->r_nzombies > 0)
		redisAsyncFree(r->r_zombies[--r->r_nzombies]);
	/* Callbacks may fail new commands: those wait for the next round. */
	TAILQ_INIT(&q);
	TAILQ_CONCAT(&q, &r->r_failed, rc_entry);
	while ((cmd = TAILQ_FIRST(&q)) != NULL) {
		TAILQ_REMOVE(&q, cmd, rc_entry);
		if (cmd->rc_fn != NULL)
			cmd->rc_fn(cmd->rc_arg, NULL, cmd->rc_err);
		free(cmd->rc_err);
		free(cmd);
	}
}

/*
 * Free a context from the loop: inside its connect callback hiredis
 * still uses it after the callback returns.
 */
static void
redis_free_later(struct redis *r, redisAsyncContext *ac)
{
	r->r_zombies = xreallocarray(r->r_zombies, r->r_nzombies + 1,
	    sizeof(*r->r_zombies));
	r->r_zombies[r->r_nzombies++] = ac;
	event_active(r->r_fail_ev, EV_TIMEOUT, 1);
}

static void
redis_timeval(int64_t ms, struct timeval *tv)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

/* Arm the connection's timer for the oldest command in flight. */
static void
redis_conn_arm(struct redis_conn *cn)
{
	struct redis_cmd	*cmd;
	struct timeval		 tv;
	int64_t			 left;

	if ((cmd = TAILQ_FIRST(&cn->cn_inflight)) == NULL)
		return;
	left = cmd->rc_start + cn->cn_redis->r_timeout - monotonic_ms();
	redis_timeval(left > 0 ? left : 0, &tv);
	evtimer_add(cn->cn_timer, &tv);
}

static void
redis_conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct redis_conn	*cn = arg;
	struct redis_cmd	*cmd;
	char			 why[REDIS_ERR_MAX];

	(void)fd;
	(void)what;
	switch (cn->cn_state) {
	case REDIS_CONNECTING:
	case REDIS_HELLO:
		snprintf(why, sizeof(why), "connect timeout after %lld ms",
		    (long long)cn->cn_redis->r_timeout);
		redis_conn_lost(cn, why, REDIS_FREE_NOW);
		break;
	case REDIS_UP:
		cmd = TAILQ_FIRST(&cn->cn_inflight);
		if (cmd == NULL)
			break;
		if (monotonic_ms() - cmd->rc_start < cn->cn_redis->r_timeout) {
			redis_conn_arm(cn);
			break;
		}
		snprintf(why, sizeof(why), "no answer within %lld ms",
		    (long long)cn->cn_redis->r_timeout);
		redis_conn_lost(cn, why, REDIS_FREE_NOW);
		break;
	case REDIS_DOWN:
		break;
	}
}

static void
redis_conn_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	redis_conn_start(arg);
}

static void
redis_conn_up(struct redis_conn *cn)
{
	struct redis		*r = cn->cn_redis;
	struct redis_channel	*ch;
	size_t			 i;

	cn->cn_state = REDIS_UP;
	cn->cn_backoff = REDIS_BACKOFF_MIN_MS;
	cn->cn_logged = 0;
	evtimer_del(cn->cn_timer);
	log_info("%s: connected to %s", redis_conn_name(cn), r->r_addr);
	if (!cn->cn_pubsub)
		stats_gauge_set(STAT_G_REDIS_UP, 1);
	/* A new connection has no tracking, or a new id to redirect to. */
	redis_track_reset(r);
	if (cn->cn_pubsub) {
		for (i = 0; i < r->r_npatterns; i++)
			redis_pattern_send(r, r->r_patterns[i]);
		for (i = 0; i < r->r_nbuckets; i++)
			for (ch = r->r_channels[i]; ch != NULL; ch = ch->ch_next)
				if (ch->ch_refs > 0)
					redis_channel_send(r, ch, 1);
	} else {
		redis_track_try(r);
		if (r->r_state_fn != NULL)
			r->r_state_fn(r->r_handler_arg, 1);
	}
}

/*
 * The connection is gone or given up: fail what is in flight, forget the
 * context (freeing it when hiredis is not already doing so) and try again
 * after the backoff.  Logged once per outage.
 */
static void
redis_conn_lost(struct redis_conn *cn, const char *why, int free_ac)
{
	struct redis		*r = cn->cn_redis;
	redisAsyncContext	*ac = cn->cn_ac;
	struct redis_cmd	*cmd;
	struct redis_channel	*ch;
	struct timeval		 tv;
	enum redis_state	 was = cn->cn_state;
	char			 err[REDIS_ERR_MAX + 64];
	size_t			 i;

	cn->cn_ac = NULL;
	if (ac != NULL)
		ac->data = NULL;	/* its late callbacks are not ours */
	cn->cn_state = REDIS_DOWN;
	cn->cn_waiting = 0;
	cn->cn_id = 0;
	snprintf(cn->cn_err, sizeof(cn->cn_err), "%s", why);
	redis_track_reset(r);
	/* Ask the sentinels again, unless they named another master since. */
	if (r->r_sent.se_n > 0 && cn->cn_gen == r->r_sent.se_gen)
		r->r_sent.se_known = 0;
	evtimer_del(cn->cn_timer);
	if (was == REDIS_UP) {
		stats_inc(STAT_REDIS_RECONNECTS);
		if (!cn->cn_pubsub)
			stats_gauge_set(STAT_G_REDIS_UP, 0);
		log_warnx("%s: connection lost: %s, retrying", redis_conn_name(cn),
		    why);
	}
	else if (!cn->cn_logged)
		log_warnx("%s: cannot connect to %s: %s, retrying",
		    redis_conn_name(cn), r->r_addr, why);
	else
		log_debug("%s: cannot connect to %s: %s", redis_conn_name(cn),
		    r->r_addr, why);
	cn->cn_logged = 1;

	snprintf(err, sizeof(err), "redis: %s", why);
	while ((cmd = TAILQ_FIRST(&cn->cn_inflight)) != NULL) {
		TAILQ_REMOVE(&cn->cn_inflight, cmd, rc_entry);
		cn->cn_ninflight--;
		cmd->rc_done = 1;
		if (cmd->rc_fn != NULL)
			cmd->rc_fn(cmd->rc_arg, NULL, err);
	}
	if (cn->cn_pubsub)
		for (i = 0; i < r->r_nbuckets; i++)
			for (ch = r->r_channels[i]; ch != NULL; ch = ch->ch_next) {
				ch->ch_sub = 0;
				ch->ch_unsubs = 0;
				ch->ch_confirmed = 0;
				redis_channel_wake(ch);
			}
	if (free_ac == REDIS_FREE_NOW && ac != NULL)
		redisAsyncFree(ac);	/* deferred by hiredis inside reply callbacks */
	else if (free_ac == REDIS_FREE_LATER && ac != NULL)
		redis_free_later(r, ac);
	if (!cn->cn_pubsub && was == REDIS_UP && r->r_state_fn != NULL)
		r->r_state_fn(r->r_handler_arg, 0);

	redis_timeval(cn->cn_backoff, &tv);
	evtimer_add(cn->cn_retry, &tv);
	cn->cn_backoff *= 2;
	if (cn->cn_backoff > r->r_backoff_max)
		cn->cn_backoff = r->r_backoff_max;
}

/*
 * The start of a callback on cn's context: 1 when there is nothing to
 * do, because the context is an old one of cn, or because the reply is
 * missing (the connection went; it is marked lost here).
 */
static int
redis_reply_gone(redisAsyncContext *ac, struct redis_conn *cn, void *reply)
{
	if (ac->data != cn)
		return (1);
	if (reply == NULL) {
		redis_conn_lost(cn, ac->err ? ac->errstr : "connection lost",
		    REDIS_FREE_NOT);
		return (1);
	}
	return (0);
}

static void
redis_hello_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct redis_conn	*cn = privdata;
	redisReply		*rep = reply;
	char			 why[REDIS_ERR_MAX];

	if (redis_reply_gone(ac, cn, rep))
		return;
	if (rep->type == REDIS_REPLY_ERROR) {
		snprintf(why, sizeof(why), "%s", rep->str);
		redis_conn_lost(cn, why, REDIS_FREE_NOW);
		return;
	}
	/* ROLE is the only greeting answered with an array. */
	if (rep->type == REDIS_REPLY_ARRAY && (rep->elements == 0 ||
	    rep->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(rep->element[0]->str, REDIS_ROLE_MASTER) != 0)) {
		snprintf(why, sizeof(why), "%s:%d is not the master (role %s)",
		    cn->cn_redis->r_host, cn->cn_redis->r_port,
		    rep->elements > 0 && rep->element[0]->type ==
		    REDIS_REPLY_STRING ? rep->element[0]->str : "unknown");
		redis_conn_lost(cn, why, REDIS_FREE_NOW);
		return;
	}
	if (--cn->cn_hello == 0)
		redis_conn_up(cn);
}

/*
 * The pub/sub connection's CLIENT ID, for the tracking's redirection.
 * A server without CLIENT ID (before 5.0) has no tracking either: the
 * connection goes on without it.
 */
static void
redis_id_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct redis_conn	*cn = privdata;
	redisReply		*rep = reply;

	if (redis_reply_gone(ac, cn, rep))
		return;
	cn->cn_id = rep->type == REDIS_REPLY_INTEGER && rep->integer > 0 ?
	    rep->integer : 0;
	if (--cn->cn_hello == 0)
		redis_conn_up(cn);
}

static void
redis_connect_cb(const redisAsyncContext *cac, int status)
{
	redisAsyncContext	*ac = (redisAsyncContext *)cac;
	struct redis_conn	*cn = ac->data;
	struct redis		*r;
	char			 db[32];

	if (cn == NULL)
		return;
	r = cn->cn_redis;
	if (status != REDIS_OK) {
		/* hiredis frees the context itself after this callback. */
		redis_conn_lost(cn, ac->errstr[0] != '\0' ? ac->errstr :
		    "connect failed", REDIS_FREE_NOT);
		return;
	}
	cn->cn_state = REDIS_HELLO;
	cn->cn_hello = 0;
	if (r->r_password != NULL) {
		if (redisAsyncCommand(ac, redis_hello_cb, cn, "AUTH %s",
		    r->r_password) != REDIS_OK)
			goto bad;
		cn->cn_hello++;
	}
	/* Pub/sub channels are the same in every database. */
	if (r->r_db != 0 && !cn->cn_pubsub) {
		snprintf(db, sizeof(db), "%zu", r->r_db);
		if (redisAsyncCommand(ac, redis_hello_cb, cn, "SELECT %s",
		    db) != REDIS_OK)
			goto bad;
		cn->cn_hello++;
	}
	/* Asked before anything puts the connection in subscribe mode. */
	if (cn->cn_pubsub && r->r_track_fn != NULL) {
		if (redisAsyncCommand(ac, redis_id_cb, cn, "CLIENT ID") != REDIS_OK)
			goto bad;
		cn->cn_hello++;
	}
	/* The sentinels' answer may be old news: is it the master? */
	if (r->r_sent.se_n > 0) {
		if (redisAsyncCommand(ac, redis_hello_cb, cn, "ROLE") != REDIS_OK)
			goto bad;
		cn->cn_hello++;
	}
	if (cn->cn_hello == 0)
		redis_conn_up(cn);
	return;
 bad:
	redis_conn_lost(cn, ac->errstr[0] != '\0' ? ac->errstr :
	    "cannot send AUTH/SELECT/CLIENT ID/ROLE", REDIS_FREE_LATER);
}

static void
redis_disconnect_cb(const redisAsyncContext *cac, int status)
{
	redisAsyncContext	*ac = (redisAsyncContext *)cac;
	struct redis_conn	*cn = ac->data;

	(void)status;
	if (cn == NULL)
		return;
	redis_conn_lost(cn, ac->err ? ac->errstr : "closed by the server",
	    REDIS_FREE_NOT);
}

/*
 * The pub/sub connection's reads first (redis.h, redis_track): libevent
 * runs the active events of the highest priority before any other.
 * Only hiredis 0.14's libevent adapter is known here.
 */
static void
redis_conn_prioritize(redisAsyncContext *ac, struct event_base *base)
{
#if HIREDIS_MAJOR == 0
	redisLibeventEvents *e = ac->ev.data;

	if (event_base_get_npriorities(base) > 1 &&
	    event_priority_set(e->rev, 0) == -1)
		log_warnx("redis pub/sub: cannot raise the priority of its reads");
#else
	(void)ac;
	(void)base;
#endif
}

static void
redis_conn_start(struct redis_conn *cn)
{
	struct redis		*r = cn->cn_redis;
	redisAsyncContext	*ac;
	struct timeval		 tv;
	char			 why[REDIS_ERR_MAX];

	/* The master is found first; the sentinels' answer starts us. */
	if (r->r_sent.se_n > 0 && !r->r_sent.se_known) {
		cn->cn_waiting = 1;
		if (r->r_sent.se_ac == NULL)
			redis_sentinel_ask(r);
		return;
	}
	cn->cn_gen = r->r_sent.se_gen;
	/* Name resolution (a host name, not an address) blocks here. */
	if (r->r_path != NULL)
		ac = redisAsyncConnectUnix(r->r_path);
	else
		ac = redisAsyncConnect(r->r_host, r->r_port);
	if (ac == NULL)
		fatalx("redis: out of memory");
	if (ac->err) {
		snprintf(why, sizeof(why), "%s", ac->errstr);
		redisAsyncFree(ac);
		cn->cn_state = REDIS_CONNECTING;
		redis_conn_lost(cn, why, REDIS_FREE_NOT);
		return;
	}
	ac->data = cn;
	if (redisLibeventAttach(ac, r->r_base) != REDIS_OK)
		fatalx("redis: cannot attach to the event loop");
	if (cn->cn_pubsub)
		redis_conn_prioritize(ac, r->r_base);
	redisAsyncSetConnectCallback(ac, redis_connect_cb);
	redisAsyncSetDisconnectCallback(ac, redis_disconnect_cb);
	cn->cn_ac = ac;
	cn->cn_state = REDIS_CONNECTING;
	redis_timeval(r->r_timeout, &tv);
	evtimer_add(cn->cn_timer, &tv);
}

static void
redis_conn_init(struct redis *r, struct redis_conn *cn, int pubsub)
{
	struct timeval tv = { 0, 0 };

	cn->cn_redis = r;
	cn->cn_pubsub = pubsub;
	cn->cn_state = REDIS_DOWN;
	cn->cn_backoff = REDIS_BACKOFF_MIN_MS;
	TAILQ_INIT(&cn->cn_inflight);
	snprintf(cn->cn_err, sizeof(cn->cn_err), "not connected yet");
	cn->cn_retry = evtimer_new(r->r_base, redis_conn_retry_cb, cn);
	cn->cn_timer = evtimer_new(r->r_base, redis_conn_timer_cb, cn);
	if (cn->cn_retry == NULL || cn->cn_timer == NULL)
		fatalx("redis: cannot create timers");
	/* The first attempt starts from the loop, like every later one. */
	evtimer_add(cn->cn_retry, &tv);
}

static void
redis_conn_free(struct redis_conn *cn)
{
	redisAsyncContext	*ac = cn->cn_ac;
	struct redis_cmd	*cmd;

	if (cn->cn_retry != NULL)
		event_free(cn->cn_retry);
	if (cn->cn_timer != NULL)
		event_free(cn->cn_timer);
	cn->cn_ac = NULL;
	cn->cn_state = REDIS_DOWN;
	while ((cmd = TAILQ_FIRST(&cn->cn_inflight)) != NULL) {
		TAILQ_REMOVE(&cn->cn_inflight, cmd, rc_entry);
		cmd->rc_done = 1;
		if (cmd->rc_fn != NULL)
			cmd->rc_fn(cmd->rc_arg, NULL, "redis: shutting down");
	}
	if (ac != NULL) {
		ac->data = NULL;
		redisAsyncFree(ac);
	}
}

/* "host:port" or "[v6]:port"; *host is new. */
static int
redis_parse_host_port(const char *s, char **host, int *portp)
{
	const char	*colon;
	char		*end;
	long		 port;
	size_t		 hostlen;

	if ((colon = strrchr(s, ':')) == NULL || colon == s)
		return (-1);
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || end == colon + 1 || port <= 0 || port > 65535)
		return (-1);
	hostlen = (size_t)(colon - s);
	if (s[0] == '[' && hostlen >= 2 && s[hostlen - 1] == ']')
		*host = xstrndup(s + 1, hostlen - 2);
	else
		*host = xstrndup(s, hostlen);
	*portp = (int)port;
	return (0);
}

/* "unix:/path", "host:port" or "[v6]:port". */
static int
redis_parse_addr(struct redis *r, const char *s)
{
	if (strncmp(s, REDIS_UNIX_PREFIX, strlen(REDIS_UNIX_PREFIX)) == 0) {
		if (s[strlen(REDIS_UNIX_PREFIX)] != '/')
			return (-1);
		r->r_path = xstrdup(s + strlen(REDIS_UNIX_PREFIX));
		return (0);
	}
	return (redis_parse_host_port(s, &r->r_host, &r->r_port));
}

/*
 * The sentinels.
 */

/* Start or fail the connections that waited for the round to end. */
static void
redis_sentinel_round_over(struct redis *r, const char *err)
{
	struct redis_conn	*cns[2] = { &r->r_cmd, &r->r_sub };
	char			 why[REDIS_ERR_MAX];
	size_t			 i;

	r->r_sent.se_asked = 0;
	if (err != NULL)
		snprintf(why, sizeof(why), "no sentinel named the master "
		    "\"%s\" (last: %s)", r->r_sent.se_master, err);
	for (i = 0; i < 2; i++) {
		if (!cns[i]->cn_waiting)
			continue;
		cns[i]->cn_waiting = 0;
		if (err != NULL)
			redis_conn_lost(cns[i], why, REDIS_FREE_NOT);
		else
			redis_conn_start(cns[i]);
	}
}

/* This sentinel could not tell: ask the next one, or end the round. */
static void
redis_sentinel_failed(struct redis *r, const char *why)
{
	struct redis_sentinels *se = &r->r_sent;

	log_debug("redis: sentinel %s:%d: %s", se->se_host[se->se_cur],
	    se->se_port[se->se_cur], why);
	if (se->se_asked < se->se_n)
		redis_sentinel_ask(r);
	else
		redis_sentinel_round_over(r, why);
}

static void	redis_sentinel_listen(struct redis *);

/* A sentinel (se_cur) named the master host:port. */
static void
redis_sentinel_named(struct redis *r, const char *host, int port)
{
	struct redis_sentinels	*se = &r->r_sent;
	struct redis_conn	*cns[2] = { &r->r_cmd, &r->r_sub };
	char			 why[REDIS_ERR_MAX];
	size_t			 i;

	se->se_next = (se->se_cur + 1) % se->se_n;
	se->se_known = 1;
	redis_sentinel_listen(r);
	if (r->r_host != NULL && strcmp(r->r_host, host) == 0 &&
	    r->r_port == port) {
		redis_sentinel_round_over(r, NULL);
		return;
	}
	log_info("redis: sentinel %s:%d names %s:%d as the master \"%s\"",
	    se->se_host[se->se_cur], se->se_port[se->se_cur], host, port,
	    se->se_master);
	free(r->r_host);
	r->r_host = xstrdup(host);
	r->r_port = port;
	free(r->r_addr);
	xasprintf(&r->r_addr, "%s:%d (master \"%s\")", host, port,
	    se->se_master);
	se->se_gen++;
	/* A connection made to the old master goes, to be made again. */
	snprintf(why, sizeof(why), "the master is now %s:%d", host, port);
	for (i = 0; i < 2; i++)
		if (cns[i]->cn_state != REDIS_DOWN && cns[i]->cn_gen != se->se_gen)
			redis_conn_lost(cns[i], why, REDIS_FREE_NOW);
	redis_sentinel_round_over(r, NULL);
}

static void
redis_sentinel_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct redis		*r = privdata;
	struct redis_sentinels	*se = &r->r_sent;
	redisReply		*rep = reply;
	char			 why[REDIS_ERR_MAX], *end;
	long			 port;

	if (ac->data != r)
		return;		/* given up on (timeout, shutting down) */
	ac->data = NULL;
	se->se_ac = NULL;
	evtimer_del(se->se_timer);
	if (rep == NULL) {
		/* hiredis is freeing the context itself. */
		redis_sentinel_failed(r, ac->errstr[0] != '\0' ? ac->errstr :
		    "connection lost");
		return;
	}
	redisAsyncFree(ac);	/* after this callback, by hiredis */
	if (rep->type == REDIS_REPLY_ERROR) {
		snprintf(why, sizeof(why), "%s", rep->str);
		redis_sentinel_failed(r, why);
		return;
	}
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
	    rep->element[0]->type != REDIS_REPLY_STRING ||
	    rep->element[1]->type != REDIS_REPLY_STRING) {
		snprintf(why, sizeof(why), "does not know the master \"%s\"",
		    se->se_master);
		redis_sentinel_failed(r, why);
		return;
	}
	port = strtol(rep->element[1]->str, &end, 10);
	if (*end != '\0' || end == rep->element[1]->str || port <= 0 ||
	    port > 65535 || rep->element[0]->len == 0 ||
	    memchr(rep->element[0]->str, '\0', rep->element[0]->len) != NULL) {
		redis_sentinel_failed(r, "answered an invalid address");
		return;
	}
	redis_sentinel_named(r, rep->element[0]->str, (int)port);
}

static void
redis_sentinel_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct redis		*r = arg;
	struct redis_sentinels	*se = &r->r_sent;
	redisAsyncContext	*ac = se->se_ac;
	char			 why[REDIS_ERR_MAX];

	(void)fd;
	(void)what;
	if (ac == NULL)
		return;
	se->se_ac = NULL;
	ac->data = NULL;
	redisAsyncFree(ac);
	snprintf(why, sizeof(why), "no answer within %lld ms",
	    (long long)r->r_timeout);
	redis_sentinel_failed(r, why);
}

/* "+switch-master NAME OLDIP OLDPORT NEWIP NEWPORT" from se_sub. */
static void
redis_sentinel_sub_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct redis		*r = privdata;
	struct redis_sentinels	*se = &r->r_sent;
	redisReply		*rep = reply, *msg;
	char			*copy, *words[REDIS_SWITCH_WORDS], *w, *save, *end;
	size_t			 n = 0;
	long			 port;

	if (ac->data != r)
		return;
	if (rep == NULL) {
		/* hiredis is freeing it; the next answer listens again. */
		ac->data = NULL;
		se->se_sub = NULL;
		log_debug("redis: sentinel %s:%d: no longer listening: %s",
		    se->se_host[se->se_sub_idx], se->se_port[se->se_sub_idx],
		    ac->errstr[0] != '\0' ? ac->errstr : "connection lost");
		return;
	}
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3 ||
	    rep->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(rep->element[0]->str, "message") != 0 ||
	    rep->element[2]->type != REDIS_REPLY_STRING)
		return;
	msg = rep->element[2];
	copy = xstrndup(msg->str, msg->len);
	for (w = strtok_r(copy, " ", &save); w != NULL && n < REDIS_SWITCH_WORDS;
	    w = strtok_r(NULL, " ", &save))
		words[n++] = w;
	if (n != REDIS_SWITCH_WORDS || strcmp(words[0], se->se_master) != 0)
		goto out;
	port = strtol(words[4], &end, 10);
	if (*end != '\0' || end == words[4] || port <= 0 || port > 65535)
		goto out;
	/* A round of questions under way will have the answer too. */
	if (se->se_ac != NULL)
		goto out;
	se->se_cur = se->se_sub_idx;
	log_info("redis: sentinel %s:%d: +switch-master to %s:%ld",
	    se->se_host[se->se_cur], se->se_port[se->se_cur], words[3], port);
	redis_sentinel_named(r, words[3], (int)port);
 out:
	free(copy);
}

/* Listen to the sentinel that answered last, unless listening already. */
static void
redis_sentinel_listen(struct redis *r)
{
	struct redis_sentinels	*se = &r->r_sent;
	redisAsyncContext	*ac;

	if (se->se_sub != NULL)
		return;
	ac = redisAsyncConnect(se->se_host[se->se_cur], se->se_port[se->se_cur]);
	if (ac == NULL)
		fatalx("redis: out of memory");
	if (ac->err) {
		log_debug("redis: sentinel %s:%d: cannot listen: %s",
		    se->se_host[se->se_cur], se->se_port[se->se_cur], ac->errstr);
		redisAsyncFree(ac);
		return;
	}
	ac->data = r;
	if (redisLibeventAttach(ac, r->r_base) != REDIS_OK)
		fatalx("redis: cannot attach to the event loop");
	if (redisAsyncCommand(ac, redis_sentinel_sub_cb, r, "SUBSCRIBE %s",
	    REDIS_SWITCH_MASTER) != REDIS_OK) {
		ac->data = NULL;
		redisAsyncFree(ac);
		return;
	}
	se->se_sub = ac;
	se->se_sub_idx = se->se_cur;
}

/* Ask the next sentinel of the round where the master is. */
static void
redis_sentinel_ask(struct redis *r)
{
	struct redis_sentinels	*se = &r->r_sent;
	redisAsyncContext	*ac;
	struct timeval		 tv;
	char			 why[REDIS_ERR_MAX];

	se->se_cur = (se->se_next + se->se_asked) % se->se_n;
	se->se_asked++;
	/* Name resolution (a host name, not an address) blocks here. */
	ac = redisAsyncConnect(se->se_host[se->se_cur], se->se_port[se->se_cur]);
	if (ac == NULL)
		fatalx("redis: out of memory");
	if (ac->err) {
		snprintf(why, sizeof(why), "%s", ac->errstr);
		redisAsyncFree(ac);
		redis_sentinel_failed(r, why);
		return;
	}
	ac->data = r;
	if (redisLibeventAttach(ac, r->r_base) != REDIS_OK)
		fatalx("redis: cannot attach to the event loop");
	/* Sent once connected; a failed connect answers it with NULL. */
	if (redisAsyncCommand(ac, redis_sentinel_cb, r,
	    "SENTINEL get-master-addr-by-name %s", se->se_master) != REDIS_OK) {
		snprintf(why, sizeof(why), "%s", ac->errstr[0] != '\0' ?
		    ac->errstr : "cannot send the question");
		ac->data = NULL;
		redisAsyncFree(ac);
		redis_sentinel_failed(r, why);
		return;
	}
	se->se_ac = ac;
	redis_timeval(r->r_timeout, &tv);
	evtimer_add(se->se_timer, &tv);
}

static void
redis_sentinel_init(struct redis *r, const struct conf *conf)
{
	struct redis_sentinels	*se = &r->r_sent;
	const struct conf_strings *l = &conf->c_redis_sentinels;
	size_t			 i;

	se->se_host = xcalloc(l->cs_n, sizeof(*se->se_host));
	se->se_port = xcalloc(l->cs_n, sizeof(*se->se_port));
	for (i = 0; i < l->cs_n; i++)
		if (redis_parse_host_port(l->cs_v[i], &se->se_host[i],
		    &se->se_port[i]) == -1)
			fatalx("redis: invalid sentinel address \"%s\"",
			    l->cs_v[i]);
	se->se_n = l->cs_n;
	se->se_master = xstrdup(conf->c_redis_sentinel_master);
	se->se_timer = evtimer_new(r->r_base, redis_sentinel_timer_cb, r);
	if (se->se_timer == NULL)
		fatalx("redis: cannot create timers");
	xasprintf(&r->r_addr, "the master \"%s\" of the sentinels",
	    se->se_master);
}

static void
redis_sentinel_free(struct redis *r)
{
	struct redis_sentinels	*se = &r->r_sent;
	size_t			 i;

	if (se->se_ac != NULL) {
		se->se_ac->data = NULL;
		redisAsyncFree(se->se_ac);
		se->se_ac = NULL;
	}
	if (se->se_sub != NULL) {
		se->se_sub->data = NULL;
		redisAsyncFree(se->se_sub);
		se->se_sub = NULL;
	}
	if (se->se_timer != NULL)
		event_free(se->se_timer);
	for (i = 0; i < se->se_n; i++)
		free(se->se_host[i]);
	free(se->se_host);
	free(se->se_port);
	free(se->se_master);
}

struct redis *
redis_new(struct event_base *base, const struct conf *conf)
{
	struct redis	*r;

	if (!conf_redis_wanted(conf))
		return (NULL);
	r = xcalloc(1, sizeof(*r));
	r->r_base = base;
	r->r_backoff_max = REDIS_BACKOFF_MAX_MS;
	if (conf->c_redis_sentinels.cs_n > 0) {
		redis_sentinel_init(r, conf);
		r->r_backoff_max = REDIS_SENTINEL_BACKOFF_MAX_MS;
	} else if (redis_parse_addr(r, conf->c_redis) == -1) {
		log_warnx("redis: invalid address \"%s\"", conf->c_redis);
		free(r);
		return (NULL);
	} else
		r->r_addr = xstrdup(conf->c_redis);
	if (conf->c_redis_password != NULL)
		r->r_password = xstrdup(conf->c_redis_password);
	r->r_db = conf->c_redis_db;
	r->r_timeout = conf->c_redis_timeout > 0 ? conf->c_redis_timeout : 2000;
	TAILQ_INIT(&r->r_failed);
	if ((r->r_fail_ev = event_new(base, -1, 0, redis_fail_cb, r)) == NULL)
		fatalx("redis: cannot create an event");
	r->r_nbuckets = REDIS_CHANNELS_MIN;
	r->r_channels = xcalloc(r->r_nbuckets, sizeof(*r->r_channels));
	redis_conn_init(r, &r->r_cmd, 0);
	redis_conn_init(r, &r->r_sub, 1);
	return (r);
}

void
redis_free(struct redis *r)
{
	struct redis_channel	*ch, *next;
	size_t			 i;

	if (r == NULL)
		return;
	r->r_state_fn = NULL;
	r->r_msg_fn = NULL;
	r->r_track_fn = NULL;
	redis_conn_free(&r->r_cmd);
	redis_conn_free(&r->r_sub);
	redis_sentinel_free(r);
	/* Commands failed but not yet told: tell them now. */
	redis_fail_cb(-1, 0, r);
	event_free(r->r_fail_ev);
	free(r->r_zombies);
	for (i = 0; i < r->r_nbuckets; i++)
		for (ch = r->r_channels[i]; ch != NULL; ch = next) {
			next = ch->ch_next;
			free(ch->ch_name);
			free(ch);
		}
	free(r->r_channels);
	for (i = 0; i < r->r_npatterns; i++)
		free(r->r_patterns[i]);
	free(r->r_addr);
	free(r->r_host);
	free(r->r_path);
	if (r->r_password != NULL) {
		explicit_bzero(r->r_password, strlen(r->r_password));
		free(r->r_password);
	}
	free(r);
}

int
redis_connected(const struct redis *r)
{
	return (r->r_cmd.cn_state == REDIS_UP);
}

void
redis_set_handlers(struct redis *r, redis_message_fn *msg, redis_state_fn *state,
    void *arg)
{
	r->r_msg_fn = msg;
	r->r_state_fn = state;
	r->r_handler_arg = arg;
}

/*
 * An error that says the server is not the master, or not yet one: with
 * sentinels, the master is to be asked for again.
 */
static int
redis_failover_error(const struct redis *r, const redisReply *rep)
{
	static const char *const prefixes[] = {
		"READONLY", "LOADING", "MASTERDOWN"
	};
	size_t	i;

	if (r->r_sent.se_n == 0 || rep->type != REDIS_REPLY_ERROR)
		return (0);
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(rep->str, prefixes[i], strlen(prefixes[i])) == 0)
			return (1);
	return (0);
}

static void
redis_reply_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct redis_cmd	*cmd = privdata;
	struct redis_conn	*cn = &cmd->rc_redis->r_cmd;
	char			 why[REDIS_ERR_MAX];
	int			 lost;

	if (cmd->rc_done) {
		free(cmd);
		return;
	}
	if (reply == NULL) {
		/*
		 * hiredis is tearing the context down (read error, EOF):
		 * this command and all others in flight fail now.
		 */
		snprintf(why, sizeof(why), "%s", ac->err ? ac->errstr :
		    "connection lost");
		if (ac->data == cn)
			redis_conn_lost(cn, why, REDIS_FREE_NOT);
		if (!cmd->rc_done && cmd->rc_fn != NULL)
			cmd->rc_fn(cmd->rc_arg, NULL, why);
		free(cmd);
		return;
	}
	TAILQ_REMOVE(&cn->cn_inflight, cmd, rc_entry);
	cn->cn_ninflight--;
	cmd->rc_done = 1;
	if ((lost = redis_failover_error(cmd->rc_redis, reply)))
		snprintf(why, sizeof(why), "%s", ((redisReply *)reply)->str);
	if (cmd->rc_fn != NULL)
		cmd->rc_fn(cmd->rc_arg, reply, NULL);
	free(cmd);
	/* The caller has its error; the next command goes to the master. */
	if (lost && ac->data == cn)
		redis_conn_lost(cn, why, REDIS_FREE_NOW);
	/* The timer follows the new oldest command, when it fires. */
}

void
redis_command(struct redis *r, redis_reply_fn *fn, void *arg, int argc,
    const char **argv, const size_t *argvlen)
{
	struct redis_conn	*cn = &r->r_cmd;
	struct redis_cmd	*cmd;
	char			 err[REDIS_ERR_MAX + 64];

	cmd = xcalloc(1, sizeof(*cmd));
	cmd->rc_redis = r;
	cmd->rc_fn = fn;
	cmd->rc_arg = arg;
	if (cn->cn_state != REDIS_UP) {
		snprintf(err, sizeof(err), "redis not connected: %s", cn->cn_err);
		redis_fail_later(r, cmd, err);
		return;
	}
	if (cn->cn_ninflight >= REDIS_PENDING_MAX) {
		redis_fail_later(r, cmd, "redis: too many commands in flight");
		return;
	}
	if (redisAsyncCommandArgv(cn->cn_ac, redis_reply_cb, cmd, argc, argv,
	    argvlen) != REDIS_OK) {
		snprintf(err, sizeof(err), "redis: %s", cn->cn_ac->errstr[0] != '\0' ?
		    cn->cn_ac->errstr : "cannot send the command");
		redis_fail_later(r, cmd, err);
		return;
	}
	cmd->rc_start = monotonic_ms();
	TAILQ_INSERT_TAIL(&cn->cn_inflight, cmd, rc_entry);
	cn->cn_ninflight++;
	if (!evtimer_pending(cn->cn_timer, NULL))
		redis_conn_arm(cn);
}

void
redis_publish(struct redis *r, const char *channel, const void *msg, size_t len)
{
	const char	*argv[3];
	size_t		 argvlen[3];

	argv[0] = "PUBLISH";
	argvlen[0] = strlen(argv[0]);
	argv[1] = channel;
	argvlen[1] = strlen(channel);
	argv[2] = msg;
	argvlen[2] = len;
	redis_command(r, NULL, NULL, 3, argv, argvlen);
}

/*
 * Channels.
 */

/* FNV-1a over the channel name. */
static size_t
redis_channel_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return ((size_t)h);
}

static struct redis_channel **
redis_channel_slot(struct redis *r, const char *name)
{
	struct redis_channel **chp;

	chp = &r->r_channels[redis_channel_hash(name) & (r->r_nbuckets - 1)];
	for (; *chp != NULL; chp = &(*chp)->ch_next)
		if (strcmp((*chp)->ch_name, name) == 0)
			break;
	return (chp);
}

static void
redis_channel_grow(struct redis *r)
{
	struct redis_channel	**old = r->r_channels, *ch, *next;
	size_t			  i, n = r->r_nbuckets, b;

	r->r_nbuckets = n * 2;
	r->r_channels = xcalloc(r->r_nbuckets, sizeof(*r->r_channels));
	for (i = 0; i < n; i++)
		for (ch = old[i]; ch != NULL; ch = next) {
			next = ch->ch_next;
			b = redis_channel_hash(ch->ch_name) & (r->r_nbuckets - 1);
			ch->ch_next = r->r_channels[b];
			r->r_channels[b] = ch;
		}
	free(old);
}

static void
redis_channel_drop(struct redis *r, const char *name)
{
	struct redis_channel **chp, *ch;

	chp = redis_channel_slot(r, name);
	if ((ch = *chp) == NULL)
		return;
	*chp = ch->ch_next;
	r->r_nchannels--;
	redis_channel_wake(ch);
	free(ch->ch_name);
	free(ch);
}

/*
 * An invalidation pushed to the pub/sub connection: the keys that
 * changed, or nil for all of them.
 */
static void
redis_track_message(struct redis *r, const redisReply *msg)
{
	size_t i;

	if (msg->type == REDIS_REPLY_NIL) {
		r->r_track_fn(r->r_track_arg, REDIS_TRACK_FLUSH, NULL, 0);
		return;
	}
	if (msg->type == REDIS_REPLY_STRING) {
		r->r_track_fn(r->r_track_arg, REDIS_TRACK_KEY, msg->str,
		    (size_t)msg->len);
		return;
	}
	if (msg->type != REDIS_REPLY_ARRAY) {
		/* Not understood: what could it have meant?  Anything. */
		r->r_track_fn(r->r_track_arg, REDIS_TRACK_FLUSH, NULL, 0);
		return;
	}
	for (i = 0; i < msg->elements; i++) {
		if (msg->element[i]->type != REDIS_REPLY_STRING) {
			r->r_track_fn(r->r_track_arg, REDIS_TRACK_FLUSH, NULL, 0);
			return;
		}
		r->r_track_fn(r->r_track_arg, REDIS_TRACK_KEY,
		    msg->element[i]->str, (size_t)msg->element[i]->len);
	}
}

void
redis_sub_poll(struct redis *r)
{
	struct redis_conn	*cn = &r->r_sub;
	struct timeval		 now;

	/*
	 * Not from inside one of the connection's own callbacks (a request
	 * another node forwarded comes that way): its replies are being
	 * read already.
	 */
	if (cn->cn_state != REDIS_UP || cn->cn_ac == NULL ||
	    (cn->cn_ac->c.flags & REDIS_IN_CALLBACK))
		return;
	/*
	 * Once per turn of the loop (its cached time changes with each
	 * poll for events): the events of one turn were read together, and
	 * one read(2) each would cost more than the rest of a cached load.
	 */
	if (event_base_gettimeofday_cached(r->r_base, &now) == 0 &&
	    timercmp(&now, &r->r_sub_polled, ==))
		return;
	r->r_sub_polled = now;
	redisAsyncHandleRead(cn->cn_ac);
}

static void
redis_sub_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct redis_conn	*cn = privdata;
	struct redis		*r = cn->cn_redis;
	redisReply		*rep = reply, *kind, *chan;
	struct redis_channel	*ch;
	char			*name;

	if (redis_reply_gone(ac, cn, rep))
		return;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 3 ||
	    rep->element[0]->type != REDIS_REPLY_STRING ||
	    rep->element[1]->type != REDIS_REPLY_STRING)
		return;
	kind = rep->element[0];
	chan = rep->element[1];
	if (strcmp(kind->str, "message") == 0 && r->r_track_fn != NULL &&
	    strcmp(chan->str, REDIS_TRACK_CHANNEL) == 0) {
		redis_track_message(r, rep->element[2]);
		return;
	}
	if (strcmp(kind->str, "message") == 0) {
		if (rep->element[2]->type == REDIS_REPLY_STRING && r->r_msg_fn != NULL)
			r->r_msg_fn(r->r_handler_arg, chan->str, (size_t)chan->len,
			    rep->element[2]->str, (size_t)rep->element[2]->len);
		return;
	}
	if (strcmp(kind->str, "pmessage") == 0) {
		/* pmessage, the pattern, the channel, the message. */
		if (rep->elements == 4 &&
		    rep->element[2]->type == REDIS_REPLY_STRING &&
		    rep->element[3]->type == REDIS_REPLY_STRING && r->r_msg_fn != NULL)
			r->r_msg_fn(r->r_handler_arg, rep->element[2]->str,
			    (size_t)rep->element[2]->len, rep->element[3]->str,
			    (size_t)rep->element[3]->len);
		return;
	}
	if (strcmp(kind->str, "subscribe") == 0) {
		name = xstrndup(chan->str, (size_t)chan->len);
		if ((ch = *redis_channel_slot(r, name)) != NULL && ch->ch_sub) {
			ch->ch_confirmed = 1;
			redis_channel_wake(ch);
		}
		free(name);
		redis_track_try(r);
		return;
	}
	if (strcmp(kind->str, "unsubscribe") != 0)
		return;
	/*
	 * hiredis forgets a channel's callback when its UNSUBSCRIBE is
	 * confirmed, so a SUBSCRIBE made in between would be lost: it is
	 * only sent now.
	 */
	name = xstrndup(chan->str, (size_t)chan->len);
	if ((ch = *redis_channel_slot(r, name)) == NULL)
		goto out;
	if (ch->ch_unsubs > 0)
		ch->ch_unsubs--;
	if (ch->ch_unsubs > 0)
		goto out;
	if (ch->ch_refs > 0)
		redis_channel_send(r, ch, 1);
	else
		redis_channel_drop(r, name);
 out:
	free(name);
}

/* PSUBSCRIBE pattern, if the connection is up (it is sent again on every connect). */
static void
redis_pattern_send(struct redis *r, const char *pattern)
{
	struct redis_conn *cn = &r->r_sub;

	if (cn->cn_state != REDIS_UP)
		return;
	if (redisAsyncCommand(cn->cn_ac, redis_sub_cb, cn, "PSUBSCRIBE %s",
	    pattern) != REDIS_OK)
		log_warnx("%s: cannot subscribe to %s", redis_conn_name(cn),
		    pattern);
}

void
redis_psubscribe(struct redis *r, const char *pattern)
{
	if (r->r_npatterns >= REDIS_PATTERNS_MAX)
		fatalx("redis: more than %d patterns", REDIS_PATTERNS_MAX);
	r->r_patterns[r->r_npatterns++] = xstrdup(pattern);
	redis_pattern_send(r, pattern);
}

/* SUBSCRIBE (on) or UNSUBSCRIBE the channel, if the connection is up. */
static void
redis_channel_send(struct redis *r, struct redis_channel *ch, int on)
{
	struct redis_conn *cn = &r->r_sub;

	if (cn->cn_state != REDIS_UP)
		return;
	if (on) {
		if (ch->ch_sub || ch->ch_unsubs > 0)
			return;
		if (redisAsyncCommand(cn->cn_ac, redis_sub_cb, cn, "SUBSCRIBE %s",
		    ch->ch_name) == REDIS_OK)
			ch->ch_sub = 1;
	} else {
		if (!ch->ch_sub)
			return;
		if (redisAsyncCommand(cn->cn_ac, redis_sub_cb, cn,
		    "UNSUBSCRIBE %s", ch->ch_name) == REDIS_OK) {
			ch->ch_sub = 0;
			ch->ch_confirmed = 0;
			ch->ch_unsubs++;
		}
	}
}

void
redis_subscribe(struct redis *r, const char *channel)
{
	struct redis_channel **chp, *ch;

	chp = redis_channel_slot(r, channel);
	if ((ch = *chp) == NULL) {
		ch = xcalloc(1, sizeof(*ch));
		ch->ch_name = xstrdup(channel);
		*chp = ch;
		if (++r->r_nchannels > 2 * r->r_nbuckets)
			redis_channel_grow(r);
	}
	if (ch->ch_refs++ == 0)
		redis_channel_send(r, ch, 1);
}

void
redis_unsubscribe(struct redis *r, const char *channel)
{
	struct redis_channel *ch;

	if ((ch = *redis_channel_slot(r, channel)) == NULL || ch->ch_refs == 0)
		return;
	if (--ch->ch_refs > 0)
		return;
	redis_channel_send(r, ch, 0);
	/* Kept until the UNSUBSCRIBE is confirmed (see redis_sub_cb). */
	if (ch->ch_unsubs == 0)
		redis_channel_drop(r, channel);
}

int
redis_subscribe_wait(struct redis *r, const char *channel, void (*fn)(void *),
    void *arg)
{
	struct redis_channel	*ch;
	struct redis_waiter	*w;

	ch = *redis_channel_slot(r, channel);
	if (ch == NULL || ch->ch_confirmed || !ch->ch_sub ||
	    r->r_sub.cn_state != REDIS_UP)
		return (0);
	w = xcalloc(1, sizeof(*w));
	w->rw_fn = fn;
	w->rw_arg = arg;
	w->rw_next = ch->ch_waiters;
	ch->ch_waiters = w;
	return (1);
}

/*
 * Client-side caching.
 */

/* Whatever the tracking was, it is off until confirmed again. */
static void
redis_track_reset(struct redis *r)
{
	if (r->r_track_fn == NULL)
		return;
	r->r_track_gen++;
	r->r_track_state = REDIS_TRACKING_OFF;
	r->r_track_fn(r->r_track_arg, REDIS_TRACK_OFF, NULL, 0);
}

static void
redis_track_cb(void *arg, struct redisReply *reply, const char *err)
{
	struct redis_track_req	*trq = arg;
	struct redis		*r = trq->trq_redis;
	int			 current;

	current = trq->trq_gen == r->r_track_gen &&
	    r->r_track_state == REDIS_TRACKING_SENT;
	free(trq);
	if (!current || r->r_track_fn == NULL)
		return;
	if (err != NULL) {
		/* The connection is lost: its reset comes with it. */
		r->r_track_state = REDIS_TRACKING_OFF;
		return;
	}
	if (reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, "OK") == 0) {
		r->r_track_state = REDIS_TRACKING_ON;
		log_debug("redis: client-side caching on (redirect to %lld)",
		    r->r_sub.cn_id);
		r->r_track_fn(r->r_track_arg, REDIS_TRACK_ON, NULL, 0);
		return;
	}
	r->r_track_state = REDIS_TRACKING_REFUSED;
	if (!r->r_track_logged)
		log_warnx("redis: no client-side caching: CLIENT TRACKING: %s",
		    reply->type == REDIS_REPLY_ERROR ? reply->str :
		    "unexpected answer");
	r->r_track_logged = 1;
}

/* Ask for the tracking when both connections are ready for it. */
static void
redis_track_try(struct redis *r)
{
	struct redis_channel	*ch;
	struct redis_track_req	*trq;
	const char		*argv[6];
	size_t			 argvlen[6];
	char			 id[32];
	int			 i;

	if (r->r_track_fn == NULL || r->r_track_state != REDIS_TRACKING_OFF ||
	    r->r_cmd.cn_state != REDIS_UP || r->r_sub.cn_state != REDIS_UP ||
	    r->r_sub.cn_id <= 0)
		return;
	ch = *redis_channel_slot(r, REDIS_TRACK_CHANNEL);
	if (ch == NULL || !ch->ch_confirmed)
		return;
	snprintf(id, sizeof(id), "%lld", r->r_sub.cn_id);
	argv[0] = "CLIENT";
	argv[1] = "TRACKING";
	argv[2] = "ON";
	argv[3] = "REDIRECT";
	argv[4] = id;
	argv[5] = "NOLOOP";
	for (i = 0; i < 6; i++)
		argvlen[i] = strlen(argv[i]);
	trq = xcalloc(1, sizeof(*trq));
	trq->trq_redis = r;
	trq->trq_gen = r->r_track_gen;
	r->r_track_state = REDIS_TRACKING_SENT;
	redis_command(r, redis_track_cb, trq, 6, argv, argvlen);
}

void
redis_track(struct redis *r, redis_track_fn *fn, void *arg)
{
	if (fn == NULL) {
		r->r_track_fn = NULL;	/* the caller is going away */
		return;
	}
	if (r->r_track_fn != NULL || r->r_sub.cn_state != REDIS_DOWN)
		fatalx("redis_track: called twice or too late");
	r->r_track_fn = fn;
	r->r_track_arg = arg;
	redis_subscribe(r, REDIS_TRACK_CHANNEL);
}
