/*
 * ws.c: WebSocket connections.  See ws.h.
 */
#include "config.h"

#include <sys/uio.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "conn.h"
#include "http.h"
#include "log.h"
#include "nsp_msg.h"
#include "stats.h"
#include "ws.h"
#include "ws_frame.h"
#include "xmalloc.h"

/* Messages handled per read callback before yielding to the loop. */
#define WS_MESSAGES_PER_READ	256
/*
 * A slow reader's queue.  libevent gives every reference chain a buffer
 * of at least 1 KiB, so a queue of shared messages held in the output
 * evbuffer would cost a kilobyte per message per client whatever the
 * messages' size.  The output holds at most about WS_FEED_HIGH bytes;
 * what comes on top waits in a ring of message references (a pointer
 * each, the messages shared with every other recipient) and is fed to
 * the output as it drains.
 */
#define WS_FEED_HIGH		(64 * 1024)
#define WS_RING_MIN		16		/* first ring allocation */
/* A message's frames: its text, then a header and the bytes per attachment. */
#define WS_IOV_MAX		(1 + 2 * SIO_ATTACHMENTS_MAX)

enum ws_state {
	WS_OPEN,
	WS_CLOSING,	/* our close frame sent, waiting for the peer's */
	WS_DEAD		/* wh_closed scheduled */
};

/*
 * What a websocket needs only while messages back up or once it closes.
 * An idle one (most of them) holds none: it is made on first need, and
 * freed when the ring empties unless the timer was made (then the
 * connection is closing, and it lives as long as wc).
 */
struct ws_more {
	struct event		*wm_ev;		/* deferred close / close wait */
	const char		*wm_reason;	/* for wh_closed */
	/*
	 * Messages waiting for room in the output, oldest first (one ref
	 * each).  They are bounded by max_send_queue (at most 1 GiB, and
	 * the ring itself counts), so 32-bit counts are plenty.
	 */
	struct nsp_msg		**wm_ring;
	size_t			 wm_ring_bytes;	/* their frames' bytes */
	uint32_t		 wm_ring_cap;	/* a power of two, or 0 */
	uint32_t		 wm_ring_head;
	uint32_t		 wm_ring_n;
};

/*
 * One per websocket, idle ones included: the small fields go last, as
 * bytes and a 32-bit limit, so that nothing is padding.
 */
struct ws_conn {
	struct conn		*wc_conn;
	struct ws_parser	 wc_parser;
	const struct ws_handler	*wc_handler;
	void			*wc_arg;
	struct ws_more		*wc_more;	/* NULL while idle */
	uint32_t		 wc_max_send_queue;	/* see ws_accept */
	uint8_t			 wc_state;	/* enum ws_state */
	uint8_t			 wc_reading;	/* inside the read callback */
	uint8_t			 wc_zombie;	/* freed by the owner while reading */
};

unsigned long ws_dropped_slow;

static void	ws_detach(struct ws_conn *);
static void	ws_abort_conn(struct ws_conn *);
static void	ws_read_cb(struct conn *, void *);
static void	ws_closed_cb(struct conn *, void *);
static void	ws_ev_cb(evutil_socket_t, short, void *);

static void	ws_drained_cb(struct conn *, void *);

static const struct conn_proto ws_proto = {
	ws_read_cb, ws_drained_cb, ws_closed_cb
};

/* A frame built once for a Socket.IO message, shared by every recipient. */
struct ws_cache {
	unsigned char	 *wk_text;	/* header + "4..." */
	size_t		  wk_text_len;
	unsigned char	(*wk_hdrs)[WS_HEADER_MAX];	/* per attachment */
	size_t		 *wk_hdr_len;
};

static void
ws_cache_free(void *p)
{
	struct ws_cache *wk = p;

	free(wk->wk_text);
	free(wk->wk_hdrs);
	free(wk->wk_hdr_len);
	free(wk);
}

