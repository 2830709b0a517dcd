/*
 * session.c: RAIN sessions in Redis.  See session.h.
 *
 * A socket's session state lives in ns_session from its CONNECT on.  It
 * holds data only while an event is being processed: the load fills it
 * (both hashes, in one pipelined round trip), the listeners read and
 * change it, the save writes the changed keys and empties it again.  An
 * idle socket therefore costs a few bytes, and every event sees what the
 * other workers saved before it started.
 *
 * Only changed keys are written, by one Lua script (atomic in Redis):
 * two events on different workers that change different keys of one
 * session both survive; on the same key the later save wins, and a value
 * is always written whole.
 *
 * With session_cache_size, the hashes read are kept in the worker's
 * cache (session_cache.h) as long as Redis's client-side caching says
 * they did not change: a load then costs no round trip, and still sees
 * every save made before it, here or elsewhere.  A CONNECT always reads
 * Redis, so RAIN's rule (the global session must exist) is checked
 * against Redis itself.  The worker's own saves are not reported back to
 * it (NOLOOP): each save invalidates its keys when it is sent.
 */
#include "config.h"

#include <sys/queue.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <openssl/sha.h>
#include <yajl/yajl_tree.h>

#include "component.h"
#include "conf.h"
#include "cookie.h"
#include "json.h"
#include "log.h"
#include "nsp.h"
#include "redis.h"
#include "session.h"
#include "session_cache.h"
#include "stats.h"
#include "util.h"
#include "xmalloc.h"

#define SESSION_GLOBAL		1	/* index of the global map */
#define SESSION_COMPONENT	0
#define SESSION_SHA_HEX		(SHA_DIGEST_LENGTH * 2)
#define SESSION_ERR_MAX		256
#define SESSION_NOSCRIPT	"NOSCRIPT"

_Static_assert(SESSION_ID_LEN == COOKIE_SID_LEN,
    "a session id is a cookie's sid");

/*
 * KEYS[1] global hash, KEYS[2] component hash; ARGV[1] ttl in ms, then
 * for each hash: the number of keys set, the number removed, the pairs,
 * the removed keys.  PEXPIRE on a hash that does not exist is a no-op.
 */
static const char session_lua[] =
    "local ttl = ARGV[1]\n"
    "local i = 2\n"
    "for k = 1, 2 do\n"
    "  local nset = tonumber(ARGV[i])\n"
    "  local ndel = tonumber(ARGV[i + 1])\n"
    "  i = i + 2\n"
    "  for j = 1, nset do\n"
    "    redis.call('HSET', KEYS[k], ARGV[i], ARGV[i + 1])\n"
    "    i = i + 2\n"
    "  end\n"
    "  for j = 1, ndel do\n"
    "    redis.call('HDEL', KEYS[k], ARGV[i])\n"
    "    i = i + 1\n"
    "  end\n"
    "  redis.call('PEXPIRE', KEYS[k], ttl)\n"
    "end\n"
    "return 1\n";

struct session_entry {
	char		*se_key;
	char		*se_json;	/* NUL-terminated; NULL: removed */
	size_t		 se_len;
	yajl_val	 se_val;	/* parsed on the first get */
	int		 se_dirty;	/* set or removed since the load */
};

struct session_map {
	struct session_entry	*sm_v;
	size_t			 sm_n;
	size_t			 sm_cap;
};

struct session_state {
	char			*ss_keys[2];	/* Redis keys: component, global */
	struct session_map	 ss_maps[2];
	yajl_val		*ss_garbage;	/* values handed out, freed at clear */
	size_t			 ss_ngarbage;
	size_t			 ss_garbage_cap;
	int64_t			 ss_refreshed;	/* ms of the last expiry refresh */
	int			 ss_global_missing; /* the last load found no global hash */
	struct session_req	*ss_req;	/* load or save in flight */
};

struct session_req;

static void	session_save_cb(void *, struct redisReply *, const char *);

/* One reply of a request: which hash it is for. */
struct session_part {
	struct session_req	*sp_req;
	int			 sp_global;
	uint64_t		 sp_ticket;	/* session_cache_reading; 0: not kept */
};

