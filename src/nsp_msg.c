/*
 * nsp_msg.c: encoded outgoing packets.  See nsp_msg.h.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "log.h"
#include "nsp_msg.h"
#include "sio_codec.h"
#include "xmalloc.h"

struct nsp_msg *
nsp_msg_new(enum sio_type type, const char *nsp, int64_t id, const char *json,
    size_t len, struct sio_attachment *att, size_t natt)
{
	struct nsp_msg *msg;
	struct evbuffer *b;

	if (natt > 0 && type == SIO_EVENT)
		type = SIO_BINARY_EVENT;
	else if (natt > 0 && type == SIO_ACK)
		type = SIO_BINARY_ACK;
	if ((b = evbuffer_new()) == NULL)
		fatalx("nsp_msg_new: out of memory");
	evbuffer_add(b, "4", 1);
	sio_encode(b, type, nsp, id, json, len, natt);
	msg = xcalloc(1, sizeof(*msg));
	msg->nm_refs = 1;
	msg->nm_len = evbuffer_get_length(b);
	msg->nm_data = xmalloc(msg->nm_len + 1);
	evbuffer_remove(b, msg->nm_data, msg->nm_len);
	msg->nm_data[msg->nm_len] = '\0';
	evbuffer_free(b);
	msg->nm_attach = att;
	msg->nm_nattach = natt;
	return (msg);
}

struct nsp_msg *
nsp_msg_raw(const char *text, size_t len, struct sio_attachment *att,
    size_t natt)
{
	struct nsp_msg *msg;

	msg = xcalloc(1, sizeof(*msg));
	msg->nm_refs = 1;
	msg->nm_len = len;
	msg->nm_data = xmalloc(len + 1);
	memcpy(msg->nm_data, text, len);
	msg->nm_data[len] = '\0';
	msg->nm_attach = att;
	msg->nm_nattach = natt;
	return (msg);
}

struct nsp_msg *
nsp_msg_ref(struct nsp_msg *msg)
{
	msg->nm_refs++;
	return (msg);
}

void
nsp_msg_unref(struct nsp_msg *msg)
{
	size_t i;

	if (msg == NULL || --msg->nm_refs > 0)
		return;
	for (i = 0; i < msg->nm_nattach; i++)
		free(msg->nm_attach[i].sa_data);
	free(msg->nm_attach);
	if (msg->nm_tcache != NULL && msg->nm_tcache_free != NULL)
		msg->nm_tcache_free(msg->nm_tcache);
	free(msg->nm_data);
	free(msg);
}