static struct ws_cache *
ws_cache_get(struct nsp_msg *msg)
{
	struct ws_cache	*wk;
	unsigned char	 hdr[WS_HEADER_MAX];
	size_t		 hlen, i;

	if (msg->nm_tcache != NULL)
		return (msg->nm_tcache);
	wk = xcalloc(1, sizeof(*wk));
	hlen = ws_frame_header(hdr, WS_OP_TEXT, msg->nm_len);
	wk->wk_text = xmalloc(hlen + msg->nm_len);
	memcpy(wk->wk_text, hdr, hlen);
	memcpy(wk->wk_text + hlen, msg->nm_data, msg->nm_len);
	wk->wk_text_len = hlen + msg->nm_len;
	if (msg->nm_nattach > 0) {
		wk->wk_hdrs = xcalloc(msg->nm_nattach, sizeof(*wk->wk_hdrs));
		wk->wk_hdr_len = xcalloc(msg->nm_nattach, sizeof(size_t));
		for (i = 0; i < msg->nm_nattach; i++)
			wk->wk_hdr_len[i] = ws_frame_header(wk->wk_hdrs[i],
			    WS_OP_BINARY, msg->nm_attach[i].sa_len);
	}
	msg->nm_tcache = wk;
	msg->nm_tcache_free = ws_cache_free;
	return (wk);
}

int
ws_upgrade_check(const struct http_request *req, const char **extra)
{
	const struct http_header	*key, *ver;
	char				 accept[WS_ACCEPT_LEN + 1];

	*extra = NULL;
	if (req->hr_method != HTTP_METHOD_GET ||
	    !http_header_has_token(req, "Upgrade", "websocket") ||
	    !req->hr_upgrade)
		return (400);
	ver = http_header_find(req, "Sec-WebSocket-Version");
	if (ver == NULL || ver->hh_valuelen != 2 ||
	    memcmp(ver->hh_value, "13", 2) != 0) {
		*extra = "Sec-WebSocket-Version: 13\r\n";
		return (ver == NULL ? 400 : 426);
	}
	key = http_header_find(req, "Sec-WebSocket-Key");
	if (key == NULL || ws_accept_key(key->hh_value, key->hh_valuelen,
	    accept) == -1)
		return (400);
	return (0);
}

struct ws_conn *
ws_accept(struct conn *c, const struct http_request *req, const char *extra,
    size_t max_payload, size_t max_send_queue, const struct ws_handler *h,
    void *arg)
{
	const struct http_header	*key;
	struct ws_conn			*wc;
	struct evbuffer			*out = conn_output(c);
	char				 accept[WS_ACCEPT_LEN + 1];

	key = http_header_find(req, "Sec-WebSocket-Key");
	if (key == NULL || ws_accept_key(key->hh_value, key->hh_valuelen,
	    accept) == -1)
		return (NULL);
	evbuffer_add_printf(out, "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n%s\r\n", accept,
	    extra != NULL ? extra : "");
	wc = xcalloc(1, sizeof(*wc));
	wc->wc_conn = c;
	ws_parser_init(&wc->wc_parser, max_payload);
	/*
	 * The configuration bounds max_send_queue at 1 GiB; a larger ask
	 * (4 GiB or more, no limit in practice) is held at UINT32_MAX
	 * rather than give every connection a 64-bit field.
	 */
	wc->wc_max_send_queue = max_send_queue > UINT32_MAX ? UINT32_MAX :
	    (uint32_t)max_send_queue;
	wc->wc_handler = h;
	wc->wc_arg = arg;
	conn_takeover(c, &ws_proto, wc);
	return (wc);
}

static struct ws_more *
ws_more(struct ws_conn *wc)
{
	if (wc->wc_more == NULL)
		wc->wc_more = xcalloc(1, sizeof(*wc->wc_more));
	return (wc->wc_more);
}

