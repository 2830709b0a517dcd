/*
 * master.h: the master process.
 *
 * The master reads the configuration, binds the listeners, forks the
 * workers and supervises them: it respawns the dead, reloads on SIGHUP by
 * starting a new generation of workers before stopping the old one, and
 * stops everything gracefully on SIGTERM or SIGINT.  It never touches
 * client traffic.  Its signal handling is synchronous (sigtimedwait with
 * every signal blocked), so no handler ever runs in the middle of its work.
 */
#ifndef RAIND_MASTER_H
#define RAIND_MASTER_H

#include <sys/types.h>

#include <stdint.h>

struct component_set;
struct conf;

/* A worker that dies sooner than this after its start has crashed at start. */
#define MASTER_STARTUP_GRACE_MS	2000
/* Respawn backoff after repeated crashes at start: first step and ceiling. */
#define MASTER_BACKOFF_MIN_MS	250
#define MASTER_BACKOFF_MAX_MS	30000

struct master_options {
	const char	*mo_conf_path;
	const char	*mo_port_file;	/* NULL: none */
	int		 mo_foreground;
	int		 mo_verbose;
	char		*const *mo_argv; /* as started, for a binary upgrade */
	const char	*mo_exe;	/* the executable's path, or NULL */
};

/* A binary upgrade (SIGUSR2): how long the new master may take to serve. */
#define MASTER_UPGRADE_WAIT_MS	30000
/* What the old master hands the new one, in its environment. */
#define MASTER_ENV_LISTEN	"RAIND_INHERIT_LISTEN"
#define MASTER_ENV_MESHES	"RAIND_INHERIT_MESHES"
#define MASTER_ENV_READY	"RAIND_UPGRADE_FD"
#define MASTER_ENV_GENERATION	"RAIND_INHERIT_GENERATION"
#define MASTER_ENV_NODE_TAG	"RAIND_INHERIT_NODE_TAG"
/* Slots of one inherited generation, at most. */
#define HANDOFF_SLOTS_INHERIT_MAX	1024

/*
 * Run the master with a checked configuration and its discovered
 * components (both taken over); returns the exit status.
 */
int	master_main(const struct master_options *, struct conf *,
	    struct component_set *);

#endif
