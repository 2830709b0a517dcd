/*
 * static.h: static files of components and the Socket.IO client bundle.
 *
 * A component's client/ folder is served under /<id>/<version>/:
 *
 *	/chat/1.0/		-> <chat>/client/index.html
 *	/chat/1.0/app/main.js	-> <chat>/client/app/main.js
 *	/chat/1.0		-> 301 to /chat/1.0/ (relative links need it)
 *
 * The RAIN client helper named by the directive rain_script is served at
 * /rain.js (STATIC_RAIN_PATH).
 *
 * Like the Node server's serveClient, the official client bundle named by
 * the directive client_script is served at <path>socket.io.min.js (path
 * being the Engine.IO endpoint), and its source map, when one lies next
 * to it, at <path>socket.io.min.js.map.  Every other path under the
 * Engine.IO endpoint is left to Engine.IO, so a component can never
 * shadow it.
 *
 * The path is percent-decoded once and split into segments.  A request is
 * answered 404, whether or not the file exists, when a segment holds a
 * NUL or other control byte, a backslash or an encoded slash, is "." or
 * "..", starts with a dot (hidden files are not served, as in the Node
 * world's serve-static), or when the file resolves (realpath) outside the
 * client folder, e.g. through a symlink.  Only regular files are served;
 * a directory is served by its index.html (a request without the
 * trailing slash is redirected to it).
 *
 * Responses carry Content-Type (by extension), ETag ("size-mtime" in
 * hex), Last-Modified, "Cache-Control: no-cache" (the browser revalidates
 * each time, cheaply thanks to the validators) and
 * "X-Content-Type-Options: nosniff".  If-None-Match (weak comparison, "*"
 * and lists) takes precedence over If-Modified-Since; a match is answered
 * 304 without a body.  Bodies go out with evbuffer_add_file (sendfile(2)
 * where the output allows it), never read whole into memory.  Reading
 * happens on the worker's event loop, which is fine for the small files
 * of a web client on a local disk.
 *
 * Ownership: static_new copies eio_path and client_script; the component
 * set is borrowed and must outlive the context (a worker frees its
 * context before the set it inherited).  One context per worker; it is
 * used on the worker's event-loop thread only.
 */
#ifndef RAIND_STATIC_H
#define RAIND_STATIC_H

struct component_set;
struct evbuffer;
struct http_request;

/* The file name of the client bundle under the Engine.IO endpoint. */
#define STATIC_CLIENT_NAME	"socket.io.min.js"
/* Where rain_script is served. */
#define STATIC_RAIN_PATH	"/rain.js"
/* Its source map, looked for next to the client_script file. */
#define STATIC_CLIENT_MAP_SUFFIX	".map"

struct static_ctx;

/*
 * set may be NULL (no components); eio_path is the Engine.IO endpoint
 * with both slashes ("/socket.io/"); client_script is the bundle's file,
 * or NULL when the directive is "none" (then the bundle's path is not
 * ours and Engine.IO answers it); rain_script is rain.js, or NULL (then
 * /rain.js is left to the caller's routing, a 404).
 */
struct static_ctx	*static_new(const struct component_set *set,
			    const char *eio_path, const char *client_script,
			    const char *rain_script);
void			 static_free(struct static_ctx *);

/*
 * If req is for a static file (a component's client file or the client
 * bundle), append the whole response to out (with keepalive as given:
 * "Connection: close" when 0) and return 1; return 0 when the path is not
 * ours, so that the caller goes on routing (404 etc.).  Only GET and HEAD
 * are served; other methods get 405 with "Allow: GET, HEAD".  Under the
 * Engine.IO endpoint only <path>socket.io.min.js and its ".map" can be
 * ours, so the caller may either call this before its Engine.IO routing
 * (every other path there returns 0 at once) or from it for those names.
 */
int			 static_serve(struct static_ctx *, const struct http_request *req,
			    struct evbuffer *out, int keepalive);

#endif
