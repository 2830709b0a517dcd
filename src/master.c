/*
 * master.c: the master process.  See master.h.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/random.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "component.h"
#include "conf.h"
#include "eio.h"
#include "handoff.h"
#include "listener.h"
#include "log.h"
#include "master.h"
#include "notify.h"
#include "publish.h"
#include "session.h"
#include "sid.h"
#include "stats.h"
#include "tls.h"
#include "util.h"
#include "worker.h"
#include "xmalloc.h"

enum mw_state {
	MW_RUNNING,	/* serving */
	MW_WAITING,	/* dead, respawn at mw_respawn_at */
	MW_STOPPING	/* told to stop, SIGKILL at mw_kill_at */
};

struct master_worker {
	pid_t		 mw_pid;
	int		 mw_slot;
	unsigned	 mw_generation;
	enum mw_state	 mw_state;
	int64_t		 mw_started;	/* monotonic ms */
	int		 mw_failures;	/* consecutive crashes at start */
	int64_t		 mw_respawn_at;
	int64_t		 mw_kill_at;
};

/* The channels between the workers of one generation. */
struct master_mesh {
	unsigned		 mm_generation;
	struct handoff_mesh	*mm_mesh;
	int			 mm_inherited;	/* the previous master's: kept */
};

struct master {
	const struct master_options *m_opts;
	char			 m_node_tag[EIO_NODE_TAG_LEN + 1];
	struct master_mesh	*m_meshes;
	size_t			 m_nmeshes;
	struct conf		*m_conf;
	struct component_set	*m_components;
	struct listener_set	*m_ls;
	SSL_CTX			*m_tls;		/* NULL without TLS */
	unsigned		 m_generation;
	struct master_worker	*m_workers;	/* every generation */
	size_t			 m_nworkers;
	int			 m_stopping;
	int			 m_pidfile_written;
	struct stats_region	*m_stats;	/* /metrics of every worker */
	char			*m_oldbin;	/* our pid file after an upgrade */
	struct listener_set	*m_inherited_ls; /* from the previous master */
};

static void
master_write_ports(struct master *m)
{
	char *ports;

	if (m->m_opts->mo_port_file == NULL)
		return;
	ports = listener_set_ports(m->m_ls);
	if (file_write_atomic(m->m_opts->mo_port_file, ports, strlen(ports)) == -1)
		log_warn("cannot write port file %s", m->m_opts->mo_port_file);
	free(ports);
}

static void
master_write_pidfile(struct master *m)
{
	char buf[32];
	int n;

	if (m->m_conf->c_pid_file == NULL)
		return;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (file_write_atomic(m->m_conf->c_pid_file, buf, (size_t)n) == -1)
		fatal("cannot write pid file %s", m->m_conf->c_pid_file);
	m->m_pidfile_written = 1;
}

static void
master_remove_pidfile(struct master *m)
{
	if (m->m_pidfile_written && unlink(m->m_conf->c_pid_file) == -1)
		log_warn("cannot remove pid file %s", m->m_conf->c_pid_file);
	m->m_pidfile_written = 0;
}

static struct handoff_mesh *
master_mesh(struct master *m, unsigned generation)
{
	size_t i;

	for (i = 0; i < m->m_nmeshes; i++)
		if (m->m_meshes[i].mm_generation == generation)
			return (m->m_meshes[i].mm_mesh);
	return (NULL);
}

/* Free the channels of generations that have no worker left. */
static void
master_mesh_gc(struct master *m)
{
	size_t	i, j;
	int	used;

	for (i = 0; i < m->m_nmeshes; ) {
		used = m->m_meshes[i].mm_generation == m->m_generation ||
		    m->m_meshes[i].mm_inherited;
		for (j = 0; j < m->m_nworkers && !used; j++)
			if (m->m_workers[j].mw_generation ==
			    m->m_meshes[i].mm_generation)
				used = 1;
		if (used) {
			i++;
			continue;
		}
		handoff_mesh_free(m->m_meshes[i].mm_mesh);
		m->m_meshes[i] = m->m_meshes[--m->m_nmeshes];
	}
}

/*
 * Binary upgrade, the new master's side: the previous master's listening
 * sockets (listener_set_open takes them over as it does on a reload),
 * the channels to its workers, which drain and still own sessions, and
 * the generation to go on from.  The variables are removed so that no
 * child sees them.
 */
