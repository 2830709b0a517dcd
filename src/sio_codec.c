/*
 * sio_codec.c: Socket.IO protocol v5 packets.  See sio_codec.h.
 *
 * The decoder follows socket.io-parser 4.2 (protocol 5) field by field:
 * type digit, "<n>-" for binary types, "/nsp," when the next character is
 * '/', decimal ack id, JSON.  The reference leans on JavaScript's Number()
 * for its digit tests, which lets whitespace and "1e1" pass as numbers;
 * here digits are digits.  The JSON goes through yajl_tree after a scan
 * that makes yajl accept what JSON.parse accepts and nothing deeper than
 * SIO_DEPTH_MAX.
 */
#include "config.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "log.h"
#include "sio_codec.h"
#include "xmalloc.h"

#define SIO_TYPE_MIN		SIO_CONNECT
#define SIO_TYPE_MAX		SIO_BINARY_ACK
#define SIO_ATTACH_SEP		'-'
#define SIO_NSP_SEP		','
#define SIO_NSP_ROOT		"/"
#define SIO_NSP_START		'/'

#define SIO_ISDIGIT(c)		((c) >= '0' && (c) <= '9')
#define SIO_IS_BINARY(t)	((t) == SIO_BINARY_EVENT || (t) == SIO_BINARY_ACK)

/* The longest escape sio_json_string writes: \u00XX. */
#define SIO_JSON_ESC_MAX	6

/*
 * Event names with a meaning of their own on one side or the other;
 * socket.io-parser refuses to decode an event that uses one.
 */
static const char *const sio_reserved_events[] = {
	"connect",
	"connect_error",
	"disconnect",
	"disconnecting",
	"newListener",
	"removeListener"
};

static void		 sio_add(struct evbuffer *, const void *, size_t);
static void		 sio_encode_head(struct evbuffer *, enum sio_type,
			    const char *, int64_t, size_t);
static const char	*sio_data_check(const struct sio_packet *);
static const char	*sio_json_scan(const char *, size_t);
static yajl_val		 sio_json_parse_reason(const char *, size_t,
			    const char **);
static yajl_val		 sio_object_get(yajl_val, const char *);
static int		 sio_placeholders_walk(yajl_val, size_t, int);
static void		 sio_gen_print(void *, const char *, size_t);
static void		 sio_set_err(char *, size_t, const char *);

/* Appending fails only when memory runs out, fatal as for xmalloc. */
static void
sio_add(struct evbuffer *out, const void *data, size_t len)
{
	if (evbuffer_add(out, data, len) == -1)
		fatalx("%s: out of memory", __func__);
}

static void
sio_set_err(char *err, size_t errlen, const char *reason)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", reason);
}

int
sio_decode(const char *buf, size_t len, struct sio_packet *p, char *err,
    size_t errlen)
{
	const char	*reason;
	size_t		 i, start, n;
	int64_t		 id;

	memset(p, 0, sizeof(*p));
	p->sp_id = -1;

	if (len == 0) {
		reason = "empty packet";
		goto bad;
	}
	if (!SIO_ISDIGIT(buf[0]) || buf[0] - '0' > SIO_TYPE_MAX) {
		reason = "unknown packet type";
		goto bad;
	}
	p->sp_type = (enum sio_type)(buf[0] - '0');
	i = 1;

	/* Binary types: the attachment count and '-'. */
	if (SIO_IS_BINARY(p->sp_type)) {
		for (start = i, n = 0; i < len && SIO_ISDIGIT(buf[i]); i++) {
			if (n <= SIO_ATTACHMENTS_MAX)	/* saturate */
				n = n * 10 + (size_t)(buf[i] - '0');
		}
		if (i == start || i == len || buf[i] != SIO_ATTACH_SEP) {
			reason = "illegal attachments";
			goto bad;
		}
		if (n > SIO_ATTACHMENTS_MAX) {
			reason = "too many attachments";
			goto bad;
		}
		p->sp_nattach = n;
		i++;
	}

	/*
	 * The namespace runs to the ',' or, as in the reference, to the end
	 * of the packet ("1/chat" is a valid DISCONNECT).
	 */
	if (i < len && buf[i] == SIO_NSP_START) {
		for (start = i; i < len && buf[i] != SIO_NSP_SEP; i++)
			;
		if (i - start > SIO_NSP_MAX) {
			reason = "namespace too long";
			goto bad;
		}
		if (memchr(buf + start, '\0', i - start) != NULL) {
			reason = "NUL in namespace";
			goto bad;
		}
		p->sp_nsp = xstrndup(buf + start, i - start);
		if (i < len)
			i++;
	}

	if (i < len && SIO_ISDIGIT(buf[i])) {
		for (id = 0; i < len && SIO_ISDIGIT(buf[i]); i++) {
			id = id * 10 + (buf[i] - '0');
			if (id > SIO_ID_MAX) {
				reason = "ack id too large";
				goto bad;
			}
		}
		p->sp_id = id;
	}

	/* Whatever follows is the JSON payload, to the end of the packet. */
	if (i < len) {
		p->sp_data = sio_json_parse_reason(buf + i, len - i, &reason);
		if (p->sp_data != NULL) {
			p->sp_raw = xstrndup(buf + i, len - i);
			p->sp_rawlen = len - i;
		}
		if (p->sp_data == NULL)
			goto bad;
	}
	if ((reason = sio_data_check(p)) != NULL)
		goto bad;

	if (p->sp_nattach > 0)
		p->sp_attach = xcalloc(p->sp_nattach, sizeof(*p->sp_attach));
	else if (SIO_IS_BINARY(p->sp_type) &&
	    sio_placeholders_check(p) == -1) {
		/* Complete already: its placeholders are checked now. */
		reason = "invalid placeholder";
		goto bad;
	}
	if (p->sp_nsp == NULL)
		p->sp_nsp = xstrdup(SIO_NSP_ROOT);
	return (0);

bad:
	sio_set_err(err, errlen, reason);
	sio_packet_clear(p);
	return (-1);
}