/* Messages waiting in the ring. */
static uint32_t
ws_ring_n(const struct ws_conn *wc)
{
	return (wc->wc_more != NULL ? wc->wc_more->wm_ring_n : 0);
}

/*
 * The connection's one timer, made on first use (idle ones never need
 * it).  It runs on the connection's loop, so it is made while wc still
 * has its connection: holding the loop as well would cost every idle
 * websocket a pointer.
 */
static struct event *
ws_ev(struct ws_conn *wc)
{
	struct ws_more *wm = ws_more(wc);

	if (wm->wm_ev == NULL &&
	    (wm->wm_ev = evtimer_new(conn_base(wc->wc_conn), ws_ev_cb,
	    wc)) == NULL)
		fatalx("ws: cannot create a timer");
	return (wm->wm_ev);
}

static void
ws_ev_del(struct ws_conn *wc)
{
	if (wc->wc_more != NULL && wc->wc_more->wm_ev != NULL)
		evtimer_del(wc->wc_more->wm_ev);
}

void
ws_rebind(struct ws_conn *wc, const struct ws_handler *h, void *arg)
{
	wc->wc_handler = h;
	wc->wc_arg = arg;
}

/* Free what waits in the ring, the timer and wc->wc_more itself. */
static void
ws_more_free(struct ws_conn *wc)
{
	struct ws_more *wm = wc->wc_more;

	if (wm == NULL)
		return;
	if (wm->wm_ev != NULL)
		event_free(wm->wm_ev);
	while (wm->wm_ring_n > 0) {
		nsp_msg_unref(wm->wm_ring[wm->wm_ring_head]);
		wm->wm_ring_head = (wm->wm_ring_head + 1) & (wm->wm_ring_cap - 1);
		wm->wm_ring_n--;
	}
	free(wm->wm_ring);
	free(wm);
	wc->wc_more = NULL;
}

static void
ws_free(struct ws_conn *wc)
{
	/* The read loop still uses wc: it frees it on its way out. */
	if (wc->wc_reading) {
		wc->wc_zombie = 1;
		ws_ev_del(wc);
		return;
	}
	ws_parser_free(&wc->wc_parser);
	ws_detach(wc);
	ws_more_free(wc);
	free(wc);
}

/* The connection is no longer ours. */
static void
ws_detach(struct ws_conn *wc)
{
	wc->wc_conn = NULL;
}

/* Abort the connection (if any) after letting go of it. */
static void
ws_abort_conn(struct ws_conn *wc)
{
	struct conn *c = wc->wc_conn;

	ws_detach(wc);
	if (c != NULL)
		conn_abort(c);
}

/* Bytes a message's frames take in the output. */
static size_t
ws_msg_bytes(struct nsp_msg *msg)
{
	struct ws_cache	*wk = ws_cache_get(msg);
	size_t		 n = wk->wk_text_len, i;

	for (i = 0; i < msg->nm_nattach; i++)
		n += wk->wk_hdr_len[i] + msg->nm_attach[i].sa_len;
	return (n);
}

static void	ws_append_msg(struct evbuffer *, struct nsp_msg *);

/* Move waiting messages to the output while it has room. */
static void
ws_feed(struct ws_conn *wc, size_t high)
{
	struct ws_more	*wm = wc->wc_more;
	struct evbuffer	*out;
	struct nsp_msg	*msg;

	/* Only when something waits: an output made for nothing is written. */
	if (wc->wc_conn == NULL || wm == NULL || wm->wm_ring_n == 0)
		return;
	out = conn_output(wc->wc_conn);
	while (wm->wm_ring_n > 0 && evbuffer_get_length(out) < high) {
		msg = wm->wm_ring[wm->wm_ring_head];
		wm->wm_ring_head = (wm->wm_ring_head + 1) & (wm->wm_ring_cap - 1);
		wm->wm_ring_n--;
		wm->wm_ring_bytes -= ws_msg_bytes(msg);
		ws_append_msg(out, msg);
		nsp_msg_unref(msg);
	}
	if (wm->wm_ring_n == 0) {
		/* Nothing waits: hold no memory for it. */
		free(wm->wm_ring);
		wm->wm_ring = NULL;
		wm->wm_ring_cap = wm->wm_ring_head = 0;
		if (wm->wm_ev == NULL)
			ws_more_free(wc);
	}
}

