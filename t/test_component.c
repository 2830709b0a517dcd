/*
 * test_component.c: component discovery, meta.json, namespace mapping and
 * module loading, over the trees that "make check" assembles from
 * t/components (t/components-assemble.sh).
 */
#include "config.h"

#include <criterion/criterion.h>

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rain/handler.h"

#include "component.h"
#include "log.h"

static char	logpath[PATH_MAX];

/* Warnings go to a file that the tests read back. */
static void
setup(void)
{
	int fd;

	snprintf(logpath, sizeof(logpath), "/tmp/test_component.XXXXXX");
	fd = mkstemp(logpath);
	cr_assert(fd != -1);
	close(fd);
	cr_assert(log_setfile(logpath) == 0);
}

static void
teardown(void)
{
	log_setfile(NULL);
	unlink(logpath);
}

static char *
log_text(void)
{
	static char buf[16384];
	FILE *fp = fopen(logpath, "r");
	size_t n;

	cr_assert(fp != NULL);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return (buf);
}

static char *
tree(const char *name)
{
	static char path[PATH_MAX];
	const char *b = getenv("RAIND_BUILDDIR");

	snprintf(path, sizeof(path), "%s/t/components-trees/%s", b != NULL ? b : ".", name);
	return (path);
}

static struct component_set *
discover(const char *name, char *err, size_t errlen)
{
	const char *dirs[1];

	dirs[0] = tree(name);
	return (component_discover(dirs, 1, err, errlen));
}

TestSuite(component, .init = setup, .fini = teardown);

Test(component, version)
{
	static const struct {
		const char	*v;
		int		 ok;
	} cases[] = {
		{ "1.0", 1 }, { "10.20.30", 1 }, { "0.0", 1 }, { "1", 0 }, { "1.", 0 },
		{ ".1", 0 }, { "1.0.0.0", 0 }, { "1..0", 0 }, { "a.b", 0 }, { "1.0-rc1", 0 },
		{ "", 0 }, { "1.0 ", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_expect_eq(component_version_valid(cases[i].v), cases[i].ok, "%s", cases[i].v);
}

Test(component, nsp_name)
{
	char buf[64];

	cr_assert(component_nsp_name("chat", "1.0", "chat", buf, sizeof(buf)) == 0);
	cr_expect_str_eq(buf, "/chat/1.0/chat");
	/* A channel that starts with '/' gets no second slash. */
	cr_assert(component_nsp_name("chat", "1.0", "/room", buf, sizeof(buf)) == 0);
	cr_expect_str_eq(buf, "/chat/1.0/room");
	cr_expect(component_nsp_name("chat", "1.0", "x", buf, 8) == -1);
}

Test(component, meta_parse)
{
	static const struct {
		const char	*json;
		const char	*err;	/* NULL: accepted */
	} cases[] = {
		{ "{\"id\":\"a\",\"version\":\"1.0\"}", NULL },
		{ "{\"id\":\"a\",\"version\":\"1.0.2\",\"type\":\"container\"}", NULL },
		{ "{\"id\":\"a\",\"version\":\"1.0\",\"extra\":[1,{}]}", NULL },
		{ "{\"version\":\"1.0\"}", "missing field \"id\"" },
		{ "{\"id\":\"a\"}", "missing field \"version\"" },
		{ "{\"id\":\"a\",\"version\":1.0}", "\"version\" must be" },
		{ "{\"id\":\"a/b\",\"version\":\"1.0\"}", "\"id\" must be" },
		{ "{\"id\":\"\",\"version\":\"1.0\"}", "\"id\" must be" },
		{ "{\"id\":\"..\",\"version\":\"1.0\"}", "\"id\" must be" },
		{ "{\"id\":\"a\",\"version\":\"1.0\",\"type\":\"widget\"}", "\"type\" must be" },
		{ "{\"id\":\"a\",\"version\":\"1.0\",\"useSession\":1}", "\"useSession\" must be" },
		{ "[1,2]", "not a JSON object" },
		{ "", "m.json:1:1:" },
		{ "{\"id\":\"a\",\n\"version\":\"1.0\"", "m.json:2:16: parse error: premature EOF" },
		{ "{\"id\" \"a\"}", "m.json:1:10: parse error: object key and value" },
	};
	struct component c;
	const char *json;
	char err[256];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&c, 0, sizeof(c));
		err[0] = '\0';
		rc = component_meta_parse(cases[i].json, strlen(cases[i].json), "m.json", &c,
		    err, sizeof(err));
		if (cases[i].err == NULL)
			cr_expect_eq(rc, 0, "%s: %s", cases[i].json, err);
		else {
			cr_expect_eq(rc, -1, "%s", cases[i].json);
			cr_expect(strstr(err, cases[i].err) != NULL, "%s: got \"%s\"",
			    cases[i].json, err);
		}
		free(c.c_id);
		free(c.c_version);
	}
	memset(&c, 0, sizeof(c));
	json = "{\"id\":\"a\",\"version\":\"1.0\",\"useSession\":true,\"type\":\"container\"}";
	cr_assert(component_meta_parse(json, strlen(json), "m", &c, err, sizeof(err)) == 0, "%s",
	    err);
	cr_expect_str_eq(c.c_id, "a");
	cr_expect_str_eq(c.c_version, "1.0");
	cr_expect(c.c_use_session);
	cr_expect_eq(c.c_type, COMPONENT_TYPE_CONTAINER);
	free(c.c_id);
	free(c.c_version);
}

