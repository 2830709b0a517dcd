/*
 * json.c: safe JSON building.  See json.h.
 */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>

#include "json.h"
#include "xmalloc.h"

#define JSON_NUM_MAX		64	/* room for any formatted number */
#define JSON_PLACEHOLDER_FMT	"{\"_placeholder\":true,\"num\":%zu}"

static int	json_err(struct json_buf *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	json_put_value_depth(struct json_buf *, yajl_val,
		    const struct json_attach *, size_t, int);

void
json_buf_init(struct json_buf *jb)
{
	memset(jb, 0, sizeof(*jb));
}

void
json_buf_clear(struct json_buf *jb)
{
	size_t i;

	for (i = 0; i < jb->jb_nattach; i++)
		free(jb->jb_attach[i].ja_data);
	free(jb->jb_attach);
	free(jb->jb_text);
	json_buf_init(jb);
}

struct json_attach *
json_buf_steal_attach(struct json_buf *jb, size_t *n)
{
	struct json_attach *a = jb->jb_attach;

	*n = jb->jb_nattach;
	jb->jb_attach = NULL;
	jb->jb_nattach = 0;
	return (a);
}

static int
json_err(struct json_buf *jb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(jb->jb_err, sizeof(jb->jb_err), fmt, ap);
	va_end(ap);
	return (-1);
}

int
json_put_raw(struct json_buf *jb, const char *s, size_t len)
{
	size_t need;

	if (len > JSON_OUT_MAX - jb->jb_len)
		return (json_err(jb, "JSON text longer than %d bytes", JSON_OUT_MAX));
	need = jb->jb_len + len + 1;
	if (need > jb->jb_cap) {
		size_t cap = jb->jb_cap < 64 ? 64 : jb->jb_cap;

		while (cap < need)
			cap *= 2;
		jb->jb_text = xreallocarray(jb->jb_text, 1, cap);
		jb->jb_cap = cap;
	}
	memcpy(jb->jb_text + jb->jb_len, s, len);
	jb->jb_len += len;
	jb->jb_text[jb->jb_len] = '\0';
	return (0);
}

/* Length of the UTF-8 sequence at s (at most len bytes), 0 when invalid. */
static size_t
json_utf8_seq(const unsigned char *s, size_t len)
{
	uint32_t cp;
	size_t n, i;

	if (s[0] < 0x80)
		return (1);
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else
		return (0);
	if (n > len)
		return (0);
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates and code points past U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return (0);
	return (n);
}

int
json_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;

	while (i < len) {
		if ((n = json_utf8_seq(p + i, len - i)) == 0)
			return (0);
		i += n;
	}
	return (1);
}

int
json_put_string(struct json_buf *jb, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i, start, n;
	char esc[8];

	if (!json_utf8_valid(s, len))
		return (json_err(jb, "string is not valid UTF-8"));
	if (json_put_raw(jb, "\"", 1) == -1)
		return (-1);
	/* Copy runs of plain bytes at once; escape quotes, backslashes and controls. */
	for (i = start = 0; i < len; i++) {
		if (p[i] >= 0x20 && p[i] != '"' && p[i] != '\\')
			continue;
		if (json_put_raw(jb, s + start, i - start) == -1)
			return (-1);
		switch (p[i]) {
		case '"':
			n = (size_t)snprintf(esc, sizeof(esc), "\\\"");
			break;
		case '\\':
			n = (size_t)snprintf(esc, sizeof(esc), "\\\\");
			break;
		case '\n':
			n = (size_t)snprintf(esc, sizeof(esc), "\\n");
			break;
		case '\r':
			n = (size_t)snprintf(esc, sizeof(esc), "\\r");
			break;
		case '\t':
			n = (size_t)snprintf(esc, sizeof(esc), "\\t");
			break;
		default:
			n = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", p[i]);
			break;
		}
		if (json_put_raw(jb, esc, n) == -1)
			return (-1);
		start = i + 1;
	}
	if (json_put_raw(jb, s + start, len - start) == -1)
		return (-1);
	return (json_put_raw(jb, "\"", 1));
}

int
json_is_placeholder(yajl_val v, size_t *num)
{
	yajl_val ph = NULL, n = NULL;
	size_t i;

	if (!YAJL_IS_OBJECT(v) || v->u.object.len != 2)
		return (0);
	for (i = 0; i < v->u.object.len; i++) {
		if (strcmp(v->u.object.keys[i], "_placeholder") == 0)
			ph = v->u.object.values[i];
		else if (strcmp(v->u.object.keys[i], "num") == 0)
			n = v->u.object.values[i];
	}
	if (!YAJL_IS_TRUE(ph) || !YAJL_IS_INTEGER(n) || YAJL_GET_INTEGER(n) < 0)
		return (0);
	if (num != NULL)
		*num = (size_t)YAJL_GET_INTEGER(n);
	return (1);
}

