/*
 * emitter_codec.c: the Socket.IO Redis emitter's messages.  See
 * emitter_codec.h.
 */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <msgpack.h>

#include "emitter_codec.h"
#include "json.h"
#include "sio_codec.h"
#include "xmalloc.h"

/* Socket.IO packet types as the emitter writes them. */
#define EMITTER_EVENT		2
#define EMITTER_BINARY_EVENT	5

static int
emitter_fail(char *err, const char *why)
{
	snprintf(err, EMITTER_ERR_MAX, "%s", why);
	return (-1);
}

static int
emitter_key_is(const msgpack_object *k, const char *name)
{
	return (k->type == MSGPACK_OBJECT_STR &&
	    k->via.str.size == strlen(name) &&
	    memcmp(k->via.str.ptr, name, k->via.str.size) == 0);
}

/* The value of key name in map m, or NULL. */
static const msgpack_object *
emitter_get(const msgpack_object *m, const char *name)
{
	uint32_t i;

	for (i = 0; i < m->via.map.size; i++)
		if (emitter_key_is(&m->via.map.ptr[i].key, name))
			return (&m->via.map.ptr[i].val);
	return (NULL);
}

/* The shortest text that reads back as d, as JavaScript prints it. */
static int
emitter_put_double(struct json_buf *jb, double d)
{
	char	buf[40];
	int	prec, n = 0;

	if (!isfinite(d))
		return (json_put_raw(jb, "null", 4));	/* as JSON.stringify */
	for (prec = 15; prec <= 17; prec++) {
		n = snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	return (json_put_raw(jb, buf, (size_t)n));
}

/* A MessagePack timestamp, as a JavaScript Date's toJSON gives it. */
static int
emitter_put_time(struct json_buf *jb, const msgpack_object *o)
{
	msgpack_timestamp	ts;
	struct tm		tm;
	time_t			t;
	char			buf[40];
	int			n;

	if (!msgpack_object_to_timestamp(o, &ts))
		return (-1);
	t = (time_t)ts.tv_sec;
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 < 0 ||
	    tm.tm_year + 1900 > 9999)
		return (json_put_raw(jb, "null", 4));	/* an invalid Date */
	n = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (unsigned)(ts.tv_nsec / 1000000));
	return (json_put_string(jb, buf, (size_t)n));
}

