/*
 * test_pool.c: the thread pool: work on threads, completion on the loop,
 * cancellation at free.
 */
#include "config.h"

#include <criterion/criterion.h>

#include <pthread.h>
#include <time.h>

#include <event2/event.h>

#include "pool.h"

#define JOBS		64
#define WAIT_MAX_S	5

struct job {
	pthread_t	 loop;
	int		 ran_on_thread;	/* the work ran off the loop thread */
	int		 done;
	int		 cancelled;
	long		 value;
};

static void
work(void *arg)
{
	struct job *j = arg;

	j->ran_on_thread = !pthread_equal(pthread_self(), j->loop);
	j->value *= 2;
}

static void
done(void *arg, int cancelled)
{
	struct job *j = arg;

	/* Completion runs on the loop thread. */
	cr_assert(pthread_equal(pthread_self(), j->loop));
	j->done++;
	j->cancelled = cancelled;
}

Test(pool, jobs_complete_on_the_loop)
{
	struct event_base *base = event_base_new();
	struct pool *p = pool_new(base, 3);
	struct job jobs[JOBS];
	time_t t0 = time(NULL);
	int i, all;

	for (i = 0; i < JOBS; i++) {
		jobs[i] = (struct job){ pthread_self(), 0, 0, 0, i };
		cr_assert(pool_submit(p, work, done, &jobs[i]) == 0);
	}
	do {
		cr_assert(time(NULL) - t0 < WAIT_MAX_S);
		event_base_loop(base, EVLOOP_ONCE);
		for (i = 0, all = 1; i < JOBS; i++)
			all &= jobs[i].done == 1;
	} while (!all);
	for (i = 0; i < JOBS; i++) {
		cr_expect(jobs[i].ran_on_thread);
		cr_expect_eq(jobs[i].value, 2 * i);
		cr_expect_eq(jobs[i].cancelled, 0);
	}
	cr_expect_eq(pool_pending(p), 0);
	pool_free(p);
	event_base_free(base);
}

Test(pool, free_without_threads)
{
	struct event_base *base = event_base_new();

	pool_free(pool_new(base, POOL_THREADS_DEFAULT));
	event_base_free(base);
}

Test(pool, free_reports_every_job)
{
	struct event_base *base = event_base_new();
	struct pool *p = pool_new(base, 1);
	struct job jobs[JOBS];
	int i;

	for (i = 0; i < JOBS; i++) {
		jobs[i] = (struct job){ pthread_self(), 0, 0, 0, i };
		cr_assert(pool_submit(p, work, done, &jobs[i]) == 0);
	}
	/* Freed at once: finished jobs complete, the others are cancelled; each reports once. */
	pool_free(p);
	for (i = 0; i < JOBS; i++) {
		cr_expect_eq(jobs[i].done, 1);
		if (!jobs[i].cancelled)
			cr_expect_eq(jobs[i].value, 2 * i);
	}
	event_base_free(base);
}
