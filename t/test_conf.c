/*
 * test_conf.c: the configuration file reader.
 *
 * Every test gets a fresh directory from mkdtemp(3) and writes its
 * configuration files there, so the tests run from any build directory
 * and leave nothing behind.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "conf.h"
#include "log.h"

#define T_NAME		"t.conf"	/* the main file of most tests */
#define T_TEXT_MAX	160		/* text of one table-driven case */
#define T_FD_MAX	16		/* nftw(3) descriptors */
#define T_DIR_MAX	256		/* the test directory's name */
#define T_WANT_MAX	(PATH_MAX + CONF_ERR_MAX)	/* an expected error */

static char	t_dir[T_DIR_MAX];
static char	t_err[CONF_ERR_MAX];

static void
t_setup(void)
{
	const char	*tmp = getenv("TMPDIR");

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(t_dir, sizeof(t_dir), "%s/test_conf.XXXXXX", tmp);
	cr_assert_not_null(mkdtemp(t_dir), "mkdtemp %s: %s", t_dir,
	    strerror(errno));
}

static int
t_remove(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return (remove(path));
}

static void
t_teardown(void)
{
	nftw(t_dir, t_remove, T_FD_MAX, FTW_DEPTH | FTW_PHYS);
}

/* The absolute name of rel in the test directory (static buffer). */
static const char *
t_path(const char *rel)
{
	static char	path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", t_dir, rel);
	return (path);
}