static int
emitter_put(struct json_buf *jb, const msgpack_object *o, int depth, char *err)
{
	const msgpack_object_kv	*kv;
	char			 num[32];
	uint32_t		 i;
	int			 n;

	if (depth > EMITTER_DEPTH_MAX)
		return (emitter_fail(err, "data nested too deeply"));
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return (json_put_raw(jb, "null", 4));
	case MSGPACK_OBJECT_BOOLEAN:
		return (o->via.boolean ? json_put_raw(jb, "true", 4) :
		    json_put_raw(jb, "false", 5));
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		n = snprintf(num, sizeof(num), "%" PRIu64, o->via.u64);
		return (json_put_raw(jb, num, (size_t)n));
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		n = snprintf(num, sizeof(num), "%" PRId64, o->via.i64);
		return (json_put_raw(jb, num, (size_t)n));
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return (emitter_put_double(jb, o->via.f64));
	case MSGPACK_OBJECT_STR:
		if (json_put_string(jb, o->via.str.ptr, o->via.str.size) == -1)
			return (emitter_fail(err, "a string is not UTF-8"));
		return (0);
	case MSGPACK_OBJECT_BIN:
		if (json_put_binary(jb, o->via.bin.ptr, o->via.bin.size) == -1)
			return (emitter_fail(err, "too many binary values"));
		return (0);
	case MSGPACK_OBJECT_EXT:
		if (emitter_put_time(jb, o) == -1)
			return (emitter_fail(err, "an extension type other than "
			    "the timestamp"));
		return (0);
	case MSGPACK_OBJECT_ARRAY:
		if (json_put_raw(jb, "[", 1) == -1)
			return (emitter_fail(err, "data too large"));
		for (i = 0; i < o->via.array.size; i++) {
			if ((i > 0 && json_put_raw(jb, ",", 1) == -1) ||
			    emitter_put(jb, &o->via.array.ptr[i], depth + 1,
			    err) == -1)
				return (-1);
		}
		return (json_put_raw(jb, "]", 1));
	case MSGPACK_OBJECT_MAP:
		if (json_put_raw(jb, "{", 1) == -1)
			return (emitter_fail(err, "data too large"));
		for (i = 0; i < o->via.map.size; i++) {
			kv = &o->via.map.ptr[i];
			if (i > 0 && json_put_raw(jb, ",", 1) == -1)
				return (-1);
			/* JSON keys are strings; numbers become their text. */
			if (kv->key.type == MSGPACK_OBJECT_STR) {
				if (json_put_string(jb, kv->key.via.str.ptr,
				    kv->key.via.str.size) == -1)
					return (emitter_fail(err,
					    "a key is not UTF-8"));
			} else if (kv->key.type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
			    kv->key.type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
				n = kv->key.type == MSGPACK_OBJECT_POSITIVE_INTEGER ?
				    snprintf(num, sizeof(num), "\"%" PRIu64 "\"",
				    kv->key.via.u64) :
				    snprintf(num, sizeof(num), "\"%" PRId64 "\"",
				    kv->key.via.i64);
				if (json_put_raw(jb, num, (size_t)n) == -1)
					return (-1);
			} else
				return (emitter_fail(err, "a map key that is "
				    "neither a string nor an integer"));
			if (json_put_raw(jb, ":", 1) == -1 ||
			    emitter_put(jb, &kv->val, depth + 1, err) == -1)
				return (-1);
		}
		return (json_put_raw(jb, "}", 1));
	}
	return (emitter_fail(err, "an unknown MessagePack type"));
}

