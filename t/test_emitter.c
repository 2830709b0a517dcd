/*
 * test_emitter.c: the Socket.IO Redis emitter's message format.
 *
 * The messages are built here with libmsgpack's packer, field by field
 * as the emitter writes them, so the decoder is checked against the
 * format, not against its own encoder; the encoder is then checked by
 * decoding what it wrote.
 */
#include "config.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <msgpack.h>
#include <yajl/yajl_tree.h>

#include "emitter_codec.h"
#include "sio_codec.h"

static msgpack_sbuffer	sb;
static msgpack_packer	pk;

static void
pack_start(void)
{
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
}

static void
pack_str(const char *s)
{
	msgpack_pack_str(&pk, strlen(s));
	msgpack_pack_str_body(&pk, s, strlen(s));
}

/* [uid, {type, data: [event, <args packed by fn>], nsp}, opts with rooms/except]. */
static void
pack_message(int type, const char *nsp, const char *event, size_t nargs,
    void (*args)(void), const char *const *rooms, size_t nrooms,
    const char *const *except, size_t nexcept)
{
	size_t i;

	pack_start();
	msgpack_pack_array(&pk, 3);
	pack_str("emitter");
	msgpack_pack_map(&pk, 3);
	pack_str("type");
	msgpack_pack_int(&pk, type);
	pack_str("data");
	msgpack_pack_array(&pk, 1 + nargs);
	pack_str(event);
	if (args != NULL)
		args();
	pack_str("nsp");
	pack_str(nsp);
	msgpack_pack_map(&pk, 3);
	pack_str("rooms");
	msgpack_pack_array(&pk, nrooms);
	for (i = 0; i < nrooms; i++)
		pack_str(rooms[i]);
	pack_str("flags");
	msgpack_pack_map(&pk, 0);
	pack_str("except");
	msgpack_pack_array(&pk, nexcept);
	for (i = 0; i < nexcept; i++)
		pack_str(except[i]);
}

/* What pack_message built decodes: into m; the packed bytes are freed. */
static void
decoded(struct emitter_msg *m)
{
	char err[EMITTER_ERR_MAX];

	cr_assert_eq(emitter_decode(sb.data, sb.size, m, err), 0, "%s", err);
	msgpack_sbuffer_destroy(&sb);
}

static void
args_plain(void)
{
	pack_str("two");
	msgpack_pack_int(&pk, -42);
	msgpack_pack_uint64(&pk, 18446744073709551615ULL);
	msgpack_pack_double(&pk, 0.1);
	msgpack_pack_map(&pk, 2);
	pack_str("k");
	msgpack_pack_array(&pk, 3);
	msgpack_pack_true(&pk);
	msgpack_pack_false(&pk);
	msgpack_pack_nil(&pk);
	msgpack_pack_int(&pk, 7);	/* an integer key becomes a string */
	pack_str("\"quoted\" \xc3\xa9");
}

Test(emitter, decodes_rooms_except_and_plain_values)
{
	const char *rooms[] = { "r1", "r2" }, *except[] = { "banned" };
	struct emitter_msg m;

	pack_message(2, "/chat/1.0/chat", "news", 5, args_plain, rooms, 2,
	    except, 1);
	decoded(&m);
	cr_assert_str_eq(m.em_nsp, "/chat/1.0/chat");
	cr_assert_eq(m.em_nrooms, 2);
	cr_assert_str_eq(m.em_rooms[0], "r1");
	cr_assert_str_eq(m.em_rooms[1], "r2");
	cr_assert_eq(m.em_nexcept, 1);
	cr_assert_str_eq(m.em_except[0], "banned");
	cr_assert_str_eq(m.em_json, "[\"news\",\"two\",-42,18446744073709551615,"
	    "0.1,{\"k\":[true,false,null],\"7\":\"\\\"quoted\\\" \xc3\xa9\"}]");
	cr_assert_eq(m.em_jsonlen, strlen(m.em_json));
	cr_assert_eq(m.em_nattach, 0);
	emitter_msg_clear(&m);
}

static void
args_binary(void)
{
	msgpack_pack_bin(&pk, 3);
	msgpack_pack_bin_body(&pk, "\x00\x01\xff", 3);
	msgpack_pack_map(&pk, 1);
	pack_str("more");
	msgpack_pack_bin(&pk, 0);
}

