/*
 * tls.c: TLS contexts, TLS bufferevents and the relay for connections
 * whose session lives in another worker.  See tls.h.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "conf.h"
#include "host.h"
#include "log.h"
#include "stats.h"
#include "tls.h"
#include "xmalloc.h"

/* The tls_protocols names and OpenSSL's versions, oldest first. */
static const struct tls_protocol {
	const char	*tp_name;
	int		 tp_version;
} tls_protocols[] = {
	{ "TLSv1.2", TLS1_2_VERSION },
	{ "TLSv1.3", TLS1_3_VERSION },
};

#define TLS_NPROTOCOLS	(sizeof(tls_protocols) / sizeof(tls_protocols[0]))

/*
 * TLS 1.3 tickets sent after a handshake.  One is enough for a client
 * that reconnects now and then; OpenSSL's default of two costs bytes and
 * a little CPU on every connection.
 */
#define TLS_TICKETS		1

/* Prefix of TLS 1.3 suite names, which go to SSL_CTX_set_ciphersuites. */
#define TLS_SUITE_PREFIX	"TLS_"

/* Bytes of a plaintext request read (and dropped) before answering it. */
#define TLS_PLAINTEXT_DRAIN	(64 * 1024)

/* A relay: a TLS client on one side, a socketpair to its session's worker. */
struct tls_relay {
	struct conn_host	*tr_host;
	struct bufferevent	*tr_tls;
	struct bufferevent	*tr_plain;
	struct bufferevent	*tr_flush;	/* closing: the side to write out */
	struct event		*tr_timer;	/* bounds the flush */
	char			 tr_peer[64];
};

/* OpenSSL error e as "library: reason", or the errno text of a system error. */
static const char *
tls_describe(unsigned long e, char *buf, size_t len)
{
	const char *lib, *reason;

	if (ERR_GET_LIB(e) == ERR_LIB_SYS) {
		snprintf(buf, len, "%s", strerror(ERR_GET_REASON(e)));
		return (buf);
	}
	lib = ERR_lib_error_string(e);
	reason = ERR_reason_error_string(e);
	if (reason == NULL)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "%s%s%s", lib != NULL ? lib : "",
		    lib != NULL ? ": " : "", reason);
	return (buf);
}

/*
 * The oldest error on OpenSSL's queue, which says why, then the queue
 * cleared: it is per thread and a stale entry would be taken for the
 * error of the next connection that fails.
 */
static const char *
tls_reason(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		snprintf(buf, len, "unknown error");
	else
		tls_describe(e, buf, len);
	ERR_clear_error();
	return (buf);
}

/*
 * Fill err with "file:line: message" for the line of directive, of the
 * first TLS listener when directive was not written, or the main file.
 * With openssl set, OpenSSL's reason follows the message.  Returns NULL
 * for "return (tls_fail(...));".
 */
static SSL_CTX *
tls_fail(const struct conf *conf, const char *directive, int openssl,
    char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static SSL_CTX *
tls_fail(const struct conf *conf, const char *directive, int openssl,
    char *err, size_t errlen, const char *fmt, ...)
{
	const char	*file = conf->c_path;
	char		 msg[CONF_ERR_MAX], reason[256];
	int		 line = 0;
	size_t		 i;
	va_list		 ap;

	if (directive == NULL ||
	    conf_where(conf, directive, &file, &line) == -1) {
		for (i = 0; i < conf->c_nlisten; i++)
			if (conf->c_listen[i].cl_tls) {
				file = conf->c_listen[i].cl_file;
				line = conf->c_listen[i].cl_line;
				break;
			}
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (openssl)
		tls_reason(reason, sizeof(reason));
	if (line > 0)
		snprintf(err, errlen, "%s:%d: %s%s%s", file, line, msg,
		    openssl ? ": " : "", openssl ? reason : "");
	else
		snprintf(err, errlen, "%s: %s%s%s", file, msg,
		    openssl ? ": " : "", openssl ? reason : "");
	ERR_clear_error();
	return (NULL);
}

int
tls_wanted(const struct conf *conf)
{
	size_t i;

	if (conf->c_tls_certificate != NULL ||
	    conf->c_tls_certificate_key != NULL)
		return (1);
	for (i = 0; i < conf->c_nlisten; i++)
		if (conf->c_listen[i].cl_tls)
			return (1);
	return (0);
}

/* An encrypted key would make OpenSSL ask on the terminal: refuse it. */
static int
tls_no_password(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)arg;
	return (0);
}

/* tls_protocols, empty meaning all of them. */
static int
tls_ctx_protocols(SSL_CTX *ctx, const struct conf *conf, char *err,
    size_t errlen)
{
	const struct conf_strings	*p = &conf->c_tls_protocols;
	int				 min = 0, max = 0, v;
	size_t				 i, j;

	for (i = 0; i < p->cs_n; i++) {
		for (j = 0; j < TLS_NPROTOCOLS; j++)
			if (strcmp(p->cs_v[i], tls_protocols[j].tp_name) == 0)
				break;
		if (j == TLS_NPROTOCOLS) {
			tls_fail(conf, "tls_protocols", 0, err, errlen,
			    "unknown TLS protocol \"%s\"", p->cs_v[i]);
			return (-1);
		}
		v = tls_protocols[j].tp_version;
		if (min == 0 || v < min)
			min = v;
		if (v > max)
			max = v;
	}
	if (p->cs_n == 0) {
		min = tls_protocols[0].tp_version;
		max = tls_protocols[TLS_NPROTOCOLS - 1].tp_version;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, min) ||
	    !SSL_CTX_set_max_proto_version(ctx, max)) {
		tls_fail(conf, "tls_protocols", 1, err, errlen,
		    "cannot set the TLS protocols");
		return (-1);
	}
	return (0);
}