struct session_req {
	LIST_ENTRY(session_req)	 sr_entry;
	struct session_store	*sr_store;	/* NULL: cancelled */
	struct session_state	*sr_state;
	struct nsp_job		*sr_job;
	struct session_part	 sr_parts[2];
	int			 sr_pending;	/* replies awaited */
	int			 sr_eval;	/* the save fell back to EVAL */
	int			 sr_connect;	/* a load for a namespace CONNECT */
	int			 sr_save;	/* a save, not a load */
	int64_t			 sr_started;	/* monotonic_us, for /metrics */
	char			*sr_err;
};

struct session_store {
	struct event_base	*st_base;
	const struct conf	*st_conf;
	struct redis		*st_redis;
	struct nsp_registry	*st_nsp;
	char			*st_secret;
	size_t			 st_secretlen;
	char			 st_sha[SESSION_SHA_HEX + 1];
	LIST_HEAD(, session_req) st_reqs;
	struct session_cache	*st_cache;	/* NULL: session_cache_size 0 */
};

/*
 * The state and its maps.
 */

static int
session_which(int global)
{
	return (global ? SESSION_GLOBAL : SESSION_COMPONENT);
}

static void
session_garbage(struct session_state *ss, yajl_val v)
{
	if (v == NULL)
		return;
	if (ss->ss_ngarbage == ss->ss_garbage_cap) {
		ss->ss_garbage_cap = ss->ss_garbage_cap ? ss->ss_garbage_cap * 2 : 8;
		ss->ss_garbage = xreallocarray(ss->ss_garbage, ss->ss_garbage_cap,
		    sizeof(*ss->ss_garbage));
	}
	ss->ss_garbage[ss->ss_ngarbage++] = v;
}

static struct session_entry *
session_map_find(struct session_map *sm, const char *key)
{
	size_t i;

	for (i = 0; i < sm->sm_n; i++)
		if (strcmp(sm->sm_v[i].se_key, key) == 0)
			return (&sm->sm_v[i]);
	return (NULL);
}

static struct session_entry *
session_map_add(struct session_map *sm, const char *key, size_t keylen)
{
	struct session_entry *se;

	if (sm->sm_n == sm->sm_cap) {
		sm->sm_cap = sm->sm_cap ? sm->sm_cap * 2 : 8;
		sm->sm_v = xreallocarray(sm->sm_v, sm->sm_cap, sizeof(*sm->sm_v));
	}
	se = &sm->sm_v[sm->sm_n++];
	memset(se, 0, sizeof(*se));
	se->se_key = xstrndup(key, keylen);
	return (se);
}

static void
session_map_clear(struct session_map *sm)
{
	size_t i;

	for (i = 0; i < sm->sm_n; i++) {
		free(sm->sm_v[i].se_key);
		free(sm->sm_v[i].se_json);
		if (sm->sm_v[i].se_val != NULL)
			yajl_tree_free(sm->sm_v[i].se_val);
	}
	free(sm->sm_v);
	memset(sm, 0, sizeof(*sm));
}

struct session_state *
session_state_new(const char *prefix, const char *sid, const char *component)
{
	struct session_state *ss;

	ss = xcalloc(1, sizeof(*ss));
	xasprintf(&ss->ss_keys[SESSION_GLOBAL], "%ss:%s", prefix, sid);
	if (component != NULL)
		xasprintf(&ss->ss_keys[SESSION_COMPONENT], "%ss:%s:%s", prefix, sid,
		    component);
	return (ss);
}

void
session_state_clear(struct session_state *ss)
{
	size_t i;

	session_map_clear(&ss->ss_maps[0]);
	session_map_clear(&ss->ss_maps[1]);
	for (i = 0; i < ss->ss_ngarbage; i++)
		yajl_tree_free(ss->ss_garbage[i]);
	free(ss->ss_garbage);
	ss->ss_garbage = NULL;
	ss->ss_ngarbage = ss->ss_garbage_cap = 0;
}

void
session_state_free(struct session_state *ss)
{
	if (ss == NULL)
		return;
	session_state_clear(ss);
	free(ss->ss_keys[0]);
	free(ss->ss_keys[1]);
	free(ss);
}

/*
 * The fields of an HGETALL reply, pointing into it (*out is new, freed
 * by the caller); -1 with why if it is not one.
 */