/* Let msg wait for room in the output (a reference is taken). */
static void
ws_ring_push(struct ws_conn *wc, struct nsp_msg *msg)
{
	struct ws_more	 *wm = ws_more(wc);
	struct nsp_msg	**ring;
	size_t		  i, cap;

	if (wm->wm_ring_n == wm->wm_ring_cap) {
		cap = wm->wm_ring_cap == 0 ? WS_RING_MIN : wm->wm_ring_cap * 2;
		ring = xcalloc(cap, sizeof(*ring));
		for (i = 0; i < wm->wm_ring_n; i++)
			ring[i] = wm->wm_ring[(wm->wm_ring_head + i) &
			    (wm->wm_ring_cap - 1)];
		free(wm->wm_ring);
		wm->wm_ring = ring;
		wm->wm_ring_cap = cap;
		wm->wm_ring_head = 0;
	}
	wm->wm_ring[(wm->wm_ring_head + wm->wm_ring_n++) & (wm->wm_ring_cap - 1)] =
	    nsp_msg_ref(msg);
	wm->wm_ring_bytes += ws_msg_bytes(msg);
}

/*
 * The connection is over for a reason the owner did not ask for: tell it
 * from the loop, never from inside one of its own calls.  Called before
 * wc lets go of its connection, whose loop the timer is made on.
 */
static void
ws_die(struct ws_conn *wc, const char *reason)
{
	struct timeval tv = { 0, 0 };

	if (wc->wc_state == WS_DEAD)
		return;
	wc->wc_state = WS_DEAD;
	ws_more(wc)->wm_reason = reason;
	evtimer_add(ws_ev(wc), &tv);
}

/* Send a close frame and end the connection once it is written. */
static void
ws_fail(struct ws_conn *wc, int code, const char *reason)
{
	struct conn *c = wc->wc_conn;

	log_info("%s: websocket closed: %s (%d)", conn_peer(c), reason, code);
	ws_close_append(conn_output(c), code, NULL);
	conn_close_after_write(c);
	ws_die(wc, "transport error");
	ws_detach(wc);
}

static void
ws_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ws_conn *wc = arg;

	(void)fd;
	(void)what;
	if (wc->wc_state == WS_DEAD) {
		if (wc->wc_conn != NULL) {
			ws_abort_conn(wc);
		}
		wc->wc_handler->wh_closed(wc->wc_arg, wc->wc_more->wm_reason);
		ws_free(wc);
		return;
	}
	/* WS_CLOSING: the peer never answered our close frame. */
	ws_abort_conn(wc);
	ws_free(wc);
}

