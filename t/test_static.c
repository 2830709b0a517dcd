/*
 * test_static.c: static files of components and the client bundle.
 *
 * Every test builds a fresh components tree under a mkdtemp(3) folder,
 * with one component "demo" 1.0 (no handler modules) whose client/ folder
 * holds files of every type in the table, an index, symlinks that stay
 * inside and symlinks that lead out, a FIFO and a hidden file; next to
 * client/ lies a secret that no request may reach.  Requests are parsed
 * from raw bytes with the real HTTP parser, and responses read back from
 * the evbuffer that static_serve wrote into.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <event2/buffer.h>

#include "component.h"
#include "http.h"
#include "log.h"
#include "static.h"

#define EIO_PATH	"/socket.io/"
#define REQ_MAX		8192
#define RESP_HEADERS	32
#define BIG_SIZE	(1024 * 1024 + 17)	/* crosses any chunk size */
#define RAIN_BODY	"var Rain = {};\n"
#define SCRIPT_BODY	"/* socket.io client */\n"
#define INDEX_BODY	"<!DOCTYPE html><title>demo</title>\n"
#define SECRET_BODY	"secret\n"
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static const struct http_limits limits = {
	.hl_max_request_line = REQ_MAX,
	.hl_max_header_size = REQ_MAX,
	.hl_max_headers = 64,
	.hl_max_body_size = 1024,
};

#define ROOT_SIZE	64		/* "/tmp/test_static.XXXXXX" */

static char			 root[ROOT_SIZE];	/* the temp folder */
static struct component_set	*set;
static struct static_ctx	*ctx;

/* One parsed response. */
struct resp {
	int	 served;	/* static_serve's return */
	int	 status;
	char	*head;		/* NUL-terminated copy of the head */
	char	*body;
	size_t	 body_len;
	int	 has_body_len;	/* Content-Length present */
	size_t	 content_length;
};

static void
write_file(const char *rel, const char *data, size_t len)
{
	char	 path[PATH_MAX];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	fp = fopen(path, "wb");
	cr_assert(fp != NULL, "%s", path);
	cr_assert(fwrite(data, 1, len, fp) == len);
	cr_assert(fclose(fp) == 0);
}

static void
write_str(const char *rel, const char *data)
{
	write_file(rel, data, strlen(data));
}

static void
make_dir(const char *rel)
{
	char	path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	cr_assert(mkdir(path, 0755) == 0, "%s", path);
}

static void
make_link(const char *target, const char *rel)
{
	char	path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	cr_assert(symlink(target, path) == 0, "%s", path);
}

static char *
abspath(const char *rel)
{
	static char	path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return (path);
}