static int
session_reply_fields(const struct redisReply *reply, struct session_field **out,
    size_t *n, const char **why)
{
	struct session_field	*f;
	const redisReply	*k, *v;
	size_t			 i;

	*out = NULL;
	*n = 0;
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 2 != 0) {
		*why = reply->type == REDIS_REPLY_ERROR ? reply->str :
		    "unexpected reply to HGETALL";
		return (-1);
	}
	if (reply->elements / 2 > SESSION_KEYS_MAX) {
		*why = "session too large";
		return (-1);
	}
	f = xcalloc(reply->elements / 2 + 1, sizeof(*f));
	for (i = 0; i < reply->elements; i += 2) {
		k = reply->element[i];
		v = reply->element[i + 1];
		if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
			*why = "unexpected reply to HGETALL";
			free(f);
			return (-1);
		}
		f[i / 2].sf_key = k->str;
		f[i / 2].sf_keylen = (size_t)k->len;
		f[i / 2].sf_val = v->str;
		f[i / 2].sf_vallen = (size_t)v->len;
	}
	*out = f;
	*n = reply->elements / 2;
	return (0);
}

void
session_state_fill(struct session_state *ss, int global,
    const struct session_field *f, size_t n)
{
	struct session_map	*sm = &ss->ss_maps[session_which(global)];
	struct session_entry	*se;
	size_t			 i;

	session_map_clear(sm);
	for (i = 0; i < n; i++) {
		/* A key with a NUL cannot be named by a handler: skip it. */
		if (memchr(f[i].sf_key, '\0', f[i].sf_keylen) != NULL)
			continue;
		se = session_map_add(sm, f[i].sf_key, f[i].sf_keylen);
		se->se_json = xmalloc(f[i].sf_vallen + 1);
		memcpy(se->se_json, f[i].sf_val, f[i].sf_vallen);
		se->se_json[f[i].sf_vallen] = '\0';
		se->se_len = f[i].sf_vallen;
	}
}

int
session_state_load(struct session_state *ss, int global,
    const struct redisReply *reply, const char **why)
{
	struct session_field	*f;
	size_t			 n;

	session_map_clear(&ss->ss_maps[session_which(global)]);
	if (session_reply_fields(reply, &f, &n, why) == -1)
		return (-1);
	session_state_fill(ss, global, f, n);
	free(f);
	return (0);
}

int
session_state_get(struct session_state *ss, int global, const char *key,
    yajl_val *out)
{
	struct session_entry	*se;
	char			 err[SESSION_ERR_MAX];

	*out = NULL;
	se = session_map_find(&ss->ss_maps[global ? SESSION_GLOBAL :
	    SESSION_COMPONENT], key);
	if (se == NULL || se->se_json == NULL)
		return (0);
	if (se->se_val == NULL &&
	    (se->se_val = yajl_tree_parse(se->se_json, err, sizeof(err))) == NULL) {
		log_warnx("session %s: key \"%.64s\" does not hold JSON",
		    ss->ss_keys[global ? SESSION_GLOBAL : SESSION_COMPONENT], key);
		return (-1);
	}
	*out = se->se_val;
	return (0);
}

/* The entry of key, made when absent; NULL for a bad key or a full map. */
static struct session_entry *
session_state_entry(struct session_state *ss, int global, const char *key)
{
	struct session_map	*sm = &ss->ss_maps[session_which(global)];
	struct session_entry	*se;
	size_t			 keylen = strlen(key);

	if (keylen == 0 || keylen > SESSION_KEY_MAX ||
	    (!global && ss->ss_keys[SESSION_COMPONENT] == NULL))
		return (NULL);
	if ((se = session_map_find(sm, key)) == NULL) {
		if (sm->sm_n >= SESSION_KEYS_MAX)
			return (NULL);
		se = session_map_add(sm, key, keylen);
	}
	return (se);
}

int
session_state_set(struct session_state *ss, int global, const char *key,
    const char *json, size_t len)
{
	struct session_entry	*se;

	if ((se = session_state_entry(ss, global, key)) == NULL)
		return (-1);
	/* Values handed out before stay valid until the event ends. */
	session_garbage(ss, se->se_val);
	se->se_val = NULL;
	free(se->se_json);
	se->se_json = xmalloc(len + 1);
	memcpy(se->se_json, json, len);
	se->se_json[len] = '\0';
	se->se_len = len;
	se->se_dirty = 1;
	return (0);
}

int
session_state_remove(struct session_state *ss, int global, const char *key)
{
	struct session_entry	*se;

	/* Removed even if not seen: another worker may have set it since. */
	if ((se = session_state_entry(ss, global, key)) == NULL)
		return (-1);
	session_garbage(ss, se->se_val);
	se->se_val = NULL;
	free(se->se_json);
	se->se_json = NULL;
	se->se_len = 0;
	se->se_dirty = 1;
	return (0);
}