static void
master_inherit(struct master *m, char *err, size_t errlen)
{
	const char	*spec;
	char		*copy, *entry, *save, *colon, *fdp, *save2;
	int		 fds[HANDOFF_SLOTS_INHERIT_MAX], n;
	struct handoff_mesh *mesh;
	unsigned long	 gen;

	if ((spec = getenv(MASTER_ENV_LISTEN)) != NULL &&
	    (m->m_inherited_ls = listener_set_inherited(spec, err, errlen)) == NULL)
		fatalx("%s", err);
	if ((spec = getenv(MASTER_ENV_GENERATION)) != NULL) {
		gen = strtoul(spec, NULL, 10);
		if (gen < UINT32_MAX / 2)
			m->m_generation = (unsigned)gen;
	}
	if ((spec = getenv(MASTER_ENV_MESHES)) != NULL && *spec != '\0') {
		copy = xstrdup(spec);
		for (entry = strtok_r(copy, ";", &save); entry != NULL;
		    entry = strtok_r(NULL, ";", &save)) {
			if ((colon = strchr(entry, ':')) == NULL)
				continue;
			*colon = '\0';
			gen = strtoul(entry, NULL, 10);
			n = 0;
			for (fdp = strtok_r(colon + 1, ",", &save2); fdp != NULL &&
			    n < HANDOFF_SLOTS_INHERIT_MAX; fdp = strtok_r(NULL, ",", &save2))
				fds[n++] = (int)strtol(fdp, NULL, 10);
			if (n == 0 || (mesh = handoff_mesh_adopt(n, fds)) == NULL)
				continue;
			m->m_meshes = xreallocarray(m->m_meshes, m->m_nmeshes + 1,
			    sizeof(*m->m_meshes));
			m->m_meshes[m->m_nmeshes].mm_generation = (unsigned)gen;
			m->m_meshes[m->m_nmeshes].mm_mesh = mesh;
			m->m_meshes[m->m_nmeshes++].mm_inherited = 1;
		}
		free(copy);
	}
	unsetenv(MASTER_ENV_LISTEN);
	unsetenv(MASTER_ENV_GENERATION);
	unsetenv(MASTER_ENV_MESHES);
	unsetenv(MASTER_ENV_NODE_TAG);
}

/* Tell the previous master, if any, that we serve. */
static void
master_upgrade_ready(void)
{
	const char	*spec = getenv(MASTER_ENV_READY);
	char		 buf[32];
	int		 fd, n;

	if (spec == NULL)
		return;
	fd = (int)strtol(spec, NULL, 10);
	n = snprintf(buf, sizeof(buf), "R%ld\n", (long)getpid());
	if (fd > 2 && write(fd, buf, (size_t)n) != n)
		log_warn("upgrade: cannot tell the previous master");
	if (fd > 2)
		close(fd);
	unsetenv(MASTER_ENV_READY);
}

/*
 * The tag naming this node in its Engine.IO sids: from node_id when it
 * is set, else random, fixed for the master's lifetime.
 */
static void
master_node_tag(struct master *m)
{
	unsigned char	rnd[EIO_NODE_TAG_LEN];

	const char	*inherited = getenv(MASTER_ENV_NODE_TAG);

	/* After an upgrade: the same node, whose sessions are still out there. */
	if (inherited != NULL && strlen(inherited) == EIO_NODE_TAG_LEN &&
	    sid_b64url_valid(inherited, EIO_NODE_TAG_LEN)) {
		memcpy(m->m_node_tag, inherited, EIO_NODE_TAG_LEN + 1);
		return;
	}
	if (m->m_conf->c_node_id != NULL) {
		unsigned char md[SHA256_DIGEST_LENGTH];

		/* A configured node keeps its tag across restarts. */
		SHA256((const unsigned char *)m->m_conf->c_node_id,
		    strlen(m->m_conf->c_node_id), md);
		memcpy(rnd, md, sizeof(rnd));
	} else if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		fatal("getrandom");
	sid_b64url_digits(rnd, EIO_NODE_TAG_LEN, m->m_node_tag);
	m->m_node_tag[EIO_NODE_TAG_LEN] = '\0';
}