static void
setup(void)
{
	const char	*dirs[1];
	char		 err[COMPONENT_ERR_MAX], *big, *rain;
	size_t		 i;

	snprintf(root, sizeof(root), "/tmp/test_static.XXXXXX");
	cr_assert(mkdtemp(root) != NULL);
	make_dir("components");
	make_dir("components/demo");
	write_str("components/demo/meta.json",
	    "{\"id\":\"demo\",\"version\":\"1.0\"}");
	write_str("components/demo/secret.txt", SECRET_BODY);
	write_str("secret.txt", SECRET_BODY);
	make_dir("components/demo/client");
	write_str("components/demo/client/index.html", INDEX_BODY);
	write_str("components/demo/client/app.js", "console.log(1);\n");
	write_str("components/demo/client/app.mjs", "export {};\n");
	write_str("components/demo/client/page.htm", "<p>htm</p>\n");
	write_str("components/demo/client/style.css", "body{}\n");
	write_str("components/demo/client/data.json", "{}\n");
	write_str("components/demo/client/app.js.map", "{}\n");
	write_str("components/demo/client/logo.png", "\x89PNG");
	write_str("components/demo/client/photo.jpg", "jpg");
	write_str("components/demo/client/photo.jpeg", "jpeg");
	write_str("components/demo/client/anim.gif", "GIF89a");
	write_str("components/demo/client/icon.svg", "<svg/>");
	write_str("components/demo/client/favicon.ico", "ico");
	write_str("components/demo/client/pic.webp", "RIFF");
	write_str("components/demo/client/font.woff", "wOFF");
	write_str("components/demo/client/font.woff2", "wOF2");
	write_str("components/demo/client/font.ttf", "ttf");
	write_str("components/demo/client/notes.txt", "notes\n");
	write_str("components/demo/client/mod.wasm", "\0asm");
	write_str("components/demo/client/blob.bin", "bin");
	write_str("components/demo/client/README", "readme");
	write_str("components/demo/client/SHOUT.HTML", "<p>loud</p>");
	write_str("components/demo/client/a b.txt", "space\n");
	write_str("components/demo/client/%41.txt", "percent\n");
	write_str("components/demo/client/.hidden", "hidden\n");
	write_file("components/demo/client/empty.txt", "", 0);
	make_dir("components/demo/client/sub");
	write_str("components/demo/client/sub/index.html", "<p>sub</p>\n");
	make_dir("components/demo/client/noindex");
	write_str("components/demo/client/noindex/file.txt", "file\n");
	make_link("app.js", "components/demo/client/inside.js");
	make_link("sub", "components/demo/client/insidedir");
	make_link("../secret.txt", "components/demo/client/up.txt");
	make_link("../../../secret.txt", "components/demo/client/far.txt");
	make_link("/etc/hostname", "components/demo/client/hostname");
	make_link("/etc", "components/demo/client/etc");
	make_link("..", "components/demo/client/parent");
	make_link(abspath("secret.txt"), "components/demo/client/abs.txt");
	make_dir("components/demo/client/sub/deep");
	make_link("../../index.html", "components/demo/client/sub/deep/back.html");
	cr_assert(mkfifo(abspath("components/demo/client/fifo"), 0644) == 0);

	big = malloc(BIG_SIZE);
	cr_assert(big != NULL);
	for (i = 0; i < BIG_SIZE; i++)
		big[i] = (char)('a' + i % 26);
	write_file("components/demo/client/big.js", big, BIG_SIZE);
	free(big);

	make_dir("npm");
	write_str("npm/socket.io.min.js", SCRIPT_BODY);
	write_str("npm/socket.io.min.js.map", "{\"version\":3}");
	write_str("npm/rain.js", RAIN_BODY);

	dirs[0] = abspath("components");
	set = component_discover(dirs, 1, err, sizeof(err));
	cr_assert(set != NULL, "%s", err);
	cr_assert_eq(set->cs_ncomps, 1);
	/* abspath's answer is a static buffer: one at a time. */
	rain = strdup(abspath("npm/rain.js"));
	cr_assert_not_null(rain);
	ctx = static_new(set, EIO_PATH, abspath("npm/socket.io.min.js"), rain);
	free(rain);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return (remove(path));
}

static void
rm_tree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
teardown(void)
{
	static_free(ctx);
	ctx = NULL;
	if (set != NULL)
		component_set_free(set);
	set = NULL;
	rm_tree(root);
}

/*
 * Send "<method> <target>" with extra header lines through static_serve
 * of sc and parse what it wrote.  The request bytes must outlive the
 * parsed request only during the call.
 */
static struct resp
request_ctx(struct static_ctx *sc, const char *method, const char *target,
    const char *extra, int keepalive)
{
	struct http_parser	 hp;
	struct http_request	 req;
	struct evbuffer		*out;
	struct resp		 r;
	char			 raw[REQ_MAX], *all, *sep, *cl;
	size_t			 len;
	int			 n, status;

	memset(&r, 0, sizeof(r));
	n = snprintf(raw, sizeof(raw), "%s %s HTTP/1.1\r\nHost: x\r\n%s\r\n",
	    method, target, extra != NULL ? extra : "");
	cr_assert(n > 0 && (size_t)n < sizeof(raw));
	http_parser_init(&hp);
	cr_assert(http_parse_head(&hp, &limits, raw, (size_t)n, &req, &status) > 0,
	    "cannot parse %s %s: %d", method, target, status);
	out = evbuffer_new();
	cr_assert(out != NULL);
	r.served = static_serve(sc, &req, out, keepalive);
	len = evbuffer_get_length(out);
	if (!r.served) {
		cr_assert_eq(len, 0, "%s: not served yet %zu bytes written", target, len);
		evbuffer_free(out);
		return (r);
	}
	all = malloc(len + 1);
	cr_assert(all != NULL);
	cr_assert(evbuffer_remove(out, all, len) == (int)len);
	all[len] = '\0';
	evbuffer_free(out);
	sep = strstr(all, "\r\n\r\n");
	cr_assert(sep != NULL, "no end of head: %s", all);
	r.head = strndup(all, (size_t)(sep - all) + 2);
	r.body_len = len - (size_t)(sep + 4 - all);
	r.body = malloc(r.body_len + 1);
	memcpy(r.body, sep + 4, r.body_len);
	r.body[r.body_len] = '\0';
	free(all);
	cr_assert(sscanf(r.head, "HTTP/1.1 %d ", &r.status) == 1, "%s", r.head);
	if ((cl = strcasestr(r.head, "\r\nContent-Length: ")) != NULL) {
		r.has_body_len = 1;
		r.content_length = strtoul(cl + 18, NULL, 10);
	}
	return (r);
}

