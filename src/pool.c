/*
 * pool.c: a small thread pool.  See pool.h.
 */
#include "config.h"

#include <sys/queue.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "pool.h"
#include "xmalloc.h"

#define POOL_DRAIN_BUF	64	/* wake-up bytes read per read(2) */

struct pool_job {
	TAILQ_ENTRY(pool_job)	 pj_entry;
	pool_work_fn		 pj_work;
	pool_done_fn		 pj_done;
	void			*pj_arg;
};
TAILQ_HEAD(pool_jobs, pool_job);

struct pool {
	struct event_base	*p_base;
	int			 p_nthreads;
	pthread_t		*p_threads;
	int			 p_started;	/* threads running */
	pthread_mutex_t		 p_lock;
	pthread_cond_t		 p_cond;
	struct pool_jobs	 p_queue;	/* waiting for a thread */
	struct pool_jobs	 p_done;	/* finished, done not yet called */
	size_t			 p_nqueued;
	size_t			 p_pending;	/* submitted, done not yet called */
	int			 p_stop;
	int			 p_pipe[2];
	struct event		*p_ev;
};

static void	*pool_thread(void *);
static void	 pool_wakeup(evutil_socket_t, short, void *);

struct pool *
pool_new(struct event_base *base, int nthreads)
{
	struct pool *p;

	p = xcalloc(1, sizeof(*p));
	p->p_base = base;
	if (nthreads < 1)
		nthreads = 1;
	if (nthreads > POOL_THREADS_MAX)
		nthreads = POOL_THREADS_MAX;
	p->p_nthreads = nthreads;
	p->p_pipe[0] = p->p_pipe[1] = -1;
	TAILQ_INIT(&p->p_queue);
	TAILQ_INIT(&p->p_done);
	if (pthread_mutex_init(&p->p_lock, NULL) != 0 ||
	    pthread_cond_init(&p->p_cond, NULL) != 0)
		fatalx("pool: cannot initialise its lock");
	return (p);
}

/*
 * Start the threads with every signal blocked, so that signals keep going
 * to the event loop thread, whose handlers expect them.
 */
static int
pool_start(struct pool *p)
{
	sigset_t all, old;
	int i, rc;

	if (pipe2(p->p_pipe, O_NONBLOCK | O_CLOEXEC) == -1) {
		log_warn("pool: pipe");
		return (-1);
	}
	p->p_ev = event_new(p->p_base, p->p_pipe[0], EV_READ | EV_PERSIST, pool_wakeup, p);
	if (p->p_ev == NULL || event_add(p->p_ev, NULL) == -1) {
		log_warnx("pool: cannot watch its pipe");
		goto bad;
	}
	p->p_threads = xcalloc((size_t)p->p_nthreads, sizeof(*p->p_threads));
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < p->p_nthreads; i++) {
		if ((rc = pthread_create(&p->p_threads[i], NULL, pool_thread, p)) != 0) {
			log_warnx("pool: pthread_create: %s", strerror(rc));
			break;
		}
		p->p_started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (p->p_started == 0)
		goto bad;
	return (0);
 bad:
	if (p->p_ev != NULL)
		event_free(p->p_ev);
	p->p_ev = NULL;
	close(p->p_pipe[0]);
	close(p->p_pipe[1]);
	p->p_pipe[0] = p->p_pipe[1] = -1;
	free(p->p_threads);
	p->p_threads = NULL;
	return (-1);
}

int
pool_submit(struct pool *p, pool_work_fn work, pool_done_fn done, void *arg)
{
	struct pool_job *job;

	if (p->p_started == 0 && pool_start(p) == -1)
		return (-1);
	pthread_mutex_lock(&p->p_lock);
	if (p->p_nqueued >= POOL_QUEUE_MAX) {
		pthread_mutex_unlock(&p->p_lock);
		return (-1);
	}
	job = xmalloc(sizeof(*job));
	job->pj_work = work;
	job->pj_done = done;
	job->pj_arg = arg;
	TAILQ_INSERT_TAIL(&p->p_queue, job, pj_entry);
	p->p_nqueued++;
	p->p_pending++;
	pthread_cond_signal(&p->p_cond);
	pthread_mutex_unlock(&p->p_lock);
	return (0);
}

size_t
pool_pending(struct pool *p)
{
	size_t n;

	pthread_mutex_lock(&p->p_lock);
	n = p->p_pending;
	pthread_mutex_unlock(&p->p_lock);
	return (n);
}

static void *
pool_thread(void *arg)
{
	struct pool *p = arg;
	struct pool_job *job;
	ssize_t n;

	pthread_mutex_lock(&p->p_lock);
	for (;;) {
		while (!p->p_stop && TAILQ_EMPTY(&p->p_queue))
			pthread_cond_wait(&p->p_cond, &p->p_lock);
		if (p->p_stop)
			break;
		job = TAILQ_FIRST(&p->p_queue);
		TAILQ_REMOVE(&p->p_queue, job, pj_entry);
		p->p_nqueued--;
		pthread_mutex_unlock(&p->p_lock);

		job->pj_work(job->pj_arg);

		pthread_mutex_lock(&p->p_lock);
		TAILQ_INSERT_TAIL(&p->p_done, job, pj_entry);
		/* A full pipe already holds a wake-up, so EAGAIN is fine. */
		do {
			n = write(p->p_pipe[1], "", 1);
		} while (n == -1 && errno == EINTR);
	}
	pthread_mutex_unlock(&p->p_lock);
	return (NULL);
}

/* Run the done functions of finished jobs, on the loop. */
static void
pool_run_done(struct pool *p)
{
	struct pool_jobs done;
	struct pool_job *job;

	TAILQ_INIT(&done);
	pthread_mutex_lock(&p->p_lock);
	TAILQ_CONCAT(&done, &p->p_done, pj_entry);
	pthread_mutex_unlock(&p->p_lock);
	while ((job = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, job, pj_entry);
		pthread_mutex_lock(&p->p_lock);
		p->p_pending--;
		pthread_mutex_unlock(&p->p_lock);
		job->pj_done(job->pj_arg, 0);
		free(job);
	}
}

static void
pool_wakeup(evutil_socket_t fd, short events, void *arg)
{
	struct pool *p = arg;
	char buf[POOL_DRAIN_BUF];

	(void)events;
	while (read(fd, buf, sizeof(buf)) > 0)
		continue;
	pool_run_done(p);
}

void
pool_free(struct pool *p)
{
	struct pool_job *job;
	int i;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->p_lock);
	p->p_stop = 1;
	pthread_cond_broadcast(&p->p_cond);
	pthread_mutex_unlock(&p->p_lock);
	for (i = 0; i < p->p_started; i++)
		pthread_join(p->p_threads[i], NULL);
	pool_run_done(p);
	while ((job = TAILQ_FIRST(&p->p_queue)) != NULL) {
		TAILQ_REMOVE(&p->p_queue, job, pj_entry);
		job->pj_done(job->pj_arg, 1);
		free(job);
	}
	if (p->p_ev != NULL)
		event_free(p->p_ev);
	if (p->p_pipe[0] != -1) {
		close(p->p_pipe[0]);
		close(p->p_pipe[1]);
	}
	free(p->p_threads);
	pthread_mutex_destroy(&p->p_lock);
	pthread_cond_destroy(&p->p_cond);
	free(p);
}
