/*
 * test_sio.c: the Socket.IO v5 codec against the behaviour of
 * socket.io-parser 4.2.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <event2/buffer.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "sio_codec.h"

#define PH(n)	"{\"_placeholder\":true,\"num\":" #n "}"

/* The contents of b as a C string (the caller frees), b drained. */
static char *
drain(struct evbuffer *b)
{
	size_t	 len = evbuffer_get_length(b);
	char	*s = malloc(len + 1);

	cr_assert_not_null(s);
	cr_assert_eq(evbuffer_remove(b, s, len), (int)len);
	s[len] = '\0';
	return (s);
}

static char *
json_text(yajl_val v)
{
	struct evbuffer	*b = evbuffer_new();
	char		*s;

	cr_assert_not_null(b);
	cr_assert_eq(sio_json_value(b, v), 0);
	s = drain(b);
	evbuffer_free(b);
	return (s);
}

static char *
packet_text(const struct sio_packet *p)
{
	struct evbuffer	*b = evbuffer_new();
	char		*s;

	cr_assert_not_null(b);
	cr_assert_eq(sio_packet_encode(b, p), 0);
	s = drain(b);
	evbuffer_free(b);
	return (s);
}

/*
 * Criterion hands parameters to the test process by copying the structs,
 * so vectors hold their strings in arrays, not as pointers.
 */
#define VEC_MAX		128

/* Packets that decode, and how they encode again. */
struct sio_good {
	char		 in[VEC_MAX];
	enum sio_type	 type;
	char		 nsp[VEC_MAX];
	int64_t		 id;
	size_t		 nattach;
	char		 json[VEC_MAX];	/* the data, compact; "" when absent */
	char		 out[VEC_MAX];	/* the encoding of the decoded packet */
};