static struct resp
request(const char *method, const char *target, const char *extra)
{
	return (request_ctx(ctx, method, target, extra, 1));
}

static struct resp
get(const char *target)
{
	return (request("GET", target, NULL));
}

/* The value of header name in r (static buffer), or NULL. */
static const char *
header(const struct resp *r, const char *name)
{
	static char	 value[1024];
	char		 pat[128];
	const char	*p, *e;

	snprintf(pat, sizeof(pat), "\r\n%s: ", name);
	if ((p = strcasestr(r->head, pat)) == NULL)
		return (NULL);
	p += strlen(pat);
	e = strstr(p, "\r\n");
	snprintf(value, sizeof(value), "%.*s", (int)(e - p), p);
	return (value);
}

static void
resp_free(struct resp *r)
{
	free(r->head);
	free(r->body);
}

struct type_vec {
	const char	*path;
	const char	*type;
};

static const struct type_vec type_vecs[] = {
	{ "/demo/1.0/index.html", "text/html; charset=utf-8" },
	{ "/demo/1.0/page.htm", "text/html; charset=utf-8" },
	{ "/demo/1.0/SHOUT.HTML", "text/html; charset=utf-8" },
	{ "/demo/1.0/app.js", "application/javascript; charset=utf-8" },
	{ "/demo/1.0/app.mjs", "application/javascript; charset=utf-8" },
	{ "/demo/1.0/style.css", "text/css; charset=utf-8" },
	{ "/demo/1.0/data.json", "application/json; charset=utf-8" },
	{ "/demo/1.0/app.js.map", "application/json; charset=utf-8" },
	{ "/demo/1.0/notes.txt", "text/plain; charset=utf-8" },
	{ "/demo/1.0/icon.svg", "image/svg+xml; charset=utf-8" },
	{ "/demo/1.0/logo.png", "image/png" },
	{ "/demo/1.0/photo.jpg", "image/jpeg" },
	{ "/demo/1.0/photo.jpeg", "image/jpeg" },
	{ "/demo/1.0/anim.gif", "image/gif" },
	{ "/demo/1.0/favicon.ico", "image/x-icon" },
	{ "/demo/1.0/pic.webp", "image/webp" },
	{ "/demo/1.0/font.woff", "font/woff" },
	{ "/demo/1.0/font.woff2", "font/woff2" },
	{ "/demo/1.0/font.ttf", "font/ttf" },
	{ "/demo/1.0/mod.wasm", "application/wasm" },
	{ "/demo/1.0/blob.bin", "application/octet-stream" },
	{ "/demo/1.0/README", "application/octet-stream" },
	/* The type of what is served: the index, the link's target. */
	{ "/demo/1.0/", "text/html; charset=utf-8" },
	{ "/demo/1.0/inside.js", "application/javascript; charset=utf-8" },
	{ "/demo/1.0/a%20b.txt", "text/plain; charset=utf-8" },
};