static void
ws_read_cb(struct conn *c, void *arg)
{
	struct ws_conn		*wc = arg;
	struct evbuffer		*in = conn_input(c);
	struct ws_event		 ev;
	int			 n;

	for (n = 0; n < WS_MESSAGES_PER_READ && wc->wc_state != WS_DEAD; n++) {
		switch (ws_parser_feed_evbuffer(&wc->wc_parser, in, &ev)) {
		case WS_EV_MORE:
			return;
		case WS_EV_MESSAGE:
			if (wc->wc_state != WS_OPEN)
				break;
			/*
			 * The owner may close or abort us from in here, which
			 * may free the connection too: look at nothing after.
			 */
			wc->wc_reading = 1;
			wc->wc_handler->wh_message(wc->wc_arg,
			    ev.we_opcode == WS_OP_BINARY, ev.we_data, ev.we_len);
			wc->wc_reading = 0;
			if (wc->wc_zombie) {
				ws_free(wc);
				return;
			}
			if (wc->wc_conn == NULL)
				return;
			break;
		case WS_EV_PING:
			if (wc->wc_state == WS_OPEN)
				ws_frame_append(conn_output(c), WS_OP_PONG,
				    ev.we_data, ev.we_len);
			break;
		case WS_EV_PONG:
			break;
		case WS_EV_CLOSE:
			if (wc->wc_state == WS_CLOSING) {
				/* Our close was answered: done. */
				conn_close_after_write(c);
				ws_detach(wc);
				ws_ev_del(wc);
				ws_free(wc);
				return;
			}
			/* Answer with the same code, then close. */
			ws_close_append(conn_output(c), ev.we_code, NULL);
			conn_close_after_write(c);
			ws_die(wc, "transport close");
			ws_detach(wc);
			return;
		case WS_EV_ERROR:
			ws_fail(wc, ev.we_code, ev.we_error);
			return;
		}
	}
	/* More messages are waiting: come back after others had a turn. */
	if (wc->wc_state != WS_DEAD && conn_input_len(c) > 0)
		conn_read_later(c);
}

static void
ws_closed_cb(struct conn *c, void *arg)
{
	struct ws_conn *wc = arg;

	(void)c;
	if (wc->wc_state == WS_CLOSING) {
		ws_detach(wc);
		ws_ev_del(wc);
		ws_free(wc);
		return;
	}
	ws_die(wc, "transport close");
	ws_detach(wc);
}

/* Enforce max_send_queue after queueing; -1 when the client was dropped. */
static int
ws_check_queue(struct ws_conn *wc)
{
	if (ws_queued(wc) <= wc->wc_max_send_queue)
		return (0);
	ws_dropped_slow++;
	stats_inc(STAT_SLOW_DROPS);
	log_warnx("%s: send queue of %zu bytes (%zu messages waiting) over "
	    "max_send_queue %zu: client dropped as a slow reader",
	    conn_peer(wc->wc_conn), ws_queued(wc), (size_t)ws_ring_n(wc),
	    (size_t)wc->wc_max_send_queue);
	ws_die(wc, "transport error");
	ws_abort_conn(wc);
	return (-1);
}

int
ws_send(struct ws_conn *wc, int binary, const void *data, size_t len)
{
	if (wc->wc_state != WS_OPEN || wc->wc_conn == NULL)
		return (-1);
	if (ws_frame_append(conn_output(wc->wc_conn),
	    binary ? WS_OP_BINARY : WS_OP_TEXT, data, len) == -1)
		fatalx("ws: out of memory");
	return (ws_check_queue(wc));
}

static void
ws_msg_unref(const void *data, size_t len, void *arg)
{
	(void)data;
	(void)len;
	nsp_msg_unref(arg);
}

/*
 * msg's frames as an iovec: the text frame, then each attachment's header
 * and bytes.  Returns the number of pieces (at most WS_IOV_MAX).
 */
static int
ws_msg_iov(struct nsp_msg *msg, struct iovec *iov)
{
	struct ws_cache	*wk = ws_cache_get(msg);
	size_t		 i;
	int		 n = 0;

	if (msg->nm_nattach > SIO_ATTACHMENTS_MAX)
		fatalx("ws: a message with %zu attachments", msg->nm_nattach);
	iov[n].iov_base = wk->wk_text;
	iov[n++].iov_len = wk->wk_text_len;
	for (i = 0; i < msg->nm_nattach; i++) {
		iov[n].iov_base = wk->wk_hdrs[i];
		iov[n++].iov_len = wk->wk_hdr_len[i];
		iov[n].iov_base = msg->nm_attach[i].sa_data;
		iov[n++].iov_len = msg->nm_attach[i].sa_len;
	}
	return (n);
}

/*
 * Append msg's frames to out from byte skip on, by reference: the
 * message is shared, and lives until the last recipient wrote it.
 */