int
session_state_dump(struct session_state *ss, int global, yajl_val *out)
{
	struct session_map	*sm = &ss->ss_maps[session_which(global)];
	struct session_entry	*se;
	struct json_buf		 jb;
	char			 err[SESSION_ERR_MAX];
	size_t			 i, n = 0;
	int			 rc = -1;

	*out = NULL;
	json_buf_init(&jb);
	json_put_raw(&jb, "{", 1);
	for (i = 0; i < sm->sm_n; i++) {
		se = &sm->sm_v[i];
		if (se->se_json == NULL ||
		    !json_valid(se->se_json, se->se_len, JSON_FMT_VALUE) ||
		    !json_utf8_valid(se->se_key, strlen(se->se_key)))
			continue;
		if (n++ > 0)
			json_put_raw(&jb, ",", 1);
		if (json_put_string(&jb, se->se_key, strlen(se->se_key)) == -1 ||
		    json_put_raw(&jb, ":", 1) == -1 ||
		    json_put_raw(&jb, se->se_json, se->se_len) == -1)
			goto done;
	}
	if (json_put_raw(&jb, "}", 1) == -1)
		goto done;
	if ((*out = yajl_tree_parse(jb.jb_text, err, sizeof(err))) == NULL) {
		log_warnx("session %s: cannot dump: %s", ss->ss_keys[global ?
		    SESSION_GLOBAL : SESSION_COMPONENT], err);
		goto done;
	}
	session_garbage(ss, *out);
	rc = 0;
 done:
	json_buf_clear(&jb);
	return (rc);
}

size_t
session_state_dirty(const struct session_state *ss)
{
	size_t i, m, n = 0;

	for (m = 0; m < 2; m++)
		for (i = 0; i < ss->ss_maps[m].sm_n; i++)
			if (ss->ss_maps[m].sm_v[i].se_dirty)
				n++;
	return (n);
}

static void
session_args_push(struct session_args *sa, const char *s, size_t len)
{
	sa->sa_argv[sa->sa_argc] = xmalloc(len + 1);
	memcpy(sa->sa_argv[sa->sa_argc], s, len);
	sa->sa_argv[sa->sa_argc][len] = '\0';
	sa->sa_argvlen[sa->sa_argc++] = len;
}

static void
session_args_num(struct session_args *sa, long long n)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", n);
	session_args_push(sa, buf, strlen(buf));
}

void
session_save_args(const struct session_state *ss, const char *cmd,
    const char *script, int64_t ttl_ms, struct session_args *sa)
{
	static const int	 order[2] = { SESSION_GLOBAL, SESSION_COMPONENT };
	const struct session_map *sm;
	const struct session_entry *se;
	const char		*ckey;
	size_t			 i, m, nset, ndel, max;

	/* cmd script 2 key key ttl, then per map: 2 counts, up to 2 per entry. */
	max = 6 + 4 + 2 * (ss->ss_maps[0].sm_n + ss->ss_maps[1].sm_n);
	sa->sa_argc = 0;
	sa->sa_argv = xcalloc(max, sizeof(*sa->sa_argv));
	sa->sa_argvlen = xcalloc(max, sizeof(*sa->sa_argvlen));
	session_args_push(sa, cmd, strlen(cmd));
	session_args_push(sa, script, strlen(script));
	session_args_push(sa, "2", 1);
	session_args_push(sa, ss->ss_keys[SESSION_GLOBAL],
	    strlen(ss->ss_keys[SESSION_GLOBAL]));
	/* Without a component (never loaded so), both keys are the global one. */
	ckey = ss->ss_keys[SESSION_COMPONENT] != NULL ?
	    ss->ss_keys[SESSION_COMPONENT] : ss->ss_keys[SESSION_GLOBAL];
	session_args_push(sa, ckey, strlen(ckey));
	session_args_num(sa, (long long)ttl_ms);
	for (m = 0; m < 2; m++) {
		sm = &ss->ss_maps[order[m]];
		nset = ndel = 0;
		for (i = 0; i < sm->sm_n; i++)
			if (sm->sm_v[i].se_dirty) {
				if (sm->sm_v[i].se_json != NULL)
					nset++;
				else
					ndel++;
			}
		session_args_num(sa, (long long)nset);
		session_args_num(sa, (long long)ndel);
		for (i = 0; i < sm->sm_n; i++) {
			se = &sm->sm_v[i];
			if (!se->se_dirty || se->se_json == NULL)
				continue;
			session_args_push(sa, se->se_key, strlen(se->se_key));
			session_args_push(sa, se->se_json, se->se_len);
		}
		for (i = 0; i < sm->sm_n; i++) {
			se = &sm->sm_v[i];
			if (se->se_dirty && se->se_json == NULL)
				session_args_push(sa, se->se_key, strlen(se->se_key));
		}
	}
}

