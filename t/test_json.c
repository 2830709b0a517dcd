/*
 * test_json.c: safe JSON building (json.c): escaping, UTF-8 checks,
 * parsed values, structure checks and attachments.
 */
#include "config.h"

#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "json.h"

static struct json_buf jb;

static void
setup(void)
{
	json_buf_init(&jb);
}

static void
teardown(void)
{
	json_buf_clear(&jb);
}

TestSuite(json, .init = setup, .fini = teardown);

/* The text of the buffer after f, or NULL when f failed. */
#define TEXT(f)		((f) == 0 ? (jb.jb_text != NULL ? jb.jb_text : "") : NULL)

static const char *
string(const char *s)
{
	json_buf_clear(&jb);
	return (TEXT(json_put_string(&jb, s, strlen(s))));
}

static const char *
parsed(const char *text)
{
	yajl_val	 v;
	int		 rc;

	json_buf_clear(&jb);
	v = yajl_tree_parse(text, NULL, 0);
	cr_assert_not_null(v, "%s", text);
	rc = json_put_value(&jb, v, NULL, 0);
	yajl_tree_free(v);
	return (TEXT(rc));
}

Test(json, strings_are_escaped)
{
	cr_expect_str_eq(string("a\"b\\c\n\t\x01/"), "\"a\\\"b\\\\c\\n\\t\\u0001/\"");
	cr_expect_str_eq(string("h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80"),
	    "\"h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80\"");
	/* An attempt to break out of the string stays inside it. */
	cr_expect_str_eq(string("\",\"admin\":true,\"x\":\""),
	    "\"\\\",\\\"admin\\\":true,\\\"x\\\":\\\"\"");
}

Test(json, bad_utf8_is_refused)
{
	static const char *const bad[] = {
		"\xff", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
		"\xc3", "a\x80",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_null(string(bad[i]), "#%zu", i);
		cr_expect(strstr(jb.jb_err, "UTF-8") != NULL);
		cr_expect_eq(json_utf8_valid(bad[i], strlen(bad[i])), 0);
	}
	cr_expect(json_utf8_valid("\xf4\x8f\xbf\xbf", 4));
}

Test(json, failure_leaves_the_buffer_as_it_was)
{
	cr_assert(json_put_raw(&jb, "1,", 2) == 0);
	cr_assert(json_put_string(&jb, "\xff", 1) == -1);
	cr_expect_str_eq(jb.jb_text, "1,");
	cr_expect_eq(jb.jb_nattach, 0);
}

Test(json, parsed_values)
{
	/* Numbers keep their text. */
	cr_expect_str_eq(parsed("{\"k\":[1.50,\"s\\\"\",true,false,null,{}],"
	    "\"e\":\"\\u00e9\"}"), "{\"k\":[1.50,\"s\\\"\",true,false,null,{}],"
	    "\"e\":\"\xc3\xa9\"}");
	cr_expect_str_eq(parsed("[ 1 , [ ] , { \"a b\" : -2e3 } ]"),
	    "[1,[],{\"a b\":-2e3}]");
}

Test(json, binary_attachments)
{
	size_t n;
	struct json_attach *a;

	cr_assert(json_put_binary(&jb, "\x00\x01", 2) == 0);
	cr_assert(json_put_raw(&jb, ",", 1) == 0);
	cr_assert(json_put_string(&jb, "x", 1) == 0);
	cr_assert(json_put_raw(&jb, ",", 1) == 0);
	cr_assert(json_put_binary(&jb, "", 0) == 0);
	cr_expect_str_eq(jb.jb_text,
	    "{\"_placeholder\":true,\"num\":0},\"x\",{\"_placeholder\":true,\"num\":1}");
	cr_assert_eq(jb.jb_nattach, 2);
	cr_expect_eq(jb.jb_attach[0].ja_len, 2);
	cr_expect(memcmp(jb.jb_attach[0].ja_data, "\x00\x01", 2) == 0);
	cr_expect_eq(jb.jb_attach[1].ja_len, 0);
	a = json_buf_steal_attach(&jb, &n);
	cr_expect_eq(n, 2);
	cr_expect_eq(jb.jb_nattach, 0);
	free(a[0].ja_data);
	free(a[1].ja_data);
	free(a);
}

Test(json, attachment_limit)
{
	int i;

	for (i = 0; i < JSON_ATTACH_MAX; i++)
		cr_assert(json_put_binary(&jb, "a", 1) == 0);
	cr_expect(json_put_binary(&jb, "a", 1) == -1);
	cr_expect_eq(jb.jb_nattach, JSON_ATTACH_MAX);
}

Test(json, placeholders_renumbered)
{
	unsigned char first[] = "first", second[] = "second";
	struct json_attach src[2] = { { first, 5 }, { second, 6 } };
	yajl_val v = yajl_tree_parse("[{\"_placeholder\":true,\"num\":1},{\"b\":{\"_placeholder\""
	    ":true,\"num\":0}}]", NULL, 0);
	size_t num;

	cr_assert_not_null(v);
	cr_expect(json_is_placeholder(v->u.array.values[0], &num) && num == 1);
	cr_expect(!json_is_placeholder(v, NULL));
	cr_assert(json_put_binary(&jb, "z", 1) == 0);
	cr_assert(json_put_raw(&jb, ",", 1) == 0);
	cr_assert(json_put_value(&jb, v, src, 2) == 0);
	cr_expect_str_eq(jb.jb_text, "{\"_placeholder\":true,\"num\":0},[{\"_placeholder\":true,"
	    "\"num\":1},{\"b\":{\"_placeholder\":true,\"num\":2}}]");
	cr_assert_eq(jb.jb_nattach, 3);
	cr_expect(memcmp(jb.jb_attach[1].ja_data, "second", 6) == 0);
	cr_expect(memcmp(jb.jb_attach[2].ja_data, "first", 5) == 0);
	/* A placeholder naming no attachment. */
	cr_expect_eq(json_put_value(&jb, v, src, 1), -1);
	yajl_tree_free(v);
}

Test(json, depth_limit)
{
	char deep[2 * (JSON_DEPTH_MAX + 10) + 1];
	yajl_val v;
	size_t i;

	for (i = 0; i < JSON_DEPTH_MAX + 10; i++) {
		deep[i] = '[';
		deep[2 * (JSON_DEPTH_MAX + 10) - 1 - i] = ']';
	}
	deep[2 * (JSON_DEPTH_MAX + 10)] = '\0';
	v = yajl_tree_parse(deep, NULL, 0);
	cr_assert_not_null(v);
	cr_expect(json_put_value(&jb, v, NULL, 0) == -1);
	cr_expect(strstr(jb.jb_err, "deeper") != NULL);
	yajl_tree_free(v);
}

Test(json, valid)
{
	cr_expect(json_valid("{}", 2, JSON_FMT_VALUE));
	cr_expect(!json_valid("{} {}", 5, JSON_FMT_VALUE));
	cr_expect(json_valid("1,2", 3, JSON_FMT_LIST));
	cr_expect(json_valid("", 0, JSON_FMT_LIST));
	cr_expect(!json_valid("", 0, JSON_FMT_VALUE));
	cr_expect(!json_valid("\"\xff\"", 3, JSON_FMT_VALUE));
}
