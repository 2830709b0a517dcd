/*
 * test_json.c: safe JSON building (json.c): the format conversions,
 * escaping, UTF-8 checks, structure checks and attachments.
 */
#include "config.h"

#include <criterion/criterion.h>

#include <math.h>
#include <stdarg.h>
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

static const char *
list(const char *fmt, ...)
{
	va_list ap;
	int rc;

	json_buf_clear(&jb);
	va_start(ap, fmt);
	rc = json_vformat(&jb, JSON_FMT_LIST, fmt, &ap, NULL, NULL);
	va_end(ap);
	return (rc == 0 ? (jb.jb_text != NULL ? jb.jb_text : "") : NULL);
}

static const char *
value(const char *fmt, ...)
{
	va_list ap;
	int rc;

	json_buf_clear(&jb);
	va_start(ap, fmt);
	rc = json_vformat(&jb, JSON_FMT_VALUE, fmt, &ap, NULL, NULL);
	va_end(ap);
	return (rc == 0 ? jb.jb_text : NULL);
}

Test(json, strings_are_escaped)
{
	cr_expect_str_eq(value("%s", "a\"b\\c\n\t\x01/"), "\"a\\\"b\\\\c\\n\\t\\u0001/\"");
	cr_expect_str_eq(value("%s", "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80"),
	    "\"h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80\"");
	cr_expect_str_eq(value("%s", (char *)NULL), "null");
	/* An attempt to break out of the string stays inside it. */
	cr_expect_str_eq(value("{\"k\":%s}", "\",\"admin\":true,\"x\":\""),
	    "{\"k\":\"\\\",\\\"admin\\\":true,\\\"x\\\":\\\"\"}");
}

Test(json, bad_utf8_is_refused)
{
	static const char *const bad[] = {
		"\xff", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
		"\xc3", "a\x80",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_null(value("%s", bad[i]), "#%zu", i);
		cr_expect(strstr(jb.jb_err, "UTF-8") != NULL);
		cr_expect_eq(json_utf8_valid(bad[i], strlen(bad[i])), 0);
	}
	cr_expect(json_utf8_valid("\xf4\x8f\xbf\xbf", 4));
}

Test(json, numbers_and_booleans)
{
	cr_expect_str_eq(list("%d, %u, %ld, %lu, %lld, %llu, %zu", -1, 2u, -3L, 4UL,
	    -5LL, 18446744073709551615ULL, (size_t)7),
	    "-1,2,-3,4,-5,18446744073709551615,7");
	cr_expect_str_eq(list("%g, %g, %g", 0.5, NAN, INFINITY), "0.5,null,null");
	cr_expect_str_eq(list("%b, %b", 1, 0), "true,false");
}

Test(json, literal_text_is_compacted_and_checked)
{
	cr_expect_str_eq(value("{ \"a b\" : %d, \"c\" : [ 1 , 2 ] }", 1),
	    "{\"a b\":1,\"c\":[1,2]}");
	cr_expect_str_eq(value("\"100%% sure\""), "\"100% sure\"");
	cr_expect_null(value("%s %s", "a", "b"));
	cr_expect_null(value("{%s}", "a"));
	cr_expect_null(value("{\"a\":%d", 1));
	cr_expect_null(value("%d]", 1));
	cr_expect_null(value(""));
	cr_expect_null(value("%q", 1));
	cr_expect_null(value("%"));
	cr_expect_null(list("%d,,%d", 1, 2));
	cr_expect_null(list("%d,", 1));
	cr_expect_null(list("%d%d", 1, 2));
	cr_expect_null(list("1],[2"));
	cr_expect_str_eq(list("{\"x\":\"%%d\"}, %d", 3), "{\"x\":\"%d\"},3");
	cr_expect_str_eq(value(NULL), "null");
	cr_expect_str_eq(list(NULL), "");
}

Test(json, failure_leaves_the_buffer_as_it_was)
{
	cr_assert(json_format(&jb, JSON_FMT_LIST, "%d", 1) == 0);
	cr_assert(json_format(&jb, JSON_FMT_LIST, "%B, {", "ab", (size_t)2) == -1);
	cr_expect_str_eq(jb.jb_text, "1");
	cr_expect_eq(jb.jb_nattach, 0);
}

Test(json, raw_json_is_checked)
{
	cr_expect_str_eq(value("%j", "{\"a\":[1,2,{}]}"), "{\"a\":[1,2,{}]}");
	cr_expect_null(value("%j", "{\"a\":"));
	cr_expect_null(list("%j", "1,2]"));
	cr_expect_str_eq(value("%j", (char *)NULL), "null");
}

Test(json, parsed_values)
{
	yajl_val v = yajl_tree_parse("{\"k\":[1.50,\"s\\\"\",true,false,null,{}],\"e\":\"\\u00e9\"}",
	    NULL, 0);

	cr_assert_not_null(v);
	/* Numbers keep their text. */
	cr_expect_str_eq(value("%v", v), "{\"k\":[1.50,\"s\\\"\",true,false,null,{}],"
	    "\"e\":\"\xc3\xa9\"}");
	cr_expect_str_eq(value("%v", (yajl_val)NULL), "null");
	yajl_tree_free(v);
}

Test(json, binary_attachments)
{
	size_t n;
	struct json_attach *a;

	cr_expect_str_eq(list("%B, %s, %B", "\x00\x01", (size_t)2, "x", "", (size_t)0),
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

static int
ext_empty(struct json_buf *b, int conv, va_list *ap, void *arg)
{
	(void)b;
	(void)conv;
	(void)arg;
	(void)va_arg(*ap, void *);
	(void)va_arg(*ap, int);
	return (0);
}

static const char *
list_ext(const char *fmt, ...)
{
	va_list ap;
	int rc;

	json_buf_clear(&jb);
	va_start(ap, fmt);
	rc = json_vformat(&jb, JSON_FMT_LIST, fmt, &ap, ext_empty, NULL);
	va_end(ap);
	return (rc == 0 ? (jb.jb_text != NULL ? jb.jb_text : "") : NULL);
}

Test(json, empty_argument_list_drops_its_comma)
{
	cr_expect_str_eq(list_ext("%s, %A", "x", NULL, 0), "\"x\"");
	cr_expect_str_eq(list_ext("%A, %s", NULL, 0, "x"), "\"x\"");
	cr_expect_str_eq(list_ext("%s, %A, %d", "x", NULL, 0, 1), "\"x\",1");
	cr_expect_str_eq(list_ext("%A", NULL, 0), "");
	/* Without an extension the conversion is an error. */
	cr_expect_null(list("%A", NULL, 0));
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
	cr_expect_null(value("%v", v));
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