void
session_args_free(struct session_args *sa)
{
	int i;

	for (i = 0; i < sa->sa_argc; i++)
		free(sa->sa_argv[i]);
	free(sa->sa_argv);
	free(sa->sa_argvlen);
	memset(sa, 0, sizeof(*sa));
}

const char *
session_script(void)
{
	return (session_lua);
}

/*
 * Requests to Redis: a load (two HGETALLs) or a save (the script).
 */

static struct session_req *
session_req_new(struct session_store *st, struct session_state *ss,
    struct nsp_job *job, int pending)
{
	struct session_req *sr;

	sr = xcalloc(1, sizeof(*sr));
	sr->sr_started = monotonic_us();
	sr->sr_store = st;
	sr->sr_state = ss;
	sr->sr_job = job;
	sr->sr_pending = pending;
	sr->sr_parts[0].sp_req = sr;
	sr->sr_parts[0].sp_global = 1;
	sr->sr_parts[1].sp_req = sr;
	sr->sr_parts[1].sp_global = 0;
	LIST_INSERT_HEAD(&st->st_reqs, sr, sr_entry);
	ss->ss_req = sr;
	return (sr);
}

static void
session_req_error(struct session_req *sr, const char *err)
{
	if (sr->sr_err == NULL)
		xasprintf(&sr->sr_err, "%s: %s", SESSION_ERR_UNAVAILABLE, err);
}

/* The request is over: tell the pipeline, unless it was cancelled. */
static void
session_req_done(struct session_req *sr)
{
	struct nsp_job	*job = sr->sr_job;
	char		*err = sr->sr_err;
	int		 live = sr->sr_store != NULL && sr->sr_state != NULL;

	stats_observe(sr->sr_save ? STAT_H_SESSION_SAVE : STAT_H_SESSION_LOAD,
	    monotonic_us() - sr->sr_started);

	/*
	 * RAIN's rule: a validly signed cookie is not enough, its global
	 * session must exist; with session_create yes raind starts it.
	 */
	if (live && err == NULL && sr->sr_connect &&
	    sr->sr_state->ss_global_missing &&
	    !sr->sr_store->st_conf->c_session_create) {
		log_info("session %.8s...: no global session in redis: "
		    "unauthorized", sr->sr_state->ss_keys[SESSION_GLOBAL] +
		    strlen(sr->sr_store->st_conf->c_redis_prefix) + 2);
		err = xstrdup(SESSION_ERR_UNAUTHORIZED);
	}
	if (sr->sr_store != NULL)
		LIST_REMOVE(sr, sr_entry);
	if (sr->sr_state != NULL) {
		sr->sr_state->ss_req = NULL;
		if (err != NULL)
			session_state_clear(sr->sr_state);
	}
	free(sr);
	if (live)
		nsp_stage_done(job, err);
	free(err);
}

static const char *
session_state_key(const struct session_state *ss, int global)
{
	return (ss->ss_keys[session_which(global)]);
}

static void
session_load_cb(void *arg, struct redisReply *reply, const char *err)
{
	struct session_part	*sp = arg;
	struct session_req	*sr = sp->sp_req;
	struct session_state	*ss = sr->sr_state;
	struct session_cache	*cache;
	struct session_field	*f;
	const char		*why;
	size_t			 n;

	if (ss != NULL) {
		if (err != NULL)
			session_req_error(sr, err);
		else if (session_reply_fields(reply, &f, &n, &why) == -1) {
			session_map_clear(&ss->ss_maps[session_which(sp->sp_global)]);
			session_req_error(sr, why);
		} else {
			if (sp->sp_global)
				ss->ss_global_missing = n == 0;
			session_state_fill(ss, sp->sp_global, f, n);
			cache = sr->sr_store != NULL ? sr->sr_store->st_cache : NULL;
			if (cache != NULL)
				session_cache_put(cache, session_state_key(ss,
				    sp->sp_global), sp->sp_ticket, f, n);
			free(f);
		}
	}
	if (--sr->sr_pending == 0)
		session_req_done(sr);
}