ParameterizedTestParameters(sio, decode_good)
{
	static struct sio_good v[] = {
		{ "0", SIO_CONNECT, "/", -1, 0, "", "0" },
		{ "0{\"token\":\"abc\"}", SIO_CONNECT, "/", -1, 0,
		    "{\"token\":\"abc\"}", "0{\"token\":\"abc\"}" },
		{ "0/admin,", SIO_CONNECT, "/admin", -1, 0, "",
		    "0/admin," },
		{ "0/admin", SIO_CONNECT, "/admin", -1, 0, "", "0/admin," },
		{ "0/admin,{\"sid\":\"x\"}", SIO_CONNECT, "/admin", -1, 0,
		    "{\"sid\":\"x\"}", "0/admin,{\"sid\":\"x\"}" },
		{ "0/admin,1{}", SIO_CONNECT, "/admin", 1, 0, "{}",
		    "0/admin,1{}" },
		{ "1", SIO_DISCONNECT, "/", -1, 0, "", "1" },
		{ "1/admin,", SIO_DISCONNECT, "/admin", -1, 0, "",
		    "1/admin," },
		{ "1/admin", SIO_DISCONNECT, "/admin", -1, 0, "",
		    "1/admin," },
		{ "15", SIO_DISCONNECT, "/", 5, 0, "", "15" },
		{ "2[\"hello\",1]", SIO_EVENT, "/", -1, 0,
		    "[\"hello\",1]", "2[\"hello\",1]" },
		{ "2/chat,[\"m\",{\"a\":[1,2.5,true,false,null]}]", SIO_EVENT,
		    "/chat", -1, 0, "[\"m\",{\"a\":[1,2.5,true,false,null]}]",
		    "2/chat,[\"m\",{\"a\":[1,2.5,true,false,null]}]" },
		{ "212[\"m\"]", SIO_EVENT, "/", 12, 0, "[\"m\"]",
		    "212[\"m\"]" },
		{ "2/chat,12[\"m\"]", SIO_EVENT, "/chat", 12, 0, "[\"m\"]",
		    "2/chat,12[\"m\"]" },
		{ "2[42,\"x\"]", SIO_EVENT, "/", -1, 0, "[42,\"x\"]",
		    "2[42,\"x\"]" },
		{ "2/,[\"a\"]", SIO_EVENT, "/", -1, 0, "[\"a\"]", "2[\"a\"]" },
		{ "2007[\"a\"]", SIO_EVENT, "/", 7, 0, "[\"a\"]", "27[\"a\"]" },
		{ "20[\"a\"]", SIO_EVENT, "/", 0, 0, "[\"a\"]", "20[\"a\"]" },
		{ "2999999999999999[\"a\"]", SIO_EVENT, "/",
		    INT64_C(999999999999999), 0, "[\"a\"]",
		    "2999999999999999[\"a\"]" },
		{ "2 [ \"a\" ,\t1 ]\r\n", SIO_EVENT, "/", -1, 0, "[\"a\",1]",
		    "2[\"a\",1]" },
		{ "2[\"\\u00e9\\n\\\"\"]", SIO_EVENT, "/", -1, 0,
		    "[\"\xc3\xa9\\n\\\"\"]", "2[\"\xc3\xa9\\n\\\"\"]" },
		{ "2[\"a\",\"\\/\"]", SIO_EVENT, "/", -1, 0, "[\"a\",\"/\"]",
		    "2[\"a\",\"/\"]" },
		{ "2[\"a\",1e3,-0.5,12345678901234567890123]", SIO_EVENT, "/",
		    -1, 0, "[\"a\",1e3,-0.5,12345678901234567890123]",
		    "2[\"a\",1e3,-0.5,12345678901234567890123]" },
		{ "2[\"\xe2\x80\xa8\"]", SIO_EVENT, "/", -1, 0,
		    "[\"\xe2\x80\xa8\"]", "2[\"\xe2\x80\xa8\"]" },
		{ "2[\"newListenerX\"]", SIO_EVENT, "/", -1, 0,
		    "[\"newListenerX\"]", "2[\"newListenerX\"]" },
		{ "2/a/b,[\"x\"]", SIO_EVENT, "/a/b", -1, 0, "[\"x\"]",
		    "2/a/b,[\"x\"]" },
		{ "2/\xc3\xa9,[\"x\"]", SIO_EVENT, "/\xc3\xa9", -1, 0,
		    "[\"x\"]", "2/\xc3\xa9,[\"x\"]" },
		{ "2[\"a\"," PH(3) "]", SIO_EVENT, "/", -1, 0,
		    "[\"a\"," PH(3) "]", "2[\"a\"," PH(3) "]" },
		{ "3[]", SIO_ACK, "/", -1, 0, "[]", "3[]" },
		{ "3/chat,7[\"ok\"]", SIO_ACK, "/chat", 7, 0, "[\"ok\"]",
		    "3/chat,7[\"ok\"]" },
		{ "37[null]", SIO_ACK, "/", 7, 0, "[null]", "37[null]" },
		{ "4{\"message\":\"no\"}", SIO_CONNECT_ERROR, "/", -1, 0,
		    "{\"message\":\"no\"}", "4{\"message\":\"no\"}" },
		{ "4/x,\"err\"", SIO_CONNECT_ERROR, "/x", -1, 0, "\"err\"",
		    "4/x,\"err\"" },
		{ "4/x,{\"message\":\"x\",\"data\":{}}", SIO_CONNECT_ERROR,
		    "/x", -1, 0, "{\"message\":\"x\",\"data\":{}}",
		    "4/x,{\"message\":\"x\",\"data\":{}}" },
		{ "51-[\"up\"," PH(0) "]", SIO_BINARY_EVENT, "/", -1, 1,
		    "[\"up\"," PH(0) "]", "51-[\"up\"," PH(0) "]" },
		{ "52-/files,9[\"up\"," PH(0) "," PH(1) "]", SIO_BINARY_EVENT,
		    "/files", 9, 2, "[\"up\"," PH(0) "," PH(1) "]",
		    "52-/files,9[\"up\"," PH(0) "," PH(1) "]" },
		{ "510-[\"up\",{\"x\":[" PH(9) "]}]", SIO_BINARY_EVENT, "/",
		    -1, 10, "[\"up\",{\"x\":[" PH(9) "]}]",
		    "510-[\"up\",{\"x\":[" PH(9) "]}]" },
		{ "564-[\"up\"]", SIO_BINARY_EVENT, "/", -1, 64, "[\"up\"]",
		    "564-[\"up\"]" },
		{ "50-[\"a\",{\"_placeholder\":false,\"num\":9}]",
		    SIO_BINARY_EVENT, "/", -1, 0,
		    "[\"a\",{\"_placeholder\":false,\"num\":9}]",
		    "50-[\"a\",{\"_placeholder\":false,\"num\":9}]" },
		{ "60-[]", SIO_BINARY_ACK, "/", -1, 0, "[]", "60-[]" },
		{ "61-/x,3[" PH(0) "]", SIO_BINARY_ACK, "/x", 3, 1,
		    "[" PH(0) "]", "61-/x,3[" PH(0) "]" },
	};

	return (cr_make_param_array(struct sio_good, v, sizeof(v) / sizeof(v[0])));
}

