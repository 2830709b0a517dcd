/*
 * test_session.c: a socket's session state, its dirty keys and the
 * arguments of the save script, and the worker's session cache, without
 * Redis.
 */
#include "config.h"

#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <openssl/sha.h>
#include <yajl/yajl_tree.h>

#include "nsp.h"
#include "redis.h"
#include "session.h"
#include "session_cache.h"

#define SID		"0123456789abcdef0123456789abcdef"
#define GKEY		"rain:s:" SID
#define CKEY		"rain:s:" SID ":chat"
#define TTL		86400000

/* An HGETALL reply built by hand from key/value pairs. */
struct fake_reply {
	redisReply	 top;
	redisReply	*elems[16];
	redisReply	 items[16];
};

static void
fake_hgetall(struct fake_reply *f, const char **kv, size_t n)
{
	size_t i;

	memset(f, 0, sizeof(*f));
	f->top.type = REDIS_REPLY_ARRAY;
	f->top.elements = n;
	f->top.element = f->elems;
	for (i = 0; i < n; i++) {
		f->items[i].type = REDIS_REPLY_STRING;
		f->items[i].str = (char *)kv[i];
		f->items[i].len = strlen(kv[i]);
		f->elems[i] = &f->items[i];
	}
}

static void
assert_args(const struct session_args *sa, const char **want, size_t n)
{
	size_t i;

	cr_assert_eq((size_t)sa->sa_argc, n, "argc %d, want %zu", sa->sa_argc, n);
	for (i = 0; i < n; i++) {
		cr_assert_eq(sa->sa_argvlen[i], strlen(want[i]), "arg %zu", i);
		cr_assert_eq(memcmp(sa->sa_argv[i], want[i], strlen(want[i])), 0,
		    "arg %zu: \"%s\", want \"%s\"", i, sa->sa_argv[i], want[i]);
	}
}

Test(session, nothing_dirty_refreshes_expiry_only)
{
	struct session_state	*ss = session_state_new("rain:", SID, "chat");
	struct session_args	 sa;
	const char		*want[] = { "EVALSHA", "abc", "2", GKEY, CKEY,
				    "86400000", "0", "0", "0", "0" };

	cr_assert_eq(session_state_dirty(ss), 0);
	session_save_args(ss, "EVALSHA", "abc", TTL, &sa);
	assert_args(&sa, want, sizeof(want) / sizeof(want[0]));
	session_args_free(&sa);
	session_state_free(ss);
}

Test(session, only_dirty_keys_are_saved)
{
	struct session_state	*ss = session_state_new("rain:", SID, "chat");
	struct fake_reply	 g, c;
	const char		*gkv[] = { "user", "\"ann\"", "lang", "\"en\"" };
	const char		*ckv[] = { "value", "1", "old", "[1,2]", "keep", "true" };
	const char		*why;
	struct session_args	 sa;
	yajl_val		 v;
	const char		*want[] = { "EVAL", "script", "2", GKEY, CKEY, "86400000",
				    /* global: lang set, nothing removed */
				    "1", "0", "lang", "\"fr\"",
				    /* component: value changed, new added, old removed */
				    "2", "1", "value", "{\"a\":2}", "new", "null", "old" };

	fake_hgetall(&g, gkv, 4);
	fake_hgetall(&c, ckv, 6);
	cr_assert_eq(session_state_load(ss, 1, &g.top, &why), 0);
	cr_assert_eq(session_state_load(ss, 0, &c.top, &why), 0);
	cr_assert_eq(session_state_dirty(ss), 0);

	cr_assert_eq(session_state_get(ss, 0, "value", &v), 0);
	cr_assert(YAJL_IS_NUMBER(v));
	cr_assert_eq(session_state_get(ss, 1, "user", &v), 0);
	cr_assert_str_eq(YAJL_GET_STRING(v), "ann");
	cr_assert_eq(session_state_get(ss, 0, "user", &v), 0);
	cr_assert_null(v, "the component session is not the global one");

	cr_assert_eq(session_state_set(ss, 1, "lang", "\"fr\"", 4), 0);
	cr_assert_eq(session_state_set(ss, 0, "value", "{\"a\":2}", 7), 0);
	cr_assert_eq(session_state_set(ss, 0, "new", "null", 4), 0);
	cr_assert_eq(session_state_remove(ss, 0, "old"), 0);
	cr_assert_eq(session_state_dirty(ss), 4);

	cr_assert_eq(session_state_get(ss, 0, "old", &v), 0);
	cr_assert_null(v, "removed");
	cr_assert_eq(session_state_get(ss, 0, "new", &v), 0);
	cr_assert(YAJL_IS_NULL(v));

	session_save_args(ss, "EVAL", "script", TTL, &sa);
	assert_args(&sa, want, sizeof(want) / sizeof(want[0]));
	session_args_free(&sa);

	session_state_clear(ss);
	cr_assert_eq(session_state_dirty(ss), 0);
	session_state_free(ss);
}

