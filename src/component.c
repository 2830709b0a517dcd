/*
 * component.c: component discovery and handler modules.  See component.h.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>

#include "rain/handler.h"

#include "component.h"
#include "log.h"
#include "xmalloc.h"

/* A list of paths found while scanning a websockets folder. */
struct component_paths {
	char	**cp_paths;
	size_t	  cp_n;
};

static void	component_problem(struct component_set *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	component_err(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/* Something of the set is skipped: warn, with path and reason, and keep the text. */
static void
component_problem(struct component_set *set, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatalx("component: out of memory");
	va_end(ap);
	log_warnx("%s", msg);
	set->cs_nproblems_all++;
	if (set->cs_nproblems >= COMPONENT_PROBLEMS_MAX) {
		free(msg);
		return;
	}
	set->cs_problems = xreallocarray(set->cs_problems, set->cs_nproblems + 1,
	    sizeof(*set->cs_problems));
	set->cs_problems[set->cs_nproblems++] = msg;
}

static int
component_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return (-1);
}

int
component_version_valid(const char *v)
{
	int parts = 0, digits = 0;

	if (strlen(v) > COMPONENT_VERSION_MAX)
		return (0);
	for (;; v++) {
		if (*v >= '0' && *v <= '9') {
			digits++;
			continue;
		}
		if (digits == 0)
			return (0);
		parts++;
		digits = 0;
		if (*v == '\0')
			break;
		if (*v != '.')
			return (0);
	}
	return (parts == 2 || parts == 3);
}

/*
 * Ids appear in namespaces, URLs of static files and session keys, so
 * they are kept to characters that need no quoting anywhere.
 */
static int
component_id_valid(const char *id)
{
	size_t i, len = strlen(id);

	if (len == 0 || len > COMPONENT_ID_MAX || id[0] == '.')
		return (0);
	for (i = 0; i < len; i++) {
		if ((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
		    (id[i] >= '0' && id[i] <= '9') || id[i] == '-' || id[i] == '_' ||
		    id[i] == '.')
			continue;
		return (0);
	}
	return (1);
}

/*
 * A channel becomes part of a namespace, which a Socket.IO packet ends
 * with ',' and a client URL with '?' or '#'.
 */
static int
component_channel_valid(const char *ch)
{
	size_t i, len;

	if (ch == NULL || (len = strlen(ch)) == 0 || len > COMPONENT_CHANNEL_MAX)
		return (0);
	for (i = 0; i < len; i++) {
		if (ch[i] <= ' ' || ch[i] >= 0x7f || strchr(",?#\"\\%", ch[i]) != NULL)
			return (0);
	}
	return (1);
}

int
component_nsp_name(const char *id, const char *version, const char *channel,
    char *buf, size_t len)
{
	int n;

	n = snprintf(buf, len, "/%s/%s%s%s", id, version, channel[0] == '/' ? "" : "/",
	    channel);
	if (n < 0 || (size_t)n >= len)
		return (-1);
	return (0);
}

/* Line and column (from 1) of offset off in buf. */
static void
component_position(const char *buf, size_t len, size_t off, int *line, int *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	if (off > len)
		off = len;
	for (i = 0; i < off; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			*col = 1;
		} else
			(*col)++;
	}
}

/* Check the JSON syntax with yajl, reporting its message with a position. */
static int
component_meta_syntax(const char *buf, size_t len, const char *name, char *err,
    size_t errlen)
{
	yajl_handle h;
	yajl_status st;
	unsigned char *msg;
	size_t off, mlen;
	int line, col, rc = 0;

	if ((h = yajl_alloc(NULL, NULL, NULL)) == NULL)
		return (component_err(err, errlen, "%s: out of memory", name));
	st = yajl_parse(h, (const unsigned char *)buf, len);
	if (st == yajl_status_ok) {
		st = yajl_complete_parse(h);
		off = len;
	} else
		off = yajl_get_bytes_consumed(h);
	if (st != yajl_status_ok) {
		msg = yajl_get_error(h, 0, (const unsigned char *)buf, len);
		mlen = msg != NULL ? strlen((char *)msg) : 0;
		while (mlen > 0 && (msg[mlen - 1] == '\n' || msg[mlen - 1] == ' '))
			mlen--;
		component_position(buf, len, off, &line, &col);
		rc = component_err(err, errlen, "%s:%d:%d: %.*s", name, line, col,
		    (int)mlen, msg != NULL ? (char *)msg : "parse error");
		if (msg != NULL)
			yajl_free_error(h, msg);
	}
	yajl_free(h);
	return (rc);
}

/* The member name of object o (the last one if repeated), or NULL. */
static yajl_val
component_member(yajl_val o, const char *name)
{
	yajl_val v = NULL;
	size_t i;

	for (i = 0; i < o->u.object.len; i++)
		if (strcmp(o->u.object.keys[i], name) == 0)
			v = o->u.object.values[i];
	return (v);
}

int
component_meta_parse(const char *buf, size_t len, const char *name, struct component *c,
    char *err, size_t errlen)
{
	char ebuf[COMPONENT_ERR_MAX], *copy = NULL;
	yajl_val root = NULL, v;
	int rc = -1;

	if (len > COMPONENT_META_MAX) {
		component_err(err, errlen, "%s: larger than %d bytes", name,
		    COMPONENT_META_MAX);
		goto done;
	}
	if (component_meta_syntax(buf, len, name, err, errlen) == -1)
		goto done;
	copy = xmalloc(len + 1);
	memcpy(copy, buf, len);
	copy[len] = '\0';
	if ((root = yajl_tree_parse(copy, ebuf, sizeof(ebuf))) == NULL) {
		component_err(err, errlen, "%s: %s", name, ebuf);
		goto done;
	}
	if (!YAJL_IS_OBJECT(root)) {
		component_err(err, errlen, "%s: not a JSON object", name);
		goto done;
	}

	v = component_member(root, "id");
	if (v == NULL) {
		component_err(err, errlen, "%s: missing field \"id\"", name);
		goto done;
	}
	if (!YAJL_IS_STRING(v) || !component_id_valid(YAJL_GET_STRING(v))) {
		component_err(err, errlen, "%s: \"id\" must be a string of at most %d "
		    "letters, digits, '-', '_' or '.'", name, COMPONENT_ID_MAX);
		goto done;
	}
	c->c_id = xstrdup(YAJL_GET_STRING(v));

	v = component_member(root, "version");
	if (v == NULL) {
		component_err(err, errlen, "%s: missing field \"version\"", name);
		goto done;
	}
	if (!YAJL_IS_STRING(v) || !component_version_valid(YAJL_GET_STRING(v))) {
		component_err(err, errlen, "%s: \"version\" must be a string X.Y or X.Y.Z",
		    name);
		goto done;
	}
	c->c_version = xstrdup(YAJL_GET_STRING(v));

	c->c_type = COMPONENT_TYPE_COMPONENT;
	if ((v = component_member(root, "type")) != NULL) {
		if (YAJL_IS_STRING(v) && strcmp(v->u.string, "container") == 0)
			c->c_type = COMPONENT_TYPE_CONTAINER;
		else if (!YAJL_IS_STRING(v) || strcmp(v->u.string, "component") != 0) {
			component_err(err, errlen, "%s: \"type\" must be \"component\" or "
			    "\"container\"", name);
			goto done;
		}
	}

	c->c_use_session = 0;
	if ((v = component_member(root, "useSession")) != NULL) {
		if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)) {
			component_err(err, errlen, "%s: \"useSession\" must be true or false",
			    name);
			goto done;
		}
		c->c_use_session = YAJL_IS_TRUE(v);
	}
	rc = 0;
 done:
	if (root != NULL)
		yajl_tree_free(root);
	free(copy);
	return (rc);
}