/* Fork the worker of record mw.  Signals stay blocked across fork(). */
static void
master_spawn(struct master *m, struct master_worker *mw)
{
	struct worker_args	wa;
	struct worker_other_gen	*others;
	size_t			 nothers = 0;
	pid_t			pid, self = getpid();

	switch (pid = fork()) {
	case -1:
		log_warn("fork for slot %d", mw->mw_slot);
		mw->mw_state = MW_WAITING;
		mw->mw_respawn_at = monotonic_ms() + MASTER_BACKOFF_MIN_MS;
		return;
	case 0:
		/*
		 * Older generations' channels: the worker keeps a way to pass
		 * their sessions' requests to them while they drain, and
		 * nothing else (worker_main).
		 */
		others = xcalloc(m->m_nmeshes + 1, sizeof(*others));
		for (size_t i = 0; i < m->m_nmeshes; i++)
			if (m->m_meshes[i].mm_generation != mw->mw_generation) {
				others[nothers].og_generation =
				    m->m_meshes[i].mm_generation;
				others[nothers++].og_mesh = m->m_meshes[i].mm_mesh;
			}
		wa.wa_others = others;
		wa.wa_nothers = nothers;
		wa.wa_conf = m->m_conf;
		wa.wa_listeners = m->m_ls;
		wa.wa_components = m->m_components;
		wa.wa_mesh = master_mesh(m, mw->mw_generation);
		wa.wa_node_tag = m->m_node_tag;
		wa.wa_tls = m->m_tls;
		wa.wa_slot = mw->mw_slot;
		wa.wa_generation = mw->mw_generation;
		wa.wa_master = self;
		wa.wa_stats = m->m_stats;
		worker_main(&wa);
		/* NOTREACHED */
	}
	mw->mw_pid = pid;
	mw->mw_state = MW_RUNNING;
	mw->mw_started = monotonic_ms();
	log_debug("started worker pid %ld slot %d generation %u", (long)pid,
	    mw->mw_slot, mw->mw_generation);
}

/* Start a full generation of workers for the current configuration. */
static void
master_start_generation(struct master *m)
{
	struct master_worker	*mw;
	int			 i, n = m->m_ls->ls_slots;

	m->m_generation++;
	stats_set_generation(m->m_stats, m->m_generation);
	m->m_meshes = xreallocarray(m->m_meshes, m->m_nmeshes + 1,
	    sizeof(*m->m_meshes));
	m->m_meshes[m->m_nmeshes].mm_generation = m->m_generation;
	m->m_meshes[m->m_nmeshes].mm_inherited = 0;
	if ((m->m_meshes[m->m_nmeshes].mm_mesh = handoff_mesh_new(n)) == NULL)
		fatal("cannot create the channels between workers");
	m->m_nmeshes++;
	m->m_workers = xreallocarray(m->m_workers, m->m_nworkers + (size_t)n,
	    sizeof(*m->m_workers));
	for (i = 0; i < n; i++) {
		mw = &m->m_workers[m->m_nworkers++];
		memset(mw, 0, sizeof(*mw));
		mw->mw_slot = i;
		mw->mw_generation = m->m_generation;
		master_spawn(m, mw);
	}
	log_info("generation %u: %d workers", m->m_generation, n);
}

static void
master_forget(struct master *m, size_t i)
{
	m->m_workers[i] = m->m_workers[--m->m_nworkers];
	master_mesh_gc(m);
}

/*
 * Send sig to the workers of older generations (or all, when all), which
 * then have until deadline before SIGKILL; forget empty slots.
 */
static void
master_signal_workers(struct master *m, int all, int sig, int64_t deadline)
{
	struct master_worker	*mw;
	size_t			 i;

	for (i = 0; i < m->m_nworkers; ) {
		mw = &m->m_workers[i];
		if (!all && mw->mw_generation == m->m_generation) {
			i++;
			continue;
		}
		if (mw->mw_state == MW_WAITING) {
			/* Nothing runs in this slot: forget it. */
			master_forget(m, i);
			continue;
		}
		if (mw->mw_state == MW_RUNNING) {
			kill(mw->mw_pid, sig);
			mw->mw_state = MW_STOPPING;
			mw->mw_kill_at = deadline;
		}
		i++;
	}
}

/* Ask the workers of older generations (or all, when all) to stop. */
static void
master_stop_workers(struct master *m, int all)
{
	master_signal_workers(m, all, SIGTERM,
	    monotonic_ms() + m->m_conf->c_shutdown_timeout);
}