Test(session, set_then_remove_is_a_removal)
{
	struct session_state	*ss = session_state_new("p:", SID, "c");
	struct session_args	 sa;
	const char		*want[] = { "EVALSHA", "x", "2", "p:s:" SID, "p:s:" SID ":c",
				    "1000", "0", "1", "gone", "0", "0" };

	cr_assert_eq(session_state_set(ss, 1, "gone", "1", 1), 0);
	cr_assert_eq(session_state_remove(ss, 1, "gone"), 0);
	cr_assert_eq(session_state_dirty(ss), 1);
	session_save_args(ss, "EVALSHA", "x", 1000, &sa);
	assert_args(&sa, want, sizeof(want) / sizeof(want[0]));
	session_args_free(&sa);
	session_state_free(ss);
}

Test(session, values_stay_valid_until_clear)
{
	struct session_state	*ss = session_state_new("rain:", SID, "chat");
	yajl_val		 v, d;

	cr_assert_eq(session_state_set(ss, 0, "k", "\"one\"", 5), 0);
	cr_assert_eq(session_state_get(ss, 0, "k", &v), 0);
	cr_assert_eq(session_state_dump(ss, 0, &d), 0);
	cr_assert_eq(session_state_set(ss, 0, "k", "\"two\"", 5), 0);
	/* The old value and dump still read fine (ASan would say otherwise). */
	cr_assert_str_eq(YAJL_GET_STRING(v), "one");
	cr_assert(YAJL_IS_OBJECT(d));
	cr_assert_eq(YAJL_GET_OBJECT(d)->len, 1);
	cr_assert_str_eq(YAJL_GET_STRING(YAJL_GET_OBJECT(d)->values[0]), "one");
	cr_assert_eq(session_state_get(ss, 0, "k", &v), 0);
	cr_assert_str_eq(YAJL_GET_STRING(v), "two");
	session_state_free(ss);
}

Test(session, dump_of_keys_with_odd_characters)
{
	struct session_state	*ss = session_state_new("rain:", SID, "chat");
	yajl_val		 d;
	const char		*path[] = { "a \"b\"\n", NULL };

	cr_assert_eq(session_state_set(ss, 0, "a \"b\"\n", "[1]", 3), 0);
	cr_assert_eq(session_state_set(ss, 0, "x", "{}", 2), 0);
	cr_assert_eq(session_state_remove(ss, 0, "x"), 0);
	cr_assert_eq(session_state_dump(ss, 0, &d), 0);
	cr_assert_eq(YAJL_GET_OBJECT(d)->len, 1);
	cr_assert(YAJL_IS_ARRAY(yajl_tree_get(d, path, yajl_t_array)));
	session_state_free(ss);
}

Test(session, limits)
{
	struct session_state	*ss = session_state_new("rain:", SID, "chat");
	char			*key;
	char			 name[32];
	size_t			 i;

	cr_assert_eq(session_state_set(ss, 0, "", "1", 1), -1);
	key = malloc(SESSION_KEY_MAX + 2);
	memset(key, 'k', SESSION_KEY_MAX + 1);
	key[SESSION_KEY_MAX + 1] = '\0';
	cr_assert_eq(session_state_set(ss, 0, key, "1", 1), -1);
	key[SESSION_KEY_MAX] = '\0';
	cr_assert_eq(session_state_set(ss, 0, key, "1", 1), 0);
	free(key);
	for (i = 1; i < SESSION_KEYS_MAX; i++) {
		snprintf(name, sizeof(name), "k%zu", i);
		cr_assert_eq(session_state_set(ss, 0, name, "1", 1), 0);
	}
	cr_assert_eq(session_state_set(ss, 0, "one too many", "1", 1), -1);
	/* The global session has its own room. */
	cr_assert_eq(session_state_set(ss, 1, "one too many", "1", 1), 0);
	session_state_free(ss);
}