/* Paths of ours that must be refused with 404, never revealing a file. */
static const char *const refused_vecs[] = {
	"/demo/1.0/../../etc/passwd",
	"/demo/1.0/../secret.txt",
	"/demo/1.0/sub/../../secret.txt",
	"/demo/1.0/%2e%2e/secret.txt",
	"/demo/1.0/%2E%2E/%2e%2e/%2e%2e/secret.txt",
	"/demo/1.0/..%2fsecret.txt",
	"/demo/1.0/..%2Fsecret.txt",
	"/demo/1.0/sub%2f..%2f..%2fsecret.txt",
	"/demo/1.0/..%5csecret.txt",
	"/demo/1.0/..%5c..%5csecret.txt",
	"/demo/1.0/..\\secret.txt",
	"/demo/1.0/index.html%00",
	"/demo/1.0/index.html%00.png",
	"/demo/1.0/%00",
	"/demo/1.0/index%0a.html",
	"/demo/1.0/./index.html",
	"/demo/1.0/%2e/index.html",
	"/demo/1.0/sub/.",
	"/demo/1.0/.hidden",
	"/demo/1.0/%2ehidden",
	"/demo/1.0//index.html",
	"/demo/1.0/sub//index.html",
	"/demo/1.0/%zz",
	"/demo/1.0/%2",
	"/demo/1.0/index.html%",
	/* Symlinks leading out of client/. */
	"/demo/1.0/up.txt",
	"/demo/1.0/far.txt",
	"/demo/1.0/abs.txt",
	"/demo/1.0/hostname",
	"/demo/1.0/etc/passwd",
	"/demo/1.0/parent/secret.txt",
	"/demo/1.0/parent/",
	/* Decoded once only: "%2e%2e" is a name, not "..". */
	"/demo/1.0/%252e%252e/secret.txt",
	/* Not regular files, not there, not folders. */
	"/demo/1.0/fifo",
	"/demo/1.0/nosuch.js",
	"/demo/1.0/noindex/",
	"/demo/1.0/index.html/",
	"/demo/1.0/app.js/x",
};

/* Paths that are not ours: the caller answers them. */
static const char *const not_ours_vecs[] = {
	"/",
	"/healthz",
	"/demo",
	"/demo/",
	"/demo/2.0/",
	"/demo/2.0/index.html",
	"/other/1.0/",
	"/demo/%2e%2e/secret.txt",
	"/demo/../demo/1.0/index.html",
	"/../demo/1.0/index.html",
	"//demo/1.0/",
	"/demo/1.0%2findex.html",
	"/demo%2f1.0/index.html",
	"/socket.io/",
	"/socket.io/?EIO=4&transport=polling",
	"/socket.io/socket.io.js",
	"/socket.io/socket.io.min%2ejs",
};

static void
free_indices(struct criterion_test_params *crp)
{
	cr_free(crp->params);
}

/*
 * Criterion runs each test in a new process image, where the pointers of
 * this one mean nothing: the parameters are indices into the tables.
 */
static struct criterion_test_params
indices(size_t n)
{
	size_t	*idx, i;

	idx = cr_malloc(n * sizeof(*idx));
	cr_assert_not_null(idx);
	for (i = 0; i < n; i++)
		idx[i] = i;
	return (cr_make_param_array(size_t, idx, n, free_indices));
}

TestSuite(static_files, .init = setup, .fini = teardown);

ParameterizedTestParameters(static_files, content_type)
{
	return (indices(NELEM(type_vecs)));
}

ParameterizedTest(size_t *ip, static_files, content_type)
{
	const struct type_vec	*v = &type_vecs[*ip];
	struct resp		 r = get(v->path);
	const char		*h;

	cr_assert_eq(r.served, 1, "%s", v->path);
	cr_assert_eq(r.status, 200, "%s: %s", v->path, r.head);
	cr_expect_str_eq(header(&r, "Content-Type"), v->type, "%s", v->path);
	h = header(&r, "X-Content-Type-Options");
	cr_expect(h != NULL && strcmp(h, "nosniff") == 0, "%s", v->path);
	h = header(&r, "Cache-Control");
	cr_expect(h != NULL && strcmp(h, "no-cache") == 0, "%s", v->path);
	cr_expect(header(&r, "ETag") != NULL);
	cr_expect(header(&r, "Last-Modified") != NULL);
	cr_expect(r.has_body_len && r.content_length == r.body_len, "%s", v->path);
	resp_free(&r);
}

ParameterizedTestParameters(static_files, refused)
{
	return (indices(NELEM(refused_vecs)));
}

