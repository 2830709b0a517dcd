/*
 * fuzz_http.c: the HTTP request-head parser.
 *
 * Besides memory errors, this looks for logic errors: the answer for a
 * buffer must not depend on how its bytes arrived.  Each input is parsed
 * in one go, in two reads split where the first byte says, and one byte
 * at a time; the three must agree, and a success must describe bytes
 * inside the head.  Both typical limits and tiny ones (so that short
 * inputs reach every limit) are tried.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

/* Inputs are copied to a buffer of their exact size for ASan to guard. */
#define FUZZ_INPUT_MAX	(2 * HTTP_HEAD_MAX)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const struct http_limits fuzz_limits[] = {
	{	/* typical */
		.hl_max_request_line = 8192,
		.hl_max_header_size = 16384,
		.hl_max_headers = 100,
		.hl_max_body_size = 1024 * 1024,
	},
	{	/* tiny */
		.hl_max_request_line = 24,
		.hl_max_header_size = 96,
		.hl_max_headers = 3,
		.hl_max_body_size = 10,
	},
};

static struct http_request	fuzz_req[3];

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)

/* Does p..p+len lie inside buf[0..head)? */
static int
inside(const char *buf, size_t head, const char *p, size_t len)
{
	return (p >= buf && p <= buf + head && len <= head &&
	    (size_t)(p - buf) <= head - len);
}

static void
check_request(const char *buf, size_t len, int r,
    const struct http_limits *hl, const struct http_request *req)
{
	const struct http_header	*hh;
	const char			*v;
	size_t				 i, head = (size_t)r, vlen;

	CHECK(r > 0 && head <= len);
	CHECK(head <= hl->hl_max_header_size && head <= HTTP_HEAD_MAX);
	CHECK(req->hr_head_len == head);
	CHECK(buf[head - 1] == '\n');
	CHECK(req->hr_version == 10 || req->hr_version == 11);
	CHECK(req->hr_nheaders <= hl->hl_max_headers);
	CHECK(req->hr_content_length >= -1 &&
	    req->hr_content_length <= (int64_t)hl->hl_max_body_size);
	CHECK(req->hr_keepalive == 0 || req->hr_keepalive == 1);
	CHECK(req->hr_upgrade == 0 || req->hr_upgrade == 1);
	CHECK(req->hr_method_len > 0);
	CHECK(inside(buf, head, req->hr_method_str, req->hr_method_len));
	CHECK(req->hr_target_len > 0);
	CHECK(inside(buf, head, req->hr_target, req->hr_target_len));
	CHECK(req->hr_target_len <= hl->hl_max_request_line);
	/* The path is in the target, or the static "/" of absolute-form. */
	CHECK(req->hr_path_len > 0);
	CHECK(inside(req->hr_target, req->hr_target_len, req->hr_path,
	    req->hr_path_len) || (req->hr_path_len == 1 &&
	    req->hr_path[0] == '/'));
	if (req->hr_query != NULL)
		CHECK(inside(req->hr_target, req->hr_target_len,
		    req->hr_query, req->hr_query_len));
	for (i = 0; i < req->hr_nheaders; i++) {
		hh = &req->hr_headers[i];
		CHECK(hh->hh_namelen > 0);
		CHECK(inside(buf, head, hh->hh_name, hh->hh_namelen));
		CHECK(inside(buf, head, hh->hh_value, hh->hh_valuelen));
		CHECK(memchr(hh->hh_value, '\n', hh->hh_valuelen) == NULL);
		CHECK(http_header_find(req, "") == NULL);
	}
	if (req->hr_version == 11)
		CHECK(http_header_find(req, "host") != NULL);
	CHECK(req->hr_upgrade ==
	    http_header_has_token(req, "connection", "UPGRADE"));
	v = http_query_param(req, "EIO", &vlen);
	if (v != NULL)
		CHECK(inside(req->hr_query, req->hr_query_len, v, vlen));
}