Test(session, bad_replies)
{
	struct session_state	*ss = session_state_new("rain:", SID, "chat");
	struct fake_reply	 f;
	const char		*kv[] = { "a", "1", "b" };
	const char		*why;
	redisReply		 err;

	fake_hgetall(&f, kv, 3);
	cr_assert_eq(session_state_load(ss, 0, &f.top, &why), -1);
	memset(&err, 0, sizeof(err));
	err.type = REDIS_REPLY_ERROR;
	err.str = "WRONGTYPE Operation against a key holding the wrong kind of value";
	err.len = strlen(err.str);
	cr_assert_eq(session_state_load(ss, 1, &err, &why), -1);
	cr_assert_str_eq(why, err.str);
	session_state_free(ss);
}

Test(session, not_json_in_redis)
{
	struct session_state	*ss = session_state_new("rain:", SID, "chat");
	struct fake_reply	 f;
	const char		*kv[] = { "a", "not json", "b", "2" };
	const char		*why;
	yajl_val		 v, d;

	fake_hgetall(&f, kv, 4);
	cr_assert_eq(session_state_load(ss, 0, &f.top, &why), 0);
	cr_assert_eq(session_state_get(ss, 0, "a", &v), -1);
	cr_assert_eq(session_state_get(ss, 0, "b", &v), 0);
	/* The dump leaves out what is not JSON rather than failing. */
	cr_assert_eq(session_state_dump(ss, 0, &d), 0);
	cr_assert_eq(YAJL_GET_OBJECT(d)->len, 1);
	session_state_free(ss);
}

Test(session, script_text)
{
	const char *s = session_script();

	cr_assert(strstr(s, "HSET") != NULL);
	cr_assert(strstr(s, "HDEL") != NULL);
	cr_assert(strstr(s, "PEXPIRE") != NULL);
}

/* Two fields for the cache tests. */
static const struct session_field cache_fields[2] = {
	{ "a", 1, "1", 1 },
	{ "b", 1, "\"two\"", 5 }
};

/* Read key with the ticket of a read sent now, and put the reply. */
static void
cache_load(struct session_cache *sc, const char *key)
{
	uint64_t t = session_cache_reading(sc, key);

	cr_assert_neq(t, 0);
	session_cache_put(sc, key, t, cache_fields, 2);
}

Test(session_cache, untrusted_answers_nothing)
{
	struct session_cache		*sc = session_cache_new(8);
	const struct session_field	*f;
	size_t				 n;

	cr_assert_eq(session_cache_reading(sc, GKEY), 0);
	session_cache_put(sc, GKEY, 1, cache_fields, 2);
	cr_assert_eq(session_cache_get(sc, GKEY, &f, &n), 0);
	session_cache_trust(sc, 1);
	cache_load(sc, GKEY);
	cr_assert_eq(session_cache_get(sc, GKEY, &f, &n), 1);
	cr_assert_eq(n, 2);
	cr_assert_eq(memcmp(f[1].sf_val, "\"two\"", 5), 0);
	/* Untrusted again: flushed, and what comes back is not kept. */
	session_cache_trust(sc, 0);
	cr_assert_eq(session_cache_count(sc), 0);
	cr_assert_eq(session_cache_get(sc, GKEY, &f, &n), 0);
	session_cache_trust(sc, 1);
	cr_assert_eq(session_cache_get(sc, GKEY, &f, &n), 0, "flushed when trusted");
	session_cache_free(sc);
}

Test(session_cache, invalidation_during_a_read)
{
	struct session_cache		*sc = session_cache_new(8);
	const struct session_field	*f;
	size_t				 n;
	uint64_t			 t1, t2;

	session_cache_trust(sc, 1);
	/* The invalidation comes before the reply: the reply is stale. */
	t1 = session_cache_reading(sc, GKEY);
	session_cache_invalidate(sc, GKEY, strlen(GKEY));
	session_cache_put(sc, GKEY, t1, cache_fields, 2);
	cr_assert_eq(session_cache_get(sc, GKEY, &f, &n), 0);
	/* Even when another read made the entry again in between. */
	t1 = session_cache_reading(sc, GKEY);
	session_cache_invalidate(sc, GKEY, strlen(GKEY));
	t2 = session_cache_reading(sc, GKEY);
	session_cache_put(sc, GKEY, t1, cache_fields, 2);
	cr_assert_eq(session_cache_get(sc, GKEY, &f, &n), 0, "old ticket kept");
	session_cache_put(sc, GKEY, t2, cache_fields, 1);
	cr_assert_eq(session_cache_get(sc, GKEY, &f, &n), 1);
	cr_assert_eq(n, 1);
	/* A flush (FLUSHALL) forgets everything, trust stays. */
	session_cache_flush(sc);
	cr_assert_eq(session_cache_get(sc, GKEY, &f, &n), 0);
	cr_assert(session_cache_trusted(sc));
	session_cache_free(sc);
}