/*
 * The data each type may carry, as the reference's isPayloadValid and
 * isPacketValid: the reason the packet is refused, or NULL.
 */
static const char *
sio_data_check(const struct sio_packet *p)
{
	yajl_val	v = p->sp_data, first;
	const char	*name;
	size_t		 namelen;

	switch (p->sp_type) {
	case SIO_CONNECT:
		if (v != NULL && !YAJL_IS_OBJECT(v))
			return ("invalid payload");
		break;
	case SIO_DISCONNECT:
		if (v != NULL)
			return ("unexpected payload");
		break;
	case SIO_EVENT:
	case SIO_BINARY_EVENT:
		if (v == NULL)
			return ("missing payload");
		if (!YAJL_IS_ARRAY(v) || v->u.array.len == 0)
			return ("invalid payload");
		first = v->u.array.values[0];
		if (YAJL_IS_NUMBER(first))
			break;
		if (!YAJL_IS_STRING(first))
			return ("invalid payload");
		if (sio_event_reserved(first->u.string))
			return ("reserved event name");
		/* The tree would cut the name at the NUL: another event. */
		if (p->sp_raw != NULL && sio_json_element(p->sp_raw,
		    p->sp_rawlen, 0, &name, &namelen) == 0 &&
		    memmem(name, namelen, "\\u0000", 6) != NULL)
			return ("\\u0000 in event name");
		break;
	case SIO_ACK:
	case SIO_BINARY_ACK:
		if (v == NULL)
			return ("missing payload");
		if (!YAJL_IS_ARRAY(v))
			return ("invalid payload");
		break;
	case SIO_CONNECT_ERROR:
		if (v == NULL)
			return ("missing payload");
		if (!YAJL_IS_STRING(v) && !YAJL_IS_OBJECT(v))
			return ("invalid payload");
		break;
	}
	return (NULL);
}

int
sio_event_reserved(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(sio_reserved_events) /
	    sizeof(sio_reserved_events[0]); i++)
		if (strcmp(name, sio_reserved_events[i]) == 0)
			return (1);
	return (0);
}

int
sio_add_attachment(struct sio_packet *p, const void *data, size_t len)
{
	struct sio_attachment	*a;

	if (p->sp_nrecv >= p->sp_nattach)
		return (-1);
	a = &p->sp_attach[p->sp_nrecv++];
	a->sa_data = xmalloc(len);
	if (len > 0)
		memcpy(a->sa_data, data, len);
	a->sa_len = len;
	if (p->sp_nrecv < p->sp_nattach)
		return (0);
	if (sio_placeholders_check(p) == -1)
		return (-1);
	return (1);
}

int
sio_complete(const struct sio_packet *p)
{
	return (p->sp_nrecv == p->sp_nattach);
}

void
sio_packet_clear(struct sio_packet *p)
{
	size_t	i;

	free(p->sp_nsp);
	if (p->sp_data != NULL)
		yajl_tree_free(p->sp_data);
	free(p->sp_raw);
	for (i = 0; i < p->sp_nrecv; i++)
		free(p->sp_attach[i].sa_data);
	free(p->sp_attach);
	memset(p, 0, sizeof(*p));
	p->sp_id = -1;
}