Test(component, good_tree)
{
	struct component_set *set;
	const struct component_nsp *cn;
	const struct component *c;
	char err[COMPONENT_ERR_MAX];

	set = discover("good", err, sizeof(err));
	cr_assert(set != NULL, "%s", err);
	cr_expect_eq(set->cs_ncomps, 2);	/* alpha and the container; not notacomponent */
	cr_expect_eq(set->cs_nmodules, 3);
	cr_expect_eq(set->cs_refused, 0);
	cr_expect_eq(set->cs_nnsps, 2);

	c = component_find(set, "alpha", "1.0");
	cr_assert(c != NULL);
	cr_expect(c->c_use_session);
	cr_expect_eq(c->c_nmodules, 3);
	c = component_find(set, "box", "2.0.1");
	cr_assert(c != NULL);
	cr_expect_eq(c->c_type, COMPONENT_TYPE_CONTAINER);
	cr_expect_eq(c->c_nmodules, 0);
	cr_expect_null(component_find(set, "alpha", "2.0"));

	/* Two modules share /alpha/1.0/main, in discovery (name) order. */
	cn = component_nsp_find(set, "/alpha/1.0/main");
	cr_assert(cn != NULL);
	cr_assert_eq(cn->cn_nmodules, 2);
	cr_expect(strstr(cn->cn_modules[0]->cm_path, "/websockets/a.so") != NULL);
	cr_expect(strstr(cn->cn_modules[1]->cm_path, "/websockets/sub/b.so") != NULL);
	cr_expect_str_eq(cn->cn_modules[0]->cm_channel, "main");
	cr_expect_eq(cn->cn_comp, component_find(set, "alpha", "1.0"));

	cn = component_nsp_find(set, "/alpha/1.0/slashed");
	cr_assert(cn != NULL);
	cr_expect_eq(cn->cn_nmodules, 1);
	cr_expect_null(component_nsp_find(set, "/alpha/1.0//slashed"));

	/* The modules are loaded and resolved against this program. */
	cr_expect_not_null(dlsym(set->cs_nsps[0]->cn_modules[0]->cm_dl, "alpha_disconnects"));
	component_set_free(set);
}

Test(component, print)
{
	struct component_set *set;
	char err[COMPONENT_ERR_MAX], *buf = NULL;
	size_t len = 0;
	FILE *fp;

	set = discover("good", err, sizeof(err));
	cr_assert(set != NULL, "%s", err);
	fp = open_memstream(&buf, &len);
	component_set_print(set, fp, 1);
	fclose(fp);
	cr_expect(strstr(buf, "2 components, 2 namespaces, 3 modules") != NULL, "%s", buf);
	cr_expect(strstr(buf, "namespace /alpha/1.0/main\n\t") != NULL, "%s", buf);
	cr_expect(strstr(buf, "namespace /alpha/1.0/slashed\n\t") != NULL, "%s", buf);
	cr_expect(strstr(buf, "component box 2.0.1 container") != NULL, "%s", buf);
	free(buf);
	component_set_free(set);
}

Test(component, refused_modules)
{
	struct component_set *set;
	char err[COMPONENT_ERR_MAX], *text;

	set = discover("refused", err, sizeof(err));
	cr_assert(set != NULL, "%s", err);
	/* Four refused, and the good one after them still loads. */
	cr_expect_eq(set->cs_refused, 4);
	cr_expect_eq(set->cs_nmodules, 1);
	cr_expect_not_null(component_nsp_find(set, "/broken/1.0/slashed"));
	text = log_text();
	cr_expect(strstr(text, "abi.so: built for handler ABI version 1, raind has version 2") != NULL, "%s", text);
	cr_expect(strstr(text, "nodesc.so: no descriptor rain_websocket_descriptor") != NULL,
	    "%s", text);
	cr_expect(strstr(text, "refusing module") != NULL && strstr(text, "garbage.so: ") != NULL,
	    "%s", text);
	cr_expect(strstr(text, "badchan.so: bad channel") != NULL, "%s", text);
	component_set_free(set);
}