/*
 * After a reload: the older generations stop accepting and serve what
 * they hold until it is gone or reload_drain_timeout has passed, then
 * close the rest over reload_drain_spread (SIGUSR2, worker.c).  SIGKILL
 * only if one is still there shutdown_timeout after that.
 */
static void
master_drain_workers(struct master *m)
{
	master_signal_workers(m, 0, SIGUSR2, monotonic_ms() +
	    m->m_conf->c_reload_drain_timeout + m->m_conf->c_reload_drain_spread +
	    m->m_conf->c_shutdown_timeout);
}

/*
 * Binary upgrade, the old master's side (SIGUSR2): fork, and exec the
 * executable at the path we were started from (the new one when it was
 * replaced), with the listening sockets, the channels to the workers and
 * what names our sessions (node tag, generation) in its environment.
 * The new master answers on a pipe once its workers serve; then we drain
 * like the old generation of a reload and exit.  If it fails, exits or
 * says nothing within MASTER_UPGRADE_WAIT_MS, we go on serving.
 */
static void __attribute__((noreturn))
master_exec_new(struct master *m, int ready)
{
	char		 buf[64], num[16], *meshes, *listen;
	size_t		 i, len;
	int		 slot, n, fd;

	if ((listen = listener_set_export(m->m_ls)) == NULL)
		_exit(127);
	len = 1;
	for (i = 0; i < m->m_nmeshes; i++)
		len += 16 + (size_t)handoff_mesh_slots(m->m_meshes[i].mm_mesh) * 12;
	meshes = xcalloc(1, len);
	for (i = 0; i < m->m_nmeshes; i++) {
		n = handoff_mesh_slots(m->m_meshes[i].mm_mesh);
		snprintf(meshes + strlen(meshes), len - strlen(meshes), "%s%u:",
		    i > 0 ? ";" : "", m->m_meshes[i].mm_generation);
		for (slot = 0; slot < n; slot++) {
			fd = handoff_mesh_chan_fd(m->m_meshes[i].mm_mesh, slot);
			if (fd < 0 || fcntl(fd, F_SETFD, 0) == -1)
				_exit(127);
			snprintf(num, sizeof(num), "%s%d", slot > 0 ? "," : "", fd);
			snprintf(meshes + strlen(meshes), len - strlen(meshes), "%s", num);
		}
	}
	if (fcntl(ready, F_SETFD, 0) == -1)
		_exit(127);
	snprintf(buf, sizeof(buf), "%d", ready);
	setenv(MASTER_ENV_READY, buf, 1);
	snprintf(buf, sizeof(buf), "%u", m->m_generation);
	setenv(MASTER_ENV_GENERATION, buf, 1);
	setenv(MASTER_ENV_NODE_TAG, m->m_node_tag, 1);
	setenv(MASTER_ENV_LISTEN, listen, 1);
	setenv(MASTER_ENV_MESHES, meshes, 1);
	execv(m->m_opts->mo_exe, m->m_opts->mo_argv);
	log_warn("upgrade: exec %s", m->m_opts->mo_exe);
	_exit(127);
}

/* Every worker drains, this generation's too: the new master serves. */
static void
master_drain_all(struct master *m)
{
	m->m_generation++;	/* none of ours is current any more */
	master_drain_workers(m);
}