static void
check_same(const char *a, const struct http_request *ra, const char *b,
    const struct http_request *rb)
{
	size_t	i;

	CHECK(ra->hr_method == rb->hr_method);
	CHECK(ra->hr_method_str - a == rb->hr_method_str - b);
	CHECK(ra->hr_target - a == rb->hr_target - b);
	CHECK(ra->hr_target_len == rb->hr_target_len);
	CHECK(ra->hr_path_len == rb->hr_path_len);
	CHECK(memcmp(ra->hr_path, rb->hr_path, ra->hr_path_len) == 0);
	CHECK((ra->hr_query == NULL) == (rb->hr_query == NULL));
	if (ra->hr_query != NULL)
		CHECK(ra->hr_query - a == rb->hr_query - b &&
		    ra->hr_query_len == rb->hr_query_len);
	CHECK(ra->hr_version == rb->hr_version);
	CHECK(ra->hr_nheaders == rb->hr_nheaders);
	for (i = 0; i < ra->hr_nheaders; i++) {
		CHECK(ra->hr_headers[i].hh_name - a ==
		    rb->hr_headers[i].hh_name - b);
		CHECK(ra->hr_headers[i].hh_value - a ==
		    rb->hr_headers[i].hh_value - b);
		CHECK(ra->hr_headers[i].hh_valuelen ==
		    rb->hr_headers[i].hh_valuelen);
	}
	CHECK(ra->hr_head_len == rb->hr_head_len);
	CHECK(ra->hr_content_length == rb->hr_content_length);
	CHECK(ra->hr_keepalive == rb->hr_keepalive);
	CHECK(ra->hr_upgrade == rb->hr_upgrade);
}

static void
check_status(int r, int status)
{
	static const int	known[] = { 400, 411, 413, 414, 431, 501, 505 };
	size_t			i;

	if (r != HTTP_PARSE_ERROR)
		return;
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (status == known[i])
			return;
	abort();
}

static void
fuzz_one(const struct http_limits *hl, const char *buf, size_t len,
    size_t split)
{
	struct http_parser	hp;
	size_t			n;
	int			r1, r2, r3, s1 = 0, s2 = 0, s3 = 0;

	/* One read. */
	http_parser_init(&hp);
	r1 = http_parse_head(&hp, hl, buf, len, &fuzz_req[0], &s1);
	check_status(r1, s1);
	if (r1 > 0)
		check_request(buf, len, r1, hl, &fuzz_req[0]);

	/* Two reads. */
	http_parser_init(&hp);
	r2 = http_parse_head(&hp, hl, buf, split, &fuzz_req[1], &s2);
	if (r2 == HTTP_PARSE_MORE)
		r2 = http_parse_head(&hp, hl, buf, len, &fuzz_req[1], &s2);
	CHECK(r2 == r1);
	if (r1 == HTTP_PARSE_ERROR)
		CHECK(s2 == s1);
	else if (r1 > 0)
		check_same(buf, &fuzz_req[0], buf, &fuzz_req[1]);

	/* A byte at a time: more until the deciding prefix, then the same. */
	http_parser_init(&hp);
	r3 = HTTP_PARSE_MORE;
	for (n = 1; n <= len && r3 == HTTP_PARSE_MORE; n++) {
		r3 = http_parse_head(&hp, hl, buf, n, &fuzz_req[2], &s3);
		CHECK(hp.hp_scanned <= n);
	}
	CHECK(r3 == r1);
	if (r1 == HTTP_PARSE_ERROR)
		CHECK(s3 == s1);
	else if (r1 > 0)
		check_same(buf, &fuzz_req[0], buf, &fuzz_req[2]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*buf;
	size_t	 i, split;

	if (size == 0 || size > FUZZ_INPUT_MAX)
		return (0);
	buf = malloc(size);
	if (buf == NULL)
		return (0);
	memcpy(buf, data, size);
	/* The first byte picks the split point, scaled to the input. */
	split = (size_t)data[0] * size / 255;
	for (i = 0; i < sizeof(fuzz_limits) / sizeof(fuzz_limits[0]); i++)
		fuzz_one(&fuzz_limits[i], buf, size, split);
	free(buf);
	return (0);
}