ParameterizedTest(size_t *ip, static_files, refused)
{
	const char	*path = refused_vecs[*ip];
	struct resp	 r = get(path);

	cr_assert_eq(r.served, 1, "%s: not ours", path);
	cr_expect_eq(r.status, 404, "%s: %s", path, r.head);
	cr_expect(strstr(r.body, "secret") == NULL, "%s", path);
	cr_expect(strstr(r.body, "root:") == NULL, "%s", path);
	cr_expect_str_eq(header(&r, "Content-Type"), "text/plain; charset=utf-8");
	resp_free(&r);
}

ParameterizedTestParameters(static_files, not_ours)
{
	return (indices(NELEM(not_ours_vecs)));
}

ParameterizedTest(size_t *ip, static_files, not_ours)
{
	const char	*path = not_ours_vecs[*ip];
	struct resp	 r = get(path);

	cr_expect_eq(r.served, 0, "%s: served with %d", path, r.status);
}

Test(static_files, body_and_length)
{
	struct resp	r = get("/demo/1.0/index.html");

	cr_assert_eq(r.status, 200);
	cr_expect_str_eq(r.body, INDEX_BODY);
	cr_expect_eq(r.content_length, strlen(INDEX_BODY));
	cr_expect(strstr(r.head, "Connection: close") == NULL);
	resp_free(&r);
}

Test(static_files, decoded_once)
{
	struct resp	r;

	r = get("/demo/1.0/%2541.txt");
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(r.body, "percent\n");
	resp_free(&r);
	r = get("/demo/1.0/%41.txt");	/* "A.txt": no such file */
	cr_expect_eq(r.status, 404);
	resp_free(&r);
	r = get("/d%65mo/1.%30/a%20b.txt");
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(r.body, "space\n");
	resp_free(&r);
}

Test(static_files, big_file)
{
	struct resp	r = get("/demo/1.0/big.js");
	size_t		i;

	cr_assert_eq(r.status, 200);
	cr_assert_eq(r.content_length, BIG_SIZE);
	cr_assert_eq(r.body_len, BIG_SIZE);
	for (i = 0; i < BIG_SIZE; i++)
		if (r.body[i] != (char)('a' + i % 26))
			cr_assert_fail("byte %zu differs", i);
	resp_free(&r);
}

Test(static_files, empty_file)
{
	struct resp	r = get("/demo/1.0/empty.txt");

	cr_expect_eq(r.status, 200);
	cr_expect(r.has_body_len);
	cr_expect_eq(r.content_length, 0);
	cr_expect_eq(r.body_len, 0);
	resp_free(&r);
}

Test(static_files, index_html)
{
	struct resp	r;

	r = get("/demo/1.0/");
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(r.body, INDEX_BODY);
	resp_free(&r);
	r = get("/demo/1.0/sub/");
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(r.body, "<p>sub</p>\n");
	resp_free(&r);
	/* A symlink to a folder inside, and one back up that stays inside. */
	r = get("/demo/1.0/insidedir/");
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(r.body, "<p>sub</p>\n");
	resp_free(&r);
	r = get("/demo/1.0/sub/deep/back.html");
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(r.body, INDEX_BODY);
	resp_free(&r);
	/* The query plays no part in finding the file. */
	r = get("/demo/1.0/?transports=websocket");
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(r.body, INDEX_BODY);
	resp_free(&r);
}

Test(static_files, redirect_to_slash)
{
	struct resp	r;

	r = get("/demo/1.0");
	cr_expect_eq(r.served, 1);
	cr_expect_eq(r.status, 301);
	cr_expect_str_eq(header(&r, "Location"), "/demo/1.0/");
	cr_expect(r.has_body_len && r.content_length == r.body_len);
	resp_free(&r);
	r = get("/demo/1.0?transports=polling&x=%20");
	cr_expect_eq(r.status, 301);
	cr_expect_str_eq(header(&r, "Location"), "/demo/1.0/?transports=polling&x=%20");
	resp_free(&r);
	r = get("/demo/1.0/sub");
	cr_expect_eq(r.status, 301);
	cr_expect_str_eq(header(&r, "Location"), "/demo/1.0/sub/");
	resp_free(&r);
	r = request("HEAD", "/demo/1.0", NULL);
	cr_expect_eq(r.status, 301);
	cr_expect_eq(r.body_len, 0);
	resp_free(&r);
}

