/*
 * routes.c: the worker's sites.  See routes.h.
 */
#include "config.h"

#include <sys/types.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "conf.h"
#include "conn.h"
#include "eio.h"
#include "http.h"
#include "log.h"
#include "publish.h"
#include "routes.h"
#include "static.h"
#include "stats.h"
#include "worker.h"

#define ROUTES_GET_HEAD	(CONN_METHOD(HTTP_METHOD_GET) | CONN_METHOD(HTTP_METHOD_HEAD))

static void
route_healthz(void *arg, struct conn *c, const struct http_request *req,
    const char *body, size_t bodylen)
{
	struct worker	*w = arg;
	char		 json[256];
	int		 n;

	(void)body;
	(void)bodylen;
	n = snprintf(json, sizeof(json),
	    "{\"pid\":%ld,\"slot\":%d,\"generation\":%u,\"connections\":%zu}",
	    (long)getpid(), w->w_slot, w->w_generation, w->w_host.ch_nconns);
	if (req->hr_method == HTTP_METHOD_HEAD) {
		http_response_head(conn_output(c), 200,
		    "Content-Type: application/json\r\n", n, conn_keepalive(c));
		return;
	}
	http_response(conn_output(c), 200, "application/json", NULL, json,
	    (size_t)n, conn_keepalive(c));
}

/* The whole node's counters (stats.h), in the Prometheus text format. */
static void
route_metrics(void *arg, struct conn *c, const struct http_request *req,
    const char *body, size_t bodylen)
{
	struct evbuffer	*text, *out = conn_output(c);

	(void)arg;
	(void)body;
	(void)bodylen;
	if ((text = evbuffer_new()) == NULL)
		fatalx("metrics: out of memory");
	stats_format(text);
	http_response_head(out, 200, "Content-Type: " STATS_CONTENT_TYPE "\r\n",
	    (int64_t)evbuffer_get_length(text), conn_keepalive(c));
	if (req->hr_method != HTTP_METHOD_HEAD)
		evbuffer_add_buffer(out, text);
	evbuffer_free(text);
}

static int
route_eio_match(void *arg, const struct http_request *req)
{
	return (eio_path_match(((struct worker *)arg)->w_eio, req));
}

static int
route_eio_head(void *arg, struct conn *c, const struct http_request *req)
{
	return (eio_head(((struct worker *)arg)->w_eio, c, req) == EIO_HEAD_DONE ?
	    CONN_HEAD_DONE : CONN_HEAD_BODY);
}

/* Engine.IO, and the official client bundle under its path as the Node server has it. */
static void
route_eio(void *arg, struct conn *c, const struct http_request *req,
    const char *body, size_t bodylen)
{
	struct worker	*w = arg;
	size_t		 plen = strlen(w->w_conf->c_eio_path);

	if (req->hr_path_len == plen + strlen(EIO_CLIENT_SCRIPT) &&
	    memcmp(req->hr_path + plen, EIO_CLIENT_SCRIPT,
	    strlen(EIO_CLIENT_SCRIPT)) == 0 &&
	    static_serve(w->w_static, req, conn_output(c), conn_keepalive(c)))
		return;
	eio_request(w->w_eio, c, req, body, bodylen);
}

static int
route_any(void *arg, const struct http_request *req)
{
	(void)arg;
	(void)req;
	return (1);
}

/* The components' client files; what they do not have is a 404. */
static void
route_static(void *arg, struct conn *c, const struct http_request *req,
    const char *body, size_t bodylen)
{
	struct worker		*w = arg;
	static const char	 notfound[] = "404 Not Found\n";

	(void)body;
	(void)bodylen;
	if (static_serve(w->w_static, req, conn_output(c), conn_keepalive(c)))
		return;
	http_response(conn_output(c), 404, "text/plain; charset=utf-8", NULL,
	    notfound, sizeof(notfound) - 1, conn_keepalive(c));
}

void
routes_build(struct worker *w)
{
	struct worker_sites	*s = &w->w_sites;
	const struct conn_route	 healthz = { .cr_path = "/healthz",
	    .cr_methods = ROUTES_GET_HEAD, .cr_allow = "GET, HEAD",
	    .cr_request = route_healthz, .cr_arg = w };
	const struct conn_route	 metrics = { .cr_path = "/metrics",
	    .cr_methods = ROUTES_GET_HEAD, .cr_allow = "GET, HEAD",
	    .cr_request = route_metrics, .cr_arg = w };
	const struct conn_route	 eio = { .cr_match = route_eio_match,
	    .cr_head = route_eio_head, .cr_flush = 1, .cr_request = route_eio,
	    .cr_arg = w };
	const struct conn_route	 files = { .cr_match = route_any,
	    .cr_request = route_static, .cr_arg = w };
	const struct conn_route	 publish = { .cr_path = PUBLISH_PATH,
	    .cr_methods = CONN_METHOD(HTTP_METHOD_POST), .cr_allow = "POST",
	    .cr_head = publish_head, .cr_request = publish_request,
	    .cr_arg = w->w_publish };

	memset(s, 0, sizeof(*s));
	s->ws_public.cs_name = "public";
	conn_site_add(&s->ws_public, &healthz);
	/* With metrics_listen set, the public port does not answer /metrics. */
	if (!conf_has_listen_kind(w->w_conf, CONF_LISTEN_METRICS))
		conn_site_add(&s->ws_public, &metrics);
	conn_site_add(&s->ws_public, &eio);
	conn_site_add(&s->ws_public, &files);

	s->ws_metrics.cs_name = "metrics";
	conn_site_add(&s->ws_metrics, &metrics);
	conn_site_add(&s->ws_metrics, &healthz);

	s->ws_admin.cs_name = "admin";
	s->ws_admin.cs_error = publish_http_error;
	if (w->w_publish != NULL)
		conn_site_add(&s->ws_admin, &publish);
	conn_site_add(&s->ws_admin, &healthz);
}