static void
master_upgrade(struct master *m)
{
	struct pollfd	 pf;
	char		 buf[64], oldbin[PATH_MAX];
	const char	*why = NULL;
	pid_t		 pid;
	ssize_t		 n;
	long		 newpid = 0;
	int		 pfd[2], renamed = 0;

	if (m->m_opts->mo_exe == NULL) {
		log_warnx("upgrade: the path of the executable is unknown");
		return;
	}
	log_info("upgrade: starting %s", m->m_opts->mo_exe);
	if (pipe2(pfd, O_CLOEXEC) == -1) {
		log_warn("upgrade: pipe");
		return;
	}
	/* The pid file is the new master's; ours waits aside, as nginx does. */
	if (m->m_pidfile_written) {
		snprintf(oldbin, sizeof(oldbin), "%s.oldbin", m->m_conf->c_pid_file);
		renamed = rename(m->m_conf->c_pid_file, oldbin) == 0;
	}
	if ((pid = fork()) == 0)
		master_exec_new(m, pfd[1]);
	close(pfd[1]);
	if (pid == -1)
		why = "fork failed";
	pf.fd = pfd[0];
	pf.events = POLLIN;
	while (why == NULL) {
		n = poll(&pf, 1, MASTER_UPGRADE_WAIT_MS);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			why = "no answer in time";
			break;
		}
		n = read(pfd[0], buf, sizeof(buf) - 1);
		if (n <= 0 || buf[0] != 'R') {
			why = "it exited before serving";
			break;
		}
		buf[n] = '\0';
		newpid = strtol(buf + 1, NULL, 10);
		break;
	}
	close(pfd[0]);
	if (why != NULL) {
		log_warnx("upgrade failed: %s; this master goes on serving", why);
		if (pid > 0)
			kill(pid, SIGTERM);
		if (renamed && rename(oldbin, m->m_conf->c_pid_file) == -1)
			log_warn("upgrade: cannot restore pid file");
		return;
	}
	log_info("upgrade: the new master (pid %ld) serves; draining and exiting",
	    newpid);
	notify_mainpid(newpid);
	m->m_pidfile_written = 0;	/* the new master's now */
	if (renamed)
		m->m_oldbin = xstrdup(oldbin);
	m->m_stopping = 1;		/* no respawn */
	master_drain_all(m);
}

static void
master_log_death(const struct master_worker *mw, int status)
{
	if (WIFSIGNALED(status))
		log_warnx("worker pid %ld slot %d generation %u killed by signal %d%s",
		    (long)mw->mw_pid, mw->mw_slot, mw->mw_generation,
		    WTERMSIG(status), WCOREDUMP(status) ? " (core dumped)" : "");
	else
		log_warnx("worker pid %ld slot %d generation %u exited with status %d",
		    (long)mw->mw_pid, mw->mw_slot, mw->mw_generation,
		    WEXITSTATUS(status));
}

/*
 * The worker of mw is gone: what it held is no longer held.  Its cell is
 * left alone while another live worker writes it (a generation two
 * reloads younger in the same slot).
 */
static void
master_stats_gone(struct master *m, const struct master_worker *mw)
{
	size_t i;

	for (i = 0; i < m->m_nworkers; i++)
		if (&m->m_workers[i] != mw && m->m_workers[i].mw_pid > 0 &&
		    m->m_workers[i].mw_slot == mw->mw_slot &&
		    m->m_workers[i].mw_generation % 2 == mw->mw_generation % 2)
			return;
	stats_worker_gone(m->m_stats, mw->mw_generation, mw->mw_slot);
}

/* Old workers still finishing their connections, for /metrics. */
static void
master_stats_draining(struct master *m)
{
	unsigned	n = 0;
	size_t		i;

	for (i = 0; i < m->m_nworkers; i++)
		if (m->m_workers[i].mw_state == MW_STOPPING &&
		    m->m_workers[i].mw_generation != m->m_generation)
			n++;
	stats_set_draining(m->m_stats, n);
}

/* Collect dead workers; schedule respawns for the current generation. */
static void
master_reap(struct master *m)
{
	struct master_worker	*mw;
	pid_t			 pid;
	int			 status;
	size_t			 i;
	int64_t			 now, delay;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < m->m_nworkers; i++)
			if (m->m_workers[i].mw_pid == pid)
				break;
		if (i == m->m_nworkers)
			continue;
		mw = &m->m_workers[i];
		master_stats_gone(m, mw);
		if (mw->mw_state == MW_STOPPING) {
			log_debug("worker pid %ld slot %d generation %u stopped",
			    (long)pid, mw->mw_slot, mw->mw_generation);
			master_forget(m, i);
			continue;
		}
		master_log_death(mw, status);
		now = monotonic_ms();
		if (now - mw->mw_started < MASTER_STARTUP_GRACE_MS)
			mw->mw_failures++;
		else
			mw->mw_failures = 0;
		/*
		 * The first crash is answered at once; a worker that keeps
		 * dying at start waits 250 ms, 500 ms, ... up to 30 s.
		 */
		delay = 0;
		if (mw->mw_failures > 1) {
			delay = MASTER_BACKOFF_MIN_MS;
			for (int k = 2; k < mw->mw_failures &&
			    delay < MASTER_BACKOFF_MAX_MS; k++)
				delay *= 2;
			if (delay > MASTER_BACKOFF_MAX_MS)
				delay = MASTER_BACKOFF_MAX_MS;
			log_warnx("slot %d crashed %d times at start: respawn in %lld ms",
			    mw->mw_slot, mw->mw_failures, (long long)delay);
		}
		mw->mw_pid = 0;
		mw->mw_state = MW_WAITING;
		mw->mw_respawn_at = now + delay;
	}
}