static void
ws_append_msg_from(struct evbuffer *out, struct nsp_msg *msg, size_t skip)
{
	struct iovec	iov[WS_IOV_MAX];
	int		i, n = ws_msg_iov(msg, iov);

	for (i = 0; i < n; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		if (iov[i].iov_len - skip > 0 && evbuffer_add_reference(out,
		    (char *)iov[i].iov_base + skip, iov[i].iov_len - skip,
		    ws_msg_unref, nsp_msg_ref(msg)) == -1)
			fatalx("ws: out of memory");
		skip = 0;
	}
}

static void
ws_append_msg(struct evbuffer *out, struct nsp_msg *msg)
{
	ws_append_msg_from(out, msg, 0);
}

int
ws_send_msg(struct ws_conn *wc, struct nsp_msg *msg)
{
	if (wc->wc_state != WS_OPEN || wc->wc_conn == NULL)
		return (-1);
	if (ws_ring_n(wc) == 0 && conn_output_len(wc->wc_conn) == 0) {
		struct iovec	iov[WS_IOV_MAX];
		size_t		total = 0;
		ssize_t		done;
		int		i, n;

		/*
		 * Nothing queued: write now, with no output buffer and no
		 * write event to arm and disarm; only what the socket does
		 * not take is queued.
		 */
		n = ws_msg_iov(msg, iov);
		for (i = 0; i < n; i++)
			total += iov[i].iov_len;
		done = conn_write_direct(wc->wc_conn, iov, n);
		if ((size_t)done == total)
			return (0);	/* nothing queued: within any limit */
		ws_append_msg_from(conn_output(wc->wc_conn), msg, (size_t)done);
	} else if (ws_ring_n(wc) == 0 &&
	    conn_output_len(wc->wc_conn) < WS_FEED_HIGH)
		ws_append_msg(conn_output(wc->wc_conn), msg);
	else
		ws_ring_push(wc, msg);
	return (ws_check_queue(wc));
}

/* The output was written: feed it what waits. */
static void
ws_drained_cb(struct conn *c, void *arg)
{
	(void)c;
	ws_feed(arg, WS_FEED_HIGH);
}

void
ws_close(struct ws_conn *wc, int code, const char *reason)
{
	struct timeval tv = { WS_CLOSE_WAIT_MS / 1000, (WS_CLOSE_WAIT_MS % 1000) * 1000 };

	if (wc->wc_state == WS_DEAD) {
		/* wh_closed is pending: the owner asked first, so cancel it. */
		ws_ev_del(wc);
		ws_abort_conn(wc);
		ws_free(wc);
		return;
	}
	if (wc->wc_conn == NULL) {
		ws_free(wc);
		return;
	}
	/* What waits goes first (it is bounded by max_send_queue). */
	ws_feed(wc, SIZE_MAX);
	ws_close_append(conn_output(wc->wc_conn), code, reason);
	wc->wc_state = WS_CLOSING;
	evtimer_add(ws_ev(wc), &tv);
}

void
ws_abort(struct ws_conn *wc)
{
	ws_ev_del(wc);
	ws_abort_conn(wc);
	ws_free(wc);
}

size_t
ws_queued(const struct ws_conn *wc)
{
	size_t		 n;

	if (wc->wc_conn == NULL)
		return (0);
	/*
	 * What the output holds, and what waits: the messages' bytes (shared
	 * with other recipients, counted whole all the same) and the ring.
	 * Messages go straight to the socket while it takes them, so once
	 * they back up here the kernel's unsent bytes count too: a reader
	 * that stopped reading costs its send buffer as well.
	 */
	n = conn_output_len(wc->wc_conn);
	if (wc->wc_more != NULL)
		n += wc->wc_more->wm_ring_bytes +
		    wc->wc_more->wm_ring_cap * sizeof(*wc->wc_more->wm_ring);
	if (n > 0)
		n += conn_kernel_queued(wc->wc_conn);
	return (n);
}