/* The value of key in an object; the last one wins, as in JSON.parse. */
static yajl_val
sio_object_get(yajl_val obj, const char *key)
{
	yajl_val	v = NULL;
	size_t		i;

	for (i = 0; i < obj->u.object.len; i++)
		if (strcmp(obj->u.object.keys[i], key) == 0)
			v = obj->u.object.values[i];
	return (v);
}

int
sio_placeholder(yajl_val v, size_t *num)
{
	yajl_val	n;

	if (!YAJL_IS_OBJECT(v) ||
	    !YAJL_IS_TRUE(sio_object_get(v, SIO_PLACEHOLDER_KEY)))
		return (0);
	n = sio_object_get(v, SIO_PLACEHOLDER_NUM);
	if (!YAJL_IS_INTEGER(n) || YAJL_GET_INTEGER(n) < 0)
		return (-1);
	*num = (size_t)YAJL_GET_INTEGER(n);
	return (1);
}

static int
sio_placeholders_walk(yajl_val v, size_t nattach, int depth)
{
	size_t	i, num;

	if (depth > SIO_DEPTH_MAX)
		return (-1);
	switch (sio_placeholder(v, &num)) {
	case 1:
		return (num < nattach ? 0 : -1);
	case -1:
		return (-1);
	}
	if (YAJL_IS_ARRAY(v)) {
		for (i = 0; i < v->u.array.len; i++)
			if (sio_placeholders_walk(v->u.array.values[i],
			    nattach, depth + 1) == -1)
				return (-1);
	} else if (YAJL_IS_OBJECT(v)) {
		for (i = 0; i < v->u.object.len; i++)
			if (sio_placeholders_walk(v->u.object.values[i],
			    nattach, depth + 1) == -1)
				return (-1);
	}
	return (0);
}

int
sio_placeholders_check(const struct sio_packet *p)
{
	if (p->sp_data == NULL)
		return (0);
	return (sio_placeholders_walk(p->sp_data, p->sp_nattach, 1));
}

static void
sio_encode_head(struct evbuffer *out, enum sio_type type, const char *nsp,
    int64_t id, size_t nattach)
{
	char	c;

	if (type < SIO_TYPE_MIN || type > SIO_TYPE_MAX)
		fatalx("%s: bad packet type %d", __func__, (int)type);
	c = (char)('0' + type);
	sio_add(out, &c, 1);
	if (SIO_IS_BINARY(type) &&
	    evbuffer_add_printf(out, "%zu%c", nattach, SIO_ATTACH_SEP) == -1)
		fatalx("%s: out of memory", __func__);
	if (nsp != NULL && nsp[0] != '\0' && strcmp(nsp, SIO_NSP_ROOT) != 0) {
		sio_add(out, nsp, strlen(nsp));
		c = SIO_NSP_SEP;
		sio_add(out, &c, 1);
	}
	if (id >= 0 && evbuffer_add_printf(out, "%" PRId64, id) == -1)
		fatalx("%s: out of memory", __func__);
}

void
sio_encode(struct evbuffer *out, enum sio_type type, const char *nsp,
    int64_t id, const char *json, size_t jsonlen, size_t nattach)
{
	sio_encode_head(out, type, nsp, id, nattach);
	if (json != NULL)
		sio_add(out, json, jsonlen);
}

int
sio_packet_encode(struct evbuffer *out, const struct sio_packet *p)
{
	struct evbuffer	*json;
	int		 ret = -1;

	if ((json = evbuffer_new()) == NULL)
		fatalx("%s: out of memory", __func__);
	if (p->sp_data != NULL && sio_json_value(json, p->sp_data) == -1)
		goto done;
	sio_encode_head(out, p->sp_type, p->sp_nsp, p->sp_id, p->sp_nattach);
	if (evbuffer_add_buffer(out, json) == -1)
		fatalx("%s: out of memory", __func__);
	ret = 0;
done:
	evbuffer_free(json);
	return (ret);
}

void
sio_encode_connect(struct evbuffer *out, const char *nsp, const char *sid)
{
	static const char	pre[] = "{\"sid\":";

	sio_encode_head(out, SIO_CONNECT, nsp, -1, 0);
	sio_add(out, pre, sizeof(pre) - 1);
	sio_json_string(out, sid, strlen(sid));
	sio_add(out, "}", 1);
}

void
sio_encode_connect_error(struct evbuffer *out, const char *nsp,
    const char *message)
{
	static const char	pre[] = "{\"message\":";

	sio_encode_head(out, SIO_CONNECT_ERROR, nsp, -1, 0);
	sio_add(out, pre, sizeof(pre) - 1);
	sio_json_string(out, message, strlen(message));
	sio_add(out, "}", 1);
}