Test(static_files, head)
{
	struct resp	g = get("/demo/1.0/app.js"), h;

	h = request("HEAD", "/demo/1.0/app.js", NULL);
	cr_assert_eq(h.served, 1);
	cr_expect_eq(h.status, 200);
	cr_expect_eq(h.body_len, 0);
	cr_expect(h.has_body_len);
	cr_expect_eq(h.content_length, g.body_len);
	cr_expect_str_eq(header(&h, "Content-Type"),
	    "application/javascript; charset=utf-8");
	resp_free(&h);
	h = request("HEAD", "/demo/1.0/nosuch", NULL);
	cr_expect_eq(h.status, 404);
	cr_expect_eq(h.body_len, 0);
	resp_free(&h);
	resp_free(&g);
}

Test(static_files, method_not_allowed)
{
	static const char *methods[] = { "POST", "PUT", "DELETE", "OPTIONS", "PATCH" };
	struct resp	r;
	size_t		i;

	for (i = 0; i < NELEM(methods); i++) {
		r = request(methods[i], "/demo/1.0/index.html",
		    strcmp(methods[i], "GET") != 0 ? "Content-Length: 0\r\n" : NULL);
		cr_expect_eq(r.served, 1, "%s", methods[i]);
		cr_expect_eq(r.status, 405, "%s", methods[i]);
		cr_expect_str_eq(header(&r, "Allow"), "GET, HEAD");
		resp_free(&r);
	}
	r = request("POST", "/socket.io/socket.io.min.js", "Content-Length: 0\r\n");
	cr_expect_eq(r.status, 405);
	resp_free(&r);
	/* Not ours whatever the method. */
	r = request("POST", "/other/1.0/x", "Content-Length: 0\r\n");
	cr_expect_eq(r.served, 0);
}

Test(static_files, keepalive_off)
{
	struct resp	r = request_ctx(ctx, "GET", "/demo/1.0/app.js", NULL, 0);

	cr_expect_eq(r.status, 200);
	cr_expect(strstr(r.head, "\r\nConnection: close") != NULL);
	resp_free(&r);
	r = request_ctx(ctx, "GET", "/demo/1.0/nosuch", NULL, 0);
	cr_expect_eq(r.status, 404);
	cr_expect(strstr(r.head, "\r\nConnection: close") != NULL);
	resp_free(&r);
}

/* Send a conditional GET with one header line; return the status. */
static int
conditional(const char *line, struct resp *out)
{
	char		extra[512];
	struct resp	r;

	snprintf(extra, sizeof(extra), "%s\r\n", line);
	r = request("GET", "/demo/1.0/app.js", extra);
	if (out != NULL)
		*out = r;
	else
		resp_free(&r);
	return (r.status);
}

Test(static_files, etag)
{
	struct resp	r = get("/demo/1.0/app.js"), nm;
	struct stat	st;
	char		etag[128], line[512], want[128];

	cr_assert_eq(r.status, 200);
	snprintf(etag, sizeof(etag), "%s", header(&r, "ETag"));
	cr_assert(stat(abspath("components/demo/client/app.js"), &st) == 0);
	snprintf(want, sizeof(want), "\"%llx-%llx\"", (unsigned long long)st.st_size,
	    (unsigned long long)st.st_mtim.tv_sec * 1000000000ULL +
	    (unsigned long long)st.st_mtim.tv_nsec);
	cr_expect_str_eq(etag, want);

	snprintf(line, sizeof(line), "If-None-Match: %s", etag);
	cr_expect_eq(conditional(line, &nm), 304);
	cr_expect_eq(nm.body_len, 0);
	cr_expect(!nm.has_body_len, "a 304 says no length: %s", nm.head);
	cr_expect_str_eq(header(&nm, "ETag"), etag);
	cr_expect(header(&nm, "Last-Modified") != NULL);
	cr_expect_str_eq(header(&nm, "Cache-Control"), "no-cache");
	cr_expect(header(&nm, "Content-Type") == NULL);
	resp_free(&nm);

	snprintf(line, sizeof(line), "If-None-Match: W/%s", etag);
	cr_expect_eq(conditional(line, NULL), 304, "weak comparison");
	snprintf(line, sizeof(line), "If-None-Match: \"nope\", W/\"x-1\" ,%s", etag);
	cr_expect_eq(conditional(line, NULL), 304, "list");
	cr_expect_eq(conditional("If-None-Match: *", NULL), 304);
	cr_expect_eq(conditional("If-None-Match: \"nope\"", NULL), 200);
	cr_expect_eq(conditional("If-None-Match: nope", NULL), 200);
	cr_expect_eq(conditional("If-None-Match: \"unterminated", NULL), 200);
	/* A second If-None-Match header counts too. */
	snprintf(line, sizeof(line), "If-None-Match: \"nope\"\r\nIf-None-Match: %s",
	    etag);
	cr_expect_eq(conditional(line, NULL), 304);

	/* HEAD is conditional as well. */
	snprintf(line, sizeof(line), "If-None-Match: %s\r\n", etag);
	nm = request("HEAD", "/demo/1.0/app.js", line);
	cr_expect_eq(nm.status, 304);
	resp_free(&nm);
	resp_free(&r);
}

