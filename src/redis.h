/*
 * redis.h: a worker's connections to Redis, on its event loop.
 *
 * Two hiredis asynchronous connections through libevent: one for
 * commands, one for pub/sub.  Both connect with a timeout and reconnect
 * with a capped exponential backoff; the state is logged once per change,
 * never per command.  While the command connection is down, commands fail
 * at once (their callback gets an error from the loop): nothing queues
 * without bound.  Subscriptions are remembered and made again after every
 * reconnection.
 *
 * With redis_sentinel, the master is whatever the sentinels name; a
 * connection lost, or a command refused because the server is no longer
 * the master (READONLY, LOADING, MASTERDOWN), makes the worker ask them
 * again and follow the master to its new address.  The command that got
 * such an error has it as its reply.
 *
 * Ownership: replies are valid only during the callback.  A callback is
 * called exactly once per command, always from the loop, never from
 * inside redis_command; the caller keeps its argument alive until then
 * (e.g. with a reference count).
 */
#ifndef RAIND_REDIS_H
#define RAIND_REDIS_H

#include <stddef.h>
#include <stdint.h>

struct conf;
struct event_base;
struct redis;
struct redisReply;

#define REDIS_BACKOFF_MIN_MS	100
#define REDIS_BACKOFF_MAX_MS	5000
#define REDIS_SENTINEL_BACKOFF_MAX_MS 1000	/* a failover is expected to end */
#define REDIS_PENDING_MAX	100000	/* commands in flight per worker */

/* err is NULL on success (reply may still be a Redis error reply). */
typedef void	redis_reply_fn(void *arg, struct redisReply *reply, const char *err);
/* A message published on a subscribed channel. */
typedef void	redis_message_fn(void *arg, const char *channel, size_t chlen,
		    const char *msg, size_t len);
/* The command connection came up (1) or went down (0). */
typedef void	redis_state_fn(void *arg, int up);

/*
 * Start connecting per conf (c_redis or c_redis_sentinels must be set);
 * NULL only on a bad address.
 */
struct redis	*redis_new(struct event_base *, const struct conf *);
void		 redis_free(struct redis *);
int		 redis_connected(const struct redis *);
void		 redis_set_handlers(struct redis *, redis_message_fn *,
		    redis_state_fn *, void *arg);

/* One command in argv form (binary safe). */
void		 redis_command(struct redis *, redis_reply_fn *, void *arg,
		    int argc, const char **argv, const size_t *argvlen);
/* PUBLISH on the command connection; fire and forget. */
void		 redis_publish(struct redis *, const char *channel,
		    const void *msg, size_t len);
/* Reference-counted: the channel is subscribed while the count is > 0. */
void		 redis_subscribe(struct redis *, const char *channel);
void		 redis_unsubscribe(struct redis *, const char *channel);
/*
 * PSUBSCRIBE pattern for the life of r (again after every reconnect);
 * its messages reach the message handler with the channel they were
 * published on.
 */
#define REDIS_PATTERNS_MAX	4
void		 redis_psubscribe(struct redis *, const char *pattern);
/*
 * Wait until Redis has confirmed the subscription of channel: 1 when fn
 * will be called (once, from the loop's callbacks) at that moment, 0 when
 * there is nothing to wait for (confirmed already, not subscribed, or the
 * connection is down: waiting for it would only delay the client).
 */
int		 redis_subscribe_wait(struct redis *, const char *channel,
		    void (*fn)(void *), void *arg);

/*
 * Server-assisted client-side caching (Redis 6 and later, RESP2).  The
 * pub/sub connection tells its CLIENT ID and subscribes to
 * REDIS_TRACK_CHANNEL; once that is confirmed, the command connection
 * sends CLIENT TRACKING ON REDIRECT <that id> NOLOOP, so Redis tells the
 * pub/sub connection of every change to a key the command connection
 * has read, except the changes made by the command connection itself
 * (NOLOOP: the caller accounts for its own writes).
 *
 * fn hears REDIS_TRACK_ON when the tracking is confirmed: from then on,
 * a key read is reported when it changes.  REDIS_TRACK_OFF comes
 * whenever that stops being true or is not yet true again (either
 * connection lost or made again, the master moved): the caller forgets
 * everything it read and trusts nothing until the next REDIS_TRACK_ON.
 * REDIS_TRACK_KEY names one changed key (valid during the call);
 * REDIS_TRACK_FLUSH means every key (FLUSHALL, FLUSHDB).  A server that
 * refuses CLIENT TRACKING is logged once and stays off.
 *
 * fn NULL stops the calls (the caller is going away).
 * Call once, before the event loop runs (the pub/sub connection must
 * ask for its id before it subscribes to anything).  The read event of
 * the pub/sub connection gets the base's highest priority, when the base
 * has more than one (event_base_priority_init): an invalidation that
 * arrives together with a client's request is then handled first.
 */
#define REDIS_TRACK_CHANNEL	"__redis__:invalidate"

/*
 * Read what the pub/sub connection has received, now, not when the loop
 * gets to it: an invalidation already in the socket is applied before a
 * cached value is trusted.  One read(2), which usually finds nothing, at
 * most once per turn of the event loop.
 */
void		 redis_sub_poll(struct redis *);

enum redis_track_event {
	REDIS_TRACK_ON,
	REDIS_TRACK_OFF,
	REDIS_TRACK_KEY,
	REDIS_TRACK_FLUSH
};
typedef void	redis_track_fn(void *arg, enum redis_track_event,
		    const char *key, size_t keylen);
void		 redis_track(struct redis *, redis_track_fn *, void *arg);

#endif