static void
t_write_len(const char *rel, const char *text, size_t len)
{
	FILE	*f;

	f = fopen(t_path(rel), "w");
	cr_assert_not_null(f, "fopen %s: %s", rel, strerror(errno));
	cr_assert_eq(fwrite(text, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

static void
t_write(const char *rel, const char *text)
{
	t_write_len(rel, text, strlen(text));
}

static void
t_mkdir(const char *rel)
{
	cr_assert_eq(mkdir(t_path(rel), 0755), 0, "mkdir %s: %s", rel,
	    strerror(errno));
}

static struct conf *
t_load(const char *rel)
{
	char	path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", t_dir, rel);
	t_err[0] = '\0';
	return (conf_load(path, t_err, sizeof(t_err)));
}

/* Load text as t.conf and expect it to succeed. */
static struct conf *
t_good(const char *text)
{
	struct conf	*c;

	t_write(T_NAME, text);
	c = t_load(T_NAME);
	cr_assert_not_null(c, "unexpected error: %s", t_err);
	return (c);
}

/* Load text as t.conf and expect exactly "DIR/t.conf:line: msg". */
static void
t_bad(const char *text, int line, const char *msg)
{
	char	want[T_WANT_MAX];

	t_write(T_NAME, text);
	cr_assert_null(t_load(T_NAME), "no error for \"%s\"", text);
	snprintf(want, sizeof(want), "%s:%d: %s", t_path(T_NAME), line, msg);
	cr_assert_str_eq(t_err, want);
}

static void
t_assert_in(const struct conf_listen *l, const char *addr, int port)
{
	const struct sockaddr_in	*sin;
	char				 buf[INET_ADDRSTRLEN];

	cr_assert_eq(l->cl_ss.ss_family, AF_INET);
	cr_assert_eq(l->cl_sslen, sizeof(struct sockaddr_in));
	sin = (const struct sockaddr_in *)&l->cl_ss;
	cr_assert_eq(ntohs(sin->sin_port), port);
	inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
	cr_assert_str_eq(buf, addr);
}

TestSuite(conf, .init = t_setup, .fini = t_teardown);

Test(conf, defaults)
{
	struct conf	*c = t_good("");

	cr_assert_str_eq(c->c_path, t_path(T_NAME));
	cr_assert_eq(c->c_nlisten, 1);
	cr_assert_str_eq(c->c_listen[0].cl_text, "127.0.0.1:8080");
	t_assert_in(&c->c_listen[0], "127.0.0.1", 8080);
	cr_assert_eq(c->c_workers, 0);
	cr_assert_null(c->c_pid_file);
	cr_assert_null(c->c_user);
	cr_assert_eq(c->c_log_level, LOG_LEVEL_INFO);
	cr_assert_null(c->c_log_file);
	cr_assert_eq(c->c_shutdown_timeout, 10000);
	cr_assert_eq(c->c_max_request_line, 8 * 1024);
	cr_assert_eq(c->c_max_header_size, 16 * 1024);
	cr_assert_eq(c->c_max_headers, 100);
	cr_assert_eq(c->c_max_body_size, 1024 * 1024);
	cr_assert_eq(c->c_header_timeout, 10000);
	cr_assert_eq(c->c_body_timeout, 30000);
	cr_assert_eq(c->c_keepalive_timeout, 75000);
	cr_assert_eq(c->c_keepalive_requests, 1000);
	cr_assert_eq(c->c_max_connections, 10000);
	conf_free(c);
}

Test(conf, every_directive)
{
	struct conf			*c;
	const struct sockaddr_in6	*sin6;
	char				 want[PATH_MAX];

	c = t_good(
	    "listen 10.0.0.1:80\n"
	    "listen [::1]:0\n"
	    "listen *:443\n"
	    "workers 3\n"
	    "pid_file run/raind.pid\n"
	    "user root\n"
	    "log_level debug\n"
	    "log_file /var/log/raind.log\n"
	    "shutdown_timeout 1m\n"
	    "max_request_line 64\n"
	    "max_header_size 64k\n"
	    "max_headers 256\n"
	    "max_body_size 0\n"
	    "header_timeout 100ms\n"
	    "body_timeout 1h\n"
	    "keepalive_timeout 0s\n"
	    "keepalive_requests 1000000\n"
	    "max_connections 1\n");
	cr_assert_eq(c->c_nlisten, 3);
	t_assert_in(&c->c_listen[0], "10.0.0.1", 80);
	cr_assert_str_eq(c->c_listen[0].cl_file, t_path(T_NAME));
	cr_assert_eq(c->c_listen[0].cl_line, 1);
	cr_assert_str_eq(c->c_listen[1].cl_text, "[::1]:0");
	cr_assert_eq(c->c_listen[1].cl_line, 2);
	cr_assert_eq(c->c_listen[1].cl_ss.ss_family, AF_INET6);
	sin6 = (const struct sockaddr_in6 *)&c->c_listen[1].cl_ss;
	cr_assert_eq(ntohs(sin6->sin6_port), 0);
	cr_assert(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
	t_assert_in(&c->c_listen[2], "0.0.0.0", 443);
	cr_assert_eq(c->c_workers, 3);
	cr_assert_eq(conf_workers(c), 3);
	/* Relative paths are taken from the configuration's directory. */
	snprintf(want, sizeof(want), "%s/run/raind.pid", t_dir);
	cr_assert_str_eq(c->c_pid_file, want);
	cr_assert_str_eq(c->c_user, "root");
	cr_assert_eq(c->c_log_level, LOG_LEVEL_DEBUG);
	cr_assert_str_eq(c->c_log_file, "/var/log/raind.log");
	cr_assert_eq(c->c_shutdown_timeout, 60000);
	cr_assert_eq(c->c_max_request_line, 64);
	cr_assert_eq(c->c_max_header_size, 65536);
	cr_assert_eq(c->c_max_headers, 256);
	cr_assert_eq(c->c_max_body_size, 0);
	cr_assert_eq(c->c_header_timeout, 100);
	cr_assert_eq(c->c_body_timeout, 3600000);
	cr_assert_eq(c->c_keepalive_timeout, 0);
	cr_assert_eq(c->c_keepalive_requests, 1000000);
	cr_assert_eq(c->c_max_connections, 1);
	conf_free(c);
}

Test(conf, redis_sentinel)
{
	struct conf	*c;

	c = t_good("redis_sentinel 10.0.0.1:26379 [::1]:26380\n"
	    "redis_sentinel_master mymaster\n"
	    "redis_sentinel sentinel.example:26381\n");
	cr_assert_null(c->c_redis);
	cr_assert_eq(c->c_redis_sentinels.cs_n, 3);
	cr_assert_str_eq(c->c_redis_sentinels.cs_v[0], "10.0.0.1:26379");
	cr_assert_str_eq(c->c_redis_sentinels.cs_v[1], "[::1]:26380");
	cr_assert_str_eq(c->c_redis_sentinels.cs_v[2], "sentinel.example:26381");
	cr_assert_str_eq(c->c_redis_sentinel_master, "mymaster");
	cr_assert(conf_redis_wanted(c));
	conf_free(c);

	/* "redis none" is no address: no conflict. */
	c = t_good("redis none\nredis_sentinel 127.0.0.1:1\n"
	    "redis_sentinel_master m\n");
	cr_assert(conf_redis_wanted(c));
	conf_free(c);

	c = t_good("redis 127.0.0.1:6379\n");
	cr_assert_eq(c->c_redis_sentinels.cs_n, 0);
	cr_assert_null(c->c_redis_sentinel_master);
	cr_assert(conf_redis_wanted(c));
	conf_free(c);

	c = t_good("workers 1\n");
	cr_assert(!conf_redis_wanted(c));
	conf_free(c);
}

/* A conflict found after reading names the file it was found in. */
Test(conf, redis_sentinel_in_include)
{
	char	want[T_WANT_MAX], inc[PATH_MAX];

	/* t_path's buffer is static: one name at a time. */
	snprintf(inc, sizeof(inc), "%s", t_path("inc.conf"));
	t_write("inc.conf", "redis_sentinel 10.0.0.1:26379\n");
	t_write(T_NAME, "redis 10.0.0.9:6379\n\ninclude inc.conf\n");
	cr_assert_null(t_load(T_NAME));
	snprintf(want, sizeof(want), "%s:1: redis_sentinel conflicts with "
	    "redis set at %s:1: the sentinels name the master", inc,
	    t_path(T_NAME));
	cr_assert_str_eq(t_err, want);
}

Test(conf, syntax)
{
	struct conf	*c;

	c = t_good(
	    "# a comment\r\n"
	    "\r\n"
	    "   \t \n"
	    "\tworkers\t 2   # trailing comment\r\n"
	    "log_file \"/tmp/a \\\"b\\\" \\\\c.log\"\n"
	    "pid_file /tmp/x#y.pid\n"
	    "\"log_level\" \"warn\"\t#comment\n"
	    "max_body_size 2M\n"
	    "max_header_size 2K\n"
	    "listen 127.0.0.1:9");	/* no final newline */
	cr_assert_eq(c->c_workers, 2);
	cr_assert_str_eq(c->c_log_file, "/tmp/a \"b\" \\c.log");
	cr_assert_str_eq(c->c_pid_file, "/tmp/x#y.pid");
	cr_assert_eq(c->c_log_level, LOG_LEVEL_WARN);
	cr_assert_eq(c->c_max_body_size, 2 * 1024 * 1024);
	cr_assert_eq(c->c_max_header_size, 2048);
	cr_assert_eq(c->c_nlisten, 1);
	t_assert_in(&c->c_listen[0], "127.0.0.1", 9);
	cr_assert_eq(c->c_listen[0].cl_line, 10);
	conf_free(c);
}

Test(conf, none)
{
	struct conf	*c = t_good("pid_file none\nlog_file none\n");

	cr_assert_null(c->c_pid_file);
	cr_assert_null(c->c_log_file);
	conf_free(c);
}

Test(conf, workers_auto)
{
	struct conf	*c = t_good("workers auto\n");
	long		 ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int		 n;

	cr_assert_eq(c->c_workers, 0);
	n = conf_workers(c);
	cr_assert(n >= 1 && n <= CONF_WORKERS_MAX);
	if (ncpu >= 1 && ncpu <= CONF_WORKERS_MAX)
		cr_assert_eq(n, ncpu);
	conf_free(c);
}

Test(conf, include_glob_sorted)
{
	struct conf	*c;
	char		 want[PATH_MAX];

	t_mkdir("conf.d");
	t_mkdir("conf.d/sub.conf");	/* a directory: skipped */
	t_write("conf.d/20-b.conf", "\nlisten 127.0.0.2:2\n");
	t_write("conf.d/10-a.conf", "listen 127.0.0.1:1\nworkers 5\n");
	t_write("conf.d/30-c.conf.disabled", "nonsense\n");
	c = t_good("listen 127.0.0.9:9\ninclude conf.d/*.conf\n"
	    "listen 127.0.0.3:3\n");
	cr_assert_eq(c->c_nlisten, 4);
	t_assert_in(&c->c_listen[0], "127.0.0.9", 9);
	t_assert_in(&c->c_listen[1], "127.0.0.1", 1);
	t_assert_in(&c->c_listen[2], "127.0.0.2", 2);
	t_assert_in(&c->c_listen[3], "127.0.0.3", 3);
	snprintf(want, sizeof(want), "%s/conf.d/20-b.conf", t_dir);
	cr_assert_str_eq(c->c_listen[2].cl_file, want);
	cr_assert_eq(c->c_listen[2].cl_line, 2);
	/* Line numbers of the including file go on after the include. */
	cr_assert_eq(c->c_listen[3].cl_line, 3);
	cr_assert_eq(c->c_workers, 5);
	conf_free(c);
}

Test(conf, include_nothing_matches)
{
	struct conf	*c;

	t_mkdir("empty.d");
	c = t_good("include empty.d/*.conf\ninclude nowhere/*\n");
	cr_assert_eq(c->c_nlisten, 1);	/* the default */
	conf_free(c);
}

Test(conf, include_relative_to_including_file)
{
	struct conf	*c;

	t_mkdir("sub");
	t_write("sub/a.conf", "include b.conf\n");
	t_write("sub/b.conf", "workers 7\n");
	t_write("b.conf", "workers 8\n");
	c = t_good("include sub/a.conf\n");
	cr_assert_eq(c->c_workers, 7);
	conf_free(c);
}

Test(conf, include_absolute)
{
	struct conf	*c;
	char		 text[PATH_MAX + 32];

	t_write("abs.conf", "workers 9\n");
	snprintf(text, sizeof(text), "include \"%s/abs.conf\"\n", t_dir);
	c = t_good(text);
	cr_assert_eq(c->c_workers, 9);
	conf_free(c);
}

Test(conf, include_missing_file)
{
	char	msg[T_WANT_MAX];

	snprintf(msg, sizeof(msg), "%s/missing.conf: No such file or directory",
	    t_dir);
	t_bad("\ninclude missing.conf\n", 2, msg);
}

Test(conf, include_directory)
{
	char	msg[T_WANT_MAX];

	t_mkdir("d");
	snprintf(msg, sizeof(msg), "%s/d: Is a directory", t_dir);
	t_bad("include d\n", 1, msg);
}

Test(conf, include_fifo)
{
	char	msg[T_WANT_MAX];

	cr_assert_eq(mkfifo(t_path("fifo"), 0600), 0);
	snprintf(msg, sizeof(msg), "%s/fifo: not a regular file", t_dir);
	t_bad("include fifo\n", 1, msg);
}

Test(conf, error_in_included_file)
{
	char	want[T_WANT_MAX];

	t_mkdir("conf.d");
	t_write("conf.d/a.conf", "# fine\nworkers 2\nworkers x\n");
	t_write(T_NAME, "\n\ninclude conf.d/*\n");
	cr_assert_null(t_load(T_NAME));
	snprintf(want, sizeof(want), "%s/conf.d/a.conf:3: duplicate directive "
	    "\"workers\", first set at %s/conf.d/a.conf:2", t_dir, t_dir);
	cr_assert_str_eq(t_err, want);
}

Test(conf, file_name_escaped)
{
	char	want[T_WANT_MAX];

	/* A name is shown, like a word, with its odd bytes escaped. */
	t_write("odd\nname.conf", "bogus\n");
	t_write(T_NAME, "include odd*\n");
	cr_assert_null(t_load(T_NAME));
	snprintf(want, sizeof(want), "%s/odd\\x0aname.conf:1: unknown "
	    "directive \"bogus\"", t_dir);
	cr_assert_str_eq(t_err, want);
}

Test(conf, duplicate_across_files)
{
	char	want[T_WANT_MAX];

	t_write("inc.conf", "\nworkers 2\n");
	t_write(T_NAME, "workers 1\ninclude inc.conf\n");
	cr_assert_null(t_load(T_NAME));
	snprintf(want, sizeof(want), "%s/inc.conf:2: duplicate directive "
	    "\"workers\", first set at %s/t.conf:1", t_dir, t_dir);
	cr_assert_str_eq(t_err, want);
}

/* A chain of n includes: t.conf -> 1.conf -> ... -> n.conf. */
static void
t_chain(int n)
{
	char	name[32], text[64];
	int	i;

	for (i = 1; i <= n; i++) {
		snprintf(name, sizeof(name), "%d.conf", i);
		if (i < n)
			snprintf(text, sizeof(text), "include %d.conf\n", i + 1);
		else
			snprintf(text, sizeof(text), "workers %d\n", i);
		t_write(name, text);
	}
	t_write(T_NAME, "include 1.conf\n");
}

Test(conf, include_depth_limit)
{
	struct conf	*c;
	char		 want[T_WANT_MAX];

	t_chain(CONF_INCLUDE_DEPTH);
	c = t_load(T_NAME);
	cr_assert_not_null(c, "%s", t_err);
	cr_assert_eq(c->c_workers, CONF_INCLUDE_DEPTH);
	conf_free(c);

	t_chain(CONF_INCLUDE_DEPTH + 1);
	cr_assert_null(t_load(T_NAME));
	snprintf(want, sizeof(want), "%s/%d.conf:1: include nested too deeply "
	    "(max %d)", t_dir, CONF_INCLUDE_DEPTH, CONF_INCLUDE_DEPTH);
	cr_assert_str_eq(t_err, want);
}

Test(conf, include_self)
{
	char	want[T_WANT_MAX];

	t_write("self.conf", "# loops\ninclude self.conf\n");
	t_write(T_NAME, "include *.conf\n");
	cr_assert_null(t_load(T_NAME));
	/* Sorted, self.conf comes before t.conf and loops first. */
	snprintf(want, sizeof(want), "%s/self.conf:2: include nested too "
	    "deeply (max %d)", t_dir, CONF_INCLUDE_DEPTH);
	cr_assert_str_eq(t_err, want);
}

Test(conf, too_many_files)
{
	char	name[32], msg[T_WANT_MAX];
	int	i;

	t_mkdir("many");
	for (i = 0; i < CONF_FILES_MAX; i++) {
		snprintf(name, sizeof(name), "many/%03d.conf", i);
		t_write(name, "# empty\n");
	}
	snprintf(msg, sizeof(msg), "too many configuration files (max %d)",
	    CONF_FILES_MAX);
	t_bad("include many/*.conf\n", 1, msg);
}

Test(conf, too_many_listen)
{
	char	*text, msg[T_WANT_MAX];
	size_t	 len = 0, size = (CONF_LISTEN_MAX + 1) * 32;
	int	 i;

	text = malloc(size);
	cr_assert_not_null(text);
	for (i = 1; i <= CONF_LISTEN_MAX + 1; i++)
		len += (size_t)snprintf(text + len, size - len,
		    "listen 127.0.0.1:%d\n", i);
	snprintf(msg, sizeof(msg), "too many listen directives (max %d)",
	    CONF_LISTEN_MAX);
	t_bad(text, CONF_LISTEN_MAX + 1, msg);
	free(text);
}

Test(conf, line_length)
{
	struct conf	*c;
	char		*text, msg[T_WANT_MAX];
	size_t		 len = CONF_LINE_MAX;

	/* Exactly CONF_LINE_MAX bytes, CRLF not counted, then one more. */
	text = malloc(2 * len + 16);
	cr_assert_not_null(text);
	memset(text, ' ', len);
	text[0] = '#';
	memcpy(text + len, "\r\n", 3);
	c = t_good(text);
	conf_free(c);

	memset(text + len + 2, ' ', len + 1);
	text[len + 2] = '#';
	memcpy(text + 2 * len + 3, "\n", 2);
	snprintf(msg, sizeof(msg), "line too long (max %d bytes)",
	    CONF_LINE_MAX);
	t_bad(text, 2, msg);
	free(text);
}

Test(conf, nul_byte)
{
	static const char	text[] = "workers 1\nwor\0kers 2\n";
	struct conf		*c;
	char			 want[T_WANT_MAX];

	t_write_len(T_NAME, text, sizeof(text) - 1);
	cr_assert_null(t_load(T_NAME));
	snprintf(want, sizeof(want), "%s:2: NUL byte", t_path(T_NAME));
	cr_assert_str_eq(t_err, want);

	c = conf_load_buffer("mem.conf", text, sizeof(text) - 1, t_err,
	    sizeof(t_err));
	cr_assert_null(c);
	cr_assert_str_eq(t_err, "mem.conf:2: NUL byte");
}

Test(conf, unreadable_main_file)
{
	char	want[T_WANT_MAX];

	cr_assert_null(t_load("absent.conf"));
	snprintf(want, sizeof(want), "%s: No such file or directory",
	    t_path("absent.conf"));
	cr_assert_str_eq(t_err, want);

	t_mkdir("dir.conf");
	cr_assert_null(t_load("dir.conf"));
	snprintf(want, sizeof(want), "%s: Is a directory", t_path("dir.conf"));
	cr_assert_str_eq(t_err, want);

	/* root reads anything: the permission check means nothing then. */
	if (geteuid() != 0) {
		t_write("secret.conf", "workers 1\n");
		cr_assert_eq(chmod(t_path("secret.conf"), 0), 0);
		cr_assert_null(t_load("secret.conf"));
		snprintf(want, sizeof(want), "%s: Permission denied",
		    t_path("secret.conf"));
		cr_assert_str_eq(t_err, want);
	}
}

Test(conf, file_size_limit)
{
	struct conf	*c;
	char		*text, want[T_WANT_MAX];
	size_t		 i;

	/* Comment lines of 64 bytes up to exactly CONF_FILE_MAX. */
	text = malloc(CONF_FILE_MAX + 2);
	cr_assert_not_null(text);
	for (i = 0; i < CONF_FILE_MAX; i++)
		text[i] = i % 64 == 63 ? '\n' : i % 64 == 0 ? '#' : 'x';
	t_write_len(T_NAME, text, CONF_FILE_MAX);
	c = t_load(T_NAME);
	cr_assert_not_null(c, "%s", t_err);
	conf_free(c);

	text[CONF_FILE_MAX] = '\n';
	t_write_len(T_NAME, text, CONF_FILE_MAX + 1);
	cr_assert_null(t_load(T_NAME));
	snprintf(want, sizeof(want), "%s: file too large (max %d bytes)",
	    t_path(T_NAME), CONF_FILE_MAX);
	cr_assert_str_eq(t_err, want);
	free(text);
}

Test(conf, buffer_relative_name)
{
	struct conf	*c;
	char		 cwd[PATH_MAX], want[PATH_MAX + 16];

	static const char text[] = "pid_file p.pid\n";

	cr_assert_eq(chdir(t_dir), 0);
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	c = conf_load_buffer("x.conf", text, sizeof(text) - 1, t_err,
	    sizeof(t_err));
	cr_assert_not_null(c, "%s", t_err);
	snprintf(want, sizeof(want), "%s/p.pid", cwd);
	cr_assert_str_eq(c->c_pid_file, want);
	cr_assert_str_eq(c->c_path, "x.conf");
	conf_free(c);
}

Test(conf, buffer_without_error_buffer)
{
	/* A caller that does not want the message must not crash. */
	cr_assert_null(conf_load_buffer("x.conf", "bogus\n", 6, NULL, 0));
	cr_assert_null(conf_load("/nonexistent/raind.conf", NULL, 0));
}

/*
 * The installed example must be valid as shipped.  A suite of its own:
 * it needs no directory, and a skipped test would not remove one.
 */
Test(example, shipped)
{
	const char	*srcdir = getenv("RAIND_SRCDIR");
	char		 path[PATH_MAX];
	struct conf	*c;

	if (srcdir == NULL)
		cr_skip_test("RAIND_SRCDIR is not set");
	snprintf(path, sizeof(path), "%s/conf/raind.conf", srcdir);
	c = conf_load(path, t_err, sizeof(t_err));
	cr_assert_not_null(c, "%s", t_err);
	cr_assert_eq(c->c_nlisten, 1);
	t_assert_in(&c->c_listen[0], "127.0.0.1", 8080);
	cr_assert_eq(c->c_workers, 0);
	conf_free(c);
}

/*
 * Error cases: the file's text, the line the error must name and the
 * message after "file:line: ".  "@" in the message stands for the
 * test directory.
 */
struct t_error {
	char	te_text[T_TEXT_MAX];
	int	te_line;
	char	te_msg[T_TEXT_MAX];
};

ParameterizedTestParameters(conf, errors)
{
	static struct t_error cases[] = {
		{ "foo bar\n", 1, "unknown directive \"foo\"" },
		{ "# x\n\xc3\xa9t\xc3\xa9 1\n", 2,
		    "unknown directive \"\\xc3\\xa9t\\xc3\\xa9\"" },
		{ "\n\nworkers\n", 3, "missing argument to workers" },
		{ "workers 2 3\n", 1, "unexpected argument \"3\" to workers" },
		{ "listen 127.0.0.1:80 ssl\n", 1,
		    "unexpected argument \"ssl\" to listen" },
		{ "listen 127.0.0.1:80 tls tls\n", 1,
		    "unexpected argument \"tls\" to listen" },
		{ "redis localhost\n", 1, "invalid redis address \"localhost\": "
		    "expected unix:/path or host:port" },
		{ "redis_sentinel 10.0.0.1:26379 localhost\n", 1,
		    "invalid redis_sentinel address \"localhost\": expected "
		    "host:port" },
		{ "redis_sentinel unix:/run/sentinel.sock\n", 1,
		    "invalid redis_sentinel address \"unix:/run/sentinel.sock\": "
		    "expected host:port" },
		{ "redis_sentinel h:0\n", 1,
		    "invalid redis_sentinel address \"h:0\": expected host:port" },
		{ "redis_sentinel_master \"my master\"\n", 1,
		    "invalid redis_sentinel_master \"my master\": letters, "
		    "digits, '.', '_' and '-' only (at most 64)" },
		{ "redis_sentinel_master a\nredis_sentinel_master b\n", 2,
		    "duplicate directive \"redis_sentinel_master\", first set "
		    "at @/t.conf:1" },
		{ "# sentinels\nredis_sentinel 10.0.0.1:26379\n", 2,
		    "redis_sentinel needs redis_sentinel_master" },
		{ "\nredis_sentinel_master mymaster\n", 2,
		    "redis_sentinel_master needs redis_sentinel" },
		{ "redis 10.0.0.9:6379\nredis_sentinel_master m\n"
		    "redis_sentinel 10.0.0.1:26379\n", 3,
		    "redis_sentinel conflicts with redis set at @/t.conf:1: "
		    "the sentinels name the master" },
		{ "redis_sentinel a:1 b:2 c:3 d:4 e:5 f:6 g:7 h:8 i:9\n"
		    "redis_sentinel j:1 k:2 l:3 m:4 n:5 o:6 p:7 q:8\n", 2,
		    "too many values for redis_sentinel (max 16)" },
		{ "redis unix:relative\n", 1, "redis \"unix:relative\": unix: "
		    "needs an absolute path" },
		{ "cookie_name a;b\n", 1, "invalid cookie_name \"a;b\": letters, "
		    "digits, '.', '_' and '-' only (at most 64)" },
		{ "tls_protocols TLSv1.1\n", 1, "unknown TLS protocol \"TLSv1.1\": "
		    "TLSv1.2 or TLSv1.3" },
		{ "shutdown_timeout 10\n", 1, "invalid duration \"10\": "
		    "a unit (ms, s, m, h) is required" },
		{ "shutdown_timeout 10x\n", 1, "invalid duration \"10x\": "
		    "unknown unit (use ms, s, m or h)" },
		{ "shutdown_timeout s\n", 1, "invalid duration \"s\": "
		    "expected a number and a unit (ms, s, m, h)" },
		{ "shutdown_timeout 99999999999999999999h\n", 1,
		    "invalid duration \"99999999999999999999h\": too large" },
		{ "shutdown_timeout 61m\n", 1,
		    "shutdown_timeout must be between 0s and 1h" },
		{ "header_timeout 99ms\n", 1,
		    "header_timeout must be between 100ms and 1h" },
		{ "body_timeout 2h\n", 1,
		    "body_timeout must be between 100ms and 1h" },
		{ "keepalive_timeout 3601s\n", 1,
		    "keepalive_timeout must be between 0s and 1h" },
		{ "max_request_line 63\n", 1,
		    "max_request_line must be between 64 and 64k" },
		{ "max_header_size 65537\n", 1,
		    "max_header_size must be between 1k and 64k" },
		{ "max_header_size 1023\n", 1,
		    "max_header_size must be between 1k and 64k" },
		{ "max_body_size 1025m\n", 1,
		    "max_body_size must be between 0 and 1024m" },
		{ "max_body_size 1g\n", 1,
		    "invalid size \"1g\": unknown suffix (use k or m)" },
		{ "max_body_size -1\n", 1, "invalid size \"-1\": "
		    "expected a number with an optional k or m" },
		{ "max_headers 0\n", 1, "max_headers must be between 1 and 256" },
		{ "max_headers 257\n", 1,
		    "max_headers must be between 1 and 256" },
		{ "max_headers 1k\n", 1, "invalid number \"1k\"" },
		{ "keepalive_requests 0\n", 1,
		    "keepalive_requests must be between 1 and 1000000" },
		{ "max_connections 99999999999999999999999\n", 1,
		    "max_connections must be between 1 and 1000000" },
		{ "workers 0\n", 1, "workers must be between 1 and 256, or auto" },
		{ "workers 257\n", 1,
		    "workers must be between 1 and 256, or auto" },
		{ "workers many\n", 1, "invalid value \"many\" for workers: "
		    "expected a number or auto" },
		{ "workers 1\n# x\nworkers 2\n", 3, "duplicate directive "
		    "\"workers\", first set at @/t.conf:1" },
		{ "log_level loud\n", 1, "invalid log level \"loud\": "
		    "expected error, warn, info or debug" },
		{ "log_level info\nlog_level info\n", 2, "duplicate directive "
		    "\"log_level\", first set at @/t.conf:1" },
		{ "user \"no such user\"\n", 1,
		    "unknown user \"no such user\"" },
		{ "pid_file \"abc\n", 1, "unterminated quoted string" },
		{ "pid_file \"abc\\\n", 1, "unterminated quoted string" },
		{ "pid_file \"a\\qb\"\n", 1, "invalid escape in quoted string: "
		    "only \\\" and \\\\ may be escaped" },
		{ "pid_file \"a\"b\n", 1, "missing blank after quoted string" },
		{ "pid_file a\"b\"\n", 1, "unexpected quote inside a word" },
		{ "pid_file \"\"\n", 1, "empty path" },
		{ "pid_file /a\npid_file /b\n", 2, "duplicate directive "
		    "\"pid_file\", first set at @/t.conf:1" },
		{ "listen 1.2.3.4\n", 1, "invalid listen address \"1.2.3.4\": "
		    "expected IPV4:PORT, [IPV6]:PORT or *:PORT" },
		{ "listen localhost:80\n", 1,
		    "invalid listen address \"localhost:80\": "
		    "expected IPV4:PORT, [IPV6]:PORT or *:PORT" },
		{ "listen 1.2.3.4:80\nlisten 1.2.3.4:80\n", 2, "duplicate "
		    "listen \"1.2.3.4:80\", first set at @/t.conf:1" },
		{ "listen *:80\n\nlisten 0.0.0.0:80\n", 3, "duplicate "
		    "listen \"0.0.0.0:80\", first set at @/t.conf:1" },
		{ "# ok\nworkers\x01 1\n", 2, "invalid character 0x01" },
		{ "workers 1\rworkers 2\n", 1, "invalid character 0x0d" },
		{ "workers 1\x7f\n", 1, "invalid character 0x7f" },
		{ "a b c d e f g h i j k l m n o p q\n", 1,
		    "too many words (max 16)" },
		{ "include \"\"\n", 1, "empty path" },
		{ "workers \"\\\\\xff\"\n", 1, "invalid value \"\\\\\\xff\" "
		    "for workers: expected a number or auto" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    " 1\n", 1, "unknown directive \""
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaa...\"" },
	};

	return (cr_make_param_array(struct t_error, cases,
	    sizeof(cases) / sizeof(cases[0])));
}

ParameterizedTest(struct t_error *te, conf, errors)
{
	char	msg[T_WANT_MAX], *w;
	char	*r;

	/* Put the test directory in place of '@'. */
	for (r = te->te_msg, w = msg; *r != '\0'; r++) {
		if (*r == '@')
			w += snprintf(w, sizeof(msg) - (size_t)(w - msg), "%s",
			    t_dir);
		else
			*w++ = *r;
	}
	*w = '\0';
	t_bad(te->te_text, te->te_line, msg);
}

/* Value parsers. */

struct t_duration {
	char	td_in[32];
	int	td_ok;
	int64_t	td_ms;
};

ParameterizedTestParameters(parse, duration)
{
	static struct t_duration cases[] = {
		{ "0ms", 1, 0 }, { "250ms", 1, 250 }, { "30s", 1, 30000 },
		{ "5m", 1, 300000 }, { "1h", 1, 3600000 }, { "0s", 1, 0 },
		{ "007s", 1, 7000 },
		{ "2562047788015h", 1, 2562047788015LL * 3600000 },
		{ "9223372036854775807ms", 1, INT64_MAX },
		{ "9223372036854775808ms", 0, 0 },
		{ "2562047788016h", 0, 0 },
		{ "10", 0, 0 }, { "", 0, 0 }, { "s", 0, 0 }, { "-1s", 0, 0 },
		{ "+1s", 0, 0 }, { "1.5s", 0, 0 }, { "1 s", 0, 0 },
		{ "1S", 0, 0 }, { "1sec", 0, 0 }, { "1d", 0, 0 },
		{ "1hm", 0, 0 }, { "1h30m", 0, 0 }, { " 1s", 0, 0 },
	};

	return (cr_make_param_array(struct t_duration, cases,
	    sizeof(cases) / sizeof(cases[0])));
}

ParameterizedTest(struct t_duration *td, parse, duration)
{
	int64_t	ms = -1;
	int	rv = conf_parse_duration(td->td_in, &ms);

	if (td->td_ok) {
		cr_assert_eq(rv, 0, "\"%s\" refused", td->td_in);
		cr_assert_eq(ms, td->td_ms, "\"%s\" gave %lld", td->td_in,
		    (long long)ms);
	} else
		cr_assert_eq(rv, -1, "\"%s\" accepted", td->td_in);
}

struct t_size {
	char	ts_in[32];
	int	ts_ok;
	size_t	ts_size;
};

ParameterizedTestParameters(parse, size)
{
	static struct t_size cases[] = {
		{ "0", 1, 0 }, { "1", 1, 1 }, { "8k", 1, 8192 },
		{ "8K", 1, 8192 }, { "1m", 1, 1048576 }, { "3M", 1, 3145728 },
		{ "1024m", 1, 1073741824 },
		{ "18446744073709551615", 1, SIZE_MAX },
		{ "18446744073709551616", 0, 0 },
		{ "18014398509481984k", 0, 0 },
		{ "", 0, 0 }, { "k", 0, 0 }, { "1g", 0, 0 }, { "1kb", 0, 0 },
		{ "1 k", 0, 0 }, { "-1", 0, 0 }, { "0x10", 0, 0 },
		{ "1.5k", 0, 0 },
	};

	return (cr_make_param_array(struct t_size, cases,
	    sizeof(cases) / sizeof(cases[0])));
}

ParameterizedTest(struct t_size *ts, parse, size)
{
	size_t	size = 12345;
	int	rv = conf_parse_size(ts->ts_in, &size);

	if (ts->ts_ok) {
		cr_assert_eq(rv, 0, "\"%s\" refused", ts->ts_in);
		cr_assert_eq(size, ts->ts_size, "\"%s\" gave %zu", ts->ts_in,
		    size);
	} else
		cr_assert_eq(rv, -1, "\"%s\" accepted", ts->ts_in);
}

struct t_addr {
	char	ta_in[64];
	int	ta_family;	/* 0: refused */
	char	ta_addr[48];
	int	ta_port;
};

ParameterizedTestParameters(parse, addr)
{
	static struct t_addr cases[] = {
		{ "1.2.3.4:80", AF_INET, "1.2.3.4", 80 },
		{ "127.0.0.1:0", AF_INET, "127.0.0.1", 0 },
		{ "*:65535", AF_INET, "0.0.0.0", 65535 },
		{ "0.0.0.0:8080", AF_INET, "0.0.0.0", 8080 },
		{ "[::1]:80", AF_INET6, "::1", 80 },
		{ "[::]:443", AF_INET6, "::", 443 },
		{ "[2001:db8::1]:1", AF_INET6, "2001:db8::1", 1 },
		{ "[::ffff:1.2.3.4]:5", AF_INET6, "::ffff:1.2.3.4", 5 },
		{ "1.2.3.4:65536", 0, "", 0 },
		{ "1.2.3.4:99999999999999999999999", 0, "", 0 },
		{ "1.2.3.4:", 0, "", 0 },
		{ "1.2.3.4", 0, "", 0 },
		{ ":80", 0, "", 0 },
		{ "1.2.3:80", 0, "", 0 },
		{ "1.2.3.256:80", 0, "", 0 },
		{ "localhost:80", 0, "", 0 },
		{ "::1:80", 0, "", 0 },
		{ "[::1]80", 0, "", 0 },
		{ "[::1]", 0, "", 0 },
		{ "[::1:80", 0, "", 0 },
		{ "[]:80", 0, "", 0 },
		{ "[1.2.3.4]:80", 0, "", 0 },
		{ "[*]:80", 0, "", 0 },
		{ "1.2.3.4:-1", 0, "", 0 },
		{ "1.2.3.4:+80", 0, "", 0 },
		{ "1.2.3.4:80x", 0, "", 0 },
		{ "", 0, "", 0 },
		{ "[0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:00]:1",
		    0, "", 0 },
	};

	return (cr_make_param_array(struct t_addr, cases,
	    sizeof(cases) / sizeof(cases[0])));
}

ParameterizedTest(struct t_addr *ta, parse, addr)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = 0;
	char			 buf[INET6_ADDRSTRLEN];
	int			 rv, port;

	rv = conf_parse_addr(ta->ta_in, &ss, &sslen);
	if (ta->ta_family == 0) {
		cr_assert_eq(rv, -1, "\"%s\" accepted", ta->ta_in);
		return;
	}
	cr_assert_eq(rv, 0, "\"%s\" refused", ta->ta_in);
	cr_assert_eq(ss.ss_family, ta->ta_family);
	if (ta->ta_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		cr_assert_eq(sslen, sizeof(*sin));
		inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
		port = ntohs(sin->sin_port);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		cr_assert_eq(sslen, sizeof(*sin6));
		inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
		port = ntohs(sin6->sin6_port);
	}
	cr_assert_str_eq(buf, ta->ta_addr);
	cr_assert_eq(port, ta->ta_port);
}

Test(parse, bool)
{
	int	v = -1;

	cr_assert_eq(conf_parse_bool("yes", &v), 0);
	cr_assert_eq(v, 1);
	cr_assert_eq(conf_parse_bool("no", &v), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(conf_parse_bool("YES", &v), -1);
	cr_assert_eq(conf_parse_bool("true", &v), -1);
	cr_assert_eq(conf_parse_bool("", &v), -1);
	cr_assert_eq(v, 0, "a refused value must not be stored");
}

Test(parse, strings)
{
	struct conf_strings	cs = { NULL, 0 };
	char			word[] = "first";

	conf_strings_add(&cs, word);
	word[0] = 'F';		/* the list keeps its own copy */
	conf_strings_add(&cs, "second");
	cr_assert_eq(cs.cs_n, 2);
	cr_assert_str_eq(cs.cs_v[0], "first");
	cr_assert_str_eq(cs.cs_v[1], "second");
	conf_strings_clear(&cs);
	cr_assert_eq(cs.cs_n, 0);
	cr_assert_null(cs.cs_v);
	conf_strings_clear(&cs);	/* clearing twice is harmless */
}

Test(conf, trusted_proxies)
{
	struct conf *c;

	c = t_good("trusted_proxies 10.0.0.0/8 127.0.0.1\ntrusted_proxies ::1 fd00::/8\n");
	cr_assert_eq(c->c_trusted_proxies.cs_n, 4);
	cr_expect_str_eq(c->c_trusted_proxies.cs_v[3], "fd00::/8");
	conf_free(c);
	t_bad("workers 1\ntrusted_proxies 10.0.0.0/33\n", 2,
	    "trusted_proxies \"10.0.0.0/33\": not an address or address/bits");
	t_bad("trusted_proxies example.org\n", 1,
	    "trusted_proxies \"example.org\": not an address or address/bits");
	t_bad("trusted_proxies 10.0.0.1/\n", 1,
	    "trusted_proxies \"10.0.0.1/\": not an address or address/bits");
}
