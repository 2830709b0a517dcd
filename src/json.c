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

/* Append a number printed with snprintf. */
static int
json_put_number(struct json_buf *jb, const char *fmt, ...)
{
	char num[JSON_NUM_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(num, sizeof(num), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(num))
		return (json_err(jb, "number too long"));
	return (json_put_raw(jb, num, (size_t)n));
}

/*
 * Drop the comma that separated an argument list expansion (%A) that
 * turned out empty: the one before it in the output, or else the next one
 * in the format (*skip).
 */
static void
json_drop_comma(struct json_buf *jb, size_t start, int *skip)
{
	size_t i = jb->jb_len;

	while (i > start && (jb->jb_text[i - 1] == ' ' || jb->jb_text[i - 1] == '\t' ||
	    jb->jb_text[i - 1] == '\n'))
		i--;
	if (i > start && jb->jb_text[i - 1] == ',') {
		jb->jb_len = i - 1;
		jb->jb_text[jb->jb_len] = '\0';
	} else
		*skip = 1;
}

int
json_vformat(struct json_buf *jb, enum json_fmt_mode mode, const char *fmt,
    va_list *ap, json_ext_fn ext, void *arg)
{
	size_t start = jb->jb_len, start_attach = jb->jb_nattach, before, i;
	const char *p, *s;
	yajl_val v;
	const void *bin;
	size_t binlen;
	double d;
	int skip = 0, rc = 0, simple = 1, want_value = 1, in_str = 0, esc = 0;
	int after_conv = 0;

	jb->jb_err[0] = '\0';
	if (fmt == NULL)
		fmt = mode == JSON_FMT_LIST ? "" : "null";
	for (p = fmt; *p != '\0' && rc == 0; p++) {
		if (*p != '%') {
			if (skip && (*p == ' ' || *p == '\t' || *p == '\n'))
				continue;
			if (skip && *p == ',') {
				skip = 0;
				after_conv = 0;
				continue;
			}
			skip = 0;
			/* White space between tokens is left out: the wire is compact. */
			if (in_str) {
				if (esc)
					esc = 0;
				else if (*p == '\\')
					esc = 1;
				else if (*p == '"')
					in_str = 0;
			} else if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
				continue;
			else if (*p == '"')
				in_str = 1;
			/*
			 * "%s, %d" is valid by construction; any other literal
			 * text is checked as a whole at the end.
			 */
			if (*p == ',' && !want_value && !in_str)
				want_value = 1;
			else
				simple = 0;
			after_conv = 0;
			rc = json_put_raw(jb, p, 1);
			continue;
		}
		/* "%d%d" would make one number of two: say so instead. */
		if (after_conv && p[1] != '%') {
			rc = json_err(jb, "two conversions without a separator");
			break;
		}
		after_conv = p[1] != '%';
		skip = 0;
		if (!want_value || in_str)
			simple = 0;
		want_value = 0;
		before = jb->jb_len;
		switch (*++p) {
		case 's':
			s = va_arg(*ap, const char *);
			rc = s == NULL ? json_put_raw(jb, "null", 4) :
			    json_put_string(jb, s, strlen(s));
			break;
		case 'd':
		case 'i':
			rc = json_put_number(jb, "%d", va_arg(*ap, int));
			break;
		case 'u':
			rc = json_put_number(jb, "%u", va_arg(*ap, unsigned int));
			break;
		case 'l':
			if (p[1] == 'l' && (p[2] == 'd' || p[2] == 'i')) {
				rc = json_put_number(jb, "%lld", va_arg(*ap, long long));
				p += 2;
			} else if (p[1] == 'l' && p[2] == 'u') {
				rc = json_put_number(jb, "%llu", va_arg(*ap, unsigned long long));
				p += 2;
			} else if (p[1] == 'd' || p[1] == 'i') {
				rc = json_put_number(jb, "%ld", va_arg(*ap, long));
				p++;
			} else if (p[1] == 'u') {
				rc = json_put_number(jb, "%lu", va_arg(*ap, unsigned long));
				p++;
			} else
				rc = json_err(jb, "bad conversion in format");
			break;
		case 'z':
			if (p[1] == 'u') {
				rc = json_put_number(jb, "%zu", va_arg(*ap, size_t));
				p++;
			} else
				rc = json_err(jb, "bad conversion in format");
			break;
		case 'g':
			d = va_arg(*ap, double);
			rc = isfinite(d) ? json_put_number(jb, "%.17g", d) :
			    json_put_raw(jb, "null", 4);
			break;
		case 'b':
			rc = va_arg(*ap, int) ? json_put_raw(jb, "true", 4) :
			    json_put_raw(jb, "false", 5);
			break;
		case 'j':
			s = va_arg(*ap, const char *);
			rc = json_put_raw(jb, s == NULL ? "null" : s, s == NULL ? 4 : strlen(s));
			simple = 0;
			break;
		case 'v':
			v = va_arg(*ap, yajl_val);
			rc = json_put_value(jb, v, NULL, 0);
			break;
		case 'B':
			bin = va_arg(*ap, const void *);
			binlen = va_arg(*ap, size_t);
			rc = json_put_binary(jb, bin, binlen);
			break;
		case 'a':
		case 'A':
			if (ext == NULL) {
				rc = json_err(jb, "%%%c is not available here", *p);
				break;
			}
			rc = ext(jb, *p, ap, arg);
			if (rc == 0 && *p == 'A' && jb->jb_len == before) {
				json_drop_comma(jb, start, &skip);
				simple = 0;
			}
			break;
		case '%':
			rc = json_put_raw(jb, "%", 1);
			simple = 0;
			break;
		default:
			rc = json_err(jb, "bad conversion in format");
			break;
		}
		if (*p == '\0')
			break;
	}
	if (rc == 0 && want_value && jb->jb_len > start)
		simple = 0;	/* a trailing comma */
	if (rc == 0 && mode == JSON_FMT_VALUE && jb->jb_len == start)
		rc = json_err(jb, "format gives no value");
	if (rc == 0 && (!simple || mode == JSON_FMT_VALUE) &&
	    !json_valid(jb->jb_text + start, jb->jb_len - start, mode))
		rc = json_err(jb, "format \"%.64s\" does not give valid JSON", fmt);
	if (rc == -1) {
		/* Leave the buffer as it was. */
		for (i = start_attach; i < jb->jb_nattach; i++)
			free(jb->jb_attach[i].ja_data);
		jb->jb_nattach = start_attach;
		jb->jb_len = start;
		if (jb->jb_text != NULL)
			jb->jb_text[start] = '\0';
	}
	return (rc);
}

int
json_format(struct json_buf *jb, enum json_fmt_mode mode, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = json_vformat(jb, mode, fmt, &ap, NULL, NULL);
	va_end(ap);
	return (rc);
}
