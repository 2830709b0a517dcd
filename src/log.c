/*
 * log.c: logging.  See log.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_TAG_MAX	32
#define LOG_LINE_MAX	4096

static int	 log_foreground = 1;
static int	 log_level = LOG_LEVEL_INFO;
static int	 log_fd = -1;		/* log_file, or -1 */
static char	*log_path;
static char	 log_tag[LOG_TAG_MAX] = "raind";

static const char *const log_level_names[] = {
	"error", "warn", "info", "debug"
};

void
log_init(int foreground, int verbose)
{
	log_foreground = foreground;
	log_level = LOG_LEVEL_INFO + verbose;
	if (log_level > LOG_LEVEL_DEBUG)
		log_level = LOG_LEVEL_DEBUG;
	if (!foreground)
		openlog("raind", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int
log_level_parse(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(log_level_names) / sizeof(log_level_names[0]); i++)
		if (strcmp(s, log_level_names[i]) == 0)
			return ((int)i);
	return (-1);
}

const char *
log_level_name(int level)
{
	if (level < 0 || level > LOG_LEVEL_DEBUG)
		return ("?");
	return (log_level_names[level]);
}

void
log_setlevel(int level)
{
	log_level = level;
}

int
log_getlevel(void)
{
	return (log_level);
}

int
log_setfile(const char *path)
{
	int fd = -1;

	if (path != NULL) {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (fd == -1)
			return (-1);
	}
	if (log_fd != -1)
		close(log_fd);
	log_fd = fd;
	free(log_path);
	log_path = path != NULL ? strdup(path) : NULL;
	return (0);
}

void
log_reopen(void)
{
	int fd;

	if (log_path == NULL)
		return;
	fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1) {
		log_warn("reopen %s", log_path);
		return;
	}
	if (log_fd != -1)
		close(log_fd);
	log_fd = fd;
}

void
log_settag(const char *tag)
{
	snprintf(log_tag, sizeof(log_tag), "%s", tag);
}

/*
 * Format one whole line and write it with a single write(2), so lines of
 * different processes sharing the file or stderr never interleave.
 */
static void
log_emit(int level, const char *msg)
{
	char		 line[LOG_LINE_MAX];
	struct timespec	 ts;
	struct tm	 tm;
	int		 n, fd;
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

	if (log_fd == -1 && !log_foreground) {
		syslog(prio[level], "%s: %s", log_tag, msg);
		return;
	}
	fd = log_fd != -1 ? log_fd : STDERR_FILENO;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%ld] %s: %s\n",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, log_tag,
	    (long)getpid(), log_level_names[level], msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* A failed log write has nowhere to be reported. */
	if (write(fd, line, (size_t)n) == -1)
		return;
}

void
log_vlog(int level, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_emit(level, msg);
}

static void
log_verrno(int level, const char *fmt, va_list ap)
{
	char	msg[LOG_LINE_MAX];
	int	saved = errno;
	size_t	len;

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	len = strlen(msg);
	snprintf(msg + len, sizeof(msg) - len, ": %s", strerror(saved));
	log_emit(level, msg);
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_verrno(LOG_LEVEL_WARN, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_LEVEL_WARN, fmt, ap);
	va_end(ap);
}

void
log_errorx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_LEVEL_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_LEVEL_DEBUG, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_verrno(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}
