/*
 * log.h: logging for the master and the workers.
 *
 * Lines go to stderr (foreground, -d), to log_file, or to syslog when
 * neither is set.  Every line carries a tag naming the process
 * ("master", "worker 2") so the interleaved output of a prefork server
 * can be read.  log_warn and fatal append strerror(errno).
 */
#ifndef RAIND_LOG_H
#define RAIND_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG
};

/* Start logging to stderr (foreground) or syslog; verbose raises the level by one step per -v. */
void	log_init(int foreground, int verbose);
/* Parse "error", "warn", "info", "debug"; -1 when unknown. */
int	log_level_parse(const char *);
const char *log_level_name(int);
void	log_setlevel(int);
int	log_getlevel(void);
/* Send lines to path (appending); NULL goes back to the default.  -1 on error with errno. */
int	log_setfile(const char *path);
/* Reopen the log file after rotation (SIGUSR1). */
void	log_reopen(void);
/* Tag copied into a static buffer. */
void	log_settag(const char *tag);

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_errorx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_vlog(int level, const char *, va_list) __attribute__((format(printf, 2, 0)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