ParameterizedTest(struct sio_good *g, sio, decode_good)
{
	struct sio_packet	 p, q;
	char			 err[SIO_ERR_MAX] = "";
	char			*s;

	cr_assert_eq(sio_decode(g->in, strlen(g->in), &p, err, sizeof(err)),
	    0, "%s: %s", g->in, err);
	cr_assert_eq(p.sp_type, g->type, "%s", g->in);
	cr_assert_str_eq(p.sp_nsp, g->nsp, "%s", g->in);
	cr_assert_eq(p.sp_id, g->id, "%s", g->in);
	cr_assert_eq(p.sp_nattach, g->nattach, "%s", g->in);
	cr_assert_eq(p.sp_nrecv, 0);
	cr_assert_eq(sio_complete(&p), g->nattach == 0);
	if (g->json[0] == '\0')
		cr_assert_null(p.sp_data, "%s", g->in);
	else {
		s = json_text(p.sp_data);
		cr_assert_str_eq(s, g->json);
		free(s);
	}

	s = packet_text(&p);
	cr_assert_str_eq(s, g->out);
	/* The encoding decodes to the same packet. */
	cr_assert_eq(sio_decode(s, strlen(s), &q, err, sizeof(err)), 0,
	    "%s: %s", s, err);
	cr_assert_eq(q.sp_type, p.sp_type);
	cr_assert_str_eq(q.sp_nsp, p.sp_nsp);
	cr_assert_eq(q.sp_id, p.sp_id);
	cr_assert_eq(q.sp_nattach, p.sp_nattach);
	cr_assert(sio_json_equal(q.sp_data, p.sp_data));
	free(s);
	sio_packet_clear(&q);
	sio_packet_clear(&p);
	cr_assert_null(p.sp_nsp);
	cr_assert_null(p.sp_data);
	cr_assert_eq(p.sp_id, -1);
}

/* Packets refused, each with its reason. */
struct sio_bad {
	char		 in[VEC_MAX];
	size_t		 len;		/* 0: strlen(in) */
	char		 reason[VEC_MAX];
};

ParameterizedTestParameters(sio, decode_bad)
{
	static struct sio_bad v[] = {
		{ "", 0, "empty packet" },
		{ "9", 0, "unknown packet type" },
		{ "7[\"a\"]", 0, "unknown packet type" },
		{ "x", 0, "unknown packet type" },
		{ "-1", 0, "unknown packet type" },
		{ " 2[\"a\"]", 0, "unknown packet type" },
		{ "b2[\"a\"]", 0, "unknown packet type" },
		{ "2[", 0, "invalid JSON" },
		{ "2", 0, "missing payload" },
		{ "2/nsp", 0, "missing payload" },
		{ "2/nsp,", 0, "missing payload" },
		{ "2/nsp,12", 0, "missing payload" },
		{ "2/nsp[\"a\"]", 0, "missing payload" },
		{ "5[]", 0, "illegal attachments" },
		{ "51", 0, "illegal attachments" },
		{ "5", 0, "illegal attachments" },
		{ "5-[\"a\"]", 0, "illegal attachments" },
		{ "5x-[\"a\"]", 0, "illegal attachments" },
		{ "51x-[\"a\"]", 0, "illegal attachments" },
		{ "5/x,1-[\"a\"]", 0, "illegal attachments" },
		{ "6[]", 0, "illegal attachments" },
		{ "565-[\"a\"]", 0, "too many attachments" },
		{ "5100-[\"a\"]", 0, "too many attachments" },
		{ "599999999999999999999999-[\"a\"]", 0,
		    "too many attachments" },
		{ "2abc", 0, "invalid JSON" },
		{ "2[\"a\"]x", 0, "invalid JSON" },
		{ "2[\"a\"]]", 0, "invalid JSON" },
		{ "2[\"a\"][]", 0, "invalid JSON" },
		{ "2,[\"a\"]", 0, "invalid JSON" },
		{ "2['a']", 0, "invalid JSON" },
		{ "2[\"a\",]", 0, "invalid JSON" },
		{ "2[\"a\",01]", 0, "invalid JSON" },
		{ "2[\"a\",.5]", 0, "invalid JSON" },
		{ "2[\"a\",NaN]", 0, "invalid JSON" },
		{ "2[\"a\x01\"]", 0, "invalid JSON" },
		{ "2[\"\xff\"]", 0, "invalid JSON" },
		{ "2[\"a\\x\"]", 0, "invalid JSON" },
		{ "2[\"a\"]\v", 0, "invalid JSON" },
		{ "2\f[\"a\"]", 0, "invalid JSON" },
		{ "2[\"a\",[[[[", 0, "invalid JSON" },
		{ "2[\"a\"/*c*/]", 0, "comment in JSON" },
		{ "2[\"a\"]//c", 0, "comment in JSON" },
		{ "2[\"a\\u0000b\"]", 0, "\\u0000 in event name" },
		{ "2[\"a\"]\0", 7, "NUL byte in JSON" },
		{ "2/a\0b,[\"x\"]", 11, "NUL in namespace" },
		{ "2[]", 0, "invalid payload" },
		{ "2{}", 0, "invalid payload" },
		{ "2{\"a\":1}", 0, "invalid payload" },
		{ "2\"a\"", 0, "invalid payload" },
		{ "2[null]", 0, "invalid payload" },
		{ "2[true]", 0, "invalid payload" },
		{ "2[[\"a\"]]", 0, "invalid payload" },
		{ "2[{\"a\":1}]", 0, "invalid payload" },
		{ "2[\"connect\"]", 0, "reserved event name" },
		{ "2[\"connect_error\",1]", 0, "reserved event name" },
		{ "2[\"disconnect\"]", 0, "reserved event name" },
		{ "2[\"disconnecting\"]", 0, "reserved event name" },
		{ "2/x,[\"newListener\"]", 0, "reserved event name" },
		{ "51-[\"removeListener\"," PH(0) "]", 0,
		    "reserved event name" },
		{ "5", 0, "illegal attachments" },
		{ "50-", 0, "missing payload" },
		{ "50-{}", 0, "invalid payload" },
		{ "0[]", 0, "invalid payload" },
		{ "0\"x\"", 0, "invalid payload" },
		{ "0null", 0, "invalid payload" },
		{ "1{}", 0, "unexpected payload" },
		{ "1/a,[]", 0, "unexpected payload" },
		{ "3", 0, "missing payload" },
		{ "3{}", 0, "invalid payload" },
		{ "3\"a\"", 0, "invalid payload" },
		{ "60-{}", 0, "invalid payload" },
		{ "4", 0, "missing payload" },
		{ "412", 0, "missing payload" },
		{ "4[]", 0, "invalid payload" },
		{ "4null", 0, "invalid payload" },
		{ "21000000000000000[\"a\"]", 0, "ack id too large" },
		{ "2/x,99999999999999999999999999[\"a\"]", 0,
		    "ack id too large" },
		{ "50-[\"a\"," PH(0) "]", 0, "invalid placeholder" },
		{ "60-[{\"_placeholder\":true}]", 0, "invalid placeholder" },
		{ "60-[{\"_placeholder\":true,\"num\":-1}]", 0,
		    "invalid placeholder" },
	};

	return (cr_make_param_array(struct sio_bad, v, sizeof(v) / sizeof(v[0])));
}