static void
session_save_send(struct session_req *sr)
{
	struct session_store	*st = sr->sr_store;
	struct session_state	*ss = sr->sr_state;
	struct session_args	 sa;

	/*
	 * Redis does not tell this worker of its own writes (NOLOOP): a
	 * read sent before this write must not be kept, and the next one
	 * reads what it wrote.  Again for the EVAL retry: reads may have
	 * been sent since the EVALSHA.
	 */
	if (st->st_cache != NULL) {
		session_cache_invalidate(st->st_cache, ss->ss_keys[SESSION_GLOBAL],
		    strlen(ss->ss_keys[SESSION_GLOBAL]));
		if (ss->ss_keys[SESSION_COMPONENT] != NULL)
			session_cache_invalidate(st->st_cache,
			    ss->ss_keys[SESSION_COMPONENT],
			    strlen(ss->ss_keys[SESSION_COMPONENT]));
	}
	if (sr->sr_eval)
		session_save_args(sr->sr_state, "EVAL", session_lua,
		    st->st_conf->c_session_max_age, &sa);
	else
		session_save_args(sr->sr_state, "EVALSHA", st->st_sha,
		    st->st_conf->c_session_max_age, &sa);
	redis_command(st->st_redis, session_save_cb, sr, sa.sa_argc,
	    (const char **)sa.sa_argv, sa.sa_argvlen);
	session_args_free(&sa);
}

static void
session_save_cb(void *arg, struct redisReply *reply, const char *err)
{
	struct session_req	*sr = arg;
	struct session_state	*ss = sr->sr_state;

	if (ss == NULL || sr->sr_store == NULL) {
		session_req_done(sr);
		return;
	}
	if (err != NULL)
		session_req_error(sr, err);
	else if (reply->type == REDIS_REPLY_ERROR) {
		/* Redis forgot the script (restart, SCRIPT FLUSH): send it whole. */
		if (!sr->sr_eval && strncmp(reply->str, SESSION_NOSCRIPT,
		    strlen(SESSION_NOSCRIPT)) == 0) {
			sr->sr_eval = 1;
			session_save_send(sr);
			return;
		}
		session_req_error(sr, reply->str);
	} else {
		ss->ss_refreshed = monotonic_ms();
		session_state_clear(ss);
	}
	session_req_done(sr);
}

/*
 * The store's side of the namespace pipeline (struct nsp_store_ops).
 */

static int
session_authorize(void *arg, struct nsp_client *c, struct nsp_socket *s,
    const char **reason)
{
	struct session_store	*st = arg;
	const struct component	*comp = s->ns_nsp->nn_comp;

	/* RAIN refuses every namespace to a client without a valid cookie. */
	if (c->nc_session_id == NULL) {
		*reason = SESSION_ERR_UNAUTHORIZED;
		return (-1);
	}
	session_state_free(s->ns_session);
	/* Every component has the global session; useSession adds its own. */
	s->ns_session = session_state_new(st->st_conf->c_redis_prefix,
	    c->nc_session_id, comp != NULL && comp->c_use_session ?
	    comp->c_id : NULL);
	return (0);
}

