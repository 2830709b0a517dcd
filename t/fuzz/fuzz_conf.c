/*
 * fuzz_conf.c: libFuzzer target for the configuration reader (conf.c).
 *
 * The input is a configuration file, given to conf_load_buffer as
 * "fuzz.conf" in a fresh directory made at start-up.  That directory
 * holds a few files to include (valid, broken, self-including), so
 * "include *.conf" explores real nesting; inputs that could name a file
 * elsewhere (an include and a '/') are skipped, so the fuzzer never
 * reads the rest of the filesystem.  The working directory is left
 * alone: libFuzzer resolves its corpus arguments against it.
 *
 * Checked on every run: a refusal comes with a message that is one line
 * of printable ASCII naming the file; an accepted configuration has at
 * least one listener and every value within the documented bounds.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

#define FUZZ_NAME	"fuzz.conf"
#define FUZZ_TMPL	"/tmp/fuzz_conf.XXXXXX"
#define FUZZ_PATH_MAX	128

#define CHECK(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,	\
		    __LINE__, #c);					\
		abort();						\
	}								\
} while (0)

/* Files the inputs may include: names and contents. */
static const struct {
	const char	*f_name;
	const char	*f_text;
} fuzz_files[] = {
	{ "a.conf", "workers 2\nlisten 127.0.0.1:1\n" },
	{ "b.conf", "include a.conf\nmax_headers 10\n" },
	{ "bad.conf", "# broken\nshutdown_timeout 10\n" },
	{ "self.conf", "include self.conf\n" },
	{ "quoted.conf", "log_file \"x \\\"y\\\".log\"\n" },
};

static char	fuzz_dir[FUZZ_PATH_MAX];
static char	fuzz_main[FUZZ_PATH_MAX];	/* fuzz_dir/fuzz.conf */

static void
fuzz_file(char *buf, const char *name)
{
	snprintf(buf, FUZZ_PATH_MAX, "%s/%s", fuzz_dir, name);
}

static void
fuzz_cleanup(void)
{
	char	path[FUZZ_PATH_MAX];
	size_t	i;

	for (i = 0; i < sizeof(fuzz_files) / sizeof(fuzz_files[0]); i++) {
		fuzz_file(path, fuzz_files[i].f_name);
		unlink(path);
	}
	rmdir(fuzz_dir);
}

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char	 path[FUZZ_PATH_MAX];
	FILE	*f;
	size_t	 i;

	(void)argc;
	(void)argv;
	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s", FUZZ_TMPL);
	CHECK(mkdtemp(fuzz_dir) != NULL);
	fuzz_file(fuzz_main, FUZZ_NAME);
	for (i = 0; i < sizeof(fuzz_files) / sizeof(fuzz_files[0]); i++) {
		fuzz_file(path, fuzz_files[i].f_name);
		CHECK((f = fopen(path, "w")) != NULL);
		CHECK(fputs(fuzz_files[i].f_text, f) >= 0);
		CHECK(fclose(f) == 0);
	}
	atexit(fuzz_cleanup);
	/* Nothing conf.c does should log; keep quiet if it ever does. */
	log_setlevel(LOG_LEVEL_ERROR);
	return (0);
}

static void
fuzz_check_error(const char *err)
{
	size_t	i, len = strlen(err);

	CHECK(len > 0);
	CHECK(strncmp(err, fuzz_dir, strlen(fuzz_dir)) == 0);
	for (i = 0; i < len; i++)
		CHECK(err[i] >= 0x20 && err[i] < 0x7f);
}

static void
fuzz_check_conf(const struct conf *c)
{
	size_t	i;

	CHECK(c->c_nlisten >= 1 && c->c_nlisten <= CONF_LISTEN_MAX);
	for (i = 0; i < c->c_nlisten; i++) {
		CHECK(c->c_listen[i].cl_text != NULL);
		CHECK(c->c_listen[i].cl_sslen > 0);
		CHECK(c->c_listen[i].cl_ss.ss_family == AF_INET ||
		    c->c_listen[i].cl_ss.ss_family == AF_INET6);
	}
	CHECK(c->c_workers >= 0 && c->c_workers <= CONF_WORKERS_MAX);
	CHECK(conf_workers(c) >= 1 && conf_workers(c) <= CONF_WORKERS_MAX);
	CHECK(c->c_log_level >= LOG_LEVEL_ERROR &&
	    c->c_log_level <= LOG_LEVEL_DEBUG);
	CHECK(c->c_pid_file == NULL || c->c_pid_file[0] == '/');
	CHECK(c->c_log_file == NULL || c->c_log_file[0] == '/');
	CHECK(c->c_shutdown_timeout >= 0 && c->c_shutdown_timeout <= 3600000);
	CHECK(c->c_max_request_line >= 64 && c->c_max_request_line <= 65536);
	CHECK(c->c_max_header_size >= 1024 && c->c_max_header_size <= 65536);
	CHECK(c->c_max_headers >= 1 && c->c_max_headers <= 256);
	CHECK(c->c_max_body_size <= 1024 * 1024 * 1024);
	CHECK(c->c_header_timeout >= 100 && c->c_header_timeout <= 3600000);
	CHECK(c->c_body_timeout >= 100 && c->c_body_timeout <= 3600000);
	CHECK(c->c_keepalive_timeout >= 0 &&
	    c->c_keepalive_timeout <= 3600000);
	CHECK(c->c_keepalive_requests >= 1 &&
	    c->c_keepalive_requests <= 1000000);
	CHECK(c->c_max_connections >= 1 && c->c_max_connections <= 1000000);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf	*c;
	char		 err[CONF_ERR_MAX];

	if (memmem(data, size, "include", 7) != NULL &&
	    memchr(data, '/', size) != NULL)
		return (0);
	err[0] = '\0';
	c = conf_load_buffer(fuzz_main, (const char *)data, size, err,
	    sizeof(err));
	if (c == NULL)
		fuzz_check_error(err);
	else {
		fuzz_check_conf(c);
		conf_free(c);
	}
	return (0);
}