Test(component, duplicates)
{
	struct component_set *set;
	char err[COMPONENT_ERR_MAX], *text;

	set = discover("dup", err, sizeof(err));
	cr_assert(set != NULL, "%s", err);
	cr_expect_eq(set->cs_ncomps, 2);	/* dup 1.0 (from one) and dup 1.1 */
	cr_expect_eq(set->cs_duplicates, 1);
	cr_assert_not_null(component_find(set, "dup", "1.0"));
	cr_expect(strstr(component_find(set, "dup", "1.0")->c_dir, "/one") != NULL);
	cr_expect_eq(set->cs_nmodules, 1);	/* the ignored one's module is not loaded */
	text = log_text();
	cr_expect(strstr(text, "dup/two/meta.json: component dup 1.0 ignored: already "
	    "defined by") != NULL, "%s", text);
	cr_expect(strstr(text, "dup/one/meta.json") != NULL, "%s", text);
	component_set_free(set);
}

Test(component, same_component_in_two_dirs)
{
	struct component_set *set;
	const char *dirs[2];
	char a[PATH_MAX], err[COMPONENT_ERR_MAX];

	snprintf(a, sizeof(a), "%s", tree("good"));
	dirs[0] = a;
	dirs[1] = tree("good");
	set = component_discover(dirs, 2, err, sizeof(err));
	cr_assert(set != NULL, "%s", err);
	cr_expect_eq(set->cs_ncomps, 2);
	cr_expect_eq(set->cs_duplicates, 2);
	cr_expect_eq(set->cs_nmodules, 3);
	component_set_free(set);
}

/* The one problem of a tree whose only component is broken: skipped, named. */
static void
expect_skipped(const char *name, const char *needle)
{
	struct component_set *set;
	char err[COMPONENT_ERR_MAX];

	set = discover(name, err, sizeof(err));
	cr_assert_not_null(set, "%s: a broken component does not fail discovery", name);
	cr_expect_eq(set->cs_ncomps, 0);
	cr_expect_eq(set->cs_broken, 1);
	cr_assert_eq(set->cs_nproblems, 1);
	cr_expect_eq(set->cs_nproblems_all, 1);
	cr_expect(strstr(set->cs_problems[0], needle) != NULL, "%s",
	    set->cs_problems[0]);
	cr_expect(strstr(set->cs_problems[0], "component skipped") != NULL, "%s",
	    set->cs_problems[0]);
	component_set_free(set);
}

Test(component, bad_json_names_file_and_position)
{
	expect_skipped("badjson", "badjson/x/meta.json:3:");
	expect_skipped("badjson", "parse error");
}

Test(component, missing_field)
{
	expect_skipped("missing", "missing/x/meta.json: missing field \"version\"");
}

Test(component, bad_values)
{
	expect_skipped("badversion", "\"version\" must be a string X.Y or X.Y.Z");
	expect_skipped("badtype", "\"useSession\" must be true or false");
}

Test(component, broken_among_good)
{
	struct component_set *set;
	const char *dirs[2];
	char good[PATH_MAX], err[COMPONENT_ERR_MAX];

	/* One folder of good components, one with a broken one: the good stay. */
	snprintf(good, sizeof(good), "%s", tree("good"));
	dirs[0] = good;
	dirs[1] = tree("badjson");
	set = component_discover(dirs, 2, err, sizeof(err));
	cr_assert_not_null(set, "%s", err);
	cr_expect_not_null(component_find(set, "alpha", "1.0"));
	cr_expect_eq(set->cs_broken, 1);
	cr_expect(set->cs_nproblems >= 1);
	component_set_free(set);
}

Test(component, missing_dir)
{
	char err[COMPONENT_ERR_MAX];

	cr_expect_null(discover("no-such-tree", err, sizeof(err)));
	cr_expect(strstr(err, "no-such-tree: No such file or directory") != NULL, "%s", err);
}

Test(component, empty_list)
{
	struct component_set *set;
	char err[COMPONENT_ERR_MAX];

	set = component_discover(NULL, 0, err, sizeof(err));
	cr_assert_not_null(set);
	cr_expect_eq(set->cs_ncomps, 0);
	cr_expect_eq(set->cs_nnsps, 0);
	component_set_free(set);
}

Test(component, bundled_components)
{
	struct component_set *set;
	const char *dirs[1];
	const char *b = getenv("RAIND_BUILDDIR");
	char path[PATH_MAX], err[COMPONENT_ERR_MAX];

	snprintf(path, sizeof(path), "%s/handlers/built", b != NULL ? b : ".");
	dirs[0] = path;
	set = component_discover(dirs, 1, err, sizeof(err));
	cr_assert(set != NULL, "%s", err);
	cr_expect_eq(set->cs_refused, 0);
	cr_expect_not_null(component_nsp_find(set, "/chat/1.0/chat"));
	cr_expect_not_null(component_nsp_find(set, "/echo/1.0/echo"));
	cr_expect(component_find(set, "echo", "1.0")->c_use_session);
	component_set_free(set);
}