/* An array of room names: into *out (NULL for an empty one). */
static int
emitter_rooms(const msgpack_object *o, char ***out, size_t *n, char *err)
{
	const msgpack_object	*r;
	uint32_t		 i;

	*out = NULL;
	*n = 0;
	if (o == NULL || o->type == MSGPACK_OBJECT_NIL)
		return (0);
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return (emitter_fail(err, "rooms are not an array"));
	if (o->via.array.size > EMITTER_ROOMS_MAX)
		return (emitter_fail(err, "too many rooms"));
	if (o->via.array.size == 0)
		return (0);
	*out = xcalloc(o->via.array.size, sizeof(**out));
	for (i = 0; i < o->via.array.size; i++) {
		r = &o->via.array.ptr[i];
		/* Socket.IO rooms may be numbers too (a socket's id is a string). */
		if (r->type == MSGPACK_OBJECT_STR && r->via.str.size > 0 &&
		    r->via.str.size <= EMITTER_ROOM_NAME_MAX &&
		    memchr(r->via.str.ptr, '\0', r->via.str.size) == NULL &&
		    json_utf8_valid(r->via.str.ptr, r->via.str.size))
			(*out)[(*n)++] = xstrndup(r->via.str.ptr, r->via.str.size);
		else if (r->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			xasprintf(&(*out)[(*n)++], "%" PRIu64, r->via.u64);
		else
			return (emitter_fail(err, "a room name that is not a "
			    "non-empty string of at most 256 bytes"));
	}
	return (0);
}

static int
emitter_shape(const msgpack_object *root, struct emitter_msg *m, char *err)
{
	const msgpack_object	*packet, *opts = NULL, *type, *data, *nsp;
	struct json_buf		 jb;
	struct json_attach	*ja;
	size_t			 i, n;

	if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size < 2)
		return (emitter_fail(err, "not an array [uid, packet, opts]"));
	packet = &root->via.array.ptr[1];
	if (root->via.array.size > 2)
		opts = &root->via.array.ptr[2];
	if (packet->type != MSGPACK_OBJECT_MAP)
		return (emitter_fail(err, "the packet is not a map"));
	type = emitter_get(packet, "type");
	if (type == NULL || type->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    (type->via.u64 != EMITTER_EVENT &&
	    type->via.u64 != EMITTER_BINARY_EVENT))
		return (emitter_fail(err, "the packet is not an event"));
	if (emitter_get(packet, "id") != NULL)
		return (emitter_fail(err, "a broadcast cannot ask for an ack"));
	nsp = emitter_get(packet, "nsp");
	if (nsp != NULL && (nsp->type != MSGPACK_OBJECT_STR ||
	    nsp->via.str.size == 0 || nsp->via.str.size > SIO_NSP_MAX ||
	    nsp->via.str.ptr[0] != '/' ||
	    memchr(nsp->via.str.ptr, '\0', nsp->via.str.size) != NULL))
		return (emitter_fail(err, "a bad namespace"));
	m->em_nsp = nsp != NULL ? xstrndup(nsp->via.str.ptr, nsp->via.str.size) :
	    xstrdup("/");
	data = emitter_get(packet, "data");
	if (data == NULL || data->type != MSGPACK_OBJECT_ARRAY ||
	    data->via.array.size == 0 ||
	    data->via.array.ptr[0].type != MSGPACK_OBJECT_STR)
		return (emitter_fail(err, "the data is not [event, args...]"));
	if (opts != NULL && opts->type != MSGPACK_OBJECT_NIL) {
		if (opts->type != MSGPACK_OBJECT_MAP)
			return (emitter_fail(err, "the options are not a map"));
		if (emitter_rooms(emitter_get(opts, "rooms"), &m->em_rooms,
		    &m->em_nrooms, err) == -1 ||
		    emitter_rooms(emitter_get(opts, "except"), &m->em_except,
		    &m->em_nexcept, err) == -1)
			return (-1);
	}
	json_buf_init(&jb);
	if (emitter_put(&jb, data, 0, err) == -1) {
		if (err[0] == '\0')
			emitter_fail(err, "data too large");
		json_buf_clear(&jb);
		return (-1);
	}
	m->em_jsonlen = jb.jb_len;
	m->em_json = xmemdup(jb.jb_text, jb.jb_len + 1);
	ja = json_buf_steal_attach(&jb, &n);
	json_buf_clear(&jb);
	if (n > 0) {
		m->em_attach = xcalloc(n, sizeof(*m->em_attach));
		for (i = 0; i < n; i++) {
			m->em_attach[i].sa_data = ja[i].ja_data;
			m->em_attach[i].sa_len = ja[i].ja_len;
		}
		m->em_nattach = n;
	}
	free(ja);
	return (0);
}

/* A big-endian length of n bytes at p. */
static uint64_t
emitter_be(const unsigned char *p, int n)
{
	uint64_t	v = 0;
	int		i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return (v);
}

/*
 * libmsgpack allocates room for a container's elements as soon as it
 * reads the size the container declares, so five bytes could ask it for
 * 64 GiB.  Before it runs, this walks the type bytes only (no value is
 * decoded) and refuses a message whose containers declare more elements
 * than it has bytes left: every element takes at least one.  0, or -1.
 */