Test(session_cache, empty_hash_and_other_keys)
{
	struct session_cache		*sc = session_cache_new(8);
	const struct session_field	*f;
	size_t				 n;
	uint64_t			 t;

	session_cache_trust(sc, 1);
	t = session_cache_reading(sc, CKEY);
	session_cache_put(sc, CKEY, t, NULL, 0);
	cr_assert_eq(session_cache_get(sc, CKEY, &f, &n), 1, "a missing hash is known");
	cr_assert_eq(n, 0);
	cache_load(sc, GKEY);
	/* A key that differs by a NUL and more bytes is another key. */
	session_cache_invalidate(sc, CKEY "\0x", strlen(CKEY) + 2);
	session_cache_invalidate(sc, "rain:s:", 7);
	cr_assert_eq(session_cache_get(sc, CKEY, &f, &n), 1);
	session_cache_invalidate(sc, CKEY, strlen(CKEY));
	cr_assert_eq(session_cache_get(sc, CKEY, &f, &n), 0);
	cr_assert_eq(session_cache_get(sc, GKEY, &f, &n), 1);
	session_cache_free(sc);
}

Test(session_cache, bounded_least_recently_used)
{
	struct session_cache		*sc = session_cache_new(4);
	const struct session_field	*f;
	struct session_field		 big = { "k", 1, NULL, SESSION_CACHE_ENTRY_MAX };
	char				 key[32];
	size_t				 n;
	int				 i;

	session_cache_trust(sc, 1);
	for (i = 0; i < 4; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		cache_load(sc, key);
	}
	/* k0 used: k1 is now the least recently used. */
	cr_assert_eq(session_cache_get(sc, "k0", &f, &n), 1);
	for (i = 4; i < 100; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		cache_load(sc, key);
		cr_assert_leq(session_cache_count(sc), 4);
		if (i == 4) {
			cr_assert_eq(session_cache_get(sc, "k1", &f, &n), 0, "k1 evicted");
			cr_assert_eq(session_cache_get(sc, "k0", &f, &n), 1, "k0 kept");
		}
	}
	cr_assert_eq(session_cache_get(sc, "k99", &f, &n), 1);
	/* A hash larger than an entry may be is not kept. */
	big.sf_val = calloc(1, SESSION_CACHE_ENTRY_MAX);
	cr_assert_not_null(big.sf_val);
	session_cache_put(sc, "k99", session_cache_reading(sc, "k99"), &big, 1);
	cr_assert_eq(session_cache_get(sc, "k99", &f, &n), 0);
	free((void *)big.sf_val);
	session_cache_free(sc);
}

Test(session, fill_from_cache_fields)
{
	struct session_state	*ss = session_state_new("rain:", SID, "chat");
	struct session_field	 f[2] = { { "x", 1, "[1]", 3 }, { "n\0ul", 4, "2", 1 } };
	yajl_val		 v;

	session_state_fill(ss, 0, f, 2);
	cr_assert_eq(session_state_get(ss, 0, "x", &v), 0);
	cr_assert(YAJL_IS_ARRAY(v));
	cr_assert_eq(session_state_get(ss, 0, "n", &v), 0);
	cr_assert_null(v, "a key with a NUL is skipped");
	cr_assert_eq(session_state_dirty(ss), 0);
	session_state_free(ss);
}

/*
 * The rest of the worker is not linked in: what session.c calls of it
 * when it talks to Redis is never reached by these tests.
 */
void
nsp_stage_done(struct nsp_job *job, const char *error)
{
	(void)job;
	(void)error;
	cr_assert_fail("nsp_stage_done called");
}

int
nsp_job_connecting(const struct nsp_job *job)
{
	(void)job;
	cr_assert_fail("nsp_job_connecting called");
	return (0);
}

void
nsp_registry_set_store(struct nsp_registry *reg, const struct nsp_store_ops *ops,
    void *arg)
{
	(void)reg;
	(void)ops;
	(void)arg;
}

void
redis_command(struct redis *r, redis_reply_fn *fn, void *arg, int argc,
    const char **argv, const size_t *argvlen)
{
	(void)r;
	(void)fn;
	(void)arg;
	(void)argc;
	(void)argv;
	(void)argvlen;
	cr_assert_fail("redis_command called");
}

void
redis_track(struct redis *r, redis_track_fn *fn, void *arg)
{
	(void)r;
	(void)fn;
	(void)arg;
}

/* Invalidations are handed over directly in these tests. */
void
redis_sub_poll(struct redis *r)
{
	(void)r;
}