ParameterizedTest(struct sio_bad *b, sio, decode_bad)
{
	struct sio_packet	p;
	char			err[SIO_ERR_MAX] = "";
	size_t			len = b->len ? b->len : strlen(b->in);

	cr_assert_eq(sio_decode(b->in, len, &p, err, sizeof(err)), -1,
	    "accepted %s", b->in);
	cr_assert_str_eq(err, b->reason, "%s", b->in);
	/* A refused packet holds nothing. */
	cr_assert_null(p.sp_nsp);
	cr_assert_null(p.sp_data);
	cr_assert_null(p.sp_attach);
	cr_assert_eq(p.sp_id, -1);
	/* No reason buffer is fine too. */
	cr_assert_eq(sio_decode(b->in, len, &p, NULL, 0), -1);
}

/* "3" then depth opening and closing brackets: an ACK nested depth deep. */
static char *
nested(size_t depth)
{
	char	*s = malloc(2 * depth + 2);

	cr_assert_not_null(s);
	s[0] = '3';
	memset(s + 1, '[', depth);
	memset(s + 1 + depth, ']', depth);
	s[2 * depth + 1] = '\0';
	return (s);
}

Test(sio, depth_limit)
{
	struct sio_packet	 p;
	char			 err[SIO_ERR_MAX];
	char			*s;

	s = nested(SIO_DEPTH_MAX);
	cr_assert_eq(sio_decode(s, strlen(s), &p, err, sizeof(err)), 0, "%s", err);
	sio_packet_clear(&p);
	free(s);

	s = nested(SIO_DEPTH_MAX + 1);
	cr_assert_eq(sio_decode(s, strlen(s), &p, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "JSON nested too deeply");
	free(s);

	/* Far deeper, and objects count as well. */
	s = nested(100000);
	cr_assert_eq(sio_decode(s, strlen(s), &p, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "JSON nested too deeply");
	free(s);

	/* Brackets inside strings are text, not nesting. */
	s = malloc(1000);
	cr_assert_not_null(s);
	strcpy(s, "2[\"");
	memset(s + 3, '[', 200);
	strcpy(s + 203, "\\\"{{{\"]");
	cr_assert_eq(sio_decode(s, strlen(s), &p, err, sizeof(err)), 0, "%s", err);
	sio_packet_clear(&p);
	free(s);
}

Test(sio, depth_objects)
{
	struct sio_packet	 p;
	char			 err[SIO_ERR_MAX];
	char			 s[1024];
	size_t			 i, n = 0;

	n += (size_t)snprintf(s + n, sizeof(s) - n, "2[\"a\"");
	for (i = 1; i < SIO_DEPTH_MAX; i++)
		n += (size_t)snprintf(s + n, sizeof(s) - n, ",{\"k\":[1");
	for (i = 1; i < SIO_DEPTH_MAX; i++)
		n += (size_t)snprintf(s + n, sizeof(s) - n, "]}");
	n += (size_t)snprintf(s + n, sizeof(s) - n, "]");
	cr_assert_lt(n, sizeof(s));
	/* The array at the top, then 63 objects and 63 arrays: 127 levels. */
	cr_assert_eq(sio_decode(s, n, &p, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "JSON nested too deeply");
}

Test(sio, namespace_limit)
{
	struct sio_packet	 p;
	char			 err[SIO_ERR_MAX];
	char			 s[SIO_NSP_MAX + 16];

	/* "2" "/" and 1023 more characters: the longest namespace. */
	s[0] = '2';
	s[1] = '/';
	memset(s + 2, 'n', SIO_NSP_MAX - 1);
	strcpy(s + 1 + SIO_NSP_MAX, ",[\"a\"]");
	cr_assert_eq(sio_decode(s, strlen(s), &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(strlen(p.sp_nsp), SIO_NSP_MAX);
	sio_packet_clear(&p);

	memset(s + 2, 'n', SIO_NSP_MAX);
	strcpy(s + 2 + SIO_NSP_MAX, ",[\"a\"]");
	cr_assert_eq(sio_decode(s, strlen(s), &p, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "namespace too long");
}

Test(sio, attachments)
{
	struct sio_packet	p;
	char			err[SIO_ERR_MAX];
	const char		*s = "52-[\"up\"," PH(1) ",{\"k\":" PH(0) "}]";
	unsigned char		data[3] = { 1, 2, 3 };

	cr_assert_eq(sio_decode(s, strlen(s), &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p.sp_nattach, 2);
	cr_assert_not(sio_complete(&p));
	cr_assert_eq(sio_add_attachment(&p, data, sizeof(data)), 0);
	cr_assert_not(sio_complete(&p));
	/* The bytes are copied. */
	data[0] = 9;
	cr_assert_eq(sio_add_attachment(&p, NULL, 0), 1);
	cr_assert(sio_complete(&p));
	cr_assert_eq(p.sp_nrecv, 2);
	cr_assert_eq(p.sp_attach[0].sa_len, 3);
	cr_assert_eq(p.sp_attach[0].sa_data[0], 1);
	cr_assert_eq(p.sp_attach[0].sa_data[2], 3);
	cr_assert_eq(p.sp_attach[1].sa_len, 0);
	/* One too many. */
	cr_assert_eq(sio_add_attachment(&p, data, 1), -1);
	cr_assert_eq(p.sp_nrecv, 2);
	sio_packet_clear(&p);
	cr_assert_null(p.sp_attach);
	cr_assert_eq(p.sp_nattach, 0);
}

Test(sio, attachments_partial_clear)
{
	struct sio_packet	p;
	const char		*s = "63-[" PH(0) "," PH(1) "," PH(2) "]";

	cr_assert_eq(sio_decode(s, strlen(s), &p, NULL, 0), 0);
	cr_assert_eq(sio_add_attachment(&p, "x", 1), 0);
	/* Freed with one of three received (checked by the sanitizers). */
	sio_packet_clear(&p);
}

Test(sio, attachments_none_expected)
{
	struct sio_packet	p;
	const char		*s;

	s = "2[\"a\"]";
	cr_assert_eq(sio_decode(s, strlen(s), &p, NULL, 0), 0);
	cr_assert(sio_complete(&p));
	cr_assert_eq(sio_add_attachment(&p, "x", 1), -1);
	sio_packet_clear(&p);

	s = "50-[\"a\"]";
	cr_assert_eq(sio_decode(s, strlen(s), &p, NULL, 0), 0);
	cr_assert(sio_complete(&p));
	cr_assert_eq(sio_add_attachment(&p, "x", 1), -1);
	sio_packet_clear(&p);
}

Test(sio, attachments_bad_placeholder)
{
	struct sio_packet	p;
	const char		*s;

	/* num 1 of one attachment: refused when the packet completes. */
	s = "51-[\"up\"," PH(1) "]";
	cr_assert_eq(sio_decode(s, strlen(s), &p, NULL, 0), 0);
	cr_assert_eq(sio_add_attachment(&p, "x", 1), -1);
	sio_packet_clear(&p);

	s = "62-[[{\"a\":{\"_placeholder\":true,\"num\":\"0\"}}]]";
	cr_assert_eq(sio_decode(s, strlen(s), &p, NULL, 0), 0);
	cr_assert_eq(sio_add_attachment(&p, "x", 1), 0);
	cr_assert_eq(sio_add_attachment(&p, "y", 1), -1);
	sio_packet_clear(&p);
}

struct sio_ph {
	char		 json[VEC_MAX];
	int		 ret;
	size_t		 num;
};

ParameterizedTestParameters(sio, placeholder)
{
	static struct sio_ph v[] = {
		{ PH(0), 1, 0 },
		{ PH(7), 1, 7 },
		{ "{\"num\":2,\"_placeholder\":true}", 1, 2 },
		{ "{\"_placeholder\":true,\"num\":1,\"num\":3}", 1, 3 },
		{ "{\"_placeholder\":false,\"num\":0}", 0, 0 },
		{ "{\"_placeholder\":1,\"num\":0}", 0, 0 },
		{ "{\"num\":0}", 0, 0 },
		{ "[" PH(0) "]", 0, 0 },
		{ "\"_placeholder\"", 0, 0 },
		{ "{\"_placeholder\":true}", -1, 0 },
		{ "{\"_placeholder\":true,\"num\":-1}", -1, 0 },
		{ "{\"_placeholder\":true,\"num\":\"0\"}", -1, 0 },
		{ "{\"_placeholder\":true,\"num\":1.5}", -1, 0 },
		{ "{\"_placeholder\":true,\"num\":null}", -1, 0 },
		{ "{\"_placeholder\":true,\"num\":99999999999999999999}", -1, 0 },
	};

	return (cr_make_param_array(struct sio_ph, v, sizeof(v) / sizeof(v[0])));
}

ParameterizedTest(struct sio_ph *ph, sio, placeholder)
{
	yajl_val	v;
	size_t		num = 12345;

	v = sio_json_parse(ph->json, strlen(ph->json), NULL, 0);
	cr_assert_not_null(v, "%s", ph->json);
	cr_assert_eq(sio_placeholder(v, &num), ph->ret, "%s", ph->json);
	if (ph->ret == 1)
		cr_assert_eq(num, ph->num);
	yajl_tree_free(v);
}

Test(sio, placeholders_check)
{
	struct sio_packet	p;
	const char		*s;

	/*
	 * A non-binary packet keeps placeholders as plain objects, so it
	 * decodes; the check alone would refuse this one.
	 */
	s = "2[\"a\"," PH(5) "]";
	cr_assert_eq(sio_decode(s, strlen(s), &p, NULL, 0), 0);
	cr_assert_eq(sio_placeholders_check(&p), -1);
	sio_packet_clear(&p);

	s = "52-[\"a\",{\"x\":[1," PH(1) "]},[" PH(0) "]]";
	cr_assert_eq(sio_decode(s, strlen(s), &p, NULL, 0), 0);
	cr_assert_eq(sio_placeholders_check(&p), 0);
	p.sp_nattach = 1;	/* as if only one had been declared */
	cr_assert_eq(sio_placeholders_check(&p), -1);
	p.sp_nattach = 2;
	sio_packet_clear(&p);
}

/* sio_encode, argument by argument. */
struct sio_enc {
	enum sio_type	 type;
	char		 nsp[VEC_MAX];	/* "-": NULL */
	int64_t		 id;
	char		 json[VEC_MAX];	/* "": none */
	size_t		 nattach;
	char		 out[VEC_MAX];
};

ParameterizedTestParameters(sio, encode)
{
	static struct sio_enc v[] = {
		{ SIO_CONNECT, "/", -1, "", 0, "0" },
		{ SIO_CONNECT, "/admin", -1, "{\"sid\":\"s\"}", 0,
		    "0/admin,{\"sid\":\"s\"}" },
		{ SIO_DISCONNECT, "/x", -1, "", 0, "1/x," },
		{ SIO_DISCONNECT, "-", -1, "", 0, "1" },
		{ SIO_EVENT, "/", -1, "[\"a\"]", 0, "2[\"a\"]" },
		{ SIO_EVENT, "", -1, "[\"a\"]", 0, "2[\"a\"]" },
		{ SIO_EVENT, "-", 3, "[\"a\"]", 0, "23[\"a\"]" },
		{ SIO_EVENT, "/chat", 12, "[\"a\",1]", 0,
		    "2/chat,12[\"a\",1]" },
		{ SIO_ACK, "/", 0, "[]", 0, "30[]" },
		{ SIO_ACK, "/chat", 999999999999999, "[null,\"ok\"]", 0,
		    "3/chat,999999999999999[null,\"ok\"]" },
		{ SIO_CONNECT_ERROR, "/", -1, "{\"message\":\"no\"}", 0,
		    "4{\"message\":\"no\"}" },
		{ SIO_BINARY_EVENT, "/", -1, "[\"up\"," PH(0) "]", 1,
		    "51-[\"up\"," PH(0) "]" },
		{ SIO_BINARY_EVENT, "/f", 4, "[\"up\"]", 0,
		    "50-/f,4[\"up\"]" },
		{ SIO_BINARY_ACK, "/", 7, "[" PH(0) "," PH(1) "]", 2,
		    "62-7[" PH(0) "," PH(1) "]" },
		{ SIO_BINARY_ACK, "/x", -1, "[]", 64, "664-/x,[]" },
	};

	return (cr_make_param_array(struct sio_enc, v, sizeof(v) / sizeof(v[0])));
}

ParameterizedTest(struct sio_enc *e, sio, encode)
{
	struct evbuffer		*b = evbuffer_new();
	struct sio_packet	 p;
	char			 err[SIO_ERR_MAX];
	char			*s;
	const char		*nsp = strcmp(e->nsp, "-") == 0 ? NULL : e->nsp;

	cr_assert_not_null(b);
	sio_encode(b, e->type, nsp, e->id, e->json[0] ? e->json : NULL,
	    strlen(e->json), e->nattach);
	s = drain(b);
	cr_assert_str_eq(s, e->out);
	/* And it decodes to what was encoded. */
	cr_assert_eq(sio_decode(s, strlen(s), &p, err, sizeof(err)), 0,
	    "%s: %s", s, err);
	cr_assert_eq(p.sp_type, e->type);
	cr_assert_str_eq(p.sp_nsp, nsp && nsp[0] ? nsp : "/");
	cr_assert_eq(p.sp_id, e->id);
	cr_assert_eq(p.sp_nattach, e->nattach);
	sio_packet_clear(&p);
	free(s);
	evbuffer_free(b);
}

Test(sio, encode_connect)
{
	struct evbuffer	*b = evbuffer_new();
	char		*s;

	cr_assert_not_null(b);
	sio_encode_connect(b, "/", "AbC-12_x");
	s = drain(b);
	cr_assert_str_eq(s, "0{\"sid\":\"AbC-12_x\"}");
	free(s);

	sio_encode_connect(b, "/admin", "s\"1");
	s = drain(b);
	cr_assert_str_eq(s, "0/admin,{\"sid\":\"s\\\"1\"}");
	free(s);

	sio_encode_connect_error(b, "/", "Not authorized");
	s = drain(b);
	cr_assert_str_eq(s, "4{\"message\":\"Not authorized\"}");
	free(s);

	sio_encode_connect_error(b, "/x", "bad \"nsp\"\n\x01");
	s = drain(b);
	cr_assert_str_eq(s,
	    "4/x,{\"message\":\"bad \\\"nsp\\\"\\n\\u0001\"}");
	free(s);
	evbuffer_free(b);
}

struct sio_str {
	char		 in[VEC_MAX];
	size_t		 len;		/* 0: strlen(in) */
	char		 out[VEC_MAX];
};

ParameterizedTestParameters(sio, json_string)
{
	static struct sio_str v[] = {
		{ "", 0, "\"\"" },
		{ "abc", 0, "\"abc\"" },
		{ "a\"b\\c", 0, "\"a\\\"b\\\\c\"" },
		{ "\b\f\n\r\t", 0, "\"\\b\\f\\n\\r\\t\"" },
		{ "\x01\x1f\x1e", 0, "\"\\u0001\\u001f\\u001e\"" },
		{ "a\0b", 3, "\"a\\u0000b\"" },
		{ "\x7f", 0, "\"\x7f\"" },
		{ "</script>", 0, "\"</script>\"" },
		{ "\xc3\xa9\xe2\x80\xa8", 0, "\"\xc3\xa9\xe2\x80\xa8\"" },
		{ "\"", 0, "\"\\\"\"" },
		{ "x\n", 0, "\"x\\n\"" },
	};

	return (cr_make_param_array(struct sio_str, v, sizeof(v) / sizeof(v[0])));
}

ParameterizedTest(struct sio_str *t, sio, json_string)
{
	struct evbuffer	*b = evbuffer_new();
	char		*s;

	cr_assert_not_null(b);
	sio_json_string(b, t->in, t->len ? t->len : strlen(t->in));
	s = drain(b);
	cr_assert_str_eq(s, t->out);
	free(s);
	evbuffer_free(b);
}

Test(sio, json_string_round_trip)
{
	struct evbuffer	*b = evbuffer_new();
	char		 in[127], *s;
	yajl_val	 v;
	size_t		 i;

	cr_assert_not_null(b);
	for (i = 0; i < sizeof(in); i++)
		in[i] = (char)(i + 1);
	sio_json_string(b, in, sizeof(in));
	s = drain(b);
	v = sio_json_parse(s, strlen(s), NULL, 0);
	cr_assert(YAJL_IS_STRING(v), "%s", s);
	cr_assert_eq(strlen(v->u.string), sizeof(in));
	cr_assert_eq(memcmp(v->u.string, in, sizeof(in)), 0);
	yajl_tree_free(v);
	free(s);
	evbuffer_free(b);
}

Test(sio, json_gen)
{
	struct evbuffer	*b = evbuffer_new();
	yajl_gen	 g;
	char		*s;

	cr_assert_not_null(b);
	g = sio_json_gen(b);
	cr_assert_eq(yajl_gen_map_open(g), yajl_gen_status_ok);
	cr_assert_eq(yajl_gen_string(g, (const unsigned char *)"a", 1),
	    yajl_gen_status_ok);
	cr_assert_eq(yajl_gen_array_open(g), yajl_gen_status_ok);
	cr_assert_eq(yajl_gen_integer(g, 1), yajl_gen_status_ok);
	cr_assert_eq(yajl_gen_string(g, (const unsigned char *)"x\n\"", 3),
	    yajl_gen_status_ok);
	cr_assert_eq(yajl_gen_array_close(g), yajl_gen_status_ok);
	cr_assert_eq(yajl_gen_string(g, (const unsigned char *)"b", 1),
	    yajl_gen_status_ok);
	cr_assert_eq(yajl_gen_bool(g, 1), yajl_gen_status_ok);
	cr_assert_eq(yajl_gen_map_close(g), yajl_gen_status_ok);
	yajl_gen_free(g);
	s = drain(b);
	cr_assert_str_eq(s, "{\"a\":[1,\"x\\n\\\"\"],\"b\":true}");
	free(s);
	evbuffer_free(b);
}

Test(sio, json_value_too_deep)
{
	/* A tree deeper than yajl_gen writes: out is left alone. */
	static struct yajl_val_s	 node[300];
	static yajl_val			 child[300];
	struct evbuffer			*b = evbuffer_new();
	size_t				 i;

	cr_assert_not_null(b);
	for (i = 0; i < 300; i++) {
		node[i].type = yajl_t_array;
		if (i + 1 < 300) {
			child[i] = &node[i + 1];
			node[i].u.array.values = &child[i];
			node[i].u.array.len = 1;
		}
	}
	cr_assert_eq(evbuffer_add(b, "x", 1), 0);
	cr_assert_eq(sio_json_value(b, &node[0]), -1);
	cr_assert_eq(evbuffer_get_length(b), 1);
	cr_assert_eq(sio_json_value(b, &node[250]), 0);
	cr_assert_gt(evbuffer_get_length(b), 1);
	evbuffer_free(b);
}

Test(sio, json_parse_and_equal)
{
	char		err[SIO_ERR_MAX] = "";
	yajl_val	a, b, c;

#define PARSE(s)	sio_json_parse((s), strlen(s), err, sizeof(err))
	a = PARSE("{\"a\":[1,\"x\",null,true]}");
	b = PARSE(" { \"a\" : [ 1 , \"x\" , null , true ] } ");
	c = PARSE("{\"a\":[1,\"x\",null,false]}");
	cr_assert_not_null(a);
	cr_assert_not_null(b);
	cr_assert_not_null(c);
	cr_assert(sio_json_equal(a, b));
	cr_assert_not(sio_json_equal(a, c));
	cr_assert_not(sio_json_equal(a, NULL));
	cr_assert(sio_json_equal(NULL, NULL));
	yajl_tree_free(a);
	yajl_tree_free(b);
	yajl_tree_free(c);

	a = PARSE("{\"a\":1,\"b\":2}");
	b = PARSE("{\"b\":2,\"a\":1}");
	cr_assert_not(sio_json_equal(a, b));	/* member order counts */
	yajl_tree_free(a);
	yajl_tree_free(b);

	a = PARSE("1.0");
	b = PARSE("1");
	cr_assert_not(sio_json_equal(a, b));	/* numbers by their text */
	yajl_tree_free(a);
	yajl_tree_free(b);

	cr_assert_null(PARSE(""));
	cr_assert_str_eq(err, "invalid JSON");
	cr_assert_null(PARSE("[1]/"));
	cr_assert_str_eq(err, "comment in JSON");
#undef PARSE
}

Test(sio, reserved_events)
{
	cr_assert(sio_event_reserved("connect"));
	cr_assert(sio_event_reserved("connect_error"));
	cr_assert(sio_event_reserved("disconnect"));
	cr_assert(sio_event_reserved("disconnecting"));
	cr_assert(sio_event_reserved("newListener"));
	cr_assert(sio_event_reserved("removeListener"));
	cr_assert_not(sio_event_reserved("Connect"));
	cr_assert_not(sio_event_reserved("message"));
	cr_assert_not(sio_event_reserved(""));
}

/*
 * "\u0000" in an argument is accepted: the tree cuts the string there,
 * the raw text keeps it for passing the argument on.
 */
Test(sio, raw_keeps_nul)
{
	struct sio_packet	 p;
	char			 err[SIO_ERR_MAX];
	const char		*e;
	size_t			 elen;
	static const char	 pkt[] = "2[\"a\",{\"k\\u0000x\":\"v\\u0000w\"}, 2e400 ]";

	memset(&p, 0, sizeof(p));
	cr_assert_eq(sio_decode(pkt, strlen(pkt), &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sio_json_element(p.sp_raw, p.sp_rawlen, 1, &e, &elen), 0);
	cr_expect_eq(elen, strlen("{\"k\\u0000x\":\"v\\u0000w\"}"));
	cr_expect(memcmp(e, "{\"k\\u0000x\":\"v\\u0000w\"}", elen) == 0);
	cr_assert_eq(sio_json_element(p.sp_raw, p.sp_rawlen, 2, &e, &elen), 0);
	cr_expect(elen == 5 && memcmp(e, "2e400", 5) == 0);
	cr_expect_eq(sio_json_element(p.sp_raw, p.sp_rawlen, 3, &e, &elen), -1);
	sio_packet_clear(&p);
}