static int
emitter_sizes_ok(const unsigned char *p, size_t len)
{
	uint64_t	pending = 1, n;
	size_t		pos = 0, skip;
	unsigned char	b;

	while (pending > 0) {
		if (pos >= len)
			return (0);	/* truncated: libmsgpack says so */
		b = p[pos++];
		pending--;
		skip = 0;
		n = 0;
		if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 ||
		    b == 0xc3)
			continue;
		if (b >= 0x80 && b <= 0x8f)
			n = 2 * (uint64_t)(b & 0x0f);
		else if (b >= 0x90 && b <= 0x9f)
			n = b & 0x0f;
		else if (b >= 0xa0 && b <= 0xbf)
			skip = b & 0x1f;
		else {
			/* The other formats: a size of 1 to 4 bytes, or fixed. */
			static const struct { unsigned char t; int lenb; int fixed;
			    int items; } f[] = {
				{ 0xc4, 1, 0, 0 }, { 0xc5, 2, 0, 0 }, { 0xc6, 4, 0, 0 },
				{ 0xc7, 1, 1, 0 }, { 0xc8, 2, 1, 0 }, { 0xc9, 4, 1, 0 },
				{ 0xca, 0, 4, 0 }, { 0xcb, 0, 8, 0 },
				{ 0xcc, 0, 1, 0 }, { 0xcd, 0, 2, 0 }, { 0xce, 0, 4, 0 },
				{ 0xcf, 0, 8, 0 }, { 0xd0, 0, 1, 0 }, { 0xd1, 0, 2, 0 },
				{ 0xd2, 0, 4, 0 }, { 0xd3, 0, 8, 0 },
				{ 0xd4, 0, 2, 0 }, { 0xd5, 0, 3, 0 }, { 0xd6, 0, 5, 0 },
				{ 0xd7, 0, 9, 0 }, { 0xd8, 0, 17, 0 },
				{ 0xd9, 1, 0, 0 }, { 0xda, 2, 0, 0 }, { 0xdb, 4, 0, 0 },
				{ 0xdc, 2, 0, 1 }, { 0xdd, 4, 0, 1 },
				{ 0xde, 2, 0, 2 }, { 0xdf, 4, 0, 2 }
			};
			size_t i;

			for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
				if (f[i].t == b)
					break;
			if (i == sizeof(f) / sizeof(f[0]))
				return (-1);	/* 0xc1: never used */
			if (len - pos < (size_t)f[i].lenb)
				return (0);
			n = emitter_be(p + pos, f[i].lenb);
			pos += (size_t)f[i].lenb;
			if (f[i].items > 0)
				n *= (uint64_t)f[i].items;
			else {
				/* ext: its type byte comes after the size. */
				skip = f[i].lenb > 0 ? (size_t)n + (size_t)f[i].fixed :
				    (size_t)f[i].fixed;
				n = 0;
			}
		}
		if (skip > len - pos)
			return (0);
		pos += skip;
		pending += n;
		if (pending > len - pos)
			return (-1);
	}
	return (0);
}

int
emitter_decode(const void *buf, size_t len, struct emitter_msg *m, char *err)
{
	msgpack_unpacked	u;
	msgpack_unpack_return	rc;
	size_t			off = 0;
	int			ret;

	memset(m, 0, sizeof(*m));
	err[0] = '\0';
	if (emitter_sizes_ok(buf, len) == -1)
		return (emitter_fail(err, "not MessagePack, or containers larger "
		    "than the message"));
	msgpack_unpacked_init(&u);
	rc = msgpack_unpack_next(&u, buf, len, &off);
	if (rc != MSGPACK_UNPACK_SUCCESS)
		ret = emitter_fail(err, rc == MSGPACK_UNPACK_CONTINUE ?
		    "truncated MessagePack" : "not MessagePack");
	else if (off != len)
		ret = emitter_fail(err, "bytes after the message");
	else
		ret = emitter_shape(&u.data, m, err);
	msgpack_unpacked_destroy(&u);
	if (ret == -1)
		emitter_msg_clear(m);
	return (ret);
}

void
emitter_msg_clear(struct emitter_msg *m)
{
	size_t i;

	free(m->em_nsp);
	for (i = 0; i < m->em_nrooms; i++)
		free(m->em_rooms[i]);
	free(m->em_rooms);
	for (i = 0; i < m->em_nexcept; i++)
		free(m->em_except[i]);
	free(m->em_except);
	free(m->em_json);
	for (i = 0; i < m->em_nattach; i++)
		free(m->em_attach[i].sa_data);
	free(m->em_attach);
	memset(m, 0, sizeof(*m));
}

/* --- encoding ------------------------------------------------------------ */

static int
emitter_evbuffer_write(void *data, const char *buf, size_t len)
{
	return (evbuffer_add(data, buf, len));
}