int
json_put_binary(struct json_buf *jb, const void *data, size_t len)
{
	struct json_attach *a;
	char ph[JSON_NUM_MAX];
	int n;

	if (jb->jb_nattach >= JSON_ATTACH_MAX)
		return (json_err(jb, "more than %d binary attachments", JSON_ATTACH_MAX));
	n = snprintf(ph, sizeof(ph), JSON_PLACEHOLDER_FMT, jb->jb_nattach);
	if (json_put_raw(jb, ph, (size_t)n) == -1)
		return (-1);
	jb->jb_attach = xreallocarray(jb->jb_attach, jb->jb_nattach + 1,
	    sizeof(*jb->jb_attach));
	a = &jb->jb_attach[jb->jb_nattach++];
	a->ja_data = xmemdup(data, len);
	a->ja_len = len;
	return (0);
}

static int
json_put_value_depth(struct json_buf *jb, yajl_val v, const struct json_attach *src,
    size_t nsrc, int depth)
{
	const char *s;
	size_t i, num;

	if (depth > JSON_DEPTH_MAX)
		return (json_err(jb, "value nested deeper than %d", JSON_DEPTH_MAX));
	if (v == NULL)
		return (json_put_raw(jb, "null", 4));
	switch (v->type) {
	case yajl_t_string:
		return (json_put_string(jb, v->u.string, strlen(v->u.string)));
	case yajl_t_number:
		s = v->u.number.r;
		return (json_put_raw(jb, s, strlen(s)));
	case yajl_t_true:
		return (json_put_raw(jb, "true", 4));
	case yajl_t_false:
		return (json_put_raw(jb, "false", 5));
	case yajl_t_null:
		return (json_put_raw(jb, "null", 4));
	case yajl_t_array:
		if (json_put_raw(jb, "[", 1) == -1)
			return (-1);
		for (i = 0; i < v->u.array.len; i++) {
			if (i > 0 && json_put_raw(jb, ",", 1) == -1)
				return (-1);
			if (json_put_value_depth(jb, v->u.array.values[i], src, nsrc,
			    depth + 1) == -1)
				return (-1);
		}
		return (json_put_raw(jb, "]", 1));
	case yajl_t_object:
		if (src != NULL && json_is_placeholder(v, &num)) {
			if (num >= nsrc)
				return (json_err(jb, "placeholder %zu without attachment", num));
			return (json_put_binary(jb, src[num].ja_data, src[num].ja_len));
		}
		if (json_put_raw(jb, "{", 1) == -1)
			return (-1);
		for (i = 0; i < v->u.object.len; i++) {
			s = v->u.object.keys[i];
			if (i > 0 && json_put_raw(jb, ",", 1) == -1)
				return (-1);
			if (json_put_string(jb, s, strlen(s)) == -1 ||
			    json_put_raw(jb, ":", 1) == -1)
				return (-1);
			if (json_put_value_depth(jb, v->u.object.values[i], src, nsrc,
			    depth + 1) == -1)
				return (-1);
		}
		return (json_put_raw(jb, "}", 1));
	default:
		return (json_err(jb, "unknown JSON value type %d", (int)v->type));
	}
}

int
json_put_value(struct json_buf *jb, yajl_val v, const struct json_attach *src, size_t nsrc)
{
	return (json_put_value_depth(jb, v, src, nsrc, 0));
}

int
json_valid(const char *s, size_t len, enum json_fmt_mode mode)
{
	yajl_handle h;
	int ok = 0;

	if ((h = yajl_alloc(NULL, NULL, NULL)) == NULL)
		return (0);
	if (mode == JSON_FMT_LIST && yajl_parse(h, (const unsigned char *)"[", 1) != yajl_status_ok)
		goto done;
	if (yajl_parse(h, (const unsigned char *)s, len) != yajl_status_ok)
		goto done;
	if (mode == JSON_FMT_LIST && yajl_parse(h, (const unsigned char *)"]", 1) != yajl_status_ok)
		goto done;
	ok = yajl_complete_parse(h) == yajl_status_ok;
 done:
	yajl_free(h);
	return (ok);
}