static void
session_load(void *arg, struct nsp_socket *s, struct nsp_job *job)
{
	struct session_store	*st = arg;
	struct session_state	*ss = s->ns_session;
	struct session_req	*sr;
	const struct session_field *f;
	const char		*argv[2];
	size_t			 argvlen[2], nf;
	int			 i, n, global, connecting, misses = 0, miss[2];

	if (ss == NULL) {
		nsp_stage_done(job, SESSION_ERR_UNAVAILABLE ": no session");
		return;
	}
	session_state_clear(ss);
	/*
	 * A component without useSession has only the global session: one
	 * HGETALL.  Otherwise both are sent at once: one round trip.  What
	 * the cache holds needs none; a CONNECT always asks Redis.
	 */
	n = ss->ss_keys[SESSION_COMPONENT] != NULL ? 2 : 1;
	connecting = nsp_job_connecting(job);
	/*
	 * A write acknowledged to a client by another worker had Redis send
	 * its invalidation to us before that acknowledgement left; the
	 * client's next event may still come first out of our loop.
	 */
	if (st->st_cache != NULL && !connecting)
		redis_sub_poll(st->st_redis);
	for (i = 0; i < n; i++) {
		global = i == 0;	/* as sr_parts */
		miss[i] = 1;
		if (st->st_cache == NULL)
			continue;
		if (!connecting && session_cache_get(st->st_cache,
		    session_state_key(ss, global), &f, &nf)) {
			session_state_fill(ss, global, f, nf);
			if (global)
				ss->ss_global_missing = nf == 0;
			stats_inc(STAT_SESSION_CACHE_HITS);
			miss[i] = 0;
			continue;
		}
		stats_inc(STAT_SESSION_CACHE_MISSES);
	}
	for (i = 0; i < n; i++)
		misses += miss[i];
	if (misses == 0) {
		/* From the cache: no wait, and no clock read per event. */
		stats_observe(STAT_H_SESSION_LOAD, 0);
		nsp_stage_done(job, NULL);
		return;
	}
	sr = session_req_new(st, ss, job, misses);
	sr->sr_connect = connecting;
	argv[0] = "HGETALL";
	argvlen[0] = strlen(argv[0]);
	for (i = 0; i < n; i++) {
		if (!miss[i])
			continue;
		argv[1] = session_state_key(ss, sr->sr_parts[i].sp_global);
		argvlen[1] = strlen(argv[1]);
		if (st->st_cache != NULL)
			sr->sr_parts[i].sp_ticket = session_cache_reading(st->st_cache,
			    argv[1]);
		redis_command(st->st_redis, session_load_cb, &sr->sr_parts[i], 2,
		    argv, argvlen);
	}
}

static void
session_save(void *arg, struct nsp_socket *s, struct nsp_job *job)
{
	struct session_store	*st = arg;
	struct session_state	*ss = s->ns_session;
	struct session_req	*sr;
	int64_t			 every;

	if (ss == NULL) {
		nsp_stage_done(job, NULL);
		return;
	}
	/* Nothing changed: the expiry still slides, but not at every event. */
	every = st->st_conf->c_session_max_age / SESSION_REFRESH_DIVISOR;
	if (session_state_dirty(ss) == 0 && ss->ss_refreshed != 0 &&
	    monotonic_ms() - ss->ss_refreshed < every) {
		session_state_clear(ss);
		nsp_stage_done(job, NULL);
		return;
	}
	sr = session_req_new(st, ss, job, 1);
	sr->sr_save = 1;
	session_save_send(sr);
}

static int
session_get(void *arg, struct nsp_socket *s, int global, const char *key,
    yajl_val *out)
{
	(void)arg;
	*out = NULL;
	if (s->ns_session == NULL)
		return (-1);
	return (session_state_get(s->ns_session, global, key, out));
}

static int
session_set(void *arg, struct nsp_socket *s, int global, const char *key,
    const char *json, size_t len)
{
	(void)arg;
	if (s->ns_session == NULL)
		return (-1);
	return (session_state_set(s->ns_session, global, key, json, len));
}

static int
session_remove(void *arg, struct nsp_socket *s, int global, const char *key)
{
	(void)arg;
	if (s->ns_session == NULL)
		return (-1);
	return (session_state_remove(s->ns_session, global, key));
}

static int
session_dump(void *arg, struct nsp_socket *s, int global, yajl_val *out)
{
	(void)arg;
	*out = NULL;
	if (s->ns_session == NULL)
		return (-1);
	return (session_state_dump(s->ns_session, global, out));
}

/* Does not use arg: the store may be gone when the registry frees sockets. */
static void
session_free_socket(void *arg, struct nsp_socket *s)
{
	struct session_state *ss = s->ns_session;

	(void)arg;
	if (ss == NULL)
		return;
	if (ss->ss_req != NULL)
		ss->ss_req->sr_state = NULL;	/* its reply is ignored */
	session_state_free(ss);
	s->ns_session = NULL;
}

/* What Redis's client-side caching says (redis_track). */
static void
session_track(void *arg, enum redis_track_event ev, const char *key,
    size_t keylen)
{
	struct session_store *st = arg;

	switch (ev) {
	case REDIS_TRACK_ON:
		session_cache_trust(st->st_cache, 1);
		break;
	case REDIS_TRACK_OFF:
		session_cache_trust(st->st_cache, 0);
		break;
	case REDIS_TRACK_KEY:
		session_cache_invalidate(st->st_cache, key, keylen);
		break;
	case REDIS_TRACK_FLUSH:
		session_cache_flush(st->st_cache);
		break;
	}
}