Test(static_files, etag_changes_with_the_file)
{
	struct resp		r = get("/demo/1.0/app.js");
	struct timespec		ts[2];
	char			line[512];

	cr_assert_eq(r.status, 200);
	snprintf(line, sizeof(line), "If-None-Match: %s", header(&r, "ETag"));
	write_str("components/demo/client/app.js", "console.log(2);\n");
	/* Same size: only the time tells; move it on explicitly. */
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) + 10;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	cr_assert(utimensat(AT_FDCWD, abspath("components/demo/client/app.js"), ts,
	    0) == 0);
	cr_expect_eq(conditional(line, NULL), 200);
	resp_free(&r);
}

Test(static_files, if_modified_since)
{
	struct resp	r = get("/demo/1.0/app.js");
	char		lm[128], line[512];

	cr_assert_eq(r.status, 200);
	snprintf(lm, sizeof(lm), "%s", header(&r, "Last-Modified"));
	cr_expect_eq(strlen(lm), 29, "%s", lm);

	snprintf(line, sizeof(line), "If-Modified-Since: %s", lm);
	cr_expect_eq(conditional(line, NULL), 304);
	cr_expect_eq(conditional("If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT",
	    NULL), 304);
	cr_expect_eq(conditional("If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT",
	    NULL), 200);
	cr_expect_eq(conditional("If-Modified-Since: yesterday", NULL), 200);
	cr_expect_eq(conditional("If-Modified-Since: Fri, 01 Foo 2100 00:00:00 GMT",
	    NULL), 200);
	cr_expect_eq(conditional("If-Modified-Since: Fri, 01 Jan 2100 25:00:00 GMT",
	    NULL), 200);
	/* If-None-Match takes precedence, even when the date would match. */
	snprintf(line, sizeof(line), "If-None-Match: \"nope\"\r\nIf-Modified-Since: %s",
	    lm);
	cr_expect_eq(conditional(line, NULL), 200);
	resp_free(&r);
}

Test(static_files, client_script)
{
	struct resp	r;

	r = get("/socket.io/socket.io.min.js");
	cr_assert_eq(r.served, 1);
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(header(&r, "Content-Type"),
	    "application/javascript; charset=utf-8");
	cr_expect_str_eq(r.body, SCRIPT_BODY);
	cr_expect_str_eq(header(&r, "X-Content-Type-Options"), "nosniff");
	resp_free(&r);
	/* A query string (cache busting) changes nothing. */
	r = get("/socket.io/socket.io.min.js?v=4.8.1");
	cr_expect_eq(r.status, 200);
	resp_free(&r);
	r = get("/socket.io/socket.io.min.js.map");
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(header(&r, "Content-Type"), "application/json; charset=utf-8");
	resp_free(&r);
	r = request("HEAD", "/socket.io/socket.io.min.js", NULL);
	cr_expect_eq(r.status, 200);
	cr_expect_eq(r.content_length, strlen(SCRIPT_BODY));
	cr_expect_eq(r.body_len, 0);
	resp_free(&r);
}

