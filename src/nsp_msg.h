/*
 * nsp_msg.h: an encoded outgoing Socket.IO packet, shared by reference.
 *
 * The namespace layer builds one message for every recipient of an emit
 * or a broadcast; transports (ws.c, the polling side of eio.c) queue
 * references to it.  It sits below both, so that a transport needs to
 * know nothing of namespaces.
 *
 * Ownership: reference counted; nsp_msg_new and nsp_msg_raw return one
 * reference, nsp_msg_ref adds one, nsp_msg_unref drops one and frees the
 * message (its attachments and transport cache) with the last.
 */
#ifndef RAIND_NSP_MSG_H
#define RAIND_NSP_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "sio_codec.h"

/* An encoded outgoing packet, shared by reference. */
struct nsp_msg {
	unsigned int		 nm_refs;
	/*
	 * The Engine.IO message: '4' followed by the Socket.IO packet text,
	 * NUL-terminated (nm_len excludes the NUL).
	 */
	char			*nm_data;
	size_t			 nm_len;
	/* Binary attachments, each sent as its own Engine.IO binary message. */
	struct sio_attachment	*nm_attach;
	size_t			 nm_nattach;
	/* Transport-private cache (e.g. a built WebSocket frame), freed with the message. */
	void			*nm_tcache;
	void			(*nm_tcache_free)(void *);
};

struct nsp_msg	*nsp_msg_new(enum sio_type, const char *nsp, int64_t id,
		    const char *json, size_t len, struct sio_attachment *,
		    size_t nattach);
/* A message already encoded ("4..." text), taking att; from another worker. */
struct nsp_msg	*nsp_msg_raw(const char *text, size_t len,
		    struct sio_attachment *, size_t nattach);
struct nsp_msg	*nsp_msg_ref(struct nsp_msg *);
void		 nsp_msg_unref(struct nsp_msg *);

#endif