/* Append word to the ':'-separated list at buf, which has room for it. */
static void
tls_list_add(char *buf, size_t *used, const char *word)
{
	size_t len = strlen(word);

	if (*used > 0)
		buf[(*used)++] = ':';
	memcpy(buf + *used, word, len);
	*used += len;
	buf[*used] = '\0';
}

/*
 * tls_ciphers is one OpenSSL cipher string for both protocols: TLS 1.3
 * suites (TLS_AES_128_GCM_SHA256, ...) go to SSL_CTX_set_ciphersuites,
 * the rest to SSL_CTX_set_cipher_list (TLS 1.2).  A protocol that gets
 * none keeps OpenSSL's default.
 */
static int
tls_ctx_ciphers(SSL_CTX *ctx, const struct conf *conf, char *err,
    size_t errlen)
{
	char	*s, *word, *last, *v12, *v13;
	size_t	 len, n12 = 0, n13 = 0;
	int	 rv = -1;

	if (conf->c_tls_ciphers == NULL)
		return (0);
	/* Each list is at most as long as the whole string. */
	len = strlen(conf->c_tls_ciphers) + 1;
	s = xstrdup(conf->c_tls_ciphers);
	v12 = xcalloc(1, len);
	v13 = xcalloc(1, len);
	for (word = strtok_r(s, ": ,", &last); word != NULL;
	    word = strtok_r(NULL, ": ,", &last)) {
		if (strncmp(word, TLS_SUITE_PREFIX,
		    strlen(TLS_SUITE_PREFIX)) == 0)
			tls_list_add(v13, &n13, word);
		else
			tls_list_add(v12, &n12, word);
	}
	if (n12 == 0 && n13 == 0) {
		tls_fail(conf, "tls_ciphers", 0, err, errlen,
		    "tls_ciphers names no cipher");
		goto done;
	}
	if (n12 > 0 && !SSL_CTX_set_cipher_list(ctx, v12)) {
		tls_fail(conf, "tls_ciphers", 1, err, errlen,
		    "tls_ciphers \"%s\"", v12);
		goto done;
	}
	if (n13 > 0 && !SSL_CTX_set_ciphersuites(ctx, v13)) {
		tls_fail(conf, "tls_ciphers", 1, err, errlen,
		    "tls_ciphers \"%s\"", v13);
		goto done;
	}
	rv = 0;
done:
	free(v13);
	free(v12);
	free(s);
	return (rv);
}

/* The extra certificates of tls_chain, after those of tls_certificate. */
static int
tls_ctx_chain(SSL_CTX *ctx, const struct conf *conf, char *err, size_t errlen)
{
	BIO		*bio;
	X509		*x;
	unsigned long	 e;
	int		 n = 0;

	if (conf->c_tls_chain == NULL)
		return (0);
	if ((bio = BIO_new_file(conf->c_tls_chain, "r")) == NULL) {
		tls_fail(conf, "tls_chain", 1, err, errlen, "tls_chain \"%s\"",
		    conf->c_tls_chain);
		return (-1);
	}
	while ((x = PEM_read_bio_X509(bio, NULL, tls_no_password,
	    NULL)) != NULL) {
		if (!SSL_CTX_add0_chain_cert(ctx, x)) {
			X509_free(x);
			BIO_free(bio);
			tls_fail(conf, "tls_chain", 1, err, errlen,
			    "tls_chain \"%s\"", conf->c_tls_chain);
			return (-1);
		}
		n++;
	}
	BIO_free(bio);
	/* The end of the file shows as "no start line". */
	e = ERR_peek_last_error();
	if (n == 0 || ERR_GET_LIB(e) != ERR_LIB_PEM ||
	    ERR_GET_REASON(e) != PEM_R_NO_START_LINE) {
		if (n == 0 && e == 0) {
			tls_fail(conf, "tls_chain", 0, err, errlen,
			    "tls_chain \"%s\": no certificate",
			    conf->c_tls_chain);
			return (-1);
		}
		tls_fail(conf, "tls_chain", 1, err, errlen, "tls_chain \"%s\"",
		    conf->c_tls_chain);
		return (-1);
	}
	ERR_clear_error();
	return (0);
}