/* Respawn due workers, kill overdue ones; return ms until the next timer. */
static int64_t
master_timers(struct master *m)
{
	struct master_worker	*mw;
	size_t			 i;
	int64_t			 now = monotonic_ms(), next = -1, at;

	for (i = 0; i < m->m_nworkers; i++) {
		mw = &m->m_workers[i];
		at = -1;
		if (mw->mw_state == MW_WAITING && !m->m_stopping) {
			if (mw->mw_respawn_at <= now)
				master_spawn(m, mw);
			if (mw->mw_state == MW_WAITING)
				at = mw->mw_respawn_at;
		} else if (mw->mw_state == MW_STOPPING && mw->mw_pid > 0) {
			if (mw->mw_kill_at <= now) {
				log_warnx("worker pid %ld slot %d did not stop in time: killed",
				    (long)mw->mw_pid, mw->mw_slot);
				kill(mw->mw_pid, SIGKILL);
				/* Look again soon in case SIGKILL is slow to land. */
				mw->mw_kill_at = now + 1000;
			}
			at = mw->mw_kill_at;
		}
		if (at != -1 && (next == -1 || at < next))
			next = at;
	}
	return (next == -1 ? -1 : (next > now ? next - now : 0));
}

/*
 * SIGHUP: load and check the new configuration; on success open the new
 * listeners, start a new generation and retire the old one.  On failure
 * the running workers are not touched.
 */
static void
master_reload(struct master *m)
{
	struct conf		*conf;
	struct component_set	*set;
	struct listener_set	*ls;
	SSL_CTX			*tls = NULL;
	char			 err[CONF_ERR_MAX];

	log_info("reloading %s", m->m_opts->mo_conf_path);
	if ((conf = conf_load(m->m_opts->mo_conf_path, err, sizeof(err))) == NULL) {
		log_errorx("reload failed: %s", err);
		return;
	}
	/* The secrets every worker reads at start: a bad one keeps the old. */
	if (session_conf_check(conf, err, sizeof(err)) == -1 ||
	    publish_conf_check(conf, err, sizeof(err)) == -1) {
		log_errorx("reload failed: %s", err);
		conf_free(conf);
		return;
	}
	/* Certificates are read again: renewed ones take effect here. */
	if (tls_wanted(conf) &&
	    (tls = tls_ctx_new(conf, err, sizeof(err))) == NULL) {
		log_errorx("reload failed: %s", err);
		conf_free(conf);
		return;
	}
	set = component_discover((const char *const *)conf->c_components.cs_v,
	    conf->c_components.cs_n, err, sizeof(err));
	if (set == NULL) {
		log_errorx("reload failed: %s", err);
		tls_ctx_free(tls);
		conf_free(conf);
		return;
	}
	ls = listener_set_open(conf, conf_workers(conf), m->m_ls, err, sizeof(err));
	if (ls == NULL) {
		log_errorx("reload failed: %s", err);
		component_set_free(set);
		tls_ctx_free(tls);
		conf_free(conf);
		return;
	}
	/* The new set holds its own references to modules both share. */
	component_set_free(m->m_components);
	m->m_components = set;
	if (conf->c_log_file != NULL && log_setfile(conf->c_log_file) == -1)
		log_warn("cannot open log file %s", conf->c_log_file);
	log_setlevel(conf->c_log_level + m->m_opts->mo_verbose > LOG_LEVEL_DEBUG ?
	    LOG_LEVEL_DEBUG : conf->c_log_level + m->m_opts->mo_verbose);

	/*
	 * The old generation's workers hold their own copies of what they
	 * use (they were forked from it), so the old configuration and
	 * listeners can go now; sockets shared with the new set stay open.
	 */
	listener_set_free(m->m_ls);
	m->m_ls = ls;
	tls_ctx_free(m->m_tls);
	m->m_tls = tls;
	if (m->m_pidfile_written && (conf->c_pid_file == NULL ||
	    strcmp(conf->c_pid_file, m->m_conf->c_pid_file) != 0))
		master_remove_pidfile(m);
	conf_free(m->m_conf);
	m->m_conf = conf;
	if (!m->m_pidfile_written)
		master_write_pidfile(m);
	master_write_ports(m);
	master_start_generation(m);
	master_drain_workers(m);
}

