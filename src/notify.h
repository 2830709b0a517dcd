/*
 * notify.h: tell the service manager how the master is doing (systemd's
 * Type=notify protocol): READY=1 once the workers run, RELOADING=1 (with
 * MONOTONIC_USEC) when a reload starts and READY=1 when it is done,
 * STOPPING=1 when a stop starts.
 *
 * With libsystemd (configure detects it) this is sd_notify; without it,
 * the same one datagram to the socket named by $NOTIFY_SOCKET, a path or
 * an abstract name ("@...").  Without $NOTIFY_SOCKET nothing is sent.
 * Failures are logged once and never stop the server.
 */
#ifndef RAIND_NOTIFY_H
#define RAIND_NOTIFY_H

void	notify_ready(void);
void	notify_reloading(void);
void	notify_stopping(void);
/* After a binary upgrade: the service's main process is pid now. */
void	notify_mainpid(long pid);

#endif