/* Certificate, chain and key, and whether they belong together. */
static int
tls_ctx_keys(SSL_CTX *ctx, const struct conf *conf, char *err, size_t errlen)
{
	X509 *x;

	if (!SSL_CTX_use_certificate_chain_file(ctx, conf->c_tls_certificate)) {
		tls_fail(conf, "tls_certificate", 1, err, errlen,
		    "tls_certificate \"%s\"", conf->c_tls_certificate);
		return (-1);
	}
	if (tls_ctx_chain(ctx, conf, err, errlen) == -1)
		return (-1);
	if (!SSL_CTX_use_PrivateKey_file(ctx, conf->c_tls_certificate_key,
	    SSL_FILETYPE_PEM)) {
		tls_fail(conf, "tls_certificate_key", 1, err, errlen,
		    "tls_certificate_key \"%s\"", conf->c_tls_certificate_key);
		return (-1);
	}
	if (!SSL_CTX_check_private_key(ctx)) {
		tls_fail(conf, "tls_certificate_key", 1, err, errlen,
		    "tls_certificate_key \"%s\" does not match tls_certificate "
		    "\"%s\"", conf->c_tls_certificate_key,
		    conf->c_tls_certificate);
		return (-1);
	}
	/* An expired certificate still serves, but say so. */
	if ((x = SSL_CTX_get0_certificate(ctx)) != NULL &&
	    X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
		log_warnx("tls_certificate %s has expired",
		    conf->c_tls_certificate);
	return (0);
}

SSL_CTX *
tls_ctx_new(const struct conf *conf, char *err, size_t errlen)
{
	SSL_CTX	*ctx;
	long	 options;

	ERR_clear_error();
	if (conf->c_tls_certificate == NULL &&
	    conf->c_tls_certificate_key == NULL)
		return (tls_fail(conf, NULL, 0, err, errlen,
		    "a TLS listener needs tls_certificate and "
		    "tls_certificate_key"));
	if (conf->c_tls_certificate_key == NULL)
		return (tls_fail(conf, "tls_certificate", 0, err, errlen,
		    "tls_certificate needs tls_certificate_key"));
	if (conf->c_tls_certificate == NULL)
		return (tls_fail(conf, "tls_certificate_key", 0, err, errlen,
		    "tls_certificate_key needs tls_certificate"));

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		return (tls_fail(conf, "tls_certificate", 1, err, errlen,
		    "cannot create a TLS context"));
	options = SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE;
#ifdef SSL_OP_NO_RENEGOTIATION
	options |= SSL_OP_NO_RENEGOTIATION;
#endif
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	/*
	 * Many clients close without close_notify; with OpenSSL 3 that would
	 * be an error instead of an end of file.  HTTP and WebSocket frame
	 * their own messages, so truncation is detected above TLS anyway.
	 */
	options |= SSL_OP_IGNORE_UNEXPECTED_EOF;
#endif
	SSL_CTX_set_options(ctx, options);
	/*
	 * RELEASE_BUFFERS: an idle connection gives back OpenSSL's buffers.
	 * The other two are what a bufferevent writing from an evbuffer needs.
	 */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/*
	 * A server-side cache would be per worker and find little; tickets
	 * resume sessions on any worker of the generation (see tls.h).
	 */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, TLS_TICKETS);
	SSL_CTX_set_default_passwd_cb(ctx, tls_no_password);

	if (tls_ctx_protocols(ctx, conf, err, errlen) == -1 ||
	    tls_ctx_ciphers(ctx, conf, err, errlen) == -1 ||
	    tls_ctx_keys(ctx, conf, err, errlen) == -1) {
		SSL_CTX_free(ctx);
		return (NULL);
	}
	return (ctx);
}

void
tls_ctx_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}