static void
master_forward(struct master *m, int sig)
{
	size_t i;

	for (i = 0; i < m->m_nworkers; i++)
		if (m->m_workers[i].mw_pid > 0)
			kill(m->m_workers[i].mw_pid, sig);
}

int
master_main(const struct master_options *opts, struct conf *conf,
    struct component_set *components)
{
	struct master	 m;
	sigset_t	 set;
	siginfo_t	 info;
	struct timespec	 ts;
	char		 err[CONF_ERR_MAX];
	int64_t		 wait;
	int		 sig;

	memset(&m, 0, sizeof(m));
	m.m_opts = opts;
	m.m_conf = conf;
	m.m_components = components;
	log_settag("master");
	master_node_tag(&m);

	/*
	 * Every signal stays blocked in the master, which takes them one at
	 * a time with sigtimedwait; workers inherit the mask across fork and
	 * unblock once their own handlers are installed.
	 */
	signal(SIGPIPE, SIG_IGN);
	sigfillset(&set);
	sigdelset(&set, SIGSEGV);
	sigdelset(&set, SIGBUS);
	sigdelset(&set, SIGFPE);
	sigdelset(&set, SIGILL);
	sigdelset(&set, SIGABRT);
	sigprocmask(SIG_BLOCK, &set, NULL);

	if (tls_wanted(conf) &&
	    (m.m_tls = tls_ctx_new(conf, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	master_inherit(&m, err, sizeof(err));
	m.m_ls = listener_set_open(conf, conf_workers(conf), m.m_inherited_ls, err,
	    sizeof(err));
	if (m.m_ls == NULL)
		fatalx("%s", err);
	/* What the set did not take over (listeners gone from the file) closes. */
	listener_set_free(m.m_inherited_ls);
	m.m_inherited_ls = NULL;
	if (!opts->mo_foreground && daemon(0, 0) == -1)
		fatal("daemon");
	master_write_pidfile(&m);
	master_write_ports(&m);
	m.m_stats = stats_region_new();
	master_start_generation(&m);
	notify_ready();
	master_upgrade_ready();

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	for (;;) {
		master_stats_draining(&m);
		wait = master_timers(&m);
		if (m.m_stopping && m.m_nworkers == 0)
			break;
		if (wait == -1)
			wait = 60 * 1000;
		ts.tv_sec = wait / 1000;
		ts.tv_nsec = (wait % 1000) * 1000000;
		sig = sigtimedwait(&set, &info, &ts);
		if (sig == -1) {
			if (errno != EAGAIN && errno != EINTR)
				fatal("sigtimedwait");
			continue;
		}
		switch (sig) {
		case SIGCHLD:
			master_reap(&m);
			break;
		case SIGTERM:
		case SIGINT:
			if (!m.m_stopping)
				log_info("%s: stopping", sig == SIGTERM ?
				    "SIGTERM" : "SIGINT");
			if (!m.m_stopping)
				notify_stopping();
			m.m_stopping = 1;
			master_stop_workers(&m, 1);
			break;
		case SIGHUP:
			if (!m.m_stopping) {
				notify_reloading();
				master_reload(&m);
				/* Done, failed or not: the running workers serve. */
				notify_ready();
			}
			break;
		case SIGUSR1:
			log_reopen();
			master_forward(&m, SIGUSR1);
			break;
		case SIGUSR2:
			if (!m.m_stopping)
				master_upgrade(&m);
			break;
		}
	}
	log_info("stopped");
	master_remove_pidfile(&m);
	if (m.m_oldbin != NULL && unlink(m.m_oldbin) == -1)
		log_warn("cannot remove %s", m.m_oldbin);
	free(m.m_oldbin);
	listener_set_free(m.m_ls);
	tls_ctx_free(m.m_tls);
	free(m.m_workers);
	for (size_t i = 0; i < m.m_nmeshes; i++)
		handoff_mesh_free(m.m_meshes[i].mm_mesh);
	free(m.m_meshes);
	component_set_free(m.m_components);
	conf_free(m.m_conf);
	return (0);
}