void
component_free(struct component *c)
{
	if (c == NULL)
		return;
	free(c->c_id);
	free(c->c_version);
	free(c->c_dir);
	free(c->c_meta);
	free(c);
}

/* Read a whole small file; -1 with err. */
static int
component_read(const char *path, char **bufp, size_t *lenp, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (component_err(err, errlen, "%s: %s", path, strerror(errno)));
	buf = xmalloc(COMPONENT_META_MAX + 1);
	for (;;) {
		n = read(fd, buf + len, COMPONENT_META_MAX + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			component_err(err, errlen, "%s: %s", path, strerror(errno));
			goto bad;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > COMPONENT_META_MAX) {
			component_err(err, errlen, "%s: larger than %d bytes", path,
			    COMPONENT_META_MAX);
			goto bad;
		}
	}
	close(fd);
	*bufp = buf;
	*lenp = len;
	return (0);
 bad:
	close(fd);
	free(buf);
	return (-1);
}

static void
component_paths_free(struct component_paths *cp)
{
	size_t i;

	for (i = 0; i < cp->cp_n; i++)
		free(cp->cp_paths[i]);
	free(cp->cp_paths);
	cp->cp_paths = NULL;
	cp->cp_n = 0;
}

static int
component_has_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);

	return (n > s && strcmp(name + n - s, suffix) == 0);
}

