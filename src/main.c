/*
 * main.c: raind, a real-time server for Socket.IO clients.
 *
 *	raind [-dnSvV] [-f file] [-p port-file]
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "component.h"
#include "conf.h"
#include "log.h"
#include "master.h"
#include "publish.h"
#include "session.h"
#include "tls.h"

#define RAIND_CONF_DEFAULT	RAIND_SYSCONFDIR "/raind.conf"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: raind [-dnSvV] [-f file] [-p port-file]\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct master_options	 opts = { RAIND_CONF_DEFAULT, NULL, 0, 0, NULL, NULL };
	static char		 exe[PATH_MAX];
	ssize_t			 n;
	struct conf		*conf;
	struct component_set	*set;
	SSL_CTX			*tls;
	char			 err[CONF_ERR_MAX];
	int			 ch, check = 0, strict = 0, level;

	while ((ch = getopt(argc, argv, "df:np:SvV")) != -1) {
		switch (ch) {
		case 'd':
			opts.mo_foreground = 1;
			break;
		case 'f':
			opts.mo_conf_path = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'p':
			opts.mo_port_file = optarg;
			break;
		case 'S':
			strict = 1;
			break;
		case 'v':
			opts.mo_verbose++;
			break;
		case 'V':
			printf("raind %s\n", PACKAGE_VERSION);
			return (0);
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	/* Where we run from, for a binary upgrade: the path, not the file. */
	opts.mo_argv = argv;
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		opts.mo_exe = exe;
	}

	/* Until the configuration says otherwise, errors go to stderr. */
	log_init(1, opts.mo_verbose);
	if ((conf = conf_load(opts.mo_conf_path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return (1);
	}
	/* Sessions: the cookie secret is read by every worker; check it once here. */
	if (session_conf_check(conf, err, sizeof(err)) == -1 ||
	    publish_conf_check(conf, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		conf_free(conf);
		return (1);
	}
	set = component_discover((const char *const *)conf->c_components.cs_v,
	    conf->c_components.cs_n, err, sizeof(err));
	if (set == NULL) {
		fprintf(stderr, "%s\n", err);
		conf_free(conf);
		return (1);
	}
	/* Each problem was logged to stderr with its path as it was met. */
	if (strict && set->cs_nproblems_all > 0) {
		fprintf(stderr, "%zu component problem(s): refused by -S\n",
		    set->cs_nproblems_all);
		component_set_free(set);
		conf_free(conf);
		return (1);
	}
	if (check) {
		/* Certificate and key are read and matched as the master will. */
		if (tls_wanted(conf)) {
			if ((tls = tls_ctx_new(conf, err, sizeof(err))) == NULL) {
				fprintf(stderr, "%s\n", err);
				component_set_free(set);
				conf_free(conf);
				return (1);
			}
			tls_ctx_free(tls);
		}
		if (opts.mo_verbose)
			component_set_print(set, stdout, opts.mo_verbose);
		if (set->cs_nproblems_all > 0)
			printf("configuration OK, %zu component problem(s) skipped\n",
			    set->cs_nproblems_all);
		else
			printf("configuration OK\n");
		component_set_free(set);
		conf_free(conf);
		return (0);
	}
	log_init(opts.mo_foreground, 0);
	level = conf->c_log_level + opts.mo_verbose;
	log_setlevel(level > LOG_LEVEL_DEBUG ? LOG_LEVEL_DEBUG : level);
	if (conf->c_log_file != NULL && log_setfile(conf->c_log_file) == -1)
		fatal("cannot open log file %s", conf->c_log_file);
	return (master_main(&opts, conf, set));
}
