/*
 * component.h: component discovery and handler modules.
 *
 * A components directory holds one folder per component.  A folder with
 * a meta.json is a component:
 *
 *	{ "id": "chat", "version": "1.0", "type": "component",
 *	  "useSession": true }
 *
 * id and version are required (version X.Y or X.Y.Z); type is
 * "component" (the default) or "container" (no sockets); useSession
 * defaults to false.  Other members are ignored.  Every ".so" file under
 * <component>/server/websockets/, recursively, is a handler module whose
 * descriptor (RAIN_WEBSOCKET in <rain/handler.h>) names its channel; its
 * namespace is /<id>/<version>/<channel>, or /<id>/<version><channel>
 * when the channel starts with '/'.
 *
 * The master discovers and loads (dlopen RTLD_NOW | RTLD_LOCAL) the
 * modules, so that "raind -n" reports refused ones; workers inherit the
 * loaded set across fork() and build their namespace registry from it
 * (nsp.h).  Discovery order is deterministic: directories in the order
 * given, entries sorted by name.
 *
 * Reload (SIGHUP): discover a new set; on failure keep the old one.  The
 * dynamic linker keys loaded objects by path, so a module file rebuilt in
 * place is only loaded afresh once every set holding it was freed (the
 * master frees the old set after the old generation of workers left);
 * until then a new set shares the already loaded image.
 *
 * Ownership: component_discover returns a set owned by the caller; every
 * component, module and namespace in it lives until component_set_free,
 * which also unloads the modules.  A worker's registry points into the
 * set, so the set must outlive it (the master frees an old set only after
 * the workers of its generation were told to go; the workers never free
 * their inherited copy before their registry).
 */
#ifndef RAIND_COMPONENT_H
#define RAIND_COMPONENT_H

#include <stddef.h>
#include <stdio.h>

struct rain_websocket;

#define COMPONENT_META		"meta.json"
#define COMPONENT_WEBSOCKETS	"server/websockets"
#define COMPONENT_CLIENT	"client"
#define COMPONENT_META_MAX	(64 * 1024)	/* bytes of a meta.json */
#define COMPONENT_ID_MAX	64		/* bytes of an id */
#define COMPONENT_VERSION_MAX	32		/* bytes of a version */
#define COMPONENT_CHANNEL_MAX	256		/* bytes of a channel */
#define COMPONENT_DEPTH_MAX	16		/* folder nesting under websockets/ */
#define COMPONENT_MAX		4096		/* components in one set */
#define COMPONENT_MODULES_MAX	4096		/* modules in one set */
#define COMPONENT_ERR_MAX	1024		/* size of a formatted error */

enum component_type {
	COMPONENT_TYPE_COMPONENT,
	COMPONENT_TYPE_CONTAINER
};

struct component;

/* One loaded handler module. */
struct component_module {
	char				*cm_path;	/* the .so file */
	void				*cm_dl;		/* dlopen handle */
	const struct rain_websocket	*cm_desc;	/* its descriptor */
	const char			*cm_channel;	/* cm_desc->rw_channel */
	struct component		*cm_comp;
	struct component_nsp		*cm_nsp;
};

struct component {
	char			*c_id;
	char			*c_version;
	char			*c_dir;		/* the component folder */
	char			*c_meta;	/* its meta.json */
	enum component_type	 c_type;
	int			 c_use_session;
	size_t			 c_nmodules;	/* loaded modules */
};

/* A namespace and the modules serving it, in discovery order. */
struct component_nsp {
	char			 *cn_name;	/* "/chat/1.0/chat" */
	struct component	 *cn_comp;
	struct component_module **cn_modules;
	size_t			  cn_nmodules;
};

struct component_set {
	struct component	**cs_comps;
	size_t			  cs_ncomps;
	struct component_module	**cs_modules;
	size_t			  cs_nmodules;
	struct component_nsp	**cs_nsps;	/* in order of first appearance */
	size_t			  cs_nnsps;
	size_t			  cs_refused;	/* modules refused (warned) */
	size_t			  cs_duplicates; /* components ignored (warned) */
	size_t			  cs_broken;	/* components with a bad meta.json */
	char			**cs_problems;	/* "path: reason", owned */
	size_t			  cs_nproblems;	/* kept, at most COMPONENT_PROBLEMS_MAX */
	size_t			  cs_nproblems_all; /* counted */
};

/* Problems (skipped components and modules) whose text a set keeps. */
#define COMPONENT_PROBLEMS_MAX	256

/*
 * Discover the components in dirs and load their modules.  Returns the
 * set, or NULL with err when a directory cannot be read.  As RAIN did,
 * one broken component does not stop the others: a meta.json that is
 * invalid ("<file>: <reason>", for bad JSON with yajl's message and
 * line:column), a duplicate (same id and version) and a refused module
 * (dlopen failure, no descriptor, another ABI, bad channel) are each
 * warned about (log_warnx, with the path and the reason), recorded in
 * cs_problems and skipped.
 */
struct component_set	*component_discover(const char *const *dirs, size_t ndirs,
			    char *err, size_t errlen);
void			 component_set_free(struct component_set *);

/*
 * Parse one meta.json from memory into c (c_id, c_version, c_type,
 * c_use_session).  0, or -1 with err (position and yajl's message when
 * the JSON is bad; name is used to prefix it).  Exposed for the fuzzer.
 */
int			 component_meta_parse(const char *buf, size_t len, const char *name,
			    struct component *c, char *err, size_t errlen);
/* Free what component_meta_parse or discovery put in c, and c itself. */
void			 component_free(struct component *);

/* Build a namespace name from id, version and channel into buf; -1 if too long. */
int			 component_nsp_name(const char *id, const char *version,
			    const char *channel, char *buf, size_t len);
/* Is this a usable version string (X.Y or X.Y.Z, digits)? */
int			 component_version_valid(const char *);

/* The component with this id and version, or NULL (for static files). */
const struct component	*component_find(const struct component_set *, const char *id,
			    const char *version);
const struct component_nsp *component_nsp_find(const struct component_set *, const char *name);

/* "raind -n -v": one line per component, then each namespace with its modules. */
void			 component_set_print(const struct component_set *, FILE *, int verbose);

#endif