Test(emitter, binaries_become_attachments)
{
	struct emitter_msg m;

	pack_message(5, "/b", "bin", 2, args_binary, NULL, 0, NULL, 0);
	decoded(&m);
	cr_assert_str_eq(m.em_json, "[\"bin\",{\"_placeholder\":true,\"num\":0},"
	    "{\"more\":{\"_placeholder\":true,\"num\":1}}]");
	cr_assert_eq(m.em_nattach, 2);
	cr_assert_eq(m.em_attach[0].sa_len, 3);
	cr_assert(memcmp(m.em_attach[0].sa_data, "\x00\x01\xff", 3) == 0);
	cr_assert_eq(m.em_attach[1].sa_len, 0);
	cr_assert_eq(m.em_nrooms, 0);
	emitter_msg_clear(&m);
}

/* A timestamp as the emitter writes a Date (ext -1), seconds and nanoseconds. */
static void
args_dates(void)
{
	/* timestamp 32: 2021-01-01T00:00:00Z */
	msgpack_pack_ext(&pk, 4, -1);
	msgpack_pack_ext_body(&pk, "\x5f\xee\x66\x00", 4);
	/* timestamp 64: 0.5 s after the same second (nanoseconds << 2). */
	msgpack_pack_ext(&pk, 8, -1);
	msgpack_pack_ext_body(&pk, "\x77\x35\x94\x00\x5f\xee\x66\x00", 8);
	msgpack_pack_double(&pk, 1.0 / 0.0);	/* JSON has no Infinity */
}

Test(emitter, dates_and_infinities_as_json_gives_them)
{
	struct emitter_msg m;

	pack_message(2, "/", "t", 3, args_dates, NULL, 0, NULL, 0);
	decoded(&m);
	cr_assert_str_eq(m.em_json, "[\"t\",\"2021-01-01T00:00:00.000Z\","
	    "\"2021-01-01T00:00:00.500Z\",null]");
	emitter_msg_clear(&m);
}

static void
refused(const void *buf, size_t len, const char *why)
{
	struct emitter_msg m;
	char err[EMITTER_ERR_MAX];

	cr_assert_eq(emitter_decode(buf, len, &m, err), -1, "accepted: %s", why);
	cr_assert_neq(err[0], '\0');
	cr_assert_null(m.em_nsp);
	cr_assert_null(m.em_json);
}

/* The message pack_message (or pack_start) built is refused; then freed. */
static void
refused_packed(const char *why)
{
	refused(sb.data, sb.size, why);
	msgpack_sbuffer_destroy(&sb);
}

static void
args_other_ext(void)
{
	msgpack_pack_ext(&pk, 1, 5);
	msgpack_pack_ext_body(&pk, "x", 1);
}

static void
args_bad_utf8(void)
{
	msgpack_pack_str(&pk, 2);
	msgpack_pack_str_body(&pk, "\xc3\x28", 2);
}

static void
args_deep(void)
{
	int i;

	for (i = 0; i < EMITTER_DEPTH_MAX + 2; i++)
		msgpack_pack_array(&pk, 1);
	msgpack_pack_nil(&pk);
}

