/*
 * pool.h: a small thread pool for blocking work of handlers.
 *
 * Jobs run on pool threads; their completion runs back on the event loop
 * that owns the pool: the thread that finished a job puts it on a done
 * list and writes one byte to a pipe that the loop watches.  So a done
 * function may use everything a handler may use; a work function may use
 * nothing of raind (no logging, no rain_* calls).
 *
 * Threads start on the first pool_submit, so a worker that never uses the
 * pool has none, and a pool created before fork() has no threads to lose.
 *
 * Ownership: the pool owns queued jobs; pool_free waits for running jobs,
 * then calls the done functions of the finished ones and the cancel path
 * (done with cancelled set) of those never started, on the caller's thread.
 */
#ifndef RAIND_POOL_H
#define RAIND_POOL_H

#include <stddef.h>

struct event_base;
struct pool;

#define POOL_THREADS_DEFAULT	4
#define POOL_THREADS_MAX	256
#define POOL_QUEUE_MAX		4096	/* jobs waiting for a thread */

typedef void	(*pool_work_fn)(void *arg);
/* cancelled: the job never ran (the pool is being freed). */
typedef void	(*pool_done_fn)(void *arg, int cancelled);

struct pool	*pool_new(struct event_base *, int nthreads);
/* Queue a job.  0, or -1 when the queue is full or threads cannot start. */
int		 pool_submit(struct pool *, pool_work_fn, pool_done_fn, void *arg);
/* Jobs queued or running (for tests and statistics). */
size_t		 pool_pending(struct pool *);
void		 pool_free(struct pool *);

#endif