struct bufferevent *
tls_bufferevent_new(struct event_base *base, int fd, SSL_CTX *ctx)
{
	struct bufferevent	*bev;
	SSL			*ssl;

	if ((ssl = SSL_new(ctx)) == NULL) {
		ERR_clear_error();
		close(fd);
		return (NULL);
	}
	/*
	 * On failure (out of memory) libevent frees ssl, whose socket BIO
	 * closes fd (BEV_OPT_CLOSE_ON_FREE gives it the close flag).
	 */
	bev = bufferevent_openssl_socket_new(base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		ERR_clear_error();
		return (NULL);
	}
	/* A client that just closes is an end of file, not an error. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return (bev);
}

int
tls_is(struct bufferevent *bev)
{
	return (bufferevent_openssl_get_ssl(bev) != NULL);
}

/*
 * Answer a plaintext request on a TLS port.  The socket is written and
 * read directly: OpenSSL gave up on it.  What the client sent is read and
 * dropped first, so that the close is a FIN and not a reset, which could
 * make the client lose the answer.
 */
static void
tls_plaintext_refuse(int fd)
{
	static const char	body[] =
	    "This port speaks HTTPS (TLS), not plain HTTP.\n";
	char			answer[256], buf[4096];
	size_t			total = 0;
	ssize_t			n;
	int			len;

	len = snprintf(answer, sizeof(answer), "HTTP/1.1 400 Bad Request\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
	    sizeof(body) - 1, body);
	while (total < TLS_PLAINTEXT_DRAIN &&
	    (n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		total += (size_t)n;
	if (len < 0 || (size_t)len >= sizeof(answer) ||
	    send(fd, answer, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL) == -1)
		return;
	(void)shutdown(fd, SHUT_WR);
}

int
tls_failed(struct bufferevent *bev, const char *peer)
{
	unsigned long	e, first = 0;
	char		reason[256];

	if (!tls_is(bev))
		return (0);
	/* libevent queued each error of the failed call; the first says why. */
	while ((e = bufferevent_get_openssl_error(bev)) != 0)
		if (first == 0)
			first = e;
	if (first == 0)
		return (0);
	log_info("%s: TLS: %s", peer, tls_describe(first, reason,
	    sizeof(reason)));
	if (ERR_GET_LIB(first) == ERR_LIB_SSL &&
	    ERR_GET_REASON(first) == SSL_R_HTTP_REQUEST)
		tls_plaintext_refuse(bufferevent_getfd(bev));
	return (1);
}

void
tls_close_notify(struct bufferevent *bev)
{
	SSL *ssl;

	if ((ssl = bufferevent_openssl_get_ssl(bev)) == NULL ||
	    SSL_get_quiet_shutdown(ssl) || !SSL_is_init_finished(ssl))
		return;
	/*
	 * The alert goes straight to the nonblocking socket; if it does not
	 * fit, the client sees a plain close, which it must cope with anyway.
	 */
	(void)SSL_shutdown(ssl);
	ERR_clear_error();
}

void
tls_quiet(struct bufferevent *bev)
{
	SSL *ssl;

	if ((ssl = bufferevent_openssl_get_ssl(bev)) != NULL)
		SSL_set_quiet_shutdown(ssl, 1);
}

/*
 * The relay.  Each side's input is moved, as it arrives, to the other
 * side's output.  Memory stays bounded by TLS_RELAY_HIGH per direction:
 * when an output holds that much, the side feeding it is no longer read
 * (TCP pushes back on its sender) until the output's write callback,
 * armed at half of it, says it drained.  When a side closes, what it sent
 * is written to the other side before that one is closed too, within
 * header_timeout.
 */

static struct bufferevent *
tls_relay_other(struct tls_relay *tr, struct bufferevent *bev)
{
	return (bev == tr->tr_tls ? tr->tr_plain : tr->tr_tls);
}

static void
tls_relay_free(struct tls_relay *tr)
{
	struct conn_host *h = tr->tr_host;

	log_debug("%s: relay closed", tr->tr_peer);
	tls_close_notify(tr->tr_tls);
	bufferevent_free(tr->tr_tls);
	bufferevent_free(tr->tr_plain);
	event_free(tr->tr_timer);
	free(tr);
	stats_gauge_add(STAT_G_CONN_RELAY, -1);
	host_conn_closed(h);
}

static void
tls_relay_read_cb(struct bufferevent *src, void *arg)
{
	struct tls_relay	*tr = arg;
	struct bufferevent	*dst = tls_relay_other(tr, src);
	struct evbuffer		*out = bufferevent_get_output(dst);

	if (tr->tr_flush != NULL)
		return;
	if (evbuffer_add_buffer(out, bufferevent_get_input(src)) == -1) {
		log_warnx("%s: relay: out of memory", tr->tr_peer);
		tls_relay_free(tr);
		return;
	}
	if (evbuffer_get_length(out) >= TLS_RELAY_HIGH) {
		bufferevent_disable(src, EV_READ);
		bufferevent_setwatermark(dst, EV_WRITE, TLS_RELAY_HIGH / 2, 0);
	}
}

static void
tls_relay_write_cb(struct bufferevent *dst, void *arg)
{
	struct tls_relay *tr = arg;

	if (tr->tr_flush != NULL) {
		if (dst == tr->tr_flush &&
		    evbuffer_get_length(bufferevent_get_output(dst)) == 0)
			tls_relay_free(tr);
		return;
	}
	/* Drained below the mark: the feeding side may send again. */
	bufferevent_setwatermark(dst, EV_WRITE, 0, 0);
	bufferevent_enable(tls_relay_other(tr, dst), EV_READ);
}

static void
tls_relay_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct tls_relay	*tr = arg;
	struct bufferevent	*dst = tls_relay_other(tr, bev);
	struct timeval		 tv;
	int64_t			 ms;

	if (what & BEV_EVENT_CONNECTED)
		return;
	if ((what & BEV_EVENT_ERROR) || tr->tr_flush != NULL) {
		if ((what & BEV_EVENT_ERROR) && !tls_failed(bev, tr->tr_peer))
			log_debug("%s: relay: %s", tr->tr_peer,
			    strerror(EVUTIL_SOCKET_ERROR()));
		tls_relay_free(tr);
		return;
	}
	/* End of file: the other side gets what is left, then closes. */
	if (evbuffer_add_buffer(bufferevent_get_output(dst),
	    bufferevent_get_input(bev)) == -1 ||
	    evbuffer_get_length(bufferevent_get_output(dst)) == 0) {
		tls_relay_free(tr);
		return;
	}
	tr->tr_flush = dst;
	bufferevent_disable(bev, EV_READ);
	bufferevent_disable(dst, EV_READ);
	bufferevent_setwatermark(dst, EV_WRITE, 0, 0);
	bufferevent_enable(dst, EV_WRITE);
	ms = tr->tr_host->ch_conf->c_header_timeout;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(tr->tr_timer, &tv);
}

static void
tls_relay_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tls_relay *tr = arg;

	(void)fd;
	(void)what;
	log_info("%s: relay: peer does not read: closed", tr->tr_peer);
	tls_relay_free(tr);
}

void
tls_relay(struct conn_host *h, struct bufferevent *tls, int fd, const char *peer)
{
	struct event_base	*base = bufferevent_get_base(tls);
	struct tls_relay	*tr;

	tr = xcalloc(1, sizeof(*tr));
	tr->tr_host = h;
	tr->tr_tls = tls;
	snprintf(tr->tr_peer, sizeof(tr->tr_peer), "%s", peer);
	tr->tr_plain = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	tr->tr_timer = evtimer_new(base, tls_relay_timer_cb, tr);
	if (tr->tr_plain == NULL || tr->tr_timer == NULL) {
		log_warnx("%s: cannot relay", peer);
		if (tr->tr_plain != NULL)
			bufferevent_free(tr->tr_plain);
		else
			close(fd);
		if (tr->tr_timer != NULL)
			event_free(tr->tr_timer);
		bufferevent_free(tls);
		free(tr);
		return;
	}
	host_conn_opened(h);
	stats_gauge_add(STAT_G_CONN_RELAY, 1);
	bufferevent_setwatermark(tls, EV_READ, 0, TLS_RELAY_HIGH);
	bufferevent_setwatermark(tls, EV_WRITE, 0, 0);
	bufferevent_setwatermark(tr->tr_plain, EV_READ, 0, TLS_RELAY_HIGH);
	bufferevent_setcb(tls, tls_relay_read_cb, tls_relay_write_cb,
	    tls_relay_event_cb, tr);
	bufferevent_setcb(tr->tr_plain, tls_relay_read_cb, tls_relay_write_cb,
	    tls_relay_event_cb, tr);
	bufferevent_enable(tls, EV_READ | EV_WRITE);
	bufferevent_enable(tr->tr_plain, EV_READ | EV_WRITE);
	/* Input that came with or behind the handed-over request. */
	if (evbuffer_get_length(bufferevent_get_input(tls)) > 0)
		bufferevent_trigger(tls, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
	log_debug("%s: relayed to another worker", peer);
}