Test(emitter, refuses_what_is_not_the_format)
{
	const char *many[EMITTER_ROOMS_MAX + 1], *empty[] = { "" };
	char longname[300];
	const char *longroom[] = { longname };
	size_t i;

	refused("\xc1", 1, "a reserved byte");
	/* Sizes that would make libmsgpack allocate gigabytes first. */
	refused("\x97\xdf\xdf\xdf\xdf\xdf\xff", 7, "a map of 3.7e9 pairs");
	refused("\x91\xdd\xff\xff\xff\xff", 6, "an array of 4e9 elements");
	refused("\x92\x92\x01\x02\x93\x01\x02", 7, "one element short");
	refused("\x93\xa1", 2, "truncated");
	refused("", 0, "empty");

	pack_message(2, "/a", "e", 0, NULL, NULL, 0, NULL, 0);
	msgpack_pack_nil(&pk);
	refused_packed("bytes after the message");

	pack_message(3, "/a", "e", 0, NULL, NULL, 0, NULL, 0);
	refused_packed("an ack, not an event");

	pack_message(2, "a", "e", 0, NULL, NULL, 0, NULL, 0);
	refused_packed("a namespace without its slash");

	for (i = 0; i < EMITTER_ROOMS_MAX + 1; i++)
		many[i] = "r";
	pack_message(2, "/a", "e", 0, NULL, many, EMITTER_ROOMS_MAX + 1, NULL, 0);
	refused_packed("too many rooms");

	pack_message(2, "/a", "e", 0, NULL, NULL, 0, empty, 1);
	refused_packed("an empty room name");

	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	pack_message(2, "/a", "e", 0, NULL, longroom, 1, NULL, 0);
	refused_packed("a room name over 256 bytes");

	pack_message(2, "/a", "e", 1, args_other_ext, NULL, 0, NULL, 0);
	refused_packed("an extension type");

	pack_message(2, "/a", "e", 1, args_bad_utf8, NULL, 0, NULL, 0);
	refused_packed("a string that is not UTF-8");

	pack_message(2, "/a", "e", 1, args_deep, NULL, 0, NULL, 0);
	refused_packed("nesting beyond the limit");

	/* An event name must be a string; data must not be empty. */
	pack_start();
	msgpack_pack_array(&pk, 2);
	pack_str("emitter");
	msgpack_pack_map(&pk, 2);
	pack_str("type");
	msgpack_pack_int(&pk, 2);
	pack_str("data");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_int(&pk, 1);
	refused_packed("an event name that is a number");
}

Test(emitter, opts_and_nsp_may_be_missing)
{
	struct emitter_msg m;

	pack_start();
	msgpack_pack_array(&pk, 2);
	pack_str("emitter");
	msgpack_pack_map(&pk, 2);
	pack_str("type");
	msgpack_pack_int(&pk, 2);
	pack_str("data");
	msgpack_pack_array(&pk, 1);
	pack_str("ping");
	decoded(&m);
	cr_assert_str_eq(m.em_nsp, "/");
	cr_assert_str_eq(m.em_json, "[\"ping\"]");
	cr_assert_eq(m.em_nrooms + m.em_nexcept, 0);
	emitter_msg_clear(&m);
}

Test(emitter, encoder_writes_what_the_decoder_reads)
{
	const char *rooms[] = { "lobby" }, *except[] = { "a", "b" };
	const char *json = "[1, -2, 2.5, \"s\\u00e9\", {\"o\": [null, true]}, []]";
	struct emitter_msg m;
	struct evbuffer *b = evbuffer_new();
	yajl_val args;
	char err[EMITTER_ERR_MAX], perr[64];

	args = yajl_tree_parse(json, perr, sizeof(perr));
	cr_assert_not_null(args);
	cr_assert_eq(emitter_encode(b, "/x/1.0/y", rooms, 1, except, 2, "ev",
	    args, err), 0, "%s", err);
	cr_assert_eq(emitter_decode(evbuffer_pullup(b, -1),
	    evbuffer_get_length(b), &m, err), 0, "%s", err);
	cr_assert_str_eq(m.em_nsp, "/x/1.0/y");
	cr_assert_str_eq(m.em_json,
	    "[\"ev\",1,-2,2.5,\"s\xc3\xa9\",{\"o\":[null,true]},[]]");
	cr_assert_eq(m.em_nrooms, 1);
	cr_assert_str_eq(m.em_rooms[0], "lobby");
	cr_assert_eq(m.em_nexcept, 2);
	cr_assert_str_eq(m.em_except[1], "b");
	emitter_msg_clear(&m);
	yajl_tree_free(args);
	evbuffer_free(b);
}

Test(emitter, channels_as_the_node_adapter_listens)
{
	const char *one[] = { "r1" }, *two[] = { "r1", "r2" };
	char *ch;

	ch = emitter_channel("socket.io", "/a", one, 1);
	cr_assert_str_eq(ch, "socket.io#/a#r1#");
	free(ch);
	ch = emitter_channel("socket.io", "/a", two, 2);
	cr_assert_str_eq(ch, "socket.io#/a#");
	free(ch);
	ch = emitter_channel("k", "/", NULL, 0);
	cr_assert_str_eq(ch, "k#/#");
	free(ch);
}