static const struct nsp_store_ops session_ops = {
	.so_authorize = session_authorize,
	.so_load = session_load,
	.so_save = session_save,
	.so_get = session_get,
	.so_set = session_set,
	.so_remove = session_remove,
	.so_dump = session_dump,
	.so_free = session_free_socket
};

struct session_store *
session_store_new(struct event_base *base, const struct conf *conf,
    struct redis *redis, struct nsp_registry *reg, char *err, size_t errlen)
{
	struct session_store	*st;
	unsigned char		 md[SHA_DIGEST_LENGTH];
	size_t			 i;

	st = xcalloc(1, sizeof(*st));
	if (cookie_secret_load(conf->c_cookie_secret_file, &st->st_secret,
	    &st->st_secretlen, err, errlen) == -1) {
		free(st);
		return (NULL);
	}
	st->st_base = base;
	st->st_conf = conf;
	st->st_redis = redis;
	st->st_nsp = reg;
	LIST_INIT(&st->st_reqs);
	SHA1((const unsigned char *)session_lua, strlen(session_lua), md);
	for (i = 0; i < SHA_DIGEST_LENGTH; i++)
		snprintf(st->st_sha + 2 * i, 3, "%02x", md[i]);
	if (conf->c_session_cache_size > 0) {
		st->st_cache = session_cache_new(conf->c_session_cache_size);
		redis_track(redis, session_track, st);
	}
	nsp_registry_set_store(reg, &session_ops, st);
	return (st);
}

void
session_store_free(struct session_store *st)
{
	struct session_req *sr;

	if (st == NULL)
		return;
	/* Replies still to come find their request cancelled. */
	while ((sr = LIST_FIRST(&st->st_reqs)) != NULL) {
		LIST_REMOVE(sr, sr_entry);
		sr->sr_store = NULL;
		if (sr->sr_state != NULL)
			sr->sr_state->ss_req = NULL;
		sr->sr_state = NULL;
	}
	if (st->st_cache != NULL) {
		redis_track(st->st_redis, NULL, NULL);
		session_cache_free(st->st_cache);
	}
	cookie_secret_free(st->st_secret, st->st_secretlen);
	free(st);
}

int
session_handshake(struct session_store *st, const struct http_request *req,
    char *sid, char *set_cookie, size_t set_cookie_len)
{
	const struct conf	*conf = st->st_conf;
	char			 value[COOKIE_VALUE_LEN + 1];

	if (set_cookie_len > 0)
		set_cookie[0] = '\0';
	if (cookie_request_sid(st->st_secret, st->st_secretlen,
	    conf->c_cookie_name, req, sid) == 0)
		return (1);
	if (!conf->c_session_create)
		return (0);
	if (cookie_sid_new(sid) == -1) {
		log_warnx("session: no random bytes for a new session id");
		return (0);
	}
	cookie_sign(st->st_secret, st->st_secretlen, sid, value);
	if (cookie_set_header(conf->c_cookie_name, value, conf->c_cookie_secure,
	    conf->c_cookie_max_age / 1000, set_cookie, set_cookie_len) == -1) {
		log_warnx("session: the Set-Cookie line does not fit");
		return (0);
	}
	return (1);
}

int
session_conf_check(const struct conf *conf, char *err, size_t errlen)
{
	const char	*file, *what;
	char		*secret, why[CONF_ERR_MAX];
	size_t		 len;
	int		 line;

	if (!conf_redis_wanted(conf))
		return (0);
	if (conf->c_cookie_secret_file != NULL)
		what = "cookie_secret_file";
	else
		what = conf->c_redis != NULL ? "redis" : "redis_sentinel";
	if (cookie_secret_load(conf->c_cookie_secret_file, &secret, &len, why,
	    sizeof(why)) == 0) {
		cookie_secret_free(secret, len);
		return (0);
	}
	if (conf_where(conf, what, &file, &line) == 0)
		snprintf(err, errlen, "%s:%d: %s%s", file, line, why,
		    conf->c_cookie_secret_file == NULL ?
		    " (sessions in redis need it)" : "");
	else
		snprintf(err, errlen, "%s", why);
	return (-1);
}