/*
 * Collect the .so files under dir, depth first in name order.  Problems
 * below a component's websockets folder cost only the modules concerned,
 * so they are warnings.
 */
static void
component_scan(const char *dir, int depth, struct component_paths *cp)
{
	struct dirent **ents = NULL;
	struct stat st;
	char *path;
	int i, n;

	if ((n = scandir(dir, &ents, NULL, alphasort)) == -1) {
		if (errno != ENOENT || depth > 0)
			log_warn("%s", dir);
		return;
	}
	for (i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		xasprintf(&path, "%s/%s", dir, name);
		if (stat(path, &st) == -1) {
			log_warn("%s", path);
			free(path);
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			if (depth + 1 >= COMPONENT_DEPTH_MAX)
				log_warnx("%s: nested deeper than %d folders, not scanned",
				    path, COMPONENT_DEPTH_MAX);
			else
				component_scan(path, depth + 1, cp);
			free(path);
		} else if (S_ISREG(st.st_mode) && component_has_suffix(name, ".so")) {
			cp->cp_paths = xreallocarray(cp->cp_paths, cp->cp_n + 1,
			    sizeof(*cp->cp_paths));
			cp->cp_paths[cp->cp_n++] = path;
		} else
			free(path);
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
}

static struct component_nsp *
component_nsp_get(struct component_set *set, struct component *c, const char *name)
{
	struct component_nsp *cn;
	size_t i;

	for (i = 0; i < set->cs_nnsps; i++)
		if (strcmp(set->cs_nsps[i]->cn_name, name) == 0)
			return (set->cs_nsps[i]);
	cn = xcalloc(1, sizeof(*cn));
	cn->cn_name = xstrdup(name);
	cn->cn_comp = c;
	set->cs_nsps = xreallocarray(set->cs_nsps, set->cs_nnsps + 1, sizeof(*set->cs_nsps));
	set->cs_nsps[set->cs_nnsps++] = cn;
	return (cn);
}

/* Is a module's listener table usable?  NULL, or why not. */
static const char *
component_listeners_check(const struct rain_listener *tab)
{
	size_t n, len;

	for (n = 0; tab != NULL && tab[n].rl_event != NULL; n++) {
		if (n >= RAIN_LISTENERS_MAX)
			return ("more than RAIN_LISTENERS_MAX rows");
		len = strlen(tab[n].rl_event);
		if (len == 0 || len > RAIN_EVENT_NAME_MAX)
			return ("an event name is empty or too long");
		if (tab[n].rl_fn == NULL)
			return ("a row has no function");
		if (tab[n].rl_flags & ~(RAIN_NO_SESSION | RAIN_GLOBAL_SESSION))
			return ("a row has unknown flags");
	}
	return (NULL);
}

/* Load one module; a refusal is a warning naming the path and the reason. */
static void
component_load(struct component_set *set, struct component *c, const char *path)
{
	const struct rain_websocket *desc;
	struct component_module *cm;
	struct component_nsp *cn;
	char name[COMPONENT_ID_MAX + COMPONENT_VERSION_MAX + COMPONENT_CHANNEL_MAX + 4];
	const char *why;
	void *dl;

	if (set->cs_nmodules >= COMPONENT_MODULES_MAX) {
		component_problem(set, "refusing module %s: more than %d modules", path,
		    COMPONENT_MODULES_MAX);
		set->cs_refused++;
		return;
	}
	if ((dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		why = dlerror();
		component_problem(set, "refusing module %s: %s", path,
		    why != NULL ? why : "dlopen failed");
		set->cs_refused++;
		return;
	}
	dlerror();
	desc = dlsym(dl, RAIN_WEBSOCKET_SYMBOL);
	if (desc == NULL) {
		component_problem(set, "refusing module %s: no descriptor %s "
		    "(RAIN_WEBSOCKET missing?)", path, RAIN_WEBSOCKET_SYMBOL);
		goto refuse;
	}
	if (desc->rw_magic != RAIN_WEBSOCKET_MAGIC) {
		component_problem(set, "refusing module %s: %s is not a RAIN_WEBSOCKET descriptor",
		    path, RAIN_WEBSOCKET_SYMBOL);
		goto refuse;
	}
	if (desc->rw_abi != RAIN_ABI_VERSION) {
		component_problem(set, "refusing module %s: built for handler ABI version %u, "
		    "raind has version %u; rebuild it against this <rain/handler.h>",
		    path, (unsigned int)desc->rw_abi, RAIN_ABI_VERSION);
		goto refuse;
	}
	if (!component_channel_valid(desc->rw_channel)) {
		component_problem(set, "refusing module %s: bad channel (1 to %d printable "
		    "characters without space , ? # %% \" \\)", path, COMPONENT_CHANNEL_MAX);
		goto refuse;
	}
	if (desc->rw_handle == NULL && desc->rw_listeners == NULL) {
		component_problem(set, "refusing module %s: neither a handle function "
		    "nor a listener table", path);
		goto refuse;
	}
	if ((why = component_listeners_check(desc->rw_listeners)) != NULL) {
		component_problem(set, "refusing module %s: listener table: %s", path, why);
		goto refuse;
	}
	if (component_nsp_name(c->c_id, c->c_version, desc->rw_channel, name,
	    sizeof(name)) == -1) {
		component_problem(set, "refusing module %s: namespace too long", path);
		goto refuse;
	}

	cm = xcalloc(1, sizeof(*cm));
	cm->cm_path = xstrdup(path);
	cm->cm_dl = dl;
	cm->cm_desc = desc;
	cm->cm_channel = desc->rw_channel;
	cm->cm_comp = c;
	cn = component_nsp_get(set, c, name);
	cm->cm_nsp = cn;
	cn->cn_modules = xreallocarray(cn->cn_modules, cn->cn_nmodules + 1,
	    sizeof(*cn->cn_modules));
	cn->cn_modules[cn->cn_nmodules++] = cm;
	set->cs_modules = xreallocarray(set->cs_modules, set->cs_nmodules + 1,
	    sizeof(*set->cs_modules));
	set->cs_modules[set->cs_nmodules++] = cm;
	c->c_nmodules++;
	log_debug("module %s: namespace %s", path, name);
	return;
 refuse:
	dlclose(dl);
	set->cs_refused++;
}

static const struct component *
component_find_in(const struct component_set *set, const char *id, const char *version)
{
	size_t i;

	for (i = 0; i < set->cs_ncomps; i++)
		if (strcmp(set->cs_comps[i]->c_id, id) == 0 &&
		    strcmp(set->cs_comps[i]->c_version, version) == 0)
			return (set->cs_comps[i]);
	return (NULL);
}

const struct component *
component_find(const struct component_set *set, const char *id, const char *version)
{
	return (component_find_in(set, id, version));
}

const struct component_nsp *
component_nsp_find(const struct component_set *set, const char *name)
{
	size_t i;

	for (i = 0; i < set->cs_nnsps; i++)
		if (strcmp(set->cs_nsps[i]->cn_name, name) == 0)
			return (set->cs_nsps[i]);
	return (NULL);
}

/* Read one component folder; 0 (added, skipped) or -1 with err. */
static int
component_add(struct component_set *set, const char *dir, char *err, size_t errlen)
{
	struct component_paths cp = { NULL, 0 };
	const struct component *other;
	struct component *c;
	struct stat st;
	char *buf = NULL, *ws;
	size_t len = 0, i;

	c = xcalloc(1, sizeof(*c));
	c->c_dir = xstrdup(dir);
	xasprintf(&c->c_meta, "%s/%s", dir, COMPONENT_META);
	if (stat(c->c_meta, &st) == -1 && errno == ENOENT) {
		log_debug("%s: no %s, not a component", dir, COMPONENT_META);
		component_free(c);
		return (0);
	}
	if (component_read(c->c_meta, &buf, &len, err, errlen) == -1 ||
	    component_meta_parse(buf, len, c->c_meta, c, err, errlen) == -1) {
		component_problem(set, "%s (component skipped)", err);
		set->cs_broken++;
		free(buf);
		component_free(c);
		return (0);
	}
	free(buf);

	if ((other = component_find_in(set, c->c_id, c->c_version)) != NULL) {
		component_problem(set, "%s: component %s %s ignored: already defined by %s",
		    c->c_meta, c->c_id, c->c_version, other->c_meta);
		set->cs_duplicates++;
		component_free(c);
		return (0);
	}
	if (set->cs_ncomps >= COMPONENT_MAX) {
		component_free(c);
		return (component_err(err, errlen, "%s: more than %d components", dir,
		    COMPONENT_MAX));
	}
	set->cs_comps = xreallocarray(set->cs_comps, set->cs_ncomps + 1,
	    sizeof(*set->cs_comps));
	set->cs_comps[set->cs_ncomps++] = c;

	xasprintf(&ws, "%s/%s", dir, COMPONENT_WEBSOCKETS);
	if (c->c_type == COMPONENT_TYPE_CONTAINER) {
		if (stat(ws, &st) == 0)
			log_warnx("%s: a container has no sockets; %s ignored", c->c_meta, ws);
	} else {
		component_scan(ws, 0, &cp);
		for (i = 0; i < cp.cp_n; i++)
			component_load(set, c, cp.cp_paths[i]);
		component_paths_free(&cp);
	}
	free(ws);
	return (0);
}

struct component_set *
component_discover(const char *const *dirs, size_t ndirs, char *err, size_t errlen)
{
	struct component_set *set;
	struct dirent **ents = NULL;
	struct stat st;
	char *path;
	size_t d;
	int i, n = 0, rc;

	set = xcalloc(1, sizeof(*set));
	for (d = 0; d < ndirs; d++) {
		if ((n = scandir(dirs[d], &ents, NULL, alphasort)) == -1) {
			component_err(err, errlen, "components %s: %s", dirs[d],
			    strerror(errno));
			goto bad;
		}
		for (i = 0, rc = 0; i < n && rc == 0; i++) {
			if (ents[i]->d_name[0] == '.')
				continue;
			xasprintf(&path, "%s/%s", dirs[d], ents[i]->d_name);
			if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
				rc = component_add(set, path, err, errlen);
			free(path);
		}
		for (i = 0; i < n; i++)
			free(ents[i]);
		free(ents);
		ents = NULL;
		if (rc == -1)
			goto bad;
	}
	return (set);
 bad:
	component_set_free(set);
	return (NULL);
}

void
component_set_free(struct component_set *set)
{
	size_t i;

	if (set == NULL)
		return;
	for (i = 0; i < set->cs_nmodules; i++) {
		dlclose(set->cs_modules[i]->cm_dl);
		free(set->cs_modules[i]->cm_path);
		free(set->cs_modules[i]);
	}
	free(set->cs_modules);
	for (i = 0; i < set->cs_nnsps; i++) {
		free(set->cs_nsps[i]->cn_name);
		free(set->cs_nsps[i]->cn_modules);
		free(set->cs_nsps[i]);
	}
	free(set->cs_nsps);
	for (i = 0; i < set->cs_ncomps; i++)
		component_free(set->cs_comps[i]);
	free(set->cs_comps);
	for (i = 0; i < set->cs_nproblems; i++)
		free(set->cs_problems[i]);
	free(set->cs_problems);
	free(set);
}

void
component_set_print(const struct component_set *set, FILE *fp, int verbose)
{
	const struct component *c;
	const struct component_nsp *cn;
	size_t i, j;

	fprintf(fp, "%zu components, %zu namespaces, %zu modules", set->cs_ncomps,
	    set->cs_nnsps, set->cs_nmodules);
	if (set->cs_refused > 0)
		fprintf(fp, ", %zu refused", set->cs_refused);
	if (set->cs_duplicates > 0)
		fprintf(fp, ", %zu duplicates ignored", set->cs_duplicates);
	if (set->cs_broken > 0)
		fprintf(fp, ", %zu broken skipped", set->cs_broken);
	fputc('\n', fp);
	if (!verbose)
		return;
	for (i = 0; i < set->cs_ncomps; i++) {
		c = set->cs_comps[i];
		fprintf(fp, "component %s %s%s%s: %s\n", c->c_id, c->c_version,
		    c->c_type == COMPONENT_TYPE_CONTAINER ? " container" : "",
		    c->c_use_session ? " useSession" : "", c->c_dir);
	}
	for (i = 0; i < set->cs_nnsps; i++) {
		cn = set->cs_nsps[i];
		fprintf(fp, "namespace %s\n", cn->cn_name);
		for (j = 0; j < cn->cn_nmodules; j++)
			fprintf(fp, "\t%s\n", cn->cn_modules[j]->cm_path);
	}
}
