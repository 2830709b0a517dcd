/*
 * test_sid.c: Engine.IO session ids (sid.c).
 */
#include "config.h"

#include <criterion/criterion.h>

#include <string.h>

#include "sid.h"

Test(sid, made_and_read_back)
{
	char	sid[SID_LEN + 1], other[SID_LEN + 1], tag[SID_TAG_LEN + 1];
	int	slot, gen;

	sid_new(sid, "AbC-", 7, 65);
	cr_assert_eq(strlen(sid), SID_LEN);
	cr_expect(strncmp(sid, "AbC-", SID_TAG_LEN) == 0);
	cr_assert_eq(sid_parse(sid, strlen(sid), tag, &slot, &gen), 0);
	cr_expect_str_eq(tag, "AbC-");
	cr_expect_eq(slot, 7);
	cr_expect_eq(gen, 1, "generations are kept modulo 64");
	sid_new(other, "AbC-", 7, 65);
	cr_expect(strcmp(sid, other) != 0, "the random part differs");
}

Test(sid, refused)
{
	char	tag[SID_TAG_LEN + 1];
	int	slot, gen;

	cr_expect_eq(sid_parse("AAAA", 4, tag, &slot, &gen), -1);
	cr_expect_eq(sid_parse("AAAAAAAAAAAAAAAAAAA=", SID_LEN, tag, &slot, &gen), -1);
	cr_expect_eq(sid_parse("AAAAAAAAAA\0AAAAAAAAA", SID_LEN, tag, &slot, &gen), -1);
	cr_expect_eq(sid_b64url_value('_'), 63);
	cr_expect_eq(sid_b64url_value('\0'), -1);
	cr_expect(!sid_b64url_valid("", 0));
}

Test(sid, digits)
{
	unsigned char	bytes[3] = { 0, 64 + 1, 255 };
	char		out[4] = { 0 };

	sid_b64url_digits(bytes, 3, out);
	cr_expect_str_eq(out, "AB_");
}