static void
emitter_pack_str(msgpack_packer *pk, const char *s, size_t len)
{
	msgpack_pack_str(pk, len);
	msgpack_pack_str_body(pk, s, len);
}

static int
emitter_pack_value(msgpack_packer *pk, yajl_val v, int depth, char *err)
{
	size_t i;

	if (depth > EMITTER_DEPTH_MAX)
		return (emitter_fail(err, "args nested too deeply"));
	if (YAJL_IS_STRING(v))
		emitter_pack_str(pk, v->u.string, strlen(v->u.string));
	else if (YAJL_IS_INTEGER(v))
		msgpack_pack_int64(pk, YAJL_GET_INTEGER(v));
	else if (YAJL_IS_NUMBER(v))
		msgpack_pack_double(pk, YAJL_GET_DOUBLE(v));
	else if (YAJL_IS_TRUE(v))
		msgpack_pack_true(pk);
	else if (YAJL_IS_FALSE(v))
		msgpack_pack_false(pk);
	else if (YAJL_IS_ARRAY(v)) {
		msgpack_pack_array(pk, v->u.array.len);
		for (i = 0; i < v->u.array.len; i++)
			if (emitter_pack_value(pk, v->u.array.values[i], depth + 1,
			    err) == -1)
				return (-1);
	} else if (YAJL_IS_OBJECT(v)) {
		msgpack_pack_map(pk, v->u.object.len);
		for (i = 0; i < v->u.object.len; i++) {
			emitter_pack_str(pk, v->u.object.keys[i],
			    strlen(v->u.object.keys[i]));
			if (emitter_pack_value(pk, v->u.object.values[i],
			    depth + 1, err) == -1)
				return (-1);
		}
	} else
		msgpack_pack_nil(pk);
	return (0);
}

static void
emitter_pack_rooms(msgpack_packer *pk, const char *const *rooms, size_t n)
{
	size_t i;

	msgpack_pack_array(pk, n);
	for (i = 0; i < n; i++)
		emitter_pack_str(pk, rooms[i], strlen(rooms[i]));
}

int
emitter_encode(struct evbuffer *out, const char *nsp, const char *const *rooms,
    size_t nrooms, const char *const *except, size_t nexcept,
    const char *event, yajl_val args, char *err)
{
	msgpack_packer	pk;
	size_t		i, nargs = args != NULL ? args->u.array.len : 0;

	if (args != NULL && !YAJL_IS_ARRAY(args))
		return (emitter_fail(err, "args is not an array"));
	msgpack_packer_init(&pk, out, emitter_evbuffer_write);
	msgpack_pack_array(&pk, 3);
	emitter_pack_str(&pk, EMITTER_UID, strlen(EMITTER_UID));
	msgpack_pack_map(&pk, 3);
	emitter_pack_str(&pk, "type", 4);
	msgpack_pack_uint8(&pk, EMITTER_EVENT);
	emitter_pack_str(&pk, "data", 4);
	msgpack_pack_array(&pk, 1 + nargs);
	emitter_pack_str(&pk, event, strlen(event));
	for (i = 0; i < nargs; i++)
		if (emitter_pack_value(&pk, args->u.array.values[i], 1, err) == -1)
			return (-1);
	emitter_pack_str(&pk, "nsp", 3);
	emitter_pack_str(&pk, nsp, strlen(nsp));
	msgpack_pack_map(&pk, 3);
	emitter_pack_str(&pk, "rooms", 5);
	emitter_pack_rooms(&pk, rooms, nrooms);
	emitter_pack_str(&pk, "except", 6);
	emitter_pack_rooms(&pk, except, nexcept);
	emitter_pack_str(&pk, "flags", 5);
	msgpack_pack_map(&pk, 0);
	return (0);
}

char *
emitter_channel(const char *key, const char *nsp, const char *const *rooms,
    size_t nrooms)
{
	char *ch;

	if (nrooms == 1)
		xasprintf(&ch, "%s#%s#%s#", key, nsp, rooms[0]);
	else
		xasprintf(&ch, "%s#%s#", key, nsp);
	return (ch);
}