/*
 * yajl_tree_parse is more liberal than JSON.parse in ways a client could
 * use: it allows comments, takes \v and \f as white space and stops at a
 * NUL byte.  It also stores "\u0000" inside a C string, which would cut
 * an event name short, and nests without limit while the tree is freed
 * recursively.  One pass over the text, tracking strings so that their
 * contents are not mistaken for structure, rejects all of that before
 * yajl sees it.  Where the text is not JSON the scan may be fooled, but
 * then yajl stops at the first error, before anything the scan missed.
 */
static const char *
sio_json_scan(const char *s, size_t len)
{
	size_t	i;
	int	depth = 0, instr = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '\0')
			return ("NUL byte in JSON");
		if (instr) {
			if (s[i] == '"')
				instr = 0;
			else if (s[i] == '\\')
				i++;	/* the escaped character */
			continue;
		}
		switch (s[i]) {
		case '"':
			instr = 1;
			break;
		case '[':
		case '{':
			if (++depth > SIO_DEPTH_MAX)
				return ("JSON nested too deeply");
			break;
		case ']':
		case '}':
			if (depth > 0)
				depth--;
			break;
		case '/':
			return ("comment in JSON");
		case '\v':
		case '\f':
			return ("invalid JSON");
		}
	}
	return (NULL);
}

static yajl_val
sio_json_parse_reason(const char *s, size_t len, const char **reason)
{
	yajl_val	 v;
	char		*text;

	if ((*reason = sio_json_scan(s, len)) != NULL)
		return (NULL);
	/* yajl_tree_parse wants a C string. */
	text = xmalloc(len + 1);
	memcpy(text, s, len);
	text[len] = '\0';
	v = yajl_tree_parse(text, NULL, 0);
	free(text);
	if (v == NULL)
		*reason = "invalid JSON";
	return (v);
}

yajl_val
sio_json_parse(const char *s, size_t len, char *err, size_t errlen)
{
	const char	*reason;
	yajl_val	 v;

	if ((v = sio_json_parse_reason(s, len, &reason)) == NULL)
		sio_set_err(err, errlen, reason);
	return (v);
}

void
sio_json_string(struct evbuffer *out, const char *s, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	char			 esc[SIO_JSON_ESC_MAX];
	const char		*e;
	size_t			 i, run, elen;
	unsigned char		 c;

	sio_add(out, "\"", 1);
	for (i = run = 0; i < len; i++) {
		c = (unsigned char)s[i];
		elen = 2;
		switch (c) {
		case '"':
			e = "\\\"";
			break;
		case '\\':
			e = "\\\\";
			break;
		case '\b':
			e = "\\b";
			break;
		case '\f':
			e = "\\f";
			break;
		case '\n':
			e = "\\n";
			break;
		case '\r':
			e = "\\r";
			break;
		case '\t':
			e = "\\t";
			break;
		default:
			/* Bytes from 0x20 up, UTF-8 included, go as they are. */
			if (c >= 0x20)
				continue;
			/* The form JSON.stringify uses: \u001f. */
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			e = esc;
			elen = SIO_JSON_ESC_MAX;
			break;
		}
		if (i > run)
			sio_add(out, s + run, i - run);
		sio_add(out, e, elen);
		run = i + 1;
	}
	if (len > run)
		sio_add(out, s + run, len - run);
	sio_add(out, "\"", 1);
}

static void
sio_gen_print(void *ctx, const char *s, size_t len)
{
	sio_add(ctx, s, len);
}

yajl_gen
sio_json_gen(struct evbuffer *out)
{
	yajl_gen	g;

	if ((g = yajl_gen_alloc(NULL)) == NULL)
		fatalx("%s: out of memory", __func__);
	if (!yajl_gen_config(g, yajl_gen_print_callback, sio_gen_print, out))
		fatalx("%s: yajl_gen_config failed", __func__);
	return (g);
}