Test(static_files, rain_script)
{
	struct static_ctx	*sc;
	struct resp		 r;

	r = get("/rain.js");
	cr_assert_eq(r.served, 1);
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(header(&r, "Content-Type"),
	    "application/javascript; charset=utf-8");
	cr_expect_str_eq(r.body, RAIN_BODY);
	cr_expect_not_null(header(&r, "ETag"));
	resp_free(&r);
	r = request("POST", "/rain.js", NULL);
	cr_expect_eq(r.status, 405);
	resp_free(&r);
	/* Only that path: a component cannot be shadowed, nor can it shadow. */
	r = get("/rain.js/x");
	cr_expect_eq(r.served, 0);
	/* rain_script none: /rain.js is not ours; a missing file is a 404. */
	sc = static_new(set, EIO_PATH, NULL, NULL);
	r = request_ctx(sc, "GET", "/rain.js", NULL, 1);
	cr_expect_eq(r.served, 0);
	static_free(sc);
	sc = static_new(set, EIO_PATH, NULL, abspath("npm/nosuch.js"));
	r = request_ctx(sc, "GET", "/rain.js", NULL, 1);
	cr_expect_eq(r.served, 1);
	cr_expect_eq(r.status, 404);
	resp_free(&r);
	static_free(sc);
}

Test(static_files, client_script_conditional)
{
	struct resp	r = get("/socket.io/socket.io.min.js"), c;
	char		line[512];

	snprintf(line, sizeof(line), "If-None-Match: %s\r\n", header(&r, "ETag"));
	c = request("GET", "/socket.io/socket.io.min.js", line);
	cr_expect_eq(c.status, 304);
	cr_expect_eq(c.body_len, 0);
	resp_free(&c);
	resp_free(&r);
}

Test(static_files, client_script_unset)
{
	struct static_ctx	*sc;
	struct resp		 r;

	sc = static_new(set, EIO_PATH, NULL, NULL);
	r = request_ctx(sc, "GET", "/socket.io/socket.io.min.js", NULL, 1);
	cr_expect_eq(r.served, 0);
	/* Components are still served. */
	r = request_ctx(sc, "GET", "/demo/1.0/", NULL, 1);
	cr_expect_eq(r.status, 200);
	resp_free(&r);
	static_free(sc);
}

Test(static_files, client_script_missing)
{
	struct static_ctx	*sc;
	struct resp		 r;

	sc = static_new(set, EIO_PATH, abspath("npm/nosuch.js"), NULL);
	r = request_ctx(sc, "GET", "/socket.io/socket.io.min.js", NULL, 1);
	cr_expect_eq(r.served, 1);
	cr_expect_eq(r.status, 404);
	resp_free(&r);
	r = request_ctx(sc, "GET", "/socket.io/socket.io.min.js.map", NULL, 1);
	cr_expect_eq(r.status, 404);
	resp_free(&r);
	static_free(sc);
	/* A folder is no script either. */
	sc = static_new(set, EIO_PATH, abspath("npm"), NULL);
	r = request_ctx(sc, "GET", "/socket.io/socket.io.min.js", NULL, 1);
	cr_expect_eq(r.status, 404);
	resp_free(&r);
	static_free(sc);
}

Test(static_files, other_eio_path)
{
	struct static_ctx	*sc;
	struct resp		 r;

	sc = static_new(set, "/rt/", abspath("npm/socket.io.min.js"), NULL);
	r = request_ctx(sc, "GET", "/rt/socket.io.min.js", NULL, 1);
	cr_expect_eq(r.status, 200);
	resp_free(&r);
	r = request_ctx(sc, "GET", "/socket.io/socket.io.min.js", NULL, 1);
	cr_expect_eq(r.served, 0);
	static_free(sc);
}

Test(static_files, no_components)
{
	struct static_ctx	*sc;
	struct resp		 r;

	sc = static_new(NULL, EIO_PATH, NULL, NULL);
	r = request_ctx(sc, "GET", "/demo/1.0/", NULL, 1);
	cr_expect_eq(r.served, 0);
	static_free(sc);
}

Test(static_files, no_client_folder)
{
	struct resp	r;

	rm_tree(abspath("components/demo/client"));
	r = get("/demo/1.0/");
	cr_expect_eq(r.served, 1);
	cr_expect_eq(r.status, 404);
	resp_free(&r);
}
