/*
 * handler.h: the internals behind <rain/handler.h>, shared by handler.c
 * (the rain_* functions) and nsp.c (the pipeline that calls handlers).
 *
 * A struct rain_socket is one module's view of a socket: its listeners,
 * disconnect listeners and user data.  The socket (struct nsp_socket)
 * owns one view per module of its namespace, in discovery order.
 *
 * A struct nsp_job is one step of a socket's pipeline: running the handle
 * functions, one event, or the disconnect listeners.  It is reference
 * counted: the socket's queue holds it until it completed, and a
 * deferral holds it until the handler settles or releases it, so the
 * event a handler kept stays valid after a timeout.
 */
#ifndef RAIND_HANDLER_H
#define RAIND_HANDLER_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "rain/handler.h"

#include "json.h"

struct component_module;
struct nsp_socket;
struct event;

struct handler_listener {
	const char		*hl_name;	/* interned in the namespace */
	rain_listener_fn	 hl_fn;
	int			 hl_flags;
};

/* A socket as one module sees it: one per module and socket, idle ones too. */
struct rain_socket {
	struct nsp_socket		*rs_sock;
	const struct component_module	*rs_module;
	struct handler_listener		*rs_listeners;
	rain_disconnect_fn		*rs_ondisc;
	void				*rs_data;
	void				(*rs_data_free)(void *);
	uint16_t			 rs_nlisteners;	/* <= RAIN_LISTENERS_MAX */
	uint16_t			 rs_nondisc;	/* <= RAIN_LISTENERS_MAX */
};

struct rain_event {
	const char		*ev_name;	/* NULL for an ack answer */
	yajl_val		 ev_data;	/* the packet's array */
	char			*ev_raw;	/* its text, to forward arguments exactly */
	size_t			 ev_rawlen;
	size_t			 ev_first;	/* index of argument 0 in ev_data */
	struct json_attach	*ev_attach;
	size_t			 ev_nattach;
	int			 ev_wants_ack;
	struct nsp_job		*ev_job;	/* NULL for an ack answer */
};

enum nsp_job_kind {
	NSP_JOB_CONNECT,	/* the handle functions */
	NSP_JOB_EVENT,		/* one event's listeners */
	NSP_JOB_DISCONNECT	/* the disconnect listeners */
};

enum nsp_job_state {
	NSP_JOB_QUEUED,
	NSP_JOB_LOAD,
	NSP_JOB_LOADING,
	NSP_JOB_RUN,
	NSP_JOB_WAIT,		/* a listener deferred */
	NSP_JOB_SAVE,
	NSP_JOB_SAVING,
	NSP_JOB_ACK,
	NSP_JOB_DONE
};

/* One listener (or handle) call of a job. */
struct nsp_call {
	struct rain_socket	*ca_view;
	rain_listener_fn	 ca_fn;		/* events */
	rain_handle_fn		 ca_handle;	/* the connect job */
	int			 ca_flags;
};

enum handler_defer_state {
	HANDLER_DEFER_PENDING,
	HANDLER_DEFER_ABANDONED		/* timed out; waits for the handler */
};

struct rain_defer {
	struct nsp_job		*d_job;		/* holds a reference */
	struct rain_socket	*d_view;
	enum handler_defer_state d_state;
	void			(*d_cancel)(void *);
	void			*d_cancel_arg;
};

struct nsp_job {
	TAILQ_ENTRY(nsp_job)	 nj_entry;
	unsigned int		 nj_refs;
	enum nsp_job_kind	 nj_kind;
	enum nsp_job_state	 nj_state;
	struct nsp_socket	*nj_sock;	/* holds a reference */
	struct rain_event	 nj_ev;
	int64_t			 nj_ack_id;	/* -1: no ack wanted */
	char			*nj_reason;	/* disconnect reason */
	struct nsp_call		*nj_calls;
	size_t			 nj_ncalls;
	size_t			 nj_next;	/* next call to make */
	int			 nj_session;	/* load and save run */
	int			 nj_in_run;	/* nsp_job_run is on the stack */
	unsigned int		 nj_holds;	/* nsp_job_hold: start/answer wait */
	int			 nj_cur_flags;	/* flags of the call running */
	int			 nj_defer_called; /* by the call running */
	struct rain_defer	*nj_defer;	/* pending deferral */
	struct event		*nj_timer;	/* its handler_timeout */
	/* The acknowledgement. */
	struct json_buf		 nj_reply;	/* value of [null, value] */
	struct json_buf		 nj_exact;	/* exact arguments, if nj_has_exact */
	int			 nj_has_exact;
	char			*nj_error;	/* first listener error */
	char			*nj_cur_error;	/* rain_error of the call running */
	char			*nj_stage_error; /* session load or save error */
};

/* Called by nsp.c. */
void	handler_view_clear(struct rain_socket *);
void	handler_log(struct rain_socket *, int level, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
/* Build ["event", args...] from typed arguments (see handler.c). */
int	handler_build_event(struct json_buf *, const char *event,
	    const struct rain_arg *args);

/* Called by handler.c (nsp.c). */
struct rain_defer *nsp_defer_new(struct nsp_job *);
/* What a job runs, for logs: the event's name, "handle" or "disconnect". */
const char	*nsp_job_what(const struct nsp_job *);
/* The deferral was resolved or rejected: continue the job. */
void	nsp_defer_settle(struct rain_defer *);
/* Free an abandoned deferral (settled late by its handler). */
void	nsp_defer_free(struct rain_defer *);

#endif