int
sio_json_gen_value(yajl_gen g, yajl_val v)
{
	yajl_gen_status	st;
	size_t		i;
	const char	*k;

	if (v == NULL)
		return (-1);
	switch (v->type) {
	case yajl_t_string:
		st = yajl_gen_string(g, (const unsigned char *)v->u.string,
		    strlen(v->u.string));
		break;
	case yajl_t_number:
		/* The text as parsed: numbers go back out unchanged. */
		st = yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
		break;
	case yajl_t_object:
		if (yajl_gen_map_open(g) != yajl_gen_status_ok)
			return (-1);
		for (i = 0; i < v->u.object.len; i++) {
			k = v->u.object.keys[i];
			if (yajl_gen_string(g, (const unsigned char *)k,
			    strlen(k)) != yajl_gen_status_ok ||
			    sio_json_gen_value(g, v->u.object.values[i]) == -1)
				return (-1);
		}
		st = yajl_gen_map_close(g);
		break;
	case yajl_t_array:
		if (yajl_gen_array_open(g) != yajl_gen_status_ok)
			return (-1);
		for (i = 0; i < v->u.array.len; i++)
			if (sio_json_gen_value(g, v->u.array.values[i]) == -1)
				return (-1);
		st = yajl_gen_array_close(g);
		break;
	case yajl_t_true:
	case yajl_t_false:
		st = yajl_gen_bool(g, v->type == yajl_t_true);
		break;
	case yajl_t_null:
		st = yajl_gen_null(g);
		break;
	default:
		return (-1);
	}
	return (st == yajl_gen_status_ok ? 0 : -1);
}

int
sio_json_value(struct evbuffer *out, yajl_val v)
{
	struct evbuffer	*tmp;
	yajl_gen	 g;
	int		 ret = -1;

	/* Into a buffer of its own, so that a failure leaves out alone. */
	if ((tmp = evbuffer_new()) == NULL)
		fatalx("%s: out of memory", __func__);
	g = sio_json_gen(tmp);
	if (sio_json_gen_value(g, v) == -1)
		goto done;
	if (evbuffer_add_buffer(out, tmp) == -1)
		fatalx("%s: out of memory", __func__);
	ret = 0;
done:
	yajl_gen_free(g);
	evbuffer_free(tmp);
	return (ret);
}

int
sio_json_equal(yajl_val a, yajl_val b)
{
	size_t	i;

	if (a == NULL || b == NULL)
		return (a == b);
	if (a->type != b->type)
		return (0);
	switch (a->type) {
	case yajl_t_string:
		return (strcmp(a->u.string, b->u.string) == 0);
	case yajl_t_number:
		return (strcmp(a->u.number.r, b->u.number.r) == 0);
	case yajl_t_object:
		if (a->u.object.len != b->u.object.len)
			return (0);
		for (i = 0; i < a->u.object.len; i++)
			if (strcmp(a->u.object.keys[i],
			    b->u.object.keys[i]) != 0 ||
			    !sio_json_equal(a->u.object.values[i],
			    b->u.object.values[i]))
				return (0);
		return (1);
	case yajl_t_array:
		if (a->u.array.len != b->u.array.len)
			return (0);
		for (i = 0; i < a->u.array.len; i++)
			if (!sio_json_equal(a->u.array.values[i],
			    b->u.array.values[i]))
				return (0);
		return (1);
	default:
		return (1);
	}
}

/* Skip one JSON value starting at s[i] (text already checked); its end. */
static size_t
sio_json_skip(const char *s, size_t len, size_t i)
{
	int depth = 0, instr = 0;

	for (; i < len; i++) {
		if (instr) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				instr = 0;
			if (!instr && depth == 0)
				return (i + 1);
			continue;
		}
		switch (s[i]) {
		case '"':
			instr = 1;
			break;
		case '[':
		case '{':
			depth++;
			break;
		case ']':
		case '}':
			if (depth == 0)
				return (i);	/* the end of the enclosing array */
			if (--depth == 0)
				return (i + 1);
			break;
		case ',':
			if (depth == 0)
				return (i);
			break;
		default:
			break;
		}
	}
	return (i);
}

int
sio_json_element(const char *raw, size_t len, size_t idx, const char **p,
    size_t *plen)
{
	size_t i = 0, start, end, n = 0;

	while (i < len && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' ||
	    raw[i] == '\r'))
		i++;
	if (i >= len || raw[i] != '[')
		return (-1);
	i++;
	for (;;) {
		while (i < len && (raw[i] == ' ' || raw[i] == '\t' ||
		    raw[i] == '\n' || raw[i] == '\r'))
			i++;
		if (i >= len || raw[i] == ']')
			return (-1);
		start = i;
		end = sio_json_skip(raw, len, i);
		if (n == idx) {
			/* Trim trailing white space before ',' or ']'. */
			while (end > start && (raw[end - 1] == ' ' ||
			    raw[end - 1] == '\t' || raw[end - 1] == '\n' ||
			    raw[end - 1] == '\r'))
				end--;
			*p = raw + start;
			*plen = end - start;
			return (0);
		}
		i = end;
		while (i < len && raw[i] != ',' && raw[i] != ']')
			i++;
		if (i >= len || raw[i] == ']')
			return (-1);
		i++;	/* the comma */
		n++;
	}
}
